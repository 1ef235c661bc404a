//! The GUI's only connection to the data.
//!
//! A [`Backend`] is a cheap, cloneable handle to the node that owns the
//! store ([`meshdesk_sync::Node`]): [`Client::call`] carries one
//! [`Request`] to it and brings its [`Reply`] back, and [`Backend::listen`]
//! yields [`Event`]s saying what changed, so the GUI re-reads projections.
//! The GUI never opens redb and never waits in `update`: every call runs as
//! an iced `Task`.
//!
//! The node is the same whether it syncs with the team or runs with
//! networking off (tests, benchmarks): [`open`] starts it on a data dir
//! through [`meshdesk_sync::home::open`], as `meshdesk node` and the CLI do.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iced::futures::Stream;
use iced::futures::{StreamExt, stream};
use meshdesk_model::blobs::{self, Attachment};
use meshdesk_model::ops::{Client, OpError, Reply, Request, UnexpectedReply};
use meshdesk_model::routing::{OfferKind, PresenceEntry};
use meshdesk_model::store::DocChange;
use meshdesk_model::{AgentId, CampaignId, InteractionId, Millis, now_ms};
use meshdesk_sync::home::{self, OpenError, OpenOptions};
use meshdesk_sync::join::JoinProgress;
use meshdesk_sync::protocol::TypingTarget;
use meshdesk_sync::{NodeError, NodeHandle};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

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
    /// A bundle's import: documents done, of all in it.
    BundleProgress {
        done: usize,
        total: usize,
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
    /// A reply of another kind than the request gives.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedReply),
    /// A file to send or save could not be read or written here.
    #[error("{0}")]
    File(String),
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

/// Why the window could not open the data dir, make or join the team, or
/// serve the gateways; cheap to clone, so it can travel in a message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(Arc<OpenError>),
    /// Creating the team was refused or failed.
    #[error(transparent)]
    Create(Error),
    #[error(transparent)]
    Invite(Arc<meshdesk_sync::invite::InviteError>),
    #[error(transparent)]
    Join(Arc<meshdesk_sync::join::JoinError>),
    /// The team was made or joined, yet the data dir still holds none.
    #[error("the team did not arrive on this computer; try again")]
    TeamMissing,
    #[error(transparent)]
    Gateways(Arc<crate::gateway::ServeError>),
    #[error("a background task stopped: {0}")]
    Interrupted(String),
}

impl From<OpenError> for StartError {
    fn from(e: OpenError) -> Self {
        StartError::Open(Arc::new(e))
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

/// A handle to the node that owns the store; cheap to clone. Two handles
/// are equal when they reach the same node (the event subscription is keyed
/// on that).
#[derive(Clone)]
pub struct Backend {
    id: u64,
    node: NodeHandle,
    /// The email channel's fetching and sending on a networked node; they
    /// stop when the last clone is dropped.
    mail: Option<Arc<meshdesk_channels::mail::MailWorkers>>,
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
        f.debug_struct("Backend")
            .field("id", &self.id)
            .field("networked", &self.node.is_networked())
            .finish()
    }
}

impl Client for Backend {
    type Error = Error;

