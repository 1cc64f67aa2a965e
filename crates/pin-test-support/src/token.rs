//! Our own token server for the Docker token flow (what Docker Hub's auth.docker.io
//! does), so that tests can see and count every token request.
//!
//! The registry trusts the signing key because its certificate is the registry's
//! `rootcertbundle` and each JWT names the key by its libtrust key ID (`kid`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::PublicKeyData as _;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use sha2::{Digest as _, Sha256};

/// The `service` the registry and the token server agree on.
pub const SERVICE: &str = "pin-test-registry";
const ISSUER: &str = "pin-test-token-issuer";

/// Who gets a token.
#[derive(Debug, Clone)]
pub struct TokenOptions {
    /// Grant `pull` to callers without credentials (Docker Hub's public images).
    pub anonymous_pull: bool,
    /// Credentials (user, password) that are granted `pull`.
    pub users: Vec<(String, String)>,
}

impl Default for TokenOptions {
    /// Anonymous pulls allowed, no users.
    fn default() -> TokenOptions {
        TokenOptions {
            anonymous_pull: true,
            users: Vec::new(),
        }
    }
}

struct State {
    options: TokenOptions,
    /// The scopes of every token request, in order.
    scope_lists: Mutex<Vec<Vec<String>>>,
    /// Grant only the first scope of a request (a server that drops the others of a
    /// batch without saying so).
    first_scope_only: AtomicBool,
    /// Tokens still to be issued granting nothing (a token the registry refuses).
    spoiled: AtomicU64,
    /// When non-zero, answer every request with this status.
    failure: AtomicU16,
    /// Token requests that carried an `Authorization` header (credentials).
    with_credentials: AtomicU64,
    /// Identity (refresh) tokens accepted by the OAuth2 `POST`, and their users.
    refresh_tokens: Mutex<Vec<(String, String)>>,
    key: EcdsaKeyPair,
    kid: String,
    jti: AtomicU64,
}

/// A token server on 127.0.0.1 (a thread with a `TcpListener`).
pub struct TokenServer {
    port: u16,
    certificate_pem: String,
    state: Arc<State>,
}

impl TokenServer {
    /// Starts serving on a free port.
    pub fn start(options: TokenOptions) -> TokenServer {
        let key_pair = rcgen::KeyPair::generate().expect("generate token signing key");
        let params = rcgen::CertificateParams::new(vec!["pin-test-token".to_string()])
            .expect("certificate params");
        let certificate = params
            .self_signed(&key_pair)
            .expect("self-sign token certificate");
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_pair.serialize_der(),
            &SystemRandom::new(),
        )
        .expect("load token signing key");
        let kid = libtrust_key_id(&key_pair.subject_public_key_info());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind token server");
        let port = listener.local_addr().expect("token server address").port();
        let state = Arc::new(State {
            options,
            scope_lists: Mutex::new(Vec::new()),
            first_scope_only: AtomicBool::new(false),
            spoiled: AtomicU64::new(0),
            failure: AtomicU16::new(0),
            with_credentials: AtomicU64::new(0),
            refresh_tokens: Mutex::new(Vec::new()),
            key,
            kid,
            jti: AtomicU64::new(0),
        });
        let served = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&served);
                std::thread::spawn(move || {
                    let _ = serve(&state, stream);
                });
            }
        });
        TokenServer {
            port,
            certificate_pem: certificate.pem(),
            state,
        }
    }

    /// `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The signing certificate (the registry's `rootcertbundle`).
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The registry's `auth:` section; `ROOTCERTBUNDLE` is replaced by the caller.
    pub(crate) fn registry_auth_config(&self) -> String {
        format!(
            "auth: {{token: {{realm: {}, service: {SERVICE}, issuer: {ISSUER}, \
             rootcertbundle: ROOTCERTBUNDLE}}}}\n",
            self.realm()
        )
    }

    /// How many token requests asked for this scope (e.g.
    /// `repository:library/python:pull`), alone or among others.
    pub fn requests_for(&self, scope: &str) -> usize {
        let lists = self.state.scope_lists.lock().unwrap();
        lists
            .iter()
            .filter(|list| list.iter().any(|s| s == scope))
            .count()
    }

    /// Token requests served so far, per scope (a request for several counts once for
    /// each; the empty string counts requests without one).
    pub fn requests(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for list in self.state.scope_lists.lock().unwrap().iter() {
            if list.is_empty() {
                *counts.entry(String::new()).or_default() += 1;
            }
            for scope in list {
                *counts.entry(scope.clone()).or_default() += 1;
            }
        }
        counts
    }

    /// The scopes of every token request so far, in order.
    pub fn scope_lists(&self) -> Vec<Vec<String>> {
        self.state.scope_lists.lock().unwrap().clone()
    }

    /// From now on grant only the first scope a request asks for, silently dropping
    /// the others (`true`), or all of them (`false`, the default).
    pub fn grant_first_scope_only(&self, on: bool) {
        self.state.first_scope_only.store(on, Ordering::SeqCst);
    }

    /// The next `tokens` tokens issued grant nothing: the registry refuses them with
    /// 401, as it does a token revoked early or one for a repository that the server
    /// will not say does not exist (Docker Hub).
    pub fn spoil_next(&self, tokens: u64) {
        self.state.spoiled.store(tokens, Ordering::SeqCst);
    }

    /// Token requests that carried credentials (an `Authorization` header).
    pub fn requests_with_credentials(&self) -> u64 {
        self.state.with_credentials.load(Ordering::SeqCst)
    }

    /// Token requests served so far, all scopes.
    pub fn total_requests(&self) -> usize {
        self.state.scope_lists.lock().unwrap().len()
    }

    /// From now on answer every token request with `status` (None: serve normally).
    pub fn set_failure(&self, status: Option<u16>) {
        self.state
            .failure
            .store(status.unwrap_or(0), Ordering::SeqCst);
    }

    /// Accept `refresh_token` for `user` in the OAuth2 refresh-token `POST` (what the
    /// Docker client sends for an `identitytoken`).
    pub fn accept_refresh_token(&self, refresh_token: &str, user: &str) {
        self.state
            .refresh_tokens
            .lock()
            .unwrap()
            .push((refresh_token.to_string(), user.to_string()));
    }

    /// A signed token for `subject` granting `actions` on `repository` (no request made).
    pub fn mint(&self, subject: &str, repository: &str, actions: &[&str]) -> String {
        let access = vec![(
            repository.to_string(),
            actions
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
        )];
        mint(&self.state, subject, &access)
    }
}

