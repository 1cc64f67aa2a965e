//! A scripted registry for what a real one will not do: rate limits, server errors,
//! missing or hostile digests, and the OCI 1.1 referrers API (`docker-registry` 2.8 has
//! none). Everything else is tested against `docker-registry`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::push::{OCI_INDEX, OCI_MANIFEST, referrer_manifest, sha256_digest};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct FakeResponse {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (`Content-Length` and `Connection: close` are added).
    pub headers: Vec<(String, String)>,
    /// Body; a HEAD answer sends only its length.
    pub body: Vec<u8>,
    /// Something other than a plain answer (hostile registries).
    pub behaviour: Behaviour,
}

/// How a scripted answer is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Headers, then `body`.
    #[default]
    Plain,
    /// Read the request, then say nothing and hold the connection open until the
    /// client hangs up.
    Silence,
    /// A body of `len` bytes made on the fly (never held in memory), written in 64 KiB
    /// pieces until the client hangs up; `Content-Length` is sent only if
    /// `declare_length`, else the body ends when the connection closes.
    Endless {
        /// Bytes the body would have.
        len: u64,
        /// Whether to send `Content-Length: len`.
        declare_length: bool,
    },
    /// Headers at once, then a body of `len` bytes (declared) one byte per `every`:
    /// a slow-loris body that never stalls long enough for a read timeout.
    Trickle {
        /// Bytes the body would have.
        len: u64,
        /// The pause between two bytes.
        every: std::time::Duration,
    },
}

impl FakeResponse {
    /// A status with no headers and no body.
    pub fn status(status: u16) -> FakeResponse {
        FakeResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            behaviour: Behaviour::Plain,
        }
    }

    /// Reads the request and never answers.
    pub fn silence() -> FakeResponse {
        FakeResponse {
            behaviour: Behaviour::Silence,
            ..FakeResponse::status(200)
        }
    }

    /// A 200 whose body is `len` bytes of JSON-looking filler, streamed.
    pub fn endless(len: u64, declare_length: bool) -> FakeResponse {
        FakeResponse {
            behaviour: Behaviour::Endless {
                len,
                declare_length,
            },
            ..FakeResponse::status(200)
        }
    }

    /// A 200 whose `len`-byte body comes one byte per `every`.
    pub fn trickle(len: u64, every: std::time::Duration) -> FakeResponse {
        FakeResponse {
            behaviour: Behaviour::Trickle { len, every },
            ..FakeResponse::status(200)
        }
    }

    /// A redirect with `status` (301, 302, 303, 307, 308) to `location`.
    pub fn redirect(status: u16, location: &str) -> FakeResponse {
        FakeResponse::status(status).header("Location", location)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> FakeResponse {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: &[u8]) -> FakeResponse {
        self.body = body.to_vec();
        self
    }
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `METHOD /path?query`.
    pub line: String,
    /// Every header, names in lower case, in order.
    pub headers: Vec<(String, String)>,
}

impl Received {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Script {
    /// Answers per `METHOD /path` (query ignored); unscripted requests get 404.
    responses: HashMap<String, FakeResponse>,
    /// Every request received, as `METHOD /path?query`.
    log: Vec<String>,
    /// Every request received, with its headers.
    received: Vec<Received>,
    /// The referrers index entries served so far, per `repository` and subject digest.
    referrers: HashMap<(String, String), Vec<serde_json::Value>>,
}

/// A scripted registry on 127.0.0.1 (a thread with a `TcpListener`), plain HTTP.
pub struct FakeRegistry {
    port: u16,
    ip: &'static str,
    script: Arc<Mutex<Script>>,
    body_bytes_sent: Arc<AtomicU64>,
}

impl FakeRegistry {
    /// Starts serving; `GET /v2/` answers 200 (no auth) until scripted otherwise.
    pub fn start() -> FakeRegistry {
        FakeRegistry::start_on("127.0.0.1")
    }

