//! Products: the product table, which are selected, their catalog items, mapping to an existing
//! catalog item (autocomplete after 2 characters) and "add to PSA" (create the missing items).

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use engine::usage::{self, ProductView};
use serde::Deserialize;

use super::error::DashboardError;
use super::{Chrome, note, render};
use crate::service::auth::Session;
use crate::service::http::Shared;

pub(super) struct ProductRow {
    identifier: String,
    /// The identifier made safe for an element id.
    key: String,
    description: String,
    codes: String,
    selected: bool,
    catalog: Option<String>,
}

fn key(identifier: &str) -> String {
    identifier
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn row(v: &ProductView) -> ProductRow {
    let mut codes = v.codes.clone();
    codes.extend(v.extra_codes.iter().cloned());
    ProductRow {
        identifier: v.identifier.clone(),
        key: key(&v.identifier),
        description: v.description.clone(),
        codes: codes.join(", "),
        selected: v.selected,
        catalog: v.catalog_item_id.map(|id| {
            let how = match v.link_source.as_deref() {
                Some("created") => "created by centralbridge",
                Some("found") => "found by identifier",
                Some("mapped") => "mapped by you",
                _ => "linked",
            };
            format!(
                "{} (#{id}, {how})",
                v.catalog_identifier.clone().unwrap_or_default()
            )
        }),
    }
}

#[derive(askama::Template)]
#[template(path = "products.html")]
struct ProductsPage {
    chrome: Chrome,
    products: Vec<ProductRow>,
    /// Show the selection and mapping controls (admin).
    can_admin: bool,
}

#[derive(askama::Template)]
#[template(path = "product_row.html")]
struct ProductRowTpl {
    p: ProductRow,
    /// Rendered after an admin's action, so always true; the page shares the row template.
    can_admin: bool,
}

#[tracing::instrument(skip_all)]
pub(super) async fn page(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
) -> Result<Response, DashboardError> {
    let views = usage::product_views(&app.store).await?;
    Ok(render(&ProductsPage {
        chrome: Chrome::new(&session, "products"),
        products: views.iter().map(row).collect(),
        can_admin: session.may(engine::store::Role::Admin),
    }))
}

async fn row_of(app: &Shared, identifier: &str) -> Result<Response, DashboardError> {
    let views = usage::product_views(&app.store).await?;
    match views.iter().find(|v| v.identifier == identifier) {
        Some(v) => Ok(render(&ProductRowTpl {
            p: row(v),
            can_admin: true,
        })),
        None => Err(DashboardError::NotFound(format!(
            "There is no product “{identifier}”."
        ))),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Toggle {
    #[serde(default)]
    on: String,
}

#[tracing::instrument(skip_all, fields(product = %product))]
pub(super) async fn toggle(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(product): Path<String>,
    Form(t): Form<Toggle>,
) -> Result<Response, DashboardError> {
    usage::select_products(
        &app.store,
        std::slice::from_ref(&product),
        t.on == "true",
        &session.actor(),
    )
    .await?;
    row_of(&app, &product).await
}

#[derive(Debug, Deserialize)]
pub(super) struct CatalogQuery {
    #[serde(default)]
    q: String,
}

pub(super) struct HitView {
    id: engine::ids::CatalogItemId,
    identifier: String,
    description: String,
    inactive: bool,
}

#[derive(askama::Template)]
#[template(path = "catalog_hits.html")]
struct HitsTpl {
    identifier: String,
    key: String,
    too_short: bool,
    hits: Vec<HitView>,
}

#[tracing::instrument(skip_all, fields(product = %product))]
pub(super) async fn catalog_hits(
    State(app): State<Shared>,
    Path(product): Path<String>,
    Query(q): Query<CatalogQuery>,
) -> Result<Response, DashboardError> {
    let too_short = q.q.trim().chars().count() < 2;
    let hits = if too_short {
        Vec::new()
    } else {
        let cw = engine::connections::connectwise_client(&app.store).await?;
        usage::search_catalog(&cw, &q.q).await?
    };
    Ok(render(&HitsTpl {
        key: key(&product),
        identifier: product,
        too_short,
        hits: hits
            .into_iter()
            .take(10)
            .map(|h| HitView {
                id: h.id,
                identifier: h.identifier,
                description: h.description,
                inactive: h.inactive,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize)]
pub(super) struct MapForm {
    catalog: String,
}

#[tracing::instrument(skip_all, fields(product = %product))]
pub(super) async fn map(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(product): Path<String>,
    Form(f): Form<MapForm>,
) -> Result<Response, DashboardError> {
    let cw = engine::connections::connectwise_client(&app.store).await?;
    let v = usage::map_product(&app.store, &cw, &product, &f.catalog, &session.actor()).await?;
    Ok(render(&ProductRowTpl {
        p: row(&v),
        can_admin: true,
    }))
}

#[tracing::instrument(skip_all)]
pub(super) async fn add_to_psa(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
) -> Result<Response, DashboardError> {
    let views = usage::product_views(&app.store).await?;
    let selected: Vec<String> = views
        .iter()
        .filter(|v| v.selected)
        .map(|v| v.identifier.clone())
        .collect();
    if selected.is_empty() {
        return Err(DashboardError::Refused(
            "No product is selected: select the products to bill first.".into(),
        ));
    }
    let cw = engine::connections::connectwise_client(&app.store).await?;
    let outcomes =
        usage::ensure_catalog_items(&app.store, &cw, &selected, &session.actor(), false).await?;
    let created = outcomes.iter().filter(|o| o.action == "created").count();
    let mut resp = note(format!(
        "{} selected products have a catalog item ({created} created now). Reload to see them.",
        outcomes.len()
    ));
    resp.headers_mut()
        .insert("hx-refresh", axum::http::HeaderValue::from_static("true"));
    Ok(resp)
}
