//! Sending one registry request well: a cap on requests in flight per host, retries of
//! what is worth retrying, a deadline per attempt, a cap on the bytes read, and
//! redirects followed without handing our credentials to another host.
//!
//! Retried: 429 (after `Retry-After`, seconds or an HTTP date, at most
//! [`MAX_RETRY_AFTER`]), 500/502/503/504, connection resets, closed connections and
//! timeouts; with exponential backoff and full jitter (AWS's "full jitter": a random wait
//! between 0 and `BASE_BACKOFF · 2^attempt`), at most [`MAX_ATTEMPTS`] attempts. Not
//! retried: any other status (401, 403, 404 are answers), refused connections and TLS
//! failures (they do not heal in a second), bodies over the cap, refused redirects.
//!
//! A registry may be hostile, so nothing it sends is trusted to be small or quick:
//!
//! - **Deadline.** Each attempt (connection, redirects and the whole body) must finish
//!   within the request timeout ([`DEFAULT_REQUEST_TIMEOUT`] unless set), else it
//!   counts as a timeout. A server that accepts the connection and says nothing costs
//!   at most [`MAX_ATTEMPTS`] timeouts plus backoff (and the caller's own deadline).
//! - **Body cap.** Bodies are read chunk by chunk and the read stops at the caller's
//!   cap (a `Content-Length` over it is refused before reading): an endless body costs
//!   at most the cap in memory and time.
//! - **Redirects.** The client must be built with `redirect::Policy::none()`: this
//!   module follows redirects itself, at most [`MAX_REDIRECTS`] hops. reqwest's own
//!   policy strips `Authorization` only when a hop leaves the *previous* hop's origin,
//!   and rebuilds every hop from the first request's headers, so in a chain
//!   `A → B → B` the second request to B carries A's credentials. Here every hop is
//!   compared with the *first* request's origin (scheme, host, port): `Authorization`,
//!   `Cookie` and `Proxy-Authorization` go only to that origin (what Go's `net/http`,
//!   and so the Docker client, does). A redirect from `https` to `http` is refused, and a
//!   `POST` (its body may carry a refresh token) is never redirected.
//!
//! Waits (`Retry-After`, backoff) hold no place at the host; the retry then enters
//! before first attempts that are waiting (module `gate`).

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, LOCATION, PROXY_AUTHORIZATION};
use reqwest::{Method, Request, RequestBuilder, StatusCode, Url};

use crate::gate::Gate;

/// Attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 4;
/// Longest wait a `Retry-After` may ask for; longer asks are cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The backoff before the second attempt is random in `0..BASE_BACKOFF`, then doubles.
const BASE_BACKOFF: Duration = Duration::from_millis(250);
/// Longest one attempt may take (connection, redirects and body) unless set otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirect hops followed per request; the distribution API needs none for
/// manifests, a few cover a registry behind a moved host or a CDN.
pub const MAX_REDIRECTS: usize = 5;

/// A response read to its end (at most the cap): manifests are small, and reading
/// inside the retry loop lets a connection that breaks mid-body be retried too.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body (empty for `HEAD`).
    pub body: Vec<u8>,
}

impl Answer {
    /// A header's value, trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.headers, name)
    }

    /// A header that must be said once, if at all: `Ok(None)` when absent; an error
    /// when a value is not visible ASCII (it is not "absent") or when two values differ.
    pub fn single_header(&self, name: &str) -> Result<Option<String>, String> {
        let mut said: Option<String> = None;
        for value in self.headers.get_all(name) {
            let value = value
                .to_str()
                .map_err(|_| format!("the {name} header is not ASCII text"))?
                .trim()
                .to_string();
            match &said {
                Some(first) if *first != value => {
                    return Err(format!("two {name} headers with different values"));
                }
                _ => said = Some(value),
            }
        }
        Ok(said)
    }
}

/// What a request that could not be completed ended with.
#[derive(Debug)]
pub enum Failure {
    /// No answer: the error of the last attempt.
    Network(reqwest::Error),
    /// No attempt finished within the request timeout.
    TimedOut {
        /// The request timeout.
        after: Duration,
        /// Attempts made.
        attempts: u32,
    },
    /// The body is longer than the caller's cap; the rest was not read.
    TooLarge {
        /// The URL that answered (after redirects).
        url: String,
        /// The cap, in bytes.
        limit: usize,
    },
    /// A redirect that is not followed (to `http` from `https`, too many, a `POST`, no
    /// usable `Location`).
    Redirect(String),
}

/// Why one attempt failed.
enum AttemptError {
    Network(reqwest::Error),
    TimedOut,
    TooLarge { url: String, limit: usize },
    Redirect(String),
}

