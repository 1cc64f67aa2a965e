//! Credentials from Docker's `config.json`, credential helpers and Podman's `auth.json`,
//! against real registries with basic auth and with the token flow. No message may
//! carry a secret.

use crate::support;

use std::path::Path;
use std::time::Duration;

use pin::reference::ImageRef;
use pin_registry::credentials::CredentialSources;
use pin_registry::{Lookup, ResolveError, ResolveErrorKind, Resolver};
use pin_registry::{RegistryConfig, RegistryResolver};
use support::{ImageKind, Registry, TokenOptions, pin_cmd, runtime};

const USER: &str = "alice";
const SECRET: &str = "s3cret-Pa55word-do-not-print";

fn base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A temp folder with `config.json` holding `config` (a JSON value).
fn docker_config(config: serde_json::Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    dir
}

fn sources(dir: &Path) -> CredentialSources {
    CredentialSources {
        docker_config: Some(dir.join("config.json")),
        ..CredentialSources::none()
    }
}

#[allow(clippy::result_large_err)]
fn resolve(
    registry: &Registry,
    sources: CredentialSources,
    repository: &str,
) -> Result<String, ResolveError> {
    let resolver = RegistryResolver::new(RegistryConfig {
        insecure: vec![registry.host().to_string()],
        ..RegistryConfig::default()
    })
    .unwrap()
    .with_credentials(sources);
    let reference = format!("{}/{repository}", registry.host());
    let lookup = Lookup::of(&ImageRef::parse(&reference).unwrap());
    runtime()
        .block_on(resolver.resolve(&lookup))
        .map(|d| d.as_str().to_string())
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET), "secret leaked: {text}");
    assert!(
        !text.contains(&base64(&format!("{USER}:{SECRET}"))),
        "encoded secret leaked: {text}"
    );
}

#[test]
fn basic_auth_with_base64_auth_entry() {
    let registry = Registry::start_with_basic_auth(&[(USER, SECRET)]);
    let pushed = registry.push_image("team/app", "1", ImageKind::Oci);
    let dir = docker_config(serde_json::json!({
        "auths": {registry.host(): {"auth": base64(&format!("{USER}:{SECRET}"))}}
    }));
    let digest = resolve(&registry, sources(dir.path()), "team/app:1").unwrap();
    assert_eq!(digest, pushed.digest);
}

#[test]
fn basic_auth_with_username_and_password_entry() {
    let registry = Registry::start_with_basic_auth(&[(USER, SECRET)]);
    let pushed = registry.push_image("team/app", "1", ImageKind::Docker);
    let dir = docker_config(serde_json::json!({
        "auths": {format!("http://{}", registry.host()): {"username": USER, "password": SECRET}}
    }));
    let digest = resolve(&registry, sources(dir.path()), "team/app:1").unwrap();
    assert_eq!(digest, pushed.digest);
}

#[test]
fn wrong_password_is_unauthorized_naming_the_source_not_the_secret() {
    let registry = Registry::start_with_basic_auth(&[(USER, "the-right-one")]);
    registry.push_image("team/app", "1", ImageKind::Oci);
    let dir = docker_config(serde_json::json!({
        "auths": {registry.host(): {"auth": base64(&format!("{USER}:{SECRET}"))}}
    }));
    let error = resolve(&registry, sources(dir.path()), "team/app:1").unwrap_err();
    let config = dir.path().join("config.json");
    assert_eq!(
        error.kind,
        ResolveErrorKind::Unauthorized {
            tried: format!(
                "credentials for {} from {}",
                registry.host(),
                config.display()
            )
        }
    );
    assert_no_secret(&format!("{error} {error:?}"));
}

