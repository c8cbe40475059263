//! The integration tests of `sandbox`, one binary (each test file is a module).

mod connectwise_support;
mod sophos_common;

mod admin_api;
mod connectwise_behaviour;
mod connectwise_conditions;
mod connectwise_shapes;
mod connectwise_snapshots;
mod early_answers;
mod sophos_api;
mod sophos_generator;
mod sophos_paging;
mod sophos_siem;
mod technician;
