//! Who wrote a change (DESIGN §6).
//!
//! Every change a device writes has the device's ed25519 public key as its
//! Automerge actor, so the actor names the device: its libp2p peer id (the
//! roster's key) is derived from those 32 bytes. The device signs the
//! newest change it wrote in each document (a [`Seal`]); change hashes
//! chain, so the seal covers every earlier change of that actor in the
//! document too. Seals are stored beside the document and travel with its
//! changes on every path ([`Sealed`]): a change whose actor is not a roster
//! device, or that no valid seal of its actor covers, is never applied.

use std::cell::RefCell;
use std::collections::HashMap;

use automerge::{ActorId, ChangeHash};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// What a seal signs: a domain tag, the document id and the change hash,
/// so a seal cannot be replayed for another document.
fn signed_bytes(doc_id: &str, hash: &ChangeHash) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(24 + doc_id.len() + 32);
    bytes.extend_from_slice(b"meshdesk/change/v1\0");
    bytes.extend_from_slice(doc_id.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(&hash.0);
    bytes
}

/// This device's signing key: the secret half of its libp2p identity.
#[derive(Clone)]
pub struct DeviceKey(SigningKey);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DeviceKey").field(&self.device()).finish()
    }
}

impl DeviceKey {
    /// The key whose 32-byte ed25519 secret is `secret`.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        DeviceKey(SigningKey::from_bytes(&secret))
    }

    /// A fresh random key (tests, benchmarks, a device's first start).
    pub fn generate() -> Self {
        Self::from_secret(rand::random())
    }

    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The Automerge actor every change of this device carries.
    pub fn actor(&self) -> ActorId {
        ActorId::from(self.public().as_slice())
    }

    /// The device's peer id, as the roster spells it.
    pub fn device(&self) -> String {
        peer_id_of(&self.public())
    }

    /// The X25519 secret matching the Montgomery form of this device's
    /// public key (team keys are sealed to it).
    pub(crate) fn x25519_secret(&self) -> [u8; 32] {
        self.0.to_scalar_bytes()
    }

    /// Signs that this device wrote the change `hash` of `doc_id`.
    pub fn seal(&self, doc_id: &str, hash: &ChangeHash) -> Seal {
        let signature = self.0.sign(&signed_bytes(doc_id, hash));
        Seal {
            actor: self.public(),
            hash: hash.0,
            signature: signature.to_bytes().to_vec(),
        }
    }
}

/// What a device states about itself (presence, typing) is signed under a
/// tag of its own, so a statement can never pass for a change's seal.
fn statement_bytes(tag: &str, body: &[u8]) -> Vec<u8> {
    [b"meshdesk/statement/v1\0", tag.as_bytes(), b"\0", body].concat()
}

impl DeviceKey {
    /// Signs `body`, a statement of kind `tag` by this device.
    pub fn sign_statement(&self, tag: &str, body: &[u8]) -> Vec<u8> {
        self.0.sign(&statement_bytes(tag, body)).to_bytes().to_vec()
    }
}

/// Whether `signature` is `device`'s over the statement `body` of kind `tag`.
pub fn verify_statement(device: &str, tag: &str, body: &[u8], signature: &[u8]) -> bool {
    let Ok(public) = crate::team_key::device_public_key(device) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&public) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    key.verify_strict(
        &statement_bytes(tag, body),
        &ed25519_dalek::Signature::from_bytes(&bytes),
    )
    .is_ok()
}

/// The libp2p peer id (base58) of an ed25519 public key: the identity
/// multihash of its protobuf encoding (key type 1 = Ed25519, 32 bytes).
pub fn peer_id_of(public: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(38);
    bytes.extend_from_slice(&[0x00, 0x24, 0x08, 0x01, 0x12, 0x20]);
    bytes.extend_from_slice(public);
    bs58::encode(bytes).into_string()
}

/// The device (peer id) an actor names, if it is 32 bytes long (whether it
/// is a valid key at all is settled by its seal, which must verify).
pub fn device_of_actor(actor: &ActorId) -> Option<String> {
    let public: [u8; 32] = actor.to_bytes().try_into().ok()?;
    Some(peer_id_of(&public))
}

/// A device's signature over its newest change in one document.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Seal {
    /// The signer's public key (= the change's actor).
    pub actor: [u8; 32],
    pub hash: [u8; 32],
    /// 64 bytes (serde has no 64-byte arrays).
    pub signature: Vec<u8>,
}

/// Why a seal or a sealed payload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error("the seal's key is not an ed25519 key")]
    BadKey,
    #[error("the seal's signature is malformed")]
    Malformed,
    #[error("the seal's signature does not verify")]
    Forged,
    #[error("undecodable sealed payload: {0}")]
    Undecodable(String),
    #[error("{0} seals in one payload (at most {MAX_SEALS})")]
    TooManySeals(usize),
}

impl Seal {
    pub fn actor_id(&self) -> ActorId {
        ActorId::from(self.actor.as_slice())
    }

