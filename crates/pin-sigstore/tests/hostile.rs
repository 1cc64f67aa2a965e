//! Hostile and broken inputs: every one is refused with a typed error, none panics, and size
//! costs linear time.

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pin_sigstore::signing::{
    SigningKey, StandInSigstore, sign_simple_signing, simple_signing_payload,
};
use pin_sigstore::{
    Bundle, Identity, KeyError, LogError, Malformed, Policy, PublicKey, Signature, SimpleSigning,
    TrustedRoot, VerifyError, verify,
};
use serde_json::Value;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const RELEASE: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

fn check(
    signature: &Signature,
    digest: &str,
    key: &SigningKey,
) -> Result<pin_sigstore::Verdict, VerifyError> {
    let root = TrustedRoot::public_good();
    let keys = [key.public_key().unwrap()];
    verify(
        signature,
        digest,
        &Policy {
            keys: &keys,
            identities: &[],
            trusted_root: &root,
        },
    )
}

fn layer(payload: Vec<u8>, signature: String) -> Signature {
    Signature::SimpleSigning(SimpleSigning::new(payload, signature))
}

#[test]
fn a_signed_payload_naming_another_digest_is_refused() {
    let key = SigningKey::generate().unwrap();
    let signed = sign_simple_signing(&key, OTHER, None).unwrap();
    assert_eq!(
        check(
            &Signature::SimpleSigning(signed.to_simple_signing()),
            DIGEST,
            &key
        ),
        Err(VerifyError::WrongDigest {
            expected: DIGEST.into(),
            found: OTHER.into()
        })
    );
}

#[test]
fn a_valid_signature_over_other_bytes_is_refused() {
    let key = SigningKey::generate().unwrap();
    let signed = sign_simple_signing(&key, OTHER, None).unwrap();
    // The signature of the payload for OTHER, offered with a payload for DIGEST.
    let theirs = layer(
        simple_signing_payload(DIGEST, None),
        signed.annotations[0].1.clone(),
    );
    assert_eq!(
        check(&theirs, DIGEST, &key),
        Err(VerifyError::NoTrustedKey { keys: 1 })
    );
}

#[test]
fn a_signed_payload_of_another_type_is_not_a_signature() {
    let key = SigningKey::generate().unwrap();
    let payload = br#"{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"x"}}}"#.to_vec();
    let sig = STANDARD.encode(key.sign(&payload).unwrap());
    assert_eq!(
        check(&layer(payload, sig), DIGEST, &key),
        Err(VerifyError::NotASignature {
            kind: "atomic container signature".into()
        })
    );
}

#[test]
fn signed_garbage_payloads_are_malformed() {
    let key = SigningKey::generate().unwrap();
    for payload in [
        &b"not json"[..],
        b"[]",
        b"{}",
        br#"{"critical":{"type":"cosign container image signature"}}"#,
        br#"{"critical":"x"}"#,
    ] {
        let sig = STANDARD.encode(key.sign(payload).unwrap());
        let err = check(&layer(payload.to_vec(), sig), DIGEST, &key).unwrap_err();
        assert!(
            matches!(
                err,
                VerifyError::Malformed(Malformed {
                    part: "payload",
                    ..
                })
            ),
            "{err}"
        );
    }
}

#[test]
fn bad_base64_is_malformed_not_untrusted() {
    let key = SigningKey::generate().unwrap();
    for sig in ["", "!!!!", "MEUCIQ", "MEUCIQ==="] {
        let err = check(
            &layer(simple_signing_payload(DIGEST, None), sig.into()),
            DIGEST,
            &key,
        )
        .unwrap_err();
        if sig.is_empty() {
            // Empty base64 decodes to an empty signature: it verifies with no key.
            assert_eq!(err, VerifyError::NoTrustedKey { keys: 1 });
        } else {
            assert!(matches!(err, VerifyError::Malformed(_)), "{sig:?}: {err}");
            assert!(!err.is_untrusted_signer());
        }
    }
}

#[test]
fn a_layer_without_its_signature_annotation_is_malformed() {
    let err = SimpleSigning::from_layer(b"{}".to_vec(), [("other", "x")]).unwrap_err();
    assert_eq!(err.part, "signature layer");
}

