//! The `meshdesk` sub-commands. Each becomes a [`Request`] carried out on the
//! local store, or by the running node through its control socket, with the
//! same result either way.

pub mod args;
mod render;

use std::collections::BTreeMap;
use std::process::ExitCode;

use meshdesk_model::ops::{
    self, AgentEdit, CampaignEdit, CampaignSpec, CannedChanges, CannedSpec, ChatTarget,
    ContactSpec, FromReply, OpError, Reply, Request, TransferTo, UnexpectedReply,
};
use meshdesk_model::store::{Store, StoreError};
use meshdesk_model::{AgentStatus, ContactId, InteractionId, SnoozeKind};

use crate::data_dir::DataDir;
use args::*;

/// A failure, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The request was refused: exit 2, nothing written.
    #[error("{0}")]
    Refused(String),
    /// Something else failed (disk, network): exit 1.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Refused(_) => ExitCode::from(2),
            CliError::Failed(_) => ExitCode::from(1),
        }
    }
}

impl From<OpError> for CliError {
    fn from(e: OpError) -> Self {
        if e.is_user_error() {
            CliError::Refused(e.to_string())
        } else {
            CliError::Failed(e.to_string())
        }
    }
}

impl From<UnexpectedReply> for CliError {
    fn from(e: UnexpectedReply) -> Self {
        CliError::Failed(e.to_string())
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Failed(e.to_string())
    }
}

/// Prints a reply as a table or as JSON.
pub fn print_reply(reply: &Reply, json: bool) {
    if json {
        println!("{}", render::json(reply));
    } else {
        println!("{}", render::text(reply));
    }
}

/// Runs a request on this data dir's node: the running one (through its
/// control socket), else one started for it with networking off.
pub fn execute(data_dir: &DataDir, request: Request) -> Result<Reply, CliError> {
    if let Some(reply) = crate::node_client::try_execute(data_dir, &request)? {
        return Ok(reply);
    }
    crate::node_cmd::with_offline_node(data_dir, async |node| {
        node.execute(request)
            .await
            .map_err(crate::node_cmd::node_error)
    })
}

/// Runs a request whose reply holds a `T`, and gives the `T`.
pub fn ask<T: FromReply>(data_dir: &DataDir, request: Request) -> Result<T, CliError> {
    Ok(T::from_reply(execute(data_dir, request)?)?)
}

/// Opens the store file itself, for `doctor`, which checks the file
/// rather than asking a node (one that runs here holds it: refused).
fn open_store(data_dir: &DataDir) -> Result<Store, CliError> {
    meshdesk_sync::home::open_store(data_dir.root()).map_err(|e| match e {
        meshdesk_sync::home::OpenError::InUse(_) => CliError::Failed(format!(
            "{e}; if a node runs here, its control socket was not reachable at {}",
            data_dir.control_socket().display()
        )),
        other => CliError::Failed(other.to_string()),
    })
}

/// `doctor`: checks the store and prints what it found; an error (exit 1)
/// when anything is wrong.
pub fn doctor(data_dir: &DataDir, json: bool) -> Result<(), CliError> {
    if !data_dir.store_path().exists() {
        return Err(CliError::Refused(format!(
            "no store at {}: nothing to check",
            data_dir.store_path().display()
        )));
    }
    let mut store = open_store(data_dir)?;
    let report = store.doctor()?;
    if json {
        println!("{}", serde_json::json!(report));
    } else {
        println!("checked {} documents", report.documents);
        for p in &report.problems {
            match &p.doc {
                Some(doc) => println!("problem: {doc}: {}", p.problem),
                None => println!("problem: {}", p.problem),
            }
        }
        for (doc, reason) in &report.quarantined {
            println!("quarantined: {doc}: {reason}");
        }
        if report.healthy() {
            println!("no problems found");
        }
    }
    if report.healthy() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} problem(s) and {} quarantined document(s) found",
            report.problems.len(),
            report.quarantined.len()
        )))
    }
}

