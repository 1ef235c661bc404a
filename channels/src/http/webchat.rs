//! The webchat: the widget page at `/chat/<campaign>`, the visitor's
//! endpoints beside it, and a WebSocket that pushes the conversation live.
//!
//! A visitor is known by a token kept in the browser's localStorage:
//! `<interaction id>.<hex HMAC-SHA256(key, "meshdesk-webchat-v1:" + id)>`,
//! signed with a key kept in `channels.redb`. The mapping from token to
//! interaction is thus inside the token itself, authenticated, and as durable
//! as the key: a reload, a server restart or a node restart keeps the
//! conversation, and no per-visitor row is ever written.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{SinkExt, StreamExt};
use hmac::{KeyInit, Mac};
use meshdesk_model::ops::InteractionDetail;
use meshdesk_model::{AgentId, Campaign, ChannelKind, InteractionId, MessageId};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::{BTreeMap, HashSet};
use tokio::sync::broadcast;

use super::error::{ApiError, JsonBody};
use super::intake::{self, Customer};
use super::listen::HeldSlot;
use super::{AppState, bearer};
use crate::backend::{Backend, Typing, Typist};
use crate::hub::HubEvent;
use crate::view::{ChatMessage, Transcript};

const INDEX_HTML: &str = include_str!("../../../assets/webchat/index.html");
const WIDGET_JS: &str = include_str!("../../../assets/webchat/widget.js");
const WIDGET_CSS: &str = include_str!("../../../assets/webchat/widget.css");

/// What the widget page may load and connect to: itself only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'none'";

/// How long a new socket may take to say who it is.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle socket is pinged (keeps proxies from closing it).
const PING_EVERY: Duration = Duration::from_secs(25);
/// What a visitor's extra socket is told. (Never the word "token": the widget
/// forgets its session on an error that names the token.)
const TOO_MANY_WINDOWS: &str =
    "this chat is open in too many windows; close one and reload this page";
/// The shortest gap between two typing indicators a visitor sends on.
const TYPING_GAP: Duration = Duration::from_millis(1500);

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/webchat/widget.js", get(widget_js))
        .route("/webchat/widget.css", get(widget_css))
        .route("/chat/{campaign}", get(page::<B>))
        .route("/chat/{campaign}/info", get(info::<B>))
        .route("/chat/{campaign}/start", post(start::<B>))
        .route("/chat/{campaign}/messages", post(send::<B>))
        .route("/chat/{campaign}/transcript", get(transcript::<B>))
        // Bounded by the node's file limit as the body is read, not by the
        // gateway's body limit (see `files::upload`).
        .route(
            "/chat/{campaign}/files",
            post(upload::<B>).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/chat/{campaign}/files/{hash}", get(file::<B>))
        .route("/chat/{campaign}/ws", get(socket::<B>))
}

// ---- visitor tokens -----------------------------------------------------------

type HmacSha256 = hmac::Hmac<Sha256>;

fn token_mac(key: &[u8; 32], id: InteractionId) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(b"meshdesk-webchat-v1:");
    mac.update(id.to_string().as_bytes());
    Some(mac)
}

/// The token that lets a browser continue interaction `id`.
pub(crate) fn visitor_token(key: &[u8; 32], id: InteractionId) -> String {
    match token_mac(key, id) {
        Some(mac) => format!("{id}.{}", hex::encode(mac.finalize().into_bytes())),
        None => String::new(),
    }
}

/// The interaction a token is for, if the token is genuine.
pub(crate) fn check_visitor_token(key: &[u8; 32], token: &str) -> Option<InteractionId> {
    let (id, sig) = token.trim().split_once('.')?;
    let id: InteractionId = id.parse().ok()?;
    let sig = hex::decode(sig).ok()?;
    token_mac(key, id)?.verify_slice(&sig).ok()?;
    Some(id)
}

// ---- static ---------------------------------------------------------------------

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn widget_js() -> Response {
    asset("text/javascript; charset=utf-8", WIDGET_JS)
}

