//! The REST API under `/api/v1` (bearer token required, see `require_token`).

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use meshdesk_model::ops::{DEFAULT_LIST_LIMIT, HistoryFilter, InteractionRow, Request, Tab, Whose};
use meshdesk_model::{ChannelKind, Millis};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, JsonBody};
use super::intake::{self, Customer};
use super::{ApiCaller, AppState, Shared};
use crate::backend::{Backend, ErrorKind};
use crate::view::{
    ApiCampaign, ApiCanned, ApiContact, ApiContactDetail, ApiInteraction, ApiInteractionRow,
};

/// The hand-written OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route(
            "/interactions",
            get(list_interactions::<B>).post(create_interaction::<B>),
        )
        .route("/interactions/{id}", get(get_interaction::<B>))
        .route("/interactions/{id}/messages", post(post_message::<B>))
        // Bounded by the node's file limit as the body is read (`files::upload`).
        .route(
            "/interactions/{id}/files",
            post(post_file::<B>).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/files/{hash}", get(get_file::<B>))
        .route("/contacts", get(list_contacts::<B>))
        .route("/contacts/{id}", get(get_contact::<B>))
        .route("/campaigns", get(list_campaigns::<B>))
        .route("/canned", get(list_canned::<B>))
        .route(
            "/campaigns/{campaign}/webhook",
            get(get_webhook::<B>)
                .put(put_webhook::<B>)
                .delete(delete_webhook::<B>),
        )
}

/// The largest page a list returns (the schema's `maximum` for `limit`).
const MAX_LIMIT: usize = DEFAULT_LIST_LIMIT;

/// The page size asked for: the maximum by default; above it is a 400, as
/// the schema says, rather than a silently shorter page.
fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(MAX_LIMIT),
        Some(n) if n <= MAX_LIMIT => Ok(n),
        Some(n) => Err(ApiError::bad_field(
            "limit",
            format!("limit {n} is over the maximum of {MAX_LIMIT}"),
        )),
    }
}

/// An optional string field that, when present, must be a string: `null` is
/// refused as the wrong type (the schema says `string`), not taken as absent.
fn present_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

// ---- interactions -------------------------------------------------------------

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ContactFields {
    #[serde(default, deserialize_with = "present_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "present_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "present_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "present_string")]
    phone: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct CreateInteraction {
    campaign: String,
    contact: ContactFields,
    message: String,
    #[serde(default)]
    priority: i32,
}

fn created(location: String, body: impl Serialize) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// What `POST /interactions` checks before it asks the node for anything.
fn check_create(body: &CreateInteraction) -> Result<(String, intake::CheckedCustomer), ApiError> {
    let message = intake::check_message("message", &body.message)?;
    let customer = intake::check_customer(
        Customer {
            id: body.contact.id.clone(),
            name: body.contact.name.clone(),
            email: body.contact.email.clone(),
            phone: body.contact.phone.clone(),
            // The integration holds an API token: its word is the device's.
            unverified: false,
        },
        "contact.",
    )?;
    if body.campaign.trim().is_empty() {
        return Err(ApiError::bad_field(
            "campaign",
            "the campaign must not be empty",
        ));
    }
    Ok((message, customer))
}

async fn create_interaction<B: Backend>(
    State(state): State<AppState<B>>,
    JsonBody(body): JsonBody<CreateInteraction>,
) -> Result<Response, ApiError> {
    let (message, customer) = check_create(&body)?;
    let campaign = intake::campaign(&state.backend, &body.campaign, None).await?;
    let id = intake::enqueue(&state, &campaign, &customer, message, body.priority).await?;
    let detail = intake::show(&state.backend, id).await?;
    Ok(created(
        format!("/api/v1/interactions/{id}"),
        ApiInteraction::new(&detail),
    ))
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    q: Option<String>,
    limit: Option<usize>,
    /// History only: the hosting node's agent's closed interactions (the
    /// default is the team's).
    mine: Option<bool>,
    campaign: Option<String>,
    channel: Option<String>,
    disposition: Option<String>,
    tag: Option<String>,
    /// Closed at or after (milliseconds since the Unix epoch).
    since: Option<Millis>,
    /// Closed before.
    until: Option<Millis>,
}

impl ListQuery {
    /// History's filter from the query, checked; the name of the first
    /// filter parameter given, if any.
    fn history(&self) -> Result<(HistoryFilter, Option<&'static str>), ApiError> {
        let text = |field: &'static str, value: &Option<String>| match value.as_deref() {
            Some(v) if v.trim().is_empty() => Err(ApiError::bad_field(
                field,
                format!("`{field}` must not be blank"),
            )),
            Some(v) => Ok(Some(v.trim().to_string())),
            None => Ok(None),
        };
        let channel = match self.channel.as_deref() {
            Some(raw) => Some(
                raw.parse::<ChannelKind>()
                    .map_err(|e| ApiError::bad_field("channel", e.to_string()))?,
            ),
            None => None,
        };
        if let (Some(since), Some(until)) = (self.since, self.until)
            && until <= since
        {
            return Err(ApiError::bad_field(
                "until",
                "the date range is empty: `until` must be after `since`",
            ));
        }
        let filter = HistoryFilter {
            whose: if self.mine == Some(true) {
                Whose::Mine
            } else {
                Whose::Team
            },
            campaign: text("campaign", &self.campaign)?,
            channel,
            disposition: text("disposition", &self.disposition)?,
            tag: text("tag", &self.tag)?,
            since: self.since,
            until: self.until,
        };
        let given = [
            ("mine", self.mine.is_some()),
            ("campaign", self.campaign.is_some()),
            ("channel", self.channel.is_some()),
            ("disposition", self.disposition.is_some()),
            ("tag", self.tag.is_some()),
            ("since", self.since.is_some()),
            ("until", self.until.is_some()),
        ]
        .into_iter()
        .find_map(|(name, given)| given.then_some(name));
        Ok((filter, given))
    }
}

