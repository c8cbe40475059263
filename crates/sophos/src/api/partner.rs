//! whoami, tenants and billing usage (global host, `X-Partner-ID`).

use std::collections::HashSet;

use futures::{Stream, TryStreamExt as _};
use url::Url;

use crate::config::join;
use crate::error::SophosError;
use crate::http::{Request, Scope, Transport};
use crate::messages;
use crate::models::{Page, Tenant, UsageItem, UsageMonth, WhoAmI};
use crate::{Client, TenantSummary, UsageEvent};

pub(crate) async fn fetch_whoami(t: &Transport, global: &Url) -> Result<WhoAmI, SophosError> {
    let req = Request::get(join(global, &["whoami", "v1"]), Scope::Bearer, "whoami");
    t.execute(req).await?.json("whoami")
}

/// Optional billing filters (§7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageFilter {
    /// Only lines of this tenant id (`accountId`).
    pub account_id: Option<String>,
    /// Only lines of the tenant with this contact email.
    pub contact_email: Option<String>,
}

impl Client {
    fn partner_req(&self, segments: &[&str], what: impl Into<String>) -> Request {
        Request::get(
            join(&self.inner.partner_base, segments),
            Scope::Partner(self.inner.whoami.id.clone()),
            what,
        )
    }

    /// Calls whoami again (the answer read at connect time is [`Client::identity`]).
    pub async fn whoami(&self) -> Result<WhoAmI, SophosError> {
        fetch_whoami(&self.inner.t, &self.inner.partner_base).await
    }

    /// One page of the tenant list (page numbers start at 1), asking for `pages.total`.
    pub async fn tenants_page(&self, page: u64) -> Result<Page<Tenant>, SophosError> {
        let mut req = self.partner_req(&["partner", "v1", "tenants"], "tenant list");
        req.query = vec![
            ("page", page.to_string()),
            ("pageSize", self.inner.t.cfg.page_size.tenants.to_string()),
            ("pageTotal", "true".to_string()),
        ];
        self.inner.t.execute(req).await?.json("tenant list")
    }

    /// [`Client::tenants`] as [`TenantSummary`] values.
    pub fn tenant_summaries(
        &self,
    ) -> impl Stream<Item = Result<TenantSummary, SophosError>> + Send + use<> {
        self.tenants().map_ok(TenantSummary::from)
    }

    /// Every tenant of the partner: page 1 with `pageTotal=true`, then pages `2..=total`, stopping
    /// early on an empty page.
    pub fn tenants(&self) -> impl Stream<Item = Result<Tenant, SophosError>> + Send + use<> {
        let c = self.clone();
        async_stream::try_stream! {
            let mut page = 1u64;
            let mut total = None;
            loop {
                let p = c.tenants_page(page).await?;
                if page == 1 {
                    total = p.pages.total;
                }
                let n = p.items.len();
                for t in p.items {
                    yield t;
                }
                // Without `total` (server ignored pageTotal) walk on until an empty page.
                if n == 0 || total.is_some_and(|t| page >= t) {
                    break;
                }
                page += 1;
            }
        }
    }

    /// One tenant. 404 → [`SophosError::NotFound`]; another partner's tenant → `ForbiddenTenant`.
    pub async fn tenant(&self, id: &str) -> Result<Tenant, SophosError> {
        let mut req = self.partner_req(&["partner", "v1", "tenants", id], format!("tenant {id}"));
        req.tenant = Some(id.to_string());
        self.inner.t.execute(req).await?.json("tenant")
    }

