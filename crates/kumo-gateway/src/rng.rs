//! Random numbers for ids that must not repeat but need not be secret: trace and span ids, a
//! request log's `insertId`, the roll of a traffic split. A request draws five; through
//! `rand`'s thread RNG (ChaCha, behind a reference-counted thread local) each cost more than
//! the value is worth. wyrand per thread, seeded from the OS-backed RNG, passes BigCrush and
//! costs a multiply. Never use it for anything an attacker must not predict (tokens, keys).

use std::cell::Cell;

thread_local! {
    static STATE: Cell<u64> = Cell::new(rand::random());
}

/// The next 64 random bits of this thread's stream.
pub(crate) fn u64() -> u64 {
    STATE.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        (t >> 64) as u64 ^ t as u64
    })
}

/// A roll in `0..100` (a traffic split's percent).
pub(crate) fn percent() -> u32 {
    (u64() % 100) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn draws_do_not_repeat_and_cover_the_bits() {
        let draws: Vec<u64> = (0..10_000).map(|_| u64()).collect();
        assert_eq!(draws.iter().collect::<HashSet<_>>().len(), draws.len());
        // Every bit is set in some draw and clear in another.
        let (ones, zeros) = draws.iter().fold((0u64, 0u64), |(o, z), d| (o | d, z | !d));
        assert_eq!((ones, zeros), (u64::MAX, u64::MAX));
        let rolls: HashSet<u32> = (0..10_000).map(|_| percent()).collect();
        assert_eq!(rolls, (0..100).collect());
    }

    #[test]
    fn threads_draw_different_streams() {
        let here: Vec<u64> = (0..4).map(|_| u64()).collect();
        let there = std::thread::spawn(|| (0..4).map(|_| u64()).collect::<Vec<u64>>())
            .join()
            .unwrap();
        assert_ne!(here, there);
    }
}
