//! Hostile bytes and faults on a real redb file: decompression bombs from a
//! peer are refused before Automerge sees them, and a document whose stored
//! bytes do not load is quarantined instead of breaking the store.

use meshdesk_model::authorship::{DeviceKey, Sealed};
use meshdesk_model::bounds::testing::{
    compressed_change_chunk, deflated_zeros, document_chunk_with_column, sync_message_with,
};
use meshdesk_model::ops::{self, ContactSpec, Context, Reply, Request};
use meshdesk_model::store::Replication;
use meshdesk_model::store::{Store, StoreError, tables};
use meshdesk_model::*;

type R = Result<(), Box<dyn std::error::Error>>;

fn run(store: &mut Store, request: Request) -> Result<Reply, Box<dyn std::error::Error>> {
    Ok(ops::execute(store, &Context::now(), request)?.reply)
}

fn add_contact(store: &mut Store, name: &str) -> Result<String, Box<dyn std::error::Error>> {
    let spec = ContactSpec {
        name: Some(name.into()),
        ..ContactSpec::default()
    };
    match run(store, Request::AddContact(spec))? {
        Reply::Created { id } => Ok(id),
        other => Err(format!("expected an id, got {other:?}").into()),
    }
}

fn rename(store: &mut Store, id: &str, name: &str) -> R {
    let changes = ContactSpec {
        name: Some(name.into()),
        ..ContactSpec::default()
    };
    run(
        store,
        Request::EditContact {
            id: id.parse()?,
            changes,
        },
    )?;
    Ok(())
}

fn names(store: &Store) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut names: Vec<String> = store
        .contacts(0, 100)?
        .into_iter()
        .map(|c| c.name)
        .collect();
    names.sort();
    Ok(names)
}

fn new_team(path: &std::path::Path, key: DeviceKey) -> Result<Store, Box<dyn std::error::Error>> {
    let mut store = Store::open(path, key)?;
    run(
        &mut store,
        Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "desk".into(),
        },
    )?;
    Ok(store)
}

/// A sync message carrying a compressed change that inflates to `inflated`
/// zero bytes, sealed as the sync protocol sends it.
fn bomb_message(inflated: u64) -> Vec<u8> {
    Sealed {
        seals: vec![],
        bytes: sync_message_with(&compressed_change_chunk(&deflated_zeros(inflated))),
    }
    .encode()
}

#[test]
fn a_decompression_bomb_from_a_peer_is_refused_with_a_typed_error_and_nothing_is_written() -> R {
    let dir = tempfile::tempdir()?;
    let mut store = new_team(&dir.path().join("store.redb"), DeviceKey::generate())?;
    let kept = add_contact(&mut store, "Kept")?;
    let before = store.projection_dump()?;
    let doc = format!("contact:{}", ContactId::new());
    // 4 GiB of zeros in 26 MiB; Automerge alone would try to allocate it all.
    let err = store
        .receive_sync_messages("peer", &[(doc.clone(), bomb_message(4 << 30))])
        .expect_err("a bomb");
    assert!(
        matches!(&err, StoreError::Oversized { doc: d, .. } if *d == doc),
        "{err}"
    );
    assert!(err.to_string().contains("decompression bomb"), "{err}");
    // A whole document whose compressed column is a bomb, in the first sync.
    let whole = Sealed {
        seals: vec![],
        bytes: document_chunk_with_column(&deflated_zeros(1 << 30)),
    }
    .encode();
    let err = store
        .import_docs("peer", vec![(doc.clone(), whole)])
        .expect_err("a bomb");
    assert!(matches!(err, StoreError::Oversized { .. }), "{err}");
    assert_eq!(store.projection_dump()?, before);
    assert!(!store.has_doc(&doc)?);
    // The store goes on as before.
    rename(&mut store, &kept, "Still Here")?;
    assert_eq!(names(&store)?, vec!["Still Here".to_string()]);
    Ok(())
}

