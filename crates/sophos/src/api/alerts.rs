//! Common alerts on the tenant's own `apiHost` (`X-Tenant-ID`).

use std::collections::HashSet;

use futures::{Stream, TryStreamExt as _};
use jiff::Timestamp;
use reqwest::Method;
use url::Url;

use crate::Client;
use crate::OpenAlert;
use crate::api::partner::next_key;
use crate::config::{join, parse_base};
use crate::error::SophosError;
use crate::http::{Body, Request, Scope};
use crate::models::{
    ActionResult, Alert, AlertAction, Category, Page, Product, Severity, TenantRef, format_query_ts,
};

/// Filters of the alert list (§8.1); empty lists and `None` mean "no filter".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertQuery {
    /// Raised on or after.
    pub from: Option<Timestamp>,
    /// Raised before.
    pub to: Option<Timestamp>,
    /// Only alerts raised by these products (`product`, e.g. `endpoint`).
    pub product: Vec<Product>,
    /// Only alerts of these categories (`category`, e.g. `malware`).
    pub category: Vec<Category>,
    /// Only alerts of these severities (`severity`).
    pub severity: Vec<Severity>,
    /// Only the alerts with these ids (`ids`).
    pub ids: Vec<String>,
    /// Only alerts with this `groupKey`, the opaque key that repeats of the same problem share.
    pub group_key: Option<String>,
    /// e.g. `raisedAt:desc`.
    pub sort: Option<String>,
    /// Defaults to the connection's page size.
    pub page_size: Option<u32>,
}

fn comma<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether Sophos knows this alert severity name (`low`, `medium`, `high`).
pub fn is_alert_severity(name: &str) -> bool {
    !matches!(Severity::from(name), Severity::Other(_))
}

/// Whether Sophos knows this alert product name (e.g. `endpoint`, `firewall`).
pub fn is_alert_product(name: &str) -> bool {
    !matches!(Product::from(name), Product::Other(_))
}

/// Whether Sophos knows this alert category name (e.g. `malware`, `updating`).
pub fn is_alert_category(name: &str) -> bool {
    !matches!(Category::from(name), Category::Other(_))
}

impl AlertQuery {
    /// Only alerts of these severities, products and categories, named as Sophos writes them (an
    /// empty list filters nothing).
    pub fn named_filters(
        mut self,
        severities: &[String],
        products: &[String],
        categories: &[String],
    ) -> Self {
        self.severity = severities
            .iter()
            .map(|s| Severity::from(s.as_str()))
            .collect();
        self.product = products.iter().map(|s| Product::from(s.as_str())).collect();
        self.category = categories
            .iter()
            .map(|s| Category::from(s.as_str()))
            .collect();
        self
    }

    fn params(&self, default_size: u32) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(f) = self.from {
            q.push(("from", format_query_ts(f)));
        }
        if let Some(t) = self.to {
            q.push(("to", format_query_ts(t)));
        }
        if !self.product.is_empty() {
            q.push(("product", comma(&self.product)));
        }
        if !self.category.is_empty() {
            q.push(("category", comma(&self.category)));
        }
        if !self.severity.is_empty() {
            q.push(("severity", comma(&self.severity)));
        }
        if !self.ids.is_empty() {
            q.push(("ids", self.ids.join(",")));
        }
        if let Some(g) = &self.group_key {
            q.push(("groupKey", g.clone()));
        }
        if let Some(s) = &self.sort {
            q.push(("sort", s.clone()));
        }
        q.push((
            "pageSize",
            self.page_size.unwrap_or(default_size).to_string(),
        ));
        q
    }
}

fn tenant_base(tenant: &TenantRef) -> Result<Url, SophosError> {
    parse_base(&tenant.api_host)
}

impl Client {
    fn tenant_req(
        &self,
        tenant: &TenantRef,
        segments: &[&str],
        what: impl Into<String>,
    ) -> Result<Request, SophosError> {
        let base = tenant_base(tenant)?;
        Ok(Request::get(
            join(&base, segments),
            Scope::Tenant(tenant.id.clone()),
            what,
        ))
    }

