//! The Sophos products the integration knows, and which billing product codes count toward each.
//!
//! Sophos does not document how its billing `productCode`s relate to the integration's product
//! identifiers (integration-behaviour §6), so the table is data: a built-in default here plus extra
//! codes the user adds, stored in the settings under [`EXTRA_CODES_SETTING`].

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::store::{CoreStore as _, NewAudit, Store, StoreError};

/// Settings key of the user's extra codes: `{"Sophos_Intercept_X": ["CIX-MSP-NEW"], ...}`.
pub const EXTRA_CODES_SETTING: &str = "products.extra_codes";

/// One built-in row.
#[derive(Debug, Clone, Copy)]
pub struct ProductDef {
    /// The product identifier of Sophos's ConnectWise integration (e.g. `Sophos_Intercept_X`).
    pub identifier: &'static str,
    /// Sophos's name for the product.
    pub description: &'static str,
    /// The MSP Flex billing `productCode`s that count toward it.
    pub codes: &'static [&'static str],
}

/// The built-in product table: the rows Sophos lists for its ConnectWise integration, with the
/// MSP Flex billing codes that count toward each.
pub const BUILTIN_PRODUCTS: &[ProductDef] = &[
    ProductDef {
        identifier: "Sophos_Endpoint_Protection",
        description: "Sophos Central Endpoint Protection",
        codes: &["CEP-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Intercept_X",
        description: "Sophos Central Intercept X",
        codes: &["CIX-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Intercept_X_Advanced",
        description: "Sophos Central Intercept X Advanced",
        codes: &["CIXA-MSP", "CIXA-MSP-USR"],
    },
    ProductDef {
        identifier: "Sophos_Intercept_X_Advanced_XDR",
        description: "Sophos Central Intercept X Advanced with XDR",
        codes: &["XDR-MSP"],
    },
    ProductDef {
        identifier: "Sophos_MTR_Standard",
        description: "Intercept X Advanced with XDR and MTR Standard",
        codes: &["MTRS-MSP"],
    },
    ProductDef {
        identifier: "Sophos_MTR_Advanced",
        description: "Intercept X Advanced with XDR and MTR Advanced",
        codes: &["MTRA-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Mobile_Standard",
        description: "Sophos Central Mobile Control Standard",
        codes: &["SMCS-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Mobile_Advanced",
        description: "Sophos Central Mobile Control Advanced",
        codes: &["SMCA-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Email_Portal_Encryption",
        description: "Sophos Central Portal Encryption Add-on for Email Advanced",
        codes: &["EMPE-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Mobile_Security",
        description: "Sophos Central Mobile Security",
        codes: &["SMSEC-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Srv_Protection",
        description: "Sophos Central Server Protection",
        codes: &["SVRP-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Intercept_X_Adv_Srv",
        description: "Sophos Central Server Intercept X Advanced for Server",
        codes: &["SVRIXA-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Intercept_X_Adv_Srv_XDR",
        description: "Sophos Central Intercept X Advanced for Server with XDR",
        codes: &["SVRXDR-MSP"],
    },
    ProductDef {
        identifier: "Sophos_MTR_Standard_Srv",
        description: "Intercept X Advanced for Server with XDR and MTR Standard",
        codes: &["SVRMTRS-MSP"],
    },
    ProductDef {
        identifier: "Sophos_MTR_Advanced_Srv",
        description: "Intercept X Advanced for Server with XDR and MTR Advanced",
        codes: &["SVRMTRA-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Device_Encryption",
        description: "Sophos Central Device Encryption",
        codes: &["CDE-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Central_Phish_Threat",
        description: "Sophos Central Phish Threat",
        codes: &["PHT-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Wireless_Perf_Standard",
        description: "Sophos Wireless Performance Standard",
        codes: &["WPS-MSP"],
    },
    ProductDef {
        identifier: "Sophos_Wireless_Entry_Standard",
        description: "Sophos Wireless Entry Standard",
        codes: &["WES-MSP"],
    },
];

/// One product of the effective table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    /// The integration's product identifier; also the identifier of the catalog item made for it.
    pub identifier: String,
    /// Sophos's name for the product.
    pub description: String,
    /// Built-in codes.
    pub codes: Vec<String>,
    /// Codes the user added.
    pub extra_codes: Vec<String>,
}

impl Product {
    /// Built-in and extra codes.
    pub fn all_codes(&self) -> impl Iterator<Item = &str> {
        self.codes
            .iter()
            .chain(&self.extra_codes)
            .map(String::as_str)
    }
}

/// Why the product table could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// No product of the table has this identifier (as given).
    #[error("{}", messages::unknown_product(.0))]
    UnknownProduct(String),
    /// The code already counts toward a product; a code counts toward one product only.
    #[error("{}", messages::code_taken(.code, .product))]
    CodeTaken {
        /// The code, normalised.
        code: String,
        /// The identifier of the product it already counts toward.
        product: String,
    },
    /// The code to remove is not one the user added to that product (built-in, or absent).
    #[error("{}", messages::not_extra(.code, .product))]
    NotExtra {
        /// The code, normalised.
        code: String,
        /// The product's identifier.
        product: String,
    },
    /// The code is empty or contains blanks or control characters (normalised text).
    #[error("{}", messages::bad_code(.0))]
    BadCode(String),
    /// Reading or writing the settings or the audit log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The effective product table: built-in rows plus the user's extra codes.
#[derive(Debug, Clone)]
pub struct ProductTable {
    products: Vec<Product>,
    by_code: HashMap<String, usize>,
}

/// Codes are compared without regard to case or surrounding blanks.
pub fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

impl ProductTable {
    /// The built-in table alone.
    pub fn builtin() -> Self {
        let products = BUILTIN_PRODUCTS
            .iter()
            .map(|d| Product {
                identifier: d.identifier.to_owned(),
                description: d.description.to_owned(),
                codes: d.codes.iter().map(|c| (*c).to_owned()).collect(),
                extra_codes: Vec::new(),
            })
            .collect();
        Self::index(products)
    }

    /// The built-in table plus `extra` (product identifier -> codes). Unknown identifiers and codes
    /// already counted elsewhere are ignored here (they are refused when added).
    pub fn with_extra_codes(extra: &BTreeMap<String, Vec<String>>) -> Self {
        let mut table = Self::builtin();
        for (identifier, codes) in extra {
            let Some(pos) = table.position(identifier) else {
                continue;
            };
            for code in codes {
                let code = normalize_code(code);
                if code.is_empty() || table.by_code.contains_key(&code) {
                    continue;
                }
                table.by_code.insert(code.clone(), pos);
                table.products[pos].extra_codes.push(code);
            }
        }
        table
    }

    fn index(products: Vec<Product>) -> Self {
        let mut by_code = HashMap::new();
        for (i, p) in products.iter().enumerate() {
            for c in p.all_codes() {
                by_code.insert(normalize_code(c), i);
            }
        }
        Self { products, by_code }
    }

    fn position(&self, identifier: &str) -> Option<usize> {
        self.products
            .iter()
            .position(|p| p.identifier.eq_ignore_ascii_case(identifier.trim()))
    }

    /// All products, in table order.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// The product with this identifier (case-insensitive).
    pub fn get(&self, identifier: &str) -> Option<&Product> {
        self.position(identifier).map(|i| &self.products[i])
    }

    /// The product a billing code counts toward.
    pub fn product_for_code(&self, code: &str) -> Option<&Product> {
        self.by_code
            .get(&normalize_code(code))
            .map(|&i| &self.products[i])
    }
}

/// The user's extra codes as stored.
pub async fn extra_codes(store: &Store) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
    match store.get_setting(EXTRA_CODES_SETTING).await? {
        // An unreadable value is an error, not an empty list: the next change would overwrite the
        // user's codes with it.
        Some(v) => serde_json::from_value(v).map_err(|e| StoreError::Corrupt {
            what: format!("setting {EXTRA_CODES_SETTING}"),
            reason: e.to_string(),
        }),
        None => Ok(BTreeMap::new()),
    }
}

/// The effective table (built-in + the user's extra codes).
pub async fn load_table(store: &Store) -> Result<ProductTable, StoreError> {
    Ok(ProductTable::with_extra_codes(&extra_codes(store).await?))
}

/// Makes billing `code` count toward `identifier`. Refused when the code already counts toward a
/// product. Audited.
pub async fn add_code(
    store: &Store,
    identifier: &str,
    code: &str,
    actor: &str,
) -> Result<Product, ProductError> {
    let table = load_table(store).await?;
    let product = table
        .get(identifier)
        .ok_or_else(|| ProductError::UnknownProduct(identifier.to_owned()))?
        .clone();
    let code = normalize_code(code);
    if code.is_empty() || code.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ProductError::BadCode(code));
    }
    if let Some(owner) = table.product_for_code(&code) {
        return Err(ProductError::CodeTaken {
            code,
            product: owner.identifier.clone(),
        });
    }
    let mut extra = extra_codes(store).await?;
    let before = json!(extra.get(&product.identifier).cloned().unwrap_or_default());
    extra
        .entry(product.identifier.clone())
        .or_default()
        .push(code.clone());
    let after = json!(extra.get(&product.identifier).cloned().unwrap_or_default());
    save_codes(
        store,
        &extra,
        actor,
        crate::audit::AuditKind::ProductsAddCode,
        product.identifier,
        before,
        after,
    )
    .await
}

/// Removes a code the user added. Built-in codes cannot be removed.
pub async fn remove_code(
    store: &Store,
    identifier: &str,
    code: &str,
    actor: &str,
) -> Result<Product, ProductError> {
    let table = load_table(store).await?;
    let product = table
        .get(identifier)
        .ok_or_else(|| ProductError::UnknownProduct(identifier.to_owned()))?
        .clone();
    let code = normalize_code(code);
    let mut extra = extra_codes(store).await?;
    let list = extra.entry(product.identifier.clone()).or_default();
    let before = json!(list.clone());
    let len = list.len();
    list.retain(|c| normalize_code(c) != code);
    if list.len() == len {
        return Err(ProductError::NotExtra {
            code,
            product: product.identifier,
        });
    }
    let after = json!(list.clone());
    if list.is_empty() {
        extra.remove(&product.identifier);
    }
    save_codes(
        store,
        &extra,
        actor,
        crate::audit::AuditKind::ProductsRemoveCode,
        product.identifier,
        before,
        after,
    )
    .await
}

/// Stores the user-added codes, audits the change and returns the product as the table now has it.
async fn save_codes(
    store: &Store,
    extra: &BTreeMap<String, Vec<String>>,
    actor: &str,
    action: crate::audit::AuditKind,
    identifier: String,
    before: serde_json::Value,
    after: serde_json::Value,
) -> Result<Product, ProductError> {
    store
        .set_setting(EXTRA_CODES_SETTING, &json!(extra))
        .await?;
    audit(store, actor, action, &identifier, before, after).await?;
    load_table(store)
        .await?
        .get(&identifier)
        .cloned()
        .ok_or(ProductError::UnknownProduct(identifier))
}

async fn audit(
    store: &Store,
    actor: &str,
    action: crate::audit::AuditKind,
    subject: &str,
    before: serde_json::Value,
    after: serde_json::Value,
) -> Result<(), StoreError> {
    store
        .append_audit(&NewAudit {
            at: jiff::Timestamp::now(),
            actor: actor.to_owned(),
            action,
            subject: format!("product:{subject}"),
            before: Some(before),
            after: Some(after),
            reason: "billing codes of a product changed".to_owned(),
        })
        .await?;
    Ok(())
}

/// Serialisable view of a code -> product decision (for reports).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CodeOwner {
    /// The billing code.
    pub code: String,
    /// The identifier of the product it counts toward; `None` for an unmapped code.
    pub product: Option<String>,
}

/// User-facing text of the product table.
pub mod messages {
    /// A product identifier that is not in the table.
    pub fn unknown_product(identifier: &str) -> String {
        format!(
            "`{identifier}` is not a product of the table. Run `centralbridge products list` to see the identifiers."
        )
    }

    /// Adding a code that already counts toward a product.
    pub fn code_taken(code: &str, product: &str) -> String {
        format!(
            "Billing code {code} already counts toward {product}; a code can count toward one product only. \
             Remove it there first with `centralbridge products remove-code {product} {code}`."
        )
    }

    /// Removing a code the user did not add to that product.
    pub fn not_extra(code: &str, product: &str) -> String {
        format!("{code} is not a code you added to {product} (built-in codes cannot be removed).")
    }

    /// A code that is empty or has blanks or control characters.
    pub fn bad_code(code: &str) -> String {
        format!("`{code}` is not a billing product code (expected something like CIXA-MSP).")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_has_twenty_products_and_unique_codes() {
        let t = ProductTable::builtin();
        assert_eq!(
            t.products().len(),
            19,
            "the 19 documented rows (the last is Wireless Entry)"
        );
        let codes: usize = t.products().iter().map(|p| p.codes.len()).sum();
        assert_eq!(t.by_code.len(), codes, "no code counts toward two products");
        assert_eq!(
            t.product_for_code("cixa-msp-usr")
                .map(|p| p.identifier.as_str()),
            Some("Sophos_Intercept_X_Advanced")
        );
        assert!(t.product_for_code("XGS-FW-MSP").is_none());
    }

    #[test]
    fn extra_codes_extend_but_never_steal() {
        let mut extra = BTreeMap::new();
        extra.insert(
            "Sophos_Intercept_X".to_owned(),
            vec!["ZTNA-MSP".to_owned(), "CEP-MSP".to_owned()],
        );
        extra.insert("Nope".to_owned(), vec!["X".to_owned()]);
        let t = ProductTable::with_extra_codes(&extra);
        assert_eq!(
            t.product_for_code("ztna-msp")
                .map(|p| p.identifier.as_str()),
            Some("Sophos_Intercept_X")
        );
        assert_eq!(
            t.product_for_code("CEP-MSP").map(|p| p.identifier.as_str()),
            Some("Sophos_Endpoint_Protection")
        );
        assert!(t.product_for_code("X").is_none());
    }
}
