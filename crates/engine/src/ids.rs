//! Typed ids and the vendor enums the engine keeps, so a company id cannot be passed where an
//! agreement id belongs and an unknown billing type is not mistaken for a known one.
//!
//! They are stored as the vendors' own values (integers for ConnectWise, the tenant UUID for
//! Sophos) and serialize the same way, so `--json` output and the store are unchanged by them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An id that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid {what} id. Fix: give the number ConnectWise shows for it.")]
pub struct ParseIdError {
    /// The kind of id expected (`company`, `agreement`, `catalog item`, ...).
    pub what: &'static str,
    /// The text given, untrimmed.
    pub text: String,
}

/// Stores a newtype exactly as its inner value, on any backend (what `#[sqlx(transparent)]`
/// derives; written out because the derive needs sqlx's macros, which double the build).
macro_rules! sqlx_transparent {
    ($name:ident($inner:ty)) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            $inner: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <$inner as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <$inner as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            $inner: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <$inner as sqlx::Encode<'q, DB>>::encode_by_ref(&self.0, buf)
            }

            fn size_hint(&self) -> usize {
                <$inner as sqlx::Encode<'q, DB>>::size_hint(&self.0)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            $inner: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                <$inner as sqlx::Decode<'r, DB>>::decode(value).map(Self)
            }
        }
    };
}

macro_rules! cw_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(i64);

        sqlx_transparent!($name(i64));

        impl $name {
            /// Wraps the number ConnectWise knows it by (not checked).
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            /// The number ConnectWise knows it by.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        // Tests and messages compare against the vendor's number; only the same kind of id
        // converts, so a company id still cannot stand for an agreement id.
        impl PartialEq<i64> for $name {
            fn eq(&self, other: &i64) -> bool {
                self.0 == *other
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Self)
                    .ok_or_else(|| ParseIdError { what: $what, text: s.to_owned() })
            }
        }
    };
}

cw_id!(
    /// A ConnectWise company.
    CompanyId,
    "company"
);
cw_id!(
    /// A ConnectWise agreement.
    AgreementId,
    "agreement"
);
cw_id!(
    /// A ConnectWise agreement addition.
    AdditionId,
    "addition"
);
cw_id!(
    /// A ConnectWise catalog item (product).
    CatalogItemId,
    "catalog item"
);
cw_id!(
    /// A ConnectWise service ticket.
    TicketId,
    "ticket"
);

/// A Sophos Central tenant (a customer), by its UUID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

sqlx_transparent!(TenantId(String));

impl TenantId {
    /// Wraps Sophos's tenant id as given (not checked).
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The tenant id as Sophos writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for TenantId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl From<String> for TenantId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

// A tenant id is only ever read as text (URLs, SQL, messages), so it reads as a `&str` where one
// is wanted; it is built only with `TenantId::new`, at the boundary.
impl std::ops::Deref for TenantId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for TenantId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for TenantId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<String> for TenantId {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl PartialEq<&str> for TenantId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A tenant's Sophos `billingType`. Sophos documents `term` and `trial`; `usage` (MSP Flex, the
/// monthly type usage sync bills) is known from third-party clients only, so any other value is
/// kept as it came rather than refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BillingType {
    /// MSP Flex: billed monthly by usage.
    Usage,
    /// A fixed-term subscription, not billed by usage sync.
    Term,
    /// A trial; Sophos does not let the partner read its alerts.
    Trial,
    /// Any other value, kept as Sophos sent it.
    Other(String),
}

impl BillingType {
    /// Known values in any case; anything else kept as it came.
    pub fn parse(text: &str) -> Self {
        match text.to_ascii_lowercase().as_str() {
            "usage" => BillingType::Usage,
            "term" => BillingType::Term,
            "trial" => BillingType::Trial,
            _ => BillingType::Other(text.to_owned()),
        }
    }

    /// MSP Flex, the only type usage sync bills.
    pub fn is_monthly(&self) -> bool {
        *self == BillingType::Usage
    }

    /// The value as stored: lowercase for known types, as sent for `Other`.
    pub fn as_str(&self) -> &str {
        match self {
            BillingType::Usage => "usage",
            BillingType::Term => "term",
            BillingType::Trial => "trial",
            BillingType::Other(s) => s,
        }
    }

    /// Whether the partner may read the tenant's alerts: MSP Flex and term customers, not trials.
    pub fn alerts_readable(&self) -> bool {
        matches!(self, BillingType::Usage | BillingType::Term)
    }
}

impl From<&str> for BillingType {
    fn from(text: &str) -> Self {
        BillingType::parse(text)
    }
}

impl fmt::Display for BillingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for BillingType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BillingType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(BillingType::parse(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_positive_numbers_only() {
        assert_eq!("42".parse::<AgreementId>().unwrap().get(), 42);
        assert_eq!(" 7 ".parse::<CompanyId>().unwrap(), CompanyId::new(7));
        for bad in ["0", "-3", "x", "", "1.5"] {
            let e = bad.parse::<AdditionId>().unwrap_err();
            assert!(e.to_string().contains("valid addition id"), "{e}");
            assert!(e.to_string().contains("Fix:"), "{e}");
        }
    }

    #[test]
    fn ids_serialize_as_the_vendor_value() {
        assert_eq!(serde_json::to_string(&TicketId::new(9)).unwrap(), "9");
        assert_eq!(
            serde_json::to_string(&TenantId::new("a-b")).unwrap(),
            "\"a-b\""
        );
        assert_eq!(
            serde_json::from_str::<CatalogItemId>("12").unwrap(),
            CatalogItemId::new(12)
        );
    }

    #[test]
    fn billing_types_round_trip_and_keep_unknown_values() {
        for s in ["usage", "term", "trial", "monthly"] {
            assert_eq!(BillingType::parse(s).as_str(), s);
        }
        assert_eq!(
            BillingType::parse("monthly"),
            BillingType::Other("monthly".into())
        );
        assert_eq!(BillingType::parse("Usage"), BillingType::Usage);
        assert!(BillingType::Usage.is_monthly() && !BillingType::Term.is_monthly());
        assert!(BillingType::Usage.alerts_readable() && BillingType::Term.alerts_readable());
        assert!(!BillingType::Trial.alerts_readable());
    }
}
