//! Per-resource rules: fields (types, required, max lengths, enums, references), defaults, and the
//! business rules of the reference (catalog identifier uniqueness, closing tickets, note display flags,
//! invoiced periods on additions…).

use super::data::{Record, Store, Table, fmt_ts, name_ref};
use super::roles::{Level, Role, RoleFunction};
use super::wire::{ApiError, FieldError};
use jiff::Timestamp;
use serde_json::{Value, json};

/// The type of a writable field.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// A string with an optional maximum length in characters.
    Str(Option<usize>),
    Int,
    Num,
    Bool,
    Date,
    Enum(&'static [&'static str]),
    Ref(Table),
    /// Stored as given (arrays, free-form references).
    Any,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
    }
}
const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
    }
}
const fn s(max: usize) -> Kind {
    Kind::Str(Some(max))
}
const TEXT: Kind = Kind::Str(None);
const B: Kind = Kind::Bool;

pub(super) const AGREEMENT_STATUS: &[&str] = &["Active", "Cancelled", "Expired", "Inactive"];
pub(super) const BILL_CUSTOMER: &[&str] = &["Billable", "DoNotBill", "NoCharge"];
pub(super) const PRODUCT_CLASS: &[&str] = &[
    "Agreement",
    "Bundle",
    "Inventory",
    "NonInventory",
    "Service",
];
pub(super) const PRICE_ATTRIBUTE: &[&str] = &[
    "FixedFee",
    "NotToExceed",
    "OverrideRate",
    "TimeAndMaterials",
];
pub(super) const BILLABLE_OPTION: &[&str] = &["Billable", "DoNotBill", "NoCharge", "NoDefault"];
pub(super) const RECORD_TYPE: &[&str] = &["ServiceTicket", "ProjectTicket", "ProjectIssue"];
pub(super) const LOW_MED_HIGH: &[&str] = &["Low", "Medium", "High"];
pub(super) const ESCALATION: &[&str] = &[
    "NotResponded",
    "Responded",
    "ResolutionPlan",
    "Resolved",
    "NoEscalation",
];
pub(super) const TYPE_CATEGORY: &[&str] = &["Reactive", "Proactive"];
pub(super) const LICENSE_CLASS: &[&str] = &["F", "A", "C", "X"];
/// A priority's `color`, as the spec names them (never a hex string).
pub(super) const PRIORITY_COLOR: &[&str] = &[
    "Black", "Blue", "Cyan", "Gray", "Green", "Lime", "Orange", "Pink", "Purple", "Red", "White",
    "Yellow", "Custom",
];
pub(super) const PRIORITY_LEVEL: &[&str] = &["Critical", "High", "Medium", "Low"];
pub(super) const OFFICE_MOBILE_HOME: &[&str] = &["Office", "Mobile", "Home"];
pub(super) const INVOICING_DISPLAY: &[&str] = &["RemainOnInvoicingScreen", "ShowRecentInvoices"];
pub(super) const INVOICE_TAB: &[&str] = &["ShowInvoicingTab", "ShowAgreementInvoicingTab"];

