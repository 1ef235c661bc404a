//! Presence and typing: what this agent announces (signed, ephemeral, never
//! stored), what is heard from teammates, and the presence view routing uses.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use libp2p::PeerId;
use meshdesk_model::routing::{PresenceEntry, PresenceView};
use meshdesk_model::{AgentId, Millis, now_ms};

use super::actor::Actor;
use super::dialer::listen_addrs;
use super::handle::Event;
use crate::protocol::{self, Frame, Presence, PresenceStatus, Typing, TypingTarget};

/// How often presence is re-announced.
const PRESENCE_HEARTBEAT: Duration = Duration::from_secs(15);
/// How far ahead of this node's clock a presence's `since` may be.
const PRESENCE_CLOCK_SKEW_MS: Millis = 5 * 60 * 1000;
/// Presence not heard for this long is not live.
const PRESENCE_TTL_MS: Millis = 45_000;

#[derive(Default)]
pub(super) struct PresenceState {
    seq: u64,
    last_sent: Option<Instant>,
    /// Device → (latest presence, when heard).
    heard: HashMap<String, (Presence, Millis)>,
    typing_seq: u64,
    typing_heard: HashMap<String, u64>,
    /// The view last reported, to send `Event::Presence` on change.
    reported: PresenceView,
}
impl PresenceState {
    /// Forgets what was heard from devices that `keep` does not name.
    pub(super) fn keep_devices(&mut self, keep: impl Fn(&String) -> bool) {
        self.heard.retain(|d, _| keep(d));
        self.typing_heard.retain(|d, _| keep(d));
    }
}

impl Actor {
    /// Re-announces this agent's presence when the heartbeat is due, and
    /// reports presence that went stale.
    pub(super) fn tick_presence(&mut self) {
        let heartbeat_due = self
            .presence
            .last_sent
            .is_none_or(|t| t.elapsed() >= PRESENCE_HEARTBEAT);
        if heartbeat_due && !self.joining() {
            self.broadcast_presence();
        }
        if self.presence_view_changed() {
            self.routing.dirty = true;
        }
    }

    fn my_presence(&mut self) -> Option<Presence> {
        let agent = self.local.agent?;
        let (status, since) = match self.store.agent(agent) {
            Ok(Some(a)) => (PresenceStatus::from(&a.status), a.status_since),
            _ => (PresenceStatus::Offline, self.store.now_ms()),
        };
        let open_load = self
            .store
            .open_interactions()
            .map(|v| {
                v.iter()
                    .filter(|s| s.owner == Some(agent) && s.finalized.is_none())
                    .count()
            })
            .unwrap_or(0);
        // Counters start from the clock, so a restarted node's announcements
        // are newer than those its previous run left in its peers' tables.
        self.presence.seq = next_seq(self.presence.seq);
        let mut presence = Presence {
            device: self.local.device.clone(),
            agent,
            status,
            since,
            open_load: u32::try_from(open_load).unwrap_or(u32::MAX),
            live: true,
            seq: self.presence.seq,
            addrs: listen_addrs(&self.swarm)
                .iter()
                .take(protocol::MAX_PRESENCE_ADDRS)
                .map(|a| a.to_string())
                .collect(),
            signature: Vec::new(),
        };
        presence.sign(&self.device_key);
        Some(presence)
    }

    /// Whether a statement about `device` and `agent` may be believed: the
    /// device is on the roster, not revoked, and is that agent's.
    fn speaks_for(&self, device: &str, agent: AgentId) -> bool {
        matches!(self.store.team(), Ok(Some(team))
            if team.members.get(device).is_some_and(|m| !m.revoked && m.agent == agent))
    }

    pub(super) fn broadcast_presence(&mut self) {
        let Some(p) = self.my_presence() else { return };
        self.presence.last_sent = Some(Instant::now());
        for (_, link) in self.ready_links() {
            link.send(vec![Frame::Presence(p.clone())]);
        }
        self.routing.dirty = true;
    }

    /// A newly admitted peer gets this node's presence and everything it has heard.
    pub(super) fn send_presence_to(&mut self, peer: PeerId) {
        let mut frames: Vec<Frame> = Vec::new();
        if let Some(p) = self.my_presence() {
            frames.push(Frame::Presence(p));
        }
        let now = self.store.now_ms();
        frames.extend(
            self.presence
                .heard
                .values()
                .filter(|(p, at)| now - at < PRESENCE_TTL_MS && p.device != peer.to_base58())
                .map(|(p, _)| Frame::Presence(p.clone())),
        );
        if let Some(link) = self.links.get(&peer) {
            link.send(frames);
        }
    }

