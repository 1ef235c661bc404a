//! The inbox GUI, driven headlessly through clicks and typing (iced_test's
//! simulator), over a real store written through real requests. Each test
//! asserts what the agent sees on screen.

mod support;

use iced::keyboard::{Key, Modifiers, key};
use meshdesk::gui::modal::{finalize, new_interaction, snooze, take_back, transfer};
use meshdesk::gui::screen::{active, contacts, history, phonebook, tags, welcome};
use meshdesk::gui::settings::Settings;
use meshdesk::gui::{
    App, GATEWAYS_ADDR_ID, GATEWAYS_ID, Message, NOTIFICATIONS_ID, SEARCH_ID, Shortcut, TabId,
    clock, theme,
};
use meshdesk_model::ops::{
    CannedSpec, ChatTarget, Client, Context, InteractionDetail, InteractionRow, Reply, Request, Tab,
};
use meshdesk_model::store::{LocalIdentity, Store};
use meshdesk_sync::first_sync::FirstSyncProgress;
use meshdesk_sync::join::JoinProgress;
use support::{Demo, MINUTE, Seed, TestResult, Ui};

fn active(ui: &mut Ui) -> Result<Vec<InteractionRow>, String> {
    ui.ask(Request::ListInteractions {
        tab: Tab::Active,
        search: None,
        limit: None,
        history: Default::default(),
    })
}

fn active_count(ui: &mut Ui) -> Result<usize, String> {
    Ok(active(ui)?.len())
}

/// How many messages of an interaction this agent has not read.
fn unread(ui: &mut Ui, id: &str) -> Result<u32, String> {
    active(ui)?
        .iter()
        .find(|r| r.summary.id.to_string() == id)
        .map(|r| r.unread)
        .ok_or_else(|| format!("{id} is not in Active"))
}

/// The text of an interaction's latest message.
/// The inbox on Active with Lucia Romero's conversation open.
fn lucia_open(seed: Seed) -> Result<Ui, Box<dyn std::error::Error>> {
    let mut ui = Ui::open(seed)?;
    ui.tab(TabId::Active);
    ui.click("Lucia Romero");
    Ok(ui)
}

/// Presses a named key in the Active composer.
fn in_composer(ui: &mut Ui, named: key::Named, modifiers: Modifiers) {
    ui.press_in(active::COMPOSER_ID, Key::Named(named), modifiers);
}

fn last_message(ui: &mut Ui, id: &str) -> Result<Option<String>, String> {
    let d: InteractionDetail = ui.ask(Request::ShowInteraction {
        id: id.parse().expect("an id"),
    })?;
    Ok(d.interaction
        .messages_in_order()
        .last()
        .map(|m| m.body.clone()))
}

/// A customer writes in, queued in General (as a gateway would do it).
fn customer_writes_in(ui: &mut Ui, name: &str, from: &str, text: &str) -> Result<Reply, String> {
    ui.call(Request::Enqueue {
        campaign: "General".into(),
        contact: None,
        from: Some(from.into()),
        name: Some(name.into()),
        message: Some(text.into()),
        priority: 0,
    })
}

#[test]
fn search_narrows_every_tab_to_matching_rows_only() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;

    ui.tab(TabId::Active);
    ui.assert_sees("Lucia Romero");
    ui.assert_sees("Marta Ruiz");
    ui.assert_sees("2 active");
    ui.type_into(SEARCH_ID, "blinks");
    ui.assert_sees("Lucia Romero");
    ui.assert_not_sees("Marta Ruiz");
    ui.assert_sees("1 matching “blinks”");
    ui.clear(SEARCH_ID);
    ui.assert_sees("Marta Ruiz");

    ui.tab(TabId::Pending);
    ui.assert_sees("Tomas Vidal");
    ui.assert_sees("Elena Molina");
    ui.type_into(SEARCH_ID, "elena");
    ui.assert_sees("Elena Molina");
    ui.assert_not_sees("Tomas Vidal");

    ui.tab(TabId::History);
    ui.assert_sees("Hugo Navarro");
    ui.assert_sees("Sofia Torres");
    ui.type_into(SEARCH_ID, "invoice");
    ui.assert_sees("Hugo Navarro");
    ui.assert_not_sees("Sofia Torres");
    ui.type_into(SEARCH_ID, " nothing-like-this");
    ui.assert_sees("No closed interaction matches.");
    ui.assert_not_sees("Hugo Navarro");

    ui.tab(TabId::Contacts);
    ui.assert_sees("Bruno");
    ui.assert_sees("Carla");
    ui.assert_sees("#General");
    ui.type_into(SEARCH_ID, "car");
    ui.assert_sees("Carla");
    ui.assert_not_sees("#General");
    ui.assert_not_sees("Bruno");

    ui.tab(TabId::Phonebook);
    ui.assert_sees("Marta Ruiz");
    ui.assert_sees("Ines Lopez");
    ui.type_into(SEARCH_ID, "globex");
    ui.assert_sees("Bruno Diaz");
    ui.assert_not_sees("Marta Ruiz");
    ui.assert_not_sees("Ines Lopez");

    // Each tab keeps its own query: back in Pending, the box says "elena".
    ui.tab(TabId::Pending);
    ui.assert_sees("elena");
    ui.assert_not_sees("Tomas Vidal");
    Ok(())
}

#[test]
fn the_plus_flow_refuses_to_start_with_a_required_field_empty() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    let before = active_count(&mut ui)?;

    ui.click("+ New");
    ui.assert_sees("1. Channel");
    ui.assert_sees("Phone");
    ui.click("Web chat");
    // Orders is the only web chat campaign: straight to its fields.
    ui.assert_sees("3. Details · Web chat · Orders");
    ui.assert_sees("Order (required)");
    ui.type_into(new_interaction::ADDRESS_ID, "visitor-42");
    ui.assert_sees("Still needed: Order.");

    // Start is disabled; Enter says what is missing, beside the field.
    ui.click("Start");
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Order is required.");
    ui.assert_sees("3. Details");
    assert_eq!(active_count(&mut ui)?, before, "nothing was started");

    ui.type_into(new_interaction::field_id("Order"), "4471");
    ui.type_into(new_interaction::SUBJECT_ID, "Late delivery");
    ui.assert_not_sees("Still needed");
    ui.click("Start");

    // It opens in Active.
    assert_eq!(ui.app.tab(), Some(TabId::Active));
    ui.assert_not_sees("3. Details");
    ui.assert_sees("Started with visitor-42.");
    ui.assert_sees("3 active");
    ui.assert_sees("Order: 4471");
    ui.assert_sees("Orders · Web chat · Late delivery");
    assert_eq!(active_count(&mut ui)?, before + 1);
    Ok(())
}

#[test]
fn the_plus_flow_goes_channel_then_campaign_and_can_go_back() -> TestResult {
    let mut seed = Seed::new()?;
    seed.campaign(support::campaign(
        "Sales",
        meshdesk_model::ChannelKind::Phone,
        meshdesk_model::Strategy::TopDown,
        &["Ana"],
        &["Sold"],
        &[],
        0,
    ))?;
    let mut ui = Ui::open(seed)?;
    ui.shortcut(Shortcut::New);
    ui.click("Phone");
    ui.assert_sees("2. Campaign on Phone");
    ui.assert_sees("General");
    ui.click("Sales");
    ui.assert_sees("3. Details · Phone · Sales");
    ui.type_into(new_interaction::ADDRESS_ID, "12");
    ui.assert_sees("“12” is not a phone number (5 to 15 digits).");
    ui.click("Back");
    ui.assert_sees("2. Campaign on Phone");
    ui.click("Back");
    ui.assert_sees("1. Channel");
    ui.shortcut(Shortcut::Escape);
    ui.assert_not_sees("1. Channel");
    Ok(())
}

#[test]
fn a_finalized_interaction_leaves_active_and_appears_in_history() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Active);
    ui.assert_sees("2 active");
    ui.click("Marta Ruiz");
    ui.assert_sees("Calling about your order");
    ui.click("…");
    ui.click("Finalize…");
    ui.assert_sees("Finalize Marta Ruiz");
    ui.assert_sees("Disposition (required)");

    // No disposition yet: Finalize is disabled, Enter says why.
    ui.click("Finalize");
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Choose a disposition to finalize.");

    ui.click("Resolved");
    ui.type_into(finalize::NOTE_ID, "Order confirmed by phone");
    ui.click("Finalize");
    ui.assert_not_sees("Disposition (required)");
    ui.assert_sees("Finalized Marta Ruiz.");
    ui.assert_sees("1 active");
    ui.assert_sees("Finalized as Resolved: it is now in History.");

    ui.tab(TabId::History);
    ui.assert_sees("3 closed");
    ui.click("Marta Ruiz");
    ui.assert_sees("Resolved · General");
    ui.assert_sees("Order confirmed by phone");
    ui.assert_sees("Calling about your order");
    Ok(())
}

