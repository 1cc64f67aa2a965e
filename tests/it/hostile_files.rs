//! Hostile input, hostile timing, broken disks: what `pin` does with files it should
//! not trust. Symbolic links, read-only and unreadable files, FIFOs, files changed
//! while `pin` waits for the registry, invalid UTF-8, NUL bytes, huge files, thousands
//! of references, and runs killed half-way through `--write`.
//!
//! Every test runs the real binary in a temporary folder; references are resolved
//! through `--mirror` against a real registry on 127.0.0.1.

use crate::support;

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{ImageKind, Registry, pin_cmd, read, tree};

const OLD: &str = "# a comment kept as it is\nFROM alpine:3.20 AS base\nRUN true\n";

/// A registry holding `alpine:3.20`, and what `OLD` becomes once pinned.
fn registry_with_alpine() -> (Registry, String) {
    let registry = Registry::start();
    let pushed = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let new = OLD.replace("alpine:3.20", &format!("alpine:3.20@{}", pushed.digest));
    (registry, new)
}

/// `pin` in `dir`, with `host` as Docker Hub's mirror.
fn pin_via(dir: &Path, host: &str) -> Command {
    let mut cmd = pin_cmd();
    cmd.current_dir(dir)
        .args(["--mirror", &format!("docker.io={host}")])
        .args(["--insecure-registry", host]);
    cmd
}

/// A folder any user may enter holding the `pin` binary (a hard link, or a copy): the
/// checkout, and so `target/`, may sit in a folder that other users cannot enter (a
/// 0700 `mktemp -d`). Removed when dropped.
fn reachable_binary() -> tempfile::TempDir {
    let folder = tempfile::Builder::new()
        .prefix("pin-binary-")
        .tempdir()
        .expect("create a folder for the binary");
    fs::set_permissions(folder.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let binary = folder.path().join("pin");
    if fs::hard_link(env!("CARGO_BIN_EXE_pin"), &binary).is_err() {
        fs::copy(env!("CARGO_BIN_EXE_pin"), &binary).expect("copy the pin binary");
    }
    folder
}

/// `cmd` (built by [`pin_cmd`] or [`pin_via`]) run as user and group `id`, from the
/// binary in `reachable` (see [`reachable_binary`]).
fn as_user(cmd: &Command, id: u32, reachable: &Path) -> Command {
    use std::os::unix::process::CommandExt;
    let mut other = Command::new(reachable.join("pin"));
    other.args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => other.env(key, value),
            None => other.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        other.current_dir(dir);
    }
    other.uid(id).gid(id);
    other
}

/// Run `cmd`, killing it and failing the test if it takes longer than `limit`: a
/// hostile file must never make `pin` hang.
fn run_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pin");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "pin did not finish within {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&err.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Every `pin` temporary file (`.NAME.*.pin-tmp`) under `dir`.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                folders.push(entry.path());
            } else if entry.file_name().to_string_lossy().ends_with(".pin-tmp") {
                found.push(entry.path());
            }
        }
    }
    found
}