#[test]
fn a_batch_of_bombs_each_under_the_limit_is_refused_as_a_whole() -> R {
    let dir = tempfile::tempdir()?;
    let mut store = new_team(&dir.path().join("store.redb"), DeviceKey::generate())?;
    let before = store.projection_dump()?;
    // Each inflates to 1 MiB (under the per-message floor); 300 of them,
    // all held until the batch commits, would be 300 MiB.
    let one = Sealed {
        seals: vec![],
        bytes: sync_message_with(&compressed_change_chunk(&deflated_zeros(1 << 20))),
    }
    .encode();
    let batch: Vec<(String, Vec<u8>)> = (0..300)
        .map(|_| (format!("contact:{}", ContactId::new()), one.clone()))
        .collect();
    // One alone passes the limits (and fails later, as the garbage it is).
    let alone = store
        .receive_sync_messages("peer", &batch[..1])
        .expect_err("garbage");
    assert!(!matches!(alone, StoreError::Oversized { .. }), "{alone}");
    let err = store
        .receive_sync_messages("peer", &batch)
        .expect_err("a batch bomb");
    assert!(
        matches!(
            &err,
            StoreError::Oversized {
                source: meshdesk_model::bounds::DecodeLimitError::Batch { .. },
                ..
            }
        ),
        "{err}"
    );
    // Whole documents that load (each a contact whose one field inflates
    // to almost 1 MiB): the batch is refused on its size, once the
    // documents loaded so far reach the bound, and nothing of it is stored.
    let mut big = automerge::AutoCommit::new();
    automerge::transaction::Transactable::put(
        &mut big,
        automerge::ROOT,
        "notes",
        "z".repeat((1 << 20) - 8192),
    )?;
    let big = big.save();
    let docs: Vec<(String, Vec<u8>)> = batch
        .iter()
        .map(|(doc, _)| {
            let whole = Sealed {
                seals: vec![],
                bytes: big.clone(),
            };
            (doc.clone(), whole.encode())
        })
        .collect();
    let err = store.import_docs("peer", docs).expect_err("a batch bomb");
    assert!(err.to_string().contains("a batch of documents"), "{err}");
    // A garbage document in the batch ends it as well.
    let garbage: Vec<(String, Vec<u8>)> = batch
        .iter()
        .map(|(doc, _)| {
            let whole = Sealed {
                seals: vec![],
                bytes: document_chunk_with_column(&deflated_zeros(1 << 20)),
            };
            (doc.clone(), whole.encode())
        })
        .collect();
    store
        .import_docs("peer", garbage)
        .expect_err("garbage documents");
    assert_eq!(store.projection_dump()?, before);
    Ok(())
}

/// Flips the first byte of every copy of `needle` in the file at `path`
/// (redb keeps values whole in its pages; an older page may hold a copy too).
fn corrupt_on_disk(
    path: &std::path::Path,
    needle: &[u8],
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut file = std::fs::read(path)?;
    let mut hits = Vec::new();
    for at in 0..file.len().saturating_sub(needle.len()) {
        if file[at..].starts_with(needle) {
            hits.push(at);
        }
    }
    for &at in &hits {
        // The chunk's magic number: Automerge refuses it at once.
        file[at] ^= 0xff;
    }
    std::fs::write(path, file)?;
    Ok(hits.len())
}

/// Sets the projections' version back so that opening rebuilds them.
fn make_projections_stale(path: &std::path::Path) -> R {
    let db = redb::Database::open(path)?;
    let txn = db.begin_write()?;
    txn.open_table(tables::LOCAL)?
        .insert("projection_version", 0u64.to_le_bytes().as_slice())?;
    txn.commit()?;
    Ok(())
}

/// Runs the Automerge sync exchange for `docs` between two stores until quiet.
fn sync_pair(
    a: &mut Store,
    b: &mut Store,
    docs: &[String],
) -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    let mut refused_by_b = Vec::new();
    for _ in 0..8 {
        let mut to_b = Vec::new();
        for doc in docs {
            if let Some(m) = a.generate_sync_message("b", doc)? {
                to_b.push((doc.clone(), m));
            }
        }
        let got = b.receive_sync_messages("a", &to_b)?;
        refused_by_b.extend(got.refused);
        let mut to_a = Vec::new();
        for doc in docs {
            if let Some(m) = b.generate_sync_message("a", doc)? {
                to_a.push((doc.clone(), m));
            }
        }
        if to_a.is_empty() && to_b.is_empty() {
            break;
        }
        a.receive_sync_messages("b", &to_a)?;
    }
    Ok(refused_by_b)
}

