//! Registry credentials, found where the Docker and Podman clients keep them.
//!
//! For a registry host, in this order:
//! 1. `$REGISTRY_AUTH_FILE` (Podman's explicit choice, so it wins when set);
//! 2. Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else
//!    `~/.docker/config.json`): `credHelpers[host]`, then `auths` (`auth` in base64,
//!    `username`/`password`, `identitytoken`), then `credsStore`;
//! 3. `$XDG_RUNTIME_DIR/containers/auth.json` (Podman's default, same format).
//!
//! The `auths` entries are decoded by the `docker_credential` crate (it knows Docker
//! Hub's spellings of the key). Helpers are run here instead, because the crate waits
//! for them forever and echoes their output in its errors: a helper that hangs is killed
//! after [`HELPER_TIMEOUT`], and a helper's output never reaches a message.
//!
//! Secrets live in [`Secret`], whose `Debug` and `Display` print `***`; messages name
//! only where credentials came from ([`Found::source`]).

use std::collections::HashMap;
use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use docker_credential::{CredentialRetrievalError, DockerCredential};
use serde::Deserialize;
use thiserror::Error;

/// Longest a credential helper may take to answer.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// The key Docker stores Docker Hub's credentials under, and asks helpers for.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A secret value: a password or a token. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What a registry may be shown. `Debug` names the kind only.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (or a personal access token used as one).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// An identity (refresh) token, exchanged at the token endpoint with OAuth2.
    IdentityToken(Secret),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { .. } => f.write_str("Basic { username: ***, password: *** }"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(***)"),
        }
    }
}

/// Why credentials for a host could not be looked up: a file that cannot be read, a
/// helper that fails or hangs. The text names where, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct CredentialError(pub String);

/// The credentials for one host and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `None`: anonymous.
    pub credential: Option<Credential>,
    /// For messages: "no credentials", "credentials for HOST from ~/.docker/config.json",
    /// "credential helper docker-credential-x".
    pub source: String,
}

impl Found {
    fn anonymous() -> Found {
        Found {
            credential: None,
            source: "no credentials".to_string(),
        }
    }
}

/// Where to look for credentials.
#[derive(Debug, Clone, Default)]
pub struct CredentialSources {
    /// Docker's `config.json`.
    pub docker_config: Option<PathBuf>,
    /// Podman `auth.json` files consulted before Docker's config.
    pub auth_files_first: Vec<PathBuf>,
    /// Podman `auth.json` files consulted after Docker's config.
    pub auth_files_last: Vec<PathBuf>,
    /// `PATH` for credential helpers (`None`: the process's own).
    pub helper_path: Option<std::ffi::OsString>,
    /// How long a helper may take (`None`: [`HELPER_TIMEOUT`]).
    pub helper_timeout: Option<Duration>,
}

impl CredentialSources {
    /// The places the Docker and Podman clients use, from the environment.
    pub fn from_env() -> CredentialSources {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let docker_dir = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|home| Path::new(&home).join(".docker")));
        CredentialSources {
            docker_config: docker_dir.map(|dir| dir.join("config.json")),
            auth_files_first: var("REGISTRY_AUTH_FILE")
                .map(PathBuf::from)
                .into_iter()
                .collect(),
            auth_files_last: var("XDG_RUNTIME_DIR")
                .map(|dir| Path::new(&dir).join("containers/auth.json"))
                .into_iter()
                .collect(),
            helper_path: None,
            helper_timeout: None,
        }
    }

    /// No credentials anywhere.
    pub fn none() -> CredentialSources {
        CredentialSources::default()
    }
}

/// Finds credentials per host, once per host (a helper runs at most once per host).
#[derive(Debug)]
pub struct CredentialStore {
    sources: CredentialSources,
    found: Mutex<HashMap<String, Arc<Result<Found, CredentialError>>>>,
    /// Files passed over because they are not credentials files, once each.
    warnings: Mutex<Vec<String>>,
}

/// The parts of `config.json` / `auth.json` read here; `auths` is handed to the crate.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: Option<HashMap<String, String>>,
}

