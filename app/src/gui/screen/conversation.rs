//! An interaction as the detail panes show it: the messages, the customer's
//! card, and the record of what happened (transfers, notes, disposition).
//! Message bodies are plain text: whatever markup a customer typed is shown
//! as the characters they typed.

use std::collections::HashMap;

use iced::widget::{Row, Space, column, container, image, row, scrollable, text};
use iced::{Alignment, ContentFit, Length, Padding, Task};
use meshdesk_model::blobs::{Attachment, BlobHash};
use meshdesk_model::ops::InteractionDetail;
use meshdesk_model::{Author, InteractionState, Millis, Note, TransferTarget};

use super::Toast;
use crate::gui::backend::{Backend, Error};
use crate::gui::clock;
use crate::gui::session::{Session, channel_label};
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, fact, muted, tags_fact, title};

/// How an interaction's state reads.
pub fn state_label(state: InteractionState) -> &'static str {
    match state {
        InteractionState::Queued => "Queued",
        InteractionState::Active => "Active",
        InteractionState::WrapUp => "Wrap-up",
        InteractionState::Closed => "Closed",
    }
}

/// The display name of whoever an interaction is with.
pub fn who(detail: &InteractionDetail) -> String {
    let i = &detail.interaction;
    match &detail.contact {
        Some(c) if !c.name.is_empty() => c.name.clone(),
        _ if !i.contact_name.is_empty() => i.contact_name.clone(),
        _ => i.address.clone(),
    }
}

/// Name, campaign, channel and address.
pub fn header<'a, M: 'a>(detail: &'a InteractionDetail) -> Element<'a, M> {
    let i = &detail.interaction;
    let campaign = detail
        .campaign
        .as_ref()
        .map(|c| c.name.as_str())
        .unwrap_or("unknown campaign");
    let mut line = format!("{campaign} · {}", channel_label(i.channel));
    if !i.address.is_empty() && i.address != who(detail) {
        line.push_str(" · ");
        line.push_str(&i.address);
    }
    if !i.subject.is_empty() {
        line.push_str(" · ");
        line.push_str(&i.subject);
    }
    if i.contact_unverified {
        line.push_str(" · ");
        line.push_str(UNVERIFIED);
    }
    column![title(who(detail)), muted(line)].spacing(2).into()
}

/// Said wherever a chat is linked to a phonebook entry only because the
/// visitor typed that entry's email.
const UNVERIFIED: &str = "contact unverified: the visitor typed this email";

/// The phonebook link's standing, when it is not to be trusted.
fn unverified_fact<'a, M: 'a>(detail: &InteractionDetail) -> Option<Element<'a, M>> {
    detail
        .interaction
        .contact_unverified
        .then(|| fact("Link", UNVERIFIED.to_string()))
}

/// The side of a thumbnail, in logical pixels.
pub const THUMBNAIL: f32 = 180.0;

/// What the window holds of the files a conversation shows: each picture's
/// decoded bytes once fetched through the node (which fetches them from a
/// teammate when this device lacks them).
#[derive(Debug, Default)]
pub struct Files {
    shown: HashMap<BlobHash, Shown>,
}

#[derive(Debug, Clone)]
enum Shown {
    Loading,
    Picture(image::Handle),
    Failed(String),
}

impl Files {
    /// The pictures of `detail` not asked for yet, now marked as loading.
    pub fn wanted(&mut self, detail: &InteractionDetail) -> Vec<BlobHash> {
        let mut wanted = Vec::new();
        for file in detail
            .interaction
            .messages
            .iter()
            .flat_map(|m| &m.attachments)
            .filter(|f| f.is_image())
        {
            if let std::collections::hash_map::Entry::Vacant(e) = self.shown.entry(file.hash) {
                e.insert(Shown::Loading);
                wanted.push(file.hash);
            }
        }
        wanted
    }

    /// A picture's bytes arrived (or could not be had).
    pub fn loaded(&mut self, hash: BlobHash, bytes: Result<Vec<u8>, String>) {
        let shown = match bytes {
            Ok(bytes) => Shown::Picture(image::Handle::from_bytes(bytes)),
            Err(e) => Shown::Failed(e),
        };
        self.shown.insert(hash, shown);
    }

    /// Forgets a picture that could not be had, so it is asked for again.
    pub fn retry_failed(&mut self) {
        self.shown.retain(|_, s| !matches!(s, Shown::Failed(_)));
    }