/// libtrust's key ID: base32 of the first 30 bytes of sha256(DER SubjectPublicKeyInfo),
/// in 12 groups of 4 characters joined by `:`.
fn libtrust_key_id(spki_der: &[u8]) -> String {
    let hash = Sha256::digest(spki_der);
    let encoded = base32(&hash[..30]);
    let groups: Vec<&str> = (0..encoded.len())
        .step_by(4)
        .map(|i| &encoded[i..i + 4])
        .collect();
    groups.join(":")
}

/// RFC 4648 base32 without padding (30 bytes give exactly 48 characters).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn mint(state: &State, subject: &str, access: &[(String, Vec<String>)]) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": state.kid});
    let access: Vec<_> = access
        .iter()
        .map(|(name, actions)| {
            serde_json::json!({"type": "repository", "name": name, "actions": actions})
        })
        .collect();
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": subject,
        "aud": SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("pin-test-{}", state.jti.fetch_add(1, Ordering::SeqCst)),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = state
        .key
        .sign(&SystemRandom::new(), signing_input.as_bytes())
        .expect("sign token");
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    )
}

/// Answers one HTTP/1.1 request and closes the connection.
fn serve(state: &State, stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    let mut content_length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            } else if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    if authorization.is_some() {
        state.with_credentials.fetch_add(1, Ordering::SeqCst);
    }
    let mut body = vec![0; content_length];
    std::io::Read::read_exact(&mut reader, &mut body)?;
    let is_post = request_line.starts_with("POST ");
    let target = request_line.split_whitespace().nth(1).unwrap_or("");
    // GET: the query; the OAuth2 POST: the form body (its scopes space-separated).
    let form = if is_post {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        target
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("")
            .to_string()
    };
    let field = |wanted: &str| -> Vec<String> {
        form.split('&')
            .filter_map(|pair| pair.split_once('='))
            .filter(|(name, _)| *name == wanted)
            .map(|(_, value)| percent_decode(value))
            .collect()
    };
    let scopes: Vec<String> = field("scope")
        .iter()
        .flat_map(|s| s.split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    state.scope_lists.lock().unwrap().push(scopes.clone());

    let failure = state.failure.load(Ordering::SeqCst);
    if failure != 0 {
        return respond(
            stream,
            failure,
            r#"{"details":"token server told to fail"}"#,
        );
    }
    let refreshed = if is_post {
        let (grant, token) = (field("grant_type"), field("refresh_token"));
        let known = state
            .refresh_tokens
            .lock()
            .unwrap()
            .iter()
            .find(|(t, _)| token.first() == Some(t))
            .map(|(_, user)| user.clone());
        match known {
            Some(user) if grant.first().map(String::as_str) == Some("refresh_token") => Some(user),
            _ => return respond(stream, 401, r#"{"details":"invalid refresh token"}"#),
        }
    } else {
        None
    };
    let subject = match authorization.as_deref().and_then(basic_credentials) {
        _ if refreshed.is_some() => refreshed,
        Some((user, password)) => {
            let admin =
                user == super::registry::ADMIN_USER && password == super::registry::ADMIN_PASSWORD;
            let known = state
                .options
                .users
                .iter()
                .any(|(u, p)| *u == user && *p == password);
            if !admin && !known {
                return respond(
                    stream,
                    401,
                    r#"{"details":"incorrect username or password"}"#,
                );
            }
            Some(user)
        }
        None => None,
    };
    if subject.is_none() && !state.options.anonymous_pull {
        return respond(stream, 401, r#"{"details":"authentication required"}"#);
    }
    let is_admin = subject.as_deref() == Some(super::registry::ADMIN_USER);
    let granted = if state.first_scope_only.load(Ordering::SeqCst) {
        1
    } else {
        scopes.len()
    };
    let spoiled = state
        .spoiled
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let granted = if spoiled { 0 } else { granted };
    let access: Vec<(String, Vec<String>)> = scopes
        .iter()
        .take(granted)
        .filter_map(|scope| {
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            if kind != "repository" {
                return None;
            }
            let granted: Vec<String> = actions
                .split(',')
                .filter(|action| *action == "pull" || is_admin)
                .map(str::to_string)
                .collect();
            Some((name.to_string(), granted))
        })
        .collect();
    let token = mint(state, subject.as_deref().unwrap_or(""), &access);
    let body = serde_json::json!({"token": token, "access_token": token, "expires_in": 300});
    respond(stream, 200, &body.to_string())
}

fn respond(mut stream: TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        _ => "Error",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
