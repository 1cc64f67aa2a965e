//! Scanning on every core and writing several files at once change nothing a user
//! sees: the files, references, errors and warnings of a scan come out as a scan of
//! one file after another gives them, and a write of many files in many folders keeps
//! every guarantee of writing one.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use pin::discover::{self, Candidate, Excludes};
use pin::extract::FileKind;
use pin::outcome::{FileOutcome, Outcome};
use pin::pipeline::{self, Scanned};
use pin::source::SourceFile;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// One file of each sort a scan meets, `n` making its name and images distinct.
fn mixed_files(n: usize) -> Vec<(String, Vec<u8>)> {
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{n}}}\nspec:\n  containers:\n  - name: a\n    image: app{n}:1\n  - name: b\n    image: side{n}@{DIGEST}\n"
    );
    let files: Vec<(String, String)> = vec![
        (
            format!("d{n}/Dockerfile"),
            format!("FROM base{n}:1 AS build\nFROM build\nCOPY --from=tool{n} /x /x\n"),
        ),
        (format!("d{n}/empty.Dockerfile"), String::new()),
        (format!("d{n}/pod.yaml"), pod.clone()),
        (
            format!("d{n}/settings.yaml"),
            format!("name: svc{n}\nport: {n}\n"),
        ),
        (
            format!("d{n}/notes.yaml"),
            "just: [a note on images\n".to_string(),
        ),
        (
            format!("d{n}/broken-pod.yaml"),
            format!("{pod}---\nspec: [unclosed\n"),
        ),
        (
            format!("d{n}/compose.yaml"),
            format!(
                "services:\n  web:\n    image: web{n}:2\n  x:\n    build: .\n    image: built{n}\n"
            ),
        ),
        (
            format!("d{n}/template.yaml"),
            format!(
                "spec:\n  containers:\n  - image: {{{{ .Values.image }}}}\n    name: {{{{ .Values.name{n} }}}}\n  - image: helm{n}:3\n"
            ),
        ),
        (
            format!("d{n}/skip.Dockerfile"),
            format!("FROM skipped{n}:1\n"),
        ),
        (
            format!("d{n}/.github/workflows/ci.yml"),
            format!("on: push\njobs:\n  a:\n    container: job{n}:1\n    runs-on: x\n"),
        ),
    ];
    let mut files: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|(path, text)| (path, text.into_bytes()))
        .collect();
    files.push((format!("d{n}/latin1.yaml"), b"image: caf\xe9\n".to_vec()));
    files.push((format!("d{n}/nul.Dockerfile"), b"FROM a\n\0\n".to_vec()));
    files
}

fn scan(candidates: &[Candidate]) -> (Vec<Scanned>, Outcome) {
    let mut outcome = Outcome::default();
    let scanned = pipeline::scan_with(candidates, false, &mut outcome);
    (scanned, outcome)
}

/// The scan of a mixed tree of 1,200 files (so many chunks on every thread) gives
/// the same files, references, errors and warnings, in the same order, as scanning
/// each file on its own.
#[test]
fn a_scan_on_all_cores_gives_what_a_serial_scan_gives() {
    let dir = tempfile::tempdir().unwrap();
    for n in 0..100 {
        for (path, bytes) in mixed_files(n) {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, bytes).unwrap();
        }
    }
    let excludes = Excludes::new(&["skip.Dockerfile".to_string()]).unwrap();
    let found = discover::discover(&[dir.path().to_path_buf()], &excludes);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    assert_eq!(found.files.len(), 1200);

    let (scanned, outcome) = scan(&found.files);
    let mut serial = Vec::new();
    let mut serial_outcome = Outcome::default();
    for candidate in &found.files {
        let (one, outcome) = scan(std::slice::from_ref(candidate));
        serial.extend(one);
        serial_outcome.errors.extend(outcome.errors);
        serial_outcome.warnings.extend(outcome.warnings);
    }
    assert_eq!(format!("{scanned:?}"), format!("{serial:?}"));
    assert_eq!(outcome.errors, serial_outcome.errors);
    assert_eq!(outcome.warnings, serial_outcome.warnings);

    // What each sort of file gave, so the comparison is not of two empty lists.
    assert_eq!(scanned.len(), 600, "6 files with references per folder");
    let references: usize = scanned.iter().map(|file| file.references.len()).sum();
    assert_eq!(references, 100 * 11);
    assert_eq!(
        outcome.errors.len(),
        300,
        "broken pod, latin1, nul per folder"
    );
    assert_eq!(outcome.warnings.len(), 100, "notes.yaml per folder");
    assert!(
        outcome.warnings[0].path.ends_with("d0/notes.yaml")
            && outcome.warnings[99].path.ends_with("d99/notes.yaml")
    );
    let paths: Vec<&Path> = scanned.iter().map(|f| f.source.path.as_path()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "in the candidates' (path) order");
}

