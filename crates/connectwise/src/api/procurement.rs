use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{Client, CwStream, PageMode};
use crate::conditions::{Conditions, Query, quote, safe_substring};
use crate::error::CwError;
use crate::models::{
    CatalogItem, Manufacturer, PatchOp, ProcurementCategory, ProcurementSubcategory, ProductClass,
    ProductType, Reference,
};

/// A catalog item as a caller shows and links it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogItemSummary {
    /// ConnectWise's record id of the catalog item; what additions and product links refer to.
    pub id: i64,
    /// The item's unique code; `None` when ConnectWise sent none.
    pub identifier: Option<String>,
    /// The item's short description; `None` when ConnectWise sent none.
    pub description: Option<String>,
    /// True when the item is marked inactive.
    pub inactive: bool,
    /// The item's price per unit (what a new addition bills unless it sets its own).
    pub price: Option<f64>,
}

impl CatalogItemSummary {
    fn from_model(i: &CatalogItem) -> Option<Self> {
        Some(CatalogItemSummary {
            id: i.id?,
            identifier: i.identifier.clone(),
            description: i.description.clone(),
            inactive: i.inactive_flag == Some(true),
            price: i.price,
        })
    }
}

/// The ids of the setup entries (category, subcategory, type, manufacturer) a catalog item is filed
/// under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcurementSetup {
    /// ConnectWise's record id of the procurement category.
    pub category: i64,
    /// ConnectWise's record id of the subcategory (one of `category`'s).
    pub subcategory: i64,
    /// ConnectWise's record id of the product type.
    pub product_type: i64,
    /// ConnectWise's record id of the manufacturer.
    pub manufacturer: i64,
}

/// A recurring agreement product to add to the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCatalogItem {
    /// The item's unique code (the product table's identifier); the item is found again by it.
    pub identifier: String,
    /// At most 60 characters (ConnectWise's limit).
    pub description: String,
    /// The description the customer sees (the product's full description).
    pub customer_description: String,
    /// Where the item is filed: category, subcategory, product type and manufacturer.
    pub setup: ProcurementSetup,
}

fn without_id(what: &str, path: &str) -> CwError {
    CwError::Decode {
        path: path.to_string(),
        message: format!("ConnectWise returned a {what} without an id"),
    }
}

/// Setup-table records found again by name after an ambiguous create.
trait Named {
    fn name(&self) -> Option<&str>;
}
impl Named for ProcurementCategory {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}
impl Named for ProcurementSubcategory {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}
impl Named for ProductType {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}
impl Named for Manufacturer {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl Client {
    /// Every catalog item matching `query`, streamed forward-only.
    pub fn catalog_items(&self, query: impl Into<Query>) -> CwStream<CatalogItem> {
        self.stream(
            "procurement/catalog".into(),
            query.into(),
            PageMode::ForwardOnly,
        )
    }

    /// All catalog items matching `query`, in memory.
    pub async fn search_catalog(
        &self,
        query: impl Into<Query>,
    ) -> Result<Vec<CatalogItem>, CwError> {
        self.collect(self.catalog_items(query)).await
    }

    /// The catalog item with this record id; [`CwError::NotFound`] when there is none.
    pub async fn catalog_item(&self, id: i64) -> Result<CatalogItem, CwError> {
        self.get(&format!("procurement/catalog/{id}"), Vec::new())
            .await
    }

    /// The catalog items with these ids (one `id in (...)` listing; keep `ids` to a few hundred).
    pub async fn catalog_item_summaries_by_ids(
        &self,
        ids: &[i64],
    ) -> Result<Vec<CatalogItemSummary>, CwError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let items = self
            .search_catalog(Conditions::new().is_in("id", ids.iter().copied()))
            .await?;
        Ok(items
            .iter()
            .filter_map(CatalogItemSummary::from_model)
            .collect())
    }

    /// How many catalog items match `query` (`procurement/catalog/count`).
    pub async fn count_catalog(&self, query: impl Into<Query>) -> Result<i64, CwError> {
        self.count("procurement/catalog/count", query.into()).await
    }

    /// Catalog items (with an id) whose identifier or description contains `text`, ordered by
    /// identifier; none when `text` has no part that can be quoted safely.
    pub async fn catalog_items_containing(
        &self,
        text: &str,
    ) -> Result<Vec<CatalogItemSummary>, CwError> {
        let Some(needle) = safe_substring(text) else {
            return Ok(Vec::new());
        };
        let cond = Conditions::new()
            .contains("identifier", needle)
            .or()
            .contains("description", needle);
        let items = self
            .search_catalog(Query::new().conditions(cond).order_by("identifier"))
            .await?;
        Ok(items
            .iter()
            .filter_map(CatalogItemSummary::from_model)
            .collect())
    }

