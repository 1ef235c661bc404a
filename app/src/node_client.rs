//! Reaching the node that runs on a data dir, through its control socket.

use meshdesk_model::ops::{Reply, Request};
use meshdesk_sync::control::{Client, ControlError};

use crate::cli::CliError;
use crate::data_dir::DataDir;

/// A name for this device on the roster: the host's name.
pub fn device_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "desktop".into())
}

/// Sends the request to a running node; `None` when no node runs here.
/// A status change goes through the node's presence path so teammates see it at once.
pub fn try_execute(data_dir: &DataDir, request: &Request) -> Result<Option<Reply>, CliError> {
    let Some(mut client) = Client::connect(data_dir.root()).map_err(control_error)? else {
        return Ok(None);
    };
    let reply = match request {
        Request::SetStatus { status } => client.set_presence(status.clone()),
        other => client.execute(other.clone()),
    };
    reply.map(Some).map_err(control_error)
}

fn control_error(e: ControlError) -> CliError {
    match e {
        ControlError::Remote {
            message,
            user_error: true,
        } => CliError::Refused(message),
        other => CliError::Failed(other.to_string()),
    }
}

/// Makes the team's pre-shared key for a team this device just created.
pub fn ensure_team_key(data_dir: &DataDir) -> Result<(), CliError> {
    let failed = |e: meshdesk_sync::team::TeamError| CliError::Failed(e.to_string());
    if meshdesk_sync::team::load_team_key(data_dir.root())
        .map_err(failed)?
        .is_none()
    {
        meshdesk_sync::team::create_team_key(data_dir.root()).map_err(failed)?;
    }
    Ok(())
}
