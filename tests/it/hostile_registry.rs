//! A registry that may be compromised: it sends endless bodies, never answers,
//! redirects our credentials elsewhere, or names a token realm of its choosing. `pin`
//! must stay bounded in memory and time and keep every secret where it belongs.
//!
//! Scripted registries ([`FakeRegistry`]) on several loopback addresses and ports stand
//! for different hosts.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use pin::reference::ImageRef;
use pin_registry::credentials::CredentialSources;
use pin_registry::{Lookup, ResolveError, ResolveErrorKind, Resolver, resolve_all};
use pin_registry::{RegistryConfig, RegistryResolver};
use support::{FakeRegistry, FakeResponse, runtime};

const USER: &str = "alice";
const SECRET: &str = "hostile-s3cret-Pa55word";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/// What a hostile registry offers to send.
const HUGE: u64 = 64 * 1024 * 1024;

fn lookup(reference: &str) -> Lookup {
    Lookup::of(&ImageRef::parse(reference).expect("valid reference"))
}

fn base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A resolver speaking plain HTTP to `hosts`, with credentials from `config` (a
/// `config.json` folder) or none.
fn resolver(hosts: &[String], config: Option<&Path>) -> RegistryResolver {
    RegistryResolver::new(RegistryConfig {
        insecure: hosts.to_vec(),
        ..RegistryConfig::default()
    })
    .unwrap()
    .with_credentials(CredentialSources {
        docker_config: config.map(|dir| dir.join("config.json")),
        ..CredentialSources::none()
    })
}

#[allow(clippy::result_large_err)]
fn resolve(resolver: &RegistryResolver, reference: &str) -> Result<String, ResolveError> {
    runtime()
        .block_on(resolver.resolve(&lookup(reference)))
        .map(|d| d.as_str().to_string())
}

/// A temp folder with a `config.json` holding basic credentials for `hosts`.
fn docker_config(hosts: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let auths: serde_json::Map<String, serde_json::Value> = hosts
        .iter()
        .map(|host| {
            (
                host.clone(),
                serde_json::json!({"auth": base64(&format!("{USER}:{SECRET}"))}),
            )
        })
        .collect();
    let config = serde_json::json!({ "auths": auths });
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    dir
}

fn basic_header() -> String {
    format!("Basic {}", base64(&format!("{USER}:{SECRET}")))
}

/// A manifest answer for `HEAD` carrying its digest.
fn manifest_head(media_type: &str) -> FakeResponse {
    FakeResponse::status(200)
        .header("Docker-Content-Digest", DIGEST)
        .header("Content-Type", media_type)
}

/// Asserts the error names the registry and the limit, the run ended quickly, and the
/// fake was not allowed to send the whole body.
fn assert_refused_big_body(
    error: &ResolveError,
    fake: &FakeRegistry,
    limit: &str,
    started: Instant,
) {
    let message = error.to_string();
    assert!(
        message.contains(&format!("{} sent a", fake.host())) && message.contains(limit),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    // The cap plus what the kernel's socket buffers took before the client hung up.
    assert!(
        fake.body_bytes_sent() < 24 * 1024 * 1024,
        "the fake wrote {} bytes",
        fake.body_bytes_sent()
    );
}

#[test]
fn endless_index_body_for_platform_is_cut_at_the_manifest_cap() {
    let fake = FakeRegistry::start();
    fake.on("HEAD", "/v2/team/app/manifests/1", manifest_head(OCI_INDEX));
    // No Content-Length: only reading chunk by chunk can stop it.
    fake.on(
        "GET",
        &format!("/v2/team/app/manifests/{DIGEST}"),
        FakeResponse::endless(HUGE, false),
    );
    let resolver = RegistryResolver::new(RegistryConfig {
        insecure: vec![fake.host()],
        platform: Some("linux/amd64".parse().unwrap()),
        ..RegistryConfig::default()
    })
    .unwrap()
    .with_credentials(CredentialSources::none());
    let started = Instant::now();
    let error = resolve(&resolver, &format!("{}/team/app:1", fake.host())).unwrap_err();
    assert_refused_big_body(&error, &fake, "the 4 MiB limit", started);
    assert!(
        error.to_string().contains("manifest, index or config"),
        "{error}"
    );
    // Refused, not retried.
    let gets = fake
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /v2/team"))
        .count();
    assert_eq!(gets, 1, "{:?}", fake.requests());
}

#[test]
fn huge_body_of_the_get_fallback_is_refused_by_its_content_length() {
    let fake = FakeRegistry::start();
    // A HEAD without Docker-Content-Digest makes the resolver GET the manifest.
    fake.on(
        "HEAD",
        "/v2/team/app/manifests/1",
        FakeResponse::status(200).header("Content-Type", OCI_MANIFEST),
    );
    fake.on(
        "GET",
        "/v2/team/app/manifests/1",
        FakeResponse::endless(HUGE, true),
    );
    let resolver = resolver(&[fake.host()], None);
    let started = Instant::now();
    let error = resolve(&resolver, &format!("{}/team/app:1", fake.host())).unwrap_err();
    assert_refused_big_body(&error, &fake, "the 4 MiB limit", started);
}

#[test]
fn endless_token_answer_is_cut_at_the_token_cap() {
    let registry = FakeRegistry::start();
    let auth = FakeRegistry::start();
    challenge(&registry, &auth.url());
    auth.on("GET", "/token", FakeResponse::endless(HUGE, false));
    let resolver = resolver(&[registry.host(), auth.host()], None);
    let started = Instant::now();
    let error = resolve(&resolver, &format!("{}/team/app:1", registry.host())).unwrap_err();
    assert!(
        matches!(error.kind, ResolveErrorKind::Token(_)),
        "{error:?}"
    );
    assert_refused_big_body(&error, &auth, "the 1 MiB limit", started);
    assert!(error.to_string().contains("token answer"), "{error}");
}

#[test]
fn registry_that_never_answers_times_out_and_the_rest_of_the_run_completes() {
    let silent = FakeRegistry::start();
    silent.on("GET", "/v2/", FakeResponse::silence());
    let healthy = FakeRegistry::start();
    healthy.on(
        "HEAD",
        "/v2/team/app/manifests/1",
        manifest_head(OCI_MANIFEST),
    );
    let resolver = resolver(&[silent.host(), healthy.host()], None)
        .with_request_timeout(Duration::from_millis(300));
    let silent_ref = lookup(&format!("{}/team/app:1", silent.host()));
    let healthy_ref = lookup(&format!("{}/team/app:1", healthy.host()));
    let started = Instant::now();
    let results = runtime().block_on(resolve_all(
        &resolver,
        [silent_ref.clone(), healthy_ref.clone()],
        4,
        |_| {},
    ));
    let elapsed = started.elapsed();
    assert_eq!(results[&healthy_ref].as_ref().unwrap().as_str(), DIGEST);
    let message = results[&silent_ref].as_ref().unwrap_err().to_string();
    assert_eq!(
        message,
        format!(
            "{}/team/app:1: timed out after 0.3 s (4 attempts, no complete answer) (registry {})",
            silent.host(),
            silent.host()
        )
    );
    // Four attempts of 0.3 s and at most 1.75 s of backoff.
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
    assert_eq!(silent.requests().len(), 4, "{:?}", silent.requests());
}

#[test]
fn the_lookup_deadline_holds_whatever_the_request_timeout() {
    let silent = FakeRegistry::start();
    silent.on("GET", "/v2/", FakeResponse::silence());
    let resolver = resolver(&[silent.host()], None)
        .with_request_timeout(Duration::from_secs(60))
        .with_lookup_deadline(Duration::from_secs(1));
    let started = Instant::now();
    let error = resolve(&resolver, &format!("{}/team/app:1", silent.host())).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{}/team/app:1: timed out after 1 s (the deadline for one lookup, retries included) (registry {})",
            silent.host(),
            silent.host()
        )
    );
}

