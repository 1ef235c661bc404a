//! One Automerge document per entity (DESIGN §3), with typed reading and writing.
//!
//! Every reader here treats the document as untrusted: a peer may be buggy or
//! hostile, so a missing key or a wrong type is a [`DocError`], never a panic.
//!
//! Container rule: a document with a random id is created by exactly one
//! writer, who makes every container in the first change; later writers only
//! fill them. Chat rooms have derived ids, so they keep each message under its
//! own key at the root and make no shared containers at all.

pub mod agent;
pub mod contact;
pub mod interaction;
pub mod room;
pub mod team;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{
    AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, ScalarValueRef, Value, ValueRef,
};

use crate::ids::*;
use crate::types::{RoomKey, month_of};

/// The schema version written into every document with a random id.
pub const SCHEMA: i64 = 1;

/// What went wrong reading a document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocError {
    #[error("missing `{0}`")]
    Missing(String),
    #[error("`{path}` should be {expected}")]
    WrongType {
        path: String,
        expected: &'static str,
    },
    #[error("`{path}` is invalid: {reason}")]
    Invalid { path: String, reason: String },
    #[error("automerge: {0}")]
    Automerge(Box<automerge::AutomergeError>),
}

impl From<automerge::AutomergeError> for DocError {
    fn from(e: automerge::AutomergeError) -> Self {
        DocError::Automerge(Box::new(e))
    }
}

pub type DocResult<T> = Result<T, DocError>;

/// The kinds of document, told apart by the prefix of their id.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum DocKind {
    Team,
    Agent,
    Interaction,
    Contact,
    Room,
}

/// A document id: `team:<ulid>`, `agent:<ulid>`, `interaction:<ulid>`,
/// `contact:<ulid>`, `dm:<agent>:<agent>:<yyyy-mm>` or `campaign:<id>:<yyyy-mm>`.
#[derive(
    Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, serde::Serialize, serde::Deserialize,
)]
pub enum DocId {
    Team(TeamId),
    Agent(AgentId),
    Interaction(InteractionId),
    Contact(ContactId),
    Room { room: RoomKey, month: String },
}

impl DocId {
    pub fn kind(&self) -> DocKind {
        match self {
            DocId::Team(_) => DocKind::Team,
            DocId::Agent(_) => DocKind::Agent,
            DocId::Interaction(_) => DocKind::Interaction,
            DocId::Contact(_) => DocKind::Contact,
            DocId::Room { .. } => DocKind::Room,
        }
    }

    /// The room document a message sent at `at` belongs in.
    pub fn room_at(room: RoomKey, at: Millis) -> Self {
        DocId::Room {
            room,
            month: month_of(at),
        }
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocId::Team(id) => write!(f, "team:{id}"),
            DocId::Agent(id) => write!(f, "agent:{id}"),
            DocId::Interaction(id) => write!(f, "interaction:{id}"),
            DocId::Contact(id) => write!(f, "contact:{id}"),
            DocId::Room {
                room: RoomKey::Direct { a, b },
                month,
            } => write!(f, "dm:{a}:{b}:{month}"),
            DocId::Room {
                room: RoomKey::Campaign { campaign },
                month,
            } => {
                write!(f, "campaign:{campaign}:{month}")
            }
        }
    }
}

/// The error for a string that is not a document id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a document id")]
pub struct InvalidDocId(pub String);

fn valid_month(month: &str) -> bool {
    let bytes = month.as_bytes();
    bytes.len() == 7
        && bytes[4] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_digit())
}

impl FromStr for DocId {
    type Err = InvalidDocId;
    fn from_str(s: &str) -> Result<Self, InvalidDocId> {
        let bad = || InvalidDocId(s.to_string());
        let parts: Vec<&str> = s.split(':').collect();
        let id = match parts.as_slice() {
            ["team", id] => DocId::Team(id.parse().map_err(|_| bad())?),
            ["agent", id] => DocId::Agent(id.parse().map_err(|_| bad())?),
            ["interaction", id] => DocId::Interaction(id.parse().map_err(|_| bad())?),
            ["contact", id] => DocId::Contact(id.parse().map_err(|_| bad())?),
            ["dm", a, b, month] if valid_month(month) => {
                let (a, b) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                // Only the canonical order is a valid id, so one pair has one room.
                if a > b {
                    return Err(bad());
                }
                DocId::Room {
                    room: RoomKey::Direct { a, b },
                    month: month.to_string(),
                }
            }
            ["campaign", c, month] if valid_month(month) => DocId::Room {
                room: RoomKey::Campaign {
                    campaign: c.parse().map_err(|_| bad())?,
                },
                month: month.to_string(),
            },
            _ => return Err(bad()),
        };
        Ok(id)
    }
}

