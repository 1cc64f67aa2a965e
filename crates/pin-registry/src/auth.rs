//! Authentication: the `/v2/` challenge, Basic headers, and the bearer token flow as
//! the Docker client speaks it (`GET realm?service&scope` with basic auth, or the
//! OAuth2 refresh-token `POST` for an identity token).

use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::Deserialize;

use crate::credentials::{Credential, Found};
use crate::error::{ResolveErrorKind, rate_limit_suffix};
use crate::text::{basic_value, printable, redact};
use crate::tokens::Slot;
use crate::transport::{Answer, Transport};

/// Most bytes read of a token endpoint's answer: a JSON object with one JWT (a few KiB
/// even with an `x5c` chain).
pub const MAX_TOKEN_BYTES: usize = 1024 * 1024;
/// A token's lifetime when the token server does not say (Docker's token
/// specification: 60 s); tokens are renewed this long before they expire.
const TOKEN_DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
const TOKEN_MARGIN: Duration = Duration::from_secs(10);
/// The longest a token is kept, whatever `expires_in` says: a run takes minutes, and a
/// hostile `expires_in` of 2^64 − 1 seconds must not overflow the clock.
const TOKEN_MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// How a registry host wants to be authenticated (its `GET /v2/` answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `200`: no authentication.
    None,
    /// `WWW-Authenticate: Basic`.
    Basic,
    /// `WWW-Authenticate: Bearer realm=…,service=…`.
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// The `Authorization` header for one endpoint and what it was made from (for 401
/// messages; never the secret).
#[derive(Clone)]
pub(crate) struct Auth {
    pub(crate) header: Option<String>,
    pub(crate) tried: String,
    /// The token request a bearer header came from.
    pub(crate) granted: Option<Slot>,
}

impl Auth {
    /// No `Authorization` header.
    pub(crate) fn anonymous() -> Auth {
        Auth {
            header: None,
            tried: "no credentials".to_string(),
            granted: None,
        }
    }

    /// Basic auth with `found`'s user name and password, if it has them.
    pub(crate) fn basic(found: &Found) -> Auth {
        Auth {
            header: basic_header(found.credential.as_ref()),
            tried: found.source.clone(),
            granted: None,
        }
    }
}

/// `Basic base64(user:password)` for a user name and password; nothing for an identity
/// token or no credential.
fn basic_header(credential: Option<&Credential>) -> Option<String> {
    match credential {
        Some(Credential::Basic { username, password }) => Some(format!(
            "Basic {}",
            basic_value(username, password.expose())
        )),
        _ => None,
    }
}

/// A token and when to stop using it.
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) value: String,
    pub(crate) renew_at: Instant,
}

impl Token {
    /// Whether it is time to fetch a new one.
    pub(crate) fn is_due(&self) -> bool {
        Instant::now() >= self.renew_at
    }
}

/// `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
pub(crate) fn parse_challenge(value: &str) -> Option<Challenge> {
    let (scheme, params) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        let name = name.trim().trim_start_matches(',').trim();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match name.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value.to_string()),
            "service" => service = Some(value.to_string()),
            _ => {}
        }
        rest = remaining.trim_start_matches([',', ' ']);
    }
    Some(Challenge::Bearer {
        realm: realm?,
        service,
    })
}

/// One token request: for `scopes` (one or a batch) at `realm`, with what was found for
/// the registry.
pub(crate) struct TokenRequest<'a> {
    pub(crate) realm: Url,
    pub(crate) service: Option<&'a str>,
    pub(crate) scopes: &'a [String],
    pub(crate) found: &'a Found,
}

impl TokenRequest<'_> {
    /// Ask the token endpoint; a refusal says which credentials were refused, never
    /// their value.
    pub(crate) async fn send(self, transport: &Transport) -> Result<Token, ResolveErrorKind> {
        let answer = match &self.found.credential {
            Some(Credential::IdentityToken(refresh)) => {
                let body = self.refresh_form(refresh.expose());
                transport
                    .send(
                        Method::POST,
                        self.realm.as_str(),
                        MAX_TOKEN_BYTES,
                        |request| {
                            request
                                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                                .body(body.clone())
                        },
                    )
                    .await
            }
            basic => {
                let mut url = self.realm.clone();
                {
                    let mut pairs = url.query_pairs_mut();
                    if let Some(service) = self.service {
                        pairs.append_pair("service", service);
                    }
                    // One `scope` parameter per repository, as distribution's and
                    // Docker Hub's token servers take them.
                    for scope in self.scopes {
                        pairs.append_pair("scope", scope);
                    }
                }
                let header = basic_header(basic.as_ref());
                transport
                    .send(
                        Method::GET,
                        url.as_str(),
                        MAX_TOKEN_BYTES,
                        |request| match &header {
                            Some(value) => request.header(AUTHORIZATION, value),
                            None => request,
                        },
                    )
                    .await
            }
        };
        let answer = answer.map_err(|failure| {
            match ResolveErrorKind::from_failure(failure, "token answer") {
                ResolveErrorKind::Network(text) => {
                    ResolveErrorKind::Token(format!("no answer from the token endpoint: {text}"))
                }
                ResolveErrorKind::Protocol(text) => ResolveErrorKind::Token(text),
                other => other,
            }
        })?;
        if !answer.status.is_success() {
            return Err(self.refused(&answer));
        }
        parse_token(&answer.body)
    }

    /// The OAuth2 refresh-token form.
    fn refresh_form(&self, refresh_token: &str) -> String {
        let mut form = Url::parse("http://form.invalid/").expect("static URL");
        {
            let mut pairs = form.query_pairs_mut();
            pairs
                .append_pair("grant_type", "refresh_token")
                .append_pair("client_id", "pin")
                // OAuth2: one field, scopes separated by spaces.
                .append_pair("scope", &self.scopes.join(" "))
                .append_pair("refresh_token", refresh_token);
            if let Some(service) = self.service {
                pairs.append_pair("service", service);
            }
        }
        form.query().unwrap_or("").to_string()
    }

    /// The error for a token endpoint's non-2xx answer. A hostile endpoint may quote our
    /// credentials back in its error, or write terminal escapes: the whole text is
    /// redacted, then shortened and neutralised.
    fn refused(&self, answer: &Answer) -> ResolveErrorKind {
        let details = redact(
            &token_error_details(&answer.body),
            self.found.credential.as_ref(),
        );
        let details = printable(&details.chars().take(200).collect::<String>());
        let status = answer.status.as_u16();
        ResolveErrorKind::Token(if matches!(status, 401 | 403) {
            format!(
                "token endpoint refused {} (HTTP {status}): {details}",
                self.found.source
            )
        } else {
            format!(
                "token endpoint answered HTTP {status}{}: {details}",
                rate_limit_suffix(answer.header("ratelimit-remaining").as_deref())
            )
        })
    }
}

