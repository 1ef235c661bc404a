//! The actor: one task that owns the store and the swarm, and handles, one
//! at a time, swarm events, commands from the [`super::NodeHandle`], frames
//! from the peers' links, and time.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, identify};
use meshdesk_model::authorship::DeviceKey;
use meshdesk_model::blobs::{BlobHash, BlobStore};
use meshdesk_model::doc::DocId;
use meshdesk_model::ops::{self, Context, Reply, Request};
use meshdesk_model::store::{DocChange, Store};
use meshdesk_model::team_key;
use tokio::sync::{broadcast, mpsc, watch};

use super::dialer::{Dialer, listen_addrs};
use super::handle::{Command, Event, NodeError, NodeStatus, PeerInfo};
use super::link::{Counters, Input, Link};
use super::presence::PresenceState;
use super::relays::Relays;
use super::routing::RoutingState;
use crate::files;
use crate::keyring::Keyring;
use crate::protocol::PROTOCOL;
use crate::session::{Local, SessionConfig};
use crate::strangers::Strangers;
use crate::team;
use crate::transport::{MeshBehaviour, MeshBehaviourEvent};

/// How often the actor looks at time (session timeouts, redials, heartbeats).
const TICK: Duration = Duration::from_millis(250);
/// How long a stopping node keeps its connections running once every
/// writer has closed its stream, for those last bytes to leave.
const BYE_GRACE: Duration = Duration::from_millis(20);
/// Frames read from peers waiting for the actor.
const INPUT_QUEUE: usize = 4096;
/// Most frames handled in one batch.
const BATCH: usize = 4096;
/// Document bytes after which a batch ends, so a first sync that brings
/// thousands of documents leaves room between batches for commands,
/// presence and routing.
const BATCH_DOC_BYTES: usize = 4 * 1024 * 1024;

/// The most interactions of one batch from a peer whose files are fetched
/// in the background (see `Actor::prefetch_files`).
const PREFETCH_DOCS: usize = 64;
/// Background file fetches running at once.
const PREFETCH_AT_ONCE: usize = 2;
/// The longest an open waits for a background fetch of the same file.
const PREFETCH_WAIT: Duration = Duration::from_secs(60);

/// What the actor starts from, made ready by [`super::Node::start`].
pub(super) struct Start {
    pub(super) store: Store,
    pub(super) swarm: Swarm<MeshBehaviour>,
    pub(super) local_peer: PeerId,
    pub(super) local: Local,
    pub(super) keyring: Keyring,
    pub(super) device_key: DeviceKey,
    pub(super) data_dir: PathBuf,
    pub(super) session_cfg: SessionConfig,
    pub(super) events: broadcast::Sender<Event>,
    /// The invite's addresses (a joining device).
    pub(super) invite_addrs: Vec<Multiaddr>,
    /// `--peer` addresses.
    pub(super) peers: Vec<Multiaddr>,
    /// `--relay` addresses.
    pub(super) relays: Vec<Multiaddr>,
    pub(super) network: bool,
    pub(super) control: Option<crate::control::ControlServer>,
}

/// The node's one task: owns the store, the swarm and every peer's session.
pub(super) struct Actor {
    pub(super) store: Store,
    pub(super) swarm: Swarm<MeshBehaviour>,
    pub(super) stream_control: libp2p_stream::Control,
    pub(super) local_peer: PeerId,
    pub(super) local: Local,
    /// The team keys the swarm accepts; rotations update it in place.
    pub(super) keyring: Keyring,
    /// Opens team keys sealed to this device.
    pub(super) device_key: DeviceKey,
    pub(super) data_dir: PathBuf,
    /// Connections from devices off the roster, kept briefly and few.
    pub(super) strangers: Strangers,
    pub(super) session_cfg: SessionConfig,
    pub(super) events: broadcast::Sender<Event>,
    pub(super) inputs_tx: mpsc::Sender<Input>,
    pub(super) links: HashMap<PeerId, Link>,
    pub(super) next_conn: u64,
    pub(super) opening: HashSet<PeerId>,
    /// When each peer's last stream ended.
    pub(super) link_ended: HashMap<PeerId, Instant>,
    /// Connected peers: since when, and the remote address.
    pub(super) connected: HashMap<PeerId, (Instant, Multiaddr, ConnectionId)>,
    pub(super) dialer: Dialer,
    pub(super) relays: Relays,
    pub(super) invite_addrs: Vec<Multiaddr>,
    /// Peers refused for not being on the roster (yet), with their address: dialed when the roster grows.
    pub(super) refused: HashMap<PeerId, Multiaddr>,
    pub(super) presence: PresenceState,
    pub(super) routing: RoutingState,
    /// Whether the node listens and dials (see [`super::NodeConfig::network`]).
    pub(super) network: bool,
    pub(super) control: Option<crate::control::ControlServer>,
    pub(super) counters: Arc<Counters>,
    /// This data dir's files, and who may fetch them (see [`crate::files`]).
    pub(super) blobs: BlobStore,
    pub(super) file_members: files::Members,
    pub(super) file_server: tokio::task::JoinHandle<()>,
    /// Files being fetched in the background, and how many at once.
    /// Each says `true` once its fetch ended (stored or not), so an open
    /// of the same file waits for it instead of fetching it a second time.
    pub(super) prefetching: Arc<std::sync::Mutex<HashMap<BlobHash, watch::Receiver<bool>>>>,
    pub(super) prefetch_slots: Arc<tokio::sync::Semaphore>,
}

