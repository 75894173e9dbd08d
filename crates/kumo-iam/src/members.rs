//! Matching a caller against a policy's members without string work per policy.
//!
//! A caller is resolved once per request into its member keys — `allUsers`, then
//! `allAuthenticatedUsers`, its `user:`/`serviceAccount:` email, every transitive group, its
//! domain — each with a 64-bit fingerprint of the case-folded text ([`ResolvedSubject`]). Each
//! compiled policy indexes its members by the same fingerprint ([`MemberIndex`]): a Bloom
//! filter that rejects most keys (256 bits in the policy's header; for a policy of more than
//! 32 members, one 512-bit block per 64 members, inside the index itself up to 256 members),
//! then an open-addressing table whose slots carry each member's binding ids and, for its
//! first binding when unconditional, the role (so a hit that grants reads no binding record).
//! A fingerprint hit is confirmed by a second, keyed hash ([`keyed`]) stored in the slot, so a
//! crafted email whose fingerprint collides with a group's never matches it (fail closed), and
//! confirming reads no member text.

use std::sync::Arc;

use kumo_names::Principal;

use crate::catalog::RoleBits;
use crate::hierarchy::{Identity, Subject};

/// The first keys of every resolved caller are `allUsers` and (authenticated callers)
/// `allAuthenticatedUsers`: the same for everyone, decided by each policy's header filter.
pub(crate) const PUBLIC_KEYS: usize = 2;

/// Keys kept inline; a caller in more transitive groups than this spills to the heap (the only
/// allocation a check can make).
const INLINE_KEYS: usize = 24;

/// The member kinds a Kumo caller can match. Deleted and federated principals never match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    AllUsers,
    AllAuthenticated,
    User,
    ServiceAccount,
    Group,
    Domain,
}

/// A caller resolved into the fingerprints of the member keys it matches, in the order the
/// engine tries them: `allUsers`; then, when authenticated, `allAuthenticatedUsers`, the
/// identity, each group, the domain. Build it once per caller (`Subject::resolve`) and reuse it
/// for many checks, e.g. in `testIamPermissions`.
#[derive(Debug, Clone)]
pub struct ResolvedSubject<'s> {
    subject: &'s Subject,
    inline: [u64; INLINE_KEYS],
    len: usize,
    /// Every fingerprint, when there are more than `INLINE_KEYS`.
    spill: Vec<u64>,
}