async fn widget_css() -> Response {
    asset("text/css; charset=utf-8", WIDGET_CSS)
}

async fn webchat_campaign<B: Backend>(
    state: &AppState<B>,
    name: &str,
) -> Result<Campaign, ApiError> {
    intake::campaign(&state.backend, name, Some(ChannelKind::Webchat)).await
}

async fn page<B: Backend>(
    State(state): State<AppState<B>>,
    Path(campaign): Path<String>,
) -> Result<Response, ApiError> {
    webchat_campaign(&state, &campaign).await?;
    let mut response = asset("text/html; charset=utf-8", INDEX_HTML);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    Ok(response)
}

#[derive(Serialize)]
struct Info {
    campaign: String,
    /// Within the campaign's business hours (always, without any).
    open: bool,
    /// What to tell the visitor while it is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    closed_message: Option<String>,
}

async fn info<B: Backend>(
    State(state): State<AppState<B>>,
    Path(campaign): Path<String>,
) -> Result<Json<Info>, ApiError> {
    let c = webchat_campaign(&state, &campaign).await?;
    let open = c
        .hours
        .as_ref()
        .is_none_or(|h| h.is_open(meshdesk_model::now_ms()));
    Ok(Json(Info {
        campaign: c.name,
        open,
        closed_message: c.hours.filter(|_| !open).map(|h| h.closed_message),
    }))
}

// ---- visitor endpoints ------------------------------------------------------------

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Start {
    name: String,
    email: Option<String>,
    text: String,
}

#[derive(Serialize)]
struct Started {
    token: String,
    interaction: String,
}

async fn start<B: Backend>(
    State(state): State<AppState<B>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(campaign): Path<String>,
    JsonBody(body): JsonBody<Start>,
) -> Result<Response, ApiError> {
    state
        .start_limiter
        .check(&peer.ip())
        .map_err(ApiError::too_many)?;
    let (text, customer) = check_start(body)?;
    let campaign = webchat_campaign(&state, &campaign).await?;
    let interaction = intake::enqueue(&state, &campaign, &customer, text, 0).await?;
    let token = visitor_token(&state.webchat_key, interaction);
    tracing::info!(%interaction, campaign = %campaign.name, "webchat started");
    Ok((
        StatusCode::CREATED,
        Json(Started {
            token,
            interaction: interaction.to_string(),
        }),
    )
        .into_response())
}

/// The visitor's interaction, from the bearer token, checked against the campaign.
async fn visitor<B: Backend>(
    state: &AppState<B>,
    headers: &HeaderMap,
    campaign: &str,
) -> Result<InteractionDetail, ApiError> {
    let token = bearer(headers).ok_or_else(|| ApiError::unauthorized("missing visitor token"))?;
    let id = check_visitor_token(&state.webchat_key, token)
        .ok_or_else(|| ApiError::unauthorized("invalid visitor token"))?;
    let campaign = webchat_campaign(state, campaign).await?;
    let detail = intake::show(&state.backend, id).await?;
    if detail.interaction.origin_campaign != campaign.id {
        return Err(ApiError::unauthorized("this token is for another chat"));
    }
    Ok(detail)
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Send {
    text: String,
}

#[derive(Serialize)]
struct Sent {
    interaction: String,
}

async fn send<B: Backend>(
    State(state): State<AppState<B>>,
    Path(_campaign): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Send>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers).ok_or_else(|| ApiError::unauthorized("missing visitor token"))?;
    let id = check_visitor_token(&state.webchat_key, token)
        .ok_or_else(|| ApiError::unauthorized("invalid visitor token"))?;
    state
        .visitor_limiter
        .check(&id)
        .map_err(ApiError::too_many)?;
    let text = intake::check_message("text", &body.text)?;
    intake::check_budget(&state, id).await?;
    // The token proves the interaction; the node refuses a finalized one (409).
    // No read before the write (but the budget's first one): under load every
    // store round trip counts.
    state
        .backend
        .ask::<()>(meshdesk_model::ops::Request::CustomerMessage { id, text })
        .await
        .map_err(|e| match e.kind {
            crate::backend::ErrorKind::Conflict => {
                ApiError::new(StatusCode::CONFLICT, "this chat is closed")
            }
            _ => ApiError::from(e),
        })?;
    state.messages.spend(&id);
    Ok((
        StatusCode::CREATED,
        Json(Sent {
            interaction: id.to_string(),
        }),
    )
        .into_response())
}