impl Actor {
    /// Starts the actor's task: announces the listen addresses, blocks
    /// revoked devices and dials the known peers first.
    pub(super) fn spawn(start: Start, commands: mpsc::Receiver<Command>) -> Result<(), NodeError> {
        let mut stream_control = start.swarm.behaviour().stream.new_control();
        let incoming = stream_control
            .accept(PROTOCOL)
            .map_err(|e| NodeError::Invalid(format!("cannot accept sync streams: {e}")))?;
        let incoming_files = stream_control
            .accept(files::FILE_PROTOCOL)
            .map_err(|e| NodeError::Invalid(format!("cannot accept file streams: {e}")))?;
        let blobs = BlobStore::in_data_dir(&start.data_dir)
            .map_err(|e| NodeError::Invalid(format!("the file settings: {e}")))?;
        let file_members = files::Members::default();
        let file_server = tokio::spawn(files::serve(
            incoming_files,
            blobs.clone(),
            file_members.clone(),
        ));
        let (inputs_tx, inputs_rx) = mpsc::channel(INPUT_QUEUE);
        let mut actor = Actor {
            store: start.store,
            swarm: start.swarm,
            stream_control,
            local_peer: start.local_peer,
            local: start.local,
            keyring: start.keyring,
            device_key: start.device_key,
            data_dir: start.data_dir,
            strangers: Strangers::default(),
            session_cfg: start.session_cfg,
            events: start.events,
            inputs_tx,
            links: HashMap::new(),
            next_conn: 1,
            opening: HashSet::new(),
            link_ended: HashMap::new(),
            connected: HashMap::new(),
            dialer: Dialer::default(),
            relays: Relays::default(),
            invite_addrs: start.invite_addrs,
            refused: HashMap::new(),
            presence: PresenceState::default(),
            routing: RoutingState::default(),
            network: start.network,
            control: start.control,
            counters: Arc::default(),
            blobs,
            file_members,
            file_server,
            prefetching: Arc::default(),
            prefetch_slots: Arc::new(tokio::sync::Semaphore::new(PREFETCH_AT_ONCE)),
        };
        for addr in listen_addrs(&actor.swarm) {
            actor.emit(Event::Listening {
                addr: addr.to_string(),
            });
        }
        actor.remember_own_addrs();
        actor.check_roster(); // block revoked devices from the start
        actor.seed_relays(start.relays);
        actor.seed_dialer(start.peers);
        actor.reserve_on_relays();
        tokio::spawn(actor.run(commands, inputs_rx, incoming));
        Ok(())
    }

    pub(super) fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    pub(super) fn joining(&self) -> bool {
        self.local.agent.is_none()
    }

