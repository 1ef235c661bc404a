//! The node: one tokio task (an actor) that owns the [`Store`] and the libp2p
//! swarm. Everything else talks to it through a [`NodeHandle`] (commands, each
//! answered on a oneshot channel) and listens to its [`Event`]s (a broadcast
//! channel); the GUI, the CLI (through the control socket, [`crate::control`])
//! and the channel gateways use nothing else.
//!
//! # Commands ([`NodeHandle`])
//!
//! | method | does |
//! |---|---|
//! | [`NodeHandle::execute`] | runs a [`Request`] with [`ops::execute`] (presence-aware), pushes the changed documents to every connected peer at once, reruns routing |
//! | [`NodeHandle::invite`] | records an invite in the team document and returns its code, carrying this node's listen addresses |
//! | [`NodeHandle::members`] | the roster with agent names and who is online |
//! | [`NodeHandle::revoke`] | revokes a device (supervisors), disconnects and blocks it |
//! | [`NodeHandle::peers`] | connected peers and their sync state |
//! | [`NodeHandle::status`] | this node's peer id, team, agent, listen addresses |
//! | [`NodeHandle::set_presence`] | sets the agent's status (stored) and announces it at once (ephemeral presence) |
//! | [`NodeHandle::typing`] | announces "typing in …" to the team (ephemeral) |
//! | [`NodeHandle::dial`] | connects to an address |
//! | [`NodeHandle::shutdown`] | says bye to every peer, stops, and closes the store |
//!
//! # Events ([`Event`])
//!
//! `Changed` (documents changed, locally or from a peer: re-read projections),
//! `PeerConnected` / `PeerDisconnected` / `PeerRefused`, `SyncProgress` and
//! `CaughtUp` (per peer), `Joined` / `JoinRefused` (joining device), `Presence`,
//! `Typing`, `Offer` (routing offers this agent an interaction), `ClaimLost`
//! (another agent's claim won after a partition), `Listening`, `Error` (a
//! non-blocking toast) and `Stopped`. Slow subscribers miss events
//! (broadcast lag) but never block the node; on `Lagged`, re-read everything.
//!
//! # Inside
//!
//! Each admitted peer has one long-lived stream (the lower peer id opens it)
//! with a reader task and a writer task; frames go to the actor through one
//! bounded channel (backpressure reaches the peer's TCP window) and out
//! through an unbounded one (the actor never blocks on a slow peer; what it
//! sends is bounded by the in-flight limit of each [`Session`]). The actor
//! applies frames in batches: the sync messages of one batch from one peer
//! land in one store transaction. Documents that change are pushed to every
//! other ready peer, so changes travel across the mesh.
//!
//! Peers are found by mDNS, `--peer` addresses, the invite's addresses, and
//! the addresses identify reports (remembered in the store across restarts).
//! A lost peer is redialed with exponential backoff (1 s … 60 s).
//!
//! Routing runs after every change, presence change and at the next offer
//! expiry (debounced); the node accepts for its own agent in auto-accept
//! campaigns and records a decline when an offer to its agent times out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::{AsyncReadExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Stream, Swarm, identify, mdns};
use meshdesk_model::authorship::DeviceKey;
use meshdesk_model::ops::{self, Context, OpError, Reply, Request};
use meshdesk_model::routing::{self, OfferKind, PresenceEntry, PresenceView, RoutingInput};
use meshdesk_model::store::{DocChange, Store, StoreError};
use meshdesk_model::{AgentId, AgentStatus, InteractionId, Millis, TeamId, now_ms, team_key};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::identity::peer_id_string;
use crate::invite::InviteCode;
use crate::keyring::Keyring;
use crate::protocol::{
    self, Frame, FrameError, PROTOCOL, Presence, PresenceStatus, Typing, TypingTarget,
};
use crate::session::{JoinTicket, Local, Session, SessionConfig, SessionError, SessionEvent, Step};
use crate::strangers::Strangers;
use crate::team::{self, MemberInfo, TeamError};
use crate::transport::{
    MeshBehaviour, MeshBehaviourEvent, TransportConfig, TransportError, build_swarm,
};

/// How often the actor looks at time (session timeouts, redials, heartbeats).
const TICK: Duration = Duration::from_millis(250);
/// How often presence is re-announced.
const PRESENCE_HEARTBEAT: Duration = Duration::from_secs(15);
/// How far ahead of this node's clock a presence's `since` may be.
const PRESENCE_CLOCK_SKEW_MS: Millis = 5 * 60 * 1000;
/// Devices discovered by mDNS that are not (yet) teammates, kept as dial candidates at most.
const MAX_MDNS_STRANGERS: usize = 64;
/// Addresses kept per discovered device.
const MAX_ADDRS_PER_PEER: usize = 8;
/// Presence not heard for this long is not live.
const PRESENCE_TTL_MS: Millis = 45_000;
/// Routing passes are at most this frequent.
const ROUTING_DEBOUNCE: Duration = Duration::from_millis(50);
/// Frames read from peers waiting for the actor.
const INPUT_QUEUE: usize = 4096;
/// Most frames handled in one batch.
const BATCH: usize = 4096;
/// Document bytes after which a batch ends, so a first sync that brings
/// thousands of documents leaves room between batches for commands,
/// presence and routing.
const BATCH_DOC_BYTES: usize = 4 * 1024 * 1024;
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A peer that never connected (e.g. another team's node found by mDNS) is retried rarely.
const BACKOFF_STRANGER: Duration = Duration::from_secs(600);
/// If the lower peer id has not opened the stream after this long, the higher one does.
const OPEN_FALLBACK: Duration = Duration::from_secs(3);
/// After a stream ended on a live connection, wait this long before opening another.
const REOPEN_AFTER: Duration = Duration::from_secs(10);
/// Routing passes while a sync is under way are at most this frequent.
const ROUTING_DEBOUNCE_SYNCING: Duration = Duration::from_millis(500);

/// What a joining device needs.
#[derive(Clone, Debug)]
pub struct JoinConfig {
    pub invite: InviteCode,
    pub agent_name: String,
    pub device_name: String,
}

/// Everything a node starts from.
pub struct NodeConfig {
    /// The node's home: `device.key`, `team.psk`, `control.sock`.
    pub data_dir: PathBuf,
    /// The team's store, opened by the caller (the node owns it until it stops).
    pub store: Store,
    /// The device key pair ([`crate::identity::load_or_create`]).
    pub keypair: Keypair,
    /// The team's pre-shared key ([`crate::team::load_team_key`]; a joining device: the invite's).
    pub psk: [u8; 32],
    /// Addresses to listen on; empty: `/ip4/0.0.0.0/tcp/0`.
    pub listen: Vec<Multiaddr>,
    /// Addresses to connect to (with or without a `/p2p/` suffix).
    pub peers: Vec<Multiaddr>,
    pub mdns: bool,
    /// Join a team with an invite instead of running as a member.
    pub join: Option<JoinConfig>,
    /// Serve the control socket `<data_dir>/control.sock`.
    pub control_socket: bool,
    pub session: SessionConfig,
}

impl NodeConfig {
    pub fn new(
        data_dir: impl Into<PathBuf>,
        store: Store,
        keypair: Keypair,
        psk: [u8; 32],
    ) -> Self {
        NodeConfig {
            data_dir: data_dir.into(),
            store,
            keypair,
            psk,
            listen: vec![],
            peers: vec![],
            mdns: true,
            join: None,
            control_socket: true,
            session: SessionConfig::default(),
        }
    }
}

impl std::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeConfig")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .field("mdns", &self.mdns)
            .field("join", &self.join)
            .finish_non_exhaustive()
    }
}

/// Why a node command failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Op(Box<OpError>),
    #[error(transparent)]
    Team(Box<TeamError>),
    #[error(transparent)]
    Store(Box<StoreError>),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("no team on this data dir: run `meshdesk team create` or `meshdesk team join CODE`")]
    NoTeam,
    #[error("the control socket {path}: {reason}")]
    Control { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("the node has stopped")]
    Stopped,
}

impl From<OpError> for NodeError {
    fn from(e: OpError) -> Self {
        NodeError::Op(Box::new(e))
    }
}

impl From<TeamError> for NodeError {
    fn from(e: TeamError) -> Self {
        NodeError::Team(Box::new(e))
    }
}

impl From<StoreError> for NodeError {
    fn from(e: StoreError) -> Self {
        NodeError::Store(Box::new(e))
    }
}

impl NodeError {
    /// Whether the request was at fault (bad input, refused by the rules).
    pub fn is_user_error(&self) -> bool {
        match self {
            NodeError::Op(e) => e.is_user_error(),
            NodeError::Team(e) => e.is_user_error(),
            NodeError::Invalid(_) | NodeError::NoTeam => true,
            _ => false,
        }
    }
}

/// A connected peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub peer: String,
    pub agent: Option<AgentId>,
    pub address: Option<String>,
    /// Admitted and syncing.
    pub ready: bool,
    /// Documents still to sync with it.
    pub pending_docs: usize,
}

/// This node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub device: String,
    pub team: TeamId,
    pub agent: Option<AgentId>,
    pub listen_addrs: Vec<String>,
    pub peers: usize,
    /// Sync-protocol bytes and frames sent to all peers since the start.
    pub bytes_sent: u64,
    pub frames_sent: u64,
}

