//! Colours and widget styles, in one place. The app uses iced's `Theme` with
//! two custom palettes (light and dark, picked from the system's mode); every
//! style below reads its colours from [`tokens`], so a widget looks the same
//! wherever it is used.

use std::sync::LazyLock;

use iced::theme::{Mode, Palette};
use iced::widget::{button, container, pick_list, scrollable, text, text_editor, text_input};
use iced::{Background, Border, Color, Shadow, Theme};

/// The colours a style may use.
#[derive(Debug, Clone, Copy)]
pub struct Tokens {
    /// The window background (list and detail panes).
    pub bg: Color,
    /// The left rail and the top bar.
    pub chrome: Color,
    /// Cards, dialogs, inputs.
    pub surface: Color,
    pub border: Color,
    pub text: Color,
    /// Secondary text (times, previews, labels): still at least 4.5:1 on `bg`.
    pub muted: Color,
    pub primary: Color,
    pub on_primary: Color,
    /// A selected row or tab.
    pub selected: Color,
    pub hover: Color,
    pub success: Color,
    pub warning: Color,
    pub danger: Color,
    pub on_danger: Color,
    /// The agent's own chat bubbles.
    pub bubble_mine: Color,
    /// The customer's (or a teammate's) chat bubbles.
    pub bubble_theirs: Color,
    /// Internal notes in a conversation: never mistaken for a reply.
    pub note: Color,
    /// The veil behind a dialog.
    pub veil: Color,
}

const LIGHT_TOKENS: Tokens = Tokens {
    bg: Color::from_rgb8(0xFF, 0xFF, 0xFF),
    chrome: Color::from_rgb8(0xF3, 0xF4, 0xF7),
    surface: Color::from_rgb8(0xFF, 0xFF, 0xFF),
    border: Color::from_rgb8(0xD9, 0xDC, 0xE3),
    text: Color::from_rgb8(0x1B, 0x20, 0x2B),
    muted: Color::from_rgb8(0x5A, 0x62, 0x72),
    primary: Color::from_rgb8(0x25, 0x5F, 0xD6),
    on_primary: Color::from_rgb8(0xFF, 0xFF, 0xFF),
    selected: Color::from_rgb8(0xE2, 0xEA, 0xFB),
    hover: Color::from_rgb8(0xEE, 0xF1, 0xF6),
    success: Color::from_rgb8(0x15, 0x80, 0x3F),
    warning: Color::from_rgb8(0xA0, 0x5E, 0x00),
    danger: Color::from_rgb8(0xC5, 0x30, 0x30),
    on_danger: Color::from_rgb8(0xFF, 0xFF, 0xFF),
    bubble_mine: Color::from_rgb8(0xE2, 0xEA, 0xFB),
    bubble_theirs: Color::from_rgb8(0xF0, 0xF1, 0xF4),
    note: Color::from_rgb8(0xFF, 0xF3, 0xD1),
    veil: Color::from_rgba(0.05, 0.07, 0.12, 0.45),
};

const DARK_TOKENS: Tokens = Tokens {
    bg: Color::from_rgb8(0x17, 0x1A, 0x21),
    chrome: Color::from_rgb8(0x1F, 0x23, 0x2C),
    surface: Color::from_rgb8(0x23, 0x27, 0x31),
    border: Color::from_rgb8(0x36, 0x3C, 0x4A),
    text: Color::from_rgb8(0xE6, 0xE8, 0xEE),
    muted: Color::from_rgb8(0xA3, 0xAA, 0xB8),
    primary: Color::from_rgb8(0x6B, 0x9B, 0xF5),
    on_primary: Color::from_rgb8(0x0E, 0x14, 0x22),
    selected: Color::from_rgb8(0x27, 0x35, 0x52),
    hover: Color::from_rgb8(0x25, 0x2A, 0x35),
    success: Color::from_rgb8(0x4C, 0xC3, 0x7E),
    warning: Color::from_rgb8(0xE8, 0xA8, 0x3E),
    danger: Color::from_rgb8(0xF0, 0x6C, 0x6C),
    on_danger: Color::from_rgb8(0x1A, 0x0C, 0x0C),
    bubble_mine: Color::from_rgb8(0x27, 0x35, 0x52),
    bubble_theirs: Color::from_rgb8(0x2A, 0x2F, 0x3A),
    note: Color::from_rgb8(0x3B, 0x31, 0x18),
    veil: Color::from_rgba(0.0, 0.0, 0.0, 0.55),
};

