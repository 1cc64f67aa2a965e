//! The YAML layer shared by the compose, Kubernetes and Actions extractors.
//!
//! YAML is never re-serialised: `saphyr-parser`'s events are turned into a small tree
//! of nodes that remember where their text is in the file, and the extractors report
//! byte spans into the original text. Three things make that exact:
//!
//! - the parser's markers count characters, so [`CharOffsets`] converts them to bytes
//!   in one linear pass (a BOM and a `\r` are characters like any other);
//! - a scalar's start marker may point at its anchor or tag (`&a !!str "x"`), so the
//!   properties are skipped to find the scalar itself;
//! - the end marker of a quoted scalar is not reliable, so the closing quote is found
//!   here ([`closing_quote`]), honouring `''` in single quotes and `\"` in double
//!   quotes.
//!
//! A scalar has a [`Scalar::text`] span only when the bytes of the file there are
//! exactly its value. Where they are not (escape sequences such as `\x41`, `''`, a
//! value folded over several lines) there is no span whose replacement would pin the
//! value, and the extractors skip it as `invalid-reference`: no valid image name
//! contains a quote, a backslash or a line break anyway.
//!
//! Aliases stay aliases in the tree: an aliased reference has one span, at its anchor,
//! so it is reported (and pinned) once.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::ExtractError;
use crate::source::Span;

mod found;
pub(crate) use found::*;

/// Deepest nesting of collections accepted; deeper input is reported as an error
/// rather than risking the stack.
pub(crate) const MAX_DEPTH: usize = 256;

/// Converts the parser's character indices to byte offsets of the same text.
pub(crate) struct CharOffsets {
    /// Byte offset of every character, plus the length at the end; `None` for ASCII
    /// text, where the two are the same.
    offsets: Option<Vec<usize>>,
    len: usize,
}

impl CharOffsets {
    /// Index `text` once, in linear time.
    pub(crate) fn new(text: &str) -> CharOffsets {
        let offsets = (!text.is_ascii()).then(|| {
            text.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .collect()
        });
        CharOffsets {
            offsets,
            len: text.len(),
        }
    }

    /// The byte offset of character `index`; past the end means the end.
    pub(crate) fn byte(&self, index: usize) -> usize {
        match &self.offsets {
            None => index.min(self.len),
            Some(offsets) => offsets.get(index).copied().unwrap_or(self.len),
        }
    }
}

/// An index into [`Yaml::nodes`].
pub(crate) type NodeId = usize;

/// A scalar and where it is.
#[derive(Debug)]
pub(crate) struct Scalar {
    /// The value, as the parser decoded it.
    pub(crate) value: String,
    /// How it was written.
    pub(crate) style: ScalarStyle,
    /// The scalar's whole token: quotes included, anchor and tag excluded.
    pub(crate) token: Span,
    /// The bytes that are exactly the value, when there are such bytes.
    pub(crate) text: Option<Span>,
    /// Where a block scalar's first mapped content line starts, and whether that is
    /// the line right after the `|` header (block scalars only).
    content_line: Option<(usize, bool)>,
}

