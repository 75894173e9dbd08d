//! Prints the IAM benchmark table: for each grant count, kumo-iam's per-check p50/p99 and
//! single-core decisions/s against Cedar's on the same requests, plus the compiled policies'
//! memory. Per-check times come from timing each request repeated `REPEAT` times in a row.
//!
//! usage: kumo-iam-bench [--grants 100000,1000000] [--requests 20000] [--cedar-full-max 100000]

use std::hint::black_box;
use std::time::{Duration, Instant};

use kumo_iam_bench::{CedarWorld, Workload, agreement, rss_bytes};

const REPEAT: u32 = 32;

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

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let mut rows = Vec::new();
    for &grants in &args.grants {
        eprintln!("== {grants} grants: building workload");
        let t = Instant::now();
        let w = Workload::build(grants, args.requests)?;
        eprintln!("   built in {:.1?} ({} grants)", t.elapsed(), w.grant_count);

        // Memory: RSS growth while compiling every node's policy once more.
        let before = rss_bytes();
        let again = w.compile_policies()?;
        let after = rss_bytes();
        let mem = before.zip(after).map(|(b, a)| a.saturating_sub(b));
        drop(again);

        let ancestries = w.ancestries();
        let with_full = grants <= args.cedar_full_max;
        eprintln!("   translating to Cedar (full set: {with_full})");
        let t = Instant::now();
        let cedar = CedarWorld::build(&w, with_full)?;
        eprintln!("   Cedar built in {:.1?}", t.elapsed());
        let (same, granted) = agreement(&w, &cedar, &ancestries);
        eprintln!(
            "   agreement {same}/{} ({granted} granted)",
            w.requests.len()
        );

        // kumo: warm up one pass, then time.
        let n = w.requests.len();
        for r in &w.requests {
            black_box(w.check(&ancestries, r));
        }
        let (each, _) = time_each(n, REPEAT, |i| {
            black_box(w.check(&ancestries, black_box(&w.requests[i])));
        });
        let passes = 5;
        let t = Instant::now();
        for _ in 0..passes {
            for r in &w.requests {
                black_box(w.check(&ancestries, black_box(r)));
            }
        }
        let kumo = stats(each, t.elapsed(), passes * n);

        let cn = args.cedar_requests.min(n);
        let (each, total) = time_each(cn, 1, |i| {
            black_box(cedar.check_sliced(&w, black_box(i)));
        });
        let sliced = stats(each, total, cn);

        let full = if with_full {
            let fnr = args.cedar_full_requests.min(n);
            let (each, total) = time_each(fnr, 1, |i| {
                black_box(cedar.check_full(black_box(i)));
            });
            Some(stats(each, total, fnr))
        } else {
            None
        };
        rows.push((w.grant_count, n, granted, same, mem, kumo, sliced, full));
    }

    println!();
    println!(
        "| grants | requests (granted) | kumo p50 | kumo p99 | kumo decisions/s | Cedar per-node p50 | Cedar per-node decisions/s | kumo/Cedar | Cedar one-set p50 | kumo/Cedar one-set | compiled policies (RSS) | agree |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (grants, n, granted, same, mem, k, s, f) in &rows {
        let (fp50, fratio) = match f {
            Some(f) => (fmt_d(f.p50), format!("{:.0}×", k.per_sec / f.per_sec)),
            None => ("—".into(), "—".into()),
        };
        println!(
            "| {grants} | {n} ({:.0}%) | {} | {} | {} | {} | {} | {:.0}× | {fp50} | {fratio} | {} | {same}/{n} |",
            *granted as f64 * 100.0 / *n as f64,
            fmt_d(k.p50),
            fmt_d(k.p99),
            fmt_rate(k.per_sec),
            fmt_d(s.p50),
            fmt_rate(s.per_sec),
            k.per_sec / s.per_sec,
            mem.map_or("n/a".into(), |m| format!("{:.0} MiB", m as f64 / 1048576.0)),
        );
    }
    if let [first, .., last] = rows.as_slice() {
        println!(
            "\nflatness: kumo p50 at {} grants is {:.2}× the p50 at {} grants",
            last.0,
            last.5.p50.as_secs_f64() / first.5.p50.as_secs_f64(),
            first.0
        );
    }
    Ok(())
}