impl CredentialStore {
    /// A store reading `sources`.
    pub fn new(sources: CredentialSources) -> CredentialStore {
        CredentialStore {
            sources,
            found: Mutex::new(HashMap::new()),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// The files passed over so far because they do not parse, each once, as
    /// "FILE is not a valid credentials file (…); its credentials are not used".
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().expect("credential warnings").clone()
    }

    /// The credentials for `host` (`host[:port]` as asked; Docker Hub's API host is
    /// looked up under Docker Hub's key). Blocking: it may run a helper. An error says
    /// which file or helper failed, never a secret.
    pub fn for_host(&self, host: &str) -> Result<Found, CredentialError> {
        if let Some(found) = self.found.lock().expect("credential cache").get(host) {
            return (**found).clone();
        }
        let found = Arc::new(self.look_up(host));
        self.found
            .lock()
            .expect("credential cache")
            .insert(host.to_string(), Arc::clone(&found));
        (*found).clone()
    }

    fn look_up(&self, host: &str) -> Result<Found, CredentialError> {
        let docker_hub = is_docker_hub(host);
        let files = self
            .sources
            .auth_files_first
            .iter()
            .chain(&self.sources.docker_config)
            .chain(&self.sources.auth_files_last);
        let mut passed_over = Vec::new();
        for file in files {
            match self.search_file(file, host, docker_hub)? {
                Searched::Found(found) => return Ok(found),
                Searched::Nothing => {}
                Searched::NotCredentials(why) => {
                    let mut warnings = self.warnings.lock().expect("credential warnings");
                    if !warnings.contains(&why) {
                        warnings.push(why.clone());
                    }
                    passed_over.push(why);
                }
            }
        }
        // A refusal then says why the credentials the user expected were not sent.
        Ok(match passed_over.is_empty() {
            true => Found::anonymous(),
            false => Found {
                credential: None,
                source: format!("no credentials: {}", passed_over.join("; ")),
            },
        })
    }

    fn search_file(
        &self,
        file: &Path,
        host: &str,
        docker_hub: bool,
    ) -> Result<Searched, CredentialError> {
        let shown = display_path(file);
        let text = match std::fs::read(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Searched::Nothing),
            Err(e) => return Err(CredentialError(format!("cannot read {shown}: {e}"))),
        };
        // A file that does not parse is passed over with a warning, as the Docker client
        // only warns about it: registries that need no credentials must still resolve.
        let config: ConfigFile = match serde_json::from_slice(&text) {
            Ok(config) => config,
            Err(e) => {
                return Ok(Searched::NotCredentials(format!(
                    "{shown} is not a valid credentials file ({e}); its credentials are not used"
                )));
            }
        };
        // Helpers are asked for Docker Hub under its old index URL, as Docker does.
        let helper_key = if docker_hub { DOCKER_HUB_KEY } else { host };
        let helper = config.cred_helpers.as_ref().and_then(|helpers| {
            helpers
                .iter()
                .find(|(key, _)| registry_of_key(key) == registry_of_key(helper_key))
                .map(|(_, name)| name.clone())
                .filter(|name| !name.is_empty())
        });
        if let Some(helper) = helper {
            return self.ask_helper(&helper, helper_key).map(Searched::Found);
        }
        if let Some(auths) = config.auths {
            // The crate does the decoding and knows Docker Hub's spellings; hand it the
            // `auths` alone so that it never runs a helper itself.
            let only_auths = serde_json::json!({ "auths": auths });
            let crate_key = if docker_hub { "docker.io" } else { host };
            match docker_credential::get_credential_from_reader(
                only_auths.to_string().as_bytes(),
                crate_key,
            ) {
                Ok(credential) => {
                    return Ok(Searched::Found(Found {
                        credential: Some(from_crate(credential)),
                        source: format!("credentials for {} from {shown}", shown_host(host)),
                    }));
                }
                Err(CredentialRetrievalError::NoCredentialConfigured) => {}
                Err(CredentialRetrievalError::CredentialDecodingError) => {
                    return Err(CredentialError(format!(
                        "the auth entry for {} in {shown} is not base64 of user:password",
                        shown_host(host)
                    )));
                }
                Err(CredentialRetrievalError::CredentialMismatchError) => {
                    return Err(CredentialError(format!(
                        "the auth entry for {} in {shown} does not match its username and password",
                        shown_host(host)
                    )));
                }
                Err(other) => {
                    return Err(CredentialError(format!(
                        "cannot read credentials for {} from {shown}: {other}",
                        shown_host(host)
                    )));
                }
            }
        }
        if let Some(store) = config.creds_store.filter(|s| !s.is_empty()) {
            return self.ask_helper(&store, helper_key).map(Searched::Found);
        }
        Ok(Searched::Nothing)
    }

