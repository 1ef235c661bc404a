//! The GUI's only connection to the data.
//!
//! A [`Backend`] is a cheap, cloneable handle: [`Client::call`] carries one
//! [`Request`] to whoever owns the store and brings its [`Reply`] back, and
//! [`Backend::listen`] yields [`Event`]s saying what changed, so the GUI
//! re-reads projections. The GUI never opens redb and never waits in
//! `update`: every call runs as an iced `Task`.
//!
//! Two owners of the store stand behind the handle:
//!
//! - the **node** ([`meshdesk_sync::Node`]): what the desktop app runs. It
//!   owns the store and the libp2p swarm, pushes every change to the team's
//!   peers, runs routing and reports presence, offers and lost claims;
//! - a **local** store worker ([`Backend::local`]): a thread that owns a real
//!   [`Store`] and runs [`ops::execute`] on it, with an injectable clock and
//!   no network. The GUI tests and benchmarks use it, so their data is
//!   written through real requests and their timestamps are reproducible.
//!   [`Backend::sync_with`] merges another store into it through Automerge
//!   sync messages, as a connected teammate's node would.
//!
//! The worker is a dedicated thread rather than a tokio task because every
//! write is a durable redb commit (an fsync): blocking work that must not
//! stall an async executor.

use std::collections::{BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iced::futures::Stream;
use iced::futures::stream;
use meshdesk_model::doc::DocId;
use meshdesk_model::ops::{self, Client, Context, OpError, Reply, Request, UnexpectedReply};
use meshdesk_model::routing::{OfferKind, PresenceEntry};
use meshdesk_model::store::{DocChange, Store, StoreError};
use meshdesk_model::{AgentId, AgentStatus, InteractionId, Millis, now_ms};
use meshdesk_sync::protocol::TypingTarget;
use meshdesk_sync::{NodeConfig, NodeError, NodeHandle};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::data_dir::DataDir;

/// Where "now" comes from. The app uses the wall clock; tests use a manual one.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(now_ms)
}

/// What happened, as the GUI needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Documents changed (locally or from a peer): re-read what shows them.
    Changed(Arc<Vec<DocChange>>),
    PeerConnected {
        peer: String,
        agent: Option<AgentId>,
    },
    PeerDisconnected {
        peer: String,
    },
    /// Documents still to sync with a peer.
    Syncing {
        peer: String,
        pending_docs: usize,
    },
    /// Everything that differed with a peer is synced.
    CaughtUp {
        peer: String,
    },
    Presence {
        agent: AgentId,
        entry: PresenceEntry,
    },
    /// A teammate is typing in a room (the room's stable key, `dm:a:b` or `campaign:id`).
    Typing {
        agent: AgentId,
        room: String,
    },
    /// Routing offers this agent an interaction.
    Offer {
        interaction: InteractionId,
        kind: OfferKind,
    },
    /// Another agent's claim on an interaction won over this agent's.
    ClaimLost {
        interaction: InteractionId,
    },
    /// Something failed in the background (shown as a toast).
    Error(String),
    /// Events were missed: re-read everything.
    Lagged,
    /// The owner of the store stopped.
    Stopped,
}

/// Why a call to the backend failed, of a kind the GUI can tell apart; its
/// words are the ones the agent reads.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request was refused (bad input, wrong state, unknown id, not
    /// allowed) or the store failed under it.
    #[error(transparent)]
    Op(Arc<OpError>),
    /// The node failed otherwise (stopped, transport, team).
    #[error(transparent)]
    Node(Arc<NodeError>),
    /// The local store worker is gone.
    #[error("{}", STOPPED)]
    Stopped,
    /// Only a running node can do this (invites).
    #[error("invites need the node, which is not running")]
    NoNode,
    /// A reply of another kind than the request gives.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedReply),
}

impl From<OpError> for Error {
    fn from(e: OpError) -> Self {
        Error::Op(Arc::new(e))
    }
}

