//! The email channel's pure parts: which device fetches a mailbox, how a
//! mail finds its interaction, and what a mail brings in.
//!
//! No network here: the IMAP and SMTP clients live in the channels crate and
//! send [`crate::ops::Request`]s built from these values.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::blobs::Attachment;
use crate::ids::{CampaignId, InteractionId, MessageId};

/// The longest `Message-ID` kept (RFC 5322's line limit).
pub const MAX_MAIL_ID_CHARS: usize = 998;
/// The longest subject kept, in characters.
pub const MAX_SUBJECT_CHARS: usize = 500;

/// The device that fetches a mailbox now: among the mailbox's fetchers that
/// are live, the one ranking first by rendezvous hashing of (campaign,
/// device), so every node that sees the same live set names the same one,
/// and different campaigns spread over devices. `None` when no fetcher is live.
pub fn fetcher_of(
    campaign: CampaignId,
    fetchers: &BTreeSet<String>,
    live: impl Fn(&str) -> bool,
) -> Option<&str> {
    fetchers
        .iter()
        .filter(|d| live(d))
        .min_by_key(|d| {
            let mut h = blake3::Hasher::new();
            h.update(b"meshdesk/mail-fetcher/v1");
            h.update(campaign.to_string().as_bytes());
            h.update(d.as_bytes());
            (*h.finalize().as_bytes(), d.to_string())
        })
        .map(String::as_str)
}

/// The reference token put in the subject of every reply, which threads a
/// customer's answer even when their client drops the headers.
pub fn subject_token(interaction: InteractionId) -> String {
    format!("[#{interaction}]")
}

/// The interaction a subject's reference token names, if any.
pub fn token_in_subject(subject: &str) -> Option<InteractionId> {
    let mut rest = subject;
    while let Some(start) = rest.find("[#") {
        let after = &rest[start + 2..];
        if let Some(end) = after.find(']')
            && let Ok(id) = after[..end].trim().parse()
        {
            return Some(id);
        }
        rest = after;
    }
    None
}

/// The `Message-ID` of an agent's message sent as mail: derived from the
/// interaction and message, so every node gives it the same id and an
/// answer's `In-Reply-To` names its interaction without any lookup.
pub fn outbound_mail_id(interaction: InteractionId, message: MessageId, domain: &str) -> String {
    let domain = if domain.trim().is_empty() {
        "meshdesk.invalid"
    } else {
        domain.trim()
    };
    format!("<{message}.{interaction}.meshdesk@{domain}>")
}

/// The interaction an id made by [`outbound_mail_id`] names.
pub fn interaction_of_mail_id(mail_id: &str) -> Option<InteractionId> {
    let inner = mail_id.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _) = inner.split_once('@')?;
    let mut parts = local.split('.');
    let _message = parts.next()?;
    let interaction = parts.next()?;
    (parts.next()? == "meshdesk").then_some(())?;
    interaction.parse().ok()
}

/// A `Message-ID` as it is compared and indexed: with its angle brackets,
/// without surrounding space. Empty or overlong ones are none.
pub fn normalize_mail_id(raw: &str) -> Option<String> {
    let inner = raw
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    if inner.is_empty()
        || inner.len() + 2 > MAX_MAIL_ID_CHARS
        || inner.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return None;
    }
    Some(format!("<{inner}>"))
}

/// A mail that came into a campaign's mailbox, parsed (see the channels
/// crate), its files already in this node's blob store.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InboundMail {
    pub campaign: String,
    /// Its `Message-ID`, or one derived from its bytes when it has none.
    pub mail_id: String,
    /// `In-Reply-To` then `References`, newest first.
    #[serde(default)]
    pub replies_to: Vec<String>,
    pub subject: String,
    pub from_address: String,
    #[serde(default)]
    pub from_name: Option<String>,
    /// The readable text (HTML converted to text).
    pub text: String,
    #[serde(default)]
    pub files: Vec<Attachment>,
    /// Where the fetcher found it: the mailbox's UIDVALIDITY and its UID.
    #[serde(default)]
    pub uid: Option<(u32, u32)>,
}

/// How a fetched mail's place is recorded on its message (`mail_uid`).
pub fn uid_mark(campaign: CampaignId, validity: u32, uid: u32) -> String {
    format!("{campaign}/{validity}/{uid}")
}

/// The parts of a [`uid_mark`].
pub fn parse_uid_mark(mark: &str) -> Option<(CampaignId, u32, u32)> {
    let mut parts = mark.split('/');
    let campaign = parts.next()?.parse().ok()?;
    let validity = parts.next()?.parse().ok()?;
    let uid = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((campaign, validity, uid))
}

/// One message of an email conversation as the sender of replies reads it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ThreadMessage {
    pub message: crate::types::Message,
    pub mark: crate::doc::interaction::MailMark,
}

/// What sending an agent's reply needs: the conversation and its mail facts.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MailThread {
    pub interaction: InteractionId,
    pub campaign: CampaignId,
    pub subject: String,
    /// The customer's address and name.
    pub address: String,
    pub contact_name: String,
    pub messages: Vec<ThreadMessage>,
}

/// How sending an agent's reply ended.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum MailOutcome {
    /// The SMTP server accepted it.
    Sent,
    /// It cannot be sent (refused for good, or retries ran out).
    Failed { reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_ids_and_tokens_name_their_interaction() {
        let i = InteractionId::new();
        let m = MessageId::new();
        let id = outbound_mail_id(i, m, "example.com");
        assert_eq!(interaction_of_mail_id(&id), Some(i));
        assert_eq!(interaction_of_mail_id("<abc@example.com>"), None);
        let subject = format!("Re: Help {}", subject_token(i));
        assert_eq!(token_in_subject(&subject), Some(i));
        assert_eq!(token_in_subject("[#nope] hi"), None);
    }

    #[test]
    fn the_fetcher_is_the_same_for_any_order_and_skips_the_dead() {
        let c = CampaignId::new();
        let all: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let first = fetcher_of(c, &all, |_| true).map(str::to_string);
        let first = first.expect("one");
        let next = fetcher_of(c, &all, |d| d != first).expect("another");
        assert_ne!(next, first);
        assert_eq!(fetcher_of(c, &all, |_| false), None);
    }

    #[test]
    fn mail_ids_are_normalized() {
        assert_eq!(normalize_mail_id(" <a@b> ").as_deref(), Some("<a@b>"));
        assert_eq!(normalize_mail_id("a@b").as_deref(), Some("<a@b>"));
        assert_eq!(normalize_mail_id("<>"), None);
        assert_eq!(normalize_mail_id("<a b@c>"), None);
    }
}