/// The `Authorization` of every request `fake` received, as `(request, header)`.
fn authorizations(fake: &FakeRegistry) -> Vec<(String, Option<String>)> {
    fake.received()
        .into_iter()
        .map(|r| {
            let header = r.header("authorization").map(str::to_string);
            (r.line, header)
        })
        .collect()
}

fn assert_no_authorization(fake: &FakeRegistry) {
    let seen = authorizations(fake);
    assert!(!seen.is_empty(), "the other host was never asked");
    assert!(
        seen.iter().all(|(_, header)| header.is_none()),
        "credentials reached {}: {seen:?}",
        fake.host()
    );
}

#[test]
fn basic_credentials_do_not_follow_a_redirect_to_another_host() {
    let registry = FakeRegistry::start();
    let other = FakeRegistry::start_on("127.0.0.2");
    registry.on(
        "GET",
        "/v2/",
        FakeResponse::status(401).header("WWW-Authenticate", "Basic realm=\"r\""),
    );
    // A same-host hop first (harmless, credentials kept), then off to another host.
    registry.on(
        "HEAD",
        "/v2/team/app/manifests/1",
        FakeResponse::redirect(307, "/v2/team/app/manifests/moved"),
    );
    registry.on(
        "HEAD",
        "/v2/team/app/manifests/moved",
        FakeResponse::redirect(307, &format!("{}/v2/team/app/manifests/1", other.url())),
    );
    other.on(
        "HEAD",
        "/v2/team/app/manifests/1",
        manifest_head(OCI_MANIFEST),
    );
    let config = docker_config(&[registry.host()]);
    let resolver = resolver(&[registry.host(), other.host()], Some(config.path()));
    let digest = resolve(&resolver, &format!("{}/team/app:1", registry.host())).unwrap();
    assert_eq!(digest, DIGEST);
    let at_home: Vec<_> = authorizations(&registry)
        .into_iter()
        .filter(|(line, _)| line.starts_with("HEAD"))
        .collect();
    assert_eq!(
        at_home,
        vec![
            (
                "HEAD /v2/team/app/manifests/1".to_string(),
                Some(basic_header())
            ),
            (
                "HEAD /v2/team/app/manifests/moved".to_string(),
                Some(basic_header())
            ),
        ]
    );
    assert_no_authorization(&other);
}

