//! The integration tests of `centralbridge`, one binary (each test file is a module).

mod support;

mod accounts;
mod browser_dashboard;
mod cli_audit;
mod cli_connect;
mod cli_foundation;
mod cli_map;
mod cli_sandbox;
mod cli_tickets;
mod cli_usage;
mod demo_once;
mod run_harness;
mod service_http;
mod service_leases;
mod usage_billing;
