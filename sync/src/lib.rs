//! The node: a tokio actor that owns the store and the libp2p swarm (sync
//! protocol, presence, team join). See [`node`] for the Command/Event API.

pub mod control;
pub mod files;
pub mod first_sync;
pub mod home;
pub mod identity;
pub mod invite;
pub mod join;
pub mod keyring;
pub mod node;
pub mod protocol;
pub mod relay;
pub mod session;
#[cfg(test)]
mod sim;
mod strangers;
pub mod team;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transport;

pub use node::{Event, JoinConfig, Node, NodeConfig, NodeError, NodeHandle, NodeStatus, PeerInfo};