    async fn call(&self, request: Request) -> Result<Reply, Error> {
        Ok(self.node.execute(request).await?)
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
    rx: broadcast::Receiver<meshdesk_sync::Event>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    /// The next event; `None` once the node has stopped.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match self.rx.recv().await {
                Ok(e) => {
                    if let Some(e) = from_node(e) {
                        return Some(e);
                    }
                }
                Err(RecvError::Lagged(_)) => return Some(Event::Lagged),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// An event already waiting, without waiting for one.
    pub fn try_next(&mut self) -> Option<Event> {
        loop {
            match self.rx.try_recv() {
                Ok(e) => {
                    if let Some(e) = from_node(e) {
                        return Some(e);
                    }
                }
                Err(TryRecvError::Lagged(_)) => return Some(Event::Lagged),
                Err(_) => return None,
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
        N::SyncProgress {
            peer, pending_docs, ..
        } => Event::Syncing { peer, pending_docs },
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
        N::BundleProgress { done, total } => Event::BundleProgress { done, total },
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
            node: handle,
            mail: None,
        }
    }

    /// Runs the email channel on this node as `meshdesk node` does: it
    /// fetches the mailboxes this device is elected for and sends this
    /// agent's replies (only on a node that syncs with the team).
    pub fn with_mail(mut self) -> Backend {
        if self.node.is_networked() {
            self.mail = Some(Arc::new(meshdesk_channels::mail::start(self.node.clone())));
        }
        self
    }

    /// Serves the webchat widget and the REST API on `addr`, through the
    /// node, as `meshdesk node --http` does.
    pub async fn serve_gateways(&self, addr: String) -> Result<Gateways, StartError> {
        let server = crate::gateway::serve(self.node.clone(), &addr)
            .await
            .map_err(|e| StartError::Gateways(Arc::new(e)))?;
        Ok(Gateways(Arc::new(server)))
    }

    /// Whether the node syncs with the team (peers, gateways); off, it
    /// serves this device alone.
    pub fn is_networked(&self) -> bool {
        self.node.is_networked()
    }

    /// The connected peers.
    pub async fn peers(&self) -> Result<Vec<Peer>, Error> {
        Ok(self
            .node
            .peers()
            .await?
            .into_iter()
            .filter(|p| p.ready)
            .map(|p| Peer {
                peer: p.peer,
                agent: p.agent,
                pending_docs: p.pending_docs,
            })
            .collect())
    }

    /// Announces that this agent is typing in a room (a document id).
    pub async fn typing(&self, room_doc: String) {
        let _ = self.node.typing(TypingTarget::Room(room_doc)).await;
    }

    /// Makes an invite code valid for `ttl_ms` and `uses` new devices,
    /// whose agents join `campaigns` (names or ids; none: the oldest).
    pub async fn invite(
        &self,
        ttl_ms: meshdesk_model::Millis,
        uses: u32,
        campaigns: Vec<String>,
    ) -> Result<String, Error> {
        Ok(self
            .node
            .invite_into(ttl_ms, uses, campaigns)
            .await?
            .encode())
    }

    /// Revokes a device of the team's (supervisors): the team key rotates
    /// and the device can no longer connect.
    pub async fn revoke(&self, device: String) -> Result<(), Error> {
        Ok(self.node.revoke(device).await?)
    }

    /// Writes a bundle of the team's documents to `path` (Export bundle…).
    pub async fn export_bundle(
        &self,
        path: std::path::PathBuf,
    ) -> Result<meshdesk_sync::node::BundleExported, Error> {
        Ok(self.node.export_bundle(path, None).await?)
    }

    /// A campaign's mailbox as the team document holds it (never a password).
    pub async fn mailbox(
        &self,
        campaign: String,
    ) -> Result<(CampaignId, Option<meshdesk_model::Mailbox>), Error> {
        match self.call(Request::ShowMailbox { campaign }).await? {
            Reply::Mailbox { campaign, mailbox } => Ok((campaign, mailbox.map(|m| *m))),
            other => Err(Error::Unexpected(UnexpectedReply(Box::new(other)))),
        }
    }

    /// Sets a campaign's mailbox (supervisors) with this device among its
    /// fetchers, and keeps the password on this device (sealed in the data
    /// dir) when one is given, as `meshdesk mailbox set` does.
    pub async fn save_mailbox(
        &self,
        campaign: String,
        mut mailbox: meshdesk_model::Mailbox,
        password: Option<String>,
    ) -> Result<(), Error> {
        if let Ok((_, Some(old))) = self.mailbox(campaign.clone()).await {
            mailbox.fetchers.extend(old.fetchers);
        }
        mailbox.fetchers.insert(self.node.peer_id().to_base58());
        let id = match self
            .call(Request::SetMailbox {
                campaign,
                mailbox: Some(mailbox),
            })
            .await?
        {
            Reply::Mailbox { campaign, .. } => campaign,
            other => return Err(Error::Unexpected(UnexpectedReply(Box::new(other)))),
        };
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            self.with_secrets(move |s| s.set(id, &password))
                .await
                .map_err(Error::File)?;
        }
        Ok(())
    }

    /// Runs `f` on this device's sealed mailbox passwords on a blocking
    /// thread: the file is small, but it is read, sealed and fsynced.
    async fn with_secrets<T: Send + 'static>(
        &self,
        f: impl FnOnce(
            meshdesk_channels::mail::Secrets,
        ) -> Result<T, meshdesk_channels::mail::MailError>
        + Send
        + 'static,
    ) -> Result<T, String> {
        let dir = self.node.data_dir().to_path_buf();
        tokio::task::spawn_blocking(move || {
            meshdesk_channels::mail::Secrets::open(&dir).and_then(f)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
    }

    /// Checks a mailbox's IMAP and SMTP servers with `password` (or this
    /// device's, when empty): a line per server, or what failed.
    pub async fn test_mailbox(
        &self,
        campaign: CampaignId,
        mailbox: meshdesk_model::Mailbox,
        password: String,
    ) -> Vec<Result<String, String>> {
        let password = if password.is_empty() {
            match self.with_secrets(move |s| s.get(campaign)).await {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return vec![Err(
                        meshdesk_channels::mail::MailError::NoPassword.to_string()
                    )];
                }
                Err(e) => return vec![Err(e)],
            }
        } else {
            password
        };
        meshdesk_channels::mail::test_mailbox(&mailbox, &password)
            .await
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    }

    /// Imports the bundle at `path`, checked as sync checks (Import bundle…).
    pub async fn import_bundle(
        &self,
        path: std::path::PathBuf,
    ) -> Result<meshdesk_sync::node::BundleReport, Error> {
        Ok(self.node.import_bundle(path).await?)
    }

    /// Sends the file at `path` in interaction `id`: read here (at most the
    /// node's limit), stored in the node's blobs, then one message naming it.
    pub async fn send_file(&self, id: InteractionId, path: PathBuf) -> Result<(), Error> {
        let limit = meshdesk_model::blobs::FilesSettings::load(self.node.data_dir())
            .map(|s| s.max_file_bytes)
            .unwrap_or(meshdesk_model::blobs::DEFAULT_MAX_FILE_BYTES);
        let read = tokio::task::spawn_blocking(move || read_upload(&path, limit))
            .await
            .map_err(|e| Error::File(format!("reading the file: {e}")))?;
        let (name, bytes) = read?;
        let file = Attachment {
            hash: meshdesk_model::blobs::BlobHash::of(&bytes),
            size: bytes.len() as u64,
            mime: blobs::sniff_mime(&name, &bytes).to_string(),
            name,
        };
        self.node.put_file(bytes).await?;
        self.ask::<()>(Request::SendFiles {
            id,
            text: String::new(),
            files: vec![file],
            customer: false,
        })
        .await
    }

    /// The bytes of a file a message names (fetched from a teammate if
    /// this device lacks it), checked against its hash.
    pub async fn file_bytes(
        &self,
        hash: meshdesk_model::blobs::BlobHash,
    ) -> Result<Vec<u8>, Error> {
        Ok(self.node.file_bytes(hash).await?)
    }

    /// Saves a file a message names into `dir` (the Downloads folder) under
    /// its own name, never over another file; the path written.
    pub async fn save_file(&self, file: Attachment, dir: PathBuf) -> Result<PathBuf, Error> {
        let bytes = self.file_bytes(file.hash).await?;
        let saved = tokio::task::spawn_blocking(move || save_new(&dir, &file.name, &bytes))
            .await
            .map_err(|e| Error::File(format!("saving the file: {e}")))?;
        saved.map_err(|(path, e)| Error::File(format!("cannot save {}: {e}", path.display())))
    }

    /// A listener for this backend's events.
    pub fn listen(&self) -> Listener {
        Listener {
            rx: self.node.subscribe(),
        }
    }

    /// The events as a stream (for an iced subscription).
    pub fn events(&self) -> impl Stream<Item = Event> + Send + use<> {
        stream::unfold(self.listen(), |mut listener| async move {
            listener.next().await.map(|e| (e, listener))
        })
    }

    /// Stops the node: it says bye to its peers and closes the store.
    pub async fn shutdown(&self) {
        let _ = self.node.shutdown().await;
    }
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
    /// Relays to reach teammates on other sites through (`--relay`).
    pub relays: Vec<libp2p::Multiaddr>,
}

impl NodeOptions {
    fn open_options(self) -> OpenOptions {
        OpenOptions {
            mdns: self.mdns,
            listen: self.listen,
            peers: self.peers,
            relays: self.relays,
            ..OpenOptions::member()
        }
    }
}

fn device_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "desktop".into())
}

