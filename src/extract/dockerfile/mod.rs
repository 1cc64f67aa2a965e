//! Dockerfiles, read the way BuildKit reads them.
//!
//! [`lexer`] turns the file into parser directives and instructions (continuations
//! joined, comments and heredoc bodies dropped), every byte still knowing its offset
//! in the file; [`words`] splits an instruction into flags and words and reads their
//! variables; this module knows what the instructions mean: stages, ARGs, and where an
//! image is named.
//!
//! Decisions where BuildKit leaves room:
//! - A reference whose text is not one run of bytes in the file (split by a line
//!   continuation, partly quoted like `py"thon":3`, or holding an escape) is skipped as
//!   `templated`: there is no single span to replace.
//! - A global ARG's default is expanded with the global ARGs declared before it, as
//!   BuildKit's `buildMetaArgs` does (`ARG B=${A}`, `ARG V=${V:-ubuntu:22.04}`); an
//!   ARG re-declared without a value keeps what it had. Build-arg overrides are not
//!   in the file, so the defaults are what we read.
//! - A global ARG whose value is a whole literal default used as a whole `FROM`
//!   operand is reported once, at the ARG whose default holds the text, with site
//!   `arg-default` and the `FROM` operands that use it in `used_by`. A value that
//!   mixes text and variables is `templated`; one that is empty or unknown is
//!   `unresolved-variable` at the `FROM`.
//! - BuildKit refuses variable expansion in `COPY --from` ("variable expansion is not
//!   supported for --from", dockerfile2llb's `toCommand`) and in
//!   `RUN --mount=…,from=` ("define alias stage instead"); we report such a value as
//!   `unresolved-variable` rather than fail, and expand nothing there.
//! - `ONBUILD` instructions run in another build; names of this file's stages and
//!   numbers are still taken as stages there, the likeliest meaning.
//! - `COPY --from=scratch` is `scratch`, as for `FROM`.
//! - BuildKit refuses a repeated parser directive; we read the repeat as the comment
//!   that ends the directives. An invalid `# escape=` value and an unterminated heredoc
//!   are errors, as in BuildKit.

mod lexer;
mod words;

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use self::lexer::{Located, LocatedText};
use self::words::{Modifier, Word};
use super::{ExtractError, Reference, Site, SkipReason};
use crate::source::Span;

/// ARGs BuildKit sets itself for every build: their value is not in the file.
const PLATFORM_ARGS: [&str; 8] = [
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// How deep `${A:-${B:-…}}` is followed before giving up.
const MAX_NESTING: usize = 8;

/// The references of a Dockerfile.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let lexed = lexer::lex(text)?;
    let mut reader = Reader {
        text,
        escape: lexed.escape,
        all_stages: stage_names(&lexed.instructions),
        stages_above: HashSet::new(),
        global_args: HashMap::new(),
        in_stage: false,
        defaults: Vec::new(),
        emitted_defaults: HashMap::new(),
        references: Vec::new(),
    };
    for directive in &lexed.directives {
        // The frontend image is the value up to the first space; the rest is
        // arguments for it (BuildKit's `DetectSyntax`).
        let value = directive.value.of(text);
        let image = &value[..value.find(' ').unwrap_or(value.len())];
        if directive.name == "syntax" && !image.is_empty() {
            let span = Span::new(directive.value.start, directive.value.start + image.len());
            reader
                .references
                .push(Reference::new(text, span, Site::Syntax));
        }
    }
    for line in &lexed.instructions {
        reader.instruction(line.located(), false);
    }
    // An ARG default is reported where it is used, which may be far below it.
    reader.references.sort_by_key(|r| r.span);
    Ok(reader.references)
}

/// What an ARG holds, as far as the file tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binding {
    /// Declared without a default, or not declared.
    Unset,
    /// Declared with an empty default.
    Empty,
    /// A literal default, its own or one it took from an earlier ARG: an index into
    /// `Reader::defaults`.
    Default(usize),
    /// Literal text and variables together: no single span holds the value.
    Templated,
    /// Set, but to something the file does not say: a `${X:+…}` form, or an ARG
    /// BuildKit sets (`TARGETARCH`, …).
    Unknown,
}

/// Where a name is used, which decides what counts as a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// A `FROM` operand names a stage only if it is defined above.
    From,
    /// `--from` / `from=` may name any stage, or a stage index.
    CopyFrom,
}

/// What a value comes to once its variables are read.
#[derive(Debug)]
enum Resolved {
    /// Literal text, with its places in the file.
    Literal(LocatedText),
    /// The default of an ARG (an index into `Reader::defaults`).
    Default(usize),
    /// The empty string: an unset or empty variable, or an empty default.
    Empty,
    /// Nothing to pin.
    Skip(SkipReason),
}

