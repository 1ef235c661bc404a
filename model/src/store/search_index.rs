//! The in-memory search index of each scope: loaded from the `search_rows`
//! projection on the first search in that scope and kept current after every
//! commit, so a keystroke touches memory only.
//!
//! Per scope it holds the distinct words of all rows once, in one buffer
//! (`word\nword\n…`), with each word's postings (the rows holding it, as
//! sorted slot numbers). A query word matches a row when it is a substring of
//! one of the row's words: one SIMD substring scan over the word buffer finds
//! every word containing it (a few hundred kilobytes, not the rows' text), and
//! their postings give the rows. The words of a query are intersected as
//! bitsets, narrowed to the agent's own rows (Active) with a per-owner bitset,
//! counted, and the requested page is taken in list order: by walking the
//! scope's order and stopping once the page is full when matches are many, by
//! sorting the few matches otherwise.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use memchr::memmem::Finder;
use redb::{Database, ReadableDatabase, ReadableTable};

use super::project::{SCOPE_ACTIVE, SCOPE_CONTACTS, SCOPE_FINALIZED, SCOPE_QUEUED, order_key};
use super::tables::{
    CONTACT_ORDER, CONTACTS, HISTORY_FACETS, INTERACTION_ORDER, INTERACTIONS, SEARCH_ROWS,
};
use super::{DocChange, StoreResult, decode};
use crate::doc::{DocId, DocKind};
use crate::projection::InteractionSummary;
use crate::types::Contact;

/// Where a row sits in its list: interactions by their `interaction_order`
/// key, contacts by lowercase name; ties by id.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum SortKey {
    Num(i64, i64),
    Name(Box<str>),
}

/// One query against one scope.
pub(crate) struct Query<'a> {
    /// Lowercase words; a row matches when it matches every one.
    pub words: &'a [String],
    /// Only rows of this owner (active interactions).
    pub owner: Option<&'a str>,
    /// `(campaign id, lowercase name)`: a word found in a campaign's name
    /// matches that campaign's rows.
    pub campaigns: &'a [(String, String)],
    /// History's filters.
    pub narrow: Narrow<'a>,
    /// Contacts merged into others, each with its survivor's id: a match on
    /// one counts as a match on its survivor, and they are never listed.
    pub absorbed: &'a [(String, String)],
    pub offset: usize,
    pub limit: usize,
}

/// Exact filters a query narrows to besides its words (History's).
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Narrow<'a> {
    /// A campaign id.
    pub campaign: Option<&'a str>,
    /// Lowercase, as `history_facets` keeps them.
    pub channel: Option<&'a str>,
    pub disposition: Option<&'a str>,
    pub tag: Option<&'a str>,
    /// Only rows whose list key's first part lies in `lo..=hi`.
    pub key_range: Option<(i64, i64)>,
}

/// A finalized row's facets (see `history_facets`); all empty elsewhere.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Facets<'a> {
    pub channel: &'a str,
    pub disposition: &'a str,
    /// Joined by `\n`.
    pub tags: &'a str,
}

/// The ids of one page of matches, in list order, and how many match in all.
#[derive(Debug, Default)]
pub(crate) struct Hits {
    pub ids: Vec<String>,
    pub total: usize,
}

/// What one loaded scope holds, for tests comparing an index kept current
/// with one loaded afresh: per row (by id) its list key, owner, campaign (with
/// History's channel, disposition and tags) and words, all read back from the structures queries use.
pub type ScopeSnapshot = Vec<(String, String, String, String, Vec<String>)>;

#[derive(Default)]
pub(crate) struct SearchIndex {
    scopes: Mutex<HashMap<u8, ScopeIndex>>,
}

