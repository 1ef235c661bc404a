//! The wire protocol between two nodes of a team (DESIGN §5).
//!
//! One long-lived libp2p stream per peer pair, protocol [`PROTOCOL`]. On it,
//! each frame is a big-endian `u32` length followed by that many bytes of a
//! postcard-encoded [`Frame`]. A frame longer than [`MAX_FRAME_LEN`] is refused
//! before anything is allocated for it.
//!
//! Conversation (both sides run the same script, so either may speak first):
//!
//! 1. [`Frame::Hello`]: protocol version, team id, agent id, device (peer id).
//!    A device not on the roster then sends [`Frame::JoinRequest`] with its
//!    invite token and gets [`Frame::JoinAccepted`] or [`Frame::JoinRefused`].
//!    Anything else from a device that is not admitted ends the stream.
//! 2. [`Frame::CatalogDigests`]: "here are my 256 bucket digests of
//!    `(doc_id, heads)`". The answer is the receiver's entries
//!    ([`Frame::CatalogBucket`]) of each bucket whose digest differs, then
//!    [`Frame::CatalogEnd`]. The asker starts syncing the documents it lacks
//!    or holds at other heads. Both sides ask, so each learns what it lacks.
//! 3. [`Frame::SyncMessage`]: an Automerge sync message for one document; a
//!    side that has nothing more to say about a document answers
//!    [`Frame::SyncDone`], which bounds how many documents are in flight.
//!    A document the asker lacks entirely is asked for whole instead
//!    ([`Frame::DocRequest`]): the answer, [`Frame::DocData`], carries the
//!    holder's stored bytes as they are, and names the asked documents it
//!    does not send whole (`missing`), which then take the sync path.
//! 4. After every local commit, a `SyncMessage` for the changed documents.
//! 5. [`Frame::Presence`] and [`Frame::Typing`]: ephemeral, never stored,
//!    relayed to other peers when new.
//! 6. [`Frame::Bye`]: the sender is closing the stream, with a reason.
//!
//! Every frame is untrusted: decoding never panics, trailing bytes are an
//! error, and [`Frame::validate`] bounds every length and count, so a
//! malformed frame is an error that closes that one peer's stream.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use meshdesk_model::authorship::{DeviceKey, verify_statement};
use meshdesk_model::{AgentId, AgentStatus, InteractionId, Millis, TeamId};
use serde::{Deserialize, Serialize};

/// The libp2p protocol name of the sync stream.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/meshdesk/sync/1");
/// The version carried in `Hello`; a peer with another version is refused.
/// Version 2 added `DocRequest` and `DocData`.
/// Version 3: changes travel sealed by their writers (DESIGN §6).
pub const PROTOCOL_VERSION: u32 = 4;
/// The largest frame either side accepts (16 MiB).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;
/// Number of catalog buckets.
pub const CATALOG_BUCKETS: usize = 256;
/// The longest document id accepted.
pub const MAX_DOC_ID_LEN: usize = 256;
/// The longest name, reason or peer id string accepted.
pub const MAX_TEXT_LEN: usize = 1024;
/// The most documents one `DocRequest` asks for (and one `DocData` names).
pub const MAX_DOC_REQUEST: usize = 256;
/// A `DocData` frame carries about this many bytes of documents; one
/// document larger than [`MAX_WHOLE_DOC_LEN`] is never sent whole.
pub const DOC_DATA_BYTES: usize = 1024 * 1024;
/// The largest document sent whole (it must fit in one frame).
pub const MAX_WHOLE_DOC_LEN: usize = MAX_FRAME_LEN - 64 * 1024;

/// A peer's first frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    pub team_id: TeamId,
    /// The sender's agent; `None` for a device that is joining and has none yet.
    pub agent_id: Option<AgentId>,
    /// The sender's peer id (base58); must match the authenticated connection.
    pub device: String,
}

/// Availability as presence carries it (the model's `AgentStatus` is
/// internally tagged for JSON, which postcard cannot decode).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PresenceStatus {
    Available,
    Break(String),
    Offline,
}

impl From<&AgentStatus> for PresenceStatus {
    fn from(s: &AgentStatus) -> Self {
        match s {
            AgentStatus::Available => PresenceStatus::Available,
            AgentStatus::Break { reason } => PresenceStatus::Break(reason.clone()),
            AgentStatus::Offline => PresenceStatus::Offline,
        }
    }
}

impl From<PresenceStatus> for AgentStatus {
    fn from(s: PresenceStatus) -> Self {
        match s {
            PresenceStatus::Available => AgentStatus::Available,
            PresenceStatus::Break(reason) => AgentStatus::Break { reason },
            PresenceStatus::Offline => AgentStatus::Offline,
        }
    }
}