#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
}

async fn list_interactions<B: Backend>(
    State(state): State<AppState<B>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<ApiInteractionRow>>, ApiError> {
    let Query(query) = query?;
    let limit = page_limit(query.limit)?;
    let tabs = match query.state.as_deref().map(str::trim) {
        // Snoozed ones are active too, only set aside for now.
        None | Some("") | Some("all") => {
            vec![Tab::Pending, Tab::Active, Tab::Snoozed, Tab::History]
        }
        Some(s) => vec![s.parse::<Tab>().map_err(|_| {
            ApiError::bad_field(
                "state",
                format!("unknown state `{s}` (expected pending, active, snoozed, history or all)"),
            )
        })?],
    };
    let (history, filtered) = query.history()?;
    if let Some(field) = filtered
        && tabs != [Tab::History]
    {
        return Err(ApiError::bad_field(
            field,
            format!("`{field}` applies to state=history only"),
        ));
    }
    let mut items = Vec::new();
    for tab in tabs {
        if items.len() >= limit {
            break;
        }
        let rows: Vec<InteractionRow> = state
            .backend
            .ask(Request::ListInteractions {
                tab,
                search: query.q.clone(),
                limit: Some(limit - items.len()),
                history: history.clone(),
            })
            .await
            .map_err(|e| match e.kind {
                // The only name a list resolves is the campaign filter's.
                ErrorKind::NotFound => ApiError::bad_field("campaign", e.message),
                _ => ApiError::from(e),
            })?;
        items.extend(rows.iter().map(ApiInteractionRow::from_row));
    }
    Ok(Json(Page { items }))
}

async fn get_interaction<B: Backend>(
    State(state): State<AppState<B>>,
    Path(id): Path<String>,
) -> Result<Json<ApiInteraction>, ApiError> {
    let detail = intake::show(&state.backend, intake::id("interaction", &id)?).await?;
    Ok(Json(ApiInteraction::new(&detail)))
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PostMessage {
    text: String,
}

async fn post_message<B: Backend>(
    State(state): State<AppState<B>>,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody<PostMessage>,
) -> Result<Response, ApiError> {
    let text = intake::check_message("text", &body.text)?;
    let known = intake::id("interaction", &raw)?;
    intake::check_budget(&state, known).await?;
    state
        .backend
        .ask::<()>(Request::CustomerMessage { id: known, text })
        .await?;
    state.messages.spend(&known);
    let detail = intake::show(&state.backend, known).await?;
    Ok(created(
        format!("/api/v1/interactions/{raw}"),
        ApiInteraction::new(&detail),
    ))
}

/// A customer's file: the body is the file, `name` its name.
async fn post_file<B: Backend>(
    State(state): State<AppState<B>>,
    Path(raw): Path<String>,
    query: Result<Query<super::files::FileQuery>, QueryRejection>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let known = intake::id("interaction", &raw)?;
    super::files::upload(
        &state,
        known,
        &query.name,
        body,
        "the interaction is finalized",
    )
    .await?;
    let detail = intake::show(&state.backend, known).await?;
    Ok(created(
        format!("/api/v1/interactions/{raw}"),
        ApiInteraction::new(&detail),
    ))
}

/// A file's bytes by its hash (fetched from a teammate if this node lacks it).
async fn get_file<B: Backend>(
    State(state): State<AppState<B>>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let hash = super::files::hash(&raw)?;
    super::files::serve(&state, hash, None).await
}

// ---- contacts -------------------------------------------------------------------

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ContactQuery {
    q: Option<String>,
    limit: Option<usize>,
}

async fn list_contacts<B: Backend>(
    State(state): State<AppState<B>>,
    query: Result<Query<ContactQuery>, QueryRejection>,
) -> Result<Json<Page<ApiContact>>, ApiError> {
    let Query(query) = query?;
    let contacts: Vec<meshdesk_model::Contact> = state
        .backend
        .ask(Request::ListContacts {
            search: query.q,
            limit: Some(page_limit(query.limit)?),
        })
        .await?;
    Ok(Json(Page {
        items: contacts.iter().map(ApiContact::from).collect(),
    }))
}

async fn campaigns<B: Backend>(
    shared: &Shared<B>,
) -> Result<BTreeMap<meshdesk_model::CampaignId, meshdesk_model::Campaign>, ApiError> {
    let list = shared.backend.list_campaigns().await?;
    Ok(list.into_iter().map(|c| (c.id, c)).collect())
}

async fn get_contact<B: Backend>(
    State(state): State<AppState<B>>,
    Path(id): Path<String>,
) -> Result<Json<ApiContactDetail>, ApiError> {
    let id = intake::id("contact", &id)?;
    // An absorbed contact's id answers with its survivor.
    let profile: meshdesk_model::ops::ContactProfile =
        state.backend.ask(Request::ShowContact { id }).await?;
    let campaigns = campaigns(&state).await?;
    let now = meshdesk_model::now_ms();
    Ok(Json(ApiContactDetail {
        contact: ApiContact::from(&profile.combined()),
        interactions: profile
            .interactions
            .iter()
            .map(|s| ApiInteractionRow::from_summary(s, s.state_at(now), &campaigns))
            .collect(),
        merged_from: profile.absorbed.iter().map(|c| c.id.to_string()).collect(),
    }))
}

// ---- campaigns and webhooks -----------------------------------------------------

async fn list_campaigns<B: Backend>(
    State(state): State<AppState<B>>,
) -> Result<Json<Page<ApiCampaign>>, ApiError> {
    let settings = state.settings.get();
    let items = campaigns(&state)
        .await?
        .values()
        .map(|c| ApiCampaign {
            id: c.id.to_string(),
            name: c.name.clone(),
            channel: c.channel.to_string(),
            webhook_url: settings
                .webhooks
                .get(&c.id.to_string())
                .map(|w| w.url.clone()),
        })
        .collect();
    Ok(Json(Page { items }))
}

// ---- canned responses -------------------------------------------------------------

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct CannedQuery {
    campaign: Option<String>,
}

/// The team's canned responses (read-only here: supervisors write them in
/// the window or the CLI); with `campaign`, the ones offered in it.
async fn list_canned<B: Backend>(
    State(state): State<AppState<B>>,
    query: Result<Query<CannedQuery>, QueryRejection>,
) -> Result<Json<Page<ApiCanned>>, ApiError> {
    let Query(query) = query?;
    let canned: Vec<meshdesk_model::CannedResponse> = state
        .backend
        .ask(Request::ListCanned {
            campaign: query.campaign,
        })
        .await?;
    let campaigns = campaigns(&state).await?;
    let items = canned
        .into_iter()
        .map(|c| ApiCanned {
            id: c.id.to_string(),
            code: c.code,
            body: c.body,
            campaign: c
                .campaign
                .and_then(|id| campaigns.get(&id))
                .map(|c| c.name.clone()),
        })
        .collect();
    Ok(Json(Page { items }))
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PutWebhook {
    url: String,
    #[serde(default, deserialize_with = "present_string")]
    secret: Option<String>,
}

#[derive(Serialize)]
struct WebhookView {
    campaign_id: String,
    campaign: String,
    url: String,
    since: meshdesk_model::Millis,
    /// Only in the answer to PUT: the key receivers verify signatures with.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

async fn get_webhook<B: Backend>(
    State(state): State<AppState<B>>,
    Path(campaign): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    let campaign = intake::campaign(&state.backend, &campaign, None).await?;
    let settings = state.settings.get();
    let hook = settings
        .webhooks
        .get(&campaign.id.to_string())
        .ok_or_else(|| {
            ApiError::not_found(format!("campaign `{}` has no webhook", campaign.name))
        })?;
    Ok(Json(WebhookView {
        campaign_id: hook.campaign_id.clone(),
        campaign: campaign.name,
        url: hook.url.clone(),
        since: hook.since,
        secret: None,
    }))
}

async fn put_webhook<B: Backend>(
    State(state): State<AppState<B>>,
    Extension(caller): Extension<ApiCaller>,
    Path(campaign): Path<String>,
    JsonBody(body): JsonBody<PutWebhook>,
) -> Result<Json<WebhookView>, ApiError> {
    crate::settings::check_webhook_destination(&body.url, &state.settings.get())
        .map_err(|e| ApiError::bad_field("url", e.to_string()))?;
    if let Some(secret) = &body.secret {
        crate::settings::check_webhook_secret(secret)
            .map_err(|e| ApiError::bad_field("secret", e.to_string()))?;
    }
    let campaign = intake::campaign(&state.backend, &campaign, None).await?;
    let file = state.settings.file().clone();
    let (id, name) = (campaign.id.to_string(), campaign.name.clone());
    let hook = tokio::task::spawn_blocking(move || {
        file.set_webhook_as(
            Some(&caller.token_id),
            &id,
            &name,
            &body.url,
            body.secret.as_deref(),
        )
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(|e| match e {
        // Checked above; only an allow-list changed in between gets here.
        crate::error::ChannelError::Invalid(m) => ApiError::bad_field("url", m),
        other => ApiError::from(other),
    })?;
    Ok(Json(WebhookView {
        campaign_id: hook.campaign_id,
        campaign: campaign.name,
        url: hook.url,
        since: hook.since,
        secret: Some(hook.secret),
    }))
}

async fn delete_webhook<B: Backend>(
    State(state): State<AppState<B>>,
    Extension(caller): Extension<ApiCaller>,
    Path(campaign): Path<String>,
) -> Result<StatusCode, ApiError> {
    let campaign = intake::campaign(&state.backend, &campaign, None).await?;
    let file = state.settings.file().clone();
    let id = campaign.id.to_string();
    let removed =
        tokio::task::spawn_blocking(move || file.remove_webhook_as(Some(&caller.token_id), &id))
            .await
            .map_err(|_| ApiError::internal())??;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "campaign `{}` has no webhook",
            campaign.name
        )))
    }
}

/// Parses `bytes` as each API request body and checks what parses the way
/// its handler does (what the fuzzer drives; never panics).
pub(super) fn fuzz_bodies(bytes: &[u8]) {
    if let Ok(body) = super::error::parse_json::<CreateInteraction>(bytes) {
        let _ = check_create(&body);
    }
    if let Ok(body) = super::error::parse_json::<PostMessage>(bytes) {
        let _ = intake::check_message("text", &body.text);
    }
    if let Ok(body) = super::error::parse_json::<PutWebhook>(bytes)
        && let Ok(url) = reqwest::Url::parse(&body.url)
    {
        let _ = crate::destination::check_url_host(&url, &crate::settings::Settings::default());
    }
}