#[test]
fn a_document_corrupt_on_disk_is_quarantined_and_the_store_opens_syncs_and_rebuilds() -> R {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.redb");
    let key = DeviceKey::generate();
    let mut store = new_team(&path, key.clone())?;
    let kept = add_contact(&mut store, "Kept")?;
    let broken = add_contact(&mut store, "Broken")?;
    let broken_doc = format!("contact:{broken}");
    let kept_doc = format!("contact:{kept}");
    let raw = store
        .raw_doc_bytes(std::slice::from_ref(&broken_doc), usize::MAX)?
        .pop()
        .ok_or("the document is stored")?;
    let stored = Sealed::decode(&raw.bytes)?.bytes;
    drop(store);
    // A copy of the device's store as it was: the teammate it syncs with.
    let peer_path = dir.path().join("peer.redb");
    std::fs::copy(&path, &peer_path)?;
    make_projections_stale(&path)?;
    assert!(
        corrupt_on_disk(&path, &stored)? > 0,
        "the document's bytes are in the file"
    );

    // Opening rebuilds the projections: the broken document is quarantined,
    // not fatal, and everything else is there.
    let mut store = Store::open(&path, key.clone())?;
    assert_eq!(names(&store)?, vec!["Kept".to_string()]);
    let malformed = store.malformed()?;
    assert_eq!(malformed.len(), 1, "{malformed:?}");
    assert_eq!(malformed[0].0, broken_doc);
    assert!(
        malformed[0].1.starts_with("quarantined: cannot be loaded"),
        "{malformed:?}"
    );
    assert!(store.quarantine_reason(&broken_doc).is_some());
    // Its bytes are kept.
    assert!(store.has_doc(&broken_doc)?);
    // It is not listed, so editing it is refused; loading it is a clear error.
    rename(&mut store, &broken, "Fixed").expect_err("not listed");
    let err = store
        .with_doc(&broken_doc.parse()?, |_| ())
        .expect_err("quarantined");
    assert!(matches!(err, StoreError::Quarantined { .. }), "{err}");
    rename(&mut store, &kept, "Kept Here")?;

    // Sync skips it: nothing is offered for it, and a teammate's changes
    // to it are refused (the exchange ends) while the rest of the batch lands.
    assert_eq!(store.generate_sync_message("b", &broken_doc)?, None);
    let mut peer = Store::open(&peer_path, key.clone())?;
    rename(&mut peer, &broken, "Broken Elsewhere")?;
    let refused = sync_pair(
        &mut peer,
        &mut store,
        &[kept_doc.clone(), broken_doc.clone()],
    )?;
    assert!(refused.iter().any(|(d, _)| *d == broken_doc), "{refused:?}");
    assert_eq!(names(&store)?, vec!["Kept Here".to_string()]);
    assert_eq!(
        names(&peer)?,
        vec!["Broken Elsewhere".to_string(), "Kept Here".to_string()]
    );

    // A rebuild skips it again, and so does the next open.
    store.rebuild_projections()?;
    assert_eq!(store.malformed()?.len(), 1);
    drop(store);
    let store = Store::open(&path, key)?;
    assert_eq!(names(&store)?, vec!["Kept Here".to_string()]);
    assert!(store.quarantine_reason(&broken_doc).is_some());
    Ok(())
}

#[test]
fn a_document_found_corrupt_when_loaded_is_quarantined_then_and_there() -> R {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.redb");
    let key = DeviceKey::generate();
    let mut store = new_team(&path, key.clone())?;
    let kept = add_contact(&mut store, "Kept")?;
    let broken = add_contact(&mut store, "Broken")?;
    let broken_doc = format!("contact:{broken}");
    let kept_doc = format!("contact:{kept}");
    let raw = store
        .raw_doc_bytes(std::slice::from_ref(&broken_doc), usize::MAX)?
        .pop()
        .ok_or("the document is stored")?;
    let stored = Sealed::decode(&raw.bytes)?.bytes;
    drop(store);
    let peer_path = dir.path().join("peer.redb");
    std::fs::copy(&path, &peer_path)?;
    assert!(corrupt_on_disk(&path, &stored)? > 0);

    // The projections are current: opening reads no document.
    let mut store = Store::open(&path, key.clone())?;
    assert_eq!(
        names(&store)?,
        vec!["Broken".to_string(), "Kept".to_string()]
    );
    // A teammate's batch touching it: refused for that document, applied
    // for the others, not an error for the whole batch.
    let mut peer = Store::open(&peer_path, key)?;
    rename(&mut peer, &broken, "Broken Elsewhere")?;
    rename(&mut peer, &kept, "Kept Elsewhere")?;
    let refused = sync_pair(&mut peer, &mut store, &[broken_doc.clone(), kept_doc])?;
    assert!(refused.iter().any(|(d, _)| *d == broken_doc), "{refused:?}");
    assert_eq!(names(&store)?, vec!["Kept Elsewhere".to_string()]);
    let malformed = store.malformed()?;
    assert_eq!(malformed.len(), 1, "{malformed:?}");
    assert!(malformed[0].1.contains("cannot be loaded"), "{malformed:?}");
    Ok(())
}

