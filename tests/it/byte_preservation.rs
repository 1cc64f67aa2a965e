//! The promise every rewrite keeps: for every file in `testdata/`, the pinned text
//! equals the original except for the inserted `@sha256:…` (or `:latest@sha256:…`).

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
        let mut rebuilt = String::new();
        let mut cursor_old = 0;
        let mut cursor_new = 0;
        for found in &file.references {
            let Some(replacement) = found.replacement() else {
                continue;
            };
            let span = found.reference.span;
            let Status::Pin {
                digest: Some(digest),
            } = &found.status
            else {
                panic!("{}: only pins without --update", file.source.path.display());
            };
            let inserted = &replacement[found.text.len()..];
            assert!(
                replacement.starts_with(&found.text),
                "{}:{}: the reference's text is kept as written: {replacement}",
                file.source.path.display(),
                found.position.line
            );
            assert!(
                inserted == format!("@{digest}") || inserted == format!(":latest@{digest}"),
                "{}:{}: only a digest (or :latest and a digest) is inserted, not {inserted:?}",
                file.source.path.display(),
                found.position.line
            );
            let unchanged = &file.source.text[cursor_old..span.end];
            assert_eq!(
                &new_text[cursor_new..cursor_new + unchanged.len()],
                unchanged
            );
            rebuilt.push_str(unchanged);
            cursor_new += unchanged.len() + inserted.len();
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
const CI_FOLDERS: [&str; 18] = [
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
            new_text.len() - file.source.text.len(),
            file.references
                .iter()
                .filter_map(|f| f.replacement().map(|r| r.len() - f.text.len()))
                .sum::<usize>(),
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
