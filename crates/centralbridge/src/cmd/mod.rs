//! One module per command; see `cli.rs` for how to add one.

pub mod audit;
pub mod bench;
pub mod bench_tickets;
pub mod config;
pub mod connect;
pub mod demo;
pub mod doctor;
pub mod map;
pub mod plans;
pub mod products;
pub mod reconcile;
pub mod refresh;
pub mod removals;
pub mod run;
pub mod sandbox;
pub mod serve;
pub mod status;
pub mod store;
pub mod sync;
pub mod tickets;
pub mod users;
