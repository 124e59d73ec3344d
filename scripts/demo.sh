#!/usr/bin/env bash
# The demo (`make demo`): installs what it needs, starts a fresh local AWS emulator of its own, runs
# `tocsin demo` (tables, topic, definitions, the sample alerts through the real function code, and a
# print-out of the e-mails, text messages, webhook requests, voice calls at a local voice endpoint and
# the delivery log), then stops the emulator again.
#
# Needs only Rust (cargo) and Python 3 with pip; moto goes into .venv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Its own emulator, apart from the one the tests may be using, so every run starts empty.
export TOCSIN_STATE_DIR="$root/.tocsin/demo"
stack="$root/scripts/local-stack.sh"
trap '"$stack" stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "==> building the tocsin command"
cargo build --quiet -p tocsin

echo "==> starting the local AWS emulator (moto server)"
AWS_ENDPOINT_URL=$("$stack" start)
export AWS_ENDPOINT_URL
# Dummy credentials: the demo can only ever talk to the emulator.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export RUST_LOG="${RUST_LOG:-warn}"

"${CARGO_TARGET_DIR:-$root/target}/debug/tocsin" demo -f examples/definitions.yaml --alerts examples/alerts
