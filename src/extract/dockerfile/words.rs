//! Words of an instruction, split the way BuildKit splits them: the keyword, the
//! `--name=value` builder flags, shell words with their quotes, heredoc markers, the
//! CSV fields of `--mount`, and the variables of a word that BuildKit's shell lexer
//! (`frontend/dockerfile/shell/lex.go`) would expand.

use std::ops::Range;

use super::lexer::{Located, LocatedText};

/// BuildKit's `reWhitespace`: what separates the keyword and the words of `FROM`.
pub fn is_separator(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// The keyword of an instruction line, and where its arguments start.
pub fn split_command(line: &str) -> (&str, usize) {
    let start = line.len() - line.trim_start().len();
    let end = line[start..]
        .find(is_separator)
        .map_or(line.len(), |i| start + i);
    let args = line.len() - line[end..].trim_start_matches(is_separator).len();
    (&line[start..end], args)
}

/// A builder flag such as `--from=build`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The name without `--` (quotes removed).
    pub name: String,
    /// The raw value after `=`, as a range of the line; `None` for `--name`.
    pub value: Option<Range<usize>>,
}

/// BuildKit's `extractBuilderFlags`: the `--` words at the start of the arguments
/// (quotes and `\` escapes allowed in them), and where the rest of the line starts.
/// Flags are always `--name=value`; `--name value` is a boolean flag and a word.
pub fn builder_flags(line: &str, from: usize) -> (Vec<Flag>, usize) {
    let mut flags = Vec::new();
    let mut position = from;
    loop {
        position = line.len() - line[position..].trim_start().len();
        if !line[position..].starts_with("--") {
            return (flags, position);
        }
        let start = position;
        let mut quote = None;
        let mut chars = line[start..].char_indices();
        position = line.len();
        while let Some((i, c)) = chars.next() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => {
                    chars.next();
                }
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, c) if c.is_whitespace() => {
                    position = start + i;
                    break;
                }
                (None, _) => {}
            }
        }
        position = position.min(line.len());
        let word = &line[start..position];
        if word == "--" {
            return (flags, position);
        }
        let body = &word[2..];
        let (name, value) = match body.find('=') {
            Some(eq) => (&body[..eq], Some(start + 2 + eq + 1..position)),
            None => (body, None),
        };
        flags.push(Flag {
            name: name.replace(['"', '\''], ""),
            value,
        });
    }
}

/// A flag's value as BuildKit reads it: quotes removed, `\` escaping the next character.
pub fn unquote_flag(raw: Located<'_>) -> LocatedText {
    let mut value = LocatedText::default();
    let mut quote = None;
    let mut i = 0;
    while i < raw.text.len() {
        let Some(c) = raw.text[i..].chars().next() else {
            break;
        };
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (_, '\\') if i + 1 < raw.text.len() => {
                i += 1;
                i += value.push_char_of(raw, i);
                continue;
            }
            (_, '\\') => {}
            _ => {
                i += value.push_char_of(raw, i);
                continue;
            }
        }
        i += c.len_utf8();
    }
    value
}

/// The `key=value` fields of a `--mount` value (Go's CSV reader: `"` quotes a whole
/// field, `""` inside is one quote); keys lower-cased.
pub fn mount_fields(value: Located<'_>) -> Vec<(String, LocatedText)> {
    let mut fields = Vec::new();
    let mut field = LocatedText::default();
    let mut in_quotes = false;
    let mut i = 0;
    let text = value.text;
    while i <= text.len() {
        let c = text[i..].chars().next();
        match (in_quotes, c) {
            (_, None) | (false, Some(',')) => {
                fields.push(std::mem::take(&mut field));
                i += 1;
            }
            (false, Some('"')) if field.is_empty() => {
                in_quotes = true;
                i += 1;
            }
            (true, Some('"')) if text[i + 1..].starts_with('"') => {
                field.push_char_of(value, i);
                i += 2;
            }
            (true, Some('"')) => {
                in_quotes = false;
                i += 1;
            }
            (_, Some(_)) => i += field.push_char_of(value, i),
        }
    }
    fields
        .into_iter()
        .filter_map(|field| {
            let eq = field.text.find('=')?;
            let key = field.text[..eq].to_ascii_lowercase();
            let located = field.located();
            let value = located.slice(eq + 1..located.text.len()).to_text();
            Some((key, value))
        })
        .collect()
}

