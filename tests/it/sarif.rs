//! SARIF 2.1.0 (`--format sarif`, rendered by `pin::report::sarif`): one result per
//! unpinned, stale or violating reference, with file, line, column and a rule id per
//! reason, and the whole log valid against the official SARIF 2.1.0 JSON schema
//! (`testdata/sarif/sarif-schema-2.1.0.json`, validated with Python's `jsonschema`).

use crate::support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pin::discover::{Excludes, discover};
use pin::outcome::Outcome;
use pin::pipeline::{self, Mode, Options};
use pin::policy::Policy;
use pin::report::sarif;
use pin_registry::{Lookup, Mirror, RegistryConfig, RegistryResolver, StaticResolver};
use serde_json::Value;
use support::{ImageKind, Registry, runtime};

const OTHER_DIGEST: &str =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// Runs the pipeline over `dir` as `pin` run inside `dir` would, and renders SARIF.
fn run(dir: &Path, options: &Options, resolver: Option<&RegistryResolver>) -> (Outcome, Value) {
    let discovery = discover(&[dir.to_path_buf()], &Excludes::new(&[]).unwrap());
    assert!(discovery.errors.is_empty(), "{:?}", discovery.errors);
    let mut outcome = runtime().block_on(pipeline::run(
        &discovery.files,
        options,
        resolver,
        |_| {},
        |_| {},
    ));
    // Paths as the user sees them when pin runs in `dir`.
    for file in &mut outcome.files {
        let relative = file.source.path.strip_prefix(dir).unwrap().to_path_buf();
        file.source.path = relative;
    }
    let text = sarif::render(&outcome);
    validate(&text);
    (outcome, serde_json::from_str(&text).unwrap())
}

