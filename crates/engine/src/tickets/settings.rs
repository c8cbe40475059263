//! Ticket settings: where tickets go in ConnectWise and which alerts create them.
//!
//! The user names things (board, statuses, priorities, ...) by name or id; [`update_settings`] checks
//! each against what ConnectWise has and stores the id with the name, so a rename in ConnectWise does
//! not break the setting and the error for a typo lists what exists.

use serde::{Deserialize, Serialize};

use crate::store::{CoreStore as _, NewAudit, Store};

use super::TicketError;

/// The core-store settings key.
pub const SETTINGS_KEY: &str = "tickets.settings";

/// Default device link: placeholders `{tenant_id}`, `{device_id}`, `{device_type}` (`computer`/`server`).
pub const DEFAULT_DEVICE_URL: &str = "https://central.sophos.com/manage/partner/customers/{tenant_id}/devices/{device_type}s/{device_id}";

/// A ConnectWise record chosen by the user: its id (what we send) and its name (what we show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pick {
    /// ConnectWise's record id, sent in requests.
    pub id: i64,
    /// The record's name when it was chosen, shown to people.
    pub name: String,
}

/// What a recurrence after the group's ticket was resolved or closed does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Recurrence {
    /// A new ticket whose description names the old one.
    #[default]
    NewTicket,
    /// Move the old ticket back to the new-ticket status and add a note.
    Reopen,
}

/// Priority per Sophos severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Priorities {
    /// Priority of tickets for `low` alerts; `None` leaves it unset.
    pub low: Option<Pick>,
    /// Priority of tickets for `medium` alerts (and unknown severities); `None` leaves it unset.
    pub medium: Option<Pick>,
    /// Priority of tickets for `high` alerts; `None` leaves it unset.
    pub high: Option<Pick>,
}

impl Priorities {
    /// The priority for a Sophos severity (`low`, `high`; anything else counts as medium).
    pub fn for_severity(&self, severity: &str) -> Option<&Pick> {
        match severity {
            "low" => self.low.as_ref(),
            "high" => self.high.as_ref(),
            _ => self.medium.as_ref(),
        }
    }
}

/// The stored ticket settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketSettings {
    /// The service board tickets open on; `None` means ticket sync is not configured.
    pub board: Option<Pick>,
    /// Status of new tickets (and of reopened ones).
    pub new_status: Option<Pick>,
    /// Status a ticket moves to when its alerts clear in Sophos (closed when the member may close).
    pub clear_status: Option<Pick>,
    /// An open status used instead of a closed `clear_status` when closing is not permitted.
    pub resolved_status: Option<Pick>,
    /// The priority of a new ticket, by the alert's severity.
    pub priorities: Priorities,
    /// The ticket type on the board; `None` leaves it unset.
    #[serde(rename = "type")]
    pub type_: Option<Pick>,
    /// The ticket subtype on the board; `None` leaves it unset.
    pub subtype: Option<Pick>,
    /// The ticket item on the board; `None` leaves it unset.
    pub item: Option<Pick>,
    /// The ticket source (e.g. "Sophos"); `None` leaves it unset.
    pub source: Option<Pick>,
    /// Only these products create tickets (empty: all).
    pub products: Vec<String>,
    /// Only these categories create tickets (empty: all).
    pub categories: Vec<String>,
    /// Only these severities create tickets (default high and medium).
    pub severities: Vec<String>,
    /// Company for tenants without a mapping (ConnectWise company).
    pub fallback_company: Option<Pick>,
    /// Skip (and count) alerts of unmapped tenants instead of using a fallback company.
    pub skip_unmapped: bool,
    /// What an alert does when its group's ticket was already resolved or closed.
    pub recurrence: Recurrence,
    /// Acknowledge the Sophos alert when its ticket is closed in ConnectWise.
    pub acknowledge_on_close: bool,
    /// The link to the device in Sophos Central put in descriptions; see [`DEFAULT_DEVICE_URL`]
    /// for its placeholders.
    pub device_url_pattern: String,
    /// Seconds between cycles of `centralbridge sync tickets` when it loops (the service uses
    /// `[sync] tickets_interval`).
    pub interval_s: u64,
    /// Each listing starts this long before the newest alert already seen.
    pub overlap_s: u64,
    /// Tenants polled at once.
    pub concurrency: usize,
    /// A tenant Sophos refuses (403) is tried again after this long.
    pub forbidden_retry_s: u64,
}