    pub(super) fn device(&self) -> &str {
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
                    let mut asks_whole = input.asks_whole();
                    let mut batch = vec![input];
                    while !asks_whole && batch.len() < BATCH && doc_bytes < BATCH_DOC_BYTES {
                        match inputs.try_recv() {
                            Ok(input) => {
                                doc_bytes += input.doc_bytes();
                                asks_whole = input.asks_whole();
                                batch.push(input);
                            }
                            Err(_) => break,
                        }
                    }
                    self.on_inputs(batch);
                    if asks_whole {
                        // The answer's writer was woken on this thread: let it
                        // send before the next request is read, so the asker
                        // imports these while this side reads the next ones.
                        tokio::task::yield_now().await;
                    }
                }
                _ = ticker.tick() => self.on_tick(),
            }
            self.maybe_route();
        };
        self.stop(inputs).await;
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
    }

    async fn stop(mut self, mut inputs: mpsc::Receiver<Input>) {
        tracing::info!("node stopping");
        self.say_bye_to_all("node shutting down");
        // Give the writers a moment to say bye, while the swarm keeps
        // running: until each has closed its stream, at most 300 ms.
        let mut writing: HashSet<(PeerId, u64)> =
            self.links.iter().map(|(p, l)| (*p, l.conn())).collect();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        while !writing.is_empty() {
            tokio::select! {
                _ = self.swarm.select_next_some() => {}
                Some(input) = inputs.recv() => {
                    if let Input::WriterDone { peer, conn, .. } = input {
                        writing.remove(&(peer, conn));
                    }
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        // The closed streams' last bytes leave with the connection's task.
        let flushed = tokio::time::Instant::now() + BYE_GRACE;
        while tokio::time::Instant::now() < flushed {
            tokio::select! {
                _ = self.swarm.select_next_some() => {}
                _ = tokio::time::sleep_until(flushed) => break,
            }
        }
        self.abort_readers();
        if let Some(control) = self.control.take() {
            control.stop();
        }
        self.file_server.abort();
        self.emit(Event::Stopped);
        // The store (and its file lock) goes with `self`.
    }
    /// Fetches, in the background, the files named by the latest messages
    /// of interactions a peer just changed that this node lacks, from that
    /// peer first: so a file travels with its message like the text does,
    /// and opens after the sender has gone. Only for batches of at most
    /// [`PREFETCH_DOCS`] interactions (live traffic): a catch-up of
    /// thousands does not read them all, its files are fetched on demand.
    fn prefetch_files(&mut self, changes: &[DocChange], source: PeerId) {
        let ids: Vec<&DocId> = changes
            .iter()
            .map(|c| &c.doc_id)
            .filter(|d| matches!(d, DocId::Interaction(_)))
            .collect();
        if ids.is_empty() || ids.len() > PREFETCH_DOCS {
            return;
        }
        let mut wanted = Vec::new();
        for id in ids {
            let head = self
                .store
                .with_doc(id, meshdesk_model::doc::interaction::read_head);
            let Ok(Ok((interaction, _))) = head else {
                continue;
            };
            for file in interaction.messages.iter().flat_map(|m| &m.attachments) {
                if file.size <= self.blobs.limit()
                    && self.blobs.size_of(&file.hash).is_none()
                    && !wanted.contains(&file.hash)
                {
                    wanted.push(file.hash);
                }
            }
        }
        for hash in wanted {
            let (done, under_way) = watch::channel(false);
            let fresh =
                self.prefetching
                    .lock()
                    .is_ok_and(|mut fetching| match fetching.entry(hash) {
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(under_way);
                            true
                        }
                        std::collections::hash_map::Entry::Occupied(_) => false,
                    });
            if !fresh {
                continue;
            }
            let mut peers = vec![source];
            peers.extend(
                self.connected
                    .keys()
                    .copied()
                    .filter(|p| *p != source && self.file_members.contains(p)),
            );
            let control = self.stream_control.clone();
            let blobs = self.blobs.clone();
            let slots = self.prefetch_slots.clone();
            let fetching = self.prefetching.clone();
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await;
                if let Err(e) = files::fetch(control, peers, hash, blobs).await {
                    tracing::info!(%hash, "file not prefetched (fetched when opened): {e}");
                }
                if let Ok(mut fetching) = fetching.lock() {
                    fetching.remove(&hash);
                }
                let _ = done.send(true);
            });
        }
    }

    /// Makes a file present here, fetching it from the connected
    /// teammates (roster devices not revoked) when it is not; replies once
    /// it is stored, without holding the actor up meanwhile.
    fn fetch_file(&mut self, hash: BlobHash, reply: super::handle::Reply1<()>) {
        if self.blobs.size_of(&hash).is_some() {
            let _ = reply.send(Ok(()));
            return;
        }
        let peers: Vec<PeerId> = self
            .connected
            .keys()
            .copied()
            .filter(|p| self.file_members.contains(p))
            .collect();
        let under_way = self
            .prefetching
            .lock()
            .ok()
            .and_then(|fetching| fetching.get(&hash).cloned());
        let control = self.stream_control.clone();
        let blobs = self.blobs.clone();
        tokio::spawn(async move {
            // The same file already on its way: wait for that fetch (it
            // ends, stored or not, within its own timeouts) rather than
            // have the peer send it twice; then fetch only if it failed.
            if let Some(mut under_way) = under_way {
                let _ = tokio::time::timeout(PREFETCH_WAIT, under_way.wait_for(|done| *done)).await;
            }
            let result = files::fetch(control, peers, hash, blobs).await;
            let _ = reply.send(result.map_err(|e| NodeError::File(Box::new(e))));
        });
    }

    // ---- swarm ------------------------------------------------------------

    fn on_swarm_event(&mut self, event: SwarmEvent<MeshBehaviourEvent>) {
        if let SwarmEvent::ConnectionClosed {
            connection_id,
            peer_id,
            num_established,
            ..
        } = &event
        {
            self.strangers.closed(*connection_id);
            self.relay_connection_closed(*peer_id, *connection_id, *num_established);
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
                if self.relays.is_relay(&peer_id) {
                    // A relay carries teammates' circuits; it is no peer to sync with.
                    return;
                }
                self.note_connection(peer_id, connection_id, &addr, endpoint.is_relayed());
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
                self.dialer.connected(peer_id, &addr, endpoint.is_dialer());
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
                self.dialer.disconnected(peer_id);
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id, %error, "dial failed");
                if let Some(peer) = peer_id {
                    self.dialer.dial_failed(peer);
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                tracing::info!(from = %send_back_addr, %error, "refused an incoming connection (wrong team key or broken handshake)");
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                self.relay_listener_closed(listener_id, reason.err().map(|e| e.to_string()));
            }
            SwarmEvent::Behaviour(MeshBehaviourEvent::Relay(event)) => self.on_relay_client(event),
            SwarmEvent::Behaviour(MeshBehaviourEvent::Dcutr(event)) => self.on_dcutr(event),
            SwarmEvent::Behaviour(MeshBehaviourEvent::Mdns(event)) => self.on_mdns(event),
            SwarmEvent::Behaviour(MeshBehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => self.on_identify(peer_id, info),
            _ => {}
        }
    }

    /// On the roster and not revoked.
    fn is_active_member(&self, device: &str) -> bool {
        matches!(self.store.team(), Ok(Some(team)) if team.members.get(device).is_some_and(|m| !m.revoked))
    }

    pub(super) fn is_member(&self, device: &str) -> bool {
        matches!(self.store.team(), Ok(Some(team)) if team.member_by_device(device).is_some())
    }

    // ---- changes and the roster ---------------------------------------------

    /// Documents changed (locally, or from `source`): push them to every other
    /// ready peer, tell listeners, re-check the roster, rerun routing.
    pub(super) fn on_changes(&mut self, changes: Vec<DocChange>, source: Option<PeerId>) {
        let now = self.store.now_ms();
        let ids: Vec<String> = changes.iter().map(|c| c.doc_id.to_string()).collect();
        self.push_to_peers(&ids, source, now);
        let team_changed = changes.iter().any(|c| matches!(c.doc_id, DocId::Team(_)));
        let agent_changed = self
            .local
            .agent
            .is_some_and(|a| changes.iter().any(|c| c.doc_id == DocId::Agent(a)));
        if let Some(peer) = source {
            self.prefetch_files(&changes, peer);
        }
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
        self.file_members.set(
            team.members
                .values()
                .filter(|m| !m.revoked)
                .filter_map(|m| m.device.parse::<PeerId>().ok())
                .collect(),
        );
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
        self.presence.keep_devices(active);
        let now_members: Vec<(PeerId, Multiaddr)> = self
            .refused
            .iter()
            .filter(|(p, _)| team.member_by_device(&p.to_base58()).is_some())
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        for (peer, addr) in now_members {
            self.refused.remove(&peer);
            self.dialer.add_addr(peer, addr);
            self.dialer.due_now(peer);
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
        let now = self.store.now_ms();
        match team::rotate_key_if_due(&mut self.store, now) {
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
        let now = self.store.now_ms();
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
        self.tick_links(now);
        self.open_stale_links();
        self.redial();
        self.reserve_on_relays();
        self.move_links_off_relays();
        self.tick_presence();
        self.routing.tick(now);
    }

    // ---- commands -----------------------------------------------------------------

    pub(super) fn execute(&mut self, request: Request) -> Result<Reply, NodeError> {
        let ctx = Context {
            now: self.store.now_ms(),
            presence: Some(self.presence_view()),
        };
        let outcome = ops::execute(&mut self.store, &ctx, request)?;
        if self.local.is_unattached() {
            self.attach_to_new_team()?;
        }
        if !outcome.changes.is_empty() {
            self.on_changes(outcome.changes, None);
        }
        Ok(outcome.reply)
    }

    /// A node started before its team exists becomes the team's member once
    /// a request created it here, with the team's key saved beside the store.
    fn attach_to_new_team(&mut self) -> Result<(), NodeError> {
        let Some(identity) = self.store.identity()? else {
            return Ok(());
        };
        let key = match team::load_team_key(&self.data_dir)? {
            Some(key) => key,
            None => team::create_team_key(&self.data_dir)?,
        };
        self.keyring.rotate_to(key);
        self.local = Local::member(&identity);
        self.routing.dirty = true;
        tracing::info!(team = %identity.team, "this node now belongs to a new team");
        Ok(())
    }

    #[tracing::instrument(name = "request", skip_all, fields(kind = command.kind()))]
    fn on_command(&mut self, command: Command) {
        match command {
            Command::Execute { request, reply } => {
                let _ = reply.send(self.execute(request));
            }
            Command::FetchFile { hash, reply } => self.fetch_file(hash, reply),
            Command::Invite {
                ttl_ms,
                uses,
                campaigns,
                reply,
            } => {
                let me = self.local_peer;
                // Direct addresses first, then through each relay (a
                // reservation's own listen address is left out: the
                // relay's address as configured is the one to give).
                let mut addrs: Vec<Multiaddr> = listen_addrs(&self.swarm)
                    .into_iter()
                    .filter(|a| !super::relays::is_relayed(a))
                    .take(8)
                    .map(|a| a.with(Protocol::P2p(me)))
                    .collect();
                addrs.extend(self.relays.circuits_to(me));
                let now = self.store.now_ms();
                let result = team::create_invite(
                    &mut self.store,
                    self.keyring.current(),
                    now,
                    ttl_ms,
                    uses,
                    &campaigns,
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
                let online = self.online_devices();
                let _ = reply.send(team::members(&self.store, &online).map_err(NodeError::from));
            }
            Command::Revoke { device, reply } => {
                let now = self.store.now_ms();
                let result = team::revoke(&mut self.store, &device, now)
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
                    .map(|(p, l)| {
                        let connection = self.connected.get(p);
                        l.info(
                            p,
                            connection.map(|(_, a, _)| a.to_string()),
                            connection
                                .is_some_and(|(_, _, c)| self.relays.is_relayed_connection(c)),
                        )
                    })
                    .collect();
                peers.sort_by(|a, b| a.peer.cmp(&b.peer));
                let _ = reply.send(Ok(peers));
            }
            Command::Status { reply } if self.local.is_unattached() => {
                let _ = reply.send(Err(NodeError::NoTeam));
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
                    peers: self.links.values().filter(|l| l.is_ready()).count(),
                    bytes_sent: self.counters.bytes_sent.load(Ordering::Relaxed),
                    frames_sent: self.counters.frames_sent.load(Ordering::Relaxed),
                };
                let _ = reply.send(Ok(status));
            }
            Command::Typing { target } => {
                self.announce_typing(target);
            }
            Command::Dial { addr, reply } => {
                let result = if self.network {
                    self.dial_addr(addr)
                } else {
                    Err(NodeError::Offline)
                };
                let _ = reply.send(result);
            }
            Command::ExportBundle {
                path,
                since_device,
                reply,
            } => {
                let _ = reply.send(self.export_bundle(&path, since_device.as_deref()));
            }
            Command::ImportBundle { path, reply } => {
                let _ = reply.send(self.import_bundle(&path));
            }
            Command::ExportOpenData { dir, reply } => {
                let _ = reply.send(self.export_open_data(&dir));
            }
            Command::Shutdown { .. } => {} // handled by the loop
        }
    }
}