/// `docker-credential-pintest` in a temp folder: answers `USER`/`SECRET` and records
/// the server it was asked for in `asked`; `hang` makes it sleep instead.
fn helper_dir(hang: bool) -> (tempfile::TempDir, std::ffi::OsString) {
    let dir = tempfile::tempdir().unwrap();
    let asked = dir.path().join("asked");
    let body = if hang {
        "exec sleep 60\n".to_string()
    } else {
        format!(
            "read server\nprintf '%s' \"$server\" > '{}'\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{SECRET}\"}}' \"$server\"\n",
            asked.display()
        )
    };
    let script = dir.path().join("docker-credential-pintest");
    std::fs::write(
        &script,
        format!("#!/bin/sh\n[ \"$1\" = get ] || exit 1\n{body}"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut path = std::ffi::OsString::from(dir.path());
    path.push(":/usr/bin:/bin");
    (dir, path)
}

fn asked(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("asked")).unwrap_or_default()
}

#[test]
fn credential_helper_from_cred_helpers() {
    let registry = Registry::start_with_basic_auth(&[(USER, SECRET)]);
    let pushed = registry.push_image("team/app", "1", ImageKind::Oci);
    let (helpers, path) = helper_dir(false);
    let dir = docker_config(serde_json::json!({
        "credHelpers": {registry.host(): "pintest"},
        "credsStore": "not-installed"
    }));
    let sources = CredentialSources {
        helper_path: Some(path),
        ..sources(dir.path())
    };
    let digest = resolve(&registry, sources, "team/app:1").unwrap();
    assert_eq!(digest, pushed.digest);
    assert_eq!(asked(helpers.path()), registry.host());
}

#[test]
fn credential_helper_from_creds_store() {
    let registry = Registry::start_with_token_auth(TokenOptions {
        anonymous_pull: false,
        users: vec![(USER.to_string(), SECRET.to_string())],
    });
    let pushed = registry.push_image("private/app", "1", ImageKind::Oci);
    let (helpers, path) = helper_dir(false);
    let dir = docker_config(serde_json::json!({"auths": {}, "credsStore": "pintest"}));
    let sources = CredentialSources {
        helper_path: Some(path),
        ..sources(dir.path())
    };
    let digest = resolve(&registry, sources, "private/app:1").unwrap();
    assert_eq!(digest, pushed.digest);
    assert_eq!(asked(helpers.path()), registry.host());
}

#[test]
fn hanging_helper_is_stopped_with_a_clear_error() {
    let registry = Registry::start_with_basic_auth(&[(USER, SECRET)]);
    registry.push_image("team/app", "1", ImageKind::Oci);
    let (_helpers, path) = helper_dir(true);
    let dir = docker_config(serde_json::json!({"credHelpers": {registry.host(): "pintest"}}));
    let sources = CredentialSources {
        helper_path: Some(path),
        helper_timeout: Some(Duration::from_millis(500)),
        ..sources(dir.path())
    };
    let error = resolve(&registry, sources, "team/app:1").unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&format!(
            "credential helper docker-credential-pintest did not answer within 0.5 s for {}",
            registry.host()
        )),
        "{message}"
    );
}

#[test]
fn podman_auth_file() {
    let registry = Registry::start_with_basic_auth(&[(USER, SECRET)]);
    let pushed = registry.push_image("team/app", "1", ImageKind::Oci);
    let dir = tempfile::tempdir().unwrap();
    let auth_file = dir.path().join("auth.json");
    let auth = serde_json::json!({
        "auths": {registry.host(): {"auth": base64(&format!("{USER}:{SECRET}"))}}
    });
    std::fs::write(&auth_file, auth.to_string()).unwrap();
    let sources = CredentialSources {
        auth_files_first: vec![auth_file],
        ..CredentialSources::none()
    };
    let digest = resolve(&registry, sources, "team/app:1").unwrap();
    assert_eq!(digest, pushed.digest);
}

#[test]
fn token_auth_sends_credentials_to_the_realm_once_per_repository() {
    let registry = Registry::start_with_token_auth(TokenOptions {
        anonymous_pull: false,
        users: vec![(USER.to_string(), SECRET.to_string())],
    });
    let pushed = registry.push_image("private/app", "1", ImageKind::OciIndex(&["linux/amd64"]));
    let dir = docker_config(serde_json::json!({
        "auths": {registry.host(): {"auth": base64(&format!("{USER}:{SECRET}"))}}
    }));
    let digest = resolve(&registry, sources(dir.path()), "private/app:1").unwrap();
    assert_eq!(digest, pushed.digest);
    let tokens = registry.token_server().unwrap();
    assert_eq!(tokens.requests_for("repository:private/app:pull"), 1);
    assert_eq!(tokens.total_requests(), 1);
}

