//! Relays this node uses to reach teammates on other sites (`meshdesk
//! relay`): a slot reserved on each, so teammates can dial in through it;
//! teammates dialed through each; a relayed connection upgraded to a direct
//! one when DCUtR punches through both NATs.
//!
//! Relays come from `--relay`, from the invite this device joined with (an
//! address with `/p2p-circuit`), and from what was remembered at the last
//! start; they are kept in the store's peer addresses under [`RELAYS_KEY`].

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId, dcutr, relay};
use meshdesk_model::store::LocalMarks;

use super::actor::Actor;

/// The peer-address row the relays are remembered under (not a peer id, so
/// the dialer's reading of remembered peers passes it by).
pub const RELAYS_KEY: &str = "relays";
/// Relays used at most.
const MAX_RELAYS: usize = 4;
const RETRY_MIN: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(60);

struct Slot {
    /// The relay's address, ending in its `/p2p/` id.
    addr: Multiaddr,
    peer: PeerId,
    /// The listener holding (or asking for) the reservation.
    listener: Option<ListenerId>,
    reserved: bool,
    retry_at: Instant,
    delay: Duration,
}

#[derive(Default)]
pub(super) struct Relays {
    slots: Vec<Slot>,
    /// Connections that run through a relay.
    relayed: HashSet<ConnectionId>,
    /// Peers linked over a relay with a direct connection beside it.
    to_direct: HashMap<PeerId, (ConnectionId, Multiaddr)>,
    /// Peers whose link is to open again once the relayed connection closed.
    reopen: HashSet<PeerId>,
}

impl Relays {
    /// Adds a relay (an address ending in `/p2p/<id>`, or a teammate's
    /// relayed address, whose part before `/p2p-circuit` is the relay's).
    /// Returns whether it was new.
    pub(super) fn add(&mut self, addr: &Multiaddr) -> bool {
        let Some(relay) = relay_part(addr) else {
            return false;
        };
        let Some(Protocol::P2p(peer)) = relay.iter().last() else {
            tracing::warn!(%addr, "a relay address must end in /p2p/<relay id>; ignoring it");
            return false;
        };
        if self.slots.iter().any(|s| s.addr == relay) || self.slots.len() >= MAX_RELAYS {
            return false;
        }
        self.slots.push(Slot {
            addr: relay,
            peer,
            listener: None,
            reserved: false,
            retry_at: Instant::now(),
            delay: RETRY_MIN,
        });
        true
    }

    pub(super) fn is_relay(&self, peer: &PeerId) -> bool {
        self.slots.iter().any(|s| s.peer == *peer)
    }

    pub(super) fn is_relayed_connection(&self, conn: &ConnectionId) -> bool {
        self.relayed.contains(conn)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Where `peer` can be dialed through the relays (this node itself too:
    /// its relayed addresses, for invites).
    pub(super) fn circuits_to(&self, peer: PeerId) -> Vec<Multiaddr> {
        self.slots
            .iter()
            .filter(|s| s.peer != peer)
            .map(|s| {
                s.addr
                    .clone()
                    .with(Protocol::P2pCircuit)
                    .with(Protocol::P2p(peer))
            })
            .collect()
    }

    fn addrs(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.addr.to_string()).collect()
    }
}

/// The relay's part of an address: all of it when it has no circuit, the
/// part before `/p2p-circuit` when it has one.
fn relay_part(addr: &Multiaddr) -> Option<Multiaddr> {
    let mut relay = Multiaddr::empty();
    for p in addr.iter() {
        if matches!(p, Protocol::P2pCircuit) {
            return Some(relay);
        }
        relay.push(p);
    }
    Some(relay)
}

/// Whether an address goes through a relay.
pub(super) fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

impl Actor {
    /// The relays of `--relay`, the invite and the last start.
    pub(super) fn seed_relays(&mut self, given: Vec<Multiaddr>) {
        let mut all = given;
        all.extend(self.invite_addrs.iter().filter(|a| is_relayed(a)).cloned());
        match self.store.known_peer_addrs() {
            Ok(known) => all.extend(
                known
                    .into_iter()
                    .filter(|(key, _)| key == RELAYS_KEY)
                    .flat_map(|(_, addrs)| addrs)
                    .filter_map(|a| a.parse().ok()),
            ),
            Err(e) => tracing::warn!(error = %e, "cannot read the remembered relays"),
        }
        for addr in all {
            if self.relays.add(&addr) {
                tracing::info!(relay = %addr, "using a relay");
            }
        }
        self.remember_relays();
    }

    /// Keeps the relays for the next start (a member only: a joining
    /// device's store is not the team's yet).
    pub(super) fn remember_relays(&mut self) {
        if self.relays.is_empty() || self.joining() {
            return;
        }
        if let Err(e) = self
            .store
            .remember_peer_addrs(RELAYS_KEY, &self.relays.addrs())
        {
            tracing::warn!(error = %e, "cannot remember the relays");
        }
    }