/// Everything the server needs to know about one table.
#[derive(Debug)]
pub(super) struct Spec {
    pub table: Table,
    /// `resource` in error items and "{resource} object is invalid".
    pub resource: &'static str,
    /// Used in "{label} {id} not found".
    pub label: &'static str,
    pub function: RoleFunction,
    /// Setup tables answer GETs to any member; writes need Table Setup.
    pub setup: bool,
    pub fields: &'static [Field],
    /// For child tables: the field holding the parent and the parent's table.
    pub parent: Option<(&'static str, Table)>,
    /// API path; `{p}` is the parent id.
    pub path: &'static str,
}

macro_rules! spec {
    ($t:ident, $res:literal, $label:literal, $func:ident, $setup:literal, $path:literal, $parent:expr, [$($field:expr),* $(,)?]) => {
        Spec { table: Table::$t, resource: $res, label: $label, function: RoleFunction::$func, setup: $setup,
               fields: &[$($field),*], parent: $parent, path: $path }
    };
}

static SPECS: &[Spec] = &[
    spec!(
        Companies,
        "company",
        "Company",
        CompanyMaintenance,
        false,
        "company/companies",
        None,
        [
            req("identifier", s(30)),
            req("name", s(50)),
            f("status", Kind::Ref(Table::CompanyStatuses)),
            f("types", Kind::Any),
            f("addressLine1", s(50)),
            f("addressLine2", s(50)),
            f("city", s(50)),
            f("state", s(50)),
            f("zip", s(12)),
            f("country", Kind::Any),
            f("phoneNumber", s(30)),
            f("faxNumber", s(30)),
            f("website", s(255)),
            f("territory", Kind::Any),
            f("market", Kind::Any),
            f("accountNumber", s(30)),
            f("deletedFlag", B),
            f("customFields", Kind::Any),
        ]
    ),
    spec!(
        CompanyStatuses,
        "companyStatus",
        "Company Status",
        TableSetup,
        true,
        "company/companies/statuses",
        None,
        [
            req("name", s(50)),
            f("defaultFlag", B),
            f("inactiveFlag", B),
            f("notifyFlag", B),
            f("disallowSavingFlag", B),
        ]
    ),
    spec!(
        CompanyTypes,
        "companyType",
        "Company Type",
        TableSetup,
        true,
        "company/companies/types",
        None,
        [req("name", s(50)), f("defaultFlag", B), f("vendorFlag", B),]
    ),
    spec!(
        Contacts,
        "contact",
        "Contact",
        Contacts,
        false,
        "company/contacts",
        None,
        [
            req("firstName", s(30)),
            f("lastName", s(30)),
            f("company", Kind::Ref(Table::Companies)),
            f("inactiveFlag", B),
            f("title", s(100)),
            f("defaultFlag", B),
            f("communicationItems", Kind::Any),
        ]
    ),
    spec!(
        Agreements,
        "agreement",
        "Agreement",
        Agreements,
        false,
        "finance/agreements",
        None,
        [
            req("name", s(100)),
            req("type", Kind::Ref(Table::AgreementTypes)),
            req("company", Kind::Ref(Table::Companies)),
            req("contact", Kind::Ref(Table::Contacts)),
            f("startDate", Kind::Date),
            f("endDate", Kind::Date),
            f("noEndingDateFlag", B),
            f("cancelledFlag", B),
            f("dateCancelled", Kind::Date),
            f("reasonCancelled", s(100)),
            f("agreementStatus", Kind::Enum(AGREEMENT_STATUS)),
            f("billingCycle", Kind::Any),
            f("prorateFlag", B),
            f("billAmount", Kind::Num),
            f("customerPO", s(50)),
            f("parentAgreement", Kind::Any),
            f("applicationUnits", Kind::Any),
            f("billOneTimeFlag", B),
            f("invoiceDescription", s(4000)),
            f("customFields", Kind::Any),
        ]
    ),
    spec!(
        AgreementTypes,
        "agreementType",
        "Agreement Type",
        TableSetup,
        true,
        "finance/agreements/types",
        None,
        [
            req("name", s(50)),
            f("prefixSuffixOption", Kind::Any),
            f("defaultFlag", B),
            f("inactiveFlag", B),
            f("prorateFlag", B),
            f("invoiceDescription", s(4000)),
        ]
    ),
    spec!(
        Additions,
        "agreementAddition",
        "Addition",
        Agreements,
        false,
        "finance/agreements/{p}/additions",
        Some(("agreementId", Table::Agreements)),
        [
            req("product", Kind::Ref(Table::Catalog)),
            f("quantity", Kind::Num),
            f("lessIncluded", Kind::Num),
            f("unitPrice", Kind::Num),
            f("unitCost", Kind::Num),
            req("billCustomer", Kind::Enum(BILL_CUSTOMER)),
            f("effectiveDate", Kind::Date),
            f("cancelledDate", Kind::Date),
            f("taxableFlag", B),
            f("serialNumber", s(50)),
            f("invoiceDescription", s(6000)),
            f("description", s(6000)),
            f("purchaseItemFlag", B),
            f("specialOrderFlag", B),
            f("uom", s(30)),
            f("prorateCurrentPeriodFlag", B),
            f("customFields", Kind::Any),
        ]
    ),
    spec!(
        Catalog,
        "catalogItem",
        "Product",
        ProductCatalog,
        false,
        "procurement/catalog",
        None,
        [
            req("identifier", s(75)),
            req("description", s(60)),
            req("customerDescription", s(6000)),
            req("subcategory", Kind::Ref(Table::Subcategories)),
            req("type", Kind::Ref(Table::ProductTypes)),
            f("category", Kind::Ref(Table::Categories)),
            f("manufacturer", Kind::Ref(Table::Manufacturers)),
            f("productClass", Kind::Enum(PRODUCT_CLASS)),
            f("price", Kind::Num),
            f("cost", Kind::Num),
            f("inactiveFlag", B),
            f("taxableFlag", B),
            f("priceAttribute", Kind::Enum(PRICE_ATTRIBUTE)),
            f("billableOption", Kind::Enum(BILLABLE_OPTION)),
            f("integrationXRef", s(50)),
            f("unitOfMeasure", Kind::Any),
            f("recurringFlag", B),
            f("manufacturerPartNumber", s(50)),
            f("vendorSku", s(50)),
            f("serializedFlag", B),
            f("serializedCostFlag", B),
            f("phaseProductFlag", B),
            f("dropShipFlag", B),
            f("specialOrderFlag", B),
            f("customerDescriptionFlag", B),
            f("customFields", Kind::Any),
        ]
    ),
    spec!(
        Categories,
        "category",
        "Category",
        TableSetup,
        true,
        "procurement/categories",
        None,
        [
            req("name", s(50)),
            f("inactiveFlag", B),
            f("integrationXref", s(50)),
        ]
    ),
    spec!(
        Subcategories,
        "subcategory",
        "Subcategory",
        TableSetup,
        true,
        "procurement/subcategories",
        None,
        [
            req("name", s(50)),
            req("category", Kind::Ref(Table::Categories)),
            f("inactiveFlag", B),
        ]
    ),
    spec!(
        ProductTypes,
        "productType",
        "Product Type",
        TableSetup,
        true,
        "procurement/types",
        None,
        [
            req("name", s(50)),
            f("inactiveFlag", B),
            f("defaultFlag", B),
        ]
    ),
    spec!(
        Manufacturers,
        "manufacturer",
        "Manufacturer",
        TableSetup,
        true,
        "procurement/manufacturers",
        None,
        [req("name", s(50)), f("inactiveFlag", B),]
    ),
    spec!(
        Boards,
        "board",
        "Service Board",
        TableSetup,
        true,
        "service/boards",
        None,
        [
            req("name", s(50)),
            req("location", Kind::Any),
            req("department", Kind::Any),
            f("inactiveFlag", B),
            f("projectFlag", B),
            f("autoCloseStatus", Kind::Any),
            f("signOffTemplate", Kind::Any),
        ]
    ),
    spec!(
        BoardStatuses,
        "boardStatus",
        "Service Status",
        TableSetup,
        true,
        "service/boards/{p}/statuses",
        Some(("board", Table::Boards)),
        [
            req("name", s(50)),
            f("sortOrder", Kind::Int),
            f("displayOnBoard", B),
            f("inactive", B),
            f("closedStatus", B),
            f("timeEntryNotAllowed", B),
            f("defaultFlag", B),
            f("escalationStatus", Kind::Enum(ESCALATION)),
            f("customerPortalDescription", s(500)),
        ]
    ),
    spec!(
        BoardTypes,
        "boardType",
        "Service Type",
        TableSetup,
        true,
        "service/boards/{p}/types",
        Some(("board", Table::Boards)),
        [
            req("name", s(50)),
            f("category", Kind::Enum(TYPE_CATEGORY)),
            f("defaultFlag", B),
            f("inactiveFlag", B),
            f("requestForChangeFlag", B),
        ]
    ),
    spec!(
        BoardSubtypes,
        "boardSubType",
        "Service SubType",
        TableSetup,
        true,
        "service/boards/{p}/subtypes",
        Some(("board", Table::Boards)),
        [
            req("name", s(50)),
            f("inactiveFlag", B),
            f("typeAssociationIds", Kind::Any),
        ]
    ),
    spec!(
        BoardItems,
        "boardItem",
        "Service Item",
        TableSetup,
        true,
        "service/boards/{p}/items",
        Some(("board", Table::Boards)),
        [req("name", s(50)), f("inactiveFlag", B),]
    ),
    spec!(
        Priorities,
        "priority",
        "Priority",
        TableSetup,
        true,
        "service/priorities",
        None,
        [
            req("name", s(50)),
            f("color", Kind::Enum(PRIORITY_COLOR)),
            f("sortOrder", Kind::Int),
            f("defaultFlag", B),
            f("level", Kind::Enum(PRIORITY_LEVEL)),
        ]
    ),
    spec!(
        Sources,
        "source",
        "Source",
        TableSetup,
        true,
        "service/sources",
        None,
        [req("name", s(50)), f("defaultFlag", B),]
    ),
    spec!(
        Tickets,
        "ticket",
        "Ticket",
        ServiceTickets,
        false,
        "service/tickets",
        None,
        [
            req("summary", s(100)),
            f("recordType", Kind::Enum(RECORD_TYPE)),
            f("board", Kind::Ref(Table::Boards)),
            f("status", Kind::Ref(Table::BoardStatuses)),
            req("company", Kind::Ref(Table::Companies)),
            f("contact", Kind::Ref(Table::Contacts)),
            f("contactName", s(62)),
            f("contactEmailAddress", s(250)),
            f("type", Kind::Ref(Table::BoardTypes)),
            f("subType", Kind::Ref(Table::BoardSubtypes)),
            f("item", Kind::Ref(Table::BoardItems)),
            f("priority", Kind::Ref(Table::Priorities)),
            f("source", Kind::Ref(Table::Sources)),
            f("severity", Kind::Enum(LOW_MED_HIGH)),
            f("impact", Kind::Enum(LOW_MED_HIGH)),
            f("agreement", Kind::Ref(Table::Agreements)),
            f("externalXRef", s(100)),
            f("poNumber", s(50)),
            f("automaticEmailCc", s(1000)),
            f("processNotifications", B),
            f("skipCallback", B),
            f("customerUpdatedFlag", B),
            f("automaticEmailContactFlag", B),
            f("customFields", Kind::Any),
            f("integratorTags", Kind::Any),
        ]
    ),
    spec!(
        Notes,
        "serviceNote",
        "Note",
        ServiceTickets,
        false,
        "service/tickets/{p}/notes",
        Some(("ticketId", Table::Tickets)),
        [
            req("text", TEXT),
            f("detailDescriptionFlag", B),
            f("internalAnalysisFlag", B),
            f("resolutionFlag", B),
            f("issueFlag", B),
            f("member", Kind::Ref(Table::Members)),
            f("contact", Kind::Ref(Table::Contacts)),
            f("customerUpdatedFlag", B),
            f("processNotifications", B),
            f("internalFlag", B),
            f("externalFlag", B),
        ]
    ),
    spec!(
        Members,
        "member",
        "Member",
        MemberMaintenance,
        false,
        "system/members",
        None,
        [
            req("identifier", s(15)),
            req("firstName", s(30)),
            req("lastName", s(30)),
            f("inactiveFlag", B),
            f("licenseClass", Kind::Enum(LICENSE_CLASS)),
            f("officeEmail", s(250)),
            f("securityRole", Kind::Any),
            f("hireDate", Kind::Date),
            f("defaultEmail", Kind::Enum(OFFICE_MOBILE_HOME)),
            f("defaultPhone", Kind::Enum(OFFICE_MOBILE_HOME)),
            f(
                "agreementInvoicingDisplayOptions",
                Kind::Enum(INVOICING_DISPLAY)
            ),
            f("invoicingDisplayOptions", Kind::Enum(INVOICING_DISPLAY)),
            f("invoiceScreenDefaultTabFormat", Kind::Enum(INVOICE_TAB)),
        ]
    ),
    spec!(
        Callbacks,
        "callbackEntry",
        "Callback",
        Callbacks,
        false,
        "system/callbacks",
        None,
        [
            req("url", s(1000)),
            req("objectId", Kind::Int),
            req("type", s(50)),
            req("level", s(50)),
            f("description", s(100)),
            f("memberId", Kind::Int),
            f("payloadVersion", s(20)),
            f("inactiveFlag", B),
            f("isSoapCallbackFlag", B),
            f("isSelfSuppressedFlag", B),
        ]
    ),
];

/// The spec of a table.
pub(super) fn spec(t: Table) -> &'static Spec {
    // SPECS lists every table; the index search cannot miss.
    SPECS.iter().find(|s| s.table == t).unwrap_or(&SPECS[0])
}

