//! The HTTP server a node runs with `--http ADDR`: the webchat widget and its
//! WebSocket under `/chat/<campaign>`, the REST API under `/api/v1`, and the
//! webhook delivery behind it.

mod api;
pub mod error;
mod files;
mod intake;
mod listen;
mod webchat;

/// Every JSON body the gateway takes, parsed and checked as its handler
/// would: the entry point of the `http_json` fuzz target.
#[doc(hidden)]
pub fn fuzz_json_bodies(bytes: &[u8]) {
    api::fuzz_bodies(bytes);
    webchat::fuzz_bodies(bytes);
}

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use meshdesk_model::InteractionId;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tower_http::timeout::TimeoutLayer;

use crate::backend::Backend;
use crate::db::ChannelDb;
use crate::error::ChannelError;
use crate::hub::Hub;
use crate::limits::{MessageBudget, Slots};
use crate::ratelimit::{Rate, RateLimiter};
use crate::settings::{GatewayLimits, SettingsCache, SettingsFile};
use crate::webhook::{self, RetryPolicy};

pub use error::{ApiError, JsonBody};
pub use files::ApiFile;

/// How the HTTP server behaves.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// The node's data dir: `channels.json` (tokens, webhooks) and
    /// `channels.redb` (webchat key, webhook outbox) live here.
    pub state_dir: PathBuf,
    /// The largest request body accepted (413 above it). Above the largest
    /// body the OpenAPI schema allows, so that a field over its `maxLength`
    /// is a 400 naming the field, as the schema says.
    pub max_body_bytes: usize,
    /// Messages one webchat visitor may send (429 above it).
    pub visitor_messages: Rate,
    /// Chats one client address may start (429 above it).
    pub visitor_starts: Rate,
    /// Webhook retries.
    pub webhook_retry: RetryPolicy,
    /// Connections open at once, in total (503 and closed above it).
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_address: usize,
    /// How long a client may take to send a request's headers; also how long
    /// an idle keep-alive connection stays open (the wait for the next
    /// request's headers is the same timer).
    pub header_read_timeout: Duration,
    /// How long one request may take, body and answer (408 after it).
    pub request_timeout: Duration,
    /// Live-chat WebSockets open at once, in total (503 above it).
    pub max_sockets: usize,
    /// Live-chat WebSockets open at once for one visitor (one chat).
    pub max_sockets_per_visitor: usize,
    /// A WebSocket from which nothing (not even a pong) is heard this long is closed.
    pub socket_idle_timeout: Duration,
    /// Customer messages one interaction may hold (409 above it).
    pub max_messages_per_interaction: usize,
}

impl HttpConfig {
    /// The defaults for a node whose data dir is `state_dir`.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        HttpConfig {
            state_dir: state_dir.into(),
            // A 20,000-character message is at most 120,000 bytes of JSON
            // (every character escaped as `\uXXXX`); twice that and more.
            max_body_bytes: 256 * 1024,
            visitor_messages: Rate::new(20, 2.0),
            visitor_starts: Rate::new(10, 0.2),
            webhook_retry: RetryPolicy::default(),
            max_connections: 512,
            max_connections_per_address: 64,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_sockets: 256,
            max_sockets_per_visitor: 4,
            socket_idle_timeout: Duration::from_secs(60),
            max_messages_per_interaction: 1000,
        }
    }
}

impl HttpConfig {
    /// Applies a supervisor's changes from the settings file.
    pub fn apply(&mut self, limits: &GatewayLimits) {
        let ms = Duration::from_millis;
        let l = limits;
        if let Some(v) = l.max_connections {
            self.max_connections = v;
        }
        if let Some(v) = l.max_connections_per_address {
            self.max_connections_per_address = v;
        }
        if let Some(v) = l.header_read_timeout_ms {
            self.header_read_timeout = ms(v);
        }
        if let Some(v) = l.request_timeout_ms {
            self.request_timeout = ms(v);
        }
        if let Some(v) = l.max_sockets {
            self.max_sockets = v;
        }
        if let Some(v) = l.max_sockets_per_visitor {
            self.max_sockets_per_visitor = v;
        }
        if let Some(v) = l.socket_idle_timeout_ms {
            self.socket_idle_timeout = ms(v);
        }
        if let Some(v) = l.max_messages_per_interaction {
            self.max_messages_per_interaction = v;
        }
        if let Some(v) = l.visitor_starts {
            self.visitor_starts = v;
        }
        if let Some(v) = l.visitor_messages {
            self.visitor_messages = v;
        }
    }
}

/// What every handler shares.
pub(crate) struct Shared<B> {
    pub backend: B,
    pub settings: Arc<SettingsCache>,
    pub hub: Hub,
    pub webchat_key: [u8; 32],
    pub visitor_limiter: RateLimiter<InteractionId>,
    pub start_limiter: RateLimiter<std::net::IpAddr>,
    pub shutdown: watch::Receiver<bool>,
    /// Live-chat sockets in total.
    pub sockets: Arc<tokio::sync::Semaphore>,
    /// Live-chat sockets per visitor (interaction).
    pub visitor_sockets: Arc<Slots<InteractionId>>,
    pub socket_idle_timeout: Duration,
    /// Customer messages per interaction.
    pub messages: MessageBudget<InteractionId>,
}

