//! Outgoing webhooks, delivered to a receiver started by the test on 127.0.0.1.

mod common;

use meshdesk_model::store::Replication;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::*;
use hmac::{KeyInit, Mac};
use meshdesk_channels::SettingsFile;
use meshdesk_channels::webhook;
use meshdesk_model::authorship::DeviceKey;
use meshdesk_model::doc::{self, DocId};
use meshdesk_model::ops::{self, Context, Reply, Request};
use meshdesk_model::store::{DocEdit, LocalIdentity, Store};
use meshdesk_model::{Agent, AgentId, AgentStatus, Member, Role, now_ms};
use serde_json::{Value, json};

#[derive(Clone, Debug)]
struct Delivery {
    event: String,
    delivery: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    answered: u16,
}

#[derive(Clone, Default)]
struct Receiver {
    /// Answer 500 to this many requests first.
    failures_left: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    fn deliveries(&self) -> Vec<Delivery> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn delivered(&self) -> Vec<Delivery> {
        self.deliveries()
            .into_iter()
            .filter(|d| d.answered == 200)
            .collect()
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let fail = r
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    if let Ok(mut seen) = r.seen.lock() {
        seen.push(Delivery {
            event: header(&headers, "x-meshdesk-event"),
            delivery: header(&headers, "x-meshdesk-delivery"),
            timestamp: header(&headers, "x-meshdesk-timestamp"),
            signature: header(&headers, "x-meshdesk-signature"),
            body: body.to_vec(),
            answered: status.as_u16(),
        });
    }
    status
}

async fn start_receiver(failures: usize) -> (Receiver, SocketAddr, tokio::task::JoinHandle<()>) {
    let receiver = Receiver::default();
    receiver.failures_left.store(failures, Ordering::SeqCst);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (receiver, addr, task)
}

/// The signature as a receiver computes it, independently of the crate's helper.
fn expected_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sets the webhook, the receiver's loopback address allow-listed as a
/// supervisor would (webhooks to local addresses are refused otherwise).
async fn set_hook(env: &Env, token: &str, url: &str) -> String {
    env.allow_webhook_host("127.0.0.1");
    let r = env
        .http
        .put(env.url(&format!("/api/v1/campaigns/{WEBCHAT}/webhook")))
        .bearer_auth(token)
        .json(&json!({"url": url}))
        .send()
        .await
        .expect("put webhook");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    v["secret"].as_str().expect("secret").to_string()
}

async fn visitor(env: &Env) -> String {
    visitor_with_token(env).await.0
}

/// A visitor starts a chat: its interaction id and the visitor's token.
async fn visitor_with_token(env: &Env) -> (String, String) {
    let r = env
        .http
        .post(env.url(&format!("/chat/{WEBCHAT}/start")))
        .json(&json!({"name": "Wes", "text": "hello"}))
        .send()
        .await
        .expect("start");
    let v: Value = r.json().await.expect("json");
    let id = v["interaction"].as_str().expect("id").to_string();
    let token = v["token"].as_str().expect("token").to_string();
    (id, token)
}

#[tokio::test]
async fn agent_messages_and_finalize_are_signed_and_retried_after_a_500() {
    let env = env().await;
    let token = env.token("hooks");
    let (receiver, addr, _task) = start_receiver(1).await;
    let secret = set_hook(&env, &token, &format!("http://{addr}/hook")).await;
    let id = visitor(&env).await;

    env.agent_reply(&id, "Hi Wes, Alice here").await;
    let delivered = eventually(10, "the retried delivery", || {
        let r = receiver.clone();
        async move { r.delivered().first().cloned() }
    })
    .await;
    let all = receiver.deliveries();
    assert_eq!(all[0].answered, 500, "the first attempt was refused");
    assert_eq!(
        all[0].delivery, delivered.delivery,
        "the retry is the same event"
    );
    assert_eq!(all[0].body, delivered.body, "with the same body");
    assert_eq!(delivered.event, "message.created");

    // The signature checks out, computed independently, and with the helper.
    assert_eq!(
        delivered.signature,
        expected_signature(&secret, &delivered.timestamp, &delivered.body)
    );
    let now = meshdesk_model::now_ms() / 1000;
    assert!(webhook::verify(
        &secret,
        &delivered.timestamp,
        &delivered.body,
        &delivered.signature,
        now,
        Duration::from_secs(300)
    ));
    assert!(!webhook::verify(
        "wrong-secret-0123456789",
        &delivered.timestamp,
        &delivered.body,
        &delivered.signature,
        now,
        Duration::from_secs(300)
    ));

    let payload: Value = serde_json::from_slice(&delivered.body).expect("json payload");
    assert_eq!(payload["type"], "message.created");
    assert_eq!(payload["id"], delivered.delivery.as_str());
    assert_eq!(payload["campaign"]["name"], WEBCHAT);
    assert_eq!(payload["interaction"]["id"], id.as_str());
    assert_eq!(payload["interaction"]["contact_name"], "Wes");
    assert_eq!(payload["message"]["body"], "Hi Wes, Alice here");
    assert_eq!(payload["message"]["agent_name"], "Alice");

    // Customer messages are not sent; finalize is.
    env.finalize(&id).await;
    let finalized = eventually(10, "the finalize event", || {
        let r = receiver.clone();
        async move {
            r.delivered()
                .into_iter()
                .find(|d| d.event == "interaction.finalized")
        }
    })
    .await;
    let payload: Value = serde_json::from_slice(&finalized.body).expect("json");
    assert_eq!(payload["finalized"]["disposition"], "Resolved");
    assert_eq!(payload["finalized"]["note"], "done");
    assert_eq!(
        finalized.signature,
        expected_signature(&secret, &finalized.timestamp, &finalized.body)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = receiver.delivered();
    assert_eq!(delivered.len(), 2, "each event once: {delivered:?}");
    assert!(
        !delivered
            .iter()
            .any(|d| String::from_utf8_lossy(&d.body).contains("\"hello\"")),
        "customer messages are not webhook events"
    );
}

#[tokio::test]
async fn undelivered_events_are_kept_across_restarts() {
    let mut env = env().await;
    let token = env.token("hooks");
    // Nothing listens on this port yet: every attempt fails to connect.
    let spare = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = spare.local_addr().expect("addr");
    drop(spare);
    set_hook(&env, &token, &format!("http://{addr}/hook")).await;
    let id = visitor(&env).await;
    env.agent_reply(&id, "are you still there?").await;

    // Wait until the outbox holds it and an attempt has failed, then restart.
    let db_path = env.dir.path().to_path_buf();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let server = env.server.take().expect("server");
    server.shutdown().await;
    {
        let db = meshdesk_channels::db::ChannelDb::open(&db_path).expect("open state");
        assert_eq!(
            db.pending().expect("pending"),
            1,
            "the event waits in the outbox"
        );
        let due = db.due(i64::MAX, 10).expect("due");
        assert!(due[0].1.attempts >= 1, "{:?}", due[0].1);
        assert!(due[0].1.last_error.is_some());
    }

    // The receiver comes up on that port; the next server delivers.
    let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    let _task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let config = config(&env.dir);
    env.restart(config).await;
    let delivered = eventually(15, "delivery after restart", || {
        let r = receiver.clone();
        async move { r.delivered().first().cloned() }
    })
    .await;
    let payload: Value = serde_json::from_slice(&delivered.body).expect("json");
    assert_eq!(payload["message"]["body"], "are you still there?");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.delivered().len(), 1);
    let hooks = SettingsFile::in_dir(env.dir.path())
        .list_webhooks()
        .expect("hooks");
    assert_eq!(hooks.len(), 1);
}

#[tokio::test]
async fn events_before_the_webhook_was_set_are_not_sent() {
    let env = env().await;
    let token = env.token("hooks");
    let id = visitor(&env).await;
    env.agent_reply(&id, "old news").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (receiver, addr, _task) = start_receiver(0).await;
    set_hook(&env, &token, &format!("http://{addr}/hook")).await;
    env.call(meshdesk_model::ops::Request::Send {
        id: id.parse().expect("an id"),
        text: "fresh".into(),
    })
    .await;
    let first = eventually(10, "the new message", || {
        let r = receiver.clone();
        async move { r.delivered().first().cloned() }
    })
    .await;
    let payload: Value = serde_json::from_slice(&first.body).expect("json");
    assert_eq!(payload["message"]["body"], "fresh");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.delivered().len(), 1);
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused_at_delivery_for_good() {
    let mut env = env().await;
    let token = env.token("hooks");
    let (receiver, addr, _task) = start_receiver(0).await;
    // Allowed when set; then the supervisor takes `localhost` off the list,
    // as when a public name starts resolving into the LAN (DNS rebinding).
    env.allow_webhook_host("localhost");
    let url = format!("http://localhost:{}/hook", addr.port());
    let r = env
        .http
        .put(env.url(&format!("/api/v1/campaigns/{WEBCHAT}/webhook")))
        .bearer_auth(&token)
        .json(&json!({ "url": url }))
        .send()
        .await
        .expect("put webhook");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert!(
        SettingsFile::in_dir(env.dir.path())
            .disallow_webhook_host("localhost")
            .expect("disallow")
    );
    let id = visitor(&env).await;
    env.agent_reply(&id, "nobody on this machine hears this")
        .await;

    let db_path = env.dir.path().to_path_buf();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        receiver.deliveries().is_empty(),
        "nothing reached the receiver"
    );
    let server = env.server.take().expect("server");
    server.shutdown().await;
    let db = meshdesk_channels::db::ChannelDb::open(&db_path).expect("open state");
    assert_eq!(db.pending().expect("pending"), 0, "not retried");
    let failed = db.failed().expect("failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    let error = failed[0].last_error.clone().unwrap_or_default();
    assert!(
        error.contains("loopback") && error.contains("webhook_allow_hosts"),
        "{error}"
    );
}

/// A teammate's device: a store of its own (its own key, its own agent),
/// admitted to the team by the supervisor's store and holding a copy of
/// its documents, as a first sync leaves it.
fn teammate(sup: &mut Store, name: &str, campaign: &str) -> (tempfile::TempDir, Store) {
    let key = DeviceKey::generate();
    let agent = AgentId::new();
    let now = now_ms();
    let team = sup.team().expect("team").expect("a team");
    let campaign = team.campaign_by_name(campaign).expect("the campaign").id;
    let member = Member {
        device: key.device(),
        agent,
        role: Role::Agent,
        device_name: format!("{name}-laptop"),
        joined_at: now,
        revoked: false,
        revoked_at: None,
    };
    let profile = Agent {
        id: agent,
        name: name.into(),
        status: AgentStatus::Available,
        status_since: now,
        capacity: 0,
        status_history: vec![],
    };
    sup.write_many(vec![
        DocEdit::new(DocId::Agent(agent), true, move |d| {
            doc::agent::create(d, &profile)
        }),
        DocEdit::new(DocId::Team(team.id), false, move |d| {
            doc::team::add_member(d, &member)?;
            doc::team::add_campaign_member(d, campaign, agent)
        }),
    ])
    .expect("admit the teammate");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path().join("teammate.redb"), key.clone()).expect("open");
    store
        .set_identity(&LocalIdentity {
            team: team.id,
            agent,
            device: key.device(),
        })
        .expect("identity");
    let ids = sup.doc_ids().expect("ids");
    let raw = sup.raw_doc_bytes(&ids, usize::MAX).expect("raw");
    let imported = store
        .import_docs(
            "supervisor",
            raw.into_iter().map(|d| (d.doc_id, d.bytes)).collect(),
        )
        .expect("import");
    assert!(imported.refused.is_empty(), "{:?}", imported.refused);
    (dir, store)
}

