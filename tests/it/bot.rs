//! The update bot end to end: `scripts/update-pr.sh` (what `examples/github/pin-update.yml`
//! and the action's `update` mode run) in a temporary git repository with a bare
//! remote, a real registry where "upstream" republishes a tag, and a stand-in `gh` on
//! PATH that records how it was called.

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{ImageKind, Registry, pin_cmd};

/// The repository's root (the test's current folder is the package root).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// git with no system or global configuration, so that the test sees what a fresh CI
/// runner sees.
fn git_cmd(dir: &Path, home: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    cmd
}

fn git(dir: &Path, home: &Path, args: &[&str]) -> String {
    let output = git_cmd(dir, home)
        .args([
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.invalid",
        ])
        .args(args)
        .output()
        .expect("git is installed (scripts/install-deps.sh)");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        text(&output.stderr)
    );
    text(&output.stdout).trim().to_string()
}

/// A stand-in for GitHub's `gh`: it appends each call (one argument a line, after a
/// `--` line) to `calls`, keeps a copy of every `--body-file`, answers `pr list` with
/// the number of the open pull request, and `pr create` opens pull request 7.
const GH: &str = r#"#!/bin/sh
state="$GH_STATE"
echo -- >>"$state/calls"
n=$(ls "$state" | grep -c '^body-' || true)
prev=""
for arg in "$@"; do
  printf '%s\n' "$arg" >>"$state/calls"
  if [ "$prev" = --body-file ]; then cp "$arg" "$state/body-$n"; fi
  prev="$arg"
done
case "$1 $2" in
  "pr list") cat "$state/open" 2>/dev/null || true ;;
  "pr create") echo 7 >"$state/open"; echo "https://github.example/o/r/pull/7" ;;
  "pr edit") echo "https://github.example/o/r/pull/7" ;;
  *) echo "gh stand-in: unexpected call: $*" >&2; exit 1 ;;
esac
"#;

/// What runs the bot's shell: the script itself, the action's `update` step
/// (`action.yml`), or the example workflow's step (`examples/github/pin-update.yml`),
/// each with the environment GitHub gives it.
#[derive(Debug, Clone, Copy)]
enum Driver {
    Script,
    Action,
    ExampleWorkflow,
}

/// The `run:` text of the step of `file` whose `key` is `value`, read with PyYAML
/// (which pre-commit brings along).
fn step_script(file: &str, key: &str, value: &str) -> String {
    let program = r#"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
steps = doc["runs"]["steps"] if "runs" in doc else [s for j in doc["jobs"].values() for s in j["steps"]]
found = [s["run"] for s in steps if s.get(sys.argv[2]) == sys.argv[3]]
if len(found) != 1:
    sys.exit("expected one step with %s=%s, found %d" % (sys.argv[2], sys.argv[3], len(found)))
sys.stdout.write(found[0])
"#;
    let output = Command::new("python3")
        .args(["-c", program])
        .arg(root().join(file))
        .args([key, value])
        .output()
        .expect("python3 is installed (scripts/install-deps.sh)");
    assert!(output.status.success(), "{file}: {}", text(&output.stderr));
    text(&output.stdout)
}

struct Bot {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    remote: PathBuf,
    work: PathBuf,
    state: PathBuf,
    bin: PathBuf,
}