fn attribute(path: &Path, name: &str) -> String {
    let output = Command::new("getfattr")
        .args(["--only-values", "-n", name])
        .arg(path)
        .output()
        .expect("getfattr is installed (scripts/install-deps.sh)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn set_attribute(path: &Path, name: &str, value: &str) {
    let status = Command::new("setfattr")
        .args(["-n", name, "-v", value])
        .arg(path)
        .status()
        .expect("setfattr is installed (scripts/install-deps.sh)");
    assert!(status.success());
}

/// Every file below `dir` whose name is a temporary file's.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                folders.push(entry.path());
            } else if entry.file_name().to_string_lossy().ends_with(".pin-tmp") {
                found.push(entry.path());
            }
        }
    }
    found
}

/// 600 files in 60 folders written at once: each is replaced with its own new text
/// and keeps its mode, its owner and its extended attributes; a file changed on disk
/// since it was read, a read-only file and a hard-linked one are refused with an
/// error each, in file order, and left as they are; a stale temporary file of a killed
/// run is removed; no temporary file is left.
#[test]
fn a_write_of_many_files_in_many_folders_keeps_every_guarantee() {
    let dir = tempfile::tempdir().unwrap();
    let root = unsafe { libc::geteuid() } == 0;
    let mut outcome = Outcome::default();
    let mut refused = Vec::new();
    let gone_pid = 999_999_999u32;
    for i in 0..600 {
        let folder = dir.path().join(format!("f{:02}", i / 10));
        fs::create_dir_all(&folder).unwrap();
        let path = folder.join(format!("app{i}.Dockerfile"));
        let text = format!("FROM app{i}:1\n");
        fs::write(&path, &text).unwrap();
        fs::set_permissions(
            &path,
            fs::Permissions::from_mode([0o640, 0o755, 0o600][i % 3]),
        )
        .unwrap();
        set_attribute(&path, "user.note", &format!("file {i}"));
        if root && i % 7 == 0 {
            std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        }
        if i % 50 == 0 {
            let stale = folder.join(format!(".app{i}.Dockerfile.{gone_pid}.a1B2c3.pin-tmp"));
            fs::write(&stale, "").unwrap();
            set_attribute(
                &stale,
                "user.pin.temp",
                &stale.file_name().unwrap().to_string_lossy(),
            );
        }
        match i {
            101 => fs::write(&path, "FROM changed\n").unwrap(),
            202 => fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap(),
            303 => fs::hard_link(&path, folder.join("other-name")).unwrap(),
            _ => {}
        }
        if matches!(i, 101 | 202 | 303) {
            refused.push(path.clone());
        }
        outcome.files.push(FileOutcome {
            source: SourceFile { path, text },
            kind: FileKind::Dockerfile,
            references: Vec::new(),
            new_text: Some(format!("FROM app{i}:1@{DIGEST}\n")),
            written: false,
        });
    }
    let before: Vec<fs::Metadata> = outcome
        .files
        .iter()
        .map(|f| fs::metadata(&f.source.path).unwrap())
        .collect();

    pipeline::write(&mut outcome);

    let errors: Vec<&Path> = outcome.errors.iter().map(|e| e.path.as_path()).collect();
    assert_eq!(errors, refused, "{:?}", outcome.errors);
    assert!(outcome.errors[0].message.contains("changed on disk"));
    assert!(outcome.errors[1].message.contains("read-only"));
    assert!(outcome.errors[2].message.contains("hard links"));
    assert_eq!(outcome.warnings.len(), 12, "{:?}", outcome.warnings);
    assert!(
        outcome
            .warnings
            .iter()
            .all(|w| w.message.contains("temporary file"))
    );
    assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new());
    for (i, (file, before)) in outcome.files.iter().zip(&before).enumerate() {
        let path = &file.source.path;
        let text = fs::read_to_string(path).unwrap();
        let after = fs::metadata(path).unwrap();
        if refused.contains(path) {
            assert!(!file.written);
            assert_ne!(text, file.new_text.clone().unwrap(), "{i} left as it is");
            continue;
        }
        assert!(file.written, "{i}");
        assert_eq!(text, format!("FROM app{i}:1@{DIGEST}\n"));
        assert_eq!(after.mode(), before.mode(), "{i}: mode kept");
        assert_eq!(
            (after.uid(), after.gid()),
            (before.uid(), before.gid()),
            "{i}: owner kept"
        );
        assert_ne!(after.ino(), before.ino(), "{i}: replaced by a rename");
        assert_eq!(attribute(path, "user.note"), format!("file {i}"), "{i}");
    }
}