#[derive(Serialize)]
struct Uploaded {
    interaction: String,
    file: super::files::ApiFile,
}

/// The visitor sends a file: a message carrying it, as their text would.
async fn upload<B: Backend>(
    State(state): State<AppState<B>>,
    Path(_campaign): Path<String>,
    headers: HeaderMap,
    query: Result<Query<super::files::FileQuery>, QueryRejection>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let token = bearer(&headers).ok_or_else(|| ApiError::unauthorized("missing visitor token"))?;
    let id = check_visitor_token(&state.webchat_key, token)
        .ok_or_else(|| ApiError::unauthorized("invalid visitor token"))?;
    let Query(query) = query?;
    state
        .visitor_limiter
        .check(&id)
        .map_err(ApiError::too_many)?;
    let file = super::files::upload(&state, id, &query.name, body, "this chat is closed").await?;
    Ok((
        StatusCode::CREATED,
        Json(Uploaded {
            interaction: id.to_string(),
            file: super::files::ApiFile::from(&file),
        }),
    )
        .into_response())
}

/// A file of the visitor's own chat (one a message of it carries).
async fn file<B: Backend>(
    State(state): State<AppState<B>>,
    Path((campaign, hash)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let detail = visitor(&state, &headers, &campaign).await?;
    let hash = super::files::hash(&hash)?;
    let Some(file) = super::files::named_in(&detail, hash) else {
        return Err(ApiError::not_found("no such file in this chat"));
    };
    super::files::serve(&state, hash, Some(&file)).await
}

async fn transcript<B: Backend>(
    State(state): State<AppState<B>>,
    Path(campaign): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Transcript>, ApiError> {
    let detail = visitor(&state, &headers, &campaign).await?;
    Ok(Json(Transcript::new(&detail)))
}

// ---- the socket -------------------------------------------------------------------

/// What the browser sends on the socket.
#[derive(Deserialize, Debug)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum ClientMsg {
    Hello { token: String },
    Typing,
}

/// What the server pushes on the socket.
#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum ServerMsg {
    Transcript(Transcript),
    Message { message: ChatMessage },
    AgentJoined { name: String },
    Typing { name: String },
    Closed,
    Error { error: String },
}

async fn socket<B: Backend>(
    State(state): State<AppState<B>>,
    Path(campaign): Path<String>,
    connection: Option<Extension<HeldSlot>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let campaign = webchat_campaign(&state, &campaign).await?;
    let upgrade = upgrade.map_err(|r| ApiError::new(r.status(), r.body_text()))?;
    let Ok(permit) = state.sockets.clone().try_acquire_owned() else {
        tracing::warn!("live-chat socket refused: the server has its maximum open");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many live chats open on this server; try again shortly",
        ));
    };
    Ok(upgrade
        .max_message_size(16 * 1024)
        .on_upgrade(move |ws| async move {
            // Both held for the socket's life: its place among all sockets
            // and its connection's place under the connection caps.
            let _held = (permit, connection);
            if let Err(e) = run_socket(state, campaign, ws).await {
                tracing::debug!(error = %e, "webchat socket ended");
            }
        }))
}

/// What a socket has already told its visitor.
struct Told {
    seen: HashSet<MessageId>,
    owner: Option<AgentId>,
    closed: bool,
    names: BTreeMap<AgentId, String>,
}

impl Told {
    fn new(d: &InteractionDetail) -> Self {
        Told {
            seen: d.interaction.messages.iter().map(|m| m.id).collect(),
            owner: d.owner,
            closed: d.interaction.finalization.is_some(),
            names: d.agent_names.clone(),
        }
    }

