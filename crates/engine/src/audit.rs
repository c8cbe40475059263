//! What the audit log records: one list of kinds, used by every writer (a [`crate::store::NewAudit`]
//! takes an [`AuditKind`], not a string), by the CLI's `audit --what` and by the dashboard's filter, so
//! a filter can never offer a kind nobody writes, nor miss one that is written.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::store::{AuditEntry, AuditFilter, CoreStore as _, MappingStore as _, Store, StoreError};

macro_rules! kinds {
    ($($(#[$m:meta])* $var:ident = $text:literal, $label:literal;)*) => {
        /// One kind of audited change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum AuditKind {
            $($(#[$m])* $var,)*
        }

        impl AuditKind {
            /// Every kind, in the order filters offer them.
            pub const ALL: &[AuditKind] = &[$(AuditKind::$var,)*];

            /// The kind as stored and typed, e.g. `mapping.set`.
            pub fn as_str(self) -> &'static str {
                match self { $(AuditKind::$var => $text,)* }
            }

            /// What it means, for people.
            pub fn label(self) -> &'static str {
                match self { $(AuditKind::$var => $label,)* }
            }
        }
    };
}

kinds! {
    /// A tenant mapped to a company (and agreement), or its mapping edited.
    MappingSet = "mapping.set", "customer mapped";
    /// A suggestion accepted.
    MappingAccept = "mapping.accept", "suggestion accepted";
    /// A mapping removed.
    MappingClear = "mapping.clear", "mapping removed";
    /// Usage or ticket sync switched on or off for a customer.
    MappingSwitches = "mapping.switches", "sync switched on or off";
    /// A mapping written by a CSV import.
    MappingImport = "mapping.import", "mapping imported";
    /// A product selected for usage sync.
    ProductsSelect = "products.select", "product selected";
    /// A product unselected.
    ProductsUnselect = "products.unselect", "product unselected";
    /// A product linked to an existing catalog item by hand.
    ProductsCatalogMapped = "products.catalog_mapped", "product mapped to a catalog item";
    /// A product's catalog item found in ConnectWise by its identifier.
    ProductsCatalogFound = "products.catalog_found", "catalog item found";
    /// A product's catalog item created in ConnectWise.
    ProductsCatalogCreated = "products.catalog_created", "catalog item created";
    /// A product's catalog item link removed.
    ProductsUnmap = "products.unmap", "catalog item unlinked";
    /// A billing code added to a product.
    ProductsAddCode = "products.add_code", "billing code added";
    /// A billing code removed from a product.
    ProductsRemoveCode = "products.remove_code", "billing code removed";
    /// A ConnectWise procurement setup row (category, type, manufacturer) created.
    ConnectwiseSetupCreate = "connectwise.setup_create", "ConnectWise setup row created";
    /// An agreement addition created by usage sync.
    UsageCreateAddition = "usage.create_addition", "addition created";
    /// An addition's quantity changed by usage sync.
    UsageUpdateQuantity = "usage.update_quantity", "addition quantity changed";
    /// An addition cancelled by usage sync.
    UsageCancelAddition = "usage.cancel_addition", "addition cancelled";
    /// An existing addition taken over by usage sync.
    UsageAdoptAddition = "usage.adopt_addition", "addition adopted";
    /// A deleted addition acknowledged as removed on purpose: the product stays unbilled.
    UsageRemovalAcknowledged = "usage.removal_acknowledged", "removal acknowledged (not billed by choice)";
    /// An acknowledged removal withdrawn: the customer is billed (or reported) again.
    UsageRemovalWithdrawn = "usage.removal_withdrawn", "removal acknowledgement withdrawn";
    /// A usage plan saved for a person to approve.
    UsagePlanSaved = "usage.plan_saved", "usage plan saved for approval";
    /// A saved usage plan approved (and applied).
    UsagePlanApproved = "usage.plan_approved", "usage plan approved";
    /// A saved usage plan discarded.
    UsagePlanDiscarded = "usage.plan_discarded", "usage plan discarded";
    /// A ticket opened for an alert.
    TicketCreate = "ticket.create", "ticket opened";
    /// A repeat of an alert noted on its ticket.
    TicketNote = "ticket.note", "repeat noted on a ticket";
    /// A ticket resolved because its alerts cleared.
    TicketResolve = "ticket.resolve", "ticket resolved";
    /// A ticket reopened because its alert came back.
    TicketReopen = "ticket.reopen", "ticket reopened";
    /// A Sophos alert acknowledged because its ticket was closed in ConnectWise.
    AlertAcknowledge = "alert.acknowledge", "alert acknowledged in Sophos";
    /// A duplicate ticket merged into the one kept.
    TicketMergeDuplicate = "ticket.merge_duplicate", "duplicate ticket merged";
    /// Ticket sync settings changed.
    TicketsSettings = "tickets.settings", "ticket settings changed";
    /// A run asked for from the dashboard.
    DashboardJob = "dashboard.job", "run requested from the dashboard";
    /// A dashboard account created.
    UserAdd = "user.add", "account created";
    /// An account's password changed.
    UserPasswd = "user.passwd", "password changed";
    /// An account's role changed.
    UserRole = "user.role", "role changed";
    /// An account disabled.
    UserDisable = "user.disable", "account disabled";
    /// An account enabled.
    UserEnable = "user.enable", "account enabled";
    /// An account's sessions ended by an admin.
    UserSessionsRevoked = "user.sessions_revoked", "sessions ended";
}

impl AuditKind {
    /// A kind from its text (`mapping.set`); `None` for anything else.
    pub fn parse(text: &str) -> Option<AuditKind> {
        AuditKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == text.trim())
    }

    /// The kinds `what` selects: one kind by its text, or every kind of a family by its prefix
    /// (`mapping`, `usage`, `ticket`, ...). Empty when it names none.
    pub fn matching(what: &str) -> Vec<AuditKind> {
        let what = what.trim().trim_end_matches('.');
        AuditKind::ALL
            .iter()
            .copied()
            .filter(|k| {
                let s = k.as_str();
                s == what || s.split('.').next() == Some(what)
            })
            .collect()
    }
}

