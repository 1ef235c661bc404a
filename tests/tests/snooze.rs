//! Snoozes across real nodes: a snooze Bo sets on his node reaches the
//! team, and comes due by the clock alone, even while his node is off; when
//! it is next running it is back in his Active and announced once.

use std::time::{Duration, Instant};

use meshdesk_tests::{Device, team_of_two, wait_until};

fn ids(device: &Device, args: &[&str]) -> Vec<String> {
    device
        .json(args)
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_snooze_set_on_b_fires_once_when_due_even_while_b_is_off() {
    let (a, mut b) = team_of_two();
    let new_call: Vec<&str> =
        "interaction new --channel phone --campaign General --to +34600100200"
            .split(' ')
            .collect();
    let id = b.json(&new_call)["id"]
        .as_str()
        .expect("an interaction id")
        .to_string();
    let set_at = Instant::now();
    b.ok(&[
        "interaction",
        "snooze",
        &id,
        "--for",
        "8s",
        "--callback",
        "--note",
        "Call back about the invoice",
    ]);
    // Out of Bo's Active at once, in his Snoozed.
    assert!(ids(&b, &["interaction", "list"]).is_empty());
    assert_eq!(
        ids(&b, &["interaction", "list", "--tab", "snoozed"]),
        vec![id.clone()]
    );
    // The team sees it; only Bo may snooze his own.
    assert!(
        wait_until(Duration::from_secs(20), || {
            a.ok(&["interaction", "show", &id])
                .contains("snooze:    callback at")
        }),
        "A never saw the snooze\n--- B's log ---\n{}",
        b.log()
    );
    let refused = a.run(&["interaction", "snooze", &id, "--for", "1h"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("owned by Bo, not you"));

    // B is off when it comes due: nobody writes, yet on A it is no longer snoozed.
    b.stop();
    std::thread::sleep(Duration::from_secs(11).saturating_sub(set_at.elapsed()));
    let shown = a.ok(&["interaction", "show", &id]);
    assert!(!shown.contains("snooze:"), "{shown}");
    assert!(shown.contains("owner:     Bo"), "{shown}");

    // B again: back in Bo's Active, once, and announced once.
    b.start(&[a.addr()]);
    assert_eq!(ids(&b, &["interaction", "list"]), vec![id.clone()]);
    assert!(ids(&b, &["interaction", "list", "--tab", "snoozed"]).is_empty());
    assert_eq!(ids(&b, &["interaction", "due"]), vec![id.clone()]);
    assert!(ids(&b, &["interaction", "due"]).is_empty());
    // Not again after another restart: the mark is kept on disk.
    b.stop();
    b.start(&[a.addr()]);
    assert!(ids(&b, &["interaction", "due"]).is_empty());
    assert_eq!(ids(&b, &["interaction", "list"]), vec![id]);
}

#[test]
fn a_snooze_that_comes_due_while_the_node_runs_is_reported_once() {
    let (_a, b) = team_of_two();
    let new_call: Vec<&str> =
        "interaction new --channel phone --campaign General --to +34600100300"
            .split(' ')
            .collect();
    let id = b.json(&new_call)["id"]
        .as_str()
        .expect("an interaction id")
        .to_string();
    b.ok(&["interaction", "snooze", &id, "--for", "3s"]);
    assert!(
        wait_until(Duration::from_secs(15), || b
            .log()
            .contains("snooze came due")),
        "B's node never reported it\n--- B's log ---\n{}",
        b.log()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(b.log().matches("snooze came due").count(), 1, "{}", b.log());
    assert_eq!(ids(&b, &["interaction", "list"]), vec![id.clone()]);
    assert_eq!(ids(&b, &["interaction", "due"]), vec![id]);
}