fn is_root() -> bool {
    // The owner of a file we just created is who we run as.
    let probe = tempfile::NamedTempFile::new().unwrap();
    probe.as_file().metadata().unwrap().uid() == 0
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

/// The `file` field of every reference `pin --list --format json` reports.
fn listed_files(output: &Output) -> Vec<String> {
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    json["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------
// Symbolic links

#[test]
fn a_symlink_met_while_walking_is_neither_read_nor_written() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("outside/Dockerfile", OLD), ("repo/app/Dockerfile", OLD)]);
    let link = dir.path().join("repo/Dockerfile");
    symlink("../outside/Dockerfile", &link).unwrap();

    let listed = run_within(
        pin_via(dir.path(), registry.host()).args(["--list", "--format", "json", "repo"]),
        Duration::from_secs(30),
    );
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert_eq!(listed_files(&listed), ["repo/app/Dockerfile"]);

    let output = run_within(
        pin_via(dir.path(), registry.host()).args(["--write", "repo"]),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "repo/app/Dockerfile"), new);
    assert_eq!(read(dir.path(), "outside/Dockerfile"), OLD);
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_named_symlink_is_written_through_and_stays_a_link() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("outside/Dockerfile", OLD)]);
    fs::create_dir(dir.path().join("repo")).unwrap();
    let link = dir.path().join("repo/Dockerfile");
    symlink("../outside/Dockerfile", &link).unwrap();
    fs::set_permissions(
        dir.path().join("outside/Dockerfile"),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();

    let output = run_within(
        pin_via(dir.path(), registry.host()).args(["--write", "repo/Dockerfile"]),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "outside/Dockerfile"), new);
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("../outside/Dockerfile")
    );
    assert_eq!(mode(&dir.path().join("outside/Dockerfile")), 0o640);
    assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new());

    // A named link to a folder is walked, and what is in it written.
    fs::write(dir.path().join("outside/Dockerfile"), OLD).unwrap();
    symlink("outside", dir.path().join("linked")).unwrap();
    let output = run_within(
        pin_via(dir.path(), registry.host()).args(["--write", "linked"]),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "outside/Dockerfile"), new);
    assert!(
        fs::symlink_metadata(dir.path().join("linked"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// One file named twice, directly and through a link, is pinned once: the second
/// write would otherwise find it "changed on disk" and fail the run.
#[test]
fn a_file_reached_under_two_names_is_written_once() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("Dockerfile", OLD)]);
    symlink("Dockerfile", dir.path().join("link.Dockerfile")).unwrap();
    let output = run_within(
        pin_via(dir.path(), registry.host()).args(["--write", "link.Dockerfile", "."]),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "Dockerfile"), new);
    assert!(
        fs::symlink_metadata(dir.path().join("link.Dockerfile"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(stderr(&output).contains("1 pinned"), "{}", stderr(&output));
}

#[test]
fn symlink_loops_and_dangling_links_do_not_stop_the_run() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("repo/app/Dockerfile", OLD)]);
    let repo = dir.path().join("repo");
    symlink("..", repo.join("app/up")).unwrap(); // a folder linking to its parent
    symlink(".", repo.join("self")).unwrap(); // a folder linking to itself
    symlink("missing/Dockerfile", repo.join("Dockerfile")).unwrap(); // dangling
    symlink("loop.Dockerfile", repo.join("loop.Dockerfile")).unwrap(); // to itself

    let output = run_within(
        pin_via(dir.path(), registry.host()).args(["--write", "repo"]),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "repo/app/Dockerfile"), new);

    // Named, a dangling link is an error that names it; the rest is still written.
    fs::write(repo.join("app/Dockerfile"), OLD).unwrap();
    let output = run_within(
        pin_via(dir.path(), registry.host()).args([
            "--write",
            "repo/Dockerfile",
            "repo/loop.Dockerfile",
            "repo/app/Dockerfile",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("repo/Dockerfile:"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("repo/loop.Dockerfile:"),
        "{}",
        stderr(&output)
    );
    assert_eq!(read(dir.path(), "repo/app/Dockerfile"), new);
}

// ---------------------------------------------------------------------------------
// Read-only, unreadable and special files

#[test]
fn a_read_only_file_is_reported_and_left_untouched() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("locked/Dockerfile", OLD), ("open/Dockerfile", OLD)]);
    let locked = dir.path().join("locked/Dockerfile");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o444)).unwrap();
    let before = fs::metadata(&locked).unwrap();

    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(30),
    );
    // Root may rename over a read-only file, and so may anyone who can write the
    // folder: pin must refuse on its own.
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("locked/Dockerfile: not written: read-only"),
        "{}",
        stderr(&output)
    );
    assert_eq!(read(dir.path(), "locked/Dockerfile"), OLD);
    let after = fs::metadata(&locked).unwrap();
    assert_eq!(mode(&locked), 0o444);
    assert_eq!(after.ino(), before.ino(), "the file was not replaced");
    assert_eq!(read(dir.path(), "open/Dockerfile"), new);
    assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new());
}

/// Anyone who may write a folder may rename a new file over a file in it that they
/// cannot write. pin asks whether its user may write the file itself: run as
/// another user (only root can set that up), it leaves root's file alone.
#[test]
fn a_file_its_user_may_not_write_is_left_alone_even_in_a_writable_folder() {
    if !is_root() {
        eprintln!("needs root to run pin as a second user; the other tests cover this user");
        return;
    }
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("shared/Dockerfile", OLD), ("mine/Dockerfile", OLD)]);
    for folder in ["", "shared", "mine"] {
        fs::set_permissions(dir.path().join(folder), fs::Permissions::from_mode(0o777)).unwrap();
    }
    let shared = dir.path().join("shared/Dockerfile");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o644)).unwrap();
    let mine = dir.path().join("mine/Dockerfile");
    std::os::unix::fs::chown(&mine, Some(65534), Some(65534)).unwrap();
    let before = fs::metadata(&shared).unwrap();
    let reachable = reachable_binary();

    let output = run_within(
        &mut as_user(
            pin_via(dir.path(), registry.host())
                .env("HOME", dir.path())
                .arg("--write"),
            65534,
            reachable.path(),
        ),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("shared/Dockerfile: not written: read-only"),
        "{}",
        stderr(&output)
    );
    let after = fs::metadata(&shared).unwrap();
    assert_eq!(read(dir.path(), "shared/Dockerfile"), OLD);
    assert_eq!((after.ino(), after.uid()), (before.ino(), 0));
    assert_eq!(read(dir.path(), "mine/Dockerfile"), new);
    assert_eq!(fs::metadata(&mine).unwrap().uid(), 65534);

    // World-writable, root's file may be written by anyone, but a replacement
    // written by another user would belong to them: refused, not given away.
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o666)).unwrap();
    let output = run_within(
        &mut as_user(
            pin_via(dir.path(), registry.host())
                .env("HOME", dir.path())
                .args(["--write", "shared"]),
            65534,
            reachable.path(),
        ),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("shared/Dockerfile: not written: it belongs to user 0, group 0"),
        "{}",
        stderr(&output)
    );
    let after = fs::metadata(&shared).unwrap();
    assert_eq!(read(dir.path(), "shared/Dockerfile"), OLD);
    assert_eq!(
        (after.ino(), after.uid(), mode(&shared)),
        (before.ino(), 0, 0o666)
    );
    assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn an_unreadable_file_is_reported_and_the_rest_completes() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("secret/Dockerfile", OLD), ("open/Dockerfile", OLD)]);
    let secret = dir.path().join("secret/Dockerfile");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();

    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(30),
    );
    // Anyone but root cannot read it; root can, but a file without any write
    // permission is not written either. Both are reported with the path.
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let expected = if is_root() {
        "secret/Dockerfile: not written: read-only"
    } else {
        "secret/Dockerfile: cannot read"
    };
    assert!(stderr(&output).contains(expected), "{}", stderr(&output));
    assert_eq!(mode(&secret), 0o000);
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(read(dir.path(), "secret/Dockerfile"), OLD);
    assert_eq!(read(dir.path(), "open/Dockerfile"), new);
}

