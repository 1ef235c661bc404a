//! Attaching a file in Active, as an agent would (iced_test's simulator
//! over a real node and store): Attach…, type the file's path, Send file;
//! a picture shows as a thumbnail in the conversation, any other file as
//! its name with a Save button; the node holds the very bytes by hash.

mod support;

use meshdesk::gui::screen::active;
use meshdesk::gui::{TabId, theme};
use meshdesk_model::blobs::BlobHash;
use meshdesk_model::ops::{InteractionDetail, Request};
use support::{Demo, TestResult, Ui};

/// The files of an interaction's messages, as the node holds them.
fn files(ui: &mut Ui, id: &str) -> Result<Vec<(String, String)>, String> {
    let d: InteractionDetail = ui.ask(Request::ShowInteraction {
        id: id.parse().expect("an id"),
    })?;
    Ok(d.interaction
        .messages
        .iter()
        .flat_map(|m| &m.attachments)
        .map(|f| (f.name.clone(), f.hash.to_hex()))
        .collect())
}

/// Waits for the file named by `label` and its thumbnail, which replaces
/// the line that says the picture is on its way.
fn thumbnail_shows(ui: &mut Ui, label: &str) {
    ui.settle_until(label, 5000);
    let mut waited = 0;
    while ui.sees("Loading the picture…") {
        assert!(waited < 5000, "the thumbnail never loaded");
        ui.settle(100);
        waited += 100;
    }
    ui.assert_not_sees("Picture not available");
}

fn attach(ui: &mut Ui, path: &std::path::Path) {
    ui.click("Attach…");
    ui.type_into(active::ATTACH_ID, &path.to_string_lossy());
    ui.click("Send file");
}

#[test]
fn attach_a_picture_and_see_its_thumbnail_and_a_file_by_its_name() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Active);
    ui.click("Lucia Romero");
    let dir = tempfile::tempdir()?;
    let icon = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/icons/meshdesk-128.png"
    );
    let picture = std::fs::read(icon)?;
    let photo = dir.path().join("router.png");
    std::fs::write(&photo, &picture)?;
    attach(&mut ui, &photo);
    thumbnail_shows(&mut ui, "router.png (");

    let notes = dir.path().join("serial-numbers.txt");
    std::fs::write(&notes, "SN 4417-22\n")?;
    attach(&mut ui, &notes);
    ui.settle_until("serial-numbers.txt (11 B) · Save", 5000);
    assert_eq!(
        files(&mut ui, &demo.active_lucia)?,
        vec![
            ("router.png".to_string(), BlobHash::of(&picture).to_hex()),
            (
                "serial-numbers.txt".to_string(),
                BlobHash::of(b"SN 4417-22\n").to_hex()
            ),
        ]
    );
    let mut failures = Vec::new();
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("files-thumbnail-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }

    // Closed, the conversation keeps its files in History: the thumbnail
    // and the file's name with Save.
    ui.call(Request::Finalize {
        id: demo.active_lucia.parse().expect("an id"),
        disposition: "Resolved".into(),
        note: None,
    })?;
    ui.tab(TabId::History);
    ui.click("Lucia Romero");
    ui.settle_until("serial-numbers.txt (11 B) · Save", 5000);
    let mut waited = 0;
    while ui.sees("Loading the picture…") {
        assert!(waited < 5000, "the thumbnail never loaded in History");
        ui.settle(100);
        waited += 100;
    }
    ui.assert_sees("router.png (");
    ui.assert_not_sees("Picture not available");
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("files-history-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }

    // A path that is not there: said, and nothing is sent.
    ui.tab(TabId::Active);
    ui.click("Marta Ruiz");
    attach(&mut ui, &dir.path().join("missing.png"));
    ui.settle_until("cannot read", 3000);
    assert!(files(&mut ui, &demo.active_marta)?.is_empty());
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

#[test]
fn pending_shows_a_waiting_customers_picture_as_a_thumbnail() -> TestResult {
    use meshdesk_model::blobs::{Attachment, BlobStore};
    let demo = Demo::new()?;
    let picture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/icons/meshdesk-128.png"
    ))?;
    // The webchat's intake put the customer's picture in the node's blobs.
    let hash = BlobStore::in_data_dir(demo.seed.dir.path())?.put(&picture)?;
    let tomas = demo.pending_tomas.clone();
    let mut ui = Ui::open(demo.seed)?;
    ui.call(Request::SendFiles {
        id: tomas.parse().expect("an id"),
        text: "This is what the router shows".into(),
        files: vec![Attachment {
            hash,
            size: picture.len() as u64,
            mime: "image/png".into(),
            name: "router.png".into(),
        }],
        customer: true,
    })?;
    ui.tab(TabId::Pending);
    ui.click("Tomas Vidal");
    thumbnail_shows(&mut ui, "router.png (");
    ui.assert_sees("This is what the router shows");
    Ok(())
}