static LIGHT: LazyLock<Theme> = LazyLock::new(|| {
    let t = LIGHT_TOKENS;
    Theme::custom(
        "meshdesk light",
        Palette {
            background: t.bg,
            text: t.text,
            primary: t.primary,
            success: t.success,
            warning: t.warning,
            danger: t.danger,
        },
    )
});

static DARK: LazyLock<Theme> = LazyLock::new(|| {
    let t = DARK_TOKENS;
    Theme::custom(
        "meshdesk dark",
        Palette {
            background: t.bg,
            text: t.text,
            primary: t.primary,
            success: t.success,
            warning: t.warning,
            danger: t.danger,
        },
    )
});

/// The light theme.
pub fn light() -> Theme {
    LIGHT.clone()
}

/// The dark theme.
pub fn dark() -> Theme {
    DARK.clone()
}

/// The theme for the system's mode (light when the system does not say).
pub fn for_mode(mode: Mode) -> Theme {
    match mode {
        Mode::Dark => dark(),
        Mode::Light | Mode::None => light(),
    }
}

/// The colours of a theme.
pub fn tokens(theme: &Theme) -> &'static Tokens {
    if theme.extended_palette().is_dark {
        &DARK_TOKENS
    } else {
        &LIGHT_TOKENS
    }
}

/// A colour by meaning, resolved against the theme when drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Success,
    Warning,
    Danger,
    Muted,
    Primary,
}

impl Tone {
    pub fn color(self, t: &Tokens) -> Color {
        match self {
            Tone::Success => t.success,
            Tone::Warning => t.warning,
            Tone::Danger => t.danger,
            Tone::Muted => t.muted,
            Tone::Primary => t.primary,
        }
    }
}

fn radius(r: f32) -> Border {
    Border {
        radius: r.into(),
        ..Border::default()
    }
}

// ---- containers ------------------------------------------------------------

pub mod boxes {
    use super::*;

    pub fn chrome(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(t.chrome.into()),
            text_color: Some(t.text),
            ..container::Style::default()
        }
    }

    pub fn pane(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(t.bg.into()),
            text_color: Some(t.text),
            ..container::Style::default()
        }
    }

    /// A bordered card (contact details, forms).
    pub fn card(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(t.surface.into()),
            text_color: Some(t.text),
            border: Border {
                color: t.border,
                width: 1.0,
                radius: 6.0.into(),
            },
            ..container::Style::default()
        }
    }

    /// A dialog: a card on the veil. No shadows anywhere: iced 0.14's
    /// software renderer (tiny-skia, the fallback without a GPU) redraws a
    /// damaged region without clearing a shadow's blur, so a cursor blinking
    /// in a dialog stacked its shadow until the dialog turned black.
    pub fn dialog(theme: &Theme) -> container::Style {
        card(theme)
    }

    pub fn veil(theme: &Theme) -> container::Style {
        container::Style {
            background: Some(tokens(theme).veil.into()),
            ..container::Style::default()
        }
    }

    pub fn badge(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(t.primary.into()),
            text_color: Some(t.on_primary),
            border: radius(9.0),
            ..container::Style::default()
        }
    }

    /// A badge that only counts (not asking for attention).
    pub fn badge_quiet(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(t.border.into()),
            text_color: Some(t.text),
            border: radius(9.0),
            ..container::Style::default()
        }
    }

    /// A tag: a quiet outlined pill, the same on every list and header.
    pub fn chip(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(t.selected.into()),
            text_color: Some(t.text),
            border: iced::Border {
                color: t.border,
                width: 1.0,
                radius: 9.0.into(),
            },
            ..container::Style::default()
        }
    }

    pub fn divider(theme: &Theme) -> container::Style {
        container::Style {
            background: Some(tokens(theme).border.into()),
            ..container::Style::default()
        }
    }

    pub fn bubble_mine(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(t.bubble_mine.into()),
            text_color: Some(t.text),
            border: radius(8.0),
            ..container::Style::default()
        }
    }

    pub fn bubble_theirs(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(t.bubble_theirs.into()),
            text_color: Some(t.text),
            border: radius(8.0),
            ..container::Style::default()
        }
    }

    /// An internal note: amber, edged in the warning colour.
    pub fn note(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(t.note.into()),
            text_color: Some(t.text),
            border: iced::Border {
                color: t.warning,
                width: 1.0,
                radius: 8.0.into(),
            },
            ..container::Style::default()
        }
    }

    pub fn toast_error(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(t.danger.into()),
            text_color: Some(t.on_danger),
            border: radius(6.0),
            ..container::Style::default()
        }
    }

    pub fn toast_info(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(t.text.into()),
            text_color: Some(t.bg),
            border: radius(6.0),
            ..container::Style::default()
        }
    }

    /// An inline error under a form.
    pub fn error(theme: &Theme) -> container::Style {
        let t = tokens(theme);
        container::Style {
            background: Some(Background::Color(Color {
                a: 0.12,
                ..t.danger
            })),
            text_color: Some(t.text),
            border: Border {
                color: t.danger,
                width: 1.0,
                radius: 4.0.into(),
            },
            ..container::Style::default()
        }
    }

    /// A presence dot.
    pub fn dot(tone: Tone) -> impl Fn(&Theme) -> container::Style {
        move |theme| container::Style {
            background: Some(tone.color(tokens(theme)).into()),
            border: radius(5.0),
            ..container::Style::default()
        }
    }
}