impl Default for TicketSettings {
    fn default() -> Self {
        Self {
            board: None,
            new_status: None,
            clear_status: None,
            resolved_status: None,
            priorities: Priorities::default(),
            type_: None,
            subtype: None,
            item: None,
            source: None,
            products: Vec::new(),
            categories: Vec::new(),
            severities: vec!["high".into(), "medium".into()],
            fallback_company: None,
            skip_unmapped: false,
            recurrence: Recurrence::NewTicket,
            acknowledge_on_close: true,
            device_url_pattern: DEFAULT_DEVICE_URL.into(),
            interval_s: 60,
            overlap_s: 300,
            concurrency: 8,
            forbidden_retry_s: 6 * 3600,
        }
    }
}

impl TicketSettings {
    /// Ready to create tickets (a board is chosen).
    pub fn is_configured(&self) -> bool {
        self.board.is_some()
    }
}

/// A change to the settings, as typed by the user (names or ids). `None` leaves a field as it is;
/// `Some("")` clears an optional pick.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SettingsInput {
    /// Service board by name or id; every board-specific choice must exist on it.
    pub board: Option<String>,
    /// Status of new and reopened tickets, by name or id on the board; must be an open status.
    pub new_status: Option<String>,
    /// Status a ticket moves to when its alerts clear, by name or id on the board.
    pub clear_status: Option<String>,
    /// Open status used when closing is not permitted, by name or id on the board; must be open.
    pub resolved_status: Option<String>,
    /// (severity, priority name or id).
    pub priorities: Vec<(String, String)>,
    /// Ticket type on the board, by name or id.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Ticket subtype on the board, by name or id.
    pub subtype: Option<String>,
    /// Ticket item on the board, by name or id.
    pub item: Option<String>,
    /// Ticket source, by name or id.
    pub source: Option<String>,
    /// Sophos product names that create tickets; replaces the list (empty: all).
    pub products: Option<Vec<String>>,
    /// Sophos alert category names that create tickets; replaces the list (empty: all).
    pub categories: Option<Vec<String>>,
    /// Sophos severities that create tickets; replaces the list (empty: all).
    pub severities: Option<Vec<String>>,
    /// Company id or identifier; `""` removes it.
    pub fallback_company: Option<String>,
    /// Skip alerts of unmapped tenants; `true` also removes the fallback company.
    pub skip_unmapped: Option<bool>,
    /// What a recurrence after a resolved or closed ticket does.
    pub recurrence: Option<Recurrence>,
    /// Whether to acknowledge the Sophos alert when its ticket is closed in ConnectWise.
    pub acknowledge_on_close: Option<bool>,
    /// The device link pattern: an http(s) URL containing `{device_id}`.
    pub device_url_pattern: Option<String>,
    /// Seconds between looping `sync tickets` cycles; at least 1.
    pub interval_s: Option<u64>,
    /// Seconds each listing starts before the newest alert already seen.
    pub overlap_s: Option<u64>,
    /// Tenants polled at once; kept between 1 and 64.
    pub concurrency: Option<usize>,
    /// Fill every unset board-related choice from what the board has.
    pub auto: bool,
}

/// Pick-lists from ConnectWise for the settings form (dashboard) or `tickets settings show --choices`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Choices {
    /// Every service board.
    pub boards: Vec<Pick>,
    /// Of the chosen (or given) board: (status, closed?).
    pub statuses: Vec<(Pick, bool)>,
    /// Ticket types of the board.
    pub types: Vec<Pick>,
    /// Ticket subtypes of the board.
    pub subtypes: Vec<Pick>,
    /// Ticket items of the board.
    pub items: Vec<Pick>,
    /// Every ticket priority.
    pub priorities: Vec<Pick>,
    /// Every ticket source.
    pub sources: Vec<Pick>,
}

