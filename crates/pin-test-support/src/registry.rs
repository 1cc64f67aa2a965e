//! A real `docker-registry` (distribution 2.8) on 127.0.0.1, one per test.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tempfile::TempDir;

use super::token::{TokenOptions, TokenServer};

/// User name and password the harness pushes with on a basic-auth registry.
pub const ADMIN_USER: &str = "pin-admin";
/// See [`ADMIN_USER`].
pub const ADMIN_PASSWORD: &str = "pin-admin-password";

/// How the registry authenticates clients.
enum Auth {
    None,
    Basic,
    Token(TokenServer),
}

/// A running registry; the process is killed (by PID) when this is dropped.
pub struct Registry {
    child: Child,
    host: String,
    dir: TempDir,
    auth: Auth,
    storage: PathBuf,
    /// The CA that signed this registry's certificate, when it speaks HTTPS.
    ca_file: Option<PathBuf>,
    pub(crate) agent: ureq::Agent,
}

impl Registry {
    /// A registry without authentication.
    pub fn start() -> Registry {
        Registry::launch(Auth::None, None, false, |_| String::new())
    }

    /// A registry that requires HTTP basic auth for everything. `users` are added to the
    /// htpasswd file besides the harness's own [`ADMIN_USER`].
    pub fn start_with_basic_auth(users: &[(&str, &str)]) -> Registry {
        Registry::launch(Auth::Basic, None, false, |dir| {
            let file = dir.join("htpasswd");
            let mut all = vec![(ADMIN_USER, ADMIN_PASSWORD)];
            all.extend_from_slice(users);
            for (i, (user, password)) in all.iter().enumerate() {
                let create = if i == 0 { "-Bbc" } else { "-Bb" };
                let status = Command::new("htpasswd")
                    .args([create, path_str(&file), user, password])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("htpasswd not found: apt-get install apache2-utils");
                assert!(status.success(), "htpasswd failed for user {user}");
            }
            format!(
                "auth: {{htpasswd: {{realm: pin-test, path: {}}}}}\n",
                path_str(&file)
            )
        })
    }

    /// A registry behind the Docker token flow, served by our own [`TokenServer`]
    /// (see [`TokenOptions`] for anonymous pulls and credentials).
    pub fn start_with_token_auth(options: TokenOptions) -> Registry {
        let server = TokenServer::start(options);
        let config = server.registry_auth_config();
        let mut registry = Registry::launch(Auth::None, None, false, |dir| {
            let bundle = dir.join("token-root.pem");
            fs::write(&bundle, server.certificate_pem()).expect("write token root bundle");
            config.replace("ROOTCERTBUNDLE", path_str(&bundle))
        });
        registry.auth = Auth::Token(server);
        registry
    }

    /// Another registry process serving this one's storage over HTTPS, with a
    /// certificate for 127.0.0.1 signed by a fresh test CA ([`Registry::ca_file`]).
    /// Push to `self` (the harness speaks plain HTTP only); read through the copy. A
    /// token-auth registry's copy uses the same token server, whose realm stays plain
    /// HTTP.
    pub fn serve_over_tls(&self) -> Registry {
        let token_config = match &self.auth {
            Auth::Token(server) => Some((
                server.registry_auth_config(),
                server.certificate_pem().to_string(),
            )),
            Auth::None | Auth::Basic => None,
        };
        Registry::launch(
            Auth::None,
            Some(self.storage.clone()),
            true,
            |dir| match token_config {
                Some((config, pem)) => {
                    let bundle = dir.join("token-root.pem");
                    fs::write(&bundle, pem).expect("write token root bundle");
                    config.replace("ROOTCERTBUNDLE", path_str(&bundle))
                }
                None => String::new(),
            },
        )
    }

    /// The PEM file of the CA to trust for a registry from [`Registry::serve_over_tls`].
    pub fn ca_file(&self) -> &Path {
        self.ca_file
            .as_deref()
            .expect("ca_file: this registry speaks plain HTTP; see serve_over_tls")
    }

