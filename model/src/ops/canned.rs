//! Canned responses: supervisors write them in the team document, every
//! agent lists and fills them.

use serde::{Deserialize, Serialize};

use super::{Executor, OpError, OpResult, Outcome, Reply, done};
use crate::canned::{self, Placeholders};
use crate::doc;
use crate::ids::*;
use crate::types::*;

/// A new canned response.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CannedSpec {
    pub code: String,
    pub body: String,
    /// A campaign's name or id; `None`: offered in every campaign.
    pub campaign: Option<String>,
}

/// What an edit changes; `None` leaves a field as it is.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct CannedChanges {
    pub code: Option<String>,
    pub body: Option<String>,
    /// A campaign's name or id, or an empty string for every campaign.
    pub campaign: Option<String>,
}

impl Executor<'_, '_> {
    /// A canned response by id or code.
    fn canned(&self, raw: &str) -> OpResult<CannedResponse> {
        if let Ok(id) = raw.trim().parse::<CannedId>()
            && let Some(c) = self.team.canned.get(&id)
        {
            return Ok(c.clone());
        }
        let code = raw.trim().trim_start_matches('/').to_lowercase();
        self.team
            .canned
            .values()
            .find(|c| c.code == code)
            .cloned()
            .ok_or_else(|| OpError::UnknownId {
                what: "canned response",
                id: raw.to_string(),
            })
    }

    /// A checked response, its code unique in the team but for `id` itself.
    fn checked_canned(
        &self,
        id: CannedId,
        code: &str,
        body: &str,
        campaign: Option<&str>,
    ) -> OpResult<CannedResponse> {
        let code = canned::code(code)?;
        if self
            .team
            .canned
            .values()
            .any(|c| c.code == code && c.id != id)
        {
            return Err(OpError::DuplicateCanned(code));
        }
        let body = crate::validate::message(body)?;
        let body = crate::validate::bounded("the body", &body, canned::MAX_BODY_CHARS)?;
        let campaign = match campaign.map(str::trim).filter(|c| !c.is_empty()) {
            Some(name) => Some(self.campaign(name)?.id),
            None => None,
        };
        Ok(CannedResponse {
            id,
            code,
            body,
            campaign,
        })
    }

    fn write_canned(&mut self, response: CannedResponse) -> OpResult<Outcome> {
        let id = response.id;
        self.write_team(Reply::Created { id: id.to_string() }, move |d| {
            doc::team::put_canned_response(d, &response)
        })
    }

    pub(super) fn add_canned(&mut self, spec: CannedSpec) -> OpResult<Outcome> {
        self.require_supervisor("write canned responses")?;
        if self.team.canned.len() >= canned::MAX_PER_TEAM {
            return Err(OpError::TooMany {
                what: "canned responses",
                max: canned::MAX_PER_TEAM,
            });
        }
        let response = self.checked_canned(
            self.store.new_id(),
            &spec.code,
            &spec.body,
            spec.campaign.as_deref(),
        )?;
        self.write_canned(response)
    }

    pub(super) fn edit_canned(&mut self, raw: &str, changes: CannedChanges) -> OpResult<Outcome> {
        self.require_supervisor("write canned responses")?;
        let old = self.canned(raw)?;
        let old_campaign = old.campaign.map(|c| c.to_string());
        let response = self.checked_canned(
            old.id,
            changes.code.as_deref().unwrap_or(&old.code),
            changes.body.as_deref().unwrap_or(&old.body),
            changes.campaign.as_deref().or(old_campaign.as_deref()),
        )?;
        self.write_canned(response)
    }

    pub(super) fn remove_canned(&mut self, raw: &str) -> OpResult<Outcome> {
        self.require_supervisor("remove canned responses")?;
        let id = self.canned(raw)?.id;
        self.write_team(Reply::Done, move |d| {
            doc::team::remove_canned_response(d, id)
        })
    }

    pub(super) fn list_canned(&self, campaign: Option<&str>) -> OpResult<Outcome> {
        let all = self.team.canned.values();
        let listed: Vec<CannedResponse> = match campaign {
            Some(name) => {
                let campaign = self.campaign(name)?.id;
                canned::matching(all, Some(campaign), "")
                    .into_iter()
                    .cloned()
                    .collect()
            }
            None => {
                let mut every: Vec<CannedResponse> = all.cloned().collect();
                every.sort_by(|a, b| a.code.cmp(&b.code));
                every
            }
        };
        done(Reply::Canned(listed), vec![])
    }

    pub(super) fn fill_canned(
        &mut self,
        raw: &str,
        interaction: InteractionId,
    ) -> OpResult<Outcome> {
        let response = self.canned(raw)?;
        let (i, _) = self.interaction_head(interaction)?;
        let placeholders = Placeholders {
            contact_name: Some(i.contact_name.clone()).filter(|n| !n.is_empty()),
            agent_name: Some(self.my_agent()?.name),
            fields: i.fields.clone(),
        };
        done(
            Reply::Text(canned::fill(&response.body, &placeholders)),
            vec![],
        )
    }
}
