//! One test per BuildKit rule the Dockerfile extractor follows, each over the
//! `testdata/dockerfile/<rule>.Dockerfile` file named after it, asserting every
//! reference found: its text in the file, its site, and the image it names (as
//! `registry/repository:tag`) or why it is skipped.

use std::path::{Path, PathBuf};

use pin::extract::{FileKind, Reference, Target, extract};

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/dockerfile")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(testdata(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// What a reference is, in words: `docker.io/library/python:3.12` or a skip reason.
fn target(reference: &Reference) -> String {
    match &reference.target {
        Target::Image(image) => {
            let mut name = format!(
                "{}/{}:{}",
                image.registry(),
                image.repository(),
                image.tag_or_latest()
            );
            if let Some(digest) = image.digest() {
                name.push('@');
                name.push_str(digest);
            }
            name
        }
        Target::Skip(reason) => reason.as_str().to_string(),
    }
}

fn found(name: &str) -> Vec<(String, String, String)> {
    let text = read(name);
    let references = extract(FileKind::Dockerfile, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
    references
        .iter()
        .map(|r| {
            (
                r.span.of(&text).to_string(),
                r.site.as_str().to_string(),
                target(r),
            )
        })
        .collect()
}

fn assert_references(name: &str, expected: &[(&str, &str, &str)]) {
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(t, s, r)| (t.to_string(), s.to_string(), r.to_string()))
        .collect();
    assert_eq!(found(name), expected, "{name}");
}

const PYTHON: &str = "docker.io/library/python:3.12";
const ALPINE: &str = "docker.io/library/alpine:3.20";
const BUSYBOX: &str = "docker.io/library/busybox:1.36";

#[test]
fn directives_syntax() {
    assert_references(
        "directives-syntax.Dockerfile",
        &[
            (
                "docker/dockerfile:1.7",
                "syntax",
                "docker.io/docker/dockerfile:1.7",
            ),
            ("alpine:3.20", "from", ALPINE),
        ],
    );
}

#[test]
fn directives_end_at_comment() {
    assert_references(
        "directives-end-at-comment.Dockerfile",
        &[("alpine:3.20", "from", ALPINE)],
    );
}

#[test]
fn directives_end_at_blank_line() {
    // The `# escape=` after the blank line is a comment: `\` still continues lines.
    assert_references(
        "directives-end-at-blank-line.Dockerfile",
        &[
            (
                "docker/dockerfile:1",
                "syntax",
                "docker.io/docker/dockerfile:1",
            ),
            ("alpine:3.20", "from", ALPINE),
        ],
    );
}

#[test]
fn directive_repeated() {
    assert_references(
        "directive-repeated.Dockerfile",
        &[
            (
                "docker/dockerfile:1",
                "syntax",
                "docker.io/docker/dockerfile:1",
            ),
            ("alpine:3.20", "from", ALPINE),
        ],
    );
}

#[test]
fn invalid_escape_directive_is_an_error() {
    let error = extract(FileKind::Dockerfile, "# escape=x\nFROM alpine:3.20\n").unwrap_err();
    assert_eq!((error.position.line, error.position.column), (1, 10));
}

#[test]
fn escape_backtick() {
    assert_references(
        "escape-backtick.Dockerfile",
        &[
            (
                "mcr.microsoft.com/windows/servercore:ltsc2022",
                "from",
                "mcr.microsoft.com/windows/servercore:ltsc2022",
            ),
            (
                "mcr.microsoft.com/powershell:lts",
                "copy-from",
                "mcr.microsoft.com/powershell:lts",
            ),
        ],
    );
}

#[test]
fn continuation_comment_lines() {
    assert_references(
        "continuation-comment-lines.Dockerfile",
        &[(
            "python:3.12-slim",
            "from",
            "docker.io/library/python:3.12-slim",
        )],
    );
}

#[test]
fn continuation_double_backslash_at_eol() {
    assert_references(
        "continuation-double-backslash-at-eol.Dockerfile",
        &[
            ("alpine:3.20", "from", ALPINE),
            ("busybox:1.36", "from", BUSYBOX),
        ],
    );
}

