//! Round trips and faults, seen from a proxy between the resolver and a real registry
//! with token auth (the Docker Hub flow): how many requests of each kind a run costs,
//! and that rate limits, server errors and dropped connections are retried.

use crate::support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use pin::reference::ImageRef;
use pin_registry::credentials::CredentialSources;
use pin_registry::{Lookup, Resolver, resolve_all};
use pin_registry::{RegistryConfig, RegistryResolver};
use support::proxy::http_date;
use support::{Fault, ImageKind, Kind, Proxy, Registry, TokenOptions, runtime};

/// A token-auth registry with a proxy in front that also carries the token requests.
fn proxied_registry() -> (Registry, Proxy) {
    let registry = Registry::start_with_token_auth(TokenOptions::default());
    let realm = registry.token_server().unwrap().realm();
    let proxy = Proxy::start_with_token(registry.host(), &realm, Duration::ZERO);
    (registry, proxy)
}

fn resolver(proxy: &Proxy) -> RegistryResolver {
    RegistryResolver::new(RegistryConfig {
        insecure: vec![proxy.host()],
        ..RegistryConfig::default()
    })
    .unwrap()
    .with_credentials(CredentialSources::none())
}

fn lookup(reference: &str) -> Lookup {
    Lookup::of(&ImageRef::parse(reference).expect("valid reference"))
}

/// Three repositories, eight tags: `(repository, tag, digest)`.
fn seed(registry: &Registry) -> Vec<(String, String, String)> {
    let mut seeded = Vec::new();
    for (repository, tags) in [
        ("library/python", &["3.11", "3.12", "3.13"][..]),
        ("library/node", &["20", "22", "latest"][..]),
        ("team/app", &["v1", "v2"][..]),
    ] {
        for tag in tags {
            let pushed = registry.push_image(repository, tag, ImageKind::Oci);
            seeded.push((repository.to_string(), tag.to_string(), pushed.digest));
        }
    }
    seeded
}

/// Twenty distinct lookups over the eight tags: each tag plainly, and again as if
/// pinned (under `--update`) to one or two older digests.
fn twenty_lookups(host: &str, seeded: &[(String, String, String)]) -> Vec<(Lookup, String)> {
    let mut lookups = Vec::new();
    for (i, (repository, tag, digest)) in seeded.iter().enumerate() {
        let plain = lookup(&format!("{host}/{repository}:{tag}"));
        lookups.push((plain.clone(), digest.clone()));
        for n in 0..[2, 1][i % 2] {
            let pinned = Lookup {
                pinned: Some(format!("sha256:{}", format!("{i}{n}").repeat(32))),
                ..plain.clone()
            };
            lookups.push((pinned, digest.clone()));
        }
    }
    lookups.truncate(20);
    assert_eq!(lookups.len(), 20);
    lookups
}

fn resolve_everything(proxy: &Proxy, lookups: &[(Lookup, String)]) {
    let resolver = resolver(proxy);
    let results = runtime().block_on(resolve_all(
        &resolver,
        lookups.iter().map(|(l, _)| l.clone()),
        32,
        |_| {},
    ));
    assert_eq!(results.len(), lookups.len());
    for (lookup, expected) in lookups {
        match &results[lookup] {
            Ok(digest) => assert_eq!(digest.as_str(), expected, "{lookup}"),
            Err(error) => panic!("{error}; proxy saw {:?}", proxy.log()),
        }
    }
}

fn counts(proxy: &Proxy) -> BTreeMap<Kind, usize> {
    proxy.counts().into_iter().collect()
}

#[test]
fn twenty_lookups_of_eight_tags_in_three_repositories_cost_one_ping_one_token_eight_heads() {
    let (registry, proxy) = proxied_registry();
    let seeded = seed(&registry);
    let lookups = twenty_lookups(&proxy.host(), &seeded);
    resolve_everything(&proxy, &lookups);
    // One token request asks for the three repositories' scopes at once.
    assert_eq!(
        counts(&proxy),
        BTreeMap::from([(Kind::Ping, 1), (Kind::Token, 1), (Kind::HeadManifest, 8)]),
        "{:#?}",
        proxy.log()
    );
    let tokens = registry.token_server().unwrap();
    for repository in ["library/python", "library/node", "team/app"] {
        assert_eq!(
            tokens.requests_for(&format!("repository:{repository}:pull")),
            1,
            "{:?}",
            tokens.requests()
        );
    }
}

