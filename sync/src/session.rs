//! The sync conversation with one peer, as a pure state machine (no I/O).
//!
//! A [`PeerSession`] takes the frames a peer sent and the store, and returns the
//! frames to send back, the documents that changed and what happened. The node
//! drives one per connected peer over a libp2p stream; the in-process
//! simulation drives the very same code over a seeded, lossy network. Time is
//! passed in (`now`, in ms), never read, so a simulation is deterministic.
//!
//! The conversation (see [`crate::protocol`] for the frames):
//!
//! 1. Both sides send `Hello`. A member node admits a device on the roster (not
//!    revoked) at once; a device it does not know may only send a
//!    `JoinRequest`, which it checks with [`meshdesk_model::ops::admit_device`]
//!    (known, unexpired, unused token). A joining device sends its
//!    `JoinRequest` right after its `Hello` and becomes a member on
//!    `JoinAccepted` (its local identity is written then).
//! 2. Once admitted, each side asks with `CatalogDigests`; the other answers
//!    the buckets that differ and `CatalogEnd`. The asker queues every
//!    document the peer has that it lacks or holds at other heads, so when its
//!    queue is done it is caught up ([`SessionEvent::CaughtUp`]). Documents
//!    it lacks entirely are asked for whole (`DocRequest`, about
//!    16 MiB of them at a time by what those received so far
//!    weigh, at most [`SessionConfig::max_requested`]: the peer reads and
//!    sends the next ones while this side imports): the peer answers with
//!    their stored bytes (`DocData`), applied in one store transaction per
//!    batch, after which both sides hold the sync state a finished exchange
//!    leaves. Documents the peer does not send whole take the sync path.
//! 3. Other queued documents start an Automerge sync exchange, at most
//!    [`SessionConfig::max_in_flight`] at a time. Every `SyncMessage` is
//!    answered with a `SyncMessage` or `SyncDone`, which ends the exchange.
//!    Consecutive sync messages are applied in one store transaction.
//! 4. [`PeerSession::push`] sends a sync message for documents that changed
//!    locally (or arrived from another peer) at once.
//! 5. [`PeerSession::tick`] handles time: a handshake that does not finish, an
//!    exchange or catalog answer that never comes (its sync state is reset and
//!    the document queued again), and a periodic anti-entropy round that
//!    re-compares catalogs when the session is idle.

use meshdesk_model::store::Replication;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use meshdesk_model::ops::{self, OpError};
use meshdesk_model::store::{DocChange, LocalIdentity, Store, StoreError};
use meshdesk_model::{AgentId, Millis, TeamId};

use crate::invite::token_hash;
use crate::protocol::{
    CATALOG_BUCKETS, DOC_DATA_BYTES, Frame, Hello, MAX_DOC_REQUEST, MAX_WHOLE_DOC_LEN,
    PROTOCOL_VERSION, Presence, Typing,
};

/// The documents sent or asked for more than `limit` ms before `now`, in
/// id order (not the map's, which differs from run to run: what is sent
/// next must follow from the session's inputs alone).
fn older_than(since: &HashMap<String, Millis>, now: Millis, limit: Millis) -> Vec<String> {
    let mut old: Vec<String> = since
        .iter()
        .filter(|(_, at)| now.saturating_sub(**at) > limit)
        .map(|(id, _)| id.clone())
        .collect();
    old.sort_unstable();
    old
}

/// Where a document waits to be asked for whole: the team's document
/// before any other, then by id.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct WholeKey {
    after_team: bool,
    doc_id: String,
}

impl WholeKey {
    fn of(doc_id: &str) -> Self {
        WholeKey {
            after_team: !doc_id.starts_with("team:"),
            doc_id: doc_id.to_string(),
        }
    }
}

/// Whole documents received in a row, applied together.
#[derive(Default)]
struct WholeBatch {
    docs: Vec<(String, Vec<u8>)>,
    missing: Vec<String>,
}

/// Bytes of whole documents asked for and not yet received, about: enough
/// for the peer to read and send the next ones while this side imports the
/// last, little enough for the peer to hold them queued for this side.
const REQUESTED_BYTES: u64 = 16 * 1024 * 1024;

/// What a document is taken to weigh until some have arrived whole.
const ASSUMED_DOC_BYTES: u64 = 4096;

/// Answers one side gives about one document before the exchange counts as
/// stuck (a normal exchange takes a handful; live edits on both sides more).
const MAX_EXCHANGES: u32 = 64;

/// Tuning of a session.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// How many documents may be mid-exchange at once.
    pub max_in_flight: usize,
    /// How many documents may be asked for whole and not yet received
    /// (fewer when they are large: about 16 MiB of them).
    pub max_requested: usize,
    /// An exchange without an answer for this long is restarted.
    pub in_flight_timeout: Millis,
    /// A catalog question without `CatalogEnd` for this long is asked again.
    pub round_timeout: Millis,
    /// How long hello and join may take.
    pub handshake_timeout: Millis,
    /// How often an idle session re-compares catalogs (0: never).
    pub anti_entropy_interval: Millis,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_in_flight: 512,
            max_requested: 16_384,
            in_flight_timeout: 60_000,
            round_timeout: 60_000,
            handshake_timeout: 30_000,
            anti_entropy_interval: 5 * 60_000,
        }
    }
}

