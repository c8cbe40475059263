//! Ticket sync: Sophos Central alerts into ConnectWise service tickets, exactly once.
//!
//! - [`settings`]: board, statuses, priorities, filters, fallback company (checked against ConnectWise).
//! - [`plan`]: the pure planner (new ticket / note on the group's ticket / resolve / acknowledge /
//!   reopen-or-new / skip).
//! - [`sync`]: one cycle (read -> plan -> apply with a journal in the store).
//! - [`content`]: summary, description and notes.
//!
//! Entry points for the CLI, the service and the dashboard: [`run_cycle`], [`load_settings`],
//! [`update_settings`], [`choices`], [`recent_links`].

pub mod alert;
pub mod content;
pub mod messages;
pub mod plan;
pub mod repair;
pub mod settings;
pub mod sync;

use serde::Serialize;

pub use alert::{AlertFacts, TicketSeverity};
pub use plan::{
    Destination, MAX_REPEATS_PER_WRITE, Op, Repeat, SkipReason, TenantTarget, TenantView,
    TicketDraft, TicketRef, plan_tenant,
};
pub use repair::{Duplicate, repair_duplicates};
pub use settings::{
    Choices, Pick, Priorities, Recurrence, SettingsInput, TicketSettings, choices, load_settings,
    resolve_input, save_settings, update_settings,
};
pub use sync::{
    ApiCalls, Counts, Created, CycleReport, TenantReport, load_targets, run_cycle, run_cycle_for,
};

use crate::store::{AlertLink, OwnedTicket, Store, StoreError, TicketStore as _};

/// The job name in `sync_runs`, `customer_status` and leases.
pub const JOB: &str = "tickets";

/// Why ticket sync (or a settings change) failed. Display is plain English.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// Ticket sync has no service board chosen yet, so there is nowhere to open tickets.
    #[error("{}", messages::not_configured())]
    NotConfigured,
    /// A setting is wrong (not in ConnectWise, malformed or unreadable), or a ticket found in
    /// ConnectWise names no company; the text says what to do.
    #[error("{0}")]
    Settings(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A ConnectWise call failed.
    #[error(transparent)]
    ConnectWise(#[from] connectwise::CwError),
    /// A Sophos Central call failed.
    #[error(transparent)]
    Sophos(#[from] sophos::SophosError),
    /// A stored connection is missing or unusable.
    #[error(transparent)]
    Connection(#[from] crate::connections::ConnectionError),
    /// The test hook stopped the cycle (as a crash would).
    #[error("ticket sync was interrupted")]
    Interrupted,
    /// A stop was asked (Ctrl-C, shutdown, lost lease) before this tenant's next operation.
    #[error("ticket sync was stopped on request")]
    Stopped,
}

/// One alert and its ticket, for `tickets list` and the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct LinkRow {
    /// The alert as recorded: tenant, group, state, summary, ticket id.
    #[serde(flatten)]
    pub link: AlertLink,
    /// Our record of the alert's ticket; `None` while no ticket is recorded for it.
    pub ticket: Option<OwnedTicket>,
}

/// The newest alert -> ticket links (of one tenant or all), newest first.
pub async fn recent_links(
    store: &Store,
    tenant_id: Option<&str>,
    limit: u32,
) -> Result<Vec<LinkRow>, TicketError> {
    let mut out = Vec::new();
    for link in store.recent_alert_links(tenant_id, limit).await? {
        let ticket = match link.ticket_id {
            Some(t) => store.owned_ticket(t).await?,
            None => None,
        };
        out.push(LinkRow { link, ticket });
    }
    Ok(out)
}
