//! Desktop notifications for what arrives from elsewhere: an interaction
//! offered to this agent, a customer's message in one of the agent's active
//! interactions, a teammate's chat message, and one of the agent's
//! interactions taken back by a supervisor (with the reason), an `@`
//! mention of this agent in a teammate's note or chat message, and a
//! snooze or callback of the agent's that came due.
//!
//! Two halves:
//!
//! - [`Watch`] decides what fires. It is pure: it keeps what the shell last
//!   read of the Active and Pending lists and of the chat rooms, and compares
//!   each new read with it. The first read of each is only a baseline, so
//!   opening the app announces nothing; the agent's own actions never fire
//!   (sending does not raise the unread count, a chat message of one's own is
//!   skipped, and an interaction the agent had in Active and put back in a
//!   queue is not "offered"). The shell leaves out a notice about the
//!   conversation the agent has open in the focused window: they are reading it.
//! - [`Notifier`] shows them: a thread of its own talks to the desktop's
//!   notification service (D-Bus on Linux), so the window never waits for it.
//!   The notification asks the service for the "message-new-instant" sound.
//!   A desktop without the service is logged once, never shown as an error.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;

use meshdesk_model::mentions::MentionPlace;
use meshdesk_model::ops::{InteractionDetail, InteractionRow, MentionRow};
use meshdesk_model::projection::RoomSummary;
use meshdesk_model::{AgentId, InteractionId, RoomKey, TransferKind, TransferTarget};

/// More new items of one kind than this at once are announced together.
const GROUP_OVER: usize = 3;
/// The longest body shown.
const BODY_CHARS: usize = 140;

/// One desktop notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
    /// The conversation it is about (none for a grouped notice): while the
    /// agent has that conversation open in a focused window, it is not shown.
    pub about: Option<Subject>,
}

/// A conversation a notice can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Interaction(InteractionId),
    Room(RoomKey),
}

