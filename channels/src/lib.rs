//! Gateways that bring customers in: webchat over HTTP+WebSocket and a
//! REST/webhook API (DESIGN §8), served by a node started with `--http ADDR`.
//!
//! The gateways talk to the node only, through the [`Backend`] trait: every
//! read and write is a `model::ops::Request`, and the node's change events
//! drive the live webchat and the webhooks. [`NodeBackend`] implements it
//! for the node's handle.
//!
//! Local state, kept in the node's data dir and never replicated:
//! `channels.json` ([`settings`]: hashed API tokens, webhooks per campaign)
//! and `channels.redb` ([`db`]: the webchat signing key, the webhook outbox).

pub mod backend;
pub mod db;
pub mod destination;
pub mod error;
pub mod http;
pub mod hub;
pub mod limits;
pub mod mail;
pub mod node_backend;
pub mod ratelimit;
pub mod settings;
pub mod view;
pub mod webhook;

pub use backend::{Backend, BackendError, ErrorKind, Event, Typing, Typist};
pub use error::ChannelError;
pub use http::{HttpConfig, Server, serve};
pub use node_backend::NodeBackend;
pub use ratelimit::Rate;
pub use settings::{ApiTokenInfo, GatewayLimits, NewApiToken, SettingsFile, Webhook};
pub use webhook::RetryPolicy;
