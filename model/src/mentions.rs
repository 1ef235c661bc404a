//! `@Name` mentions in internal notes and team chat.
//!
//! A mention is derived from the replicated text, never stored as a field of
//! its own: every node finds the same mentions in the same notes and messages.
//!
//! The rule, applied to a text and the team's agent names:
//! - an `@` starts a mention only at the start of the text or after a
//!   character that cannot be part of an e-mail address's local part
//!   (whitespace, brackets, punctuation other than `. _ - + = / @`), so
//!   `ana@b.com` mentions nobody;
//! - what follows the `@` is compared with every agent name, case-insensitively,
//!   and the longest name that matches wins, so with agents "Bo" and "Bo Li",
//!   `@bo li` names Bo Li and `@Bo, see` names Bo (names may hold spaces);
//! - the name must end where a word ends: `@Bob` does not mention Bo.
//!
//! The store indexes each `@` by the first word after it (its leading run of
//! letters and digits, lowercased: [`index_word`]), so "my mentions" reads the
//! few rows under the first word of the agent's own name and checks each with
//! the full rule against the names of today.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::bounds::{MAX_MENTIONS_PER_TEXT, MENTION_TAIL_CHARS};
use crate::ids::{AgentId, InteractionId, Millis};
use crate::types::RoomKey;

/// Where a mention was written.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MentionPlace {
    /// An internal note of an interaction.
    Note { interaction: InteractionId },
    /// A message in a team chat room (a direct message or a campaign room).
    Chat { room: RoomKey },
}

/// A note or chat message that holds at least one `@`, as the projection keeps it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MentionSource {
    /// `<document id>#<key within it>` (`note:<n>` or the chat message's id):
    /// the same on every node, and what a seen mark is kept under.
    pub id: String,
    pub place: MentionPlace,
    pub author: AgentId,
    pub at: Millis,
    /// The start of the text (at most [`crate::bounds::MENTION_TEXT_CHARS`]).
    pub text: String,
    /// What follows each `@` that may start a mention (see [`tails`]): what
    /// is matched against the names, wherever in a long text it stands.
    pub tails: Vec<String>,
}

/// Whether the character before an `@` lets it start a mention.
fn may_precede(c: char) -> bool {
    !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '=' | '/' | '@'))
}

/// Whether a name may end before this character.
fn ends_word(c: Option<char>) -> bool {
    c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
}

/// The byte offsets just after every `@` that may start a mention.
fn starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    let mut before: Option<char> = None;
    text.char_indices().filter_map(move |(i, c)| {
        let prev = before.replace(c);
        (c == '@' && prev.is_none_or(may_precede)).then_some(i + 1)
    })
}

