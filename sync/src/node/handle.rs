//! The public side of the node: its configuration, the [`NodeHandle`] with
//! its commands, the [`Event`]s it sends, and [`Node::start`].

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId};
use meshdesk_model::ops::{OpError, Reply, Request};
use meshdesk_model::routing::{OfferKind, PresenceEntry};
use meshdesk_model::store::{DocChange, Store, StoreError};
use meshdesk_model::{AgentId, InteractionId, Millis, TeamId};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::actor::{Actor, Start};
use crate::identity::peer_id_string;
use crate::invite::InviteCode;
use crate::keyring::Keyring;
use crate::protocol::TypingTarget;
use crate::session::{JoinTicket, Local, SessionConfig};
use crate::team::{self, MemberInfo, TeamError};
use crate::transport::{TransportConfig, TransportError, build_swarm};

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
    /// Addresses to listen on; empty: `/ip4/0.0.0.0/tcp/0`. One through a
    /// relay (`<relay>/p2p-circuit`) adds that relay to [`Self::relays`];
    /// with only such addresses the node is reached through relays alone.
    pub listen: Vec<Multiaddr>,
    /// Addresses to connect to (with or without a `/p2p/` suffix).
    pub peers: Vec<Multiaddr>,
    /// Relays (`meshdesk relay`) to reserve a slot on and reach teammates
    /// through, each ending in `/p2p/<relay id>`; remembered for the next start.
    pub relays: Vec<Multiaddr>,
    pub mdns: bool,
    /// Off: the node listens on nothing, finds and dials no one and runs
    /// for this device alone (the CLI with no node running, tests, a
    /// field agent's machine by choice). It may start before the team
    /// exists: a `CreateTeam` request through it makes the team and its key.
    pub network: bool,
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
            relays: vec![],
            mdns: true,
            network: true,
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
            .field("relays", &self.relays)
            .field("mdns", &self.mdns)
            .field("network", &self.network)
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
    #[error("networking is off on this node")]
    Offline,
    #[error(transparent)]
    Bundle(Box<meshdesk_model::bundle::BundleError>),
    #[error(transparent)]
    File(Box<crate::files::FetchError>),
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
            NodeError::Invalid(_) | NodeError::NoTeam | NodeError::Offline => true,
            NodeError::File(e) => e.is_user_error(),
            NodeError::Bundle(e) => {
                !matches!(**e, meshdesk_model::bundle::BundleError::Write { .. })
            }
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
    /// The link runs through a relay (no direct connection yet).
    #[serde(default)]
    pub relayed: bool,
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
        /// Document bytes received from this peer so far.
        received_bytes: u64,
    },
    /// A bundle's import: documents done, of all in it.
    BundleProgress {
        done: usize,
        total: usize,
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

pub(super) type Reply1<T> = oneshot::Sender<Result<T, NodeError>>;

pub(super) enum Command {
    Execute {
        request: Request,
        reply: Reply1<Reply>,
    },
    FetchFile {
        hash: meshdesk_model::blobs::BlobHash,
        reply: Reply1<()>,
    },
    Invite {
        ttl_ms: Millis,
        uses: u32,
        campaigns: Vec<String>,
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
    Typing {
        target: TypingTarget,
    },
    Dial {
        addr: Multiaddr,
        reply: Reply1<()>,
    },
    ExportBundle {
        path: PathBuf,
        since_device: Option<String>,
        reply: Reply1<super::BundleExported>,
    },
    ImportBundle {
        path: PathBuf,
        reply: Reply1<super::BundleReport>,
    },
    ExportOpenData {
        dir: PathBuf,
        reply: Reply1<super::OpenDataExported>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

impl Command {
    /// The request's name, for the span it is handled in.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Command::Execute { .. } => "execute",
            Command::FetchFile { .. } => "fetch-file",
            Command::Invite { .. } => "invite",
            Command::Members { .. } => "members",
            Command::Revoke { .. } => "revoke",
            Command::Peers { .. } => "peers",
            Command::Status { .. } => "status",
            Command::Typing { .. } => "typing",
            Command::Dial { .. } => "dial",
            Command::ExportBundle { .. } => "export-bundle",
            Command::ImportBundle { .. } => "import-bundle",
            Command::ExportOpenData { .. } => "export-open-data",
            Command::Shutdown { .. } => "shutdown",
        }
    }
}

/// A handle to a running node; cheap to clone.
#[derive(Clone)]
pub struct NodeHandle {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    peer_id: PeerId,
    data_dir: PathBuf,
    network: bool,
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

    /// Whether the node listens and dials ([`NodeConfig::network`]).
    pub fn is_networked(&self) -> bool {
        self.network
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

    /// Makes file `hash` present in this data dir's blobs, fetching it
    /// from a connected teammate when it is not (see [`crate::files`]).
    pub async fn fetch_file(&self, hash: meshdesk_model::blobs::BlobHash) -> Result<(), NodeError> {
        self.call(|reply| Command::FetchFile { hash, reply }).await
    }

    /// Stores a file in this data dir's blobs (the node's limit applies)
    /// and gives its hash; a message may then name it (`Request::SendFiles`).
    pub async fn put_file(
        &self,
        bytes: Vec<u8>,
    ) -> Result<meshdesk_model::blobs::BlobHash, NodeError> {
        self.with_blobs("storing a file", move |blobs| blobs.put(&bytes))
            .await
    }

    /// The bytes of file `hash`, fetched first if need be, checked against
    /// their hash.
    pub async fn file_bytes(
        &self,
        hash: meshdesk_model::blobs::BlobHash,
    ) -> Result<Vec<u8>, NodeError> {
        self.fetch_file(hash).await?;
        self.with_blobs("reading a file", move |blobs| blobs.read(&hash))
            .await
    }

    /// Runs `work` on this data dir's blobs, off the async threads.
    async fn with_blobs<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl FnOnce(&meshdesk_model::blobs::BlobStore) -> meshdesk_model::blobs::BlobResult<T>
        + Send
        + 'static,
    ) -> Result<T, NodeError> {
        let dir = self.data_dir.clone();
        let done = tokio::task::spawn_blocking(move || {
            work(&meshdesk_model::blobs::BlobStore::in_data_dir(&dir)?)
        })
        .await
        .map_err(|e| NodeError::Invalid(format!("{what}: {e}")))?;
        done.map_err(|e| NodeError::File(Box::new(e.into())))
    }

    /// Creates an invite valid for `ttl_ms` and `uses` joins; joiners go
    /// into the team's oldest campaign.
    pub async fn invite(&self, ttl_ms: Millis, uses: u32) -> Result<InviteCode, NodeError> {
        self.invite_into(ttl_ms, uses, Vec::new()).await
    }

    /// Creates an invite whose joiners are added to `campaigns` (names or
    /// ids; empty: the team's oldest campaign).
    pub async fn invite_into(
        &self,
        ttl_ms: Millis,
        uses: u32,
        campaigns: Vec<String>,
    ) -> Result<InviteCode, NodeError> {
        self.call(|reply| Command::Invite {
            ttl_ms,
            uses,
            campaigns,
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

    /// Writes a bundle of the team's documents to `path` (see
    /// [`meshdesk_model::bundle`]): all of them, or those `since_device`
    /// lacks by what this node last saw of it.
    pub async fn export_bundle(
        &self,
        path: PathBuf,
        since_device: Option<String>,
    ) -> Result<super::BundleExported, NodeError> {
        self.call(|reply| Command::ExportBundle {
            path,
            since_device,
            reply,
        })
        .await
    }

    /// Imports the bundle at `path`, with the checks sync makes.
    pub async fn import_bundle(&self, path: PathBuf) -> Result<super::BundleReport, NodeError> {
        self.call(|reply| Command::ImportBundle { path, reply })
            .await
    }

    /// Writes every document as a standard `.automerge` file into `dir`,
    /// with an `index.json`.
    pub async fn export_open_data(
        &self,
        dir: PathBuf,
    ) -> Result<super::OpenDataExported, NodeError> {
        self.call(|reply| Command::ExportOpenData { dir, reply })
            .await
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
            relays,
            mdns,
            network,
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
            (None, None) if !network => Local::unattached(device.clone()),
            (None, None) => return Err(NodeError::NoTeam),
        };
        let device_key = crate::identity::device_key(&keypair)
            .map_err(|e| NodeError::Invalid(format!("the device key cannot sign: {e}")))?;
        let keyring = Keyring::with_retired(psk, team::load_retired_team_keys(&data_dir)?);
        let mut swarm = build_swarm(
            keypair,
            keyring.clone(),
            &TransportConfig {
                mdns: mdns && network,
                ..TransportConfig::default()
            },
        )?;
        // A listen address through a relay (`…/p2p-circuit`) is a relay to
        // reserve a slot on; with only such addresses the node listens on
        // nothing directly and is reached through its relays alone.
        let (through_relays, listen): (Vec<Multiaddr>, Vec<Multiaddr>) = listen
            .into_iter()
            .partition(|a| a.iter().any(|p| matches!(p, Protocol::P2pCircuit)));
        let relay_only = listen.is_empty() && !through_relays.is_empty();
        let mut relays = relays;
        relays.extend(through_relays);
        let listen = if !network || relay_only {
            vec![]
        } else if listen.is_empty() {
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
            network,
        };
        let control = if control_socket {
            Some(crate::control::serve(&data_dir, handle.clone()).await?)
        } else {
            None
        };
        Actor::spawn(
            Start {
                store,
                swarm,
                local_peer,
                local,
                keyring,
                device_key,
                data_dir,
                session_cfg: session,
                events,
                invite_addrs: join.map(|j| j.invite.addrs).unwrap_or_default(),
                peers,
                relays,
                network,
                control,
            },
            commands_rx,
        )?;
        Ok((handle, events_rx))
    }
}