#[test]
fn the_transfer_dialog_hands_an_interaction_to_a_teammate_with_a_note() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = lucia_open(demo.seed)?;
    ui.click("…");
    ui.click("Transfer…");
    ui.assert_sees("Transfer Lucia Romero");
    ui.assert_sees("To a teammate");
    ui.assert_sees("Back to a campaign's queue");
    ui.click("Bruno");
    ui.assert_sees("Bruno is offline: the transfer waits until they are back.");
    ui.type_into(transfer::NOTE_ID, "Router model RX-2");
    ui.click("Transfer to Bruno");
    ui.assert_sees("Transferred Lucia Romero.");
    ui.assert_sees("1 active");
    ui.assert_sees("Transferred to Bruno: it waits for them to accept.");

    // Esc closes a dialog without doing anything.
    ui.click("Marta Ruiz");
    ui.click("…");
    ui.click("Transfer…");
    ui.assert_sees("Transfer Marta Ruiz");
    ui.shortcut(Shortcut::Escape);
    ui.assert_not_sees("Transfer Marta Ruiz");
    ui.assert_sees("1 active");
    Ok(())
}

#[test]
fn the_composer_sends_on_enter_and_breaks_lines_on_shift_enter() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = lucia_open(demo.seed)?;
    ui.type_into(active::COMPOSER_ID, "Please restart it");
    in_composer(&mut ui, key::Named::Enter, Modifiers::SHIFT);
    ui.type_into(active::COMPOSER_ID, "Thanks");
    ui.assert_not_sees("Please restart it\nThanks");
    in_composer(&mut ui, key::Named::Enter, Modifiers::empty());
    ui.assert_sees("Please restart it\nThanks");
    assert_eq!(
        last_message(&mut ui, &demo.active_lucia)?.as_deref(),
        Some("Please restart it\nThanks")
    );
    Ok(())
}

#[test]
fn slash_in_the_composer_picks_a_canned_response_with_its_placeholders_filled() -> TestResult {
    let mut demo = Demo::new()?;
    for (code, body, campaign) in [
        (
            "thanks",
            "Thanks for your patience, {contact.name}. {agent.name}",
            None,
        ),
        ("therapy", "Have you tried turning it off and on?", None),
        (
            "order",
            "Your order {field.Order} is on its way",
            Some("Orders"),
        ),
    ] {
        demo.seed.create(Request::AddCanned(CannedSpec {
            code: code.into(),
            body: body.into(),
            campaign: campaign.map(Into::into),
        }))?;
    }
    let mut ui = lucia_open(demo.seed)?;
    ui.type_into(active::COMPOSER_ID, "/th");
    // Lucia's campaign is General: the Orders response is not offered.
    ui.assert_sees("/thanks");
    ui.assert_sees("/therapy");
    ui.assert_not_sees("/order");
    for (name, theme) in [
        ("canned-picker-light", theme::light()),
        ("canned-picker-dark", theme::dark()),
    ] {
        if let Err(e) = ui.snapshot(name, &theme) {
            return Err(e.to_string().into());
        }
    }
    // Esc closes it; the text stays.
    in_composer(&mut ui, key::Named::Escape, Modifiers::empty());
    ui.assert_not_sees("/therapy");
    // Typing on opens it again; ↓ then ↑ lands back on the first row.
    ui.type_into(active::COMPOSER_ID, "a");
    ui.assert_sees("/thanks");
    ui.assert_not_sees("/therapy");
    for arrow in [key::Named::ArrowDown, key::Named::ArrowUp] {
        ui.press_in(active::COMPOSER_ID, Key::Named(arrow), Modifiers::empty());
    }
    in_composer(&mut ui, key::Named::Enter, Modifiers::empty());
    ui.assert_not_sees("/thanks");
    // The first Enter inserted; the next one sends what was filled in.
    in_composer(&mut ui, key::Named::Enter, Modifiers::empty());
    assert_eq!(
        last_message(&mut ui, &demo.active_lucia)?.as_deref(),
        Some("Thanks for your patience, Lucia Romero. Ana")
    );
    Ok(())
}

#[test]
fn a_note_is_written_from_the_composer_and_shown_as_internal_never_as_a_reply() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = lucia_open(demo.seed)?;
    let before = last_message(&mut ui, &demo.active_lucia)?;
    // The switch: Note, then Enter adds it.
    ui.click("Note");
    ui.assert_sees("Add note");
    ui.type_into(active::COMPOSER_ID, "Router is under warranty");
    in_composer(&mut ui, key::Named::Enter, Modifiers::empty());
    ui.assert_sees("Router is under warranty");
    assert!(
        ui.texts()
            .iter()
            .any(|t| t.starts_with("Internal note · You")),
        "the note is not marked internal: {:?}",
        ui.texts()
    );
    // Back to Reply; Ctrl+Shift+Enter still writes a note.
    ui.click("Reply");
    ui.type_into(active::COMPOSER_ID, "Ask for the serial number");
    in_composer(
        &mut ui,
        key::Named::Enter,
        Modifiers::COMMAND | Modifiers::SHIFT,
    );
    ui.assert_sees("Ask for the serial number");
    for (name, theme) in [("note-light", theme::light()), ("note-dark", theme::dark())] {
        if let Err(e) = ui.snapshot(name, &theme) {
            return Err(e.to_string().into());
        }
    }
    // Neither became a message to the customer.
    assert_eq!(last_message(&mut ui, &demo.active_lucia)?, before);
    Ok(())
}

#[test]
fn customer_html_is_shown_as_plain_text() -> TestResult {
    let demo = Demo::new()?;
    let ui = lucia_open(demo.seed)?;
    ui.assert_sees("It blinks red <b>every</b> minute");
    Ok(())
}

#[test]
fn pending_accept_moves_to_active_and_decline_hides_it_and_waits_tick() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Pending);
    ui.assert_sees("2 waiting");
    ui.assert_sees("Ring-all: first to accept takes it");

    // The waiting time ticks.
    let elena: InteractionDetail = ui.ask(Request::ShowInteraction {
        id: demo.pending_elena.parse().expect("an id"),
    })?;
    let enqueued = elena.interaction.enqueued_at;
    let before = clock::elapsed(ui.clock.now(), enqueued);
    ui.assert_sees(&before);
    ui.tick(5);
    let after = clock::elapsed(ui.clock.now(), enqueued);
    assert_ne!(before, after);
    ui.assert_sees(&after);

    ui.click("Tomas Vidal");
    ui.assert_sees("Can I upgrade my plan?");
    ui.click("Accept");
    assert_eq!(ui.app.tab(), Some(TabId::Active));
    ui.assert_sees("3 active");
    ui.assert_sees("Open 0:00");

    ui.tab(TabId::Pending);
    ui.click("Elena Molina");
    ui.click("Decline");
    ui.assert_sees("Declined.");
    ui.assert_sees("Nothing waiting for you.");
    Ok(())
}

#[test]
fn a_lost_claim_shows_its_toast() -> TestResult {
    // Ana's and Bruno's computers, each with the team; Bruno accepts while
    // the two are apart, then Ana accepts too; when they meet, the earlier
    // claim (Bruno's) wins.
    let mut seed = Seed::new()?;
    let (bruno_dir, bruno) = seed.teammate_computer("Bruno")?;
    let id = seed.enqueue(
        "General",
        "+34 600 999 888",
        "Pablo Garcia",
        "My line is dead",
    )?;
    let mut bruno_store = seed.teammate_store(bruno_dir.path(), &bruno)?;
    seed.run_on(
        &mut bruno_store,
        Request::Accept {
            id: id.parse().expect("an id"),
        },
    )?;
    drop(bruno_store);
    seed.clock.advance(MINUTE);

    // Ana's node listens on the loopback; no one is there yet.
    let Seed { store, clock, dir } = seed;
    drop(store);
    let (mut ui, ana_addr) = Ui::networked(dir, clock)?;
    ui.tab(TabId::Pending);
    ui.click("Pablo Garcia");
    ui.click("Accept");
    ui.assert_sees("1 active");
    ui.assert_not_sees("Another agent claimed");

    // The two computers meet: Bruno's node starts and dials Ana's.
    let bruno_node = ui.teammate_node(bruno_dir.path(), ana_addr)?;
    ui.settle_until("Bruno claimed Pablo Garcia first", 20_000);
    ui.send(Message::Tick);
    ui.assert_sees("Bruno claimed Pablo Garcia first. You can still read it; Bruno answers it.");
    ui.assert_sees("Bruno claimed it first; you can read it, Bruno answers it.");
    ui.assert_sees("0 active");
    ui.rt.block_on(bruno_node.shutdown());
    Ok(())
}

#[test]
fn phonebook_add_edit_delete_with_inline_validation() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Phonebook);
    ui.assert_sees("3 contacts");
    ui.click("Add contact");
    ui.assert_sees("New contact");
    ui.click("Save");
    ui.assert_sees("A name is required.");
    ui.type_into(phonebook::NAME_ID, "Julia Ortega");
    ui.assert_not_sees("A name is required.");
    ui.type_into(phonebook::PHONES_ID, "12");
    ui.type_into(phonebook::EMAILS_ID, "julia@");
    ui.click("Save");
    ui.assert_sees("“12” is not a phone number");
    ui.assert_sees("“julia@” is not an email address.");
    ui.assert_sees("3 contacts");
    ui.clear(phonebook::PHONES_ID);
    ui.type_into(phonebook::PHONES_ID, "+34 699 000 111");
    ui.clear(phonebook::EMAILS_ID);
    ui.type_into(phonebook::EMAILS_ID, "julia@example.com");
    ui.click("Save");
    ui.assert_sees("Added Julia Ortega.");
    ui.assert_sees("4 contacts");
    ui.assert_sees("Start interaction");
    ui.assert_sees("+34 699 000 111");

    ui.click("Edit");
    ui.assert_sees("Edit contact");
    ui.type_into(phonebook::COMPANY_ID, "Umbrella");
    ui.click("Save");
    ui.assert_sees("Saved Julia Ortega.");
    ui.assert_sees("Umbrella");

    ui.click("Delete");
    ui.assert_sees("Delete Julia Ortega?");
    ui.click("Delete");
    ui.assert_sees("Deleted Julia Ortega.");
    ui.assert_sees("3 contacts");
    ui.assert_sees("Open a contact, or add one.");
    Ok(())
}