impl SearchIndex {
    fn lock(&self) -> MutexGuard<'_, HashMap<u8, ScopeIndex>> {
        self.scopes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn search(&self, db: &Database, scope: u8, query: &Query<'_>) -> StoreResult<Hits> {
        let mut scopes = self.lock();
        let index = match scopes.entry(scope) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(ScopeIndex::load(db, scope)?)
            }
        };
        Ok(index.search(query))
    }

    /// Brings loaded scopes up to date with what `changes` committed.
    pub fn refresh(&self, db: &Database, changes: &[DocChange]) -> StoreResult<()> {
        let mut scopes = self.lock();
        if scopes.is_empty() {
            return Ok(());
        }
        let txn = db.begin_read()?;
        let texts = txn.open_table(SEARCH_ROWS)?;
        let summaries = txn.open_table(INTERACTIONS)?;
        let contacts = txn.open_table(CONTACTS)?;
        let facets = txn.open_table(HISTORY_FACETS)?;
        for change in changes {
            let id = match &change.doc_id {
                DocId::Interaction(id) => id.to_string(),
                DocId::Contact(id) => id.to_string(),
                _ => continue,
            };
            let id = id.as_str();
            let candidates: &[u8] = match change.kind {
                DocKind::Contact => &[SCOPE_CONTACTS],
                DocKind::Interaction => &[SCOPE_QUEUED, SCOPE_ACTIVE, SCOPE_FINALIZED],
                _ => continue,
            };
            // Rows of scopes no search has loaded are not read at all.
            if !candidates.iter().any(|scope| scopes.contains_key(scope)) {
                continue;
            }
            // The scope the row is in now, with its list key.
            let now: Option<(u8, SortKey)> = match change.kind {
                DocKind::Interaction => match summaries.get(id)? {
                    Some(v) => {
                        let s: InteractionSummary = decode("interactions", v.value())?;
                        let (scope, a, b) = order_key(&s);
                        Some((scope, SortKey::Num(a, b)))
                    }
                    None => None,
                },
                DocKind::Contact => match contacts.get(id)? {
                    Some(v) => {
                        let c: Contact = decode("contacts", v.value())?;
                        Some((SCOPE_CONTACTS, SortKey::Name(c.name.to_lowercase().into())))
                    }
                    None => None,
                },
                _ => continue,
            };
            for scope in candidates {
                let Some(index) = scopes.get_mut(scope) else {
                    continue;
                };
                let row = match &now {
                    Some((s, key)) if s == scope => texts.get((*scope, id))?.map(|v| (key, v)),
                    _ => None,
                };
                match row {
                    Some((key, v)) => {
                        let (owner, campaign, text) = v.value();
                        let found = match *scope {
                            SCOPE_FINALIZED => facets.get(id)?,
                            _ => None,
                        };
                        let f = found.as_ref().map(|f| f.value());
                        let f =
                            f.map_or_else(Facets::default, |(channel, disposition, tags)| Facets {
                                channel,
                                disposition,
                                tags,
                            });
                        index.upsert(id, key.clone(), owner, campaign, text, f);
                    }
                    None => index.remove(id),
                }
            }
        }
        Ok(())
    }

    /// Forgets everything (projections were rebuilt).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Every loaded scope's rows, by scope then id.
    pub fn snapshot(&self) -> Vec<(u8, ScopeSnapshot)> {
        let scopes = self.lock();
        let mut out: Vec<(u8, ScopeSnapshot)> = scopes
            .iter()
            .map(|(scope, index)| (*scope, index.snapshot()))
            .collect();
        out.sort_by_key(|(scope, _)| *scope);
        out
    }
}

/// A set of row slots.
#[derive(Clone, Default)]
struct Bits(Vec<u64>);

impl Bits {
    fn with_len(slots: usize) -> Bits {
        Bits(vec![0; slots.div_ceil(64)])
    }

    fn set(&mut self, slot: u32) {
        let (word, bit) = (slot as usize / 64, slot % 64);
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << bit;
    }

