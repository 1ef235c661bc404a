//! A [`Backend`] over a local store: a dedicated thread owns a real
//! [`Store`], carries out requests with [`ops::execute`] one at a time and
//! broadcasts the documents each one changed.
//!
//! It is what the node does for local requests, minus the network, so the
//! gateways can be tested (and run) without a node.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use meshdesk_model::ops::{self, Client, Context, Reply, Request};
use meshdesk_model::store::Store;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::backend::{Backend, BackendError, Event, Typing};
use crate::error::ChannelError;

/// How many events a slow subscriber may fall behind before it is told it lagged.
pub const EVENT_CAPACITY: usize = 8192;
/// How many requests may wait for the store thread.
const QUEUE: usize = 1024;

enum Job {
    Run(Request, oneshot::Sender<Result<Reply, BackendError>>),
    Stop,
}

struct Inner {
    jobs: mpsc::Sender<Job>,
    events: broadcast::Sender<Event>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// A store-owning actor thread and its handle (cheap to clone).
#[derive(Clone)]
pub struct StoreBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreBackend").finish_non_exhaustive()
    }
}

impl StoreBackend {
    /// Opens (or creates) the store at `path` and starts its thread.
    pub fn open(
        path: impl AsRef<Path>,
        key: meshdesk_model::authorship::DeviceKey,
    ) -> Result<StoreBackend, ChannelError> {
        let store = Store::open(path.as_ref(), key)?;
        Ok(Self::start(store))
    }

    /// Starts the thread on an already opened store.
    pub fn start(store: Store) -> StoreBackend {
        let (jobs, mut rx) = mpsc::channel::<Job>(QUEUE);
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let tx = events.clone();
        let thread = std::thread::Builder::new()
            .name("meshdesk-store".into())
            .spawn(move || {
                let mut store = store;
                while let Some(Job::Run(request, reply)) = rx.blocking_recv() {
                    let result = ops::execute(&mut store, &Context::now(), request);
                    let result = match result {
                        Ok(outcome) => {
                            for change in outcome.changes {
                                // No subscriber is not an error.
                                let _ = tx.send(Event::Changed(change));
                            }
                            Ok(outcome.reply)
                        }
                        Err(e) => {
                            if !e.is_user_error() {
                                tracing::error!(error = %e, "store request failed");
                            }
                            Err(BackendError::from(e))
                        }
                    };
                    // The caller may have given up waiting.
                    let _ = reply.send(result);
                }
                tracing::debug!("store thread stopped");
            });
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the store thread");
                None
            }
        };
        StoreBackend {
            inner: Arc::new(Inner {
                jobs,
                events,
                thread: Mutex::new(thread),
            }),
        }
    }

    /// Stops the thread and waits until the store is closed, so the same
    /// path can be opened again. Later calls answer `Unavailable`.
    pub async fn shutdown(&self) {
        let _ = self.inner.jobs.send(Job::Stop).await;
        let thread = self.inner.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Client for StoreBackend {
    type Error = BackendError;

    async fn call(&self, request: Request) -> Result<Reply, BackendError> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .jobs
            .send(Job::Run(request, reply))
            .await
            .map_err(|_| BackendError::unavailable("the store is closed"))?;
        rx.await
            .map_err(|_| BackendError::unavailable("the store is closed"))?
    }
}

impl Backend for StoreBackend {
    fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    fn typing(&self, typing: Typing) {
        let _ = self.inner.events.send(Event::Typing(typing));
    }
}
