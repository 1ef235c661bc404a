//! The libp2p swarm of a node (DESIGN §5, §12).
//!
//! Transport: TCP, then the private-network handshake with the team's
//! pre-shared key (pnet, XSalsa20; which of the team's keys, in force or
//! retired by a rotation, is named first by a keyed hash), then noise (authenticates the peer id)
//! and yamux. A node without the team key cannot complete a connection: its
//! bytes decrypt to garbage and multistream-select fails. No QUIC, because
//! pnet does not cover it.
//!
//! The same pnet, noise and yamux run end to end over a circuit of a relay
//! (circuit relay v2, `meshdesk relay`): the relay passes on bytes it cannot
//! read, between devices that both hold the team key.
//!
//! Behaviour: connection limits, a block list (revoked devices), the relay
//! client (reservations and relayed dials), DCUtR (a relayed connection
//! upgraded to a direct one by hole punching where the NATs allow), the
//! `libp2p-stream` behaviour carrying the sync protocol, ping (keeps NAT
//! and idle detection honest), identify (learns the peer's listen addresses
//! so they can be remembered, and this node's observed address for hole
//! punching), and optional mDNS discovery.
//!
//! The idle-connection timeout is an hour, so a quiet teammate is not dropped;
//! the sync stream itself also keeps connections busy.

use std::time::Duration;

use futures::future::Either;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::Boxed;
use libp2p::core::transport::upgrade::Version;
use libp2p::core::{ConnectedPoint, Endpoint};
use libp2p::identity::Keypair;
use libp2p::pnet::{PnetConfig, PnetError, PnetOutput, PreSharedKey};
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{PeerId, Swarm, SwarmBuilder, Transport};
use libp2p::{
    allow_block_list, connection_limits, dcutr, identify, mdns, noise, ping, relay, tcp, yamux,
};

use crate::keyring::Keyring;

/// The identify protocol version string: peers of other applications are told apart by it.
pub const IDENTIFY_PROTOCOL: &str = "/meshdesk/id/1";
/// How long a connection with no open stream stays up.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How long dialing plus the pnet/noise/yamux handshake may take.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(20);

/// Swarm options.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// Discover peers on the LAN with mDNS.
    pub mdns: bool,
    /// Most connections established at once (all peers).
    pub max_connections: u32,
    /// Most connections to one peer (a simultaneous dial makes two).
    pub max_connections_per_peer: u32,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            mdns: true,
            max_connections: 256,
            max_connections_per_peer: 2,
        }
    }
}

/// The node's composed behaviour.
#[derive(NetworkBehaviour)]
pub struct MeshBehaviour {
    pub limits: connection_limits::Behaviour,
    pub blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub relay: relay::client::Behaviour,
    pub dcutr: dcutr::Behaviour,
    pub stream: libp2p_stream::Behaviour,
    pub ping: ping::Behaviour,
    pub identify: identify::Behaviour,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
}

/// Why the swarm could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot set up the noise handshake: {0}")]
    Noise(String),
    #[error("cannot start mDNS discovery: {0}")]
    Mdns(String),
    #[error("cannot build the network stack: {0}")]
    Build(String),
}

/// Sent by both sides right after the pnet handshake. With another team key
/// it decrypts to garbage, so a wrong key fails at once with a clear reason
/// instead of hanging in multistream-select until the connection timeout.
const KEY_CHECK: &[u8; 16] = b"meshdesk-pnet/2\n";

/// Why a connection failed the team-key check.
pub const WRONG_KEY: &str = "the peer does not have this team's key";

/// Before pnet, the dialer names the key it uses without revealing it: a
/// random salt and the salt's BLAKE3 hash keyed with the team key. The
/// listener finds which of its accepted keys (the one in force and the
/// retired ones) that is, and both run pnet with it.
const HINT_SALT: usize = 16;
/// How long a listener waits for the dialer to name its key.
const HINT_TIMEOUT: Duration = Duration::from_secs(5);

fn key_hint(key: &[u8; 32], salt: &[u8]) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(b"meshdesk key hint v1\0");
    hasher.update(salt);
    hasher.finalize()
}