// ---- text ------------------------------------------------------------------

pub mod texts {
    use super::*;

    pub fn muted(theme: &Theme) -> text::Style {
        text::Style {
            color: Some(tokens(theme).muted),
        }
    }

    pub fn danger(theme: &Theme) -> text::Style {
        text::Style {
            color: Some(tokens(theme).danger),
        }
    }

    pub fn warning(theme: &Theme) -> text::Style {
        text::Style {
            color: Some(tokens(theme).warning),
        }
    }

    pub fn success(theme: &Theme) -> text::Style {
        text::Style {
            color: Some(tokens(theme).success),
        }
    }

    pub fn primary(theme: &Theme) -> text::Style {
        text::Style {
            color: Some(tokens(theme).primary),
        }
    }
}

// ---- buttons ---------------------------------------------------------------

pub mod buttons {
    use super::*;
    use iced::widget::button::Status;

    fn base(t: &Tokens) -> button::Style {
        button::Style {
            background: None,
            text_color: t.text,
            border: radius(6.0),
            shadow: Shadow::default(),
            snap: true,
        }
    }

    /// The main action of a view.
    pub fn primary(theme: &Theme, status: Status) -> button::Style {
        let t = tokens(theme);
        let bg = match status {
            Status::Hovered | Status::Pressed => iced::theme::palette::deviate(t.primary, 0.08),
            Status::Active => t.primary,
            Status::Disabled => Color {
                a: 0.45,
                ..t.primary
            },
        };
        button::Style {
            background: Some(bg.into()),
            text_color: t.on_primary,
            ..base(t)
        }
    }

    /// A bordered secondary action.
    pub fn secondary(theme: &Theme, status: Status) -> button::Style {
        let t = tokens(theme);
        let bg = match status {
            Status::Hovered | Status::Pressed => t.hover,
            _ => t.surface,
        };
        button::Style {
            background: Some(bg.into()),
            text_color: if status == Status::Disabled {
                t.muted
            } else {
                t.text
            },
            border: Border {
                color: t.border,
                width: 1.0,
                radius: 6.0.into(),
            },
            ..base(t)
        }
    }

    pub fn danger(theme: &Theme, status: Status) -> button::Style {
        let t = tokens(theme);
        let bg = match status {
            Status::Hovered | Status::Pressed => iced::theme::palette::deviate(t.danger, 0.08),
            Status::Active => t.danger,
            Status::Disabled => Color {
                a: 0.45,
                ..t.danger
            },
        };
        button::Style {
            background: Some(bg.into()),
            text_color: t.on_danger,
            ..base(t)
        }
    }

    /// A borderless button (icons, menu items, list rows).
    pub fn ghost(theme: &Theme, status: Status) -> button::Style {
        let t = tokens(theme);
        button::Style {
            background: match status {
                Status::Hovered | Status::Pressed => Some(t.hover.into()),
                _ => None,
            },
            ..base(t)
        }
    }

