//! `api-token` and `webhook`: this node's gateway settings (kept locally, see docs/ARCHITECTURE.md).

use meshdesk_channels::{ChannelError, SettingsFile};
use meshdesk_model::Campaign;
use meshdesk_model::ops::Request;

use crate::cli::args::{ApiTokenCommand, WebhookCommand};
use crate::cli::{self, CliError};
use crate::data_dir::DataDir;

fn channel_error(e: ChannelError) -> CliError {
    match e {
        ChannelError::Invalid(m) | ChannelError::NotFound(m) => CliError::Refused(m),
        other => CliError::Failed(other.to_string()),
    }
}

fn print(json: bool, value: serde_json::Value, text: String) {
    if json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

pub fn api_token(data_dir: &DataDir, command: ApiTokenCommand, json: bool) -> Result<(), CliError> {
    data_dir
        .ensure()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let file = SettingsFile::in_dir(data_dir.root());
    match command {
        ApiTokenCommand::Create { name } => {
            if name.trim().is_empty() {
                return Err(CliError::Refused("the token name must not be empty".into()));
            }
            let new = file.create_api_token(name.trim()).map_err(channel_error)?;
            let value = serde_json::to_value(&new).unwrap_or_default();
            print(json, value, new.token.clone());
        }
        ApiTokenCommand::List => {
            let tokens = file.list_api_tokens().map_err(channel_error)?;
            let text = if tokens.is_empty() {
                "No API tokens.".to_string()
            } else {
                tokens
                    .iter()
                    .map(|t| format!("{}  {}", t.id, t.name))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            print(
                json,
                serde_json::to_value(&tokens).unwrap_or_default(),
                text,
            );
        }
        ApiTokenCommand::Revoke { token } => {
            let revoked = file.revoke_api_token(&token).map_err(channel_error)?;
            print(
                json,
                serde_json::to_value(&revoked).unwrap_or_default(),
                format!("Revoked {}.", revoked.name),
            );
        }
    }
    Ok(())
}

pub fn webhook(data_dir: &DataDir, command: WebhookCommand, json: bool) -> Result<(), CliError> {
    let file = SettingsFile::in_dir(data_dir.root());
    let campaign_id = |name: &str| -> Result<(String, String), CliError> {
        let request = Request::ShowCampaign {
            name: name.to_string(),
        };
        let c: Campaign = cli::ask(data_dir, request)?;
        Ok((c.id.to_string(), c.name))
    };
    match command {
        WebhookCommand::Set {
            campaign,
            url,
            secret,
        } => {
            let (id, name) = campaign_id(&campaign)?;
            let hook = file
                .set_webhook(&id, &name, &url, secret.as_deref())
                .map_err(channel_error)?;
            let text = format!(
                "{} → {}\nsecret: {}",
                hook.campaign_name, hook.url, hook.secret
            );
            print(json, serde_json::to_value(&hook).unwrap_or_default(), text);
        }
        WebhookCommand::Remove { campaign } => {
            let (id, name) = campaign_id(&campaign)?;
            if !file.remove_webhook(&id).map_err(channel_error)? {
                return Err(CliError::Refused(format!(
                    "campaign `{name}` has no webhook"
                )));
            }
            print(
                json,
                serde_json::json!({ "removed": id }),
                format!("Removed the webhook of {name}."),
            );
        }
        WebhookCommand::List => {
            let hooks = file.list_webhooks().map_err(channel_error)?;
            let text = if hooks.is_empty() {
                "No webhooks.".to_string()
            } else {
                hooks
                    .iter()
                    .map(|h| format!("{}  {}", h.campaign_name, h.url))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            print(json, serde_json::to_value(&hooks).unwrap_or_default(), text);
        }
    }
    Ok(())
}