async fn keyed_handshake<S>(
    keyring: Keyring,
    endpoint: ConnectedPoint,
    mut socket: S,
) -> Result<PnetOutput<S>, std::io::Error>
where
    S: futures::AsyncRead + futures::AsyncWrite + Send + Unpin + 'static,
{
    use futures::{AsyncReadExt, AsyncWriteExt};
    // A hole punch is a TCP simultaneous open: both sides dialed, and
    // DCUtR makes one of them take the listener's part in the upgrades.
    let dials = match &endpoint {
        ConnectedPoint::Dialer { role_override, .. } => *role_override == Endpoint::Dialer,
        ConnectedPoint::Listener { .. } => false,
    };
    let key = match dials {
        true => {
            let key = keyring.current();
            let salt: [u8; HINT_SALT] = rand::random();
            socket.write_all(&salt).await?;
            socket.write_all(key_hint(&key, &salt).as_bytes()).await?;
            socket.flush().await?;
            key
        }
        false => {
            let mut hint = [0u8; HINT_SALT + 32];
            // A dialer that sends nothing holds one of the few pending slots:
            // it gets seconds, not the whole connection timeout.
            tokio::time::timeout(HINT_TIMEOUT, socket.read_exact(&mut hint))
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "no team key named in time")
                })??;
            let (salt, named) = hint.split_at(HINT_SALT);
            let named = blake3::Hash::from_slice(named)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let accepted = keyring.accepted();
            // `Hash` compares in constant time.
            let Some(index) = accepted.iter().position(|k| key_hint(k, salt) == named) else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    WRONG_KEY,
                ));
            };
            if index > 0 {
                keyring.note_retired_key_link(endpoint.get_remote_address().clone());
            }
            accepted[index]
        }
    };
    pnet_handshake(PreSharedKey::new(key), socket).await
}

async fn pnet_handshake<S>(psk: PreSharedKey, socket: S) -> Result<PnetOutput<S>, std::io::Error>
where
    S: futures::AsyncRead + futures::AsyncWrite + Send + Unpin + 'static,
{
    use futures::{AsyncReadExt, AsyncWriteExt};
    let mut out = PnetConfig::new(psk)
        .handshake(socket)
        .await
        .map_err(|e| match e {
            PnetError::HandshakeError(io) | PnetError::IoError(io) => io,
        })?;
    out.write_all(KEY_CHECK).await?;
    out.flush().await?;
    let mut check = [0u8; KEY_CHECK.len()];
    out.read_exact(&mut check).await?;
    if &check != KEY_CHECK {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            WRONG_KEY,
        ));
    }
    Ok(out)
}

/// Whether `addr` leads to this machine only (worth sharing last, or not at all).
pub(crate) fn is_loopback(addr: &libp2p::Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        libp2p::multiaddr::Protocol::Ip4(ip) => ip.is_loopback(),
        libp2p::multiaddr::Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

/// A raw transport (TCP, or a relay's circuits) with the team's handshake
/// on top: the key hint and pnet, then noise and yamux.
pub(crate) fn team_secured<T>(
    transport: T,
    keyring: Keyring,
    key: &Keypair,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, noise::Error>
where
    T: Transport + Send + Unpin + 'static,
    T::Output: futures::AsyncRead + futures::AsyncWrite + Send + Unpin + 'static,
    T::Error: Send + Sync + 'static,
    T::Dial: Send + 'static,
    T::ListenerUpgrade: Send + 'static,
{
    let noise = noise::Config::new(key)?;
    Ok(transport
        .and_then(move |socket, endpoint| keyed_handshake(keyring.clone(), endpoint, socket))
        .upgrade(Version::V1Lazy)
        .authenticate(noise)
        .multiplex(yamux::Config::default())
        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)))
        .boxed())
}

