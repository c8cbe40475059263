//! The security-role rows the integration needs, in one table: the seed's eight rows
//! (integration-behaviour.md §2) plus the ones optional features need (connectwise-psa-api.md §10.3),
//! with the request that proves each level without changing data.

use serde::Serialize;

/// One of the levels of a security-role function the integration uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleLevel {
    /// Creating records of the function (ConnectWise's "Add Level").
    Add,
    /// Changing records of the function (ConnectWise's "Edit Level").
    Edit,
    /// Reading records of the function (ConnectWise's "Inquire Level").
    Inquire,
}

impl RoleLevel {
    /// As ConnectWise labels it on the role page.
    pub fn label(self) -> &'static str {
        match self {
            RoleLevel::Add => "Add Level",
            RoleLevel::Edit => "Edit Level",
            RoleLevel::Inquire => "Inquire Level",
        }
    }

    /// The level in lower case as it appears in check ids (`cw.role.<key>.<level>`).
    pub fn as_str(self) -> &'static str {
        match self {
            RoleLevel::Add => "add",
            RoleLevel::Edit => "edit",
            RoleLevel::Inquire => "inquire",
        }
    }
}

/// Why the integration needs a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// On the setup page: every sync needs it.
    Seed,
    /// Needed only when auto-resolve (closing tickets when the alert clears) is on.
    AutoResolve,
    /// Needed only when tickets carry a contact.
    TicketContacts,
}

