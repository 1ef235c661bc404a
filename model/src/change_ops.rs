//! The operations of an Automerge change, read for the write rules.
//!
//! `Change::decode` builds a legacy `ExpandedChange`, cloning an actor id
//! for every object, key and predecessor of every operation; judging a
//! first sync reads every change of every document, and that copying was
//! a sixth of its work. [`read`] takes what the rules look at (object, key,
//! insert, action and value) straight from the change's bytes in the
//! binary format's change chunk. Whatever it does not expect — a
//! compressed column, a mark, a header that disagrees with what Automerge
//! parsed, a malformed column — makes it fall back on `Change::decode`, so
//! both readers always agree (a property test holds them to it).

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{ActorId, Change, ObjType, ScalarValue};

use crate::bounds::{DecodeLimitError, Reader};

/// One operation of a change.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeOp {
    /// The object written in: none for the root, else the counter and
    /// actor of the operation that made it.
    pub obj: Option<(u64, ActorId)>,
    /// The map key written, or none for a list or text position.
    pub key: Option<String>,
    pub insert: bool,
    pub action: OpType,
}

/// The operations of `change`, in order.
pub fn read(change: &Change) -> Vec<ChangeOp> {
    read_columns(change).unwrap_or_else(|| read_decoded(change))
}

/// Through `Change::decode` (every case, more slowly).
pub fn read_decoded(change: &Change) -> Vec<ChangeOp> {
    change
        .decode()
        .operations
        .into_iter()
        .map(|op| ChangeOp {
            obj: match op.obj {
                ObjectId::Root => None,
                ObjectId::Id(id) => Some((id.0, id.1)),
            },
            key: match op.key {
                Key::Map(k) => Some(k.to_string()),
                Key::Seq(_) => None,
            },
            insert: op.insert,
            action: op.action,
        })
        .collect()
}

// Column specs: id << 4 | type (the deflate bit, 8, is never expected here).
const DEFLATE_BIT: u32 = 8;
const OBJ_ACTOR: u32 = 1;
const OBJ_CTR: u32 = 2;
const KEY_ACTOR: u32 = 1 << 4 | 1;
const KEY_CTR: u32 = 1 << 4 | 3;
const KEY_STR: u32 = 1 << 4 | 5;
const INSERT: u32 = 3 << 4 | 4;
const ACTION: u32 = 4 << 4 | 2;
const VAL_META: u32 = 5 << 4 | 6;
const VAL_RAW: u32 = 5 << 4 | 7;
/// The chunk type of an uncompressed change.
const CHANGE_CHUNK: u8 = 1;

/// Straight from the bytes; none where [`read_decoded`] must answer.
pub fn read_columns(change: &Change) -> Option<Vec<ChangeOp>> {
    let raw = change.raw_bytes();
    // Magic (4 bytes), checksum (4), chunk type, length, then the body.
    let mut chunk = Reader::new(raw.get(8..)?, "change");
    if chunk.byte().ok()? != CHANGE_CHUNK {
        return None;
    }
    let mut body = Reader::new(chunk.prefixed().ok()?, "change");
    let deps = body.uleb().ok()?;
    if deps != change.deps().len() as u64 {
        return None;
    }
    body.take(deps.checked_mul(32)?).ok()?;
    let actor = body.prefixed().ok()?;
    let seq = body.uleb().ok()?;
    let start_op = body.uleb().ok()?;
    let time = body.sleb().ok()?;
    body.prefixed().ok()?; // the message
    if actor != change.actor_id().to_bytes()
        || seq != change.seq()
        || start_op != change.start_op().get()
        || time != change.timestamp()
    {
        return None;
    }
    let others = body.uleb().ok()?;
    if others != change.other_actor_ids().len() as u64 {
        return None;
    }
    for other in change.other_actor_ids() {
        if body.prefixed().ok()? != other.to_bytes() {
            return None;
        }
    }
    let count = body.uleb().ok()?;
    let mut specs = Vec::new();
    for _ in 0..count {
        let spec = body.uleb_u32().ok()?;
        let len = body.uleb().ok()?;
        if spec & DEFLATE_BIT != 0 {
            return None;
        }
        specs.push((spec, len));
    }
    let mut columns = Columns::default();
    for (spec, len) in specs {
        let data = body.take(len).ok()?;
        match spec {
            OBJ_ACTOR => columns.obj_actor = data,
            OBJ_CTR => columns.obj_ctr = data,
            KEY_ACTOR => columns.key_actor = data,
            KEY_CTR => columns.key_ctr = data,
            KEY_STR => columns.key_str = data,
            INSERT => columns.insert = data,
            ACTION => columns.action = data,
            VAL_META => columns.val_meta = data,
            VAL_RAW => columns.val_raw = data,
            _ => {} // predecessors, marks and columns of later versions
        }
    }
    let actors: Vec<&ActorId> = std::iter::once(change.actor_id())
        .chain(change.other_actor_ids())
        .collect();
    columns.ops(change.len(), &actors)
}

