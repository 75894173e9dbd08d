//! Matching a caller against a policy's members without string work per policy.
//!
//! A caller is resolved once per request into its member keys — `allUsers`, then
//! `allAuthenticatedUsers`, its `user:`/`serviceAccount:` email, every transitive group, its
//! domain — each with a 64-bit fingerprint of the case-folded text ([`ResolvedSubject`]). Each
//! compiled policy indexes its members by the same fingerprint ([`MemberIndex`]): a 512-bit
//! Bloom filter that rejects most keys without leaving the policy's header, then an
//! open-addressing table. A fingerprint hit is confirmed against the member's text, so a crafted
//! email whose fingerprint collides with a group's never matches it (fail closed).

use kumo_names::Principal;

use crate::hierarchy::{Identity, Subject};

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

    /// Whether policy member `m` is the caller's `i`-th key (confirms a fingerprint hit).
    pub(crate) fn is_key(&self, i: usize, m: &Principal) -> bool {
        match (self.key(i), member_key(m)) {
            (Some((k, t)), Some((mk, mt))) => k == mk && t.eq_ignore_ascii_case(mt),
            _ => false,
        }
    }
}

impl Subject {
    /// The caller's member keys, computed once (see [`ResolvedSubject`]).
    pub fn resolve(&self) -> ResolvedSubject<'_> {
        ResolvedSubject::new(self)
    }
}

/// ASCII-lowercases the eight bytes of `x` at once (bytes ≥ 0x80 are left alone).
fn lower8(x: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let seven = x & !HI;
    // High bit of each byte: byte ≥ 'A', byte > 'Z' (no carry crosses a byte: seven ≤ 0x7f).
    let ge_a = seven + (0x80 - u64::from(b'A')) * LO;
    let gt_z = seven + (0x80 - u64::from(b'Z') - 1) * LO;
    let upper = ge_a & !gt_z & !x & HI;
    x | (upper >> 2)
}

/// A deterministic 64-bit fingerprint of `kind` and the ASCII-lowercased `text` (emails and
/// domains compare case-insensitively). Never 0: 0 marks an empty table slot.
pub(crate) fn fingerprint(kind: Kind, text: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (kind as u64 + 1).wrapping_mul(K) ^ text.len() as u64;
    let mut words = text.as_bytes().chunks_exact(8);
    let mut mix = |w: u64| h = (h.rotate_left(23) ^ lower8(w)).wrapping_mul(K);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        mix(u64::from_le_bytes(b));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        // Byte by byte: a short `copy_from_slice` becomes a `memcpy` call.
        mix(rest
            .iter()
            .enumerate()
            .fold(0, |w, (i, &c)| w | u64::from(c) << (8 * i)));
    }
    // splitmix64's finalizer: every output bit depends on every input bit.
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    if h == 0 { 1 } else { h }
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

/// One distinct member of a policy: the bindings naming it, and where its text lives in the
/// policy (to confirm a fingerprint hit without keeping a second copy of every email).
#[derive(Debug, Clone, Copy)]
struct Entry {
    first: u32,
    len: u32,
    binding: u32,
    member: u32,
}

/// A policy's members by fingerprint → the binding indexes that name them.
#[derive(Debug, Default)]
pub(crate) struct MemberIndex {
    bloom: [u64; 8],
    /// Open addressing, power-of-two size, load ≤ 1/2: (fingerprint, entry); fingerprint 0 = empty.
    slots: Vec<(u64, u32)>,
    entries: Vec<Entry>,
    bindings: Vec<u32>,
}

/// Two bits in one of the filter's eight words: one load and one compare per key.
fn bloom_bits(hash: u64) -> (usize, u64) {
    (
        (hash & 7) as usize,
        1 << ((hash >> 3) & 63) | 1 << ((hash >> 9) & 63),
    )
}