/// What the shell last read, to tell what is new.
#[derive(Debug, Default)]
pub struct Watch {
    /// Pending rows offered to this agent.
    offered: Option<BTreeSet<InteractionId>>,
    /// This agent's active interactions and their unread counts.
    unread: Option<BTreeMap<InteractionId, u32>>,
    /// Messages per chat room.
    rooms: Option<BTreeMap<RoomKey, u32>>,
    /// Interactions that left Active since the last look: the shell reads
    /// each to tell whether someone took it from this agent.
    left: Vec<InteractionId>,
    /// The unseen mentions of this agent last read.
    mentions: Option<BTreeSet<String>>,
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(BODY_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

fn grouped(mut notices: Vec<Notice>, title: impl FnOnce(usize) -> String) -> Vec<Notice> {
    if notices.len() <= GROUP_OVER {
        return notices;
    }
    let n = notices.len();
    notices.truncate(GROUP_OVER);
    let body = notices
        .iter()
        .map(|n| n.title.clone())
        .collect::<Vec<_>>()
        .join(", ");
    vec![Notice {
        title: title(n),
        body: format!("{body}, …"),
        about: None,
    }]
}

impl Watch {
    /// A new read of the Pending list: offers to this agent not seen before.
    pub fn pending(&mut self, rows: &[InteractionRow]) -> Vec<Notice> {
        let now: BTreeSet<InteractionId> = rows
            .iter()
            .filter(|r| r.offer.is_some())
            .map(|r| r.summary.id)
            .collect();
        let Some(before) = self.offered.replace(now) else {
            return vec![];
        };
        let mine = self.unread.as_ref();
        let fresh: Vec<Notice> = rows
            .iter()
            .filter(|r| r.offer.is_some() && !before.contains(&r.summary.id))
            .filter(|r| !mine.is_some_and(|m| m.contains_key(&r.summary.id)))
            .map(|r| Notice {
                title: r.summary.contact_name.clone(),
                body: format!(
                    "Offered to you in {}: {}",
                    r.campaign_name,
                    clip(&r.summary.last_message_preview)
                ),
                about: Some(Subject::Interaction(r.summary.id)),
            })
            .collect();
        grouped(fresh, |n| format!("{n} interactions offered to you"))
    }

    /// A new read of the Active list: customers' messages since the last read.
    pub fn active(&mut self, rows: &[InteractionRow]) -> Vec<Notice> {
        let now: BTreeMap<InteractionId, u32> =
            rows.iter().map(|r| (r.summary.id, r.unread)).collect();
        let Some(before) = self.unread.replace(now) else {
            return vec![];
        };
        let still: BTreeSet<InteractionId> = rows.iter().map(|r| r.summary.id).collect();
        self.left
            .extend(before.keys().filter(|id| !still.contains(id)).copied());
        // An interaction new to Active came by this agent's own accept or
        // start: only a rise in one already there is a message from elsewhere.
        let fresh: Vec<Notice> = rows
            .iter()
            .filter(|r| before.get(&r.summary.id).is_some_and(|&u| r.unread > u))
            .map(|r| Notice {
                title: r.summary.contact_name.clone(),
                body: clip(&r.summary.last_message_preview),
                about: Some(Subject::Interaction(r.summary.id)),
            })
            .collect();
        grouped(fresh, |n| format!("New messages in {n} interactions"))
    }

    /// A new read of this agent's unseen mentions: those not there before.
    /// A mention seen meanwhile (the Mentions view opened) leaves the set
    /// and never comes back as unseen, so nothing fires twice.
    pub fn mentions(&mut self, rows: &[MentionRow]) -> Vec<Notice> {
        let now: BTreeSet<String> = rows.iter().map(|m| m.id.clone()).collect();
        let Some(before) = self.mentions.replace(now) else {
            return vec![];
        };
        let fresh: Vec<Notice> = rows
            .iter()
            .filter(|m| !before.contains(&m.id))
            .map(|m| Notice {
                title: format!("{} mentioned you", m.author_name),
                body: format!("in {}: {}", m.title, clip(&m.text)),
                about: Some(match m.place {
                    MentionPlace::Note { interaction } => Subject::Interaction(interaction),
                    MentionPlace::Chat { room } => Subject::Room(room),
                }),
            })
            .collect();
        grouped(fresh, |n| format!("You were mentioned {n} times"))
    }

    /// The interactions that left Active since this was last asked.
    pub fn take_left(&mut self) -> Vec<InteractionId> {
        std::mem::take(&mut self.left)
    }

    /// A new read of this agent's chat rooms: teammates' messages since the
    /// last read. `title` names a message's room and author.
    pub fn rooms(
        &mut self,
        rooms: &[RoomSummary],
        me: AgentId,
        title: impl Fn(&RoomSummary) -> String,
    ) -> Vec<Notice> {
        let now: BTreeMap<RoomKey, u32> = rooms.iter().map(|r| (r.room, r.message_count)).collect();
        let Some(before) = self.rooms.replace(now) else {
            return vec![];
        };
        let fresh: Vec<Notice> = rooms
            .iter()
            .filter(|r| r.message_count > before.get(&r.room).copied().unwrap_or(0))
            .filter(|r| r.last_author.is_some_and(|a| a != me))
            .map(|r| Notice {
                title: title(r),
                body: clip(&r.last_message_preview),
                about: Some(Subject::Room(r.room)),
            })
            .collect();
        grouped(fresh, |n| format!("New chat messages in {n} rooms"))
    }
}

/// The agent's snoozes that came due (each read once per device, so
/// nothing here fires twice): back in Active, or a callback to make now.
pub fn snoozes_due(rows: &[InteractionRow]) -> Vec<Notice> {
    let fresh: Vec<Notice> = rows
        .iter()
        .filter_map(|r| {
            let z = r.summary.snooze.as_ref()?;
            let what = match z.kind {
                meshdesk_model::SnoozeKind::Snooze => "Snooze over: back in Active",
                meshdesk_model::SnoozeKind::Callback => "Callback due now",
            };
            let title = if r.summary.contact_name.is_empty() {
                r.summary.address.clone()
            } else {
                r.summary.contact_name.clone()
            };
            Some(Notice {
                title,
                body: if z.note.is_empty() {
                    format!("{what}.")
                } else {
                    format!("{what}: {}", clip(&z.note))
                },
                about: None,
            })
        })
        .collect();
    grouped(fresh, |n| format!("{n} snoozed interactions are back"))
}

/// What tells an agent that an interaction was taken from them: a
/// supervisor pulled it back to the queue or handed it to someone else.
/// `None` when it left their Active for any other reason (their own
/// transfer, return or finalize, a lost claim).
pub fn taken_back(detail: &InteractionDetail, me: AgentId, who: &str) -> Option<Notice> {
    let i = &detail.interaction;
    let (_, t) = i.last_take_back_from(me)?;
    let name = |a: AgentId| {
        detail
            .agent_names
            .get(&a)
            .cloned()
            .unwrap_or_else(|| a.to_string())
    };
    let by = name(t.from);
    let what = match t.to {
        TransferTarget::Agent(to) if t.kind == TransferKind::Hand => {
            format!("{by} handed {who} to {}", name(to))
        }
        _ => format!("{by} pulled {who} back to the queue"),
    };
    Some(Notice {
        title: who.to_string(),
        body: if t.reason.is_empty() {
            format!("{what}.")
        } else {
            format!("{what}: {}", clip(&t.reason))
        },
        about: Some(Subject::Interaction(i.id)),
    })
}

/// Shows notices on the desktop from a thread of its own.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Notice>,
}

impl Notifier {
    /// Starts the thread; `None` (logged) if it cannot start.
    pub fn desktop() -> Option<Notifier> {
        let (tx, rx) = mpsc::channel::<Notice>();
        let spawned = std::thread::Builder::new()
            .name("meshdesk-notify".into())
            .spawn(move || {
                let mut warned = false;
                while let Ok(notice) = rx.recv() {
                    if let Err(e) = show(&notice) {
                        if warned {
                            tracing::debug!("desktop notification not shown: {e}");
                        } else {
                            warned = true;
                            tracing::warn!(
                                "desktop notifications are unavailable (no notification service?): {e}"
                            );
                        }
                    }
                }
            });
        match spawned {
            Ok(_) => Some(Notifier { tx }),
            Err(e) => {
                tracing::warn!("cannot start the notification thread: {e}");
                None
            }
        }
    }

