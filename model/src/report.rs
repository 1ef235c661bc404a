//! Reports for the team lead: what the team's documents say happened in a
//! date range, by campaign or by agent.
//!
//! [`build`] is a pure function of compact per-interaction rows
//! ([`ReportRow`], kept in the `report_rows` projection), the agents'
//! status logs, the team's campaigns and agents, and the range: the same
//! synced documents give byte-identical figures and CSV on every node.
//! Everything is in integer milliseconds and UTC; every list is sorted; no
//! hash map is iterated. The figures' definitions are in
//! docs/ARCHITECTURE.md ("Reports"), and on [`Figures`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::types::*;

const HOUR_MS: Millis = 3_600_000;
pub const DAY_MS: Millis = 24 * HOUR_MS;

/// How a report groups its rows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grouping {
    Campaign,
    Agent,
}

impl Grouping {
    pub fn as_str(self) -> &'static str {
        match self {
            Grouping::Campaign => "campaign",
            Grouping::Agent => "agent",
        }
    }
}

impl std::str::FromStr for Grouping {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "campaign" => Ok(Grouping::Campaign),
            "agent" => Ok(Grouping::Agent),
            other => Err(format!(
                "`{other}` is not a report grouping (campaign or agent)"
            )),
        }
    }
}

/// Ids in `report_rows` as 128-bit integers: postcard would otherwise
/// write each as its 26-character text and read it back into a fresh
/// string (a month is 100k rows of several ids each).
mod id128 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use ulid::Ulid;

    pub trait AsUlid: Copy {
        fn ulid(self) -> Ulid;
        fn of(id: Ulid) -> Self;
    }

    macro_rules! as_ulid {
        ($($t:ty),*) => {$(
            impl AsUlid for $t {
                fn ulid(self) -> Ulid {
                    self.0
                }
                fn of(id: Ulid) -> Self {
                    Self(id)
                }
            }
        )*};
    }
    as_ulid!(
        crate::ids::AgentId,
        crate::ids::CampaignId,
        crate::ids::InteractionId
    );

    pub fn serialize<S: Serializer, T: AsUlid>(id: &T, s: S) -> Result<S::Ok, S::Error> {
        id.ulid().0.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: AsUlid>(d: D) -> Result<T, D::Error> {
        u128::deserialize(d).map(|n| T::of(Ulid(n)))
    }

    pub mod many {
        use super::*;

        pub fn serialize<S: Serializer, T: AsUlid>(ids: &[T], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(ids.iter().map(|id| id.ulid().0))
        }

        pub fn deserialize<'de, D: Deserializer<'de>, T: AsUlid>(d: D) -> Result<Vec<T>, D::Error> {
            Vec::<u128>::deserialize(d).map(|v| v.into_iter().map(|n| T::of(Ulid(n))).collect())
        }
    }

    pub mod maybe {
        use super::*;

        pub fn serialize<S: Serializer, T: AsUlid>(
            id: &Option<T>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            id.map(|id| id.ulid().0).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>, T: AsUlid>(
            d: D,
        ) -> Result<Option<T>, D::Error> {
            Option::<u128>::deserialize(d).map(|v| v.map(|n| T::of(Ulid(n))))
        }
    }

    pub mod answer {
        use super::*;
        use crate::ids::{AgentId, Millis};

        pub fn serialize<S: Serializer>(
            a: &Option<(AgentId, Millis)>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            a.map(|(id, at)| (id.0.0, at)).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<(AgentId, Millis)>, D::Error> {
            Option::<(u128, Millis)>::deserialize(d)
                .map(|v| v.map(|(n, at)| (AgentId(Ulid(n)), at)))
        }
    }
}

/// One routing round of an interaction as a report needs it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RoundFacts {
    /// The campaign the interaction was in during the round.
    #[serde(with = "id128")]
    pub campaign: CampaignId,
    /// When the round began: the queueing, or the transfer that started it.
    pub started_at: Millis,
    /// Whether the round offered the interaction to a campaign's queue (an
    /// inbound interaction's first round, a transfer to a campaign, a
    /// return or a pull-back) rather than to one agent or to its creator.
    pub queued: bool,
    /// The agent a transfer or a hand-over sent it to.
    #[serde(with = "id128::maybe")]
    pub directed_to: Option<AgentId>,
    /// Who answered the round (its owner) and when.
    #[serde(with = "id128::answer")]
    pub answered: Option<(AgentId, Millis)>,
    /// Agents who declined the round's offer or let it time out, sorted.
    #[serde(with = "id128::many")]
    pub declined: Vec<AgentId>,
    /// Whether the round ended with the interaction finalized.
    pub finalized: bool,
}

/// One transfer (or take-back) as a report needs it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TransferFacts {
    pub at: Millis,
    /// Who did it.
    #[serde(with = "id128")]
    pub from: AgentId,
    /// The campaign the interaction was in before it.
    #[serde(with = "id128")]
    pub campaign: CampaignId,
    pub kind: TransferKind,
}

