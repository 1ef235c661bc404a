//! The list-and-detail screen that Active, Pending and History share: the
//! tab's interactions on the left (searched, paged in as the list is
//! scrolled, walked with ↑/↓), the open one's detail on the right.
//!
//! [`List`] is a component with its own [`Message`] and `update`; a screen
//! holds one, maps its messages (`Message::List`), keeps what only it needs
//! beside the open interaction (`X`: a composer, a busy flag) and draws the
//! row's cells and the detail pane; the list draws the rest.

use iced::keyboard::{self, key};
use iced::widget::{Space, button, column, container, row};
use iced::{Alignment, Length, Task};
use meshdesk_model::InteractionId;
use meshdesk_model::ops::{HistoryFilter, InteractionDetail, InteractionRow, Request, Tab};
use meshdesk_model::store::Page;

use super::{PAGE, call};
use crate::gui::backend::{Backend, Error};
use crate::gui::theme;
use crate::gui::widget::{
    Element, ListState, SMALL, TEXT, chips, empty, error_box, line, muted, split, virtual_list,
};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

#[derive(Debug, Clone)]
pub enum Message {
    Loaded(u64, Result<Page<InteractionRow>, Error>),
    Scrolled(f32, f32),
    Open(InteractionId),
    DetailLoaded(InteractionId, u64, Result<Box<InteractionDetail>, Error>),
}

/// What the screen may want to follow up on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// Fresh rows are shown.
    Loaded,
    /// An interaction was opened (clicked, or Enter on the cursor's row).
    Opened(InteractionId),
}

/// What a list says where it has nothing to show.
#[derive(Debug, Clone, Copy)]
pub struct Texts {
    /// What the counted rows are ("12 closed").
    pub counted: &'static str,
    /// The list is empty.
    pub empty: &'static str,
    /// The search matches nothing.
    pub no_match: &'static str,
    /// Nothing is open.
    pub nothing_open: &'static str,
}

/// An interaction list with the open one's detail.
#[derive(Debug)]
pub struct List<X> {
    pub rows: Rows,
    open: Option<Open<X>>,
    texts: Texts,
}

/// The interaction open in the detail pane.
#[derive(Debug)]
pub struct Open<X> {
    pub id: InteractionId,
    pub detail: Option<Box<InteractionDetail>>,
    /// The latest detail request; older answers are dropped.
    seq: u64,
    pub error: Option<String>,
    /// What the screen keeps beside it.
    pub extra: X,
}

/// A row's cells besides the contact's name, which the list draws.
pub struct Cells<'a> {
    /// Right of the name: a time, a timer.
    pub aside: Element<'a, Message>,
    /// The second line.
    pub below: Element<'a, Message>,
}

impl<X: Default> List<X> {
    pub fn new(tab: Tab, id: &'static str, texts: Texts) -> List<X> {
        List {
            rows: Rows::new(tab, id),
            open: None,
            texts,
        }
    }

    /// The interaction open in the detail pane.
    pub fn open_id(&self) -> Option<InteractionId> {
        self.open.as_ref().map(|o| o.id)
    }

    /// The open interaction, if it is `id`.
    pub fn selected_mut(&mut self, id: InteractionId) -> Option<&mut Open<X>> {
        self.open.as_mut().filter(|o| o.id == id)
    }

    /// The open interaction, to read.
    pub fn open_ref(&self) -> Option<&Open<X>> {
        self.open.as_ref()
    }

    /// The open interaction, whichever it is.
    pub fn any_selected_mut(&mut self) -> Option<&mut Open<X>> {
        self.open.as_mut()
    }

    /// Closes the detail pane if it shows `id`.
    pub fn close(&mut self, id: InteractionId) {
        if self.open_id() == Some(id) {
            self.open = None;
        }
    }

    /// Shows another tab's rows in the same place (Active's Snoozed line),
    /// keeping the search; the task reads them.
    pub fn switch(&mut self, tab: Tab, texts: Texts, backend: &Backend) -> Task<Message> {
        self.rows.tab = tab;
        self.texts = texts;
        self.rows.list.cursor = None;
        self.rows.reload(backend)
    }

