//! Google's Rust clients (google-cloud-run-v2, -resourcemanager-v3, -iam-admin-v1,
//! -iam-credentials-v1, google-cloud-auth) against a real `kumo up`, changed only in endpoint and
//! credentials. One binary with its own small harness (`harness = false`): Kumo is started once per
//! run and stopped when the run ends, which libtest's per-test threads cannot guarantee.
//!
//! `cargo test [-- FILTER…]` runs every scenario whose name contains one of the filters.

mod kumo;
mod scenarios;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::{Duration, Instant};

type Scenario =
    for<'a> fn(&'a scenarios::World) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

fn main() -> ExitCode {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<(&str, Scenario)> = scenarios::ALL
        .iter()
        .copied()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    // `cargo test --list` (and IDEs) ask for names only.
    if std::env::args().any(|a| a == "--list") {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start a tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(selected))
}

async fn run(selected: Vec<(&str, Scenario)>) -> ExitCode {
    println!(
        "running {} scenarios against {}",
        selected.len(),
        kumo::binary().display()
    );
    let started = Instant::now();
    let world = match scenarios::World::set_up().await {
        Ok(world) => world,
        Err(error) => {
            println!("set-up FAILED: {error:#}");
            println!("0 passed, {} failed", selected.len());
            return ExitCode::FAILURE;
        }
    };
    println!("set-up ok ({:.1} s)", started.elapsed().as_secs_f64());
    let (mut passed, mut failed) = (0, Vec::new());
    for (name, scenario) in selected {
        let begun = Instant::now();
        let outcome = match tokio::time::timeout(Duration::from_secs(240), scenario(&world)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(anyhow::anyhow!("timed out after 240 s")),
        };
        match outcome {
            Ok(()) => {
                passed += 1;
                println!(
                    "test {name} ... ok ({:.1} s)",
                    begun.elapsed().as_secs_f64()
                );
            }
            Err(error) => {
                println!(
                    "test {name} ... FAILED ({:.1} s)\n    {error:#}",
                    begun.elapsed().as_secs_f64()
                );
                failed.push(name);
            }
        }
    }
    if !failed.is_empty() {
        // Kumo's side of the story (the data dir goes away with the server).
        let log = world.kumo.log();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        println!("kumo's log, last {} lines:", tail.len());
        for line in tail.iter().rev() {
            println!("    {line}");
        }
        println!("failed: {}", failed.join(", "));
    }
    world.tear_down();
    println!("{passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
