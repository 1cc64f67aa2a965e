//! The real resolver: asks registries over the distribution HTTP API.

use std::path::PathBuf;

use futures::future::BoxFuture;

use super::{Lookup, Mirror, Platform, ResolveError, ResolveErrorKind, Resolver};
use crate::reference::Digest;

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// `--mirror` rules.
    pub mirrors: Vec<Mirror>,
    /// Hosts (`host[:port]`) spoken to over plain HTTP.
    pub insecure: Vec<String>,
    /// Extra CA certificates (PEM files) to trust.
    pub ca_files: Vec<PathBuf>,
    /// Pin this platform's manifest instead of the index.
    pub platform: Option<Platform>,
}

/// Resolves tags by asking registries.
pub struct RegistryResolver {
    config: RegistryConfig,
}

impl RegistryResolver {
    /// A resolver with these settings.
    pub fn new(config: RegistryConfig) -> Result<RegistryResolver, String> {
        Ok(RegistryResolver { config })
    }
}

impl Resolver for RegistryResolver {
    fn resolve<'a>(&'a self, lookup: &'a Lookup) -> BoxFuture<'a, Result<Digest, ResolveError>> {
        let _ = &self.config;
        Box::pin(async move {
            Err(ResolveError {
                lookup: lookup.clone(),
                host: lookup.registry.clone(),
                kind: ResolveErrorKind::Protocol("not implemented yet".into()),
            })
        })
    }
}
