//! Product selection and the ConnectWise catalog items products bill as: map to an existing item or
//! create one (with the "Sophos" type, category, subcategory and manufacturer, created through
//! Table Setup when missing).

use std::collections::BTreeMap;

use connectwise::{CatalogItemSummary, NewCatalogItem, ProcurementSetup};
use serde::Serialize;
use serde_json::json;

use super::UsageError;
use crate::ids::CatalogItemId;
use crate::products::{self, Product};
use crate::store::{CoreStore as _, NewAudit, Store, UsageStore as _};

/// The name of the type, category, subcategory and manufacturer of the catalog items we create.
pub const SOPHOS: &str = "Sophos";

/// ConnectWise's limit on a catalog description.
const DESCRIPTION_MAX: usize = 60;

/// One row of the product table as the user sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductView {
    /// The integration's product identifier; also the identifier of a catalog item made for it.
    pub identifier: String,
    /// Sophos's name for the product.
    pub description: String,
    /// The built-in billing codes that count toward the product.
    pub codes: Vec<String>,
    /// The billing codes the user added to the product.
    pub extra_codes: Vec<String>,
    /// The product is selected for usage sync (only selected products get additions).
    pub selected: bool,
    /// ConnectWise's id of the catalog item the product bills as; `None` when not linked yet.
    pub catalog_item_id: Option<CatalogItemId>,
    /// The linked catalog item's identifier; `None` when not linked.
    pub catalog_identifier: Option<String>,
    /// `created`, `found` (an item with the product's identifier already existed) or `mapped`.
    pub link_source: Option<String>,
}

/// A catalog item, for search results and pickers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogSummary {
    /// ConnectWise's id of the catalog item.
    pub id: CatalogItemId,
    /// The item's identifier; empty when ConnectWise sent none.
    pub identifier: String,
    /// The item's short description; empty when ConnectWise sent none.
    pub description: String,
    /// The item is marked inactive.
    pub inactive: bool,
}

impl CatalogSummary {
    fn from_client(i: CatalogItemSummary) -> Self {
        Self {
            id: CatalogItemId::new(i.id),
            identifier: i.identifier.unwrap_or_default(),
            description: i.description.unwrap_or_default(),
            inactive: i.inactive,
        }
    }
}

/// The product table with each product's selection and catalog link.
pub async fn product_views(store: &Store) -> Result<Vec<ProductView>, UsageError> {
    let table = products::load_table(store).await?;
    let rows: BTreeMap<String, _> = store
        .list_usage_products()
        .await?
        .into_iter()
        .map(|r| (r.identifier.clone(), r))
        .collect();
    Ok(table
        .products()
        .iter()
        .map(|p| {
            let row = rows.get(&p.identifier);
            ProductView {
                identifier: p.identifier.clone(),
                description: p.description.clone(),
                codes: p.codes.clone(),
                extra_codes: p.extra_codes.clone(),
                selected: row.is_some_and(|r| r.selected),
                catalog_item_id: row.and_then(|r| r.catalog_item_id),
                catalog_identifier: row.and_then(|r| r.catalog_identifier.clone()),
                link_source: row.and_then(|r| r.link_source.clone()),
            }
        })
        .collect())
}

fn resolve<'a>(
    table: &'a products::ProductTable,
    identifier: &str,
) -> Result<&'a Product, UsageError> {
    table
        .get(identifier)
        .ok_or_else(|| UsageError::UnknownProduct(identifier.to_owned()))
}

/// Selects (or unselects) products for sync. Only selected products get catalog items and
/// additions. Audited.
pub async fn select_products(
    store: &Store,
    identifiers: &[String],
    selected: bool,
    actor: &str,
) -> Result<(), UsageError> {
    let table = products::load_table(store).await?;
    let mut chosen = Vec::new();
    for id in identifiers {
        chosen.push(resolve(&table, id)?.identifier.clone());
    }
    let current = product_views(store).await?;
    for id in chosen {
        let before = current
            .iter()
            .find(|v| v.identifier == id)
            .is_some_and(|v| v.selected);
        if before == selected {
            continue;
        }
        store.set_product_selected(&id, selected).await?;
        store
            .append_audit(&NewAudit {
                at: jiff::Timestamp::now(),
                actor: actor.to_owned(),
                action: if selected {
                    crate::audit::AuditKind::ProductsSelect
                } else {
                    crate::audit::AuditKind::ProductsUnselect
                }
                .to_owned(),
                subject: format!("product:{id}"),
                before: Some(json!({"selected": before})),
                after: Some(json!({"selected": selected})),
                reason: "product selection for usage sync changed".to_owned(),
            })
            .await?;
    }
    Ok(())
}