/// The stored settings (defaults if none).
pub async fn load_settings(store: &Store) -> Result<TicketSettings, TicketError> {
    match store.get_setting(SETTINGS_KEY).await? {
        Some(v) => serde_json::from_value(v).map_err(|e| TicketError::Settings(format!(
            "the stored ticket settings could not be read ({e}); set them again with `centralbridge tickets settings set`"
        ))),
        None => Ok(TicketSettings::default()),
    }
}

/// Stores settings as they are (no ConnectWise check) and audits the change.
pub async fn save_settings(
    store: &Store,
    settings: &TicketSettings,
    actor: &str,
) -> Result<(), TicketError> {
    let before = store.get_setting(SETTINGS_KEY).await?;
    let after = serde_json::to_value(settings).map_err(|e| TicketError::Settings(e.to_string()))?;
    store.set_setting(SETTINGS_KEY, &after).await?;
    store
        .append_audit(&NewAudit {
            at: jiff::Timestamp::now(),
            actor: actor.to_owned(),
            action: crate::audit::AuditKind::TicketsSettings,
            subject: "tickets".into(),
            before,
            after: Some(after),
            reason: "ticket settings changed".into(),
        })
        .await?;
    Ok(())
}

fn picks(choices: Vec<connectwise::Choice>) -> Vec<Pick> {
    choices
        .into_iter()
        .map(|c| Pick {
            id: c.id,
            name: c.name,
        })
        .collect()
}

/// Finds `wanted` (an id or a name, case-insensitive) among `options`; the error names what exists.
pub fn choose(what: &str, wanted: &str, options: &[Pick]) -> Result<Pick, TicketError> {
    let w = wanted.trim();
    let found = match w.parse::<i64>() {
        Ok(id) => options.iter().find(|p| p.id == id),
        Err(_) => None,
    }
    .or_else(|| {
        options
            .iter()
            .find(|p| p.name.trim().eq_ignore_ascii_case(w))
    });
    found.cloned().ok_or_else(|| {
        let list: Vec<String> = options
            .iter()
            .map(|p| format!("\"{}\" ({})", p.name, p.id))
            .collect();
        TicketError::Settings(if list.is_empty() {
            format!("No {what} \"{w}\" in ConnectWise, and there are none to choose from.")
        } else {
            format!(
                "No {what} \"{w}\" in ConnectWise. Choose one of: {}.",
                list.join(", ")
            )
        })
    })
}

/// Reads the pick-lists: boards, priorities and sources always; statuses/types/subtypes/items of `board`.
pub async fn choices(cw: &connectwise::Client, board: Option<i64>) -> Result<Choices, TicketError> {
    let mut c = Choices {
        boards: picks(cw.board_choices().await?),
        priorities: picks(cw.priority_choices().await?),
        sources: picks(cw.source_choices().await?),
        ..Choices::default()
    };
    if let Some(b) = board {
        let bc = choices_for_board(cw, b).await?;
        c.statuses = bc.statuses;
        c.types = bc.types;
        c.subtypes = bc.subtypes;
        c.items = bc.items;
    }
    Ok(c)
}

fn opt_choose(
    what: &str,
    input: &Option<String>,
    current: &Option<Pick>,
    options: &[Pick],
) -> Result<Option<Pick>, TicketError> {
    match input {
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => choose(what, s, options).map(Some),
        // Keep the current one only if it is still valid here (the board may have changed).
        None => match current {
            Some(p) => choose(what, &p.id.to_string(), options).map(Some),
            None => Ok(None),
        },
    }
}

fn check_names(
    what: &str,
    values: &[String],
    known: impl Fn(&str) -> bool,
) -> Result<Vec<String>, TicketError> {
    let mut out = Vec::new();
    for v in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if !known(v) {
            return Err(TicketError::Settings(format!(
                "\"{v}\" is not a Sophos {what} name."
            )));
        }
        if !out.iter().any(|o: &String| o == v) {
            out.push(v.to_owned());
        }
    }
    Ok(out)
}