/// Make `registry` answer `/v2/` with a Bearer challenge naming the realm
/// `realm_base/token`.
fn challenge(registry: &FakeRegistry, realm_base: &str) {
    registry.on(
        "GET",
        "/v2/",
        FakeResponse::status(401).header(
            "WWW-Authenticate",
            &format!("Bearer realm=\"{realm_base}/token\",service=\"svc\""),
        ),
    );
}

/// A registry on 127.0.0.1 whose challenge names a realm on itself that mints
/// `TOKEN` for anyone.
const TOKEN: &str = "minted-bearer-token-do-not-forward";

fn bearer_registry() -> FakeRegistry {
    let registry = FakeRegistry::start();
    challenge(&registry, &registry.url());
    registry.on(
        "GET",
        "/token",
        FakeResponse::status(200)
            .header("Content-Type", "application/json")
            .body(format!("{{\"token\":\"{TOKEN}\",\"expires_in\":300}}").as_bytes()),
    );
    registry
}

#[test]
fn bearer_token_is_not_carried_along_a_redirect_chain_that_stays_on_another_host() {
    // reqwest's own policy would strip the header on the hop to 127.0.0.2 but put it
    // back on the next hop, which stays on 127.0.0.2.
    let registry = bearer_registry();
    let other = FakeRegistry::start_on("127.0.0.2");
    registry.on(
        "HEAD",
        "/v2/team/app/manifests/1",
        FakeResponse::redirect(307, &format!("{}/hop", other.url())),
    );
    other.on(
        "HEAD",
        "/hop",
        FakeResponse::redirect(308, &format!("{}/v2/team/app/manifests/1", other.url())),
    );
    other.on(
        "HEAD",
        "/v2/team/app/manifests/1",
        manifest_head(OCI_MANIFEST),
    );
    let resolver = resolver(&[registry.host(), other.host()], None);
    let digest = resolve(&resolver, &format!("{}/team/app:1", registry.host())).unwrap();
    assert_eq!(digest, DIGEST);
    let head = authorizations(&registry)
        .into_iter()
        .find(|(line, _)| line.starts_with("HEAD"))
        .unwrap();
    assert_eq!(head.1, Some(format!("Bearer {TOKEN}")));
    assert_eq!(
        other.requests(),
        vec!["HEAD /hop", "HEAD /v2/team/app/manifests/1"]
    );
    assert_no_authorization(&other);
}

