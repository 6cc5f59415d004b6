#!/usr/bin/python3
"""Load for the parts of make bench that wrk cannot do.

  loadgen.py burst --url URL --n N --conc C --emails FMT
      N POST /password/forgot requests as fast as C connections allow,
      address FMT % i (e.g. bench@bench.example, or e2e-%d@bench.example).

  loadgen.py paced --url URL --rate R --duration D --emails FMT --out FILE
      POST /password/forgot at a steady R per second for D seconds (the
      send times are fixed in advance, so a slow answer delays the
      measurement, not the schedule: no coordinated omission), one address
      per request; writes every request's intended send time (ns, wall
      clock), answer time and status to FILE (JSON).

  loadgen.py e2e --sent FILE --mail-dir DIR --timeout S --out FILE
      Waits until every address of FILE has a message in the sink's DIR
      (or S seconds pass) and writes the delays from the intended send to
      the stored .eml (the later of the file's ctime, set by the sink's
      final rename, and the arrival time in its name), with p50/p99.
"""

import argparse
import http.client
import json
import os
import queue
import sys
import threading
import time
import urllib.parse


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


class Client:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port or 80, u.path
        self.conn = None

    def post_json(self, obj):
        body = json.dumps(obj).encode()
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.conn.request("POST", self.path, body=body,
                                  headers={"Content-Type": "application/json"})
                r = self.conn.getresponse()
                r.read()
                return r.status
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt:
                    return 0
        return 0


def run_workers(url, conc, jobs, handle):
    def worker():
        c = Client(url)
        while True:
            j = jobs.get()
            if j is None:
                return
            handle(c, j)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(conc)]
    for t in threads:
        t.start()
    return threads


def cmd_burst(a):
    jobs = queue.Queue()
    statuses = {}
    lock = threading.Lock()

    def handle(c, i):
        st = c.post_json({"email": a.emails % i if "%" in a.emails else a.emails})
        with lock:
            statuses[st] = statuses.get(st, 0) + 1

    for i in range(a.n):
        jobs.put(i)
    t0 = time.monotonic()
    threads = run_workers(a.url, a.conc, jobs, handle)
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    print(json.dumps({"requests": a.n, "seconds": round(secs, 3),
                      "rps": round(a.n / secs, 1),
                      "statuses": {str(k): v for k, v in statuses.items()}}))
    return 0 if set(statuses) <= {200, 202} else 1


def cmd_paced(a):
    n = int(a.rate * a.duration)
    jobs = queue.Queue()
    rows = [None] * n
    wall0 = time.time_ns() + 200_000_000          # first send in 0.2 s
    mono0 = time.monotonic() + 0.2

    def handle(c, i):
        email = a.emails % i
        st = c.post_json({"email": email})
        rows[i] = {"i": i, "email": email,
                   "sched_ns": wall0 + int(i * 1e9 / a.rate),
                   "answer_ns": wall0 + int((time.monotonic() - mono0) * 1e9),
                   "status": st}

    threads = run_workers(a.url, a.conc, jobs, handle)
    for i in range(n):
        delay = mono0 + i / a.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        jobs.put(i)
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.join()
    lat = [(r["answer_ns"] - r["sched_ns"]) / 1e6 for r in rows if r]
    with open(a.out, "w") as f:
        json.dump({"rate": a.rate, "duration": a.duration, "rows": rows}, f)
    bad = sum(1 for r in rows if not r or r["status"] not in (200, 202))
    print(json.dumps({"requests": n, "bad": bad, "answer_p50_ms": pct(lat, 50),
                      "answer_p99_ms": pct(lat, 99)}))
    return 0


def scan_mail(mail_dir, seen):
    """Adds {recipient: stored_ns} for .eml files not seen yet."""
    found = {}
    for name in os.listdir(mail_dir):
        if not name.endswith(".eml") or name in seen:
            continue
        seen.add(name)
        path = os.path.join(mail_dir, name)
        try:
            st = os.stat(path)
            with open(path, "rb") as f:
                head = f.read(1024).decode("ascii", "replace")
        except OSError:
            continue
        rcpt = None
        for line in head.split("\r\n"):
            if line.startswith("X-Sink-Rcpt-To:"):
                rcpt = line.split(":", 1)[1].strip().strip("<>").lower()
                break
        try:
            arrived = int(name.split("-", 1)[0])
        except ValueError:
            arrived = 0
        if rcpt:
            found.setdefault(rcpt, max(st.st_ctime_ns, arrived))
    return found


def cmd_e2e(a):
    with open(a.sent) as f:
        sent = json.load(f)
    want = {r["email"].lower(): r["sched_ns"] for r in sent["rows"] if r}
    seen, got = set(), {}
    deadline = time.monotonic() + a.timeout
    while True:
        for rcpt, ns in scan_mail(a.mail_dir, seen).items():
            if rcpt in want:
                got.setdefault(rcpt, ns)
        if len(got) >= len(want) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    delays = [(got[e] - want[e]) / 1e6 for e in got]
    res = {"rate": sent["rate"], "duration": sent["duration"],
           "sent": len(want), "delivered": len(got),
           "p50_ms": pct(delays, 50), "p90_ms": pct(delays, 90),
           "p99_ms": pct(delays, 99), "max_ms": max(delays) if delays else None}
    with open(a.out, "w") as f:
        json.dump({"summary": res, "delays_ms": sorted(delays)}, f)
    print(json.dumps(res))
    return 0 if len(got) == len(want) else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("burst")
    b.add_argument("--url", required=True)
    b.add_argument("--n", type=int, required=True)
    b.add_argument("--conc", type=int, default=8)
    b.add_argument("--emails", required=True)
    q = sub.add_parser("paced")
    q.add_argument("--url", required=True)
    q.add_argument("--rate", type=float, default=100)
    q.add_argument("--duration", type=float, default=10)
    q.add_argument("--conc", type=int, default=32)
    q.add_argument("--emails", required=True)
    q.add_argument("--out", required=True)
    e = sub.add_parser("e2e")
    e.add_argument("--sent", required=True)
    e.add_argument("--mail-dir", required=True)
    e.add_argument("--timeout", type=float, default=30)
    e.add_argument("--out", required=True)
    a = p.parse_args()
    return {"burst": cmd_burst, "paced": cmd_paced, "e2e": cmd_e2e}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
