//! `meshdesk --demo`: a throwaway team in a temp dir, filled with
//! realistic sample data through the same requests the app makes —
//! campaigns on three channels with different strategies, teammates, about
//! 200 contacts, interactions in every state, and chats — and a live
//! teammate ([`teammate`]): a second real node in this process that joined
//! the team through an invite, whose agent takes offers, answers and chats,
//! beside a simulated customer who writes in. The window then opens on the
//! team with its node running like any other, connected to the teammate's.
//!
//! Everything lives under one temp dir (`ana/` for the window's data dir,
//! `bruno/` for the teammate's), removed when the [`Demo`] is dropped or the
//! process is interrupted; dirs left by a killed run are swept at the next.

pub mod teammate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use libp2p::Multiaddr;
use meshdesk_model::ops::{
    self, CampaignSpec, ChatTarget, ContactSpec, Context, FromReply, Reply, Request,
};
use meshdesk_model::store::Store;
use meshdesk_model::{
    AgentStatus, ChannelKind, FormField, InteractionId, Millis, Strategy, now_ms,
};

use super::backend::NodeOptions;
use crate::data_dir::DataDir;

/// The prefix of the demo's temp dirs: `meshdesk-demo-<pid>-<ms>`.
const DIR_PREFIX: &str = "meshdesk-demo-";
/// The name of the live teammate's agent.
pub const TEAMMATE: &str = "Bruno";
/// The demo agent's name (the window's).
pub const AGENT: &str = "Ana";

pub(crate) const FIRST: [&str; 20] = [
    "Marta", "Bruno", "Ines", "Tomas", "Lucia", "Pablo", "Sofia", "Hugo", "Elena", "Mateo",
    "Julia", "Dario", "Clara", "Andres", "Paula", "Jorge", "Alba", "Diego", "Noa", "Ivan",
];
pub(crate) const LAST: [&str; 10] = [
    "Ruiz", "Diaz", "Lopez", "Garcia", "Navarro", "Romero", "Torres", "Vidal", "Molina", "Ortega",
];
const COMPANIES: [&str; 8] = [
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Soylent",
];
pub(crate) const OPENERS: [&str; 10] = [
    "Hi, my router keeps rebooting every few minutes",
    "My invoice shows a charge I do not recognise",
    "Where is order 4471? It was due yesterday",
    "I cannot log in since the last update",
    "Can I upgrade my plan without losing my number?",
    "The delivery arrived damaged",
    "Please call me back about the contract renewal",
    "Is there an outage in Valencia right now?",
    "I was charged twice for March",
    "How do I add a second line?",
];
/// What the teammate answers: opening lines first, then closing ones.
pub(crate) const REPLIES: [&str; 6] = [
    "Thanks for writing. Let me check that for you.",
    "I can see it here; give me a minute.",
    "Could you confirm the email on the account?",
    "Done: you will get a confirmation shortly.",
    "I have escalated it to our technical team.",
    "Is there anything else I can help with?",
];

struct Seeder {
    store: Store,
    now: Millis,
}

impl Seeder {
    fn run(&mut self, request: Request) -> Result<Reply, String> {
        let ctx = Context {
            now: self.now,
            presence: None,
        };
        let outcome = ops::execute(&mut self.store, &ctx, request).map_err(|e| e.to_string())?;
        self.now += 37_000;
        Ok(outcome.reply)
    }

    fn create<T: FromReply>(&mut self, request: Request) -> Result<T, String> {
        T::from_reply(self.run(request)?).map_err(|e| e.to_string())
    }
}

/// A campaign's settings, as `campaign add` takes them (15 s of wrap-up).
pub fn campaign(
    name: &str,
    channel: ChannelKind,
    strategy: Strategy,
    members: &[&str],
    dispositions: &[&str],
    fields: &[(&str, bool)],
    sla_seconds: u32,
) -> CampaignSpec {
    CampaignSpec {
        name: name.into(),
        channel,
        strategy,
        members: members.iter().map(|m| m.to_string()).collect(),
        dispositions: dispositions.iter().map(|d| d.to_string()).collect(),
        fields: fields
            .iter()
            .map(|(n, r)| FormField {
                name: n.to_string(),
                required: *r,
            })
            .collect(),
        capacity: 0,
        auto_accept: false,
        sla_seconds,
        wrapup_seconds: 15,
        hours: None,
        offer_timeout_seconds: None,
    }
}

/// The running demo: the window's data dir and the live teammate. Dropping
/// it stops the teammate and removes the temp dirs (drop it outside any
/// async runtime, as `main` does once the window has closed).
pub struct Demo {
    root: PathBuf,
    data_dir: DataDir,
    teammate: Option<teammate::Teammate>,
    rt: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo").field("root", &self.root).finish()
    }
}

