//! What a dashboard handler can fail with (in the manner of zero2prod's per-route error enums):
//! handlers return `Result<Response, DashboardError>` and use `?`; the error becomes the page's
//! error line and a log line with its source, in one place.

use axum::response::{IntoResponse, Response};
use engine::connections::ConnectionError;
use engine::job::StartError;
use engine::mapping::MappingError;
use engine::store::StoreError;
use engine::tickets::TicketError;
use engine::usage::UsageError;

use super::fail;
use crate::service::messages;

#[derive(Debug, thiserror::Error)]
pub(crate) enum DashboardError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Tickets(#[from] TicketError),
    /// The job's lease is held: says by whom and since when.
    #[error("{}", job_start(.0))]
    Job(#[from] StartError),
    /// What the request names does not exist (any more).
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be done as asked; the text says why and what to do.
    #[error("{0}")]
    Refused(String),
}

fn job_start(e: &StartError) -> String {
    match e {
        StartError::Busy(b) => messages::job_busy(b),
        other => other.to_string(),
    }
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        // Display forms only, as on the page: a Debug form could carry more than that.
        let source = std::error::Error::source(&self).map(|s| s.to_string());
        tracing::warn!(error = %self, source, "dashboard request failed");
        // htmx swaps only 2xx answers: the error line is an ordinary fragment.
        fail(&self)
    }
}
