//! Replies typed at the call site.
//!
//! Each request kind gives one kind of [`Reply`]. [`FromReply`] is the one
//! place that knows which: a caller asks for the value it wants and never
//! matches a reply of the wrong kind itself. [`Client`] adds the typed calls
//! to whatever carries a [`Request`] to a store (the GUI's backend, the
//! gateways' handle to the node); the CLI, which prints any reply, reads one
//! with [`FromReply::from_reply`] where it needs a value.

use std::future::Future;

use super::{
    ChatView, ContactProfile, InteractionDetail, InteractionRow, MentionRow, Reply, Request,
    RoomRow, TeamOverview,
};
use crate::ids::*;
use crate::projection::InteractionSummary;
use crate::routing;
use crate::store::{Page, TagUse};
use crate::types::*;

/// A reply of another kind than the request gives: a fault in whoever
/// answered, never in the request.
#[derive(Clone, PartialEq, Debug, thiserror::Error)]
#[error("unexpected answer: {0:?}")]
pub struct UnexpectedReply(pub Box<Reply>);

/// A value some reply carries: every kind of reply but `Created` (whose id
/// is read as the typed id of what was created) has its own type.
pub trait FromReply: Sized {
    fn from_reply(reply: Reply) -> Result<Self, UnexpectedReply>;
}

macro_rules! from_reply {
    ($($ty:ty: $pattern:pat => $value:expr;)*) => {$(
        impl FromReply for $ty {
            fn from_reply(reply: Reply) -> Result<Self, UnexpectedReply> {
                match reply {
                    $pattern => Ok($value),
                    other => Err(UnexpectedReply(Box::new(other))),
                }
            }
        }
    )*};
}

from_reply! {
    (): Reply::Done => ();
    Campaign: Reply::Campaign(c) => *c;
    Vec<Campaign>: Reply::Campaigns(list) => list;
    Vec<Contact>: Reply::Contacts(list) => list;
    Page<Contact>: Reply::ContactPage(page) => page;
    (Contact, Vec<InteractionSummary>): Reply::Contact { contact, interactions, .. } => (*contact, interactions);
    ContactProfile: Reply::Contact { contact, interactions, absorbed } => ContactProfile { contact: *contact, absorbed, interactions };
    Vec<InteractionRow>: Reply::Interactions(rows) => rows;
    Page<InteractionRow>: Reply::InteractionPage(page) => page;
    InteractionDetail: Reply::Interaction(detail) => *detail;
    TeamOverview: Reply::Team(team) => *team;
    ChatView: Reply::Chat(chat) => *chat;
    Vec<RoomRow>: Reply::Rooms(rooms) => rooms;
    Agent: Reply::Status(agent) => *agent;
    Vec<routing::Explanation>: Reply::Explanations(list) => list;
    Vec<CannedResponse>: Reply::Canned(list) => list;
    Vec<MentionRow>: Reply::Mentions(list) => list;
    Vec<TagUse>: Reply::Tags(list) => list;
    crate::report::Report: Reply::Report(report) => *report;
    crate::board::Board: Reply::Board(board) => *board;
    String: Reply::Text(text) => text;
}

/// A large value, kept boxed where it travels (a GUI message).
impl<T: FromReply> FromReply for Box<T> {
    fn from_reply(reply: Reply) -> Result<Self, UnexpectedReply> {
        T::from_reply(reply).map(Box::new)
    }
}

/// The id of what a request created.
macro_rules! created_id {
    ($($ty:ty),*) => {$(
        impl FromReply for $ty {
            fn from_reply(reply: Reply) -> Result<Self, UnexpectedReply> {
                if let Reply::Created { id } = &reply
                    && let Ok(id) = id.parse()
                {
                    return Ok(id);
                }
                Err(UnexpectedReply(Box::new(reply)))
            }
        }
    )*};
}

created_id!(InteractionId, ContactId, CampaignId, CannedId, MessageId);

/// Whatever carries a [`Request`] to a store and brings its [`Reply`] back.
/// Implement [`Client::call`]; the typed calls come with it.
pub trait Client {
    /// Why a request failed; a reply of the wrong kind becomes one too.
    type Error: From<UnexpectedReply>;

    /// Carries out one request.
    fn call(&self, request: Request) -> impl Future<Output = Result<Reply, Self::Error>> + Send;

    /// Carries out a request whose reply holds a `T`, and gives the `T`.
    fn ask<T: FromReply>(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<T, Self::Error>> + Send {
        let reply = self.call(request);
        async move { Ok(T::from_reply(reply.await?)?) }
    }

    fn show_campaign(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Campaign, Self::Error>> + Send {
        self.ask(Request::ShowCampaign {
            name: name.to_string(),
        })
    }

    fn list_campaigns(&self) -> impl Future<Output = Result<Vec<Campaign>, Self::Error>> + Send {
        self.ask(Request::ListCampaigns)
    }

    /// A contact with its interactions.
    fn show_contact(
        &self,
        id: ContactId,
    ) -> impl Future<Output = Result<(Contact, Vec<InteractionSummary>), Self::Error>> + Send {
        self.ask(Request::ShowContact { id })
    }

    /// The tags in use in the team, most used first.
    fn list_tags(&self) -> impl Future<Output = Result<Vec<TagUse>, Self::Error>> + Send {
        self.ask(Request::ListTags)
    }

    fn show_interaction(
        &self,
        id: InteractionId,
    ) -> impl Future<Output = Result<InteractionDetail, Self::Error>> + Send {
        self.ask(Request::ShowInteraction { id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_of_another_kind_is_unexpected() {
        let id = InteractionId::new();
        let created = Reply::Created { id: id.to_string() };
        assert_eq!(InteractionId::from_reply(created), Ok(id));
        assert_eq!(<()>::from_reply(Reply::Done), Ok(()));
        let wrong = <Vec<Campaign>>::from_reply(Reply::Done);
        assert_eq!(wrong, Err(UnexpectedReply(Box::new(Reply::Done))));
        assert_eq!(
            UnexpectedReply(Box::new(Reply::Done)).to_string(),
            "unexpected answer: Done"
        );
    }
}