    /// Asks the node for the pictures of `detail` not asked for yet (it
    /// fetches them from a teammate when this device lacks them); `done`
    /// gets each one's bytes.
    pub fn fetch<M: Send + 'static>(
        &mut self,
        detail: &InteractionDetail,
        backend: &Backend,
        done: impl Fn(BlobHash, Result<Vec<u8>, Error>) -> M + Clone + Send + 'static,
    ) -> Task<M> {
        Task::batch(self.wanted(detail).into_iter().map(|hash| {
            let backend = backend.clone();
            let done = done.clone();
            Task::perform(async move { backend.file_bytes(hash).await }, move |r| {
                done(hash, r)
            })
        }))
    }
}

/// Saves a file a message names into the Downloads folder; `done` gets
/// where it went.
pub fn save_file<M: Send + 'static>(
    backend: &Backend,
    file: Attachment,
    done: fn(Result<std::path::PathBuf, Error>) -> M,
) -> Task<M> {
    let backend = backend.clone();
    let dir = crate::gui::backend::downloads_dir();
    Task::perform(async move { backend.save_file(file, dir).await }, done)
}

/// What a saved (or unsaved) file tells the agent.
pub fn saved_toast(result: Result<std::path::PathBuf, Error>) -> Toast {
    match result {
        Ok(path) => Toast::Info(format!("Saved to {}", path.display())),
        Err(e) => Toast::Error(e.to_string()),
    }
}

/// A file in a message: its thumbnail if it is a picture, and a button
/// that saves it under its name (or just its name, where nothing saves).
fn file_view<'a, M: Clone + 'a>(
    file: &'a Attachment,
    files: &'a Files,
    save: Option<fn(Attachment) -> M>,
) -> Element<'a, M> {
    let mut col = column![].spacing(4);
    if file.is_image() {
        match files.shown.get(&file.hash) {
            Some(Shown::Picture(handle)) => {
                col = col.push(
                    image(handle.clone())
                        .width(Length::Fixed(THUMBNAIL))
                        .height(Length::Fixed(THUMBNAIL))
                        .content_fit(ContentFit::Contain),
                );
            }
            Some(Shown::Failed(e)) => col = col.push(muted(format!("Picture not available: {e}"))),
            _ => col = col.push(muted("Loading the picture…")),
        }
    }
    let label = format!("{} ({}) · Save", file.name, size_text(file.size));
    col = col.push(match save {
        Some(save) => iced::widget::button(text(label).size(SMALL))
            .on_press(save(file.clone()))
            .padding([3, 8])
            .style(theme::buttons::secondary)
            .into(),
        None => Element::from(text(label).size(SMALL)),
    });
    col.into()
}

/// A size as people read it: 812 B, 34 KB, 4.8 MB.
pub fn size_text(bytes: u64) -> String {
    const KB: u64 = 1024;
    if bytes < KB {
        format!("{bytes} B")
    } else if bytes < KB * KB {
        format!("{} KB", bytes.div_ceil(KB))
    } else {
        format!("{:.1} MB", bytes as f64 / (KB * KB) as f64)
    }
}

/// The messages, oldest first, the newest in view; files as thumbnails
/// (pictures) and buttons that save them (`save`; none: names only).
pub fn messages<'a, M: Clone + 'a>(
    detail: &'a InteractionDetail,
    session: &'a Session,
    id: &'static str,
    files: &'a Files,
    save: Option<fn(Attachment) -> M>,
) -> Element<'a, M> {
    let me = session.me();
    let contact = who(detail);
    let mut list = column![].spacing(10).padding([8, 16]);
    let ordered = detail.interaction.messages_in_order();
    if ordered.is_empty() {
        list = list.push(muted("No messages yet."));
    }
    // Notes and take-backs stand between the messages at their time.
    let mut by_time: Vec<Aside<'_>> = detail.interaction.notes.iter().map(Aside::Note).collect();
    let name = |a| {
        detail
            .agent_names
            .get(&a)
            .cloned()
            .unwrap_or_else(|| session.agent_name(a))
    };
    for (n, t) in detail.interaction.transfers.iter().enumerate() {
        if let Some(line) = detail.interaction.take_back_line(n, name) {
            by_time.push(Aside::TakeBack(t.at, line));
        }
    }
    by_time.sort_by_key(Aside::at);
    let mut notes = by_time.into_iter().peekable();
    for m in ordered {
        while let Some(n) = notes.next_if(|n| n.at() <= m.at) {
            list = list.push(n.view(detail, session));
        }
        let (name, mine) = match m.author {
            Author::Agent(a) if Some(a) == me => ("You".to_string(), true),
            Author::Agent(a) => (
                detail
                    .agent_names
                    .get(&a)
                    .cloned()
                    .unwrap_or_else(|| session.agent_name(a)),
                false,
            ),
            Author::Contact => (contact.clone(), false),
            Author::System => ("meshdesk".to_string(), false),
        };
        let stamp = clock::stamp(session.now, m.at, session.zone);
        let mut inside = column![muted(format!("{name} · {stamp}"))].spacing(3);
        if !m.body.is_empty() || m.attachments.is_empty() {
            inside = inside.push(text(m.body.as_str()).size(TEXT));
        }
        for file in &m.attachments {
            inside = inside.push(file_view(file, files, save));
        }
        let bubble = container(inside)
            .padding([8, 12])
            .max_width(560)
            .style(if mine {
                theme::boxes::bubble_mine
            } else {
                theme::boxes::bubble_theirs
            });
        let line = if mine {
            row![Space::new().width(Length::Fill), bubble]
        } else {
            row![bubble, Space::new().width(Length::Fill)]
        };
        list = list.push(line.width(Length::Fill));
    }
    for n in notes {
        list = list.push(n.view(detail, session));
    }
    scrollable(list)
        .id(iced::widget::Id::new(id))
        .anchor_bottom()
        .height(Length::Fill)
        .width(Length::Fill)
        .style(theme::inputs::scroll)
        .into()
}

