//! `meshdesk mailbox …`: a campaign's mailbox (replicated, supervisors
//! write it) and its password (this device only, sealed in the data dir).

use std::io::BufRead;

use meshdesk_channels::mail::{self, Secrets};
use meshdesk_model::ops::{Reply, Request};
use meshdesk_model::{CampaignId, MailServer, Mailbox};

use crate::cli::args::{MailboxCommand, MailboxSetArgs};
use crate::cli::{self, CliError};
use crate::data_dir::DataDir;

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

fn refused(e: impl std::fmt::Display) -> CliError {
    CliError::Refused(e.to_string())
}

fn password_from(given: Option<String>) -> Result<String, CliError> {
    let password = match given {
        Some(p) => p,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(failed)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    if password.is_empty() {
        return Err(refused("the password must not be empty"));
    }
    Ok(password)
}

fn show(data_dir: &DataDir, campaign: &str) -> Result<(CampaignId, Option<Mailbox>), CliError> {
    match cli::execute(
        data_dir,
        Request::ShowMailbox {
            campaign: campaign.to_string(),
        },
    )? {
        Reply::Mailbox { campaign, mailbox } => Ok((campaign, mailbox.map(|m| *m))),
        other => Err(failed(format!("unexpected reply {other:?}"))),
    }
}

fn this_device(data_dir: &DataDir) -> Result<String, CliError> {
    let key = meshdesk_sync::identity::load(data_dir.root())
        .map_err(failed)?
        .ok_or_else(|| refused("this data dir has no device key yet"))?;
    Ok(meshdesk_sync::identity::peer_id_string(&key))
}

fn secrets(data_dir: &DataDir) -> Result<Secrets, CliError> {
    Secrets::open(data_dir.root()).map_err(failed)
}

fn set_mailbox(
    data_dir: &DataDir,
    campaign: &str,
    mailbox: Option<Mailbox>,
    json: bool,
) -> Result<CampaignId, CliError> {
    let reply = cli::execute(
        data_dir,
        Request::SetMailbox {
            campaign: campaign.to_string(),
            mailbox,
        },
    )?;
    let id = match &reply {
        Reply::Mailbox { campaign, .. } => *campaign,
        other => return Err(failed(format!("unexpected reply {other:?}"))),
    };
    cli::print_reply(&reply, json);
    Ok(id)
}

fn set(data_dir: &DataDir, a: MailboxSetArgs, json: bool) -> Result<(), CliError> {
    let (_, old) = show(data_dir, &a.campaign)?;
    let mut fetchers = old.map(|m| m.fetchers).unwrap_or_default();
    if !a.no_fetch {
        fetchers.insert(this_device(data_dir)?);
    }
    let imap_user = a.imap_user.unwrap_or_else(|| a.address.clone());
    let mailbox = Mailbox {
        address: a.address,
        imap: MailServer {
            host: a.imap_host,
            port: a.imap_port,
            tls: a.imap_tls.parse().map_err(refused)?,
            user: imap_user.clone(),
        },
        smtp: MailServer {
            host: a.smtp_host,
            port: a.smtp_port,
            tls: a.smtp_tls.parse().map_err(refused)?,
            user: a.smtp_user.unwrap_or(imap_user),
        },
        fetchers,
    };
    let password = password_from(a.password)?;
    let id = set_mailbox(data_dir, &a.campaign, Some(mailbox), json)?;
    secrets(data_dir)?.set(id, &password).map_err(failed)
}

/// Runs a `mailbox` sub-command.
pub fn mailbox(data_dir: &DataDir, command: MailboxCommand, json: bool) -> Result<(), CliError> {
    match command {
        MailboxCommand::Set(a) => set(data_dir, a, json),
        MailboxCommand::Show { campaign } => {
            let reply = cli::execute(data_dir, Request::ShowMailbox { campaign })?;
            cli::print_reply(&reply, json);
            Ok(())
        }
        MailboxCommand::Password { campaign, password } => {
            let (id, _) = show(data_dir, &campaign)?;
            let password = password_from(password)?;
            secrets(data_dir)?.set(id, &password).map_err(failed)
        }
        MailboxCommand::Fetcher {
            campaign,
            device,
            remove,
        } => {
            let (_, old) = show(data_dir, &campaign)?;
            let mut mailbox =
                old.ok_or_else(|| refused(format!("campaign `{campaign}` has no mailbox")))?;
            if remove {
                mailbox.fetchers.remove(device.trim());
            } else {
                mailbox.fetchers.insert(device.trim().to_string());
            }
            set_mailbox(data_dir, &campaign, Some(mailbox), json).map(|_| ())
        }
        MailboxCommand::Remove { campaign } => {
            let id = set_mailbox(data_dir, &campaign, None, json)?;
            secrets(data_dir)?.remove(id).map_err(failed)
        }
        MailboxCommand::Test { campaign } => {
            let (id, mailbox) = show(data_dir, &campaign)?;
            let mailbox =
                mailbox.ok_or_else(|| refused(format!("campaign `{campaign}` has no mailbox")))?;
            let password = secrets(data_dir)?
                .get(id)
                .map_err(failed)?
                .ok_or_else(|| refused(mail::MailError::NoPassword))?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(failed)?;
            let results = runtime.block_on(mail::test_mailbox(&mailbox, &password));
            let mut failures = Vec::new();
            let mut lines = Vec::new();
            for (what, r) in ["IMAP", "SMTP"].iter().zip(results) {
                match r {
                    Ok(line) => {
                        lines.push(serde_json::json!({"server": what, "ok": true, "detail": line}))
                    }
                    Err(e) => {
                        failures.push(format!("{what} failed: {e}"));
                        lines.push(serde_json::json!({"server": what, "ok": false, "detail": e.to_string()}));
                    }
                }
            }
            if json {
                println!("{}", serde_json::Value::Array(lines));
            } else {
                for l in &lines {
                    let ok = l["ok"].as_bool().unwrap_or(false);
                    println!(
                        "{} {}",
                        if ok { "ok    " } else { "FAILED" },
                        l["detail"].as_str().unwrap_or_default()
                    );
                }
            }
            if failures.is_empty() {
                Ok(())
            } else {
                Err(CliError::Failed(failures.join("; ")))
            }
        }
    }
}
