//! The tickets area: which Sophos alert became (or was noted on) which ConnectWise ticket, the tickets
//! we own, and one polling cursor per tenant.
//!
//! The `state` columns are the journal of ticket sync: a row is written in its "…ing" state before
//! the vendor call and moved on after it, so a crash in between is repaired by a lookup on the next
//! run instead of a second create.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use crate::ids::{CompanyId, TenantId, TicketId};

use super::{Result, StoreError, from_ms, store_area, to_ms};

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $var:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($(#[$vm])* $var),* }
        impl $name {
            /// The text kept in the store's column for this value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),* }
            }
            /// Reads the stored text back; an unknown value is [`StoreError::Corrupt`].
            pub fn parse(text: &str) -> Result<Self> {
                match text {
                    $($s => Ok($name::$var),)*
                    other => Err(StoreError::Corrupt { what: $what.into(), reason: format!("unknown value `{other}`") }),
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

text_enum!(
    /// How an alert relates to its ticket.
    AlertRole, "ticket_alerts.role" {
        /// It created the ticket: the ticket's `externalXRef` is this alert id.
        Primary = "primary",
        /// A repeat of the same problem, added as a note to the group's ticket.
        Repeat = "repeat",
    }
);

text_enum!(
    /// Where the ConnectWise side of an alert stands (the journal).
    LinkState, "ticket_alerts.state" {
        /// A ticket create was (maybe) sent; look the alert id up before any retry.
        Creating = "creating",
        /// A note on `ticket_id` was (maybe) sent; look for it before any retry.
        Noting = "noting",
        /// Done: the ticket or note exists.
        Linked = "linked",
    }
);

text_enum!(
    /// Where the Sophos side of an alert stands.
    AlertState, "ticket_alerts.alert_state" {
        /// Still listed by Sophos.
        Open = "open",
        /// Gone from Sophos (cleared or acknowledged there).
        Cleared = "cleared",
        /// We (maybe) sent `acknowledge` because its ticket was closed in ConnectWise.
        Acknowledging = "acknowledging",
        /// Sophos accepted our `acknowledge`.
        Acknowledged = "acknowledged",
    }
);

text_enum!(
    /// Where a ticket we own stands.
    TicketState, "ticket_tickets.state" {
        /// Created (or reopened) and not yet resolved or closed.
        Open = "open",
        /// Resolution note and status change (maybe) sent.
        Resolving = "resolving",
        /// Moved to the clear status (an open "resolved" status, or closed by us).
        Resolved = "resolved",
        /// Reopen (status change + note) (maybe) sent.
        Reopening = "reopening",
        /// Closed (by a person in ConnectWise, or by us with a closed clear status).
        Closed = "closed",
    }
);

/// One Sophos alert that ticket sync acted on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertLink {
    /// Sophos's id of the alert (the ticket's `externalXRef` when it is the primary).
    pub alert_id: String,
    /// The Sophos tenant that raised it.
    pub tenant_id: TenantId,
    /// tenant + device + alert type: repeats of one problem share it.
    pub group_key: String,
    /// The ConnectWise ticket it created or was noted on; `None` while a create is unconfirmed.
    pub ticket_id: Option<TicketId>,
    /// Whether it created the ticket or was noted on it.
    pub role: AlertRole,
    /// Where the ConnectWise side stands.
    pub state: LinkState,
    /// Where the Sophos side stands.
    pub alert_state: AlertState,
    /// Sophos's severity as sent (`low`, `medium`, `high`), or `unknown` when none.
    pub severity: String,
    /// Sophos's alert type; empty when Sophos sent none.
    pub alert_type: String,
    /// The affected device's name; `None` when the alert names no device.
    pub device_name: Option<String>,
    /// The one-line summary made for the alert's ticket or note.
    pub summary: String,
    /// When Sophos says the alert was raised; `None` when it did not say.
    pub raised_at: Option<Timestamp>,
    /// When ticket sync first recorded the alert.
    pub created_at: Timestamp,
    /// When the record last changed.
    pub updated_at: Timestamp,
    /// When ticket sync saw the alert (set when the record is first written).
    pub last_seen_at: Timestamp,
    /// When we saw it leave Sophos; `None` while it is open.
    pub cleared_at: Option<Timestamp>,
    /// When Sophos accepted our `acknowledge`; `None` if we never acknowledged it.
    pub acknowledged_at: Option<Timestamp>,
}

/// A ConnectWise ticket created by ticket sync.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwnedTicket {
    /// ConnectWise's record id of the ticket.
    pub ticket_id: TicketId,
    /// The Sophos tenant whose alerts it is for.
    pub tenant_id: TenantId,
    /// The group (tenant + device + alert type) the ticket is for.
    pub group_key: String,
    /// The ConnectWise company the ticket is on.
    pub company_id: CompanyId,
    /// The alert that created it (its `externalXRef`).
    pub primary_alert_id: String,
    /// The group's earlier (closed or resolved) ticket this one follows up.
    pub previous_ticket_id: Option<TicketId>,
    /// Where the ticket stands.
    pub state: TicketState,
    /// The ticket's summary as we sent it.
    pub summary: String,
    /// When ticket sync recorded it.
    pub created_at: Timestamp,
    /// When the record last changed.
    pub updated_at: Timestamp,
    /// When we moved it to the clear status; `None` if not (or since reopened).
    pub resolved_at: Option<Timestamp>,
    /// When it was closed, by a person or by us; `None` while not closed.
    pub closed_at: Option<Timestamp>,
}

/// Per-tenant polling state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketCursor {
    /// The Sophos tenant polled.
    pub tenant_id: TenantId,
    /// The newest `raisedAt` seen; the next listing starts a little before it.
    pub last_raised_at: Option<Timestamp>,
    /// When its alerts were last listed (or refused); `None` if never.
    pub last_poll_at: Option<Timestamp>,
    /// Sophos refused this tenant's alerts (403).
    pub forbidden: bool,
    /// What the engineer should do about a forbidden tenant; `None` after a good poll.
    pub advice: Option<String>,
    /// Do not poll before this (forbidden or failing tenants are retried later).
    pub next_retry_at: Option<Timestamp>,
    /// Why Sophos refused the tenant's alerts; `None` after a good poll.
    pub last_error: Option<String>,
}

impl TicketCursor {
    /// The cursor of a tenant never polled.
    pub fn new(tenant_id: TenantId) -> Self {
        TicketCursor {
            tenant_id,
            last_raised_at: None,
            last_poll_at: None,
            forbidden: false,
            advice: None,
            next_retry_at: None,
            last_error: None,
        }
    }
}

const LINK_COLS: &str = "alert_id, tenant_id, group_key, ticket_id, role, state, alert_state, severity, \
     alert_type, device_name, summary, raised_at, created_at, updated_at, last_seen_at, cleared_at, \
     acknowledged_at";
const TICKET_COLS: &str = "ticket_id, tenant_id, group_key, company_id, primary_alert_id, previous_ticket_id, \
     state, summary, created_at, updated_at, resolved_at, closed_at";

fn opt_ts(v: Option<i64>) -> Result<Option<Timestamp>> {
    v.map(from_ms).transpose()
}

fn link_from_row<R>(r: &R) -> Result<AlertLink>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let role: String = r.try_get("role")?;
    let state: String = r.try_get("state")?;
    let alert_state: String = r.try_get("alert_state")?;
    Ok(AlertLink {
        alert_id: r.try_get("alert_id")?,
        tenant_id: r.try_get("tenant_id")?,
        group_key: r.try_get("group_key")?,
        ticket_id: r.try_get("ticket_id")?,
        role: AlertRole::parse(&role)?,
        state: LinkState::parse(&state)?,
        alert_state: AlertState::parse(&alert_state)?,
        severity: r.try_get("severity")?,
        alert_type: r.try_get("alert_type")?,
        device_name: r.try_get("device_name")?,
        summary: r.try_get("summary")?,
        raised_at: opt_ts(r.try_get("raised_at")?)?,
        created_at: from_ms(r.try_get("created_at")?)?,
        updated_at: from_ms(r.try_get("updated_at")?)?,
        last_seen_at: from_ms(r.try_get("last_seen_at")?)?,
        cleared_at: opt_ts(r.try_get("cleared_at")?)?,
        acknowledged_at: opt_ts(r.try_get("acknowledged_at")?)?,
    })
}

