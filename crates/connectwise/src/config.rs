//! Connection settings and site-name normalisation.

use std::fmt;
use std::time::Duration;

pub use clientkit::RetryPolicy;
use secrecy::SecretString;

use crate::error::CwError;
use crate::messages;

/// How to reach one ConnectWise site as one API member.
#[derive(Debug, Clone)]
pub struct CwConfig {
    /// What the user typed: `na.myconnectwise.net`, `api-na.myconnectwise.net`, `https://…`, or (only with
    /// `allow_http`) `http://127.0.0.1:P` for the emulator.
    pub site: String,
    /// The login company id (the one typed on the login page), not a numeric id.
    pub company_id: String,
    /// The API member's public key (the user name in Basic auth is `companyId+publicKey`).
    pub public_key: String,
    /// The API member's private key (the Basic auth password); never logged or shown.
    pub private_key: SecretString,
    /// The integration's clientId GUID (sent on every call).
    pub client_id: String,
    /// Skip discovery and use this codebase (e.g. `v2025_1/`). Never rediscovered.
    pub codebase_override: Option<String>,
    /// Allow plain `http://` (the emulator only).
    pub allow_http: bool,
    /// Model version sent in `Accept`.
    pub api_version: String,
    /// Requests in flight at once for this client.
    pub max_concurrency: usize,
    /// Our own pace toward the site (ConnectWise limits integrations above about 1,000 requests
    /// a minute). Off skips it; a server's 429 is honoured either way.
    pub rate_limit: clientkit::RateLimit,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Retries for 429 (always: nothing was done), 5xx and transport errors (not for a POST).
    pub retry: RetryPolicy,
    /// After an ambiguous POST failure: how many times the record is looked up (with backoff
    /// between) before the POST is sent again.
    pub lookup_attempts: u32,
    /// Page size for bulk reads (1..=1000).
    pub page_size: u32,
}

/// Requests a minute unless set: under ConnectWise's "about 1,000 a minute".
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 900;

impl CwConfig {
    /// A configuration with the defaults (version 2025.1, 4 in flight, 900 requests/min, 60 s
    /// timeout).
    pub fn new(
        site: impl Into<String>,
        company_id: impl Into<String>,
        public_key: impl Into<String>,
        private_key: SecretString,
        client_id: impl Into<String>,
    ) -> Self {
        CwConfig {
            site: site.into(),
            company_id: company_id.into(),
            public_key: public_key.into(),
            private_key,
            client_id: client_id.into(),
            codebase_override: None,
            allow_http: false,
            api_version: "2025.1".to_string(),
            max_concurrency: 4,
            rate_limit: clientkit::RateLimit::per_minute(DEFAULT_REQUESTS_PER_MINUTE),
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            lookup_attempts: 3,
            page_size: 1000,
        }
    }
}

/// Something we corrected in what the user typed, to show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(pub String);

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Cloud UI hosts whose API lives on the `api-` prefixed host.
const UI_HOSTS: &[&str] = &[
    "na.myconnectwise.net",
    "eu.myconnectwise.net",
    "au.myconnectwise.net",
    "aus.myconnectwise.net",
    "za.myconnectwise.net",
    "staging.connectwisedev.com",
];

/// Turn what the user typed into the API origin (`https://api-na.myconnectwise.net`, no trailing
/// slash), with notes on what was corrected.
pub fn normalize_site(input: &str, allow_http: bool) -> Result<(String, Vec<Note>), CwError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(CwError::invalid_config(messages::empty_site()));
    }
    let mut notes = Vec::new();
    let lower = trimmed.to_ascii_lowercase();
    let with_scheme = if lower.starts_with("https://") || lower.starts_with("http://") {
        trimmed.to_string()
    } else if lower.contains("://") {
        return Err(CwError::invalid_config(messages::bad_site(trimmed)));
    } else {
        format!("https://{trimmed}")
    };
    let url = url::Url::parse(&with_scheme)
        .map_err(|_| CwError::invalid_config(messages::bad_site(trimmed)))?;
    if url.scheme() == "http" && !allow_http {
        return Err(CwError::invalid_config(messages::http_not_allowed()));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| CwError::invalid_config(messages::bad_site(trimmed)))?
        .to_ascii_lowercase();
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CwError::invalid_config(messages::bad_site(trimmed)));
    }
    let path = url.path();
    if !(path.is_empty() || path == "/") || url.query().is_some() {
        let dropped = match url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        notes.push(Note(messages::note_path_dropped(&dropped)));
    }
    let host = if UI_HOSTS.contains(&host.as_str()) {
        let api = format!("api-{host}");
        notes.push(Note(messages::note_api_prefix(&host, &api)));
        api
    } else {
        host
    };
    let origin = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    Ok((origin, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_ui_host_gets_api_prefix_and_a_note() {
        let (o, notes) = normalize_site("https://na.myconnectwise.net/", false).unwrap();
        assert_eq!(o, "https://api-na.myconnectwise.net");
        assert_eq!(notes.len(), 1);
        assert!(notes[0].0.contains("api-na.myconnectwise.net"));
        let (o, notes) = normalize_site("  EU.myconnectwise.net ", false).unwrap();
        assert_eq!(o, "https://api-eu.myconnectwise.net");
        assert_eq!(notes.len(), 1);
        let (o, _) = normalize_site("staging.connectwisedev.com", false).unwrap();
        assert_eq!(o, "https://api-staging.connectwisedev.com");
    }

    #[test]
    fn api_host_and_on_prem_are_kept() {
        let (o, notes) = normalize_site("api-au.myconnectwise.net", false).unwrap();
        assert_eq!(o, "https://api-au.myconnectwise.net");
        assert!(notes.is_empty());
        let (o, notes) = normalize_site("https://cw.example.com:8443", false).unwrap();
        assert_eq!(o, "https://cw.example.com:8443");
        assert!(notes.is_empty());
    }

    #[test]
    fn pasted_ui_url_path_is_dropped_with_a_note() {
        let (o, notes) = normalize_site(
            "https://na.myconnectwise.net/v4_6_release/ConnectWise.aspx?x=1",
            false,
        )
        .unwrap();
        assert_eq!(o, "https://api-na.myconnectwise.net");
        assert_eq!(notes.len(), 2);
    }

    #[test]
    fn http_needs_opt_in() {
        assert!(matches!(
            normalize_site("http://127.0.0.1:4000", false),
            Err(CwError::InvalidConfig { .. })
        ));
        let (o, _) = normalize_site("http://127.0.0.1:4000", true).unwrap();
        assert_eq!(o, "http://127.0.0.1:4000");
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "   ",
            "ftp://x.y",
            "https://",
            "https://user:pw@na.myconnectwise.net",
        ] {
            assert!(normalize_site(bad, false).is_err(), "{bad:?}");
        }
    }
}