impl From<NodeError> for Error {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Op(op) => Error::Op(Arc::from(op)),
            other => Error::Node(Arc::new(other)),
        }
    }
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub peer: String,
    pub agent: Option<AgentId>,
    /// Documents still to sync with it.
    pub pending_docs: usize,
}

enum Job {
    Execute {
        request: Request,
        reply: oneshot::Sender<Result<Reply, Error>>,
    },
    SyncWith {
        me: String,
        peer: String,
        store: Box<Store>,
        reply: oneshot::Sender<(Box<Store>, Result<usize, String>)>,
    },
}

#[derive(Clone)]
enum Kind {
    Local {
        jobs: mpsc::UnboundedSender<Job>,
        events: broadcast::Sender<Event>,
    },
    Node(NodeHandle),
}

/// A handle to the store's owner; cheap to clone. Two handles are equal when
/// they reach the same owner (the event subscription is keyed on that).
#[derive(Clone)]
pub struct Backend {
    id: u64,
    kind: Kind,
}

/// The webchat and API gateways the window serves; they stop when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Gateways(Arc<meshdesk_channels::http::Server>);

impl Gateways {
    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// Stops serving and waits until the gateways' state file is closed (so
    /// serving again right away can open it); a clone still held elsewhere
    /// stops them when it is dropped.
    pub async fn stop(self) {
        if let Ok(server) = Arc::try_unwrap(self.0) {
            server.shutdown().await;
        }
    }
}

impl std::fmt::Debug for Gateways {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Gateways").field(&self.url()).finish()
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::Local { .. } => "local",
            Kind::Node(_) => "node",
        };
        f.debug_struct("Backend")
            .field("id", &self.id)
            .field("kind", &kind)
            .finish()
    }
}

impl Client for Backend {
    type Error = Error;

    async fn call(&self, request: Request) -> Result<Reply, Error> {
        match &self.kind {
            Kind::Local { jobs, .. } => {
                let (reply, rx) = oneshot::channel();
                jobs.send(Job::Execute { request, reply })
                    .map_err(|_| Error::Stopped)?;
                rx.await.map_err(|_| Error::Stopped)?
            }
            Kind::Node(node) => Ok(node.execute(request).await?),
        }
    }
}

impl PartialEq for Backend {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Backend {}

impl Hash for Backend {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Listens to a backend's events.
pub struct Listener {
    rx: ListenerRx,
}

enum ListenerRx {
    Local(broadcast::Receiver<Event>),
    Node(broadcast::Receiver<meshdesk_sync::Event>),
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    /// The next event; `None` once the backend has stopped.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match &mut self.rx {
                ListenerRx::Local(rx) => match rx.recv().await {
                    Ok(e) => return Some(e),
                    Err(RecvError::Lagged(_)) => return Some(Event::Lagged),
                    Err(RecvError::Closed) => return None,
                },
                ListenerRx::Node(rx) => match rx.recv().await {
                    Ok(e) => {
                        if let Some(e) = from_node(e) {
                            return Some(e);
                        }
                    }
                    Err(RecvError::Lagged(_)) => return Some(Event::Lagged),
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }

