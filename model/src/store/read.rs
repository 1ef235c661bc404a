//! Reading projections: lists, counts, search, routing inputs. None of these
//! load a document, except where a whole entity is asked for.

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableMultimapTable, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::project::{SCOPE_ACTIVE, SCOPE_CONTACTS, SCOPE_FINALIZED, SCOPE_QUEUED, scope_of};
use super::search_index::{Narrow, Query};
use super::tables::*;
use super::{Store, StoreError, StoreResult, decode};
use crate::doc::{self, DocId};
use crate::ids::*;
use crate::merge::Merges;
use crate::projection::*;
use crate::types::*;

/// Where a search looks: the inbox tab it was typed in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SearchScope {
    Active,
    Pending,
    History,
    Contacts,
}

impl std::str::FromStr for SearchScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(SearchScope::Active),
            "pending" => Ok(SearchScope::Pending),
            "history" => Ok(SearchScope::History),
            "contacts" | "phonebook" => Ok(SearchScope::Contacts),
            other => Err(format!(
                "unknown tab `{other}` (expected active, pending, history or contacts)"
            )),
        }
    }
}

/// A tag in use in the team: how many interactions and contacts carry it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TagUse {
    pub tag: String,
    pub interactions: u64,
    pub contacts: u64,
}

/// One page of a list: the rows from `offset` on, and how many the whole
/// list holds.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub offset: usize,
    pub total: usize,
}

impl<T> Page<T> {
    /// The same page with each row turned into something else.
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            rows: self.rows.into_iter().map(f).collect::<Result<_, _>>()?,
            offset: self.offset,
            total: self.total,
        })
    }
}

/// What History is narrowed to, as the store keys it: whose History, the
/// campaign by id, and when the interactions closed.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct HistoryNarrow {
    /// Only this agent's History (see `InteractionSummary::history_owner`).
    pub owner: Option<AgentId>,
    pub campaign: Option<CampaignId>,
    pub channel: Option<ChannelKind>,
    /// Compared without case.
    pub disposition: Option<String>,
    /// One tag, compared without case.
    pub tag: Option<String>,
    /// Closed at or after.
    pub since: Option<Millis>,
    /// Closed before.
    pub until: Option<Millis>,
}

impl HistoryNarrow {
    /// The range of `interaction_order` keys (minus the closing time) the
    /// dates allow, if they narrow at all.
    fn key_range(&self) -> Option<(i64, i64)> {
        if self.since.is_none() && self.until.is_none() {
            return None;
        }
        let lo = self
            .until
            .map_or(i64::MIN, |u| u.saturating_neg().saturating_add(1));
        let hi = self.since.map_or(i64::MAX, i64::saturating_neg);
        Some((lo, hi))
    }

    /// Whether only whose History and dates are asked: the order indexes
    /// answer without the search index.
    fn by_order_only(&self) -> bool {
        self.campaign.is_none()
            && self.channel.is_none()
            && self.disposition.is_none()
            && self.tag.is_none()
    }
}

fn state_scope(state: BaseState) -> u8 {
    scope_of(state)
}

impl Store {
    pub fn team(&self) -> StoreResult<Option<Team>> {
        let txn = self.db().begin_read()?;
        match txn.open_table(TEAM)?.get("team")? {
            Some(v) => Ok(Some(decode("team", v.value())?)),
            None => Ok(None),
        }
    }

