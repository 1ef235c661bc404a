//! Whom to connect to, and when: addresses from mDNS, `--peer`, the invite,
//! identify and presence (remembered in the store across restarts); a lost
//! peer is redialed with exponential backoff.

use meshdesk_model::store::LocalMarks;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, Swarm, identify, mdns};

use super::actor::Actor;
use super::handle::NodeError;
use crate::transport::MeshBehaviour;

/// Devices discovered by mDNS that are not (yet) teammates, kept as dial candidates at most.
const MAX_MDNS_STRANGERS: usize = 64;
/// Addresses kept per discovered device.
const MAX_ADDRS_PER_PEER: usize = 8;
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A peer that never connected (e.g. another team's node found by mDNS) is retried rarely.
const BACKOFF_STRANGER: Duration = Duration::from_secs(600);

#[derive(Debug)]
struct Backoff {
    next_at: Instant,
    delay: Duration,
    ever_connected: bool,
}

impl Backoff {
    fn new() -> Self {
        Backoff {
            next_at: Instant::now(),
            delay: BACKOFF_MIN,
            ever_connected: false,
        }
    }

    fn failed(&mut self) {
        let cap = if self.ever_connected {
            BACKOFF_MAX
        } else {
            BACKOFF_STRANGER
        };
        self.next_at = Instant::now() + self.delay;
        self.delay = (self.delay * 2).min(cap);
    }

    /// A dial starts: no other before this one had time to fail or succeed.
    fn attempt(&mut self) {
        self.next_at = Instant::now() + self.delay;
    }

    fn connected(&mut self) {
        self.ever_connected = true;
        self.delay = BACKOFF_MIN;
    }

    fn due(&self) -> bool {
        Instant::now() >= self.next_at
    }
}

/// Whom to (re)connect to.
#[derive(Default)]
pub(super) struct Dialer {
    /// Known peers and their addresses (roster members, remembered, from identify).
    known: BTreeMap<PeerId, Vec<Multiaddr>>,
    backoff: HashMap<PeerId, Backoff>,
    /// `--peer` and invite addresses without a peer id, with whom answered there last.
    bootstrap: Vec<(Multiaddr, Option<PeerId>, Backoff)>,
}

impl Dialer {
    /// A connection to `peer` is up: its backoff starts over, and a bootstrap
    /// address it answered at (if this side dialed) is known to be its.
    pub(super) fn connected(&mut self, peer: PeerId, addr: &Multiaddr, dialed: bool) {
        if dialed {
            let plain = without_p2p(addr);
            for (boot, who, backoff) in &mut self.bootstrap {
                if without_p2p(boot) == plain {
                    *who = Some(peer);
                    backoff.connected();
                }
            }
        }
        self.backoff
            .entry(peer)
            .or_insert_with(Backoff::new)
            .connected();
    }

    /// Adds an address to dial `peer` at.
    pub(super) fn add_addr(&mut self, peer: PeerId, addr: Multiaddr) {
        let entry = self.known.entry(peer).or_default();
        if !entry.contains(&addr) {
            entry.push(addr);
        }
    }

    /// Dials `peer` at the next chance, whatever its backoff.
    pub(super) fn due_now(&mut self, peer: PeerId) {
        if let Some(b) = self.backoff.get_mut(&peer) {
            b.next_at = Instant::now();
        }
    }

    /// The last connection to `peer` closed.
    pub(super) fn disconnected(&mut self, peer: PeerId) {
        if let Some(b) = self.backoff.get_mut(&peer) {
            // Redial soon, not at once: the peer may be restarting.
            b.next_at = Instant::now() + b.delay;
        }
    }

    pub(super) fn dial_failed(&mut self, peer: PeerId) {
        self.backoff
            .entry(peer)
            .or_insert_with(Backoff::new)
            .failed();
    }
}

impl Actor {
    pub(super) fn on_mdns(&mut self, event: mdns::Event) {
        if self.joining() {
            return;
        }
        if let mdns::Event::Discovered(found) = event {
            let mut peers = HashSet::new();
            let team = self.store.team().ok().flatten();
            let is_teammate = |p: &PeerId| {
                team.as_ref()
                    .is_some_and(|t| t.members.contains_key(&p.to_base58()))
            };
            for (peer, addr) in found {
                if peer == self.local_peer {
                    continue;
                }
                // Anyone on the LAN can answer mDNS: strangers are kept as
                // dial candidates only up to a bound, and few addresses each.
                if !self.dialer.known.contains_key(&peer) && !is_teammate(&peer) {
                    let strangers = self.dialer.known.keys().filter(|p| !is_teammate(p)).count();
                    if strangers >= MAX_MDNS_STRANGERS {
                        continue;
                    }
                }
                let entry = self.dialer.known.entry(peer).or_default();
                if entry.len() >= MAX_ADDRS_PER_PEER {
                    continue;
                }
                self.swarm.add_peer_address(peer, addr.clone());
                if !entry.contains(&addr) {
                    entry.push(addr);
                }
                peers.insert(peer);
            }
            for peer in peers {
                // Lower peer id dials when both discover each other.
                if self.local_peer < peer && !self.swarm.is_connected(&peer) {
                    self.dial_peer(peer);
                }
            }
        }
    }

    pub(super) fn dial_peer(&mut self, peer: PeerId) {
        let backoff = self.dialer.backoff.entry(peer).or_insert_with(Backoff::new);
        if !backoff.due() {
            return;
        }
        backoff.attempt();
        let mut addrs = self.dialer.known.get(&peer).cloned().unwrap_or_default();
        // Direct addresses first; through the relays too, raced with them.
        for circuit in self.relays.circuits_to(peer) {
            let plain = without_p2p(&circuit);
            if !addrs.contains(&plain) {
                addrs.push(plain);
            }
        }
        if addrs.is_empty() {
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "cannot dial");
        }
    }

    pub(super) fn seed_dialer(&mut self, peers: Vec<Multiaddr>) {
        if !self.network {
            return;
        }
        let mut boot: Vec<Multiaddr> = peers;
        boot.extend(self.invite_addrs.iter().cloned());
        for addr in boot {
            match peer_of(&addr) {
                Some(peer) if peer != self.local_peer => {
                    let plain = without_p2p(&addr);
                    self.swarm.add_peer_address(peer, plain.clone());
                    self.dialer.add_addr(peer, plain);
                }
                Some(_) => {}
                None => self.dialer.bootstrap.push((addr, None, Backoff::new())),
            }
        }
        if !self.joining() {
            match self.store.known_peer_addrs() {
                Ok(known) => {
                    for (peer, addrs) in known {
                        let Ok(peer) = peer.parse::<PeerId>() else {
                            continue;
                        };
                        if peer == self.local_peer {
                            continue;
                        }
                        let addrs: Vec<Multiaddr> =
                            addrs.iter().filter_map(|a| a.parse().ok()).collect();
                        let entry = self.dialer.known.entry(peer).or_default();
                        for a in addrs {
                            if !entry.contains(&a) {
                                entry.push(a);
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read remembered peer addresses"),
            }
        }
        self.redial();
    }

    /// Dials known peers and bootstrap addresses that are not connected and are due.
    pub(super) fn redial(&mut self) {
        if !self.network {
            return;
        }
        if self.joining() && !self.links.is_empty() {
            return;
        }
        let team = if self.joining() {
            None
        } else {
            self.store.team().ok().flatten()
        };
        let invite_peers: HashSet<PeerId> = self.invite_addrs.iter().filter_map(peer_of).collect();
        // With a relay, every teammate can be dialed through it, known address or not.
        let through_relay: Vec<PeerId> = match &team {
            Some(team) if !self.relays.is_empty() => team
                .members
                .iter()
                .filter(|(_, m)| !m.revoked)
                .filter_map(|(device, _)| device.parse().ok())
                .collect(),
            _ => Vec::new(),
        };
        let mut candidates: Vec<PeerId> = self
            .dialer
            .known
            .keys()
            .copied()
            .chain(through_relay)
            .filter(|p| !self.swarm.is_connected(p) && *p != self.local_peer)
            .filter(|p| !self.relays.is_relay(p))
            .filter(|p| {
                let device = p.to_base58();
                match &team {
                    // Members of the roster (and peers we know nothing against yet).
                    Some(team) => team.members.get(&device).is_none_or(|m| !m.revoked),
                    None => !self.joining() || invite_peers.contains(p),
                }
            })
            .collect();
        candidates.sort();
        candidates.dedup();
        for peer in candidates {
            self.dial_peer(peer);
        }
        let mut dials = Vec::new();
        for (addr, who, backoff) in &mut self.dialer.bootstrap {
            let connected = who.is_some_and(|p| self.swarm.is_connected(&p));
            if !connected && backoff.due() {
                backoff.failed();
                dials.push(addr.clone());
            }
        }
        for addr in dials {
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::debug!(%addr, error = %e, "cannot dial");
            }
        }
    }

    /// Keeps a peer's known addresses in the store, for the next start.
    pub(super) fn remember_addrs_of(&mut self, peer: PeerId) {
        let mut addrs: Vec<String> = self
            .dialer
            .known
            .get(&peer)
            .map(|v| v.iter().map(|a| a.to_string()).collect())
            .unwrap_or_default();
        // An inbound connection's address is the peer's outgoing port: useless
        // to dial; only an address we dialed ourselves is worth keeping.
        if addrs.is_empty()
            && let Some((_, addr, _)) = self.connected.get(&peer)
            && self
                .dialer
                .bootstrap
                .iter()
                .any(|(_, who, _)| *who == Some(peer))
        {
            addrs.push(without_p2p(addr).to_string());
        }
        if addrs.is_empty() || self.joining() {
            return;
        }
        if let Err(e) = self.store.remember_peer_addrs(&peer.to_base58(), &addrs) {
            tracing::warn!(error = %e, "cannot remember peer addresses");
        }
    }

    pub(super) fn remember_own_addrs(&mut self) {
        let addrs: Vec<String> = listen_addrs(&self.swarm)
            .iter()
            .map(|a| a.to_string())
            .collect();
        if addrs.is_empty() || self.joining() {
            return;
        }
        let device = self.device().to_string();
        if let Err(e) = self.store.remember_peer_addrs(&device, &addrs) {
            tracing::warn!(error = %e, "cannot remember own addresses");
        }
    }

    /// Addresses a member announced: dial it directly from now on, and remember them.
    pub(super) fn learn_addrs(&mut self, device: &str, addrs: &[String]) {
        let Ok(peer) = device.parse::<PeerId>() else {
            return;
        };
        if peer == self.local_peer || !self.is_member(device) {
            return;
        }
        let parsed: Vec<Multiaddr> = addrs
            .iter()
            .filter_map(|a| a.parse().ok())
            .map(|a| without_p2p(&a))
            .collect();
        if parsed.is_empty() {
            return;
        }
        for a in &parsed {
            self.swarm.add_peer_address(peer, a.clone());
        }
        self.dialer.known.insert(peer, parsed);
        if let Err(e) = self.store.remember_peer_addrs(device, addrs) {
            tracing::warn!(error = %e, "cannot remember peer addresses");
        }
        if !self.swarm.is_connected(&peer) {
            self.dial_peer(peer);
        }
    }

    /// Connects to an address given by hand (`--peer` later, the control socket).
    pub(super) fn dial_addr(&mut self, addr: Multiaddr) -> Result<(), NodeError> {
        match peer_of(&addr) {
            Some(peer) => {
                let plain = without_p2p(&addr);
                self.dialer
                    .known
                    .entry(peer)
                    .or_default()
                    .push(plain.clone());
                self.swarm.add_peer_address(peer, plain);
                self.dialer.backoff.remove(&peer);
                self.dial_peer(peer);
                Ok(())
            }
            None => {
                self.dialer
                    .bootstrap
                    .push((addr.clone(), None, Backoff::new()));
                self.swarm
                    .dial(addr)
                    .map_err(|e| NodeError::Invalid(e.to_string()))
            }
        }
    }

    /// Addresses identify reports: dialed from now on, and remembered for members.
    pub(super) fn on_identify(&mut self, peer_id: PeerId, info: identify::Info) {
        if info.protocol_version != crate::transport::IDENTIFY_PROTOCOL {
            return;
        }
        let addrs: Vec<Multiaddr> = info
            .listen_addrs
            .into_iter()
            .filter(|a| {
                !a.iter()
                    .any(|p| matches!(p, Protocol::Ip4(ip) if ip.is_unspecified()))
            })
            .map(|a| without_p2p(&a))
            .collect();
        for a in &addrs {
            self.swarm.add_peer_address(peer_id, a.clone());
        }
        let member = self.is_member(&peer_id.to_base58());
        if member && !addrs.is_empty() {
            self.dialer.known.insert(peer_id, addrs.clone());
            let strings: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            if let Err(e) = self
                .store
                .remember_peer_addrs(&peer_id.to_base58(), &strings)
            {
                tracing::warn!(error = %e, "cannot remember peer addresses");
            }
        }
    }
}

/// Listen addresses worth sharing: non-loopback first, no unspecified ones.
pub(super) fn listen_addrs(swarm: &Swarm<MeshBehaviour>) -> Vec<Multiaddr> {
    let mut addrs: Vec<Multiaddr> = swarm
        .listeners()
        .filter(|a| {
            !a.iter().any(|p| match p {
                Protocol::Ip4(ip) => ip.is_unspecified(),
                Protocol::Ip6(ip) => ip.is_unspecified() || (ip.segments()[0] & 0xffc0) == 0xfe80,
                _ => false,
            })
        })
        .cloned()
        .collect();
    addrs.sort_by_key(|a| (crate::transport::is_loopback(a), a.to_string()));
    addrs.dedup();
    addrs
}

/// The peer an address leads to: its last `/p2p/` (a relayed address
/// names the relay first, then the peer after `/p2p-circuit`).
fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

/// The address without its trailing `/p2p/` (a relay's id inside stays).
fn without_p2p(addr: &Multiaddr) -> Multiaddr {
    let mut plain = addr.clone();
    if matches!(plain.iter().last(), Some(Protocol::P2p(_))) {
        plain.pop();
    }
    plain
}
