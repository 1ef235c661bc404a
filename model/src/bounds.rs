//! Bounded decoding of Automerge bytes from peers and the disk.
//!
//! Automerge inflates a document's DEFLATE columns (and compressed change
//! chunks) into memory with no bound, so a few megabytes of deflated zeros
//! make it allocate gigabytes and the process abort (an allocation failure
//! is not a panic `catch_unwind` could stop). Before any such bytes reach
//! Automerge, this module walks the binary format's chunk and column headers
//! (automerge 0.12, `storage/chunk.rs`, `document.rs`, `bundle/storage.rs`,
//! `sync.rs`) and inflates every compressed part into a counting sink that
//! stops at the limit. It allocates nothing in proportion to what it inflates.
//!
//! Format reminders (all integers unsigned LEB128 unless said):
//! - chunk: magic `85 6f 4a 83`, checksum (4 bytes), type (1 byte: 0 document,
//!   1 change, 2 compressed change, 3 bundle), data length, data;
//! - document data: actors (count, then length-prefixed ids), heads (count ×
//!   32 bytes), change columns, op columns (each: count, then spec (u32) and
//!   length per column), change column data, op column data, head indices;
//! - bundle data: deps (count × 32), actors, change columns and their data,
//!   op columns and their data;
//! - a column is DEFLATE-compressed when bit 3 of its spec is set; a change
//!   chunk may not have compressed columns (Automerge refuses them), a
//!   compressed change chunk's whole data is one DEFLATE stream;
//! - sync message: type byte (0x42, 0x43), heads, need (count × 32 each),
//!   haves (count × (last-sync heads, length-prefixed Bloom filter)), changes
//!   (count × length-prefixed chunk bytes), optional flags.

use std::io::Read;

/// The most a byte string may inflate to, in total.
pub const MAX_INFLATED: u64 = 64 * 1024 * 1024;
/// How much larger than its compressed bytes a byte string may inflate…
pub const MAX_RATIO: u64 = 256;
/// …above this floor (small documents of repetitive text compress far better
/// than 256:1 and are harmless).
pub const RATIO_FLOOR: u64 = 1024 * 1024;
/// The most one batch from a peer (its sync messages or whole documents
/// applied in one transaction, all held in memory until then) may inflate to.
pub const MAX_BATCH_INFLATED: u64 = 256 * 1024 * 1024;
/// The most probes a peer's Bloom filter may ask for. Automerge uses 7 and
/// reserves a vector of this many entries for every hash it tests, so a
/// filter declaring 4 billion would abort the process.
pub const MAX_BLOOM_PROBES: u32 = 64;
/// The most bits per entry a peer's Bloom filter may declare (Automerge uses 10).
pub const MAX_BLOOM_BITS_PER_ENTRY: u32 = 64;
/// The longest reason a take-back (a return to the queue, a pull-back, a
/// hand-over) may carry, in characters: a line or two for the agent who
/// loses the interaction, not a second conversation. The ops refuse a
/// longer one and every node refuses it in a peer's change (`rules.rs`).
pub const MAX_REASON_CHARS: usize = 500;

