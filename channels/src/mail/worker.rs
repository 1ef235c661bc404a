//! The node's mail work: fetching each mailbox this device is elected for,
//! and sending this agent's replies.
//!
//! Fetching: every second the node reads the team's mailboxes and who is
//! live (this device and its admitted peers); for each mailbox the fetcher
//! is [`mail::fetcher_of`] its registered devices that are live, the same
//! answer on every node. The elected device logs in, takes every UNSEEN
//! mail of INBOX in UID order — read with `BODY.PEEK[]`, so reading does
//! not mark it — hands it to the node (`Request::MailIntake`, durable when
//! it returns), and only then sets `\Seen`. It then waits in IDLE when the
//! server offers it (polls every 2 s otherwise). Besides UNSEEN it takes
//! every mail above the team's high-water mark (the highest UID, per
//! UIDVALIDITY, of the fetched mails the team holds: each records where it
//! was found), so a mail someone read in another mail client first is not
//! skipped. A crash between storing
//! and `\Seen` leaves the mail unseen: the next fetch (here or on the next
//! elected device) takes it again and the node finds its `Message-ID`
//! already stored, so nothing is lost or doubled.
//!
//! Sending: the node's changes name interactions; for each email
//! interaction that came in through the mailbox and holds messages of this
//! agent not yet sent (no `mail_sent_at`, no `mail_error`), the reply goes
//! out over SMTP from this
//! node, then `Request::MarkMail` records it. Transient failures retry
//! with backoff (2 s doubling, 6 tries); a permanent one (a 5xx, a bad
//! address, retries spent) is recorded with its reason and shows in the
//! conversation as a system line.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use lettre::AsyncTransport;
use meshdesk_model::blobs::Attachment;
use meshdesk_model::doc::DocId;
use meshdesk_model::mail::{self, InboundMail, MailOutcome, MailThread};
use meshdesk_model::ops::{Reply, Request};
use meshdesk_model::{AgentId, Author, CampaignId, InteractionId, Mailbox, MessageId, now_ms};
use meshdesk_sync::node::{self, NodeError, NodeHandle};
use tokio::task::JoinHandle;

use super::{MailError, Secrets, net, parse};

/// How often the fetcher election is looked at again.
const ELECT_EVERY: Duration = Duration::from_secs(1);
/// How often a server without IDLE is polled.
const POLL_EVERY: Duration = Duration::from_secs(2);
/// How long one IDLE waits before it is renewed.
const IDLE_FOR: Duration = Duration::from_secs(60);
/// Tries of one reply before it fails for good.
const SEND_TRIES: u32 = 6;
/// How far back the sender looks at start for replies not yet sent.
const SWEEP_BACK_MS: i64 = 7 * 24 * 3600 * 1000;
/// How long an author's node must have been away before the fetcher sends
/// its replies for it: a link that drops for a moment (Wi-Fi roaming, a
/// restart) comes back first, and the author's node sends them itself
/// rather than both sending one reply.
const AWAY_BEFORE_SENDING_FOR: Duration = Duration::from_secs(15);

/// The node's mail tasks; dropping it stops them.
#[derive(Debug, Default)]
pub struct MailWorkers {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for MailWorkers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts fetching and sending for the node's mailboxes.
pub fn start(node: NodeHandle) -> MailWorkers {
    let secrets = match Secrets::open(node.data_dir()) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::warn!(error = %e, "no email channel on this node");
            return MailWorkers::default();
        }
    };
    MailWorkers {
        tasks: vec![
            tokio::spawn(elect_loop(node.clone(), secrets.clone())),
            tokio::spawn(send_loop(node, secrets)),
        ],
    }
}

async fn team(node: &NodeHandle) -> Option<meshdesk_model::ops::TeamOverview> {
    match node.execute(Request::ShowTeam).await {
        Ok(Reply::Team(t)) => Some(*t),
        _ => None,
    }
}

