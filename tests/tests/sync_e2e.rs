//! End-to-end sync: real `meshdesk` processes on 127.0.0.1 with temporary
//! data dirs and `--no-mdns` (issue 4, DESIGN §10), plus mDNS across two
//! Linux network namespaces where that is permitted.
//!
//! The binary is the one `cargo test --workspace` builds (or
//! `MESHDESK_BIN`); building it here would rebuild it with other features. Node logs go to `<data_dir>/node.log`; a failing test
//! prints them.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

type R<T> = Result<T, String>;

const WAIT: Duration = Duration::from_secs(30);

/// The `meshdesk` binary `cargo test --workspace` built (`MESHDESK_BIN` overrides).
fn bin() -> R<PathBuf> {
    Ok(meshdesk_tests::meshdesk_bin())
}

/// One device: its data dir and, while it runs, its node process.
struct Device {
    name: &'static str,
    dir: tempfile::TempDir,
    node: Option<Child>,
    /// Prefix for running the binary (e.g. `ip netns exec ns`).
    wrapper: Vec<String>,
}

impl Drop for Device {
    fn drop(&mut self) {
        if let Some(mut child) = self.node.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Device {
    fn new(name: &'static str) -> R<Device> {
        Ok(Device {
            name,
            dir: tempfile::tempdir().map_err(|e| e.to_string())?,
            node: None,
            wrapper: vec![],
        })
    }

    fn command(&self, args: &[&str]) -> R<Command> {
        let bin = bin()?;
        let mut cmd = match self.wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("--data-dir").arg(self.dir.path()).args(args);
        cmd.env("RUST_LOG", "info,libp2p=warn");
        Ok(cmd)
    }

    fn run(&self, args: &[&str]) -> R<Output> {
        self.command(args)?
            .output()
            .map_err(|e| format!("{}: cannot run meshdesk: {e}", self.name))
    }

    /// Runs a CLI command that must succeed; its stdout.
    fn cli(&self, args: &[&str]) -> R<String> {
        let out = self.run(args)?;
        if !out.status.success() {
            return Err(format!(
                "{}: `meshdesk {}` failed: {}{}",
                self.name,
                args.join(" "),
                String::from_utf8_lossy(&out.stderr),
                self.log_tail()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn json(&self, args: &[&str]) -> R<Value> {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cli(&all)?;
        serde_json::from_str(out.trim())
            .map_err(|e| format!("{}: not JSON ({e}): {out}", self.name))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("node.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if tail.is_empty() {
            String::new()
        } else {
            format!("\n--- {} node log ---\n{}", self.name, tail.join("\n"))
        }
    }

    /// Starts `meshdesk node` and waits until its control socket answers.
    fn start(&mut self, extra: &[&str]) -> R<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| e.to_string())?;
        let mut args = vec!["node", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"];
        if extra.contains(&"--mdns") {
            args = vec!["node", "--listen", "/ip4/0.0.0.0/tcp/0"];
        }
        args.extend(extra.iter().filter(|a| **a != "--mdns"));
        let child = self
            .command(&args)?
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: cannot start the node: {e}", self.name))?;
        self.node = Some(child);
        let socket = self.dir.path().join("control.sock");
        eventually(&format!("{}'s node to start", self.name), || {
            if let Some(child) = self.node.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!(
                    "{}: the node exited with {status}{}",
                    self.name,
                    self.log_tail()
                ));
            }
            // Only a socket that answers: a killed node leaves a stale one, and
            // a CLI command run before the node holds the store would open
            // the store itself and could make the starting node find it busy.
            Ok(std::os::unix::net::UnixStream::connect(&socket).is_ok())
        })
    }

    /// Stops the node cleanly (SIGTERM) and waits for it to exit.
    fn stop(&mut self) -> R<()> {
        let Some(mut child) = self.node.take() else {
            return Ok(());
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(format!(
                        "{}: the node exited with {status} on SIGTERM",
                        self.name
                    ));
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    return Err(format!("{}: the node did not stop on SIGTERM", self.name));
                }
            }
        }
    }

    /// Kills the node (SIGKILL): no goodbye, no cleanup.
    fn kill(&mut self) -> R<()> {
        if let Some(mut child) = self.node.take() {
            child.kill().map_err(|e| e.to_string())?;
            let _ = child.wait();
        }
        Ok(())
    }

    fn invite(&self, extra: &[&str]) -> R<String> {
        let mut args = vec!["team", "invite"];
        args.extend(extra);
        let out = self.cli(&args)?;
        find_code(&out).ok_or_else(|| format!("{}: no invite code in: {out}", self.name))
    }

    fn contacts(&self) -> R<String> {
        Ok(self.json(&["contact", "list"])?.to_string())
    }

    fn interaction(&self, id: &str) -> R<Value> {
        self.json(&["interaction", "show", id])
    }
}

fn find_code(text: &str) -> Option<String> {
    let at = text.find("MD1-")?;
    Some(
        text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect(),
    )
}

fn eventually(what: &str, mut check: impl FnMut() -> R<bool>) -> R<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        if check()? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn created_id(reply: &Value) -> R<String> {
    reply["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no id in {reply}"))
}

