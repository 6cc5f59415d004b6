#!/usr/bin/python3
"""Turns build/bench/results.jsonl into results.md, the chart's data files
(rps.dat, latency.dat) and one line of history.tsv.

Usage: report.py OUT_DIR
"""

import json
import os
import sys

MIB = 1024.0

HTTP_ORDER = ["static", "fcgi-hello", "get-user", "forgot-known",
              "forgot-unknown", "login"]
LABEL = {
    "static": "nginx `return 200` (baseline)",
    "fcgi-hello": "bare libfcgi responder (baseline)",
    "get-user": "GET /user/{id}, bearer",
    "forgot-known": "POST /password/forgot, known",
    "forgot-unknown": "POST /password/forgot, unknown",
    "login": "POST /user/token (login)",
}


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def ms(us):
    return us / 1000.0


def fmt_ms(v):
    if v is None:
        return "–"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt_rate(v):
    if v is None:
        return "–"
    return "%.0f" % v if v >= 100 else "%.1f" % v


def pct(v):
    return "–" if v is None else "%.0f%%" % (100 * v)


def yes(ok):
    return "–" if ok is None else ("yes" if ok else "**no**")


def merge_parts(rows):
    """{(name, conns): wrk numbers}, the parts of a split measurement added
    up: requests and seconds summed, percentiles weighted by requests."""
    parts = {}
    for r in rows:
        parts.setdefault((r["name"], r["conns"]), []).append(r["wrk"])
    out = {}
    for key, ws in parts.items():
        if len(ws) == 1:
            out[key] = ws[0]
            continue
        n = sum(w["requests"] for w in ws) or 1
        secs = sum(w["seconds"] for w in ws)
        m = {k: sum(w[k] for w in ws) for k in ("requests", "seconds", "non2xx",
                                                 "connect_errors", "read_errors",
                                                 "write_errors", "timeouts")}
        m["rps"] = m["requests"] / secs if secs else 0.0
        for k in ("p50_us", "p90_us", "p99_us", "mean_us"):
            m[k] = sum(w[k] * w["requests"] for w in ws) / n
        m["max_us"] = max(w["max_us"] for w in ws)
        out[key] = m
    return out


