//! The YAML extractors never panic, and their spans lie on character boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pin::extract::{FileKind, extract};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for kind in [FileKind::Compose, FileKind::Kubernetes, FileKind::Actions] {
        if let Ok(references) = extract(kind, text) {
            for reference in references {
                assert!(reference.span.end <= text.len());
                assert!(text.is_char_boundary(reference.span.start));
                assert!(text.is_char_boundary(reference.span.end));
            }
        }
    }
});
