//! The element type every view returns, and the small widgets the screens share:
//! a virtualised list, badges, presence dots, labels and form fields.

use std::ops::Range;

use iced::widget::operation::{self, AbsoluteOffset};
use iced::widget::{Space, column, container, row, scrollable, text};
use iced::{Alignment, Length, Task, Theme, widget};

use super::theme;

pub type Renderer = iced::Renderer;
pub type Element<'a, M> = iced::Element<'a, M, Theme, Renderer>;

/// Body text size.
pub const TEXT: f32 = 14.0;
/// Secondary text (times, labels).
pub const SMALL: f32 = 12.0;
/// Pane titles.
pub const TITLE: f32 = 18.0;
/// The height of one row of an interaction or contact list.
pub const ROW_HEIGHT: f32 = 62.0;
/// Rows built beyond the visible ones, above and below, so a scroll step never shows a gap.
const OVERSCAN: usize = 3;
/// The viewport height assumed before the list has reported its own.
const DEFAULT_VIEWPORT: f32 = 900.0;

/// Where a virtualised list is scrolled, which row the keyboard is on.
#[derive(Debug, Clone)]
pub struct ListState {
    pub id: widget::Id,
    pub offset: f32,
    pub viewport: f32,
    /// The keyboard cursor (↑/↓), if any.
    pub cursor: Option<usize>,
}

impl ListState {
    pub fn new(id: &'static str) -> ListState {
        ListState {
            id: widget::Id::new(id),
            offset: 0.0,
            viewport: DEFAULT_VIEWPORT,
            cursor: None,
        }
    }

    /// The rows to build for a list of `len` rows: those on screen, plus a few.
    pub fn visible(&self, len: usize) -> Range<usize> {
        let shown = (self.viewport.max(ROW_HEIGHT) / ROW_HEIGHT).ceil() as usize + 1;
        // A list that shrank under a stale offset still shows its last rows.
        let first = ((self.offset.max(0.0) / ROW_HEIGHT) as usize).min(len.saturating_sub(shown));
        let start = first.saturating_sub(OVERSCAN).min(len);
        let end = (first + shown + OVERSCAN).min(len);
        start..end
    }

    /// The scrollable reported where it is.
    pub fn scrolled(&mut self, offset: f32, viewport: f32) {
        self.offset = offset.max(0.0);
        if viewport > 0.0 {
            self.viewport = viewport;
        }
    }

    /// Back to the top (new rows, e.g. a new search).
    pub fn reset<M: Send + 'static>(&mut self) -> Task<M> {
        self.offset = 0.0;
        self.cursor = None;
        operation::scroll_to(self.id.clone(), AbsoluteOffset { x: 0.0, y: 0.0 })
    }

    /// Moves the keyboard cursor and scrolls so it stays in view.
    pub fn move_cursor<M: Send + 'static>(&mut self, delta: i64, len: usize) -> Task<M> {
        if len == 0 {
            self.cursor = None;
            return Task::none();
        }
        let next = match self.cursor {
            None if delta >= 0 => 0,
            None => len - 1,
            Some(c) => (c as i64 + delta).clamp(0, len as i64 - 1) as usize,
        };
        self.cursor = Some(next);
        let top = next as f32 * ROW_HEIGHT;
        let bottom = top + ROW_HEIGHT;
        let target = if top < self.offset {
            Some(top)
        } else if bottom > self.offset + self.viewport {
            Some(bottom - self.viewport)
        } else {
            None
        };
        match target {
            Some(y) => {
                self.offset = y.max(0.0);
                operation::scroll_to(
                    self.id.clone(),
                    AbsoluteOffset {
                        x: 0.0,
                        y: self.offset,
                    },
                )
            }
            None => Task::none(),
        }
    }

    /// The key of the row under the cursor, to find it again once the rows change.
    pub fn under_cursor<T, K>(&self, rows: &[T], key: impl Fn(&T) -> K) -> Option<K> {
        self.cursor.and_then(|c| rows.get(c)).map(key)
    }

    /// After the rows changed: the cursor goes back on the row it was on
    /// (`was`, from [`Self::under_cursor`]) when rows above it came or went,
    /// or stays inside the list when that row is gone.
    pub fn follow<T, K: PartialEq>(&mut self, was: Option<K>, rows: &[T], key: impl Fn(&T) -> K) {
        match was.and_then(|k| rows.iter().position(|r| key(r) == k)) {
            Some(at) => self.cursor = Some(at),
            None => self.clamp(rows.len()),
        }
    }

    /// Keeps the cursor inside a list that changed length.
    pub fn clamp(&mut self, len: usize) {
        if let Some(c) = self.cursor {
            self.cursor = if len == 0 { None } else { Some(c.min(len - 1)) };
        }
    }

    /// Whether the visible rows come within a page of the end of what is loaded.
    pub fn near_end(&self, len: usize) -> bool {
        self.visible(len).end + 40 >= len
    }
}

