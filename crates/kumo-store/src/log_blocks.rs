//! Log entries stored in blocks: one SQLite row per (log name, resource type) group of an
//! append, not one per entry.
//!
//! Why: the gateway appends a request-log entry per request. As one row each, with two
//! indexes, SQLite's insert, WAL and checkpoint work cost ≈ 6 µs per entry on a writer thread
//! that shares two cores with the requests; as blocks they cost a string copy each.
//!
//! A block's `entries` text is, per entry, a header line `TS SEVERITY SEQ LEN\n` followed by
//! `LEN` bytes of the entry's JSON, entries sorted by `(TS, SEQ)`. `SEQ` numbers entries in
//! append order across the store, so `(TS, SEQ)` is the total order queries return (equal
//! timestamps keep append order) and the key of page tokens. `seq_end` is the highest `SEQ`
//! the append that wrote the block allocated: the newest block's value is the store's.
//!
//! The text is stored compressed (LZ4): a block of request-log entries for one service
//! shrinks ≈ 10×, and so do the WAL frames and checkpoint copies that cost the writer thread
//! most of its time, for a compression that costs less than copying the text did. The
//! column holds a BLOB `FORMAT_LZ4, u32 LE text length, LZ4 block`; a TEXT value is a block
//! written before compression (read as is).
//!
//! Blocks overlap in time (a request's entry is stamped when it started, written when it
//! ends), so a query merges them: it reads candidate blocks in order of their first (or, for
//! descending results, last) timestamp and emits a buffered entry once no unread block can
//! hold an earlier (later) one.

use crate::{LogBatch, LogEntryRef, LogPage, StoreError};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};
use serde_json::Value;
use std::collections::{BinaryHeap, HashMap};

/// The schema migration that introduced blocks; earlier entries become one-entry blocks
/// whose `SEQ` is their old row id (so page tokens issued before stay valid).
pub(crate) const MIGRATION: &str = "
    CREATE TABLE log_blocks (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        ts_min        INTEGER NOT NULL,
        ts_max        INTEGER NOT NULL,
        log_name      TEXT    NOT NULL,
        resource_type TEXT,
        severity_max  INTEGER NOT NULL,
        seq_end       INTEGER NOT NULL,
        entries       TEXT    NOT NULL
    );
    INSERT INTO log_blocks (ts_min, ts_max, log_name, resource_type, severity_max, seq_end, entries)
        SELECT ts, ts, log_name, resource_type, severity, id,
               ts || ' ' || severity || ' ' || id || ' ' || length(CAST(entry AS BLOB)) || char(10) || entry
        FROM log_entries ORDER BY id;
    DROP TABLE log_entries;
    CREATE INDEX log_blocks_by_start ON log_blocks (ts_min, id);
    CREATE INDEX log_blocks_by_end ON log_blocks (ts_max, id);
    CREATE INDEX log_blocks_by_log_name_start ON log_blocks (log_name, ts_min, id);
    CREATE INDEX log_blocks_by_log_name_end ON log_blocks (log_name, ts_max, id);
";

/// Entries per block at most: bounds a row's size and what a query buffers per block.
const BLOCK_ENTRIES: usize = 256;
/// Blocks fetched per round trip in [`query`]; the caller's callback runs between them.
const BLOCK_BATCH: i64 = 16;
/// The first byte of a compressed block: the LZ4 block format with the text's length.
const FORMAT_LZ4: u8 = 1;
/// Bytes before the LZ4 data: the format byte and the text's length.
const PACKED_HEADER: usize = 5;
/// SQLite's default limit on a value's length: no block's text can be longer.
const MAX_BLOCK_TEXT: usize = 1_000_000_000;
/// LZ4 expands at most this much per compressed byte: a stored length beyond it is
/// corruption, refused before allocating for it.
const LZ4_MAX_RATIO: usize = 255;

/// Buffers a block larger than this are not kept for the next append.
const SCRATCH_KEEP: usize = 4 << 20;