impl Scalar {
    /// Whether this is YAML's null (`~`, `null`, or nothing at all).
    pub(crate) fn is_null(&self) -> bool {
        self.style == ScalarStyle::Plain
            && matches!(self.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }
}

/// The shape of a node.
#[derive(Debug)]
pub(crate) enum NodeKind {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence of nodes.
    Sequence(Vec<NodeId>),
    /// Key-value pairs, in file order.
    Mapping(Vec<(NodeId, NodeId)>),
    /// `*name`: the anchored node it refers to.
    Alias(NodeId),
}

/// One node of the tree.
#[derive(Debug)]
pub(crate) struct Node {
    /// What it is.
    pub(crate) kind: NodeKind,
    /// Byte offset where the node starts (its properties included).
    pub(crate) start: usize,
}

/// A parsed YAML stream: every node of every document in one arena.
#[derive(Debug, Default)]
pub(crate) struct Yaml {
    /// All nodes.
    pub(crate) nodes: Vec<Node>,
    /// The root node of each document.
    pub(crate) documents: Vec<NodeId>,
}

/// A collection being built while its events arrive.
enum Open {
    Sequence {
        start: usize,
        anchor: usize,
        items: Vec<NodeId>,
    },
    Mapping {
        start: usize,
        anchor: usize,
        entries: Vec<(NodeId, NodeId)>,
        key: Option<NodeId>,
    },
}

/// Parse a YAML stream into a tree of nodes with byte spans.
pub(crate) fn parse(text: &str) -> Result<Yaml, ExtractError> {
    let offsets = CharOffsets::new(text);
    let mut yaml = Yaml::default();
    let mut anchors: HashMap<usize, NodeId> = HashMap::new();
    let mut open: Vec<Open> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            ExtractError::at(
                text,
                offsets.byte(e.marker().index()),
                format!("invalid YAML: {}", e.info()),
            )
        })?;
        let start = offsets.byte(span.start.index());
        let end = offsets.byte(span.end.index()).max(start);
        let (kind, anchor) = match event {
            Event::StreamEnd => break,
            Event::Scalar(value, style, anchor, _) => (
                NodeKind::Scalar(locate_scalar(text, value.into_owned(), style, start, end)),
                anchor,
            ),
            Event::Alias(anchor) => match anchors.get(&anchor) {
                Some(&target) => (NodeKind::Alias(target), 0),
                None => {
                    return Err(ExtractError::at(text, start, "invalid YAML: unknown alias"));
                }
            },
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_DEPTH {
                    return Err(ExtractError::at(text, start, "YAML nested too deeply"));
                }
                open.push(match event {
                    Event::SequenceStart(..) => Open::Sequence {
                        start,
                        anchor,
                        items: Vec::new(),
                    },
                    _ => Open::Mapping {
                        start,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    },
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(collection) = open.pop() else {
                    continue;
                };
                match collection {
                    Open::Sequence {
                        start,
                        anchor,
                        items,
                    } => {
                        let id = push(&mut yaml, NodeKind::Sequence(items), start);
                        finish(&mut yaml, &mut open, &mut anchors, id, anchor);
                    }
                    Open::Mapping {
                        start,
                        anchor,
                        entries,
                        ..
                    } => {
                        let id = push(&mut yaml, NodeKind::Mapping(entries), start);
                        finish(&mut yaml, &mut open, &mut anchors, id, anchor);
                    }
                }
                continue;
            }
            _ => continue,
        };
        let id = push(&mut yaml, kind, start);
        finish(&mut yaml, &mut open, &mut anchors, id, anchor);
    }
    Ok(yaml)
}

fn push(yaml: &mut Yaml, kind: NodeKind, start: usize) -> NodeId {
    yaml.nodes.push(Node { kind, start });
    yaml.nodes.len() - 1
}

/// A node is complete: register its anchor and attach it to its parent (or make it a
/// document's root). Anchors are registered only when complete, so an alias can
/// never refer to a node that contains it: the tree has no cycles.
fn finish(
    yaml: &mut Yaml,
    open: &mut [Open],
    anchors: &mut HashMap<usize, NodeId>,
    id: NodeId,
    anchor: usize,
) {
    if anchor != 0 {
        anchors.insert(anchor, id);
    }
    match open.last_mut() {
        None => yaml.documents.push(id),
        Some(Open::Sequence { items, .. }) => items.push(id),
        Some(Open::Mapping { entries, key, .. }) => match key.take() {
            None => *key = Some(id),
            Some(k) => entries.push((k, id)),
        },
    }
}