/// BuildKit's `parseWords`: words split at whitespace outside quotes, quotes and
/// escapes kept. Ranges into `text`.
pub fn shell_words(text: &str, escape: char) -> Vec<Range<usize>> {
    let mut words = Vec::new();
    let mut start = None;
    let mut quote = None;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if start.is_none() {
            if c.is_whitespace() {
                continue;
            }
            start = Some(i);
        }
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), _) => {}
            (_, c) if c == escape => {
                chars.next();
            }
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                words.extend(start.take().map(|s| s..i));
            }
            (None, _) => {}
        }
    }
    words.extend(start.map(|s| s..text.len()));
    words
}

/// A heredoc marker of an instruction (`<<EOF`, `<<-"EOF"`, `2<<EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The terminator word, quotes removed.
    pub name: String,
    /// `<<-`: leading tabs are stripped before matching the terminator.
    pub chomp: bool,
}

/// The heredocs an instruction line opens, in order. BuildKit reads them only for
/// RUN, COPY and ADD (also under ONBUILD), and not in their JSON form.
pub fn heredocs(line: &str) -> Vec<Heredoc> {
    let (mut keyword, mut args) = split_command(line);
    if keyword.eq_ignore_ascii_case("onbuild") {
        let (_, rest) = builder_flags(line, args);
        let (inner, inner_args) = split_command(&line[rest..]);
        keyword = inner;
        args = rest + inner_args;
    }
    if !["run", "copy", "add"]
        .iter()
        .any(|k| keyword.eq_ignore_ascii_case(k))
    {
        return Vec::new();
    }
    let (_, rest) = builder_flags(line, args);
    if is_json_form(&line[rest..]) {
        return Vec::new();
    }
    shell_words(line, '\\')
        .into_iter()
        .filter_map(|range| heredoc_marker(&line[range]))
        .collect()
}

/// BuildKit's `parseMaybeJSON`: arguments that parse as a JSON array of strings.
pub fn is_json_form(args: &str) -> bool {
    let args = args.trim();
    args.starts_with('[') && serde_json::from_str::<Vec<String>>(args).is_ok()
}

/// BuildKit's `reHeredoc`, `^(\d*)<<(-?)([^<]*)$`, on one raw word.
fn heredoc_marker(word: &str) -> Option<Heredoc> {
    let after_fd = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let after = after_fd.strip_prefix("<<")?;
    let (chomp, rest) = match after.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let name = unquote_shell(rest);
    (!name.is_empty()).then_some(Heredoc { name, chomp })
}

/// Quotes removed and `\` escapes resolved, as the shell lexer does for a word.
fn unquote_shell(word: &str) -> String {
    let mut out = String::new();
    let mut quote = None;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => out.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (_, '\\') => out.extend(chars.next()),
            (_, c) => out.push(c),
        }
    }
    out
}

/// What a shell word is, as far as variables go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    /// No variables: the text after quote and escape removal.
    Literal(LocatedText),
    /// Exactly one variable and nothing else (quotes around it allowed).
    Variable(Variable),
    /// Literal text and variables together, or several variables.
    Mixed,
    /// Not a word BuildKit can expand (an unterminated quote, `${` without `}`).
    Malformed,
}

/// A variable use: `$X`, `${X}`, `${X:-word}`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// The variable's name.
    pub name: String,
    /// What is done with its value.
    pub modifier: Modifier,
    /// The raw word after the modifier (`word` in `${X:-word}`).
    pub word: LocatedText,
}

/// The forms of `${…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    /// `$X`, `${X}`.
    Plain,
    /// `${X:-word}`: `word` when X is unset or empty.
    DefaultIfUnsetOrEmpty,
    /// `${X-word}`: `word` when X is unset.
    DefaultIfUnset,
    /// `${X:+word}`, `${X?err}`, `${X#pattern}`, …: not a plain default.
    Other,
}

