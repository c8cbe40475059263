use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{Client, CwStream, PageMode};
use crate::conditions::{Conditions, Query, quote, safe_substring};
use crate::error::CwError;
use crate::models::{
    CatalogItem, Manufacturer, PatchOp, ProcurementCategory, ProcurementSubcategory, ProductType,
};

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

    pub async fn search_catalog(
        &self,
        query: impl Into<Query>,
    ) -> Result<Vec<CatalogItem>, CwError> {
        self.collect(self.catalog_items(query)).await
    }

    pub async fn catalog_item(&self, id: i64) -> Result<CatalogItem, CwError> {
        self.get(&format!("procurement/catalog/{id}"), Vec::new())
            .await
    }

    pub async fn count_catalog(&self, query: impl Into<Query>) -> Result<i64, CwError> {
        self.count("procurement/catalog/count", query.into()).await
    }

    /// Catalog items whose identifier or description contains `text` (case as ConnectWise compares),
    /// ordered by identifier; none when `text` has no part that can be quoted safely.
    pub async fn catalog_items_containing(&self, text: &str) -> Result<Vec<CatalogItem>, CwError> {
        let Some(needle) = safe_substring(text) else {
            return Ok(Vec::new());
        };
        let cond = Conditions::new()
            .contains("identifier", needle)
            .or()
            .contains("description", needle);
        self.search_catalog(Query::new().conditions(cond).order_by("identifier"))
            .await
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

    pub async fn procurement_categories(&self) -> Result<Vec<ProcurementCategory>, CwError> {
        self.setup_list("procurement/categories", Query::new())
            .await
    }

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

    pub async fn product_types(&self) -> Result<Vec<ProductType>, CwError> {
        self.setup_list("procurement/types", Query::new()).await
    }

    pub async fn create_product_type(&self, t: &ProductType) -> Result<ProductType, CwError> {
        self.setup_create("procurement/types", t, t.name.as_deref())
            .await
    }

    pub async fn manufacturers(&self) -> Result<Vec<Manufacturer>, CwError> {
        self.setup_list("procurement/manufacturers", Query::new())
            .await
    }

    pub async fn create_manufacturer(&self, m: &Manufacturer) -> Result<Manufacturer, CwError> {
        self.setup_create("procurement/manufacturers", m, m.name.as_deref())
            .await
    }
}
