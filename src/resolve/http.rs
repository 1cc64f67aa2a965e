//! Sending one registry request well: a cap on requests in flight per host, and retries
//! of what is worth retrying.
//!
//! Retried: 429 (after `Retry-After`, seconds or an HTTP date, at most
//! [`MAX_RETRY_AFTER`]), 500/502/503/504, connection resets, closed connections and
//! timeouts; with exponential backoff and full jitter (AWS's "full jitter": a random wait
//! between 0 and `BASE_BACKOFF · 2^attempt`), at most [`MAX_ATTEMPTS`] attempts. Not
//! retried: any other status (401, 403, 404 are answers), refused connections and TLS
//! failures (they do not heal in a second).

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use tokio::sync::Semaphore;

/// Attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 4;
/// Longest wait a `Retry-After` may ask for; longer asks are cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The backoff before the second attempt is random in `0..BASE_BACKOFF`, then doubles.
const BASE_BACKOFF: Duration = Duration::from_millis(250);

/// A response read to its end: manifests are small, and reading inside the retry loop
/// lets a connection that breaks mid-body be retried too.
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
}

/// What a request that could not be completed ended with.
#[derive(Debug)]
pub enum Failure {
    /// No answer: the error of the last attempt.
    Network(reqwest::Error),
}

/// The HTTP client with per-host caps.
pub struct Transport {
    client: reqwest::Client,
    /// Overrides the client's timeout per request (`None`: the client's own).
    request_timeout: Option<Duration>,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Transport {
    /// `per_host` requests in flight at most to any one host (at least 1).
    pub fn new(client: reqwest::Client, per_host: usize) -> Transport {
        Transport {
            client,
            request_timeout: None,
            per_host: per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Changes the per-host cap (for hosts not yet asked).
    pub fn set_per_host(&mut self, per_host: usize) {
        self.per_host = per_host.max(1);
    }

    /// Gives up on one attempt after `timeout` (then retries).
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.request_timeout = Some(timeout);
    }

    fn semaphore(&self, host: &str) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().expect("host semaphores");
        Arc::clone(
            hosts
                .entry(host.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
        )
    }

    /// Sends the request `build` makes (once per attempt) and reads the answer,
    /// retrying as the module says. The last answer is returned whatever its status.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Answer, Failure> {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
            })
            .unwrap_or_default();
        let semaphore = self.semaphore(&host);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = {
                let _permit = semaphore.acquire().await.expect("semaphore never closed");
                self.attempt(method.clone(), url, &build).await
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
                Err(error) => {
                    if last || !retryable(&error) {
                        return Err(Failure::Network(error));
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
    }

    async fn attempt(
        &self,
        method: Method,
        url: &str,
        build: &impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Answer, reqwest::Error> {
        let head = method == Method::HEAD;
        let mut request = build(self.client.request(method, url));
        if let Some(timeout) = self.request_timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = if head {
            Vec::new()
        } else {
            response.bytes().await?.to_vec()
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
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
mod tests {
    use super::*;

    #[test]
    fn http_date_parses() {
        let when = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            when.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            784_111_777
        );
        assert!(parse_http_date("yesterday").is_none());
    }

    #[test]
    fn retry_after_is_capped() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3600".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        for attempt in 1..=4 {
            let ceiling = BASE_BACKOFF * 2u32.pow(attempt - 1);
            assert!(backoff(attempt) < ceiling);
        }
    }
}
