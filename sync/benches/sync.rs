//! Sync benchmarks (issue 4), on the full stack: two nodes in one process
//! over loopback TCP with pnet, noise and yamux, real redb stores.
//!
//! 1. Propagation: a message sent on A until it is in B's projection
//!    (B's `Changed` event fires after the durable commit that updates the
//!    projections). Median and p99 over many messages.
//! 2. First full sync: an empty device joins a team of 10k interactions
//!    (10 messages each, one change per message) and syncs everything.
//! 3. Catch-up: B was offline while 100 interactions changed on A; time
//!    from B's node start until B is caught up, among 1k, 10k and 100k.
//!
//! 4. Relay: propagation as in 1, with A and B reachable only through a
//!    relay (`meshdesk relay`) on loopback, so every frame takes the relay path.
//!
//! `cargo bench -p meshdesk-sync --bench sync [-- propagation|full|catchup|relay]`.
//! Large stores are built once into `target/bench-data/` and reused.

/// The allocator the `meshdesk` binary runs on (see `app/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use meshdesk_model::store::Replication;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use meshdesk_model::doc::{self, DocId};
use meshdesk_model::ops::{self, Context, Reply, Request};
use meshdesk_model::store::{DocEdit, LocalIdentity, Store};
use meshdesk_model::*;
use meshdesk_sync::invite::InviteCode;
use meshdesk_sync::join::{JoinArgs, join_team};
use meshdesk_sync::{Event, Node, NodeConfig, NodeHandle, identity, team};
use tokio::sync::broadcast;

type R<T> = Result<T, Box<dyn std::error::Error>>;

const MESSAGES: usize = 10;
const BATCH: usize = 1_000;

fn bench_root() -> PathBuf {
    meshdesk_model::bench_data_dir()
}

fn store_file(dir: &Path) -> PathBuf {
    dir.join("store.redb")
}

fn loopback() -> Multiaddr {
    Multiaddr::empty()
        .with(Protocol::Ip4(std::net::Ipv4Addr::LOCALHOST))
        .with(Protocol::Tcp(0))
}

/// A new team in `dir` (device key, team key, store); returns the store.
fn create_team(dir: &Path) -> R<Store> {
    let keypair = identity::load_or_create(dir)?;
    let mut store = Store::open(store_file(dir), identity::device_key(&keypair)?)?;
    let request = Request::CreateTeam {
        team_name: "Bench".into(),
        agent_name: "Ana".into(),
        device_name: "a".into(),
    };
    ops::execute(&mut store, &Context::now(), request)?;
    team::create_team_key(dir)?;
    Ok(store)
}

/// A commit stamped with the time, as the store stamps its own: the write
/// rules refuse a claim dated after the change that carries it.
fn committed_now() -> automerge::transaction::CommitOptions {
    automerge::transaction::CommitOptions::default().with_time(now_ms() / 1000)
}