/// The most status changes an agent's document keeps (its writer drops the
/// oldest past it; a change that leaves more is refused on receive). A
/// month of an agent's breaks and returns fits, for reports.
pub const MAX_STATUS_LOG: usize = 1000;
/// The longest tag, in characters (an interaction's or a contact's): a
/// label, as long as any one-line field the forms take. The ops refuse a
/// longer one and every node refuses it in a peer's change (`rules.rs`).
pub const MAX_TAG_CHARS: usize = crate::validate::MAX_FIELD_CHARS;
/// The most tags one interaction carries: the ops refuse one more. A row
/// shows a few of them and a count of the rest.
pub const MAX_TAGS_PER_INTERACTION: usize = 32;
/// The most tags `ListTags` answers with (most used first): completion
/// needs the common ones, and the reply stays small however many a team
/// has made.
pub const MAX_TAGS_LISTED: usize = 1000;
/// The longest note a snooze or callback carries, in characters: what to
/// say when calling back, not a conversation. The ops refuse a longer one
/// and every node refuses it in a peer's change (`rules.rs`).
pub const MAX_SNOOZE_NOTE_CHARS: usize = 500;
/// How far ahead a snooze may run: a quarter of a year. Work set aside
/// longer than that belongs in a new interaction, not a hidden one.
pub const MAX_SNOOZE_MS: i64 = 92 * 24 * 60 * 60 * 1000;
/// The longest chain of merged contacts (A merged into B merged into C…)
/// a merge may make: `MergeContacts` refuses one that would be longer, so a
/// contact resolves to its survivor in a few steps. Concurrent merges on
/// two sides of a partition can still make a longer one; reads resolve any
/// chain (`merge::Merges`), this only bounds what one node writes.
pub const MAX_MERGE_CHAIN: usize = 8;
/// The most contacts merged into one survivor (through any chain):
/// `MergeContacts` refuses one more. A profile shows at most this many of
/// them (by id) whatever concurrent merges made, so a survivor's profile
/// stays a bounded read.
pub const MAX_MERGED_CONTACTS: usize = 32;
/// The most distinct `@` words of one note or chat message the mention
/// index keeps rows for: a text of hundreds of `@`s (at most 20,000
/// characters each) costs a few rows, not thousands, on every node.
pub const MAX_MENTIONS_PER_TEXT: usize = 16;
/// How many characters of a mentioning text the index keeps (what the
/// Mentions view and `meshdesk mentions` show; the whole text is one click away).
pub const MENTION_TEXT_CHARS: usize = 500;
/// How many characters after each `@` the mention index keeps to match
/// names against: agent names longer than this cannot be mentioned.
pub const MENTION_TAIL_CHARS: usize = 100;
/// The most files one message carries (write rule: an `attachments` list is
/// made with its message's first change and holds at most this many).
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;
/// The largest file size a message may declare (write rule). Each node's
/// own limit (`files.json`, default 20 MiB) is at most this; it is fixed so
/// that every node judges a change alike.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024 * 1024;
/// The longest file name a message records (write rule).
pub const MAX_FILE_NAME_CHARS: usize = 255;
/// The longest media type a message records (write rule).
pub const MAX_MIME_CHARS: usize = 127;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const DEFLATE_BIT: u64 = 0b1000;

/// Why bytes were refused before Automerge saw them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeLimitError {
    #[error(
        "compressed data would inflate past {limit} bytes (from {compressed} bytes): refused as a decompression bomb"
    )]
    Inflation { compressed: u64, limit: u64 },
    #[error(
        "a batch of documents would inflate past {limit} bytes: refused as a decompression bomb"
    )]
    Batch { limit: u64 },
    #[error(
        "a Bloom filter declares {probes} probes and {bits_per_entry} bits per entry (at most {MAX_BLOOM_PROBES} and {MAX_BLOOM_BITS_PER_ENTRY})"
    )]
    Bloom { probes: u32, bits_per_entry: u32 },
    #[error("a Bloom filter declares entries but holds no bits")]
    EmptyBloom,
    #[error("corrupt DEFLATE data")]
    Deflate,
    #[error("malformed {0}")]
    Malformed(&'static str),
}

type Result<T> = std::result::Result<T, DecodeLimitError>;

/// The inflation budget of one byte string.
fn budget_for(len: usize) -> u64 {
    (len as u64)
        .saturating_mul(MAX_RATIO)
        .clamp(RATIO_FLOOR, MAX_INFLATED)
}

/// Checks a stored or received document (a sequence of chunks, as
/// `Automerge::load` and `load_incremental` take). Returns how many bytes
/// its compressed parts inflate to.
pub fn check_document(bytes: &[u8]) -> Result<u64> {
    let mut budget = Budget::new(bytes.len());
    check_chunks(bytes, &mut budget)?;
    Ok(budget.used)
}

/// Adds what one byte string of a batch inflates to, refusing the batch past
/// [`MAX_BATCH_INFLATED`].
pub fn add_to_batch(total: &mut u64, inflated: u64) -> Result<()> {
    *total = total.saturating_add(inflated);
    if *total > MAX_BATCH_INFLATED {
        return Err(DecodeLimitError::Batch {
            limit: MAX_BATCH_INFLATED,
        });
    }
    Ok(())
}

