//! The REST API over real HTTP on 127.0.0.1: every endpoint and every error.

mod common;

use common::*;
use meshdesk_channels::SettingsFile;
use meshdesk_model::ops::{CannedSpec, Request};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn body(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, value)
}

fn error_of(v: &Value) -> &str {
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {v}"))
}

/// The OpenAPI document, fetched without a token.
async fn openapi(env: &Env) -> (StatusCode, Value) {
    body(
        env.http
            .get(env.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("openapi"),
    )
    .await
}

async fn create(env: &Env, token: &str, payload: Value) -> (StatusCode, Value) {
    body(
        env.http
            .post(env.url("/api/v1/interactions"))
            .bearer_auth(token)
            .json(&payload)
            .send()
            .await
            .expect("send"),
    )
    .await
}

#[tokio::test]
async fn create_read_and_message_interactions() {
    let env = env().await;
    let token = env.token("crm");

    let r = env
        .http
        .post(env.url("/api/v1/interactions"))
        .bearer_auth(&token)
        .json(&json!({
            "campaign": API,
            "contact": {"name": "Ana Lima", "email": "ana@example.com"},
            "message": "My order <b>42</b> is late",
            "priority": 1
        }))
        .send()
        .await
        .expect("send");
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("location header");
    let (status, created) = body(r).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(location, format!("/api/v1/interactions/{id}"));
    assert_eq!(created["state"], "queued");
    assert_eq!(created["campaign"], API);
    assert_eq!(created["contact_name"], "Ana Lima");
    assert_eq!(created["messages"][0]["author"], "customer");
    assert_eq!(created["messages"][0]["body"], "My order <b>42</b> is late");
    let contact_id = created["contact_id"].as_str().expect("contact").to_string();

    // The same email matches the same phonebook entry.
    let (status, second) = create(
        &env,
        &token,
        json!({"campaign": API, "contact": {"email": "ANA@example.com"}, "message": "again"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["contact_id"].as_str(), Some(contact_id.as_str()));
    // An existing contact by id.
    let (status, third) = create(
        &env,
        &token,
        json!({"campaign": API, "contact": {"id": contact_id}, "message": "third"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{third}");
    assert_eq!(third["contact_id"].as_str(), Some(contact_id.as_str()));

    // It is in Pending on the node.
    assert!(env.pending_ids().await.contains(&id));

    // Read it back.
    let (status, got) = body(
        env.http
            .get(env.url(&location))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["id"], id.as_str());

    // Post a customer message.
    let (status, after) = body(
        env.http
            .post(env.url(&format!("/api/v1/interactions/{id}/messages")))
            .bearer_auth(&token)
            .json(&json!({"text": "Any news?"}))
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{after}");
    let messages = after["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["body"], "Any news?");

    // Lists: all, and by state; search.
    let (status, all) = body(
        env.http
            .get(env.url("/api/v1/interactions"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["items"].as_array().map(Vec::len), Some(3));
    let (_, pending) = body(
        env.http
            .get(env.url("/api/v1/interactions?state=pending&limit=2"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(pending["items"].as_array().map(Vec::len), Some(2));
    env.agent_reply(&id, "On its way").await;
    let (_, active) = body(
        env.http
            .get(env.url("/api/v1/interactions?state=active"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list"),
    )
    .await;
    let active = active["items"].as_array().expect("items");
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["id"], id.as_str());
    assert_eq!(active[0]["owner_name"], "Alice");
    env.finalize(&id).await;
    let (_, history) = body(
        env.http
            .get(env.url("/api/v1/interactions?state=history&q=ana"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list"),
    )
    .await;
    let history = history["items"].as_array().expect("items");
    assert_eq!(history.len(), 1);
    let (_, detail) = body(
        env.http
            .get(env.url(&location))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(detail["finalized"]["disposition"], "Resolved");
    assert_eq!(detail["messages"][2]["author"], "agent");
    assert_eq!(detail["messages"][2]["agent_name"], "Alice");

    // A message to a finalized interaction is a conflict.
    let (status, v) = body(
        env.http
            .post(env.url(&format!("/api/v1/interactions/{id}/messages")))
            .bearer_auth(&token)
            .json(&json!({"text": "hello?"}))
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    error_of(&v);
}

#[tokio::test]
async fn contacts_and_campaigns_are_readable() {
    let env = env().await;
    let token = env.token("crm");
    let (_, created) = create(
        &env,
        &token,
        json!({"campaign": API, "contact": {"name": "Bruno", "phone": "+34 600 100 200"}, "message": "hi"}),
    )
    .await;
    let contact_id = created["contact_id"].as_str().expect("contact").to_string();
    // A phone that differs only in spacing matches the same contact.
    let (_, again) = create(
        &env,
        &token,
        json!({"campaign": API, "contact": {"phone": "+34600100200"}, "message": "hi"}),
    )
    .await;
    assert_eq!(again["contact_id"].as_str(), Some(contact_id.as_str()));

    let (status, list) = body(
        env.http
            .get(env.url("/api/v1/contacts?q=bruno"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("contacts"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["phones"][0], "+34 600 100 200");

    let (status, one) = body(
        env.http
            .get(env.url(&format!("/api/v1/contacts/{contact_id}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("contact"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["name"], "Bruno");
    assert_eq!(one["interactions"].as_array().map(Vec::len), Some(2));
    assert_eq!(one["interactions"][0]["campaign"], API);

    let (status, campaigns) = body(
        env.http
            .get(env.url("/api/v1/campaigns"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("campaigns"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = campaigns["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for name in [WEBCHAT, API, PHONE] {
        assert!(names.contains(&name), "{names:?}");
    }
}

#[tokio::test]
async fn canned_responses_are_readable_with_their_campaign() {
    let env = env().await;
    let token = env.token("bot");
    for (code, body, campaign) in [
        ("thanks", "Thanks for waiting, {contact.name}!", None),
        ("hours", "We answer chats from 9 to 18.", Some(WEBCHAT)),
    ] {
        env.call(Request::AddCanned(CannedSpec {
            code: code.into(),
            body: body.into(),
            campaign: campaign.map(str::to_string),
        }))
        .await;
    }
    let list = async |query: &str| {
        body(
            env.http
                .get(env.url(&format!("/api/v1/canned{query}")))
                .bearer_auth(&token)
                .send()
                .await
                .expect("canned"),
        )
        .await
    };
    let codes = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|c| c["code"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };

    let (status, all) = list("").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(codes(&all), ["hours", "thanks"]);
    let hours = all["items"]
        .as_array()
        .and_then(|items| items.iter().find(|c| c["code"] == "hours"))
        .expect("hours");
    assert_eq!(hours["campaign"], WEBCHAT);
    assert_eq!(hours["body"], "We answer chats from 9 to 18.");

    // In the API campaign only the team-wide one is offered.
    let (status, in_api) = list(&format!("?campaign={API}")).await;
    assert_eq!(status, StatusCode::OK, "{in_api}");
    assert_eq!(codes(&in_api), ["thanks"]);

    let (status, _) = list("?campaign=Nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, bad) = list("?code=thanks").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let anonymous = env
        .http
        .get(env.url("/api/v1/canned"))
        .send()
        .await
        .expect("canned");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn webhook_configuration_endpoints() {
    let env = env().await;
    let token = env.token("crm");
    let path = format!("/api/v1/campaigns/{API}/webhook");
    let (status, v) = body(
        env.http
            .get(env.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");

    let (status, set) = body(
        env.http
            .put(env.url(&path))
            .bearer_auth(&token)
            .json(&json!({"url": "https://hooks.example.com/hook"}))
            .send()
            .await
            .expect("put"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert!(set["secret"].as_str().is_some_and(|s| s.len() >= 16));
    let (status, got) = body(
        env.http
            .get(env.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["url"], "https://hooks.example.com/hook");
    assert!(got.get("secret").is_none(), "the secret is shown once");
    let hooks = SettingsFile::in_dir(env.dir.path())
        .list_webhooks()
        .expect("list");
    assert_eq!(hooks.len(), 1);

    let (status, v) = body(
        env.http
            .put(env.url(&path))
            .bearer_auth(&token)
            .json(&json!({"url": "ftp://nope"}))
            .send()
            .await
            .expect("put"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "url");
    let (status, v) = body(
        env.http
            .put(env.url(&path))
            .bearer_auth(&token)
            .json(&json!({"url": "https://example.com", "secret": "short"}))
            .send()
            .await
            .expect("put"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "secret");

    let r = env
        .http
        .delete(env.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, _) = body(
        env.http
            .delete(env.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("delete"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = body(
        env.http
            .put(env.url("/api/v1/campaigns/Nope/webhook"))
            .bearer_auth(&token)
            .json(&json!({"url": "https://example.com"}))
            .send()
            .await
            .expect("put"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn webhooks_to_local_addresses_are_refused_unless_allow_listed() {
    let env = env().await;
    let token = env.token("crm");
    let path = format!("/api/v1/campaigns/{API}/webhook");
    let put = |url: &'static str| {
        env.http
            .put(env.url(&path))
            .bearer_auth(&token)
            .json(&json!({ "url": url }))
            .send()
    };
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
        "http://10.0.0.5/hook",
        "http://172.20.1.1/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/hook",
        "http://[fd00::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ] {
        let (status, v) = body(put(url).await.expect("put")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {v}");
        assert_eq!(v["field"], "url", "{url}");
        assert!(error_of(&v).contains("webhook_allow_hosts"), "{url}: {v}");
    }
    assert!(
        SettingsFile::in_dir(env.dir.path())
            .list_webhooks()
            .expect("list")
            .is_empty(),
        "nothing was set"
    );

    env.allow_webhook_host("127.0.0.1");
    let (status, v) = body(put("http://127.0.0.1:9/hook").await.expect("put")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an allow-listed host is accepted: {v}"
    );
    assert_eq!(v["url"], "http://127.0.0.1:9/hook");
    let (status, _) = body(put("http://10.0.0.5/hook").await.expect("put")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "only that host");
}

#[tokio::test]
async fn only_the_token_that_set_a_webhook_may_change_it() {
    let env = env().await;
    let crm = env.token("crm");
    let other = env.token("other");
    let path = format!("/api/v1/campaigns/{API}/webhook");
    let put = |token: &str, url: &str| {
        env.http
            .put(env.url(&path))
            .bearer_auth(token)
            .json(&json!({ "url": url }))
            .send()
    };
    let delete = |token: &str| env.http.delete(env.url(&path)).bearer_auth(token).send();
    let hook_url = || {
        SettingsFile::in_dir(env.dir.path())
            .list_webhooks()
            .expect("list")
            .first()
            .map(|h| h.url.clone())
    };

    let (status, v) = body(
        put(&crm, "https://crm.example.com/hook")
            .await
            .expect("put"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = body(
        put(&other, "https://evil.example.net/hook")
            .await
            .expect("put"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(error_of(&v).contains("another API token"), "{v}");
    let (status, v) = body(delete(&other).await.expect("delete")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(hook_url().as_deref(), Some("https://crm.example.com/hook"));

    // The owner may replace and remove its own.
    let (status, _) = body(put(&crm, "https://crm.example.com/v2").await.expect("put")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hook_url().as_deref(), Some("https://crm.example.com/v2"));
    assert_eq!(
        delete(&crm).await.expect("delete").status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(hook_url(), None);

    // Once the owning token is revoked, its webhook is free to be taken over.
    let (status, _) = body(
        put(&crm, "https://crm.example.com/hook")
            .await
            .expect("put"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    SettingsFile::in_dir(env.dir.path())
        .revoke_api_token("crm")
        .expect("revoke");
    let (status, v) = body(
        put(&other, "https://new.example.com/hook")
            .await
            .expect("put"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");

    // One a supervisor set on the device is theirs alone.
    SettingsFile::in_dir(env.dir.path())
        .set_webhook(
            v["campaign_id"].as_str().expect("id"),
            API,
            "https://ops.example.com/hook",
            None,
        )
        .expect("supervisor sets");
    let (status, _) = body(
        put(&other, "https://new.example.com/hook")
            .await
            .expect("put"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = body(delete(&other).await.expect("delete")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(hook_url().as_deref(), Some("https://ops.example.com/hook"));
}

#[tokio::test]
async fn tokens_are_required_and_revocable() {
    let env = env().await;
    let endpoints = [
        ("GET", "/api/v1/interactions".to_string()),
        ("POST", "/api/v1/interactions".to_string()),
        ("GET", format!("/api/v1/interactions/{}", ulid::Ulid::new())),
        (
            "POST",
            format!("/api/v1/interactions/{}/messages", ulid::Ulid::new()),
        ),
        ("GET", "/api/v1/contacts".to_string()),
        ("GET", format!("/api/v1/contacts/{}", ulid::Ulid::new())),
        ("GET", "/api/v1/campaigns".to_string()),
        ("PUT", format!("/api/v1/campaigns/{API}/webhook")),
    ];
    let token = env.token("crm");
    let mut wrong = token.clone();
    wrong.truncate(wrong.len() - 4);
    wrong.push_str("0000");
    for (method, path) in &endpoints {
        for auth in [None, Some("mdk_nope_x"), Some(wrong.as_str()), Some("")] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let mut request = env.http.request(method, env.url(path)).json(&json!({}));
            if let Some(a) = auth {
                request = request.bearer_auth(a);
            }
            let r = request.send().await.expect("send");
            assert_eq!(
                r.headers().get("www-authenticate").map(|v| v.as_bytes()),
                Some(&b"Bearer"[..])
            );
            let (status, v) = body(r).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {auth:?}: {v}");
            error_of(&v);
        }
    }
    // A non-bearer scheme is refused too.
    let r = env
        .http
        .get(env.url("/api/v1/campaigns"))
        .basic_auth("user", Some(&token))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let ok = env
        .http
        .get(env.url("/api/v1/campaigns"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), StatusCode::OK);
    let tokens = SettingsFile::in_dir(env.dir.path())
        .list_api_tokens()
        .expect("list");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].name, "crm");
    SettingsFile::in_dir(env.dir.path())
        .revoke_api_token("crm")
        .expect("revoke");
    let (status, v) = body(
        env.http
            .get(env.url("/api/v1/campaigns"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked token fails at once"
    );
    assert!(error_of(&v).contains("revoked"));

    // The OpenAPI document needs no token and describes every endpoint.
    let (status, doc) = openapi(&env).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for (_, path) in &endpoints {
        let templated = path
            .replace(API, "{campaign}")
            .split('/')
            .map(|seg| {
                if seg.len() == 26 && ulid::Ulid::from_string(seg).is_ok() {
                    "{id}".to_string()
                } else {
                    seg.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        assert!(
            doc["paths"].get(&templated).is_some(),
            "{templated} missing from the OpenAPI document"
        );
    }
    assert!(doc["webhooks"].get("message.created").is_some());
}

#[tokio::test]
async fn unknown_things_are_404() {
    let env = env().await;
    let token = env.token("crm");
    let cases: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (
            reqwest::Method::POST,
            "/api/v1/interactions".into(),
            Some(json!({"campaign": "Nope", "contact": {"name": "A"}, "message": "x"})),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/interactions".into(),
            Some(
                json!({"campaign": API, "contact": {"id": ulid::Ulid::new().to_string()}, "message": "x"}),
            ),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/interactions/{}", ulid::Ulid::new()),
            None,
        ),
        (
            reqwest::Method::GET,
            "/api/v1/interactions/garbage".into(),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/interactions/{}/messages", ulid::Ulid::new()),
            Some(json!({"text": "x"})),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/contacts/{}", ulid::Ulid::new()),
            None,
        ),
        (
            reqwest::Method::GET,
            "/api/v1/campaigns/Nope/webhook".into(),
            None,
        ),
        (reqwest::Method::GET, "/api/v1/nothing-here".into(), None),
        (reqwest::Method::GET, "/nothing-here".into(), None),
    ];
    for (method, path, payload) in cases {
        let mut request = env.http.request(method, env.url(&path)).bearer_auth(&token);
        if let Some(p) = &payload {
            request = request.json(p);
        }
        let (status, v) = body(request.send().await.expect("send")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} {payload:?}: {v}");
        error_of(&v);
    }
    // Nothing was written for the refused creations.
    let (_, contacts) = body(
        env.http
            .get(env.url("/api/v1/contacts"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("contacts"),
    )
    .await;
    assert_eq!(contacts["items"].as_array().map(Vec::len), Some(0));
    let r = env
        .http
        .delete(env.url("/api/v1/interactions"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn malformed_input_is_400_naming_the_field_and_big_bodies_413() {
    let env = env().await;
    let token = env.token("crm");
    let raw = |payload: &'static str| {
        env.http
            .post(env.url("/api/v1/interactions"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(payload)
            .send()
    };
    let cases: [(&str, Option<&str>); 9] = [
        (
            r#"{"campaign": "Integrations", "contact": {"name": "A"}, "message": 5}"#,
            Some("message"),
        ),
        (
            r#"{"campaign": "Integrations", "contact": {"name": "A"}}"#,
            Some("message"),
        ),
        (
            r#"{"campaign": "Integrations", "message": "x"}"#,
            Some("contact"),
        ),
        (
            r#"{"campaign": "Integrations", "contact": {"name": "A"}, "message": "x", "prio": 1}"#,
            Some("prio"),
        ),
        (
            r#"{"campaign": "Integrations", "contact": {"name": "A", "mail": "x"}, "message": "x"}"#,
            Some("contact.mail"),
        ),
        (
            r#"{"campaign": "Integrations", "contact": {"email": "not-an-email"}, "message": "x"}"#,
            Some("contact.email"),
        ),
        (
            r#"{"campaign": "Integrations", "contact": {}, "message": "x"}"#,
            Some("contact"),
        ),
        (
            r#"{"campaign": "Integrations", "contact": {"name": "A"}, "message": "   "}"#,
            Some("message"),
        ),
        (r#"{"campaign": "Integrations", "contact": "#, None),
    ];
    for (payload, field) in cases {
        let (status, v) = body(raw(payload).await.expect("send")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{payload}: {v}");
        let message = error_of(&v);
        if let Some(f) = field {
            assert_eq!(v["field"].as_str(), Some(f), "{payload}: {v}");
            let last = f.rsplit('.').next().unwrap_or(f);
            assert!(message.contains(last), "{message} should name {f}");
        } else {
            assert!(message.contains("malformed JSON"), "{message}");
        }
    }
    let (status, v) = body(
        env.http
            .get(env.url("/api/v1/interactions?state=sideways"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "state");
    let (status, v) = body(
        env.http
            .get(env.url("/api/v1/contacts?limit=many"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&v).contains("limit"), "{v}");

    // Over-long messages are 400s naming the field, as the schema's
    // `maxLength` says, even in 4-byte characters; only bodies over the
    // 256 KiB limit are 413s.
    for message in ["x".repeat(70 * 1024), "🦀".repeat(20_001)] {
        let long = json!({"campaign": API, "contact": {"name": "A"}, "message": message});
        let (status, v) = create(&env, &token, long).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["field"], "message");
    }
    let big = json!({"campaign": API, "contact": {"name": "A"}, "message": "x".repeat(300 * 1024)});
    let (status, v) = create(&env, &token, big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    error_of(&v);
    let (status, _) = body(
        env.http
            .post(env.url(&format!(
                "/api/v1/interactions/{}/messages",
                ulid::Ulid::new()
            )))
            .bearer_auth(&token)
            .json(&json!({"text": "y".repeat(300 * 1024)}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Nothing was created by any refused request.
    assert!(env.pending_ids().await.is_empty());
}

/// The constraints an integration reads from `/api/v1/openapi.json` are the
/// ones the handlers apply (the mismatches schemathesis found).
#[tokio::test]
async fn the_schema_says_what_the_handlers_accept() {
    let env = env().await;
    let token = env.token("crm");
    let (_, doc) = openapi(&env).await;
    let get = |path: &str| env.http.get(env.url(path)).bearer_auth(&token).send();

    // `limit`: the documented maximum is accepted, one more is a 400.
    for list in ["/api/v1/interactions", "/api/v1/contacts"] {
        let limit = doc["paths"][list]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "limit")
            .expect("limit documented")
            .clone();
        let max = limit["schema"]["maximum"].as_u64().expect("maximum");
        let (status, _) = body(get(&format!("{list}?limit={max}")).await.expect("get")).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let (status, v) = body(
            get(&format!("{list}?limit={}", max + 1))
                .await
                .expect("get"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{list}: {v}");
        assert_eq!(v["field"], "limit");
    }

    // Blank strings the code refuses are refused by the schema too.
    let create_schema = &doc["components"]["schemas"]["CreateInteraction"]["properties"];
    assert_eq!(create_schema["campaign"]["minLength"], 1);
    let (status, v) = create(
        &env,
        &token,
        json!({"campaign": "", "contact": {"name": "A"}, "message": "hi"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "campaign");
    let chat = |path: &str| {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["properties"]["text"]
            .clone()
    };
    for path in ["/chat/{campaign}/start", "/chat/{campaign}/messages"] {
        assert_eq!(chat(path)["minLength"], 1, "{path}");
        assert_eq!(chat(path)["maxLength"], 20_000, "{path}");
    }
    let (status, v) = body(
        env.http
            .post(env.url(&format!("/chat/{WEBCHAT}/start")))
            .json(&json!({"name": "Wes", "text": ""}))
            .send()
            .await
            .expect("start"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "text");

    // A message of exactly `maxLength` characters is taken; one more is a 400.
    let max = create_schema["message"]["maxLength"]
        .as_u64()
        .expect("maxLength") as usize;
    let (status, v) = create(
        &env,
        &token,
        json!({"campaign": API, "contact": {"name": "A"}, "message": "é".repeat(max)}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = create(
        &env,
        &token,
        json!({"campaign": API, "contact": {"name": "A"}, "message": "é".repeat(max + 1)}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "message");

    // Wrongly typed optional strings are refused, `null` included.
    let path = format!("/api/v1/campaigns/{API}/webhook");
    for secret in [json!(null), json!(12345678901234567_u64), json!(["a"])] {
        let (status, v) = body(
            env.http
                .put(env.url(&path))
                .bearer_auth(&token)
                .json(&json!({"url": "https://hooks.example.com/h", "secret": secret}))
                .send()
                .await
                .expect("put"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{secret}: {v}");
        assert_eq!(v["field"], "secret", "{secret}");
    }
    let (status, v) = create(
        &env,
        &token,
        json!({"campaign": API, "contact": {"name": null, "phone": "+34 600 100 200"}, "message": "hi"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "contact.name");
}

#[tokio::test]
async fn the_history_list_takes_the_history_filters() {
    let env = env().await;
    let token = env.token("crm");
    let mut ids = Vec::new();
    for (name, email) in [
        ("Ana Lima", "ana@example.com"),
        ("Rui Sousa", "rui@example.com"),
    ] {
        let (status, made) = create(
            &env,
            &token,
            json!({"campaign": API, "contact": {"name": name, "email": email}, "message": "Where is my order?"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        ids.push(made["id"].as_str().expect("id").to_string());
    }
    let (ana, rui) = (ids[0].clone(), ids[1].clone());
    env.agent_reply(&ana, "On its way").await;
    env.call(Request::AddTag {
        id: ana.parse().expect("an id"),
        tag: "vip".into(),
    })
    .await;
    env.finalize(&ana).await;
    env.agent_reply(&rui, "Calling you back").await;
    env.call(Request::Finalize {
        id: rui.parse().expect("an id"),
        disposition: "Callback".into(),
        note: None,
    })
    .await;
    let list = |query: &'static str| {
        let (env, token) = (&env, &token);
        async move {
            body(
                env.http
                    .get(env.url(&format!("/api/v1/interactions?{query}")))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("list"),
            )
            .await
        }
    };
    let ids_of = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect()
    };
    // The team's by default, as before the filters; newest closed first.
    let (status, all) = list("state=history").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(ids_of(&all), [rui.clone(), ana.clone()]);
    assert_eq!(
        ids_of(&list("state=history&mine=true").await.1),
        [rui.clone(), ana.clone()],
        "the node's agent closed both"
    );
    assert_eq!(
        ids_of(&list("state=history&tag=VIP").await.1),
        std::slice::from_ref(&ana)
    );
    assert_eq!(
        ids_of(&list("state=history&disposition=callback").await.1),
        std::slice::from_ref(&rui)
    );
    assert_eq!(
        ids_of(&list("state=history&channel=api&q=ana").await.1),
        std::slice::from_ref(&ana)
    );
    assert!(ids_of(&list("state=history&channel=phone").await.1).is_empty());
    assert_eq!(
        ids_of(&list("state=history&campaign=integrations").await.1).len(),
        2
    );
    assert!(ids_of(&list("state=history&since=99999999999999").await.1).is_empty());
    assert_eq!(
        ids_of(&list("state=history&until=99999999999999").await.1).len(),
        2
    );

    // Bad values: 400 naming the parameter.
    for (query, field, words) in [
        (
            "state=history&campaign=Nope",
            "campaign",
            "unknown campaign `Nope`",
        ),
        (
            "state=history&channel=fax",
            "channel",
            "unknown channel `fax`",
        ),
        (
            "state=history&since=10&until=5",
            "until",
            "the date range is empty",
        ),
        ("state=history&tag=%20", "tag", "must not be blank"),
        (
            "state=active&tag=vip",
            "tag",
            "applies to state=history only",
        ),
        ("mine=true", "mine", "applies to state=history only"),
    ] {
        let (status, v) = list(query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {v}");
        assert_eq!(v["field"], field, "{query}: {v}");
        assert!(error_of(&v).contains(words), "{query}: {v}");
    }
    // The OpenAPI document lists them.
    let (_, doc) = openapi(&env).await;
    let names: Vec<&str> = doc["paths"]["/api/v1/interactions"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [
        "mine",
        "campaign",
        "channel",
        "disposition",
        "tag",
        "since",
        "until",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

#[tokio::test]
async fn a_merged_contacts_id_answers_with_the_contact_it_was_merged_into() {
    let env = env().await;
    let token = env.token("crm");
    let (_, first) = create(
        &env,
        &token,
        json!({"campaign": API, "contact": {"name": "Marta Ruiz", "email": "marta@example.com"}, "message": "hi"}),
    )
    .await;
    let (_, second) = create(
        &env,
        &token,
        json!({"campaign": API, "contact": {"name": "M. Ruiz", "phone": "+34 600 999 000"}, "message": "again"}),
    )
    .await;
    let survivor = first["contact_id"].as_str().expect("contact").to_string();
    let absorbed = second["contact_id"].as_str().expect("contact").to_string();
    assert_ne!(survivor, absorbed);
    env.call(Request::MergeContacts {
        survivor: survivor.parse().expect("id"),
        absorbed: absorbed.parse().expect("id"),
    })
    .await;

    for id in [&survivor, &absorbed] {
        let (status, one) = body(
            env.http
                .get(env.url(&format!("/api/v1/contacts/{id}")))
                .bearer_auth(&token)
                .send()
                .await
                .expect("contact"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{one}");
        assert_eq!(one["id"], survivor.as_str());
        assert_eq!(one["name"], "Marta Ruiz");
        assert_eq!(one["phones"], json!(["+34 600 999 000"]));
        assert_eq!(one["emails"], json!(["marta@example.com"]));
        assert_eq!(one["merged_from"], json!([absorbed]));
        assert_eq!(one["interactions"].as_array().map(Vec::len), Some(2));
    }
    // The list holds the survivor once; a customer with the absorbed
    // contact's phone is linked to the survivor.
    let (_, list) = body(
        env.http
            .get(env.url("/api/v1/contacts"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("contacts"),
    )
    .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    let (_, third) = create(
        &env,
        &token,
        json!({"campaign": API, "contact": {"phone": "+34600999000"}, "message": "me again"}),
    )
    .await;
    assert_eq!(third["contact_id"], survivor.as_str());
}