/// Listed by a user who may not read them (root runs pin as another user), an
/// unreadable file and an unreadable folder are each reported with their path, and
/// the rest is listed.
#[test]
fn unreadable_files_and_folders_are_reported_by_path() {
    let dir = tree(&[
        ("secret/Dockerfile", OLD),
        ("hidden/Dockerfile", OLD),
        ("open/Dockerfile", OLD),
    ]);
    for folder in ["", "secret", "open"] {
        fs::set_permissions(dir.path().join(folder), fs::Permissions::from_mode(0o777)).unwrap();
    }
    fs::set_permissions(
        dir.path().join("open/Dockerfile"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    fs::set_permissions(
        dir.path().join("secret/Dockerfile"),
        fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    fs::set_permissions(dir.path().join("hidden"), fs::Permissions::from_mode(0o000)).unwrap();

    let mut cmd = pin_cmd();
    cmd.current_dir(dir.path())
        .env("HOME", dir.path())
        .args(["--list", "--format", "json"]);
    let reachable = reachable_binary();
    if is_root() {
        cmd = as_user(&cmd, 65534, reachable.path());
    }
    let output = run_within(&mut cmd, Duration::from_secs(30));
    fs::set_permissions(dir.path().join("hidden"), fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("error: hidden: permission denied"), "{err}");
    assert!(
        err.contains("error: secret/Dockerfile: cannot read: Permission denied"),
        "{err}"
    );
    assert_eq!(listed_files(&output), ["open/Dockerfile"]);
}

#[test]
fn a_folder_named_dockerfile_is_walked_not_read() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[
        ("Dockerfile/inner/Dockerfile", OLD),
        ("app.Dockerfile", OLD),
    ]);
    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "Dockerfile/inner/Dockerfile"), new);
    assert_eq!(read(dir.path(), "app.Dockerfile"), new);
}

#[test]
fn a_fifo_named_dockerfile_never_blocks_the_run() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("app/Dockerfile", OLD)]);
    mkfifo(&dir.path().join("Dockerfile"));
    mkfifo(&dir.path().join("compose.yaml"));

    // Met while walking: not a regular file, so not a candidate.
    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "app/Dockerfile"), new);

    // Named: reported with its path, and the rest still runs.
    fs::write(dir.path().join("app/Dockerfile"), OLD).unwrap();
    let output = run_within(
        pin_via(dir.path(), registry.host()).args(["--write", "Dockerfile", "app"]),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Dockerfile: not a regular file"),
        "{}",
        stderr(&output)
    );
    assert_eq!(read(dir.path(), "app/Dockerfile"), new);
}

/// A file that was a regular file when discovered and is a FIFO when read (it was
/// replaced in between) is refused without waiting for a writer.
#[test]
fn a_file_replaced_by_a_fifo_after_discovery_is_not_waited_for() {
    use pin::discover::Candidate;
    use pin::extract::FileKind;
    use pin::outcome::Outcome;
    use pin::pipeline::scan;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    mkfifo(&path);
    let candidates = [Candidate {
        path: path.clone(),
        kind: FileKind::Dockerfile,
        excluded: false,
    }];
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let mut outcome = Outcome::default();
        let scanned = scan(&candidates, &mut outcome);
        done.send((scanned.len(), outcome.errors)).unwrap();
    });
    let (scanned, errors) = finished
        .recv_timeout(Duration::from_secs(10))
        .expect("reading a FIFO must not block");
    assert_eq!(scanned, 0);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, path);
    assert!(
        errors[0].message.contains("not a regular file"),
        "{}",
        errors[0]
    );
}

// ---------------------------------------------------------------------------------
// A file changed while pin waits for the registry

/// A TCP proxy to `upstream` that holds every connection until [`Gate::open`], and
/// says when the first one arrives: by then `pin` has read every file.
struct Gate {
    host: String,
    arrived: mpsc::Receiver<()>,
    open: Arc<(Mutex<bool>, Condvar)>,
}