    fn clear(&mut self, slot: u32) {
        if let Some(w) = self.0.get_mut(slot as usize / 64) {
            *w &= !(1 << (slot % 64));
        }
    }

    fn contains(&self, slot: u32) -> bool {
        self.0
            .get(slot as usize / 64)
            .is_some_and(|w| w & (1 << (slot % 64)) != 0)
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    fn and(&mut self, other: &Bits) {
        for (n, w) in self.0.iter_mut().enumerate() {
            *w &= other.0.get(n).copied().unwrap_or(0);
        }
    }

    fn or(&mut self, other: &Bits) {
        if other.0.len() > self.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (w, o) in self.0.iter_mut().zip(&other.0) {
            *w |= o;
        }
    }

    fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(n, &w)| {
            let mut rest = w;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros();
                    rest &= rest - 1;
                    n as u32 * 64 + bit
                })
            })
        })
    }
}

/// How many scope words checking one candidate row's words is reckoned to
/// cost, when choosing between checking the candidates and scanning the words.
const ROW_CHECK_COST: usize = 64;

/// The distinct words of a scope and the rows holding each.
#[derive(Default)]
struct Words {
    /// Every word followed by `\n`; a word's id is its position in `starts`.
    buf: String,
    starts: Vec<u32>,
    ids: HashMap<Box<str>, u32>,
    /// Per word id, the slots of the rows holding it, ascending. Empty for
    /// words no row holds any more (still in `buf` until compaction).
    postings: Vec<Vec<u32>>,
    dead_bytes: usize,
}

impl Words {
    fn intern(&mut self, word: &str) -> u32 {
        if let Some(id) = self.ids.get(word) {
            return *id;
        }
        let id = self.starts.len() as u32;
        self.starts.push(self.buf.len() as u32);
        self.buf.push_str(word);
        self.buf.push('\n');
        self.ids.insert(word.into(), id);
        self.postings.push(Vec::new());
        id
    }

    fn word(&self, id: u32) -> &str {
        let start = self.starts[id as usize] as usize;
        let end = self
            .starts
            .get(id as usize + 1)
            .map_or(self.buf.len(), |s| *s as usize);
        &self.buf[start..end - 1]
    }

    fn add(&mut self, id: u32, slot: u32) {
        let list = &mut self.postings[id as usize];
        if let Err(at) = list.binary_search(&slot) {
            list.insert(at, slot);
        }
    }

    fn drop_slot(&mut self, id: u32, slot: u32) {
        let list = &mut self.postings[id as usize];
        if let Ok(at) = list.binary_search(&slot) {
            list.remove(at);
        }
        if list.is_empty() {
            let word: Box<str> = self.word(id).into();
            self.dead_bytes += word.len() + 1;
            self.ids.remove(&word);
        }
    }

    /// Calls `f` with the id of every word containing `needle`.
    fn containing(&self, needle: &str, mut f: impl FnMut(u32)) {
        let finder = Finder::new(needle.as_bytes());
        let bytes = self.buf.as_bytes();
        let mut at = 0;
        while let Some(found) = bytes.get(at..).and_then(|rest| finder.find(rest)) {
            let pos = at + found;
            let id = self.starts.partition_point(|s| *s as usize <= pos) - 1;
            f(id as u32);
            // On to the next word: a needle (no whitespace) never spans two.
            at = self.starts.get(id + 1).map_or(bytes.len(), |s| *s as usize);
        }
    }
}

struct Row {
    id: Arc<str>,
    key: SortKey,
    owner: Box<str>,
    campaign: Box<str>,
    channel: Box<str>,
    disposition: Box<str>,
    tags: Vec<Box<str>>,
    /// Word ids, ascending.
    words: Vec<u32>,
}

