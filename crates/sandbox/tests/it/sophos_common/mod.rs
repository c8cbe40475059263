//! Helpers shared by the Sophos emulator tests: spawn, get a token, call with raw HTTP, redact.
#![allow(dead_code)]

use sandbox::sophos::{SophosConfig, SophosEmulator};
use sandbox::world::{World, WorldConfig};
use secrecy::ExposeSecret;
use serde_json::Value;
use std::sync::Arc;

/// A small deterministic MSP for snapshots.
pub(crate) fn small_world() -> Arc<World> {
    Arc::new(World::generate(WorldConfig {
        seed: 42,
        customers: 12,
        extra_companies: 2,
        extra_tenants: 2,
        usage_anchor: (2026, 10),
    }))
}

pub(crate) fn world_of(customers: usize, seed: u64) -> Arc<World> {
    Arc::new(World::generate(WorldConfig {
        seed,
        customers,
        extra_companies: 0,
        extra_tenants: 0,
        usage_anchor: (2026, 10),
    }))
}

pub(crate) struct Env {
    pub emu: SophosEmulator,
    pub http: reqwest::Client,
    pub token: String,
}

pub(crate) async fn spawn_with(cfg: SophosConfig) -> Env {
    let emu = SophosEmulator::spawn(cfg).await.expect("emulator starts");
    let http = clientkit::http_client().build().unwrap();
    let token = token(&emu, &http).await;
    Env { emu, http, token }
}

pub(crate) async fn spawn() -> Env {
    spawn_with(SophosConfig::new(small_world())).await
}

/// A fresh access token through the form grant.
pub(crate) async fn token(emu: &SophosEmulator, http: &reqwest::Client) -> String {
    let creds = emu.credentials();
    let resp = http
        .post(emu.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.expose_secret()),
            ("scope", "token"),
        ])
        .send()
        .await
        .expect("token call");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

impl Env {
    /// GET on the global API with Bearer and X-Partner-ID.
    pub(crate) async fn partner_get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.emu.global_url()))
            .bearer_auth(&self.token)
            .header("X-Partner-ID", self.emu.partner_id())
            .send()
            .await
            .expect("request");
        split(resp).await
    }

    /// GET on a tenant's apiHost with Bearer and X-Tenant-ID.
    pub(crate) async fn tenant_get(&self, tenant: &str, path: &str) -> (u16, Value) {
        let host = self.emu.tenant_api_host(tenant).expect("known tenant");
        let resp = self
            .http
            .get(format!("{host}{path}"))
            .bearer_auth(&self.token)
            .header("X-Tenant-ID", tenant)
            .send()
            .await
            .expect("request");
        split(resp).await
    }

    /// POST JSON on a tenant's apiHost.
    pub(crate) async fn tenant_post(&self, tenant: &str, path: &str, body: &Value) -> (u16, Value) {
        let host = self.emu.tenant_api_host(tenant).expect("known tenant");
        let resp = self
            .http
            .post(format!("{host}{path}"))
            .bearer_auth(&self.token)
            .header("X-Tenant-ID", tenant)
            .json(body)
            .send()
            .await
            .expect("request");
        split(resp).await
    }

    /// The first tenant whose alerts the partner may read and that has at least one open alert.
    pub(crate) fn readable_tenant_with_alerts(&self) -> String {
        self.emu
            .world()
            .tenants()
            .find(|t| t.billing.alerts_readable() && !self.emu.alerts(&t.id).is_empty())
            .expect("a readable tenant with alerts")
            .id
            .clone()
    }

    /// Replaces volatile values (tokens, ids of one request, the ports) with placeholders: the
    /// global origin becomes `http://emulator`, a region's `http://api-{code}.emulator`.
    pub(crate) fn redact(&self, v: Value) -> Value {
        let mut origins: Vec<(String, String)> = self
            .emu
            .region_urls()
            .into_iter()
            .map(|(code, url)| (url, format!("http://api-{code}.emulator")))
            .collect();
        origins.push((self.emu.global_url(), "http://emulator".to_owned()));
        redact_origins(v, &origins)
    }
}

pub(crate) async fn split(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

pub(crate) fn redact(v: Value, base: &str) -> Value {
    redact_origins(v, &[(base.to_owned(), "http://emulator".to_owned())])
}

/// Volatile keys become `[key]`; a string that is one of the origins, or starts with one and a `/`,
/// gets the origin's placeholder (whole origins only: one port may be a prefix of another).
fn redact_origins(v: Value, origins: &[(String, String)]) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let volatile = matches!(
                        k.as_str(),
                        "access_token"
                            | "refresh_token"
                            | "trackingId"
                            | "correlationId"
                            | "requestId"
                    );
                    let v = if volatile && v.is_string() {
                        Value::String(format!("[{k}]"))
                    } else {
                        redact_origins(v, origins)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => {
            Value::Array(a.into_iter().map(|v| redact_origins(v, origins)).collect())
        }
        Value::String(s) => {
            let swapped = origins.iter().find_map(|(origin, placeholder)| {
                let rest = s.strip_prefix(origin.as_str())?;
                (rest.is_empty() || rest.starts_with('/')).then(|| format!("{placeholder}{rest}"))
            });
            Value::String(swapped.unwrap_or(s))
        }
        other => other,
    }
}
