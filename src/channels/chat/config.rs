//! Website chat limits and proxy trust, read from the environment (a leaf the
//! configuration reads).

/// Limits of the public API.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// `LEADLINE_CHAT_SESSIONS_PER_IP_HOUR`: new sessions one IP may open per hour.
    pub sessions_per_ip_hour: u32,
    /// `LEADLINE_CHAT_MESSAGES_PER_MINUTE`: messages one session may send per minute.
    pub messages_per_minute: u32,
    /// `LEADLINE_CHAT_READS_PER_IP_MINUTE`: public reads (site settings, history, live
    /// streams) one IP may make per minute.
    pub reads_per_ip_minute: u32,
    /// `LEADLINE_TRUST_PROXY`: take the visitor's IP from `X-Forwarded-For` (only behind
    /// a proxy that sets it).
    pub trust_proxy: bool,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            sessions_per_ip_hour: 20,
            messages_per_minute: 20,
            reads_per_ip_minute: 120,
            trust_proxy: false,
        }
    }
}

impl ChatConfig {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut c = Self::default();
        let num = |k: &str, default: u32| -> Result<u32, String> {
            match get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
            {
                None => Ok(default),
                Some(v) => v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{k} must be a positive whole number, not {v:?}")),
            }
        };
        c.sessions_per_ip_hour = num("LEADLINE_CHAT_SESSIONS_PER_IP_HOUR", c.sessions_per_ip_hour)?;
        c.messages_per_minute = num("LEADLINE_CHAT_MESSAGES_PER_MINUTE", c.messages_per_minute)?;
        c.reads_per_ip_minute = num("LEADLINE_CHAT_READS_PER_IP_MINUTE", c.reads_per_ip_minute)?;
        c.trust_proxy = get("LEADLINE_TRUST_PROXY").is_some_and(|v| {
            matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes")
        });
        Ok(c)
    }
}