#[test]
fn server_errors_and_dropped_connections_are_retried_and_everything_resolves() {
    let (registry, proxy) = proxied_registry();
    let seeded = seed(&registry);
    let lookups = twenty_lookups(&proxy.host(), &seeded);
    proxy.fail(Kind::Ping, 1, Fault::Close);
    proxy.fail(Kind::Token, 2, Fault::status(500));
    proxy.fail(Kind::HeadManifest, 3, Fault::status(503));
    resolve_everything(&proxy, &lookups);
    let counts = counts(&proxy);
    assert_eq!(counts[&Kind::Ping], 2, "{counts:?}");
    assert_eq!(counts[&Kind::Token], 1 + 2, "{counts:?}");
    assert_eq!(counts[&Kind::HeadManifest], 8 + 3, "{counts:?}");
    assert_eq!(counts.get(&Kind::GetManifest), None, "{counts:?}");
}

#[test]
fn a_dropped_manifest_request_is_retried() {
    let (registry, proxy) = proxied_registry();
    let pushed = registry.push_image("library/python", "3.12", ImageKind::Oci);
    proxy.fail(Kind::HeadManifest, 2, Fault::Close);
    let reference = format!("{}/library/python:3.12", proxy.host());
    let digest = runtime()
        .block_on(resolver(&proxy).resolve(&lookup(&reference)))
        .unwrap();
    assert_eq!(digest.as_str(), pushed.digest);
    assert_eq!(proxy.count(Kind::HeadManifest), 3);
}

#[test]
fn a_request_that_times_out_is_retried() {
    let (registry, proxy) = proxied_registry();
    let pushed = registry.push_image("library/python", "3.12", ImageKind::Oci);
    proxy.fail(Kind::HeadManifest, 1, Fault::Stall(Duration::from_secs(3)));
    let reference = format!("{}/library/python:3.12", proxy.host());
    let resolver = resolver(&proxy).with_request_timeout(Duration::from_millis(500));
    let digest = runtime()
        .block_on(resolver.resolve(&lookup(&reference)))
        .unwrap();
    assert_eq!(digest.as_str(), pushed.digest);
    assert_eq!(proxy.count(Kind::HeadManifest), 2);
}

/// A HEAD answered 429 once with `Retry-After: retry_after`: the lookup waits at least
/// about a second before asking again, and then succeeds.
fn assert_waits_for_retry_after(retry_after: impl FnOnce() -> String) {
    let (registry, proxy) = proxied_registry();
    let pushed = registry.push_image("library/python", "3.12", ImageKind::Oci);
    proxy.fail(
        Kind::HeadManifest,
        1,
        Fault::status_with(429, "Retry-After", &retry_after()),
    );
    let reference = format!("{}/library/python:3.12", proxy.host());
    let started = Instant::now();
    let digest = runtime()
        .block_on(resolver(&proxy).resolve(&lookup(&reference)))
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(digest.as_str(), pushed.digest);
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    assert_eq!(proxy.count(Kind::HeadManifest), 2);
}

#[test]
fn rate_limit_with_retry_after_seconds_waits_that_long() {
    assert_waits_for_retry_after(|| "1".to_string());
}

#[test]
fn rate_limit_with_retry_after_http_date_waits_until_then() {
    // Whole seconds: two from now is at least one second away.
    assert_waits_for_retry_after(|| http_date(SystemTime::now() + Duration::from_secs(2)));
}

#[test]
fn exhausted_retries_name_the_reference_the_host_the_status_and_the_rate_limit() {
    let (registry, proxy) = proxied_registry();
    registry.push_image("library/python", "3.12", ImageKind::Oci);
    proxy.fail(
        Kind::HeadManifest,
        usize::MAX,
        Fault::Status(
            503,
            vec![("ratelimit-remaining".to_string(), "0;w=21600".to_string())],
        ),
    );
    let reference = format!("{}/library/python:3.12", proxy.host());
    let error = runtime()
        .block_on(resolver(&proxy).resolve(&lookup(&reference)))
        .unwrap_err();
    let message = error.to_string();
    assert_eq!(
        message,
        format!(
            "{reference}: HTTP 503, ratelimit-remaining: 0;w=21600 (registry {})",
            proxy.host()
        )
    );
    assert_eq!(proxy.count(Kind::HeadManifest), 4, "four attempts");
}

