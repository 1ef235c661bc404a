//! Peers and their streams: each admitted peer has one long-lived stream
//! with a reader task and a writer task, and a [`PeerSession`] the actor
//! drives with the frames read and with time.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::AsyncReadExt;
use libp2p::{PeerId, Stream};
use meshdesk_model::Millis;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::actor::Actor;
use super::handle::{Event, PeerInfo};
use crate::protocol::{self, Frame, FrameError, PROTOCOL};
use crate::session::{PeerSession, RefuseReason, SessionError, SessionEvent, Step};

/// If the lower peer id has not opened the stream after this long, the higher one does.
const OPEN_FALLBACK: Duration = Duration::from_secs(3);
/// After a stream ended on a live connection, wait this long before opening another.
const REOPEN_AFTER: Duration = Duration::from_secs(10);

/// What the actor asks of a link's writer task.
pub(super) enum Outgoing {
    /// An encoded frame body (its length prefix is added when written).
    Body(Vec<u8>),
    /// Say bye (if a reason is given), close the stream, and maybe the connection.
    Close {
        reason: Option<String>,
        disconnect: bool,
    },
}

/// What the links' tasks tell the actor.
pub(super) enum Input {
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
    pub(super) fn doc_bytes(&self) -> usize {
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

    /// Whether it asks for whole documents (answered with megabytes).
    pub(super) fn asks_whole(&self) -> bool {
        matches!(
            self,
            Input::Frame {
                frame: Ok(Frame::DocRequest { .. }),
                ..
            }
        )
    }
}

/// One peer's stream: the tasks that read and write it, and the session over it.
pub(super) struct Link {
    conn: u64,
    session: PeerSession,
    tx: mpsc::UnboundedSender<Outgoing>,
    /// Bytes sent to the writer and not yet written ([`OUTPUT_BUDGET_BYTES`]).
    queued: Arc<AtomicUsize>,
    reader: JoinHandle<()>,
    /// The peer's span: its reader and writer run in it, and the actor
    /// enters it while handling the peer's frames and time.
    span: tracing::Span,
    closing: bool,
    /// `PeerConnected` was emitted (so `PeerDisconnected` is owed).
    announced: bool,
}

impl Link {
    /// Which of the peer's connections this link's stream is on.
    pub(super) fn conn(&self) -> u64 {
        self.conn
    }

    /// Nothing queued, in flight or awaited: a good moment to move the link.
    pub(super) fn is_idle(&self) -> bool {
        !self.closing && self.session.is_idle()
    }

    pub(super) fn send(&self, frames: Vec<Frame>) {
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

    /// Admitted and syncing.
    pub(super) fn is_ready(&self) -> bool {
        self.session.is_ready()
    }

    /// Documents are still to sync with the peer.
    pub(super) fn is_syncing(&self) -> bool {
        self.session.pending() > 0
    }

    /// What [`super::NodeHandle::peers`] says about this link.
    pub(super) fn info(&self, peer: &PeerId, address: Option<String>, relayed: bool) -> PeerInfo {
        PeerInfo {
            peer: peer.to_base58(),
            agent: self.session.peer_agent(),
            address,
            ready: self.session.is_ready(),
            pending_docs: self.session.pending(),
            relayed,
        }
    }

    /// Whether the peer leaves more unread than a link may hold.
    fn over_budget(&self) -> bool {
        self.queued.load(Ordering::Relaxed) > OUTPUT_BUDGET_BYTES
    }
}

/// A peer id in logs and spans: the end of its base58 form (the start is
/// the same for every ed25519 key).
struct ShortPeer(PeerId);

impl fmt::Display for ShortPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = self.0.to_base58();
        f.write_str(&full[full.len().saturating_sub(8)..])
    }
}

/// Traffic counters of a node (all peers).
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) bytes_sent: AtomicU64,
    pub(super) frames_sent: AtomicU64,
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
    span: &tracing::Span,
) -> (mpsc::UnboundedSender<Outgoing>, JoinHandle<()>) {
    let (mut reader, mut writer) = stream.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let reader_inputs = inputs.clone();
    // Frames read but not yet handled hold their size in this budget; a
    // peer that sends faster than the node works waits in its TCP window.
    let budget = Arc::new(tokio::sync::Semaphore::new(INPUT_BUDGET_BYTES));
    let reader_task = tokio::spawn(
        async move {
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
        }
        .instrument(span.clone()),
    );
    tokio::spawn(
        async move {
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
                        Outgoing::Close { reason, disconnect } => {
                            close = Some((reason, disconnect))
                        }
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
        }
        .instrument(span.clone()),
    );
    (tx, reader_task)
}

