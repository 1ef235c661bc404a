//! Outgoing webhooks: agent messages and finalizations of a campaign are
//! POSTed as JSON to the campaign's URL, signed with HMAC-SHA256.
//!
//! Two tasks: the producer watches the node's changes and puts new events in
//! the durable outbox (`channels.redb`) — each event once, keyed by its id;
//! the deliverer sends what is due and, on failure, reschedules it with
//! exponential backoff and jitter. An event stays in the outbox until a 2xx
//! answer, across restarts: delivery is at least once, and the
//! `X-Meshdesk-Delivery` header (the event id) lets receivers drop repeats.
//!
//! Signature: `X-Meshdesk-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
//! with `X-Meshdesk-Timestamp: <unix seconds>`; [`verify`] checks one.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hmac::{KeyInit, Mac};
use meshdesk_model::ops::{InteractionRow, Request};
use meshdesk_model::{Author, InteractionId, Millis, now_ms};
use rand::Rng;
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::{Notify, broadcast};

use crate::backend::{Backend, Event};
use crate::db::{ChannelDb, Collected, NewEvent, OutboxEntry, OutboxKey};
use crate::destination::{GuardedResolver, check_literal_host, refusal_in};
use crate::error::ChannelError;
use crate::settings::{Settings, SettingsCache, Webhook};
use crate::view::{ApiDisposition, ApiMessage};

pub const SIGNATURE_HEADER: &str = "x-meshdesk-signature";
pub const TIMESTAMP_HEADER: &str = "x-meshdesk-timestamp";
pub const EVENT_HEADER: &str = "x-meshdesk-event";
pub const DELIVERY_HEADER: &str = "x-meshdesk-delivery";

pub const MESSAGE_CREATED: &str = "message.created";
pub const INTERACTION_FINALIZED: &str = "interaction.finalized";

type HmacSha256 = hmac::Hmac<Sha256>;

/// How failed deliveries are retried.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RetryPolicy {
    /// The wait after the first failure; doubled after each further one.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            concurrency: 8,
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `failures + 1`: `base · 2^failures`, capped,
    /// with "equal jitter" (between half and all of it) so receivers that come
    /// back are not hit by every sender at once.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(failures.min(31)))
            .min(self.max);
        let half = exp / 2;
        let jitter =
            rand::rng().random_range(0..=half.as_millis().min(u128::from(u64::MAX)) as u64);
        half + Duration::from_millis(jitter)
    }
}

/// The signature header value for a body sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this cannot happen.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a delivery as a receiver would: the signature matches, in constant
/// time, and the timestamp is within `tolerance` of `now` (unix seconds).
pub fn verify(
    secret: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now: i64,
    tolerance: Duration,
) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    if now.abs_diff(ts) > tolerance.as_secs() {
        return false;
    }
    let Some(hex_sig) = signature.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The HTTP client deliveries use: no redirects (a signed body goes only
/// where it was configured to go), no proxy from the environment (the
/// destination checks must see the real destination), names resolved by
/// [`GuardedResolver`] (no loopback, private or link-local addresses unless
/// allow-listed), rustls, its own timeouts.
pub(crate) fn client(settings: Arc<SettingsCache>) -> Result<reqwest::Client, ChannelError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { settings }))
        .user_agent(concat!("meshdesk-webhook/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ChannelError::Client(e.to_string()))
}

// ---- payloads ----------------------------------------------------------------

#[derive(Serialize)]
struct CampaignRef<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct InteractionRef {
    id: String,
    contact_id: Option<String>,
    contact_name: String,
    contact_unverified: bool,
    address: String,
    channel: String,
}

#[derive(Serialize)]
struct Payload<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    created_at: Millis,
    campaign: CampaignRef<'a>,
    interaction: &'a InteractionRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<ApiMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finalized: Option<ApiDisposition>,
}

