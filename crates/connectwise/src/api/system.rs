use crate::client::{Client, CwStream, PageMode};
use crate::conditions::{Conditions, Query, encode_component};
use crate::error::CwError;
use crate::models::{Member, ReportColumns, ReportData, ReportName, SystemInfo};

/// Parameters of a report read.
#[derive(Debug, Clone, Default)]
pub struct ReportQuery {
    /// Filter on the report's own column names; `None` (or empty) reads every row.
    pub conditions: Option<Conditions>,
    /// `columns=` (reports take this instead of `fields=`).
    pub columns: Option<String>,
    /// `orderBy` on the report's column names; `None` keeps the server's order.
    pub order_by: Option<String>,
    /// 1-based; `None` = first page.
    pub page: Option<u32>,
    /// `None` = the client's page size.
    pub page_size: Option<u32>,
}

impl Client {
    /// Every member matching `query`, streamed page by page.
    pub fn members(&self, query: impl Into<Query>) -> CwStream<Member> {
        self.stream("system/members".into(), query.into(), PageMode::Navigable)
    }

    /// The member with this record id; [`CwError::NotFound`] when there is none.
    pub async fn member(&self, id: i64) -> Result<Member, CwError> {
        self.get(&format!("system/members/{id}"), Vec::new()).await
    }

    /// How many members match `query` (`system/members/count`).
    pub async fn count_members(&self, query: impl Into<Query>) -> Result<i64, CwError> {
        self.count("system/members/count", query.into()).await
    }

    /// The member with this identifier (login name), if any.
    pub async fn member_by_identifier(&self, identifier: &str) -> Result<Option<Member>, CwError> {
        let found = self
            .collect(self.members(Conditions::new().eq("identifier", identifier)))
            .await?;
        Ok(found.into_iter().find(|m| {
            m.identifier
                .as_deref()
                .is_some_and(|i| i.eq_ignore_ascii_case(identifier))
        }))
    }

    /// `system/info`: the usual "test connection" call.
    pub async fn system_info(&self) -> Result<SystemInfo, CwError> {
        self.get("system/info", Vec::new()).await
    }

    /// Names of the reports the member may read.
    pub async fn reports(&self) -> Result<Vec<ReportName>, CwError> {
        self.collect(self.stream("system/reports".into(), Query::new(), PageMode::Navigable))
            .await
    }

    /// One page of a report's data.
    pub async fn report_data(&self, name: &str, q: &ReportQuery) -> Result<ReportData, CwError> {
        let mut params = Vec::new();
        if let Some(c) = &q.conditions {
            let s = c.build()?;
            if !s.is_empty() {
                params.push(("conditions".to_string(), s));
            }
        }
        if let Some(c) = &q.columns {
            params.push(("columns".to_string(), c.clone()));
        }
        if let Some(o) = &q.order_by {
            params.push(("orderBy".to_string(), o.clone()));
        }
        params.push((
            "pageSize".to_string(),
            q.page_size
                .unwrap_or(self.page_size())
                .clamp(1, 1000)
                .to_string(),
        ));
        params.push(("page".to_string(), q.page.unwrap_or(1).max(1).to_string()));
        self.get(
            &format!("system/reports/{}", encode_component(name)),
            params,
        )
        .await
    }

    /// The column definitions of the report `name`.
    pub async fn report_columns(&self, name: &str) -> Result<ReportColumns, CwError> {
        self.get(
            &format!("system/reports/{}/columns", encode_component(name)),
            Vec::new(),
        )
        .await
    }

    /// How many rows of the report `name` match `conditions` (all rows when `None`).
    pub async fn report_count(
        &self,
        name: &str,
        conditions: Option<&Conditions>,
    ) -> Result<i64, CwError> {
        let q = match conditions {
            Some(c) => Query::new().conditions(c.clone()),
            None => Query::new(),
        };
        self.count(
            &format!("system/reports/{}/count", encode_component(name)),
            q,
        )
        .await
    }
}