/// `team invites`: the invites that can still admit a device, with the
/// campaigns their joiners go into.
pub fn invites(data_dir: &DataDir, json: bool) -> Result<(), CliError> {
    let overview: ops::TeamOverview = ask(data_dir, Request::ShowTeam)?;
    let team = &overview.team;
    let now = meshdesk_model::ids::now_ms();
    let names: BTreeMap<_, _> = overview
        .agents
        .iter()
        .map(|a| (a.id, a.name.as_str()))
        .collect();
    let open = team.open_invites(now);
    if json {
        println!("{}", serde_json::json!(open));
        return Ok(());
    }
    if open.is_empty() {
        println!("no open invites");
    }
    for invite in open {
        let campaigns: Vec<&str> = invite
            .campaigns
            .iter()
            .filter_map(|c| team.campaigns.get(c).map(|c| c.name.as_str()))
            .collect();
        println!(
            "{}  by {}  {} of {} used  expires {}  into {}",
            invite.short_id(),
            names.get(&invite.created_by).copied().unwrap_or("?"),
            invite.used_by.len(),
            invite.max_uses,
            render::clock(invite.expires_at),
            if campaigns.is_empty() {
                "the oldest campaign".to_string()
            } else {
                campaigns.join(", ")
            }
        );
    }
    Ok(())
}

/// `report`: asks the node for the figures of `[from, to)` (days in UTC,
/// so every node reads the same range) and prints them, or writes them as
/// CSV (to a file beside the target first, then renamed over it, so a
/// failed write leaves no half file).
pub fn report(data_dir: &DataDir, args: ReportArgs, json: bool) -> Result<(), CliError> {
    use meshdesk::dates::{self, End};
    let date = |raw: &str| {
        dates::parse(raw, End::Since, &chrono::Utc).map_err(|e| CliError::Refused(e.to_string()))
    };
    let request = Request::Report {
        from: date(&args.from)?,
        to: date(&args.to)?,
        by: args.by,
    };
    let report: meshdesk_model::report::Report = ask(data_dir, request)?;
    if let Some(png) = &args.png {
        meshdesk::charts::write_png(&report, png).map_err(|e| CliError::Failed(e.to_string()))?;
        if !json {
            println!("Drew the charts into {}", png.display());
        }
        if args.csv.is_none() {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "png": png.display().to_string(), "rows": report.groups.len() })
                );
            }
            return Ok(());
        }
    }
    let Some(path) = args.csv else {
        let reply = Reply::Report(Box::new(report));
        print_reply(&reply, json);
        return Ok(());
    };
    let bytes = report
        .to_csv()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    write_whole(&path, &bytes)?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "csv": path.display().to_string(), "rows": report.groups.len() })
        );
    } else {
        let rows = match report.groups.len() {
            1 => "1 row".to_string(),
            n => format!("{n} rows"),
        };
        println!(
            "Wrote {rows} by {} to {}",
            report.by.as_str(),
            path.display()
        );
    }
    Ok(())
}

/// `interaction send ID --file PATH…`: puts each file in this data dir's
/// blob store (content-addressed, so a running node finds it there), then
/// asks for one message naming them.
pub fn send_files(
    data_dir: &DataDir,
    id: &str,
    text: Option<String>,
    paths: Vec<std::path::PathBuf>,
    json: bool,
) -> Result<(), CliError> {
    use meshdesk_model::blobs::{self, Attachment, BlobStore};
    let id = interaction_id(id)?;
    data_dir
        .ensure()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let store = BlobStore::in_data_dir(data_dir.root()).map_err(file_error)?;
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        // A file that cannot be opened is the caller's mistake (exit 2).
        std::fs::File::open(&path)
            .and_then(|f| f.metadata())
            .map_err(|e| CliError::Refused(format!("cannot read {}: {e}", path.display())))?;
        let (hash, size) = store.put_file(&path).map_err(file_error)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let head = store.read(&hash).map_err(file_error)?;
        files.push(Attachment {
            hash,
            size,
            mime: blobs::sniff_mime(&name, &head).into(),
            name: blobs::clean_name(&name),
        });
    }
    let reply = execute(
        data_dir,
        Request::SendFiles {
            id,
            text: text.unwrap_or_default(),
            files,
            customer: false,
        },
    )?;
    print_reply(&reply, json);
    Ok(())
}

/// `file get HASH --out PATH`: from this device's blobs, else (a node
/// running here) fetched from a teammate; checked against its hash, and
/// written beside PATH first, then renamed over it.
pub fn file_get(
    data_dir: &DataDir,
    hash: &str,
    out: &std::path::Path,
    json: bool,
) -> Result<(), CliError> {
    use meshdesk_model::blobs::{BlobError, BlobHash, BlobStore};
    let hash: BlobHash = hash
        .trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(|e: meshdesk_model::blobs::BadHash| CliError::Refused(e.to_string()))?;
    let store = BlobStore::in_data_dir(data_dir.root()).map_err(file_error)?;
    let bytes = match store.read(&hash) {
        Ok(bytes) => bytes,
        Err(BlobError::Missing(_)) => {
            crate::node_client::fetch_file(data_dir, hash)?;
            store.read(&hash).map_err(file_error)?
        }
        Err(e) => return Err(file_error(e)),
    };
    write_whole(out, &bytes)?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "hash": hash.to_hex(), "size": bytes.len(), "out": out.display().to_string() })
        );
    } else {
        println!("Wrote {} bytes to {}", bytes.len(), out.display());
    }
    Ok(())
}

