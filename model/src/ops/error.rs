//! Why a request was refused.

use crate::ids::InteractionId;
use crate::store::StoreError;
use crate::types::ChannelKind;
use crate::validate::InvalidInput;

/// Why a request was refused. Each message names what is wrong, in one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    #[error("no team yet: run `meshdesk team create --name NAME --agent NAME` or join one")]
    NoTeam,
    #[error("this data dir already holds team `{0}`")]
    TeamExists(String),
    #[error("unknown campaign `{0}`")]
    UnknownCampaign(String),
    #[error("unknown agent `{0}`")]
    UnknownAgent(String),
    #[error("unknown {what} id `{id}`")]
    UnknownId { what: &'static str, id: String },
    #[error("missing required field `{field}` for campaign `{campaign}`")]
    MissingField { field: String, campaign: String },
    #[error("campaign `{campaign}` has no field `{field}` (fields: {known})")]
    UnknownField {
        field: String,
        campaign: String,
        known: String,
    },
    #[error("disposition `{disposition}` is not in campaign `{campaign}`'s list ({allowed})")]
    BadDisposition {
        disposition: String,
        campaign: String,
        allowed: String,
    },
    #[error("campaign `{campaign}` runs on {actual}, not {requested}")]
    WrongChannel {
        campaign: String,
        actual: ChannelKind,
        requested: ChannelKind,
    },
    #[error("campaign `{0}` already exists")]
    DuplicateCampaign(String),
    #[error("a campaign needs at least one {0}")]
    CampaignNeeds(&'static str),
    #[error("campaign `{0}` would have no members left: add someone else to it first")]
    CampaignLeftEmpty(String),
    #[error("{0} is the team's last supervisor: make someone else supervisor first")]
    LastSupervisor(String),
    #[error("no open invite `{0}`")]
    UnknownInvite(String),
    #[error("`{0}` names more than one invite: give more of its characters")]
    AmbiguousInvite(String),
    #[error("break reason `{0}` already exists")]
    DuplicateBreakReason(String),
    #[error("no break reason `{0}`")]
    UnknownBreakReason(String),
    #[error("you are not a member of campaign `{0}`")]
    NotMember(String),
    #[error("interaction {id} is {state}; {action} needs it {needed}")]
    WrongState {
        id: InteractionId,
        state: &'static str,
        action: &'static str,
        needed: &'static str,
    },
    #[error("interaction {0} is owned by {1}, not you")]
    NotOwner(InteractionId, String),
    #[error("a canned response with code `{0}` already exists")]
    DuplicateCanned(String),
    #[error("a team holds at most {max} {what}")]
    TooMany { what: &'static str, max: usize },
    #[error("only a supervisor can {0}")]
    NotSupervisor(&'static str),
    #[error("give a contact (--contact ID) or an address ({0})")]
    NoCustomer(&'static str),
    #[error("interaction {0} has no tag `{1}`")]
    NotTagged(InteractionId, String),
    #[error("interaction {0} already carries {1} tags: remove one first")]
    TooManyTags(InteractionId, usize),
    #[error("interaction {0} is already yours")]
    AlreadyYours(InteractionId),
    #[error("interaction {0} was already taken by {1}")]
    TakenBy(InteractionId, String),
    #[error("you cannot transfer an interaction to yourself")]
    TransferToSelf,
    #[error("interaction {id} is already finalized ({state}); it cannot be {action}")]
    AlreadyFinalized {
        id: InteractionId,
        state: &'static str,
        action: &'static str,
    },
    #[error("interaction {0} is not with an agent (it is queued): there is nothing to take back")]
    NotTaken(InteractionId),
    #[error("interaction {0} is yours: return it to the queue instead")]
    YoursToReturn(InteractionId),
    #[error("interaction {0} is already {1}'s")]
    AlreadyTheirs(InteractionId, String),
    #[error("a snooze must end in the future")]
    SnoozeNotAhead,
    #[error("a snooze may run at most {days} days ahead")]
    SnoozeTooFar { days: i64 },
    #[error("interaction {0} is not snoozed")]
    NotSnoozed(InteractionId),
    #[error("a contact cannot be merged into itself")]
    MergeIntoItself,
    #[error(
        "{name} is already merged into contact {into}: merge into that one, or unmerge it first"
    )]
    AlreadyMerged {
        name: String,
        into: crate::ids::ContactId,
    },
    #[error("{0} is not merged into another contact")]
    NotMerged(String),
    #[error(
        "that merge would make a chain of more than {max} merged contacts: merge into the end of the chain"
    )]
    MergeTooDeep { max: usize },
    #[error("a contact holds at most {max} merged contacts")]
    MergeTooMany { max: usize },
    #[error("you cannot chat with yourself")]
    ChatWithSelf,
    #[error(
        "History's filters (campaign, channel, disposition, tag, dates) apply to the history tab only"
    )]
    FilterOutsideHistory,
    #[error("the date range is empty: it must end after it starts")]
    EmptyRange,
    #[error("a message carries at most {max} files")]
    TooManyFiles { max: usize },
    #[error(transparent)]
    File(#[from] crate::blobs::BlobError),
    #[error(transparent)]
    Invite(#[from] InviteRefusal),
    #[error(transparent)]
    Hours(#[from] crate::hours::HoursError),
    #[error(transparent)]
    Input(#[from] InvalidInput),
    #[error(transparent)]
    Store(Box<StoreError>),
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        OpError::Store(Box::new(e))
    }
}

impl OpError {
    /// Whether the request itself was at fault (bad input), as opposed to the storage.
    pub fn is_user_error(&self) -> bool {
        !matches!(
            self,
            OpError::Store(_)
                | OpError::File(
                    crate::blobs::BlobError::Io { .. } | crate::blobs::BlobError::Corrupt { .. }
                )
        )
    }
}

pub type OpResult<T> = Result<T, OpError>;

/// Why an invite does not admit a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InviteRefusal {
    #[error("unknown invite token")]
    Unknown,
    #[error("the invite has expired")]
    Expired,
    #[error("the invite has already been used")]
    UsedUp,
    #[error("this invite was issued by another device; join through that one")]
    IssuedElsewhere,
    #[error("this device was revoked")]
    DeviceRevoked,
}