// ---- reading -------------------------------------------------------------

fn path(obj_path: &str, key: &str) -> String {
    if obj_path.is_empty() {
        key.to_string()
    } else {
        format!("{obj_path}.{key}")
    }
}

/// One entry of a map: its key, its (winning) value and, for an object,
/// its id; borrowed from the document, so fields not read cost nothing.
type Entry<'d> = (Cow<'d, str>, ValueRef<'d>, Option<ObjId>);

/// A map being read, remembering where it is for error messages. Its entries
/// are read in one pass when it is opened: readers read every field of the
/// maps they open, and one pass costs a fraction of a lookup per key.
pub(crate) struct MapReader<'d, D: ReadDoc> {
    doc: &'d D,
    path: String,
    /// In key order.
    entries: Vec<Entry<'d>>,
}

impl<'d, D: ReadDoc> MapReader<'d, D> {
    pub fn root(doc: &'d D) -> Self {
        Self::open(doc, automerge::ROOT, String::new())
    }

    fn open(doc: &'d D, obj: ObjId, path: String) -> Self {
        let entries = doc
            .map_range(&obj, ..)
            .map(|item| {
                let id = matches!(item.value, ValueRef::Object(_)).then(|| item.id());
                (item.key, item.value, id)
            })
            .collect();
        MapReader { doc, path, entries }
    }