impl Bot {
    /// A repository with `files` committed on `main` and pushed to a bare remote.
    /// A repository with `files` and a pin.toml that resolves Docker Hub through
    /// `registry`, committed on `main` and pushed to a bare remote.
    fn new(registry: &Registry, files: &[(&str, String)]) -> Bot {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let remote = tmp.path().join("remote.git");
        // As the example workflow checks out: the repository in repo/, pin in pin-src/.
        let work = tmp.path().join("repo");
        std::os::unix::fs::symlink(root(), tmp.path().join("pin-src")).unwrap();
        let state = tmp.path().join("gh");
        let bin = tmp.path().join("bin");
        for dir in [&home, &work, &state, &bin] {
            fs::create_dir_all(dir).unwrap();
        }
        let gh = bin.join("gh");
        fs::write(&gh, GH).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&gh, fs::Permissions::from_mode(0o755)).unwrap();
        // pin on PATH, as the action and the example workflow install it.
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pin"), bin.join("pin")).unwrap();
        let settings = format!(
            "insecure-registries = [\"{host}\"]\n[mirrors]\n\"docker.io\" = \"{host}\"\n",
            host = registry.host()
        );
        let files = files
            .iter()
            .cloned()
            .chain(std::iter::once(("pin.toml", settings)));

        git(
            tmp.path(),
            &home,
            &["init", "-q", "--bare", "-b", "main", "remote.git"],
        );
        git(&work, &home, &["init", "-q", "-b", "main"]);
        for (path, content) in files {
            let path = work.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        git(&work, &home, &["add", "-A"]);
        git(&work, &home, &["commit", "-q", "-m", "Images"]);
        git(
            &work,
            &home,
            &["remote", "add", "origin", remote.to_str().unwrap()],
        );
        git(&work, &home, &["push", "-q", "origin", "main"]);
        Bot {
            _tmp: tmp,
            home,
            remote,
            work,
            state,
            bin,
        }
    }

