//! A fetched mail as the conversation shows it: headers for threading, the
//! readable text (HTML converted with html2text, never rendered), the files.

use mail_parser::{MessageParser, MimeHeaders};

/// A file a mail carries.
#[derive(Debug, Clone)]
pub struct MailFile {
    pub name: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// What intake needs of a mail.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub mail_id: String,
    pub replies_to: Vec<String>,
    pub subject: String,
    pub from_address: String,
    pub from_name: Option<String>,
    pub text: String,
    pub files: Vec<MailFile>,
}

/// The most files taken from one mail (the rest are named in the text).
pub const MAX_FILES: usize = meshdesk_model::bounds::MAX_ATTACHMENTS_PER_MESSAGE;

fn ids(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match value {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Parses a raw mail. A mail with no `Message-ID` gets one derived from its
/// bytes, so every fetcher names it alike.
pub fn parse(raw: &[u8]) -> Parsed {
    let derived = format!("<{}@meshdesk.invalid>", blake3::hash(raw).to_hex());
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Parsed {
            mail_id: derived,
            replies_to: Vec::new(),
            subject: String::new(),
            from_address: String::new(),
            from_name: None,
            text: String::from_utf8_lossy(raw).into_owned(),
            files: Vec::new(),
        };
    };
    let mail_id = msg
        .message_id()
        .map(|id| format!("<{}>", id.trim_matches(['<', '>'])))
        .unwrap_or(derived);
    let mut replies_to: Vec<String> = ids(msg.in_reply_to());
    let mut refs = ids(msg.references());
    refs.reverse();
    replies_to.extend(refs);
    let replies_to = replies_to
        .into_iter()
        .map(|id| format!("<{}>", id.trim_matches(['<', '>'])))
        .collect();
    let from = msg.from().and_then(|a| a.first());
    let from_address = from
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_string();
    let from_name = from.and_then(|a| a.name()).map(str::to_string);
    let plain = msg
        .text_bodies()
        .find(|p| p.is_text() && !p.is_text_html())
        .and_then(|p| p.text_contents())
        .map(str::to_string);
    let text = match plain {
        Some(t) => t,
        None => match msg.body_html(0) {
            Some(html) => html2text::from_read(html.as_bytes(), 100)
                .unwrap_or_else(|_| msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default()),
            None => String::new(),
        },
    };
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for part in msg.attachments() {
        let name = part
            .attachment_name()
            .map(str::to_string)
            .unwrap_or_else(|| "attachment".to_string());
        let mime = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        let bytes = part.contents().to_vec();
        if bytes.is_empty() || files.len() >= MAX_FILES {
            skipped.push(name);
            continue;
        }
        files.push(MailFile { name, mime, bytes });
    }
    let mut text = text.trim().to_string();
    if !skipped.is_empty() {
        text.push_str(&format!("\n\n(files not kept: {})", skipped.join(", ")));
    }
    Parsed {
        mail_id,
        replies_to,
        subject: msg.subject().unwrap_or_default().to_string(),
        from_address,
        from_name,
        text,
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_text_and_headers_thread() {
        let raw = b"From: Carla <carla@example.com>\r\nTo: support@example.com\r\nSubject: Broken\r\nMessage-ID: <c1@example.com>\r\nIn-Reply-To: <x.y.meshdesk@example.com>\r\nReferences: <a@example.com> <x.y.meshdesk@example.com>\r\nContent-Type: text/html\r\n\r\n<p>My <b>printer</b> is <script>alert(1)</script>broken</p>\r\n";
        let p = parse(raw);
        assert_eq!(p.mail_id, "<c1@example.com>");
        assert_eq!(p.replies_to[0], "<x.y.meshdesk@example.com>");
        assert!(p.replies_to.contains(&"<a@example.com>".to_string()));
        assert_eq!(p.from_address, "carla@example.com");
        assert_eq!(p.from_name.as_deref(), Some("Carla"));
        assert!(p.text.contains("printer"), "{}", p.text);
        assert!(!p.text.contains("<b>"), "{}", p.text);
    }

    #[test]
    fn a_mail_without_an_id_gets_one_from_its_bytes() {
        let raw = b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n";
        assert_eq!(parse(raw).mail_id, parse(raw).mail_id);
        assert!(parse(raw).mail_id.ends_with("@meshdesk.invalid>"));
    }
}
