//! The window's Ctrl (Cmd) shortcuts, taken before any widget sees the key.
//!
//! A focused `text_input` inserts the text a key press carries even with Ctrl
//! held, and the desktop sends "1" as the text of Ctrl+1, so a shortcut seen
//! only by a subscription (which hears the event after the widgets) would
//! switch the tab *and* type the digit. [`capture`] wraps the whole window
//! instead: a Ctrl combination that is a shortcut becomes its message and is
//! captured, so the search box and the composer never receive it. Any other
//! event passes through untouched (Ctrl+C/V/X/A still reach the inputs).

use iced::advanced::layout::{self, Layout};
use iced::advanced::renderer;
use iced::advanced::widget::{Operation, Tree, Widget};
use iced::advanced::{Clipboard, Shell, overlay};
use iced::keyboard;
use iced::{Event, Length, Rectangle, Size, Theme, Vector, mouse};

use super::nav::{Shortcut, shortcut};
use super::widget::{Element, Renderer};

/// Wraps `content` so Ctrl shortcuts become `on_shortcut` messages.
pub fn capture<'a, Message: 'a>(
    content: impl Into<Element<'a, Message>>,
    on_shortcut: fn(Shortcut) -> Message,
) -> Element<'a, Message> {
    Element::new(Capture {
        content: content.into(),
        on_shortcut,
    })
}

struct Capture<'a, Message> {
    content: Element<'a, Message>,
    on_shortcut: fn(Shortcut) -> Message,
}

impl<Message> Widget<Message, Theme, Renderer> for Capture<'_, Message> {
    fn size(&self) -> Size<Length> {
        self.content.as_widget().size()
    }

    fn size_hint(&self) -> Size<Length> {
        self.content.as_widget().size_hint()
    }

    fn children(&self) -> Vec<Tree> {
        vec![Tree::new(&self.content)]
    }

    fn diff(&self, tree: &mut Tree) {
        tree.diff_children(std::slice::from_ref(&self.content));
    }

    fn layout(
        &mut self,
        tree: &mut Tree,
        renderer: &Renderer,
        limits: &layout::Limits,
    ) -> layout::Node {
        self.content
            .as_widget_mut()
            .layout(&mut tree.children[0], renderer, limits)
    }

    fn operate(
        &mut self,
        tree: &mut Tree,
        layout: Layout<'_>,
        renderer: &Renderer,
        operation: &mut dyn Operation,
    ) {
        self.content
            .as_widget_mut()
            .operate(&mut tree.children[0], layout, renderer, operation);
    }

    fn update(
        &mut self,
        tree: &mut Tree,
        event: &Event,
        layout: Layout<'_>,
        cursor: mouse::Cursor,
        renderer: &Renderer,
        clipboard: &mut dyn Clipboard,
        shell: &mut Shell<'_, Message>,
        viewport: &Rectangle,
    ) {
        if let Event::Keyboard(keyboard::Event::KeyPressed { key, modifiers, .. }) = event
            && modifiers.command()
            && let Some(s) = shortcut(key, *modifiers, false)
        {
            shell.publish((self.on_shortcut)(s));
            shell.capture_event();
            return;
        }
        self.content.as_widget_mut().update(
            &mut tree.children[0],
            event,
            layout,
            cursor,
            renderer,
            clipboard,
            shell,
            viewport,
        );
    }

    fn mouse_interaction(
        &self,
        tree: &Tree,
        layout: Layout<'_>,
        cursor: mouse::Cursor,
        viewport: &Rectangle,
        renderer: &Renderer,
    ) -> mouse::Interaction {
        self.content.as_widget().mouse_interaction(
            &tree.children[0],
            layout,
            cursor,
            viewport,
            renderer,
        )
    }

    fn draw(
        &self,
        tree: &Tree,
        renderer: &mut Renderer,
        theme: &Theme,
        style: &renderer::Style,
        layout: Layout<'_>,
        cursor: mouse::Cursor,
        viewport: &Rectangle,
    ) {
        self.content.as_widget().draw(
            &tree.children[0],
            renderer,
            theme,
            style,
            layout,
            cursor,
            viewport,
        );
    }

    fn overlay<'b>(
        &'b mut self,
        tree: &'b mut Tree,
        layout: Layout<'b>,
        renderer: &Renderer,
        viewport: &Rectangle,
        translation: Vector,
    ) -> Option<overlay::Element<'b, Message, Theme, Renderer>> {
        self.content.as_widget_mut().overlay(
            &mut tree.children[0],
            layout,
            renderer,
            viewport,
            translation,
        )
    }
}
