//! What the tabs, the detail view and `route explain` read.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Executor, InteractionDetail, InteractionRow, OpError, OpResult, Outcome, Reply, done};
use crate::ids::*;
use crate::projection::*;
use crate::routing::{self, PresenceView, RoutingInput};
use crate::store::{HistoryNarrow, LocalMarks, Page, SearchScope, Store, StoreError};
use crate::types::*;
use crate::validate;

/// Which interactions a list shows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tab {
    Active,
    Pending,
    History,
    /// The agent's own active interactions set aside until later (snoozed,
    /// or a callback scheduled), soonest due first.
    Snoozed,
}

impl std::str::FromStr for Tab {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(Tab::Active),
            "pending" => Ok(Tab::Pending),
            "history" => Ok(Tab::History),
            "snoozed" => Ok(Tab::Snoozed),
            other => Err(format!(
                "unknown tab `{other}` (expected active, pending, history or snoozed)"
            )),
        }
    }
}

/// Whose closed interactions History shows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Whose {
    /// The agent's own: those they owned when they closed (or, closed from
    /// the queue, those they finalized).
    #[default]
    Mine,
    /// Every closed interaction of the team.
    Team,
}

/// What History is narrowed to; combined with the search words. Every part
/// is optional but whose History it is, which is the agent's own unless
/// asked otherwise. Dates are milliseconds since the Unix epoch: `since`
/// keeps what closed at or after it, `until` what closed before it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryFilter {
    pub whose: Whose,
    /// A campaign's name (or id).
    pub campaign: Option<String>,
    pub channel: Option<ChannelKind>,
    /// A disposition, compared without case.
    pub disposition: Option<String>,
    /// One tag, compared without case.
    pub tag: Option<String>,
    pub since: Option<Millis>,
    pub until: Option<Millis>,
}

impl HistoryFilter {
    /// Every closed interaction of the team, unfiltered.
    pub fn team() -> HistoryFilter {
        HistoryFilter {
            whose: Whose::Team,
            ..HistoryFilter::default()
        }
    }

    /// Whether anything beyond whose History it is narrows the list.
    pub fn narrows(&self) -> bool {
        self.campaign.is_some()
            || self.channel.is_some()
            || self.disposition.is_some()
            || self.tag.is_some()
            || self.since.is_some()
            || self.until.is_some()
    }
}

/// What a routing pass reads from the store, owned: the one way the node,
/// the Pending tab and `route explain` gather the routing input.
pub struct RoutingFacts {
    pub team: Team,
    pub agents: BTreeMap<AgentId, Agent>,
    pub open: Vec<InteractionSummary>,
    pub history: BTreeMap<AgentId, AgentHistory>,
}

impl RoutingFacts {
    /// Reads the open interactions, the agents and their finished work at `now`.
    pub fn read(store: &Store, team: Team, now: Millis) -> Result<RoutingFacts, StoreError> {
        Ok(RoutingFacts {
            agents: store.agents()?,
            open: store.open_interactions()?,
            history: store.agent_history(now)?,
            team,
        })
    }

    /// The router's input, with who is live.
    pub fn input<'a>(&'a self, presence: &'a PresenceView, now: Millis) -> RoutingInput<'a> {
        RoutingInput {
            team: &self.team,
            agents: &self.agents,
            open: &self.open,
            history: &self.history,
            presence,
            now,
        }
    }
}

impl Executor<'_, '_> {
    pub(super) fn campaign_interactions(&self, campaign: &str, since: Millis) -> OpResult<Outcome> {
        let campaign = self.campaign(campaign)?.id;
        let names = self.agent_names()?;
        let mut rows = Vec::new();
        for state in [BaseState::Queued, BaseState::Active, BaseState::Finalized] {
            for s in self.store.list_interactions(state, 0, usize::MAX)? {
                if s.campaign == campaign && s.last_activity >= since {
                    rows.push(self.row(s, &names, None)?);
                }
            }
        }
        done(Reply::Interactions(rows), vec![])
    }

    pub(super) fn explain_routing(&self, campaign: Option<&str>) -> OpResult<Outcome> {
        let campaign = match campaign {
            Some(name) => Some(self.campaign(name)?.id),
            None => None,
        };
        let facts = RoutingFacts::read(self.store, self.team.clone(), self.ctx.now)?;
        let presence = self.presence(&facts.agents);
        let input = facts.input(&presence, self.ctx.now);
        done(
            Reply::Explanations(routing::explain(&input, campaign)),
            vec![],
        )
    }

    pub(super) fn row(
        &self,
        s: InteractionSummary,
        names: &BTreeMap<AgentId, String>,
        offer: Option<&routing::Offer>,
    ) -> OpResult<InteractionRow> {
        let read = self.store.read_mark(&s.id.to_string())?;
        Ok(InteractionRow {
            state: s.state_at(self.ctx.now),
            campaign_name: self
                .team
                .campaigns
                .get(&s.campaign)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            owner_name: s.owner.and_then(|o| names.get(&o).cloned()),
            unread: s.message_count.saturating_sub(read),
            offer: offer.map(|o| o.kind),
            offer_expires_at: offer.and_then(|o| o.expires_at),
            summary: s,
        })
    }

