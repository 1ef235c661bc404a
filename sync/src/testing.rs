//! Helpers for tests that poke a running node from outside (the end-to-end
//! tests use them to play a misbehaving peer).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};

use crate::protocol::{Frame, PROTOCOL};
use crate::transport::{TransportConfig, build_swarm};

/// What happened to a raw connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawOutcome {
    /// The transport refused us (e.g. another team key).
    NotConnected(String),
    /// The node closed the stream; the bytes it sent before closing.
    Closed { received: Vec<u8> },
    /// The stream stayed open for the whole wait.
    StillOpen { received: Vec<u8> },
}

/// Connects to the node at `addr` (which must end in `/p2p/<peer id>`) with a
/// fresh device key and the given team key, opens the sync stream, writes
/// `bytes` as they are, and waits up to `wait` for the node to close it.
pub async fn send_raw(
    psk: [u8; 32],
    addr: Multiaddr,
    bytes: Vec<u8>,
    wait: Duration,
) -> Result<RawOutcome, String> {
    send_raw_as(Keypair::generate_ed25519(), psk, addr, bytes, wait).await
}

/// [`send_raw`] as the device with `keypair` (e.g. a roster member's key,
/// to play a member that misbehaves once admitted).
pub async fn send_raw_as(
    keypair: Keypair,
    psk: [u8; 32],
    addr: Multiaddr,
    bytes: Vec<u8>,
    wait: Duration,
) -> Result<RawOutcome, String> {
    converse_as(keypair, psk, addr, bytes, wait, |_| Vec::new()).await
}

/// [`send_raw_as`], then answers each frame the node sends with the bytes
/// `answer` gives for it (e.g. whole documents once the node asks for them).
pub async fn converse_as(
    keypair: Keypair,
    psk: [u8; 32],
    addr: Multiaddr,
    bytes: Vec<u8>,
    wait: Duration,
    mut answer: impl FnMut(&Frame) -> Vec<u8>,
) -> Result<RawOutcome, String> {
    let (peer, mut control, driver) = dial(keypair, psk, addr)?;
    let outcome = async {
        let mut stream = match tokio::time::timeout(wait, control.open_stream(peer, PROTOCOL)).await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Ok(RawOutcome::NotConnected(e.to_string())),
            Err(_) => return Ok(RawOutcome::NotConnected("timed out".into())),
        };
        stream.write_all(&bytes).await.map_err(|e| e.to_string())?;
        stream.flush().await.map_err(|e| e.to_string())?;
        let mut received = Vec::new();
        // Where the next whole frame from the node starts in `received`.
        let mut parsed = 0;
        let mut buf = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(RawOutcome::Closed { received }),
                Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
                Err(_) => return Ok(RawOutcome::StillOpen { received }),
            }
            while let Some((frame, len)) = next_frame(&received[parsed..]) {
                parsed += len;
                let reply = answer(&frame);
                if !reply.is_empty() {
                    stream.write_all(&reply).await.map_err(|e| e.to_string())?;
                    stream.flush().await.map_err(|e| e.to_string())?;
                }
            }
        }
    }
    .await;
    driver.abort();
    outcome
}

/// A swarm of its own for the device `keypair`, dialing `addr` (which must
/// end in `/p2p/<peer id>`) with the team key `psk`, driven by a task.
fn dial(
    keypair: Keypair,
    psk: [u8; 32],
    addr: Multiaddr,
) -> Result<(PeerId, libp2p_stream::Control, tokio::task::JoinHandle<()>), String> {
    let peer: PeerId = addr
        .iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::P2p(peer) => Some(peer),
            _ => None,
        })
        .ok_or("the address has no /p2p/ peer id")?;
    let config = TransportConfig {
        mdns: false,
        ..TransportConfig::default()
    };
    let mut swarm = build_swarm(keypair, crate::keyring::Keyring::new(psk), &config)
        .map_err(|e| e.to_string())?;
    let control = swarm.behaviour().stream.new_control();
    swarm.dial(addr).map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    Ok((peer, control, driver))
}

/// The frames in `bytes` (length-prefixed, as on the wire), as far as they decode.
pub fn frames_in(mut bytes: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Some((frame, len)) = next_frame(bytes) {
        out.push(frame);
        bytes = &bytes[len..];
    }
    out
}

/// The first whole frame in `bytes` and the bytes it takes, if it is all there.
fn next_frame(bytes: &[u8]) -> Option<(Frame, usize)> {
    let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let body = bytes.get(4..4 + len)?;
    Some((Frame::decode(body).ok()?, 4 + len))
}

