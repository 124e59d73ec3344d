#!/usr/bin/env bash
# How the default e-mail looks where people read it: renders the HTML part of the default e-mail of
# each alert type (Alert, Reminder, Ok) with the real notifier (`tocsin render`: notify-email's
# built-in templates, examples/definitions.yaml, examples/alerts/alert.json), takes a screenshot of
# each in headless Chromium, and checks each PNG for a non-blank, styled render
# (scripts/email_png_check.py). On demand, not part of `make test` (CI has no browser); the last
# result is in the README ("How the e-mail looks"). The plain-text part is kept in step with the HTML
# part by a test that `make test` runs (functions/notify-email/src/tests_twin.rs).
#
# Needs Debian's chromium (`apt-get install chromium`; `CHROMIUM=/path/to/chrome` for another
# build). Without it the script says so and exits 0 (skipped): the browser is not a requirement of
# the build or of `make test`. `TOCSIN_REQUIRE_CHROMIUM=1` makes a missing browser an error instead.
# Writes target/email-render/email-<type>.{html,txt,png}; exits 1 when a render is blank.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out="$root/target/email-render"

chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ] || ! [ -x "$chromium" ]; then
  echo "email-render: SKIPPED: no chromium on this machine (Debian: apt-get install chromium;" \
    "or set CHROMIUM=/path/to/chrome). Nothing was rendered or checked." >&2
  if [ "${TOCSIN_REQUIRE_CHROMIUM:-0}" = 1 ]; then
    exit 1
  fi
  exit 0
fi
mkdir -p "$out"

echo "==> building the tocsin command"
cargo build --quiet -p tocsin
tocsin="$root/target/debug/tocsin"

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

checks=()
for type in alert reminder ok; do
  # The dns-critical route of the sample alert, e-mailed to its level's operators.
  "$tocsin" render -f examples/definitions.yaml --alert examples/alerts/alert.json \
    --integration ops-email --type "$type" >"$out/render-$type.jsonl"
  python3 - "$out/render-$type.jsonl" "$out/email-$type" <<'PY'
import json, sys
source, stem = sys.argv[1], sys.argv[2]
for line in open(source, encoding="utf-8"):
    message = json.loads(line)
    if "email" in message:
        open(stem + ".html", "w", encoding="utf-8").write(message["email"]["html"])
        open(stem + ".txt", "w", encoding="utf-8").write(message["email"]["text"])
        break
else:
    sys.exit(f"{source}: no e-mail rendered")
PY
  # The flags that keep Chromium off the network (this machine has none) and out of any profile.
  "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile/$type" --hide-scrollbars --window-size=760,1000 \
    --screenshot="$out/email-$type.png" "file://$out/email-$type.html" >/dev/null 2>&1
  case "$type" in
    alert) colour="#c0392b" ;;
    reminder) colour="#b36b00" ;;
    ok) colour="#1e7e34" ;;
  esac
  checks+=("$out/email-$type.png:$colour")
done

echo "==> $("$chromium" --version 2>/dev/null || echo "$chromium")"
python3 "$root/scripts/email_png_check.py" "${checks[@]}"
