//! Rekor proofs: the signed entry timestamp (SET), the RFC 6962 inclusion proof with its
//! signed checkpoint, and whether the logged entry is about this very signature.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;

use crate::certificate::Cert;
use crate::error::{LogError, Malformed};
use crate::key::PublicKey;
use crate::pem;
use crate::trusted_root::TrustedRoot;

/// One transparency-log entry as a signature carries it.
#[derive(Debug, Clone)]
pub(crate) struct LogEntry {
    /// The canonicalized entry body, decoded.
    pub(crate) body: Vec<u8>,
    pub(crate) integrated_time: Option<i64>,
    pub(crate) log_index: i64,
    pub(crate) log_id: Vec<u8>,
    pub(crate) signed_entry_timestamp: Option<Vec<u8>>,
    pub(crate) inclusion_proof: Option<InclusionProof>,
}

/// An RFC 6962 audit path from the entry to a signed tree head.
#[derive(Debug, Clone)]
pub(crate) struct InclusionProof {
    pub(crate) log_index: u64,
    pub(crate) tree_size: u64,
    pub(crate) root_hash: Vec<u8>,
    pub(crate) hashes: Vec<Vec<u8>>,
    pub(crate) checkpoint: String,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest(&SHA256, bytes).as_ref())
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

pub(crate) fn base64(text: &str, part: &'static str) -> Result<Vec<u8>, Malformed> {
    STANDARD
        .decode(text.trim())
        .map_err(|e| Malformed::new(part, format!("not base64: {e}")))
}

/// cosign v2's `dev.sigstore.cosign/bundle` annotation.
#[derive(Deserialize)]
struct CosignRekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    payload: CosignRekorPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CosignRekorPayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

impl LogEntry {
    /// Reads cosign v2's `dev.sigstore.cosign/bundle` annotation (a Rekor SET).
    pub(crate) fn from_cosign_annotation(json: &str) -> Result<Self, Malformed> {
        const PART: &str = "dev.sigstore.cosign/bundle";
        let bundle: CosignRekorBundle =
            serde_json::from_str(json).map_err(|e| Malformed::new(PART, e.to_string()))?;
        let p = bundle.payload;
        Ok(Self {
            body: base64(&p.body, PART)?,
            integrated_time: Some(p.integrated_time),
            log_index: p.log_index,
            log_id: unhex(&p.log_id).ok_or_else(|| Malformed::new(PART, "logID is not hex"))?,
            signed_entry_timestamp: Some(base64(&bundle.signed_entry_timestamp, PART)?),
            inclusion_proof: None,
        })
    }

    /// Proves the entry with a log of `root`: its SET and its inclusion proof, whichever it
    /// has. Returns the integrated time when the SET proves one (only the SET signs it).
    pub(crate) fn prove(&self, root: &TrustedRoot) -> Result<Option<i64>, LogError> {
        let log = root.log(&self.log_id).ok_or_else(|| LogError::UnknownLog {
            log_id: hex(&self.log_id),
        })?;
        let time = match &self.signed_entry_timestamp {
            Some(set) => Some(self.prove_set(log, set)?),
            None => None,
        };
        match &self.inclusion_proof {
            Some(proof) => proof.verify(&self.body, log)?,
            None if time.is_none() => return Err(LogError::NoProof),
            None => {}
        }
        Ok(time)
    }

    fn prove_set(&self, log: &crate::trusted_root::Log, set: &[u8]) -> Result<i64, LogError> {
        let time = self.integrated_time.ok_or(LogError::NoSignedTime)?;
        if !log.valid.contains(time) {
            return Err(LogError::KeyNotValidAt { at: time });
        }
        let canonical = format!(
            "{{\"body\":{},\"integratedTime\":{},\"logID\":{},\"logIndex\":{}}}",
            Value::from(STANDARD.encode(&self.body)),
            time,
            Value::from(hex(&self.log_id)),
            self.log_index
        );
        if !log.key.verifies(canonical.as_bytes(), set) {
            return Err(LogError::BadSignedEntryTimestamp);
        }
        Ok(time)
    }
}

