//! The webchat in a real browser against a real `meshdesk node --http`
//! process: Debian's chromium, headless, driven through chromedriver
//! (WebDriver) with fantoccini; the agent works with the CLI. CI installs
//! both (`apt-get install -y chromium chromium-driver`); without them this
//! test fails with a message saying so.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use meshdesk_tests::{Device, free_port, wait_until};
use serde_json::{Value, json};

const INSTALL: &str = "the browser test needs Debian's chromium and chromedriver: \
    apt-get update && apt-get install -y chromium chromium-driver \
    (or set CHROMIUM and CHROMEDRIVER to their paths)";

const CAMPAIGN: &str = "Support";

type R<T> = Result<T, String>;

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
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

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn start_driver(chromedriver: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL}", chromedriver.display()));
    let driver = Driver { child, port };
    assert!(
        wait_until(Duration::from_secs(20), || listening(port)),
        "chromedriver did not listen; {INSTALL}"
    );
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
    let Value::Object(caps) = caps else {
        unreachable!("a JSON object")
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap_or_else(|e| panic!("cannot start a chromium session: {e}; {INSTALL}"))
}

/// Runs `script` in the page until it returns something truthy; returns it.
async fn wait_for(client: &Client, what: &str, script: &str) -> R<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = client.execute(script, vec![]).await.unwrap_or(Value::Null);
        let truthy = match &v {
            Value::Null | Value::Bool(false) => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        };
        if truthy {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            let html = client.source().await.unwrap_or_default();
            return Err(format!("timed out waiting for {what}; page:\n{html}"));
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

async fn messages(client: &Client) -> R<Vec<(String, String)>> {
    let v = client
        .execute(MESSAGES, vec![])
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_value(v).map_err(|e| e.to_string())
}

async fn type_into(client: &Client, css: &str, text: &str) -> R<()> {
    client
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("{css}: {e}"))?
        .send_keys(text)
        .await
        .map_err(|e| format!("{css}: {e}"))
}

async fn click(client: &Client, css: &str) -> R<()> {
    client
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("{css}: {e}"))?
        .click()
        .await
        .map_err(|e| format!("{css}: {e}"))
}

async fn screenshot(client: &Client, name: &str) {
    if let Ok(png) = client.screenshot().await {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = std::fs::write(path, png);
    }
}

/// The ids of the interactions in a tab, as the CLI lists them.
fn tab_ids(node: &Device, tab: &str) -> Vec<String> {
    node.json(&["interaction", "list", "--tab", tab])
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_chats_with_an_agent_on_a_real_node_in_chromium() {
    let chromium = find_program(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    )
    .unwrap_or_else(|| panic!("chromium not found; {INSTALL}"));
    let chromedriver = find_program("CHROMEDRIVER", &["chromedriver"])
        .unwrap_or_else(|| panic!("chromedriver not found; {INSTALL}"));

    let mut node = Device::new("A");
    node.ok(&["team", "create", "--name", "Acme", "--agent", "Alice"]);
    node.ok(&[
        "campaign",
        "add",
        "--name",
        CAMPAIGN,
        "--channel",
        "webchat",
        "--strategy",
        "ring-all",
    ]);
    // Open only on a day three days from today (UTC): closed now.
    let today = (meshdesk_model::now_ms().div_euclid(86_400_000) + 3).rem_euclid(7) as usize;
    let open_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(today + 3) % 7];
    node.ok(&[
        "campaign",
        "edit",
        CAMPAIGN,
        "--hours",
        &format!("{open_day} 09:00-17:00"),
        "--zone",
        "UTC",
        "--closed-message",
        AFTER_HOURS,
    ]);
    let http_port = free_port();
    let http = format!("127.0.0.1:{http_port}");
    node.start_with(&[], &["--http", &http]);
    assert!(
        wait_until(Duration::from_secs(20), || listening(http_port)),
        "the node does not serve HTTP\n{}",
        node.log()
    );

    let driver = start_driver(&chromedriver);
    let profile = tempfile::tempdir().expect("profile dir");
    let client = browser(&driver, &chromium, profile.path()).await;
    let result = scenario(&node, &http, &client).await;
    screenshot(&client, "webchat-node-final.png").await;
    let _ = client.close().await;
    drop(driver);
    if let Err(e) = result {
        panic!("{e}\n--- node log ---\n{}", node.log());
    }
}

/// What the page says outside the campaign's business hours.
const AFTER_HOURS: &str = "We are closed now. Leave a message and we answer when we open.";

