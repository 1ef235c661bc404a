//! The webchat under load, over real HTTP and WebSockets on 127.0.0.1,
//! served as `meshdesk node --http` serves it: through the gateway's
//! `NodeBackend` to a real `sync::Node` (its actor, routing and durable
//! redb store), listening on loopback.
//!
//! - `visitor_message_to_pending`: from a visitor's first message (POST
//!   /chat/<campaign>/start) to the interaction listed in the hosting node's
//!   Pending projection. Median and tail are printed from every iteration.
//! - `concurrent_visitors`: 200 visitors at once, each starting a chat,
//!   holding a WebSocket and sending 20 messages in all; checks that every
//!   message is stored exactly once and pushed back to its own page exactly
//!   once, and prints the throughput.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::{SinkExt, StreamExt};
use meshdesk_channels::NodeBackend;
use meshdesk_channels::{HttpConfig, Rate, Server, serve};
use meshdesk_model::ops::{CampaignSpec, Client, Context, InteractionRow, Reply, Request, Tab};
use meshdesk_model::store::Store;
use meshdesk_model::{AgentStatus, Author, ChannelKind, Strategy};
use meshdesk_sync::node::{Node, NodeConfig, NodeHandle};
use meshdesk_sync::{identity, team};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const CAMPAIGN: &str = "Support";
const VISITORS: usize = 200;
const MESSAGES_PER_VISITOR: usize = 20;

struct Bench {
    _dir: tempfile::TempDir,
    node: NodeHandle,
    backend: NodeBackend,
    server: Server,
    http: reqwest::Client,
}

impl Bench {
    async fn shut_down(self) {
        self.server.shutdown().await;
        if let Err(e) = self.node.shutdown().await {
            eprintln!("node shutdown: {e}");
        }
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A team created on a fresh data dir, its node started on loopback, the
/// gateways served through it.
async fn setup() -> Bench {
    let dir = tempfile::tempdir().expect("tempdir");
    let keypair = identity::load_or_create(dir.path()).expect("identity");
    let mut store = Store::open(
        dir.path().join("meshdesk.redb"),
        identity::device_key(&keypair).expect("device key"),
    )
    .expect("store");
    let create = Request::CreateTeam {
        team_name: "Bench".into(),
        agent_name: "Alice".into(),
        device_name: "bench".into(),
    };
    meshdesk_model::ops::execute(&mut store, &Context::now(), create).expect("team");
    let psk = team::create_team_key(dir.path()).expect("team key");
    let mut node_config = NodeConfig::new(dir.path(), store, keypair, psk);
    node_config.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")];
    node_config.mdns = false;
    let (node, _events) = Node::start(node_config).await.expect("node");
    let backend = NodeBackend::new(node.clone());
    let requests = [
        Request::SetStatus {
            status: AgentStatus::Available,
        },
        Request::AddCampaign(CampaignSpec::new(
            CAMPAIGN,
            ChannelKind::Webchat,
            Strategy::RingAll,
        )),
    ];
    for r in requests {
        backend.call(r).await.expect("set-up");
    }
    let mut config = HttpConfig::new(dir.path());
    // The limits are per visitor and per address; every bench visitor is 127.0.0.1.
    config.visitor_starts = Rate::new(1_000_000, 1_000_000.0);
    config.visitor_messages = Rate::new(1_000, 1_000.0);
    // Every bench client is 127.0.0.1: ~200 sockets and as many pooled connections.
    config.max_connections = 2_000;
    config.max_connections_per_address = 2_000;
    config.max_sockets = 2_000;
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let server = serve(addr, backend.clone(), config).await.expect("serve");
    Bench {
        _dir: dir,
        node,
        backend,
        server,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(VISITORS)
            .build()
            .expect("client"),
    }
}

async fn start_chat(b: &Bench, name: &str, text: &str) -> (String, String) {
    let r = b
        .http
        .post(format!("{}/chat/{CAMPAIGN}/start", b.server.url()))
        .json(&json!({"name": name, "text": text}))
        .send()
        .await
        .expect("start");
    assert_eq!(r.status(), 201, "start refused");
    let v: Value = r.json().await.expect("json");
    (
        v["token"].as_str().expect("token").to_string(),
        v["interaction"].as_str().expect("id").to_string(),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn visitor_message_to_pending(c: &mut Criterion) {
    let rt = runtime();
    let bench = rt.block_on(setup());
    let samples: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut group = c.benchmark_group("webchat");
    group.sample_size(50);
    let mut n = 0u64;
    group.bench_function("visitor_message_to_pending", |bencher| {
        bencher.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let t0 = Instant::now();
                    let (_, id) = start_chat(&bench, &format!("Visitor {n}"), "Hello there").await;
                    // Until the node's Pending projection lists it.
                    loop {
                        let rows: Vec<InteractionRow> = bench
                            .backend
                            .ask(Request::ListInteractions {
                                tab: Tab::Pending,
                                search: None,
                                limit: None,
                                history: Default::default(),
                            })
                            .await
                            .expect("pending");
                        if rows.iter().any(|r| r.summary.id.to_string() == id) {
                            break;
                        }
                    }
                    let elapsed = t0.elapsed();
                    total += elapsed;
                    if let Ok(mut s) = samples.lock() {
                        s.push(elapsed);
                    }
                    // Not timed: the agent takes and closes it, so the queue stays short.
                    bench
                        .backend
                        .call(Request::Accept {
                            id: id.parse().expect("an id"),
                        })
                        .await
                        .expect("accept");
                    bench
                        .backend
                        .call(Request::Finalize {
                            id: id.parse().expect("an id"),
                            disposition: "Resolved".into(),
                            note: None,
                        })
                        .await
                        .expect("finalize");
                }
                total
            })
        })
    });
    group.finish();
    let mut all = samples.lock().map(|s| s.clone()).unwrap_or_default();
    all.sort();
    eprintln!(
        "webchat/visitor_message_to_pending: {} samples, median {:.2?}, p90 {:.2?}, p99 {:.2?}",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.9),
        percentile(&all, 0.99)
    );
    rt.block_on(bench.shut_down());
}

