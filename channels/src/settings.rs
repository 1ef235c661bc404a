//! The gateways' settings: API tokens and per-campaign webhooks, in
//! `<data-dir>/channels.json`.
//!
//! Both are kept on the device that serves HTTP, not in the replicated team
//! document (see docs/ARCHITECTURE.md, "Channels"): an API token is a
//! credential for one node's HTTP listener, and a webhook is delivered by the
//! node whose outbox holds it. Tokens are stored as SHA-256 hashes only; the
//! token itself is shown once, when it is made.
//!
//! The file is small and edited rarely (by the CLI or the API) and read on
//! every authenticated request, so it is a JSON file written atomically
//! (lock, write a temporary file, fsync, rename) and reloaded by a running
//! server whenever it changes on disk: `meshdesk api-token revoke` takes
//! effect at the next request, whether or not a node is running.

use meshdesk_model::durable::{self, Access};
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use meshdesk_model::{Millis, now_ms};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ChannelError;

/// The settings file's name inside the data dir.
pub const SETTINGS_FILE: &str = "channels.json";
/// What every API token starts with, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "mdk_";
/// The longest token name accepted.
const MAX_NAME_CHARS: usize = 100;

/// A stored API token: its hash, never the token.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApiToken {
    /// A short public id, also embedded in the token (`mdk_<id>_<secret>`).
    pub id: String,
    pub name: String,
    /// Lowercase hex SHA-256 of the whole token.
    pub hash: String,
    pub created_at: Millis,
}

/// An API token as listed: no hash.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    pub id: String,
    pub name: String,
    pub created_at: Millis,
}

impl From<&ApiToken> for ApiTokenInfo {
    fn from(t: &ApiToken) -> Self {
        ApiTokenInfo {
            id: t.id.clone(),
            name: t.name.clone(),
            created_at: t.created_at,
        }
    }
}

/// A freshly made token: the only time the secret is known.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NewApiToken {
    #[serde(flatten)]
    pub info: ApiTokenInfo,
    pub token: String,
}

/// Where a campaign's events are POSTed, and the key that signs them.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Webhook {
    pub campaign_id: String,
    /// The campaign's name when the webhook was set (for listing).
    pub campaign_name: String,
    pub url: String,
    /// The HMAC-SHA256 key; the receiver holds the same.
    pub secret: String,
    /// Only events from this moment on are sent (no flood of history).
    pub since: Millis,
    /// The id of the API token that set it; `None` when a supervisor set it
    /// on the device (CLI). Only that token may replace or remove it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// The whole settings file.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub api_tokens: Vec<ApiToken>,
    /// By campaign id.
    #[serde(default)]
    pub webhooks: BTreeMap<String, Webhook>,
    /// Hosts (names or IP literals, as written in webhook URLs) that webhooks
    /// may go to although they are, or resolve to, loopback, private,
    /// link-local or other non-public addresses. Only a supervisor sets
    /// them, on the serving device (see [`crate::destination`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_allow_hosts: Vec<String>,
    /// The supervisor's changes to the gateway's limits, read when the
    /// server starts (e.g. higher per-address caps behind a reverse proxy).
    #[serde(default, skip_serializing_if = "GatewayLimits::is_empty")]
    pub gateway_limits: GatewayLimits,
}

/// Changes to the gateway's limits ([`crate::HttpConfig`]); each one absent
/// keeps the default. Times in milliseconds.
#[derive(Clone, Copy, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct GatewayLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections_per_address: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_read_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sockets: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sockets_per_visitor: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_idle_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_messages_per_interaction: Option<usize>,
    /// Chats one client address may start: a burst, then so many per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_starts: Option<crate::Rate>,
    /// Messages one visitor may send: a burst, then so many per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_messages: Option<crate::Rate>,
}

impl GatewayLimits {
    fn is_empty(&self) -> bool {
        *self == GatewayLimits::default()
    }
}

