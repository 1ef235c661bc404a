//! A file between two nodes (issue 12): a 5 MB file sent in a message on A
//! until B can open it, on the full stack (two nodes in one process over
//! loopback TCP with pnet, noise and yamux, real redb stores and blob
//! folders). Each sample is a new file (fresh random bytes), so B never
//! has it before: the time covers A storing it (hash, write, fsync), the
//! message's durable commit, its sync to B, B fetching the 5 MB over the
//! file protocol, checking its blake3 and storing it, and reading it back
//! checked.
//!
//! `cargo bench -p meshdesk-sync --bench files`.

/// The allocator the `meshdesk` binary runs on (see `app/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use meshdesk_model::blobs::{Attachment, BlobHash};
use meshdesk_model::doc::DocId;
use meshdesk_model::ops::{Reply, Request};
use meshdesk_model::store::Store;
use meshdesk_model::{ChannelKind, InteractionId};
use meshdesk_sync::join::{JoinArgs, join_team};
use meshdesk_sync::{Event, Node, NodeConfig, NodeHandle, identity, team};
use tokio::sync::broadcast;

type R<T> = Result<T, Box<dyn std::error::Error>>;

const FILE_BYTES: usize = 5 * 1000 * 1000;

fn loopback() -> Multiaddr {
    Multiaddr::empty()
        .with(Protocol::Ip4(std::net::Ipv4Addr::LOCALHOST))
        .with(Protocol::Tcp(0))
}

fn store_in(dir: &Path) -> R<Store> {
    Ok(Store::open(
        dir.join(meshdesk_sync::home::STORE_FILE),
        identity::load_device_key(dir)?,
    )?)
}

async fn start_node(dir: &Path) -> R<(NodeHandle, broadcast::Receiver<Event>)> {
    let keypair = identity::load_or_create(dir)?;
    let psk = team::load_team_key(dir)?.ok_or("no team key")?;
    let mut config = NodeConfig::new(dir, store_in(dir)?, keypair, psk);
    config.listen = vec![loopback()];
    config.mdns = false;
    config.control_socket = false;
    Ok(Node::start(config).await?)
}

async fn wait_for(
    events: &mut broadcast::Receiver<Event>,
    mut pred: impl FnMut(&Event) -> bool,
) -> R<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(e)) if pred(&e) => return Ok(()),
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err("timed out".into()),
        }
    }
}

/// Two nodes of one team, connected and caught up, and an interaction on A.
struct Pair {
    _root: tempfile::TempDir,
    a: NodeHandle,
    b: NodeHandle,
    b_events: broadcast::Receiver<Event>,
    id: InteractionId,
}

async fn pair() -> R<Pair> {
    let root = tempfile::tempdir()?;
    let (a_dir, b_dir) = (root.path().join("a"), root.path().join("b"));
    std::fs::create_dir_all(&a_dir)?;
    identity::load_or_create(&a_dir)?;
    {
        let (node, _) =
            meshdesk_sync::home::open(&a_dir, meshdesk_sync::home::OpenOptions::offline()).await?;
        node.execute(Request::CreateTeam {
            team_name: "Bench".into(),
            agent_name: "Ana".into(),
            device_name: "a".into(),
        })
        .await?;
        node.shutdown().await?;
    }
    let (a, _a_events) = start_node(&a_dir).await?;
    let code = a.invite(600_000, 1).await?;
    std::fs::create_dir_all(&b_dir)?;
    identity::load_or_create(&b_dir)?;
    join_team(
        JoinArgs {
            data_dir: b_dir.clone(),
            store: store_in(&b_dir)?,
            keypair: identity::load_or_create(&b_dir)?,
            invite: code,
            agent_name: "Bruno".into(),
            device_name: "b".into(),
            listen: vec![loopback()],
            peers: vec![],
            connect_timeout: Duration::from_secs(30),
        },
        |_| {},
    )
    .await?;
    let (b, mut b_events) = start_node(&b_dir).await?;
    wait_for(&mut b_events, |e| matches!(e, Event::CaughtUp { .. })).await?;
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
    let id: InteractionId = id.parse()?;
    let doc = DocId::Interaction(id);
    wait_for(
        &mut b_events,
        |e| matches!(e, Event::Changed { changes } if changes.iter().any(|c| c.doc_id == doc)),
    )
    .await?;
    Ok(Pair {
        _root: root,
        a,
        b,
        b_events,
        id,
    })
}

/// Fresh bytes that do not compress.
fn random_file(seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(FILE_BYTES);
    while bytes.len() < FILE_BYTES {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(FILE_BYTES);
    bytes
}

/// One file sent on A until B has opened it, checked.
async fn send_once(pair: &mut Pair, bytes: Vec<u8>) -> R<Duration> {
    while pair.b_events.try_recv().is_ok() {}
    let doc = DocId::Interaction(pair.id);
    let start = Instant::now();
    let size = bytes.len() as u64;
    let hash = pair.a.put_file(bytes).await?;
    pair.a
        .execute(Request::SendFiles {
            id: pair.id,
            text: String::new(),
            files: vec![Attachment {
                hash,
                size,
                mime: "application/octet-stream".into(),
                name: "bench.bin".into(),
            }],
            customer: false,
        })
        .await?;
    wait_for(
        &mut pair.b_events,
        |e| matches!(e, Event::Changed { changes } if changes.iter().any(|c| c.doc_id == doc)),
    )
    .await?;
    let opened = pair.b.file_bytes(hash).await?;
    let took = start.elapsed();
    if BlobHash::of(&opened) != hash || opened.len() as u64 != size {
        return Err("B opened other bytes".into());
    }
    Ok(took)
}

fn bench_files(c: &mut Criterion) {
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let mut pair = match runtime.block_on(pair()) {
        Ok(p) => p,
        Err(e) => panic!("two nodes: {e}"),
    };
    let mut group = c.benchmark_group("files");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Bytes(FILE_BYTES as u64));
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    group.bench_function("5 MB file from A until B opens it (loopback)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                seed = seed.wrapping_add(0x2545_f491_4f6c_dd1d);
                let bytes = random_file(seed);
                match runtime.block_on(send_once(&mut pair, bytes)) {
                    Ok(took) => total += took,
                    Err(e) => panic!("a file did not arrive: {e}"),
                }
            }
            total
        })
    });
    group.finish();
    let Pair { a, b, .. } = pair;
    runtime.block_on(async {
        let _ = a.shutdown().await;
        let _ = b.shutdown().await;
    });
}

criterion_group!(benches, bench_files);
criterion_main!(benches);
