//! Checks on what people type: phone numbers, email addresses, names.

use std::str::FromStr;

/// What is wrong with a value someone typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    #[error("malformed phone number `{0}` (use digits, spaces, + - ( ) .; 5 to 15 digits)")]
    Phone(String),
    #[error("malformed email address `{0}`")]
    Email(String),
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{what} is too long ({len} characters, at most {max})")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// Control characters (other than line breaks and tabs) would reach
    /// terminals and notification servers as commands, not text.
    #[error("{what} contains a control character (U+{code:04X})")]
    ControlCharacter { what: &'static str, code: u32 },
    #[error("{what} may hold only {allowed}: `{value}`")]
    Characters {
        what: &'static str,
        allowed: &'static str,
        value: String,
    },
}

/// The longest message body accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 20_000;
/// The longest name or single-line field accepted, in characters.
pub const MAX_FIELD_CHARS: usize = 500;

/// A phone number as typed, trimmed; refused unless it looks like one.
pub fn phone(raw: &str) -> Result<String, InvalidInput> {
    let trimmed = raw.trim();
    let allowed = |c: char| c.is_ascii_digit() || " +-().".contains(c);
    let digits = trimmed.chars().filter(char::is_ascii_digit).count();
    let plus_ok = trimmed.chars().skip(1).all(|c| c != '+');
    if trimmed.chars().all(allowed) && (5..=15).contains(&digits) && plus_ok {
        Ok(trimmed.to_string())
    } else {
        Err(InvalidInput::Phone(raw.to_string()))
    }
}

/// An email address, trimmed; refused unless it parses as one with a dotted domain.
pub fn email(raw: &str) -> Result<String, InvalidInput> {
    let trimmed = raw.trim();
    match email_address::EmailAddress::from_str(trimmed) {
        Ok(addr) if addr.domain().contains('.') && !addr.domain().starts_with('[') => {
            Ok(trimmed.to_string())
        }
        _ => Err(InvalidInput::Email(raw.to_string())),
    }
}

/// A required single-line text: trimmed, not empty, bounded.
pub fn required(what: &'static str, raw: &str) -> Result<String, InvalidInput> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(InvalidInput::Empty(what));
    }
    bounded(what, trimmed, MAX_FIELD_CHARS)
}

/// A tag: a one-line label, trimmed, not empty, bounded, with no control
/// character at all (lists and filters join tags with line breaks).
pub fn tag(raw: &str) -> Result<String, InvalidInput> {
    let tag = required("the tag", raw)?;
    if let Some(c) = tag.chars().find(|c| c.is_control()) {
        return Err(InvalidInput::ControlCharacter {
            what: "the tag",
            code: u32::from(c),
        });
    }
    Ok(tag)
}

/// A text no longer than `max` characters, with no control character but
/// line breaks and tabs.
pub fn bounded(what: &'static str, raw: &str, max: usize) -> Result<String, InvalidInput> {
    let len = raw.chars().count();
    if len > max {
        return Err(InvalidInput::TooLong { what, len, max });
    }
    if let Some(c) = raw
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(InvalidInput::ControlCharacter {
            what,
            code: u32::from(c),
        });
    }
    Ok(raw.to_string())
}

/// A message body: not blank, bounded, Windows line breaks made plain;
/// kept exactly as typed otherwise.
pub fn message(raw: &str) -> Result<String, InvalidInput> {
    if raw.trim().is_empty() {
        return Err(InvalidInput::Empty("the message"));
    }
    bounded("the message", &raw.replace("\r\n", "\n"), MAX_MESSAGE_CHARS)
}

/// Whether an address looks like an email (else it is taken as a phone number or a handle).
pub fn looks_like_email(raw: &str) -> bool {
    raw.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_checked() {
        assert_eq!(phone(" +34 600-100 (200) "), Ok("+34 600-100 (200)".into()));
        assert!(phone("call me").is_err());
        assert!(phone("12").is_err());
        assert!(phone("1234567890123456").is_err());
        assert!(phone("12+345678").is_err());
    }

    #[test]
    fn emails_are_checked() {
        assert_eq!(email("ana@example.com"), Ok("ana@example.com".into()));
        for bad in [
            "ana",
            "ana@",
            "@example.com",
            "ana@localhost",
            "a b@example.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blank_and_oversized_text_is_refused() {
        assert_eq!(message("  "), Err(InvalidInput::Empty("the message")));
        assert!(message(&"x".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
        assert_eq!(required("name", " Ana "), Ok("Ana".into()));
    }

    #[test]
    fn control_characters_are_refused_but_line_breaks_and_tabs_kept() {
        assert_eq!(
            message("hi\u{1b}[2J\u{1b}[31mYOU WON"),
            Err(InvalidInput::ControlCharacter {
                what: "the message",
                code: 0x1b
            })
        );
        assert!(required("the name", "Ana\u{7}").is_err());
        assert!(message("line\u{0}").is_err());
        assert_eq!(message("one\r\ntwo\tthree"), Ok("one\ntwo\tthree".into()));
        assert!(message("lone\rreturn").is_err());
    }
}
