//! Shared set-up for the gateway tests: a real node (networking off) owning a
//! real store with a team, a server on an ephemeral 127.0.0.1 port, an API token.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use meshdesk_channels::{HttpConfig, NodeBackend, Rate, RetryPolicy, Server, SettingsFile, serve};
use meshdesk_model::authorship::DeviceKey;
use meshdesk_model::ops::{CampaignSpec, Client, InteractionRow, Reply, Request, Tab};
use meshdesk_model::{AgentStatus, ChannelKind, Strategy};
use tempfile::TempDir;

pub const WEBCHAT: &str = "Support";
/// The store's file name inside the test's data dir.
pub const STORE_FILE: &str = meshdesk_sync::home::STORE_FILE;
pub const API: &str = "Integrations";
pub const PHONE: &str = "General";

pub struct Env {
    pub dir: TempDir,
    /// The store's device key (to reopen it as the same device).
    pub key: DeviceKey,
    pub backend: NodeBackend,
    pub server: Option<Server>,
    pub http: reqwest::Client,
}

pub fn campaign(name: &str, channel: ChannelKind) -> Request {
    Request::AddCampaign(CampaignSpec::new(name, channel, Strategy::RingAll))
}

/// The node of `dir` (networking off), as the gateways reach it.
pub async fn open(dir: &TempDir) -> NodeBackend {
    let (node, _events) =
        meshdesk_sync::home::open(dir.path(), meshdesk_sync::home::OpenOptions::offline())
            .await
            .expect("open the data dir");
    NodeBackend::new(node)
}

/// A team, an available agent, a webchat and an api campaign, on the node of `dir`.
pub async fn backend(dir: &TempDir) -> NodeBackend {
    let backend = open(dir).await;
    let setup = [
        Request::CreateTeam {
            team_name: "Acme".into(),
            agent_name: "Alice".into(),
            device_name: "test".into(),
        },
        Request::SetStatus {
            status: AgentStatus::Available,
        },
        campaign(WEBCHAT, ChannelKind::Webchat),
        campaign(API, ChannelKind::Api),
    ];
    for request in setup {
        backend.call(request).await.expect("set-up request");
    }
    backend
}

pub fn config(dir: &TempDir) -> HttpConfig {
    let mut config = HttpConfig::new(dir.path());
    config.webhook_retry = RetryPolicy {
        base: Duration::from_millis(100),
        max: Duration::from_millis(400),
        timeout: Duration::from_secs(5),
        concurrency: 4,
    };
    config.visitor_messages = Rate::new(50, 50.0);
    config.visitor_starts = Rate::new(50, 50.0);
    config
}

pub async fn env_with(config: impl FnOnce(&mut HttpConfig)) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = backend(&dir).await;
    let key = meshdesk_sync::identity::load_device_key(dir.path()).expect("the device key");
    let mut cfg = self::config(&dir);
    config(&mut cfg);
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let server = serve(addr, backend.clone(), cfg).await.expect("serve");
    Env {
        dir,
        key,
        backend,
        server: Some(server),
        http: reqwest::Client::new(),
    }
}

pub async fn env() -> Env {
    env_with(|_| {}).await
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        let server = self.server.as_ref().expect("server running");
        format!("{}{path}", server.url())
    }

    pub fn ws_url(&self, path: &str) -> String {
        let server = self.server.as_ref().expect("server running");
        format!("ws://{}{path}", server.local_addr())
    }

    pub fn token(&self, name: &str) -> String {
        SettingsFile::in_dir(self.dir.path())
            .create_api_token(name)
            .expect("create token")
            .token
    }

    /// What a supervisor does to let webhooks reach a local receiver.
    pub fn allow_webhook_host(&self, host: &str) {
        SettingsFile::in_dir(self.dir.path())
            .allow_webhook_host(host)
            .expect("allow-list a webhook host");
    }

    pub async fn call(&self, request: Request) -> Reply {
        self.backend.call(request).await.expect("backend call")
    }

    pub async fn pending_ids(&self) -> Vec<String> {
        let rows: Vec<InteractionRow> = self
            .backend
            .ask(Request::ListInteractions {
                tab: Tab::Pending,
                search: None,
                limit: None,
                history: Default::default(),
            })
            .await
            .expect("the pending list");
        rows.iter().map(|r| r.summary.id.to_string()).collect()
    }

    /// The agent takes the interaction and answers.
    pub async fn agent_reply(&self, id: &str, text: &str) {
        let _ = self
            .backend
            .call(Request::Accept {
                id: id.parse().expect("an id"),
            })
            .await;
        self.call(Request::Send {
            id: id.parse().expect("an id"),
            text: text.into(),
        })
        .await;
    }

    pub async fn finalize(&self, id: &str) {
        self.call(Request::Finalize {
            id: id.parse().expect("an id"),
            disposition: "Resolved".into(),
            note: Some("done".into()),
        })
        .await;
    }

    /// Restarts the HTTP server on the same data dir and store.
    pub async fn restart(&mut self, config: HttpConfig) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        self.server = Some(
            serve(addr, self.backend.clone(), config)
                .await
                .expect("serve again"),
        );
    }
}

/// Polls `check` until it gives `Some`, or panics after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
