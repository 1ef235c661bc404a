//! Merging contacts across real nodes: a merge made on A reaches B, where
//! the phonebook lists the kept contact once with both contacts'
//! interactions; two nodes that merge the same two contacts opposite ways
//! while apart agree, once they meet, on which one is kept.

use std::time::Duration;

use meshdesk_tests::{Device, team_of_two, wait_until};

fn add_contact(device: &Device, name: &str, phone: &str) -> String {
    device.json(&["contact", "add", "--name", name, "--phone", phone])["id"]
        .as_str()
        .expect("a contact id")
        .to_string()
}

fn call(device: &Device, contact: &str, message: &str) -> String {
    device.json(&[
        "interaction",
        "new",
        "--channel",
        "phone",
        "--campaign",
        "General",
        "--contact",
        contact,
        "--message",
        message,
    ])["id"]
        .as_str()
        .expect("an interaction id")
        .to_string()
}

/// The ids the phonebook lists, in its order.
fn phonebook(device: &Device) -> Vec<String> {
    device
        .json(&["contact", "list"])
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_merge_on_a_shows_on_b_with_both_contacts_interactions_and_unmerges_there() {
    let (a, b) = team_of_two();
    let marta = add_contact(&a, "Marta Ruiz", "+34 600 100 200");
    let twin = add_contact(&a, "M. Ruiz", "+34 600 999 000");
    let first = call(&a, &marta, "Calling about your order");
    let second = call(&a, &twin, "About the refund");
    assert!(
        wait_until(Duration::from_secs(30), || phonebook(&b).len() == 2),
        "B never saw both contacts\n--- B's log ---\n{}",
        b.log()
    );

    a.ok(&["contact", "merge", &marta, &twin]);
    assert_eq!(phonebook(&a), vec![marta.clone()]);
    assert!(
        wait_until(Duration::from_secs(30), || phonebook(&b)
            == vec![marta.clone()]),
        "B never saw the merge\n--- B's log ---\n{}",
        b.log()
    );
    // On B, the kept contact holds both, whichever id is asked for.
    for id in [&marta, &twin] {
        let shown = b.ok(&["contact", "show", id]);
        assert!(
            shown.contains(&format!("Contact Marta Ruiz ({marta})")),
            "{shown}"
        );
        assert!(
            shown.contains("+34 600 100 200, +34 600 999 000"),
            "{shown}"
        );
        assert!(shown.contains("Merged from (1):"), "{shown}");
        assert!(shown.contains(&twin), "{shown}");
        assert!(shown.contains("Interactions (2):"), "{shown}");
        assert!(shown.contains(&first) && shown.contains(&second), "{shown}");
    }
    // B's search for the absorbed one's number finds the kept contact.
    let found = b.json(&["contact", "list", "--search", "600 999"]);
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found[0]["id"], marta.as_str());

    // Refused on B with a reason, nothing written: it is merged already.
    let refused = b.run(&["contact", "merge", &twin, &marta]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("already merged into contact"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // B undoes it; A lists both again.
    b.ok(&["contact", "unmerge", &twin]);
    assert!(
        wait_until(Duration::from_secs(30), || phonebook(&a).len() == 2),
        "A never saw the unmerge\n--- A's log ---\n{}",
        a.log()
    );
    assert!(
        a.ok(&["contact", "show", &twin])
            .contains("Interactions (1):")
    );
}

#[test]
fn opposite_merges_made_apart_converge_on_one_kept_contact_when_they_meet() {
    let (a, mut b) = team_of_two();
    let p = add_contact(&a, "Pablo Gil", "+34 622 000 001");
    let q = add_contact(&a, "P. Gil", "+34 622 000 002");
    call(&a, &p, "First call");
    call(&a, &q, "Second call");
    assert!(
        wait_until(Duration::from_secs(30), || phonebook(&b).len() == 2),
        "B never saw both contacts\n--- B's log ---\n{}",
        b.log()
    );

    // Apart: B's node is off; each side merges the other way.
    b.stop();
    a.ok(&["contact", "merge", &p, &q]);
    b.ok(&["contact", "merge", &q, &p]);
    assert_eq!(phonebook(&a), vec![p.clone()]);
    assert_eq!(phonebook(&b), vec![q.clone()]);

    // They meet: both keep the same one, the smaller id, with both calls.
    b.start(&[a.addr()]);
    let kept = p.clone().min(q.clone());
    for (device, other) in [(&a, &b), (&b, &a)] {
        assert!(
            wait_until(Duration::from_secs(30), || phonebook(device)
                == vec![kept.clone()]),
            "{:?} never converged\n--- log ---\n{}\n--- other's log ---\n{}",
            phonebook(device),
            device.log(),
            other.log()
        );
        let shown = device.ok(&["contact", "show", &kept]);
        assert!(shown.contains("Interactions (2):"), "{shown}");
        assert!(shown.contains("Merged from (1):"), "{shown}");
    }
}
