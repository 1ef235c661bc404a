//! Phonebook: the team's contacts. Add, edit and delete with the problems
//! shown beside the fields; a contact's profile with its interactions; start
//! an interaction with a contact; merge two entries of one customer (the
//! Merge… dialog) and undo it (Unmerge on the profile's "Merged from").

use iced::keyboard::{self, key};
use iced::widget::{Space, button, column, container, row, scrollable, text, text_input};
use iced::{Alignment, Length, Task};
use meshdesk_model::ops::{ContactProfile, ContactSpec, Request};
use meshdesk_model::projection::InteractionSummary;
use meshdesk_model::store::Page;
use meshdesk_model::{Contact, ContactId, InteractionId, InteractionState, validate};

use super::{PAGE, Toast, call, conversation};
use crate::gui::backend::{Backend, Error};
use crate::gui::clock;
use crate::gui::session::Session;
use crate::gui::theme;
use crate::gui::widget::{
    Element, ListState, SMALL, TEXT, chips, empty, error_box, fact, field, line, muted, split,
    tags_fact, title, virtual_list,
};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

const LIST_ID: &str = "phonebook-list";
pub const NAME_ID: &str = "contact-name";
pub const PHONES_ID: &str = "contact-phones";
pub const EMAILS_ID: &str = "contact-emails";
pub const COMPANY_ID: &str = "contact-company";
pub const TAGS_ID: &str = "contact-tags";
pub const NOTES_ID: &str = "contact-notes";

#[derive(Debug)]
pub struct Phonebook {
    query: String,
    contacts: Vec<Contact>,
    /// How many contacts the phonebook (or the search) holds.
    total: usize,
    list: ListState,
    limit: usize,
    seq: u64,
    loaded: bool,
    error: Option<String>,
    pane: Pane,
}

#[derive(Debug)]
enum Pane {
    Nothing,
    Profile(Profile),
    Form(Form),
}

#[derive(Debug)]
struct Profile {
    id: ContactId,
    contact: Option<Box<Contact>>,
    /// The entries merged into it.
    absorbed: Vec<Contact>,
    /// The contact as shown: with the phones, emails and tags of the
    /// entries merged into it.
    shown: Option<Box<Contact>>,
    interactions: Vec<InteractionSummary>,
    seq: u64,
    confirm_delete: bool,
    error: Option<String>,
}

/// The add/edit form, as typed.
#[derive(Debug, Default, Clone)]
struct Form {
    editing: Option<ContactId>,
    name: String,
    phones: String,
    emails: String,
    company: String,
    tags: String,
    notes: String,
    /// Once Save was pressed, problems are shown (and updated as the agent types).
    checked: bool,
    saving: bool,
    error: Option<String>,
}

/// A form field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Phones,
    Emails,
    Company,
    Tags,
    Notes,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Problems {
    name: Option<String>,
    phones: Option<String>,
    emails: Option<String>,
}

