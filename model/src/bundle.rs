//! Bundles: the team's documents in a file, carried by hand between devices
//! that never meet on a network (a field agent's laptop, a site with no link).
//!
//! A bundle is exactly what whole-document transfer sends a peer — each
//! document's stored Automerge bytes with its writers' seals
//! ([`crate::authorship::Sealed`]) — sealed with the team key. Importing one
//! goes through [`crate::store::Store::import_bundle`], the same checks as a
//! document received from a peer (seals, actors on the roster, write rules,
//! bounds): a bundle is just another peer.
//!
//! Layout:
//!
//! ```text
//! "MDBUNDLE"            8 bytes, the magic
//! format version        u16, little-endian (this is 1)
//! header length         u32, little-endian (at most 64 KiB)
//! header                JSON (BundleHeader): team, exporting device, date,
//!                       the team key's fingerprint, a random salt, counts
//! sealed body           ChaCha20-Poly1305 of the postcard-encoded documents,
//!                       the 16-byte tag last
//! ```
//!
//! The AEAD key is derived from the team key and the bundle's salt with a
//! BLAKE3 context of its own, so it is fresh for every bundle (the nonce is
//! fixed) and a bundle key is never a key used anywhere else. Everything
//! before the body is its associated data: a changed header byte fails
//! authentication like a changed body byte. The header is readable without
//! the key (so a device can say which team and which key a bundle needs);
//! the catalog the bundle covers — each document's id and heads — is inside
//! the sealed body, so no document id travels in clear.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use serde::{Deserialize, Serialize};

use crate::ids::{Millis, TeamId};
use crate::team_key;

/// The first bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"MDBUNDLE";
/// The format this version writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// The largest bundle read: it is held in memory whole while it is checked.
pub const MAX_BUNDLE_BYTES: u64 = 1024 * 1024 * 1024;
/// The largest header read.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// The most documents one bundle may name.
pub const MAX_DOCUMENTS: u32 = 10_000_000;
/// The file name extension bundles are offered under.
pub const EXTENSION: &str = "mdbundle";

const KDF_CONTEXT: &str = "meshdesk 2026 bundle body key v1";
const PREFIX_LEN: usize = MAGIC.len() + 2 + 4;
const TAG_LEN: usize = 16;

/// What a bundle says of itself, in clear (and authenticated).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleHeader {
    /// The team whose documents these are.
    pub team: TeamId,
    /// The device that wrote the bundle.
    pub device: String,
    pub created_at: Millis,
    /// Which team key sealed it ([`team_key::fingerprint`]): after a
    /// rotation, import picks the key of that fingerprint among those the
    /// device holds (in force or retired).
    pub key: String,
    /// The device whose last seen catalog the bundle was cut against, if
    /// it holds only what that device lacked.
    pub since_device: Option<String>,
    /// How many documents the body holds.
    pub documents: u32,
    /// Hex of the 32 random bytes the body's key is derived with.
    pub salt: String,
}

/// One document in a bundle: its id, the heads its bytes hold, and the
/// bytes as whole-document transfer carries them (a `Sealed` payload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleDoc {
    pub id: String,
    pub heads: Vec<[u8; 32]>,
    pub sealed: Vec<u8>,
}

/// Why a bundle cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("{path} is {size} bytes; bundles of more than {MAX_BUNDLE_BYTES} bytes are not read")]
    TooLarge { path: String, size: u64 },
    #[error("this is not a meshdesk bundle (it does not start with MDBUNDLE)")]
    NotABundle,
    #[error("the bundle is truncated: it ends before its header does")]
    Truncated,
    #[error(
        "the bundle is in format {0}, and this version of meshdesk reads format {FORMAT_VERSION}: update meshdesk to import it"
    )]
    Version(u16),
    #[error("the bundle's header is malformed: {0}")]
    BadHeader(String),
    #[error("this bundle belongs to another team ({bundle}); this device is in team {ours}")]
    OtherTeam { bundle: TeamId, ours: TeamId },
    #[error(
        "the bundle is sealed with a team key this device never held (key {0}); import it on a device that held that key"
    )]
    UnknownKey(String),
    #[error(
        "the bundle does not authenticate with the team key: it was altered or truncated after it was written"
    )]
    Damaged,
    #[error("the bundle's contents are malformed: {0}")]
    BadBody(String),
}