#[test]
fn a_contact_profile_lists_its_interactions_and_starts_a_new_one() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Phonebook);
    ui.click("Marta Ruiz");
    ui.assert_sees("Acme");
    ui.assert_sees("marta@example.com");
    ui.assert_sees("General · Calling about your order");
    ui.click("Start interaction");
    ui.assert_sees("New interaction with Marta Ruiz");
    ui.click("Phone");
    ui.assert_sees("3. Details · Phone · General");
    ui.type_into(new_interaction::SUBJECT_ID, "Invoice copy");
    ui.click("Start");
    assert_eq!(ui.app.tab(), Some(TabId::Active));
    ui.assert_sees("3 active");
    ui.assert_sees("Started with Marta Ruiz.");
    ui.assert_sees("General · Phone · +34 600 100 200 · Invoice copy");
    Ok(())
}

#[test]
fn contacts_and_chat_show_teammates_and_rooms_and_send_messages() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Contacts);
    ui.assert_sees("Teammates");
    ui.assert_sees("Campaign rooms");
    ui.assert_sees("Can you take the 11:00 call?");
    ui.click("Bruno");
    ui.assert_sees("Offline");
    ui.type_and_enter(contacts::DRAFT_ID, "Sure, I will");
    ui.assert_sees("Sure, I will");
    ui.click("#General");
    ui.assert_sees("Everyone in the campaign");
    ui.assert_sees("Standup in 5 minutes");
    ui.type_into(contacts::DRAFT_ID, "On my way");
    ui.click("Send");
    ui.assert_sees("On my way");
    Ok(())
}

#[test]
fn keyboard_shortcuts_switch_tabs_move_through_lists_and_open_dialogs() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.shortcut(Shortcut::Tab(TabId::History));
    assert_eq!(ui.app.tab(), Some(TabId::History));
    ui.shortcut(Shortcut::Down);
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Disposition");
    ui.shortcut(Shortcut::Tab(TabId::Phonebook));
    ui.shortcut(Shortcut::Down);
    ui.shortcut(Shortcut::Down);
    ui.shortcut(Shortcut::Enter);
    // Contacts in name order: Bruno Diaz, Ines Lopez, Marta Ruiz.
    ui.assert_sees("Initech");
    ui.shortcut(Shortcut::Up);
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Globex");
    ui.shortcut(Shortcut::New);
    ui.assert_sees("1. Channel");
    ui.shortcut(Shortcut::Tab(TabId::Active));
    assert_eq!(
        ui.app.tab(),
        Some(TabId::Phonebook),
        "no tab switch under a dialog"
    );
    ui.shortcut(Shortcut::Escape);
    ui.assert_not_sees("1. Channel");
    ui.shortcut(Shortcut::Tab(TabId::Pending));
    assert_eq!(ui.app.tab(), Some(TabId::Pending));
    ui.shortcut(Shortcut::Search);

    // What the shortcut function maps keys to.
    use meshdesk::gui::shortcut;
    let ctrl = Modifiers::CTRL;
    assert_eq!(
        shortcut(&Key::Character("k".into()), ctrl, true),
        Some(Shortcut::Search)
    );
    assert_eq!(
        shortcut(&Key::Character("n".into()), ctrl, false),
        Some(Shortcut::New)
    );
    assert_eq!(
        shortcut(&Key::Character("3".into()), ctrl, false),
        Some(Shortcut::Tab(TabId::History))
    );
    assert_eq!(
        shortcut(&Key::Named(key::Named::Escape), Modifiers::empty(), true),
        Some(Shortcut::Escape)
    );
    assert_eq!(
        shortcut(
            &Key::Named(key::Named::ArrowDown),
            Modifiers::empty(),
            false
        ),
        Some(Shortcut::Down)
    );
    assert_eq!(
        shortcut(&Key::Named(key::Named::Enter), Modifiers::empty(), true),
        None,
        "an Enter a text field took is not also a shortcut"
    );
    Ok(())
}

#[test]
fn the_list_cursor_stays_on_its_row_when_the_list_reorders() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Active);
    // Lucia's message puts her first; Ana opens her.
    ui.clock.advance(MINUTE);
    ui.call(Request::CustomerMessage {
        id: demo.active_lucia.parse().expect("an id"),
        text: "It is still blinking".into(),
    })?;
    ui.click("Lucia Romero");
    ui.assert_sees("It is still blinking");
    // Marta writes: she moves above Lucia.
    ui.clock.advance(MINUTE);
    ui.call(Request::CustomerMessage {
        id: demo.active_marta.parse().expect("an id"),
        text: "Any news?".into(),
    })?;
    ui.assert_sees("Any news?");
    // Enter opens the row under the cursor: still Lucia, not Marta.
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("It is still blinking");
    ui.assert_not_sees("Calling about your order");
    // ↑ from Lucia (now second) is Marta.
    ui.shortcut(Shortcut::Up);
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Calling about your order");

    // The phonebook likewise, when a contact is added above the open one.
    ui.tab(TabId::Phonebook);
    ui.click("Ines Lopez");
    ui.assert_sees("Initech");
    ui.call(Request::AddContact(meshdesk_model::ops::ContactSpec {
        name: Some("Aaron Abad".into()),
        ..Default::default()
    }))?;
    ui.assert_sees("Aaron Abad");
    ui.shortcut(Shortcut::Enter);
    // Ines in the list and in the open profile; Bruno only in the list.
    let shown = |ui: &Ui, name: &str| ui.texts().iter().filter(|t| *t == name).count();
    assert_eq!(shown(&ui, "Ines Lopez"), 2);
    assert_eq!(shown(&ui, "Bruno Diaz"), 1);
    Ok(())
}

#[test]
fn the_window_serves_the_webchat_and_the_api_when_switched_on() -> TestResult {
    use meshdesk::gui::backend::{self, Opened};
    let demo = meshdesk::gui::demo::Demo::start()?;
    let rt = support::runtime()?;
    let opened = rt.block_on(backend::open(demo.data_dir().clone(), demo.node_options()))?;
    let Opened::Ready(backend) = opened else {
        return Err("the demo has no team".into());
    };
    let clock = support::ManualClock::new(meshdesk_model::now_ms());
    let settings = Settings {
        gateways_addr: "127.0.0.1".into(),
        ..Settings::default()
    };
    let mut ui = Ui::over(backend.clone(), clock, settings, None)?;
    let started = |ui: &mut Ui| -> Option<String> {
        for _ in 0..100 {
            if let Some(url) = ui.texts().into_iter().find(|t| t.starts_with("http://")) {
                return Some(url);
            }
            if ui.sees("cannot serve") || ui.sees("is not an address") {
                return None;
            }
            ui.settle(50);
        }
        None
    };

    // An address without a port: refused, and the switch goes back off.
    ui.click_id(GATEWAYS_ID);
    assert_eq!(started(&mut ui), None);
    ui.assert_sees("`127.0.0.1` is not an address to listen on");
    assert!(!ui.app.settings().gateways);

    // With a port (any free one), the widget and the API answer over HTTP.
    ui.type_into(GATEWAYS_ADDR_ID, ":0");
    ui.click_id(GATEWAYS_ID);
    let url = started(&mut ui).ok_or("the gateways did not start")?;
    assert!(ui.app.settings().gateways);
    ui.assert_sees("Serving the webchat and the API at http://127.0.0.1:");
    let get = |path: String| {
        rt.block_on(async move {
            let response = reqwest::get(path).await?;
            let status = response.status().as_u16();
            Ok::<_, reqwest::Error>((status, response.text().await?))
        })
    };
    let (status, page) = get(format!("{url}/chat/Orders"))?;
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "{page}");
    assert_eq!(get(format!("{url}/api/v1/interactions"))?.0, 401);

    // Off: nothing listens any more.
    ui.click_id(GATEWAYS_ID);
    ui.settle(300);
    assert!(!ui.app.settings().gateways);
    assert!(get(format!("{url}/chat/Orders")).is_err());
    ui.assert_sees("127.0.0.1:0");
    rt.block_on(backend.shutdown());
    Ok(())
}

#[test]
fn the_open_conversation_is_read_while_the_window_has_focus() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Active);
    ui.send(Message::Focused(true));
    ui.click("Lucia Romero");
    ui.settle(100);
    assert_eq!(unread(&mut ui, &demo.active_lucia)?, 0, "opened: read");
    let write = |ui: &mut Ui, text: &str| {
        ui.call(Request::CustomerMessage {
            id: demo.active_lucia.parse().expect("an id"),
            text: text.into(),
        })
    };
    write(&mut ui, "Still there?")?;
    ui.assert_sees("Still there?");
    ui.settle(100);
    assert_eq!(unread(&mut ui, &demo.active_lucia)?, 0, "seen as it came");
    // Away from the window, it waits to be read…
    ui.send(Message::Focused(false));
    write(&mut ui, "Hello?")?;
    ui.settle(100);
    assert_eq!(unread(&mut ui, &demo.active_lucia)?, 1);
    // …until the agent is back.
    ui.send(Message::Focused(true));
    ui.settle(100);
    assert_eq!(unread(&mut ui, &demo.active_lucia)?, 0);
    Ok(())
}