#[test]
fn doctor_finds_nothing_wrong_in_a_healthy_store_and_each_kind_of_damage_in_a_damaged_one() -> R {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.redb");
    let key = DeviceKey::generate();
    let mut store = new_team(&path, key.clone())?;
    let kept = add_contact(&mut store, "Kept")?;
    let other = add_contact(&mut store, "Other")?;
    let report = store.doctor()?;
    assert!(report.healthy(), "{report:?}");
    assert_eq!(report.documents, 4, "team, agent, two contacts");
    drop(store);

    // A projection row gone, and one document's seals garbled.
    {
        let db = redb::Database::open(&path)?;
        let txn = db.begin_write()?;
        txn.open_table(tables::CONTACTS)?.remove(kept.as_str())?;
        txn.open_table(tables::DOC_SEALS)?.insert(
            format!("contact:{other}").as_str(),
            [0xffu8, 0xff, 0xff].as_slice(),
        )?;
        txn.commit()?;
    }
    let mut store = Store::open(&path, key)?;
    let before = store.projection_dump()?;
    let report = store.doctor()?;
    assert!(!report.healthy());
    let text = format!("{report:?}");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.problem.contains("projection row contacts:") && p.problem.contains(&kept)),
        "{text}"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.doc.as_deref() == Some(&format!("contact:{other}"))
                && p.problem.contains("seals cannot be read")),
        "{text}"
    );
    // The doctor changed nothing.
    assert_eq!(store.projection_dump()?, before);
    assert!(store.malformed()?.is_empty());
    Ok(())
}

/// A small tmpfs mounted for one test; unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` (and a message) where mounting is not permitted.
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => Some(SmallDisk { dir }),
            _ => {
                eprintln!("skipped: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)");
                None
            }
        }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_every_acknowledged_write_survives() -> R {
    let Some(disk) = SmallDisk::mount("6m") else {
        return Ok(());
    };
    let path = disk.path().join("store.redb");
    let key = DeviceKey::generate();
    let mut store = new_team(&path, key.clone())?;
    // Leave a little room, then write until the disk is full.
    let filler = disk.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler)?;
        let block = vec![0x5au8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
    }
    let freed = 1024 * 1024;
    std::fs::File::options()
        .write(true)
        .open(&filler)?
        .set_len(std::fs::metadata(&filler)?.len().saturating_sub(freed))?;
    let mut acknowledged = Vec::new();
    let failure = loop {
        let name = format!("Customer {} {}", acknowledged.len(), "x".repeat(400));
        match ops::execute(
            &mut store,
            &Context::now(),
            Request::AddContact(ContactSpec {
                name: Some(name.clone()),
                notes: Some("n".repeat(4000)),
                ..ContactSpec::default()
            }),
        ) {
            Ok(_) => acknowledged.push(name),
            Err(e) => break e,
        }
        assert!(acknowledged.len() < 100_000, "the disk never filled");
    };
    assert!(!acknowledged.is_empty());
    let message = failure.to_string();
    assert!(message.contains("disk is full"), "{message}");
    // A second try is refused as clearly (redb takes no more writes after
    // one failed part-way, until the store is opened again).
    let again = run(
        &mut store,
        Request::AddContact(ContactSpec {
            name: Some("One More".into()),
            ..ContactSpec::default()
        }),
    )
    .expect_err("still full");
    let again = again.to_string();
    assert!(
        again.contains("disk") && again.contains("not saved"),
        "{again}"
    );
    drop(store);

    // Space freed, the store reopens with every acknowledged write.
    std::fs::remove_file(&filler)?;
    let mut store = Store::open(&path, key)?;
    let mut listed: Vec<String> = store
        .contacts(0, 100_000)?
        .into_iter()
        .map(|c| c.name)
        .collect();
    listed.sort();
    acknowledged.sort();
    assert_eq!(listed, acknowledged);
    assert!(store.doctor()?.healthy());
    // And it takes writes again.
    add_contact(&mut store, "After")?;
    Ok(())
}