/// Selects every product of the table.
pub async fn select_all(store: &Store, actor: &str) -> Result<(), UsageError> {
    let ids: Vec<String> = products::load_table(store)
        .await?
        .products()
        .iter()
        .map(|p| p.identifier.clone())
        .collect();
    select_products(store, &ids, true, actor).await
}

/// Catalog items whose identifier or description contains `text` (at least 2 characters, as in
/// Sophos's own picker), active first.
pub async fn search_catalog(
    cw: &connectwise::Client,
    text: &str,
) -> Result<Vec<CatalogSummary>, UsageError> {
    let text = text.trim();
    if text.chars().count() < 2 {
        return Ok(Vec::new());
    }
    let lower = text.to_lowercase();
    let mut found: Vec<CatalogSummary> = cw
        .catalog_items_containing(text)
        .await?
        .into_iter()
        .map(CatalogSummary::from_client)
        .filter(|c| {
            c.identifier.to_lowercase().contains(&lower)
                || c.description.to_lowercase().contains(&lower)
        })
        .collect();
    found.sort_by_key(|c| c.inactive);
    Ok(found)
}

/// Maps a product to an existing catalog item (by id, or by exact identifier). Audited.
pub async fn map_product(
    store: &Store,
    cw: &connectwise::Client,
    identifier: &str,
    catalog: &str,
    actor: &str,
) -> Result<ProductView, UsageError> {
    let table = products::load_table(store).await?;
    let product = resolve(&table, identifier)?.clone();
    let item = match catalog.trim().parse::<CatalogItemId>() {
        Ok(id) => cw.catalog_item_summary(id.get()).await?,
        Err(_) => cw.find_catalog_item_summary(catalog.trim()).await?,
    };
    let summary = item
        .map(CatalogSummary::from_client)
        .ok_or_else(|| UsageError::CatalogItemNotFound(catalog.to_owned()))?;
    link(store, &product.identifier, &summary, "mapped", actor).await?;
    view_of(store, &product.identifier).await
}

/// Removes a product's catalog link (the catalog item stays in ConnectWise). Audited.
pub async fn unmap_product(store: &Store, identifier: &str, actor: &str) -> Result<(), UsageError> {
    let table = products::load_table(store).await?;
    let product = resolve(&table, identifier)?.clone();
    let before = view_of(store, &product.identifier).await?;
    store
        .set_product_catalog(&product.identifier, None, None, None)
        .await?;
    store
        .append_audit(&NewAudit {
            at: jiff::Timestamp::now(),
            actor: actor.to_owned(),
            action: crate::audit::AuditKind::ProductsUnmap,
            subject: format!("product:{}", product.identifier),
            before: Some(json!({"catalog_item_id": before.catalog_item_id})),
            after: Some(json!({"catalog_item_id": null})),
            reason: "catalog link removed".to_owned(),
        })
        .await?;
    Ok(())
}

async fn view_of(store: &Store, identifier: &str) -> Result<ProductView, UsageError> {
    product_views(store)
        .await?
        .into_iter()
        .find(|v| v.identifier == identifier)
        .ok_or_else(|| UsageError::UnknownProduct(identifier.to_owned()))
}

