//! The webchat's endpoints and WebSocket over real HTTP on 127.0.0.1.

mod common;

use std::time::Duration;

use common::*;
use futures::{SinkExt, StreamExt};
use meshdesk_channels::{Backend, Typing, Typist};
use meshdesk_model::InteractionId;
use meshdesk_model::ops::{Client, Reply, Request};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn start(env: &Env, name: &str, email: Option<&str>, text: &str) -> (StatusCode, Value) {
    let r = env
        .http
        .post(env.url(&format!("/chat/{WEBCHAT}/start")))
        .json(&json!({"name": name, "email": email, "text": text}))
        .send()
        .await
        .expect("start");
    let status = r.status();
    (status, r.json().await.expect("json"))
}

async fn say(env: &Env, token: &str, text: &str) -> (StatusCode, Value) {
    let r = env
        .http
        .post(env.url(&format!("/chat/{WEBCHAT}/messages")))
        .bearer_auth(token)
        .json(&json!({"text": text}))
        .send()
        .await
        .expect("say");
    let status = r.status();
    (status, r.json().await.expect("json"))
}

async fn connect(env: &Env, token: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(env.ws_url(&format!("/chat/{WEBCHAT}/ws")))
        .await
        .expect("ws connect");
    ws.send(WsMessage::text(
        json!({"type": "hello", "token": token}).to_string(),
    ))
    .await
    .expect("hello");
    ws
}

/// The next JSON object from the socket (skipping pings), within 5 s.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .expect("frame");
        if let WsMessage::Text(text) = frame {
            return serde_json::from_str(&text).expect("json frame");
        }
    }
}

