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
const INLINE_KEYS: usize = 32;

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

/// One member key of a caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key<'s> {
    pub(crate) hash: u64,
    pub(crate) kind: Kind,
    pub(crate) text: &'s str,
}

const EMPTY_KEY: Key<'static> = Key {
    hash: 0,
    kind: Kind::AllUsers,
    text: "",
};

/// A caller resolved into the member keys it matches, in the order the engine tries them.
/// Build it once per caller (`Subject::resolve`) and reuse it for many checks, e.g. in
/// `testIamPermissions`.
#[derive(Debug, Clone)]
pub struct ResolvedSubject<'s> {
    subject: &'s Subject,
    inline: [Key<'s>; INLINE_KEYS],
    len: usize,
    spill: Vec<Key<'s>>,
}

impl<'s> ResolvedSubject<'s> {
    pub fn new(subject: &'s Subject) -> ResolvedSubject<'s> {
        let mut r = ResolvedSubject {
            subject,
            inline: [EMPTY_KEY; INLINE_KEYS],
            len: 0,
            spill: Vec::new(),
        };
        r.push(Kind::AllUsers, "");
        let (kind, email) = match &subject.identity {
            Identity::Anonymous => return r,
            Identity::User { email } => (Kind::User, email),
            Identity::ServiceAccount { email } => (Kind::ServiceAccount, email),
        };
        r.push(Kind::AllAuthenticated, "");
        r.push(kind, email);
        for g in &subject.groups {
            r.push(Kind::Group, g);
        }
        if let Some(d) = &subject.domain {
            r.push(Kind::Domain, d);
        }
        r
    }

    pub fn subject(&self) -> &'s Subject {
        self.subject
    }

    fn push(&mut self, kind: Kind, text: &'s str) {
        let key = Key {
            hash: fingerprint(kind, text),
            kind,
            text,
        };
        if self.len < INLINE_KEYS {
            self.inline[self.len] = key;
            self.len += 1;
        } else {
            self.spill.push(key);
        }
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &Key<'s>> {
        self.inline[..self.len].iter().chain(&self.spill)
    }
}

impl Subject {
    /// The caller's member keys, computed once (see [`ResolvedSubject`]).
    pub fn resolve(&self) -> ResolvedSubject<'_> {
        ResolvedSubject::new(self)
    }
}

/// A deterministic 64-bit fingerprint of `kind` and the ASCII-lowercased `text` (emails and
/// domains compare case-insensitively). Never 0: 0 marks an empty table slot.
pub(crate) fn fingerprint(kind: Kind, text: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (kind as u64 + 1).wrapping_mul(K) ^ text.len() as u64;
    for chunk in text.as_bytes().chunks(8) {
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().zip(chunk) {
            *d = s.to_ascii_lowercase();
        }
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
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

fn bloom_bits(hash: u64) -> [(usize, u64); 2] {
    let a = (hash & 511) as usize;
    let b = ((hash >> 9) & 511) as usize;
    [(a >> 6, 1 << (a & 63)), (b >> 6, 1 << (b & 63))]
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
            for (word, bit) in bloom_bits(hash) {
                index.bloom[word] |= bit;
            }
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

    /// The binding indexes whose members include `key`. `member_at(binding, member)` gives
    /// back a policy member to confirm a fingerprint hit against.
    pub(crate) fn lookup<'i, 'p>(
        &'i self,
        key: &Key<'_>,
        member_at: impl Fn(u32, u32) -> Option<&'p Principal>,
    ) -> &'i [u32] {
        if bloom_bits(key.hash)
            .iter()
            .any(|&(word, bit)| self.bloom[word] & bit == 0)
        {
            return &[];
        }
        let mask = self.slots.len() - 1;
        let mut i = (key.hash >> 32) as usize & mask;
        loop {
            let (hash, e) = self.slots[i];
            if hash == 0 {
                return &[];
            }
            if hash == key.hash {
                let entry = self.entries[e as usize];
                let confirmed = member_at(entry.binding, entry.member)
                    .and_then(member_key)
                    .is_some_and(|(kind, text)| {
                        kind == key.kind && text.eq_ignore_ascii_case(key.text)
                    });
                if confirmed {
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
    fn a_fingerprint_collision_is_not_a_match() {
        let members: Vec<Principal> = vec![Principal::Group("admins@example.com".into())];
        let index = MemberIndex::build(std::iter::once(members.as_slice()));
        let forged = Key {
            hash: fingerprint(Kind::Group, "admins@example.com"),
            kind: Kind::User,
            text: "mallory@example.com",
        };
        assert!(
            index
                .lookup(&forged, |b, m| members.get(b as usize + m as usize))
                .is_empty()
        );
        let real = Key {
            kind: Kind::Group,
            text: "ADMINS@example.com",
            ..forged
        };
        assert_eq!(
            index.lookup(&real, |b, m| members.get(b as usize + m as usize)),
            [0]
        );
    }
}
