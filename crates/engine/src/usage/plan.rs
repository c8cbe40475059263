//! Planning: a pure function from (usage, current additions, our links, settings, flags) to the
//! operations that bring one agreement's additions in line with the month's usage.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::messages;
use crate::store::AdditionLink;

/// What to do when a product's usage drops to zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZeroUsage {
    /// Keep the addition with quantity 0 (the default: nothing disappears from the agreement).
    #[default]
    QuantityZero,
    /// Cancel the addition (cancelled date = first day of the synced month).
    Cancel,
}

/// Flags of one run that change the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanFlags {
    /// Recreate additions we created that the user deleted in ConnectWise.
    pub recreate: bool,
}

/// The operation kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// POST a new addition.
    Create,
    /// PATCH the quantity of our addition.
    UpdateQuantity,
    /// PATCH a cancelled date on our addition (usage dropped to zero, cancel policy).
    Cancel,
    /// Take over the one addition for this product that we did not create (and set its quantity).
    Adopt,
    /// Several additions could be the one for this product: reported, nothing written.
    Conflict,
    /// An addition we managed was deleted or cancelled in ConnectWise: reported, not recreated.
    RemovedInCw,
    /// Already right.
    Skip,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::UpdateQuantity => "update_quantity",
            OpKind::Cancel => "cancel",
            OpKind::Adopt => "adopt",
            OpKind::Conflict => "conflict",
            OpKind::RemovedInCw => "removed_in_cw",
            OpKind::Skip => "skip",
        }
    }

    /// Whether applying it writes (to ConnectWise or our links).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            OpKind::Create | OpKind::UpdateQuantity | OpKind::Cancel | OpKind::Adopt
        )
    }
}

/// One planned operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Op {
    pub tenant_id: String,
    pub agreement_id: i64,
    /// Product identifier (e.g. `Sophos_Intercept_X`).
    pub product: String,
    /// The catalog item the addition bills; `None` only in a dry run before the item exists.
    pub catalog_item_id: Option<i64>,
    pub kind: OpKind,
    /// The addition concerned (None for a create).
    pub addition_id: Option<i64>,
    pub before: Option<f64>,
    pub after: Option<f64>,
    /// For `Adopt`: whether the adopted addition is one we created (an interrupted create).
    pub ours: bool,
    pub reason: String,
}

/// An addition on the agreement as ConnectWise has it now.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentAddition {
    pub id: i64,
    pub catalog_item_id: i64,
    pub quantity: f64,
    pub cancelled: bool,
}

/// Everything the planner needs for one agreement.
#[derive(Debug, Clone, Default)]
pub struct AgreementInput {
    pub tenant_id: String,
    pub agreement_id: i64,
    /// Desired quantity per selected product (0 for a selected product without usage).
    pub desired: BTreeMap<String, f64>,
    /// Catalog item per selected product (missing: not created yet, dry run only).
    pub catalog: BTreeMap<String, i64>,
    pub additions: Vec<CurrentAddition>,
    /// Our links on this agreement, by product.
    pub links: BTreeMap<String, AdditionLink>,
    /// Products whose create was started by an earlier run that never learned the outcome.
    pub in_doubt: BTreeSet<String>,
}

