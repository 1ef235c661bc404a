//! The contact document: a phonebook entry. Deletion leaves a tombstone.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};

use super::*;
use crate::types::*;

pub fn create(doc: &mut AutoCommit, contact: &Contact) -> DocResult<()> {
    doc.put(ROOT, "kind", "contact")?;
    doc.put(ROOT, "schema", SCHEMA)?;
    doc.put(ROOT, "id", contact.id.to_string())?;
    doc.put(ROOT, "created_at", contact.created_at)?;
    doc.put_object(ROOT, "phones", ObjType::List)?;
    doc.put_object(ROOT, "emails", ObjType::List)?;
    doc.put_object(ROOT, "tags", ObjType::Map)?;
    doc.put_object(ROOT, "custom", ObjType::Map)?;
    doc.put(ROOT, "deleted", false)?;
    // Written at creation only (the write rules hold it to that).
    if let Some(sender) = &contact.mail_sender {
        doc.put(ROOT, "mail_sender", sender.as_str())?;
    }
    update(doc, contact)
}

/// Writes the fields that differ from what the document holds.
pub fn update(doc: &mut AutoCommit, contact: &Contact) -> DocResult<()> {
    put_str_if_changed(doc, &ROOT, "name", &contact.name)?;
    put_str_if_changed(doc, &ROOT, "company", &contact.company)?;
    put_str_if_changed(doc, &ROOT, "notes", &contact.notes)?;
    let phones = existing(doc, &ROOT, "phones")?;
    set_string_list(doc, &phones, &contact.phones)?;
    let emails = existing(doc, &ROOT, "emails")?;
    set_string_list(doc, &emails, &contact.emails)?;
    let tags = existing(doc, &ROOT, "tags")?;
    set_key_set(doc, &tags, &contact.tags)?;
    let custom = existing(doc, &ROOT, "custom")?;
    set_string_map(doc, &custom, &contact.custom)?;
    doc.put(ROOT, "updated_at", contact.updated_at)?;
    if contact.deleted {
        doc.put(ROOT, "deleted", true)?;
    }
    Ok(())
}

/// The merge's keys, always all three and in this order: scalars at the
/// root (contacts made before merges have no container for them, DESIGN
/// §3), so two concurrent writes resolve, key by key, to the same change's
/// values.
pub const MERGE_KEYS: [&str; 3] = ["merged_into", "merged_at", "merged_by"];

/// Merges the contact into `into`, or clears its merge (`None`): `by` is
/// the writer's own agent, `at` when.
pub fn set_merge(
    doc: &mut AutoCommit,
    into: Option<ContactId>,
    at: Millis,
    by: AgentId,
) -> DocResult<()> {
    let [merged_into, merged_at, merged_by] = MERGE_KEYS;
    doc.put(
        ROOT,
        merged_into,
        into.map(|c| c.to_string()).unwrap_or_default(),
    )?;
    doc.put(ROOT, merged_at, at)?;
    doc.put(ROOT, merged_by, by.to_string())?;
    Ok(())
}

pub fn read<D: ReadDoc>(doc: &D) -> DocResult<Contact> {
    let root = MapReader::root(doc);
    if root.str("kind")? != "contact" {
        return Err(DocError::Invalid {
            path: "kind".into(),
            reason: "not a contact".into(),
        });
    }
    Ok(Contact {
        id: root.parsed("id")?,
        name: root.str("name")?,
        phones: root.list("phones")?.strings()?,
        emails: root.list("emails")?.strings()?,
        company: root.str_or_empty("company")?,
        notes: root.str_or_empty("notes")?,
        tags: root.map("tags")?.key_set()?,
        custom: root.map("custom")?.string_map()?,
        created_at: root.i64("created_at")?,
        updated_at: root.i64("updated_at")?,
        deleted: root.bool("deleted")?,
        merged_into: root.opt_parsed("merged_into")?,
        merged_at: root.opt_i64("merged_at")?.unwrap_or(0),
        merged_by: root.opt_parsed("merged_by")?,
        mail_sender: root.opt_str("mail_sender")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    pub fn sample() -> Contact {
        Contact {
            id: ContactId::new(),
            name: "Marta Ruiz".into(),
            phones: vec!["+34 600 100 200".into()],
            emails: vec!["marta@example.com".into()],
            company: "Acme".into(),
            notes: "Prefers mornings".into(),
            tags: BTreeSet::from(["vip".to_string()]),
            custom: BTreeMap::from([("account".to_string(), "A-17".to_string())]),
            created_at: 10,
            updated_at: 10,
            deleted: false,
            merged_into: None,
            merged_at: 0,
            merged_by: None,
            mail_sender: Some("marta@example.com".into()),
        }
    }

    #[test]
    fn contact_round_trips_and_edits_merge_from_two_peers() {
        let contact = sample();
        let mut doc = AutoCommit::new();
        create(&mut doc, &contact).expect("create");
        assert_eq!(read(&doc).expect("read"), contact);

        let mut other = doc.fork();
        let mut a = contact.clone();
        a.phones.push("+34 600 999 000".into());
        a.updated_at = 11;
        update(&mut doc, &a).expect("update a");
        let mut b = contact.clone();
        b.company = "Acme Iberia".into();
        b.updated_at = 11;
        update(&mut other, &b).expect("update b");
        doc.merge(&mut other).expect("merge");
        let merged = read(&doc).expect("read");
        assert_eq!(merged.company, "Acme Iberia");
        assert_eq!(merged.phones.len(), 2);

        // A merge and its undo are three scalars at the root.
        let into = ContactId::new();
        let by = AgentId::new();
        set_merge(&mut doc, Some(into), 12, by).expect("merge");
        let read_back = read(&doc).expect("read");
        assert_eq!(read_back.merged_into, Some(into));
        assert_eq!((read_back.merged_at, read_back.merged_by), (12, Some(by)));
        set_merge(&mut doc, None, 13, by).expect("unmerge");
        let read_back = read(&doc).expect("read");
        assert_eq!(read_back.merged_into, None);
        assert_eq!(read_back.merged_at, 13);

        let mut deleted = merged.clone();
        deleted.deleted = true;
        update(&mut doc, &deleted).expect("delete");
        assert!(read(&doc).expect("read").deleted);
    }
}
