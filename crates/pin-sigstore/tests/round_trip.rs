//! Signing with the `signing` module and verifying with the crate: what pin's end-to-end tests
//! rely on, including the stand-in Sigstore for keyless signatures.

use pin_sigstore::signing::{SigningKey, StandInSigstore, key_bundle, sign_simple_signing};
use pin_sigstore::{
    Bundle, CertificateError, Identity, LogError, Policy, PublicKey, Signature, TrustedRoot,
    Verdict, VerifyError, verify,
};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const RELEASE: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
const LAPTOP: &str = "departed@example.com";
const AT: i64 = 1_750_000_000;

fn keys_policy<'a>(keys: &'a [PublicKey], root: &'a TrustedRoot) -> Policy<'a> {
    Policy {
        keys,
        identities: &[],
        trusted_root: root,
    }
}

#[test]
fn a_generated_key_is_read_back_from_its_pem() {
    let key = SigningKey::generate().unwrap();
    let pem = key.public_key_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert_eq!(
        PublicKey::from_pem(&pem).unwrap(),
        key.public_key().unwrap()
    );
}

#[test]
fn key_signatures_in_both_forms_verify_with_their_key_only() {
    let (signer, other) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let root = TrustedRoot::public_good();
    let layer = sign_simple_signing(&signer, DIGEST, Some("ghcr.io/acme/app")).unwrap();
    let bundle = Bundle::from_json(key_bundle(&signer, DIGEST).unwrap().as_bytes()).unwrap();
    assert!(!bundle.is_keyless());
    for signature in [
        Signature::SimpleSigning(layer.to_simple_signing()),
        Signature::Bundle(bundle),
    ] {
        let keys = [other.public_key().unwrap(), signer.public_key().unwrap()];
        assert_eq!(
            verify(&signature, DIGEST, &keys_policy(&keys, &root)),
            Ok(Verdict::Key {
                index: 1,
                signed_at: None
            })
        );
        let keys = [other.public_key().unwrap()];
        assert_eq!(
            verify(&signature, DIGEST, &keys_policy(&keys, &root)),
            Err(VerifyError::NoTrustedKey { keys: 1 })
        );
        let keys = [signer.public_key().unwrap()];
        assert!(matches!(
            verify(&signature, OTHER, &keys_policy(&keys, &root)),
            Err(VerifyError::WrongDigest { .. })
        ));
    }
}

fn keyless_policy<'a>(ids: &'a [Identity], root: &'a TrustedRoot) -> Policy<'a> {
    Policy {
        keys: &[],
        identities: ids,
        trusted_root: root,
    }
}

fn keyless_signatures(sigstore: &StandInSigstore, identity: &str, at: i64) -> [Signature; 2] {
    let leaf = sigstore.issue(identity, ISSUER, at).unwrap();
    let layer = sigstore
        .sign_simple_signing(&leaf, DIGEST, Some("ghcr.io/acme/app"), at + 5)
        .unwrap();
    let bundle = sigstore.sign_bundle(&leaf, DIGEST, at + 5).unwrap();
    [
        Signature::SimpleSigning(layer.to_simple_signing()),
        Signature::Bundle(Bundle::from_json(bundle.as_bytes()).unwrap()),
    ]
}

#[test]
fn keyless_signatures_from_the_stand_in_verify_with_its_root() {
    let sigstore = StandInSigstore::new().unwrap();
    let root = TrustedRoot::from_json(sigstore.trusted_root_json().as_bytes()).unwrap();
    let ids = [Identity::exact(ISSUER, RELEASE)];
    for signature in keyless_signatures(&sigstore, RELEASE, AT) {
        let Verdict::Keyless(signer) =
            verify(&signature, DIGEST, &keyless_policy(&ids, &root)).unwrap()
        else {
            panic!("not keyless")
        };
        assert_eq!(signer.identity, RELEASE);
        assert_eq!(signer.issuer.as_deref(), Some(ISSUER));
        assert_eq!(signer.signed_at, AT + 5);
    }
}

#[test]
fn the_hijack_another_identity_is_an_untrusted_signer() {
    let sigstore = StandInSigstore::new().unwrap();
    let root = TrustedRoot::from_json(sigstore.trusted_root_json().as_bytes()).unwrap();
    let ids = [Identity::regex(
        ISSUER,
        r"https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/heads/main",
    )
    .unwrap()];
    for signature in keyless_signatures(&sigstore, LAPTOP, AT) {
        assert_eq!(
            verify(&signature, DIGEST, &keyless_policy(&ids, &root)),
            Err(VerifyError::UntrustedIdentity {
                identity: LAPTOP.into(),
                issuer: Some(ISSUER.into())
            })
        );
    }
}

#[test]
fn another_sigstore_or_the_public_good_root_does_not_vouch_for_the_stand_in() {
    let sigstore = StandInSigstore::new().unwrap();
    let impostor = StandInSigstore::new().unwrap();
    let ids = [Identity::exact(ISSUER, RELEASE)];
    for root in [
        TrustedRoot::from_json(impostor.trusted_root_json().as_bytes()).unwrap(),
        TrustedRoot::public_good(),
    ] {
        for signature in keyless_signatures(&sigstore, RELEASE, AT) {
            let err = verify(&signature, DIGEST, &keyless_policy(&ids, &root)).unwrap_err();
            assert!(
                matches!(err, VerifyError::Log(LogError::UnknownLog { .. })),
                "{err}"
            );
        }
    }
}

