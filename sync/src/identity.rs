//! The device's identity: an ed25519 key pair whose public key is the
//! device's libp2p peer id (DESIGN §6).
//!
//! The key pair lives in `<data_dir>/device.key`, in libp2p's protobuf
//! encoding, readable by its owner only (mode 0600). It is created on first use
//! and never rewritten afterwards: the peer id is the device's name on the
//! team roster, so losing the file means joining the team again.

use std::fs;
use std::path::{Path, PathBuf};

use libp2p::identity::Keypair;
use meshdesk_model::durable::{self, Access};

/// The file name of the key pair inside the data directory.
pub const KEY_FILE: &str = "device.key";

/// Why the device key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read the device key {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the device key {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the device key {path} is corrupt ({reason}); move it away to create a new identity")]
    Corrupt { path: PathBuf, reason: String },
    #[error("the device key {path} is not an ed25519 key")]
    NotEd25519 { path: PathBuf },
}

/// The path of the key file in `data_dir`.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// Loads the device key pair from `<data_dir>/device.key`, creating the
/// directory and a fresh ed25519 key pair if there is none yet.
pub fn load_or_create(data_dir: &Path) -> Result<Keypair, IdentityError> {
    let path = key_path(data_dir);
    match fs::read(&path) {
        Ok(bytes) => decode(&path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(data_dir, &path),
        Err(source) => Err(IdentityError::Read { path, source }),
    }
}

/// Loads the device key pair if one exists; `Ok(None)` when there is none.
pub fn load(data_dir: &Path) -> Result<Option<Keypair>, IdentityError> {
    let path = key_path(data_dir);
    match fs::read(&path) {
        Ok(bytes) => decode(&path, &bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(IdentityError::Read { path, source }),
    }
}

/// The key this device signs its changes with: the secret half of its
/// identity, so the actor of its changes names its peer id.
pub fn device_key(
    keypair: &Keypair,
) -> Result<meshdesk_model::authorship::DeviceKey, IdentityError> {
    let ed = keypair
        .clone()
        .try_into_ed25519()
        .map_err(|_| IdentityError::NotEd25519 {
            path: PathBuf::from(KEY_FILE),
        })?;
    let mut secret = [0u8; 32];
    secret.copy_from_slice(ed.secret().as_ref());
    Ok(meshdesk_model::authorship::DeviceKey::from_secret(secret))
}

/// Loads (or creates) the device key pair of `data_dir` and returns its signing key.
pub fn load_device_key(
    data_dir: &Path,
) -> Result<meshdesk_model::authorship::DeviceKey, IdentityError> {
    device_key(&load_or_create(data_dir)?)
}

/// The peer id of a key pair as the roster spells it (base58).
pub fn peer_id_string(keypair: &Keypair) -> String {
    keypair.public().to_peer_id().to_base58()
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Keypair, IdentityError> {
    let keypair = Keypair::from_protobuf_encoding(bytes).map_err(|e| IdentityError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if keypair.clone().try_into_ed25519().is_err() {
        return Err(IdentityError::NotEd25519 {
            path: path.to_path_buf(),
        });
    }
    Ok(keypair)
}

fn create(data_dir: &Path, path: &Path) -> Result<Keypair, IdentityError> {
    let write_err = |source| IdentityError::Write {
        path: path.to_path_buf(),
        source,
    };
    fs::create_dir_all(data_dir).map_err(write_err)?;
    let keypair = Keypair::generate_ed25519();
    let bytes = keypair
        .to_protobuf_encoding()
        .map_err(|e| IdentityError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    // Owner-only from the first byte, whole or not at all; two processes
    // creating the key at once must both end with the first one's key.
    if !durable::create(path, &bytes, Access::Private).map_err(write_err)? {
        let bytes = fs::read(path).map_err(|source| IdentityError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        return decode(path, &bytes);
    }
    tracing::info!(peer = %peer_id_string(&keypair), path = %path.display(), "created device key");
    Ok(keypair)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_reloaded() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("nested");
        assert!(load(&data)?.is_none());
        let first = load_or_create(&data)?;
        let second = load_or_create(&data)?;
        assert_eq!(peer_id_string(&first), peer_id_string(&second));
        assert!(peer_id_string(&first).starts_with("12D3KooW"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(key_path(&data))?.permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Ok(())
    }

    #[test]
    fn the_signing_key_names_the_same_device_as_the_peer_id() -> Result<(), IdentityError> {
        let keypair = Keypair::generate_ed25519();
        let key = device_key(&keypair)?;
        assert_eq!(key.device(), peer_id_string(&keypair));
        assert_eq!(
            meshdesk_model::authorship::device_of_actor(&key.actor()),
            Some(peer_id_string(&keypair))
        );
        Ok(())
    }

    #[test]
    fn corrupt_key_is_refused_not_replaced() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        fs::write(key_path(dir.path()), b"garbage")?;
        let err = load_or_create(dir.path())
            .err()
            .ok_or("corrupt key accepted")?;
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert_eq!(fs::read(key_path(dir.path()))?, b"garbage");
        Ok(())
    }
}
