//! Routes the backend's events to whoever watches one interaction (a
//! visitor's WebSocket), so an event wakes only its own watchers rather
//! than every open connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use meshdesk_model::InteractionId;
use tokio::sync::broadcast;

use crate::backend::{Backend, Event, Typist};

/// What a watcher of one interaction is told.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HubEvent {
    /// The interaction's document changed: re-read it.
    Changed,
    /// Someone is typing in it.
    Typing(Typist),
}

/// How many events one watcher may fall behind before it is told it lagged
/// (it then re-reads the interaction, so nothing is lost).
const WATCHER_CAPACITY: usize = 64;

type Watchers = HashMap<InteractionId, broadcast::Sender<HubEvent>>;

/// The registry of watchers, fed by one task subscribed to the backend.
#[derive(Clone, Default)]
pub struct Hub {
    watchers: Arc<Mutex<Watchers>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// Starts watching one interaction.
    pub fn watch(&self, id: InteractionId) -> broadcast::Receiver<HubEvent> {
        let Ok(mut watchers) = self.watchers.lock() else {
            // A poisoned registry: a receiver that never fires; the socket still answers.
            return broadcast::channel(1).1;
        };
        watchers.retain(|_, tx| tx.receiver_count() > 0);
        watchers
            .entry(id)
            .or_insert_with(|| broadcast::channel(WATCHER_CAPACITY).0)
            .subscribe()
    }

    /// How many interactions are watched now.
    pub fn watched(&self) -> usize {
        self.watchers
            .lock()
            .map(|w| w.values().filter(|tx| tx.receiver_count() > 0).count())
            .unwrap_or(0)
    }

    fn dispatch(&self, event: &Event) {
        let Some(id) = event.interaction() else {
            return;
        };
        let hub_event = match event {
            Event::Changed(_) | Event::Resync => HubEvent::Changed,
            Event::Typing(t) => HubEvent::Typing(t.who),
        };
        if let Ok(watchers) = self.watchers.lock()
            && let Some(tx) = watchers.get(&id)
        {
            let _ = tx.send(hub_event);
        }
    }

    fn everything_changed(&self) {
        if let Ok(watchers) = self.watchers.lock() {
            for tx in watchers.values() {
                let _ = tx.send(HubEvent::Changed);
            }
        }
    }

    /// Feeds the hub from the backend until the backend's event stream ends.
    pub async fn run<B: Backend>(self, backend: B) {
        let mut events = backend.events();
        loop {
            match events.recv().await {
                Ok(Event::Resync) => self.everything_changed(),
                Ok(event) => self.dispatch(&event),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "webchat hub lagged; every watcher re-reads");
                    self.everything_changed();
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}
