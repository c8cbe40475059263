//! centralbridge's domain. It never sees vendor JSON: it works on the typed values of the `connectwise`
//! and `sophos` client crates, and keeps its state in a [`store::Store`].
//!
//! Every sync is read -> plan -> apply: planning is a pure function, applying records each operation
//! in the store before and after it runs.

pub mod audit;
pub mod connections;
pub mod doctor;
pub mod ids;
pub mod job;
pub mod mapping;
pub mod products;
pub mod secrets;
pub mod store;
pub mod tickets;
pub mod usage;