/// A creates the team and runs; B and C join with A's invite and run.
fn three_nodes() -> R<(Device, Device, Device)> {
    let mut a = Device::new("A")?;
    a.cli(&["team", "create", "--name", "Support", "--agent", "Ana"])?;
    a.start(&[])?;
    let code = a.invite(&["--uses", "2"])?;
    let mut b = Device::new("B")?;
    b.cli(&["team", "join", &code, "--agent", "Bruno"])?;
    b.start(&[])?;
    let mut c = Device::new("C")?;
    c.cli(&["team", "join", &code, "--agent", "Carla"])?;
    c.start(&[])?;
    Ok((a, b, c))
}

#[test]
fn three_nodes_converge_and_a_killed_node_catches_up() -> R<()> {
    let (a, b, mut c) = three_nodes()?;
    let result = converge_and_catch_up(&a, &b, &mut c);
    result.map_err(|e| format!("{e}{}{}{}", a.log_tail(), b.log_tail(), c.log_tail()))
}

fn converge_and_catch_up(a: &Device, b: &Device, c: &mut Device) -> R<()> {
    // A contact added on A appears on C.
    a.cli(&[
        "contact",
        "add",
        "--name",
        "Zelda Contact",
        "--phone",
        "+1 555 0100",
    ])?;
    eventually("the contact on C", || {
        Ok(c.contacts()?.contains("Zelda Contact"))
    })?;

    // A message sent on B appears on A.
    let created = b.json(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--to",
        "+1 555 0101",
        "--message",
        "hello from Bruno",
    ])?;
    let b_id = created_id(&created)?;
    eventually("B's message on A", || {
        Ok(a.interaction(&b_id)
            .is_ok_and(|v| v.to_string().contains("hello from Bruno")))
    })?;

    // A chat message reaches its room on every node.
    a.cli(&["chat", "send", "--campaign", "General", "good morning team"])?;
    for d in [a, b, &*c] {
        eventually("the chat message", || {
            Ok(d.json(&["chat", "show", "--campaign", "General"])?
                .to_string()
                .contains("good morning team"))
        })?;
    }

    // C is killed; A and B keep working.
    c.kill()?;
    let a_id = created_id(&a.json(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--to",
        "+1 555 0102",
        "--message",
        "while C was away",
    ])?)?;
    b.cli(&["interaction", "send", &b_id, "second message from Bruno"])?;
    a.cli(&[
        "interaction",
        "finalize",
        &a_id,
        "--disposition",
        "Resolved",
        "--note",
        "done offline",
    ])?;

    // C restarts and converges: nothing lost.
    c.start(&[])?;
    eventually("C to catch up", || {
        let mine = c
            .interaction(&a_id)
            .map(|v| v.to_string())
            .unwrap_or_default();
        let theirs = c
            .interaction(&b_id)
            .map(|v| v.to_string())
            .unwrap_or_default();
        Ok(mine.contains("while C was away")
            && mine.contains("Resolved")
            && theirs.contains("second message from Bruno"))
    })?;
    Ok(())
}

