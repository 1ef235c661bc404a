//! Files attached to messages: content-addressed blobs kept beside the store,
//! outside the Automerge documents (DESIGN §8).
//!
//! A message names each file by an [`Attachment`]: the blake3 hash of its
//! bytes, its size, its type and its name. The bytes live in the data dir
//! under `blobs/<first two hex digits>/<the other 62>`, written to a
//! temporary file, synced and renamed into place, so a blob is either
//! whole or absent after a crash, and two writers of one blob (the node and
//! a CLI on the same data dir) write the same bytes under the same name.
//! The hash is checked when a blob is written and again when it is read:
//! a file changed on disk is reported, never served.
//!
//! The size limit is this device's ([`FilesSettings`], `files.json` in the
//! data dir, default [`DEFAULT_MAX_FILE_BYTES`]): it bounds what this node
//! accepts from a user, a gateway or a peer. The write rules bound what a
//! message may declare by a fixed ceiling ([`crate::bounds::MAX_FILE_BYTES`])
//! instead, since every node must judge a change alike.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The default for the largest file a node takes: 20 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// The blobs' folder in the data dir.
pub const BLOBS_DIR: &str = "blobs";
/// This device's file settings in the data dir.
pub const SETTINGS_FILE: &str = "files.json";

/// A blob's blake3 hash; written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobHash(pub [u8; 32]);

impl BlobHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> BlobHash {
        BlobHash(*blake3::hash(bytes).as_bytes())
    }

    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({})", self.to_hex())
    }
}

/// A string that is not 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a file hash (64 lowercase hex digits)")]
pub struct BadHash(pub String);

impl FromStr for BlobHash {
    type Err = BadHash;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !is_hash_hex(s) {
            return Err(BadHash(s.chars().take(80).collect()));
        }
        blake3::Hash::from_hex(s)
            .map(|h| BlobHash(*h.as_bytes()))
            .map_err(|_| BadHash(s.to_string()))
    }
}

/// Whether `s` is exactly 64 lowercase hex digits (the only spelling of a
/// hash a document may hold, so one file has one name everywhere).
pub fn is_hash_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Serialize for BlobHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for BlobHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A file a message carries: what the document records of it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Attachment {
    pub hash: BlobHash,
    pub size: u64,
    /// Its media type (`image/png`, `application/pdf`, …).
    pub mime: String,
    /// Its file name as sent (no folders).
    pub name: String,
}

impl Attachment {
    /// Whether the window shows it as a picture.
    pub fn is_image(&self) -> bool {
        matches!(
            self.mime.as_str(),
            "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/bmp"
        )
    }
}

/// Why a file could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the file is {size} bytes, over this node's limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("file {0} is not here")]
    Missing(BlobHash),
    #[error("file {hash} on disk does not match its hash (changed or damaged)")]
    Corrupt { hash: BlobHash },
    #[error("the bytes do not match hash {expected} (they hash to {actual})")]
    WrongBytes {
        expected: BlobHash,
        actual: BlobHash,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Settings { path: PathBuf, reason: String },
}

pub type BlobResult<T> = Result<T, BlobError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BlobError + '_ {
    move |source| BlobError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// This device's file settings (`files.json` in the data dir).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct FilesSettings {
    /// The largest file this node stores, sends or fetches, in bytes.
    pub max_file_bytes: u64,
}

