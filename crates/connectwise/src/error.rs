//! One error type for every ConnectWise call, and the mapping from HTTP answers to it.

use std::time::Duration;

use serde::Deserialize;

use crate::messages;

/// What went wrong talking to ConnectWise. `Display` is plain English for the user and never holds a
/// secret.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CwError {
    /// 401: bad company id / keys.
    #[error("{}", messages::auth(.message))]
    Auth {
        /// ConnectWise's message (e.g. `Unauthorized` or `UserNotAuthenticated`).
        message: String,
    },
    /// 403 `Security`: the API member's role lacks a level. `function` names the role row, e.g.
    /// "Finance > Agreements: Add Level".
    #[error("{}", messages::permission(.method, .path, .function.as_deref()))]
    Permission {
        /// The role row to grant, e.g. "Finance > Agreements: Add Level"; `None` when the path's
        /// row is not known.
        function: Option<String>,
        /// The HTTP method that was refused (`GET`, `POST`, `PATCH`, …).
        method: String,
        /// The refused path, relative to `apis/3.0/`, without the query.
        path: String,
        /// ConnectWise's message.
        message: String,
    },
    /// 404 on a path whose codebase is current.
    #[error("{}", messages::not_found(.path, .message))]
    NotFound {
        /// The path that was not found, relative to `apis/3.0/`, without the query.
        path: String,
        /// ConnectWise's message (e.g. `Ticket 1255787 not found`).
        message: String,
    },
    /// 400 (and 409/415): the request data was refused. `field` and `code` come from the first item of
    /// `errors[]` when present (e.g. `MissingRequiredField`, `ObjectExists`, `NotFound`,
    /// `MaxLengthField`, `OutOfRange`).
    #[error("{}", messages::validation(.field.as_deref(), .code, .message))]
    Validation {
        /// The HTTP status (400, 409, 415 or 422).
        status: u16,
        /// The refused field (e.g. `status/id`, `summary`); `None` when the answer names none.
        field: Option<String>,
        /// The first item's code (e.g. `MissingRequiredField`), else the body's own code.
        code: String,
        /// The first item's message, else the body's message.
        message: String,
        /// Every item of the body's `errors[]`; empty when it had none.
        errors: Vec<FieldError>,
    },
    /// An addition change that touches an already-invoiced period.
    #[error("{}", messages::invoiced(.message))]
    InvoicedPeriod {
        /// ConnectWise's message (e.g. "Period has already been invoiced…").
        message: String,
    },
    /// 429 after the retry budget was spent (or Retry-After above the allowed maximum).
    #[error("{}", messages::rate_limited(*.retry_after))]
    RateLimited {
        /// How long the server asked us to wait (`Retry-After`); `None` when it did not say.
        retry_after: Option<Duration>,
        /// ConnectWise's message (e.g. "Too many requests. Please try again in 30 seconds.").
        message: String,
    },
    /// 5xx.
    #[error("{}", messages::server(*.status, .message))]
    Server {
        /// The 5xx status.
        status: u16,
        /// ConnectWise's message, or a one-line excerpt (at most 200 characters) of a body that
        /// was not JSON.
        message: String,
    },
    /// Connection failure or timeout. For a POST the outcome is unknown, unless no connection
    /// was made at all (`connect`).
    #[error("{}", messages::transport(.message, *.timeout))]
    Transport {
        /// What failed, with its causes (may name the request URL, never a secret).
        message: String,
        /// True when the attempt timed out (rather than failing to connect or being cut off).
        timeout: bool,
        /// True when no connection was made: the request never reached the server.
        connect: bool,
    },
    /// The site moved codebase but an explicit override pins the old one.
    #[error("{}", messages::codebase_moved(.old, .new))]
    CodebaseMoved {
        /// The codebase the override pins (e.g. `v2024_1/`).
        old: String,
        /// The codebase `login/companyinfo` now reports.
        new: String,
    },
    /// Configuration that cannot work (site, company id, http without opt-in, SSL required).
    #[error("{message}")]
    InvalidConfig {
        /// What is wrong and how to fix it, in words for the user.
        message: String,
    },
    /// A conditions value holds both `"` and `'`: use [`crate::conditions::safe_substring`] with
    /// `contains` and finish the comparison client-side.
    #[error("{}", messages::unquotable(.field))]
    Unquotable {
        /// The field whose value could not be quoted.
        field: String,
    },
    /// A field name in conditions that is not `name(/name)*`.
    #[error("{}", messages::bad_field(.field))]
    BadField {
        /// The field refused (also the field of a NaN or infinite number, or of an empty `in`
        /// list).
        field: String,
    },
    /// PATCH answered 200 but the returned record does not show the change (the "false 200").
    #[error("{}", messages::patch_not_applied(.path, .fields))]
    PatchNotApplied {
        /// The patched record's path, relative to `apis/3.0/`.
        path: String,
        /// The patch paths the returned record does not reflect.
        fields: Vec<String>,
    },
    /// The response body was not what we expected.
    #[error("{}", messages::decode(.path, .message))]
    Decode {
        /// The request's path (relative to `apis/3.0/`, or `login/companyinfo`), or
        /// `request body` when the body to send could not be serialised.
        path: String,
        /// The JSON error, or what the answer lacked (e.g. "the ticket has no id").
        message: String,
    },
    /// Any other status (405 and the like).
    #[error("{}", messages::other(*.status, .message))]
    Other {
        /// The HTTP status.
        status: u16,
        /// ConnectWise's message.
        message: String,
    },
}