    fn entry(&self, key: &str) -> Option<&Entry<'d>> {
        self.entries
            .binary_search_by(|(k, _, _)| k.as_ref().cmp(key))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    fn scalar(&self, key: &str) -> DocResult<Option<&ScalarValueRef<'d>>> {
        match self.entry(key) {
            None => Ok(None),
            Some((_, ValueRef::Scalar(s), _)) => Ok(Some(s)),
            Some((_, ValueRef::Object(_), _)) => Err(DocError::WrongType {
                path: path(&self.path, key),
                expected: "a plain value",
            }),
        }
    }

    pub fn opt_str(&self, key: &str) -> DocResult<Option<String>> {
        Ok(self.opt_str_ref(key)?.map(str::to_string))
    }

    /// A string field, borrowed from the document.
    fn opt_str_ref(&self, key: &str) -> DocResult<Option<&str>> {
        match self.scalar(key)? {
            None | Some(ScalarValueRef::Null) => Ok(None),
            Some(ScalarValueRef::Str(s)) => Ok(Some(s.as_ref())),
            Some(_) => Err(DocError::WrongType {
                path: path(&self.path, key),
                expected: "a string",
            }),
        }
    }

    pub fn str(&self, key: &str) -> DocResult<String> {
        self.opt_str(key)?
            .ok_or_else(|| DocError::Missing(path(&self.path, key)))
    }

    /// A string field that may be absent (older writers), read as empty.
    pub fn str_or_empty(&self, key: &str) -> DocResult<String> {
        Ok(self.opt_str(key)?.unwrap_or_default())
    }

    pub fn opt_i64(&self, key: &str) -> DocResult<Option<i64>> {
        match self.scalar(key)? {
            None | Some(ScalarValueRef::Null) => Ok(None),
            Some(ScalarValueRef::Int(i)) | Some(ScalarValueRef::Timestamp(i)) => Ok(Some(*i)),
            Some(ScalarValueRef::Uint(u)) => {
                i64::try_from(*u).map(Some).map_err(|_| DocError::Invalid {
                    path: path(&self.path, key),
                    reason: "out of range".into(),
                })
            }
            Some(_) => Err(DocError::WrongType {
                path: path(&self.path, key),
                expected: "an integer",
            }),
        }
    }

    pub fn i64(&self, key: &str) -> DocResult<i64> {
        self.opt_i64(key)?
            .ok_or_else(|| DocError::Missing(path(&self.path, key)))
    }

    pub fn u32(&self, key: &str) -> DocResult<u32> {
        u32::try_from(self.i64(key)?).map_err(|_| DocError::Invalid {
            path: path(&self.path, key),
            reason: "out of range".into(),
        })
    }

    pub fn bytes(&self, key: &str) -> DocResult<Vec<u8>> {
        match self.scalar(key)? {
            None => Err(DocError::Missing(path(&self.path, key))),
            Some(ScalarValueRef::Bytes(b)) => Ok(b.to_vec()),
            Some(_) => Err(DocError::WrongType {
                path: path(&self.path, key),
                expected: "bytes",
            }),
        }
    }

    pub fn bool(&self, key: &str) -> DocResult<bool> {
        self.opt_bool(key)?
            .ok_or_else(|| DocError::Missing(path(&self.path, key)))
    }

    /// A boolean that may be absent (older writers).
    pub fn opt_bool(&self, key: &str) -> DocResult<Option<bool>> {
        match self.scalar(key)? {
            None => Ok(None),
            Some(ScalarValueRef::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(DocError::WrongType {
                path: path(&self.path, key),
                expected: "a boolean",
            }),
        }
    }

    /// A value parsed from its text form (ids, enums).
    pub fn parsed<T: FromStr>(&self, key: &str) -> DocResult<T>
    where
        T::Err: fmt::Display,
    {
        let text = self
            .opt_str_ref(key)?
            .ok_or_else(|| DocError::Missing(path(&self.path, key)))?;
        text.parse().map_err(|e: T::Err| DocError::Invalid {
            path: path(&self.path, key),
            reason: e.to_string(),
        })
    }

    pub fn opt_parsed<T: FromStr>(&self, key: &str) -> DocResult<Option<T>>
    where
        T::Err: fmt::Display,
    {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(text) if text.is_empty() => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e: T::Err| DocError::Invalid {
                    path: path(&self.path, key),
                    reason: e.to_string(),
                }),
        }
    }

    fn object(&self, key: &str, want: ObjType, expected: &'static str) -> DocResult<ObjId> {
        match self.entry(key) {
            Some((_, ValueRef::Object(t), Some(id))) if *t == want => Ok(id.clone()),
            Some(_) => Err(DocError::WrongType {
                path: path(&self.path, key),
                expected,
            }),
            None => Err(DocError::Missing(path(&self.path, key))),
        }
    }

    pub fn map(&self, key: &str) -> DocResult<MapReader<'d, D>> {
        let obj = self.object(key, ObjType::Map, "a map")?;
        Ok(MapReader::open(self.doc, obj, path(&self.path, key)))
    }

    pub fn list(&self, key: &str) -> DocResult<ListReader<'d, D>> {
        let obj = self.object(key, ObjType::List, "a list")?;
        Ok(ListReader {
            doc: self.doc,
            obj,
            path: path(&self.path, key),
        })
    }

    /// The keys of this map, in order.
    pub fn keys(&self) -> Vec<String> {
        self.entries.iter().map(|(k, _, _)| k.to_string()).collect()
    }

    /// Whether a key holds anything.
    pub fn has(&self, key: &str) -> DocResult<bool> {
        Ok(self.entry(key).is_some())
    }

    /// A map of string values (custom fields), each value checked.
    pub fn string_map(&self) -> DocResult<std::collections::BTreeMap<String, String>> {
        self.keys()
            .into_iter()
            .map(|k| Ok((k.clone(), self.str(&k)?)))
            .collect()
    }

    /// Keys of a map used as a set (tags): only keys whose value is `true`.
    pub fn key_set(&self) -> DocResult<std::collections::BTreeSet<String>> {
        let mut set = std::collections::BTreeSet::new();
        for key in self.keys() {
            if self.bool(&key)? {
                set.insert(key);
            }
        }
        Ok(set)
    }
}