    /// The catalog item with this id; `None` when there is none (or it has no id).
    pub async fn catalog_item_summary(
        &self,
        id: i64,
    ) -> Result<Option<CatalogItemSummary>, CwError> {
        match self.catalog_item(id).await {
            Ok(item) => Ok(CatalogItemSummary::from_model(&item)),
            Err(CwError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Client::find_catalog_item`] as a [`CatalogItemSummary`].
    pub async fn find_catalog_item_summary(
        &self,
        identifier: &str,
    ) -> Result<Option<CatalogItemSummary>, CwError> {
        Ok(self
            .find_catalog_item(identifier)
            .await?
            .as_ref()
            .and_then(CatalogItemSummary::from_model))
    }

    /// Add a recurring agreement product to the catalog (looked up by identifier after an
    /// ambiguous failure).
    pub async fn create_recurring_catalog_item(
        &self,
        item: &NewCatalogItem,
    ) -> Result<CatalogItemSummary, CwError> {
        let body = CatalogItem {
            identifier: Some(item.identifier.clone()),
            description: Some(item.description.clone()),
            customer_description: Some(item.customer_description.clone()),
            category: Some(Reference::id(item.setup.category)),
            subcategory: Some(Reference::id(item.setup.subcategory)),
            type_: Some(Reference::id(item.setup.product_type)),
            manufacturer: Some(Reference::id(item.setup.manufacturer)),
            product_class: Some(ProductClass::Agreement),
            recurring_flag: Some(true),
            ..Default::default()
        };
        let created = self.create_catalog_item(&body).await?;
        CatalogItemSummary::from_model(&created)
            .ok_or_else(|| without_id("catalog item", "procurement/catalog"))
    }

    /// The category, subcategory, product type and manufacturer named `name` (compared
    /// case-insensitively), each created through Table Setup when missing. Also answers which
    /// were created (`category`, `subcategory`, `product type`, `manufacturer`).
    pub async fn ensure_procurement_setup(
        &self,
        name: &str,
    ) -> Result<(ProcurementSetup, Vec<&'static str>), CwError> {
        let same = |n: Option<&str>| n.is_some_and(|n| n.trim().eq_ignore_ascii_case(name.trim()));
        let mut created = Vec::new();
        let category = match self
            .procurement_categories()
            .await?
            .into_iter()
            .find(|c| same(c.name.as_deref()))
        {
            Some(c) => c,
            None => {
                created.push("category");
                self.create_procurement_category(&ProcurementCategory {
                    name: Some(name.to_owned()),
                    ..Default::default()
                })
                .await?
            }
        };
        let category = category
            .id
            .ok_or_else(|| without_id("category", "procurement/categories"))?;
        let subcategory = match self
            .procurement_subcategories(category)
            .await?
            .into_iter()
            .find(|c| same(c.name.as_deref()))
        {
            Some(s) => s,
            None => {
                created.push("subcategory");
                self.create_procurement_subcategory(&ProcurementSubcategory {
                    name: Some(name.to_owned()),
                    category: Some(Reference::id(category)),
                    ..Default::default()
                })
                .await?
            }
        };
        let subcategory = subcategory
            .id
            .ok_or_else(|| without_id("subcategory", "procurement/subcategories"))?;
        let product_type = match self
            .product_types()
            .await?
            .into_iter()
            .find(|t| same(t.name.as_deref()))
        {
            Some(t) => t,
            None => {
                created.push("product type");
                self.create_product_type(&ProductType {
                    name: Some(name.to_owned()),
                    ..Default::default()
                })
                .await?
            }
        };
        let product_type = product_type
            .id
            .ok_or_else(|| without_id("product type", "procurement/types"))?;
        let manufacturer = match self
            .manufacturers()
            .await?
            .into_iter()
            .find(|m| same(m.name.as_deref()))
        {
            Some(m) => m,
            None => {
                created.push("manufacturer");
                self.create_manufacturer(&Manufacturer {
                    name: Some(name.to_owned()),
                    ..Default::default()
                })
                .await?
            }
        };
        let manufacturer = manufacturer
            .id
            .ok_or_else(|| without_id("manufacturer", "procurement/manufacturers"))?;
        let setup = ProcurementSetup {
            category,
            subcategory,
            product_type,
            manufacturer,
        };
        Ok((setup, created))
    }

    /// The catalog item with exactly this identifier (compared case-insensitively), if any.
    pub async fn find_catalog_item(
        &self,
        identifier: &str,
    ) -> Result<Option<CatalogItem>, CwError> {
        if quote(identifier).is_none() {
            return Err(CwError::Unquotable {
                field: "identifier".into(),
            });
        }
        let items = self
            .search_catalog(Conditions::new().eq("identifier", identifier))
            .await?;
        Ok(items.into_iter().find(|i| {
            i.identifier
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case(identifier))
        }))
    }

    /// Create a catalog item; after an ambiguous failure it is looked up by identifier first.
    pub async fn create_catalog_item(&self, item: &CatalogItem) -> Result<CatalogItem, CwError> {
        match item.identifier.clone() {
            Some(identifier) => {
                self.create_with_lookup("procurement/catalog", item, || {
                    let identifier = identifier.clone();
                    async move { self.find_catalog_item(&identifier).await }
                })
                .await
            }
            None => self.post("procurement/catalog", item).await,
        }
    }

    /// PATCH a catalog item, checking the change took ([`CwError::PatchNotApplied`] if not).
    pub async fn patch_catalog_item(
        &self,
        id: i64,
        ops: &[PatchOp],
    ) -> Result<CatalogItem, CwError> {
        self.patch(&format!("procurement/catalog/{id}"), ops).await
    }

    async fn setup_list<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        query: Query,
    ) -> Result<Vec<T>, CwError> {
        self.collect(self.stream(path.to_string(), query, PageMode::Navigable))
            .await
    }

    async fn find_by_name<T: DeserializeOwned + Send + Named + 'static>(
        &self,
        path: &str,
        name: &str,
    ) -> Result<Option<T>, CwError> {
        let cond = Conditions::new().eq("name", name);
        let found: Vec<T> = self.setup_list(path, cond.into()).await?;
        Ok(found.into_iter().find(|r| {
            r.name()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(name.trim()))
        }))
    }

    async fn setup_create<T, B>(
        &self,
        path: &str,
        body: &B,
        name: Option<&str>,
    ) -> Result<T, CwError>
    where
        T: DeserializeOwned + Send + Named + 'static,
        B: Serialize,
    {
        match name.filter(|n| quote(n).is_some()) {
            Some(name) => {
                self.create_with_lookup(path, body, || self.find_by_name::<T>(path, name))
                    .await
            }
            None => self.post(path, body).await,
        }
    }

    /// Every procurement category (a Table Setup list).
    pub async fn procurement_categories(&self) -> Result<Vec<ProcurementCategory>, CwError> {
        self.setup_list("procurement/categories", Query::new())
            .await
    }

    /// Create a procurement category; after an ambiguous failure it is looked up by name first
    /// (when the name can be quoted).
    pub async fn create_procurement_category(
        &self,
        category: &ProcurementCategory,
    ) -> Result<ProcurementCategory, CwError> {
        self.setup_create("procurement/categories", category, category.name.as_deref())
            .await
    }

    /// Subcategories of one category (`procurement/categories/{id}/subcategories`).
    pub async fn procurement_subcategories(
        &self,
        category_id: i64,
    ) -> Result<Vec<ProcurementSubcategory>, CwError> {
        self.setup_list(
            &format!("procurement/categories/{category_id}/subcategories"),
            Query::new(),
        )
        .await
    }

    /// Create a subcategory under `subcategory.category.id`.
    pub async fn create_procurement_subcategory(
        &self,
        subcategory: &ProcurementSubcategory,
    ) -> Result<ProcurementSubcategory, CwError> {
        let category_id = subcategory
            .category
            .as_ref()
            .and_then(|c| c.id)
            .ok_or_else(|| CwError::Validation {
                status: 400,
                field: Some("category".into()),
                code: "MissingRequiredField".into(),
                message: "a subcategory needs its category".into(),
                errors: Vec::new(),
            })?;
        self.setup_create(
            &format!("procurement/categories/{category_id}/subcategories"),
            subcategory,
            subcategory.name.as_deref(),
        )
        .await
    }

    /// Every product type (`procurement/types`, a Table Setup list).
    pub async fn product_types(&self) -> Result<Vec<ProductType>, CwError> {
        self.setup_list("procurement/types", Query::new()).await
    }

    /// Create a product type; after an ambiguous failure it is looked up by name first (when
    /// the name can be quoted).
    pub async fn create_product_type(&self, t: &ProductType) -> Result<ProductType, CwError> {
        self.setup_create("procurement/types", t, t.name.as_deref())
            .await
    }

    /// Every manufacturer (`procurement/manufacturers`, a Table Setup list).
    pub async fn manufacturers(&self) -> Result<Vec<Manufacturer>, CwError> {
        self.setup_list("procurement/manufacturers", Query::new())
            .await
    }

    /// Create a manufacturer; after an ambiguous failure it is looked up by name first (when
    /// the name can be quoted).
    pub async fn create_manufacturer(&self, m: &Manufacturer) -> Result<Manufacturer, CwError> {
        self.setup_create("procurement/manufacturers", m, m.name.as_deref())
            .await
    }
}
