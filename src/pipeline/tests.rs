use super::*;
use crate::extract::Site;
use crate::source::Span;
use pin_registry::{Digest, ImageRef, StaticResolver};

fn digest(n: u8) -> Digest {
    Digest::parse(&format!("sha256:{}", format!("{n:02x}").repeat(32))).unwrap()
}

fn scanned(text: &str, names: &[&str]) -> Scanned {
    let references = names
        .iter()
        .map(|name| {
            let start = text.find(name).unwrap();
            Reference::new(text, Span::new(start, start + name.len()), Site::From)
        })
        .collect();
    Scanned {
        source: SourceFile {
            path: "Dockerfile".into(),
            text: text.to_string(),
        },
        kind: FileKind::Dockerfile,
        references,
    }
}

fn lookup(text: &str) -> Lookup {
    Lookup::of(&ImageRef::parse(text).unwrap())
}

#[test]
fn dry_run_pins_untagged_as_latest_and_dedups_lookups() {
    let text = "FROM node AS a\nFROM docker.io/library/node:latest\nFROM python:3\n";
    let files = vec![scanned(
        text,
        &["node", "docker.io/library/node:latest", "python:3"],
    )];
    let options = Options {
        update: false,
        ..Options::new(Mode::DryRun)
    };
    let wanted = lookups(&files, &options);
    assert_eq!(wanted, vec![lookup("node"), lookup("python:3")]);
    let mut resolutions = Resolutions::new();
    resolutions.insert(lookup("node"), Ok(digest(1)));
    resolutions.insert(lookup("python:3"), Ok(digest(2)));
    let mut outcome = Outcome::default();
    decide(files, &resolutions, &options, &mut outcome);
    let new_text = outcome.files[0].new_text.clone().unwrap();
    assert_eq!(
        new_text,
        format!(
            "FROM node:latest@{d1} AS a\nFROM docker.io/library/node:latest@{d1}\nFROM python:3@{d2}\n",
            d1 = digest(1),
            d2 = digest(2)
        )
    );
}

/// A resolver that answers every lookup with one digest and notes, in order, the
/// registries it warms up and the lookups it resolves; `on_warm_up` is called
/// with each registry it warms up.
struct Recording<F> {
    events: std::sync::Mutex<Vec<String>>,
    on_warm_up: F,
}

impl<F: Fn(&str) + Send + Sync> Resolver for Recording<F> {
    fn resolve<'a>(
        &'a self,
        lookup: &'a Lookup,
    ) -> BoxFuture<'a, Result<Digest, pin_registry::ResolveError>> {
        self.events
            .lock()
            .unwrap()
            .push(format!("resolve {lookup}"));
        Box::pin(async { Ok(digest(7)) })
    }

    fn warm_up<'a>(&'a self, lookup: &'a Lookup) -> BoxFuture<'a, ()> {
        let event = format!("warm up {}", lookup.registry);
        self.events.lock().unwrap().push(event);
        (self.on_warm_up)(&lookup.registry);
        Box::pin(async {})
    }
}

#[test]
fn registries_are_warmed_up_once_while_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let files = WARM_UP_CHUNK + 100;
    for n in 0..files {
        let text = match n {
            0 | 1 => "FROM a.example/x:1\n".to_string(),
            300 => format!("FROM c.example/pinned:1@{}\n", digest(1)),
            _ => "FROM scratch\n".to_string(),
        };
        std::fs::write(dir.path().join(format!("{n:04}.Dockerfile")), text).unwrap();
    }
    let excludes = discover::Excludes::new(&[]).unwrap();
    let found = discover::discover(&[dir.path().to_path_buf()], &excludes);
    assert_eq!(found.files.len(), files);
    // The warm-up of `a.example` names `b.example` in a file of the second chunk:
    // it is seen only if the warm-up came while the scan was still going on.
    let later = dir.path().join(format!("{:04}.Dockerfile", files - 1));
    let resolver = Recording {
        events: Default::default(),
        on_warm_up: move |registry: &str| {
            if registry == "a.example" {
                std::fs::write(&later, "FROM b.example/y:1\n").unwrap();
            }
        },
    };
    let outcome = futures::executor::block_on(run(
        &found.files,
        &Options::new(Mode::DryRun),
        Some(&resolver),
        |_| {},
        |_| {},
    ));
    let events = resolver.events.into_inner().unwrap();
    assert_eq!(
        events,
        [
            "warm up a.example",
            "warm up b.example",
            "resolve a.example/x:1",
            "resolve b.example/y:1",
        ],
        "each registry with a lookup is warmed up once, during the scan, before the \
         lookups start; the registry of a pinned image has none"
    );
    let changed = outcome
        .files
        .iter()
        .filter(|f| f.new_text.is_some())
        .count();
    assert_eq!(changed, 3);
}