/// What the node tells its listeners.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    Listening {
        addr: String,
    },
    PeerConnected {
        peer: String,
        agent: Option<AgentId>,
    },
    PeerDisconnected {
        peer: String,
    },
    /// A peer was refused or cut off (another team, not on the roster, revoked, bad frames).
    PeerRefused {
        peer: String,
        reason: String,
    },
    SyncProgress {
        peer: String,
        pending_docs: usize,
    },
    /// Everything that differed with this peer is synced.
    CaughtUp {
        peer: String,
    },
    Changed {
        changes: Vec<DocChange>,
    },
    Joined {
        agent: AgentId,
    },
    JoinRefused {
        reason: String,
    },
    Presence {
        agent: AgentId,
        entry: PresenceEntry,
    },
    Typing {
        agent: AgentId,
        target: TypingTarget,
    },
    /// Routing offers this node's agent an interaction.
    Offer {
        interaction: InteractionId,
        kind: OfferKind,
        expires_at: Option<Millis>,
    },
    /// This node's agent's claim lost to another agent's.
    ClaimLost {
        interaction: InteractionId,
    },
    Error {
        message: String,
    },
    Stopped,
}

type Reply1<T> = oneshot::Sender<Result<T, NodeError>>;

enum Command {
    Execute {
        request: Request,
        reply: Reply1<Reply>,
    },
    Invite {
        ttl_ms: Millis,
        uses: u32,
        reply: Reply1<InviteCode>,
    },
    Members {
        reply: Reply1<Vec<MemberInfo>>,
    },
    Revoke {
        device: String,
        reply: Reply1<()>,
    },
    Peers {
        reply: Reply1<Vec<PeerInfo>>,
    },
    Status {
        reply: Reply1<NodeStatus>,
    },
    SetPresence {
        status: AgentStatus,
        reply: Reply1<Reply>,
    },
    Typing {
        target: TypingTarget,
    },
    Dial {
        addr: Multiaddr,
        reply: Reply1<()>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// A handle to a running node; cheap to clone.
#[derive(Clone)]
pub struct NodeHandle {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    peer_id: PeerId,
    data_dir: PathBuf,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("peer_id", &self.peer_id)
            .finish()
    }
}

impl NodeHandle {
    async fn call<T>(&self, make: impl FnOnce(Reply1<T>) -> Command) -> Result<T, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)?
    }

    /// This device's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The data dir the node runs on.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// A new event subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Runs a domain request (see [`ops::Request`]); changes reach peers at once.
    pub async fn execute(&self, request: Request) -> Result<Reply, NodeError> {
        self.call(|reply| Command::Execute { request, reply }).await
    }

    /// Creates an invite valid for `ttl_ms` and `uses` joins.
    pub async fn invite(&self, ttl_ms: Millis, uses: u32) -> Result<InviteCode, NodeError> {
        self.call(|reply| Command::Invite {
            ttl_ms,
            uses,
            reply,
        })
        .await
    }

    pub async fn members(&self) -> Result<Vec<MemberInfo>, NodeError> {
        self.call(|reply| Command::Members { reply }).await
    }

    /// Revokes a device (a unique prefix of its peer id is enough).
    pub async fn revoke(&self, device: impl Into<String>) -> Result<(), NodeError> {
        let device = device.into();
        self.call(|reply| Command::Revoke { device, reply }).await
    }

    pub async fn peers(&self) -> Result<Vec<PeerInfo>, NodeError> {
        self.call(|reply| Command::Peers { reply }).await
    }

    pub async fn status(&self) -> Result<NodeStatus, NodeError> {
        self.call(|reply| Command::Status { reply }).await
    }

    /// Sets this agent's status (stored in the agent document) and announces it.
    pub async fn set_presence(&self, status: AgentStatus) -> Result<Reply, NodeError> {
        self.call(|reply| Command::SetPresence { status, reply })
            .await
    }

    /// Announces that this agent is typing (never stored).
    pub async fn typing(&self, target: TypingTarget) -> Result<(), NodeError> {
        self.commands
            .send(Command::Typing { target })
            .await
            .map_err(|_| NodeError::Stopped)
    }

    /// Connects to an address.
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), NodeError> {
        self.call(|reply| Command::Dial { addr, reply }).await
    }

    /// Stops the node; returns once the store is closed.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Shutdown { reply: tx })
            .await
            .is_err()
        {
            return Ok(()); // already stopped
        }
        let _ = rx.await;
        Ok(())
    }
}

/// The node; see the module docs.
#[derive(Debug)]
pub struct Node;

impl Node {
    /// Starts a node: binds its listen addresses and (if asked) the control
    /// socket, dials known peers, and returns once it is running.
    pub async fn start(
        config: NodeConfig,
    ) -> Result<(NodeHandle, broadcast::Receiver<Event>), NodeError> {
        let NodeConfig {
            data_dir,
            store,
            keypair,
            psk,
            listen,
            peers,
            mdns,
            join,
            control_socket,
            session,
        } = config;
        let device = peer_id_string(&keypair);
        let local_peer = keypair.public().to_peer_id();
        if store.device() != device {
            return Err(NodeError::Invalid(format!(
                "the store signs as device {} but the key file is {device}",
                store.device()
            )));
        }
        let local = match (&join, store.identity()?) {
            (_, Some(identity)) => {
                if identity.device != device {
                    return Err(NodeError::Invalid(format!(
                        "the store belongs to device {} but the key file is {device}",
                        identity.device
                    )));
                }
                Local::member(&identity)
            }
            (Some(j), None) => Local {
                team_id: j.invite.team_id,
                device: device.clone(),
                agent: None,
                join: Some(JoinTicket {
                    token: j.invite.token,
                    agent_name: j.agent_name.clone(),
                    device_name: j.device_name.clone(),
                }),
            },
            (None, None) => return Err(NodeError::NoTeam),
        };
        let device_key = crate::identity::device_key(&keypair)
            .map_err(|e| NodeError::Invalid(format!("the device key cannot sign: {e}")))?;
        let keyring = Keyring::with_retired(psk, team::load_retired_team_keys(&data_dir)?);
        let mut swarm = build_swarm(
            keypair,
            keyring.clone(),
            &TransportConfig {
                mdns,
                ..TransportConfig::default()
            },
        )?;
        let listen = if listen.is_empty() {
            vec![
                Multiaddr::empty()
                    .with(Protocol::Ip4(std::net::Ipv4Addr::UNSPECIFIED))
                    .with(Protocol::Tcp(0)),
            ]
        } else {
            listen
        };
        for addr in &listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| NodeError::Listen {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                })?;
        }
        // Wait for the listeners, so an invite made right after start carries the addresses.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut bound = 0usize;
        while bound < listen.len() {
            match tokio::time::timeout_at(deadline, swarm.select_next_some()).await {
                Ok(SwarmEvent::NewListenAddr { .. }) => bound += 1,
                Ok(SwarmEvent::ListenerError { error, .. })
                | Ok(SwarmEvent::ListenerClosed {
                    reason: Err(error), ..
                }) => {
                    return Err(NodeError::Listen {
                        addr: format!("{listen:?}"),
                        reason: error.to_string(),
                    });
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let (events, events_rx) = broadcast::channel(4096);
        let (commands, commands_rx) = mpsc::channel(256);
        let handle = NodeHandle {
            commands,
            events: events.clone(),
            peer_id: local_peer,
            data_dir: data_dir.clone(),
        };
        let control = if control_socket {
            Some(crate::control::serve(&data_dir, handle.clone()).await?)
        } else {
            None
        };
        let mut stream_control = swarm.behaviour().stream.new_control();
        let incoming = stream_control
            .accept(PROTOCOL)
            .map_err(|e| NodeError::Invalid(format!("cannot accept sync streams: {e}")))?;
        let (inputs_tx, inputs_rx) = mpsc::channel(INPUT_QUEUE);
        let mut actor = Actor {
            store,
            swarm,
            stream_control,
            local_peer,
            local,
            keyring,
            device_key,
            data_dir: data_dir.clone(),
            strangers: Strangers::default(),
            session_cfg: session,
            events,
            inputs_tx,
            links: HashMap::new(),
            next_conn: 1,
            opening: HashSet::new(),
            link_ended: HashMap::new(),
            connected: HashMap::new(),
            dialer: Dialer::default(),
            invite_addrs: join
                .as_ref()
                .map(|j| j.invite.addrs.clone())
                .unwrap_or_default(),
            refused: HashMap::new(),
            presence: PresenceState::default(),
            routing: RoutingState::default(),
            control,
            counters: Arc::default(),
        };
        for addr in listen_addrs(&actor.swarm) {
            actor.emit(Event::Listening {
                addr: addr.to_string(),
            });
        }
        actor.remember_own_addrs();
        actor.check_roster(); // block revoked devices from the start
        actor.seed_dialer(peers);
        tokio::spawn(actor.run(commands_rx, inputs_rx, incoming));
        Ok((handle, events_rx))
    }
}

/// Listen addresses worth sharing: non-loopback first, no unspecified ones.
fn listen_addrs(swarm: &Swarm<MeshBehaviour>) -> Vec<Multiaddr> {
    let mut addrs: Vec<Multiaddr> = swarm
        .listeners()
        .filter(|a| {
            !a.iter().any(|p| match p {
                Protocol::Ip4(ip) => ip.is_unspecified(),
                Protocol::Ip6(ip) => ip.is_unspecified() || (ip.segments()[0] & 0xffc0) == 0xfe80,
                _ => false,
            })
        })
        .cloned()
        .collect();
    let loopback = |a: &Multiaddr| {
        a.iter().any(|p| match p {
            Protocol::Ip4(ip) => ip.is_loopback(),
            Protocol::Ip6(ip) => ip.is_loopback(),
            _ => false,
        })
    };
    addrs.sort_by_key(|a| (loopback(a), a.to_string()));
    addrs.dedup();
    addrs
}

/// The next value of an ephemeral counter: increasing within a run, and
/// across restarts (it is at least the wall clock in ms).
fn next_seq(last: u64) -> u64 {
    let now = u64::try_from(now_ms()).unwrap_or(0);
    (last + 1).max(now)
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(peer) => Some(peer),
        _ => None,
    })
}

