//! A tiny canned-response HTTP/1.1 server for driving the client with the reference's exact bodies.
//! (The full emulator lives in `sandbox`; this one lets a test pick every status, header and body.)
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sophos::{RetryPolicy, SophosConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub(crate) fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
        }
    }
    pub(crate) fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

pub(crate) fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

type Handler = dyn Fn(&Seen, &str) -> Reply + Send + Sync;

pub(crate) struct FixtureServer {
    pub base: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl FixtureServer {
    /// `handler(request, base_url)`.
    pub(crate) async fn start(
        handler: impl Fn(&Seen, &str) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (b, s) = (base.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (handler, b, s) = (handler.clone(), b.clone(), s.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut lines = head.split("\r\n");
                    let mut first = lines.next().unwrap_or_default().split(' ');
                    let method = first.next().unwrap_or_default().to_string();
                    let target = first.next().unwrap_or_default().to_string();
                    let mut headers = HashMap::new();
                    for l in lines {
                        if let Some((k, v)) = l.split_once(':') {
                            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                        }
                    }
                    let len: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
                    let query = url::form_urlencoded::parse(q.as_bytes())
                        .into_owned()
                        .collect();
                    let req = Seen {
                        method,
                        path: path.to_string(),
                        query,
                        headers,
                        body,
                    };
                    let reply = handler(&req, &b);
                    s.lock().unwrap().push(req);
                    let mut out = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (k, v) in &reply.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&reply.body);
                    let _ = sock.write_all(out.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        FixtureServer { base, seen }
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub(crate) fn count(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }

    /// Client settings pointing at this server, with fast retries.
    pub(crate) fn config(&self) -> SophosConfig {
        let mut cfg = SophosConfig::new("client-id-1", "s3cret-value-xyz".to_string().into());
        cfg.token_url = format!("{}/api/v2/oauth2/token", self.base);
        cfg.global_url = format!("{}/", self.base);
        cfg.rate_limit = sophos::RateLimit::Off;
        cfg.retry = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
            max_retry_after: Duration::from_secs(5),
            jitter: false,
        };
        cfg
    }
}

/// Answers the token call and whoami like Sophos (whoami's global = this server, trailing slash).
pub(crate) fn sign_in(req: &Seen, base: &str) -> Option<Reply> {
    match req.path.as_str() {
        "/api/v2/oauth2/token" => Some(Reply::json(200, fixture("token_ok.json"))),
        "/whoami/v1" => Some(Reply::json(
            200,
            fixture("whoami.json").replace("https://api.central.sophos.com", &format!("{base}/")),
        )),
        _ => None,
    }
}
