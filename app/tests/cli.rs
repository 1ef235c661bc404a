//! The real `meshdesk` binary against a temp data dir: every sub-command, and
//! every kind of bad input (exit 2, one line naming the problem, nothing written).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use meshdesk_model::store::Store;

/// A command line's arguments, split at spaces (for arguments without any).
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

struct Cli {
    dir: tempfile::TempDir,
}

/// Everything the store holds, to prove a refused command wrote nothing.
#[derive(Debug, PartialEq)]
struct StoreState {
    projections: Vec<(String, Vec<u8>)>,
    docs: Vec<(String, Option<Vec<u8>>)>,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_meshdesk"))
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("MESHDESK_DATA_DIR")
            .output()
            .expect("run meshdesk")
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("one JSON document")
    }

    fn state(&self) -> StoreState {
        let path: PathBuf = self.data_dir().join("meshdesk.redb");
        let mut store = Store::open(path, meshdesk_model::authorship::DeviceKey::generate())
            .expect("open store");
        let projections = store.projection_dump().expect("dump");
        let ids = store.doc_ids().expect("ids");
        let docs = ids
            .into_iter()
            .map(|id| (id.clone(), store.doc_bytes(&id).expect("doc")))
            .collect();
        StoreState { projections, docs }
    }

    /// Runs a command that must be refused: exit 2, one line naming `expected`, store unchanged.
    fn refused(&self, args: &[&str], expected: &str) {
        let before = self
            .data_dir()
            .join("meshdesk.redb")
            .exists()
            .then(|| self.state());
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} should exit 2; stderr: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{args:?}: stderr `{stderr}` should mention `{expected}`"
        );
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{args:?}: one line on stderr, got `{stderr}`"
        );
        if let Some(before) = before {
            assert_eq!(self.state(), before, "{args:?} changed the store");
        }
    }

    fn with_team() -> Cli {
        let cli = Cli::new();
        cli.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
        cli
    }
}

#[test]
fn without_a_team_every_command_says_so() {
    let cli = Cli::new();
    cli.refused(&["contact", "list"], "no team yet");
    cli.refused(&["interaction", "list"], "no team yet");
    cli.refused(&["status", "show"], "no team yet");
}

#[test]
fn team_campaign_and_status_commands() {
    let cli = Cli::with_team();
    let team = cli.json(&["team", "show"]);
    assert_eq!(team["team"]["name"], "Support");
    assert_eq!(team["agents"][0]["name"], "Ana");
    cli.refused(
        &["team", "create", "--name", "Again", "--agent", "Bo"],
        "already holds team `Support`",
    );

    let general = cli.json(&["campaign", "show", "General"]);
    assert_eq!(general["channel"], "phone");
    assert_eq!(general["strategy"], "ring-all");
    assert_eq!(
        general["dispositions"],
        serde_json::json!(["Resolved", "Callback", "No answer"])
    );

    cli.ok(&[
        "campaign",
        "add",
        "--name",
        "Orders",
        "--channel",
        "webchat",
        "--strategy",
        "round-robin",
        "--member",
        "Ana",
        "--disposition",
        "Sold",
        "--disposition",
        "Lost",
        "--field",
        "Order:required",
        "--field",
        "Notes",
        "--capacity",
        "3",
        "--auto-accept",
        "--sla",
        "60",
        "--wrapup",
        "30",
    ]);
    let orders = cli.json(&["campaign", "show", "orders"]);
    assert_eq!(orders["capacity"], 3);
    assert_eq!(orders["auto_accept"], true);
    assert_eq!(orders["wrapup_seconds"], 30);
    assert_eq!(
        orders["fields"][0],
        serde_json::json!({"name": "Order", "required": true})
    );
    let list = cli.ok(&["campaign", "list"]);
    assert!(
        list.contains("Orders") && list.contains("General"),
        "{list}"
    );

    cli.refused(
        &[
            "campaign",
            "add",
            "--name",
            "Orders",
            "--channel",
            "phone",
            "--strategy",
            "top-down",
        ],
        "already exists",
    );
    cli.refused(
        &[
            "campaign",
            "add",
            "--name",
            "X",
            "--channel",
            "phone",
            "--strategy",
            "top-down",
            "--member",
            "Zed",
        ],
        "unknown agent `Zed`",
    );
    cli.refused(&["campaign", "show", "Nope"], "unknown campaign `Nope`");
    let bad_strategy = cli.run(&[
        "campaign",
        "add",
        "--name",
        "X",
        "--channel",
        "phone",
        "--strategy",
        "fastest",
    ]);
    assert_eq!(bad_strategy.status.code(), Some(2));

    cli.ok(&["status", "set", "break", "--reason", "Lunch"]);
    assert!(cli.ok(&["status", "show"]).contains("break (Lunch)"));
    cli.ok(&["status", "set", "available"]);
    assert_eq!(
        cli.json(&["status", "show"])["status"]["status"],
        "available"
    );
    cli.ok(&["status", "set", "offline"]);
    assert!(cli.ok(&["status", "show"]).contains("offline"));
}

