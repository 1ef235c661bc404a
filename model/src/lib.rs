//! Domain types, Automerge documents, the redb store, projections, routing and search.
//!
//! No async runtime, no network, no GUI: everything here is plain data and
//! synchronous storage, so every node computes the same answers from the same state.

pub mod ids;
pub mod projection;
pub mod routing;
pub mod types;

pub use ids::*;
pub use projection::*;
pub use routing::*;
pub use types::*;
pub mod authorship;
pub mod bounds;
pub mod clock;
pub mod doc;
pub mod ops;
pub mod rules;
pub mod store;
pub mod team_key;
pub mod validate;
