//! The email channel end to end, against real servers started here (see
//! `meshdesk_tests::mail`): a mail becomes pending, the reply threads, the
//! customer's answer joins; killing the fetcher loses and doubles nothing;
//! two fetchers apart show each mail, answer and sender once after the
//! merge; a wrong password is named.

use std::time::Duration;

use meshdesk_tests::mail::*;
use meshdesk_tests::wait_until;

#[test]
fn a_mail_becomes_pending_the_reply_threads_and_the_answer_joins_it() {
    let servers = MailServers::start();
    let (a, b) = team(&servers);
    let tested = a.ok(&["mailbox", "test", "--campaign", "Mail"]);
    assert!(tested.contains("IDLE offered"), "{tested}");

    servers.customer_sends(
        "<c1@customer.example>",
        "Printer broken",
        "My printer is broken.",
        None,
    );
    let mut id = String::new();
    assert!(
        wait_until(Duration::from_secs(20), || {
            let rows = pending(&a);
            if let Some(r) = rows.first() {
                id = r["id"].as_str().unwrap_or_default().to_string();
            }
            rows.len() == 1 && pending(&b).len() == 1
        }),
        "the mail did not become pending on A and B\nA: {}\nB: {}\n{}",
        a.log(),
        b.log(),
        servers.logs()
    );
    assert_eq!(bodies(&a, &id), vec!["My printer is broken.".to_string()]);
    let shown = a.json(&["interaction", "show", &id]);
    assert_eq!(shown["interaction"]["subject"], "Printer broken");
    assert_eq!(shown["interaction"]["address"], "carla@example.test");
    assert!(wait_until(Duration::from_secs(10), || servers.support_all_seen()));

    b.ok(&["interaction", "accept", &id]);
    let steps = b.data_dir().join("steps.txt");
    std::fs::write(&steps, "1. off\n2. on\n").expect("file");
    b.ok(&[
        "interaction",
        "send",
        &id,
        "Have you tried turning it off and on?",
        "--file",
        &steps.display().to_string(),
    ]);
    let reply = first_mail(&servers, "carla", 30);
    let reply = reply.unwrap_or_else(|| {
        panic!(
            "the reply did not reach the customer\nB: {}\n{}",
            b.log(),
            servers.logs()
        )
    });
    assert_eq!(header(&reply, "In-Reply-To"), Some("<c1@customer.example>"));
    assert!(
        header(&reply, "References").is_some_and(|r| r.contains("<c1@customer.example>")),
        "{reply}"
    );
    let subject = header(&reply, "Subject").unwrap_or_default();
    assert!(subject.starts_with("Re: Printer broken"), "{subject}");
    assert!(subject.contains(&format!("[#{id}]")), "{subject}");
    let reply_id = header(&reply, "Message-ID")
        .expect("Message-ID")
        .to_string();
    assert!(reply_id.contains(&id), "{reply_id}");
    assert!(
        reply.contains("Have you tried turning it off and on?"),
        "{reply}"
    );
    assert!(reply.contains("> My printer is broken."), "{reply}");
    assert!(reply.contains("filename=\"steps.txt\""), "{reply}");

    servers.customer_sends(
        "<c2@customer.example>",
        &format!("Re: Printer broken [#{id}]"),
        "Yes, still broken.",
        Some(&reply_id),
    );
    assert!(
        wait_until(Duration::from_secs(20), || bodies(&b, &id).len() == 3),
        "the answer did not join the interaction: {:?}\n{}",
        bodies(&b, &id),
        b.log()
    );
    assert_eq!(bodies(&b, &id)[2], "Yes, still broken.");
    assert!(pending(&a).is_empty(), "{:?}", pending(&a));
}