/// Writes a bundle of `docs` for `header`'s team, sealed with `team_key`.
/// `header.key`, `header.salt` and `header.documents` are set here.
pub fn seal(
    mut header: BundleHeader,
    docs: &[BundleDoc],
    team_key: &[u8; 32],
) -> Result<Vec<u8>, BundleError> {
    let salt: [u8; 32] = rand::random();
    header.key = team_key::fingerprint(team_key);
    header.salt = hex(&salt);
    header.documents = u32::try_from(docs.len())
        .ok()
        .filter(|n| *n <= MAX_DOCUMENTS)
        .ok_or_else(|| BundleError::BadBody(format!("{} documents is too many", docs.len())))?;
    let header_bytes =
        serde_json::to_vec(&header).map_err(|e| BundleError::BadHeader(e.to_string()))?;
    let header_len = u32::try_from(header_bytes.len())
        .ok()
        .filter(|n| *n as usize <= MAX_HEADER_BYTES)
        .ok_or_else(|| BundleError::BadHeader("the header is too long".into()))?;
    let mut out = Vec::with_capacity(PREFIX_LEN + header_bytes.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&header_bytes);
    let body = postcard::to_stdvec(docs).map_err(|e| BundleError::BadBody(e.to_string()))?;
    let sealed = cipher(team_key, &salt)
        .encrypt(
            &Default::default(),
            Payload {
                msg: &body,
                aad: &out,
            },
        )
        .map_err(|_| BundleError::BadBody("cannot seal the body".into()))?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// The header of `bytes` and where its sealed body starts. Reads no more
/// than the header says, after checking it is there.
pub fn read_header(bytes: &[u8]) -> Result<(BundleHeader, usize), BundleError> {
    if bytes.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(bytes) {
            BundleError::Truncated
        } else {
            BundleError::NotABundle
        });
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(BundleError::NotABundle);
    }
    let prefix = bytes.get(..PREFIX_LEN).ok_or(BundleError::Truncated)?;
    let version = u16::from_le_bytes([prefix[8], prefix[9]]);
    if version != FORMAT_VERSION {
        return Err(BundleError::Version(version));
    }
    let header_len = u32::from_le_bytes([prefix[10], prefix[11], prefix[12], prefix[13]]) as usize;
    if header_len > MAX_HEADER_BYTES {
        return Err(BundleError::BadHeader(format!(
            "it declares {header_len} bytes, more than {MAX_HEADER_BYTES}"
        )));
    }
    let end = PREFIX_LEN + header_len;
    let header_bytes = bytes.get(PREFIX_LEN..end).ok_or(BundleError::Truncated)?;
    let header: BundleHeader =
        serde_json::from_slice(header_bytes).map_err(|e| BundleError::BadHeader(e.to_string()))?;
    if header.documents > MAX_DOCUMENTS {
        return Err(BundleError::BadHeader(format!(
            "it declares {} documents, more than {MAX_DOCUMENTS}",
            header.documents
        )));
    }
    Ok((header, end))
}

/// Opens a bundle of `team`: the key is the one among `keys` (the team keys
/// this device holds, in force and retired) whose fingerprint the header
/// names. Nothing is decoded before the whole body authenticates.
pub fn open(
    bytes: &[u8],
    team: TeamId,
    keys: &[[u8; 32]],
) -> Result<(BundleHeader, Vec<BundleDoc>), BundleError> {
    let (header, body_start) = read_header(bytes)?;
    if header.team != team {
        return Err(BundleError::OtherTeam {
            bundle: header.team,
            ours: team,
        });
    }
    let key = keys
        .iter()
        .find(|k| team_key::fingerprint(k) == header.key)
        .ok_or_else(|| BundleError::UnknownKey(header.key.clone()))?;
    let salt = unhex(&header.salt)
        .ok_or_else(|| BundleError::BadHeader("the salt is not 32 bytes of hex".into()))?;
    let (aad, sealed) = bytes.split_at(body_start);
    if sealed.len() < TAG_LEN {
        return Err(BundleError::Damaged);
    }
    let body = cipher(key, &salt)
        .decrypt(&Default::default(), Payload { msg: sealed, aad })
        .map_err(|_| BundleError::Damaged)?;
    let docs: Vec<BundleDoc> =
        postcard::from_bytes(&body).map_err(|e| BundleError::BadBody(e.to_string()))?;
    if docs.len() != header.documents as usize {
        return Err(BundleError::BadBody(format!(
            "the header names {} documents and the body holds {}",
            header.documents,
            docs.len()
        )));
    }
    Ok((header, docs))
}

