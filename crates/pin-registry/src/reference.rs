//! Image references, following the grammar of the distribution project's
//! `reference` package, and the one place that knows Docker Hub's aliases.
//!
//! A reference is kept exactly as the user spelled it; the canonical registry and
//! repository (`docker.io`, `library/python`) are derived for resolving and
//! de-duplication only and are never written back into a file.

use std::fmt;

use thiserror::Error;

/// The registry that references without a domain live on.
pub const DOCKER_HUB: &str = "docker.io";

/// Host names that all mean Docker Hub.
const DOCKER_HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// Longest repository name (domain included) that the grammar allows.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a text is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReferenceError {
    /// The text is empty.
    #[error("empty reference")]
    Empty,
    /// The repository path has an upper-case letter (only the domain may).
    #[error("repository name must be lower-case")]
    UpperCase,
    /// The name is not made of valid path components.
    #[error("invalid repository name")]
    InvalidName,
    /// The domain is not a valid host name, IP address or port.
    #[error("invalid registry domain")]
    InvalidDomain,
    /// The tag does not match `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    #[error("invalid tag")]
    InvalidTag,
    /// The digest does not match `algorithm:hex`.
    #[error("invalid digest")]
    InvalidDigest,
    /// The repository name is longer than 255 characters.
    #[error("repository name longer than 255 characters")]
    NameTooLong,
}

/// A parsed image reference, `[domain/]path[:tag][@digest]`, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// `[domain/]path` exactly as written.
    name: String,
    /// Byte length of the domain within `name`, if a domain was written.
    domain_len: Option<usize>,
    /// The tag, if one was written.
    tag: Option<String>,
    /// The digest (`algorithm:hex`), if one was written.
    digest: Option<String>,
}

impl ImageRef {
    /// Parse a reference with the distribution grammar.
    pub fn parse(text: &str) -> Result<ImageRef, ReferenceError> {
        if text.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                validate_digest(digest)?;
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        // A tag follows the last ':' that comes after the last '/'; a ':' before the
        // last '/' belongs to the domain's port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                validate_tag(tag)?;
                (&rest[..last_slash + i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(ReferenceError::InvalidName);
        }
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        let domain_len = split_domain(name).map(str::len);
        let path = match domain_len {
            Some(len) => {
                validate_domain(&name[..len])?;
                &name[len + 1..]
            }
            None => name,
        };
        validate_path(path)?;
        Ok(ImageRef {
            name: name.to_string(),
            domain_len,
            tag,
            digest,
        })
    }

    /// `[domain/]path` as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The tag a lookup uses: the written one, or `latest`.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }

    /// The digest as written, if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The domain as written, if any.
    pub fn domain(&self) -> Option<&str> {
        self.domain_len.map(|len| &self.name[..len])
    }

    /// The path after the domain, as written.
    pub fn path(&self) -> &str {
        match self.domain_len {
            Some(len) => &self.name[len + 1..],
            None => &self.name,
        }
    }

    /// The canonical registry: `docker.io` for Docker Hub and its aliases.
    pub fn registry(&self) -> &str {
        match self.domain() {
            None => DOCKER_HUB,
            Some(domain) if is_docker_hub(domain) => DOCKER_HUB,
            Some(domain) => domain,
        }
    }

    /// The canonical repository: official Docker Hub images gain `library/`.
    pub fn repository(&self) -> String {
        let path = self.path();
        if self.registry() == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        }
    }