    /// Starts serving on another loopback address (`127.0.0.2`, …: another host).
    pub fn start_on(ip: &'static str) -> FakeRegistry {
        let listener = TcpListener::bind((ip, 0)).expect("bind fake registry");
        let port = listener.local_addr().expect("fake registry address").port();
        let script = Arc::new(Mutex::new(Script::default()));
        script
            .lock()
            .unwrap()
            .responses
            .insert("GET /v2/".to_string(), FakeResponse::status(200));
        let served = Arc::clone(&script);
        let body_bytes_sent = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&body_bytes_sent);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let script = Arc::clone(&served);
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    let _ = serve(&script, &counter, stream);
                });
            }
        });
        FakeRegistry {
            port,
            ip,
            script,
            body_bytes_sent,
        }
    }

    /// `IP:PORT` (`127.0.0.1:PORT` unless started elsewhere).
    pub fn host(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// `http://IP:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// Every request so far with its headers, in order.
    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    /// Bytes of [`Behaviour::Endless`] bodies the client took before it hung up (the
    /// kernel's socket buffers included).
    pub fn body_bytes_sent(&self) -> u64 {
        self.body_bytes_sent.load(Ordering::SeqCst)
    }

    /// Answer `method path` (e.g. `HEAD`, `/v2/library/python/manifests/3.12`) with
    /// `response` from now on.
    pub fn on(&self, method: &str, path: &str, response: FakeResponse) {
        self.script
            .lock()
            .unwrap()
            .responses
            .insert(format!("{method} {path}"), response);
    }

    /// Every request so far, as `METHOD /path?query`, in order.
    pub fn requests(&self) -> Vec<String> {
        self.script.lock().unwrap().log.clone()
    }

    /// Serves `bytes` as the manifest `reference` (a tag or digest) of `repository`, to
    /// `HEAD` and `GET`, with its media type and digest; returns the digest.
    pub fn serve_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let digest = sha256_digest(bytes);
        let answer = FakeResponse::status(200)
            .header("Content-Type", media_type)
            .header("Docker-Content-Digest", &digest)
            .body(bytes);
        let path = format!("/v2/{repository}/manifests/{reference}");
        self.on("HEAD", &path, answer.clone());
        self.on("GET", &path, answer);
        digest
    }

    /// Serves `bytes` as a blob of `repository`; returns its digest.
    pub fn serve_blob(&self, repository: &str, bytes: &[u8]) -> String {
        let digest = sha256_digest(bytes);
        let answer = FakeResponse::status(200)
            .header("Content-Type", "application/octet-stream")
            .header("Docker-Content-Digest", &digest)
            .body(bytes);
        self.on("GET", &format!("/v2/{repository}/blobs/{digest}"), answer);
        digest
    }

    /// Serves a new single-platform OCI image (linux/amd64) as `repository:tag` and by
    /// its digest, with its config and layer; returns the digest.
    pub fn serve_image(&self, repository: &str, tag: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nonce = COUNTER.fetch_add(1, Ordering::SeqCst);
        let layer = format!("fake layer {repository}:{tag} {nonce}\n").into_bytes();
        let layer_digest = self.serve_blob(repository, &layer);
        let config = json!({
            "os": "linux", "architecture": "amd64", "created": "2024-06-01T00:00:00Z",
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        });
        let config = serde_json::to_vec(&config).expect("serialise config");
        let config_digest = self.serve_blob(repository, &config);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "size": config.len(), "digest": config_digest},
            "layers": [{"mediaType": OCI_LAYER, "size": layer.len(), "digest": layer_digest}],
        });
        let bytes = serde_json::to_vec(&manifest).expect("serialise manifest");
        let digest = self.serve_manifest(repository, tag, OCI_MANIFEST, &bytes);
        self.serve_manifest(repository, &digest, OCI_MANIFEST, &bytes);
        digest
    }

    /// Attaches `blob` to `subject` (a digest this fake serves in `repository`) as an
    /// OCI 1.1 referrer of artifact type `artifact_type`, as cosign v3 attaches a bundle:
    /// an artifact manifest with `subject`, served by digest with its blobs, listed in the
    /// index `GET /v2/<repository>/referrers/<subject>` answers (the query is ignored, as
    /// the API lets a registry do). Returns the referrer manifest's digest.
    pub fn serve_referrer(
        &self,
        repository: &str,
        subject: &str,
        artifact_type: &str,
        blob: &[u8],
    ) -> String {
        let empty = self.serve_blob(repository, b"{}");
        let layer = self.serve_blob(repository, blob);
        let subject_json = json!({"mediaType": OCI_MANIFEST, "digest": subject});
        let bytes = referrer_manifest(artifact_type, &empty, &layer, blob.len(), subject_json);
        let digest = sha256_digest(&bytes);
        self.serve_manifest(repository, &digest, OCI_MANIFEST, &bytes);
        let index = {
            let mut script = self.script.lock().unwrap();
            let entries = script
                .referrers
                .entry((repository.to_string(), subject.to_string()))
                .or_default();
            entries.push(json!({
                "mediaType": OCI_MANIFEST, "size": bytes.len(), "digest": digest,
                "artifactType": artifact_type,
            }));
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        };
        self.on(
            "GET",
            &format!("/v2/{repository}/referrers/{subject}"),
            FakeResponse::status(200)
                .header("Content-Type", OCI_INDEX)
                .body(&serde_json::to_vec(&index).expect("serialise referrers index")),
        );
        digest
    }
}

/// The OCI config media type.
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The OCI layer media type.
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn serve(script: &Mutex<Script>, sent: &AtomicU64, mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut request_body = vec![0; length];
    reader.read_exact(&mut request_body)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let path = target.split('?').next().unwrap_or("");
    let response = {
        let mut script = script.lock().unwrap();
        script.log.push(format!("{method} {target}"));
        script.received.push(Received {
            line: format!("{method} {target}"),
            headers,
        });
        script
            .responses
            .get(&format!("{method} {path}"))
            .cloned()
            .unwrap_or_else(|| FakeResponse::status(404))
    };
    if response.behaviour == Behaviour::Silence {
        // Hold the connection until the client gives up.
        let mut buffer = [0u8; 1024];
        while reader.read(&mut buffer)? > 0 {}
        return Ok(());
    }
    let mut head = format!("HTTP/1.1 {} Scripted\r\n", response.status);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Behaviour::Endless {
        len,
        declare_length,
    } = response.behaviour
    {
        if declare_length {
            head.push_str(&format!("Content-Length: {len}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        stream.write_all(head.as_bytes())?;
        let piece = [b' '; 64 * 1024];
        let mut left = len;
        while left > 0 && method != "HEAD" {
            let n = left.min(piece.len() as u64) as usize;
            stream.write_all(&piece[..n])?;
            sent.fetch_add(n as u64, Ordering::SeqCst);
            left -= n as u64;
        }
        return stream.flush();
    }
    if let Behaviour::Trickle { len, every } = response.behaviour {
        head.push_str(&format!(
            "Content-Length: {len}\r\nConnection: close\r\n\r\n"
        ));
        stream.write_all(head.as_bytes())?;
        for _ in 0..len {
            stream.write_all(b" ")?;
            stream.flush()?;
            sent.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(every);
        }
        return Ok(());
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    stream.write_all(head.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(&response.body)?;
    }
    stream.flush()
}