#[derive(Default)]
struct ScopeIndex {
    rows: Vec<Option<Row>>,
    free: Vec<u32>,
    slot_of: HashMap<Arc<str>, u32>,
    order: BTreeSet<(SortKey, Arc<str>, u32)>,
    words: Words,
    owners: HashMap<Box<str>, Bits>,
    campaigns: HashMap<Box<str>, Bits>,
    channels: HashMap<Box<str>, Bits>,
    dispositions: HashMap<Box<str>, Bits>,
    tags: HashMap<Box<str>, Bits>,
}

impl ScopeIndex {
    fn load(db: &Database, scope: u8) -> StoreResult<ScopeIndex> {
        let txn = db.begin_read()?;
        let mut keys: HashMap<String, SortKey> = HashMap::new();
        if scope == SCOPE_CONTACTS {
            for row in txn.open_table(CONTACT_ORDER)?.iter()? {
                let (k, _) = row?;
                let (name, id) = k.value();
                keys.insert(id.to_string(), SortKey::Name(name.into()));
            }
        } else {
            let order = txn.open_table(INTERACTION_ORDER)?;
            let range = order
                .range((scope, i64::MIN, i64::MIN, "")..(scope + 1, i64::MIN, i64::MIN, ""))?;
            for row in range {
                let (k, _) = row?;
                let (_, a, b, id) = k.value();
                keys.insert(id.to_string(), SortKey::Num(a, b));
            }
        }
        let mut index = ScopeIndex::default();
        let table = txn.open_table(SEARCH_ROWS)?;
        let facets = txn.open_table(HISTORY_FACETS)?;
        for row in table.range((scope, "")..(scope + 1, ""))? {
            let (k, v) = row?;
            let id = k.value().1;
            let (owner, campaign, text) = v.value();
            if let Some(key) = keys.remove(id) {
                let found = match scope {
                    SCOPE_FINALIZED => facets.get(id)?,
                    _ => None,
                };
                let f = found.as_ref().map(|f| f.value());
                let f = f.map_or_else(Facets::default, |(channel, disposition, tags)| Facets {
                    channel,
                    disposition,
                    tags,
                });
                index.upsert(id, key, owner, campaign, text, f);
            }
        }
        Ok(index)
    }

    fn upsert(
        &mut self,
        id: &str,
        key: SortKey,
        owner: &str,
        campaign: &str,
        text: &str,
        facets: Facets<'_>,
    ) {
        let mut words: Vec<u32> = text
            .split_whitespace()
            .map(|w| self.words.intern(w))
            .collect();
        words.sort_unstable();
        words.dedup();
        let slot = match self.slot_of.get(id) {
            Some(slot) => *slot,
            None => {
                let slot = self
                    .free
                    .pop()
                    .unwrap_or_else(|| u32::try_from(self.rows.len()).unwrap_or(u32::MAX));
                let id: Arc<str> = id.into();
                self.slot_of.insert(id.clone(), slot);
                let row = Row {
                    id,
                    key: key.clone(),
                    owner: "".into(),
                    campaign: "".into(),
                    channel: "".into(),
                    disposition: "".into(),
                    tags: Vec::new(),
                    words: Vec::new(),
                };
                if slot as usize == self.rows.len() {
                    self.rows.push(Some(row));
                } else {
                    self.rows[slot as usize] = Some(row);
                }
                let Some(row) = &self.rows[slot as usize] else {
                    return;
                };
                self.order.insert((key.clone(), row.id.clone(), slot));
                slot
            }
        };
        let Some(row) = self.rows[slot as usize].as_mut() else {
            return;
        };
        // Only what changed is touched: a new message adds a few words.
        let (mut old, mut new) = (row.words.iter().peekable(), words.iter().peekable());
        loop {
            match (old.peek(), new.peek()) {
                (Some(o), Some(n)) if o == n => {
                    old.next();
                    new.next();
                }
                (Some(o), Some(n)) if o < n => {
                    self.words.drop_slot(**o, slot);
                    old.next();
                }
                (Some(o), None) => {
                    self.words.drop_slot(**o, slot);
                    old.next();
                }
                (_, Some(n)) => {
                    self.words.add(**n, slot);
                    new.next();
                }
                (None, None) => break,
            }
        }
        row.words = words;
        if row.key != key {
            self.order.remove(&(row.key.clone(), row.id.clone(), slot));
            self.order.insert((key.clone(), row.id.clone(), slot));
            row.key = key;
        }
        regroup(&mut self.owners, &mut row.owner, owner, slot);
        regroup(&mut self.campaigns, &mut row.campaign, campaign, slot);
        regroup(&mut self.channels, &mut row.channel, facets.channel, slot);
        regroup(
            &mut self.dispositions,
            &mut row.disposition,
            facets.disposition,
            slot,
        );
        retag(&mut self.tags, &mut row.tags, facets.tags, slot);
        self.compact_if_sparse();
    }