impl<'s> ResolvedSubject<'s> {
    pub fn new(subject: &'s Subject) -> ResolvedSubject<'s> {
        let mut r = ResolvedSubject {
            subject,
            inline: [0; INLINE_KEYS],
            len: 0,
            spill: Vec::new(),
        };
        r.push(fingerprint(Kind::AllUsers, ""));
        // Read one byte at each end of every string before hashing any: a caller's strings are
        // often cold, and loads issued together overlap their misses, where hashing string
        // after string would wait for each in turn.
        let ends = |t: &str| {
            let b = t.as_bytes();
            u64::from(b.first().copied().unwrap_or(0) ^ b.last().copied().unwrap_or(0))
        };
        let email = match &subject.identity {
            Identity::Anonymous => "",
            Identity::User { email } | Identity::ServiceAccount { email } => email,
        };
        let warm = subject.groups.iter().map(|g| ends(g)).fold(
            ends(email) ^ subject.domain.as_deref().map_or(0, ends),
            |a, b| a ^ b,
        );
        std::hint::black_box(warm);
        let (kind, email) = match &subject.identity {
            Identity::Anonymous => return r,
            Identity::User { email } => (Kind::User, email),
            Identity::ServiceAccount { email } => (Kind::ServiceAccount, email),
        };
        r.push(fingerprint(Kind::AllAuthenticated, ""));
        r.push(fingerprint(kind, email));
        for g in &subject.groups {
            r.push(fingerprint(Kind::Group, g));
        }
        if let Some(d) = &subject.domain {
            r.push(fingerprint(Kind::Domain, d));
        }
        r
    }

    fn push(&mut self, hash: u64) {
        if self.len < INLINE_KEYS {
            self.inline[self.len] = hash;
        } else {
            if self.len == INLINE_KEYS {
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(hash);
        }
        self.len += 1;
    }

    pub fn subject(&self) -> &'s Subject {
        self.subject
    }

    /// The fingerprints, `i`-th for `key(i)`.
    pub(crate) fn hashes(&self) -> &[u64] {
        if self.len <= INLINE_KEYS {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }

    /// The `i`-th member key.
    fn key(&self, i: usize) -> Option<(Kind, &'s str)> {
        let s = self.subject;
        let groups = &s.groups;
        Some(match (i, &s.identity) {
            (0, _) => (Kind::AllUsers, ""),
            (_, Identity::Anonymous) => return None,
            (1, _) => (Kind::AllAuthenticated, ""),
            (2, Identity::User { email }) => (Kind::User, email),
            (2, Identity::ServiceAccount { email }) => (Kind::ServiceAccount, email),
            (i, _) if i - 3 < groups.len() => (Kind::Group, &groups[i - 3]),
            (i, _) if i - 3 == groups.len() => (Kind::Domain, s.domain.as_deref()?),
            _ => return None,
        })
    }

    /// The keyed hash of the `i`-th member key (confirms a fingerprint hit); 0 (matches no
    /// member) when there is no such key.
    pub(crate) fn keyed(&self, i: usize) -> u64 {
        self.key(i).map_or(0, |(k, t)| keyed(k, t))
    }
}

impl Subject {
    /// The caller's member keys, computed once (see [`ResolvedSubject`]).
    pub fn resolve(&self) -> ResolvedSubject<'_> {
        ResolvedSubject::new(self)
    }
}

/// A deterministic 64-bit fingerprint of `kind` and `text`, equal for texts that are equal
/// ignoring ASCII case (emails and domains compare case-insensitively). Never 0: 0 marks an
/// empty table slot. Fingerprints live only in memory (both sides are computed here, in one
/// process), so the function may change between versions.
pub(crate) fn fingerprint(kind: Kind, text: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let b = text.as_bytes();
    let mut h = (kind as u64 + 1).wrapping_mul(K) ^ b.len() as u64;
    // Setting bit 5 of every byte folds A–Z onto a–z in one operation; it also merges a few
    // other pairs (`@` and `` ` ``), which only adds fingerprint collisions: every hit is
    // confirmed against the member's text.
    let mut mix = |w: u64| h = (h.rotate_left(23) ^ (w | 0x2020_2020_2020_2020)).wrapping_mul(K);
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        mix(le(w));
    }
    let rest = words.remainder().len();
    if rest > 0 {
        // The tail as the string's last eight bytes shifted down (one load, not a byte loop);
        // a string shorter than eight bytes is folded byte by byte.
        let tail = match b.len().checked_sub(8).and_then(|i| b.get(i..)) {
            Some(last) => le(last) >> (8 * (8 - rest)),
            None => b
                .iter()
                .enumerate()
                .fold(0, |w, (i, &c)| w | u64::from(c) << (8 * i)),
        };
        mix(tail);
    }
    // splitmix64's finalizer: every output bit depends on every input bit.
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    if h == 0 { 1 } else { h }
}

/// The first eight bytes of `c` (at least eight) as a little-endian word: one load.
fn le(c: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    if let Some(c) = c.get(..8) {
        w.copy_from_slice(c);
    }
    u64::from_le_bytes(w)
}

/// The kind and text a policy member is matched by, or `None` for members no Kumo caller can
/// be (deleted principals, federated identities).
pub(crate) fn member_key(m: &Principal) -> Option<(Kind, &str)> {
    Some(match m {
        Principal::AllUsers => (Kind::AllUsers, ""),
        Principal::AllAuthenticatedUsers => (Kind::AllAuthenticated, ""),
        Principal::User(e) => (Kind::User, e.as_str()),
        Principal::ServiceAccount(e) => (Kind::ServiceAccount, e.as_ref()),
        Principal::Group(g) => (Kind::Group, g.as_str()),
        Principal::Domain(d) => (Kind::Domain, d.as_str()),
        Principal::Deleted { .. } | Principal::PrincipalUri(_) | Principal::PrincipalSetUri(_) => {
            return None;
        }
    })
}

