//! Properties that hold for any input: extraction never panics and reports spans on
//! character boundaries, and rewriting never touches a byte outside the spans.

use pin::extract::{FileKind, extract};
use pin::reference::ImageRef;
use pin::rewrite::{Edit, splice};
use pin::source::Span;
use proptest::prelude::*;

/// Pieces that Dockerfiles and YAML files are made of, so that random texts reach
/// deep into the parsers instead of failing on the first byte.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("FROM ".to_string()),
        Just("from ".to_string()),
        Just("ARG ".to_string()),
        Just("COPY --from=".to_string()),
        Just("RUN --mount=type=cache,from=".to_string()),
        Just("ONBUILD ".to_string()),
        Just(" AS ".to_string()),
        Just("# syntax=".to_string()),
        Just("# escape=`".to_string()),
        Just("<<EOF".to_string()),
        Just("<<-\"EOF\"".to_string()),
        Just("EOF".to_string()),
        Just("${BASE:-".to_string()),
        Just("$".to_string()),
        Just("}".to_string()),
        Just("\\".to_string()),
        Just("`".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\t".to_string()),
        Just("image: ".to_string()),
        Just("services:".to_string()),
        Just("containers:".to_string()),
        Just("- ".to_string()),
        Just("  ".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("{{ x }}".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("---\n".to_string()),
        Just("python:3.12".to_string()),
        Just("é".to_string()),
        Just("\u{feff}".to_string()),
        "[a-z0-9:./@_-]{0,12}",
        any::<char>().prop_map(String::from),
    ]
}

fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..60).prop_map(|tokens| tokens.concat())
}

/// Documents that mostly lack the bytes `image`, with the ways YAML has of spelling
/// an `image` key without them (escapes in double-quoted keys), and aliases.
fn imageless_document() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => token().prop_filter("no image", |t| !t.contains("image")),
        1 => Just("\"\\x69mage\": ".to_string()),
        1 => Just("\"\\u0069mage\": ".to_string()),
        1 => Just("? \"ima\\\n  ge\"\n: ".to_string()),
        1 => Just("containers:\n- ".to_string()),
        1 => Just("containers:\n- \"\\x69mage\": app:1\n".to_string()),
        1 => Just("spec:\n  \"\\u0069mage\": app:2\n".to_string()),
        1 => Just("apiVersion: v1\nkind: Pod\n".to_string()),
        1 => Just("{{ .Values.x }}\n".to_string()),
        1 => Just("&b [x]\n".to_string()),
        1 => Just("*b\n".to_string()),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// The Kubernetes extractor without the pre-check, as [`extract`] finishes its work.
fn kubernetes_in_full(
    text: &str,
) -> Result<Vec<pin::extract::Reference>, pin::extract::ExtractError> {
    let mut references = pin::extract::kubernetes::extract(text)?;
    references.sort_by_key(|r| r.span);
    Ok(references)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn extraction_never_panics_and_spans_are_on_char_boundaries(text in document()) {
        for kind in [FileKind::Dockerfile, FileKind::Compose, FileKind::Kubernetes, FileKind::Actions] {
            if let Ok(references) = extract(kind, &text) {
                for reference in references {
                    let Span { start, end } = reference.span;
                    prop_assert!(start <= end && end <= text.len(), "{kind:?} span {start}..{end} in {} bytes", text.len());
                    prop_assert!(text.is_char_boundary(start) && text.is_char_boundary(end));
                }
            }
        }
    }

    /// The pre-check that lets a manifest without `image` bytes skip the full parse
    /// loses no reference: where the full parse finds any, or fails on a text that
    /// may hold an `image` key, the pre-checked extraction gives the same; a text it
    /// lets through without a parse is one whose full parse finds nothing.
    #[test]
    fn the_pre_check_of_manifests_gives_what_the_full_parse_gives(text in imageless_document()) {
        // `extract` marks `# pin:ignore` lines, which the full parse alone does not.
        prop_assume!(!text.contains("pin:ignore"));
        let checked = extract(FileKind::Kubernetes, &text);
        let full = kubernetes_in_full(&text);
        if text.contains("image") || text.contains('\\') {
            prop_assert_eq!(checked, full);
        } else {
            prop_assert_eq!(checked, Ok(Vec::new()));
            prop_assert!(full.as_ref().map_or(true, Vec::is_empty), "{:?}", full);
        }
    }

    #[test]
    fn splicing_never_changes_a_byte_outside_the_spans(
        text in "[ -~é\n]{0,200}",
        cuts in prop::collection::vec((0usize..200, 0usize..8, "[a-z@:]{0,10}"), 0..6),
    ) {
        // Non-overlapping edits on character boundaries.
        let mut edits: Vec<Edit> = Vec::new();
        let mut last_end = 0;
        let mut sorted = cuts.clone();
        sorted.sort();
        for (start, len, replacement) in sorted {
            let start = start.min(text.len());
            let end = (start + len).min(text.len());
            if start < last_end || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
                continue;
            }
            edits.push(Edit { span: Span::new(start, end), replacement });
            last_end = end;
        }
        // The same edit twice is one edit (two FROMs sharing an ARG default).
        edits.dedup();
        let out = splice(&text, &edits).unwrap();
        // Walk both texts: outside the edits, they are the same bytes.
        let (mut old, mut new) = (0, 0);
        for edit in &edits {
            let keep = &text[old..edit.span.start];
            prop_assert_eq!(&out[new..new + keep.len()], keep);
            new += keep.len();
            prop_assert_eq!(&out[new..new + edit.replacement.len()], edit.replacement.as_str());
            new += edit.replacement.len();
            old = edit.span.end;
        }
        prop_assert_eq!(&out[new..], &text[old..]);
    }

    #[test]
    fn accepted_references_print_back_as_written(text in "[a-zA-Z0-9:./@_\\[\\]-]{1,40}") {
        if let Ok(image) = ImageRef::parse(&text) {
            prop_assert_eq!(image.to_string(), text);
        }
    }
}
