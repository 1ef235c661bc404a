//! Mailbox passwords, per device: `<data-dir>/mail-secrets.json`, each one
//! sealed with ChaCha20-Poly1305 under a key only this device can derive
//! (BLAKE3 of its ed25519 signature over a fixed statement: signatures are
//! deterministic, and only the device's secret key makes it). Never in a
//! replicated document, never logged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use meshdesk_model::CampaignId;
use serde::{Deserialize, Serialize};

use super::MailError;

const FILE: &str = "mail-secrets.json";
const STATEMENT: &str = "meshdesk/mail-secrets-key/v1";

#[derive(Default, Serialize, Deserialize)]
struct File {
    /// Campaign id → hex(nonce ‖ ciphertext).
    passwords: BTreeMap<String, String>,
}

/// The passwords this device holds.
pub struct Secrets {
    path: PathBuf,
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("path", &self.path).finish()
    }
}

fn secret_error(path: &Path, e: impl std::fmt::Display) -> MailError {
    MailError::Secrets(format!("{}: {e}", path.display()))
}

impl Secrets {
    /// The secrets of the device whose data dir this is.
    pub fn open(data_dir: &Path) -> Result<Secrets, MailError> {
        let key = meshdesk_sync::identity::load_device_key(data_dir)
            .map_err(|e| MailError::Secrets(e.to_string()))?;
        let signature = key.sign_statement(STATEMENT, b"");
        let derived = blake3::derive_key(STATEMENT, &signature);
        Ok(Secrets {
            path: data_dir.join(FILE),
            cipher: ChaCha20Poly1305::new(Key::from_slice(&derived)),
        })
    }

    fn load(&self) -> Result<File, MailError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| secret_error(&self.path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
            Err(e) => Err(secret_error(&self.path, e)),
        }
    }

    fn save(&self, file: &File) -> Result<(), MailError> {
        let bytes = serde_json::to_vec_pretty(file).map_err(|e| secret_error(&self.path, e))?;
        meshdesk_model::durable::write(&self.path, &bytes, meshdesk_model::durable::Access::Private)
            .map_err(|e| secret_error(&self.path, e))
    }

    /// Keeps the password of a campaign's mailbox on this device.
    pub fn set(&self, campaign: CampaignId, password: &str) -> Result<(), MailError> {
        let mut nonce = [0u8; 12];
        rand::fill(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), password.as_bytes())
            .map_err(|_| MailError::Secrets("sealing the password failed".into()))?;
        let mut file = self.load()?;
        let mut blob = nonce.to_vec();
        blob.extend(sealed);
        file.passwords
            .insert(campaign.to_string(), hex::encode(blob));
        self.save(&file)
    }

    /// Forgets a campaign's password on this device.
    pub fn remove(&self, campaign: CampaignId) -> Result<(), MailError> {
        let mut file = self.load()?;
        if file.passwords.remove(&campaign.to_string()).is_some() {
            self.save(&file)?;
        }
        Ok(())
    }

    /// The password of a campaign's mailbox, if this device holds it.
    pub fn get(&self, campaign: CampaignId) -> Result<Option<String>, MailError> {
        let file = self.load()?;
        let Some(raw) = file.passwords.get(&campaign.to_string()) else {
            return Ok(None);
        };
        let blob = hex::decode(raw).map_err(|e| secret_error(&self.path, e))?;
        if blob.len() < 12 {
            return Err(secret_error(&self.path, "a sealed password is too short"));
        }
        let (nonce, sealed) = blob.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| {
                secret_error(
                    &self.path,
                    "a password does not open with this device's key (copied from another device?)",
                )
            })?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|e| secret_error(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_round_trips_and_is_not_stored_in_clear() {
        let dir = tempfile::tempdir().expect("dir");
        meshdesk_sync::identity::load_or_create(dir.path()).expect("key");
        let s = Secrets::open(dir.path()).expect("open");
        let c = CampaignId::new();
        assert_eq!(s.get(c).expect("get"), None);
        s.set(c, "hunter2-secret").expect("set");
        assert_eq!(s.get(c).expect("get").as_deref(), Some("hunter2-secret"));
        let raw = std::fs::read_to_string(dir.path().join(FILE)).expect("file");
        assert!(!raw.contains("hunter2"));
        s.remove(c).expect("remove");
        assert_eq!(s.get(c).expect("get"), None);
    }
}
