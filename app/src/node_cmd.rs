//! Sub-commands that need the network: `node`, and `team invite | join | members | revoke`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use libp2p::Multiaddr;
use meshdesk_sync::control::{Client, ControlRequest};
use meshdesk_sync::first_sync::{Bytes, FirstSyncProgress, Seconds};
use meshdesk_sync::home::{self, OpenOptions};
use meshdesk_sync::invite::InviteCode;
use meshdesk_sync::join::{JoinArgs, JoinProgress, join_team};
use meshdesk_sync::node::{Event, NodeError};
use meshdesk_sync::relay::{RelayError, RelayEvent};
use meshdesk_sync::team::{self, MemberInfo};
use meshdesk_sync::{identity, node::NodeHandle};

use crate::cli::CliError;
use crate::cli::args::{NodeArgs, RelayArgs};
use crate::data_dir::DataDir;

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(failed)
}

fn parse_addrs(raw: &[String]) -> Result<Vec<Multiaddr>, CliError> {
    raw.iter()
        .map(|a| {
            a.trim().parse::<Multiaddr>().map_err(|e| {
                CliError::Refused(format!(
                    "`{a}` is not a multiaddr (e.g. /ip4/192.168.1.20/tcp/4001): {e}"
                ))
            })
        })
        .collect()
}

fn team_error(e: team::TeamError) -> CliError {
    if e.is_user_error() {
        CliError::Refused(e.to_string())
    } else {
        CliError::Failed(e.to_string())
    }
}

pub(crate) fn control_error(e: meshdesk_sync::control::ControlError) -> CliError {
    match e {
        meshdesk_sync::control::ControlError::Remote {
            message,
            user_error: true,
        } => CliError::Refused(message),
        other => CliError::Failed(other.to_string()),
    }
}

/// A client for the node running on this data dir, if one runs.
pub(crate) fn running_node(data_dir: &DataDir) -> Result<Option<Client>, CliError> {
    Client::connect(data_dir.root()).map_err(control_error)
}

/// Starts a member node with the store of this data dir.
pub async fn start_member_node(
    data_dir: &DataDir,
    listen: Vec<Multiaddr>,
    peers: Vec<Multiaddr>,
    relays: Vec<Multiaddr>,
    mdns: bool,
) -> Result<(NodeHandle, tokio::sync::broadcast::Receiver<Event>), CliError> {
    let options = OpenOptions {
        listen,
        peers,
        relays,
        mdns,
        ..OpenOptions::member()
    };
    home::open(data_dir.root(), options).await.map_err(|e| {
        if e.is_no_team() {
            CliError::Refused(
                "no team yet: run `meshdesk team create --name NAME --agent NAME` or `meshdesk team join CODE --agent NAME`"
                    .into(),
            )
        } else {
            open_error(e)
        }
    })
}

/// Runs `work` on this data dir's node with networking off (no node runs
/// here), then stops the node, so the store is closed when this returns.
pub fn with_offline_node<T>(
    data_dir: &DataDir,
    work: impl AsyncFnOnce(&NodeHandle) -> Result<T, CliError>,
) -> Result<T, CliError> {
    runtime()?.block_on(async {
        let (node, _events) = home::open(data_dir.root(), OpenOptions::offline())
            .await
            .map_err(open_error)?;
        let result = work(&node).await;
        if let Err(e) = node.shutdown().await {
            tracing::debug!(error = %e, "the node had already stopped");
        }
        result
    })
}

fn open_error(e: home::OpenError) -> CliError {
    match e {
        home::OpenError::InUse(_) => CliError::Failed(format!(
            "{e}; if a node runs here, its control socket was not reachable"
        )),
        e if e.is_user_error() => CliError::Refused(e.to_string()),
        e => CliError::Failed(e.to_string()),
    }
}

/// A refusal or failure of the node, for the CLI.
pub fn node_error(e: NodeError) -> CliError {
    match e {
        NodeError::Op(op) => CliError::from(*op),
        NodeError::Team(t) => team_error(*t),
        e if e.is_user_error() => CliError::Refused(e.to_string()),
        e => CliError::Failed(e.to_string()),
    }
}

