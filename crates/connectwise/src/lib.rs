//! Typed client for the ConnectWise PSA (Manage) REST API, as used by centralbridge.
//!
//! One [`Client`] per site: it discovers the codebase (and rediscovers it after a 404 from a moved
//! codebase), sends the auth and `clientId` headers, limits concurrency and rate, retries 429 (honouring
//! `Retry-After`), 5xx and transport errors (never a POST blindly: see
//! [`Client::create_with_lookup`]), streams lists page by page, and maps every failure to [`CwError`].

mod api;
mod client;
pub mod conditions;
pub mod config;
pub mod error;
mod messages;
pub mod models;
pub mod paging;
pub mod probe;
pub mod roles;
mod verify;

pub use api::{
    ADDITIONS_REPORT, AdditionState, AgreementSummary, BulkSupport, CatalogItemSummary, Choice,
    ClosedTicket, CompanySummary, EXTERNAL_REF_BATCH, NewAddition, NewCatalogItem, NewTicket,
    NoteKind, OpenedTicket, ProcurementSetup, ReportQuery, StatusChoice, TicketSeverity,
    TicketState,
};
pub use client::{Client, CwStream, Stats, to_body};
pub use clientkit::RateLimit;
pub use conditions::{CondValue, Conditions, Query};
pub use config::{CwConfig, DEFAULT_REQUESTS_PER_MINUTE, Note, RetryPolicy, normalize_site};
pub use error::{CwError, FieldError};
pub use secrecy::SecretString;
