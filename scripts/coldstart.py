#!/usr/bin/env python3
"""Cold start of Lambda bootstraps against a minimal local Lambda Runtime API (stdlib only).

Cold start = from just before the process is spawned to the moment the local Runtime API receives
the process's first `GET /2018-06-01/runtime/invocation/next` (monotonic clock). That request is
kept hanging; the harness then kills the process. Subjects run interleaved (one run of each per
round), so the machine's noise spreads evenly over them; figures are min / median / p90.

Laziness: every subject gets `AWS_ENDPOINT_URL` pointing at a local TCP port that records every
connection. Start-up must not connect to it (nor anywhere else) before its first `/next`. With
`--control NAME` the harness also answers one `/next` of NAME with an SNS event and checks that the
recorder then sees the function's first AWS call: proof that the recorder would catch one.
With `--strace` each subject runs once under `strace -f -e trace=connect` and every socket
connection made before the kill is listed (only the Runtime API is expected).

With `--invoke NAME=N` the harness also runs NAME warm: N SNS events (a native alert with a fresh
guid each) answered one after another, with definitions from a YAML file (one all-variables
webhook to a local receiver) and the delivery log in memory; it reports the time from handing
out the event to receiving its `/response` (parse, route, render, HTTP POST to the receiver).

Usage:
  coldstart.py --runs 30 [--json out.json] [--control NAME] [--strace] [--invoke NAME=N] \
      NAME=COMMAND [NAME=COMMAND ...]
COMMAND is split on spaces (a bootstrap path, or `python peer.py`).
"""

import argparse
import http.server
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

NEXT = "/2018-06-01/runtime/invocation/next"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Run:
    """The state of one run (one process)."""

    def __init__(self, answer_events=None):
        self.first_next_ns = None
        self.next_seen = threading.Event()
        self.release = threading.Event()
        # Events to hand out, in order; None: keep every /next hanging.
        self.events = list(answer_events or [])
        self.handed_out = {}  # request id -> monotonic ns
        self.responses = {}  # request id -> monotonic ns
        self.errors = {}  # request id -> body
        self.response_seen = threading.Condition()
        self.lock = threading.Lock()


