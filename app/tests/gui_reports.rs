//! The Reports tab, as a team lead uses it (iced_test's simulator over a
//! real store): the last seven days by campaign with its charts and table,
//! by agent, a refused range, and the CSV saved to a file.

mod support;

use meshdesk::gui::screen::reports;
use meshdesk::gui::{TabId, theme};
use support::{Demo, TestResult, Ui};

#[test]
fn reports_show_the_weeks_figures_by_campaign_and_agent_and_save_the_csv() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    let mut failures = Vec::new();
    ui.tab(TabId::Reports);
    // The demo's two closed interactions, in the General campaign.
    ui.assert_sees("Offered by hour of day (UTC)");
    ui.assert_sees("Handled per campaign");
    ui.assert_sees("General");
    ui.assert_sees("Dispositions");
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("reports-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }

    ui.click("By agent");
    ui.assert_sees("Handled per agent");
    ui.assert_sees("Ana");

    // The search box narrows the rows.
    ui.type_into(meshdesk::gui::SEARCH_ID, "nobody");
    ui.assert_sees("No rows.");
    ui.clear(meshdesk::gui::SEARCH_ID);

    // A range that is no range is refused with its reason, and the last
    // report stays.
    ui.clear(reports::FROM_ID);
    ui.type_into(reports::FROM_ID, "last tuesday");
    ui.click("Run");
    ui.assert_sees("“last tuesday” is no day");
    ui.assert_sees("Ana");

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("week.csv");
    ui.clear(reports::CSV_ID);
    ui.type_into(reports::CSV_ID, &file.display().to_string());
    ui.click("Save CSV");
    let csv = std::fs::read_to_string(&file)?;
    assert!(csv.starts_with("by,id,name,offered"), "{csv}");
    assert!(csv.contains(",Ana,"), "{csv}");
    ui.assert_sees("Saved ");

    // The charts as a PNG beside it, drawn by the same code as on screen.
    ui.click("Save PNG");
    let png = std::fs::read(dir.path().join("week.png"))?;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    ui.assert_sees("Saved the charts to");
    if let Ok(keep) = std::env::var("MESHDESK_KEEP_PNG") {
        std::fs::write(keep, &png)?;
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

#[test]
fn the_board_moves_without_a_click_when_a_customer_queues_and_a_status_changes() -> TestResult {
    use meshdesk_model::AgentStatus;
    use meshdesk_model::ops::Request;
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    let mut failures = Vec::new();
    ui.tab(TabId::Board);
    ui.assert_sees("Campaigns, today (UTC)");
    ui.assert_sees("Agents now");
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("board-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    ui.assert_not_sees("Break: Training");

    // A customer queues (a gateway's request) and Ana goes on a break: the
    // board shows both with no click.
    ui.call(Request::Enqueue {
        campaign: "General".into(),
        contact: None,
        from: Some("+34 699 000 111".into()),
        name: Some("Nuria Vidal".into()),
        message: Some("Is anyone there?".into()),
        priority: 0,
    })?;
    ui.call(Request::SetStatus {
        status: AgentStatus::Break {
            reason: "Training".into(),
        },
    })?;
    ui.settle_until("Break: Training", 5_000);
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

#[test]
fn an_agent_has_no_board_no_reports_and_no_team_tab() -> TestResult {
    use meshdesk::gui::{Message, Shortcut};
    use meshdesk_model::store::LocalIdentity;
    let mut demo = Demo::new()?;
    let store = &mut demo.seed.store;
    let ana = store.identity()?.ok_or("no identity")?;
    let bruno = store.agent_by_name("Bruno")?.ok_or("no Bruno")?;
    store.set_identity(&LocalIdentity {
        agent: bruno.id,
        ..ana
    })?;
    let mut ui = Ui::open(demo.seed)?;
    ui.assert_sees("Phonebook");
    ui.assert_not_sees("Board");
    ui.assert_not_sees("Reports");
    // Ctrl+6, Ctrl+7 and Ctrl+8 lead nowhere.
    let before = ui.app.tab();
    for tab in [TabId::Board, TabId::Reports, TabId::Team] {
        ui.send(Message::Shortcut(Shortcut::Tab(tab)));
        assert_eq!(ui.app.tab(), before);
    }
    ui.assert_not_sees("Campaigns, today (UTC)");
    ui.assert_not_sees("Break reasons");
    Ok(())
}
