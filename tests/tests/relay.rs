//! Teams on several sites (issue 15): two members behind separate NATs, in
//! network namespaces, and `meshdesk relay` on a host both can reach. They
//! join and sync through the relay, then directly once DCUtR has punched
//! through both NATs; behind NATs that defeat hole punching they keep
//! syncing through the relay. The relay keeps no team data.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use meshdesk_tests::sites::{RELAY_IP, Sites};
use meshdesk_tests::{Device, meshdesk_bin, wait_until};

/// A `meshdesk relay` process on the relay host.
struct Relay {
    dir: tempfile::TempDir,
    child: Child,
    /// Where site 1 reaches it, with its `/p2p/` id.
    addr: String,
}

impl Relay {
    fn start(sites: &Sites, team_key: &Path) -> Relay {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("relay.log");
        let out = File::create(&log).expect("log");
        let err = out.try_clone().expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &sites.ns("relay")])
            .arg(meshdesk_bin())
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["relay", "--listen", "/ip4/0.0.0.0/tcp/4001", "--team-key"])
            .arg(team_key)
            .env("MESHDESK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn the relay");
        let site_1 = format!("/ip4/{RELAY_IP}/");
        let mut addr = None;
        wait_until(Duration::from_secs(20), || {
            addr = std::fs::read_to_string(&log).ok().and_then(|text| {
                text.lines()
                    .filter_map(|l| l.strip_prefix("relay listening on "))
                    .find(|a| a.starts_with(&site_1))
                    .map(str::to_string)
            });
            addr.is_some()
        });
        let addr = addr.unwrap_or_else(|| {
            panic!(
                "the relay did not say where it listens:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        Relay { dir, child, addr }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("relay.log")).unwrap_or_default()
    }

    /// What the relay keeps on disk.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path().join("data"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wrapper(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A member on each site: A made the team and uses the relay; B joins with
/// A's invite from the other site, which is how B learns the relay.
fn two_sites(sites: &Sites) -> (Relay, Device, Device) {
    let mut a = Device::new("A");
    a.ok(&["team", "create", "--name", "Sites", "--agent", "Ana"]);
    let relay = Relay::start(sites, &a.data_dir().join("team.psk"));
    let on_a = sites.on("a");
    a.start_listening(
        &wrapper(&on_a),
        "/ip4/0.0.0.0/tcp/4101",
        &[],
        &["--relay", &relay.addr],
    );
    assert!(
        wait_until(Duration::from_secs(20), || a
            .log()
            .contains("reserved a slot on the relay")),
        "A got no slot on the relay\n{}\n--- relay ---\n{}",
        a.log(),
        relay.log()
    );
    let code = a.ok(&["team", "invite"]);
    let b = Device::new("B");
    let on_b = sites.on("b");
    b.ok_under(
        &wrapper(&on_b),
        &["team", "join", &code, "--agent", "Bruno", "--timeout", "30"],
    );
    let mut b = b;
    b.start_listening(&wrapper(&on_b), "/ip4/0.0.0.0/tcp/4102", &[], &[]);
    (relay, a, b)
}

fn has_contact(device: &Device, name: &str) -> bool {
    device.json(&["contact", "list"]).to_string().contains(name)
}

/// Each side's links: (linked at all, every one through the relay, every one direct).
fn paths(device: &Device) -> (bool, bool, bool) {
    let peers = device.json(&["team", "peers"]);
    let list = peers.as_array().cloned().unwrap_or_default();
    let relayed = |p: &serde_json::Value| p["relayed"].as_bool() == Some(true);
    (
        !list.is_empty(),
        !list.is_empty() && list.iter().all(relayed),
        !list.is_empty() && list.iter().all(|p| !relayed(p)),
    )
}

fn syncs_both_ways(a: &Device, b: &Device, from_a: &str, from_b: &str) {
    a.ok(&["contact", "add", "--name", from_a]);
    assert!(
        wait_until(Duration::from_secs(30), || has_contact(b, from_a)),
        "{from_a} never reached B\n--- A ---\n{}\n--- B ---\n{}",
        a.log(),
        b.log()
    );
    b.ok(&["contact", "add", "--name", from_b]);
    assert!(
        wait_until(Duration::from_secs(30), || has_contact(a, from_b)),
        "{from_b} never reached A\n--- A ---\n{}\n--- B ---\n{}",
        a.log(),
        b.log()
    );
}

#[test]
fn two_sites_sync_through_a_relay_then_directly_after_hole_punching() {
    let sites = Sites::new(&format!("mdh{}", std::process::id()), false);
    let (relay, a, b) = two_sites(&sites);
    syncs_both_ways(&a, &b, "Marta Ruiz", "Hugo Navarro");
    // DCUtR punches through both NATs: the links move to the direct connection.
    let direct = wait_until(Duration::from_secs(30), || paths(&a).2 && paths(&b).2);
    assert!(
        direct,
        "no direct connection: A {:?}, B {:?}\n--- A ---\n{}\n--- B ---\n{}",
        a.json(&["team", "peers"]),
        b.json(&["team", "peers"]),
        a.log(),
        b.log()
    );
    let peers = b.json(&["team", "peers"]).to_string();
    assert!(
        peers.contains("/ip4/10.99.1.1/"),
        "B reaches A at site 1's NAT: {peers}"
    );
    syncs_both_ways(&a, &b, "Ines Lopez", "Bruno Diaz");
    // The relay passed circuits on and keeps nothing but its own identity.
    assert!(
        relay.log().contains("relaying between two members"),
        "{}",
        relay.log()
    );
    assert_eq!(
        relay.files(),
        ["device.key"],
        "the relay wrote more than its key"
    );
}

#[test]
fn behind_nats_that_defeat_hole_punching_the_sites_stay_in_sync_through_the_relay() {
    let sites = Sites::new(&format!("mds{}", std::process::id()), true);
    let (relay, a, b) = two_sites(&sites);
    syncs_both_ways(&a, &b, "Marta Ruiz", "Hugo Navarro");
    assert!(
        wait_until(Duration::from_secs(10), || paths(&a).1 && paths(&b).1),
        "A {:?}, B {:?}",
        a.json(&["team", "peers"]),
        b.json(&["team", "peers"])
    );
    // Later changes still flow, through the relay.
    syncs_both_ways(&a, &b, "Ines Lopez", "Bruno Diaz");
    assert!(paths(&a).1 && paths(&b).1);
    assert_eq!(relay.files(), ["device.key"]);
}

#[test]
fn a_relay_refuses_a_members_data_dir_and_a_bad_team_key() {
    let a = Device::new("A");
    a.ok(&["team", "create", "--name", "Sites", "--agent", "Ana"]);
    let key = a.data_dir().join("team.psk");
    let key = key.to_string_lossy();
    let out = a.run(&[
        "relay",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--team-key",
        &key,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("give the relay a --data-dir of its own"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let own = tempfile::tempdir().expect("tempdir");
    let bad = own.path().join("short.psk");
    std::fs::write(&bad, b"not a key").expect("write");
    let out = Command::new(meshdesk_bin())
        .arg("--data-dir")
        .arg(own.path().join("relay"))
        .args(["relay", "--listen", "/ip4/127.0.0.1/tcp/0", "--team-key"])
        .arg(&bad)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("is 9 bytes long, expected 32"), "{said}");
}
