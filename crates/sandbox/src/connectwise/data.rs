//! In-memory state of the emulated site: one table of JSON records per resource, seeded from the
//! [`World`](crate::world::World).
//!
//! Records are stored in their wire form (camelCase keys, references as `{id, name…}` without `_info`);
//! reference `_info` hrefs are added when rendering, because they depend on the current codebase.

use super::roles::Role;
use crate::world::{AGREEMENT_TYPES, World};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A JSON object record.
pub type Record = Map<String, Value>;

/// Every table the emulator stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Table {
    /// Companies (`company/companies`), one per customer or extra company of the world.
    Companies,
    /// Company statuses (`company/companies/statuses`): `Active`, `Inactive`.
    CompanyStatuses,
    /// Company types (`company/companies/types`): `Client`, `Prospect`, `Vendor`, `Partner`.
    CompanyTypes,
    /// Contacts (`company/contacts`), at most one seeded per company.
    Contacts,
    /// Agreements (`finance/agreements`) of the companies.
    Agreements,
    /// Agreement types (`finance/agreements/types`), from [`AGREEMENT_TYPES`].
    AgreementTypes,
    /// Agreement additions (`finance/agreements/{id}/additions`): the billed products and quantities.
    Additions,
    /// Product catalog items (`procurement/catalog`) that additions point to.
    Catalog,
    /// Product categories (`procurement/categories`), a setup table.
    Categories,
    /// Product subcategories (`procurement/categories/{id}/subcategories`), each under a category.
    Subcategories,
    /// Product types (`procurement/types`), a setup table.
    ProductTypes,
    /// Manufacturers (`procurement/manufacturers`), a setup table.
    Manufacturers,
    /// Service boards (`service/boards`): `Help Desk`, `Security Alerts`, `Projects`.
    Boards,
    /// Ticket statuses of a board (`service/boards/{id}/statuses`); `closedStatus` marks the closed ones.
    BoardStatuses,
    /// Ticket types of a board (`service/boards/{id}/types`).
    BoardTypes,
    /// Ticket subtypes of a board (`service/boards/{id}/subtypes`).
    BoardSubtypes,
    /// Ticket items of a board (`service/boards/{id}/items`).
    BoardItems,
    /// Ticket priorities (`service/priorities`).
    Priorities,
    /// Ticket sources (`service/sources`), e.g. `Email`, `Phone`.
    Sources,
    /// Service tickets (`service/tickets`), the alert tickets among them.
    Tickets,
    /// Ticket notes (`service/tickets/{id}/notes`), each with its `ticketId`.
    Notes,
    /// Members (`system/members`), the API members among them.
    Members,
    /// Callback registrations (`system/callbacks`); none are seeded.
    Callbacks,
}

impl Table {
    /// Every table, in declaration order (what the store creates and `snapshot` covers).
    pub const ALL: [Table; 23] = [
        Self::Companies,
        Self::CompanyStatuses,
        Self::CompanyTypes,
        Self::Contacts,
        Self::Agreements,
        Self::AgreementTypes,
        Self::Additions,
        Self::Catalog,
        Self::Categories,
        Self::Subcategories,
        Self::ProductTypes,
        Self::Manufacturers,
        Self::Boards,
        Self::BoardStatuses,
        Self::BoardTypes,
        Self::BoardSubtypes,
        Self::BoardItems,
        Self::Priorities,
        Self::Sources,
        Self::Tickets,
        Self::Notes,
        Self::Members,
        Self::Callbacks,
    ];

    /// Key used in [`snapshot`](super::CwEmulator::snapshot) output.
    pub fn key(self) -> &'static str {
        match self {
            Self::Companies => "companies",
            Self::CompanyStatuses => "companyStatuses",
            Self::CompanyTypes => "companyTypes",
            Self::Contacts => "contacts",
            Self::Agreements => "agreements",
            Self::AgreementTypes => "agreementTypes",
            Self::Additions => "additions",
            Self::Catalog => "catalog",
            Self::Categories => "categories",
            Self::Subcategories => "subcategories",
            Self::ProductTypes => "productTypes",
            Self::Manufacturers => "manufacturers",
            Self::Boards => "boards",
            Self::BoardStatuses => "boardStatuses",
            Self::BoardTypes => "boardTypes",
            Self::BoardSubtypes => "boardSubtypes",
            Self::BoardItems => "boardItems",
            Self::Priorities => "priorities",
            Self::Sources => "sources",
            Self::Tickets => "tickets",
            Self::Notes => "notes",
            Self::Members => "members",
            Self::Callbacks => "callbacks",
        }
    }
}