    /// An event already waiting, without waiting for one.
    pub fn try_next(&mut self) -> Option<Event> {
        loop {
            match &mut self.rx {
                ListenerRx::Local(rx) => match rx.try_recv() {
                    Ok(e) => return Some(e),
                    Err(TryRecvError::Lagged(_)) => return Some(Event::Lagged),
                    Err(_) => return None,
                },
                ListenerRx::Node(rx) => match rx.try_recv() {
                    Ok(e) => {
                        if let Some(e) = from_node(e) {
                            return Some(e);
                        }
                    }
                    Err(TryRecvError::Lagged(_)) => return Some(Event::Lagged),
                    Err(_) => return None,
                },
            }
        }
    }
}

/// The stable key of a room from a chat document id (`dm:a:b:yyyy-mm` → `dm:a:b`).
fn room_key(doc_id: &str) -> String {
    match doc_id.rsplit_once(':') {
        Some((key, month)) if month.len() == 7 && month.as_bytes().get(4) == Some(&b'-') => {
            key.to_string()
        }
        _ => doc_id.to_string(),
    }
}

fn from_node(event: meshdesk_sync::Event) -> Option<Event> {
    use meshdesk_sync::Event as N;
    Some(match event {
        N::Changed { changes } => Event::Changed(Arc::new(changes)),
        N::PeerConnected { peer, agent } => Event::PeerConnected { peer, agent },
        N::PeerDisconnected { peer } => Event::PeerDisconnected { peer },
        N::SyncProgress { peer, pending_docs } => Event::Syncing { peer, pending_docs },
        N::CaughtUp { peer } => Event::CaughtUp { peer },
        N::Presence { agent, entry } => Event::Presence { agent, entry },
        N::Typing { agent, target } => match target {
            TypingTarget::Room(doc) => Event::Typing {
                agent,
                room: room_key(&doc),
            },
            TypingTarget::Interaction(_) => return None,
        },
        N::Offer {
            interaction, kind, ..
        } => Event::Offer { interaction, kind },
        N::ClaimLost { interaction } => Event::ClaimLost { interaction },
        N::Error { message } => Event::Error(message),
        N::Stopped => Event::Stopped,
        // Listening addresses, refused strangers and join progress are the
        // node's business, not the inbox's.
        _ => return None,
    })
}

impl Backend {
    /// A backend over a running node.
    pub fn node(handle: NodeHandle) -> Backend {
        Backend {
            id: next_id(),
            kind: Kind::Node(handle),
        }
    }

    /// Serves the webchat widget and the REST API on `addr`, through the
    /// node, as `meshdesk node --http` does.
    pub async fn serve_gateways(&self, addr: String) -> Result<Gateways, String> {
        let Kind::Node(node) = &self.kind else {
            return Err("the webchat and the API need this device's node".into());
        };
        let server = crate::gateway::serve(node.clone(), &addr)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Gateways(Arc::new(server)))
    }

