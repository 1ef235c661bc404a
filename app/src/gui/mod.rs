//! The desktop window: one iced application.
//!
//! [`App`] opens the team (or the welcome screen) and owns what outlives a
//! screen: settings, toasts, notifications, gateways. Once a team is open it
//! hosts the [`inbox::Inbox`]: the left rail of tabs, the top bar (scoped
//! search, `+`, status, peers), the current screen and any dialog. Every
//! level is a module with its own `Message`, an `update` that returns a
//! `Task` and maybe upward events, and a `view`; each parent maps its
//! children's (`.map(Message::Inbox)`), and every `match` on a message names
//! each variant, so a new one cannot be dropped unseen.
//!
//! Data comes only through the [`backend::Backend`]: every request runs as a
//! `Task` and answers as a `Message`, and the backend's events (one
//! subscription keyed on the backend) say when to re-read what is shown.
//! Nothing in `update` blocks.

mod app;
pub mod backend;
pub mod clock;
pub mod demo;
pub mod inbox;
mod keys;
pub mod modal;
mod nav;
mod notify;
pub mod screen;
mod session;
pub mod settings;
pub mod theme;
pub mod widget;

pub use app::{App, Message};
pub use inbox::{GATEWAYS_ADDR_ID, GATEWAYS_ID, NOTIFICATIONS_ID, SEARCH_ID};
pub use nav::{Shortcut, TabId, shortcut};

use iced::{Font, Size, window};

use crate::data_dir::DataDir;
use backend::NodeOptions;
use settings::Settings;
use widget::TEXT;

/// Whether a display to open a window on is there (Linux and BSDs: X11 or
/// Wayland); winit would otherwise panic while creating its event loop.
fn display_available() -> bool {
    if cfg!(all(unix, not(target_os = "macos"))) {
        ["WAYLAND_DISPLAY", "WAYLAND_SOCKET", "DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    } else {
        true
    }
}

/// Fails with a clear message when there is no display for the window.
pub fn check_display() -> Result<(), String> {
    if !display_available() {
        return Err(
            "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); \
             use a sub-command (see --help), or `meshdesk node` to run headless"
                .into(),
        );
    }
    Ok(())
}

/// The window's renderer settings: the embedded font and the text size
/// (the headless tests render with the same). One struct, because iced's
/// `.settings()` replaces them whole: a `.default_font()` before it is lost.
pub fn iced_settings() -> iced::Settings {
    iced::Settings {
        default_font: Font::with_name("Fira Sans"),
        default_text_size: TEXT.into(),
        ..iced::Settings::default()
    }
}

/// Opens the window on a data dir (no sub-command given); returns when it closes.
pub fn run(data_dir: DataDir, options: NodeOptions) -> Result<(), String> {
    check_display()?;
    let settings = Settings::load(&data_dir.settings_path());
    let size = Size::new(settings.width, settings.height);
    let boot = move || App::new(data_dir.clone(), options.clone());
    iced::application(boot, App::update, App::view)
        .title(App::title)
        .subscription(App::subscription)
        .theme(App::theme)
        .settings(iced_settings())
        .window(window::Settings {
            size,
            min_size: Some(Size::new(settings::MIN_SIZE.0, settings::MIN_SIZE.1)),
            exit_on_close_request: false,
            platform_specific: platform_window(),
            ..window::Settings::default()
        })
        .run()
        .map_err(|e| format!("the window could not open: {e}"))
}

/// The window names itself after the menu entry (`meshdesk.desktop`), so
/// the desktop shows the entry's name and icon for the running window.
#[cfg(target_os = "linux")]
fn platform_window() -> window::settings::PlatformSpecific {
    window::settings::PlatformSpecific {
        application_id: "meshdesk".into(),
        ..Default::default()
    }
}

#[cfg(not(target_os = "linux"))]
fn platform_window() -> window::settings::PlatformSpecific {
    window::settings::PlatformSpecific::default()
}