    /// What is new in `d` since the last look.
    fn diff(&mut self, d: &InteractionDetail) -> Vec<ServerMsg> {
        self.names = d.agent_names.clone();
        let mut out = Vec::new();
        if d.owner != self.owner {
            if let Some(owner) = d.owner {
                out.push(ServerMsg::AgentJoined {
                    name: self.name(owner),
                });
            }
            self.owner = d.owner;
        }
        for m in d.interaction.messages_in_order() {
            if self.seen.insert(m.id) {
                out.push(ServerMsg::Message {
                    message: ChatMessage::new(m, &d.agent_names),
                });
            }
        }
        if d.interaction.finalization.is_some() && !self.closed {
            self.closed = true;
            out.push(ServerMsg::Closed);
        }
        out
    }

    fn name(&self, agent: AgentId) -> String {
        self.names
            .get(&agent)
            .cloned()
            .unwrap_or_else(|| "An agent".into())
    }
}

#[derive(Debug, thiserror::Error)]
enum SocketError {
    #[error("websocket: {0}")]
    Ws(#[from] axum::Error),
    #[error("{0}")]
    Refused(String),
}

async fn push(
    tx: &mut futures::stream::SplitSink<WebSocket, WsMessage>,
    msg: &ServerMsg,
) -> Result<(), SocketError> {
    let text = serde_json::to_string(msg).map_err(|e| SocketError::Refused(e.to_string()))?;
    tx.send(WsMessage::Text(text.into())).await?;
    Ok(())
}

async fn run_socket<B: Backend>(
    state: AppState<B>,
    campaign: Campaign,
    ws: WebSocket,
) -> Result<(), SocketError> {
    let (mut tx, mut rx) = ws.split();
    // The first frame says who this is.
    let hello = tokio::time::timeout(HELLO_TIMEOUT, rx.next()).await;
    let token = match hello {
        Ok(Some(Ok(WsMessage::Text(text)))) => match serde_json::from_str::<ClientMsg>(&text) {
            Ok(ClientMsg::Hello { token }) => token,
            _ => String::new(),
        },
        _ => String::new(),
    };
    let Some(id) = check_visitor_token(&state.webchat_key, &token) else {
        push(
            &mut tx,
            &ServerMsg::Error {
                error: "invalid visitor token".into(),
            },
        )
        .await?;
        return Err(SocketError::Refused("invalid visitor token".into()));
    };
    // A visitor's sockets are capped: each change makes every one of them re-read.
    let Some(_visitor_slot) = state.visitor_sockets.take(id) else {
        push(
            &mut tx,
            &ServerMsg::Error {
                error: TOO_MANY_WINDOWS.into(),
            },
        )
        .await?;
        let _ = tx.send(WsMessage::Close(None)).await;
        return Err(SocketError::Refused(TOO_MANY_WINDOWS.into()));
    };
    // Watch before reading, so no change falls between the read and the watch.
    let mut events = state.hub.watch(id);
    let detail = intake::show(&state.backend, id)
        .await
        .map_err(|e| SocketError::Refused(e.message))?;
    if detail.interaction.origin_campaign != campaign.id {
        push(
            &mut tx,
            &ServerMsg::Error {
                error: "this token is for another chat".into(),
            },
        )
        .await?;
        return Err(SocketError::Refused("token for another campaign".into()));
    }
    let mut told = Told::new(&detail);
    push(&mut tx, &ServerMsg::Transcript(Transcript::new(&detail))).await?;
    let mut shutdown = state.shutdown.clone();
    // Pings keep proxies from closing a quiet socket and draw pongs from a
    // live browser; a socket that answers nothing for the idle timeout is gone.
    let idle = state.socket_idle_timeout;
    let mut ping = tokio::time::interval(PING_EVERY.min(idle / 2).max(Duration::from_millis(10)));
    ping.reset();
    let mut heard = tokio::time::Instant::now();
    let mut last_typing: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            event = events.recv() => {
                let mut changed = false;
                let mut typing = Vec::new();
                let mut first = Some(event);
                // Coalesce a burst: one re-read for all the changes waiting.
                loop {
                    let next = match first.take() {
                        Some(e) => e,
                        None => match events.try_recv() {
                            Ok(e) => Ok(e),
                            Err(broadcast::error::TryRecvError::Empty) => break,
                            Err(broadcast::error::TryRecvError::Lagged(n)) => {
                                Err(broadcast::error::RecvError::Lagged(n))
                            }
                            Err(broadcast::error::TryRecvError::Closed) => {
                                Err(broadcast::error::RecvError::Closed)
                            }
                        },
                    };
                    match next {
                        Ok(HubEvent::Changed) | Err(broadcast::error::RecvError::Lagged(_)) => {
                            changed = true;
                        }
                        Ok(HubEvent::Typing(Typist::Agent(a))) => typing.push(a),
                        Ok(HubEvent::Typing(Typist::Visitor)) => {}
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    }
                }
                if changed {
                    match intake::show(&state.backend, id).await {
                        Ok(d) => {
                            for msg in told.diff(&d) {
                                push(&mut tx, &msg).await?;
                            }
                        }
                        Err(e) => tracing::warn!(interaction = %id, error = %e.message, "cannot refresh a webchat"),
                    }
                }
                if let Some(agent) = typing.last()
                    && !told.closed
                {
                    push(&mut tx, &ServerMsg::Typing { name: told.name(*agent) }).await?;
                }
            }
            frame = rx.next() => {
                heard = tokio::time::Instant::now();
                match frame {
                    Some(Ok(WsMessage::Text(text))) => {
                        if let Ok(ClientMsg::Typing) = serde_json::from_str::<ClientMsg>(&text) {
                            let now = tokio::time::Instant::now();
                            if last_typing.is_none_or(|t| now.duration_since(t) >= TYPING_GAP) {
                                last_typing = Some(now);
                                state.backend.typing(Typing { interaction: id, who: Typist::Visitor });
                            }
                        }
                    }
                    Some(Ok(WsMessage::Close(_))) | None => return Ok(()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() >= idle {
                    tracing::debug!(interaction = %id, "webchat socket idle; closed");
                    let _ = tx.send(WsMessage::Close(None)).await;
                    return Ok(());
                }
                tx.send(WsMessage::Ping(Vec::new().into())).await?;
            }
            _ = shutdown.changed() => {
                let _ = tx.send(WsMessage::Close(None)).await;
                return Ok(());
            }
        }
    }
}

/// What starting a chat checks before it asks the node for anything: the
/// visitor's own words only, so a matched phonebook entry stays unverified.
fn check_start(body: Start) -> Result<(String, intake::CheckedCustomer), ApiError> {
    let text = intake::check_message("text", &body.text)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_field("name", "please give your name"));
    }
    let customer = intake::check_customer(
        Customer {
            id: None,
            name: Some(body.name),
            email: body.email,
            phone: None,
            unverified: true,
        },
        "",
    )?;
    Ok((text, customer))
}

/// Parses `bytes` as each webchat request body and checks what parses the
/// way its handler does (what the fuzzer drives; never panics).
pub(super) fn fuzz_bodies(bytes: &[u8]) {
    if let Ok(body) = super::error::parse_json::<Start>(bytes) {
        let _ = check_start(body);
    }
    if let Ok(body) = super::error::parse_json::<Send>(bytes) {
        let _ = intake::check_message("text", &body.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitor_tokens_are_bound_to_their_interaction_and_key() {
        let key = [7u8; 32];
        let id = InteractionId::new();
        let token = visitor_token(&key, id);
        assert_eq!(check_visitor_token(&key, &token), Some(id));
        assert_eq!(check_visitor_token(&[8u8; 32], &token), None);
        let other = InteractionId::new();
        let (_, sig) = token.split_once('.').expect("dot");
        assert_eq!(check_visitor_token(&key, &format!("{other}.{sig}")), None);
        assert_eq!(check_visitor_token(&key, "garbage"), None);
        assert_eq!(check_visitor_token(&key, ""), None);
    }
}
