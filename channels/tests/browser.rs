//! The webchat in a real browser: Debian's chromium, headless, driven through
//! chromedriver (WebDriver) with fantoccini. CI installs both
//! (`apt-get install -y chromium chromium-driver`); without them this test
//! fails with a message saying so.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use meshdesk_channels::{Backend, Typing, Typist};
use meshdesk_model::ops::{Reply, Request};
use serde_json::{Value, json};

const INSTALL: &str = "the browser test needs Debian's chromium and chromedriver: \
    apt-get update && apt-get install -y chromium chromium-driver \
    (or set CHROMIUM and CHROMEDRIVER to their paths)";

fn find(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// A chromedriver process, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_driver(chromedriver: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL}", chromedriver.display()));
    let driver = Driver { child, port };
    let status = format!("http://127.0.0.1:{port}/status");
    let http = reqwest::Client::new();
    eventually(20, "chromedriver to listen", || {
        let (http, status) = (http.clone(), status.clone());
        async move {
            let v: Value = http.get(&status).send().await.ok()?.json().await.ok()?;
            v["value"]["ready"].as_bool().filter(|r| *r)
        }
    })
    .await;
    driver
}

async fn browser(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let args = [
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        "--window-size=480,800".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": chromium, "args": args},
    });
    let caps = match caps {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object"),
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap_or_else(|e| panic!("cannot start a chromium session: {e}; {INSTALL}"))
}

