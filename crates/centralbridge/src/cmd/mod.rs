//! One module per command; see `cli.rs` for how to add one.

pub mod config;
pub mod sandbox;
pub mod store;
pub mod bench;
pub mod products;
pub mod status;
pub mod sync;
pub mod connect;
pub mod doctor;
pub mod map;
pub mod refresh;
pub mod tickets;
pub mod bench_tickets;
pub mod serve;
pub mod demo;
