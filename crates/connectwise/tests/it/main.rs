//! The integration tests of `connectwise`, one binary (each test file is a module).

mod emulator;
mod parse;
mod roundtrip;