/// A list that builds only the rows in view: a spacer stands in for the rows
/// above and another for those below, so the scrollbar covers the whole list.
pub fn virtual_list<'a, M: Clone + 'a>(
    state: &ListState,
    len: usize,
    on_scroll: impl Fn(f32, f32) -> M + 'a,
    row: impl Fn(usize) -> Element<'a, M>,
) -> Element<'a, M> {
    let range = state.visible(len);
    let above = range.start as f32 * ROW_HEIGHT;
    let below = (len - range.end) as f32 * ROW_HEIGHT;
    let mut content = column![Space::new().height(Length::Fixed(above))];
    for i in range {
        content = content.push(
            container(row(i))
                .height(Length::Fixed(ROW_HEIGHT))
                .padding([2, 6])
                .clip(true),
        );
    }
    content = content.push(Space::new().height(Length::Fixed(below)));
    scrollable(content)
        .id(state.id.clone())
        .on_scroll(move |vp| on_scroll(vp.absolute_offset().y, vp.bounds().height))
        .height(Length::Fill)
        .width(Length::Fill)
        .style(theme::inputs::scroll)
        .into()
}

/// A count in a pill; loud ones ask for attention.
pub fn badge<'a, M: 'a>(count: usize, loud: bool) -> Element<'a, M> {
    let label = if count > 999 {
        "999+".to_string()
    } else {
        count.to_string()
    };
    container(text(label).size(SMALL))
        .padding([1, 7])
        .style(if loud {
            theme::boxes::badge
        } else {
            theme::boxes::badge_quiet
        })
        .into()
}

/// The most characters of a tag a chip shows; the whole tag is in the
/// conversation's header and the customer's card.
const CHIP_CHARS: usize = 16;

/// A tag as a chip.
pub fn chip<'a, M: 'a>(tag: &str) -> Element<'a, M> {
    container(line(tag, CHIP_CHARS).size(SMALL))
        .padding([0, 7])
        .style(theme::boxes::chip)
        .into()
}

/// A list row's tags: the first `max` as chips, then how many more (a row
/// has one line for them); `None` when there are none.
pub fn chips<'a, M: 'a>(
    tags: impl IntoIterator<Item = &'a String>,
    max: usize,
) -> Option<Element<'a, M>> {
    let tags: Vec<&String> = tags.into_iter().collect();
    if tags.is_empty() {
        return None;
    }
    let mut out = row![].spacing(4).align_y(Alignment::Center);
    for tag in tags.iter().take(max) {
        out = out.push(chip(tag));
    }
    if tags.len() > max {
        out = out.push(muted(format!("+{}", tags.len() - max)).size(SMALL));
    }
    Some(out.into())
}

/// A small round dot (presence, sync state).
pub fn dot<'a, M: 'a>(tone: theme::Tone) -> Element<'a, M> {
    container(
        Space::new()
            .width(Length::Fixed(9.0))
            .height(Length::Fixed(9.0)),
    )
    .style(theme::boxes::dot(tone))
    .into()
}

/// Secondary text.
pub fn muted<'a>(content: impl text::IntoFragment<'a>) -> iced::widget::Text<'a, Theme, Renderer> {
    text(content).size(SMALL).style(theme::texts::muted)
}

/// A pane's title.
pub fn title<'a>(content: impl text::IntoFragment<'a>) -> iced::widget::Text<'a, Theme, Renderer> {
    text(content).size(TITLE)
}

/// One line of text, cut to fit a row: iced wraps text, and rows have a fixed height.
pub fn line<'a>(content: &str, max_chars: usize) -> iced::widget::Text<'a, Theme, Renderer> {
    text(ellipsize(content, max_chars)).wrapping(iced::widget::text::Wrapping::None)
}

/// The text cut to `max` characters on one line, with an ellipsis when cut.
pub fn ellipsize(s: &str, max: usize) -> String {
    let folded: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= max {
        folded
    } else {
        let mut cut: String = folded.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// An inline error message.
pub fn error_box<'a, M: 'a>(message: &str) -> Element<'a, M> {
    container(text(message.to_string()).size(TEXT))
        .padding([8, 10])
        .width(Length::Fill)
        .style(theme::boxes::error)
        .into()
}

/// A labelled form field with its error under it.
pub fn field<'a, M: 'a>(
    label: &'a str,
    input: impl Into<Element<'a, M>>,
    error: Option<&str>,
) -> Element<'a, M> {
    let mut col = column![muted(label), input.into()].spacing(4);
    if let Some(e) = error {
        col = col.push(text(e.to_string()).size(SMALL).style(theme::texts::danger));
    }
    col.into()
}

