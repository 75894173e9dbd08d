//! Prints the IAM benchmark table: for each grant count, kumo-iam's per-check p50/p99 and
//! single-core decisions/s against Cedar's on the same requests, plus the compiled policies'
//! memory and the allocations made while deciding. "Stream" latencies time each check once,
//! in request order (caches as a server sees them); "warm" ones repeat a request `REPEAT`
//! times and divide (the engine's CPU cost with its data in cache).
//!
//! usage: kumo-iam-bench [--grants 100000,1000000] [--requests 20000] [--cedar-full-max 100000]

use std::alloc::System;
use std::hint::black_box;
use std::time::{Duration, Instant};

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use kumo_iam::Access;
use kumo_iam_bench::{CedarWorld, Workload, agreement};

const REPEAT: u32 = 32;

/// Counts allocations: the memory figure and the "no allocation on the hot path" check.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Net heap bytes allocated by `f` and kept alive in its result.
fn heap_growth<T>(f: impl FnOnce() -> T) -> (T, i64) {
    let region = Region::new(GLOBAL);
    let out = f();
    let c = region.change();
    let net = c.bytes_allocated as i64 - c.bytes_deallocated as i64 + c.bytes_reallocated as i64;
    (out, net)
}

/// Allocations made by `f`.
fn allocations(f: impl FnOnce()) -> usize {
    let region = Region::new(GLOBAL);
    f();
    region.change().allocations
}