    fn remove(&mut self, id: &str) {
        let Some(slot) = self.slot_of.remove(id) else {
            return;
        };
        let Some(mut row) = self.rows.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        for w in &row.words {
            self.words.drop_slot(*w, slot);
        }
        self.order.remove(&(row.key.clone(), row.id.clone(), slot));
        regroup(&mut self.owners, &mut row.owner, "", slot);
        regroup(&mut self.campaigns, &mut row.campaign, "", slot);
        regroup(&mut self.channels, &mut row.channel, "", slot);
        regroup(&mut self.dispositions, &mut row.disposition, "", slot);
        retag(&mut self.tags, &mut row.tags, "", slot);
        self.free.push(slot);
        self.compact_if_sparse();
    }

    /// Rewrites the word buffer without the words no row holds any more,
    /// once they take more room than the live ones.
    fn compact_if_sparse(&mut self) {
        if self.words.dead_bytes < 64 * 1024 || self.words.dead_bytes * 2 < self.words.buf.len() {
            return;
        }
        let old = std::mem::take(&mut self.words);
        let mut remap = vec![u32::MAX; old.starts.len()];
        for (id, postings) in old.postings.iter().enumerate() {
            if !postings.is_empty() {
                remap[id] = self.words.intern(old.word(id as u32));
            }
        }
        self.words.postings = old.postings.into_iter().filter(|p| !p.is_empty()).collect();
        for row in self.rows.iter_mut().flatten() {
            for w in row.words.iter_mut() {
                *w = remap[*w as usize];
            }
            row.words.sort_unstable();
        }
    }

