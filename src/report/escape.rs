//! Text from files made safe for where it goes: paths quoted as git quotes them (for
//! diffs and patches that `git apply` and `git am` take), and names and references
//! with their control characters escaped (for a terminal).

use std::borrow::Cow;
use std::path::Path;

/// `prefix` and `path` as git writes a path in a diff (`core.quotePath`, git's
/// `quote_c_style`): as they are when no byte needs quoting, else in double quotes
/// with `"`, `\`, control characters and every byte that is not ASCII escaped (`\t`,
/// `\n`, `\"`, `\\`, `\303\251`). A space needs no quotes.
pub fn git_path(prefix: &str, path: &Path) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    bytes.extend_from_slice(&path_bytes(path));
    if !bytes.iter().any(|&b| needs_quoting(b)) {
        return String::from_utf8(bytes).expect("ASCII bytes only");
    }
    let mut quoted = String::from("\"");
    for byte in bytes {
        match byte {
            b'"' => quoted.push_str("\\\""),
            b'\\' => quoted.push_str("\\\\"),
            0x07 => quoted.push_str("\\a"),
            0x08 => quoted.push_str("\\b"),
            b'\t' => quoted.push_str("\\t"),
            b'\n' => quoted.push_str("\\n"),
            0x0b => quoted.push_str("\\v"),
            0x0c => quoted.push_str("\\f"),
            b'\r' => quoted.push_str("\\r"),
            b if needs_quoting(b) => quoted.push_str(&format!("\\{b:03o}")),
            b => quoted.push(char::from(b)),
        }
    }
    quoted.push('"');
    quoted
}

/// Whether git quotes a path holding `byte`.
fn needs_quoting(byte: u8) -> bool {
    !(0x20..0x7f).contains(&byte) || byte == b'"' || byte == b'\\'
}

/// The bytes of a path, with `/` between its parts on every system.
#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path_text(path).into_bytes()
}

/// A path as text (JSON, tables): its parts joined by `/` on every system. On Unix a
/// backslash is a character of a name, and stays one.
pub fn path_text(path: &Path) -> String {
    let text = path.to_string_lossy();
    if std::path::MAIN_SEPARATOR == '/' {
        text.into_owned()
    } else {
        text.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

/// Text from a file (a name, a reference, a message quoting either) made safe for a
/// terminal: control characters (ESC starts the sequences that move the cursor, erase
/// lines or retitle the window; a carriage return overwrites the line) and the
/// characters that reorder text on screen (bidirectional overrides) are shown
/// escaped, `\u{1b}`, instead of acting.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_a_terminal) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if acts_on_a_terminal(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

fn acts_on_a_terminal(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_as_git_quotes_them() {
        let cases: [(&str, &str); 7] = [
            ("app/Dockerfile", "a/app/Dockerfile"),
            ("sp ace", "a/sp ace"),
            ("ta\tb", "\"a/ta\\tb\""),
            ("new\nline", "\"a/new\\nline\""),
            ("back\\slash", "\"a/back\\\\slash\""),
            ("q\"uote", "\"a/q\\\"uote\""),
            ("café\x1b", "\"a/caf\\303\\251\\033\""),
        ];
        for (name, quoted) in cases {
            assert_eq!(git_path("a/", Path::new(name)), quoted, "{name:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_are_quoted_byte_by_byte() {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9");
        assert_eq!(git_path("b/", Path::new(name)), "\"b/caf\\351\"");
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(printable("alpine:3.20"), "alpine:3.20");
        assert_eq!(printable("café"), "café");
        assert_eq!(
            printable("a\x1b[2Jb\rc\u{202e}d"),
            "a\\u{1b}[2Jb\\u{d}c\\u{202e}d"
        );
    }
}
