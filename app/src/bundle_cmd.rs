//! `bundle export | import` and `export --automerge`: the node writes and
//! reads the files (it owns the store and holds the team keys), the running
//! one through its control socket, else one started with networking off.

use std::path::{Path, PathBuf};

use meshdesk_sync::node::{BundleExported, BundleReport, OpenDataExported};

use crate::cli::CliError;
use crate::cli::args::{BundleCommand, ExportArgs};
use crate::data_dir::DataDir;
use crate::node_cmd::{control_error, node_error, running_node, with_offline_node};

/// A path the node can use whatever its working directory.
fn absolute(path: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(path).map_err(|e| CliError::Refused(format!("{}: {e}", path.display())))
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string(value).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#))
    );
}

/// `bundle export FILE [--since-device D]` and `bundle import FILE`.
pub fn bundle(data_dir: &DataDir, command: BundleCommand, json: bool) -> Result<(), CliError> {
    match command {
        BundleCommand::Export { file, since_device } => {
            let path = absolute(&file)?;
            let done: BundleExported = match running_node(data_dir)? {
                Some(mut client) => client
                    .export_bundle(path, since_device)
                    .map_err(control_error)?,
                None => with_offline_node(data_dir, async |node| {
                    node.export_bundle(path, since_device)
                        .await
                        .map_err(node_error)
                })?,
            };
            if json {
                print_json(&done);
            } else {
                println!(
                    "Wrote {} documents ({} bytes) to {}.",
                    done.documents, done.bytes, done.path
                );
                if let Some(device) = &done.since_device {
                    println!(
                        "Left out {} documents {device} already holds.",
                        done.already_there
                    );
                }
                if done.left_out > 0 {
                    println!(
                        "Left out {} documents that are malformed here or too large (see `meshdesk doctor`).",
                        done.left_out
                    );
                }
            }
        }
        BundleCommand::Import { file } => {
            let path = absolute(&file)?;
            let report: BundleReport = match running_node(data_dir)? {
                Some(mut client) => client.import_bundle(path).map_err(control_error)?,
                None => with_offline_node(data_dir, async |node| {
                    node.import_bundle(path).await.map_err(node_error)
                })?,
            };
            if json {
                print_json(&report);
            } else {
                let i = &report.imported;
                println!(
                    "Imported {} documents from {} (written by {}): {} new, {} updated, {} unchanged, {} refused.",
                    report.documents,
                    report.path,
                    report.from_device,
                    i.new,
                    i.updated,
                    i.unchanged,
                    i.refused.len()
                );
                for (doc, reason) in &i.refused {
                    println!("refused {doc}: {reason}");
                }
            }
        }
    }
    Ok(())
}

/// `export --automerge DIR`: every document as a standard `.automerge` file
/// and an `index.json`.
pub fn export(data_dir: &DataDir, args: ExportArgs, json: bool) -> Result<(), CliError> {
    let dir = absolute(&args.automerge)?;
    let done: OpenDataExported = match running_node(data_dir)? {
        Some(mut client) => client.export_open_data(dir).map_err(control_error)?,
        None => with_offline_node(data_dir, async |node| {
            node.export_open_data(dir).await.map_err(node_error)
        })?,
    };
    if json {
        print_json(&done);
    } else {
        println!(
            "Wrote {} documents and index.json to {}.",
            done.documents, done.dir
        );
    }
    Ok(())
}
