//! The screens behind the rail's tabs, plus the welcome screen. Each is a
//! module with its own `Message`, an upward `Event`, an `update` returning
//! `(Task<Message>, Option<Event>)` (each module's `Update`) and a `view`;
//! the inbox maps them.
//! Active, Pending and History are each a [`list::List`] of interactions
//! with the open one's detail, plus what only that screen does.

pub mod active;
pub mod admin;
pub mod board;
pub mod contacts;
pub mod conversation;
pub mod history;
pub mod list;
pub mod mentions;
pub mod pending;
pub mod phonebook;
pub mod reports;
pub mod tags;
pub mod welcome;

use iced::Task;
use meshdesk_model::ops::{Client, FromReply, Request};

use super::backend::{Backend, Error};

/// Rows fetched at first; more are fetched as the list is scrolled towards its end.
pub const PAGE: usize = 200;

/// What a screen asks the shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Toast {
    Info(String),
    Error(String),
}

/// Runs one request on the backend, as a task; `done` gets the value its
/// reply carries.
pub fn call<T: FromReply + Send + 'static, M: Send + 'static>(
    backend: &Backend,
    request: Request,
    done: impl FnOnce(Result<T, Error>) -> M + Send + 'static,
) -> Task<M> {
    let backend = backend.clone();
    Task::perform(async move { backend.ask(request).await }, done)
}