    /// A row or tab, highlighted when selected.
    pub fn item(selected: bool) -> impl Fn(&Theme, Status) -> button::Style {
        move |theme, status| {
            let t = tokens(theme);
            let background = if selected {
                Some(t.selected.into())
            } else {
                match status {
                    Status::Hovered | Status::Pressed => Some(t.hover.into()),
                    _ => None,
                }
            };
            button::Style {
                background,
                border: radius(6.0),
                ..base(t)
            }
        }
    }

    /// A choice in a dialog (disposition, agent, channel), outlined when chosen.
    pub fn choice(selected: bool) -> impl Fn(&Theme, Status) -> button::Style {
        move |theme, status| {
            let t = tokens(theme);
            let background = if selected {
                t.selected
            } else {
                match status {
                    Status::Hovered | Status::Pressed => t.hover,
                    _ => t.surface,
                }
            };
            button::Style {
                background: Some(background.into()),
                border: Border {
                    color: if selected { t.primary } else { t.border },
                    width: if selected { 2.0 } else { 1.0 },
                    radius: 6.0.into(),
                },
                ..base(t)
            }
        }
    }

    /// The close cross of a toast (inherits the toast's colours).
    pub fn on_toast(theme: &Theme, status: Status) -> button::Style {
        let t = tokens(theme);
        button::Style {
            background: match status {
                Status::Hovered | Status::Pressed => {
                    Some(Color::from_rgba(1.0, 1.0, 1.0, 0.18).into())
                }
                _ => None,
            },
            text_color: Color::WHITE,
            ..base(t)
        }
    }
}

// ---- inputs ----------------------------------------------------------------

pub mod inputs {
    use super::*;

    pub fn field(theme: &Theme, status: text_input::Status) -> text_input::Style {
        let t = tokens(theme);
        let border = match status {
            text_input::Status::Focused { .. } => t.primary,
            text_input::Status::Hovered => t.muted,
            _ => t.border,
        };
        text_input::Style {
            background: t.surface.into(),
            border: Border {
                color: border,
                width: 1.0,
                radius: 6.0.into(),
            },
            icon: t.muted,
            placeholder: t.muted,
            value: t.text,
            selection: Color {
                a: 0.35,
                ..t.primary
            },
        }
    }

    /// A field whose content is refused.
    pub fn invalid(theme: &Theme, status: text_input::Status) -> text_input::Style {
        let t = tokens(theme);
        text_input::Style {
            border: Border {
                color: t.danger,
                width: 1.5,
                radius: 6.0.into(),
            },
            ..field(theme, status)
        }
    }

    pub fn editor(theme: &Theme, status: text_editor::Status) -> text_editor::Style {
        let t = tokens(theme);
        let border = match status {
            text_editor::Status::Focused { .. } => t.primary,
            text_editor::Status::Hovered => t.muted,
            _ => t.border,
        };
        text_editor::Style {
            background: t.surface.into(),
            border: Border {
                color: border,
                width: 1.0,
                radius: 6.0.into(),
            },
            placeholder: t.muted,
            value: t.text,
            selection: Color {
                a: 0.35,
                ..t.primary
            },
        }
    }

    pub fn pick(theme: &Theme, status: pick_list::Status) -> pick_list::Style {
        let t = tokens(theme);
        let border = match status {
            pick_list::Status::Opened { .. } => t.primary,
            pick_list::Status::Hovered => t.muted,
            pick_list::Status::Active => t.border,
        };
        pick_list::Style {
            text_color: t.text,
            placeholder_color: t.muted,
            handle_color: t.muted,
            background: t.surface.into(),
            border: Border {
                color: border,
                width: 1.0,
                radius: 6.0.into(),
            },
        }
    }

    pub fn scroll(theme: &Theme, status: scrollable::Status) -> scrollable::Style {
        let t = tokens(theme);
        let mut style = scrollable::default(theme, status);
        let rail = scrollable::Rail {
            background: None,
            border: Border::default(),
            scroller: scrollable::Scroller {
                background: Color { a: 0.55, ..t.muted }.into(),
                border: radius(3.0),
            },
        };
        style.vertical_rail = rail;
        style.horizontal_rail = rail;
        style
    }
}
