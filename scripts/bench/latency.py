#!/usr/bin/env python3
"""Latency helpers for scripts/bench-tracker (standard library only).

  latency.py http BASE_URL API_KEY PATH N [WARMUP]
      N sequential GETs on one keep-alive connection, timed with perf_counter around
      request + full body read. Every response must be 200 with a JSON body.
  latency.py psql-times FILE
      Reads psql `\\timing` output ("Time: 12.345 ms") from FILE.

Both print one JSON object: n, p50, p90, p99, min, max, mean (milliseconds), plus bytes for http.
Percentiles are nearest-rank.
"""
import http.client
import json
import math
import re
import sys
import time
import urllib.parse


def stats(samples):
    s = sorted(samples)
    n = len(s)

    def pct(p):
        return s[max(0, math.ceil(p / 100 * n) - 1)]

    return {"n": n, "p50": pct(50), "p90": pct(90), "p99": pct(99), "min": s[0], "max": s[-1],
            "mean": sum(s) / n}


def http_latency(base, key, path, n, warmup):
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    samples, size = [], 0
    for i in range(warmup + n):
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        dt = (time.perf_counter() - t0) * 1000
        if resp.status != 200:
            sys.exit(f"GET {path}: HTTP {resp.status}: {body[:300]!r}")
        if i == 0:
            json.loads(body)  # a real JSON answer, once
        if i >= warmup:
            samples.append(dt)
            size = len(body)
    out = stats(samples)
    out["bytes"] = size
    return out


def psql_times(path):
    times = [float(m.group(1)) for m in re.finditer(r"^Time: ([0-9.]+) ms", open(path).read(), re.M)]
    if not times:
        sys.exit(f"no 'Time:' lines in {path}")
    return stats(times)


def main():
    if sys.argv[1] == "http":
        base, key, path, n = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        warmup = int(sys.argv[6]) if len(sys.argv) > 6 else 3
        print(json.dumps(http_latency(base, key, path, n, warmup)))
    elif sys.argv[1] == "psql-times":
        print(json.dumps(psql_times(sys.argv[2])))
    else:
        sys.exit("usage: latency.py http|psql-times ...")


if __name__ == "__main__":
    main()
