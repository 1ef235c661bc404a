//! The customer-facing HTTP gateways (webchat, REST API) a node serves with
//! `--http` or the window's switch ([`serve`]) see the node through this:
//! the channels crate's [`Backend`] implemented for the node's handle.

use meshdesk_channels::backend::{Backend, BackendError, ErrorKind, Event, Typing, Typist};
use meshdesk_model::ops::{Client, Reply, Request};
use meshdesk_sync::node::{self, NodeError, NodeHandle};
use meshdesk_sync::protocol::TypingTarget;
use tokio::sync::broadcast;

/// Why the gateways could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("`{0}` is not an address to listen on (e.g. 127.0.0.1:8080)")]
    BadAddress(String),
    #[error("cannot serve HTTP on {addr}: {reason}")]
    Bind {
        addr: std::net::SocketAddr,
        reason: String,
    },
}

/// Serves the webchat widget and the REST API on `addr` through `node`,
/// keeping their state in the node's data dir (`node --http` and the
/// window's switch alike).
pub async fn serve(
    node: NodeHandle,
    addr: &str,
) -> Result<meshdesk_channels::http::Server, ServeError> {
    let socket: std::net::SocketAddr = addr
        .trim()
        .parse()
        .map_err(|_| ServeError::BadAddress(addr.to_string()))?;
    let config = meshdesk_channels::http::HttpConfig::new(node.data_dir());
    let server = meshdesk_channels::http::serve(socket, NodeBackend::new(node), config)
        .await
        .map_err(|e| ServeError::Bind {
            addr: socket,
            reason: e.to_string(),
        })?;
    tracing::info!(url = %server.url(), "serving the webchat and the API");
    Ok(server)
}

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
}

fn backend_error(e: NodeError) -> BackendError {
    match e {
        NodeError::Op(op) => BackendError::from(*op),
        NodeError::Stopped | NodeError::NoTeam => BackendError::unavailable(e.to_string()),
        NodeError::Invalid(message) => BackendError::new(ErrorKind::Invalid, message),
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
}