impl MemberIndex {
    /// Indexes the members of `bindings` (each binding's member list, in policy order).
    pub(crate) fn build<'p>(bindings: impl Iterator<Item = &'p [Principal]>) -> MemberIndex {
        // (kind, folded text) → (entry witness, binding ids), in first-seen order.
        let mut distinct: std::collections::HashMap<(Kind, String), usize> =
            std::collections::HashMap::new();
        let mut lists: Vec<(u64, u32, u32, Vec<u32>)> = Vec::new();
        for (b, members) in bindings.enumerate() {
            let b = b as u32;
            for (m, member) in members.iter().enumerate() {
                let Some((kind, text)) = member_key(member) else {
                    continue;
                };
                let slot = *distinct
                    .entry((kind, text.to_ascii_lowercase()))
                    .or_insert_with(|| {
                        lists.push((fingerprint(kind, text), b, m as u32, Vec::new()));
                        lists.len() - 1
                    });
                let ids = &mut lists[slot].3;
                if ids.last() != Some(&b) {
                    ids.push(b);
                }
            }
        }
        let mut index = MemberIndex {
            slots: vec![(0, 0); (lists.len() * 2).next_power_of_two().max(2)],
            ..MemberIndex::default()
        };
        let mask = index.slots.len() - 1;
        for (hash, binding, member, ids) in lists {
            let (word, bits) = bloom_bits(hash);
            index.bloom[word] |= bits;
            let e = index.entries.len() as u32;
            index.entries.push(Entry {
                first: index.bindings.len() as u32,
                len: ids.len() as u32,
                binding,
                member,
            });
            index.bindings.extend_from_slice(&ids);
            let mut i = (hash >> 32) as usize & mask;
            while index.slots[i].0 != 0 {
                i = (i + 1) & mask;
            }
            index.slots[i] = (hash, e);
        }
        index.bindings.shrink_to_fit();
        index
    }

    /// The binding indexes naming the member with fingerprint `hash`. `is_member(binding,
    /// member)` confirms a hit against the policy's member at that position. The Bloom test
    /// is inlined into the caller's loop; most keys stop there.
    #[inline(always)]
    pub(crate) fn lookup(&self, hash: u64, is_member: impl Fn(u32, u32) -> bool) -> &[u32] {
        let (word, bits) = bloom_bits(hash);
        if self.bloom[word] & bits != bits {
            return &[];
        }
        self.probe(hash, is_member)
    }

    fn probe(&self, hash: u64, is_member: impl Fn(u32, u32) -> bool) -> &[u32] {
        let mask = self.slots.len() - 1;
        let mut i = (hash >> 32) as usize & mask;
        loop {
            let (h, e) = self.slots[i];
            if h == 0 {
                return &[];
            }
            if h == hash {
                let entry = self.entries[e as usize];
                if is_member(entry.binding, entry.member) {
                    let first = entry.first as usize;
                    return &self.bindings[first..first + entry.len as usize];
                }
            }
            i = (i + 1) & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn lower8_matches_to_ascii_lowercase() {
        for b in 0..=255u8 {
            let w = u64::from_le_bytes([b, b'Q', b'@', b'[', b'`', b'z', 0xC3, b'A']);
            let want = u64::from_le_bytes(
                [b, b'Q', b'@', b'[', b'`', b'z', 0xC3, b'A'].map(|c| c.to_ascii_lowercase()),
            );
            assert_eq!(lower8(w), want, "byte {b:#x}");
        }
    }

    #[test]
    fn a_fingerprint_collision_is_not_a_match() {
        let members: Vec<Principal> = vec![Principal::Group("admins@example.com".into())];
        let index = MemberIndex::build(std::iter::once(members.as_slice()));
        let hash = fingerprint(Kind::Group, "admins@example.com");
        let mallory = Subject::user("mallory@example.com");
        let mallory = mallory.resolve();
        // A forged key with the group's fingerprint, confirmed as mallory's identity (key 2).
        assert!(
            index
                .lookup(hash, |b, m| mallory.is_key(2, &members[(b + m) as usize]))
                .is_empty()
        );
        let member =
            Subject::user("bob@example.com").with_groups(["ADMINS@example.com".to_owned()]);
        let member = member.resolve();
        assert_eq!(member.hashes()[3], hash);
        assert_eq!(
            index.lookup(hash, |b, m| member.is_key(3, &members[(b + m) as usize])),
            [0]
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
