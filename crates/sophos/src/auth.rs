//! OAuth2 client credentials (on reqwest): one cached token per client, renewed before it expires and
//! once after a 401. Concurrent callers share a single in-flight sign-in.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::error::SophosError;
use crate::http::{Body, Request, Scope, Transport};
use crate::messages;
use crate::models::TokenResponse;

/// Lifetime assumed when the token answer has no `expires_in` (Sophos documents one hour).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

type TokenResult = Result<(SecretString, Duration), SophosError>;

struct Cached {
    token: SecretString,
    refresh_at: Instant,
    generation: u64,
}

#[derive(Default)]
pub(crate) struct TokenCache {
    slot: Mutex<Option<Cached>>,
    next_generation: std::sync::atomic::AtomicU64,
}

impl TokenCache {
    /// Forgets the token of this generation (a newer one, fetched meanwhile, is kept).
    pub(crate) async fn invalidate(&self, generation: u64) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| c.generation == generation) {
            *slot = None;
        }
    }
}

/// When to renew a token of this lifetime: `margin` early, but never earlier than half-way, so short
/// test lifetimes still get used.
fn refresh_after(lifetime: Duration, margin: Duration) -> Duration {
    lifetime.saturating_sub(margin.min(lifetime / 2))
}

fn lifetime_of(v: Option<&serde_json::Value>) -> Duration {
    let secs = match v {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match secs {
        Some(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s.min(1e9)),
        _ => DEFAULT_LIFETIME,
    }
}

impl Transport {
    /// A valid token and its generation, signing in when none is cached or it is due for renewal.
    pub(crate) async fn token(&self) -> Result<(SecretString, u64), SophosError> {
        let mut slot = self.tokens.slot.lock().await;
        if let Some(c) = slot.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok((c.token.clone(), c.generation));
        }
        let (token, lifetime) = self.fetch_token().await?;
        let generation = self
            .tokens
            .next_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *slot = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + refresh_after(lifetime, self.cfg.refresh_margin),
            generation,
        });
        Ok((token, generation))
    }

    // Boxed: `execute` calls `token`, which calls `execute` again (without a bearer).
    fn fetch_token(&self) -> Pin<Box<dyn Future<Output = TokenResult> + Send + '_>> {
        Box::pin(async move {
            let req = Request {
                method: reqwest::Method::POST,
                url: self.token_url.clone(),
                scope: Scope::Token,
                query: Vec::new(),
                body: Body::TokenForm,
                what: "access token".to_string(),
                tenant: None,
            };
            let resp = self.execute(req).await?;
            self.stats.update(|s| s.token_fetches += 1);
            // Success is the HTTP status plus an access_token, never the mere presence of errorCode.
            let parsed: TokenResponse = resp.json("token response")?;
            match parsed.access_token {
                Some(t) if !t.expose_secret().is_empty() => {
                    Ok((t, lifetime_of(parsed.expires_in.as_ref())))
                }
                _ => Err(SophosError::Auth {
                    message: messages::AUTH_NO_TOKEN.to_string(),
                    code: parsed.error_code.or(parsed.message),
                    tracking_id: parsed.tracking_id,
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_timing() {
        let m = Duration::from_secs(90);
        assert_eq!(
            refresh_after(Duration::from_secs(3600), m),
            Duration::from_secs(3510)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(4), m),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn lifetimes() {
        assert_eq!(lifetime_of(None), DEFAULT_LIFETIME);
        assert_eq!(
            lifetime_of(Some(&serde_json::json!(3600))),
            Duration::from_secs(3600)
        );
        assert_eq!(
            lifetime_of(Some(&serde_json::json!("120"))),
            Duration::from_secs(120)
        );
        assert_eq!(lifetime_of(Some(&serde_json::json!(-1))), DEFAULT_LIFETIME);
    }
}