/// Find where a scalar really is, given the parser's (character-converted) span.
fn locate_scalar(
    text: &str,
    value: String,
    style: ScalarStyle,
    start: usize,
    end: usize,
) -> Scalar {
    let bytes = text.as_bytes();
    let after_properties = skip_properties(text, start);
    let mut content_line = None;
    let (token, inner) = match style {
        ScalarStyle::Plain => {
            let token = Span::new(after_properties.min(end), end);
            (token, token)
        }
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            match closing_quote(text, after_properties) {
                Some(close) => (
                    Span::new(after_properties, close + 1),
                    Span::new(after_properties + 1, close),
                ),
                // Cannot happen for input the parser accepted; stay safe anyway.
                None => {
                    let token = Span::new(start, end);
                    (token, Span::new(end, end))
                }
            }
        }
        _ => {
            // Block scalar: the marker is at the `|`/`>` header when the scalar has
            // properties, and at its first non-empty content line otherwise.
            // Content may itself start with `#` (a Dockerfile's `# syntax=`): the
            // marker is at content when only indentation precedes it on its line and
            // it is not at an anchor or a tag.
            let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
            let at_content = text[line_start..start].bytes().all(|b| b == b' ')
                && !matches!(bytes.get(start), Some(b'&' | b'!'));
            let header = !at_content && matches!(bytes.get(after_properties), Some(b'|' | b'>'));
            let line = if header {
                text[after_properties..]
                    .find('\n')
                    .map_or(text.len(), |i| after_properties + i + 1)
            } else {
                line_start
            };
            content_line = Some((line, header));
            let token_start = if header { after_properties } else { start };
            let token = Span::new(token_start, end.max(token_start));
            // A one-line value has a text span if its line is exactly the value.
            let trimmed = value.trim_end_matches('\n');
            let first = skip_blank_lines(text, line);
            let inner = if !trimmed.contains('\n') && text[first..].starts_with(trimmed) {
                Span::new(first, first + trimmed.len())
            } else {
                Span::new(token.start, token.start)
            };
            (token, inner)
        }
    };
    let text_span = match style {
        ScalarStyle::Literal | ScalarStyle::Folded => {
            let trimmed = value.trim_end_matches('\n');
            (inner.of(text) == trimmed && !trimmed.is_empty()).then_some(inner)
        }
        _ => (inner.of(text) == value).then_some(inner),
    };
    Scalar {
        value,
        style,
        token,
        text: text_span,
        content_line,
    }
}

/// Skip a node's properties (`&anchor`, `!tag`) and the blanks and comments around
/// them, starting at `pos`.
fn skip_properties(text: &str, mut pos: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            pos += 1;
        }
        match bytes.get(pos) {
            Some(b'#') => {
                pos = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
            }
            Some(b'&' | b'!') => {
                // Verbatim tags `!<…>` may hold anything up to `>`.
                if text[pos..].starts_with("!<") {
                    pos = text[pos..].find('>').map_or(text.len(), |i| pos + i + 1);
                } else {
                    while !matches!(bytes.get(pos), None | Some(b' ' | b'\t' | b'\r' | b'\n')) {
                        pos += 1;
                    }
                }
            }
            _ => return pos,
        }
    }
}

/// The first byte of the first line at or after `line` that is not blank, after its
/// indentation.
fn skip_blank_lines(text: &str, mut line: usize) -> usize {
    loop {
        let rest = &text[line..];
        let indent = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let after = line + indent;
        match text.as_bytes().get(after) {
            Some(b'\r') | Some(b'\n') => {
                line = text[after..]
                    .find('\n')
                    .map_or(text.len(), |i| after + i + 1);
            }
            _ => return after,
        }
    }
}

/// The byte offset of the quote that closes the quoted scalar opening at `open`
/// (which must be `'` or `"`). In single quotes `''` is an escaped quote; in double
/// quotes a backslash escapes the next character.
pub(crate) fn closing_quote(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let quote = *bytes.get(open)?;
    let mut i = open + 1;
    match quote {
        b'\'' => loop {
            let next = i + text.get(i..)?.find('\'')?;
            if bytes.get(next + 1) == Some(&b'\'') {
                i = next + 2;
            } else {
                return Some(next);
            }
        },
        b'"' => {
            while let Some(&b) = bytes.get(i) {
                match b {
                    // The escaped character may be multi-byte; its continuation bytes
                    // are never `"` or `\`, so stepping one byte is enough.
                    b'\\' => i += 2,
                    b'"' => return Some(i),
                    _ => i += 1,
                }
            }
            None
        }
        _ => None,
    }
}