/// Merges `input` into `current`, checking every ConnectWise choice against ConnectWise (by name or
/// id). Nothing is stored: see [`update_settings`].
pub async fn resolve_input(
    cw: &connectwise::Client,
    current: &TicketSettings,
    input: &SettingsInput,
) -> Result<TicketSettings, TicketError> {
    let mut s = current.clone();
    let top = choices(cw, None).await?;
    s.board = opt_choose("service board", &input.board, &current.board, &top.boards)?;
    let board_choices = match &s.board {
        Some(b) => choices_for_board(cw, b.id).await?,
        None => Choices::default(),
    };
    let status_picks: Vec<Pick> = board_choices
        .statuses
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    let is_closed = |p: &Pick| {
        board_choices
            .statuses
            .iter()
            .any(|(q, c)| q.id == p.id && *c)
    };
    let board_name = s.board.as_ref().map(|b| b.name.clone()).unwrap_or_default();
    let status_what = format!("status on board \"{board_name}\"");
    s.new_status = opt_choose(
        &status_what,
        &input.new_status,
        &current.new_status,
        &status_picks,
    )?;
    s.clear_status = opt_choose(
        &status_what,
        &input.clear_status,
        &current.clear_status,
        &status_picks,
    )?;
    s.resolved_status = opt_choose(
        &status_what,
        &input.resolved_status,
        &current.resolved_status,
        &status_picks,
    )?;
    s.type_ = opt_choose(
        &format!("type on board \"{board_name}\""),
        &input.type_,
        &current.type_,
        &board_choices.types,
    )?;
    s.subtype = opt_choose(
        &format!("subtype on board \"{board_name}\""),
        &input.subtype,
        &current.subtype,
        &board_choices.subtypes,
    )?;
    s.item = opt_choose(
        &format!("item on board \"{board_name}\""),
        &input.item,
        &current.item,
        &board_choices.items,
    )?;
    s.source = opt_choose(
        "ticket source",
        &input.source,
        &current.source,
        &top.sources,
    )?;
    for (sev, wanted) in &input.priorities {
        let p = if wanted.trim().is_empty() {
            None
        } else {
            Some(choose("priority", wanted, &top.priorities)?)
        };
        match sev.trim().to_ascii_lowercase().as_str() {
            "low" => s.priorities.low = p,
            "medium" => s.priorities.medium = p,
            "high" => s.priorities.high = p,
            other => {
                return Err(TicketError::Settings(format!(
                    "\"{other}\" is not a Sophos severity: use low, medium or high (e.g. --priority high=\"Priority 1 - Emergency Response\")."
                )));
            }
        }
    }
    for p in [
        &mut s.priorities.low,
        &mut s.priorities.medium,
        &mut s.priorities.high,
    ] {
        if let Some(cur) = p.clone() {
            *p = Some(choose("priority", &cur.id.to_string(), &top.priorities)?);
        }
    }
    if input.auto {
        auto_fill(&mut s, &board_choices, &top, cw).await?;
    }
    if let Some(p) = &s.new_status
        && is_closed(p)
    {
        return Err(TicketError::Settings(format!(
            "\"{}\" is a closed status; new tickets need an open one.",
            p.name
        )));
    }
    if let Some(p) = &s.resolved_status
        && is_closed(p)
    {
        return Err(TicketError::Settings(format!(
            "\"{}\" is a closed status; the \"resolved\" fallback must be an open status (it is used when the API member may not close tickets).",
            p.name
        )));
    }
    if let Some(v) = &input.severities {
        s.severities = check_names("severity", v, sophos::is_alert_severity)?;
    }
    if let Some(v) = &input.products {
        s.products = check_names("product", v, sophos::is_alert_product)?;
    }
    if let Some(v) = &input.categories {
        s.categories = check_names("category", v, sophos::is_alert_category)?;
    }
    match input.fallback_company.as_deref().map(str::trim) {
        Some("") => s.fallback_company = None,
        Some(c) => {
            let company = match c.parse::<i64>() {
                Ok(id) => cw.company_summary(id).await?,
                Err(_) => cw.find_company_summary_by_identifier(c).await?,
            };
            let company = company.filter(|co| !co.deleted).ok_or_else(|| {
                TicketError::Settings(format!(
                    "No ConnectWise company with id or identifier \"{c}\" (Companies > Company; use its id or identifier)."
                ))
            })?;
            s.fallback_company = Some(Pick {
                id: company.id,
                name: company.name.unwrap_or_else(|| c.to_owned()),
            });
            s.skip_unmapped = false;
        }
        None => {}
    }
    if let Some(v) = input.skip_unmapped {
        s.skip_unmapped = v;
        if v {
            s.fallback_company = None;
        }
    }
    if let Some(r) = input.recurrence {
        s.recurrence = r;
    }
    if let Some(a) = input.acknowledge_on_close {
        s.acknowledge_on_close = a;
    }
    if let Some(u) = &input.device_url_pattern {
        let u = u.trim();
        if !(u.starts_with("https://") || u.starts_with("http://")) || !u.contains("{device_id}") {
            return Err(TicketError::Settings(
                "The device link pattern must be an http(s) URL containing {device_id} (also available: {tenant_id}, {device_type})."
                    .into(),
            ));
        }
        s.device_url_pattern = u.to_owned();
    }
    if let Some(i) = input.interval_s {
        if i == 0 {
            return Err(TicketError::Settings(
                "The ticket sync interval must be at least 1 second.".into(),
            ));
        }
        s.interval_s = i;
    }
    if let Some(o) = input.overlap_s {
        s.overlap_s = o;
    }
    if let Some(c) = input.concurrency {
        s.concurrency = c.clamp(1, 64);
    }
    Ok(s)
}

