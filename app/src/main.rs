//! meshdesk: the desktop app and command line.

/// Automerge's loading and judging allocate heavily: mimalloc makes the
/// first full sync about 14% faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bundle_cmd;
mod cli;
use meshdesk::data_dir;
mod mail_cmd;
mod node_client;
mod node_cmd;
mod settings_cmd;

use std::process::ExitCode;

use clap::Parser;

use cli::CliError;
use cli::args::Cli;
use data_dir::DataDir;

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MESHDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let data_dir =
        DataDir::resolve(cli.data_dir.clone()).map_err(|e| CliError::Failed(e.to_string()))?;
    let Some(command) = cli.command else {
        // No sub-command: the desktop window (on a throwaway team with --demo).
        meshdesk::gui::check_display().map_err(CliError::Failed)?;
        if cli.demo {
            let demo = meshdesk::gui::demo::Demo::start()
                .map_err(|e| CliError::Failed(format!("cannot make the demo team: {e}")))?;
            let shown = meshdesk::gui::run(demo.data_dir().clone(), demo.node_options());
            drop(demo); // stops the teammate, removes the demo's temp dirs
            return shown.map_err(CliError::Failed);
        }
        let relays = cli
            .relays
            .iter()
            .map(|a| {
                a.trim()
                    .parse()
                    .map_err(|e| CliError::Refused(format!("bad relay address {a}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let options = meshdesk::gui::backend::NodeOptions {
            mdns: true,
            relays,
            ..Default::default()
        };
        return meshdesk::gui::run(data_dir, options).map_err(CliError::Failed);
    };
    use cli::args::{Command, TeamCommand};
    let json = cli.json;
    let command = match command {
        Command::Node(args) => return node_cmd::run_node(&data_dir, args),
        Command::Team(TeamCommand::Invite {
            expires,
            uses,
            campaigns,
        }) => {
            return node_cmd::invite(&data_dir, expires, uses, campaigns, json);
        }
        Command::Team(TeamCommand::Join {
            code,
            agent,
            peers,
            timeout,
        }) => {
            return node_cmd::join(&data_dir, &code, &agent, &peers, timeout, json);
        }
        Command::Team(TeamCommand::Invites) => return cli::invites(&data_dir, json),
        Command::Team(TeamCommand::Members) => return node_cmd::members(&data_dir, json),
        Command::Team(TeamCommand::Peers) => return node_cmd::peers(&data_dir, json),
        Command::Team(TeamCommand::Revoke { device }) => {
            return node_cmd::revoke(&data_dir, &device);
        }
        Command::ApiToken(c) => return settings_cmd::api_token(&data_dir, c, json),
        Command::Mailbox(c) => return mail_cmd::mailbox(&data_dir, c, json),
        Command::Webhook(c) => return settings_cmd::webhook(&data_dir, c, json),
        Command::Doctor => return cli::doctor(&data_dir, json),
        Command::Bundle(c) => return bundle_cmd::bundle(&data_dir, c, json),
        Command::Export(args) => return bundle_cmd::export(&data_dir, args, json),
        Command::Report(args) => return cli::report(&data_dir, args, json),
        Command::Relay(args) => return node_cmd::run_relay(&data_dir, args),
        Command::Interaction(cli::args::InteractionCommand::Send { id, text, files })
            if !files.is_empty() =>
        {
            return cli::send_files(&data_dir, &id, text, files, json);
        }
        Command::File(cli::args::FileCommand::Get { hash, out }) => {
            return cli::file_get(&data_dir, &hash, &out, json);
        }
        other => other,
    };
    match cli::request_for(command, node_client::device_name)? {
        Some(request) => {
            // `team create` too: the node makes the team's key with the team.
            let reply = cli::execute(&data_dir, request)?;
            cli::print_reply(&reply, cli.json);
            Ok(())
        }
        None => Err(CliError::Failed(
            "this command needs the node, which is not built yet".into(),
        )),
    }
}