impl Actor {
    /// Enters a peer's span, if it has a link, for what is done about the peer.
    fn enter_peer(&self, peer: PeerId) -> Option<tracing::span::EnteredSpan> {
        self.links.get(&peer).map(|l| l.span.clone().entered())
    }

    /// Links to admitted peers that are not being closed: where announcements go.
    pub(super) fn ready_links(&self) -> impl Iterator<Item = (&PeerId, &Link)> {
        self.links
            .iter()
            .filter(|(_, l)| l.session.is_ready() && !l.closing)
    }

    /// Says bye to every peer and closes their streams (the node stops).
    pub(super) fn say_bye_to_all(&mut self, reason: &str) {
        for link in self.links.values_mut() {
            let _ = link.tx.send(Outgoing::Close {
                reason: Some(reason.to_string()),
                disconnect: false,
            });
            link.closing = true;
        }
    }

    pub(super) fn abort_readers(&self) {
        for link in self.links.values() {
            link.reader.abort();
        }
    }

    /// Offers documents that changed to every ready peer but `source`.
    pub(super) fn push_to_peers(&mut self, ids: &[String], source: Option<PeerId>, now: Millis) {
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
            let _entered = link.span.clone().entered();
            let result = link.session.push(&mut self.store, ids, now);
            self.after_step(peer, true, result);
        }
    }

    /// Gives every link's session the time (timeouts, anti-entropy); drops
    /// peers that leave too much unread.
    pub(super) fn tick_links(&mut self, now: Millis) {
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
            let _entered = link.span.clone().entered();
            let was_ready = link.session.is_ready();
            let result = link.session.tick(&mut self.store, now);
            self.after_step(peer, was_ready, result);
        }
    }

    /// Opens streams to connected peers whose lower-id side never opened one.
    pub(super) fn open_stale_links(&mut self) {
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
    }

    /// Opens the sync stream to a connected peer if it is this side's turn.
    pub(super) fn maybe_open(&mut self, peer: PeerId, fallback: bool) {
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

    pub(super) fn on_inbound_stream(&mut self, peer: PeerId, stream: Stream) {
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
        let span = tracing::info_span!("peer", peer = %ShortPeer(peer), conn);
        let _entered = span.clone().entered();
        let queued = Arc::new(AtomicUsize::new(0));
        let (tx, reader) = spawn_link_tasks(
            peer,
            conn,
            stream,
            self.inputs_tx.clone(),
            self.counters.clone(),
            queued.clone(),
            &span,
        );
        let mut session = PeerSession::new(
            self.session_cfg.clone(),
            peer.to_base58(),
            self.store.now_ms(),
        );
        let step = session.start(&self.local);
        let link = Link {
            conn,
            session,
            tx,
            queued,
            reader,
            span,
            closing: false,
            announced: false,
        };
        link.send(step.frames);
        self.links.insert(peer, link);
    }

    /// Forgets a peer's link (the stream or connection ended).
    pub(super) fn drop_link(&mut self, peer: PeerId, conn: Option<u64>) {
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
    pub(super) fn close_link(&mut self, peer: PeerId, reason: String, disconnect: bool) {
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

    pub(super) fn on_inputs(&mut self, batch: Vec<Input>) {
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
                    let _entered = self.enter_peer(peer);
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
                    let _entered = self.enter_peer(peer);
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
                    let _entered = self.enter_peer(peer);
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
        let _entered = self.enter_peer(peer);
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
            let now = self.store.now_ms();
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
    pub(super) fn drop_if_over_budget(&mut self, peer: PeerId) -> bool {
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
    pub(super) fn after_step(
        &mut self,
        peer: PeerId,
        was_ready: bool,
        result: Result<Step, SessionError>,
    ) {
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
                    self.remember_relays();
                }
                SessionEvent::JoinRefused { reason } => {
                    tracing::warn!(peer = %device, %reason, "the join was refused");
                    self.emit(Event::JoinRefused { reason });
                }
                SessionEvent::AdmittedNewMember { agent } => {
                    tracing::info!(peer = %device, %agent, "a new device joined the team");
                }
                SessionEvent::Progress {
                    pending,
                    received_bytes,
                } => self.emit(Event::SyncProgress {
                    peer: device.clone(),
                    pending_docs: pending,
                    received_bytes,
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
                // Also a device on the roster as another agent (the roster may
                // be behind): dialed again when the roster changes.
                let roster = matches!(
                    reason,
                    RefuseReason::NotOnRoster | RefuseReason::OtherAgent { .. }
                );
                if roster && let Some((_, addr, _)) = self.connected.get(&peer) {
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
}