#[test]
fn key_files_that_are_certificates_or_garbage_are_refused() {
    let sigstore = StandInSigstore::new().unwrap();
    assert_eq!(
        PublicKey::from_pem(&sigstore.ca_pem()),
        Err(KeyError::Certificate)
    );
    assert_eq!(
        PublicKey::from_pem("\u{0}\u{1}garbage"),
        Err(KeyError::NotPem)
    );
    let truncated = &SigningKey::generate().unwrap().public_key_pem()[..60];
    assert!(matches!(
        PublicKey::from_pem(truncated),
        Err(KeyError::BrokenPem(_))
    ));
}

#[test]
fn bundles_that_are_not_dsse_signatures_are_refused() {
    for json in [
        "",
        "{}",
        r#"{"mediaType":"application/json","verificationMaterial":{}}"#,
        r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{},"messageSignature":{"signature":"AA=="}}"#,
        r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{},"dsseEnvelope":{"payload":"","payloadType":"x","signatures":[]}}"#,
    ] {
        assert!(Bundle::from_json(json.as_bytes()).is_err(), "{json}");
    }
}

#[test]
fn garbage_certificates_are_refused_not_panicked_on() {
    let root = TrustedRoot::public_good();
    let ids = [Identity::exact(ISSUER, RELEASE)];
    let policy = Policy {
        keys: &[],
        identities: &ids,
        trusted_root: &root,
    };
    for cert in [
        "",
        "junk",
        "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
    ] {
        let signature = Signature::SimpleSigning(
            SimpleSigning::new(simple_signing_payload(DIGEST, None), "MEUCIQ==")
                .with_certificate(cert),
        );
        let err = verify(&signature, DIGEST, &policy).unwrap_err();
        assert!(
            matches!(err, VerifyError::Certificate(_) | VerifyError::Malformed(_)),
            "{err}"
        );
    }
}

#[test]
fn a_tampered_stand_in_proof_or_checkpoint_is_refused() {
    let sigstore = StandInSigstore::new().unwrap();
    let root = TrustedRoot::from_json(sigstore.trusted_root_json().as_bytes()).unwrap();
    let ids = [Identity::exact(ISSUER, RELEASE)];
    let policy = Policy {
        keys: &[],
        identities: &ids,
        trusted_root: &root,
    };
    let leaf = sigstore.issue(RELEASE, ISSUER, 1_750_000_000).unwrap();
    let good: Value =
        serde_json::from_str(&sigstore.sign_bundle(&leaf, DIGEST, 1_750_000_001).unwrap()).unwrap();
    let run = |json: &Value| {
        verify(
            &Signature::Bundle(Bundle::from_json(json.to_string().as_bytes()).unwrap()),
            DIGEST,
            &policy,
        )
    };
    assert!(run(&good).is_ok());
    let proof = "/verificationMaterial/tlogEntries/0/inclusionProof";
    let mut bad = good.clone();
    *bad.pointer_mut(&format!("{proof}/hashes/0")).unwrap() = STANDARD.encode([7u8; 32]).into();
    assert_eq!(
        run(&bad),
        Err(VerifyError::Log(LogError::BadInclusionProof))
    );
    let mut bad = good.clone();
    let envelope = bad
        .pointer_mut(&format!("{proof}/checkpoint/envelope"))
        .unwrap();
    let text = envelope.as_str().unwrap().replacen(" - 1\n", " - 2\n", 1);
    *envelope = text.into();
    assert!(matches!(
        run(&bad),
        Err(VerifyError::Log(LogError::BadCheckpoint(_)))
    ));
    // No SET: the inclusion proof alone proves no signing time.
    let mut bad = good.clone();
    bad.pointer_mut("/verificationMaterial/tlogEntries/0")
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("inclusionPromise");
    assert_eq!(run(&bad), Err(VerifyError::Log(LogError::NoSignedTime)));
}

/// Verifies a payload of `size` bytes (a long JSON string) and returns the time taken.
fn time_huge(size: usize) -> std::time::Duration {
    let key = SigningKey::generate().unwrap();
    let mut payload = simple_signing_payload(DIGEST, None);
    payload.pop();
    payload.extend_from_slice(b",\"pad\":\"");
    payload.extend(std::iter::repeat_n(b'a', size));
    payload.extend_from_slice(b"\"}");
    let sig = STANDARD.encode(key.sign(&payload).unwrap());
    let start = Instant::now();
    let result = check(&layer(payload, sig.repeat(1 + size / 4096)), DIGEST, &key);
    let elapsed = start.elapsed();
    assert!(result.is_err(), "a repeated signature is not a signature");
    elapsed
}

