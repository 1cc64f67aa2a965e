//! A fault-injecting HTTP/1.1 proxy in front of a real registry (and its token server):
//! it counts requests by kind, can add latency, and can answer the first N requests of
//! a kind with a status (429 with `Retry-After`, 5xx) or close the connection unanswered.
//!
//! Client connections are kept alive (as a registry's are); each request is forwarded
//! on a fresh upstream connection with `Connection: close`, so responses are read to
//! their end. With a token server, the registry's `WWW-Authenticate` realm is rewritten
//! to the proxy's `/token` on a second port (a host of its own, as Docker Hub's
//! auth.docker.io is), so token requests pass (and are counted) here too.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `GET /v2/`.
    Ping,
    /// A request to the token endpoint (`/token`).
    Token,
    /// `HEAD /v2/<name>/manifests/<reference>`.
    HeadManifest,
    /// `GET /v2/<name>/manifests/<reference>`.
    GetManifest,
    /// `GET /v2/<name>/blobs/<digest>`.
    Blob,
    /// Anything else.
    Other,
}

/// What to do instead of forwarding.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and headers, no body.
    Status(u16, Vec<(String, String)>),
    /// Close the connection without answering.
    Close,
    /// Wait this long, then answer as usual (a client with a shorter timeout gives up).
    Stall(Duration),
}

impl Fault {
    /// A status without headers.
    pub fn status(status: u16) -> Fault {
        Fault::Status(status, Vec::new())
    }

    /// A status with one header.
    pub fn status_with(status: u16, name: &str, value: &str) -> Fault {
        Fault::Status(status, vec![(name.to_string(), value.to_string())])
    }
}

#[derive(Default)]
struct State {
    counts: HashMap<Kind, usize>,
    /// Per kind: (how many more requests get the fault, the fault).
    faults: HashMap<Kind, (usize, Fault)>,
    /// Faults for any request, each with its chance, drawn from a seeded sequence.
    random: Vec<(f64, Fault)>,
    draws: u64,
    seed: u64,
    /// Requests that got a random fault.
    random_faults: usize,
    /// The requests (`METHOD target`) that got one: each gets at most one.
    faulted: std::collections::HashSet<String>,
    log: Vec<String>,
}

struct Shared {
    upstream: String,
    /// The proxy's own port for token requests (a separate host, as Docker Hub's
    /// auth.docker.io is), when there is a token server.
    token_port: Option<u16>,
    token_upstream: Option<String>,
    latency: Duration,
    state: Mutex<State>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

/// A running proxy on 127.0.0.1.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy to `upstream` (`127.0.0.1:PORT`), no latency.
    pub fn start(upstream: &str) -> Proxy {
        Proxy::launch(upstream, None, Duration::ZERO)
    }

    /// A proxy to `upstream` that also forwards `/token` to the token server at
    /// `token_realm` (`http://127.0.0.1:TPORT/token`), each request delayed by `latency`.
    pub fn start_with_token(upstream: &str, token_realm: &str, latency: Duration) -> Proxy {
        let token_host = token_realm
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        Proxy::launch(upstream, Some(token_host), latency)
    }

    fn launch(upstream: &str, token_upstream: Option<String>, latency: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let token_listener = token_upstream
            .as_ref()
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind proxy token port"));
        let token_port = token_listener
            .as_ref()
            .map(|l| l.local_addr().expect("proxy token address").port());
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            token_port,
            token_upstream,
            latency,
            state: Mutex::new(State::default()),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        });
        for listener in std::iter::once(listener).chain(token_listener) {
            let served = Arc::clone(&shared);
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let shared = Arc::clone(&served);
                    std::thread::spawn(move || {
                        let _ = serve_connection(&shared, stream);
                    });
                }
            });
        }
        Proxy { port, shared }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The first `times` requests of `kind` from now on get `fault`.
    pub fn fail(&self, kind: Kind, times: usize, fault: Fault) {
        self.shared
            .state
            .lock()
            .unwrap()
            .faults
            .insert(kind, (times, fault));
    }

    /// From now on every request (of any kind) gets the first of `faults` whose chance
    /// comes up, in a sequence fixed by `seed`: `[(0.10, 429 with Retry-After: 1),
    /// (0.05, 500)]` fails 10 % and 5 % of requests. A request is faulted at most once,
    /// so its retry gets through: what a run costs then is how well the client waits,
    /// not how often the dice fail one request twice.
    pub fn fail_at_random(&self, faults: Vec<(f64, Fault)>, seed: u64) {
        let mut state = self.shared.state.lock().unwrap();
        state.random = faults;
        state.seed = seed;
        state.draws = 0;
    }

    /// Requests that got a fault from [`Proxy::fail_at_random`].
    pub fn random_faults(&self) -> usize {
        self.shared.state.lock().unwrap().random_faults
    }

    /// Requests of `kind` received so far (faulted ones included).
    pub fn count(&self, kind: Kind) -> usize {
        self.shared
            .state
            .lock()
            .unwrap()
            .counts
            .get(&kind)
            .copied()
            .unwrap_or(0)
    }

    /// Requests received so far, per kind.
    pub fn counts(&self) -> HashMap<Kind, usize> {
        self.shared.state.lock().unwrap().counts.clone()
    }

    /// Every request so far as `METHOD /path`, in order of arrival.
    pub fn log(&self) -> Vec<String> {
        self.shared.state.lock().unwrap().log.clone()
    }

    /// The most requests that were in flight at once.
    pub fn most_in_flight(&self) -> usize {
        self.shared.most_in_flight.load(Ordering::SeqCst)
    }
}