/// The API path of one record (for hrefs), e.g. `service/boards/1/statuses/3`.
pub(super) fn record_path(store: &Store, t: Table, id: i64) -> String {
    let sp = spec(t);
    let parent_id = sp
        .parent
        .and_then(|(field, _)| store.get(t, id).and_then(|r| parent_of(r, field)));
    let base = match parent_id {
        Some(p) => sp.path.replace("{p}", &p.to_string()),
        None => sp.path.replace("{p}", "0"),
    };
    format!("{base}/{id}")
}

/// The parent id held in `field` (a plain id or a reference).
pub(super) fn parent_of(r: &Record, field: &str) -> Option<i64> {
    match r.get(field)? {
        Value::Number(n) => n.as_i64(),
        Value::Object(o) => o.get("id").and_then(Value::as_i64),
        _ => None,
    }
}

/// A reference to `r` as other records embed it.
pub(super) fn reference(t: Table, r: &Record) -> Value {
    let id = r.get("id").cloned().unwrap_or(Value::Null);
    match t {
        Table::Companies => {
            json!({"id": id, "identifier": r.get("identifier"), "name": r.get("name")})
        }
        Table::Catalog => json!({"id": id, "identifier": r.get("identifier")}),
        Table::Members => {
            json!({"id": id, "identifier": r.get("identifier"), "name": format!("{} {}",
            r.get("firstName").and_then(Value::as_str).unwrap_or(""), r.get("lastName").and_then(Value::as_str).unwrap_or(""))})
        }
        Table::Contacts => json!({"id": id, "name": format!("{} {}",
            r.get("firstName").and_then(Value::as_str).unwrap_or(""), r.get("lastName").and_then(Value::as_str).unwrap_or("")).trim()}),
        _ => name_ref(r),
    }
}

