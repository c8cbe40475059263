use futures::TryStreamExt as _;

use crate::client::{Client, CwStream, PageMode};
use crate::conditions::{Conditions, Query};
use crate::error::CwError;
use crate::models::{Addition, Agreement, AgreementStatus, BillCustomer, PatchOp, Reference};

/// An agreement as a caller records it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementSummary {
    /// ConnectWise's record id of the agreement; what a customer's mapping stores.
    pub id: i64,
    /// ConnectWise's record id of the company the agreement is with; `None` when the record
    /// names none.
    pub company_id: Option<i64>,
    /// The agreement's name (not unique); `None` when ConnectWise sent none.
    pub name: Option<String>,
    /// The name of its agreement type; `None` when ConnectWise sent none.
    pub type_name: Option<String>,
    /// `agreementStatus` as ConnectWise writes it (`Active`, `Cancelled`, `Expired`, …).
    pub status: Option<String>,
    /// Cancelled by its flag or its status.
    pub cancelled: bool,
    /// Its status says Expired (ConnectWise sets that on its own schedule: see `ends_at`).
    pub expired_status: bool,
    /// The end date; `None` when it has none or is marked as never ending.
    pub ends_at: Option<jiff::Timestamp>,
    /// The name of its billing cycle (e.g. Monthly); `None` when ConnectWise sent none.
    pub billing_cycle: Option<String>,
    /// Why additions must not be changed on it (`cancelled`, `expired`, `inactive`), or `None`.
    pub inactive: Option<&'static str>,
}

impl AgreementSummary {
    fn from_model(a: Agreement) -> Option<Self> {
        let inactive = a.inactive_reason();
        let status = a.agreement_status.as_ref();
        Some(AgreementSummary {
            id: a.id?,
            company_id: a.company.and_then(|c| c.id),
            name: a.name,
            type_name: a.type_.and_then(|t| t.name),
            status: status.map(|s| s.as_str().to_owned()),
            cancelled: a.cancelled_flag == Some(true)
                || status == Some(&AgreementStatus::Cancelled),
            expired_status: status == Some(&AgreementStatus::Expired),
            ends_at: a.end_date.filter(|_| a.no_ending_date_flag != Some(true)),
            billing_cycle: a.billing_cycle.and_then(|b| b.name),
            inactive,
        })
    }
}

impl Agreement {
    /// Why additions must not be changed on it (`cancelled`, `expired`, `inactive`), or `None`
    /// while it is active (or its status is one this client does not know).
    pub fn inactive_reason(&self) -> Option<&'static str> {
        match &self.agreement_status {
            Some(AgreementStatus::Active) | Some(AgreementStatus::Unknown(_)) | None => None,
            Some(AgreementStatus::Cancelled) => Some("cancelled"),
            Some(AgreementStatus::Expired) => Some("expired"),
            Some(AgreementStatus::Inactive) => Some("inactive"),
        }
        .or(self.cancelled_flag.filter(|c| *c).map(|_| "cancelled"))
    }
}

/// An addition as a caller plans with it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdditionState {
    /// ConnectWise's record id of the addition.
    pub id: i64,
    /// The catalog item (`product`) it bills.
    pub catalog_item_id: i64,
    /// Units it bills each cycle; 0 when ConnectWise sent none.
    pub quantity: f64,
    /// It has a cancelled date.
    pub cancelled: bool,
    /// Price per unit charged to the customer; `None` when ConnectWise sent none.
    pub unit_price: Option<f64>,
    /// What ConnectWise bills for it each cycle (`extPrice`); `None` when it sent none.
    pub ext_price: Option<f64>,
}

/// A billable addition to add to an agreement.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAddition {
    /// ConnectWise's record id of the catalog item the addition bills.
    pub catalog_item_id: i64,
    /// Units to bill each cycle (the product's Sophos usage).
    pub quantity: f64,
    /// When billing starts (the usage sync sends the first day of the month, UTC).
    pub effective_date: jiff::Timestamp,
    /// The addition's description (the product's); `None` sends none.
    pub description: Option<String>,
}

impl Client {
    /// Every agreement matching `query`, streamed forward-only.
    pub fn agreements(&self, query: impl Into<Query>) -> CwStream<Agreement> {
        self.stream(
            "finance/agreements".into(),
            query.into(),
            PageMode::ForwardOnly,
        )
    }

    /// The agreements with these ids (one `id in (...)` listing; keep `ids` to a few hundred so the
    /// URL stays short). Ids ConnectWise does not know are simply absent.
    pub fn agreements_by_ids(&self, ids: &[i64]) -> CwStream<Agreement> {
        self.agreements(Conditions::new().is_in("id", ids.iter().copied()))
    }

    /// The agreements with these ids (one `id in (...)` listing; keep `ids` to a few hundred), as
    /// [`AgreementSummary`] values.
    pub fn agreement_summaries_by_ids(&self, ids: &[i64]) -> CwStream<AgreementSummary> {
        Box::pin(
            self.agreements_by_ids(ids)
                .try_filter_map(|a| futures::future::ok(AgreementSummary::from_model(a))),
        )
    }

    /// How many agreements match `query` (`finance/agreements/count`).
    pub async fn count_agreements(&self, query: impl Into<Query>) -> Result<i64, CwError> {
        self.count("finance/agreements/count", query.into()).await
    }

    /// Every agreement (with an id), as [`AgreementSummary`] values, streamed.
    pub fn agreement_summaries(&self) -> CwStream<AgreementSummary> {
        Box::pin(
            self.agreements(())
                .try_filter_map(|a| futures::future::ok(AgreementSummary::from_model(a))),
        )
    }