/// An API member's keys and role.
#[derive(Debug, Clone)]
pub(crate) struct ApiKey {
    pub member_id: i64,
    pub member_identifier: String,
    pub public_key: String,
    pub private_key: secrecy::SecretString,
    pub role: Role,
}

/// The whole mutable state.
#[derive(Debug)]
pub(crate) struct Store {
    pub tables: BTreeMap<Table, BTreeMap<i64, Record>>,
    next_ids: BTreeMap<Table, i64>,
    /// POST-only ticket fields (`initialDescription`, …), never returned by the API.
    pub hidden: BTreeMap<i64, Record>,
    /// Per agreement: additions may not change on or before this instant.
    pub invoiced_through: BTreeMap<i64, Timestamp>,
    /// What the reports offer: hidden reports, dropped columns, a lagging copy.
    pub reports: super::reports::ReportKnobs,
    pub keys: Vec<ApiKey>,
    pub codebase: String,
}

/// `2024-03-01T00:00:00Z` (whole seconds, always `Z`).
pub(super) fn fmt_ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Who entered the seeded records.
const SEED_BY: &str = "admin1";

fn ts(secs: i64) -> String {
    fmt_ts(Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// 2024-01-01T00:00:00Z: seeded records are dated from here, so snapshots are stable.
const SEED_EPOCH: i64 = 1_704_067_200;
const DAY: i64 = 86_400;

fn info(entered: i64, by: &str) -> Value {
    json!({"lastUpdated": ts(entered), "updatedBy": by, "dateEntered": ts(entered), "enteredBy": by})
}

fn obj(v: Value) -> Record {
    match v {
        Value::Object(m) => m,
        _ => Record::new(),
    }
}

/// A reference as stored: `{id, name}`.
pub(super) fn name_ref(r: &Record) -> Value {
    json!({"id": r.get("id").cloned().unwrap_or(Value::Null), "name": r.get("name").cloned().unwrap_or(Value::Null)})
}

const FIRST_NAMES: &[&str] = &[
    "Ana", "João", "Maria", "Pedro", "Lucía", "Sean", "Priya", "Jürgen", "Chloé", "Kwame", "Mei",
    "Liam",
];
const LAST_NAMES: &[&str] = &[
    "Silva", "O'Connor", "Souza", "Müller", "García", "Nguyen", "Smith", "Costa", "Dubois",
    "Okafor",
];

impl Store {
    pub(crate) fn empty(codebase: String) -> Self {
        Self {
            tables: Table::ALL.iter().map(|t| (*t, BTreeMap::new())).collect(),
            next_ids: BTreeMap::new(),
            hidden: BTreeMap::new(),
            invoiced_through: BTreeMap::new(),
            reports: super::reports::ReportKnobs::default(),
            keys: Vec::new(),
            codebase,
        }
    }

    pub(crate) fn table(&self, t: Table) -> &BTreeMap<i64, Record> {
        // Every table is created in `empty`; the fallback only keeps this total.
        static EMPTY: BTreeMap<i64, Record> = BTreeMap::new();
        self.tables.get(&t).unwrap_or(&EMPTY)
    }

    pub(crate) fn table_mut(&mut self, t: Table) -> &mut BTreeMap<i64, Record> {
        self.tables.entry(t).or_default()
    }

    pub(crate) fn get(&self, t: Table, id: i64) -> Option<&Record> {
        self.table(t).get(&id)
    }

    /// Reserves the next id of a table.
    pub(crate) fn next_id(&mut self, t: Table) -> i64 {
        let start = match t {
            Table::Companies => 250,
            Table::Members => 150,
            Table::Contacts => 2000,
            Table::Tickets => 1001,
            Table::Catalog => 101,
            Table::Agreements => 11,
            Table::Additions => 5001,
            Table::Notes => 9001,
            _ => 1,
        };
        let max_existing = self
            .table(t)
            .keys()
            .next_back()
            .map(|k| k + 1)
            .unwrap_or(start);
        let next = self
            .next_ids
            .get(&t)
            .copied()
            .unwrap_or(start)
            .max(max_existing)
            .max(start);
        self.next_ids.insert(t, next + 1);
        next
    }

    /// Inserts a record with a fresh id (set into the record) and returns the id.
    pub(crate) fn insert(&mut self, t: Table, mut r: Record) -> i64 {
        let id = self.next_id(t);
        r.insert("id".into(), json!(id));
        self.table_mut(t).insert(id, r);
        id
    }

    /// Inserts a seed record built from JSON; returns its id.
    fn add(&mut self, t: Table, v: Value) -> i64 {
        self.insert(t, obj(v))
    }

    /// Finds a record by a string field, case-insensitively.
    pub(crate) fn find_by(&self, t: Table, field: &str, value: &str) -> Option<&Record> {
        self.table(t).values().find(|r| {
            r.get(field)
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(value))
        })
    }

    /// The whole data set as JSON (tables by key, plus hidden fields and invoiced dates).
    pub(crate) fn snapshot(&self) -> Value {
        let mut out = Map::new();
        for (t, rows) in &self.tables {
            out.insert(
                t.key().into(),
                Value::Array(rows.values().cloned().map(Value::Object).collect()),
            );
        }
        out.insert(
            "ticketHiddenFields".into(),
            Value::Object(
                self.hidden
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::Object(v.clone())))
                    .collect(),
            ),
        );
        out.insert(
            "invoicedThrough".into(),
            Value::Object(
                self.invoiced_through
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(fmt_ts(*v))))
                    .collect(),
            ),
        );
        Value::Object(out)
    }

    /// Seeds everything from the world: setup tables, members (the API member `apisophos` among
    /// them; its key and role are added by `CwEmulator::spawn`), companies, catalog, service desk.
    pub(crate) fn seed(world: &World, codebase: String) -> Self {
        let mut s = Self::empty(codebase);
        seed_company_setup(&mut s);
        // Members first: records reference them.
        seed_members(&mut s);
        seed_companies(&mut s, world);
        seed_catalog(&mut s);
        seed_service_desk(&mut s);
        seed_sample_tickets(&mut s);
        s
    }
}

