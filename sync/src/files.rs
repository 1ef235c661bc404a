//! The file protocol: how a node fetches a file a message names from a
//! teammate that has it (DESIGN §8).
//!
//! One libp2p stream per request, protocol [`FILE_PROTOCOL`], beside the
//! sync stream:
//!
//! ```text
//! asker  → [version: u8 = 1][blake3 hash: 32 bytes][most bytes it takes: u64 BE]
//! holder → [status: u8][size: u64 BE] then, for `OK`, exactly `size` bytes
//! ```
//!
//! Bounded on both sides: the asker names the most it takes (its own limit,
//! `files.json`) and refuses a larger size before reading a byte; it reads
//! at most that, under a deadline that grows with the size, and keeps the
//! bytes only if they hash to what it asked for. The holder answers only
//! roster devices that are not revoked, at most [`MAX_SERVING`] at a time,
//! and only with bytes that still match their hash on its disk.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{PeerId, Stream, StreamProtocol};
use meshdesk_model::blobs::{BlobError, BlobHash, BlobStore};

/// The file protocol's name.
pub const FILE_PROTOCOL: StreamProtocol = StreamProtocol::new("/meshdesk/file/1");
const VERSION: u8 = 1;
const REQUEST_LEN: usize = 1 + 32 + 8;
/// How many requests a node answers at once; more wait for a slot.
pub const MAX_SERVING: usize = 4;
/// How long an asker has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The time allowed for a transfer: this, plus one second per MiB.
const TRANSFER_BASE: Duration = Duration::from_secs(15);

/// The holder's answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    Ok = 0,
    NotHere = 1,
    /// Larger than the asker takes (the size follows).
    TooLarge = 2,
}

impl Status {
    fn from_u8(b: u8) -> Option<Status> {
        match b {
            0 => Some(Status::Ok),
            1 => Some(Status::NotHere),
            2 => Some(Status::TooLarge),
            _ => None,
        }
    }
}

/// Why one peer did not give a file.
#[derive(Debug, thiserror::Error)]
pub enum PeerFetchError {
    #[error("cannot open a file stream: {0}")]
    Open(String),
    #[error("the stream failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("the peer does not have it")]
    NotHere,
    #[error("the file is {size} bytes, over this node's limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("the peer answered with an unknown status {0}")]
    BadStatus(u8),
    #[error("the peer sent other bytes than the file's: {0}")]
    WrongBytes(BlobError),
}

/// Why a file could not be fetched at all.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("file {0} is not on this device and no teammate is connected to fetch it from")]
    NoPeers(BlobHash),
    #[error("file {hash} is not on this device, and no connected teammate gave it ({tried} asked)")]
    NotFound { hash: BlobHash, tried: usize },
    #[error(transparent)]
    Blob(#[from] BlobError),
}

impl FetchError {
    /// Whether it is about the file asked for, not this node's disk.
    pub fn is_user_error(&self) -> bool {
        !matches!(
            self,
            FetchError::Blob(
                BlobError::Io { .. } | BlobError::Corrupt { .. } | BlobError::Settings { .. }
            )
        )
    }
}

/// The devices allowed to fetch files from this node (roster devices not
/// revoked), kept by the actor whenever the team changes.
#[derive(Clone, Debug, Default)]
pub struct Members(Arc<RwLock<HashSet<PeerId>>>);

impl Members {
    pub fn set(&self, peers: HashSet<PeerId>) {
        if let Ok(mut members) = self.0.write() {
            *members = peers;
        }
    }

    pub fn contains(&self, peer: &PeerId) -> bool {
        self.0.read().is_ok_and(|m| m.contains(peer))
    }
}

fn transfer_timeout(size: u64) -> Duration {
    TRANSFER_BASE + Duration::from_secs(size / (1024 * 1024))
}

/// Answers file requests from teammates until `incoming` ends.
pub async fn serve(
    mut incoming: libp2p_stream::IncomingStreams,
    blobs: BlobStore,
    members: Members,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_SERVING));
    while let Some((peer, stream)) = incoming.next().await {
        if !members.contains(&peer) {
            tracing::warn!(%peer, "a file request from a device not on the roster; refused");
            continue; // dropping the stream closes it
        }
        // Handed to a task at once: libp2p-stream keeps no queue of
        // inbound streams, it drops one that arrives while the last is
        // still waiting to be taken. The slot is waited for in the task.
        let slots = slots.clone();
        let blobs = blobs.clone();
        tokio::spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            if let Err(e) = serve_one(stream, &blobs).await {
                tracing::debug!(%peer, "a file request ended: {e}");
            }
        });
    }
}

async fn serve_one(mut stream: Stream, blobs: &BlobStore) -> Result<(), PeerFetchError> {
    let mut request = [0u8; REQUEST_LEN];
    tokio::time::timeout(REQUEST_TIMEOUT, stream.read_exact(&mut request))
        .await
        .map_err(|_| PeerFetchError::Timeout)??;
    if request[0] != VERSION {
        return Err(PeerFetchError::BadStatus(request[0]));
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&request[1..33]);
    let hash = BlobHash(hash);
    let mut max = [0u8; 8];
    max.copy_from_slice(&request[33..]);
    let max = u64::from_be_bytes(max);
    let read = {
        let blobs = blobs.clone();
        tokio::task::spawn_blocking(move || blobs.read(&hash))
            .await
            .map_err(|e| PeerFetchError::Open(e.to_string()))?
    };
    let (status, bytes) = match read {
        Ok(bytes) if bytes.len() as u64 > max => (Status::TooLarge, bytes),
        Ok(bytes) => (Status::Ok, bytes),
        Err(e) => {
            if !matches!(e, BlobError::Missing(_)) {
                tracing::warn!(%hash, "cannot serve a file: {e}");
            }
            (Status::NotHere, Vec::new())
        }
    };
    let size = bytes.len() as u64;
    let mut header = [0u8; 9];
    header[0] = status as u8;
    header[1..].copy_from_slice(&size.to_be_bytes());
    let send = async {
        stream.write_all(&header).await?;
        if status == Status::Ok {
            stream.write_all(&bytes).await?;
        }
        stream.flush().await?;
        stream.close().await
    };
    tokio::time::timeout(transfer_timeout(size), send)
        .await
        .map_err(|_| PeerFetchError::Timeout)??;
    if status == Status::Ok {
        tracing::debug!(%hash, size, "file served");
    }
    Ok(())
}

