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
pub fn try_execute(data_dir: &DataDir, request: &Request) -> Result<Option<Reply>, CliError> {
    let Some(mut client) = Client::connect(data_dir.root()).map_err(control_error)? else {
        return Ok(None);
    };
    client
        .execute(request.clone())
        .map(Some)
        .map_err(control_error)
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

/// Asks the node running here to fetch file `hash` from a teammate into
/// this data dir's blobs. Without a running node nothing can fetch it.
pub fn fetch_file(
    data_dir: &DataDir,
    hash: meshdesk_model::blobs::BlobHash,
) -> Result<(), CliError> {
    let Some(mut client) = Client::connect(data_dir.root()).map_err(control_error)? else {
        return Err(CliError::Refused(format!(
            "file {hash} is not on this device (start the node, `meshdesk node`, to fetch it from a teammate)"
        )));
    };
    client
        .request(&meshdesk_sync::control::ControlRequest::FetchFile { hash })
        .map(|_| ())
        .map_err(control_error)
}