/// Read a shell word (BuildKit's `ProcessWord`) for its variables.
pub fn analyze(word: Located<'_>, escape: char) -> Word {
    let text = word.text;
    let mut literal = LocatedText::default();
    let mut variables = Vec::new();
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        match c {
            '\'' => {
                let Some(close) = text[i + 1..].find('\'') else {
                    return Word::Malformed;
                };
                let mut j = i + 1;
                while j < i + 1 + close {
                    j += literal.push_char_of(word, j);
                }
                i = j + 1;
            }
            '"' => {
                let mut j = i + 1;
                loop {
                    let Some(d) = text[j..].chars().next() else {
                        return Word::Malformed;
                    };
                    if d == '"' {
                        break;
                    }
                    if d == escape {
                        let k = j + d.len_utf8();
                        match text[k..].chars().next() {
                            Some(n) if n == '"' || n == '$' || n == escape => {
                                j = k + literal.push_char_of(word, k);
                            }
                            _ => j += literal.push_char_of(word, j),
                        }
                    } else if d == '$' {
                        match dollar(word, j, escape) {
                            Dollar::Variable(variable, next) => {
                                variables.push(variable);
                                j = next;
                            }
                            Dollar::Literal => j += literal.push_char_of(word, j),
                            Dollar::Malformed => return Word::Malformed,
                        }
                    } else {
                        j += literal.push_char_of(word, j);
                    }
                }
                i = j + 1;
            }
            '$' => match dollar(word, i, escape) {
                Dollar::Variable(variable, next) => {
                    variables.push(variable);
                    i = next;
                }
                Dollar::Literal => i += literal.push_char_of(word, i),
                Dollar::Malformed => return Word::Malformed,
            },
            c if c == escape => {
                // The escape makes the next character literal; at the end it is dropped.
                let k = i + c.len_utf8();
                i = k;
                if k < text.len() {
                    i += literal.push_char_of(word, k);
                }
            }
            _ => i += literal.push_char_of(word, i),
        }
    }
    match (variables.len(), literal.is_empty()) {
        (0, _) => Word::Literal(literal),
        (1, true) => Word::Variable(variables.remove(0)),
        _ => Word::Mixed,
    }
}

enum Dollar {
    /// A variable, and the byte after it.
    Variable(Variable, usize),
    /// A `$` that starts no variable.
    Literal,
    Malformed,
}

/// Read the variable at the `$` at byte `i` (BuildKit's `processDollar`).
fn dollar(word: Located<'_>, i: usize, escape: char) -> Dollar {
    let text = word.text;
    let after = i + 1;
    let is_name = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let Some(inner) = text[after..].strip_prefix('{') else {
        let name_len = text[after..].bytes().take_while(is_name).count();
        if name_len > 0 {
            return Dollar::Variable(plain(&text[after..after + name_len]), after + name_len);
        }
        // Special parameters (`$@`, `$#`, …) are variables BuildKit never sets.
        return match text[after..].chars().next() {
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                Dollar::Variable(plain(&c.to_string()), after + 1)
            }
            _ => Dollar::Literal,
        };
    };
    let name_start = after + 1;
    let name_len = inner.bytes().take_while(is_name).count();
    if name_len == 0 {
        return Dollar::Malformed;
    }
    let name = &text[name_start..name_start + name_len];
    let mut j = name_start + name_len;
    let modifier = match text[j..].chars().next() {
        Some('}') => return Dollar::Variable(plain(name), j + 1),
        Some(':') => {
            j += 1;
            match text[j..].chars().next() {
                Some('-') => Modifier::DefaultIfUnsetOrEmpty,
                Some('+' | '?') => Modifier::Other,
                _ => return Dollar::Malformed,
            }
        }
        Some('-') => Modifier::DefaultIfUnset,
        Some('+' | '?' | '#' | '%' | '/') => Modifier::Other,
        _ => return Dollar::Malformed,
    };
    j += 1;
    let word_start = j;
    let mut depth = 0usize;
    loop {
        let Some(c) = text[j..].chars().next() else {
            return Dollar::Malformed;
        };
        match c {
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            '$' if text[j + 1..].starts_with('{') => {
                depth += 1;
                j += 1;
            }
            c if c == escape => {
                j += c.len_utf8();
                if let Some(next) = text[j..].chars().next() {
                    j += next.len_utf8();
                }
                continue;
            }
            _ => {}
        }
        j += c.len_utf8();
    }
    Dollar::Variable(
        Variable {
            name: name.to_string(),
            modifier,
            word: word.slice(word_start..j).to_text(),
        },
        j + 1,
    )
}