async fn scenario(node: &Device, http: &str, client: &Client) -> R<()> {
    let page = format!("http://{http}/chat/{CAMPAIGN}");
    client.goto(&page).await.map_err(|e| e.to_string())?;
    // Outside the hours the page says so, and a message can still be left.
    let said = wait_for(
        client,
        "the after-hours message",
        &format!(
            "return {} && document.getElementById('after-hours').textContent;",
            visible("after-hours")
        ),
    )
    .await?;
    if said != AFTER_HOURS {
        return Err(format!("the after-hours banner says {said}"));
    }
    wait_for(
        client,
        "the start form",
        &format!(
            "return {} && !{};",
            visible("start-form"),
            visible("conversation")
        ),
    )
    .await?;

    // The visitor writes, with markup that must show as text.
    let hostile = r#"Hi <b>there</b> <img src=x onerror="window.pwned=1">"#;
    type_into(client, "#name", "Vic Visitor").await?;
    type_into(client, "#email", "vic@example.com").await?;
    type_into(client, "#first-message", hostile).await?;
    click(client, "#start-button").await?;
    wait_for(
        client,
        "the visitor's first message",
        "return document.querySelectorAll('#messages li.message.visitor').length === 1;",
    )
    .await?;
    assert_eq!(
        messages(client).await?,
        vec![("visitor".to_string(), hostile.to_string())]
    );
    let injected = client
        .execute(
            "return [document.querySelectorAll('#messages b, #messages img').length, \
             window.pwned === undefined];",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(injected, json!([0, true]), "markup shows as text");

    // The interaction is queued in the node's Pending, with the visitor's contact.
    let mut pending = Vec::new();
    wait_until(Duration::from_secs(20), || {
        pending = tab_ids(node, "pending");
        !pending.is_empty()
    });
    let [id] = pending.as_slice() else {
        return Err(format!("Pending holds {pending:?}, not one interaction"));
    };
    let shown = node.json(&["interaction", "show", id]);
    let first = &shown["interaction"]["messages"][0]["body"];
    assert_eq!(
        first, hostile,
        "the node stored the visitor's words: {shown}"
    );
    let contacts = node.json(&["contact", "list", "--search", "vic@example.com"]);
    assert_eq!(
        contacts.as_array().map(Vec::len),
        Some(1),
        "the visitor is in the phonebook: {contacts}"
    );

    // The agent takes it and answers with the CLI.
    node.ok(&["interaction", "accept", id]);
    wait_for(
        client,
        "the agent-joined notice",
        "return document.getElementById('status').textContent === 'Alice is with you';",
    )
    .await?;
    let answer = "Hello Vic, <i>Alice</i> here. How can I help?";
    node.ok(&["interaction", "send", id, answer]);
    wait_for(
        client,
        "the agent's reply",
        "return document.querySelectorAll('#messages li.message.agent').length === 1;",
    )
    .await?;

    // The visitor answers from the composer; the node has it.
    type_into(client, "#text", "My order is late").await?;
    click(client, "#send").await?;
    let expected = vec![
        ("visitor".to_string(), hostile.to_string()),
        ("agent".to_string(), answer.to_string()),
        ("visitor".to_string(), "My order is late".to_string()),
    ];
    wait_for(
        client,
        "the visitor's second message",
        "return document.querySelectorAll('#messages li.message.visitor').length === 2;",
    )
    .await?;
    assert_eq!(messages(client).await?, expected);
    let on_node = wait_until(Duration::from_secs(10), || {
        node.json(&["interaction", "show", id])
            .to_string()
            .contains("My order is late")
    });
    assert!(on_node, "the visitor's reply reached the node");
    screenshot(client, "webchat-node-conversation.png").await;

    // A reload keeps the conversation, and live updates still flow.
    client.refresh().await.map_err(|e| e.to_string())?;
    wait_for(
        client,
        "the conversation after reload",
        &format!(
            "return document.querySelectorAll('#messages li.message').length === 3 && !{};",
            visible("start-form")
        ),
    )
    .await?;
    assert_eq!(messages(client).await?, expected);
    node.ok(&["interaction", "send", id, "Let me check."]);
    wait_for(
        client,
        "a reply after reload",
        "return document.querySelectorAll('#messages li.message.agent').length === 2;",
    )
    .await?;

    // The visitor attaches a picture: a thumbnail in the page, and the
    // node holds the very bytes, by their hash.
    attach(client, node, id).await?;

    // Finalize with the CLI: the page says the chat is closed.
    node.ok(&["interaction", "finalize", id, "--disposition", "Resolved"]);
    wait_for(
        client,
        "the closed notice",
        &format!(
            "return {} && !{} \
             && document.getElementById('status').textContent === 'This chat is closed';",
            visible("closed"),
            visible("composer")
        ),
    )
    .await?;
    Ok(())
}

/// A real picture (the app's icon, 64×64) and a text file sent from the
/// widget's attach button; the picture shows as a thumbnail, the text file
/// as a named download, and the node's copies match by hash.
async fn attach(client: &Client, node: &Device, id: &str) -> R<()> {
    let icon = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/icons/meshdesk-64.png"
    );
    let picture = std::fs::read(icon).map_err(|e| format!("{icon}: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("photo.png");
    std::fs::write(&path, &picture).map_err(|e| e.to_string())?;
    type_into(client, "#file", &path.to_string_lossy()).await?;
    wait_for(
        client,
        "the picture's thumbnail",
        "const img = document.querySelector('#messages li.message.visitor img.thumbnail'); \
         return img && img.complete && img.naturalWidth === 64 && img.alt === 'photo.png';",
    )
    .await?;
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "order 42, box crushed").map_err(|e| e.to_string())?;
    type_into(client, "#file", &notes.to_string_lossy()).await?;
    wait_for(
        client,
        "the text file's download link",
        "return Array.from(document.querySelectorAll('#messages .file-name')) \
         .some(a => a.textContent.startsWith('notes.txt'));",
    )
    .await?;
    screenshot(client, "webchat-node-files.png").await;

    let want = meshdesk_model::blobs::BlobHash::of(&picture).to_hex();
    let mut hashes = Vec::new();
    wait_until(Duration::from_secs(10), || {
        let shown = node.json(&["interaction", "show", id]);
        hashes = shown["interaction"]["messages"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .flat_map(|m| m["attachments"].as_array().cloned().unwrap_or_default())
                    .filter_map(|f| f["hash"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        hashes.len() == 2
    });
    if !hashes.contains(&want) {
        return Err(format!("the node holds {hashes:?}, not the picture {want}"));
    }
    let out = dir.path().join("copy.png");
    node.ok(&["file", "get", &want, "--out", &out.to_string_lossy()]);
    let copy = std::fs::read(&out).map_err(|e| e.to_string())?;
    if copy != picture {
        return Err("the node's copy differs from the picture sent".into());
    }
    Ok(())
}
