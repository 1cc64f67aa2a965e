//! Helm values: `values*.yaml`, and any YAML of a chart folder (one with `Chart.yaml`)
//! outside its `templates/` and `crds/`.
//!
//! Sites, at any depth of every document:
//!
//! - a mapping with `repository` and `tag`, and optionally `registry` and `digest`
//!   (`helm-image`): the image `[registry/]repository:tag[@digest]`. A non-empty
//!   top-level `global.imageRegistry` replaces every mapping's `registry`, as the
//!   Bitnami charts' `common.images.image` does. The tag is the text as written:
//!   `tag: 1.10` is `1.10`, although YAML reads a float (quote it, or Helm renders
//!   `1.1`). An empty or null `tag` is skipped as `empty-tag`: the chart fills it with
//!   its `appVersion` at install time, which is not in this file;
//! - an `image` key whose value is a string (`helm-image-string`), pinned in place,
//!   unless its mapping has `tag`, `registry` or `repository` (then it is a piece).
//!
//! Pinning a mapping writes only its digest ([`digest_slot`]): an existing `digest:`
//! value is replaced (an empty `digest: ""` placeholder included); without one a
//! `digest:` line is inserted right after `tag:`. A `# pin:ignore` comment on the
//! line of the mapping's key (`image:`), the line above it, or the `repository:` line
//! leaves the mapping alone.

use saphyr_parser::ScalarStyle;

use super::yaml::{self, Found, NodeId, NodeKind, Scalar, Visited, Yaml};
use super::{DigestSlot, ExtractError, Pieces, Reference, Site, SkipReason, Target, classify};
use crate::source::Span;

/// The references of a Helm values file.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let yaml = yaml::parse(text)?;
    let mut found = Found::default();
    for &root in &yaml.documents {
        let global_registry = yaml
            .get(root, "global")
            .and_then(|global| yaml.get(global, "imageRegistry"))
            .and_then(|id| yaml.scalar(id))
            .filter(|scalar| !scalar.is_null() && !scalar.value.is_empty())
            .map(|scalar| scalar.value.clone());
        let mut walk = Walk {
            text,
            yaml: &yaml,
            global_registry,
            visited: Visited::default(),
            found: &mut found,
        };
        walk.node(root, None, 0);
    }
    Ok(found.into_vec())
}

struct Walk<'a> {
    text: &'a str,
    yaml: &'a Yaml,
    global_registry: Option<String>,
    visited: Visited,
    found: &'a mut Found,
}

impl Walk<'_> {
    /// Walk `id`, the value of the key whose token is `key` (if any).
    fn node(&mut self, id: NodeId, key: Option<Span>, depth: usize) {
        let Some(id) = self.visited.enter(self.yaml, id) else {
            return;
        };
        if depth > 1024 {
            return;
        }
        match &self.yaml.nodes[id].kind {
            NodeKind::Sequence(items) => {
                for &item in items {
                    self.node(item, None, depth + 1);
                }
            }
            NodeKind::Mapping(pairs) => {
                if let Some(reference) = self.image_mapping(id, key) {
                    self.found.add(reference);
                }
                // In `{registry, image, tag}` (ingress-nginx), `image` is a piece.
                let pieces = ["tag", "registry", "repository"]
                    .iter()
                    .any(|key| self.yaml.get(id, key).is_some());
                let shadowed: Vec<bool> = self.yaml.pairs(id).map(|(_, _, s)| s).collect();
                let mut index = 0;
                for &(key_id, value) in pairs {
                    let Some(key) = self.yaml.scalar(key_id) else {
                        continue;
                    };
                    let is_shadowed = shadowed.get(index).copied().unwrap_or(false);
                    index += 1;
                    if is_shadowed {
                        self.found.enter_shadowed();
                    }
                    self.entry(key, value, pieces, depth);
                    if is_shadowed {
                        self.found.leave_shadowed();
                    }
                }
            }
            NodeKind::Scalar(_) | NodeKind::Alias(_) => {}
        }
    }

    fn entry(&mut self, key: &Scalar, value: NodeId, pieces: bool, depth: usize) {
        if key.value == "image"
            && let Some(scalar) = self.yaml.scalar(value)
        {
            if pieces {
                return;
            }
            if let Some(reference) =
                yaml::scalar_reference(self.text, scalar, "", Site::HelmImageString)
            {
                self.found.add(reference);
            }
            return;
        }
        self.node(value, Some(key.token), depth + 1);
    }

    /// The image a `{registry?, repository, tag, digest?}` mapping names, if it is one.
    fn image_mapping(&self, id: NodeId, key: Option<Span>) -> Option<Reference> {
        let yaml = self.yaml;
        let repository = yaml.scalar(yaml.get(id, "repository")?)?;
        let tag = yaml.scalar(yaml.get(id, "tag")?)?;
        let span = repository.text.unwrap_or(repository.token);
        if repository.is_null() || repository.value.is_empty() {
            return None;
        }
        let registry = match &self.global_registry {
            Some(global) => Some(global.clone()),
            None => match yaml.get(id, "registry") {
                Some(registry) => {
                    let registry = yaml.scalar(registry)?;
                    (!registry.is_null()).then(|| registry.value.clone())
                }
                None => None,
            },
        };
        let name = match registry.as_deref() {
            Some(registry) if !registry.is_empty() => {
                format!("{}/{}", registry.trim_end_matches('/'), repository.value)
            }
            _ => repository.value.clone(),
        };
        let mut reference = pieces_reference(
            self.text,
            yaml,
            id,
            span,
            &name,
            tag,
            "tag",
            Site::HelmImage,
        );
        let ignored = key.is_some_and(|key| super::ignored_at(self.text, key));
        if ignored {
            reference.target = Target::Skip(SkipReason::Ignored);
        }
        Some(reference)
    }
}