struct Reader<'a> {
    text: &'a str,
    escape: char,
    /// Every stage name of the file, lower-cased.
    all_stages: HashSet<String>,
    /// The stage names defined so far, lower-cased.
    stages_above: HashSet<String>,
    global_args: HashMap<String, Binding>,
    /// Whether a `FROM` has been seen: ARGs are stage-scoped from then on.
    in_stage: bool,
    /// Literal ARG defaults, by index, with the span of the value as written.
    defaults: Vec<(LocatedText, Span)>,
    /// Defaults already reported: default index → index in `references`.
    emitted_defaults: HashMap<usize, usize>,
    references: Vec<Reference>,
}

impl Reader<'_> {
    fn instruction(&mut self, line: Located<'_>, onbuild: bool) {
        let (keyword, args) = words::split_command(line.text);
        let keyword = keyword.to_ascii_lowercase();
        let (flags, rest) = words::builder_flags(line.text, args);
        match keyword.as_str() {
            "from" if !onbuild => self.from(line, rest),
            "arg" if !onbuild => self.arg(line, rest),
            "copy" => {
                let site = if onbuild {
                    Site::OnbuildCopyFrom
                } else {
                    Site::CopyFrom
                };
                for value in flag_values(&flags, "from") {
                    let raw = line.slice(value);
                    let value = words::unquote_flag(raw);
                    let fallback = raw.covering_span(0).start;
                    // BuildKit expands `--from` with no variables at all and refuses
                    // the instruction if that changes it.
                    let word = words::analyze(value.located(), self.escape);
                    if matches!(word, Word::Variable(_) | Word::Mixed) {
                        let span = value.located().covering_span(fallback);
                        let reason = SkipReason::UnresolvedVariable;
                        self.references.push(Reference::skip(span, site, reason));
                    } else {
                        self.operand(value.located(), fallback, site, Use::CopyFrom);
                    }
                }
            }
            "run" => {
                let site = if onbuild {
                    Site::OnbuildRunMountFrom
                } else {
                    Site::RunMountFrom
                };
                for value in flag_values(&flags, "mount") {
                    let raw = line.slice(value);
                    let fallback = raw.covering_span(0).start;
                    let mount = words::unquote_flag(raw);
                    for (key, value) in words::mount_fields(mount.located()) {
                        if key != "from" {
                            continue;
                        }
                        if has_variable(&value.text) {
                            let span = value.located().covering_span(fallback);
                            let reason = SkipReason::UnresolvedVariable;
                            self.references.push(Reference::skip(span, site, reason));
                        } else {
                            self.operand(value.located(), fallback, site, Use::CopyFrom);
                        }
                    }
                }
            }
            "onbuild" if !onbuild => {
                let inner = line.slice(rest..line.text.len());
                self.instruction(inner, true);
            }
            _ => {}
        }
    }

    /// `FROM [--platform=…] image [AS name]`.
    fn from(&mut self, line: Located<'_>, rest: usize) {
        let operands = separated_words(line.text, rest);
        if let Some(image) = operands.first() {
            let image = line.slice(image.clone());
            let fallback = image.covering_span(0).start;
            self.operand(image, fallback, Site::From, Use::From);
        }
        if let Some(name) = stage_name(line.text, &operands) {
            self.stages_above.insert(name);
        }
        self.in_stage = true;
    }

    /// `ARG A`, `ARG A=1 B="2"` before the first FROM: global ARGs. Later ARGs are
    /// stage-scoped, and neither FROM nor `--from` sees them.
    fn arg(&mut self, line: Located<'_>, rest: usize) {
        if self.in_stage {
            return;
        }
        for word in words::shell_words(&line.text[rest..], self.escape) {
            let word = rest + word.start..rest + word.end;
            let text = &line.text[word.clone()];
            let (name, binding) = match text.find('=') {
                Some(eq) => {
                    let value = line.slice(word.start + eq + 1..word.end);
                    (&text[..eq], self.binding_of(value))
                }
                // Re-declared without a value, an ARG keeps its default.
                None => {
                    let earlier = self.global_args.get(text).copied();
                    (text, earlier.unwrap_or(Binding::Unset))
                }
            };
            let binding = if PLATFORM_ARGS.contains(&name) {
                Binding::Unknown
            } else {
                binding
            };
            self.global_args.insert(name.to_string(), binding);
        }
    }

    /// What an ARG's default comes to, expanded with the global ARGs declared so far
    /// (BuildKit's `buildMetaArgs`).
    fn binding_of(&mut self, value: Located<'_>) -> Binding {
        let word = words::analyze(value, self.escape);
        match self.resolve(word, 0) {
            Resolved::Literal(literal) => {
                let written = value.covering_span(0);
                self.defaults.push((literal, written));
                Binding::Default(self.defaults.len() - 1)
            }
            Resolved::Default(index) => Binding::Default(index),
            Resolved::Empty => Binding::Empty,
            Resolved::Skip(SkipReason::Templated) => Binding::Templated,
            Resolved::Skip(_) => Binding::Unknown,
        }
    }

    /// A global ARG, as `FROM` and later global ARGs see it.
    fn lookup(&self, name: &str) -> Binding {
        if PLATFORM_ARGS.contains(&name) {
            return Binding::Unknown;
        }
        self.global_args
            .get(name)
            .copied()
            .unwrap_or(Binding::Unset)
    }

    /// Report the image a value names. `fallback` is where an empty value would be.
    fn operand(&mut self, value: Located<'_>, fallback: usize, site: Site, use_: Use) {
        let span = value.covering_span(fallback);
        let word = words::analyze(value, self.escape);
        if matches!(&word, Word::Literal(literal) if literal.is_empty()) {
            return;
        }
        match self.resolve(word, 0) {
            Resolved::Literal(literal) => {
                self.name(&literal, span, site, use_);
            }
            Resolved::Default(index) => match self.emitted_defaults.get(&index) {
                Some(&reported) => self.references[reported].used_by.push(span),
                None => {
                    let (literal, written) = self.defaults[index].clone();
                    if let Some(reported) = self.name(&literal, written, Site::ArgDefault, use_) {
                        self.references[reported].used_by.push(span);
                        self.emitted_defaults.insert(index, reported);
                    }
                }
            },
            Resolved::Empty => {
                let reason = SkipReason::UnresolvedVariable;
                self.references.push(Reference::skip(span, site, reason));
            }
            Resolved::Skip(reason) => self.references.push(Reference::skip(span, site, reason)),
        }
    }

    /// What a word comes to with the global ARGs: BuildKit's shell expansion
    /// (`shell/lex.go`), as far as the file says.
    fn resolve(&self, word: Word, depth: usize) -> Resolved {
        let variable = match word {
            Word::Literal(literal) if literal.is_empty() => return Resolved::Empty,
            Word::Literal(literal) => return Resolved::Literal(literal),
            Word::Mixed => return Resolved::Skip(SkipReason::Templated),
            Word::Malformed => return Resolved::Skip(SkipReason::InvalidReference),
            Word::Variable(variable) => variable,
        };
        let unresolved = Resolved::Skip(SkipReason::UnresolvedVariable);
        match (variable.modifier, self.lookup(&variable.name)) {
            (Modifier::Other, _) | (_, Binding::Unknown) => unresolved,
            (_, Binding::Templated) => Resolved::Skip(SkipReason::Templated),
            (_, Binding::Default(index)) => Resolved::Default(index),
            // An unset variable expands to nothing; `${X-word}` keeps an empty X.
            (Modifier::Plain, _) | (Modifier::DefaultIfUnset, Binding::Empty) => Resolved::Empty,
            (Modifier::DefaultIfUnsetOrEmpty | Modifier::DefaultIfUnset, _) => {
                if depth >= MAX_NESTING {
                    return unresolved;
                }
                let inner = words::analyze(variable.word.located(), self.escape);
                self.resolve(inner, depth + 1)
            }
        }
    }

    /// Report a literal name: a stage, `scratch`, or an image. `written` is the
    /// span of the value as written, quotes and all. Returns where the reference
    /// went in `references`.
    fn name(
        &mut self,
        literal: &LocatedText,
        written: Span,
        site: Site,
        use_: Use,
    ) -> Option<usize> {
        let span = match literal.span() {
            None => return None,
            Some(Ok(span)) => span,
            Some(Err(_)) => {
                let skip = Reference::skip(written, site, SkipReason::Templated);
                self.references.push(skip);
                return Some(self.references.len() - 1);
            }
        };
        let name = literal.text.to_ascii_lowercase();
        let reason = match use_ {
            Use::From if self.stages_above.contains(&name) => Some(SkipReason::Stage),
            Use::CopyFrom if self.all_stages.contains(&name) => Some(SkipReason::Stage),
            Use::CopyFrom if name.bytes().all(|b| b.is_ascii_digit()) => {
                Some(SkipReason::StageIndex)
            }
            _ if literal.text == "scratch" => Some(SkipReason::Scratch),
            _ => None,
        };
        let reference = match reason {
            Some(reason) => Reference::skip(span, site, reason),
            None => Reference::new(self.text, span, site),
        };
        self.references.push(reference);
        Some(self.references.len() - 1)
    }
}