/// The block text and compressed output of [`append`], kept between appends: the compressor
/// writes into a buffer zeroed to its worst case, and zeroing a new one for every append (one
/// every 25 ms under load) cost ≈ 860 instructions per request through the gateway
/// (callgrind, `benches/gateway/run.sh`), 3 % of all of them.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    text: Vec<u8>,
    packed: Vec<u8>,
}

/// Appends the entries of `batches` inside `tx`, as one block per (log name, resource type)
/// and [`BLOCK_ENTRIES`] entries.
pub(crate) fn append(
    tx: &Transaction<'_>,
    batches: &[LogBatch],
    scratch: &mut Scratch,
) -> Result<(), StoreError> {
    let last: i64 = tx
        .prepare_cached("SELECT seq_end FROM log_blocks ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let entries: Vec<LogEntryRef<'_>> = batches.iter().flat_map(LogBatch::iter).collect();
    let seq_end = last + entries.len() as i64;
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<(&str, Option<&str>), usize> = HashMap::new();
    // Consecutive entries mostly share their group (a busy service's request log): compare
    // with the previous entry's key before hashing.
    let mut previous: Option<((&str, Option<&str>), usize)> = None;
    for (i, e) in entries.iter().enumerate() {
        let key = (e.log_name, e.resource_type);
        let g = match previous {
            Some((k, g)) if k == key => g,
            _ => *group_of.entry(key).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            }),
        };
        previous = Some((key, g));
        groups[g].push(i);
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO log_blocks (ts_min, ts_max, log_name, resource_type, severity_max, seq_end, entries) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    // Bytes, not a String: the text is only compressed here (and checked as UTF-8 when read),
    // so its ASCII headers are appended without a check per digit.
    if scratch.packed.len().max(scratch.text.capacity()) > SCRATCH_KEEP {
        *scratch = Scratch::default();
    }
    let Scratch { text, packed } = scratch;
    for mut group in groups {
        // Stable: equal timestamps stay in append order, which is SEQ order.
        group.sort_by_key(|&i| entries[i].timestamp_nanos);
        for chunk in group.chunks(BLOCK_ENTRIES) {
            text.clear();
            // One allocation per block, not a doubling copy of it every few entries.
            text.reserve(chunk.iter().map(|&i| entries[i].json.len() + 64).sum());
            let mut severity_max = i32::MIN;
            for &i in chunk {
                let e = &entries[i];
                severity_max = severity_max.max(e.severity);
                let seq = last + 1 + i as i64;
                // `TS SEVERITY SEQ LEN\n` by hand: `write!` cost more than the rest of the
                // append together (a request log entry per request goes through here).
                push_decimal(text, e.timestamp_nanos);
                text.push(b' ');
                push_decimal(text, i64::from(e.severity));
                text.push(b' ');
                push_decimal(text, seq);
                text.push(b' ');
                push_decimal(text, e.json.len() as i64);
                text.push(b'\n');
                text.extend_from_slice(e.json.as_bytes());
            }
            let (Some(&first), Some(&last_in)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let head = &entries[first];
            let packed = pack(text, packed)?;
            insert.execute(params![
                head.timestamp_nanos,
                entries[last_in].timestamp_nanos,
                head.log_name,
                head.resource_type,
                severity_max,
                seq_end,
                packed
            ])?;
        }
    }
    Ok(())
}

/// Compresses a block's text into `packed` (format byte, length, LZ4 block) and returns the
/// part of `packed` that holds it.
fn pack<'p>(text: &[u8], packed: &'p mut Vec<u8>) -> Result<&'p [u8], StoreError> {
    let len = u32::try_from(text.len())
        .ok()
        .filter(|&n| n as usize <= MAX_BLOCK_TEXT)
        .ok_or_else(|| StoreError::InvalidArgument("log block too large".to_owned()))?;
    // Grown, never shrunk: zeroing the worst case for every block cost as much as a third
    // of compressing it.
    let room = PACKED_HEADER + lz4_flex::block::get_maximum_output_size(text.len());
    if packed.len() < room {
        packed.resize(room, 0);
    }
    packed[0] = FORMAT_LZ4;
    packed[1..PACKED_HEADER].copy_from_slice(&len.to_le_bytes());
    let written = lz4_flex::block::compress_into(text, &mut packed[PACKED_HEADER..])
        .map_err(|e| StoreError::Corrupt(format!("compressing a log block: {e}")))?;
    Ok(&packed[..PACKED_HEADER + written])
}

