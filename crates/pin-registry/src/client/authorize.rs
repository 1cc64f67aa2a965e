//! Authentication: what each registry host is sent, from its `/v2/` challenge, the
//! credentials found for it and the token requests of module `tokens`; and the one
//! retry of a request whose bearer token the registry refused.
//!
//! ## Who is shown which credentials
//!
//! Credentials are looked up for the host a lookup is sent to (the mirror, if one
//! applies; never Docker Hub's for a mirror) and go only to:
//!
//! - that host itself (basic auth); a redirect to another scheme, host or port is
//!   followed without them (module `http`);
//! - the token realm named by **that host's own** `WWW-Authenticate` challenge, which
//!   may be on another host: that is how Docker Hub works (registry-1.docker.io names
//!   auth.docker.io), and the Docker client does the same (distribution's token handler
//!   sends the registry's basic credentials to the realm its challenge names). Challenges
//!   and tokens are kept per registry host, so one registry's credentials never reach a
//!   realm another registry named.
//!
//! Stricter than Docker: a registry spoken to over HTTPS whose challenge names a
//! plain-`http://` realm is refused when we hold credentials for it (the realm would
//! receive them in clear text); the realm's host may be allowed with
//! `--insecure-registry`. Without credentials the anonymous token request goes ahead.

use std::sync::Arc;

use reqwest::{Method, StatusCode};

use super::{RegistryResolver, Result};
use crate::auth::{Auth, Challenge, Token, TokenRequest, parse_challenge};
use crate::credentials::Found;
use crate::error::ResolveErrorKind;
use crate::lookup::Endpoint;
use crate::tokens::Slot;
use crate::transport::Answer;