/// The reference of an image written in pieces in the YAML mapping `id`: `name` (already
/// joined from its pieces), the tag scalar (under `tag_key`) and the mapping's
/// `digest`. `span` is where the reference is reported.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pieces_reference(
    text: &str,
    yaml: &Yaml,
    id: NodeId,
    span: Span,
    name: &str,
    tag: &Scalar,
    tag_key: &str,
    site: Site,
) -> Reference {
    let digest = yaml.get(id, "digest").and_then(|d| yaml.scalar(d));
    let digest_value = digest
        .filter(|d| !d.is_null())
        .map(|d| d.value.as_str())
        .unwrap_or("");
    let tag_empty = tag.is_null() || tag.value.is_empty();
    if tag_empty && digest_value.is_empty() {
        return Reference::skip(span, site, SkipReason::EmptyTag);
    }
    let mut joined = name.to_string();
    if !tag_empty {
        joined.push(':');
        joined.push_str(&tag.value);
    }
    if !digest_value.is_empty() {
        joined.push('@');
        joined.push_str(digest_value);
    }
    // `# pin:ignore` on the tag's line counts too.
    let target = match super::ignored_at(text, tag.token) {
        true => Target::Skip(SkipReason::Ignored),
        false => classify(&joined),
    };
    let Some(slot) = digest_slot(text, yaml, id, tag, tag_key) else {
        // The digest has nowhere to go (a tag whose text is not its value).
        return Reference::skip(span, site, SkipReason::InvalidReference);
    };
    Reference {
        span,
        site,
        target,
        used_by: Vec::new(),
        pieces: Some(Box::new(Pieces {
            text: joined,
            digest: slot,
        })),
    }
}

/// Where the digest of the mapping `id` is written: over the value of its `digest`
/// key (quotes kept; a null value becomes a quoted digest), or — with no such key —
/// in a `digest:` entry right after the tag's: a new line in a block mapping, with the
/// tag key's indentation, the tag's quote style and its line's ending; `, digest:
/// "…"` in a flow mapping. A tag written as `1.25@sha256:…` has its digest replaced in
/// place.
pub(crate) fn digest_slot(
    text: &str,
    yaml: &Yaml,
    id: NodeId,
    tag: &Scalar,
    tag_key: &str,
) -> Option<DigestSlot> {
    if let Some(digest) = yaml.get(id, "digest").and_then(|d| yaml.scalar(d)) {
        return Some(match digest.text {
            Some(span) if !digest.is_null() || digest.style != ScalarStyle::Plain => {
                DigestSlot::value(span)
            }
            _ if !digest.token.of(text).is_empty() => DigestSlot {
                // `digest: ~` or `digest: null`.
                span: digest.token,
                before: "\"".into(),
                after: "\"".into(),
            },
            _ => {
                // `digest:` with nothing after the colon.
                let key = key_token(yaml, id, "digest")?;
                let colon = key.end + text[key.end..].find(':')?;
                DigestSlot {
                    span: Span::new(colon + 1, colon + 1),
                    before: " \"".into(),
                    after: "\"".into(),
                }
            }
        });
    }
    let tag_text = tag.text?;
    if let Some(at) = tag.value.find('@') {
        return Some(DigestSlot::value(Span::new(
            tag_text.start + at + 1,
            tag_text.end,
        )));
    }
    let quote = match tag.style {
        ScalarStyle::SingleQuoted => "'",
        ScalarStyle::DoubleQuoted => "\"",
        ScalarStyle::Plain => "",
        _ => return None,
    };
    let key = key_token(yaml, id, tag_key)?;
    let line_start = text[..key.start].rfind('\n').map_or(0, |i| i + 1);
    let before_key = text[..key.start].trim_end_matches([' ', '\t', '\r', '\n']);
    if before_key.ends_with(',') || before_key.ends_with('{') {
        let quote = if quote.is_empty() { "\"" } else { quote };
        return Some(DigestSlot {
            span: Span::new(tag.token.end, tag.token.end),
            before: format!(", digest: {quote}"),
            after: quote.to_string(),
        });
    }
    let prefix = &text[line_start..key.start];
    if !prefix.bytes().all(|b| b == b' ' || b == b'-') {
        return None;
    }
    let indent = " ".repeat(prefix.len());
    let end = tag.token.end;
    Some(match text[end..].find('\n') {
        Some(i) => {
            let newline = end + i;
            let eol = if text[..newline].ends_with('\r') {
                "\r\n"
            } else {
                "\n"
            };
            DigestSlot {
                span: Span::new(newline + 1, newline + 1),
                before: format!("{indent}digest: {quote}"),
                after: format!("{quote}{eol}"),
            }
        }
        None => {
            // The tag is on the last line, which has no line break: the file keeps
            // its missing final newline.
            let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
            DigestSlot {
                span: Span::new(text.len(), text.len()),
                before: format!("{eol}{indent}digest: {quote}"),
                after: quote.to_string(),
            }
        }
    })
}