fn without_p2p(addr: &Multiaddr) -> Multiaddr {
    addr.iter()
        .filter(|p| !matches!(p, Protocol::P2p(_)))
        .collect()
}

// ---- peers and their streams -------------------------------------------------

enum Outgoing {
    /// An encoded frame body (its length prefix is added when written).
    Body(Vec<u8>),
    /// Say bye (if a reason is given), close the stream, and maybe the connection.
    Close {
        reason: Option<String>,
        disconnect: bool,
    },
}

enum Input {
    Frame {
        peer: PeerId,
        conn: u64,
        frame: Result<Frame, FrameError>,
        /// The frame's share of its link's input budget, given back once handled.
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    },
    Ended {
        peer: PeerId,
        conn: u64,
        error: Option<String>,
    },
    WriterDone {
        peer: PeerId,
        conn: u64,
        disconnect: bool,
    },
    Opened {
        peer: PeerId,
        stream: Stream,
    },
    OpenFailed {
        peer: PeerId,
        error: String,
    },
}

impl Input {
    /// The document bytes a frame carries (what applying it costs).
    fn doc_bytes(&self) -> usize {
        match self {
            Input::Frame {
                frame: Ok(Frame::DocData { docs, .. }),
                ..
            } => docs.iter().map(|(_, bytes)| bytes.len()).sum(),
            Input::Frame {
                frame: Ok(Frame::SyncMessage { bytes, .. }),
                ..
            } => bytes.len(),
            _ => 0,
        }
    }
}

struct Link {
    conn: u64,
    session: Session,
    tx: mpsc::UnboundedSender<Outgoing>,
    /// Bytes sent to the writer and not yet written ([`OUTPUT_BUDGET_BYTES`]).
    queued: Arc<AtomicUsize>,
    reader: JoinHandle<()>,
    closing: bool,
    /// `PeerConnected` was emitted (so `PeerDisconnected` is owed).
    announced: bool,
}

impl Link {
    fn send(&self, frames: Vec<Frame>) {
        for f in frames {
            match f.encode() {
                Ok(body) => {
                    self.queued.fetch_add(body.len() + 4, Ordering::Relaxed);
                    let _ = self.tx.send(Outgoing::Body(body));
                }
                Err(e) => tracing::warn!(error = %e, kind = f.kind(), "frame not sent"),
            }
        }
    }

    /// Whether the peer leaves more unread than a link may hold.
    fn over_budget(&self) -> bool {
        self.queued.load(Ordering::Relaxed) > OUTPUT_BUDGET_BYTES
    }
}

/// Traffic counters of a node (all peers).
#[derive(Debug, Default)]
struct Counters {
    bytes_sent: AtomicU64,
    frames_sent: AtomicU64,
}

/// Frames are gathered into writes of about this size.
const WRITE_BATCH_BYTES: usize = 256 * 1024;
/// Bytes of frames read from one peer and not yet handled, at most (two
/// frames of the largest size): memory per peer on the way in.
const INPUT_BUDGET_BYTES: usize = 2 * protocol::MAX_FRAME_LEN + 1024;
/// Bytes queued for one peer and not yet written, at most: a peer that asks
/// and does not read is dropped past it (memory per peer on the way out).
const OUTPUT_BUDGET_BYTES: usize = 64 * 1024 * 1024;