/// An interaction's finalization as a report needs it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct FinalFacts {
    pub at: Millis,
    /// Who wrote the finalization.
    #[serde(with = "id128")]
    pub agent: AgentId,
    pub disposition: String,
}

/// The compact row a report reads for one interaction: its rounds, its
/// transfers and its finalization. A pure function of the document.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ReportRow {
    #[serde(with = "id128")]
    pub id: InteractionId,
    pub rounds: Vec<RoundFacts>,
    pub transfers: Vec<TransferFacts>,
    pub finalization: Option<FinalFacts>,
    /// The `Message-ID` of its first mail (email): a copy of another
    /// interaction's mail, taken in apart, is left out of the figures.
    #[serde(default)]
    pub first_mail: Option<String>,
}

impl ReportRow {
    pub fn of(i: &Interaction) -> Self {
        let rounds_total = i.transfers.len() + 1;
        let mut campaign = i.origin_campaign;
        let mut rounds = Vec::with_capacity(rounds_total);
        let mut transfers = Vec::with_capacity(i.transfers.len());
        for epoch in 0..rounds_total {
            let (started_at, queued, directed_to) = match epoch.checked_sub(1) {
                None => (i.enqueued_at, i.direction == Direction::Inbound, None),
                Some(t) => {
                    let t = &i.transfers[t];
                    match t.to {
                        TransferTarget::Campaign(c) => {
                            campaign = c;
                            (t.at, true, None)
                        }
                        TransferTarget::Agent(a) => (t.at, false, Some(a)),
                    }
                }
            };
            let round = u32::try_from(epoch).unwrap_or(u32::MAX);
            let answered = i
                .claims
                .iter()
                .filter(|c| c.epoch == round)
                .min_by_key(|c| (c.claimed_at, c.agent))
                .map(|c| (c.agent, c.claimed_at));
            let mut declined: Vec<AgentId> = i
                .declines
                .iter()
                .filter(|d| d.epoch == round)
                .map(|d| d.agent)
                .collect();
            declined.sort();
            declined.dedup();
            let last = epoch + 1 == rounds_total;
            rounds.push(RoundFacts {
                campaign,
                started_at,
                queued,
                directed_to,
                answered,
                declined,
                finalized: last && i.finalization.is_some(),
            });
            if let Some(t) = i.transfers.get(epoch) {
                transfers.push(TransferFacts {
                    at: t.at,
                    from: t.from,
                    campaign,
                    kind: t.kind,
                });
            }
        }
        ReportRow {
            id: i.id,
            rounds,
            transfers,
            finalization: i.finalization.as_ref().map(|f| FinalFacts {
                at: f.at,
                agent: f.agent,
                disposition: f.disposition.clone(),
            }),
            first_mail: None,
        }
    }

    /// The time of the last thing the row records (its key's time in
    /// `report_rows` is the interaction's last activity, never earlier).
    pub fn last_event(&self) -> Millis {
        let rounds = self.rounds.iter().map(|r| {
            r.answered
                .map_or(r.started_at, |(_, at)| at.max(r.started_at))
        });
        let transfers = self.transfers.iter().map(|t| t.at);
        let fin = self.finalization.iter().map(|f| f.at);
        rounds.chain(transfers).chain(fin).max().unwrap_or(0)
    }
}

/// A date range `[from, to)` in milliseconds since the epoch (UTC).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Range {
    pub from: Millis,
    pub to: Millis,
}

impl Range {
    pub fn contains(&self, at: Millis) -> bool {
        self.from <= at && at < self.to
    }
}

/// Count, average and 90th percentile of durations (ms).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Durations {
    pub count: u64,
    /// The mean, rounded down to the millisecond; none when empty.
    pub avg_ms: Option<Millis>,
    /// The nearest-rank 90th percentile: the smallest value at least 90%
    /// of the values are at or below; none when empty.
    pub p90_ms: Option<Millis>,
}

