//! Requests that cannot change data, used by the permission check (`centralbridge doctor`).
//!
//! ConnectWise checks the security role before it looks at a request body (reference §10), so a
//! request whose body is certain to be refused still tells whether the role allows the verb:
//! 403 `Security` = the level is missing; a 400 about the body = the level is there.
//!
//! - read: `GET path?pageSize=1` (Inquire);
//! - add: `POST path` with `{}` — every collection the integration writes has required fields, so the
//!   server refuses it with 400 `InvalidObject`/`MissingRequiredField` (Add);
//! - edit: `PATCH path/{existing id}` with one JSON Patch `test` op that fails (`/id` = -1). A `test`
//!   op never modifies anything (RFC 6902 §4.6), and a failing one aborts the whole patch, so even a
//!   server that applies it changes nothing (Edit).
//!
//! Each probe is sent once: no retry, no codebase rediscovery, no POST lookup.

use http::Method;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::client::{Client, Req};
use crate::error::{CwError, from_response};

/// The answer to one probe.
#[derive(Debug, Clone)]
pub struct ProbeAnswer {
    /// HTTP status, `None` when the server could not be reached.
    pub status: Option<u16>,
    /// `None` for a 2xx; otherwise the mapped error (403 = [`CwError::Permission`]).
    pub error: Option<CwError>,
    /// The response's `Date` header, for the clock check.
    pub server_date: Option<Timestamp>,
    /// For a read of a list: the `id` of the first record returned.
    pub first_id: Option<i64>,
}

impl ProbeAnswer {
    /// The server refused for lack of a security-role level (403 `Security`).
    pub fn is_permission_denied(&self) -> bool {
        matches!(self.error, Some(CwError::Permission { .. }))
    }

    /// The server looked at the body and refused it (400/409/415/422): the role check passed.
    pub fn is_body_refused(&self) -> bool {
        matches!(
            self.error,
            Some(CwError::Validation { .. } | CwError::InvoicedPeriod { .. })
        )
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The JSON Patch a probe of the Edit level sends: a `test` op that fails, so nothing is applied.
pub fn edit_probe_body() -> Value {
    json!([{"op": "test", "path": "/id", "value": -1}])
}

/// The body a probe of the Add level sends: no fields at all, refused for missing required fields.
pub fn add_probe_body() -> Value {
    json!({})
}

fn http_date(headers: &http::HeaderMap) -> Option<Timestamp> {
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    let v = headers.get(http::header::DATE)?.to_str().ok()?;
    PARSER.parse_timestamp(v.trim()).ok()
}

impl Client {
    async fn probe(&self, req: Req) -> ProbeAnswer {
        let codebase = self.codebase();
        match self.attempt(&codebase, &req).await {
            Err(e) => ProbeAnswer {
                status: None,
                error: Some(e),
                server_date: None,
                first_id: None,
            },
            Ok((status, headers, body)) => {
                let server_date = http_date(&headers);
                if (200..300).contains(&status) {
                    let first_id = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| v.as_array()?.first()?.get("id").and_then(Value::as_i64));
                    ProbeAnswer {
                        status: Some(status),
                        error: None,
                        server_date,
                        first_id,
                    }
                } else {
                    let err = from_response(req.method.as_str(), &req.path, status, None, &body);
                    ProbeAnswer {
                        status: Some(status),
                        error: Some(err),
                        server_date,
                        first_id: None,
                    }
                }
            }
        }
    }

    /// `GET path?pageSize=1`: proves the Inquire level of the function governing `path`.
    pub async fn probe_read(&self, path: &str) -> ProbeAnswer {
        self.probe(
            Req::new(Method::GET, path).params(vec![("pageSize".to_string(), "1".to_string())]),
        )
        .await
    }

    /// `POST path` with `{}` (see [`add_probe_body`]): proves the Add level without creating anything.
    pub async fn probe_add(&self, path: &str) -> ProbeAnswer {
        self.probe(Req::new(Method::POST, path).body(add_probe_body()))
            .await
    }

    /// `PATCH path` (an existing record) with a failing `test` op (see [`edit_probe_body`]): proves the
    /// Edit level without changing anything.
    pub async fn probe_edit(&self, path: &str) -> ProbeAnswer {
        self.probe(Req::new(Method::PATCH, path).body(edit_probe_body()))
            .await
    }
}