/// The keyed hash confirming a fingerprint hit: SipHash under a per-process random key over the
/// kind and the ASCII-lowercased text, never 0 (0 is "no key"). `fingerprint` is fast but
/// public, so anyone could craft an email colliding with a group's; without the key, nobody can
/// craft a collision of this one, and a hit needs both to match.
pub(crate) fn keyed(kind: Kind, text: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let mut h = KEY
        .get_or_init(std::collections::hash_map::RandomState::new)
        .build_hasher();
    // One `write` for most texts (kind and length first, then the lowercased bytes): SipHash's
    // per-call buffering costs more than its rounds on strings this short.
    let mut buf = [0u8; 64];
    buf[..8].copy_from_slice(&((kind as u64) << 56 | text.len() as u64).to_le_bytes());
    let (mut at, mut rest) = (8, text.as_bytes());
    loop {
        let n = rest.len().min(buf.len() - at);
        let (now, later) = rest.split_at(n);
        let dst = &mut buf[at..at + n];
        dst.copy_from_slice(now);
        dst.make_ascii_lowercase();
        at += n;
        rest = later;
        if rest.is_empty() {
            break;
        }
        h.write(&buf);
        at = 0;
    }
    h.write(&buf[..at]);
    h.finish().max(1)
}

/// One distinct member of a policy, everything a hit needs in one half cache line: no pointer
/// to follow to confirm it, to learn its first binding or whether that binding's role holds
/// the permission (the role's bitset, shared by every policy naming the role, stays in cache
/// where the policy's binding records do not).
#[derive(Debug, Clone, Default)]
#[repr(C, align(32))]
struct Slot {
    /// `fingerprint` of the member; 0 = empty slot.
    hash: u64,
    /// `keyed` hash of the member.
    key: u64,
    /// The role of the first binding naming the member, when that binding is unconditional
    /// and its role is known to the catalog: then it grants exactly when the role holds the
    /// permission. `None`: the binding's record decides (a condition, an unknown role).
    first_role: Option<Arc<RoleBits>>,
    /// How many bindings name the member.
    len: u32,
    /// The binding index (one binding), or where the indexes start in `spill` (more).
    at: u32,
}

// Two slots per cache line.
const _: () = assert!(std::mem::size_of::<Slot>() == 32);

/// A member found in a policy: the bindings naming it, in policy order, and the first one's
/// role when the slot carries it (see `Slot::first_role`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found<'i> {
    pub(crate) first_role: Option<&'i RoleBits>,
    pub(crate) ids: &'i [u32],
}

/// Filter words in the index's first cache line, beside the two tables' addresses.
const BLOOM_WORDS: usize = 4;

/// Policies with more members than this get a blocked filter (`MemberIndex::blocks`): the
/// inline one would fill up (at 1,000,000 grants folder and project policies name hundreds).
/// Below it the header's filter is selective enough (2 × 32 bits of 256) and saves the
/// block's load: with 16, the 100,000-grant stream was slower than without blocks.
const INLINE_FILTER_MAX: usize = 32;

/// Members per filter block, at most (blocks are a power of two).
const BLOCK_MEMBERS: usize = 64;

/// Filter blocks kept inside the index itself (`MemberIndex::near`), for policies of up to
/// `NEAR_BLOCKS * BLOCK_MEMBERS` members (services' and projects' at 1,000,000 grants): their
/// address is the policy's, so loading them does not wait for the header line as `blocks`
/// would. One dependent miss less per node on a cold walk: stream p50 at 1,000,000 grants
/// −18 % (with 2 blocks, services only: less consistently), 256 bytes more per compiled policy.
const NEAR_BLOCKS: usize = 4;

/// Slot-table size of a policy of `INLINE_FILTER_MAX` members: a larger table means a policy
/// whose filter is in blocks.
const SMALL_SLOTS: usize = (INLINE_FILTER_MAX * 2).next_power_of_two();

/// One 512-bit block of a blocked filter: a cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Block([u64; 8]);