#[test]
fn exhausted_rate_limit_says_rate_limited() {
    let (registry, proxy) = proxied_registry();
    registry.push_image("library/python", "3.12", ImageKind::Oci);
    proxy.fail(
        Kind::HeadManifest,
        usize::MAX,
        Fault::Status(
            429,
            vec![
                ("Retry-After".to_string(), "0".to_string()),
                ("ratelimit-remaining".to_string(), "0".to_string()),
            ],
        ),
    );
    let reference = format!("{}/library/python:3.12", proxy.host());
    let error = runtime()
        .block_on(resolver(&proxy).resolve(&lookup(&reference)))
        .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with(&reference), "{message}");
    assert!(
        message.contains("rate limited (HTTP 429), ratelimit-remaining: 0"),
        "{message}"
    );
    assert!(message.contains(&proxy.host()), "{message}");
    assert_eq!(proxy.count(Kind::HeadManifest), 4);
}

#[test]
fn missing_tag_is_not_retried() {
    let (registry, proxy) = proxied_registry();
    registry.push_image("library/python", "3.12", ImageKind::Oci);
    let reference = format!("{}/library/python:2.7", proxy.host());
    let error = runtime()
        .block_on(resolver(&proxy).resolve(&lookup(&reference)))
        .unwrap_err();
    assert!(error.to_string().contains("tag not found"), "{error}");
    assert_eq!(proxy.count(Kind::HeadManifest), 1);
}

#[test]
fn refused_token_is_not_retried() {
    let registry = Registry::start_with_token_auth(TokenOptions {
        anonymous_pull: false,
        users: Vec::new(),
    });
    let realm = registry.token_server().unwrap().realm();
    let proxy = Proxy::start_with_token(registry.host(), &realm, Duration::ZERO);
    registry.push_image("private/app", "1", ImageKind::Oci);
    let reference = format!("{}/private/app:1", proxy.host());
    let error = runtime()
        .block_on(resolver(&proxy).resolve(&lookup(&reference)))
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("token endpoint refused no credentials"),
        "{message}"
    );
    assert_eq!(proxy.count(Kind::Token), 1);
    assert_eq!(proxy.count(Kind::HeadManifest), 0);
}

#[test]
fn requests_in_flight_to_one_host_stay_under_the_cap() {
    let registry = Registry::start();
    let mut lookups = Vec::new();
    let proxy = Proxy::start_with_token(
        registry.host(),
        "http://unused/token",
        Duration::from_millis(30),
    );
    for i in 0..12 {
        let repository = format!("team/app{i}");
        let pushed = registry.push_image(&repository, "1", ImageKind::Oci);
        lookups.push((
            lookup(&format!("{}/{repository}:1", proxy.host())),
            pushed.digest,
        ));
    }
    let resolver = resolver(&proxy).with_per_host_jobs(3);
    let results = runtime().block_on(resolve_all(
        &resolver,
        lookups.iter().map(|(l, _)| l.clone()),
        32,
        |_| {},
    ));
    for (lookup, expected) in &lookups {
        assert_eq!(results[lookup].as_ref().unwrap().as_str(), expected);
    }
    assert_eq!(proxy.count(Kind::HeadManifest), 12);
    assert!(proxy.most_in_flight() <= 3, "{}", proxy.most_in_flight());
    assert!(proxy.most_in_flight() >= 2, "{}", proxy.most_in_flight());
}

