//! Customer mapping: which Sophos tenant is which ConnectWise company, and which agreement its usage
//! is billed on.
//!
//! - [`refresh`] reads all tenants, companies and agreements into the store (streamed, in batches).
//! - [`set_mapping`], [`clear_mapping`], [`set_switches`] change mappings under the one-to-one rules
//!   (a tenant maps to one company; a company and an agreement serve one tenant) and write the audit log.
//! - [`suggest`] scores candidate companies for unmapped tenants; [`accept`] confirms the unambiguous ones.
//! - [`list_customers`] shows every tenant with its mapping and warnings; [`export_csv`]/[`import_csv`].

mod csv_io;
mod list;
pub mod messages;
pub mod normalize;
mod refresh;
mod rules;
mod suggest;

pub use csv_io::{
    CSV_COLUMNS, ImportOptions, ImportOutcome, RowProblem, export_csv, import_csv, import_csv_with,
};
pub use list::{
    AgreementOption, CompanyHit, CustomerFilter, CustomerRow, Warning, WarningKind,
    agreements_for_company, list_customers, search_companies,
};
pub use refresh::{
    KindSummary, Progress, REFRESH_INTERVAL, REFRESH_JOB, RefreshOptions, RefreshSummary,
    last_refresh, refresh, refresh_agreements, refresh_companies, refresh_due, refresh_tenants,
};
pub use rules::{
    MappingChange, MappingInput, Refusal, clear_mapping, resolve_company, resolve_tenant,
    set_mapping, set_switches,
};
pub use suggest::{
    AcceptOptions, AcceptOutcome, AcceptSkip, Accepted, Candidate, MatchReason, SuggestOptions,
    Suggestion, accept, suggest,
};

use crate::store::StoreError;

/// Why a mapping operation did not happen. Display is the message for the engineer.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A one-to-one rule or a state check refused the change.
    #[error("{0}")]
    Refused(Refusal),
    /// A tenant, company or agreement named by the user was not found (or not uniquely).
    #[error("{0}")]
    NotFound(String),
    /// A CSV import had bad rows; nothing was applied.
    #[error("{}\n{}", messages::import_rejected(.0.len()), RowProblem::render_all(.0))]
    ImportRejected(Vec<RowProblem>),
    /// The CSV cannot be read or written, or its header lacks columns; nothing was applied.
    #[error("{0}")]
    Csv(String),
    /// Another writer took the company or agreement at the same moment; nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// A ConnectWise call failed.
    #[error(transparent)]
    ConnectWise(#[from] connectwise::CwError),
    /// A Sophos call failed.
    #[error(transparent)]
    Sophos(#[from] sophos::SophosError),
}

impl MappingError {
    /// True when the user asked for something invalid (CLI exit 2), not a failure while working.
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            MappingError::Refused(_)
                | MappingError::NotFound(_)
                | MappingError::ImportRejected(_)
                | MappingError::Csv(_)
        )
    }
}

/// `tenant:<id>`, the audit subject of a mapping.
pub fn audit_subject(tenant_id: &str) -> String {
    format!("tenant:{tenant_id}")
}
