//! What the webchat and the API share: finding a campaign, checking the
//! customer's fields, and creating the queued interaction (the node matches
//! or adds the contact in the same commit).

use axum::http::StatusCode;
use meshdesk_model::ops::{self, CustomerSpec, InteractionDetail, Request};
use meshdesk_model::{Author, Campaign, ChannelKind, InteractionId, validate};

use super::AppState;
use super::error::ApiError;
use crate::backend::{Backend, BackendError};

/// The customer as given: any of an existing contact id, a name, an email, a phone.
#[derive(Clone, Default, Debug)]
pub(crate) struct Customer {
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Typed by someone nobody authenticated (a webchat visitor): a
    /// phonebook entry it matches is linked only as unverified.
    pub unverified: bool,
}

fn blank_to_none(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// An id from a URL or a body: a malformed one is a 404, as an unknown one is.
pub(crate) fn id<T: std::str::FromStr>(what: &'static str, raw: &str) -> Result<T, ApiError> {
    ops::parse_id(what, raw).map_err(|e| BackendError::from(e).into())
}

/// A campaign by name or id; 404 if there is none (or it is not on `channel`).
pub(crate) async fn campaign<B: Backend>(
    backend: &B,
    name: &str,
    channel: Option<ChannelKind>,
) -> Result<Campaign, ApiError> {
    let c = backend.show_campaign(name).await?;
    match channel {
        Some(ch) if c.channel != ch => Err(ApiError::not_found(format!(
            "campaign `{}` has no {ch} channel",
            c.name
        ))),
        _ => Ok(c),
    }
}

/// One interaction in full; 404 if unknown.
pub(crate) async fn show<B: Backend>(
    backend: &B,
    id: InteractionId,
) -> Result<InteractionDetail, ApiError> {
    Ok(backend.show_interaction(id).await?)
}

/// The checked customer fields, before anything is written.
pub(crate) struct CheckedCustomer {
    id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    unverified: bool,
}

/// Checks the customer's fields; `prefix` names them in errors (e.g. `contact.`).
pub(crate) fn check_customer(c: Customer, prefix: &str) -> Result<CheckedCustomer, ApiError> {
    let field = |f: &str| format!("{prefix}{f}");
    let name = blank_to_none(c.name)
        .map(|n| validate::required("the name", &n))
        .transpose()
        .map_err(|e| ApiError::bad_field(&field("name"), e.to_string()))?;
    let email = blank_to_none(c.email)
        .map(|e| validate::email(&e))
        .transpose()
        .map_err(|e| ApiError::bad_field(&field("email"), e.to_string()))?;
    let phone = blank_to_none(c.phone)
        .map(|p| validate::phone(&p))
        .transpose()
        .map_err(|e| ApiError::bad_field(&field("phone"), e.to_string()))?;
    let id = blank_to_none(c.id);
    if id.is_none() && name.is_none() && email.is_none() && phone.is_none() {
        return Err(ApiError::bad_field(
            prefix.trim_end_matches('.'),
            "give the customer's contact id, name, email or phone",
        ));
    }
    Ok(CheckedCustomer {
        id,
        name,
        email,
        phone,
        unverified: c.unverified,
    })
}

/// Creates a queued inbound interaction with its first message, matching
/// the customer to the phonebook or adding them, in one commit; returns its id.
pub(crate) async fn enqueue<B: Backend>(
    state: &AppState<B>,
    campaign: &Campaign,
    customer: &CheckedCustomer,
    message: String,
    priority: i32,
) -> Result<InteractionId, ApiError> {
    let request = Request::Intake {
        campaign: campaign.id.to_string(),
        customer: CustomerSpec {
            id: customer
                .id
                .as_deref()
                .map(|c| id("contact", c))
                .transpose()?,
            name: customer.name.clone(),
            email: customer.email.clone(),
            phone: customer.phone.clone(),
            unverified: customer.unverified,
        },
        message,
        priority,
    };
    Ok(state.backend.ask(request).await?)
}

/// Checks a message body before anything is written; `field` names it in errors.
pub(crate) fn check_message(field: &str, text: &str) -> Result<String, ApiError> {
    validate::message(text).map_err(|e| ApiError::bad_field(field, e.to_string()))
}

/// Refuses a customer message to an interaction that already holds the most
/// customer messages the gateways take (409): one document must not grow
/// without bound from outside. Costs one read per interaction, the first time.
pub(crate) async fn check_budget<B: Backend>(
    state: &AppState<B>,
    id: InteractionId,
) -> Result<(), ApiError> {
    let used = match state.messages.known(&id) {
        Some(n) => n,
        None => {
            let detail = show(&state.backend, id).await?;
            let customer = detail
                .interaction
                .messages
                .iter()
                .filter(|m| matches!(m.author, Author::Contact))
                .count();
            state.messages.learn(id, customer)
        }
    };
    if used >= state.messages.max() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "this conversation has reached its limit of {} customer messages; please start a new one",
                state.messages.max()
            ),
        ));
    }
    Ok(())
}
