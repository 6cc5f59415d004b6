#!/usr/bin/python3
"""make valgrind: user-fcgi (and reset-mailer) under memcheck.

Starts a private stack on its own ports whose one FastCGI worker runs
under valgrind (USER_FCGI_BIN=tests/valgrind/user-fcgi, FCGI_WORKERS=1),
and the mailer too (tests/valgrind/reset-mailer); sends requests through
nginx that walk every route (tests/soak/routes.py: the JSON API, the
pages and their forms, the reset flow by email, bad input), stops the
stack (SIGTERM: the worker leaves its accept loop, frees what it holds
and exits, and valgrind writes its report), then reads the reports:

  - any invalid read or write, invalid free, use of an uninitialised
    value, or overlapping copy fails the run;
  - any definitely or indirectly lost block with a frame in fcgi-app/
    fails it; such blocks wholly inside libraries are listed, not failed;
  - a report without a leak summary (the process was killed) fails it;
  - so does any request answered 5xx or not at all.

Prints each report's summary. Settings: VALGRIND_HTTP_PORT (19480) and
the other VALGRIND_*_PORT, VALGRIND_MAILER=0 (leave the mailer alone),
KEEP_VAR=1. Logs end up in build/valgrind-logs/.
"""

import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "soak"))

from routes import tour  # noqa: E402
from stackrun import ROOT, Client, MailIndex, Stack, alive, main_guard, make_admin, say  # noqa: E402

PROG = "valgrind"
OUR_SOURCES = {p.name for p in (ROOT / "fcgi-app").glob("*.c")}
BAD_KINDS = ("Invalid read", "Invalid write", "Invalid free", "Mismatched free",
             "Conditional jump or move depends on uninitialised",
             "Use of uninitialised value", "uninitialised byte", "Source and destination overlap",
             "Argument 'size' of function", "Invalid memory pool")
SUMMARY_KEYS = ("in use at exit:", "total heap usage:", "definitely lost:", "indirectly lost:",
                "possibly lost:", "still reachable:", "suppressed:", "ERROR SUMMARY:")
FRAME_RE = re.compile(r"(?:at|by) 0x[0-9A-Fa-f]+: (.*) \((?:in )?([^():]+?)(?::(\d+))?\)$")


def ports():
    e = os.environ.get
    return {"HTTP_PORT": e("VALGRIND_HTTP_PORT", "19480"),
            "DB_PORT": e("VALGRIND_DB_PORT", "13507"),
            "AMQP_PORT": e("VALGRIND_AMQP_PORT", "17773"),
            "AMQP_DIST_PORT": e("VALGRIND_AMQP_DIST_PORT", "17873"),
            "SMTP_PORT": e("VALGRIND_SMTP_PORT", "12725")}


def blocks(text):
    """The report's paragraphs (lines without the ==pid== prefix)."""
    out, cur = [], []
    for line in text.splitlines():
        body = re.sub(r"^==\d+== ?", "", line)
        if body.strip() == "":
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(body)
    if cur:
        out.append(cur)
    return out


def ours(block):
    """The frames of a block that are in our sources, as 'file:line fn'."""
    hits = []
    for line in block[1:]:
        m = FRAME_RE.search(line.strip())
        if m and m.group(2) in OUR_SOURCES:
            hits.append("%s:%s %s" % (m.group(2), m.group(3), m.group(1)))
    return hits


def analyse(path):
    """(failures, notes, summary lines) of one valgrind log."""
    text = path.read_text(errors="replace")
    failures, notes, summary = [], [], []
    if "HEAP SUMMARY" not in text:
        failures.append("%s: no heap summary: the process did not exit by itself" % path.name)
    if "Process terminating with default action of signal" in text:
        failures.append("%s: the process was killed by a signal" % path.name)
    for b in blocks(text):
        head = b[0]
        if any(k in head for k in BAD_KINDS):
            failures.append("%s: %s\n      %s" % (path.name, head, "\n      ".join(b[1:12])))
        elif "definitely lost in loss record" in head or "indirectly lost in loss record" in head:
            mine = ours(b)
            if mine:
                failures.append("%s: %s (ours: %s)\n      %s" % (
                    path.name, head, ", ".join(mine[:3]), "\n      ".join(b[1:16])))
            else:
                notes.append("%s: library only: %s\n      %s" % (
                    path.name, head, "\n      ".join(b[1:8])))
    for line in text.splitlines():
        body = re.sub(r"^==\d+== ?", "", line).strip()
        if body.startswith(SUMMARY_KEYS):
            summary.append(body)
    return failures, notes, summary


def run():
    vg_dir = ROOT / "tests" / "valgrind"
    env = {"FCGI_WORKERS": "1", "USER_FCGI_BIN": str(vg_dir / "user-fcgi")}
    if os.environ.get("VALGRIND_MAILER", "1") != "0":
        env["RESET_MAILER_BIN"] = str(vg_dir / "reset-mailer")
    for bin_ in ("user-fcgi", "reset-mailer"):
        if not os.access(ROOT / "build" / bin_, os.X_OK):
            say(PROG, "build/%s is missing: make all first" % bin_)
            return 2
    stack = Stack(PROG, ports(), env)
    failures, statuses = [], []
    try:
        stack.up()
        say(PROG, "worker pid(s) %s under valgrind" % stack.workers())
        mail = MailIndex(stack.settings["MAIL_DIR"])
        c = Client(stack.base_url, timeout=60)
        _, admin_token = make_admin(stack, c)
        c.close()

        def check(step, expected, resp):
            statuses.append((step, resp.status_code))
            if resp.status_code >= 500:
                failures.append("request %r answered %d: %s" % (step, resp.status_code,
                                                                 resp.text[:200]))
            elif resp.status_code not in expected:
                say(PROG, "note: %r answered %d (expected %s)" % (
                    step, resp.status_code, sorted(expected)))
            return resp

        t0 = time.monotonic()
        for _ in range(int(os.environ.get("VALGRIND_TOURS", "2"))):
            try:
                tour(stack.base_url, mail, admin_token, check)
            except Exception as e:      # no answer: a crash or a hang
                failures.append("request without an answer: %s: %s" % (type(e).__name__, e))
                break
        say(PROG, "%d requests in %.1fs, statuses: %s" % (
            len(statuses), time.monotonic() - t0,
            ", ".join("%d x%d" % (s, n) for s, n in sorted(
                {s: sum(1 for _, x in statuses if x == s) for _, s in statuses}.items()))))
    except Exception as e:
        failures.append("driver: %s: %s" % (type(e).__name__, e))
    finally:
        stack.down()
        # Valgrind may still be writing its report after the stack is down.
        deadline = time.monotonic() + 60
        for log in (stack.var / "log").glob("valgrind-*.log"):
            pid = int(log.name.rsplit(".", 2)[-2])
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
        kept = stack.keep_logs()

    reports = sorted((stack.var / "log").glob("valgrind-*.log"))
    if not reports:
        failures.append("no valgrind report in %s/log" % stack.var)
    for path in reports:
        f, notes, summary = analyse(path)
        say(PROG, "%s:" % path.name)
        for line in summary:
            print("    " + line)
        for n in notes:
            print("    " + n)
        failures.extend(f)
    stack.remove()
    if failures:
        say(PROG, "FAIL (%d): logs in %s" % (len(failures), kept))
        for f in failures:
            print("  - " + f)
        return 1
    say(PROG, "PASS: %d reports, no invalid access, no leak from our code (logs in %s)" % (
        len(reports), kept))
    return 0


if __name__ == "__main__":
    main_guard(run)