    /// Queues a notice; never waits.
    pub fn send(&self, notice: Notice) {
        let _ = self.tx.send(notice);
    }
}

/// Notification servers may render a body's markup (a subset of HTML): a
/// visitor's `<a href>` or `<img>` must show as the text it is.
fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn show(notice: &Notice) -> Result<(), notify_rust::error::Error> {
    notify_rust::Notification::new()
        .appname("meshdesk")
        .summary(&notice.title)
        .body(&escape_markup(&notice.body))
        .sound_name("message-new-instant")
        .show()
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitors_markup_reaches_the_notification_server_as_text() {
        assert_eq!(
            escape_markup("<b>urgent</b> & <a href=\"http://x\">click</a>"),
            "&lt;b&gt;urgent&lt;/b&gt; &amp; &lt;a href=&quot;http://x&quot;&gt;click&lt;/a&gt;"
        );
        assert_eq!(escape_markup("plain text"), "plain text");
    }
    use meshdesk_model::ops::InteractionRow;
    use meshdesk_model::routing::OfferKind;
    use meshdesk_model::{CampaignId, InteractionState};

    fn row(id: InteractionId, name: &str, unread: u32, offer: Option<OfferKind>) -> InteractionRow {
        let json = serde_json::json!({
            "id": id, "direction": "inbound", "channel": "phone",
            "campaign": CampaignId::new(), "contact": null, "contact_name": name,
            "address": "", "subject": "", "priority": 0, "enqueued_at": 0,
            "created_at": 0, "last_activity": 0, "epoch": 0, "round_started_at": 0,
            "owner": null, "claimed_at": null, "lost_claims": [], "declined": [],
            "directed_to": null, "transfer_note": "", "finalized": null,
            "message_count": 1, "last_message_preview": format!("hello from {name}"),
            "last_message_at": null, "tags": [],
            "state": InteractionState::Active, "campaign_name": "General",
            "owner_name": null, "unread": unread, "offer": offer,
            "offer_expires_at": null,
        });
        serde_json::from_value(json).expect("a well-formed row")
    }

    fn mention(id: &str, interaction: InteractionId) -> MentionRow {
        MentionRow {
            id: id.into(),
            place: MentionPlace::Note { interaction },
            title: "Pablo".into(),
            chat: None,
            author: AgentId::new(),
            author_name: "Bo".into(),
            at: 1,
            text: "@Ana look".into(),
            seen: false,
        }
    }

    #[test]
    fn a_new_unseen_mention_fires_once_and_the_first_read_is_a_baseline() {
        let i = InteractionId::new();
        let mut w = Watch::default();
        assert!(w.mentions(&[mention("a", i)]).is_empty());
        let fired = w.mentions(&[mention("a", i), mention("b", i)]);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].title, "Bo mentioned you");
        assert_eq!(fired[0].body, "in Pablo: @Ana look");
        assert_eq!(fired[0].about, Some(Subject::Interaction(i)));
        // Seen (gone from the unseen read), then nothing new: silence.
        assert!(w.mentions(&[]).is_empty());
        assert!(w.mentions(&[]).is_empty());
    }

    #[test]
    fn the_first_read_is_a_baseline_and_only_new_offers_fire() {
        let (a, b) = (InteractionId::new(), InteractionId::new());
        let mut w = Watch::default();
        assert!(
            w.pending(&[row(a, "Ana", 0, Some(OfferKind::RingAll))])
                .is_empty()
        );
        let fired = w.pending(&[
            row(a, "Marta", 0, Some(OfferKind::RingAll)),
            row(b, "Tomas", 0, Some(OfferKind::RingAll)),
        ]);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].title, "Tomas");
        assert!(fired[0].body.starts_with("Offered to you in General"));
        // Seen already; a row not offered to this agent never fires.
        let c = InteractionId::new();
        assert!(
            w.pending(&[
                row(b, "Tomas", 0, Some(OfferKind::RingAll)),
                row(c, "Elena", 0, None)
            ])
            .is_empty()
        );
    }

    #[test]
    fn only_a_rise_in_unread_of_an_interaction_already_active_fires() {
        let (a, b) = (InteractionId::new(), InteractionId::new());
        let mut w = Watch::default();
        assert!(w.active(&[row(a, "Lucia", 1, None)]).is_empty());
        // Accepted here (new to Active, with its opener unread): own action.
        assert!(
            w.active(&[row(a, "Lucia", 1, None), row(b, "Hugo", 1, None)])
                .is_empty()
        );
        let fired = w.active(&[row(a, "Lucia", 2, None), row(b, "Hugo", 1, None)]);
        assert_eq!(
            fired,
            vec![Notice {
                title: "Lucia".into(),
                body: "hello from Lucia".into(),
                about: Some(Subject::Interaction(a)),
            }]
        );
        // Read: the count falls, nothing fires.
        assert!(
            w.active(&[row(a, "Lucia", 0, None), row(b, "Hugo", 1, None)])
                .is_empty()
        );
    }

    #[test]
    fn an_interaction_put_back_in_a_queue_by_this_agent_is_not_an_offer() {
        let a = InteractionId::new();
        let mut w = Watch::default();
        w.active(&[row(a, "Lucia", 0, None)]);
        w.pending(&[]);
        assert!(
            w.pending(&[row(a, "Lucia", 0, Some(OfferKind::RingAll))])
                .is_empty()
        );
    }

    #[test]
    fn many_new_offers_at_once_are_one_notice() {
        let mut w = Watch::default();
        w.pending(&[]);
        let rows: Vec<InteractionRow> = (0..5)
            .map(|n| {
                row(
                    InteractionId::new(),
                    &format!("C{n}"),
                    0,
                    Some(OfferKind::RingAll),
                )
            })
            .collect();
        let fired = w.pending(&rows);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].title, "5 interactions offered to you");
    }

    #[test]
    fn chat_messages_by_teammates_fire_and_ones_own_do_not() {
        let (me, bruno) = (AgentId::new(), AgentId::new());
        let dm = RoomKey::direct(me, bruno);
        let summary = |count: u32, author: AgentId| RoomSummary {
            room: dm,
            message_count: count,
            last_message_preview: "lunch?".into(),
            last_message_at: Some(0),
            last_author: Some(author),
        };
        let mut w = Watch::default();
        let title = |_: &RoomSummary| "Bruno".to_string();
        assert!(w.rooms(&[], me, title).is_empty());
        // A room that appears with a teammate's message fires.
        assert_eq!(w.rooms(&[summary(1, bruno)], me, title).len(), 1);
        assert!(w.rooms(&[summary(2, me)], me, title).is_empty());
        assert!(w.rooms(&[summary(2, me)], me, title).is_empty());
        let fired = w.rooms(&[summary(3, bruno)], me, title);
        assert_eq!(fired[0].body, "lunch?");
    }

    #[test]
    fn a_supervisors_take_back_tells_the_agent_who_lost_it_and_why() {
        use meshdesk_model::{
            Claim, Direction, Interaction, InteractionState, Transfer, TransferKind, TransferTarget,
        };
        let (eve, ana, bo) = (AgentId::new(), AgentId::new(), AgentId::new());
        let campaign = CampaignId::new();
        let detail = |to, kind| InteractionDetail {
            interaction: Interaction {
                id: InteractionId::new(),
                direction: Direction::Inbound,
                channel: meshdesk_model::ChannelKind::Webchat,
                origin_campaign: campaign,
                contact: None,
                address: String::new(),
                contact_name: "Pablo".into(),
                contact_unverified: false,
                snooze: None,
                subject: String::new(),
                fields: Default::default(),
                priority: 0,
                enqueued_at: 0,
                created_at: 0,
                created_by: None,
                messages: vec![],
                claims: vec![Claim {
                    agent: eve,
                    claimed_at: 10,
                    epoch: 0,
                }],
                declines: vec![],
                transfers: vec![Transfer {
                    from: ana,
                    to,
                    at: 20,
                    note: String::new(),
                    kind,
                    reason: "<b>off sick</b>".into(),
                }],
                finalization: None,
                notes: vec![],
                tags: Default::default(),
            },
            state: InteractionState::Queued,
            campaign: None,
            owner: None,
            lost_claims: vec![],
            agent_names: [(eve, "Eve"), (ana, "Ana"), (bo, "Bo")]
                .into_iter()
                .map(|(a, n)| (a, n.to_string()))
                .collect(),
            contact: None,
        };
        let pulled = detail(TransferTarget::Campaign(campaign), TransferKind::PullBack);
        let notice = taken_back(&pulled, eve, "Pablo").expect("told");
        assert_eq!(notice.title, "Pablo");
        assert_eq!(
            notice.body,
            "Ana pulled Pablo back to the queue: <b>off sick</b>"
        );
        assert_eq!(
            notice.about,
            Some(Subject::Interaction(pulled.interaction.id))
        );
        let handed = detail(TransferTarget::Agent(bo), TransferKind::Hand);
        assert_eq!(
            taken_back(&handed, eve, "Pablo").map(|n| n.body),
            Some("Ana handed Pablo to Bo: <b>off sick</b>".into())
        );
        // Nobody else is told; nor is anyone of a plain transfer or a return.
        assert_eq!(taken_back(&handed, bo, "Pablo"), None);
        for kind in [TransferKind::Transfer, TransferKind::Return] {
            let own = detail(TransferTarget::Campaign(campaign), kind);
            assert_eq!(taken_back(&own, eve, "Pablo"), None);
        }
    }

    #[test]
    fn long_bodies_are_clipped() {
        let long = "é".repeat(500);
        assert_eq!(clip(&long).chars().count(), BODY_CHARS + 1);
        assert_eq!(clip("  short "), "short");
    }
}