    fn launch(
        auth: Auth,
        shared_storage: Option<PathBuf>,
        tls: bool,
        auth_config: impl FnOnce(&Path) -> String,
    ) -> Registry {
        let binary = find_docker_registry();
        let dir = tempfile::Builder::new()
            .prefix("pin-test-registry-")
            .tempdir()
            .expect("create registry temp dir");
        let storage = shared_storage.unwrap_or_else(|| dir.path().join("storage"));
        let (tls_config, ca_file) = if tls {
            let (config, ca_file) = write_tls_files(dir.path());
            (config, Some(ca_file))
        } else {
            (String::new(), None)
        };
        let auth_config = auth_config(dir.path());
        let config_path = dir.path().join("config.yml");
        let log_path = dir.path().join("registry.log");
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(Duration::from_secs(30)))
                .build(),
        );
        // Another test may take the free port before the registry binds it: try again.
        let mut attempts = 3;
        loop {
            attempts -= 1;
            let host = format!("127.0.0.1:{}", free_port());
            let config = format!(
                "version: 0.1\n\
                 log: {{level: error, accesslog: {{disabled: true}}}}\n\
                 storage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\n\
                 http: {{addr: {host}, secret: pin-test-secret{tls_config}}}\n{auth_config}",
                path_str(&storage),
            );
            fs::write(&config_path, config).expect("write registry config");
            let log = fs::File::create(&log_path).expect("create registry log");
            let mut child = Command::new(&binary)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log handle"))
                .stderr(log)
                .spawn()
                .expect("spawn docker-registry");
            let ready = wait_until_ready(&mut child, &host, tls, &agent);
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            match ready {
                Ok(()) => {
                    return Registry {
                        child,
                        host,
                        dir,
                        auth,
                        storage,
                        ca_file,
                        agent,
                    };
                }
                Err(_) if attempts > 0 && log.contains("address already in use") => continue,
                Err(problem) => panic!(
                    "docker-registry {problem}; config {}, log {}:\n{log}",
                    config_path.display(),
                    log_path.display(),
                ),
            }
        }
    }

    /// `127.0.0.1:PORT`, as written in image references and `--mirror`/`--insecure-registry`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }

    /// The token server, for a registry started with [`Registry::start_with_token_auth`].
    pub fn token_server(&self) -> Option<&TokenServer> {
        match &self.auth {
            Auth::Token(server) => Some(server),
            _ => None,
        }
    }

    /// What the registry has written to its log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The `Authorization` header value the harness sends to push to `repository`
    /// (admin credentials or a push token), if the registry wants one.
    pub(crate) fn admin_authorization(&self, repository: &str) -> Option<String> {
        match &self.auth {
            Auth::None => None,
            Auth::Basic => Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{ADMIN_USER}:{ADMIN_PASSWORD}"))
            )),
            Auth::Token(server) => Some(format!(
                "Bearer {}",
                server.mint(ADMIN_USER, repository, &["pull", "push"])
            )),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test CA and a certificate for 127.0.0.1 signed by it, written to `dir`; returns
/// the registry's `http.tls` settings and the CA file.
fn write_tls_files(dir: &Path) -> (String, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "pin test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("self-sign CA");
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server certificate params");
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let certificate = params
        .signed_by(&key, &ca)
        .expect("sign server certificate");
    let (certificate_file, key_file, ca_file) = (
        dir.join("server.pem"),
        dir.join("server-key.pem"),
        dir.join("ca.pem"),
    );
    fs::write(&certificate_file, certificate.pem()).expect("write server certificate");
    fs::write(&key_file, key.serialize_pem()).expect("write server key");
    fs::write(&ca_file, ca.pem()).expect("write CA certificate");
    let config = format!(
        ", tls: {{certificate: {}, key: {}}}",
        path_str(&certificate_file),
        path_str(&key_file)
    );
    (config, ca_file)
}

/// Waits until `GET /v2/` answers with any HTTP status (401 counts: it is up); kills
/// the process if it does not within 10 s.
fn wait_until_ready(
    child: &mut Child,
    host: &str,
    tls: bool,
    agent: &ureq::Agent,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let url = format!("http://{host}/v2/");
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited ({status}) before answering on {host}"));
        }
        // Over HTTPS (which the harness's client does not speak) an open port is
        // enough: the registry listens only once it is set up.
        let up = if tls {
            std::net::TcpStream::connect(host).is_ok()
        } else {
            agent.get(&url).call().is_ok()
        };
        if up {
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("did not answer GET {url} within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn find_docker_registry() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("docker-registry"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "docker-registry not found: run scripts/test.sh (it installs Debian's \
                 docker-registry) or apt-get install docker-registry"
            )
        })
}

/// A port that was free a moment ago (the OS picks it; the registry binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("find a free port on 127.0.0.1")
        .port()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}