    /// Runs the bot at the top of the checkout, as `driver` does on GitHub.
    fn run(&self, driver: Driver) -> Output {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let outputs = self.state.join("github-output");
        let _ = fs::remove_file(&outputs);
        let mut cmd = match driver {
            Driver::Script => Command::new(root().join("scripts/update-pr.sh")),
            Driver::Action => {
                let mut cmd = Command::new("bash");
                // GitHub runs a step's `shell: bash` as `bash --noprofile --norc -eo pipefail`.
                cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
                    .arg(step_script("action.yml", "id", "update"))
                    .env("GITHUB_ACTION_PATH", root())
                    .env("PIN_PATHS", ".")
                    .env("PIN_CONFIG", "")
                    .env("PIN_OPEN_PR", "true");
                cmd
            }
            Driver::ExampleWorkflow => {
                let mut cmd = Command::new("bash");
                cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
                    .arg(step_script(
                        "examples/github/pin-update.yml",
                        "name",
                        "Open or update the pull request",
                    ));
                cmd
            }
        };
        let output = cmd
            .current_dir(&self.work)
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("DOCKER_CONFIG", self.home.join(".docker"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GH_STATE", &self.state)
            .env("GH_TOKEN", "a-token-for-gh")
            .env("GITHUB_OUTPUT", &outputs)
            .env("NO_COLOR", "1")
            .env_remove("PIN")
            .output()
            .expect("run the bot");
        assert!(
            output.status.success(),
            "the bot ({driver:?}) failed:\n{}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        output
    }

    /// What the last run wrote to `$GITHUB_OUTPUT`.
    fn github_output(&self) -> String {
        fs::read_to_string(self.state.join("github-output")).unwrap_or_default()
    }

    /// The calls of `gh` so far, each as its arguments.
    fn gh_calls(&self) -> Vec<Vec<String>> {
        let calls = fs::read_to_string(self.state.join("calls")).unwrap_or_default();
        calls
            .split("--\n")
            .filter(|c| !c.is_empty())
            .map(|c| c.lines().map(str::to_string).collect())
            .collect()
    }

    fn body(&self, n: usize) -> String {
        fs::read_to_string(self.state.join(format!("body-{n}"))).unwrap()
    }

    /// The remote branch's commit, if it exists.
    fn remote_branch(&self) -> Option<String> {
        let output = git_cmd(&self.remote, &self.home)
            .args([
                "rev-parse",
                "--verify",
                "-q",
                "refs/heads/pin/update-digests",
            ])
            .output()
            .unwrap();
        output
            .status
            .success()
            .then(|| text(&output.stdout).trim().to_string())
    }

    fn remote_file(&self, path: &str) -> String {
        git(
            &self.remote,
            &self.home,
            &["show", &format!("refs/heads/pin/update-digests:{path}")],
        )
    }

    /// The patch pin prints for this checkout now: its table is what the pull request
    /// must say.
    fn patch_table(&self) -> String {
        let output = pin_cmd()
            .current_dir(&self.work)
            .args(["--update", "--format", "patch"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        let patch = text(&output.stdout);
        let body = patch
            .split_once("\n\n")
            .expect("headers end with a blank line")
            .1;
        body.split_once("\n---\n")
            .expect("the body ends at ---")
            .0
            .trim()
            .to_string()
    }
}

fn calls_named<'a>(calls: &'a [Vec<String>], verb: &str) -> Vec<&'a Vec<String>> {
    calls
        .iter()
        .filter(|c| c.len() > 1 && c[0] == "pr" && c[1] == verb)
        .collect()
}

#[test]
fn bot_opens_one_pull_request_does_nothing_when_nothing_moved_and_updates_it_when_a_tag_moves() {
    let registry = Registry::start();
    let python_v0 = registry.push_image("library/python", "3.12", ImageKind::Oci);
    let redis = registry.push_image("library/redis", "7", ImageKind::Oci);
    let bot = Bot::new(
        &registry,
        &[
            (
                "Dockerfile",
                format!("FROM python:3.12@{}\nRUN true\n", python_v0.digest),
            ),
            (
                "deploy/compose.yaml",
                format!("services:\n  cache:\n    image: redis:7@{}\n", redis.digest),
            ),
        ],
    );
    let main_before = git(&bot.work, &bot.home, &["rev-parse", "main"]);

    // Upstream republishes python:3.12.
    let python_v1 = registry.push_image("library/python", "3.12", ImageKind::Oci);
    let table = bot.patch_table();
    assert!(table.contains("| Image | Tag | Old digest | New digest | Signed by | Files |"));
    let first = bot.run(Driver::Action);
    assert!(bot.github_output().contains("changed=true"));

    let pushed = bot
        .remote_branch()
        .expect("the branch pin/update-digests is pushed");
    assert_eq!(
        bot.remote_file("Dockerfile"),
        format!("FROM python:3.12@{}\nRUN true", python_v1.digest),
        "{}",
        text(&first.stderr)
    );
    assert_eq!(
        bot.remote_file("deploy/compose.yaml"),
        format!("services:\n  cache:\n    image: redis:7@{}", redis.digest)
    );
    assert_eq!(
        git(
            &bot.remote,
            &bot.home,
            &["rev-parse", "refs/heads/pin/update-digests^"]
        ),
        main_before,
        "the branch is one commit on top of main"
    );
    assert_eq!(
        git(
            &bot.remote,
            &bot.home,
            &["log", "-1", "--format=%s", "refs/heads/pin/update-digests"]
        ),
        "Update digests of 1 container image"
    );
    let calls = bot.gh_calls();
    let created = calls_named(&calls, "create");
    assert_eq!(created.len(), 1, "one pull request is opened: {calls:?}");
    let create = created[0];
    for expected in [
        "--base",
        "main",
        "--head",
        "pin/update-digests",
        "--title",
        "Update digests of 1 container image",
    ] {
        assert!(create.contains(&expected.to_string()), "{create:?}");
    }
    assert_eq!(
        bot.body(0).trim(),
        table,
        "the description is the patch's table"
    );
    // The checkout is back on main, as it was.
    assert_eq!(
        git(&bot.work, &bot.home, &["rev-parse", "HEAD"]),
        main_before
    );
    assert_eq!(git(&bot.work, &bot.home, &["status", "--porcelain"]), "");

    // Nothing moved since: no push, no new or edited pull request.
    let second = bot.run(Driver::ExampleWorkflow);
    assert_eq!(bot.remote_branch().as_deref(), Some(pushed.as_str()));
    let calls = bot.gh_calls();
    assert_eq!(calls_named(&calls, "create").len(), 1, "{calls:?}");
    assert_eq!(calls_named(&calls, "edit").len(), 0, "{calls:?}");
    assert!(
        text(&second.stdout).contains("already proposes this change"),
        "{}",
        text(&second.stdout)
    );

    // Upstream moves the tag again: the same pull request is updated.
    let python_v2 = registry.push_image("library/python", "3.12", ImageKind::Oci);
    let table = bot.patch_table();
    bot.run(Driver::Script);
    let repushed = bot.remote_branch().unwrap();
    assert_ne!(repushed, pushed, "the branch is pushed again");
    assert_eq!(
        bot.remote_file("Dockerfile"),
        format!("FROM python:3.12@{}\nRUN true", python_v2.digest)
    );
    let calls = bot.gh_calls();
    assert_eq!(
        calls_named(&calls, "create").len(),
        1,
        "still one pull request"
    );
    let edited = calls_named(&calls, "edit");
    assert_eq!(edited.len(), 1, "{calls:?}");
    assert_eq!(
        edited[0][2], "7",
        "the open pull request is edited: {calls:?}"
    );
    assert_eq!(bot.body(1).trim(), table);
    let short_v2 = &python_v2.digest["sha256:".len().."sha256:".len() + 12];
    assert!(table.contains(short_v2), "{table}");

    // The pull request is merged: nothing moved, nothing is done, gh is not even asked.
    git(&bot.work, &bot.home, &["fetch", "-q", "origin"]);
    git(
        &bot.work,
        &bot.home,
        &["merge", "-q", "--ff-only", "origin/pin/update-digests"],
    );
    git(&bot.work, &bot.home, &["push", "-q", "origin", "main"]);
    let calls_before = bot.gh_calls().len();
    let last = bot.run(Driver::Action);
    assert!(text(&last.stdout).contains("nothing to do"));
    assert!(bot.github_output().contains("changed=false"));
    assert_eq!(bot.gh_calls().len(), calls_before);
    assert_eq!(bot.remote_branch().as_deref(), Some(repushed.as_str()));
}

#[test]
fn the_example_workflow_and_the_action_run_the_same_script() {
    for file in ["examples/github/pin-update.yml", "action.yml"] {
        let text = fs::read_to_string(root().join(file)).unwrap();
        assert!(
            text.contains("scripts/update-pr.sh"),
            "{file} must run scripts/update-pr.sh"
        );
        assert!(
            !text.contains("git commit"),
            "{file} must leave committing to the script"
        );
    }
}

/// A copy of this checkout (tracked and new files, as `git ls-files` lists them) as a
/// one-commit repository: what pre-commit clones as the hook repository. Returns the
/// commit.
fn snapshot_of_this_checkout(into: &Path, home: &Path) -> String {
    let listed = Command::new("git")
        .current_dir(root())
        .args(["ls-files", "-z", "-co", "--exclude-standard"])
        .output()
        .expect("git ls-files");
    assert!(listed.status.success());
    for name in listed.stdout.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = std::str::from_utf8(name).unwrap();
        let from = root().join(name);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = into.join(name);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&from, &to).unwrap();
    }
    git(into, home, &["init", "-q", "-b", "main"]);
    git(into, home, &["add", "-A"]);
    git(into, home, &["commit", "-q", "-m", "pin"]);
    git(into, home, &["rev-parse", "HEAD"])
}

#[test]
fn pre_commit_hooks_block_an_unpinned_image_and_pass_a_pinned_one() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let hooks = tmp.path().join("pin-hooks");
    let project = tmp.path().join("project");
    let bin = tmp.path().join("bin");
    for dir in [&home, &hooks, &project, &bin] {
        fs::create_dir_all(dir).unwrap();
    }
    let rev = snapshot_of_this_checkout(&hooks, &home);
    // The system hook finds pin on PATH.
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pin"), bin.join("pin")).unwrap();