impl CwError {
    /// Worth retrying the same request later (rate limit, server or transport trouble).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CwError::RateLimited { .. } | CwError::Server { .. } | CwError::Transport { .. }
        )
    }

    /// For a write: the server may or may not have applied it. A request that never reached
    /// the server (no connection) is not ambiguous; neither is any 4xx.
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            CwError::Server { .. } | CwError::Transport { connect: false, .. }
        )
    }

    /// For an ambiguous write: the server may still be working on it (we stopped waiting, or the
    /// connection was cut), so a look-up right away could miss a record about to appear. A 5xx
    /// answer means the server is done with the request.
    pub fn may_still_be_running(&self) -> bool {
        matches!(self, CwError::Transport { connect: false, .. })
    }

    /// HTTP status behind the error, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            CwError::Auth { .. } => Some(401),
            CwError::Permission { .. } => Some(403),
            CwError::NotFound { .. } => Some(404),
            CwError::Validation { status, .. } => Some(*status),
            CwError::RateLimited { .. } => Some(429),
            CwError::Server { status, .. } | CwError::Other { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A short machine-readable kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CwError::Auth { .. } => "auth",
            CwError::Permission { .. } => "permission",
            CwError::NotFound { .. } => "not_found",
            CwError::Validation { .. } => "validation",
            CwError::InvoicedPeriod { .. } => "invoiced_period",
            CwError::RateLimited { .. } => "rate_limited",
            CwError::Server { .. } => "server",
            CwError::Transport { .. } => "transport",
            CwError::CodebaseMoved { .. } => "codebase_moved",
            CwError::InvalidConfig { .. } => "invalid_config",
            CwError::Unquotable { .. } => "unquotable",
            CwError::BadField { .. } => "bad_field",
            CwError::PatchNotApplied { .. } => "patch_not_applied",
            CwError::Decode { .. } => "decode",
            CwError::Other { .. } => "other",
        }
    }

    pub(crate) fn invalid_config(message: impl Into<String>) -> Self {
        CwError::InvalidConfig {
            message: message.into(),
        }
    }
}

/// One item of an error body's `errors[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct FieldError {
    /// The item's code (e.g. `MissingRequiredField`, `ObjectExists`, `NotFound`).
    pub code: Option<String>,
    /// ConnectWise's explanation of the item.
    pub message: Option<String>,
    /// The kind of record refused (e.g. `ticket`).
    pub resource: Option<String>,
    /// The field refused (e.g. `status/id`).
    pub field: Option<String>,
}

