//! The team keys a node accepts connections with (DESIGN §5).
//!
//! A node dials with the key in force. It accepts the key in force and the
//! keys retired by rotations, so a teammate who was away during a rotation
//! can still reach it and learn the new key from the team document; a
//! connection made with a retired key is then kept only if the peer proves
//! (by its noise handshake) to be a device on the roster and not revoked.
//! The swarm reads the ring on every handshake, so a rotation takes effect
//! without rebuilding it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use libp2p::Multiaddr;

/// Connections accepted with a retired key, remembered until established.
const MAX_PENDING_RETIRED: usize = 256;

#[derive(Default)]
struct Ring {
    current: [u8; 32],
    /// Oldest first.
    retired: Vec<[u8; 32]>,
    /// Remote addresses of inbound connections that used a retired key.
    on_retired_key: VecDeque<Multiaddr>,
}

/// Shared between the node and its swarm's handshakes.
#[derive(Clone, Default)]
pub struct Keyring(Arc<Mutex<Ring>>);

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("retired", &self.lock().retired.len())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    pub fn new(current: [u8; 32]) -> Self {
        Self::with_retired(current, Vec::new())
    }

    pub fn with_retired(current: [u8; 32], retired: Vec<[u8; 32]>) -> Self {
        let ring = Ring {
            current,
            retired: retired.into_iter().filter(|k| *k != current).collect(),
            on_retired_key: VecDeque::new(),
        };
        Keyring(Arc::new(Mutex::new(ring)))
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        // The ring holds plain keys; a panic elsewhere cannot leave it half-written.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key in force: dialing uses it, invites carry it.
    pub fn current(&self) -> [u8; 32] {
        self.lock().current
    }

    /// Every key accepted from a dialer, the one in force first.
    pub fn accepted(&self) -> Vec<[u8; 32]> {
        let ring = self.lock();
        std::iter::once(ring.current)
            .chain(ring.retired.iter().rev().copied())
            .collect()
    }

    /// Puts `key` in force, retiring the one it replaces. Returns whether it changed.
    pub fn rotate_to(&self, key: [u8; 32]) -> bool {
        let mut ring = self.lock();
        if ring.current == key {
            return false;
        }
        let old = std::mem::replace(&mut ring.current, key);
        ring.retired.retain(|k| *k != key && *k != old);
        ring.retired.push(old);
        true
    }

    /// Accepts `key` as retired too (an older rotation this node never used).
    pub fn know_retired(&self, key: [u8; 32]) {
        let mut ring = self.lock();
        if ring.current != key && !ring.retired.contains(&key) {
            ring.retired.insert(0, key);
        }
    }

    pub(crate) fn note_retired_key_link(&self, remote: Multiaddr) {
        let mut ring = self.lock();
        if ring.on_retired_key.len() >= MAX_PENDING_RETIRED {
            ring.on_retired_key.pop_front();
        }
        ring.on_retired_key.push_back(remote);
    }

    /// Whether the inbound connection from `remote` was made with a retired
    /// key (asked once, when it is established or fails).
    pub fn took_retired_key(&self, remote: &Multiaddr) -> bool {
        let mut ring = self.lock();
        match ring.on_retired_key.iter().position(|a| a == remote) {
            Some(i) => {
                ring.on_retired_key.remove(i);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_retires_the_old_key_and_accepts_both() {
        let ring = Keyring::new([1; 32]);
        assert!(ring.rotate_to([2; 32]));
        assert!(!ring.rotate_to([2; 32]));
        assert_eq!(ring.current(), [2; 32]);
        assert_eq!(ring.accepted(), vec![[2; 32], [1; 32]]);
        ring.know_retired([0; 32]);
        ring.know_retired([1; 32]);
        assert_eq!(ring.accepted(), vec![[2; 32], [1; 32], [0; 32]]);
    }

    #[test]
    fn links_on_a_retired_key_are_remembered_once_and_bounded()
    -> Result<(), libp2p::multiaddr::Error> {
        let ring = Keyring::new([1; 32]);
        let a: Multiaddr = "/ip4/10.0.0.1/tcp/4000".parse()?;
        ring.note_retired_key_link(a.clone());
        assert!(ring.took_retired_key(&a));
        assert!(!ring.took_retired_key(&a));
        for port in 0..(MAX_PENDING_RETIRED as u16 + 10) {
            ring.note_retired_key_link(format!("/ip4/10.0.0.2/tcp/{port}").parse()?);
        }
        assert!(!ring.took_retired_key(&"/ip4/10.0.0.2/tcp/0".parse()?));
        assert!(ring.took_retired_key(&"/ip4/10.0.0.2/tcp/265".parse()?));
        Ok(())
    }
}