/// The text shown right after the first text equal to `label`.
fn next_to(ui: &Ui, label: &str) -> Option<String> {
    let texts = ui.texts();
    let at = texts.iter().position(|t| t == label)?;
    texts.get(at + 1).cloned()
}

#[test]
fn a_teammates_chat_stays_unread_until_the_room_is_opened() -> TestResult {
    let mut demo = Demo::new()?;
    // Bruno's messages to Ana arrive (written as his device's sync would
    // write them) before she opens the app.
    let seed = &mut demo.seed;
    let ana = seed.store.identity()?.ok_or("no team")?.agent;
    let bruno = seed
        .store
        .agents()?
        .into_values()
        .find(|a| a.name == "Bruno")
        .ok_or("no Bruno")?
        .id;
    let room = meshdesk_model::RoomKey::direct(ana, bruno);
    let from_bruno = |seed: &mut support::Seed, body: &str| {
        seed.clock.advance(MINUTE);
        let m = meshdesk_model::ChatMessage {
            id: meshdesk_model::MessageId::new(),
            author: bruno,
            at: seed.clock.now(),
            body: body.into(),
        };
        seed.store.write_doc(
            &meshdesk_model::doc::DocId::room_at(room, m.at),
            true,
            move |d| meshdesk_model::doc::room::add_message(d, &m),
        )
    };
    from_bruno(seed, "Are you around?")?;
    // Ana answered that one (writing reads the room)…
    seed.chat(ChatTarget::Agent("Bruno".into()), "Yes, what's up?")?;
    // …and these two came after.
    from_bruno(seed, "Can you cover my queue?")?;
    from_bruno(seed, "Lunch at 1?")?;

    let mut ui = Ui::open(demo.seed)?;
    assert_eq!(
        next_to(&ui, "Contacts & chat").as_deref(),
        Some("1"),
        "one room unread"
    );
    ui.tab(TabId::Contacts);
    assert_eq!(
        next_to(&ui, "Lunch at 1?").as_deref(),
        Some("2"),
        "two messages"
    );
    ui.click("Bruno");
    ui.settle(100);
    ui.assert_sees("Can you cover my queue?");
    assert_ne!(
        next_to(&ui, "Contacts & chat").as_deref(),
        Some("1"),
        "read"
    );
    assert_ne!(next_to(&ui, "Lunch at 1?").as_deref(), Some("2"));

    // Ana's own message never counts as unread.
    ui.tab(TabId::Active);
    ui.call(Request::ChatSend {
        to: ChatTarget::Agent("Bruno".into()),
        text: "Sure".into(),
    })?;
    ui.settle(100);
    assert_ne!(next_to(&ui, "Contacts & chat").as_deref(), Some("1"));
    Ok(())
}

#[test]
fn the_last_tab_and_window_size_are_remembered() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::History);
    ui.send(Message::Resized(iced::Size::new(1300.0, 860.0)));
    assert_eq!(ui.app.settings().last_tab, TabId::History);
    assert_eq!(ui.app.settings().width, 1300.0);

    let seed = Seed::new()?;
    let ui = Ui::open_with(
        seed,
        Settings {
            last_tab: TabId::Phonebook,
            ..Settings::default()
        },
    )?;
    assert_eq!(ui.app.tab(), Some(TabId::Phonebook));
    ui.assert_sees("The phonebook is empty. Add a contact.");

    // The desktop app writes them to <data_dir>/settings.json.
    let dir = tempfile::tempdir()?;
    let data_dir = meshdesk::data_dir::DataDir::resolve(Some(dir.path().to_path_buf()))?;
    let mut ui = Ui::without_inbox(App::welcome())?;
    let (app, task) = App::new(data_dir.clone(), Default::default());
    ui.app = app;
    ui.run(task);
    ui.assert_sees("Welcome to meshdesk");
    ui.send(Message::Resized(iced::Size::new(1400.0, 900.0)));
    ui.send(Message::Tick);
    let saved = Settings::load(&data_dir.settings_path());
    assert_eq!((saved.width, saved.height), (1400.0, 900.0));
    Ok(())
}

#[test]
fn the_welcome_screen_refuses_a_malformed_invite_code() -> TestResult {
    let mut ui = Ui::without_inbox(App::welcome())?;
    ui.assert_sees("Create a team");
    ui.assert_sees("Join a team");
    ui.click("Create team");
    ui.assert_sees("The team name is required.");
    ui.assert_sees("Your name is required.");

    ui.type_into(welcome::CODE_ID, "hello there");
    ui.assert_sees("the invite code is not a meshdesk invite");
    ui.type_into(welcome::JOIN_NAME_ID, "Bruno");
    ui.click("Join team");
    ui.assert_sees("Join team");
    ui.assert_not_sees("Joining…");

    ui.clear(welcome::CODE_ID);
    ui.type_into(welcome::CODE_ID, "MD1-AEAQ");
    ui.assert_sees("the invite code is");
    Ok(())
}

#[test]
fn joining_a_team_shows_the_first_sync_then_opens_the_inbox() -> TestResult {
    let mut seed = Seed::new()?;
    for i in 0..40 {
        seed.contact(&format!("Customer {i:02}"), None, None, "")?;
    }
    let Seed { store, dir, .. } = seed;
    drop(store);
    // Ana's computer, on the loopback, at the time the joiner reads
    // (an invite's expiry is judged on both sides).
    let rt = support::runtime()?;
    let now = support::ManualClock::new(meshdesk_model::now_ms());
    let ana = support::node_in(
        &rt,
        dir.path(),
        support::loopback(&now, support::free_loopback()?, vec![]),
    )?;
    let code =
        rt.block_on(ana.invite(meshdesk_sync::team::DEFAULT_INVITE_TTL_MS, 1, Vec::new()))?;

    // Bruno's new computer: the welcome screen, a real data dir.
    let bruno_dir = tempfile::tempdir()?;
    let data_dir = meshdesk::data_dir::DataDir::resolve(Some(bruno_dir.path().to_path_buf()))?;
    let mut ui = Ui::without_inbox(App::welcome())?;
    let options = meshdesk::gui::backend::NodeOptions {
        mdns: false,
        listen: vec![support::free_loopback()?],
        ..Default::default()
    };
    let (app, task) = App::new(data_dir, options);
    ui.app = app;
    ui.run(task);
    ui.type_into(welcome::CODE_ID, &code);
    ui.type_into(welcome::JOIN_NAME_ID, "Bruno");
    let join = ui.app.update(Message::Welcome(welcome::Message::Join));
    let mut saw = Vec::new();
    ui.run_watching(join, |ui, message| {
        if matches!(message, Message::Joining(_)) {
            saw.push((
                ui.sees("Admitted. Syncing the team's data…"),
                ui.sees("Syncing the team's data"),
            ));
        }
    });
    assert!(saw.iter().any(|(admitted, _)| *admitted), "{saw:?}");
    assert!(saw.iter().any(|(_, syncing)| *syncing), "{saw:?}");
    // The join is done: Bruno's inbox, with the team's phonebook.
    assert_eq!(ui.app.tab(), Some(TabId::Active));
    ui.tab(TabId::Phonebook);
    ui.settle_until("Customer 00", 5_000);
    Ok(())
}

#[test]
fn snapshot_of_a_first_sync_in_progress() -> TestResult {
    let mut ui = Ui::without_inbox(App::welcome())?;
    let dir = tempfile::tempdir()?;
    let data_dir = meshdesk::data_dir::DataDir::resolve(Some(dir.path().to_path_buf()))?;
    let (app, task) = App::new(data_dir, Default::default());
    ui.app = app;
    ui.run(task);
    // A fixed code, so the field shows the same text on every run.
    let mut code = meshdesk_sync::invite::InviteCode::new(
        meshdesk_model::TeamId(ulid::Ulid::from(0x0123_4567_89ab_cdef_u128)),
        [7; 32],
        4_000_000_000_000,
        vec!["/ip4/127.0.0.1/tcp/9".parse()?],
    );
    code.token = [9; 32];
    ui.type_into(welcome::CODE_ID, &code.to_string());
    ui.type_into(welcome::JOIN_NAME_ID, "Bruno");
    // The join this starts is not run: the screen is shown mid-way.
    let _join = ui.app.update(Message::Welcome(welcome::Message::Join));
    ui.assert_sees("Connecting to the team…");
    ui.send(Message::Joining(JoinProgress::Syncing(FirstSyncProgress {
        done_docs: 1_240,
        total_docs: 5_310,
        received_bytes: 3_456_789,
        remaining: Some(std::time::Duration::from_secs(14)),
    })));
    ui.assert_sees("1240 of 5310 documents, 3.5 MB, about 14 s left");
    ui.snapshot("first-sync-light", &theme::light())?;
    ui.snapshot("first-sync-dark", &theme::dark())?;
    Ok(())
}

