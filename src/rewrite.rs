//! Rewriting: splice replacements into a file's original text at exact spans.
//! (Reading and writing the files themselves is [`crate::files`].)

use thiserror::Error;

use crate::source::Span;

/// Replace the bytes of `span` with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The bytes replaced.
    pub span: Span,
    /// What they become.
    pub replacement: String,
}

/// Edits that cannot be applied together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpliceError {
    /// Two edits overlap.
    #[error("edits at bytes {0}..{1} and {2}..{3} overlap")]
    Overlap(usize, usize, usize, usize),
    /// An edit lies outside the text or not on a character boundary.
    #[error("edit at bytes {0}..{1} is outside the text or splits a character")]
    OutOfBounds(usize, usize),
}

/// Apply `edits` to `text`. Every byte outside the edits' spans is kept as it is.
/// Identical edits (the same span and text) are applied once.
pub fn splice(text: &str, edits: &[Edit]) -> Result<String, SpliceError> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.span.start, e.span.end));
    sorted.dedup_by(|a, b| a == b);
    let mut out = String::with_capacity(text.len() + 80 * sorted.len());
    let mut cursor = 0;
    for edit in sorted {
        let Span { start, end } = edit.span;
        if start > end
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            return Err(SpliceError::OutOfBounds(start, end));
        }
        if start < cursor {
            return Err(SpliceError::Overlap(start, end, cursor, cursor));
        }
        out.push_str(&text[cursor..start]);
        out.push_str(&edit.replacement);
        cursor = end;
    }
    out.push_str(&text[cursor..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(start: usize, end: usize, text: &str) -> Edit {
        Edit {
            span: Span::new(start, end),
            replacement: text.to_string(),
        }
    }

    #[test]
    fn splice_keeps_every_other_byte() {
        let text = "\u{feff}FROM a\r\nFROM b";
        let out = splice(text, &[edit(16, 17, "b:1@x"), edit(8, 9, "a:latest@y")]).unwrap();
        assert_eq!(out, "\u{feff}FROM a:latest@y\r\nFROM b:1@x");
    }

    #[test]
    fn splice_refuses_overlaps_and_bad_bounds() {
        assert!(matches!(
            splice("abcdef", &[edit(0, 3, "x"), edit(2, 4, "y")]),
            Err(SpliceError::Overlap(..))
        ));
        assert!(matches!(
            splice("abc", &[edit(2, 9, "x")]),
            Err(SpliceError::OutOfBounds(..))
        ));
        assert!(matches!(
            splice("é", &[edit(1, 2, "x")]),
            Err(SpliceError::OutOfBounds(..))
        ));
        // The same edit twice (one ARG default used by two FROMs) is applied once.
        assert_eq!(
            splice("abc", &[edit(1, 2, "X"), edit(1, 2, "X")]).unwrap(),
            "aXc"
        );
    }
}
