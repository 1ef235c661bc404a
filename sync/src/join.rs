//! `team join CODE`: run a node just long enough to be admitted and synced.

use std::path::PathBuf;
use std::time::Duration;

use libp2p::Multiaddr;
use libp2p::identity::Keypair;
use meshdesk_model::store::Store;
use meshdesk_model::{AgentId, TeamId, now_ms};
use tokio::sync::broadcast::error::RecvError;

use crate::first_sync::{FirstSyncProgress, FirstSyncTracker};
use crate::invite::InviteCode;
use crate::node::{Event, JoinConfig, Node, NodeConfig, NodeError};
use crate::team;

/// What `team join` needs.
pub struct JoinArgs {
    pub data_dir: PathBuf,
    /// The (empty) store of the new team's data dir.
    pub store: Store,
    pub keypair: Keypair,
    pub invite: InviteCode,
    pub agent_name: String,
    pub device_name: String,
    /// Where to listen meanwhile; empty: an ephemeral port on all interfaces.
    pub listen: Vec<Multiaddr>,
    /// Extra addresses to try besides the invite's.
    pub peers: Vec<Multiaddr>,
    /// Give up when no member answered within this long.
    pub connect_timeout: Duration,
}

/// Progress of a join, for a progress bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinProgress {
    /// Admitted as this agent; the first sync starts.
    Admitted { agent: AgentId },
    /// The first sync so far.
    Syncing(FirstSyncProgress),
}

/// A successful join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Joined {
    pub team: TeamId,
    pub agent: AgentId,
}

/// Why a join failed. Unless the device was admitted before the failure
/// (then it is a member and the next `meshdesk node`, or `team join` again
/// with the same code, finishes the sync), nothing is written to the data dir.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("the invite code has expired; ask for a new one")]
    Expired,
    #[error("this data dir already belongs to another team")]
    AlreadyMember,
    #[error("the invite code carries no address; give one with --peer")]
    NoAddress,
    #[error("no member of the team answered at {0}")]
    Unreachable(String),
    #[error("the join was refused: {0}")]
    Refused(String),
    #[error("the node stopped before the join finished")]
    Stopped,
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error(transparent)]
    Team(#[from] team::TeamError),
}

/// The environment variable that makes a join abort at a named step
/// ([`crash_point`]); only the crash tests set it.
pub const CRASH_AT_ENV: &str = "MESHDESK_TEST_CRASH_AT";

/// Aborts the process (no unwinding, no cleanup: as a kill would) when
/// [`CRASH_AT_ENV`] names `step`, so tests can stop a join at each step.
pub fn crash_point(step: &str) {
    if std::env::var(CRASH_AT_ENV).is_ok_and(|at| at == step) {
        tracing::warn!(step, "crashing on purpose ({CRASH_AT_ENV})");
        std::process::abort();
    }
}

/// Joins the team of `args.invite`: connects to its addresses, presents the
/// token, and once admitted syncs everything, reporting progress. Returns when
/// the first sync is complete; the node is stopped and the store closed.
///
/// Safe to retry after a crash at any step: the device key and the team key
/// are written atomically (temporary file, fsync, rename) and the local
/// identity in a durable store commit. A device admitted before the crash
/// keeps its key, so the member that admitted it recognises it and tells it
/// again (the one-use token is not needed twice); a device whose identity
/// was written (it is a member) resumes: it keeps the invite's team key and
/// syncs until caught up.
pub async fn join_team(
    args: JoinArgs,
    mut progress: impl FnMut(JoinProgress),
) -> Result<Joined, JoinError> {
    let JoinArgs {
        data_dir,
        store,
        keypair,
        invite,
        agent_name,
        device_name,
        listen,
        peers,
        connect_timeout,
    } = args;
    // Admitted by an earlier attempt that stopped before the end: resume
    // (the token is not presented again, so an expired code still does).
    let resumed = match store.identity().map_err(NodeError::from)? {
        Some(identity) if identity.team == invite.team_id => Some(identity.agent),
        Some(_) => return Err(JoinError::AlreadyMember),
        None => None,
    };
    if resumed.is_none() && invite.is_expired(now_ms()) {
        return Err(JoinError::Expired);
    }
    if invite.addrs.is_empty() && peers.is_empty() {
        return Err(JoinError::NoAddress);
    }
    let addrs: Vec<String> = invite
        .addrs
        .iter()
        .chain(peers.iter())
        .map(|a| a.to_string())
        .collect();
    let team_id = invite.team_id;
    // Resuming, a key written since (a rotation that reached the device
    // before the crash) is newer than the invite's: keep it.
    let psk = match resumed {
        Some(_) => team::load_team_key(&data_dir)?.unwrap_or(invite.psk),
        None => invite.psk,
    };
    let mut config = NodeConfig::new(&data_dir, store, keypair, psk);
    config.listen = listen;
    config.mdns = false;
    config.control_socket = false;
    if let Some(agent) = resumed {
        // A member already: the key is the team's, and the invite's
        // addresses are where its teammates are.
        if team::load_team_key(&data_dir)?.is_none() {
            team::save_team_key(&data_dir, &psk)?;
        }
        progress(JoinProgress::Admitted { agent });
        config.peers = invite.addrs.iter().cloned().chain(peers).collect();
    } else {
        config.peers = peers;
        config.join = Some(JoinConfig {
            invite,
            agent_name,
            device_name,
        });
    }
    let (node, mut events) = Node::start(config).await?;
    let result = async {
        let mut admitted: Option<(AgentId, String)> = resumed.map(|a| (a, String::new()));
        let mut admitting_peer: Option<String> = None;
        let started = tokio::time::Instant::now();
        let deadline = started + connect_timeout;
        let mut first_sync = FirstSyncTracker::default();
        loop {
            let event = if admitted.is_none() {
                match tokio::time::timeout_at(deadline, events.recv()).await {
                    Ok(e) => e,
                    Err(_) => return Err(JoinError::Unreachable(addrs.join(", "))),
                }
            } else {
                events.recv().await
            };
            match event {
                Ok(Event::PeerConnected { peer, .. }) if admitting_peer.is_none() => {
                    admitting_peer = Some(peer)
                }
                Ok(Event::Joined { agent }) => {
                    crash_point("admitted");
                    // A member from now on (the roster says so): keep the key at once.
                    team::save_team_key(&data_dir, &psk)?;
                    crash_point("team-key-saved");
                    progress(JoinProgress::Admitted { agent });
                    admitted = Some((agent, admitting_peer.clone().unwrap_or_default()));
                }
                Ok(Event::JoinRefused { reason }) => return Err(JoinError::Refused(reason)),
                Ok(Event::PeerRefused { reason, .. }) if admitted.is_none() => {
                    tracing::debug!(%reason, "a peer refused the joining device");
                }
                Ok(Event::SyncProgress {
                    peer,
                    pending_docs,
                    received_bytes,
                }) if admitted.is_some() => {
                    progress(JoinProgress::Syncing(first_sync.report(
                        &peer,
                        pending_docs,
                        received_bytes,
                        started.elapsed(),
                    )));
                    crash_point("syncing");
                }
                Ok(Event::CaughtUp { .. }) => {
                    if let Some((agent, _)) = admitted {
                        return Ok(Joined {
                            team: team_id,
                            agent,
                        });
                    }
                }
                Ok(Event::Stopped) | Err(RecvError::Closed) => return Err(JoinError::Stopped),
                Ok(_) | Err(RecvError::Lagged(_)) => {}
            }
        }
    }
    .await;
    node.shutdown().await?;
    result
}