class State:
    run = None


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle and the client's
        # delayed ACK add 40 ms to every answer.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_GET(self):
            now = time.monotonic_ns()
            run = state.run
            if run is None or not self.path.startswith(NEXT):
                self.send_error(404)
                return
            with run.lock:
                if run.first_next_ns is None:
                    run.first_next_ns = now
                event = run.events.pop(0) if run.events else None
            run.next_seen.set()
            if event is None:
                # Keep the long poll hanging until the run ends (the process is killed).
                run.release.wait(120)
                self.close_connection = True
                return
            request_id = str(uuid.uuid4())
            body = json.dumps(event).encode()
            deadline_ms = int(time.time() * 1000) + 60_000
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
            self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
            self.send_header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.end_headers()
            run.handed_out[request_id] = time.monotonic_ns()
            self.wfile.write(body)
            self.wfile.flush()

        def do_POST(self):
            now = time.monotonic_ns()
            run = state.run
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            match = re.match(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
            if run is not None and match:
                request_id, kind = match.groups()
                with run.response_seen:
                    if kind == "response":
                        run.responses[request_id] = now
                    else:
                        run.errors[request_id] = body.decode(errors="replace")
                    run.response_seen.notify_all()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


class Recorder:
    """A TCP port that records the monotonic time of every connection and closes it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = []
        self.lock = threading.Lock()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            conn, _ = self.sock.accept()
            with self.lock:
                self.connections.append(time.monotonic_ns())
            conn.close()

    def since(self, start_ns):
        with self.lock:
            return [t for t in self.connections if t >= start_ns]


class Receiver(http.server.BaseHTTPRequestHandler):
    """The webhook target of --invoke: answers 200 to every POST (keep-alive)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    # A killed subject resets its connections: expected, not worth a traceback.
    server.handle_error = lambda request, client_address: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def lambda_env(name, api_port, endpoint_port, home, extra=None):
    """The environment Lambda gives a function (plus Tocsin's settings), nothing inherited."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/28/[$LATEST]bench",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{endpoint_port}",
        "RUST_LOG": "info",
        "DEFINITIONS_TABLE": "Definitions",
        "DELIVERIES_TABLE": "Deliveries",
        "TOCSIN_CACHE_SECONDS": "60",
        "TOCSIN_HTTP_CONNECT_TIMEOUT_MS": "3000",
        "TOCSIN_HTTP_TIMEOUT_MS": "10000",
        "TOCSIN_MAX_ATTEMPTS": "4",
        "TOCSIN_EMAIL_FROM": "alerts@example.com",
    }
    env.update(extra or {})
    return env


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def cold_run(state, name, command, ports, home, timeout, answer=None, extra=None, wrap=None):
    """One run: spawn, wait for the first /next, kill. Returns (ms, connections before /next)."""
    api_port, recorder = ports
    run = Run(answer)
    state.run = run
    env = lambda_env(name, api_port, recorder.port, home, extra)
    argv = (wrap or []) + command
    start = time.monotonic_ns()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        if not run.next_seen.wait(timeout):
            raise SystemExit(f"{name}: no /next within {timeout} s (exit code {proc.poll()})")
        early = [t for t in recorder.since(start) if t <= run.first_next_ns]
        return (run.first_next_ns - start) / 1e6, len(early), run, proc, start
    finally:
        if answer is None:
            run.release.set()
            stop(proc)


def percentile(values, p):
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values):
    return {
        "n": len(values),
        "min_ms": round(min(values), 2),
        "median_ms": round(statistics.median(values), 2),
        "p90_ms": round(percentile(values, 0.9), 2),
    }


def sample_event(alert_guid):
    """events/alert.json with a fresh alert guid and SNS message id."""
    with open(os.path.join(ROOT, "events", "alert.json")) as f:
        event = json.load(f)
    record = event["Records"][0]
    message = json.loads(record["Sns"]["Message"])
    message["alert"]["alertGuid"] = alert_guid
    record["Sns"]["Message"] = json.dumps(message)
    record["Sns"]["MessageId"] = str(uuid.uuid4())
    return event


def control(state, name, command, ports, home, timeout):
    """Answers the first /next with an event and waits for the function's first AWS connection."""
    _, early, run, proc, start = cold_run(state, name, command, ports, home, timeout,
                                          answer=[sample_event(str(uuid.uuid4()))])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            after = [t for t in ports[1].since(start) if t > run.first_next_ns]
            if after:
                return early, (after[0] - run.first_next_ns) / 1e6
            time.sleep(0.005)
        return early, None
    finally:
        run.release.set()
        stop(proc)


def traced_connects(state, name, command, ports, home, timeout):
    """Every connect() of one run under strace, up to the kill after the first /next."""
    with tempfile.NamedTemporaryFile(prefix="coldstart-strace-", delete=False) as out:
        path = out.name
    try:
        cold_run(state, name, command, ports, home, timeout * 5,
                 wrap=["strace", "-f", "-qq", "-e", "trace=connect", "-o", path])
        with open(path) as f:
            lines = [line.strip() for line in f if "connect(" in line]
        targets = []
        for line in lines:
            m = re.search(r'sa_family=(AF_\w+)(?:, sin6?_port=htons\((\d+)\))?.*?'
                          r'(?:inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"|sun_path="([^"]+)")',
                          line)
            targets.append("{}:{}".format(m.group(3) or m.group(4) or m.group(5), m.group(2) or "")
                           if m else line)
        return targets
    finally:
        os.unlink(path)


def warm(state, name, command, ports, home, timeout, count):
    """`count` invocations of one warm process; returns the per-invocation times in ms."""
    receiver = serve(Receiver)
    defs_dir = tempfile.mkdtemp(prefix="coldstart-defs-")
    defs = os.path.join(defs_dir, "definitions.yaml")
    with open(defs, "w") as f:
        f.write(f"""integrations:
  - id: relay
    name: Relay
    kind: webhook
    settings:
      preset: all-variables
      url: "http://127.0.0.1:{receiver.server_address[1]}/hook"
alertDefinitions:
  - id: everything
    name: Everything
    monitors: ["*"]
    levels:
      - id: 1
        integrations:
          - integration: relay
""")
    extra = {"TOCSIN_DEFINITIONS_FILE": defs, "DEFINITIONS_TABLE": "", "DELIVERIES_TABLE": "",
             "TOCSIN_ALLOW_HOSTS": "127.0.0.1", "TOCSIN_ALLOW_HTTP": "true", "RUST_LOG": "warn"}
    events = [sample_event(str(uuid.uuid4())) for _ in range(count + 5)]
    _, _, run, proc, _ = cold_run(state, name, command, ports, home, timeout, answer=events,
                                  extra=extra)
    try:
        with run.response_seen:
            ok = run.response_seen.wait_for(
                lambda: len(run.responses) + len(run.errors) >= len(events), timeout * 10)
        if not ok or run.errors:
            raise SystemExit(f"{name}: warm run failed: {len(run.responses)} responses, "
                             f"errors: {list(run.errors.values())[:1]}")
        times = sorted(run.handed_out.items(), key=lambda kv: kv[1])[5:]  # 5 warm-up events
        return [(run.responses[rid] - sent) / 1e6 for rid, sent in times]
    finally:
        run.release.set()
        stop(proc)
        receiver.shutdown()
        shutil.rmtree(defs_dir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for /next")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--control", action="append", default=[], metavar="NAME")
    parser.add_argument("--strace", action="store_true")
    parser.add_argument("--invoke", action="append", default=[], metavar="NAME=N")
    parser.add_argument("subjects", nargs="+", metavar="NAME=COMMAND")
    args = parser.parse_args()

    subjects = {}
    for spec in args.subjects:
        name, _, command = spec.partition("=")
        subjects[name] = command.split()
    state = State()
    api = serve(make_handler(state))
    recorder = Recorder()
    ports = (api.server_address[1], recorder)
    home = tempfile.mkdtemp(prefix="coldstart-home-")
    result = {"runs": args.runs, "subjects": {}}
    try:
        times = {name: [] for name in subjects}
        early = {name: 0 for name in subjects}
        # One warm-up run each (page cache), not counted.
        for name, command in subjects.items():
            cold_run(state, name.split(":")[0], command, ports, home, args.timeout)
        for _ in range(args.runs):
            for name, command in subjects.items():
                ms, n_early, *_ = cold_run(state, name.split(":")[0], command, ports, home, args.timeout)
                times[name].append(ms)
                early[name] += n_early
        for name in subjects:
            entry = summary(times[name])
            entry["aws_connections_before_next"] = early[name]
            result["subjects"][name] = entry
        for name in args.control:
            n_early, after_ms = control(state, name.split(":")[0], subjects[name], ports, home, args.timeout)
            result["subjects"][name]["control"] = {
                "aws_connections_before_next": n_early,
                "first_aws_connection_after_event_ms": None if after_ms is None else round(after_ms, 2),
            }
        if args.strace:
            for name, command in subjects.items():
                result["subjects"][name]["connects_before_kill"] = traced_connects(
                    state, name.split(":")[0], command, ports, home, args.timeout)
        for spec in args.invoke:
            name, _, count = spec.partition("=")
            values = warm(state, name.split(":")[0], subjects[name], ports, home, args.timeout, int(count))
            result["subjects"][name]["warm_invocation"] = summary(values)
    finally:
        shutil.rmtree(home, ignore_errors=True)

    peer = next((n for n in subjects if "python" in n or "boto3" in n), None)
    print(f"cold start to first /next, {args.runs} runs each, interleaved (ms):")
    print(f"  {'subject':<28} {'min':>8} {'median':>8} {'p90':>8}  aws conns before /next")
    for name, entry in result["subjects"].items():
        ratio = ""
        if peer and name != peer:
            ratio = f"  (peer/this = {result['subjects'][peer]['median_ms'] / entry['median_ms']:.1f}x)"
        print(f"  {name:<28} {entry['min_ms']:>8.2f} {entry['median_ms']:>8.2f} {entry['p90_ms']:>8.2f}"
              f"  {entry['aws_connections_before_next']}{ratio}")
    for name, entry in result["subjects"].items():
        if "control" in entry:
            c = entry["control"]
            seen = c["first_aws_connection_after_event_ms"]
            print(f"  control {name}: recorder saw the first AWS call {seen} ms after the event"
                  if seen is not None else f"  control {name}: NO AWS call seen after the event")
        if "connects_before_kill" in entry:
            print(f"  strace {name}: connect() targets before the kill: {entry['connects_before_kill']}")
        if "warm_invocation" in entry:
            w = entry["warm_invocation"]
            print(f"  warm {name}: {w['n']} invocations, min {w['min_ms']} / median {w['median_ms']}"
                  f" / p90 {w['p90_ms']} ms per event (one webhook POST each)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    bad = [n for n, e in result["subjects"].items() if e["aws_connections_before_next"]
           or e.get("control", {}).get("aws_connections_before_next")]
    if bad:
        print(f"FAIL: network call before the first /next: {bad}", file=sys.stderr)
        return 1
    missed = [n for n, e in result["subjects"].items()
              if "control" in e and e["control"]["first_aws_connection_after_event_ms"] is None]
    if missed:
        print(f"FAIL: the recorder saw no AWS call after the event (control): {missed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
