//! A deterministic in-process simulation of several nodes' sync cores
//! (DESIGN §10): real stores in temporary directories, real [`PeerSession`]s,
//! and a seeded network that drops, duplicates and reorders sync frames and
//! partitions links. After the chaos the network heals, everything runs
//! until quiet, and every store must hold the same documents at the same
//! heads and the same projections.
//!
//! Handshake frames (hello, join) are delivered in order and never lost:
//! on a real stream losing one means the connection failed, which the
//! simulation models as a partition instead.
//!
//! One seed replays a run bit for bit: every store reads the simulated
//! clock and draws its ids and tokens from a generator seeded from the run's
//! seed ([`meshdesk_model::clock`]), device keys are fixed, and the sessions
//! decide what to send from their inputs alone. [`Sim::fingerprint`] digests
//! a run (every frame delivered, every document's saved bytes, catalogs and
//! projections) so two runs can be compared.

use meshdesk_model::store::Replication;
use std::collections::{BTreeMap, VecDeque};

use meshdesk_model::clock::{Clock, Entropy, ManualClock};
use meshdesk_model::ops::{self, ChatTarget, ContactSpec, Context, Reply, Request};
use meshdesk_model::store::{DocChange, Store};
use meshdesk_model::{AgentStatus, Millis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::protocol::Frame;
use crate::session::{
    JoinTicket, Local, PeerSession, SessionConfig, SessionError, SessionEvent, Step,
};
use crate::team;

mod burst;

/// Fault rates and sizes of one simulation run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub nodes: usize,
    pub steps: usize,
    pub drop: f64,
    pub duplicate: f64,
    pub reorder: f64,
    /// Chance per step that a link goes down (or a down link comes back).
    pub partition: f64,
    /// Chance per step of a local operation on a random node.
    pub op: f64,
    /// A member (by index, never 0) whose operations are, one time in
    /// three, writes the rules forbid: what a compromised laptop sends.
    pub misbehaving: Option<usize>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            nodes: 3,
            steps: 400,
            drop: 0.05,
            duplicate: 0.05,
            reorder: 0.1,
            partition: 0.02,
            op: 0.2,
            misbehaving: None,
        }
    }
}

struct SimNode {
    _dir: tempfile::TempDir,
    store: Store,
    local: Local,
    /// Peer index → (connection number, session).
    sessions: BTreeMap<usize, (u64, PeerSession)>,
}

/// The simulated world.
pub struct Sim {
    cfg: SimConfig,
    rng: StdRng,
    now: Millis,
    /// What every store reads as now: `now`, set as it advances.
    clock: ManualClock,
    /// Every frame delivered, in order (see [`Sim::fingerprint`]).
    delivered: blake3::Hasher,
    nodes: Vec<SimNode>,
    /// Frames in transit from → to, tagged with the connection they belong to.
    wires: BTreeMap<(usize, usize), VecDeque<(u64, Frame)>>,
    next_conn: u64,
    faults: bool,
    interactions: Vec<String>,
    contacts: Vec<String>,
    pub stats: SimStats,
    /// The last frames delivered, for diagnostics.
    trace: VecDeque<String>,
}

#[derive(Clone, Debug, Default)]
pub struct SimStats {
    pub delivered: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub partitions: u64,
    pub ops: u64,
    pub joins: u64,
    pub refusals: u64,
    /// Documents delivered whole (in `DocData`).
    pub whole_docs: u64,
    /// Writes the rules forbid, made by the misbehaving member.
    pub forbidden: u64,
}

fn session_cfg() -> SessionConfig {
    SessionConfig {
        max_in_flight: 8,
        max_requested: 16,
        in_flight_timeout: 2_000,
        round_timeout: 2_000,
        handshake_timeout: 20_000,
        anti_entropy_interval: 10_000,
    }
}

