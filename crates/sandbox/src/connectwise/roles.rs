//! Security roles: (module, function) → Add/Edit/Delete/Inquire levels, as in System > Security Roles.

use serde::Serialize;
use std::collections::BTreeMap;

/// A module function whose levels gate endpoints (connectwise-psa-api.md §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum RoleFunction {
    /// Companies > Company Maintenance: `company/companies`.
    CompanyMaintenance,
    /// Companies > Contacts: `company/contacts`, and setting a ticket's `contact`.
    Contacts,
    /// Finance > Agreements: agreements and their additions.
    Agreements,
    /// Procurement > Product Catalog: `procurement/catalog`.
    ProductCatalog,
    /// System > Table Setup: every setup table (writes; reads need no level).
    TableSetup,
    /// System > Member Maintenance: `system/members`.
    MemberMaintenance,
    /// Service Desk > Service Tickets: tickets and notes.
    ServiceTickets,
    /// Service Desk > Close Service Tickets: moving a ticket to a `closedStatus` status.
    CloseServiceTickets,
    /// System > API Reports: `system/reports`.
    ApiReports,
    /// System > Callbacks (emulator's choice: the minimum role is undocumented).
    Callbacks,
}

impl RoleFunction {
    /// Every function, in menu order.
    pub const ALL: [RoleFunction; 10] = [
        Self::CompanyMaintenance,
        Self::Contacts,
        Self::Agreements,
        Self::ProductCatalog,
        Self::TableSetup,
        Self::MemberMaintenance,
        Self::ServiceTickets,
        Self::CloseServiceTickets,
        Self::ApiReports,
        Self::Callbacks,
    ];

    /// "Module > Function" as the ConnectWise menu shows it.
    pub fn menu_path(self) -> &'static str {
        match self {
            Self::CompanyMaintenance => "Companies > Company Maintenance",
            Self::Contacts => "Companies > Contacts",
            Self::Agreements => "Finance > Agreements",
            Self::ProductCatalog => "Procurement > Product Catalog",
            Self::TableSetup => "System > Table Setup",
            Self::MemberMaintenance => "System > Member Maintenance",
            Self::ServiceTickets => "Service Desk > Service Tickets",
            Self::CloseServiceTickets => "Service Desk > Close Service Tickets",
            Self::ApiReports => "System > API Reports",
            Self::Callbacks => "System > Callbacks",
        }
    }
}

/// One of the four levels of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Level {
    /// Creating records: POST.
    Add,
    /// Changing records: PUT and PATCH.
    Edit,
    /// Deleting records: DELETE.
    Delete,
    /// Reading records: GET, `/count` and `/search`.
    Inquire,
}

impl Level {
    fn index(self) -> usize {
        match self {
            Self::Add => 0,
            Self::Edit => 1,
            Self::Delete => 2,
            Self::Inquire => 3,
        }
    }
}

/// The value of a level. The emulator treats `My` and `Mine` like `All` (it has no teams or owners).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Access {
    /// Every record.
    All,
    /// Records of the member's team in ConnectWise; here the same as `All`.
    My,
    /// Records the member owns in ConnectWise; here the same as `All`.
    Mine,
    /// No access: calls needing this level answer 403 `Security`.
    #[default]
    None,
}

/// A security role: for each function, the access of Add, Edit, Delete and Inquire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Role {
    /// The role's name in System > Security Roles; a member added with it shows it as `securityRole/name`.
    pub name: String,
    levels: BTreeMap<RoleFunction, [Access; 4]>,
}

impl Role {
    /// A role with every level `None`.
    pub fn empty(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            levels: BTreeMap::new(),
        }
    }

    /// The eight rows of the setup page (integration-behaviour.md §2): no Delete anywhere, no Close
    /// Service Tickets, no Contacts, Inquire-only on companies and members.
    pub fn seed() -> Self {
        use Level::*;
        use RoleFunction::*;
        let mut r = Self::empty("Sophos Integration");
        r.set(CompanyMaintenance, Inquire, Access::All);
        for f in [Agreements, ProductCatalog, TableSetup, ServiceTickets] {
            for l in [Add, Edit, Inquire] {
                r.set(f, l, Access::All);
            }
        }
        r.set(MemberMaintenance, Inquire, Access::All);
        r.set(ApiReports, Inquire, Access::All);
        r
    }

    /// A service technician's API role, for playing the person on the other side: the seed role
    /// plus Delete (additions, products, tickets), Close Service Tickets and Edit on companies
    /// (rename), so a person or a script can delete an addition, close or reopen a ticket, rename
    /// a company or cancel an agreement through the ordinary REST API.
    pub fn technician() -> Self {
        use Level::*;
        use RoleFunction::*;
        let mut r = Self::seed();
        r.name = "Service Technician".into();
        for f in [Agreements, ProductCatalog, ServiceTickets] {
            r.set(f, Delete, Access::All);
        }
        for l in [Add, Edit, Inquire] {
            r.set(CloseServiceTickets, l, Access::All);
        }
        r.set(CompanyMaintenance, Edit, Access::All);
        r
    }

    /// Every level of every function `All` (an admin).
    pub fn full() -> Self {
        let mut r = Self::empty("Admin");
        for f in RoleFunction::ALL {
            for l in [Level::Add, Level::Edit, Level::Delete, Level::Inquire] {
                r.set(f, l, Access::All);
            }
        }
        r
    }

    /// Sets one level.
    pub fn set(&mut self, function: RoleFunction, level: Level, access: Access) {
        self.levels.entry(function).or_insert([Access::None; 4])[level.index()] = access;
    }

    /// Builder form of [`Role::set`].
    pub fn with(mut self, function: RoleFunction, level: Level, access: Access) -> Self {
        self.set(function, level, access);
        self
    }

    /// The access of one level.
    pub fn get(&self, function: RoleFunction, level: Level) -> Access {
        self.levels
            .get(&function)
            .map(|l| l[level.index()])
            .unwrap_or(Access::None)
    }

    /// Whether the level is anything but `None`.
    pub fn allows(&self, function: RoleFunction, level: Level) -> bool {
        self.get(function, level) != Access::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_role_matches_the_setup_page() {
        let r = Role::seed();
        assert!(r.allows(RoleFunction::CompanyMaintenance, Level::Inquire));
        assert!(!r.allows(RoleFunction::CompanyMaintenance, Level::Add));
        assert!(!r.allows(RoleFunction::CloseServiceTickets, Level::Edit));
        assert!(!r.allows(RoleFunction::Contacts, Level::Inquire));
        for f in RoleFunction::ALL {
            assert!(!r.allows(f, Level::Delete), "{f:?}");
        }
        assert!(Role::full().allows(RoleFunction::Contacts, Level::Delete));
    }
}