async fn link(
    store: &Store,
    identifier: &str,
    item: &CatalogSummary,
    source: &str,
    actor: &str,
) -> Result<(), UsageError> {
    let before = view_of(store, identifier).await?;
    store
        .set_product_catalog(
            identifier,
            Some(item.id),
            Some(&item.identifier),
            Some(source),
        )
        .await?;
    store
        .append_audit(&NewAudit {
            at: jiff::Timestamp::now(),
            actor: actor.to_owned(),
            action: match source {
                "created" => crate::audit::AuditKind::ProductsCatalogCreated,
                "found" => crate::audit::AuditKind::ProductsCatalogFound,
                _ => crate::audit::AuditKind::ProductsCatalogMapped,
            },
            subject: format!("product:{identifier}"),
            before: Some(json!({"catalog_item_id": before.catalog_item_id})),
            after: Some(json!({"catalog_item_id": item.id, "catalog_identifier": item.identifier})),
            reason: match source {
                "created" => "catalog item created in ConnectWise".to_owned(),
                "found" => {
                    "catalog item with the product's identifier found in ConnectWise".to_owned()
                }
                _ => "product mapped to an existing catalog item".to_owned(),
            },
        })
        .await?;
    Ok(())
}

/// What happened to one product's catalog item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogOutcome {
    /// The selected product, by identifier.
    pub product: String,
    /// ConnectWise's id of the product's catalog item.
    pub catalog_item_id: CatalogItemId,
    /// `created`, `found` or `already linked`.
    pub action: String,
}

/// The "Sophos" setup entries (created through Table Setup when missing, each creation audited).
async fn ensure_setup(
    cw: &connectwise::Client,
    store: &Store,
    actor: &str,
) -> Result<ProcurementSetup, UsageError> {
    let (setup, created) = cw.ensure_procurement_setup(SOPHOS).await?;
    for what in created {
        store
            .append_audit(&NewAudit {
                at: jiff::Timestamp::now(),
                actor: actor.to_owned(),
                action: crate::audit::AuditKind::ConnectwiseSetupCreate,
                subject: format!("procurement {what}:{SOPHOS}"),
                before: None,
                after: Some(json!({"name": SOPHOS})),
                reason: "needed by the catalog items of Sophos products".to_owned(),
            })
            .await?;
    }
    Ok(setup)
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Makes sure each of `identifiers` has a catalog item: keeps an existing link, else finds an item
/// with the product's identifier, else creates one. With `dry_run`, only looks (found items are
/// returned with action `found`; missing ones are left out).
pub async fn ensure_catalog_items(
    store: &Store,
    cw: &connectwise::Client,
    identifiers: &[String],
    actor: &str,
    dry_run: bool,
) -> Result<Vec<CatalogOutcome>, UsageError> {
    let table = products::load_table(store).await?;
    let views = product_views(store).await?;
    let mut setup: Option<ProcurementSetup> = None;
    let mut out = Vec::new();
    for id in identifiers {
        let product = resolve(&table, id)?.clone();
        if let Some(existing) = views
            .iter()
            .find(|v| v.identifier == product.identifier)
            .and_then(|v| v.catalog_item_id)
        {
            out.push(CatalogOutcome {
                product: product.identifier.clone(),
                catalog_item_id: existing,
                action: "already linked".to_owned(),
            });
            continue;
        }
        if let Some(found) = cw.find_catalog_item_summary(&product.identifier).await? {
            let summary = CatalogSummary::from_client(found);
            if !dry_run {
                link(store, &product.identifier, &summary, "found", actor).await?;
            }
            out.push(CatalogOutcome {
                product: product.identifier.clone(),
                catalog_item_id: summary.id,
                action: "found".to_owned(),
            });
            continue;
        }
        if dry_run {
            continue;
        }
        let s = match setup {
            Some(s) => s,
            None => {
                let s = ensure_setup(cw, store, actor).await?;
                setup = Some(s);
                s
            }
        };
        let item = NewCatalogItem {
            identifier: product.identifier.clone(),
            description: clip(&product.description, DESCRIPTION_MAX),
            customer_description: product.description.clone(),
            setup: s,
        };
        let summary = CatalogSummary::from_client(cw.create_recurring_catalog_item(&item).await?);
        link(store, &product.identifier, &summary, "created", actor).await?;
        out.push(CatalogOutcome {
            product: product.identifier.clone(),
            catalog_item_id: summary.id,
            action: "created".to_owned(),
        });
    }
    Ok(out)
}
