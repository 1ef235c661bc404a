//! Nodes in one process over loopback TCP: join, live sync, control socket,
//! refusal of strangers and garbage.

use meshdesk_model::store::Replication;
use std::path::Path;
use std::time::Duration;

use automerge::transaction::Transactable;

use libp2p::Multiaddr;
use meshdesk_model::ops::{ContactSpec, Context, FromReply, Reply, Request};
use meshdesk_model::store::{Store, bucket_of};
use meshdesk_model::{Contact, ContactId};
use meshdesk_sync::control::{Client, ControlReply, ControlRequest};
use meshdesk_sync::identity;
use meshdesk_sync::join::{JoinArgs, join_team};
use meshdesk_sync::protocol::{Frame, Hello, MAX_FRAME_LEN, PROTOCOL_VERSION};
use meshdesk_sync::team;
use meshdesk_sync::testing::{RawOutcome, converse_as, frames_in, send_raw, send_raw_as};
use meshdesk_sync::{Event, Node, NodeConfig, NodeHandle};
use tokio::sync::broadcast;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0"
        .parse()
        .unwrap_or_else(|_| Multiaddr::empty())
}

fn store_path(dir: &Path) -> std::path::PathBuf {
    dir.join("team.redb")
}

/// Creates a team in `dir` (as the CLI's `team create` would) and starts its node.
async fn create_team_node(
    dir: &Path,
) -> Result<(NodeHandle, broadcast::Receiver<Event>), Box<dyn std::error::Error>> {
    let keypair = identity::load_or_create(dir)?;
    let mut store = Store::open(
        store_path(dir),
        meshdesk_sync::identity::load_device_key(dir)?,
    )?;
    let request = Request::CreateTeam {
        team_name: "Support".into(),
        agent_name: "Ana".into(),
        device_name: "ana-laptop".into(),
    };
    meshdesk_model::ops::execute(&mut store, &Context::now(), request)?;
    let psk = team::create_team_key(dir)?;
    start(dir, store, keypair, psk).await
}

async fn start(
    dir: &Path,
    store: Store,
    keypair: libp2p::identity::Keypair,
    psk: [u8; 32],
) -> Result<(NodeHandle, broadcast::Receiver<Event>), Box<dyn std::error::Error>> {
    let mut config = NodeConfig::new(dir, store, keypair, psk);
    config.listen = vec![loopback()];
    config.mdns = false;
    Ok(Node::start(config).await?)
}

async fn restart_member(
    dir: &Path,
) -> Result<(NodeHandle, broadcast::Receiver<Event>), Box<dyn std::error::Error>> {
    let keypair = identity::load_or_create(dir)?;
    let store = Store::open(
        store_path(dir),
        meshdesk_sync::identity::load_device_key(dir)?,
    )?;
    let psk = team::load_team_key(dir)?.ok_or("no team key")?;
    start(dir, store, keypair, psk).await
}

async fn join(
    dir: &Path,
    code: &str,
    name: &str,
) -> Result<meshdesk_sync::join::Joined, Box<dyn std::error::Error>> {
    join_within(dir, code, name, Duration::from_secs(20)).await
}

async fn join_within(
    dir: &Path,
    code: &str,
    name: &str,
    connect_timeout: Duration,
) -> Result<meshdesk_sync::join::Joined, Box<dyn std::error::Error>> {
    let invite = meshdesk_sync::invite::InviteCode::parse(code)?;
    let args = JoinArgs {
        data_dir: dir.to_path_buf(),
        store: Store::open(
            store_path(dir),
            meshdesk_sync::identity::load_device_key(dir)?,
        )?,
        keypair: identity::load_or_create(dir)?,
        invite,
        agent_name: name.into(),
        device_name: format!("{name}-pc"),
        listen: vec![loopback()],
        peers: vec![],
        connect_timeout,
    };
    Ok(join_team(args, |_| {}).await?)
}

/// Waits until `pred` holds for an event, or fails after 20 s.
async fn wait_for(
    events: &mut broadcast::Receiver<Event>,
    what: &str,
    pred: impl Fn(&Event) -> bool,
) -> TestResult {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(e)) if pred(&e) => return Ok(()),
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => return Err(format!("waiting for {what}: {e}").into()),
            Err(_) => return Err(format!("timed out waiting for {what}").into()),
        }
    }
}

async fn contacts(node: &NodeHandle) -> Result<Vec<Contact>, Box<dyn std::error::Error>> {
    let reply = node
        .execute(Request::ListContacts {
            search: None,
            limit: None,
        })
        .await?;
    Ok(Vec::<Contact>::from_reply(reply)?)
}

async fn contact_names(node: &NodeHandle) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    Ok(contacts(node).await?.into_iter().map(|c| c.name).collect())
}

async fn eventually_contact(node: &NodeHandle, name: &str) -> TestResult {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if contact_names(node).await?.iter().any(|n| n == name) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("contact {name} never arrived").into())
}

