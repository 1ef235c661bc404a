//! Connections from devices not on the roster (DESIGN §5).
//!
//! Anyone holding the team key completes the transport handshake, and a
//! joining device is not on the roster until it is admitted, so such
//! connections are allowed, but briefly and few: each gets a few seconds to
//! be admitted, at most a handful come from one address, and past the total
//! bound the oldest one is closed to make room. Teammates never count here,
//! so a flood of strangers cannot take the slots a teammate needs.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId};

/// How long a stranger has to be admitted (a join takes well under a second on a LAN).
pub const STRANGER_GRACE: Duration = Duration::from_secs(5);
/// Stranger connections kept at most.
pub const MAX_STRANGERS: usize = 16;
/// Stranger connections kept at most from one IP address.
pub const MAX_STRANGERS_PER_IP: usize = 4;

struct Stranger {
    peer: PeerId,
    conn: ConnectionId,
    ip: Option<IpAddr>,
    since: Instant,
}

#[derive(Default)]
pub(crate) struct Strangers {
    /// Oldest first.
    conns: VecDeque<Stranger>,
}

fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

impl Strangers {
    /// A stranger connected from `addr`: the connections to close to keep
    /// within the bounds (the oldest of its address, then the oldest of all).
    pub fn arrived(
        &mut self,
        peer: PeerId,
        conn: ConnectionId,
        addr: &Multiaddr,
        now: Instant,
    ) -> Vec<ConnectionId> {
        let ip = ip_of(addr);
        let mut evicted = Vec::new();
        let same_ip = self.conns.iter().filter(|s| s.ip == ip).count();
        if same_ip >= MAX_STRANGERS_PER_IP
            && let Some(i) = self.conns.iter().position(|s| s.ip == ip)
            && let Some(old) = self.conns.remove(i)
        {
            evicted.push(old.conn);
        }
        while self.conns.len() >= MAX_STRANGERS {
            match self.conns.pop_front() {
                Some(old) => evicted.push(old.conn),
                None => break,
            }
        }
        self.conns.push_back(Stranger {
            peer,
            conn,
            ip,
            since: now,
        });
        evicted
    }

    /// Forgets strangers admitted since (now teammates), and returns the
    /// connections of those whose grace has run out.
    pub fn expired(
        &mut self,
        now: Instant,
        is_teammate: impl Fn(&PeerId) -> bool,
    ) -> Vec<ConnectionId> {
        self.conns.retain(|s| !is_teammate(&s.peer));
        let mut out = Vec::new();
        while let Some(first) = self.conns.front() {
            if now.duration_since(first.since) < STRANGER_GRACE {
                break;
            }
            if let Some(old) = self.conns.pop_front() {
                out.push(old.conn);
            }
        }
        out
    }

    pub fn closed(&mut self, conn: ConnectionId) {
        self.conns.retain(|s| s.conn != conn);
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.conns.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ip: &str) -> Multiaddr {
        format!("/ip4/{ip}/tcp/4000")
            .parse()
            .unwrap_or_else(|_| Multiaddr::empty())
    }

    #[test]
    fn few_per_address_few_in_all_and_none_for_long() {
        let mut s = Strangers::default();
        let t0 = Instant::now();
        let ids: Vec<ConnectionId> = (0..40).map(ConnectionId::new_unchecked).collect();
        let mut closed = Vec::new();
        for id in &ids[..6] {
            closed.extend(s.arrived(PeerId::random(), *id, &addr("10.0.0.1"), t0));
        }
        assert_eq!(
            closed,
            ids[..2].to_vec(),
            "one address keeps its newest four"
        );
        for (i, id) in ids[6..30].iter().enumerate() {
            closed.extend(s.arrived(PeerId::random(), *id, &addr(&format!("10.0.1.{i}")), t0));
        }
        assert_eq!(s.len(), MAX_STRANGERS);
        let admitted = PeerId::random();
        s.arrived(admitted, ids[30], &addr("10.0.2.1"), t0);
        let expired = s.expired(t0 + STRANGER_GRACE, |p| *p == admitted);
        assert_eq!(
            expired.len(),
            MAX_STRANGERS - 1,
            "the admitted one is not closed"
        );
        assert_eq!(s.len(), 0);
        s.arrived(PeerId::random(), ids[31], &addr("10.0.0.9"), t0);
        assert!(s.expired(t0 + Duration::from_secs(1), |_| false).is_empty());
        s.closed(ids[31]);
        assert_eq!(s.len(), 0);
    }
}
