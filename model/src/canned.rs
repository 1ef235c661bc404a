//! Canned responses: their codes and limits, the composer's `/` picker's
//! matching, and filling placeholders from the conversation at hand.

use std::collections::BTreeMap;

use crate::ids::CampaignId;
use crate::types::CannedResponse;
use crate::validate::InvalidInput;

/// The longest code.
pub const MAX_CODE_CHARS: usize = 32;
/// The longest body: a reply, not a document (every node reads the team
/// document often, and every join carries it).
pub const MAX_BODY_CHARS: usize = 5_000;
/// The most canned responses a team holds.
pub const MAX_PER_TEAM: usize = 1_000;

/// A code as typed after `/`: trimmed, lowercase letters, digits, `-` and `_`.
pub fn code(raw: &str) -> Result<String, InvalidInput> {
    let code = raw.trim().trim_start_matches('/').to_lowercase();
    if code.is_empty() {
        return Err(InvalidInput::Empty("the code"));
    }
    let code = crate::validate::bounded("the code", &code, MAX_CODE_CHARS)?;
    if !code
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(InvalidInput::Characters {
            what: "the code",
            allowed: "letters, digits, `-` and `_`",
            value: code,
        });
    }
    Ok(code)
}

/// What placeholders are filled from.
#[derive(Clone, Debug, Default)]
pub struct Placeholders {
    pub contact_name: Option<String>,
    pub agent_name: Option<String>,
    /// The interaction's form fields, by name.
    pub fields: BTreeMap<String, String>,
}

/// The body with `{contact.name}`, `{agent.name}` and `{field.NAME}` filled;
/// a placeholder with nothing to fill it is left as written, so the agent
/// sees what is missing before sending.
pub fn fill(body: &str, with: &Placeholders) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = &after[..close];
        let value = match name {
            "contact.name" => with.contact_name.as_deref(),
            "agent.name" => with.agent_name.as_deref(),
            _ => name
                .strip_prefix("field.")
                .and_then(|field| with.fields.get(field))
                .map(String::as_str),
        };
        match value {
            Some(v) => out.push_str(v),
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The responses offered in `campaign`'s interactions whose code starts
/// with `typed` (then those whose code or body holds it), codes in order:
/// what the composer's `/` picker lists.
pub fn matching<'c>(
    all: impl IntoIterator<Item = &'c CannedResponse>,
    campaign: Option<CampaignId>,
    typed: &str,
) -> Vec<&'c CannedResponse> {
    let typed = typed.trim().trim_start_matches('/').to_lowercase();
    let mut prefix = Vec::new();
    let mut within = Vec::new();
    for c in all {
        if c.campaign.is_some() && c.campaign != campaign {
            continue;
        }
        if c.code.starts_with(&typed) {
            prefix.push(c);
        } else if c.code.contains(&typed) || c.body.to_lowercase().contains(&typed) {
            within.push(c);
        }
    }
    prefix.sort_by(|a, b| a.code.cmp(&b.code));
    within.sort_by(|a, b| a.code.cmp(&b.code));
    prefix.extend(within);
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CannedId;

    fn canned(code: &str, body: &str, campaign: Option<CampaignId>) -> CannedResponse {
        CannedResponse {
            id: CannedId::new(),
            code: code.into(),
            body: body.into(),
            campaign,
        }
    }

    #[test]
    fn placeholders_are_filled_and_unknown_ones_left_for_the_agent_to_see() {
        let with = Placeholders {
            contact_name: Some("Marta".into()),
            agent_name: Some("Ana".into()),
            fields: BTreeMap::from([("Order".into(), "1234".into())]),
        };
        assert_eq!(
            fill(
                "Hi {contact.name}, {agent.name} here about order {field.Order}.",
                &with
            ),
            "Hi Marta, Ana here about order 1234."
        );
        assert_eq!(
            fill("{field.Missing} {nope} {unclosed", &with),
            "{field.Missing} {nope} {unclosed"
        );
        assert_eq!(
            fill("Hi {contact.name}", &Placeholders::default()),
            "Hi {contact.name}"
        );
    }

    #[test]
    fn codes_are_normalised_and_bad_ones_refused() {
        assert_eq!(code(" /Thanks ").ok().as_deref(), Some("thanks"));
        assert!(code("").is_err());
        assert!(code("two words").is_err());
        assert!(code(&"x".repeat(MAX_CODE_CHARS + 1)).is_err());
    }

    #[test]
    fn the_picker_lists_prefix_matches_first_and_only_this_campaigns_or_everyones() {
        let here = CampaignId::new();
        let elsewhere = CampaignId::new();
        let all = [
            canned("thanks", "Thank you", None),
            canned("refund", "Your refund of {field.Order}", Some(here)),
            canned("hello", "Hello there", Some(elsewhere)),
            canned("bye-thanks", "Bye", None),
        ];
        let codes = |typed| -> Vec<String> {
            matching(&all, Some(here), typed)
                .into_iter()
                .map(|c| c.code.clone())
                .collect()
        };
        assert_eq!(codes(""), ["bye-thanks", "refund", "thanks"]);
        assert_eq!(codes("/th"), ["thanks", "bye-thanks"]);
        assert_eq!(codes("hel"), Vec::<String>::new());
        assert_eq!(codes("refund of"), ["refund"]);
    }
}
