//! The agent's everyday tools across real nodes: what a supervisor sets up
//! on one machine is there on a teammate's.

use std::time::Duration;

use meshdesk_tests::{Device, wait_until};

/// A runs the team (Ana, supervisor); B joined it (Bo, agent).
fn team_of_two() -> (Device, Device) {
    let mut a = Device::new("A");
    a.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
    a.start(&[]);
    let mut b = Device::new("B");
    let code = a.ok(&["team", "invite"]);
    b.ok(&["team", "join", &code, "--agent", "Bo"]);
    b.start(&[a.addr()]);
    (a, b)
}

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
