//! Real mail servers for the email channel's tests and benchmark: Dovecot
//! (IMAP with IDLE, LMTP, and submission for SMTP with AUTH and STARTTLS)
//! and Exim (the MTA Dovecot's submission relays to, delivering back into
//! Dovecot over LMTP), on loopback with a test certificate authority, each
//! on its own free ports and temp dir.
//!
//! Needs `dovecot-imapd dovecot-lmtpd dovecot-submissiond exim4-daemon-light`
//! (`.ci/run` installs them) and root (Dovecot's mail user and Exim's own
//! user are switched to from root).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lettre::Transport;

use crate::{Device, free_port, wait_until};

pub const PASSWORD: &str = "s3cret-pass";

/// Dovecot and Exim, started for one test.
pub struct MailServers {
    dir: tempfile::TempDir,
    pub imaps: u16,
    pub submission: u16,
    ca_pem: PathBuf,
    dovecot: Child,
    exim: Child,
}

impl Drop for MailServers {
    fn drop(&mut self) {
        for child in [&mut self.dovecot, &mut self.exim] {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let stopped = wait_until(Duration::from_secs(5), || {
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !stopped {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn which(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl MailServers {
    pub fn start() -> MailServers {
        assert!(
            which("dovecot") && which("exim4"),
            "the email tests need Dovecot and Exim: apt-get install -y dovecot-imapd dovecot-lmtpd dovecot-submissiond exim4-daemon-light"
        );
        let dir = tempfile::Builder::new()
            .prefix("md-mail")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let root = dir.path();
        // A certificate authority and a server certificate for localhost.
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "meshdesk test CA");
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let mut leaf_params =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
        leaf_params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("127.0.0.1".parse().expect("ip")));
        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("leaf");
        let ca_pem = root.join("ca.pem");
        write(&ca_pem, &ca.pem());
        write(&root.join("cert.pem"), &leaf.pem());
        write(&root.join("key.pem"), &leaf_key.serialize_pem());
        for sub in ["run", "state", "mail", "spool"] {
            std::fs::create_dir_all(root.join(sub)).expect("dir");
        }
        // Mail is stored as `nobody`; the folder must be theirs to write.
        let status = Command::new("chmod")
            .args(["0777", &root.join("mail").display().to_string()])
            .status()
            .expect("chmod");
        assert!(status.success());
        write(
            &root.join("users"),
            &format!("support:{{PLAIN}}{PASSWORD}\ncarla:{{PLAIN}}{PASSWORD}\n"),
        );
        let (imaps, lmtp, submission, smtp) = (free_port(), free_port(), free_port(), free_port());
        let r = root.display();
        write(
            &root.join("dovecot.conf"),
            &format!(
                r#"base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
instance_name = md{imaps}
protocols = imap lmtp submission
listen = 127.0.0.1
ssl = yes
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
auth_mechanisms = plain login
disable_plaintext_auth = yes
auth_username_format = %Ln
mail_location = maildir:{r}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {r}/users
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={r}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = {submission}
  }}
}}
submission_relay_host = 127.0.0.1
submission_relay_port = {smtp}
submission_relay_trusted = yes
hostname = localhost
postmaster_address = postmaster@localhost
"#
            ),
        );
        let exim_conf = root.join("exim.conf");
        write(
            &exim_conf,
            &format!(
                r#"keep_environment =
primary_hostname = localhost
spool_directory = {r}/spool
log_file_path = {r}/spool/exim-%slog
pid_file_path = {r}/spool/exim.pid
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
daemon_smtp_ports = {smtp}
local_interfaces = 127.0.0.1
domainlist local_domains = *
acl_smtp_rcpt = accept_all
acl_smtp_data = accept_all
split_spool_directory = false

begin acl
accept_all:
  accept

begin routers
to_dovecot:
  driver = accept
  transport = dovecot_lmtp

begin transports
dovecot_lmtp:
  driver = smtp
  protocol = lmtp
  hosts = 127.0.0.1
  port = {lmtp}
  allow_localhost
  hosts_avoid_tls = *
  user = Debian-exim

begin retry
* * F,1h,1s
"#
            ),
        );
        let status = Command::new("chown")
            .args([
                "-R",
                "Debian-exim",
                &root.join("spool").display().to_string(),
            ])
            .status()
            .expect("chown");
        assert!(status.success(), "chown Debian-exim");
        let dovecot = Command::new("dovecot")
            .args(["-F", "-c"])
            .arg(root.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot");
        let exim = Command::new("exim4")
            .arg("-C")
            .arg(&exim_conf)
            .args(["-bdf", "-q1s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("exim");
        let servers = MailServers {
            dir,
            imaps,
            submission,
            ca_pem,
            dovecot,
            exim,
        };
        let up = wait_until(Duration::from_secs(20), || {
            [imaps, submission, smtp, lmtp]
                .iter()
                .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok())
        });
        assert!(up, "the mail servers did not start\n{}", servers.logs());
        servers
    }

    pub fn logs(&self) -> String {
        let read = |p: &str| std::fs::read_to_string(self.dir.path().join(p)).unwrap_or_default();
        format!(
            "--- dovecot ---\n{}\n--- exim ---\n{}",
            read("dovecot.log"),
            read("spool/exim-mainlog")
        )
    }

    pub fn ca(&self) -> String {
        self.ca_pem.display().to_string()
    }

    /// Carla sends a mail to the support mailbox, through submission.
    pub fn customer_sends(
        &self,
        message_id: &str,
        subject: &str,
        body: &str,
        replies_to: Option<&str>,
    ) {
        let mut builder = lettre::Message::builder()
            .from("Carla Customer <carla@example.test>".parse().expect("from"))
            .to("support@example.test".parse().expect("to"))
            .subject(subject)
            .message_id(Some(message_id.to_string()));
        if let Some(parent) = replies_to {
            builder = builder
                .in_reply_to(parent.to_string())
                .references(parent.to_string());
        }
        let email = builder.body(body.to_string()).expect("mail");
        self.submit(&email);
    }

    /// Carla sends an HTML mail with a file.
    pub fn customer_sends_html(
        &self,
        message_id: &str,
        subject: &str,
        html: &str,
        file: (&str, &[u8]),
    ) {
        use lettre::message::{Attachment, MultiPart, SinglePart, header::ContentType};
        let email = lettre::Message::builder()
            .from("Carla Customer <carla@example.test>".parse().expect("from"))
            .to("support@example.test".parse().expect("to"))
            .subject(subject)
            .message_id(Some(message_id.to_string()))
            .multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::html(html.to_string()))
                    .singlepart(Attachment::new(file.0.to_string()).body(
                        file.1.to_vec(),
                        ContentType::parse("application/pdf").expect("type"),
                    )),
            )
            .expect("mail");
        self.submit(&email);
    }

    fn submit(&self, email: &lettre::Message) {
        let ca = std::fs::read(&self.ca_pem).expect("ca");
        let tls = lettre::transport::smtp::client::TlsParameters::builder("localhost".into())
            .certificate_store(lettre::transport::smtp::client::CertificateStore::None)
            .add_root_certificate(
                lettre::transport::smtp::client::Certificate::from_pem(&ca).expect("ca pem"),
            )
            .build_rustls()
            .expect("tls");
        let smtp = lettre::SmtpTransport::builder_dangerous("localhost")
            .port(self.submission)
            .tls(lettre::transport::smtp::client::Tls::Required(tls))
            .credentials(lettre::transport::smtp::authentication::Credentials::new(
                "carla".into(),
                PASSWORD.into(),
            ))
            .build();
        smtp.send(email)
            .unwrap_or_else(|e| panic!("customer's mail: {e}\n{}", self.logs()));
    }

    /// The mails in a user's mailbox, as files (new and cur).
    pub fn mailbox_files(&self, user: &str) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.dir.path().join("mail").join(user).join(sub);
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                    out.push((e.path(), text));
                }
            }
        }
        out
    }

    /// Marks every mail of a user's mailbox unseen again (the maildir's
    /// flags are in the file names; Dovecot reads them at its next look).
    pub fn mark_all_unseen(&self, user: &str) {
        for (path, _) in self.mailbox_files(user) {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some((base, flags)) = name.rsplit_once(":2,") {
                let flags: String = flags.chars().filter(|c| *c != 'S').collect();
                let renamed = path.with_file_name(format!("{base}:2,{flags}"));
                std::fs::rename(&path, renamed).expect("rename");
            }
        }
    }

    /// Marks every mail of a user's mailbox seen, as a person reading it in
    /// another mail client would.
    pub fn mark_all_seen(&self, user: &str) {
        let cur = self.dir.path().join("mail").join(user).join("cur");
        for (path, _) in self.mailbox_files(user) {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let renamed = match name.rsplit_once(":2,") {
                Some((_, flags)) if flags.contains('S') => continue,
                Some((base, flags)) => cur.join(format!("{base}:2,{flags}S")),
                None => cur.join(format!("{name}:2,S")),
            };
            std::fs::rename(&path, renamed).expect("rename");
        }
    }

    /// Whether every mail of the support mailbox is marked seen.
    pub fn support_all_seen(&self) -> bool {
        let files = self.mailbox_files("support");
        !files.is_empty()
            && files.iter().all(|(p, _)| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.rsplit_once(":2,").is_some_and(|(_, f)| f.contains('S')))
            })
    }
}