async fn elect_loop(node: NodeHandle, secrets: Arc<Secrets>) {
    let me = node.peer_id().to_base58();
    let mut running: HashMap<CampaignId, (Mailbox, JoinHandle<()>)> = HashMap::new();
    let mut warned: HashSet<CampaignId> = HashSet::new();
    loop {
        if let Some(t) = team(&node).await {
            let mut live: HashSet<String> = node
                .peers()
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.ready)
                .map(|p| p.peer)
                .collect();
            live.insert(me.clone());
            let want: BTreeMap<CampaignId, Mailbox> = t
                .team
                .mailboxes
                .iter()
                .filter(|(c, m)| {
                    mail::fetcher_of(**c, &m.fetchers, |d| live.contains(d)) == Some(me.as_str())
                })
                .map(|(c, m)| (*c, m.clone()))
                .collect();
            running.retain(|c, (m, task)| {
                let keep = want.get(c) == Some(m) && !task.is_finished();
                if !keep {
                    task.abort();
                    tracing::info!(campaign = %c, "stopped fetching the mailbox");
                }
                keep
            });
            for (c, m) in want {
                if running.contains_key(&c) {
                    continue;
                }
                match secrets.get(c) {
                    Ok(Some(password)) => {
                        tracing::info!(campaign = %c, address = %m.address, "fetching the mailbox (elected)");
                        let task = tokio::spawn(fetch_loop(node.clone(), c, m.clone(), password));
                        running.insert(c, (m, task));
                        warned.remove(&c);
                    }
                    Ok(None) => {
                        if warned.insert(c) {
                            tracing::warn!(campaign = %c, "elected to fetch a mailbox whose password this device does not hold");
                        }
                    }
                    Err(e) => {
                        if warned.insert(c) {
                            tracing::warn!(campaign = %c, error = %e, "cannot read the mailbox password");
                        }
                    }
                }
            }
        }
        tokio::time::sleep(ELECT_EVERY).await;
    }
}

async fn fetch_loop(node: NodeHandle, campaign: CampaignId, mailbox: Mailbox, password: String) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match fetch_session(&node, campaign, &mailbox, &password).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(campaign = %campaign, error = %e, retry_in = ?backoff, "fetching the mailbox failed");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

fn imap_error(mailbox: &Mailbox, e: impl std::fmt::Display) -> MailError {
    MailError::Protocol(
        format!("IMAP {}:{}", mailbox.imap.host, mailbox.imap.port),
        e.to_string(),
    )
}

async fn fetch_session(
    node: &NodeHandle,
    campaign: CampaignId,
    mailbox: &Mailbox,
    password: &str,
) -> Result<(), MailError> {
    let mut session = net::imap_login(&mailbox.imap, password).await?;
    let idle = session
        .capabilities()
        .await
        .map(|c| c.has_str("IDLE"))
        .unwrap_or(false);
    let inbox = session
        .select("INBOX")
        .await
        .map_err(|e| imap_error(mailbox, e))?;
    let validity = inbox.uid_validity;
    tracing::info!(campaign = %campaign, uid_validity = ?validity, idle, "mailbox opened");
    loop {
        if !take_new(node, campaign, mailbox, validity, &mut session).await? {
            return Ok(());
        }
        if idle {
            let mut handle = session.idle();
            handle.init().await.map_err(|e| imap_error(mailbox, e))?;
            let (wait, _stop) = handle.wait_with_timeout(IDLE_FOR);
            wait.await.map_err(|e| imap_error(mailbox, e))?;
            session = handle.done().await.map_err(|e| imap_error(mailbox, e))?;
        } else {
            tokio::time::sleep(POLL_EVERY).await;
            session.noop().await.map_err(|e| imap_error(mailbox, e))?;
        }
    }
}