/// The ConnectWise error body. The 429 body names its code `error` instead of `code`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorBody {
    pub code: Option<String>,
    pub error: Option<String>,
    pub message: Option<String>,
    pub errors: Option<Vec<FieldError>>,
}

impl ErrorBody {
    pub(crate) fn parse(body: &str) -> ErrorBody {
        serde_json::from_str::<ErrorBody>(body).unwrap_or_else(|_| ErrorBody {
            message: Some(snippet(body)),
            ..ErrorBody::default()
        })
    }

    fn code(&self) -> String {
        self.code
            .clone()
            .or_else(|| self.error.clone())
            .unwrap_or_default()
    }

    fn message(&self) -> String {
        self.message.clone().unwrap_or_default()
    }
}

/// Keep a bounded, single-line excerpt of a non-JSON body (an HTML error page, say).
fn snippet(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(200).collect()
}

/// "The field summary must be …" → `summary` (MaxLengthField comes without `errors[]`).
fn field_from_message(message: &str) -> Option<String> {
    let rest = message.strip_prefix("The field ")?;
    let name = rest.split_whitespace().next()?;
    Some(name.to_string())
}

/// Map a non-success answer to an error. `path` is relative to `apis/3.0/`, without the query.
pub(crate) fn from_response(
    method: &str,
    path: &str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> CwError {
    let parsed = ErrorBody::parse(body);
    let message = parsed.message();
    match status {
        401 => CwError::Auth { message },
        403 => {
            if message.to_ascii_lowercase().contains("ssl is required") {
                CwError::invalid_config(messages::ssl_required())
            } else {
                CwError::Permission {
                    function: crate::roles::function_for(method, path),
                    method: method.to_string(),
                    path: path.to_string(),
                    message,
                }
            }
        }
        404 => CwError::NotFound {
            path: path.to_string(),
            message,
        },
        429 => CwError::RateLimited {
            retry_after,
            message,
        },
        400 | 409 | 415 | 422 => {
            let errors = parsed.errors.clone().unwrap_or_default();
            let all_text = std::iter::once(message.as_str())
                .chain(errors.iter().filter_map(|e| e.message.as_deref()))
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_lowercase();
            if all_text.contains("invoiced") {
                return CwError::InvoicedPeriod { message };
            }
            let first = errors.first();
            let field = first
                .and_then(|e| e.field.clone())
                .or_else(|| field_from_message(&message));
            let code = first
                .and_then(|e| e.code.clone())
                .unwrap_or_else(|| parsed.code());
            let message = match first.and_then(|e| e.message.clone()) {
                Some(m) if !m.is_empty() => m,
                _ => message,
            };
            CwError::Validation {
                status,
                field,
                code,
                message,
                errors,
            }
        }
        500..=599 => CwError::Server { status, message },
        _ => CwError::Other { status, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(method: &str, path: &str, status: u16, body: &str) -> CwError {
        from_response(method, path, status, None, body)
    }

    #[test]
    fn reference_error_bodies() {
        let e = map(
            "POST",
            "company/configurations",
            400,
            r#"{"code":"InvalidObject","message":"configuration object is invalid","errors":[{"code":"MissingRequiredField","message":"id or deviceIdentifier is required.","resource":"configuration","field":"id"}]}"#,
        );
        assert!(
            matches!(&e, CwError::Validation { field: Some(f), code, .. } if f == "id" && code == "MissingRequiredField"),
            "{e:?}"
        );
        let e = map(
            "POST",
            "system/callbacks",
            400,
            r#"{"code":"InvalidObject","message":"callbackEntry object is invalid","errors":[{"code":"ObjectExists","message":"A matching callback entry already exists","resource":"callbackEntry","field":"objectId"}]}"#,
        );
        assert!(
            matches!(&e, CwError::Validation { field: Some(f), code, message, .. } if f == "objectId" && code == "ObjectExists" && message.contains("already exists"))
        );
        let e = map(
            "POST",
            "service/tickets",
            400,
            r#"{"code":"InvalidObject","message":"ticket object is invalid","errors":[{"code":"NotFound","message":"Service Status 17 not found for Service Board 21","resource":"ticket","field":"status/id"}]}"#,
        );
        assert!(
            matches!(&e, CwError::Validation { field: Some(f), code, .. } if f == "status/id" && code == "NotFound")
        );
        assert!(e.to_string().contains("status/id"));
        let e = map(
            "POST",
            "service/tickets",
            400,
            r#"{"code":"MaxLengthField","message":"The field summary must be a string with a maximum length of 100."}"#,
        );
        assert!(
            matches!(&e, CwError::Validation { field: Some(f), code, .. } if f == "summary" && code == "MaxLengthField"),
            "{e:?}"
        );
        let e = map(
            "GET",
            "company/companies",
            400,
            r#"{"code":"InvalidObject","message":"pageSize object is invalid","errors":[{"code":"OutOfRange","message":"The field pageSize must be between 1 and 100.","resource":"pageSize","field":"pageSize"}]}"#,
        );
        assert!(
            matches!(&e, CwError::Validation { field: Some(f), code, .. } if f == "pageSize" && code == "OutOfRange")
        );
        let e = map(
            "POST",
            "finance/agreements/1/additions",
            400,
            r#"{"code":"InvalidObject","message":"addition object is invalid","errors":[{"code":"InvalidObject","message":"Period has already been invoiced for this agreement.","field":"effectiveDate"}]}"#,
        );
        assert!(matches!(e, CwError::InvoicedPeriod { .. }));
    }

    #[test]
    fn auth_permission_and_others() {
        let e = map(
            "GET",
            "system/info",
            401,
            r#"{"code":"Unauthorized","message":"Unauthorized"}"#,
        );
        assert!(matches!(e, CwError::Auth { .. }));
        let e = map(
            "GET",
            "system/info",
            401,
            r#"{"code":"ConnectWiseApi","message":"UserNotAuthenticated"}"#,
        );
        assert!(matches!(&e, CwError::Auth { message } if message == "UserNotAuthenticated"));
        let e = map(
            "POST",
            "finance/agreements/1/additions",
            403,
            r#"{"code":"Security","message":"You do not have security permission to perform this action."}"#,
        );
        match &e {
            CwError::Permission {
                function,
                method,
                path,
                ..
            } => {
                assert_eq!(function.as_deref(), Some("Finance > Agreements: Add Level"));
                assert_eq!(
                    (method.as_str(), path.as_str()),
                    ("POST", "finance/agreements/1/additions")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("Finance > Agreements: Add Level"));
        let e = map(
            "GET",
            "system/info",
            403,
            r#"{"code":"Security","message":"SSL is required.","errors":null}"#,
        );
        assert!(matches!(e, CwError::InvalidConfig { .. }));
        let e = map(
            "GET",
            "service/tickets/1255787",
            404,
            r#"{"code":"NotFound","message":"Ticket 1255787 not found"}"#,
        );
        assert!(
            matches!(&e, CwError::NotFound { message, .. } if message == "Ticket 1255787 not found")
        );
        let e = from_response(
            "GET",
            "x",
            429,
            Some(Duration::from_secs(30)),
            r#"{"error":"ConnectWiseAPI","message":"Too many requests. Please try again in 30 seconds."}"#,
        );
        assert!(
            matches!(&e, CwError::RateLimited { retry_after: Some(d), message } if d.as_secs() == 30 && message.starts_with("Too many"))
        );
        assert!(e.is_transient());
        let e = map(
            "GET",
            "x",
            500,
            r#"{"code":"ConnectWiseApi","message":"A timeout has occured. Please try again."}"#,
        );
        assert!(
            matches!(&e, CwError::Server { status: 500, message } if message.contains("timeout"))
        );
        assert!(e.is_ambiguous());
        let e = map("GET", "x", 502, "<html><body>Bad   gateway</body></html>");
        assert!(
            matches!(&e, CwError::Server { status: 502, message } if message == "<html><body>Bad gateway</body></html>")
        );
        let e = map("DELETE", "x", 405, "");
        assert!(matches!(e, CwError::Other { status: 405, .. }));
    }
}
