//! Real signatures made by cosign and Sigstore (tests/fixtures/README.md), verified offline.

use pin_sigstore::{
    Bundle, CertificateError, Identity, LogError, Policy, PublicKey, Signature, SimpleSigning,
    TrustedRoot, Verdict, VerifyError, verify,
};

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(path: &str) -> String {
    String::from_utf8(fixture(path)).unwrap()
}

const ECDSA: &str = "rs-keyed-ecdsa-busybox";
const ECDSA_DIGEST: &str =
    "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";
const RSA: &str = "rs-keyed-rsa-suse-toolbox";
const RSA_DIGEST: &str = "sha256:356631f7603526a0af827741f5fe005acf19b7ef7705a34241a91c2d47a6db5e";
const KEYLESS: &str = "rs-keyless-2021-disallow-service-nodeport";
const KEYLESS_DIGEST: &str =
    "sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e";
const KEYLESS_EMAIL: &str = "flavio@castelli.me";
const BUNDLE: &str = "rs-bundle-v03-kubewarden-controller";
const BUNDLE_DIGEST: &str =
    "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const BUNDLE_IDENTITY: &str = "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
const GITHUB: &str = "https://token.actions.githubusercontent.com";
const ATTESTATION: &str = "cosign-oci-attestation-bundle";
const ATTESTATION_DIGEST: &str =
    "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";

fn key(set: &str) -> PublicKey {
    PublicKey::from_pem(&text(&format!("{set}/cosign.pub"))).unwrap()
}

fn keyed(set: &str) -> Signature {
    Signature::SimpleSigning(SimpleSigning::new(
        fixture(&format!("{set}/payload.json")),
        text(&format!("{set}/signature.b64")),
    ))
}

fn root(set: &str) -> TrustedRoot {
    TrustedRoot::from_json(&fixture(&format!("{set}/trusted_root.json"))).unwrap()
}

fn keyless_layer() -> SimpleSigning {
    SimpleSigning::new(
        fixture(&format!("{KEYLESS}/payload.json")),
        text(&format!("{KEYLESS}/signature.b64")),
    )
    .with_certificate(text(&format!("{KEYLESS}/cert.pem")))
    .with_rekor_bundle(text(&format!("{KEYLESS}/rekor-bundle.json")))
}

fn keys_only<'a>(keys: &'a [PublicKey], root: &'a TrustedRoot) -> Policy<'a> {
    Policy {
        keys,
        identities: &[],
        trusted_root: root,
    }
}

#[test]
fn ecdsa_and_rsa_sets_verify_with_their_keys() {
    let root = TrustedRoot::public_good();
    for (set, digest) in [(ECDSA, ECDSA_DIGEST), (RSA, RSA_DIGEST)] {
        let keys = [key(set)];
        assert_eq!(
            verify(&keyed(set), digest, &keys_only(&keys, &root)),
            Ok(Verdict::Key {
                index: 0,
                signed_at: None
            }),
            "{set}"
        );
    }
}

#[test]
fn the_accepting_key_is_named_by_its_index() {
    let root = TrustedRoot::public_good();
    let keys = [key(RSA), key(ECDSA)];
    assert_eq!(
        verify(&keyed(ECDSA), ECDSA_DIGEST, &keys_only(&keys, &root)),
        Ok(Verdict::Key {
            index: 1,
            signed_at: None
        })
    );
}

#[test]
fn each_key_set_fails_with_the_other_key() {
    let root = TrustedRoot::public_good();
    for (set, digest, other) in [(ECDSA, ECDSA_DIGEST, RSA), (RSA, RSA_DIGEST, ECDSA)] {
        let keys = [key(other)];
        let err = verify(&keyed(set), digest, &keys_only(&keys, &root)).unwrap_err();
        assert_eq!(err, VerifyError::NoTrustedKey { keys: 1 }, "{set}");
        assert!(err.is_untrusted_signer());
    }
}

#[test]
fn a_key_signature_for_another_digest_is_refused_as_wrong_digest() {
    let root = TrustedRoot::public_good();
    let keys = [key(ECDSA)];
    let err = verify(&keyed(ECDSA), RSA_DIGEST, &keys_only(&keys, &root)).unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongDigest {
            expected: RSA_DIGEST.into(),
            found: ECDSA_DIGEST.into()
        }
    );
    assert!(!err.is_untrusted_signer());
}

fn keyless_policy<'a>(identities: &'a [Identity], root: &'a TrustedRoot) -> Policy<'a> {
    Policy {
        keys: &[],
        identities,
        trusted_root: root,
    }
}

#[test]
fn keyless_simple_signing_verifies_with_its_identity() {
    let root = root(KEYLESS);
    let ids = [Identity::exact(GITHUB, KEYLESS_EMAIL).without_issuer()];
    let verdict = verify(
        &Signature::SimpleSigning(keyless_layer()),
        KEYLESS_DIGEST,
        &keyless_policy(&ids, &root),
    )
    .unwrap();
    let Verdict::Keyless(signer) = verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(signer.identity, KEYLESS_EMAIL);
    assert_eq!(signer.issuer, None);
    assert_eq!(signer.signed_at, 1_634_714_717);
    assert_eq!(signer.log_index, 783_607);
}