impl Gate {
    fn start(upstream: &str) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (tell, arrived) = mpsc::channel();
        let open = Arc::new((Mutex::new(false), Condvar::new()));
        let gate = Arc::clone(&open);
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let _ = tell.send(());
                let gate = Arc::clone(&gate);
                let upstream = upstream.clone();
                std::thread::spawn(move || {
                    let (lock, opened) = &*gate;
                    let mut is_open = lock.lock().unwrap();
                    while !*is_open {
                        is_open = opened.wait(is_open).unwrap();
                    }
                    drop(is_open);
                    let Ok(server) = TcpStream::connect(&upstream) else {
                        return;
                    };
                    pipe(client, server);
                });
            }
        });
        Gate {
            host,
            arrived,
            open,
        }
    }

    fn open(&self) {
        let (lock, opened) = &*self.open;
        *lock.lock().unwrap() = true;
        opened.notify_all();
    }
}

/// Copy bytes both ways until either side closes.
fn pipe(client: TcpStream, server: TcpStream) {
    let (mut client_read, mut server_write) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upload = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut server_write);
        let _ = server_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut server_read, mut client_write) = (server, client);
    let _ = std::io::copy(&mut server_read, &mut client_write);
    let _ = client_write.shutdown(std::net::Shutdown::Write);
    let _ = upload.join();
}

#[test]
fn a_file_changed_while_pin_waits_for_the_registry_is_not_overwritten() {
    let (registry, new) = registry_with_alpine();
    let gate = Gate::start(registry.host());
    let dir = tree(&[("edited/Dockerfile", OLD), ("other/Dockerfile", OLD)]);
    let child = pin_via(dir.path(), &gate.host)
        .arg("--write")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    gate.arrived
        .recv_timeout(Duration::from_secs(30))
        .expect("pin asks the registry");
    // pin has read the files and waits for an answer: the user saves an edit now.
    let edited = OLD.replace("RUN true", "RUN echo edited by hand");
    fs::write(dir.path().join("edited/Dockerfile"), &edited).unwrap();
    gate.open();

    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("edited/Dockerfile: not written: changed on disk"),
        "{}",
        stderr(&output)
    );
    assert_eq!(read(dir.path(), "edited/Dockerfile"), edited);
    assert_eq!(read(dir.path(), "other/Dockerfile"), new);
    assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new());
}

// ---------------------------------------------------------------------------------
// Bytes that are not a Dockerfile

#[test]
fn invalid_utf8_and_nul_bytes_are_reported_with_file_and_line() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("good/Dockerfile", OLD)]);
    fs::create_dir(dir.path().join("latin1")).unwrap();
    fs::write(
        dir.path().join("latin1/Dockerfile"),
        b"FROM alpine:3.20\n# caf\xe9\nRUN true\n",
    )
    .unwrap();
    fs::create_dir(dir.path().join("binary")).unwrap();
    fs::write(
        dir.path().join("binary/Dockerfile"),
        b"FROM alpine:3.20\nRUN true\n\0\0\0",
    )
    .unwrap();

    // A YAML file whose name says nothing may be anything: a warning, unless it has
    // `image:` keys.
    fs::create_dir(dir.path().join("k8s")).unwrap();
    fs::write(dir.path().join("k8s/blob.yaml"), b"image: a\n\0").unwrap();
    fs::write(dir.path().join("k8s/other.yaml"), b"data: a\n\0").unwrap();

    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("error: k8s/blob.yaml:2: binary file"), "{err}");
    assert!(
        err.contains("warning: k8s/other.yaml:2: binary file"),
        "{err}"
    );
    assert!(
        err.contains("latin1/Dockerfile:2: not valid UTF-8"),
        "{err}"
    );
    assert!(
        err.contains("binary/Dockerfile:3: binary file (NUL byte)"),
        "{err}"
    );
    assert_eq!(read(dir.path(), "good/Dockerfile"), new);
    assert_eq!(
        fs::read(dir.path().join("latin1/Dockerfile")).unwrap(),
        b"FROM alpine:3.20\n# caf\xe9\nRUN true\n"
    );
}

#[test]
fn a_100_mb_dockerfile_is_refused_without_reading_it() {
    let dir = tree(&[("small/Dockerfile", OLD)]);
    let huge = fs::File::create(dir.path().join("Dockerfile")).unwrap();
    huge.set_len(100 * 1024 * 1024).unwrap(); // sparse: costs no disk
    drop(huge);

    let output = run_within(
        pin_cmd()
            .current_dir(dir.path())
            .args(["--list", "--format", "json"]),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Dockerfile: 104857600 bytes is larger than"),
        "{}",
        stderr(&output)
    );
    assert_eq!(listed_files(&output), ["small/Dockerfile"]);
}

/// 10,000 lines with 5,000 `FROM`s are all listed with the right positions (found
/// with a line index, not by scanning the file again for each reference, which took
/// 20 s in a debug build; speed itself is for benchmarks, the time limit here only
/// keeps a regression from hanging the suite).
#[test]
fn five_thousand_froms_are_listed() {
    let list = |stages: usize| {
        let mut text = String::new();
        for i in 0..stages {
            text.push_str(&format!(
                "FROM registry.example.com/team/image{i}:1.{i} AS stage{i}\nRUN echo building stage {i}\n"
            ));
        }
        let dir = tree(&[("Dockerfile", &text)]);
        let output = run_within(
            pin_cmd()
                .current_dir(dir.path())
                .args(["--list", "--format", "json"]),
            Duration::from_secs(60),
        );
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        let references = json["references"].as_array().unwrap();
        assert_eq!(references.len(), stages);
        let last = &references[stages - 1];
        assert_eq!(last["line"], 2 * stages - 1);
        assert_eq!(last["column"], 6);
    };
    list(5_000);
}