/// The events an interaction owes its campaign's webhook: every agent
/// message and the finalization, from the moment the webhook was set.
pub(crate) fn events_for(
    detail: &meshdesk_model::ops::InteractionDetail,
    settings: &Settings,
) -> Vec<NewEvent> {
    let i = &detail.interaction;
    let campaign_id = i.campaign().to_string();
    let Some(hook) = settings.webhooks.get(&campaign_id) else {
        return Vec::new();
    };
    let campaign_name = detail
        .campaign
        .as_ref()
        .map(|c| c.name.as_str())
        .unwrap_or(hook.campaign_name.as_str());
    let interaction = InteractionRef {
        id: i.id.to_string(),
        contact_id: i.contact.map(|c| c.to_string()),
        contact_name: i.contact_name.clone(),
        contact_unverified: i.contact_unverified,
        address: i.address.clone(),
        channel: i.channel.to_string(),
    };
    let names = &detail.agent_names;
    let mut out = Vec::new();
    let mut push = |event_id: String, kind: &str, at: Millis, payload: &Payload<'_>| {
        match serde_json::to_string(payload) {
            Ok(body) => out.push(NewEvent {
                event_id,
                event_type: kind.to_string(),
                campaign_id: campaign_id.clone(),
                body,
            }),
            Err(e) => tracing::error!(error = %e, at, "cannot encode a webhook payload"),
        }
    };
    let recent = |at: Millis| at >= hook.since;
    for m in i.messages_in_order() {
        if !matches!(m.author, Author::Agent(_)) || !recent(m.at) {
            continue;
        }
        let id = format!("msg_{}", m.id);
        let payload = Payload {
            id: &id,
            kind: MESSAGE_CREATED,
            created_at: m.at,
            campaign: CampaignRef {
                id: &campaign_id,
                name: campaign_name,
            },
            interaction: &interaction,
            message: Some(ApiMessage::new(m, names)),
            finalized: None,
        };
        push(id.clone(), MESSAGE_CREATED, m.at, &payload);
    }
    if let Some(f) = i.finalization.as_ref().filter(|f| recent(f.at)) {
        let id = format!("fin_{}", i.id);
        let payload = Payload {
            id: &id,
            kind: INTERACTION_FINALIZED,
            created_at: f.at,
            campaign: CampaignRef {
                id: &campaign_id,
                name: campaign_name,
            },
            interaction: &interaction,
            message: None,
            finalized: Some(ApiDisposition {
                disposition: f.disposition.clone(),
                note: f.note.clone(),
                at: f.at,
                agent_name: names
                    .get(&f.agent)
                    .cloned()
                    .unwrap_or_else(|| f.agent.to_string()),
            }),
        };
        push(id.clone(), INTERACTION_FINALIZED, f.at, &payload);
    }
    out
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ChannelError> + Send + 'static,
) -> Result<T, ChannelError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ChannelError::State(e.to_string()))?
}

/// Reads one interaction and puts the events it owes in the outbox,
/// recording how far it was read.
async fn collect<B: Backend>(
    backend: &B,
    db: &ChannelDb,
    settings: &SettingsCache,
    id: InteractionId,
) -> Result<usize, ChannelError> {
    let settings = settings.get();
    if settings.webhooks.is_empty() {
        return Ok(0);
    }
    let detail = match backend.show_interaction(id).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(interaction = %id, error = %e, "cannot read an interaction for webhooks");
            return Ok(0);
        }
    };
    let i = &detail.interaction;
    if !settings.webhooks.contains_key(&i.campaign().to_string()) {
        return Ok(0);
    }
    let read = Collected {
        messages: u32::try_from(i.messages.len()).unwrap_or(u32::MAX),
        finalized_at: i.finalization.as_ref().map(|f| f.at),
    };
    let events = events_for(&detail, &settings);
    let db = db.clone();
    let key = id.to_string();
    blocking(move || db.collect(Some((&key, read)), &events, now_ms())).await
}