/// Reads frames until one of type `kind`.
async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    for _ in 0..20 {
        let v = next(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
    panic!("no `{kind}` frame");
}

#[tokio::test]
async fn widget_page_and_assets_are_served_safely() {
    let env = env().await;
    let r = env
        .http
        .get(env.url(&format!("/chat/{WEBCHAT}")))
        .send()
        .await
        .expect("page");
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("csp")
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(
        r.headers()
            .get("x-content-type-options")
            .map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    let html = r.text().await.expect("html");
    assert!(html.contains("/webchat/widget.js"));
    let js = env
        .http
        .get(env.url("/webchat/widget.js"))
        .send()
        .await
        .expect("js");
    assert!(
        js.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/javascript"))
    );
    let js = js.text().await.expect("js");
    assert!(!js.contains("innerHTML"), "the widget never renders markup");
    let css = env
        .http
        .get(env.url("/webchat/widget.css"))
        .send()
        .await
        .expect("css");
    assert_eq!(css.status(), StatusCode::OK);

    // Unknown campaigns, and campaigns on another channel, have no chat.
    for campaign in ["Nope", PHONE, API] {
        for suffix in ["", "/info"] {
            let r = env
                .http
                .get(env.url(&format!("/chat/{campaign}{suffix}")))
                .send()
                .await
                .expect("page");
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{campaign}{suffix}");
            let v: Value = r.json().await.expect("json error");
            assert!(v["error"].is_string());
        }
    }
    // A plain GET of the socket endpoint is a JSON error, not a crash.
    let r = env
        .http
        .get(env.url(&format!("/chat/{WEBCHAT}/ws")))
        .send()
        .await
        .expect("ws without upgrade");
    assert!(r.status().is_client_error());
    let v: Value = r.json().await.expect("json error");
    assert!(v["error"].is_string());
    let r = env
        .http
        .post(env.url("/chat/Nope/start"))
        .json(&json!({"name": "A", "text": "hi"}))
        .send()
        .await
        .expect("start");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_visitor_chats_live_with_an_agent() {
    let env = env().await;
    let (status, started) =
        start(&env, "Vera", Some("vera@example.com"), "Hello <i>there</i>").await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let token = started["token"].as_str().expect("token").to_string();
    let id = started["interaction"].as_str().expect("id").to_string();
    assert!(env.pending_ids().await.contains(&id), "queued in Pending");

    // The contact was created with the email, and a second chat with it matches.
    let detail = match env
        .call(Request::ShowInteraction {
            id: id.parse().expect("an id"),
        })
        .await
    {
        Reply::Interaction(d) => d,
        other => panic!("{other:?}"),
    };
    let contact = detail.contact.expect("a contact");
    assert_eq!(contact.name, "Vera");
    assert_eq!(contact.emails, vec!["vera@example.com".to_string()]);
    assert_eq!(
        detail.interaction.channel,
        meshdesk_model::ChannelKind::Webchat
    );
    let (_, again) = start(&env, "Vera B.", Some("VERA@example.com"), "second chat").await;
    let again_id = again["interaction"].as_str().expect("id").to_string();
    match env
        .call(Request::ShowInteraction {
            id: again_id.parse().expect("an id"),
        })
        .await
    {
        Reply::Interaction(d) => assert_eq!(d.contact.map(|c| c.id), Some(contact.id)),
        other => panic!("{other:?}"),
    }

    let mut ws = connect(&env, &token).await;
    let transcript = next_of(&mut ws, "transcript").await;
    assert_eq!(transcript["state"], "waiting");
    assert_eq!(transcript["messages"][0]["body"], "Hello <i>there</i>");
    assert_eq!(transcript["messages"][0]["author"], "visitor");

    // The visitor's own message comes back over the socket.
    let (status, _) = say(&env, &token, "Are you there?").await;
    assert_eq!(status, StatusCode::CREATED);
    let echoed = next_of(&mut ws, "message").await;
    assert_eq!(echoed["message"]["body"], "Are you there?");

    // The agent joins, types, answers.
    env.call(Request::Accept {
        id: id.parse().expect("an id"),
    })
    .await;
    let joined = next_of(&mut ws, "agent-joined").await;
    assert_eq!(joined["name"], "Alice");
    let agent = match env.call(Request::ShowStatus).await {
        Reply::Status(a) => a.id,
        other => panic!("{other:?}"),
    };
    let interaction: InteractionId = id.parse().expect("id");
    env.backend.typing(Typing {
        interaction,
        who: Typist::Agent(agent),
    });
    let typing = next_of(&mut ws, "typing").await;
    assert_eq!(typing["name"], "Alice");
    env.call(Request::Send {
        id: id.parse().expect("an id"),
        text: "Yes! How can I help?".into(),
    })
    .await;
    let reply = next_of(&mut ws, "message").await;
    assert_eq!(reply["message"]["author"], "agent");
    assert_eq!(reply["message"]["name"], "Alice");
    assert_eq!(reply["message"]["body"], "Yes! How can I help?");

    // The visitor's typing reaches the node's event stream.
    let mut events = env.backend.events();
    ws.send(WsMessage::text(json!({"type": "typing"}).to_string()))
        .await
        .expect("typing");
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(meshdesk_channels::Event::Typing(t)) = events.recv().await {
                return t;
            }
        }
    })
    .await
    .expect("visitor typing event");
    assert_eq!(seen.who, Typist::Visitor);
    assert_eq!(seen.interaction, interaction);

    // A reload: the transcript endpoint and a new socket have it all.
    let r = env
        .http
        .get(env.url(&format!("/chat/{WEBCHAT}/transcript")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("transcript");
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.expect("json");
    assert_eq!(t["state"], "active");
    assert_eq!(t["agent"], "Alice");
    assert_eq!(t["messages"].as_array().map(Vec::len), Some(3));
    let mut ws2 = connect(&env, &token).await;
    let t2 = next_of(&mut ws2, "transcript").await;
    assert_eq!(t2["messages"].as_array().map(Vec::len), Some(3));

    // Finalize: the page is told, and the visitor can write no more.
    env.finalize(&id).await;
    next_of(&mut ws, "closed").await;
    next_of(&mut ws2, "closed").await;
    let (status, v) = say(&env, &token, "one more thing").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let r = env
        .http
        .get(env.url(&format!("/chat/{WEBCHAT}/transcript")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("transcript");
    let t: Value = r.json().await.expect("json");
    assert_eq!(t["state"], "closed");
}

#[tokio::test]
async fn visitors_need_their_own_token() {
    let env = env().await;
    let (_, a) = start(&env, "A", None, "hi").await;
    let token = a["token"].as_str().expect("token").to_string();
    // No token, garbage, a forged signature.
    let forged = format!("{}.{}", InteractionId::new(), "00".repeat(32));
    for bad in [None, Some("garbage"), Some(forged.as_str())] {
        let mut r = env
            .http
            .post(env.url(&format!("/chat/{WEBCHAT}/messages")))
            .json(&json!({"text": "x"}));
        if let Some(t) = bad {
            r = r.bearer_auth(t);
        }
        let r = r.send().await.expect("send");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad:?}");
        let v: Value = r.json().await.expect("json");
        assert!(v["error"].is_string());
        let mut r = env
            .http
            .get(env.url(&format!("/chat/{WEBCHAT}/transcript")));
        if let Some(t) = bad {
            r = r.bearer_auth(t);
        }
        assert_eq!(
            r.send().await.expect("send").status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // A socket with a bad token is told so and closed.
    let mut ws = connect(&env, "garbage").await;
    let v = next(&mut ws).await;
    assert_eq!(v["type"], "error");

    // Bad input is 400 naming the field.
    let r = env
        .http
        .post(env.url(&format!("/chat/{WEBCHAT}/start")))
        .json(&json!({"name": "", "text": "hi"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["field"], "name");
    let r = env
        .http
        .post(env.url(&format!("/chat/{WEBCHAT}/start")))
        .json(&json!({"name": "B", "email": "nope", "text": "hi"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["field"], "email");
    let (status, v) = say(&env, &token, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "text");
    let r = env
        .http
        .post(env.url(&format!("/chat/{WEBCHAT}/messages")))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"text\": ")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = env
        .http
        .post(env.url(&format!("/chat/{WEBCHAT}/messages")))
        .bearer_auth(&token)
        .json(&json!({"text": "z".repeat(300 * 1024)}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Over the message length but under the body limit: a 400 naming the field.
    let (status, v) = say(&env, &token, &"z".repeat(80 * 1024)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "text");
}

#[tokio::test]
async fn visitors_are_rate_limited() {
    let env = env_with(|c| {
        c.visitor_messages = meshdesk_channels::Rate::new(3, 0.5);
        c.visitor_starts = meshdesk_channels::Rate::new(2, 0.01);
    })
    .await;
    let (_, a) = start(&env, "A", None, "hi").await;
    let (_, b) = start(&env, "B", None, "hi").await;
    let (status, v) = start(&env, "C", None, "hi").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(v["error"].is_string());
    let a = a["token"].as_str().expect("token").to_string();
    let b = b["token"].as_str().expect("token").to_string();
    for n in 0..3 {
        let (status, _) = say(&env, &a, &format!("a{n}")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let r = env
        .http
        .post(env.url(&format!("/chat/{WEBCHAT}/messages")))
        .bearer_auth(&a)
        .json(&json!({"text": "too many"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    // Another visitor is not affected.
    let (status, _) = say(&env, &b, "b").await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn conversations_survive_a_server_restart() {
    let mut env = env().await;
    let (_, a) = start(&env, "A", None, "before restart").await;
    let token = a["token"].as_str().expect("token").to_string();
    let id = a["interaction"].as_str().expect("id").to_string();
    let config = config(&env.dir);
    env.restart(config).await;
    let (status, _) = say(&env, &token, "after restart").await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the visitor token outlives the server"
    );
    env.agent_reply(&id, "welcome back").await;
    let mut ws = connect(&env, &token).await;
    let t = next_of(&mut ws, "transcript").await;
    let bodies: Vec<&str> = t["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(bodies, ["before restart", "after restart", "welcome back"]);
}

/// Reads until the server closes the socket (skipping pings), within `secs`;
/// the text frames seen on the way.
async fn until_closed(ws: &mut Ws, secs: u64) -> Vec<Value> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("still open after {secs} s; saw {seen:?}"));
        match frame {
            Some(Ok(WsMessage::Text(text))) => {
                seen.push(serde_json::from_str(&text).expect("json frame"));
            }
            Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return seen,
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_visitor_may_open_only_a_few_sockets() {
    let env = env_with(|c| c.max_sockets_per_visitor = 2).await;
    let (_, started) = start(&env, "Wes", None, "hello").await;
    let token = started["token"].as_str().expect("token").to_string();
    let mut first = connect(&env, &token).await;
    assert_eq!(next(&mut first).await["type"], "transcript");
    let mut second = connect(&env, &token).await;
    assert_eq!(next(&mut second).await["type"], "transcript");

    let mut third = connect(&env, &token).await;
    let seen = until_closed(&mut third, 5).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["type"], "error");
    let error = seen[0]["error"].as_str().expect("error");
    assert!(error.contains("too many windows"), "{error}");
    assert!(
        !error.contains("token"),
        "the widget would forget its session on an error naming the token"
    );

    // Another visitor is not affected, and a closed window frees its place.
    let (_, other) = start(&env, "Ann", None, "hi").await;
    let mut other = connect(&env, other["token"].as_str().expect("token")).await;
    assert_eq!(next(&mut other).await["type"], "transcript");
    first.close(None).await.expect("close");
    drop(first);
    eventually(5, "a freed place", || {
        let env = &env;
        let token = token.clone();
        async move {
            let mut again = connect(env, &token).await;
            (next(&mut again).await["type"] == "transcript").then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn live_chat_sockets_are_capped_in_total() {
    let env = env_with(|c| c.max_sockets = 2).await;
    let mut open = Vec::new();
    for name in ["A", "B"] {
        let (_, s) = start(&env, name, None, "hi").await;
        let mut ws = connect(&env, s["token"].as_str().expect("token")).await;
        assert_eq!(next(&mut ws).await["type"], "transcript");
        open.push(ws);
    }
    let refused =
        tokio_tungstenite::connect_async(env.ws_url(&format!("/chat/{WEBCHAT}/ws"))).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503);
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    // The page still works over plain HTTP.
    let page = env
        .http
        .get(env.url(&format!("/chat/{WEBCHAT}")))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_socket_that_answers_nothing_is_closed() {
    let env = env_with(|c| c.socket_idle_timeout = Duration::from_millis(400)).await;
    let (_, s) = start(&env, "Wes", None, "hello").await;
    let token = s["token"].as_str().expect("token").to_string();
    let mut ws = connect(&env, &token).await;
    assert_eq!(next(&mut ws).await["type"], "transcript");
    // Not reading means not answering the server's pings.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    until_closed(&mut ws, 3).await;
}

#[tokio::test]
async fn an_interaction_takes_only_so_many_customer_messages() {
    let env = env_with(|c| c.max_messages_per_interaction = 3).await;
    let (_, s) = start(&env, "Wes", None, "one").await;
    let token = s["token"].as_str().expect("token").to_string();
    let id = s["interaction"].as_str().expect("id").to_string();
    for text in ["two", "three"] {
        let (status, v) = say(&env, &token, text).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }
    let (status, v) = say(&env, &token, "four").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("limit of 3")),
        "{v}"
    );
    // The API is held to the same cap, and the agent can still answer.
    let api = env.token("crm");
    let r = env
        .http
        .post(env.url(&format!("/api/v1/interactions/{id}/messages")))
        .bearer_auth(&api)
        .json(&json!({"text": "five"}))
        .send()
        .await
        .expect("api message");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    env.agent_reply(&id, "we are on it").await;
    let d = env
        .backend
        .show_interaction(id.parse().expect("an id"))
        .await
        .expect("the interaction");
    let bodies: Vec<&str> = d
        .interaction
        .messages_in_order()
        .into_iter()
        .map(|m| m.body.as_str())
        .collect();
    assert_eq!(bodies, ["one", "two", "three", "we are on it"]);
}

#[tokio::test]
async fn a_visitor_giving_a_customers_email_is_linked_unverified_and_sees_nothing_stored() {
    let env = env().await;
    let token = env.token("integration");
    let marta = match env
        .call(Request::AddContact(meshdesk_model::ops::ContactSpec {
            name: Some("Marta Ortiz".into()),
            emails: Some(vec!["marta@example.com".into()]),
            phones: Some(vec!["+34 600 100 200".into()]),
            company: Some("Ortiz Logistics".into()),
            notes: Some("VIP; card ending 4242".into()),
            ..Default::default()
        }))
        .await
    {
        Reply::Created { id } => id,
        other => panic!("{other:?}"),
    };
    let stored = ["Marta", "Ortiz", "600", "4242", "VIP", "Logistics"];

    // Someone types Marta's email into the widget.
    let (status, started) = start(&env, "Eve", Some("MARTA@example.com"), "hi, it's me").await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let visitor = started["token"].as_str().expect("token").to_string();
    let id = started["interaction"].as_str().expect("id").to_string();

    // What the visitor can read names only what they typed.
    let r = env
        .http
        .get(env.url(&format!("/chat/{WEBCHAT}/transcript")))
        .bearer_auth(&visitor)
        .send()
        .await
        .expect("transcript");
    assert_eq!(r.status(), StatusCode::OK);
    let transcript: Value = r.json().await.expect("json");
    assert_eq!(transcript["visitor_name"], "Eve");
    let mut ws = connect(&env, &visitor).await;
    let live = next_of(&mut ws, "transcript").await;
    assert_eq!(live["visitor_name"], "Eve");
    for seen in [
        transcript.to_string(),
        live.to_string(),
        started.to_string(),
    ] {
        for word in stored {
            assert!(
                !seen.contains(word),
                "`{word}` shown to the visitor: {seen}"
            );
        }
    }

    // The agent sees the chat linked to Marta, marked unverified; the
    // phonebook is as it was (no new contact, nothing overwritten).
    let detail = match env
        .call(Request::ShowInteraction {
            id: id.parse().expect("an id"),
        })
        .await
    {
        Reply::Interaction(d) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        detail.interaction.contact.map(|c| c.to_string()),
        Some(marta.clone())
    );
    assert!(detail.interaction.contact_unverified);
    assert_eq!(detail.interaction.contact_name, "Eve");
    let r = env
        .http
        .get(env.url(&format!("/api/v1/interactions/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("api");
    let api: Value = r.json().await.expect("json");
    assert_eq!(api["contact_id"], marta.as_str());
    assert_eq!(api["contact_unverified"], true);
    match env
        .call(Request::ListContacts {
            search: None,
            limit: None,
        })
        .await
    {
        Reply::Contacts(all) => {
            assert_eq!(all.len(), 1, "{all:?}");
            assert_eq!(all[0].name, "Marta Ortiz");
        }
        other => panic!("{other:?}"),
    }

    // A visitor with an email nobody has is a new contact of their own, not
    // marked: there is nothing stored to protect.
    let (_, fresh) = start(&env, "Nadia", Some("nadia@example.com"), "hello").await;
    let fresh_id = fresh["interaction"].as_str().expect("id").to_string();
    match env
        .call(Request::ShowInteraction {
            id: fresh_id.parse().expect("an id"),
        })
        .await
    {
        Reply::Interaction(d) => {
            assert!(!d.interaction.contact_unverified);
            assert_eq!(d.contact.map(|c| c.name), Some("Nadia".to_string()));
        }
        other => panic!("{other:?}"),
    }
}
