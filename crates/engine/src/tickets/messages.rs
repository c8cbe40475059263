//! User-facing text of ticket sync (plain English, one place, so a translation can follow).

use crate::ids::{BillingType, TicketId};

/// Advice for a tenant whose alerts Sophos refuses (403).
pub fn forbidden_advice(tenant: &str, billing_type: Option<&BillingType>) -> String {
    match billing_type {
        Some(BillingType::Trial) => format!(
            "Sophos does not let partners read the alerts of trial customer \"{tenant}\". Tickets start once the \
             customer converts (Sophos Central Partner > Customers). Ticket sync will try again later."
        ),
        _ => format!(
            "Sophos refused access to the alerts of \"{tenant}\". For a term customer, turn on Partner Assistance \
             (Sophos Central Partner > Customers > {tenant} > Partner Assistance); a trial customer cannot be read \
             until it converts. Ticket sync will try again later."
        ),
    }
}

/// The error recorded for a tenant whose alerts Sophos refuses (403).
pub const FORBIDDEN_ERROR: &str = "no access to this customer's alerts (403)";

/// Advice for skipped alerts of an unmapped tenant.
pub fn unmapped_advice(tenant: &str) -> String {
    format!(
        "\"{tenant}\" is not mapped to a ConnectWise company, so its alerts were skipped. Map it \
         (`centralbridge map set --tenant ...`) or set a fallback company \
         (`centralbridge tickets settings set --fallback-company ...`)."
    )
}

/// The error of an unmapped tenant, without a fallback company, whose alerts were skipped.
pub fn unmapped_error(n: u64) -> String {
    format!("{n} alert(s) skipped: customer not mapped and no fallback company")
}

/// The error when ticket sync runs before a service board is chosen.
pub fn not_configured() -> String {
    "Ticket sync is not set up yet: choose at least a ConnectWise board, e.g. `centralbridge tickets settings set \
     --board \"Security Alerts\" --auto` (fills the statuses and priorities from the board)."
        .to_owned()
}

/// The warning when ConnectWise refuses to close the ticket of cleared alerts.
pub fn close_permission_warning(status: &str, fallback: Option<&str>) -> String {
    match fallback {
        Some(f) => format!(
            "The ConnectWise API member may not close tickets (Service Desk > Close Service Tickets: Edit Level), so \
             cleared alerts moved their tickets to \"{f}\" instead of \"{status}\". Grant that level in System > \
             Security Roles to close them."
        ),
        None => format!(
            "The ConnectWise API member may not close tickets (Service Desk > Close Service Tickets: Edit Level) and \
             no open \"resolved\" status is set, so tickets of cleared alerts stayed in their status instead of \
             \"{status}\". Grant that level in System > Security Roles, or choose one with \
             `centralbridge tickets settings set --resolved-status ...`."
        ),
    }
}

/// The warning when a closed ticket's alert cannot be acknowledged in Sophos.
pub fn ack_not_allowed(alert_id: &str, ticket_id: TicketId) -> String {
    format!(
        "Ticket #{ticket_id} was closed in ConnectWise, but Sophos does not allow acknowledging alert {alert_id}; \
         acknowledge it in Sophos Central if it is resolved."
    )
}

/// The message sent with `acknowledge`.
pub fn ack_message(ticket_id: TicketId) -> String {
    format!("Ticket {ticket_id} closed in ConnectWise")
}

/// The advice for a tenant whose cycle failed.
pub fn tenant_failed_advice() -> String {
    "Ticket sync will try this customer again in the next cycle; run `centralbridge doctor` if it keeps failing."
        .to_owned()
}

// Ticket and note texts (they end up in ConnectWise, read by the MSP's technicians).

/// The word that starts the summary of a ticket for an unmapped tenant.
pub const UNMAPPED_PREFIX: &str = "Unmapped";

/// The note added to the group's open ticket when the same problem is reported again.
pub fn repeat_note(
    alert_id: &str,
    severity: &str,
    event: &str,
    device: &str,
    raised: &str,
    description: &str,
) -> String {
    format!(
        "The same problem was reported again by Sophos Central.\n\nEvent: {event}\nSeverity: {severity}\nDevice: \
         {device}\nRaised: {raised}\nDescription: {description}\nSophos alert id: {alert_id}"
    )
}

/// The one note for several repeats of a problem that arrived in the same cycle.
pub fn repeats_note(count: usize, parts: &str) -> String {
    format!("Sophos Central reported the same problem {count} more times.\n\n{parts}")
}

/// The note added to a ticket reopened because its problem came back.
pub fn reopen_note(alert_id: &str, event: &str, device: &str, raised: &str) -> String {
    format!(
        "Reopened: the problem came back in Sophos Central.\n\nEvent: {event}\nDevice: {device}\nRaised: \
         {raised}\nSophos alert id: {alert_id}"
    )
}

/// The resolution note written when every alert of a ticket left Sophos.
pub fn resolution_note(alert_ids: &[String]) -> String {
    format!(
        "Resolved in Sophos Central: the alert is no longer open there (cleared or acknowledged).\n\nSophos alert \
         id(s): {}",
        alert_ids.join(", ")
    )
}

/// The description line naming the group's earlier ticket on a recurrence.
pub fn previous_ticket_line(previous: TicketId) -> String {
    format!("This problem happened before: see ticket #{previous}.")
}

/// One line for the run row and the service log.
pub fn run_summary(r: &super::CycleReport) -> String {
    let t = &r.totals;
    format!(
        "{} alerts read: {} tickets opened, {} notes added, {} resolved, {} customers failed",
        t.listed,
        t.created,
        t.noted,
        t.resolved,
        r.failed()
    )
}

/// A ticket found by its alert id names no company to record it under.
pub fn ticket_without_company(ticket_id: TicketId) -> String {
    format!(
        "ConnectWise ticket #{ticket_id} (found by its Sophos alert id) names no company; give it the customer's company in ConnectWise, then sync again."
    )
}

/// The note on a ticket closed as the duplicate of another for the same alert.
pub fn duplicate_note(alert_id: &str, kept: TicketId) -> String {
    format!(
        "Duplicate of ticket #{kept}: both were opened for the same Sophos Central alert {alert_id}. \
         Closed by centralbridge (sync tickets --repair); follow the alert on #{kept}."
    )
}

/// Several tickets for one alert, seen while opening tickets.
pub fn duplicate_tickets(alert_id: &str, ids: &[TicketId]) -> String {
    let list = ids
        .iter()
        .map(|i| format!("#{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "alert {alert_id} is on several ConnectWise tickets ({list}); the oldest is kept. Fix: \
         `centralbridge sync tickets --once --repair --dry-run` lists every such alert, and \
         `--repair` closes the extra tickets with a note"
    )
}

/// The problem of a duplicate repair that has no clear status to close the extra tickets with.
pub fn duplicate_no_close_status() -> String {
    "No clear status is set, so the extra tickets were left open. Fix: `centralbridge tickets \
     settings set --clear-status \"Closed\"`, then run the repair again"
        .to_owned()
}

/// The problem of a duplicate repair that ConnectWise would not let close the extra tickets.
pub fn duplicate_cannot_close() -> String {
    "ConnectWise refused to close the extra tickets. Fix: give the API member's security role \
     \"Close Service Tickets\" (System > Security Roles > Service Desk), then run the repair again"
        .to_owned()
}
