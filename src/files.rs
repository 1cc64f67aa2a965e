//! Files: reading what `pin` scans (regular files only, capped, UTF-8) and writing
//! what it changes — atomically, keeping mode, owner and extended attributes, never
//! over a file that changed since it was read — and the clean-up of temporary files a
//! killed run left.

mod attributes;
mod temp;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Files larger than this are reported and skipped: no Dockerfile or manifest is
/// anywhere near it, and reading it whole would cost memory for nothing.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Why a file could not be read as text.
#[derive(Debug, Error)]
pub enum TextError {
    /// It could not be read at all, or is not a regular file, or is too large.
    #[error("{}", read_message(.0))]
    Read(ReadError),
    /// It has a NUL byte on `line`.
    #[error("binary file (NUL byte); file skipped")]
    Binary {
        /// The line of the first NUL byte.
        line: usize,
    },
    /// It is not UTF-8 from `line` on.
    #[error("not valid UTF-8; file skipped")]
    NotUtf8 {
        /// The line of the first invalid byte.
        line: usize,
    },
}

/// An I/O error as it is; a file that is not read on purpose says so.
fn read_message(error: &ReadError) -> String {
    match error {
        ReadError::Io(_) => error.to_string(),
        ReadError::NotAFile | ReadError::TooLarge { .. } => format!("{error}; file skipped"),
    }
}

impl TextError {
    /// The line the problem is on, where there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            TextError::Read(_) => None,
            TextError::Binary { line } | TextError::NotUtf8 { line } => Some(*line),
        }
    }
}

/// Read a file as UTF-8 text, refusing what is too large, binary or not UTF-8, or
/// not a regular file (a FIFO put where a Dockerfile was must not block the run).
pub fn read_text(path: &Path) -> Result<String, TextError> {
    let bytes = read_regular(path, MAX_FILE_SIZE).map_err(TextError::Read)?;
    text_of(bytes)
}

/// The bytes of a file as UTF-8 text, refusing what is binary (a NUL byte) or not
/// UTF-8.
pub fn text_of(bytes: Vec<u8>) -> Result<String, TextError> {
    into_text(bytes).map_err(|(error, _)| error)
}

/// [`text_of`], giving the bytes back with the error.
pub fn into_text(bytes: Vec<u8>) -> Result<String, (TextError, Vec<u8>)> {
    let line_at = |bytes: &[u8], at: usize| bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        let line = line_at(&bytes, at);
        return Err((TextError::Binary { line }, bytes));
    }
    String::from_utf8(bytes).map_err(|e| {
        let line = line_at(e.as_bytes(), e.utf8_error().valid_up_to());
        (TextError::NotUtf8 { line }, e.into_bytes())
    })
}

/// Why a file could not be read.
#[derive(Debug, Error)]
pub enum ReadError {
    /// A FIFO, socket, device or folder: reading it could block forever or mean nothing.
    #[error("not a regular file (a FIFO, socket, device or folder)")]
    NotAFile,
    /// Larger than the limit; nothing was read.
    #[error("{size} bytes is larger than the {limit}-byte limit")]
    TooLarge {
        /// The size on disk (or a lower bound, for a file that grew while read).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Opening or reading failed.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
}

/// Read the regular file at `path` whole, if it holds at most `limit` bytes.
///
/// The file is opened without blocking and checked through the open handle, so a
/// FIFO put in a file's place is refused instead of waiting forever for a writer, the
/// size is known before anything is read (a 100 MB file costs no 100 MB), and no
/// more than the limit is ever read.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = open_nonblocking(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(ReadError::NotAFile);
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge {
            size: metadata.len(),
            limit,
        });
    }
    // The size said is what is read: one `read` for most files, not a second one to
    // see the end. A file that grows meanwhile is read as it was (a write later
    // finds it changed and leaves it). A size of 0 may be a file system that does not
    // tell sizes: such a file is read to its end, up to the limit.
    let wanted = match metadata.len() {
        0 => limit + 1,
        len => len,
    };
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(wanted).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Open `path` for reading without blocking: a FIFO put in a file's place opens at
/// once instead of waiting for a writer.
fn open_nonblocking(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path)
}