pub fn header<'t>(mail: &'t str, name: &str) -> Option<&'t str> {
    let head = mail.split("\r\n\r\n").next().unwrap_or(mail);
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A device that trusts the test certificate authority.
pub fn device(name: &str, servers: &MailServers) -> Device {
    let mut d = Device::new(name);
    d.set_env("SSL_CERT_FILE", &servers.ca());
    d
}

pub fn peer_id(d: &Device) -> String {
    let members = d.json(&["team", "members"]);
    let me = d.json(&["team", "show"]);
    let agent = me["me"]["agent"].as_str().expect("agent").to_string();
    members
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["agent"].as_str() == Some(agent.as_str()))
        .and_then(|m| m["device"].as_str().or(m["peer"].as_str()))
        .unwrap_or_else(|| panic!("no device of {agent} in {members}"))
        .to_string()
}

/// Where one of a mailbox's servers is, as `mailbox set` takes it.
pub struct Server<'a> {
    pub host: &'a str,
    pub port: u16,
    /// `tls`, `starttls` or `none`.
    pub tls: &'a str,
}

/// The Mail campaign's mailbox on the test servers, `password` kept on `a`.
pub fn set_mailbox(a: &Device, servers: &MailServers, password: &str) {
    set_mailbox_to(
        a,
        Server {
            host: "localhost",
            port: servers.imaps,
            tls: "tls",
        },
        Server {
            host: "localhost",
            port: servers.submission,
            tls: "starttls",
        },
        password,
    );
}