/// A host as compared with the allow-list: lowercase, no IPv6 brackets,
/// no trailing dot.
fn normal_host(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Compares two byte strings in time independent of where they differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

impl Settings {
    /// The stored token a presented bearer token matches, if any.
    pub fn check_token(&self, presented: &str) -> Option<&ApiToken> {
        let rest = presented.strip_prefix(TOKEN_PREFIX)?;
        let (id, _) = rest.split_once('_')?;
        let token = self.api_tokens.iter().find(|t| t.id == id)?;
        let hash = sha256_hex(presented.as_bytes());
        ct_eq(hash.as_bytes(), token.hash.as_bytes()).then_some(token)
    }

    /// Whether the API token `token_id` may replace or remove the campaign's
    /// webhook: there is none, the token set it, or the token that set it
    /// has been revoked (its integration is gone). One a supervisor set on
    /// the device is the supervisor's to change.
    pub fn may_change_webhook(
        &self,
        campaign_id: &str,
        token_id: &str,
    ) -> Result<(), ChannelError> {
        let Some(hook) = self.webhooks.get(campaign_id) else {
            return Ok(());
        };
        match hook.owner.as_deref() {
            Some(owner) if owner == token_id => Ok(()),
            Some(owner) if !self.api_tokens.iter().any(|t| t.id == owner) => Ok(()),
            Some(_) => Err(ChannelError::Forbidden(
                "this campaign's webhook was set by another API token; only that token \
                 (or a supervisor on the serving device) may change it"
                    .into(),
            )),
            None => Err(ChannelError::Forbidden(
                "this campaign's webhook was set by a supervisor on the serving device; \
                 only they may change it"
                    .into(),
            )),
        }
    }

    /// Whether a supervisor has allow-listed this webhook host.
    pub fn webhook_host_allowed(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.webhook_allow_hosts
            .iter()
            .any(|h| normal_host(h) == host)
    }
}

/// Checks a webhook URL: absolute http(s) with a host (its address is
/// checked against the settings by [`check_webhook_destination`]).
pub fn check_webhook_url(raw: &str) -> Result<String, ChannelError> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| ChannelError::Invalid(format!("malformed webhook url `{raw}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ChannelError::Invalid(format!(
            "the webhook url `{raw}` must be an http or https url with a host"
        )));
    }
    Ok(url.to_string())
}

/// The shortest webhook secret accepted.
pub const MIN_SECRET_CHARS: usize = 16;

/// Checks a webhook secret given by the user: at least 16 characters once trimmed.
pub fn check_webhook_secret(raw: &str) -> Result<String, ChannelError> {
    let secret = raw.trim();
    if secret.chars().count() < MIN_SECRET_CHARS {
        return Err(ChannelError::Invalid(format!(
            "the webhook secret must be at least {MIN_SECRET_CHARS} characters"
        )));
    }
    Ok(secret.to_string())
}

/// Checks a webhook URL in full: [`check_webhook_url`], then its host is
/// not a loopback, private or otherwise non-public address (unless allow-listed).
pub fn check_webhook_destination(raw: &str, settings: &Settings) -> Result<String, ChannelError> {
    let url = check_webhook_url(raw)?;
    let parsed =
        reqwest::Url::parse(&url).map_err(|e| ChannelError::Invalid(format!("{url}: {e}")))?;
    crate::destination::check_url_host(&parsed, settings)
        .map_err(|e| ChannelError::Invalid(e.to_string()))?;
    Ok(url)
}

/// The settings file of one data dir.
#[derive(Clone, Debug)]
pub struct SettingsFile {
    path: PathBuf,
}