impl Demo {
    /// Makes the demo team in a fresh temp dir, joins the teammate's node
    /// to it and sets the teammate and the customer going.
    pub fn start() -> Result<Demo, String> {
        let tmp = std::env::temp_dir();
        sweep_stale(&tmp);
        let root = tmp.join(format!("{DIR_PREFIX}{}-{}", std::process::id(), now_ms()));
        // Two workers: the teammate's node and its script, beside the window's own runtime.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("meshdesk-demo")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the demo's runtime: {e}"))?;
        let mut demo = Demo {
            root: root.clone(),
            data_dir: DataDir::resolve(Some(root.join("ana"))).map_err(|e| e.to_string())?,
            teammate: None,
            rt: None,
        };
        let seeded = seed(&root, &rt)?;
        rt.spawn(remove_on_signal(root.clone()));
        demo.teammate = Some(teammate::Teammate::start(
            &rt,
            &root.join("bruno"),
            seeded.open,
        )?);
        demo.rt = Some(rt);
        Ok(demo)
    }

    /// The window's data dir (the demo agent's).
    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// How the window's node runs: on loopback, no mDNS, dialing the teammate.
    pub fn node_options(&self) -> NodeOptions {
        NodeOptions {
            mdns: false,
            listen: vec![loopback()],
            peers: self
                .teammate
                .as_ref()
                .map(|t| vec![t.address().clone()])
                .unwrap_or_default(),
            relays: vec![],
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let (Some(t), Some(rt)) = (self.teammate.take(), &self.rt) {
            t.stop(rt);
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            tracing::warn!(dir = %self.root.display(), "cannot remove the demo's data: {e}");
        }
    }
}

/// `/ip4/127.0.0.1/tcp/0`: the demo's nodes talk over loopback only.
pub(crate) fn loopback() -> Multiaddr {
    Multiaddr::from(std::net::Ipv4Addr::LOCALHOST).with(libp2p::multiaddr::Protocol::Tcp(0))
}

/// Removes the demo's dirs and exits when the process is interrupted
/// (Ctrl+C in the terminal, or SIGTERM), since `Drop` would not run then.
async fn remove_on_signal(root: PathBuf) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    let _ = std::fs::remove_dir_all(&root);
    std::process::exit(130);
}

