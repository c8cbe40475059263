//! Typed errors. Display is plain English for MSP engineers and never carries a secret or token;
//! Sophos's `correlationId`/`requestId`/`trackingId` are kept because they identify the request on
//! Sophos's side when a ticket is opened with them.

use std::time::Duration;

use crate::messages;

/// Everything that can go wrong talking to Sophos Central.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SophosError {
    /// The token endpoint refused the credentials, or an API call stayed 401 after signing in again.
    #[error(
        "{message}{}{}",
        paren("code", code),
        paren("tracking id", tracking_id)
    )]
    Auth {
        /// What went wrong, in plain English: credentials rejected, no token, or token refused.
        message: String,
        /// `errorCode` of the token endpoint (e.g. `oauth.invalid_client_secret`) or `error` of the API.
        code: Option<String>,
        /// Sophos's `trackingId` (token endpoint) or `correlationId` (API); `None` if neither.
        tracking_id: Option<String>,
    },
    /// whoami says the credentials are not partner credentials.
    #[error("{} (they are {id_type} credentials)", messages::NOT_PARTNER)]
    NotPartner {
        /// whoami's `idType` (e.g. `organization`, `tenant`), or `unknown` when it sent none.
        id_type: String,
    },
    /// 403 on a tenant-scoped call or a tenant lookup: record it per customer and carry on.
    #[error(
        "{} [tenant {tenant_id}]{}",
        messages::FORBIDDEN_TENANT,
        ids(correlation_id, request_id)
    )]
    ForbiddenTenant {
        /// The tenant id (`X-Tenant-ID`) the refused call was about.
        tenant_id: String,
        /// Sophos's `correlationId` from the error body, when it sent one.
        correlation_id: Option<String>,
        /// Sophos's `requestId` from the error body, when it sent one.
        request_id: Option<String>,
    },
    /// 403 on a partner-scoped call not about one tenant.
    #[error(
        "{}{}{}",
        messages::FORBIDDEN,
        paren("message", message),
        ids(correlation_id, request_id)
    )]
    Forbidden {
        /// The `message` of Sophos's error body (e.g. `Access is denied`), when it sent one.
        message: Option<String>,
        /// Sophos's `correlationId` from the error body, when it sent one.
        correlation_id: Option<String>,
        /// Sophos's `requestId` from the error body, when it sent one.
        request_id: Option<String>,
    },
    /// 404: unknown resource (billing months without data and gone alerts are handled before this).
    #[error(
        "{}: {what}{}{}",
        messages::NOT_FOUND,
        paren("code", error),
        ids(correlation_id, request_id)
    )]
    NotFound {
        /// What was asked for, e.g. `tenant 123` or `billing usage 2024-03 (next page)`.
        what: String,
        /// The `error` code of Sophos's body (e.g. `notFound`), when it sent one.
        error: Option<String>,
        /// Sophos's `correlationId` from the error body, when it sent one.
        correlation_id: Option<String>,
        /// Sophos's `requestId` from the error body, when it sent one.
        request_id: Option<String>,
    },
    /// 429 that outlasted the retries (or asked for a longer wait than we accept).
    #[error(
        "{}{}{}",
        messages::RATE_LIMITED,
        retry_after_text(retry_after),
        ids(correlation_id, request_id)
    )]
    RateLimited {
        /// The wait the last 429's `Retry-After` asked for; `None` when it sent none.
        retry_after: Option<Duration>,
        /// Sophos's `correlationId` from the error body, when it sent one.
        correlation_id: Option<String>,
        /// Sophos's `requestId` from the error body, when it sent one.
        request_id: Option<String>,
    },
    /// 5xx (after retries) or an unexpected status.
    #[error(
        "{} (HTTP {status}){}{}{}",
        messages::SERVER,
        paren("code", error),
        paren("message", message),
        ids(correlation_id, request_id)
    )]
    Server {
        /// The HTTP status of the last answer.
        status: u16,
        /// The `error` code of Sophos's body (e.g. `internalServerError`), when it sent one.
        error: Option<String>,
        /// The `message` of Sophos's body, when it sent one.
        message: Option<String>,
        /// Sophos's `correlationId` from the error body, when it sent one.
        correlation_id: Option<String>,
        /// Sophos's `requestId` from the error body, when it sent one.
        request_id: Option<String>,
    },
    /// 400/409/422…: the request itself is wrong (e.g. an action not in `allowedActions`).
    #[error(
        "{} (HTTP {status}){}{}{}",
        messages::BAD_REQUEST,
        paren("code", error),
        paren("message", message),
        ids(correlation_id, request_id)
    )]
    BadRequest {
        /// The HTTP status of the answer.
        status: u16,
        /// The `error` code of Sophos's body (e.g. `badRequest`), when it sent one.
        error: Option<String>,
        /// The `message` of Sophos's body, when it sent one.
        message: Option<String>,
        /// Sophos's `correlationId` from the error body, when it sent one.
        correlation_id: Option<String>,
        /// Sophos's `requestId` from the error body, when it sent one.
        request_id: Option<String>,
    },
    /// Connection, TLS or timeout failure (after retries).
    #[error("{}: {message}", if *timeout { messages::TIMEOUT } else { messages::TRANSPORT })]
    Transport {
        /// reqwest's error text with its source chain; it carries no token or secret.
        message: String,
        /// The request timed out (rather than failing to connect or on TLS).
        timeout: bool,
    },
    /// A 2xx body that does not have the expected shape.
    #[error("{} ({what}): {message}", messages::DECODE)]
    Decode {
        /// What was being read, e.g. `token response` or `page keys`.
        what: String,
        /// Why it could not be read: the JSON error, or the repeated page key.
        message: String,
    },
    /// Bad settings or arguments, detected before any request.
    #[error("{}: {message}", messages::INVALID_CONFIG)]
    InvalidConfig {
        /// What is wrong, e.g. the billing month out of range or a URL that is not http(s).
        message: String,
    },
}

