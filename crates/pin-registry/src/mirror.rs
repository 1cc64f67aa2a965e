//! `--mirror` rules: which host (and path prefix) is asked for a registry's images.

use std::str::FromStr;

use thiserror::Error;

use crate::reference::canonical_registry;

/// `--mirror FROM=TO`: resolve references of registry FROM through TO, a host with an
/// optional port and path prefix. Files keep FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Canonical registry whose references are redirected.
    pub from: String,
    /// Host (and port) asked instead.
    pub host: String,
    /// Path prefix put in front of the repository on the mirror, without slashes at
    /// either end.
    pub prefix: Option<String>,
}

/// A `FROM=TO` rule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MirrorError {
    /// No `=`.
    #[error("mirror {0:?} is not FROM=TO, e.g. docker.io=127.0.0.1:5000")]
    NoEquals(String),
    /// An empty side, or a path in FROM.
    #[error("mirror {0:?} is not FROM=TO, e.g. docker.io=127.0.0.1:5000/prefix")]
    Malformed(String),
}

impl Mirror {
    /// The repository's path on the mirror: the prefix, if any, in front of it.
    pub fn repository_on(&self, repository: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}/{repository}"),
            None => repository.to_string(),
        }
    }
}

impl FromStr for Mirror {
    type Err = MirrorError;

    fn from_str(text: &str) -> Result<Mirror, MirrorError> {
        let (from, to) = text
            .split_once('=')
            .ok_or_else(|| MirrorError::NoEquals(text.to_string()))?;
        let to = to.trim_end_matches('/');
        let (host, prefix) = match to.split_once('/') {
            Some((host, prefix)) => (host, Some(prefix.trim_matches('/').to_string())),
            None => (to, None),
        };
        if from.is_empty() || host.is_empty() || from.contains('/') {
            return Err(MirrorError::Malformed(text.to_string()));
        }
        Ok(Mirror {
            from: canonical_registry(from).to_string(),
            host: host.to_string(),
            prefix: prefix.filter(|p| !p.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_parses_host_port_and_prefix() {
        let m: Mirror = "index.docker.io=127.0.0.1:5000/hub/".parse().unwrap();
        assert_eq!(m.from, "docker.io");
        assert_eq!(m.host, "127.0.0.1:5000");
        assert_eq!(m.prefix.as_deref(), Some("hub"));
        let plain: Mirror = "ghcr.io=harbor.corp".parse().unwrap();
        assert_eq!(plain.prefix, None);
        assert!("ghcr.io".parse::<Mirror>().is_err());
    }
}
