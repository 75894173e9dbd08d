#!/usr/bin/env bash
# Start-up time and idle memory of `kumo up` (issue 3: "under 100 ms to ready, idle memory small").
# Creates a data dir with the demo world once, then restarts Kumo on it RUNS times and measures
# the wall time from exec to the first `GET /healthz` answering 200, and Kumo's RSS once idle.
# Usage: benches/startup/run.sh [RUNS]   (needs python3; builds target/release/kumo if missing)
set -euo pipefail
RUNS=${1:-20}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KUMO=${KUMO_BIN:-$ROOT/target/release/kumo}
[ -x "$KUMO" ] || (cd "$ROOT" && cargo build --release -p kumo)
WORK=$(mktemp -d /tmp/kumo-startup.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
python3 - "$KUMO" "$WORK" "$RUNS" <<'PY'
import os, signal, socket, statistics, subprocess, sys, time, urllib.request

kumo, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = os.path.join(work, "data")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def start(extra):
    port = free_port()
    t0 = time.perf_counter()
    p = subprocess.Popen([kumo, "up", "--data-dir", data, "--port", str(port), *extra],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return p, time.perf_counter() - t0
        except OSError:
            if p.poll() is not None:
                sys.exit("kumo exited")
            time.sleep(0.001)

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])

def stop(p):
    p.send_signal(signal.SIGINT); p.wait(timeout=30)

p, first = start(["--demo"])       # empty dir: bootstrap + demo (key generation included)
time.sleep(1); stop(p)
times, rss = [], []
for _ in range(runs):
    p, t = start([])
    times.append(t)
    time.sleep(0.5)
    rss.append(rss_kib(p.pid))
    stop(p)
times.sort()
print(f"first start on an empty dir (bootstrap + demo): {first * 1000:.0f} ms")
print(f"restart on the existing dir, to /healthz 200 ({runs} runs): "
      f"p50 {statistics.median(times) * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms (target < 100 ms)")
print(f"idle RSS after start: {statistics.median(rss) / 1024:.1f} MiB")
PY
