//! A node's home directory, and the one way to open it.
//!
//! A data dir holds one device's store (`meshdesk.redb`), its device key
//! (`device.key`), the team's key (`team.psk`) and, while a node runs, its
//! control socket. [`open`] is how the window, `meshdesk node`, the CLI
//! (when no node runs) and the gateways' tests all get at the data: it
//! loads the device key, opens the store and starts a [`Node`] that owns
//! it. Nothing else holds a store open for long; with networking off the
//! node serves this device alone, and it is still the only owner.

use std::path::{Path, PathBuf};

use libp2p::Multiaddr;
use meshdesk_model::clock::{Clock, Entropy};
use meshdesk_model::store::{Store, StoreError};
use tokio::sync::broadcast;

use crate::identity::{self, IdentityError};
use crate::node::{Event, Node, NodeConfig, NodeError, NodeHandle};
use crate::team::{self, TeamError};

/// The store's file inside a data dir.
pub const STORE_FILE: &str = "meshdesk.redb";

/// The store's path inside `root`.
pub fn store_path(root: &Path) -> PathBuf {
    root.join(STORE_FILE)
}

/// How the node on a data dir runs. With `network` on it listens on
/// `listen` (empty: a free port on every interface), dials `peers` at once,
/// finds teammates on the LAN when `mdns` is on, and serves the control
/// socket for the CLI; off, it does none of that and serves this device
/// alone. `clock` is where the store reads the time (a manual one in tests).
#[derive(Clone, Debug)]
pub struct OpenOptions {
    pub network: bool,
    pub mdns: bool,
    pub listen: Vec<Multiaddr>,
    pub peers: Vec<Multiaddr>,
    /// Relays to reach teammates through (see [`crate::NodeConfig::relays`]).
    pub relays: Vec<Multiaddr>,
    pub clock: Clock,
}

impl OpenOptions {
    /// A team member's node: networking on, found by mDNS.
    pub fn member() -> Self {
        OpenOptions {
            network: true,
            mdns: true,
            listen: vec![],
            peers: vec![],
            relays: vec![],
            clock: Clock::System,
        }
    }

    /// A node with networking off: a short CLI command, or a test.
    pub fn offline() -> Self {
        OpenOptions {
            network: false,
            mdns: false,
            ..OpenOptions::member()
        }
    }
}

/// Why a data dir could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(
        "another meshdesk process is using {0} (a headless `meshdesk node`?); stop it, or open another --data-dir"
    )]
    InUse(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Team(#[from] TeamError),
    #[error("the team key ({file}) is missing from {0}", file = team::TEAM_KEY_FILE)]
    NoTeamKey(PathBuf),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("opening the data dir stopped halfway: {0}")]
    Interrupted(String),
}

impl OpenError {
    /// Whether the data dir has no team yet (a networked node needs one).
    pub fn is_no_team(&self) -> bool {
        matches!(self, OpenError::Node(NodeError::NoTeam))
    }

    /// Whether the person who asked can fix it (no team, in use), rather than a failure.
    pub fn is_user_error(&self) -> bool {
        match self {
            OpenError::InUse(_) => true,
            OpenError::Node(e) => e.is_user_error(),
            _ => false,
        }
    }
}

/// Creates the directory (owner-only) if it is missing.
pub fn ensure_dir(root: &Path) -> Result<(), OpenError> {
    let create = |source| OpenError::Create {
        path: root.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(root).map_err(create)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).map_err(create)?;
    }
    Ok(())
}

/// Opens the store of `root` as its device (creating the device key on
/// first use). Blocking: a redb open. For what runs before a node can:
/// joining a team, checking the file.
pub fn open_store(root: &Path) -> Result<Store, OpenError> {
    ensure_dir(root)?;
    let key = identity::load_device_key(root)?;
    Store::open(store_path(root), key).map_err(|e| match e {
        StoreError::InUse(_) => OpenError::InUse(root.to_path_buf()),
        other => OpenError::Store(other),
    })
}

/// Opens the data dir and starts the node that owns its store.
///
/// A networked node needs a team ([`OpenError::is_no_team`] otherwise); a
/// node with networking off may start without one, and a `CreateTeam`
/// request through it creates the team and its key.
pub async fn open(
    root: &Path,
    options: OpenOptions,
) -> Result<(NodeHandle, broadcast::Receiver<Event>), OpenError> {
    let dir = root.to_path_buf();
    let network = options.network;
    let clock = options.clock.clone();
    let (store, keypair, psk) = tokio::task::spawn_blocking(move || {
        let mut store = open_store(&dir)?;
        store.set_sources(clock, Entropy::System);
        let keypair = identity::load_or_create(&dir)?;
        let psk = match team::load_team_key(&dir)? {
            Some(psk) => psk,
            // No team yet: a networked node refuses to start below; one with
            // networking off gets the team's key when the team is created.
            None if store.identity()?.is_none() => [0; 32],
            None => return Err(OpenError::NoTeamKey(dir)),
        };
        Ok((store, keypair, psk))
    })
    .await
    .map_err(|e| OpenError::Interrupted(e.to_string()))??;
    let mut config = NodeConfig::new(root, store, keypair, psk);
    config.network = network;
    config.mdns = options.mdns;
    config.listen = options.listen;
    config.peers = options.peers;
    config.relays = options.relays;
    config.control_socket = network;
    Ok(Node::start(config).await?)
}