/// Checks an encoded Automerge sync message (its Bloom filters and the
/// chunks it carries). Returns how many bytes its compressed parts inflate to.
pub fn check_sync_message(bytes: &[u8]) -> Result<u64> {
    let mut budget = Budget::new(bytes.len());
    let mut r = Reader::new(bytes, "sync message");
    match r.byte()? {
        0x42 | 0x43 => {}
        _ => return Err(DecodeLimitError::Malformed("sync message")),
    }
    r.hashes()?; // heads
    r.hashes()?; // need
    let haves = r.uleb()?;
    for _ in 0..haves {
        r.hashes()?;
        check_bloom(r.prefixed()?)?;
    }
    let changes = r.uleb()?;
    for _ in 0..changes {
        check_chunks(r.prefixed()?, &mut budget)?;
    }
    // The rest is the flags, which Automerge reads as plain bytes.
    Ok(budget.used)
}

struct Budget {
    input: u64,
    limit: u64,
    used: u64,
}

impl Budget {
    fn new(len: usize) -> Self {
        Budget {
            input: len as u64,
            limit: budget_for(len),
            used: 0,
        }
    }

    /// Inflates one DEFLATE stream into a counting sink, stopping past the limit.
    fn inflate(&mut self, compressed: &[u8]) -> Result<()> {
        let left = self.limit.saturating_sub(self.used);
        // One byte past what is left tells "at the limit" from "over it".
        let mut decoder = flate2::bufread::DeflateDecoder::new(compressed).take(left + 1);
        let mut scratch = [0u8; 16 * 1024];
        let mut inflated = 0u64;
        loop {
            match decoder.read(&mut scratch) {
                Ok(0) => break,
                Ok(n) => inflated += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(DecodeLimitError::Deflate),
            }
        }
        if inflated > left {
            return Err(DecodeLimitError::Inflation {
                compressed: self.input,
                limit: self.limit,
            });
        }
        self.used += inflated;
        Ok(())
    }
}

fn check_bloom(bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut r = Reader::new(bytes, "Bloom filter");
    let entries = r.uleb_u32()?;
    let bits_per_entry = r.uleb_u32()?;
    let probes = r.uleb_u32()?;
    if probes > MAX_BLOOM_PROBES || bits_per_entry > MAX_BLOOM_BITS_PER_ENTRY {
        return Err(DecodeLimitError::Bloom {
            probes,
            bits_per_entry,
        });
    }
    // Automerge takes its probes modulo the bit count: none is a division by zero.
    if entries > 0 && r.rest().is_empty() {
        return Err(DecodeLimitError::EmptyBloom);
    }
    Ok(())
}

fn check_chunks(bytes: &[u8], budget: &mut Budget) -> Result<()> {
    let mut r = Reader::new(bytes, "chunk");
    while !r.rest().is_empty() {
        if r.take(4)? != MAGIC {
            return Err(DecodeLimitError::Malformed("chunk header"));
        }
        r.take(4)?; // checksum
        let kind = r.byte()?;
        let data = r.prefixed()?;
        match kind {
            0 => check_document_chunk(data, budget)?,
            // Automerge refuses a change chunk with compressed columns.
            1 => {}
            2 => budget.inflate(data)?,
            3 => check_bundle_chunk(data, budget)?,
            _ => return Err(DecodeLimitError::Malformed("chunk type")),
        }
    }
    Ok(())
}

fn check_document_chunk(data: &[u8], budget: &mut Budget) -> Result<()> {
    let mut r = Reader::new(data, "document chunk");
    r.actors()?;
    r.hashes()?; // heads
    let change_cols = r.columns()?;
    let op_cols = r.columns()?;
    r.column_data(&change_cols, budget)?;
    r.column_data(&op_cols, budget)?;
    Ok(())
}

fn check_bundle_chunk(data: &[u8], budget: &mut Budget) -> Result<()> {
    let mut r = Reader::new(data, "bundle chunk");
    r.hashes()?; // deps
    r.actors()?;
    let change_cols = r.columns()?;
    r.column_data(&change_cols, budget)?;
    let op_cols = r.columns()?;
    r.column_data(&op_cols, budget)?;
    Ok(())
}

