//! The domain: teams, agents, campaigns, interactions, contacts and chat.
//!
//! These are plain values. Each entity is stored as its own Automerge document
//! (see [`crate::doc`]); these types are what reading a document gives back.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::*;

/// What a string did not parse into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}` (expected one of: {expected})")]
pub struct UnknownVariant {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// Declares a field-less enum with a stable kebab-case text form, used in
/// documents, on the command line and in JSON alike.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable text form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, UnknownVariant> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant {
                        what: $what,
                        value: s.to_string(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }
    };
}

text_enum!(
    /// A member's role in the team.
    Role, "role" { Agent => "agent", Supervisor => "supervisor" }
);

text_enum!(
    /// The kinds of channel a campaign can run on.
    ChannelKind, "channel" {
        Phone => "phone",
        Webchat => "webchat",
        Api => "api",
        Email => "email",
        Internal => "internal",
    }
);

text_enum!(
    /// How a campaign's queue reaches its agents (DESIGN §7).
    Strategy, "strategy" {
        RingAll => "ring-all",
        RoundRobin => "round-robin",
        LongestIdle => "longest-idle",
        LeastBusy => "least-busy",
        FewestHandled => "fewest-handled",
        TopDown => "top-down",
        WeightedRandom => "weighted-random",
    }
);

impl Strategy {
    /// Push strategies offer each interaction to one chosen agent; ring-all
    /// shows the whole queue to every eligible agent.
    pub fn is_push(self) -> bool {
        self != Strategy::RingAll
    }
}

text_enum!(
    /// Who started the interaction.
    Direction, "direction" { Inbound => "inbound", Outbound => "outbound" }
);

/// A device admitted to the team.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Member {
    /// The device's libp2p peer id (base58).
    pub device: String,
    pub agent: AgentId,
    pub role: Role,
    pub device_name: String,
    pub joined_at: Millis,
    pub revoked: bool,
    /// When it was revoked: its changes dated later are refused.
    #[serde(default)]
    pub revoked_at: Option<Millis>,
}

/// A form field a campaign asks for when an interaction starts.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct FormField {
    pub name: String,
    pub required: bool,
}

impl FromStr for FormField {
    type Err = std::convert::Infallible;
    /// `name` or `name:required`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.rsplit_once(':') {
            Some((name, flag)) if flag.eq_ignore_ascii_case("required") => FormField {
                name: name.trim().to_string(),
                required: true,
            },
            _ => FormField {
                name: s.trim().to_string(),
                required: false,
            },
        })
    }
}

/// A queue of interactions on one channel, with its routing rules.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub name: String,
    pub channel: ChannelKind,
    pub strategy: Strategy,
    /// Members in order (top-down routes in this order).
    pub members: Vec<AgentId>,
    /// How many open interactions each member may hold in this campaign (0: no limit).
    pub capacity: u32,
    pub auto_accept: bool,
    pub offer_timeout_seconds: u32,
    pub dispositions: Vec<String>,
    pub fields: Vec<FormField>,
    pub sla_seconds: u32,
    pub wrapup_seconds: u32,
    /// When it answers, and what the webchat widget says outside those
    /// hours; none: always open.
    #[serde(default)]
    pub hours: Option<crate::hours::BusinessHours>,
}

impl Campaign {
    /// The default an offer waits for an answer before routing moves on.
    pub const DEFAULT_OFFER_TIMEOUT_SECONDS: u32 = 30;

    pub fn has_member(&self, agent: AgentId) -> bool {
        self.members.contains(&agent)
    }
}

/// An invite that lets a new device join (DESIGN §6). Only the token's hash is kept.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Invite {
    pub token_hash: String,
    pub created_by: AgentId,
    /// The device that issued it: the only one that redeems it, so a
    /// one-use code used on both sides of a partition admits one device.
    #[serde(default)]
    pub issuer: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub max_uses: u32,
    /// Devices that used it: one key each, so concurrent uses never overwrite each other.
    pub used_by: BTreeSet<String>,
    /// The campaigns a joiner is added to; empty: the team's oldest campaign.
    #[serde(default)]
    pub campaigns: Vec<CampaignId>,
}