/// Adds `_info` hrefs to the references of a record, for the response.
pub(super) fn render(store: &Store, t: Table, r: &Record, api_base: &str) -> Value {
    let mut out = r.clone();
    for field in spec(t).fields {
        let Kind::Ref(target) = field.kind else {
            continue;
        };
        if let Some(Value::Object(obj)) = out.get_mut(field.name)
            && let Some(id) = obj.get("id").and_then(Value::as_i64)
        {
            let href = format!("{api_base}/{}", record_path(store, target, id));
            obj.insert(
                "_info".into(),
                json!({ format!("{}_href", field.name.to_ascii_lowercase()): href }),
            );
        }
    }
    Value::Object(out)
}

fn pascal(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Finds a body key case-insensitively (JSON.NET binds that way).
fn body_get<'a>(body: &'a Record, name: &str) -> Option<&'a Value> {
    body.get(name).or_else(|| {
        body.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn is_blank(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        _ => false,
    }
}

/// Looks up a reference object by `id`, else `identifier`, else `name`. Deleted companies are not found.
fn lookup<'a>(
    store: &'a Store,
    t: Table,
    obj: &serde_json::Map<String, Value>,
) -> Result<&'a Record, String> {
    let live =
        |r: &&Record| !(t == Table::Companies && r.get("deletedFlag") == Some(&Value::Bool(true)));
    if let Some(id) = obj.get("id").filter(|v| !v.is_null()) {
        let n = id
            .as_i64()
            .or_else(|| id.as_str().and_then(|s| s.parse().ok()));
        return n
            .and_then(|n| store.get(t, n))
            .filter(live)
            .ok_or_else(|| format!("{id}").trim_matches('"').to_owned());
    }
    for key in ["identifier", "name"] {
        if let Some(v) = obj.get(key).and_then(Value::as_str) {
            return store
                .table(t)
                .values()
                .filter(live)
                .find(|r| {
                    r.get(key)
                        .and_then(Value::as_str)
                        .is_some_and(|x| x.eq_ignore_ascii_case(v))
                })
                .ok_or_else(|| v.to_owned());
        }
    }
    Err("null".to_owned())
}

