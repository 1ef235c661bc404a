//! History across real nodes: each agent's own closed work by default, the
//! team's on request, whichever node closed it.

use std::time::Duration;

use meshdesk_tests::{Device, team_of_two, wait_until};

/// A call started and closed on `device`; its id.
fn closed_call(device: &Device, to: &str, disposition: &str) -> String {
    let made = device.json(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--to",
        to,
    ]);
    let id = made["id"].as_str().expect("an interaction id").to_string();
    device.ok(&["interaction", "finalize", &id, "--disposition", disposition]);
    id
}

fn history(device: &Device, flags: &[&str]) -> Vec<String> {
    let mut args = vec!["interaction", "list", "--tab", "history"];
    args.extend_from_slice(flags);
    device
        .json(&args)
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn each_agent_sees_their_own_history_and_the_team_sees_all_of_it() {
    let (a, b) = team_of_two();
    let anas = closed_call(&a, "+34600100200", "Resolved");
    let bos = closed_call(&b, "+34600100201", "Callback");
    for device in [&a, &b] {
        assert!(
            wait_until(Duration::from_secs(20), || history(device, &["--team"])
                .len()
                == 2),
            "the team's history never reached both calls: {:?}\n--- log ---\n{}",
            history(device, &["--team"]),
            device.log()
        );
    }
    // On either node, Mine is the agent's own, wherever it was closed.
    assert_eq!(history(&a, &[]), std::slice::from_ref(&anas));
    assert_eq!(history(&b, &[]), std::slice::from_ref(&bos));
    assert_eq!(
        history(&a, &["--team", "--disposition", "callback"]),
        std::slice::from_ref(&bos)
    );
    assert!(history(&a, &["--disposition", "callback"]).is_empty());
}