    fs::write(
        project.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: pin-check\n      - id: pin-check-system\n",
            hooks.display()
        ),
    )
    .unwrap();
    git(&project, &home, &["init", "-q", "-b", "main"]);
    git(&project, &home, &["add", ".pre-commit-config.yaml"]);
    git(
        &project,
        &home,
        &["commit", "-q", "--no-verify", "-m", "pre-commit"],
    );

    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // pre-commit's own environment: its cache in the temporary folder; cargo's
    // registry cache as the machine has it (the build is offline). The build hook's
    // binary goes to a target folder kept between test runs, with the release profile
    // made cheap: the test is about the hook's wiring (a locked build, once), not the
    // optimiser.
    let pre_commit = |args: &[&str]| {
        let mut cmd = git_cmd(&project, &home);
        cmd.env("PATH", &path)
            .env("PRE_COMMIT_HOME", tmp.path().join("pre-commit-cache"))
            .env(
                "CARGO_HOME",
                std::env::var_os("CARGO_HOME").unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap())
                        .join(".cargo")
                        .into()
                }),
            )
            .env("RUSTUP_HOME", rustup_home())
            .env("CARGO_TARGET_DIR", root().join("target/pre-commit-hook"))
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("NO_COLOR", "1")
            .args(args);
        cmd.output().expect("run git")
    };
    let installed = Command::new("python3")
        .current_dir(&project)
        .env("HOME", &home)
        .env("PRE_COMMIT_HOME", tmp.path().join("pre-commit-cache"))
        .args(["-m", "pre_commit", "install"])
        .output()
        .expect("python3 is installed (scripts/install-deps.sh)");
    assert!(
        installed.status.success(),
        "pre-commit is installed (scripts/install-deps.sh installs it from PyPI): {}",
        text(&installed.stderr)
    );

    // An unpinned image: both hooks fail the commit, and nothing is committed.
    fs::write(project.join("Dockerfile"), "FROM python:3.12\n").unwrap();
    git(&project, &home, &["add", "Dockerfile"]);
    let started = std::time::Instant::now();
    let refused = pre_commit(&[
        "-c",
        "user.name=Dev",
        "-c",
        "user.email=dev@example.invalid",
        "commit",
        "-q",
        "-m",
        "unpinned",
    ]);
    let first = started.elapsed();
    let said = format!("{}{}", text(&refused.stdout), text(&refused.stderr));
    assert!(
        !refused.status.success(),
        "the commit must be refused:\n{said}"
    );
    assert!(
        said.contains("pin --check (pin built from Cargo.lock)")
            && said.contains("pin --check (pin on PATH)"),
        "{said}"
    );
    assert_eq!(
        said.matches("Failed").count(),
        2,
        "both hooks fail:\n{said}"
    );
    assert!(said.contains("python:3.12"), "{said}");
    assert_eq!(git(&project, &home, &["rev-list", "--count", "HEAD"]), "1");

    // Pinned: both hooks pass, the commit is made, and pin is not built again.
    fs::write(
        project.join("Dockerfile"),
        format!("FROM python:3.12@sha256:{}\n", "ab".repeat(32)),
    )
    .unwrap();
    git(&project, &home, &["add", "Dockerfile"]);
    let started = std::time::Instant::now();
    let accepted = pre_commit(&[
        "-c",
        "user.name=Dev",
        "-c",
        "user.email=dev@example.invalid",
        "commit",
        "-q",
        "-m",
        "pinned",
    ]);
    let second = started.elapsed();
    let said = format!("{}{}", text(&accepted.stdout), text(&accepted.stderr));
    assert!(accepted.status.success(), "{said}");
    assert_eq!(said.matches("Passed").count(), 2, "{said}");
    assert!(!said.contains("building pin"), "built once only:\n{said}");
    assert_eq!(git(&project, &home, &["rev-list", "--count", "HEAD"]), "2");
    eprintln!("pre-commit: first commit (with the build) {first:?}, second {second:?}");
}