impl Invite {
    /// Whether it can still admit a device at `now`.
    pub fn is_open(&self, now: Millis) -> bool {
        now < self.expires_at && self.used_by.len() < self.max_uses as usize
    }

    /// How people name it (`team invites`, `team cancel-invite`): the start
    /// of its token hash; the code itself is shown only once.
    pub fn short_id(&self) -> &str {
        self.token_hash
            .get(..12)
            .unwrap_or(self.token_hash.as_str())
    }
}

/// The team document's content.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub created_at: Millis,
    /// Devices, by peer id.
    pub members: BTreeMap<String, Member>,
    pub campaigns: BTreeMap<CampaignId, Campaign>,
    pub break_reasons: Vec<String>,
    pub invites: BTreeMap<String, Invite>,
    /// Replies written once for every agent to insert (`/code` in the composer).
    #[serde(default)]
    pub canned: BTreeMap<CannedId, CannedResponse>,
    /// The team key's rotations, by id ([`crate::team_key`]).
    #[serde(default)]
    pub keys: BTreeMap<String, TeamKey>,
    /// The mailbox of each campaign on the `email` channel that has one
    /// (never its password: that stays on each device).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mailboxes: BTreeMap<CampaignId, Mailbox>,
}

/// How a mail connection is secured.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailTls {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    #[default]
    Tls,
    /// A plain connection upgraded with STARTTLS (IMAP 143, submission 587).
    Starttls,
    /// No encryption at all (a server on loopback only).
    None,
}

impl MailTls {
    pub fn as_str(self) -> &'static str {
        match self {
            MailTls::Tls => "tls",
            MailTls::Starttls => "starttls",
            MailTls::None => "none",
        }
    }
}

impl std::str::FromStr for MailTls {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tls" | "ssl" => Ok(MailTls::Tls),
            "starttls" => Ok(MailTls::Starttls),
            "none" | "plain" => Ok(MailTls::None),
            other => Err(format!("`{other}` is not tls, starttls or none")),
        }
    }
}

impl std::fmt::Display for MailTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One server of a mailbox: where and as whom.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MailServer {
    pub host: String,
    pub port: u16,
    pub tls: MailTls,
    pub user: String,
}

/// A campaign's mailbox (the `email` channel): the replicated, non-secret
/// part. Written by supervisors only (it is in the team document).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Mailbox {
    /// The address customers write to, and replies come from.
    pub address: String,
    pub imap: MailServer,
    pub smtp: MailServer,
    /// Devices (peer ids) that hold the password and may fetch; the live
    /// one chosen by [`crate::mail::fetcher_of`] does.
    #[serde(default)]
    pub fetchers: BTreeSet<String>,
}

/// A reply a supervisor writes once for the team: an agent types `/code` in
/// the composer and gets the body with its placeholders filled
/// ([`crate::canned::fill`]).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CannedResponse {
    pub id: CannedId,
    /// Short, unique in the team: lowercase letters, digits, `-` and `_`.
    pub code: String,
    pub body: String,
    /// Offered only in this campaign's interactions; `None`: in all.
    pub campaign: Option<CampaignId>,
}

/// One rotation of the team key: the new key sealed to each device that was
/// not revoked when it was made.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TeamKey {
    /// `<generation, 10 digits>-<random>`: concurrent rotations never share one.
    pub id: String,
    pub generation: u64,
    /// The supervisor device that made it.
    pub made_by: String,
    pub made_at: Millis,
    /// [`crate::team_key::fingerprint`] of the key.
    pub fingerprint: String,
    /// The devices revoked when it was made (they never had this key).
    pub excludes: BTreeSet<String>,
    /// The key sealed to each device, by device.
    pub sealed: BTreeMap<String, Vec<u8>>,
}

