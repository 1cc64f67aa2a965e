//! Kubernetes manifests (any YAML that is not compose or Actions), and Helm templates.
//!
//! The rule, per document of a multi-document stream:
//!
//! - an `image` key with a scalar value in an item of a `containers`,
//!   `initContainers` or `ephemeralContainers` sequence, at any depth (Pods,
//!   Deployments, CronJobs' `jobTemplate`, `kind: List` items, …), in any YAML file;
//! - `volumes[].image.reference` (image volumes), as `kubernetes-volume-image`;
//! - in a document that has both `apiVersion` and `kind` (so a Kubernetes object,
//!   custom resources included: Tekton steps, Argo templates, operators' `spec.image`),
//!   also any other `image` key whose value is a scalar, except under keys whose
//!   mappings hold free-form user data: `metadata` (labels, annotations), `status`,
//!   `labels`, `annotations`, `selector`, `matchLabels`, `nodeSelector`, `data`,
//!   `stringData`, `binaryData`, `env`, `args` and `command`.
//!
//! Values that merely look like images (env values, args, annotations, labels,
//! comments, ports) are never references because they are never the value of an
//! `image` key. An `image` value that does not parse as a reference is reported as
//! `invalid-reference`; null values are not references. An `image` mapping (Helm
//! values' `{repository, tag}`) is not a reference.
//!
//! A file that contains `{{` and does not parse as YAML is a Helm template: it is read
//! line by line, every `image:` key with a value on its line is a site, and values
//! with `{{ }}` are skipped as `template-expression`.

use super::yaml::{self, Found, NodeId, NodeKind, Visited, Yaml};
use super::{ExtractError, Reference, Site, SkipReason};
use crate::source::Span;

/// Keys whose values hold user data, not parts of an object's schema.
const FREE_FORM_KEYS: [&str; 13] = [
    "metadata",
    "status",
    "labels",
    "annotations",
    "selector",
    "matchLabels",
    "nodeSelector",
    "data",
    "stringData",
    "binaryData",
    "env",
    "args",
    "command",
];

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// The references of a manifest or Helm template.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let yaml = match yaml::parse(text) {
        Ok(yaml) => yaml,
        Err(_) if text.contains("{{") => return Ok(helm_template_references(text)),
        Err(error) => return Err(error),
    };
    let mut found = Found::default();
    for &root in &yaml.documents {
        let is_object = yaml.get(root, "apiVersion").is_some() && yaml.get(root, "kind").is_some();
        let mut walk = Walk {
            text,
            yaml: &yaml,
            any_image_key: is_object,
            visited: Visited::default(),
            found: &mut found,
        };
        walk.node(root, 0);
    }
    Ok(found.into_vec())
}

struct Walk<'a> {
    text: &'a str,
    yaml: &'a Yaml,
    /// Whether any scalar `image` key is a site (inside a Kubernetes object).
    any_image_key: bool,
    visited: Visited,
    found: &'a mut Found,
}