/// Takes in every mail that is unseen or above the team's high-water mark
/// (the highest UID an interaction holds, so a mail someone read in another
/// client is not skipped); false when the node is gone.
async fn take_new(
    node: &NodeHandle,
    campaign: CampaignId,
    mailbox: &Mailbox,
    validity: Option<u32>,
    session: &mut net::ImapSession,
) -> Result<bool, MailError> {
    let mut uids: std::collections::BTreeSet<u32> = session
        .uid_search("UNSEEN")
        .await
        .map_err(|e| imap_error(mailbox, e))?
        .into_iter()
        .collect();
    if let Some(uid_validity) = validity {
        let high = node
            .execute(Request::MailHighWater {
                campaign,
                uid_validity,
            })
            .await;
        tracing::debug!(campaign = %campaign, high_water = ?high, "looking for new mail");
        if let Ok(Reply::MailHighWater(Some(high))) = high {
            // `N:*` always names the last mail, even below N.
            let above = session
                .uid_search(format!("UID {}:*", high.saturating_add(1)))
                .await
                .map_err(|e| imap_error(mailbox, e))?;
            uids.extend(above.into_iter().filter(|u| *u > high));
        }
    }
    for uid in uids {
        let fetched: Vec<_> = session
            .uid_fetch(uid.to_string(), "BODY.PEEK[]")
            .await
            .map_err(|e| imap_error(mailbox, e))?
            .try_collect()
            .await
            .map_err(|e| imap_error(mailbox, e))?;
        let Some(raw) = fetched.iter().find_map(|f| f.body().map(<[u8]>::to_vec)) else {
            continue;
        };
        let parsed = parse::parse(&raw);
        let mut files = Vec::new();
        for f in parsed.files {
            let size = f.bytes.len() as u64;
            match node.put_file(f.bytes).await {
                Ok(hash) => files.push(Attachment {
                    hash,
                    size,
                    mime: f.mime,
                    name: f.name,
                }),
                Err(e) => {
                    tracing::warn!(uid, file = %f.name, error = %e, "a mail's file was not kept")
                }
            }
        }
        let mail_id = parsed.mail_id.clone();
        let request = Request::MailIntake(Box::new(InboundMail {
            campaign: campaign.to_string(),
            mail_id: parsed.mail_id,
            replies_to: parsed.replies_to,
            subject: parsed.subject,
            from_address: parsed.from_address,
            from_name: parsed.from_name,
            text: parsed.text,
            files,
            uid: validity.map(|v| (v, uid)),
        }));
        match node.execute(request).await {
            Ok(reply) => {
                let id = match reply {
                    Reply::Created { id } => id,
                    _ => String::new(),
                };
                tracing::info!(uid, %mail_id, interaction = %id, "mail taken in");
            }
            Err(NodeError::Op(e)) if e.is_user_error() => {
                // It can never be taken in as it is: marked seen, so it
                // does not come back on every fetch; it stays in the mailbox.
                tracing::warn!(uid, %mail_id, error = %e, "a mail was refused and left in the mailbox");
            }
            Err(e) => {
                tracing::warn!(uid, error = %e, "the node did not take the mail; it stays unseen");
                return Ok(false);
            }
        }
        session
            .uid_store(uid.to_string(), "+FLAGS (\\Seen)")
            .await
            .map_err(|e| imap_error(mailbox, e))?
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| imap_error(mailbox, e))?;
    }
    Ok(true)
}

/// A reply's tries so far.
struct Tries {
    count: u32,
    next: Instant,
    last_error: String,
}

