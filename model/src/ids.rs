//! Typed ULID identifiers, so an agent id can never be passed where a contact id is meant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// A timestamp: milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

/// The wall clock now, in [`Millis`].
pub fn now_ms() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Every id this process makes comes from one monotonic generator: ids made
/// in the same millisecond still grow in the order they were made. Routing
/// breaks queue-order ties on the id, so a burst of interactions created on
/// one node is queued, on every node, in the order it was created.
static GENERATOR: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());

/// A fresh ULID, greater than every other this process made.
pub(crate) fn next_ulid() -> Ulid {
    let mut generator = GENERATOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Overflows only after 2^80 ids in one millisecond.
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

/// The error for a string that is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid id (expected a 26-character ULID)")]
pub struct InvalidId(pub String);

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Ulid);

        impl $name {
            /// A fresh id, ordered by creation time (within this process,
            /// by creation order).
            pub fn new() -> Self {
                Self(next_ulid())
            }
        }

        impl From<Ulid> for $name {
            fn from(id: Ulid) -> Self {
                Self(id)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Ulid::from_string(s.trim()).map(Self).map_err(|_| InvalidId(s.to_string()))
            }
        }
    };
}

ulid_id!(
    /// A team.
    TeamId
);
ulid_id!(
    /// An agent (a person; one agent may in principle use several devices).
    AgentId
);
ulid_id!(
    /// A campaign: a queue with its routing strategy.
    CampaignId
);
ulid_id!(
    /// An interaction: one conversation with a customer.
    InteractionId
);
ulid_id!(
    /// A phonebook contact.
    ContactId
);
ulid_id!(
    /// A message inside an interaction or a chat room.
    MessageId
);
ulid_id!(
    /// A canned response.
    CannedId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings_and_reject_garbage() {
        let id = InteractionId::new();
        let parsed: InteractionId = id.to_string().parse().expect("valid id");
        assert_eq!(id, parsed);
        assert!("not-an-id".parse::<ContactId>().is_err());
        assert!("".parse::<ContactId>().is_err());
    }

    #[test]
    fn ids_made_in_a_burst_grow_in_the_order_they_were_made() {
        // Thousands within a few milliseconds: many share a millisecond.
        let ids: Vec<InteractionId> = (0..5_000).map(|_| InteractionId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