    /// A backend over a store owned by a worker thread of its own, with no
    /// network: only this device is live, so routing sees only this agent.
    pub fn local(store: Store, clock: Clock) -> Result<Backend, String> {
        let (jobs, rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(1024);
        let worker_events = events.clone();
        std::thread::Builder::new()
            .name("meshdesk-store".into())
            .spawn(move || worker(store, clock, rx, worker_events))
            .map_err(|e| format!("cannot start the store worker: {e}"))?;
        Ok(Backend {
            id: next_id(),
            kind: Kind::Local { jobs, events },
        })
    }

    /// Whether a node stands behind this handle (peers, presence, invites).
    pub fn is_node(&self) -> bool {
        matches!(self.kind, Kind::Node(_))
    }

    /// Sets this agent's status; a node also announces it to the team at once.
    pub async fn set_status(&self, status: AgentStatus) -> Result<Reply, Error> {
        match &self.kind {
            Kind::Local { .. } => self.call(Request::SetStatus { status }).await,
            Kind::Node(node) => Ok(node.set_presence(status).await?),
        }
    }

    /// The connected peers (none without a node).
    pub async fn peers(&self) -> Result<Vec<Peer>, Error> {
        match &self.kind {
            Kind::Local { .. } => Ok(vec![]),
            Kind::Node(node) => Ok(node
                .peers()
                .await?
                .into_iter()
                .filter(|p| p.ready)
                .map(|p| Peer {
                    peer: p.peer,
                    agent: p.agent,
                    pending_docs: p.pending_docs,
                })
                .collect()),
        }
    }

    /// Announces that this agent is typing in a room (a document id); nothing without a node.
    pub async fn typing(&self, room_doc: String) {
        if let Kind::Node(node) = &self.kind {
            let _ = node.typing(TypingTarget::Room(room_doc)).await;
        }
    }

    /// Makes an invite code for a new device (supervisors; needs the node).
    pub async fn invite(&self) -> Result<String, Error> {
        match &self.kind {
            Kind::Local { .. } => Err(Error::NoNode),
            Kind::Node(node) => Ok(node
                .invite(meshdesk_sync::team::DEFAULT_INVITE_TTL_MS, 1)
                .await?
                .encode()),
        }
    }

    /// A listener for this backend's events.
    pub fn listen(&self) -> Listener {
        Listener {
            rx: match &self.kind {
                Kind::Local { events, .. } => ListenerRx::Local(events.subscribe()),
                Kind::Node(node) => ListenerRx::Node(node.subscribe()),
            },
        }
    }

    /// The events as a stream (for an iced subscription).
    pub fn events(&self) -> impl Stream<Item = Event> + Send + use<> {
        stream::unfold(self.listen(), |mut listener| async move {
            listener.next().await.map(|e| (e, listener))
        })
    }

    /// Brings this backend's store and `store` to the same state through
    /// Automerge sync messages, as two connected nodes would; gives `store`
    /// back with how many documents changed here. `me` and `peer` name the
    /// two sides' sync states. Only a local backend can do this.
    pub async fn sync_with(
        &self,
        me: &str,
        peer: &str,
        store: Store,
    ) -> Result<(Store, usize), String> {
        let Kind::Local { jobs, .. } = &self.kind else {
            return Err("a node syncs with its peers by itself".into());
        };
        let (reply, rx) = oneshot::channel();
        let job = Job::SyncWith {
            me: me.to_string(),
            peer: peer.to_string(),
            store: Box::new(store),
            reply,
        };
        jobs.send(job).map_err(|_| STOPPED.to_string())?;
        let (store, result) = rx.await.map_err(|_| STOPPED.to_string())?;
        result.map(|n| (*store, n))
    }

    /// Stops the owner of the store (a node says bye to its peers and closes the store).
    pub async fn shutdown(&self) {
        if let Kind::Node(node) = &self.kind {
            let _ = node.shutdown().await;
        }
    }
}

const STOPPED: &str = "the store is closed";

fn worker(
    mut store: Store,
    clock: Clock,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    events: broadcast::Sender<Event>,
) {
    let mut reported = HashSet::new();
    while let Some(job) = jobs.blocking_recv() {
        match job {
            Job::Execute { request, reply } => {
                let ctx = Context {
                    now: clock(),
                    presence: None,
                };
                let result = match ops::execute(&mut store, &ctx, request) {
                    Ok(outcome) => {
                        announce(&store, outcome.changes, &mut reported, &events);
                        Ok(outcome.reply)
                    }
                    Err(e) => Err(e.into()),
                };
                // Events go out before the reply, so whoever waits for the
                // reply finds the events already queued.
                let _ = reply.send(result);
            }
            Job::SyncWith {
                me,
                peer,
                store: mut other,
                reply,
            } => {
                let result = sync_stores(&mut store, &me, &mut other, &peer);
                let result = match result {
                    Ok((mine, _)) => {
                        let n = mine.len();
                        announce(&store, mine, &mut reported, &events);
                        Ok(n)
                    }
                    Err(e) => Err(e.to_string()),
                };
                let _ = reply.send((other, result));
            }
        }
    }
}

fn announce(
    store: &Store,
    changes: Vec<DocChange>,
    reported: &mut HashSet<InteractionId>,
    events: &broadcast::Sender<Event>,
) {
    if changes.is_empty() {
        return;
    }
    let ids: Vec<InteractionId> = changes
        .iter()
        .filter_map(|c| match c.doc_id {
            DocId::Interaction(id) => Some(id),
            _ => None,
        })
        .collect();
    let _ = events.send(Event::Changed(Arc::new(changes)));
    report_lost_claims(store, &ids, reported, events);
}

/// Reports, once each, changed interactions where this agent's claim lost.
fn report_lost_claims(
    store: &Store,
    ids: &[InteractionId],
    reported: &mut HashSet<InteractionId>,
    events: &broadcast::Sender<Event>,
) {
    let Ok(Some(me)) = store.identity() else {
        return;
    };
    let summaries = ids
        .iter()
        .filter_map(|id| store.interaction_summary(*id).ok().flatten());
    for s in summaries {
        if s.finalized.is_none() && s.lost_claims.contains(&me.agent) && reported.insert(s.id) {
            let _ = events.send(Event::ClaimLost { interaction: s.id });
        }
    }
}

/// Exchanges Automerge sync messages between two stores until neither has
/// anything to say; returns the documents that changed in `a` and in `b`.
pub fn sync_stores(
    a: &mut Store,
    a_name: &str,
    b: &mut Store,
    b_name: &str,
) -> Result<(Vec<DocChange>, Vec<DocChange>), StoreError> {
    let ids: BTreeSet<String> = a.doc_ids()?.into_iter().chain(b.doc_ids()?).collect();
    let (mut changed_a, mut changed_b) = (Vec::new(), Vec::new());
    // Each document settles in a few round trips; the bound only guards
    // against a pair that never agrees.
    for _ in 0..32 {
        let mut to_b = Vec::new();
        for id in &ids {
            if let Some(m) = a.generate_sync_message(b_name, id)? {
                to_b.push((id.clone(), m));
            }
        }
        let mut to_a = Vec::new();
        for id in &ids {
            if let Some(m) = b.generate_sync_message(a_name, id)? {
                to_a.push((id.clone(), m));
            }
        }
        if to_a.is_empty() && to_b.is_empty() {
            break;
        }
        if !to_b.is_empty() {
            changed_b.extend(b.receive_sync_messages(a_name, &to_b)?.changes);
        }
        if !to_a.is_empty() {
            changed_a.extend(a.receive_sync_messages(b_name, &to_a)?.changes);
        }
    }
    dedup(&mut changed_a);
    dedup(&mut changed_b);
    Ok((changed_a, changed_b))
}

fn dedup(changes: &mut Vec<DocChange>) {
    let mut seen = HashSet::new();
    changes.retain(|c| seen.insert(c.doc_id.clone()));
}

// ---- opening the app's data dir ----------------------------------------------

/// What opening a data dir found.
#[derive(Debug, Clone)]
pub enum Opened {
    /// The team's node is running.
    Ready(Backend),
    /// No team on this data dir yet: the welcome screen.
    NoTeam,
}

/// How the desktop app's node runs.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    /// Find teammates on the LAN (mDNS).
    pub mdns: bool,
    /// Where to listen; empty: a free port on every interface.
    pub listen: Vec<libp2p::Multiaddr>,
    /// Teammates' addresses to connect to at once (`--demo`'s teammate).
    pub peers: Vec<libp2p::Multiaddr>,
}

fn device_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "desktop".into())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("a background task failed: {e}"))?
}

