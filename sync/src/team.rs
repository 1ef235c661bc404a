//! Team administration that works with or without a running node: the team
//! key file, invites, revocation and the member list (DESIGN §6).
//!
//! The node calls these from its actor; the CLI calls them on a store it
//! opened itself when no node runs. Writes go through the model's document
//! functions in one durable transaction, like every other operation.
//!
//! Decisions: only a supervisor may create an invite or revoke a device; a
//! device cannot revoke itself (that would lock the last supervisor out).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use libp2p::Multiaddr;
use meshdesk_model::doc::{self, DocId};
use meshdesk_model::durable::{self, Access};
use meshdesk_model::store::{DocChange, Store, StoreError};
use meshdesk_model::{AgentId, Invite, Millis, Role, Team, team_key};
use serde::{Deserialize, Serialize};

use crate::invite::{InviteCode, new_psk};

/// The team key file in the data directory (32 raw bytes, mode 0600).
pub const TEAM_KEY_FILE: &str = "team.psk";
/// The default lifetime of an invite (24 h).
pub const DEFAULT_INVITE_TTL_MS: Millis = 24 * 60 * 60 * 1000;

/// Why a team operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error("no team yet: run `meshdesk team create` or `meshdesk team join CODE`")]
    NoTeam,
    #[error("the team document has not arrived yet; wait for the first sync")]
    NoTeamDoc,
    #[error("only a supervisor can {0}")]
    NotSupervisor(&'static str),
    #[error("no device `{0}` on the team roster")]
    UnknownDevice(String),
    #[error("a device cannot revoke itself")]
    RevokeSelf,
    #[error("{0}")]
    Invalid(String),
    #[error("the team key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(Box<StoreError>),
}

impl From<StoreError> for TeamError {
    fn from(e: StoreError) -> Self {
        TeamError::Store(Box::new(e))
    }
}

impl TeamError {
    /// Whether the request was at fault rather than the machine.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, TeamError::Store(_) | TeamError::Key { .. })
    }
}

pub fn team_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TEAM_KEY_FILE)
}