/// Reads a bundle file, refusing one larger than [`MAX_BUNDLE_BYTES`]
/// before reading it.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, BundleError> {
    use std::io::Read;
    let shown = path.display().to_string();
    let read_err = |e: std::io::Error| BundleError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let size = file.metadata().map_err(read_err)?.len();
    if size > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge { path: shown, size });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // The file may grow while it is read: never past the bound.
    file.take(MAX_BUNDLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge {
            path: shown,
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` whole or not at all, so a bundle is never seen
/// half-written; readable by this user alone (it holds the team's data).
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), BundleError> {
    if path.file_name().is_none() {
        return Err(BundleError::Write {
            path: path.display().to_string(),
            reason: "it names no file".into(),
        });
    }
    crate::durable::write(path, bytes, crate::durable::Access::Private).map_err(|e| {
        BundleError::Write {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    })
}

fn cipher(team_key: &[u8; 32], salt: &[u8; 32]) -> ChaCha20Poly1305 {
    let mut material = [0u8; 64];
    material[..32].copy_from_slice(team_key);
    material[32..].copy_from_slice(salt);
    ChaCha20Poly1305::new(&blake3::derive_key(KDF_CONTEXT, &material).into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(team: TeamId) -> BundleHeader {
        BundleHeader {
            team,
            device: "12D3KooW".into(),
            created_at: 1,
            key: String::new(),
            since_device: None,
            documents: 0,
            salt: String::new(),
        }
    }

    fn docs() -> Vec<BundleDoc> {
        vec![BundleDoc {
            id: "contact:01J".into(),
            heads: vec![[7; 32]],
            sealed: vec![1, 2, 3],
        }]
    }

    #[test]
    fn a_sealed_bundle_opens_with_its_key_and_gives_its_documents_back() {
        let team = TeamId::new();
        let key = [9u8; 32];
        let bytes = seal(header(team), &docs(), &key).expect("sealed");
        let (h, d) = open(&bytes, team, &[[1; 32], key]).expect("opened");
        assert_eq!(d, docs());
        assert_eq!(h.documents, 1);
        assert_eq!(h.key, team_key::fingerprint(&key));
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let team = TeamId::new();
        let key = [9u8; 32];
        let bytes = seal(header(team), &docs(), &key).expect("sealed");
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(open(&bad, team, &[key]).is_err(), "byte {i} flipped");
            assert!(open(&bytes[..i], team, &[key]).is_err(), "cut at {i}");
        }
    }

    #[test]
    fn another_team_another_key_and_other_files_get_their_own_errors() {
        let team = TeamId::new();
        let key = [9u8; 32];
        let bytes = seal(header(team), &docs(), &key).expect("sealed");
        assert!(matches!(
            open(&bytes, TeamId::new(), &[key]),
            Err(BundleError::OtherTeam { .. })
        ));
        assert!(matches!(
            open(&bytes, team, &[[3; 32]]),
            Err(BundleError::UnknownKey(_))
        ));
        assert!(matches!(
            open(b"PK\x03\x04 a zip file", team, &[key]),
            Err(BundleError::NotABundle)
        ));
        let mut future = bytes.clone();
        future[8] = 2;
        assert!(matches!(
            open(&future, team, &[key]),
            Err(BundleError::Version(2))
        ));
        let cut = &bytes[..bytes.len() - 1];
        assert!(matches!(open(cut, team, &[key]), Err(BundleError::Damaged)));
    }
}