/// Reads every interaction of the webhooked campaigns that changed since the
/// producer last read it — whoever owns it, in any state — for events missed
/// while the server was not running (or while the producer lagged).
async fn catch_up<B: Backend>(
    backend: &B,
    db: &ChannelDb,
    settings: &SettingsCache,
    wake: &Notify,
) {
    let hooks: Vec<(String, Millis)> = settings
        .get()
        .webhooks
        .iter()
        .map(|(campaign, hook)| (campaign.clone(), hook.since))
        .collect();
    let mut added = 0;
    for (campaign, since) in hooks {
        // Events are owed from `since` on, and an interaction's last activity
        // is at or after every message and finalization it holds.
        let request = Request::CampaignInteractions {
            campaign: campaign.clone(),
            since,
        };
        let rows: Vec<InteractionRow> = match backend.ask(request).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(%campaign, error = %e, "cannot list a webhooked campaign's interactions");
                continue;
            }
        };
        let ids: Vec<String> = rows.iter().map(|r| r.summary.id.to_string()).collect();
        let seen = {
            let db = db.clone();
            match blocking(move || db.collected(&ids)).await {
                Ok(seen) => seen,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the webhook producer's progress");
                    continue;
                }
            }
        };
        for (row, seen) in rows.iter().zip(seen) {
            let now = Collected {
                messages: row.summary.message_count,
                finalized_at: row.summary.finalized.as_ref().map(|f| f.at),
            };
            if seen == Some(now) {
                continue;
            }
            match collect(backend, db, settings, row.summary.id).await {
                Ok(n) => added += n,
                Err(e) => tracing::error!(error = %e, "cannot queue webhook events"),
            }
        }
    }
    if added > 0 {
        tracing::info!(events = added, "webhook events caught up");
        wake.notify_one();
    }
}

/// The producer task: node changes → outbox.
pub(crate) async fn produce<B: Backend>(
    backend: B,
    mut events: broadcast::Receiver<Event>,
    db: ChannelDb,
    settings: Arc<SettingsCache>,
    wake: Arc<Notify>,
) {
    catch_up(&backend, &db, &settings, &wake).await;
    loop {
        let event = match events.recv().await {
            Ok(Event::Resync) => {
                catch_up(&backend, &db, &settings, &wake).await;
                continue;
            }
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "webhook producer lagged; scanning");
                catch_up(&backend, &db, &settings, &wake).await;
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let (Event::Changed(_), Some(id)) = (&event, event.interaction()) else {
            continue;
        };
        match collect(&backend, &db, &settings, id).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::debug!(interaction = %id, events = n, "webhook events queued");
                wake.notify_one();
            }
            Err(e) => tracing::error!(error = %e, "cannot queue webhook events"),
        }
    }
}

enum Attempt {
    Delivered,
    Failed(String),
    /// The destination is not allowed (a non-public address): retrying
    /// cannot help, so the event is set aside as a permanent failure.
    Refused(String),
    /// The campaign has no webhook any more.
    Dropped,
}