impl SophosError {
    /// Sophos's correlation id (or token tracking id), when the server gave one.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            SophosError::Auth { tracking_id, .. } => tracking_id.as_deref(),
            SophosError::ForbiddenTenant { correlation_id, .. }
            | SophosError::Forbidden { correlation_id, .. }
            | SophosError::NotFound { correlation_id, .. }
            | SophosError::RateLimited { correlation_id, .. }
            | SophosError::Server { correlation_id, .. }
            | SophosError::BadRequest { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }

    /// Sophos's request id, when the server gave one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            SophosError::ForbiddenTenant { request_id, .. }
            | SophosError::Forbidden { request_id, .. }
            | SophosError::NotFound { request_id, .. }
            | SophosError::RateLimited { request_id, .. }
            | SophosError::Server { request_id, .. }
            | SophosError::BadRequest { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Whether trying the same call later may succeed (rate limits, server and network trouble).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SophosError::RateLimited { .. }
                | SophosError::Server { .. }
                | SophosError::Transport { .. }
        )
    }

    /// Whether the problem is the connection's credentials (stop the whole run, tell the user).
    pub fn is_credentials_problem(&self) -> bool {
        matches!(
            self,
            SophosError::Auth { .. } | SophosError::NotPartner { .. }
        )
    }

    pub(crate) fn invalid_config(message: impl Into<String>) -> Self {
        SophosError::InvalidConfig {
            message: message.into(),
        }
    }

    pub(crate) fn decode(what: impl Into<String>, message: impl Into<String>) -> Self {
        SophosError::Decode {
            what: what.into(),
            message: message.into(),
        }
    }
}

fn paren(label: &str, value: &Option<String>) -> String {
    match value {
        Some(v) if !v.is_empty() => format!(" ({label}: {v})"),
        _ => String::new(),
    }
}

fn ids(correlation_id: &Option<String>, request_id: &Option<String>) -> String {
    match (correlation_id, request_id) {
        (Some(c), Some(r)) => format!(" [correlation id {c}, request id {r}]"),
        (Some(c), None) => format!(" [correlation id {c}]"),
        (None, Some(r)) => format!(" [request id {r}]"),
        (None, None) => String::new(),
    }
}

fn retry_after_text(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (asked to wait {} s)", d.as_secs_f64().ceil() as u64),
        None => String::new(),
    }
}