#[test]
fn continuation_splits_reference() {
    assert_references(
        "continuation-splits-reference.Dockerfile",
        &[("python:3.\\\n12", "from", "templated")],
    );
}

#[test]
fn heredoc_with_from_inside() {
    assert_references(
        "heredoc-with-from-inside.Dockerfile",
        &[
            (
                "docker/dockerfile:1",
                "syntax",
                "docker.io/docker/dockerfile:1",
            ),
            ("alpine:3.20", "from", ALPINE),
            ("base", "from", "stage"),
        ],
    );
}

#[test]
fn unterminated_heredoc_is_an_error() {
    let error = extract(FileKind::Dockerfile, "FROM a\nRUN <<EOF\necho\n").unwrap_err();
    assert_eq!(error.position.line, 2);
}

#[test]
fn keywords_case_insensitive() {
    assert_references(
        "keywords-case-insensitive.Dockerfile",
        &[
            ("alpine:3.20", "from", ALPINE),
            ("builder", "from", "stage"),
            ("BUILDER", "from", "stage"),
            ("Other", "copy-from", "stage"),
        ],
    );
}

#[test]
fn stage_defined_below() {
    assert_references(
        "stage-defined-below.Dockerfile",
        &[
            ("app", "from", "docker.io/library/app:latest"),
            ("alpine:3.20", "from", ALPINE),
            ("later", "copy-from", "stage"),
            ("later", "run-mount-from", "stage"),
            ("busybox:1.36", "from", BUSYBOX),
        ],
    );
}

#[test]
fn copy_from_stage_index() {
    // `--from build` is not a flag value (BuildKit wants `--from=`), and ADD has no
    // `--from`.
    assert_references(
        "copy-from-stage-index.Dockerfile",
        &[
            ("golang:1.22", "from", "docker.io/library/golang:1.22"),
            ("alpine:3.20", "from", ALPINE),
            ("0", "copy-from", "stage-index"),
            ("nginx:1.27", "copy-from", "docker.io/library/nginx:1.27"),
            ("ghcr.io/org/tool:v1", "copy-from", "ghcr.io/org/tool:v1"),
        ],
    );
}

#[test]
fn scratch() {
    assert_references(
        "scratch.Dockerfile",
        &[
            ("scratch", "from", "scratch"),
            ("scratch", "copy-from", "scratch"),
            ("scratch", "from", "scratch"),
        ],
    );
}

#[test]
fn run_mount_from() {
    assert_references(
        "run-mount-from.Dockerfile",
        &[
            ("alpine:3.20", "from", ALPINE),
            ("python:3.12", "run-mount-from", PYTHON),
            ("base", "run-mount-from", "stage"),
            ("ghcr.io/o/r:1", "run-mount-from", "ghcr.io/o/r:1"),
            // BuildKit refuses variables in `from=`.
            ("${IMG}", "run-mount-from", "unresolved-variable"),
        ],
    );
}

#[test]
fn onbuild() {
    assert_references(
        "onbuild.Dockerfile",
        &[
            ("alpine:3.20", "from", ALPINE),
            ("node:20", "onbuild-copy-from", "docker.io/library/node:20"),
            ("busybox:1.36", "onbuild-run-mount-from", BUSYBOX),
            (
                "${NODE:-node:22}",
                "onbuild-copy-from",
                "unresolved-variable",
            ),
            ("$NODE", "onbuild-copy-from", "unresolved-variable"),
        ],
    );
}

#[test]
fn arg_default_used_by_from() {
    assert_references(
        "arg-default-used-by-from.Dockerfile",
        &[
            ("python:3.12", "arg-default", PYTHON),
            (
                "gcr.io/distroless/python3:nonroot",
                "arg-default",
                "gcr.io/distroless/python3:nonroot",
            ),
        ],
    );
}

