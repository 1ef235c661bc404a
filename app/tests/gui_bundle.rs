//! Export bundle… and Import bundle… in the window: the rail's Team menu
//! opens the dialog, the node writes or checks the file, and the dialog
//! shows what it did, or why a bundle was refused.

mod support;

use meshdesk::gui::inbox::{Message as InboxMessage, TeamAction};
use meshdesk::gui::modal::bundle;
use meshdesk::gui::{Message, Shortcut, theme};
use support::{Demo, TestResult, Ui};

fn open_dialog(ui: &mut Ui, action: TeamAction) {
    ui.send(Message::Inbox(InboxMessage::TeamMenu(action)));
}

#[test]
fn a_bundle_exported_from_the_window_imports_and_an_altered_one_is_refused() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    let mut failures = Vec::new();
    // Snapshots need the same path on every run.
    let dir = std::env::temp_dir().join("meshdesk-gui-bundle");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("team.mdbundle");
    let _ = std::fs::remove_file(&file);

    open_dialog(&mut ui, TeamAction::ExportBundle);
    ui.assert_sees("Export bundle");
    ui.clear(bundle::PATH_ID);
    // Nothing named: the dialog says what is missing and stays.
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Name the bundle file, like ~/team.mdbundle.");
    ui.type_into(bundle::PATH_ID, &file.display().to_string());
    ui.shortcut(Shortcut::Enter);
    ui.settle_until("Carry it to the other device", 20_000);
    assert!(file.exists(), "no bundle at {}", file.display());
    ui.assert_sees("Wrote ");
    ui.click("Close");
    ui.assert_not_sees("Export bundle");

    // An altered copy is refused, with the reason.
    let altered = dir.join("altered.mdbundle");
    let mut bytes = std::fs::read(&file)?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&altered, bytes)?;
    open_dialog(&mut ui, TeamAction::ImportBundle);
    ui.type_into(bundle::PATH_ID, &altered.display().to_string());
    ui.shortcut(Shortcut::Enter);
    ui.settle_until("altered or truncated", 20_000);
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("bundle-refused-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    ui.click("Cancel");

    // The honest one: everything is already here. While the node imports,
    // its progress reaches the dialog.
    open_dialog(&mut ui, TeamAction::ImportBundle);
    ui.type_into(bundle::PATH_ID, &file.display().to_string());
    let import = ui.app.update(Message::Shortcut(Shortcut::Enter));
    let mut shown = String::new();
    ui.run_events_first(import, |ui| {
        if shown.is_empty() && ui.sees("documents checked and merged") {
            shown = "progress".into();
            for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
                if let Err(e) = ui.snapshot(&format!("bundle-importing-{mode}"), &theme) {
                    failures.push(e.to_string());
                }
            }
        }
    });
    assert_eq!(shown, "progress", "the dialog showed no progress");
    ui.settle_until("0 refused.", 20_000);
    ui.assert_not_sees("documents checked and merged");
    ui.assert_sees("0 new, 0 updated");
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("bundle-imported-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}