/// Runs the real sync exchange of every document from `from` into `to`
/// until it is quiet.
fn sync_into(from: &mut Store, to: &mut Store) {
    for doc in from.doc_ids().expect("ids") {
        for _ in 0..8 {
            let mut quiet = true;
            if let Some(m) = from.generate_sync_message("to", &doc).expect("gen") {
                quiet = false;
                let got = to
                    .receive_sync_messages("from", &[(doc.clone(), m)])
                    .expect("receive");
                assert!(got.refused.is_empty(), "{:?}", got.refused);
            }
            if let Some(m) = to.generate_sync_message("from", &doc).expect("gen") {
                quiet = false;
                from.receive_sync_messages("to", &[(doc.clone(), m)])
                    .expect("receive");
            }
            if quiet {
                break;
            }
        }
    }
}

fn run(store: &mut Store, request: Request) -> Reply {
    match ops::execute(store, &Context::now(), request.clone()) {
        Ok(outcome) => outcome.reply,
        Err(e) => panic!("{request:?} failed: {e}"),
    }
}

fn deliveries_of(receiver: &Receiver, body: &str) -> Vec<Delivery> {
    receiver
        .delivered()
        .into_iter()
        .filter(|d| {
            serde_json::from_slice::<Value>(&d.body).is_ok_and(|v| v["message"]["body"] == body)
        })
        .collect()
}