/// rustup's home as the machine has it, so that cargo finds its toolchain under a
/// changed HOME.
fn rustup_home() -> std::ffi::OsString {
    std::env::var_os("RUSTUP_HOME").unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".rustup")
            .into()
    })
}

/// A folder served over HTTP on 127.0.0.1 (Python's http.server), stopped on drop.
struct Served {
    child: std::process::Child,
    url: String,
}

impl Served {
    fn start(dir: &Path) -> Served {
        let port = support::registry::free_port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 is installed (scripts/install-deps.sh)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "http.server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Served {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_action_installs_a_release_only_when_its_sha256_matches_sha256sums() {
    let tmp = tempfile::tempdir().unwrap();
    let releases = tmp.path().join("releases");
    let version = releases.join("v0.1.0");
    let staging = tmp.path().join("staging");
    fs::create_dir_all(&version).unwrap();
    fs::create_dir_all(&staging).unwrap();
    let target = match std::env::consts::ARCH {
        "aarch64" => "aarch64-unknown-linux-musl",
        _ => "x86_64-unknown-linux-musl",
    };
    let archive = format!("pin-{target}.tar.gz");
    fs::copy(env!("CARGO_BIN_EXE_pin"), staging.join("pin")).unwrap();
    let packed = Command::new("tar")
        .arg("-czf")
        .arg(version.join(&archive))
        .arg("-C")
        .arg(&staging)
        .arg("pin")
        .status()
        .unwrap();
    assert!(packed.success());
    let digest = sha256_hex(&fs::read(version.join(&archive)).unwrap());
    let served = Served::start(&releases);

    let install = |sums: &str, into: &Path| {
        fs::write(version.join("SHA256SUMS"), sums).unwrap();
        Command::new(root().join("scripts/install-release.sh"))
            .args(["owner/pin", "v0.1.0"])
            .arg(into)
            .env("PIN_RELEASES_URL", &served.url)
            .env_remove("GH_TOKEN")
            .output()
            .unwrap()
    };

    // The right checksum (among others'): installed, and it runs.
    let good = tmp.path().join("good");
    let output = install(
        &format!("{} pin-other.tar.gz\n{digest}  {archive}\n", "0".repeat(64)),
        &good,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains(&format!("pin {}", env!("CARGO_PKG_VERSION"))));
    assert!(good.join("pin").is_file());

    // A wrong checksum: refused, nothing installed.
    let tampered = tmp.path().join("tampered");
    let output = install(&format!("{}  {archive}\n", "1".repeat(64)), &tampered);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("SHA256SUMS says"),
        "{}",
        text(&output.stderr)
    );
    assert!(!tampered.join("pin").exists());

    // Not listed at all: refused as well.
    let unlisted = tmp.path().join("unlisted");
    let output = install(&format!("{digest}  pin-other.tar.gz\n"), &unlisted);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("is not listed"),
        "{}",
        text(&output.stderr)
    );
    assert!(!unlisted.join("pin").exists());
}

#[test]
fn the_actions_check_step_fails_on_an_unpinned_image_and_passes_a_pinned_one() {
    let script = step_script("action.yml", "name", "pin --check");
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pin"), bin.join("pin")).unwrap();
    let run = |dockerfile: &str| {
        fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
        Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
            .current_dir(dir.path())
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("PIN_PATHS", "Dockerfile")
            .env("PIN_CONFIG", "")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let unpinned = run("FROM python:3.12\n");
    assert_eq!(
        unpinned.status.code(),
        Some(1),
        "{}",
        text(&unpinned.stderr)
    );
    let pinned = run(&format!("FROM python:3.12@sha256:{}\n", "ab".repeat(32)));
    assert_eq!(pinned.status.code(), Some(0), "{}", text(&pinned.stderr));
}