fn ticket_from_row<R>(r: &R) -> Result<OwnedTicket>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = r.try_get("state")?;
    Ok(OwnedTicket {
        ticket_id: r.try_get("ticket_id")?,
        tenant_id: r.try_get("tenant_id")?,
        group_key: r.try_get("group_key")?,
        company_id: r.try_get("company_id")?,
        primary_alert_id: r.try_get("primary_alert_id")?,
        previous_ticket_id: r.try_get("previous_ticket_id")?,
        state: TicketState::parse(&state)?,
        summary: r.try_get("summary")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        updated_at: from_ms(r.try_get("updated_at")?)?,
        resolved_at: opt_ts(r.try_get("resolved_at")?)?,
        closed_at: opt_ts(r.try_get("closed_at")?)?,
    })
}

store_area! {
    /// Alert links, owned tickets and per-tenant cursors of ticket sync.
    pub trait TicketStore {
        /// Inserts or replaces one alert link.
        async fn put_alert_link(&self, link: &AlertLink) -> Result<()> {
            sqlx::query(
                "INSERT INTO ticket_alerts (alert_id, tenant_id, group_key, ticket_id, role, state, \
                 alert_state, severity, alert_type, device_name, summary, raised_at, created_at, updated_at, \
                 last_seen_at, cleared_at, acknowledged_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
                 ON CONFLICT (alert_id) DO UPDATE SET tenant_id = excluded.tenant_id, \
                 group_key = excluded.group_key, ticket_id = excluded.ticket_id, role = excluded.role, \
                 state = excluded.state, alert_state = excluded.alert_state, severity = excluded.severity, \
                 alert_type = excluded.alert_type, device_name = excluded.device_name, \
                 summary = excluded.summary, raised_at = excluded.raised_at, \
                 updated_at = excluded.updated_at, last_seen_at = excluded.last_seen_at, \
                 cleared_at = excluded.cleared_at, acknowledged_at = excluded.acknowledged_at",
            )
            .bind(&link.alert_id)
            .bind(&link.tenant_id)
            .bind(&link.group_key)
            .bind(link.ticket_id)
            .bind(link.role.as_str())
            .bind(link.state.as_str())
            .bind(link.alert_state.as_str())
            .bind(&link.severity)
            .bind(&link.alert_type)
            .bind(link.device_name.as_deref())
            .bind(&link.summary)
            .bind(link.raised_at.map(to_ms))
            .bind(to_ms(link.created_at))
            .bind(to_ms(link.updated_at))
            .bind(to_ms(link.last_seen_at))
            .bind(link.cleared_at.map(to_ms))
            .bind(link.acknowledged_at.map(to_ms))
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        /// One alert link.
        async fn alert_link(&self, alert_id: &str) -> Result<Option<AlertLink>> {
            let sql = format!("SELECT {LINK_COLS} FROM ticket_alerts WHERE alert_id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(alert_id).fetch_optional(&self.pool).await?;
            row.as_ref().map(link_from_row).transpose()
        }

        /// A tenant's links that still need attention: alert open in Sophos, or a vendor call in flight.
        async fn active_alert_links(&self, tenant_id: &str) -> Result<Vec<AlertLink>> {
            let sql = format!(
                "SELECT {LINK_COLS} FROM ticket_alerts WHERE tenant_id = $1 AND \
                 (alert_state IN ('open', 'acknowledging') OR state <> 'linked') ORDER BY created_at, alert_id"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant_id).fetch_all(&self.pool).await?;
            rows.iter().map(link_from_row).collect()
        }

        /// Links in one journal state, of every tenant (e.g. creates in flight, whose ticket may exist in
        /// ConnectWise but is not recorded yet).
        async fn alert_links_in_state(&self, state: LinkState) -> Result<Vec<AlertLink>> {
            let sql = format!("SELECT {LINK_COLS} FROM ticket_alerts WHERE state = $1 ORDER BY created_at, alert_id");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(state.as_str()).fetch_all(&self.pool).await?;
            rows.iter().map(link_from_row).collect()
        }

        /// Every alert noted on or having created `ticket_id`.
        async fn alert_links_for_ticket(&self, ticket_id: TicketId) -> Result<Vec<AlertLink>> {
            let sql = format!("SELECT {LINK_COLS} FROM ticket_alerts WHERE ticket_id = $1 ORDER BY created_at, alert_id");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ticket_id).fetch_all(&self.pool).await?;
            rows.iter().map(link_from_row).collect()
        }

        /// The newest links, of one tenant or all, newest first.
        async fn recent_alert_links(&self, tenant_id: Option<&str>, limit: u32) -> Result<Vec<AlertLink>> {
            let sql = format!(
                "SELECT {LINK_COLS} FROM ticket_alerts WHERE ($1 IS NULL OR tenant_id = $1) \
                 ORDER BY created_at DESC, alert_id DESC LIMIT $2"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(link_from_row).collect()
        }

        /// Number of links per alert state for one tenant: (alert_state, count).
        async fn count_alert_links(&self, tenant_id: &str) -> Result<Vec<(String, i64)>> {
            let rows = sqlx::query(
                "SELECT alert_state, COUNT(*) AS n FROM ticket_alerts WHERE tenant_id = $1 GROUP BY alert_state \
                 ORDER BY alert_state",
            )
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>("alert_state")?, r.try_get::<i64, _>("n")?)))
                .collect()
        }

        /// Inserts or replaces one owned ticket.
        async fn put_owned_ticket(&self, t: &OwnedTicket) -> Result<()> {
            sqlx::query(
                "INSERT INTO ticket_tickets (ticket_id, tenant_id, group_key, company_id, primary_alert_id, \
                 previous_ticket_id, state, summary, created_at, updated_at, resolved_at, closed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (ticket_id) DO UPDATE SET tenant_id = excluded.tenant_id, \
                 group_key = excluded.group_key, company_id = excluded.company_id, \
                 primary_alert_id = excluded.primary_alert_id, previous_ticket_id = excluded.previous_ticket_id, \
                 state = excluded.state, summary = excluded.summary, updated_at = excluded.updated_at, \
                 resolved_at = excluded.resolved_at, closed_at = excluded.closed_at",
            )
            .bind(t.ticket_id)
            .bind(&t.tenant_id)
            .bind(&t.group_key)
            .bind(t.company_id)
            .bind(&t.primary_alert_id)
            .bind(t.previous_ticket_id)
            .bind(t.state.as_str())
            .bind(&t.summary)
            .bind(to_ms(t.created_at))
            .bind(to_ms(t.updated_at))
            .bind(t.resolved_at.map(to_ms))
            .bind(t.closed_at.map(to_ms))
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        /// One owned ticket.
        async fn owned_ticket(&self, ticket_id: TicketId) -> Result<Option<OwnedTicket>> {
            let sql = format!("SELECT {TICKET_COLS} FROM ticket_tickets WHERE ticket_id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ticket_id).fetch_optional(&self.pool).await?;
            row.as_ref().map(ticket_from_row).transpose()
        }

        /// The newest ticket of every group of a tenant (the one a repeat would go to).
        async fn latest_tickets_for_tenant(&self, tenant_id: &str) -> Result<Vec<OwnedTicket>> {
            let sql = format!(
                "SELECT {TICKET_COLS} FROM ticket_tickets t WHERE tenant_id = $1 AND ticket_id = \
                 (SELECT MAX(u.ticket_id) FROM ticket_tickets u WHERE u.tenant_id = t.tenant_id \
                 AND u.group_key = t.group_key) ORDER BY ticket_id"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant_id).fetch_all(&self.pool).await?;
            rows.iter().map(ticket_from_row).collect()
        }

        /// Owned tickets in one state (e.g. the open ones, to see which were closed in ConnectWise).
        async fn owned_tickets_in_state(&self, state: TicketState) -> Result<Vec<OwnedTicket>> {
            let sql = format!("SELECT {TICKET_COLS} FROM ticket_tickets WHERE state = $1 ORDER BY ticket_id");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(state.as_str()).fetch_all(&self.pool).await?;
            rows.iter().map(ticket_from_row).collect()
        }

        /// Owned tickets, of one tenant or all, newest first.
        async fn recent_owned_tickets(&self, tenant_id: Option<&str>, limit: u32) -> Result<Vec<OwnedTicket>> {
            let sql = format!(
                "SELECT {TICKET_COLS} FROM ticket_tickets WHERE ($1 IS NULL OR tenant_id = $1) \
                 ORDER BY created_at DESC, ticket_id DESC LIMIT $2"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(ticket_from_row).collect()
        }

        /// A tenant's polling cursor.
        async fn ticket_cursor(&self, tenant_id: &str) -> Result<Option<TicketCursor>> {
            let row = sqlx::query(
                "SELECT tenant_id, last_raised_at, last_poll_at, forbidden, advice, next_retry_at, last_error \
                 FROM ticket_cursors WHERE tenant_id = $1",
            )
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some(TicketCursor {
                    tenant_id: r.try_get("tenant_id")?,
                    last_raised_at: opt_ts(r.try_get("last_raised_at")?)?,
                    last_poll_at: opt_ts(r.try_get("last_poll_at")?)?,
                    forbidden: r.try_get("forbidden")?,
                    advice: r.try_get("advice")?,
                    next_retry_at: opt_ts(r.try_get("next_retry_at")?)?,
                    last_error: r.try_get("last_error")?,
                })),
            }
        }

        /// Every tenant's cursor, by tenant.
        async fn ticket_cursors(&self) -> Result<Vec<TicketCursor>> {
            let rows = sqlx::query(
                "SELECT tenant_id, last_raised_at, last_poll_at, forbidden, advice, next_retry_at, last_error \
                 FROM ticket_cursors ORDER BY tenant_id",
            )
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(TicketCursor {
                        tenant_id: r.try_get("tenant_id")?,
                        last_raised_at: opt_ts(r.try_get("last_raised_at")?)?,
                        last_poll_at: opt_ts(r.try_get("last_poll_at")?)?,
                        forbidden: r.try_get("forbidden")?,
                        advice: r.try_get("advice")?,
                        next_retry_at: opt_ts(r.try_get("next_retry_at")?)?,
                        last_error: r.try_get("last_error")?,
                    })
                })
                .collect()
        }

        /// Inserts or replaces a tenant's cursor.
        async fn put_ticket_cursor(&self, c: &TicketCursor) -> Result<()> {
            sqlx::query(
                "INSERT INTO ticket_cursors (tenant_id, last_raised_at, last_poll_at, forbidden, advice, \
                 next_retry_at, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (tenant_id) DO UPDATE SET last_raised_at = excluded.last_raised_at, \
                 last_poll_at = excluded.last_poll_at, forbidden = excluded.forbidden, \
                 advice = excluded.advice, next_retry_at = excluded.next_retry_at, \
                 last_error = excluded.last_error",
            )
            .bind(&c.tenant_id)
            .bind(c.last_raised_at.map(to_ms))
            .bind(c.last_poll_at.map(to_ms))
            .bind(c.forbidden)
            .bind(c.advice.as_deref())
            .bind(c.next_retry_at.map(to_ms))
            .bind(c.last_error.as_deref())
            .execute(&self.pool)
            .await?;
            Ok(())
        }
    }
}
