//! Real `meshdesk` processes on 127.0.0.1: joining, converging, crashing and
//! restarting, partitions with conflicting claims, and peers that must be refused.

use std::io::Write;
use std::time::Duration;

use meshdesk_tests::{Device, team_of_three, wait_until};
use serde_json::Value;

const SYNC: Duration = Duration::from_secs(30);

fn contact_names(d: &Device) -> Vec<String> {
    let list = d.json(&["contact", "list"]);
    list.as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn show(d: &Device, id: &str) -> Value {
    let out = d.run(&["--json", "interaction", "show", id]);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn bodies(v: &Value) -> Vec<String> {
    v["interaction"]["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["body"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn agent_id(d: &Device) -> String {
    d.json(&["team", "show"])["me"]["agent"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn three_nodes_share_contacts_messages_and_chat() {
    let (a, b, c) = team_of_three();
    let members = a.json(&["team", "members"]);
    assert_eq!(members.as_array().map(Vec::len), Some(3), "{members}");

    a.ok(&[
        "contact",
        "add",
        "--name",
        "Marta Ruiz",
        "--phone",
        "+34 600 100 200",
    ]);
    assert!(
        wait_until(SYNC, || contact_names(&c)
            .contains(&"Marta Ruiz".to_string())),
        "contact added on A never reached C"
    );

    let id = b.ok(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--to",
        "+1 555 0100",
        "--message",
        "Hello from Bo",
    ]);
    b.ok(&["interaction", "send", &id, "Second line"]);
    assert!(
        wait_until(SYNC, || bodies(&show(&a, &id))
            == ["Hello from Bo", "Second line"]),
        "B's messages never reached A: {}",
        show(&a, &id)
    );

    c.ok(&["chat", "send", "--campaign", "General", "Standup in 5"]);
    for d in [&a, &b, &c] {
        assert!(
            wait_until(SYNC, || d
                .ok(&["chat", "show", "--campaign", "General"])
                .contains("Standup in 5")),
            "the chat message never reached {}",
            d.name
        );
    }
    b.ok(&["chat", "send", "--agent", "Ana", "psst"]);
    assert!(wait_until(SYNC, || a
        .ok(&["chat", "show", "--agent", "Bo"])
        .contains("psst")));
}

#[test]
fn a_crashed_node_catches_up_after_restart() {
    let (a, b, mut c) = team_of_three();
    c.kill();

    let contact = a.ok(&[
        "contact",
        "add",
        "--name",
        "While C Was Down",
        "--email",
        "down@example.com",
    ]);
    let id = a.ok(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--contact",
        &contact,
        "--message",
        "first",
    ]);
    a.ok(&["interaction", "send", &id, "second"]);
    a.ok(&[
        "interaction",
        "finalize",
        &id,
        "--disposition",
        "Resolved",
        "--note",
        "done",
    ]);
    let other = b.ok(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--to",
        "+1 555 0111",
        "--message",
        "from Bo",
    ]);
    assert!(
        wait_until(SYNC, || show(&a, &other)["state"] == "active"),
        "A and B keep syncing while C is down"
    );

    c.start(&[a.addr()]);
    assert!(
        wait_until(SYNC, || show(&c, &id)["state"] == "closed"),
        "C never caught up: {}",
        show(&c, &id)
    );
    assert_eq!(bodies(&show(&c, &id)), ["first", "second"]);
    assert_eq!(show(&c, &id)["interaction"]["finalization"]["note"], "done");
    assert!(wait_until(SYNC, || bodies(&show(&c, &other)) == ["from Bo"]));
    assert!(contact_names(&c).contains(&"While C Was Down".to_string()));
}

#[test]
fn a_partition_with_two_claims_converges_on_one_owner_and_keeps_both_messages() {
    let (a, mut b, c) = team_of_three();
    let id = a.ok(&[
        "interaction",
        "enqueue",
        "--campaign",
        "General",
        "--from",
        "+1 555 0142",
        "--message",
        "please help",
    ]);
    assert!(
        wait_until(SYNC, || show(&b, &id)["state"] == "queued"),
        "the queued interaction never reached B"
    );

    // B is cut off; both sides take the same ring-all interaction and write into it.
    b.stop();
    a.ok(&["interaction", "accept", &id]);
    a.ok(&["interaction", "send", &id, "Ana here"]);
    std::thread::sleep(Duration::from_millis(20));
    b.ok(&["interaction", "accept", &id]);
    b.ok(&["interaction", "send", &id, "Bo here"]);
    b.start(&[a.addr()]);

    let ana = agent_id(&a);
    let bo = agent_id(&b);
    for d in [&a, &b, &c] {
        assert!(
            wait_until(SYNC, || {
                let v = show(d, &id);
                let mut got = bodies(&v);
                got.sort();
                v["owner"] == ana.as_str() && got == ["Ana here", "Bo here", "please help"]
            }),
            "{} did not converge: {}",
            d.name,
            show(d, &id)
        );
    }
    // The losing claim is known everywhere; Bo keeps read access.
    assert_eq!(show(&b, &id)["lost_claims"], serde_json::json!([bo]));
    let refused = b.run(&["interaction", "send", &id, "still me?"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("owned by Ana"));
}

#[test]
fn strangers_used_codes_expired_codes_and_garbage_are_refused() {
    let mut a = Device::new("A");
    a.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
    a.start(&[]);
    a.ok(&[
        "contact",
        "add",
        "--name",
        "Secret Customer",
        "--phone",
        "+34 600 000 001",
    ]);

    // A node of another team dials A: the team keys differ, nothing crosses.
    let mut stranger = Device::new("stranger");
    stranger.ok(&["team", "create", "--name", "Other", "--agent", "Eve"]);
    stranger.start(&[a.addr()]);
    assert!(
        wait_until(SYNC, || a.log().contains("refused an incoming connection")),
        "A should log the refused connection:\n{}",
        a.log()
    );
    assert!(!contact_names(&stranger).contains(&"Secret Customer".to_string()));
    stranger.stop();

    // A one-use code works once.
    let code = a.ok(&["team", "invite", "--uses", "1"]);
    let b = Device::new("B");
    b.ok(&["team", "join", &code, "--agent", "Bo", "--timeout", "20"]);
    let c = Device::new("C");
    let again = c.run(&["team", "join", &code, "--agent", "Cy", "--timeout", "20"]);
    assert_ne!(again.status.code(), Some(0));
    let message = String::from_utf8_lossy(&again.stderr);
    assert!(
        message.contains("already been used") || message.contains("refused"),
        "{message}"
    );
    assert!(
        contact_names_or_none(&c).is_empty(),
        "a refused device gets no data"
    );

    // An expired code is refused even though it carries the key.
    let short = a.ok(&["team", "invite", "--expires", "1s"]);
    std::thread::sleep(Duration::from_millis(1_500));
    let d = Device::new("D");
    let expired = d.run(&["team", "join", &short, "--agent", "Di", "--timeout", "20"]);
    assert_eq!(expired.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&expired.stderr).contains("expired"));

    // A malformed or truncated code is refused with a clear message.
    let cut = &code[..code.len() / 2];
    for bad in [cut, "hello", ""] {
        let out = d.run(&["team", "join", bad, "--agent", "Di"]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invite code"),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Garbage on A's port: that connection dies, A keeps serving the team.
    if let Ok(mut raw) = std::net::TcpStream::connect(("127.0.0.1", a.port())) {
        let _ = raw.write_all(&[0xde, 0xad, 0xbe, 0xef].repeat(4096));
    }
    let mut b = b;
    b.start(&[a.addr()]);
    a.ok(&[
        "contact",
        "add",
        "--name",
        "After Garbage",
        "--phone",
        "+34 600 000 002",
    ]);
    assert!(
        wait_until(SYNC, || contact_names(&b)
            .contains(&"After Garbage".to_string())),
        "A stopped serving after garbage"
    );
}

/// Contact names, or nothing when the device has no team.
fn contact_names_or_none(d: &Device) -> Vec<String> {
    let out = d.run(&["--json", "contact", "list"]);
    if !out.status.success() {
        return vec![];
    }
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| {
            v.as_array().map(|rows| {
                rows.iter()
                    .filter_map(|r| r["name"].as_str().map(String::from))
                    .collect()
            })
        })
        .unwrap_or_default()
}

#[test]
fn a_transfer_to_an_agent_reaches_them_and_finalize_starts_their_wrap_up() {
    let mut a = Device::new("A");
    a.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
    a.ok(&[
        "campaign",
        "add",
        "--name",
        "Billing",
        "--channel",
        "phone",
        "--strategy",
        "round-robin",
        "--member",
        "Ana",
        "--wrapup",
        "600",
        "--disposition",
        "Paid",
    ]);
    a.start(&[]);
    let mut b = Device::new("B");
    let code = a.ok(&["team", "invite"]);
    b.ok(&["team", "join", &code, "--agent", "Bo"]);
    b.start(&[a.addr()]);
    a.ok(&["status", "set", "available"]);
    b.ok(&["status", "set", "available"]);

    let id = a.ok(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--to",
        "+1 555 0100",
        "--message",
        "hi",
    ]);
    a.ok(&[
        "interaction",
        "transfer",
        &id,
        "--agent",
        "Bo",
        "--note",
        "VIP, handle with care",
    ]);
    assert!(
        wait_until(SYNC, || {
            let pending = b.json(&["interaction", "list", "--tab", "pending"]);
            pending[0]["id"] == id.as_str()
                && pending[0]["transfer_note"] == "VIP, handle with care"
                && pending[0]["offer"] == "directed"
        }),
        "the directed transfer never reached Bo's Pending: {}",
        b.json(&["interaction", "list", "--tab", "pending"])
    );
    // Ana does not see it in her Pending: it is Bo's.
    assert_eq!(
        a.json(&["interaction", "list", "--tab", "pending"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    b.ok(&["interaction", "accept", &id]);
    assert!(wait_until(SYNC, || show(&a, &id)["owner"] == agent_id(&b).as_str()));

    // Back to a campaign: the original enqueued_at is kept.
    let enqueued = show(&b, &id)["interaction"]["enqueued_at"].clone();
    b.ok(&[
        "interaction",
        "transfer",
        &id,
        "--campaign",
        "Billing",
        "--note",
        "billing question",
    ]);
    assert!(wait_until(SYNC, || show(&a, &id)["state"] == "queued"));
    assert_eq!(show(&a, &id)["interaction"]["enqueued_at"], enqueued);
    a.ok(&["interaction", "accept", &id]);
    let refused = a.run(&["interaction", "finalize", &id, "--disposition", "Resolved"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "Billing's dispositions are Paid only"
    );
    a.ok(&["interaction", "finalize", &id, "--disposition", "paid"]);
    assert_eq!(show(&a, &id)["state"], "wrap-up");
    let queued = a.ok(&[
        "interaction",
        "enqueue",
        "--campaign",
        "Billing",
        "--from",
        "+1 555 0101",
    ]);
    let explained = a.json(&["route", "explain", "--campaign", "Billing"]);
    assert_eq!(explained[0]["interaction"], queued.as_str());
    assert_eq!(
        explained[0]["candidates"][0]["verdict"], "in-wrap-up",
        "{explained}"
    );
}

fn this_device(d: &Device) -> String {
    d.json(&["team", "members"])
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r["this_device"] == Value::Bool(true))
                .and_then(|r| r["device"].as_str().map(String::from))
        })
        .unwrap_or_default()
}

fn is_revoked(d: &Device, device: &str) -> bool {
    d.json(&["team", "members"]).as_array().is_some_and(|rows| {
        rows.iter()
            .any(|r| r["device"] == device && r["revoked"] == Value::Bool(true))
    })
}

#[test]
fn a_revoked_device_is_cut_off_and_what_it_writes_afterwards_reaches_nobody() {
    let (a, b, c) = team_of_three();
    let c_device = this_device(&c);
    assert!(!c_device.is_empty());
    a.ok(&["contact", "add", "--name", "Before"]);
    assert!(
        wait_until(SYNC, || contact_names(&c).contains(&"Before".to_string())),
        "C never synced"
    );

    let team_key = |d: &Device| std::fs::read(d.data_dir().join("team.psk")).unwrap_or_default();
    let old_key = team_key(&a);
    a.ok(&["team", "revoke", &c_device]);
    assert!(
        wait_until(SYNC, || is_revoked(&b, &c_device)),
        "B never learned of the revocation"
    );
    // The team key is rotated: A and B hold the new one, C only the old.
    assert!(
        wait_until(SYNC, || team_key(&a) != old_key
            && team_key(&b) == team_key(&a)),
        "A and B never switched to one new team key"
    );
    assert_eq!(team_key(&c), old_key);
    // C keeps working on its own copy; none of it may reach A or B.
    c.ok(&["contact", "add", "--name", "Written after revocation"]);
    a.ok(&["contact", "add", "--name", "After"]);
    assert!(
        wait_until(SYNC, || contact_names(&b).contains(&"After".to_string())),
        "A and B stopped syncing"
    );
    std::thread::sleep(Duration::from_secs(3));
    for d in [&a, &b] {
        let names = contact_names(d);
        assert!(
            !names.contains(&"Written after revocation".to_string()),
            "{}: {names:?}",
            d.log()
        );
    }
}