#[test]
fn a_signature_logged_after_the_certificate_expired_is_refused() {
    let sigstore = StandInSigstore::new().unwrap();
    let root = TrustedRoot::from_json(sigstore.trusted_root_json().as_bytes()).unwrap();
    let ids = [Identity::exact(ISSUER, RELEASE)];
    let leaf = sigstore.issue(RELEASE, ISSUER, AT).unwrap();
    let late = sigstore
        .sign_simple_signing(&leaf, DIGEST, None, AT + 601)
        .unwrap();
    let err = verify(
        &Signature::SimpleSigning(late.to_simple_signing()),
        DIGEST,
        &keyless_policy(&ids, &root),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Certificate(CertificateError::NotValidAt { .. })
        ),
        "{err}"
    );
}

#[test]
fn a_leaf_from_another_ca_with_the_right_log_is_refused() {
    // The log is ours, the certificate is the impostor's: the chain check must catch it even
    // though the entry is properly logged.
    let sigstore = StandInSigstore::new().unwrap();
    let impostor = StandInSigstore::new().unwrap();
    let root = TrustedRoot::from_json(sigstore.trusted_root_json().as_bytes()).unwrap();
    let ids = [Identity::exact(ISSUER, RELEASE)];
    let leaf = impostor.issue(RELEASE, ISSUER, AT).unwrap();
    let bundle = sigstore.sign_bundle(&leaf, DIGEST, AT + 1).unwrap();
    let err = verify(
        &Signature::Bundle(Bundle::from_json(bundle.as_bytes()).unwrap()),
        DIGEST,
        &keyless_policy(&ids, &root),
    )
    .unwrap_err();
    assert_eq!(
        err,
        VerifyError::Certificate(CertificateError::UntrustedIssuer { at: AT + 1 })
    );
}

#[test]
fn keys_and_identities_together_accept_either() {
    let sigstore = StandInSigstore::new().unwrap();
    let root = TrustedRoot::from_json(sigstore.trusted_root_json().as_bytes()).unwrap();
    let key = SigningKey::generate().unwrap();
    let keys = [key.public_key().unwrap()];
    let ids = [Identity::exact(ISSUER, RELEASE)];
    let policy = Policy {
        keys: &keys,
        identities: &ids,
        trusted_root: &root,
    };
    let keyed = sign_simple_signing(&key, DIGEST, None).unwrap();
    assert_eq!(
        verify(
            &Signature::SimpleSigning(keyed.to_simple_signing()),
            DIGEST,
            &policy
        ),
        Ok(Verdict::Key {
            index: 0,
            signed_at: None
        })
    );
    for signature in keyless_signatures(&sigstore, RELEASE, AT) {
        assert!(matches!(
            verify(&signature, DIGEST, &policy),
            Ok(Verdict::Keyless(_))
        ));
    }
}

#[test]
fn a_genuine_log_entry_of_another_signature_is_refused() {
    // Both entries are properly logged, but each proves the other's signature.
    let sigstore = StandInSigstore::new().unwrap();
    let root = TrustedRoot::from_json(sigstore.trusted_root_json().as_bytes()).unwrap();
    let ids = [Identity::exact(ISSUER, RELEASE)];
    let leaf = sigstore.issue(RELEASE, ISSUER, AT).unwrap();
    let mine = sigstore
        .sign_simple_signing(&leaf, DIGEST, None, AT + 1)
        .unwrap();
    let other = sigstore
        .sign_simple_signing(&leaf, OTHER, None, AT + 2)
        .unwrap();
    let mut swapped = mine.clone();
    swapped.annotations[3] = other.annotations[3].clone();
    assert_eq!(swapped.annotations[3].0, pin_sigstore::BUNDLE_ANNOTATION);
    let err = verify(
        &Signature::SimpleSigning(swapped.to_simple_signing()),
        DIGEST,
        &keyless_policy(&ids, &root),
    )
    .unwrap_err();
    assert!(
        matches!(err, VerifyError::Log(LogError::EntryMismatch(_))),
        "{err}"
    );
}

#[test]
fn a_logged_key_signature_is_dated_by_its_log_entry() {
    let sigstore = StandInSigstore::new().unwrap();
    let root = TrustedRoot::from_json(sigstore.trusted_root_json().as_bytes()).unwrap();
    let (key, other) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let keys = [key.public_key().unwrap()];
    let logged = sigstore
        .sign_simple_signing_with_key(&key, DIGEST, None, AT)
        .unwrap();
    assert_eq!(
        verify(
            &Signature::SimpleSigning(logged.to_simple_signing()),
            DIGEST,
            &keys_policy(&keys, &root)
        ),
        Ok(Verdict::Key {
            index: 0,
            signed_at: Some(AT)
        })
    );
    // Under a root that does not list the log, the signature still verifies, undated.
    let public_good = TrustedRoot::public_good();
    assert_eq!(
        verify(
            &Signature::SimpleSigning(logged.to_simple_signing()),
            DIGEST,
            &keys_policy(&keys, &public_good)
        ),
        Ok(Verdict::Key {
            index: 0,
            signed_at: None
        })
    );
    // An entry that logs another key's signature does not date this one.
    let theirs = sigstore
        .sign_simple_signing_with_key(&other, DIGEST, None, AT + 9)
        .unwrap();
    let mut mixed = logged.clone();
    mixed.annotations[1] = theirs.annotations[1].clone();
    assert_eq!(
        verify(
            &Signature::SimpleSigning(mixed.to_simple_signing()),
            DIGEST,
            &keys_policy(&keys, &root)
        ),
        Ok(Verdict::Key {
            index: 0,
            signed_at: None
        })
    );
}