/// Answers `a.example/x:1` at once, and `b.example/y:1` only once the file that
/// needs `a` alone is on disk with its digest (or after a few seconds, with an
/// error).
struct WaitsForTheWrite {
    written: std::path::PathBuf,
}

impl Resolver for WaitsForTheWrite {
    fn resolve<'a>(
        &'a self,
        lookup: &'a Lookup,
    ) -> BoxFuture<'a, Result<Digest, pin_registry::ResolveError>> {
        Box::pin(async move {
            if lookup.registry == "b.example" {
                let started = std::time::Instant::now();
                while !std::fs::read_to_string(&self.written)
                    .unwrap()
                    .contains("@sha256:")
                {
                    if started.elapsed() > std::time::Duration::from_secs(5) {
                        return Err(pin_registry::ResolveError {
                            lookup: lookup.clone(),
                            host: lookup.registry.clone(),
                            kind: pin_registry::ResolveErrorKind::Protocol(
                                "a.Dockerfile was not written before this lookup ended".to_string(),
                            ),
                        });
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
            Ok(digest(3))
        })
    }
}

#[test]
fn a_file_is_written_while_lookups_it_does_not_need_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.Dockerfile");
    std::fs::write(&a, "FROM a.example/x:1\n").unwrap();
    let b = dir.path().join("b.Dockerfile");
    std::fs::write(&b, "FROM a.example/x:1\nFROM b.example/y:1\n").unwrap();
    let excludes = discover::Excludes::new(&[]).unwrap();
    let found = discover::discover(&[dir.path().to_path_buf()], &excludes);
    let resolver = WaitsForTheWrite { written: a.clone() };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(run(
        &found.files,
        &Options::new(Mode::Write),
        Some(&resolver),
        |_| {},
        |_| {},
    ));
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.files.iter().all(|file| file.written));
    let d = digest(3);
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        format!("FROM a.example/x:1@{d}\n")
    );
    assert_eq!(
        std::fs::read_to_string(&b).unwrap(),
        format!("FROM a.example/x:1@{d}\nFROM b.example/y:1@{d}\n")
    );
}

#[test]
fn a_file_with_an_unresolved_reference_gets_no_new_text() {
    let text = "FROM a:1\nFROM b:1\n";
    let files = vec![scanned(text, &["a:1", "b:1"])];
    let options = Options {
        update: false,
        ..Options::new(Mode::Write)
    };
    let resolver = StaticResolver {
        digests: [(lookup("a:1"), digest(1))].into(),
    };
    let resolutions =
        futures::executor::block_on(resolve_all(&resolver, lookups(&files, &options), 2, |_| {}));
    let mut outcome = Outcome::default();
    decide(files, &resolutions, &options, &mut outcome);
    assert!(outcome.files[0].has_errors());
    assert_eq!(outcome.files[0].new_text, None);
}

#[test]
fn update_replaces_moved_digests_and_check_update_calls_them_stale() {
    let pinned = format!("a:1@{}", digest(1));
    let text = format!("FROM {pinned}\n");
    let mut resolutions = Resolutions::new();
    let refreshing = Lookup::refreshing(&ImageRef::parse(&pinned).unwrap());
    assert_eq!(refreshing.pinned, Some(digest(1).to_string()));
    resolutions.insert(refreshing, Ok(digest(2)));
    for (mode, expected) in [
        (
            Mode::Write,
            Status::Updated {
                old: digest(1).to_string(),
                new: digest(2),
            },
        ),
        (
            Mode::Check,
            Status::Stale {
                old: digest(1).to_string(),
                new: Some(digest(2)),
            },
        ),
    ] {
        let options = Options {
            update: true,
            ..Options::new(mode)
        };
        let mut outcome = Outcome::default();
        decide(
            vec![scanned(&text, &[&pinned])],
            &resolutions,
            &options,
            &mut outcome,
        );
        assert_eq!(outcome.files[0].references[0].status, expected);
    }
    // Without --update an existing digest is left alone and not looked up.
    let options = Options {
        update: false,
        ..Options::new(Mode::Write)
    };
    assert!(lookups(&[scanned(&text, &[&pinned])], &options).is_empty());
}