#[test]
fn claims_made_apart_resolve_to_one_owner_everywhere() -> R<()> {
    let (a, mut b, c) = three_nodes()?;
    let id = created_id(&a.json(&[
        "interaction",
        "enqueue",
        "--campaign",
        "General",
        "--from",
        "+1 555 0199",
        "--message",
        "I need help",
    ])?)?;
    eventually("the queued interaction on B", || {
        Ok(b.interaction(&id).is_ok())
    })?;
    eventually("the queued interaction on C", || {
        Ok(c.interaction(&id).is_ok())
    })?;

    // B is cut off (stopped); both claim the interaction and write into it.
    b.stop()?;
    a.cli(&["interaction", "accept", &id])?;
    a.cli(&["interaction", "send", &id, "Ana here, written while apart"])?;
    b.cli(&["interaction", "accept", &id])?; // no node: the CLI writes to B's store itself
    b.cli(&[
        "interaction",
        "send",
        &id,
        "Bruno here, written while apart",
    ])?;

    // They meet again: all three agree on the owner and keep both messages.
    b.start(&[])?;
    eventually("one owner and both messages everywhere", || {
        let views: Vec<Value> = [&a, &b, &c]
            .iter()
            .map(|d| d.interaction(&id))
            .collect::<R<_>>()?;
        let owners: Vec<&Value> = views.iter().map(|v| &v["owner"]).collect();
        let text: Vec<String> = views.iter().map(Value::to_string).collect();
        Ok(!owners[0].is_null()
            && owners.iter().all(|o| *o == owners[0])
            && text
                .iter()
                .all(|t| t.contains("Ana here") && t.contains("Bruno here")))
    })?;
    Ok(())
}

#[test]
fn joining_a_team_with_many_documents_reports_the_first_sync_as_it_goes() -> R<()> {
    const CONTACTS: usize = 120;
    let mut a = Device::new("A")?;
    a.cli(&["team", "create", "--name", "Support", "--agent", "Ana"])?;
    for i in 0..CONTACTS {
        a.cli(&["contact", "add", "--name", &format!("Customer {i:03}")])?;
    }
    a.start(&[])?;
    let code = a.invite(&[])?;
    let b = Device::new("B")?;
    // Not a terminal: plain progress lines on stderr, then a summary.
    let out = b.run(&["team", "join", &code, "--agent", "Bruno"])?;
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the join failed: {said}{}",
        a.log_tail()
    );
    let progress = said
        .lines()
        .find(|l| l.starts_with("syncing: "))
        .ok_or_else(|| format!("no progress line in: {said}"))?;
    assert!(progress.contains(" documents, "), "{progress}");
    let synced: usize = said
        .lines()
        .find_map(|l| l.strip_prefix("Synced "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no summary in: {said}"))?;
    // The contacts, the team and the agents' documents.
    assert!(synced > CONTACTS, "synced {synced}: {said}");
    assert!(said.contains(" kB)") || said.contains(" MB)"), "{said}");
    let listed = b.json(&["contact", "list", "--limit", "1000"])?;
    let count = listed
        .as_array()
        .or_else(|| listed["rows"].as_array())
        .map(Vec::len);
    assert_eq!(count, Some(CONTACTS), "{listed}");
    Ok(())
}

#[test]
fn strangers_used_and_expired_codes_and_garbage_are_refused() -> R<()> {
    let mut a = Device::new("A")?;
    a.cli(&["team", "create", "--name", "Support", "--agent", "Ana"])?;
    a.start(&[])?;
    a.cli(&["contact", "add", "--name", "Secret Customer"])?;
    let code = a.invite(&[])?;
    let mut b = Device::new("B")?;
    b.cli(&["team", "join", &code, "--agent", "Bruno"])?;
    b.start(&[])?;

    // The one-use code again: refused, and nothing is left behind.
    let d = Device::new("D")?;
    let out = d.run(&["team", "join", &code, "--agent", "Dora"])?;
    assert!(!out.status.success(), "a used code was accepted");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("used"), "{err}");
    assert!(!d.dir.path().join("team.psk").exists());

    // An expired code: refused.
    let short = a.invite(&["--expires", "1s"])?;
    std::thread::sleep(Duration::from_millis(1500));
    let out = d.run(&["team", "join", &short, "--agent", "Dora"])?;
    assert!(!out.status.success(), "an expired code was accepted");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .to_lowercase()
            .contains("expired")
    );

    // A malformed code: refused with a clear message.
    let out = d.run(&["team", "join", &code[..code.len() / 2], "--agent", "Dora"])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));

    // A node of another team connects to A: no data, and A logs the refusal.
    let invite = meshdesk_sync::invite::InviteCode::parse(&code).map_err(|e| e.to_string())?;
    let a_addr = invite
        .addrs
        .first()
        .ok_or("the invite has no address")?
        .to_string();
    let mut z = Device::new("Z")?;
    z.cli(&["team", "create", "--name", "Other", "--agent", "Zoe"])?;
    z.start(&["--peer", &a_addr])?;
    eventually("A to log the refused connection", || {
        Ok(a.log().contains("refused"))
    })?;
    assert!(
        !z.contacts()?.contains("Secret Customer"),
        "another team got A's data"
    );

    // A peer with the key that sends a garbage frame is disconnected…
    let psk = invite.psk;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let outcome = runtime.block_on(meshdesk_sync::testing::send_raw(
        psk,
        a_addr.parse().map_err(|e| format!("{e}"))?,
        vec![0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef, 0x00],
        Duration::from_secs(10),
    ))?;
    assert!(
        matches!(outcome, meshdesk_sync::testing::RawOutcome::Closed { .. }),
        "{outcome:?}"
    );
    // …and A keeps serving the others.
    a.cli(&["contact", "add", "--name", "After The Garbage"])?;
    eventually("B to get the contact", || {
        Ok(b.contacts()?.contains("After The Garbage"))
    })?;
    Ok(())
}

