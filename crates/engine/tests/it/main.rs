//! The integration tests of `engine`, one binary (each test file is a module).

mod accounts_store;
mod doctor_connect;
mod doctor_roles;
mod job_harness;
mod mapping_rules;
mod mapping_sandbox;
mod mapping_scale;
mod store_core;
mod store_errors;
mod tickets_store;
mod tickets_sync;
mod tidy;
mod usage_store;
mod usage_sync;
