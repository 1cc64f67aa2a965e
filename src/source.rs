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

    /// Line and column of a byte offset of the text this index was built from; the
    /// same answer as [`position_in`].
    pub fn position(&self, text: &str, offset: usize) -> Position {
        // The last line that starts at or before `offset`.
        let line = self.starts.partition_point(|&start| start <= offset);
        let line_start = self.starts[line - 1];
        let column = text[line_start..offset].chars().count() + 1;
        Position { line, column }
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