/// `meshdesk node`: runs until SIGINT or SIGTERM, then shuts down cleanly.
pub fn run_node(data_dir: &DataDir, args: NodeArgs) -> Result<(), CliError> {
    let listen = parse_addrs(&args.listen)?;
    let peers = parse_addrs(&args.peers)?;
    let relays = parse_addrs(&args.relays)?;
    if running_node(data_dir)?.is_some() {
        return Err(CliError::Refused(format!(
            "a node already runs on {}",
            data_dir.root().display()
        )));
    }
    runtime()?.block_on(async {
        let (handle, mut events) = start_member_node(data_dir, listen, peers, relays, !args.no_mdns).await?;
        // The email channel: fetching the mailboxes this device is elected
        // for, and sending this agent's replies (stopped when dropped).
        let _mail = meshdesk_channels::mail::start(handle.clone());
        let http = match &args.http {
            Some(addr) => Some(serve_http(addr, handle.clone()).await?),
            None => None,
        };
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(failed)?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                event = events.recv() => match event {
                    Ok(Event::Listening { addr }) => println!("listening on {addr}"),
                    Ok(Event::PeerConnected { peer, .. }) => tracing::info!(%peer, "peer connected"),
                    Ok(Event::PeerRefused { peer, reason }) => tracing::warn!(%peer, %reason, "connection refused"),
                    Ok(Event::Stopped) => break,
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        if let Some(server) = http {
            server.shutdown().await;
        }
        handle.shutdown().await.map_err(failed)?;
        Ok(())
    })
}

/// `meshdesk relay`: serves circuits to the team's members until SIGINT or
/// SIGTERM. Its data dir holds only its own identity.
pub fn run_relay(data_dir: &DataDir, args: RelayArgs) -> Result<(), CliError> {
    let listen = parse_addrs(&args.listen)?;
    let announce = parse_addrs(&args.announce)?;
    if home::store_path(data_dir.root()).exists() {
        return Err(CliError::Refused(format!(
            "{} is a member's data dir; give the relay a --data-dir of its own",
            data_dir.root().display()
        )));
    }
    runtime()?.block_on(async {
        let relay = meshdesk_sync::relay::run_relay(
            data_dir.root(),
            &args.team_key,
            listen,
            announce,
            |event| match event {
                RelayEvent::Listening(addr) => println!("relay listening on {addr}"),
                RelayEvent::Reserved(peer) => tracing::info!(%peer, "a member reserved a slot"),
                RelayEvent::Circuit { src, dst } => {
                    tracing::info!(%src, %dst, "relaying between two members")
                }
            },
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(failed)?;
        tokio::select! {
            result = relay => result.map_err(|e| match e {
                RelayError::Key { .. } | RelayError::Listen { .. } => CliError::Refused(e.to_string()),
                e => CliError::Failed(e.to_string()),
            }),
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = term.recv() => Ok(()),
        }
    })
}

/// `team invite`: through the node (the code then carries its listen
/// addresses), or on the store alone (the joiner then needs `--peer`).
pub fn invite(
    data_dir: &DataDir,
    ttl_ms: i64,
    uses: u32,
    campaigns: Vec<String>,
    json: bool,
) -> Result<(), CliError> {
    if uses == 0 {
        return Err(CliError::Refused("an invite needs at least one use".into()));
    }
    let (code, expires_at) = match running_node(data_dir)? {
        Some(mut client) => client
            .invite(ttl_ms, uses, campaigns)
            .map_err(control_error)?,
        None => {
            let code = with_offline_node(data_dir, async |node| {
                node.invite_into(ttl_ms, uses, campaigns)
                    .await
                    .map_err(node_error)
            })?;
            (code.encode(), code.expires_at)
        }
    };
    if json {
        println!(
            "{}",
            serde_json::json!({ "code": code, "expires_at": expires_at, "uses": uses })
        );
    } else {
        println!("{code}");
    }
    Ok(())
}

/// `team join CODE --agent NAME`: admitted by a member, syncs everything, exits.
pub fn join(
    data_dir: &DataDir,
    code: &str,
    agent: &str,
    peers: &[String],
    timeout: u64,
    json: bool,
) -> Result<(), CliError> {
    let invite = InviteCode::parse(code).map_err(|e| CliError::Refused(e.to_string()))?;
    if agent.trim().is_empty() {
        return Err(CliError::Refused("the agent name must not be empty".into()));
    }
    let peers = parse_addrs(peers)?;
    let store = home::open_store(data_dir.root()).map_err(open_error)?;
    // The device key and the store exist now; nothing else.
    meshdesk_sync::join::crash_point("store-opened");
    let keypair = identity::load_or_create(data_dir.root()).map_err(failed)?;
    let device_name = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "desktop".into());
    let args = JoinArgs {
        data_dir: data_dir.root().to_path_buf(),
        store,
        keypair,
        invite,
        agent_name: agent.trim().to_string(),
        device_name,
        listen: vec![],
        peers,
        connect_timeout: Duration::from_secs(timeout.max(1)),
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message("connecting to the team…");
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut shown = FirstSyncLines::default();
    let joined = runtime()?.block_on(join_team(args, |progress| match progress {
        JoinProgress::Admitted { .. } => {
            let says = "admitted; syncing the team's data…";
            match &bar {
                Some(bar) => bar.set_message(says),
                None => eprintln!("{says}"),
            }
        }
        JoinProgress::Syncing(sync) => {
            match &bar {
                Some(bar) => {
                    if bar.length().is_none() {
                        bar.set_style(
                            indicatif::ProgressStyle::with_template("{bar:30} {msg}")
                                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                        );
                    }
                    bar.set_length(sync.total_docs as u64);
                    bar.set_position(sync.done_docs as u64);
                    bar.set_message(sync.to_string());
                }
                None => shown.line(&sync),
            }
            shown.last = Some(sync);
        }
    }));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let (Ok(_), Some(last)) = (&joined, &shown.last) {
        eprintln!(
            "Synced {} documents ({}) in {}",
            last.done_docs,
            Bytes(last.received_bytes),
            Seconds(shown.started.elapsed())
        );
    }
    let joined = joined.map_err(|e| match e {
        meshdesk_sync::join::JoinError::Node(n) if !n.is_user_error() => {
            CliError::Failed(n.to_string())
        }
        meshdesk_sync::join::JoinError::Team(t) => team_error(t),
        other => CliError::Refused(other.to_string()),
    })?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "team": joined.team, "agent": joined.agent })
        );
    } else {
        println!("Joined team {} as agent {}", joined.team, joined.agent);
    }
    Ok(())
}

