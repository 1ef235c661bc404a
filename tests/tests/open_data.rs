//! Open data: `meshdesk export --automerge DIR` writes files that another
//! Automerge implementation (the JavaScript one, from npm) loads, holding
//! what the command line shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use meshdesk_tests::Device;
use serde_json::Value;

/// `tests/js`, with its locked dependencies installed (`npm ci`) once.
fn js_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    if !dir.join("node_modules/@automerge/automerge").exists() {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm (install Node.js and npm)");
        assert!(
            out.status.success(),
            "npm ci failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// Every exported document as JavaScript Automerge loads it, by id.
fn load_with_js(export: &Path) -> Value {
    let js = js_dir();
    let out = Command::new("node")
        .arg(js.join("load.mjs"))
        .arg(export)
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "load.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("load.mjs prints JSON")
}

#[test]
fn every_exported_document_loads_in_javascript_automerge_and_matches_the_cli() {
    let a = Device::new("A");
    a.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
    let contact = a.json(&[
        "contact",
        "add",
        "--name",
        "Carmen Field",
        "--email",
        "carmen@example.com",
        "--phone",
        "+34 600 100 200",
        "--company",
        "Field & Sons",
    ]);
    let contact_id = contact["id"].as_str().expect("a contact id").to_string();
    let call = a.json(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--to",
        "+34600999000",
    ])["id"]
        .as_str()
        .expect("an interaction id")
        .to_string();
    a.ok(&["interaction", "send", &call, "Hello, ñandú ☎"]);
    a.ok(&["interaction", "note", &call, "Asked for a callback"]);
    a.ok(&["interaction", "tag", &call, "vip"]);
    a.ok(&["chat", "send", "--campaign", "General", "Standup in 5"]);

    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("open data");
    let written = a.json(&["export", "--automerge", dir.to_str().expect("UTF-8")]);
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).expect("index.json"))
            .expect("index JSON");
    let index = index.as_array().expect("an index list");
    assert_eq!(written["documents"].as_u64(), Some(index.len() as u64));
    let kinds: Vec<&str> = index.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["team", "agent", "contact", "interaction", "room"] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }

    let loaded = load_with_js(&dir);
    assert_eq!(loaded.as_object().map(|o| o.len()), Some(index.len()));

    // The contact, as `contact show` prints it.
    let shown = a.json(&["contact", "show", &contact_id])["contact"].take();
    let js = &loaded[format!("contact:{contact_id}")];
    assert_eq!(js["title"], "Carmen Field");
    for field in ["id", "name", "company", "emails", "phones", "created_at"] {
        assert_eq!(js["doc"][field], shown[field], "contact field {field}");
    }

    // The interaction, as `interaction show` prints it.
    let shown = a.json(&["interaction", "show", &call])["interaction"].take();
    let js = &loaded[format!("interaction:{call}")]["doc"];
    for field in ["id", "address", "channel", "direction", "contact_name"] {
        assert_eq!(js[field], shown[field], "interaction field {field}");
    }
    let messages = |v: &Value, key: &str| -> Vec<(Value, Value, Value)> {
        v[key]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|m| {
                        let text = if m["body"].is_null() {
                            m["text"].clone()
                        } else {
                            m["body"].clone()
                        };
                        (m["id"].clone(), text, m["at"].clone())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(messages(js, "messages"), messages(&shown, "messages"));
    assert_eq!(
        messages(js, "messages")[0].1,
        "Hello, ñandú ☎",
        "the text survives as written"
    );
    assert_eq!(messages(js, "notes"), messages(&shown, "notes"));
    assert_eq!(js["tags"]["vip"], true);
    assert_eq!(shown["tags"], serde_json::json!(["vip"]));

    // The team: its name and the campaign the CLI lists.
    let team = index
        .iter()
        .find(|e| e["kind"] == "team")
        .and_then(|e| e["id"].as_str())
        .expect("the team in the index");
    assert_eq!(loaded[team]["doc"]["name"], "Support");
    let campaigns = loaded[team]["doc"]["campaigns"]
        .as_object()
        .expect("campaigns");
    assert!(campaigns.values().any(|c| c["name"] == "General"));
}