fn same_qty(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Plans one agreement. Products come out in identifier order.
pub fn plan_agreement(input: &AgreementInput, zero: ZeroUsage, flags: PlanFlags) -> Vec<Op> {
    let mut ops = Vec::new();
    for (product, &qty) in &input.desired {
        let catalog = input.catalog.get(product).copied();
        let op = |kind: OpKind,
                  addition_id: Option<i64>,
                  before: Option<f64>,
                  after: Option<f64>,
                  reason: String| Op {
            tenant_id: input.tenant_id.clone(),
            agreement_id: input.agreement_id,
            product: product.clone(),
            catalog_item_id: catalog,
            kind,
            addition_id,
            before,
            after,
            ours: false,
            reason,
        };
        let Some(catalog_id) = catalog else {
            // No catalog item yet: no addition can bill it, so only a create is possible.
            if qty > 0.0 {
                ops.push(op(
                    OpKind::Create,
                    None,
                    None,
                    Some(qty),
                    messages::reason_create(qty),
                ));
            }
            continue;
        };
        let live: Vec<&CurrentAddition> = input
            .additions
            .iter()
            .filter(|a| a.catalog_item_id == catalog_id && !a.cancelled)
            .collect();
        if let Some(link) = input
            .links
            .get(product)
            .filter(|l| l.catalog_item_id == catalog_id)
        {
            if let Some(a) = live.iter().find(|a| a.id == link.addition_id) {
                let o = if same_qty(a.quantity, qty) {
                    op(
                        OpKind::Skip,
                        Some(a.id),
                        Some(a.quantity),
                        Some(qty),
                        messages::reason_same(qty),
                    )
                } else if qty == 0.0 && zero == ZeroUsage::Cancel {
                    op(
                        OpKind::Cancel,
                        Some(a.id),
                        Some(a.quantity),
                        Some(0.0),
                        messages::reason_cancel(),
                    )
                } else {
                    op(
                        OpKind::UpdateQuantity,
                        Some(a.id),
                        Some(a.quantity),
                        Some(qty),
                        messages::reason_update(a.quantity, qty),
                    )
                };
                ops.push(o);
                continue;
            }
            let ours_cancelled = link.cancelled_by_us
                && input
                    .additions
                    .iter()
                    .any(|a| a.id == link.addition_id && a.cancelled);
            if ours_cancelled {
                if qty == 0.0 {
                    ops.push(op(
                        OpKind::Skip,
                        Some(link.addition_id),
                        Some(0.0),
                        Some(0.0),
                        messages::reason_still_cancelled(),
                    ));
                    continue;
                }
                // Usage came back after we cancelled: fall through to a new addition.
            } else if live.is_empty() {
                if qty == 0.0 {
                    ops.push(op(
                        OpKind::Skip,
                        Some(link.addition_id),
                        None,
                        Some(0.0),
                        messages::reason_removed_no_usage(),
                    ));
                } else if flags.recreate {
                    ops.push(op(
                        OpKind::Create,
                        None,
                        None,
                        Some(qty),
                        messages::reason_recreate(qty),
                    ));
                } else {
                    ops.push(op(
                        OpKind::RemovedInCw,
                        Some(link.addition_id),
                        Some(link.quantity),
                        Some(qty),
                        messages::reason_removed(link.addition_id, qty),
                    ));
                }
                continue;
            }
        }
        match live.as_slice() {
            [] => {
                if qty > 0.0 {
                    ops.push(op(
                        OpKind::Create,
                        None,
                        None,
                        Some(qty),
                        messages::reason_create(qty),
                    ));
                }
            }
            [a] => {
                let ours = input.in_doubt.contains(product);
                let reason = if ours {
                    messages::reason_finish_create(a.id)
                } else {
                    messages::reason_adopt(a.id)
                };
                let mut o = op(
                    OpKind::Adopt,
                    Some(a.id),
                    Some(a.quantity),
                    Some(qty),
                    reason,
                );
                o.ours = ours;
                ops.push(o);
            }
            several => {
                let ids: Vec<i64> = several.iter().map(|a| a.id).collect();
                ops.push(op(
                    OpKind::Conflict,
                    None,
                    None,
                    Some(qty),
                    messages::reason_conflict(&ids),
                ));
            }
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AgreementInput {
        let mut i = AgreementInput {
            tenant_id: "t1".into(),
            agreement_id: 11,
            ..AgreementInput::default()
        };
        i.desired.insert("P".into(), 5.0);
        i.catalog.insert("P".into(), 900);
        i
    }

    fn link(addition_id: i64, created_by_us: bool) -> AdditionLink {
        AdditionLink {
            agreement_id: 11,
            product: "P".into(),
            tenant_id: "t1".into(),
            addition_id,
            catalog_item_id: 900,
            created_by_us,
            quantity: 5.0,
            cancelled_by_us: false,
        }
    }

    fn add(id: i64, quantity: f64, cancelled: bool) -> CurrentAddition {
        CurrentAddition {
            id,
            catalog_item_id: 900,
            quantity,
            cancelled,
        }
    }

    fn kinds(ops: &[Op]) -> Vec<OpKind> {
        ops.iter().map(|o| o.kind).collect()
    }

    #[test]
    fn create_update_skip() {
        let mut i = input();
        assert_eq!(
            kinds(&plan_agreement(
                &i,
                ZeroUsage::default(),
                PlanFlags::default()
            )),
            [OpKind::Create]
        );
        i.additions.push(add(7, 5.0, false));
        i.links.insert("P".into(), link(7, true));
        assert_eq!(
            kinds(&plan_agreement(
                &i,
                ZeroUsage::default(),
                PlanFlags::default()
            )),
            [OpKind::Skip]
        );
        i.desired.insert("P".into(), 8.0);
        let ops = plan_agreement(&i, ZeroUsage::default(), PlanFlags::default());
        assert_eq!(kinds(&ops), [OpKind::UpdateQuantity]);
        assert_eq!((ops[0].before, ops[0].after), (Some(5.0), Some(8.0)));
    }

    #[test]
    fn zero_usage_policies() {
        let mut i = input();
        i.desired.insert("P".into(), 0.0);
        assert!(plan_agreement(&i, ZeroUsage::default(), PlanFlags::default()).is_empty());
        i.additions.push(add(7, 5.0, false));
        i.links.insert("P".into(), link(7, true));
        assert_eq!(
            kinds(&plan_agreement(
                &i,
                ZeroUsage::QuantityZero,
                PlanFlags::default()
            )),
            [OpKind::UpdateQuantity]
        );
        assert_eq!(
            kinds(&plan_agreement(&i, ZeroUsage::Cancel, PlanFlags::default())),
            [OpKind::Cancel]
        );
        i.additions[0].cancelled = true;
        i.links.get_mut("P").unwrap().cancelled_by_us = true;
        assert_eq!(
            kinds(&plan_agreement(&i, ZeroUsage::Cancel, PlanFlags::default())),
            [OpKind::Skip]
        );
        i.desired.insert("P".into(), 3.0);
        assert_eq!(
            kinds(&plan_agreement(&i, ZeroUsage::Cancel, PlanFlags::default())),
            [OpKind::Create]
        );
    }

    #[test]
    fn adopt_one_conflict_several() {
        let mut i = input();
        i.additions.push(add(7, 2.0, false));
        let ops = plan_agreement(&i, ZeroUsage::default(), PlanFlags::default());
        assert_eq!(kinds(&ops), [OpKind::Adopt]);
        assert!(!ops[0].ours);
        i.additions.push(add(8, 1.0, false));
        assert_eq!(
            kinds(&plan_agreement(
                &i,
                ZeroUsage::default(),
                PlanFlags::default()
            )),
            [OpKind::Conflict]
        );
        // A cancelled one is not a candidate.
        i.additions[1].cancelled = true;
        assert_eq!(
            kinds(&plan_agreement(
                &i,
                ZeroUsage::default(),
                PlanFlags::default()
            )),
            [OpKind::Adopt]
        );
    }

    #[test]
    fn removed_in_cw_reported_unless_recreate() {
        let mut i = input();
        i.links.insert("P".into(), link(7, true));
        assert_eq!(
            kinds(&plan_agreement(
                &i,
                ZeroUsage::default(),
                PlanFlags::default()
            )),
            [OpKind::RemovedInCw]
        );
        assert_eq!(
            kinds(&plan_agreement(
                &i,
                ZeroUsage::default(),
                PlanFlags { recreate: true }
            )),
            [OpKind::Create]
        );
        // Cancelled by the user counts as removed too.
        i.additions.push(add(7, 5.0, true));
        assert_eq!(
            kinds(&plan_agreement(
                &i,
                ZeroUsage::default(),
                PlanFlags::default()
            )),
            [OpKind::RemovedInCw]
        );
    }

    #[test]
    fn interrupted_create_is_finished_not_repeated() {
        let mut i = input();
        i.in_doubt.insert("P".into());
        i.additions.push(add(7, 5.0, false));
        let ops = plan_agreement(&i, ZeroUsage::default(), PlanFlags::default());
        assert_eq!(kinds(&ops), [OpKind::Adopt]);
        assert!(ops[0].ours);
        i.additions.clear();
        assert_eq!(
            kinds(&plan_agreement(
                &i,
                ZeroUsage::default(),
                PlanFlags::default()
            )),
            [OpKind::Create]
        );
    }

    /// Applies `ops` to a model of ConnectWise + our links, as apply does.
    fn model_apply(i: &mut AgreementInput, ops: &[Op], next_id: &mut i64) {
        for o in ops {
            let cat = o.catalog_item_id.unwrap();
            let q = o.after.unwrap_or(0.0);
            let mut l = AdditionLink {
                agreement_id: i.agreement_id,
                product: o.product.clone(),
                tenant_id: i.tenant_id.clone(),
                addition_id: o.addition_id.unwrap_or(0),
                catalog_item_id: cat,
                created_by_us: true,
                quantity: q,
                cancelled_by_us: false,
            };
            match o.kind {
                OpKind::Create => {
                    *next_id += 1;
                    i.additions.push(CurrentAddition {
                        id: *next_id,
                        catalog_item_id: cat,
                        quantity: q,
                        cancelled: false,
                    });
                    l.addition_id = *next_id;
                }
                OpKind::UpdateQuantity | OpKind::Adopt => {
                    let a = i
                        .additions
                        .iter_mut()
                        .find(|a| Some(a.id) == o.addition_id)
                        .unwrap();
                    a.quantity = q;
                    l.created_by_us = o.kind != OpKind::Adopt || o.ours;
                }
                OpKind::Cancel => {
                    let a = i
                        .additions
                        .iter_mut()
                        .find(|a| Some(a.id) == o.addition_id)
                        .unwrap();
                    a.cancelled = true;
                    l.cancelled_by_us = true;
                }
                _ => continue,
            }
            i.links.insert(o.product.clone(), l);
        }
    }

    proptest::proptest! {
        /// Whatever ConnectWise and our links look like, applying the plan and planning again
        /// gives no writes.
        #[test]
        fn applying_a_plan_twice_changes_nothing(
            desired in proptest::collection::vec(0u8..4, 4),
            existing in proptest::collection::vec((0usize..4, 0u8..4, proptest::bool::ANY), 0..6),
            linked in proptest::collection::vec(proptest::bool::ANY, 4),
            cancel in proptest::bool::ANY,
        ) {
            let products = ["A", "B", "C", "D"];
            let mut i = AgreementInput { tenant_id: "t".into(), agreement_id: 1, ..AgreementInput::default() };
            for (k, p) in products.iter().enumerate() {
                i.desired.insert((*p).to_owned(), f64::from(desired[k]));
                i.catalog.insert((*p).to_owned(), 100 + k as i64);
            }
            for (n, (k, q, c)) in existing.iter().enumerate() {
                i.additions.push(CurrentAddition { id: n as i64 + 1, catalog_item_id: 100 + *k as i64, quantity: f64::from(*q), cancelled: *c });
            }
            // Some products have a link to their first addition (which may be cancelled or gone).
            for (k, p) in products.iter().enumerate() {
                if linked[k] {
                    let id = i.additions.iter().find(|a| a.catalog_item_id == 100 + k as i64).map_or(99, |a| a.id);
                    i.links.insert((*p).to_owned(), AdditionLink {
                        agreement_id: 1, product: (*p).to_owned(), tenant_id: "t".into(), addition_id: id,
                        catalog_item_id: 100 + k as i64, created_by_us: true, quantity: 1.0, cancelled_by_us: false,
                    });
                }
            }
            let zero = if cancel { ZeroUsage::Cancel } else { ZeroUsage::QuantityZero };
            let flags = PlanFlags { recreate: true };
            let mut next = 1000;
            let first = plan_agreement(&i, zero, flags);
            model_apply(&mut i, &first, &mut next);
            let second = plan_agreement(&i, zero, flags);
            let writes: Vec<&Op> = second.iter().filter(|o| o.kind.is_write()).collect();
            proptest::prop_assert!(writes.is_empty(), "second plan writes: {:?}", writes);
        }
    }
}
