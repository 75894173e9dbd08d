//! The kumo side of the benchmark alone, for a load-independent cross-check under callgrind:
//! builds the workload (no Cedar), then decides every request once in stream order.
//!
//!   valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='kumo_iam_bench::Workload::check' \
//!     target/release/kumo-iam-checks 100000
//!
//! Instructions per check = the `Ir` total / the request count printed.
//! `kumo-iam-checks GRANTS ROUNDS` (ROUNDS > 0) also times the stream as `kumo-iam-bench` does
//! (a warm-up pass, then each check once in request order) ROUNDS times and prints each
//! round's p50 and p99: a quick wall-clock A/B without building Cedar.

use std::hint::black_box;
use std::time::{Duration, Instant};

use kumo_iam::Access;
use kumo_iam_bench::Workload;

fn main() {
    let mut args = std::env::args().skip(1);
    let grants = args
        .next()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let w = match Workload::build(grants, 20_000) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let ancestries = w.ancestries();
    let granted = w
        .requests
        .iter()
        .filter(|r| black_box(w.check(&ancestries, r)) == Access::Granted)
        .count();
    println!(
        "{} grants: {} checks, {granted} granted",
        w.grant_count,
        w.requests.len()
    );
    for round in 0..rounds {
        let mut each: Vec<Duration> = Vec::with_capacity(w.requests.len());
        for r in &w.requests {
            black_box(w.check(&ancestries, black_box(r)));
        }
        for r in &w.requests {
            let t = Instant::now();
            black_box(w.check(&ancestries, black_box(r)));
            each.push(t.elapsed());
        }
        each.sort_unstable();
        let at = |q: f64| each[((each.len() - 1) as f64 * q) as usize].as_nanos();
        println!(
            "round {}: stream p50 {} ns, p99 {} ns",
            round + 1,
            at(0.5),
            at(0.99)
        );
    }
}
