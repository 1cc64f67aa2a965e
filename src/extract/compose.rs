//! docker-compose files (`compose*.y*ml`, `docker-compose*.y*ml`).
//!
//! Sites:
//!
//! - `services.<name>.image`; in a version 1 file (no `services:` key) every top-level
//!   mapping is a service;
//! - any `image` inside an `x-*` extension field, at the top level or nested
//!   (`x-base: &base {image: …}`); an
//!   aliased or merged (`<<: *base`) image has one span, at its anchor, and is reported
//!   once; if any service that uses it also has `build:`, it is `build-output`;
//! - a service (or extension mapping) with both `build:` and `image:`: the image is the
//!   build's output, named by the user, and is skipped as `build-output`;
//! - `build.dockerfile_inline`: the Dockerfile in it is read by the Dockerfile
//!   extractor and its sites are mapped back to the file's bytes, as
//!   `compose-dockerfile-inline`. That works for literal block scalars (`|`, `|-`,
//!   `|+`) and for one-line scalars whose text is their value; a folded (`>`) or
//!   multi-line quoted scalar changes the text as it is read, so its sites have no
//!   span in the file and are skipped as `templated` (reported at the scalar).
//!
//! Interpolation, as compose does it: `${VAR:-default}` and `${VAR-default}` pin the
//! default in place (the span covers the default only); `${VAR}`, `$VAR`, `${VAR:?e}`,
//! `${VAR:+x}` or an empty default are `unresolved-variable`; variables mixed with
//! other text (`app:${TAG}`) or nested in a default are `templated`.

use super::yaml::{self, Found, NodeId, NodeKind, Scalar, Visited, Yaml};
use super::{ExtractError, Reference, Site, SkipReason, Target};
use crate::source::Span;

/// Top-level keys of a compose file that are not services.
const TOP_LEVEL_KEYS: [&str; 8] = [
    "version", "name", "services", "networks", "volumes", "configs", "secrets", "include",
];

/// The references of a compose file.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let yaml = yaml::parse(text)?;
    let mut found = Found::default();
    for &root in &yaml.documents {
        // A service written twice is read from its last definition; the earlier ones
        // are walked for what they would have pinned, as `duplicate-key`.
        let (services, shadowed): (Vec<NodeId>, Vec<NodeId>) = match yaml.get(root, "services") {
            Some(services) => (
                yaml.entries(services).into_iter().map(|(_, s)| s).collect(),
                yaml.shadowed(services)
                    .into_iter()
                    .map(|(_, s)| s)
                    .collect(),
            ),
            // Version 1: services at the top level.
            None => {
                let is_service = |&(key, value): &(&str, NodeId)| {
                    !key.starts_with("x-")
                        && !TOP_LEVEL_KEYS.contains(&key)
                        && yaml.is_mapping(value)
                };
                (
                    yaml.entries(root)
                        .into_iter()
                        .filter(is_service)
                        .map(|(_, s)| s)
                        .collect(),
                    yaml.shadowed(root)
                        .into_iter()
                        .filter(is_service)
                        .map(|(_, s)| s)
                        .collect(),
                )
            }
        };
        for service in services {
            service_references(text, &yaml, service, &mut found)?;
        }
        for service in shadowed {
            found.shadowed(|found| service_references(text, &yaml, service, found))?;
        }
        let mut visited = Visited::default();
        let mut extensions = Vec::new();
        find_extensions(&yaml, root, &mut Visited::default(), &mut extensions, 0);
        for extension in extensions {
            extension_references(text, &yaml, extension, &mut visited, &mut found, 0)?;
        }
    }
    Ok(found.into_vec())
}