/// A policy's members by fingerprint → the binding indexes that name them. Aligned so that
/// the first cache line holds everything a key's test reads before the tables: the filter of
/// a small policy, or where a large policy's filter blocks are, and the slot table.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct MemberIndex {
    bloom: [u64; BLOOM_WORDS],
    /// A large policy's filter: the block is chosen by the fingerprint, then three bits in
    /// it; empty for a small policy, which uses `bloom`, and for a medium one (`near`). Sized to the policy, so it does not
    /// fill up at 1,000 members as a fixed one would, and small (1–2 bytes per member) so the
    /// blocks of the policies shared by many resources stay in cache, where their slot
    /// tables (64 bytes per member) do not: blocks of 16 members cost more misses than the
    /// probes they saved (callgrind, 1,000,000 grants: 26.5 misses per check against 19.2).
    blocks: Box<[Block]>,
    /// Open addressing, power-of-two size, load ≤ 1/2.
    slots: Box<[Slot]>,
    spill: Box<[u32]>,
    /// The filter of a policy of more than `INLINE_FILTER_MAX` members and at most
    /// `NEAR_BLOCKS * BLOCK_MEMBERS` (then `blocks` is empty); unused otherwise.
    near: [Block; NEAR_BLOCKS],
}

/// Two bits in one of the inline filter's words: one load and one compare per key.
fn bloom_bits(hash: u64) -> (usize, u64) {
    (
        (hash & 3) as usize,
        1 << ((hash >> 2) & 63) | 1 << ((hash >> 8) & 63),
    )
}

/// The block (of `blocks`, a power of two) and the three bit positions of `hash` in a blocked
/// filter. The slot index uses bits 32 and up, the block bits 44 and up.
fn block_bits(hash: u64, blocks: usize) -> (usize, [u32; 3]) {
    (
        (hash >> 44) as usize & (blocks - 1),
        [
            (hash & 511) as u32,
            ((hash >> 9) & 511) as u32,
            ((hash >> 18) & 511) as u32,
        ],
    )
}

impl Block {
    fn set(&mut self, bit: u32) {
        self.0[bit as usize / 64] |= 1 << (bit % 64);
    }
    fn has(&self, bit: u32) -> bool {
        self.0[bit as usize / 64] >> (bit % 64) & 1 == 1
    }
}