    fn search(&self, query: &Query<'_>) -> Hits {
        let slots = self.rows.len();
        let mut matched: Option<Bits> = query
            .owner
            .map(|owner| self.owners.get(owner).cloned().unwrap_or_default());
        let narrow = query.narrow;
        let groups = [
            (narrow.campaign, &self.campaigns),
            (narrow.channel, &self.channels),
            (narrow.disposition, &self.dispositions),
            (narrow.tag, &self.tags),
        ];
        for (value, group) in groups {
            if let Some(value) = value {
                let rows = group.get(value).cloned().unwrap_or_default();
                narrow_to(&mut matched, &rows);
            }
        }
        if let Some((lo, hi)) = narrow.key_range {
            // The list order is keyed on the range's value: walk only the rows inside it.
            let mut rows = Bits::with_len(slots);
            let from = (SortKey::Num(lo, i64::MIN), Arc::<str>::from(""), 0);
            for (key, _, slot) in self.order.range(from..) {
                match key {
                    SortKey::Num(a, _) if *a <= hi => rows.set(*slot),
                    _ => break,
                }
            }
            narrow_to(&mut matched, &rows);
        }
        // Longer words first: they tend to match fewer rows, and an empty
        // match ends the search early.
        let mut words: Vec<&String> = query.words.iter().collect();
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        for word in words {
            let campaigns: Vec<&str> = query
                .campaigns
                .iter()
                .filter(|(_, name)| name.contains(word.as_str()))
                .map(|(id, _)| id.as_str())
                .collect();
            if let Some(m) = &mut matched {
                let candidates = m.count();
                if candidates == 0 {
                    break;
                }
                // Few rows left: check their own words rather than scanning
                // every word of the scope (a short word like "9" is in
                // thousands of them).
                if candidates.saturating_mul(ROW_CHECK_COST) < self.words.starts.len() {
                    let finder = Finder::new(word.as_bytes());
                    for slot in m.slots().collect::<Vec<_>>() {
                        let keep = self.rows[slot as usize].as_ref().is_some_and(|row| {
                            campaigns.contains(&&*row.campaign)
                                || row
                                    .words
                                    .iter()
                                    .any(|w| finder.find(self.words.word(*w).as_bytes()).is_some())
                        });
                        if !keep {
                            m.clear(slot);
                        }
                    }
                    continue;
                }
            }
            let mut hits = Bits::with_len(slots);
            self.words.containing(word, |id| {
                for slot in &self.words.postings[id as usize] {
                    hits.set(*slot);
                }
            });
            for campaign in &campaigns {
                if let Some(rows) = self.campaigns.get(*campaign) {
                    hits.or(rows);
                }
            }
            match &mut matched {
                Some(m) => m.and(&hits),
                None => matched = Some(hits),
            }
        }
        if !query.absorbed.is_empty() {
            let m = matched.get_or_insert_with(|| {
                let mut all = Bits::with_len(slots);
                for slot in self.slot_of.values() {
                    all.set(*slot);
                }
                all
            });
            let mut found_survivors = Vec::new();
            for (absorbed, survivor) in query.absorbed {
                if let Some(slot) = self.slot_of.get(absorbed.as_str()) {
                    if m.contains(*slot) {
                        found_survivors.push(survivor);
                    }
                    m.clear(*slot);
                }
            }
            for survivor in found_survivors {
                if let Some(slot) = self.slot_of.get(survivor.as_str()) {
                    m.set(*slot);
                }
            }
        }
        let total = match &matched {
            Some(m) => m.count(),
            None => self.slot_of.len(),
        };
        let want = query.offset.saturating_add(query.limit).min(total);
        let ids = if want == 0 {
            Vec::new()
        } else if matched
            .as_ref()
            .is_none_or(|_| want.saturating_mul(slots) <= total.saturating_mul(total) * 4)
        {
            // Many matches: walk the list in order and stop once the page is full.
            self.order
                .iter()
                .filter(|(_, _, slot)| matched.as_ref().is_none_or(|m| m.contains(*slot)))
                .skip(query.offset)
                .take(query.limit)
                .map(|(_, id, _)| id.to_string())
                .collect()
        } else {
            // Few matches: sort them.
            let mut found: Vec<&Row> = matched
                .iter()
                .flat_map(Bits::slots)
                .filter_map(|slot| self.rows.get(slot as usize).and_then(Option::as_ref))
                .collect();
            let by_order = |a: &&Row, b: &&Row| (&a.key, &a.id).cmp(&(&b.key, &b.id));
            if want < found.len() {
                found.select_nth_unstable_by(want, by_order);
                found.truncate(want);
            }
            found.sort_unstable_by(by_order);
            found
                .into_iter()
                .skip(query.offset)
                .map(|r| r.id.to_string())
                .collect()
        };
        Hits { ids, total }
    }