impl Walk<'_> {
    fn node(&mut self, id: NodeId, depth: usize) {
        let Some(id) = self.visited.enter(self.yaml, id) else {
            return;
        };
        if depth > 1024 {
            return;
        }
        match &self.yaml.nodes[id].kind {
            NodeKind::Sequence(items) => {
                for &item in items {
                    self.node(item, depth + 1);
                }
            }
            NodeKind::Mapping(_) => {
                for (key, value, shadowed) in self.yaml.pairs(id) {
                    // A key written twice: kubectl reads the last value.
                    if shadowed {
                        self.found.enter_shadowed();
                    }
                    self.entry(key, value, depth);
                    if shadowed {
                        self.found.leave_shadowed();
                    }
                }
            }
            NodeKind::Scalar(_) | NodeKind::Alias(_) => {}
        }
    }

    fn entry(&mut self, key: &str, value: NodeId, depth: usize) {
        if CONTAINER_LISTS.contains(&key) {
            for &container in self.yaml.sequence(value) {
                if let Some(image) = self.yaml.get(container, "image") {
                    self.image(image, Site::KubernetesImage);
                }
                for (key, image) in self.yaml.shadowed(container) {
                    if key == "image" {
                        self.found.enter_shadowed();
                        self.image(image, Site::KubernetesImage);
                        self.found.leave_shadowed();
                    }
                }
            }
        } else if key == "volumes" {
            for &volume in self.yaml.sequence(value) {
                let reference = self
                    .yaml
                    .get(volume, "image")
                    .and_then(|image| self.yaml.get(image, "reference"));
                if let Some(reference) = reference {
                    self.image(reference, Site::KubernetesVolumeImage);
                }
            }
        } else if key == "image" && self.any_image_key {
            self.image(value, Site::KubernetesImage);
        }
        if !FREE_FORM_KEYS.contains(&key) {
            self.node(value, depth + 1);
        }
    }

    fn image(&mut self, id: NodeId, site: Site) {
        let node = self.yaml.resolve(id);
        match &node.kind {
            NodeKind::Scalar(scalar) => {
                if let Some(reference) = yaml::scalar_reference(self.text, scalar, "", site) {
                    self.found.add(reference);
                }
            }
            // `image: {{ .Values.image }}` parses as a flow mapping: it is a template.
            NodeKind::Mapping(_) if self.text[node.start..].starts_with("{{") => {
                let end = self.text[node.start..]
                    .find("}}")
                    .map_or(node.start + 2, |i| node.start + i + 2);
                let span = Span::new(node.start, end);
                self.found
                    .add(Reference::skip(span, site, SkipReason::TemplateExpression));
            }
            _ => {}
        }
    }
}

/// A Helm template, line by line: `image: value` (a list item's or a quoted key too).
pub(crate) fn template_lines(text: &str) -> Vec<Reference> {
    helm_template_references(text)
}

fn helm_template_references(text: &str) -> Vec<Reference> {
    let mut references = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        if let Some(span) = helm_image_value(line) {
            let span = Span::new(line_start + span.start, line_start + span.end);
            references.push(Reference::new(text, span, Site::KubernetesImage));
        }
        line_start += line.len();
    }
    references
}

/// The span, within `line`, of the value of an `image:` key on it.
fn helm_image_value(line: &str) -> Option<Span> {
    let body = line.trim_end_matches(['\n', '\r']);
    let mut rest = body.trim_start_matches([' ', '\t', '\u{feff}']);
    if let Some(item) = rest.strip_prefix("- ") {
        rest = item.trim_start_matches([' ', '\t']);
    }
    let rest = ["image", "\"image\"", "'image'"]
        .iter()
        .find_map(|key| rest.strip_prefix(key))?
        .strip_prefix(':')?;
    let value = rest.trim_start_matches([' ', '\t']);
    if value.len() == rest.len() && !value.is_empty() {
        return None; // `image:x` is not a key
    }
    let start = body.len() - value.len();
    let (inner_start, inner) = match value.as_bytes().first()? {
        quote @ (b'"' | b'\'') => {
            let close = value[1..].find(*quote as char)?;
            (start + 1, &value[1..1 + close])
        }
        b'#' => return None,
        _ => {
            // A plain value ends at a comment (` #`) outside `{{ }}` or at the line end.
            let mut end = value.len();
            let mut depth = 0usize;
            let bytes = value.as_bytes();
            for i in 0..bytes.len() {
                if bytes[i..].starts_with(b"{{") {
                    depth += 1;
                } else if bytes[i..].starts_with(b"}}") {
                    depth = depth.saturating_sub(1);
                } else if depth == 0
                    && bytes[i] == b'#'
                    && i > 0
                    && matches!(bytes[i - 1], b' ' | b'\t')
                {
                    end = i;
                    break;
                }
            }
            (start, value[..end].trim_end_matches([' ', '\t']))
        }
    };
    (!inner.is_empty()).then(|| Span::new(inner_start, inner_start + inner.len()))
}
