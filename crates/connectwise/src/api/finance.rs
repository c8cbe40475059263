use crate::client::{Client, CwStream, PageMode};
use crate::conditions::{Conditions, Query};
use crate::error::CwError;
use crate::models::{Addition, Agreement, PatchOp, Reference};

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

    pub async fn agreement(&self, id: i64) -> Result<Agreement, CwError> {
        self.get(&format!("finance/agreements/{id}"), Vec::new())
            .await
    }

    pub async fn count_agreements(&self, query: impl Into<Query>) -> Result<i64, CwError> {
        self.count("finance/agreements/count", query.into()).await
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