/// What `audit` asks for: a time window, kinds, one customer.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries at or after this time.
    pub since: Option<Timestamp>,
    /// Only these kinds; empty: every kind.
    pub kinds: Vec<AuditKind>,
    /// Only entries about this customer: a tenant id or a tenant name (any case).
    pub customer: Option<String>,
    /// Only entries by exactly this actor.
    pub actor: Option<String>,
    /// At most this many rows, newest first (default 1000).
    pub limit: Option<u32>,
}

/// One audit entry as a person reads it: names beside ids, and what changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    /// The entry's id.
    pub id: i64,
    /// When it happened.
    pub at: Timestamp,
    /// Who did it: the OS user for the CLI, `name (dashboard)` for an account, `service`.
    pub actor: String,
    /// The kind as stored, e.g. `mapping.set`.
    pub kind: String,
    /// The kind in words; the stored text for kinds older versions wrote.
    pub what: String,
    /// What it was done to, as stored (`tenant:…`, `agreement:…/product:…`, …).
    pub subject: String,
    /// The subject with names: customer, company, agreement, product.
    pub about: String,
    /// What changed, `field: before → after`, for the fields that changed.
    pub change: String,
    /// Why.
    pub reason: String,
    /// The raw snapshots, for `--json`.
    pub before: Option<Value>,
    /// See `before`.
    pub after: Option<Value>,
}

/// Why an audit query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The customer named is not known.
    #[error(
        "no customer is called or has the id `{0}`. Fix: give a Sophos tenant id or name as `map list` shows it"
    )]
    UnknownCustomer(String),
}

/// Names to show beside ids.
struct Names {
    tenants: HashMap<String, String>,
    companies: HashMap<i64, String>,
    agreements: HashMap<i64, (String, Option<i64>)>,
    products: HashMap<String, String>,
}

