//! Mailbox… in the window (supervisors): the rail's Team menu opens the
//! form; Test says which server failed and why; Save keeps the mailbox in
//! the team and the password on this device.

mod support;

use meshdesk::gui::Message;
use meshdesk::gui::inbox::{Message as InboxMessage, TeamAction};
use meshdesk::gui::modal::{self, mailbox};
use meshdesk_model::{ChannelKind, Strategy};
use support::{Demo, TestResult, Ui, campaign};

fn edit(ui: &mut Ui, field: mailbox::Field, value: &str) {
    ui.send(Message::Inbox(InboxMessage::Modal(
        modal::Message::Mailbox(mailbox::Message::Edit(field, value.to_string())),
    )));
}

#[test]
fn a_supervisor_tests_and_saves_a_mailbox_from_the_window() -> TestResult {
    let mut demo = Demo::new()?;
    demo.seed.campaign(campaign(
        "Mail",
        ChannelKind::Email,
        Strategy::RingAll,
        &["Ana"],
        &["Solved"],
        &[],
        0,
    ))?;
    let mut ui = Ui::open(demo.seed)?;
    ui.send(Message::Inbox(InboxMessage::TeamMenu(TeamAction::Mailbox)));
    ui.assert_sees("IMAP (incoming)");
    // Nothing listens on this port: both servers fail, each says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    drop(std::net::TcpListener::bind(("127.0.0.1", closed)));
    for (field, value) in [
        (mailbox::Field::Address, "support@example.com"),
        (mailbox::Field::ImapHost, "127.0.0.1"),
        (mailbox::Field::ImapUser, "support"),
        (mailbox::Field::SmtpHost, "127.0.0.1"),
        (mailbox::Field::SmtpUser, "support"),
        (mailbox::Field::Password, "wrong"),
    ] {
        edit(&mut ui, field, value);
    }
    edit(&mut ui, mailbox::Field::ImapPort, &closed.to_string());
    edit(&mut ui, mailbox::Field::SmtpPort, &closed.to_string());
    ui.click("Test");
    ui.settle_until("cannot connect to 127.0.0.1", 30_000);
    ui.assert_sees(&format!("cannot connect to 127.0.0.1:{closed}"));
    // A port that is not one is named before anything is tried.
    edit(&mut ui, mailbox::Field::SmtpPort, "seventy");
    ui.click("Save");
    ui.assert_sees("The SMTP port is a number from 1 to 65535.");
    edit(&mut ui, mailbox::Field::SmtpPort, "587");
    ui.click("Save");
    ui.settle_until("Mailbox saved", 20_000);
    ui.assert_not_sees("IMAP (incoming)");
    // Opened again, the form shows what the team holds.
    ui.send(Message::Inbox(InboxMessage::TeamMenu(TeamAction::Mailbox)));
    ui.assert_sees("support@example.com");
    Ok(())
}
