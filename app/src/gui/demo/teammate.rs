//! The demo's live teammate and customer.
//!
//! The teammate is a second real [`Node`] in this process, on its own data
//! dir, that joined the demo team through an invite on 127.0.0.1 (no mDNS).
//! A script drives it through the node's API only, as a person at another
//! desk would drive their app:
//!
//! - its agent goes Available, so routing offers work to it and its presence
//!   dot is green on the demo agent's screen;
//! - an offer is accepted after a few seconds, or declined (so it moves on to
//!   the demo agent); an accepted one is answered and later finalized;
//! - it sends chat messages (announcing "typing" first) to the demo agent or
//!   the #General room, and answers the demo agent's direct messages;
//! - a simulated customer, served by this node as a gateway would be, writes
//!   follow-ups into the demo agent's active interactions and starts new
//!   inbound ones.
//!
//! Everything reaches the window by sync, as it would from another machine.

use std::path::Path;
use std::time::Duration;

use libp2p::Multiaddr;
use meshdesk_model::doc::{DocId, DocKind};
use meshdesk_model::ops::{ChatTarget, ChatView, Client, FromReply, Reply, Request, TeamOverview};
use meshdesk_model::store::Store;
use meshdesk_model::{AgentId, AgentStatus, InteractionId, InteractionState, RoomKey};
use meshdesk_sync::join::{JoinArgs, join_team};
use meshdesk_sync::protocol::TypingTarget;
use meshdesk_sync::{Event, Node, NodeConfig, NodeHandle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{AGENT, FIRST, LAST, OPENERS, REPLIES, TEAMMATE, loopback};
use crate::data_dir::DataDir;
use crate::gui::backend::Error;

/// What the customer writes after the first message.
const FOLLOW_UPS: [&str; 6] = [
    "Any news on this?",
    "I just checked again and it is still the same",
    "Thanks, that helps. One more question though",
    "Can you send me that by email as well?",
    "OK, I have restarted it. What now?",
    "Sorry, I was away. I am back now",
];
/// What the teammate says in chat, unprompted.
const CHATTER: [&str; 5] = [
    "Queue is getting busy, I'll take the next Orders ones",
    "Anyone seen the carrier update for 4471?",
    "Going on a coffee break in 10, shout if you need me",
    "The Billing refunds went through, FYI",
    "Nice save on that last call",
];
/// What the teammate answers to a direct message.
const ANSWERS: [&str; 4] = [
    "Sure, on it",
    "Give me two minutes",
    "Yes, I can take that one",
    "Done 👍",
];

/// A running teammate: its node and its script.
pub struct Teammate {
    node: NodeHandle,
    address: Multiaddr,
    script: tokio::task::JoinHandle<()>,
}

/// Joins a new device as the teammate to the team in `ana` (whose store the
/// member's node holds meanwhile), into `bruno_root`; gives `ana`'s store back.
pub async fn join(
    ana: &DataDir,
    store: Store,
    psk: [u8; 32],
    bruno_root: &Path,
) -> Result<Store, String> {
    let err = |e: &dyn std::fmt::Display| format!("the demo teammate cannot join: {e}");
    let keypair = meshdesk_sync::identity::load_or_create(ana.root()).map_err(|e| err(&e))?;
    let mut config = NodeConfig::new(ana.root(), store, keypair, psk);
    config.listen = vec![loopback()];
    config.mdns = false;
    config.control_socket = false;
    let (member, _events) = Node::start(config).await.map_err(|e| err(&e))?;
    let joined = async {
        let invite = member
            .invite(meshdesk_sync::team::DEFAULT_INVITE_TTL_MS, 1)
            .await
            .map_err(|e| err(&e))?;
        let dir = DataDir::resolve(Some(bruno_root.to_path_buf())).map_err(|e| err(&e))?;
        dir.ensure().map_err(|e| err(&e))?;
        let keypair = meshdesk_sync::identity::load_or_create(dir.root()).map_err(|e| err(&e))?;
        let device_key = meshdesk_sync::identity::device_key(&keypair).map_err(|e| err(&e))?;
        let store = Store::open(dir.store_path(), device_key).map_err(|e| err(&e))?;
        let args = JoinArgs {
            data_dir: dir.root().to_path_buf(),
            store,
            keypair,
            invite,
            agent_name: TEAMMATE.into(),
            device_name: format!("{}-laptop", TEAMMATE.to_lowercase()),
            listen: vec![loopback()],
            peers: vec![],
            connect_timeout: Duration::from_secs(20),
        };
        join_team(args, |_| {}).await.map_err(|e| err(&e))
    }
    .await;
    let _ = member.shutdown().await;
    joined?;
    let device_key = meshdesk_sync::identity::load_device_key(ana.root()).map_err(|e| err(&e))?;
    Store::open(ana.store_path(), device_key).map_err(|e| err(&e))
}

impl Teammate {
    /// Starts the teammate's node on `root` (a member since [`join`]) and its
    /// script; `open` are interactions the customer may write into.
    pub fn start(
        rt: &tokio::runtime::Runtime,
        root: &Path,
        open: Vec<InteractionId>,
    ) -> Result<Teammate, String> {
        let err = |e: &dyn std::fmt::Display| format!("the demo teammate cannot start: {e}");
        let dir = DataDir::resolve(Some(root.to_path_buf())).map_err(|e| err(&e))?;
        rt.block_on(async {
            let keypair =
                meshdesk_sync::identity::load_or_create(dir.root()).map_err(|e| err(&e))?;
            let device_key = meshdesk_sync::identity::device_key(&keypair).map_err(|e| err(&e))?;
            let store = Store::open(dir.store_path(), device_key).map_err(|e| err(&e))?;
            let psk = meshdesk_sync::team::load_team_key(dir.root())
                .map_err(|e| err(&e))?
                .ok_or_else(|| err(&"no team key"))?;
            let mut config = NodeConfig::new(dir.root(), store, keypair, psk);
            config.listen = vec![loopback()];
            config.mdns = false;
            config.control_socket = false;
            let (node, events) = Node::start(config).await.map_err(|e| err(&e))?;
            let status = node.status().await.map_err(|e| err(&e))?;
            let address = status
                .listen_addrs
                .iter()
                .find_map(|a| a.parse::<Multiaddr>().ok())
                .ok_or_else(|| err(&"it listens nowhere"))?;
            let script = Script::new(node.clone(), open).await?;
            let script = tokio::spawn(script.run(events));
            Ok(Teammate {
                node,
                address,
                script,
            })
        })
    }

    /// Where the teammate's node listens (the window's node dials it).
    pub fn address(&self) -> &Multiaddr {
        &self.address
    }

    /// Stops the script and the node (blocks on `rt`).
    pub fn stop(self, rt: &tokio::runtime::Runtime) {
        self.script.abort();
        let node = self.node;
        rt.block_on(async move {
            let _ = node.shutdown().await;
        });
    }
}

/// One thing the script does when its time comes.
#[derive(Debug, Clone)]
enum Step {
    /// Answer an offer: accept it, or decline it.
    Answer {
        id: InteractionId,
        accept: bool,
    },
    /// Write to the customer of an accepted interaction.
    Reply {
        id: InteractionId,
        round: usize,
    },
    Finalize(InteractionId),
    /// Say something in chat of its own accord.
    Chat,
    /// Announce typing in a room, then say `text` there.
    Type {
        room: RoomKey,
        to: ChatTarget,
        text: String,
        left: u8,
    },
    Say {
        to: ChatTarget,
        text: String,
    },
    /// The customer writes: a follow-up or a new interaction.
    Customer,
}

struct Script {
    node: NodeHandle,
    me: AgentId,
    agent: AgentId,
    /// Interactions the customer may write into (the demo agent's, maybe).
    open: Vec<InteractionId>,
    /// The last direct message of the demo agent answered.
    answered: Option<meshdesk_model::MessageId>,
    plan: Vec<(Instant, Step)>,
    rng: StdRng,
}

impl Client for Script {
    type Error = Error;

    async fn call(&self, request: Request) -> Result<Reply, Error> {
        Ok(self.node.execute(request).await?)
    }
}

fn secs(range: std::ops::RangeInclusive<u64>, rng: &mut StdRng) -> Duration {
    Duration::from_millis(rng.random_range(range.start() * 1000..=range.end() * 1000))
}

impl Script {
    async fn new(node: NodeHandle, open: Vec<InteractionId>) -> Result<Script, String> {
        let err = |e: &dyn std::fmt::Display| format!("the demo teammate cannot start: {e}");
        node.execute(Request::SetStatus {
            status: AgentStatus::Available,
        })
        .await
        .map_err(|e| err(&e))?;
        let reply = node.execute(Request::ShowTeam).await.map_err(|e| err(&e))?;
        let team = TeamOverview::from_reply(reply).map_err(|e| err(&e))?;
        let agent = team
            .agents
            .iter()
            .find(|a| a.name == AGENT)
            .map(|a| a.id)
            .ok_or_else(|| err(&"the demo agent is not on the roster"))?;
        let now = Instant::now();
        Ok(Script {
            node,
            me: team.me.agent,
            agent,
            open,
            answered: None,
            // Soon after the window opens, so something happens on screen at once.
            plan: vec![
                (now + Duration::from_secs(6), Step::Customer),
                (now + Duration::from_secs(9), Step::Chat),
            ],
            rng: StdRng::from_os_rng(),
        })
    }

    fn after(&mut self, wait: Duration, step: Step) {
        self.plan.push((Instant::now() + wait, step));
    }

    async fn run(mut self, mut events: broadcast::Receiver<Event>) {
        loop {
            let next = self
                .plan
                .iter()
                .map(|(at, _)| *at)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(60));
            tokio::select! {
                event = events.recv() => match event {
                    Ok(Event::Offer { interaction, .. }) => {
                        let accept = self.rng.random_bool(0.6);
                        let wait = secs(3..=8, &mut self.rng);
                        self.after(wait, Step::Answer { id: interaction, accept });
                    }
                    Ok(Event::Changed { changes }) => {
                        let dm = changes.iter().any(|c| {
                            c.kind == DocKind::Room
                                && matches!(c.doc_id,
                                    DocId::Room { room: RoomKey::Direct { a, b }, .. }
                                        if [a, b].contains(&self.agent) && [a, b].contains(&self.me))
                        });
                        if dm {
                            self.on_direct_message().await;
                        }
                    }
                    Ok(Event::Stopped) | Err(broadcast::error::RecvError::Closed) => return,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                },
                _ = tokio::time::sleep_until(next) => {
                    let now = Instant::now();
                    let (due, later): (Vec<_>, Vec<_>) =
                        self.plan.drain(..).partition(|(at, _)| *at <= now);
                    self.plan = later;
                    for (_, step) in due {
                        if let Err(e) = self.step(step).await {
                            tracing::debug!("demo teammate: {e}");
                        }
                    }
                }
            }
        }
    }

    async fn step(&mut self, step: Step) -> Result<(), Error> {
        match step {
            Step::Answer { id, accept } => {
                let request = if accept {
                    Request::Accept { id }
                } else {
                    Request::Decline { id }
                };
                self.call(request).await?;
                if accept {
                    let reply = secs(3..=6, &mut self.rng);
                    self.after(reply, Step::Reply { id, round: 0 });
                    let done = secs(45..=90, &mut self.rng);
                    self.after(done, Step::Finalize(id));
                }
            }
            Step::Reply { id, round } => {
                // A first answer from the first half, a later one from the
                // second (closing lines): never the same line twice.
                let half = REPLIES.len() / 2;
                let lines = if round == 0 {
                    0..half
                } else {
                    half..REPLIES.len()
                };
                let text = REPLIES[self.rng.random_range(lines)];
                self.call(Request::Send {
                    id,
                    text: text.into(),
                })
                .await?;
                if round == 0 {
                    let wait = secs(12..=25, &mut self.rng);
                    self.after(wait, Step::Reply { id, round: 1 });
                }
            }
            Step::Finalize(id) => {
                let d = self.show_interaction(id).await?;
                let disposition = d.campaign.and_then(|c| c.dispositions.first().cloned());
                if d.state == InteractionState::Active
                    && d.owner == Some(self.me)
                    && let Some(disposition) = disposition
                {
                    self.call(Request::Finalize {
                        id,
                        disposition,
                        note: None,
                    })
                    .await?;
                }
            }
            Step::Chat => {
                let next = secs(35..=70, &mut self.rng);
                self.after(next, Step::Chat);
                let text = CHATTER[self.rng.random_range(0..CHATTER.len())].to_string();
                let (room, to) = if self.rng.random_bool(0.7) {
                    (
                        RoomKey::direct(self.me, self.agent),
                        ChatTarget::Agent(AGENT.into()),
                    )
                } else {
                    let Some(room) = self.general_room().await else {
                        return Ok(());
                    };
                    (room, ChatTarget::Campaign("General".into()))
                };
                self.after(
                    Duration::ZERO,
                    Step::Type {
                        room,
                        to,
                        text,
                        left: 3,
                    },
                );
            }
            Step::Type {
                room,
                to,
                text,
                left,
            } => {
                let doc = DocId::room_at(room, meshdesk_model::now_ms()).to_string();
                let _ = self.node.typing(TypingTarget::Room(doc)).await;
                let step = if left == 0 {
                    Step::Say { to, text }
                } else {
                    Step::Type {
                        room,
                        to,
                        text,
                        left: left - 1,
                    }
                };
                self.after(Duration::from_secs(1), step);
            }
            Step::Say { to, text } => {
                self.call(Request::ChatSend { to, text }).await?;
            }
            Step::Customer => {
                let next = secs(12..=25, &mut self.rng);
                self.after(next, Step::Customer);
                if self.rng.random_bool(0.5) && self.follow_up().await? {
                    return Ok(());
                }
                self.new_inbound().await?;
            }
        }
        Ok(())
    }

    /// The #General room's key.
    async fn general_room(&self) -> Option<RoomKey> {
        let list = self.list_campaigns().await.ok()?;
        list.into_iter()
            .find(|c| c.name == "General")
            .map(|c| RoomKey::Campaign { campaign: c.id })
    }

    /// The customer writes into one of the demo agent's active interactions;
    /// whether there was one.
    async fn follow_up(&mut self) -> Result<bool, Error> {
        let mut order: Vec<InteractionId> = self.open.clone();
        let start = self
            .rng
            .random_range(0..order.len().max(1))
            .min(order.len());
        order.rotate_left(start);
        for id in order.into_iter().take(8) {
            let Ok(d) = self.show_interaction(id).await else {
                continue; // not synced here yet
            };
            match d.state {
                InteractionState::Active if d.owner == Some(self.agent) => {
                    let text = FOLLOW_UPS[self.rng.random_range(0..FOLLOW_UPS.len())];
                    self.call(Request::CustomerMessage {
                        id,
                        text: text.into(),
                    })
                    .await?;
                    return Ok(true);
                }
                InteractionState::WrapUp | InteractionState::Closed => {
                    self.open.retain(|o| *o != id);
                }
                _ => {}
            }
        }
        Ok(false)
    }

    /// A new customer writes in, on one of the demo's three campaigns.
    async fn new_inbound(&mut self) -> Result<(), Error> {
        let first = FIRST[self.rng.random_range(0..FIRST.len())];
        let last = LAST[self.rng.random_range(0..LAST.len())];
        let number: u32 = self.rng.random_range(0..100_000_000);
        let (campaign, from) = match self.rng.random_range(0..3) {
            0 => ("General", format!("+34 6{number:08}")),
            n => (
                if n == 1 { "Orders" } else { "Billing" },
                format!(
                    "{}.{}@example.net",
                    first.to_lowercase(),
                    last.to_lowercase()
                ),
            ),
        };
        let opener = OPENERS[self.rng.random_range(0..OPENERS.len())];
        let id = self
            .ask(Request::Enqueue {
                campaign: campaign.into(),
                contact: None,
                from: Some(from),
                name: Some(format!("{first} {last}")),
                message: Some(opener.into()),
                priority: 0,
            })
            .await?;
        self.open.push(id);
        Ok(())
    }

    /// Answers the demo agent's latest direct message, once.
    async fn on_direct_message(&mut self) {
        let Ok(chat) = self
            .ask::<ChatView>(Request::ChatShow {
                with: ChatTarget::Agent(AGENT.into()),
            })
            .await
        else {
            return;
        };
        let Some(last) = chat.messages.last() else {
            return;
        };
        if last.author != self.agent || self.answered == Some(last.id) {
            return;
        }
        self.answered = Some(last.id);
        let text = ANSWERS[self.rng.random_range(0..ANSWERS.len())].to_string();
        let wait = secs(1..=3, &mut self.rng);
        self.after(
            wait,
            Step::Type {
                room: RoomKey::direct(self.me, self.agent),
                to: ChatTarget::Agent(AGENT.into()),
                text,
                left: 2,
            },
        );
    }
}