impl Names {
    async fn load(store: &Store) -> Result<Names, StoreError> {
        let tenants = store
            .list_tenants()
            .await?
            .into_iter()
            .map(|t| (t.id.to_string(), t.name))
            .collect();
        let companies = store
            .list_companies(true)
            .await?
            .into_iter()
            .map(|c| (c.id.get(), c.name))
            .collect();
        let agreements = store
            .list_agreements()
            .await?
            .into_iter()
            .map(|a| (a.id.get(), (a.name, a.company_id.map(|c| c.get()))))
            .collect();
        let products = crate::usage::product_views(store)
            .await
            .map(|v| {
                v.into_iter()
                    .map(|p| (p.identifier, p.description))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Names {
            tenants,
            companies,
            agreements,
            products,
        })
    }

    /// One `kind:id` part with its name.
    fn part(&self, part: &str) -> String {
        let Some((kind, id)) = part.split_once(':') else {
            return part.to_owned();
        };
        let named = match kind {
            "tenant" => self.tenants.get(id).cloned(),
            "product" => self.products.get(id).cloned(),
            "agreement" => id.parse::<i64>().ok().and_then(|n| {
                self.agreements.get(&n).map(|(name, company)| {
                    match company.and_then(|c| self.companies.get(&c)) {
                        Some(c) => format!("{name} of {c}"),
                        None => name.clone(),
                    }
                })
            }),
            _ => None,
        };
        match named {
            Some(name) => format!("{name} ({kind} {id})"),
            None => format!("{kind} {id}"),
        }
    }

    fn about(&self, subject: &str) -> String {
        subject
            .split('/')
            .map(|p| self.part(p))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn scalar(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "–".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `field: before → after` for each field that differs (objects), or the two values side by side.
pub fn change_text(before: Option<&Value>, after: Option<&Value>) -> String {
    match (before, after) {
        (None, None) => String::new(),
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| b.get(*k) != a.get(*k))
                .map(|k| format!("{k}: {} → {}", scalar(b.get(k)), scalar(a.get(k))))
                .collect::<Vec<_>>()
                .join("; ")
        }
        (None, Some(Value::Object(a))) => a
            .iter()
            .map(|(k, v)| format!("{k}: {}", scalar(Some(v))))
            .collect::<Vec<_>>()
            .join("; "),
        (b, a) => format!("{} → {}", scalar(b), scalar(a)),
    }
}

/// Whether `e` concerns the tenant `tenant_id` (mapped to `agreements`).
fn concerns(e: &AuditEntry, tenant_id: &str, agreements: &[i64]) -> bool {
    let in_json = |v: &Option<Value>| {
        v.as_ref()
            .and_then(|v| v.get("tenant_id"))
            .and_then(Value::as_str)
            == Some(tenant_id)
    };
    e.subject.split('/').any(|p| {
        p == format!("tenant:{tenant_id}")
            || p.strip_prefix("agreement:")
                .and_then(|a| a.parse::<i64>().ok())
                .is_some_and(|a| agreements.contains(&a))
    }) || in_json(&e.before)
        || in_json(&e.after)
        || e.reason.contains(tenant_id)
}

/// The audit log as people read it, newest first.
pub async fn query(store: &Store, q: &AuditQuery) -> Result<Vec<AuditRow>, AuditError> {
    let names = Names::load(store).await?;
    let customer = match &q.customer {
        None => None,
        Some(c) => {
            let c = c.trim();
            let id = names
                .tenants
                .iter()
                .find(|(id, name)| id.as_str() == c || name.eq_ignore_ascii_case(c))
                .map(|(id, _)| id.clone())
                .ok_or_else(|| AuditError::UnknownCustomer(c.to_owned()))?;
            let agreements: Vec<i64> = store
                .get_mapping(&id)
                .await?
                .and_then(|m| m.agreement_id)
                .map(|a| a.get())
                .into_iter()
                .collect();
            Some((id, agreements))
        }
    };
    let limit = q.limit.unwrap_or(1000);
    // Kind and customer are filtered here (several kinds, several subject forms): read enough.
    let entries = store
        .list_audit(&AuditFilter {
            since: q.since,
            actor: q.actor.clone(),
            action: match q.kinds.as_slice() {
                [one] => Some(one.as_str().to_owned()),
                _ => None,
            },
            limit: Some(if q.kinds.len() > 1 || customer.is_some() {
                limit.saturating_mul(20).max(10_000)
            } else {
                limit
            }),
            ..AuditFilter::default()
        })
        .await?;
    Ok(entries
        .into_iter()
        .filter(|e| q.kinds.is_empty() || q.kinds.iter().any(|k| k.as_str() == e.action))
        .filter(|e| {
            customer
                .as_ref()
                .is_none_or(|(id, agreements)| concerns(e, id, agreements))
        })
        .take(limit as usize)
        .map(|e| AuditRow {
            what: AuditKind::parse(&e.action)
                .map_or_else(|| e.action.clone(), |k| k.label().to_owned()),
            about: names.about(&e.subject),
            change: change_text(e.before.as_ref(), e.after.as_ref()),
            id: e.id,
            at: e.at,
            actor: e.actor,
            kind: e.action,
            subject: e.subject,
            reason: e.reason,
            before: e.before,
            after: e.after,
        })
        .collect())
}

/// Writes `rows` as CSV (a header line, then one line per row), for a spreadsheet.
pub fn write_csv<W: std::io::Write>(rows: &[AuditRow], out: W) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id", "at", "actor", "kind", "what", "subject", "about", "change", "reason",
    ])?;
    for r in rows {
        w.write_record([
            r.id.to_string().as_str(),
            &r.at.to_string(),
            &r.actor,
            &r.kind,
            &r.what,
            &r.subject,
            &r.about,
            &r.change,
            &r.reason,
        ])?;
    }
    w.flush()?;
    Ok(())
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for k in AuditKind::ALL {
            assert!(seen.insert(k.as_str()), "{k} twice");
            assert_eq!(AuditKind::parse(k.as_str()), Some(*k));
            assert!(!k.label().is_empty());
        }
        assert_eq!(AuditKind::parse("addition.create"), None);
    }

    #[test]
    fn changes_read_field_by_field() {
        let b = serde_json::json!({"quantity": 3, "addition_id": 7});
        let a = serde_json::json!({"quantity": 5, "addition_id": 7, "cancelled": false});
        assert_eq!(
            change_text(Some(&b), Some(&a)),
            "cancelled: – → false; quantity: 3 → 5"
        );
        assert_eq!(change_text(None, None), "");
        assert_eq!(change_text(Some(&serde_json::json!("x")), None), "x → –");
    }

    #[test]
    fn families_select_their_kinds() {
        let usage = AuditKind::matching("usage");
        assert_eq!(usage.len(), 9);
        assert!(usage.iter().all(|k| k.as_str().starts_with("usage.")));
        assert_eq!(
            AuditKind::matching("mapping.set"),
            vec![AuditKind::MappingSet]
        );
        assert!(AuditKind::matching("nothing").is_empty());
        // "ticket" is the ticket writes; "tickets" the settings.
        assert_eq!(
            AuditKind::matching("tickets"),
            vec![AuditKind::TicketsSettings]
        );
    }
}
