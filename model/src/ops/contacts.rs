//! The phonebook: contacts, and the customer a gateway names.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Executor, OpError, OpResult, Outcome, Reply, done};
use crate::doc::{self, DocId};
use crate::ids::*;
use crate::store::Page;
use crate::types::*;
use crate::validate::{self, InvalidInput};

/// Phonebook entries whose words match a customer's phone that are compared
/// digit by digit (a phone is matched by search: there is no phone index).
const CUSTOMER_MATCHES: usize = 500;

/// A contact's fields as typed; `None` leaves a field unchanged on edit.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ContactSpec {
    pub name: Option<String>,
    pub phones: Option<Vec<String>>,
    pub emails: Option<Vec<String>>,
    pub company: Option<String>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
}

/// A customer as a gateway (webchat, API) knows them: any of a contact id,
/// a name, an email, a phone.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct CustomerSpec {
    pub id: Option<ContactId>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Only what the customer typed (a webchat visitor, whom nobody has
    /// authenticated): a phonebook entry it matches is linked as unverified,
    /// and the interaction carries the typed name and address, never the
    /// entry's.
    #[serde(default)]
    pub unverified: bool,
}

impl Executor<'_, '_> {
    pub(super) fn show_contact(&self, id: ContactId) -> OpResult<Outcome> {
        let contact = self.lookup_contact(id)?;
        let interactions = self.store.contact_interactions(contact.id)?;
        done(
            Reply::Contact {
                contact: Box::new(contact),
                interactions,
            },
            vec![],
        )
    }

    pub(super) fn contact_from_spec(&self, base: Contact, spec: ContactSpec) -> OpResult<Contact> {
        let mut c = base;
        if let Some(name) = spec.name {
            c.name = validate::required("the contact name", &name)?;
        }
        if let Some(phones) = spec.phones {
            c.phones = phones
                .iter()
                .map(|p| validate::phone(p))
                .collect::<Result<_, _>>()?;
        }
        if let Some(emails) = spec.emails {
            c.emails = emails
                .iter()
                .map(|e| validate::email(e))
                .collect::<Result<_, _>>()?;
        }
        if let Some(company) = spec.company {
            c.company =
                validate::bounded("the company", company.trim(), validate::MAX_FIELD_CHARS)?;
        }
        if let Some(notes) = spec.notes {
            c.notes = validate::bounded("the notes", &notes, validate::MAX_MESSAGE_CHARS)?;
        }
        if let Some(tags) = spec.tags {
            c.tags = tags
                .iter()
                .map(|t| validate::tag(t))
                .collect::<Result<_, _>>()?;
        }
        Ok(c)
    }

    pub(super) fn add_contact(&mut self, spec: ContactSpec) -> OpResult<Outcome> {
        if spec.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(InvalidInput::Empty("the contact name").into());
        }
        let contact = self.new_contact(spec)?;
        let id = contact.id;
        let change = self.store.write_doc(&DocId::Contact(id), true, move |d| {
            doc::contact::create(d, &contact)
        })?;
        done(Reply::Created { id: id.to_string() }, vec![change])
    }

    /// A contact not yet stored, with a fresh id, from checked fields.
    pub(super) fn new_contact(&self, spec: ContactSpec) -> OpResult<Contact> {
        let now = self.ctx.now;
        let blank = Contact {
            id: self.store.new_id(),
            name: String::new(),
            phones: vec![],
            emails: vec![],
            company: String::new(),
            notes: String::new(),
            tags: BTreeSet::new(),
            custom: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            deleted: false,
        };
        self.contact_from_spec(blank, spec)
    }

    pub(super) fn edit_contact(
        &mut self,
        id: ContactId,
        spec: ContactSpec,
        delete: bool,
    ) -> OpResult<Outcome> {
        let existing = self.lookup_contact(id)?;
        let mut contact = self.contact_from_spec(existing, spec)?;
        contact.updated_at = self.ctx.now;
        contact.deleted = delete;
        let change = self.store.write_doc(&DocId::Contact(id), false, move |d| {
            doc::contact::update(d, &contact)
        })?;
        done(Reply::Done, vec![change])
    }

    pub(super) fn lookup_contact(&self, id: ContactId) -> OpResult<Contact> {
        self.store.contact(id)?.ok_or(OpError::UnknownId {
            what: "contact",
            id: id.to_string(),
        })
    }

    /// The phonebook entry a gateway's customer is: by id, email, then phone.
    pub(super) fn known_customer(&self, customer: &CustomerSpec) -> OpResult<Option<Contact>> {
        if let Some(id) = customer.id {
            return self.lookup_contact(id).map(Some);
        }
        if let Some(email) = &customer.email
            && let Some(c) = self.store.contacts_by_email(email)?.into_iter().next()
        {
            return Ok(Some(c));
        }
        if let Some(phone) = &customer.phone {
            let digits = |p: &str| p.chars().filter(char::is_ascii_digit).collect::<String>();
            let want = digits(phone);
            let found = self
                .store
                .search_contacts_page(phone, 0, CUSTOMER_MATCHES)?;
            return Ok(found
                .rows
                .into_iter()
                .find(|c| c.phones.iter().any(|p| digits(p) == want)));
        }
        Ok(None)
    }

    pub(super) fn contact_page(
        &mut self,
        search: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> OpResult<Page<Contact>> {
        Ok(match search.map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => self.store.search_contacts_page(q, offset, limit)?,
            None => self.store.contacts_page(offset, limit)?,
        })
    }
}