/// A list being read.
pub(crate) struct ListReader<'d, D: ReadDoc> {
    pub(crate) doc: &'d D,
    pub(crate) obj: ObjId,
    pub(crate) path: String,
}

impl<'d, D: ReadDoc> ListReader<'d, D> {
    pub fn len(&self) -> usize {
        self.doc.length(&self.obj)
    }

    pub fn maps(&self) -> DocResult<Vec<MapReader<'d, D>>> {
        self.maps_from(0)
    }

    /// The map at `index`.
    pub fn map_at(&self, index: usize) -> DocResult<MapReader<'d, D>> {
        let at = format!("{}[{index}]", self.path);
        match self.doc.get(&self.obj, index)? {
            Some((Value::Object(ObjType::Map), obj)) => Ok(MapReader::open(self.doc, obj, at)),
            Some(_) => Err(DocError::WrongType {
                path: at,
                expected: "a map",
            }),
            None => Err(DocError::Missing(at)),
        }
    }

    /// The string `key` of each map before `end`, in order, handed to
    /// `each` until it returns false: one lookup per map, none of the
    /// maps' other values read (what search text needs of old messages).
    pub fn each_str(
        &self,
        end: usize,
        key: &str,
        mut each: impl FnMut(&str) -> bool,
    ) -> DocResult<()> {
        for item in self.doc.list_range(&self.obj, ..end) {
            let at = || format!("{}[{}]", self.path, item.index);
            if !matches!(item.value, automerge::ValueRef::Object(ObjType::Map)) {
                return Err(DocError::WrongType {
                    path: at(),
                    expected: "a map",
                });
            }
            let value = self.doc.get(item.id(), key)?;
            let text = match &value {
                Some((Value::Scalar(s), _)) => s.as_str().ok_or_else(|| DocError::WrongType {
                    path: path(&at(), key),
                    expected: "a string",
                })?,
                Some((Value::Object(_), _)) => {
                    return Err(DocError::WrongType {
                        path: path(&at(), key),
                        expected: "a plain value",
                    });
                }
                None => return Err(DocError::Missing(path(&at(), key))),
            };
            if !each(text) {
                break;
            }
        }
        Ok(())
    }

    /// The maps from `start` on, read in one pass.
    pub fn maps_from(&self, start: usize) -> DocResult<Vec<MapReader<'d, D>>> {
        self.doc
            .list_range(&self.obj, start..)
            .map(|item| {
                let at = format!("{}[{}]", self.path, item.index);
                match item.value {
                    automerge::ValueRef::Object(ObjType::Map) => {
                        Ok(MapReader::open(self.doc, item.id(), at))
                    }
                    _ => Err(DocError::WrongType {
                        path: at,
                        expected: "a map",
                    }),
                }
            })
            .collect()
    }

    pub fn strings(&self) -> DocResult<Vec<String>> {
        (0..self.len())
            .map(|i| match self.doc.get(&self.obj, i)? {
                Some((Value::Scalar(s), _)) => match s.as_ref() {
                    ScalarValue::Str(s) => Ok(s.to_string()),
                    _ => Err(DocError::WrongType {
                        path: format!("{}[{i}]", self.path),
                        expected: "a string",
                    }),
                },
                _ => Err(DocError::WrongType {
                    path: format!("{}[{i}]", self.path),
                    expected: "a string",
                }),
            })
            .collect()
    }
}

// ---- writing -------------------------------------------------------------

/// Looks up an object the first change created; its absence means a malformed document.
pub(crate) fn existing(doc: &AutoCommit, parent: &ObjId, key: &str) -> DocResult<ObjId> {
    match doc.get(parent, key)? {
        Some((Value::Object(_), id)) => Ok(id),
        Some(_) => Err(DocError::WrongType {
            path: key.to_string(),
            expected: "an object",
        }),
        None => Err(DocError::Missing(key.to_string())),
    }
}

/// Replaces a list of strings with `items`, touching only what differs.
pub(crate) fn set_string_list(
    doc: &mut AutoCommit,
    list: &ObjId,
    items: &[String],
) -> DocResult<()> {
    let current = ListReader {
        doc: &*doc,
        obj: list.clone(),
        path: String::new(),
    }
    .strings()?;
    if current == items {
        return Ok(());
    }
    for i in (0..current.len()).rev() {
        doc.delete(list, i)?;
    }
    for (i, item) in items.iter().enumerate() {
        doc.insert(list, i, item.as_str())?;
    }
    Ok(())
}