impl Durations {
    pub fn of(mut values: Vec<Millis>) -> Self {
        if values.is_empty() {
            return Durations::default();
        }
        values.sort_unstable();
        let n = values.len();
        let sum: i128 = values.iter().map(|&v| i128::from(v)).sum();
        let avg = sum.div_euclid(n as i128);
        // Nearest rank: ceil(0.9 n), 1-based.
        let rank = (n * 9).div_ceil(10).max(1);
        Durations {
            count: n as u64,
            avg_ms: Millis::try_from(avg).ok(),
            p90_ms: values.get(rank - 1).copied(),
        }
    }
}

/// One group's figures. Dating: `offered`, `answered`, `abandoned`, the
/// wait, the service level and `per_hour` count the routing rounds that
/// began in the range (whatever became of them later); `handled`, the
/// handle time and `dispositions` count finalizations in the range;
/// `transfers` transfers in the range; status times are the parts of each
/// status that fall in the range.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Figures {
    /// By campaign: rounds queued in the campaign. By agent: rounds offered
    /// to the agent (they answered, declined or let it time out, or it was
    /// sent to them).
    pub offered: u64,
    /// Of those, rounds answered (by the agent, when by agent).
    pub answered: u64,
    /// By campaign: queued rounds nobody answered that ended with the
    /// interaction finalized (closed from the queue). Always 0 by agent.
    pub abandoned: u64,
    /// Answered rounds whose wait was within the campaign's SLA.
    pub within_sla: u64,
    /// Offered rounds in campaigns that have an SLA.
    pub offered_with_sla: u64,
    /// From the start of a round to its answer, over answered rounds.
    pub wait: Durations,
    /// Finalized interactions with an owner: to the campaign they closed
    /// in, to the agent who owned them.
    pub handled: u64,
    /// From the owner's answer of the last round to the finalization.
    pub handle: Durations,
    pub transfers: u64,
    /// Finalizations by disposition (those closed from the queue too).
    pub dispositions: BTreeMap<String, u64>,
    /// By agent: time in each status (`available`, `break`, `offline`).
    pub status_ms: BTreeMap<String, Millis>,
    /// By agent: time on break by reason (`""` for none given).
    pub break_ms: BTreeMap<String, Millis>,
    /// Offered rounds by the hour of the day (UTC) they began in.
    pub per_hour: [u64; 24],
}

impl Figures {
    /// Answered within the SLA out of what was offered in campaigns with
    /// one, in tenths of a percent (rounded down); none without an SLA.
    pub fn service_level_permille(&self) -> Option<u64> {
        (self.offered_with_sla > 0).then(|| self.within_sla * 1000 / self.offered_with_sla)
    }
}

/// One row of a report: a campaign or an agent.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ReportGroup {
    pub id: String,
    pub name: String,
    pub figures: Figures,
}

/// A report over a range.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Report {
    pub range: Range,
    pub by: Grouping,
    /// Where status times stop: the range's end, or the newest time the
    /// documents record, if earlier (the same on every node, unlike "now").
    pub status_until: Millis,
    /// Sorted by name, then id.
    pub groups: Vec<ReportGroup>,
}

/// Everything a report is computed from.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    pub range: Range,
    pub by: Grouping,
    pub campaigns: &'a [Campaign],
    /// Agent ids and names.
    pub agents: &'a [(AgentId, String)],
    /// Every row with an event in the range (others are ignored).
    pub rows: &'a [ReportRow],
    /// Each agent's status changes, oldest first: at least those in the
    /// range and the last one before it.
    pub status_logs: &'a BTreeMap<AgentId, Vec<StatusChange>>,
    /// The newest time the documents record (see [`Report::status_until`]).
    pub data_until: Millis,
}

fn hour_of(at: Millis) -> usize {
    usize::try_from(at.rem_euclid(DAY_MS) / HOUR_MS).unwrap_or(0)
}

#[derive(Default)]
struct Acc {
    figures: Figures,
    waits: Vec<Millis>,
    handles: Vec<Millis>,
}