#[test]
fn huge_inputs_cost_linear_time() {
    let small = time_huge(1 << 20);
    let large = time_huge(16 << 20);
    // 16 times the bytes: a quadratic cost would be ~256 times slower.
    assert!(
        large < small * 64 + std::time::Duration::from_millis(200),
        "{small:?} → {large:?}"
    );
    let huge_bundle = format!(
        r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{"tlogEntries":[]}},"dsseEnvelope":{{"payload":"{}","payloadType":"application/vnd.in-toto+json","signatures":[{{"sig":"AA=="}}]}}}}"#,
        "A".repeat(16 << 20)
    );
    let bundle = Bundle::from_json(huge_bundle.as_bytes()).unwrap();
    let key = SigningKey::generate().unwrap();
    assert!(check(&Signature::Bundle(bundle), DIGEST, &key).is_err());
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Bundle::from_json(deep.as_bytes()).is_err());
    assert!(TrustedRoot::from_json(deep.as_bytes()).is_err());
}

#[test]
fn random_corruption_of_a_bundle_never_panics() {
    let sigstore = StandInSigstore::new().unwrap();
    let root = TrustedRoot::from_json(sigstore.trusted_root_json().as_bytes()).unwrap();
    let ids = [Identity::exact(ISSUER, RELEASE)];
    let policy = Policy {
        keys: &[],
        identities: &ids,
        trusted_root: &root,
    };
    let leaf = sigstore.issue(RELEASE, ISSUER, 1_750_000_000).unwrap();
    let good = sigstore
        .sign_bundle(&leaf, DIGEST, 1_750_000_001)
        .unwrap()
        .into_bytes();
    let expected = verify(
        &Signature::Bundle(Bundle::from_json(&good).unwrap()),
        DIGEST,
        &policy,
    )
    .unwrap();
    // A small deterministic generator: the same corruptions every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut refused = 0;
    for _ in 0..2000 {
        let mut bytes = good.clone();
        for _ in 0..=(next() % 4) {
            let i = (next() % bytes.len() as u64) as usize;
            bytes[i] = (next() & 0xff) as u8;
        }
        match Bundle::from_json(&bytes).map(|b| verify(&Signature::Bundle(b), DIGEST, &policy)) {
            // Some corruptions land in bytes no check reads (`kindVersion`, the envelope hash
            // nobody recomputes): they may pass, but never change who signed or when.
            Ok(Ok(verdict)) => assert_eq!(verdict, expected),
            _ => refused += 1,
        }
    }
    assert!(refused > 1500, "{refused}");
}

#[test]
fn a_bundle_offering_thousands_of_signatures_is_refused_before_checking_them() {
    let signature = r#"{"sig":"MEUCIQ=="}"#;
    let json = format!(
        r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{}},"dsseEnvelope":{{"payload":"","payloadType":"application/vnd.in-toto+json","signatures":[{}]}}}}"#,
        vec![signature; 10_000].join(",")
    );
    let err = Bundle::from_json(json.as_bytes()).unwrap_err();
    assert!(err.reason.contains("10000 DSSE signatures"), "{err}");
}

#[test]
fn a_trusted_key_signature_stands_beside_unreadable_keyless_annotations() {
    let key = SigningKey::generate().unwrap();
    let signed = sign_simple_signing(&key, DIGEST, None).unwrap();
    let layer = signed
        .to_simple_signing()
        .with_certificate("junk")
        .with_rekor_bundle("{not json");
    assert_eq!(
        check(&Signature::SimpleSigning(layer.clone()), DIGEST, &key),
        Ok(pin_sigstore::Verdict::Key {
            index: 0,
            signed_at: None
        })
    );
    // Without the key, the unreadable certificate is the reason.
    let other = SigningKey::generate().unwrap();
    let root = TrustedRoot::public_good();
    let ids = [Identity::exact(ISSUER, RELEASE)];
    let keys = [other.public_key().unwrap()];
    let err = verify(
        &Signature::SimpleSigning(layer),
        DIGEST,
        &Policy {
            keys: &keys,
            identities: &ids,
            trusted_root: &root,
        },
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Certificate(_)), "{err}");
}