/// A cursor over untrusted bytes; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Reader { bytes, what }
    }

    fn malformed(&self) -> DecodeLimitError {
        DecodeLimitError::Malformed(self.what)
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    pub(crate) fn byte(&mut self) -> Result<u8> {
        let (&first, rest) = self.bytes.split_first().ok_or_else(|| self.malformed())?;
        self.bytes = rest;
        Ok(first)
    }

    pub(crate) fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let n = usize::try_from(n).map_err(|_| self.malformed())?;
        if n > self.bytes.len() {
            return Err(self.malformed());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub(crate) fn uleb(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let part = u64::from(b & 0x7f);
            if shift == 63 && part > 1 {
                return Err(self.malformed());
            }
            value |= part << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.malformed())
    }

    /// A signed LEB128 number.
    pub(crate) fn sleb(&mut self) -> Result<i64> {
        let mut value = 0i64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= i64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if shift < 57 && b & 0x40 != 0 {
                    value |= -1i64 << (shift + 7);
                }
                return Ok(value);
            }
        }
        Err(self.malformed())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn uleb_u32(&mut self) -> Result<u32> {
        u32::try_from(self.uleb()?).map_err(|_| self.malformed())
    }

    pub(crate) fn prefixed(&mut self) -> Result<&'a [u8]> {
        let len = self.uleb()?;
        self.take(len)
    }

    /// A count of change hashes, then the hashes.
    fn hashes(&mut self) -> Result<()> {
        let count = self.uleb()?;
        self.take(count.checked_mul(32).ok_or_else(|| self.malformed())?)?;
        Ok(())
    }

    /// A count of actor ids, then each length-prefixed.
    fn actors(&mut self) -> Result<()> {
        let count = self.uleb()?;
        for _ in 0..count {
            self.prefixed()?;
        }
        Ok(())
    }

    /// Column metadata: (whether deflated, data length) per column.
    fn columns(&mut self) -> Result<Vec<(bool, u64)>> {
        let count = self.uleb()?;
        // Each column takes at least two bytes of metadata.
        if count > (self.bytes.len() / 2) as u64 {
            return Err(self.malformed());
        }
        let mut out = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let spec = self.uleb_u32()?;
            let len = self.uleb()?;
            out.push((u64::from(spec) & DEFLATE_BIT != 0, len));
        }
        Ok(out)
    }

    fn column_data(&mut self, columns: &[(bool, u64)], budget: &mut Budget) -> Result<()> {
        for &(deflated, len) in columns {
            let data = self.take(len)?;
            if deflated {
                budget.inflate(data)?;
            }
        }
        Ok(())
    }
}

