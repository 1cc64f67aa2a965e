//! The first half of reading a Dockerfile the way BuildKit's parser
//! (`frontend/dockerfile/parser/parser.go`) does: parser directives at the top,
//! instructions joined from their continuation lines, heredoc bodies skipped.
//!
//! Every byte of a joined instruction remembers its offset in the file, so that the
//! words found in it later still have their exact original spans.

use std::collections::HashSet;
use std::ops::Range;

use super::words;
use crate::extract::ExtractError;
use crate::source::Span;

/// The UTF-8 byte-order mark BuildKit strips from the first line.
const BOM: &str = "\u{feff}";

/// Directives BuildKit knows; any other `# name=value` is a comment that ends them.
const KNOWN_DIRECTIVES: [&str; 3] = ["syntax", "escape", "check"];

/// Text assembled from pieces of the file, each byte knowing its offset in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocatedText {
    /// The assembled text.
    pub text: String,
    /// `origin[i]` is the file offset of `text`'s byte `i`.
    origin: Vec<usize>,
}

/// A borrowed piece of a [`LocatedText`].
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    /// The text.
    pub text: &'a str,
    origin: &'a [usize],
}

impl LocatedText {
    /// Append `s`, which starts at file offset `at` and is one run of file bytes.
    pub fn push_run(&mut self, s: &str, at: usize) {
        self.text.push_str(s);
        self.origin.extend(at..at + s.len());
    }

    /// Append the character of `from` that starts at byte `i`; its length in bytes.
    pub fn push_char_of(&mut self, from: Located<'_>, i: usize) -> usize {
        let Some(c) = from.text[i..].chars().next() else {
            return 0;
        };
        let len = c.len_utf8();
        self.text.push(c);
        self.origin.extend_from_slice(&from.origin[i..i + len]);
        len
    }

    /// The whole text, borrowed.
    pub fn located(&self) -> Located<'_> {
        Located {
            text: &self.text,
            origin: &self.origin,
        }
    }

    /// Whether there is no text.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The span of the text in the file: `Ok` when it is one run of file bytes, `Err`
    /// with the covering span when it was put together from several (a continuation,
    /// quotes or escapes in the middle), `None` when empty.
    pub fn span(&self) -> Option<Result<Span, Span>> {
        self.located().span()
    }
}

impl<'a> Located<'a> {
    /// A sub-range (on character boundaries).
    pub fn slice(&self, range: Range<usize>) -> Located<'a> {
        Located {
            text: &self.text[range.clone()],
            origin: &self.origin[range],
        }
    }

    /// An owned copy.
    pub fn to_text(self) -> LocatedText {
        LocatedText {
            text: self.text.to_string(),
            origin: self.origin.to_vec(),
        }
    }

    /// As [`LocatedText::span`].
    pub fn span(&self) -> Option<Result<Span, Span>> {
        let (&first, &last) = (self.origin.first()?, self.origin.last()?);
        let covering = Span::new(first, last + 1);
        // Offsets only ever increase, so equal distances mean no gap.
        if last - first == self.origin.len() - 1 {
            Some(Ok(covering))
        } else {
            Some(Err(covering))
        }
    }

    /// The covering span of the text, or an empty span at `fallback` if empty.
    pub fn covering_span(&self, fallback: usize) -> Span {
        match self.span() {
            Some(Ok(span) | Err(span)) => span,
            None => Span::new(fallback, fallback),
        }
    }
}

/// A parser directive at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The directive's name, lower-cased.
    pub name: String,
    /// The span of its value.
    pub value: Span,
}

/// A Dockerfile split the way BuildKit splits it.
#[derive(Debug, Default)]
pub struct Lexed {
    /// The parser directives, in order.
    pub directives: Vec<Directive>,
    /// The escape character (`\` unless `# escape=\``).
    pub escape: char,
    /// Each instruction's logical line: continuations joined, comment lines dropped,
    /// leading whitespace and the escape characters that join lines removed.
    pub instructions: Vec<LocatedText>,
}

/// How far parser directives are still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directives {
    /// At the top of the file: every directive counts.
    Open,
    /// After a `#!` first line: only `syntax` counts (for `DetectSyntax`).
    SyntaxOnly,
    /// After the first line that is not a directive.
    Done,
}

/// One physical line: where it starts and its text without `\r`/`\n` at the end.
struct Line<'a> {
    start: usize,
    text: &'a str,
}

/// BuildKit's line scanner: a line ends after `\n`; the last line may lack one.
struct Lines<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        if self.position >= self.text.len() {
            return None;
        }
        let start = self.position;
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        self.position = end + 1;
        // BuildKit's `trimNewline` strips every trailing `\r` and `\n`.
        let text = self.text[start..end].trim_end_matches(['\r', '\n']);
        Some(Line { start, text })
    }
}