/// A stored block's text: a compressed BLOB (see [`pack`]) or, written before compression,
/// TEXT.
fn unpack(block: i64, stored: ValueRef<'_>) -> Result<String, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("log block {block}: {what}"));
    let text = match stored {
        ValueRef::Text(text) => text.to_vec(),
        ValueRef::Blob(packed) => {
            let (&format, rest) = packed.split_first().ok_or_else(|| corrupt("empty"))?;
            if format != FORMAT_LZ4 {
                return Err(corrupt(&format!("unknown format {format}")));
            }
            let (len, data) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| corrupt("truncated header"))?;
            let len = u32::from_le_bytes(*len) as usize;
            if len > MAX_BLOCK_TEXT || len > data.len().saturating_mul(LZ4_MAX_RATIO) + 16 {
                return Err(corrupt("text length out of range"));
            }
            let mut text = vec![0; len];
            let n = lz4_flex::block::decompress_into(data, &mut text)
                .map_err(|e| corrupt(&format!("bad LZ4 data: {e}")))?;
            if n != len {
                return Err(corrupt("text shorter than its length"));
            }
            text
        }
        _ => return Err(corrupt("neither text nor a compressed block")),
    };
    String::from_utf8(text).map_err(|_| corrupt("text is not UTF-8"))
}

/// `n` in decimal (two digits per step: four numbers per request-log entry go through here).
fn push_decimal(text: &mut Vec<u8>, n: i64) {
    text.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// One entry of a block, borrowed from the block's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed<'t> {
    pub(crate) ts: i64,
    pub(crate) severity: i32,
    pub(crate) seq: i64,
    pub(crate) json: &'t str,
}

/// Splits a block's text into its entries.
pub(crate) fn parse(block: i64, text: &str) -> Result<Vec<Parsed<'_>>, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("log block {block}: {what}"));
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (header, after) = rest
            .split_once('\n')
            .ok_or_else(|| corrupt("header without a newline"))?;
        let mut fields = header.split(' ');
        let mut number = |name: &str| -> Result<i64, StoreError> {
            fields
                .next()
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| corrupt(&format!("bad {name} in header {header:?}")))
        };
        let ts = number("timestamp")?;
        let severity = i32::try_from(number("severity")?).map_err(|_| corrupt("severity"))?;
        let seq = number("sequence")?;
        let len = usize::try_from(number("length")?).map_err(|_| corrupt("length"))?;
        let json = after
            .get(..len)
            .ok_or_else(|| corrupt("entry shorter than its length"))?;
        out.push(Parsed {
            ts,
            severity,
            seq,
            json,
        });
        rest = &after[len..];
    }
    Ok(out)
}

/// A buffered entry; the heap pops the next one in the query's order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    /// `(ts, seq)`, bitwise-negated for ascending order (so the max-heap pops the smallest).
    key: (i64, i64),
    ts: i64,
    seq: i64,
    json: String,
}

/// Runs one block query (SQL, parameters) on a read connection.
pub(crate) type Fetch<'a> = dyn FnMut(&str, Vec<SqlValue>) -> Result<Vec<Block>, StoreError> + 'a;

/// What [`query`] scans: `query`'s order, time range (in nanoseconds), severity floor and
/// limit, resuming after `cursor` (a page token's `(ts, seq)`).
pub(crate) struct Scan {
    pub(crate) ascending: bool,
    pub(crate) start: Option<i64>,
    pub(crate) end: Option<i64>,
    pub(crate) min_severity: Option<i32>,
    pub(crate) limit: usize,
    pub(crate) cursor: Option<(i64, i64)>,
}

