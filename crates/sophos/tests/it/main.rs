//! The integration tests of `sophos`, one binary (each test file is a module).

mod common;

mod client_http;
mod emulator;
mod parsing;
