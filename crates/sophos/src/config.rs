//! Connection settings and base-URL handling.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::error::SophosError;
use crate::messages;
use clientkit::RetryPolicy;

/// Sophos's production OAuth2 token endpoint; a connection may name another (the emulator's).
pub const DEFAULT_TOKEN_URL: &str = "https://id.sophos.com/api/v2/oauth2/token";
/// Sophos Central's production global API base (whoami, partner tenants, billing).
pub const DEFAULT_GLOBAL_URL: &str = "https://api.central.sophos.com";

/// Settings of one Sophos Central Partner connection. `Debug` redacts the secret.
#[derive(Debug, Clone)]
pub struct SophosConfig {
    /// The API credential's client id, sent in the client-credentials grant.
    pub client_id: String,
    /// The API credential's secret; sent only in the token request form, never logged.
    pub client_secret: SecretString,
    /// Token endpoint (full URL).
    pub token_url: String,
    /// Global API base (whoami, partner, billing). Regional hosts come from whoami and the tenant list.
    pub global_url: String,
    /// Our own pace per host, shared by every tenant on that host (Sophos publishes no number; the
    /// reference suggests about 5 a second). Off skips it; a server's 429 is honoured either way.
    pub rate_limit: clientkit::RateLimit,
    /// Requests in flight at once per host (the global API and each regional host apart).
    pub max_concurrency: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How failed calls are retried; only GETs and the token grant are repeated after a 5xx or a
    /// network error.
    pub retry: RetryPolicy,
    /// Renew the token this long before it expires (halved for very short-lived tokens).
    pub refresh_margin: Duration,
    /// `pageSize` per list endpoint.
    pub page_size: PageSizes,
}

/// `pageSize` of each list. Sophos publishes no maxima (examples use 50; the alerts example shows a
/// `maxSize` of 1000), so the defaults stay modest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSizes {
    /// `pageSize` of the partner tenant list.
    pub tenants: u32,
    /// `pageSize` of a billing usage month.
    pub usage: u32,
    /// `pageSize` of a tenant's alert list, unless the [`crate::AlertQuery`] sets its own.
    pub alerts: u32,
}

impl Default for PageSizes {
    fn default() -> Self {
        PageSizes {
            tenants: 50,
            usage: 50,
            alerts: 100,
        }
    }
}

/// Requests a minute per host unless set: about 5 a second, as the reference suggests.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 300;

impl SophosConfig {
    /// Production defaults for the given credentials.
    pub fn new(client_id: impl Into<String>, client_secret: SecretString) -> Self {
        SophosConfig {
            client_id: client_id.into(),
            client_secret,
            token_url: DEFAULT_TOKEN_URL.to_string(),
            global_url: DEFAULT_GLOBAL_URL.to_string(),
            rate_limit: clientkit::RateLimit::per_minute(DEFAULT_REQUESTS_PER_MINUTE),
            max_concurrency: 8,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            refresh_margin: Duration::from_secs(90),
            page_size: PageSizes::default(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), SophosError> {
        if self.client_id.trim().is_empty() {
            return Err(SophosError::invalid_config(messages::EMPTY_CLIENT_ID));
        }
        if self.max_concurrency == 0 {
            return Err(SophosError::invalid_config(messages::BAD_CONCURRENCY));
        }
        parse_base(&self.token_url)?;
        parse_base(&self.global_url)?;
        Ok(())
    }
}

/// Parses an http(s) base URL, dropping trailing slashes, query and fragment.
pub(crate) fn parse_base(raw: &str) -> Result<Url, SophosError> {
    let bad = || SophosError::invalid_config(format!("{raw:?} {}", messages::BAD_URL));
    let mut url = Url::parse(raw.trim()).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

/// Normalised text form of a base URL: no trailing slash, no `//` in the path.
pub fn normalize_base_url(raw: &str) -> Result<String, SophosError> {
    let url = parse_base(raw)?;
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// `base` + path segments (each percent-encoded), never producing `//`.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty();
        for s in segments {
            segs.push(s);
        }
    }
    url
}

/// Key of the per-host rate limiter: scheme, host and port.
pub(crate) fn host_key(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_published_whoami_host() {
        assert_eq!(
            normalize_base_url("http://api-us01.central.sophos.com/").unwrap(),
            "http://api-us01.central.sophos.com"
        );
        assert_eq!(
            normalize_base_url("https://h.example/base//").unwrap(),
            "https://h.example/base"
        );
        assert!(normalize_base_url("ftp://x").is_err());
        assert!(normalize_base_url("not a url").is_err());
    }

    #[test]
    fn join_never_doubles_slashes() {
        for base in [
            "https://api.central.sophos.com/",
            "https://api.central.sophos.com",
        ] {
            let b = parse_base(base).unwrap();
            assert_eq!(
                join(&b, &["whoami", "v1"]).as_str(),
                "https://api.central.sophos.com/whoami/v1"
            );
        }
        let b = parse_base("http://127.0.0.1:8080/sophos/eu01/").unwrap();
        assert_eq!(
            join(&b, &["common", "v1", "alerts", "a/b"]).as_str(),
            "http://127.0.0.1:8080/sophos/eu01/common/v1/alerts/a%2Fb"
        );
        assert_eq!(host_key(&b), "127.0.0.1:8080");
    }

    #[test]
    fn debug_redacts_secret() {
        let cfg = SophosConfig::new("id", SecretString::from("hunter2-secret"));
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }
}
