//! Publisher trust with keys: `[[trust]]` rules, both cosign signature forms pushed to
//! a real registry, and the hijacked tag refused by `--update`, `--check --update` and
//! `--check --verify`.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Output;

use pin_sigstore::signing::{SigningKey, key_bundle, sign_simple_signing};
use serde_json::Value;
use support::push::BUNDLE_V03;
use support::{FakeRegistry, FakeResponse, ImageKind, Registry, pin_cmd};

pub(crate) fn pin(dir: &Path, registry_host: &str, args: &[&str]) -> Output {
    pin_cmd()
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1795000000")
        .args(["--insecure-registry", registry_host])
        .args(args)
        .output()
        .expect("run pin")
}

pub(crate) fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The JSON references whose text contains `needle`.
pub(crate) fn reference<'a>(report: &'a Value, needle: &str) -> &'a Value {
    report["references"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["text"].as_str().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("no reference with {needle} in {report:#}"))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A key pair, its public key written to `dir/keys/<name>.pub`.
pub(crate) fn key(dir: &Path, name: &str) -> SigningKey {
    let key = SigningKey::generate().unwrap();
    fs::create_dir_all(dir.join("keys")).unwrap();
    fs::write(dir.join(format!("keys/{name}.pub")), key.public_key_pem()).unwrap();
    key
}

/// Signs `digest` in `repository` the cosign v2 way (a `.sig` manifest).
pub(crate) fn sign_v2(registry: &Registry, repository: &str, digest: &str, key: &SigningKey) {
    let layer = sign_simple_signing(key, digest, None).unwrap();
    registry.push_cosign_signatures(repository, digest, &[(layer.payload, layer.annotations)]);
}

/// Signs `digest` the cosign v3 way (a bundle attached as a referrer).
fn sign_v3(registry: &Registry, repository: &str, digest: &str, key: &SigningKey) {
    let bundle = key_bundle(key, digest).unwrap();
    registry.push_referrer(repository, digest, BUNDLE_V03, bundle.as_bytes());
}

fn settings(dir: &Path, text: &str) {
    fs::write(dir.join("pin.toml"), text).unwrap();
}

pub(crate) fn acme_rule(host: &str) -> String {
    format!(
        "[[trust]]\nimages = [\"{host}/acme/*\"]\nkeys = [\"keys/acme.pub\"]\nrequire = \"signed\"\n"
    )
}