impl From<reqwest::Error> for AttemptError {
    fn from(error: reqwest::Error) -> AttemptError {
        if error.is_timeout() {
            AttemptError::TimedOut
        } else {
            AttemptError::Network(error)
        }
    }
}

/// The HTTP client with per-host caps.
pub struct Transport {
    client: reqwest::Client,
    /// The deadline of one attempt.
    request_timeout: Duration,
    per_host: usize,
    /// The cap per `host:port` a request is sent to: a token realm on another host
    /// counts against that host, not against the registry that named it.
    hosts: Mutex<HashMap<String, Arc<Gate>>>,
    /// The cap on requests in flight to all hosts together, once set.
    total: Mutex<Option<Arc<Gate>>>,
}

impl Transport {
    /// `per_host` requests in flight at most to any one host (at least 1).
    pub fn new(client: reqwest::Client, per_host: usize) -> Transport {
        Transport {
            client,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            per_host: per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
            total: Mutex::new(None),
        }
    }

    /// At most `total` requests in flight to all hosts together (at least 1), from now
    /// on.
    pub fn set_total_cap(&self, total: usize) {
        *self.total.lock().expect("total gate") = Some(Gate::new(total));
    }

    /// Changes the per-host cap (for hosts not yet asked).
    pub fn set_per_host(&mut self, per_host: usize) {
        self.per_host = per_host.max(1);
    }

    /// Gives up on one attempt after `timeout` (then retries).
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.request_timeout = timeout;
    }

    fn gate(&self, host: &str) -> Arc<Gate> {
        let mut hosts = self.hosts.lock().expect("host gates");
        Arc::clone(
            hosts
                .entry(host.to_string())
                .or_insert_with(|| Gate::new(self.per_host)),
        )
    }

    /// Sends the request `build` makes (once per attempt) and reads the answer, at
    /// most `max_body` bytes of it, retrying as the module says. The last answer is
    /// returned whatever its status.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        max_body: usize,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Answer, Failure> {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
            })
            .unwrap_or_default();
        let gate = self.gate(&host);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = {
                // A retry goes first: its wait held no place (see module `gate`).
                let _permit = gate.enter(attempt > 1).await;
                // Then a place among all hosts' (never the other way round: a request
                // holding a shared place never waits for its host).
                let total = self.total.lock().expect("total gate").clone();
                let _shared = match &total {
                    Some(total) => Some(total.enter(attempt > 1).await),
                    None => None,
                };
                let started = std::time::Instant::now();
                let sent = self.attempt(method.clone(), url, max_body, &build);
                let result = tokio::time::timeout(self.request_timeout, sent)
                    .await
                    .unwrap_or(Err(AttemptError::TimedOut));
                log_attempt(&method, url, &result, started.elapsed(), attempt);
                result
            };
            let last = attempt >= MAX_ATTEMPTS;
            match result {
                Ok(answer) => {
                    let wait = match answer.status.as_u16() {
                        429 => {
                            Some(retry_after(&answer.headers).unwrap_or_else(|| backoff(attempt)))
                        }
                        500 | 502 | 503 | 504 => Some(backoff(attempt)),
                        _ => None,
                    };
                    match wait {
                        Some(wait) if !last => tokio::time::sleep(wait).await,
                        _ => return Ok(answer),
                    }
                }
                Err(AttemptError::TimedOut) if last => {
                    return Err(Failure::TimedOut {
                        after: self.request_timeout,
                        attempts: attempt,
                    });
                }
                Err(AttemptError::TimedOut) => tokio::time::sleep(backoff(attempt)).await,
                Err(AttemptError::Network(error)) => {
                    if last || !retryable(&error) {
                        return Err(Failure::Network(error));
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(AttemptError::TooLarge { url, limit }) => {
                    return Err(Failure::TooLarge { url, limit });
                }
                Err(AttemptError::Redirect(why)) => return Err(Failure::Redirect(why)),
            }
        }
    }

    /// One attempt: the request, the redirects it meets (see the module), and the body
    /// up to `max_body` bytes.
    async fn attempt(
        &self,
        method: Method,
        url: &str,
        max_body: usize,
        build: &impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Answer, AttemptError> {
        let first = build(self.client.request(method.clone(), url)).build()?;
        let origin = first.url().clone();
        let headers = first.headers().clone();
        let mut request = first;
        let mut hops = 0;
        let mut response = loop {
            let current = request.url().clone();
            let response = self.client.execute(request).await?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                break response;
            }
            let next = next_hop(&method, &current, status, response.headers(), hops)?;
            hops += 1;
            let method = if status == StatusCode::SEE_OTHER && method != Method::HEAD {
                Method::GET
            } else {
                method.clone()
            };
            let mut next_request = Request::new(method, next);
            *next_request.headers_mut() = headers.clone();
            if !same_origin(&origin, next_request.url()) {
                for name in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
                    next_request.headers_mut().remove(name);
                }
            }
            request = next_request;
        };
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        if method != Method::HEAD {
            let too_large = |response: &reqwest::Response| AttemptError::TooLarge {
                url: response.url().to_string(),
                limit: max_body,
            };
            if response
                .content_length()
                .is_some_and(|length| length > max_body as u64)
            {
                return Err(too_large(&response));
            }
            // Chunk by chunk: an endless body costs at most the cap.
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > max_body {
                    return Err(too_large(&response));
                }
                body.extend_from_slice(&chunk);
            }
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// One line per attempt at debug level (`pin -vv`): method, host, path, status or
/// failure, time. Never a query (a scope is no secret, but nothing else goes there
/// either), a header or a body: no credential can reach the log.
fn log_attempt(
    method: &Method,
    url: &str,
    result: &Result<Answer, AttemptError>,
    took: Duration,
    attempt: u32,
) {
    if !log::log_enabled!(log::Level::Debug) {
        return;
    }
    let (host, path) = match Url::parse(url) {
        Ok(url) => (url.authority().to_string(), url.path().to_string()),
        Err(_) => (String::new(), String::new()),
    };
    let outcome = match result {
        Ok(answer) => answer.status.as_u16().to_string(),
        Err(AttemptError::TimedOut) => "timed out".to_string(),
        Err(AttemptError::Network(_)) => "network error".to_string(),
        Err(AttemptError::TooLarge { .. }) => "body over the cap".to_string(),
        Err(AttemptError::Redirect(_)) => "redirect refused".to_string(),
    };
    let retry = if attempt > 1 {
        format!(" (attempt {attempt})")
    } else {
        String::new()
    };
    log::debug!(
        "{method} {} {} → {outcome} in {} ms{retry}",
        crate::text::printable(&host),
        crate::text::printable(&path),
        took.as_millis()
    );
}

