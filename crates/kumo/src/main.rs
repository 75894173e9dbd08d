//! The `kumo` binary: the composition root. `kumo up` builds the store, the control plane and the
//! listeners from settings parsed once here; every other subcommand is the gcloud-shaped CLI
//! (`kumo-cli`), a client of the HTTP API. Invoked through a symlink named `gcloud`, it is that CLI.

mod demo;
mod samples;
mod server;

use std::process::ExitCode;

/// The gateway allocates a little per request on every thread; glibc's allocator spent ~17% of
/// the data plane's CPU under load (perf, benches/gateway), mimalloc's thread caches a fraction.
/// mimalloc (v3, its `no_thp` feature off) also madvises its arenas for transparent huge pages,
/// so the compiled IAM policies sit on 2 MiB pages: cold checks 4–11 % faster than on 4 KiB
/// pages at 100,000 and 1,000,000 grants (benches/iam, README "IAM decisions").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("up") => server::main(&args[1..]),
        Some("__sample") => samples::main(&args[2..]),
        _ => ExitCode::from(kumo_cli::main(args)),
    }
}