/// An agent's ephemeral presence as one device announces it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The announcing device (peer id).
    pub device: String,
    pub agent: AgentId,
    pub status: PresenceStatus,
    /// Since when the status holds.
    pub since: Millis,
    /// How many open interactions the agent holds.
    pub open_load: u32,
    /// Whether the agent's app is in use (false: node running headless or going away).
    pub live: bool,
    /// The announcing device's counter; a relay forwards only newer ones.
    pub seq: u64,
    /// Where the announcing device listens (multiaddrs), so every member can
    /// reach every other directly, not only through the peer that relayed this.
    pub addrs: Vec<String>,
    /// The announcing device's signature over all of the above, so a relay
    /// cannot speak for another device ([`Presence::sign`]).
    pub signature: Vec<u8>,
}

/// Statements a device signs about itself: relayed as they are, trusted
/// only if the device named in them signed them.
fn signed_body<T: Serialize>(fields: &T) -> Vec<u8> {
    // Plain data always serialises.
    postcard::to_stdvec(fields).unwrap_or_default()
}

impl Presence {
    const TAG: &'static str = "presence";

    fn body(&self) -> Vec<u8> {
        signed_body(&(
            &self.device,
            &self.agent,
            &self.status,
            self.since,
            self.open_load,
            self.live,
            self.seq,
            &self.addrs,
        ))
    }

    pub fn sign(&mut self, key: &DeviceKey) {
        self.signature = key.sign_statement(Self::TAG, &self.body());
    }

    /// Whether the device it names signed it.
    pub fn is_signed(&self) -> bool {
        verify_statement(&self.device, Self::TAG, &self.body(), &self.signature)
    }
}

/// The most addresses a presence may carry.
pub const MAX_PRESENCE_ADDRS: usize = 16;

/// Where an agent is typing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TypingTarget {
    Interaction(InteractionId),
    /// A chat room document id (`dm:…` or `campaign:…`).
    Room(String),
}

/// "Agent X is typing in Y" (ephemeral; shown for a few seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    pub device: String,
    pub agent: AgentId,
    pub target: TypingTarget,
    pub seq: u64,
    /// The device's signature, as for [`Presence`].
    pub signature: Vec<u8>,
}

impl Typing {
    const TAG: &'static str = "typing";

    fn body(&self) -> Vec<u8> {
        signed_body(&(&self.device, &self.agent, &self.target, self.seq))
    }

    pub fn sign(&mut self, key: &DeviceKey) {
        self.signature = key.sign_statement(Self::TAG, &self.body());
    }

    pub fn is_signed(&self) -> bool {
        verify_statement(&self.device, Self::TAG, &self.body(), &self.signature)
    }
}

/// One frame on the sync stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    Hello(Hello),
    /// From a device not yet on the roster: the invite token it was given.
    JoinRequest {
        token: [u8; 32],
        agent_name: String,
        device_name: String,
    },
    /// The device and agent are now on the roster; sync follows.
    JoinAccepted {
        agent: AgentId,
    },
    JoinRefused {
        reason: String,
    },
    /// The digests of all [`CATALOG_BUCKETS`] buckets; `round` pairs answers with questions.
    CatalogDigests {
        round: u32,
        digests: Vec<[u8; 32]>,
    },
    /// The sender's entries `(doc_id, heads digest)` of one bucket whose
    /// digest differs from the one asked about in `CatalogDigests { round }`.
    CatalogBucket {
        round: u32,
        bucket: u16,
        entries: Vec<(String, [u8; 32])>,
    },
    /// All differing buckets of `round` have been sent.
    CatalogEnd {
        round: u32,
    },
    /// An Automerge sync message for one document.
    SyncMessage {
        doc_id: String,
        bytes: Vec<u8>,
    },
    /// The sender has nothing more to send for this document now.
    SyncDone {
        doc_id: String,
    },
    Presence(Presence),
    Typing(Typing),
    /// The sender closes the stream.
    Bye {
        reason: String,
    },
    /// Asks for whole documents the sender lacks entirely.
    DocRequest {
        doc_ids: Vec<String>,
    },
    /// Whole documents (the holder's stored bytes) answering a `DocRequest`;
    /// `missing`: documents asked for that are not sent whole.
    DocData {
        docs: Vec<(String, Vec<u8>)>,
        missing: Vec<String>,
    },
    /// The sender refused changes to this document that came from us (the
    /// write rules; DESIGN §6); nothing of them was stored. Informational:
    /// the link stays up for everything else.
    Refused {
        doc_id: String,
        reason: String,
    },
}

