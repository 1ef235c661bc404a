//! The accept loop: HTTP/1 connections served by hyper with a cap on
//! connections in total and per client address and a header-read timeout,
//! which `axum::serve` does not offer (it sets no timer, so hyper's
//! header-read timeout never runs).
//!
//! A connection's slot is held by the connection and by every request on
//! it (see [`ConnectionSlot`]), so an upgraded WebSocket keeps its slot
//! until it closes.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::limits::{Slot, Slots};

/// What the accept loop enforces.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnectionLimits {
    pub total: usize,
    pub per_address: usize,
    pub header_read_timeout: Duration,
}

/// A connection's place under both caps; dropped when the connection and
/// every request (and upgraded socket) of it are gone.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    _total: OwnedSemaphorePermit,
    _address: Slot<IpAddr>,
}

/// A request's share of its connection's slot (a request extension); a
/// WebSocket handler keeps it for the socket's life. Only ever dropped.
#[derive(Clone, Debug)]
pub(crate) struct HeldSlot(#[allow(dead_code)] Arc<ConnectionSlot>);

/// The answer to a connection over a cap, written if the socket takes it at
/// once; the connection is then closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\n\
content-length: 40\r\n\r\n{\"error\":\"too many connections; retry\"}\n";

fn refuse(stream: TcpStream, peer: SocketAddr, why: &str) {
    tracing::debug!(%peer, why, "connection refused");
    let _ = stream.try_write(BUSY);
}

/// Returns once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves `app` on `listener` until `stop` turns true, then lets the open
/// requests finish (up to five seconds).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let total = Arc::new(Semaphore::new(limits.total.max(1)));
    let per_address = Slots::new(limits.per_address);
    // Every connection task holds a receiver: all gone = all connections closed.
    let (open_tx, open_rx) = watch::channel(());
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: let it pass.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let Ok(total) = total.clone().try_acquire_owned() else {
            refuse(stream, peer, "the server has its maximum of connections");
            continue;
        };
        let Some(address) = per_address.take(peer.ip()) else {
            refuse(stream, peer, "this address has its maximum of connections");
            continue;
        };
        let slot = Arc::new(ConnectionSlot {
            _total: total,
            _address: address,
        });
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(HeldSlot(slot.clone()));
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
            }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stop = stop.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopped(&mut stop) => {
                    // Finish the request in flight, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(open);
        });
    }
    drop(listener);
    drop(open_rx);
    if tokio::time::timeout(Duration::from_secs(5), open_tx.closed())
        .await
        .is_err()
    {
        tracing::debug!("connections still open after five seconds; closing them");
    }
}