#[test]
fn token_refused_for_wrong_credentials_names_the_source_not_the_secret() {
    let registry = Registry::start_with_token_auth(TokenOptions {
        anonymous_pull: false,
        users: vec![(USER.to_string(), "the-right-one".to_string())],
    });
    registry.push_image("private/app", "1", ImageKind::Oci);
    let dir = docker_config(serde_json::json!({
        "auths": {registry.host(): {"username": USER, "password": SECRET}}
    }));
    let error = resolve(&registry, sources(dir.path()), "private/app:1").unwrap_err();
    let message = error.to_string();
    let config = dir.path().join("config.json");
    assert!(
        message.contains(&format!(
            "token request failed: token endpoint refused credentials for {} from {} (HTTP 401): incorrect username or password",
            registry.host(),
            config.display()
        )),
        "{message}"
    );
    assert_no_secret(&format!("{message} {error:?}"));
}

#[test]
fn identity_token_is_exchanged_with_the_oauth2_refresh_token_post() {
    let registry = Registry::start_with_token_auth(TokenOptions {
        anonymous_pull: false,
        users: Vec::new(),
    });
    let tokens = registry.token_server().unwrap();
    tokens.accept_refresh_token(SECRET, USER);
    let pushed = registry.push_image("private/app", "1", ImageKind::Oci);
    let dir = docker_config(serde_json::json!({
        "auths": {registry.host(): {"identitytoken": SECRET}}
    }));
    let digest = resolve(&registry, sources(dir.path()), "private/app:1").unwrap();
    assert_eq!(digest, pushed.digest);
    assert_eq!(tokens.requests_for("repository:private/app:pull"), 1);

    let stale = docker_config(serde_json::json!({
        "auths": {registry.host(): {"identitytoken": "revoked-refresh-token"}}
    }));
    let error = resolve(&registry, sources(stale.path()), "private/app:1").unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("(HTTP 401): invalid refresh token"),
        "{message}"
    );
    assert!(!message.contains("revoked-refresh-token"), "{message}");
}

#[test]
#[allow(clippy::result_large_err)]
fn a_mirror_is_shown_its_own_credentials_not_docker_hubs() {
    let mirror = Registry::start_with_basic_auth(&[(USER, SECRET)]);
    let pushed = mirror.push_image("library/python", "3.12", ImageKind::Oci);
    let resolve_through_mirror = |config: serde_json::Value| {
        let dir = docker_config(config);
        let resolver = RegistryResolver::new(RegistryConfig {
            mirrors: vec![format!("docker.io={}", mirror.host()).parse().unwrap()],
            insecure: vec![mirror.host().to_string()],
            ..RegistryConfig::default()
        })
        .unwrap()
        .with_credentials(sources(dir.path()));
        let lookup = Lookup::of(&ImageRef::parse("python:3.12").unwrap());
        runtime().block_on(resolver.resolve(&lookup))
    };
    let encoded = base64(&format!("{USER}:{SECRET}"));
    let digest = resolve_through_mirror(serde_json::json!({
        "auths": {mirror.host(): {"auth": encoded}}
    }))
    .unwrap();
    assert_eq!(digest.as_str(), pushed.digest);
    // Docker Hub's credentials are not sent to the mirror.
    let error = resolve_through_mirror(serde_json::json!({
        "auths": {"https://index.docker.io/v1/": {"auth": encoded}}
    }))
    .unwrap_err();
    assert_eq!(
        error.kind,
        ResolveErrorKind::Unauthorized {
            tried: "no credentials".to_string()
        }
    );
    assert_eq!(error.host, mirror.host());
}

/// A tree with one Dockerfile naming `image`.
fn tree_with(image: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), format!("FROM {image}\n")).unwrap();
    dir
}

fn run_pin(
    registry: &Registry,
    docker_config_dir: &Path,
    tree: &Path,
    path_var: Option<&std::ffi::OsStr>,
) -> std::process::Output {
    let mut cmd = pin_cmd();
    cmd.env("DOCKER_CONFIG", docker_config_dir)
        .args(["--insecure-registry", registry.host()])
        .args(["--format", "json"])
        .arg(tree);
    if let Some(path) = path_var {
        cmd.env("PATH", path);
    }
    cmd.output().expect("run pin")
}