#[test]
fn arg_several_in_one_line() {
    assert_references(
        "arg-several-in-one-line.Dockerfile",
        &[
            ("alpine:3.20", "arg-default", ALPINE),
            ("busybox:1.36", "arg-default", BUSYBOX),
            ("$A", "from", "unresolved-variable"),
            ("debian:12", "from", "docker.io/library/debian:12"),
        ],
    );
}

#[test]
fn arg_redeclared_keeps_default() {
    assert_references(
        "arg-redeclared-keeps-default.Dockerfile",
        &[
            ("node:20", "arg-default", "docker.io/library/node:20"),
            // BuildKit refuses variables in `--from`.
            ("$BASE", "copy-from", "unresolved-variable"),
        ],
    );
}

#[test]
fn arg_default_unusable() {
    assert_references(
        "arg-default-unusable.Dockerfile",
        &[
            // `$REGISTRY/library/python:3.12` mixes text and a variable.
            ("$IMAGE", "from", "templated"),
            ("${EMPTY}", "from", "unresolved-variable"),
            ("alpine:3.20", "from", ALPINE),
            ("${EMPTY-alpine:3.20}", "from", "unresolved-variable"),
        ],
    );
}

#[test]
fn variable_default_in_from() {
    assert_references(
        "variable-default-in-from.Dockerfile",
        &[
            ("node:20", "arg-default", "docker.io/library/node:20"),
            ("python:3.12", "from", PYTHON),
            ("alpine:3.20", "from", ALPINE),
            ("busybox:1.36", "from", BUSYBOX),
        ],
    );
}

#[test]
fn stage_scoped_and_platform_args() {
    assert_references(
        "stage-scoped-and-platform-args.Dockerfile",
        &[
            ("alpine:3.20", "from", ALPINE),
            ("${LATE}", "from", "unresolved-variable"),
            ("$TARGETARCH", "from", "unresolved-variable"),
            ("golang:1.22", "from", "docker.io/library/golang:1.22"),
            ("${BUILDPLATFORM:-alpine}", "from", "unresolved-variable"),
            ("$NEVER_DECLARED", "from", "unresolved-variable"),
        ],
    );
}

#[test]
fn variable_modifiers_unresolved() {
    assert_references(
        "variable-modifiers-unresolved.Dockerfile",
        &[
            ("${IMG:+busybox:1.36}", "from", "unresolved-variable"),
            ("${IMG:?required}", "from", "unresolved-variable"),
            ("${IMG+x}", "from", "unresolved-variable"),
            ("${IMG?err}", "from", "unresolved-variable"),
        ],
    );
}

#[test]
fn templated() {
    assert_references(
        "templated.Dockerfile",
        &[
            ("golang:${GO}-alpine", "from", "templated"),
            ("${REG}/app:1", "from", "templated"),
            ("$REG$GO", "from", "templated"),
        ],
    );
}

#[test]
fn invalid_reference() {
    assert_references(
        "invalid-reference.Dockerfile",
        &[
            ("Python:3.12", "from", "invalid-reference"),
            ("python:3.12:slim", "from", "invalid-reference"),
            ("{{.Image}}", "from", "template-expression"),
            ("${BROKEN", "from", "invalid-reference"),
        ],
    );
}

#[test]
fn already_pinned() {
    let hex = "0123456789abcdef".repeat(4);
    let pinned = format!("python:3.12@sha256:{hex}");
    let image = format!("{PYTHON}@sha256:{hex}");
    assert_references(
        "already-pinned.Dockerfile",
        &[(&pinned, "from", &image), ("alpine:3.20", "from", ALPINE)],
    );
}

#[test]
fn quoted_values() {
    assert_references(
        "quoted-values.Dockerfile",
        &[
            ("python:3.12", "from", PYTHON),
            ("alpine:3.20", "from", ALPINE),
            ("nginx:1.27", "copy-from", "docker.io/library/nginx:1.27"),
            ("py\"thon:3.12\"", "from", "templated"),
        ],
    );
}

