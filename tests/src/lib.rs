//! Helpers for end-to-end tests that start real `meshdesk` processes on
//! 127.0.0.1, each with its own temp data dir.

pub mod mail;
pub mod sites;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `meshdesk` binary built for this test run (`MESHDESK_BIN` overrides).
pub fn meshdesk_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("MESHDESK_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test> → target/<profile>/meshdesk
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join("meshdesk");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p meshdesk` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Polls `check` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One device: a data dir, and its node process while it runs.
pub struct Device {
    pub name: String,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    /// Environment variables for every process run on this device.
    env: Vec<(String, String)>,
}

impl Device {
    pub fn new(name: &str) -> Device {
        Device {
            name: name.into(),
            dir: tempfile::tempdir().expect("tempdir"),
            port: free_port(),
            child: None,
            env: Vec::new(),
        }
    }

    /// Sets an environment variable for this device's later commands and
    /// node (e.g. `SSL_CERT_FILE` for a test certificate authority).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// This device's node address.
    pub fn addr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("node.log")
    }

    /// What the node logged (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(meshdesk_bin())
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("MESHDESK_DATA_DIR")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run meshdesk")
    }

    /// [`Device::run`] with `input` on stdin.
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new(meshdesk_bin())
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("MESHDESK_DATA_DIR")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run meshdesk");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).expect("stdin");
        }
        child.wait_with_output().expect("run meshdesk")
    }

    /// [`Device::run`] through `wrapper` (e.g. `ip netns exec NS`).
    pub fn run_under(&self, wrapper: &[&str], args: &[&str]) -> Output {
        let Some((first, rest)) = wrapper.split_first() else {
            return self.run(args);
        };
        Command::new(first)
            .args(rest)
            .arg(meshdesk_bin())
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("MESHDESK_DATA_DIR")
            .output()
            .expect("run meshdesk")
    }

    /// Runs a command that must succeed; its stdout, trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_under(&[], args)
    }

    /// [`Device::ok`] through `wrapper`.
    pub fn ok_under(&self, wrapper: &[&str], args: &[&str]) -> String {
        let out = self.run_under(wrapper, args);
        assert!(
            out.status.success(),
            "{}: {args:?} failed ({:?}): {}\n--- node log ---\n{}",
            self.name,
            out.status.code(),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: {args:?} gave no JSON ({e}): {text}", self.name))
    }

    /// Starts `meshdesk node` on this device's port and waits for its control socket.
    pub fn start(&mut self, peers: &[String]) {
        self.start_with(peers, &[]);
    }

    /// [`Device::start`] with more `meshdesk node` arguments (e.g. `--http ADDR`).
    pub fn start_with(&mut self, peers: &[String], extra: &[&str]) {
        self.start_under(&[], peers, extra);
    }

    /// [`Device::start_with`] run through `wrapper` (e.g. `prlimit --as=N --`).
    pub fn start_under(&mut self, wrapper: &[&str], peers: &[String], extra: &[&str]) {
        let listen = self.addr();
        self.start_listening(wrapper, &listen, peers, extra);
    }

    /// Starts `meshdesk node` through `wrapper` listening on `listen`.
    pub fn start_listening(
        &mut self,
        wrapper: &[&str],
        listen: &str,
        peers: &[String],
        extra: &[&str],
    ) {
        assert!(self.child.is_none(), "{} already runs", self.name);
        let log = File::create(self.log_path()).expect("log file");
        let log_err = log.try_clone().expect("log file");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(meshdesk_bin());
                c
            }
            None => Command::new(meshdesk_bin()),
        };
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .args(["node", "--no-mdns", "--listen", listen]);
        for p in peers {
            cmd.args(["--peer", p]);
        }
        cmd.args(extra);
        let child = cmd
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("MESHDESK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .expect("spawn node");
        self.child = Some(child);
        let socket = self.data_dir().join("control.sock");
        let up = wait_until(Duration::from_secs(30), || {
            socket.exists() && std::os::unix::net::UnixStream::connect(&socket).is_ok()
        });
        assert!(up, "{}: the node did not start\n{}", self.name, self.log());
    }

    fn signal(&mut self, signal: &str) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
            let stopped = wait_until(Duration::from_secs(20), || {
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !stopped {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{}: the node did not stop on {signal}\n{}",
                    self.name,
                    self.log()
                );
            }
        }
    }

    /// SIGTERM: a clean shutdown.
    pub fn stop(&mut self) {
        self.signal("-TERM");
    }

    /// SIGKILL: a crash.
    pub fn kill(&mut self) {
        self.signal("-KILL");
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The node's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the node process has exited (crashed) since it was started.
    pub fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A team of three running nodes, every agent available: A created it
/// (agent Ana), B (Bo) and C (Cy) joined with A's invites.
pub fn team_of_three() -> (Device, Device, Device) {
    let mut a = Device::new("A");
    a.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
    a.start(&[]);
    let mut b = Device::new("B");
    let mut c = Device::new("C");
    for (device, agent) in [(&mut b, "Bo"), (&mut c, "Cy")] {
        let code = a.ok(&["team", "invite"]);
        device.ok(&["team", "join", &code, "--agent", agent]);
        device.start(&[a.addr()]);
    }
    for d in [&a, &b, &c] {
        d.ok(&["status", "set", "available"]);
    }
    (a, b, c)
}

/// A team of two running nodes: A created it (agent Ana, supervisor), B
/// (Bo) joined with A's invite.
pub fn team_of_two() -> (Device, Device) {
    let mut a = Device::new("A");
    a.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
    a.start(&[]);
    let mut b = Device::new("B");
    let code = a.ok(&["team", "invite"]);
    b.ok(&["team", "join", &code, "--agent", "Bo"]);
    b.start(&[a.addr()]);
    (a, b)
}