/// Validates a log against the official schema; fails with the validator's message.
fn validate(log: &str) {
    let schema =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/sarif/sarif-schema-2.1.0.json");
    let script = r#"
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit("python3's jsonschema is missing: run scripts/install-deps.sh")
schema = json.load(open(sys.argv[1]))
log = json.load(sys.stdin)
validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
for error in errors:
    print("/".join(map(str, error.path)), error.message)
sys.exit(1 if errors else 0)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(&schema)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is installed (scripts/install-deps.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(log.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the SARIF log is not valid SARIF 2.1.0:\n{}{}\n{log}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn results(log: &Value) -> &Vec<Value> {
    log["runs"][0]["results"].as_array().unwrap()
}

/// `(uri, line, column, rule id)` of every result.
fn locations(log: &Value) -> Vec<(String, u64, u64, String)> {
    results(log)
        .iter()
        .map(|r| {
            let location = &r["locations"][0]["physicalLocation"];
            (
                location["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                location["region"]["startLine"].as_u64().unwrap(),
                location["region"]["startColumn"].as_u64().unwrap(),
                r["ruleId"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn check_gives_one_result_per_unpinned_or_violating_reference_with_a_rule_each() {
    let dir = tempfile::tempdir().unwrap();
    let pinned = format!("python:3.12@{OTHER_DIGEST}");
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM python:3.12 AS app\nFROM {pinned}\nFROM ghcr.io/acme/tool:1\nFROM node@{OTHER_DIGEST}\nFROM app AS x\n"
        ),
    );
    // A folder with a space and a non-ASCII name: URIs percent-encode them.
    write(
        dir.path(),
        "my app/compose.yaml",
        "services:\n  web:\n    image: \"redis:latest\"\n  db:\n    image: postgres:16\n",
    );
    write(dir.path(), "é.Dockerfile", "# é\n  FROM   alpine:3.20\n");
    let mut options = Options::new(Mode::Check);
    options.policy = Policy::new(
        &["docker.io/*".to_string()],
        &["latest".to_string()],
        true,
        true,
    )
    .unwrap();
    let (outcome, log) = run(dir.path(), &options, None);

    assert_eq!(
        locations(&log),
        vec![
            ("Dockerfile".into(), 1, 6, "unpinned".into()),
            (
                "Dockerfile".into(),
                3,
                6,
                "policy/allowed-registries".into()
            ),
            ("Dockerfile".into(), 4, 6, "policy/require-tag".into()),
            (
                "my%20app/compose.yaml".into(),
                3,
                13,
                "policy/deny-tags".into()
            ),
            ("my%20app/compose.yaml".into(), 5, 12, "unpinned".into()),
            ("%C3%A9.Dockerfile".into(), 2, 10, "unpinned".into()),
        ]
    );
    // Exactly the references that make --check fail are results.
    assert_eq!(results(&log).len(), outcome.failing);

    let first = &results(&log)[0];
    let region = &first["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["endColumn"], 6 + "python:3.12".len() as u64);
    assert_eq!(region["snippet"]["text"], "python:3.12");
    assert!(
        first["message"]["text"]
            .as_str()
            .unwrap()
            .contains("pin --write")
    );

    // Every result's rule is described, and ruleIndex points at it.
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for result in results(&log) {
        let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], result["ruleId"]);
        assert!(!rule["help"]["text"].as_str().unwrap().is_empty());
    }
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "pin");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    match sarif::information_uri() {
        Some(uri) => assert_eq!(driver["informationUri"], uri),
        None => assert!(driver.get("informationUri").is_none()),
    }
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    assert_eq!(log["version"], "2.1.0");
}

#[test]
fn check_update_reports_a_stale_digest_and_a_vanished_tag() {
    let registry = Registry::start();
    let old = registry.push_image("library/python", "3.12", ImageKind::Oci);
    let new = registry.push_image("library/python", "3.12", ImageKind::Oci);
    let current = registry.push_image("library/redis", "7", ImageKind::Oci);
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM python:3.12@{}\nFROM redis:7@{}\nFROM busybox:gone@{OTHER_DIGEST}\n",
            old.digest, current.digest
        ),
    );
    let resolver = RegistryResolver::new(RegistryConfig {
        mirrors: vec![
            format!("docker.io={}", registry.host())
                .parse::<Mirror>()
                .unwrap(),
        ],
        insecure: vec![registry.host().to_string()],
        ..RegistryConfig::default()
    })
    .unwrap();
    let mut options = Options::new(Mode::Check);
    options.update = true;
    let (outcome, log) = run(dir.path(), &options, Some(&resolver));

    assert_eq!(
        locations(&log),
        vec![
            ("Dockerfile".into(), 1, 6, "stale-digest".into()),
            ("Dockerfile".into(), 3, 6, "tag-not-found".into()),
        ]
    );
    assert_eq!(results(&log).len(), outcome.failing);
    let stale = results(&log)[0]["message"]["text"].as_str().unwrap();
    assert!(
        stale.contains(&new.digest) && stale.contains(&old.digest),
        "{stale}"
    );
}

#[test]
fn a_dry_run_reports_what_it_would_pin_and_a_write_reports_nothing_left() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM python:3.12\n");
    let image = pin::reference::ImageRef::parse("python:3.12").unwrap();
    let resolver = StaticResolver {
        digests: BTreeMap::from([(
            Lookup::of(&image),
            pin::reference::Digest::parse(OTHER_DIGEST).unwrap(),
        )]),
    };
    let discovery = discover(&[dir.path().to_path_buf()], &Excludes::new(&[]).unwrap());
    for (mode, expected) in [(Mode::DryRun, 1), (Mode::Write, 0)] {
        let outcome = runtime().block_on(pipeline::run(
            &discovery.files,
            &Options::new(mode),
            Some(&resolver),
            |_| {},
            |_| {},
        ));
        let text = sarif::render(&outcome);
        validate(&text);
        let log: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(results(&log).len(), expected, "{mode:?}: {text}");
    }
}

#[test]
fn files_that_cannot_be_read_are_notifications_and_the_log_stays_valid() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM python:3.12\n");
    fs::write(dir.path().join("bad.Dockerfile"), b"FROM \xff\xfe\n").unwrap();
    let (outcome, log) = run(dir.path(), &Options::new(Mode::Check), None);
    assert_eq!(outcome.errors.len(), 1, "{:?}", outcome.errors);
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["level"], "error");
    assert_eq!(results(&log).len(), 1);
}