impl Problems {
    fn any(&self) -> bool {
        self.name.is_some() || self.phones.is_some() || self.emails.is_some()
    }
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split([',', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Form {
    fn from_contact(c: &Contact) -> Form {
        Form {
            editing: Some(c.id),
            name: c.name.clone(),
            phones: c.phones.join(", "),
            emails: c.emails.join(", "),
            company: c.company.clone(),
            tags: c.tags.iter().cloned().collect::<Vec<_>>().join(", "),
            notes: c.notes.clone(),
            ..Form::default()
        }
    }

    /// The same checks the store makes, beside each field.
    fn problems(&self) -> Problems {
        let mut p = Problems::default();
        if self.name.trim().is_empty() {
            p.name = Some("A name is required.".into());
        } else if let Err(e) = validate::required("the name", &self.name) {
            p.name = Some(e.to_string());
        }
        for phone in split_list(&self.phones) {
            if validate::phone(&phone).is_err() {
                p.phones = Some(format!(
                    "“{phone}” is not a phone number: use digits, spaces and + - ( ) ., 5 to 15 digits."
                ));
                break;
            }
        }
        for email in split_list(&self.emails) {
            if validate::email(&email).is_err() {
                p.emails = Some(format!("“{email}” is not an email address."));
                break;
            }
        }
        p
    }

    fn spec(&self) -> ContactSpec {
        ContactSpec {
            name: Some(self.name.trim().to_string()),
            phones: Some(split_list(&self.phones)),
            emails: Some(split_list(&self.emails)),
            company: Some(self.company.trim().to_string()),
            tags: Some(split_list(&self.tags)),
            notes: Some(self.notes.trim().to_string()),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Message {
    Loaded(u64, Result<Page<Contact>, Error>),
    Scrolled(f32, f32),
    Open(ContactId),
    ProfileLoaded(ContactId, u64, Result<Box<ContactProfile>, Error>),
    Add,
    Edit,
    Input(Field, String),
    Save,
    /// The contact saved (`editing` it, or added).
    Saved(Option<ContactId>, Result<ContactId, Error>),
    Cancel,
    Delete,
    ConfirmDelete,
    Deleted(ContactId, Result<(), Error>),
    Start,
    OpenInteraction(InteractionId, InteractionState),
    /// Merge…: pick another entry to merge into this one.
    Merge,
    /// Undo the merge of this entry into the open one.
    Unmerge(ContactId),
    Unmerged(String, Result<(), Error>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Open the Merge… dialog for this contact.
    Merge(Box<ContactProfile>),
    Toast(Toast),
    /// Start an interaction with this contact (the `+` dialog, filled in).
    Start(Box<Contact>),
    /// Show one of the contact's interactions in its tab.
    OpenInteraction(InteractionId, InteractionState),
}

impl Default for Phonebook {
    fn default() -> Self {
        Phonebook::new()
    }
}

impl Phonebook {
    pub fn new() -> Phonebook {
        Phonebook {
            query: String::new(),
            contacts: Vec::new(),
            total: 0,
            list: ListState::new(LIST_ID),
            limit: PAGE,
            seq: 0,
            loaded: false,
            error: None,
            pane: Pane::Nothing,
        }
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    /// Whether the add/edit form is open (Esc cancels it).
    pub fn editing(&self) -> bool {
        matches!(self.pane, Pane::Form(_))
    }

    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        self.seq += 1;
        let seq = self.seq;
        let q = self.query.trim();
        let request = Request::PageContacts {
            search: (!q.is_empty()).then(|| q.to_string()),
            offset: 0,
            limit: self.limit,
        };
        let list = call(backend, request, move |r| Message::Loaded(seq, r));
        Task::batch([list, self.load_profile(backend)])
    }

    pub fn search(&mut self, query: String, backend: &Backend) -> Task<Message> {
        self.query = query;
        self.limit = PAGE;
        let reset = self.list.reset();
        Task::batch([reset, self.reload(backend)])
    }

    fn load_profile(&mut self, backend: &Backend) -> Task<Message> {
        let Pane::Profile(p) = &mut self.pane else {
            return Task::none();
        };
        p.seq += 1;
        let (id, seq) = (p.id, p.seq);
        call(backend, Request::ShowContact { id }, move |r| {
            Message::ProfileLoaded(id, seq, r)
        })
    }

    fn open(&mut self, id: ContactId, backend: &Backend) -> Task<Message> {
        self.pane = Pane::Profile(Profile {
            id,
            contact: None,
            absorbed: vec![],
            shown: None,
            interactions: vec![],
            seq: 0,
            confirm_delete: false,
            error: None,
        });
        if let Some(i) = self.contacts.iter().position(|c| c.id == id) {
            self.list.cursor = Some(i);
        }
        self.load_profile(backend)
    }

    /// Opens an empty form (the Add button).
    pub fn add(&mut self) -> Task<Message> {
        self.pane = Pane::Form(Form::default());
        iced::widget::operation::focus(NAME_ID)
    }

    /// Esc: closes the form or the delete question; returns whether it did.
    pub fn escape(&mut self, backend: &Backend) -> (bool, Task<Message>) {
        match &mut self.pane {
            Pane::Form(f) => {
                let back = f.editing;
                match back {
                    Some(id) => (true, self.open(id, backend)),
                    None => {
                        self.pane = Pane::Nothing;
                        (true, Task::none())
                    }
                }
            }
            Pane::Profile(p) if p.confirm_delete => {
                p.confirm_delete = false;
                (true, Task::none())
            }
            _ => (false, Task::none()),
        }
    }

    pub fn key(&mut self, key: &keyboard::Key, backend: &Backend) -> Task<Message> {
        match key.as_ref() {
            keyboard::Key::Named(key::Named::ArrowUp) => {
                self.list.move_cursor(-1, self.contacts.len())
            }
            keyboard::Key::Named(key::Named::ArrowDown) => {
                self.list.move_cursor(1, self.contacts.len())
            }
            keyboard::Key::Named(key::Named::Enter) => {
                match self.list.cursor.and_then(|c| self.contacts.get(c)) {
                    Some(c) => {
                        let id = c.id;
                        self.open(id, backend)
                    }
                    None => Task::none(),
                }
            }
            _ => Task::none(),
        }
    }

    pub fn update(&mut self, message: Message, backend: &Backend) -> Update {
        match message {
            Message::Loaded(seq, result) => {
                if seq == self.seq {
                    let under_cursor = self.list.under_cursor(&self.contacts, |c| c.id);
                    match result {
                        Ok(page) => {
                            self.contacts = page.rows;
                            self.total = page.total;
                            self.error = None;
                        }
                        Err(e) => self.error = Some(e.to_string()),
                    }
                    self.loaded = true;
                    self.list.follow(under_cursor, &self.contacts, |c| c.id);
                }
                (Task::none(), None)
            }
            Message::Scrolled(offset, viewport) => {
                self.list.scrolled(offset, viewport);
                if self.loaded
                    && self.total > self.contacts.len()
                    && self.list.near_end(self.contacts.len())
                {
                    self.limit += PAGE;
                    return (self.reload(backend), None);
                }
                (Task::none(), None)
            }
            Message::Open(id) => (self.open(id, backend), None),
            Message::ProfileLoaded(id, seq, result) => {
                if let Pane::Profile(p) = &mut self.pane
                    && p.id == id
                    && p.seq == seq
                {
                    match result {
                        Ok(profile) => {
                            let ContactProfile {
                                contact,
                                absorbed,
                                interactions,
                            } = *profile;
                            // An entry merged away since opens as its survivor.
                            p.id = contact.id;
                            p.shown = Some(Box::new(contact.combined(&absorbed)));
                            p.contact = Some(Box::new(contact));
                            p.absorbed = absorbed;
                            p.interactions = interactions;
                            p.interactions
                                .sort_by_key(|s| std::cmp::Reverse(s.last_activity));
                            if let Some(i) = self.contacts.iter().position(|c| c.id == p.id) {
                                self.list.cursor = Some(i);
                            }
                        }
                        Err(e) => p.error = Some(e.to_string()),
                    }
                }
                (Task::none(), None)
            }
            Message::Add => (self.add(), None),
            Message::Edit => {
                if let Pane::Profile(Profile {
                    contact: Some(c), ..
                }) = &self.pane
                {
                    self.pane = Pane::Form(Form::from_contact(c));
                    return (iced::widget::operation::focus(NAME_ID), None);
                }
                (Task::none(), None)
            }
            Message::Input(f, value) => {
                if let Pane::Form(form) = &mut self.pane {
                    let slot = match f {
                        Field::Name => &mut form.name,
                        Field::Phones => &mut form.phones,
                        Field::Emails => &mut form.emails,
                        Field::Company => &mut form.company,
                        Field::Tags => &mut form.tags,
                        Field::Notes => &mut form.notes,
                    };
                    *slot = value;
                }
                (Task::none(), None)
            }
            Message::Save => {
                let Pane::Form(form) = &mut self.pane else {
                    return (Task::none(), None);
                };
                form.checked = true;
                if form.saving || form.problems().any() {
                    return (Task::none(), None);
                }
                form.saving = true;
                form.error = None;
                let editing = form.editing;
                let task = match editing {
                    Some(id) => {
                        let request = Request::EditContact {
                            id,
                            changes: form.spec(),
                        };
                        call(backend, request, move |r: Result<(), Error>| {
                            Message::Saved(editing, r.map(|()| id))
                        })
                    }
                    None => call(backend, Request::AddContact(form.spec()), move |r| {
                        Message::Saved(editing, r)
                    }),
                };
                (task, None)
            }
            Message::Saved(editing, result) => {
                let Pane::Form(form) = &mut self.pane else {
                    return (Task::none(), None);
                };
                form.saving = false;
                match result {
                    Ok(id) => {
                        let name = form.name.trim().to_string();
                        let open = self.open(id, backend);
                        let what = if editing.is_some() { "Saved" } else { "Added" };
                        (
                            Task::batch([open, self.reload(backend)]),
                            Some(Event::Toast(Toast::Info(format!("{what} {name}.")))),
                        )
                    }
                    Err(e) => {
                        form.error = Some(e.to_string());
                        (Task::none(), None)
                    }
                }
            }
            Message::Cancel => (self.escape(backend).1, None),
            Message::Delete => {
                if let Pane::Profile(p) = &mut self.pane {
                    p.confirm_delete = true;
                }
                (Task::none(), None)
            }
            Message::ConfirmDelete => {
                let Pane::Profile(p) = &mut self.pane else {
                    return (Task::none(), None);
                };
                let id = p.id;
                (
                    call(backend, Request::DeleteContact { id }, move |r| {
                        Message::Deleted(id, r)
                    }),
                    None,
                )
            }
            Message::Deleted(id, result) => match result {
                Ok(_) => {
                    let name = match &self.pane {
                        Pane::Profile(Profile {
                            contact: Some(c), ..
                        }) if c.id == id => c.name.clone(),
                        _ => "the contact".into(),
                    };
                    self.pane = Pane::Nothing;
                    (
                        self.reload(backend),
                        Some(Event::Toast(Toast::Info(format!("Deleted {name}.")))),
                    )
                }
                Err(e) => {
                    if let Pane::Profile(p) = &mut self.pane {
                        p.error = Some(e.to_string());
                        p.confirm_delete = false;
                    }
                    (
                        Task::none(),
                        Some(Event::Toast(Toast::Error(e.to_string()))),
                    )
                }
            },
            Message::Start => match &self.pane {
                Pane::Profile(Profile { shown: Some(c), .. }) => {
                    (Task::none(), Some(Event::Start(c.clone())))
                }
                _ => (Task::none(), None),
            },
            Message::OpenInteraction(id, state) => {
                (Task::none(), Some(Event::OpenInteraction(id, state)))
            }
            Message::Merge => match &self.pane {
                Pane::Profile(Profile {
                    contact: Some(c),
                    absorbed,
                    interactions,
                    ..
                }) => {
                    let profile = ContactProfile {
                        contact: (**c).clone(),
                        absorbed: absorbed.clone(),
                        interactions: interactions.clone(),
                    };
                    (Task::none(), Some(Event::Merge(Box::new(profile))))
                }
                _ => (Task::none(), None),
            },
            Message::Unmerge(id) => {
                let name = match &self.pane {
                    Pane::Profile(p) => p
                        .absorbed
                        .iter()
                        .find(|c| c.id == id)
                        .map(|c| c.name.clone()),
                    _ => None,
                }
                .unwrap_or_else(|| "the contact".into());
                (
                    call(backend, Request::UnmergeContact { id }, move |r| {
                        Message::Unmerged(name, r)
                    }),
                    None,
                )
            }
            Message::Unmerged(name, result) => match result {
                Ok(()) => (
                    self.reload(backend),
                    Some(Event::Toast(Toast::Info(format!(
                        "Unmerged {name}: it is in the phonebook again."
                    )))),
                ),
                Err(e) => (
                    Task::none(),
                    Some(Event::Toast(Toast::Error(e.to_string()))),
                ),
            },
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        split(self.list_view(), self.pane_view(session))
    }

    fn list_view<'a>(&'a self) -> Element<'a, Message> {
        let n = self.total;
        let count = if self.query.trim().is_empty() {
            let noun = if n == 1 { "contact" } else { "contacts" };
            format!("{n} {noun}")
        } else {
            format!("{n} matching “{}”", self.query.trim())
        };
        let header = row![
            muted(count).width(Length::Fill),
            button(text("Add contact").size(SMALL))
                .on_press(Message::Add)
                .padding([4, 10])
                .style(theme::buttons::secondary)
        ]
        .align_y(Alignment::Center)
        .padding([8, 14]);
        let body: Element<'a, Message> = if let Some(e) = &self.error {
            container(error_box(e)).padding(12).into()
        } else if self.loaded && self.contacts.is_empty() {
            if self.query.trim().is_empty() {
                empty("The phonebook is empty. Add a contact.")
            } else {
                empty("No contact matches.")
            }
        } else {
            let open = match &self.pane {
                Pane::Profile(p) => Some(p.id),
                Pane::Form(f) => f.editing,
                Pane::Nothing => None,
            };
            virtual_list(&self.list, n, Message::Scrolled, move |i| {
                let c = &self.contacts[i];
                contact_row(c, open == Some(c.id) || self.list.cursor == Some(i))
            })
        };
        column![header, body].into()
    }

    fn pane_view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        match &self.pane {
            Pane::Nothing => empty("Open a contact, or add one."),
            Pane::Form(form) => form_view(form),
            Pane::Profile(p) => profile_view(p, session),
        }
    }
}

fn contact_row<'a>(c: &'a Contact, selected: bool) -> Element<'a, Message> {
    let reach: Vec<&str> = c
        .phones
        .iter()
        .chain(c.emails.iter())
        .map(String::as_str)
        .take(2)
        .collect();
    let mut first = row![line(&c.name, 30).size(TEXT).width(Length::Fill)]
        .spacing(6)
        .align_y(Alignment::Center);
    // Contact tags look as an interaction's do on its row.
    if let Some(tags) = chips(&c.tags, super::list::ROW_CHIPS) {
        first = first.push(tags);
    }
    first = first.push(line(&c.company, 16).size(SMALL).style(theme::texts::muted));
    button(
        column![
            first,
            row![
                line(&reach.join(" · "), 44)
                    .size(SMALL)
                    .style(theme::texts::muted),
                Space::new().width(Length::Fill)
            ],
        ]
        .spacing(4),
    )
    .on_press(Message::Open(c.id))
    .width(Length::Fill)
    .height(Length::Fill)
    .padding([8, 10])
    .style(theme::buttons::item(selected))
    .into()
}

fn input<'a>(
    placeholder: &'a str,
    value: &'a str,
    f: Field,
    invalid: bool,
) -> iced::widget::TextInput<'a, Message, iced::Theme, iced::Renderer> {
    let id = match f {
        Field::Name => NAME_ID,
        Field::Phones => PHONES_ID,
        Field::Emails => EMAILS_ID,
        Field::Company => COMPANY_ID,
        Field::Tags => TAGS_ID,
        Field::Notes => NOTES_ID,
    };
    text_input(placeholder, value)
        .id(id)
        .on_input(move |v| Message::Input(f, v))
        .on_submit(Message::Save)
        .padding(8)
        .size(TEXT)
        .style(if invalid {
            theme::inputs::invalid
        } else {
            theme::inputs::field
        })
}