    /// Re-reads the rows (same search, same length).
    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        self.rows.reload(backend)
    }

    pub fn search(&mut self, query: String, backend: &Backend) -> Task<Message> {
        self.rows.search(query, backend)
    }

    /// Opens an interaction (keeping what the screen holds beside it when
    /// it is open already) and puts the cursor on its row.
    pub fn open(&mut self, id: InteractionId, backend: &Backend) -> Task<Message> {
        if self.open_id() != Some(id) {
            self.open = Some(Open {
                id,
                detail: None,
                seq: 0,
                error: None,
                extra: X::default(),
            });
        }
        if let Some(i) = self.rows.position(id) {
            self.rows.list.cursor = Some(i);
        }
        self.load_detail(backend)
    }

    /// Re-reads the open interaction.
    pub fn load_detail(&mut self, backend: &Backend) -> Task<Message> {
        let Some(open) = &mut self.open else {
            return Task::none();
        };
        open.seq += 1;
        let (id, seq) = (open.id, open.seq);
        call(backend, Request::ShowInteraction { id }, move |r| {
            Message::DetailLoaded(id, seq, r)
        })
    }

    /// ↑/↓ move through the list, Enter opens.
    pub fn key(&mut self, key: &keyboard::Key, backend: &Backend) -> Update {
        match key.as_ref() {
            keyboard::Key::Named(key::Named::ArrowUp) => {
                (self.rows.list.move_cursor(-1, self.rows.rows.len()), None)
            }
            keyboard::Key::Named(key::Named::ArrowDown) => {
                (self.rows.list.move_cursor(1, self.rows.rows.len()), None)
            }
            keyboard::Key::Named(key::Named::Enter) => match self.rows.cursor_row() {
                Some(r) => {
                    let id = r.summary.id;
                    (self.open(id, backend), Some(Event::Opened(id)))
                }
                None => (Task::none(), None),
            },
            _ => (Task::none(), None),
        }
    }

    pub fn update(&mut self, message: Message, backend: &Backend) -> Update {
        match message {
            Message::Loaded(seq, result) => {
                let task = self.rows.answered(seq, result, backend);
                (task, Some(Event::Loaded))
            }
            Message::Scrolled(offset, viewport) => {
                (self.rows.scrolled(offset, viewport, backend), None)
            }
            Message::Open(id) => (self.open(id, backend), Some(Event::Opened(id))),
            Message::DetailLoaded(id, seq, result) => {
                if let Some(open) = self.open.as_mut().filter(|o| o.id == id && o.seq == seq) {
                    match result {
                        Ok(d) => open.detail = Some(d),
                        Err(e) => open.error = Some(e.to_string()),
                    }
                }
                (Task::none(), None)
            }
        }
    }

    /// The list beside the open interaction's detail. `cells` draws a
    /// row's cells, `detail` the pane once the interaction is read, and
    /// `to_screen` maps the list's messages into the screen's.
    pub fn view<'a, M: 'a>(
        &'a self,
        cells: impl Fn(&'a InteractionRow) -> Cells<'a> + 'a,
        detail: impl FnOnce(&'a Open<X>, &'a InteractionDetail) -> Element<'a, M>,
        to_screen: impl Fn(Message) -> M + 'a,
    ) -> Element<'a, M> {
        self.view_headed(None, cells, detail, to_screen)
    }

    /// [`List::view`] with the screen's own controls (History's filters)
    /// above the list.
    pub fn view_headed<'a, M: 'a>(
        &'a self,
        head: Option<Element<'a, M>>,
        cells: impl Fn(&'a InteractionRow) -> Cells<'a> + 'a,
        detail: impl FnOnce(&'a Open<X>, &'a InteractionDetail) -> Element<'a, M>,
        to_screen: impl Fn(Message) -> M + 'a,
    ) -> Element<'a, M> {
        let detail = match &self.open {
            None => empty(self.texts.nothing_open),
            Some(open) => match (open.detail.as_deref(), &open.error) {
                (Some(d), _) => detail(open, d),
                (None, Some(e)) => container(error_box(e)).padding(16).into(),
                (None, None) => empty("Loading…"),
            },
        };
        let list = self.list_view(cells).map(to_screen);
        let list = match head {
            Some(head) => column![head, list].into(),
            None => list,
        };
        split(list, detail)
    }

    fn list_view<'a>(
        &'a self,
        cells: impl Fn(&'a InteractionRow) -> Cells<'a> + 'a,
    ) -> Element<'a, Message> {
        let rows = &self.rows;
        let header = container(muted(count_line(rows, self.texts.counted))).padding([10, 14]);
        let body: Element<'a, Message> = if let Some(e) = &rows.error {
            container(error_box(e)).padding(12).into()
        } else if rows.loaded && rows.rows.is_empty() {
            if !rows.narrowed() {
                empty(self.texts.empty)
            } else {
                empty(self.texts.no_match)
            }
        } else {
            let open = self.open_id();
            virtual_list(&rows.list, rows.rows.len(), Message::Scrolled, move |i| {
                let r = &rows.rows[i];
                let selected = open == Some(r.summary.id) || rows.list.cursor == Some(i);
                row_view(r, selected, cells(r))
            })
        };
        column![header, body].into()
    }
}