/// Hostile inputs for tests (here and in other crates' tests).
#[doc(hidden)]
pub mod testing {
    /// A raw DEFLATE stream that inflates to `inflated` zero bytes (rounded
    /// up to 258), made by hand with fixed Huffman codes: a literal zero,
    /// then back-references of 258 bytes at distance 1 (13 bits each, about
    /// 160:1), so a bomb of gigabytes is built in milliseconds.
    pub fn deflated_zeros(inflated: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity((inflated / 158) as usize + 16);
        let (mut acc, mut bits) = (0u64, 0u32);
        let mut put = |value: u64, n: u32, out: &mut Vec<u8>| {
            acc |= value << bits;
            bits += n;
            while bits >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                bits -= 8;
            }
        };
        // Huffman codes go most significant bit first.
        let rev = |code: u64, n: u32| (0..n).fold(0, |r, i| r | (((code >> i) & 1) << (n - 1 - i)));
        put(1, 1, &mut out); // BFINAL
        put(1, 2, &mut out); // fixed Huffman codes
        put(rev(0x30, 8), 8, &mut out); // literal 0
        let matches = inflated.saturating_sub(1).div_ceil(258);
        let length_258 = rev(0xc5, 8);
        for _ in 0..matches {
            put(length_258, 8, &mut out);
            put(0, 5, &mut out); // distance 1
        }
        put(0, 7, &mut out); // end of block
        put(0, 7, &mut out); // flush the last bits
        out
    }

    /// A compressed change chunk (type 2) whose data is `deflated`.
    pub fn compressed_change_chunk(deflated: &[u8]) -> Vec<u8> {
        let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
        uleb(&mut out, deflated.len() as u64);
        out.extend(deflated);
        out
    }

    /// A document chunk (type 0) with no actors, heads or changes, and one
    /// DEFLATE-compressed op column whose data is `deflated`.
    pub fn document_chunk_with_column(deflated: &[u8]) -> Vec<u8> {
        let mut data = vec![0, 0, 0, 1]; // no actors, heads, change columns; one op column
        uleb(&mut data, (1 << 4) | super::DEFLATE_BIT | 2);
        uleb(&mut data, deflated.len() as u64);
        data.extend(deflated);
        let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 0];
        uleb(&mut out, data.len() as u64);
        out.extend(data);
        out
    }

    /// An Automerge sync message (no heads, needs or haves) carrying `chunk`.
    pub fn sync_message_with(chunk: &[u8]) -> Vec<u8> {
        let mut out = vec![0x42, 0, 0, 0, 1];
        uleb(&mut out, chunk.len() as u64);
        out.extend(chunk);
        out
    }

    pub fn uleb(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::testing::uleb;

    use automerge::{AutoCommit, ReadDoc, transaction::Transactable};

    use super::*;

    /// `n` zero bytes deflated, without holding them.
    pub(crate) fn deflated_zeros(n: u64) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let block = [0u8; 64 * 1024];
        let mut left = n;
        while left > 0 {
            let step = left.min(block.len() as u64) as usize;
            let _ = e.write_all(&block[..step]);
            left -= step as u64;
        }
        e.finish().unwrap_or_default()
    }

    fn chunk(kind: u8, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend([0, 0, 0, 0, kind]);
        uleb(&mut out, data.len() as u64);
        out.extend(data);
        out
    }

    /// A document chunk whose one op column is `zeros` zero bytes deflated.
    fn document_with_deflated_column(zeros: u64) -> Vec<u8> {
        document_with_column(&deflated_zeros(zeros))
    }

    fn document_with_column(deflated: &[u8]) -> Vec<u8> {
        testing::document_chunk_with_column(deflated)
    }

    fn big_doc() -> AutoCommit {
        let mut doc = AutoCommit::new();
        let list = doc
            .put_object(automerge::ROOT, "messages", automerge::ObjType::List)
            .unwrap_or(automerge::ROOT);
        for i in 0..2000 {
            let _ = doc.insert(&list, i, format!("message number {i} with some text"));
        }
        doc
    }

    #[test]
    fn real_documents_and_sync_messages_pass_and_their_inflation_is_counted() {
        let mut doc = big_doc();
        let saved = doc.save();
        let inflated = check_document(&saved).expect("a real document");
        assert!(
            inflated > saved.len() as u64,
            "{inflated} vs {}",
            saved.len()
        );
        let loaded = AutoCommit::load(&saved).expect("load");
        assert_eq!(loaded.length(automerge::ROOT), 1);
        // Snapshot plus an incremental chunk, as the store keeps them.
        let heads = doc.get_heads();
        let _ = doc.put(automerge::ROOT, "x", 1);
        let mut stored = saved.clone();
        stored.extend(doc.save_after(&heads));
        check_document(&stored).expect("snapshot and chunk");
        // A sync message carrying the whole document.
        let mut state = automerge::sync::State::new();
        let mut other = automerge::sync::State::new();
        let mut empty = AutoCommit::new();
        use automerge::sync::SyncDoc;
        let first = empty.sync().generate_sync_message(&mut other);
        if let Some(m) = first {
            check_sync_message(&m.clone().encode()).expect("opening message");
            doc.sync()
                .receive_sync_message(&mut state, m)
                .expect("receive");
        }
        let reply = doc
            .sync()
            .generate_sync_message(&mut state)
            .expect("a reply");
        check_sync_message(&reply.encode()).expect("reply with the document");
    }

    #[test]
    fn a_deflated_column_over_the_limit_is_refused_before_automerge_sees_it() {
        let bomb = document_with_deflated_column(MAX_INFLATED + 1);
        assert!(bomb.len() < 128 * 1024, "{}", bomb.len());
        assert_eq!(
            check_document(&bomb),
            Err(DecodeLimitError::Inflation {
                compressed: bomb.len() as u64,
                limit: budget_for(bomb.len()),
            })
        );
        // The limit holds for the sum of the columns, not each one.
        let mut two = document_with_deflated_column(RATIO_FLOOR / 2 + 1);
        two.extend(document_with_deflated_column(RATIO_FLOOR / 2 + 1));
        assert!(matches!(
            check_document(&two),
            Err(DecodeLimitError::Inflation { .. })
        ));
    }

    #[test]
    fn the_ratio_limit_allows_small_repetitive_documents_and_refuses_large_ratios() {
        // Below the floor any ratio passes.
        let small = document_with_deflated_column(512 * 1024);
        assert_eq!(check_document(&small), Ok(512 * 1024));
        // 8 MiB of zeros deflate to ~8 KiB: over 256:1 and over the floor.
        let ratio = document_with_deflated_column(8 * 1024 * 1024);
        assert!(matches!(
            check_document(&ratio),
            Err(DecodeLimitError::Inflation { .. })
        ));
        assert_eq!(budget_for(10), RATIO_FLOOR);
        assert_eq!(budget_for(16 << 20), MAX_INFLATED);
    }

    #[test]
    fn the_hand_made_bomb_inflates_to_what_it_says() {
        let bomb = testing::deflated_zeros(10 * 258 + 1);
        let mut inflated = Vec::new();
        flate2::bufread::DeflateDecoder::new(bomb.as_slice())
            .read_to_end(&mut inflated)
            .expect("valid DEFLATE");
        assert_eq!(inflated.len(), 10 * 258 + 1);
        assert!(inflated.iter().all(|b| *b == 0));
        let big = testing::deflated_zeros(1 << 30);
        assert!(big.len() < 8 << 20, "{}", big.len());
    }

    #[test]
    fn a_compressed_change_bomb_inside_a_sync_message_is_refused() {
        let bomb = chunk(2, &deflated_zeros(2 * MAX_INFLATED));
        let mut message = vec![0x42, 0, 0, 0, 1];
        uleb(&mut message, bomb.len() as u64);
        message.extend(&bomb);
        assert!(matches!(
            check_sync_message(&message),
            Err(DecodeLimitError::Inflation { .. })
        ));
        assert!(matches!(
            check_document(&bomb),
            Err(DecodeLimitError::Inflation { .. })
        ));
    }

    #[test]
    fn a_bloom_filter_asking_for_billions_of_probes_is_refused() {
        let mut bloom = Vec::new();
        uleb(&mut bloom, 1);
        uleb(&mut bloom, 10);
        uleb(&mut bloom, u64::from(u32::MAX));
        bloom.extend([0xff, 0xff]);
        let mut message = vec![0x42, 0, 0, 1, 0];
        uleb(&mut message, bloom.len() as u64);
        message.extend(&bloom);
        message.push(0);
        assert_eq!(
            check_sync_message(&message),
            Err(DecodeLimitError::Bloom {
                probes: u32::MAX,
                bits_per_entry: 10
            })
        );
    }

    #[test]
    fn truncated_and_garbage_bytes_are_errors_not_panics() {
        let saved = big_doc().save();
        for cut in [1, 5, 9, 10, 20, saved.len() / 2, saved.len() - 1] {
            assert!(check_document(&saved[..cut]).is_err(), "cut at {cut}");
        }
        assert!(check_document(&[0xff; 64]).is_err());
        assert!(check_sync_message(&[]).is_err());
        assert!(check_sync_message(&[0x42, 0xff, 0xff, 0xff]).is_err());
        // Block type 3 does not exist in DEFLATE.
        let garbage = [0xffu8; 8];
        assert_eq!(
            check_document(&document_with_column(&garbage)),
            Err(DecodeLimitError::Deflate)
        );
    }
}
