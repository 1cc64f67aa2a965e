//! The test suite's registry, seeding, token and proxy code, shared by the examples
//! (`tests/support/mod.rs` itself needs a test build's `CARGO_BIN_EXE_pin`).
#![allow(dead_code, unused_imports)]

#[path = "../../tests/support/proxy.rs"]
pub mod proxy;
#[path = "../../tests/support/push.rs"]
pub mod push;
#[path = "../../tests/support/registry.rs"]
pub mod registry;
#[path = "../../tests/support/token.rs"]
pub mod token;
