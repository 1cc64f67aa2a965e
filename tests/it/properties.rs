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
