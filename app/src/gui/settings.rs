//! What the window remembers between runs: its size, the last tab,
//! whether desktop notifications are on and whether (and where) the window
//! serves the webchat and the API, in
//! `<data_dir>/settings.json`. A missing or unreadable file gives the
//! defaults (a damaged file is never fatal, and is replaced on the next save).

use std::io;
use std::path::Path;

use meshdesk_model::durable::{self, Access};

use serde::{Deserialize, Serialize};

use super::nav::TabId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub width: f32,
    pub height: f32,
    pub last_tab: TabId,
    /// Desktop notifications (and their sound) for offers and messages.
    pub notifications: bool,
    /// Serve the webchat widget and the REST API while the window is open.
    pub gateways: bool,
    /// Where to serve them.
    pub gateways_addr: String,
}

/// Where the gateways listen unless the agent says otherwise: this machine
/// only (visitors on the LAN need `0.0.0.0:8080`).
pub const GATEWAYS_ADDR: &str = "127.0.0.1:8080";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            width: 1280.0,
            height: 800.0,
            last_tab: TabId::Active,
            notifications: true,
            gateways: false,
            gateways_addr: GATEWAYS_ADDR.to_string(),
        }
    }
}

/// The smallest window the layout is made for.
pub const MIN_SIZE: (f32, f32) = (900.0, 560.0);

impl Settings {
    /// Reads the settings; defaults for anything missing or malformed.
    pub fn load(path: &Path) -> Settings {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Settings::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot read the settings: {e}");
                return Settings::default();
            }
        };
        match serde_json::from_str::<Settings>(&text) {
            Ok(s) => s.sanitized(),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring malformed settings: {e}");
                Settings::default()
            }
        }
    }

    /// Keeps the window size within what a screen can show.
    fn sanitized(mut self) -> Settings {
        let ok = |v: f32, min: f32| v.is_finite() && v >= min && v <= 16_384.0;
        let d = Settings::default();
        if !ok(self.width, MIN_SIZE.0) {
            self.width = d.width;
        }
        if !ok(self.height, MIN_SIZE.1) {
            self.height = d.height;
        }
        self
    }

    /// Writes the settings whole or not at all.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        durable::write(path, text.as_bytes(), Access::Private)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_survive_damage() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("settings.json");
        assert_eq!(Settings::load(&path), Settings::default());
        let s = Settings {
            width: 1400.0,
            height: 900.0,
            last_tab: TabId::Phonebook,
            notifications: false,
            gateways: true,
            gateways_addr: "0.0.0.0:8080".into(),
        };
        s.save(&path)?;
        assert_eq!(Settings::load(&path), s);
        std::fs::write(&path, "{ not json")?;
        assert_eq!(Settings::load(&path), Settings::default());
        std::fs::write(&path, r#"{"width": -3, "last_tab": "history"}"#)?;
        let loaded = Settings::load(&path);
        assert_eq!(loaded.width, Settings::default().width);
        assert_eq!(loaded.last_tab, TabId::History);
        assert!(loaded.notifications, "on unless switched off");
        assert!(!loaded.gateways, "off unless switched on");
        assert_eq!(loaded.gateways_addr, GATEWAYS_ADDR);
        Ok(())
    }
}
