use futures::TryStreamExt as _;

use crate::client::{Client, CwStream, PageMode};
use crate::conditions::{Conditions, Query, quote, safe_substring};
use crate::error::CwError;
use crate::models::{Company, Contact};

/// A company as a caller records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanySummary {
    /// ConnectWise's record id of the company; what a customer's mapping stores.
    pub id: i64,
    /// The company's short code (its "Company ID" in ConnectWise); `None` when it has none.
    pub identifier: Option<String>,
    /// The company's display name; `None` when ConnectWise sent none.
    pub name: Option<String>,
    /// The name of its status (e.g. `Active`, `Inactive - Not Approved`).
    pub status: Option<String>,
    /// True when the company is in ConnectWise's recycle bin.
    pub deleted: bool,
}

impl CompanySummary {
    fn from_model(c: Company) -> Option<Self> {
        Some(CompanySummary {
            id: c.id?,
            identifier: c.identifier,
            name: c.name,
            status: c.status.and_then(|s| s.name),
            deleted: c.deleted_flag == Some(true),
        })
    }
}

impl Client {
    /// Every company matching `query`, streamed forward-only (pageSize from the config, 1000 by
    /// default). Includes deleted companies unless the query excludes them.
    pub fn companies(&self, query: impl Into<Query>) -> CwStream<Company> {
        self.stream(
            "company/companies".into(),
            query.into(),
            PageMode::ForwardOnly,
        )
    }

    /// Every company (with an id, deleted ones included) as [`CompanySummary`] values, streamed.
    pub fn company_summaries(&self) -> CwStream<CompanySummary> {
        Box::pin(
            self.companies(())
                .try_filter_map(|c| futures::future::ok(CompanySummary::from_model(c))),
        )
    }

    /// The company with this id; `None` when there is none.
    pub async fn company_summary(&self, id: i64) -> Result<Option<CompanySummary>, CwError> {
        match self.company(id).await {
            Ok(c) => Ok(CompanySummary::from_model(c)),
            Err(CwError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Client::find_company_by_identifier`] as a [`CompanySummary`].
    pub async fn find_company_summary_by_identifier(
        &self,
        identifier: &str,
    ) -> Result<Option<CompanySummary>, CwError> {
        Ok(self
            .find_company_by_identifier(identifier)
            .await?
            .and_then(CompanySummary::from_model))
    }

    /// All matching companies in memory.
    pub async fn search_companies(&self, query: impl Into<Query>) -> Result<Vec<Company>, CwError> {
        self.collect(self.companies(query)).await
    }

    /// The company with this record id; [`CwError::NotFound`] when there is none.
    pub async fn company(&self, id: i64) -> Result<Company, CwError> {
        self.get(&format!("company/companies/{id}"), Vec::new())
            .await
    }

    /// How many companies match `query` (`company/companies/count`).
    pub async fn count_companies(&self, query: impl Into<Query>) -> Result<i64, CwError> {
        self.count("company/companies/count", query.into()).await
    }

    /// Companies (not deleted) whose name is exactly `name` (case-insensitive). Works for any name,
    /// including ones with both quote characters (filters on a safe substring, then compares here).
    pub async fn find_companies_by_name(&self, name: &str) -> Result<Vec<Company>, CwError> {
        self.find_exact("name", name, |c: &Company| c.name.as_deref())
            .await
    }

    /// The company (not deleted) with this `identifier`, if any.
    pub async fn find_company_by_identifier(
        &self,
        identifier: &str,
    ) -> Result<Option<Company>, CwError> {
        Ok(self
            .find_exact("identifier", identifier, |c: &Company| {
                c.identifier.as_deref()
            })
            .await?
            .into_iter()
            .next())
    }

    async fn find_exact(
        &self,
        field: &str,
        value: &str,
        get: impl Fn(&Company) -> Option<&str>,
    ) -> Result<Vec<Company>, CwError> {
        let base = Conditions::new().eq_bool("deletedFlag", false);
        let cond = if quote(value).is_some() {
            base.eq(field, value)
        } else if let Some(part) = safe_substring(value) {
            base.contains(field, part)
        } else {
            return Ok(Vec::new());
        };
        let found = self.search_companies(cond).await?;
        Ok(found
            .into_iter()
            .filter(|c| get(c).is_some_and(|v| v.trim().eq_ignore_ascii_case(value.trim())))
            .collect())
    }

    /// `company/contacts` (the seed role cannot read them; used by the permission check).
    pub fn contacts(&self, query: impl Into<Query>) -> CwStream<Contact> {
        self.stream("company/contacts".into(), query.into(), PageMode::Navigable)
    }

    /// How many contacts match `query`; the seed role is refused (used by the permission check).
    pub async fn count_contacts(&self, query: impl Into<Query>) -> Result<i64, CwError> {
        self.count("company/contacts/count", query.into()).await
    }
}