/// BuildKit's test for a variable in `from=`: a `$` followed by anything.
fn has_variable(value: &str) -> bool {
    value.find('$').is_some_and(|i| i + 1 < value.len())
}

/// The raw values of the flags called `name`.
fn flag_values(flags: &[words::Flag], name: &str) -> Vec<Range<usize>> {
    flags
        .iter()
        .filter(|flag| flag.name == name)
        .filter_map(|flag| flag.value.clone())
        .collect()
}

/// The words of `line` from `start`, split at BuildKit's whitespace (as for `FROM`).
fn separated_words(line: &str, start: usize) -> Vec<Range<usize>> {
    let mut words = Vec::new();
    let mut word_start = None;
    for (i, c) in line[start..].char_indices() {
        match (word_start, words::is_separator(c)) {
            (None, false) => word_start = Some(start + i),
            (Some(s), true) => {
                words.push(s..start + i);
                word_start = None;
            }
            _ => {}
        }
    }
    words.extend(word_start.map(|s| s..line.len()));
    words
}

/// `FROM image AS name`: the stage name, lower-cased as BuildKit does.
fn stage_name(line: &str, operands: &[Range<usize>]) -> Option<String> {
    match operands {
        [_, as_, name, ..] if line[as_.clone()].eq_ignore_ascii_case("as") => {
            Some(line[name.clone()].to_ascii_lowercase())
        }
        _ => None,
    }
}

