//! Shared set-up for the integration tests: real registries on 127.0.0.1 (plain, basic
//! auth, token auth), seeding them over the HTTP API, and running the `pin` binary
//! without the developer's credentials.
//!
//! ```ignore
//! use pin_test_support::{ImageKind, Registry, pin_command};
//!
//! let registry = Registry::start(); // or start_with_basic_auth / start_with_token_auth
//! let pushed = registry.push_image("library/python", "3.12", ImageKind::OciIndex(&["linux/amd64", "linux/arm64/v8"]));
//! // pushed.digest: the index; pushed.child("linux/arm64/v8"): that platform's manifest.
//! let output = pin_command(env!("CARGO_BIN_EXE_pin"))
//!     .args(["--mirror", &format!("docker.io={}", registry.host())])
//!     .args(["--insecure-registry", registry.host()])
//!     .arg(dir.path())
//!     .output()
//!     .unwrap();
//! ```
//!
//! Push one repository's tags one after another (the registry's filesystem storage
//! can fail on concurrent pushes to one repository).

pub mod fake;
pub mod files;
pub mod proxy;
pub mod push;
pub mod registry;
pub mod token;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

pub use fake::{FakeRegistry, FakeResponse};
pub use files::{copy_out, git, read, tree};
pub use proxy::{Fault, Kind, Proxy};
pub use push::{ImageKind, Pushed};
pub use registry::Registry;
pub use token::{TokenOptions, TokenServer};

/// A tokio runtime for tests that call the resolver through the library.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The `pin` binary at `binary` (a test's `env!("CARGO_BIN_EXE_pin")`) with `HOME` and
/// `DOCKER_CONFIG` pointing to an empty folder, so that a test never reads the
/// developer's `~/.docker/config.json` or credential helpers.
pub fn pin_command(binary: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(binary);
    let home = empty_home();
    cmd.env("HOME", home)
        .env("DOCKER_CONFIG", home.join(".docker"))
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env("NO_COLOR", "1");
    cmd
}

/// One empty folder per test process, kept (it is tiny) because `Command`s built from it
/// may outlive any guard.
fn empty_home() -> &'static PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("pin-test-home-")
            .tempdir()
            .expect("create an empty HOME for pin")
            .keep()
    })
}
