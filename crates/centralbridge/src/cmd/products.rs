//! `centralbridge products`: the Sophos product table, which products are synced, and the
//! ConnectWise catalog item each one bills as.

use clap::Subcommand;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use engine::usage::{self, CatalogOutcome, CatalogSummary, ProductView};
use serde::Serialize;

use crate::cmd::sync::actor;
use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge products`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// The product table: billing codes, selected or not, catalog item
    List,
    /// Select products for usage sync (only selected products get catalog items and additions)
    Select {
        /// Product identifiers, e.g. Sophos_Intercept_X_Advanced
        products: Vec<String>,
        /// Every product of the table
        #[arg(long, conflicts_with = "products")]
        all: bool,
    },
    /// Stop syncing products (their additions are left as they are)
    Unselect { products: Vec<String> },
    /// Search the ConnectWise catalog by identifier or description (at least 2 characters)
    Search { text: String },
    /// Bill a product as an existing ConnectWise catalog item
    Map {
        product: String,
        /// The catalog item's id or exact identifier
        #[arg(long)]
        catalog: String,
    },
    /// Forget a product's catalog item (it stays in ConnectWise)
    Unmap { product: String },
    /// Create (or find by identifier) the catalog items of products now [default: the selected ones]
    Create { products: Vec<String> },
    /// Count a billing product code toward a product (Sophos does not document the code list)
    AddCode { product: String, code: String },
    /// Remove a code added with add-code
    RemoveCode { product: String, code: String },
}

fn failure(e: impl std::fmt::Display) -> CliError {
    CliError::failure(e.to_string())
}

fn usage_or_failure(e: usage::UsageError) -> CliError {
    match e {
        usage::UsageError::UnknownProduct(_) | usage::UsageError::CatalogItemNotFound(_) => {
            CliError::usage_from(e)
        }
        other => CliError::failure_from(other),
    }
}

/// Runs one product-table action, then prints the table (search and create print their own result).
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (store, _) = ctx.open_store().await?;
    let cw = || async {
        engine::connections::connectwise_client(&store)
            .await
            .map_err(CliError::usage_from)
    };
    let who = actor();
    match args.action {
        Action::List => {}
        Action::Select { products, all } => {
            if all {
                usage::select_all(&store, &who)
                    .await
                    .map_err(usage_or_failure)?;
            } else if products.is_empty() {
                return Err(CliError::usage("name the products to select, or use --all"));
            } else {
                usage::select_products(&store, &products, true, &who)
                    .await
                    .map_err(usage_or_failure)?;
            }
        }
        Action::Unselect { products } => {
            usage::select_products(&store, &products, false, &who)
                .await
                .map_err(usage_or_failure)?;
        }
        Action::Search { text } => {
            let found = usage::search_catalog(&cw().await?, &text)
                .await
                .map_err(failure)?;
            return ctx.out.emit(&SearchView(found));
        }
        Action::Map { product, catalog } => {
            usage::map_product(&store, &cw().await?, &product, &catalog, &who)
                .await
                .map_err(usage_or_failure)?;
        }
        Action::Unmap { product } => {
            usage::unmap_product(&store, &product, &who)
                .await
                .map_err(usage_or_failure)?;
        }
        Action::Create { products } => {
            let products = if products.is_empty() {
                usage::product_views(&store)
                    .await
                    .map_err(failure)?
                    .into_iter()
                    .filter(|v| v.selected)
                    .map(|v| v.identifier)
                    .collect()
            } else {
                products
            };
            let done = usage::ensure_catalog_items(&store, &cw().await?, &products, &who, false)
                .await
                .map_err(usage_or_failure)?;
            return ctx.out.emit(&CreatedView(done));
        }
        Action::AddCode { product, code } => {
            engine::products::add_code(&store, &product, &code, &who)
                .await
                .map_err(CliError::usage_from)?;
        }
        Action::RemoveCode { product, code } => {
            engine::products::remove_code(&store, &product, &code, &who)
                .await
                .map_err(CliError::usage_from)?;
        }
    }
    let views = usage::product_views(&store).await.map_err(failure)?;
    store.close().await;
    ctx.out.emit(&ListView(views))
}

#[derive(Serialize)]
#[serde(transparent)]
struct ListView(Vec<ProductView>);

impl Render for ListView {
    fn human(&self) -> String {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "Product",
            "Description",
            "Billing codes",
            "Selected",
            "Catalog item",
        ]);
        for v in &self.0 {
            let mut codes = v.codes.join(", ");
            if !v.extra_codes.is_empty() {
                codes.push_str(&format!(" + {}", v.extra_codes.join(", ")));
            }
            t.add_row(vec![
                v.identifier.clone(),
                v.description.clone(),
                codes,
                if v.selected { "yes" } else { "no" }.to_owned(),
                match (v.catalog_item_id, &v.catalog_identifier) {
                    (Some(id), Some(ident)) => format!(
                        "{ident} (#{id}, {})",
                        v.link_source.as_deref().unwrap_or("linked")
                    ),
                    (Some(id), None) => format!("#{id}"),
                    _ => "-".to_owned(),
                },
            ]);
        }
        format!(
            "{t}\n{}\n",
            usage::messages::CATALOG_CUSTOMER_DESCRIPTION_NOTE
        )
    }
}

#[derive(Serialize)]
#[serde(transparent)]
struct SearchView(Vec<CatalogSummary>);

impl Render for SearchView {
    fn human(&self) -> String {
        if self.0.is_empty() {
            return "No catalog item matches (type at least 2 characters).\n".to_owned();
        }
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec!["Id", "Identifier", "Description", "Active"]);
        for c in &self.0 {
            t.add_row(vec![
                c.id.to_string(),
                c.identifier.clone(),
                c.description.clone(),
                if c.inactive { "no" } else { "yes" }.to_owned(),
            ]);
        }
        format!("{t}\n")
    }
}

#[derive(Serialize)]
#[serde(transparent)]
struct CreatedView(Vec<CatalogOutcome>);

impl Render for CreatedView {
    fn human(&self) -> String {
        let mut out = String::new();
        for c in &self.0 {
            out.push_str(&format!(
                "{}: catalog item {} ({})\n",
                c.product, c.catalog_item_id, c.action
            ));
        }
        if out.is_empty() {
            out.push_str(
                "No products selected: select some with `centralbridge products select`.\n",
            );
        }
        out
    }
}
