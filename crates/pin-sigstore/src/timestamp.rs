//! RFC 3161 timestamps, as a bundle's `timestampVerificationData` carries them: a timestamp
//! authority of the trusted root signed, at `genTime`, the hash of the artifact signature.
//! This proves a signing time without Rekor's signed entry timestamp (Rekor v2 has none).
//!
//! The CMS structure is walked with the crate's raw DER reader: only the fields below are
//! read, and everything the authority signs (`signedAttrs`, hence the `TSTInfo`) is verified.

use aws_lc_rs::digest::{self, SHA256, SHA384, SHA512};
use der::Decode as _;
use der::asn1::ObjectIdentifier;

use crate::der_util::{children, contents, split_element};
use crate::time::parse_rfc3339;
use crate::trusted_root::TrustedRoot;

const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const SHA256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const INTEGER: u8 = 0x02;
const GENERALIZED_TIME: u8 = 0x18;
const CONTEXT_0: u8 = 0xa0;

/// Why a timestamp does not prove a time.
pub(crate) type Why = &'static str;

fn oid(element: &[u8]) -> Option<ObjectIdentifier> {
    ObjectIdentifier::from_der(element).ok()
}

fn child<'a>(kids: &[(u8, &'a [u8])], index: usize, tag: u8) -> Option<&'a [u8]> {
    kids.get(index).filter(|(t, _)| *t == tag).map(|(_, e)| *e)
}

/// The hash named by an AlgorithmIdentifier.
fn hash(algorithm: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let id = oid(children(algorithm)?.first()?.1)?;
    let alg = match id {
        i if i == SHA256_OID => &SHA256,
        i if i == SHA384_OID => &SHA384,
        i if i == SHA512_OID => &SHA512,
        _ => return None,
    };
    Some(digest::digest(alg, data).as_ref().to_vec())
}

struct Parsed<'a> {
    tst_info: &'a [u8],
    /// `signedAttrs` as signed: re-tagged from `[0] IMPLICIT` to `SET OF` (RFC 5652 §5.4).
    signed_attributes: Vec<u8>,
    signature_algorithm: ObjectIdentifier,
    signature: &'a [u8],
}

fn parse(token: &[u8]) -> Result<Parsed<'_>, Why> {
    let bad = "not an RFC 3161 timestamp";
    let (tag, outer, _) = split_element(token).ok_or(bad)?;
    if tag != SEQUENCE {
        return Err(bad);
    }
    let kids = children(outer).ok_or(bad)?;
    // A TimeStampResp (status, token) or the bare token (a ContentInfo, which starts with its
    // content type).
    let content_info = if kids.first().map(|k| k.0) == Some(OID) {
        outer
    } else {
        let status = children(child(&kids, 0, SEQUENCE).ok_or(bad)?).ok_or(bad)?;
        // PKIStatus 0 (granted) or 1 (granted with modifications).
        let granted = child(&status, 0, INTEGER).and_then(contents);
        if !matches!(granted, Some([0]) | Some([1])) {
            return Err("the timestamp request was not granted");
        }
        child(&kids, 1, SEQUENCE).ok_or(bad)?
    };
    let ci = children(content_info).ok_or(bad)?;
    if child(&ci, 0, OID).and_then(oid) != Some(SIGNED_DATA) {
        return Err(bad);
    }
    let signed_data = children(child(&ci, 1, CONTEXT_0).ok_or(bad)?).ok_or(bad)?;
    let signed_data = children(child(&signed_data, 0, SEQUENCE).ok_or(bad)?).ok_or(bad)?;
    let encap = children(child(&signed_data, 2, SEQUENCE).ok_or(bad)?).ok_or(bad)?;
    if child(&encap, 0, OID).and_then(oid) != Some(TST_INFO) {
        return Err("the timestamp does not hold a TSTInfo");
    }
    let wrapped = children(child(&encap, 1, CONTEXT_0).ok_or(bad)?).ok_or(bad)?;
    let tst_info = contents(child(&wrapped, 0, OCTET_STRING).ok_or(bad)?).ok_or(bad)?;
    let (set_tag, signer_infos) = *signed_data.last().ok_or(bad)?;
    if set_tag != SET {
        return Err(bad);
    }
    let signer_infos = children(signer_infos).ok_or(bad)?;
    let [(SEQUENCE, signer)] = signer_infos.as_slice() else {
        return Err("the timestamp must have exactly one signer");
    };
    let si = children(signer).ok_or(bad)?;
    let digest_algorithm = child(&si, 2, SEQUENCE).ok_or(bad)?;
    let attributes = child(&si, 3, CONTEXT_0).ok_or("the timestamp has no signed attributes")?;
    let signature_algorithm = child(&si, 4, SEQUENCE)
        .and_then(children)
        .and_then(|k| k.first().and_then(|(_, e)| oid(e)))
        .ok_or(bad)?;
    let signature = contents(child(&si, 5, OCTET_STRING).ok_or(bad)?).ok_or(bad)?;
    // RFC 5652 §11: the signed attributes must bind the content type and the content's hash.
    let mut message_digest = None;
    let mut content_type = None;
    for (tag, attribute) in children(attributes).ok_or(bad)? {
        if tag != SEQUENCE {
            return Err(bad);
        }
        let parts = children(attribute).ok_or(bad)?;
        let id = child(&parts, 0, OID).and_then(oid).ok_or(bad)?;
        let values = children(child(&parts, 1, SET).ok_or(bad)?).ok_or(bad)?;
        if id == MESSAGE_DIGEST {
            message_digest = child(&values, 0, OCTET_STRING).and_then(contents);
        } else if id == CONTENT_TYPE {
            content_type = child(&values, 0, OID).and_then(oid);
        }
    }
    if content_type != Some(TST_INFO) {
        return Err("the signed attributes do not name a TSTInfo");
    }
    if message_digest.is_none()
        || message_digest.map(<[u8]>::to_vec) != hash(digest_algorithm, tst_info)
    {
        return Err("the signed attributes are about another TSTInfo");
    }
    let mut signed_attributes = attributes.to_vec();
    signed_attributes[0] = SET;
    Ok(Parsed {
        tst_info,
        signed_attributes,
        signature_algorithm,
        signature,
    })
}

