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

    /// Output that must be UTF-8, as text.
    pub fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
    }

    /// `pin ARGS` in `dir` with `registry` standing in for Docker Hub and (under the
    /// path prefix `ghcr`) for ghcr.io, over plain HTTP.
    pub fn pin_mirrored(
        dir: &std::path::Path,
        registry: &Registry,
        args: &[&str],
    ) -> std::process::Output {
        pin_cmd()
            .current_dir(dir)
            .args(["--mirror", &format!("docker.io={}", registry.host())])
            .args(["--mirror", &format!("ghcr.io={}/ghcr", registry.host())])
            .args(["--insecure-registry", registry.host()])
            .args(args)
            .output()
            .expect("run pin")
    }

    /// What varies from run to run in `pin`'s output, and what stands in for it in
    /// snapshots: loopback ports, digests, temporary folders, durations.
    pub const FILTERS: &[(&str, &str)] = &[
        (r"127\.0\.0\.1:\d+", "[REGISTRY]"),
        (r"sha256:[0-9a-f]{64}", "[DIGEST]"),
        (r"/tmp/\.tmp[A-Za-z0-9]+", "[TEMP]"),
        (r"\d+(\.\d+)? s\b", "[SECONDS] s"),
    ];
}

/// `insta::assert_snapshot!` with [`support::FILTERS`] applied, so that a test asserts
/// a whole output, not a part of it.
macro_rules! pin_snapshot {
    ($($snapshot:tt)*) => {
        insta::with_settings!({filters => crate::support::FILTERS.to_vec()}, {
            insta::assert_snapshot!($($snapshot)*);
        })
    };
}
pub(crate) use pin_snapshot;

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
mod keyless;
mod mixed;
mod parallel;
mod policy;
mod properties;
mod resolve;
mod sarif;
mod snapshots;
mod trust;
mod update;
mod usage;
mod values;
mod yaml_rules;