#[test]
fn snapshots_of_every_tab_light_and_dark() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    let mut failures = Vec::new();
    let shots: [(TabId, &str, Option<&str>); 5] = [
        (TabId::Active, "active", Some("Lucia Romero")),
        (TabId::Pending, "pending", Some("Elena Molina")),
        (TabId::History, "history", Some("Hugo Navarro")),
        (TabId::Contacts, "contacts", Some("Bruno")),
        (TabId::Phonebook, "phonebook", Some("Marta Ruiz")),
    ];
    for (tab, name, open) in shots {
        ui.tab(tab);
        if let Some(row) = open {
            ui.click(row);
        }
        for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
            if let Err(e) = ui.snapshot(&format!("{name}-{mode}"), &theme) {
                failures.push(e.to_string());
            }
        }
    }
    // The dialogs, in light.
    ui.tab(TabId::Active);
    ui.click("Lucia Romero");
    ui.click("…");
    ui.click("Finalize…");
    if let Err(e) = ui.snapshot("finalize-light", &theme::light()) {
        failures.push(e.to_string());
    }
    ui.shortcut(Shortcut::Escape);
    ui.click("+ New");
    ui.click("Web chat");
    ui.shortcut(Shortcut::Enter);
    if let Err(e) = ui.snapshot("new-interaction-light", &theme::light()) {
        failures.push(e.to_string());
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

#[test]
fn the_demo_fills_every_tab_and_its_teammate_is_live_on_a_second_node() -> TestResult {
    use meshdesk::gui::backend::{self, Opened};
    let demo = meshdesk::gui::demo::Demo::start()?;
    let root = demo.data_dir().root().to_path_buf();
    let rt = support::runtime()?;
    let opened = rt.block_on(backend::open(demo.data_dir().clone(), demo.node_options()))?;
    let Opened::Ready(backend) = opened else {
        return Err("the demo has no team".into());
    };
    let clock = support::ManualClock::new(meshdesk_model::now_ms());
    let mut ui = Ui::over(backend.clone(), clock, Settings::default(), None)?;
    ui.assert_sees("Demo Support");
    ui.tab(TabId::Active);
    ui.assert_sees("7 active");
    ui.tab(TabId::History);
    ui.assert_sees("30 closed");
    ui.tab(TabId::Phonebook);
    ui.assert_sees("200 contacts");

    // The teammate's node is connected, and its agent is Available.
    ui.tab(TabId::Contacts);
    ui.assert_sees("Dario");
    ui.assert_sees("#Billing");
    for _ in 0..60 {
        if ui.sees("1 teammate · in sync") {
            break;
        }
        ui.settle(250);
        ui.tick(1);
    }
    ui.assert_sees("1 teammate · in sync");
    ui.click("Bruno");
    ui.assert_sees("Available");
    rt.block_on(backend.shutdown());
    drop(ui);
    drop(demo);
    assert!(!root.exists(), "the demo's temp dir is removed");
    Ok(())
}

#[test]
fn the_inbox_runs_on_a_real_node() -> TestResult {
    // The desktop app's path: create a team on a data dir, its node starts,
    // and the GUI talks to the node only.
    let dir = tempfile::tempdir()?;
    let data_dir = meshdesk::data_dir::DataDir::resolve(Some(dir.path().to_path_buf()))?;
    let rt = support::runtime()?;
    let backend = rt.block_on(meshdesk::gui::backend::create_team(
        data_dir.clone(),
        "Support".into(),
        "Ana".into(),
        meshdesk::gui::backend::NodeOptions::default(),
    ))?;
    assert!(backend.is_networked());
    let clock = support::ManualClock::new(meshdesk_model::now_ms());
    let mut ui = Ui::over(backend.clone(), clock, Settings::default(), None)?;
    ui.settle(200);
    ui.assert_sees("Support");
    ui.assert_sees("No teammates connected");

    ui.tab(TabId::Phonebook);
    ui.click("Add contact");
    ui.type_into(phonebook::NAME_ID, "Marta Ruiz");
    ui.type_into(phonebook::PHONES_ID, "+34 600 100 200");
    ui.click("Save");
    ui.settle(200);
    ui.assert_sees("Added Marta Ruiz.");
    ui.assert_sees("1 contact");

    // A change made elsewhere (the CLI through the node) shows up by itself.
    let b = backend.clone();
    rt.block_on(async move {
        b.call(Request::AddContact(meshdesk_model::ops::ContactSpec {
            name: Some("Ines Lopez".into()),
            ..Default::default()
        }))
        .await
    })?;
    ui.settle(300);
    ui.assert_sees("Ines Lopez");
    ui.assert_sees("2 contacts");
    rt.block_on(backend.shutdown());
    Ok(())
}

#[test]
fn notifications_fire_for_what_arrives_and_the_switch_turns_them_off() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    assert!(ui.app.settings().notifications, "on by default");
    assert!(
        ui.app.notices().is_empty(),
        "opening the app announces nothing"
    );

    // A customer writes in one of Ana's interactions.
    ui.call(Request::CustomerMessage {
        id: demo.active_lucia.parse().expect("an id"),
        text: "It is still blinking".into(),
    })?;
    let last = ui.app.notices().last().cloned();
    assert_eq!(
        last.as_ref().map(|n| n.title.as_str()),
        Some("Lucia Romero")
    );
    assert_eq!(
        last.as_ref().map(|n| n.body.as_str()),
        Some("It is still blinking")
    );

    // A new customer is queued in Ana's campaign: an offer.
    customer_writes_in(
        &mut ui,
        "Noa Ortega",
        "+34 699 000 111",
        "Is there an outage?",
    )?;
    let last = ui.app.notices().last().cloned();
    assert_eq!(last.as_ref().map(|n| n.title.as_str()), Some("Noa Ortega"));
    assert!(last.is_some_and(|n| n.body.contains("Offered to you in General")));

    // Ana's own reply fires nothing.
    let fired = ui.app.notices().len();
    ui.tab(TabId::Active);
    ui.click("Lucia Romero");
    ui.type_and_enter(active::COMPOSER_ID, "Let me check");
    ui.assert_sees("Let me check");
    assert_eq!(ui.app.notices().len(), fired);

    // With the window focused, the conversation on screen announces
    // nothing (Ana is reading it); another one still does.
    ui.send(Message::Focused(true));
    ui.call(Request::CustomerMessage {
        id: demo.active_lucia.parse().expect("an id"),
        text: "Thanks".into(),
    })?;
    ui.assert_sees("Thanks");
    assert_eq!(ui.app.notices().len(), fired, "the open conversation");
    ui.call(Request::CustomerMessage {
        id: demo.active_marta.parse().expect("an id"),
        text: "Any news?".into(),
    })?;
    let last = ui.app.notices().last().cloned();
    assert_eq!(last.map(|n| n.body), Some("Any news?".to_string()));
    let fired = ui.app.notices().len();
    // Out of focus, even the open one does.
    ui.send(Message::Focused(false));
    ui.call(Request::CustomerMessage {
        id: demo.active_lucia.parse().expect("an id"),
        text: "Hello again".into(),
    })?;
    assert_eq!(ui.app.notices().len(), fired + 1);
    let fired = fired + 1;

    // The switch in the rail turns them off (and is remembered).
    ui.click_id(NOTIFICATIONS_ID);
    assert!(!ui.app.settings().notifications);
    ui.call(Request::CustomerMessage {
        id: demo.active_marta.parse().expect("an id"),
        text: "Hello?".into(),
    })?;
    customer_writes_in(&mut ui, "Ivan Vidal", "+34 699 000 222", "Call me back")?;
    assert_eq!(ui.app.notices().len(), fired, "nothing fires while off");
    ui.click_id(NOTIFICATIONS_ID);
    assert!(ui.app.settings().notifications);
    Ok(())
}

#[test]
fn ctrl_digits_switch_tabs_without_typing_into_the_focused_field() -> TestResult {
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Active);
    ui.type_into(SEARCH_ID, "lu");
    ui.press_in(SEARCH_ID, Key::Character("2".into()), Modifiers::CTRL);
    assert_eq!(ui.app.tab(), Some(TabId::Pending));
    ui.assert_sees("Tomas Vidal");
    ui.press_in(SEARCH_ID, Key::Character("1".into()), Modifiers::CTRL);
    assert_eq!(ui.app.tab(), Some(TabId::Active));
    let texts = ui.texts();
    assert!(texts.iter().any(|t| t == "lu"), "the query is still “lu”");
    assert!(!texts.iter().any(|t| t.starts_with("lu") && t != "lu"));
    ui.clear(SEARCH_ID);

    // In the composer too: the draft keeps no digit.
    ui.click("Lucia Romero");
    ui.type_into(active::COMPOSER_ID, "On my way");
    ui.press_in(
        active::COMPOSER_ID,
        Key::Character("3".into()),
        Modifiers::CTRL,
    );
    assert_eq!(ui.app.tab(), Some(TabId::History));
    ui.press_in(SEARCH_ID, Key::Character("1".into()), Modifiers::CTRL);
    assert_eq!(ui.app.tab(), Some(TabId::Active));
    in_composer(&mut ui, key::Named::Enter, Modifiers::empty());
    assert_eq!(
        last_message(&mut ui, &demo.active_lucia)?.as_deref(),
        Some("On my way")
    );

    // Ctrl+K and Ctrl+N work from inside a field as well; plain digits type.
    ui.press_in(SEARCH_ID, Key::Character("n".into()), Modifiers::CTRL);
    assert!(ui.app.has_dialog());
    ui.shortcut(Shortcut::Escape);
    ui.press_in(SEARCH_ID, Key::Character("7".into()), Modifiers::empty());
    assert!(ui.texts().iter().any(|t| t == "7"));
    Ok(())
}

