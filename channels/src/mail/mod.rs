//! The email channel (DESIGN §8): a campaign's mailbox in over IMAP and
//! out over SMTP, with no server of our own.
//!
//! - [`secrets`]: the mailbox password, per device, sealed in the data dir.
//! - [`net`]: IMAP and SMTP connections, failures named by step.
//! - [`parse`]: a raw mail → what the conversation shows.
//! - [`worker`]: the fetcher (one device per mailbox, chosen from who is
//!   live) and the sender of replies (the author's own node).
//!
//! Everything reaches the store as `ops::Request`s through the node.

pub mod net;
pub mod parse;
pub mod secrets;
pub mod worker;

pub use secrets::Secrets;
pub use worker::{MailWorkers, start};

/// Why a mailbox could not be used. Each names the step that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    #[error("DNS: cannot resolve {0}: {1}")]
    Dns(String, String),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("TLS with {0} failed: {1}")]
    Tls(String, String),
    #[error("{0} refused the login of `{1}` (wrong user or password?): {2}")]
    Auth(String, String, String),
    #[error("{0}: {1}")]
    Protocol(String, String),
    #[error("mailbox secrets: {0}")]
    Secrets(String),
    #[error(
        "no password for this mailbox on this device: run `meshdesk mailbox password --campaign …`"
    )]
    NoPassword,
}

/// Checks both of a mailbox's servers; a line per server that worked, or
/// the first failure of each.
pub async fn test_mailbox(
    mailbox: &meshdesk_model::Mailbox,
    password: &str,
) -> Vec<Result<String, MailError>> {
    vec![
        net::imap_check(&mailbox.imap, password).await,
        net::smtp_check(&mailbox.smtp, password).await,
    ]
}