impl SettingsFile {
    /// The settings file in a node's data dir.
    pub fn in_dir(data_dir: impl AsRef<Path>) -> Self {
        SettingsFile {
            path: data_dir.as_ref().join(SETTINGS_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> ChannelError {
        ChannelError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Reads the settings; a missing file is empty settings.
    pub fn load(&self) -> Result<Settings, ChannelError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(self.io(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| ChannelError::Malformed {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// Reads, edits and atomically rewrites the settings under an exclusive lock.
    fn update<T>(
        &self,
        edit: impl FnOnce(&mut Settings) -> Result<T, ChannelError>,
    ) -> Result<T, ChannelError> {
        let dir = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        fs::create_dir_all(&dir).map_err(|e| self.io(e))?;
        let lock_path = self.path.with_extension("json.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| self.io(e))?;
        lock.lock().map_err(|e| self.io(e))?;
        let mut settings = self.load()?;
        let out = edit(&mut settings)?;
        let bytes = serde_json::to_vec_pretty(&settings)
            .map_err(|e| ChannelError::Invalid(e.to_string()))?;
        durable::write(&self.path, &bytes, Access::Private).map_err(|e| self.io(e))?;
        drop(lock);
        Ok(out)
    }

    /// Makes a new API token named `name` (unique). The token is returned once.
    pub fn create_api_token(&self, name: &str) -> Result<NewApiToken, ChannelError> {
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(ChannelError::Invalid(
                "the token name must not be empty".into(),
            ));
        }
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(ChannelError::Invalid(format!(
                "the token name must be at most {MAX_NAME_CHARS} printable characters"
            )));
        }
        self.update(|s| {
            if s.api_tokens
                .iter()
                .any(|t| t.name.eq_ignore_ascii_case(&name))
            {
                return Err(ChannelError::Invalid(format!(
                    "an API token named `{name}` already exists"
                )));
            }
            let mut id = random_hex(4);
            while s.api_tokens.iter().any(|t| t.id == id) {
                id = random_hex(4);
            }
            let token = format!("{TOKEN_PREFIX}{id}_{}", random_hex(32));
            let stored = ApiToken {
                id,
                name: name.clone(),
                hash: sha256_hex(token.as_bytes()),
                created_at: now_ms(),
            };
            let info = ApiTokenInfo::from(&stored);
            s.api_tokens.push(stored);
            Ok(NewApiToken { info, token })
        })
    }

    /// The API tokens, oldest first.
    pub fn list_api_tokens(&self) -> Result<Vec<ApiTokenInfo>, ChannelError> {
        Ok(self
            .load()?
            .api_tokens
            .iter()
            .map(ApiTokenInfo::from)
            .collect())
    }

    /// Revokes (deletes) the token with this name or id.
    pub fn revoke_api_token(&self, name_or_id: &str) -> Result<ApiTokenInfo, ChannelError> {
        let key = name_or_id.trim();
        self.update(|s| {
            let position = s
                .api_tokens
                .iter()
                .position(|t| t.id == key || t.name.eq_ignore_ascii_case(key))
                .ok_or_else(|| ChannelError::NotFound(format!("no API token named `{key}`")))?;
            Ok(ApiTokenInfo::from(&s.api_tokens.remove(position)))
        })
    }

    /// Sets (or replaces) a campaign's webhook, as a supervisor on the device
    /// (whoever set it before). Without a secret, a fresh one is made.
    pub fn set_webhook(
        &self,
        campaign_id: &str,
        campaign_name: &str,
        url: &str,
        secret: Option<&str>,
    ) -> Result<Webhook, ChannelError> {
        self.set_webhook_as(None, campaign_id, campaign_name, url, secret)
    }

    /// Sets (or replaces) a campaign's webhook on behalf of `owner`: the id of
    /// the API token asking, or `None` for a supervisor on the device. A token
    /// may only replace a webhook it set itself ([`Settings::may_change_webhook`]).
    pub fn set_webhook_as(
        &self,
        owner: Option<&str>,
        campaign_id: &str,
        campaign_name: &str,
        url: &str,
        secret: Option<&str>,
    ) -> Result<Webhook, ChannelError> {
        let url = check_webhook_url(url)?;
        let secret = match secret {
            Some(s) => check_webhook_secret(s)?,
            None => format!("whsec_{}", random_hex(32)),
        };
        self.update(|s| {
            if let Some(token) = owner {
                s.may_change_webhook(campaign_id, token)?;
            }
            let url = check_webhook_destination(&url, s)?;
            let since = s
                .webhooks
                .get(campaign_id)
                .map(|w| w.since)
                .unwrap_or_else(now_ms);
            let hook = Webhook {
                campaign_id: campaign_id.to_string(),
                campaign_name: campaign_name.to_string(),
                url,
                secret,
                since,
                owner: owner.map(str::to_string),
            };
            s.webhooks.insert(campaign_id.to_string(), hook.clone());
            Ok(hook)
        })
    }

    /// Removes a campaign's webhook, as a supervisor; whether there was one.
    pub fn remove_webhook(&self, campaign_id: &str) -> Result<bool, ChannelError> {
        self.remove_webhook_as(None, campaign_id)
    }

    /// Removes a campaign's webhook on behalf of `owner` (a token id, or
    /// `None` for a supervisor); whether there was one.
    pub fn remove_webhook_as(
        &self,
        owner: Option<&str>,
        campaign_id: &str,
    ) -> Result<bool, ChannelError> {
        self.update(|s| {
            if let Some(token) = owner {
                s.may_change_webhook(campaign_id, token)?;
            }
            Ok(s.webhooks.remove(campaign_id).is_some())
        })
    }

    /// Lets webhooks go to `host` whatever it resolves to (a supervisor's decision).
    pub fn allow_webhook_host(&self, host: &str) -> Result<(), ChannelError> {
        let host = normal_host(host);
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(ChannelError::Invalid(format!(
                "`{host}` is not a host name or address"
            )));
        }
        self.update(|s| {
            if !s.webhook_host_allowed(&host) {
                s.webhook_allow_hosts.push(host);
            }
            Ok(())
        })
    }

    /// Takes `host` off the allow-list; whether it was on it. Webhooks already
    /// set to it stay, and their deliveries are refused from now on.
    pub fn disallow_webhook_host(&self, host: &str) -> Result<bool, ChannelError> {
        let host = normal_host(host);
        self.update(|s| {
            let before = s.webhook_allow_hosts.len();
            s.webhook_allow_hosts.retain(|h| normal_host(h) != host);
            Ok(s.webhook_allow_hosts.len() != before)
        })
    }

    /// Every webhook, by campaign id.
    pub fn list_webhooks(&self) -> Result<Vec<Webhook>, ChannelError> {
        Ok(self.load()?.webhooks.into_values().collect())
    }
}

/// What identifies one version of the file on disk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let meta = fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        meta.ino()
    };
    #[cfg(not(unix))]
    let inode = 0;
    Some(Fingerprint {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

/// The settings as a running server sees them: reloaded when the file changes.
#[derive(Debug)]
pub struct SettingsCache {
    file: SettingsFile,
    current: Mutex<(Option<Fingerprint>, Arc<Settings>)>,
}

impl SettingsCache {
    pub fn new(file: SettingsFile) -> Self {
        SettingsCache {
            file,
            current: Mutex::new((None, Arc::new(Settings::default()))),
        }
    }

    pub fn file(&self) -> &SettingsFile {
        &self.file
    }

    /// The current settings (one `stat` per call; a re-read only after a change).
    /// A file that cannot be read keeps the last good settings, and is logged.
    pub fn get(&self) -> Arc<Settings> {
        let now = fingerprint(self.file.path());
        let Ok(mut current) = self.current.lock() else {
            return Arc::new(Settings::default());
        };
        if current.0 != now {
            match self.file.load() {
                Ok(settings) => *current = (now, Arc::new(settings)),
                Err(e) => tracing::error!(error = %e, "cannot reload the channel settings"),
            }
        }
        current.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_checked_and_revoked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = SettingsFile::in_dir(dir.path());
        let made = file.create_api_token("crm").expect("create");
        assert!(made.token.starts_with(TOKEN_PREFIX));
        let raw = std::fs::read_to_string(file.path()).expect("read");
        assert!(
            !raw.contains(&made.token),
            "the token itself is never stored"
        );
        let settings = file.load().expect("load");
        assert_eq!(
            settings.check_token(&made.token).map(|t| t.name.as_str()),
            Some("crm")
        );
        let mut wrong = made.token.clone();
        wrong.pop();
        wrong.push('x');
        assert!(settings.check_token(&wrong).is_none());
        assert!(settings.check_token("garbage").is_none());
        assert!(file.create_api_token("CRM").is_err(), "names are unique");
        assert!(file.create_api_token("  ").is_err());
        assert_eq!(file.list_api_tokens().expect("list").len(), 1);
        file.revoke_api_token("crm").expect("revoke");
        assert!(
            file.load()
                .expect("load")
                .check_token(&made.token)
                .is_none()
        );
        assert!(file.revoke_api_token("crm").is_err());
    }

    #[test]
    fn cache_sees_changes_made_by_another_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = SettingsCache::new(SettingsFile::in_dir(dir.path()));
        assert!(cache.get().api_tokens.is_empty());
        let made = SettingsFile::in_dir(dir.path())
            .create_api_token("a")
            .expect("create");
        assert!(cache.get().check_token(&made.token).is_some());
        SettingsFile::in_dir(dir.path())
            .revoke_api_token(&made.info.id)
            .expect("revoke");
        assert!(cache.get().check_token(&made.token).is_none());
    }

    #[test]
    fn webhook_urls_are_checked() {
        assert!(check_webhook_url("https://example.com/hook").is_ok());
        assert!(check_webhook_url("ftp://example.com").is_err());
        assert!(check_webhook_url("not a url").is_err());
    }

    #[test]
    fn local_webhooks_need_a_supervisors_allow_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = SettingsFile::in_dir(dir.path());
        let refused = file
            .set_webhook("c1", "Support", "http://127.0.0.1:9000/hook", None)
            .expect_err("loopback refused");
        assert!(
            refused.to_string().contains("webhook_allow_hosts"),
            "{refused}"
        );
        assert!(
            file.set_webhook("c1", "Support", "http://192.168.1.20/hook", None)
                .is_err()
        );
        file.allow_webhook_host("127.0.0.1").expect("allow");
        file.set_webhook("c1", "Support", "http://127.0.0.1:9000/hook", None)
            .expect("allow-listed host accepted");
        assert!(file.load().expect("load").webhook_host_allowed("127.0.0.1"));
        assert!(file.disallow_webhook_host("127.0.0.1").expect("disallow"));
        assert!(!file.load().expect("load").webhook_host_allowed("127.0.0.1"));
        assert!(file.allow_webhook_host("bad host/").is_err());
    }
}