#[test]
fn digests_signed_by_the_rule_key_are_pinned_in_both_signature_forms() {
    let registry = Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let acme = key(dir.path(), "acme");
    let v2 = registry.push_image("acme/app", "1.2", ImageKind::Oci);
    let v3 = registry.push_image("acme/tool", "1.0", ImageKind::Oci);
    sign_v2(&registry, "acme/app", &v2.digest, &acme);
    sign_v3(&registry, "acme/tool", &v3.digest, &acme);
    settings(dir.path(), &acme_rule(host));
    let text = format!("FROM {host}/acme/app:1.2\nFROM {host}/acme/tool:1.0\n");
    fs::write(dir.path().join("Dockerfile"), &text).unwrap();

    let output = pin(dir.path(), host, &["--write", "--format", "json", "."]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    for (name, digest) in [("acme/app", &v2.digest), ("acme/tool", &v3.digest)] {
        let found = reference(&report, name);
        assert_eq!(found["status"], "pin", "{found:#}");
        assert_eq!(found["digest"], digest.as_str());
        assert_eq!(
            found["signature"],
            serde_json::json!({"verified": true, "kind": "key", "key": "keys/acme.pub"})
        );
    }
    let written = fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(
        written.contains(&format!("acme/app:1.2@{}", v2.digest)),
        "{written}"
    );
    assert!(
        written.contains(&format!("acme/tool:1.0@{}", v3.digest)),
        "{written}"
    );
}

#[test]
fn unsigned_and_foreign_signed_digests_are_not_pinned() {
    let registry = Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let _acme = key(dir.path(), "acme");
    let mallory = SigningKey::generate().unwrap();
    registry.push_image("acme/unsigned", "1", ImageKind::Oci);
    let foreign = registry.push_image("acme/foreign", "1", ImageKind::Oci);
    sign_v2(&registry, "acme/foreign", &foreign.digest, &mallory);
    // No rule for this one: pinned as before, its signatures not even fetched.
    registry.push_image("other/app", "1", ImageKind::Oci);
    settings(dir.path(), &acme_rule(host));
    let text = format!(
        "FROM {host}/acme/unsigned:1\nFROM {host}/acme/foreign:1\nFROM {host}/other/app:1\n"
    );
    fs::write(dir.path().join("Dockerfile"), &text).unwrap();

    let output = pin(dir.path(), host, &["--format", "json", "."]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = json(&output);
    let unsigned = reference(&report, "acme/unsigned");
    assert_eq!(unsigned["status"], "violation");
    assert_eq!(unsigned["reason"], "unsigned");
    assert_eq!(unsigned["signature"]["verified"], false);
    let foreign_ref = reference(&report, "acme/foreign");
    assert_eq!(foreign_ref["reason"], "untrusted-signer", "{foreign_ref:#}");
    assert!(
        foreign_ref["error"]
            .as_str()
            .unwrap()
            .contains("signed by no signer of the trust rule"),
        "{foreign_ref:#}"
    );
    let other = reference(&report, "other/app");
    assert_eq!(other["status"], "pin");
    assert_eq!(other["signature"], Value::Null);

    // --write pins only the image no rule covers.
    let output = pin(dir.path(), host, &["--write", "."]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("refused (unsigned)"), "{err}");
    let written = fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(
        written.contains(&format!("FROM {host}/acme/unsigned:1\n")),
        "{written}"
    );
    assert!(
        written.contains(&format!("FROM {host}/acme/foreign:1\n")),
        "{written}"
    );
    assert!(
        written.contains(&format!("{host}/other/app:1@sha256:")),
        "{written}"
    );
    assert!(
        !registry.log().contains("/other/app/manifests/sha256-"),
        "signatures fetched for an image no rule covers"
    );
}

/// The tag `acme/app:1.2` is repointed by someone without the release key; another
/// file's image moves legitimately in the same run.
#[test]
fn a_hijacked_tag_is_refused_and_legitimate_updates_still_go_through() {
    let registry = Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let acme = key(dir.path(), "acme");
    let mallory = SigningKey::generate().unwrap();
    let old = registry.push_image("acme/app", "1.2", ImageKind::Oci);
    sign_v2(&registry, "acme/app", &old.digest, &acme);
    let base_old = registry.push_image("library/base", "1", ImageKind::Oci);
    settings(dir.path(), &acme_rule(host));
    let app = format!("FROM {host}/acme/app:1.2@{}\n", old.digest);
    let base = format!("FROM {host}/library/base:1@{}\n", base_old.digest);
    fs::create_dir_all(dir.path().join("app")).unwrap();
    fs::create_dir_all(dir.path().join("base")).unwrap();
    fs::write(dir.path().join("app/Dockerfile"), &app).unwrap();
    fs::write(dir.path().join("base/Dockerfile"), &base).unwrap();
    let base_new = registry.push_image("library/base", "1", ImageKind::Oci);

    // Repointed to a digest signed by another key, then to an unsigned one.
    let signed_by_mallory = registry.push_image("acme/app", "1.2", ImageKind::Oci);
    sign_v3(&registry, "acme/app", &signed_by_mallory.digest, &mallory);
    let check = pin(
        dir.path(),
        host,
        &["--check", "--update", "--format", "json", "."],
    );
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    let report = json(&check);
    let refused = reference(&report, "acme/app");
    assert_eq!(refused["reason"], "untrusted-signer", "{refused:#}");
    let message = refused["error"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "{host}/acme/app:1.2 moved to {}",
            signed_by_mallory.digest
        )) && message.contains("was signed by keys/acme.pub"),
        "{message}"
    );
    assert_eq!(reference(&report, "library/base")["status"], "stale");

    let unsigned = registry.push_image("acme/app", "1.2", ImageKind::Oci);
    let check = pin(
        dir.path(),
        host,
        &["--check", "--update", "--format", "json", "."],
    );
    assert_eq!(check.status.code(), Some(1));
    let report = json(&check);
    assert_eq!(reference(&report, "acme/app")["reason"], "signature-lost");
    assert_eq!(reference(&report, "acme/app")["digest"], Value::Null);

    let write = pin(dir.path(), host, &["--update", "--write", "."]);
    assert_eq!(write.status.code(), Some(2), "{}", stderr(&write));
    let err = stderr(&write);
    assert!(err.contains("refused (signature-lost)"), "{err}");
    assert!(err.contains(&unsigned.digest), "{err}");
    assert_eq!(
        fs::read_to_string(dir.path().join("app/Dockerfile")).unwrap(),
        app
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("base/Dockerfile")).unwrap(),
        format!("FROM {host}/library/base:1@{}\n", base_new.digest)
    );

    // The refused move is not in the patch either.
    fs::write(dir.path().join("base/Dockerfile"), &base).unwrap();
    let patch = pin(dir.path(), host, &["--update", "--format", "patch", "."]);
    let patch = String::from_utf8(patch.stdout).unwrap();
    assert!(
        patch.contains("Subject: [PATCH] Update digests of 1 container image"),
        "{patch}"
    );
    assert!(!patch.contains(&unsigned.digest[7..19]), "{patch}");
}