/// Why a file was not written.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The file on disk is no longer what was read: someone else changed it.
    #[error("changed on disk since it was read; not overwritten (run pin again)")]
    Changed,
    /// The file has no write permission (for anyone, or for this user).
    #[error("read-only; pin does not replace a file it has no permission to write")]
    ReadOnly,
    /// The file has other names: replacing it would leave them with the old text.
    #[error(
        "it has {0} hard links, and replacing it would leave the other names with the old text"
    )]
    HardLinks(u64),
    /// The new file could not be given the old one's owner and group.
    #[error(
        "it belongs to user {uid}, group {gid}, and a replacement written by this user could not keep that owner"
    )]
    Owner {
        /// The file's owner.
        uid: u32,
        /// The file's group.
        gid: u32,
    },
    /// The path no longer names a regular file.
    #[error("no longer a regular file")]
    NotAFile,
    /// The file's extended attributes could not be read, so they could not be kept.
    #[error(
        "its extended attributes could not be read ({0}), so a replacement could not keep them"
    )]
    Attributes(std::io::Error),
    /// An extended attribute (a SELinux label, an ACL, a `user.` attribute) could not
    /// be given to the replacement.
    #[error("its extended attribute {name} could not be kept ({error})")]
    Attribute {
        /// The attribute's name.
        name: String,
        /// Why it could not be set.
        error: std::io::Error,
    },
    /// The new text is larger than pin reads: pin could not read the file again.
    #[error(
        "its new text would be {size} bytes, larger than the {limit}-byte limit of what pin reads; not written"
    )]
    TooLarge {
        /// The size of the new text.
        size: u64,
        /// The limit ([`MAX_FILE_SIZE`]).
        limit: u64,
    },
    /// Reading, writing or renaming failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a temporary file's name starts and ends with: `.NAME.PID.` and `.pin-tmp`,
/// with six random characters between. The PID tells a later run whether the
/// process that made it is gone (see [`remove_stale_temps`]).
fn temp_affixes(name: &str) -> (String, &'static str) {
    (format!(".{name}.{}.", std::process::id()), ".pin-tmp")
}

/// Replace the file at `path` with `new` atomically, if it still holds `original`.
///
/// The new text goes to a temporary file in the same folder, which is given the old
/// file's owner, group, extended attributes (SELinux label, POSIX ACLs, `user.`
/// attributes, file capabilities) and permissions, flushed to disk, and renamed over
/// the old one, so a reader sees either the old file or the new one, never a mix; the
/// folder is flushed too, so the rename survives a crash. A symbolic link is written
/// through: its target is replaced and the link stays.
///
/// Refused, leaving the file as it is: a file whose content is no longer `original`
/// (checked before writing and again just before the rename), a read-only file (no
/// write permission bit at all, or none for this user: renaming needs only the
/// folder's permission, so root, or anyone who may write the folder, could otherwise
/// replace it), a file with several hard links (the other names would keep the
/// old text), and another user's file that this user may write but whose owner a
/// replacement could not keep, a file with an extended attribute the replacement
/// could not be given, and a new text over [`MAX_FILE_SIZE`] (pin could not read the
/// file again). A failed write leaves no temporary file behind.
pub fn write_atomic(path: &Path, original: &[u8], new: &[u8]) -> Result<(), WriteError> {
    let folder = replace_atomic(path, original, new)?;
    sync_folder(&folder);
    Ok(())
}

/// [`write_atomic`] but for the folder's flush: the file is replaced and its bytes
/// are on disk, and the folder to flush is returned, so that a run writing many files
/// of one folder flushes it once, after the last rename ([`sync_folder`]).
pub fn replace_atomic(path: &Path, original: &[u8], new: &[u8]) -> Result<PathBuf, WriteError> {
    fits_the_limit(new)?;
    let target = resolve_link(path)?;
    let metadata = fs::metadata(&target)?;
    if !metadata.is_file() {
        return Err(WriteError::NotAFile);
    }
    if !may_write(&target, &metadata)? {
        return Err(WriteError::ReadOnly);
    }
    let links = hard_links(&metadata);
    if links > 1 {
        return Err(WriteError::HardLinks(links));
    }
    still_holds(&target, original)?;
    let kept = attributes::list(&open_nonblocking(&target)?).map_err(WriteError::Attributes)?;
    let folder = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (prefix, _) = temp_affixes(&name);
    // Dropping `temp` on any error below removes it.
    let temp = temp::Temp::new(folder, &prefix)?;
    let mut file = temp.file();
    file.write_all(new)?;
    // Owner first: changing the owner may clear set-id bits and file capabilities,
    // which the attributes and the mode then restore; the mode last, as it is (an
    // ACL's mask is the mode's group bits).
    keep_owner(file, &metadata)?;
    keep_attributes(file, &kept)?;
    file.set_permissions(metadata.permissions())?;
    file.sync_all()?;
    // Last look before the rename: a change made while we wrote is not overwritten.
    still_holds(&target, original)?;
    temp.persist(&target)?;
    Ok(folder.to_path_buf())
}

