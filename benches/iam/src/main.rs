//! Prints the IAM benchmark table: for each grant count, kumo-iam's per-check p50/p99 and
//! single-core decisions/s against Cedar's on the same requests, plus the compiled policies'
//! memory and the allocations made while deciding. "Stream" latencies time each check once,
//! in request order (caches as a server sees them); "warm" ones repeat a request `REPEAT`
//! times and divide (the engine's CPU cost with its data in cache). "Fresh caller" is the
//! stream with each caller's `Subject` built just before its check, untimed, as the control
//! plane builds it per request (its strings in cache; the plain stream's 20,000 prebuilt
//! subjects are cold). "Fresh request" also builds the request's `Ancestry` just before its
//! check, as the control plane builds it per request (the 10,000 prebuilt ones are cold, and
//! the policies are shared through `Arc`s as in its cache). "Resolved" runs the same
//! requests through `Engine::check_resolved`, with each caller's `ResolvedSubject` and the
//! permission ids prepared once, as a caller that caches them would. Every size is built first,
//! then `--rounds` measurement rounds alternate between sizes (so a burst of load elsewhere on
//! the machine hits all sizes alike) and the table shows each figure's median over rounds.
//!
//! usage: kumo-iam-bench [--grants 100000,1000000] [--requests 20000] [--rounds 5]
//!                       [--cedar-requests 2000] [--cedar-full-max 100000] [--cedar-full-requests 20]

use std::hint::black_box;
use std::time::{Duration, Instant};

use mimalloc::MiMalloc;
use stats_alloc::{Region, StatsAlloc};

use kumo_iam::Access;
use kumo_iam_bench::{CedarWorld, Workload, agreement};

const REPEAT: u32 = 32;

/// Counts allocations: the memory figure and the "no allocation on the hot path" check. Over
/// the server's allocator (crates/kumo), which decides the compiled policies' page size.
#[global_allocator]
static GLOBAL: StatsAlloc<MiMalloc> = StatsAlloc::new(MiMalloc);

/// Net heap bytes allocated by `f` and kept alive in its result.
fn heap_growth<T>(f: impl FnOnce() -> T) -> (T, i64) {
    let region = Region::new(&GLOBAL);
    let out = f();
    let c = region.change();
    let net = c.bytes_allocated as i64 - c.bytes_deallocated as i64 + c.bytes_reallocated as i64;
    (out, net)
}

/// Allocations made by `f`.
fn allocations(f: impl FnOnce()) -> usize {
    let region = Region::new(&GLOBAL);
    f();
    region.change().allocations
}

