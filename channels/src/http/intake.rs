//! What the webchat and the API share: finding a campaign, matching or
//! creating the customer's contact, and creating the queued interaction.

use meshdesk_model::ops::{ContactSpec, InteractionDetail, Reply, Request};
use meshdesk_model::{Campaign, ChannelKind, validate};

use super::AppState;
use super::error::ApiError;
use crate::backend::Backend;

/// The customer as given: any of an existing contact id, a name, an email, a phone.
#[derive(Clone, Default, Debug)]
pub(crate) struct Customer {
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

fn blank_to_none(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn unexpected(reply: &Reply) -> ApiError {
    tracing::error!(?reply, "unexpected reply from the node");
    ApiError::internal()
}

/// A campaign by name or id; 404 if there is none (or it is not on `channel`).
pub(crate) async fn campaign<B: Backend>(
    backend: &B,
    name: &str,
    channel: Option<ChannelKind>,
) -> Result<Campaign, ApiError> {
    let reply = backend
        .call(Request::ShowCampaign {
            name: name.to_string(),
        })
        .await?;
    let Reply::Campaign(c) = reply else {
        return Err(unexpected(&reply));
    };
    match channel {
        Some(ch) if c.channel != ch => Err(ApiError::not_found(format!(
            "campaign `{}` has no {ch} channel",
            c.name
        ))),
        _ => Ok(*c),
    }
}

/// One interaction in full; 404 if unknown.
pub(crate) async fn show<B: Backend>(backend: &B, id: &str) -> Result<InteractionDetail, ApiError> {
    let reply = backend
        .call(Request::ShowInteraction { id: id.to_string() })
        .await?;
    match reply {
        Reply::Interaction(d) => Ok(*d),
        other => Err(unexpected(&other)),
    }
}

/// The checked customer fields, before anything is written.
pub(crate) struct CheckedCustomer {
    id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
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
    })
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The contact id for a customer: the given one, the phonebook entry with
/// the same email (or phone), or a new contact.
pub(crate) async fn resolve_contact<B: Backend>(
    state: &AppState<B>,
    c: &CheckedCustomer,
) -> Result<String, ApiError> {
    let backend = &state.backend;
    if let Some(id) = &c.id {
        let reply = backend
            .call(Request::ShowContact { id: id.clone() })
            .await?;
        return match reply {
            Reply::Contact { contact, .. } => Ok(contact.id.to_string()),
            other => Err(unexpected(&other)),
        };
    }
    // One match-or-create at a time, so one email never makes two contacts here.
    let _guard = state.contact_lock.lock().await;
    let key = c.email.clone().or_else(|| c.phone.clone());
    if let Some(key) = key {
        let reply = backend
            .call(Request::ListContacts {
                search: Some(key.clone()),
                limit: Some(500),
            })
            .await?;
        let Reply::Contacts(found) = reply else {
            return Err(unexpected(&reply));
        };
        let matched = found.iter().find(|k| match &c.email {
            Some(email) => k.emails.iter().any(|e| e.eq_ignore_ascii_case(email)),
            None => {
                let want = digits(&key);
                k.phones.iter().any(|p| digits(p) == want)
            }
        });
        if let Some(k) = matched {
            return Ok(k.id.to_string());
        }
    }
    let name = c
        .name
        .clone()
        .or_else(|| c.email.clone())
        .or_else(|| c.phone.clone())
        .unwrap_or_else(|| "Visitor".into());
    let spec = ContactSpec {
        name: Some(name),
        emails: c.email.clone().map(|e| vec![e]),
        phones: c.phone.clone().map(|p| vec![p]),
        ..ContactSpec::default()
    };
    match backend.call(Request::AddContact(spec)).await? {
        Reply::Created { id } => Ok(id),
        other => Err(unexpected(&other)),
    }
}

/// Creates a queued inbound interaction with its first message; returns its id.
pub(crate) async fn enqueue<B: Backend>(
    state: &AppState<B>,
    campaign: &Campaign,
    customer: &CheckedCustomer,
    message: String,
    priority: i32,
) -> Result<String, ApiError> {
    let contact = resolve_contact(state, customer).await?;
    let request = Request::Enqueue {
        campaign: campaign.id.to_string(),
        contact: Some(contact),
        from: None,
        name: customer.name.clone(),
        message: Some(message),
        priority,
    };
    match state.backend.call(request).await? {
        Reply::Created { id } => Ok(id),
        other => Err(unexpected(&other)),
    }
}

/// Checks a message body before anything is written; `field` names it in errors.
pub(crate) fn check_message(field: &str, text: &str) -> Result<String, ApiError> {
    validate::message(text).map_err(|e| ApiError::bad_field(field, e.to_string()))
}