/// Where each byte of a scalar's value is in the file, as runs of equal bytes:
/// `(value offset, file offset, length)`.
pub(crate) struct ContentMap(Vec<(usize, usize, usize)>);

impl ContentMap {
    /// The file span of the value's `span`, if it lies in one run.
    pub(crate) fn to_file(&self, span: Span) -> Option<Span> {
        self.0.iter().find_map(|&(value, file, len)| {
            (span.start >= value && span.end <= value + len)
                .then(|| Span::new(file + span.start - value, file + span.end - value))
        })
    }
}

/// Map a scalar's value back to the file, for scalars whose text is their value and
/// for literal block scalars (`|`, `|-`, `|+`, with any indentation, CRLF included):
/// each line of the value is the end of its line in the file, after the indentation.
/// Other styles (folded, multi-line or escaped quoted) change the text in ways that
/// have no byte-for-byte map; they give `None`.
pub(crate) fn content_map(text: &str, scalar: &Scalar) -> Option<ContentMap> {
    if let Some(span) = scalar.text
        && span.end - span.start == scalar.value.len()
    {
        return Some(ContentMap(vec![(0, span.start, scalar.value.len())]));
    }
    if scalar.style != ScalarStyle::Literal {
        return None;
    }
    let (mut line, header) = scalar.content_line?;
    let mut runs = Vec::new();
    let mut value_offset = 0;
    let mut lines: Vec<&str> = scalar.value.split('\n').collect();
    // The value's final line break leaves an empty last piece with no line of its own.
    if lines.last() == Some(&"") {
        lines.pop();
    }
    let mut pieces = lines.into_iter().peekable();
    if !header {
        // The marker was at the first non-empty line: leading empty lines are above.
        while pieces.peek() == Some(&"") {
            pieces.next();
            value_offset += 1;
        }
    }
    for piece in pieces {
        let line_end = text[line..].find('\n').map_or(text.len(), |i| line + i);
        let file_line = text[line..line_end]
            .strip_suffix('\r')
            .unwrap_or(&text[line..line_end]);
        if !piece.is_empty() {
            let indent = file_line.strip_suffix(piece)?;
            if !indent.bytes().all(|b| b == b' ') {
                return None;
            }
            runs.push((value_offset, line + indent.len(), piece.len()));
        } else if !file_line.trim_start_matches(' ').is_empty() {
            return None;
        }
        value_offset += piece.len() + 1;
        line = (line_end + 1).min(text.len());
    }
    Some(ContentMap(runs))
}

impl Yaml {
    /// The node, with an alias replaced by what it refers to.
    pub(crate) fn resolve(&self, id: NodeId) -> &Node {
        match self.nodes[id].kind {
            NodeKind::Alias(target) => &self.nodes[target],
            _ => &self.nodes[id],
        }
    }