/// How many of an interaction's tags its row shows as chips (then "+N").
pub const ROW_CHIPS: usize = 2;

/// One row: the contact (or the address), its tags, and its cells.
fn row_view<'a>(r: &'a InteractionRow, selected: bool, cells: Cells<'a>) -> Element<'a, Message> {
    let s = &r.summary;
    let name = if s.contact_name.is_empty() {
        s.address.as_str()
    } else {
        s.contact_name.as_str()
    };
    let mut first = row![line(name, 30).size(TEXT).width(Length::Fill)]
        .spacing(6)
        .align_y(Alignment::Center);
    if let Some(tags) = chips(&s.tags, ROW_CHIPS) {
        first = first.push(tags);
    }
    button(column![first.push(cells.aside), cells.below,].spacing(4))
        .on_press(Message::Open(s.id))
        .width(Length::Fill)
        .height(Length::Fill)
        .padding([8, 10])
        .style(theme::buttons::item(selected))
        .into()
}

/// A row's second line as a muted caption.
pub fn caption<'a>(label: &str) -> Element<'a, Message> {
    row![
        line(label, 44).size(SMALL).style(theme::texts::muted),
        Space::new().width(Length::Fill)
    ]
    .into()
}

/// An interaction list of one tab: the rows for the current search, as the
/// store answered, and where the list is scrolled.
#[derive(Debug)]
pub struct Rows {
    pub tab: Tab,
    pub query: String,
    /// What History is narrowed to besides the search (the agent's own by default).
    pub history: HistoryFilter,
    pub rows: Vec<InteractionRow>,
    /// How many rows the whole list (or search) holds; `rows` may hold fewer.
    pub total: usize,
    pub list: ListState,
    /// How many rows to ask for.
    pub limit: usize,
    /// How many rows a page adds.
    pub page: usize,
    /// The latest request; older answers are dropped.
    pub seq: u64,
    pub loaded: bool,
    pub error: Option<String>,
    /// A request is under way; another is sent only when it answers, so
    /// fast typing never queues one search per keystroke behind the store.
    in_flight: bool,
    /// Something asked for fresh rows while a request was under way.
    stale: bool,
}

impl Rows {
    pub fn new(tab: Tab, id: &'static str) -> Rows {
        Rows {
            tab,
            query: String::new(),
            history: HistoryFilter::default(),
            rows: Vec::new(),
            total: 0,
            list: ListState::new(id),
            limit: PAGE,
            page: PAGE,
            seq: 0,
            loaded: false,
            error: None,
            in_flight: false,
            stale: false,
        }
    }

