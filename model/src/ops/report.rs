//! `Report`: the team lead's figures over a date range, read from the
//! projections (see `crate::report`).

use super::*;
use crate::report::{self, Grouping, Range, ReportInput};

impl Executor<'_, '_> {
    /// Everyone sees the report by campaign (the team's figures, as a
    /// wallboard shows them); by agent, a supervisor sees every agent and
    /// an agent only their own row (a teammate's figures are theirs and
    /// their supervisor's).
    pub(super) fn report(&self, range: Range, by: Grouping) -> OpResult<Outcome> {
        if range.to <= range.from {
            return Err(OpError::EmptyRange);
        }
        let supervisor = self.team.role_of(self.me.agent) == Some(Role::Supervisor);
        let mut report = self.build_report(range, by)?;
        if !supervisor && by == Grouping::Agent {
            let me = self.me.agent.to_string();
            report.groups.retain(|g| g.id == me);
        }
        done(Reply::Report(Box::new(report)), vec![])
    }

    /// The live board (supervisors): the open interactions, the agents,
    /// and today's report (UTC) both ways.
    pub(super) fn board(&self) -> OpResult<Outcome> {
        self.require_supervisor("see the board")?;
        let now = self.ctx.now;
        let from = now - now.rem_euclid(crate::report::DAY_MS);
        let today = Range {
            from,
            to: from + crate::report::DAY_MS,
        };
        // One read of today's rows and the agents serves both groupings;
        // the board shows no time per status, so no status logs.
        let data = self.store.report_data_with(today, false)?;
        let agents: Vec<Agent> = self.store.agent_rows()?;
        let names: Vec<(AgentId, String)> = agents.iter().map(|a| (a.id, a.name.clone())).collect();
        let campaigns: Vec<Campaign> = self.team.campaigns.values().cloned().collect();
        let build = |by| {
            report::build(&ReportInput {
                range: today,
                by,
                campaigns: &campaigns,
                agents: &names,
                rows: &data.rows,
                status_logs: &data.status_logs,
                data_until: data.data_until,
            })
        };
        let (by_campaign, by_agent) = (build(Grouping::Campaign), build(Grouping::Agent));
        let open = self.store.open_heads()?;
        let board = crate::board::build(&crate::board::BoardInput {
            now,
            team: &self.team,
            agents: &agents,
            open: &open,
            today_by_campaign: &by_campaign,
            today_by_agent: &by_agent,
        });
        done(Reply::Board(Box::new(board)), vec![])
    }

    fn build_report(&self, range: Range, by: Grouping) -> OpResult<report::Report> {
        let data = self.store.report_data(range)?;
        let campaigns: Vec<Campaign> = self.team.campaigns.values().cloned().collect();
        let agents: Vec<(AgentId, String)> = self
            .store
            .agents()?
            .into_values()
            .map(|a| (a.id, a.name))
            .collect();
        Ok(report::build(&ReportInput {
            range,
            by,
            campaigns: &campaigns,
            agents: &agents,
            rows: &data.rows,
            status_logs: &data.status_logs,
            data_until: data.data_until,
        }))
    }
}
