//! Settings of the lead sources, read from the environment (a leaf the configuration reads).

/// The Graph API version the lead fetch speaks.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com/v21.0";

#[derive(Clone, Default)]
pub struct IntakeConfig {
    /// `LEADLINE_FACEBOOK_VERIFY_TOKEN`: what the webhook handshake must present.
    pub facebook_verify_token: Option<String>,
    /// `LEADLINE_FACEBOOK_APP_SECRET`: signs `X-Hub-Signature-256`.
    pub facebook_app_secret: Option<String>,
    /// `LEADLINE_FACEBOOK_GRAPH_URL`: base of the lead fetch (tests point it at a stand-in).
    pub facebook_graph_url: String,
    /// `LEADLINE_FORM_SUBMISSIONS_PER_IP_HOUR`: web-form posts one IP may make per hour.
    pub form_submissions_per_ip_hour: u32,
}

// Secrets stay out of logs.
impl std::fmt::Debug for IntakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeConfig")
            .field(
                "facebook_verify_token",
                &self.facebook_verify_token.is_some(),
            )
            .field("facebook_app_secret", &self.facebook_app_secret.is_some())
            .field("facebook_graph_url", &self.facebook_graph_url)
            .field(
                "form_submissions_per_ip_hour",
                &self.form_submissions_per_ip_hour,
            )
            .finish()
    }
}

impl IntakeConfig {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let text = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let facebook_graph_url = text("LEADLINE_FACEBOOK_GRAPH_URL")
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| DEFAULT_GRAPH_URL.into());
        if !(facebook_graph_url.starts_with("https://")
            || facebook_graph_url.starts_with("http://"))
        {
            return Err("LEADLINE_FACEBOOK_GRAPH_URL must be an http(s) URL".into());
        }
        let form_submissions_per_ip_hour = match text("LEADLINE_FORM_SUBMISSIONS_PER_IP_HOUR") {
            None => 20,
            Some(v) => v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("LEADLINE_FORM_SUBMISSIONS_PER_IP_HOUR must be a positive whole number, not {v:?}")
            })?,
        };
        Ok(Self {
            facebook_verify_token: text("LEADLINE_FACEBOOK_VERIFY_TOKEN"),
            facebook_app_secret: text("LEADLINE_FACEBOOK_APP_SECRET"),
            facebook_graph_url,
            form_submissions_per_ip_hour,
        })
    }
}
