//! The phonebook: contacts, and the customer a gateway names.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Executor, OpError, OpResult, Outcome, Reply, done};
use crate::bounds::{MAX_MERGE_CHAIN, MAX_MERGED_CONTACTS};
use crate::doc::{self, DocId};
use crate::ids::*;
use crate::merge::Merges;
use crate::projection::InteractionSummary;
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

/// A contact's profile: the contact, the contacts merged into it (see
/// `merge`, at most [`MAX_MERGED_CONTACTS`], by id) and every interaction
/// of any of them, newest first.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ContactProfile {
    pub contact: Contact,
    pub absorbed: Vec<Contact>,
    pub interactions: Vec<InteractionSummary>,
}

impl ContactProfile {
    /// The contact as its profile shows it: its own name and company, the
    /// phones, emails and tags of all it absorbed too.
    pub fn combined(&self) -> Contact {
        self.contact.combined(&self.absorbed)
    }
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
    /// A contact's profile: the contact `id` stands for (its survivor, see
    /// `merge`), the contacts merged into it, and all their interactions.
    pub(super) fn show_contact(&self, id: ContactId) -> OpResult<Outcome> {
        let profile = self.profile(id)?;
        done(
            Reply::Contact {
                contact: Box::new(profile.contact),
                interactions: profile.interactions,
                absorbed: profile.absorbed,
            },
            vec![],
        )
    }

    /// The contact `id` stands for under `merges`, and the contacts merged
    /// into it (at most [`MAX_MERGED_CONTACTS`], by id).
    fn with_absorbed(&self, merges: &Merges, id: ContactId) -> OpResult<(Contact, Vec<Contact>)> {
        let contact = self.lookup_contact(merges.survivor(id))?;
        let mut absorbed = Vec::new();
        for other in merges
            .absorbed_into(contact.id)
            .into_iter()
            .take(MAX_MERGED_CONTACTS)
        {
            absorbed.extend(self.store.contact(other)?);
        }
        Ok((contact, absorbed))
    }

    pub(super) fn profile(&self, id: ContactId) -> OpResult<ContactProfile> {
        let merges = self.store.contact_merges()?;
        let (contact, absorbed) = self.with_absorbed(&merges, id)?;
        let mut interactions = self.store.contact_interactions(contact.id)?;
        for other in &absorbed {
            interactions.extend(self.store.contact_interactions(other.id)?);
        }
        interactions.sort_by_key(|s| (std::cmp::Reverse(s.created_at), s.id));
        Ok(ContactProfile {
            contact,
            absorbed,
            interactions,
        })
    }

    /// The contact `id` stands for, as its profile shows it: its survivor,
    /// with the phones, emails and tags of what was merged into it. What a
    /// new interaction with `id` is linked to.
    pub(super) fn resolved_contact(&self, id: ContactId) -> OpResult<Contact> {
        let merges = self.store.contact_merges()?;
        let (contact, absorbed) = self.with_absorbed(&merges, id)?;
        Ok(contact.combined(&absorbed))
    }

    /// Merges `absorbed` into `survivor`: only `absorbed`'s document is
    /// written (`merged_into`), so an unmerge undoes it whole.
    pub(super) fn merge_contacts(
        &mut self,
        survivor: ContactId,
        absorbed: ContactId,
    ) -> OpResult<Outcome> {
        if survivor == absorbed {
            return Err(OpError::MergeIntoItself);
        }
        let into = self.lookup_contact(survivor)?;
        let from = self.lookup_contact(absorbed)?;
        let merges = self.store.contact_merges()?;
        for c in [&into, &from] {
            let stands_for = merges.survivor(c.id);
            if stands_for != c.id {
                return Err(OpError::AlreadyMerged {
                    name: c.name.clone(),
                    into: stands_for,
                });
            }
        }
        let chain = merges.chain_below(absorbed) + 1;
        if chain > MAX_MERGE_CHAIN {
            return Err(OpError::MergeTooDeep {
                max: MAX_MERGE_CHAIN,
            });
        }
        let count = merges.absorbed_into(survivor).len() + 1 + merges.absorbed_into(absorbed).len();
        if count > MAX_MERGED_CONTACTS {
            return Err(OpError::MergeTooMany {
                max: MAX_MERGED_CONTACTS,
            });
        }
        let (at, by) = (self.ctx.now, self.me.agent);
        let change = self
            .store
            .write_doc(&DocId::Contact(from.id), false, move |d| {
                doc::contact::set_merge(d, Some(into.id), at, by)
            })?;
        done(Reply::Done, vec![change])
    }

    /// Clears `id`'s merge: it is listed again with its own interactions.
    pub(super) fn unmerge_contact(&mut self, id: ContactId) -> OpResult<Outcome> {
        let contact = self.lookup_contact(id)?;
        // One of mail intake's twins (see `merge`) is merged without a
        // `merged_into`: clearing its merge by hand parts it from them.
        if contact.merged_into.is_none() && !self.store.contact_merges()?.is_absorbed(id) {
            return Err(OpError::NotMerged(contact.name));
        }
        let (at, by) = (self.ctx.now, self.me.agent);
        let change = self.store.write_doc(&DocId::Contact(id), false, move |d| {
            doc::contact::set_merge(d, None, at, by)
        })?;
        done(Reply::Done, vec![change])
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
            merged_into: None,
            merged_at: 0,
            merged_by: None,
            mail_sender: None,
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

    /// The phonebook entry a gateway's customer is: by id, email, then
    /// phone; an entry merged into another is its survivor (with the
    /// phones and emails of everything merged into it).
    pub(super) fn known_customer(&self, customer: &CustomerSpec) -> OpResult<Option<Contact>> {
        if let Some(id) = customer.id {
            return self.resolved_contact(id).map(Some);
        }
        if let Some(email) = &customer.email
            && let Some(c) = self.store.contacts_by_email(email)?.into_iter().next()
        {
            return self.resolved_contact(c.id).map(Some);
        }
        if let Some(phone) = &customer.phone {
            let digits = |p: &str| p.chars().filter(char::is_ascii_digit).collect::<String>();
            let want = digits(phone);
            // Search answers survivors, also for a phone only an absorbed
            // contact holds.
            let found = self
                .store
                .search_contacts_page(phone, 0, CUSTOMER_MATCHES)?;
            let merges = self.store.contact_merges()?;
            for c in found.rows {
                let c = if merges.absorbed_into(c.id).is_empty() {
                    c
                } else {
                    let (c, absorbed) = self.with_absorbed(&merges, c.id)?;
                    c.combined(&absorbed)
                };
                if c.phones.iter().any(|p| digits(p) == want) {
                    return Ok(Some(c));
                }
            }
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