/// Writes an export whole or not at all: a failed write leaves no half file.
fn write_whole(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    use meshdesk_model::durable::{self, Access};
    durable::write(path, bytes, Access::Shared)
        .map_err(|e| CliError::Failed(format!("could not write {}: {e}", path.display())))
}

fn file_error(e: meshdesk_model::blobs::BlobError) -> CliError {
    use meshdesk_model::blobs::BlobError;
    match e {
        BlobError::Io { .. } | BlobError::Corrupt { .. } | BlobError::Settings { .. } => {
            CliError::Failed(e.to_string())
        }
        other => CliError::Refused(other.to_string()),
    }
}

fn contact_spec(name: Option<String>, f: ContactFields, editing: bool) -> ContactSpec {
    let list = |v: Vec<String>| {
        if editing && v.is_empty() {
            None
        } else {
            Some(v)
        }
    };
    ContactSpec {
        name,
        phones: list(f.phones),
        emails: list(f.emails),
        company: f.company,
        tags: list(f.tags),
        notes: f.notes,
    }
}

fn chat_target(with: ChatWith) -> ChatTarget {
    match (with.agent, with.campaign) {
        (Some(a), _) => ChatTarget::Agent(a),
        (None, Some(c)) => ChatTarget::Campaign(c),
        // clap's group makes one of the two required.
        (None, None) => ChatTarget::Agent(String::new()),
    }
}

/// An interaction id typed on the command line: a malformed one is refused
/// as an unknown one is.
fn interaction_id(raw: &str) -> Result<InteractionId, CliError> {
    Ok(ops::parse_id("interaction", raw)?)
}

/// A contact id typed on the command line, checked as [`interaction_id`] is.
fn contact_id(raw: &str) -> Result<ContactId, CliError> {
    Ok(ops::parse_id("contact", raw)?)
}

fn canned_request(command: CannedCommand) -> Result<Request, CliError> {
    Ok(match command {
        CannedCommand::Add {
            code,
            body,
            campaign,
        } => Request::AddCanned(CannedSpec {
            code,
            body,
            campaign,
        }),
        CannedCommand::List { campaign } => Request::ListCanned { campaign },
        CannedCommand::Edit {
            canned,
            code,
            body,
            campaign,
            all_campaigns,
        } => Request::EditCanned {
            canned,
            changes: CannedChanges {
                code,
                body,
                campaign: if all_campaigns {
                    Some(String::new())
                } else {
                    campaign
                },
            },
        },
        CannedCommand::Remove { canned } => Request::RemoveCanned { canned },
        CannedCommand::Fill {
            canned,
            interaction,
        } => Request::FillCanned {
            canned,
            interaction: interaction_id(&interaction)?,
        },
    })
}