fn add_contact(name: &str) -> Request {
    Request::AddContact(ContactSpec {
        name: Some(name.into()),
        ..ContactSpec::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_sync_live_control_and_refusals() -> TestResult {
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let b_dir = tempfile::tempdir()?;
    let (a, mut a_events) = create_team_node(a_dir.path()).await?;
    a.execute(add_contact("Before Join")).await?;

    // B joins with A's invite and has A's data when the join returns.
    let code = a.invite(60_000, 1).await?;
    assert!(!code.addrs.is_empty(), "the invite carries A's addresses");
    let joined = join(b_dir.path(), &code.encode(), "Bruno").await?;
    let psk = code.psk;

    // The same one-use code again: refused.
    let c_dir = tempfile::tempdir()?;
    let again = join(c_dir.path(), &code.encode(), "Carla").await;
    let err = again.err().ok_or("a used one-use invite was accepted")?;
    assert!(err.to_string().contains("already been used"), "{err}");
    assert!(
        team::load_team_key(c_dir.path())?.is_none(),
        "a refused join leaves nothing behind"
    );

    // B runs as a member, reconnects to A from remembered addresses.
    let (b, mut b_events) = restart_member(b_dir.path()).await?;
    eventually_contact(&b, "Before Join").await?;
    wait_for(&mut b_events, "B connected", |e| {
        matches!(e, Event::PeerConnected { .. })
    })
    .await?;

    // Live: a contact added on A reaches B, and back.
    a.execute(add_contact("Live From A")).await?;
    eventually_contact(&b, "Live From A").await?;
    b.execute(add_contact("Live From B")).await?;
    eventually_contact(&a, "Live From B").await?;

    let members = a.members().await?;
    assert_eq!(members.len(), 2);
    assert!(
        members.iter().any(|m| m.agent == joined.agent && m.online),
        "{members:?}"
    );

    // The control socket serves the CLI the same replies.
    let a_path = a_dir.path().to_path_buf();
    let listed = tokio::task::spawn_blocking(move || -> Result<Vec<String>, String> {
        let mut client = Client::connect(&a_path)
            .map_err(|e| e.to_string())?
            .ok_or("no node on the socket")?;
        match client
            .execute(Request::ListContacts {
                search: None,
                limit: None,
            })
            .map_err(|e| e.to_string())?
        {
            Reply::Contacts(list) => Ok(list.into_iter().map(|c| c.name).collect()),
            other => Err(format!("{other:?}")),
        }
    })
    .await??;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let a_path = a_dir.path().to_path_buf();
    let status = tokio::task::spawn_blocking(move || -> Result<ControlReply, String> {
        let mut client = Client::connect(&a_path)
            .map_err(|e| e.to_string())?
            .ok_or("no node")?;
        client
            .request(&ControlRequest::Status)
            .map_err(|e| e.to_string())
    })
    .await??;
    let ControlReply::Status(status) = status else {
        return Err("not a status".into());
    };
    assert_eq!(status.peers, 1);

    // A peer with the key that sends garbage is cut off; A keeps serving B.
    let a_addr: Multiaddr = code.addrs[0].clone();
    let outcome = send_raw(
        psk,
        a_addr.clone(),
        vec![0, 0, 0, 3, 0xff, 0xff, 0xff],
        Duration::from_secs(10),
    )
    .await?;
    assert!(matches!(outcome, RawOutcome::Closed { .. }), "{outcome:?}");
    wait_for(&mut a_events, "garbage peer refused", |e| {
        matches!(e, Event::PeerRefused { .. })
    })
    .await?;
    a.execute(add_contact("After Garbage")).await?;
    eventually_contact(&b, "After Garbage").await?;

    // A node without the team key cannot even connect.
    let outcome = send_raw([9; 32], a_addr.clone(), vec![], Duration::from_secs(3)).await?;
    assert!(
        matches!(outcome, RawOutcome::NotConnected(_)),
        "{outcome:?}"
    );

    // Revoking B cuts it off.
    a.revoke(b.peer_id().to_base58()).await?;
    wait_for(&mut b_events, "B disconnected", |e| {
        matches!(e, Event::PeerDisconnected { .. })
    })
    .await?;

    a.shutdown().await?;
    b.shutdown().await?;
    assert!(!meshdesk_sync::control::socket_path(a_dir.path()).exists());
    // The store is free again once the node stopped.
    Store::open(
        store_path(a_dir.path()),
        meshdesk_sync::identity::load_device_key(a_dir.path())?,
    )?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_forged_invites_are_refused() -> TestResult {
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let (a, _events) = create_team_node(a_dir.path()).await?;
    let code = a.invite(60_000, 1).await?;

    let mut expired = code.clone();
    expired.expires_at = 1;
    let b_dir = tempfile::tempdir()?;
    let err = join(b_dir.path(), &expired.encode(), "Bruno")
        .await
        .err()
        .ok_or("expired accepted")?;
    assert!(err.to_string().contains("expired"), "{err}");

    let mut forged = code.clone();
    forged.token = [7; 32];
    let err = join(b_dir.path(), &forged.encode(), "Bruno")
        .await
        .err()
        .ok_or("forged accepted")?;
    assert!(err.to_string().contains("unknown invite"), "{err}");

    // The genuine code still works after the failures.
    join(b_dir.path(), &code.encode(), "Bruno").await?;
    a.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_auto_accepts_for_the_agent_on_its_own_node() -> TestResult {
    use meshdesk_model::ops::CampaignSpec;
    use meshdesk_model::{AgentStatus, ChannelKind, Strategy};
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let b_dir = tempfile::tempdir()?;
    let (a, mut a_events) = create_team_node(a_dir.path()).await?;
    let code = a.invite(60_000, 1).await?;
    let joined = join(b_dir.path(), &code.encode(), "Bruno").await?;
    let (b, _b_events) = restart_member(b_dir.path()).await?;
    wait_for(&mut a_events, "B connected", |e| {
        matches!(e, Event::PeerConnected { .. })
    })
    .await?;

    // B's presence reaches A (live, and Available once B says so).
    b.execute(Request::SetStatus {
        status: AgentStatus::Available,
    })
    .await?;
    wait_for(&mut a_events, "B available on A", |e| {
        matches!(e, Event::Presence { agent, entry } if *agent == joined.agent && entry.live && entry.status == AgentStatus::Available)
    })
    .await?;

    // A push campaign with auto-accept whose only member is Bruno.
    let spec = CampaignSpec {
        members: vec!["Bruno".into()],
        auto_accept: true,
        ..CampaignSpec::new("Sales", ChannelKind::Phone, Strategy::RoundRobin)
    };
    a.execute(Request::AddCampaign(spec)).await?;
    let created = a
        .execute(Request::Enqueue {
            campaign: "Sales".into(),
            contact: None,
            from: Some("+1 555 0100".into()),
            name: Some("Caller".into()),
            message: Some("hello".into()),
            priority: 0,
        })
        .await?;
    let Reply::Created { id } = created else {
        return Err("no id".into());
    };

    // B's node accepts for Bruno; A sees Bruno own it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let reply = a
            .execute(Request::ShowInteraction {
                id: id.parse().expect("an id"),
            })
            .await?;
        if let Reply::Interaction(detail) = reply
            && detail.owner == Some(joined.agent)
        {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err("the interaction was never auto-accepted for Bruno".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

/// While B's node is stopped: A's node and B's store each accept the
/// interaction and send a message.
async fn accept_and_send_apart(
    a: &NodeHandle,
    b_dir: &Path,
    id: &str,
    a_text: &str,
    b_text: &str,
) -> TestResult {
    let send = |text: &str| Request::Send {
        id: id.parse().expect("an id"),
        text: text.into(),
    };
    let accept = Request::Accept {
        id: id.parse().expect("an id"),
    };
    a.execute(accept.clone()).await?;
    a.execute(send(a_text)).await?;
    let mut store = Store::open(
        store_path(b_dir),
        meshdesk_sync::identity::load_device_key(b_dir)?,
    )?;
    let ctx = Context::now();
    meshdesk_model::ops::execute(&mut store, &ctx, accept)?;
    meshdesk_model::ops::execute(&mut store, &ctx, send(b_text))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_made_apart_agree_after_meeting_and_the_loser_is_told() -> TestResult {
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let b_dir = tempfile::tempdir()?;
    let (a, mut a_events) = create_team_node(a_dir.path()).await?;
    let code = a.invite(60_000, 1).await?;
    join(b_dir.path(), &code.encode(), "Bruno").await?;
    let (b, mut b_events) = restart_member(b_dir.path()).await?;
    wait_for(&mut b_events, "B connected", |e| {
        matches!(e, Event::PeerConnected { .. })
    })
    .await?;

    let created = a
        .execute(Request::Enqueue {
            campaign: "General".into(),
            contact: None,
            from: Some("+1 555 0199".into()),
            name: Some("Caller".into()),
            message: Some("I need help".into()),
            priority: 0,
        })
        .await?;
    let Reply::Created { id } = created else {
        return Err("no id".into());
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while b
        .execute(Request::ShowInteraction {
            id: id.parse().expect("an id"),
        })
        .await
        .is_err()
    {
        if tokio::time::Instant::now() > deadline {
            return Err("the interaction never reached B".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Apart: B's node stops, both accept and write.
    b.shutdown().await?;
    accept_and_send_apart(
        &a,
        b_dir.path(),
        &id,
        "Ana, while apart",
        "Bruno, while apart",
    )
    .await?;

    // Together again: one owner on both, both messages kept, the loser told.
    let (b, mut b_events) = restart_member(b_dir.path()).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let owner = loop {
        let (Reply::Interaction(on_a), Reply::Interaction(on_b)) = (
            a.execute(Request::ShowInteraction {
                id: id.parse().expect("an id"),
            })
            .await?,
            b.execute(Request::ShowInteraction {
                id: id.parse().expect("an id"),
            })
            .await?,
        ) else {
            return Err("not an interaction".into());
        };
        let bodies = |d: &meshdesk_model::ops::InteractionDetail| {
            d.interaction
                .messages
                .iter()
                .map(|m| m.body.clone())
                .collect::<Vec<_>>()
        };
        let both = |d: &meshdesk_model::ops::InteractionDetail| {
            let b = bodies(d);
            b.iter().any(|m| m.contains("Ana")) && b.iter().any(|m| m.contains("Bruno"))
        };
        if on_a.owner.is_some() && on_a.owner == on_b.owner && both(&on_a) && both(&on_b) {
            break on_a.owner;
        }
        if tokio::time::Instant::now() > deadline {
            return Err("the claims never converged".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let a_agent = a.status().await?.agent;
    let (loser_events, loser) = if owner == a_agent {
        (&mut b_events, "B")
    } else {
        (&mut a_events, "A")
    };
    wait_for(loser_events, &format!("ClaimLost on {loser}"), |e| {
        matches!(e, Event::ClaimLost { .. })
    })
    .await?;
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

/// The interaction's message bodies as node `n` shows them.
async fn bodies(n: &NodeHandle, id: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    match n
        .execute(Request::ShowInteraction {
            id: id.parse().expect("an id"),
        })
        .await?
    {
        Reply::Interaction(d) => Ok(d.interaction.messages.into_iter().map(|m| m.body).collect()),
        other => Err(format!("not an interaction: {other:?}").into()),
    }
}

/// Waits until both nodes show the interaction with the same messages, all of `want` among them.
async fn converged(a: &NodeHandle, b: &NodeHandle, id: &str, want: &[&str]) -> TestResult {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let (Ok(on_a), Ok(on_b)) = (bodies(a, id).await, bodies(b, id).await)
            && on_a == on_b
            && want.iter().all(|w| on_a.iter().any(|m| m == w))
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("{id} never converged on {want:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_delivered_whole_then_edited_on_both_sides_converges() -> TestResult {
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let b_dir = tempfile::tempdir()?;
    let (a, _a_events) = create_team_node(a_dir.path()).await?;
    // Made before B exists: B lacks it entirely and gets it whole.
    let created = a
        .execute(Request::Enqueue {
            campaign: "General".into(),
            contact: None,
            from: Some("+1 555 0123".into()),
            name: Some("Caller".into()),
            message: Some("before the join".into()),
            priority: 0,
        })
        .await?;
    let Reply::Created { id } = created else {
        return Err("no id".into());
    };
    let code = a.invite(60_000, 1).await?;
    join(b_dir.path(), &code.encode(), "Bruno").await?;
    let b_store = Store::open(
        store_path(b_dir.path()),
        meshdesk_sync::identity::load_device_key(b_dir.path())?,
    )?;
    assert!(b_store.has_doc(&format!("interaction:{id}"))?);
    drop(b_store);

    // Apart: both write to the document B received whole.
    accept_and_send_apart(&a, b_dir.path(), &id, "from A, apart", "from B, apart").await?;

    // Together: both hold everything; live edits keep flowing both ways.
    let (b, _b_events) = restart_member(b_dir.path()).await?;
    converged(
        &a,
        &b,
        &id,
        &["before the join", "from A, apart", "from B, apart"],
    )
    .await?;
    // Only the owner (whoever claimed first) may write: one of the two sends.
    let live = Request::Send {
        id: id.parse().expect("an id"),
        text: "live, later".into(),
    };
    if a.execute(live.clone()).await.is_err() {
        b.execute(live).await?;
    }
    converged(&a, &b, &id, &["live, later"]).await?;
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

fn framed(frames: &[Frame]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for f in frames {
        let body = f.encode()?;
        out.extend_from_slice(&u32::try_from(body.len())?.to_be_bytes());
        out.extend_from_slice(&body);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_whole_documents_close_the_peer_and_lose_nothing() -> TestResult {
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let b_dir = tempfile::tempdir()?;
    let (a, mut a_events) = create_team_node(a_dir.path()).await?;
    a.execute(add_contact("Kept")).await?;
    let code = a.invite(60_000, 1).await?;
    let joined = join(b_dir.path(), &code.encode(), "Bruno").await?;
    let a_addr: Multiaddr = code.addrs[0].clone();
    let b_key = identity::load_or_create(b_dir.path())?;
    let hello = Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        team_id: joined.team,
        agent_id: Some(joined.agent),
        device: identity::peer_id_string(&b_key),
    });

    // Another contact's content under a new contact id.
    let other = ContactId::new();
    let other_id = format!("contact:{other}");
    let mut foreign = automerge::AutoCommit::new();
    foreign.put(automerge::ROOT, "kind", "contact")?;
    foreign.put(automerge::ROOT, "id", ContactId::new().to_string())?;
    let doc_data = |bytes: Vec<u8>| Frame::DocData {
        docs: vec![(other_id.clone(), bytes)],
        missing: vec![],
    };
    let mut oversize = framed(std::slice::from_ref(&hello))?;
    oversize.extend_from_slice(&u32::try_from(MAX_FRAME_LEN + 1)?.to_be_bytes());
    // A whole document A never asked for is dropped unread; the peer stays.
    let mut unasked = automerge::AutoCommit::new();
    let stray = Contact {
        id: other,
        name: "Unasked".into(),
        phones: vec![],
        emails: vec![],
        company: String::new(),
        notes: String::new(),
        tags: Default::default(),
        custom: Default::default(),
        created_at: 1,
        updated_at: 1,
        deleted: false,
        merged_into: None,
        merged_at: 0,
        merged_by: None,
        mail_sender: None,
    };
    meshdesk_model::doc::contact::create(&mut unasked, &stray)?;
    let outcome = send_raw_as(
        b_key.clone(),
        code.psk,
        a_addr.clone(),
        framed(&[hello.clone(), doc_data(unasked.save())])?,
        Duration::from_secs(5),
    )
    .await?;
    assert!(
        matches!(outcome, RawOutcome::StillOpen { .. }),
        "{outcome:?}"
    );
    assert_eq!(contact_names(&a).await?, vec!["Kept".to_string()]);

    // (what, bytes sent first, whole document sent when A asks for it, reason)
    let cases = [
        (
            "undecodable bytes",
            framed(std::slice::from_ref(&hello))?,
            Some(vec![0x85, 0x6f, 0x4a, 0x83, 7]),
            "malformed whole document",
        ),
        (
            "content of another id",
            framed(std::slice::from_ref(&hello))?,
            Some(foreign.save()),
            "malformed whole document",
        ),
        ("oversize frame", oversize, None, "exceeds the limit"),
    ];
    for (what, bytes, whole, reason) in cases {
        // Play a member that holds `other`: tell A of it in the catalog
        // round, then answer A's request for it with `whole`.
        let answer = |frame: &Frame| -> Vec<u8> {
            let Some(whole) = &whole else {
                return Vec::new();
            };
            let reply = match frame {
                Frame::CatalogDigests { round, .. } => vec![
                    Frame::CatalogBucket {
                        round: *round,
                        bucket: bucket_of(&other_id),
                        entries: vec![(other_id.clone(), [7; 32])],
                    },
                    Frame::CatalogEnd { round: *round },
                ],
                Frame::DocRequest { doc_ids } if doc_ids.contains(&other_id) => {
                    vec![doc_data(whole.clone())]
                }
                _ => Vec::new(),
            };
            framed(&reply).unwrap_or_default()
        };
        let outcome = converse_as(
            b_key.clone(),
            code.psk,
            a_addr.clone(),
            bytes,
            Duration::from_secs(10),
            answer,
        )
        .await?;
        let RawOutcome::Closed { received } = outcome else {
            return Err(format!("{what}: the connection stayed open: {outcome:?}").into());
        };
        let said = frames_in(&received).into_iter().find_map(|f| match f {
            Frame::Bye { reason } => Some(reason),
            _ => None,
        });
        assert!(
            said.as_deref().is_some_and(|r| r.contains(reason)),
            "{what}: {said:?}"
        );
        wait_for(
            &mut a_events,
            what,
            |e| matches!(e, Event::PeerRefused { reason: r, .. } if r.contains(reason)),
        )
        .await?;
    }

    // Nothing was lost or written: A keeps its data and B syncs as usual.
    assert_eq!(contact_names(&a).await?, vec!["Kept".to_string()]);
    let (b, _b_events) = restart_member(b_dir.path()).await?;
    a.execute(add_contact("After")).await?;
    eventually_contact(&b, "After").await?;
    assert_eq!(contact_names(&b).await?.len(), 2);
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

/// Plays Bruno's device over a raw link: its own store (signing with its own
/// key) writes `edit` in `doc`, and the conversation with A carries it there
/// on the real sync path. Returns what A sent back.
async fn push_as_member(
    b_dir: &Path,
    a_addr: Multiaddr,
    psk: [u8; 32],
    hello: Frame,
    doc: String,
) -> Result<RawOutcome, Box<dyn std::error::Error>> {
    let b_key = identity::load_or_create(b_dir)?;
    let mut store = Store::open(store_path(b_dir), identity::load_device_key(b_dir)?)?;
    let opening = store
        .generate_sync_message("node-a", &doc)?
        .ok_or("nothing to say")?;
    let first = framed(&[
        hello,
        Frame::SyncMessage {
            doc_id: doc.clone(),
            bytes: opening,
        },
    ])?;
    // Each answer of A's on `doc` goes into Bruno's store, whose reply goes back.
    let answer = move |frame: &Frame| -> Vec<u8> {
        let Frame::SyncMessage { doc_id, bytes } = frame else {
            return Vec::new();
        };
        if *doc_id != doc {
            return Vec::new();
        }
        let reply = store
            .receive_sync_messages("node-a", &[(doc_id.clone(), bytes.clone())])
            .ok()
            .and_then(|_| store.generate_sync_message("node-a", doc_id).ok().flatten());
        match reply {
            Some(bytes) => framed(&[Frame::SyncMessage {
                doc_id: doc_id.clone(),
                bytes,
            }])
            .unwrap_or_default(),
            None => Vec::new(),
        }
    };
    Ok(converse_as(b_key, psk, a_addr, first, Duration::from_secs(3), answer).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_forged_changes_are_refused_and_its_honest_ones_still_sync() -> TestResult {
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let b_dir = tempfile::tempdir()?;
    let (a, _a_events) = create_team_node(a_dir.path()).await?;
    let code = a.invite(60_000, 1).await?;
    let joined = join(b_dir.path(), &code.encode(), "Bruno").await?;
    let a_addr: Multiaddr = code.addrs[0].clone();
    let b_key = identity::load_or_create(b_dir.path())?;
    let b_device = identity::peer_id_string(&b_key);
    let hello = Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        team_id: joined.team,
        agent_id: Some(joined.agent),
        device: b_device.clone(),
    });
    let team_doc = format!("team:{}", joined.team);

    // Bruno's device makes itself supervisor in its own copy of the team.
    {
        let mut store = Store::open(
            store_path(b_dir.path()),
            identity::load_device_key(b_dir.path())?,
        )?;
        let device = b_device.clone();
        store.write_doc(&team_doc.parse()?, false, move |d| {
            meshdesk_model::doc::team::set_role(d, &device, meshdesk_model::Role::Supervisor)
        })?;
    }
    let outcome = push_as_member(
        b_dir.path(),
        a_addr.clone(),
        code.psk,
        hello.clone(),
        team_doc.clone(),
    )
    .await?;
    let RawOutcome::StillOpen { received } = outcome else {
        return Err(format!("the link was closed: {outcome:?}").into());
    };
    let refused = frames_in(&received).into_iter().find_map(|f| match f {
        Frame::Refused { doc_id, reason } if doc_id == team_doc => Some(reason),
        _ => None,
    });
    assert!(
        refused
            .as_deref()
            .is_some_and(|r| r.contains("may only change its own device name")),
        "{refused:?}"
    );
    let on_a = a.members().await?;
    let bruno = on_a
        .iter()
        .find(|m| m.device == b_device)
        .ok_or("Bruno is on A's roster")?;
    assert_eq!(bruno.role, meshdesk_model::Role::Agent);

    // An honest change from the same device goes through on the same kind of link.
    let contact = {
        let mut store = Store::open(
            store_path(b_dir.path()),
            identity::load_device_key(b_dir.path())?,
        )?;
        let outcome =
            meshdesk_model::ops::execute(&mut store, &Context::now(), add_contact("Honest"))?;
        match outcome.reply {
            Reply::Created { id } => format!("contact:{id}"),
            other => return Err(format!("expected an id: {other:?}").into()),
        }
    };
    let outcome = push_as_member(b_dir.path(), a_addr, code.psk, hello, contact).await?;
    assert!(
        matches!(outcome, RawOutcome::StillOpen { .. }),
        "{outcome:?}"
    );
    eventually_contact(&a, "Honest").await?;
    a.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_is_no_supervisor_cannot_pull_back_even_its_own_interaction() -> TestResult {
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let b_dir = tempfile::tempdir()?;
    let (a, _a_events) = create_team_node(a_dir.path()).await?;
    // A customer waits in General before Bruno joins, so the join brings it.
    let id = match a
        .execute(Request::Enqueue {
            campaign: "General".into(),
            contact: None,
            from: Some("+34 600 100 200".into()),
            name: None,
            message: Some("My line is dead".into()),
            priority: 0,
        })
        .await?
    {
        Reply::Created { id } => id,
        other => return Err(format!("expected an id: {other:?}").into()),
    };
    let code = a.invite(60_000, 1).await?;
    let joined = join(b_dir.path(), &code.encode(), "Bruno").await?;
    let b_key = identity::load_or_create(b_dir.path())?;
    let hello = Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        team_id: joined.team,
        agent_id: Some(joined.agent),
        device: identity::peer_id_string(&b_key),
    });
    let doc = format!("interaction:{id}");

    // On Bruno's laptop: he takes the customer, then writes a supervisor's
    // pull-back around the ops (his own node would refuse the request).
    {
        let mut store = Store::open(
            store_path(b_dir.path()),
            identity::load_device_key(b_dir.path())?,
        )?;
        let iid: meshdesk_model::InteractionId = id.parse()?;
        meshdesk_model::ops::execute(&mut store, &Context::now(), Request::Accept { id: iid })?;
        let refused = meshdesk_model::ops::execute(
            &mut store,
            &Context::now(),
            Request::PullBack {
                id: iid,
                reason: "mine now".into(),
            },
        );
        assert!(refused.is_err());
        let t = meshdesk_model::Transfer {
            from: joined.agent,
            to: meshdesk_model::TransferTarget::Campaign(store.interaction(iid)?.campaign()),
            at: meshdesk_model::now_ms(),
            note: String::new(),
            kind: meshdesk_model::TransferKind::PullBack,
            reason: "mine now".into(),
        };
        store.write_doc(&doc.parse()?, false, move |d| {
            meshdesk_model::doc::interaction::add_transfer(d, &t)
        })?;
    }
    let outcome = push_as_member(
        b_dir.path(),
        code.addrs[0].clone(),
        code.psk,
        hello,
        doc.clone(),
    )
    .await?;
    let RawOutcome::StillOpen { received } = outcome else {
        return Err(format!("the link was closed: {outcome:?}").into());
    };
    let refused = frames_in(&received).into_iter().find_map(|f| match f {
        Frame::Refused { doc_id, reason } if doc_id == doc => Some(reason),
        _ => None,
    });
    assert!(
        refused
            .as_deref()
            .is_some_and(|r| r.contains("is not a supervisor")),
        "{refused:?}"
    );
    // A keeps the interaction as it was: queued, nothing taken back.
    let shown = a
        .execute(Request::ShowInteraction { id: id.parse()? })
        .await?;
    let detail =
        meshdesk_model::ops::InteractionDetail::from_reply(shown).map_err(|e| format!("{e:?}"))?;
    assert!(detail.interaction.transfers.is_empty());
    a.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_use_code_is_redeemed_only_by_the_device_that_issued_it() -> TestResult {
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let b_dir = tempfile::tempdir()?;
    let (a, _a_events) = create_team_node(a_dir.path()).await?;
    let first = a.invite(60_000, 1).await?;
    // Issued before B joins, so B knows this code too.
    let code = a.invite(60_000, 1).await?;
    join(b_dir.path(), &first.encode(), "Bruno").await?;
    let (b, _b_events) = restart_member(b_dir.path()).await?;
    let b_addr: Multiaddr = b
        .status()
        .await?
        .listen_addrs
        .iter()
        .find_map(|a| a.parse().ok())
        .ok_or("B listens nowhere")?;
    let b_addr = b_addr.with(libp2p::multiaddr::Protocol::P2p(b.peer_id()));

    // A's one-use code, taken to B (as on the other side of a partition):
    // B knows it but did not issue it, so it cannot admit a second device.
    let mut via_b = code.clone();
    via_b.addrs = vec![b_addr];
    let c_dir = tempfile::tempdir()?;
    let err = join(c_dir.path(), &via_b.encode(), "Carla")
        .await
        .err()
        .ok_or("B admitted a device with A's code")?;
    assert!(
        err.to_string().contains("issued by another device"),
        "{err}"
    );

    // Through A it admits exactly one device.
    join(c_dir.path(), &code.encode(), "Carla").await?;
    let d_dir = tempfile::tempdir()?;
    let err = join(d_dir.path(), &code.encode(), "Dario")
        .await
        .err()
        .ok_or("a one-use code admitted two devices")?;
    assert!(err.to_string().contains("already been used"), "{err}");
    let members = a.members().await?;
    assert_eq!(members.len(), 3, "{members:?}");
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

/// Waits until `dir`'s team key differs from `old`; returns it.
async fn rotated_key(dir: &Path, old: [u8; 32]) -> Result<[u8; 32], Box<dyn std::error::Error>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if let Some(key) = team::load_team_key(dir)?
            && key != old
        {
            return Ok(key);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{} never switched to a new team key", dir.display()).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_device_rotates_the_team_key_and_a_teammate_who_was_away_catches_up()
-> TestResult {
    init_logs();
    let dirs: Vec<tempfile::TempDir> = (0..5)
        .map(|_| tempfile::tempdir())
        .collect::<Result<_, _>>()?;
    let [a_dir, b_dir, c_dir, d_dir, e_dir] = dirs.as_slice() else {
        return Err("five dirs".into());
    };
    let (a, _a_events) = create_team_node(a_dir.path()).await?;
    let old = team::load_team_key(a_dir.path())?.ok_or("A has a key")?;
    for (dir, name) in [(b_dir, "Bruno"), (c_dir, "Carla"), (d_dir, "Dario")] {
        let code = a.invite(60_000, 1).await?;
        join(dir.path(), &code.encode(), name).await?;
    }
    // An unused code from before the revocation: it carries the old key.
    let stale = a.invite(60_000, 1).await?;
    let (b, _b_events) = restart_member(b_dir.path()).await?;
    // Dario is away (his node is not running) while Carla is revoked.
    let carla = meshdesk_sync::identity::load_or_create(c_dir.path())?
        .public()
        .to_peer_id();
    a.revoke(carla.to_base58()).await?;

    // A rotates at once; B switches to the same key without a restart.
    let new = rotated_key(a_dir.path(), old).await?;
    assert_eq!(rotated_key(b_dir.path(), old).await?, new);
    assert_eq!(
        a.invite(60_000, 1).await?.psk,
        new,
        "invites carry the new key"
    );
    a.execute(add_contact("After Rotation")).await?;
    eventually_contact(&b, "After Rotation").await?;

    // The code from before the rotation now admits nobody.
    let refused = join_within(e_dir.path(), &stale.encode(), "Eva", Duration::from_secs(5)).await;
    assert!(
        refused.is_err(),
        "a code minted before the rotation admitted a device"
    );
    assert!(team::load_team_key(e_dir.path())?.is_none());

    // Carla's node, with everything it holds, learns nothing.
    let (c, _c_events) = restart_member(c_dir.path()).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(team::load_team_key(c_dir.path())?, Some(old));
    assert!(
        !contact_names(&c)
            .await?
            .iter()
            .any(|n| n == "After Rotation")
    );

    // Dario comes back with the old key only, reaches a teammate, and switches.
    let (d, _d_events) = restart_member(d_dir.path()).await?;
    assert_eq!(rotated_key(d_dir.path(), old).await?, new);
    eventually_contact(&d, "After Rotation").await?;
    d.execute(add_contact("From Dario")).await?;
    eventually_contact(&a, "From Dario").await?;
    for node in [a, b, c, d] {
        node.shutdown().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_forged_for_another_device_is_ignored_and_its_real_presence_still_counts()
-> TestResult {
    use meshdesk_sync::protocol::{Presence, PresenceStatus};
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let b_dir = tempfile::tempdir()?;
    let c_dir = tempfile::tempdir()?;
    let (a, mut a_events) = create_team_node(a_dir.path()).await?;
    let code = a.invite(60_000, 1).await?;
    let bruno = join(b_dir.path(), &code.encode(), "Bruno").await?;
    let code_c = a.invite(60_000, 1).await?;
    let carla = join(c_dir.path(), &code_c.encode(), "Carla").await?;
    let (c, _c_events) = restart_member(c_dir.path()).await?;
    let c_device = c.peer_id().to_base58();

    // Bruno (a member) announces Carla as away for ever, with the highest
    // counter and a date far in the future: signed by Bruno, not by Carla.
    let b_key = identity::load_or_create(b_dir.path())?;
    let mut forged = Presence {
        device: c_device.clone(),
        agent: carla.agent,
        status: PresenceStatus::Break("forged".into()),
        since: i64::MAX / 2,
        open_load: 0,
        live: true,
        seq: u64::MAX,
        addrs: vec![],
        signature: Vec::new(),
    };
    forged.sign(&identity::device_key(&b_key)?);
    let hello = Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        team_id: bruno.team,
        agent_id: Some(bruno.agent),
        device: identity::peer_id_string(&b_key),
    });
    // Long enough to connect on a loaded machine; a refused peer is closed at once.
    let outcome = send_raw_as(
        b_key,
        code.psk,
        code.addrs[0].clone(),
        framed(&[hello, Frame::Presence(forged)])?,
        Duration::from_secs(5),
    )
    .await?;
    assert!(
        matches!(outcome, RawOutcome::StillOpen { .. }),
        "{outcome:?}"
    );

    // Carla's own announcements still count on A.
    c.execute(Request::SetStatus {
        status: meshdesk_model::AgentStatus::Available,
    })
    .await?;
    wait_for(&mut a_events, "Carla available on A", |e| {
        matches!(e, Event::Presence { agent, entry }
            if *agent == carla.agent && entry.live
                && entry.status == meshdesk_model::AgentStatus::Available)
    })
    .await?;
    a.shutdown().await?;
    c.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_silent_strangers_is_cut_short_and_a_teammate_still_gets_in() -> TestResult {
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let b_dir = tempfile::tempdir()?;
    let (a, _a_events) = create_team_node(a_dir.path()).await?;
    let code = a.invite(60_000, 1).await?;
    join(b_dir.path(), &code.encode(), "Bruno").await?;
    a.execute(add_contact("Past The Flood")).await?;

    // 256 connections holding the team key, from 256 new devices, silent.
    let flood = meshdesk_sync::testing::silent_flood(code.psk, code.addrs[0].clone(), 256)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        flood.connected() <= 16,
        "{} strangers hold a connection",
        flood.connected()
    );

    // A teammate connects and syncs all the same.
    let (b, _b_events) = restart_member(b_dir.path()).await?;
    eventually_contact(&b, "Past The Flood").await?;

    // Within seconds none of the strangers is left.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while flood.connected() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(flood.connected(), 0, "strangers kept their connections");
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_asks_and_never_reads_is_dropped() -> TestResult {
    init_logs();
    let a_dir = tempfile::tempdir()?;
    let b_dir = tempfile::tempdir()?;
    let (a, mut a_events) = create_team_node(a_dir.path()).await?;
    for n in 0..80 {
        a.execute(Request::AddContact(ContactSpec {
            name: Some(format!(
                "Customer {n} with a rather long name to fill the page"
            )),
            notes: Some("notes ".repeat(100)),
            ..ContactSpec::default()
        }))
        .await?;
    }
    let ids: Vec<String> = contacts(&a)
        .await?
        .into_iter()
        .map(|c| format!("contact:{}", c.id))
        .collect();
    let code = a.invite(60_000, 1).await?;
    let bruno = join(b_dir.path(), &code.encode(), "Bruno").await?;
    let b_key = identity::load_or_create(b_dir.path())?;
    let mut frames = vec![Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        team_id: bruno.team,
        agent_id: Some(bruno.agent),
        device: identity::peer_id_string(&b_key),
    })];
    // Each request is answered with every contact whole: far more, in all,
    // than a link may hold unread.
    frames.extend((0..2000).map(|_| Frame::DocRequest {
        doc_ids: ids.clone(),
    }));
    let b_peer = b_key.public().to_peer_id().to_base58();
    let stall = tokio::spawn(meshdesk_sync::testing::write_and_stall(
        b_key,
        code.psk,
        code.addrs[0].clone(),
        framed(&frames)?,
        Duration::from_secs(120),
    ));
    // Answering hundreds of requests takes a while in a debug build.
    let dropped = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            match a_events.recv().await {
                Ok(Event::PeerRefused { peer, reason })
                    if peer == b_peer && reason.contains("does not read") =>
                {
                    return true;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return false,
            }
        }
    })
    .await;
    assert_eq!(
        dropped.ok(),
        Some(true),
        "A never dropped the peer that does not read"
    );
    // A keeps serving: a request still gets its reply.
    a.execute(add_contact("Still Here")).await?;
    assert!(contact_names(&a).await?.iter().any(|n| n == "Still Here"));
    stall.abort();
    a.shutdown().await?;
    Ok(())
}
