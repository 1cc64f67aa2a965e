//! Bearer tokens per registry host and repository, asked for in batches.
//!
//! A run learns its repositories up front ([`TokenCache::plan`]). The first lookup of a
//! repository that needs a token asks for it together with the next planned
//! repositories of the same host that have none yet: one request with one `scope`
//! parameter per repository, which distribution's and Docker Hub's token servers
//! accept, instead of one request per repository. Concurrent lookups of the batch's
//! repositories share that one request.
//!
//! A batch holds at most [`MAX_BATCH`] scopes and [`MAX_BATCH_QUERY_BYTES`] of them in
//! the URL: request lines and header lines are commonly capped at 8 KiB, and the token,
//! which grows by about 80 bytes per repository it grants, rides on every `HEAD`
//! (32 short names: a 1.6 KiB query and a 3 KiB token from distribution's format).
//!
//! A token server may drop a scope it will not grant without saying so; the registry
//! then answers the `HEAD` 401. The lookup asks for a token for its repository alone
//! ([`TokenCache::renew`]) and tries once more; if that works, batching is off for that
//! host ([`TokenCache::stop_batching`]) and its later tokens are asked one repository
//! at a time.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::auth::Token;
use crate::error::ResolveErrorKind;
use crate::lookup::Endpoint;
use crate::text::form_encoded;

/// Most repositories in one token request.
pub(crate) const MAX_BATCH: usize = 32;
/// Most bytes of `&scope=…` parameters in one token request's URL.
pub(crate) const MAX_BATCH_QUERY_BYTES: usize = 2048;

/// One token request's answer, shared by the lookups of every repository it was for.
pub(crate) type TokenCell = Arc<OnceCell<Result<Token, ResolveErrorKind>>>;

/// A token request, made or to be made: its answer and the repositories it asks for.
#[derive(Clone)]
pub(crate) struct Slot {
    pub(crate) cell: TokenCell,
    pub(crate) repositories: Arc<Vec<String>>,
}

impl Slot {
    fn new(repositories: Vec<String>) -> Slot {
        Slot {
            cell: Arc::default(),
            repositories: Arc::new(repositories),
        }
    }

    /// Whether it holds a token that is due for renewal.
    fn is_due(&self) -> bool {
        self.cell
            .get()
            .is_some_and(|t| t.as_ref().is_ok_and(Token::is_due))
    }

    /// The `scope` of each repository it asks for.
    pub(crate) fn scopes(&self) -> Vec<String> {
        self.repositories.iter().map(|r| scope(r)).collect()
    }
}

/// `repository:NAME:pull`.
fn scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

#[derive(Default)]
struct State {
    slots: HashMap<Endpoint, Slot>,
    /// The repositories of the run per host, in the order they are looked up.
    planned: HashMap<String, Vec<String>>,
    /// Hosts whose token server dropped a scope of a batch.
    one_at_a_time: HashSet<String>,
}

/// The token requests of a run, per host and repository.
#[derive(Default)]
pub(crate) struct TokenCache {
    state: Mutex<State>,
}

impl TokenCache {
    /// Learns the endpoints the run will look up (in the order it will).
    pub(crate) fn plan(&self, endpoints: impl IntoIterator<Item = Endpoint>) {
        let mut state = self.state.lock().expect("token cache lock");
        let mut seen: HashSet<Endpoint> = HashSet::new();
        for endpoint in endpoints {
            if seen.insert(endpoint.clone()) {
                let planned = state.planned.entry(endpoint.host).or_default();
                if !planned.contains(&endpoint.repository) {
                    planned.push(endpoint.repository);
                }
            }
        }
    }

    /// The token request for `endpoint`: the one already made (unless due), else a new
    /// one for it and, where the host batches, the next planned repositories that have
    /// none.
    pub(crate) fn slot(&self, endpoint: &Endpoint) -> Slot {
        let mut state = self.state.lock().expect("token cache lock");
        if let Some(slot) = state.slots.get(endpoint)
            && !slot.is_due()
        {
            return slot.clone();
        }
        let repositories = batch(&state, endpoint);
        insert(&mut state, &endpoint.host, Slot::new(repositories))
    }

    /// A token request for `endpoint`'s repository alone, replacing `used` (whose token
    /// the registry refused); if another lookup replaced it already, that one.
    pub(crate) fn renew(&self, endpoint: &Endpoint, used: &TokenCell) -> Slot {
        let mut state = self.state.lock().expect("token cache lock");
        if let Some(slot) = state.slots.get(endpoint)
            && !Arc::ptr_eq(&slot.cell, used)
            && slot.repositories.len() == 1
        {
            return slot.clone();
        }
        let alone = Slot::new(vec![endpoint.repository.clone()]);
        insert(&mut state, &endpoint.host, alone)
    }