/// Maps a parsed sub-command to its request (commands handled elsewhere give `None`).
pub fn request_for(
    command: Command,
    device_name: impl FnOnce() -> String,
) -> Result<Option<Request>, CliError> {
    let request = match command {
        Command::Team(TeamCommand::Create { name, agent }) => Request::CreateTeam {
            team_name: name,
            agent_name: agent,
            device_name: device_name(),
        },
        Command::Team(TeamCommand::Show) => Request::ShowTeam,
        Command::Team(TeamCommand::CancelInvite { invite }) => Request::CancelInvite { invite },
        Command::Team(_)
        | Command::Report(_)
        | Command::Node(_)
        | Command::ApiToken(_)
        | Command::Mailbox(_)
        | Command::Webhook(_)
        | Command::Bundle(_)
        | Command::Export(_)
        | Command::Relay(_)
        | Command::File(_)
        | Command::Doctor => {
            return Ok(None);
        }
        Command::Campaign(CampaignCommand::Add(a)) => Request::AddCampaign(CampaignSpec {
            name: a.name,
            channel: a.channel,
            strategy: a.strategy,
            members: a.members,
            dispositions: a.dispositions,
            fields: a.fields,
            capacity: a.capacity,
            auto_accept: a.auto_accept,
            sla_seconds: a.sla_seconds,
            wrapup_seconds: a.wrapup_seconds,
            offer_timeout_seconds: a.offer_timeout_seconds,
            hours: a.hours.business_hours(),
        }),
        Command::Canned(c) => canned_request(c)?,
        Command::Campaign(CampaignCommand::List) => Request::ListCampaigns,
        Command::Campaign(CampaignCommand::Show { name }) => Request::ShowCampaign { name },
        Command::Campaign(CampaignCommand::Edit(e)) => Request::EditCampaign {
            campaign: e.campaign,
            edit: CampaignEdit {
                name: e.rename,
                strategy: e.strategy,
                members: (!e.members.is_empty()).then_some(e.members),
                dispositions: (!e.dispositions.is_empty()).then_some(e.dispositions),
                fields: if e.no_fields {
                    Some(vec![])
                } else {
                    (!e.fields.is_empty()).then_some(e.fields)
                },
                capacity: e.capacity,
                auto_accept: e.auto_accept,
                sla_seconds: e.sla_seconds,
                wrapup_seconds: e.wrapup_seconds,
                offer_timeout_seconds: e.offer_timeout_seconds,
                hours: if e.always_open {
                    Some(meshdesk_model::hours::BusinessHours::default())
                } else {
                    e.hours.business_hours()
                },
            },
        },
        Command::Board => Request::Board,
        Command::Agent(AgentCommand::Edit(e)) => Request::EditAgent {
            agent: e.agent,
            edit: AgentEdit {
                role: e.role,
                capacity: e.capacity,
                campaigns: (!e.campaigns.is_empty()).then_some(e.campaigns),
            },
        },
        Command::Agent(AgentCommand::Capacity { agent, capacity }) => Request::EditAgent {
            agent,
            edit: AgentEdit {
                capacity: Some(capacity),
                ..AgentEdit::default()
            },
        },
        Command::Agent(AgentCommand::Offline { agent }) => Request::ForceOffline { agent },
        Command::BreakReason(BreakReasonCommand::Add { name }) => Request::AddBreakReason { name },
        Command::BreakReason(BreakReasonCommand::Remove { name }) => {
            Request::RemoveBreakReason { name }
        }
        Command::Contact(ContactCommand::Add { name, fields }) => {
            Request::AddContact(contact_spec(Some(name), fields, false))
        }
        Command::Contact(ContactCommand::List { search, page }) => match page.page() {
            Some((offset, limit)) => Request::PageContacts {
                search,
                offset,
                limit,
            },
            None => Request::ListContacts {
                search,
                limit: None,
            },
        },
        Command::Contact(ContactCommand::Show { id }) => Request::ShowContact {
            id: contact_id(&id)?,
        },
        Command::Contact(ContactCommand::Edit { id, name, fields }) => Request::EditContact {
            id: contact_id(&id)?,
            changes: contact_spec(name, fields, true),
        },
        Command::Contact(ContactCommand::Delete { id }) => Request::DeleteContact {
            id: contact_id(&id)?,
        },
        Command::Contact(ContactCommand::Merge { survivor, absorbed }) => Request::MergeContacts {
            survivor: contact_id(&survivor)?,
            absorbed: contact_id(&absorbed)?,
        },
        Command::Contact(ContactCommand::Unmerge { id }) => Request::UnmergeContact {
            id: contact_id(&id)?,
        },
        Command::Interaction(c) => match c {
            InteractionCommand::New {
                channel,
                campaign,
                contact,
                to,
                fields,
                message,
            } => Request::NewInteraction {
                channel,
                campaign,
                contact: contact.as_deref().map(contact_id).transpose()?,
                to,
                fields: fields.into_iter().collect::<BTreeMap<_, _>>(),
                message,
            },
            InteractionCommand::Enqueue {
                campaign,
                contact,
                from,
                name,
                message,
                priority,
            } => Request::Enqueue {
                campaign,
                contact: contact.as_deref().map(contact_id).transpose()?,
                from,
                name,
                message,
                priority,
            },
            InteractionCommand::List {
                tab,
                search,
                history,
                page,
            } => {
                if tab != ops::Tab::History && history.given() {
                    return Err(CliError::Refused(
                        "--mine, --team, --campaign, --channel, --disposition, --tag, --since and --until apply to --tab history only".into(),
                    ));
                }
                let history = history.filter().map_err(CliError::Refused)?;
                match page.page() {
                    Some((offset, limit)) => Request::PageInteractions {
                        tab,
                        search,
                        offset,
                        limit,
                        history,
                    },
                    None => Request::ListInteractions {
                        tab,
                        search,
                        limit: None,
                        history,
                    },
                }
            }
            InteractionCommand::Show { id } => Request::ShowInteraction {
                id: interaction_id(&id)?,
            },
            InteractionCommand::Send { id, text, files } => {
                if !files.is_empty() {
                    // Files go into the blob store first: see `send_files`.
                    return Ok(None);
                }
                Request::Send {
                    id: interaction_id(&id)?,
                    text: text.ok_or_else(|| {
                        CliError::Refused("give the message's text, or a --file".into())
                    })?,
                }
            }
            InteractionCommand::Note { id, text } => Request::AddNote {
                id: interaction_id(&id)?,
                text,
            },
            InteractionCommand::Tag { id, tag } => Request::AddTag {
                id: interaction_id(&id)?,
                tag,
            },
            InteractionCommand::Untag { id, tag } => Request::RemoveTag {
                id: interaction_id(&id)?,
                tag,
            },
            InteractionCommand::Finalize {
                id,
                disposition,
                note,
            } => Request::Finalize {
                id: interaction_id(&id)?,
                disposition,
                note,
            },
            InteractionCommand::Accept { id } => Request::Accept {
                id: interaction_id(&id)?,
            },
            InteractionCommand::Decline { id } => Request::Decline {
                id: interaction_id(&id)?,
            },
            InteractionCommand::Transfer {
                id,
                agent,
                campaign,
                note,
            } => {
                let to = match (agent, campaign) {
                    (Some(a), _) => TransferTo::Agent(a),
                    (None, Some(c)) => TransferTo::Campaign(c),
                    (None, None) => {
                        return Err(CliError::Refused(
                            "give --agent NAME or --campaign NAME".into(),
                        ));
                    }
                };
                Request::Transfer {
                    id: interaction_id(&id)?,
                    to,
                    note,
                }
            }
            InteractionCommand::Return { id, reason } => Request::ReturnToQueue {
                id: interaction_id(&id)?,
                reason,
            },
            InteractionCommand::Snooze {
                id,
                until,
                for_,
                callback,
                note,
            } => {
                let until = match (until, for_) {
                    (Some(at), _) => meshdesk::dates::parse_moment(&at, &chrono::Local)
                        .map_err(|e| CliError::Refused(e.to_string()))?,
                    (None, Some(length)) => {
                        let length = meshdesk::dates::parse_duration(&length)
                            .map_err(|e| CliError::Refused(e.to_string()))?;
                        meshdesk_model::now_ms().saturating_add(length)
                    }
                    (None, None) => {
                        return Err(CliError::Refused(
                            "give --until \"YYYY-MM-DD HH:MM\" or --for LENGTH".into(),
                        ));
                    }
                };
                Request::Snooze {
                    id: interaction_id(&id)?,
                    until,
                    kind: if callback {
                        SnoozeKind::Callback
                    } else {
                        SnoozeKind::Snooze
                    },
                    note,
                }
            }
            InteractionCommand::Unsnooze { id } => Request::Unsnooze {
                id: interaction_id(&id)?,
            },
            InteractionCommand::Due => Request::TakeDueSnoozes,
            InteractionCommand::Pull { id, reason } => Request::PullBack {
                id: interaction_id(&id)?,
                reason,
            },
            InteractionCommand::Hand { id, to, reason } => Request::HandOver {
                id: interaction_id(&id)?,
                to,
                reason,
            },
        },
        Command::Route(RouteCommand::Explain { campaign }) => Request::ExplainRouting { campaign },
        Command::Chat(ChatCommand::Send { with, text }) => Request::ChatSend {
            to: chat_target(with),
            text,
        },
        Command::Chat(ChatCommand::Show { with }) => Request::ChatShow {
            with: chat_target(with),
        },
        Command::Status(StatusCommand::Set(s)) => Request::SetStatus {
            status: match s {
                StatusSet::Available => AgentStatus::Available,
                StatusSet::Break { reason } => AgentStatus::Break {
                    reason: reason.unwrap_or_default(),
                },
                StatusSet::Offline => AgentStatus::Offline,
            },
        },
        Command::Status(StatusCommand::Show) => Request::ShowStatus,
        Command::Mentions { unseen } => Request::ListMentions { unseen },
        Command::Tags => Request::ListTags,
    };
    Ok(Some(request))
}