async fn choices_for_board(cw: &connectwise::Client, board: i64) -> Result<Choices, TicketError> {
    let statuses = cw
        .board_status_choices(board)
        .await?
        .into_iter()
        .map(|s| {
            (
                Pick {
                    id: s.id,
                    name: s.name,
                },
                s.closed,
            )
        })
        .collect();
    let c = Choices {
        statuses,
        types: picks(cw.board_type_choices(board).await?),
        subtypes: picks(cw.board_subtype_choices(board).await?),
        items: picks(cw.board_item_choices(board).await?),
        ..Choices::default()
    };
    Ok(c)
}

/// Fills unset choices from what the board has: its default (or first open) status for new tickets,
/// its first closed status to clear, an open "Resolved" status as the fallback, priorities by their
/// sort order (high = most urgent), a "Sophos" source and an "Alert" type when they exist.
async fn auto_fill(
    s: &mut TicketSettings,
    board: &Choices,
    top: &Choices,
    cw: &connectwise::Client,
) -> Result<(), TicketError> {
    let open: Vec<&Pick> = board
        .statuses
        .iter()
        .filter(|(_, c)| !c)
        .map(|(p, _)| p)
        .collect();
    let closed: Vec<&Pick> = board
        .statuses
        .iter()
        .filter(|(_, c)| *c)
        .map(|(p, _)| p)
        .collect();
    if s.new_status.is_none() {
        s.new_status = open.first().map(|p| (*p).clone());
    }
    if s.clear_status.is_none() {
        s.clear_status = closed.first().or(open.last()).map(|p| (*p).clone());
    }
    if s.resolved_status.is_none() {
        s.resolved_status = open
            .iter()
            .find(|p| p.name.to_lowercase().contains("resolved"))
            .map(|p| (*p).clone());
    }
    let ordered = picks(cw.priorities_by_urgency().await?);
    let at = |i: usize| ordered.get(i.min(ordered.len().saturating_sub(1))).cloned();
    if s.priorities.high.is_none() {
        s.priorities.high = at(0);
    }
    if s.priorities.medium.is_none() {
        s.priorities.medium = at(1);
    }
    if s.priorities.low.is_none() {
        s.priorities.low = at(2);
    }
    if s.type_.is_none() {
        s.type_ = board
            .types
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case("alert"))
            .cloned();
    }
    if s.source.is_none() {
        s.source = top
            .sources
            .iter()
            .find(|t| t.name.to_lowercase().contains("sophos"))
            .cloned();
    }
    Ok(())
}

/// Checks `input` against ConnectWise, stores the result and audits it.
pub async fn update_settings(
    store: &Store,
    cw: &connectwise::Client,
    input: &SettingsInput,
    actor: &str,
) -> Result<TicketSettings, TicketError> {
    let current = load_settings(store).await?;
    let next = resolve_input(cw, &current, input).await?;
    save_settings(store, &next, actor).await?;
    Ok(next)
}