#[test]
fn credentials_do_not_follow_a_redirect_to_another_port_of_the_same_address() {
    let registry = FakeRegistry::start();
    let other = FakeRegistry::start();
    registry.on(
        "GET",
        "/v2/",
        FakeResponse::status(401).header("WWW-Authenticate", "Basic realm=\"r\""),
    );
    // A GET this time: the HEAD has no digest, so the manifest is fetched.
    registry.on(
        "HEAD",
        "/v2/team/app/manifests/1",
        FakeResponse::status(200).header("Content-Type", OCI_MANIFEST),
    );
    registry.on(
        "GET",
        "/v2/team/app/manifests/1",
        FakeResponse::redirect(302, &format!("{}/blob", other.url())),
    );
    let manifest = br#"{"schemaVersion":2}"#;
    other.on(
        "GET",
        "/blob",
        FakeResponse::status(200)
            .header("Content-Type", OCI_MANIFEST)
            .body(manifest),
    );
    let config = docker_config(&[registry.host()]);
    let resolver = resolver(&[registry.host(), other.host()], Some(config.path()));
    let digest = resolve(&resolver, &format!("{}/team/app:1", registry.host())).unwrap();
    assert_eq!(digest, pin::reference::Digest::of_bytes(manifest).as_str());
    assert_no_authorization(&other);
}

#[test]
fn endless_redirects_end_with_a_clear_error() {
    let registry = FakeRegistry::start();
    registry.on(
        "HEAD",
        "/v2/team/app/manifests/1",
        FakeResponse::redirect(307, "/v2/team/app/manifests/1"),
    );
    let resolver = resolver(&[registry.host()], None);
    let error = resolve(&resolver, &format!("{}/team/app:1", registry.host())).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("redirect refused: more than 5 redirects"),
        "{error}"
    );
    let heads = registry
        .requests()
        .iter()
        .filter(|r| r.starts_with("HEAD"))
        .count();
    assert_eq!(heads, 6);
}

/// A registry whose challenge names the realm `auth/token`.
fn registry_with_realm(auth: &FakeRegistry) -> FakeRegistry {
    let registry = FakeRegistry::start();
    challenge(&registry, &auth.url());
    registry.on(
        "HEAD",
        "/v2/team/app/manifests/1",
        manifest_head(OCI_MANIFEST),
    );
    registry
}

#[test]
fn realm_on_another_host_gets_the_registrys_credentials_and_no_other_registrys() {
    let auth = FakeRegistry::start_on("127.0.0.2");
    auth.on(
        "GET",
        "/token",
        FakeResponse::status(200).body(format!("{{\"token\":\"{TOKEN}\"}}").as_bytes()),
    );
    let ours = registry_with_realm(&auth);
    let theirs = registry_with_realm(&auth);
    // Credentials for `ours` only.
    let config = docker_config(&[ours.host()]);
    let resolver = resolver(
        &[ours.host(), theirs.host(), auth.host()],
        Some(config.path()),
    );
    assert_eq!(
        resolve(&resolver, &format!("{}/team/app:1", ours.host())).unwrap(),
        DIGEST
    );
    assert_eq!(
        resolve(&resolver, &format!("{}/team/app:1", theirs.host())).unwrap(),
        DIGEST
    );
    // Docker's way: the realm `ours` named is shown `ours`'s credentials…
    let seen = authorizations(&auth);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].1, Some(basic_header()), "{seen:?}");
    // …and the same realm, named by `theirs`, is not.
    assert_eq!(seen[1].1, None, "{seen:?}");
    for registry in [&ours, &theirs] {
        let head = authorizations(registry)
            .into_iter()
            .find(|(line, _)| line.starts_with("HEAD"))
            .unwrap();
        assert_eq!(head.1, Some(format!("Bearer {TOKEN}")));
    }
}