struct Args {
    grants: Vec<usize>,
    requests: usize,
    cedar_requests: usize,
    cedar_full_max: usize,
    cedar_full_requests: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        grants: vec![100_000, 1_000_000],
        requests: 20_000,
        cedar_requests: 2_000,
        cedar_full_max: 100_000,
        cedar_full_requests: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |s: &str| {
            s.replace('_', "")
                .parse::<usize>()
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--grants" => a.grants = v.split(',').map(num).collect::<Result<_, _>>()?,
            "--requests" => a.requests = num(&v)?,
            "--cedar-requests" => a.cedar_requests = num(&v)?,
            "--cedar-full-max" => a.cedar_full_max = num(&v)?,
            "--cedar-full-requests" => a.cedar_full_requests = num(&v)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

struct Stats {
    p50: Duration,
    p99: Duration,
    per_sec: f64,
}

fn stats(mut per_check: Vec<Duration>, total: Duration, checks: usize) -> Stats {
    per_check.sort_unstable();
    let at = |q: f64| per_check[((per_check.len() - 1) as f64 * q) as usize];
    Stats {
        p50: at(0.5),
        p99: at(0.99),
        per_sec: checks as f64 / total.as_secs_f64(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn fmt_d(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} k/s", r / 1e3)
    } else {
        format!("{r:.1} /s")
    }
}

fn time_each(n: usize, repeat: u32, mut f: impl FnMut(usize)) -> (Vec<Duration>, Duration) {
    let mut each = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        for _ in 0..repeat {
            f(i);
        }
        each.push(t.elapsed() / repeat);
    }
    (each, start.elapsed())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// One grant count's figures.
struct Row {
    grants: usize,
    requests: usize,
    granted: usize,
    agree: usize,
    /// Heap bytes held by every node's compiled policy.
    memory: i64,
    kumo: Stats,
    kumo_warm_p50: Duration,
    kumo_p50_granted: Duration,
    kumo_p50_denied: Duration,
    kumo_allocs_per_check: f64,
    cedar_allocs_per_check: f64,
    cedar_per_node: Stats,
    cedar_one_set: Option<Stats>,
}

fn measure(grants: usize, args: &Args) -> Result<Row, String> {
    eprintln!("== {grants} grants: building workload");
    let t = Instant::now();
    let w = Workload::build(grants, args.requests)?;
    eprintln!("   built in {:.1?} ({} grants)", t.elapsed(), w.grant_count);

    let (again, memory) = heap_growth(|| w.compile_policies());
    drop(again?);

    let ancestries = w.ancestries();
    let with_full = grants <= args.cedar_full_max;
    eprintln!("   translating to Cedar (one set too: {with_full})");
    let t = Instant::now();
    let cedar = CedarWorld::build(&w, with_full)?;
    eprintln!("   Cedar built in {:.1?}", t.elapsed());
    let (agree, granted) = agreement(&w, &cedar, &ancestries);
    let n = w.requests.len();
    eprintln!("   agreement {agree}/{n} ({granted} granted)");

    // kumo: one warm-up pass, stream and warm per-check timings, whole passes for throughput.
    for r in &w.requests {
        black_box(w.check(&ancestries, r));
    }
    let (stream, _) = time_each(n, 1, |i| {
        black_box(w.check(&ancestries, black_box(&w.requests[i])));
    });
    let (warm, _) = time_each(n, REPEAT, |i| {
        black_box(w.check(&ancestries, black_box(&w.requests[i])));
    });
    // Denied requests walk the whole ancestry: theirs is the p50 to hold flat.
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for (r, d) in w.requests.iter().zip(&stream) {
        match w.check(&ancestries, r) {
            Access::Granted => yes.push(*d),
            _ => no.push(*d),
        }
    }
    let passes = 5;
    let t = Instant::now();
    for _ in 0..passes {
        for r in &w.requests {
            black_box(w.check(&ancestries, black_box(r)));
        }
    }
    let kumo = stats(stream, t.elapsed(), passes * n);
    let kumo_allocs = allocations(|| {
        for r in &w.requests {
            black_box(w.check(&ancestries, black_box(r)));
        }
    });

    let cn = args.cedar_requests.min(n);
    let (each, total) = time_each(cn, 1, |i| {
        black_box(cedar.check_sliced(&w, black_box(i)));
    });
    let cedar_per_node = stats(each, total, cn);
    let cedar_allocs = allocations(|| {
        for i in 0..cn {
            black_box(cedar.check_sliced(&w, black_box(i)));
        }
    });
    let cedar_one_set = with_full.then(|| {
        let fnr = args.cedar_full_requests.min(n);
        let (each, total) = time_each(fnr, 1, |i| {
            black_box(cedar.check_full(black_box(i)));
        });
        stats(each, total, fnr)
    });
    Ok(Row {
        grants: w.grant_count,
        requests: n,
        granted,
        agree,
        memory,
        kumo,
        kumo_warm_p50: median(warm),
        kumo_allocs_per_check: kumo_allocs as f64 / n as f64,
        cedar_allocs_per_check: cedar_allocs as f64 / cn as f64,
        kumo_p50_granted: median(yes),
        kumo_p50_denied: median(no),
        cedar_per_node,
        cedar_one_set,
    })
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let rows = args
        .grants
        .iter()
        .map(|&g| measure(g, &args))
        .collect::<Result<Vec<_>, _>>()?;

    println!();
    println!(
        "| grants | requests (granted) | kumo p50 stream | p50 granted / denied | p99 stream | p50 warm | decisions/s | allocs/check | compiled policies (heap) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} ({:.0}%) | {} | {} / {} | {} | {} | {} | {:.2} | {:.0} MiB |",
            r.grants,
            r.requests,
            r.granted as f64 * 100.0 / r.requests as f64,
            fmt_d(r.kumo.p50),
            fmt_d(r.kumo_p50_granted),
            fmt_d(r.kumo_p50_denied),
            fmt_d(r.kumo.p99),
            fmt_d(r.kumo_warm_p50),
            fmt_rate(r.kumo.per_sec),
            r.kumo_allocs_per_check,
            r.memory as f64 / 1_048_576.0,
        );
    }
    println!();
    println!(
        "| grants | Cedar per-node p50 | Cedar per-node decisions/s | Cedar allocs/check | kumo/Cedar | Cedar one-set p50 | kumo/Cedar one-set | same decisions |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let (one_p50, one_ratio) = match &r.cedar_one_set {
            Some(f) => (fmt_d(f.p50), format!("{:.0}×", r.kumo.per_sec / f.per_sec)),
            None => ("—".into(), "—".into()),
        };
        println!(
            "| {} | {} | {} | {:.0} | {:.0}× | {one_p50} | {one_ratio} | {}/{} |",
            r.grants,
            fmt_d(r.cedar_per_node.p50),
            fmt_rate(r.cedar_per_node.per_sec),
            r.cedar_allocs_per_check,
            r.kumo.per_sec / r.cedar_per_node.per_sec,
            r.agree,
            r.requests,
        );
    }
    if let [first, .., last] = rows.as_slice() {
        println!(
            "\nflatness ({} → {} grants): kumo stream p50 ×{:.2}, denied p50 ×{:.2}, warm p50 ×{:.2}, decisions/s ×{:.2}",
            first.grants,
            last.grants,
            last.kumo.p50.as_secs_f64() / first.kumo.p50.as_secs_f64(),
            last.kumo_p50_denied.as_secs_f64() / first.kumo_p50_denied.as_secs_f64(),
            last.kumo_warm_p50.as_secs_f64() / first.kumo_warm_p50.as_secs_f64(),
            last.kumo.per_sec / first.kumo.per_sec,
        );
    }
    Ok(())
}