// ---------------------------------------------------------------------------------
// Atomic writes

/// Kill `pin --write` with SIGKILL at moments spread over a whole run of 200 files:
/// every file is always exactly the old or the new text, and the temporary file of
/// the killed instant (if any) is removed by the next run.
#[test]
fn a_killed_write_leaves_every_file_old_or_new() {
    const FILES: usize = 200;
    let (registry, new) = registry_with_alpine();
    let dir = tempfile::tempdir().unwrap();
    let path = |i: usize| dir.path().join(format!("svc{i:03}/Dockerfile"));
    let reset = || {
        for i in 0..FILES {
            fs::create_dir_all(path(i).parent().unwrap()).unwrap();
            fs::write(path(i), OLD).unwrap();
        }
    };
    let count = |text: &str| {
        (0..FILES)
            .filter(|&i| fs::read_to_string(path(i)).unwrap() == text)
            .count()
    };

    // How long a whole run takes.
    reset();
    let started = Instant::now();
    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(60),
    );
    let whole = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(count(&new), FILES);

    let mut killed_mid_write = 0;
    let mut leftovers = 0;
    for step in 0..10u32 {
        reset();
        let mut child = pin_via(dir.path(), registry.host())
            .arg("--write")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole * step / 10 + Duration::from_millis(5) * step);
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        let (old_files, new_files) = (count(OLD), count(&new));
        assert_eq!(
            old_files + new_files,
            FILES,
            "step {step}: a file is neither old nor new"
        );
        if old_files > 0 && new_files > 0 {
            killed_mid_write += 1;
        }
        let temps = temp_files(dir.path());
        assert!(temps.len() <= 1, "step {step}: {temps:?}");
        leftovers += temps.len();
        // The next run finishes the job and removes what the killed one left.
        let output = run_within(
            pin_via(dir.path(), registry.host()).arg("--write"),
            Duration::from_secs(60),
        );
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert_eq!(count(&new), FILES, "step {step}");
        assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new(), "step {step}");
    }
    eprintln!("killed mid-write {killed_mid_write} times, {leftovers} temporary files left");
    assert!(
        killed_mid_write > 0,
        "no kill landed while files were being written: the test proved nothing"
    );
}

/// A temporary file a killed `pin` left (its process is gone, the file carries its
/// mark) is removed by the next `--write`; one that is not `pin`'s, or whose process
/// still runs, is kept.
#[test]
fn stale_temporary_files_of_a_killed_run_are_removed() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("app/Dockerfile", OLD), ("done/Dockerfile", OLD)]);
    let app = dir.path().join("app");
    // A process that has exited: its PID names no process now.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let stale = app.join(format!(".Dockerfile.{gone_pid}.a1B2c3.pin-tmp"));
    fs::write(&stale, "FROM alpine:3.20@sha256:half-writ").unwrap();
    let stale_done = dir
        .path()
        .join(format!("done/.Dockerfile.{gone_pid}.zzzzzz.pin-tmp"));
    fs::write(&stale_done, "").unwrap();
    // pin marks its temporary files with their own name (see
    // `a_users_file_named_like_a_stale_temporary_file_survives_write`).
    assert_user_attributes_work(dir.path());
    for path in [&stale, &stale_done] {
        let name = path.file_name().unwrap().to_str().unwrap();
        run_tool(
            "setfattr",
            &["-n", "user.pin.temp", "-v", name, path.to_str().unwrap()],
        );
    }
    let alive = app.join(format!(".Dockerfile.{}.a1B2c3.pin-tmp", std::process::id()));
    fs::write(&alive, "").unwrap();
    let not_ours = app.join(".Dockerfile.notpin.pin-tmp");
    fs::write(&not_ours, "").unwrap();
    let other_name = app.join(format!(".Containerfile.{gone_pid}.a1B2c3.pin-tmp"));
    fs::write(&other_name, "").unwrap();

    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "app/Dockerfile"), new);
    assert!(!stale.exists(), "{}", stderr(&output));
    assert!(!stale_done.exists(), "{}", stderr(&output));
    assert!(alive.exists());
    assert!(not_ours.exists());
    assert!(other_name.exists());
    assert!(
        stderr(&output).contains("removed a temporary file left by an interrupted run"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn permissions_and_owner_are_kept() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("Dockerfile", OLD)]);
    let path = dir.path().join("Dockerfile");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let root = is_root();
    if root {
        // Root writes a file that belongs to someone else: it must stay theirs.
        std::os::unix::fs::chown(&path, Some(4242), Some(4343)).unwrap();
    }
    let before = fs::metadata(&path).unwrap();

    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "Dockerfile"), new);
    let after = fs::metadata(&path).unwrap();
    assert_eq!(mode(&path), 0o640);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    if root {
        assert_eq!((after.uid(), after.gid()), (4242, 4343));
    }
    assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new());
}

