//! The team key's rotations (DESIGN §5, §6): when a device is revoked, a
//! supervisor's node makes a new team key and hands it to every remaining
//! device through the team document, sealed to that device's own key.
//!
//! Sealing: an ephemeral X25519 key agrees with the recipient's X25519 key
//! (the Montgomery form of its ed25519 device key, so no second key has to be
//! registered), BLAKE3 derives the AEAD key from the shared secret and both
//! public halves, and ChaCha20-Poly1305 encrypts the 32 key bytes with the
//! rotation's id and the recipient as associated data, so a sealed key cannot
//! be moved to another rotation or device. Using one key pair for signing
//! and for this KEM is analysed as safe in "On using the same key pair for
//! Ed25519 and an X25519 based KEM" (eprint 2021/509).

use std::collections::BTreeSet;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use curve25519_dalek::MontgomeryPoint;
use ed25519_dalek::VerifyingKey;

use crate::authorship::DeviceKey;
use crate::ids::Millis;
use crate::types::{Role, Team, TeamKey};

const KDF_CONTEXT: &str = "meshdesk 2026 team key sealed to a device v1";
/// Ephemeral public key, then the 32 key bytes and the 16-byte tag.
pub const SEALED_LEN: usize = 32 + 32 + 16;

/// Why a sealed team key cannot be made or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySealError {
    #[error("{0} is not a device id")]
    NotADevice(String),
    #[error("the sealed key is {0} bytes, not {SEALED_LEN}")]
    Length(usize),
    #[error("the sealed key does not open with this device's key")]
    Opaque,
}