/// Removes demo dirs whose process is gone (a run that was killed).
fn sweep_stale(tmp: &Path) {
    if !Path::new("/proc/self").exists() {
        return; // no cheap way to tell a live process here
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix(DIR_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// What seeding made: the interactions a customer may write into.
pub struct Seeded {
    /// The demo agent's open interactions and the queued ones.
    pub open: Vec<InteractionId>,
}

/// Seeds the team under `root`: `ana/` is the demo agent's data dir; the
/// teammate's node joins into `bruno/` through an invite on loopback.
pub fn seed(root: &Path, rt: &tokio::runtime::Runtime) -> Result<Seeded, String> {
    let data_dir = DataDir::resolve(Some(root.join("ana"))).map_err(|e| e.to_string())?;
    data_dir.ensure().map_err(|e| e.to_string())?;
    let keypair =
        meshdesk_sync::identity::load_or_create(data_dir.root()).map_err(|e| e.to_string())?;
    let psk = meshdesk_sync::team::create_team_key(data_dir.root()).map_err(|e| e.to_string())?;
    let device_key = meshdesk_sync::identity::device_key(&keypair).map_err(|e| e.to_string())?;
    let store = Store::open(data_dir.store_path(), device_key).map_err(|e| e.to_string())?;
    let mut s = Seeder {
        store,
        now: now_ms() - 4 * 3_600_000,
    };
    s.run(Request::CreateTeam {
        team_name: "Demo Support".into(),
        agent_name: AGENT.into(),
        device_name: "demo".into(),
    })?;
    // The live teammate joins for real; its node needs the store meanwhile.
    let store = rt.block_on(teammate::join(&data_dir, s.store, psk, &root.join("bruno")))?;
    let mut s = Seeder { store, now: s.now };
    for (i, name) in ["Carla", "Dario"].into_iter().enumerate() {
        let (code, _) = meshdesk_sync::team::create_invite(
            &mut s.store,
            psk,
            s.now,
            meshdesk_sync::team::DEFAULT_INVITE_TTL_MS,
            1,
            &[],
            vec![],
        )
        .map_err(|e| e.to_string())?;
        ops::admit_device(
            &mut s.store,
            s.now,
            &code.token_hash(),
            &format!("demo-teammate-{i}"),
            name,
            &format!("{}-laptop", name.to_lowercase()),
        )
        .map_err(|e| e.to_string())?;
    }
    s.run(Request::AddCampaign(campaign(
        "Orders",
        ChannelKind::Webchat,
        Strategy::RoundRobin,
        &["Ana", "Bruno", "Carla"],
        &["Sold", "Lost", "Follow-up"],
        &[("Order", true), ("Product", false)],
        120,
    )))?;
    s.run(Request::AddCampaign(campaign(
        "Billing",
        ChannelKind::Email,
        Strategy::LongestIdle,
        &["Ana", "Bruno", "Dario"],
        &["Paid", "Disputed", "Refunded"],
        &[("Invoice number", true)],
        3_600,
    )))?;

    let mut contacts = Vec::new();
    for n in 0..200usize {
        let first = FIRST[n % FIRST.len()];
        let last = LAST[(n / FIRST.len()) % LAST.len()];
        let name = format!("{first} {last}");
        let email = format!(
            "{}.{}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        );
        let id = s.create(Request::AddContact(ContactSpec {
            name: Some(name.clone()),
            phones: Some(vec![format!(
                "+34 6{:02} {:03} {:03}",
                n % 100,
                (n * 37) % 1000,
                (n * 91) % 1000
            )]),
            emails: Some(vec![email.clone()]),
            company: Some(COMPANIES[n % COMPANIES.len()].to_string()),
            tags: Some(if n % 9 == 0 {
                vec!["vip".into()]
            } else {
                vec![]
            }),
            notes: None,
        }))?;
        contacts.push((id, name, email));
    }

    // Closed interactions, then the agent's open ones, then a queue.
    let campaigns = [
        ("General", "+34 600 100 200"),
        ("Orders", ""),
        ("Billing", ""),
    ];
    let mut open = Vec::new();
    for n in 0..36usize {
        let (id, name, email) = contacts[(n * 7) % contacts.len()].clone();
        let (campaign_name, _) = campaigns[n % campaigns.len()];
        let from = if campaign_name == "General" {
            None
        } else {
            Some(email.clone())
        };
        let interaction = s.create(Request::Enqueue {
            campaign: campaign_name.into(),
            contact: Some(id),
            from,
            name: Some(name.clone()),
            message: Some(OPENERS[n % OPENERS.len()].into()),
            priority: 0,
        })?;
        s.run(Request::Accept { id: interaction })?;
        s.run(Request::Send {
            id: interaction,
            text: REPLIES[n % REPLIES.len()].into(),
        })?;
        if n >= 30 {
            // The last few stay open: this agent's Active tab.
            open.push(interaction);
            if n % 2 == 0 {
                s.run(Request::CustomerMessage {
                    id: interaction,
                    text: "Thanks! One more thing: <b>urgent</b>, please.".into(),
                })?;
            }
            continue;
        }
        let disposition = match campaign_name {
            "Orders" => ["Sold", "Lost", "Follow-up"][n % 3],
            "Billing" => ["Paid", "Disputed", "Refunded"][n % 3],
            _ => ["Resolved", "Callback", "No answer"][n % 3],
        };
        s.run(Request::Finalize {
            id: interaction,
            disposition: disposition.into(),
            note: (n % 4 == 0).then(|| "Customer satisfied".to_string()),
        })?;
    }
    let (marta, _, _) = contacts[0].clone();
    s.run(Request::NewInteraction {
        channel: ChannelKind::Phone,
        campaign: "General".into(),
        contact: Some(marta),
        to: None,
        fields: BTreeMap::from([("Subject".to_string(), "Contract renewal".to_string())]),
        message: Some("Calling about the renewal we discussed".into()),
    })?;
    for n in 0..6usize {
        let (_, name, email) = contacts[(n * 13 + 5) % contacts.len()].clone();
        let (campaign_name, phone) = campaigns[n % campaigns.len()];
        let from = if campaign_name == "General" {
            format!("{}{}", &phone[..phone.len() - 1], n)
        } else {
            email
        };
        open.push(s.create(Request::Enqueue {
            campaign: campaign_name.into(),
            contact: None,
            from: Some(from),
            name: Some(name),
            message: Some(OPENERS[(n + 3) % OPENERS.len()].into()),
            priority: 0,
        })?);
    }
    s.run(Request::ChatSend {
        to: ChatTarget::Agent("Bruno".into()),
        text: "Can you take the 11:00 call with Globex?".into(),
    })?;
    s.run(Request::ChatSend {
        to: ChatTarget::Campaign("General".into()),
        text: "Standup in 5 minutes, everyone".into(),
    })?;
    s.run(Request::ChatSend {
        to: ChatTarget::Campaign("Orders".into()),
        text: "The 4471 delay is on the carrier's side".into(),
    })?;
    s.now = now_ms();
    s.run(Request::SetStatus {
        status: AgentStatus::Available,
    })?;
    Ok(Seeded { open })
}