/// Validates `body` against the spec and merges it over `base`. Order: types and max lengths (model
/// binding, top-level errors) → required fields, enums and references (`InvalidObject` items).
pub(super) fn merge(
    store: &Store,
    t: Table,
    body: &Record,
    mut base: Record,
) -> Result<Record, ApiError> {
    let sp = spec(t);
    let mut items = Vec::new();
    for field in sp.fields {
        let Some(v) = body_get(body, field.name) else {
            continue;
        };
        let value = match (field.kind, v) {
            (_, Value::Null) => Value::Null,
            (Kind::Str(max), v) => {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => return Err(ApiError::conversion(other, "String", field.name)),
                };
                if let Some(max) = max
                    && text.chars().count() > max
                {
                    return Err(ApiError::max_length(field.name, max));
                }
                Value::String(text)
            }
            (Kind::Int, v) => match v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            {
                Some(n) => json!(n),
                None => return Err(ApiError::conversion(v, "Int32", field.name)),
            },
            (Kind::Num, v) => match v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            {
                Some(n) => json!(n),
                None => return Err(ApiError::conversion(v, "Double", field.name)),
            },
            (Kind::Bool, Value::Bool(b)) => Value::Bool(*b),
            (Kind::Bool, Value::String(s))
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
            {
                Value::Bool(s.eq_ignore_ascii_case("true"))
            }
            (Kind::Bool, _) => {
                return Err(ApiError::new(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"code": "ConnectWiseApi", "message": "String was not recognized as a valid Boolean."}),
                ));
            }
            (Kind::Date, Value::String(s)) => match super::conditions::parse_datetime(s) {
                Some(ts) => Value::String(fmt_ts(ts)),
                None => return Err(ApiError::conversion(v, "DateTime", field.name)),
            },
            (Kind::Date, other) => return Err(ApiError::conversion(other, "DateTime", field.name)),
            (Kind::Enum(values), Value::String(s)) => {
                match values.iter().find(|e| e.eq_ignore_ascii_case(s)) {
                    Some(e) => json!(e),
                    None => {
                        items.push(FieldError::new(
                            "InvalidField",
                            format!("{} must be one of: {}.", field.name, values.join(", ")),
                            sp.resource,
                            field.name,
                        ));
                        continue;
                    }
                }
            }
            (Kind::Enum(_), other) => {
                return Err(ApiError::conversion(other, field.name, field.name));
            }
            (Kind::Ref(target), Value::Object(obj)) => match lookup(store, target, obj) {
                Ok(r) => reference(target, r),
                Err(shown) => {
                    let key = if obj.contains_key("id") {
                        "id"
                    } else if obj.contains_key("identifier") {
                        "identifier"
                    } else {
                        "name"
                    };
                    items.push(FieldError::new(
                        "NotFound",
                        format!("{} {shown} not found", spec(target).label),
                        sp.resource,
                        &format!("{}/{key}", field.name),
                    ));
                    continue;
                }
            },
            (Kind::Ref(_), other) => {
                return Err(ApiError::conversion(
                    other,
                    &format!("{}Reference", pascal(field.name)),
                    field.name,
                ));
            }
            (Kind::Any, v) => v.clone(),
        };
        base.insert(field.name.to_owned(), value);
    }
    for field in sp.fields.iter().filter(|f| f.required) {
        if is_blank(base.get(field.name)) && !items.iter().any(|i| i.field.starts_with(field.name))
        {
            items.push(FieldError::new(
                "MissingRequiredField",
                format!("{} is required.", field.name),
                sp.resource,
                field.name,
            ));
        }
    }
    if items.is_empty() {
        Ok(base)
    } else {
        Err(ApiError::invalid(sp.resource, items))
    }
}

