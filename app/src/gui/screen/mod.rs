//! The screens behind the rail's tabs, plus the welcome screen. Each is a
//! module with its own `Message`, an upward `Event`, an `update` returning
//! `(Task<Message>, Option<Event>)` and a `view`; the shell maps them.

pub mod active;
pub mod contacts;
pub mod conversation;
pub mod history;
pub mod pending;
pub mod phonebook;
pub mod welcome;

use iced::Task;
use meshdesk_model::InteractionId;
use meshdesk_model::ops::{InteractionRow, Reply, Request, Tab};

use super::backend::Backend;
use super::widget::ListState;

/// Rows fetched at first; more are fetched as the list is scrolled towards its end.
pub const PAGE: usize = 200;

/// What a screen asks the shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Toast {
    Info(String),
    Error(String),
}

/// Runs one request on the backend, as a task.
pub fn call<M: Send + 'static>(
    backend: &Backend,
    request: Request,
    done: impl FnOnce(Result<Reply, String>) -> M + Send + 'static,
) -> Task<M> {
    let backend = backend.clone();
    Task::perform(async move { backend.call(request).await }, done)
}

/// An interaction list of one tab: the rows for the current search, as the
/// store answered, and where the list is scrolled.
#[derive(Debug)]
pub struct Rows {
    pub tab: Tab,
    pub query: String,
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
    pub fn reload<M: Send + 'static>(
        &mut self,
        backend: &Backend,
        done: impl FnOnce(u64, Result<Reply, String>) -> M + Send + 'static,
    ) -> Task<M> {
        self.fetch(0, self.limit, backend, done)
    }

    /// Asks for rows `offset..offset + limit`; an answer from offset 0
    /// replaces the rows, a later page is appended.
    fn fetch<M: Send + 'static>(
        &mut self,
        offset: usize,
        limit: usize,
        backend: &Backend,
        done: impl FnOnce(u64, Result<Reply, String>) -> M + Send + 'static,
    ) -> Task<M> {
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
        };
        call(backend, request, move |r| done(seq, r))
    }

    /// A new search: the first page of what matches, from the top.
    pub fn search<M: Send + 'static>(
        &mut self,
        query: String,
        backend: &Backend,
        done: impl FnOnce(u64, Result<Reply, String>) -> M + Send + 'static,
    ) -> Task<M> {
        self.query = query;
        self.limit = self.page;
        let scroll = self.list.reset();
        Task::batch([scroll, self.reload(backend, done)])
    }

    /// An answer came back: show it, and ask again if something newer was
    /// wanted meanwhile (a further keystroke, a change).
    pub fn answered<M: Send + 'static>(
        &mut self,
        seq: u64,
        result: Result<Reply, String>,
        backend: &Backend,
        done: impl FnOnce(u64, Result<Reply, String>) -> M + Send + 'static,
    ) -> Task<M> {
        if seq != self.seq {
            return Task::none();
        }
        self.in_flight = false;
        let under_cursor = self.list.under_cursor(&self.rows, |r| r.summary.id);
        match result {
            Ok(Reply::InteractionPage(page)) => {
                if page.offset == 0 {
                    self.rows = page.rows;
                } else if page.offset == self.rows.len() {
                    self.rows.extend(page.rows);
                }
                self.total = page.total;
                self.error = None;
            }
            Ok(Reply::Interactions(rows)) => {
                self.total = rows.len();
                self.rows = rows;
                self.error = None;
            }
            Ok(other) => self.error = Some(format!("unexpected answer: {other:?}")),
            Err(e) => self.error = Some(e),
        }
        self.loaded = true;
        self.list.follow(under_cursor, &self.rows, |r| r.summary.id);
        if std::mem::take(&mut self.stale) {
            return self.reload(backend, done);
        }
        Task::none()
    }

    /// Scrolled: fetch a further page when the end of what is loaded comes near.
    pub fn scrolled<M: Send + 'static>(
        &mut self,
        offset: f32,
        viewport: f32,
        backend: &Backend,
        done: impl FnOnce(u64, Result<Reply, String>) -> M + Send + 'static,
    ) -> Task<M> {
        self.list.scrolled(offset, viewport);
        if self.loaded && self.has_more() && self.list.near_end(self.rows.len()) {
            self.limit = self.rows.len() + self.page;
            return self.fetch(self.rows.len(), self.page, backend, done);
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
    use meshdesk_model::store::Store;

    #[test]
    fn keystrokes_while_a_search_runs_are_coalesced_into_one_more_request() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let store = Store::open(
            dir.path().join("s.redb"),
            meshdesk_model::authorship::DeviceKey::generate(),
        )
        .map_err(|e| e.to_string())?;
        let backend = Backend::local(store, crate::gui::backend::system_clock())?;
        let mut rows = Rows::new(Tab::History, "t");
        let first: Task<(u64, bool)> = rows.search("r".into(), &backend, |s, r| (s, r.is_ok()));
        assert!(first.units() > 0);
        let seq = rows.seq;
        // Two more keystrokes while the first search runs: nothing is sent yet.
        for q in ["ro", "rou"] {
            let more: Task<(u64, bool)> = rows.reload(&backend, |s, r| (s, r.is_ok()));
            rows.query = q.into();
            assert_eq!(more.units(), 0);
        }
        // The first answer arrives: one request for the latest query follows.
        let next: Task<(u64, bool)> =
            rows.answered(seq, Ok(Reply::Interactions(vec![])), &backend, |s, r| {
                (s, r.is_ok())
            });
        assert!(next.units() > 0);
        assert_eq!(rows.seq, seq + 1);
        Ok(())
    }
}