/// Company statuses and types, agreement types.
fn seed_company_setup(s: &mut Store) {
    let by = SEED_BY;

    for (name, default) in [("Active", true), ("Inactive", false)] {
        s.add(Table::CompanyStatuses,
            json!({"name": name, "defaultFlag": default, "inactiveFlag": name == "Inactive", "notifyFlag": false, "disallowSavingFlag": false, "_info": info(SEED_EPOCH, by)}),
        );
    }
    for (name, default, vendor) in [
        ("Client", true, false),
        ("Prospect", false, false),
        ("Vendor", false, true),
        ("Partner", false, false),
    ] {
        s.add(Table::CompanyTypes,
            json!({"name": name, "defaultFlag": default, "vendorFlag": vendor, "_info": info(SEED_EPOCH, by)}),
        );
    }
    for (i, name) in AGREEMENT_TYPES.iter().enumerate() {
        s.add(Table::AgreementTypes,
            json!({"name": name, "prefixSuffixOption": "Prefix", "defaultFlag": i == 0, "inactiveFlag": false, "prorateFlag": false, "invoiceDescription": null, "_info": info(SEED_EPOCH, by)}),
        );
    }
}

/// The MSP's members, the API member among them.
fn seed_members(s: &mut Store) {
    let by = SEED_BY;
    for (ident, first, last, class, email) in [
        (
            "admin1",
            "Alex",
            "Admin",
            "F",
            "alex.admin@bridgewater.example",
        ),
        (
            "mlopes",
            "Marina",
            "Lopes",
            "F",
            "marina.lopes@bridgewater.example",
        ),
        (
            "tobrien",
            "Tom",
            "O'Brien",
            "F",
            "tom.obrien@bridgewater.example",
        ),
        (
            "apisophos",
            "Sophos",
            "Integration",
            "A",
            "integrations@bridgewater.example",
        ),
    ] {
        let mut rec = obj(
            json!({"identifier": ident, "firstName": first, "lastName": last, "inactiveFlag": false, "licenseClass": class, "officeEmail": email, "securityRole": {"id": if class == "A" { 63 } else { 1 }, "name": if class == "A" { "Sophos Integration" } else { "Admin" }}, "_info": info(SEED_EPOCH, by)}),
        );
        rec.extend(member_settings());
        rec.insert("hireDate".into(), json!(ts(SEED_EPOCH - 200 * DAY)));
        s.insert(Table::Members, rec);
    }
}

