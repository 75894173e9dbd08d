//! The kumo side of the benchmark alone, for a load-independent cross-check under callgrind:
//! builds the workload (no Cedar), then decides every request once in stream order.
//!
//!   valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='kumo_iam_bench::Workload::check' \
//!     target/release/kumo-iam-checks 100000
//!
//! Instructions per check = the `Ir` total / the request count printed. With a third argument
//! `fresh`, that pass builds each caller's `Subject` just before its check (`Workload::check_as`,
//! as the control plane does per request) instead of using the cold prebuilt ones; with
//! `request`, the caller and the request's ancestry (`Workload::check_fresh`: both as the
//! control plane builds them per request).
//! `kumo-iam-checks GRANTS ROUNDS` (ROUNDS > 0) also times the stream as `kumo-iam-bench` does
//! (a warm-up pass, then each check once in request order) ROUNDS times and prints each
//! round's p50 and p99, for the cold prebuilt callers and ancestries, fresh callers, and fresh
//! requests (caller and ancestry; only the check is timed): a quick wall-clock A/B without
//! building Cedar.

use std::hint::black_box;
use std::time::{Duration, Instant};

use kumo_iam::{Access, Ancestry};
use kumo_iam_bench::Workload;

/// The server's allocator (crates/kumo): it decides the compiled policies' page size.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let grants = args
        .next()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let caller = args.next().unwrap_or_default();
    let w = match Workload::build(grants, 20_000) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let ancestries = w.ancestries();
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    for (level, count, f) in w.footprint() {
        println!(
            "{level:?}: {count} policies, MiB: struct {:.2}, blocks {:.2}, slots {:.2}, spill {:.2}, bindings {:.2}",
            mib(f.header),
            mib(f.blocks),
            mib(f.slots),
            mib(f.spill),
            mib(f.bindings)
        );
    }
    // `warm` (4th argument): one uncounted pass first (`misses.sh … warm` zeroes callgrind's
    // counters at `second_pass`), so the counted pass sees the cache a pass leaves behind, as
    // the timed rounds do, instead of the one the build left.
    if args.next().as_deref() == Some("warm") {
        stream(&w, &ancestries, &caller);
        second_pass();
    }
    let granted = stream(&w, &ancestries, &caller);
    println!(
        "{} grants: {} checks, {granted} granted",
        w.grant_count,
        w.requests.len()
    );
    let n = w.requests.len();
    let p = |each: &mut Vec<Duration>, q: f64| {
        each.sort_unstable();
        each[((each.len() - 1) as f64 * q) as usize].as_nanos()
    };
    for round in 0..rounds {
        let mut cold: Vec<Duration> = Vec::with_capacity(n);
        for r in &w.requests {
            black_box(w.check(&ancestries, black_box(r)));
        }
        for r in &w.requests {
            let t = Instant::now();
            black_box(w.check(&ancestries, black_box(r)));
            cold.push(t.elapsed());
        }
        let mut hot = w.time_fresh_callers(&ancestries);
        let mut fresh = w.time_fresh_requests();
        println!(
            "round {}: stream p50 {} ns, p99 {} ns; fresh caller p50 {} ns, p99 {} ns; fresh request p50 {} ns, p99 {} ns",
            round + 1,
            p(&mut cold, 0.5),
            p(&mut cold, 0.99),
            p(&mut hot, 0.5),
            p(&mut hot, 0.99),
            p(&mut fresh, 0.5),
            p(&mut fresh, 0.99),
        );
    }
}

/// Decides every request once in order, as `caller` says (cold, `fresh` or `request`); the
/// number granted.
fn stream(w: &Workload, ancestries: &[Ancestry<'_>], caller: &str) -> usize {
    w.requests
        .iter()
        .filter(|r| {
            let access = match caller {
                "fresh" => {
                    let caller = black_box(w.fresh_caller(r));
                    w.check_as(ancestries, r, &caller)
                }
                "request" => {
                    let caller = black_box(w.fresh_caller(r));
                    let nodes = w.fresh_nodes(r);
                    let ancestry = black_box(nodes.ancestry());
                    w.check_fresh(&ancestry, r, &caller)
                }
                _ => w.check(ancestries, r),
            };
            black_box(access) == Access::Granted
        })
        .count()
}

/// A mark between the warm-up pass and the counted one (callgrind's `--zero-before`).
#[inline(never)]
fn second_pass() {
    black_box(());
}