    /// From now on `host`'s tokens are asked one repository at a time; batches not yet
    /// used are forgotten.
    pub(crate) fn stop_batching(&self, host: &str) {
        let mut state = self.state.lock().expect("token cache lock");
        if state.one_at_a_time.insert(host.to_string()) {
            state
                .slots
                .retain(|endpoint, slot| endpoint.host != host || slot.repositories.len() == 1);
        }
    }
}

/// `endpoint`'s repository and, unless its host takes one at a time, the next planned
/// repositories of the host without a token, within the batch limits.
fn batch(state: &State, endpoint: &Endpoint) -> Vec<String> {
    let mut repositories = vec![endpoint.repository.clone()];
    if state.one_at_a_time.contains(&endpoint.host) {
        return repositories;
    }
    let Some(planned) = state.planned.get(&endpoint.host) else {
        return repositories;
    };
    let bytes = |repository: &str| "&scope=".len() + form_encoded(&scope(repository)).len();
    let mut total = bytes(&endpoint.repository);
    for repository in planned {
        if repositories.len() >= MAX_BATCH {
            break;
        }
        let key = Endpoint {
            host: endpoint.host.clone(),
            repository: repository.clone(),
        };
        let has_token = state.slots.get(&key).is_some_and(|slot| !slot.is_due());
        if *repository == endpoint.repository || has_token {
            continue;
        }
        if total + bytes(repository) > MAX_BATCH_QUERY_BYTES {
            break;
        }
        total += bytes(repository);
        repositories.push(repository.clone());
    }
    repositories
}

fn insert(state: &mut State, host: &str, slot: Slot) -> Slot {
    for repository in slot.repositories.iter() {
        let key = Endpoint {
            host: host.to_string(),
            repository: repository.clone(),
        };
        state.slots.insert(key, slot.clone());
    }
    slot
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(host: &str, repository: &str) -> Endpoint {
        Endpoint {
            host: host.into(),
            repository: repository.into(),
        }
    }

    #[test]
    fn planned_repositories_of_one_host_share_a_request_within_the_limits() {
        let cache = TokenCache::default();
        let mut endpoints: Vec<Endpoint> = (0..40)
            .map(|i| at("r.example", &format!("team/app{i:02}")))
            .collect();
        endpoints.push(at("other.example", "team/app00"));
        cache.plan(endpoints.clone());
        let first = cache.slot(&endpoints[0]);
        assert_eq!(first.repositories.len(), MAX_BATCH);
        assert!(first.repositories.iter().all(|r| r.starts_with("team/app")));
        // A repository of the batch gets the same request.
        assert!(Arc::ptr_eq(&cache.slot(&endpoints[5]).cell, &first.cell));
        // The next one starts a batch of the rest; another host is never in it.
        let rest = cache.slot(&endpoints[MAX_BATCH]);
        assert_eq!(rest.repositories.len(), 40 - MAX_BATCH);
        assert_eq!(cache.slot(&endpoints[40]).repositories.len(), 1);
        // Long names: the URL budget ends the batch first.
        let long: Vec<Endpoint> = (0..10)
            .map(|i| at("long.example", &format!("{i}{}", "x".repeat(250))))
            .collect();
        cache.plan(long.clone());
        let slot = cache.slot(&long[0]);
        let query: usize = slot
            .scopes()
            .iter()
            .map(|s| 7 + form_encoded(s).len())
            .sum();
        assert!(
            slot.repositories.len() < 10 && query <= MAX_BATCH_QUERY_BYTES,
            "{query}"
        );
    }

    #[test]
    fn a_refused_batch_is_renewed_alone_once_and_batching_stops_for_its_host() {
        let cache = TokenCache::default();
        let endpoints: Vec<Endpoint> = (0..4).map(|i| at("r.example", &format!("a{i}"))).collect();
        cache.plan(endpoints.clone());
        let batch = cache.slot(&endpoints[0]);
        let alone = cache.renew(&endpoints[1], &batch.cell);
        assert_eq!(*alone.repositories, ["a1"]);
        // A second lookup refused the same batch token: it shares the renewal.
        assert!(Arc::ptr_eq(
            &cache.renew(&endpoints[1], &batch.cell).cell,
            &alone.cell
        ));
        cache.stop_batching("r.example");
        assert_eq!(*cache.slot(&endpoints[2]).repositories, ["a2"]);
        assert!(Arc::ptr_eq(&cache.slot(&endpoints[1]).cell, &alone.cell));
    }
}