#[test]
fn identity_token_post_is_never_redirected() {
    let auth = FakeRegistry::start();
    let elsewhere = FakeRegistry::start_on("127.0.0.2");
    auth.on(
        "POST",
        "/token",
        FakeResponse::redirect(307, &format!("{}/token", elsewhere.url())),
    );
    let registry = registry_with_realm(&auth);
    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({"auths": {registry.host(): {"identitytoken": SECRET}}});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let resolver = resolver(&[registry.host(), auth.host()], Some(dir.path()));
    let error = resolve(&resolver, &format!("{}/team/app:1", registry.host())).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("answered a POST with a redirect"),
        "{error}"
    );
    assert!(!error.to_string().contains(SECRET), "{error}");
    assert!(elsewhere.requests().is_empty());
}

/// A tree with one Dockerfile naming each of `images`.
fn tree_with(images: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text: String = images.iter().map(|i| format!("FROM {i}\n")).collect();
    std::fs::write(dir.path().join("Dockerfile"), text).unwrap();
    dir
}

/// `pin` as verbose as it gets, with `RUST_LOG=trace`, credentials from `config`, plain
/// HTTP to `hosts`; stdout and stderr together, and the exit code.
fn run_pin(config: &Path, hosts: &[String], tree: &Path, args: &[&str]) -> (String, Option<i32>) {
    let mut cmd = support::pin_cmd();
    cmd.env("DOCKER_CONFIG", config)
        .env("RUST_LOG", "trace")
        .env("RUST_BACKTRACE", "1")
        .args(args);
    for host in hosts {
        cmd.args(["--insecure-registry", host]);
    }
    let output = cmd.arg(tree).output().expect("run pin");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (text, output.status.code())
}

/// Neither the password, nor `user:password` in base64, nor any of `tokens`, nor a JWT
/// (they all start `eyJ`, base64 of `{"`).
fn assert_no_secret(text: &str, tokens: &[&str]) {
    assert!(!text.contains(SECRET), "password leaked: {text}");
    assert!(
        !text.contains(&base64(&format!("{USER}:{SECRET}"))),
        "encoded password leaked: {text}"
    );
    for token in tokens {
        assert!(!text.contains(token), "token leaked: {text}");
    }
    assert!(!text.contains("eyJ"), "a JWT leaked: {text}");
}

const VERBOSITIES: [&[&str]; 3] = [&["-v"], &["-vv", "--format", "json"], &["-vvv", "--write"]];

#[test]
fn pin_binary_never_prints_credentials_or_tokens_even_verbose_or_when_a_server_echoes_them() {
    // A bearer registry whose realm (another host) mints TOKEN for our credentials.
    let auth = FakeRegistry::start_on("127.0.0.2");
    auth.on(
        "GET",
        "/token",
        FakeResponse::status(200).body(format!("{{\"token\":\"{TOKEN}\"}}").as_bytes()),
    );
    let good = registry_with_realm(&auth);
    // A realm that refuses, quoting back the Authorization header and the password.
    let echoing = FakeRegistry::start_on("127.0.0.3");
    let echo = format!(
        "{{\"details\":\"bad credentials: Authorization: {} (password {SECRET})\"}}",
        basic_header()
    );
    echoing.on(
        "GET",
        "/token",
        FakeResponse::status(401).body(echo.as_bytes()),
    );
    let refused = registry_with_realm(&echoing);
    let hosts = [good.host(), refused.host(), auth.host(), echoing.host()];
    let config = docker_config(&[good.host(), refused.host()]);
    for args in VERBOSITIES {
        let tree = tree_with(&[
            format!("{}/team/app:1", good.host()),
            format!("{}/team/app:1", refused.host()),
        ]);
        let (text, code) = run_pin(config.path(), &hosts, tree.path(), args);
        assert_eq!(code, Some(2), "{args:?}: {text}");
        assert!(text.contains(DIGEST), "{args:?}: {text}");
        assert!(
            text.contains("(HTTP 401): bad credentials: Authorization: Basic *** (password ***)"),
            "{args:?}: {text}"
        );
        assert_no_secret(&text, &[TOKEN]);
    }
}

