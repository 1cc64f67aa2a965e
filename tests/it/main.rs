//! The integration tests, one binary (one link on a 2-core machine instead of one per
//! area), one module per area. Registries, proxies and token servers come from
//! `pin-test-support`; every test that needs a registry starts a real one on 127.0.0.1.

/// The test support crate, plus the `pin` binary this build made.
mod support {
    pub use pin_test_support::*;

    /// `pin` built for these tests, with an empty `HOME` (see
    /// [`pin_test_support::pin_command`]).
    pub fn pin_cmd() -> std::process::Command {
        pin_test_support::pin_command(env!("CARGO_BIN_EXE_pin"))
    }
}

mod bot;
mod byte_preservation;
mod ci_kinds;
mod cli;
mod credentials;
mod dockerfile_rules;
mod dogfood;
mod faults;
mod hostile_files;
mod hostile_registry;
mod mixed;
mod parallel;
mod policy;
mod properties;
mod resolve;
mod sarif;
mod snapshots;
mod update;
mod usage;
mod values;
mod yaml_rules;
