//! Routing on this node: reruns [`routing::route`] after changes, presence
//! changes and at the next offer expiry or snooze due time (debounced),
//! reports offers and lost claims to this agent, and acts for it
//! (auto-accepts, declines on timeout). A snooze of this agent that comes
//! due is reported as a change of its interaction: nothing is written, but
//! the lists read differently from then on, so the window reads them again
//! (and announces it, once per device: `Request::TakeDueSnoozes`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use meshdesk_model::doc::DocId;
use meshdesk_model::ops::{Request, RoutingFacts};
use meshdesk_model::routing;
use meshdesk_model::store::DocChange;
use meshdesk_model::{InteractionId, Millis};

use super::actor::Actor;
use super::handle::{Event, NodeError};

/// Routing passes are at most this frequent.
const ROUTING_DEBOUNCE: Duration = Duration::from_millis(50);
/// Routing passes while a sync is under way are at most this frequent.
const ROUTING_DEBOUNCE_SYNCING: Duration = Duration::from_millis(500);

#[derive(Default)]
pub(super) struct RoutingState {
    pub(super) dirty: bool,
    last_run: Option<Instant>,
    /// The next offer expiry (wall clock ms) to rerun at.
    next_expiry: Option<Millis>,
    /// Offers to this agent: interaction → (first seen, kind).
    offered: HashMap<InteractionId, Millis>,
    /// Lost claims already reported.
    lost_reported: HashSet<InteractionId>,
    /// Snoozes of this agent seen pending this run, by interaction: their
    /// due time. One that is due now is reported once and dropped.
    snoozed: HashMap<InteractionId, Millis>,
}
impl RoutingState {
    /// Asks for a pass once the next offer expiry is reached.
    pub(super) fn tick(&mut self, now: Millis) {
        if self.next_expiry.is_some_and(|at| at <= now) {
            self.next_expiry = None;
            self.dirty = true;
        }
    }
}

impl Actor {
    pub(super) fn maybe_route(&mut self) {
        if !self.routing.dirty || self.joining() {
            return;
        }
        let syncing = self.links.values().any(|l| l.is_syncing());
        let debounce = if syncing {
            ROUTING_DEBOUNCE_SYNCING
        } else {
            ROUTING_DEBOUNCE
        };
        if self
            .routing
            .last_run
            .is_some_and(|t| t.elapsed() < debounce)
        {
            return; // the next tick picks it up
        }
        self.routing.dirty = false;
        let started = Instant::now();
        self.routing.last_run = Some(started);
        if let Err(e) = self.route() {
            tracing::warn!(error = %e, "routing pass failed");
        }
        tracing::debug!(elapsed = ?started.elapsed(), "routing pass");
    }

    fn route(&mut self) -> Result<(), NodeError> {
        let Some(me) = self.local.agent else {
            return Ok(());
        };
        let Some(team) = self.store.team()? else {
            return Ok(());
        };
        let now = self.store.now_ms();
        let facts = RoutingFacts::read(&self.store, team, now)?;
        let presence = self.presence_view();
        let routing = routing::route(&facts.input(&presence, now));
        let (team, open) = (&facts.team, &facts.open);
        tracing::trace!(
            open = open.len(),
            offers = routing.offers.len(),
            mine = routing.offers_to(me).count(),
            presence = ?presence,
            offers_detail = ?routing.offers,
            "routing"
        );
        // Claims lost after a partition.
        for s in open {
            if s.lost_claims.contains(&me) && self.routing.lost_reported.insert(s.id) {
                self.emit(Event::ClaimLost { interaction: s.id });
            }
        }
        // Offers to this agent: report new ones, remember when each was first shown.
        let mut shown: HashMap<InteractionId, Millis> = HashMap::new();
        let mut next_expiry: Option<Millis> = None;
        for offer in routing.offers_to(me) {
            let first = self.routing.offered.get(&offer.interaction).copied();
            if first.is_none() {
                self.emit(Event::Offer {
                    interaction: offer.interaction,
                    kind: offer.kind,
                    expires_at: offer.expires_at,
                });
            }
            shown.insert(offer.interaction, first.unwrap_or(now));
            if let Some(at) = offer.expires_at {
                // Never before the offer was shown here for its whole timeout.
                let full = first.unwrap_or(now) + (at - offer.offered_since).max(0);
                let due = at.max(full);
                next_expiry = Some(next_expiry.map_or(due, |n: Millis| n.min(due)));
            }
        }
        self.routing.offered = shown;
        // This agent's snoozes: report those that came due since the last
        // pass, wake up at the next.
        let mut pending: HashMap<InteractionId, Millis> = HashMap::new();
        for s in open.iter().filter(|s| s.owner == Some(me)) {
            let Some(z) = &s.snooze else {
                continue;
            };
            if z.pending_at(now) {
                pending.insert(s.id, z.until);
                next_expiry = Some(next_expiry.map_or(z.until, |n: Millis| n.min(z.until)));
            } else if self.routing.snoozed.get(&s.id) == Some(&z.until) {
                tracing::info!(interaction = %s.id, kind = z.kind.as_str(), "snooze came due");
                self.emit(Event::Changed {
                    changes: vec![DocChange::of(DocId::Interaction(s.id))],
                });
            }
        }
        self.routing.snoozed = pending;
        self.routing.next_expiry = next_expiry;
        let mut actions: Vec<Request> = Vec::new();
        for (interaction, agent) in routing::auto_accepts(&routing, team) {
            if agent == me {
                actions.push(Request::Accept { id: interaction });
            }
        }
        for (interaction, agent) in routing::timed_out_offers(&routing, now) {
            if agent != me {
                continue;
            }
            let Some(offer) = routing.offer_for(interaction) else {
                continue;
            };
            let timeout = offer
                .expires_at
                .map_or(0, |at| (at - offer.offered_since).max(0));
            let first = self
                .routing
                .offered
                .get(&interaction)
                .copied()
                .unwrap_or(now);
            if now - first >= timeout {
                actions.push(Request::Decline { id: interaction });
            }
        }
        for request in actions {
            let what = format!("{request:?}");
            match self.execute(request) {
                Ok(_) => tracing::info!(action = %what, "routing acted for this agent"),
                Err(e) if e.is_user_error() => {
                    tracing::debug!(action = %what, error = %e, "routing action not possible")
                }
                Err(e) => tracing::warn!(action = %what, error = %e, "routing action failed"),
            }
        }
        Ok(())
    }
}
