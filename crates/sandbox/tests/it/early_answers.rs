//! Answers decided before the request body is read (401, 403) reach the client intact over HTTPS,
//! on HTTP/1.1 and on HTTP/2, whatever the body's size: a lost answer would turn an actionable
//! permission error into a transport error.

use reqwest::{Certificate, StatusCode, Version};
use sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};

/// 1 kB, 32 kB and 1 MB request bodies.
const SIZES: [usize; 3] = [1_000, 32_000, 1_000_000];

struct Tls {
    sb: Sandbox,
    dir: std::path::PathBuf,
    certs: Vec<Certificate>,
}

async fn start(name: &str) -> Tls {
    let dir = std::env::temp_dir().join(format!("early-{name}-{}", std::process::id()));
    let mut o = SandboxOptions::demo(5, 6);
    o.realtime_speed = None;
    o.https_dir = Some(dir.clone());
    let sb = Sandbox::spawn(o).await.expect("sandbox over https");
    let info = sb.info();
    let certs = [info.connectwise.cert_path, info.sophos.cert_path]
        .into_iter()
        .map(|p| {
            let pem = std::fs::read(p.expect("https mode writes a certificate")).unwrap();
            Certificate::from_pem(&pem).unwrap()
        })
        .collect();
    Tls { sb, dir, certs }
}

impl Tls {
    /// One client per protocol: HTTP/1.1 only, and the default (h2 offered through ALPN).
    fn clients(&self) -> [(Version, reqwest::Client); 2] {
        let base = || clientkit::http_client().tls_certs_only(self.certs.clone());
        [
            (Version::HTTP_11, base().http1_only().build().unwrap()),
            (Version::HTTP_2, base().build().unwrap()),
        ]
    }

    async fn stop(self) {
        self.sb.shutdown().await;
        let _ = std::fs::remove_dir_all(self.dir);
    }
}

/// A JSON object of about `size` bytes: `fields` plus a padding string.
fn padded(mut fields: Value, pad: &str, size: usize) -> Vec<u8> {
    fields[pad] = json!("x".repeat(size));
    serde_json::to_vec(&fields).unwrap()
}

/// Sends and checks the status, the protocol and that the body is the vendor's JSON error.
async fn expect(rb: reqwest::RequestBuilder, version: Version, status: StatusCode) -> Value {
    let what = format!("{rb:?}");
    let r = rb
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: the answer was lost: {e:?}"));
    assert_eq!(r.status(), status, "{what}");
    assert_eq!(r.version(), version, "{what}");
    let text = r.text().await.expect("the whole body arrives");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
}

#[tokio::test]
async fn connectwise_401_and_403_arrive_whole_over_tls() {
    let tls = start("cw").await;
    let cw = tls.sb.connectwise.clone();
    let creds = cw.credentials();
    let url = |path: &str| format!("{}/{path}", cw.api_base());
    for (version, http) in tls.clients() {
        for size in SIZES {
            let ticket = padded(
                json!({"summary": "Early answer", "company": {"id": 250}}),
                "initialDescription",
                size,
            );
            let wrong_key = http
                .post(url("service/tickets"))
                .basic_auth(creds.username(), Some("not-the-private-key"))
                .header("clientId", &creds.client_id)
                .header("content-type", "application/json")
                .body(ticket);
            let body = expect(wrong_key, version, StatusCode::UNAUTHORIZED).await;
            assert_eq!(body["code"], "Unauthorized", "{size} bytes");

            // The seed role may read companies but not create them.
            let company = padded(
                json!({"identifier": "EarlyCo", "name": "Early Co", "city": "Lisbon"}),
                "website",
                size,
            );
            let forbidden = http
                .post(url("company/companies"))
                .header("authorization", creds.authorization())
                .header("clientId", &creds.client_id)
                .header("content-type", "application/json")
                .body(company);
            let body = expect(forbidden, version, StatusCode::FORBIDDEN).await;
            assert_eq!(body["code"], "Security", "{size} bytes");
        }
    }
    assert!(cw.records(sandbox::connectwise::Table::Companies).len() > 1);
    tls.stop().await;
}