#[test]
fn phonebook_commands_and_their_bad_input() {
    let cli = Cli::with_team();
    let id = cli.ok(&[
        "contact",
        "add",
        "--name",
        "Marta Ruiz",
        "--phone",
        "+34 600 100 200",
        "--email",
        "marta@example.com",
        "--company",
        "Acme",
        "--tag",
        "vip",
    ]);
    cli.ok(&[
        "contact",
        "add",
        "--name",
        "Bruno Diaz",
        "--phone",
        "555-0100",
    ]);
    let listed = cli.json(&["contact", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    assert_eq!(listed[0]["name"], "Bruno Diaz", "name order");
    let found = cli.json(&["contact", "list", "--search", "acme"]);
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    assert_eq!(found[0]["id"], id.as_str());

    cli.ok(&[
        "contact",
        "edit",
        &id,
        "--company",
        "Acme Iberia",
        "--phone",
        "+34 600 999 000",
    ]);
    let shown = cli.json(&["contact", "show", &id]);
    assert_eq!(shown["contact"]["company"], "Acme Iberia");
    assert_eq!(
        shown["contact"]["phones"],
        serde_json::json!(["+34 600 999 000"])
    );
    assert_eq!(
        shown["contact"]["emails"],
        serde_json::json!(["marta@example.com"]),
        "untouched lists stay"
    );

    cli.refused(
        &["contact", "add", "--name", "X", "--phone", "call me maybe"],
        "malformed phone number",
    );
    cli.refused(
        &[
            "contact",
            "add",
            "--name",
            "X",
            "--email",
            "marta-at-example",
        ],
        "malformed email address",
    );
    cli.refused(&["contact", "add", "--name", "  "], "must not be empty");
    cli.refused(
        &["contact", "edit", &id, "--email", "nope"],
        "malformed email address",
    );
    cli.refused(
        &["contact", "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
        "unknown contact id",
    );
    cli.refused(
        &["contact", "show", "garbage"],
        "unknown contact id `garbage`",
    );

    cli.ok(&["contact", "delete", &id]);
    cli.refused(&["contact", "show", &id], "unknown contact id");
    assert_eq!(
        cli.json(&["contact", "list"]).as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn interaction_lifecycle_and_its_bad_input() {
    let cli = Cli::with_team();
    cli.ok(&[
        "campaign",
        "add",
        "--name",
        "Orders",
        "--channel",
        "phone",
        "--strategy",
        "top-down",
        "--field",
        "Order:required",
        "--disposition",
        "Sold",
    ]);
    let contact = cli.ok(&[
        "contact",
        "add",
        "--name",
        "Marta Ruiz",
        "--phone",
        "+34 600 100 200",
    ]);

    let id = cli.ok(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--contact",
        &contact,
        "--message",
        "Calling about the router",
    ]);
    let active = cli.json(&["interaction", "list", "--tab", "active"]);
    assert_eq!(active[0]["id"], id.as_str());
    assert_eq!(active[0]["state"], "active");
    assert_eq!(active[0]["contact_name"], "Marta Ruiz");

    cli.ok(&["interaction", "send", &id, "Is it blinking red?"]);
    cli.ok(&["interaction", "note", &id, "Customer has model X"]);
    cli.ok(&["interaction", "tag", &id, "router"]);
    let shown = cli.json(&["interaction", "show", &id]);
    assert_eq!(
        shown["interaction"]["messages"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        shown["interaction"]["notes"][0]["text"],
        "Customer has model X"
    );
    assert_eq!(shown["interaction"]["tags"], serde_json::json!(["router"]));
    let text = cli.ok(&["interaction", "show", &id]);
    assert!(text.contains("Is it blinking red?"), "{text}");

    let searched = cli.json(&[
        "interaction",
        "list",
        "--tab",
        "active",
        "--search",
        "blinking",
    ]);
    assert_eq!(searched.as_array().map(Vec::len), Some(1));
    let none = cli.json(&[
        "interaction",
        "list",
        "--tab",
        "history",
        "--search",
        "blinking",
    ]);
    assert_eq!(none.as_array().map(Vec::len), Some(0));

    cli.refused(
        &["interaction", "finalize", &id, "--disposition", "Sold"],
        "disposition `Sold` is not in campaign `General`'s list",
    );
    cli.ok(&[
        "interaction",
        "finalize",
        &id,
        "--disposition",
        "resolved",
        "--note",
        "fixed",
    ]);
    assert_eq!(
        cli.json(&["interaction", "list", "--tab", "active"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let history = cli.json(&["interaction", "list", "--tab", "history"]);
    assert_eq!(history[0]["id"], id.as_str());
    assert_eq!(history[0]["finalized"]["disposition"], "Resolved");
    cli.refused(&["interaction", "send", &id, "too late"], "is closed");

    // Outbound to a typed address, with the campaign's required field.
    cli.refused(
        &[
            "interaction",
            "new",
            "--channel",
            "phone",
            "--campaign",
            "Orders",
            "--to",
            "+1 555 0100",
        ],
        "missing required field `Order` for campaign `Orders`",
    );
    cli.refused(
        &[
            "interaction",
            "new",
            "--channel",
            "phone",
            "--campaign",
            "Nope",
            "--to",
            "+1 555 0100",
        ],
        "unknown campaign `Nope`",
    );
    cli.refused(
        &[
            "interaction",
            "new",
            "--channel",
            "phone",
            "--campaign",
            "Orders",
            "--to",
            "not a number",
            "--field",
            "Order=1",
        ],
        "malformed phone number",
    );
    cli.refused(
        &[
            "interaction",
            "new",
            "--channel",
            "webchat",
            "--campaign",
            "Orders",
            "--to",
            "x",
            "--field",
            "Order=1",
        ],
        "runs on phone, not webchat",
    );
    cli.refused(
        &[
            "interaction",
            "new",
            "--channel",
            "phone",
            "--campaign",
            "General",
            "--contact",
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        ],
        "unknown contact id",
    );
    let second = cli.ok(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "Orders",
        "--to",
        "+1 555 0100",
        "--field",
        "order=A-17",
    ]);
    assert_eq!(
        cli.json(&["interaction", "show", &second])["interaction"]["fields"]["Order"],
        "A-17"
    );

    // A customer request into the queue, then accept, transfer back, decline.
    cli.ok(&["status", "set", "available"]);
    let queued = cli.ok(&[
        "interaction",
        "enqueue",
        "--campaign",
        "General",
        "--from",
        "+1 555 0199",
        "--message",
        "Call me back please",
        "--priority",
        "1",
    ]);
    let pending = cli.json(&["interaction", "list", "--tab", "pending"]);
    assert_eq!(pending[0]["id"], queued.as_str());
    assert_eq!(pending[0]["offer"], "ring-all");
    let explained = cli.ok(&["route", "explain", "--campaign", "General"]);
    assert!(explained.contains("Ana: chosen"), "{explained}");
    assert_eq!(
        cli.json(&["route", "explain"])[0]["interaction"],
        queued.as_str()
    );

    cli.ok(&["interaction", "accept", &queued]);
    cli.refused(&["interaction", "accept", &queued], "is already yours");
    cli.ok(&[
        "interaction",
        "transfer",
        &queued,
        "--campaign",
        "General",
        "--note",
        "wrong queue",
    ]);
    let back = cli.json(&["interaction", "show", &queued]);
    assert_eq!(back["state"], "queued");
    assert_eq!(back["interaction"]["transfers"][0]["note"], "wrong queue");
    cli.ok(&["interaction", "decline", &queued]);
    // Ana is the only member: once everyone declined, the round starts again
    // rather than leaving the customer stuck in a queue nobody sees.
    let explained = cli.json(&["route", "explain"]);
    assert_eq!(explained[0]["round_again"], true);
    assert_eq!(
        cli.json(&["interaction", "list", "--tab", "pending"])[0]["id"],
        queued.as_str()
    );
    cli.refused(
        &["interaction", "transfer", &queued, "--agent", "Zed"],
        "queued",
    );
    cli.refused(
        &[
            "interaction",
            "enqueue",
            "--campaign",
            "Nope",
            "--from",
            "+1 555 0100",
        ],
        "unknown campaign `Nope`",
    );
    cli.refused(
        &[
            "interaction",
            "enqueue",
            "--campaign",
            "General",
            "--from",
            "bad@",
        ],
        "malformed email address",
    );
    cli.refused(
        &["interaction", "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
        "unknown interaction id",
    );
    cli.refused(
        &["interaction", "note", "nope", "x"],
        "unknown interaction id `nope`",
    );
}

#[test]
fn chat_commands() {
    let cli = Cli::with_team();
    cli.ok(&["chat", "send", "--campaign", "General", "Standup in 5"]);
    let shown = cli.json(&["chat", "show", "--campaign", "General"]);
    assert_eq!(shown["messages"][0]["body"], "Standup in 5");
    assert!(
        cli.ok(&["chat", "show", "--campaign", "General"])
            .contains("Ana: Standup in 5")
    );
    cli.refused(
        &["chat", "send", "--agent", "Zed", "hi"],
        "unknown agent `Zed`",
    );
    cli.refused(
        &["chat", "send", "--agent", "Ana", "hi"],
        "cannot chat with yourself",
    );
    cli.refused(
        &["chat", "send", "--campaign", "Nope", "hi"],
        "unknown campaign `Nope`",
    );
    cli.refused(
        &["chat", "send", "--campaign", "General", "   "],
        "must not be empty",
    );
}

#[test]
fn canned_response_commands_and_their_bad_input() {
    let cli = Cli::with_team();
    cli.ok(&words(
        "campaign add --name Orders --channel webchat --strategy round-robin --field Order",
    ));
    cli.ok(&[
        "canned",
        "add",
        "--code",
        "Thanks",
        "--body",
        "Thanks, {contact.name}! {agent.name}",
    ]);
    cli.ok(&[
        "canned",
        "add",
        "--code",
        "where",
        "--body",
        "Order {field.Order} is on its way",
        "--campaign",
        "Orders",
    ]);
    let all = cli.json(&["canned", "list"]);
    let codes: Vec<&str> = all
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["code"].as_str())
        .collect();
    assert_eq!(codes, ["thanks", "where"]);
    // General's interactions are not offered the Orders one.
    let general = cli.json(&["canned", "list", "--campaign", "General"]);
    assert_eq!(general.as_array().map(Vec::len), Some(1));
    assert!(cli.ok(&["canned", "list"]).contains("/where"));

    let contact = cli.json(&[
        "contact",
        "add",
        "--name",
        "Marta Ruiz",
        "--email",
        "m@x.org",
    ]);
    let contact = contact["id"].as_str().expect("contact id");
    let id = cli.json(&[
        "interaction",
        "new",
        "--channel",
        "webchat",
        "--campaign",
        "Orders",
        "--contact",
        contact,
        "--field",
        "Order=1234",
    ]);
    let id = id["id"].as_str().expect("interaction id");
    assert_eq!(
        cli.ok(&["canned", "fill", "/thanks", "--interaction", id]),
        "Thanks, Marta Ruiz! Ana"
    );
    assert_eq!(
        cli.ok(&["canned", "fill", "where", "--interaction", id]),
        "Order 1234 is on its way"
    );

    cli.ok(&[
        "canned",
        "edit",
        "where",
        "--body",
        "Order {field.Order} left today",
        "--all-campaigns",
    ]);
    assert_eq!(
        cli.json(&["canned", "list", "--campaign", "General"])
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        cli.ok(&["canned", "fill", "where", "--interaction", id]),
        "Order 1234 left today"
    );

    cli.refused(
        &["canned", "add", "--code", "thanks", "--body", "again"],
        "code `thanks` already exists",
    );
    cli.refused(
        &["canned", "add", "--code", "two words", "--body", "x"],
        "the code may hold only",
    );
    cli.refused(
        &["canned", "add", "--code", "x", "--body", "  "],
        "must not be empty",
    );
    cli.refused(
        &words("canned add --code x --body y --campaign Nope"),
        "unknown campaign `Nope`",
    );
    cli.refused(
        &["canned", "remove", "nope"],
        "unknown canned response id `nope`",
    );
    cli.refused(
        &["canned", "edit", "thanks", "--code", "where"],
        "code `where` already exists",
    );

    cli.ok(&["canned", "remove", "thanks"]);
    assert!(cli.ok(&["canned", "list"]).contains("/where"));
    assert!(!cli.ok(&["canned", "list"]).contains("/thanks"));
}

#[test]
fn tags_are_added_removed_and_narrow_lists_with_a_tag_word() {
    let cli = Cli::with_team();
    let tagged = cli.json(&words(
        "interaction new --channel phone --campaign General --to +34600100200",
    ));
    let tagged = tagged["id"].as_str().expect("id").to_string();
    let other = cli.json(&[
        "interaction",
        "new",
        "--to",
        "+34600100201",
        "--message",
        "a vip asked",
        "--channel",
        "phone",
        "--campaign",
        "General",
    ]);
    let other = other["id"].as_str().expect("id").to_string();
    cli.ok(&["interaction", "tag", &tagged, "vip"]);
    let ids = |query: &str| -> Vec<String> {
        cli.json(&["interaction", "list", "--tab", "active", "--search", query])
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect()
    };
    // The plain word finds both; the tag word only the tagged one.
    assert_eq!(ids("vip").len(), 2);
    assert_eq!(ids("tag:vip"), std::slice::from_ref(&tagged));
    assert_eq!(
        cli.json(&["interaction", "show", &tagged])["interaction"]["tags"][0],
        "vip"
    );
    cli.refused(&["interaction", "untag", &other, "vip"], "has no tag `vip`");
    // `tags` lists what is in use, with how many carry each.
    let uses = cli.json(&["tags"]);
    assert_eq!(uses[0]["tag"], "vip");
    assert_eq!(uses[0]["interactions"], 1);
    let table = cli.ok(&["tags"]);
    assert!(table.contains("TAG") && table.contains("vip"), "{table}");
    cli.refused(
        &["interaction", "tag", &other, "two\nlines"],
        "control character",
    );
    cli.ok(&["interaction", "untag", &tagged, "vip"]);
    assert!(ids("tag:vip").is_empty());
    assert_eq!(ids("vip"), [other]);
    assert!(cli.ok(&["tags"]).contains("No tags in use."));
}

#[test]
fn an_interaction_is_returned_to_the_queue_with_a_reason_shown_in_its_history() {
    let cli = Cli::with_team();
    cli.ok(&["status", "set", "available"]);
    let id = cli.ok(&[
        "interaction",
        "enqueue",
        "--campaign",
        "General",
        "--from",
        "+1 555 0199",
        "--message",
        "Hola, ¿me ayudan?",
    ]);
    cli.refused(
        &["interaction", "return", &id, "--reason", "wrong language"],
        "needs it active",
    );
    cli.refused(
        &["interaction", "pull", &id, "--reason", "stuck"],
        "nothing to take back",
    );
    cli.ok(&["interaction", "accept", &id]);
    cli.refused(
        &["interaction", "return", &id, "--reason", "  "],
        "the reason must not be empty",
    );
    cli.refused(
        &["interaction", "return", &id, "--reason", &"x".repeat(501)],
        "the reason is too long",
    );
    // A supervisor's own interaction is returned, not pulled or handed.
    cli.refused(
        &["interaction", "pull", &id, "--reason", "stuck"],
        "is yours: return it to the queue instead",
    );
    cli.refused(
        &[
            "interaction",
            "hand",
            &id,
            "--to",
            "Zed",
            "--reason",
            "stuck",
        ],
        "is yours",
    );

    cli.ok(&["interaction", "return", &id, "--reason", "wrong language"]);
    let back = cli.json(&["interaction", "show", &id]);
    assert_eq!(back["state"], "queued");
    let t = &back["interaction"]["transfers"][0];
    assert_eq!(
        (&t["kind"], &t["reason"]),
        (&"return".into(), &"wrong language".into())
    );
    let shown = cli.ok(&["interaction", "show", &id]);
    assert!(
        shown.contains("Returned to the queue by Ana: wrong language"),
        "{shown}"
    );
    // Back in the queue, and again in Pending (Ana is its only member).
    let pending = cli.json(&["interaction", "list", "--tab", "pending"]);
    assert_eq!(pending[0]["id"], id.as_str());
    cli.refused(
        &["interaction", "return", &id, "--reason", "again"],
        "needs it active",
    );
}
/// Bruno, a teammate, with one call he closed `days_ago` days ago (tagged
/// vip, Resolved), written into the store as his device would have synced it.
fn teammate_closed_a_call(cli: &Cli, days_ago: i64) -> String {
    use meshdesk_model::ops::{self, Context, Reply, Request};
    use meshdesk_model::{ChannelKind, Invite, doc, doc::DocId};
    let path = cli.data_dir().join("meshdesk.redb");
    let mut store =
        Store::open(path, meshdesk_model::authorship::DeviceKey::generate()).expect("open");
    let at = meshdesk_model::now_ms() - days_ago * 86_400_000;
    let ana = store.identity().expect("identity").expect("an identity");
    let team = store.team().expect("team").expect("a team");
    let invite = Invite {
        token_hash: "hash".into(),
        created_by: ana.agent,
        issuer: store.device(),
        created_at: at,
        expires_at: at + 86_400_000,
        max_uses: 1,
        used_by: Default::default(),
        campaigns: Vec::new(),
    };
    store
        .write_doc(&DocId::Team(team.id), false, move |d| {
            doc::team::add_invite(d, &invite)
        })
        .expect("invite");
    let (bruno, _) = ops::admit_device(&mut store, at, "hash", "bruno-device", "Bruno", "laptop")
        .expect("admit");
    store
        .set_identity(&meshdesk_model::store::LocalIdentity {
            agent: bruno,
            ..ana.clone()
        })
        .expect("act as Bruno");
    let ctx = Context {
        now: at,
        presence: None,
    };
    let mut run = |request: Request| {
        ops::execute(&mut store, &ctx, request)
            .expect("Bruno's request")
            .reply
    };
    let Reply::Created { id } = run(Request::NewInteraction {
        channel: ChannelKind::Phone,
        campaign: "General".into(),
        contact: None,
        to: Some("+34600100299".into()),
        fields: Default::default(),
        message: Some("my router again".into()),
    }) else {
        panic!("no id");
    };
    let parsed = id.parse().expect("an id");
    run(Request::AddTag {
        id: parsed,
        tag: "vip".into(),
    });
    run(Request::Finalize {
        id: parsed,
        disposition: "Resolved".into(),
        note: None,
    });
    store.set_identity(&ana).expect("back to Ana");
    id
}

#[test]
fn history_lists_my_closed_work_and_narrows_by_each_filter() {
    let cli = Cli::with_team();
    let bruno = teammate_closed_a_call(&cli, 10);
    cli.ok(&words(
        "campaign add --name Billing --channel phone --strategy ring-all",
    ));
    let close = |campaign: &str, message: &str, tag: Option<&str>, disposition: &str| {
        let id = cli.json(&[
            "interaction",
            "new",
            "--channel",
            "phone",
            "--campaign",
            campaign,
            "--to",
            "+34600100200",
            "--message",
            message,
        ])["id"]
            .as_str()
            .expect("id")
            .to_string();
        if let Some(tag) = tag {
            cli.ok(&["interaction", "tag", &id, tag]);
        }
        cli.ok(&["interaction", "finalize", &id, "--disposition", disposition]);
        id
    };
    let router = close("General", "router blinking red", Some("vip"), "Resolved");
    let refund = close("Billing", "a refund please", None, "Callback");
    let history = |flags: &[&str]| -> Vec<String> {
        let mut args = vec!["interaction", "list", "--tab", "history"];
        args.extend_from_slice(flags);
        cli.json(&args)
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect()
    };
    // Mine by default, newest closed first; the team's on request.
    assert_eq!(history(&[]), [refund.clone(), router.clone()]);
    assert_eq!(history(&["--mine"]), [refund.clone(), router.clone()]);
    assert_eq!(
        history(&["--team"]),
        [refund.clone(), router.clone(), bruno.clone()]
    );
    // Each filter, and combined with each other and the search.
    assert_eq!(
        history(&["--campaign", "billing"]),
        std::slice::from_ref(&refund)
    );
    assert_eq!(
        history(&["--team", "--tag", "VIP"]),
        [router.clone(), bruno.clone()]
    );
    assert_eq!(
        history(&["--team", "--channel", "phone", "--disposition", "resolved"]),
        [router.clone(), bruno.clone()]
    );
    assert_eq!(
        history(&["--team", "--disposition", "resolved", "--search", "router"]),
        [router.clone(), bruno.clone()]
    );
    assert_eq!(
        history(&["--team", "--search", "blinking", "--tag", "vip"]),
        std::slice::from_ref(&router)
    );
    assert!(history(&["--channel", "webchat"]).is_empty());
    // Dates: a day counts whole, in local time; a time is exact.
    let day = |days_ago: i64| {
        (chrono::Local::now() - chrono::Duration::days(days_ago))
            .format("%Y-%m-%d")
            .to_string()
    };
    assert_eq!(
        history(&["--team", "--since", &day(5)]),
        [refund.clone(), router.clone()]
    );
    assert_eq!(
        history(&["--team", "--until", &day(5)]),
        std::slice::from_ref(&bruno)
    );
    assert_eq!(
        history(&["--team", "--since", &day(11), "--until", &day(9)]),
        std::slice::from_ref(&bruno)
    );
    assert_eq!(
        history(&["--until", &day(0)]).len(),
        2,
        "today counts whole"
    );
    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    assert!(history(&["--since", &soon]).is_empty());
    // Paged, with the list's total.
    let page = cli.json(&words(
        "interaction list --tab history --team --offset 1 --limit 1",
    ));
    assert_eq!(page["total"], 3);
    assert_eq!(page["rows"][0]["id"], router.as_str());

    // Bad values: one line naming the problem.
    let list = |flags: &[&'static str]| {
        let mut args = vec!["interaction", "list", "--tab", "history"];
        args.extend_from_slice(flags);
        args
    };
    cli.refused(&list(&["--channel", "fax"]), "unknown channel `fax`");
    cli.refused(&list(&["--campaign", "Nope"]), "unknown campaign `Nope`");
    cli.refused(
        &list(&["--since", "yesterday"]),
        "`yesterday` is not a date (YYYY-MM-DD)",
    );
    cli.refused(
        &list(&["--since", "2026-12-02", "--until", "2026-12-01"]),
        "the date range is empty",
    );
    cli.refused(&list(&["--tag", " "]), "the tag must not be empty");
    cli.refused(
        &words("interaction list --tab active --team"),
        "apply to --tab history only",
    );
}

#[test]
fn a_file_is_sent_with_a_message_and_written_back_by_its_hash() {
    let cli = Cli::with_team();
    let id = cli.ok(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--to",
        "+34 600 100 200",
    ]);
    let src = cli.data_dir().join("invoice.pdf");
    let bytes: Vec<u8> = b"%PDF-1.7\n"
        .iter()
        .copied()
        .chain((0..4000u32).map(|n| (n % 253) as u8))
        .collect();
    std::fs::write(&src, &bytes).expect("write");
    let src_arg = src.to_string_lossy().into_owned();
    cli.ok(&["interaction", "send", &id, "--file", &src_arg]);
    let shown = cli.json(&["interaction", "show", &id]);
    let file = &shown["interaction"]["messages"][0]["attachments"][0];
    assert_eq!(file["name"], "invoice.pdf");
    assert_eq!(file["mime"], "application/pdf");
    assert_eq!(file["size"], bytes.len());
    let hash = file["hash"].as_str().expect("a hash").to_string();
    assert_eq!(hash, meshdesk_model::blobs::BlobHash::of(&bytes).to_hex());
    let text = cli.ok(&["interaction", "show", &id]);
    assert!(
        text.contains("file: invoice.pdf (application/pdf"),
        "{text}"
    );

    let out = cli.data_dir().join("copy.pdf");
    let out_arg = out.to_string_lossy().into_owned();
    cli.ok(&["file", "get", &hash, "--out", &out_arg]);
    assert_eq!(std::fs::read(&out).expect("read"), bytes);

    // Bad input: exit 2, one line, nothing written.
    cli.refused(
        &["interaction", "send", &id, "--file", "/no/such/file.png"],
        "/no/such/file.png",
    );
    cli.refused(&["interaction", "send", &id], "give the message's text");
    cli.refused(
        &["file", "get", "xyz", "--out", &out_arg],
        "is not a file hash",
    );
    let absent = meshdesk_model::blobs::BlobHash::of(b"nobody sent this").to_hex();
    cli.refused(
        &["file", "get", &absent, "--out", &out_arg],
        "is not on this device",
    );
    std::fs::write(
        cli.data_dir().join("files.json"),
        r#"{"max_file_bytes": 100}"#,
    )
    .expect("write");
    cli.refused(
        &["interaction", "send", &id, "--file", &src_arg],
        "over this node's limit of 100 bytes",
    );
}