/// Starts the node of `data_dir` as `options` say (networking off: tests,
/// benchmarks), as a backend.
pub async fn open_node(data_dir: &DataDir, options: OpenOptions) -> Result<Backend, OpenError> {
    let (node, _events) = home::open(data_dir.root(), options).await?;
    Ok(Backend::node(node))
}

/// Opens the data dir: starts the team's node, or reports that there is no team yet.
pub async fn open(data_dir: DataDir, options: NodeOptions) -> Result<Opened, StartError> {
    match open_node(&data_dir, options.open_options()).await {
        Ok(backend) => Ok(Opened::Ready(backend.with_mail())),
        Err(e) if e.is_no_team() => Ok(Opened::NoTeam),
        Err(e) => Err(e.into()),
    }
}

/// Creates a team on this data dir with this device as its first member
/// (through the node, networking off), then starts the team's node.
pub async fn create_team(
    data_dir: DataDir,
    team_name: String,
    agent_name: String,
    options: NodeOptions,
) -> Result<Backend, StartError> {
    let founding = open_node(&data_dir, OpenOptions::offline()).await?;
    let created = founding
        .call(Request::CreateTeam {
            team_name,
            agent_name,
            device_name: device_name(),
        })
        .await;
    founding.shutdown().await;
    created.map_err(StartError::Create)?;
    match open(data_dir, options).await? {
        Opened::Ready(backend) => Ok(backend),
        Opened::NoTeam => Err(StartError::TeamMissing),
    }
}