#[test]
fn the_patch_names_the_signer_of_every_new_digest() {
    let registry = Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let acme = key(dir.path(), "acme");
    let old = registry.push_image("acme/app", "1.2", ImageKind::Oci);
    sign_v2(&registry, "acme/app", &old.digest, &acme);
    settings(dir.path(), &acme_rule(host));
    fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {host}/acme/app:1.2@{}\n", old.digest),
    )
    .unwrap();
    let new = registry.push_image("acme/app", "1.2", ImageKind::Oci);
    sign_v3(&registry, "acme/app", &new.digest, &acme);
    let output = pin(dir.path(), host, &["--update", "--format", "patch", "."]);
    assert!(output.status.success(), "{}", stderr(&output));
    let patch = String::from_utf8(output.stdout).unwrap();
    assert!(patch.contains("| Image | Tag | Old digest | New digest | Signed by | Files |"));
    let row = patch.lines().find(|l| l.contains("acme/app")).unwrap();
    assert!(row.contains("| `keys/acme.pub` |"), "{row}");
}

#[test]
fn check_verify_proves_every_pinned_digest_online_and_plain_check_stays_offline() {
    let registry = Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let acme = key(dir.path(), "acme");
    let signed = registry.push_image("acme/app", "1", ImageKind::Oci);
    sign_v2(&registry, "acme/app", &signed.digest, &acme);
    let unsigned = registry.push_image("acme/tool", "1", ImageKind::Oci);
    settings(dir.path(), &acme_rule(host));
    let good = format!("FROM {host}/acme/app:1@{}\n", signed.digest);
    fs::write(dir.path().join("Dockerfile"), &good).unwrap();
    let output = pin(
        dir.path(),
        host,
        &["--check", "--verify", "--format", "json", "."],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        reference(&json(&output), "acme/app")["signature"]["key"],
        "keys/acme.pub"
    );
    let bad = format!("{good}FROM {host}/acme/tool:1@{}\n", unsigned.digest);
    fs::write(dir.path().join("Dockerfile"), &bad).unwrap();
    let output = pin(
        dir.path(),
        host,
        &["--check", "--verify", "--format", "json", "."],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(reference(&json(&output), "acme/tool")["reason"], "unsigned");
    // Plain --check asks no registry.
    let before = registry.log().len();
    let output = pin(dir.path(), host, &["--check", "."]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(registry.log().len(), before);
    // --verify is for --check.
    let output = pin(dir.path(), host, &["--verify", "."]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn an_older_build_is_a_rollback_and_a_new_source_is_refused_under_continuity() {
    let registry = Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let acme = key(dir.path(), "acme");
    let source = "https://github.com/acme/app";
    let old = registry.push_image_built("acme/app", "1", "2024-06-01T00:00:00Z", Some(source));
    sign_v2(&registry, "acme/app", &old.digest, &acme);
    let base = registry.push_image_built("library/base", "1", "2024-06-01T00:00:00Z", Some(source));
    settings(
        dir.path(),
        &format!(
            "{}\n[[trust]]\nimages = [\"{host}/library/*\"]\nrequire = \"none\"\ncontinuity = \"source\"\n",
            acme_rule(host)
        ),
    );
    let text = format!(
        "FROM {host}/acme/app:1@{}\nFROM {host}/library/base:1@{}\n",
        old.digest, base.digest
    );
    fs::write(dir.path().join("Dockerfile"), &text).unwrap();
    let older =
        registry.push_image_built("acme/app", "1", "2023-01-01T00:00:00+01:00", Some(source));
    sign_v2(&registry, "acme/app", &older.digest, &acme);
    registry.push_image_built(
        "library/base",
        "1",
        "2024-07-01T00:00:00Z",
        Some("https://github.com/mallory/base"),
    );
    let output = pin(
        dir.path(),
        host,
        &["--check", "--update", "--format", "json", "."],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    let app = reference(&report, "acme/app");
    assert_eq!(app["reason"], "rollback", "{app:#}");
    assert!(
        app["error"]
            .as_str()
            .unwrap()
            .contains("built at 2023-01-01"),
        "{app:#}"
    );
    let base_ref = reference(&report, "library/base");
    assert_eq!(base_ref["reason"], "source-changed", "{base_ref:#}");
    assert!(
        base_ref["error"].as_str().unwrap().contains("mallory/base"),
        "{base_ref:#}"
    );
    let output = pin(dir.path(), host, &["--update", "--write", "."]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        text
    );
    // A newer build from the same source goes through.
    let newer = registry.push_image_built("acme/app", "1", "2024-08-01T00:00:00Z", Some(source));
    sign_v2(&registry, "acme/app", &newer.digest, &acme);
    let output = pin(dir.path(), host, &["--update", "--format", "json", "."]);
    let report = json(&output);
    assert_eq!(
        reference(&report, "acme/app")["status"],
        "updated",
        "{report:#}"
    );
}

#[test]
fn a_platform_pin_is_accepted_when_its_index_is_signed() {
    let registry = Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let acme = key(dir.path(), "acme");
    let index = registry.push_image(
        "acme/multi",
        "1",
        ImageKind::OciIndex(&["linux/amd64", "linux/arm64/v8"]),
    );
    sign_v2(&registry, "acme/multi", &index.digest, &acme);
    settings(dir.path(), &acme_rule(host));
    fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {host}/acme/multi:1\n"),
    )
    .unwrap();
    let output = pin(
        dir.path(),
        host,
        &["--platform", "linux/arm64/v8", "--format", "json", "."],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    let found = reference(&report, "acme/multi");
    assert_eq!(found["digest"], index.child("linux/arm64/v8"));
    assert_eq!(found["signature"]["signed_index"], index.digest.as_str());
    assert_eq!(found["signature"]["verified"], true);
}

#[test]
fn hostile_signatures_are_not_accepted() {
    let registry = Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let acme = key(dir.path(), "acme");
    let annotation = pin_sigstore::SIGNATURE_ANNOTATION.to_string();
    let mut text = String::new();
    let mut push = |name: &str| {
        let pushed = registry.push_image(&format!("acme/{name}"), "1", ImageKind::Oci);
        text.push_str(&format!("FROM {host}/acme/{name}:1\n"));
        pushed.digest
    };
    // A payload naming another digest, signed by the right key.
    let other = push("elsewhere");
    let d = push("wrong-digest");
    let layer = sign_simple_signing(&acme, &other, None).unwrap();
    registry.push_cosign_signatures(
        "acme/wrong-digest",
        &d,
        &[(layer.payload, layer.annotations)],
    );
    // A valid signature over other bytes.
    let d = push("other-bytes");
    let layer = sign_simple_signing(&acme, &d, None).unwrap();
    let mut payload = layer.payload.clone();
    payload.push(b' ');
    registry.push_cosign_signatures("acme/other-bytes", &d, &[(payload, layer.annotations)]);
    // Bad base64.
    let d = push("bad-base64");
    let layer = sign_simple_signing(&acme, &d, None).unwrap();
    registry.push_cosign_signatures(
        "acme/bad-base64",
        &d,
        &[(
            layer.payload,
            vec![(annotation.clone(), "%%% not base64".into())],
        )],
    );
    // An attestation offered as a signature: a DSSE bundle of another predicate type.
    let d = push("attestation");
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": &d[7..]}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {},
    })
    .to_string();
    let bundle = dsse_bundle(&acme, statement.as_bytes());
    registry.push_referrer("acme/attestation", &d, BUNDLE_V03, bundle.as_bytes());
    settings(dir.path(), &acme_rule(host));
    fs::write(dir.path().join("Dockerfile"), &text).unwrap();
    let output = pin(dir.path(), host, &["--format", "json", "."]);
    assert_eq!(output.status.code(), Some(2));
    let report = json(&output);
    for (name, reason, says) in [
        ("wrong-digest", "unsigned", "the signature is for"),
        ("other-bytes", "untrusted-signer", "signed by none"),
        ("bad-base64", "unsigned", "base64"),
        ("attestation", "unsigned", "not an image signature"),
    ] {
        let found = reference(&report, &format!("acme/{name}"));
        assert_eq!(found["status"], "violation", "{name}: {found:#}");
        let error = found["error"].as_str().unwrap();
        assert!(error.contains(says), "{name}: {error}");
        assert_eq!(found["reason"], reason, "{name}: {found:#}");
    }
}

/// A DSSE bundle v0.3 of `statement`, signed with `key` (as cosign v3 writes one).
fn dsse_bundle(key: &SigningKey, statement: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload_type = "application/vnd.in-toto+json";
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        statement.len()
    )
    .into_bytes();
    pae.extend_from_slice(statement);
    let signature = key.sign(&pae).unwrap();
    serde_json::json!({
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {"publicKey": {"hint": "x"}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": b64.encode(statement),
            "payloadType": payload_type,
            "signatures": [{"sig": b64.encode(signature)}],
        },
    })
    .to_string()
}

#[test]
fn bad_trust_settings_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("keys")).unwrap();
    let certificate = rcgen::generate_simple_self_signed(vec!["x".into()]).unwrap();
    fs::write(dir.path().join("keys/cert.pem"), certificate.cert.pem()).unwrap();
    fs::write(dir.path().join("keys/garbage.pub"), "not a key\n").unwrap();
    fs::write(dir.path().join("Dockerfile"), "FROM alpine:3\n").unwrap();
    for (body, line, says) in [
        (
            "[[trust]]\nimages = [\"*\"]\nkeys = [\"keys/cert.pem\"]\n",
            3,
            "keys/cert.pem",
        ),
        (
            "[[trust]]\nimages = [\"*\"]\nkeys = [\"keys/garbage.pub\"]\n",
            3,
            "keys/garbage.pub",
        ),
        (
            "[[trust]]\nimages = [\"*\"]\nkeys = [\"keys/missing.pub\"]\n",
            3,
            "cannot read",
        ),
        (
            "jobs = 1\n[[trust]]\nimages = [\"a[\"]\n",
            3,
            "invalid pattern",
        ),
        (
            "[[trust]]\nimages = [\"*\"]\nrequire = \"always\"\n",
            3,
            "unknown variant",
        ),
        (
            "[[trust]]\nimages = [\"*\"]\nkey = [\"k\"]\n",
            3,
            "unknown field",
        ),
        (
            "[[trust]]\nimages = [\"*\"]\nrequire = \"signed\"\n",
            3,
            "needs `keys` or `keyless`",
        ),
    ] {
        fs::write(dir.path().join("pin.toml"), body).unwrap();
        let output = pin_cmd()
            .current_dir(dir.path())
            .args(["--check", "."])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{body}");
        let err = stderr(&output);
        assert!(err.contains(&format!("pin.toml:{line}:")), "{body}: {err}");
        assert!(err.contains(says), "{body}: {err}");
    }
}

