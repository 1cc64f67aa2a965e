//! Extended attributes, through the open file: the ones a rewritten file must keep
//! (`user.*`, the SELinux label `security.selinux`, POSIX ACLs in
//! `system.posix_acl_access`, file capabilities) and the mark that tells pin's own
//! temporary files from a user's file of the same name.
//!
//! Linux calls (`flistxattr`, `fgetxattr`, `fsetxattr`); elsewhere a file has no
//! attributes pin knows how to copy, and temporary files carry no mark.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::path::Path;

/// The attribute pin's temporary files carry while they exist, holding the file's
/// own name (whose six random characters no other file shares).
pub const TEMP_MARK: &str = "user.pin.temp";

/// One attribute: its name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// `user.note`, `security.selinux`, …
    pub name: CString,
    /// The value's bytes.
    pub value: Vec<u8>,
}

/// Every extended attribute of `file` that the caller may read. A file system
/// without extended attributes has none.
#[cfg(target_os = "linux")]
pub fn list(file: &File) -> io::Result<Vec<Attribute>> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `buffer` is valid for `len` bytes (or null with 0) for each call.
    let names = sized(|buffer, len| unsafe { libc::flistxattr(fd, buffer.cast(), len) });
    let names = match names {
        Ok(names) => names,
        Err(e) if unsupported(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut attributes = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = CString::new(name).map_err(io::Error::other)?;
        match get(file, &name)? {
            Some(value) => attributes.push(Attribute { name, value }),
            // Removed since it was listed.
            None => continue,
        }
    }
    Ok(attributes)
}

#[cfg(not(target_os = "linux"))]
pub fn list(_file: &File) -> io::Result<Vec<Attribute>> {
    Ok(Vec::new())
}

/// The value of the attribute `name` of `file`, if it has one.
#[cfg(target_os = "linux")]
pub fn get(file: &File, name: &CString) -> io::Result<Option<Vec<u8>>> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `name` is NUL-terminated; `buffer` is valid for `len` bytes.
    let value =
        sized(|buffer, len| unsafe { libc::fgetxattr(fd, name.as_ptr(), buffer.cast(), len) });
    match value {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) || unsupported(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
pub fn get(_file: &File, _name: &CString) -> io::Result<Option<Vec<u8>>> {
    Ok(None)
}

/// Give `file` the attribute `name` with `value`.
#[cfg(target_os = "linux")]
pub fn set(file: &File, name: &CString, value: &[u8]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `name` is NUL-terminated and `value` valid for its length.
    let result = unsafe {
        libc::fsetxattr(
            file.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub fn set(_file: &File, _name: &CString, _value: &[u8]) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Remove the attribute `name` from `file`; one it does not have is no error.
#[cfg(target_os = "linux")]
pub fn remove(file: &File, name: &CString) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `name` is NUL-terminated.
    let result = unsafe { libc::fremovexattr(file.as_raw_fd(), name.as_ptr()) };
    let error = io::Error::last_os_error();
    if result == 0 || error.raw_os_error() == Some(libc::ENODATA) || unsupported(&error) {
        Ok(())
    } else {
        Err(error)
    }
}

#[cfg(not(target_os = "linux"))]
pub fn remove(_file: &File, _name: &CString) -> io::Result<()> {
    Ok(())
}

/// The mark's name as a C string.
pub fn temp_mark() -> CString {
    CString::new(TEMP_MARK).expect("no NUL in a constant")
}

/// Whether the file at `path` carries pin's temporary-file mark holding its own
/// `name`: only then did pin make it.
pub fn is_marked_temp(path: &Path, name: &str) -> bool {
    let Ok(file) = super::open_nonblocking(path) else {
        return false;
    };
    matches!(get(&file, &temp_mark()), Ok(Some(value)) if value == name.as_bytes())
}

/// Whether an error says the file system has no extended attributes (or none of
/// this namespace).
#[cfg(target_os = "linux")]
fn unsupported(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EOPNOTSUPP)
}

/// Call `read(buffer, len)` (a `*xattr` call: with a null buffer it answers the size
/// needed) until the buffer is large enough for the answer.
#[cfg(target_os = "linux")]
fn sized(mut read: impl FnMut(*mut u8, usize) -> libc::ssize_t) -> io::Result<Vec<u8>> {
    loop {
        let needed = read(std::ptr::null_mut(), 0);
        if needed < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buffer = vec![0u8; needed as usize];
        let got = read(buffer.as_mut_ptr(), buffer.len());
        if got >= 0 {
            buffer.truncate(got as usize);
            return Ok(buffer);
        }
        let error = io::Error::last_os_error();
        // It grew between the two calls: ask again.
        if error.raw_os_error() != Some(libc::ERANGE) {
            return Err(error);
        }
    }
}