/// Flush a folder, so that the renames made in it survive a crash. Best effort: the
/// files are already replaced; this only makes the renames durable.
pub fn sync_folder(folder: &Path) {
    if let Ok(folder) = fs::File::open(folder) {
        let _ = folder.sync_all();
    }
}

/// Refuse a new text that pin could not read back: the limit applies to what pin
/// reads, so a file pin writes must stay within it.
pub fn fits_the_limit(new: &[u8]) -> Result<(), WriteError> {
    let size = new.len() as u64;
    if size > MAX_FILE_SIZE {
        return Err(WriteError::TooLarge {
            size,
            limit: MAX_FILE_SIZE,
        });
    }
    Ok(())
}

/// Give the new file the old one's extended attributes (those this user could read),
/// and no ACL the old one lacks (a folder's default ACL gives one to every new file).
/// One that cannot be set is an error: the file is not written.
fn keep_attributes(temp: &fs::File, kept: &[attributes::Attribute]) -> Result<(), WriteError> {
    let failed = |name: &std::ffi::CStr, error| WriteError::Attribute {
        name: name.to_string_lossy().into_owned(),
        error,
    };
    for attribute in kept {
        let name = attribute.name.as_c_str();
        if name.to_bytes() == attributes::TEMP_MARK.as_bytes() {
            continue;
        }
        // A label the new file already has (SELinux gives one to every new file)
        // needs no permission to keep.
        match attributes::get(temp, &attribute.name) {
            Ok(Some(value)) if value == attribute.value => continue,
            _ => {}
        }
        attributes::set(temp, &attribute.name, &attribute.value)
            .map_err(|error| failed(name, error))?;
    }
    let acl = std::ffi::CString::new("system.posix_acl_access").expect("no NUL");
    if !kept.iter().any(|a| a.name == acl) {
        attributes::remove(temp, &acl).map_err(|error| failed(&acl, error))?;
    }
    Ok(())
}

/// Whether the file at `target` still holds exactly `original`.
fn still_holds(target: &Path, original: &[u8]) -> Result<(), WriteError> {
    match read_regular(target, original.len() as u64) {
        Ok(bytes) if bytes == original => Ok(()),
        Ok(_) | Err(ReadError::TooLarge { .. } | ReadError::NotAFile) => Err(WriteError::Changed),
        Err(ReadError::Io(e)) => Err(WriteError::Io(e)),
    }
}

/// Whether pin may replace the file: it has a write permission bit, and this user
/// could open it for writing. Root passes the second test for every file, hence the
/// first.
fn may_write(target: &Path, metadata: &fs::Metadata) -> std::io::Result<bool> {
    if metadata.permissions().readonly() {
        return Ok(false);
    }
    user_may_write(target)
}

#[cfg(unix)]
fn user_may_write(target: &Path) -> std::io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(target.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    let result =
        unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::W_OK, libc::AT_EACCESS) };
    if result == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EROFS) | Some(libc::EPERM) => Ok(false),
        _ => Err(error),
    }
}

#[cfg(not(unix))]
fn user_may_write(_target: &Path) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(unix)]
fn hard_links(metadata: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(metadata)
}

#[cfg(not(unix))]
fn hard_links(_metadata: &fs::Metadata) -> u64 {
    1
}

/// Remove the temporary files that a `pin` killed while writing one of `paths` left
/// beside it, and return their paths.
///
/// A process killed between creating its temporary file and renaming it (SIGKILL,
/// a power cut) cannot remove it. Only names of exactly pin's pattern for one of
/// these files (`.NAME.PID.XXXXXX.pin-tmp`) are considered, only files that carry
/// pin's mark (the attribute `user.pin.temp` holding the file's own name, random
/// part included: a user's file that happens to have such a name is not pin's), and
/// only those whose process is gone: a temporary file of a `pin` still running is
/// left alone. Where
/// that cannot be told (no process table), nothing is removed. Each folder is read
/// once, however many of the files it holds.
pub fn remove_stale_temps<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Vec<PathBuf> {
    let mut names: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for path in paths {
        let Ok(target) = resolve_link(path) else {
            continue;
        };
        let folder = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Some(name) = target.file_name().and_then(|n| n.to_str()) {
            names
                .entry(folder.to_path_buf())
                .or_default()
                .insert(name.to_string());
        }
    }
    let mut removed = Vec::new();
    for (folder, names) in names {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some((name, pid)) = file_name.to_str().and_then(temp_owner) else {
                continue;
            };
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if names.contains(name)
                && is_file
                && process_is_gone(pid)
                && attributes::is_marked_temp(&entry.path(), &file_name.to_string_lossy())
                && fs::remove_file(entry.path()).is_ok()
            {
                removed.push(entry.path());
            }
        }
    }
    removed.sort();
    removed
}