#[tokio::test]
async fn a_teammates_reply_while_the_gateway_was_down_is_delivered_once() {
    let mut env = env().await;
    let token = env.token("hooks");
    let (receiver, addr, _task) = start_receiver(0).await;
    set_hook(&env, &token, &format!("http://{addr}/hook")).await;
    let id = visitor(&env).await;

    // The gateway (and, to write into its store, the node) stops.
    let server = env.server.take().expect("server");
    server.shutdown().await;
    env.backend.shutdown().await;

    // Meanwhile Bob, on his own laptop, takes the chat and answers; his
    // change reaches this device by sync, as the node would receive it.
    let path = env.dir.path().join(STORE_FILE);
    {
        let mut store = Store::open(&path, env.key.clone()).expect("reopen the store");
        let (_bob_dir, mut bob) = teammate(&mut store, "Bob", WEBCHAT);
        run(
            &mut bob,
            Request::Accept {
                id: id.parse().expect("an id"),
            },
        );
        run(
            &mut bob,
            Request::Send {
                id: id.parse().expect("an id"),
                text: "Bob here, sorting it out".into(),
            },
        );
        sync_into(&mut bob, &mut store);
    }

    // The gateway comes back: the reply is delivered, once.
    env.backend = common::open(&env.dir).await;
    env.restart(config(&env.dir)).await;
    let delivered = eventually(15, "Bob's reply after the restart", || {
        let r = receiver.clone();
        async move {
            deliveries_of(&r, "Bob here, sorting it out")
                .first()
                .cloned()
        }
    })
    .await;
    let payload: Value = serde_json::from_slice(&delivered.body).expect("json");
    assert_eq!(payload["message"]["agent_name"], "Bob");
    assert_eq!(payload["interaction"]["id"], id.as_str());
    assert_eq!(
        delivered.delivery,
        payload["id"].as_str().unwrap_or_default()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        deliveries_of(&receiver, "Bob here, sorting it out").len(),
        1,
        "delivered exactly once"
    );

    // Another restart after the delivery sends nothing again.
    let before = receiver.deliveries().len();
    env.restart(config(&env.dir)).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(receiver.deliveries().len(), before, "nothing sent twice");
}