#[tokio::test]
async fn sophos_401_arrives_whole_over_tls() {
    let tls = start("so").await;
    let so = tls.sb.sophos.clone();
    let tenant = so
        .world()
        .tenants()
        .find(|t| t.billing.alerts_readable() && !so.alerts(&t.id).is_empty())
        .expect("a readable tenant with alerts")
        .id
        .clone();
    let alert = so.alerts(&tenant)[0].id.clone();
    let host = so.tenant_api_host(&tenant).unwrap();
    let url = format!("{host}/common/v1/alerts/{alert}/actions");
    let clients = tls.clients();
    let expired = crate::sophos_common::token(&so, &clients[0].1).await;
    so.expire_tokens();
    for (version, http) in clients {
        for size in SIZES {
            for token in ["no-such-token", expired.as_str()] {
                let action = padded(json!({"action": "acknowledge"}), "message", size);
                let refused = http
                    .post(&url)
                    .bearer_auth(token)
                    .header("X-Tenant-ID", &tenant)
                    .header("content-type", "application/json")
                    .body(action);
                let body = expect(refused, version, StatusCode::UNAUTHORIZED).await;
                assert_eq!(body["error"], "notAuthorized", "{size} bytes");
                assert!(body["requestId"].is_string());
            }
        }
    }
    // Nothing was acted on.
    assert!(so.actions().is_empty());
    assert!(so.alerts(&tenant).iter().any(|a| a.id == alert));
    tls.stop().await;
}

/// Sends the whole request, body included, before reading a byte of the answer (as Python's
/// urllib and many SDKs do), over plain HTTP/1.1; returns the status and the body.
async fn write_then_read(url: &str, headers: &[(&str, String)], body: Vec<u8>) -> (u16, Value) {
    use std::io::{Read as _, Write as _};
    let url = url::Url::parse(url).unwrap();
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        url.path(),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let raw = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.write_all(head.as_bytes())?;
        s.write_all(&body)?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)?;
        Ok(out)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("the answer was lost: {e}"));
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole answer");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    (status, serde_json::from_str(body).expect("a JSON body"))
}

#[tokio::test]
async fn clients_that_write_the_whole_body_first_get_the_answer() {
    let mut o = SandboxOptions::demo(5, 6);
    o.realtime_speed = None;
    let sb = Sandbox::spawn(o).await.unwrap();
    // Well past what socket buffers and the server's own draining absorb.
    let size = 8_000_000;
    let creds = sb.connectwise.credentials();
    let (status, body) = write_then_read(
        &format!("{}/service/tickets", sb.connectwise.api_base()),
        &[
            ("Authorization", "Basic YnJpZGdld2F0ZXIrbm86bm8=".to_owned()),
            ("clientId", creds.client_id.clone()),
        ],
        padded(json!({"summary": "Early"}), "initialDescription", size),
    )
    .await;
    assert_eq!((status, &body["code"]), (401, &json!("Unauthorized")));

    let so = &sb.sophos;
    let tenant = so.world().tenants().next().unwrap().id.clone();
    let (status, body) = write_then_read(
        &format!(
            "{}/common/v1/alerts/a1/actions",
            so.tenant_api_host(&tenant).unwrap()
        ),
        &[
            ("Authorization", "Bearer no-such-token".to_owned()),
            ("X-Tenant-ID", tenant),
        ],
        padded(json!({"action": "acknowledge"}), "message", size),
    )
    .await;
    assert_eq!((status, &body["error"]), (401, &json!("notAuthorized")));

    // Above the limit: refused with 413, and the refusal arrives too.
    let (status, _) = write_then_read(
        &format!("{}/service/tickets", sb.connectwise.api_base()),
        &[("Authorization", creds.authorization())],
        padded(json!({}), "pad", sandbox::tls::BODY_LIMIT + 1),
    )
    .await;
    assert_eq!(status, 413);
    sb.shutdown().await;
}
