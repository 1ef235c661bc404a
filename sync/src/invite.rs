//! Invite codes: how a new device learns the team's key and proves it was invited (DESIGN §6).
//!
//! An invite code carries the team id, the team's 32-byte pre-shared key (so
//! the joining device can pass the private-network handshake), a 32-byte random
//! one-time token (presented in a `JoinRequest` and checked by a member node
//! against the team document, where only [`token_hash`] of it is kept), the
//! expiry, and addresses where members can be reached.
//!
//! Text form: `MD1-` followed by unpadded RFC 4648 base32 of
//!
//! ```text
//! [version: u8 = 1][body length: u16 BE][body: postcard(Payload)][blake3(version..body)[..4]]
//! ```
//!
//! The explicit length tells a truncated code from a mistyped one, and the
//! 4-byte checksum refuses nearly every typo. Parsing is lenient about what
//! copy and paste does to text (case, whitespace, line breaks) and strict about
//! everything else.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use libp2p::Multiaddr;
use meshdesk_model::{Millis, TeamId};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// The prefix of every invite code of this format version.
pub const PREFIX: &str = "MD1-";
/// The binary format version after the prefix.
const VERSION: u8 = 1;
const CHECKSUM_LEN: usize = 4;
const HEADER_LEN: usize = 3;
/// No real code comes near this; it bounds what a parser will even look at.
const MAX_CODE_CHARS: usize = 8 * 1024;

/// A decoded invite code.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteCode {
    pub team_id: TeamId,
    /// The team's pre-shared key (libp2p pnet).
    pub psk: [u8; 32],
    /// The one-time token; the team document keeps only [`token_hash`] of it.
    pub token: [u8; 32],
    /// When the invite stops working, in ms since the Unix epoch.
    pub expires_at: Millis,
    /// Where members of the team can be reached (usually with a `/p2p/` suffix).
    pub addrs: Vec<Multiaddr>,
}

impl fmt::Debug for InviteCode {
    // Never print the key or the token in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InviteCode")
            .field("team_id", &self.team_id)
            .field("psk", &"<secret>")
            .field("token_hash", &token_hash(&self.token))
            .field("expires_at", &self.expires_at)
            .field("addrs", &self.addrs)
            .finish()
    }
}

/// Why an invite code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("the invite code is empty")]
    Empty,
    #[error("the invite code is not a meshdesk invite (it should start with `{PREFIX}`)")]
    NotAnInvite,
    #[error(
        "the invite code was made by a newer version of meshdesk (format {0}); update meshdesk"
    )]
    UnsupportedVersion(String),
    #[error("the invite code is truncated: part of it is missing, copy all of it")]
    Truncated,
    #[error("the invite code is too long: something was pasted after it")]
    TooLong,
    #[error("the invite code contains `{0}`, which is not part of any invite code")]
    InvalidCharacter(char),
    #[error("checksum mismatch: the code was mistyped or cut")]
    Checksum,
    #[error("the invite code is damaged: {0}")]
    Malformed(String),
}

/// The serialized body (format version 1). Field order is the wire format.
#[derive(Serialize, Deserialize)]
struct Payload {
    team_id: u128,
    psk: [u8; 32],
    token: [u8; 32],
    expires_at: i64,
    addrs: Vec<Vec<u8>>,
}

impl InviteCode {
    /// A new invite with a fresh random token.
    pub fn new(team_id: TeamId, psk: [u8; 32], expires_at: Millis, addrs: Vec<Multiaddr>) -> Self {
        InviteCode {
            team_id,
            psk,
            token: new_token(),
            expires_at,
            addrs,
        }
    }

    /// The hash of the token, as the team document stores it.
    pub fn token_hash(&self) -> String {
        token_hash(&self.token)
    }

    /// Whether the invite has expired at `now`.
    pub fn is_expired(&self, now: Millis) -> bool {
        now >= self.expires_at
    }