/// What stands between the messages: an internal note, or the line saying
/// the interaction was taken back (who, from whom, why).
enum Aside<'a> {
    Note(&'a Note),
    TakeBack(Millis, String),
}

impl<'a> Aside<'a> {
    fn at(&self) -> Millis {
        match self {
            Aside::Note(n) => n.at,
            Aside::TakeBack(at, _) => *at,
        }
    }

    fn view<M: 'a>(self, detail: &InteractionDetail, session: &Session) -> Element<'a, M> {
        match self {
            Aside::Note(n) => note(n, detail, session),
            Aside::TakeBack(at, line) => {
                let stamp = clock::stamp(session.now, at, session.zone);
                container(
                    text(format!("{line} · {stamp}"))
                        .size(SMALL)
                        .style(theme::texts::muted),
                )
                .center_x(Length::Fill)
                .padding([2, 0])
                .into()
            }
        }
    }
}

/// An internal note, styled so it is never taken for a message the
/// customer saw.
fn note<'a, M: 'a>(n: &'a Note, detail: &InteractionDetail, session: &Session) -> Element<'a, M> {
    let name = if Some(n.agent) == session.me() {
        "You".to_string()
    } else {
        detail
            .agent_names
            .get(&n.agent)
            .cloned()
            .unwrap_or_else(|| session.agent_name(n.agent))
    };
    let stamp = clock::stamp(session.now, n.at, session.zone);
    let card = container(
        column![
            text(format!("Internal note · {name} · {stamp}"))
                .size(SMALL)
                .style(theme::texts::warning),
            text(n.text.as_str()).size(TEXT)
        ]
        .spacing(3),
    )
    .padding([8, 12])
    .max_width(560)
    .style(theme::boxes::note);
    row![card, Space::new().width(Length::Fill)]
        .width(Length::Fill)
        .into()
}

/// The customer's card: the phonebook entry (if any) and the interaction's fields.
pub fn facts<'a, M: 'a>(detail: &'a InteractionDetail, session: &'a Session) -> Element<'a, M> {
    let i = &detail.interaction;
    let mut col = column![text("Contact").size(TEXT)].spacing(6);
    if let Some(link) = unverified_fact(detail) {
        col = col.push(link);
    }
    match &detail.contact {
        Some(c) => {
            col = col.push(fact("Name", c.name.clone()));
            if !c.phones.is_empty() {
                col = col.push(fact("Phone", c.phones.join(", ")));
            }
            if !c.emails.is_empty() {
                col = col.push(fact("Email", c.emails.join(", ")));
            }
            if !c.company.is_empty() {
                col = col.push(fact("Company", c.company.clone()));
            }
            if !c.tags.is_empty() {
                col = col.push(tags_fact(&c.tags));
            }
            if !c.notes.is_empty() {
                col = col.push(fact("Notes", c.notes.clone()));
            }
        }
        None => {
            col = col.push(muted("Not in the phonebook"));
        }
    }
    col = col.push(fact("Address", i.address.clone()));
    col = col.push(Space::new().height(Length::Fixed(6.0)));
    col = col.push(text("Interaction").size(TEXT));
    col = col.push(fact("Channel", channel_label(i.channel).to_string()));
    col = col.push(fact("Direction", i.direction.to_string()));
    col = col.push(fact(
        "Started",
        clock::stamp(session.now, i.created_at, session.zone),
    ));
    for (k, v) in &i.fields {
        col = col.push(fact("Field", format!("{k}: {v}")));
    }
    if !i.tags.is_empty() {
        col = col.push(tags_fact(&i.tags));
    }
    container(scrollable(col.padding(12)).style(theme::inputs::scroll))
        .style(theme::boxes::card)
        .width(Length::Fill)
        .into()
}