/// Trust violations are results with a rule each (`trust/<reason>`), run through the
/// `pin` binary against a real registry, and the log stays valid.
#[test]
fn trust_violations_are_results_with_a_rule_each() {
    use crate::trust::{acme_rule, key, pin, sign_v2};
    use pin_sigstore::signing::SigningKey;
    let registry = Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let acme = key(dir.path(), "acme");
    let mallory = SigningKey::generate().unwrap();
    let source = "https://github.com/acme/app";
    registry.push_image("acme/unsigned", "1", ImageKind::Oci);
    let foreign = registry.push_image("acme/foreign", "1", ImageKind::Oci);
    sign_v2(&registry, "acme/foreign", &foreign.digest, &mallory);
    let lost = registry.push_image("acme/lost", "1", ImageKind::Oci);
    sign_v2(&registry, "acme/lost", &lost.digest, &acme);
    let newer = registry.push_image_built("acme/old", "1", "2024-06-01T00:00:00Z", None);
    sign_v2(&registry, "acme/old", &newer.digest, &acme);
    let base = registry.push_image_built("library/base", "1", "2024-06-01T00:00:00Z", Some(source));
    fs::write(
        dir.path().join("pin.toml"),
        format!(
            "{}\n[[trust]]\nimages = [\"{host}/library/*\"]\ncontinuity = \"source\"\n",
            acme_rule(host)
        ),
    )
    .unwrap();
    let sarif_of = |text: &str, args: &[&str]| {
        write(dir.path(), "Dockerfile", text);
        let output = pin(
            dir.path(),
            host,
            &[args, &["--format", "sarif", "."]].concat(),
        );
        let log = String::from_utf8(output.stdout).unwrap();
        validate(&log);
        let log: Value = serde_json::from_str(&log).unwrap();
        let rules: Vec<String> = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        for result in results(&log) {
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index], result["ruleId"].as_str().unwrap());
        }
        (output.status.code(), log)
    };

    // Pinning: no signature, and a signature by another key.
    let (code, log) = sarif_of(
        &format!("FROM {host}/acme/unsigned:1\nFROM {host}/acme/foreign:1\n"),
        &[],
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        locations(&log),
        vec![
            ("Dockerfile".into(), 1, 6, "trust/unsigned".into()),
            ("Dockerfile".into(), 2, 6, "trust/untrusted-signer".into()),
        ]
    );
    let message = results(&log)[1]["message"]["text"].as_str().unwrap();
    assert!(
        message.contains("signed by no signer of the trust rule"),
        "{message}"
    );

    // --check --verify: a pinned digest the registry no longer has.
    let (code, log) = sarif_of(
        &format!("FROM {host}/acme/unsigned:1@{OTHER_DIGEST}\n"),
        &["--check", "--verify"],
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        locations(&log),
        vec![("Dockerfile".into(), 1, 6, "trust/missing".into())]
    );

    // --check --update: a lost signature, a rollback, a new source.
    let pinned = format!(
        "FROM {host}/acme/lost:1@{}\nFROM {host}/acme/old:1@{}\nFROM {host}/library/base:1@{}\n",
        lost.digest, newer.digest, base.digest
    );
    registry.push_image("acme/lost", "1", ImageKind::Oci);
    let older = registry.push_image_built("acme/old", "1", "2023-01-01T00:00:00Z", None);
    sign_v2(&registry, "acme/old", &older.digest, &acme);
    registry.push_image_built(
        "library/base",
        "1",
        "2024-07-01T00:00:00Z",
        Some("https://github.com/mallory/base"),
    );
    let (code, log) = sarif_of(&pinned, &["--check", "--update"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        locations(&log),
        vec![
            ("Dockerfile".into(), 1, 6, "trust/signature-lost".into()),
            ("Dockerfile".into(), 2, 6, "trust/rollback".into()),
            ("Dockerfile".into(), 3, 6, "trust/source-changed".into()),
        ]
    );
}
