//! The customer-facing HTTP gateways (webchat, REST API) a node serves with `--http`.

use meshdesk_sync::node::NodeHandle;

use crate::cli::CliError;

/// A running gateway server.
pub struct Gateway;

impl Gateway {
    pub async fn stop(self) {}
}

/// Serves the gateways on `addr`, talking only to the node.
pub async fn serve(addr: &str, _node: NodeHandle) -> Result<Gateway, CliError> {
    Err(CliError::Refused(format!("cannot serve HTTP on {addr}: the gateways are not part of this build yet")))
}