fn form_view(form: &Form) -> Element<'_, Message> {
    let problems = if form.checked {
        form.problems()
    } else {
        Problems::default()
    };
    let heading = if form.editing.is_some() {
        "Edit contact"
    } else {
        "New contact"
    };
    let mut col = column![
        title(heading),
        field(
            "Name (required)",
            input(
                "Marta Ruiz",
                &form.name,
                Field::Name,
                problems.name.is_some()
            ),
            problems.name.as_deref()
        ),
        field(
            "Phones, separated by commas",
            input(
                "+34 600 100 200",
                &form.phones,
                Field::Phones,
                problems.phones.is_some()
            ),
            problems.phones.as_deref()
        ),
        field(
            "Emails, separated by commas",
            input(
                "marta@example.com",
                &form.emails,
                Field::Emails,
                problems.emails.is_some()
            ),
            problems.emails.as_deref()
        ),
        field(
            "Company",
            input("", &form.company, Field::Company, false),
            None
        ),
        field(
            "Tags, separated by commas",
            input("vip, spanish", &form.tags, Field::Tags, false),
            None
        ),
        field("Notes", input("", &form.notes, Field::Notes, false), None),
    ]
    .spacing(12)
    .max_width(520);
    if let Some(e) = &form.error {
        col = col.push(error_box(e));
    }
    col = col.push(
        row![
            button(text("Cancel").size(TEXT))
                .on_press(Message::Cancel)
                .padding([8, 16])
                .style(theme::buttons::secondary),
            button(text(if form.saving { "Saving…" } else { "Save" }).size(TEXT))
                .on_press_maybe((!form.saving).then_some(Message::Save))
                .padding([8, 16])
                .style(theme::buttons::primary),
        ]
        .spacing(8),
    );
    scrollable(container(col).padding(20))
        .style(theme::inputs::scroll)
        .into()
}

