//! Planning: a pure function from (usage, current additions, our links, settings, flags) to the
//! operations that bring one agreement's additions in line with the month's usage.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::messages;
use crate::ids::{AdditionId, AgreementId, CatalogItemId, TenantId};

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
    /// Cancel extra live additions billing the same product (keeping ours, or the oldest).
    pub repair: bool,
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
    /// The kind in snake case, as in serialized plans and log lines.
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

/// One planned operation on one (agreement, product).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Op {
    /// Sophos's id of the customer's tenant.
    pub tenant_id: TenantId,
    /// ConnectWise's id of the agreement the addition is on.
    pub agreement_id: AgreementId,
    /// Product identifier (e.g. `Sophos_Intercept_X`).
    pub product: String,
    /// What to do, with exactly the ids it needs (serialized flat, tagged `kind`).
    #[serde(flatten)]
    pub change: Change,
    /// Why, in a sentence for people (shown in plans and kept in the journal and audit).
    pub reason: String,
}

/// What an [`Op`] does. Quantities are `before` (as ConnectWise has it) and `after` (what we set).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// POST a new addition billing `catalog_item_id`.
    Create {
        /// ConnectWise's id of the catalog item the new addition bills.
        catalog_item_id: CatalogItemId,
        /// The quantity the new addition gets.
        after: f64,
    },
    /// Dry run only: a create whose catalog item does not exist yet. A real run makes every selected
    /// product's catalog item before planning, so this never reaches apply.
    #[serde(rename = "create")]
    CreateWithNewCatalogItem {
        /// The quantity the new addition would get.
        after: f64,
    },
    /// PATCH the quantity of our addition.
    UpdateQuantity {
        /// ConnectWise's id of our addition.
        addition_id: AdditionId,
        /// The catalog item the addition bills.
        catalog_item_id: CatalogItemId,
        /// The addition's quantity in ConnectWise now.
        before: f64,
        /// The quantity set.
        after: f64,
    },
    /// PATCH a cancelled date on our addition (its quantity stays `before`).
    Cancel {
        /// ConnectWise's id of the addition to cancel.
        addition_id: AdditionId,
        /// The catalog item the addition bills.
        catalog_item_id: CatalogItemId,
        /// The addition's quantity in ConnectWise now.
        before: f64,
    },
    /// Take over the only live addition for the product (and set its quantity). `ours`: it is one
    /// an interrupted create of ours made.
    Adopt {
        /// ConnectWise's id of the addition taken over.
        addition_id: AdditionId,
        /// The catalog item the addition bills.
        catalog_item_id: CatalogItemId,
        /// The addition was made by an interrupted create of ours.
        ours: bool,
        /// The addition's quantity in ConnectWise now.
        before: f64,
        /// The quantity set.
        after: f64,
    },
    /// Several live additions could be the product's: reported, nothing written.
    Conflict {
        /// ConnectWise's ids of every live addition that could be the product's.
        addition_ids: Vec<AdditionId>,
        /// The quantity the month's usage asks for.
        after: f64,
    },
    /// Our addition was deleted or cancelled in ConnectWise: reported, not recreated. `before` is
    /// the quantity we last set.
    RemovedInCw {
        /// ConnectWise's id of the addition we managed.
        addition_id: AdditionId,
        /// The quantity we last set on it.
        before: f64,
        /// The quantity the month's usage asks for.
        after: f64,
    },
    /// Already right. `before` is absent when the addition is gone (and usage is zero).
    Skip {
        /// ConnectWise's id of the addition.
        addition_id: AdditionId,
        /// The addition's quantity in ConnectWise now; `None` when it is gone.
        before: Option<f64>,
        /// The quantity the month's usage asks for.
        after: f64,
    },
}