fn open_store(data_dir: &DataDir) -> Result<Store, String> {
    data_dir
        .ensure()
        .map_err(|e| format!("cannot create {}: {e}", data_dir.root().display()))?;
    let key =
        meshdesk_sync::identity::load_device_key(data_dir.root()).map_err(|e| e.to_string())?;
    Store::open(data_dir.store_path(), key).map_err(|e| match e {
        StoreError::InUse(_) => format!(
            "another meshdesk process is using {} (a headless `meshdesk node`?); stop it, or open another --data-dir",
            data_dir.root().display()
        ),
        other => other.to_string(),
    })
}

/// Opens the data dir: starts the team's node, or reports that there is no team yet.
pub async fn open(data_dir: DataDir, options: NodeOptions) -> Result<Opened, String> {
    let dir = data_dir.clone();
    let store = blocking(move || open_store(&dir)).await?;
    let has_team = store.identity().map_err(|e| e.to_string())?.is_some();
    if !has_team {
        drop(store);
        return Ok(Opened::NoTeam);
    }
    start_node(data_dir, store, options)
        .await
        .map(Opened::Ready)
}

async fn start_node(
    data_dir: DataDir,
    store: Store,
    options: NodeOptions,
) -> Result<Backend, String> {
    let root = data_dir.root().to_path_buf();
    let (keypair, psk) = blocking(move || {
        let keypair = meshdesk_sync::identity::load_or_create(&root).map_err(|e| e.to_string())?;
        let psk = meshdesk_sync::team::load_team_key(&root)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "the team key ({}) is missing from {}",
                    meshdesk_sync::team::TEAM_KEY_FILE,
                    root.display()
                )
            })?;
        Ok((keypair, psk))
    })
    .await?;
    let mut config = NodeConfig::new(data_dir.root(), store, keypair, psk);
    config.mdns = options.mdns;
    config.listen = options.listen;
    config.peers = options.peers;
    let (handle, _events) = meshdesk_sync::Node::start(config)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Backend::node(handle))
}