/// The values of `x-*` keys, at the top level and anywhere below (compose allows
/// extension fields in services, networks, …).
fn find_extensions(
    yaml: &Yaml,
    id: NodeId,
    visited: &mut Visited,
    out: &mut Vec<NodeId>,
    depth: usize,
) {
    let Some(id) = visited.enter(yaml, id) else {
        return;
    };
    if depth > 1024 {
        return;
    }
    match &yaml.nodes[id].kind {
        NodeKind::Mapping(_) => {
            for (key, value, _) in yaml.pairs(id) {
                if key.starts_with("x-") {
                    out.push(value);
                } else {
                    find_extensions(yaml, value, visited, out, depth + 1);
                }
            }
        }
        NodeKind::Sequence(items) => {
            for &item in items {
                find_extensions(yaml, item, visited, out, depth + 1);
            }
        }
        NodeKind::Scalar(_) | NodeKind::Alias(_) => {}
    }
}

/// Every mapping inside an extension field is read like a service.
fn extension_references(
    text: &str,
    yaml: &Yaml,
    id: NodeId,
    visited: &mut Visited,
    found: &mut Found,
    depth: usize,
) -> Result<(), ExtractError> {
    let Some(id) = visited.enter(yaml, id) else {
        return Ok(());
    };
    if depth > 1024 {
        return Ok(());
    }
    match &yaml.nodes[id].kind {
        NodeKind::Mapping(_) => {
            service_references(text, yaml, id, found)?;
            for (_, value, shadowed) in yaml.pairs(id) {
                if shadowed {
                    found.shadowed(|found| {
                        extension_references(text, yaml, value, visited, found, depth + 1)
                    })?;
                } else {
                    extension_references(text, yaml, value, visited, found, depth + 1)?;
                }
            }
        }
        NodeKind::Sequence(items) => {
            for &item in items {
                extension_references(text, yaml, item, visited, found, depth + 1)?;
            }
        }
        NodeKind::Scalar(_) | NodeKind::Alias(_) => {}
    }
    Ok(())
}

