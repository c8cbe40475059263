//! Shared helpers of the ConnectWise emulator tests: a raw reqwest client with the emulator's
//! credentials (not the connectwise client crate).
#![allow(dead_code)]

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use sandbox::connectwise::{CwConfig, CwCredentials, CwEmulator};
use secrecy::ExposeSecret;
use serde_json::Value;

pub(crate) struct Api {
    pub cw: CwEmulator,
    pub http: reqwest::Client,
    pub creds: CwCredentials,
}

pub(crate) struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

impl Api {
    pub(crate) async fn start() -> Self {
        Self::start_with(CwConfig::demo(7)).await
    }

    pub(crate) async fn start_with(cfg: CwConfig) -> Self {
        let cw = CwEmulator::spawn(cfg).await.expect("emulator starts");
        let creds = cw.credentials();
        Self {
            cw,
            http: clientkit::http_client().build().unwrap(),
            creds,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{}", self.cw.api_base(), path.trim_start_matches('/'))
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.request_as(&self.creds, method, path)
    }

    pub(crate) fn request_as(
        &self,
        creds: &CwCredentials,
        method: Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .basic_auth(creds.username(), Some(creds.private_key.expose_secret()))
            .header("clientId", &creds.client_id)
            .header(
                "Accept",
                "application/vnd.connectwise.com+json; version=2025.1",
            )
    }

    pub(crate) async fn get(&self, path: &str) -> Resp {
        send(self.request(Method::GET, path)).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Resp {
        send(self.request(Method::POST, path).json(&body)).await
    }

    pub(crate) async fn patch(&self, path: &str, body: Value) -> Resp {
        send(self.request(Method::PATCH, path).json(&body)).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> Resp {
        send(self.request(Method::PUT, path).json(&body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Resp {
        send(self.request(Method::DELETE, path)).await
    }
}

pub(crate) async fn send(rb: reqwest::RequestBuilder) -> Resp {
    let r = rb.send().await.expect("request is answered");
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON body")
    };
    Resp {
        status,
        headers,
        body,
    }
}

/// Replaces the emulator's random port so snapshots are stable.
pub(crate) fn stable(api: &Api, v: &Value) -> Value {
    let text = serde_json::to_string(v)
        .expect("serialises")
        .replace(&api.cw.site_url(), "https://api-na.example");
    serde_json::from_str(&text).expect("parses")
}
