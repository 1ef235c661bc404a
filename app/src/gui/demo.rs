//! `meshdesk --demo`: a throwaway team in a temp data dir, filled with
//! realistic sample data through the same requests the app makes —
//! campaigns on three channels with different strategies, teammates, about
//! 200 contacts, interactions in every state, and chats. The window then
//! opens on it with its node running like any other.

use std::collections::BTreeMap;
use std::path::PathBuf;

use meshdesk_model::ops::{self, CampaignSpec, ChatTarget, ContactSpec, Context, Reply, Request};
use meshdesk_model::store::Store;
use meshdesk_model::{AgentStatus, ChannelKind, FormField, Millis, Strategy, now_ms};

use crate::data_dir::DataDir;

const FIRST: [&str; 20] = [
    "Marta", "Bruno", "Ines", "Tomas", "Lucia", "Pablo", "Sofia", "Hugo", "Elena", "Mateo",
    "Julia", "Dario", "Clara", "Andres", "Paula", "Jorge", "Alba", "Diego", "Noa", "Ivan",
];
const LAST: [&str; 10] = [
    "Ruiz", "Diaz", "Lopez", "Garcia", "Navarro", "Romero", "Torres", "Vidal", "Molina", "Ortega",
];
const COMPANIES: [&str; 8] = [
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Soylent",
];
const OPENERS: [&str; 10] = [
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
const REPLIES: [&str; 6] = [
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

    fn create(&mut self, request: Request) -> Result<String, String> {
        match self.run(request)? {
            Reply::Created { id } => Ok(id),
            other => Err(format!("expected an id, got {other:?}")),
        }
    }
}

fn campaign(
    name: &str,
    channel: ChannelKind,
    strategy: Strategy,
    members: &[&str],
    dispositions: &[&str],
    fields: &[(&str, bool)],
    sla_seconds: u32,
) -> Request {
    Request::AddCampaign(CampaignSpec {
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
        offer_timeout_seconds: None,
    })
}

/// Makes the demo team in a fresh temp data dir and returns it.
pub fn prepare() -> Result<DataDir, String> {
    let root: PathBuf =
        std::env::temp_dir().join(format!("meshdesk-demo-{}-{}", std::process::id(), now_ms()));
    let data_dir = DataDir::resolve(Some(root)).map_err(|e| e.to_string())?;
    data_dir.ensure().map_err(|e| e.to_string())?;
    let keypair =
        meshdesk_sync::identity::load_or_create(data_dir.root()).map_err(|e| e.to_string())?;
    let psk = meshdesk_sync::team::create_team_key(data_dir.root()).map_err(|e| e.to_string())?;
    let store = Store::open(data_dir.store_path()).map_err(|e| e.to_string())?;
    let mut s = Seeder {
        store,
        now: now_ms() - 4 * 3_600_000,
    };
    s.run(Request::CreateTeam {
        team_name: "Demo Support".into(),
        agent_name: "Ana".into(),
        device: meshdesk_sync::identity::peer_id_string(&keypair),
        device_name: "demo".into(),
    })?;
    for (i, name) in ["Bruno", "Carla", "Dario"].into_iter().enumerate() {
        let (code, _) = meshdesk_sync::team::create_invite(
            &mut s.store,
            psk,
            s.now,
            meshdesk_sync::team::DEFAULT_INVITE_TTL_MS,
            1,
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
    s.run(campaign(
        "Orders",
        ChannelKind::Webchat,
        Strategy::RoundRobin,
        &["Ana", "Bruno", "Carla"],
        &["Sold", "Lost", "Follow-up"],
        &[("Order", true), ("Product", false)],
        120,
    ))?;
    s.run(campaign(
        "Billing",
        ChannelKind::Email,
        Strategy::LongestIdle,
        &["Ana", "Dario"],
        &["Paid", "Disputed", "Refunded"],
        &[("Invoice number", true)],
        3_600,
    ))?;

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
            contact: Some(id.clone()),
            from,
            name: Some(name.clone()),
            message: Some(OPENERS[n % OPENERS.len()].into()),
            priority: 0,
        })?;
        s.run(Request::Accept {
            id: interaction.clone(),
        })?;
        s.run(Request::Send {
            id: interaction.clone(),
            text: REPLIES[n % REPLIES.len()].into(),
        })?;
        if n >= 30 {
            // The last few stay open: this agent's Active tab.
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
        s.run(Request::Enqueue {
            campaign: campaign_name.into(),
            contact: None,
            from: Some(from),
            name: Some(name),
            message: Some(OPENERS[(n + 3) % OPENERS.len()].into()),
            priority: 0,
        })?;
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
    Ok(data_dir)
}