    fn snapshot(&self) -> ScopeSnapshot {
        let mut words: HashMap<u32, Vec<String>> = HashMap::new();
        for (id, postings) in self.words.postings.iter().enumerate() {
            for slot in postings {
                words
                    .entry(*slot)
                    .or_default()
                    .push(self.words.word(id as u32).to_string());
            }
        }
        let group_of = |groups: &HashMap<Box<str>, Bits>, slot: u32| {
            let mut names: Vec<&str> = groups
                .iter()
                .filter(|(_, bits)| bits.contains(slot))
                .map(|(name, _)| &**name)
                .collect();
            names.sort_unstable();
            names.join(",")
        };
        let mut out: ScopeSnapshot = self
            .order
            .iter()
            .map(|(key, id, slot)| {
                let mut w = words.remove(slot).unwrap_or_default();
                w.sort_unstable();
                (
                    id.to_string(),
                    format!("{key:?}"),
                    group_of(&self.owners, *slot),
                    // The campaign and History's facets, as the groups hold them.
                    [
                        &self.campaigns,
                        &self.channels,
                        &self.dispositions,
                        &self.tags,
                    ]
                    .map(|groups| group_of(groups, *slot))
                    .join("|"),
                    w,
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Keeps only the rows of `rows` (all of them when nothing narrowed yet).
fn narrow_to(matched: &mut Option<Bits>, rows: &Bits) {
    match matched {
        Some(m) => m.and(rows),
        None => *matched = Some(rows.clone()),
    }
}

/// Moves `slot` from the groups of `*current` to those of `next`, a list of
/// names joined by `\n` ("" is none).
fn retag(groups: &mut HashMap<Box<str>, Bits>, current: &mut Vec<Box<str>>, next: &str, slot: u32) {
    let mut wanted: Vec<Box<str>> = next
        .split('\n')
        .filter(|t| !t.is_empty())
        .map(Box::from)
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    if *current == wanted {
        return;
    }
    for name in current.iter() {
        if let Some(bits) = groups.get_mut(name) {
            bits.clear(slot);
            if bits.is_empty() {
                groups.remove(name);
            }
        }
    }
    for name in &wanted {
        groups.entry(name.clone()).or_default().set(slot);
    }
    *current = wanted;
}

/// Moves `slot` from the group named `*current` to the one named `next`
/// ("" is no group).
fn regroup(groups: &mut HashMap<Box<str>, Bits>, current: &mut Box<str>, next: &str, slot: u32) {
    if **current == *next {
        return;
    }
    if !current.is_empty()
        && let Some(bits) = groups.get_mut(&**current)
    {
        bits.clear(slot);
        if bits.is_empty() {
            groups.remove(&**current);
        }
    }
    if !next.is_empty() {
        groups.entry(next.into()).or_default().set(slot);
    }
    *current = next.into();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(rows: &[(&str, i64, &str, &str)]) -> ScopeIndex {
        let mut index = ScopeIndex::default();
        for (id, at, owner, text) in rows {
            index.upsert(
                id,
                SortKey::Num(-at, 0),
                owner,
                "c1",
                text,
                Facets::default(),
            );
        }
        index
    }

    fn find(index: &ScopeIndex, q: &str, owner: Option<&str>, offset: usize, limit: usize) -> Hits {
        let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
        let campaigns = [("c1".to_string(), "billing desk".to_string())];
        index.search(&Query {
            words: &words,
            owner,
            campaigns: &campaigns,
            narrow: Narrow::default(),
            absorbed: &[],
            offset,
            limit,
        })
    }

    #[test]
    fn a_match_on_an_absorbed_row_lists_its_survivor_once() {
        let index = index(&[
            ("a", 1, "", "marta 600100"),
            ("b", 2, "", "marta ruiz 600200"),
            ("c", 3, "", "bruno 600300"),
        ]);
        let words = |q: &str| q.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let absorbed = [("a".to_string(), "c".to_string())];
        let search = |q: &str, offset| {
            index.search(&Query {
                words: &words(q),
                owner: None,
                campaigns: &[],
                narrow: Narrow::default(),
                absorbed: &absorbed,
                offset,
                limit: 10,
            })
        };
        // "600100" is only the absorbed row's: its survivor answers.
        let hits = search("600100", 0);
        assert_eq!((hits.ids, hits.total), (vec!["c".to_string()], 1));
        // Both matches lead to one survivor and the other row: two rows.
        let hits = search("600", 0);
        assert_eq!(hits.ids, ["c", "b"]);
        assert_eq!(hits.total, 2);
        assert_eq!(search("marta", 0).ids, ["c", "b"]);
        assert_eq!(search("600", 1).ids, ["b"]);
    }

    #[test]
    fn words_match_as_substrings_in_list_order() {
        let index = index(&[
            ("a", 1, "ana", "marta refund 600123"),
            ("b", 3, "bob", "bruno router refunded"),
            ("c", 2, "ana", "refund marta"),
        ]);
        let hits = find(&index, "refun", None, 0, 10);
        assert_eq!(hits.ids, ["b", "c", "a"]);
        assert_eq!(hits.total, 3);
        assert_eq!(find(&index, "arta 0012", None, 0, 10).ids, ["a"]);
        assert_eq!(find(&index, "refun", Some("ana"), 0, 10).ids, ["c", "a"]);
        assert_eq!(find(&index, "refun", None, 1, 1).ids, ["c"]);
        assert_eq!(find(&index, "billing", None, 0, 10).total, 3);
        assert_eq!(find(&index, "zzz", None, 0, 10).total, 0);
    }

    #[test]
    fn few_candidates_are_checked_row_by_row_with_the_same_answer() {
        let rows: Vec<(String, i64, &str, String)> = (0..2_000)
            .map(|n| (format!("r{n}"), n, "", format!("u{n} common")))
            .collect();
        let rows: Vec<(&str, i64, &str, &str)> = rows
            .iter()
            .map(|(id, at, owner, text)| (id.as_str(), *at, *owner, text.as_str()))
            .collect();
        let index = index(&rows);
        assert_eq!(find(&index, "u1999 9", None, 0, 10).ids, ["r1999"]);
        assert_eq!(find(&index, "u1999 8", None, 0, 10).total, 0);
        assert_eq!(find(&index, "u1999 billing", None, 0, 10).ids, ["r1999"]);
        assert_eq!(find(&index, "u199 mmo", None, 0, 10).total, 11);
    }

    #[test]
    fn updates_and_removals_leave_no_stale_words() {
        let mut index = index(&[("a", 1, "ana", "alpha beta"), ("b", 2, "ana", "beta")]);
        index.upsert(
            "a",
            SortKey::Num(-5, 0),
            "bob",
            "c2",
            "gamma beta",
            Facets::default(),
        );
        assert_eq!(find(&index, "alpha", None, 0, 10).total, 0);
        assert_eq!(find(&index, "beta", None, 0, 10).ids, ["a", "b"]);
        assert_eq!(find(&index, "beta", Some("ana"), 0, 10).ids, ["b"]);
        assert_eq!(find(&index, "billing", None, 0, 10).ids, ["b"]);
        index.remove("b");
        assert_eq!(find(&index, "beta", None, 0, 10).ids, ["a"]);
        assert!(!index.owners.contains_key("ana"));
    }

    #[test]
    fn compaction_keeps_every_live_word() {
        let mut index = ScopeIndex::default();
        for n in 0..20_000 {
            index.upsert(
                &format!("r{n}"),
                SortKey::Num(n, 0),
                "",
                "",
                &format!("w{n} keep"),
                Facets::default(),
            );
        }
        for n in 0..19_000 {
            index.upsert(
                &format!("r{n}"),
                SortKey::Num(n, 0),
                "",
                "",
                "keep",
                Facets::default(),
            );
        }
        assert!(index.words.dead_bytes < 64 * 1024);
        assert_eq!(find(&index, "w19999", None, 0, 10).ids, ["r19999"]);
        assert_eq!(find(&index, "w18", None, 0, 10).total, 0);
        assert_eq!(find(&index, "w1", None, 0, 10).total, 1_000);
        assert_eq!(find(&index, "keep", None, 0, 5).total, 20_000);
    }
}