impl RegistryResolver {
    /// A registry request with `auth`. A 401 to a bearer token is answered once with a
    /// new token for the repository alone, and the request is sent again: a token may be
    /// revoked before its time, or lack a scope its batch asked for (then the host's
    /// tokens are asked one repository at a time from now on). The answer, and the
    /// `Auth` it was sent with.
    pub(super) async fn send_authorized(
        &self,
        method: Method,
        url: &str,
        endpoint: &Endpoint,
        auth: &Auth,
    ) -> Result<(Answer, Auth)> {
        let answer = self.send(method.clone(), url, auth).await?;
        let Some(granted) = &auth.granted else {
            return Ok((answer, auth.clone()));
        };
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok((answer, auth.clone()));
        }
        let Challenge::Bearer { realm, service } = self.challenge(&endpoint.host).await? else {
            return Ok((answer, auth.clone()));
        };
        let found = self.found(&endpoint.host).await?;
        let alone = self.tokens.renew(endpoint, &granted.cell);
        let fresh = self
            .bearer(endpoint, &realm, service.as_deref(), &found, alone)
            .await?;
        let again = self.send(method, url, &fresh).await?;
        if granted.repositories.len() > 1 && again.status != StatusCode::UNAUTHORIZED {
            self.tokens.stop_batching(&endpoint.host);
        }
        Ok((again, fresh))
    }

    /// What to send to `endpoint`: nothing, basic auth, or a bearer token.
    pub(crate) async fn authorization(&self, endpoint: &Endpoint) -> Result<Auth> {
        let challenge = self.challenge(&endpoint.host).await?;
        if challenge == Challenge::None {
            return Ok(Auth::anonymous());
        }
        let found = self.found(&endpoint.host).await?;
        match challenge {
            Challenge::None | Challenge::Basic => Ok(Auth::basic(&found)),
            Challenge::Bearer { realm, service } => {
                let slot = self.tokens.slot(endpoint);
                self.bearer(endpoint, &realm, service.as_deref(), &found, slot)
                    .await
            }
        }
    }

    /// The credentials for `host`, looked up once (off the async threads: a helper may
    /// take seconds).
    pub(super) async fn found(&self, host: &str) -> Result<Found> {
        let cell = self.found.cell(&host.to_string());
        cell.get_or_init(|| async {
            let store = Arc::clone(&self.credentials);
            let host = host.to_string();
            tokio::task::spawn_blocking(move || store.for_host(&host))
                .await
                .map_err(|e| ResolveErrorKind::Protocol(format!("credential lookup failed: {e}")))?
                .map_err(|message| ResolveErrorKind::Unauthorized { tried: message.0 })
        })
        .await
        .clone()
    }

    /// `GET /v2/` once per host: how it wants to be authenticated.
    pub(super) async fn challenge(&self, host: &str) -> Result<Challenge> {
        let cell = self.challenges.cell(&host.to_string());
        cell.get_or_init(|| async {
            let url = format!("{}://{host}/v2/", self.scheme(host));
            let answer = self.send(Method::GET, &url, &Auth::anonymous()).await?;
            if answer.status != StatusCode::UNAUTHORIZED {
                // 200, or a registry that does not implement the ping: try without.
                return Ok(Challenge::None);
            }
            let value = answer.header("www-authenticate").unwrap_or_default();
            parse_challenge(&value).ok_or_else(|| {
                ResolveErrorKind::Protocol(format!(
                    "{host} asks for authentication with an unknown challenge {value:?}"
                ))
            })
        })
        .await
        .clone()
    }

    /// Whether the credentials for registry `host` may be sent to `realm`, the realm its
    /// challenge named (see the module): not in clear text when the registry itself is
    /// spoken to over HTTPS, unless the realm's host is listed as insecure.
    pub(super) fn realm_may_receive_credentials(
        &self,
        host: &str,
        realm: &reqwest::Url,
    ) -> std::result::Result<(), String> {
        if realm.scheme() == "https"
            || self.scheme(host) == "http"
            || self.scheme(realm.authority()) == "http"
        {
            return Ok(());
        }
        Err(format!(
            "{host} names the token realm {}, which is not HTTPS: refusing to send the \
             credentials for {host} there in clear text (pass --insecure-registry {} if \
             that is intended)",
            realm.as_str(),
            realm.authority()
        ))
    }

    /// The bearer `Auth` from `slot`'s token request, made here unless another lookup
    /// of its batch made it. A batch the token server refused is asked again for
    /// `endpoint`'s repository alone, and the host's tokens one at a time from then on.
    pub(super) async fn bearer(
        &self,
        endpoint: &Endpoint,
        realm: &str,
        service: Option<&str>,
        found: &Found,
        mut slot: Slot,
    ) -> Result<Auth> {
        loop {
            let scopes = slot.scopes();
            let cell = Arc::clone(&slot.cell);
            let token = cell
                .get_or_init(|| self.fetch_token(endpoint, realm, service, found, &scopes))
                .await
                .clone();
            match token {
                Ok(token) => {
                    return Ok(Auth {
                        header: Some(format!("Bearer {}", token.value)),
                        tried: found.source.clone(),
                        granted: Some(slot),
                    });
                }
                Err(ResolveErrorKind::Token(_)) if slot.repositories.len() > 1 => {
                    self.tokens.stop_batching(&endpoint.host);
                    slot = self.tokens.renew(endpoint, &slot.cell);
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// One token request for `scopes` at `realm`, with `found` for `endpoint`'s host.
    pub(super) async fn fetch_token(
        &self,
        endpoint: &Endpoint,
        realm: &str,
        service: Option<&str>,
        found: &Found,
        scopes: &[String],
    ) -> Result<Token> {
        let realm = reqwest::Url::parse(realm).map_err(|e| {
            ResolveErrorKind::Token(format!("the token realm {realm:?} is not a URL: {e}"))
        })?;
        if found.credential.is_some() {
            self.realm_may_receive_credentials(&endpoint.host, &realm)
                .map_err(ResolveErrorKind::Token)?;
        }
        TokenRequest {
            realm,
            service,
            scopes,
            found,
        }
        .send(&self.transport)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::RegistryConfig;

    #[test]
    fn credentials_go_to_a_plain_http_realm_only_from_a_plain_http_registry() {
        let resolver = RegistryResolver::new(RegistryConfig {
            insecure: vec!["127.0.0.1:5000".into(), "auth.corp:8080".into()],
            ..RegistryConfig::default()
        })
        .unwrap();
        let url = |text: &str| reqwest::Url::parse(text).unwrap();
        // Docker Hub's way: an HTTPS realm on another host.
        assert!(
            resolver
                .realm_may_receive_credentials("registry.corp", &url("https://auth.corp/token"))
                .is_ok()
        );
        // An HTTPS registry naming a plain-HTTP realm: refused.
        let refused = resolver
            .realm_may_receive_credentials("registry.corp", &url("http://evil.example/token"))
            .unwrap_err();
        assert!(
            refused.contains("http://evil.example/token, which is not HTTPS"),
            "{refused}"
        );
        // The user said plain HTTP is fine: for the registry, or for the realm's host.
        assert!(
            resolver
                .realm_may_receive_credentials("127.0.0.1:5000", &url("http://127.0.0.2:1/t"))
                .is_ok()
        );
        assert!(
            resolver
                .realm_may_receive_credentials("registry.corp", &url("http://auth.corp:8080/t"))
                .is_ok()
        );
    }
}