/// Adds `count` interactions of [`MESSAGES`] messages each (one change per message).
fn add_interactions(store: &mut Store, count: usize) -> R<()> {
    let me = store.identity()?.ok_or("no identity")?;
    let campaign = store
        .team()?
        .ok_or("no team")?
        .campaigns
        .keys()
        .next()
        .copied()
        .ok_or("no campaign")?;
    let now = now_ms();
    let mut edits = Vec::with_capacity(BATCH);
    for n in 0..count {
        let at = now - (count - n) as i64 * 60_000;
        let interaction = Interaction {
            id: InteractionId::new(),
            direction: Direction::Inbound,
            channel: ChannelKind::Phone,
            origin_campaign: campaign,
            contact: None,
            address: format!("+34 600 {n:06}"),
            contact_name: format!("Customer {n}"),
            contact_unverified: false,
            snooze: None,
            subject: "router question".into(),
            fields: BTreeMap::new(),
            priority: 0,
            enqueued_at: at,
            created_at: at,
            created_by: None,
            messages: vec![],
            claims: vec![Claim {
                agent: me.agent,
                claimed_at: at + 500,
                epoch: 0,
            }],
            declines: vec![],
            transfers: vec![],
            finalization: Some(Finalization {
                agent: me.agent,
                at: at + 20_000,
                disposition: "Resolved".into(),
                note: String::new(),
                wrapup_until: at + 20_000,
            }),
            notes: vec![],
            tags: BTreeSet::new(),
        };
        let agent = me.agent;
        edits.push(DocEdit::new(
            DocId::Interaction(interaction.id),
            true,
            move |d| {
                doc::interaction::create(d, &interaction)?;
                d.commit_with(committed_now());
                for k in 0..MESSAGES {
                    let m = Message {
                        attachments: Vec::new(),
                        id: MessageId::new(),
                        author: if k % 2 == 0 {
                            Author::Contact
                        } else {
                            Author::Agent(agent)
                        },
                        at: at + k as i64 * 1000,
                        body: format!(
                            "Message {k}: the customer asked about the router, we answered."
                        ),
                    };
                    doc::interaction::append_message(d, &m)?;
                    d.commit_with(committed_now());
                }
                Ok(())
            },
        ));
        if edits.len() == BATCH {
            store.write_many(std::mem::take(&mut edits))?;
        }
    }
    store.write_many(edits)?;
    Ok(())
}

fn interaction_ids(store: &Store) -> R<Vec<String>> {
    Ok(store
        .doc_ids()?
        .into_iter()
        .filter(|d| d.starts_with("interaction:"))
        .collect())
}

async fn start_node(
    dir: &Path,
    peers: Vec<Multiaddr>,
) -> R<(NodeHandle, broadcast::Receiver<Event>)> {
    start_node_on(dir, vec![loopback()], peers).await
}

/// [`start_node`] listening on `listen` (a relay's `…/p2p-circuit`: through it alone).
async fn start_node_on(
    dir: &Path,
    listen: Vec<Multiaddr>,
    peers: Vec<Multiaddr>,
) -> R<(NodeHandle, broadcast::Receiver<Event>)> {
    let keypair = identity::load_or_create(dir)?;
    let store = Store::open(
        store_file(dir),
        meshdesk_sync::identity::load_device_key(dir)?,
    )?;
    let psk = team::load_team_key(dir)?.ok_or("no team key")?;
    let mut config = NodeConfig::new(dir, store, keypair, psk);
    config.listen = listen;
    config.peers = peers;
    config.mdns = false;
    config.control_socket = false;
    Ok(Node::start(config).await?)
}

async fn address_of(node: &NodeHandle) -> R<Multiaddr> {
    let status = node.status().await?;
    let addr: Multiaddr = status
        .listen_addrs
        .first()
        .ok_or("not listening")?
        .parse()?;
    Ok(addr.with(Protocol::P2p(node.peer_id())))
}

async fn join(dir: &Path, code: &InviteCode, name: &str) -> R<()> {
    std::fs::create_dir_all(dir)?;
    let args = JoinArgs {
        data_dir: dir.to_path_buf(),
        store: Store::open(
            store_file(dir),
            meshdesk_sync::identity::load_device_key(dir)?,
        )?,
        keypair: identity::load_or_create(dir)?,
        invite: code.clone(),
        agent_name: name.into(),
        device_name: name.into(),
        listen: vec![loopback()],
        peers: vec![],
        connect_timeout: Duration::from_secs(30),
    };
    join_team(args, |_| {}).await?;
    Ok(())
}

