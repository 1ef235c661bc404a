//! The node: a tokio actor that owns the store and the libp2p swarm (sync protocol, presence, team join).

pub mod identity;
pub mod invite;
pub mod protocol;
pub mod session;
#[cfg(test)]
mod sim;
pub mod team;
pub mod transport;
