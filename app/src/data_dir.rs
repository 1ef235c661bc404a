//! The layout of a node's home: one store, the device key, the team key, the control socket.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The given directory, or the platform data dir (e.g. `~/.local/share/meshdesk`).
    pub fn resolve(given: Option<PathBuf>) -> io::Result<DataDir> {
        let root = match given {
            Some(p) => p,
            None => directories::ProjectDirs::from("", "", "meshdesk")
                .map(|d| d.data_dir().to_path_buf())
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        "no home directory; pass --data-dir",
                    )
                })?,
        };
        Ok(DataDir { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the directory (owner-only) if it is missing.
    pub fn ensure(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.root)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }

    pub fn store_path(&self) -> PathBuf {
        self.root.join("meshdesk.redb")
    }

    pub fn control_socket(&self) -> PathBuf {
        self.root.join("control.sock")
    }

    /// GUI settings (window size, last tab, sound).
    pub fn settings_path(&self) -> PathBuf {
        self.root.join("settings.json")
    }
}
