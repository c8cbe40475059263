//! Products: the product table, which are selected, their catalog items, mapping to an existing
//! catalog item (autocomplete after 2 characters) and "add to PSA" (create the missing items).

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use engine::usage::{self, ProductView};
use serde::Deserialize;

use super::{ACTOR, Chrome, fail, note, render};
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
}

#[derive(askama::Template)]
#[template(path = "product_row.html")]
struct ProductRowTpl {
    p: ProductRow,
}

#[tracing::instrument(skip_all)]
pub(super) async fn page(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
) -> Response {
    match usage::product_views(&app.store).await {
        Ok(views) => render(&ProductsPage {
            chrome: Chrome::new(&session, "products"),
            products: views.iter().map(row).collect(),
        }),
        Err(e) => fail(e),
    }
}

async fn row_of(app: &Shared, identifier: &str) -> Response {
    match usage::product_views(&app.store).await {
        Ok(views) => match views.iter().find(|v| v.identifier == identifier) {
            Some(v) => render(&ProductRowTpl { p: row(v) }),
            None => fail(format!("There is no product “{identifier}”.")),
        },
        Err(e) => fail(e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Toggle {
    #[serde(default)]
    on: String,
}

#[tracing::instrument(skip_all)]
pub(super) async fn toggle(
    State(app): State<Shared>,
    Path(product): Path<String>,
    Form(t): Form<Toggle>,
) -> Response {
    if let Err(e) = usage::select_products(
        &app.store,
        std::slice::from_ref(&product),
        t.on == "true",
        ACTOR,
    )
    .await
    {
        return fail(e);
    }
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

#[tracing::instrument(skip_all)]
pub(super) async fn catalog_hits(
    State(app): State<Shared>,
    Path(product): Path<String>,
    Query(q): Query<CatalogQuery>,
) -> Response {
    let too_short = q.q.trim().chars().count() < 2;
    let hits = if too_short {
        Vec::new()
    } else {
        let cw = match engine::connections::connectwise_client(&app.store).await {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        match usage::search_catalog(&cw, &q.q).await {
            Ok(h) => h,
            Err(e) => return fail(e),
        }
    };
    render(&HitsTpl {
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
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct MapForm {
    catalog: String,
}

#[tracing::instrument(skip_all)]
pub(super) async fn map(
    State(app): State<Shared>,
    Path(product): Path<String>,
    Form(f): Form<MapForm>,
) -> Response {
    let cw = match engine::connections::connectwise_client(&app.store).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match usage::map_product(&app.store, &cw, &product, &f.catalog, ACTOR).await {
        Ok(v) => render(&ProductRowTpl { p: row(&v) }),
        Err(e) => fail(e),
    }
}

#[tracing::instrument(skip_all)]
pub(super) async fn add_to_psa(State(app): State<Shared>) -> Response {
    let views = match usage::product_views(&app.store).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let selected: Vec<String> = views
        .iter()
        .filter(|v| v.selected)
        .map(|v| v.identifier.clone())
        .collect();
    if selected.is_empty() {
        return fail("No product is selected: select the products to bill first.");
    }
    let cw = match engine::connections::connectwise_client(&app.store).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match usage::ensure_catalog_items(&app.store, &cw, &selected, ACTOR, false).await {
        Ok(outcomes) => {
            let created = outcomes.iter().filter(|o| o.action == "created").count();
            let mut resp = note(format!(
                "{} selected products have a catalog item ({created} created now). Reload to see them.",
                outcomes.len()
            ));
            resp.headers_mut()
                .insert("hx-refresh", axum::http::HeaderValue::from_static("true"));
            resp
        }
        Err(e) => fail(e),
    }
}