/// Where a redirect from `current` leads, if it may be followed.
fn next_hop(
    method: &Method,
    current: &Url,
    status: StatusCode,
    headers: &HeaderMap,
    hops: usize,
) -> Result<Url, AttemptError> {
    let status = status.as_u16();
    if *method == Method::POST {
        return Err(AttemptError::Redirect(format!(
            "{current} answered a POST with a redirect (HTTP {status}); not followed"
        )));
    }
    if hops >= MAX_REDIRECTS {
        return Err(AttemptError::Redirect(format!(
            "more than {MAX_REDIRECTS} redirects, the last from {current}"
        )));
    }
    let location = header(headers, LOCATION.as_str()).ok_or_else(|| {
        AttemptError::Redirect(format!(
            "{current} answered HTTP {status} without a Location"
        ))
    })?;
    let next = current.join(&location).map_err(|e| {
        AttemptError::Redirect(format!(
            "{current} redirects to {location:?}, which is not a URL: {e}"
        ))
    })?;
    match (current.scheme(), next.scheme()) {
        ("https", "https") | ("http", "http") | ("http", "https") => Ok(next),
        ("https", "http") => Err(AttemptError::Redirect(format!(
            "{current} redirects to plain HTTP ({next}); refused"
        ))),
        _ => Err(AttemptError::Redirect(format!(
            "{current} redirects to {next}, which is not HTTP(S); refused"
        ))),
    }
}

/// Same scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether a failed attempt may succeed if tried again.
fn retryable(error: &reqwest::Error) -> bool {
    if error.is_timeout() {
        return true;
    }
    let chain = error_chain(error).to_lowercase();
    let permanent = [
        "connection refused",
        "certificate",
        "invalidcontenttype",
        "dns error",
        "builder error",
    ];
    !permanent.iter().any(|p| chain.contains(p))
}

/// Full jitter: random in `0..BASE_BACKOFF · 2^(attempt-1)`.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BASE_BACKOFF * 2u32.pow(attempt.saturating_sub(1).min(6));
    let fraction = (random_u64() % 10_000) as f64 / 10_000.0;
    ceiling.mul_f64(fraction)
}

/// Randomness enough for jitter, without a dependency: std's per-process random hash
/// keys, mixed with a counter.
fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// `Retry-After` as seconds or an HTTP date, capped at [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = header(headers, "retry-after")?;
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let when = parse_http_date(&value)?;
            when.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires senders
/// to use.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + h * 3600 + m * 60 + s;
    let seconds = u64::try_from(seconds).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// A header's value, trimmed.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_string())
}

/// An error and its causes in one line (reqwest's own message names only the URL).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
