#!/usr/bin/env bash
# The test command (`make test`, and CI through .ci/run): installs what it needs, starts the local AWS
# emulator, runs every check, stops the emulator again, and ends with a summary line.
#
# Needs only Rust (rustup, cargo) and Python 3 with pip; the Python tools go into .venv.
# Every check runs even when an earlier one fails, so one run reports every problem.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

started=$(date +%s)
stack="$root/scripts/local-stack.sh"

say() { printf '\n==> %s\n' "$*"; }

say "python tools (.venv: moto server, cfn-lint, aws-sam-cli)"
t0=$(date +%s)
"$stack" tools
echo "ready in $(($(date +%s) - t0)) s"
export PATH="$root/.venv/bin:$PATH"

say "rust components (rustfmt, clippy)"
missing=()
cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v rustup >/dev/null 2>&1; then
    echo "missing rust components ${missing[*]} and no rustup to install them: install them with your toolchain" >&2
    exit 1
  fi
  rustup component add "${missing[@]}"
fi

# Start the emulator unless this checkout's is already running (`make stack-up`); stop it on any exit
# only if this script started it.
if "$stack" running; then
  owns_stack=false
else
  owns_stack=true
fi
cleanup() {
  if [ "$owns_stack" = true ]; then
    "$stack" stop
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
say "local AWS emulator"
TOCSIN_MOTO_URL=$("$stack" start)
export TOCSIN_MOTO_URL
echo "moto at $TOCSIN_MOTO_URL"

# Tests talk to the emulator only: dummy credentials, so nothing can reach a real account by accident.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export SAM_CLI_TELEMETRY=0
if [ "${CI:-}" = true ]; then
  # A fresh clone builds once: incremental state would only cost time and disk.
  export CARGO_TERM_COLOR=never CARGO_INCREMENTAL=0
fi

results=()
failed_checks=0
test_log=$(mktemp)
check() {
  local name=$1; shift
  say "$name: $*"
  local t0; t0=$(date +%s)
  if "$@"; then
    results+=("ok    $name ($(($(date +%s) - t0)) s)")
  else
    results+=("FAIL  $name ($(($(date +%s) - t0)) s)")
    failed_checks=$((failed_checks + 1))
  fi
}
cargo_test() {
  # One command (no separate build first): dev-dependencies change features, a build would compile twice.
  cargo test --workspace --no-fail-fast 2>&1 | tee "$test_log"
}

demo() {
  # The demo exactly as a user runs it (`make demo`): it must print the deliveries, exit 0 and leave
  # no emulator of its own behind.
  local out; out=$(mktemp)
  if ! bash scripts/demo.sh >"$out" 2>&1; then
    tail -n 40 "$out"; rm -f "$out"; return 1
  fi
  local ok=true
  grep -q "Demo finished: every route delivered once" "$out" || { echo "no closing line"; ok=false; }
  grep -q "E-mails recorded by SES in the emulator: [1-9]" "$out" || { echo "no e-mail shown"; ok=false; }
  grep -q "Webhook requests received at .*: [1-9]" "$out" || { echo "no webhook request shown"; ok=false; }
  grep -q "Text messages recorded by SNS in the emulator: [1-9]" "$out" || { echo "no text message shown"; ok=false; }
  # Slack's bot: the incident's message, a reply in its thread, and the message updated.
  grep -q "^POST /api/chat.update" "$out" || { echo "no Slack message updated"; ok=false; }
  grep -q "| thread_ts: " "$out" || { echo "no Slack thread reply shown"; ok=false; }
  ! grep -q "demo-secret-" "$out" || { echo "the demo printed a secret value"; ok=false; }
  if [ -f .tocsin/demo/moto.pid ] && kill -0 "$(cat .tocsin/demo/moto.pid)" 2>/dev/null; then
    echo "the demo left its emulator running"; ok=false
  fi
  [ "$ok" = true ] || tail -n 40 "$out"
  rm -f "$out"
  [ "$ok" = true ]
}

check fmt cargo fmt --all -- --check
check clippy cargo clippy --workspace --all-targets -- -D warnings
check test cargo_test
check cfn-lint cfn-lint infra/template.yaml
check sam-validate sam validate --lint --template infra/template.yaml
check demo demo

# Add up cargo's "test result: ok. N passed; M failed; …" lines.
read -r passed failed < <(awk '
  /^test result:/ { for (i = 1; i <= NF; i++) {
    if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
  END { print p + 0, f + 0 }' "$test_log")
rm -f "$test_log"

say "summary ($(($(date +%s) - started)) s)"
printf '%s\n' "${results[@]}"
if [ "$failed_checks" -gt 0 ]; then
  echo "$failed_checks check(s) failed: see the FAIL lines above and their output"
fi
echo "tests: $passed passed, $failed failed"
[ "$failed_checks" -eq 0 ]
