//! `meshdesk doctor`: checks a store without changing it.
//!
//! Every stored document is loaded from its bytes (through the decoding
//! limits), its heads compared with its `doc_meta`, its seals decoded and
//! verified; then the projections are derived again from the documents
//! alone, as a rebuild would, inside a write transaction that is aborted,
//! and compared row by row with the committed ones. Quarantined documents
//! are listed with their reasons.

use automerge::ChangeHash;
use redb::ReadableDatabase;
use serde::Serialize;

use super::tables::*;
use super::{DocMeta, QUARANTINED, Store, StoreError, StoreResult, decode, project, stored_seals};

/// One thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The document it concerns, if one.
    pub doc: Option<String>,
    pub problem: String,
}

/// What [`Store::doctor`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// How many documents are stored.
    pub documents: usize,
    /// Problems found now (a quarantined document is listed below instead).
    pub problems: Vec<Problem>,
    /// Quarantined documents and why: kept, but not synced, edited or projected.
    pub quarantined: Vec<(String, String)>,
}

impl DoctorReport {
    /// Whether nothing is wrong.
    pub fn healthy(&self) -> bool {
        self.problems.is_empty() && self.quarantined.is_empty()
    }
}

/// Projection rows shown per check before the rest are only counted.
const SHOWN_ROWS: usize = 20;

impl Store {
    /// Checks every document and the projections; writes nothing.
    pub fn doctor(&mut self) -> StoreResult<DoctorReport> {
        let mut report = DoctorReport::default();
        let mut quarantined: Vec<(String, String)> = self
            .quarantined
            .iter()
            .map(|(d, r)| (d.clone(), r.clone()))
            .collect();
        quarantined.sort();
        let ids = self.doc_ids()?;
        report.documents = ids.len();
        for key in &ids {
            if self.quarantine_reason(key).is_some() {
                continue;
            }
            let problem = |p: String| Problem {
                doc: Some(key.clone()),
                problem: p,
            };
            let loaded = match self.load_stored(key) {
                Ok(Some(cached)) => cached,
                Ok(None) => {
                    report
                        .problems
                        .push(problem("listed in doc_meta but has no stored bytes".into()));
                    continue;
                }
                Err(StoreError::CorruptDoc { reason, .. }) => {
                    report
                        .problems
                        .push(problem(format!("its stored bytes do not load: {reason}")));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (meta, seals) = {
                let txn = self.db.begin_read()?;
                let meta: Option<DocMeta> = match txn.open_table(DOC_META)?.get(key.as_str())? {
                    Some(v) => Some(decode("doc_meta", v.value())?),
                    None => None,
                };
                (meta, stored_seals(&txn.open_table(DOC_SEALS)?, key))
            };
            let mut heads = loaded.persisted.clone();
            heads.sort();
            let mut recorded: Vec<ChangeHash> = meta
                .map(|m| m.heads.into_iter().map(ChangeHash).collect())
                .unwrap_or_default();
            recorded.sort();
            if heads != recorded {
                report.problems.push(problem(
                    "its heads differ from the ones recorded in doc_meta (the catalog peers compare is wrong)"
                        .into(),
                ));
            }
            match seals {
                Err(e) => report
                    .problems
                    .push(problem(format!("its seals cannot be read: {e}"))),
                Ok(seals) => {
                    let mut doc = loaded.doc;
                    for seal in seals {
                        if let Err(e) = seal.verify(key) {
                            report
                                .problems
                                .push(problem(format!("a seal does not verify: {e}")));
                        } else if doc.get_change_by_hash(&seal.change()).is_none() {
                            report.problems.push(problem(
                                "a seal names a change the document does not hold".into(),
                            ));
                        }
                    }
                }
            }
        }

        // The projections as the documents alone give them, never committed.
        let committed = project::dump(&self.db)?;
        let txn = self.db.begin_write()?;
        let derived = self
            .derive_projections(&txn, false)
            .and_then(|()| project::dump_uncommitted(&txn));
        txn.abort()?;
        let derived = derived?;
        let committed: std::collections::BTreeMap<_, _> = committed.into_iter().collect();
        let derived: std::collections::BTreeMap<_, _> = derived.into_iter().collect();
        let mut differing = 0usize;
        for key in committed
            .keys()
            .chain(derived.keys().filter(|k| !committed.contains_key(*k)))
        {
            let (now, should) = (committed.get(key), derived.get(key));
            if now == should {
                continue;
            }
            if let Some(doc) = key.strip_prefix("malformed:") {
                let doc = doc.trim_matches('"').to_string();
                // Already listed, as quarantined or as a problem found above.
                if self.quarantine_reason(&doc).is_some()
                    || report
                        .problems
                        .iter()
                        .any(|p| p.doc.as_deref() == Some(&doc))
                {
                    continue;
                }
                if let Some(reason) = should {
                    let reason = String::from_utf8_lossy(reason);
                    let reason = reason.trim_matches('"');
                    let what = match reason.strip_prefix(QUARANTINED) {
                        Some(r) => format!("would be quarantined by a rebuild: {r}"),
                        None => format!(
                            "its content cannot be read, so it is left out of the projections: {reason}"
                        ),
                    };
                    report.problems.push(Problem {
                        doc: Some(doc),
                        problem: what,
                    });
                    continue;
                }
            }
            // Rows of a document already reported: its projection is
            // whatever it was; what matters is the document.
            let reported = report.problems.iter().filter_map(|p| p.doc.as_deref());
            if reported
                .filter_map(|doc| doc.split_once(':').map(|(_, id)| id))
                .any(|id| key.contains(id))
            {
                continue;
            }
            differing += 1;
            if differing <= SHOWN_ROWS {
                let what = match (now, should) {
                    (Some(_), Some(_)) => "differs from what its document gives",
                    (Some(_), None) => "is there but no document gives it",
                    (None, _) => "is missing",
                };
                report.problems.push(Problem {
                    doc: None,
                    problem: format!("projection row {key} {what}"),
                });
            }
        }
        if differing > SHOWN_ROWS {
            report.problems.push(Problem {
                doc: None,
                problem: format!("{} more projection rows differ", differing - SHOWN_ROWS),
            });
        }
        report.quarantined = quarantined;
        Ok(report)
    }
}