/// Builds the swarm for a device key pair and the team's keys. Must be
/// called inside a tokio runtime (mDNS and TCP bind to it).
pub fn build_swarm(
    keypair: Keypair,
    keyring: Keyring,
    config: &TransportConfig,
) -> Result<Swarm<MeshBehaviour>, TransportError> {
    let local_peer = keypair.public().to_peer_id();
    let mdns = if config.mdns {
        let mdns_config = mdns::Config {
            // Rediscover a restarted teammate within seconds, not minutes.
            query_interval: Duration::from_secs(20),
            ..mdns::Config::default()
        };
        let behaviour = mdns::tokio::Behaviour::new(mdns_config, local_peer)
            .map_err(|e| TransportError::Mdns(e.to_string()))?;
        Some(behaviour)
    } else {
        None
    };
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(config.max_connections))
        .with_max_established_per_peer(Some(config.max_connections_per_peer))
        .with_max_pending_incoming(Some(64))
        .with_max_pending_outgoing(Some(64));
    let (relayed, relay_client) = relay::client::new(local_peer);
    let swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_other_transport(|key| {
            let tcp = tcp::tokio::Transport::new(tcp::Config::new().nodelay(true));
            let direct = team_secured(tcp, keyring.clone(), key)?;
            let relayed = team_secured(relayed, keyring, key)?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(direct.or_transport(relayed).map(
                |either, _| match either {
                    Either::Left(out) | Either::Right(out) => out,
                },
            ))
        })
        .map_err(|e| TransportError::Noise(e.to_string()))?
        .with_behaviour(|key| MeshBehaviour {
            limits: connection_limits::Behaviour::new(limits),
            blocked: allow_block_list::Behaviour::default(),
            relay: relay_client,
            dcutr: dcutr::Behaviour::new(local_peer),
            stream: libp2p_stream::Behaviour::new(),
            ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_secs(15))),
            identify: identify::Behaviour::new(
                identify::Config::new(IDENTIFY_PROTOCOL.to_string(), key.public())
                    .with_agent_version(format!("meshdesk/{}", env!("CARGO_PKG_VERSION")))
                    .with_push_listen_addr_updates(true),
            ),
            mdns: Toggle::from(mdns),
        })
        .map_err(|e| TransportError::Build(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .with_connection_timeout(CONNECTION_TIMEOUT)
        .build();
    Ok(swarm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use libp2p::Multiaddr;
    use libp2p::swarm::SwarmEvent;

    use crate::protocol::{Frame, PROTOCOL, read_frame, write_frame};

    fn no_mdns() -> TransportConfig {
        TransportConfig {
            mdns: false,
            ..TransportConfig::default()
        }
    }

    async fn listen(
        swarm: &mut Swarm<MeshBehaviour>,
    ) -> Result<Multiaddr, Box<dyn std::error::Error>> {
        swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;
        loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                return Ok(address);
            }
        }
    }

    #[tokio::test]
    async fn same_key_connects_and_carries_frames() -> Result<(), Box<dyn std::error::Error>> {
        let key = Keyring::new([42u8; 32]);
        let mut a = build_swarm(Keypair::generate_ed25519(), key.clone(), &no_mdns())?;
        let mut b = build_swarm(Keypair::generate_ed25519(), key, &no_mdns())?;
        let addr = listen(&mut a).await?;
        let a_id = *a.local_peer_id();
        let mut incoming = a.behaviour().stream.new_control().accept(PROTOCOL)?;
        let mut control = b.behaviour().stream.new_control();
        b.dial(addr.with_p2p(a_id).map_err(|_| "p2p")?)?;
        tokio::spawn(async move {
            loop {
                a.select_next_some().await;
            }
        });
        tokio::spawn(async move {
            loop {
                b.select_next_some().await;
            }
        });
        let mut out = control.open_stream(a_id, PROTOCOL).await?;
        write_frame(
            &mut out,
            &Frame::SyncDone {
                doc_id: "hello".into(),
            },
        )
        .await?;
        let (_, mut inbound) = incoming.next().await.ok_or("no inbound stream")?;
        let frame = read_frame(&mut inbound).await?;
        assert_eq!(
            frame,
            Some(Frame::SyncDone {
                doc_id: "hello".into()
            })
        );
        Ok(())
    }

    #[tokio::test]
    async fn other_key_cannot_connect() -> Result<(), Box<dyn std::error::Error>> {
        let mut a = build_swarm(
            Keypair::generate_ed25519(),
            Keyring::new([1u8; 32]),
            &no_mdns(),
        )?;
        let mut b = build_swarm(
            Keypair::generate_ed25519(),
            Keyring::new([2u8; 32]),
            &no_mdns(),
        )?;
        let addr = listen(&mut a).await?;
        tokio::spawn(async move {
            loop {
                a.select_next_some().await;
            }
        });
        b.dial(addr)?;
        // The key check fails at once: never is a connection established.
        let outcome = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match b.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { .. } => return true,
                    SwarmEvent::OutgoingConnectionError { .. } => return false,
                    _ => {}
                }
            }
        })
        .await;
        assert_eq!(
            outcome.ok(),
            Some(false),
            "a node with another key connected, or it hung"
        );
        Ok(())
    }
}
