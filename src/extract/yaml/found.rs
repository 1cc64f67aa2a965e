//! From YAML scalars to references: the value of a scalar as a reference (with the
//! exact span of its text), the references a walk collects (anchors counted once,
//! duplicate keys marked), and the variable and expression rules CI files share.

use std::collections::{HashMap, HashSet};

use saphyr_parser::ScalarStyle;

use super::super::{Reference, Site, SkipReason, Target, classify};
use super::{NodeId, NodeKind, Scalar, Yaml, push};
use crate::source::Span;

/// The reference a scalar holds, if it holds anything: null or empty is nothing (an
/// Actions `container: ''` means no container); a value with no
/// exact span in the file is skipped as `invalid-reference`; anything else is
/// classified. `prefix` (such as `docker://`) must start the value and stays out of
/// the span; a value without it is not a reference.
pub(crate) fn scalar_reference(
    text: &str,
    scalar: &Scalar,
    prefix: &str,
    site: Site,
) -> Option<Reference> {
    if scalar.is_null() || scalar.value.is_empty() || !scalar.value.starts_with(prefix) {
        return None;
    }
    match scalar.text {
        Some(span) => {
            let span = Span::new(span.start + prefix.len(), span.end);
            Some(Reference::new(text, span, site))
        }
        None => Some(Reference::skip(
            scalar.token,
            site,
            SkipReason::InvalidReference,
        )),
    }
}

/// References in file order, each span reported once (the first report wins unless
/// the caller decides otherwise with [`Found::add_with`]). References added inside
/// [`Found::shadowed`] are `duplicate-key`; any other report of the same span wins over
/// such one.
#[derive(Default)]
pub(crate) struct Found {
    index: HashMap<Span, usize>,
    references: Vec<Reference>,
    shadowed: usize,
}

impl Found {
    /// Run `walk`, reporting what it adds as `duplicate-key`: it walks the value of a
    /// key that is written again later in its mapping.
    pub(crate) fn shadowed<R>(&mut self, walk: impl FnOnce(&mut Found) -> R) -> R {
        self.enter_shadowed();
        let result = walk(self);
        self.leave_shadowed();
        result
    }

    /// From here until the matching [`Found::leave_shadowed`], what is added is
    /// `duplicate-key` (for walks that cannot lend themselves to [`Found::shadowed`]).
    pub(crate) fn enter_shadowed(&mut self) {
        self.shadowed += 1;
    }

    /// Ends what [`Found::enter_shadowed`] began.
    pub(crate) fn leave_shadowed(&mut self) {
        self.shadowed = self.shadowed.saturating_sub(1);
    }

    /// Add a reference unless its span is already reported.
    pub(crate) fn add(&mut self, reference: Reference) {
        self.add_with(reference, |_, _| {});
    }

    /// Add a reference; if its span is already reported, let `merge` decide.
    pub(crate) fn add_with(
        &mut self,
        mut reference: Reference,
        merge: impl FnOnce(&mut Reference, Reference),
    ) {
        let duplicate = Target::Skip(SkipReason::DuplicateKey);
        if self.shadowed > 0 {
            reference.target = duplicate.clone();
        }
        match self.index.get(&reference.span) {
            Some(&i) if self.references[i].target == duplicate => self.references[i] = reference,
            Some(_) if reference.target == duplicate => {}
            Some(&i) => merge(&mut self.references[i], reference),
            None => {
                self.index.insert(reference.span, self.references.len());
                self.references.push(reference);
            }
        }
    }

    /// The references, sorted by span.
    pub(crate) fn into_vec(mut self) -> Vec<Reference> {
        self.references.sort_by_key(|r| r.span);
        self.references
    }
}

/// Walks that expand each alias at most once, so that a "billion laughs" document
/// costs no more than its size.
#[derive(Default)]
pub(crate) struct Visited(HashSet<NodeId>);

impl Visited {
    /// The node to descend into for `id`, or `None` if `id` is an alias already
    /// expanded.
    pub(crate) fn enter(&mut self, yaml: &Yaml, id: NodeId) -> Option<NodeId> {
        match yaml.nodes[id].kind {
            NodeKind::Alias(target) => self.0.insert(target).then_some(target),
            _ => Some(id),
        }
    }
}

impl Scalar {
    /// A scalar read by another reader of the same shape of data (JSON): `text` is the
    /// span that is exactly `value`, when there is one.
    pub(crate) fn read_elsewhere(
        value: String,
        style: ScalarStyle,
        token: Span,
        text: Option<Span>,
    ) -> Scalar {
        Scalar {
            value,
            style,
            token,
            text,
            content_line: None,
        }
    }
}

impl Yaml {
    /// Add a node built by another reader (JSON) and return its id.
    pub(crate) fn add_node(&mut self, kind: NodeKind, start: usize) -> NodeId {
        push(self, kind, start)
    }
}

/// Markers of a CI system's template expressions, resolved before any image is
/// pulled: GitHub and Azure `${{ }}`, Azure runtime `$[ ]`, GitLab inputs
/// `$[[ inputs.x ]]`, CircleCI parameters `<< parameters.x >>`, Jinja and Go
/// templates `{{ }}`.
const CI_TEMPLATE_MARKERS: [&str; 4] = ["{{", "$[", "<<", "{%"];

/// What a CI system makes of an image value: a template expression, a variable
/// (`$VAR`, `${VAR}`, Azure's `$(var)`) that is the whole value (`unresolved-variable`)
/// or mixed with text (`templated`, as `$CI_REGISTRY_IMAGE/app:1`), or otherwise the
/// image or the reason it is invalid. No CI system gives a variable a default inside
/// the value, so there is nothing to pin in place as compose's `${VAR:-default}`.
pub(crate) fn ci_target(value: &str) -> Target {
    use Target;
    if CI_TEMPLATE_MARKERS.iter().any(|m| value.contains(m)) {
        return Target::Skip(SkipReason::TemplateExpression);
    }
    if !value.contains('$') {
        return classify(value);
    }
    let is_name = |s: &str, dots: bool| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || dots && b == b'.')
    };
    let whole = value.strip_prefix('$').is_some_and(|rest| {
        is_name(rest, false)
            || rest
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .is_some_and(|r| is_name(r, false))
            || rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .is_some_and(|r| is_name(r, true))
    });
    Target::Skip(if whole {
        SkipReason::UnresolvedVariable
    } else {
        SkipReason::Templated
    })
}

/// The reference a CI system's image scalar holds, as [`scalar_reference`] finds it
/// but with [`ci_target`]'s rules for variables and expressions.
pub(crate) fn ci_reference(
    text: &str,
    scalar: &Scalar,
    prefix: &str,
    site: Site,
) -> Option<Reference> {
    let mut reference = scalar_reference(text, scalar, prefix, site)?;
    if scalar.text.is_some() {
        reference.target = ci_target(reference.span.of(text));
    }
    Some(reference)
}

/// The image at `node`, a string or a mapping whose `key` (`name` or `image`) is one,
/// added to `found` with CI rules; anything else is not an image.
pub(crate) fn ci_image(
    text: &str,
    yaml: &Yaml,
    node: NodeId,
    key: &str,
    site: Site,
    found: &mut Found,
) {
    let node = match yaml.is_mapping(node) {
        true => match yaml.get(node, key) {
            Some(value) => value,
            None => return,
        },
        false => node,
    };
    if let Some(reference) = yaml
        .scalar(node)
        .and_then(|scalar| ci_reference(text, scalar, "", site))
    {
        found.add(reference);
    }
}