/// What happened to it: disposition, notes and transfers.
pub fn record<'a, M: 'a>(detail: &'a InteractionDetail, session: &'a Session) -> Element<'a, M> {
    let i = &detail.interaction;
    let name = |a| {
        detail
            .agent_names
            .get(&a)
            .cloned()
            .unwrap_or_else(|| session.agent_name(a))
    };
    let mut col = column![].spacing(6);
    if let Some(f) = &i.finalization {
        col = col.push(fact("Disposition", f.disposition.clone()));
        col = col.push(fact(
            "Closed by",
            format!(
                "{} · {}",
                name(f.agent),
                clock::stamp(session.now, f.at, session.zone)
            ),
        ));
        if !f.note.is_empty() {
            col = col.push(fact("Note", f.note.clone()));
        }
    }
    for n in &i.notes {
        col = col.push(fact(
            "Note",
            format!(
                "{} ({}, {})",
                n.text,
                name(n.agent),
                clock::stamp(session.now, n.at, session.zone)
            ),
        ));
    }
    for (n, t) in i.transfers.iter().enumerate() {
        if let Some(line) = i.take_back_line(n, name) {
            let stamp = clock::stamp(session.now, t.at, session.zone);
            col = col.push(fact("Taken back", format!("{line} · {stamp}")));
            continue;
        }
        let to = match t.to {
            TransferTarget::Agent(a) => name(a),
            TransferTarget::Campaign(c) => session
                .campaign(c)
                .map(|c| format!("campaign {}", c.name))
                .unwrap_or_else(|| "a campaign".into()),
        };
        let mut line = format!(
            "{} → {to} · {}",
            name(t.from),
            clock::stamp(session.now, t.at, session.zone)
        );
        if !t.note.is_empty() {
            line.push_str(&format!(" · “{}”", t.note));
        }
        col = col.push(fact("Transfer", line));
    }
    if i.finalization.is_none() && i.notes.is_empty() && i.transfers.is_empty() {
        col = col.push(muted("No transfers or notes."));
    }
    container(col.padding(12))
        .style(theme::boxes::card)
        .width(Length::Fill)
        .into()
}

/// A one-line banner over a conversation the agent can no longer write to.
pub fn banner<'a, M: 'a>(message: String) -> Element<'a, M> {
    container(
        row![text(message).size(SMALL)]
            .align_y(Alignment::Center)
            .spacing(8),
    )
    .padding([6, 12])
    .width(Length::Fill)
    .style(theme::boxes::chrome)
    .into()
}

/// A banner with one action at its end (take back, unsnooze).
pub fn banner_with_action<'a, M: Clone + 'a>(
    message: String,
    action: &'a str,
    on_press: M,
) -> Element<'a, M> {
    container(
        row![
            text(message).size(SMALL).width(Length::Fill),
            iced::widget::button(text(action).size(SMALL))
                .on_press(on_press)
                .padding([4, 12])
                .style(theme::buttons::secondary),
        ]
        .spacing(8)
        .align_y(Alignment::Center),
    )
    .padding([6, 12])
    .width(Length::Fill)
    .style(theme::boxes::chrome)
    .into()
}

/// Around the facts beside the messages.
pub const SIDE_PADDING: Padding = Padding {
    top: 10.0,
    right: 12.0,
    bottom: 12.0,
    left: 0.0,
};

/// The detail pane's head: who it is, then what the screen puts beside.
pub fn head<'a, M: 'a>(
    detail: &'a InteractionDetail,
    aside: impl IntoIterator<Item = Element<'a, M>>,
) -> Element<'a, M> {
    let head = Row::with_children(
        std::iter::once(container(header(detail)).width(Length::Fill).into()).chain(aside),
    )
    .spacing(16)
    .align_y(Alignment::Center);
    container(head).padding([12, 16]).into()
}

/// The customer's card beside the messages.
pub fn facts_pane<'a, M: 'a>(
    detail: &'a InteractionDetail,
    session: &'a Session,
) -> Element<'a, M> {
    container(facts(detail, session))
        .width(Length::Fixed(270.0))
        .padding(SIDE_PADDING)
        .into()
}
