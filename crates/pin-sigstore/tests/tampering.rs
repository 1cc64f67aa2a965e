//! Every byte of a real keyless signature matters: change any byte of the payload, the
//! signature, the certificate or the log entry and the signature is refused, never accepted
//! and never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pin_sigstore::{
    Bundle, Identity, Policy, Signature, SimpleSigning, TrustedRoot, VerifyError, verify,
};
use serde_json::Value;

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn text(path: &str) -> String {
    String::from_utf8(fixture(path)).unwrap()
}

const KEYLESS: &str = "rs-keyless-2021-disallow-service-nodeport";
const KEYLESS_DIGEST: &str =
    "sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e";
const BUNDLE: &str = "rs-bundle-v03-kubewarden-controller";
const BUNDLE_DIGEST: &str =
    "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";

/// `bytes` with bit 0 of byte `i` flipped.
fn flipped(bytes: &[u8], i: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[i] ^= 1;
    out
}

fn pem_cert(der: &[u8]) -> String {
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        STANDARD.encode(der)
    )
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

/// Refused for being invalid: not accepted, and not mistaken for a valid signature by
/// someone else.
fn assert_refused(result: Result<pin_sigstore::Verdict, VerifyError>, what: &str) {
    match result {
        Ok(v) => panic!("{what}: accepted as {v:?}"),
        Err(e) => assert!(!e.is_untrusted_signer(), "{what}: {e}"),
    }
}

struct Layer {
    payload: Vec<u8>,
    signature: Vec<u8>,
    certificate: Vec<u8>,
    rekor: Value,
}

impl Layer {
    fn original() -> Self {
        Self {
            payload: fixture(&format!("{KEYLESS}/payload.json")),
            signature: STANDARD
                .decode(text(&format!("{KEYLESS}/signature.b64")).trim())
                .unwrap(),
            certificate: pem_der(&text(&format!("{KEYLESS}/cert.pem"))),
            rekor: serde_json::from_slice(&fixture(&format!("{KEYLESS}/rekor-bundle.json")))
                .unwrap(),
        }
    }

    fn verify(&self) -> Result<pin_sigstore::Verdict, VerifyError> {
        let root =
            TrustedRoot::from_json(&fixture(&format!("{KEYLESS}/trusted_root.json"))).unwrap();
        let ids = [Identity::exact("-", "flavio@castelli.me").without_issuer()];
        let layer = SimpleSigning::new(self.payload.clone(), STANDARD.encode(&self.signature))
            .with_certificate(pem_cert(&self.certificate))
            .with_rekor_bundle(self.rekor.to_string());
        verify(
            &Signature::SimpleSigning(layer),
            KEYLESS_DIGEST,
            &Policy {
                keys: &[],
                identities: &ids,
                trusted_root: &root,
            },
        )
    }
}