#[test]
fn killing_the_fetcher_loses_and_doubles_nothing_and_the_other_takes_over() {
    let servers = MailServers::start();
    let (mut a, mut b) = team(&servers);
    // Which of the two fetches.
    let mut fetcher = String::new();
    assert!(wait_until(Duration::from_secs(20), || {
        if a.log().contains("fetching the mailbox (elected)") {
            fetcher = "A".into();
        } else if b.log().contains("fetching the mailbox (elected)") {
            fetcher = "B".into();
        }
        !fetcher.is_empty()
    }));
    let (killed, other) = if fetcher == "A" {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    servers.customer_sends("<k1@customer.example>", "First", "one", None);
    assert!(wait_until(Duration::from_secs(20), || pending(other).len() == 1));
    // The next mails arrive as the fetcher dies.
    servers.customer_sends("<k2@customer.example>", "Second", "two", None);
    killed.kill();
    servers.customer_sends("<k3@customer.example>", "Third", "three", None);
    assert!(
        wait_until(Duration::from_secs(20), || pending(other).len() == 3),
        "the other node did not take over: {:?}\n{}",
        pending(other),
        other.log()
    );
    assert!(other.log().contains("fetching the mailbox (elected)"));
    assert!(wait_until(Duration::from_secs(10), || servers.support_all_seen()));
    // The killed node comes back: it syncs, and nothing is doubled.
    let peer = other.addr();
    killed.start(&[peer]);
    assert!(wait_until(Duration::from_secs(20), || pending(killed)
        .len()
        == 3));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(pending(other).len(), 3, "{:?}", pending(other));
    assert_eq!(pending(killed).len(), 3, "{:?}", pending(killed));
    let mut subjects: Vec<String> = pending(other)
        .iter()
        .map(|r| r["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["First", "Second", "Third"]);
}

#[test]
fn two_fetchers_apart_store_one_mail_twice_and_the_merge_shows_it_and_its_sender_once() {
    let servers = MailServers::start();
    let (mut a, mut b) = team(&servers);
    // A new sender's first mail, taken in on both sides: each makes an
    // interaction and a contact for the address.
    let (on_a, on_b) = taken_in_apart(
        &servers,
        &mut a,
        &mut b,
        || servers.customer_sends("<p1@customer.example>", "Apart", "one mail", None),
        |d| {
            let rows = pending(d);
            let id = rows.first()?["id"].as_str()?.to_string();
            (rows.len() == 1).then_some(id)
        },
    );
    assert_ne!(on_a, on_b, "two interactions were made apart");
    // They meet: each holds both documents, and one mail shows once.
    assert!(
        wait_until(Duration::from_secs(30), || {
            a.run(&["interaction", "show", &on_b]).status.success()
                && b.run(&["interaction", "show", &on_a]).status.success()
        }),
        "they did not sync\nA: {}\nB: {}",
        a.log(),
        b.log()
    );
    let kept = on_a.clone().min(on_b.clone());
    for d in [&a, &b] {
        let rows = pending(d);
        assert_eq!(rows.len(), 1, "{}: {rows:?}", d.name);
        assert_eq!(rows[0]["id"].as_str(), Some(kept.as_str()));
    }
    // The sender is one phonebook entry, the same on both nodes.
    let contacts = |d: &meshdesk_tests::Device| d.json(&["contact", "list"]);
    assert!(
        wait_until(Duration::from_secs(10), || contacts(&a) == contacts(&b)),
        "A: {}\nB: {}",
        contacts(&a),
        contacts(&b)
    );
    let listed = contacts(&a);
    let listed = listed.as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["emails"][0], "carla@example.test", "{listed:?}");
}

#[test]
fn an_answer_both_fetchers_took_in_apart_shows_once_after_the_merge() {
    let servers = MailServers::start();
    let (mut a, mut b) = team(&servers);
    servers.customer_sends("<q1@customer.example>", "Question", "first", None);
    let mut id = String::new();
    assert!(wait_until(Duration::from_secs(20), || {
        if let Some(r) = pending(&b).first() {
            id = r["id"].as_str().unwrap_or_default().to_string();
        }
        !id.is_empty() && pending(&a).len() == 1
    }));
    assert!(wait_until(Duration::from_secs(10), || servers.support_all_seen()));
    // The customer's answer comes while they are apart; each takes it in.
    let (on_a, on_b) = taken_in_apart(
        &servers,
        &mut a,
        &mut b,
        || {
            servers.customer_sends(
                "<q2@customer.example>",
                "Re: Question",
                "the answer",
                Some("<q1@customer.example>"),
            )
        },
        |d| message_ids(d, &id).get(1).cloned(),
    );
    assert_ne!(on_a, on_b, "the answer was appended on each side");
    // They meet: one conversation on both, the answer in it once (A's,
    // taken in first).
    assert!(
        wait_until(Duration::from_secs(30), || message_ids(&a, &id)
            == message_ids(&b, &id)),
        "they did not sync\nA: {}\nB: {}",
        a.log(),
        b.log()
    );
    for d in [&a, &b] {
        assert_eq!(bodies(d, &id), ["first", "the answer"], "{}", d.name);
        assert_eq!(message_ids(d, &id)[1], on_a, "{}", d.name);
        let rows = pending(d);
        assert_eq!(rows.len(), 1, "{}: {rows:?}", d.name);
        assert_eq!(rows[0]["message_count"], 2, "{}: {rows:?}", d.name);
    }
}

#[test]
fn a_reply_that_cannot_be_sent_says_so_in_the_conversation() {
    let servers = MailServers::start();
    let (a, b) = team(&servers);
    // Only A fetches; B's own password is wrong, so its reply is refused.
    only_a_fetches(&a, &b);
    let out = b.run_with_input(
        &["mailbox", "password", "--campaign", "Mail"],
        "not-the-password\n",
    );
    assert!(out.status.success());
    servers.customer_sends("<f1@customer.example>", "Help", "help me", None);
    let mut id = String::new();
    assert!(wait_until(Duration::from_secs(20), || {
        let rows = pending(&b);
        if let Some(r) = rows.first() {
            id = r["id"].as_str().unwrap_or_default().to_string();
        }
        !id.is_empty()
    }));
    b.ok(&["interaction", "accept", &id]);
    b.ok(&["interaction", "send", &id, "This will not arrive"]);
    assert!(
        wait_until(Duration::from_secs(30), || {
            bodies(&a, &id).iter().any(|m| {
                m.contains("could not be sent by email") && m.contains("refused the login")
            })
        }),
        "no failure in the conversation: {:?}\n{}",
        bodies(&a, &id),
        b.log()
    );
    assert!(servers.mailbox_files("carla").is_empty());
}

#[test]
fn a_mail_read_in_another_client_before_the_fetch_is_still_taken_in() {
    let servers = MailServers::start();
    let (mut a, mut b) = team(&servers);
    servers.customer_sends("<r1@customer.example>", "First", "one", None);
    assert!(wait_until(Duration::from_secs(20), || pending(&a).len() == 1));
    a.stop();
    b.stop();
    // Someone reads the next mail in their mail client while no node runs.
    servers.customer_sends("<r2@customer.example>", "Read elsewhere", "two", None);
    assert!(wait_until(Duration::from_secs(10), || {
        servers.mailbox_files("support").len() == 2
    }));
    servers.mark_all_seen("support");
    a.start(&[]);
    b.start(&[a.addr()]);
    assert!(
        wait_until(Duration::from_secs(20), || pending(&a).len() == 2),
        "the mail read elsewhere was skipped: {:?}\nA: {}\nB: {}",
        pending(&a),
        a.log(),
        b.log()
    );
}

#[test]
fn html_mail_reads_as_text_and_its_files_are_kept() {
    let servers = MailServers::start();
    let (a, _b) = team(&servers);
    let pdf = b"%PDF-1.4 a small invoice".to_vec();
    servers.customer_sends_html(
        "<h1@customer.example>",
        "Invoice",
        "<html><body><p>Please see the <b>invoice</b>.</p><script>alert(1)</script></body></html>",
        ("invoice.pdf", &pdf),
    );
    let mut id = String::new();
    assert!(wait_until(Duration::from_secs(20), || {
        if let Some(r) = pending(&a).first() {
            id = r["id"].as_str().unwrap_or_default().to_string();
        }
        !id.is_empty()
    }));
    let shown = a.json(&["interaction", "show", &id]);
    let message = &shown["interaction"]["messages"][0];
    let body = message["body"].as_str().unwrap_or_default();
    assert!(body.contains("Please see the"), "{body}");
    assert!(body.contains("invoice"), "{body}");
    assert!(!body.contains('<') && !body.contains("alert"), "{body}");
    let file = &message["attachments"][0];
    assert_eq!(file["name"], "invoice.pdf", "{message}");
    assert_eq!(file["size"].as_u64(), Some(pdf.len() as u64));
    let hash = file["hash"].as_str().expect("hash").to_string();
    let out = a.data_dir().join("invoice-copy.pdf");
    a.ok(&["file", "get", &hash, "--out", &out.display().to_string()]);
    assert_eq!(std::fs::read(&out).expect("file"), pdf);
}

#[test]
fn a_reply_left_on_a_node_that_went_away_is_sent_by_the_fetcher() {
    let servers = MailServers::start();
    let (a, mut b) = team(&servers);
    // B neither fetches nor holds the password: its reply waits there.
    only_a_fetches(&a, &b);
    std::fs::remove_file(b.data_dir().join("mail-secrets.json")).expect("forget");
    servers.customer_sends("<w1@customer.example>", "Waiting", "anyone?", None);
    let mut id = String::new();
    assert!(wait_until(Duration::from_secs(20), || {
        if let Some(r) = pending(&b).first() {
            id = r["id"].as_str().unwrap_or_default().to_string();
        }
        !id.is_empty()
    }));
    b.ok(&["interaction", "accept", &id]);
    b.ok(&["interaction", "send", &id, "Bo here, on it."]);
    assert!(wait_until(Duration::from_secs(20), || {
        b.log().contains("a reply waits")
    }));
    assert!(wait_until(Duration::from_secs(20), || bodies(&a, &id)
        .len()
        == 2));
    assert!(servers.mailbox_files("carla").is_empty());
    b.stop();
    // Not at once: a link that drops for a moment comes back, and the
    // author's node sends its own replies (AWAY_BEFORE_SENDING_FOR, 15 s).
    std::thread::sleep(Duration::from_secs(10));
    assert!(
        servers.mailbox_files("carla").is_empty(),
        "A sent B's reply as soon as B went away"
    );
    let reply = first_mail(&servers, "carla", 60);
    let reply = reply.unwrap_or_else(|| panic!("A did not send B's reply\n{}", a.log()));
    assert!(reply.contains("Bo here, on it."), "{reply}");
    assert!(
        header(&reply, "From").is_some_and(|f| f.contains("Bo")),
        "{reply}"
    );
    assert_eq!(header(&reply, "In-Reply-To"), Some("<w1@customer.example>"));
}

#[test]
fn a_wrong_password_is_named_by_mailbox_test() {
    let servers = MailServers::start();
    let a = supervisor_with_mail_campaign(&servers);
    set_mailbox(&a, &servers, "not-the-password");
    let out = a.run(&["mailbox", "test", "--campaign", "Mail"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stderr.contains("IMAP") && stderr.contains("refused the login"),
        "{stderr}"
    );
    assert!(
        stderr.contains("SMTP") && stderr.contains("refused the login"),
        "{stderr}"
    );
    assert!(stdout.contains("FAILED"), "{stdout}");
    // The right password: both servers answer.
    let out = a.run_with_input(
        &["mailbox", "password", "--campaign", "Mail"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success());
    let ok = a.ok(&["mailbox", "test", "--campaign", "Mail"]);
    assert!(ok.contains("IMAP") && ok.contains("SMTP"), "{ok}");
    // A host that does not resolve is a DNS failure.
    set_mailbox_to(
        &a,
        Server {
            host: "no-such-host.invalid",
            port: servers.imaps,
            tls: "tls",
        },
        Server {
            host: "localhost",
            port: 1,
            tls: "starttls",
        },
        PASSWORD,
    );
    let out = a.run(&["mailbox", "test", "--campaign", "Mail"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DNS"), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    // TLS where the server speaks plain text first (the submission port):
    // a TLS failure, named so.
    set_mailbox_to(
        &a,
        Server {
            host: "localhost",
            port: servers.submission,
            tls: "tls",
        },
        Server {
            host: "localhost",
            port: servers.submission,
            tls: "starttls",
        },
        PASSWORD,
    );
    let out = a.run(&["mailbox", "test", "--campaign", "Mail"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("IMAP") && stderr.contains("TLS with"),
        "{stderr}"
    );
}