    /// Runs `docker-credential-<name> get` with `key` on stdin, killing it after the
    /// timeout. "Not found" from the helper means anonymous.
    fn ask_helper(&self, name: &str, key: &str) -> Result<Found, CredentialError> {
        let program = format!("docker-credential-{name}");
        let source = format!("credential helper {program}");
        let timeout = self.sources.helper_timeout.unwrap_or(HELPER_TIMEOUT);
        let mut command = Command::new(&program);
        command
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = &self.sources.helper_path {
            command.env("PATH", path);
        }
        let mut child = command
            .spawn()
            .map_err(|e| CredentialError(format!("cannot run {source}: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading closes the pipe: its status tells.
            let _ = stdin.write_all(key.as_bytes());
        }
        // Read output on threads so that a chatty helper cannot block on a full pipe.
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let out = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stdout.read_to_end(&mut bytes);
            bytes
        });
        let err = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stderr.read_to_end(&mut bytes);
            bytes
        });
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(CredentialError(format!(
                        "{source} did not answer within {} s for {}",
                        timeout.as_secs_f32(),
                        shown_host(key)
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(CredentialError(format!("cannot wait for {source}: {e}"))),
            }
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        if !status.success() {
            // Docker's helpers say this when they hold nothing for the server.
            let said = String::from_utf8_lossy(&stdout).to_lowercase()
                + &String::from_utf8_lossy(&stderr).to_lowercase();
            if said.contains("credentials not found") {
                return Ok(Found {
                    credential: None,
                    source: format!("no credentials ({source} has none for {})", shown_host(key)),
                });
            }
            // The helper's output is not shown: it may hold a secret.
            return Err(CredentialError(format!(
                "{source} failed ({status}) for {}",
                shown_host(key)
            )));
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct HelperAnswer {
            username: String,
            secret: String,
        }
        let answer: HelperAnswer = serde_json::from_slice(&stdout).map_err(|_| {
            CredentialError(format!(
                "{source} answered something that is not {{\"Username\", \"Secret\"}} JSON"
            ))
        })?;
        // Docker's convention: the user name `<token>` marks an identity token.
        let credential = if answer.username == "<token>" {
            Credential::IdentityToken(Secret::new(answer.secret))
        } else {
            Credential::Basic {
                username: answer.username,
                password: Secret::new(answer.secret),
            }
        };
        Ok(Found {
            credential: Some(credential),
            source,
        })
    }
}

/// What one credentials file holds for a host.
enum Searched {
    Found(Found),
    Nothing,
    /// The file does not parse: why, for a warning.
    NotCredentials(String),
}

fn from_crate(credential: DockerCredential) -> Credential {
    match credential {
        DockerCredential::IdentityToken(token) => Credential::IdentityToken(Secret::new(token)),
        DockerCredential::UsernamePassword(username, password) => Credential::Basic {
            username,
            password: Secret::new(password),
        },
    }
}

fn is_docker_hub(host: &str) -> bool {
    matches!(
        registry_of_key(host),
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

/// The host a config key names: `https://index.docker.io/v1/` is `index.docker.io`.
fn registry_of_key(key: &str) -> &str {
    let bare = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = bare.split('/').next().unwrap_or(bare);
    match host {
        "docker.io" | "registry-1.docker.io" => "index.docker.io",
        other => other,
    }
}

fn shown_host(key: &str) -> &str {
    match registry_of_key(key) {
        "index.docker.io" => "docker.io",
        other => other,
    }
}

/// The path with the home folder shown as `~`.
fn display_path(path: &Path) -> String {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty())
        && let Ok(rest) = path.strip_prefix(&home)
    {
        return format!("~/{}", rest.display());
    }
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let credential = Credential::Basic {
            username: "alice".into(),
            password: Secret::new("hunter2"),
        };
        let shown = format!("{credential:?} {}", Secret::new("hunter2"));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("alice"), "{shown}");
    }

    #[test]
    fn docker_hub_keys_are_one_registry() {
        for key in [
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
        ] {
            assert_eq!(registry_of_key(key), "index.docker.io", "{key}");
            assert!(is_docker_hub(key));
        }
        assert_eq!(registry_of_key("ghcr.io"), "ghcr.io");
    }

    fn store_with(config: &str) -> (tempfile::TempDir, CredentialStore) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        std::fs::write(&file, config).unwrap();
        let store = CredentialStore::new(CredentialSources {
            docker_config: Some(file),
            ..CredentialSources::none()
        });
        (dir, store)
    }

    #[test]
    fn docker_hub_credentials_are_found_under_every_spelling() {
        for key in [
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
        ] {
            let (_dir, store) = store_with(&format!(
                r#"{{"auths": {{"{key}": {{"auth": "YWxpY2U6aHVudGVyMg=="}}}}}}"#
            ));
            let found = store.for_host("registry-1.docker.io").unwrap();
            assert_eq!(
                found.credential,
                Some(Credential::Basic {
                    username: "alice".into(),
                    password: Secret::new("hunter2")
                }),
                "{key}"
            );
            assert!(found.source.starts_with("credentials for docker.io from "));
        }
    }

    #[test]
    fn identity_token_is_kept_as_one() {
        let (_dir, store) =
            store_with(r#"{"auths": {"ghcr.io": {"identitytoken": "refresh-me"}}}"#);
        let found = store.for_host("ghcr.io").unwrap();
        assert_eq!(
            found.credential,
            Some(Credential::IdentityToken(Secret::new("refresh-me")))
        );
        assert_eq!(store.for_host("quay.io").unwrap(), Found::anonymous());
    }

    #[test]
    fn bad_base64_is_an_error_without_the_value() {
        let (_dir, store) = store_with(r#"{"auths": {"ghcr.io": {"auth": "%%%secret"}}}"#);
        let error = store.for_host("ghcr.io").unwrap_err().to_string();
        assert!(error.contains("not base64"), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }
}