/// Streams the entries of the blocks matching `filter` (a SQL condition on `log_blocks` with
/// its parameters) and `scan`, in `scan`'s order, to `include`. `fetch` runs one block query
/// on a read connection (see [`fetch`]).
pub(crate) fn query(
    fetch: &mut Fetch<'_>,
    scan: &Scan,
    filter: (String, Vec<SqlValue>),
    include: &mut dyn FnMut(&Value) -> bool,
) -> Result<LogPage, StoreError> {
    let Scan {
        ascending,
        start,
        end,
        min_severity,
        limit,
        cursor,
    } = *scan;
    let (mut sql, mut params) = filter;
    // Blocks that can hold an entry in [start, end) and after the cursor.
    let lower = match (start, cursor.filter(|_| ascending)) {
        (Some(s), Some((c, _))) => Some(s.max(c)),
        (s, c) => s.or(c.map(|c| c.0)),
    };
    if let Some(lower) = lower {
        params.push(SqlValue::Integer(lower));
        sql.push_str(&format!(" AND ts_max >= ?{}", params.len()));
    }
    let upper_inclusive = match (end, cursor.filter(|_| !ascending)) {
        (Some(e), Some((c, _))) => Some((e - 1).min(c)),
        (e, c) => e.map(|e| e - 1).or(c.map(|c| c.0)),
    };
    if let Some(upper) = upper_inclusive {
        params.push(SqlValue::Integer(upper));
        sql.push_str(&format!(" AND ts_min <= ?{}", params.len()));
    }
    let (edge, cmp, dir) = if ascending {
        ("ts_min", ">", "ASC")
    } else {
        ("ts_max", "<", "DESC")
    };
    let n = params.len();
    let order = format!(" ORDER BY {edge} {dir}, id {dir} LIMIT {BLOCK_BATCH}");
    let first_sql = format!("SELECT id, {edge}, entries FROM log_blocks WHERE {sql}{order}");
    let next_sql = format!(
        "SELECT id, {edge}, entries FROM log_blocks WHERE {sql} AND ({edge}, id) {cmp} (?{}, ?{}){order}",
        n + 1,
        n + 2
    );
    // Whether an entry is past the cursor and inside the time range and severity floor.
    let wanted = |p: &Parsed<'_>| -> bool {
        let after_cursor = cursor.is_none_or(|c| {
            if ascending {
                (p.ts, p.seq) > c
            } else {
                (p.ts, p.seq) < c
            }
        });
        after_cursor
            && start.is_none_or(|s| p.ts >= s)
            && end.is_none_or(|e| p.ts < e)
            && min_severity.is_none_or(|m| p.severity >= m)
    };
    let key = |ts: i64, seq: i64| if ascending { (!ts, !seq) } else { (ts, seq) };
    let mut heap: BinaryHeap<Pending> = BinaryHeap::new();
    let mut entries = Vec::new();
    // Emits buffered entries that no unread block can precede: all of them at the end
    // (`bound` None), else those strictly before (after) the next block's edge.
    let mut emit = |heap: &mut BinaryHeap<Pending>,
                    bound: Option<i64>,
                    entries: &mut Vec<Value>|
     -> Result<Option<String>, StoreError> {
        while let Some(top) = heap.peek() {
            let ready = bound.is_none_or(|b| if ascending { top.ts < b } else { top.ts > b });
            if !ready {
                break;
            }
            let Some(p) = heap.pop() else { break };
            let entry: Value = serde_json::from_str(&p.json)
                .map_err(|e| StoreError::Corrupt(format!("log entry {}: bad JSON: {e}", p.seq)))?;
            if include(&entry) {
                entries.push(entry);
                if limit > 0 && entries.len() == limit {
                    return Ok(Some(format!("{}:{}", p.ts, p.seq)));
                }
            }
        }
        Ok(None)
    };
    let mut block_cursor: Option<(i64, i64)> = None;
    loop {
        let batch = match block_cursor {
            None => fetch(&first_sql, params.clone())?,
            Some((edge, id)) => {
                let mut next = params.clone();
                next.extend([SqlValue::Integer(edge), SqlValue::Integer(id)]);
                fetch(&next_sql, next)?
            }
        };
        let exhausted = (batch.len() as i64) < BLOCK_BATCH;
        for block in batch {
            if let Some(token) = emit(&mut heap, Some(block.edge), &mut entries)? {
                return Ok(LogPage {
                    entries,
                    next_page_token: Some(token),
                });
            }
            for p in parse(block.id, &block.entries)? {
                if wanted(&p) {
                    heap.push(Pending {
                        key: key(p.ts, p.seq),
                        ts: p.ts,
                        seq: p.seq,
                        json: p.json.to_owned(),
                    });
                }
            }
            block_cursor = Some((block.edge, block.id));
        }
        if exhausted {
            let token = emit(&mut heap, None, &mut entries)?;
            return Ok(LogPage {
                entries,
                next_page_token: token,
            });
        }
    }
}

