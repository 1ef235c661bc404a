//! Files between real nodes: a file attached on B opens on A once the
//! message has synced, fetched from B on demand with its hash checked, and
//! stays on A across a restart and with B gone; a member that answers with
//! other bytes than the file's is refused and nothing is stored.

use std::time::Duration;

use meshdesk_model::blobs::BlobHash;
use meshdesk_sync::invite::InviteCode;
use meshdesk_tests::{Device, free_port, team_of_two, wait_until};

type R = Result<(), Box<dyn std::error::Error>>;

/// A running team of one (Ana) and a second device that joined it with a
/// one-use code and is not running: its data dir holds a roster key, and
/// the code the team's network key and A's address.
fn team_with_idle_member() -> Result<(Device, Device, InviteCode), Box<dyn std::error::Error>> {
    let mut a = Device::new("A");
    a.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
    a.start(&[]);
    let code = a.ok(&["team", "invite"]);
    let code = code
        .split_whitespace()
        .find(|w| w.starts_with("MD1-"))
        .ok_or("no invite code")?
        .to_string();
    let b = Device::new("B");
    b.ok(&["team", "join", &code, "--agent", "Bruno"]);
    Ok((a, b, InviteCode::parse(&code)?))
}

/// A call `device`'s agent starts (theirs: they may send in it).
fn phone_call(device: &Device, to: &str) -> String {
    device.ok(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--to",
        to,
    ])
}

/// A picture's worth of bytes that do not compress.
fn picture(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    while bytes.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        bytes.extend_from_slice(&seed.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// The files of an interaction's messages as `device` sees them.
fn files_on(device: &Device, id: &str) -> Vec<serde_json::Value> {
    let shown = device.run(&["--json", "interaction", "show", id]);
    if !shown.status.success() {
        return vec![];
    }
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap_or_default();
    shown["interaction"]["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .flat_map(|m| m["attachments"].as_array().cloned().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

fn blob_on_disk(device: &Device, hash: &str) -> bool {
    device
        .data_dir()
        .join("blobs")
        .join(&hash[..2])
        .join(&hash[2..])
        .exists()
}

#[test]
fn a_file_attached_on_b_opens_on_a_after_sync_with_its_hash_checked() -> R {
    let (mut a, mut b) = team_of_two();
    let id = phone_call(&b, "+34 600 100 200");
    let bytes = picture(300_000);
    let src = b.data_dir().join("router.png");
    std::fs::write(&src, &bytes)?;
    b.ok(&[
        "interaction",
        "send",
        &id,
        "The router's lights",
        "--file",
        src.to_str().ok_or("path")?,
    ]);
    assert!(
        wait_until(Duration::from_secs(30), || !files_on(&a, &id).is_empty()),
        "A never saw the message with its file\n--- A ---\n{}\n--- B ---\n{}",
        a.log(),
        b.log()
    );
    let file = files_on(&a, &id).remove(0);
    assert_eq!(file["name"], "router.png");
    assert_eq!(file["mime"], "image/png");
    assert_eq!(file["size"], bytes.len());
    let hash = file["hash"].as_str().ok_or("hash")?.to_string();
    assert_eq!(hash, BlobHash::of(&bytes).to_hex());

    // The file follows its message: A holds it without anyone opening it,
    // so it opens after B has gone.
    assert!(
        wait_until(Duration::from_secs(30), || blob_on_disk(&a, &hash)),
        "A never fetched the file\n--- A ---\n{}",
        a.log()
    );
    b.stop();
    let out = a.data_dir().join("opened.png");
    let out_arg = out.to_str().ok_or("path")?.to_string();
    a.ok(&["file", "get", &hash, "--out", &out_arg]);
    let opened = std::fs::read(&out)?;
    assert_eq!(BlobHash::of(&opened).to_hex(), hash, "hash checked on A");
    assert_eq!(opened, bytes);

    // And across a restart of A.
    a.stop();
    std::fs::remove_file(&out)?;
    a.start(&[]);
    a.ok(&["file", "get", &hash, "--out", &out_arg]);
    assert_eq!(std::fs::read(&out)?, bytes);
    Ok(())
}

/// One HTTP/1.1 request to `127.0.0.1:port` (the connection closed after
/// it); the status and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, Vec<u8>), Box<dyn std::error::Error>> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    Ok((status, answer[split + 4..].to_vec()))
}

#[test]
fn a_file_sent_by_a_visitor_on_bs_gateway_opens_on_a_with_its_hash_checked() -> R {
    let mut a = Device::new("A");
    a.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
    a.ok(&[
        "campaign",
        "add",
        "--name",
        "Web",
        "--channel",
        "webchat",
        "--strategy",
        "ring-all",
    ]);
    a.start(&[]);
    let mut b = Device::new("B");
    let code = a.ok(&["team", "invite"]);
    b.ok(&["team", "join", &code, "--agent", "Bo"]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    b.start_with(&[a.addr()], &["--http", &listen]);
    assert!(
        wait_until(Duration::from_secs(30), || http(
            port,
            "GET",
            "/healthz",
            &[],
            b""
        )
        .is_ok_and(|(s, _)| s == 200)
            && http(port, "GET", "/chat/Web/info", &[], b"")
                .is_ok_and(|(s, _)| s == 200)),
        "B's gateway never served the campaign\n{}",
        b.log()
    );
    let (status, started) = http(
        port,
        "POST",
        "/chat/Web/start",
        &[("content-type", "application/json")],
        br#"{"name":"Vic","text":"My parcel arrived broken"}"#,
    )?;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&started));
    let started: serde_json::Value = serde_json::from_slice(&started)?;
    let token = started["token"].as_str().ok_or("token")?;
    let id = started["interaction"].as_str().ok_or("id")?.to_string();
    let bytes = picture(500_000);
    let auth = format!("Bearer {token}");
    let (status, sent) = http(
        port,
        "POST",
        "/chat/Web/files?name=parcel.png",
        &[
            ("authorization", &auth),
            ("content-type", "application/octet-stream"),
        ],
        &bytes,
    )?;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&sent));

    assert!(
        wait_until(Duration::from_secs(30), || !files_on(&a, &id).is_empty()),
        "A never saw the visitor's file\n--- A ---\n{}\n--- B ---\n{}",
        a.log(),
        b.log()
    );
    let file = files_on(&a, &id).remove(0);
    assert_eq!(file["name"], "parcel.png");
    let hash = file["hash"].as_str().ok_or("hash")?.to_string();
    let out = a.data_dir().join("parcel.png");
    let out_arg = out.to_str().ok_or("path")?.to_string();
    a.ok(&["file", "get", &hash, "--out", &out_arg]);
    let opened = std::fs::read(&out)?;
    assert_eq!(BlobHash::of(&opened).to_hex(), hash, "hash checked on A");
    assert_eq!(opened, bytes);
    Ok(())
}