#[test]
fn a_chat_linked_by_an_email_the_visitor_typed_says_the_link_is_unverified() -> TestResult {
    use meshdesk_model::ops::{ContactSpec, CustomerSpec};
    let demo = Demo::new()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.call(Request::AddContact(ContactSpec {
        name: Some("Marta Ortiz".into()),
        emails: Some(vec!["marta.ortiz@example.com".into()]),
        ..ContactSpec::default()
    }))?;
    // A webchat visitor types Marta's email: nobody has checked it is hers.
    ui.call(Request::Intake {
        campaign: "General".into(),
        customer: CustomerSpec {
            id: None,
            name: Some("Visitor Vera".into()),
            email: Some("marta.ortiz@example.com".into()),
            phone: None,
            unverified: true,
        },
        message: "Where is my order?".into(),
        priority: 0,
    })?;
    ui.tab(TabId::Pending);
    ui.click("Visitor Vera");
    ui.assert_sees("Where is my order?");
    ui.assert_sees("contact unverified: the visitor typed this email");

    // A chat from a known customer through the forms carries no such mark.
    ui.click("Tomas Vidal");
    ui.assert_sees("Can I upgrade my plan?");
    ui.assert_not_sees("contact unverified: the visitor typed this email");
    Ok(())
}

/// Ana's computer (the seed; she is the supervisor, Carla a teammate) and
/// Bruno's, in step: Pablo García wrote in and Bruno took him.
struct BrunoHasPablo {
    seed: Seed,
    bruno_store: Store,
    bruno_dir: tempfile::TempDir,
    id: String,
}

fn bruno_has_pablo() -> Result<BrunoHasPablo, Box<dyn std::error::Error>> {
    let mut seed = Seed::new()?;
    let (bruno_dir, bruno) = seed.teammate_computer("Bruno")?;
    seed.teammate("Carla")?;
    seed.contact(
        "Pablo Garcia",
        Some("+34 600 999 888"),
        Some("pablo@example.com"),
        "Acme",
    )?;
    let id = seed.enqueue(
        "General",
        "pablo@example.com",
        "Pablo Garcia",
        "My line is dead",
    )?;
    let mut bruno_store = seed.teammate_store(bruno_dir.path(), &bruno)?;
    seed.run_on(
        &mut bruno_store,
        Request::Accept {
            id: id.parse().expect("an id"),
        },
    )?;
    seed.clock.advance(MINUTE);
    support::sync_stores(
        &mut seed.store,
        "ana-device",
        &mut bruno_store,
        "bruno-device",
    )?;
    Ok(BrunoHasPablo {
        seed,
        bruno_store,
        bruno_dir,
        id,
    })
}

#[test]
fn an_agent_sees_an_interaction_a_supervisor_pulled_back_leave_with_the_reason() -> TestResult {
    let BrunoHasPablo {
        seed,
        bruno_store,
        bruno_dir,
        id,
    } = bruno_has_pablo()?;
    let Seed {
        store: mut ana_store,
        clock,
        dir: ana_dir,
    } = seed;
    // Bruno's window, with Pablo's conversation open; his node listens on
    // the loopback.
    drop(bruno_store);
    let (mut ui, bruno_addr) = Ui::networked(bruno_dir, clock.clone())?;
    ui.tab(TabId::Active);
    ui.assert_sees("1 active");
    ui.click("Pablo Garcia");
    ui.assert_sees("My line is dead");
    ui.assert_not_sees("Take back…");

    // On Ana's computer: she pulls it back; then her node meets Bruno's.
    let later = Context {
        now: clock.now(),
        presence: None,
    };
    meshdesk_model::ops::execute(
        &mut ana_store,
        &later,
        Request::PullBack {
            id: id.parse().expect("an id"),
            reason: "Customer asked for a manager".into(),
        },
    )?;
    drop(ana_store);
    clock.advance(MINUTE);
    let ana = ui.teammate_node(ana_dir.path(), bruno_addr)?;
    ui.settle_until("Ana pulled Pablo Garcia back to the queue", 20_000);
    // The picture is taken once the two nodes agree.
    ui.settle_until("1 teammate · in sync", 20_000);
    ui.send(Message::Tick);
    ui.assert_sees("Ana pulled Pablo Garcia back to the queue: Customer asked for a manager");
    ui.assert_sees("0 active");
    // The conversation says so where it happened, and the banner why.
    ui.assert_sees("Returned to the queue by Ana, taken from Bruno: Customer asked for a manager");
    assert!(
        ui.app
            .notices()
            .iter()
            .any(|n| n.body.contains("pulled Pablo Garcia back to the queue")),
        "{:?}",
        ui.app.notices()
    );
    let mut failures = Vec::new();
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("pulled-back-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Told once: the next reads say nothing more.
    let toasts = ui.app.toasts().len();
    ui.send(Message::Tick);
    assert_eq!(ui.app.toasts().len(), toasts);
    ui.rt.block_on(ana.shutdown());
    Ok(())
}

#[test]
fn from_the_board_a_supervisor_takes_work_back_and_sets_a_teammate_offline() -> TestResult {
    let BrunoHasPablo {
        mut seed,
        mut bruno_store,
        ..
    } = bruno_has_pablo()?;
    // Bruno is at work, and his node said so.
    seed.run_on(
        &mut bruno_store,
        Request::SetStatus {
            status: meshdesk_model::AgentStatus::Available,
        },
    )?;
    support::sync_stores(
        &mut seed.store,
        "ana-device",
        &mut bruno_store,
        "bruno-device",
    )?;
    drop(bruno_store);
    let mut ui = Ui::open(seed)?;
    ui.shortcut(Shortcut::Tab(TabId::Board));
    ui.assert_sees("With agents now");
    ui.assert_sees("Pablo Garcia");
    // Keyboard only: ↓ picks the row, Ctrl+R asks to take it back.
    ui.shortcut(Shortcut::Down);
    ui.shortcut(Shortcut::TakeBack);
    ui.assert_sees("Take Pablo Garcia back");
    ui.click("Back to the queue");
    ui.type_into(take_back::REASON_ID, "Bruno left early");
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Took Pablo Garcia back from Bruno to the queue.");
    ui.settle_until("No interaction is with an agent.", 5_000);

    // Bruno's machine is gone: one click sets him Offline; Ana has no such
    // button for herself.
    ui.click("Set offline");
    ui.assert_sees("Bruno is Offline now.");
    let team: meshdesk_model::ops::TeamOverview = ui.ask(Request::ShowTeam)?;
    let bruno = team
        .agents
        .iter()
        .find(|a| a.name == "Bruno")
        .ok_or("no Bruno")?;
    assert_eq!(bruno.status, meshdesk_model::AgentStatus::Offline);
    ui.settle(100);
    assert!(!ui.sees("Set offline"), "no one left to set offline");
    Ok(())
}

#[test]
fn a_supervisor_hands_a_teammates_interaction_to_another_with_a_reason() -> TestResult {
    let BrunoHasPablo { seed, id, .. } = bruno_has_pablo()?;
    let mut ui = Ui::open(seed)?;
    // Bruno's conversation is reachable from the customer's profile.
    ui.tab(TabId::Phonebook);
    ui.click("Pablo Garcia");
    ui.click("General · My line is dead");
    assert_eq!(ui.app.tab(), Some(TabId::Active));
    ui.assert_sees("Now handled by Bruno.");
    ui.click("Take back…");
    ui.assert_sees("Take Pablo Garcia back");
    ui.assert_sees("Back to the queue");
    ui.assert_sees("Hand to Carla");
    ui.assert_not_sees("Hand to Bruno");
    // No reason: refused on the spot.
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Say why: the agent who loses it is told.");
    ui.click("Hand to Carla");
    ui.type_into(take_back::REASON_ID, "Bruno is off sick today");
    let mut failures = Vec::new();
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("take-back-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Handed Pablo Garcia from Bruno to Carla.");
    ui.assert_not_sees("Take Pablo Garcia back");
    let d: InteractionDetail = ui.ask(Request::ShowInteraction {
        id: id.parse().expect("an id"),
    })?;
    let last = d.interaction.transfers.last().ok_or("no hand-over")?;
    assert_eq!(last.kind, meshdesk_model::TransferKind::Hand);
    assert_eq!(last.reason, "Bruno is off sick today");
    assert_eq!(d.owner, None);
    Ok(())
}

#[test]
fn an_agent_returns_an_interaction_to_the_queue_with_a_reason() -> TestResult {
    let demo = Demo::new()?;
    let lucia = demo.active_lucia.clone();
    let mut ui = lucia_open(demo.seed)?;
    ui.click("…");
    ui.click("Return to queue…");
    ui.assert_sees("Return Lucia Romero to the queue");
    ui.shortcut(Shortcut::Escape);
    // Ctrl+R opens it from the keyboard, even with the composer focused
    // (which does not get the "r").
    ui.type_into(active::COMPOSER_ID, "One moment");
    ui.press_in(
        active::COMPOSER_ID,
        Key::Character("r".into()),
        Modifiers::CTRL,
    );
    ui.assert_sees("Return Lucia Romero to the queue");
    ui.shortcut(Shortcut::Escape);
    in_composer(&mut ui, key::Named::Enter, Modifiers::empty());
    assert_eq!(
        last_message(&mut ui, &lucia)?.as_deref(),
        Some("One moment")
    );
    ui.press_in(
        active::COMPOSER_ID,
        Key::Character("r".into()),
        Modifiers::CTRL,
    );
    ui.assert_sees("Return Lucia Romero to the queue");
    ui.assert_not_sees("Hand to Bruno");
    ui.type_into(take_back::REASON_ID, "Needs a Portuguese speaker");
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Returned Lucia Romero to the queue.");
    ui.assert_sees("1 active");
    ui.assert_sees("Returned to the queue by Ana: Needs a Portuguese speaker");
    let d: InteractionDetail = ui.ask(Request::ShowInteraction {
        id: lucia.parse().expect("an id"),
    })?;
    assert_eq!(d.state, meshdesk_model::InteractionState::Queued);
    // Her own return never tells her she lost it.
    assert!(!ui.app.toasts().iter().any(|t| t.contains("pulled")));
    // Back in General's queue for her teammates, not offered straight back to her.
    ui.tab(TabId::Pending);
    ui.assert_sees("2 waiting");
    ui.assert_sees("Tomas Vidal");
    let pending: Vec<InteractionRow> = ui.ask(Request::ListInteractions {
        tab: Tab::Pending,
        search: None,
        limit: None,
        history: Default::default(),
    })?;
    assert!(!pending.iter().any(|r| r.summary.id.to_string() == lucia));
    Ok(())
}
/// The demo with a call Bruno (a teammate) closed, as his device would have
/// synced it: General, Resolved, tagged vip, with the customer Bruno Diaz.
fn demo_with_a_teammates_closed_call() -> Result<Demo, Box<dyn std::error::Error>> {
    let mut demo = Demo::new()?;
    let store = &mut demo.seed.store;
    let ana = store.identity()?.ok_or("no identity")?;
    let bruno = store.agent_by_name("Bruno")?.ok_or("no Bruno")?;
    store.set_identity(&LocalIdentity {
        agent: bruno.id,
        ..ana.clone()
    })?;
    let contact = demo.bruno_contact.clone();
    let id = demo
        .seed
        .outbound("General", &contact, "About your renewal")?;
    let id: meshdesk_model::InteractionId = id.parse()?;
    demo.seed.run(Request::AddTag {
        id,
        tag: "vip".into(),
    })?;
    demo.seed.run(Request::Finalize {
        id,
        disposition: "Resolved".into(),
        note: None,
    })?;
    demo.seed.store.set_identity(&ana)?;
    Ok(demo)
}

#[test]
fn history_is_mine_or_the_teams_narrowed_by_filters_and_the_search() -> TestResult {
    let demo = demo_with_a_teammates_closed_call()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::History);
    // Mine by default: Ana's two, not Bruno's.
    ui.assert_sees("2 closed");
    ui.assert_sees("Hugo Navarro");
    ui.assert_sees("Sofia Torres");
    ui.assert_not_sees("Bruno Diaz");
    ui.click("Team");
    ui.assert_sees("3 closed");
    ui.assert_sees("Bruno Diaz");

    // A disposition from its first letters, then the search on top.
    ui.type_into(history::DISPOSITION_ID, "res");
    ui.assert_sees("2 closed");
    ui.assert_sees("Bruno Diaz");
    ui.assert_not_sees("Sofia Torres");
    ui.type_into(SEARCH_ID, "invoice");
    ui.assert_sees("1 matching “invoice”");
    ui.assert_sees("Hugo Navarro");
    ui.assert_not_sees("Bruno Diaz");
    ui.clear(SEARCH_ID);
    ui.type_into(history::TAG_ID, "VIP");
    ui.assert_sees("1 closed");
    ui.assert_sees("Resolved · tag VIP");
    ui.assert_sees("Bruno Diaz");
    ui.assert_not_sees("Hugo Navarro");

    // What names nothing says so, and the list keeps the last filter.
    ui.type_into(history::CAMPAIGN_ID, "zz");
    ui.assert_sees("No campaign starts with “zz”");
    ui.assert_sees("Bruno Diaz");
    ui.clear(history::CAMPAIGN_ID);
    ui.assert_not_sees("No campaign starts with “zz”");
    ui.type_into(history::CHANNEL_ID, "web");
    ui.assert_sees("No closed interaction matches.");
    ui.clear(history::CHANNEL_ID);
    ui.type_into(history::SINCE_ID, "last week");
    ui.assert_sees("Not a day: use YYYY-MM-DD");
    ui.clear(history::SINCE_ID);
    // The seed's clock is in 2026: nothing closed before 2001.
    ui.type_into(history::UNTIL_ID, "2000-12-31");
    ui.assert_sees("No closed interaction matches.");
    ui.click("Clear filters");
    ui.assert_sees("3 closed");
    ui.assert_sees("Sofia Torres");

    // Ctrl+Shift+M goes back to Mine; Tab moves between the fields.
    ui.shortcut(Shortcut::Whose);
    ui.assert_sees("2 closed");
    ui.assert_not_sees("Bruno Diaz");
    use meshdesk::gui::shortcut;
    assert_eq!(
        shortcut(
            &Key::Character("M".into()),
            Modifiers::CTRL | Modifiers::SHIFT,
            false
        ),
        Some(Shortcut::Whose)
    );
    assert_eq!(
        shortcut(&Key::Named(key::Named::Tab), Modifiers::empty(), false),
        Some(Shortcut::NextField)
    );
    assert_eq!(
        shortcut(&Key::Named(key::Named::Tab), Modifiers::SHIFT, false),
        Some(Shortcut::PreviousField)
    );
    Ok(())
}