/// Makes a map's string entries equal `items`.
pub(crate) fn set_string_map(
    doc: &mut AutoCommit,
    map: &ObjId,
    items: &std::collections::BTreeMap<String, String>,
) -> DocResult<()> {
    let keys: Vec<String> = doc.keys(map).collect();
    for key in keys.iter().filter(|k| !items.contains_key(*k)) {
        doc.delete(map, key.as_str())?;
    }
    for (k, v) in items {
        let same = matches!(doc.get(map, k.as_str())?, Some((Value::Scalar(s), _)) if s.as_str() == Some(v.as_str()));
        if !same {
            doc.put(map, k.as_str(), v.as_str())?;
        }
    }
    Ok(())
}

/// Makes a map used as a set hold exactly `items` (each key → `true`).
pub(crate) fn set_key_set(
    doc: &mut AutoCommit,
    map: &ObjId,
    items: &std::collections::BTreeSet<String>,
) -> DocResult<()> {
    let keys: Vec<String> = doc.keys(map).collect();
    for key in keys.iter().filter(|k| !items.contains(*k)) {
        doc.delete(map, key.as_str())?;
    }
    for item in items {
        if !keys.contains(item) {
            doc.put(map, item.as_str(), true)?;
        }
    }
    Ok(())
}

/// Puts a string only when it differs, so re-saving an unchanged entity makes no change.
pub(crate) fn put_str_if_changed(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    value: &str,
) -> DocResult<()> {
    let same =
        matches!(doc.get(obj, key)?, Some((Value::Scalar(s), _)) if s.as_str() == Some(value));
    if !same {
        doc.put(obj, key, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_reader_sees_the_winner_of_a_conflict_as_get_does() -> Result<(), DocError> {
        let mut a = AutoCommit::new();
        a.put(automerge::ROOT, "name", "base")?;
        a.put_object(automerge::ROOT, "inner", ObjType::Map)?;
        a.commit();
        let mut b = a.fork();
        a.put(automerge::ROOT, "name", "from a")?;
        a.put(automerge::ROOT, "only_a", 1)?;
        b.put(automerge::ROOT, "name", "from b")?;
        b.put_object(automerge::ROOT, "inner", ObjType::Map)?;
        a.merge(&mut b)?;
        let reader = MapReader::root(&a);
        assert_eq!(reader.keys(), vec!["inner", "name", "only_a"]);
        let winner = match a.get(automerge::ROOT, "name")? {
            Some((Value::Scalar(s), _)) => s.to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(format!("{:?}", reader.str("name")?), winner);
        let inner = match a.get(automerge::ROOT, "inner")? {
            Some((_, id)) => id,
            None => automerge::ROOT,
        };
        assert_eq!(reader.object("inner", ObjType::Map, "a map")?, inner);
        Ok(())
    }

    #[test]
    fn doc_ids_round_trip_and_reject_malformed_ones() {
        let (a, b) = (AgentId::new(), AgentId::new());
        let ids = [
            DocId::Team(TeamId::new()),
            DocId::Agent(a),
            DocId::Interaction(InteractionId::new()),
            DocId::Contact(ContactId::new()),
            DocId::room_at(RoomKey::direct(a, b), 0),
            DocId::room_at(
                RoomKey::Campaign {
                    campaign: CampaignId::new(),
                },
                1_700_000_000_000,
            ),
        ];
        for id in ids {
            assert_eq!(id.to_string().parse::<DocId>(), Ok(id.clone()), "{id}");
        }
        for bad in [
            "",
            "team",
            "team:xyz",
            "dm:a:b:2024-01",
            "campaign:01H:2024-1",
            "other:01H",
        ] {
            assert!(bad.parse::<DocId>().is_err(), "{bad}");
        }
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        assert!(format!("dm:{hi}:{lo}:2024-01").parse::<DocId>().is_err());
    }
}