/// A dialog's one-line text field: Enter submits the dialog.
pub fn dialog_input<'a, M: Clone + 'a>(
    id: &'static str,
    placeholder: &str,
    value: &str,
    on_input: impl Fn(String) -> M + 'a,
    on_submit: M,
) -> widget::TextInput<'a, M, Theme> {
    widget::text_input(placeholder, value)
        .id(id)
        .on_input(on_input)
        .on_submit(on_submit)
        .padding(8)
        .size(TEXT)
        .style(theme::inputs::field)
}

/// A "key: value" line of a details card.
pub fn fact<'a, M: 'a>(key: &'a str, value: String) -> Element<'a, M> {
    row![
        container(muted(key))
            .width(Length::Fixed(84.0))
            .padding(iced::Padding {
                top: 2.0,
                ..iced::Padding::ZERO
            }),
        // An email or a long number breaks anywhere rather than run off the card.
        text(value)
            .size(TEXT)
            .width(Length::Fill)
            .wrapping(iced::widget::text::Wrapping::WordOrGlyph)
    ]
    .spacing(8)
    .align_y(Alignment::Start)
    .into()
}

/// A card's "Tags" line: every tag as a chip, wrapping (an interaction's
/// and a contact's look the same wherever they are shown).
pub fn tags_fact<'a, M: 'a>(tags: impl IntoIterator<Item = &'a String>) -> Element<'a, M> {
    let mut chips = iced::widget::Row::new().spacing(4);
    for tag in tags {
        chips = chips.push(chip(tag));
    }
    row![
        container(muted("Tags")).width(Length::Fixed(84.0)),
        chips.width(Length::Fill).wrap().vertical_spacing(4)
    ]
    .spacing(8)
    .align_y(Alignment::Start)
    .into()
}

/// A full-height centred hint for an empty pane.
pub fn empty<'a, M: 'a>(message: &'a str) -> Element<'a, M> {
    container(muted(message).size(TEXT))
        .center(Length::Fill)
        .into()
}

/// A thin vertical rule between panes.
pub fn vrule<'a, M: 'a>() -> Element<'a, M> {
    container(Space::new().width(Length::Fixed(1.0)).height(Length::Fill))
        .style(theme::boxes::divider)
        .into()
}

/// A thin horizontal rule.
pub fn hrule<'a, M: 'a>() -> Element<'a, M> {
    container(Space::new().height(Length::Fixed(1.0)).width(Length::Fill))
        .style(theme::boxes::divider)
        .into()
}

/// The list pane's width.
pub const LIST_WIDTH: f32 = 340.0;

/// The usual screen: a list on the left, the open item on the right.
pub fn split<'a, M: 'a>(list: Element<'a, M>, detail: Element<'a, M>) -> Element<'a, M> {
    row![
        container(list)
            .width(Length::Fixed(LIST_WIDTH))
            .height(Length::Fill)
            .style(theme::boxes::pane),
        vrule(),
        container(detail)
            .width(Length::Fill)
            .height(Length::Fill)
            .style(theme::boxes::pane),
    ]
    .height(Length::Fill)
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_visible_rows_are_built() {
        let mut list = ListState::new("t");
        list.scrolled(0.0, 620.0);
        let r = list.visible(100_000);
        assert_eq!(r.start, 0);
        assert!(r.len() <= 16, "{r:?}");
        list.scrolled(ROW_HEIGHT * 50_000.0, 620.0);
        let r = list.visible(100_000);
        assert!(r.contains(&50_000) && r.len() <= 20, "{r:?}");
        list.scrolled(ROW_HEIGHT * 100_000.0, 620.0);
        assert_eq!(list.visible(100_000).end, 100_000);
        assert_eq!(list.visible(3), 0..3, "a shrunk list under a stale offset");
    }

    #[test]
    fn the_cursor_stays_in_the_list_and_in_view() {
        let mut list = ListState::new("t");
        list.scrolled(0.0, ROW_HEIGHT * 5.0);
        let _: Task<()> = list.move_cursor(1, 10);
        assert_eq!(list.cursor, Some(0));
        for _ in 0..7 {
            let _: Task<()> = list.move_cursor(1, 10);
        }
        assert_eq!(list.cursor, Some(7));
        assert!(list.offset >= ROW_HEIGHT * 3.0);
        let _: Task<()> = list.move_cursor(-100, 10);
        assert_eq!(list.cursor, Some(0));
        assert_eq!(list.offset, 0.0);
        list.clamp(0);
        assert_eq!(list.cursor, None);
    }

    #[test]
    fn ellipsize_cuts_on_one_line() {
        assert_eq!(ellipsize("a\nb  c", 10), "a b c");
        assert_eq!(ellipsize("abcdefghij", 5), "abcd…");
    }
}