    pub fn change(&self) -> ChangeHash {
        ChangeHash(self.hash)
    }

    /// Checks the signature for `doc_id`.
    pub fn verify(&self, doc_id: &str) -> Result<(), SealError> {
        let key = verifying_key(&self.actor)?;
        let bytes: [u8; 64] = self
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| SealError::Malformed)?;
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        key.verify_strict(&signed_bytes(doc_id, &self.change()), &signature)
            .map_err(|_| SealError::Forged)
    }
}

/// The key of `actor`, decompressed once per thread: a team has a few
/// devices and a first sync checks one seal per writer per document.
fn verifying_key(actor: &[u8; 32]) -> Result<VerifyingKey, SealError> {
    /// Past this many keys the cache starts again (a bound, not an LRU).
    const KEPT: usize = 1024;
    thread_local! {
        static KEYS: RefCell<HashMap<[u8; 32], VerifyingKey>> = RefCell::new(HashMap::new());
    }
    KEYS.with_borrow_mut(|keys| {
        if let Some(key) = keys.get(actor) {
            return Ok(*key);
        }
        let key = VerifyingKey::from_bytes(actor).map_err(|_| SealError::BadKey)?;
        if keys.len() >= KEPT {
            keys.clear();
        }
        keys.insert(*actor, key);
        Ok(key)
    })
}

/// At most this many seals travel with one payload (one per actor that
/// wrote the document; a document with more writers is refused).
pub const MAX_SEALS: usize = 4096;

/// Automerge bytes (a sync message or a whole document) with the seals of
/// the actors whose changes they carry.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Sealed {
    pub seals: Vec<Seal>,
    pub bytes: Vec<u8>,
}

impl Sealed {
    pub fn encode(&self) -> Vec<u8> {
        // Plain structs of byte arrays always serialise.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Sealed, SealError> {
        let (sealed, rest): (Sealed, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|e| SealError::Undecodable(e.to_string()))?;
        if !rest.is_empty() {
            return Err(SealError::Undecodable(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        if sealed.seals.len() > MAX_SEALS {
            return Err(SealError::TooManySeals(sealed.seals.len()));
        }
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_verifies_for_its_document_only_and_not_when_altered() {
        let key = DeviceKey::generate();
        let hash = ChangeHash([7; 32]);
        let seal = key.seal("contact:01ARZ3NDEKTSV4RRFFQ69G5FAV", &hash);
        assert_eq!(seal.verify("contact:01ARZ3NDEKTSV4RRFFQ69G5FAV"), Ok(()));
        assert_eq!(
            seal.verify("contact:01ARZ3NDEKTSV4RRFFQ69G5FAW"),
            Err(SealError::Forged)
        );
        let mut other_hash = seal.clone();
        other_hash.hash = [8; 32];
        assert_eq!(
            other_hash.verify("contact:01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            Err(SealError::Forged)
        );
        let mut other_key = seal.clone();
        other_key.actor = DeviceKey::generate().public();
        assert_eq!(
            other_key.verify("contact:01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            Err(SealError::Forged)
        );
        let mut short = seal;
        short.signature.pop();
        assert_eq!(
            short.verify("contact:01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            Err(SealError::Malformed)
        );
    }

    #[test]
    fn a_statement_verifies_for_its_device_tag_and_body_only() {
        let key = DeviceKey::generate();
        let other = DeviceKey::generate();
        let signature = key.sign_statement("presence", b"available");
        assert!(verify_statement(
            &key.device(),
            "presence",
            b"available",
            &signature
        ));
        assert!(!verify_statement(
            &other.device(),
            "presence",
            b"available",
            &signature
        ));
        assert!(!verify_statement(
            &key.device(),
            "typing",
            b"available",
            &signature
        ));
        assert!(!verify_statement(
            &key.device(),
            "presence",
            b"offline",
            &signature
        ));
        assert!(!verify_statement(
            &key.device(),
            "presence",
            b"available",
            &signature[..63]
        ));
        assert!(!verify_statement(
            "nobody",
            "presence",
            b"available",
            &signature
        ));
    }

    #[test]
    fn the_actor_names_the_device() {
        let key = DeviceKey::generate();
        assert_eq!(device_of_actor(&key.actor()), Some(key.device()));
        assert!(key.device().starts_with("12D3KooW"), "{}", key.device());
        assert_eq!(device_of_actor(&ActorId::from(&[1u8; 16][..])), None);
    }

    #[test]
    fn sealed_payloads_round_trip_and_garbage_is_an_error() {
        let key = DeviceKey::generate();
        let sealed = Sealed {
            seals: vec![key.seal("team:x", &ChangeHash([1; 32]))],
            bytes: vec![1, 2, 3],
        };
        assert_eq!(Sealed::decode(&sealed.encode()), Ok(sealed));
        assert!(Sealed::decode(&[0xff; 9]).is_err());
    }
}
