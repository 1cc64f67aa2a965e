//! docker-bake files (`docker-bake.hcl`, `docker-bake.json`, `docker-bake.*.hcl`, …).
//!
//! The site is a value of a target's `contexts` of the form `docker-image://name:tag`
//! (`bake-context`): the prefix stays, the span is the image after it. Other
//! contexts (`target:base`, `oci-layout://…`, folders, URLs) are not images, and
//! `tags` name what the target builds: outputs, never references.
//!
//! HCL is not parsed in full. The scanner reads the subset that holds contexts:
//! comments (`#`, `//`, `/* */`), quoted strings (with `${ }` interpolations inside),
//! heredocs (skipped), and every `contexts = { key = "value", … }` attribute whose
//! keys are names or quoted strings and whose values are quoted strings, separated by
//! line breaks or commas. A value that is an expression rather than a string is not a
//! reference. A string with an escape (`\"`, `\u…`) has no exact span and is
//! `invalid-reference`; `${BASE}` follows the CI rules for variables, and `%{ }`
//! directives are template expressions. The JSON form is read by [`super::json`]:
//! `target.<name>.contexts.<key>`.

use super::yaml::{self, Found};
use super::{ExtractError, Reference, Site, SkipReason, Target, json};
use crate::source::Span;

const DOCKER_IMAGE: &str = "docker-image://";

/// The references of a bake file, HCL or JSON (told by its first character).
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let body = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if body.starts_with('{') {
        return json_references(text);
    }
    let mut scanner = Scanner {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        found: Found::default(),
    };
    scanner.scan()?;
    Ok(scanner.found.into_vec())
}

fn json_references(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let tree = json::parse(text)?;
    let mut found = Found::default();
    let root = tree.documents[0];
    let targets = tree.get(root, "target");
    for (_, target) in targets.map(|t| tree.entries(t)).unwrap_or_default() {
        let contexts = tree.get(target, "contexts");
        for (_, value) in contexts.map(|c| tree.entries(c)).unwrap_or_default() {
            let reference = tree
                .scalar(value)
                .and_then(|s| yaml::ci_reference(text, s, DOCKER_IMAGE, Site::BakeContext));
            if let Some(reference) = reference {
                found.add(reference);
            }
        }
    }
    Ok(found.into_vec())
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    found: Found,
}