fn print_members(members: &[MemberInfo], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(members).unwrap_or_else(|_| "[]".into())
        );
        return;
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY)
        .set_header(vec!["AGENT", "ROLE", "DEVICE", "NAME", "STATE"]);
    for m in members {
        let state = if m.revoked {
            "revoked"
        } else if m.online {
            "online"
        } else {
            "offline"
        };
        let me = if m.this_device { " (this device)" } else { "" };
        t.add_row(vec![
            m.agent_name.clone(),
            m.role.to_string(),
            m.device.clone(),
            format!("{}{me}", m.device_name),
            state.into(),
        ]);
    }
    println!("{t}");
}

/// `team members`: devices and agents with online state.
pub fn members(data_dir: &DataDir, json: bool) -> Result<(), CliError> {
    let members = match running_node(data_dir)? {
        Some(mut client) => client.members().map_err(control_error)?,
        None => with_offline_node(data_dir, async |node| {
            node.members().await.map_err(node_error)
        })?,
    };
    print_members(&members, json);
    Ok(())
}

/// `team peers`: asks the running node (a node that does not run is linked
/// with no one).
pub fn peers(data_dir: &DataDir, json: bool) -> Result<(), CliError> {
    let Some(mut client) = running_node(data_dir)? else {
        return Err(CliError::Refused(
            "no node runs on this data dir: start the app or `meshdesk node`".into(),
        ));
    };
    let peers = client.peers().map_err(control_error)?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&peers).unwrap_or_else(|_| "[]".into())
        );
        return Ok(());
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY)
        .set_header(vec!["DEVICE", "ADDRESS", "PATH", "SYNC"]);
    for p in &peers {
        let sync = match (p.ready, p.pending_docs) {
            (false, _) => "connecting".to_string(),
            (true, 0) => "in sync".to_string(),
            (true, n) => format!("{n} documents to go"),
        };
        t.add_row(vec![
            p.peer.clone(),
            p.address.clone().unwrap_or_default(),
            if p.relayed { "relayed" } else { "direct" }.to_string(),
            sync,
        ]);
    }
    println!("{t}");
    Ok(())
}

/// `team revoke DEVICE` (supervisors only).
pub fn revoke(data_dir: &DataDir, device: &str) -> Result<(), CliError> {
    match running_node(data_dir)? {
        Some(mut client) => {
            client
                .request(&ControlRequest::Revoke {
                    device: device.to_string(),
                })
                .map_err(control_error)?;
        }
        None => with_offline_node(data_dir, async |node| {
            node.revoke(device).await.map_err(node_error)
        })?,
    }
    println!("Revoked {device}.");
    Ok(())
}

/// Serves the gateways on `addr`, talking only to the node.
async fn serve_http(
    addr: &str,
    node: NodeHandle,
) -> Result<meshdesk_channels::http::Server, CliError> {
    use meshdesk::gateway::ServeError;
    let server = meshdesk::gateway::serve(node, addr)
        .await
        .map_err(|e| match e {
            ServeError::BadAddress(_) => CliError::Refused(e.to_string()),
            ServeError::Bind { .. } => CliError::Failed(e.to_string()),
        })?;
    println!("serving webchat and API on {}", server.url());
    Ok(server)
}

/// A first sync's progress as plain lines on stderr when it is not a
/// terminal (a log, a script): the first report, then at most one a second.
struct FirstSyncLines {
    started: Instant,
    printed: Option<Instant>,
    last: Option<FirstSyncProgress>,
}

impl Default for FirstSyncLines {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            printed: None,
            last: None,
        }
    }
}

impl FirstSyncLines {
    const EVERY: Duration = Duration::from_secs(1);

    fn line(&mut self, sync: &FirstSyncProgress) {
        if self.printed.is_some_and(|at| at.elapsed() < Self::EVERY) {
            return;
        }
        self.printed = Some(Instant::now());
        eprintln!("syncing: {sync}");
    }
}