/// Two namespaces joined by a veth pair; removed on drop.
struct Netns {
    names: [String; 2],
}

impl Netns {
    fn create() -> Option<Netns> {
        let tag = std::process::id() % 100_000;
        let names = [format!("mdA{tag}"), format!("mdB{tag}")];
        let (va, vb) = (format!("va{tag}"), format!("vb{tag}"));
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !ip(&["netns", "add", &names[0]]) {
            return None;
        }
        let ns = Netns {
            names: names.clone(),
        };
        let ok = ip(&["netns", "add", &names[1]])
            && ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])
            && ip(&["link", "set", &va, "netns", &names[0]])
            && ip(&["link", "set", &vb, "netns", &names[1]])
            && ip(&["-n", &names[0], "addr", "add", "10.231.0.1/24", "dev", &va])
            && ip(&["-n", &names[1], "addr", "add", "10.231.0.2/24", "dev", &vb])
            && ip(&["-n", &names[0], "link", "set", &va, "up"])
            && ip(&["-n", &names[1], "link", "set", &vb, "up"])
            && ip(&["-n", &names[0], "link", "set", "lo", "up"])
            && ip(&["-n", &names[1], "link", "set", "lo", "up"]);
        ok.then_some(ns)
    }

    fn wrapper(&self, i: usize) -> Vec<String> {
        vec![
            "ip".into(),
            "netns".into(),
            "exec".into(),
            self.names[i].clone(),
        ]
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip")
                .args(["netns", "del", n])
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[test]
fn mdns_finds_a_teammate_across_network_namespaces() -> R<()> {
    let Some(ns) = Netns::create() else {
        eprintln!("skipped: cannot create network namespaces here (needs root and `ip netns`)");
        return Ok(());
    };
    let mut a = Device::new("A")?;
    a.wrapper = ns.wrapper(0);
    a.cli(&["team", "create", "--name", "Support", "--agent", "Ana"])?;
    a.start(&["--mdns"])?;
    let code = a.invite(&[])?;
    let mut b = Device::new("B")?;
    b.wrapper = ns.wrapper(1);
    b.cli(&["team", "join", &code, "--agent", "Bruno"])?;

    // Restart A on a new port: the addresses each side remembers are now
    // stale, so only mDNS can bring them together.
    a.stop()?;
    b.start(&["--mdns"])?;
    a.start(&["--mdns"])?;
    a.cli(&["contact", "add", "--name", "Found By Mdns"])?;
    eventually("B to find A by mDNS and sync", || {
        Ok(b.contacts()?.contains("Found By Mdns"))
    })?;
    Ok(())
}