/// Why a frame could not be read, decoded or accepted.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the limit of {MAX_FRAME_LEN} bytes")]
    TooLarge { len: usize },
    #[error("stream ended in the middle of a frame")]
    Truncated,
    #[error("undecodable frame: {0}")]
    Decode(String),
    #[error("invalid frame: {0}")]
    Invalid(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl Frame {
    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Frame::Hello(_) => "hello",
            Frame::JoinRequest { .. } => "join-request",
            Frame::JoinAccepted { .. } => "join-accepted",
            Frame::JoinRefused { .. } => "join-refused",
            Frame::CatalogDigests { .. } => "catalog-digests",
            Frame::CatalogBucket { .. } => "catalog-bucket",
            Frame::CatalogEnd { .. } => "catalog-end",
            Frame::SyncMessage { .. } => "sync-message",
            Frame::SyncDone { .. } => "sync-done",
            Frame::Presence(_) => "presence",
            Frame::Typing(_) => "typing",
            Frame::Bye { .. } => "bye",
            Frame::DocRequest { .. } => "doc-request",
            Frame::DocData { .. } => "doc-data",
            Frame::Refused { .. } => "refused",
        }
    }

    /// The postcard body (without the length prefix).
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let bytes = postcard::to_stdvec(self).map_err(|e| FrameError::Decode(e.to_string()))?;
        if bytes.len() > MAX_FRAME_LEN {
            return Err(FrameError::TooLarge { len: bytes.len() });
        }
        Ok(bytes)
    }

    /// Decodes and validates one frame body. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        if bytes.len() > MAX_FRAME_LEN {
            return Err(FrameError::TooLarge { len: bytes.len() });
        }
        let (frame, rest): (Frame, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|e| FrameError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            return Err(FrameError::Decode(format!("{} trailing bytes", rest.len())));
        }
        frame.validate()?;
        Ok(frame)
    }

    /// Checks every bound a well-behaved peer stays within.
    pub fn validate(&self) -> Result<(), FrameError> {
        fn text(what: &str, s: &str) -> Result<(), FrameError> {
            if s.len() > MAX_TEXT_LEN {
                return Err(FrameError::Invalid(format!(
                    "{what} longer than {MAX_TEXT_LEN} bytes"
                )));
            }
            Ok(())
        }
        fn doc_id(s: &str) -> Result<(), FrameError> {
            if s.is_empty() || s.len() > MAX_DOC_ID_LEN {
                return Err(FrameError::Invalid(format!(
                    "document id of {} bytes (must be 1..={MAX_DOC_ID_LEN})",
                    s.len()
                )));
            }
            if s.chars().any(char::is_control) {
                return Err(FrameError::Invalid(
                    "document id with control characters".into(),
                ));
            }
            Ok(())
        }
        fn doc_count(n: usize) -> Result<(), FrameError> {
            if n == 0 || n > MAX_DOC_REQUEST {
                return Err(FrameError::Invalid(format!(
                    "{n} documents (must be 1..={MAX_DOC_REQUEST})"
                )));
            }
            Ok(())
        }
        match self {
            Frame::Hello(h) => text("device", &h.device),
            Frame::JoinRequest {
                agent_name,
                device_name,
                ..
            } => {
                text("agent name", agent_name)?;
                text("device name", device_name)
            }
            Frame::JoinAccepted { .. } | Frame::CatalogEnd { .. } => Ok(()),
            Frame::JoinRefused { reason } | Frame::Bye { reason } => text("reason", reason),
            Frame::CatalogDigests { digests, .. } => {
                if digests.len() != CATALOG_BUCKETS {
                    return Err(FrameError::Invalid(format!(
                        "{} catalog digests (expected {CATALOG_BUCKETS})",
                        digests.len()
                    )));
                }
                Ok(())
            }
            Frame::CatalogBucket {
                bucket, entries, ..
            } => {
                if usize::from(*bucket) >= CATALOG_BUCKETS {
                    return Err(FrameError::Invalid(format!(
                        "catalog bucket {bucket} out of range"
                    )));
                }
                entries.iter().try_for_each(|(id, _)| doc_id(id))
            }
            Frame::SyncMessage { doc_id: id, bytes } => {
                doc_id(id)?;
                if bytes.is_empty() {
                    return Err(FrameError::Invalid("empty sync message".into()));
                }
                Ok(())
            }
            Frame::SyncDone { doc_id: id } => doc_id(id),
            Frame::Refused { doc_id: id, reason } => {
                doc_id(id)?;
                text("reason", reason)
            }
            Frame::Presence(p) => {
                text("device", &p.device)?;
                if p.addrs.len() > MAX_PRESENCE_ADDRS {
                    return Err(FrameError::Invalid(format!(
                        "{} addresses in presence",
                        p.addrs.len()
                    )));
                }
                p.addrs.iter().try_for_each(|a| text("address", a))?;
                match &p.status {
                    PresenceStatus::Break(reason) => text("break reason", reason),
                    _ => Ok(()),
                }
            }
            Frame::Typing(t) => {
                text("device", &t.device)?;
                match &t.target {
                    TypingTarget::Room(room) => doc_id(room),
                    TypingTarget::Interaction(_) => Ok(()),
                }
            }
            Frame::DocRequest { doc_ids } => {
                doc_count(doc_ids.len())?;
                doc_ids.iter().try_for_each(|id| doc_id(id))?;
                // One answer per document: asking for one many times is abuse.
                let distinct: std::collections::HashSet<&String> = doc_ids.iter().collect();
                if distinct.len() != doc_ids.len() {
                    return Err(FrameError::Invalid(
                        "the same document asked for twice in one request".into(),
                    ));
                }
                Ok(())
            }
            Frame::DocData { docs, missing } => {
                doc_count(docs.len() + missing.len())?;
                for (id, bytes) in docs {
                    doc_id(id)?;
                    if bytes.is_empty() {
                        return Err(FrameError::Invalid(format!("empty document {id}")));
                    }
                }
                missing.iter().try_for_each(|id| doc_id(id))
            }
        }
    }
}

