//! A scripted registry for what a real one will not do: rate limits, server errors,
//! missing or hostile digests. Everything else is tested against `docker-registry`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct FakeResponse {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (`Content-Length` and `Connection: close` are added).
    pub headers: Vec<(String, String)>,
    /// Body; a HEAD answer sends only its length.
    pub body: Vec<u8>,
}

impl FakeResponse {
    /// A status with no headers and no body.
    pub fn status(status: u16) -> FakeResponse {
        FakeResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
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

#[derive(Default)]
struct Script {
    /// Answers per `METHOD /path` (query ignored); unscripted requests get 404.
    responses: HashMap<String, FakeResponse>,
    /// Every request received, as `METHOD /path?query`.
    log: Vec<String>,
}

/// A scripted registry on 127.0.0.1 (a thread with a `TcpListener`), plain HTTP.
pub struct FakeRegistry {
    port: u16,
    script: Arc<Mutex<Script>>,
}

impl FakeRegistry {
    /// Starts serving; `GET /v2/` answers 200 (no auth) until scripted otherwise.
    pub fn start() -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake registry");
        let port = listener.local_addr().expect("fake registry address").port();
        let script = Arc::new(Mutex::new(Script::default()));
        script
            .lock()
            .unwrap()
            .responses
            .insert("GET /v2/".to_string(), FakeResponse::status(200));
        let served = Arc::clone(&script);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let script = Arc::clone(&served);
                std::thread::spawn(move || {
                    let _ = serve(&script, stream);
                });
            }
        });
        FakeRegistry { port, script }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
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
}

fn serve(script: &Mutex<Script>, mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let path = target.split('?').next().unwrap_or("");
    let response = {
        let mut script = script.lock().unwrap();
        script.log.push(format!("{method} {target}"));
        script
            .responses
            .get(&format!("{method} {path}"))
            .cloned()
            .unwrap_or_else(|| FakeResponse::status(404))
    };
    let mut head = format!("HTTP/1.1 {} Scripted\r\n", response.status);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
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
