//! The Team tab, as a team lead uses it (iced_test's simulator over a real
//! node and store): a campaign edited and added, an agent promoted and
//! moved between campaigns, break reasons, a canned response and an invite
//! with its QR code, cancelled. Each form refuses a bad value with its
//! reason and writes nothing.

mod support;

use meshdesk::gui::screen::admin::{agents, breaks, campaigns, canned, invites};
use meshdesk::gui::{Shortcut, TabId, theme};
use meshdesk_model::ops::{Request, TeamOverview};
use meshdesk_model::{Campaign, Role};
use support::{Demo, TestResult, Ui};

fn orders(ui: &mut Ui) -> Result<Campaign, String> {
    ui.ask(Request::ShowCampaign {
        name: "Orders".into(),
    })
}

fn team(ui: &mut Ui) -> Result<TeamOverview, String> {
    ui.ask(Request::ShowTeam)
}

#[test]
fn a_supervisor_edits_and_adds_campaigns_and_a_bad_value_writes_nothing() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    let mut failures = Vec::new();
    ui.shortcut(Shortcut::Tab(TabId::Team));
    assert_eq!(ui.app.tab(), Some(TabId::Team));
    ui.assert_sees("Pick a campaign to change it");
    ui.click("Orders");
    ui.assert_sees("Members, in routing order");
    ui.assert_sees("Save campaign");
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("admin-campaign-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    let before = orders(&mut ui)?;

    // Refused in the form: not a number.
    ui.clear(campaigns::SLA_ID);
    ui.type_into(campaigns::SLA_ID, "soon");
    ui.click("Save campaign");
    ui.assert_sees("The SLA must be a whole number, not “soon”.");
    // Refused by the node: another campaign's name.
    ui.clear(campaigns::SLA_ID);
    ui.type_into(campaigns::SLA_ID, "45");
    ui.clear(campaigns::NAME_ID);
    ui.type_into(campaigns::NAME_ID, "General");
    ui.click("Save campaign");
    ui.assert_sees("campaign `General` already exists");
    assert_eq!(orders(&mut ui)?, before, "a refused edit wrote something");

    // Carla joins the routing order, the SLA changes; the rest stays.
    ui.clear(campaigns::NAME_ID);
    ui.type_into(campaigns::NAME_ID, "Orders");
    ui.click("Carla");
    ui.click("Save campaign");
    ui.assert_sees("Saved campaign Orders.");
    let after = orders(&mut ui)?;
    assert_eq!(after.sla_seconds, 45);
    assert_eq!(after.members.len(), 3, "{after:?}");
    assert_eq!(after.dispositions, before.dispositions);
    assert_eq!(after.fields, before.fields);

    // Business hours: a zone that is none is refused by the node; then
    // weekdays in Madrid with the widget's closed message.
    ui.type_into(campaigns::HOURS_ID, "mon-fri 09:00-18:00");
    ui.clear(campaigns::ZONE_ID);
    ui.type_into(campaigns::ZONE_ID, "Mars/Olympus");
    ui.type_into(campaigns::CLOSED_ID, "Closed: we answer from 9.");
    ui.click("Save campaign");
    ui.assert_sees("unknown time zone `Mars/Olympus`");
    assert_eq!(orders(&mut ui)?.hours, None);
    ui.clear(campaigns::ZONE_ID);
    ui.type_into(campaigns::ZONE_ID, "Europe/Madrid");
    ui.click("Save campaign");
    ui.assert_sees("Saved campaign Orders.");
    let hours = orders(&mut ui)?.hours.ok_or("no hours")?;
    assert_eq!(hours.zone, "Europe/Madrid");
    assert_eq!(hours.week, "mon-fri 09:00-18:00");
    assert_eq!(hours.closed_message, "Closed: we answer from 9.");

    // A new campaign needs a channel before anything is sent.
    ui.click("New campaign…");
    ui.type_into(campaigns::NAME_ID, "Returns");
    ui.click("Add campaign");
    ui.assert_sees("Pick the campaign's channel.");
    ui.click("Phone");
    ui.click("Round robin");
    ui.type_into(campaigns::DISPOSITIONS_ID, "Refunded, Replaced");
    ui.click("Add campaign");
    ui.assert_sees("Added campaign Returns.");
    let returns: Campaign = ui.ask(Request::ShowCampaign {
        name: "Returns".into(),
    })?;
    assert_eq!(returns.dispositions, ["Refunded", "Replaced"]);
    assert_eq!(returns.members.len(), 1, "only its creator: {returns:?}");
    assert_eq!(returns.channel, meshdesk_model::ChannelKind::Phone);
    assert_eq!(returns.strategy, meshdesk_model::Strategy::RoundRobin);
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

#[test]
fn a_supervisor_promotes_an_agent_moves_their_campaigns_and_sets_them_offline() -> TestResult {
    let mut demo = Demo::new()?;
    // Bruno is at work (his own node wrote it).
    let bruno = demo.seed.store.agent_by_name("Bruno")?.ok_or("no Bruno")?;
    let now = demo.seed.clock.now();
    demo.seed.store.write_doc(
        &meshdesk_model::doc::DocId::Agent(bruno.id),
        false,
        move |d| {
            meshdesk_model::doc::agent::set_status(d, &meshdesk_model::AgentStatus::Available, now)
        },
    )?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Team);
    ui.click("Agents");
    ui.click("Bruno");
    ui.assert_sees("Save agent");
    ui.assert_sees("Devices");
    if let Err(e) = ui.snapshot("admin-agent-light", &theme::light()) {
        panic!("{e}");
    }

    // Refused in the form: the capacity is no number.
    ui.clear(agents::CAPACITY_ID);
    ui.type_into(agents::CAPACITY_ID, "lots");
    ui.click("Save agent");
    ui.assert_sees("The capacity must be a whole number, not “lots”.");
    let before = team(&mut ui)?;

    ui.clear(agents::CAPACITY_ID);
    ui.type_into(agents::CAPACITY_ID, "4");
    ui.click("Supervisor");
    ui.click("Orders");
    ui.click("Save agent");
    ui.assert_sees("Saved Bruno.");
    let after = team(&mut ui)?;
    let bruno = after
        .agents
        .iter()
        .find(|a| a.name == "Bruno")
        .ok_or("no Bruno")?;
    assert_eq!(after.team.role_of(bruno.id), Some(Role::Supervisor));
    assert_eq!(bruno.capacity, 4);
    let orders = after.team.campaign_by_name("Orders").ok_or("no Orders")?;
    assert!(!orders.has_member(bruno.id), "Bruno left Orders");
    assert_ne!(before.team, after.team);

    // His machine is gone: Set offline.
    ui.click("Set offline");
    ui.assert_sees("Saved Bruno.");
    let bruno_now: meshdesk_model::Agent = ui.ask(Request::ShowTeam).map(|t: TeamOverview| {
        t.agents
            .into_iter()
            .find(|a| a.name == "Bruno")
            .expect("Bruno")
    })?;
    assert_eq!(bruno_now.status, meshdesk_model::AgentStatus::Offline);

    // Revoking asks first.
    ui.click("Revoke…");
    ui.assert_sees("Cut it off for good?");
    ui.click("Keep");
    ui.assert_not_sees("Cut it off for good?");
    Ok(())
}