#[test]
fn keyless_simple_signing_refuses_every_changed_byte() {
    assert!(Layer::original().verify().is_ok(), "the original verifies");
    let original = Layer::original();
    for i in 0..original.payload.len() {
        let mut l = Layer::original();
        l.payload = flipped(&original.payload, i);
        assert_refused(l.verify(), &format!("payload byte {i}"));
    }
    for i in 0..original.signature.len() {
        let mut l = Layer::original();
        l.signature = flipped(&original.signature, i);
        assert_refused(l.verify(), &format!("signature byte {i}"));
    }
    for i in 0..original.certificate.len() {
        let mut l = Layer::original();
        l.certificate = flipped(&original.certificate, i);
        assert_refused(l.verify(), &format!("certificate byte {i}"));
    }
    let body = STANDARD
        .decode(original.rekor["Payload"]["body"].as_str().unwrap())
        .unwrap();
    for i in 0..body.len() {
        let mut l = Layer::original();
        l.rekor["Payload"]["body"] = STANDARD.encode(flipped(&body, i)).into();
        assert_refused(l.verify(), &format!("log body byte {i}"));
    }
    let set = STANDARD
        .decode(original.rekor["SignedEntryTimestamp"].as_str().unwrap())
        .unwrap();
    for i in 0..set.len() {
        let mut l = Layer::original();
        l.rekor["SignedEntryTimestamp"] = STANDARD.encode(flipped(&set, i)).into();
        assert_refused(l.verify(), &format!("SET byte {i}"));
    }
    let log_id = original.rekor["Payload"]["logID"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..log_id.len() {
        let mut l = Layer::original();
        let mut id = log_id.clone().into_bytes();
        id[i] = if id[i] == b'0' { b'1' } else { b'0' };
        l.rekor["Payload"]["logID"] = String::from_utf8(id).unwrap().into();
        assert_refused(l.verify(), &format!("log ID digit {i}"));
    }
    for field in ["integratedTime", "logIndex"] {
        for delta in [-1, 1, 3600] {
            let mut l = Layer::original();
            let v = l.rekor["Payload"][field].as_i64().unwrap();
            l.rekor["Payload"][field] = (v + delta).into();
            assert_refused(l.verify(), &format!("{field} {delta:+}"));
        }
    }
}

fn bundle_json() -> Value {
    serde_json::from_slice(&fixture(&format!("{BUNDLE}/bundle.sigstore.json"))).unwrap()
}

fn verify_bundle(json: &Value) -> Result<pin_sigstore::Verdict, VerifyError> {
    let root = TrustedRoot::from_json(&fixture(&format!("{BUNDLE}/trusted_root.json"))).unwrap();
    let ids = [Identity::exact(
        "https://token.actions.githubusercontent.com",
        "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0",
    )];
    let bundle = Bundle::from_json(json.to_string().as_bytes())?;
    verify(
        &Signature::Bundle(bundle),
        BUNDLE_DIGEST,
        &Policy {
            keys: &[],
            identities: &ids,
            trusted_root: &root,
        },
    )
}

/// Flips every byte of the base64 field at `pointer` in turn.
fn flip_each_byte_of(pointer: &str) {
    let original = bundle_json();
    let bytes = STANDARD
        .decode(original.pointer(pointer).unwrap().as_str().unwrap())
        .unwrap();
    for i in 0..bytes.len() {
        let mut json = original.clone();
        *json.pointer_mut(pointer).unwrap() = STANDARD.encode(flipped(&bytes, i)).into();
        assert_refused(verify_bundle(&json), &format!("{pointer} byte {i}"));
    }
}

#[test]
fn bundle_verifies_untouched() {
    assert!(verify_bundle(&bundle_json()).is_ok());
}

#[test]
fn bundle_refuses_every_changed_byte_of_payload_and_signature() {
    flip_each_byte_of("/dsseEnvelope/payload");
    flip_each_byte_of("/dsseEnvelope/signatures/0/sig");
}

#[test]
fn bundle_refuses_every_changed_byte_of_the_certificate() {
    flip_each_byte_of("/verificationMaterial/certificate/rawBytes");
}

#[test]
fn bundle_refuses_every_changed_byte_of_the_log_entry() {
    let entry = "/verificationMaterial/tlogEntries/0";
    flip_each_byte_of(&format!("{entry}/canonicalizedBody"));
    flip_each_byte_of(&format!("{entry}/inclusionPromise/signedEntryTimestamp"));
    flip_each_byte_of(&format!("{entry}/logId/keyId"));
    flip_each_byte_of(&format!("{entry}/inclusionProof/rootHash"));
    for h in 0..18 {
        flip_each_byte_of(&format!("{entry}/inclusionProof/hashes/{h}"));
    }
}

#[test]
fn bundle_refuses_changed_log_numbers_and_checkpoint() {
    let entry = "/verificationMaterial/tlogEntries/0";
    for field in [
        "logIndex",
        "integratedTime",
        "inclusionProof/logIndex",
        "inclusionProof/treeSize",
    ] {
        for delta in [-1i64, 1] {
            let mut json = bundle_json();
            let slot = json.pointer_mut(&format!("{entry}/{field}")).unwrap();
            let v: i64 = slot.as_str().unwrap().parse().unwrap();
            *slot = (v + delta).to_string().into();
            assert_refused(verify_bundle(&json), &format!("{field} {delta:+}"));
        }
    }
    let pointer = format!("{entry}/inclusionProof/checkpoint/envelope");
    let original = bundle_json();
    let checkpoint = original
        .pointer(&pointer)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..checkpoint.len() {
        if !checkpoint.is_char_boundary(i) || !checkpoint.is_char_boundary(i + 1) {
            continue;
        }
        let mut bytes = checkpoint.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let Ok(changed) = String::from_utf8(bytes) else {
            continue;
        };
        let mut json = original.clone();
        *json.pointer_mut(&pointer).unwrap() = changed.into();
        assert_refused(verify_bundle(&json), &format!("checkpoint byte {i}"));
    }
}

#[test]
fn bundle_refuses_every_changed_byte_of_the_signed_part_of_its_timestamp() {
    let pointer =
        "/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0/signedTimestamp";
    let original = bundle_json();
    let token = STANDARD
        .decode(original.pointer(pointer).unwrap().as_str().unwrap())
        .unwrap();
    let mut passed = Vec::new();
    for i in 0..token.len() {
        let mut json = original.clone();
        *json.pointer_mut(pointer).unwrap() = STANDARD.encode(flipped(&token, i)).into();
        if verify_bundle(&json).is_ok() {
            passed.push(i);
        }
    }
    // Only bytes outside what the authority signs may change unnoticed: the status and
    // version numbers, the digest-algorithm list, the signer's identifier (the signature is
    // checked with each listed authority's key instead), the signature algorithm's NULL.
    assert!(
        passed
            .iter()
            .all(|&i| !(69..237).contains(&i) && !(346..601).contains(&i) && i < 613),
        "{passed:?}"
    );
}