#[test]
fn a_token_the_registry_refuses_is_renewed_once_and_the_head_sent_again() {
    let (registry, proxy) = proxied_registry();
    let pushed = registry.push_image("library/python", "3.12", ImageKind::Oci);
    // The first token grants nothing: the registry answers 401 to a token the
    // resolver still thinks valid.
    registry.token_server().unwrap().spoil_next(1);
    let reference = format!("{}/library/python:3.12", proxy.host());
    let digest = runtime()
        .block_on(resolver(&proxy).resolve(&lookup(&reference)))
        .unwrap();
    assert_eq!(digest.as_str(), pushed.digest);
    assert_eq!(
        counts(&proxy),
        BTreeMap::from([(Kind::Ping, 1), (Kind::Token, 2), (Kind::HeadManifest, 2)]),
        "{:#?}",
        proxy.log()
    );
}

#[test]
fn a_head_refused_after_a_new_token_says_not_found_or_not_authorized() {
    // Docker Hub answers 401, not 404, for a repository that does not exist: its
    // token server drops the scope without saying so, as for a private one.
    let (registry, proxy) = proxied_registry();
    registry.push_image("library/python", "3.12", ImageKind::Oci);
    registry.token_server().unwrap().spoil_next(u64::MAX);
    let reference = format!("{}/library/pyhton:3.12", proxy.host());
    let error = runtime()
        .block_on(resolver(&proxy).resolve(&lookup(&reference)))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{reference}: repository not found or not authorized (no credentials) (registry {})",
            proxy.host()
        )
    );
    assert_eq!(proxy.count(Kind::Token), 2, "one new token, not more");
    assert_eq!(proxy.count(Kind::HeadManifest), 2, "one retry, not more");
}

#[test]
fn a_token_server_that_drops_scopes_of_a_batch_gets_one_repository_per_token_from_then_on() {
    let (registry, proxy) = proxied_registry();
    let mut lookups = Vec::new();
    for i in 0..5 {
        let repository = format!("team/app{i}");
        let pushed = registry.push_image(&repository, "1", ImageKind::Oci);
        lookups.push((
            lookup(&format!("{}/{repository}:1", proxy.host())),
            pushed.digest,
        ));
    }
    let tokens = registry.token_server().unwrap();
    tokens.grant_first_scope_only(true);
    let resolver = resolver(&proxy);
    let resolve = |lookups: &[(Lookup, String)]| {
        // Planned as `resolve_all` plans, then one lookup at a time, so that the counts
        // are exact.
        let planned: Vec<Lookup> = lookups.iter().map(|(l, _)| l.clone()).collect();
        resolver.prepare(&planned, 1);
        for (lookup, expected) in lookups {
            let digest = runtime().block_on(resolver.resolve(lookup)).unwrap();
            assert_eq!(digest.as_str(), expected);
        }
    };
    resolve(&lookups[..3]);
    // app0: the batch of three (only app0 granted), HEAD. app1: HEAD refused, a token
    // for app1 alone, HEAD again; batching stops. app2: a token of its own, HEAD.
    let lists = tokens.scope_lists();
    let sizes: Vec<usize> = lists.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 1, 1], "{lists:?}");
    assert_eq!(proxy.count(Kind::HeadManifest), 3 + 1);
    // The registry is remembered: later lookups ask one repository per token.
    resolve(&lookups[3..]);
    let sizes: Vec<usize> = tokens.scope_lists().iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 1, 1, 1, 1]);
    assert_eq!(proxy.count(Kind::HeadManifest), 3 + 1 + 2);
}

#[test]
fn token_requests_count_against_the_realms_host_not_the_registrys() {
    let registry = Registry::start_with_token_auth(TokenOptions::default());
    let realm = registry.token_server().unwrap().realm();
    let proxy = Proxy::start_with_token(registry.host(), &realm, Duration::from_millis(50));
    let mut lookups = Vec::new();
    for i in 0..6 {
        let repository = format!("team/app{i}");
        registry.push_image(&repository, "1", ImageKind::Oci);
        lookups.push(lookup(&format!("{}/{repository}:1", proxy.host())));
    }
    let resolver = resolver(&proxy).with_per_host_jobs(1);
    // Not through `resolve_all`: no batches, one token per repository.
    let results = runtime().block_on(futures::future::join_all(
        lookups.iter().map(|l| resolver.resolve(l)),
    ));
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(proxy.count(Kind::Token), 6);
    // One request at the registry and one at the realm's host at a time.
    assert_eq!(proxy.most_in_flight(), 2);
}
