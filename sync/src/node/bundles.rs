//! Bundles on the node: it owns the store and holds the team keys, so it
//! writes and imports them, for the CLI (through the control socket) and
//! the window alike. An imported document is announced and pushed to the
//! connected peers like any change a peer brought.

use std::path::Path;

use meshdesk_model::bundle::{self, BundleHeader};
use meshdesk_model::store::BundleImported;
use serde::{Deserialize, Serialize};

use super::actor::Actor;
use super::handle::NodeError;

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleExported {
    pub path: String,
    pub documents: usize,
    pub bytes: u64,
    /// The device the bundle was cut for, as found on the roster.
    pub since_device: Option<String>,
    /// Documents left out because that device already holds them.
    pub already_there: usize,
    /// Documents left out because they are malformed here or too large.
    pub left_out: usize,
}

/// What an import did, and whose bundle it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleReport {
    pub path: String,
    /// The device that wrote the bundle.
    pub from_device: String,
    pub created_at: meshdesk_model::Millis,
    pub documents: usize,
    #[serde(flatten)]
    pub imported: BundleImported,
}

impl From<bundle::BundleError> for NodeError {
    fn from(e: bundle::BundleError) -> Self {
        NodeError::Bundle(Box::new(e))
    }
}

/// What an open-data export wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDataExported {
    pub dir: String,
    pub documents: usize,
}

impl Actor {
    /// Writes every document as a standard `.automerge` file into `dir`,
    /// with `index.json` (id, kind, title, file) beside them.
    pub(super) fn export_open_data(&mut self, dir: &Path) -> Result<OpenDataExported, NodeError> {
        if self.local.is_unattached() {
            return Err(NodeError::NoTeam);
        }
        let failed = |e: std::io::Error| {
            NodeError::Invalid(format!("cannot write into {}: {e}", dir.display()))
        };
        std::fs::create_dir_all(dir).map_err(failed)?;
        let docs = self.store.open_data()?;
        let mut index = Vec::with_capacity(docs.len());
        for (entry, bytes) in docs {
            std::fs::write(dir.join(&entry.file), bytes).map_err(failed)?;
            index.push(entry);
        }
        let json = serde_json::to_vec_pretty(&index)
            .map_err(|e| NodeError::Invalid(format!("cannot write the index: {e}")))?;
        std::fs::write(dir.join("index.json"), json).map_err(failed)?;
        tracing::info!(dir = %dir.display(), documents = index.len(), "open data written");
        Ok(OpenDataExported {
            dir: dir.display().to_string(),
            documents: index.len(),
        })
    }

    /// Writes a bundle of this store's documents to `path` (all of them, or
    /// what `since_device` lacks by what this node last saw of it).
    pub(super) fn export_bundle(
        &mut self,
        path: &Path,
        since_device: Option<&str>,
    ) -> Result<BundleExported, NodeError> {
        if self.joining() || self.local.is_unattached() {
            return Err(NodeError::NoTeam);
        }
        let since = since_device.map(|d| self.roster_device(d)).transpose()?;
        let contents = self.store.bundle_contents(since.as_deref())?;
        let header = BundleHeader {
            team: self.local.team_id,
            device: self.local.device.clone(),
            created_at: self.store.now_ms(),
            key: String::new(),
            since_device: since.clone(),
            documents: 0,
            salt: String::new(),
        };
        let bytes = bundle::seal(header, &contents.docs, &self.keyring.current())?;
        bundle::write_file(path, &bytes)?;
        tracing::info!(
            path = %path.display(),
            documents = contents.docs.len(),
            bytes = bytes.len(),
            "bundle written"
        );
        Ok(BundleExported {
            path: path.display().to_string(),
            documents: contents.docs.len(),
            bytes: bytes.len() as u64,
            since_device: since,
            already_there: contents.already_there,
            left_out: contents.left_out,
        })
    }

    /// Imports the bundle at `path`: refused whole if it is not this team's,
    /// not sealed with a key this device holds, or altered; else each
    /// document goes through the checks a peer's document does.
    pub(super) fn import_bundle(&mut self, path: &Path) -> Result<BundleReport, NodeError> {
        if self.joining() || self.local.is_unattached() {
            return Err(NodeError::NoTeam);
        }
        let bytes = bundle::read_file(path)?;
        let (header, docs) = bundle::open(&bytes, self.local.team_id, &self.keyring.accepted())?;
        drop(bytes);
        let documents = docs.len();
        // The actor is busy with the import: the events go out meanwhile.
        let events = self.events.clone();
        let mut imported = self.store.import_bundle_reporting(docs, |done, total| {
            let _ = events.send(super::handle::Event::BundleProgress { done, total });
        })?;
        tracing::info!(
            path = %path.display(),
            from = %header.device,
            new = imported.new,
            updated = imported.updated,
            refused = imported.refused.len(),
            "bundle imported"
        );
        for (doc, reason) in &imported.refused {
            tracing::warn!(%doc, %reason, "a bundle's document was refused");
        }
        let changes = std::mem::take(&mut imported.changes);
        if !changes.is_empty() {
            self.on_changes(changes, None);
        }
        Ok(BundleReport {
            path: path.display().to_string(),
            from_device: header.device,
            created_at: header.created_at,
            documents,
            imported,
        })
    }

    /// The roster device `device` names (in full, or a unique start of it).
    fn roster_device(&self, device: &str) -> Result<String, NodeError> {
        let device = device.trim();
        let team = self.store.team()?.ok_or(NodeError::NoTeam)?;
        if team.members.contains_key(device) {
            return Ok(device.to_string());
        }
        let matches: Vec<&String> = team
            .members
            .keys()
            .filter(|d| !device.is_empty() && d.starts_with(device))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(NodeError::Invalid(format!(
                "no device `{device}` on the team's roster (see `meshdesk team members`)"
            ))),
            _ => Err(NodeError::Invalid(format!(
                "`{device}` matches several devices; give more of it"
            ))),
        }
    }
}