/// The Mail campaign's mailbox at `imap` and `smtp` (user `support`),
/// `password` kept on `a`.
pub fn set_mailbox_to(a: &Device, imap: Server<'_>, smtp: Server<'_>, password: &str) {
    let (imap_port, smtp_port) = (imap.port.to_string(), smtp.port.to_string());
    let out = a.run_with_input(
        &[
            "mailbox",
            "set",
            "--campaign",
            "Mail",
            "--address",
            "support@example.test",
            "--imap-host",
            imap.host,
            "--imap-port",
            &imap_port,
            "--imap-tls",
            imap.tls,
            "--imap-user",
            "support",
            "--smtp-host",
            smtp.host,
            "--smtp-port",
            &smtp_port,
            "--smtp-tls",
            smtp.tls,
        ],
        &format!("{password}\n"),
    );
    assert!(
        out.status.success(),
        "mailbox set: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn pending(d: &Device) -> Vec<serde_json::Value> {
    d.json(&["interaction", "list", "--tab", "pending"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// One text field of each message of a conversation, in the order it
/// shows them.
fn message_field(d: &Device, id: &str, field: &str) -> Vec<String> {
    d.json(&["interaction", "show", id])["interaction"]["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m[field].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

pub fn bodies(d: &Device, id: &str) -> Vec<String> {
    message_field(d, id, "body")
}

pub fn message_ids(d: &Device, id: &str) -> Vec<String> {
    message_field(d, id, "id")
}

/// Two fetchers apart, each taking in what `send` delivers: A alone
/// first, then B alone with the mailbox marked unseen again (as if both
/// had fetched at once); then they start again, A with B as its peer.
/// `took` answers once a node has taken it in; what it gave on A and on B
/// is returned.
pub fn taken_in_apart<T>(
    servers: &MailServers,
    a: &mut Device,
    b: &mut Device,
    send: impl FnOnce(),
    took: impl Fn(&Device) -> Option<T>,
) -> (T, T) {
    a.stop();
    b.stop();
    let mut send = Some(send);
    let mut taken = Vec::with_capacity(2);
    for d in [&mut *a, &mut *b] {
        servers.mark_all_unseen("support");
        d.start(&[]);
        if let Some(send) = send.take() {
            send();
        }
        let mut got = None;
        assert!(
            wait_until(Duration::from_secs(20), || {
                got = took(d);
                got.is_some()
            }),
            "{} alone did not take it in\n{}",
            d.name,
            d.log()
        );
        assert!(wait_until(Duration::from_secs(10), || servers.support_all_seen()));
        d.stop();
        taken.extend(got);
    }
    b.start(&[]);
    a.start(&[b.addr()]);
    let mut taken = taken.into_iter();
    match (taken.next(), taken.next()) {
        (Some(on_a), Some(on_b)) => (on_a, on_b),
        _ => panic!("both were waited for"),
    }
}

/// Makes `b` no fetcher of the Mail campaign (A, a supervisor, says so):
/// the mail then has to cross from A.
pub fn only_a_fetches(a: &Device, b: &Device) {
    set_fetcher(a, b, false);
}

/// Makes `b` a fetcher of the Mail campaign, or (`fetches` false) none:
/// A, a supervisor, says so.
fn set_fetcher(a: &Device, b: &Device, fetches: bool) {
    let b_device = peer_id(b);
    let mut args = vec![
        "mailbox",
        "fetcher",
        "--campaign",
        "Mail",
        "--device",
        &b_device,
    ];
    if !fetches {
        args.push("--remove");
    }
    a.ok(&args);
}

/// Node A's data dir (not started): team Support, supervisor Ana, and the
/// email campaign Mail with Ana in it.
pub fn supervisor_with_mail_campaign(servers: &MailServers) -> Device {
    let a = device("A", servers);
    a.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
    a.ok(&[
        "campaign",
        "add",
        "--name",
        "Mail",
        "--channel",
        "email",
        "--strategy",
        "ring-all",
        "--member",
        "Ana",
    ]);
    a
}

/// The first mail in `user`'s mailbox, once there is one (within `secs`).
pub fn first_mail(servers: &MailServers, user: &str, secs: u64) -> Option<String> {
    let mut mail = None;
    wait_until(Duration::from_secs(secs), || {
        mail = servers
            .mailbox_files(user)
            .into_iter()
            .next()
            .map(|(_, t)| t);
        mail.is_some()
    });
    mail
}

/// Two nodes with a campaign on the email channel whose mailbox both hold
/// the password for; A (supervisor) and B are both fetchers.
pub fn team(servers: &MailServers) -> (Device, Device) {
    let mut a = supervisor_with_mail_campaign(servers);
    a.start(&[]);
    let mut b = device("B", servers);
    let code = a.ok(&["team", "invite"]);
    b.ok(&["team", "join", &code, "--agent", "Bo"]);
    b.start(&[a.addr()]);
    a.ok(&[
        "campaign", "edit", "Mail", "--member", "Ana", "--member", "Bo",
    ]);
    set_mailbox(&a, servers, PASSWORD);
    set_fetcher(&a, &b, true);
    assert!(wait_until(Duration::from_secs(20), || {
        b.run(&["mailbox", "show", "--campaign", "Mail"])
            .status
            .success()
    }));
    let out = b.run_with_input(
        &["mailbox", "password", "--campaign", "Mail"],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for d in [&a, &b] {
        d.ok(&["status", "set", "available"]);
    }
    (a, b)
}
