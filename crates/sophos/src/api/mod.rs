//! The endpoints, as `impl Client` blocks.

pub(crate) mod alerts;
pub(crate) mod partner;
