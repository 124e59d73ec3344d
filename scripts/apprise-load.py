#!/usr/bin/env python3
"""The peer of `tocsin-load`: Apprise sends the same notifications to the same local receiver.

Usage: apprise-load.py --url json://127.0.0.1:PORT/apprise --events N --routes M

N notifications, each to M `json://` targets (`<url>/<i>`), one after another, as one Apprise
process would send them. Prints one JSON line: deliveries, seconds, deliveries per second, the
per-notification latency percentiles and the peak RSS of this process (VmHWM).
"""

import argparse
import json
import sys
import time

import apprise


def peak_rss_kb():
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def percentile(sorted_values, fraction):
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="json://host:port/path (each target adds /<i>)")
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--routes", type=int, required=True)
    args = parser.parse_args()

    notifier = apprise.Apprise()
    for route in range(args.routes):
        if not notifier.add(f"{args.url.rstrip('/')}/{route}"):
            sys.exit(f"apprise refused the url {args.url}/{route}")

    # One warm-up notification (imports, plugin loading, first connections), not counted.
    if not notifier.notify(title="warm-up", body="warm-up"):
        sys.exit("apprise: the warm-up notification failed")

    latencies = []
    delivered = 0
    started = time.perf_counter()
    for event in range(args.events):
        event_started = time.perf_counter()
        ok = notifier.notify(
            title=f"GalacticResorts.com - DNS is down ({event})",
            body="DNS lookup of galacticresorts.com failed: SERVFAIL from ns-1.awsdns.",
            notify_type=apprise.NotifyType.FAILURE,
        )
        latencies.append((time.perf_counter() - event_started) * 1000.0)
        if ok:
            delivered += args.routes
    seconds = time.perf_counter() - started
    latencies.sort()
    print(json.dumps({
        "tool": "apprise",
        "version": apprise.__version__,
        "events": args.events,
        "routes": args.routes,
        "deliveries": delivered,
        "seconds": seconds,
        "per_second": delivered / seconds if seconds > 0 else 0.0,
        "p50_ms": percentile(latencies, 0.50),
        "p90_ms": percentile(latencies, 0.90),
        "p99_ms": percentile(latencies, 0.99),
        "peak_rss_mb": peak_rss_kb() / 1024.0,
    }))


if __name__ == "__main__":
    main()