impl Team {
    pub fn campaign_by_name(&self, name: &str) -> Option<&Campaign> {
        let name = name.trim();
        self.campaigns
            .values()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The campaigns an agent is a member of.
    pub fn campaigns_of(&self, agent: AgentId) -> impl Iterator<Item = &Campaign> {
        self.campaigns.values().filter(move |c| c.has_member(agent))
    }

    /// The channels an agent may start interactions on (those of their campaigns).
    pub fn channels_of(&self, agent: AgentId) -> BTreeSet<ChannelKind> {
        self.campaigns_of(agent).map(|c| c.channel).collect()
    }

    pub fn member_by_device(&self, device: &str) -> Option<&Member> {
        self.members.get(device).filter(|m| !m.revoked)
    }

    /// The role of an agent: supervisor if any of their devices is one.
    /// The invites that can still admit a device, oldest first.
    pub fn open_invites(&self, now: Millis) -> Vec<&Invite> {
        let mut open: Vec<&Invite> = self.invites.values().filter(|i| i.is_open(now)).collect();
        open.sort_by_key(|i| (i.created_at, i.token_hash.clone()));
        open
    }

    pub fn role_of(&self, agent: AgentId) -> Option<Role> {
        let roles = self
            .members
            .values()
            .filter(|m| m.agent == agent && !m.revoked);
        roles.map(|m| m.role).max()
    }
}

/// An agent's availability.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum AgentStatus {
    Available,
    Break { reason: String },
    Offline,
}

impl AgentStatus {
    pub fn label(&self) -> String {
        match self {
            AgentStatus::Available => "available".into(),
            AgentStatus::Break { reason } if reason.is_empty() => "break".into(),
            AgentStatus::Break { reason } => format!("break ({reason})"),
            AgentStatus::Offline => "offline".into(),
        }
    }
}

/// One entry of an agent's status history.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct StatusChange {
    pub at: Millis,
    pub status: AgentStatus,
}

/// The agent document's content.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    pub status: AgentStatus,
    pub status_since: Millis,
    /// Open interactions this agent may hold across all campaigns (0: no limit).
    pub capacity: u32,
    /// The most recent changes, oldest first, bounded to [`Agent::HISTORY_LIMIT`]
    /// in the document; empty as the store's `agents` rows give it (the
    /// `status_log` table holds it).
    pub status_history: Vec<StatusChange>,
}

impl Agent {
    /// How many status changes the document keeps (checked on receive).
    pub const HISTORY_LIMIT: usize = crate::bounds::MAX_STATUS_LOG;
}

/// Who wrote a message in an interaction.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum Author {
    Agent(AgentId),
    Contact,
    System,
}

/// A message in an interaction. The body is plain text, never markup.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub author: Author,
    pub at: Millis,
    pub body: String,
    /// The files it carries (their bytes are blobs, see [`crate::blobs`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::blobs::Attachment>,
}

/// An agent's claim on an interaction. Claims are only ever written by the
/// claiming agent's own node; the owner is the smallest `(claimed_at, agent)`
/// among the claims of the current epoch.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Claim {
    pub agent: AgentId,
    pub claimed_at: Millis,
    /// Which routing round the claim belongs to: the number of transfers before it.
    pub epoch: u32,
}

impl Claim {
    fn order_key(&self) -> (Millis, AgentId) {
        (self.claimed_at, self.agent)
    }
}

/// An agent's refusal (or an offer that timed out) in one routing round.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Decline {
    pub agent: AgentId,
    pub at: Millis,
    pub epoch: u32,
}

/// Where a transfer sends an interaction.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum TransferTarget {
    Agent(AgentId),
    Campaign(CampaignId),
}

/// Why an interaction changed hands: its owner passed it on, or it was
/// taken back. Stored as the transfer's `kind` (absent for a plain transfer,
/// so documents written before take-backs read the same).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransferKind {
    /// The owner passed it to a teammate or a campaign.
    #[default]
    Transfer,
    /// The owner gave it back to its campaign's queue.
    Return,
    /// A supervisor took it from its owner back to the queue.
    #[serde(rename = "pull")]
    PullBack,
    /// A supervisor took it from its owner and offered it to another agent.
    Hand,
}