/// Reads one frame. `Ok(None)` at a clean end of stream (between frames).
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<Frame>, FrameError> {
    match read_frame_len(reader).await? {
        Some(len) => read_frame_body(reader, len).await.map(Some),
        None => Ok(None),
    }
}

/// Reads a frame's length prefix (at most [`MAX_FRAME_LEN`]), so a reader
/// can reserve room for the body before reading it. `Ok(None)` at a clean end.
pub async fn read_frame_len<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<usize>, FrameError> {
    let mut len = [0u8; 4];
    let mut filled = 0;
    while filled < len.len() {
        let n = reader.read(&mut len[filled..]).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
        filled += n;
    }
    let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge { len });
    }
    Ok(Some(len))
}

/// Reads and decodes a frame body of `len` bytes (after [`read_frame_len`]).
pub async fn read_frame_body<R: AsyncRead + Unpin>(
    reader: &mut R,
    len: usize,
) -> Result<Frame, FrameError> {
    let mut body = vec![0u8; len];
    reader
        .read_exact(&mut body)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
            _ => FrameError::Io(e),
        })?;
    Frame::decode(&body)
}

/// Writes one frame (length prefix and body) and flushes.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    frame: &Frame,
) -> Result<(), FrameError> {
    let body = frame.encode()?;
    write_body(writer, &body).await
}

