//! The kumo side of the benchmark alone, for a load-independent cross-check under callgrind:
//! builds the workload (no Cedar), then decides every request once in stream order.
//!
//!   valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='kumo_iam_bench::Workload::check' \
//!     target/release/kumo-iam-checks 100000
//!
//! Instructions per check = the `Ir` total / the request count printed.

use std::hint::black_box;

use kumo_iam::Access;
use kumo_iam_bench::Workload;

fn main() {
    let grants = std::env::args()
        .nth(1)
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(100_000);
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
}
