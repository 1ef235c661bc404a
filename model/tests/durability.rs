//! Crash consistency: a writer killed with SIGKILL at random moments never
//! loses a write it had acknowledged, and the store always opens again.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use meshdesk_model::ContactId;
use meshdesk_model::ops::{self, ContactSpec, Context, FromReply, Request};
use meshdesk_model::store::Store;

const CHILD_ENV: &str = "MESHDESK_DURABILITY_CHILD";
const ROUNDS: usize = 20;

/// The child side: runs only when the parent test starts this binary with `CHILD_ENV` set.
#[test]
fn durability_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut store = Store::open(&path, meshdesk_model::authorship::DeviceKey::generate())
        .expect("child opens the store");
    let ctx = Context::now();
    for n in 0.. {
        let spec = ContactSpec {
            name: Some(format!("Contact {n}")),
            ..Default::default()
        };
        match ops::execute(&mut store, &ctx, Request::AddContact(spec)) {
            // Printed only after the durable commit returned: an acknowledgement.
            Ok(outcome) => {
                let id = ContactId::from_reply(outcome.reply).expect("a contact id");
                println!("ACK {id}");
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
}

fn pseudo_random(seed: u64) -> u64 {
    // splitmix64: varied kill moments without a dependency.
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.redb");
    {
        let mut store =
            Store::open(&path, meshdesk_model::authorship::DeviceKey::generate()).expect("open");
        ops::execute(
            &mut store,
            &Context::now(),
            Request::CreateTeam {
                team_name: "T".into(),
                agent_name: "Ana".into(),
                device_name: "d".into(),
            },
        )
        .expect("team");
    }
    let exe = std::env::current_exe().expect("test binary");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    let mut acknowledged: Vec<ContactId> = Vec::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "durability_child_writer",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|line| {
                    line.strip_prefix("ACK ")
                        .and_then(|id| id.trim().parse::<ContactId>().ok())
                })
                .collect::<Vec<_>>()
        });
        let delay = 30 + pseudo_random(seed ^ round as u64) % 400;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().expect("SIGKILL the writer");
        let _ = child.wait();
        let acked = reader.join().expect("reader");
        acknowledged.extend(acked);

        let store = Store::open(&path, meshdesk_model::authorship::DeviceKey::generate())
            .unwrap_or_else(|e| panic!("round {round}: the store must open after SIGKILL: {e}"));
        for id in &acknowledged {
            assert!(
                store.contact(*id).expect("read").is_some(),
                "round {round}: acknowledged contact {id} was lost"
            );
        }
    }
    assert!(
        acknowledged.len() > ROUNDS,
        "the writer should have acknowledged writes ({})",
        acknowledged.len()
    );
}