impl Scanner<'_> {
    fn error(&self, at: usize, message: &str) -> ExtractError {
        ExtractError::at(self.text, at, format!("invalid HCL: {message}"))
    }

    fn scan(&mut self) -> Result<(), ExtractError> {
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'#' | b'/' | b' ' | b'\t' | b'\r' | b'\n' if self.blank(true)? => {}
                b'"' => {
                    self.string()?;
                }
                b'<' if self.text[self.pos..].starts_with("<<") => self.heredoc(),
                b if b.is_ascii_alphabetic() || b == b'_' => {
                    let word = self.word();
                    if word == "contexts" {
                        self.blank(false)?;
                        if self.bytes.get(self.pos) == Some(&b'=') {
                            self.pos += 1;
                            self.blank(true)?;
                            if self.bytes.get(self.pos) == Some(&b'{') {
                                self.pos += 1;
                                self.contexts()?;
                            }
                        }
                    }
                }
                _ => self.pos += 1,
            }
        }
        Ok(())
    }

    /// Skip blanks and comments (line breaks too when `lines`); whether any were.
    fn blank(&mut self, lines: bool) -> Result<bool, ExtractError> {
        let start = self.pos;
        loop {
            let rest = &self.text[self.pos..];
            match self.bytes.get(self.pos) {
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'\n') if lines => self.pos += 1,
                Some(b'#') => self.skip_line(),
                Some(b'/') if rest.starts_with("//") => self.skip_line(),
                Some(b'/') if rest.starts_with("/*") => match rest[2..].find("*/") {
                    Some(i) => self.pos += 2 + i + 2,
                    None => return Err(self.error(self.pos, "unterminated /* comment")),
                },
                _ => return Ok(self.pos > start),
            }
        }
    }

    fn skip_line(&mut self) {
        self.pos = self.text[self.pos..]
            .find('\n')
            .map_or(self.text.len(), |i| self.pos + i);
    }

    fn word(&mut self) -> &str {
        let start = self.pos;
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// A quoted string at `self.pos`: the span of its content (quotes excluded) and
    /// whether it has an escape. Interpolations `${ … }` may hold strings and braces.
    fn string(&mut self) -> Result<(Span, bool), ExtractError> {
        let open = self.pos;
        let mut i = open + 1;
        let mut escaped = false;
        let mut depth = 0usize;
        // Inside a string that is itself inside an interpolation.
        let mut inner = false;
        loop {
            match self.bytes.get(i) {
                None | Some(b'\n') => return Err(self.error(open, "unterminated string")),
                Some(b'\\') => {
                    escaped = true;
                    i += 2;
                }
                Some(b'"') if inner => {
                    inner = false;
                    i += 1;
                }
                Some(_) if inner => i += 1,
                Some(b'$' | b'%') if self.bytes.get(i + 1) == Some(&b'{') => {
                    depth += 1;
                    i += 2;
                }
                Some(b'{') if depth > 0 => {
                    depth += 1;
                    i += 1;
                }
                Some(b'}') if depth > 0 => {
                    depth -= 1;
                    i += 1;
                }
                Some(b'"') if depth == 0 => break,
                Some(b'"') => {
                    inner = true;
                    i += 1;
                }
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        Ok((Span::new(open + 1, i), escaped))
    }

    /// `<<EOF` or `<<-EOF` up to the line that is the marker.
    fn heredoc(&mut self) {
        self.pos += 2;
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let marker = self.word().to_string();
        if marker.is_empty() {
            return;
        }
        self.skip_line();
        while self.pos < self.text.len() {
            self.pos += 1;
            let line_end = self.text[self.pos..]
                .find('\n')
                .map_or(self.text.len(), |i| self.pos + i);
            let line = self.text[self.pos..line_end].trim();
            self.pos = line_end;
            if line == marker {
                return;
            }
        }
    }

    /// The entries of a `contexts = {` object, up to its `}`.
    fn contexts(&mut self) -> Result<(), ExtractError> {
        loop {
            self.blank(true)?;
            match self.bytes.get(self.pos) {
                None => return Err(self.error(self.pos, "unclosed contexts")),
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b',') => self.pos += 1,
                Some(b'"') => {
                    self.string()?;
                    self.value()?;
                }
                Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {
                    self.word();
                    self.value()?;
                }
                Some(_) => return Err(self.error(self.pos, "unexpected text in contexts")),
            }
        }
    }

    /// `= "value"` or `: "value"` after a key.
    fn value(&mut self) -> Result<(), ExtractError> {
        self.blank(false)?;
        if !matches!(self.bytes.get(self.pos), Some(b'=' | b':')) {
            return Err(self.error(self.pos, "expected `=` in contexts"));
        }
        self.pos += 1;
        self.blank(false)?;
        if self.bytes.get(self.pos) != Some(&b'"') {
            // An expression, not a string: skip to the end of the entry.
            while !matches!(self.bytes.get(self.pos), None | Some(b'\n' | b',' | b'}')) {
                self.pos += 1;
            }
            return Ok(());
        }
        let token = Span::new(self.pos, self.pos);
        let (span, escaped) = self.string()?;
        let token = Span::new(token.start, span.end + 1);
        let raw = span.of(self.text);
        if !raw.starts_with(DOCKER_IMAGE) {
            return Ok(());
        }
        let image = Span::new(span.start + DOCKER_IMAGE.len(), span.end);
        let reference = if escaped {
            Reference::skip(token, Site::BakeContext, SkipReason::InvalidReference)
        } else {
            Reference {
                span: image,
                site: Site::BakeContext,
                target: match yaml::ci_target(image.of(self.text)) {
                    Target::Skip(SkipReason::InvalidReference)
                        if image.of(self.text).is_empty() =>
                    {
                        return Ok(());
                    }
                    target => target,
                },
                used_by: Vec::new(),
                pieces: None,
            }
        };
        self.found.add(reference);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<(&str, Target)> {
        extract(text)
            .unwrap()
            .into_iter()
            .map(|r| (r.span.of(text), r.target))
            .collect()
    }

    #[test]
    fn contexts_of_targets() {
        let text = r#"
# contexts = { x = "docker-image://not:this" }
target "app" {
  tags = ["acme/app:1"]
  contexts = {
    base = "docker-image://alpine:3.20" // c
    "src": "docker-image://${BASE}",
    other = target.base
    local = "../src"
  }
  args = { X = "docker-image://not-a-context:1" }
}
"#;
        let found = texts(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, "alpine:3.20");
        assert!(matches!(found[0].1, Target::Image(_)));
        assert_eq!(
            found[1],
            ("${BASE}", Target::Skip(SkipReason::UnresolvedVariable))
        );
    }

    #[test]
    fn malformed_hcl_is_an_error_not_a_panic() {
        for text in [
            "contexts = { a = \"docker-image://x",
            "contexts = {",
            "contexts = { ! }",
            "x = \"${\"",
            "/*",
        ] {
            assert!(extract(text).is_err(), "{text:?}");
        }
        assert!(
            extract("x = <<EOF\ncontexts = { a = \"docker-image://y:1\" }\nEOF\n")
                .unwrap()
                .is_empty()
        );
    }
}