impl TransferKind {
    /// The document's `kind` value (none for a plain transfer).
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Transfer => "transfer",
            TransferKind::Return => "return",
            TransferKind::PullBack => "pull",
            TransferKind::Hand => "hand",
        }
    }

    /// Whether it took the interaction away from someone without being
    /// theirs to give: a supervisor's act.
    pub fn by_supervisor(self) -> bool {
        matches!(self, TransferKind::PullBack | TransferKind::Hand)
    }
}

impl std::str::FromStr for TransferKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "transfer" => Ok(TransferKind::Transfer),
            "return" => Ok(TransferKind::Return),
            "pull" => Ok(TransferKind::PullBack),
            "hand" => Ok(TransferKind::Hand),
            other => Err(format!("unknown transfer kind `{other}`")),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Transfer {
    /// Who did it: the owner for a transfer or a return, the supervisor for
    /// a pull-back or a hand-over.
    pub from: AgentId,
    pub to: TransferTarget,
    pub at: Millis,
    pub note: String,
    #[serde(default)]
    pub kind: TransferKind,
    /// Why it was taken back (returns, pull-backs and hand-overs), shown to
    /// the agent who lost it and in the history.
    #[serde(default)]
    pub reason: String,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Finalization {
    pub agent: AgentId,
    pub at: Millis,
    pub disposition: String,
    pub note: String,
    /// When the agent's wrap-up ends (`at` plus the campaign's wrap-up seconds).
    pub wrapup_until: Millis,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Note {
    pub agent: AgentId,
    pub at: Millis,
    pub text: String,
}

/// Where an interaction is in its life, derived from claims, transfers and finalization.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InteractionState {
    Queued,
    Active,
    WrapUp,
    Closed,
}

impl InteractionState {
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionState::Queued => "queued",
            InteractionState::Active => "active",
            InteractionState::WrapUp => "wrap-up",
            InteractionState::Closed => "closed",
        }
    }
}

/// The interaction document's content.
/// Why an owner set an interaction aside: to look at it later, or to call
/// the customer back at an agreed time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnoozeKind {
    #[default]
    Snooze,
    Callback,
}

impl SnoozeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SnoozeKind::Snooze => "snooze",
            SnoozeKind::Callback => "callback",
        }
    }
}

impl std::str::FromStr for SnoozeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "snooze" => Ok(SnoozeKind::Snooze),
            "callback" => Ok(SnoozeKind::Callback),
            other => Err(format!("unknown snooze kind `{other}`")),
        }
    }
}

/// An owner's snooze (or scheduled callback) of an interaction: hidden
/// from their Active until `until`, then back with a notice. Nobody writes
/// at the due time: coming due is a function of this and the clock.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Snooze {
    /// The owner who set it.
    pub agent: AgentId,
    /// The routing round it was set in: a later round ignores it.
    pub epoch: u32,
    /// When it was set.
    pub at: Millis,
    /// When it comes due.
    pub until: Millis,
    pub kind: SnoozeKind,
    pub note: String,
}