/// One visitor: start, hold a socket, send the rest, wait for every echo.
/// Returns the interaction id and the message bodies the page received.
async fn visitor(b: Arc<Bench>, v: usize) -> (String, Vec<String>) {
    let first = format!("v{v} m0");
    let (token, id) = start_chat(&b, &format!("Visitor {v}"), &first).await;
    let url = format!("ws://{}/chat/{CAMPAIGN}/ws", b.server.local_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    ws.send(WsMessage::text(
        json!({"type": "hello", "token": token}).to_string(),
    ))
    .await
    .expect("hello");
    let mut received: Vec<String> = Vec::new();
    let reader = async {
        while received.len() < MESSAGES_PER_VISITOR {
            let frame = tokio::time::timeout(Duration::from_secs(60), ws.next())
                .await
                .expect("frames keep coming")
                .expect("socket open")
                .expect("frame");
            let WsMessage::Text(text) = frame else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).expect("json");
            match v["type"].as_str() {
                Some("transcript") => {
                    for m in v["messages"].as_array().expect("messages") {
                        received.push(m["body"].as_str().unwrap_or_default().to_string());
                    }
                }
                Some("message") => {
                    received.push(
                        v["message"]["body"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    );
                }
                _ => {}
            }
        }
    };
    let writer = async {
        for m in 1..MESSAGES_PER_VISITOR {
            let r = b
                .http
                .post(format!("{}/chat/{CAMPAIGN}/messages", b.server.url()))
                .bearer_auth(&token)
                .json(&json!({"text": format!("v{v} m{m}")}))
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 201, "message refused");
        }
    };
    tokio::join!(reader, writer);
    let _ = ws.close(None).await;
    (id, received)
}

fn concurrent_visitors(c: &mut Criterion) {
    let rt = runtime();
    let bench = Arc::new(rt.block_on(setup()));
    let total_messages = (VISITORS * MESSAGES_PER_VISITOR) as u64;
    let runs: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut group = c.benchmark_group("webchat");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(total_messages));
    group.bench_function("200_visitors_x_20_messages", |bencher| {
        bencher.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t0 = Instant::now();
                    let tasks: Vec<_> = (0..VISITORS)
                        .map(|v| tokio::spawn(visitor(bench.clone(), v)))
                        .collect();
                    let mut pages = Vec::with_capacity(VISITORS);
                    for t in tasks {
                        pages.push(t.await.expect("visitor task"));
                    }
                    let elapsed = t0.elapsed();
                    total += elapsed;
                    if let Ok(mut r) = runs.lock() {
                        r.push(elapsed);
                    }
                    check(&bench, pages).await;
                }
                total
            })
        })
    });
    group.finish();
    let mut all = runs.lock().map(|r| r.clone()).unwrap_or_default();
    all.sort();
    let median = percentile(&all, 0.5);
    eprintln!(
        "webchat/200_visitors_x_20_messages: {} runs, median {:.2?} per run = {:.0} messages/s \
         ({} visitors x {} messages, each stored once and pushed to its page once)",
        all.len(),
        median,
        total_messages as f64 / median.as_secs_f64().max(f64::EPSILON),
        VISITORS,
        MESSAGES_PER_VISITOR
    );
    if let Ok(b) = Arc::try_unwrap(bench) {
        rt.block_on(b.shut_down());
    }
}

/// Nothing lost, nothing duplicated: in the store and on every page.
async fn check(b: &Bench, pages: Vec<(String, Vec<String>)>) {
    let mut seen_ids = HashMap::new();
    for (v_index, (id, received)) in pages.into_iter().enumerate() {
        assert!(
            seen_ids.insert(id.clone(), ()).is_none(),
            "one interaction per visitor"
        );
        let v = received
            .first()
            .and_then(|b| b.split(' ').next())
            .map(str::to_string)
            .unwrap_or_default();
        let expected: Vec<String> = (0..MESSAGES_PER_VISITOR)
            .map(|m| format!("{v} m{m}"))
            .collect();
        let mut got = received.clone();
        got.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(got, want, "page of visitor {v_index}: every message once");
        let Ok(Reply::Interaction(d)) = b
            .backend
            .call(Request::ShowInteraction {
                id: id.parse().expect("an id"),
            })
            .await
        else {
            panic!("interaction missing");
        };
        let mut stored: Vec<String> = d
            .interaction
            .messages
            .iter()
            .filter(|m| m.author == Author::Contact)
            .map(|m| m.body.clone())
            .collect();
        stored.sort();
        assert_eq!(
            stored, want,
            "store of visitor {v_index}: every message once"
        );
    }
}

criterion_group!(benches, visitor_message_to_pending, concurrent_visitors);
criterion_main!(benches);