/// The next draw of the seeded sequence against the random faults' chances.
fn random_fault(state: &mut State) -> Option<Fault> {
    if state.random.is_empty() {
        return None;
    }
    state.draws += 1;
    // splitmix64: a fixed, well-spread sequence per seed.
    let mut z = state
        .seed
        .wrapping_add(state.draws.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let mut draw = (z >> 11) as f64 / (1u64 << 53) as f64;
    for (chance, fault) in &state.random {
        if draw < *chance {
            state.random_faults += 1;
            return Some(fault.clone());
        }
        draw -= chance;
    }
    None
}

fn classify(method: &str, path: &str) -> Kind {
    let path = path.split('?').next().unwrap_or("");
    if path == "/token" {
        Kind::Token
    } else if path == "/v2/" || path == "/v2" {
        Kind::Ping
    } else if path.starts_with("/v2/") && path.contains("/manifests/") {
        match method {
            "HEAD" => Kind::HeadManifest,
            "GET" => Kind::GetManifest,
            _ => Kind::Other,
        }
    } else if path.starts_with("/v2/") && path.contains("/blobs/") && method == "GET" {
        Kind::Blob
    } else {
        Kind::Other
    }
}

/// One request's head and body.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

fn serve_connection(shared: &Shared, stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader)? {
        let kind = classify(&request.method, &request.target);
        let fault = {
            let mut state = shared.state.lock().unwrap();
            *state.counts.entry(kind).or_default() += 1;
            state
                .log
                .push(format!("{} {}", request.method, request.target));
            match state.faults.get_mut(&kind) {
                Some((left, fault)) if *left > 0 => {
                    *left -= 1;
                    Some(fault.clone())
                }
                _ => {
                    let key = format!("{} {}", request.method, request.target);
                    match state.faulted.contains(&key) {
                        true => None,
                        false => random_fault(&mut state).inspect(|_| {
                            state.faulted.insert(key);
                        }),
                    }
                }
            }
        };
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let mut flight = InFlight(Some(&shared.in_flight));
        if !shared.latency.is_zero() {
            std::thread::sleep(shared.latency);
        }
        let result = match fault {
            Some(Fault::Close) => {
                flight.land();
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::Stall(wait)) => {
                std::thread::sleep(wait);
                forward(shared, &request, kind, &mut writer, &mut flight)
            }
            // `forward` counts the request as done before it answers: once the client
            // has the answer it may send the next request, which must not overlap.
            Some(Fault::Status(status, headers)) => {
                let mut head = format!("HTTP/1.1 {status} Injected\r\n");
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("Content-Length: 0\r\n\r\n");
                flight.land();
                writer.write_all(head.as_bytes()).map(|_| true)
            }
            None => forward(shared, &request, kind, &mut writer, &mut flight),
        };
        if !result? {
            let _ = writer.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
    Ok(())
}

/// Forwards `request` and writes the answer back; `false` when the client connection
/// must close (the answer had no length).
/// One request counted as in flight until it lands: just before its answer is
/// written (once the client has the answer it may send the next request, which must
/// not look like an overlap), or when it fails on the way.
struct InFlight<'a>(Option<&'a AtomicUsize>);

impl InFlight<'_> {
    fn land(&mut self) {
        if let Some(count) = self.0.take() {
            count.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.land();
    }
}

fn forward(
    shared: &Shared,
    request: &Request,
    kind: Kind,
    writer: &mut TcpStream,
    flight: &mut InFlight<'_>,
) -> std::io::Result<bool> {
    let upstream = match (kind, &shared.token_upstream) {
        (Kind::Token, Some(token)) => token.as_str(),
        _ => shared.upstream.as_str(),
    };
    let mut out = TcpStream::connect(upstream)?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("host") {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Host: {upstream}\r\nConnection: close\r\n\r\n"));
    out.write_all(head.as_bytes())?;
    out.write_all(&request.body)?;
    let mut response = Vec::new();
    out.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(response.len());
    let (response_head, body) = response.split_at(split);
    let response_head = String::from_utf8_lossy(response_head);
    let mut rewritten = String::new();
    let mut framed = request.method == "HEAD";
    for (i, line) in response_head.split("\r\n").enumerate() {
        if line.is_empty() {
            continue;
        }
        if i > 0 {
            let name = line.split(':').next().unwrap_or("").trim();
            if name.eq_ignore_ascii_case("connection") {
                continue;
            }
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding")
            {
                framed = true;
            }
            if name.eq_ignore_ascii_case("www-authenticate")
                && let (Some(token), Some(port)) = (&shared.token_upstream, shared.token_port)
            {
                let line = line.replace(
                    &format!("http://{token}/token"),
                    &format!("http://127.0.0.1:{port}/token"),
                );
                rewritten.push_str(&line);
                rewritten.push_str("\r\n");
                continue;
            }
        }
        rewritten.push_str(line);
        rewritten.push_str("\r\n");
    }
    if !framed {
        rewritten.push_str("Connection: close\r\n");
    }
    rewritten.push_str("\r\n");
    // Done before the client can read a byte of the answer (see the caller).
    flight.land();
    writer.write_all(rewritten.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()?;
    Ok(framed)
}

/// `when` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), for `Retry-After`.
pub fn http_date(when: SystemTime) -> String {
    let seconds = when
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