#[test]
fn copy_from_variable() {
    assert_references(
        "copy-from-variable.Dockerfile",
        &[
            ("alpine:3.20", "from", ALPINE),
            // BuildKit refuses any variable in `--from`, global or not.
            ("${TOOLS}", "copy-from", "unresolved-variable"),
            ("$LOCAL", "copy-from", "unresolved-variable"),
            ("$UNKNOWN", "copy-from", "unresolved-variable"),
            ("${UNKNOWN:-nginx:1.27}", "copy-from", "unresolved-variable"),
            ("tools-${TOOLS}", "copy-from", "unresolved-variable"),
        ],
    );
}

/// For each `arg-default` reference: its text and the texts of the `FROM` operands
/// that use it.
fn used_by(name: &str) -> Vec<(String, Vec<String>)> {
    let text = read(name);
    extract(FileKind::Dockerfile, &text)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .iter()
        .filter(|r| r.site.as_str() == "arg-default")
        .map(|r| {
            let uses = r.used_by.iter().map(|s| s.of(&text).to_string()).collect();
            (r.span.of(&text).to_string(), uses)
        })
        .collect()
}

#[test]
fn arg_chain() {
    assert_references(
        "arg-chain.Dockerfile",
        &[
            ("python:3.12", "arg-default", PYTHON),
            ("alpine:3.20", "arg-default", ALPINE),
        ],
    );
    assert_eq!(
        used_by("arg-chain.Dockerfile"),
        [
            (
                "python:3.12".to_string(),
                vec!["${C}".into(), "$B".into(), "$A".into()]
            ),
            ("alpine:3.20".to_string(), vec!["${Y}".to_string()]),
        ]
    );
}

#[test]
fn arg_default_expands_its_own_name() {
    assert_references(
        "arg-default-expands-its-own-name.Dockerfile",
        &[
            (
                "ubuntu:22.04",
                "arg-default",
                "docker.io/library/ubuntu:22.04",
            ),
            // `ARG W=${W:-…}` keeps the W declared above.
            ("alpine:3.20", "arg-default", ALPINE),
            ("debian:12", "arg-default", "docker.io/library/debian:12"),
            ("node:20", "arg-default", "docker.io/library/node:20"),
            // `${E-…}` with E declared empty is empty.
            ("$F", "from", "unresolved-variable"),
        ],
    );
    let uses: Vec<_> = used_by("arg-default-expands-its-own-name.Dockerfile")
        .into_iter()
        .map(|(_, uses)| uses)
        .collect();
    assert_eq!(uses, [["$V"], ["$W"], ["$G"], ["$H"]]);
}

#[test]
fn arg_chain_unusable() {
    assert_references(
        "arg-chain-unusable.Dockerfile",
        &[
            ("$ALIAS", "from", "templated"),
            // An ARG sees only the ARGs declared before it.
            ("$EARLY", "from", "unresolved-variable"),
            ("$ARCH", "from", "unresolved-variable"),
            ("$OPT", "from", "unresolved-variable"),
            ("node:22", "from", "docker.io/library/node:22"),
            ("$NOTHING", "from", "unresolved-variable"),
        ],
    );
}

#[test]
fn copy_from_variable_with_default() {
    assert_references(
        "copy-from-variable-with-default.Dockerfile",
        &[
            ("alpine:3.20", "arg-default", ALPINE),
            ("${BASE}", "copy-from", "unresolved-variable"),
            ("${NONE:-nginx:1.27}", "copy-from", "unresolved-variable"),
            ("$BASE", "copy-from", "unresolved-variable"),
            (
                "${BASE:-node:22}",
                "onbuild-copy-from",
                "unresolved-variable",
            ),
            ("nginx:1.27", "copy-from", "docker.io/library/nginx:1.27"),
        ],
    );
    // Only the FROM uses the default: `--from` expands nothing.
    assert_eq!(
        used_by("copy-from-variable-with-default.Dockerfile"),
        [("alpine:3.20".to_string(), vec!["$BASE".to_string()])]
    );
}

