//! Printing replies: readable tables, or one JSON document with `--json`.

use std::collections::BTreeMap;

use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use meshdesk_model::ops::{ChatTarget, InteractionDetail, InteractionRow, Reply};
use meshdesk_model::store::Page;
use meshdesk_model::{AgentId, Author, Millis, now_ms};

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

/// "3m ago", "in 20s": how long from now.
pub fn relative(at: Millis) -> String {
    let delta = (now_ms() - at) / 1000;
    let (n, future) = if delta >= 0 {
        (delta, false)
    } else {
        (-delta, true)
    };
    let text = match n {
        0..=59 => format!("{n}s"),
        60..=3599 => format!("{}m", n / 60),
        3600..=86_399 => format!("{}h", n / 3600),
        _ => format!("{}d", n / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

pub fn clock(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

fn name(names: &std::collections::BTreeMap<AgentId, String>, id: AgentId) -> String {
    names.get(&id).cloned().unwrap_or_else(|| id.to_string())
}

/// "Rows 11–20 of 345." under one page of a list.
fn page_line<T>(page: &Page<T>) -> String {
    if page.rows.is_empty() {
        return format!(
            "No rows from {} on; {} in all.",
            page.offset + 1,
            page.total
        );
    }
    format!(
        "Rows {}–{} of {}.",
        page.offset + 1,
        page.offset + page.rows.len(),
        page.total
    )
}

fn interaction_rows(rows: &[InteractionRow]) -> String {
    if rows.is_empty() {
        return "No interactions.".into();
    }
    let mut t = table(&[
        "ID",
        "STATE",
        "CAMPAIGN",
        "CONTACT",
        "LAST MESSAGE",
        "ACTIVITY",
        "UNREAD",
    ]);
    for r in rows {
        let s = &r.summary;
        let mut state = r.state.as_str().to_string();
        if let Some(owner) = &r.owner_name {
            state = format!("{state} ({owner})");
        }
        if let Some(z) = s.snooze.as_ref().filter(|z| z.pending_at(now_ms())) {
            state = format!("{state}, {}", snooze_line(z));
        }
        t.add_row(vec![
            s.id.to_string(),
            state,
            r.campaign_name.clone(),
            format!("{} <{}>", s.contact_name, s.address),
            s.last_message_preview.clone(),
            relative(s.last_activity),
            r.unread.to_string(),
        ]);
    }
    t.to_string()
}

/// "snoozed until 2026-12-03 09:00:00 (in 2h)" or "callback at …".
fn snooze_line(z: &meshdesk_model::Snooze) -> String {
    let what = match z.kind {
        meshdesk_model::SnoozeKind::Snooze => "snoozed until",
        meshdesk_model::SnoozeKind::Callback => "callback at",
    };
    let mut line = format!("{what} {} ({})", clock(z.until), relative(z.until));
    if !z.note.is_empty() {
        line.push_str(&format!(": {}", z.note));
    }
    line
}

fn interaction_detail(d: &InteractionDetail) -> String {
    let i = &d.interaction;
    let names = &d.agent_names;
    let mut out = String::new();
    let campaign = d.campaign.as_ref().map(|c| c.name.as_str()).unwrap_or("?");
    out.push_str(&format!("Interaction {}\n", i.id));
    out.push_str(&format!("  state:     {}\n", d.state.as_str()));
    out.push_str(&format!(
        "  campaign:  {campaign} ({} {})\n",
        i.channel, i.direction
    ));
    out.push_str(&format!(
        "  contact:   {} <{}>{}\n",
        i.contact_name,
        i.address,
        if i.contact_unverified {
            " (linked by an email the visitor typed: unverified)"
        } else {
            ""
        }
    ));
    if !i.subject.is_empty() {
        out.push_str(&format!("  subject:   {}\n", i.subject));
    }
    if let Some(owner) = d.owner {
        out.push_str(&format!("  owner:     {}\n", name(names, owner)));
    }
    // Only while it is still set aside: once due it is plainly active.
    if let Some(z) = i.snoozed().filter(|z| z.pending_at(now_ms())) {
        out.push_str(&format!("  snooze:    {}\n", snooze_line(z)));
    }
    for lost in &d.lost_claims {
        out.push_str(&format!(
            "  lost claim: {} (read-only)\n",
            name(names, *lost)
        ));
    }
    out.push_str(&format!(
        "  enqueued:  {} ({})\n",
        clock(i.enqueued_at),
        relative(i.enqueued_at)
    ));
    for (k, v) in &i.fields {
        out.push_str(&format!("  {k}: {v}\n"));
    }
    if !i.tags.is_empty() {
        out.push_str(&format!(
            "  tags:      {}\n",
            i.tags.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    out.push_str("\nMessages:\n");
    if i.messages.is_empty() {
        out.push_str("  (none)\n");
    }
    for m in i.messages_in_order() {
        let author = match &m.author {
            Author::Agent(a) => name(names, *a),
            Author::Contact => i.contact_name.clone(),
            Author::System => "system".into(),
        };
        out.push_str(&format!("  [{}] {author}: {}\n", clock(m.at), m.body));
        for f in &m.attachments {
            out.push_str(&format!(
                "      file: {} ({}, {} bytes) {}\n",
                f.name, f.mime, f.size, f.hash
            ));
        }
    }
    if !i.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in &i.notes {
            out.push_str(&format!(
                "  [{}] {}: {}\n",
                clock(n.at),
                name(names, n.agent),
                n.text
            ));
        }
    }
    if !i.transfers.is_empty() {
        out.push_str("\nTransfers:\n");
        for (n, t) in i.transfers.iter().enumerate() {
            if let Some(line) = i.take_back_line(n, |a| name(names, a)) {
                out.push_str(&format!("  [{}] {line}\n", clock(t.at)));
                continue;
            }
            let to = match t.to {
                meshdesk_model::TransferTarget::Agent(a) => name(names, a),
                meshdesk_model::TransferTarget::Campaign(c) => {
                    format!("campaign {c}")
                }
            };
            out.push_str(&format!(
                "  [{}] {} → {to}: {}\n",
                clock(t.at),
                name(names, t.from),
                t.note
            ));
        }
    }
    if let Some(f) = &i.finalization {
        out.push_str(&format!(
            "\nFinalized by {} at {}: {}",
            name(names, f.agent),
            clock(f.at),
            f.disposition
        ));
        if !f.note.is_empty() {
            out.push_str(&format!(" — {}", f.note));
        }
        out.push('\n');
    }
    out
}

/// The text shown for a reply.
pub fn text(reply: &Reply) -> String {
    match reply {
        Reply::Done => "Done.".into(),
        Reply::Text(text) => text.clone(),
        Reply::Canned(list) => {
            if list.is_empty() {
                return "No canned responses.".into();
            }
            let mut t = table(&["CODE", "CAMPAIGN", "BODY", "ID"]);
            for c in list {
                t.add_row(vec![
                    format!("/{}", c.code),
                    c.campaign.map_or("all".into(), |c| c.to_string()),
                    c.body.clone(),
                    c.id.to_string(),
                ]);
            }
            t.to_string()
        }
        Reply::Created { id } => id.clone(),
        Reply::Team(o) => {
            let mut t = table(&["AGENT", "ID", "STATUS", "ROLE"]);
            for a in &o.agents {
                let role = o.team.role_of(a.id).map(|r| r.as_str()).unwrap_or("-");
                let me = if a.id == o.me.agent { " (you)" } else { "" };
                t.add_row(vec![
                    format!("{}{me}", a.name),
                    a.id.to_string(),
                    a.status.label(),
                    role.to_string(),
                ]);
            }
            let campaigns: Vec<String> =
                o.team.campaigns.values().map(|c| c.name.clone()).collect();
            format!(
                "Team {} ({})\nCampaigns: {}\n{t}",
                o.team.name,
                o.team.id,
                campaigns.join(", ")
            )
        }
        Reply::Campaigns(list) => {
            let mut t = table(&[
                "NAME",
                "CHANNEL",
                "STRATEGY",
                "MEMBERS",
                "CAPACITY",
                "AUTO-ACCEPT",
            ]);
            for c in list {
                t.add_row(vec![
                    c.name.clone(),
                    c.channel.to_string(),
                    c.strategy.to_string(),
                    c.members.len().to_string(),
                    if c.capacity == 0 {
                        "-".into()
                    } else {
                        c.capacity.to_string()
                    },
                    if c.auto_accept {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                ]);
            }
            t.to_string()
        }
        Reply::Campaign(c) => {
            let fields: Vec<String> = c
                .fields
                .iter()
                .map(|f| {
                    if f.required {
                        format!("{}*", f.name)
                    } else {
                        f.name.clone()
                    }
                })
                .collect();
            format!(
                "Campaign {} ({})\n  channel:      {}\n  strategy:     {}\n  members:      {}\n  capacity:     {}\n  auto-accept:  {}\n  offer timeout: {}s\n  dispositions: {}\n  fields:       {}\n  SLA:          {}s\n  wrap-up:      {}s",
                c.name,
                c.id,
                c.channel,
                c.strategy,
                c.members
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                c.capacity,
                c.auto_accept,
                c.offer_timeout_seconds,
                c.dispositions.join(", "),
                if fields.is_empty() {
                    "-".into()
                } else {
                    fields.join(", ")
                },
                c.sla_seconds,
                c.wrapup_seconds
            )
        }
        Reply::ContactPage(page) => {
            let rows = text(&Reply::Contacts(page.rows.clone()));
            format!("{rows}\n{}", page_line(page))
        }
        Reply::InteractionPage(page) => {
            format!("{}\n{}", interaction_rows(&page.rows), page_line(page))
        }
        Reply::Contacts(list) => {
            if list.is_empty() {
                return "No contacts.".into();
            }
            let mut t = table(&["ID", "NAME", "PHONES", "EMAILS", "COMPANY", "TAGS"]);
            for c in list {
                t.add_row(vec![
                    c.id.to_string(),
                    c.name.clone(),
                    c.phones.join(", "),
                    c.emails.join(", "),
                    c.company.clone(),
                    c.tags.iter().cloned().collect::<Vec<_>>().join(", "),
                ]);
            }
            t.to_string()
        }
        Reply::Contact {
            contact,
            interactions,
            absorbed,
        } => {
            let c = contact.combined(absorbed);
            let mut out = format!(
                "Contact {} ({})\n  phones:  {}\n  emails:  {}\n  company: {}\n  tags:    {}\n  notes:   {}\n",
                c.name,
                c.id,
                c.phones.join(", "),
                c.emails.join(", "),
                c.company,
                c.tags.iter().cloned().collect::<Vec<_>>().join(", "),
                c.notes
            );
            if !absorbed.is_empty() {
                out.push_str(&format!("\nMerged from ({}):\n", absorbed.len()));
                for a in absorbed {
                    out.push_str(&format!(
                        "  {} {} (unmerge: meshdesk contact unmerge {})\n",
                        a.id, a.name, a.id
                    ));
                }
            }
            out.push_str(&format!("\nInteractions ({}):\n", interactions.len()));
            for s in interactions {
                out.push_str(&format!(
                    "  {} {} {} {}\n",
                    s.id,
                    clock(s.created_at),
                    s.channel,
                    s.last_message_preview
                ));
            }
            out
        }
        Reply::Interactions(rows) => interaction_rows(rows),
        Reply::Interaction(d) => interaction_detail(d),
        Reply::Explanations(list) => {
            if list.is_empty() {
                return "Nothing is queued.".into();
            }
            let mut out = String::new();
            for e in list {
                let campaign = e
                    .campaign_name
                    .clone()
                    .unwrap_or_else(|| e.campaign.to_string());
                let strategy = e
                    .strategy
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "?".into());
                out.push_str(&format!(
                    "#{} {} in {campaign} ({strategy}), priority {}, queued {}\n",
                    e.position,
                    e.interaction,
                    e.priority,
                    relative(e.enqueued_at)
                ));
                if e.round_again {
                    out.push_str("  every eligible member had declined: offering round again\n");
                }
                for c in &e.candidates {
                    let rank = c
                        .rank
                        .map(|r| format!("{r}."))
                        .unwrap_or_else(|| "-".into());
                    let who = if c.name.is_empty() {
                        c.agent.to_string()
                    } else {
                        c.name.clone()
                    };
                    out.push_str(&format!("  {rank:>3} {who}: {}\n", c.verdict));
                }
            }
            out
        }
        Reply::Chat(view) => {
            let mut out = format!("{}\n", view.title);
            if view.messages.is_empty() {
                out.push_str("  (no messages)\n");
            }
            for m in &view.messages {
                out.push_str(&format!(
                    "  [{}] {}: {}\n",
                    clock(m.at),
                    name(&view.agent_names, m.author),
                    m.body
                ));
            }
            out
        }
        Reply::Rooms(rooms) => {
            let mut t = table(&["ROOM", "MESSAGES", "UNREAD", "LAST"]);
            for r in rooms {
                t.add_row(vec![
                    r.summary.room.key(),
                    r.summary.message_count.to_string(),
                    r.unread.to_string(),
                    r.summary.last_message_preview.clone(),
                ]);
            }
            t.to_string()
        }
        Reply::Mentions(rows) => {
            if rows.is_empty() {
                return "No mentions.".into();
            }
            let mut t = table(&["", "WHEN", "FROM", "WHERE", "TEXT", "OPEN WITH"]);
            for m in rows {
                let open = match (&m.chat, m.interaction()) {
                    (Some(ChatTarget::Agent(a)), _) => format!("chat show --agent '{a}'"),
                    (Some(ChatTarget::Campaign(c)), _) => format!("chat show --campaign '{c}'"),
                    (None, Some(id)) => format!("interaction show {id}"),
                    (None, None) => String::new(),
                };
                t.add_row(vec![
                    if m.seen { "" } else { "new" }.to_string(),
                    clock(m.at),
                    m.author_name.clone(),
                    m.title.clone(),
                    m.text.split_whitespace().collect::<Vec<_>>().join(" "),
                    open,
                ]);
            }
            t.to_string()
        }
        Reply::Tags(tags) => {
            if tags.is_empty() {
                return "No tags in use.".into();
            }
            let mut t = table(&["TAG", "INTERACTIONS", "CONTACTS"]);
            for u in tags {
                t.add_row(vec![
                    u.tag.clone(),
                    u.interactions.to_string(),
                    u.contacts.to_string(),
                ]);
            }
            t.to_string()
        }
        Reply::Report(report) => report_text(report),
        Reply::Board(board) => board_text(board),
        Reply::Mailbox { mailbox: None, .. } => "No mailbox set for this campaign.".into(),
        Reply::Mailbox {
            mailbox: Some(m), ..
        } => {
            let fetchers: Vec<&str> = m.fetchers.iter().map(String::as_str).collect();
            format!(
                "address  {}\nIMAP     {}:{} ({}) as {}\nSMTP     {}:{} ({}) as {}\nfetchers {}",
                m.address,
                m.imap.host,
                m.imap.port,
                m.imap.tls,
                m.imap.user,
                m.smtp.host,
                m.smtp.port,
                m.smtp.tls,
                m.smtp.user,
                if fetchers.is_empty() {
                    "none".to_string()
                } else {
                    fetchers.join(", ")
                }
            )
        }
        Reply::MailHighWater(uid) => match uid {
            Some(uid) => format!("UID {uid}"),
            None => "No mail of this mailbox is held yet.".into(),
        },
        Reply::MailThread(thread) => {
            format!("{} ({} messages)", thread.subject, thread.messages.len())
        }
        Reply::Status(agent) => {
            format!(
                "{}: {} since {}",
                agent.name,
                agent.status.label(),
                relative(agent.status_since)
            )
        }
    }
}

/// A length of time as a report shows it: `0.4s`, `45.0s`, `3m 05s`, `2h 03m`.
pub fn length(ms: Millis) -> String {
    let ms = ms.max(0);
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}.{}s", ms % 1000 / 100),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

fn utc_day(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A report as tables: the figures, then dispositions and (by agent) time
/// per status and break reason. Per-hour counts are in the JSON and CSV.
fn board_text(b: &meshdesk_model::board::Board) -> String {
    use meshdesk_model::report::percent_text;
    let opt = |v: Option<Millis>| v.map(length).unwrap_or_else(|| "—".into());
    let mut campaigns = table(&[
        "CAMPAIGN",
        "WAITING",
        "LONGEST WAIT",
        "OFFERED",
        "ANSWERED",
        "ABANDONED",
        "SERVICE LEVEL",
        "LOGGED IN",
    ]);
    for c in &b.campaigns {
        let sl = match (c.service_level_permille, c.sla_seconds) {
            (Some(p), sla) => format!("{}% (target {sla} s)", percent_text(p)),
            (None, 0) => "—".into(),
            (None, sla) => format!("— (target {sla} s)"),
        };
        campaigns.add_row(vec![
            c.name.clone(),
            c.waiting.to_string(),
            opt(c.longest_wait_ms),
            c.offered_today.to_string(),
            c.answered_today.to_string(),
            c.abandoned_today.to_string(),
            sl,
            c.agents_logged_in.to_string(),
        ]);
    }
    let mut agents = table(&["AGENT", "STATUS", "FOR", "ACTIVE", "HANDLED", "HANDLE AVG"]);
    for a in &b.agents {
        let load = match a.capacity {
            0 => a.active.to_string(),
            cap => format!("{} / {cap}", a.active),
        };
        agents.add_row(vec![
            a.name.clone(),
            a.status.label(),
            length(a.status_for_ms),
            load,
            a.handled_today.to_string(),
            opt(a.handle_avg_ms),
        ]);
    }
    let names: BTreeMap<_, _> = b.agents.iter().map(|a| (a.id, a.name.as_str())).collect();
    let campaign_names: BTreeMap<_, _> = b
        .campaigns
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let mut working = table(&["INTERACTION", "AGENT", "CUSTOMER", "CAMPAIGN", "FOR"]);
    for w in &b.working {
        working.add_row(vec![
            w.id.to_string(),
            names.get(&w.owner).copied().unwrap_or("?").to_string(),
            w.customer.clone(),
            campaign_names
                .get(&w.campaign)
                .copied()
                .unwrap_or("?")
                .to_string(),
            length(w.held_for_ms),
        ]);
    }
    format!(
        "Today (UTC), by campaign\n{campaigns}\nAgents now\n{agents}\nWith agents now (`interaction pull ID` takes one back)\n{working}"
    )
}

fn report_text(r: &meshdesk_model::report::Report) -> String {
    use meshdesk_model::report::{Grouping, percent_text};
    let opt = |v: Option<Millis>| v.map(length).unwrap_or_else(|| "—".into());
    let by = match r.by {
        Grouping::Campaign => "CAMPAIGN",
        Grouping::Agent => "AGENT",
    };
    let mut t = table(&[
        by,
        "OFFERED",
        "ANSWERED",
        "ABANDONED",
        "SERVICE LEVEL",
        "WAIT AVG",
        "WAIT P90",
        "HANDLED",
        "HANDLE AVG",
        "HANDLE P90",
        "TRANSFERS",
    ]);
    for g in &r.groups {
        let f = &g.figures;
        t.add_row(vec![
            g.name.clone(),
            f.offered.to_string(),
            f.answered.to_string(),
            f.abandoned.to_string(),
            f.service_level_permille()
                .map(|p| format!("{}%", percent_text(p)))
                .unwrap_or_else(|| "—".into()),
            opt(f.wait.avg_ms),
            opt(f.wait.p90_ms),
            f.handled.to_string(),
            opt(f.handle.avg_ms),
            opt(f.handle.p90_ms),
            f.transfers.to_string(),
        ]);
    }
    let mut out = format!(
        "Report by {}, {} to {}\n{t}",
        r.by.as_str(),
        utc_day(r.range.from),
        utc_day(r.range.to)
    );
    let dispositions = r.disposition_names();
    if !dispositions.is_empty() {
        let mut header = vec![by.to_string()];
        header.extend(dispositions.iter().cloned());
        let mut t = Table::new();
        t.load_preset(UTF8_BORDERS_ONLY)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(header);
        for g in &r.groups {
            let mut row = vec![g.name.clone()];
            row.extend(dispositions.iter().map(|d| {
                g.figures
                    .dispositions
                    .get(d)
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            }));
            t.add_row(row);
        }
        out.push_str(&format!("\nDispositions\n{t}"));
    }
    if r.by == Grouping::Agent {
        let reasons = r.break_reasons();
        let mut header = vec![
            by.to_string(),
            "AVAILABLE".into(),
            "BREAK".into(),
            "OFFLINE".into(),
        ];
        header.extend(reasons.iter().map(|b| {
            if b.is_empty() {
                "BREAK (NO REASON)".to_string()
            } else {
                format!("BREAK: {b}")
            }
        }));
        let mut t = Table::new();
        t.load_preset(UTF8_BORDERS_ONLY)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(header);
        for g in &r.groups {
            let f = &g.figures;
            let status = |k: &str| length(f.status_ms.get(k).copied().unwrap_or(0));
            let mut row = vec![
                g.name.clone(),
                status("available"),
                status("break"),
                status("offline"),
            ];
            row.extend(
                reasons
                    .iter()
                    .map(|b| length(f.break_ms.get(b).copied().unwrap_or(0))),
            );
            t.add_row(row);
        }
        out.push_str(&format!(
            "\nTime per status (until {})\n{t}",
            utc_day(r.status_until)
        ));
    }
    out
}

/// The JSON shown for a reply with `--json`: the reply's value alone.
pub fn json(reply: &Reply) -> serde_json::Value {
    let full = serde_json::to_value(reply).unwrap_or(serde_json::Value::Null);
    match full.get("value") {
        Some(v) => v.clone(),
        None => serde_json::json!({ "ok": true }),
    }
}