    /// Asks for the rows again (same search, same length).
    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        self.fetch(0, self.limit, backend)
    }

    /// Asks for rows `offset..offset + limit`; an answer from offset 0
    /// replaces the rows, a later page is appended.
    fn fetch(&mut self, offset: usize, limit: usize, backend: &Backend) -> Task<Message> {
        if self.in_flight {
            self.stale = true;
            return Task::none();
        }
        self.in_flight = true;
        self.seq += 1;
        let seq = self.seq;
        let query = self.query.trim();
        let request = Request::PageInteractions {
            tab: self.tab,
            search: (!query.is_empty()).then(|| query.to_string()),
            offset,
            limit,
            history: self.history.clone(),
        };
        call(backend, request, move |r| Message::Loaded(seq, r))
    }

    /// New History filters: the first page of what they keep, from the top.
    pub fn narrow(&mut self, history: HistoryFilter, backend: &Backend) -> Task<Message> {
        self.history = history;
        self.search(self.query.clone(), backend)
    }

    /// Whether a search or a filter narrows the list.
    pub fn narrowed(&self) -> bool {
        !self.query.trim().is_empty() || self.history.narrows()
    }

    /// A new search: the first page of what matches, from the top.
    pub fn search(&mut self, query: String, backend: &Backend) -> Task<Message> {
        self.query = query;
        self.limit = self.page;
        let scroll = self.list.reset();
        Task::batch([scroll, self.reload(backend)])
    }

    /// An answer came back: show it, and ask again if something newer was
    /// wanted meanwhile (a further keystroke, a change).
    pub fn answered(
        &mut self,
        seq: u64,
        result: Result<Page<InteractionRow>, Error>,
        backend: &Backend,
    ) -> Task<Message> {
        if seq != self.seq {
            return Task::none();
        }
        self.in_flight = false;
        let under_cursor = self.list.under_cursor(&self.rows, |r| r.summary.id);
        match result {
            Ok(page) => {
                if page.offset == 0 {
                    self.rows = page.rows;
                } else if page.offset == self.rows.len() {
                    self.rows.extend(page.rows);
                }
                self.total = page.total;
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
        self.loaded = true;
        self.list.follow(under_cursor, &self.rows, |r| r.summary.id);
        if std::mem::take(&mut self.stale) {
            return self.reload(backend);
        }
        Task::none()
    }

    /// Scrolled: fetch a further page when the end of what is loaded comes near.
    pub fn scrolled(&mut self, offset: f32, viewport: f32, backend: &Backend) -> Task<Message> {
        self.list.scrolled(offset, viewport);
        if self.loaded && self.has_more() && self.list.near_end(self.rows.len()) {
            self.limit = self.rows.len() + self.page;
            return self.fetch(self.rows.len(), self.page, backend);
        }
        Task::none()
    }

    /// Whether the list holds more rows than are loaded.
    pub fn has_more(&self) -> bool {
        self.total > self.rows.len()
    }

    pub fn position(&self, id: InteractionId) -> Option<usize> {
        self.rows.iter().position(|r| r.summary.id == id)
    }

    /// The row under the keyboard cursor.
    pub fn cursor_row(&self) -> Option<&InteractionRow> {
        self.list.cursor.and_then(|c| self.rows.get(c))
    }
}

/// The list's status line: how many rows, and whether the search narrowed them.
pub fn count_line(rows: &Rows, what: &str) -> String {
    let n = rows.total;
    if rows.query.trim().is_empty() {
        format!("{n} {what}")
    } else {
        format!("{n} matching “{}”", rows.query.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystrokes_while_a_search_runs_are_coalesced_into_one_more_request()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let data_dir = crate::data_dir::DataDir::resolve(Some(dir.path().to_path_buf()))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let backend = rt.block_on(crate::gui::backend::open_node(
            &data_dir,
            meshdesk_sync::home::OpenOptions::offline(),
        ))?;
        let mut rows = Rows::new(Tab::History, "t");
        let first = rows.search("r".into(), &backend);
        assert!(first.units() > 0);
        let seq = rows.seq;
        // Two more keystrokes while the first search runs: nothing is sent yet.
        for q in ["ro", "rou"] {
            let more = rows.reload(&backend);
            rows.query = q.into();
            assert_eq!(more.units(), 0);
        }
        // The first answer arrives: one request for the latest query follows.
        let next = rows.answered(
            seq,
            Ok(Page {
                rows: vec![],
                offset: 0,
                total: 0,
            }),
            &backend,
        );
        assert!(next.units() > 0);
        assert_eq!(rows.seq, seq + 1);
        Ok(())
    }
}
