//! Snoozes and callbacks: the owner sets an active interaction aside until
//! a time; it is out of their Active until then and comes back with a notice.
//!
//! Coming due is a pure function of the document and the clock
//! (`Interaction::snoozed`, `InteractionSummary::snoozed_at`): nobody writes
//! at the due time, so every node agrees whichever of them is running. It
//! comes back to its owner; if they are away it waits in their Active like
//! the rest of their work, where a supervisor can pull it back.

use super::{Executor, InteractionRow, OpError, OpResult, Outcome, Reply, done};
use crate::bounds::{MAX_SNOOZE_MS, MAX_SNOOZE_NOTE_CHARS};
use crate::doc;
use crate::ids::*;
use crate::store::LocalMarks;
use crate::types::*;
use crate::validate;

impl Executor<'_, '_> {
    pub(super) fn snooze(
        &mut self,
        id: InteractionId,
        until: Millis,
        kind: SnoozeKind,
        note: Option<&str>,
    ) -> OpResult<Outcome> {
        if until <= self.ctx.now {
            return Err(OpError::SnoozeNotAhead);
        }
        if until - self.ctx.now > MAX_SNOOZE_MS {
            return Err(OpError::SnoozeTooFar {
                days: MAX_SNOOZE_MS / (24 * 60 * 60 * 1000),
            });
        }
        let note = validate::bounded("the note", note.unwrap_or("").trim(), MAX_SNOOZE_NOTE_CHARS)?;
        let (i, _) = self.interaction_head(id)?;
        self.require_owner(&i, "snoozing")?;
        let s = Snooze {
            agent: self.me.agent,
            epoch: i.epoch(),
            at: self.ctx.now,
            until,
            kind,
            note,
        };
        self.write_interaction(i.id, move |d| doc::interaction::snooze(d, Some(&s)))
    }

    pub(super) fn unsnooze(&mut self, id: InteractionId) -> OpResult<Outcome> {
        let (i, _) = self.interaction_head(id)?;
        self.require_owner(&i, "unsnoozing")?;
        if !i.snoozed().is_some_and(|s| s.pending_at(self.ctx.now)) {
            return Err(OpError::NotSnoozed(i.id));
        }
        self.write_interaction(i.id, |d| doc::interaction::snooze(d, None))
    }

    /// This agent's snoozes that came due and this device has not announced
    /// yet, soonest first; marks them announced, so each due time is
    /// announced once per device, whenever the device is next running.
    pub(super) fn take_due_snoozes(&mut self) -> OpResult<Outcome> {
        let now = self.ctx.now;
        let names = self.agent_names()?;
        let mut due: Vec<InteractionRow> = Vec::new();
        for s in self
            .store
            .active_page_of(self.me.agent, 0, usize::MAX)?
            .rows
        {
            let Some(z) = s.snooze.as_ref() else {
                continue;
            };
            if z.pending_at(now) || self.store.snooze_announced(s.id, z.until)? {
                continue;
            }
            due.push(self.row(s, &names, None)?);
        }
        due.sort_by_key(|r| (r.summary.snooze.as_ref().map(|z| z.until), r.summary.id));
        let marks: Vec<(InteractionId, Millis)> = due
            .iter()
            .filter_map(|r| r.summary.snooze.as_ref().map(|z| (r.summary.id, z.until)))
            .collect();
        self.store.mark_snoozes_announced(&marks)?;
        done(Reply::Interactions(due), vec![])
    }
}