/// Computes a report. Groups: every campaign (or agent) the team knows,
/// and any other the rows name, sorted by name then id.
pub fn build(input: &ReportInput<'_>) -> Report {
    let range = input.range;
    let sla: BTreeMap<CampaignId, Millis> = input
        .campaigns
        .iter()
        .map(|c| (c.id, Millis::from(c.sla_seconds) * 1000))
        .collect();
    // Keyed by the campaign's or agent's id; texts only at the end.
    let mut acc: BTreeMap<ulid::Ulid, Acc> = BTreeMap::new();
    let key_c = |c: CampaignId| c.0;
    let key_a = |a: AgentId| a.0;
    for row in input.rows {
        for round in &row.rounds {
            if !range.contains(round.started_at) {
                continue;
            }
            let sla_ms = sla.get(&round.campaign).copied().unwrap_or(0);
            let wait = round.answered.map(|(_, at)| (at - round.started_at).max(0));
            let within = wait.is_some_and(|w| sla_ms > 0 && w <= sla_ms);
            let offer = |a: &mut Acc, answered: bool| {
                let f = &mut a.figures;
                f.offered += 1;
                f.per_hour[hour_of(round.started_at)] += 1;
                if sla_ms > 0 {
                    f.offered_with_sla += 1;
                }
                if answered {
                    f.answered += 1;
                    if within {
                        f.within_sla += 1;
                    }
                    if let Some(w) = wait {
                        a.waits.push(w);
                    }
                }
            };
            match input.by {
                Grouping::Campaign => {
                    if !round.queued {
                        continue;
                    }
                    let a = acc.entry(key_c(round.campaign)).or_default();
                    offer(a, round.answered.is_some());
                    if round.answered.is_none() && round.finalized {
                        a.figures.abandoned += 1;
                    }
                }
                Grouping::Agent => {
                    // An outbound interaction's first round was offered to nobody.
                    if !round.queued && round.directed_to.is_none() {
                        continue;
                    }
                    let owner = round.answered.map(|(a, _)| a);
                    // Each agent once: the decliners (sorted, distinct),
                    // then the owner and the one it was sent to if not
                    // among them.
                    for &agent in &round.declined {
                        offer(acc.entry(key_a(agent)).or_default(), owner == Some(agent));
                    }
                    let listed = |a: &AgentId| round.declined.binary_search(a).is_ok();
                    if let Some(o) = owner.filter(|o| !listed(o)) {
                        offer(acc.entry(key_a(o)).or_default(), true);
                    }
                    if let Some(d) = round
                        .directed_to
                        .filter(|d| !listed(d) && Some(*d) != owner)
                    {
                        offer(acc.entry(key_a(d)).or_default(), false);
                    }
                }
            }
        }
        for t in row.transfers.iter().filter(|t| range.contains(t.at)) {
            let key = match input.by {
                Grouping::Campaign => key_c(t.campaign),
                Grouping::Agent => key_a(t.from),
            };
            acc.entry(key).or_default().figures.transfers += 1;
        }
        if let (Some(f), Some(last)) = (&row.finalization, row.rounds.last())
            && range.contains(f.at)
        {
            let owner = last.answered;
            let key = match (input.by, owner) {
                (Grouping::Campaign, _) => key_c(last.campaign),
                (Grouping::Agent, Some((a, _))) => key_a(a),
                (Grouping::Agent, None) => key_a(f.agent),
            };
            let a = acc.entry(key).or_default();
            match a.figures.dispositions.get_mut(&f.disposition) {
                Some(n) => *n += 1,
                None => {
                    a.figures.dispositions.insert(f.disposition.clone(), 1);
                }
            }
            if let Some((_, answered_at)) = owner {
                a.figures.handled += 1;
                a.handles.push((f.at - answered_at).max(0));
            }
        }
    }
    let status_until = range.to.min(input.data_until);
    if input.by == Grouping::Agent {
        for (agent, log) in input.status_logs {
            let a = acc.entry(key_a(*agent)).or_default();
            status_times(log, range.from, status_until, &mut a.figures);
        }
    }
    let mut names: BTreeMap<ulid::Ulid, String> = match input.by {
        Grouping::Campaign => input
            .campaigns
            .iter()
            .map(|c| (key_c(c.id), c.name.clone()))
            .collect(),
        Grouping::Agent => input
            .agents
            .iter()
            .map(|(id, name)| (key_a(*id), name.clone()))
            .collect(),
    };
    for key in acc.keys() {
        names.entry(*key).or_insert_with(|| key.to_string());
    }
    let mut groups: Vec<ReportGroup> = names
        .into_iter()
        .map(|(id, name)| {
            let Acc {
                mut figures,
                waits,
                handles,
            } = acc.remove(&id).unwrap_or_default();
            figures.wait = Durations::of(waits);
            figures.handle = Durations::of(handles);
            ReportGroup {
                id: id.to_string(),
                name,
                figures,
            }
        })
        .collect();
    groups.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    Report {
        range,
        by: input.by,
        status_until,
        groups,
    }
}