fn plain(name: &str) -> Variable {
    Variable {
        name: name.to_string(),
        modifier: Modifier::Plain,
        word: LocatedText::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(text: &str) -> LocatedText {
        let mut located = LocatedText::default();
        located.push_run(text, 0);
        located
    }

    fn literal(text: &str) -> Option<String> {
        match analyze(located(text).located(), '\\') {
            Word::Literal(literal) => Some(literal.text),
            _ => None,
        }
    }

    #[test]
    fn command_and_flags() {
        let line = "COPY --from=\"build stage\" --chown=1 --link src dst";
        let (keyword, args) = split_command(line);
        assert_eq!(keyword, "COPY");
        let (flags, rest) = builder_flags(line, args);
        assert_eq!(&line[rest..], "src dst");
        assert_eq!(flags.len(), 3);
        assert_eq!(flags[0].name, "from");
        assert_eq!(&line[flags[0].value.clone().unwrap()], "\"build stage\"");
        assert_eq!(flags[2].value, None);
        let (flags, rest) = builder_flags("--from x", 0);
        assert_eq!((flags[0].value.clone(), rest), (None, 7));
        let (_, rest) = builder_flags("-- --from=x", 0);
        assert_eq!(rest, 2);
    }

    #[test]
    fn flag_values_lose_their_quotes() {
        let raw = located("\"a\"b\\,c");
        assert_eq!(unquote_flag(raw.located()).text, "ab,c");
    }

    #[test]
    fn mount_fields_follow_csv() {
        let raw = located("type=bind,\"from=a,b\",FROM=c,target=/x");
        let fields: Vec<_> = mount_fields(raw.located())
            .into_iter()
            .map(|(k, v)| (k, v.text))
            .collect();
        assert_eq!(
            fields,
            [
                ("type".into(), "bind".into()),
                ("from".into(), "a,b".into()),
                ("from".into(), "c".into()),
                ("target".into(), "/x".into())
            ]
        );
    }

    #[test]
    fn shell_words_keep_quotes() {
        let text = "A=\"x y\" B='p q' C=1\\ 2";
        let words: Vec<_> = shell_words(text, '\\')
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(words, ["A=\"x y\"", "B='p q'", "C=1\\ 2"]);
    }

    #[test]
    fn heredoc_markers() {
        let names = |line: &str| -> Vec<(String, bool)> {
            heredocs(line)
                .into_iter()
                .map(|h| (h.name, h.chomp))
                .collect()
        };
        assert_eq!(
            names("RUN <<A cat - 3<<-'B' <<\"C\""),
            [
                ("A".to_string(), false),
                ("B".to_string(), true),
                ("C".to_string(), false)
            ]
        );
        assert!(names("RUN cat<<EOF").is_empty());
        assert!(names("RUN echo '<<EOF'").is_empty());
        assert!(names("LABEL <<EOF").is_empty());
        assert_eq!(names("ADD --chmod=644 <<EOF /x").len(), 1);
    }

    #[test]
    fn words_and_variables() {
        assert_eq!(literal("'py'\"thon\":3"), Some("python:3".into()));
        assert_eq!(literal("a\\$b"), Some("a$b".into()));
        assert_eq!(literal("a$"), Some("a$".into()));
        let variable = |text: &str| match analyze(located(text).located(), '\\') {
            Word::Variable(v) => Some((v.name, v.modifier, v.word.text)),
            _ => None,
        };
        assert_eq!(
            variable("$X"),
            Some(("X".into(), Modifier::Plain, "".into()))
        );
        assert_eq!(
            variable("\"${X:-a:${Y}}\""),
            Some(("X".into(), Modifier::DefaultIfUnsetOrEmpty, "a:${Y}".into()))
        );
        assert_eq!(
            variable("${X-a}").map(|v| v.1),
            Some(Modifier::DefaultIfUnset)
        );
        assert_eq!(variable("${X:+a}").map(|v| v.1), Some(Modifier::Other));
        assert_eq!(variable("${X?e}").map(|v| v.1), Some(Modifier::Other));
        assert_eq!(analyze(located("a${X}").located(), '\\'), Word::Mixed);
        assert_eq!(analyze(located("${X").located(), '\\'), Word::Malformed);
        assert_eq!(analyze(located("\"x").located(), '\\'), Word::Malformed);
        assert_eq!(analyze(located("${}").located(), '\\'), Word::Malformed);
        // With the backtick escape a backslash is an ordinary character.
        match analyze(located("c:\\x`$y").located(), '`') {
            Word::Literal(l) => assert_eq!(l.text, "c:\\x$y"),
            other => panic!("{other:?}"),
        }
    }
}