pub(crate) type AppState<B> = Arc<Shared<B>>;

/// A running server. Dropping it stops everything at once; [`Server::shutdown`]
/// stops gracefully and waits until the state file is closed.
pub struct Server {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    serve: Option<JoinHandle<()>>,
    db: Option<ChannelDb>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The address it listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, closes WebSockets, stops the webhook tasks (a delivery
    /// in flight is retried after the next start) and closes the state file.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(serve) = self.serve.take() {
            let abort = serve.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), serve)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
        if let Some(db) = self.db.take() {
            db.close(Duration::from_secs(5)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(serve) = &self.serve {
            serve.abort();
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds `addr` and serves the webchat and the API for `backend`.
///
/// The gateway limits in the settings file (`gateway_limits`) override
/// `config`'s, as they are when the server starts.
pub async fn serve<B: Backend>(
    addr: SocketAddr,
    backend: B,
    mut config: HttpConfig,
) -> Result<Server, ChannelError> {
    let db = {
        let dir = config.state_dir.clone();
        tokio::task::spawn_blocking(move || ChannelDb::open(&dir))
            .await
            .map_err(|e| ChannelError::State(e.to_string()))??
    };
    let webchat_key = {
        let db = db.clone();
        tokio::task::spawn_blocking(move || db.webchat_secret())
            .await
            .map_err(|e| ChannelError::State(e.to_string()))??
    };
    let settings = Arc::new(SettingsCache::new(SettingsFile::in_dir(&config.state_dir)));
    let limits = settings.file().load()?.gateway_limits;
    if limits != GatewayLimits::default() {
        tracing::info!(?limits, "gateway limits from the settings file");
        config.apply(&limits);
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ChannelError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ChannelError::Bind { addr, source })?;
    let client = webhook::client(settings.clone())?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let hub = Hub::default();
    let shared = Arc::new(Shared {
        backend: backend.clone(),
        settings: settings.clone(),
        hub: hub.clone(),
        webchat_key,
        visitor_limiter: RateLimiter::new(config.visitor_messages),
        start_limiter: RateLimiter::new(config.visitor_starts),
        shutdown: shutdown_rx.clone(),
        sockets: Arc::new(tokio::sync::Semaphore::new(config.max_sockets.max(1))),
        visitor_sockets: Slots::new(config.max_sockets_per_visitor),
        socket_idle_timeout: config.socket_idle_timeout,
        messages: MessageBudget::new(config.max_messages_per_interaction),
    });

    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(hub.run(backend.clone())));
    let wake = Arc::new(Notify::new());
    // Subscribe before the catch-up scan, so nothing falls between the two.
    let events = backend.events();
    tasks.push(tokio::spawn(webhook::produce(
        backend.clone(),
        events,
        db.clone(),
        settings.clone(),
        wake.clone(),
    )));
    tasks.push(tokio::spawn(webhook::deliver(
        db.clone(),
        settings.clone(),
        wake,
        config.webhook_retry,
        client,
    )));

    let app = router(shared, config.max_body_bytes, config.request_timeout);
    let limits = listen::ConnectionLimits {
        total: config.max_connections,
        per_address: config.max_connections_per_address,
        header_read_timeout: config.header_read_timeout,
    };
    let serve = tokio::spawn(listen::serve(listener, app, limits, shutdown_rx));
    tracing::info!(addr = %local, "HTTP gateways listening");
    Ok(Server {
        addr: local,
        shutdown: shutdown_tx,
        tasks,
        serve: Some(serve),
        db: Some(db),
    })
}

fn router<B: Backend>(state: AppState<B>, max_body: usize, timeout: Duration) -> Router {
    let api = api::routes::<B>().layer(middleware::from_fn_with_state(
        state.clone(),
        require_token::<B>,
    ));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/openapi.json", get(api::openapi))
        .nest("/api/v1", api)
        .merge(webchat::routes::<B>())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint",
            )
        })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// The bearer token of a request, if it has one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Who is calling the API: the id of the token the request presented (put in
/// the request's extensions by `require_token`).
#[derive(Clone, Debug)]
pub(crate) struct ApiCaller {
    pub token_id: String,
}

async fn require_token<B: Backend>(
    State(state): State<AppState<B>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer(request.headers()) else {
        return ApiError::unauthorized("missing bearer token (Authorization: Bearer mdk_...)")
            .into_response();
    };
    let settings = state.settings.get();
    match settings.check_token(token) {
        Some(t) => {
            tracing::debug!(token = %t.name, path = %request.uri().path(), "API request");
            let caller = ApiCaller {
                token_id: t.id.clone(),
            };
            let mut request = request;
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        None => ApiError::unauthorized("invalid or revoked API token").into_response(),
    }
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    response
}