#[test]
fn a_file_reaches_a_node_that_never_met_its_sender_through_a_teammate() -> R {
    // A, B and C of one team; A is off while B sends the file, B is off
    // by the time A comes back: only C can have carried it.
    let mut a = Device::new("A");
    a.ok(&["team", "create", "--name", "Support", "--agent", "Ana"]);
    a.start(&[]);
    let mut b = Device::new("B");
    let mut c = Device::new("C");
    // C first: B's join then brings a roster that has C on it.
    for (device, agent) in [(&mut c, "Cy"), (&mut b, "Bo")] {
        let code = a.ok(&["team", "invite"]);
        device.ok(&["team", "join", &code, "--agent", agent]);
    }
    c.start(&[a.addr()]);
    let id = phone_call(&a, "+34 600 100 200");
    assert!(
        wait_until(Duration::from_secs(30), || c
            .run(&["interaction", "show", &id])
            .status
            .success()),
        "C never got the interaction\n{}",
        c.log()
    );
    a.stop();
    b.start(&[c.addr()]);
    assert!(
        wait_until(Duration::from_secs(30), || b
            .run(&["interaction", "show", &id])
            .status
            .success()),
        "B never got the interaction from C\n{}",
        b.log()
    );
    let bytes = picture(800_000);
    let src = b.data_dir().join("meter.png");
    std::fs::write(&src, &bytes)?;
    // In an interaction of B's own (only its owner writes to a customer).
    let own = phone_call(&b, "+34 600 100 201");
    b.ok(&[
        "interaction",
        "send",
        &own,
        "--file",
        src.to_str().ok_or("path")?,
    ]);
    let hash = BlobHash::of(&bytes).to_hex();
    assert!(
        wait_until(Duration::from_secs(30), || blob_on_disk(&c, &hash)),
        "C never fetched the file\n--- C ---\n{}",
        c.log()
    );
    b.stop();
    a.start(&[c.addr()]);
    assert!(
        wait_until(Duration::from_secs(30), || !files_on(&a, &own).is_empty()),
        "A never saw B's message\n--- A ---\n{}",
        a.log()
    );
    let out = a.data_dir().join("meter.png");
    let out_arg = out.to_str().ok_or("path")?.to_string();
    assert!(
        wait_until(Duration::from_secs(30), || a
            .run(&["file", "get", &hash, "--out", &out_arg])
            .status
            .success()),
        "A never opened the file\n--- A ---\n{}",
        a.log()
    );
    let opened = std::fs::read(&out)?;
    assert_eq!(BlobHash::of(&opened).to_hex(), hash);
    assert_eq!(opened, bytes);
    Ok(())
}

