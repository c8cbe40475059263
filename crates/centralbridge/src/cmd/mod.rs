//! One module per command; see `cli.rs` for how to add one.

pub mod config;
pub mod sandbox;
pub mod store;