    pub(super) fn on_presence(&mut self, from: PeerId, p: Presence) {
        if p.device == self.local.device {
            return;
        }
        // Only the device itself speaks for its presence, whoever relays it,
        // and only about its own agent, with a date that is not in the future.
        if !p.is_signed() || !self.speaks_for(&p.device, p.agent) {
            tracing::debug!(%from, device = %p.device, "presence not signed by its device or not its agent's; dropped");
            return;
        }
        if p.since > self.store.now_ms() + PRESENCE_CLOCK_SKEW_MS || p.since < 0 {
            tracing::debug!(%from, device = %p.device, since = p.since, "presence dated outside the clock's range; dropped");
            return;
        }
        let newer = self
            .presence
            .heard
            .get(&p.device)
            .is_none_or(|(old, _)| p.seq > old.seq);
        if !newer {
            return;
        }
        let addrs_changed = self
            .presence
            .heard
            .get(&p.device)
            .is_none_or(|(old, _)| old.addrs != p.addrs);
        self.presence
            .heard
            .insert(p.device.clone(), (p.clone(), self.store.now_ms()));
        if addrs_changed {
            self.learn_addrs(&p.device, &p.addrs);
        }
        for (peer, link) in self.ready_links() {
            if *peer != from && peer.to_base58() != p.device {
                link.send(vec![Frame::Presence(p.clone())]);
            }
        }
        if self.presence_view_changed() {
            self.routing.dirty = true;
        }
    }

    pub(super) fn mark_presence_gone(&mut self, device: &str) {
        if let Some((_, at)) = self.presence.heard.get_mut(device) {
            *at = 0;
        }
        if self.presence_view_changed() {
            self.routing.dirty = true;
        }
    }

    pub(super) fn presence_view(&self) -> PresenceView {
        let now = self.store.now_ms();
        let mut view: PresenceView = BTreeMap::new();
        for (p, at) in self.presence.heard.values() {
            let live = p.live && now - at < PRESENCE_TTL_MS;
            let entry = PresenceEntry {
                live,
                status: p.status.clone().into(),
                since: p.since,
            };
            let better = match view.get(&p.agent) {
                None => true,
                Some(old) => (entry.live, entry.since) > (old.live, old.since),
            };
            if better {
                view.insert(p.agent, entry);
            }
        }
        if let Some(agent) = self.local.agent
            && let Ok(Some(a)) = self.store.agent(agent)
        {
            view.insert(
                agent,
                PresenceEntry {
                    live: true,
                    status: a.status,
                    since: a.status_since,
                },
            );
        }
        view
    }

    /// Emits presence events for agents whose entry changed; true if any did.
    pub(super) fn presence_view_changed(&mut self) -> bool {
        let view = self.presence_view();
        if view == self.presence.reported {
            return false;
        }
        for (agent, entry) in &view {
            if self.presence.reported.get(agent) != Some(entry) {
                self.emit(Event::Presence {
                    agent: *agent,
                    entry: entry.clone(),
                });
            }
        }
        self.presence.reported = view;
        true
    }

    /// Devices online: this one, admitted peers, and those whose presence is live.
    pub(super) fn online_devices(&self) -> HashSet<String> {
        let mut online: HashSet<String> = self
            .links
            .iter()
            .filter(|(_, l)| l.is_ready())
            .map(|(p, _)| p.to_base58())
            .collect();
        let now = self.store.now_ms();
        online.extend(
            self.presence
                .heard
                .iter()
                .filter(|(_, (p, at))| p.live && now - at < PRESENCE_TTL_MS)
                .map(|(d, _)| d.clone()),
        );
        online.insert(self.local.device.clone());
        online
    }

    /// Tells every admitted peer that this agent is typing.
    pub(super) fn announce_typing(&mut self, target: TypingTarget) {
        let Some(agent) = self.local.agent else {
            return;
        };
        self.presence.typing_seq = next_seq(self.presence.typing_seq);
        let mut t = Typing {
            device: self.local.device.clone(),
            agent,
            target,
            seq: self.presence.typing_seq,
            signature: Vec::new(),
        };
        t.sign(&self.device_key);
        for (_, link) in self.ready_links() {
            link.send(vec![Frame::Typing(t.clone())]);
        }
    }

    pub(super) fn on_typing(&mut self, from: PeerId, t: Typing) {
        if t.device == self.local.device || !t.is_signed() || !self.speaks_for(&t.device, t.agent) {
            return;
        }
        let newer = self
            .presence
            .typing_heard
            .get(&t.device)
            .is_none_or(|seq| t.seq > *seq);
        if !newer {
            return;
        }
        self.presence.typing_heard.insert(t.device.clone(), t.seq);
        for (peer, link) in self.ready_links() {
            if *peer != from {
                link.send(vec![Frame::Typing(t.clone())]);
            }
        }
        self.emit(Event::Typing {
            agent: t.agent,
            target: t.target,
        });
    }
}

/// The next value of an ephemeral counter: increasing within a run, and
/// across restarts (it is at least the wall clock in ms).
fn next_seq(last: u64) -> u64 {
    let now = u64::try_from(now_ms()).unwrap_or(0);
    (last + 1).max(now)
}