async fn send_loop(node: NodeHandle, secrets: Arc<Secrets>) {
    let mut events = node.subscribe();
    let mut watch: HashSet<InteractionId> = HashSet::new();
    let mut tries: HashMap<MessageId, Tries> = HashMap::new();
    // Since when each teammate's node has been away, as this node sees it.
    let mut away_since: HashMap<AgentId, Instant> = HashMap::new();
    let mut sweep = true;
    loop {
        if sweep {
            sweep = false;
            if let Some(t) = team(&node).await {
                for campaign in t.team.mailboxes.keys() {
                    let request = Request::CampaignInteractions {
                        campaign: campaign.to_string(),
                        since: now_ms() - SWEEP_BACK_MS,
                    };
                    if let Ok(Reply::Interactions(rows)) = node.execute(request).await {
                        watch.extend(rows.into_iter().map(|r| r.summary.id));
                    }
                }
            }
        }
        let tick = tokio::time::sleep(Duration::from_millis(500));
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(node::Event::Changed { changes }) => {
                    for c in changes {
                        if let DocId::Interaction(id) = c.doc_id {
                            watch.insert(id);
                        }
                    }
                }
                // A teammate's node went away: its queued replies may be
                // this node's to send now.
                Ok(node::Event::PeerDisconnected { .. }) => sweep = true,
                Ok(node::Event::Stopped) | Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => sweep = true,
            },
            _ = tick => {}
        }
        if watch.is_empty() {
            continue;
        }
        let Some(t) = team(&node).await else { continue };
        let me = t.me.agent;
        let my_device = node.peer_id().to_base58();
        let peers: Vec<_> = node
            .peers()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.ready)
            .collect();
        let live_agents: HashSet<AgentId> =
            peers.iter().filter_map(|p| p.agent).chain([me]).collect();
        away_since.retain(|a, _| !live_agents.contains(a));
        let live_devices: HashSet<String> = peers
            .iter()
            .map(|p| p.peer.clone())
            .chain([my_device.clone()])
            .collect();
        let my_name = t
            .agents
            .iter()
            .find(|a| a.id == me)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        for id in watch.clone() {
            let thread = match node.execute(Request::MailThread { id }).await {
                Ok(Reply::MailThread(t)) => *t,
                _ => {
                    watch.remove(&id);
                    continue;
                }
            };
            let Some(mailbox) = t.team.mailboxes.get(&thread.campaign) else {
                watch.remove(&id);
                continue;
            };
            // Only conversations that came in through the mailbox are
            // answered by mail: a campaign that used `email` as a label
            // before it had a mailbox does not mail its old messages.
            let by_mail = thread
                .messages
                .iter()
                .any(|m| m.message.author == Author::Contact && m.mark.mail_id.is_some());
            if !by_mail {
                watch.remove(&id);
                continue;
            }
            // This agent's replies; and, on the mailbox's fetcher, those
            // of agents whose node is away (their node may be off for
            // days with the customer waiting).
            let fetching_here = mail::fetcher_of(thread.campaign, &mailbox.fetchers, |d| {
                live_devices.contains(d)
            }) == Some(my_device.as_str());
            let unsent_of = |a: AgentId| {
                thread.messages.iter().enumerate().filter(move |(_, m)| {
                    m.message.author == Author::Agent(a)
                        && m.mark.sent_at.is_none()
                        && m.mark.error.is_none()
                })
            };
            let mut away_authors: Vec<AgentId> = if fetching_here {
                thread
                    .messages
                    .iter()
                    .filter_map(|m| match m.message.author {
                        Author::Agent(a) if !live_agents.contains(&a) => Some(a),
                        _ => None,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            away_authors.sort_unstable();
            away_authors.dedup();
            for a in &away_authors {
                away_since.entry(*a).or_insert_with(Instant::now);
            }
            let long_away = |a: &AgentId| {
                away_since
                    .get(a)
                    .is_some_and(|since| since.elapsed() >= AWAY_BEFORE_SENDING_FOR)
            };
            let mut unsent: Vec<usize> = unsent_of(me)
                .chain(
                    away_authors
                        .iter()
                        .filter(|a| long_away(a))
                        .flat_map(|a| unsent_of(*a)),
                )
                .map(|(n, _)| n)
                .collect();
            // In the conversation's order, whoever wrote them.
            unsent.sort_unstable();
            // A reply of an author only just away: looked at again soon.
            let waiting = away_authors
                .iter()
                .any(|a| !long_away(a) && unsent_of(*a).next().is_some());
            if unsent.is_empty() {
                if !waiting {
                    watch.remove(&id);
                }
                continue;
            }
            let password = match secrets.get(thread.campaign) {
                Ok(Some(p)) => p,
                _ => {
                    tracing::warn!(interaction = %id, "a reply waits: this device holds no password for the mailbox");
                    watch.remove(&id);
                    continue;
                }
            };
            for n in unsent {
                let message = thread.messages[n].message.id;
                if tries.get(&message).is_some_and(|t| t.next > Instant::now()) {
                    continue;
                }
                let author = match thread.messages[n].message.author {
                    Author::Agent(a) if a != me => t
                        .agents
                        .iter()
                        .find(|x| x.id == a)
                        .map(|x| x.name.clone())
                        .unwrap_or_default(),
                    _ => my_name.clone(),
                };
                let outcome = match send_reply(&node, &thread, n, mailbox, &password, &author).await
                {
                    Ok(()) => Some(MailOutcome::Sent),
                    Err((true, reason)) => Some(MailOutcome::Failed { reason }),
                    Err((false, reason)) => {
                        let entry = tries.entry(message).or_insert(Tries {
                            count: 0,
                            next: Instant::now(),
                            last_error: String::new(),
                        });
                        entry.count += 1;
                        entry.last_error = reason.clone();
                        if entry.count >= SEND_TRIES {
                            Some(MailOutcome::Failed {
                                reason: format!(
                                    "gave up after {} tries: {}",
                                    entry.count, entry.last_error
                                ),
                            })
                        } else {
                            let wait = Duration::from_secs(1u64 << entry.count.min(10));
                            entry.next = Instant::now() + wait;
                            tracing::warn!(interaction = %id, error = %reason, retry_in = ?wait, "a reply was not sent; retrying");
                            None
                        }
                    }
                };
                if let Some(outcome) = outcome {
                    tries.remove(&message);
                    match &outcome {
                        MailOutcome::Sent => {
                            tracing::info!(interaction = %id, %message, "reply sent")
                        }
                        MailOutcome::Failed { reason } => {
                            tracing::warn!(interaction = %id, %message, %reason, "reply failed for good")
                        }
                    }
                    if let Err(e) = node
                        .execute(Request::MarkMail {
                            id,
                            message,
                            outcome,
                        })
                        .await
                    {
                        tracing::warn!(interaction = %id, error = %e, "recording the reply's mail failed");
                    }
                }
            }
        }
    }
}

fn reply_subject(subject: &str, interaction: InteractionId) -> String {
    let token = mail::subject_token(interaction);
    let base = if subject.trim().is_empty() {
        "Your message".to_string()
    } else {
        subject.trim().to_string()
    };
    let base = if base.to_ascii_lowercase().starts_with("re:") {
        base
    } else {
        format!("Re: {base}")
    };
    if base.contains(&token) {
        base
    } else {
        format!("{base} {token}")
    }
}

/// Sends message `n` of `thread`, with its files; `Err((permanent, reason))`.
async fn send_reply(
    node: &NodeHandle,
    thread: &MailThread,
    n: usize,
    mailbox: &Mailbox,
    password: &str,
    agent_name: &str,
) -> Result<(), (bool, String)> {
    let domain = mailbox
        .address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or_default();
    let this = &thread.messages[n];
    let mail_id = mail::outbound_mail_id(thread.interaction, this.message.id, domain);
    let earlier = &thread.messages[..n];
    let references: Vec<String> = earlier
        .iter()
        .filter_map(|m| m.mark.mail_id.clone())
        .collect();
    let last_customer = earlier
        .iter()
        .rev()
        .find(|m| m.message.author == Author::Contact);
    let in_reply_to = last_customer
        .and_then(|m| m.mark.mail_id.clone())
        .or_else(|| references.last().cloned());
    let mut text = this.message.body.clone();
    if let Some(q) = last_customer {
        text.push_str(&format!("\n\n{} wrote:\n", thread.contact_name));
        for line in q.message.body.lines() {
            text.push_str("> ");
            text.push_str(line);
            text.push('\n');
        }
    }
    let from_addr = mailbox
        .address
        .parse()
        .map_err(|e| (true, format!("the mailbox address: {e}")))?;
    let to_addr = thread.address.parse().map_err(|e| {
        (
            true,
            format!("the customer's address `{}`: {e}", thread.address),
        )
    })?;
    let from_name = if agent_name.is_empty() {
        None
    } else {
        Some(agent_name.to_string())
    };
    let to_name = (!thread.contact_name.is_empty()).then(|| thread.contact_name.clone());
    let mut builder = lettre::Message::builder()
        .from(lettre::message::Mailbox::new(from_name, from_addr))
        .to(lettre::message::Mailbox::new(to_name, to_addr))
        .subject(reply_subject(&thread.subject, thread.interaction))
        .message_id(Some(mail_id));
    if let Some(irt) = in_reply_to {
        builder = builder.in_reply_to(irt);
    }
    if !references.is_empty() {
        builder = builder.references(references.join(" "));
    }
    let email = if this.message.attachments.is_empty() {
        builder
            .singlepart(lettre::message::SinglePart::plain(text))
            .map_err(|e| (true, e.to_string()))?
    } else {
        use lettre::message::{Attachment as MailPart, MultiPart, SinglePart, header::ContentType};
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(text));
        for file in &this.message.attachments {
            // Fetched from a teammate if this node lacks it; a file that
            // cannot be had now is retried like a busy server.
            let bytes = node
                .file_bytes(file.hash)
                .await
                .map_err(|e| (false, format!("the file {}: {e}", file.name)))?;
            let mime = ContentType::parse(&file.mime)
                .or_else(|_| ContentType::parse("application/octet-stream"))
                .map_err(|e| (true, e.to_string()))?;
            parts = parts.singlepart(MailPart::new(file.name.clone()).body(bytes, mime));
        }
        builder
            .multipart(parts)
            .map_err(|e| (true, e.to_string()))?
    };
    let transport =
        net::smtp_transport(&mailbox.smtp, password).map_err(|e| (false, e.to_string()))?;
    match transport.send(email).await {
        Ok(_) => Ok(()),
        Err(e) => Err((
            e.is_permanent(),
            net::smtp_error(&mailbox.smtp, &e).to_string(),
        )),
    }
}
