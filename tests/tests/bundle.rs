//! Sneakernet: two devices of one team that never meet again on a network
//! converge by bundles carried by hand, and a bundle that was altered, cut
//! short, made by another team or carrying a forged change is refused like
//! sync would refuse it.

use std::path::Path;
use std::time::Duration;

use meshdesk_model::authorship::Sealed;
use meshdesk_model::bundle;
use meshdesk_tests::{Device, wait_until};

/// A created the team (Ana, supervisor) and runs; B joined it (Bo), synced
/// the team once, and was stopped: from here on they never connect.
fn team_apart() -> (Device, Device) {
    let mut a = Device::new("A");
    a.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
    a.start(&[]);
    let mut b = Device::new("B");
    let code = a.ok(&["team", "invite"]);
    b.ok(&["team", "join", &code, "--agent", "Bo"]);
    b.start(&[a.addr()]);
    assert!(
        wait_until(Duration::from_secs(30), || {
            a.json(&["team", "members"])
                .as_array()
                .is_some_and(|m| m.len() == 2)
        }),
        "B never joined\n--- A's log ---\n{}",
        a.log()
    );
    b.stop();
    (a, b)
}

fn device_id(d: &Device) -> String {
    let members = d.json(&["team", "members"]);
    members
        .as_array()
        .and_then(|m| m.iter().find(|m| m["this_device"] == true))
        .and_then(|m| m["device"].as_str())
        .expect("this device on the roster")
        .to_string()
}

