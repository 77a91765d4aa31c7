//! Where a lead came from: its first source (how it reached us: `chat`, `web_form`,
//! `google_ads`, `facebook`, a marketplace, `import`, or the channel of its first message),
//! its campaign, and the details marketing asks about (UTM parameters, click ids, the page
//! and the referrer, ad and form ids). Set once, when the lead is created (or on a lead that
//! had none); later touches never change it, so "leads by source" counts each lead once.

use serde_json::{Map, Value};

/// Longest source name and campaign kept.
const MAX_NAME: usize = 100;
/// Longest detail value kept (URLs included).
const MAX_VALUE: usize = 500;
/// Most detail keys kept.
const MAX_KEYS: usize = 30;

/// The query parameters of a landing page that say how the visitor came.
const PAGE_PARAMS: [&str; 10] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "gclid",
    "gbraid",
    "wbraid",
    "fbclid",
    "msclkid",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attribution {
    pub source: String,
    pub campaign: Option<String>,
    pub detail: Map<String, Value>,
}

impl Attribution {
    pub fn new(source: &str) -> Self {
        Self {
            source: bounded(source, MAX_NAME),
            ..Self::default()
        }
    }

    pub fn with_campaign(mut self, campaign: Option<&str>) -> Self {
        self.campaign = campaign
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| bounded(c, MAX_NAME));
        self
    }

    /// Adds one detail (bounded; blanks and keys beyond the limit are left out).
    pub fn set(&mut self, key: &str, value: &str) {
        let value = value.trim();
        if value.is_empty() || (self.detail.len() >= MAX_KEYS && !self.detail.contains_key(key)) {
            return;
        }
        self.detail.insert(
            bounded(key, MAX_NAME),
            Value::from(bounded(value, MAX_VALUE)),
        );
    }

    /// Reads the landing page's UTM parameters and click ids, and the referrer; the
    /// campaign is `utm_campaign` unless one is set already. Unparsable URLs add nothing.
    pub fn with_page(mut self, page_url: Option<&str>, referrer: Option<&str>) -> Self {
        if let Some(page) = page_url.and_then(|u| reqwest::Url::parse(u.trim()).ok()) {
            for (k, v) in page.query_pairs() {
                if PAGE_PARAMS.contains(&k.as_ref()) {
                    self.set(&k, &v);
                }
            }
            let mut landing = page.clone();
            landing.set_query(None);
            landing.set_fragment(None);
            self.set("landing_page", landing.as_str());
        }
        if let Some(r) = referrer.and_then(|u| reqwest::Url::parse(u.trim()).ok()) {
            self.set("referrer", r.as_str());
            if let Some(host) = r.host_str() {
                self.set("referrer_host", host);
            }
        }
        if self.campaign.is_none() {
            let campaign = self
                .detail
                .get("utm_campaign")
                .and_then(Value::as_str)
                .map(str::to_owned);
            self = self.with_campaign(campaign.as_deref());
        }
        self
    }

    pub fn detail_json(&self) -> Value {
        Value::Object(self.detail.clone())
    }
}

fn bounded(s: &str, max: usize) -> String {
    let s: String = s.chars().filter(|c| *c != '\0').collect();
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_owned(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_landing_page_gives_its_utm_parameters_click_ids_and_campaign() {
        let a = Attribution::new("chat").with_page(
            Some("https://roofer.example/quote?utm_source=google&utm_medium=cpc&utm_campaign=Hail%20Storm&gclid=abc&x=1#top"),
            Some("https://www.google.com/search?q=roofer"),
        );
        assert_eq!(a.source, "chat");
        assert_eq!(a.campaign.as_deref(), Some("Hail Storm"));
        assert_eq!(a.detail["utm_source"], "google");
        assert_eq!(a.detail["utm_medium"], "cpc");
        assert_eq!(a.detail["gclid"], "abc");
        assert!(
            !a.detail.contains_key("x"),
            "other parameters are not attribution"
        );
        assert_eq!(a.detail["landing_page"], "https://roofer.example/quote");
        assert_eq!(a.detail["referrer_host"], "www.google.com");
    }

    #[test]
    fn an_explicit_campaign_wins_and_junk_adds_nothing() {
        let a = Attribution::new("web_form")
            .with_campaign(Some("Spring"))
            .with_page(Some("not a url"), Some("?"));
        assert_eq!(a.campaign.as_deref(), Some("Spring"));
        assert!(a.detail.is_empty());
        let a = Attribution::new("web_form").with_campaign(Some("  "));
        assert_eq!(a.campaign, None);
    }

    #[test]
    fn values_are_bounded_and_nul_free() {
        let mut a = Attribution::new(&"s\0".repeat(300));
        assert_eq!(a.source.chars().count(), 100);
        assert!(!a.source.contains('\0'));
        for i in 0..40 {
            a.set(&format!("k{i}"), &"v".repeat(900));
        }
        assert_eq!(a.detail.len(), MAX_KEYS);
        assert_eq!(a.detail["k0"].as_str().unwrap().len(), MAX_VALUE);
    }
}
