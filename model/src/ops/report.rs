//! `Report`: the team lead's figures over a date range, read from the
//! projections (see `crate::report`).

use super::*;
use crate::report::{self, Grouping, Range, ReportInput};

impl Executor<'_, '_> {
    /// Supervisors see every campaign and agent. An agent sees only their
    /// own row by agent: a campaign's figures are the whole team's work.
    pub(super) fn report(&self, range: Range, by: Grouping) -> OpResult<Outcome> {
        if range.to <= range.from {
            return Err(OpError::EmptyRange);
        }
        let supervisor = self.team.role_of(self.me.agent) == Some(Role::Supervisor);
        if !supervisor && by == Grouping::Campaign {
            return Err(OpError::NotSupervisor(
                "see a report by campaign (agents see their own row by agent)",
            ));
        }
        let data = self.store.report_data(range)?;
        let campaigns: Vec<Campaign> = self.team.campaigns.values().cloned().collect();
        let agents: Vec<(AgentId, String)> = self
            .store
            .agents()?
            .into_values()
            .map(|a| (a.id, a.name))
            .collect();
        let mut report = report::build(&ReportInput {
            range,
            by,
            campaigns: &campaigns,
            agents: &agents,
            rows: &data.rows,
            status_logs: &data.status_logs,
            data_until: data.data_until,
        });
        if !supervisor {
            let me = self.me.agent.to_string();
            report.groups.retain(|g| g.id == me);
        }
        done(Reply::Report(Box::new(report)), vec![])
    }
}