/// Joins a team with an invite code (admission and the first sync), then starts the node.
/// What joining a team reports: the first sync's progress, then the result.
#[derive(Debug, Clone)]
pub enum Joining {
    Progress(JoinProgress),
    Done(Result<Backend, StartError>),
}

/// Joins with an invite code, reporting progress as it goes, then opens the
/// node on the joined data dir.
pub fn join_team(
    data_dir: DataDir,
    code: String,
    agent_name: String,
    options: NodeOptions,
) -> impl Stream<Item = Joining> {
    let (progress, reports) = iced::futures::channel::mpsc::unbounded();
    // The reports end when the join drops its sender, so the stream ends
    // after `Done`.
    let done = async move {
        Joining::Done(join_and_open(data_dir, code, agent_name, options, progress).await)
    };
    stream::select(reports.map(Joining::Progress), stream::once(done))
}

async fn join_and_open(
    data_dir: DataDir,
    code: String,
    agent_name: String,
    options: NodeOptions,
    progress: iced::futures::channel::mpsc::UnboundedSender<JoinProgress>,
) -> Result<Backend, StartError> {
    let invite = meshdesk_sync::invite::InviteCode::parse(&code)
        .map_err(|e| StartError::Invite(Arc::new(e)))?;
    let root = data_dir.root().to_path_buf();
    let (store, keypair) = tokio::task::spawn_blocking(move || {
        let store = home::open_store(&root)?;
        let keypair = meshdesk_sync::identity::load_or_create(&root)?;
        Ok::<_, OpenError>((store, keypair))
    })
    .await
    .map_err(|e| StartError::Interrupted(e.to_string()))??;
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
    // A closed window drops the receiver; the join goes on regardless.
    meshdesk_sync::join::join_team(args, |p| {
        let _ = progress.unbounded_send(p);
    })
    .await
    .map_err(|e| StartError::Join(Arc::new(e)))?;
    drop(progress);
    match open(data_dir, options).await? {
        Opened::Ready(backend) => Ok(backend),
        Opened::NoTeam => Err(StartError::TeamMissing),
    }
}

