#!/usr/bin/env bash
# The local AWS emulator (moto server) for the tests and the demo.
#   scripts/local-stack.sh venv    create .venv and install the emulator (moto server) into it
#   scripts/local-stack.sh tools   also install the template checkers (cfn-lint, aws-sam-cli) into .venv
#   scripts/local-stack.sh start   start moto on a free loopback port; writes .tocsin/moto.{url,pid}
#   scripts/local-stack.sh stop    stop it
#   scripts/local-stack.sh url     print its URL
#   scripts/local-stack.sh running exit 0 when this checkout's moto is running, 1 when not
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state="${TOCSIN_STATE_DIR:-$root/.tocsin}"
venv="$root/.venv"
mkdir -p "$state"

moto_spec='moto[server]>=5,<6'
tools_spec=('cfn-lint>=1,<2' 'aws-sam-cli>=1,<2')

has_moto() { "$venv/bin/python" -c 'import moto.server, flask' 2>/dev/null; }
has_tools() { [ -x "$venv/bin/cfn-lint" ] && [ -x "$venv/bin/sam" ]; }

make_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
}

ensure_venv() {
  make_venv
  if ! has_moto; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$moto_spec"
  fi
}

ensure_tools() {
  make_venv
  # One pip run for everything missing: the resolver then sees every requirement at once.
  if ! has_moto || ! has_tools; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$moto_spec" "${tools_spec[@]}"
  fi
}

free_port() {
  "$venv/bin/python" - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

start() {
  ensure_venv
  if [ -f "$state/moto.pid" ] && kill -0 "$(cat "$state/moto.pid")" 2>/dev/null; then
    cat "$state/moto.url"; return 0
  fi
  local port; port=$(free_port)
  nohup "$venv/bin/python" "$root/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
  echo $! >"$state/moto.pid"
  local url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$url/moto-api/data.json', timeout=1)" 2>/dev/null; then
      echo "$url" >"$state/moto.url"; echo "$url"; return 0
    fi
    sleep 0.2
  done
  echo "moto did not start; its log:" >&2; cat "$state/moto.log" >&2; stop; return 1
}

running() {
  [ -f "$state/moto.pid" ] && kill -0 "$(cat "$state/moto.pid")" 2>/dev/null
}

stop() {
  if [ -f "$state/moto.pid" ]; then
    local pid; pid=$(cat "$state/moto.pid")
    kill "$pid" 2>/dev/null || true
    # Wait for it to be gone, so that a caller that stops it leaves no process behind.
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$state/moto.pid" "$state/moto.url"
  fi
}

case "${1:-}" in
  venv) ensure_venv ;;
  tools) ensure_tools ;;
  start) start ;;
  stop) stop ;;
  url) cat "$state/moto.url" ;;
  running) running ;;
  *) echo "usage: $0 venv|tools|start|stop|url|running" >&2; exit 2 ;;
esac