impl MemberIndex {
    /// Indexes the members of `bindings` (each binding's member list, in policy order, with
    /// its role when the binding is unconditional and the role known: see `Slot::first_role`).
    pub(crate) fn build<'p>(
        bindings: impl Iterator<Item = (&'p [Principal], Option<&'p Arc<RoleBits>>)>,
    ) -> MemberIndex {
        // (kind, folded text) → (kind, binding ids, slot without them), in first-seen order.
        let mut distinct: std::collections::HashMap<(Kind, String), usize> =
            std::collections::HashMap::new();
        let mut lists: Vec<(Kind, Vec<u32>, Slot)> = Vec::new();
        for (b, (members, role)) in bindings.enumerate() {
            let b = b as u32;
            for member in members {
                let Some((kind, text)) = member_key(member) else {
                    continue;
                };
                let slot = *distinct
                    .entry((kind, text.to_ascii_lowercase()))
                    .or_insert_with(|| {
                        let slot = Slot {
                            hash: fingerprint(kind, text),
                            key: keyed(kind, text),
                            first_role: role.cloned(),
                            ..Slot::default()
                        };
                        lists.push((kind, Vec::new(), slot));
                        lists.len() - 1
                    });
                let ids = &mut lists[slot].1;
                if ids.last() != Some(&b) {
                    ids.push(b);
                }
            }
        }
        let mut bloom = [0; BLOOM_WORDS];
        let wanted = if lists.len() > INLINE_FILTER_MAX {
            lists.len().div_ceil(BLOCK_MEMBERS).next_power_of_two()
        } else {
            0
        };
        let mut near = [Block::default(); NEAR_BLOCKS];
        let mut blocks = vec![Block::default(); if wanted > NEAR_BLOCKS { wanted } else { 0 }];
        let mut slots = vec![Slot::default(); (lists.len() * 2).next_power_of_two().max(2)];
        let mut spill = Vec::new();
        let mask = slots.len() - 1;
        for (kind, ids, mut slot) in lists {
            let hash = slot.hash;
            let public = matches!(kind, Kind::AllUsers | Kind::AllAuthenticated);
            // A large policy's header filter holds only its public members (at most two), so
            // those keys are decided there and the caller's own keys go to the blocks.
            if wanted == 0 || public {
                let (word, bits) = bloom_bits(hash);
                bloom[word] |= bits;
            }
            let filter: &mut [Block] = match wanted {
                0 => &mut [],
                1..=NEAR_BLOCKS => &mut near,
                _ => &mut blocks,
            };
            if !filter.is_empty() {
                let (b, bits) = block_bits(hash, filter.len());
                bits.iter().for_each(|&bit| filter[b].set(bit));
            }
            slot.len = ids.len() as u32;
            slot.at = match ids.as_slice() {
                &[id] => id,
                _ => {
                    let at = spill.len() as u32;
                    spill.extend_from_slice(&ids);
                    at
                }
            };
            let mut i = (hash >> 32) as usize & mask;
            while slots[i].hash != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = slot;
        }
        MemberIndex {
            bloom,
            blocks: blocks.into(),
            slots: slots.into(),
            spill: spill.into(),
            near,
        }
    }

    /// Bytes outside the index's own struct: (filter blocks, slot table, spilled binding ids).
    pub(crate) fn heap_bytes(&self) -> (usize, usize, usize) {
        (
            std::mem::size_of_val::<[Block]>(&self.blocks),
            std::mem::size_of_val::<[Slot]>(&self.slots),
            std::mem::size_of_val::<[u32]>(&self.spill),
        )
    }

    /// The blocked filter: `blocks`, `near` (a policy of more than `INLINE_FILTER_MAX` members
    /// whose `blocks` are empty: its slot table is larger than a small policy's), or none.
    #[inline(always)]
    fn filter_blocks(&self) -> &[Block] {
        if !self.blocks.is_empty() {
            &self.blocks
        } else if self.slots.len() > SMALL_SLOTS {
            &self.near
        } else {
            &[]
        }
    }

    /// Reads the filter, to start the header's cache line on its way early.
    pub(crate) fn touch(&self) -> u64 {
        self.bloom[0]
    }

    /// Whether the filter is in blocks outside the header (a policy of more than
    /// `INLINE_FILTER_MAX` members).
    pub(crate) fn has_blocks(&self) -> bool {
        !self.filter_blocks().is_empty()
    }

    /// A word of the filter block `hash` is tested against (0 for a small policy, whose
    /// filter is in the header): loading it early starts the line on its way (see
    /// `Engine::check_resolved`).
    #[inline(always)]
    pub(crate) fn block_word(&self, hash: u64) -> u64 {
        let blocks = self.filter_blocks();
        blocks
            .get(block_bits(hash, blocks.len().max(1)).0)
            .map_or(0, |b| b.0[0])
    }

    /// Whether the filter lets `hash` through (no false negatives). `public`: the key is
    /// `allUsers` or `allAuthenticatedUsers`, which the header's filter always holds.
    #[inline(always)]
    fn may_hold(&self, hash: u64, public: bool) -> bool {
        let blocks = self.filter_blocks();
        if public || blocks.is_empty() {
            let (word, bits) = bloom_bits(hash);
            self.bloom[word] & bits == bits
        } else {
            let (b, bits) = block_bits(hash, blocks.len());
            bits.iter().all(|&bit| blocks[b].has(bit))
        }
    }

    /// The member with fingerprint `hash` whose keyed hash is `key()` (called at most once,
    /// and only on a fingerprint hit); `public` as in `may_hold`. The filter test is inlined
    /// into the caller's loop; most keys stop there.
    #[inline(always)]
    pub(crate) fn lookup(
        &self,
        hash: u64,
        public: bool,
        key: impl FnOnce() -> u64,
    ) -> Option<Found<'_>> {
        if !self.may_hold(hash, public) {
            return None;
        }
        self.probe(hash, key)
    }

    fn probe(&self, hash: u64, key: impl FnOnce() -> u64) -> Option<Found<'_>> {
        let mask = self.slots.len() - 1;
        let mut i = (hash >> 32) as usize & mask;
        let mut key = Some(key);
        let mut wanted = 0;
        loop {
            let s = &self.slots[i];
            if s.hash == 0 {
                return None;
            }
            if s.hash == hash {
                if let Some(k) = key.take() {
                    wanted = k();
                }
                if s.key == wanted {
                    return Some(Found {
                        first_role: s.first_role.as_deref(),
                        ids: self.ids(s),
                    });
                }
            }
            i = (i + 1) & mask;
        }
    }

    fn ids<'i>(&'i self, s: &'i Slot) -> &'i [u32] {
        match s.len {
            1 => std::slice::from_ref(&s.at),
            len => {
                let first = s.at as usize;
                self.spill
                    .get(first..first + len as usize)
                    .unwrap_or_default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index of bindings without roles (every hit goes through the binding records).
    fn build<'p>(bindings: impl Iterator<Item = &'p [Principal]>) -> MemberIndex {
        MemberIndex::build(bindings.map(|members| (members, None)))
    }

    fn ids(found: Option<Found<'_>>) -> &[u32] {
        found.map_or(&[], |f| f.ids)
    }

    #[test]
    fn fingerprints_fold_ascii_case_and_separate_kinds() {
        assert_eq!(
            fingerprint(Kind::User, "Alice@Example.com"),
            fingerprint(Kind::User, "alice@example.com")
        );
        assert_ne!(
            fingerprint(Kind::User, "alice@example.com"),
            fingerprint(Kind::Group, "alice@example.com")
        );
        assert_ne!(fingerprint(Kind::User, "a"), fingerprint(Kind::User, "a\0"));
    }

    #[test]
    fn fingerprint_tails_cover_every_byte() {
        // Tails of 1–7 bytes after whole words, and short strings: each byte counts.
        for len in 1..24 {
            let a: String = "a".repeat(len);
            let mut b = a.clone().into_bytes();
            b[len - 1] = b'b';
            let b = String::from_utf8(b).unwrap();
            assert_ne!(
                fingerprint(Kind::User, &a),
                fingerprint(Kind::User, &b),
                "{len}"
            );
            assert_eq!(
                fingerprint(Kind::User, &a),
                fingerprint(Kind::User, &a.to_ascii_uppercase())
            );
        }
    }

    #[test]
    fn a_fingerprint_collision_is_not_a_match() {
        let members: Vec<Principal> = vec![Principal::Group("admins@example.com".into())];
        let index = build(std::iter::once(members.as_slice()));
        let hash = fingerprint(Kind::Group, "admins@example.com");
        let mallory = Subject::user("mallory@example.com");
        let mallory = mallory.resolve();
        // A forged key with the group's fingerprint, confirmed as mallory's identity (key 2).
        assert!(ids(index.lookup(hash, false, || mallory.keyed(2))).is_empty());
        let member =
            Subject::user("bob@example.com").with_groups(["ADMINS@example.com".to_owned()]);
        let member = member.resolve();
        assert_eq!(member.hashes()[3], hash);
        assert_eq!(ids(index.lookup(hash, false, || member.keyed(3))), [0]);
    }

    #[test]
    fn a_colliding_slot_does_not_hide_the_member_behind_it() {
        // Two members forced onto one fingerprint: each is found by its own keyed hash.
        let mut index = build(
            [
                vec![Principal::User("a@example.com".into())],
                vec![Principal::User("b@example.com".into())],
            ]
            .iter()
            .map(Vec::as_slice),
        );
        let hash = index
            .slots
            .iter()
            .map(|s| s.hash)
            .find(|&h| h != 0)
            .unwrap();
        for s in index.slots.iter_mut().filter(|s| s.hash != 0) {
            s.hash = hash;
        }
        // Re-place both slots on one probe chain.
        let full: Vec<Slot> = index
            .slots
            .iter()
            .filter(|s| s.hash != 0)
            .cloned()
            .collect();
        let mask = index.slots.len() - 1;
        index.slots.iter_mut().for_each(|s| *s = Slot::default());
        let start = (hash >> 32) as usize & mask;
        for (k, s) in full.into_iter().enumerate() {
            index.slots[(start + k) & mask] = s;
        }
        let (word, bits) = bloom_bits(hash);
        index.bloom[word] |= bits;
        assert!(index.blocks.is_empty());
        assert_eq!(
            ids(index.lookup(hash, false, || keyed(Kind::User, "A@example.com"))),
            [0]
        );
        assert_eq!(
            ids(index.lookup(hash, false, || keyed(Kind::User, "b@example.com"))),
            [1]
        );
        assert!(ids(index.lookup(hash, false, || keyed(Kind::User, "c@example.com"))).is_empty());
    }

    #[test]
    fn large_policies_filter_by_block_without_losing_a_member() {
        let members: Vec<Principal> = (0..1000)
            .map(|i| Principal::User(format!("user-{i}@example.com")))
            .collect();
        let index = build(std::iter::once(members.as_slice()));
        assert_eq!(index.blocks.len(), 16);
        assert_eq!(index.filter_blocks().len(), 16);
        for i in 0..1000 {
            let text = format!("user-{i}@example.com");
            let hash = fingerprint(Kind::User, &text);
            assert_eq!(
                ids(index.lookup(hash, false, || keyed(Kind::User, &text))),
                [0],
                "{i}"
            );
        }
        let passed = (0..10_000)
            .filter(|i| {
                index.may_hold(
                    fingerprint(Kind::User, &format!("other-{i}@example.com")),
                    false,
                )
            })
            .count();
        assert!(
            passed < 500,
            "{passed} of 10,000 non-members passed the filter"
        );
    }

    #[test]
    fn medium_policies_filter_by_near_block_without_losing_a_member() {
        for n in [INLINE_FILTER_MAX + 1, 64, 65, NEAR_BLOCKS * BLOCK_MEMBERS] {
            let members: Vec<Principal> = (0..n)
                .map(|i| Principal::Group(format!("group-{i}@example.com")))
                .collect();
            let index = build(std::iter::once(members.as_slice()));
            assert!(index.blocks.is_empty(), "{n}");
            assert_eq!(index.filter_blocks().len(), NEAR_BLOCKS, "{n}");
            // The header filter holds no private member: they are all in the near blocks.
            assert_eq!(index.bloom, [0; BLOOM_WORDS], "{n}");
            for i in 0..n {
                let text = format!("group-{i}@example.com");
                let hash = fingerprint(Kind::Group, &text);
                assert_eq!(
                    ids(index.lookup(hash, false, || keyed(Kind::Group, &text))),
                    [0],
                    "{n} {i}"
                );
            }
        }
        let small: Vec<Principal> = (0..INLINE_FILTER_MAX)
            .map(|i| Principal::Group(format!("group-{i}@example.com")))
            .collect();
        let index = build(std::iter::once(small.as_slice()));
        assert!(index.filter_blocks().is_empty());
    }

    #[test]
    fn members_in_many_bindings_spill_their_ids() {
        let bindings: Vec<Vec<Principal>> = (0..5)
            .map(|_| vec![Principal::Domain("example.com".into())])
            .collect();
        let index = build(bindings.iter().map(Vec::as_slice));
        let hash = fingerprint(Kind::Domain, "example.com");
        assert_eq!(
            ids(index.lookup(hash, false, || keyed(Kind::Domain, "EXAMPLE.com"))),
            [0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn keys_spill_beyond_the_inline_capacity() {
        let s = Subject::user("a@example.com")
            .with_groups((0..40).map(|i| format!("g{i}@example.com")));
        let r = s.resolve();
        assert_eq!(r.hashes().len(), 3 + 40 + 1);
        assert_eq!(
            r.hashes()[3 + 39],
            fingerprint(Kind::Group, "g39@example.com")
        );
        assert_eq!(r.hashes()[43], fingerprint(Kind::Domain, "example.com"));
    }
}
