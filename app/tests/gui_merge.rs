//! Merge… in the Phonebook, driven as an agent would (iced_test's
//! simulator over a real store): find the other entry of the same customer,
//! see what will combine, merge, see the profile "Merged from" it with both
//! entries' interactions, and Unmerge it again.

mod support;

use meshdesk::gui::modal::merge;
use meshdesk::gui::{SEARCH_ID, Shortcut, TabId, theme};
use support::{Demo, TestResult, Ui};

#[test]
fn merge_finds_the_twin_shows_what_combines_and_unmerge_gives_it_back() -> TestResult {
    let mut demo = Demo::new()?;
    // The same customer, entered again from another channel, with a call of her own.
    let twin = demo.seed.contact(
        "M. Ruiz",
        Some("+34 600 999 000"),
        Some("mruiz@work.example"),
        "",
    )?;
    demo.seed
        .outbound("General", &twin, "Following up on the refund")?;
    let mut ui = Ui::open(demo.seed)?;
    ui.tab(TabId::Phonebook);
    ui.assert_sees("4 contacts");
    ui.click("Marta Ruiz");
    ui.click("Merge…");
    ui.assert_sees("Merge into Marta Ruiz");
    // Enter before picking says what is missing and stays.
    ui.shortcut(Shortcut::Enter);
    ui.assert_sees("Pick the entry to merge in first.");
    // Found by her other phone number; Marta herself is never offered.
    ui.type_into(merge::SEARCH_ID, "600 999");
    ui.assert_sees("M. Ruiz");
    ui.click("M. Ruiz");
    ui.assert_sees("M. Ruiz will show as Marta Ruiz");
    ui.assert_sees("+34 600 100 200, +34 600 999 000");
    ui.assert_sees("marta@example.com, mruiz@work.example");
    ui.assert_sees("2 interactions");
    let mut failures = Vec::new();
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("merge-dialog-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }

    ui.click("Merge");
    ui.assert_sees("Merged M. Ruiz into Marta Ruiz.");
    ui.assert_sees("3 contacts");
    ui.assert_sees("Merged from");
    ui.assert_sees("Unmerge");
    // Both entries' interactions, under the one that stayed.
    ui.assert_sees("General · Calling about your order");
    ui.assert_sees("General · Following up on the refund");
    for (mode, theme) in [("light", theme::light()), ("dark", theme::dark())] {
        if let Err(e) = ui.snapshot(&format!("merged-profile-{mode}"), &theme) {
            failures.push(e.to_string());
        }
    }
    // The absorbed entry's email finds Marta, once.
    ui.type_into(SEARCH_ID, "mruiz@work");
    ui.assert_sees("1 matching “mruiz@work”");
    ui.clear(SEARCH_ID);
    ui.assert_sees("3 contacts");
    ui.click("Unmerge");
    ui.assert_sees("Unmerged M. Ruiz: it is in the phonebook again.");
    ui.assert_sees("4 contacts");
    ui.assert_not_sees("Merged from");
    ui.assert_not_sees("General · Following up on the refund");
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}