#[test]
fn bom_and_crlf() {
    let text = read("bom-and-crlf.Dockerfile");
    let references = extract(FileKind::Dockerfile, &text).unwrap();
    assert!(text.contains("\r\n"));
    // Spans count the BOM's three bytes.
    assert_eq!(references[0].span.start, "\u{feff}# syntax=".len());
    assert_references(
        "bom-and-crlf.Dockerfile",
        &[
            (
                "docker/dockerfile:1",
                "syntax",
                "docker.io/docker/dockerfile:1",
            ),
            ("python:3.12", "from", PYTHON),
            ("build", "copy-from", "stage"),
            ("alpine:3.20", "from", ALPINE),
        ],
    );
}

#[test]
fn pin_ignore_comment_is_honoured_by_the_caller() {
    let text = "# pin:ignore\nFROM alpine:3.20\nFROM busybox:1.36 # pin:ignore\n";
    let references = extract(FileKind::Dockerfile, text).unwrap();
    let targets: Vec<String> = references.iter().map(target).collect();
    assert_eq!(targets, ["ignored", "ignored"]);
}

#[test]
fn real_world_official_python() {
    assert_references(
        "real-world/official-python.Dockerfile",
        &[(
            "debian:bookworm-slim",
            "from",
            "docker.io/library/debian:bookworm-slim",
        )],
    );
}

#[test]
fn real_world_monorepo_multistage() {
    assert_references(
        "real-world/monorepo-multistage.Dockerfile",
        &[
            (
                "docker/dockerfile:1.7-labs",
                "syntax",
                "docker.io/docker/dockerfile:1.7-labs",
            ),
            (
                "node:20.11-bookworm-slim",
                "arg-default",
                "docker.io/library/node:20.11-bookworm-slim",
            ),
            (
                "gcr.io/distroless/static-debian12:nonroot",
                "arg-default",
                "gcr.io/distroless/static-debian12:nonroot",
            ),
            ("web-deps", "from", "stage"),
            ("golang:${GO_VERSION}-alpine", "from", "templated"),
            (
                "ghcr.io/acme/protoc:25.1",
                "run-mount-from",
                "ghcr.io/acme/protoc:25.1",
            ),
            ("web-build", "copy-from", "stage"),
            ("go-build", "copy-from", "stage"),
            (
                "docker.io/tianon/true:latest",
                "copy-from",
                "docker.io/tianon/true:latest",
            ),
        ],
    );
}

#[test]
fn real_world_windows_backtick() {
    assert_references(
        "real-world/windows-backtick.Dockerfile",
        &[
            (
                "mcr.microsoft.com/dotnet/sdk:8.0-windowsservercore-ltsc2022",
                "from",
                "mcr.microsoft.com/dotnet/sdk:8.0-windowsservercore-ltsc2022",
            ),
            (
                "mcr.microsoft.com/dotnet/aspnet:8.0-windowsservercore-ltsc2022",
                "from",
                "mcr.microsoft.com/dotnet/aspnet:8.0-windowsservercore-ltsc2022",
            ),
            ("build", "copy-from", "stage"),
        ],
    );
}

#[test]
fn real_world_crlf_node() {
    assert!(read("real-world/crlf-node.Dockerfile").contains("\r\n"));
    let node = "docker.io/library/node:20-alpine";
    assert_references(
        "real-world/crlf-node.Dockerfile",
        &[
            ("node:20-alpine", "from", node),
            ("node:20-alpine", "from", node),
            ("deps", "copy-from", "stage"),
        ],
    );
}

#[test]
fn real_world_bom_go() {
    let text = read("real-world/bom-go.Dockerfile");
    assert!(text.starts_with('\u{feff}') && !text.ends_with('\n'));
    assert_references(
        "real-world/bom-go.Dockerfile",
        &[
            (
                "golang:1.22-alpine",
                "from",
                "docker.io/library/golang:1.22-alpine",
            ),
            (
                "gcr.io/distroless/static:nonroot",
                "from",
                "gcr.io/distroless/static:nonroot",
            ),
            ("build", "copy-from", "stage"),
        ],
    );
}