    /// Asks each relay without a reservation for one, when due.
    pub(super) fn reserve_on_relays(&mut self) {
        if !self.network || self.joining() {
            return;
        }
        let now = Instant::now();
        for slot in &mut self.relays.slots {
            if slot.listener.is_some() || now < slot.retry_at {
                continue;
            }
            slot.retry_at = now + slot.delay;
            slot.delay = (slot.delay * 2).min(RETRY_MAX);
            match self
                .swarm
                .listen_on(slot.addr.clone().with(Protocol::P2pCircuit))
            {
                Ok(id) => slot.listener = Some(id),
                Err(e) => {
                    tracing::debug!(relay = %slot.addr, error = %e, "cannot ask the relay for a slot")
                }
            }
        }
    }

    /// A listener closed: if it held a relay slot, ask again later.
    pub(super) fn relay_listener_closed(&mut self, listener: ListenerId, reason: Option<String>) {
        for slot in &mut self.relays.slots {
            if slot.listener == Some(listener) {
                tracing::info!(relay = %slot.addr, reason = reason.as_deref().unwrap_or("closed"), "lost the slot on the relay; asking again");
                slot.listener = None;
                slot.reserved = false;
            }
        }
    }

    pub(super) fn on_relay_client(&mut self, event: relay::client::Event) {
        match event {
            relay::client::Event::ReservationReqAccepted { relay_peer_id, .. } => {
                for slot in &mut self.relays.slots {
                    if slot.peer == relay_peer_id && !slot.reserved {
                        slot.reserved = true;
                        slot.delay = RETRY_MIN;
                        tracing::info!(relay = %slot.addr, "reserved a slot on the relay");
                    }
                }
            }
            relay::client::Event::OutboundCircuitEstablished { relay_peer_id, .. } => {
                tracing::debug!(relay = %relay_peer_id, "dialed a teammate through a relay");
            }
            relay::client::Event::InboundCircuitEstablished { src_peer_id, .. } => {
                tracing::debug!(peer = %src_peer_id, "a teammate dialed in through a relay");
            }
        }
    }

    /// A hole punch ended. On success the direct connection takes over
    /// once the link is idle (see [`Actor::move_links_off_relays`]).
    pub(super) fn on_dcutr(&mut self, event: dcutr::Event) {
        match event.result {
            Ok(_) => {
                tracing::info!(peer = %event.remote_peer_id, "direct connection after hole punching")
            }
            Err(e) => {
                tracing::info!(peer = %event.remote_peer_id, error = %e, "hole punching failed; staying relayed")
            }
        }
    }

    /// A new connection: relayed ones are noted; a direct one to a peer
    /// whose link runs over a relay is to take the link over.
    pub(super) fn note_connection(
        &mut self,
        peer: PeerId,
        conn: ConnectionId,
        addr: &Multiaddr,
        relayed: bool,
    ) {
        if relayed {
            self.relays.relayed.insert(conn);
            return;
        }
        let on_relay = self
            .connected
            .get(&peer)
            .is_some_and(|(_, _, c)| self.relays.relayed.contains(c));
        if on_relay {
            self.relays.to_direct.insert(peer, (conn, addr.clone()));
        }
    }

    /// A connection closed; `rest` connections to the peer remain.
    pub(super) fn relay_connection_closed(&mut self, peer: PeerId, conn: ConnectionId, rest: u32) {
        self.relays.relayed.remove(&conn);
        if self
            .relays
            .to_direct
            .get(&peer)
            .is_some_and(|(c, _)| *c == conn)
        {
            self.relays.to_direct.remove(&peer);
        }
        if rest == 0 {
            self.relays.reopen.remove(&peer);
            return;
        }
        // The teammate closed the relayed connection first: the direct one
        // is the peer's connection now.
        if self
            .connected
            .get(&peer)
            .is_some_and(|(_, _, c)| *c == conn)
            && let Some((direct, addr)) = self.relays.to_direct.remove(&peer)
        {
            self.connected.insert(peer, (Instant::now(), addr, direct));
        }
        if self.relays.reopen.remove(&peer) || !self.links.contains_key(&peer) {
            self.link_ended.remove(&peer);
            self.maybe_open(peer, false);
        }
    }

    /// Moves links off relayed connections onto direct ones that came up
    /// beside them, each when its link is idle (a first sync finishes over
    /// the relay), never while this device is joining. The relayed
    /// connection is closed; the stream ends with it and opens again on the
    /// direct one.
    pub(super) fn move_links_off_relays(&mut self) {
        if self.joining() || self.relays.to_direct.is_empty() {
            return;
        }
        let due: Vec<PeerId> = self
            .relays
            .to_direct
            .keys()
            .copied()
            .filter(|p| self.links.get(p).is_none_or(|l| l.is_idle()))
            .collect();
        for peer in due {
            let Some((direct, addr)) = self.relays.to_direct.remove(&peer) else {
                continue;
            };
            let Some(relayed) = self.connected.get(&peer).map(|(_, _, c)| *c) else {
                continue;
            };
            tracing::info!(%peer, %addr, "a direct connection replaces the relayed one");
            self.connected.insert(peer, (Instant::now(), addr, direct));
            self.drop_link(peer, None);
            self.relays.reopen.insert(peer);
            self.swarm.close_connection(relayed);
        }
    }
}