/// `genTime` (`YYYYMMDDHHMMSS[.fff]Z`) as Unix seconds.
fn generalized_time(element: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(contents(element)?).ok()?;
    if text.len() < 15 || !text.is_char_boundary(14) {
        return None;
    }
    let (digits, rest) = text.split_at(14);
    let t = |r: std::ops::Range<usize>| digits.get(r);
    parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}{rest}",
        t(0..4)?,
        t(4..6)?,
        t(6..8)?,
        t(8..10)?,
        t(10..12)?,
        t(12..14)?
    ))
}

/// The time an authority of `root` proves that `signature` existed at.
pub(crate) fn verify(token: &[u8], signature: &[u8], root: &TrustedRoot) -> Result<i64, Why> {
    let parsed = parse(token)?;
    let info = children_of_sequence(parsed.tst_info).ok_or("the TSTInfo cannot be read")?;
    let imprint = children(child(&info, 2, SEQUENCE).ok_or("no message imprint")?)
        .ok_or("no message imprint")?;
    let algorithm = child(&imprint, 0, SEQUENCE).ok_or("no message imprint")?;
    let hashed = child(&imprint, 1, OCTET_STRING)
        .and_then(contents)
        .ok_or("no message imprint")?;
    if hash(algorithm, signature).as_deref() != Some(hashed) {
        return Err("the timestamp is for another signature");
    }
    let time = child(&info, 4, GENERALIZED_TIME)
        .and_then(generalized_time)
        .ok_or("the timestamp has no readable time")?;
    let signed_by_authority = root.timestamp_authorities.iter().any(|tsa| {
        let Some((signer, issuers)) = tsa.chain.split_first() else {
            return false;
        };
        tsa.valid.contains(time)
            && signer.check_valid_at(time).is_ok()
            && signer.key.verifies_x509(
                parsed.signature_algorithm,
                &parsed.signed_attributes,
                parsed.signature,
            )
            && crate::trusted_root::chain_issues(issuers, signer, time)
    });
    if signed_by_authority {
        Ok(time)
    } else {
        Err("not signed by a timestamp authority of the trusted root valid at its time")
    }
}

fn children_of_sequence(der: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let (tag, element, rest) = split_element(der)?;
    (tag == SEQUENCE && rest.is_empty()).then_some(())?;
    children(element)
}