/// Connections that complete the transport handshake with the team key and
/// then say nothing, each from a fresh device (as a flood of strangers would).
pub struct SilentFlood {
    connected: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SilentFlood {
    /// How many of the connections are up now.
    pub fn connected(&self) -> usize {
        self.connected.load(Ordering::SeqCst)
    }
}

impl Drop for SilentFlood {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Opens `count` silent connections to `addr`, each from its own new device.
pub fn silent_flood(psk: [u8; 32], addr: Multiaddr, count: usize) -> Result<SilentFlood, String> {
    let connected = Arc::new(AtomicUsize::new(0));
    let config = TransportConfig {
        mdns: false,
        ..TransportConfig::default()
    };
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let mut swarm = build_swarm(
            Keypair::generate_ed25519(),
            crate::keyring::Keyring::new(psk),
            &config,
        )
        .map_err(|e| e.to_string())?;
        swarm.dial(addr.clone()).map_err(|e| e.to_string())?;
        let connected = connected.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match swarm.select_next_some().await {
                    libp2p::swarm::SwarmEvent::ConnectionEstablished { .. } => {
                        connected.fetch_add(1, Ordering::SeqCst);
                    }
                    libp2p::swarm::SwarmEvent::ConnectionClosed { .. } => {
                        connected.fetch_sub(1, Ordering::SeqCst);
                    }
                    _ => {}
                }
            }
        }));
    }
    Ok(SilentFlood { connected, tasks })
}

/// Connects as the device with `keypair`, writes `bytes` on a sync stream,
/// then reads nothing for `hold` (a peer that asks and never reads).
pub async fn write_and_stall(
    keypair: Keypair,
    psk: [u8; 32],
    addr: Multiaddr,
    bytes: Vec<u8>,
    hold: Duration,
) -> Result<(), String> {
    let (peer, mut control, driver) = dial(keypair, psk, addr)?;
    let mut stream = tokio::time::timeout(hold, control.open_stream(peer, PROTOCOL))
        .await
        .map_err(|_| "timed out opening the stream".to_string())?
        .map_err(|e| e.to_string())?;
    stream.write_all(&bytes).await.map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())?;
    tokio::time::sleep(hold).await;
    driver.abort();
    Ok(())
}

/// A member that answers every file request with bytes of its choosing
/// (a lying peer), while holding any sync stream the node opens to it.
/// Stops when dropped.
pub struct FileLiar {
    driver: tokio::task::JoinHandle<()>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// How many file requests it answered.
    pub asked: Arc<AtomicUsize>,
}

impl Drop for FileLiar {
    fn drop(&mut self) {
        self.driver.abort();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Connects to the node at `addr` as the device with `keypair` and answers
/// each file request with status OK and `bytes`, whatever was asked.
pub fn lie_about_files(
    keypair: Keypair,
    psk: [u8; 32],
    addr: Multiaddr,
    bytes: Vec<u8>,
) -> Result<FileLiar, String> {
    let (_peer, mut control, driver) = dial(keypair, psk, addr)?;
    let mut files = control
        .accept(crate::files::FILE_PROTOCOL)
        .map_err(|e| e.to_string())?;
    let mut syncs = control.accept(PROTOCOL).map_err(|e| e.to_string())?;
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let answering = tokio::spawn(async move {
        while let Some((_, mut stream)) = files.next().await {
            let mut request = [0u8; 41];
            if stream.read_exact(&mut request).await.is_err() {
                continue;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let mut answer = vec![0u8];
            answer.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            answer.extend_from_slice(&bytes);
            let _ = stream.write_all(&answer).await;
            let _ = stream.close().await;
        }
    });
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some((_, stream)) = syncs.next().await {
            held.push(stream);
        }
    });
    Ok(FileLiar {
        driver,
        tasks: vec![answering, holding],
        asked,
    })
}

/// Connects to the node at `addr` as the device with `keypair` and asks it
/// for file `hash` over the file protocol, as a teammate's node would.
pub async fn fetch_file_as(
    keypair: Keypair,
    psk: [u8; 32],
    addr: Multiaddr,
    hash: meshdesk_model::blobs::BlobHash,
    limit: u64,
) -> Result<Vec<u8>, String> {
    let (peer, mut control, driver) = dial(keypair, psk, addr)?;
    let got = crate::files::fetch_from(&mut control, peer, hash, limit).await;
    driver.abort();
    got.map_err(|e| e.to_string())
}
