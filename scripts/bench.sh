#!/usr/bin/env bash
# Reruns the performance measurements of BENCHMARKS.md and prints the figures.
#
#   scripts/bench.sh                 every part
#   scripts/bench.sh micro load      only those parts (micro, load, dynamo)
#
# Parts (one function each; add yours as bench_<part> and list it in ALL_PARTS):
#   micro   criterion micro-benchmarks of the e2e crate (tests/benches), short measurement times;
#           prints the median of every benchmark (target/criterion/**/new/estimates.json)
#   load    tocsin-load with the in-memory store, Apprise in the same run (REPEAT runs), and the
#           1,000-routes-in-flight run for peak RSS
#   dynamo  tocsin-load with definitions and the delivery log in DynamoDB on the local emulator
#
# Settings (environment): REPEAT (load runs, default 3), EVENTS / ROUTES (default 200 / 10),
# DYNAMO_EVENTS (default 20), MEASUREMENT_TIME / WARM_UP_TIME (criterion seconds, default 3 / 1).
# The machine is shared and noisy: compare ratios measured in the same run, and medians.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

REPEAT=${REPEAT:-3}
EVENTS=${EVENTS:-200}
ROUTES=${ROUTES:-10}
DYNAMO_EVENTS=${DYNAMO_EVENTS:-20}
MEASUREMENT_TIME=${MEASUREMENT_TIME:-3}
WARM_UP_TIME=${WARM_UP_TIME:-1}
ALL_PARTS=(micro load dynamo coldstart size)