/// Runs a block query built by [`query`].
pub(crate) fn fetch(
    c: &Connection,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<Vec<Block>, StoreError> {
    let mut stmt = c.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params.iter()))?;
    let mut blocks = Vec::new();
    while let Some(r) = rows.next()? {
        let id = r.get(0)?;
        blocks.push(Block {
            id,
            edge: r.get(1)?,
            entries: unpack(id, r.get_ref(2)?)?,
        });
    }
    Ok(blocks)
}

/// A candidate block: its id, its first (ascending) or last (descending) timestamp, and its
/// entries' text.
#[derive(Debug)]
pub(crate) struct Block {
    id: i64,
    edge: i64,
    entries: String,
}

#[cfg(test)]
mod tests {
    use super::{pack, push_decimal, unpack};
    use rusqlite::types::ValueRef;

    #[test]
    fn a_packed_block_unpacks_to_its_text() {
        // One buffer for all, as an append uses it: a short block after a long one leaves
        // stale bytes behind its end.
        let mut buffer = Vec::new();
        for text in [
            "",
            "1 2 3 2\n{}",
            &"17 200 9 30\n{\"httpRequest\":{\"status\":200}}".repeat(300),
            "1 2 3 2\n[]",
        ] {
            let packed = pack(text.as_bytes(), &mut buffer).unwrap();
            assert_eq!(unpack(1, ValueRef::Blob(packed)).unwrap(), text);
        }
        assert_eq!(
            unpack(1, ValueRef::Text(b"1 2 3 2\n{}")).unwrap(),
            "1 2 3 2\n{}"
        );
    }

    #[test]
    fn the_most_compressible_text_is_within_the_length_check() {
        // One byte repeated compresses close to LZ4's limit ratio, which bounds the length a
        // block may claim.
        let text = "x".repeat(4 << 20);
        let mut buffer = Vec::new();
        let packed = pack(text.as_bytes(), &mut buffer).unwrap();
        assert!(packed.len() * 200 < text.len(), "{}", packed.len());
        assert_eq!(unpack(1, ValueRef::Blob(packed)).unwrap(), text);
    }

    #[test]
    fn damaged_blocks_are_corrupt_not_a_panic_or_a_huge_allocation() {
        let mut buffer = Vec::new();
        let packed = pack("x".repeat(1000).as_bytes(), &mut buffer)
            .unwrap()
            .to_vec();
        let mut huge = packed.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut long = packed.clone();
        long[1..5].copy_from_slice(&2000u32.to_le_bytes());
        let mut other_format = packed.clone();
        other_format[0] = 9;
        for bad in [
            &[][..],
            &packed[..3],
            &packed[..packed.len() - 1],
            &huge,
            &long,
            &other_format,
        ] {
            let err = unpack(7, ValueRef::Blob(bad)).unwrap_err().to_string();
            assert!(err.contains("log block 7"), "{err}");
        }
        assert!(unpack(7, ValueRef::Integer(3)).is_err());
        assert!(unpack(7, ValueRef::Text(b"\xff")).is_err());
    }

    #[test]
    fn decimals_as_display_writes_them() {
        for n in [
            0,
            7,
            -1,
            10,
            -10,
            1_700_000_000_000_000_005,
            i64::MAX,
            i64::MIN,
        ] {
            let mut text = Vec::new();
            push_decimal(&mut text, n);
            assert_eq!(text, n.to_string().as_bytes());
        }
    }
}