fn contact_names(d: &Device) -> Vec<String> {
    let mut names: Vec<String> = d
        .json(&["contact", "list"])
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn texts(d: &Device, id: &str) -> Vec<String> {
    d.json(&["interaction", "show", id])["interaction"]["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["body"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn export(d: &Device, file: &Path, extra: &[&str]) -> serde_json::Value {
    let path = file.to_str().expect("a UTF-8 path");
    let mut args = vec!["bundle", "export", path];
    args.extend_from_slice(extra);
    d.json(&args)
}

fn import(d: &Device, file: &Path) -> serde_json::Value {
    d.json(&["bundle", "import", file.to_str().expect("a UTF-8 path")])
}

/// `bundle import` refused: exit 2 with `words` in its error.
fn import_refused(d: &Device, file: &Path, words: &str) {
    let out = d.run(&["bundle", "import", file.to_str().expect("a UTF-8 path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}: {stderr}", d.name);
    assert!(
        stderr.contains(words),
        "{}: expected `{words}` in: {stderr}",
        d.name
    );
}

/// What a person sees of a store: the phonebook and the three tabs.
fn everything(d: &Device) -> String {
    let mut seen = String::new();
    seen.push_str(&d.ok(&["--json", "contact", "list"]));
    for tab in ["active", "pending", "history"] {
        seen.push_str(&d.ok(&["--json", "interaction", "list", "--tab", tab]));
    }
    seen
}

#[test]
fn two_devices_that_never_connect_converge_by_bundles_carried_both_ways() {
    let (a, b) = team_apart();
    let carry = tempfile::tempdir().expect("tempdir");

    // At the office (A's node runs): a contact and a customer waiting.
    a.ok(&["contact", "add", "--name", "Carmen Field"]);
    let queued = a.ok(&[
        "interaction",
        "enqueue",
        "--campaign",
        "General",
        "--from",
        "+34 600 100 200",
        "--message",
        "My line is dead",
    ]);
    let ana_call = a.json(&[
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
        .expect("an id")
        .to_string();
    a.ok(&["interaction", "send", &ana_call, "Ana calling back"]);

    // To the field: exported through the running node, imported on B with
    // no node running.
    let to_field = carry.path().join("to-field.mdbundle");
    let written = export(&a, &to_field, &[]);
    assert!(written["documents"].as_u64().unwrap_or(0) >= 4, "{written}");
    let report = import(&b, &to_field);
    assert!(report["new"].as_u64().unwrap_or(0) >= 3, "{report}");
    assert_eq!(report["refused"], serde_json::json!([]), "{report}");
    assert_eq!(report["from_device"], device_id(&a).as_str());
    assert_eq!(contact_names(&b), ["Carmen Field"]);
    assert_eq!(
        texts(&b, &ana_call),
        ["Ana calling back"],
        "{}",
        b.json(&["interaction", "show", &ana_call])
    );
    assert_eq!(texts(&b, &queued), ["My line is dead"]);

    // The same bundle again brings nothing new.
    let again = import(&b, &to_field);
    assert_eq!(
        (again["new"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );

    // In the field (B never connects): Bo claims the waiting customer,
    // answers, and adds a contact.
    b.ok(&["interaction", "accept", &queued]);
    b.ok(&["interaction", "send", &queued, "Bo here, on my way"]);
    b.ok(&["contact", "add", "--name", "Dana Remote"]);
    // Meanwhile at the office, another message on Ana's call.
    a.ok(&["interaction", "send", &ana_call, "Second try"]);

    // Back to the office: only what A lacks, by what B last saw of A.
    let to_office = carry.path().join("to-office.mdbundle");
    let a_device = device_id(&a);
    let since = &a_device[..12];
    let written = export(&b, &to_office, &["--since-device", since]);
    assert_eq!(written["since_device"], a_device.as_str(), "{written}");
    let report = import(&a, &to_office);
    assert_eq!(report["refused"], serde_json::json!([]), "{report}");
    assert!(report["updated"].as_u64().unwrap_or(0) >= 1, "{report}");
    assert!(report["new"].as_u64().unwrap_or(0) >= 1, "{report}");

    // A sees Bo's claim, his message and his contact.
    let shown = a.json(&["interaction", "show", &queued]);
    assert_eq!(shown["state"], "active", "{shown}");
    assert_eq!(
        texts(&a, &queued),
        ["My line is dead", "Bo here, on my way"]
    );
    assert_eq!(contact_names(&a), ["Carmen Field", "Dana Remote"]);

    // And back out once more: both hold the same, every tab alike.
    let to_field_2 = carry.path().join("to-field-2.mdbundle");
    export(&a, &to_field_2, &[]);
    import(&b, &to_field_2);
    assert_eq!(texts(&b, &ana_call), ["Ana calling back", "Second try"]);
    for id in [&queued, &ana_call] {
        assert_eq!(
            a.json(&["interaction", "show", id]),
            b.json(&["interaction", "show", id]),
            "{id} differs"
        );
    }
    assert_eq!(contact_names(&a), contact_names(&b));
}

#[test]
fn an_altered_truncated_or_foreign_bundle_is_refused_and_changes_nothing() {
    let (a, b) = team_apart();
    let carry = tempfile::tempdir().expect("tempdir");
    a.ok(&["contact", "add", "--name", "Carmen Field"]);
    let good = carry.path().join("good.mdbundle");
    export(&a, &good, &[]);
    let bytes = std::fs::read(&good).expect("the bundle");
    let before = everything(&b);

    let flipped = carry.path().join("flipped.mdbundle");
    let mut altered = bytes.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0x20;
    std::fs::write(&flipped, &altered).expect("write");
    import_refused(&b, &flipped, "altered or truncated");

    let cut = carry.path().join("cut.mdbundle");
    std::fs::write(&cut, &bytes[..bytes.len() - 40]).expect("write");
    import_refused(&b, &cut, "altered or truncated");

    let other = Device::new("Other");
    other.ok(&["team", "create", "--name", "Elsewhere", "--agent", "Olga"]);
    other.ok(&["contact", "add", "--name", "Not Ours"]);
    let foreign = carry.path().join("foreign.mdbundle");
    export(&other, &foreign, &[]);
    import_refused(&b, &foreign, "belongs to another team");

    let stray = carry.path().join("notes.txt");
    std::fs::write(&stray, "shopping list").expect("write");
    import_refused(&b, &stray, "not a meshdesk bundle");

    assert_eq!(everything(&b), before, "a refused bundle changed B's store");
    // The honest bundle still imports.
    import(&b, &good);
    assert_eq!(contact_names(&b), ["Carmen Field"]);
}

#[test]
fn a_forged_change_in_a_bundle_is_refused_like_sync_refuses_it() {
    let (a, b) = team_apart();
    let carry = tempfile::tempdir().expect("tempdir");
    a.ok(&["contact", "add", "--name", "Carmen Field"]);
    a.ok(&["contact", "add", "--name", "Eve Target"]);
    let good = carry.path().join("good.mdbundle");
    export(&a, &good, &[]);

    // Someone holding the team key (a copy of the file, say) rewrites Eve's
    // contact as a device that is not on the roster, and seals it again.
    let key: [u8; 32] = std::fs::read(a.data_dir().join("team.psk"))
        .expect("A's team key")
        .try_into()
        .expect("32 bytes");
    let bytes = std::fs::read(&good).expect("the bundle");
    let team = bundle::read_header(&bytes).expect("a header").0.team;
    let (header, mut docs) = bundle::open(&bytes, team, &[key]).expect("it opens");
    let mut forged_id = None;
    for doc in docs.iter_mut().filter(|d| d.id.starts_with("contact:")) {
        let sealed = Sealed::decode(&doc.sealed).expect("sealed bytes");
        let mut am = automerge::AutoCommit::load(&sealed.bytes).expect("a document");
        let name = automerge::ReadDoc::get(&am, automerge::ROOT, "name")
            .ok()
            .flatten()
            .map(|(v, _)| v.to_string());
        if !name.is_some_and(|n| n.contains("Eve")) {
            continue;
        }
        am.set_actor(automerge::ActorId::from([7u8; 32].as_slice()));
        automerge::transaction::Transactable::put(&mut am, automerge::ROOT, "name", "Mallory")
            .expect("put");
        doc.sealed = Sealed {
            seals: sealed.seals,
            bytes: am.save(),
        }
        .encode();
        forged_id = Some(doc.id.clone());
    }
    let forged_id = forged_id.expect("Eve's contact in the bundle");
    let forged = carry.path().join("forged.mdbundle");
    let resealed = bundle::seal(header, &docs, &key).expect("sealed");
    std::fs::write(&forged, resealed).expect("write");

    let report = import(&b, &forged);
    let refused = report["refused"].as_array().expect("refused list");
    assert_eq!(refused.len(), 1, "{report}");
    assert_eq!(refused[0][0], forged_id.as_str(), "{report}");
    // The rest landed; the forged document, nothing of it.
    assert_eq!(contact_names(&b), ["Carmen Field"]);
    // The honest one still comes in whole.
    import(&b, &good);
    assert_eq!(contact_names(&b), ["Carmen Field", "Eve Target"]);
}
