//! A file's text and the byte spans that point into it.

use std::path::PathBuf;

/// A half-open byte range `start..end` in a file's original bytes.
///
/// Every extractor reports spans in bytes of the whole file (a BOM included), on
/// UTF-8 character boundaries; the rewriter splices replacements at exactly these
/// spans and touches nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The span `start..end`.
    pub fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end);
        Span { start, end }
    }

    /// The text this span covers in `text`.
    pub fn of<'a>(&self, text: &'a str) -> &'a str {
        &text[self.start..self.end]
    }
}

/// A 1-based line and a 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// A file as read from disk: its path (as the user should see it) and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path, relative to the current folder where possible.
    pub path: PathBuf,
    /// The whole file, BOM and line endings as they are.
    pub text: String,
}

impl SourceFile {
    /// Line and column of a byte offset. A `\r\n` or a lone `\n` ends a line.
    ///
    /// This scans the text up to `offset`; for many offsets of one file build a
    /// [`LineIndex`] once instead.
    pub fn position(&self, offset: usize) -> Position {
        position_in(&self.text, offset)
    }
}

/// Where each line of a text starts, so that the position of any offset is found
/// without scanning the text again: a file with thousands of references costs one
/// pass, not one pass per reference.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset of the first byte of each line; the first line starts at 0.
    starts: Vec<usize>,
}

impl LineIndex {
    /// Index the lines of `text`.
    pub fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter_map(|(i, b)| (b == b'\n').then_some(i + 1)),
            )
            .collect();
        LineIndex { starts }
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        // The last line that starts at or before `offset`.
        self.starts.partition_point(|&start| start <= offset)
    }

    /// The bytes of a 1-based line of `text` (the text this index was built from),
    /// without the `\n` that ends it.
    pub fn bounds(&self, text: &str, line: usize) -> Span {
        let start = self.starts[line - 1];
        let end = self.starts.get(line).map_or(text.len(), |next| next - 1);
        Span::new(start, end)
    }

    /// Line and column of a byte offset of the text this index was built from; the
    /// same answer as [`position_in`]. The column is counted from the line's start:
    /// for many offsets on one line use [`Positions`].
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let line = self.line(offset);
        let line_start = self.starts[line - 1];
        let column = text[line_start..offset].chars().count() + 1;
        Position { line, column }
    }
}

/// The positions of many offsets of one text, in one pass over it when the offsets
/// come in increasing order, as extractors report references: a column is counted
/// from the offset asked before when that lies on the same line, not from the line's
/// start, so that 100,000 references on one line cost one pass over that line, not
/// 100,000.
#[derive(Debug, Clone)]
pub struct Positions<'a> {
    text: &'a str,
    lines: LineIndex,
    /// The offset asked last, and its position.
    last: Option<(usize, Position)>,
}

impl<'a> Positions<'a> {
    /// Positions in `text`.
    pub fn new(text: &'a str) -> Positions<'a> {
        Positions {
            text,
            lines: LineIndex::new(text),
            last: None,
        }
    }

    /// Line and column of a byte offset (on a character boundary); the same answer
    /// as [`position_in`]. Costs the characters between this offset and the one asked
    /// before on the same line, or from the line's start, whichever is nearer.
    pub fn of(&mut self, offset: usize) -> Position {
        let line = self.lines.line(offset);
        let line_start = self.lines.starts[line - 1];
        let chars =
            |from: usize, to: usize| self.text.get(from..to).map_or(0, |s| s.chars().count());
        let column = match self.last {
            Some((last, at)) if at.line == line && last <= offset => {
                at.column + chars(last, offset)
            }
            Some((last, at)) if at.line == line && offset - line_start > last - offset => {
                at.column - chars(offset, last)
            }
            _ => chars(line_start, offset) + 1,
        };
        let position = Position { line, column };
        self.last = Some((offset, position));
        position
    }
}

/// Line and column of a byte offset in `text`.
pub fn position_in(text: &str, offset: usize) -> Position {
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Position { line, column }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_lines() {
        let text = "FROM a\r\nFROM é b\nx";
        assert_eq!(position_in(text, 0), Position { line: 1, column: 1 });
        assert_eq!(position_in(text, 13), Position { line: 2, column: 6 });
        assert_eq!(
            position_in(text, text.len()),
            Position { line: 3, column: 2 }
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 300, ..proptest::prelude::ProptestConfig::default()
        })]

        /// Whatever the text and the order of the offsets, `Positions` gives what
        /// the naive count from the start of the text gives.
        #[test]
        fn positions_agree_with_the_naive_count(
            text in "[a\u{e9}\u{1F600}\r\n ]{0,200}",
            picks in proptest::collection::vec(0usize..1000, 0..60),
            sorted in proptest::prelude::any::<bool>(),
        ) {
            let boundaries: Vec<usize> =
                (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
            let mut offsets: Vec<usize> =
                picks.iter().map(|&p| boundaries[p % boundaries.len()]).collect();
            if sorted {
                offsets.sort_unstable();
            }
            let mut positions = Positions::new(&text);
            for offset in offsets {
                proptest::prop_assert_eq!(positions.of(offset), position_in(&text, offset));
            }
        }
    }

    #[test]
    fn positions_of_every_offset_in_order_and_backwards() {
        let text = "FROM a\r\nRUN é --mount=from=x é\n\u{1F600}b\n";
        let offsets: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        let mut positions = Positions::new(text);
        for &offset in offsets.iter().chain(offsets.iter().rev()) {
            assert_eq!(positions.of(offset), position_in(text, offset), "{offset}");
        }
    }

    #[test]
    fn the_line_index_agrees_with_position_in() {
        for text in ["", "\n", "FROM a\r\nFROM é b\nx", "a\n\n\nb\n", "é\nü\r\n"] {
            let index = LineIndex::new(text);
            for offset in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                assert_eq!(
                    index.position(text, offset),
                    position_in(text, offset),
                    "{text:?} at {offset}"
                );
            }
        }
    }
}
