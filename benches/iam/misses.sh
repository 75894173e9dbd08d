#!/usr/bin/env bash
# Load-independent cache figures per check: callgrind with its cache simulator over the stream
# of 20,000 checks (kumo-iam-checks; no warm-up, so the data starts as cold as after the build).
#   benches/iam/misses.sh [GRANTS] [LL bytes] [cold|fresh|request] [warm]   # default 100000, the host's LL (32 MiB here)
# `fresh` counts checks whose caller's `Subject` was built just before (as the control plane does
# per request: its strings in cache) instead of the cold prebuilt ones; `request` those whose
# caller and `Ancestry` were both built just before (as the control plane builds both).
# `warm` counts a second pass over the same stream (the first uncounted), so the simulated
# cache holds what a pass leaves behind, as in the timed rounds, not what the build left.
# CHECKS_BIN=path runs another build of kumo-iam-checks (e.g. an older commit's) instead.
# Prints instructions, data reads, L1 and last-level read misses per check.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
grants="${1:-100000}"
ll=()
if [[ -n "${2:-}" ]]; then ll=(--LL="$2,16,64"); fi
caller="${3:-cold}"
warm=()
if [[ "${4:-}" == warm ]]; then warm=(--zero-before='kumo_iam_checks::second_pass'); fi
fn='kumo_iam_bench::Workload::check'
[[ "$caller" != fresh ]] || fn='kumo_iam_bench::Workload::check_as'
[[ "$caller" != request ]] || fn='kumo_iam_bench::Workload::check_fresh'
bin="${CHECKS_BIN:-$CARGO_TARGET_DIR/release/kumo-iam-checks}"
[[ -n "${CHECKS_BIN:-}" ]] || cargo build --release --manifest-path "$here/Cargo.toml" --bin kumo-iam-checks 2>/dev/null
out="$(mktemp)"
valgrind --tool=callgrind --cache-sim=yes "${ll[@]}" --collect-atstart=no \
  --toggle-collect="$fn" "${warm[@]}" --callgrind-out-file="$out" \
  "$bin" "$grants" 0 "$caller" ${4:-} >/dev/null 2>&1
checks=20000
grep -E '^(summary|events):' "$out" | awk -v n="$checks" '
  /^events:/ { for (i = 2; i <= NF; i++) name[i] = $i }
  /^summary:/ { for (i = 2; i in name; i++) printf "%s/check %.1f\n", name[i], $i / n }'
rm -f "$out"