/// The fields every member record carries besides its names, role and `hireDate` (the spec
/// requires them, so strict clients check them), with ConnectWise's defaults.
pub(super) fn member_settings() -> Record {
    obj(json!({
        "defaultEmail": "Office",
        "defaultPhone": "Office",
        "agreementInvoicingDisplayOptions": "RemainOnInvoicingScreen",
        "invoicingDisplayOptions": "RemainOnInvoicingScreen",
        "invoiceScreenDefaultTabFormat": "ShowInvoicingTab",
    }))
}

/// One company per customer of the world, with a contact and its agreements.
fn seed_companies(s: &mut Store, world: &World) {
    let by = SEED_BY;
    let client_type = s
        .get(Table::CompanyTypes, 1)
        .map(name_ref)
        .unwrap_or(Value::Null);
    let company_statuses: Vec<Value> = s
        .table(Table::CompanyStatuses)
        .values()
        .map(name_ref)
        .collect();
    let type_refs: Vec<Value> = s
        .table(Table::CompanyTypes)
        .values()
        .map(name_ref)
        .collect();
    let agreement_types: Vec<Value> = s
        .table(Table::AgreementTypes)
        .values()
        .map(name_ref)
        .collect();
    let mut company_index = 0usize;
    for customer in &world.customers {
        let Some(c) = &customer.company else { continue };
        let id = 250 + company_index as i64;
        let entered = SEED_EPOCH + (company_index as i64 % 300) * DAY;
        let status = if c.status == "Active" {
            &company_statuses[0]
        } else {
            &company_statuses[1]
        };
        let mut types = vec![client_type.clone()];
        if customer.tenant.is_none() && company_index % 2 == 1 {
            types = vec![type_refs[2].clone()];
        }
        if company_index % 11 == 3 {
            types.push(type_refs[3].clone());
        }
        let rec = json!({
            "id": id, "identifier": c.identifier, "name": c.name, "status": status,
            "types": types, "addressLine1": format!("{} Main Street", 10 + company_index % 90),
            "addressLine2": null, "city": c.city, "state": null, "zip": format!("{:05}", 10000 + company_index * 37 % 89999),
            "country": {"id": 1, "name": "United States"}, "phoneNumber": format!("555{:07}", company_index * 7919 % 10_000_000),
            "faxNumber": "", "website": format!("www.{}.example", c.identifier.to_ascii_lowercase()),
            "territory": {"id": 1, "name": "Main"}, "market": {"id": 1, "name": "Other"},
            "accountNumber": "", "deletedFlag": c.deleted,
            "dateDeleted": if c.deleted { Value::from(ts(entered + 200 * DAY)) } else { Value::Null },
            "deletedBy": if c.deleted { Value::from(by) } else { Value::Null },
            "mobileGuid": null, "customFields": [], "_info": info(entered, by),
        });
        s.table_mut(Table::Companies).insert(id, obj(rec));
        let company_ref = json!({"id": id, "identifier": c.identifier, "name": c.name});

        let contact_ref = if company_index % 3 != 2 {
            let first = FIRST_NAMES[company_index % FIRST_NAMES.len()];
            let last = LAST_NAMES[(company_index / 3) % LAST_NAMES.len()];
            let email = format!(
                "{}.{}@{}.example",
                first.to_lowercase(),
                last.to_lowercase().replace('\'', ""),
                c.identifier.to_ascii_lowercase()
            );
            let cid = s.add(Table::Contacts,
                json!({
                "firstName": first, "lastName": last, "company": company_ref, "inactiveFlag": false,
                "title": "IT Contact", "defaultFlag": true,
                "communicationItems": [{"id": 1, "type": {"id": 1, "name": "Email"}, "value": email, "defaultFlag": true, "communicationType": "Email"}],
                "_info": info(entered, by)}),
            );
            json!({"id": cid, "name": format!("{first} {last}")})
        } else {
            Value::Null
        };

        for (k, a) in c.agreements.iter().enumerate() {
            let type_idx = AGREEMENT_TYPES
                .iter()
                .position(|t| *t == a.type_name)
                .unwrap_or(0);
            let start =
                SEED_EPOCH - 400 * DAY + ((company_index * 37 + k * 101) as i64 % 500) * DAY;
            let (cancelled, end) = match a.status {
                "Cancelled" => (true, Some(start + 300 * DAY)),
                "Expired" => (false, Some(start + 365 * DAY)),
                _ => (false, None),
            };
            let cycle = if a.billing_cycle == "None" {
                json!({"id": 5, "name": "None"})
            } else {
                json!({"id": 2, "name": "Monthly"})
            };
            s.add(Table::Agreements,
                json!({
                "name": a.name, "type": agreement_types[type_idx], "company": company_ref, "contact": contact_ref,
                "startDate": ts(start), "endDate": end.map(ts), "noEndingDateFlag": end.is_none(),
                "cancelledFlag": cancelled, "dateCancelled": if cancelled { end.map(ts) } else { None },
                "reasonCancelled": if cancelled { Some("Customer left") } else { None },
                "agreementStatus": a.status, "billingCycle": cycle, "prorateFlag": false,
                "billAmount": 0.0, "customerPO": "", "parentAgreement": null, "applicationUnits": "Amount",
                "billOneTimeFlag": false, "invoiceDescription": "", "_info": info(start, by)}),
            );
        }
        company_index += 1;
    }
}