/// Fields a new record starts with before the body is merged.
pub(super) fn defaults(store: &Store, t: Table) -> Record {
    let default_of = |t: Table| {
        store
            .table(t)
            .values()
            .find(|r| r.get("defaultFlag") == Some(&Value::Bool(true)))
            .map(name_ref)
            .unwrap_or(Value::Null)
    };
    let v = match t {
        Table::Companies => {
            json!({"status": default_of(Table::CompanyStatuses), "types": [default_of(Table::CompanyTypes)],
            "deletedFlag": false, "dateDeleted": null, "deletedBy": null, "customFields": []})
        }
        Table::Agreements => {
            json!({"agreementStatus": "Active", "cancelledFlag": false, "noEndingDateFlag": true,
            "prorateFlag": false, "billingCycle": {"id": 2, "name": "Monthly"}, "parentAgreement": null, "customFields": []})
        }
        Table::Additions => {
            json!({"quantity": 0.0, "lessIncluded": 0.0, "taxableFlag": false, "cancelledDate": null,
            "purchaseItemFlag": false, "specialOrderFlag": false, "uom": "Each", "customFields": []})
        }
        Table::Catalog => {
            json!({"productClass": "NonInventory", "inactiveFlag": false, "taxableFlag": false,
            "priceAttribute": "FixedFee", "billableOption": "Billable", "recurringFlag": false, "price": 0.0, "cost": 0.0,
            "serializedFlag": false, "customerDescriptionFlag": false, "customFields": []})
        }
        Table::Tickets => {
            json!({"recordType": "ServiceTicket", "severity": "Medium", "impact": "Medium",
            "priority": default_of(Table::Priorities), "source": default_of(Table::Sources), "closedFlag": false,
            "closedDate": null, "closedBy": null, "processNotifications": true, "contact": null, "agreement": null,
            "subType": null, "item": null, "poNumber": null, "customerUpdatedFlag": false, "automaticEmailContactFlag": false,
            "externalXRef": null, "customFields": [], "integratorTags": []})
        }
        Table::Notes => {
            json!({"detailDescriptionFlag": false, "internalAnalysisFlag": false, "resolutionFlag": false,
            "issueFlag": false, "customerUpdatedFlag": false, "processNotifications": true, "internalFlag": false, "externalFlag": false})
        }
        Table::BoardStatuses => {
            json!({"sortOrder": 0, "displayOnBoard": true, "inactive": false, "closedStatus": false,
            "timeEntryNotAllowed": false, "defaultFlag": false, "escalationStatus": "NoEscalation", "customerPortalDescription": null})
        }
        Table::Members => {
            let mut m = super::data::member_settings();
            m.insert("inactiveFlag".into(), json!(false));
            m.insert("licenseClass".into(), json!("F"));
            Value::Object(m)
        }
        // Setup rows carry the same flags as the seeded ones (defaultFlag among them).
        Table::CompanyStatuses => {
            json!({"defaultFlag": false, "inactiveFlag": false, "notifyFlag": false, "disallowSavingFlag": false})
        }
        Table::CompanyTypes => json!({"defaultFlag": false, "vendorFlag": false}),
        Table::AgreementTypes => {
            json!({"prefixSuffixOption": "Prefix", "defaultFlag": false, "inactiveFlag": false, "prorateFlag": false, "invoiceDescription": null})
        }
        Table::ProductTypes => json!({"inactiveFlag": false, "defaultFlag": false}),
        Table::BoardTypes => {
            json!({"category": "Reactive", "defaultFlag": false, "inactiveFlag": false, "requestForChangeFlag": false})
        }
        Table::BoardSubtypes => json!({"inactiveFlag": false, "typeAssociationIds": []}),
        Table::Boards => {
            json!({"inactiveFlag": false, "signOffTemplate": null, "projectFlag": false, "autoCloseStatus": null})
        }
        Table::Categories => json!({"inactiveFlag": false, "integrationXref": null}),
        Table::Priorities => {
            json!({"color": "Custom", "sortOrder": null, "defaultFlag": false, "level": null})
        }
        Table::Sources => json!({"defaultFlag": false}),
        Table::Callbacks => {
            json!({"inactiveFlag": false, "isSoapCallbackFlag": false, "isSelfSuppressedFlag": false, "payloadVersion": "2025.1"})
        }
        Table::Contacts => json!({"inactiveFlag": false, "communicationItems": []}),
        _ => json!({"inactiveFlag": false}),
    };
    match v {
        Value::Object(m) => m,
        _ => Record::new(),
    }
}

/// What the business rules need besides the store.
pub(super) struct RuleCtx<'a> {
    pub role: &'a Role,
    pub member: &'a str,
    pub now: Timestamp,
    /// Parent id from the URL, for child tables.
    pub parent: Option<i64>,
    /// The incoming body (POST/PUT) or the patch as a body (PATCH).
    pub body: &'a Record,
    pub prorate_exempt: bool,
}

fn item(sp: &Spec, code: &'static str, message: impl Into<String>, field: &str) -> ApiError {
    ApiError::invalid(
        sp.resource,
        vec![FieldError::new(code, message, sp.resource, field)],
    )
}

fn ref_id(r: &Record, field: &str) -> Option<i64> {
    r.get(field)
        .and_then(|v| v.get("id"))
        .and_then(Value::as_i64)
}

/// The period-invoiced message (uncertain: the reference only quotes its start).
pub const INVOICED_MESSAGE: &str = "Period has already been invoiced. Changes to this addition cannot be made for an invoiced period unless the agreement is prorated.";