    pub fn agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        let txn = self.db().begin_read()?;
        match txn.open_table(AGENTS)?.get(id.to_string().as_str())? {
            Some(v) => Ok(Some(decode("agents", v.value())?)),
            None => Ok(None),
        }
    }

    pub fn agents(&self) -> StoreResult<BTreeMap<AgentId, Agent>> {
        Ok(self
            .agent_rows::<Agent>()?
            .into_iter()
            .map(|a| (a.id, a))
            .collect())
    }

    /// Every agent's row read as `T`, a part of [`Agent`] (serde skips the
    /// rest without building it): for readers that need no status history.
    pub fn agent_rows<T: serde::de::DeserializeOwned>(&self) -> StoreResult<Vec<T>> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(AGENTS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            out.push(decode("agents", row?.1.value())?);
        }
        Ok(out)
    }

    /// An agent by display name (case-insensitive).
    pub fn agent_by_name(&self, name: &str) -> StoreResult<Option<Agent>> {
        let name = name.trim();
        Ok(self
            .agents()?
            .into_values()
            .find(|a| a.name.eq_ignore_ascii_case(name)))
    }

    pub fn interaction_summary(
        &self,
        id: InteractionId,
    ) -> StoreResult<Option<InteractionSummary>> {
        let txn = self.db().begin_read()?;
        match txn.open_table(INTERACTIONS)?.get(id.to_string().as_str())? {
            Some(v) => Ok(Some(decode("interactions", v.value())?)),
            None => Ok(None),
        }
    }

    /// The whole interaction, read from its document.
    pub fn interaction(&mut self, id: InteractionId) -> StoreResult<Interaction> {
        let doc_id = DocId::Interaction(id);
        let key = doc_id.to_string();
        self.with_doc(&doc_id, doc::interaction::read)?
            .map_err(|source| StoreError::Doc { doc: key, source })
    }

    /// The interaction with only its latest messages, and the message count:
    /// what state checks need, at a cost that does not grow with the conversation.
    pub fn interaction_head(&mut self, id: InteractionId) -> StoreResult<(Interaction, usize)> {
        let doc_id = DocId::Interaction(id);
        let key = doc_id.to_string();
        self.with_doc(&doc_id, doc::interaction::read_head)?
            .map_err(|source| StoreError::Doc { doc: key, source })
    }

    fn summaries_by_ids<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> StoreResult<Vec<InteractionSummary>> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(INTERACTIONS)?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(v) = table.get(id)? {
                out.push(decode("interactions", v.value())?);
            }
        }
        Ok(out)
    }

    /// Interactions in one base state, in that state's list order, one page.
    pub fn list_interactions(
        &self,
        state: BaseState,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<InteractionSummary>> {
        let ids = self.interaction_ids(state, offset, limit)?;
        self.summaries_by_ids(ids.iter().map(String::as_str))
    }

    /// One page of a base state's list, with the state's total.
    pub fn interaction_page(
        &self,
        state: BaseState,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Page<InteractionSummary>> {
        Ok(Page {
            rows: self.list_interactions(state, offset, limit)?,
            offset,
            total: self.count_interactions(state)?,
        })
    }

    /// One page of an agent's own active interactions, newest activity first,
    /// with how many they hold: read from the per-owner index, so other
    /// agents' work costs nothing.
    pub fn active_page_of(
        &self,
        agent: AgentId,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Page<InteractionSummary>> {
        let owner = agent.to_string();
        let ids: Vec<String> = {
            let txn = self.db().begin_read()?;
            let index = txn.open_table(ACTIVE_BY_OWNER)?;
            let range = index.range(
                (owner.as_str(), i64::MIN, i64::MIN, "")
                    ..=(owner.as_str(), i64::MAX, i64::MAX, "\u{10FFFF}"),
            )?;
            range
                .skip(offset)
                .take(limit)
                .map(|row| row.map(|(k, _)| k.value().3.to_string()))
                .collect::<Result<_, _>>()?
        };
        Ok(Page {
            rows: self.summaries_by_ids(ids.iter().map(String::as_str))?,
            offset,
            total: self.list_count(SCOPE_ACTIVE, &owner)?,
        })
    }

    /// One page of History (closed interactions, newest closed first)
    /// narrowed by `narrow` and, when given, by the search words of
    /// `query`, with how many rows match in all. Whose History and dates
    /// alone read the order indexes (`finalized_by_owner`,
    /// `interaction_order`); anything else goes through the search index,
    /// which holds every filter as a set of rows.
    pub fn history_page(
        &self,
        query: Option<&str>,
        narrow: &HistoryNarrow,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Page<InteractionSummary>> {
        let query = query.map(str::trim).filter(|q| !q.is_empty());
        if query.is_none() && narrow.by_order_only() {
            return self.closed_page(narrow, offset, limit);
        }
        let campaign = narrow.campaign.map(|c| c.to_string());
        let disposition = narrow
            .disposition
            .as_deref()
            .map(|d| d.trim().to_lowercase());
        let tag = narrow.tag.as_deref().map(|t| t.trim().to_lowercase());
        let page = self.search_scope(
            SearchScope::History,
            query.unwrap_or(""),
            narrow.owner,
            Narrow {
                campaign: campaign.as_deref(),
                channel: narrow.channel.map(ChannelKind::as_str),
                disposition: disposition.as_deref(),
                tag: tag.as_deref(),
                key_range: narrow.key_range(),
            },
            offset,
            limit,
        )?;
        self.page_summaries(page)
    }

    /// History by the order indexes only: someone's or everyone's, between dates.
    fn closed_page(
        &self,
        narrow: &HistoryNarrow,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Page<InteractionSummary>> {
        let owner = narrow.owner.map(|a| a.to_string()).unwrap_or_default();
        let (lo, hi) = narrow.key_range().unwrap_or((i64::MIN, i64::MAX));
        let dated = narrow.key_range().is_some();
        // Undated, the total comes from the counts: stop at the page's end.
        let stop = if dated {
            usize::MAX
        } else {
            offset.saturating_add(limit)
        };
        let (ids, walked) = {
            let txn = self.db().begin_read()?;
            let mut ids = Vec::new();
            let mut walked = 0usize;
            // Only the page's ids are copied; the rest of a dated range is counted.
            let mut visit = |id: &str| {
                if walked >= offset && ids.len() < limit {
                    ids.push(id.to_string());
                }
                walked += 1;
                walked < stop
            };
            if narrow.owner.is_some() {
                let index = txn.open_table(FINALIZED_BY_OWNER)?;
                let range = index.range(
                    (owner.as_str(), lo, i64::MIN, "")
                        ..=(owner.as_str(), hi, i64::MAX, "\u{10FFFF}"),
                )?;
                for row in range {
                    if !visit(row?.0.value().3) {
                        break;
                    }
                }
            } else {
                let index = txn.open_table(INTERACTION_ORDER)?;
                let range = index.range(
                    (SCOPE_FINALIZED, lo, i64::MIN, "")
                        ..=(SCOPE_FINALIZED, hi, i64::MAX, "\u{10FFFF}"),
                )?;
                for row in range {
                    if !visit(row?.0.value().3) {
                        break;
                    }
                }
            }
            (ids, dated.then_some(walked))
        };
        let total = match walked {
            Some(n) => n,
            None => self.list_count(SCOPE_FINALIZED, &owner)?,
        };
        Ok(Page {
            rows: self.summaries_by_ids(ids.iter().map(String::as_str))?,
            offset,
            total,
        })
    }

    fn list_count(&self, scope: u8, owner: &str) -> StoreResult<usize> {
        let txn = self.db().begin_read()?;
        let counts = txn.open_table(LIST_COUNTS)?;
        let n = counts.get((scope, owner))?.map_or(0, |v| v.value());
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Ids in one base state, in list order.
    pub fn interaction_ids(
        &self,
        state: BaseState,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let scope = state_scope(state);
        let txn = self.db().begin_read()?;
        let order = txn.open_table(INTERACTION_ORDER)?;
        let range =
            order.range((scope, i64::MIN, i64::MIN, "")..(scope + 1, i64::MIN, i64::MIN, ""))?;
        let mut ids = Vec::new();
        for row in range.skip(offset).take(limit) {
            ids.push(row?.0.value().3.to_string());
        }
        Ok(ids)
    }

    /// How many interactions are in one base state.
    pub fn count_interactions(&self, state: BaseState) -> StoreResult<usize> {
        self.list_count(state_scope(state), "")
    }

    /// Every queued and active interaction as the board reads it, one mail
    /// taken in on both sides of a partition counted once (as routing and
    /// Pending do).
    pub fn open_heads(&self) -> StoreResult<Vec<crate::board::OpenHead>> {
        let txn = self.db().begin_read()?;
        let holders = txn.open_multimap_table(MAIL_HOLDERS)?;
        let mut out = Vec::new();
        for row in txn.open_table(OPEN_HEADS)?.iter()? {
            let (_, v) = row?;
            let head: crate::board::OpenHead =
                postcard::from_bytes(v.value()).map_err(|e| StoreError::CorruptRecord {
                    table: "open_heads",
                    reason: e.to_string(),
                })?;
            // An active one is someone's, duplicate or not.
            if head.owner.is_some()
                || !self.repeats_mail(&holders, head.id, head.first_mail.as_deref())?
            {
                out.push(head);
            }
        }
        Ok(out)
    }

    /// Whether interaction `id`, whose first mail is `first_mail`, only
    /// repeats another's ([`Self::is_mail_duplicate`]). `holders` is
    /// `mail_holders`, opened once by the caller's read; the summary is read
    /// only when another interaction holds the same mail, which is rare.
    fn repeats_mail(
        &self,
        holders: &impl ReadableMultimapTable<&'static str, &'static str>,
        id: InteractionId,
        first_mail: Option<&str>,
    ) -> StoreResult<bool> {
        let Some(mail) = first_mail else {
            return Ok(false);
        };
        if holders.get(mail)?.len() < 2 {
            return Ok(false);
        }
        match self.interaction_summary(id)? {
            Some(summary) => self.is_mail_duplicate(holders, &summary),
            None => Ok(false),
        }
    }

    /// Every queued, then every active interaction, in one read: what
    /// routing works on.
    pub fn open_interactions(&self) -> StoreResult<Vec<InteractionSummary>> {
        let txn = self.db().begin_read()?;
        let order = txn.open_table(INTERACTION_ORDER)?;
        let table = txn.open_table(INTERACTIONS)?;
        let holders = txn.open_multimap_table(MAIL_HOLDERS)?;
        let mut out = Vec::new();
        for state in [BaseState::Queued, BaseState::Active] {
            let scope = state_scope(state);
            let range = order
                .range((scope, i64::MIN, i64::MIN, "")..(scope + 1, i64::MIN, i64::MIN, ""))?;
            for row in range {
                let (key, _) = row?;
                if let Some(v) = table.get(key.value().3)? {
                    let summary: InteractionSummary = decode("interactions", v.value())?;
                    // One mail taken in on both sides of a partition: routed once.
                    if !self.is_mail_duplicate(&holders, &summary)? {
                        out.push(summary);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Past work of every agent, for routing.
    /// Every routing pass asks; the claim and finish rows change only when
    /// a claim or a finalize does, so the answer is kept until the history
    /// version (bumped in the same transaction as those rows) or the day moves.
    pub fn agent_history(&self, now: Millis) -> StoreResult<BTreeMap<AgentId, AgentHistory>> {
        let start_of_day = now - now.rem_euclid(86_400_000);
        let txn = self.db().begin_read()?;
        let version = super::project::history_version(&txn.open_table(LOCAL)?)?;
        let mut cache = self
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((v, day, history)) = cache.as_ref()
            && *v == version
            && *day == start_of_day
        {
            return Ok(history.clone());
        }
        let mut out: BTreeMap<AgentId, AgentHistory> = BTreeMap::new();
        for row in txn.open_table(CLAIMED_BY)?.iter()? {
            let (k, _) = row?;
            let (agent, at, _) = k.value();
            if let Ok(agent) = agent.parse::<AgentId>() {
                let h = out.entry(agent).or_default();
                h.last_assigned_at = Some(h.last_assigned_at.map_or(at, |x| x.max(at)));
            }
        }
        for row in txn.open_table(FINISHED_BY)?.iter()? {
            let (k, v) = row?;
            let (agent, at, _) = k.value();
            if let Ok(agent) = agent.parse::<AgentId>() {
                let h = out.entry(agent).or_default();
                h.last_finished_at = Some(h.last_finished_at.map_or(at, |x| x.max(at)));
                let until = v.value();
                h.wrapup_until = Some(h.wrapup_until.map_or(until, |x| x.max(until)));
                if at >= start_of_day {
                    h.finished_today += 1;
                }
            }
        }
        *cache = Some((version, start_of_day, out.clone()));
        Ok(out)
    }

    pub fn contact(&self, id: ContactId) -> StoreResult<Option<Contact>> {
        let txn = self.db().begin_read()?;
        match txn.open_table(CONTACTS)?.get(id.to_string().as_str())? {
            Some(v) => Ok(Some(decode("contacts", v.value())?)),
            None => Ok(None),
        }
    }

    /// The merges in force between live contacts (see `merge`): one read
    /// of `contact_merges`, whose rows are the merged contacts only, and of
    /// the contacts they name.
    /// Kept in memory until a contact comes or goes or a merge changes
    /// (the merges version, bumped in the same transaction).
    pub fn contact_merges(&self) -> StoreResult<std::sync::Arc<Merges>> {
        let txn = self.db().begin_read()?;
        let version = super::project::merges_version(&txn.open_table(LOCAL)?)?;
        let mut cache = self
            .merges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((v, merges)) = cache.as_ref()
            && *v == version
        {
            return Ok(merges.clone());
        }
        let merges = std::sync::Arc::new(Self::read_merges(&txn)?);
        *cache = Some((version, merges.clone()));
        Ok(merges)
    }

    fn read_merges(txn: &redb::ReadTransaction) -> StoreResult<Merges> {
        let mut edges: Vec<(ContactId, ContactId)> = Vec::new();
        // A merge set by hand comes last: it wins over one mail intake's
        // twins imply (the projection leaves no contact with both).
        for table in [SENDER_MERGES, CONTACT_MERGES] {
            for row in txn.open_table(table)?.iter()? {
                let (k, v) = row?;
                if let (Ok(from), Ok(to)) = (k.value().parse(), v.value().parse()) {
                    edges.push((from, to));
                }
            }
        }
        if edges.is_empty() {
            return Ok(Merges::default());
        }
        let rows = txn.open_table(CONTACTS)?;
        let mut live = std::collections::BTreeSet::new();
        for (_, to) in &edges {
            if rows.get(to.to_string().as_str())?.is_some() {
                live.insert(*to);
            }
        }
        Ok(Merges::new(edges, |id| live.contains(&id)))
    }

    /// The phonebook in name order, one page: contacts merged into others
    /// are not listed (their survivors are).
    pub fn contacts(&self, offset: usize, limit: usize) -> StoreResult<Vec<Contact>> {
        let merges = self.contact_merges()?;
        let txn = self.db().begin_read()?;
        let order = txn.open_table(CONTACT_ORDER)?;
        let rows = txn.open_table(CONTACTS)?;
        let mut out = Vec::new();
        let listed = order.iter()?.filter(|row| {
            row.as_ref().map_or(true, |(k, _)| {
                k.value()
                    .1
                    .parse()
                    .map_or(true, |id| !merges.is_absorbed(id))
            })
        });
        for row in listed.skip(offset).take(limit) {
            let (k, _) = row?;
            if let Some(v) = rows.get(k.value().1)? {
                out.push(decode("contacts", v.value())?);
            }
        }
        Ok(out)
    }

    /// One page of the phonebook in name order, with how many contacts there are.
    pub fn contacts_page(&self, offset: usize, limit: usize) -> StoreResult<Page<Contact>> {
        Ok(Page {
            rows: self.contacts(offset, limit)?,
            offset,
            total: self.count_contacts()?,
        })
    }

    /// How many contacts the phonebook lists (merged ones count once, as
    /// their survivor).
    pub fn count_contacts(&self) -> StoreResult<usize> {
        let absorbed = self.contact_merges()?.absorbed_count();
        let txn = self.db().begin_read()?;
        let all = usize::try_from(txn.open_table(CONTACTS)?.len()?).unwrap_or(usize::MAX);
        Ok(all.saturating_sub(absorbed))
    }

    /// The interaction that holds the mail with this `Message-ID` (as
    /// [`crate::mail::normalize_mail_id`] writes it), if any: of several
    /// (two fetchers apart), the smallest id.
    pub fn interaction_of_mail(&self, mail_id: &str) -> StoreResult<Option<InteractionId>> {
        Ok(self.mail_holders(mail_id)?.into_iter().min())
    }

    /// The highest UID of a campaign's mailbox (as of `validity`) whose mail
    /// an interaction holds.
    pub fn mail_high_water(
        &self,
        campaign: crate::ids::CampaignId,
        validity: u32,
    ) -> StoreResult<Option<u32>> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(MAIL_HIGH_WATER)?;
        let campaign = campaign.to_string();
        Ok(table.get((campaign.as_str(), validity))?.map(|v| v.value()))
    }

    /// Every interaction that holds the mail with this `Message-ID`.
    pub fn mail_holders(&self, mail_id: &str) -> StoreResult<Vec<InteractionId>> {
        let txn = self.db().begin_read()?;
        let table = txn.open_multimap_table(MAIL_HOLDERS)?;
        let mut out = Vec::new();
        for v in table.get(mail_id)? {
            if let Ok(id) = v?.value().parse() {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Whether a queued email interaction only repeats another's mail: two
    /// fetchers apart each took its first mail in. Of those holding it, the
    /// one someone took (claimed or closed) stands, else the smallest id;
    /// the others are not routed and not listed (nothing is deleted: the
    /// document stays, and shows again if the other goes).
    /// `holders` is `mail_holders`, opened once by the caller's read.
    fn is_mail_duplicate(
        &self,
        holders: &impl ReadableMultimapTable<&'static str, &'static str>,
        s: &InteractionSummary,
    ) -> StoreResult<bool> {
        let Some(mail) = &s.first_mail else {
            return Ok(false);
        };
        if s.base_state() != BaseState::Queued {
            return Ok(false);
        }
        let others = holders.get(mail.as_str())?;
        if others.len() < 2 {
            return Ok(false);
        }
        let others: Vec<InteractionId> = others
            .filter_map(|v| v.ok().and_then(|v| v.value().parse().ok()))
            .collect();
        for other in others {
            if other == s.id {
                continue;
            }
            let Some(o) = self.interaction_summary(other)? else {
                continue;
            };
            if o.first_mail.as_deref() != Some(mail.as_str()) {
                continue;
            }
            if o.base_state() != BaseState::Queued || other < s.id {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Contacts with this email address (case-insensitive).
    pub fn contacts_by_email(&self, email: &str) -> StoreResult<Vec<Contact>> {
        let ids: Vec<String> = {
            let txn = self.db().begin_read()?;
            let index = txn.open_multimap_table(CONTACT_EMAIL)?;
            index
                .get(email.trim().to_lowercase().as_str())?
                .map(|v| v.map(|v| v.value().to_string()))
                .collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for id in ids {
            if let Ok(id) = id.parse() {
                out.extend(self.contact(id)?);
            }
        }
        Ok(out)
    }

    /// A contact's interactions, newest first.
    pub fn contact_interactions(&self, contact: ContactId) -> StoreResult<Vec<InteractionSummary>> {
        let ids: Vec<String> = {
            let txn = self.db().begin_read()?;
            let index = txn.open_multimap_table(CONTACT_INTERACTIONS)?;
            index
                .get(contact.to_string().as_str())?
                .map(|v| v.map(|v| v.value().to_string()))
                .collect::<Result<_, _>>()?
        };
        let mut out = self.summaries_by_ids(ids.iter().map(String::as_str))?;
        out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(out)
    }

    /// Every room, with its latest month's summary and the total message count.
    pub fn rooms(&self) -> StoreResult<Vec<RoomSummary>> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(ROOM_MONTHS)?;
        let mut rooms: BTreeMap<String, RoomSummary> = BTreeMap::new();
        for row in table.iter()? {
            let (k, v) = row?;
            let (room, _month) = k.value();
            let month: RoomSummary = decode("room_months", v.value())?;
            match rooms.get_mut(room) {
                Some(acc) => {
                    acc.message_count += month.message_count;
                    if month.last_message_at >= acc.last_message_at {
                        acc.last_message_at = month.last_message_at;
                        acc.last_message_preview = month.last_message_preview;
                        acc.last_author = month.last_author;
                    }
                }
                None => {
                    rooms.insert(room.to_string(), month);
                }
            }
        }
        Ok(rooms.into_values().collect())
    }

    /// The notes and chat messages with an `@` followed by `word` (an
    /// [`crate::mentions::index_word`]), newest first: the candidates for
    /// mentions of the agents whose names start with that word.
    pub fn mention_sources(&self, word: &str) -> StoreResult<Vec<crate::mentions::MentionSource>> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(MENTION_WORDS)?;
        let mut out = Vec::new();
        for row in table
            .range((word, i64::MIN, "")..=(word, i64::MAX, "\u{10FFFF}"))?
            .rev()
        {
            out.push(decode("mention_words", row?.1.value())?);
        }
        Ok(out)
    }

    /// Every tag in use with how many interactions and contacts carry it,
    /// most used first (ties by tag): one read of `tag_uses`, which holds a
    /// row per distinct tag, whatever the number of interactions.
    pub fn tag_uses(&self) -> StoreResult<Vec<TagUse>> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(TAG_USES)?;
        let mut by_tag: BTreeMap<String, TagUse> = BTreeMap::new();
        for row in table.iter()? {
            let (k, v) = row?;
            let (kind, tag) = k.value();
            let entry = by_tag.entry(tag.to_string()).or_insert_with(|| TagUse {
                tag: tag.to_string(),
                interactions: 0,
                contacts: 0,
            });
            match kind {
                super::project::TAGS_OF_INTERACTIONS => entry.interactions = v.value(),
                _ => entry.contacts = v.value(),
            }
        }
        let mut out: Vec<TagUse> = by_tag.into_values().collect();
        out.sort_by(|a, b| {
            (b.interactions + b.contacts)
                .cmp(&(a.interactions + a.contacts))
                .then_with(|| a.tag.cmp(&b.tag))
        });
        Ok(out)
    }

    /// How many messages a room holds over its stored months.
    pub fn room_message_count(&self, room: RoomKey) -> StoreResult<u32> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(ROOM_MONTHS)?;
        let key = room.key();
        let mut count = 0u32;
        for row in table.range((key.as_str(), "")..=(key.as_str(), "\u{10FFFF}"))? {
            let month: RoomSummary = decode("room_months", row?.1.value())?;
            count = count.saturating_add(month.message_count);
        }
        Ok(count)
    }

    /// A room's messages over its stored months, oldest first.
    pub fn room_messages(&mut self, room: RoomKey) -> StoreResult<Vec<ChatMessage>> {
        let months: Vec<String> = {
            let txn = self.db().begin_read()?;
            let table = txn.open_table(ROOM_MONTHS)?;
            let key = room.key();
            table
                .range((key.as_str(), "")..=(key.as_str(), "\u{10FFFF}"))?
                .map(|r| r.map(|(k, _)| k.value().1.to_string()))
                .collect::<Result<_, _>>()?
        };
        let mut messages = Vec::new();
        for month in months {
            let doc_id = DocId::Room {
                room,
                month: month.clone(),
            };
            let key = doc_id.to_string();
            let read = self.with_doc(&doc_id, |d| doc::room::read(d, room, &month))?;
            messages.extend(
                read.map_err(|source| StoreError::Doc { doc: key, source })?
                    .messages,
            );
        }
        messages.sort_by_key(|m| (m.at, m.id));
        Ok(messages)
    }

    /// Ids whose search text contains every word of `query`, in one scope,
    /// in the scope's list order (Active: newest activity first; Pending:
    /// queue order; History: newest closed first; Contacts: by name).
    /// Interactions come back as interaction ids, contacts as contact ids.
    pub fn search(
        &self,
        scope: SearchScope,
        query: &str,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        Ok(self.search_page(scope, query, None, 0, limit)?.rows)
    }

    /// One page of what matches `query` in one scope, in list order, with how
    /// many match in all. A word matches when it is a substring of any word of
    /// the row: contact name and address, subject, tags, form fields,
    /// disposition, notes, message text (see [`SearchText`]), or of the name
    /// of the interaction's campaign. `owner` keeps only that agent's rows
    /// (meaningful for Active).
    pub fn search_page(
        &self,
        scope: SearchScope,
        query: &str,
        owner: Option<AgentId>,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Page<String>> {
        self.search_scope(scope, query, owner, Narrow::default(), offset, limit)
    }

    fn search_scope(
        &self,
        scope: SearchScope,
        query: &str,
        owner: Option<AgentId>,
        narrow: Narrow<'_>,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Page<String>> {
        let words: Vec<String> = query
            .split_whitespace()
            .map(crate::projection::search_word)
            .collect();
        let index_scope = match scope {
            SearchScope::Active => SCOPE_ACTIVE,
            SearchScope::Pending => SCOPE_QUEUED,
            SearchScope::History => SCOPE_FINALIZED,
            SearchScope::Contacts => SCOPE_CONTACTS,
        };
        // Campaign names live in the team document: read it only for the
        // interaction tabs.
        let team = match scope {
            SearchScope::Contacts => None,
            _ => self.team()?,
        };
        let campaigns: Vec<(String, String)> = team
            .map(|team| {
                team.campaigns
                    .values()
                    .map(|c| (c.id.to_string(), c.name.to_lowercase()))
                    .collect()
            })
            .unwrap_or_default();
        let owner = owner.map(|a| a.to_string());
        // The phonebook lists survivors only; an absorbed contact's words
        // find its survivor.
        let absorbed: Vec<(String, String)> = match scope {
            SearchScope::Contacts => self
                .contact_merges()?
                .absorbed()
                .map(|(c, s)| (c.to_string(), s.to_string()))
                .collect(),
            _ => Vec::new(),
        };
        let hits = self.search_index().search(
            self.db(),
            index_scope,
            &Query {
                words: &words,
                owner: owner.as_deref(),
                campaigns: &campaigns,
                narrow,
                absorbed: &absorbed,
                offset,
                limit,
            },
        )?;
        Ok(Page {
            rows: hits.ids,
            offset,
            total: hits.total,
        })
    }

    /// Search, returning interaction summaries (for the interaction tabs).
    pub fn search_interactions(
        &self,
        scope: SearchScope,
        query: &str,
        limit: usize,
    ) -> StoreResult<Vec<InteractionSummary>> {
        let page = self.search_page(scope, query, None, 0, limit)?;
        Ok(self.page_summaries(page)?.rows)
    }

    /// A page of interaction ids (a search's answer) as summaries.
    pub fn page_summaries(&self, page: Page<String>) -> StoreResult<Page<InteractionSummary>> {
        Ok(Page {
            rows: self.summaries_by_ids(page.rows.iter().map(String::as_str))?,
            offset: page.offset,
            total: page.total,
        })
    }

    /// Search the phonebook, in name order.
    pub fn search_contacts(&self, query: &str, limit: usize) -> StoreResult<Vec<Contact>> {
        Ok(self.search_contacts_page(query, 0, limit)?.rows)
    }

    /// One page of the phonebook's matches, in name order, with how many match.
    pub fn search_contacts_page(
        &self,
        query: &str,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Page<Contact>> {
        let page = self.search_page(SearchScope::Contacts, query, None, offset, limit)?;
        let mut rows = Vec::with_capacity(page.rows.len());
        for id in &page.rows {
            if let Ok(id) = id.parse() {
                rows.extend(self.contact(id)?);
            }
        }
        Ok(Page {
            rows,
            offset,
            total: page.total,
        })
    }
}

/// What a report over a range reads from the projections (see
/// [`crate::report::build`]).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ReportData {
    /// The rows with an event in the range, in key order.
    pub rows: Vec<crate::report::ReportRow>,
    /// Each agent's status changes in the range and the last one before it.
    pub status_logs: BTreeMap<AgentId, Vec<StatusChange>>,
    /// The newest time the rows and status logs record.
    pub data_until: Millis,
}

fn status_of(kind: &str, reason: &str) -> Option<AgentStatus> {
    match kind {
        "available" => Some(AgentStatus::Available),
        "break" => Some(AgentStatus::Break {
            reason: reason.to_string(),
        }),
        "offline" => Some(AgentStatus::Offline),
        _ => None,
    }
}

impl Store {
    /// Reads what a report over `range` needs in one read transaction: the
    /// `report_rows` whose newest event is at or after the range's start
    /// and that record something in it (a row's events all lie between its
    /// queueing and its key), and the agents' status logs.
    pub fn report_data(&self, range: crate::report::Range) -> StoreResult<ReportData> {
        self.report_data_with(range, true)
    }

    /// [`Store::report_data`] without the status logs (`statuses` off): what
    /// the board reads, which shows no time per status.
    pub fn report_data_with(
        &self,
        range: crate::report::Range,
        statuses: bool,
    ) -> StoreResult<ReportData> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(REPORT_ROWS)?;
        let holders = txn.open_multimap_table(MAIL_HOLDERS)?;
        let mut data = ReportData::default();
        if let Some(last) = table.last()? {
            data.data_until = last.0.value().0;
        }
        for entry in table.range((range.from, "")..)? {
            let (_, bytes) = entry?;
            let row: crate::report::ReportRow =
                postcard::from_bytes(bytes.value()).map_err(|e| StoreError::CorruptRecord {
                    table: "report_rows",
                    reason: e.to_string(),
                })?;
            let in_range = row.rounds.iter().any(|r| range.contains(r.started_at))
                || row.transfers.iter().any(|t| range.contains(t.at))
                || row
                    .finalization
                    .as_ref()
                    .is_some_and(|f| range.contains(f.at));
            if in_range && !self.repeats_mail(&holders, row.id, row.first_mail.as_deref())? {
                data.rows.push(row);
            }
        }
        if !statuses {
            return Ok(data);
        }
        let log = txn.open_table(STATUS_LOG)?;
        for agent in txn.open_table(AGENTS)?.iter()? {
            let (key, _) = agent?;
            let key = key.value();
            let Ok(id) = key.parse::<AgentId>() else {
                continue;
            };
            let mut changes = Vec::new();
            let before = log
                .range((key, i64::MIN, 0)..(key, range.from, 0))?
                .next_back();
            let during = log.range((key, range.from, 0)..(key, range.to, 0))?;
            for entry in before.into_iter().chain(during) {
                let (k, v) = entry?;
                let (kind, reason) = v.value();
                let Some(status) = status_of(kind, reason) else {
                    continue;
                };
                changes.push(StatusChange {
                    at: k.value().1,
                    status,
                });
            }
            if let Some(newest) = log
                .range((key, i64::MIN, 0)..=(key, i64::MAX, u32::MAX))?
                .next_back()
            {
                data.data_until = data.data_until.max(newest?.0.value().1);
            }
            if !changes.is_empty() {
                data.status_logs.insert(id, changes);
            }
        }
        Ok(data)
    }
}