/// Reads the team's pre-shared key; `Ok(None)` if this data dir has none.
pub fn load_team_key(data_dir: &Path) -> Result<Option<[u8; 32]>, TeamError> {
    let path = team_key_path(data_dir);
    match fs::read(&path) {
        Ok(bytes) => {
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| TeamError::Key {
                path: path.clone(),
                reason: format!("is {} bytes long, expected 32", bytes.len()),
            })?;
            Ok(Some(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TeamError::Key {
            path,
            reason: e.to_string(),
        }),
    }
}

/// Writes the team key (owner-only), replacing any earlier one.
pub fn save_team_key(data_dir: &Path, key: &[u8; 32]) -> Result<(), TeamError> {
    write_secret(&team_key_path(data_dir), key)
}

/// Keys the team used before its latest rotation, newest last, kept so that
/// a teammate who missed a rotation can still reach this node.
pub const RETIRED_KEYS_FILE: &str = "team.retired-keys";
/// Retired keys kept at most (each rotation retires one).
pub const MAX_RETIRED_KEYS: usize = 32;

/// The retired team keys of this data dir (none if it has no such file).
pub fn load_retired_team_keys(data_dir: &Path) -> Result<Vec<[u8; 32]>, TeamError> {
    let path = data_dir.join(RETIRED_KEYS_FILE);
    match fs::read(&path) {
        Ok(bytes) if bytes.len() % 32 == 0 => Ok(bytes
            .chunks_exact(32)
            .filter_map(|c| <[u8; 32]>::try_from(c).ok())
            .collect()),
        Ok(bytes) => Err(TeamError::Key {
            path,
            reason: format!("is {} bytes long, not a multiple of 32", bytes.len()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(TeamError::Key {
            path,
            reason: e.to_string(),
        }),
    }
}

/// Switches this data dir to a rotated team key: the one in force is
/// retired first, so a crash between the two writes loses no key.
pub fn switch_team_key(data_dir: &Path, new: &[u8; 32]) -> Result<(), TeamError> {
    let mut retired = load_retired_team_keys(data_dir)?;
    if let Some(current) = load_team_key(data_dir)?
        && current != *new
        && !retired.contains(&current)
    {
        retired.push(current);
    }
    let skip = retired.len().saturating_sub(MAX_RETIRED_KEYS);
    let bytes: Vec<u8> = retired.iter().skip(skip).flatten().copied().collect();
    write_secret(&data_dir.join(RETIRED_KEYS_FILE), &bytes)?;
    save_team_key(data_dir, new)
}

/// Writes an owner-only file whole or not at all.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), TeamError> {
    durable::write(path, bytes, Access::Private).map_err(|e| TeamError::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Creates a fresh random team key for a new team (the `team create` step).
pub fn create_team_key(data_dir: &Path) -> Result<[u8; 32], TeamError> {
    let key = new_psk();
    save_team_key(data_dir, &key)?;
    Ok(key)
}

fn my_team(store: &Store) -> Result<(meshdesk_model::store::LocalIdentity, Team), TeamError> {
    let me = store.identity()?.ok_or(TeamError::NoTeam)?;
    let team = store.team()?.ok_or(TeamError::NoTeamDoc)?;
    Ok((me, team))
}

fn require_supervisor(team: &Team, agent: AgentId, what: &'static str) -> Result<(), TeamError> {
    if team.role_of(agent) == Some(Role::Supervisor) {
        Ok(())
    } else {
        Err(TeamError::NotSupervisor(what))
    }
}

/// Creates an invite: records its token hash, expiry and use count in the
/// team document and returns the code to hand over.
pub fn create_invite(
    store: &mut Store,
    psk: [u8; 32],
    now: Millis,
    ttl_ms: Millis,
    max_uses: u32,
    campaigns: &[String],
    addrs: Vec<Multiaddr>,
) -> Result<(InviteCode, DocChange), TeamError> {
    let (me, team) = my_team(store)?;
    require_supervisor(&team, me.agent, "create invites")?;
    let mut campaign_ids = Vec::new();
    for name in campaigns {
        let id = name
            .trim()
            .parse()
            .ok()
            .filter(|id| team.campaigns.contains_key(id))
            .or_else(|| team.campaign_by_name(name).map(|c| c.id))
            .ok_or_else(|| TeamError::Invalid(format!("unknown campaign `{name}`")))?;
        if !campaign_ids.contains(&id) {
            campaign_ids.push(id);
        }
    }
    if ttl_ms <= 0 {
        return Err(TeamError::Invalid(
            "the invite must expire in the future".into(),
        ));
    }
    if max_uses == 0 {
        return Err(TeamError::Invalid(
            "the invite must allow at least one use".into(),
        ));
    }
    let expires_at = now.saturating_add(ttl_ms);
    let code = InviteCode {
        team_id: team.id,
        psk,
        token: store.new_token(),
        expires_at,
        addrs,
    };
    let invite = Invite {
        token_hash: code.token_hash(),
        created_by: me.agent,
        issuer: store.device(),
        created_at: now,
        expires_at,
        max_uses,
        used_by: Default::default(),
        campaigns: campaign_ids,
    };
    let change = store.write_doc(&DocId::Team(team.id), false, move |d| {
        doc::team::add_invite(d, &invite)
    })?;
    Ok((code, change))
}

/// Revokes a device: it stays on the roster marked revoked, so every peer
/// learns of it and refuses it.
pub fn revoke(store: &mut Store, device: &str, now: Millis) -> Result<DocChange, TeamError> {
    let (me, team) = my_team(store)?;
    require_supervisor(&team, me.agent, "revoke devices")?;
    let device = device.trim();
    // Accept a unique prefix of a peer id, as people copy the start of long ids.
    let matches: Vec<&String> = team
        .members
        .keys()
        .filter(|d| d.starts_with(device))
        .collect();
    let target = match (team.members.get(device), matches.as_slice()) {
        (Some(_), _) => device.to_string(),
        (None, [one]) if !device.is_empty() => (*one).clone(),
        (None, []) => return Err(TeamError::UnknownDevice(device.to_string())),
        _ => {
            return Err(TeamError::Invalid(format!(
                "`{device}` matches several devices; give more of it"
            )));
        }
    };
    if target == me.device {
        return Err(TeamError::RevokeSelf);
    }
    let change = store.write_doc(&DocId::Team(team.id), false, move |d| {
        doc::team::revoke_member(d, &target, now)
    })?;
    Ok(change)
}

/// Makes a new team key when a revoked device may still hold the one in
/// force and this device is a supervisor: the key and the team change.
pub fn rotate_key_if_due(
    store: &mut Store,
    now: Millis,
) -> Result<Option<([u8; 32], DocChange)>, TeamError> {
    let (me, team) = my_team(store)?;
    if !team.rotates_keys(&me.device) || !team.needs_key_rotation() {
        return Ok(None);
    }
    let (key, rotation) = team_key::rotate(&team, &me.device, now)
        .map_err(|e| TeamError::Invalid(format!("cannot seal the new team key: {e}")))?;
    let change = store.write_doc(&DocId::Team(team.id), false, move |d| {
        doc::team::add_team_key(d, &rotation)
    })?;
    Ok(Some((key, change)))
}

/// One device on the roster, as `team members` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub device: String,
    pub device_name: String,
    pub agent: AgentId,
    pub agent_name: String,
    pub role: Role,
    pub joined_at: Millis,
    pub revoked: bool,
    /// Connected to this node now (always true for this device while a node runs).
    pub online: bool,
    pub this_device: bool,
}

/// The roster with agent names and online state (`online`: devices connected now).
pub fn members(store: &Store, online: &HashSet<String>) -> Result<Vec<MemberInfo>, TeamError> {
    let (me, team) = my_team(store)?;
    let agents = store.agents()?;
    let mut out: Vec<MemberInfo> = team
        .members
        .values()
        .map(|m| MemberInfo {
            device: m.device.clone(),
            device_name: m.device_name.clone(),
            agent: m.agent,
            agent_name: agents
                .get(&m.agent)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| m.agent.to_string()),
            role: m.role,
            joined_at: m.joined_at,
            revoked: m.revoked,
            online: !m.revoked && online.contains(&m.device),
            this_device: m.device == me.device,
        })
        .collect();
    out.sort_by(|a, b| {
        (a.revoked, &a.agent_name, &a.device).cmp(&(b.revoked, &b.agent_name, &b.device))
    });
    Ok(out)
}