#[test]
fn snapshots_of_history_with_its_filters_light_and_dark() -> TestResult {
    let demo = demo_with_a_teammates_closed_call()?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::History);
    ui.click("Team");
    ui.type_into(history::DISPOSITION_ID, "Resolved");
    ui.type_into(history::CAMPAIGN_ID, "gen");
    ui.type_into(history::SINCE_ID, "2020-01-01");
    ui.click("Bruno Diaz");
    ui.assert_sees("2 closed");
    ui.assert_sees("General · Resolved · from 2020-01-01");
    let mut failures = Vec::new();
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("history-filters-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

/// How many texts on screen are exactly `label`.
fn exactly(ui: &Ui, label: &str) -> usize {
    ui.texts().iter().filter(|t| *t == label).count()
}

/// Ana's store with a teammate, Bruno, who mentioned her in a note on her
/// active interaction with Pablo and in their direct chat (written as his
/// device's sync would write them); the interaction's id.
fn bruno_mentions_ana(seed: &mut Seed) -> Result<String, Box<dyn std::error::Error>> {
    let bruno: meshdesk_model::AgentId = seed.teammate("Bruno")?.parse()?;
    let id = seed.enqueue(
        "General",
        "+34 600 999 888",
        "Pablo Garcia",
        "My line is dead",
    )?;
    let interaction: meshdesk_model::InteractionId = id.parse()?;
    seed.run(Request::Accept { id: interaction })?;
    let note = meshdesk_model::Note {
        agent: bruno,
        at: seed.clock.now(),
        text: "@Ana he was promised a refund last week, can you approve it?".into(),
    };
    seed.store.write_doc(
        &meshdesk_model::doc::DocId::Interaction(interaction),
        false,
        move |d| meshdesk_model::doc::interaction::add_note(d, &note),
    )?;
    seed.clock.advance(MINUTE);
    let ana = seed.store.identity()?.ok_or("no team")?.agent;
    let m = meshdesk_model::ChatMessage {
        id: meshdesk_model::MessageId::new(),
        author: bruno,
        at: seed.clock.now(),
        body: "@ana can you cover the 11:00 call? (mail me at bruno@example.com)".into(),
    };
    seed.store.write_doc(
        &meshdesk_model::doc::DocId::room_at(meshdesk_model::RoomKey::direct(ana, bruno), m.at),
        true,
        move |d| meshdesk_model::doc::room::add_message(d, &m),
    )?;
    seed.clock.advance(MINUTE);
    Ok(id)
}

#[test]
fn mentions_show_with_a_badge_open_seen_and_jump_to_their_conversation() -> TestResult {
    let mut seed = Seed::new()?;
    bruno_mentions_ana(&mut seed)?;
    let mut ui = Ui::open(seed)?;
    assert!(
        ui.app.notices().is_empty(),
        "opening the app announces nothing"
    );
    // One unread chat room and two unseen mentions.
    assert_eq!(next_to(&ui, "Contacts & chat").as_deref(), Some("3"));
    ui.tab(TabId::Contacts);
    ui.assert_sees("2 new mentions");
    ui.click("Mentions");
    ui.settle(100);
    ui.assert_sees("Note in Pablo Garcia");
    ui.assert_sees("Chat with Bruno");
    ui.assert_sees("@Ana he was promised a refund last week, can you approve it?");
    assert_eq!(exactly(&ui, "New"), 2, "both are new");
    let mut failures = Vec::new();
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("mentions-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Opening the view saw them: only the unread room counts now.
    assert_eq!(next_to(&ui, "Contacts & chat").as_deref(), Some("1"));
    ui.assert_not_sees("2 new mentions");
    // The chat mention opens the room.
    ui.click("Open chat");
    ui.assert_not_sees("Chat with Bruno");
    ui.assert_sees("@ana can you cover the 11:00 call? (mail me at bruno@example.com)");
    // Seen stays seen; the note's mention opens the interaction in Active.
    ui.click("Mentions");
    ui.settle(100);
    assert_eq!(exactly(&ui, "New"), 0);
    ui.click("Open conversation");
    ui.settle(100);
    assert_eq!(ui.app.tab(), Some(TabId::Active));
    ui.assert_sees("My line is dead");
    Ok(())
}

#[test]
fn the_mentions_entry_is_reached_with_the_keyboard() -> TestResult {
    let mut seed = Seed::new()?;
    bruno_mentions_ana(&mut seed)?;
    let mut ui = Ui::open(seed)?;
    ui.tab(TabId::Contacts);
    ui.shortcut(Shortcut::Down);
    ui.shortcut(Shortcut::Enter);
    ui.settle(100);
    ui.assert_sees("Note in Pablo Garcia");
    Ok(())
}

#[test]
fn a_mention_from_a_teammates_node_raises_a_toast_and_a_notice_and_shows_in_the_open_view()
-> TestResult {
    let mut seed = Seed::new()?;
    let (bruno_dir, bruno) = seed.teammate_computer("Bruno")?;
    let id = seed.enqueue(
        "General",
        "+34 600 999 888",
        "Pablo Garcia",
        "My line is dead",
    )?;
    let mut bruno_store = seed.teammate_store(bruno_dir.path(), &bruno)?;
    // Bruno writes while the two are apart.
    seed.run_on(
        &mut bruno_store,
        Request::AddNote {
            id: id.parse()?,
            text: "@ana can you approve his refund?".into(),
        },
    )?;
    drop(bruno_store);
    seed.clock.advance(MINUTE);

    let Seed { store, clock, dir } = seed;
    drop(store);
    let (mut ui, ana_addr) = Ui::networked(dir, clock)?;
    // Ana is looking at her (empty) mentions.
    ui.tab(TabId::Contacts);
    ui.click("Mentions");
    ui.settle(100);
    ui.assert_sees("No mentions yet");
    assert!(ui.app.notices().is_empty());

    // The two computers meet: Bruno's node dials Ana's.
    let bruno_node = ui.teammate_node(bruno_dir.path(), ana_addr)?;
    ui.settle_until("Bruno mentioned you", 20_000);
    let last = ui.app.notices().last().cloned().ok_or("no notice")?;
    assert_eq!(last.title, "Bruno mentioned you");
    assert_eq!(
        last.body,
        "in Pablo Garcia: @ana can you approve his refund?"
    );
    // The open view shows it at once, and so it is seen: no badge stays.
    ui.settle_until("Note in Pablo Garcia", 5_000);
    ui.assert_sees("@ana can you approve his refund?");
    ui.settle(200);
    assert_eq!(next_to(&ui, "Contacts & chat"), Some("Phonebook".into()));
    ui.assert_sees("Where teammates wrote @ your name");
    ui.rt.block_on(bruno_node.shutdown());
    Ok(())
}

/// The tags an interaction carries, as the store has them.
fn tags_of(ui: &mut Ui, id: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let d: InteractionDetail = ui.ask(Request::ShowInteraction { id: id.parse()? })?;
    Ok(d.interaction.tags.into_iter().collect())
}

#[test]
fn tags_are_added_with_completion_shown_on_rows_removed_and_filtered_with_tag_words() -> TestResult
{
    let mut demo = Demo::new()?;
    // Tags already in use in the team: what the field completes from.
    for (id, tag) in [
        (&demo.active_marta, "vip-customer"),
        (&demo.closed_hugo, "refund"),
    ] {
        demo.seed.run(Request::AddTag {
            id: id.parse()?,
            tag: tag.into(),
        })?;
    }
    demo.seed.run(Request::EditContact {
        id: demo.marta.parse()?,
        changes: meshdesk_model::ops::ContactSpec {
            tags: Some(vec!["vip-customer".into(), "spanish".into()]),
            ..Default::default()
        },
    })?;
    let lucia = demo.active_lucia.clone();
    let mut ui = lucia_open(demo.seed)?;
    // Marta's row carries her tag.
    ui.assert_sees("vip-customer");
    assert_eq!(exactly(&ui, "vip-customer"), 1);

    // "vi" offers the tag in use (with its uses: an interaction and a
    // contact); ↓ highlights it, Tab takes it, Enter adds it.
    ui.type_into(tags::INPUT_ID, "vi");
    ui.assert_sees("vip-customer · 2");
    ui.assert_not_sees("refund · 1");
    ui.shortcut(Shortcut::Down);
    ui.shortcut(Shortcut::NextField);
    // In the field now, beside Marta's chip.
    assert_eq!(exactly(&ui, "vip-customer"), 2, "{:#?}", ui.texts());
    ui.press_in(
        tags::INPUT_ID,
        Key::Named(key::Named::Enter),
        Modifiers::empty(),
    );
    ui.settle(100);
    assert_eq!(tags_of(&mut ui, &lucia)?, ["vip-customer"]);
    // Both rows show it now, and so do the header and the card beside.
    assert_eq!(exactly(&ui, "vip-customer"), 4, "{:#?}", ui.texts());

    // A tag typed whole is added with Enter; Esc cancels one half typed.
    ui.type_into(tags::INPUT_ID, "re");
    ui.assert_sees("refund · 1");
    let mut failures = Vec::new();
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("tags-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    ui.shortcut(Shortcut::Escape);
    ui.assert_not_sees("refund · 1");
    ui.type_and_enter(tags::INPUT_ID, "callback");
    ui.settle(100);
    assert_eq!(tags_of(&mut ui, &lucia)?, ["callback", "vip-customer"]);

    // `tag:` narrows the list to what carries it.
    ui.type_into(SEARCH_ID, "tag:callback");
    ui.settle(100);
    ui.assert_sees("1 matching “tag:callback”");
    ui.clear(SEARCH_ID);
    ui.type_into(SEARCH_ID, "tag:vip");
    ui.settle(100);
    ui.assert_sees("2 matching “tag:vip”");
    ui.clear(SEARCH_ID);
    ui.settle(100);

    // × removes one: gone from the store, the header and the row.
    ui.click("×");
    ui.settle(100);
    assert_eq!(tags_of(&mut ui, &lucia)?, ["vip-customer"]);
    ui.assert_not_sees("callback");

    // Contacts' tags look the same on the phonebook's rows, and filter it too.
    ui.tab(TabId::Phonebook);
    ui.type_into(SEARCH_ID, "tag:spanish");
    ui.settle(100);
    ui.assert_sees("Marta Ruiz");
    ui.assert_sees("spanish");
    ui.assert_not_sees("Bruno Diaz");
    ui.click("Marta Ruiz");
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("tags-phonebook-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

#[test]
fn a_callback_leaves_active_shows_under_snoozed_and_comes_back_once_with_a_notice() -> TestResult {
    let demo = Demo::new()?;
    let lucia = demo.active_lucia.clone();
    let mut ui = lucia_open(demo.seed)?;
    ui.assert_sees("2 active");
    ui.click("…");
    ui.click("Schedule callback…");
    ui.assert_sees("Schedule a callback with Lucia Romero");
    // Nothing said: the dialog says what is missing and stays.
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Say when: a length like 2h or 45m, or a time like 2026-12-03 09:00.");
    ui.click("In 1 hour");
    ui.type_into(snooze::NOTE_ID, "Call her about the refund");
    let mut failures = Vec::new();
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("snooze-dialog-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    ui.shortcut(Shortcut::Enter);
    assert!(
        ui.app
            .toasts()
            .iter()
            .any(|t| t.starts_with("Callback with Lucia Romero scheduled for")),
        "{:?}",
        ui.app.toasts()
    );
    // Out of Active, under the Snoozed line with when and why.
    ui.assert_sees("1 active");
    ui.assert_sees("Snoozed (1)");
    assert!(
        !active(&mut ui)?
            .iter()
            .any(|r| r.summary.id.to_string() == lucia)
    );
    ui.click("Snoozed (1)");
    ui.assert_sees("1 snoozed");
    ui.click("Lucia Romero");
    ui.assert_sees("Unsnooze");
    ui.assert_sees("Call her about the refund");
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("snoozed-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    ui.click("← Back to Active");
    ui.assert_sees("1 active");

    // The hour passes: the node says so, it is back in Active with a notice, once.
    ui.clock.advance(60 * MINUTE);
    ui.settle_until("2 active", 10_000);
    let due = |ui: &Ui| {
        ui.app
            .toasts()
            .iter()
            .filter(|t| t.contains("Lucia Romero: Callback due now: Call her about the refund"))
            .count()
    };
    for _ in 0..20 {
        if due(&ui) > 0 {
            break;
        }
        ui.settle(100);
    }
    assert_eq!(due(&ui), 1, "{:?}", ui.app.toasts());
    ui.assert_not_sees("Snoozed (1)");
    ui.tick(3);
    ui.settle(1_500);
    assert_eq!(due(&ui), 1, "{:?}", ui.app.toasts());
    Ok(())
}