#[test]
fn break_reasons_and_canned_responses_are_kept_from_the_window() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Team);
    ui.click("Break reasons");
    ui.type_into(breaks::NEW_ID, "Coaching");
    ui.click("Add reason");
    ui.assert_sees("Added the break reason Coaching.");
    ui.type_into(breaks::NEW_ID, "coaching");
    ui.click("Add reason");
    ui.assert_sees("already exists");
    ui.click("Remove");
    let reasons = team(&mut ui)?.team.break_reasons;
    assert!(reasons.contains(&"Coaching".to_string()), "{reasons:?}");
    assert_eq!(reasons.len(), 3, "one removed, one added: {reasons:?}");

    ui.click("Canned responses");
    ui.click("New canned response…");
    ui.type_into(canned::CODE_ID, "Bad Code!");
    ui.click("Add response");
    ui.assert_sees("code");
    assert!(
        team(&mut ui)?
            .team
            .canned
            .values()
            .all(|c| c.code != "bad code!")
    );
    ui.clear(canned::CODE_ID);
    ui.type_into(canned::CODE_ID, "refund");
    ui.click("Add response");
    ui.assert_sees("the message must not be empty");
    ui.type_into(
        canned::BODY_ID,
        "Your refund is on its way, {contact.name}.",
    );
    ui.click("Add response");
    ui.assert_sees("Added /refund.");
    let added = team(&mut ui)?;
    assert!(added.team.canned.values().any(|c| c.code == "refund"));
    Ok(())
}

#[test]
fn an_invite_shows_its_code_and_qr_and_can_be_cancelled() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Team);
    ui.click("Invites");
    ui.assert_sees("No open invites.");
    ui.clear(invites::USES_ID);
    ui.type_into(invites::USES_ID, "0");
    ui.click("Create invite");
    ui.assert_sees("at least 1, not “0”");
    ui.clear(invites::USES_ID);
    ui.type_into(invites::USES_ID, "2");
    ui.clear(invites::EXPIRES_ID);
    ui.type_into(invites::EXPIRES_ID, "2h");
    ui.click("Orders");
    ui.click("Create invite");
    ui.settle_until("Invite code", 5_000);
    ui.assert_sees("into Orders");
    ui.assert_sees("0 of 2 used");
    let open = team(&mut ui)?;
    let now = ui.clock.now();
    let invite = open.team.open_invites(now);
    assert_eq!(invite.len(), 1);
    assert_eq!(invite[0].max_uses, 2);
    assert_eq!(invite[0].campaigns.len(), 1);

    ui.click("Cancel invite");
    ui.assert_sees("Invite cancelled");
    ui.settle_until("No open invites.", 5_000);
    assert!(team(&mut ui)?.team.open_invites(now).is_empty());
    Ok(())
}