/// Creates a team on this data dir with this device as its first member, then starts the node.
pub async fn create_team(
    data_dir: DataDir,
    team_name: String,
    agent_name: String,
    options: NodeOptions,
) -> Result<Backend, String> {
    let dir = data_dir.clone();
    let store = blocking(move || {
        let mut store = open_store(&dir)?;
        let request = Request::CreateTeam {
            team_name,
            agent_name,
            device_name: device_name(),
        };
        ops::execute(&mut store, &Context::now(), request).map_err(|e| e.to_string())?;
        if meshdesk_sync::team::load_team_key(dir.root())
            .map_err(|e| e.to_string())?
            .is_none()
        {
            meshdesk_sync::team::create_team_key(dir.root()).map_err(|e| e.to_string())?;
        }
        Ok(store)
    })
    .await?;
    start_node(data_dir, store, options).await
}

/// Joins a team with an invite code (admission and the first sync), then starts the node.
pub async fn join_team(
    data_dir: DataDir,
    code: String,
    agent_name: String,
    options: NodeOptions,
) -> Result<Backend, String> {
    let invite = meshdesk_sync::invite::InviteCode::parse(&code).map_err(|e| e.to_string())?;
    let dir = data_dir.clone();
    let (store, keypair) = blocking(move || {
        let store = open_store(&dir)?;
        let keypair =
            meshdesk_sync::identity::load_or_create(dir.root()).map_err(|e| e.to_string())?;
        Ok((store, keypair))
    })
    .await?;
    let args = meshdesk_sync::join::JoinArgs {
        data_dir: data_dir.root().to_path_buf(),
        store,
        keypair,
        invite,
        agent_name,
        device_name: device_name(),
        listen: vec![],
        peers: vec![],
        connect_timeout: Duration::from_secs(30),
    };
    meshdesk_sync::join::join_team(args, |_| {})
        .await
        .map_err(|e| e.to_string())?;
    match open(data_dir, options).await? {
        Opened::Ready(backend) => Ok(backend),
        Opened::NoTeam => Err("the join finished but the team did not arrive; try again".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_rooms_are_keyed_without_their_month() {
        assert_eq!(room_key("dm:A:B:2025-03"), "dm:A:B");
        assert_eq!(room_key("campaign:C:2025-11"), "campaign:C");
        assert_eq!(room_key("campaign:C"), "campaign:C");
    }

    #[test]
    fn a_local_backend_answers_requests_and_reports_changes()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let store = Store::open(
            dir.path().join("s.redb"),
            meshdesk_model::authorship::DeviceKey::generate(),
        )
        .map_err(|e| e.to_string())?;
        let backend = Backend::local(store, Arc::new(|| 1_740_992_400_000))?;
        let mut events = backend.listen();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| e.to_string())?;
        let refused = rt.block_on(backend.call(Request::ShowTeam));
        assert!(refused.is_err_and(|e| e.to_string().contains("no team yet")));
        assert_eq!(events.try_next(), None, "a refused request changes nothing");
        let created = rt.block_on(backend.call(Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "laptop".into(),
        }))?;
        assert!(matches!(created, Reply::Created { .. }));
        assert!(matches!(events.try_next(), Some(Event::Changed(c)) if c.len() == 2));
        Ok(())
    }
}