machine() {
    echo "== machine"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# The Python that runs Apprise: .venv (created with apprise when missing).
apprise_python() {
    local venv="${TOCSIN_VENV:-$root/.venv}"
    if [[ ! -x "$venv/bin/python" ]]; then
        python3 -m venv "$venv" >&2
    fi
    if ! "$venv/bin/python" -c 'import apprise' 2>/dev/null; then
        "$venv/bin/pip" install --quiet apprise >&2
    fi
    echo "$venv/bin/python"
}

# Builds tocsin-load with the benchmarks (`cargo bench --no-run` also builds the crate's binaries,
# in the release profile): one set of release artifacts for both parts instead of two (a plain
# `cargo build --release --bin tocsin-load` resolves features without the dev-dependencies, so it
# would rebuild the AWS SDK once more). `cargo run --release -p e2e --bin tocsin-load -- …` works too.
build_load() {
    cargo bench --quiet -p e2e --no-run 2>/dev/null
}

bench_micro() {
    echo "== micro-benchmarks (criterion, measurement ${MEASUREMENT_TIME}s; median per iteration)"
    local bench
    for bench in inbound routing render build; do
        # Criterion's progress goes to stderr: keep it out of the figures, show it on failure.
        if ! cargo bench --quiet -p e2e --bench "$bench" -- \
            --warm-up-time "$WARM_UP_TIME" --measurement-time "$MEASUREMENT_TIME" --noplot \
            >/dev/null 2>"$root/target/bench-$bench.log"; then
            cat "$root/target/bench-$bench.log" >&2
            return 1
        fi
    done
    python3 - "$root/target/criterion" <<'EOF'
import json, pathlib, sys
base = pathlib.Path(sys.argv[1])
rows = []
for estimates in sorted(base.glob("**/new/estimates.json")):
    benchmark = json.loads((estimates.parent / "benchmark.json").read_text())
    median = json.loads(estimates.read_text())["median"]["point_estimate"]
    rows.append((benchmark["full_id"], median))
def human(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.0f} ns"
for name, median in rows:
    print(f"{name:<60} {human(median):>12}")
EOF
}

# Median of field $2 over the RESULT lines of $1 matching the jq-less filter $3 (kind or tool).
median_of() {
    python3 - "$@" <<'EOF'
import json, statistics, sys
path, field, who = sys.argv[1], sys.argv[2], sys.argv[3]
values = []
for line in open(path, encoding="utf-8"):
    if line.startswith(("RESULT ", "RATIO ")):
        record = json.loads(line.split(" ", 1)[1])
        if record.get("kind", record.get("tool")) == who and field in record:
            values.append(record[field])
print(f"{statistics.median(values):.2f}" if values else "n/a")
EOF
}

summarise() {
    local log=$1 who
    printf '%-9s %12s %10s %10s %10s %12s\n' who 'deliveries/s' 'p50 ms' 'p90 ms' 'p99 ms' 'peak RSS MiB'
    for who in apprise email webhook; do
        grep -q "\"$who\"" "$log" || continue
        printf '%-9s %12s %10s %10s %10s %12s\n' "$who" "$(median_of "$log" per_second "$who")" \
            "$(median_of "$log" p50_ms "$who")" "$(median_of "$log" p90_ms "$who")" \
            "$(median_of "$log" p99_ms "$who")" "$(median_of "$log" peak_rss_mb "$who")"
    done
    for who in email webhook; do
        grep -q "^RATIO .*\"$who\"" "$log" || continue
        echo "ratio to Apprise ($who, median of the per-run ratios): $(median_of "$log" ratio "$who")×"
    done
}

bench_load() {
    local python log
    python=$(apprise_python)
    build_load
    log=$(mktemp)
    echo "== whole path, in-memory store: $EVENTS events × $ROUTES routes, Apprise in the same run, $REPEAT runs"
    for _ in $(seq "$REPEAT"); do
        target/release/tocsin-load --events "$EVENTS" --routes "$ROUTES" --store memory --apprise "$python" | tee -a "$log"
    done
    echo "-- medians over $REPEAT runs"
    summarise "$log"
    echo "== 1,000 routes in flight (one event reaching 1,000 routes), in-memory store; peak RSS per kind, own process each, $REPEAT runs"
    : >"$log"
    for _ in $(seq "$REPEAT"); do
        for kind in email webhook; do
            target/release/tocsin-load --events 1 --routes 1000 --store memory --kind "$kind" | tee -a "$log"
        done
    done
    echo "-- medians over $REPEAT runs"
    summarise "$log"
    rm -f "$log"
}

bench_dynamo() {
    local log
    if [[ -z "${TOCSIN_MOTO_URL:-}" ]]; then
        TOCSIN_MOTO_URL=$(cat "$root/.tocsin/moto.url" 2>/dev/null || true)
        export TOCSIN_MOTO_URL
    fi
    if [[ -z "$TOCSIN_MOTO_URL" ]]; then
        echo "bench dynamo: no emulator: start it with scripts/local-stack.sh start or set TOCSIN_MOTO_URL" >&2
        return 1
    fi
    build_load
    log=$(mktemp)
    echo "== whole path, DynamoDB (moto) definitions + delivery log: $DYNAMO_EVENTS events × $ROUTES routes, $REPEAT runs"
    for _ in $(seq "$REPEAT"); do
        target/release/tocsin-load --events "$DYNAMO_EVENTS" --routes "$ROUTES" --store dynamo | tee -a "$log"
    done
    echo "-- medians over $REPEAT runs"
    summarise "$log"
    echo "== 1,000 routes in flight with the DynamoDB delivery log (the functions' configuration), one event, per kind"
    : >"$log"
    for kind in email webhook; do
        target/release/tocsin-load --events 1 --routes 1000 --store dynamo --kind "$kind" | tee -a "$log"
    done
    summarise "$log"
    rm -f "$log"
}

# Cold start and artefact size live in scripts/bench-startup.sh (their own build profiles).
bench_coldstart() {
    bash "$root/scripts/bench-startup.sh" coldstart "${COLDSTART_RUNS:-30}"
}

bench_size() {
    bash "$root/scripts/bench-startup.sh" size
}

main() {
    local parts=("$@") part
    [[ ${#parts[@]} -gt 0 ]] || parts=("${ALL_PARTS[@]}")
    machine
    for part in "${parts[@]}"; do
        if ! declare -F "bench_$part" >/dev/null; then
            echo "unknown part \`$part\` (known: ${ALL_PARTS[*]})" >&2
            exit 2
        fi
        "bench_$part"
    done
}

main "$@"