/// The file name and PID in `temp`, if it is a temporary file name pin makes.
fn temp_owner(temp: &str) -> Option<(&str, u32)> {
    let middle = temp.strip_prefix('.')?.strip_suffix(".pin-tmp")?;
    let (rest, random) = middle.rsplit_once('.')?;
    let (name, pid) = rest.rsplit_once('.')?;
    let is_pid = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    let is_random = random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric());
    if name.is_empty() || !is_pid || !is_random {
        return None;
    }
    Some((name, pid.parse().ok()?))
}

#[cfg(unix)]
fn process_is_gone(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 || pid as u32 == std::process::id() {
        return false;
    }
    // SAFETY: signal 0 only asks whether the process exists; nothing is sent.
    let result = unsafe { libc::kill(pid, 0) };
    result != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn process_is_gone(_pid: u32) -> bool {
    false
}

/// The file a path finally names, following symbolic links.
fn resolve_link(path: &Path) -> std::io::Result<PathBuf> {
    if fs::symlink_metadata(path)?.file_type().is_symlink() {
        fs::canonicalize(path)
    } else {
        Ok(path.to_path_buf())
    }
}

/// Give the new file the old one's owner and group. Only root may give a file away,
/// so another user's file (one that is group- or world-writable) cannot keep its
/// owner through a rename: that is an error, not a silent change of owner.
#[cfg(unix)]
fn keep_owner(file: &fs::File, metadata: &fs::Metadata) -> Result<(), WriteError> {
    use std::os::unix::fs::MetadataExt;
    let current = file.metadata()?;
    if (current.uid(), current.gid()) == (metadata.uid(), metadata.gid()) {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(metadata.uid()), Some(metadata.gid())).map_err(|_| {
        WriteError::Owner {
            uid: metadata.uid(),
            gid: metadata.gid(),
        }
    })
}

#[cfg(not(unix))]
fn keep_owner(_file: &fs::File, _metadata: &fs::Metadata) -> Result<(), WriteError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_keeps_permissions_and_refuses_changed_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Dockerfile");
        fs::write(&path, "FROM a\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"FROM a\n", b"FROM a:1\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "FROM a:1\n");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let err = write_atomic(&path, b"FROM a\n", b"FROM b\n").unwrap_err();
        assert!(matches!(err, WriteError::Changed));
        assert_eq!(fs::read_to_string(&path).unwrap(), "FROM a:1\n");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_writes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.Dockerfile");
        let link = dir.path().join("Dockerfile");
        fs::write(&real, "FROM a\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"FROM a\n", b"FROM a:1\n").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "FROM a:1\n");
    }

    #[cfg(unix)]
    #[test]
    fn read_regular_refuses_folders_fifos_and_files_over_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Dockerfile");
        fs::write(&path, "FROM a\n").unwrap();
        assert_eq!(read_regular(&path, 7).unwrap(), b"FROM a\n");
        assert!(matches!(
            read_regular(&path, 6),
            Err(ReadError::TooLarge { size: 7, limit: 6 })
        ));
        assert!(matches!(
            read_regular(dir.path(), 100),
            Err(ReadError::NotAFile)
        ));
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(matches!(read_regular(&fifo, 100), Err(ReadError::NotAFile)));
        assert!(matches!(
            read_regular(&dir.path().join("missing"), 100),
            Err(ReadError::Io(_))
        ));
    }

    #[test]
    fn temp_names_are_recognised_exactly() {
        assert_eq!(
            temp_owner(".Dockerfile.42.aB3xYz.pin-tmp"),
            Some(("Dockerfile", 42))
        );
        assert_eq!(
            temp_owner(".Dockerfile.prod.7.aB3xYz.pin-tmp"),
            Some(("Dockerfile.prod", 7))
        );
        for other in [
            ".Dockerfile.aB3xYz.pin-tmp",
            "..42.aB3xYz.pin-tmp",
            ".Dockerfile.42.aB3xY.pin-tmp",
            ".Dockerfile.42.aB3x-z.pin-tmp",
            ".Dockerfile.x42.aB3xYz.pin-tmp",
            "Dockerfile.42.aB3xYz.pin-tmp",
            ".Dockerfile.42.aB3xYz.tmp",
        ] {
            assert_eq!(temp_owner(other), None, "{other}");
        }
        let (prefix, suffix) = temp_affixes("Dockerfile");
        let made = format!("{prefix}Q1w2E3{suffix}");
        assert_eq!(temp_owner(&made), Some(("Dockerfile", std::process::id())));
    }
}
