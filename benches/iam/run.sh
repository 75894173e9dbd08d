#!/usr/bin/env bash
# Reproduces the IAM benchmark figures of README.md "Performance" with one command:
#   benches/iam/run.sh            # table (kumo-iam vs Cedar, 100k and 1M grants) + criterion
#   benches/iam/run.sh --quick    # table only, 100k grants
# Standalone package (own [workspace], own target dir): `cargo test --workspace` never builds
# criterion or cedar-policy. Pinned to one core when `taskset` exists.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c 0); fi

cargo build --release --manifest-path "$here/Cargo.toml" --bin kumo-iam-bench --bin kumo-iam-checks
[[ "${1:-}" == "--quick" ]] || cargo bench --manifest-path "$here/Cargo.toml" --bench check --no-run
if [[ "${1:-}" == "--quick" ]]; then
  "${pin[@]}" "$CARGO_TARGET_DIR/release/kumo-iam-bench" --grants 100000
  exit 0
fi
"${pin[@]}" "$CARGO_TARGET_DIR/release/kumo-iam-bench" --grants 100000,1000000
# Criterion's own statistics for the same workload (short runs: warm-up 1 s, measurement 3 s).
"${pin[@]}" cargo bench --manifest-path "$here/Cargo.toml" --bench check -- \
  --warm-up-time 1 --measurement-time 3 2>&1 | grep -E '^check/|time:|thrpt:' || true