/// Writes an already encoded frame body with its length prefix, and flushes.
pub async fn write_body<W: AsyncWrite + Unpin>(
    writer: &mut W,
    body: &[u8],
) -> Result<(), FrameError> {
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge { len: body.len() })?;
    if body.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge { len: body.len() });
    }
    writer.write_all(&len.to_be_bytes()).await?;
    writer.write_all(body).await?;
    writer.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use proptest::prelude::*;

    fn samples() -> Vec<Frame> {
        let agent = AgentId::new();
        vec![
            Frame::Hello(Hello {
                version: PROTOCOL_VERSION,
                team_id: TeamId::new(),
                agent_id: Some(agent),
                device: "12D3KooWabc".into(),
            }),
            Frame::JoinRequest {
                token: [7; 32],
                agent_name: "Ana".into(),
                device_name: "laptop".into(),
            },
            Frame::JoinAccepted { agent },
            Frame::JoinRefused {
                reason: "expired".into(),
            },
            Frame::CatalogDigests {
                round: 1,
                digests: vec![[1; 32]; CATALOG_BUCKETS],
            },
            Frame::CatalogBucket {
                round: 1,
                bucket: 255,
                entries: vec![("doc".into(), [2; 32])],
            },
            Frame::CatalogEnd { round: 1 },
            Frame::SyncMessage {
                doc_id: "doc".into(),
                bytes: vec![1, 2, 3],
            },
            Frame::SyncDone {
                doc_id: "doc".into(),
            },
            Frame::Presence(Presence {
                device: "d".into(),
                agent,
                status: PresenceStatus::Break("lunch".into()),
                since: 5,
                open_load: 2,
                live: true,
                seq: 9,
                addrs: vec!["/ip4/10.0.0.2/tcp/4001".into()],
                signature: vec![7; 64],
            }),
            Frame::Typing(Typing {
                device: "d".into(),
                agent,
                target: TypingTarget::Interaction(InteractionId::new()),
                seq: 1,
                signature: vec![7; 64],
            }),
            Frame::Bye {
                reason: "shutting down".into(),
            },
            Frame::DocRequest {
                doc_ids: vec!["doc".into()],
            },
            Frame::DocData {
                docs: vec![("doc".into(), vec![1, 2, 3])],
                missing: vec!["other".into()],
            },
            Frame::Refused {
                doc_id: "doc".into(),
                reason: "no seal".into(),
            },
        ]
    }

    #[test]
    fn frames_round_trip_through_a_stream() -> Result<(), FrameError> {
        let frames = samples();
        let mut wire = Vec::new();
        block_on(async {
            for f in &frames {
                write_frame(&mut wire, f).await?;
            }
            Ok::<_, FrameError>(())
        })?;
        let mut reader = futures::io::Cursor::new(wire);
        for f in &frames {
            assert_eq!(block_on(read_frame(&mut reader))?.as_ref(), Some(f));
        }
        assert!(block_on(read_frame(&mut reader))?.is_none());
        Ok(())
    }

    #[test]
    fn oversized_truncated_and_invalid_frames_are_errors() {
        let huge = (u32::try_from(MAX_FRAME_LEN).unwrap_or(u32::MAX) + 1).to_be_bytes();
        let mut r = futures::io::Cursor::new(huge.to_vec());
        assert!(matches!(
            block_on(read_frame(&mut r)),
            Err(FrameError::TooLarge { .. })
        ));

        let mut r = futures::io::Cursor::new(vec![0, 0, 0, 10, 1, 2]);
        assert!(matches!(
            block_on(read_frame(&mut r)),
            Err(FrameError::Truncated)
        ));
        let mut r = futures::io::Cursor::new(vec![0, 0]);
        assert!(matches!(
            block_on(read_frame(&mut r)),
            Err(FrameError::Truncated)
        ));

        let short = Frame::CatalogDigests {
            round: 0,
            digests: vec![[0; 32]; 3],
        };
        let bytes = postcard::to_stdvec(&short).unwrap_or_default();
        assert!(matches!(Frame::decode(&bytes), Err(FrameError::Invalid(_))));

        let bad_bucket = Frame::CatalogBucket {
            round: 0,
            bucket: 256,
            entries: vec![],
        };
        let bytes = postcard::to_stdvec(&bad_bucket).unwrap_or_default();
        assert!(matches!(Frame::decode(&bytes), Err(FrameError::Invalid(_))));

        let mut trailing = Frame::SyncDone { doc_id: "x".into() }
            .encode()
            .unwrap_or_default();
        trailing.push(0);
        assert!(matches!(
            Frame::decode(&trailing),
            Err(FrameError::Decode(_))
        ));
        assert!(Frame::decode(&[]).is_err());
        assert!(Frame::decode(&[200]).is_err());

        let invalid = [
            Frame::DocRequest { doc_ids: vec![] },
            Frame::DocRequest {
                doc_ids: vec!["doc".into(); MAX_DOC_REQUEST + 1],
            },
            Frame::DocData {
                docs: vec![("doc".into(), vec![1]); MAX_DOC_REQUEST],
                missing: vec!["other".into()],
            },
            Frame::DocData {
                docs: vec![("doc".into(), vec![])],
                missing: vec![],
            },
            Frame::DocData {
                docs: vec![("a\nb".into(), vec![1])],
                missing: vec![],
            },
        ];
        for frame in invalid {
            let bytes = postcard::to_stdvec(&frame).unwrap_or_default();
            assert!(
                matches!(Frame::decode(&bytes), Err(FrameError::Invalid(_))),
                "{}",
                frame.kind()
            );
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Frame::decode(&bytes);
            let mut r = futures::io::Cursor::new(bytes);
            // Read until error or end: never panics, never loops forever.
            for _ in 0..64 {
                match block_on(read_frame(&mut r)) {
                    Ok(Some(_)) => continue,
                    _ => break,
                }
            }
        }

        #[test]
        fn mutated_valid_frames_never_panic(index in 0usize..14, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
            let frames = samples();
            let mut bytes = frames[index % frames.len()].encode().unwrap_or_default();
            for (at, value) in flips {
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] ^= value;
                }
            }
            let cut = cut % (bytes.len() + 1);
            let _ = Frame::decode(&bytes[..cut]);
            let _ = Frame::decode(&bytes);
        }
    }
}