    /// The text that pins this reference to `digest`, in the user's spelling: an
    /// untagged name gains `:latest` so that the tracked tag stays visible, and an
    /// existing digest is replaced.
    pub fn pinned_text(&self, digest: &Digest) -> String {
        format!("{}:{}@{}", self.name, self.tag_or_latest(), digest)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Whether `host` is one of Docker Hub's names.
pub fn is_docker_hub(host: &str) -> bool {
    DOCKER_HUB_ALIASES
        .iter()
        .any(|alias| host.eq_ignore_ascii_case(alias))
}

/// The canonical name of a registry host: Docker Hub's aliases become `docker.io`.
pub fn canonical_registry(host: &str) -> &str {
    if is_docker_hub(host) {
        DOCKER_HUB
    } else {
        host
    }
}

/// A manifest digest that is safe to write into a file: `sha256:` and 64 lower-case
/// hex digits, nothing else. A registry's answer becomes a `Digest` only through
/// [`Digest::parse`], so a hostile registry cannot inject text into a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Digest(String);

/// A digest that is not `sha256:` followed by 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a sha256 digest: {0:?}")]
pub struct DigestError(pub String);

impl Digest {
    /// Accept exactly `sha256:[0-9a-f]{64}`.
    pub fn parse(text: &str) -> Result<Digest, DigestError> {
        let valid = text.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if valid {
            Ok(Digest(text.to_string()))
        } else {
            // Keep the error short and printable whatever the registry sent.
            let shown: String = text
                .chars()
                .take(80)
                .flat_map(char::escape_default)
                .collect();
            Err(DigestError(shown))
        }
    }

    /// The sha256 digest of some bytes.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        use sha2::{Digest as _, Sha256};
        let hash = Sha256::digest(bytes);
        let mut text = String::with_capacity(71);
        text.push_str("sha256:");
        for byte in hash {
            text.push_str(&format!("{byte:02x}"));
        }
        Digest(text)
    }

    /// The digest as `sha256:…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The domain part of `name`, if its first component is one: Docker's rule is that it
/// contains a `.` or a `:`, is `localhost`, or has an upper-case letter.
fn split_domain(name: &str) -> Option<&str> {
    let (first, _) = name.split_once('/')?;
    let is_domain = first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase());
    is_domain.then_some(first)
}

fn validate_domain(domain: &str) -> Result<(), ReferenceError> {
    let port = if let Some(rest) = domain.strip_prefix('[') {
        // `[ipv6]` or `[ipv6]:port`
        let (ip, after) = rest.split_once(']').ok_or(ReferenceError::InvalidDomain)?;
        let ip_ok = !ip.is_empty()
            && ip
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !ip_ok {
            return Err(ReferenceError::InvalidDomain);
        }
        match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or(ReferenceError::InvalidDomain)?,
            ),
        }
    } else {
        let (host, port) = match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        };
        let host_ok = host.split('.').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !c.starts_with('-')
                && !c.ends_with('-')
        });
        if !host_ok {
            return Err(ReferenceError::InvalidDomain);
        }
        port
    };
    match port {
        Some(port) if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) => {
            Err(ReferenceError::InvalidDomain)
        }
        _ => Ok(()),
    }
}

/// Path components: `[a-z0-9]+` joined by `.`, `_`, `__` or one or more `-`.
fn validate_path(path: &str) -> Result<(), ReferenceError> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::UpperCase);
    }
    for component in path.split('/') {
        if !valid_path_component(component) {
            return Err(ReferenceError::InvalidName);
        }
    }
    Ok(())
}

fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__`, or `-`+.
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn validate_tag(tag: &str) -> Result<(), ReferenceError> {
    let bytes = tag.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| word(b) || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ReferenceError::InvalidTag)
    }
}

/// `algorithm:hex` with the grammar's algorithm components and at least 32 hex digits.
fn validate_digest(digest: &str) -> Result<(), ReferenceError> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or(ReferenceError::InvalidDigest)?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['-', '_', '+', '.']).all(|c| {
            let mut bytes = c.bytes();
            bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
                && bytes.all(|b| b.is_ascii_alphanumeric())
        });
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if algorithm_ok && hex_ok {
        Ok(())
    } else {
        Err(ReferenceError::InvalidDigest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn official_image_is_docker_hub_library() {
        let r = ImageRef::parse("python:3.12").unwrap();
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "library/python");
        assert_eq!(r.tag(), Some("3.12"));
        assert_eq!(r.name(), "python");
    }

    #[test]
    fn docker_hub_aliases_are_one_registry() {
        for text in [
            "docker.io/library/alpine",
            "index.docker.io/library/alpine",
            "registry-1.docker.io/alpine",
            "alpine",
        ] {
            let r = ImageRef::parse(text).unwrap();
            assert_eq!(
                (r.registry(), r.repository().as_str()),
                ("docker.io", "library/alpine"),
                "{text}"
            );
        }
        let user = ImageRef::parse("docker.io/bitnami/redis").unwrap();
        assert_eq!(user.repository(), "bitnami/redis");
    }

    #[test]
    fn domain_rules() {
        assert_eq!(
            ImageRef::parse("localhost/app").unwrap().registry(),
            "localhost"
        );
        assert_eq!(
            ImageRef::parse("localhost:5000/app:1").unwrap().registry(),
            "localhost:5000"
        );
        assert_eq!(
            ImageRef::parse("ghcr.io/o/r/x:v1").unwrap().repository(),
            "o/r/x"
        );
        assert_eq!(
            ImageRef::parse("[::1]:5000/app").unwrap().registry(),
            "[::1]:5000"
        );
        assert_eq!(
            ImageRef::parse("[fe80::1]/app").unwrap().registry(),
            "[fe80::1]"
        );
        // Upper case in the first component makes it a domain (Docker's rule).
        assert_eq!(
            ImageRef::parse("Registry/app").unwrap().registry(),
            "Registry"
        );
        // `foo/bar` has no domain: it is a Docker Hub user repository.
        assert_eq!(ImageRef::parse("foo/bar").unwrap().registry(), "docker.io");
    }

    #[test]
    fn tags_and_digests() {
        let r = ImageRef::parse(&format!("127.0.0.1:5000/a/b:1.0@sha256:{HEX}")).unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.tag(), Some("1.0"));
        assert_eq!(r.digest(), Some(format!("sha256:{HEX}").as_str()));
        let untagged = ImageRef::parse("node").unwrap();
        assert_eq!(untagged.tag_or_latest(), "latest");
        let d = Digest::parse(&format!("sha256:{HEX}")).unwrap();
        assert_eq!(
            untagged.pinned_text(&d),
            format!("node:latest@sha256:{HEX}")
        );
        assert_eq!(
            r.pinned_text(&d),
            format!("127.0.0.1:5000/a/b:1.0@sha256:{HEX}")
        );
    }

    #[test]
    fn invalid_references() {
        assert_eq!(ImageRef::parse("Python:3"), Err(ReferenceError::UpperCase));
        assert_eq!(
            ImageRef::parse("docker.io/Library/python"),
            Err(ReferenceError::UpperCase)
        );
        assert_eq!(
            ImageRef::parse("python:3:4"),
            Err(ReferenceError::InvalidTag)
        );
        assert_eq!(ImageRef::parse("python:"), Err(ReferenceError::InvalidTag));
        assert_eq!(ImageRef::parse(":3"), Err(ReferenceError::InvalidName));
        assert_eq!(ImageRef::parse("a//b"), Err(ReferenceError::InvalidName));
        assert_eq!(ImageRef::parse("a_-b"), Err(ReferenceError::InvalidName));
        assert_eq!(ImageRef::parse("a___b"), Err(ReferenceError::InvalidName));
        assert_eq!(
            ImageRef::parse("python@sha256:12"),
            Err(ReferenceError::InvalidDigest)
        );
        assert_eq!(
            ImageRef::parse(&format!("p:{}", "a".repeat(129))),
            Err(ReferenceError::InvalidTag)
        );
        assert_eq!(
            ImageRef::parse("-bad.io:x/app"),
            Err(ReferenceError::InvalidDomain)
        );
        assert_eq!(ImageRef::parse(""), Err(ReferenceError::Empty));
        assert!(ImageRef::parse("a__b.c--d---e").is_ok());
    }

    #[test]
    fn digest_accepts_only_sha256_lower_hex() {
        assert!(Digest::parse(&format!("sha256:{HEX}")).is_ok());
        assert!(Digest::parse(&format!("sha256:{}", HEX.to_uppercase())).is_err());
        assert!(Digest::parse(&format!("sha256:{HEX}\nFROM evil")).is_err());
        assert!(Digest::parse(&format!("sha512:{HEX}")).is_err());
        assert!(Digest::parse(&format!("sha256:{} ", &HEX[..63])).is_err());
        assert_eq!(
            Digest::of_bytes(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
