//! Registry text made safe to show: control characters escaped, secrets redacted,
//! sizes and durations in words.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::credentials::Credential;

/// Text a registry chose, made safe for a terminal: control characters (ESC starts
/// the sequences that move the cursor, erase lines or retitle the window) are shown
/// escaped, `\u{1b}`, instead of acting.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` with every spelling of `credential` a server could echo back (the password,
/// the `Authorization: Basic` value, an identity token, also form-encoded) replaced by
/// `***`.
pub(crate) fn redact(text: &str, credential: Option<&Credential>) -> String {
    let mut secrets = Vec::new();
    match credential {
        Some(Credential::Basic { username, password }) => {
            secrets.push(basic_value(username, password.expose()));
            secrets.push(password.expose().to_string());
        }
        Some(Credential::IdentityToken(token)) => secrets.push(token.expose().to_string()),
        None => {}
    }
    let encoded: Vec<String> = secrets.iter().map(|secret| form_encoded(secret)).collect();
    secrets.extend(encoded);
    secrets.retain(|secret| !secret.is_empty());
    // Longest first, so that a password inside its base64 form cannot split it.
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    let mut text = text.to_string();
    for secret in &secrets {
        text = text.replace(secret.as_str(), "***");
    }
    text
}

/// `0.5 s`, `30 s`.
pub(crate) fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// `4 MiB`, `512 KiB`, `100 bytes`.
pub(crate) fn size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// The base64 `user:password` of a Basic `Authorization` header (the one place it is
/// built).
pub(crate) fn basic_value(username: &str, password: &str) -> String {
    STANDARD.encode(format!("{username}:{password}"))
}

/// Text put into a URL's query the way a form encodes it.
pub(crate) fn form_encoded(value: &str) -> String {
    let mut form = reqwest::Url::parse("http://form.invalid/").expect("static URL");
    form.query_pairs_mut().append_pair("s", value);
    form.query()
        .unwrap_or("s=")
        .trim_start_matches("s=")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Secret;

    #[test]
    fn credentials_echoed_by_a_server_are_redacted() {
        let basic = Credential::Basic {
            username: "alice".into(),
            password: Secret::new("p@ss word"),
        };
        let echoed = format!(
            "bad Basic {} for p@ss word (p%40ss+word)",
            basic_value("alice", "p@ss word")
        );
        assert_eq!(redact(&echoed, Some(&basic)), "bad Basic *** for *** (***)");
        let identity = Credential::IdentityToken(Secret::new("refresh-me"));
        assert_eq!(
            redact("refresh_token=refresh-me is revoked", Some(&identity)),
            "refresh_token=*** is revoked"
        );
        assert_eq!(redact("nothing to hide", None), "nothing to hide");
    }
}
