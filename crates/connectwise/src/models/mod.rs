//! The client's own wire types. Every response field is optional (real records lack fields the spec
//! calls required) and unknown fields are ignored. The same structs serve as POST bodies: `None` fields
//! are not sent.

mod common;
mod company;
mod finance;
mod procurement;
mod service;
mod system;

pub use common::*;
pub use company::*;
pub use finance::*;
pub use procurement::*;
pub use service::*;
pub use system::*;

/// An enum of known wire strings with an `Unknown(String)` fallback, so a new value never breaks parsing.
macro_rules! cw_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                /// A value this client knows; [`Self::as_str`] gives its wire string.
                $variant,
            )+
            /// A value this client does not know, kept and sent back as ConnectWise sent it.
            Unknown(String),
        }

        impl $name {
            /// The string ConnectWise uses on the wire (an unknown value exactly as it arrived).
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Unknown(s) => s.as_str(),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $(if s.eq_ignore_ascii_case($wire) { return $name::$variant; })+
                $name::Unknown(s.to_string())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
    };
}
pub(crate) use cw_enum;
