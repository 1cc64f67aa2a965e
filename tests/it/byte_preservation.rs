//! The promise every rewrite keeps: for every file in `testdata/`, the pinned text
//! equals the original except for the inserted `@sha256:…` (or `:latest@sha256:…`);
//! for images in pieces (Helm values, Kustomize), the output minus the inserted
//! `digest:` lines equals the input, with only digest value spans changed.

use std::path::PathBuf;

use pin::discover::{Excludes, discover};
use pin::outcome::{Outcome, Resolutions, Status};
use pin::pipeline::{self, Mode, Options};
use pin::reference::Digest;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Pin (and, with `update`, re-pin) every reference in `testdata/` with made-up digests.
fn pin_all(update: bool) -> Outcome {
    let discovery = discover(&[testdata()], &Excludes::new(&[]).unwrap());
    assert!(
        discovery.files.len() >= 5,
        "testdata/ has files to check: {:?}",
        discovery.files
    );
    let options = Options {
        update,
        ..Options::new(Mode::DryRun)
    };
    let mut outcome = Outcome::default();
    let scanned = pipeline::scan(&discovery.files, &mut outcome);
    let resolutions: Resolutions = pipeline::lookups(&scanned, &options)
        .into_iter()
        .map(|lookup| {
            let digest = Digest::of_bytes(lookup.to_string().as_bytes());
            (lookup, Ok(digest))
        })
        .collect();
    pipeline::decide(scanned, &resolutions, &options, &mut outcome);
    outcome
}

#[test]
fn pinning_only_inserts_digests() {
    let outcome = pin_all(false);
    let mut pinned_files = 0;
    for file in &outcome.files {
        let Some(new_text) = &file.new_text else {
            continue;
        };
        pinned_files += 1;
        // Remove every insertion from the new text: what is left must be the original.
        // An image in pieces changes only a digest's value or gains a `digest:` line.
        let mut rebuilt = String::new();
        let mut cursor_old = 0;
        let mut cursor_new = 0;
        let mut edits: Vec<_> = file
            .references
            .iter()
            .filter_map(|found| Some((found, found.edit()?)))
            .collect();
        edits.sort_by_key(|(_, edit)| edit.span);
        for (found, edit) in edits {
            let span = edit.span;
            let replacement = &edit.replacement;
            let Status::Pin {
                digest: Some(digest),
            } = &found.status
            else {
                panic!("{}: only pins without --update", file.source.path.display());
            };
            let where_ = format!("{}:{}", file.source.path.display(), found.position.line);
            let original = span.of(&file.source.text);
            let inserted = match &found.reference.pieces {
                None => {
                    assert!(
                        replacement.starts_with(original),
                        "{where_}: the reference's text is kept as written: {replacement}"
                    );
                    let inserted = &replacement[original.len()..];
                    assert!(
                        inserted == format!("@{digest}") || inserted == format!(":latest@{digest}"),
                        "{where_}: only a digest (or :latest and a digest) is inserted, not {inserted:?}"
                    );
                    inserted.to_string()
                }
                Some(_)
                    if span.start != span.end
                        || original.is_empty() && replacement == digest.as_str() =>
                {
                    // A value replaced: an empty placeholder or an old digest.
                    assert_eq!(
                        replacement,
                        digest.as_str(),
                        "{where_}: a value becomes the digest"
                    );
                    String::new()
                }
                Some(_) if file.source.text[..span.start].ends_with("digest:") => {
                    // `digest:` with no value gets one.
                    assert_eq!(replacement, &format!(" \"{digest}\""), "{where_}");
                    replacement.clone()
                }
                Some(_) => {
                    let line = replacement.trim_start_matches(['\r', '\n']);
                    let line = line.trim_end_matches(['\r', '\n']);
                    let quoted = [
                        format!("{digest}"),
                        format!("\"{digest}\""),
                        format!("'{digest}'"),
                    ];
                    let valid = line
                        .trim_start_matches([' ', '-'])
                        .strip_prefix("digest: ")
                        .is_some_and(|v| quoted.contains(&v.to_string()))
                        || line == format!(", digest: \"{digest}\"")
                        || line == format!("@{digest}");
                    assert!(
                        valid,
                        "{where_}: only a digest: entry is inserted, not {replacement:?}"
                    );
                    replacement.clone()
                }
            };
            let unchanged = &file.source.text[cursor_old..span.start];
            assert_eq!(
                &new_text[cursor_new..cursor_new + unchanged.len()],
                unchanged
            );
            rebuilt.push_str(unchanged);
            rebuilt.push_str(original);
            cursor_new += unchanged.len() + replacement.len();
            if inserted.is_empty() && found.reference.pieces.is_some() {
                // A replaced value: the old value is put back above.
            } else if found.reference.pieces.is_none() {
                // In place: the reference's own text is kept, the insertion follows it.
                assert_eq!(
                    &new_text[cursor_new - replacement.len()..cursor_new - inserted.len()],
                    original
                );
            }
            cursor_old = span.end;
        }
        rebuilt.push_str(&new_text[cursor_new..]);
        assert_eq!(rebuilt, file.source.text, "{}", file.source.path.display());
    }
    assert!(
        pinned_files >= 5,
        "testdata/ has files to pin, found {pinned_files}"
    );
    // Every kind's folder is among the files pinned, so the promise covers them all.
    for folder in CI_FOLDERS {
        // Paths are shown relative to the current folder when they are inside it.
        let absolute = testdata().join(folder);
        let relative = PathBuf::from("testdata").join(folder);
        assert!(
            outcome.files.iter().any(|f| f.new_text.is_some()
                && (f.source.path.starts_with(&absolute) || f.source.path.starts_with(&relative))),
            "testdata/{folder} has files pinned"
        );
    }
}

/// The folders of CI systems' files, dev containers, bake files, JSON manifests and
/// the real-world files of each (the real-world dev containers are left out: their
/// images are all templated, so nothing in them is pinned).
const CI_FOLDERS: [&str; 20] = [
    "helm",
    "kustomize",
    "gitlab",
    "bitbucket",
    "circleci",
    "drone",
    "drone/.woodpecker",
    "cloudbuild",
    "azure",
    "devcontainer",
    "bake",
    "kubernetes-json",
    "real-world-ci/gitlab",
    "real-world-ci/bitbucket",
    "real-world-ci/circleci",
    "real-world-ci/drone",
    "real-world-ci/cloudbuild",
    "real-world-ci/azure",
    "real-world-ci/bake",
    "real-world-ci/kubernetes-json",
];

#[test]
fn updating_only_swaps_digests() {
    // First pin everything, then pretend every tag moved: only digests change.
    let outcome = pin_all(true);
    for file in &outcome.files {
        let Some(new_text) = &file.new_text else {
            continue;
        };
        assert_eq!(
            new_text.len() as i64 - file.source.text.len() as i64,
            file.references
                .iter()
                .filter_map(pin::outcome::Found::edit)
                .map(|e| e.replacement.len() as i64 - (e.span.end - e.span.start) as i64)
                .sum::<i64>(),
            "{}: only the edits change the length",
            file.source.path.display()
        );
        for found in &file.references {
            if let Status::Updated { old, new } = &found.status {
                let replacement = found.replacement().unwrap();
                assert_eq!(replacement, found.text.replace(old.as_str(), new.as_str()));
            }
        }
    }
}