/// Every stage name of the file, for `--from`, which may name a stage defined below.
fn stage_names(instructions: &[LocatedText]) -> HashSet<String> {
    let mut names = HashSet::new();
    for line in instructions {
        let (keyword, args) = words::split_command(&line.text);
        if keyword.eq_ignore_ascii_case("from") {
            let (_, rest) = words::builder_flags(&line.text, args);
            names.extend(stage_name(&line.text, &separated_words(&line.text, rest)));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Target;

    /// (text at span, site, skip reason or "image") of every reference.
    fn summary(text: &str) -> Vec<(&str, &'static str, &'static str)> {
        extract(text)
            .unwrap()
            .into_iter()
            .map(|r| {
                let target = match r.target {
                    Target::Image(_) => "image",
                    Target::Skip(reason) => reason.as_str(),
                };
                (r.span.of(text), r.site.as_str(), target)
            })
            .collect()
    }

    #[test]
    fn arg_default_is_reported_once_for_every_use() {
        let text = "ARG B=python:3.12\nFROM $B AS a\nFROM ${B}\nFROM ${B:-x}\nCOPY --from=$B / /\n";
        assert_eq!(
            summary(text),
            [
                ("python:3.12", "arg-default", "image"),
                ("$B", "copy-from", "unresolved-variable")
            ]
        );
        let used_by: Vec<_> = extract(text).unwrap()[0]
            .used_by
            .iter()
            .map(|span| span.of(text))
            .collect();
        assert_eq!(used_by, ["$B", "${B}", "${B:-x}"]);
    }

    #[test]
    fn arg_default_naming_a_stage_above_is_a_stage() {
        let text = "ARG B=build\nFROM alpine AS build\nFROM $B\n";
        assert_eq!(
            summary(text),
            [
                ("build", "arg-default", "stage"),
                ("alpine", "from", "image")
            ]
        );
    }

    #[test]
    fn from_words_split_at_buildkit_whitespace() {
        let line = "FROM\ta  AS\u{b}b ";
        let words: Vec<_> = separated_words(line, 4)
            .into_iter()
            .map(|r| &line[r])
            .collect();
        assert_eq!(words, ["a", "AS", "b"]);
        assert_eq!(
            stage_name(line, &separated_words(line, 4)),
            Some("b".to_string())
        );
        assert_eq!(
            stage_name("FROM a b c", &separated_words("FROM a b c", 4)),
            None
        );
    }

    #[test]
    fn mount_from_variable_test_follows_buildkit() {
        assert!(has_variable("$X"));
        assert!(has_variable("a${X}"));
        assert!(!has_variable("a$"));
        assert!(!has_variable("alpine"));
    }

    #[test]
    fn empty_and_degenerate_files() {
        for text in [
            "",
            "\u{feff}",
            "\n\n",
            "# just a comment",
            "FROM",
            "COPY --from= a b",
        ] {
            assert_eq!(summary(text), [], "{text:?}");
        }
    }
}