/// Business rules after the merge; may complete `rec` (computed fields). `existing` is `None` on POST.
pub(super) fn apply_rules(
    store: &Store,
    t: Table,
    rec: &mut Record,
    existing: Option<&Record>,
    ctx: &RuleCtx<'_>,
) -> Result<(), ApiError> {
    let sp = spec(t);
    let changed = |field: &str| existing.is_none_or(|e| e.get(field) != rec.get(field));
    match t {
        Table::Companies | Table::Catalog | Table::Members => {
            let key = "identifier";
            if let Some(ident) = rec.get(key).and_then(Value::as_str)
                && changed(key)
                && store.table(t).values().any(|o| {
                    o.get("id") != rec.get("id")
                        && o.get(key)
                            .and_then(Value::as_str)
                            .is_some_and(|x| x.eq_ignore_ascii_case(ident))
                })
            {
                let what = match t {
                    Table::Catalog => "catalog item",
                    Table::Companies => "company",
                    _ => "member",
                };
                return Err(item(
                    sp,
                    "ObjectExists",
                    format!("The {what} identifier '{ident}' is already in use."),
                    key,
                ));
            }
            // A member created without a hire date was hired the day it was created.
            if t == Table::Members && is_blank(rec.get("hireDate")) {
                rec.insert("hireDate".into(), json!(fmt_ts(ctx.now)));
            }
            if t == Table::Companies {
                if existing.is_none() {
                    let addr = [
                        "addressLine1",
                        "addressLine2",
                        "city",
                        "state",
                        "zip",
                        "country",
                    ];
                    if addr.iter().all(|a| is_blank(rec.get(*a))) {
                        return Err(item(
                            sp,
                            "MissingRequiredField",
                            "At least one address field is required.",
                            "addressLine1",
                        ));
                    }
                } else if body_get(ctx.body, "types").is_some() {
                    // Types can only be set on POST; afterwards they go through typeAssociations.
                    if let Some(e) = existing {
                        rec.insert("types".into(), e.get("types").cloned().unwrap_or(json!([])));
                    }
                }
                if let Some(Value::Array(types)) = rec.get("types").cloned() {
                    let mut out = Vec::new();
                    for ty in types {
                        let Value::Object(o) = &ty else {
                            return Err(ApiError::conversion(&ty, "CompanyTypeReference", "types"));
                        };
                        match lookup(store, Table::CompanyTypes, o) {
                            Ok(r) => out.push(name_ref(r)),
                            Err(shown) => {
                                return Err(item(
                                    sp,
                                    "NotFound",
                                    format!("Company Type {shown} not found"),
                                    "types/id",
                                ));
                            }
                        }
                    }
                    rec.insert("types".into(), Value::Array(out));
                }
            }
        }
        Table::Agreements => {
            if let (Some(company), Some(contact)) = (ref_id(rec, "company"), ref_id(rec, "contact"))
                && store
                    .get(Table::Contacts, contact)
                    .and_then(|c| ref_id(c, "company"))
                    != Some(company)
                && changed("contact")
            {
                return Err(item(
                    sp,
                    "NotFound",
                    format!("Contact {contact} not found for Company {company}"),
                    "contact/id",
                ));
            }
            let cancelled = rec.get("cancelledFlag") == Some(&Value::Bool(true));
            if cancelled && changed("cancelledFlag") {
                rec.insert("agreementStatus".into(), json!("Cancelled"));
                if is_blank(rec.get("dateCancelled")) {
                    rec.insert("dateCancelled".into(), json!(fmt_ts(ctx.now)));
                }
            }
        }
        Table::Additions => {
            let agreement_id = ctx
                .parent
                .or_else(|| existing.and_then(|e| parent_of(e, "agreementId")))
                .unwrap_or(0);
            let Some(agreement) = store.get(Table::Agreements, agreement_id) else {
                return Err(ApiError::not_found("Agreement", agreement_id));
            };
            rec.insert("agreementId".into(), json!(agreement_id));
            rec.insert(
                "agreementStatus".into(),
                agreement
                    .get("agreementStatus")
                    .cloned()
                    .unwrap_or(Value::Null),
            );
            let product = ref_id(rec, "product").and_then(|p| store.get(Table::Catalog, p));
            if let Some(p) = product {
                for (from, to) in [
                    ("price", "unitPrice"),
                    ("cost", "unitCost"),
                    ("description", "description"),
                    ("taxableFlag", "taxableFlag"),
                ] {
                    if existing.is_none() && body_get(ctx.body, to).is_none() {
                        rec.insert(to.into(), p.get(from).cloned().unwrap_or(Value::Null));
                    }
                }
            }
            if is_blank(rec.get("effectiveDate")) {
                rec.insert("effectiveDate".into(), json!(fmt_ts(ctx.now)));
            }
            let num = |k: &str| rec.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            let billed = (num("quantity") - num("lessIncluded")).max(0.0);
            let (price, cost) = (billed * num("unitPrice"), billed * num("unitCost"));
            rec.insert("billedQuantity".into(), json!(billed));
            rec.insert("extPrice".into(), json!(price));
            rec.insert("extCost".into(), json!(cost));
            // Invoiced periods: a new addition effective on/before the invoiced date, or any change to an
            // addition while the current period is invoiced, is refused unless the agreement prorates.
            if let Some(through) = store.invoiced_through.get(&agreement_id)
                && !ctx.prorate_exempt
                && agreement.get("prorateFlag") != Some(&Value::Bool(true))
            {
                let date_of = |k: &str| {
                    rec.get(k)
                        .and_then(Value::as_str)
                        .and_then(super::conditions::parse_datetime)
                };
                let when = match existing {
                    None => date_of("effectiveDate"),
                    Some(e) if e.get("effectiveDate") != rec.get("effectiveDate") => {
                        date_of("effectiveDate")
                    }
                    Some(e)
                        if e.get("cancelledDate") != rec.get("cancelledDate")
                            && !is_blank(rec.get("cancelledDate")) =>
                    {
                        date_of("cancelledDate")
                    }
                    Some(e) if e != rec => Some(ctx.now),
                    Some(_) => None,
                };
                if when.is_some_and(|w| w <= *through) {
                    return Err(item(sp, "InvalidField", INVOICED_MESSAGE, "effectiveDate"));
                }
            }
        }
        Table::Subcategories => {
            if let Some(p) = ctx.parent {
                if store.get(Table::Categories, p).is_none() {
                    return Err(ApiError::not_found("Category", p));
                }
                if is_blank(rec.get("category")) || ref_id(rec, "category") != Some(p) {
                    let c = store
                        .get(Table::Categories, p)
                        .map(name_ref)
                        .unwrap_or(Value::Null);
                    rec.insert("category".into(), c);
                }
            }
        }
        Table::BoardStatuses | Table::BoardTypes | Table::BoardSubtypes | Table::BoardItems => {
            let board = ctx
                .parent
                .or_else(|| existing.and_then(|e| ref_id(e, "board")))
                .unwrap_or(0);
            let Some(b) = store.get(Table::Boards, board) else {
                return Err(ApiError::not_found("Service Board", board));
            };
            rec.insert("board".into(), name_ref(b));
        }
        Table::Tickets => ticket_rules(store, rec, existing, ctx)?,
        Table::Notes => {
            let ticket = ctx
                .parent
                .or_else(|| existing.and_then(|e| parent_of(e, "ticketId")))
                .unwrap_or(0);
            if store.get(Table::Tickets, ticket).is_none() {
                return Err(ApiError::not_found("Ticket", ticket));
            }
            rec.insert("ticketId".into(), json!(ticket));
            let flag = |k: &str| rec.get(k) == Some(&Value::Bool(true));
            if !(flag("detailDescriptionFlag")
                || flag("internalAnalysisFlag")
                || flag("resolutionFlag"))
            {
                return Err(item(
                    sp,
                    "InvalidField",
                    "Please choose where to display the notes: Discussion (detailDescriptionFlag), Internal (internalAnalysisFlag) or Resolution (resolutionFlag).",
                    "detailDescriptionFlag",
                ));
            }
            let (internal, external) = (
                flag("internalAnalysisFlag"),
                flag("detailDescriptionFlag") || flag("resolutionFlag"),
            );
            rec.insert("internalFlag".into(), json!(internal));
            rec.insert("externalFlag".into(), json!(external));
            if existing.is_none() {
                if is_blank(rec.get("member"))
                    && let Some(m) = store.find_by(Table::Members, "identifier", ctx.member)
                {
                    rec.insert("member".into(), reference(Table::Members, m));
                }
                rec.insert("dateCreated".into(), json!(fmt_ts(ctx.now)));
                rec.insert("createdBy".into(), json!(ctx.member));
            }
        }
        Table::Callbacks => {
            let same = |o: &Record| {
                ["url", "objectId", "type", "level"]
                    .iter()
                    .all(|k| o.get(*k) == rec.get(*k))
            };
            if store
                .table(t)
                .values()
                .any(|o| o.get("id") != rec.get("id") && same(o))
            {
                return Err(item(
                    sp,
                    "ObjectExists",
                    "A matching callback entry already exists",
                    "objectId",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn ticket_rules(
    store: &Store,
    rec: &mut Record,
    existing: Option<&Record>,
    ctx: &RuleCtx<'_>,
) -> Result<(), ApiError> {
    let sp = spec(Table::Tickets);
    // Setting a contact needs Companies > Contacts.
    if !is_blank(body_get(ctx.body, "contact"))
        && !ctx.role.allows(RoleFunction::Contacts, Level::Inquire)
    {
        return Err(ApiError::security());
    }
    let board_id = match ref_id(rec, "board") {
        Some(b) => b,
        None => {
            let b = store
                .get(Table::Boards, 1)
                .map(name_ref)
                .unwrap_or(Value::Null);
            rec.insert("board".into(), b);
            1
        }
    };
    let on_board = |t: Table, id: i64| {
        store
            .get(t, id)
            .filter(|r| ref_id(r, "board") == Some(board_id))
    };
    // A board change without a new status moves the ticket to the new board's default status.
    let board_changed = existing.is_some_and(|e| ref_id(e, "board") != Some(board_id));
    let status_given = !is_blank(body_get(ctx.body, "status"));
    if ref_id(rec, "status").is_none() || (board_changed && !status_given) {
        let default = store
            .table(Table::BoardStatuses)
            .values()
            .filter(|s| ref_id(s, "board") == Some(board_id))
            .find(|s| s.get("defaultFlag") == Some(&Value::Bool(true)))
            .map(name_ref)
            .unwrap_or(Value::Null);
        rec.insert("status".into(), default);
    }
    for (field, table, label) in [
        ("status", Table::BoardStatuses, "Service Status"),
        ("type", Table::BoardTypes, "Service Type"),
        ("subType", Table::BoardSubtypes, "Service SubType"),
        ("item", Table::BoardItems, "Service Item"),
    ] {
        if let Some(id) = ref_id(rec, field)
            && on_board(table, id).is_none()
        {
            return Err(item(
                sp,
                "NotFound",
                format!("{label} {id} not found for Service Board {board_id}"),
                &format!("{field}/id"),
            ));
        }
    }
    let status = ref_id(rec, "status").and_then(|s| store.get(Table::BoardStatuses, s));
    let closing = status.is_some_and(|s| s.get("closedStatus") == Some(&Value::Bool(true)));
    let was_closed = existing.is_some_and(|e| e.get("closedFlag") == Some(&Value::Bool(true)));
    if closing && !was_closed {
        if !(ctx
            .role
            .allows(RoleFunction::CloseServiceTickets, Level::Edit))
        {
            return Err(ApiError::security());
        }
        rec.insert("closedFlag".into(), json!(true));
        rec.insert("closedDate".into(), json!(fmt_ts(ctx.now)));
        rec.insert("closedBy".into(), json!(ctx.member));
    } else if !closing {
        rec.insert("closedFlag".into(), json!(false));
        rec.insert("closedDate".into(), Value::Null);
        rec.insert("closedBy".into(), Value::Null);
    }
    // Tickets of deleted or unknown agreements/companies were caught by the merge.
    Ok(())
}