fn profile_view<'a>(p: &'a Profile, session: &'a Session) -> Element<'a, Message> {
    let Some(c) = p.shown.as_deref() else {
        return match &p.error {
            Some(e) => container(error_box(e)).padding(16).into(),
            None => empty("Loading…"),
        };
    };
    let actions: Element<'a, Message> = if p.confirm_delete {
        row![
            text(format!("Delete {}?", c.name)).size(TEXT),
            button(text("Keep").size(TEXT))
                .on_press(Message::Cancel)
                .padding([6, 14])
                .style(theme::buttons::secondary),
            button(text("Delete").size(TEXT))
                .on_press(Message::ConfirmDelete)
                .padding([6, 14])
                .style(theme::buttons::danger),
        ]
        .spacing(8)
        .align_y(Alignment::Center)
        .into()
    } else {
        row![
            button(text("Delete").size(TEXT))
                .on_press(Message::Delete)
                .padding([6, 14])
                .style(theme::buttons::secondary),
            button(text("Edit").size(TEXT))
                .on_press(Message::Edit)
                .padding([6, 14])
                .style(theme::buttons::secondary),
            button(text("Merge…").size(TEXT))
                .on_press(Message::Merge)
                .padding([6, 14])
                .style(theme::buttons::secondary),
            button(text("Start interaction").size(TEXT))
                .on_press(Message::Start)
                .padding([6, 14])
                .style(theme::buttons::primary),
        ]
        .spacing(8)
        .into()
    };
    let sub = if c.company.is_empty() {
        "No company".to_string()
    } else {
        c.company.clone()
    };
    let head = row![
        column![title(c.name.as_str()), muted(sub)]
            .spacing(2)
            .width(Length::Fill),
        actions
    ]
    .spacing(16)
    .align_y(Alignment::Center);
    let mut facts = column![].spacing(6);
    facts = facts.push(fact(
        "Phone",
        if c.phones.is_empty() {
            "none".into()
        } else {
            c.phones.join(", ")
        },
    ));
    facts = facts.push(fact(
        "Email",
        if c.emails.is_empty() {
            "none".into()
        } else {
            c.emails.join(", ")
        },
    ));
    if !c.tags.is_empty() {
        facts = facts.push(tags_fact(&c.tags));
    }
    if !c.notes.is_empty() {
        facts = facts.push(fact("Notes", c.notes.clone()));
    }
    if !p.absorbed.is_empty() {
        let mut merged = column![muted("Merged from")].spacing(4);
        for a in &p.absorbed {
            let reach: Vec<&str> = a
                .phones
                .iter()
                .chain(a.emails.iter())
                .map(String::as_str)
                .take(2)
                .collect();
            merged = merged.push(
                row![
                    line(&a.name, 30).size(TEXT),
                    line(&reach.join(" · "), 40)
                        .size(SMALL)
                        .style(theme::texts::muted)
                        .width(Length::Fill),
                    button(text("Unmerge").size(SMALL))
                        .on_press(Message::Unmerge(a.id))
                        .padding([4, 10])
                        .style(theme::buttons::secondary),
                ]
                .spacing(8)
                .align_y(Alignment::Center),
            );
        }
        facts = facts.push(merged);
    }
    let mut history = column![text("Interactions").size(TEXT)].spacing(4);
    if p.interactions.is_empty() {
        history = history.push(muted("None yet."));
    }
    for s in &p.interactions {
        let state = s.state_at(session.now);
        let what = if !s.subject.is_empty() {
            s.subject.clone()
        } else if !s.last_message_preview.is_empty() {
            s.last_message_preview.clone()
        } else {
            s.address.clone()
        };
        let campaign = session
            .campaign(s.campaign)
            .map(|c| c.name.as_str())
            .unwrap_or("");
        history = history.push(
            button(
                row![
                    container(muted(conversation::state_label(state))).width(Length::Fixed(70.0)),
                    line(&format!("{campaign} · {what}"), 60)
                        .size(TEXT)
                        .width(Length::Fill),
                    muted(clock::ago(session.now, s.last_activity, session.zone)),
                ]
                .spacing(8)
                .align_y(Alignment::Center),
            )
            .on_press(Message::OpenInteraction(s.id, state))
            .width(Length::Fill)
            .padding([6, 8])
            .style(theme::buttons::ghost),
        );
    }
    let mut col = column![
        head,
        container(facts.padding(12))
            .style(theme::boxes::card)
            .width(Length::Fill),
        container(history.padding(12))
            .style(theme::boxes::card)
            .width(Length::Fill),
    ]
    .spacing(14);
    if let Some(e) = &p.error {
        col = col.push(error_box(e));
    }
    scrollable(container(col).padding([14, 18]))
        .style(theme::inputs::scroll)
        .into()
}