fn node_hash(left: &[u8], right: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(1 + left.len() + right.len());
    input.push(1);
    input.extend_from_slice(left);
    input.extend_from_slice(right);
    digest(&SHA256, &input).as_ref().to_vec()
}

pub(crate) fn leaf_hash(body: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(1 + body.len());
    input.push(0);
    input.extend_from_slice(body);
    digest(&SHA256, &input).as_ref().to_vec()
}

/// The root an audit path leads to (RFC 9162 §2.1.3.2), or `None` for a path of the wrong
/// shape for its index and tree size.
pub(crate) fn root_from_path(
    index: u64,
    size: u64,
    leaf: Vec<u8>,
    path: &[Vec<u8>],
) -> Option<Vec<u8>> {
    if index >= size {
        return None;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut hash = leaf;
    for sibling in path {
        if snode == 0 {
            return None;
        }
        if fnode & 1 == 1 || fnode == snode {
            hash = node_hash(sibling, &hash);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    (snode == 0).then_some(hash)
}

impl InclusionProof {
    fn verify(&self, body: &[u8], log: &crate::trusted_root::Log) -> Result<(), LogError> {
        let root = root_from_path(
            self.log_index,
            self.tree_size,
            leaf_hash(body),
            &self.hashes,
        )
        .ok_or(LogError::BadInclusionProof)?;
        if root != self.root_hash {
            return Err(LogError::BadInclusionProof);
        }
        self.verify_checkpoint(log)
    }

    /// The checkpoint is a signed note (`origin\nsize\nroot\n[…]\n\n— name sig\n`): its size and
    /// root hash must be the proof's, and one of its signatures must be the log's.
    fn verify_checkpoint(&self, log: &crate::trusted_root::Log) -> Result<(), LogError> {
        let bad = |why: &str| LogError::BadCheckpoint(why.to_owned());
        let (text, signatures) = self
            .checkpoint
            .split_once("\n\n")
            .ok_or_else(|| bad("no signature block"))?;
        let signed = &self.checkpoint[..text.len() + 1];
        let mut lines = text.lines();
        let _origin = lines.next().ok_or_else(|| bad("no origin line"))?;
        let size: u64 = lines
            .next()
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| bad("no tree size"))?;
        let root = lines
            .next()
            .and_then(|l| STANDARD.decode(l).ok())
            .ok_or_else(|| bad("no root hash"))?;
        if size != self.tree_size || root != self.root_hash {
            return Err(bad("its tree size or root hash differs from the proof's"));
        }
        // A note signature line is `— <key name> base64(4-byte key hint || signature)`; Rekor
        // names its key by the log's host and hints it by the first bytes of the log ID.
        let host = log
            .base_url
            .split("://")
            .last()
            .unwrap_or_default()
            .trim_end_matches('/');
        let signed_by_log = signatures.lines().any(|line| {
            let Some((name, sig)) = line
                .strip_prefix("\u{2014} ")
                .and_then(|rest| rest.rsplit_once(' '))
            else {
                return false;
            };
            match STANDARD.decode(sig) {
                Ok(bytes) if bytes.len() > 4 && name == host => {
                    log.log_id.get(..4) == Some(&bytes[..4])
                        && log.key.verifies(signed.as_bytes(), &bytes[4..])
                }
                _ => false,
            }
        });
        if signed_by_log {
            Ok(())
        } else {
            Err(bad("not signed by the log's key"))
        }
    }
}

/// Who the logged entry must name as the signer.
#[derive(Clone, Copy)]
pub(crate) enum Signer<'a> {
    /// A keyless signature's leaf certificate.
    Certificate(&'a Cert),
    /// A key-based signature's public key.
    Key(&'a PublicKey),
}

/// Whether the logged body is about this signature: the payload's hash, the signature bytes
/// and the signer (`hashedrekord`, `rekord` and `dsse` entries, version 0.0.1).
pub(crate) fn check_body(
    body: &[u8],
    payload: &[u8],
    signature: &[u8],
    signer: Signer<'_>,
) -> Result<(), LogError> {
    let mismatch = |what: &str| LogError::EntryMismatch(what.to_owned());
    let value: Value =
        serde_json::from_slice(body).map_err(|e| LogError::Unreadable(e.to_string()))?;
    let kind = value["kind"].as_str().unwrap_or_default();
    let spec = &value["spec"];
    let payload_hash = sha256_hex(payload);
    let same_hash = |hash: &Value| {
        hash["algorithm"].as_str() == Some("sha256")
            && hash["value"].as_str() == Some(payload_hash.as_str())
    };
    let same_b64 = |field: &Value, bytes: &[u8]| {
        field
            .as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .is_some_and(|decoded| decoded == bytes)
    };
    let same_cert = |field: &Value| {
        let Some(text) = field
            .as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .and_then(|pem_bytes| String::from_utf8(pem_bytes).ok())
        else {
            return false;
        };
        match signer {
            Signer::Certificate(leaf) => pem::parse_all(&text)
                .is_ok_and(|blocks| blocks.first().is_some_and(|b| b.der == leaf.der)),
            Signer::Key(key) => PublicKey::from_pem(&text).is_ok_and(|logged| logged == *key),
        }
    };
    match kind {
        "hashedrekord" | "rekord" => {
            if !same_hash(&spec["data"]["hash"]) {
                return Err(mismatch("the logged payload hash is another payload's"));
            }
            if !same_b64(&spec["signature"]["content"], signature) {
                return Err(mismatch("the logged signature is another signature"));
            }
            if !same_cert(&spec["signature"]["publicKey"]["content"]) {
                return Err(mismatch("the logged certificate is another certificate"));
            }
            Ok(())
        }
        "dsse" => {
            if !same_hash(&spec["payloadHash"]) {
                return Err(mismatch("the logged payload hash is another payload's"));
            }
            let listed = spec["signatures"].as_array().is_some_and(|sigs| {
                sigs.iter()
                    .any(|s| same_b64(&s["signature"], signature) && same_cert(&s["verifier"]))
            });
            if !listed {
                return Err(mismatch(
                    "the logged signatures do not include this signature and certificate",
                ));
            }
            Ok(())
        }
        other => Err(LogError::UnsupportedKind(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(n: u8) -> Vec<u8> {
        leaf_hash(&[n])
    }

    /// The RFC 6962 tree hash of leaves `0..n`, computed the slow, obvious way.
    fn tree_root(leaves: &[Vec<u8>]) -> Vec<u8> {
        if leaves.len() == 1 {
            return leaves[0].clone();
        }
        let k = leaves.len().next_power_of_two() / 2;
        node_hash(&tree_root(&leaves[..k]), &tree_root(&leaves[k..]))
    }

    fn path(leaves: &[Vec<u8>], index: usize) -> Vec<Vec<u8>> {
        if leaves.len() == 1 {
            return Vec::new();
        }
        let k = leaves.len().next_power_of_two() / 2;
        if index < k {
            let mut p = path(&leaves[..k], index);
            p.push(tree_root(&leaves[k..]));
            p
        } else {
            let mut p = path(&leaves[k..], index - k);
            p.push(tree_root(&leaves[..k]));
            p
        }
    }

    #[test]
    fn every_leaf_of_small_trees_proves_and_a_changed_proof_does_not() {
        for size in 1..=9u8 {
            let leaves: Vec<_> = (0..size).map(leaf).collect();
            let root = tree_root(&leaves);
            for index in 0..usize::from(size) {
                let p = path(&leaves, index);
                let got = root_from_path(index as u64, u64::from(size), leaves[index].clone(), &p);
                assert_eq!(got.as_ref(), Some(&root), "size {size} index {index}");
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    bad[0] = node_hash(first, first);
                    let got =
                        root_from_path(index as u64, u64::from(size), leaves[index].clone(), &bad);
                    assert_ne!(got.as_ref(), Some(&root));
                }
                let mut long = p.clone();
                long.push(leaf(99));
                assert_eq!(
                    root_from_path(index as u64, u64::from(size), leaves[index].clone(), &long),
                    None
                );
            }
            assert_eq!(
                root_from_path(u64::from(size), u64::from(size), leaf(0), &[]),
                None
            );
        }
    }
}