/// The seed of node `i`'s ids and tokens in the run with `seed`.
fn entropy_seed(seed: u64, i: usize) -> u64 {
    seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Node `i`'s device key: fixed, so a seed replays the same devices.
fn device_key(i: usize) -> meshdesk_model::authorship::DeviceKey {
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    meshdesk_model::authorship::DeviceKey::from_secret(secret)
}

fn device(i: usize) -> String {
    device_key(i).device()
}

fn is_sync_frame(f: &Frame) -> bool {
    matches!(
        f,
        Frame::SyncMessage { .. }
            | Frame::SyncDone { .. }
            | Frame::CatalogDigests { .. }
            | Frame::CatalogBucket { .. }
            | Frame::CatalogEnd { .. }
            | Frame::DocRequest { .. }
            | Frame::DocData { .. }
    )
}

type SimResult<T> = Result<T, String>;

fn summarize(f: &Frame) -> String {
    match f {
        Frame::SyncMessage { doc_id, bytes } => {
            match meshdesk_model::authorship::Sealed::decode(bytes)
                .map_err(|e| e.to_string())
                .and_then(|s| automerge::sync::Message::decode(&s.bytes).map_err(|e| e.to_string()))
            {
                Ok(m) => format!(
                    "sync {doc_id} heads {:?} need {} have {} changes {:?}",
                    m.heads
                        .iter()
                        .map(|h| h.to_string()[..6].to_string())
                        .collect::<Vec<_>>(),
                    m.need.len(),
                    m.have.len(),
                    m.changes.len(),
                ),
                Err(e) => format!("sync {doc_id} undecodable {e}"),
            }
        }
        Frame::SyncDone { doc_id } => format!("done {doc_id}"),
        other => other.kind().to_string(),
    }
}
/// A store's catalog digests and projection dump.
type Snapshot = (Vec<[u8; 32]>, Vec<(String, Vec<u8>)>);

impl Sim {
    /// Node 0 creates the team; the others hold invite tickets and join through node 0.
    pub fn new(cfg: SimConfig, seed: u64) -> SimResult<Sim> {
        let now: Millis = 1_750_000_000_000;
        let clock = ManualClock::new(now);
        let mut nodes = Vec::new();
        for i in 0..cfg.nodes {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let mut store = Store::open(dir.path().join("team.redb"), device_key(i))
                .map_err(|e| e.to_string())?;
            store.set_sources(
                Clock::Manual(clock.clone()),
                Entropy::seeded(entropy_seed(seed, i)),
            );
            nodes.push((dir, store));
        }
        let mut built = Vec::new();
        let mut team_id = None;
        let mut tickets = Vec::new();
        for (i, (dir, mut store)) in nodes.into_iter().enumerate() {
            if i == 0 {
                let ctx = Context {
                    now,
                    presence: None,
                };
                let request = Request::CreateTeam {
                    team_name: "Sim".into(),
                    agent_name: "agent-0".into(),
                    device_name: "sim".into(),
                };
                ops::execute(&mut store, &ctx, request).map_err(|e| e.to_string())?;
                for _ in 1..cfg.nodes {
                    let (code, _) =
                        team::create_invite(&mut store, [0; 32], now, 86_400_000, 1, &[], vec![])
                            .map_err(|e| e.to_string())?;
                    tickets.push(code);
                }
                let me = store
                    .identity()
                    .map_err(|e| e.to_string())?
                    .ok_or("no identity")?;
                team_id = Some(me.team);
                built.push(SimNode {
                    _dir: dir,
                    store,
                    local: Local::member(&me),
                    sessions: BTreeMap::new(),
                });
            } else {
                let code = tickets.get(i - 1).ok_or("missing ticket")?;
                let local = Local {
                    team_id: team_id.ok_or("no team")?,
                    device: device(i),
                    agent: None,
                    join: Some(JoinTicket {
                        token: code.token,
                        agent_name: format!("agent-{i}"),
                        device_name: format!("sim-{i}"),
                    }),
                };
                built.push(SimNode {
                    _dir: dir,
                    store,
                    local,
                    sessions: BTreeMap::new(),
                });
            }
        }
        let mut sim = Sim {
            cfg,
            rng: StdRng::seed_from_u64(seed),
            now,
            clock,
            delivered: blake3::Hasher::new(),
            nodes: built,
            wires: BTreeMap::new(),
            next_conn: 1,
            faults: true,
            interactions: vec![],
            contacts: vec![],
            stats: SimStats::default(),
            trace: VecDeque::new(),
        };
        for i in 1..sim.nodes.len() {
            sim.connect(0, i)?;
        }
        Ok(sim)
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.nodes[a].sessions.contains_key(&b)
    }

    fn connect(&mut self, a: usize, b: usize) -> SimResult<()> {
        if a == b || self.connected(a, b) {
            return Ok(());
        }
        // Two joiners have nothing to say to each other; a joiner talks to one member at a time.
        let joining = |n: &SimNode| n.local.agent.is_none();
        if joining(&self.nodes[a]) && joining(&self.nodes[b]) {
            return Ok(());
        }
        if (joining(&self.nodes[a]) && !self.nodes[a].sessions.is_empty())
            || (joining(&self.nodes[b]) && !self.nodes[b].sessions.is_empty())
        {
            return Ok(());
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        for (x, y) in [(a, b), (b, a)] {
            let mut session = PeerSession::new(session_cfg(), device(y), self.now);
            let step = session.start(&self.nodes[x].local);
            self.nodes[x].sessions.insert(y, (conn, session));
            self.apply(x, y, step)?;
        }
        Ok(())
    }

    fn disconnect(&mut self, a: usize, b: usize) {
        for (x, y) in [(a, b), (b, a)] {
            let node = &mut self.nodes[x];
            if let Some((_, mut session)) = node.sessions.remove(&y) {
                session.close(&mut node.store);
            }
            self.wires.remove(&(x, y));
        }
    }

    /// Sends a step's frames from `x` to `y` and spreads its changes to `x`'s other peers.
    fn apply(&mut self, x: usize, y: usize, step: Step) -> SimResult<()> {
        let conn = match self.nodes[x].sessions.get(&y) {
            Some((conn, _)) => *conn,
            None => return Ok(()),
        };
        let wire = self.wires.entry((x, y)).or_default();
        for frame in step.frames {
            wire.push_back((conn, frame));
        }
        for event in &step.events {
            match event {
                SessionEvent::Joined { .. } => self.stats.joins += 1,
                SessionEvent::JoinRefused { reason } => {
                    return Err(format!("node {x}: join refused: {reason}"));
                }
                _ => {}
            }
        }
        if step.close {
            self.disconnect(x, y);
        }
        self.spread(x, Some(y), &step.changes)
    }

    /// Pushes changed documents to every ready peer of `x` except `except`.
    fn spread(&mut self, x: usize, except: Option<usize>, changes: &[DocChange]) -> SimResult<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = changes.iter().map(|c| c.doc_id.to_string()).collect();
        let peers: Vec<usize> = self.nodes[x]
            .sessions
            .keys()
            .copied()
            .filter(|p| Some(*p) != except)
            .collect();
        for p in peers {
            let now = self.now;
            let node = &mut self.nodes[x];
            let Some((_, session)) = node.sessions.get_mut(&p) else {
                continue;
            };
            let step = session
                .push(&mut node.store, &ids, now)
                .map_err(|e| format!("node {x} push to {p}: {e}"))?;
            self.apply(x, p, step)?;
        }
        Ok(())
    }

    /// Delivers up to three frames on the wire `from → to`, with faults.
    fn deliver(&mut self, from: usize, to: usize) -> SimResult<()> {
        let faults = self.faults;
        let Some(wire) = self.wires.get_mut(&(from, to)) else {
            return Ok(());
        };
        let take = self.rng.random_range(1..=3usize);
        let mut frames = Vec::new();
        let current = self.nodes[to].sessions.get(&from).map(|(c, _)| *c);
        while frames.len() < take {
            if faults
                && wire.len() >= 2
                && is_sync_frame(&wire[0].1)
                && is_sync_frame(&wire[1].1)
                && self.rng.random_bool(self.cfg.reorder)
            {
                wire.swap(0, 1);
                self.stats.reordered += 1;
            }
            let Some((conn, frame)) = wire.pop_front() else {
                break;
            };
            if Some(conn) != current {
                continue; // a frame of a connection that is gone
            }
            if faults && is_sync_frame(&frame) {
                if self.rng.random_bool(self.cfg.drop) {
                    self.stats.dropped += 1;
                    continue;
                }
                if self.rng.random_bool(self.cfg.duplicate) {
                    self.stats.duplicated += 1;
                    wire.push_back((conn, frame.clone()));
                }
            }
            frames.push(frame);
        }
        if frames.is_empty() {
            return Ok(());
        }
        self.stats.delivered += frames.len() as u64;
        for f in &frames {
            self.delivered.update(&[from as u8, to as u8]);
            match f.encode() {
                Ok(bytes) => self.delivered.update(&bytes),
                Err(_) => self.delivered.update(f.kind().as_bytes()),
            };
            if let Frame::DocData { docs, .. } = f {
                self.stats.whole_docs += docs.len() as u64;
            }
            if self.trace.len() >= 40 {
                self.trace.pop_front();
            }
            self.trace
                .push_back(format!("{from}→{to} {}", summarize(f)));
        }
        let now = self.now;
        let node = &mut self.nodes[to];
        let Some((_, session)) = node.sessions.get_mut(&from) else {
            return Ok(());
        };
        match session.handle(&mut node.store, &mut node.local, frames, now) {
            Ok(step) => self.apply(to, from, step),
            // A roster that lags behind a join: the node hangs up, as a real one does.
            Err(SessionError::Refused(_)) => {
                self.stats.refusals += 1;
                self.disconnect(to, from);
                Ok(())
            }
            Err(e) => Err(format!("node {to} handling frames from {from}: {e}")),
        }
    }

    fn tick_all(&mut self) -> SimResult<()> {
        for x in 0..self.nodes.len() {
            let peers: Vec<usize> = self.nodes[x].sessions.keys().copied().collect();
            for p in peers {
                let now = self.now;
                let node = &mut self.nodes[x];
                let Some((_, session)) = node.sessions.get_mut(&p) else {
                    continue;
                };
                let step = session
                    .tick(&mut node.store, now)
                    .map_err(|e| format!("node {x} tick {p}: {e}"))?;
                self.apply(x, p, step)?;
            }
        }
        Ok(())
    }

    fn random_op(&mut self) -> SimResult<()> {
        let x = self.rng.random_range(0..self.nodes.len());
        if self.nodes[x].local.agent.is_none() {
            return Ok(());
        }
        if self.cfg.misbehaving == Some(x) && self.rng.random_range(0..3u8) == 0 {
            return self.forbidden_op(x);
        }
        let n = self.rng.random_range(0..1_000_000u32);
        let request = match self.rng.random_range(0..7u8) {
            0 => Request::AddContact(ContactSpec {
                name: Some(format!("Contact {n}")),
                phones: Some(vec![format!("+1 555 {:04}", n % 10_000)]),
                ..ContactSpec::default()
            }),
            1 | 2 => Request::Enqueue {
                campaign: "General".into(),
                contact: None,
                from: Some(format!("+1 555 {:04}", n % 10_000)),
                name: Some(format!("Caller {n}")),
                message: Some(format!("hello {n}")),
                priority: 0,
            },
            3 => match self.pick(&self.interactions.clone()) {
                Some(id) => Request::Accept {
                    id: id.parse().expect("an id"),
                },
                None => return Ok(()),
            },
            4 => match self.pick(&self.interactions.clone()) {
                Some(id) => Request::Send {
                    id: id.parse().expect("an id"),
                    text: format!("reply {n}"),
                },
                None => return Ok(()),
            },
            5 => Request::ChatSend {
                to: ChatTarget::Campaign("General".into()),
                text: format!("chat {n}"),
            },
            _ => match self.pick(&self.contacts.clone()) {
                Some(id) => Request::EditContact {
                    id: id.parse().expect("an id"),
                    changes: ContactSpec {
                        company: Some(format!("Co {n}")),
                        ..ContactSpec::default()
                    },
                },
                None => Request::SetStatus {
                    status: AgentStatus::Available,
                },
            },
        };
        let kind = std::mem::discriminant(&request);
        let is_contact = matches!(request, Request::AddContact(_));
        let ctx = Context {
            now: self.now,
            presence: None,
        };
        let node = &mut self.nodes[x];
        match ops::execute(&mut node.store, &ctx, request) {
            Ok(outcome) => {
                self.stats.ops += 1;
                if let Reply::Created { id } = &outcome.reply {
                    if is_contact {
                        self.contacts.push(id.clone());
                    } else {
                        self.interactions.push(id.clone());
                    }
                }
                self.spread(x, None, &outcome.changes)
            }
            Err(e) if e.is_user_error() => Ok(()), // not owner, unknown id here yet, ...
            // Joined, but its own agent document has not arrived yet.
            Err(ops::OpError::Store(e))
                if matches!(*e, meshdesk_model::store::StoreError::NotFound(_)) =>
            {
                Ok(())
            }
            Err(e) => Err(format!("node {x} op {kind:?}: {e}")),
        }
    }

    /// A write the rules refuse, made directly on node `x`'s store (signed
    /// with its own key, as a modified client would): a message in node 0's
    /// agent's name, a claim in its name, or self-promotion to supervisor.
    fn forbidden_op(&mut self, x: usize) -> SimResult<()> {
        use meshdesk_model::doc::{self, DocId};
        let Some(victim) = self.nodes[0].local.agent else {
            return Ok(());
        };
        let interaction = self.pick(&self.interactions.clone());
        let device = self.nodes[x].local.device.clone();
        let team = self.nodes[x].local.team_id;
        let now = self.now;
        let message_id: meshdesk_model::MessageId = self.nodes[x].store.new_id();
        let (doc_id, edit): (DocId, meshdesk_model::store::EditFn) =
            match (self.rng.random_range(0..3u8), interaction) {
                (0, Some(id)) => (
                    DocId::Interaction(id.parse().map_err(|e| format!("{e}"))?),
                    Box::new(move |d| {
                        doc::interaction::append_message(
                            d,
                            &meshdesk_model::Message {
                                attachments: Vec::new(),
                                id: message_id,
                                author: meshdesk_model::Author::Agent(victim),
                                at: now,
                                body: "forged refund approval".into(),
                            },
                        )
                    }),
                ),
                (1, Some(id)) => (
                    DocId::Interaction(id.parse().map_err(|e| format!("{e}"))?),
                    Box::new(move |d| {
                        doc::interaction::add_claim(
                            d,
                            &meshdesk_model::Claim {
                                agent: victim,
                                claimed_at: 0,
                                epoch: 0,
                            },
                        )
                    }),
                ),
                _ => (
                    DocId::Team(team),
                    Box::new(move |d| {
                        doc::team::set_role(d, &device, meshdesk_model::Role::Supervisor)
                    }),
                ),
            };
        let node = &mut self.nodes[x];
        match node.store.write_doc(&doc_id, false, edit) {
            Ok(change) => {
                self.stats.forbidden += 1;
                self.spread(x, None, &[change])
            }
            // Not here yet (a document still arriving): nothing written.
            Err(_) => Ok(()),
        }
    }

    fn pick(&mut self, from: &[String]) -> Option<String> {
        if from.is_empty() {
            return None;
        }
        Some(from[self.rng.random_range(0..from.len())].clone())
    }

    fn chaos_step(&mut self) -> SimResult<()> {
        let dt = self.rng.random_range(1..40);
        self.advance(dt);
        let n = self.nodes.len();
        if self.rng.random_bool(self.cfg.partition) {
            let a = self.rng.random_range(0..n);
            let b = self.rng.random_range(0..n);
            if a != b {
                if self.connected(a, b) {
                    self.stats.partitions += 1;
                    self.disconnect(a, b);
                } else {
                    self.connect(a, b)?;
                }
            }
        }
        if self.rng.random_bool(self.cfg.op) {
            self.random_op()?;
        }
        let busy = self.busy_wires();
        if !busy.is_empty() {
            let (from, to) = busy[self.rng.random_range(0..busy.len())];
            self.deliver(from, to)?;
        }
        if self.rng.random_bool(0.05) {
            self.tick_all()?;
        }
        Ok(())
    }

    /// Moves the simulated time on (every store's clock with it).
    /// The links with frames on their way, as `(from, to)`.
    fn busy_wires(&self) -> Vec<(usize, usize)> {
        self.wires
            .iter()
            .filter(|(_, w)| !w.is_empty())
            .map(|(k, _)| *k)
            .collect()
    }

    fn advance(&mut self, ms: Millis) {
        self.now += ms;
        self.clock.set(self.now);
    }

    fn quiet(&self) -> bool {
        self.wires.values().all(VecDeque::is_empty)
            && self
                .nodes
                .iter()
                .all(|n| n.sessions.values().all(|(_, s)| s.is_idle()))
    }

    /// Runs the chaos phase, heals the network and runs until quiet.
    pub fn run(&mut self) -> SimResult<()> {
        for _ in 0..self.cfg.steps {
            self.chaos_step()?;
        }
        self.faults = false;
        let n = self.nodes.len();
        // Joiners first, then everyone with everyone.
        for round in 0..2 {
            for a in 0..n {
                for b in a + 1..n {
                    self.connect(a, b)?;
                }
            }
            self.settle(30_000)?;
            if round == 0 {
                for x in 0..n {
                    let peers: Vec<usize> = self.nodes[x].sessions.keys().copied().collect();
                    for p in peers {
                        let now = self.now;
                        let node = &mut self.nodes[x];
                        let Some((_, s)) = node.sessions.get_mut(&p) else {
                            continue;
                        };
                        let step = s.resync(&mut node.store, now).map_err(|e| e.to_string())?;
                        self.apply(x, p, step)?;
                    }
                }
            }
        }
        self.settle(30_000)
    }

    fn settle(&mut self, max_steps: usize) -> SimResult<()> {
        for _ in 0..max_steps {
            let busy = self.busy_wires();
            if busy.is_empty() {
                if self.quiet() {
                    return Ok(());
                }
                self.advance(1_000);
                self.tick_all()?;
                continue;
            }
            self.advance(1);
            let (from, to) = busy[self.rng.random_range(0..busy.len())];
            self.deliver(from, to)?;
        }
        Err(format!(
            "the network did not become quiet:\n{}",
            self.describe()
        ))
    }

    fn describe(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for (p, (conn, sess)) in &n.sessions {
                out.push_str(&format!(
                    "node {i} → {p} conn {conn}: {}\n",
                    sess.debug_state()
                ));
            }
        }
        for line in &self.trace {
            out.push_str(line);
            out.push('\n');
        }
        for ((a, b), w) in &self.wires {
            let kinds: Vec<&str> = w.iter().take(12).map(|(_, f)| f.kind()).collect();
            if !w.is_empty() {
                out.push_str(&format!("wire {a}→{b}: {} frames {kinds:?}\n", w.len()));
            }
        }
        out
    }

    /// Checks that every honest node holds the same documents at the same
    /// heads and the same projections, and that nothing the misbehaving
    /// member forged reached any of them.
    pub fn check_converged(&mut self) -> SimResult<()> {
        let mut reference: Option<Snapshot> = None;
        for (i, node) in self.nodes.iter().enumerate() {
            if node.local.agent.is_none() {
                return Err(format!("node {i} never joined"));
            }
            if let Some(bad) = self.cfg.misbehaving {
                if i == bad {
                    continue;
                }
                let team = node
                    .store
                    .team()
                    .map_err(|e| e.to_string())?
                    .ok_or(format!("node {i} lost its team"))?;
                let role = team.members.get(&device(bad)).map(|m| m.role);
                if role != Some(meshdesk_model::Role::Agent) {
                    return Err(format!("node {i} sees the misbehaving member as {role:?}"));
                }
                let dump = node.store.projection_dump().map_err(|e| e.to_string())?;
                let forged = dump.iter().any(|(_, row)| holds_forged_text(row));
                if forged {
                    return Err(format!("a forged message reached node {i}"));
                }
            }
            let digests = node.store.catalog_digests().map_err(|e| e.to_string())?;
            let dump = node.store.projection_dump().map_err(|e| e.to_string())?;
            match &reference {
                None => reference = Some((digests, dump)),
                Some((d, p)) => {
                    if *d != digests {
                        let ids0 = self.nodes[0].store.doc_ids().map_err(|e| e.to_string())?;
                        let ids = node.store.doc_ids().map_err(|e| e.to_string())?;
                        return Err(format!(
                            "node {i} holds other heads than node 0 ({} vs {} documents)",
                            ids.len(),
                            ids0.len()
                        ));
                    }
                    if *p != dump {
                        let diff = p.iter().zip(dump.iter()).position(|(a, b)| a != b);
                        return Err(format!(
                            "node {i} has other projections than node 0 (first difference at row {diff:?})"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// A digest of the run so far: every frame delivered (in order, with
    /// its link), then for every node every stored document's id and saved
    /// bytes, its catalog digests, its projection rows and its sessions'
    /// states. Two runs of one seed and config give the same fingerprint.
    pub fn fingerprint(&mut self) -> SimResult<[u8; 32]> {
        let mut h = self.delivered.clone();
        h.update(format!("{:?}", self.stats).as_bytes());
        for node in &mut self.nodes {
            h.update(b"node");
            for doc_id in node.store.doc_ids().map_err(|e| e.to_string())? {
                let bytes = node
                    .store
                    .doc_bytes(&doc_id)
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default();
                h.update(doc_id.as_bytes());
                h.update(&(bytes.len() as u64).to_le_bytes());
                h.update(&bytes);
            }
            for digest in node.store.catalog_digests().map_err(|e| e.to_string())? {
                h.update(&digest);
            }
            for (key, row) in node.store.projection_dump().map_err(|e| e.to_string())? {
                h.update(key.as_bytes());
                h.update(&row);
            }
            for (peer, (conn, session)) in &node.sessions {
                h.update(format!("{peer} {conn} {}", session.debug_state()).as_bytes());
            }
        }
        Ok(*h.finalize().as_bytes())
    }

    pub fn doc_count(&self) -> usize {
        self.nodes
            .first()
            .and_then(|n| n.store.doc_ids().ok())
            .map_or(0, |v| v.len())
    }
}

/// Whether a projection row holds the forged message's text.
fn holds_forged_text(row: &[u8]) -> bool {
    row.windows(b"forged refund".len())
        .any(|w| w == b"forged refund")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(cfg: SimConfig, seed: u64) -> Result<SimStats, String> {
        let mut sim = Sim::new(cfg, seed)?;
        sim.run()?;
        sim.check_converged()?;
        assert!(sim.doc_count() > 2, "the simulation made no documents");
        Ok(sim.stats.clone())
    }

    /// The config `any_seed_converges` runs its parameters with.
    fn proptest_config(nodes: usize, drop: f64, partition: f64, misbehave: bool) -> SimConfig {
        SimConfig {
            nodes,
            steps: 300,
            drop,
            partition,
            misbehaving: misbehave.then_some(1),
            ..SimConfig::default()
        }
    }

    /// Runs a seed to the end, checks it converged, and digests the run.
    fn fingerprint(cfg: SimConfig, seed: u64) -> Result<[u8; 32], String> {
        let mut sim = Sim::new(cfg, seed)?;
        sim.run()?;
        sim.check_converged()?;
        sim.fingerprint()
    }

    #[test]
    fn one_seed_replays_bit_for_bit() -> Result<(), String> {
        // Every fault, and a member writing what the rules forbid.
        let cfg = SimConfig {
            nodes: 3,
            steps: 400,
            drop: 0.15,
            partition: 0.05,
            op: 0.3,
            misbehaving: Some(2),
            ..SimConfig::default()
        };
        let first = fingerprint(cfg.clone(), 42)?;
        assert_eq!(
            first,
            fingerprint(cfg.clone(), 42)?,
            "seed 42 ran differently twice"
        );
        // The digest covers the run: another seed gives another one.
        assert_ne!(first, fingerprint(cfg, 43)?);
        Ok(())
    }

    /// Issue 11: one CI run of `any_seed_converges` ended quiet with two
    /// nodes holding different heads for one document. Its seed and
    /// parameters, replayed (the issue did not say whether the member
    /// misbehaved: both).
    #[test]
    fn issue_11_seed_converges() -> Result<(), String> {
        for misbehave in [false, true] {
            let cfg = proptest_config(2, 0.1389, 0.0173, misbehave);
            run(cfg, 6_625_760_133_273_806_332)
                .map_err(|e| format!("misbehaving {misbehave}: {e}"))?;
        }
        Ok(())
    }

    /// A seed `any_seed_converges` drew: the misbehaving member joined
    /// through one peer, received documents from another before the team's
    /// document and held them for it; the team then came through the first
    /// peer, and the second session waited for it for ever, never idle.
    #[test]
    fn documents_held_for_the_team_are_asked_for_once_it_comes_through_another_peer()
    -> Result<(), String> {
        let cfg = proptest_config(3, 0.17855879377993125, 0.04662352808189152, true);
        run(cfg, 2_488_532_013_753_440_686).map(|_| ())
    }

    /// Runs `request` on node `x` and pushes what it changed to its peers.
    fn op_on(sim: &mut Sim, x: usize, request: Request) -> Result<Reply, String> {
        let ctx = Context {
            now: sim.now,
            presence: None,
        };
        let outcome =
            ops::execute(&mut sim.nodes[x].store, &ctx, request).map_err(|e| e.to_string())?;
        sim.spread(x, None, &outcome.changes)?;
        Ok(outcome.reply)
    }

    /// Delivers everything on the wire `from → to`, in order.
    fn drain(sim: &mut Sim, from: usize, to: usize) -> Result<(), String> {
        while sim.wires.get(&(from, to)).is_some_and(|w| !w.is_empty()) {
            sim.deliver(from, to)?;
        }
        Ok(())
    }

    /// Issue 11's gap, played step by step: node 0 pushes an edit (m1),
    /// node 1 takes it and ends the exchange (`SyncDone`); before that
    /// answer arrives node 0 pushes a second edit (m2), which is lost. The
    /// answer to m1 then ends node 0's exchange, while Automerge's state
    /// still has m2 in flight and node 1's state says node 0 is at its
    /// heads: neither side had anything to say, so every later catalog
    /// round found the document different and the run went quiet with two
    /// heads. A document a round queues must start an exchange.
    #[test]
    fn an_edit_lost_behind_an_ended_exchange_is_synced_by_the_next_round() -> Result<(), String> {
        let cfg = SimConfig {
            nodes: 2,
            ..SimConfig::default()
        };
        let mut sim = Sim::new(cfg, 5)?;
        sim.faults = false;
        sim.settle(10_000)?;
        let Reply::Created { id } = op_on(
            &mut sim,
            0,
            Request::AddContact(ContactSpec {
                name: Some("Ada".into()),
                ..ContactSpec::default()
            }),
        )?
        else {
            return Err("no contact created".into());
        };
        sim.settle(10_000)?;
        let edit = |company: &str| Request::EditContact {
            id: id.parse().expect("an id"),
            changes: ContactSpec {
                company: Some(company.into()),
                ..ContactSpec::default()
            },
        };
        op_on(&mut sim, 0, edit("First"))?;
        drain(&mut sim, 0, 1)?; // m1 lands; node 1's `SyncDone` waits on its wire
        op_on(&mut sim, 0, edit("Second"))?;
        let lost = sim
            .wires
            .get_mut(&(0, 1))
            .map(std::mem::take)
            .unwrap_or_default();
        assert_eq!(lost.len(), 1, "m2 should be the one frame in transit");
        drain(&mut sim, 1, 0)?; // the answer to m1 ends node 0's exchange
        // Quiet, and the heads differ: the next anti-entropy round (both
        // sides compare catalogs) must sync them.
        sim.settle(10_000)?;
        assert!(sim.check_converged().is_err(), "m2 was not lost");
        sim.advance(session_cfg().anti_entropy_interval);
        let rounds = sim.stats.delivered;
        sim.tick_all()?;
        sim.settle(10_000)?;
        assert!(sim.stats.delivered > rounds, "no catalog round ran");
        sim.check_converged()
    }

    #[test]
    fn reliable_network_converges() -> Result<(), String> {
        let cfg = SimConfig {
            drop: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            partition: 0.0,
            ..SimConfig::default()
        };
        let stats = run(cfg, 1)?;
        assert_eq!(stats.joins, 2);
        assert!(
            stats.whole_docs > 0,
            "no document was sent whole: {stats:?}"
        );
        Ok(())
    }

    #[test]
    fn lossy_partitioned_network_converges() -> Result<(), String> {
        let stats = run(
            SimConfig {
                nodes: 4,
                steps: 600,
                ..SimConfig::default()
            },
            7,
        )?;
        assert!(
            stats.dropped > 0 && stats.duplicated > 0 && stats.reordered > 0,
            "{stats:?}"
        );
        Ok(())
    }

    /// A longer soak: `cargo test -p meshdesk-sync soak -- --ignored` (SIM_SEEDS=n).
    #[test]
    #[ignore]
    fn soak_many_seeds() -> Result<(), String> {
        let seeds: u64 = std::env::var("SIM_SEEDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200);
        let first: u64 = std::env::var("SIM_FIRST")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        for seed in first..first + seeds {
            let nodes = 2 + (seed % 4) as usize;
            let cfg = SimConfig {
                nodes,
                steps: 500,
                drop: 0.15,
                partition: 0.05,
                misbehaving: (seed % 2 == 1).then_some(1),
                ..SimConfig::default()
            };
            run(cfg, seed).map_err(|e| format!("seed {seed}: {e}"))?;
        }
        Ok(())
    }

    #[test]
    fn a_misbehaving_member_changes_nothing_on_honest_nodes() -> Result<(), String> {
        let stats = run(
            SimConfig {
                nodes: 3,
                steps: 600,
                op: 0.3,
                misbehaving: Some(1),
                ..SimConfig::default()
            },
            11,
        )?;
        assert!(stats.forbidden > 3, "{stats:?}");
        Ok(())
    }

    proptest! {
        // Each run draws new cases; the simulation is deterministic, so the
        // seed and parameters a failure prints replay it exactly.
        #![proptest_config(ProptestConfig {
            cases: 12,
            ..ProptestConfig::default()
        })]
        #[test]
        fn any_seed_converges(seed in any::<u64>(), nodes in 2usize..5, drop in 0.0f64..0.2, partition in 0.0f64..0.05, misbehave in any::<bool>()) {
            let cfg = proptest_config(nodes, drop, partition, misbehave);
            let result = run(cfg, seed);
            prop_assert!(result.is_ok(), "seed {}: {:?}", seed, result.err());
        }
    }
}