    /// History's filter checked and resolved to what the store keys on.
    fn history_narrow(&self, filter: &HistoryFilter) -> OpResult<HistoryNarrow> {
        let text = |what, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| validate::required(what, v))
                .transpose()
        };
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && until <= since
        {
            return Err(OpError::EmptyRange);
        }
        Ok(HistoryNarrow {
            owner: match filter.whose {
                Whose::Mine => Some(self.me.agent),
                Whose::Team => None,
            },
            campaign: match &filter.campaign {
                Some(name) => Some(self.campaign(name)?.id),
                None => None,
            },
            channel: filter.channel,
            disposition: text("the disposition", &filter.disposition)?,
            tag: text("the tag", &filter.tag)?,
            since: filter.since,
            until: filter.until,
        })
    }

    pub(super) fn list(
        &mut self,
        tab: Tab,
        search: Option<&str>,
        history: &HistoryFilter,
        offset: usize,
        limit: usize,
    ) -> OpResult<Page<InteractionRow>> {
        if tab != Tab::History && history.narrows() {
            return Err(OpError::FilterOutsideHistory);
        }
        let names = self.agent_names()?;
        let query = search.map(str::trim).filter(|q| !q.is_empty());
        let me = self.me.agent;
        let page = match tab {
            // Only this agent's own: the per-owner index and the search's
            // owner filter never read anyone else's rows. Whether a row is
            // snoozed depends on the clock, so it is told apart here, over
            // the agent's own work (bounded by their capacity).
            Tab::Active | Tab::Snoozed => {
                let all = match query {
                    Some(q) => {
                        let ids = self.store.search_page(
                            SearchScope::Active,
                            q,
                            Some(me),
                            0,
                            usize::MAX,
                        )?;
                        self.store.page_summaries(ids)?
                    }
                    None => self.store.active_page_of(me, 0, usize::MAX)?,
                };
                let now = self.ctx.now;
                let mut rows: Vec<InteractionSummary> = all
                    .rows
                    .into_iter()
                    .filter(|s| s.snoozed_at(now) == (tab == Tab::Snoozed))
                    .collect();
                if tab == Tab::Snoozed {
                    rows.sort_by_key(|s| (s.snooze.as_ref().map(|z| z.until), s.id));
                }
                Page {
                    total: rows.len(),
                    rows: rows.into_iter().skip(offset).take(limit).collect(),
                    offset,
                }
            }
            Tab::History => {
                let narrow = self.history_narrow(history)?;
                self.store.history_page(query, &narrow, offset, limit)?
            }
            Tab::Pending => {
                let facts = RoutingFacts::read(self.store, self.team.clone(), self.ctx.now)?;
                let presence = self.presence(&facts.agents);
                let routing = routing::route(&facts.input(&presence, self.ctx.now));
                let open = &facts.open;
                let matches: Option<BTreeSet<String>> = match query {
                    Some(q) => Some(
                        self.store
                            .search(SearchScope::Pending, q, usize::MAX)?
                            .into_iter()
                            .collect(),
                    ),
                    None => None,
                };
                let pending: Vec<&InteractionSummary> = routing
                    .pending_for(me, &self.team, open)
                    .into_iter()
                    .filter(|s| {
                        matches
                            .as_ref()
                            .is_none_or(|m| m.contains(&s.id.to_string()))
                    })
                    .collect();
                let total = pending.len();
                let rows = pending
                    .into_iter()
                    .skip(offset)
                    .take(limit)
                    .map(|s| {
                        let offer = routing.offer_for(s.id);
                        self.row(s.clone(), &names, offer)
                    })
                    .collect::<OpResult<Vec<_>>>()?;
                return Ok(Page {
                    rows,
                    offset,
                    total,
                });
            }
        };
        page.try_map(|s| self.row(s, &names, None))
    }

    pub(super) fn detail(&mut self, id: InteractionId) -> OpResult<InteractionDetail> {
        let interaction = self.interaction(id)?;
        let names = self.agent_names()?;
        // The contact the interaction's stands for now (see `merge`).
        let contact = match interaction.contact {
            Some(c) if self.store.contact(c)?.is_some() => Some(self.resolved_contact(c)?),
            _ => None,
        };
        Ok(InteractionDetail {
            state: interaction.state_at(self.ctx.now),
            campaign: self.team.campaigns.get(&interaction.campaign()).cloned(),
            owner: interaction.owner().map(|c| c.agent),
            lost_claims: interaction.losing_claimants(),
            agent_names: names,
            contact,
            interaction,
        })
    }
}
