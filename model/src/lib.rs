//! Domain types, Automerge documents, the redb store, projections, routing and search.
//!
//! No async runtime, no network, no GUI: everything here is plain data and
//! synchronous storage, so every node computes the same answers from the same state.

pub mod ids;
pub mod projection;
pub mod routing;
pub mod types;

// The domain's vocabulary, named at the crate root; projections and
// routing are reached through their modules.
pub use ids::{
    AgentId, CampaignId, CannedId, ContactId, InteractionId, InvalidId, MessageId, Millis, TeamId,
    now_ms,
};
pub use types::{
    Agent, AgentStatus, Author, Campaign, CannedResponse, ChannelKind, ChatMessage, ChatRoom,
    Claim, Contact, Decline, Direction, Finalization, FormField, Interaction, InteractionState,
    Invite, MailServer, MailTls, Mailbox, Member, Message, Note, Role, RoomKey, Snooze, SnoozeKind,
    StatusChange, Strategy, Team, TeamKey, Transfer, TransferKind, TransferTarget, UnknownVariant,
    month_of,
};
pub mod authorship;
pub mod blobs;
pub mod board;
pub mod bounds;
pub mod bundle;
pub mod canned;
pub mod change_ops;
pub mod clock;
pub mod doc;
pub mod durable;
pub mod hours;
pub mod mail;
pub mod mentions;
pub mod merge;
pub mod ops;
pub mod report;
pub mod rules;
pub mod store;
pub mod team_key;
pub mod validate;

/// Where the benchmarks keep the stores they build once and reuse:
/// `$CARGO_TARGET_DIR/bench-data`, else the workspace's `target/bench-data`.
#[doc(hidden)]
pub fn bench_data_dir() -> std::path::PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("bench-data")
}