async fn attempt(
    client: &reqwest::Client,
    settings: &Settings,
    hook: Option<&Webhook>,
    entry: &OutboxEntry,
    timeout: Duration,
) -> Attempt {
    let Some(hook) = hook else {
        return Attempt::Dropped;
    };
    // IP literals never reach the resolver: check them here (names are
    // checked by the resolver, on the addresses the connection will use).
    match reqwest::Url::parse(&hook.url) {
        Ok(url) => {
            if let Err(refused) = check_literal_host(&url, settings) {
                return Attempt::Refused(refused.to_string());
            }
        }
        Err(e) => return Attempt::Refused(format!("malformed webhook url: {e}")),
    }
    let timestamp = now_ms() / 1000;
    let signature = sign(&hook.secret, timestamp, entry.body.as_bytes());
    let result = client
        .post(&hook.url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(EVENT_HEADER, &entry.event_type)
        .header(DELIVERY_HEADER, &entry.event_id)
        .body(entry.body.clone())
        .send()
        .await;
    match result {
        Ok(r) if r.status().is_success() => Attempt::Delivered,
        Ok(r) => Attempt::Failed(format!("HTTP {}", r.status().as_u16())),
        Err(e) => match refusal_in(&e) {
            Some(refused) => Attempt::Refused(refused.to_string()),
            None => Attempt::Failed(e.to_string()),
        },
    }
}

async fn deliver_one(
    client: &reqwest::Client,
    db: &ChannelDb,
    settings: &SettingsCache,
    policy: RetryPolicy,
    key: OutboxKey,
    entry: OutboxEntry,
) {
    let current = settings.get();
    let hook = current.webhooks.get(&entry.campaign_id);
    let outcome = attempt(client, &current, hook, &entry, policy.timeout).await;
    let db = db.clone();
    let result = match outcome {
        Attempt::Delivered => {
            tracing::debug!(event = %entry.event_id, attempts = entry.attempts + 1, "webhook delivered");
            blocking(move || db.remove(key)).await
        }
        Attempt::Dropped => {
            tracing::warn!(event = %entry.event_id, "campaign has no webhook any more; event dropped");
            blocking(move || db.remove(key)).await
        }
        Attempt::Refused(error) => {
            tracing::warn!(
                event = %entry.event_id,
                campaign = %entry.campaign_id,
                %error,
                "webhook destination refused; the event is kept as a permanent failure"
            );
            blocking(move || db.fail(key, entry, error)).await
        }
        Attempt::Failed(error) => {
            let wait = policy.delay(entry.attempts);
            let next = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
            tracing::info!(
                event = %entry.event_id,
                attempts = entry.attempts + 1,
                %error,
                retry_in_ms = wait.as_millis() as u64,
                "webhook delivery failed; will retry"
            );
            blocking(move || db.reschedule(key, entry, next, error)).await
        }
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot update the webhook outbox");
    }
}

/// The deliverer task: outbox → receivers.
pub(crate) async fn deliver(
    db: ChannelDb,
    settings: Arc<SettingsCache>,
    wake: Arc<Notify>,
    policy: RetryPolicy,
    client: reqwest::Client,
) {
    const BATCH: usize = 64;
    const IDLE: Duration = Duration::from_secs(5);
    loop {
        let now = now_ms();
        let due = {
            let db = db.clone();
            blocking(move || db.due(now, BATCH)).await
        };
        let due = match due {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the webhook outbox");
                tokio::time::sleep(IDLE).await;
                continue;
            }
        };
        if due.is_empty() {
            let next = {
                let db = db.clone();
                blocking(move || db.next_due()).await.ok().flatten()
            };
            let wait = match next {
                Some(at) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)),
                None => IDLE,
            }
            .min(IDLE);
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        futures::stream::iter(due)
            .for_each_concurrent(policy.concurrency.max(1), |(key, entry)| {
                deliver_one(&client, &db, &settings, policy, key, entry)
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_reject_tampering() {
        let body = br#"{"id":"x"}"#;
        let sig = sign("secret-key-0123456789", 1_700_000_000, body);
        let ok = |secret: &str, ts: &str, body: &[u8], sig: &str| {
            verify(
                secret,
                ts,
                body,
                sig,
                1_700_000_010,
                Duration::from_secs(300),
            )
        };
        assert!(ok("secret-key-0123456789", "1700000000", body, &sig));
        assert!(!ok("other-key-0123456789", "1700000000", body, &sig));
        assert!(!ok("secret-key-0123456789", "1700000001", body, &sig));
        assert!(!ok("secret-key-0123456789", "1700000000", b"{}", &sig));
        assert!(!verify(
            "secret-key-0123456789",
            "1700000000",
            body,
            &sig,
            1_700_009_999,
            Duration::from_secs(300)
        ));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        for (failures, full) in [(0, 100), (1, 200), (2, 400), (10, 1000)] {
            let d = p.delay(failures).as_millis() as u64;
            assert!(d >= full / 2 && d <= full, "{failures}: {d}");
        }
    }
}