impl Default for FilesSettings {
    fn default() -> Self {
        FilesSettings {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

impl FilesSettings {
    /// Reads `files.json` in `data_dir`; its absence means the defaults.
    /// A limit above the write rules' ceiling is lowered to it.
    pub fn load(data_dir: &Path) -> BlobResult<FilesSettings> {
        let path = data_dir.join(SETTINGS_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(FilesSettings::default());
            }
            Err(source) => return Err(BlobError::Io { path, source }),
        };
        let mut settings: FilesSettings =
            serde_json::from_str(&text).map_err(|e| BlobError::Settings {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        settings.max_file_bytes = settings.max_file_bytes.min(crate::bounds::MAX_FILE_BYTES);
        Ok(settings)
    }
}

/// The blobs of one data dir.
#[derive(Clone, Debug)]
pub struct BlobStore {
    dir: PathBuf,
    limit: u64,
}

impl BlobStore {
    /// The blob store of `data_dir`, with the limit its `files.json` sets.
    pub fn in_data_dir(data_dir: &Path) -> BlobResult<BlobStore> {
        let settings = FilesSettings::load(data_dir)?;
        Ok(BlobStore::new(
            data_dir.join(BLOBS_DIR),
            settings.max_file_bytes,
        ))
    }

    /// A blob store in `dir` taking files up to `limit` bytes.
    pub fn new(dir: PathBuf, limit: u64) -> BlobStore {
        BlobStore { dir, limit }
    }

    /// The largest file this store takes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Where blob `hash` lives (whether or not it is there).
    pub fn path_of(&self, hash: &BlobHash) -> PathBuf {
        let hex = hash.to_hex();
        self.dir.join(&hex[..2]).join(&hex[2..])
    }

    /// Whether blob `hash` is here (its size, if so). Not verified: see [`BlobStore::read`].
    pub fn size_of(&self, hash: &BlobHash) -> Option<u64> {
        fs::metadata(self.path_of(hash))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Refuses a size over the limit (or an empty file).
    pub fn check_size(&self, size: u64) -> BlobResult<()> {
        if size == 0 {
            Err(BlobError::Empty)
        } else if size > self.limit {
            Err(BlobError::TooLarge {
                size,
                limit: self.limit,
            })
        } else {
            Ok(())
        }
    }

    /// Stores `bytes`, returning their hash. Storing a blob already here
    /// writes nothing.
    pub fn put(&self, bytes: &[u8]) -> BlobResult<BlobHash> {
        let hash = BlobHash::of(bytes);
        self.put_as(hash, bytes)?;
        Ok(hash)
    }

    /// Stores `bytes` as blob `expected`, refusing bytes that hash to
    /// anything else (what a peer sends is checked this way).
    pub fn put_verified(&self, expected: BlobHash, bytes: &[u8]) -> BlobResult<()> {
        let actual = BlobHash::of(bytes);
        if actual != expected {
            return Err(BlobError::WrongBytes { expected, actual });
        }
        self.put_as(expected, bytes)
    }

    fn put_as(&self, hash: BlobHash, bytes: &[u8]) -> BlobResult<()> {
        self.check_size(bytes.len() as u64)?;
        let path = self.path_of(&hash);
        if self.size_of(&hash) == Some(bytes.len() as u64) {
            return Ok(());
        }
        // Customers' files: this user's alone (the data dir is 0700 too).
        crate::durable::write(&path, bytes, crate::durable::Access::Private).map_err(|source| {
            BlobError::Io {
                path: path.clone(),
                source,
            }
        })?;
        tracing::debug!(%hash, size = bytes.len(), "file stored");
        Ok(())
    }

    /// Reads a file from disk (at most the limit) and stores it.
    pub fn put_file(&self, path: &Path) -> BlobResult<(BlobHash, u64)> {
        let file = fs::File::open(path).map_err(io(path))?;
        let size = file.metadata().map_err(io(path))?.len();
        self.check_size(size)?;
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.take(self.limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io(path))?;
        let hash = self.put(&bytes)?;
        Ok((hash, bytes.len() as u64))
    }

    /// The bytes of blob `hash`, checked against it.
    pub fn read(&self, hash: &BlobHash) -> BlobResult<Vec<u8>> {
        let path = self.path_of(hash);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::Missing(*hash));
            }
            Err(source) => return Err(BlobError::Io { path, source }),
        };
        if BlobHash::of(&bytes) != *hash {
            tracing::warn!(%hash, "a stored file does not match its hash");
            return Err(BlobError::Corrupt { hash: *hash });
        }
        Ok(bytes)
    }
}

/// A file's media type from its first bytes, else its name's extension,
/// else `application/octet-stream`.
pub fn sniff_mime(name: &str, bytes: &[u8]) -> &'static str {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"BM", "image/bmp"),
    ];
    if let Some((_, mime)) = MAGIC.iter().find(|(m, _)| bytes.starts_with(m)) {
        return mime;
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return "image/webp";
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// A file name as a message keeps it: its last path component, without
/// control characters, at most [`crate::bounds::MAX_FILE_NAME_CHARS`]
/// characters; `file` when nothing is left.
pub fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let name: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(crate::bounds::MAX_FILE_NAME_CHARS)
        .collect();
    let name = name.trim().to_string();
    if name.is_empty() || name == "." || name == ".." {
        "file".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_as_lowercase_hex_only() {
        let h = BlobHash::of(b"hello");
        assert_eq!(h.to_hex().parse::<BlobHash>().ok(), Some(h));
        assert!(h.to_hex().to_uppercase().parse::<BlobHash>().is_err());
        assert!("abc".parse::<BlobHash>().is_err());
    }

    #[test]
    fn names_lose_folders_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\a\\photo.png"), "photo.png");
        assert_eq!(clean_name("a\u{1b}[31mb.txt"), "a[31mb.txt");
        assert_eq!(clean_name(".."), "file");
    }
}