/// What a joining device presents.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinTicket {
    pub token: [u8; 32],
    pub agent_name: String,
    pub device_name: String,
}

impl std::fmt::Debug for JoinTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinTicket")
            .field("token_hash", &token_hash(&self.token))
            .field("agent_name", &self.agent_name)
            .field("device_name", &self.device_name)
            .finish()
    }
}

/// Who this node is. `agent` is `None` until a joining device is admitted.
#[derive(Clone, Debug)]
pub struct Local {
    pub team_id: TeamId,
    /// This device's peer id (base58).
    pub device: String,
    pub agent: Option<AgentId>,
    /// Present while joining.
    pub join: Option<JoinTicket>,
}

impl Local {
    /// A member node, from its stored identity.
    pub fn member(identity: &LocalIdentity) -> Self {
        Local {
            team_id: identity.team,
            device: identity.device.clone(),
            agent: Some(identity.agent),
            join: None,
        }
    }

    /// A device with networking off that has no team yet: it joins
    /// nothing and is no one's peer until a team is created on it.
    pub fn unattached(device: String) -> Self {
        Local {
            team_id: TeamId(ulid::Ulid::nil()),
            device,
            agent: None,
            join: None,
        }
    }

    pub fn is_unattached(&self) -> bool {
        self.agent.is_none() && self.join.is_none()
    }

    fn joining(&self) -> bool {
        self.agent.is_none()
    }
}

/// Something a session reports besides frames and document changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// The peer passed hello (or join) and is now a team member in sync.
    Admitted {
        agent: Option<AgentId>,
    },
    /// This (joining) device was admitted by the peer, as `agent`.
    Joined {
        agent: AgentId,
    },
    /// The peer refused to admit this (joining) device.
    JoinRefused {
        reason: String,
    },
    /// The peer joined the team through this node with an invite.
    AdmittedNewMember {
        agent: AgentId,
    },
    /// The number of documents still to sync with this peer changed.
    Progress {
        pending: usize,
        /// Document bytes received from this peer so far (sync messages
        /// and whole documents), for a first sync's progress.
        received_bytes: u64,
    },
    /// Everything the last catalog round found different is synced.
    CaughtUp,
    Presence(Presence),
    Typing(Typing),
    /// The peer closed the session.
    Bye {
        reason: String,
    },
}

/// The result of handling frames or time.
#[derive(Debug, Default)]
pub struct Step {
    /// Frames to send to the peer, in order.
    pub frames: Vec<Frame>,
    /// Documents that changed in the store.
    pub changes: Vec<DocChange>,
    pub events: Vec<SessionEvent>,
    /// The session is over (after sending `frames`): close the stream.
    pub close: bool,
}

/// Why a session ends abnormally.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The peer is not let in (another team, not on the roster, revoked, bad version).
    #[error("refused: {0}")]
    Refused(RefuseReason),
    /// The peer broke the protocol (unexpected or malformed content).
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The local store failed.
    #[error("store error: {0}")]
    Store(Box<StoreError>),
}

/// Why a peer is not let in, or is let go before it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefuseReason {
    #[error("the handshake timed out")]
    HandshakeTimedOut,
    #[error("protocol version {0} is not supported (this node speaks {PROTOCOL_VERSION})")]
    Version(u32),
    #[error("the peer belongs to another team ({0})")]
    OtherTeam(TeamId),
    #[error("neither side is a team member yet")]
    NeitherIsMember,
    #[error("this node cannot admit devices yet")]
    CannotAdmitYet,
    #[error("this node is not a team member yet")]
    NotMemberYet,
    #[error("this device was revoked from the team")]
    Revoked,
    #[error("the device is on the roster as agent {roster}, not {claimed}")]
    OtherAgent { roster: AgentId, claimed: AgentId },
    #[error("the device is not on this node's team roster")]
    NotOnRoster,
    #[error("admitted twice, as agent {mine} and as agent {theirs}")]
    AdmittedTwice { mine: AgentId, theirs: AgentId },
}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        match e {
            // Bad content from the peer is the peer's fault, not the store's.
            StoreError::BadSyncMessage { .. }
            | StoreError::BadDocData { .. }
            | StoreError::Oversized { .. }
            | StoreError::BadDocId(_) => SessionError::Protocol(e.to_string()),
            other => SessionError::Store(Box::new(other)),
        }
    }
}