fn all_output(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn pin_binary_uses_docker_config_and_never_prints_the_secret() {
    let registry = Registry::start_with_basic_auth(&[(USER, SECRET)]);
    let pushed = registry.push_image("team/app", "1", ImageKind::Oci);
    let image = format!("{}/team/app:1", registry.host());
    let tree = tree_with(&image);

    let good = docker_config(serde_json::json!({
        "auths": {registry.host(): {"auth": base64(&format!("{USER}:{SECRET}"))}}
    }));
    let output = run_pin(&registry, good.path(), tree.path(), None);
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("{image}@{}", pushed.digest)),
        "{text}"
    );
    assert_no_secret(&text);

    // Through a helper, with the wrong secret: exit 2, the source named, no secret.
    let (_helpers, path) = helper_dir(false);
    let wrong = Registry::start_with_basic_auth(&[(USER, "the-right-one")]);
    wrong.push_image("team/app", "1", ImageKind::Oci);
    let helper_config =
        docker_config(serde_json::json!({"credHelpers": {wrong.host(): "pintest"}}));
    let tree = tree_with(&format!("{}/team/app:1", wrong.host()));
    let output = run_pin(&wrong, helper_config.path(), tree.path(), Some(&path));
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("not authorized (credential helper docker-credential-pintest)"),
        "{text}"
    );
    assert_no_secret(&text);
    // Podman's auth.json named by REGISTRY_AUTH_FILE, with an empty Docker config.
    let auth_dir = tempfile::tempdir().unwrap();
    let auth_file = auth_dir.path().join("auth.json");
    let auth = serde_json::json!({
        "auths": {wrong.host(): {"auth": base64(&format!("{USER}:the-right-one"))}}
    });
    std::fs::write(&auth_file, auth.to_string()).unwrap();
    let empty = docker_config(serde_json::json!({}));
    let output = pin_cmd()
        .env("DOCKER_CONFIG", empty.path())
        .env("REGISTRY_AUTH_FILE", &auth_file)
        .args(["--insecure-registry", wrong.host()])
        .arg(tree.path())
        .output()
        .expect("run pin");
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("@sha256:"), "{text}");
}

#[test]
fn helper_secret_never_reaches_debug_output() {
    let (_helpers, path) = helper_dir(false);
    let dir = docker_config(serde_json::json!({"credHelpers": {"ghcr.io": "pintest"}}));
    let store = pin_registry::credentials::CredentialStore::new(CredentialSources {
        helper_path: Some(path),
        ..sources(dir.path())
    });
    let found = store.for_host("ghcr.io").unwrap();
    assert_eq!(found.source, "credential helper docker-credential-pintest");
    assert!(found.credential.is_some());
    assert_no_secret(&format!("{found:?} {store:?}"));
}

#[test]
fn an_unparsable_config_json_is_a_warning_and_registries_go_on_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, "{\"auths\": {\"broken").unwrap();
    let token = Registry::start_with_token_auth(TokenOptions::default());
    let public = token.push_image("library/python", "3.12", ImageKind::Oci);
    let basic = Registry::start_with_basic_auth(&[(USER, SECRET)]);
    basic.push_image("team/app", "1", ImageKind::Oci);
    let resolver = RegistryResolver::new(RegistryConfig {
        insecure: vec![token.host().to_string(), basic.host().to_string()],
        ..RegistryConfig::default()
    })
    .unwrap()
    .with_credentials(sources(dir.path()));
    let lookup_of = |reference: String| Lookup::of(&ImageRef::parse(&reference).unwrap());
    // A token registry that lets anyone pull resolves anonymously.
    let digest = runtime()
        .block_on(resolver.resolve(&lookup_of(format!("{}/library/python:3.12", token.host()))))
        .unwrap();
    assert_eq!(digest.as_str(), public.digest);
    // One that needs the credentials is refused, and says why none were sent.
    let error = runtime()
        .block_on(resolver.resolve(&lookup_of(format!("{}/team/app:1", basic.host()))))
        .unwrap_err();
    let ResolveErrorKind::Unauthorized { tried } = &error.kind else {
        panic!("{error:?}");
    };
    let warning = format!(
        "{} is not a valid credentials file (EOF while parsing a string at line 1 column 18); \
         its credentials are not used",
        config.display()
    );
    assert_eq!(*tried, format!("no credentials: {warning}"));
    // The warning is there for the user, once.
    assert_eq!(resolver.warnings(), [warning]);
}
