//! Lookups: what one registry round trip answers, and the [`Resolver`] that answers it.
//!
//! The pipeline talks to a [`Resolver`]; the real one, [`crate::RegistryResolver`], asks
//! registries over HTTP. Tests of everything else use a map ([`StaticResolver`]).

use std::collections::BTreeMap;
use std::fmt;

use futures::future::BoxFuture;
use futures::stream::{self, Stream, StreamExt};

use crate::error::{ResolveError, ResolveErrorKind};
use crate::reference::{Digest, ImageRef};

/// What one registry round trip answers: the canonical registry, repository and tag.
///
/// Two references that differ only in spelling (`python:3.12`,
/// `docker.io/library/python:3.12`) have the same `Lookup` and are resolved once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lookup {
    /// Canonical registry host (`docker.io` for Docker Hub).
    pub registry: String,
    /// Canonical repository (`library/python`).
    pub repository: String,
    /// The tag (`latest` when none was written).
    pub tag: String,
    /// Under `--update`, the digest the reference is pinned to now. A resolver keeps
    /// the platform of a pin to one platform's manifest of a multi-arch tag.
    pub pinned: Option<String>,
}

impl Lookup {
    /// The lookup that resolves `image`'s tag.
    pub fn of(image: &ImageRef) -> Lookup {
        Lookup {
            registry: image.registry().to_string(),
            repository: image.repository(),
            tag: image.tag_or_latest().to_string(),
            pinned: None,
        }
    }

    /// The lookup that re-resolves `image`'s tag, knowing the digest it is pinned to.
    pub fn refreshing(image: &ImageRef) -> Lookup {
        Lookup {
            pinned: image.digest().map(str::to_string),
            ..Lookup::of(image)
        }
    }
}

impl fmt::Display for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository, self.tag)
    }
}

/// Where a lookup is sent: the host asked (a mirror, if one applies) and the
/// repository's name there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Endpoint {
    pub(crate) host: String,
    pub(crate) repository: String,
}

/// Something that knows the digest a tag points to now.
pub trait Resolver: Send + Sync {
    /// Resolve one tag.
    fn resolve<'a>(&'a self, lookup: &'a Lookup) -> BoxFuture<'a, Result<Digest, ResolveError>>;

    /// Learns every lookup of the run before they are resolved, in the order they will
    /// be, so that work they share can be asked for at once (the registry resolver asks
    /// for the tokens of several repositories in one request), and `jobs`, the most
    /// requests the run may have in flight. Returns how many lookups may be in flight:
    /// `jobs` by default; a resolver that caps its requests at `jobs` itself may take
    /// more, so that lookups waiting out a `Retry-After` do not hold the others back.
    fn prepare(&self, lookups: &[Lookup], jobs: usize) -> usize {
        let _ = lookups;
        jobs
    }

    /// Starts, before the run's lookups are all known, what every lookup of
    /// `lookup`'s registry will need whatever its repository (the registry resolver
    /// pings the registry's `/v2/` and finds its credentials), so that it overlaps the
    /// rest of the scan; the lookups made later share it rather than ask again.
    /// Called at most once per registry, and only for a registry the run will look
    /// something up at. Nothing by default.
    fn warm_up<'a>(&'a self, lookup: &'a Lookup) -> BoxFuture<'a, ()> {
        let _ = lookup;
        Box::pin(async {})
    }
}

/// Resolve each distinct lookup once, after telling the resolver the whole set
/// ([`Resolver::prepare`]): at most `jobs` requests (or, for a resolver that does not
/// cap its requests, lookups) at a time.
pub async fn resolve_all<R: Resolver + ?Sized>(
    resolver: &R,
    lookups: impl IntoIterator<Item = Lookup>,
    jobs: usize,
    on_done: impl Fn(&Lookup),
) -> BTreeMap<Lookup, Result<Digest, ResolveError>> {
    resolve_each(resolver, lookups, jobs)
        .inspect(|(lookup, _)| on_done(lookup))
        .collect()
        .await
}

/// [`resolve_all`], each answer as soon as it comes (in no fixed order), so that what
/// waits only for some lookups (a file to write) can go on before the others end.
pub fn resolve_each<'a, R: Resolver + ?Sized>(
    resolver: &'a R,
    lookups: impl IntoIterator<Item = Lookup>,
    jobs: usize,
) -> impl Stream<Item = (Lookup, Result<Digest, ResolveError>)> + 'a {
    let distinct: std::collections::BTreeSet<Lookup> = lookups.into_iter().collect();
    let distinct: Vec<Lookup> = distinct.into_iter().collect();
    let in_flight = resolver.prepare(&distinct, jobs.max(1));
    stream::iter(distinct)
        .map(move |lookup| async move {
            let result = resolver.resolve(&lookup).await;
            (lookup, result)
        })
        .buffer_unordered(in_flight.max(1))
}

/// A resolver that answers from a fixed map: for tests of the stages around it.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    /// Digest per lookup; a missing lookup resolves to [`ResolveErrorKind::NotFound`].
    pub digests: BTreeMap<Lookup, Digest>,
}

impl Resolver for StaticResolver {
    fn resolve<'a>(&'a self, lookup: &'a Lookup) -> BoxFuture<'a, Result<Digest, ResolveError>> {
        let result = self
            .digests
            .get(lookup)
            .cloned()
            .ok_or_else(|| ResolveError {
                lookup: lookup.clone(),
                host: lookup.registry.clone(),
                kind: ResolveErrorKind::NotFound,
            });
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::ImageRef;

    #[test]
    fn spellings_of_one_image_share_a_lookup() {
        let a = Lookup::of(&ImageRef::parse("python:3.12").unwrap());
        let b = Lookup::of(&ImageRef::parse("index.docker.io/library/python:3.12").unwrap());
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "docker.io/library/python:3.12");
    }
}