fn service_references(
    text: &str,
    yaml: &Yaml,
    service: NodeId,
    found: &mut Found,
) -> Result<(), ExtractError> {
    let build = yaml
        .get(service, "build")
        .filter(|&build| yaml.scalar(build).is_none_or(|s| !s.is_null()));
    if let Some(image) = yaml.get(service, "image") {
        add_image(text, yaml, image, build.is_some(), found);
    }
    if let Some(build) = build {
        inline_build_references(text, yaml, build, found)?;
    }
    // `image:` or `build:` written twice in a service: compose v2 refuses the file,
    // v1 reads the last one; the earlier ones are `duplicate-key`.
    for (key, value) in yaml.shadowed(service) {
        match key {
            "image" => found.shadowed(|found| add_image(text, yaml, value, build.is_some(), found)),
            // A Dockerfile nobody reads cannot make the file fail.
            "build" => {
                let _ = found.shadowed(|found| inline_build_references(text, yaml, value, found));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The reference of a service's `image` value.
fn add_image(text: &str, yaml: &Yaml, image: NodeId, builds: bool, found: &mut Found) {
    let Some(image) = yaml.scalar(image) else {
        return;
    };
    if let Some(reference) = image_reference(text, image, builds) {
        // A build-output use of an anchored image wins over a pull elsewhere:
        // pinning it would break that service's build.
        found.add_with(reference, |old, new| {
            if new.target == Target::Skip(SkipReason::BuildOutput) {
                *old = new;
            }
        });
    }
}

/// The sites of a service's `build.dockerfile_inline`.
fn inline_build_references(
    text: &str,
    yaml: &Yaml,
    build: NodeId,
    found: &mut Found,
) -> Result<(), ExtractError> {
    let inline = Some(build)
        .filter(|&build| yaml.is_mapping(build))
        .and_then(|build| yaml.get(build, "dockerfile_inline"))
        .and_then(|id| yaml.scalar(id));
    if let Some(inline) = inline.filter(|s| !s.is_null()) {
        let dockerfile = super::dockerfile::extract(&inline.value).map_err(|e| {
            ExtractError::at(text, inline.token.start, format!("dockerfile_inline: {e}"))
        })?;
        for reference in inline_references(text, inline, dockerfile) {
            found.add(reference);
        }
    }
    Ok(())
}

/// Map the references the Dockerfile extractor found in a `dockerfile_inline` value
/// back to the file.
fn inline_references(text: &str, inline: &Scalar, dockerfile: Vec<Reference>) -> Vec<Reference> {
    let map = yaml::content_map(text, inline);
    dockerfile
        .into_iter()
        .map(|reference| {
            let span = map
                .as_ref()
                .and_then(|map| map.to_file(reference.span))
                .filter(|span| {
                    inline.value.get(reference.span.start..reference.span.end)
                        == Some(span.of(text))
                });
            match span {
                Some(span) => Reference {
                    span,
                    site: Site::ComposeDockerfileInline,
                    target: reference.target,
                    used_by: map
                        .iter()
                        .flat_map(|map| reference.used_by.iter().filter_map(|s| map.to_file(*s)))
                        .collect(),
                    pieces: None,
                },
                None => Reference::skip(
                    inline.token,
                    Site::ComposeDockerfileInline,
                    SkipReason::Templated,
                ),
            }
        })
        .collect()
}

/// The reference of a service's `image`, interpolation understood.
fn image_reference(text: &str, image: &Scalar, builds: bool) -> Option<Reference> {
    let site = Site::ComposeImage;
    if image.is_null() || image.value.is_empty() {
        return None;
    }
    let Some(span) = image.text else {
        return Some(Reference::skip(
            image.token,
            site,
            SkipReason::InvalidReference,
        ));
    };
    if builds {
        return Some(Reference::skip(span, site, SkipReason::BuildOutput));
    }
    Some(match interpolation(span.of(text)) {
        Interpolation::None => Reference::new(text, span, site),
        Interpolation::Default(default) => Reference::new(
            text,
            Span::new(span.start + default.start, span.start + default.end),
            site,
        ),
        Interpolation::Unresolved => Reference::skip(span, site, SkipReason::UnresolvedVariable),
        Interpolation::Templated => Reference::skip(span, site, SkipReason::Templated),
    })
}

/// What compose's variable interpolation makes of a value.
#[derive(Debug, PartialEq, Eq)]
enum Interpolation {
    /// No variables.
    None,
    /// The whole value is `${VAR:-default}` or `${VAR-default}`: the default's span.
    Default(Span),
    /// The whole value is one variable with no usable default.
    Unresolved,
    /// Variables mixed with text.
    Templated,
}

fn interpolation(value: &str) -> Interpolation {
    let is_name =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !value.replace("$$", "").contains('$') {
        // `$$` is a literal `$`; such a value is not a valid name and is reported so.
        return Interpolation::None;
    }
    if value.strip_prefix('$').is_some_and(is_name) {
        return Interpolation::Unresolved;
    }
    if value.starts_with("${") && closing_brace(value, 1) == Some(value.len() - 1) {
        let inner = &value[2..value.len() - 1];
        let name_len = inner
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let rest = &inner[name_len..];
        let op = [":-", "-"].into_iter().find(|op| rest.starts_with(op));
        return match op {
            Some(op) if name_len > 0 => {
                let default = &rest[op.len()..];
                let start = 2 + name_len + op.len();
                if default.is_empty() {
                    Interpolation::Unresolved
                } else if default.contains('$') {
                    Interpolation::Templated
                } else {
                    Interpolation::Default(Span::new(start, start + default.len()))
                }
            }
            _ => Interpolation::Unresolved,
        };
    }
    Interpolation::Templated
}

/// The `}` that closes the `{` at `open`, nested braces counted.
fn closing_brace(value: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in value.bytes().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_forms() {
        assert_eq!(interpolation("python:3"), Interpolation::None);
        assert_eq!(
            interpolation("${IMG:-python:3}"),
            Interpolation::Default(Span::new(7, 15))
        );
        assert_eq!(
            interpolation("${IMG-python:3}"),
            Interpolation::Default(Span::new(6, 14))
        );
        assert_eq!(interpolation("${IMG}"), Interpolation::Unresolved);
        assert_eq!(interpolation("$IMG"), Interpolation::Unresolved);
        assert_eq!(interpolation("${IMG:-}"), Interpolation::Unresolved);
        assert_eq!(interpolation("${IMG:?set it}"), Interpolation::Unresolved);
        assert_eq!(interpolation("${IMG:+x}"), Interpolation::Unresolved);
        assert_eq!(interpolation("app:${TAG}"), Interpolation::Templated);
        assert_eq!(interpolation("${A:-${B:-x}}"), Interpolation::Templated);
        assert_eq!(interpolation("${A}${B}"), Interpolation::Templated);
        assert_eq!(interpolation("a$$b"), Interpolation::None);
    }

    /// The mapping of `dockerfile_inline` content to file bytes, with a fake of what the
    /// Dockerfile extractor returns (spans in the value).
    #[test]
    fn inline_spans_map_to_the_file() {
        let text = "services:\n  a:\n    build:\n      dockerfile_inline: |\r\n        FROM  alpine:3\r\n        RUN x\r\n";
        let yaml = yaml::parse(text).unwrap();
        let root = yaml.documents[0];
        let service = yaml.get(yaml.get(root, "services").unwrap(), "a").unwrap();
        let build = yaml.get(service, "build").unwrap();
        let inline = yaml
            .scalar(yaml.get(build, "dockerfile_inline").unwrap())
            .unwrap();
        let at = inline.value.find("alpine").unwrap();
        let fake = vec![Reference::new(
            &inline.value,
            Span::new(at, at + 8),
            Site::From,
        )];
        let mapped = inline_references(text, inline, fake);
        assert_eq!(mapped.len(), 1);
        assert_eq!(mapped[0].span.of(text), "alpine:3");
        assert_eq!(mapped[0].site, Site::ComposeDockerfileInline);
        assert!(matches!(mapped[0].target, Target::Image(_)));
    }

    /// Block content that starts with `#` is content, not a comment before a header.
    #[test]
    fn inline_content_may_start_with_a_comment() {
        let text = "a:
  build:
    dockerfile_inline: |
      # syntax=docker/dockerfile:1
      |not-a-header
      FROM alpine:3
";
        let yaml = yaml::parse(text).unwrap();
        let a = yaml.get(yaml.documents[0], "a").unwrap();
        let build = yaml.get(a, "build").unwrap();
        let inline = yaml
            .scalar(yaml.get(build, "dockerfile_inline").unwrap())
            .unwrap();
        let at = inline.value.find("alpine").unwrap();
        let syntax = inline.value.find("docker/").unwrap();
        let fake = vec![
            Reference::new(&inline.value, Span::new(syntax, syntax + 19), Site::Syntax),
            Reference::new(&inline.value, Span::new(at, at + 8), Site::From),
        ];
        let mapped = inline_references(text, inline, fake);
        let texts: Vec<&str> = mapped.iter().map(|r| r.span.of(text)).collect();
        assert_eq!(texts, ["docker/dockerfile:1", "alpine:3"]);
    }

    #[test]
    fn folded_inline_is_skipped_at_the_scalar() {
        let text = "x:\n  dockerfile_inline: >\n    FROM alpine\n";
        let yaml = yaml::parse(text).unwrap();
        let x = yaml.get(yaml.documents[0], "x").unwrap();
        let inline = yaml
            .scalar(yaml.get(x, "dockerfile_inline").unwrap())
            .unwrap();
        let fake = vec![Reference::new(&inline.value, Span::new(5, 11), Site::From)];
        let mapped = inline_references(text, inline, fake);
        assert_eq!(mapped[0].target, Target::Skip(SkipReason::Templated));
    }
}