/// A write that fails half-way (here the file size limit stops it, as a full disk
/// would) leaves the file as it was and no temporary file; the other files are
/// still written.
#[test]
fn a_write_that_fails_half_way_leaves_the_old_file_and_no_temporary_file() {
    use std::os::unix::process::CommandExt;
    let registry = Registry::start();
    let pushed = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let small = "FROM alpine:3.20\n"; // 89 bytes once pinned
    let large = format!("{OLD}# {}\n", "padding ".repeat(8)); // 199 bytes once pinned
    let dir = tree(&[("small/Dockerfile", small), ("large/Dockerfile", &large)]);
    let mut cmd = pin_via(dir.path(), registry.host());
    cmd.arg("--write");
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 120,
                rlim_max: 120,
            };
            // Writing past the limit fails with EFBIG instead of killing pin.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = run_within(&mut cmd, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("large/Dockerfile: not written:"),
        "{}",
        stderr(&output)
    );
    assert_eq!(read(dir.path(), "large/Dockerfile"), large);
    assert_eq!(
        read(dir.path(), "small/Dockerfile"),
        format!("FROM alpine:3.20@{}\n", pushed.digest)
    );
    assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new());
}

/// Renaming a new file over a hard link would silently split it in two: the other
/// name would keep the old text.
#[test]
fn a_hard_linked_file_is_reported_not_split() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("a/Dockerfile", OLD), ("b/Dockerfile", OLD)]);
    fs::hard_link(dir.path().join("a/Dockerfile"), dir.path().join("a/copy")).unwrap();

    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("a/Dockerfile: not written: it has 2 hard links"),
        "{}",
        stderr(&output)
    );
    assert_eq!(read(dir.path(), "a/Dockerfile"), OLD);
    assert_eq!(read(dir.path(), "b/Dockerfile"), new);
    assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn file_names_that_are_not_utf8_fail_the_gate_and_are_shown_escaped() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let digest = format!("sha256:{}", "ab".repeat(32));
    let pinned = format!("FROM alpine:3.20@{digest}\n");
    let dir = tree(&[("good/Dockerfile", pinned.as_str())]);
    let unpinned = "FROM alpine:3.20\n";
    let pod = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - image: alpine:3.20\n";
    fs::write(
        dir.path().join(OsStr::from_bytes(b"Dockerfile.\xff")),
        unpinned,
    )
    .unwrap();
    fs::write(dir.path().join(OsStr::from_bytes(b"pod-\xff.yaml")), pod).unwrap();
    fs::create_dir(dir.path().join(OsStr::from_bytes(b"caf\xe9"))).unwrap();
    fs::write(
        dir.path().join(OsStr::from_bytes(b"caf\xe9/Dockerfile")),
        unpinned,
    )
    .unwrap();
    // A name that says nothing is passed over, as any such name is.
    fs::write(
        dir.path().join(OsStr::from_bytes(b"notes-\xff.txt")),
        unpinned,
    )
    .unwrap();

    let output = run_within(
        pin_cmd().current_dir(dir.path()).arg("--check"),
        Duration::from_secs(30),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    for shown in ["Dockerfile.\\xff", "pod-\\xff.yaml", "caf\\xe9/Dockerfile"] {
        assert!(
            err.contains(&format!("{shown}: the path is not valid UTF-8")),
            "{shown}: {err}"
        );
    }
    assert!(!err.contains("notes-"), "{err}");
    assert!(!err.contains('\u{fffd}'), "{err}");

    // The same in JSON.
    let output = run_within(
        pin_cmd()
            .current_dir(dir.path())
            .args(["--check", "--format", "json"]),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut files: Vec<&str> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["fatal"] == true)
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    files.sort_unstable();
    assert_eq!(
        files,
        ["Dockerfile.\\xff", "caf\\xe9/Dockerfile", "pod-\\xff.yaml"]
    );
}

// ---------------------------------------------------------------------------------
// The gate fails closed

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: nginx:1.27\n";

/// `pin --check` (offline) in `dir` with `args`.
fn check(dir: &Path, args: &[&str]) -> Output {
    run_within(
        pin_cmd().current_dir(dir).arg("--check").args(args),
        Duration::from_secs(30),
    )
}

/// A valid Pod followed by a broken document: the file cannot be read as a whole, so
/// `--check` cannot vouch for the Pod's unpinned image and fails, as it does for a
/// YAML file over the size limit and one that is not UTF-8 but has `image:` keys.
#[test]
fn check_fails_on_a_manifest_it_cannot_parse_or_read() {
    let broken = format!("{POD}---\nspec: [unclosed\n");
    let dir = tree(&[("k8s/pod.yaml", &broken)]);
    let output = check(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("error: k8s/pod.yaml:11: column"),
        "{}",
        stderr(&output)
    );

    let dir = tree(&[]);
    let mut huge = POD.to_string();
    while huge.len() as u64 <= 16 * 1024 * 1024 {
        huge.push_str(&format!("# {}\n", "padding ".repeat(64)));
    }
    fs::write(dir.path().join("pod.yaml"), &huge).unwrap();
    fs::write(dir.path().join("latin1.yaml"), b"image: caf\xe9:1\n").unwrap();
    let output = check(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("error: pod.yaml: ")
            && err.contains("bytes is larger than the 16777216-byte limit"),
        "{err}"
    );
    assert!(
        err.contains("error: latin1.yaml:1: not valid UTF-8"),
        "{err}"
    );
}