/// The token in a token endpoint's answer, with its lifetime: `expires_in` when the
/// server says it, capped.
fn parse_token(body: &[u8]) -> Result<Token, ResolveErrorKind> {
    #[derive(Deserialize)]
    struct TokenAnswer {
        token: Option<String>,
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
    }
    let parsed: TokenAnswer = serde_json::from_slice(body)
        .map_err(|e| ResolveErrorKind::Token(format!("token endpoint sent no JSON token: {e}")))?;
    let value = parsed
        .token
        .filter(|t| !t.is_empty())
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ResolveErrorKind::Token("token endpoint sent an empty token".into()))?;
    let lifetime = lifetime(parsed.expires_in.as_ref());
    // Renewed a margin before it expires, or half-way through a very short life.
    let usable = lifetime.saturating_sub(TOKEN_MARGIN).max(lifetime / 2);
    Ok(Token {
        value,
        renew_at: Instant::now() + usable,
    })
}

/// A token's lifetime from `expires_in`: whole or fractional seconds (`300`, `300.0`,
/// also as a string), at most [`TOKEN_MAX_LIFETIME`]; anything else (missing,
/// negative, not a number) is the specification's default. A token is never refused
/// for its lifetime: the registry is the judge of whether it is still valid.
fn lifetime(expires_in: Option<&serde_json::Value>) -> Duration {
    let seconds = match expires_in {
        Some(serde_json::Value::Number(number)) => number.as_f64(),
        Some(serde_json::Value::String(text)) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    match seconds {
        Some(seconds) if seconds.is_finite() && seconds > 0.0 => {
            Duration::from_secs_f64(seconds.min(TOKEN_MAX_LIFETIME.as_secs_f64()))
        }
        _ => TOKEN_DEFAULT_LIFETIME,
    }
}

/// The `details` (or `error_description`, `error`) of a token server's error body, else
/// the body; whole, so that [`redact`] sees every secret before it is shortened.
fn token_error_details(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Body {
        details: Option<String>,
        error: Option<String>,
        error_description: Option<String>,
    }
    if let Ok(parsed) = serde_json::from_slice::<Body>(body)
        && let Some(text) = parsed.details.or(parsed.error_description).or(parsed.error)
    {
        return text;
    }
    String::from_utf8_lossy(body).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifetime_of(body: &str) -> Result<Duration, ResolveErrorKind> {
        let before = Instant::now();
        parse_token(body.as_bytes()).map(|token| token.renew_at - before)
    }

    #[test]
    fn any_expires_in_gives_a_sane_lifetime_and_never_a_refusal() {
        let near = |got: Duration, want: u64| {
            let want = Duration::from_secs(want);
            let close = got + Duration::from_secs(1) > want && got < want + Duration::from_secs(1);
            assert!(close, "{got:?} for {want:?}");
        };
        near(
            lifetime_of(r#"{"token":"t","expires_in":300}"#).unwrap(),
            290,
        );
        near(
            lifetime_of(r#"{"token":"t","expires_in":300.0}"#).unwrap(),
            290,
        );
        near(
            lifetime_of(r#"{"token":"t","expires_in":"300"}"#).unwrap(),
            290,
        );
        near(
            lifetime_of(r#"{"token":"t","expires_in":1e300}"#).unwrap(),
            3590,
        );
        near(
            lifetime_of(r#"{"token":"t","expires_in":18446744073709551615}"#).unwrap(),
            3590,
        );
        for odd in ["-5", "-0.5", "0", "\"soon\"", "null", "{}", "[]", "true"] {
            let body = format!(r#"{{"token":"t","expires_in":{odd}}}"#);
            near(lifetime_of(&body).unwrap(), 50);
        }
        near(lifetime_of(r#"{"token":"t"}"#).unwrap(), 50);
        // Shorter than the margin: used for half of it.
        near(lifetime_of(r#"{"token":"t","expires_in":8}"#).unwrap(), 4);
    }
}