/// Product categories, subcategories, types, manufacturers and catalog items.
fn seed_catalog(s: &mut Store) {
    let by = SEED_BY;
    for name in ["Hardware", "Software", "Services", "Agreements"] {
        s.add(Table::Categories,
            json!({"name": name, "inactiveFlag": false, "integrationXref": null, "_info": info(SEED_EPOCH, by)}),
        );
    }
    for (name, cat) in [
        ("Laptops", 1),
        ("Networking", 1),
        ("Licenses", 2),
        ("Subscriptions", 2),
        ("Labor", 3),
        ("Managed Services", 4),
    ] {
        let cref = s
            .get(Table::Categories, cat)
            .map(name_ref)
            .unwrap_or(Value::Null);
        s.add(Table::Subcategories,
            json!({"name": name, "category": cref, "inactiveFlag": false, "_info": info(SEED_EPOCH, by)}),
        );
    }
    for (name, default) in [
        ("Hardware", false),
        ("Software", true),
        ("Service", false),
        ("Subscription", false),
    ] {
        s.add(Table::ProductTypes,
            json!({"name": name, "inactiveFlag": false, "defaultFlag": default, "_info": info(SEED_EPOCH, by)}),
        );
    }
    for name in ["Microsoft", "Dell", "Ubiquiti", "Datto", "Fortinet"] {
        s.add(
            Table::Manufacturers,
            json!({"name": name, "inactiveFlag": false, "_info": info(SEED_EPOCH, by)}),
        );
    }
    for (ident, desc, cat, sub, typ, man, price, cost, class) in [
        (
            "M365-BP",
            "Microsoft 365 Business Premium",
            2,
            4,
            4,
            Some(1),
            22.0,
            18.7,
            "Agreement",
        ),
        (
            "M365-E3",
            "Microsoft 365 E3",
            2,
            4,
            4,
            Some(1),
            36.0,
            30.6,
            "Agreement",
        ),
        (
            "DELL-LAT-5440",
            "Dell Latitude 5440 Laptop",
            1,
            1,
            1,
            Some(2),
            1249.0,
            1020.0,
            "Inventory",
        ),
        (
            "UBNT-U6-PRO",
            "Ubiquiti UniFi U6 Pro Access Point",
            1,
            2,
            1,
            Some(3),
            159.0,
            129.0,
            "Inventory",
        ),
        (
            "DATTO-SIRIS-BKP",
            "Datto SIRIS Backup per Server",
            4,
            6,
            3,
            Some(4),
            95.0,
            60.0,
            "Agreement",
        ),
        (
            "LABOR-REMOTE",
            "Remote Labor (hourly)",
            3,
            5,
            3,
            None,
            125.0,
            0.0,
            "Service",
        ),
    ] {
        let r = |t: Table, id: i64| s.get(t, id).map(name_ref).unwrap_or(Value::Null);
        let rec = json!({
            "identifier": ident, "description": desc, "customerDescription": desc, "inactiveFlag": false,
            "subcategory": r(Table::Subcategories, sub), "type": r(Table::ProductTypes, typ),
            "category": r(Table::Categories, cat), "manufacturer": man.map(|m| r(Table::Manufacturers, m)),
            "productClass": class, "serializedFlag": false, "serializedCostFlag": false, "phaseProductFlag": false,
            "unitOfMeasure": {"id": 1, "name": "Each"}, "price": price, "cost": cost, "priceAttribute": "FixedFee",
            "taxableFlag": class == "Inventory", "dropShipFlag": false, "specialOrderFlag": false, "customerDescriptionFlag": false,
            "billableOption": "Billable", "manufacturerPartNumber": null, "vendorSku": null, "integrationXRef": null,
            "recurringFlag": class == "Agreement", "customFields": [], "_info": info(SEED_EPOCH, by)});
        s.add(Table::Catalog, rec);
    }
}