/// A YAML file pin recognises as no kind and without `image:` keys is most likely
/// not a manifest: a warning. `--allow-unparsable` (or `allow-unparsable = true` in
/// `pin.toml`) makes the broken manifest a warning too; a Dockerfile's error too.
/// A YAML file whose bytes cannot spell an `image` key is not parsed at all: it
/// cannot hold a reference, and pin is not a YAML linter.
#[test]
fn unparsable_files_are_warnings_only_when_they_hold_no_image_or_when_allowed() {
    let dir = tree(&[("settings.yaml", "just: [a broken setting\n")]);
    let output = check(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));

    let broken = format!("{POD}---\nspec: [unclosed\n");
    let files = [
        ("notes.yaml", "just: [a note on images\n"),
        ("k8s/pod.yaml", broken.as_str()),
        ("Dockerfile", "FROM a\nRUN <<EOF\necho\n"),
        ("ok/Dockerfile", "FROM alpine:3.20\n"),
    ];
    let dir = tree(&files[..1]);
    let output = check(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("warning: notes.yaml:"),
        "{}",
        stderr(&output)
    );

    let dir = tree(&files);
    let output = check(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let output = check(dir.path(), &["--allow-unparsable"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("warning: k8s/pod.yaml:11: column"), "{err}");
    assert!(!err.contains("error:"), "{err}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("ok/Dockerfile:1:6"),
        "the rest is still checked"
    );

    fs::write(dir.path().join("pin.toml"), "allow-unparsable = true\n").unwrap();
    let output = check(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("warning: k8s/pod.yaml:11"));
}

/// The size limit applies to what pin reads, so pin never writes a file it could not
/// read again: a pin that would push a file over 16 MiB is refused, and said so.
#[test]
fn a_write_that_would_cross_the_size_limit_is_refused() {
    let (registry, new) = registry_with_alpine();
    let limit = 16 * 1024 * 1024;
    let mut big = OLD.to_string();
    let line = format!("# {}\n", "padding ".repeat(64));
    while big.len() + line.len() <= limit {
        big.push_str(&line);
    }
    big.push_str(&"#".repeat(limit - big.len() - 1));
    big.push('\n');
    assert_eq!(big.len(), limit, "as large as pin reads");
    let dir = tree(&[("big/Dockerfile", &big), ("small/Dockerfile", OLD)]);

    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let pinned_size = big.len() + new.len() - OLD.len();
    assert!(
        stderr(&output).contains(&format!(
            "error: big/Dockerfile: its new text would be {pinned_size} bytes, larger than the 16777216-byte limit of what pin reads; not written"
        )),
        "{}",
        stderr(&output)
    );
    assert!(read(dir.path(), "big/Dockerfile") == big, "left as it was");
    assert_eq!(read(dir.path(), "small/Dockerfile"), new);
    assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new());
}

// ---------------------------------------------------------------------------------
// Writes keep what they do not own

/// `tool args…`, which must succeed; its standard output.
fn run_tool(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} is installed (scripts/install-deps.sh): {e}"));
    assert!(
        output.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Every extended attribute of `path`, as `getfattr` dumps them.
fn attributes(path: &Path) -> String {
    let path = path.to_str().unwrap();
    let dump = run_tool("getfattr", &["--absolute-names", "-d", "-m", "-", path]);
    // The first line names the file.
    dump.lines().skip(1).collect::<Vec<_>>().join("\n")
}

/// The POSIX ACL of `path`, as `getfacl` shows it.
fn acl(path: &Path) -> String {
    run_tool(
        "getfacl",
        &["--absolute-names", "-p", path.to_str().unwrap()],
    )
}

/// The temporary folder must take `user.` attributes (ext4, xfs, btrfs, and tmpfs
/// since Linux 6.6), or these tests could prove nothing: checked, not assumed.
fn assert_user_attributes_work(dir: &Path) {
    let probe = dir.join("probe");
    fs::write(&probe, "").unwrap();
    let probe_name = probe.to_str().unwrap();
    run_tool("setfattr", &["-n", "user.probe", "-v", "1", probe_name]);
    assert!(attributes(&probe).contains("user.probe=\"1\""));
    fs::remove_file(probe).unwrap();
}

/// A rewritten file keeps its `user.` attributes, its POSIX ACL and (set by root) its
/// SELinux label and file capabilities; a file without an ACL gets none from its folder's default ACL.
#[test]
fn extended_attributes_and_acls_are_kept() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("app/Dockerfile", OLD), ("plain/Dockerfile", OLD)]);
    assert_user_attributes_work(dir.path());
    let app = dir.path().join("app/Dockerfile");
    let app_name = app.to_str().unwrap();
    run_tool("setfattr", &["-n", "user.note", "-v", "keep me", app_name]);
    run_tool(
        "setfattr",
        &["-n", "user.binary", "-v", "0x00ff10", app_name],
    );
    run_tool("setfacl", &["-m", "u:65534:rw,g:65534:r", app_name]);
    if is_root() {
        let label = "system_u:object_r:container_file_t:s0";
        run_tool(
            "setfattr",
            &["-n", "security.selinux", "-v", label, app_name],
        );
        run_tool(
            "setfattr",
            &["-n", "security.capability", "-v", NET_RAW, app_name],
        );
    }
    // New files in `plain/` get an ACL from the folder; the file itself has none.
    let plain = dir.path().join("plain/Dockerfile");
    run_tool(
        "setfacl",
        &[
            "-d",
            "-m",
            "u:65534:rwx",
            plain.parent().unwrap().to_str().unwrap(),
        ],
    );
    let (app_before, acl_before) = (attributes(&app), acl(&app));
    let plain_before = (attributes(&plain), acl(&plain), mode(&plain));
    assert!(app_before.contains("user.note=\"keep me\""), "{app_before}");
    assert!(
        app_before.contains("system.posix_acl_access"),
        "{app_before}"
    );
    assert!(
        !plain_before.0.contains("system.posix_acl_access"),
        "{}",
        plain_before.0
    );

    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "app/Dockerfile"), new);
    assert_eq!(read(dir.path(), "plain/Dockerfile"), new);
    assert_eq!(attributes(&app), app_before);
    assert_eq!(acl(&app), acl_before);
    assert_eq!(
        (attributes(&plain), acl(&plain), mode(&plain)),
        plain_before
    );
    assert!(
        !attributes(&app).contains("user.pin"),
        "pin's mark is not left behind"
    );
}