impl Snooze {
    /// Still hidden at `now`.
    pub fn pending_at(&self, now: Millis) -> bool {
        now < self.until
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Interaction {
    pub id: InteractionId,
    pub direction: Direction,
    pub channel: ChannelKind,
    /// The campaign it was created in; transfers to a campaign move it (see [`Interaction::campaign`]).
    pub origin_campaign: CampaignId,
    pub contact: Option<ContactId>,
    /// The customer's address on the channel (phone number, email, visitor name).
    pub address: String,
    /// The customer's display name as known when it was created.
    pub contact_name: String,
    /// `contact` is only who the customer said they were (a webchat
    /// visitor's email): unproven, so its stored data is not theirs to see.
    pub contact_unverified: bool,
    pub subject: String,
    pub fields: BTreeMap<String, String>,
    /// Lower runs first.
    pub priority: i32,
    pub enqueued_at: Millis,
    pub created_at: Millis,
    pub created_by: Option<AgentId>,
    pub messages: Vec<Message>,
    pub claims: Vec<Claim>,
    pub declines: Vec<Decline>,
    pub transfers: Vec<Transfer>,
    pub finalization: Option<Finalization>,
    pub notes: Vec<Note>,
    pub tags: BTreeSet<String>,
    /// The last snooze or callback its owner set (or cleared), as written:
    /// it counts only while [`Interaction::snoozed`] says so.
    #[serde(default)]
    pub snooze: Option<Snooze>,
}

impl Interaction {
    /// The snooze in force: set by the current owner in the current round
    /// and not finalized since. A transfer, a take-back or a finalization
    /// ends it without anyone writing; every node reads the same.
    pub fn snoozed(&self) -> Option<&Snooze> {
        let s = self.snooze.as_ref()?;
        let owner = self.owner()?;
        (self.finalization.is_none() && s.agent == owner.agent && s.epoch == self.epoch())
            .then_some(s)
    }

    /// The current routing round: each transfer starts a new one.
    pub fn epoch(&self) -> u32 {
        u32::try_from(self.transfers.len()).unwrap_or(u32::MAX)
    }

    /// When the current routing round began: its queueing, or the last transfer.
    pub fn round_started_at(&self) -> Millis {
        self.transfers
            .last()
            .map(|t| t.at)
            .unwrap_or(self.enqueued_at)
    }

    /// The campaign it is queued in now: the last transfer to a campaign, or where it began.
    pub fn campaign(&self) -> CampaignId {
        self.transfers
            .iter()
            .rev()
            .find_map(|t| match t.to {
                TransferTarget::Campaign(c) => Some(c),
                TransferTarget::Agent(_) => None,
            })
            .unwrap_or(self.origin_campaign)
    }

    /// The agent a pending transfer is directed to, if the last transfer named one.
    pub fn directed_to(&self) -> Option<AgentId> {
        match self.transfers.last().map(|t| t.to) {
            Some(TransferTarget::Agent(a)) => Some(a),
            _ => None,
        }
    }

    /// Claims of the current round, winner first: the same order on every node.
    pub fn current_claims(&self) -> Vec<Claim> {
        let epoch = self.epoch();
        let mut claims: Vec<Claim> = self
            .claims
            .iter()
            .copied()
            .filter(|c| c.epoch == epoch)
            .collect();
        claims.sort_by_key(Claim::order_key);
        claims.dedup_by_key(|c| c.agent);
        claims
    }

    /// The owner: the smallest `(claimed_at, agent)` among the current round's claims.
    pub fn owner(&self) -> Option<Claim> {
        self.current_claims().into_iter().next()
    }

    /// Agents whose claim in this round lost to the owner's.
    pub fn losing_claimants(&self) -> Vec<AgentId> {
        self.current_claims()
            .into_iter()
            .skip(1)
            .map(|c| c.agent)
            .collect()
    }

    /// Agents who declined (or let time out) an offer in the current round.
    pub fn declined_now(&self) -> BTreeSet<AgentId> {
        self.declined_in_round()
            .into_iter()
            .map(|(a, _)| a)
            .collect()
    }

    /// The current round's decliners with their latest decline, by agent.
    /// The agent who lost the interaction to a take-back (returned it, or
    /// had it pulled back or handed away) counts as having declined at
    /// that moment, so routing does not offer it straight back to them.
    pub fn declined_in_round(&self) -> Vec<(AgentId, Millis)> {
        let epoch = self.epoch();
        let mut latest: BTreeMap<AgentId, Millis> = BTreeMap::new();
        for d in self.declines.iter().filter(|d| d.epoch == epoch) {
            let at = latest.entry(d.agent).or_insert(d.at);
            *at = (*at).max(d.at);
        }
        if let Some(last) = self.transfers.last()
            && last.kind != TransferKind::Transfer
            && let Some(left) = self.round_owner(epoch.saturating_sub(1))
        {
            let at = latest.entry(left).or_insert(last.at);
            *at = (*at).max(last.at);
        }
        latest.into_iter().collect()
    }

    /// The owner a round had: the smallest `(claimed_at, agent)` among its claims.
    pub fn round_owner(&self, epoch: u32) -> Option<AgentId> {
        self.claims
            .iter()
            .filter(|c| c.epoch == epoch)
            .min_by_key(|c| c.order_key())
            .map(|c| c.agent)
    }

    /// The history's line for a take-back (none for a plain transfer), as
    /// every client shows it: "Returned to the queue by Eve: wrong language",
    /// "Returned to the queue by Ana, taken from Eve: …", "Handed to Bruno
    /// by Ana, taken from Eve: …". `name` names an agent.
    pub fn take_back_line(&self, index: usize, name: impl Fn(AgentId) -> String) -> Option<String> {
        let t = self.transfers.get(index)?;
        let from = |line: String| match self.taken_from(index) {
            Some(owner) if owner != t.from => format!("{line}, taken from {}", name(owner)),
            _ => line,
        };
        let line = match (t.kind, t.to) {
            (TransferKind::Transfer, _) => return None,
            (TransferKind::Return, _) => format!("Returned to the queue by {}", name(t.from)),
            (TransferKind::PullBack, _) => {
                from(format!("Returned to the queue by {}", name(t.from)))
            }
            (TransferKind::Hand, TransferTarget::Agent(to)) => {
                from(format!("Handed to {} by {}", name(to), name(t.from)))
            }
            (TransferKind::Hand, TransferTarget::Campaign(_)) => {
                from(format!("Handed back by {}", name(t.from)))
            }
        };
        Some(if t.reason.is_empty() {
            line
        } else {
            format!("{line}: {}", t.reason)
        })
    }

    /// The take-back that took the interaction from `agent` (a supervisor's
    /// pull-back or hand-over, with its index) if that is the last thing
    /// that happened to `agent` here: not one of their own, and they have
    /// not claimed it again since.
    pub fn last_take_back_from(&self, agent: AgentId) -> Option<(usize, &Transfer)> {
        let index = self.transfers.len().checked_sub(1)?;
        let t = &self.transfers[index];
        let claimed_since = self
            .claims
            .iter()
            .any(|c| c.agent == agent && c.epoch == self.epoch());
        (t.kind.by_supervisor()
            && t.from != agent
            && self.taken_from(index) == Some(agent)
            && !claimed_since)
            .then_some((index, t))
    }

    /// Who had the interaction when the transfer at `index` moved it on:
    /// the owner of the round it ended.
    pub fn taken_from(&self, index: usize) -> Option<AgentId> {
        self.round_owner(u32::try_from(index).ok()?)
    }

    pub fn state_at(&self, now: Millis) -> InteractionState {
        match &self.finalization {
            Some(f) if now < f.wrapup_until => InteractionState::WrapUp,
            Some(_) => InteractionState::Closed,
            None if self.owner().is_some() => InteractionState::Active,
            None => InteractionState::Queued,
        }
    }

    /// Messages in reading order (time, then id), whatever order peers appended them in.
    pub fn messages_in_order(&self) -> Vec<&Message> {
        let mut messages: Vec<&Message> = self.messages.iter().collect();
        messages.sort_by_key(|m| (m.at, m.id));
        messages
    }

    /// The time of the last thing that happened to it.
    pub fn last_activity(&self) -> Millis {
        let mut at = self.created_at.max(self.enqueued_at);
        at = at.max(self.messages.iter().map(|m| m.at).max().unwrap_or(at));
        at = at.max(self.claims.iter().map(|c| c.claimed_at).max().unwrap_or(at));
        at = at.max(self.transfers.iter().map(|t| t.at).max().unwrap_or(at));
        if let Some(f) = &self.finalization {
            at = at.max(f.at);
        }
        at
    }
}

/// A phonebook contact.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub name: String,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub company: String,
    pub notes: String,
    pub tags: BTreeSet<String>,
    pub custom: BTreeMap<String, String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Deleted contacts stay as tombstones so the deletion reaches every peer.
    pub deleted: bool,
    /// The contact this one was merged into (see `merge`), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<ContactId>,
    /// When the merge was last set or cleared (0: never).
    #[serde(default)]
    pub merged_at: Millis,
    /// Who last set or cleared the merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_by: Option<AgentId>,
    /// The address (lowercase) mail intake made this contact for: entries
    /// made so for one address stand for one (see `merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_sender: Option<String>,
}

impl Contact {
    /// This contact as its profile shows it with the contacts merged into
    /// it: its own name, company and notes, and the phones, emails and tags
    /// of all of them (its own first, without repeats).
    pub fn combined<'a>(&self, absorbed: impl IntoIterator<Item = &'a Contact>) -> Contact {
        let mut out = self.clone();
        for other in absorbed {
            for phone in &other.phones {
                let digits = |p: &str| p.chars().filter(char::is_ascii_digit).collect::<String>();
                if !out.phones.iter().any(|p| digits(p) == digits(phone)) {
                    out.phones.push(phone.clone());
                }
            }
            for email in &other.emails {
                if !out.emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
                    out.emails.push(email.clone());
                }
            }
            out.tags.extend(other.tags.iter().cloned());
        }
        out
    }
}

