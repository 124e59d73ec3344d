#!/usr/bin/env bash
# The fault-injection suite (tocsin-faults, see tests/src/faults/mod.rs), full size: 10,000 alerts
# over 20 integrations of every kind, 30 % of target requests failing, emulator outages, Lambda's
# retries, the on-failure queue drained with `tocsin replay`, and a kill run per kind.
#
#   scripts/faults.sh [tocsin-faults options…]     e.g. --alerts 2000, --fault-rate 0.5, --no-kill
#
# Runs against a fresh emulator of its own (stopped at the end), release build. Prints the report
# as Markdown (paste it into RELIABILITY.md with the command line) and a RESULT line; exits 1 when
# an alert was lost or delivered twice.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export TOCSIN_STATE_DIR="$root/.tocsin/faults"
stack="$root/scripts/local-stack.sh"
cleanup() { "$stack" stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$stack" stop >/dev/null 2>&1 || true
TOCSIN_MOTO_URL=$("$stack" start)
export TOCSIN_MOTO_URL
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
cargo build --release -p e2e --bin tocsin-faults
echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d)" >&2
echo "command: scripts/faults.sh $*" >&2
target/release/tocsin-faults "$@"