/// File capabilities (`cap_net_raw+ep`, as `setcap` writes them in
/// `security.capability`).
const NET_RAW: &str = "0x0100000200200000000000000000000000000000";

/// An attribute the replacement cannot be given leaves the file unwritten, said so;
/// the other files are written. Here: file capabilities, which root may give a file
/// and only a process with `CAP_SETFCAP` may set.
#[test]
fn a_file_whose_attributes_cannot_be_kept_is_not_written() {
    if !is_root() {
        eprintln!("needs root to give a file capabilities and run pin as a second user");
        return;
    }
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("labelled/Dockerfile", OLD), ("plain/Dockerfile", OLD)]);
    assert_user_attributes_work(dir.path());
    let labelled = dir.path().join("labelled/Dockerfile");
    for path in [
        "",
        "labelled",
        "plain",
        "labelled/Dockerfile",
        "plain/Dockerfile",
    ] {
        std::os::unix::fs::chown(dir.path().join(path), Some(65534), Some(65534)).unwrap();
    }
    let labelled_name = labelled.to_str().unwrap();
    run_tool(
        "setfattr",
        &["-n", "security.capability", "-v", NET_RAW, labelled_name],
    );
    let before = fs::metadata(&labelled).unwrap();
    let reachable = reachable_binary();

    let output = run_within(
        &mut as_user(
            pin_via(dir.path(), registry.host())
                .env("HOME", dir.path())
                .arg("--write"),
            65534,
            reachable.path(),
        ),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "error: labelled/Dockerfile: not written: its extended attribute security.capability could not be kept (Operation not permitted"
        ),
        "{}",
        stderr(&output)
    );
    assert_eq!(read(dir.path(), "labelled/Dockerfile"), OLD);
    assert_eq!(fs::metadata(&labelled).unwrap().ino(), before.ino());
    assert!(attributes(&labelled).contains("security.capability=0sAQAAAgAgAAAAAAAAAAAAAAAAAAA="));
    assert_eq!(read(dir.path(), "plain/Dockerfile"), new);
    assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new());
}

/// A user's file that happens to be named like a temporary file of a `pin` that is
/// gone is the user's: `--write` leaves it, and removes only what carries pin's mark.
#[test]
fn a_users_file_named_like_a_stale_temporary_file_survives_write() {
    let (registry, new) = registry_with_alpine();
    let dir = tree(&[("Dockerfile", OLD)]);
    assert_user_attributes_work(dir.path());
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let users = dir
        .path()
        .join(format!(".Dockerfile.{gone_pid}.a1B2c3.pin-tmp"));
    fs::write(&users, "my notes").unwrap();
    // Marked, but with another file's name: not this file's mark.
    let copied = dir
        .path()
        .join(format!(".Dockerfile.{gone_pid}.x9Y8z7.pin-tmp"));
    fs::write(&copied, "a copy").unwrap();
    let mark = format!(".Dockerfile.{gone_pid}.a1B2c3.pin-tmp");
    run_tool(
        "setfattr",
        &["-n", "user.pin.temp", "-v", &mark, copied.to_str().unwrap()],
    );

    let output = run_within(
        pin_via(dir.path(), registry.host()).arg("--write"),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "Dockerfile"), new);
    assert_eq!(fs::read_to_string(&users).unwrap(), "my notes");
    assert_eq!(fs::read_to_string(&copied).unwrap(), "a copy");
    assert!(!stderr(&output).contains("removed"), "{}", stderr(&output));
}