/// A file to send: its own name and bytes, refused (as the op refuses) when
/// it cannot be read, is empty or is over `limit`.
fn read_upload(path: &std::path::Path, limit: u64) -> Result<(String, Vec<u8>), Error> {
    let refuse = Error::File;
    let meta = std::fs::metadata(path)
        .map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(refuse(format!("{} is not a file", path.display())));
    }
    let store = meshdesk_model::blobs::BlobStore::new(PathBuf::new(), limit);
    store.check_size(meta.len()).map_err(OpError::from)?;
    let bytes =
        std::fs::read(path).map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?;
    store
        .check_size(bytes.len() as u64)
        .map_err(OpError::from)?;
    let name = path
        .file_name()
        .map(|n| blobs::clean_name(&n.to_string_lossy()))
        .unwrap_or_else(|| "file".into());
    Ok((name, bytes))
}

/// Writes `bytes` as `name` in `dir`, or as `name (2)`, `name (3)`, … if
/// that is taken; the path written.
fn save_new(
    dir: &std::path::Path,
    name: &str,
    bytes: &[u8],
) -> Result<PathBuf, (PathBuf, std::io::Error)> {
    use std::io::Write;
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    std::fs::create_dir_all(dir).map_err(|e| (dir.to_path_buf(), e))?;
    for n in 1..1000 {
        let candidate = if n == 1 {
            dir.join(name)
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut f) => {
                return f
                    .write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .map(|()| candidate.clone())
                    .map_err(|e| (candidate, e));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err((candidate, e)),
        }
    }
    Err((
        dir.join(name),
        std::io::Error::other("too many files of that name"),
    ))
}

/// Where downloads go: the user's Downloads folder, else the home folder.
pub fn downloads_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| {
            u.download_dir()
                .map(PathBuf::from)
                .or_else(|| Some(u.home_dir().to_path_buf()))
        })
        .unwrap_or_else(std::env::temp_dir)
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
    fn a_node_with_networking_off_answers_requests_and_reports_changes()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let data_dir = DataDir::resolve(Some(dir.path().to_path_buf()))?;
        let backend = rt.block_on(open_node(&data_dir, OpenOptions::offline()))?;
        assert!(!backend.is_networked());
        let mut events = backend.listen();
        let refused = rt.block_on(backend.call(Request::ShowTeam));
        assert!(refused.is_err_and(|e| e.to_string().contains("no team yet")));
        assert_eq!(events.try_next(), None, "a refused request changes nothing");
        let created = rt.block_on(backend.call(Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "laptop".into(),
        }))?;
        assert!(matches!(created, Reply::Created { .. }));
        let changed =
            std::iter::from_fn(|| events.try_next()).find(|e| matches!(e, Event::Changed(_)));
        assert!(matches!(changed, Some(Event::Changed(c)) if c.len() == 2));
        // The node made the team's key beside the store, so the next start
        // syncs with the team.
        assert!(meshdesk_sync::team::load_team_key(dir.path())?.is_some());
        rt.block_on(backend.shutdown());
        Ok(())
    }
}