/// Asks one peer for file `hash`, taking at most `limit` bytes; the bytes
/// are returned only if they hash to `hash`.
pub async fn fetch_from(
    control: &mut libp2p_stream::Control,
    peer: PeerId,
    hash: BlobHash,
    limit: u64,
) -> Result<Vec<u8>, PeerFetchError> {
    let mut stream =
        tokio::time::timeout(REQUEST_TIMEOUT, control.open_stream(peer, FILE_PROTOCOL))
            .await
            .map_err(|_| PeerFetchError::Timeout)?
            .map_err(|e| PeerFetchError::Open(e.to_string()))?;
    let mut request = Vec::with_capacity(REQUEST_LEN);
    request.push(VERSION);
    request.extend_from_slice(&hash.0);
    request.extend_from_slice(&limit.to_be_bytes());
    let mut header = [0u8; 9];
    tokio::time::timeout(REQUEST_TIMEOUT, async {
        stream.write_all(&request).await?;
        stream.flush().await?;
        stream.read_exact(&mut header).await
    })
    .await
    .map_err(|_| PeerFetchError::Timeout)??;
    let mut size = [0u8; 8];
    size.copy_from_slice(&header[1..]);
    let size = u64::from_be_bytes(size);
    match Status::from_u8(header[0]) {
        Some(Status::Ok) => {}
        Some(Status::NotHere) => return Err(PeerFetchError::NotHere),
        Some(Status::TooLarge) => return Err(PeerFetchError::TooLarge { size, limit }),
        None => return Err(PeerFetchError::BadStatus(header[0])),
    }
    if size > limit {
        return Err(PeerFetchError::TooLarge { size, limit });
    }
    // `size` is at most this node's limit: reserving it is bounded.
    let mut bytes = vec![0u8; usize::try_from(size).unwrap_or(0)];
    tokio::time::timeout(transfer_timeout(size), stream.read_exact(&mut bytes))
        .await
        .map_err(|_| PeerFetchError::Timeout)??;
    let actual = BlobHash::of(&bytes);
    if actual != hash {
        return Err(PeerFetchError::WrongBytes(BlobError::WrongBytes {
            expected: hash,
            actual,
        }));
    }
    Ok(bytes)
}

/// How often a peer is asked again when its stream failed before an answer
/// (its node drops an inbound stream that arrives while it is taking
/// another), and the pause before each new try.
const RETRIES: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(200),
    Duration::from_millis(800),
];

/// [`fetch_from`], asked again when the stream failed before an answer.
async fn fetch_with_retries(
    control: &mut libp2p_stream::Control,
    peer: PeerId,
    hash: BlobHash,
    limit: u64,
) -> Result<Vec<u8>, PeerFetchError> {
    let mut pauses = RETRIES.iter();
    loop {
        match fetch_from(control, peer, hash, limit).await {
            Err(PeerFetchError::Io(e)) => match pauses.next() {
                Some(pause) => {
                    tracing::debug!(%hash, %peer, "file stream failed ({e}); asking again");
                    tokio::time::sleep(*pause).await;
                }
                None => return Err(PeerFetchError::Io(e)),
            },
            other => return other,
        }
    }
}

/// Makes file `hash` present in `blobs`: at once if it is there, else
/// from the first of `peers` that gives the right bytes.
pub async fn fetch(
    mut control: libp2p_stream::Control,
    peers: Vec<PeerId>,
    hash: BlobHash,
    blobs: BlobStore,
) -> Result<(), FetchError> {
    if blobs.size_of(&hash).is_some() {
        return Ok(());
    }
    if peers.is_empty() {
        return Err(FetchError::NoPeers(hash));
    }
    for peer in &peers {
        match fetch_with_retries(&mut control, *peer, hash, blobs.limit()).await {
            Ok(bytes) => {
                let blobs = blobs.clone();
                let size = bytes.len();
                tokio::task::spawn_blocking(move || blobs.put_verified(hash, &bytes))
                    .await
                    .map_err(|e| {
                        FetchError::Blob(BlobError::Io {
                            path: "blobs".into(),
                            source: std::io::Error::other(e.to_string()),
                        })
                    })??;
                tracing::info!(%hash, %peer, size, "file fetched");
                return Ok(());
            }
            Err(PeerFetchError::NotHere) => {
                tracing::debug!(%hash, %peer, "the peer does not have the file");
            }
            Err(e @ PeerFetchError::WrongBytes(_)) => {
                tracing::warn!(%hash, %peer, "file refused: {e}");
            }
            Err(e) => tracing::info!(%hash, %peer, "file not fetched: {e}"),
        }
    }
    Err(FetchError::NotFound {
        hash,
        tried: peers.len(),
    })
}