/// Read `text` into directives and instructions.
pub fn lex(text: &str) -> Result<Lexed, ExtractError> {
    let body_start = if text.starts_with(BOM) { BOM.len() } else { 0 };
    let mut lines = Lines {
        text,
        position: body_start,
    };
    let mut lexed = Lexed {
        escape: '\\',
        ..Lexed::default()
    };
    let mut directives = Directives::Open;
    let mut seen = HashSet::new();

    while let Some(line) = lines.next() {
        let trimmed = line.text.trim_start();
        let start = line.start + (line.text.len() - trimmed.len());
        // The parser ends its directives at a `#!` first line, but the frontend's
        // `DetectSyntax` skips that line and still reads `# syntax=` below it.
        if line.start == body_start && trimmed.starts_with("#!") {
            directives = Directives::SyntaxOnly;
            continue;
        }
        if directives != Directives::Done {
            match parse_directive(trimmed) {
                // BuildKit refuses a repeated directive; we read the repeat as the
                // comment that ends the directives, so the first value stands.
                Some((name, value)) if seen.insert(name.clone()) => {
                    let value_text = &trimmed[value.clone()];
                    if directives == Directives::SyntaxOnly && name != "syntax" {
                        continue;
                    }
                    if name == "escape" {
                        lexed.escape = match value_text {
                            "\\" => '\\',
                            "`" => '`',
                            _ => {
                                return Err(ExtractError::at(
                                    text,
                                    start + value.start,
                                    format!(
                                        "invalid escape directive {value_text:?}: \
                                         BuildKit accepts only ` or \\"
                                    ),
                                ));
                            }
                        };
                    }
                    lexed.directives.push(Directive {
                        name,
                        value: Span::new(start + value.start, start + value.end),
                    });
                    continue;
                }
                _ => directives = Directives::Done,
            }
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }

        let mut logical = LocatedText::default();
        let (content, mut continues) = trim_continuation(trimmed, lexed.escape);
        logical.push_run(content, start);
        while continues {
            let Some(next) = lines.next() else { break };
            // Comment lines and empty lines inside a continuation are dropped; the
            // others are joined verbatim, leading whitespace included.
            let next_trimmed = next.text.trim_start();
            if next_trimmed.is_empty() || next_trimmed.starts_with('#') {
                continue;
            }
            let (content, more) = trim_continuation(next.text, lexed.escape);
            logical.push_run(content, next.start);
            continues = more;
        }

        for heredoc in words::heredocs(&logical.text) {
            let terminated = lines.by_ref().any(|body| {
                let candidate = if heredoc.chomp {
                    body.text.trim_start_matches('\t')
                } else {
                    body.text
                };
                candidate == heredoc.name
            });
            if !terminated {
                return Err(ExtractError::at(
                    text,
                    start,
                    format!(
                        "unterminated heredoc <<{}: BuildKit refuses this file",
                        heredoc.name
                    ),
                ));
            }
        }
        lexed.instructions.push(logical);
    }
    Ok(lexed)
}

/// BuildKit's `reDirectives`, `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, for a
/// known directive: its lower-cased name and the byte range of its value.
fn parse_directive(line: &str) -> Option<(String, Range<usize>)> {
    // Go's `\s` is ASCII: tab, newline, form feed, carriage return, space.
    let is_space = |c: char| matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ');
    let after_hash = line.strip_prefix('#')?;
    let name_start = line.len() - after_hash.trim_start_matches(is_space).len();
    let rest = &line[name_start..];
    let name_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || i > 0 && c.is_ascii_digit()))
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let name = rest[..name_len].to_ascii_lowercase();
    let after_name = rest[name_len..].trim_start_matches(is_space);
    let after_equals = after_name.strip_prefix('=')?;
    if after_equals.is_empty() {
        return None;
    }
    let value_start = line.len() - after_equals.trim_start_matches(is_space).len();
    let value_end = line.trim_end_matches(is_space).len().max(value_start);
    if !KNOWN_DIRECTIVES.contains(&name.as_str()) {
        return None;
    }
    Some((name, value_start..value_end))
}

