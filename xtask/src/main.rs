//! Repository chores. `cargo run -p xtask -- tidy` runs the same checks as `cargo test -p xtask`.

use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("tidy") => {
            let problems = xtask::tidy::problems(&xtask::workspace_root());
            for problem in &problems {
                eprintln!("tidy: {problem}");
            }
            if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => {
            eprintln!("usage: cargo run -p xtask -- tidy");
            ExitCode::from(2)
        }
    }
}