    /// The scalar at `id` (through an alias).
    pub(crate) fn scalar(&self, id: NodeId) -> Option<&Scalar> {
        match &self.resolve(id).kind {
            NodeKind::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// The items of the sequence at `id` (through an alias).
    pub(crate) fn sequence(&self, id: NodeId) -> &[NodeId] {
        match &self.resolve(id).kind {
            NodeKind::Sequence(items) => items,
            _ => &[],
        }
    }

    /// Whether `id` is a mapping (through an alias).
    pub(crate) fn is_mapping(&self, id: NodeId) -> bool {
        matches!(self.resolve(id).kind, NodeKind::Mapping(_))
    }

    /// The entries of the mapping at `id` as `(key, value)`, merge keys (`<<: *base`,
    /// `<<: [*a, *b]`) resolved: the mapping's own keys first, then merged keys it does
    /// not override, in order. Keys that are not scalars are left out. A key written
    /// twice counts once, with its last value: that is the one kubectl (go-yaml v2),
    /// docker-compose v1 (PyYAML) and Helm use; compose v2 (go-yaml v3) refuses the
    /// file. The earlier values are [`Yaml::shadowed`].
    pub(crate) fn entries(&self, id: NodeId) -> Vec<(&str, NodeId)> {
        let mut out: Vec<(&str, NodeId)> = Vec::new();
        let mut seen = HashSet::new();
        let mut keys = HashSet::new();
        self.collect_entries(id, &mut out, &mut keys, &mut seen, 0);
        out
    }

    fn collect_entries<'a>(
        &'a self,
        id: NodeId,
        out: &mut Vec<(&'a str, NodeId)>,
        keys: &mut HashSet<&'a str>,
        seen: &mut HashSet<NodeId>,
        depth: usize,
    ) {
        let NodeKind::Mapping(pairs) = &self.resolve(id).kind else {
            return;
        };
        if depth > MAX_DEPTH || !seen.insert(id) {
            return;
        }
        let shadowed = self.shadowed_indices(pairs);
        let mut merged = Vec::new();
        for (index, &(key, value)) in pairs.iter().enumerate() {
            let Some(key) = self.scalar(key) else {
                continue;
            };
            if is_merge_key(key) {
                merged.push(value);
            } else if !shadowed.contains(&index) && keys.insert(key.value.as_str()) {
                out.push((key.value.as_str(), value));
            }
        }
        for value in merged {
            match &self.resolve(value).kind {
                NodeKind::Sequence(items) => {
                    for &item in items {
                        self.collect_entries(item, out, keys, seen, depth + 1);
                    }
                }
                _ => self.collect_entries(value, out, keys, seen, depth + 1),
            }
        }
    }

    /// The indices of the pairs whose scalar key is written again later in the same
    /// mapping (`<<` merge keys aside).
    fn shadowed_indices(&self, pairs: &[(NodeId, NodeId)]) -> HashSet<usize> {
        let mut last: HashMap<&str, usize> = HashMap::new();
        let mut shadowed = HashSet::new();
        for (index, &(key, _)) in pairs.iter().enumerate() {
            let Some(key) = self.scalar(key).filter(|key| !is_merge_key(key)) else {
                continue;
            };
            if let Some(earlier) = last.insert(key.value.as_str(), index) {
                shadowed.insert(earlier);
            }
        }
        shadowed
    }

    /// The entries of the mapping at `id` (through an alias) that a later entry with
    /// the same key overrides: no consumer reads them.
    pub(crate) fn shadowed(&self, id: NodeId) -> Vec<(&str, NodeId)> {
        self.pairs(id)
            .filter_map(|(key, value, shadowed)| shadowed.then_some((key, value)))
            .collect()
    }

    /// The entries of the mapping at `id` as written, `<<` merge keys included and not
    /// resolved (through an alias), each with whether a later entry with the same key
    /// overrides it. Walks use these, so that merged content is entered through its
    /// alias, once.
    pub(crate) fn pairs(&self, id: NodeId) -> impl Iterator<Item = (&str, NodeId, bool)> {
        let pairs: &[(NodeId, NodeId)] = match &self.resolve(id).kind {
            NodeKind::Mapping(pairs) => pairs,
            _ => &[],
        };
        let shadowed = self.shadowed_indices(pairs);
        pairs
            .iter()
            .enumerate()
            .filter_map(move |(index, &(key, value))| {
                Some((
                    self.scalar(key)?.value.as_str(),
                    value,
                    shadowed.contains(&index),
                ))
            })
    }

    /// The value of `key` in the mapping at `id` (merge keys resolved).
    pub(crate) fn get(&self, id: NodeId, key: &str) -> Option<NodeId> {
        self.entries(id)
            .into_iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }
}

/// Whether `key` is YAML's merge key `<<` (plain, not quoted).
fn is_merge_key(key: &Scalar) -> bool {
    key.value == "<<" && key.style == ScalarStyle::Plain
}

#[cfg(test)]
mod tests;
