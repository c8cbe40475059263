//! Typed calls per resource, as methods on [`crate::Client`].

mod bulk;
mod companies;
mod finance;
mod procurement;
mod service;
mod system;

pub use bulk::{ADDITIONS_REPORT, BulkSupport};
pub use companies::CompanySummary;
pub use finance::{AdditionState, AgreementSummary, NewAddition};
pub use procurement::{CatalogItemSummary, NewCatalogItem, ProcurementSetup};
pub use service::{Choice, StatusChoice};
pub use system::ReportQuery;
pub use tickets::{
    ClosedTicket, EXTERNAL_REF_BATCH, NewTicket, NoteKind, OpenedTicket, TicketSeverity,
    TicketState,
};
mod tickets;
