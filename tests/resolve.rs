//! The registry resolver against real registries on 127.0.0.1.

mod support;

use support::{ImageKind, Registry};

#[test]
fn harness_pushes_every_kind() {
    let registry = Registry::start();
    for kind in [
        ImageKind::Oci,
        ImageKind::Docker,
        ImageKind::OciIndex(&["linux/amd64", "linux/arm64/v8"]),
        ImageKind::DockerList(&["linux/amd64", "linux/arm/v7"]),
    ] {
        let pushed = registry.push_image("library/python", "3.12", kind);
        assert!(pushed.digest.starts_with("sha256:"));
    }
}

#[test]
fn harness_pushes_with_auth() {
    let basic = Registry::start_with_basic_auth(&[("alice", "secret")]);
    basic.push_image("team/app", "1", ImageKind::Oci);
    let token = Registry::start_with_token_auth(support::TokenOptions::default());
    let pushed = token.push_image(
        "library/python",
        "3.12",
        ImageKind::OciIndex(&["linux/amd64"]),
    );
    assert!(pushed.digest.starts_with("sha256:"), "{}", token.log());
}