    /// A company's agreements; cancelled ones only when asked.
    pub async fn agreements_for_company(
        &self,
        company_id: i64,
        include_cancelled: bool,
    ) -> Result<Vec<Agreement>, CwError> {
        let mut c = Conditions::new().eq("company/id", company_id);
        if !include_cancelled {
            c = c.eq_bool("cancelledFlag", false);
        }
        self.collect(self.agreements(c)).await
    }

    /// The agreement with this record id; [`CwError::NotFound`] when there is none.
    pub async fn agreement(&self, id: i64) -> Result<Agreement, CwError> {
        self.get(&format!("finance/agreements/{id}"), Vec::new())
            .await
    }

    /// `finance/agreements/types` (setup table).
    pub async fn agreement_types(&self) -> Result<Vec<Reference>, CwError> {
        self.collect(self.stream(
            "finance/agreements/types".into(),
            Query::new(),
            PageMode::Navigable,
        ))
        .await
    }

    /// The additions of an agreement.
    pub async fn additions(
        &self,
        agreement_id: i64,
        query: impl Into<Query>,
    ) -> Result<Vec<Addition>, CwError> {
        self.collect(self.stream(
            format!("finance/agreements/{agreement_id}/additions"),
            query.into(),
            PageMode::Navigable,
        ))
        .await
    }

    /// The additions of an agreement that have an id and a product, as [`AdditionState`] values.
    pub async fn addition_states(&self, agreement_id: i64) -> Result<Vec<AdditionState>, CwError> {
        Ok(self
            .additions(agreement_id, ())
            .await?
            .into_iter()
            .filter_map(|a| {
                Some(AdditionState {
                    id: a.id?,
                    catalog_item_id: a.product.as_ref()?.id?,
                    quantity: a.quantity.unwrap_or(0.0),
                    cancelled: a.cancelled_date.is_some(),
                    unit_price: a.unit_price,
                    ext_price: a.ext_price,
                })
            })
            .collect())
    }

    /// Add a billable addition; returns its id. An ambiguous failure is followed by a lookup of the
    /// catalog item's live addition (see [`Client::create_addition`]).
    pub async fn add_billable_addition(
        &self,
        agreement_id: i64,
        addition: &NewAddition,
    ) -> Result<i64, CwError> {
        let body = Addition {
            product: Some(Reference::id(addition.catalog_item_id)),
            quantity: Some(addition.quantity),
            bill_customer: Some(BillCustomer::Billable),
            effective_date: Some(addition.effective_date),
            description: addition.description.clone(),
            ..Addition::default()
        };
        let path = format!("finance/agreements/{agreement_id}/additions");
        self.create_addition(agreement_id, &body)
            .await?
            .id
            .ok_or(CwError::Decode {
                path,
                message: "the created addition has no id".to_string(),
            })
    }

    /// One addition of an agreement, by their record ids; [`CwError::NotFound`] when there is none.
    pub async fn addition(&self, agreement_id: i64, id: i64) -> Result<Addition, CwError> {
        self.get(
            &format!("finance/agreements/{agreement_id}/additions/{id}"),
            Vec::new(),
        )
        .await
    }

    /// The live (not cancelled) addition of a product on an agreement, if any.
    pub async fn find_addition_for_product(
        &self,
        agreement_id: i64,
        product_id: i64,
    ) -> Result<Option<Addition>, CwError> {
        let c = Conditions::new()
            .eq("product/id", product_id)
            .is_null("cancelledDate");
        Ok(self.additions(agreement_id, c).await?.into_iter().next())
    }

    /// Create an addition. When `product.id` is set, an ambiguous failure is followed by a lookup of
    /// the product's live addition, so a retry never adds a second one.
    pub async fn create_addition(
        &self,
        agreement_id: i64,
        addition: &Addition,
    ) -> Result<Addition, CwError> {
        let path = format!("finance/agreements/{agreement_id}/additions");
        match addition.product.as_ref().and_then(|p| p.id) {
            Some(product_id) => {
                self.create_with_lookup(&path, addition, || {
                    self.find_addition_for_product(agreement_id, product_id)
                })
                .await
            }
            None => self.post(&path, addition).await,
        }
    }

    /// Set an addition's quantity, checking the change took.
    pub async fn set_addition_quantity(
        &self,
        agreement_id: i64,
        addition_id: i64,
        quantity: f64,
    ) -> Result<Addition, CwError> {
        self.patch_addition(
            agreement_id,
            addition_id,
            &[PatchOp::replace("quantity", quantity)],
        )
        .await
    }

    /// Cancel an addition from `date` (its `cancelledDate`), checking the change took.
    pub async fn cancel_addition(
        &self,
        agreement_id: i64,
        addition_id: i64,
        date: jiff::Timestamp,
    ) -> Result<Addition, CwError> {
        self.patch_addition(
            agreement_id,
            addition_id,
            &[PatchOp::replace("cancelledDate", date.to_string())],
        )
        .await
    }

    /// Delete an addition outright (a person's tool: centralbridge itself cancels, never deletes, so
    /// the billing history stays). Needs Delete on Agreements; `Ok(false)` when it was not there.
    pub async fn delete_addition(&self, agreement_id: i64, id: i64) -> Result<bool, CwError> {
        self.delete(&format!("finance/agreements/{agreement_id}/additions/{id}"))
            .await
    }

    /// PATCH an addition (e.g. `PatchOp::replace("quantity", 25)`), checking the change took.
    pub async fn patch_addition(
        &self,
        agreement_id: i64,
        id: i64,
        ops: &[PatchOp],
    ) -> Result<Addition, CwError> {
        self.patch(
            &format!("finance/agreements/{agreement_id}/additions/{id}"),
            ops,
        )
        .await
    }
}