/// Runs `script` in the page until it returns something truthy; returns it.
async fn wait_for(client: &Client, what: &str, script: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let v = client.execute(script, vec![]).await.unwrap_or(Value::Null);
        let truthy = match &v {
            Value::Null | Value::Bool(false) => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        };
        if truthy {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            let html = client.source().await.unwrap_or_default();
            panic!("timed out waiting for {what}; page:\n{html}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether an element is shown (its computed style, not just its `hidden` attribute).
fn visible(id: &str) -> String {
    format!("(getComputedStyle(document.getElementById('{id}')).display !== 'none')")
}

const MESSAGES: &str = "return Array.from(document.querySelectorAll('#messages li.message'))\
    .map(li => [li.className.replace('message ', ''), li.querySelector('.body').textContent]);";

async fn messages(client: &Client) -> Vec<(String, String)> {
    let v = client
        .execute(MESSAGES, vec![])
        .await
        .expect("read messages");
    serde_json::from_value(v).expect("pairs")
}

async fn screenshot(client: &Client, name: &str) {
    if let Ok(png) = client.screenshot().await {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = std::fs::write(path, png);
    }
}

#[tokio::test]
async fn a_visitor_chats_with_an_agent_in_chromium() {
    let chromium = find(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    )
    .unwrap_or_else(|| panic!("chromium not found; {INSTALL}"));
    let chromedriver = find("CHROMEDRIVER", &["chromedriver"])
        .unwrap_or_else(|| panic!("chromedriver not found; {INSTALL}"));

    let env = env().await;
    let driver = start_driver(&chromedriver).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let client = browser(&driver, &chromium, profile.path()).await;
    let result = scenario(&env, &client).await;
    screenshot(&client, "webchat-final.png").await;
    let _ = client.close().await;
    drop(driver);
    if let Err(e) = result {
        panic!("{e}");
    }
}

async fn scenario(env: &Env, client: &Client) -> Result<(), String> {
    let page = env.url(&format!("/chat/{WEBCHAT}"));
    client.goto(&page).await.map_err(|e| e.to_string())?;
    wait_for(
        client,
        "the start form",
        &format!(
            "return {} && !{};",
            visible("start-form"),
            visible("conversation")
        ),
    )
    .await;
    let title = wait_for(
        client,
        "the campaign title",
        "return document.getElementById('title').textContent;",
    )
    .await;
    assert_eq!(title, WEBCHAT);
    screenshot(client, "webchat-start.png").await;

    // The visitor writes, with markup that must show as text.
    let hostile = r#"Hi <b>there</b> <img src=x onerror="window.pwned=1">"#;
    let find = |css: &'static str| client.find(Locator::Css(css));
    find("#name")
        .await
        .map_err(|e| e.to_string())?
        .send_keys("Vic Visitor")
        .await
        .map_err(|e| e.to_string())?;
    find("#email")
        .await
        .map_err(|e| e.to_string())?
        .send_keys("vic@example.com")
        .await
        .map_err(|e| e.to_string())?;
    find("#first-message")
        .await
        .map_err(|e| e.to_string())?
        .send_keys(hostile)
        .await
        .map_err(|e| e.to_string())?;
    find("#start-button")
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for(
        client,
        "the visitor's first message",
        &format!(
            "return document.querySelectorAll('#messages li.message.visitor').length === 1 \
             && !{} && {};",
            visible("start-form"),
            visible("conversation")
        ),
    )
    .await;
    let shown = messages(client).await;
    assert_eq!(shown, vec![("visitor".to_string(), hostile.to_string())]);
    let injected = client
        .execute(
            "return [document.querySelectorAll('#messages b, #messages img').length, \
             window.pwned === undefined];",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(
        injected,
        json!([0, true]),
        "markup is shown as text, never rendered"
    );

    // The interaction is queued in Pending on the node.
    let id = eventually(5, "the interaction in Pending", || async {
        let pending = match env
            .backend
            .call(Request::ListInteractions {
                tab: meshdesk_model::ops::Tab::Pending,
                search: Some("Vic".into()),
                limit: None,
            })
            .await
        {
            Ok(Reply::Interactions(rows)) => rows,
            _ => return None,
        };
        pending.first().map(|r| r.summary.id.to_string())
    })
    .await;
    let stored = client
        .execute(
            &format!("return localStorage.getItem('meshdesk.webchat.{WEBCHAT}');"),
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let stored: Value =
        serde_json::from_str(stored.as_str().unwrap_or("null")).map_err(|e| e.to_string())?;
    assert_eq!(
        stored["interaction"],
        id.as_str(),
        "the visitor token is kept in localStorage"
    );

    // The agent joins (the CLI's `interaction accept`), types, answers (`interaction send`).
    env.call(Request::Accept { id: id.clone() }).await;
    wait_for(
        client,
        "the agent-joined notice",
        "return document.getElementById('status').textContent === 'Alice is with you' \
         && Array.from(document.querySelectorAll('#messages li.notice'))\
            .some(li => li.textContent === 'Alice joined the chat');",
    )
    .await;
    let agent = match env.call(Request::ShowStatus).await {
        Reply::Status(a) => a.id,
        other => return Err(format!("unexpected {other:?}")),
    };
    env.backend.typing(Typing {
        interaction: id.parse().map_err(|e| format!("{e}"))?,
        who: Typist::Agent(agent),
    });
    wait_for(
        client,
        "the typing indicator",
        &format!(
            "return {} && document.getElementById('typing').textContent === 'Alice is typing…';",
            visible("typing")
        ),
    )
    .await;
    let answer = "Hello Vic, <i>Alice</i> here. How can I help?";
    env.call(Request::Send {
        id: id.clone(),
        text: answer.into(),
    })
    .await;
    wait_for(
        client,
        "the agent's reply",
        &format!(
            "return document.querySelectorAll('#messages li.message.agent').length === 1 && !{};",
            visible("typing")
        ),
    )
    .await;

    // The visitor answers from the composer.
    find("#text")
        .await
        .map_err(|e| e.to_string())?
        .send_keys("My order is late")
        .await
        .map_err(|e| e.to_string())?;
    find("#send")
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for(
        client,
        "the visitor's second message",
        "return document.querySelectorAll('#messages li.message.visitor').length === 2;",
    )
    .await;
    let expected = vec![
        ("visitor".to_string(), hostile.to_string()),
        ("agent".to_string(), answer.to_string()),
        ("visitor".to_string(), "My order is late".to_string()),
    ];
    assert_eq!(messages(client).await, expected);
    screenshot(client, "webchat-conversation.png").await;

    // A reload keeps the conversation.
    client.refresh().await.map_err(|e| e.to_string())?;
    wait_for(
        client,
        "the conversation after reload",
        &format!(
            "return document.querySelectorAll('#messages li.message').length === 3 && !{};",
            visible("start-form")
        ),
    )
    .await;
    assert_eq!(messages(client).await, expected);
    let status = client
        .execute(
            "return document.getElementById('status').textContent;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(status, "Alice is with you");
    // Live updates still flow after the reload.
    env.call(Request::Send {
        id: id.clone(),
        text: "Let me check.".into(),
    })
    .await;
    wait_for(
        client,
        "a reply after reload",
        "return document.querySelectorAll('#messages li.message.agent').length === 2;",
    )
    .await;

    // Finalize: the page says the chat is closed.
    env.finalize(&id).await;
    wait_for(
        client,
        "the closed notice",
        &format!(
            "return {} && !{} && !{} \
             && document.getElementById('status').textContent === 'This chat is closed';",
            visible("closed"),
            visible("composer"),
            visible("start-form")
        ),
    )
    .await;
    Ok(())
}