/// Adds the parts of each status in `[from, until)` to `figures`: a status
/// lasts until the next change (or `until`).
fn status_times(log: &[StatusChange], from: Millis, until: Millis, figures: &mut Figures) {
    let mut log: Vec<&StatusChange> = log.iter().collect();
    log.sort_by_key(|c| c.at);
    for (n, change) in log.iter().enumerate() {
        let end = log.get(n + 1).map_or(until, |next| next.at.min(until));
        let start = change.at.max(from);
        if end <= start {
            continue;
        }
        let ms = end - start;
        let (kind, reason) = match &change.status {
            AgentStatus::Available => ("available", None),
            AgentStatus::Break { reason } => ("break", Some(reason.trim())),
            AgentStatus::Offline => ("offline", None),
        };
        *figures.status_ms.entry(kind.to_string()).or_default() += ms;
        if let Some(reason) = reason {
            *figures.break_ms.entry(reason.to_string()).or_default() += ms;
        }
    }
}

/// Why a report could not be written as CSV.
#[derive(Debug, thiserror::Error)]
#[error("could not write the report as CSV: {0}")]
pub struct CsvError(#[from] csv::Error);

/// The CSV's fixed columns, in order; after them come `hour_00` … `hour_23`,
/// then one `disposition:NAME` column per disposition and one
/// `break:REASON` column per break reason that any row has, each sorted.
pub const CSV_FIXED_COLUMNS: [&str; 19] = [
    "by",
    "id",
    "name",
    "offered",
    "answered",
    "abandoned",
    "within_sla",
    "service_level_percent",
    "wait_avg_ms",
    "wait_p90_ms",
    "handled",
    "handle_avg_ms",
    "handle_p90_ms",
    "transfers",
    "available_ms",
    "break_ms",
    "offline_ms",
    "from",
    "to",
];

/// A permille as a percentage with one decimal (`87.5`).
pub fn percent_text(permille: u64) -> String {
    format!("{}.{}", permille / 10, permille % 10)
}

/// A time as the CSV writes it: RFC 3339 in UTC, to the millisecond.
fn utc_text(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| at.to_string())
}