/// The 32-byte ed25519 key a device id (libp2p peer id of an ed25519 key) names.
pub fn device_public_key(device: &str) -> Result<[u8; 32], KeySealError> {
    let bad = || KeySealError::NotADevice(device.chars().take(64).collect());
    let bytes = bs58::decode(device).into_vec().map_err(|_| bad())?;
    match bytes.split_at_checked(6) {
        Some(([0x00, 0x24, 0x08, 0x01, 0x12, 0x20], key)) => key.try_into().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn aead_key(
    ephemeral: &MontgomeryPoint,
    recipient: &MontgomeryPoint,
    shared: &[u8; 32],
) -> [u8; 32] {
    let mut material = [0u8; 96];
    material[..32].copy_from_slice(ephemeral.as_bytes());
    material[32..64].copy_from_slice(recipient.as_bytes());
    material[64..].copy_from_slice(shared);
    blake3::derive_key(KDF_CONTEXT, &material)
}

fn associated(rotation: &str, device: &str) -> Vec<u8> {
    [rotation.as_bytes(), b"\0", device.as_bytes()].concat()
}

/// Seals `key` for `device` as part of rotation `rotation`.
pub fn seal_for(device: &str, rotation: &str, key: &[u8; 32]) -> Result<Vec<u8>, KeySealError> {
    let public = VerifyingKey::from_bytes(&device_public_key(device)?)
        .map_err(|_| KeySealError::NotADevice(device.into()))?;
    let recipient = public.to_montgomery();
    let secret: [u8; 32] = rand::random();
    let ephemeral = MontgomeryPoint::mul_base_clamped(secret);
    let shared = recipient.mul_clamped(secret);
    let cipher = ChaCha20Poly1305::new(&aead_key(&ephemeral, &recipient, &shared.0).into());
    let aad = associated(rotation, device);
    // The AEAD key is fresh for every seal, so a fixed nonce is never reused.
    let sealed = cipher
        .encrypt(
            &Default::default(),
            Payload {
                msg: key,
                aad: &aad,
            },
        )
        .map_err(|_| KeySealError::Opaque)?;
    Ok([ephemeral.as_bytes().as_slice(), &sealed].concat())
}

impl DeviceKey {
    /// Opens a team key sealed to this device by [`seal_for`].
    pub fn open_team_key(&self, rotation: &str, sealed: &[u8]) -> Result<[u8; 32], KeySealError> {
        let (ephemeral, body) = sealed
            .split_at_checked(32)
            .filter(|_| sealed.len() == SEALED_LEN)
            .ok_or(KeySealError::Length(sealed.len()))?;
        let ephemeral = MontgomeryPoint(ephemeral.try_into().map_err(|_| KeySealError::Opaque)?);
        let shared = ephemeral.mul_clamped(self.x25519_secret());
        let recipient = MontgomeryPoint::mul_base_clamped(self.x25519_secret());
        let cipher = ChaCha20Poly1305::new(&aead_key(&ephemeral, &recipient, &shared.0).into());
        let aad = associated(rotation, &self.device());
        let key = cipher
            .decrypt(
                &Default::default(),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| KeySealError::Opaque)?;
        key.try_into().map_err(|_| KeySealError::Opaque)
    }
}

/// A short public name for a team key, so a device can tell which rotation
/// the key it holds belongs to without anyone revealing a key.
pub fn fingerprint(key: &[u8; 32]) -> String {
    let hash = blake3::derive_key("meshdesk 2026 team key fingerprint v1", key);
    hash[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A new rotation: a fresh key sealed to every device of `team` that is not
/// revoked. `made_by` is the supervisor device making it.
pub fn rotate(
    team: &Team,
    made_by: &str,
    now: Millis,
) -> Result<([u8; 32], TeamKey), KeySealError> {
    let generation = team.current_key().map_or(1, |k| k.generation + 1);
    let nonce: u64 = rand::random();
    let id = format!("{generation:010}-{nonce:016x}");
    let key: [u8; 32] = rand::random();
    let mut sealed = std::collections::BTreeMap::new();
    for member in team.members.values().filter(|m| !m.revoked) {
        sealed.insert(member.device.clone(), seal_for(&member.device, &id, &key)?);
    }
    let excludes: BTreeSet<String> = team
        .members
        .values()
        .filter(|m| m.revoked)
        .map(|m| m.device.clone())
        .collect();
    let rotation = TeamKey {
        id,
        generation,
        made_by: made_by.into(),
        made_at: now,
        fingerprint: fingerprint(&key),
        excludes,
        sealed,
    };
    Ok((key, rotation))
}

impl Team {
    /// The rotation in force: the highest generation (ties broken by id, the
    /// same on every node).
    pub fn current_key(&self) -> Option<&TeamKey> {
        self.keys
            .values()
            .max_by(|a, b| (a.generation, &a.id).cmp(&(b.generation, &b.id)))
    }

    /// Whether some revoked device may still hold the key in force: the
    /// first revocation, a revocation after the last rotation, or two
    /// rotations made concurrently where the winner missed a revocation.
    pub fn needs_key_rotation(&self) -> bool {
        let excluded = self.current_key().map(|k| &k.excludes);
        self.members
            .values()
            .filter(|m| m.revoked)
            .any(|m| excluded.is_none_or(|e| !e.contains(&m.device)))
    }

    /// Whether `device` is a supervisor, not revoked, and so makes rotations.
    pub fn rotates_keys(&self, device: &str) -> bool {
        self.members
            .get(device)
            .is_some_and(|m| !m.revoked && m.role == Role::Supervisor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::team::tests::sample_team;

    #[test]
    fn a_sealed_key_opens_only_for_its_device_and_rotation() -> Result<(), KeySealError> {
        let device = DeviceKey::generate();
        let other = DeviceKey::generate();
        let key = [9u8; 32];
        let sealed = seal_for(&device.device(), "0000000002-ab", &key)?;
        assert_eq!(sealed.len(), SEALED_LEN);
        assert_eq!(device.open_team_key("0000000002-ab", &sealed), Ok(key));
        assert_eq!(
            other.open_team_key("0000000002-ab", &sealed),
            Err(KeySealError::Opaque)
        );
        assert_eq!(
            device.open_team_key("0000000003-ab", &sealed),
            Err(KeySealError::Opaque)
        );
        let mut tampered = sealed.clone();
        tampered[40] ^= 1;
        assert_eq!(
            device.open_team_key("0000000002-ab", &tampered),
            Err(KeySealError::Opaque)
        );
        assert_eq!(
            device.open_team_key("0000000002-ab", &sealed[..40]),
            Err(KeySealError::Length(40))
        );
        Ok(())
    }

    #[test]
    fn a_device_id_names_its_public_key() {
        let device = DeviceKey::generate();
        assert_eq!(device_public_key(&device.device()), Ok(device.public()));
        assert!(device_public_key("not-a-peer-id").is_err());
        assert!(device_public_key("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N").is_err());
    }

    #[test]
    fn a_revocation_asks_for_a_rotation_that_then_leaves_the_revoked_device_out()
    -> Result<(), KeySealError> {
        let mut team = sample_team();
        let keys: Vec<DeviceKey> = (0..3).map(|_| DeviceKey::generate()).collect();
        let template = team.members.values().next().cloned();
        let Some(template) = template else {
            panic!("the sample team has members");
        };
        team.members.clear();
        for (i, k) in keys.iter().enumerate() {
            let mut m = template.clone();
            m.device = k.device();
            m.role = if i == 0 {
                Role::Supervisor
            } else {
                Role::Agent
            };
            team.members.insert(k.device(), m);
        }
        assert!(!team.needs_key_rotation());
        if let Some(m) = team.members.get_mut(&keys[2].device()) {
            m.revoked = true;
        }
        assert!(team.needs_key_rotation());
        assert!(team.rotates_keys(&keys[0].device()));
        assert!(!team.rotates_keys(&keys[1].device()));
        let (key, rotation) = rotate(&team, &keys[0].device(), 1)?;
        assert_eq!(rotation.generation, 1);
        assert!(!rotation.sealed.contains_key(&keys[2].device()));
        let Some(for_agent) = rotation.sealed.get(&keys[1].device()) else {
            panic!("the remaining agent gets the key");
        };
        assert_eq!(keys[1].open_team_key(&rotation.id, for_agent), Ok(key));
        assert_eq!(rotation.fingerprint, fingerprint(&key));
        team.keys.insert(rotation.id.clone(), rotation);
        assert!(!team.needs_key_rotation());
        let (_, next) = rotate(&team, &keys[0].device(), 2)?;
        assert_eq!(next.generation, 2);
        Ok(())
    }
}