/// BuildKit's continuation rule: the escape character is the last non-blank (space or
/// tab) character and is not itself escaped (`([^\\])\\[ \t]*$|^\\[ \t]*$`). Returns
/// the line without it, and whether the instruction continues.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line, false);
    };
    if before.ends_with(escape) {
        return (line, false);
    }
    (before, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logical_lines(text: &str) -> Vec<String> {
        lex(text)
            .unwrap()
            .instructions
            .into_iter()
            .map(|line| line.text)
            .collect()
    }

    /// The text of each instruction byte, read back through its origin.
    fn assert_origins_point_at_the_same_bytes(text: &str) {
        for line in lex(text).unwrap().instructions {
            for (i, byte) in line.text.bytes().enumerate() {
                assert_eq!(text.as_bytes()[line.origin[i]], byte, "{text:?}");
            }
        }
    }

    #[test]
    fn continuation_lines_are_joined_verbatim() {
        let text = "FROM python:3.\\\n12 AS x\nRUN a \\  \n    b\n";
        assert_eq!(
            logical_lines(text),
            ["FROM python:3.12 AS x", "RUN a     b"]
        );
        assert_origins_point_at_the_same_bytes(text);
    }

    #[test]
    fn comment_and_empty_lines_inside_a_continuation_are_dropped() {
        let text = "RUN a \\\n  # note \\\n\n   \nb\nFROM x\n";
        assert_eq!(logical_lines(text), ["RUN a b", "FROM x"]);
    }

    #[test]
    fn double_backslash_at_end_of_line_is_not_a_continuation() {
        let text = "RUN echo \\\\\nFROM x\n";
        assert_eq!(logical_lines(text), ["RUN echo \\\\", "FROM x"]);
    }

    #[test]
    fn lone_escape_line_continues() {
        assert_eq!(logical_lines("\\\nFROM x\n"), ["FROM x"]);
    }

    #[test]
    fn backtick_escape_directive() {
        let text = "# escape=`\nFROM a\nRUN dir c:\\ `\n  d\n";
        let lexed = lex(text).unwrap();
        assert_eq!(lexed.escape, '`');
        assert_eq!(logical_lines(text), ["FROM a", "RUN dir c:\\   d"]);
    }

    #[test]
    fn invalid_escape_is_an_error() {
        let error = lex("# escape=x\nFROM a\n").unwrap_err();
        assert_eq!(error.position.line, 1);
    }

    #[test]
    fn directives_end_at_blank_line_comment_or_instruction() {
        let text = "#  Syntax = docker/dockerfile:1 \n# ESCAPE=`\n\n# escape=\\\nFROM a\n";
        let lexed = lex(text).unwrap();
        let names: Vec<_> = lexed.directives.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["syntax", "escape"]);
        assert_eq!(lexed.directives[0].value.of(text), "docker/dockerfile:1");
        assert_eq!(lexed.escape, '`');

        let other_comment = lex("# hello\n# syntax=x\nFROM a\n").unwrap();
        assert!(other_comment.directives.is_empty());
        let after_instruction = lex("FROM a\n# syntax=x\n").unwrap();
        assert!(after_instruction.directives.is_empty());
        let repeated = lex("# syntax=a\n# syntax=b\n# escape=`\nFROM a\n").unwrap();
        assert_eq!(repeated.directives.len(), 1);
        assert_eq!(repeated.escape, '\\');
    }

    #[test]
    fn shebang_keeps_syntax_but_ends_escape() {
        let text = "#!/usr/bin/env buildx\n# syntax=docker/dockerfile:1\n# escape=`\nFROM a\n";
        let lexed = lex(text).unwrap();
        let names: Vec<_> = lexed.directives.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["syntax"]);
        assert_eq!(lexed.escape, '\\');
    }

    #[test]
    fn heredoc_bodies_are_not_instructions() {
        let text = "RUN <<EOF\nFROM evil\nEOF\nFROM good\n";
        assert_eq!(logical_lines(text), ["RUN <<EOF", "FROM good"]);
    }

    #[test]
    fn several_heredocs_and_chomped_terminators() {
        let text =
            "RUN <<A cat - <<-\"B\"\nFROM a\nA\nFROM b\n\t\tB\nCOPY <<'C' /x\nFROM c\nC\nFROM d\n";
        assert_eq!(
            logical_lines(text),
            ["RUN <<A cat - <<-\"B\"", "COPY <<'C' /x", "FROM d"]
        );
    }

    #[test]
    fn heredoc_needs_run_copy_or_add_and_shell_form() {
        assert_eq!(
            logical_lines("FROM a <<EOF\nFROM b\n"),
            ["FROM a <<EOF", "FROM b"]
        );
        assert_eq!(
            logical_lines("RUN [\"cat\", \"<<EOF\"]\nFROM b\n"),
            ["RUN [\"cat\", \"<<EOF\"]", "FROM b"]
        );
        assert_eq!(
            logical_lines("onbuild run <<EOF\nFROM b\nEOF\n"),
            ["onbuild run <<EOF"]
        );
        assert_eq!(
            logical_lines("RUN echo \"<<EOF\"\nFROM b\n"),
            ["RUN echo \"<<EOF\"", "FROM b"]
        );
    }

    #[test]
    fn unterminated_heredoc_is_an_error() {
        assert!(lex("RUN <<EOF\nFROM a\n").is_err());
    }

    #[test]
    fn bom_and_crlf() {
        let text = "\u{feff}# syntax=docker/dockerfile:1\r\nFROM a \\\r\n  AS b\r\n";
        let lexed = lex(text).unwrap();
        assert_eq!(lexed.directives[0].value.of(text), "docker/dockerfile:1");
        assert_eq!(logical_lines(text), ["FROM a   AS b"]);
        assert_origins_point_at_the_same_bytes(text);
        assert!(lex("\u{feff}").unwrap().instructions.is_empty());
        assert!(lex("").unwrap().instructions.is_empty());
    }

    #[test]
    fn spans_of_joined_words() {
        let text = "FROM é\\\nx\n";
        let lexed = lex(text).unwrap();
        let line = lexed.instructions[0].located();
        assert_eq!(line.text, "FROM éx");
        assert_eq!(line.slice(5..7).span(), Some(Ok(Span::new(5, 7))));
        assert_eq!(line.slice(5..8).span(), Some(Err(Span::new(5, 10))));
    }
}
