//! The temporary file a write goes to before it is renamed over the file it replaces.
//!
//! Its name is `.NAME.PID.XXXXXX.pin-tmp` (six random characters), and whenever it
//! has a name it carries pin's mark, the attribute `user.pin.temp` holding that name,
//! so that a later run removes only what pin made (see
//! [`super::remove_stale_temps`]). On Linux it is made without a name (`O_TMPFILE`)
//! and linked under its name, already marked, only once it is complete: a run killed
//! while writing leaves nothing, and one killed between the link and the rename
//! leaves a marked file. Elsewhere, or where the folder's file system cannot make
//! unnamed files, it is created under its name and marked at once.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::attributes;

/// A temporary file beside the file it will replace; removed if dropped before
/// [`Temp::persist`].
#[derive(Debug)]
pub struct Temp {
    file: File,
    folder: PathBuf,
    /// `.NAME.PID.`, the start of its name.
    prefix: String,
    /// Its name and path, once it has one.
    named: Option<PathBuf>,
}

impl Temp {
    /// A new, empty temporary file in `folder` for a file whose name starts with
    /// `prefix` (see [`super::temp_affixes`]), readable and writable by its owner only.
    pub fn new(folder: &Path, prefix: &str) -> io::Result<Temp> {
        if let Some(file) = unnamed(folder)? {
            return Ok(Temp {
                file,
                folder: folder.to_path_buf(),
                prefix: prefix.to_string(),
                named: None,
            });
        }
        for _ in 0..100 {
            let path = folder.join(random_name(prefix));
            let mut options = fs::OpenOptions::new();
            options.read(true).write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(file) => {
                    let temp = Temp {
                        file,
                        folder: folder.to_path_buf(),
                        prefix: prefix.to_string(),
                        named: Some(path),
                    };
                    temp.mark();
                    return Ok(temp);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free name for a temporary file",
        ))
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Rename the file over `target`: linked under its marked name first if it has
    /// none, its mark removed once it is `target`.
    pub fn persist(mut self, target: &Path) -> io::Result<()> {
        if self.named.is_none() {
            self.link()?;
        }
        let path = self.named.take().expect("named by now");
        if let Err(e) = fs::rename(&path, target) {
            self.named = Some(path);
            return Err(e);
        }
        // A run killed just here leaves the mark on `target`; it names another
        // file, so `target` is never taken for a temporary file, and the next write
        // of `target` drops it (the mark is never copied).
        attributes::remove(&self.file, &attributes::temp_mark())
    }

    /// Mark the file with its name. Best effort: where the file system has no `user.`
    /// attributes the file stays unmarked, and a killed run's leftover is then never
    /// removed.
    fn mark(&self) {
        let name = self.named.as_deref().and_then(Path::file_name);
        if let Some(name) = name.and_then(|n| n.to_str()) {
            let _ = attributes::set(&self.file, &attributes::temp_mark(), name.as_bytes());
        }
    }

    /// Give the unnamed file a free name, marked before it is linked.
    fn link(&mut self) -> io::Result<()> {
        for _ in 0..100 {
            let name = random_name(&self.prefix);
            let _ = attributes::set(&self.file, &attributes::temp_mark(), name.as_bytes());
            let path = self.folder.join(&name);
            match link_unnamed(&self.file, &path) {
                Ok(()) => {
                    self.named = Some(path);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free name for a temporary file",
        ))
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(path) = &self.named {
            let _ = fs::remove_file(path);
        }
    }
}

/// `prefix`, six random letters and digits, `.pin-tmp`.
fn random_name(prefix: &str) -> String {
    use std::hash::{BuildHasher, RandomState};
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // Each `RandomState` has new keys, seeded from the system's randomness.
    let mut bits = RandomState::new().hash_one(std::time::SystemTime::now());
    let random: String = (0..6)
        .map(|_| {
            let c = CHARS[(bits % CHARS.len() as u64) as usize];
            bits /= CHARS.len() as u64;
            char::from(c)
        })
        .collect();
    format!("{prefix}{random}.pin-tmp")
}

/// An unnamed file in `folder` (`O_TMPFILE`), where the file system can make one and
/// `/proc` is there to link it later; `None` where not.
#[cfg(target_os = "linux")]
fn unnamed(folder: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    if !Path::new("/proc/self/fd").is_dir() {
        return Ok(None);
    }
    let mut options = fs::OpenOptions::new();
    options
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE);
    match options.open(folder) {
        Ok(file) => Ok(Some(file)),
        // Not supported by this file system or kernel.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::ENOENT)
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn unnamed(_folder: &Path) -> io::Result<Option<File>> {
    Ok(None)
}

/// Give the unnamed `file` the name `path` (`linkat` through `/proc/self/fd`, which
/// needs no privilege, unlike `AT_EMPTY_PATH`).
#[cfg(target_os = "linux")]
fn link_unnamed(file: &File, path: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let source =
        CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL in a number");
    let target = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: both are valid NUL-terminated strings that outlive the call.
    let result = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            source.as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn link_unnamed(_file: &File, _path: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_named_temporary_file_carries_its_name_and_the_replaced_file_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("Dockerfile");
        fs::write(&target, "old").unwrap();
        let mut temp = Temp::new(dir.path(), ".Dockerfile.1.").unwrap();
        temp.file().write_all(b"new").unwrap();
        if temp.named.is_none() {
            temp.link().unwrap();
        }
        let path = temp.named.clone().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with(".Dockerfile.1.") && name.ends_with(".pin-tmp"));
        assert!(attributes::is_marked_temp(&path, &name), "{name}");
        temp.persist(&target).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        let file = File::open(&target).unwrap();
        assert_eq!(
            attributes::get(&file, &attributes::temp_mark()).unwrap(),
            None
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_dropped_temporary_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        for linked in [false, true] {
            let mut temp = Temp::new(dir.path(), ".Dockerfile.1.").unwrap();
            if linked && temp.named.is_none() {
                temp.link().unwrap();
            }
            drop(temp);
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }
}