    /// The copy-pasteable text form.
    pub fn encode(&self) -> String {
        let payload = Payload {
            team_id: self.team_id.0.into(),
            psk: self.psk,
            token: self.token,
            expires_at: self.expires_at,
            addrs: self.addrs.iter().map(Multiaddr::to_vec).collect(),
        };
        // Serializing plain integers, arrays and byte vectors into a Vec cannot fail.
        let body = postcard::to_stdvec(&payload).unwrap_or_default();
        let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len() + CHECKSUM_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&body);
        let sum = blake3::hash(&bytes);
        bytes.extend_from_slice(&sum.as_bytes()[..CHECKSUM_LEN]);
        format!("{PREFIX}{}", BASE32_NOPAD.encode(&bytes))
    }

    /// Parses a code as a person pasted it: surrounding text whitespace, line
    /// breaks and letter case do not matter; anything else wrong is refused
    /// with a reason a person can act on.
    pub fn parse(text: &str) -> Result<InviteCode, InviteError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(InviteError::Empty);
        }
        if text.len() > MAX_CODE_CHARS {
            return Err(InviteError::TooLong);
        }
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let rest = match cleaned.strip_prefix(PREFIX) {
            Some(rest) => rest,
            None => return Err(prefix_error(&cleaned)),
        };
        if rest.is_empty() {
            return Err(InviteError::Truncated);
        }
        if let Some(bad) = rest.chars().find(|c| !matches!(c, 'A'..='Z' | '2'..='7')) {
            return Err(InviteError::InvalidCharacter(bad));
        }
        // A base32 length that cannot come from whole bytes means characters are missing
        // (or one too many, which is far rarer than a cut); either way, the length is off.
        let bytes = decode_base32_prefix(rest)?;
        if bytes.len() < HEADER_LEN {
            return Err(InviteError::Truncated);
        }
        if bytes[0] != VERSION {
            return Err(InviteError::UnsupportedVersion(format!("{}", bytes[0])));
        }
        let body_len = usize::from(u16::from_be_bytes([bytes[1], bytes[2]]));
        let expected = HEADER_LEN + body_len + CHECKSUM_LEN;
        if bytes.len() < expected || !whole_base32(rest) {
            if bytes.len() >= expected {
                return Err(InviteError::TooLong);
            }
            return Err(InviteError::Truncated);
        }
        if bytes.len() > expected {
            return Err(InviteError::TooLong);
        }
        // The whole code must be canonical base32: stray bits in its last
        // character are a typo the lenient prefix decoding let through.
        let bytes = BASE32_NOPAD
            .decode(rest.as_bytes())
            .map_err(|_| InviteError::Checksum)?;
        let (signed, sum) = bytes.split_at(HEADER_LEN + body_len);
        if blake3::hash(signed).as_bytes()[..CHECKSUM_LEN] != *sum {
            return Err(InviteError::Checksum);
        }
        let payload: Payload = postcard::from_bytes(&signed[HEADER_LEN..])
            .map_err(|e| InviteError::Malformed(e.to_string()))?;
        let addrs = payload
            .addrs
            .into_iter()
            .map(|a| {
                Multiaddr::try_from(a)
                    .map_err(|e| InviteError::Malformed(format!("an address is invalid: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(InviteCode {
            team_id: TeamId(Ulid::from(payload.team_id)),
            psk: payload.psk,
            token: payload.token,
            expires_at: payload.expires_at,
            addrs,
        })
    }
}

impl fmt::Display for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for InviteCode {
    type Err = InviteError;
    fn from_str(s: &str) -> Result<Self, InviteError> {
        InviteCode::parse(s)
    }
}

fn prefix_error(cleaned: &str) -> InviteError {
    // `MD2-…` and later: a format this build does not know.
    let mut chars = cleaned.chars();
    if let (Some('M'), Some('D')) = (chars.next(), chars.next()) {
        let version: String = chars.by_ref().take_while(|c| c.is_ascii_digit()).collect();
        if !version.is_empty() && version != "1" {
            return InviteError::UnsupportedVersion(version);
        }
        if cleaned.len() < PREFIX.len() && PREFIX.starts_with(cleaned) {
            return InviteError::Truncated;
        }
    }
    InviteError::NotAnInvite
}

/// Whether `text` has a length that whole bytes encode to in unpadded base32.
fn whole_base32(text: &str) -> bool {
    matches!(text.len() % 8, 0 | 2 | 4 | 5 | 7)
}

/// Decodes the longest prefix of `text` that is whole base32, so the header
/// (and so the declared length) can be read even from a cut code.
fn decode_base32_prefix(text: &str) -> Result<Vec<u8>, InviteError> {
    let mut usable = text.len();
    while usable > 0 && !whole_base32(&text[..usable]) {
        usable -= 1;
    }
    // The prefix of a cut code usually ends inside a byte group, with stray
    // bits after its last whole byte: ignore them (the checksum guards the rest).
    let mut spec = BASE32_NOPAD.specification();
    spec.check_trailing_bits = false;
    let lenient = spec
        .encoding()
        .map_err(|e| InviteError::Malformed(e.to_string()))?;
    lenient
        .decode(&text.as_bytes()[..usable])
        .map_err(|e| InviteError::Malformed(e.to_string()))
}

/// A fresh random one-time token.
pub fn new_token() -> [u8; 32] {
    rand::random()
}

/// The hash of an invite token as the team document stores it: lowercase hex of blake3.
pub fn token_hash(token: &[u8; 32]) -> String {
    blake3::hash(token).to_hex().to_string()
}

/// A fresh random pre-shared key for a new team.
pub fn new_psk() -> [u8; 32] {
    rand::random()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> InviteCode {
        let addrs = vec![
            "/ip4/192.168.1.20/tcp/4001"
                .parse()
                .unwrap_or_else(|_| Multiaddr::empty()),
            "/ip6/::1/tcp/4001"
                .parse()
                .unwrap_or_else(|_| Multiaddr::empty()),
        ];
        InviteCode::new(TeamId::new(), new_psk(), 1_900_000_000_000, addrs)
    }

    #[test]
    fn round_trips_and_tolerates_paste_damage() {
        let code = sample();
        let text = code.encode();
        assert!(text.starts_with(PREFIX));
        assert_eq!(InviteCode::parse(&text), Ok(code.clone()));
        let pasted = format!("  {}\n{}  ", &text[..40].to_lowercase(), &text[40..]);
        assert_eq!(InviteCode::parse(&pasted), Ok(code.clone()));
        assert_eq!(code.token_hash().len(), 64);
        assert_ne!(code.token_hash(), token_hash(&new_token()));
        assert!(!format!("{code:?}").contains(&format!("{:?}", code.psk)));
    }

    #[test]
    fn clear_errors() {
        let text = sample().encode();
        assert_eq!(InviteCode::parse(""), Err(InviteError::Empty));
        assert_eq!(
            InviteCode::parse("hello world"),
            Err(InviteError::NotAnInvite)
        );
        assert_eq!(InviteCode::parse("MD"), Err(InviteError::Truncated));
        assert_eq!(InviteCode::parse("MD1-"), Err(InviteError::Truncated));
        assert!(matches!(
            InviteCode::parse("MD2-AAAA"),
            Err(InviteError::UnsupportedVersion(_))
        ));
        assert_eq!(
            InviteCode::parse(&text[..text.len() - 10]),
            Err(InviteError::Truncated)
        );
        assert_eq!(
            InviteCode::parse(&format!("{text}AAAAAAAA")),
            Err(InviteError::TooLong)
        );
        assert_eq!(
            InviteCode::parse(&format!("{text}!")),
            Err(InviteError::InvalidCharacter('!'))
        );
        let mut typo: Vec<char> = text.chars().collect();
        let i = typo.len() / 2;
        typo[i] = if typo[i] == 'A' { 'B' } else { 'A' };
        let typo: String = typo.into_iter().collect();
        assert_eq!(InviteCode::parse(&typo), Err(InviteError::Checksum));
        for e in [
            InviteError::Truncated,
            InviteError::NotAnInvite,
            InviteError::Checksum,
        ] {
            assert!(!e.to_string().is_empty());
        }
        assert!(InviteError::Truncated.to_string().contains("truncated"));
        assert!(
            InviteError::NotAnInvite
                .to_string()
                .contains("not a meshdesk invite")
        );
    }

    #[test]
    fn every_truncation_is_refused() {
        let text = sample().encode();
        for cut in 0..text.len() {
            assert!(
                InviteCode::parse(&text[..cut]).is_err(),
                "cut at {cut} accepted"
            );
        }
    }

    #[test]
    fn every_single_character_typo_is_refused() {
        let text = sample().encode();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let chars: Vec<char> = text.chars().collect();
        for i in PREFIX.len()..chars.len() {
            for c in alphabet.chars().filter(|c| *c != chars[i]) {
                let mut damaged = chars.clone();
                damaged[i] = c;
                let damaged: String = damaged.into_iter().collect();
                assert!(InviteCode::parse(&damaged).is_err(), "typo at {i} accepted");
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".*") {
            let _ = InviteCode::parse(&s);
        }

        #[test]
        fn arbitrary_base32_after_prefix_is_refused(s in "[A-Z2-7]{0,400}") {
            let text = format!("{PREFIX}{s}");
            prop_assert!(InviteCode::parse(&text).is_err());
        }

        #[test]
        fn codes_round_trip(team in any::<u128>(), psk in any::<[u8; 32]>(), token in any::<[u8; 32]>(),
                            expires in any::<i64>(), ports in proptest::collection::vec(any::<u16>(), 0..5)) {
            let addrs = ports.iter().filter_map(|p| format!("/ip4/10.0.0.1/tcp/{p}").parse().ok()).collect();
            let code = InviteCode { team_id: TeamId(Ulid::from(team)), psk, token, expires_at: expires, addrs };
            prop_assert_eq!(InviteCode::parse(&code.encode()), Ok(code.clone()));
            let text = code.encode();
            for cut in 0..text.len() {
                prop_assert!(InviteCode::parse(&text[..cut]).is_err());
            }
        }
    }
}