#[test]
fn pin_binary_never_prints_secrets_of_real_registries_even_verbose() {
    use support::{ImageKind, Registry, TokenOptions};
    // Basic auth, with the wrong password: an error is printed.
    let basic = Registry::start_with_basic_auth(&[(USER, "the-right-one")]);
    basic.push_image("team/app", "1", ImageKind::Oci);
    // Token auth with the right password: tokens are minted and used.
    let token = Registry::start_with_token_auth(TokenOptions {
        anonymous_pull: false,
        users: vec![(USER.to_string(), SECRET.to_string())],
    });
    let pushed = token.push_image("team/app", "1", ImageKind::OciIndex(&["linux/amd64"]));
    let hosts = [basic.host().to_string(), token.host().to_string()];
    let config = docker_config(&hosts);
    let tokens = token.token_server().unwrap();
    // Every JWT of this server starts with the same header (its key ID).
    let minted = tokens.mint(USER, "team/app", &["pull"]);
    let jwt_header = minted.split('.').next().unwrap().to_string();
    for args in VERBOSITIES {
        let tree = tree_with(&[
            format!("{}/team/app:1", basic.host()),
            format!("{}/team/app:1", token.host()),
        ]);
        let (text, code) = run_pin(config.path(), &hosts, tree.path(), args);
        assert_eq!(code, Some(2), "{args:?}: {text}");
        assert!(text.contains(&pushed.digest), "{args:?}: {text}");
        assert!(text.contains("not authorized (credentials for"), "{text}");
        assert_no_secret(&text, &[&minted, &jwt_header]);
    }
    assert!(tokens.requests_for("repository:team/app:pull") >= 1);
}

#[test]
fn token_with_an_absurd_lifetime_is_used_not_a_crash() {
    let auth = FakeRegistry::start_on("127.0.0.2");
    auth.on(
        "GET",
        "/token",
        FakeResponse::status(200)
            .body(format!("{{\"token\":\"{TOKEN}\",\"expires_in\":{}}}", u64::MAX).as_bytes()),
    );
    let registry = registry_with_realm(&auth);
    let resolver = resolver(&[registry.host(), auth.host()], None);
    let digest = resolve(&resolver, &format!("{}/team/app:1", registry.host())).unwrap();
    assert_eq!(digest, DIGEST);
}

#[test]
fn basic_credentials_for_the_realm_do_not_follow_its_redirect_to_another_host() {
    let auth = FakeRegistry::start_on("127.0.0.2");
    let elsewhere = FakeRegistry::start_on("127.0.0.3");
    auth.on(
        "GET",
        "/token",
        FakeResponse::redirect(302, &format!("{}/token", elsewhere.url())),
    );
    elsewhere.on(
        "GET",
        "/token",
        FakeResponse::status(200).body(format!("{{\"token\":\"{TOKEN}\"}}").as_bytes()),
    );
    let registry = registry_with_realm(&auth);
    let config = docker_config(&[registry.host()]);
    let resolver = resolver(
        &[registry.host(), auth.host(), elsewhere.host()],
        Some(config.path()),
    );
    resolve(&resolver, &format!("{}/team/app:1", registry.host())).unwrap();
    assert_eq!(authorizations(&auth)[0].1, Some(basic_header()));
    assert_no_authorization(&elsewhere);
}

