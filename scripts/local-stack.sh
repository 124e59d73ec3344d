#!/usr/bin/env bash
# The local AWS emulator (moto server) for the tests and the demo.
#   scripts/local-stack.sh venv    create .venv and install the Python tools the project uses
#   scripts/local-stack.sh start   start moto on a free loopback port; writes .tocsin/moto.{url,pid}
#   scripts/local-stack.sh stop    stop it
#   scripts/local-stack.sh url     print its URL
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.tocsin"
venv="$root/.venv"
mkdir -p "$state"

ensure_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c 'import moto.server, flask' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
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
  nohup "$venv/bin/python" -m moto.server -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
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

stop() {
  if [ -f "$state/moto.pid" ]; then
    kill "$(cat "$state/moto.pid")" 2>/dev/null || true
    rm -f "$state/moto.pid" "$state/moto.url"
  fi
}

case "${1:-}" in
  venv) ensure_venv ;;
  start) start ;;
  stop) stop ;;
  url) cat "$state/moto.url" ;;
  *) echo "usage: $0 venv|start|stop|url" >&2; exit 2 ;;
esac