/// How a level is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `GET path?pageSize=1`.
    Read(&'static str),
    /// `POST path` with `{}`; `{id}` in the path is replaced by a record id from the row's read probe.
    Add(&'static str),
    /// `PATCH path` with a failing `test` op; `{id}` is a record id from the row's read probe.
    Edit(&'static str),
    /// `GET path?pageSize=1` on a table the server may answer to anyone: a 403 proves the level is
    /// missing, a success proves nothing (the reason is shown).
    OpenRead(&'static str, &'static str),
    /// Cannot be proven without changing data or at all; the reason is shown.
    Unprovable(&'static str),
}

/// One security-role function.
#[derive(Debug, Clone, Copy)]
pub struct RoleRow {
    /// Stable key, e.g. `agreements` (check ids are `cw.role.agreements.add`).
    pub key: &'static str,
    /// Module as ConnectWise names it, e.g. "Finance".
    pub module: &'static str,
    /// Function as ConnectWise names it, e.g. "Agreements".
    pub function: &'static str,
    /// Which feature needs the row; decides whether its checks are required.
    pub need: Need,
    /// What the integration does with it (shown with a failure).
    pub used_for: &'static str,
    /// The levels needed, each with its probe.
    pub levels: &'static [(RoleLevel, Probe)],
    /// Where the Add/Edit probes find an existing record when the row has no read probe.
    pub sample: Option<&'static str>,
}

impl RoleRow {
    /// "Finance > Agreements".
    pub fn menu_path(&self) -> String {
        format!("{} > {}", self.module, self.function)
    }

    /// The path of the row's read probe (Inquire), if any.
    pub fn read_path(&self) -> Option<&'static str> {
        self.levels.iter().find_map(|(_, p)| match p {
            Probe::Read(path) => Some(*path),
            _ => None,
        })
    }
}

const TABLE_SETUP_READ: &str = "Setup tables answer reads to any API member, whatever the role says \
     (ConnectWise Developer Guide), so a successful read cannot show whether Inquire Level is set. The \
     read worked, so the integration's reads of setup tables work.";

const CLOSE_UNPROVABLE: &str = "Proving it would mean moving a real ticket to a closed status; the \
     check never changes data. The first auto-resolve that is refused is reported with this fix.";

/// Every role row, in the order of the setup page, then the optional ones.
pub const ROLE_ROWS: &[RoleRow] = &[
    RoleRow {
        key: "company_maintenance",
        module: "Companies",
        function: "Company Maintenance",
        need: Need::Seed,
        used_for: "reading companies for mapping and the daily refresh",
        sample: None,
        levels: &[(RoleLevel::Inquire, Probe::Read("company/companies"))],
    },
    RoleRow {
        key: "agreements",
        module: "Finance",
        function: "Agreements",
        need: Need::Seed,
        used_for: "reading agreements, adding and updating agreement additions (usage billing)",
        sample: None,
        levels: &[
            (
                RoleLevel::Add,
                Probe::Add("finance/agreements/{id}/additions"),
            ),
            (RoleLevel::Edit, Probe::Edit("finance/agreements/{id}")),
            (RoleLevel::Inquire, Probe::Read("finance/agreements")),
        ],
    },
    RoleRow {
        key: "product_catalog",
        module: "Procurement",
        function: "Product Catalog",
        need: Need::Seed,
        used_for: "finding, creating and updating the Sophos products in the catalog",
        sample: None,
        levels: &[
            (RoleLevel::Add, Probe::Add("procurement/catalog")),
            (RoleLevel::Edit, Probe::Edit("procurement/catalog/{id}")),
            (RoleLevel::Inquire, Probe::Read("procurement/catalog")),
        ],
    },
    RoleRow {
        key: "table_setup",
        module: "System",
        function: "Table Setup",
        need: Need::Seed,
        used_for: "creating missing categories, manufacturers, product types and ticket sources",
        sample: Some("procurement/manufacturers"),
        levels: &[
            (RoleLevel::Add, Probe::Add("procurement/manufacturers")),
            (
                RoleLevel::Edit,
                Probe::Edit("procurement/manufacturers/{id}"),
            ),
            (
                RoleLevel::Inquire,
                Probe::OpenRead("procurement/manufacturers", TABLE_SETUP_READ),
            ),
        ],
    },
    RoleRow {
        key: "member_maintenance",
        module: "System",
        function: "Member Maintenance",
        need: Need::Seed,
        used_for: "resolving members",
        sample: None,
        levels: &[(RoleLevel::Inquire, Probe::Read("system/members"))],
    },
    RoleRow {
        key: "service_tickets",
        module: "Service Desk",
        function: "Service Tickets",
        need: Need::Seed,
        used_for: "finding, creating and updating alert tickets and their notes",
        sample: None,
        levels: &[
            (RoleLevel::Add, Probe::Add("service/tickets")),
            (RoleLevel::Edit, Probe::Edit("service/tickets/{id}")),
            (RoleLevel::Inquire, Probe::Read("service/tickets")),
        ],
    },
    RoleRow {
        key: "api_reports",
        module: "System",
        function: "API Reports",
        need: Need::Seed,
        used_for: "reading report data",
        sample: None,
        levels: &[(RoleLevel::Inquire, Probe::Read("system/reports"))],
    },
    RoleRow {
        key: "close_service_tickets",
        module: "Service Desk",
        function: "Close Service Tickets",
        need: Need::AutoResolve,
        used_for: "closing a ticket when its alert clears (auto-resolve)",
        sample: None,
        levels: &[(RoleLevel::Edit, Probe::Unprovable(CLOSE_UNPROVABLE))],
    },
    RoleRow {
        key: "contacts",
        module: "Companies",
        function: "Contacts",
        need: Need::TicketContacts,
        used_for: "setting a contact on alert tickets",
        sample: None,
        levels: &[(RoleLevel::Inquire, Probe::Read("company/contacts"))],
    },
];

/// The row with `key`.
pub fn role_row(key: &str) -> Option<&'static RoleRow> {
    ROLE_ROWS.iter().find(|r| r.key == key)
}

/// The check id of one level of a row, e.g. `cw.role.agreements.add`.
pub fn check_id(row: &RoleRow, level: RoleLevel) -> String {
    format!("cw.role.{}.{}", row.key, level.as_str())
}