def main():
    out = sys.argv[1]
    rows = load(os.path.join(out, "results.jsonl"))
    meta = next((r for r in rows if r["kind"] == "meta"), {})
    meta_end = next((r for r in rows if r["kind"] == "meta_end"), {})
    http = merge_parts(r for r in rows if r["kind"] == "http")
    conns = sorted({c for (_, c) in http})
    argon = {r.get("conns", r["procs"]): r for r in rows if r["kind"] == "argon2"}
    mailers = [r for r in rows if r["kind"] == "mailer"]
    sinks = {(r["mode"], r.get("round", 1)): r for r in rows if r["kind"] == "sink"}
    e2e = next((r for r in rows if r["kind"] == "e2e"), None)
    rss = [r for r in rows if r["kind"] == "rss"]

    L = []
    verdicts = []
    L.append("# micro-user benchmark")
    L.append("")
    L.append("Commit `%s`, %s, %s CPUs, load average %s at the start and %s at "
             "the end; %s FastCGI workers; argon2id %s passes, %d MiB; wrk %s s "
             "per run (login twice that); run took %s s." % (
                 meta.get("commit"), meta.get("date"), meta.get("nproc"),
                 meta.get("loadavg_start"), meta_end.get("loadavg_end"),
                 meta.get("workers"), meta.get("argon2_opslimit"),
                 int(meta.get("argon2_memlimit", 0)) // (1 << 20),
                 meta.get("duration"), meta_end.get("seconds")))
    L.append("")
    L.append("Every ratio is to a baseline measured in this same run on the "
             "same nginx (one worker process, access log on). Reproduce with "
             "`make bench`; raw wrk output is in `build/bench/raw/`.")
    L.append("")

    # ---------------------------------------------------------------- HTTP
    L.append("## HTTP (wrk)")
    L.append("")
    L.append("| measurement | conns | req/s | p50 ms | p99 ms | non-2xx | "
             "baseline | ratio | target | met? |")
    L.append("|---|---:|---:|---:|---:|---:|---|---:|---|---|")
    for name in HTTP_ORDER:
        for c in conns:
            w = http.get((name, c))
            if w is None:
                continue
            base_name, ratio, target, ok = "–", None, "", None
            if name == "fcgi-hello" and ("static", c) in http:
                base_name = "nginx static"
                ratio = w["rps"] / http[("static", c)]["rps"]
            elif name == "get-user" and ("fcgi-hello", c) in http:
                base_name = "libfcgi responder"
                ratio = w["rps"] / http[("fcgi-hello", c)]["rps"]
                target = "≥ 60%"
                ok = ratio >= 0.60 and w["non2xx"] == 0
                if c == 32:
                    target += ", p99 < 10 ms"
                    ok = ok and ms(w["p99_us"]) < 10
            elif name.startswith("forgot") and ("fcgi-hello", c) in http:
                base_name = "libfcgi responder"
                ratio = w["rps"] / http[("fcgi-hello", c)]["rps"]
                target = "≥ 30%"
                ok = ratio >= 0.30 and w["non2xx"] == 0
            elif name == "login":
                a = argon.get(c)
                if a:
                    procs = a["procs"]
                    base_name = "argon2id verify, %d proc%s, just before" % (procs, "" if procs == 1 else "s")
                    ratio = w["rps"] / a["rate"]
                    target = "≥ 90%"
                    ok = ratio >= 0.90 and w["non2xx"] == 0
            if ok is not None:
                verdicts.append(("%s c=%d" % (name, c), ok))
            L.append("| %s | %d | %s | %s | %s | %d | %s | %s | %s | %s |" % (
                LABEL[name], c, fmt_rate(w["rps"]), fmt_ms(ms(w["p50_us"])),
                fmt_ms(ms(w["p99_us"])), w["non2xx"] + w["timeouts"],
                base_name, pct(ratio), target, yes(ok)))
    L.append("")
    if argon:
        L.append("Raw argon2id verify rate (`bench/argon2-verify.c`, libsodium "
                 "`crypto_pwhash_str_verify`, same cost), measured right before "
                 "each login run: " + ", ".join(
                     "%d process%s %.2f/s" % (a["procs"], "" if a["procs"] == 1 else "es", a["rate"])
                     for _, a in sorted(argon.items())) + ".")
        L.append("")

    # Known vs unknown address: the answer must not tell.
    L.append("### Known vs unknown address (POST /password/forgot)")
    L.append("")
    L.append("Each measured in four parts, known, unknown, unknown, known, "
             "twice over, so that a drift of the machine or of the growing "
             "queues hits both alike; the parts' percentiles are weighted by "
             "their requests.")
    L.append("")
    L.append("| conns | p50 known ms | p50 unknown ms | difference | p99 known ms "
             "| p99 unknown ms | target | met? |")
    L.append("|---:|---:|---:|---:|---:|---:|---|---|")
    for c in conns:
        k, u = http.get(("forgot-known", c)), http.get(("forgot-unknown", c))
        if not k or not u:
            continue
        a, b = ms(k["p50_us"]), ms(u["p50_us"])
        diff = abs(a - b) / min(a, b) if min(a, b) > 0 else None
        ok = diff is not None and diff <= 0.10
        verdicts.append(("forgot known/unknown p50 c=%d" % c, ok))
        L.append("| %d | %s | %s | %s | %s | %s | p50 within 10%% | %s |" % (
            c, fmt_ms(a), fmt_ms(b), pct(diff), fmt_ms(ms(k["p99_us"])),
            fmt_ms(ms(u["p99_us"])), yes(ok)))
    L.append("")

    # ---------------------------------------------------------------- mail
    L.append("## Mailer")
    L.append("")
    L.append("| measurement | messages | seconds | messages/s | ratio | target | met? |")
    L.append("|---|---:|---:|---:|---:|---|---|")
    # Each round's ratio is to the ceiling measured right after it; the
    # verdict is on the median round.
    ratios = []
    for m in mailers:
        rnd = m.get("round", 1)
        ceiling, single = sinks.get(("reused-s4", rnd)), sinks.get(("reused-s1", rnd))
        ratio = m["rate"] / ceiling["rate"] if ceiling and ceiling["rate"] else None
        ratios.append((ratio if ratio is not None else 0.0, m["delivered"] >= m["wanted"]))
        L.append("| round %d: reset-mailer, %d queued events to the sink (first to last "
                 ".eml) | %d | %.2f | %s | %s | | |" % (
                     rnd, m["queued"], m["delivered"], m["seconds"], fmt_rate(m["rate"]),
                     pct(ratio)))
        for s_, text in ((ceiling, "sink ceiling: smtp-blast, 4 sessions, connections reused"),
                         (single, "smtp-blast, 1 session, connection reused")):
            if s_:
                L.append("| round %d: %s | %d | %.2f | %s | %s | | |" % (
                    rnd, text, s_["messages"], s_["seconds"], fmt_rate(s_["rate"]),
                    pct(s_["rate"] / ceiling["rate"] if ceiling and ceiling["rate"] else None)))
    if ratios:
        ratios.sort()
        median, _ = ratios[len(ratios) // 2]
        ok = median >= 0.70 and all(delivered for _, delivered in ratios)
        verdicts.append(("mailer", ok))
        L.append("| reset-mailer, median of %d rounds | | | | %s | ≥ 70%% of the sink's "
                 "ceiling | %s |" % (len(ratios), pct(median), yes(ok)))
    L.append("")
    L.append("The sink is the stack's own (`scripts/smtp_sink.py`: one fsynced "
             "`.eml` file per message); message size %s bytes. The mailer spreads "
             "a batch over MAILER_SMTP_SESSIONS (4) sessions, like the ceiling's "
             "blaster." % (next((r["bytes"] for r in sinks.values()), "?")))
    L.append("")

    # ---------------------------------------------------------------- e2e
    if e2e:
        m, a = e2e["mail"], e2e["answers"]
        L.append("## End to end: POST /password/forgot to the .eml in the sink")
        L.append("")
        L.append("| rate | sent | delivered | HTTP answer p50 / p99 ms | to the .eml "
                 "p50 ms | p90 ms | p99 ms | max ms | target | met? |")
        L.append("|---:|---:|---:|---|---:|---:|---:|---:|---|---|")
        ok = (m.get("p99_ms") is not None and m["p99_ms"] < 250
              and m["delivered"] == m["sent"])
        verdicts.append(("end to end", ok))
        L.append("| %s/s for %s s | %d | %d | %s / %s | %s | %s | %s | %s | p99 < 250 ms | %s |" % (
            m["rate"], m["duration"], m["sent"], m["delivered"],
            fmt_ms(a.get("answer_p50_ms")), fmt_ms(a.get("answer_p99_ms")),
            fmt_ms(m.get("p50_ms")), fmt_ms(m.get("p90_ms")),
            fmt_ms(m.get("p99_ms")), fmt_ms(m.get("max_ms")), yes(ok)))
        L.append("")
        L.append("Delays run from each request's scheduled send time (a paced "
                 "client, `bench/loadgen.py`, so a slow answer does not slow the "
                 "schedule) to the later of the sink's arrival stamp and the "
                 "file's ctime (set by the sink's final rename; kernel clock "
                 "tick granularity).")
        L.append("")

    # ---------------------------------------------------------------- RSS
    history = os.path.join(out, "history.tsv")
    prev = None
    if os.path.exists(history):
        with open(history) as f:
            lines = [l.rstrip("\n").split("\t") for l in f if l.strip()]
        if lines:
            prev = lines[-1]
    if rss:
        L.append("## Worker memory (VmRSS of each user-fcgi worker, MiB)")
        L.append("")
        pids = []
        for snap in rss:
            for w in snap["workers"]:
                if w["pid"] not in pids:
                    pids.append(w["pid"])
        L.append("| after | " + " | ".join("pid %d" % p for p in pids) + " | VmHWM (peak) |")
        L.append("|---|" + "---:|" * len(pids) + "---|")
        for snap in rss:
            by = {w["pid"]: w for w in snap["workers"]}
            L.append("| %s | %s | %s |" % (
                snap["label"],
                " | ".join("%.1f" % (by[p]["rss_kb"] / MIB) if p in by else "(gone)" for p in pids),
                ", ".join("%.1f" % (w["hwm_kb"] / MIB) for w in snap["workers"])))
        L.append("")
        end = rss[-1]
        ref = next((s for s in rss if s["label"] == "after-warmup"), rss[0])
        end_max = max((w["rss_kb"] for w in end["workers"]), default=0) / MIB
        ok = end_max < 16 and len(end["workers"]) > 0
        verdicts.append(("worker RSS < 16 MiB", ok))
        ref_by = {w["pid"]: w["rss_kb"] for w in ref["workers"]}
        growth = [w["rss_kb"] - ref_by[w["pid"]] for w in end["workers"] if w["pid"] in ref_by]
        respawned = len(growth) < len(end["workers"])
        g_ok = not respawned and all(g <= 512 for g in growth)
        verdicts.append(("no RSS growth in the run", g_ok))
        L.append("| target | value | met? |")
        L.append("|---|---|---|")
        L.append("| RSS under 16 MiB after the run | largest %.1f MiB | %s |" % (end_max, yes(ok)))
        L.append("| no growth within the run (after-warmup → end, ≤ 0.5 MiB) | %s%s | %s |" % (
            ", ".join("%+.1f MiB" % (g / MIB) for g in growth) or "–",
            "; a worker was respawned" if respawned else "", yes(g_ok)))
        if prev is not None:
            prev_max = float(prev[3])
            c_ok = end_max <= prev_max + 0.5
            verdicts.append(("no RSS growth across runs", c_ok))
            L.append("| no growth across runs (largest worker, previous run %s at %s) | %.1f → %.1f MiB | %s |" % (
                prev[1], prev[0], prev_max, end_max, yes(c_ok)))
        else:
            L.append("| no growth across runs | first run recorded in history.tsv | – |")
        L.append("")
        with open(history, "a") as f:
            f.write("%s\t%s\t%s\t%.2f\n" % (meta.get("date"), meta.get("commit"),
                                            ",".join("%.2f" % (w["rss_kb"] / MIB) for w in end["workers"]),
                                            end_max))

    # ---------------------------------------------------------------- summary
    L.append("## Targets")
    L.append("")
    missed = [n for n, ok in verdicts if not ok]
    L.append("%d of %d checks met%s" % (len(verdicts) - len(missed), len(verdicts),
                                        (": missed " + ", ".join(missed)) if missed else "."))
    L.append("")
    L.append("Notes: the mailer sits out the HTTP phases (their events are "
             "purged before the mailer phase); the app's throttles are set to "
             "their maximum and nginx's limit_req guard is raised out of the way "
             "of the single local client; the machine's other load counts in "
             "every figure, which is why only ratios are judged.")
    L.append("")
    L.append("![throughput and latency](results.png)")
    L.append("")

    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(L))

    # ---------------------------------------------------------------- chart data
    names = [n for n in HTTP_ORDER if any((n, c) in http for c in conns)]
    with open(os.path.join(out, "rps.dat"), "w") as f:
        f.write("conns " + " ".join(names) + "\n")
        for c in conns:
            f.write("%d %s\n" % (c, " ".join(
                "%.3f" % http[(n, c)]["rps"] if (n, c) in http else "NaN" for n in names)))
    with open(os.path.join(out, "latency.dat"), "w") as f:
        f.write("conns " + " ".join("%s_p50 %s_p99" % (n, n) for n in names) + "\n")
        for c in conns:
            f.write("%d %s\n" % (c, " ".join(
                "%.3f %.3f" % (ms(http[(n, c)]["p50_us"]), ms(http[(n, c)]["p99_us"]))
                if (n, c) in http else "NaN NaN" for n in names)))
    print("report: %s (%d of %d checks met)" % (os.path.join(out, "results.md"),
                                                 len(verdicts) - len(missed), len(verdicts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