#[test]
fn keyless_simple_signing_fails_with_another_identity_or_issuer() {
    let root = root(KEYLESS);
    let layer = Signature::SimpleSigning(keyless_layer());
    let other_name = [Identity::exact(GITHUB, "mallory@example.com").without_issuer()];
    let err = verify(&layer, KEYLESS_DIGEST, &keyless_policy(&other_name, &root)).unwrap_err();
    assert_eq!(
        err,
        VerifyError::UntrustedIdentity {
            identity: KEYLESS_EMAIL.into(),
            issuer: None
        }
    );
    assert!(err.is_untrusted_signer());
    // The leaf records no issuer: an identity that requires one does not match it.
    let with_issuer = [Identity::exact(
        "https://github.com/login/oauth",
        KEYLESS_EMAIL,
    )];
    let err = verify(&layer, KEYLESS_DIGEST, &keyless_policy(&with_issuer, &root)).unwrap_err();
    assert!(err.is_untrusted_signer(), "{err}");
}

#[test]
fn keyless_without_a_keyless_rule_is_an_untrusted_signer() {
    let root = root(KEYLESS);
    let keys = [key(ECDSA)];
    let err = verify(
        &Signature::SimpleSigning(keyless_layer()),
        KEYLESS_DIGEST,
        &keys_only(&keys, &root),
    )
    .unwrap_err();
    assert_eq!(err, VerifyError::KeylessNotTrusted);
}