/// Service boards with their statuses, types and subtypes; priorities and sources.
fn seed_service_desk(s: &mut Store) {
    let by = SEED_BY;
    for name in ["Help Desk", "Security Alerts", "Projects"] {
        let bid = s.add(Table::Boards,
            json!({"name": name, "location": {"id": 2, "name": "Main Office"}, "department": {"id": 10, "name": "Service"}, "inactiveFlag": false, "signOffTemplate": null, "projectFlag": name == "Projects", "autoCloseStatus": null, "_info": info(SEED_EPOCH, by)}),
        );
        let bref = json!({"id": bid, "name": name});
        for (i, (st, closed, esc)) in [
            ("New", false, "NotResponded"),
            ("In Progress", false, "Responded"),
            ("Waiting on Customer", false, "Responded"),
            ("Resolved", false, "Resolved"),
            ("Completed", true, "Resolved"),
            ("Closed", true, "NoEscalation"),
        ]
        .iter()
        .enumerate()
        {
            s.add(Table::BoardStatuses,
                json!({"name": st, "board": bref, "sortOrder": i, "displayOnBoard": !closed, "inactive": false, "closedStatus": closed, "timeEntryNotAllowed": closed, "defaultFlag": i == 0, "escalationStatus": esc, "customerPortalDescription": null, "_info": info(SEED_EPOCH, by)}),
            );
        }
        let mut type_ids = Vec::new();
        for (i, (ty, cat)) in [
            ("Incident", "Reactive"),
            ("Service Request", "Reactive"),
            ("Alert", "Reactive"),
            ("Maintenance", "Proactive"),
        ]
        .iter()
        .enumerate()
        {
            type_ids.push(s.add(Table::BoardTypes, json!({"name": ty, "board": bref, "category": cat, "defaultFlag": i == 0, "inactiveFlag": false, "requestForChangeFlag": false, "_info": info(SEED_EPOCH, by)})));
        }
        for st in [
            "Malware",
            "Phishing",
            "Hardware Failure",
            "Policy Violation",
        ] {
            s.add(Table::BoardSubtypes,
                json!({"name": st, "board": bref, "inactiveFlag": false, "typeAssociationIds": type_ids, "_info": info(SEED_EPOCH, by)}),
            );
        }
        for it in ["Endpoint", "Server", "Network"] {
            s.add(Table::BoardItems,
                json!({"name": it, "board": bref, "inactiveFlag": false, "_info": info(SEED_EPOCH, by)}),
            );
        }
    }
    // Colours and levels are the spec's enum names (strict clients refuse a hex colour).
    for (i, (name, color, level)) in [
        ("Priority 1 - Emergency Response", "Red", "Critical"),
        ("Priority 2 - Quick Response", "Orange", "High"),
        ("Priority 3 - Normal Response", "Green", "Medium"),
        ("Priority 4 - Low", "Blue", "Low"),
    ]
    .iter()
    .enumerate()
    {
        s.add(Table::Priorities,
            json!({"name": name, "color": color, "sortOrder": i + 1, "defaultFlag": i == 2, "level": level, "_info": info(SEED_EPOCH, by)}),
        );
    }
    for (name, default) in [("Email", true), ("Phone", false), ("Portal", false)] {
        s.add(Table::Sources,
            json!({"name": name, "defaultFlag": default, "enteredBy": by, "_info": info(SEED_EPOCH, by)}),
        );
    }
}