/// A registry with the OCI 1.1 referrers API (the fake; `docker-registry` 2.8 has none):
/// the bundle is found through `GET /v2/<name>/referrers/<digest>`, not the tag schema.
#[test]
fn a_bundle_is_found_and_verified_through_the_referrers_api() {
    let fake = FakeRegistry::start();
    let host = fake.host();
    let dir = tempfile::tempdir().unwrap();
    let acme = key(dir.path(), "acme");
    let mallory = SigningKey::generate().unwrap();
    let signed = fake.serve_image("acme/tool", "1.0");
    fake.serve_referrer(
        "acme/tool",
        &signed,
        BUNDLE_V03,
        key_bundle(&acme, &signed).unwrap().as_bytes(),
    );
    let foreign = fake.serve_image("acme/other", "1.0");
    fake.serve_referrer(
        "acme/other",
        &foreign,
        BUNDLE_V03,
        key_bundle(&mallory, &foreign).unwrap().as_bytes(),
    );
    settings(dir.path(), &acme_rule(&host));
    let text = format!("FROM {host}/acme/tool:1.0\nFROM {host}/acme/other:1.0\n");
    fs::write(dir.path().join("Dockerfile"), &text).unwrap();

    let output = pin(dir.path(), &host, &["--format", "json", "."]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = json(&output);
    let found = reference(&report, "acme/tool");
    assert_eq!(found["status"], "pin", "{found:#}");
    assert_eq!(found["digest"], signed.as_str());
    assert_eq!(
        found["signature"],
        serde_json::json!({"verified": true, "kind": "key", "key": "keys/acme.pub"})
    );
    let other = reference(&report, "acme/other");
    assert_eq!(other["reason"], "untrusted-signer", "{other:#}");
    let requests = fake.requests();
    for digest in [&signed, &foreign] {
        assert!(
            requests
                .iter()
                .any(|r| r.starts_with("GET /v2/acme/")
                    && r.contains(&format!("/referrers/{digest}"))),
            "{requests:#?}"
        );
        // The API answered: the referrers tag schema was not needed.
        let schema_tag = format!("/manifests/{}", digest.replace(':', "-"));
        assert!(
            !requests.iter().any(|r| r.ends_with(&schema_tag)),
            "{requests:#?}"
        );
    }
}

/// What a hostile registry offers to send.
const HUGE: u64 = 64 * 1024 * 1024;

/// A signature manifest or a referrers index over the 4 MiB manifest cap, declared or
/// endless, is refused with the registry and the limit named, never read whole; the
/// digest is then in doubt (an error), not unsigned.
#[test]
fn huge_signature_answers_are_cut_at_the_manifest_cap() {
    let dir = tempfile::tempdir().unwrap();
    let _acme = key(dir.path(), "acme");
    for (case, endless_sig, answer) in [
        (
            "signature manifest",
            true,
            FakeResponse::endless(HUGE, false),
        ),
        (
            "signature manifest",
            true,
            FakeResponse::endless(HUGE, true),
        ),
        ("referrers index", false, FakeResponse::endless(HUGE, false)),
        ("referrers index", false, FakeResponse::endless(HUGE, true)),
    ] {
        let fake = FakeRegistry::start();
        let host = fake.host();
        let digest = fake.serve_image("acme/app", "1");
        let path = if endless_sig {
            format!("/v2/acme/app/manifests/{}.sig", digest.replace(':', "-"))
        } else {
            format!("/v2/acme/app/referrers/{digest}")
        };
        fake.on("GET", &path, answer);
        settings(dir.path(), &acme_rule(&host));
        fs::write(
            dir.path().join("Dockerfile"),
            format!("FROM {host}/acme/app:1\n"),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let output = pin(dir.path(), &host, &["--format", "json", "."]);
        assert_eq!(output.status.code(), Some(2), "{case}: {}", stderr(&output));
        let report = json(&output);
        let found = reference(&report, "acme/app");
        assert_eq!(found["status"], "error", "{case}: {found:#}");
        let error = found["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("{host} sent a {case}"))
                && error.contains("larger than the 4 MiB limit"),
            "{case}: {error}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{case}"
        );
        // The cap plus what the kernel's socket buffers took before pin hung up.
        assert!(
            fake.body_bytes_sent() < 24 * 1024 * 1024,
            "{case}: the fake wrote {} bytes",
            fake.body_bytes_sent()
        );
        assert_eq!(
            fake.requests()
                .iter()
                .filter(|r| r.ends_with(&path))
                .count(),
            1,
            "{case}: refused, not retried: {:#?}",
            fake.requests()
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
            format!("FROM {host}/acme/app:1\n")
        );
    }
}

/// Answers a registry with the referrers API may give: an attestation as the digest's
/// only referrer, a `.sig` layer whose signature annotation is not base64.
#[test]
fn an_attestation_referrer_and_bad_base64_are_not_signatures() {
    let fake = FakeRegistry::start();
    let host = fake.host();
    let dir = tempfile::tempdir().unwrap();
    let acme = key(dir.path(), "acme");
    let attested = fake.serve_image("acme/attested", "1");
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": &attested[7..]}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {},
    })
    .to_string();
    let bundle = dsse_bundle(&acme, statement.as_bytes());
    fake.serve_referrer("acme/attested", &attested, BUNDLE_V03, bundle.as_bytes());

    let garbled = fake.serve_image("acme/garbled", "1");
    let layer = sign_simple_signing(&acme, &garbled, None).unwrap();
    let payload = fake.serve_blob("acme/garbled", &layer.payload);
    let config = fake.serve_blob("acme/garbled", b"{}");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": config},
        "layers": [{
            "mediaType": support::push::SIMPLE_SIGNING,
            "size": layer.payload.len(),
            "digest": payload,
            "annotations": {(pin_sigstore::SIGNATURE_ANNOTATION): "MEUCIQ==*not base64*"},
        }],
    });
    fake.serve_manifest(
        "acme/garbled",
        &format!("{}.sig", garbled.replace(':', "-")),
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    settings(dir.path(), &acme_rule(&host));
    let text = format!("FROM {host}/acme/attested:1\nFROM {host}/acme/garbled:1\n");
    fs::write(dir.path().join("Dockerfile"), &text).unwrap();

    let output = pin(dir.path(), &host, &["--write", "--format", "json", "."]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = json(&output);
    for (name, says) in [
        ("acme/attested", "not an image signature"),
        ("acme/garbled", "base64"),
    ] {
        let found = reference(&report, name);
        assert_eq!(found["status"], "violation", "{name}: {found:#}");
        assert_eq!(found["reason"], "unsigned", "{name}: {found:#}");
        assert_eq!(found["signature"]["verified"], false, "{name}: {found:#}");
        let error = found["error"].as_str().unwrap();
        assert!(error.contains(says), "{name}: {error}");
    }
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.contains(&format!("/v2/acme/attested/referrers/{attested}"))),
        "{:#?}",
        fake.requests()
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        text
    );
}
