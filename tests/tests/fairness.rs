//! Round-robin across real `meshdesk` processes: customers arriving in a quick
//! burst on one machine are shared evenly, although each node offers and
//! auto-accepts before its teammates' claims have reached it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use meshdesk_tests::{Device, team_of_three, wait_until};
use serde_json::Value;

const SYNC: Duration = Duration::from_secs(30);
const CUSTOMERS: usize = 30;

fn agent_id(d: &Device) -> String {
    d.json(&["team", "show"])["me"]["agent"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The agents `route explain` says are offered the first queued interaction
/// of `campaign` on `d` (ring-all: everyone eligible, as `d` sees presence).
fn rung(d: &Device, campaign: &str) -> usize {
    let explained = d.json(&["route", "explain", "--campaign", campaign]);
    explained[0]["candidates"]
        .as_array()
        .map_or(0, |c| c.iter().filter(|c| c["verdict"] == "chosen").count())
}

/// The ids in `d`'s Active tab (its own agent's open interactions).
fn active_ids(d: &Device) -> Vec<String> {
    let out = d.run(&[
        "--json",
        "interaction",
        "list",
        "--tab",
        "active",
        "--limit",
        "500",
    ]);
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| {
            v["rows"].as_array().map(|rows| {
                rows.iter()
                    .filter_map(|r| r["id"].as_str().map(String::from))
                    .collect()
            })
        })
        .unwrap_or_default()
}

fn show(d: &Device, id: &str) -> Value {
    let out = d.run(&["--json", "interaction", "show", id]);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn a_burst_on_one_node_is_shared_round_robin_within_one() {
    // Three machines, one agent each.
    let (a, b, c) = team_of_three();
    a.ok(&[
        "campaign",
        "add",
        "--name",
        "Sales",
        "--channel",
        "phone",
        "--strategy",
        "round-robin",
        "--auto-accept",
        "--member",
        "Ana",
        "--member",
        "Bo",
        "--member",
        "Cy",
    ]);
    // A ring-all probe: once every node rings all three agents, every node
    // has the campaign, the roster and everyone's presence.
    a.ok(&[
        "campaign",
        "add",
        "--name",
        "Probe",
        "--channel",
        "phone",
        "--strategy",
        "ring-all",
        "--member",
        "Ana",
        "--member",
        "Bo",
        "--member",
        "Cy",
    ]);
    a.ok(&[
        "interaction",
        "enqueue",
        "--campaign",
        "Probe",
        "--from",
        "+1 555 0100",
    ]);
    for d in [&a, &b, &c] {
        assert!(
            wait_until(SYNC, || rung(d, "Probe") == 3
                && d.json(&["campaign", "list"])
                    .as_array()
                    .is_some_and(|l| l.iter().any(|c| c["name"] == "Sales"))),
            "{} never saw the campaigns and all three agents available: {}",
            d.name,
            d.json(&["route", "explain"])
        );
    }

    // The burst: thirty customers on A, six at a time.
    let started = Instant::now();
    let mut ids: Vec<String> = Vec::new();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..6)
            .map(|w| {
                let a = &a;
                s.spawn(move || {
                    (0..CUSTOMERS / 6)
                        .map(|i| {
                            let from = format!("+1 555 {:04}", 1000 + w * 100 + i);
                            a.ok(&[
                                "interaction",
                                "enqueue",
                                "--campaign",
                                "Sales",
                                "--from",
                                &from,
                            ])
                        })
                        .collect::<Vec<String>>()
                })
            })
            .collect();
        for worker in workers {
            ids.extend(worker.join().expect("enqueue worker"));
        }
    });
    let burst = started.elapsed();

    // Every customer is claimed, each once, and the nodes agree on the owners.
    let nodes = [(&a, agent_id(&a)), (&b, agent_id(&b)), (&c, agent_id(&c))];
    let all_claimed = wait_until(SYNC, || {
        nodes
            .iter()
            .map(|(d, _)| active_ids(d).len())
            .sum::<usize>()
            == CUSTOMERS
    });
    let owners = |d: &Device| -> BTreeMap<String, String> {
        ids.iter()
            .map(|id| {
                let v = show(d, id);
                let owner = v["owner"].as_str().unwrap_or("nobody").to_string();
                (id.clone(), owner)
            })
            .collect()
    };
    let seen_by_a = owners(&a);
    assert!(
        all_claimed,
        "not every customer was claimed (the burst took {burst:?}): {seen_by_a:?}"
    );
    for (d, _) in &nodes[1..] {
        assert!(
            wait_until(SYNC, || owners(d) == seen_by_a),
            "{} sees other owners than A",
            d.name
        );
    }
    for id in &ids {
        let lost = &show(&a, id)["lost_claims"];
        assert_eq!(
            lost,
            &serde_json::json!([]),
            "{id} was claimed by more than one node"
        );
    }
    let split: Vec<(String, usize)> = nodes
        .iter()
        .map(|(d, agent)| {
            let n = seen_by_a.values().filter(|o| *o == agent).count();
            (d.name.clone(), n)
        })
        .collect();
    let fair = CUSTOMERS / 3;
    assert!(
        split.iter().all(|(_, n)| n.abs_diff(fair) <= 1),
        "round-robin split {split:?} (the burst took {burst:?})"
    );
    eprintln!(
        "split {split:?}, burst {burst:?}, total {:?}",
        started.elapsed()
    );
}