fn spawn_link_tasks(
    peer: PeerId,
    conn: u64,
    stream: Stream,
    inputs: mpsc::Sender<Input>,
    counters: Arc<Counters>,
    queued: Arc<AtomicUsize>,
) -> (mpsc::UnboundedSender<Outgoing>, JoinHandle<()>) {
    let (mut reader, mut writer) = stream.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let reader_inputs = inputs.clone();
    // Frames read but not yet handled hold their size in this budget; a
    // peer that sends faster than the node works waits in its TCP window.
    let budget = Arc::new(tokio::sync::Semaphore::new(INPUT_BUDGET_BYTES));
    let reader_task = tokio::spawn(async move {
        loop {
            let read = async {
                let Some(len) = protocol::read_frame_len(&mut reader).await? else {
                    return Ok(None);
                };
                let permits = u32::try_from(len.max(1)).unwrap_or(u32::MAX);
                let permit = budget.clone().acquire_many_owned(permits).await.ok();
                let frame = protocol::read_frame_body(&mut reader, len).await?;
                Ok(Some((frame, permit)))
            };
            match read.await {
                Ok(Some((frame, permit))) => {
                    if reader_inputs
                        .send(Input::Frame {
                            peer,
                            conn,
                            frame: Ok(frame),
                            permit,
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(None) => {
                    let _ = reader_inputs
                        .send(Input::Ended {
                            peer,
                            conn,
                            error: None,
                        })
                        .await;
                    return;
                }
                Err(e @ (FrameError::Io(_) | FrameError::Truncated)) => {
                    let _ = reader_inputs
                        .send(Input::Ended {
                            peer,
                            conn,
                            error: Some(e.to_string()),
                        })
                        .await;
                    return;
                }
                Err(e) => {
                    // Malformed: the actor closes the peer with the reason.
                    let _ = reader_inputs
                        .send(Input::Frame {
                            peer,
                            conn,
                            frame: Err(e),
                            permit: None,
                        })
                        .await;
                    return;
                }
            }
        }
    });
    tokio::spawn(async move {
        use futures::AsyncWriteExt;
        // Frames queued together go out in one write (one yamux frame, one
        // noise message) instead of one per frame.
        let mut buf: Vec<u8> = Vec::new();
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            let mut close = None;
            while let Some(out) = next.take() {
                match out {
                    Outgoing::Body(body) => {
                        buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
                        buf.extend_from_slice(&body);
                        counters
                            .bytes_sent
                            .fetch_add(body.len() as u64 + 4, Ordering::Relaxed);
                        counters.frames_sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Outgoing::Close { reason, disconnect } => close = Some((reason, disconnect)),
                }
                if close.is_some() || buf.len() >= WRITE_BATCH_BYTES {
                    break;
                }
                next = rx.try_recv().ok();
            }
            if !buf.is_empty() {
                let written = async {
                    writer.write_all(&buf).await?;
                    writer.flush().await
                };
                if let Err(e) = written.await {
                    tracing::debug!(%peer, error = %e, "writing to peer failed");
                    return;
                }
                queued.fetch_sub(buf.len(), Ordering::Relaxed);
                buf.clear();
            }
            if let Some((reason, disconnect)) = close {
                {
                    if let Some(reason) = reason {
                        let bye = Frame::Bye { reason };
                        let _ = tokio::time::timeout(
                            Duration::from_secs(2),
                            protocol::write_frame(&mut writer, &bye),
                        )
                        .await;
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(2), writer.close()).await;
                    let _ = inputs
                        .send(Input::WriterDone {
                            peer,
                            conn,
                            disconnect,
                        })
                        .await;
                    return;
                }
            }
        }
    });
    (tx, reader_task)
}

// ---- dialing -----------------------------------------------------------------

#[derive(Debug)]
struct Backoff {
    next_at: Instant,
    delay: Duration,
    ever_connected: bool,
}

impl Backoff {
    fn new() -> Self {
        Backoff {
            next_at: Instant::now(),
            delay: BACKOFF_MIN,
            ever_connected: false,
        }
    }

    fn failed(&mut self) {
        let cap = if self.ever_connected {
            BACKOFF_MAX
        } else {
            BACKOFF_STRANGER
        };
        self.next_at = Instant::now() + self.delay;
        self.delay = (self.delay * 2).min(cap);
    }

    /// A dial starts: no other before this one had time to fail or succeed.
    fn attempt(&mut self) {
        self.next_at = Instant::now() + self.delay;
    }

    fn connected(&mut self) {
        self.ever_connected = true;
        self.delay = BACKOFF_MIN;
    }

    fn due(&self) -> bool {
        Instant::now() >= self.next_at
    }
}

/// Whom to (re)connect to.
#[derive(Default)]
struct Dialer {
    /// Known peers and their addresses (roster members, remembered, from identify).
    known: BTreeMap<PeerId, Vec<Multiaddr>>,
    backoff: HashMap<PeerId, Backoff>,
    /// `--peer` and invite addresses without a peer id, with whom answered there last.
    bootstrap: Vec<(Multiaddr, Option<PeerId>, Backoff)>,
}

// ---- presence ----------------------------------------------------------------

#[derive(Default)]
struct PresenceState {
    seq: u64,
    last_sent: Option<Instant>,
    /// Device → (latest presence, when heard).
    heard: HashMap<String, (Presence, Millis)>,
    typing_seq: u64,
    typing_heard: HashMap<String, u64>,
    /// The view last reported, to send `Event::Presence` on change.
    reported: PresenceView,
}

// ---- routing -----------------------------------------------------------------

#[derive(Default)]
struct RoutingState {
    dirty: bool,
    last_run: Option<Instant>,
    /// The next offer expiry (wall clock ms) to rerun at.
    next_expiry: Option<Millis>,
    /// Offers to this agent: interaction → (first seen, kind).
    offered: HashMap<InteractionId, Millis>,
    /// Lost claims already reported.
    lost_reported: HashSet<InteractionId>,
}

// ---- the actor -----------------------------------------------------------------

struct Actor {
    store: Store,
    swarm: Swarm<MeshBehaviour>,
    stream_control: libp2p_stream::Control,
    local_peer: PeerId,
    local: Local,
    /// The team keys the swarm accepts; rotations update it in place.
    keyring: Keyring,
    /// Opens team keys sealed to this device.
    device_key: DeviceKey,
    data_dir: PathBuf,
    /// Connections from devices off the roster, kept briefly and few.
    strangers: Strangers,
    session_cfg: SessionConfig,
    events: broadcast::Sender<Event>,
    inputs_tx: mpsc::Sender<Input>,
    links: HashMap<PeerId, Link>,
    next_conn: u64,
    opening: HashSet<PeerId>,
    /// When each peer's last stream ended.
    link_ended: HashMap<PeerId, Instant>,
    /// Connected peers: since when, and the remote address.
    connected: HashMap<PeerId, (Instant, Multiaddr, ConnectionId)>,
    dialer: Dialer,
    invite_addrs: Vec<Multiaddr>,
    /// Peers refused for not being on the roster (yet), with their address: dialed when the roster grows.
    refused: HashMap<PeerId, Multiaddr>,
    presence: PresenceState,
    routing: RoutingState,
    control: Option<crate::control::ControlServer>,
    counters: Arc<Counters>,
}

impl Actor {
    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    fn joining(&self) -> bool {
        self.local.agent.is_none()
    }

    fn device(&self) -> &str {
        &self.local.device
    }

    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut inputs: mpsc::Receiver<Input>,
        mut incoming: libp2p_stream::IncomingStreams,
    ) {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.routing.dirty = true;
        let shutdown_reply = loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => break Some(reply),
                    Some(command) => self.on_command(command),
                    None => break None,
                },
                Some((peer, stream)) = incoming.next() => self.on_inbound_stream(peer, stream),
                Some(input) = inputs.recv() => {
                    let mut doc_bytes = input.doc_bytes();
                    let mut batch = vec![input];
                    while batch.len() < BATCH && doc_bytes < BATCH_DOC_BYTES {
                        match inputs.try_recv() {
                            Ok(input) => {
                                doc_bytes += input.doc_bytes();
                                batch.push(input);
                            }
                            Err(_) => break,
                        }
                    }
                    self.on_inputs(batch);
                }
                _ = ticker.tick() => self.on_tick(),
            }
            self.maybe_route();
        };
        self.stop().await;
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
    }

    async fn stop(mut self) {
        tracing::info!("node stopping");
        let peers: Vec<PeerId> = self.links.keys().copied().collect();
        for peer in peers {
            if let Some(link) = self.links.get_mut(&peer) {
                let _ = link.tx.send(Outgoing::Close {
                    reason: Some("node shutting down".into()),
                    disconnect: false,
                });
                link.closing = true;
            }
        }
        // Give the writers a moment to say bye, while the swarm keeps running.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        while tokio::time::Instant::now() < deadline {
            tokio::select! {
                _ = self.swarm.select_next_some() => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        for link in self.links.values() {
            link.reader.abort();
        }
        if let Some(control) = self.control.take() {
            control.stop();
        }
        self.emit(Event::Stopped);
        // The store (and its file lock) goes with `self`.
    }

    // ---- swarm ------------------------------------------------------------

    fn on_swarm_event(&mut self, event: SwarmEvent<MeshBehaviourEvent>) {
        if let SwarmEvent::ConnectionClosed { connection_id, .. } = &event {
            self.strangers.closed(*connection_id);
        }
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                self.emit(Event::Listening {
                    addr: address.to_string(),
                });
                self.remember_own_addrs();
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                connection_id,
                ..
            } => {
                let addr = endpoint.get_remote_address().clone();
                tracing::debug!(peer = %peer_id, %addr, "connection established");
                if !endpoint.is_dialer()
                    && self.keyring.took_retired_key(&addr)
                    && !self.is_active_member(&peer_id.to_base58())
                {
                    // A retired key is a way back in for teammates who missed
                    // a rotation, not for anyone who once saw an invite.
                    tracing::warn!(peer = %peer_id, "connection with a retired team key from a non-member; closing it");
                    self.swarm.close_connection(connection_id);
                    self.emit(Event::PeerRefused {
                        peer: peer_id.to_base58(),
                        reason: "connected with a retired team key and is not on the roster".into(),
                    });
                    return;
                }
                if !self.joining() && !self.is_active_member(&peer_id.to_base58()) {
                    for conn in
                        self.strangers
                            .arrived(peer_id, connection_id, &addr, Instant::now())
                    {
                        tracing::debug!(
                            "too many connections from devices off the roster; closing the oldest"
                        );
                        self.swarm.close_connection(conn);
                    }
                }
                if endpoint.is_dialer() {
                    let plain = without_p2p(&addr);
                    for (boot, who, backoff) in &mut self.dialer.bootstrap {
                        if without_p2p(boot) == plain {
                            *who = Some(peer_id);
                            backoff.connected();
                        }
                    }
                }
                self.dialer
                    .backoff
                    .entry(peer_id)
                    .or_insert_with(Backoff::new)
                    .connected();
                self.connected
                    .entry(peer_id)
                    .or_insert((Instant::now(), addr, connection_id));
                self.maybe_open(peer_id, false);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                tracing::debug!(peer = %peer_id, cause = ?cause.map(|c| c.to_string()), "disconnected");
                self.connected.remove(&peer_id);
                self.drop_link(peer_id, None);
                if let Some(b) = self.dialer.backoff.get_mut(&peer_id) {
                    // Redial soon, not at once: the peer may be restarting.
                    b.next_at = Instant::now() + b.delay;
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id, %error, "dial failed");
                if let Some(peer) = peer_id {
                    self.dialer
                        .backoff
                        .entry(peer)
                        .or_insert_with(Backoff::new)
                        .failed();
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                tracing::info!(from = %send_back_addr, %error, "refused an incoming connection (wrong team key or broken handshake)");
            }
            SwarmEvent::Behaviour(MeshBehaviourEvent::Mdns(event)) => self.on_mdns(event),
            SwarmEvent::Behaviour(MeshBehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if info.protocol_version != crate::transport::IDENTIFY_PROTOCOL {
                    return;
                }
                let addrs: Vec<Multiaddr> = info
                    .listen_addrs
                    .into_iter()
                    .filter(|a| {
                        !a.iter()
                            .any(|p| matches!(p, Protocol::Ip4(ip) if ip.is_unspecified()))
                    })
                    .map(|a| without_p2p(&a))
                    .collect();
                for a in &addrs {
                    self.swarm.add_peer_address(peer_id, a.clone());
                }
                let member = self.is_member(&peer_id.to_base58());
                if member && !addrs.is_empty() {
                    self.dialer.known.insert(peer_id, addrs.clone());
                    let strings: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
                    if let Err(e) = self
                        .store
                        .remember_peer_addrs(&peer_id.to_base58(), &strings)
                    {
                        tracing::warn!(error = %e, "cannot remember peer addresses");
                    }
                }
            }
            _ => {}
        }
    }

    fn on_mdns(&mut self, event: mdns::Event) {
        if self.joining() {
            return;
        }
        if let mdns::Event::Discovered(found) = event {
            let mut peers = HashSet::new();
            let team = self.store.team().ok().flatten();
            let is_teammate = |p: &PeerId| {
                team.as_ref()
                    .is_some_and(|t| t.members.contains_key(&p.to_base58()))
            };
            for (peer, addr) in found {
                if peer == self.local_peer {
                    continue;
                }
                // Anyone on the LAN can answer mDNS: strangers are kept as
                // dial candidates only up to a bound, and few addresses each.
                if !self.dialer.known.contains_key(&peer) && !is_teammate(&peer) {
                    let strangers = self.dialer.known.keys().filter(|p| !is_teammate(p)).count();
                    if strangers >= MAX_MDNS_STRANGERS {
                        continue;
                    }
                }
                let entry = self.dialer.known.entry(peer).or_default();
                if entry.len() >= MAX_ADDRS_PER_PEER {
                    continue;
                }
                self.swarm.add_peer_address(peer, addr.clone());
                if !entry.contains(&addr) {
                    entry.push(addr);
                }
                peers.insert(peer);
            }
            for peer in peers {
                // Lower peer id dials when both discover each other.
                if self.local_peer < peer && !self.swarm.is_connected(&peer) {
                    self.dial_peer(peer);
                }
            }
        }
    }

    /// On the roster and not revoked.
    fn is_active_member(&self, device: &str) -> bool {
        matches!(self.store.team(), Ok(Some(team)) if team.members.get(device).is_some_and(|m| !m.revoked))
    }

    fn is_member(&self, device: &str) -> bool {
        matches!(self.store.team(), Ok(Some(team)) if team.member_by_device(device).is_some())
    }

    fn dial_peer(&mut self, peer: PeerId) {
        let backoff = self.dialer.backoff.entry(peer).or_insert_with(Backoff::new);
        if !backoff.due() {
            return;
        }
        backoff.attempt();
        let addrs = self.dialer.known.get(&peer).cloned().unwrap_or_default();
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "cannot dial");
        }
    }

    fn seed_dialer(&mut self, peers: Vec<Multiaddr>) {
        let mut boot: Vec<Multiaddr> = peers;
        boot.extend(self.invite_addrs.iter().cloned());
        for addr in boot {
            match peer_of(&addr) {
                Some(peer) if peer != self.local_peer => {
                    let plain = without_p2p(&addr);
                    self.swarm.add_peer_address(peer, plain.clone());
                    let entry = self.dialer.known.entry(peer).or_default();
                    if !entry.contains(&plain) {
                        entry.push(plain);
                    }
                }
                Some(_) => {}
                None => self.dialer.bootstrap.push((addr, None, Backoff::new())),
            }
        }
        if !self.joining() {
            match self.store.known_peer_addrs() {
                Ok(known) => {
                    for (peer, addrs) in known {
                        let Ok(peer) = peer.parse::<PeerId>() else {
                            continue;
                        };
                        if peer == self.local_peer {
                            continue;
                        }
                        let addrs: Vec<Multiaddr> =
                            addrs.iter().filter_map(|a| a.parse().ok()).collect();
                        let entry = self.dialer.known.entry(peer).or_default();
                        for a in addrs {
                            if !entry.contains(&a) {
                                entry.push(a);
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read remembered peer addresses"),
            }
        }
        self.redial();
    }

    /// Dials known peers and bootstrap addresses that are not connected and are due.
    fn redial(&mut self) {
        if self.joining() && !self.links.is_empty() {
            return;
        }
        let team = if self.joining() {
            None
        } else {
            self.store.team().ok().flatten()
        };
        let invite_peers: HashSet<PeerId> = self.invite_addrs.iter().filter_map(peer_of).collect();
        let candidates: Vec<PeerId> = self
            .dialer
            .known
            .keys()
            .copied()
            .filter(|p| !self.swarm.is_connected(p) && *p != self.local_peer)
            .filter(|p| {
                let device = p.to_base58();
                match &team {
                    // Members of the roster (and peers we know nothing against yet).
                    Some(team) => team.members.get(&device).is_none_or(|m| !m.revoked),
                    None => !self.joining() || invite_peers.contains(p),
                }
            })
            .collect();
        for peer in candidates {
            self.dial_peer(peer);
        }
        let mut dials = Vec::new();
        for (addr, who, backoff) in &mut self.dialer.bootstrap {
            let connected = who.is_some_and(|p| self.swarm.is_connected(&p));
            if !connected && backoff.due() {
                backoff.failed();
                dials.push(addr.clone());
            }
        }
        for addr in dials {
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::debug!(%addr, error = %e, "cannot dial");
            }
        }
    }

    /// Keeps a peer's known addresses in the store, for the next start.
    fn remember_addrs_of(&mut self, peer: PeerId) {
        let mut addrs: Vec<String> = self
            .dialer
            .known
            .get(&peer)
            .map(|v| v.iter().map(|a| a.to_string()).collect())
            .unwrap_or_default();
        // An inbound connection's address is the peer's outgoing port: useless
        // to dial; only an address we dialed ourselves is worth keeping.
        if addrs.is_empty()
            && let Some((_, addr, _)) = self.connected.get(&peer)
            && self
                .dialer
                .bootstrap
                .iter()
                .any(|(_, who, _)| *who == Some(peer))
        {
            addrs.push(without_p2p(addr).to_string());
        }
        if addrs.is_empty() || self.joining() {
            return;
        }
        if let Err(e) = self.store.remember_peer_addrs(&peer.to_base58(), &addrs) {
            tracing::warn!(error = %e, "cannot remember peer addresses");
        }
    }

    fn remember_own_addrs(&mut self) {
        let addrs: Vec<String> = listen_addrs(&self.swarm)
            .iter()
            .map(|a| a.to_string())
            .collect();
        if addrs.is_empty() || self.joining() {
            return;
        }
        let device = self.device().to_string();
        if let Err(e) = self.store.remember_peer_addrs(&device, &addrs) {
            tracing::warn!(error = %e, "cannot remember own addresses");
        }
    }

    // ---- streams ------------------------------------------------------------

    /// Opens the sync stream to a connected peer if it is this side's turn.
    fn maybe_open(&mut self, peer: PeerId, fallback: bool) {
        if self.links.contains_key(&peer) || self.opening.contains(&peer) {
            return;
        }
        if self.joining() && !self.links.is_empty() {
            return;
        }
        if !(self.local_peer < peer || fallback) {
            return;
        }
        self.opening.insert(peer);
        let mut control = self.stream_control.clone();
        let inputs = self.inputs_tx.clone();
        tokio::spawn(async move {
            let input = match control.open_stream(peer, PROTOCOL).await {
                Ok(stream) => Input::Opened { peer, stream },
                Err(e) => Input::OpenFailed {
                    peer,
                    error: e.to_string(),
                },
            };
            let _ = inputs.send(input).await;
        });
    }

    fn on_inbound_stream(&mut self, peer: PeerId, stream: Stream) {
        if self.joining() && self.links.keys().any(|p| *p != peer) {
            return; // one conversation at a time while joining; dropping the stream closes it
        }
        self.attach(peer, stream);
    }

    /// Starts a session on a new stream (replacing an older one with the peer).
    fn attach(&mut self, peer: PeerId, stream: Stream) {
        self.opening.remove(&peer);
        if let Some(old) = self.links.remove(&peer) {
            tracing::debug!(%peer, "replacing the sync stream");
            old.reader.abort();
            let _ = old.tx.send(Outgoing::Close {
                reason: None,
                disconnect: false,
            });
            let mut old_session = old.session;
            old_session.close(&mut self.store);
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        let queued = Arc::new(AtomicUsize::new(0));
        let (tx, reader) = spawn_link_tasks(
            peer,
            conn,
            stream,
            self.inputs_tx.clone(),
            self.counters.clone(),
            queued.clone(),
        );
        let mut session = Session::new(self.session_cfg.clone(), peer.to_base58(), now_ms());
        let step = session.start(&self.local);
        let link = Link {
            conn,
            session,
            tx,
            queued,
            reader,
            closing: false,
            announced: false,
        };
        link.send(step.frames);
        self.links.insert(peer, link);
    }

    /// Forgets a peer's link (the stream or connection ended).
    fn drop_link(&mut self, peer: PeerId, conn: Option<u64>) {
        let Some(link) = self.links.get(&peer) else {
            return;
        };
        if conn.is_some_and(|c| c != link.conn) {
            return;
        }
        if let Some(mut link) = self.links.remove(&peer) {
            link.reader.abort();
            let _ = link.tx.send(Outgoing::Close {
                reason: None,
                disconnect: false,
            });
            link.session.close(&mut self.store);
            self.link_ended.insert(peer, Instant::now());
            if link.announced {
                self.emit(Event::PeerDisconnected {
                    peer: peer.to_base58(),
                });
                self.mark_presence_gone(&peer.to_base58());
            }
        }
    }

    /// Ends a peer's session with a reason (said in `Bye`), and its connection if `disconnect`.
    fn close_link(&mut self, peer: PeerId, reason: String, disconnect: bool) {
        if let Some(link) = self.links.get_mut(&peer) {
            if link.closing {
                return;
            }
            link.closing = true;
            let reason = Some(reason).filter(|r| !r.is_empty());
            let _ = link.tx.send(Outgoing::Close { reason, disconnect });
            link.session.close(&mut self.store);
        } else if disconnect {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    // ---- frames -------------------------------------------------------------

    fn on_inputs(&mut self, batch: Vec<Input>) {
        // Group frames per peer, keeping order, so sync messages apply in one transaction.
        let mut frames: Vec<(PeerId, u64, Vec<Frame>)> = Vec::new();
        let flush = |actor: &mut Actor, frames: &mut Vec<(PeerId, u64, Vec<Frame>)>| {
            for (peer, conn, fs) in frames.drain(..) {
                actor.on_frames(peer, conn, fs);
            }
        };
        // Held until the batch is handled: the input budget frees then.
        let mut permits = Vec::new();
        for input in batch {
            match input {
                Input::Frame {
                    peer,
                    conn,
                    frame: Ok(frame),
                    permit,
                } => {
                    permits.push(permit);
                    match frames.iter_mut().find(|(p, c, _)| *p == peer && *c == conn) {
                        Some((_, _, fs)) => fs.push(frame),
                        None => frames.push((peer, conn, vec![frame])),
                    }
                }
                Input::Frame {
                    peer,
                    conn,
                    frame: Err(e),
                    ..
                } => {
                    flush(self, &mut frames);
                    if self.links.get(&peer).is_some_and(|l| l.conn == conn) {
                        tracing::warn!(%peer, error = %e, "malformed frame from peer; disconnecting it");
                        self.emit(Event::PeerRefused {
                            peer: peer.to_base58(),
                            reason: e.to_string(),
                        });
                        self.close_link(peer, format!("malformed frame: {e}"), true);
                    }
                }
                Input::Ended { peer, conn, error } => {
                    flush(self, &mut frames);
                    if let Some(e) = error {
                        tracing::debug!(%peer, error = %e, "sync stream ended");
                    }
                    self.drop_link(peer, Some(conn));
                }
                Input::WriterDone {
                    peer,
                    conn,
                    disconnect,
                } => {
                    flush(self, &mut frames);
                    self.drop_link(peer, Some(conn));
                    if disconnect {
                        let _ = self.swarm.disconnect_peer_id(peer);
                    }
                }
                Input::Opened { peer, stream } => {
                    flush(self, &mut frames);
                    if self.links.contains_key(&peer) || (self.joining() && !self.links.is_empty())
                    {
                        self.opening.remove(&peer);
                        continue; // the peer opened one meanwhile (or a join is under way); keep that
                    }
                    self.attach(peer, stream);
                }
                Input::OpenFailed { peer, error } => {
                    self.opening.remove(&peer);
                    tracing::debug!(%peer, %error, "cannot open the sync stream");
                }
            }
        }
        flush(self, &mut frames);
    }

    fn on_frames(&mut self, peer: PeerId, conn: u64, frames: Vec<Frame>) {
        // A document request can be answered with megabytes: each is handled
        // on its own and the peer's unread bytes checked after it, so a
        // peer asking for more than it reads is dropped before it costs more.
        let mut rest = frames.into_iter().peekable();
        while rest.peek().is_some() {
            let mut part = Vec::new();
            for frame in rest.by_ref() {
                let answered_whole = matches!(frame, Frame::DocRequest { .. });
                part.push(frame);
                if answered_whole {
                    break;
                }
            }
            let now = now_ms();
            let Some(link) = self.links.get_mut(&peer) else {
                return;
            };
            if link.conn != conn || link.closing {
                return;
            }
            let was_ready = link.session.is_ready();
            let result = link
                .session
                .handle(&mut self.store, &mut self.local, part, now);
            self.after_step(peer, was_ready, result);
            if self.drop_if_over_budget(peer) {
                return;
            }
        }
    }

    /// Drops a peer that leaves more unread than a link may hold.
    fn drop_if_over_budget(&mut self, peer: PeerId) -> bool {
        if !self
            .links
            .get(&peer)
            .is_some_and(|l| !l.closing && l.over_budget())
        {
            return false;
        }
        tracing::warn!(%peer, "the peer does not read what it asked for; dropping it");
        self.emit(Event::PeerRefused {
            peer: peer.to_base58(),
            reason: "does not read what it asked for".into(),
        });
        self.close_link(peer, "too much unread: read what you ask for".into(), true);
        // Its writer is stuck behind what it does not read: cut the connection now.
        let _ = self.swarm.disconnect_peer_id(peer);
        true
    }

    /// Sends a step's frames, spreads its changes and turns its events into node events.
    fn after_step(&mut self, peer: PeerId, was_ready: bool, result: Result<Step, SessionError>) {
        let device = peer.to_base58();
        let step = match result {
            Ok(step) => step,
            Err(e) => {
                self.refuse(peer, &e);
                return;
            }
        };
        let Some(link) = self.links.get(&peer) else {
            return;
        };
        link.send(step.frames);
        let now_ready = link.session.is_ready();
        let peer_agent = link.session.peer_agent();
        for event in step.events {
            match event {
                SessionEvent::Admitted { agent } => {
                    tracing::info!(peer = %device, agent = ?agent, "peer admitted");
                    self.refused.remove(&peer);
                    self.remember_addrs_of(peer);
                    if let Some(link) = self.links.get_mut(&peer) {
                        link.announced = true;
                    }
                    self.emit(Event::PeerConnected {
                        peer: device.clone(),
                        agent,
                    });
                }
                SessionEvent::Joined { agent } => {
                    tracing::info!(%agent, "joined the team");
                    self.remember_addrs_of(peer);
                    self.emit(Event::Joined { agent });
                    self.remember_own_addrs();
                }
                SessionEvent::JoinRefused { reason } => {
                    tracing::warn!(peer = %device, %reason, "the join was refused");
                    self.emit(Event::JoinRefused { reason });
                }
                SessionEvent::AdmittedNewMember { agent } => {
                    tracing::info!(peer = %device, %agent, "a new device joined the team");
                }
                SessionEvent::Progress { pending } => self.emit(Event::SyncProgress {
                    peer: device.clone(),
                    pending_docs: pending,
                }),
                SessionEvent::CaughtUp => self.emit(Event::CaughtUp {
                    peer: device.clone(),
                }),
                SessionEvent::Presence(p) => self.on_presence(peer, p),
                SessionEvent::Typing(t) => self.on_typing(peer, t),
                SessionEvent::Bye { reason } => {
                    tracing::info!(peer = %device, %reason, "peer said bye");
                }
            }
        }
        if step.close {
            self.close_link(peer, String::new(), false);
        }
        if !was_ready && now_ready {
            let _ = peer_agent;
            self.send_presence_to(peer);
        }
        if !step.changes.is_empty() {
            self.on_changes(step.changes, Some(peer));
        }
    }

    fn refuse(&mut self, peer: PeerId, error: &SessionError) {
        let device = peer.to_base58();
        match error {
            SessionError::Refused(reason) => {
                tracing::warn!(peer = %device, %reason, "refused connection");
                if reason.contains("roster")
                    && let Some((_, addr, _)) = self.connected.get(&peer)
                {
                    self.refused.insert(peer, addr.clone());
                }
            }
            SessionError::Protocol(reason) => {
                tracing::warn!(peer = %device, %reason, "protocol violation; disconnecting the peer")
            }
            SessionError::Store(e) => {
                tracing::error!(peer = %device, error = %e, "store error while syncing");
                self.emit(Event::Error {
                    message: format!("sync with {device} failed: {e}"),
                });
            }
        }
        self.emit(Event::PeerRefused {
            peer: device,
            reason: error.to_string(),
        });
        self.close_link(peer, error.reason(), true);
    }

    /// Documents changed (locally, or from `source`): push them to every other
    /// ready peer, tell listeners, re-check the roster, rerun routing.
    fn on_changes(&mut self, changes: Vec<DocChange>, source: Option<PeerId>) {
        let now = now_ms();
        let ids: Vec<String> = changes.iter().map(|c| c.doc_id.clone()).collect();
        let peers: Vec<PeerId> = self
            .links
            .keys()
            .copied()
            .filter(|p| Some(*p) != source)
            .collect();
        for peer in peers {
            let Some(link) = self.links.get_mut(&peer) else {
                continue;
            };
            if !link.session.is_ready() || link.closing {
                continue;
            }
            let result = link.session.push(&mut self.store, &ids, now);
            self.after_step(peer, true, result);
        }
        let team_changed = changes.iter().any(|c| c.doc_id.starts_with("team:"));
        let my_agent = self.local.agent.map(|a| format!("agent:{a}"));
        let agent_changed = my_agent.is_some_and(|a| ids.contains(&a));
        self.emit(Event::Changed { changes });
        if team_changed {
            self.check_roster();
        }
        if agent_changed {
            self.broadcast_presence();
        }
        self.routing.dirty = true;
    }

    /// Disconnects revoked devices; dials devices refused earlier that are members now.
    fn check_roster(&mut self) {
        self.check_team_key();
        let Ok(Some(team)) = self.store.team() else {
            return;
        };
        let revoked: Vec<PeerId> = self
            .links
            .keys()
            .copied()
            .filter(|p| team.members.get(&p.to_base58()).is_some_and(|m| m.revoked))
            .collect();
        for peer in revoked {
            tracing::warn!(%peer, "device revoked; disconnecting it");
            self.swarm.behaviour_mut().blocked.block_peer(peer);
            self.emit(Event::PeerRefused {
                peer: peer.to_base58(),
                reason: "revoked".into(),
            });
            self.close_link(peer, "this device was revoked from the team".into(), true);
        }
        for m in team.members.values().filter(|m| m.revoked) {
            if let Ok(peer) = m.device.parse::<PeerId>() {
                self.swarm.behaviour_mut().blocked.block_peer(peer);
            }
        }
        // What was heard from devices that are no longer teammates goes.
        let active = |d: &String| team.members.get(d).is_some_and(|m| !m.revoked);
        self.presence.heard.retain(|d, _| active(d));
        self.presence.typing_heard.retain(|d, _| active(d));
        let now_members: Vec<(PeerId, Multiaddr)> = self
            .refused
            .iter()
            .filter(|(p, _)| team.member_by_device(&p.to_base58()).is_some())
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        for (peer, addr) in now_members {
            self.refused.remove(&peer);
            let entry = self.dialer.known.entry(peer).or_default();
            if !entry.contains(&addr) {
                entry.push(addr);
            }
            if let Some(b) = self.dialer.backoff.get_mut(&peer) {
                b.next_at = Instant::now();
            }
            if self.swarm.is_connected(&peer) {
                self.maybe_open(peer, true);
            } else {
                self.dial_peer(peer);
            }
        }
    }

    /// Rotates the team key if a revoked device may still hold it (a
    /// supervisor's node does), and switches to the key in force once it is
    /// sealed to this device; keys of older rotations are accepted too.
    fn check_team_key(&mut self) {
        if self.joining() {
            return;
        }
        match team::rotate_key_if_due(&mut self.store, now_ms()) {
            Ok(Some((key, change))) => {
                tracing::info!("a device was revoked; the team key is rotated");
                self.use_team_key(key);
                self.on_changes(vec![change], None);
                return; // on_changes came back here with the new rotation
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot rotate the team key"),
        }
        let Ok(Some(team)) = self.store.team() else {
            return;
        };
        let me = self.local.device.clone();
        let opened = |k: &meshdesk_model::TeamKey| {
            let sealed = k.sealed.get(&me)?;
            let key = self.device_key.open_team_key(&k.id, sealed).ok()?;
            (team_key::fingerprint(&key) == k.fingerprint).then_some(key)
        };
        let Some(current) = team.current_key() else {
            return;
        };
        for rotation in team.keys.values().filter(|k| k.id != current.id) {
            if let Some(key) = opened(rotation) {
                self.keyring.know_retired(key);
            }
        }
        if team_key::fingerprint(&self.keyring.current()) == current.fingerprint {
            return;
        }
        match opened(current) {
            Some(key) => {
                tracing::info!(
                    generation = current.generation,
                    "switching to the rotated team key"
                );
                self.use_team_key(key);
            }
            None => tracing::warn!(
                generation = current.generation,
                "the team key was rotated and this device cannot open the new one"
            ),
        }
    }

    /// Puts a rotated key in force here: on disk first, so a restart dials with it.
    fn use_team_key(&mut self, key: [u8; 32]) {
        if let Err(e) = team::switch_team_key(&self.data_dir, &key) {
            tracing::error!(error = %e, "cannot save the rotated team key");
        }
        self.keyring.rotate_to(key);
    }

    // ---- time ----------------------------------------------------------------

    fn on_tick(&mut self) {
        let now = now_ms();
        // The roster is read only while strangers are connected, not every tick.
        if !self.strangers.is_empty() {
            let team = self.store.team().ok().flatten();
            let teammate = |p: &PeerId| {
                team.as_ref()
                    .is_some_and(|t| t.members.get(&p.to_base58()).is_some_and(|m| !m.revoked))
            };
            for conn in self.strangers.expired(Instant::now(), teammate) {
                tracing::debug!(
                    "a device off the roster was not admitted in time; closing its connection"
                );
                self.swarm.close_connection(conn);
            }
        }
        let peers: Vec<PeerId> = self.links.keys().copied().collect();
        for peer in peers {
            if self.drop_if_over_budget(peer) {
                continue;
            }
            let Some(link) = self.links.get_mut(&peer) else {
                continue;
            };
            if link.closing {
                continue;
            }
            let was_ready = link.session.is_ready();
            let result = link.session.tick(&mut self.store, now);
            self.after_step(peer, was_ready, result);
        }
        // Connected peers whose lower-id side never opened a stream.
        let stale: Vec<PeerId> = self
            .connected
            .iter()
            .filter(|(p, (since, _, _))| {
                !self.links.contains_key(p)
                    && since.elapsed() > OPEN_FALLBACK
                    && self
                        .link_ended
                        .get(p)
                        .is_none_or(|t| t.elapsed() > REOPEN_AFTER)
            })
            .map(|(p, _)| *p)
            .collect();
        for peer in stale {
            self.maybe_open(peer, true);
        }
        self.redial();
        let heartbeat_due = self
            .presence
            .last_sent
            .is_none_or(|t| t.elapsed() >= PRESENCE_HEARTBEAT);
        if heartbeat_due && !self.joining() {
            self.broadcast_presence();
        }
        if self.presence_view_changed() {
            self.routing.dirty = true;
        }
        if self.routing.next_expiry.is_some_and(|at| at <= now) {
            self.routing.next_expiry = None;
            self.routing.dirty = true;
        }
    }

    // ---- presence -------------------------------------------------------------

    fn my_presence(&mut self) -> Option<Presence> {
        let agent = self.local.agent?;
        let (status, since) = match self.store.agent(agent) {
            Ok(Some(a)) => (PresenceStatus::from(&a.status), a.status_since),
            _ => (PresenceStatus::Offline, now_ms()),
        };
        let open_load = self
            .store
            .open_interactions()
            .map(|v| {
                v.iter()
                    .filter(|s| s.owner == Some(agent) && s.finalized.is_none())
                    .count()
            })
            .unwrap_or(0);
        // Counters start from the clock, so a restarted node's announcements
        // are newer than those its previous run left in its peers' tables.
        self.presence.seq = next_seq(self.presence.seq);
        let mut presence = Presence {
            device: self.local.device.clone(),
            agent,
            status,
            since,
            open_load: u32::try_from(open_load).unwrap_or(u32::MAX),
            live: true,
            seq: self.presence.seq,
            addrs: listen_addrs(&self.swarm)
                .iter()
                .take(protocol::MAX_PRESENCE_ADDRS)
                .map(|a| a.to_string())
                .collect(),
            signature: Vec::new(),
        };
        presence.sign(&self.device_key);
        Some(presence)
    }

    /// Whether a statement about `device` and `agent` may be believed: the
    /// device is on the roster, not revoked, and is that agent's.
    fn speaks_for(&self, device: &str, agent: AgentId) -> bool {
        matches!(self.store.team(), Ok(Some(team))
            if team.members.get(device).is_some_and(|m| !m.revoked && m.agent == agent))
    }

    fn broadcast_presence(&mut self) {
        let Some(p) = self.my_presence() else { return };
        self.presence.last_sent = Some(Instant::now());
        for link in self
            .links
            .values()
            .filter(|l| l.session.is_ready() && !l.closing)
        {
            link.send(vec![Frame::Presence(p.clone())]);
        }
        self.routing.dirty = true;
    }

    /// A newly admitted peer gets this node's presence and everything it has heard.
    fn send_presence_to(&mut self, peer: PeerId) {
        let mut frames: Vec<Frame> = Vec::new();
        if let Some(p) = self.my_presence() {
            frames.push(Frame::Presence(p));
        }
        let now = now_ms();
        frames.extend(
            self.presence
                .heard
                .values()
                .filter(|(p, at)| now - at < PRESENCE_TTL_MS && p.device != peer.to_base58())
                .map(|(p, _)| Frame::Presence(p.clone())),
        );
        if let Some(link) = self.links.get(&peer) {
            link.send(frames);
        }
    }

    fn on_presence(&mut self, from: PeerId, p: Presence) {
        if p.device == self.local.device {
            return;
        }
        // Only the device itself speaks for its presence, whoever relays it,
        // and only about its own agent, with a date that is not in the future.
        if !p.is_signed() || !self.speaks_for(&p.device, p.agent) {
            tracing::debug!(%from, device = %p.device, "presence not signed by its device or not its agent's; dropped");
            return;
        }
        if p.since > now_ms() + PRESENCE_CLOCK_SKEW_MS || p.since < 0 {
            tracing::debug!(%from, device = %p.device, since = p.since, "presence dated outside the clock's range; dropped");
            return;
        }
        let newer = self
            .presence
            .heard
            .get(&p.device)
            .is_none_or(|(old, _)| p.seq > old.seq);
        if !newer {
            return;
        }
        let addrs_changed = self
            .presence
            .heard
            .get(&p.device)
            .is_none_or(|(old, _)| old.addrs != p.addrs);
        self.presence
            .heard
            .insert(p.device.clone(), (p.clone(), now_ms()));
        if addrs_changed {
            self.learn_addrs(&p.device, &p.addrs);
        }
        for (peer, link) in &self.links {
            if *peer != from
                && link.session.is_ready()
                && !link.closing
                && peer.to_base58() != p.device
            {
                link.send(vec![Frame::Presence(p.clone())]);
            }
        }
        if self.presence_view_changed() {
            self.routing.dirty = true;
        }
    }

    /// Addresses a member announced: dial it directly from now on, and remember them.
    fn learn_addrs(&mut self, device: &str, addrs: &[String]) {
        let Ok(peer) = device.parse::<PeerId>() else {
            return;
        };
        if peer == self.local_peer || !self.is_member(device) {
            return;
        }
        let parsed: Vec<Multiaddr> = addrs
            .iter()
            .filter_map(|a| a.parse().ok())
            .map(|a| without_p2p(&a))
            .collect();
        if parsed.is_empty() {
            return;
        }
        for a in &parsed {
            self.swarm.add_peer_address(peer, a.clone());
        }
        self.dialer.known.insert(peer, parsed);
        if let Err(e) = self.store.remember_peer_addrs(device, addrs) {
            tracing::warn!(error = %e, "cannot remember peer addresses");
        }
        if !self.swarm.is_connected(&peer) {
            self.dial_peer(peer);
        }
    }

    fn mark_presence_gone(&mut self, device: &str) {
        if let Some((_, at)) = self.presence.heard.get_mut(device) {
            *at = 0;
        }
        if self.presence_view_changed() {
            self.routing.dirty = true;
        }
    }

    fn presence_view(&self) -> PresenceView {
        let now = now_ms();
        let mut view: PresenceView = BTreeMap::new();
        for (p, at) in self.presence.heard.values() {
            let live = p.live && now - at < PRESENCE_TTL_MS;
            let entry = PresenceEntry {
                live,
                status: p.status.clone().into(),
                since: p.since,
            };
            let better = match view.get(&p.agent) {
                None => true,
                Some(old) => (entry.live, entry.since) > (old.live, old.since),
            };
            if better {
                view.insert(p.agent, entry);
            }
        }
        if let Some(agent) = self.local.agent
            && let Ok(Some(a)) = self.store.agent(agent)
        {
            view.insert(
                agent,
                PresenceEntry {
                    live: true,
                    status: a.status,
                    since: a.status_since,
                },
            );
        }
        view
    }

    /// Emits presence events for agents whose entry changed; true if any did.
    fn presence_view_changed(&mut self) -> bool {
        let view = self.presence_view();
        if view == self.presence.reported {
            return false;
        }
        for (agent, entry) in &view {
            if self.presence.reported.get(agent) != Some(entry) {
                self.emit(Event::Presence {
                    agent: *agent,
                    entry: entry.clone(),
                });
            }
        }
        self.presence.reported = view;
        true
    }

    fn on_typing(&mut self, from: PeerId, t: Typing) {
        if t.device == self.local.device || !t.is_signed() || !self.speaks_for(&t.device, t.agent) {
            return;
        }
        let newer = self
            .presence
            .typing_heard
            .get(&t.device)
            .is_none_or(|seq| t.seq > *seq);
        if !newer {
            return;
        }
        self.presence.typing_heard.insert(t.device.clone(), t.seq);
        for (peer, link) in &self.links {
            if *peer != from && link.session.is_ready() && !link.closing {
                link.send(vec![Frame::Typing(t.clone())]);
            }
        }
        self.emit(Event::Typing {
            agent: t.agent,
            target: t.target,
        });
    }

    // ---- routing ----------------------------------------------------------------

    fn maybe_route(&mut self) {
        if !self.routing.dirty || self.joining() {
            return;
        }
        let syncing = self.links.values().any(|l| l.session.pending() > 0);
        let debounce = if syncing {
            ROUTING_DEBOUNCE_SYNCING
        } else {
            ROUTING_DEBOUNCE
        };
        if self
            .routing
            .last_run
            .is_some_and(|t| t.elapsed() < debounce)
        {
            return; // the next tick picks it up
        }
        self.routing.dirty = false;
        let started = Instant::now();
        self.routing.last_run = Some(started);
        if let Err(e) = self.route() {
            tracing::warn!(error = %e, "routing pass failed");
        }
        tracing::debug!(elapsed = ?started.elapsed(), "routing pass");
    }

    fn route(&mut self) -> Result<(), NodeError> {
        let Some(me) = self.local.agent else {
            return Ok(());
        };
        let Some(team) = self.store.team()? else {
            return Ok(());
        };
        let now = now_ms();
        let agents = self.store.agents()?;
        let open = self.store.open_interactions()?;
        let history = self.store.agent_history(now)?;
        let presence = self.presence_view();
        let routing = routing::route(&RoutingInput {
            team: &team,
            agents: &agents,
            open: &open,
            history: &history,
            presence: &presence,
            now,
        });
        tracing::trace!(
            open = open.len(),
            offers = routing.offers.len(),
            mine = routing.offers_to(me).count(),
            presence = ?presence,
            offers_detail = ?routing.offers,
            "routing"
        );
        // Claims lost after a partition.
        for s in &open {
            if s.lost_claims.contains(&me) && self.routing.lost_reported.insert(s.id) {
                self.emit(Event::ClaimLost { interaction: s.id });
            }
        }
        // Offers to this agent: report new ones, remember when each was first shown.
        let mut shown: HashMap<InteractionId, Millis> = HashMap::new();
        let mut next_expiry: Option<Millis> = None;
        for offer in routing.offers_to(me) {
            let first = self.routing.offered.get(&offer.interaction).copied();
            if first.is_none() {
                self.emit(Event::Offer {
                    interaction: offer.interaction,
                    kind: offer.kind,
                    expires_at: offer.expires_at,
                });
            }
            shown.insert(offer.interaction, first.unwrap_or(now));
            if let Some(at) = offer.expires_at {
                // Never before the offer was shown here for its whole timeout.
                let full = first.unwrap_or(now) + (at - offer.offered_since).max(0);
                let due = at.max(full);
                next_expiry = Some(next_expiry.map_or(due, |n: Millis| n.min(due)));
            }
        }
        self.routing.offered = shown;
        self.routing.next_expiry = next_expiry;
        let mut actions: Vec<Request> = Vec::new();
        for (interaction, agent) in routing::auto_accepts(&routing, &team) {
            if agent == me {
                actions.push(Request::Accept { id: interaction });
            }
        }
        for (interaction, agent) in routing::timed_out_offers(&routing, now) {
            if agent != me {
                continue;
            }
            let Some(offer) = routing.offer_for(interaction) else {
                continue;
            };
            let timeout = offer
                .expires_at
                .map_or(0, |at| (at - offer.offered_since).max(0));
            let first = self
                .routing
                .offered
                .get(&interaction)
                .copied()
                .unwrap_or(now);
            if now - first >= timeout {
                actions.push(Request::Decline { id: interaction });
            }
        }
        for request in actions {
            let what = format!("{request:?}");
            match self.execute(request) {
                Ok(_) => tracing::info!(action = %what, "routing acted for this agent"),
                Err(e) if e.is_user_error() => {
                    tracing::debug!(action = %what, error = %e, "routing action not possible")
                }
                Err(e) => tracing::warn!(action = %what, error = %e, "routing action failed"),
            }
        }
        Ok(())
    }

    // ---- commands -----------------------------------------------------------------

    fn execute(&mut self, request: Request) -> Result<Reply, NodeError> {
        let ctx = Context {
            now: now_ms(),
            presence: Some(self.presence_view()),
        };
        let outcome = ops::execute(&mut self.store, &ctx, request)?;
        if !outcome.changes.is_empty() {
            self.on_changes(outcome.changes, None);
        }
        Ok(outcome.reply)
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Execute { request, reply } => {
                let _ = reply.send(self.execute(request));
            }
            Command::Invite {
                ttl_ms,
                uses,
                reply,
            } => {
                let me = self.local_peer;
                let addrs: Vec<Multiaddr> = listen_addrs(&self.swarm)
                    .into_iter()
                    .take(8)
                    .map(|a| a.with(Protocol::P2p(me)))
                    .collect();
                let result = team::create_invite(
                    &mut self.store,
                    self.keyring.current(),
                    now_ms(),
                    ttl_ms,
                    uses,
                    addrs,
                )
                .map_err(NodeError::from)
                .map(|(code, change)| {
                    self.on_changes(vec![change], None);
                    code
                });
                let _ = reply.send(result);
            }
            Command::Members { reply } => {
                let mut online: HashSet<String> = self
                    .links
                    .iter()
                    .filter(|(_, l)| l.session.is_ready())
                    .map(|(p, _)| p.to_base58())
                    .collect();
                let now = now_ms();
                online.extend(
                    self.presence
                        .heard
                        .iter()
                        .filter(|(_, (p, at))| p.live && now - at < PRESENCE_TTL_MS)
                        .map(|(d, _)| d.clone()),
                );
                online.insert(self.local.device.clone());
                let _ = reply.send(team::members(&self.store, &online).map_err(NodeError::from));
            }
            Command::Revoke { device, reply } => {
                let result = team::revoke(&mut self.store, &device, now_ms())
                    .map_err(NodeError::from)
                    .map(|change| {
                        self.on_changes(vec![change], None);
                    });
                let _ = reply.send(result);
            }
            Command::Peers { reply } => {
                let mut peers: Vec<PeerInfo> = self
                    .links
                    .iter()
                    .map(|(p, l)| PeerInfo {
                        peer: p.to_base58(),
                        agent: l.session.peer_agent(),
                        address: self.connected.get(p).map(|(_, a, _)| a.to_string()),
                        ready: l.session.is_ready(),
                        pending_docs: l.session.pending(),
                    })
                    .collect();
                peers.sort_by(|a, b| a.peer.cmp(&b.peer));
                let _ = reply.send(Ok(peers));
            }
            Command::Status { reply } => {
                let status = NodeStatus {
                    device: self.local.device.clone(),
                    team: self.local.team_id,
                    agent: self.local.agent,
                    listen_addrs: listen_addrs(&self.swarm)
                        .iter()
                        .map(|a| a.to_string())
                        .collect(),
                    peers: self.links.values().filter(|l| l.session.is_ready()).count(),
                    bytes_sent: self.counters.bytes_sent.load(Ordering::Relaxed),
                    frames_sent: self.counters.frames_sent.load(Ordering::Relaxed),
                };
                let _ = reply.send(Ok(status));
            }
            Command::SetPresence { status, reply } => {
                let result = self.execute(Request::SetStatus { status });
                // The agent document changed: `on_changes` already announced it.
                let _ = reply.send(result);
            }
            Command::Typing { target } => {
                let Some(agent) = self.local.agent else {
                    return;
                };
                self.presence.typing_seq = next_seq(self.presence.typing_seq);
                let mut t = Typing {
                    device: self.local.device.clone(),
                    agent,
                    target,
                    seq: self.presence.typing_seq,
                    signature: Vec::new(),
                };
                t.sign(&self.device_key);
                for link in self
                    .links
                    .values()
                    .filter(|l| l.session.is_ready() && !l.closing)
                {
                    link.send(vec![Frame::Typing(t.clone())]);
                }
            }
            Command::Dial { addr, reply } => {
                let result = match peer_of(&addr) {
                    Some(peer) => {
                        let plain = without_p2p(&addr);
                        self.dialer
                            .known
                            .entry(peer)
                            .or_default()
                            .push(plain.clone());
                        self.swarm.add_peer_address(peer, plain);
                        self.dialer.backoff.remove(&peer);
                        self.dial_peer(peer);
                        Ok(())
                    }
                    None => {
                        self.dialer
                            .bootstrap
                            .push((addr.clone(), None, Backoff::new()));
                        self.swarm
                            .dial(addr)
                            .map_err(|e| NodeError::Invalid(e.to_string()))
                    }
                };
                let _ = reply.send(result);
            }
            Command::Shutdown { .. } => {} // handled by the loop
        }
    }
}
