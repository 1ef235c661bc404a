//! `meshdesk relay`: a circuit relay (v2) for teams on several sites.
//!
//! Members behind NATs on different sites cannot dial each other. Each one
//! reserves a slot on a relay that all can reach (a small VPS, a site's
//! router box), teammates dial each other through it, and DCUtR then tries
//! to punch a direct connection through both NATs; where it fails, traffic
//! stays relayed.
//!
//! The relay holds the team key only to accept members and turn everyone
//! else away at the handshake; it opens no store and keeps no document. Its
//! circuits carry each pair's own pnet, noise and yamux, end to end, so it
//! passes on bytes it cannot read. Its peer id is stable (the key in its own
//! data dir) because members are configured with it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, SwarmBuilder};
use libp2p::{connection_limits, identify, ping, relay, tcp};

use crate::keyring::Keyring;
use crate::transport::{
    CONNECTION_TIMEOUT, IDENTIFY_PROTOCOL, IDLE_CONNECTION_TIMEOUT, is_loopback, team_secured,
};

/// How often the team key file is read again, to follow a rotation.
const KEY_RELOAD: Duration = Duration::from_secs(30);

/// Limits of what one relay serves: generous for a team, bounded for anyone.
const MAX_RESERVATIONS: usize = 512;
const MAX_RESERVATIONS_PER_PEER: usize = 4;
const RESERVATION_DURATION: Duration = Duration::from_secs(60 * 60);
const MAX_CIRCUITS: usize = 1024;
const MAX_CIRCUITS_PER_PEER: usize = 64;
/// A circuit is renewed (redialed) after this; the default two minutes and
/// 128 KiB would cut a first sync short.
const MAX_CIRCUIT_DURATION: Duration = Duration::from_secs(60 * 60);
const MAX_CIRCUIT_BYTES: u64 = 4 << 30;

#[derive(NetworkBehaviour)]
pub struct RelayBehaviour {
    pub limits: connection_limits::Behaviour,
    pub relay: relay::Behaviour,
    pub ping: ping::Behaviour,
    pub identify: identify::Behaviour,
}

/// Why the relay cannot run.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("cannot read the team key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("{0}")]
    Identity(String),
    #[error("cannot build the relay's network stack: {0}")]
    Build(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: Multiaddr, reason: String },
}

/// What the relay reports as it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEvent {
    /// Reachable here (with the relay's `/p2p/` id: the address members are given).
    Listening(Multiaddr),
    /// A member reserved a slot.
    Reserved(PeerId),
    /// A circuit between two members opened.
    Circuit { src: PeerId, dst: PeerId },
}

/// Reads a team key file (the `team.psk` of a member's data dir).
pub fn read_team_key(path: &Path) -> Result<[u8; 32], RelayError> {
    let bytes = std::fs::read(path).map_err(|e| RelayError::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    bytes.as_slice().try_into().map_err(|_| RelayError::Key {
        path: path.to_path_buf(),
        reason: format!("is {} bytes long, expected 32", bytes.len()),
    })
}

/// The relay's key pair, made on first start (`device.key` of its own data
/// dir, never a member's: the relay is no device of the roster).
pub fn relay_identity(data_dir: &Path) -> Result<Keypair, RelayError> {
    crate::identity::load_or_create(data_dir).map_err(|e| RelayError::Identity(e.to_string()))
}

/// Builds the relay's swarm: the members' transport, the relay server.
pub fn build_relay_swarm(
    keypair: Keypair,
    keyring: Keyring,
) -> Result<Swarm<RelayBehaviour>, RelayError> {
    let local_peer = keypair.public().to_peer_id();
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(MAX_RESERVATIONS as u32 * 2))
        .with_max_established_per_peer(Some(4))
        .with_max_pending_incoming(Some(64));
    let config = relay::Config {
        max_reservations: MAX_RESERVATIONS,
        max_reservations_per_peer: MAX_RESERVATIONS_PER_PEER,
        reservation_duration: RESERVATION_DURATION,
        max_circuits: MAX_CIRCUITS,
        max_circuits_per_peer: MAX_CIRCUITS_PER_PEER,
        max_circuit_duration: MAX_CIRCUIT_DURATION,
        max_circuit_bytes: MAX_CIRCUIT_BYTES,
        ..relay::Config::default()
    };
    let mut swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_other_transport(|key| {
            let tcp = tcp::tokio::Transport::new(tcp::Config::new().nodelay(true));
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(team_secured(tcp, keyring, key)?)
        })
        .map_err(|e| RelayError::Build(e.to_string()))?
        .with_behaviour(|key| RelayBehaviour {
            limits: connection_limits::Behaviour::new(limits),
            relay: relay::Behaviour::new(local_peer, config),
            ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_secs(15))),
            identify: identify::Behaviour::new(
                identify::Config::new(IDENTIFY_PROTOCOL.to_string(), key.public())
                    .with_agent_version(format!("meshdesk-relay/{}", env!("CARGO_PKG_VERSION"))),
            ),
        })
        .map_err(|e| RelayError::Build(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .with_connection_timeout(CONNECTION_TIMEOUT)
        .build();
    // Serve whether or not the relay knows its public address.
    swarm
        .behaviour_mut()
        .relay
        .set_status(Some(relay::Status::Enable));
    Ok(swarm)
}

/// Runs a relay until the process ends: listens on `listen`, tells members
/// it is reached at its listen addresses and at `announce` (a public address
/// in front of a port forward), follows the key file, and reports what
/// happens to `on_event`.
pub async fn run_relay(
    data_dir: &Path,
    team_key_file: &Path,
    listen: Vec<Multiaddr>,
    announce: Vec<Multiaddr>,
    mut on_event: impl FnMut(RelayEvent),
) -> Result<(), RelayError> {
    let mut key = read_team_key(team_key_file)?;
    let keyring = Keyring::new(key);
    let keypair = relay_identity(data_dir)?;
    let local_peer = keypair.public().to_peer_id();
    let mut swarm = build_relay_swarm(keypair, keyring.clone())?;
    for addr in listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| RelayError::Listen {
                addr,
                reason: e.to_string(),
            })?;
    }
    for addr in announce {
        swarm.add_external_address(addr);
    }
    let mut reload = tokio::time::interval(KEY_RELOAD);
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } => {
                    // A reservation must name where the relay is reached;
                    // a listen address off loopback is taken as such.
                    if !is_loopback(&address) {
                        swarm.add_external_address(address.clone());
                    }
                    on_event(RelayEvent::Listening(address.with(Protocol::P2p(local_peer))));
                }
                SwarmEvent::Behaviour(RelayBehaviourEvent::Relay(
                    relay::Event::ReservationReqAccepted { src_peer_id, .. },
                )) => on_event(RelayEvent::Reserved(src_peer_id)),
                SwarmEvent::Behaviour(RelayBehaviourEvent::Relay(
                    relay::Event::CircuitReqAccepted { src_peer_id, dst_peer_id },
                )) => on_event(RelayEvent::Circuit { src: src_peer_id, dst: dst_peer_id }),
                SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                    tracing::info!(from = %send_back_addr, %error, "refused a connection (wrong team key or broken handshake)");
                }
                _ => {}
            },
            _ = reload.tick() => match read_team_key(team_key_file) {
                // A rotation: the new key is in force, the old one still accepted.
                Ok(new) if new != key => {
                    tracing::info!("the team key file changed; accepting the new key");
                    keyring.rotate_to(new);
                    key = new;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the team key again; keeping the one in use"),
            },
        }
    }
}
