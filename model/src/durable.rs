//! Writing a file whole or not at all: a temporary file beside it, synced,
//! renamed over it, then the folder synced so the rename itself survives a
//! power cut. A crash at any point leaves the old file or the new one,
//! never a half-written one.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Who may read the file written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// This user alone: keys, secrets, customers' files, settings.
    Private,
    /// As files people save usually are (readable by others): exports.
    Shared,
}

/// Writes `bytes` to `path`, replacing what was there.
pub fn write(path: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    let temp = temporary(path, bytes, access)?;
    temp.persist(path).map_err(|e| e.error)?;
    sync_folder(path)
}

/// Writes `bytes` to `path` unless a file is already there (two processes
/// creating one key at once: the first wins, and both then read the same).
/// Whether this call wrote it.
pub fn create(path: &Path, bytes: &[u8], access: Access) -> io::Result<bool> {
    let temp = temporary(path, bytes, access)?;
    match temp.persist_noclobber(path) {
        Ok(_) => {
            sync_folder(path)?;
            Ok(true)
        }
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error),
    }
}

fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The bytes in a synced temporary file in `path`'s folder (removed again
/// if anything fails before it is renamed).
fn temporary(path: &Path, bytes: &[u8], access: Access) -> io::Result<tempfile::NamedTempFile> {
    let dir = folder(path);
    fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match access {
            Access::Private => 0o600,
            Access::Shared => 0o644,
        };
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = access;
    let mut temp = builder.tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    Ok(temp)
}

fn sync_folder(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    fs::File::open(folder(path))?.sync_all()?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        write(&path, b"old", Access::Private).expect("first");
        write(&path, b"new", Access::Private).expect("second");
        assert_eq!(fs::read(&path).expect("read"), b"new");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            write(&path, b"shared", Access::Shared).expect("shared");
            let mode = fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn create_keeps_a_file_already_there() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("key");
        assert!(create(&path, b"first", Access::Private).expect("first"));
        assert!(!create(&path, b"second", Access::Private).expect("second"));
        assert_eq!(fs::read(&path).expect("read"), b"first");
    }
}
