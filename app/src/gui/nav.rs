//! Where the agent can go: the rail's tabs and the keyboard shortcuts that
//! move between them. Every part of the window imports these from here.

use iced::keyboard::{Key, Modifiers, key};
use serde::{Deserialize, Serialize};

/// The rail's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TabId {
    #[default]
    Active,
    Pending,
    History,
    Contacts,
    Phonebook,
    /// Supervisors only.
    Board,
    /// Supervisors only.
    Reports,
    /// Supervisors only: the team's administration.
    Team,
}

impl TabId {
    pub const ALL: [TabId; 8] = [
        TabId::Active,
        TabId::Pending,
        TabId::History,
        TabId::Contacts,
        TabId::Phonebook,
        TabId::Board,
        TabId::Reports,
        TabId::Team,
    ];

    /// Whether a supervisor's eyes only.
    pub fn supervisors_only(self) -> bool {
        matches!(self, TabId::Board | TabId::Reports | TabId::Team)
    }

    pub fn label(self) -> &'static str {
        match self {
            TabId::Active => "Active",
            TabId::Pending => "Pending",
            TabId::History => "History",
            TabId::Contacts => "Contacts & chat",
            TabId::Phonebook => "Phonebook",
            TabId::Board => "Board",
            TabId::Reports => "Reports",
            TabId::Team => "Administration",
        }
    }

    /// The search box's hint on this tab.
    pub fn placeholder(self) -> &'static str {
        match self {
            TabId::Active => "Search active interactions  (Ctrl+K)",
            TabId::Pending => "Search pending interactions  (Ctrl+K)",
            TabId::History => "Search history  (Ctrl+K)",
            TabId::Contacts => "Search teammates and rooms  (Ctrl+K)",
            TabId::Phonebook => "Search the phonebook  (Ctrl+K)",
            TabId::Board => "Filter the board by name  (Ctrl+K)",
            TabId::Reports => "Filter the report's rows  (Ctrl+K)",
            TabId::Team => "Filter campaigns, agents and canned responses  (Ctrl+K)",
        }
    }
}

/// A keyboard shortcut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    Search,
    New,
    Tab(TabId),
    /// Return the open conversation to the queue (one's own) or, for a
    /// supervisor, take a teammate's back.
    TakeBack,
    Escape,
    Enter,
    Up,
    Down,
    /// Tab and Shift+Tab: the next or previous text field.
    NextField,
    PreviousField,
    /// Ctrl+Shift+M: History's Mine ↔ Team.
    Whose,
}

/// The shortcut a key press means, if any. Ctrl (Cmd on macOS) combinations
/// and Esc work everywhere; arrows and Enter only when no widget took them.
pub fn shortcut(key: &Key, modifiers: Modifiers, captured: bool) -> Option<Shortcut> {
    if modifiers.command() {
        return match key.as_ref() {
            Key::Character(c) if modifiers.shift() && c.eq_ignore_ascii_case("m") => {
                Some(Shortcut::Whose)
            }
            Key::Character("k") => Some(Shortcut::Search),
            Key::Character("n") => Some(Shortcut::New),
            Key::Character("r") => Some(Shortcut::TakeBack),
            Key::Character("1") => Some(Shortcut::Tab(TabId::Active)),
            Key::Character("2") => Some(Shortcut::Tab(TabId::Pending)),
            Key::Character("3") => Some(Shortcut::Tab(TabId::History)),
            Key::Character("4") => Some(Shortcut::Tab(TabId::Contacts)),
            Key::Character("5") => Some(Shortcut::Tab(TabId::Phonebook)),
            Key::Character("6") => Some(Shortcut::Tab(TabId::Board)),
            Key::Character("7") => Some(Shortcut::Tab(TabId::Reports)),
            Key::Character("8") => Some(Shortcut::Tab(TabId::Team)),
            _ => None,
        };
    }
    match key.as_ref() {
        Key::Named(key::Named::Escape) => Some(Shortcut::Escape),
        Key::Named(key::Named::Tab) if !captured && !modifiers.alt() => {
            Some(if modifiers.shift() {
                Shortcut::PreviousField
            } else {
                Shortcut::NextField
            })
        }
        _ if captured || modifiers.shift() || modifiers.alt() => None,
        Key::Named(key::Named::Enter) => Some(Shortcut::Enter),
        Key::Named(key::Named::ArrowUp) => Some(Shortcut::Up),
        Key::Named(key::Named::ArrowDown) => Some(Shortcut::Down),
        _ => None,
    }
}