/// A chat room: a direct conversation between two agents or a campaign's room.
/// One document per room per month bounds each document's history.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RoomKey {
    Direct { a: AgentId, b: AgentId },
    Campaign { campaign: CampaignId },
}

impl RoomKey {
    /// A direct room; the two agents in a canonical order.
    pub fn direct(x: AgentId, y: AgentId) -> Self {
        if x <= y {
            RoomKey::Direct { a: x, b: y }
        } else {
            RoomKey::Direct { a: y, b: x }
        }
    }

    pub fn includes(&self, agent: AgentId) -> bool {
        match self {
            RoomKey::Direct { a, b } => *a == agent || *b == agent,
            RoomKey::Campaign { .. } => true,
        }
    }

    /// The stable key of the room across months (used for the room projection).
    pub fn key(&self) -> String {
        match self {
            RoomKey::Direct { a, b } => format!("dm:{a}:{b}"),
            RoomKey::Campaign { campaign } => format!("campaign:{campaign}"),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: MessageId,
    pub author: AgentId,
    pub at: Millis,
    pub body: String,
}

/// One month of a room's messages (the content of one chat-room document).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ChatRoom {
    pub room: RoomKey,
    /// `yyyy-mm`.
    pub month: String,
    pub messages: Vec<ChatMessage>,
}

impl ChatRoom {
    pub fn messages_in_order(&self) -> Vec<&ChatMessage> {
        let mut messages: Vec<&ChatMessage> = self.messages.iter().collect();
        messages.sort_by_key(|m| (m.at, m.id));
        messages
    }
}

/// The `yyyy-mm` month a timestamp falls in (UTC).
pub fn month_of(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m").to_string())
        .unwrap_or_else(|| "1970-01".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interaction() -> Interaction {
        Interaction {
            id: InteractionId::new(),
            direction: Direction::Inbound,
            channel: ChannelKind::Phone,
            origin_campaign: CampaignId::new(),
            contact: None,
            address: "+1 555 0100".into(),
            contact_name: "Ana".into(),
            contact_unverified: false,
            snooze: None,
            subject: String::new(),
            fields: BTreeMap::new(),
            priority: 0,
            enqueued_at: 1_000,
            created_at: 1_000,
            created_by: None,
            messages: vec![],
            claims: vec![],
            declines: vec![],
            transfers: vec![],
            finalization: None,
            notes: vec![],
            tags: BTreeSet::new(),
        }
    }

    #[test]
    fn a_take_back_names_who_did_it_whom_it_was_taken_from_and_why() {
        let (eve, ana, bo) = (AgentId::new(), AgentId::new(), AgentId::new());
        let names = |a: AgentId| {
            [(eve, "Eve"), (ana, "Ana"), (bo, "Bo")]
                .iter()
                .find(|(id, _)| *id == a)
                .map(|(_, n)| n.to_string())
                .unwrap_or_default()
        };
        let mut i = interaction();
        let campaign = i.campaign();
        let claim = |agent, epoch| Claim {
            agent,
            claimed_at: 1_500,
            epoch,
        };
        let back = |from, to, kind| Transfer {
            from,
            to,
            at: 1_600,
            note: String::new(),
            kind,
            reason: "customer asked for a manager".into(),
        };
        i.claims.push(claim(eve, 0));
        // Her own return: a line for the history, nothing to tell her.
        i.transfers = vec![back(
            eve,
            TransferTarget::Campaign(campaign),
            TransferKind::Return,
        )];
        assert_eq!(
            i.take_back_line(0, names).as_deref(),
            Some("Returned to the queue by Eve: customer asked for a manager")
        );
        assert_eq!(i.last_take_back_from(eve), None);
        assert_eq!(i.declined_in_round(), vec![(eve, 1_600)]);

        // A supervisor's pull-back and hand-over are told to her.
        i.transfers = vec![back(
            ana,
            TransferTarget::Campaign(campaign),
            TransferKind::PullBack,
        )];
        assert_eq!(
            i.take_back_line(0, names).as_deref(),
            Some("Returned to the queue by Ana, taken from Eve: customer asked for a manager")
        );
        assert_eq!(i.last_take_back_from(eve).map(|(n, _)| n), Some(0));
        assert_eq!(i.last_take_back_from(bo), None);
        i.transfers = vec![back(ana, TransferTarget::Agent(bo), TransferKind::Hand)];
        assert_eq!(
            i.take_back_line(0, names).as_deref(),
            Some("Handed to Bo by Ana, taken from Eve: customer asked for a manager")
        );
        assert_eq!(i.directed_to(), Some(bo));
        assert!(i.last_take_back_from(eve).is_some());
        // Once she claims it again, it is hers: nothing more to tell.
        i.claims.push(claim(eve, 1));
        assert_eq!(i.last_take_back_from(eve), None);

        // A plain transfer has no take-back line and declines nobody.
        i.transfers = vec![back(eve, TransferTarget::Agent(bo), TransferKind::Transfer)];
        assert_eq!(i.take_back_line(0, names), None);
        i.claims.pop();
        assert!(i.declined_in_round().is_empty());
    }

    #[test]
    fn state_follows_claims_transfers_and_finalization() {
        let mut i = interaction();
        assert_eq!(i.state_at(2_000), InteractionState::Queued);
        let (a, b) = (AgentId::new(), AgentId::new());
        i.claims.push(Claim {
            agent: b,
            claimed_at: 1_500,
            epoch: 0,
        });
        i.claims.push(Claim {
            agent: a,
            claimed_at: 1_400,
            epoch: 0,
        });
        assert_eq!(i.state_at(2_000), InteractionState::Active);
        assert_eq!(i.owner().map(|c| c.agent), Some(a));
        assert_eq!(i.losing_claimants(), vec![b]);

        let other = CampaignId::new();
        i.transfers.push(Transfer {
            from: a,
            to: TransferTarget::Campaign(other),
            at: 1_600,
            note: String::new(),
            kind: TransferKind::Transfer,
            reason: String::new(),
        });
        assert_eq!(i.state_at(2_000), InteractionState::Queued);
        assert_eq!(i.campaign(), other);

        i.claims.push(Claim {
            agent: b,
            claimed_at: 1_700,
            epoch: 1,
        });
        i.finalization = Some(Finalization {
            agent: b,
            at: 1_800,
            disposition: "Resolved".into(),
            note: String::new(),
            wrapup_until: 1_900,
        });
        assert_eq!(i.state_at(1_850), InteractionState::WrapUp);
        assert_eq!(i.state_at(1_900), InteractionState::Closed);
    }

    #[test]
    fn text_enums_parse_their_own_text_and_refuse_others() {
        for s in Strategy::ALL {
            assert_eq!(s.as_str().parse::<Strategy>(), Ok(*s));
        }
        let err = "fastest".parse::<Strategy>().expect_err("unknown strategy");
        assert!(err.to_string().contains("ring-all"));
        assert_eq!("Phone".parse::<ChannelKind>(), Ok(ChannelKind::Phone));
    }

    #[test]
    fn form_field_parses_required_flag() {
        assert_eq!(
            "Order number:required".parse::<FormField>(),
            Ok(FormField {
                name: "Order number".into(),
                required: true
            })
        );
        assert_eq!(
            "Subject".parse::<FormField>(),
            Ok(FormField {
                name: "Subject".into(),
                required: false
            })
        );
    }
}