#[derive(Default)]
struct Columns<'a> {
    obj_actor: &'a [u8],
    obj_ctr: &'a [u8],
    key_actor: &'a [u8],
    key_ctr: &'a [u8],
    key_str: &'a [u8],
    insert: &'a [u8],
    action: &'a [u8],
    val_meta: &'a [u8],
    val_raw: &'a [u8],
}

impl Columns<'_> {
    fn ops(&self, len: usize, actors: &[&ActorId]) -> Option<Vec<ChangeOp>> {
        let mut obj_actor = Rle::new(self.obj_actor, Reader::uleb);
        let mut obj_ctr = Rle::new(self.obj_ctr, Reader::uleb);
        let mut key_actor = Rle::new(self.key_actor, Reader::uleb);
        let mut key_ctr = Delta::new(self.key_ctr);
        let mut key_str = Rle::new(self.key_str, Reader::prefixed);
        let mut insert = Booleans::new(self.insert);
        let mut action = Rle::new(self.action, Reader::uleb);
        let mut val_meta = Rle::new(self.val_meta, Reader::uleb);
        let mut val_raw = Reader::new(self.val_raw, "change values");
        let actor = |index: u64| -> Option<ActorId> {
            Some((*actors.get(usize::try_from(index).ok()?)?).clone())
        };
        let mut ops = Vec::with_capacity(len);
        for _ in 0..len {
            let obj = match (obj_actor.next()?, obj_ctr.next()?) {
                (None, None) => None,
                (Some(a), Some(c)) => Some((c, actor(a)?)),
                _ => return None,
            };
            let key_actor = key_actor.next()?;
            let key_ctr = key_ctr.next()?;
            let key = match key_str.next()? {
                Some(k) => Some(std::str::from_utf8(k).ok()?.to_string()),
                None => {
                    // A list position: the head (counter 0, no actor) or an element.
                    match (key_actor, key_ctr) {
                        (None, Some(0)) => {}
                        (Some(a), Some(c)) if c > 0 => {
                            actor(a)?;
                        }
                        _ => return None,
                    }
                    None
                }
            };
            let insert = insert.next()?;
            let value = match val_meta.next()? {
                None => ScalarValue::Null,
                Some(meta) => value(meta, &mut val_raw)?,
            };
            let action = match action.next()? {
                Some(0) => OpType::Make(ObjType::Map),
                Some(1) => OpType::Put(value),
                Some(2) => OpType::Make(ObjType::List),
                Some(3) => OpType::Delete,
                Some(4) => OpType::Make(ObjType::Text),
                Some(5) => match value {
                    ScalarValue::Int(i) => OpType::Increment(i),
                    ScalarValue::Uint(u) => OpType::Increment(u as i64),
                    _ => return None,
                },
                Some(6) => OpType::Make(ObjType::Table),
                _ => return None, // marks, and actions of later versions
            };
            ops.push(ChangeOp {
                obj,
                key,
                insert,
                action,
            });
        }
        (val_raw.is_empty()).then_some(ops)
    }
}

/// One value: its metadata is its length in bytes << 4 | its type.
fn value(meta: u64, raw: &mut Reader<'_>) -> Option<ScalarValue> {
    let bytes = raw.take(meta >> 4).ok()?;
    let mut inner = Reader::new(bytes, "change value");
    let value = match meta & 0xf {
        0 => ScalarValue::Null,
        1 => ScalarValue::Boolean(false),
        2 => ScalarValue::Boolean(true),
        3 => ScalarValue::Uint(inner.uleb().ok()?),
        4 => ScalarValue::Int(inner.sleb().ok()?),
        5 => ScalarValue::F64(f64::from_le_bytes(bytes.try_into().ok()?)),
        6 => ScalarValue::Str(std::str::from_utf8(bytes).ok()?.into()),
        7 => ScalarValue::Bytes(bytes.to_vec()),
        8 => ScalarValue::counter(inner.sleb().ok()?),
        9 => ScalarValue::Timestamp(inner.sleb().ok()?),
        _ => return None, // types of later versions
    };
    match meta & 0xf {
        0..=2 => bytes.is_empty(),
        // A number takes its whole length.
        3 | 4 | 8 | 9 => inner.is_empty(),
        _ => true,
    }
    .then_some(value)
}