    /// One page of billing usage; `Ok(None)` when Sophos answers 404 (no data for that month).
    pub async fn usage_page(
        &self,
        year: i16,
        month: i8,
        filter: &UsageFilter,
        from_key: Option<&str>,
    ) -> Result<Option<Page<UsageItem>>, SophosError> {
        if !(1..=12).contains(&month) || !(1000..=9999).contains(&year) {
            return Err(SophosError::invalid_config(format!(
                "{} ({year}-{month})",
                messages::BAD_MONTH
            )));
        }
        let (y, m) = (year.to_string(), month.to_string());
        let mut req = self.partner_req(
            &["partner", "v1", "billing", "usage", &y, &m],
            format!("billing usage {year}-{month:02}"),
        );
        req.query
            .push(("pageSize", self.inner.t.cfg.page_size.usage.to_string()));
        if let Some(k) = from_key {
            req.query.push(("pageFromKey", k.to_string()));
        }
        if let Some(a) = &filter.account_id {
            req.query.push(("accountId", a.clone()));
        }
        if let Some(e) = &filter.contact_email {
            req.query.push(("contactEmail", e.clone()));
        }
        match self.inner.t.execute(req).await {
            Ok(resp) => resp.json("billing usage").map(Some),
            Err(SophosError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Billing usage lines of a month, key-paged. A month without data is an empty stream.
    pub fn usage(
        &self,
        year: i16,
        month: i8,
    ) -> impl Stream<Item = Result<UsageItem, SophosError>> + Send + use<> {
        self.usage_with(year, month, UsageFilter::default())
    }

    /// [`Client::usage`] with filters.
    pub fn usage_with(
        &self,
        year: i16,
        month: i8,
        filter: UsageFilter,
    ) -> impl Stream<Item = Result<UsageItem, SophosError>> + Send + use<> {
        self.usage_pages(year, month, filter)
            .try_filter_map(futures::future::ok)
    }

    /// A month's usage lines, or [`UsageEvent::NoData`] when Sophos has published none for it, so
    /// a caller never mistakes a missing month for zero usage.
    pub fn usage_events(
        &self,
        year: i16,
        month: i8,
    ) -> impl Stream<Item = Result<UsageEvent, SophosError>> + Send + use<> {
        self.usage_pages(year, month, UsageFilter::default())
            .map_ok(|i| match i {
                Some(item) => UsageEvent::Line(item.into()),
                None => UsageEvent::NoData,
            })
    }

    /// The key-paged listing; `None` once, alone, for a month without data.
    fn usage_pages(
        &self,
        year: i16,
        month: i8,
        filter: UsageFilter,
    ) -> impl Stream<Item = Result<Option<UsageItem>, SophosError>> + Send + use<> {
        let c = self.clone();
        async_stream::try_stream! {
            let mut key: Option<String> = None;
            let mut seen = HashSet::new();
            loop {
                let page = c.usage_page(year, month, &filter, key.as_deref()).await?;
                let page = match page {
                    Some(p) => Ok(p),
                    // Only the first page may be "no data"; later it means the keys went stale.
                    None if key.is_none() => {
                        yield None;
                        break;
                    }
                    None => Err(not_found_mid_paging(year, month)),
                }?;
                for item in page.items {
                    yield Some(item);
                }
                match next_key(page.pages.next_key, &mut seen)? {
                    Some(k) => key = Some(k),
                    None => break,
                }
            }
        }
    }

    /// A whole billing month, telling "no data" (404) apart from an empty list.
    pub async fn usage_month(&self, year: i16, month: i8) -> Result<UsageMonth, SophosError> {
        let filter = UsageFilter::default();
        let mut out = UsageMonth {
            year,
            month,
            no_data: false,
            items: Vec::new(),
        };
        let mut key: Option<String> = None;
        let mut seen = HashSet::new();
        loop {
            let Some(page) = self
                .usage_page(year, month, &filter, key.as_deref())
                .await?
            else {
                if key.is_none() {
                    out.no_data = true;
                    return Ok(out);
                }
                return Err(not_found_mid_paging(year, month));
            };
            out.items.extend(page.items);
            match next_key(page.pages.next_key, &mut seen)? {
                Some(k) => key = Some(k),
                None => return Ok(out),
            }
        }
    }
}

fn not_found_mid_paging(year: i16, month: i8) -> SophosError {
    SophosError::NotFound {
        what: format!("billing usage {year}-{month:02} (next page)"),
        error: None,
        correlation_id: None,
        request_id: None,
    }
}

/// The next page key, or an error when the server hands out a key twice (would loop forever).
pub(crate) fn next_key(
    next: Option<String>,
    seen: &mut HashSet<String>,
) -> Result<Option<String>, SophosError> {
    match next {
        Some(k) if k.is_empty() => Ok(None),
        Some(k) => {
            if !seen.insert(k.clone()) {
                return Err(SophosError::decode("page keys", messages::PAGING_LOOP));
            }
            Ok(Some(k))
        }
        None => Ok(None),
    }
}