/// Terminal control characters (ESC, BEL, CR, …) a hostile registry put in its text.
fn assert_printable(message: &str) {
    assert!(
        !message.chars().any(char::is_control),
        "control characters reach the terminal: {message:?}"
    );
}

#[test]
fn terminal_escapes_in_a_token_error_are_not_printed() {
    let auth = FakeRegistry::start_on("127.0.0.2");
    auth.on(
        "GET",
        "/token",
        FakeResponse::status(403)
            .body(br#"{"details":"denied\u001b[2K\u001b[1A\r pin: resolved everything\u0007"}"#),
    );
    let registry = registry_with_realm(&auth);
    let resolver = resolver(&[registry.host(), auth.host()], None);
    let error = resolve(&resolver, &format!("{}/team/app:1", registry.host())).unwrap_err();
    let message = error.to_string();
    assert_printable(&message);
    assert!(message.contains(r"denied\u{1b}[2K"), "{message}");
}

#[test]
fn terminal_escapes_in_an_index_are_not_printed() {
    let fake = FakeRegistry::start();
    let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","platform":{"os":"linux\u001b]0;owned\u0007","architecture":"amd64"}}]}"#;
    fake.on(
        "HEAD",
        "/v2/team/app/manifests/1",
        FakeResponse::status(200).header("Content-Type", OCI_INDEX),
    );
    fake.on(
        "GET",
        "/v2/team/app/manifests/1",
        FakeResponse::status(200)
            .header("Content-Type", OCI_INDEX)
            .body(index),
    );
    let resolver = RegistryResolver::new(RegistryConfig {
        insecure: vec![fake.host()],
        platform: Some("linux/arm64".parse().unwrap()),
        ..RegistryConfig::default()
    })
    .unwrap()
    .with_credentials(CredentialSources::none());
    let error = resolve(&resolver, &format!("{}/team/app:1", fake.host())).unwrap_err();
    assert!(
        matches!(error.kind, ResolveErrorKind::PlatformNotFound(_)),
        "{error:?}"
    );
    assert_printable(&error.to_string());
}

#[test]
fn a_long_echo_is_redacted_before_it_is_shortened() {
    let auth = FakeRegistry::start_on("127.0.0.2");
    // The secret straddles the 200 characters a message keeps of the details.
    let echo = format!(
        "{{\"details\":\"{}{}\"}}",
        "x".repeat(190),
        base64(&format!("{USER}:{SECRET}"))
    );
    auth.on(
        "GET",
        "/token",
        FakeResponse::status(401).body(echo.as_bytes()),
    );
    let registry = registry_with_realm(&auth);
    let config = docker_config(&[registry.host()]);
    let resolver = resolver(&[registry.host(), auth.host()], Some(config.path()));
    let message = resolve(&resolver, &format!("{}/team/app:1", registry.host()))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&format!("{}***", "x".repeat(190))),
        "{message}"
    );
    let encoded = base64(&format!("{USER}:{SECRET}"));
    assert!(!message.contains(&encoded[..8]), "{message}");
}

