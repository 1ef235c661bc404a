//! The node as the gateways see it: [`Backend`] for the node's handle.
//!
//! Every request goes to the node's actor, which owns the store; the node's
//! events become the gateways' [`Event`]s. A node with networking off (see
//! `meshdesk_sync::home`) serves the gateways' tests the same way.

use meshdesk_model::blobs::{BlobHash, FilesSettings};
use meshdesk_model::ops::{Client, Reply, Request};
use meshdesk_sync::node::{self, NodeError, NodeHandle};
use meshdesk_sync::protocol::TypingTarget;
use tokio::sync::broadcast;

use crate::backend::{Backend, BackendError, ErrorKind, Event, Typing, Typist};

/// How many gateway events may wait for a slow subscriber before it resyncs.
const EVENT_BUFFER: usize = 8192;

/// The node as the gateways see it.
#[derive(Clone)]
pub struct NodeBackend {
    node: NodeHandle,
    events: broadcast::Sender<Event>,
}

impl NodeBackend {
    /// Wraps the node and starts forwarding its events.
    pub fn new(node: NodeHandle) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let mut from_node = node.subscribe();
        let tx = events.clone();
        tokio::spawn(async move {
            loop {
                match from_node.recv().await {
                    Ok(node::Event::Changed { changes }) => {
                        for change in changes {
                            let _ = tx.send(Event::Changed(change));
                        }
                    }
                    Ok(node::Event::Typing {
                        agent,
                        target: TypingTarget::Interaction(interaction),
                    }) => {
                        let _ = tx.send(Event::Typing(Typing {
                            interaction,
                            who: Typist::Agent(agent),
                        }));
                    }
                    Ok(node::Event::Stopped) | Err(broadcast::error::RecvError::Closed) => break,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(Event::Resync);
                    }
                }
            }
        });
        NodeBackend { node, events }
    }

    /// Stops the node: it says bye to its peers and closes the store, so
    /// the same data dir can be opened again. Later calls answer `Unavailable`.
    pub async fn shutdown(&self) {
        if let Err(e) = self.node.shutdown().await {
            tracing::debug!(error = %e, "the node had already stopped");
        }
    }
}

fn backend_error(e: NodeError) -> BackendError {
    match e {
        NodeError::Op(op) => BackendError::from(*op),
        NodeError::Stopped | NodeError::NoTeam | NodeError::Offline => {
            BackendError::unavailable(e.to_string())
        }
        NodeError::Invalid(message) => BackendError::new(ErrorKind::Invalid, message),
        NodeError::File(e) if e.is_user_error() => {
            use meshdesk_sync::files::FetchError;
            let kind = match *e {
                FetchError::NoPeers(_)
                | FetchError::NotFound { .. }
                | FetchError::Blob(meshdesk_model::blobs::BlobError::Missing(_)) => {
                    ErrorKind::NotFound
                }
                _ => ErrorKind::Invalid,
            };
            BackendError::new(kind, e.to_string())
        }
        other => BackendError::new(ErrorKind::Internal, other.to_string()),
    }
}

impl Client for NodeBackend {
    type Error = BackendError;

    async fn call(&self, request: Request) -> Result<Reply, BackendError> {
        self.node.execute(request).await.map_err(backend_error)
    }
}

impl Backend for NodeBackend {
    fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    fn typing(&self, typing: Typing) {
        // A visitor's typing stays on the hosting node: the sync protocol only
        // carries agents' typing.
        let _ = self.events.send(Event::Typing(typing));
    }

    /// Read at each upload (a file of a few bytes), as the node's own
    /// `put_file` reads it: a supervisor's change applies at once.
    fn file_limit(&self) -> u64 {
        FilesSettings::load(self.node.data_dir())
            .map(|s| s.max_file_bytes)
            .unwrap_or(meshdesk_model::blobs::DEFAULT_MAX_FILE_BYTES)
    }

    async fn put_file(&self, bytes: Vec<u8>) -> Result<BlobHash, BackendError> {
        self.node.put_file(bytes).await.map_err(backend_error)
    }

    async fn file(&self, hash: BlobHash) -> Result<Vec<u8>, BackendError> {
        self.node.file_bytes(hash).await.map_err(backend_error)
    }
}
