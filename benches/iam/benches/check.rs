//! Criterion view of the same workload as the `kumo-iam-bench` table: one iteration is one
//! decision, cycling through the request mix. Sizes come from `KUMO_BENCH_GRANTS`
//! (comma-separated, default `100000,1000000`); Cedar's single policy set only up to 100,000.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kumo_iam_bench::{CedarWorld, Workload};

fn sizes() -> Vec<usize> {
    std::env::var("KUMO_BENCH_GRANTS")
        .ok()
        .and_then(|v| v.split(',').map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000])
}

fn bench(c: &mut Criterion) {
    for grants in sizes() {
        let w = Workload::build(grants, 20_000).expect("workload");
        let ancestries = w.ancestries();
        let cedar = CedarWorld::build(&w, grants <= 100_000).expect("cedar");
        let n = w.requests.len();

        let mut g = c.benchmark_group("check");
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(3));
        let mut i = 0;
        g.bench_function(BenchmarkId::new("kumo", grants), |b| {
            b.iter(|| {
                i = (i + 1) % n;
                black_box(w.check(&ancestries, black_box(&w.requests[i])))
            })
        });
        g.sample_size(10);
        let mut i = 0;
        g.bench_function(BenchmarkId::new("cedar_per_node", grants), |b| {
            b.iter(|| {
                i = (i + 1) % n;
                black_box(cedar.check_sliced(&w, black_box(i)))
            })
        });
        if cedar.full.is_some() {
            let mut i = 0;
            g.bench_function(BenchmarkId::new("cedar_one_set", grants), |b| {
                b.iter(|| {
                    i = (i + 1) % n;
                    black_box(cedar.check_full(black_box(i)))
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
