//! The agent's everyday tools across real nodes: what a supervisor sets up
//! on one machine is there on a teammate's.

use std::time::Duration;

use meshdesk_tests::{Device, team_of_two, wait_until};

fn codes(device: &Device) -> Vec<String> {
    device
        .json(&["canned", "list"])
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|c| c["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_canned_response_made_on_one_node_is_offered_on_another() {
    let (a, b) = team_of_two();
    a.ok(&[
        "canned",
        "add",
        "--code",
        "thanks",
        "--body",
        "Thanks for waiting, {contact.name}. {agent.name}",
    ]);
    assert!(
        wait_until(Duration::from_secs(20), || codes(&b) == ["thanks"]),
        "B never got the canned response: {:?}\n--- B's log ---\n{}",
        codes(&b),
        b.log()
    );
    // Bo fills it in his own name.
    let new_call: Vec<&str> =
        "interaction new --channel phone --campaign General --to +34600100200"
            .split(' ')
            .collect();
    let id = b.json(&new_call);
    let id = id["id"].as_str().expect("an interaction id").to_string();
    assert_eq!(
        b.ok(&["canned", "fill", "thanks", "--interaction", &id]),
        "Thanks for waiting, +34600100200. Bo"
    );
    // An agent cannot write them, on its own node or anywhere.
    let refused = b.run(&["canned", "add", "--code", "mine", "--body", "x"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only a supervisor"));
    // An edit on A reaches B too.
    a.ok(&["canned", "edit", "thanks", "--body", "Thank you!"]);
    assert!(
        wait_until(Duration::from_secs(20), || {
            b.ok(&["canned", "fill", "thanks", "--interaction", &id]) == "Thank you!"
        }),
        "B never got the edit"
    );
}

fn field(device: &Device, id: &str, path: &[&str]) -> serde_json::Value {
    let mut v = device.json(&["interaction", "show", id]);
    for key in path {
        v = v[*key].take();
    }
    v
}

#[test]
fn a_pull_back_by_a_supervisor_on_one_node_reaches_the_agent_on_another() {
    let (a, b) = team_of_two();
    a.ok(&["status", "set", "available"]);
    b.ok(&["status", "set", "available"]);
    let id = a.ok(&[
        "interaction",
        "enqueue",
        "--campaign",
        "General",
        "--from",
        "+34 600 100 200",
        "--message",
        "My line is dead",
    ]);
    assert!(
        wait_until(Duration::from_secs(20), || {
            b.run(&["interaction", "accept", &id]).status.success()
        }),
        "Bo never could accept it\n--- B's log ---\n{}",
        b.log()
    );
    assert!(
        wait_until(Duration::from_secs(20), || {
            field(&a, &id, &["state"]) == "active"
        }),
        "A never saw Bo take it"
    );
    // An agent's node refuses to pull back; the supervisor's does it.
    let refused = b.run(&["interaction", "pull", &id, "--reason", "mine now"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only a supervisor"));
    a.ok(&[
        "interaction",
        "pull",
        &id,
        "--reason",
        "Customer asked for a manager",
    ]);

    // On B: it left Bo's Active, and says who took it and why.
    let left = || {
        let active = b.json(&["interaction", "list", "--tab", "active"]);
        active.as_array().is_some_and(|rows| rows.is_empty())
    };
    assert!(
        wait_until(Duration::from_secs(20), left),
        "Bo kept it\n--- B's log ---\n{}",
        b.log()
    );
    let shown = b.ok(&["interaction", "show", &id]);
    assert!(
        shown.contains("Returned to the queue by Ana, taken from Bo: Customer asked for a manager"),
        "{shown}"
    );
    let last = field(&b, &id, &["interaction", "transfers"]);
    assert_eq!(last[0]["kind"], "pull");
    assert_eq!(field(&b, &id, &["state"]), "queued");

    // Routed again, the same on both nodes: to Ana, not back to Bo.
    let explain = |d: &Device| d.ok(&["route", "explain", "--campaign", "General"]);
    assert!(
        wait_until(Duration::from_secs(20), || {
            let (on_a, on_b) = (explain(&a), explain(&b));
            on_a.contains("Ana: chosen") && on_a.contains("Bo: declined this round") && on_a == on_b
        }),
        "A:\n{}\nB:\n{}",
        explain(&a),
        explain(&b)
    );
    let pending = a.json(&["interaction", "list", "--tab", "pending"]);
    assert_eq!(pending[0]["id"], id.as_str());
    assert_eq!(pending[0]["offer"], "ring-all");
}

fn mentions(device: &Device, unseen: bool) -> Vec<serde_json::Value> {
    let mut args = vec!["mentions"];
    if unseen {
        args.push("--unseen");
    }
    device.json(&args).as_array().cloned().unwrap_or_default()
}

#[test]
fn a_note_mentioning_a_teammate_on_one_node_is_in_their_mentions_on_another() {
    let (a, b) = team_of_two();
    let id = a.ok(&[
        "interaction",
        "enqueue",
        "--campaign",
        "General",
        "--from",
        "+34 600 100 200",
        "--message",
        "My line is dead",
    ]);
    a.ok(&[
        "interaction",
        "note",
        &id,
        "@bo can you call back? Billing is on ana@example.com",
    ]);
    assert!(
        wait_until(Duration::from_secs(20), || mentions(&b, true).len() == 1),
        "Bo never saw the mention: {:?}\n--- B's log ---\n{}",
        mentions(&b, false),
        b.log()
    );
    let m = &mentions(&b, true)[0];
    assert_eq!(m["author_name"], "Ana");
    assert_eq!(m["place"]["kind"], "note");
    assert_eq!(m["place"]["interaction"], id.as_str());
    assert_eq!(m["seen"], false);
    let table = b.ok(&["mentions"]);
    assert!(table.contains("@bo can you call back?"), "{table}");
    assert!(table.contains(&format!("interaction show {id}")), "{table}");
    // Ana wrote it: nothing mentions her, and the address is no mention.
    assert!(mentions(&a, false).is_empty());
    // Bo's answer in chat reaches Ana the same way.
    b.ok(&[
        "chat",
        "send",
        "--agent",
        "Ana",
        "@Ana done, they are happy",
    ]);
    assert!(
        wait_until(Duration::from_secs(20), || mentions(&a, true).len() == 1),
        "Ana never saw Bo's mention\n--- A's log ---\n{}",
        a.log()
    );
    assert_eq!(mentions(&a, true)[0]["chat"]["agent"], "Bo");
}