/// Internal notes stay inside the team: the visitor's live socket, the
/// transcript they reload and the integrations' webhooks never carry one.
#[tokio::test]
async fn an_internal_note_reaches_neither_the_visitor_nor_a_webhook() {
    const NOTE: &str = "Internal: customer-is-difficult-7f3";
    let env = env().await;
    let token = env.token("hooks");
    let (receiver, addr, _task) = start_receiver(0).await;
    set_hook(&env, &token, &format!("http://{addr}/hook")).await;
    let (id, visitor_token) = visitor_with_token(&env).await;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(env.ws_url(&format!("/chat/{WEBCHAT}/ws")))
            .await
            .expect("the visitor's socket");
    {
        use futures::SinkExt;
        socket
            .send(tokio_tungstenite::tungstenite::Message::text(
                json!({"type": "hello", "token": visitor_token}).to_string(),
            ))
            .await
            .expect("hello");
    }

    env.call(Request::AddNote {
        id: id.parse().expect("an id"),
        text: NOTE.into(),
    })
    .await;
    env.agent_reply(&id, "After the note").await;
    // The note is stored, for the team.
    match env
        .call(Request::ShowInteraction {
            id: id.parse().expect("an id"),
        })
        .await
    {
        Reply::Interaction(d) => assert_eq!(d.interaction.notes[0].text, NOTE),
        other => panic!("{other:?}"),
    }

    // The reply written after the note is delivered: the note went nowhere.
    eventually(10, "the reply's webhook", || {
        let r = receiver.clone();
        async move {
            r.delivered()
                .into_iter()
                .find(|d| String::from_utf8_lossy(&d.body).contains("After the note"))
        }
    })
    .await;
    for d in receiver.deliveries() {
        assert!(
            !String::from_utf8_lossy(&d.body).contains("customer-is-difficult"),
            "a webhook carried the note: {}",
            String::from_utf8_lossy(&d.body)
        );
    }
    let mut seen = Vec::new();
    let mut got_reply = false;
    while !got_reply {
        use futures::StreamExt;
        let next = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("the visitor's socket went quiet before the reply")
            .expect("the socket closed")
            .expect("a frame");
        let text = next.into_text().map(|t| t.to_string()).unwrap_or_default();
        got_reply = text.contains("After the note");
        seen.push(text);
    }
    assert!(
        !seen.iter().any(|f| f.contains("customer-is-difficult")),
        "the visitor's socket carried the note: {seen:?}"
    );
    let transcript = env
        .http
        .get(env.url(&format!("/chat/{WEBCHAT}/transcript")))
        .bearer_auth(&visitor_token)
        .send()
        .await
        .expect("transcript")
        .text()
        .await
        .expect("text");
    assert!(transcript.contains("After the note"), "{transcript}");
    assert!(
        !transcript.contains("customer-is-difficult"),
        "{transcript}"
    );
}