struct Args {
    grants: Vec<usize>,
    requests: usize,
    rounds: usize,
    cedar_requests: usize,
    cedar_full_max: usize,
    cedar_full_requests: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        grants: vec![100_000, 1_000_000],
        requests: 20_000,
        rounds: 5,
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
            "--rounds" => a.rounds = num(&v)?.max(1),
            "--cedar-requests" => a.cedar_requests = num(&v)?,
            "--cedar-full-max" => a.cedar_full_max = num(&v)?,
            "--cedar-full-requests" => a.cedar_full_requests = num(&v)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn median_f(mut v: Vec<f64>) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    v.sort_unstable();
    v.get(((v.len().max(1) - 1) as f64 * q) as usize)
        .copied()
        .unwrap_or_default()
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

/// Times `f(i)` for `i` in `0..n`, each `repeat` times in a row; per-call times and the total.
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

/// A built size: the workload, its Cedar translation and what does not need timing.
struct Setup {
    w: Workload,
    cedar: CedarWorld,
    /// Heap bytes held by every node's compiled policy.
    memory: i64,
    granted: usize,
    agree: usize,
}

fn setup(grants: usize, args: &Args) -> Result<Setup, String> {
    eprintln!("== {grants} grants: building workload");
    let t = Instant::now();
    let w = Workload::build(grants, args.requests)?;
    eprintln!("   built in {:.1?} ({} grants)", t.elapsed(), w.grant_count);
    let (again, memory) = heap_growth(|| w.compile_policies());
    drop(again?);
    eprintln!(
        "   compiled policies: {:.0} MiB (bindings share their role's permission bitset)",
        memory as f64 / 1_048_576.0
    );
    let with_full = grants <= args.cedar_full_max;
    eprintln!("   translating to Cedar (one set too: {with_full})");
    let t = Instant::now();
    let cedar = CedarWorld::build(&w, with_full)?;
    eprintln!("   Cedar built in {:.1?}", t.elapsed());
    let (agree, granted) = agreement(&w, &cedar, &w.ancestries());
    eprintln!(
        "   agreement {agree}/{} ({granted} granted)",
        w.requests.len()
    );
    Ok(Setup {
        w,
        cedar,
        memory,
        granted,
        agree,
    })
}

/// One round's timings of one size.
struct Round {
    kumo_p50: Duration,
    kumo_p99: Duration,
    fresh_p50: Duration,
    request_p50: Duration,
    kumo_warm_p50: Duration,
    kumo_p50_granted: Duration,
    kumo_p50_denied: Duration,
    kumo_per_sec: f64,
    kumo_allocs: usize,
    resolved_p50: Duration,
    resolved_warm_p50: Duration,
    cedar_p50: Duration,
    cedar_per_sec: f64,
    cedar_allocs: usize,
    cedar_one_p50: Option<Duration>,
    cedar_one_per_sec: Option<f64>,
}

fn round(s: &Setup, args: &Args) -> Round {
    let (w, cedar) = (&s.w, &s.cedar);
    let ancestries = w.ancestries();
    let n = w.requests.len();
    let check = |i: usize| black_box(w.check(&ancestries, black_box(&w.requests[i])));
    // Warm-up pass, then stream and warm per-check timings, then whole passes for throughput.
    (0..n).for_each(|i| {
        check(i);
    });
    let (mut stream, _) = time_each(n, 1, |i| {
        check(i);
    });
    let mut fresh = w.time_fresh_callers(&ancestries);
    let mut request = w.time_fresh_requests();
    let (warm, _) = time_each(n, REPEAT, |i| {
        check(i);
    });
    // Denied requests walk the whole ancestry: theirs is the p50 to hold flat.
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for (i, d) in stream.iter().enumerate() {
        match w.check(&ancestries, &w.requests[i]) {
            Access::Granted => yes.push(*d),
            _ => no.push(*d),
        }
    }
    let passes = 5;
    let t = Instant::now();
    for _ in 0..passes {
        (0..n).for_each(|i| {
            check(i);
        });
    }
    let kumo_per_sec = (passes * n) as f64 / t.elapsed().as_secs_f64();
    let kumo_allocs = allocations(|| {
        (0..n).for_each(|i| {
            check(i);
        })
    });
    // The same requests with the subject resolved and the permission interned by the caller.
    let subjects = w.resolved_subjects();
    let perms = w.permission_ids();
    let resolved = |i: usize| {
        black_box(w.check_resolved(&ancestries, &subjects, &perms, black_box(&w.requests[i])))
    };
    (0..n).for_each(|i| {
        resolved(i);
    });
    let (mut resolved_stream, _) = time_each(n, 1, |i| {
        resolved(i);
    });
    let (resolved_warm, _) = time_each(n, REPEAT, |i| {
        resolved(i);
    });

    let cn = args.cedar_requests.min(n);
    let (mut cedar_each, cedar_total) = time_each(cn, 1, |i| {
        black_box(cedar.check_sliced(w, black_box(i)));
    });
    let cedar_allocs = allocations(|| {
        for i in 0..cn {
            black_box(cedar.check_sliced(w, black_box(i)));
        }
    });
    let one = cedar.full.is_some().then(|| {
        let fnr = args.cedar_full_requests.min(n);
        let (mut each, total) = time_each(fnr, 1, |i| {
            black_box(cedar.check_full(black_box(i)));
        });
        (quantile(&mut each, 0.5), fnr as f64 / total.as_secs_f64())
    });
    Round {
        kumo_p50: quantile(&mut stream, 0.5),
        kumo_p99: quantile(&mut stream, 0.99),
        fresh_p50: quantile(&mut fresh, 0.5),
        request_p50: quantile(&mut request, 0.5),
        kumo_warm_p50: median(warm),
        kumo_p50_granted: median(yes),
        kumo_p50_denied: median(no),
        kumo_per_sec,
        kumo_allocs,
        resolved_p50: quantile(&mut resolved_stream, 0.5),
        resolved_warm_p50: median(resolved_warm),
        cedar_p50: quantile(&mut cedar_each, 0.5),
        cedar_per_sec: cn as f64 / cedar_total.as_secs_f64(),
        cedar_allocs,
        cedar_one_p50: one.map(|o| o.0),
        cedar_one_per_sec: one.map(|o| o.1),
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let setups = args
        .grants
        .iter()
        .map(|&g| setup(g, &args))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rounds: Vec<Vec<Round>> = setups.iter().map(|_| Vec::new()).collect();
    for r in 0..args.rounds {
        eprintln!("== round {}/{}", r + 1, args.rounds);
        for (s, out) in setups.iter().zip(&mut rounds) {
            out.push(round(s, &args));
        }
    }
    // Median over rounds of one figure.
    let md = |rs: &[Round], f: &dyn Fn(&Round) -> Duration| median(rs.iter().map(f).collect());
    let mf = |rs: &[Round], f: &dyn Fn(&Round) -> f64| median_f(rs.iter().map(f).collect());

    println!();
    println!(
        "| grants | requests (granted) | kumo p50 stream | p50 stream, fresh caller / request | p50 granted / denied | p99 stream | p50 warm | decisions/s | allocs/check | compiled policies (heap) | resolved p50 stream / warm |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (s, rs) in setups.iter().zip(&rounds) {
        let n = s.w.requests.len();
        println!(
            "| {} | {n} ({:.0}%) | {} | {} / {} | {} / {} | {} | {} | {} | {:.2} | {:.0} MiB | {} / {} |",
            s.w.grant_count,
            s.granted as f64 * 100.0 / n as f64,
            fmt_d(md(rs, &|r| r.kumo_p50)),
            fmt_d(md(rs, &|r| r.fresh_p50)),
            fmt_d(md(rs, &|r| r.request_p50)),
            fmt_d(md(rs, &|r| r.kumo_p50_granted)),
            fmt_d(md(rs, &|r| r.kumo_p50_denied)),
            fmt_d(md(rs, &|r| r.kumo_p99)),
            fmt_d(md(rs, &|r| r.kumo_warm_p50)),
            fmt_rate(mf(rs, &|r| r.kumo_per_sec)),
            mf(rs, &|r| r.kumo_allocs as f64) / n as f64,
            s.memory as f64 / 1_048_576.0,
            fmt_d(md(rs, &|r| r.resolved_p50)),
            fmt_d(md(rs, &|r| r.resolved_warm_p50)),
        );
    }
    println!();
    println!(
        "| grants | Cedar per-node p50 | Cedar per-node decisions/s | Cedar allocs/check | kumo/Cedar | Cedar one-set p50 | kumo/Cedar one-set | same decisions |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (s, rs) in setups.iter().zip(&rounds) {
        let n = s.w.requests.len();
        let cn = args.cedar_requests.min(n) as f64;
        let kumo = mf(rs, &|r| r.kumo_per_sec);
        let (one_p50, one_ratio) = if s.cedar.full.is_some() {
            (
                fmt_d(md(rs, &|r| r.cedar_one_p50.unwrap_or_default())),
                format!(
                    "{:.0}×",
                    kumo / mf(rs, &|r| r.cedar_one_per_sec.unwrap_or(f64::NAN))
                ),
            )
        } else {
            ("—".into(), "—".into())
        };
        let cedar = mf(rs, &|r| r.cedar_per_sec);
        println!(
            "| {} | {} | {} | {:.0} | {:.0}× | {one_p50} | {one_ratio} | {}/{n} |",
            s.w.grant_count,
            fmt_d(md(rs, &|r| r.cedar_p50)),
            fmt_rate(cedar),
            mf(rs, &|r| r.cedar_allocs as f64) / cn,
            kumo / cedar,
            s.agree,
        );
    }
    if let ([first, .., last], [rf, .., rl]) = (setups.as_slice(), rounds.as_slice()) {
        let ratio =
            |f: &dyn Fn(&Round) -> Duration| md(rl, f).as_secs_f64() / md(rf, f).as_secs_f64();
        println!(
            "\nflatness ({} → {} grants): kumo stream p50 ×{:.2}, fresh caller ×{:.2}, fresh request ×{:.2}, denied p50 ×{:.2}, warm p50 ×{:.2}, decisions/s ×{:.2} (medians of {} rounds)",
            first.w.grant_count,
            last.w.grant_count,
            ratio(&|r| r.kumo_p50),
            ratio(&|r| r.fresh_p50),
            ratio(&|r| r.request_p50),
            ratio(&|r| r.kumo_p50_denied),
            ratio(&|r| r.kumo_warm_p50),
            mf(rl, &|r| r.kumo_per_sec) / mf(rf, &|r| r.kumo_per_sec),
            args.rounds,
        );
    }
    Ok(())
}