impl Op {
    /// The kind of the change.
    pub fn kind(&self) -> OpKind {
        match self.change {
            Change::Create { .. } | Change::CreateWithNewCatalogItem { .. } => OpKind::Create,
            Change::UpdateQuantity { .. } => OpKind::UpdateQuantity,
            Change::Cancel { .. } => OpKind::Cancel,
            Change::Adopt { .. } => OpKind::Adopt,
            Change::Conflict { .. } => OpKind::Conflict,
            Change::RemovedInCw { .. } => OpKind::RemovedInCw,
            Change::Skip { .. } => OpKind::Skip,
        }
    }

    /// Whether apply runs it (a write to ConnectWise and our links).
    pub fn is_write(&self) -> bool {
        matches!(
            self.change,
            Change::Create { .. }
                | Change::UpdateQuantity { .. }
                | Change::Cancel { .. }
                | Change::Adopt { .. }
        )
    }

    /// The one existing addition it concerns (none for creates and conflicts).
    pub fn addition_id(&self) -> Option<AdditionId> {
        match self.change {
            Change::UpdateQuantity { addition_id, .. }
            | Change::Cancel { addition_id, .. }
            | Change::Adopt { addition_id, .. }
            | Change::RemovedInCw { addition_id, .. }
            | Change::Skip { addition_id, .. } => Some(addition_id),
            Change::Create { .. }
            | Change::CreateWithNewCatalogItem { .. }
            | Change::Conflict { .. } => None,
        }
    }

    /// The quantity in ConnectWise before (none when there is no addition).
    pub fn before(&self) -> Option<f64> {
        match self.change {
            Change::UpdateQuantity { before, .. }
            | Change::Cancel { before, .. }
            | Change::Adopt { before, .. }
            | Change::RemovedInCw { before, .. } => Some(before),
            Change::Skip { before, .. } => before,
            Change::Create { .. }
            | Change::CreateWithNewCatalogItem { .. }
            | Change::Conflict { .. } => None,
        }
    }

    /// The quantity the month's usage asks for (0 for a cancel).
    pub fn after(&self) -> f64 {
        match self.change {
            Change::Create { after, .. }
            | Change::CreateWithNewCatalogItem { after }
            | Change::UpdateQuantity { after, .. }
            | Change::Adopt { after, .. }
            | Change::Conflict { after, .. }
            | Change::RemovedInCw { after, .. }
            | Change::Skip { after, .. } => after,
            Change::Cancel { .. } => 0.0,
        }
    }
}

/// An addition on the agreement as ConnectWise has it now.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentAddition {
    /// ConnectWise's id of the addition.
    pub id: AdditionId,
    /// The catalog item the addition bills.
    pub catalog_item_id: CatalogItemId,
    /// The addition's quantity.
    pub quantity: f64,
    /// The addition has a cancelled date.
    pub cancelled: bool,
}

/// An addition we manage (created or adopted), as we last left it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedAddition {
    /// ConnectWise's id of the addition.
    pub addition_id: AdditionId,
    /// The catalog item the addition billed when we last wrote it.
    pub catalog_item_id: CatalogItemId,
    /// The quantity we last set.
    pub quantity: f64,
    /// We cancelled it (zero usage under the cancel policy).
    pub cancelled_by_us: bool,
}

/// Everything the planner needs for one agreement.
#[derive(Debug, Clone)]
pub struct AgreementInput {
    /// Sophos's id of the customer's tenant.
    pub tenant_id: TenantId,
    /// ConnectWise's id of the agreement.
    pub agreement_id: AgreementId,
    /// Desired quantity per selected product (0 for a selected product without usage).
    pub desired: BTreeMap<String, f64>,
    /// Catalog item per selected product (missing: not created yet, dry run only).
    pub catalog: BTreeMap<String, CatalogItemId>,
    /// Every addition on the agreement as ConnectWise has it now, cancelled ones included.
    pub additions: Vec<CurrentAddition>,
    /// The additions we manage on this agreement, by product.
    pub links: BTreeMap<String, LinkedAddition>,
    /// Products whose create was started by an earlier run that never learned the outcome.
    pub in_doubt: BTreeSet<String>,
    /// Products whose removal in ConnectWise a person acknowledged: left unbilled, by choice.
    pub acknowledged_removals: BTreeSet<String>,
}