impl Report {
    /// Every disposition any group counts, sorted.
    pub fn disposition_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .groups
            .iter()
            .flat_map(|g| g.figures.dispositions.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Every break reason any group counts, sorted.
    pub fn break_reasons(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .groups
            .iter()
            .flat_map(|g| g.figures.break_ms.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The report as CSV: a header, then one line per group, in
    /// [`CSV_FIXED_COLUMNS`] order (see there); empty cells for figures
    /// that have no value (an average of nothing, no SLA).
    pub fn to_csv(&self) -> Result<Vec<u8>, CsvError> {
        let dispositions = self.disposition_names();
        let reasons = self.break_reasons();
        let mut out = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = CSV_FIXED_COLUMNS.iter().map(|c| c.to_string()).collect();
        header.extend((0..24).map(|h| format!("hour_{h:02}")));
        header.extend(dispositions.iter().map(|d| format!("disposition:{d}")));
        header.extend(reasons.iter().map(|r| format!("break:{r}")));
        out.write_record(&header)?;
        let opt = |v: Option<Millis>| v.map(|v| v.to_string()).unwrap_or_default();
        for g in &self.groups {
            let f = &g.figures;
            let status = |k: &str| f.status_ms.get(k).copied().unwrap_or(0).to_string();
            let mut record = vec![
                self.by.as_str().to_string(),
                g.id.clone(),
                g.name.clone(),
                f.offered.to_string(),
                f.answered.to_string(),
                f.abandoned.to_string(),
                f.within_sla.to_string(),
                f.service_level_permille()
                    .map(percent_text)
                    .unwrap_or_default(),
                opt(f.wait.avg_ms),
                opt(f.wait.p90_ms),
                f.handled.to_string(),
                opt(f.handle.avg_ms),
                opt(f.handle.p90_ms),
                f.transfers.to_string(),
                status("available"),
                status("break"),
                status("offline"),
                utc_text(self.range.from),
                utc_text(self.range.to),
            ];
            record.extend(f.per_hour.iter().map(|n| n.to_string()));
            record.extend(
                dispositions
                    .iter()
                    .map(|d| f.dispositions.get(d).copied().unwrap_or(0).to_string()),
            );
            record.extend(
                reasons
                    .iter()
                    .map(|r| f.break_ms.get(r).copied().unwrap_or(0).to_string()),
            );
            out.write_record(&record)?;
        }
        out.into_inner()
            .map_err(|e| CsvError(csv::Error::from(e.into_error())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::AutoCommit;

    const NOV1: Millis = 1_793_491_200_000; // 2026-11-01T00:00:00Z
    const DEC1: Millis = NOV1 + 30 * DAY_MS;
    const MIN: Millis = 60_000;

    struct Team {
        support: Campaign,
        sales: Campaign,
        ana: AgentId,
        bo: AgentId,
        eve: AgentId,
    }

    fn campaign(name: &str, sla_seconds: u32) -> Campaign {
        Campaign {
            id: CampaignId::new(),
            name: name.into(),
            channel: ChannelKind::Webchat,
            strategy: Strategy::RingAll,
            members: vec![],
            capacity: 0,
            auto_accept: false,
            offer_timeout_seconds: 30,
            dispositions: vec![],
            fields: vec![],
            sla_seconds,
            wrapup_seconds: 0,
            hours: None,
        }
    }

    fn team() -> Team {
        Team {
            support: campaign("Support", 60),
            sales: campaign("Sales", 0),
            ana: AgentId::new(),
            bo: AgentId::new(),
            eve: AgentId::new(),
        }
    }

    fn inbound(campaign: &Campaign, enqueued_at: Millis) -> Interaction {
        Interaction {
            id: InteractionId::new(),
            direction: Direction::Inbound,
            channel: ChannelKind::Webchat,
            origin_campaign: campaign.id,
            contact: None,
            address: "visitor".into(),
            contact_name: "Visitor".into(),
            contact_unverified: false,
            subject: String::new(),
            fields: BTreeMap::new(),
            priority: 0,
            enqueued_at,
            created_at: enqueued_at,
            created_by: None,
            messages: vec![],
            claims: vec![],
            declines: vec![],
            transfers: vec![],
            finalization: None,
            notes: vec![],
            tags: Default::default(),
            snooze: None,
        }
    }

    fn claim(i: &mut Interaction, agent: AgentId, at: Millis) {
        let epoch = i.epoch();
        i.claims.push(Claim {
            agent,
            claimed_at: at,
            epoch,
        });
    }

    fn finalize(i: &mut Interaction, agent: AgentId, at: Millis, disposition: &str) {
        i.finalization = Some(Finalization {
            agent,
            at,
            disposition: disposition.into(),
            note: String::new(),
            wrapup_until: at,
        });
    }

    /// The row as a node derives it: written to a document and read back.
    fn row(i: &Interaction) -> ReportRow {
        let mut doc = AutoCommit::new();
        crate::doc::interaction::create(&mut doc, i).expect("writes");
        let read = crate::doc::interaction::read(&doc).expect("reads");
        ReportRow::of(&read)
    }

    /// Six interactions: answered within and past the SLA, a transfer, one
    /// closed from the queue, one finalized just after the range began and
    /// one queued just before it ended, and an outbound one.
    fn rows(t: &Team) -> Vec<ReportRow> {
        let h9 = NOV1 + 9 * HOUR_MS;
        let mut i1 = inbound(&t.support, h9);
        i1.declines.push(Decline {
            agent: t.bo,
            at: h9 + 10_000,
            epoch: 0,
        });
        claim(&mut i1, t.ana, h9 + 30_000);
        finalize(&mut i1, t.ana, h9 + 30_000 + 5 * MIN, "Resolved");

        let start = h9 + MIN;
        let mut i2 = inbound(&t.support, start);
        claim(&mut i2, t.bo, start + 2 * MIN);
        i2.transfers.push(Transfer {
            from: t.bo,
            to: TransferTarget::Agent(t.ana),
            at: start + 10 * MIN,
            note: String::new(),
            kind: TransferKind::Transfer,
            reason: String::new(),
        });
        claim(&mut i2, t.ana, start + 11 * MIN);
        finalize(&mut i2, t.ana, start + 15 * MIN, "Resolved");

        let h10 = NOV1 + 10 * HOUR_MS;
        let mut i3 = inbound(&t.support, h10);
        finalize(&mut i3, t.eve, h10 + 20 * MIN, "Spam");

        let mut i4 = inbound(&t.sales, NOV1 - 10 * MIN);
        claim(&mut i4, t.ana, NOV1 - 5 * MIN);
        finalize(&mut i4, t.ana, NOV1 + 5 * MIN, "Sold");

        let mut i5 = inbound(&t.sales, DEC1 - MIN);
        claim(&mut i5, t.bo, DEC1 + MIN);

        let noon = NOV1 + DAY_MS + 12 * HOUR_MS;
        let mut i6 = inbound(&t.support, noon);
        i6.direction = Direction::Outbound;
        i6.created_by = Some(t.ana);
        claim(&mut i6, t.ana, noon);
        finalize(&mut i6, t.ana, noon + 2 * MIN, "Resolved");

        [i1, i2, i3, i4, i5, i6].iter().map(row).collect()
    }

    fn report(t: &Team, rows: &[ReportRow], by: Grouping) -> Report {
        let logs = BTreeMap::new();
        let agents = [
            (t.ana, "Ana".to_string()),
            (t.bo, "Bo".to_string()),
            (t.eve, "Eve".to_string()),
        ];
        build(&ReportInput {
            range: Range {
                from: NOV1,
                to: DEC1,
            },
            by,
            campaigns: &[t.support.clone(), t.sales.clone()],
            agents: &agents,
            rows,
            status_logs: &logs,
            data_until: DEC1 + MIN,
        })
    }

    fn group<'r>(r: &'r Report, name: &str) -> &'r Figures {
        &r.groups
            .iter()
            .find(|g| g.name == name)
            .expect("group")
            .figures
    }

    fn hours(pairs: &[(usize, u64)]) -> [u64; 24] {
        let mut h = [0; 24];
        for &(hour, n) in pairs {
            h[hour] = n;
        }
        h
    }

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn by_campaign_each_figure() {
        let t = team();
        let r = report(&t, &rows(&t), Grouping::Campaign);
        let names: Vec<&str> = r.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["Sales", "Support"]);
        let support = group(&r, "Support");
        assert_eq!(
            (support.offered, support.answered, support.abandoned),
            (3, 2, 1),
            "the outbound one and the directed round are not offered to the queue"
        );
        assert_eq!(
            support.wait,
            Durations {
                count: 2,
                avg_ms: Some(75_000),
                p90_ms: Some(120_000)
            }
        );
        assert_eq!((support.within_sla, support.offered_with_sla), (1, 3));
        assert_eq!(support.service_level_permille(), Some(333));
        assert_eq!(support.handled, 3);
        assert_eq!(
            support.handle,
            Durations {
                count: 3,
                avg_ms: Some(220_000),
                p90_ms: Some(300_000)
            }
        );
        assert_eq!(support.transfers, 1);
        assert_eq!(
            support.dispositions,
            counts(&[("Resolved", 3), ("Spam", 1)])
        );
        assert_eq!(support.per_hour, hours(&[(9, 2), (10, 1)]));
        assert!(support.status_ms.is_empty());

        // Sales: one finalized just after the range began (queued before
        // it: handled, not offered), one queued just before it ended and
        // answered after (offered and answered, its wait counted).
        let sales = group(&r, "Sales");
        assert_eq!((sales.offered, sales.answered, sales.abandoned), (1, 1, 0));
        assert_eq!(sales.wait.avg_ms, Some(2 * MIN));
        assert_eq!(sales.service_level_permille(), None, "no SLA");
        assert_eq!(sales.handled, 1);
        assert_eq!(sales.handle.avg_ms, Some(10 * MIN));
        assert_eq!(sales.dispositions, counts(&[("Sold", 1)]));
        assert_eq!(sales.per_hour, hours(&[(23, 1)]));
    }

    #[test]
    fn by_agent_each_figure() {
        let t = team();
        let r = report(&t, &rows(&t), Grouping::Agent);
        let names: Vec<&str> = r.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["Ana", "Bo", "Eve"]);
        let ana = group(&r, "Ana");
        assert_eq!((ana.offered, ana.answered, ana.abandoned), (2, 2, 0));
        assert_eq!(
            ana.wait,
            Durations {
                count: 2,
                avg_ms: Some(45_000),
                p90_ms: Some(60_000)
            }
        );
        assert_eq!(
            ana.service_level_permille(),
            Some(1000),
            "60 s is within 60 s"
        );
        assert_eq!(ana.handled, 4);
        assert_eq!(
            ana.handle,
            Durations {
                count: 4,
                avg_ms: Some(315_000),
                p90_ms: Some(600_000)
            }
        );
        assert_eq!(ana.transfers, 0);
        assert_eq!(ana.dispositions, counts(&[("Resolved", 3), ("Sold", 1)]));
        assert_eq!(ana.per_hour, hours(&[(9, 2)]));

        let bo = group(&r, "Bo");
        assert_eq!(
            (bo.offered, bo.answered),
            (3, 2),
            "declined one, answered two"
        );
        assert_eq!(bo.wait.avg_ms, Some(2 * MIN));
        assert_eq!((bo.within_sla, bo.offered_with_sla), (0, 2));
        assert_eq!(bo.service_level_permille(), Some(0));
        assert_eq!((bo.handled, bo.transfers), (0, 1));
        assert_eq!(bo.per_hour, hours(&[(9, 2), (23, 1)]));

        let eve = group(&r, "Eve");
        assert_eq!((eve.offered, eve.handled), (0, 0));
        assert_eq!(
            eve.dispositions,
            counts(&[("Spam", 1)]),
            "closed from the queue"
        );
    }

    #[test]
    fn status_time_is_clipped_to_the_range_and_the_data() {
        let ana = AgentId::new();
        let change = |at, status| StatusChange { at, status };
        let lunch = AgentStatus::Break {
            reason: "Lunch".into(),
        };
        let log = vec![
            change(NOV1 - 2 * HOUR_MS, AgentStatus::Available),
            change(NOV1 + 12 * HOUR_MS, lunch.clone()),
            change(NOV1 + 13 * HOUR_MS, AgentStatus::Available),
            change(NOV1 + 18 * HOUR_MS, AgentStatus::Offline),
        ];
        let logs = BTreeMap::from([(ana, log)]);
        let input = |data_until| ReportInput {
            range: Range {
                from: NOV1,
                to: DEC1,
            },
            by: Grouping::Agent,
            campaigns: &[],
            agents: &[],
            rows: &[],
            status_logs: &logs,
            data_until,
        };
        let r = build(&input(DEC1 + DAY_MS));
        assert_eq!(r.status_until, DEC1);
        let f = &r.groups[0].figures;
        assert_eq!(f.status_ms["available"], 17 * HOUR_MS);
        assert_eq!(f.status_ms["break"], HOUR_MS);
        assert_eq!(f.status_ms["offline"], 29 * DAY_MS + 6 * HOUR_MS);
        assert_eq!(f.break_ms["Lunch"], HOUR_MS);

        // The newest thing recorded was at 20:00: the last status counts
        // until then, not until the range's end (nor "now").
        let r = build(&input(NOV1 + 20 * HOUR_MS));
        assert_eq!(r.status_until, NOV1 + 20 * HOUR_MS);
        assert_eq!(r.groups[0].figures.status_ms["offline"], 2 * HOUR_MS);
    }

    #[test]
    fn percentiles_at_the_edges() {
        assert_eq!(Durations::of(vec![]), Durations::default());
        let one = Durations::of(vec![7]);
        assert_eq!((one.avg_ms, one.p90_ms), (Some(7), Some(7)));
        assert_eq!(Durations::of(vec![2, 1]).avg_ms, Some(1), "rounded down");
        let ten = Durations::of((1..=10).rev().collect());
        assert_eq!(ten.p90_ms, Some(9), "nearest rank: the 9th of 10");
        assert_eq!(Durations::of((1..=11).collect()).p90_ms, Some(10));
        assert_eq!(Durations::of((1..=20).collect()).p90_ms, Some(18));
        assert_eq!(Durations::of(vec![5; 3]).p90_ms, Some(5));
    }

    #[test]
    fn csv_has_one_column_order_and_the_same_bytes_whatever_the_row_order() {
        let t = team();
        let mut rows = rows(&t);
        let csv = report(&t, &rows, Grouping::Campaign).to_csv().expect("csv");
        rows.reverse();
        let again = report(&t, &rows, Grouping::Campaign).to_csv().expect("csv");
        assert_eq!(csv, again);
        let text = String::from_utf8(csv).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let header: Vec<&str> = lines[0].split(',').collect();
        assert_eq!(&header[..19], CSV_FIXED_COLUMNS);
        assert_eq!(header[19], "hour_00");
        assert_eq!(header[42], "hour_23");
        assert_eq!(
            &header[43..],
            [
                "disposition:Resolved",
                "disposition:Sold",
                "disposition:Spam"
            ]
        );
        let support = lines[2];
        let id = t.support.id;
        let mut hours = ["0"; 24];
        hours[9] = "2";
        hours[10] = "1";
        assert_eq!(
            support,
            format!(
                "campaign,{id},Support,3,2,1,1,33.3,75000,120000,3,220000,300000,1,0,0,0,\
                 2026-11-01T00:00:00.000Z,2026-12-01T00:00:00.000Z,{},3,0,1",
                hours.join(",")
            )
        );
        assert!(lines[1].contains(",Sales,1,1,0,0,,120000,120000,1,600000,600000,0,"));
    }
}
