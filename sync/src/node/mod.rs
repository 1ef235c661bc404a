//! The node: one tokio task (an actor) that owns the [`Store`] and the libp2p
//! swarm. Everything else talks to it through a [`NodeHandle`] (commands, each
//! answered on a oneshot channel) and listens to its [`Event`]s (a broadcast
//! channel); the GUI, the CLI (through the control socket, [`crate::control`])
//! and the channel gateways use nothing else.
//!
//! # Commands ([`NodeHandle`])
//!
//! | method | does |
//! |---|---|
//! | [`NodeHandle::execute`] | runs a [`Request`](meshdesk_model::ops::Request) with [`ops::execute`](meshdesk_model::ops::execute) (presence-aware), pushes the changed documents to every connected peer at once, reruns routing |
//! | [`NodeHandle::invite`] | records an invite in the team document and returns its code, carrying this node's listen addresses |
//! | [`NodeHandle::members`] | the roster with agent names and who is online |
//! | [`NodeHandle::revoke`] | revokes a device (supervisors), disconnects and blocks it |
//! | [`NodeHandle::peers`] | connected peers and their sync state |
//! | [`NodeHandle::status`] | this node's peer id, team, agent, listen addresses |
//! | [`NodeHandle::typing`] | announces "typing in …" to the team (ephemeral) |
//! | [`NodeHandle::dial`] | connects to an address |
//! | [`NodeHandle::shutdown`] | says bye to every peer, stops, and closes the store |
//!
//! # Events ([`Event`])
//!
//! `Changed` (documents changed, locally or from a peer: re-read projections),
//! `PeerConnected` / `PeerDisconnected` / `PeerRefused`, `SyncProgress` and
//! `CaughtUp` (per peer), `Joined` / `JoinRefused` (joining device), `Presence`,
//! `Typing`, `Offer` (routing offers this agent an interaction), `ClaimLost`
//! (another agent's claim won after a partition), `Listening`, `Error` (a
//! non-blocking toast) and `Stopped`. Slow subscribers miss events
//! (broadcast lag) but never block the node; on `Lagged`, re-read everything.
//!
//! # Inside
//!
//! Each admitted peer has one long-lived stream (the lower peer id opens it)
//! with a reader task and a writer task; frames go to the actor through one
//! bounded channel (backpressure reaches the peer's TCP window) and out
//! through an unbounded one (the actor never blocks on a slow peer; what it
//! sends is bounded by the in-flight limit of each [`PeerSession`]). The actor
//! applies frames in batches: the sync messages of one batch from one peer
//! land in one store transaction. Documents that change are pushed to every
//! other ready peer, so changes travel across the mesh.
//!
//! Peers are found by mDNS, `--peer` addresses, the invite's addresses, and
//! the addresses identify reports (remembered in the store across restarts).
//! A lost peer is redialed with exponential backoff (1 s … 60 s).
//!
//! Routing runs after every change, presence change and at the next offer
//! expiry (debounced); the node accepts for its own agent in auto-accept
//! campaigns and records a decline when an offer to its agent times out.
//!
//! | file | holds |
//! |---|---|
//! | `handle.rs` | [`Node::start`], [`NodeHandle`] and its commands, [`Event`] |
//! | `actor.rs` | the actor's loop: swarm events, commands, batches of frames, time, the roster |
//! | `link.rs` | a peer's stream, its reader and writer tasks, its session |
//! | `dialer.rs` | addresses, dialing and backoff |
//! | `presence.rs` | presence and typing |
//! | `routing.rs` | routing passes and the actions taken for this agent |
//!
//! [`Store`]: meshdesk_model::store::Store
//! [`PeerSession`]: crate::session::PeerSession

mod actor;
mod bundles;
mod dialer;
mod handle;
mod link;
mod presence;
mod relays;
mod routing;

pub use bundles::{BundleExported, BundleReport, OpenDataExported};
pub use handle::{
    Event, JoinConfig, Node, NodeConfig, NodeError, NodeHandle, NodeStatus, PeerInfo,
};