/// The token of the last `key` of the mapping `id` (the one that counts).
fn key_token(yaml: &Yaml, id: NodeId, key: &str) -> Option<Span> {
    let NodeKind::Mapping(pairs) = &yaml.resolve(id).kind else {
        return None;
    };
    pairs
        .iter()
        .rev()
        .filter_map(|&(k, _)| yaml.scalar(k))
        .find(|k| k.value == key)
        .map(|k| k.token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Target;

    fn pinned(text: &str) -> String {
        let references = extract(text).unwrap();
        let edits: Vec<crate::rewrite::Edit> = references
            .iter()
            .filter_map(|r| r.pieces.as_ref())
            .map(|p| crate::rewrite::Edit {
                span: p.digest.span,
                replacement: format!("{}D{}", p.digest.before, p.digest.after),
            })
            .collect();
        crate::rewrite::splice(text, &edits).unwrap()
    }

    #[test]
    fn inserts_after_tag_with_its_indent_quotes_and_line_ending() {
        assert_eq!(
            pinned("image:\n  repository: nginx\n  tag: \"1.25\"\n  pullPolicy: x\n"),
            "image:\n  repository: nginx\n  tag: \"1.25\"\n  digest: \"D\"\n  pullPolicy: x\n"
        );
        assert_eq!(
            pinned("image:\r\n  repository: nginx\r\n  tag: '1' # c\r\n"),
            "image:\r\n  repository: nginx\r\n  tag: '1' # c\r\n  digest: 'D'\r\n"
        );
        assert_eq!(
            pinned("image:\n  repository: nginx\n  tag: 1.25"),
            "image:\n  repository: nginx\n  tag: 1.25\n  digest: D"
        );
        assert_eq!(
            pinned("images:\n- tag: 1\n  repository: a\n"),
            "images:\n- tag: 1\n  digest: D\n  repository: a\n"
        );
        assert_eq!(
            pinned("image: {repository: a, tag: 1}\n"),
            "image: {repository: a, tag: 1, digest: \"D\"}\n"
        );
    }

    #[test]
    fn replaces_existing_digests_and_placeholders() {
        assert_eq!(
            pinned("i:\n  repository: a\n  tag: 1\n  digest: \"\"\n"),
            "i:\n  repository: a\n  tag: 1\n  digest: \"D\"\n"
        );
        assert_eq!(
            pinned("i:\n  repository: a\n  tag: 1\n  digest:\n"),
            "i:\n  repository: a\n  tag: 1\n  digest: \"D\"\n"
        );
        assert_eq!(
            pinned("i:\n  repository: a\n  tag: 1\n  digest: ~\n"),
            "i:\n  repository: a\n  tag: 1\n  digest: \"D\"\n"
        );
    }

    #[test]
    fn joins_registry_repository_and_tag() {
        let text = "global:\n  imageRegistry: \"\"\nimage:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.25.3\nsidecar:\n  repository: busybox\n  tag: \"\"\n";
        let references = extract(text).unwrap();
        assert_eq!(references.len(), 2);
        assert_eq!(references[0].text(text), "docker.io/bitnami/nginx:1.25.3");
        assert!(matches!(references[0].target, Target::Image(_)));
        assert_eq!(references[1].target, Target::Skip(SkipReason::EmptyTag));
        let global = "global:\n  imageRegistry: reg.corp\nimage:\n  registry: docker.io\n  repository: x\n  tag: 1\n";
        assert_eq!(extract(global).unwrap()[0].text(global), "reg.corp/x:1");
    }
}
