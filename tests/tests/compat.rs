//! A data dir written by an earlier release opens in this one: everything
//! its user saw is still there, and the store takes new writes. The
//! fixtures are never rewritten (tests/fixtures/README.md); each release
//! whose format changes adds its own.

use std::path::Path;

use meshdesk_tests::Device;
use serde_json::Value;

const FIXTURE_0_1_0: &str = "fixtures/data-dir-0.1.0";
const ANA: &str = "01M8V42YF4DXS5PHBVHADK1Q81";
const MARTA: &str = "01M8V430G9ZSC4HM9E0QF7DYP0";
const FINISHED: &str = "01M8V43455ZJ3D7RS3M6TJPD6F";
const ACTIVE: &str = "01M8V435AYCKR43TZ6JY2BJVHJ";
const QUEUED: &str = "01M8V435ES0PE8SHPBXCG97665";

/// A device whose data dir is a copy of the fixture (the fixture itself
/// stays as it was written).
fn device_from(fixture: &str) -> Device {
    let device = Device::new("compat");
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join(fixture);
    for entry in std::fs::read_dir(&from).expect("the fixture dir") {
        let entry = entry.expect("a fixture file");
        let to = device.data_dir().join(entry.file_name());
        std::fs::copy(entry.path(), &to).expect("copy a fixture file");
        // Git keeps no owner-only modes; the keys are refused without them.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                .expect("owner-only fixture file");
        }
    }
    device
}

fn ids(rows: &Value) -> Vec<&str> {
    rows.as_array()
        .expect("a list")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect()
}

fn bodies(interaction: &Value) -> Vec<&str> {
    interaction["interaction"]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect()
}

#[test]
fn a_data_dir_written_by_0_1_0_opens_with_everything_its_user_saw() {
    let ana = device_from(FIXTURE_0_1_0);

    assert!(
        ana.ok(&["doctor"]).contains("no problems found"),
        "the old store does not check clean"
    );

    let members = ana.json(&["team", "members"]);
    assert_eq!(members[0]["agent_name"], "Ana");
    assert_eq!(members[0]["role"], "supervisor");
    assert_eq!(members[0]["this_device"], true);

    let campaigns = ana.json(&["campaign", "list"]);
    let orders = campaigns
        .as_array()
        .expect("campaigns")
        .iter()
        .find(|c| c["name"] == "Orders")
        .expect("the Orders campaign");
    assert_eq!(orders["strategy"], "round-robin");
    assert_eq!(orders["capacity"], 3);
    assert_eq!(orders["fields"][0]["name"], "Order");
    assert_eq!(orders["fields"][0]["required"], true);

    let contacts = ana.json(&["contact", "list", "--search", "marta"]);
    assert_eq!(ids(&contacts), [MARTA]);
    assert_eq!(contacts[0]["tags"][0], "vip");
    assert_eq!(contacts[0]["phones"][0], "+34 600 100 200");

    assert_eq!(
        ids(&ana.json(&["interaction", "list", "--tab", "history"])),
        [FINISHED]
    );
    assert_eq!(
        ids(&ana.json(&["interaction", "list", "--tab", "active"])),
        [ACTIVE]
    );
    assert_eq!(
        ids(&ana.json(&["interaction", "list", "--tab", "pending"])),
        [QUEUED]
    );

    let finished = ana.json(&["interaction", "show", FINISHED]);
    assert_eq!(
        bodies(&finished),
        [
            "Calling about your order",
            "Hello Marta, your parcel left today"
        ]
    );
    assert_eq!(finished["contact"]["name"], "Marta Ruiz");
    let finalization = &finished["interaction"]["finalization"];
    assert_eq!(finalization["disposition"], "Resolved");
    assert_eq!(finalization["note"], "tracking sent");
    assert_eq!(finalization["agent"], ANA);

    let chat = ana.json(&["chat", "show", "--campaign", "General"]);
    assert_eq!(chat["messages"][0]["body"], "Standup in 5");
    assert_eq!(chat["messages"][0]["author"], ANA);

    // The old store takes new writes, signed and checked like any other.
    ana.ok(&["interaction", "send", ACTIVE, "Your refund is on its way"]);
    let active = ana.json(&["interaction", "show", ACTIVE]);
    assert_eq!(
        bodies(&active),
        ["Second call: wants a refund", "Your refund is on its way"]
    );
    assert!(ana.ok(&["doctor"]).contains("no problems found"));
}