/// Reads one value of a column.
type ReadValue<'a, T> = fn(&mut Reader<'a>) -> Result<T, DecodeLimitError>;

/// A run-length encoded column: a signed count, then one value repeated
/// (count > 0), -count literal values (count < 0), or (0) a count of nulls.
/// A column shorter than the operations reads as nulls past its end.
struct Rle<'a, T> {
    data: Reader<'a>,
    read: ReadValue<'a, T>,
    run: Run<T>,
}

enum Run<T> {
    Done,
    Nulls(u64),
    Repeat(u64, T),
    Literal(u64),
}

impl<'a, T: Copy> Rle<'a, T> {
    fn new(data: &'a [u8], read: ReadValue<'a, T>) -> Self {
        Rle {
            data: Reader::new(data, "change column"),
            read,
            run: Run::Done,
        }
    }

    /// The next value (none: null), or none when the column is malformed.
    fn next(&mut self) -> Option<Option<T>> {
        if let Run::Done = self.run {
            if self.data.is_empty() {
                return Some(None);
            }
            self.run = match self.data.sleb().ok()? {
                0 => Run::Nulls(self.data.uleb().ok()?),
                n if n > 0 => Run::Repeat(n.unsigned_abs(), (self.read)(&mut self.data).ok()?),
                n => Run::Literal(n.unsigned_abs()),
            };
        }
        let value = match &mut self.run {
            // An empty run: not what Automerge writes.
            Run::Done | Run::Nulls(0) | Run::Repeat(0, _) | Run::Literal(0) => return None,
            Run::Nulls(left) => {
                *left -= 1;
                None
            }
            Run::Repeat(left, value) => {
                *left -= 1;
                Some(*value)
            }
            Run::Literal(left) => {
                *left -= 1;
                Some((self.read)(&mut self.data).ok()?)
            }
        };
        if let Run::Nulls(0) | Run::Repeat(0, _) | Run::Literal(0) = self.run {
            self.run = Run::Done;
        }
        Some(value)
    }
}

/// A delta column: run-length encoded differences from the value before
/// (starting at 0); a null leaves the running value as it was.
struct Delta<'a> {
    deltas: Rle<'a, i64>,
    at: i64,
}

impl<'a> Delta<'a> {
    fn new(data: &'a [u8]) -> Self {
        Delta {
            deltas: Rle::new(data, Reader::sleb),
            at: 0,
        }
    }

    fn next(&mut self) -> Option<Option<u64>> {
        match self.deltas.next()? {
            None => Some(None),
            Some(delta) => {
                self.at = self.at.checked_add(delta)?;
                Some(Some(u64::try_from(self.at).ok()?))
            }
        }
    }
}

/// A boolean column: counts of false, true, false… values in turn.
struct Booleans<'a> {
    data: Reader<'a>,
    value: bool,
    left: u64,
}

impl<'a> Booleans<'a> {
    fn new(data: &'a [u8]) -> Self {
        Booleans {
            data: Reader::new(data, "change column"),
            // The first count read is of false values.
            value: true,
            left: 0,
        }
    }

    fn next(&mut self) -> Option<bool> {
        while self.left == 0 {
            if self.data.is_empty() {
                return Some(false);
            }
            self.left = self.data.uleb().ok()?;
            self.value = !self.value;
        }
        self.left -= 1;
        Some(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT, ReadDoc};
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Step {
        Put(u8, ScalarValue),
        Nested(u8, ScalarValue),
        Insert(u8, ScalarValue),
        InsertMap(u8),
        DeleteAt(u8),
        Splice(u8, String),
        Increment(i64),
        DeleteKey(u8),
        Commit,
        Switch(u8),
    }

    fn scalar() -> impl Strategy<Value = ScalarValue> {
        prop_oneof![
            any::<String>().prop_map(|s| ScalarValue::Str(s.into())),
            any::<i64>().prop_map(ScalarValue::Int),
            any::<u64>().prop_map(ScalarValue::Uint),
            any::<f64>()
                .prop_filter("comparable", |f| !f.is_nan())
                .prop_map(ScalarValue::F64),
            any::<bool>().prop_map(ScalarValue::Boolean),
            Just(ScalarValue::Null),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(ScalarValue::Bytes),
            any::<i64>().prop_map(ScalarValue::Timestamp),
            any::<i64>().prop_map(ScalarValue::counter),
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..6u8, scalar()).prop_map(|(k, v)| Step::Put(k, v)),
            (0..6u8, scalar()).prop_map(|(k, v)| Step::Nested(k, v)),
            (0..8u8, scalar()).prop_map(|(i, v)| Step::Insert(i, v)),
            (0..8u8).prop_map(Step::InsertMap),
            (0..8u8).prop_map(Step::DeleteAt),
            (0..8u8, "[a-zé😀 ]{0,12}").prop_map(|(i, t)| Step::Splice(i, t)),
            (-1000..1000i64).prop_map(Step::Increment),
            (0..6u8).prop_map(Step::DeleteKey),
            Just(Step::Commit),
            (0..3u8).prop_map(Step::Switch),
        ]
    }