    /// One page of a tenant's alerts.
    pub async fn alerts_page(
        &self,
        tenant: &TenantRef,
        query: &AlertQuery,
        from_key: Option<&str>,
    ) -> Result<Page<Alert>, SophosError> {
        let mut req = self.tenant_req(
            tenant,
            &["common", "v1", "alerts"],
            format!("alerts of tenant {}", tenant.id),
        )?;
        req.query = query.params(self.inner.t.cfg.page_size.alerts);
        if let Some(k) = from_key {
            req.query.push(("pageFromKey", k.to_string()));
        }
        self.inner.t.execute(req).await?.json("alert list")
    }

    /// A tenant's alerts, key-paged (`pageFromKey` = previous `nextKey`). A tenant without Partner
    /// Assistance gives [`SophosError::ForbiddenTenant`].
    pub fn alerts(
        &self,
        tenant: &TenantRef,
        query: AlertQuery,
    ) -> impl Stream<Item = Result<Alert, SophosError>> + Send + use<> {
        let c = self.clone();
        let tenant = tenant.clone();
        async_stream::try_stream! {
            let mut key: Option<String> = None;
            let mut seen = HashSet::new();
            loop {
                let page = c.alerts_page(&tenant, &query, key.as_deref()).await?;
                for a in page.items {
                    yield a;
                }
                match next_key(page.pages.next_key, &mut seen)? {
                    Some(k) => key = Some(k),
                    None => break,
                }
            }
        }
    }

    /// One alert; `None` when Sophos says it no longer exists (`resourceNotFound`, e.g. acknowledged).
    pub async fn alert(&self, tenant: &TenantRef, id: &str) -> Result<Option<Alert>, SophosError> {
        let req = self.tenant_req(
            tenant,
            &["common", "v1", "alerts", id],
            format!("alert {id}"),
        )?;
        match self.inner.t.execute(req).await {
            Ok(resp) => resp.json("alert").map(Some),
            Err(SophosError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Client::alerts`] as [`OpenAlert`] values.
    pub fn open_alerts(
        &self,
        tenant: &TenantRef,
        query: AlertQuery,
    ) -> impl Stream<Item = Result<OpenAlert, SophosError>> + Send + use<> {
        self.alerts(tenant, query).map_ok(OpenAlert::from)
    }

    /// [`Client::alert`] as an [`OpenAlert`]; `None` when the alert no longer exists.
    pub async fn open_alert(
        &self,
        tenant: &TenantRef,
        id: &str,
    ) -> Result<Option<OpenAlert>, SophosError> {
        Ok(self.alert(tenant, id).await?.map(OpenAlert::from))
    }

    /// Asks Sophos to run an action (e.g. `acknowledge`) on an alert; it runs asynchronously.
    /// Retried only on 429 and connection failures, since a POST may already have been applied.
    pub async fn alert_action(
        &self,
        tenant: &TenantRef,
        id: &str,
        action: &str,
        message: Option<&str>,
    ) -> Result<ActionResult, SophosError> {
        let mut req = self.tenant_req(
            tenant,
            &["common", "v1", "alerts", id, "actions"],
            format!("alert {id}"),
        )?;
        req.method = Method::POST;
        let mut body = serde_json::json!({ "action": action });
        if let Some(m) = message {
            body["message"] = serde_json::Value::String(m.to_string());
        }
        req.body = Body::Json(body);
        self.inner.t.execute(req).await?.json("alert action")
    }

    /// [`Client::alert_action`] with `acknowledge`.
    pub async fn acknowledge(
        &self,
        tenant: &TenantRef,
        id: &str,
        message: Option<&str>,
    ) -> Result<ActionResult, SophosError> {
        self.alert_action(tenant, id, AlertAction::Acknowledge.as_str(), message)
            .await
    }
}
