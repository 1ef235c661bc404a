//! Files attached to messages through a real store and a real blob folder:
//! stored content-addressed beside the store, named in the message, kept
//! across a reopen, checked against their hash, and bounded by the device's
//! limit.

use meshdesk_model::blobs::{Attachment, BlobError, BlobHash, BlobStore};
use meshdesk_model::ops::{self, Context, OpError, Reply, Request};
use meshdesk_model::store::Store;
use meshdesk_model::*;

fn run(store: &mut Store, request: Request) -> Reply {
    match ops::execute(store, &Context::now(), request.clone()) {
        Ok(outcome) => outcome.reply,
        Err(e) => panic!("{request:?} failed: {e}"),
    }
}

fn refusal(store: &mut Store, request: Request) -> OpError {
    match ops::execute(store, &Context::now(), request.clone()) {
        Ok(outcome) => panic!("{request:?} was taken: {:?}", outcome.reply),
        Err(e) => e,
    }
}

fn key() -> meshdesk_model::authorship::DeviceKey {
    meshdesk_model::authorship::DeviceKey::generate()
}

fn store(dir: &std::path::Path, key: meshdesk_model::authorship::DeviceKey) -> Store {
    Store::open(dir.join("meshdesk.redb"), key).expect("open")
}

fn team(store: &mut Store) -> InteractionId {
    run(
        store,
        Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "desk".into(),
        },
    );
    match run(
        store,
        Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "General".into(),
            contact: None,
            to: Some("+34 600 100 200".into()),
            fields: Default::default(),
            message: None,
        },
    ) {
        Reply::Created { id } => id.parse().expect("an interaction id"),
        other => panic!("{other:?}"),
    }
}

fn messages(store: &mut Store, id: InteractionId) -> Vec<Message> {
    match run(store, Request::ShowInteraction { id }) {
        Reply::Interaction(detail) => detail.interaction.messages,
        other => panic!("{other:?}"),
    }
}

fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..5000u32).map(|n| (n % 251) as u8));
    bytes
}

#[test]
fn a_file_sent_is_named_in_the_message_and_read_back_whole_after_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let device = key();
    let mut s = store(dir.path(), device.clone());
    let id = team(&mut s);
    let bytes = png();
    let blobs = s.blobs().expect("blobs");
    let hash = blobs.put(&bytes).expect("put");
    assert_eq!(hash, BlobHash::of(&bytes));
    let mime = meshdesk_model::blobs::sniff_mime("receipt.png", &bytes);
    run(
        &mut s,
        Request::SendFiles {
            id,
            text: String::new(),
            files: vec![Attachment {
                hash,
                size: bytes.len() as u64,
                mime: mime.into(),
                name: "/home/ana/receipt.png".into(),
            }],
            customer: false,
        },
    );
    drop(s);

    let mut s = store(dir.path(), device);
    let last = messages(&mut s, id).pop().expect("a message");
    assert_eq!(last.body, "");
    let [file] = last.attachments.as_slice() else {
        panic!("one file: {last:?}");
    };
    assert_eq!(file.name, "receipt.png", "only the file's own name is kept");
    assert_eq!(file.mime, "image/png");
    assert!(file.is_image());
    assert_eq!(
        s.blobs().expect("blobs").read(&file.hash).expect("read"),
        bytes
    );
    // The Active row previews the file when the message has no text.
    let Reply::Interactions(rows) = run(
        &mut s,
        Request::ListInteractions {
            tab: ops::Tab::Active,
            search: None,
            limit: None,
            history: Default::default(),
        },
    ) else {
        panic!("a list");
    };
    assert_eq!(
        rows.first()
            .map(|r| r.summary.last_message_preview.as_str()),
        Some("File: receipt.png")
    );
}

#[test]
fn a_file_not_in_the_blob_store_or_of_another_size_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), key());
    let id = team(&mut s);
    let before = messages(&mut s, id).len();
    let absent = Attachment {
        hash: BlobHash::of(b"never stored"),
        size: 12,
        mime: "text/plain".into(),
        name: "a.txt".into(),
    };
    let e = refusal(
        &mut s,
        Request::SendFiles {
            id,
            text: "here".into(),
            files: vec![absent.clone()],
            customer: false,
        },
    );
    assert!(e.to_string().contains("is not here"), "{e}");
    let stored = s.blobs().expect("blobs").put(b"never stored").expect("put");
    let e = refusal(
        &mut s,
        Request::SendFiles {
            id,
            text: "here".into(),
            files: vec![Attachment {
                hash: stored,
                size: 99,
                ..absent
            }],
            customer: false,
        },
    );
    assert!(e.is_user_error(), "{e}");
    let e = refusal(
        &mut s,
        Request::SendFiles {
            id,
            text: String::new(),
            files: vec![],
            customer: false,
        },
    );
    assert!(e.to_string().contains("empty"), "{e}");
    assert_eq!(messages(&mut s, id).len(), before);
}

#[test]
fn the_device_limit_refuses_a_larger_file_and_defaults_to_20_mib() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        BlobStore::in_data_dir(dir.path()).expect("blobs").limit(),
        20 * 1024 * 1024
    );
    std::fs::write(dir.path().join("files.json"), r#"{"max_file_bytes": 1000}"#).expect("write");
    let blobs = BlobStore::in_data_dir(dir.path()).expect("blobs");
    assert!(matches!(
        blobs.put(&[1u8; 1001]),
        Err(BlobError::TooLarge {
            size: 1001,
            limit: 1000
        })
    ));
    let path = dir.path().join("big.bin");
    std::fs::write(&path, [2u8; 5000]).expect("write");
    assert!(matches!(
        blobs.put_file(&path),
        Err(BlobError::TooLarge { .. })
    ));
    assert!(blobs.put(&[1u8; 1000]).is_ok());
    std::fs::write(dir.path().join("files.json"), "{oops").expect("write");
    assert!(matches!(
        BlobStore::in_data_dir(dir.path()),
        Err(BlobError::Settings { .. })
    ));
}

#[test]
fn a_file_changed_on_disk_is_reported_never_served_and_wrong_bytes_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = BlobStore::in_data_dir(dir.path()).expect("blobs");
    let hash = blobs.put(b"the real bytes").expect("put");
    let path = blobs.path_of(&hash);
    assert!(path.starts_with(dir.path().join("blobs")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "only this user reads a customer's file"
        );
    }
    std::fs::write(&path, b"other bytes").expect("tamper");
    assert!(matches!(blobs.read(&hash), Err(BlobError::Corrupt { .. })));

    let wanted = BlobHash::of(b"what was asked for");
    assert!(matches!(
        blobs.put_verified(wanted, b"something else"),
        Err(BlobError::WrongBytes { .. })
    ));
    assert!(matches!(blobs.read(&wanted), Err(BlobError::Missing(_))));
    blobs
        .put_verified(wanted, b"what was asked for")
        .expect("the right bytes are stored");
    assert_eq!(blobs.read(&wanted).expect("read"), b"what was asked for");
}