impl SessionError {
    /// The reason to tell the peer in `Bye`.
    pub fn reason(&self) -> String {
        match self {
            SessionError::Refused(r) => r.to_string(),
            SessionError::Protocol(r) => r.clone(),
            SessionError::Store(_) => "internal error".into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the peer's hello.
    AwaitHello,
    /// Member side: the peer is not on the roster; only a join request may come.
    AwaitJoin,
    /// Joining side: hello received, waiting for the verdict on the join request.
    Joining,
    Ready,
    Closed,
}

/// One peer's sync session.
#[derive(Debug)]
pub struct PeerSession {
    cfg: SessionConfig,
    peer: String,
    phase: Phase,
    started_at: Millis,
    peer_agent: Option<AgentId>,
    round: u32,
    /// The catalog question awaiting its `CatalogEnd`, and when it was asked.
    round_open: Option<(u32, Millis)>,
    last_round_at: Millis,
    caught_up_reported: bool,
    queue: VecDeque<String>,
    queued: HashSet<String>,
    in_flight: HashMap<String, Millis>,
    /// Documents to ask for whole: the team's first (its roster judges
    /// every other one), then in id order, so each answer is a run of
    /// neighbouring keys that the store writes page after page.
    whole_queued: BTreeSet<WholeKey>,
    /// Documents that came before the team's document and could not be
    /// judged: asked for again once it is stored.
    held_for_team: Vec<String>,
    /// Whether the store holds the team (and so a roster to judge by).
    roster_known: bool,
    /// Documents asked for whole, and when.
    requested: HashMap<String, Millis>,
    /// Documents asked for whole that timed out and went the sync path; a
    /// late answer is still welcome.
    late: HashSet<String>,
    /// Messages this side answered per document since its exchange last ended.
    exchanges: HashMap<String, u32>,
    last_pending: usize,
    received_bytes: u64,
    /// Whole documents received and their bytes: what one weighs on average.
    whole_docs: u64,
    whole_bytes: u64,
}

impl PeerSession {
    pub fn new(cfg: SessionConfig, peer: impl Into<String>, now: Millis) -> Self {
        PeerSession {
            cfg,
            peer: peer.into(),
            phase: Phase::AwaitHello,
            started_at: now,
            peer_agent: None,
            round: 0,
            round_open: None,
            last_round_at: now,
            caught_up_reported: false,
            queue: VecDeque::new(),
            queued: HashSet::new(),
            in_flight: HashMap::new(),
            whole_queued: BTreeSet::new(),
            held_for_team: Vec::new(),
            roster_known: false,
            requested: HashMap::new(),
            late: HashSet::new(),
            exchanges: HashMap::new(),
            last_pending: 0,
            received_bytes: 0,
            whole_docs: 0,
            whole_bytes: 0,
        }
    }

    /// The peer's device id.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// The peer's agent, once known.
    pub fn peer_agent(&self) -> Option<AgentId> {
        self.peer_agent
    }

    /// Admitted and exchanging documents.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Documents queued, asked for or mid-exchange, plus one while a catalog answer is awaited.
    pub fn pending(&self) -> usize {
        // A document asked for whole may also be mid-exchange (a peer's live
        // push): counted once.
        let requested_only = self
            .requested
            .keys()
            .filter(|id| !self.in_flight.contains_key(*id))
            .count();
        self.queued.len()
            + self.in_flight.len()
            + self.whole_queued.len()
            + self.held_for_team.len()
            + requested_only
            + usize::from(self.round_open.is_some())
    }

    /// Whether nothing is queued, in flight or awaited.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Ready && self.pending() == 0
    }

    /// A one-line account of the session's state, for diagnostics.
    pub fn debug_state(&self) -> String {
        let mut in_flight: Vec<&String> = self.in_flight.keys().collect();
        in_flight.sort();
        format!(
            "{:?} round {:?} queued {} in flight {:?} whole queued {} requested {} held for the team {}",
            self.phase,
            self.round_open,
            self.queued.len(),
            in_flight.iter().take(4).collect::<Vec<_>>(),
            self.whole_queued.len(),
            self.requested.len(),
            self.held_for_team.len()
        )
    }

    /// The opening frames: hello, and a joining device's request.
    pub fn start(&mut self, local: &Local) -> Step {
        let mut step = Step::default();
        step.frames.push(Frame::Hello(Hello {
            version: PROTOCOL_VERSION,
            team_id: local.team_id,
            agent_id: local.agent,
            device: local.device.clone(),
        }));
        if let (true, Some(ticket)) = (local.joining(), &local.join) {
            step.frames.push(Frame::JoinRequest {
                token: ticket.token,
                agent_name: ticket.agent_name.clone(),
                device_name: ticket.device_name.clone(),
            });
        }
        step
    }

    /// Marks the session closed (the stream ended); nothing more is sent.
    pub fn close(&mut self, store: &mut Store) {
        if self.phase != Phase::Closed {
            self.phase = Phase::Closed;
            store.forget_peer(&self.peer);
        }
    }

    /// Handles a batch of frames from the peer, in order. Consecutive sync
    /// messages are applied in one store transaction.
    pub fn handle(
        &mut self,
        store: &mut Store,
        local: &mut Local,
        frames: Vec<Frame>,
        now: Millis,
    ) -> Result<Step, SessionError> {
        let mut step = Step::default();
        let mut batch: Vec<(String, Vec<u8>)> = Vec::new();
        let mut whole = WholeBatch::default();
        for frame in frames {
            if self.phase == Phase::Closed {
                break;
            }
            match frame {
                Frame::SyncMessage { doc_id, bytes } => {
                    self.require_ready("sync-message")?;
                    self.flush_whole(store, &mut whole, &mut step)?;
                    self.received_bytes += bytes.len() as u64;
                    batch.push((doc_id, bytes));
                }
                Frame::DocData { docs, missing } => {
                    self.require_ready("doc-data")?;
                    self.flush_batch(store, &mut batch, now, &mut step)?;
                    self.received_bytes += docs.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
                    whole.docs.extend(docs);
                    whole.missing.extend(missing);
                }
                frame => {
                    self.flush_batch(store, &mut batch, now, &mut step)?;
                    self.flush_whole(store, &mut whole, &mut step)?;
                    self.on_frame(store, local, frame, now, &mut step)?;
                }
            }
        }
        self.flush_batch(store, &mut batch, now, &mut step)?;
        self.flush_whole(store, &mut whole, &mut step)?;
        self.settle(store, now, &mut step)?;
        Ok(step)
    }

    /// Sends sync messages for documents that changed outside this session.
    pub fn push(
        &mut self,
        store: &mut Store,
        doc_ids: &[String],
        now: Millis,
    ) -> Result<Step, SessionError> {
        let mut step = Step::default();
        if self.phase != Phase::Ready {
            return Ok(step);
        }
        for doc_id in doc_ids {
            if let Some(bytes) = store.generate_sync_message(&self.peer, doc_id)? {
                self.unqueue(doc_id);
                self.in_flight.insert(doc_id.clone(), now);
                step.frames.push(Frame::SyncMessage {
                    doc_id: doc_id.clone(),
                    bytes,
                });
            }
        }
        self.settle(store, now, &mut step)?;
        Ok(step)
    }

    /// Handles time: handshake, exchange and catalog timeouts, anti-entropy.
    pub fn tick(&mut self, store: &mut Store, now: Millis) -> Result<Step, SessionError> {
        let mut step = Step::default();
        match self.phase {
            Phase::Closed => return Ok(step),
            Phase::Ready => {}
            _ => {
                if now.saturating_sub(self.started_at) > self.cfg.handshake_timeout {
                    return Err(SessionError::Refused(RefuseReason::HandshakeTimedOut));
                }
                return Ok(step);
            }
        }
        // The team's document may have come through another peer since:
        // what waited for it here is asked for again.
        self.release_held(store)?;
        let expired = older_than(&self.in_flight, now, self.cfg.in_flight_timeout);
        if !expired.is_empty() {
            tracing::debug!(peer = %self.peer, docs = expired.len(), "sync exchanges timed out; restarting them");
            // The lost message left Automerge expecting an answer: start afresh
            // from the shared heads persisted for this peer.
            store.forget_peer(&self.peer);
            for id in expired.into_iter().rev() {
                self.in_flight.remove(&id);
                if self.queued.insert(id.clone()) {
                    self.queue.push_front(id);
                }
            }
        }
        let unanswered = older_than(&self.requested, now, self.cfg.in_flight_timeout);
        if !unanswered.is_empty() {
            tracing::debug!(peer = %self.peer, docs = unanswered.len(), "whole documents not received; syncing them instead");
            for id in unanswered {
                self.requested.remove(&id);
                self.late.insert(id.clone());
                self.enqueue(id);
            }
        }
        if let Some((_, asked)) = self.round_open {
            if now.saturating_sub(asked) > self.cfg.round_timeout {
                self.start_round(store, now, &mut step)?;
            }
        } else if self.cfg.anti_entropy_interval > 0
            && self.queued.is_empty()
            && self.in_flight.is_empty()
            && now.saturating_sub(self.last_round_at) >= self.cfg.anti_entropy_interval
        {
            self.start_round(store, now, &mut step)?;
        }
        self.settle(store, now, &mut step)?;
        Ok(step)
    }

    /// Starts a catalog round now (e.g. after a partition healed).
    pub fn resync(&mut self, store: &mut Store, now: Millis) -> Result<Step, SessionError> {
        let mut step = Step::default();
        if self.phase == Phase::Ready {
            self.start_round(store, now, &mut step)?;
        }
        Ok(step)
    }

    fn require_ready(&self, what: &str) -> Result<(), SessionError> {
        if self.phase == Phase::Ready {
            Ok(())
        } else {
            Err(SessionError::Protocol(format!(
                "{what} before the peer was admitted"
            )))
        }
    }

    fn on_frame(
        &mut self,
        store: &mut Store,
        local: &mut Local,
        frame: Frame,
        now: Millis,
        step: &mut Step,
    ) -> Result<(), SessionError> {
        match frame {
            Frame::Hello(hello) => self.on_hello(store, local, hello, now, step),
            Frame::JoinRequest {
                token,
                agent_name,
                device_name,
            } => self.on_join_request(store, local, &token, &agent_name, &device_name, now, step),
            Frame::JoinAccepted { agent } => {
                if self.phase == Phase::Ready && local.agent == Some(agent) {
                    return Ok(()); // a repeated verdict
                }
                if self.phase != Phase::Joining {
                    return Err(SessionError::Protocol("unexpected join-accepted".into()));
                }
                if let Some(mine) = local.agent {
                    // Admitted meanwhile through another peer.
                    if mine != agent {
                        return Err(SessionError::Refused(RefuseReason::AdmittedTwice {
                            mine,
                            theirs: agent,
                        }));
                    }
                    return self.become_ready(store, now, step);
                }
                store.set_identity(&LocalIdentity {
                    team: local.team_id,
                    agent,
                    device: local.device.clone(),
                })?;
                local.agent = Some(agent);
                local.join = None;
                step.events.push(SessionEvent::Joined { agent });
                self.become_ready(store, now, step)
            }
            Frame::JoinRefused { reason } => {
                if self.phase != Phase::Joining {
                    return Err(SessionError::Protocol("unexpected join-refused".into()));
                }
                step.events.push(SessionEvent::JoinRefused { reason });
                self.phase = Phase::Closed;
                step.close = true;
                Ok(())
            }
            Frame::CatalogDigests { round, digests } => {
                self.require_ready("catalog-digests")?;
                // What the peer holds now, for a bundle cut for it later;
                // losing it only makes such a bundle larger, so sync goes on.
                if let Err(e) = store.remember_peer_catalog(&self.peer, &digests) {
                    tracing::warn!(peer = %self.peer, error = %e, "cannot record the peer's catalog");
                }
                let mine = store.catalog_digests()?;
                for (bucket, (theirs, ours)) in digests.iter().zip(mine.iter()).enumerate() {
                    if theirs != ours {
                        let bucket = u16::try_from(bucket).unwrap_or(u16::MAX);
                        let entries = store.catalog_bucket(bucket)?;
                        step.frames.push(Frame::CatalogBucket {
                            round,
                            bucket,
                            entries,
                        });
                    }
                }
                step.frames.push(Frame::CatalogEnd { round });
                Ok(())
            }
            Frame::CatalogBucket {
                round,
                bucket,
                entries,
            } => {
                self.require_ready("catalog-bucket")?;
                if self.round_open.map(|(r, _)| r) != Some(round) {
                    return Ok(()); // an answer to an older question
                }
                let mine: HashMap<String, [u8; 32]> =
                    store.catalog_bucket(bucket)?.into_iter().collect();
                // Documents the peer has that this side lacks or holds at
                // other heads. (Those only this side has, the peer queues
                // from its own question.) Both sides queue a document both
                // changed: each then knows when *it* is caught up.
                for (doc_id, digest) in entries {
                    match mine.get(&doc_id) {
                        None => self.enqueue_whole(doc_id),
                        Some(ours) if *ours != digest => self.enqueue(doc_id),
                        Some(_) => {}
                    }
                }
                Ok(())
            }
            Frame::CatalogEnd { round } => {
                self.require_ready("catalog-end")?;
                if self.round_open.map(|(r, _)| r) == Some(round) {
                    self.round_open = None;
                }
                Ok(())
            }
            // Batched by `handle`.
            Frame::SyncMessage { .. } | Frame::DocData { .. } => Ok(()),
            Frame::DocRequest { doc_ids } => {
                self.require_ready("doc-request")?;
                self.on_doc_request(store, doc_ids, step)
            }
            Frame::SyncDone { doc_id } => {
                self.require_ready("sync-done")?;
                self.in_flight.remove(&doc_id);
                self.exchanges.remove(&doc_id);
                Ok(())
            }
            Frame::Refused { doc_id, reason } => {
                tracing::warn!(peer = %self.peer, %doc_id, %reason, "the peer refused our changes");
                Ok(())
            }
            Frame::Presence(p) => {
                self.require_ready("presence")?;
                step.events.push(SessionEvent::Presence(p));
                Ok(())
            }
            Frame::Typing(t) => {
                self.require_ready("typing")?;
                step.events.push(SessionEvent::Typing(t));
                Ok(())
            }
            Frame::Bye { reason } => {
                step.events.push(SessionEvent::Bye { reason });
                self.phase = Phase::Closed;
                step.close = true;
                Ok(())
            }
        }
    }

    fn on_hello(
        &mut self,
        store: &mut Store,
        local: &Local,
        hello: Hello,
        now: Millis,
        step: &mut Step,
    ) -> Result<(), SessionError> {
        if self.phase != Phase::AwaitHello {
            return Err(SessionError::Protocol("a second hello".into()));
        }
        if hello.version != PROTOCOL_VERSION {
            return Err(SessionError::Refused(RefuseReason::Version(hello.version)));
        }
        if hello.team_id != local.team_id {
            return Err(SessionError::Refused(RefuseReason::OtherTeam(
                hello.team_id,
            )));
        }
        if hello.device != self.peer {
            return Err(SessionError::Protocol(format!(
                "hello names device {} but the connection is from {}",
                hello.device, self.peer
            )));
        }
        if local.joining() {
            // This device is not a member yet: it trusts a node of its team
            // (the key came with the invite) and waits for the verdict.
            if hello.agent_id.is_none() {
                return Err(SessionError::Refused(RefuseReason::NeitherIsMember));
            }
            self.peer_agent = hello.agent_id;
            self.phase = Phase::Joining;
            return Ok(());
        }
        let Some(team) = store.team()? else {
            // Admitted, but the team document has not arrived yet: any device of the team may sync it to us.
            if hello.agent_id.is_none() {
                return Err(SessionError::Refused(RefuseReason::CannotAdmitYet));
            }
            self.peer_agent = hello.agent_id;
            step.events.push(SessionEvent::Admitted {
                agent: hello.agent_id,
            });
            return self.become_ready(store, now, step);
        };
        match team.members.get(&self.peer) {
            Some(m) if m.revoked => Err(SessionError::Refused(RefuseReason::Revoked)),
            Some(m) => {
                if let Some(claimed) = hello.agent_id.filter(|a| *a != m.agent) {
                    return Err(SessionError::Refused(RefuseReason::OtherAgent {
                        roster: m.agent,
                        claimed,
                    }));
                }
                self.peer_agent = Some(m.agent);
                if hello.agent_id.is_none() {
                    // Admitted earlier, but the verdict never reached it: tell it first.
                    step.frames.push(Frame::JoinAccepted { agent: m.agent });
                }
                step.events.push(SessionEvent::Admitted {
                    agent: Some(m.agent),
                });
                self.become_ready(store, now, step)
            }
            None if hello.agent_id.is_none() => {
                self.phase = Phase::AwaitJoin;
                Ok(())
            }
            None => Err(SessionError::Refused(RefuseReason::NotOnRoster)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_join_request(
        &mut self,
        store: &mut Store,
        local: &Local,
        token: &[u8; 32],
        agent_name: &str,
        device_name: &str,
        now: Millis,
        step: &mut Step,
    ) -> Result<(), SessionError> {
        match self.phase {
            Phase::AwaitJoin => {}
            // Already a member: the verdict was sent with our hello.
            Phase::Ready => return Ok(()),
            Phase::Joining => {
                step.frames.push(Frame::JoinRefused {
                    reason: "this node is not a team member yet".into(),
                });
                self.phase = Phase::Closed;
                step.close = true;
                return Ok(());
            }
            _ => return Err(SessionError::Protocol("unexpected join-request".into())),
        }
        if local.joining() {
            return Err(SessionError::Refused(RefuseReason::NotMemberYet));
        }
        match ops::admit_device(
            store,
            now,
            &token_hash(token),
            &self.peer,
            agent_name,
            device_name,
        ) {
            Ok((agent, changes)) => {
                tracing::info!(peer = %self.peer, %agent, agent_name, "admitted a new device to the team");
                step.changes.extend(changes);
                step.frames.push(Frame::JoinAccepted { agent });
                self.peer_agent = Some(agent);
                step.events.push(SessionEvent::AdmittedNewMember { agent });
                step.events
                    .push(SessionEvent::Admitted { agent: Some(agent) });
                self.become_ready(store, now, step)
            }
            Err(OpError::Store(e)) => Err((*e).into()),
            Err(refusal) => {
                let reason = refusal.to_string();
                tracing::warn!(peer = %self.peer, %reason, "refused a join request");
                step.frames.push(Frame::JoinRefused { reason });
                self.phase = Phase::Closed;
                step.close = true;
                Ok(())
            }
        }
    }

    fn become_ready(
        &mut self,
        store: &mut Store,
        now: Millis,
        step: &mut Step,
    ) -> Result<(), SessionError> {
        self.phase = Phase::Ready;
        // Start from the persisted shared heads, whatever a previous session left in memory.
        store.forget_peer(&self.peer);
        self.start_round(store, now, step)
    }

    fn start_round(
        &mut self,
        store: &mut Store,
        now: Millis,
        step: &mut Step,
    ) -> Result<(), SessionError> {
        self.round = self.round.wrapping_add(1);
        let digests = store.catalog_digests()?;
        debug_assert_eq!(digests.len(), CATALOG_BUCKETS);
        step.frames.push(Frame::CatalogDigests {
            round: self.round,
            digests,
        });
        self.round_open = Some((self.round, now));
        self.last_round_at = now;
        self.caught_up_reported = false;
        Ok(())
    }

    fn enqueue(&mut self, doc_id: String) {
        if !self.in_flight.contains_key(&doc_id)
            && !self.requested.contains_key(&doc_id)
            && !self.whole_queued.contains(&WholeKey::of(&doc_id))
            && self.queued.insert(doc_id.clone())
        {
            self.queue.push_back(doc_id);
        }
    }

    /// Queues a document this side lacks entirely, to ask for whole.
    fn enqueue_whole(&mut self, doc_id: String) {
        if !self.in_flight.contains_key(&doc_id)
            && !self.requested.contains_key(&doc_id)
            && !self.queued.contains(&doc_id)
        {
            self.whole_queued.insert(WholeKey::of(&doc_id));
        }
    }

    /// Answers a request for whole documents with their stored bytes, in
    /// frames of about [`DOC_DATA_BYTES`]; the rest are named `missing`.
    fn on_doc_request(
        &mut self,
        store: &mut Store,
        doc_ids: Vec<String>,
        step: &mut Step,
    ) -> Result<(), SessionError> {
        let raw = store.raw_doc_bytes(&doc_ids, MAX_WHOLE_DOC_LEN)?;
        let sent: HashSet<&str> = raw.iter().map(|d| d.doc_id.as_str()).collect();
        let missing: Vec<String> = doc_ids
            .iter()
            .filter(|id| !sent.contains(id.as_str()))
            .cloned()
            .collect();
        let delivered: Vec<(String, Vec<automerge::ChangeHash>)> = raw
            .iter()
            .map(|d| (d.doc_id.clone(), d.heads.clone()))
            .collect();
        let mut docs = Vec::new();
        let mut size = 0;
        for doc in raw {
            if !docs.is_empty() && size + doc.bytes.len() > DOC_DATA_BYTES {
                step.frames.push(Frame::DocData {
                    docs: std::mem::take(&mut docs),
                    missing: Vec::new(),
                });
                size = 0;
            }
            size += doc.bytes.len();
            docs.push((doc.doc_id, doc.bytes));
        }
        // The names of those not sent go on their own when documents fill the
        // frame: a document near the largest sent whole leaves no room.
        if !docs.is_empty() && !missing.is_empty() {
            step.frames.push(Frame::DocData {
                docs: std::mem::take(&mut docs),
                missing: Vec::new(),
            });
        }
        step.frames.push(Frame::DocData { docs, missing });
        store.mark_delivered(&self.peer, &delivered)?;
        Ok(())
    }

    /// Stores the whole documents received; those the peer did not send
    /// whole take the sync path.
    fn flush_whole(
        &mut self,
        store: &mut Store,
        whole: &mut WholeBatch,
        step: &mut Step,
    ) -> Result<(), SessionError> {
        if whole.docs.is_empty() && whole.missing.is_empty() {
            return Ok(());
        }
        let WholeBatch { docs, missing } = std::mem::take(whole);
        // Only documents this side asked for, each once: a repeat (a
        // duplicated frame) or one never asked for is dropped unread.
        let docs: Vec<(String, Vec<u8>)> = docs
            .into_iter()
            .filter(|(doc_id, _)| {
                let asked = self.requested.remove(doc_id).is_some() || self.late.remove(doc_id);
                if !asked {
                    tracing::debug!(peer = %self.peer, %doc_id, "whole document not asked for; dropped");
                }
                asked
            })
            .collect();
        if !docs.is_empty() {
            self.whole_docs += docs.len() as u64;
            self.whole_bytes += docs.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
            let imported = store.import_docs(&self.peer, docs)?;
            step.changes.extend(imported.changes);
            for (doc_id, reason) in imported.refused {
                step.frames.push(Frame::Refused { doc_id, reason });
            }
            self.held_for_team.extend(imported.deferred);
            self.release_held(store)?;
        }
        for doc_id in missing {
            if self.requested.remove(&doc_id).is_some() {
                self.enqueue(doc_id);
            }
        }
        Ok(())
    }

    /// Whether the store holds the team, and so a roster to judge by
    /// (read from the store until it does).
    fn roster_known(&mut self, store: &Store) -> Result<bool, SessionError> {
        if !self.roster_known {
            self.roster_known = store.team()?.is_some();
        }
        Ok(self.roster_known)
    }

    /// Ends an exchange the store did not take (refused, or not judged yet).
    fn end_exchange(&mut self, doc_id: String, step: &mut Step) {
        self.unqueue(&doc_id);
        self.in_flight.remove(&doc_id);
        self.exchanges.remove(&doc_id);
        step.frames.push(Frame::SyncDone { doc_id });
    }

    /// Once the team's document is stored, asks again for what came before it.
    fn release_held(&mut self, store: &Store) -> Result<(), SessionError> {
        if self.held_for_team.is_empty() || !self.roster_known(store)? {
            return Ok(());
        }
        for doc_id in std::mem::take(&mut self.held_for_team) {
            if store.has_doc(&doc_id)? {
                self.enqueue(doc_id);
            } else {
                self.enqueue_whole(doc_id);
            }
        }
        Ok(())
    }

    fn unqueue(&mut self, doc_id: &str) {
        // The queue entry itself is skipped when popped.
        self.queued.remove(doc_id);
    }

    fn flush_batch(
        &mut self,
        store: &mut Store,
        batch: &mut Vec<(String, Vec<u8>)>,
        now: Millis,
        step: &mut Step,
    ) -> Result<(), SessionError> {
        if batch.is_empty() {
            return Ok(());
        }
        let messages = std::mem::take(batch);
        let received = store.receive_sync_messages(&self.peer, &messages)?;
        step.changes.extend(received.changes);
        let mut answered = HashSet::new();
        // A refused document's exchange ends here: nothing of it was kept,
        // and answering would only ask for the same changes again.
        for (doc_id, reason) in received.refused {
            answered.insert(doc_id.clone());
            step.frames.push(Frame::Refused {
                doc_id: doc_id.clone(),
                reason,
            });
            self.end_exchange(doc_id, step);
        }
        // Not judged yet (the team's document has not come): this exchange
        // ends, and the document is asked for again once it has.
        for doc_id in received.deferred {
            answered.insert(doc_id.clone());
            self.held_for_team.push(doc_id.clone());
            self.end_exchange(doc_id, step);
        }
        self.release_held(store)?;
        for (doc_id, _) in messages {
            if !answered.insert(doc_id.clone()) {
                continue;
            }
            self.unqueue(&doc_id);
            let rounds = self.exchanges.entry(doc_id.clone()).or_insert(0);
            *rounds += 1;
            if *rounds > MAX_EXCHANGES {
                // Automerge never resends a change it believes sent: if one was
                // lost, the two sides trade heads forever. Start this peer's
                // sync states afresh from the persisted shared heads.
                tracing::debug!(peer = %self.peer, %doc_id, "sync exchange is not converging; resetting its state");
                self.exchanges.clear();
                store.forget_peer(&self.peer);
            }
            let announced = received.announced.get(&doc_id).map(Vec::as_slice);
            match store.sync_reply(&self.peer, &doc_id, announced)? {
                Some(bytes) => {
                    self.in_flight.insert(doc_id.clone(), now);
                    step.frames.push(Frame::SyncMessage { doc_id, bytes });
                }
                None => {
                    self.in_flight.remove(&doc_id);
                    self.exchanges.remove(&doc_id);
                    step.frames.push(Frame::SyncDone { doc_id });
                }
            }
        }
        Ok(())
    }

    /// How many documents may be asked for whole and not yet received: about
    /// [`REQUESTED_BYTES`] of them by the average so far, within the limit.
    fn request_window(&self) -> usize {
        let average = match self.whole_docs {
            0 => ASSUMED_DOC_BYTES,
            docs => (self.whole_bytes / docs).max(1),
        };
        usize::try_from(REQUESTED_BYTES / average)
            .unwrap_or(usize::MAX)
            .clamp(1, self.cfg.max_requested.max(1))
    }

    /// Starts queued exchanges up to the limit and reports progress.
    fn settle(
        &mut self,
        store: &mut Store,
        now: Millis,
        step: &mut Step,
    ) -> Result<(), SessionError> {
        if self.phase != Phase::Ready {
            return Ok(());
        }
        // Until the team's document is stored nothing else can be judged:
        // ask for it alone (it is queued first) and the rest after it.
        let roster_known = self.roster_known(store)?;
        let window = self.request_window();
        while self.requested.len() < window && !self.whole_queued.is_empty() {
            let room = (window - self.requested.len()).min(MAX_DOC_REQUEST);
            let mut doc_ids = Vec::with_capacity(room);
            while doc_ids.len() < room {
                let team_first =
                    roster_known || self.whole_queued.first().is_some_and(|key| !key.after_team);
                if !team_first {
                    break;
                }
                let Some(WholeKey { doc_id, .. }) = self.whole_queued.pop_first() else {
                    break;
                };
                self.requested.insert(doc_id.clone(), now);
                doc_ids.push(doc_id);
            }
            if doc_ids.is_empty() {
                break;
            }
            step.frames.push(Frame::DocRequest { doc_ids });
        }
        while self.in_flight.len() < self.cfg.max_in_flight {
            let Some(doc_id) = self.queue.pop_front() else {
                break;
            };
            if !self.queued.remove(&doc_id) {
                continue;
            }
            let mut message = store.generate_sync_message(&self.peer, &doc_id)?;
            if message.is_none() {
                // Automerge has nothing to say: it believes a message of
                // ours is still unanswered, or the peer at our heads. Either
                // can be stale (issue 11: an older exchange's `SyncDone`
                // ended this one after a newer message was lost, and both
                // sides stayed silent with different heads), and a queued
                // document is one a catalog round found different, or whose
                // exchange failed: start it afresh from the shared heads.
                store.forget_sync_state(&self.peer, &doc_id);
                message = store.generate_sync_message(&self.peer, &doc_id)?;
            }
            if let Some(bytes) = message {
                self.in_flight.insert(doc_id.clone(), now);
                step.frames.push(Frame::SyncMessage { doc_id, bytes });
            }
        }
        let pending = self.pending();
        if pending != self.last_pending {
            self.last_pending = pending;
            step.events.push(SessionEvent::Progress {
                pending,
                received_bytes: self.received_bytes,
            });
        }
        if pending == 0 && !self.caught_up_reported {
            self.caught_up_reported = true;
            step.events.push(SessionEvent::CaughtUp);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_documents_are_asked_for_the_team_first_then_by_id() {
        let ids = [
            "interaction:01B",
            "contact:01C",
            "team:01Z",
            "interaction:01A",
            "agent:01D",
        ];
        let order: Vec<String> = ids
            .iter()
            .map(|id| WholeKey::of(id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|key| key.doc_id)
            .collect();
        assert_eq!(
            order,
            [
                "team:01Z",
                "agent:01D",
                "contact:01C",
                "interaction:01A",
                "interaction:01B"
            ]
        );
    }

    #[test]
    fn the_whole_document_window_follows_what_documents_weigh() {
        let mut session = PeerSession::new(SessionConfig::default(), "peer", 0);
        assert_eq!(session.request_window(), 4096, "16 MiB of 4 KiB documents");
        session.whole_docs = 1000;
        session.whole_bytes = 1000 * 1200;
        assert_eq!(
            session.request_window(),
            13_981,
            "small documents: many at once"
        );
        session.whole_bytes = 1000 * 100;
        assert_eq!(session.request_window(), 16_384, "never past the limit");
        session.whole_bytes = 1000 * 1024 * 1024;
        assert_eq!(session.request_window(), 16, "1 MiB documents: 16 at once");
        session.whole_bytes = 1000 * 64 * 1024 * 1024;
        assert_eq!(session.request_window(), 1, "always at least one");
    }
}