#[test]
fn a_body_that_trickles_in_is_cut_by_the_request_deadline() {
    let fake = FakeRegistry::start();
    fake.on(
        "HEAD",
        "/v2/team/app/manifests/1",
        FakeResponse::status(200).header("Content-Type", OCI_MANIFEST),
    );
    // 1000 bytes, one every 50 ms: 50 s in all, never silent for long.
    fake.on(
        "GET",
        "/v2/team/app/manifests/1",
        FakeResponse::trickle(1000, Duration::from_millis(50)),
    );
    let resolver = resolver(&[fake.host()], None).with_request_timeout(Duration::from_millis(400));
    let started = Instant::now();
    let error = resolve(&resolver, &format!("{}/team/app:1", fake.host())).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("timed out after 0.4 s (4 attempts, no complete answer)"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

/// A real HTTPS registry whose token realm is plain HTTP: the `pin` binary refuses to
/// send the credentials it holds for that registry there in clear text, and says how
/// to allow it (`--insecure-registry` for the realm's host).
#[test]
fn an_https_registry_naming_a_plain_http_realm_gets_no_credentials_sent_there() {
    use support::{ImageKind, Registry, TokenOptions, pin_cmd, read, tree};

    let registry = Registry::start_with_token_auth(TokenOptions {
        anonymous_pull: true,
        users: vec![(USER.to_string(), SECRET.to_string())],
    });
    let pushed = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let tls = registry.serve_over_tls();
    let tokens = registry.token_server().expect("a token server");
    let realm = tokens.realm();
    assert!(realm.starts_with("http://"), "{realm}");
    let realm_host = realm
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let config = docker_config(&[tls.host().to_string()]);
    let original = "FROM alpine:3.20\n";
    let dir = tree(&[("Dockerfile", original)]);
    let run = |extra: &[&str]| {
        pin_cmd()
            .current_dir(dir.path())
            .env("DOCKER_CONFIG", config.path())
            .args(["--write", "--mirror", &format!("docker.io={}", tls.host())])
            .args(["--ca-file", tls.ca_file().to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };

    let refused = run(&[]);
    assert_eq!(refused.status.code(), Some(2));
    let message = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(message.contains("Dockerfile:1"), "{message}");
    assert!(message.contains("not HTTPS"), "{message}");
    assert!(
        message.contains(&format!("--insecure-registry {realm_host}")),
        "says how to allow it: {message}"
    );
    assert!(!message.contains(SECRET), "{message}");
    assert_eq!(
        tokens.requests_with_credentials(),
        0,
        "nothing sent to the plain-HTTP realm"
    );
    assert_eq!(read(dir.path(), "Dockerfile"), original);

    // Naming the realm's host as insecure is the user's consent: credentials go there.
    let allowed = run(&["--insecure-registry", &realm_host]);
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    assert!(
        tokens.requests_with_credentials() >= 1,
        "credentials sent once allowed"
    );
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        format!("FROM alpine:3.20@{}\n", pushed.digest)
    );
}

#[test]
fn token_lifetimes_as_floats_strings_or_negative_are_used_not_refused() {
    for expires_in in ["300.0", "\"300\"", "-1", "1e308", "0.5", "null"] {
        let auth = FakeRegistry::start_on("127.0.0.2");
        auth.on(
            "GET",
            "/token",
            FakeResponse::status(200)
                .body(format!("{{\"token\":\"{TOKEN}\",\"expires_in\":{expires_in}}}").as_bytes()),
        );
        let registry = registry_with_realm(&auth);
        let resolver = resolver(&[registry.host(), auth.host()], None);
        let digest = resolve(&resolver, &format!("{}/team/app:1", registry.host()));
        assert_eq!(digest.unwrap(), DIGEST, "expires_in {expires_in}");
    }
}

#[test]
fn the_run_deadline_ends_every_lookup_behind_a_registry_that_rate_limits_forever() {
    let fake = FakeRegistry::start();
    let mut lookups = Vec::new();
    for i in 0..20 {
        fake.on(
            "HEAD",
            &format!("/v2/team/app{i}/manifests/1"),
            FakeResponse::status(429).header("Retry-After", "1"),
        );
        lookups.push(lookup(&format!("{}/team/app{i}:1", fake.host())));
    }
    let resolver = resolver(&[fake.host()], None).with_run_deadline(Duration::from_millis(1500));
    let started = Instant::now();
    // Four at a time: without the run's deadline, 20 lookups of 3 s of waits each.
    let results = runtime().block_on(resolve_all(&resolver, lookups, 4, |_| {}));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(results.len(), 20);
    for result in results.values() {
        let message = result.as_ref().unwrap_err().to_string();
        assert!(
            message.contains(
                "gave up: the run's deadline of 1.5 s passed (all lookups, retries included)"
            ),
            "{message}"
        );
    }
}
