//! Rewriting: splice replacements into a file's original text at exact spans, and
//! write the result atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::source::Span;

/// Replace the bytes of `span` with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The bytes replaced.
    pub span: Span,
    /// What they become.
    pub replacement: String,
}

/// Edits that cannot be applied together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpliceError {
    /// Two edits overlap.
    #[error("edits at bytes {0}..{1} and {2}..{3} overlap")]
    Overlap(usize, usize, usize, usize),
    /// An edit lies outside the text or not on a character boundary.
    #[error("edit at bytes {0}..{1} is outside the text or splits a character")]
    OutOfBounds(usize, usize),
}

/// Apply `edits` to `text`. Every byte outside the edits' spans is kept as it is.
/// Identical edits (the same span and text) are applied once.
pub fn splice(text: &str, edits: &[Edit]) -> Result<String, SpliceError> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.span.start, e.span.end));
    sorted.dedup_by(|a, b| a == b);
    let mut out = String::with_capacity(text.len() + 80 * sorted.len());
    let mut cursor = 0;
    for edit in sorted {
        let Span { start, end } = edit.span;
        if start > end
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            return Err(SpliceError::OutOfBounds(start, end));
        }
        if start < cursor {
            return Err(SpliceError::Overlap(start, end, cursor, cursor));
        }
        out.push_str(&text[cursor..start]);
        out.push_str(&edit.replacement);
        cursor = end;
    }
    out.push_str(&text[cursor..]);
    Ok(out)
}

/// Why a file was not written.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The file on disk is no longer what was read: someone else changed it.
    #[error("changed on disk since it was read; not overwritten (run pin again)")]
    Changed,
    /// Reading, writing or renaming failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Replace the file at `path` with `new` atomically, if it still holds `original`.
///
/// The new text goes to a temporary file in the same folder, which is flushed to disk,
/// given the old file's permissions (and owner, where allowed), and renamed over the
/// old one, so a reader sees either the old file or the new one, never a mix. A
/// symbolic link is written through: its target is replaced and the link stays.
pub fn write_atomic(path: &Path, original: &[u8], new: &[u8]) -> Result<(), WriteError> {
    let target = resolve_link(path)?;
    let metadata = fs::metadata(&target)?;
    if fs::read(&target)? != original {
        return Err(WriteError::Changed);
    }
    let folder = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".pin-tmp")
        .tempfile_in(folder)?;
    temp.write_all(new)?;
    temp.as_file().sync_all()?;
    fs::set_permissions(temp.path(), metadata.permissions())?;
    keep_owner(temp.as_file(), &metadata);
    // Last look before the rename: a change made while we wrote is not overwritten.
    if fs::read(&target)? != original {
        return Err(WriteError::Changed);
    }
    temp.persist(&target).map_err(|e| WriteError::Io(e.error))?;
    Ok(())
}

/// The file a path finally names, following symbolic links.
fn resolve_link(path: &Path) -> std::io::Result<PathBuf> {
    if fs::symlink_metadata(path)?.file_type().is_symlink() {
        fs::canonicalize(path)
    } else {
        Ok(path.to_path_buf())
    }
}

#[cfg(unix)]
fn keep_owner(file: &fs::File, metadata: &fs::Metadata) {
    use std::os::unix::fs::MetadataExt;
    // Only root may give a file away; for anyone else the new file is already theirs.
    let _ = std::os::unix::fs::fchown(file, Some(metadata.uid()), Some(metadata.gid()));
}

#[cfg(not(unix))]
fn keep_owner(_file: &fs::File, _metadata: &fs::Metadata) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(start: usize, end: usize, text: &str) -> Edit {
        Edit {
            span: Span::new(start, end),
            replacement: text.to_string(),
        }
    }

    #[test]
    fn splice_keeps_every_other_byte() {
        let text = "\u{feff}FROM a\r\nFROM b";
        let out = splice(text, &[edit(16, 17, "b:1@x"), edit(8, 9, "a:latest@y")]).unwrap();
        assert_eq!(out, "\u{feff}FROM a:latest@y\r\nFROM b:1@x");
    }

    #[test]
    fn splice_refuses_overlaps_and_bad_bounds() {
        assert!(matches!(
            splice("abcdef", &[edit(0, 3, "x"), edit(2, 4, "y")]),
            Err(SpliceError::Overlap(..))
        ));
        assert!(matches!(
            splice("abc", &[edit(2, 9, "x")]),
            Err(SpliceError::OutOfBounds(..))
        ));
        assert!(matches!(
            splice("é", &[edit(1, 2, "x")]),
            Err(SpliceError::OutOfBounds(..))
        ));
        // The same edit twice (one ARG default used by two FROMs) is applied once.
        assert_eq!(
            splice("abc", &[edit(1, 2, "X"), edit(1, 2, "X")]).unwrap(),
            "aXc"
        );
    }

    #[cfg(unix)]
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
}
