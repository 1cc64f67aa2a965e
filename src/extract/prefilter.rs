//! A cheap look at a generic YAML file's bytes before its full parse, as ripgrep
//! searches for a literal before it runs its matcher: most YAML files of a large
//! tree (settings, CI templates, data) name no image at all, and building their
//! span tree is most of a scan's time.
//!
//! The Kubernetes extractor reads only `image` keys (`volumes[].image.reference`
//! included; a Helm template's `image:` lines too). YAML spells a key's text either
//! as it is or, in a double-quoted scalar, with `\` escapes (`"\x69mage"`, a line
//! break escaped in the middle): a text without the bytes `image` and without a
//! backslash can hold no such key, so no reference. The gate stays closed: any other
//! text is parsed as before.
//!
//! Such a file is still checked for syntax errors, on the parser's events alone (no
//! tree, no scalar copied): it gets the same warning, at the same line and column, as
//! the full parse gives.

use std::collections::HashSet;

use saphyr_parser::{Event, Parser};

use super::ExtractError;
use super::yaml::{CharOffsets, MAX_DEPTH};

/// Whether `text` may hold a key the Kubernetes extractor reads (see the module's
/// comment); `false` means it certainly holds none.
pub(crate) fn may_hold_image_key(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.contains(&b'\\') || bytes.windows(5).any(|w| w == b"image")
}

/// The error the full parse ([`super::yaml::parse`]) reports for `text`, if any,
/// found without building its tree.
pub(crate) fn syntax_error(text: &str) -> Option<ExtractError> {
    let at = |index: usize, message: String| {
        let offset = CharOffsets::new(text).byte(index);
        ExtractError::at(text, offset, message)
    };
    // Anchors count once their node is complete, as the full parse registers them:
    // an alias inside its own anchor's node is unknown there too.
    let mut anchors: HashSet<usize> = HashSet::new();
    let mut open: Vec<usize> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = match event {
            Ok(event) => event,
            Err(e) => {
                return Some(at(
                    e.marker().index(),
                    format!("invalid YAML: {}", e.info()),
                ));
            }
        };
        match event {
            Event::StreamEnd => break,
            Event::Scalar(_, _, anchor, _) if anchor != 0 => {
                anchors.insert(anchor);
            }
            Event::Alias(anchor) if !anchors.contains(&anchor) => {
                let message = "invalid YAML: unknown alias".to_string();
                return Some(at(span.start.index(), message));
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_DEPTH {
                    return Some(at(span.start.index(), "YAML nested too deeply".to_string()));
                }
                open.push(anchor);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(anchor) = open.pop().filter(|&anchor| anchor != 0) {
                    anchors.insert(anchor);
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
    fn only_texts_without_image_and_backslash_are_let_through() {
        assert!(may_hold_image_key("containers:\n- image: a\n"));
        assert!(may_hold_image_key("x: {image: a}\n"));
        assert!(may_hold_image_key("\"\\x69mage\": a\n"));
        assert!(may_hold_image_key("? \"ima\\\n  ge\"\n: a\n"));
        assert!(!may_hold_image_key("name: a\nvalues: [1, 2]\n"));
        assert!(!may_hold_image_key("Image: a\nIMAGE: b\n"));
    }

    #[test]
    fn syntax_errors_are_those_of_the_full_parse() {
        for text in [
            "just: [a note\n",
            "a: *nowhere\n",
            "a: &x [*x]\n",
            "a: &x 1\nb: *x\n",
            "a: b: c\n",
            "ok: 1\n---\nbad: \"x\n",
            &"[".repeat(300),
            "é: [ü\n",
        ] {
            let full = super::super::yaml::parse(text).err();
            assert_eq!(syntax_error(text), full, "{text:?}");
        }
    }
}