#[test]
fn keyless_needs_the_log_entry_and_a_root_that_lists_its_ca_and_log() {
    let ids = [Identity::exact(GITHUB, KEYLESS_EMAIL).without_issuer()];
    let no_bundle = SimpleSigning::new(
        fixture(&format!("{KEYLESS}/payload.json")),
        text(&format!("{KEYLESS}/signature.b64")),
    )
    .with_certificate(text(&format!("{KEYLESS}/cert.pem")));
    let root = root(KEYLESS);
    assert_eq!(
        verify(
            &Signature::SimpleSigning(no_bundle),
            KEYLESS_DIGEST,
            &keyless_policy(&ids, &root)
        ),
        Err(VerifyError::Log(LogError::NoEntry))
    );
    // A root with the Fulcio CAs but another log key: the SET proves nothing.
    let mut json: serde_json::Value =
        serde_json::from_slice(&fixture(&format!("{KEYLESS}/trusted_root.json"))).unwrap();
    json["tlogs"][0]["logId"]["keyId"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let other_log = TrustedRoot::from_json(json.to_string().as_bytes()).unwrap();
    let err = verify(
        &Signature::SimpleSigning(keyless_layer()),
        KEYLESS_DIGEST,
        &keyless_policy(&ids, &other_log),
    )
    .unwrap_err();
    assert!(
        matches!(err, VerifyError::Log(LogError::UnknownLog { .. })),
        "{err}"
    );
    // Without the 2021 Fulcio CA, no authority of the root issued the leaf.
    let mut json: serde_json::Value =
        serde_json::from_slice(&fixture(&format!("{KEYLESS}/trusted_root.json"))).unwrap();
    json["certificateAuthorities"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    let no_ca = TrustedRoot::from_json(json.to_string().as_bytes()).unwrap();
    let err = verify(
        &Signature::SimpleSigning(keyless_layer()),
        KEYLESS_DIGEST,
        &keyless_policy(&ids, &no_ca),
    )
    .unwrap_err();
    assert_eq!(
        err,
        VerifyError::Certificate(CertificateError::UntrustedIssuer { at: 1_634_714_717 })
    );
}

fn bundle(set: &str) -> Signature {
    Signature::Bundle(Bundle::from_json(&fixture(&format!("{set}/bundle.sigstore.json"))).unwrap())
}

#[test]
fn cosign_v3_bundle_verifies_with_its_identity_and_issuer() {
    let root = root(BUNDLE);
    let ids = [Identity::exact(GITHUB, BUNDLE_IDENTITY)];
    let Verdict::Keyless(signer) =
        verify(&bundle(BUNDLE), BUNDLE_DIGEST, &keyless_policy(&ids, &root)).unwrap()
    else {
        panic!("not keyless")
    };
    assert_eq!(signer.identity, BUNDLE_IDENTITY);
    assert_eq!(signer.issuer.as_deref(), Some(GITHUB));
    assert_eq!(signer.signed_at, 1_775_719_409);
    assert_eq!(signer.rule, 0);
}

#[test]
fn cosign_v3_bundle_matches_an_identity_regex_and_the_shipped_root() {
    let root = TrustedRoot::public_good();
    let ids = [
        Identity::exact(
            GITHUB,
            "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main",
        ),
        Identity::regex(
            GITHUB,
            r"https://github\.com/kubewarden/[^/]+/\.github/workflows/release\.yml@refs/tags/v.*",
        )
        .unwrap(),
    ];
    assert!(ids[1].was_anchored());
    let Verdict::Keyless(signer) =
        verify(&bundle(BUNDLE), BUNDLE_DIGEST, &keyless_policy(&ids, &root)).unwrap()
    else {
        panic!("not keyless")
    };
    assert_eq!(signer.rule, 1);
}

#[test]
fn an_identity_regex_must_match_the_whole_name() {
    let root = root(BUNDLE);
    // Unanchored, this would match inside the real name; anchored, it does not.
    let ids = [Identity::regex(GITHUB, "github.com/kubewarden").unwrap()];
    let err = verify(&bundle(BUNDLE), BUNDLE_DIGEST, &keyless_policy(&ids, &root)).unwrap_err();
    assert!(err.is_untrusted_signer(), "{err}");
}

#[test]
fn cosign_v3_bundle_fails_with_another_identity_or_issuer() {
    let root = root(BUNDLE);
    for ids in [
        [Identity::exact(
            GITHUB,
            "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.35.0",
        )],
        [Identity::exact(
            "https://accounts.google.com",
            BUNDLE_IDENTITY,
        )],
    ] {
        let err = verify(&bundle(BUNDLE), BUNDLE_DIGEST, &keyless_policy(&ids, &root)).unwrap_err();
        assert_eq!(
            err,
            VerifyError::UntrustedIdentity {
                identity: BUNDLE_IDENTITY.into(),
                issuer: Some(GITHUB.into())
            }
        );
    }
}

#[test]
fn cosign_v3_bundle_for_another_digest_is_refused() {
    let root = root(BUNDLE);
    let ids = [Identity::exact(GITHUB, BUNDLE_IDENTITY)];
    let err = verify(&bundle(BUNDLE), ECDSA_DIGEST, &keyless_policy(&ids, &root)).unwrap_err();
    assert!(matches!(err, VerifyError::WrongDigest { .. }), "{err}");
}

#[test]
fn the_attestation_bundle_is_not_a_signature() {
    let root = root(ATTESTATION);
    let ids = [Identity::exact(
        "https://github.com/login/oauth",
        "cody@soyland.com",
    )];
    let err = verify(
        &bundle(ATTESTATION),
        ATTESTATION_DIGEST,
        &keyless_policy(&ids, &root),
    )
    .unwrap_err();
    assert_eq!(
        err,
        VerifyError::NotASignature {
            kind: "in-toto predicate type https://cosign.sigstore.dev/attestation/v1".into()
        }
    );
    assert!(!err.is_untrusted_signer());
}

#[test]
fn the_shipped_root_is_the_newest_fixture_root() {
    assert_eq!(
        TrustedRoot::public_good_json().as_bytes(),
        fixture(&format!("{BUNDLE}/trusted_root.json")).as_slice()
    );
    assert_eq!(TrustedRoot::public_good().counts(), (2, 2, 1));
}

fn bundle_json(set: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(&format!("{set}/bundle.sigstore.json"))).unwrap()
}

fn verify_bundle_json(json: &serde_json::Value) -> Result<Verdict, VerifyError> {
    let root = root(BUNDLE);
    let ids = [Identity::exact(GITHUB, BUNDLE_IDENTITY)];
    let bundle = Bundle::from_json(json.to_string().as_bytes())?;
    verify(
        &Signature::Bundle(bundle),
        BUNDLE_DIGEST,
        &keyless_policy(&ids, &root),
    )
}

#[test]
fn without_its_set_the_bundle_is_timed_by_its_rfc3161_timestamp() {
    let mut json = bundle_json(BUNDLE);
    json["verificationMaterial"]["tlogEntries"][0]
        .as_object_mut()
        .unwrap()
        .remove("inclusionPromise");
    let Verdict::Keyless(signer) = verify_bundle_json(&json).unwrap() else {
        panic!("not keyless")
    };
    // genTime 2026-04-09T07:23:29Z, the same second Rekor integrated the entry.
    assert_eq!(signer.signed_at, 1_775_719_409);
}

#[test]
fn without_set_or_timestamp_no_signing_time_is_proved() {
    let mut json = bundle_json(BUNDLE);
    json["verificationMaterial"]["tlogEntries"][0]
        .as_object_mut()
        .unwrap()
        .remove("inclusionPromise");
    json["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("timestampVerificationData");
    assert_eq!(
        verify_bundle_json(&json),
        Err(VerifyError::Log(LogError::NoSignedTime))
    );
}

#[test]
fn a_timestamp_from_an_authority_the_root_does_not_list_is_refused() {
    let mut root_json: serde_json::Value =
        serde_json::from_slice(&fixture(&format!("{BUNDLE}/trusted_root.json"))).unwrap();
    root_json["timestampAuthorities"] = serde_json::json!([]);
    let root = TrustedRoot::from_json(root_json.to_string().as_bytes()).unwrap();
    let ids = [Identity::exact(GITHUB, BUNDLE_IDENTITY)];
    let err = verify(&bundle(BUNDLE), BUNDLE_DIGEST, &keyless_policy(&ids, &root)).unwrap_err();
    assert!(matches!(err, VerifyError::Timestamp(_)), "{err}");
}