impl AgreementInput {
    /// An agreement with nothing desired, no catalog items, additions or links yet.
    pub fn new(tenant_id: TenantId, agreement_id: AgreementId) -> Self {
        AgreementInput {
            tenant_id,
            agreement_id,
            desired: BTreeMap::new(),
            catalog: BTreeMap::new(),
            additions: Vec::new(),
            links: BTreeMap::new(),
            in_doubt: BTreeSet::new(),
            acknowledged_removals: BTreeSet::new(),
        }
    }
}

fn same_qty(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Plans one agreement. Products come out in identifier order.
pub fn plan_agreement(input: &AgreementInput, zero: ZeroUsage, flags: PlanFlags) -> Vec<Op> {
    let mut ops = Vec::new();
    for (product, &qty) in &input.desired {
        let op = |change: Change, reason: String| Op {
            tenant_id: input.tenant_id.clone(),
            agreement_id: input.agreement_id,
            product: product.clone(),
            change,
            reason,
        };
        let Some(catalog_item_id) = input.catalog.get(product).copied() else {
            // No catalog item yet: no addition can bill it, so only a create is possible.
            if qty > 0.0 {
                ops.push(op(
                    Change::CreateWithNewCatalogItem { after: qty },
                    messages::reason_create(qty),
                ));
            }
            continue;
        };
        let create = |reason: String| {
            op(
                Change::Create {
                    catalog_item_id,
                    after: qty,
                },
                reason,
            )
        };
        let mut live: Vec<&CurrentAddition> = input
            .additions
            .iter()
            .filter(|a| a.catalog_item_id == catalog_item_id && !a.cancelled)
            .collect();
        // One live addition per (agreement, product): a product mapped to another catalog item
        // moves its addition (ours on the old item is cancelled, then the new one is made or
        // adopted), so the same usage is never billed twice.
        if let Some(old) = input
            .links
            .get(product)
            .filter(|l| l.catalog_item_id != catalog_item_id)
            && let Some(a) = input
                .additions
                .iter()
                .find(|a| a.id == old.addition_id && !a.cancelled)
        {
            ops.push(op(
                Change::Cancel {
                    addition_id: a.id,
                    catalog_item_id: old.catalog_item_id,
                    before: a.quantity,
                },
                messages::reason_moved(a.id, old.catalog_item_id, catalog_item_id),
            ));
        }
        let linked = input
            .links
            .get(product)
            .filter(|l| l.catalog_item_id == catalog_item_id);
        // Several live additions bill this product: reported with their ids, or (with --repair)
        // all but one cancelled, keeping ours, else the oldest.
        let oldest = live.iter().map(|a| a.id).min();
        if let Some(oldest) = oldest.filter(|_| live.len() > 1) {
            let keep = linked
                .map(|l| l.addition_id)
                .filter(|id| live.iter().any(|a| a.id == *id))
                .unwrap_or(oldest);
            let extra: Vec<AdditionId> =
                live.iter().map(|a| a.id).filter(|id| *id != keep).collect();
            if !flags.repair {
                let ids: Vec<AdditionId> = live.iter().map(|a| a.id).collect();
                ops.push(op(
                    Change::Conflict {
                        addition_ids: ids.clone(),
                        after: qty,
                    },
                    messages::reason_duplicates(&ids, keep),
                ));
                continue;
            }
            for a in live.iter().filter(|a| extra.contains(&a.id)) {
                ops.push(op(
                    Change::Cancel {
                        addition_id: a.id,
                        catalog_item_id,
                        before: a.quantity,
                    },
                    messages::reason_repair(a.id, keep),
                ));
            }
            live.retain(|a| a.id == keep);
        }
        if let Some(link) = linked {
            if let Some(a) = live.iter().find(|a| a.id == link.addition_id) {
                let o = if same_qty(a.quantity, qty) {
                    op(
                        Change::Skip {
                            addition_id: a.id,
                            before: Some(a.quantity),
                            after: qty,
                        },
                        messages::reason_same(qty),
                    )
                } else if qty == 0.0 && zero == ZeroUsage::Cancel {
                    op(
                        Change::Cancel {
                            addition_id: a.id,
                            catalog_item_id,
                            before: a.quantity,
                        },
                        messages::reason_cancel(),
                    )
                } else {
                    // Say what really changed: Sophos's usage, or a hand edit in ConnectWise.
                    let reason = if same_qty(a.quantity, link.quantity) {
                        messages::reason_update(a.quantity, qty)
                    } else {
                        messages::reason_hand_edit(a.quantity, link.quantity, qty)
                    };
                    op(
                        Change::UpdateQuantity {
                            addition_id: a.id,
                            catalog_item_id,
                            before: a.quantity,
                            after: qty,
                        },
                        reason,
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
                        Change::Skip {
                            addition_id: link.addition_id,
                            before: Some(0.0),
                            after: 0.0,
                        },
                        messages::reason_still_cancelled(),
                    ));
                    continue;
                }
                // Usage came back after we cancelled: fall through to a new addition.
            } else if live.is_empty() {
                if qty == 0.0 {
                    ops.push(op(
                        Change::Skip {
                            addition_id: link.addition_id,
                            before: None,
                            after: 0.0,
                        },
                        messages::reason_removed_no_usage(),
                    ));
                } else if flags.recreate {
                    ops.push(create(messages::reason_recreate(qty)));
                } else if input.acknowledged_removals.contains(product) {
                    ops.push(op(
                        Change::Skip {
                            addition_id: link.addition_id,
                            before: None,
                            after: qty,
                        },
                        messages::reason_removed_by_choice(link.addition_id, qty),
                    ));
                } else {
                    ops.push(op(
                        Change::RemovedInCw {
                            addition_id: link.addition_id,
                            before: link.quantity,
                            after: qty,
                        },
                        messages::reason_removed(link.addition_id, qty),
                    ));
                }
                continue;
            }
        }
        match live.as_slice() {
            [] => {
                if qty > 0.0 {
                    ops.push(create(messages::reason_create(qty)));
                }
            }
            [a] => {
                let ours = input.in_doubt.contains(product);
                let reason = if ours {
                    messages::reason_finish_create(a.id)
                } else {
                    messages::reason_adopt(a.id)
                };
                ops.push(op(
                    Change::Adopt {
                        addition_id: a.id,
                        catalog_item_id,
                        ours,
                        before: a.quantity,
                        after: qty,
                    },
                    reason,
                ));
            }
            several => {
                let ids: Vec<AdditionId> = several.iter().map(|a| a.id).collect();
                ops.push(op(
                    Change::Conflict {
                        addition_ids: ids.clone(),
                        after: qty,
                    },
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

    fn aid(n: i64) -> AdditionId {
        AdditionId::new(n)
    }

    fn cat(n: i64) -> CatalogItemId {
        CatalogItemId::new(n)
    }

    fn input() -> AgreementInput {
        let mut i = AgreementInput::new("t1".into(), AgreementId::new(11));
        i.desired.insert("P".into(), 5.0);
        i.catalog.insert("P".into(), cat(900));
        i
    }

    fn link(addition_id: i64) -> LinkedAddition {
        LinkedAddition {
            addition_id: aid(addition_id),
            catalog_item_id: cat(900),
            quantity: 5.0,
            cancelled_by_us: false,
        }
    }

    fn add(id: i64, quantity: f64, cancelled: bool) -> CurrentAddition {
        CurrentAddition {
            id: aid(id),
            catalog_item_id: cat(900),
            quantity,
            cancelled,
        }
    }

    fn kinds(ops: &[Op]) -> Vec<OpKind> {
        ops.iter().map(Op::kind).collect()
    }

    #[test]
    fn a_hand_edit_is_named_as_one() {
        let mut i = input();
        i.links.insert("P".into(), link(7));
        i.additions.push(add(7, 999.0, false));
        let ops = plan_agreement(&i, ZeroUsage::QuantityZero, PlanFlags::default());
        assert_eq!(kinds(&ops), [OpKind::UpdateQuantity]);
        assert_eq!(
            ops[0].reason,
            "quantity set by hand in ConnectWise to 999 (centralbridge last set 5); Sophos usage is 5"
        );
    }

    #[test]
    fn a_remap_cancels_the_old_item_then_creates_on_the_new() {
        let mut i = input();
        let mut old = link(7);
        old.catalog_item_id = cat(800);
        i.links.insert("P".into(), old);
        i.additions.push(CurrentAddition {
            catalog_item_id: cat(800),
            ..add(7, 5.0, false)
        });
        let ops = plan_agreement(&i, ZeroUsage::QuantityZero, PlanFlags::default());
        assert_eq!(kinds(&ops), [OpKind::Cancel, OpKind::Create]);
        assert_eq!(ops[0].addition_id(), Some(aid(7)));
        assert_eq!(ops[1].after(), 5.0);
    }

    #[test]
    fn duplicates_are_a_conflict_until_repaired() {
        let mut i = input();
        i.links.insert("P".into(), link(7));
        i.additions.push(add(7, 5.0, false));
        i.additions.push(add(3, 5.0, false));
        let ops = plan_agreement(&i, ZeroUsage::QuantityZero, PlanFlags::default());
        assert_eq!(kinds(&ops), [OpKind::Conflict]);
        assert!(ops[0].reason.contains("#7") && ops[0].reason.contains("#3"));
        let flags = PlanFlags {
            repair: true,
            ..PlanFlags::default()
        };
        let ops = plan_agreement(&i, ZeroUsage::QuantityZero, flags);
        assert_eq!(kinds(&ops), [OpKind::Cancel, OpKind::Skip]);
        assert_eq!(ops[0].addition_id(), Some(aid(3)), "ours (#7) is kept");
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
        i.links.insert("P".into(), link(7));
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
        assert_eq!((ops[0].before(), ops[0].after()), (Some(5.0), 8.0));
    }

    #[test]
    fn zero_usage_policies() {
        let mut i = input();
        i.desired.insert("P".into(), 0.0);
        assert!(plan_agreement(&i, ZeroUsage::default(), PlanFlags::default()).is_empty());
        i.additions.push(add(7, 5.0, false));
        i.links.insert("P".into(), link(7));
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
        assert!(matches!(
            ops[0].change,
            Change::Adopt {
                addition_id,
                ours: false,
                ..
            } if addition_id == aid(7)
        ));
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
        i.links.insert("P".into(), link(7));
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
                PlanFlags {
                    recreate: true,
                    ..PlanFlags::default()
                }
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
        assert!(matches!(
            ops[0].change,
            Change::Adopt {
                addition_id,
                ours: true,
                ..
            } if addition_id == aid(7)
        ));
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
            let set =
                |a: &mut Vec<CurrentAddition>, id: AdditionId, f: &dyn Fn(&mut CurrentAddition)| {
                    f(a.iter_mut().find(|a| a.id == id).unwrap());
                };
            let l = match o.change {
                Change::Create {
                    catalog_item_id,
                    after,
                } => {
                    *next_id += 1;
                    i.additions.push(CurrentAddition {
                        id: aid(*next_id),
                        catalog_item_id,
                        quantity: after,
                        cancelled: false,
                    });
                    LinkedAddition {
                        addition_id: aid(*next_id),
                        catalog_item_id,
                        quantity: after,
                        cancelled_by_us: false,
                    }
                }
                Change::UpdateQuantity {
                    addition_id,
                    catalog_item_id,
                    after,
                    ..
                }
                | Change::Adopt {
                    addition_id,
                    catalog_item_id,
                    after,
                    ..
                } => {
                    set(&mut i.additions, addition_id, &|a| a.quantity = after);
                    LinkedAddition {
                        addition_id,
                        catalog_item_id,
                        quantity: after,
                        cancelled_by_us: false,
                    }
                }
                Change::Cancel {
                    addition_id,
                    catalog_item_id,
                    before,
                } => {
                    set(&mut i.additions, addition_id, &|a| a.cancelled = true);
                    LinkedAddition {
                        addition_id,
                        catalog_item_id,
                        quantity: before,
                        cancelled_by_us: true,
                    }
                }
                _ => continue,
            };
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
            let mut i = AgreementInput::new("t".into(), AgreementId::new(1));
            for (k, p) in products.iter().enumerate() {
                i.desired.insert((*p).to_owned(), f64::from(desired[k]));
                i.catalog.insert((*p).to_owned(), cat(100 + k as i64));
            }
            for (n, (k, q, c)) in existing.iter().enumerate() {
                i.additions.push(CurrentAddition { id: aid(n as i64 + 1), catalog_item_id: cat(100 + *k as i64), quantity: f64::from(*q), cancelled: *c });
            }
            // Some products have a link to their first addition (which may be cancelled or gone).
            for (k, p) in products.iter().enumerate() {
                if linked[k] {
                    let id = i.additions.iter().find(|a| a.catalog_item_id == cat(100 + k as i64)).map_or(aid(99), |a| a.id);
                    i.links.insert((*p).to_owned(), LinkedAddition {
                        addition_id: id, catalog_item_id: cat(100 + k as i64), quantity: 1.0, cancelled_by_us: false,
                    });
                }
            }
            let zero = if cancel { ZeroUsage::Cancel } else { ZeroUsage::QuantityZero };
            let flags = PlanFlags {
                    recreate: true,
                    ..PlanFlags::default()
                };
            let mut next = 1000;
            let first = plan_agreement(&i, zero, flags);
            model_apply(&mut i, &first, &mut next);
            let second = plan_agreement(&i, zero, flags);
            let writes: Vec<&Op> = second.iter().filter(|o| o.is_write()).collect();
            proptest::prop_assert!(writes.is_empty(), "second plan writes: {:?}", writes);
        }
    }

    #[test]
    fn a_create_before_its_catalog_item_exists_has_its_own_shape() {
        let mut i = input();
        i.catalog.clear();
        let ops = plan_agreement(&i, ZeroUsage::default(), PlanFlags::default());
        assert_eq!(ops.len(), 1);
        assert_eq!(
            ops[0].change,
            Change::CreateWithNewCatalogItem { after: 5.0 }
        );
        // Counted and shown as a create, but apply never runs it.
        assert_eq!(ops[0].kind(), OpKind::Create);
        assert!(!ops[0].is_write());
        let json = serde_json::to_value(&ops[0]).unwrap();
        assert_eq!(json["kind"], "create");
        assert_eq!(json["after"], 5.0);
        assert!(json.get("catalog_item_id").is_none());

        i.catalog.insert("P".into(), cat(900));
        let ops = plan_agreement(&i, ZeroUsage::default(), PlanFlags::default());
        assert_eq!(
            ops[0].change,
            Change::Create {
                catalog_item_id: cat(900),
                after: 5.0
            }
        );
        let json = serde_json::to_value(&ops[0]).unwrap();
        assert_eq!(json["kind"], "create");
        assert_eq!(json["catalog_item_id"], 900);
        assert_eq!(json["product"], "P");
    }
}
