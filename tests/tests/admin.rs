//! Team administration from the CLI (issue 13), on real nodes: a
//! supervisor edits a campaign and the break reasons, teammates see the
//! change after sync, an agent is refused, and a bad value writes nothing.

use std::time::Duration;

use meshdesk_tests::{team_of_three, wait_until};

#[test]
fn a_supervisor_edits_a_campaign_and_break_reasons_and_every_node_sees_it() {
    let (a, b, _c) = team_of_three();
    a.ok(&[
        "campaign",
        "add",
        "--name",
        "Orders",
        "--channel",
        "phone",
        "--strategy",
        "round-robin",
    ]);
    let campaign = a.json(&["campaign", "show", "General"]);
    let general = campaign["id"].as_str().expect("an id").to_string();

    // Bo and Cy join the routing order, Cy first; an SLA; new dispositions.
    let edited = a.json(&[
        "campaign",
        "edit",
        "General",
        "--rename",
        "Support line",
        "--member",
        "Cy",
        "--member",
        "Ana",
        "--member",
        "Bo",
        "--sla",
        "30",
        "--disposition",
        "Solved",
        "--disposition",
        "Escalated",
        "--field",
        "Order:required",
    ]);
    assert_eq!(edited["name"], "Support line");
    assert_eq!(edited["sla_seconds"], 30);
    let synced = wait_until(Duration::from_secs(20), || {
        let on_b = b.json(&["campaign", "show", &general]);
        on_b["name"] == "Support line"
            && on_b["members"].as_array().map(Vec::len) == Some(3)
            && on_b["dispositions"] == serde_json::json!(["Solved", "Escalated"])
    });
    assert!(
        synced,
        "B never saw the edit: {}",
        b.json(&["campaign", "show", &general])
    );
    let on_b = b.json(&["campaign", "show", &general]);
    let members: Vec<String> = on_b["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    let team = b.json(&["team", "show"]);
    let names: Vec<String> = members
        .iter()
        .map(|id| {
            team["agents"]
                .as_array()
                .and_then(|agents| agents.iter().find(|a| a["id"] == id.as_str()))
                .and_then(|a| a["name"].as_str())
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    assert_eq!(names, ["Cy", "Ana", "Bo"], "the routing order");
    assert_eq!(on_b["fields"][0]["name"], "Order");
    assert_eq!(on_b["fields"][0]["required"], true);

    // What is not given stays.
    a.ok(&["campaign", "edit", "Support line", "--capacity", "3"]);
    let again = a.json(&["campaign", "show", "Support line"]);
    assert_eq!(again["capacity"], 3);
    assert_eq!(again["sla_seconds"], 30);
    assert_eq!(
        again["dispositions"],
        serde_json::json!(["Solved", "Escalated"])
    );

    // A bad value is refused with its reason, and nothing is written.
    for (args, reason) in [
        (
            vec!["campaign", "edit", "Support line", "--member", "Nobody"],
            "unknown agent `Nobody`",
        ),
        (
            vec!["campaign", "edit", "Support line", "--disposition", "  "],
            "disposition",
        ),
        (
            vec!["campaign", "edit", "Support line", "--rename", "Orders"],
            "already exists",
        ),
        (
            vec!["campaign", "edit", "Nowhere", "--sla", "1"],
            "unknown campaign",
        ),
        (
            vec![
                "campaign",
                "edit",
                "Support line",
                "--hours",
                "mon-fri 09:00-25:00",
                "--closed-message",
                "Closed",
            ],
            "no opening span",
        ),
        (
            vec![
                "campaign",
                "edit",
                "Support line",
                "--hours",
                "daily 09:00-17:00",
            ],
            "a closed message is needed",
        ),
    ] {
        let out = a.run(&args);
        assert!(!out.status.success(), "{args:?} was accepted");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(reason), "{args:?}: {said}");
    }
    assert_eq!(a.json(&["campaign", "show", "Support line"]), again);

    // Business hours reach the teammates; --always-open takes them away.
    a.ok(&[
        "campaign",
        "edit",
        "Support line",
        "--hours",
        "mon-fri 09:00-18:00; sat 10:00-14:00",
        "--zone",
        "Europe/Madrid",
        "--closed-message",
        "Closed until Monday 9:00",
    ]);
    let synced = wait_until(Duration::from_secs(20), || {
        b.json(&["campaign", "show", &general])["hours"]["zone"] == "Europe/Madrid"
    });
    assert!(synced, "B has {}", b.json(&["campaign", "show", &general]));
    a.ok(&["campaign", "edit", "Support line", "--always-open"]);
    assert!(a.json(&["campaign", "show", "Support line"])["hours"].is_null());

    // An agent may not.
    let out = b.run(&["campaign", "edit", "Support line", "--sla", "5"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only a supervisor can edit campaigns"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Break reasons: added, refused twice, removed; teammates see them.
    a.ok(&["break-reason", "add", "Coaching"]);
    let twice = a.run(&["break-reason", "add", "coaching"]);
    assert!(String::from_utf8_lossy(&twice.stderr).contains("already exists"));
    a.ok(&["break-reason", "remove", "Lunch"]);
    let gone = a.run(&["break-reason", "remove", "Lunch"]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no break reason `Lunch`"));
    let reasons_on_b = || b.json(&["team", "show"])["team"]["break_reasons"].clone();
    let synced = wait_until(Duration::from_secs(20), || {
        reasons_on_b() == serde_json::json!(["Training", "Meeting", "Coaching"])
    });
    assert!(synced, "B has {}", reasons_on_b());
    let out = b.run(&["break-reason", "add", "Nap"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("only a supervisor"));
}

/// The board's row of `name` in `rows` (campaigns or agents).
fn row<'a>(board: &'a serde_json::Value, rows: &str, name: &str) -> &'a serde_json::Value {
    board[rows]
        .as_array()
        .and_then(|list| list.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in the board's {rows}: {board}"))
}

#[test]
fn the_board_shows_a_queued_customer_and_a_teammates_status_from_another_node() {
    let (a, b, _c) = team_of_three();
    let id = a.ok(&[
        "interaction",
        "enqueue",
        "--campaign",
        "General",
        "--from",
        "+34 600 100 200",
        "--message",
        "Hello?",
    ]);
    let board = a.json(&["board"]);
    let general = row(&board, "campaigns", "General");
    assert_eq!(general["waiting"], 1, "{board}");
    assert!(general["longest_wait_ms"].as_i64().is_some(), "{board}");
    assert_eq!(general["offered_today"], 1, "{board}");
    // Joining agents are added to General: all three are logged in.
    assert_eq!(general["agents_logged_in"], 3, "{board}");

    // Bo, on his own machine, answers it and then takes a break: A's board
    // shows both once they have synced.
    assert!(
        wait_until(Duration::from_secs(20), || b
            .run(&["interaction", "accept", &id])
            .status
            .success()),
        "B could not accept {id}"
    );
    b.ok(&["status", "set", "break", "--reason", "Training"]);
    let shown = wait_until(Duration::from_secs(20), || {
        let board = a.json(&["board"]);
        let bo = row(&board, "agents", "Bo");
        row(&board, "campaigns", "General")["waiting"] == 0
            && bo["active"] == 1
            && bo["status"]["status"] == "break"
            && bo["status"]["reason"] == "Training"
    });
    assert!(shown, "{}", a.json(&["board"]));
    let board = a.json(&["board"]);
    assert_eq!(row(&board, "campaigns", "General")["answered_today"], 1);
    let text = a.ok(&["board"]);
    assert!(text.contains("break (Training)"), "{text}");

    // Bo's machine is gone: Ana sets him Offline and gives him a capacity;
    // Bo's own node takes both when they meet again.
    a.ok(&["agent", "offline", "Bo"]);
    a.ok(&["agent", "capacity", "Bo", "2"]);
    let board = a.json(&["board"]);
    let bo = row(&board, "agents", "Bo");
    assert_eq!(bo["status"]["status"], "offline", "{board}");
    assert_eq!(bo["capacity"], 2, "{board}");
    let synced = wait_until(Duration::from_secs(20), || {
        let me = b.json(&["status", "show"]);
        me["status"]["status"] == "offline" && me["capacity"] == 2
    });
    assert!(synced, "Bo's node has {}", b.json(&["status", "show"]));
    let refused = b.run(&["agent", "offline", "Ana"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("only a supervisor"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // An agent has no board.
    let out = b.run(&["board"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only a supervisor can see the board"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The ids of the agents in `campaign`, as `name`s, on `device`.
fn members_of(device: &meshdesk_tests::Device, campaign: &str) -> Vec<String> {
    let team = device.json(&["team", "show"]);
    let shown = device.json(&["campaign", "show", campaign]);
    shown["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|id| {
            team["agents"]
                .as_array()
                .and_then(|agents| agents.iter().find(|a| &a["id"] == id))
                .and_then(|a| a["name"].as_str())
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

#[test]
fn invites_name_the_joiners_campaigns_can_be_cancelled_and_agents_are_edited() {
    let (a, b) = meshdesk_tests::team_of_two();
    for name in ["Orders", "Returns", "Solo"] {
        a.ok(&[
            "campaign",
            "add",
            "--name",
            name,
            "--channel",
            "phone",
            "--strategy",
            "round-robin",
        ]);
    }

    // Cy joins with an invite that names Orders and Returns: Cy is in both
    // and not in General.
    let code = a.ok(&[
        "team",
        "invite",
        "--campaign",
        "Orders",
        "--campaign",
        "Returns",
    ]);
    let shown = a.ok(&["team", "invites"]);
    assert!(shown.contains("into Orders, Returns"), "{shown}");
    let c = meshdesk_tests::Device::new("C");
    c.ok(&["team", "join", &code, "--agent", "Cy"]);
    assert_eq!(members_of(&a, "Orders"), ["Ana", "Cy"]);
    assert_eq!(members_of(&a, "Returns"), ["Ana", "Cy"]);
    assert!(!members_of(&a, "General").contains(&"Cy".to_string()));
    assert_eq!(a.ok(&["team", "invites"]).trim(), "no open invites");
    let refused = a.run(&["team", "invite", "--campaign", "Nowhere"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("unknown campaign `Nowhere`"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // An open invite is listed, cancelled by its id, and then admits no one.
    let code = a.ok(&["team", "invite", "--uses", "2"]);
    let open = a.json(&["team", "invites"]);
    let hash = open[0]["token_hash"]
        .as_str()
        .expect("a token hash")
        .to_string();
    assert_eq!(open.as_array().map(Vec::len), Some(1), "{open}");
    let short = a.run(&["team", "cancel-invite", &hash[..4]]);
    assert!(String::from_utf8_lossy(&short.stderr).contains("no open invite"));
    a.ok(&["team", "cancel-invite", &hash[..12]]);
    assert_eq!(a.json(&["team", "invites"]), serde_json::json!([]));
    let d = meshdesk_tests::Device::new("D");
    let out = d.run(&["team", "join", &code, "--agent", "Di", "--timeout", "15"]);
    assert!(!out.status.success(), "a cancelled invite admitted Di");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown invite"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Refusals write nothing: an agent editing, the last supervisor
    // stepping down, a campaign left empty, an unknown campaign.
    let before = a.json(&["team", "show"])["team"].clone();
    for (who, args, reason) in [
        (
            &b,
            vec!["agent", "edit", "Bo", "--role", "supervisor"],
            "only a supervisor",
        ),
        (
            &a,
            vec!["agent", "edit", "Ana", "--role", "agent"],
            "last supervisor",
        ),
        (
            &a,
            vec!["agent", "edit", "Ana", "--campaign", "General"],
            "no members left",
        ),
        (
            &a,
            vec!["agent", "edit", "Cy", "--campaign", "Nowhere"],
            "unknown campaign",
        ),
        (&a, vec!["agent", "edit", "Cy", "--role", "boss"], "boss"),
    ] {
        let out = who.run(&args);
        assert!(!out.status.success(), "{args:?} was accepted");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(reason), "{args:?}: {said}");
    }
    assert_eq!(a.json(&["team", "show"])["team"], before);

    // Bo becomes a supervisor in Orders only, with a capacity; his own node
    // takes it, and he can now administer.
    let bo = a.json(&[
        "agent",
        "edit",
        "Bo",
        "--role",
        "supervisor",
        "--campaign",
        "Orders",
        "--capacity",
        "4",
    ]);
    assert_eq!(bo["capacity"], 4, "{bo}");
    assert_eq!(members_of(&a, "Orders"), ["Ana", "Cy", "Bo"]);
    assert_eq!(members_of(&a, "General"), ["Ana"]);
    let promoted = wait_until(Duration::from_secs(20), || {
        b.run(&["campaign", "edit", "Returns", "--sla", "45"])
            .status
            .success()
    });
    assert!(promoted, "Bo's node never saw him made supervisor");
    assert_eq!(b.json(&["status", "show"])["capacity"], 4);
    let seen = wait_until(Duration::from_secs(20), || {
        a.json(&["campaign", "show", "Returns"])["sla_seconds"] == 45
    });
    assert!(seen, "A never saw Bo's edit");
    // With two supervisors, Ana may step down.
    a.ok(&["agent", "edit", "Ana", "--role", "agent"]);
}