#[test]
fn a_file_only_a_teammate_holds_is_fetched_when_asked_for() -> R {
    let (mut a, b) = team_of_two();
    let bytes = picture(2_000_000);
    let blobs = meshdesk_model::blobs::BlobStore::in_data_dir(b.data_dir())?;
    let hash = blobs.put(&bytes)?.to_hex();
    assert!(!blob_on_disk(&a, &hash));
    let out = a.data_dir().join("big.png");
    let out_arg = out.to_str().ok_or("path")?.to_string();
    // Asked until B is connected.
    assert!(
        wait_until(Duration::from_secs(30), || a
            .run(&["file", "get", &hash, "--out", &out_arg])
            .status
            .success()),
        "A never fetched it\n--- A ---\n{}",
        a.log()
    );
    assert_eq!(std::fs::read(&out)?, bytes);
    assert!(blob_on_disk(&a, &hash));

    // Over A's own limit (files.json): refused before a byte is read.
    a.stop();
    std::fs::write(
        a.data_dir().join("files.json"),
        r#"{"max_file_bytes": 1000000}"#,
    )?;
    a.start(&[b.addr()]);
    let other = picture(1_500_000);
    let other_hash = blobs.put(&other)?.to_hex();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let got = a.run(&["file", "get", &other_hash, "--out", &out_arg]);
            assert!(!got.status.success(), "A took a file over its limit");
            a.log().contains("over this node's limit")
        }),
        "--- A ---\n{}",
        a.log()
    );
    assert!(!blob_on_disk(&a, &other_hash));
    Ok(())
}

#[test]
fn a_member_sending_other_bytes_than_the_file_is_refused_and_nothing_is_stored() -> R {
    let (a, b, invite) = team_with_idle_member()?;
    let key = meshdesk_sync::identity::load_or_create(b.data_dir())?;

    let wanted = BlobHash::of(b"the contract, signed").to_hex();
    let runtime = tokio::runtime::Runtime::new()?;
    let liar = runtime.block_on(async {
        meshdesk_sync::testing::lie_about_files(
            key,
            invite.psk,
            invite.addrs.first().cloned().ok_or("no address")?,
            b"the contract, forged".to_vec(),
        )
    })?;
    let out = a.data_dir().join("contract.pdf");
    let out_arg = out.to_str().ok_or("path")?.to_string();
    // Asked until the liar is connected and has answered.
    let mut last = String::new();
    let answered = wait_until(Duration::from_secs(30), || {
        let got = a.run(&["file", "get", &wanted, "--out", &out_arg]);
        last = String::from_utf8_lossy(&got.stderr).into_owned();
        assert!(!got.status.success(), "A took the forged bytes");
        liar.asked.load(std::sync::atomic::Ordering::SeqCst) > 0
    });
    assert!(answered, "the liar was never asked: {last}\n{}", a.log());
    assert!(last.contains("no connected teammate gave it"), "{last}");
    assert!(a.log().contains("file refused"), "{}", a.log());
    assert!(!out.exists());
    assert!(!blob_on_disk(&a, &wanted));
    drop(liar);
    Ok(())
}

#[test]
fn only_a_roster_device_gets_a_file_from_a_node() -> R {
    let (a, b, invite) = team_with_idle_member()?;
    let bytes = picture(50_000);
    let hash = meshdesk_model::blobs::BlobStore::in_data_dir(a.data_dir())?.put(&bytes)?;
    let addr = invite.addrs.first().cloned().ok_or("no address")?;
    let member = meshdesk_sync::identity::load_or_create(b.data_dir())?;
    let runtime = tokio::runtime::Runtime::new()?;

    // A device with the team's network key but not on the roster.
    let outsider = Device::new("S");
    let stranger = runtime.block_on(meshdesk_sync::testing::fetch_file_as(
        meshdesk_sync::identity::load_or_create(outsider.data_dir())?,
        invite.psk,
        addr.clone(),
        hash,
        1 << 20,
    ));
    assert!(stranger.is_err(), "a stranger got the file");
    assert!(a.log().contains("not on the roster"), "{}", a.log());

    let got = runtime.block_on(meshdesk_sync::testing::fetch_file_as(
        member,
        invite.psk,
        addr,
        hash,
        1 << 20,
    ))?;
    assert_eq!(got, bytes);
    Ok(())
}
