//! Export bundle… and Import bundle… (the rail's Team menu): the team's
//! documents in a file sealed with the team key, carried by hand to a
//! device that never meets this one on a network. The node writes and
//! checks the file; the dialog shows that it works, then what it did, or
//! why a bundle was refused.

use std::path::PathBuf;

use iced::widget::{Space, column, progress_bar, row, text};
use iced::{Length, Task};
use meshdesk_sync::node::{BundleExported, BundleReport};

use super::{Event, actions, dialog_button, frame};
use crate::gui::backend::{Backend, Error};
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, dialog_input, error_box, field, muted};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

pub const PATH_ID: &str = "bundle-path";

/// Which way the bundle goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    Export,
    Import,
}

#[derive(Debug)]
pub struct Bundle {
    way: Way,
    path: String,
    tried: bool,
    busy: bool,
    /// An import's documents done and all, as the node reports them.
    progress: Option<(usize, usize)>,
    /// What the last run did, line by line.
    done: Option<Vec<String>>,
    error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Message {
    Path(String),
    Confirm,
    Cancel,
    Exported(Result<BundleExported, Error>),
    Imported(Result<BundleReport, Error>),
}

/// The file the field names, if it names one: `~/` is the home directory,
/// and a relative path is taken from the home directory too (the window
/// has no working directory a person would know).
pub fn bundle_path(raw: &str) -> Option<PathBuf> {
    let raw = raw.trim();
    if raw.is_empty() || raw.ends_with('/') {
        return None;
    }
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    let path = match (raw.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        (None, Some(home)) if !raw.starts_with('/') => home.join(raw),
        _ => PathBuf::from(raw),
    };
    Some(path)
}

/// What an export did, for the dialog.
pub fn export_lines(done: &BundleExported) -> Vec<String> {
    let mut lines = vec![format!(
        "Wrote {} documents ({}) to {}.",
        done.documents,
        size(done.bytes),
        done.path
    )];
    if done.left_out > 0 {
        lines.push(format!(
            "Left out {} documents that are damaged here.",
            done.left_out
        ));
    }
    lines.push("Carry it to the other device and import it there.".into());
    lines
}

/// What an import did, for the dialog.
pub fn import_lines(report: &BundleReport) -> Vec<String> {
    let i = &report.imported;
    let mut lines = vec![format!(
        "{} new, {} updated, {} already here, {} refused.",
        i.new,
        i.updated,
        i.unchanged,
        i.refused.len()
    )];
    for (doc, reason) in i.refused.iter().take(5) {
        lines.push(format!("Refused {doc}: {reason}"));
    }
    if i.refused.len() > 5 {
        lines.push(format!("… and {} more (see the log).", i.refused.len() - 5));
    }
    lines
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KB", b / 1024),
        b => format!("{b} bytes"),
    }
}

impl Bundle {
    pub fn new(way: Way) -> Bundle {
        Bundle {
            way,
            path: match way {
                Way::Export => "~/team.mdbundle".into(),
                Way::Import => String::new(),
            },
            tried: false,
            busy: false,
            progress: None,
            done: None,
            error: None,
        }
    }

    /// The node's word on a running import.
    pub fn progress(&mut self, done: usize, total: usize) {
        if self.busy && self.way == Way::Import {
            self.progress = Some((done, total));
        }
    }

    /// Opening the dialog puts the cursor in the path.
    pub fn focus() -> Task<Message> {
        iced::widget::operation::focus(PATH_ID)
    }

    pub fn update(&mut self, message: Message, backend: &Backend) -> Update {
        match message {
            Message::Path(p) => {
                self.path = p;
                self.error = None;
                (Task::none(), None)
            }
            Message::Confirm if self.done.is_some() => (Task::none(), Some(Event::Close)),
            Message::Confirm => {
                self.tried = true;
                let Some(path) = bundle_path(&self.path) else {
                    return (Task::none(), None);
                };
                if self.busy {
                    return (Task::none(), None);
                }
                self.busy = true;
                self.progress = None;
                self.error = None;
                let backend = backend.clone();
                let task = match self.way {
                    Way::Export => Task::perform(
                        async move { backend.export_bundle(path).await },
                        Message::Exported,
                    ),
                    Way::Import => Task::perform(
                        async move { backend.import_bundle(path).await },
                        Message::Imported,
                    ),
                };
                (task, None)
            }
            Message::Cancel => (Task::none(), Some(Event::Close)),
            Message::Exported(result) => {
                self.busy = false;
                match result {
                    Ok(done) => self.done = Some(export_lines(&done)),
                    Err(e) => self.error = Some(e.to_string()),
                }
                (Task::none(), None)
            }
            Message::Imported(result) => {
                self.busy = false;
                match result {
                    Ok(report) => self.done = Some(import_lines(&report)),
                    Err(e) => self.error = Some(e.to_string()),
                }
                (Task::none(), None)
            }
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let (title, hint, action, working) = match self.way {
            Way::Export => (
                "Export bundle",
                "Writes the team's documents to a file sealed with the team key, for a teammate's device that cannot reach this one. Only devices of this team can open it.",
                "Export",
                "Exporting…",
            ),
            Way::Import => (
                "Import bundle",
                "Merges a bundle from a teammate's device. Every change is checked as sync checks it: a bundle that was altered, or is another team's, changes nothing.",
                "Import",
                "Importing and checking every document…",
            ),
        };
        let mut col = column![text(title).size(18), muted(hint)].spacing(14);
        let problem = (self.tried && bundle_path(&self.path).is_none())
            .then_some("Name the bundle file, like ~/team.mdbundle.");
        col = col.push(field(
            "File",
            dialog_input(
                PATH_ID,
                "~/team.mdbundle",
                &self.path,
                Message::Path,
                Message::Confirm,
            ),
            problem,
        ));
        if self.busy {
            match self.progress {
                Some((done, total)) if total > 0 => {
                    col = col.push(
                        column![
                            progress_bar(0.0..=total as f32, done as f32).girth(6),
                            text(format!("{done} of {total} documents checked and merged"))
                                .size(SMALL)
                                .style(theme::texts::muted),
                        ]
                        .spacing(6),
                    );
                }
                _ => col = col.push(text(working).size(SMALL).style(theme::texts::muted)),
            }
        }
        if let Some(lines) = &self.done {
            let mut done = column![].spacing(4);
            for line in lines {
                done = done.push(text(line.clone()).size(TEXT));
            }
            col = col.push(done);
        }
        if let Some(e) = &self.error {
            col = col.push(error_box(e));
        }
        col = col.push(if self.done.is_some() {
            row![
                Space::new().width(Length::Fill),
                dialog_button("Close", Some(Message::Cancel), true),
            ]
        } else {
            actions(
                Message::Cancel,
                action,
                (!self.busy).then_some(Message::Confirm),
            )
        });
        frame(col, 520.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_names_a_file_from_home_or_in_full() {
        assert_eq!(bundle_path("  "), None);
        assert_eq!(bundle_path("/tmp/"), None);
        assert_eq!(
            bundle_path("/tmp/a.mdbundle"),
            Some(PathBuf::from("/tmp/a.mdbundle"))
        );
        let home = bundle_path("~/a.mdbundle").expect("a path");
        assert!(home.is_absolute() && home.ends_with("a.mdbundle"));
        assert_eq!(bundle_path("a.mdbundle"), Some(home));
    }
}
