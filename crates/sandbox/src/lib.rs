//! Emulators of the two vendor APIs centralbridge talks to, with a seeded MSP.
//!
//! They are product, not test scaffolding: the demo, every test and every benchmark run on them, and
//! users point their own tools at them (`centralbridge sandbox`). Their wire types are their own: nothing
//! here is shared with the client crates, so a field-name mistake on one side cannot cancel out.

pub mod admin;
mod both;
pub mod connectwise;
pub mod faults;
pub mod sophos;
pub mod tls;
pub mod world;

pub use both::{
    ConnectWiseInfo, Sandbox, SandboxError, SandboxInfo, SandboxOptions, SophosInfo, TECHNICIAN,
    TechnicianInfo, VendorKnobs,
};