/// A few ordinary tickets so queries are not trivially empty.
fn seed_sample_tickets(s: &mut Store) {
    let companies: Vec<Value> = s
        .table(Table::Companies)
        .values()
        .filter(|c| c.get("deletedFlag") == Some(&Value::Bool(false)))
        .take(6)
        .map(|c| json!({"id": c["id"], "identifier": c["identifier"], "name": c["name"]}))
        .collect();
    let statuses: Vec<Record> = s
        .table(Table::BoardStatuses)
        .values()
        .filter(|r| r["board"]["id"] == json!(1))
        .cloned()
        .collect();
    for (i, (summary, st)) in [
        ("Printer offline on 2nd floor", 0usize),
        ("New starter laptop setup", 1),
        ("VPN drops every hour", 2),
        ("Password reset for finance user", 5),
        ("Outlook keeps asking for password", 0),
        ("Replace failing switch", 4),
        ("Quarterly patch review", 1),
        ("Email bounce from O'Brien & Co", 0),
    ]
    .iter()
    .enumerate()
    {
        let Some(company) = companies.get(i % companies.len().max(1)) else {
            break;
        };
        let status = &statuses[*st];
        let closed = status["closedStatus"] == json!(true);
        let entered = SEED_EPOCH + 600 * DAY + i as i64 * 3_600;
        let tid = s.add(Table::Tickets,
            json!({
            "summary": summary, "recordType": "ServiceTicket", "board": {"id": 1, "name": "Help Desk"},
            "status": name_ref(status), "company": company, "contact": null, "type": {"id": 1, "name": "Incident"},
            "subType": null, "item": null, "priority": {"id": 3, "name": "Priority 3 - Normal Response"},
            "source": {"id": 2, "name": "Phone"}, "severity": "Medium", "impact": "Medium", "agreement": null,
            "externalXRef": null, "poNumber": null, "closedFlag": closed,
            "closedDate": if closed { Value::from(ts(entered + DAY)) } else { Value::Null },
            "closedBy": if closed { Value::from("mlopes") } else { Value::Null },
            "customerUpdatedFlag": false, "automaticEmailContactFlag": false, "processNotifications": true,
            "customFields": [], "integratorTags": [], "_info": info(entered, "mlopes")}),
        );
        s.add(Table::Notes,
            json!({"ticketId": tid, "text": format!("Customer reported: {summary}."), "detailDescriptionFlag": true, "internalAnalysisFlag": false, "resolutionFlag": false, "issueFlag": false, "member": {"id": 151, "identifier": "mlopes", "name": "Marina Lopes"}, "contact": null, "customerUpdatedFlag": false, "processNotifications": false, "dateCreated": ts(entered), "createdBy": "mlopes", "internalFlag": false, "externalFlag": true, "_info": info(entered, "mlopes")}),
        );
    }
}