async fn wait_for(
    events: &mut broadcast::Receiver<Event>,
    mut pred: impl FnMut(&Event) -> bool,
) -> R<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(e)) if pred(&e) => return Ok(()),
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err("timed out".into()),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Each run's time in seconds, for a report line.
fn seconds_of(times: &[Duration]) -> String {
    times
        .iter()
        .map(|t| format!("{:.2} s", t.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---- 1. propagation ---------------------------------------------------------

/// A relay (`meshdesk relay`) on loopback, in this process: its address.
async fn start_relay(root: &Path, team_key: &Path) -> R<Multiaddr> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = Multiaddr::empty()
        .with(Protocol::Ip4(std::net::Ipv4Addr::LOCALHOST))
        .with(Protocol::Tcp(port));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (dir, key) = (root.join("relay"), team_key.to_path_buf());
    // Loopback is no address a relay announces by itself: announce it.
    let announce = vec![listen.clone()];
    tokio::spawn(async move {
        let served = meshdesk_sync::relay::run_relay(&dir, &key, vec![listen], announce, |e| {
            if let meshdesk_sync::relay::RelayEvent::Listening(addr) = e {
                let _ = tx.send(addr);
            }
        })
        .await;
        if let Err(e) = served {
            eprintln!("the relay stopped: {e}");
        }
    });
    Ok(rx.recv().await.ok_or("the relay did not start")?)
}

async fn propagation(through_relay: bool) -> R<()> {
    let root = tempfile::tempdir()?;
    let (a_dir, b_dir) = (root.path().join("a"), root.path().join("b"));
    drop(create_team(&a_dir)?);
    // Through a relay, A and B listen on nothing but their slot on it.
    let listen = if through_relay {
        let relay = start_relay(root.path(), &a_dir.join(team::TEAM_KEY_FILE)).await?;
        vec![relay.with(Protocol::P2pCircuit)]
    } else {
        vec![loopback()]
    };
    let (a, _a_events) = start_node_on(&a_dir, listen.clone(), vec![]).await?;
    if through_relay {
        // The invite carries A's address through the relay once A holds a slot.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let code = a.invite(600_000, 1).await?;
    join(&b_dir, &code, "Bruno").await?;
    let (b, mut b_events) = start_node_on(&b_dir, listen, vec![]).await?;
    wait_for(&mut b_events, |e| matches!(e, Event::CaughtUp { .. })).await?;
    let path = if through_relay {
        "through a relay"
    } else {
        "direct"
    };
    let relayed = b.peers().await?.iter().all(|p| p.relayed);
    if relayed != through_relay {
        return Err(format!("the link is not {path}").into());
    }
    let created = a
        .execute(Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "General".into(),
            contact: None,
            to: Some("+34 600 000 001".into()),
            fields: BTreeMap::new(),
            message: Some("hello".into()),
        })
        .await?;
    let Reply::Created { id } = created else {
        return Err("no id".into());
    };
    let doc_id = DocId::Interaction(id.parse()?);
    let arrived = |e: &Event, doc: &DocId| matches!(e, Event::Changed { changes } if changes.iter().any(|c| c.doc_id == *doc));
    wait_for(&mut b_events, |e| arrived(e, &doc_id)).await?;
    let (warmup, samples) = (20, 300);
    let mut times = Vec::with_capacity(samples);
    let mut local = Vec::with_capacity(samples);
    for n in 0..warmup + samples {
        while b_events.try_recv().is_ok() {}
        let t0 = Instant::now();
        a.execute(Request::Send {
            id: id.parse().expect("an id"),
            text: format!("message {n}"),
        })
        .await?;
        let t1 = t0.elapsed();
        wait_for(&mut b_events, |e| arrived(e, &doc_id)).await?;
        if n >= warmup {
            times.push(t0.elapsed());
            local.push(t1);
        }
    }
    times.sort();
    local.sort();
    println!(
        "local send on A (durable, before it leaves A): median {}, p99 {}",
        ms(percentile(&local, 0.5)),
        ms(percentile(&local, 0.99))
    );
    println!(
        "propagation A→B ({path}, loopback, {samples} messages): median {}, p99 {}, min {}, max {}",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

// ---- 2. first full sync -------------------------------------------------------

/// A team of `count` interactions, built once. `with_b`: a second device B is
/// already on the roster (its key in `b/`), for catch-up runs.
fn master(name: &str, count: usize, with_b: bool) -> R<PathBuf> {
    let dir = bench_root().join(format!("sync-{name}-{count}-v3"));
    let done = dir.join("complete");
    if done.exists() {
        return Ok(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (a_dir, b_dir) = (dir.join("a"), dir.join("b"));
    eprintln!("building {count} interactions in {} …", dir.display());
    let t0 = Instant::now();
    let mut store = create_team(&a_dir)?;
    add_interactions(&mut store, count)?;
    if with_b {
        let keypair = identity::load_or_create(&b_dir)?;
        let device = identity::peer_id_string(&keypair);
        let me = store.identity()?.ok_or("no identity")?;
        let agent = Agent {
            id: AgentId::new(),
            name: "Bruno".into(),
            status: AgentStatus::Offline,
            status_since: now_ms(),
            capacity: 0,
            status_history: vec![],
        };
        let member = Member {
            device: device.clone(),
            agent: agent.id,
            role: Role::Agent,
            device_name: "b".into(),
            joined_at: now_ms(),
            revoked: false,
            revoked_at: None,
        };
        let b_identity = LocalIdentity {
            team: me.team,
            agent: agent.id,
            device,
        };
        store.write_many(vec![
            DocEdit::new(DocId::Agent(agent.id), true, move |d| {
                doc::agent::create(d, &agent)
            }),
            DocEdit::new(DocId::Team(me.team), false, move |d| {
                doc::team::add_member(d, &member)
            }),
        ])?;
        std::fs::write(
            b_dir.join("identity.json"),
            serde_json::to_vec(&b_identity)?,
        )?;
    }
    drop(store);
    std::fs::write(&done, b"")?;
    eprintln!("built in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(dir)
}

fn copy_dir(from: &Path, to: &Path) -> R<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

async fn full_sync() -> R<()> {
    let count = 10_000;
    let master = master("full", count, false)?;
    let root = tempfile::tempdir()?;
    let a_dir = root.path().join("a");
    copy_dir(&master.join("a"), &a_dir)?;
    let (a, _events) = start_node(&a_dir, vec![]).await?;
    let runs = 3;
    let code = a.invite(3_600_000, runs).await?;
    let mut times = Vec::new();
    let mut bytes = Vec::new();
    for run in 0..runs {
        let b_dir = root.path().join(format!("b{run}"));
        let before = a.status().await?;
        let t0 = Instant::now();
        join(&b_dir, &code, &format!("Joiner {run}")).await?;
        let elapsed = t0.elapsed();
        let after = a.status().await?;
        let b_store = Store::open(
            store_file(&b_dir),
            meshdesk_sync::identity::load_device_key(&b_dir)?,
        )?;
        let got = interaction_ids(&b_store)?.len();
        if got != count {
            return Err(format!("the joiner has {got} interactions, expected {count}").into());
        }
        times.push(elapsed);
        bytes.push((
            after.bytes_sent - before.bytes_sent,
            after.frames_sent - before.frames_sent,
        ));
    }
    times.sort();
    let (b, f) = bytes[0];
    println!(
        "first full sync of {count} interactions ({MESSAGES} messages each) to an empty node: median {:.2} s (runs: {}), {:.1} MB / {f} frames from the member",
        percentile(&times, 0.5).as_secs_f64(),
        seconds_of(&times),
        b as f64 / 1e6
    );
    a.shutdown().await?;
    Ok(())
}

/// The first start after an upgrade that changes the projections: every
/// document of the full-sync team judged and projected again.
fn rebuild() -> R<()> {
    let count = 10_000;
    let master = master("full", count, false)?;
    let key_dir = master.join("a");
    let mut times = Vec::new();
    for _ in 0..3 {
        let root = tempfile::tempdir()?;
        let copy = store_file(root.path());
        std::fs::copy(store_file(&key_dir), &copy)?;
        let mut store = Store::open(&copy, meshdesk_sync::identity::load_device_key(&key_dir)?)?;
        let t0 = Instant::now();
        store.rebuild_projections()?;
        times.push(t0.elapsed());
        if interaction_ids(&store)?.len() != count {
            return Err("the rebuild lost interactions".into());
        }
    }
    times.sort();
    println!(
        "projection rebuild of {count} interactions: median {:.2} s (runs: {})",
        percentile(&times, 0.5).as_secs_f64(),
        seconds_of(&times)
    );
    Ok(())
}

// ---- 3. catch-up ----------------------------------------------------------------

async fn catch_up(count: usize, runs: usize) -> R<()> {
    let changed = 100;
    let master = master("catchup", count, true)?;
    let mut times = Vec::new();
    let mut bytes = Vec::new();
    for _ in 0..runs {
        let root = tempfile::tempdir()?;
        let (a_dir, b_dir) = (root.path().join("a"), root.path().join("b"));
        copy_dir(&master.join("a"), &a_dir)?;
        copy_dir(&master.join("b"), &b_dir)?;
        // B's store is A's, as it was when B last synced, with B's identity.
        std::fs::copy(store_file(&a_dir), store_file(&b_dir))?;
        {
            let identity: LocalIdentity =
                serde_json::from_slice(&std::fs::read(b_dir.join("identity.json"))?)?;
            let mut b_store = Store::open(
                store_file(&b_dir),
                meshdesk_sync::identity::load_device_key(&b_dir)?,
            )?;
            b_store.set_identity(&identity)?;
        }
        std::fs::copy(
            a_dir.join(team::TEAM_KEY_FILE),
            b_dir.join(team::TEAM_KEY_FILE),
        )?;
        // While B is away, 100 interactions get a new message on A.
        {
            let mut a_store = Store::open(
                store_file(&a_dir),
                meshdesk_sync::identity::load_device_key(&a_dir)?,
            )?;
            let ids = interaction_ids(&a_store)?;
            let step = (ids.len() / changed).max(1);
            let edits = ids
                .iter()
                .step_by(step)
                .take(changed)
                .filter_map(|id| id.parse::<DocId>().ok())
                .map(|doc_id| {
                    DocEdit::new(doc_id, false, |d| {
                        let m = Message {
                            attachments: Vec::new(),
                            id: MessageId::new(),
                            author: Author::Contact,
                            at: now_ms(),
                            body: "Are you there? It is still broken.".into(),
                        };
                        doc::interaction::append_message(d, &m)
                    })
                })
                .collect();
            a_store.write_many(edits)?;
        }
        let (a, _a_events) = start_node(&a_dir, vec![]).await?;
        let a_addr = address_of(&a).await?;
        let before = a.status().await?;
        let t0 = Instant::now();
        let (b, mut b_events) = start_node(&b_dir, vec![a_addr]).await?;
        wait_for(&mut b_events, |e| matches!(e, Event::CaughtUp { .. })).await?;
        let elapsed = t0.elapsed();
        let after = a.status().await?;
        a.shutdown().await?;
        b.shutdown().await?;
        let (a_store, b_store) = (
            Store::open(
                store_file(&a_dir),
                meshdesk_sync::identity::load_device_key(&a_dir)?,
            )?,
            Store::open(
                store_file(&b_dir),
                meshdesk_sync::identity::load_device_key(&b_dir)?,
            )?,
        );
        if a_store.catalog_digests()? != b_store.catalog_digests()? {
            return Err("B did not converge with A".into());
        }
        times.push(elapsed);
        bytes.push(after.bytes_sent - before.bytes_sent);
    }
    times.sort();
    println!(
        "catch-up: {changed} changed among {count}: median {} (runs: {}), {:.1} kB from A",
        ms(percentile(&times, 0.5)),
        times.iter().map(|t| ms(*t)).collect::<Vec<_>>().join(", "),
        bytes[0] as f64 / 1e3
    );
    Ok(())
}

fn main() -> R<()> {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if wanted("propagation") {
            propagation(false).await?;
        }
        if wanted("relay") {
            propagation(true).await?;
        }
        if wanted("full") {
            full_sync().await?;
        }
        if wanted("rebuild") {
            rebuild()?;
        }
        if wanted("catchup") {
            let sizes: Vec<usize> = match std::env::var("CATCHUP_SIZES") {
                Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
                Err(_) => vec![1_000, 10_000, 100_000],
            };
            for size in sizes {
                catch_up(size, if size >= 100_000 { 2 } else { 3 }).await?;
            }
        }
        Ok(())
    })
}