/// The index word of a name or of the text after an `@`: its leading run of
/// letters and digits, lowercased.
pub fn index_word(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// What follows each `@` of `text` that may start a mention, up to
/// [`MENTION_TAIL_CHARS`] characters each (so names longer than that cannot
/// be mentioned), for at most [`MAX_MENTIONS_PER_TEXT`] of them.
pub fn tails(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for start in starts(text) {
        let rest = &text[start..];
        if index_word(rest).is_empty() {
            continue;
        }
        let tail: String = rest.chars().take(MENTION_TAIL_CHARS).collect();
        if !out.contains(&tail) {
            out.push(tail);
        }
        if out.len() >= MAX_MENTIONS_PER_TEXT {
            break;
        }
    }
    out
}

/// The index words of every `@` in `text` that could start a mention:
/// what the projection keeps rows under.
pub fn candidate_words(text: &str) -> BTreeSet<String> {
    tails(text).iter().map(|t| index_word(t)).collect()
}

/// How many bytes of `rest` the name takes if `rest` starts with it
/// (case-insensitively) and the name ends a word there.
fn matches_name(rest: &str, name: &str) -> Option<usize> {
    let mut chars = rest.char_indices();
    let mut end = 0;
    for n in name.chars() {
        let (i, c) = chars.next()?;
        if !c.to_lowercase().eq(n.to_lowercase()) {
            return None;
        }
        end = i + c.len_utf8();
    }
    ends_word(rest[end..].chars().next()).then_some(end)
}

/// The agents `text` mentions, each once, in the order of their first mention.
pub fn mentioned<'a>(
    text: &str,
    agents: impl IntoIterator<Item = (AgentId, &'a str)>,
) -> Vec<AgentId> {
    mentioned_in_tails(&tails(text), agents)
}

/// The agents named at the start of these [`tails`], each once, in order.
pub fn mentioned_in_tails<'a>(
    tails: &[String],
    agents: impl IntoIterator<Item = (AgentId, &'a str)>,
) -> Vec<AgentId> {
    let mut names: Vec<(AgentId, &str)> = agents
        .into_iter()
        .map(|(id, name)| (id, name.trim()))
        .filter(|(_, name)| !name.is_empty())
        .collect();
    // Longest first, so "Bo Li" wins over "Bo"; ties on the id, the same everywhere.
    names.sort_by(|a, b| {
        b.1.chars()
            .count()
            .cmp(&a.1.chars().count())
            .then(a.0.cmp(&b.0))
    });
    let mut found = Vec::new();
    for rest in tails {
        if let Some((id, _)) = names
            .iter()
            .find(|(_, name)| matches_name(rest, name).is_some())
            && !found.contains(id)
        {
            found.push(*id);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team() -> Vec<(AgentId, String)> {
        ["Ana", "Bo", "Bo Li", "Bob", "José Núñez"]
            .into_iter()
            .map(|n| (AgentId::new(), n.to_string()))
            .collect()
    }

    fn who(text: &str, team: &[(AgentId, String)]) -> Vec<String> {
        let ids = mentioned(text, team.iter().map(|(id, n)| (*id, n.as_str())));
        ids.iter()
            .map(|id| {
                team.iter()
                    .find(|(a, _)| a == id)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn the_longest_agent_name_after_the_at_wins() {
        let t = team();
        assert_eq!(who("@Bo Li can you call back?", &t), ["Bo Li"]);
        assert_eq!(who("@Bo, can you call back?", &t), ["Bo"]);
        assert_eq!(who("ask @Bob", &t), ["Bob"]);
        assert_eq!(who("@Bo Lin is not here", &t), ["Bo"]);
        assert_eq!(who("@José Núñez", &t), ["José Núñez"]);
    }

    #[test]
    fn case_does_not_matter() {
        let t = team();
        assert_eq!(who("thanks @ana and @BO LI", &t), ["Ana", "Bo Li"]);
        assert_eq!(who("@josé núñez", &t), ["José Núñez"]);
    }

    #[test]
    fn an_at_of_someone_not_on_the_team_mentions_nobody() {
        let t = team();
        assert!(who("@Carla please", &t).is_empty());
        assert!(who("@Bobby please", &t).is_empty());
        assert!(who("@ ana", &t).is_empty());
        assert!(who("@", &t).is_empty());
    }

    #[test]
    fn email_addresses_are_not_mentions() {
        let t = team();
        assert!(who("write to a@b.com or x.y@bo.com", &t).is_empty());
        assert!(who("ana@ana.com", &t).is_empty());
        assert!(candidate_words("mail a@b.com").is_empty());
        // Punctuation before the @ still starts one.
        assert_eq!(who("(@Ana) and \"@bo\"", &t), ["Ana", "Bo"]);
    }

    #[test]
    fn each_agent_is_mentioned_once() {
        let t = team();
        assert_eq!(who("@Ana @ana @Bo @ANA", &t), ["Ana", "Bo"]);
    }

    #[test]
    fn index_words_agree_for_a_name_and_its_mention() {
        for name in ["Bo Li", "José Núñez", "O'Brien", "Ana-María"] {
            let text = format!("hey @{} there", name.to_uppercase());
            assert!(candidate_words(&text).contains(&index_word(name)), "{name}");
        }
    }

    #[test]
    fn a_text_keeps_a_bounded_number_of_index_words() {
        let text: String = (0..100).map(|i| format!("@w{i} ")).collect();
        assert_eq!(candidate_words(&text).len(), MAX_MENTIONS_PER_TEXT);
    }

    #[test]
    fn a_mention_deep_in_a_long_note_counts() {
        let t = team();
        let text = format!("{} @Bo Li", "x ".repeat(5000));
        assert_eq!(who(&text, &t), ["Bo Li"]);
    }
}