/// Every file under `testdata/dockerfile`, as (name, text).
fn all_testdata() -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut folders = vec![testdata("")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path.display().to_string(), text));
            }
        }
    }
    files.sort();
    files
}

/// Extraction never panics, and every span lies in the text on character boundaries
/// without overlapping another.
fn assert_sound(text: &str) {
    let Ok(references) = extract(FileKind::Dockerfile, text) else {
        return;
    };
    let mut previous_end = 0;
    for reference in &references {
        let span = reference.span;
        assert!(span.start <= span.end && span.end <= text.len(), "{text:?}");
        assert!(
            text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
            "{text:?}"
        );
        assert!(span.start >= previous_end, "overlapping spans in {text:?}");
        previous_end = span.end;
        if let Target::Image(image) = &reference.target {
            assert_eq!(image.to_string(), span.of(text), "{text:?}");
        }
    }
}

#[test]
fn never_panics_on_truncated_or_spliced_input() {
    let files = all_testdata();
    assert!(files.len() >= 30, "testdata went missing: {}", files.len());
    let splices = [
        "\\",
        "\\\n",
        "`\n",
        "\n",
        "\r\n",
        "<<EOF\n",
        "<<-'X' ",
        "${",
        "}",
        "$",
        "\"",
        "'",
        "é",
        "\u{feff}",
        "# escape=`\n",
        "# syntax=x\n",
        "--from=",
        "--mount=from=",
        ",from=",
        "FROM ",
        "ARG A=",
        "ONBUILD ",
        "=",
        "\t",
        "#",
    ];
    // A small linear congruential generator: the runs are the same every time.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |bound: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % bound.max(1)
    };
    for (_, text) in &files {
        for (end, _) in text.char_indices().chain([(text.len(), ' ')]) {
            assert_sound(&text[..end]);
            assert_sound(&text[end..]);
        }
        for _ in 0..300 {
            let mut mutated = text.clone();
            for _ in 0..1 + next(3) {
                let mut at = next(mutated.len() + 1);
                while !mutated.is_char_boundary(at) {
                    at -= 1;
                }
                if next(4) == 0 {
                    let mut end = (at + 1 + next(8)).min(mutated.len());
                    while !mutated.is_char_boundary(end) {
                        end -= 1;
                    }
                    mutated.replace_range(at..end, "");
                } else {
                    mutated.insert_str(at, splices[next(splices.len())]);
                }
            }
            assert_sound(&mutated);
        }
    }
    for text in [
        "",
        "\u{feff}",
        "\\",
        "`",
        "# escape=`",
        "FROM",
        "FROM ${",
        "RUN <<",
        "ARG =x",
    ] {
        assert_sound(text);
    }
}

#[test]
fn large_file_is_read_in_linear_time() {
    let mut text = String::from("ARG BASE=python:3.12\n");
    for i in 0..5000 {
        text.push_str(&format!(
            "FROM $BASE AS s{i}\nCOPY --from=s{} /a /b\n",
            i / 2
        ));
    }
    // Speed is measured by benchmarks, not here: this checks the result of a large file.
    let references = extract(FileKind::Dockerfile, &text).unwrap();
    // One arg-default, then one stage per COPY.
    assert_eq!(references.len(), 1 + 5000);
}

#[test]
fn directive_syntax_after_shebang() {
    // The frontend still finds `# syntax=` below a `#!` line, and only the first
    // word is the image; the parser itself ends directives at the `#!` line, so the
    // `# escape=` is a comment and `\` still continues lines.
    assert_references(
        "directive-syntax-after-shebang.Dockerfile",
        &[
            (
                "docker/dockerfile:1.7",
                "syntax",
                "docker.io/docker/dockerfile:1.7",
            ),
            ("alpine:3.20", "from", ALPINE),
        ],
    );
}
