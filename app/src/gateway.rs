//! The customer-facing HTTP gateways (webchat, REST API) a node serves with
//! `--http` or the window's switch ([`serve`]) see the node through this:
//! the channels crate's [`NodeBackend`].

use meshdesk_channels::NodeBackend;
use meshdesk_sync::node::NodeHandle;

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