    /// Applies `steps` on three replicas that merge as they go, and returns
    /// one holding every change.
    fn history(steps: &[Step]) -> AutoCommit {
        let mut docs: Vec<AutoCommit> = (0..3u8)
            .map(|n| AutoCommit::new().with_actor(ActorId::from([n + 1; 32].as_slice())))
            .collect();
        let list = docs[0]
            .put_object(ROOT, "list", ObjType::List)
            .expect("list");
        let text = docs[0]
            .put_object(ROOT, "text", ObjType::Text)
            .expect("text");
        let map = docs[0].put_object(ROOT, "map", ObjType::Map).expect("map");
        docs[0]
            .put(ROOT, "count", ScalarValue::counter(0))
            .expect("counter");
        docs[0].commit();
        let first = docs[0].clone();
        for doc in docs.iter_mut().skip(1) {
            doc.merge(&mut first.clone()).expect("merge");
        }
        let mut at = 0;
        for step in steps {
            let doc = &mut docs[at];
            match step {
                Step::Put(k, v) => doc.put(ROOT, format!("k{k}"), v.clone()).map(|_| ()),
                Step::Nested(k, v) => doc.put(&map, format!("n{k}"), v.clone()).map(|_| ()),
                Step::Insert(i, v) => {
                    let i = usize::from(*i).min(doc.length(&list));
                    doc.insert(&list, i, v.clone()).map(|_| ())
                }
                Step::InsertMap(i) => {
                    let i = usize::from(*i).min(doc.length(&list));
                    doc.insert_object(&list, i, ObjType::Map)
                        .and_then(|m| doc.put(&m, "inner", "x"))
                }
                Step::DeleteAt(i) => match doc.length(&list) {
                    0 => Ok(()),
                    len => doc.delete(&list, usize::from(*i) % len),
                },
                Step::Splice(i, t) => {
                    let i = usize::from(*i).min(doc.length(&text));
                    let del = ((i % 3) as isize).min((doc.length(&text) - i) as isize);
                    doc.splice_text(&text, i, del, t)
                }
                Step::Increment(by) => doc.increment(ROOT, "count", *by),
                Step::DeleteKey(k) => doc.delete(ROOT, format!("k{k}")),
                Step::Commit => {
                    doc.commit();
                    Ok(())
                }
                Step::Switch(to) => {
                    doc.commit();
                    let mut from = doc.clone();
                    at = usize::from(*to);
                    docs[at].merge(&mut from).map(|_| ())
                }
            }
            .expect("step");
        }
        let mut all = docs.remove(0);
        for mut doc in docs {
            all.merge(&mut doc).expect("merge");
        }
        all
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn reading_the_columns_agrees_with_automerges_decoding(
            steps in proptest::collection::vec(step(), 0..60)
        ) {
            let mut doc = history(&steps);
            // As a receiver reads them: rebuilt from a loaded document.
            let mut loaded = AutoCommit::load(&doc.save()).expect("load");
            for change in loaded.get_changes(&[]) {
                let fast = read_columns(&change);
                prop_assert_eq!(fast, Some(read_decoded(&change)));
            }
        }
    }

    #[test]
    fn a_mark_falls_back_on_decoding() {
        let mut doc = AutoCommit::new();
        let text = doc.put_object(ROOT, "text", ObjType::Text).expect("text");
        doc.splice_text(&text, 0, 0, "hello").expect("splice");
        doc.mark(
            &text,
            automerge::marks::Mark::new("bold".into(), true, 0, 3),
            automerge::marks::ExpandMark::After,
        )
        .expect("mark");
        doc.commit();
        let change = doc.get_changes(&[]).pop().expect("a change");
        assert_eq!(read_columns(&change), None);
        assert_eq!(read(&change), read_decoded(&change));
        assert!(
            read(&change)
                .iter()
                .any(|op| matches!(op.action, OpType::MarkBegin(_)))
        );
    }
}
