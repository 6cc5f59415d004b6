"""Faults the stack survives, each against the real stack (conftest.py).

  - MariaDB restarted under load: requests in flight may fail with 503,
    then the same workers serve again; no reset is half-written.
  - A worker killed with SIGKILL: multiwatch replaces it, nginx keeps
    serving from the others.
  - RabbitMQ restarted while the mailer consumes: every event queued
    before is mailed exactly once.
  - The SMTP server down for a while: mail arrives after it returns, none
    lost, none sent twice (counted in the sink).

Already covered elsewhere, not repeated here: a reset requested while
RabbitMQ is down (test_reset_flow.py), the mailer killed mid-message and
SMTP 4xx retries (test_mailer.py).

Servers are stopped through their pidfiles under $VAR_DIR/run and started
again with the very command line scripts/stack.sh gave them (read from
/proc/<pid>/cmdline before the stop). Every test puts the stack back in a
finally block, so the suites after this one find it whole. Loops are
bounded; the file takes well under 90 s.
"""

import os
import random
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import FromAddress as _FromAddress

MAIL_TIMEOUT = 40
GOOD = {"get": 200, "forgot": 202}
GATEWAY = {502, 503, 504}


# ---------------------------------------------------------------- helpers

def _wait(predicate, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def _alive(pid):
    """Running and not a zombie (as stack.sh's alive())."""
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _run_dir(stack):
    return Path(stack["VAR_DIR"]) / "run"


def _pid_of(stack, name):
    try:
        pid = int((_run_dir(stack) / name).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _children(pid):
    """Pids whose parent is pid."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry.name))
    return sorted(out)


def worker_pids(stack):
    """The user-fcgi workers: the children of multiwatch (user-fcgi.pid)."""
    mw = _pid_of(stack, "user-fcgi.pid")
    assert mw is not None, "multiwatch is not running"
    return _children(mw)


def _wait_workers(stack, timeout=15):
    n = int(stack.get("FCGI_WORKERS", "2"))
    return _wait(lambda: (lambda p: p if len(p) == n else None)(worker_pids(stack)),
                 timeout, what="%d user-fcgi workers" % n)


class Server:
    """A server of the stack, stopped and started again exactly as
    scripts/stack.sh started it (command line and cwd from /proc)."""

    def __init__(self, stack, pidfile, log):
        self.stack = stack
        self.pidfile = _run_dir(stack) / pidfile
        self.log = Path(stack["VAR_DIR"]) / "log" / log
        self.pid = _pid_of(stack, pidfile)
        assert self.pid is not None, "%s: no running process" % self.pidfile
        raw = Path("/proc/%d/cmdline" % self.pid).read_bytes()
        self.argv = [a.decode() for a in raw.split(b"\0") if a]
        self.cwd = os.readlink("/proc/%d/cwd" % self.pid)
        self.stopped = False

    def stop(self, timeout=60):
        """SIGTERM through the pidfile; returns once the process is gone."""
        os.kill(self.pid, signal.SIGTERM)
        self.stopped = True
        _wait(lambda: not _alive(self.pid), timeout, what="pid %d to exit" % self.pid)

    def start(self):
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(self.argv, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True)
        self.pid = proc.pid
        self.pidfile.write_text("%d\n" % proc.pid)
        self.stopped = False


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


def _db_up(db):
    try:
        return db.scalar("SELECT 1") == "1"
    except (AssertionError, subprocess.TimeoutExpired):
        return False


def _random_ip():
    return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255),
                             random.randint(1, 254))


def session_from(base_url, ip=None):
    s = requests.Session()
    s.mount("http://", _FromAddress(ip or _random_ip()))
    s.base = base_url
    return s


def sql_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def make_users(db, prefix, n):
    """n accounts straight in the table (only their addresses matter);
    returns their addresses."""
    addrs = ["%s-%d@example.test" % (prefix, i) for i in range(n)]
    values = ",".join("(NOW(3), NOW(3), %s, %s)" % (sql_str(a.split("@")[0]), sql_str(a))
                      for a in addrs)
    db.execute("INSERT INTO users (created_at, updated_at, name, email) VALUES " + values)
    return addrs


def api_user(base_url):
    """A real account through the API, logged in: (id, bearer token)."""
    s = session_from(base_url)
    tag = uuid.uuid4().hex[:16]
    user = {"name": "f_" + tag, "email": "fault-%s@example.test" % tag,
            "password": "Fault-pass-123"}
    r = s.post(base_url + "/user", json=user, timeout=15)
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    r = s.post(base_url + "/user/token", json={"email": user["email"],
                                               "password": user["password"]}, timeout=15)
    assert r.status_code == 200, r.text
    s.close()
    return uid, r.json()["token"]


def forgot(base_url, addr):
    """POST /password/forgot from a fresh client address; the status."""
    s = session_from(base_url)
    try:
        return s.post(base_url + "/password/forgot", json={"email": addr}, timeout=15).status_code
    finally:
        s.close()


class Sink:
    """Counts what the SMTP sink stored, per envelope recipient."""

    def __init__(self, stack):
        self.dir = Path(stack["MAIL_DIR"])
        self.seen = {p.name for p in self.dir.glob("*.eml")}
        self.rcpt = {}

    def counts(self, addrs):
        for p in self.dir.glob("*.eml"):
            if p.name in self.seen or p.name in self.rcpt:
                continue
            with open(p, "rb") as f:
                head = f.read(4096).decode("utf-8", "replace")
            line = next((l for l in head.splitlines() if l.lower().startswith("x-sink-rcpt-to:")), "")
            self.rcpt[p.name] = line.split(":", 1)[1].strip().lower()
        wanted = {a.lower(): 0 for a in addrs}
        for rcpt in self.rcpt.values():
            for one in rcpt.split(","):
                one = one.strip().strip("<>")
                if one in wanted:
                    wanted[one] += 1
        return wanted


def wait_mail_each(sink, addrs, timeout=MAIL_TIMEOUT):
    """Waits until every address has at least one mail; returns the counts
    after a further 3 s, in which a second copy would have shown up."""
    _wait(lambda: all(sink.counts(addrs).values()), timeout, interval=0.3,
          what="a mail for each of %d addresses (missing: %s)" % (
              len(addrs), [a for a, c in sink.counts(addrs).items() if not c][:5]))
    time.sleep(3)
    return sink.counts(addrs)


def log_lines(stack, name, start=0):
    """Lines of a log from byte offset start; and the new offset."""
    path = Path(stack["VAR_DIR"]) / "log" / name
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    return data.decode("utf-8", "replace").splitlines(), start + len(data)


def log_size(stack, name):
    return (Path(stack["VAR_DIR"]) / "log" / name).stat().st_size


class Load:
    """Threads sending requests until stop(); each result is
    (start, end, kind, status or exception text)."""

    def __init__(self, threads, op, pause):
        self.results = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.op = op
        self.pause = pause
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]

    def _run(self, i):
        n = 0
        while not self.stopping.is_set():
            t0 = time.monotonic()
            try:
                kind, status = self.op(i, n)
            except Exception as e:      # a hang or a reset connection: reported
                kind, status = "error", "%s: %s" % (type(e).__name__, e)
            with self.lock:
                self.results.append((t0, time.monotonic(), kind, status))
            n += 1
            time.sleep(self.pause)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)
        assert not any(t.is_alive() for t in self.threads), "a request hangs"
        return sorted(self.results)

    def done_since(self, t):
        with self.lock:
            return sorted(r for r in self.results if r[0] >= t)


def _tally(results):
    out = {}
    for r in results:
        key = "%s %s" % (r[2], r[3])
        out[key] = out.get(key, 0) + 1
    return out


def _first_streak(results, since, n=10):
    """Start of the first run of n good answers begun after since."""
    run = []
    for r in results:
        if r[0] < since:
            continue
        run = run + [r] if _good(r) else []
        if len(run) == n:
            return run[0][0]
    return float("nan")


def _outcomes(lines):
    out = {}
    for line in lines:
        if '"mail.outcome"' in line:
            o = line.split('"outcome":', 1)[1].split('"')[1]
            out[o] = out.get(o, 0) + 1
    return out


def _good(result):
    return GOOD.get(result[2]) == result[3]


# ---------------------------------------------------------------- MariaDB

def test_mariadb_restart_under_load(stack, base_url, db):
    workers_before = worker_pids(stack)
    sink = Sink(stack)
    uid, token = api_user(base_url)
    prefix = "fdb-%s" % uuid.uuid4().hex[:12]
    addrs = make_users(db, prefix, 300)
    next_addr = iter(addrs)
    addr_lock = threading.Lock()
    asked = {}                      # address -> status of its forgot request
    gets = [session_from(base_url) for _ in range(4)]
    auth = {"Authorization": "Bearer " + token}

    def op(i, n):
        if n % 4 == 3:
            with addr_lock:
                addr = next(next_addr, None)
            if addr is not None:
                asked[addr] = "no answer"
                asked[addr] = status = forgot(base_url, addr)
                return "forgot", status
        r = gets[i].get("%s/user/%s" % (base_url, uid), headers=auth, timeout=15)
        return "get", r.status_code

    server = Server(stack, "mariadb.pid", "mariadb.log")
    load = Load(4, op, pause=0.03).start()
    try:
        time.sleep(1.5)
        t_stop = time.monotonic()
        server.stop()
        time.sleep(1.0)                 # down, under load
        server.start()
        _wait(lambda: _db_up(db), 60, interval=0.2, what="MariaDB to accept connections")
        t_up = time.monotonic()

        def recovered():
            done = load.done_since(t_up)
            tail = done[-20:]
            return (len(tail) == 20 and all(map(_good, tail))
                    and {r[2] for r in tail} == {"get", "forgot"})
        _wait(recovered, 10, interval=0.2, what="the workers to serve again after the restart")
    finally:
        results = load.stop()
        for s in gets:
            s.close()
        if server.stopped or not _db_up(db):
            if _pid_of(stack, "mariadb.pid") is None:
                server.start()
            _wait(lambda: _db_up(db), 60, interval=0.2, what="MariaDB back")

    print("mariadb restart: answers %s; down %.1fs; 200 again %.1fs after it was back" % (
        _tally(results), t_up - t_stop, _first_streak(results, t_up) - t_up))
    errors = [r for r in results if r[2] == "error"]
    assert not errors, "requests failed without an answer: %s" % errors[:5]
    bad = [r for r in results if not _good(r) and r[3] not in GATEWAY]
    assert not bad, "answers other than success or 502/503/504: %s" % bad[:10]
    during = [r for r in results if r[0] >= t_stop and not _good(r)]
    assert any(r[3] == 503 for r in during), "the outage was not seen: %s" % (
        sorted({r[3] for r in results}),)
    slow = [r for r in results if r[1] - r[0] > 12]
    assert not slow, "requests that took over 12 s: %s" % slow[:5]
    assert worker_pids(stack) == workers_before, "the workers were restarted"

    # No half-written reset: for every address asked, as many reset rows as
    # mails (each row's event reached the mailer, directly or through the
    # outbox relay; no mail without a row); a 202 is one row and one mail; a
    # 503 is none, or one and its mail when the commit went through but its
    # acknowledgement was lost. ("no answer" is judged like a 503.)
    assert sum(1 for s in asked.values() if s == 202) >= 10
    like = sql_str(prefix + "-%")

    def state():
        rows = dict(db.rows("SELECT email, COUNT(*) FROM password_resets WHERE email LIKE %s "
                            "GROUP BY email" % like))
        mails = sink.counts(asked)
        return {a: (int(rows.get(a, 0)), mails[a.lower()]) for a in asked}

    def settled():
        now = state()
        pending = db.scalar("SELECT COUNT(*) FROM outbox WHERE email LIKE %s" % like)
        return now if pending == "0" and all(r == m for r, m in now.values()) else None
    try:
        now = _wait(settled, MAIL_TIMEOUT, interval=0.5, what="reset rows == mails")
    except AssertionError:
        now = state()
        raise AssertionError("address: (answer, (reset rows, mails)) that differ: %s" % {
            a: (asked[a], s) for a, s in now.items() if s[0] != s[1]}) from None
    wrong = {a: (asked[a], now[a]) for a in asked
             if (asked[a] == 202 and now[a] != (1, 1)) or now[a][0] > 1}
    assert not wrong, "address: (answer, (reset rows, mails)): %s" % wrong


# ---------------------------------------------------------------- a worker killed

def test_worker_killed_is_replaced_and_nginx_keeps_serving(stack, base_url):
    if int(stack.get("FCGI_WORKERS", "2")) < 2:
        pytest.skip("needs at least two workers")
    mw = _pid_of(stack, "user-fcgi.pid")
    before = _wait_workers(stack)
    uid, token = api_user(base_url)
    sessions = [session_from(base_url) for _ in range(3)]
    auth = {"Authorization": "Bearer " + token}

    def op(i, n):
        return "get", sessions[i].get("%s/user/%s" % (base_url, uid), headers=auth,
                                      timeout=15).status_code

    # Three clients keep both workers busy: the kill most likely lands
    # mid-request, whose answer is then nginx's 502.
    load = Load(3, op, pause=0.002).start()
    try:
        time.sleep(0.5)
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        t_kill = time.monotonic()
        after = _wait(lambda: (lambda p: p if len(p) == len(before) and victim not in p else None)(
            worker_pids(stack)), 10, what="multiwatch to replace pid %d" % victim)
        t_new = time.monotonic()
        time.sleep(1.5)
    finally:
        results = load.stop()
        for s in sessions:
            s.close()
        _wait_workers(stack)

    print("worker SIGKILL: answers %s; replaced in %.2fs" % (_tally(results), t_new - t_kill))
    assert _pid_of(stack, "user-fcgi.pid") == mw, "multiwatch itself went away"
    assert set(after) - set(before), "no new worker"
    statuses = [r[3] for r in results]
    assert set(statuses) <= {200, 502}, "unexpected answers: %s" % sorted(set(map(str, statuses)))
    assert statuses.count(502) <= 3, "%d x 502" % statuses.count(502)
    assert any(r[0] < t_kill for r in results) and len([r for r in results if r[0] > t_new]) >= 20
    late = [r for r in results if r[0] > t_new + 0.5]
    assert all(r[3] == 200 for r in late), "not all 200 after the replacement: %s" % [
        r[3] for r in late if r[3] != 200]


# ---------------------------------------------------------------- RabbitMQ

def test_rabbitmq_restart_while_mailer_consumes(stack, base_url, db, rabbit, mailer):
    """The mailer holds a delivery (the SMTP server is held with SIGSTOP)
    and up to MAILER_PREFETCH more, unacknowledged, when the broker's
    application stops; the one in hand is mailed while the broker is down
    (its ack is lost), the broker restarts, the mailer reconnects, and each
    event is mailed once: the redelivery of the mailed one is a duplicate."""
    if stack.get("STACK_SMTP_SINK") != "1":
        pytest.skip("needs the stack's SMTP sink")
    n = 20
    addrs = make_users(db, "fmq-%s" % uuid.uuid4().hex[:12], n)
    like = sql_str(addrs[0].rsplit("-", 1)[0] + "-%")
    sink = Sink(stack)
    sink_pid = _pid_of(stack, "smtp-sink.pid")
    mailer_pid = _wait(mailer.pid, 10, what="a running reset-mailer")
    connected_from = log_size(stack, "reset-mailer.log")
    stopped = []
    try:
        os.kill(mailer_pid, signal.SIGSTOP)       # let the events pile up
        stopped.append(mailer_pid)
        ip = _random_ip()
        s = session_from(base_url, ip)
        for a in addrs:
            r = s.post(base_url + "/password/forgot", json={"email": a}, timeout=15)
            assert r.status_code == 202, r.text
        s.close()
        # Published by the workers (rows still there after a broker restart
        # earlier are the relay's, which runs once the mailer goes on).
        try:
            _wait(lambda: db.scalar("SELECT COUNT(*) FROM outbox WHERE email LIKE %s" % like)
                  == "0", 5, interval=0.2, what="the workers to publish")
        except AssertionError:
            pass
        os.kill(sink_pid, signal.SIGSTOP)         # the next mail hangs in SMTP
        stopped.append(sink_pid)
        os.kill(mailer_pid, signal.SIGCONT)
        stopped.remove(mailer_pid)
        time.sleep(1.5)                           # it takes a delivery and blocks
        rabbit.stop_app()
        os.kill(sink_pid, signal.SIGCONT)         # the message in hand goes out
        stopped.remove(sink_pid)
        time.sleep(1)
        rabbit.start_app()
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    counts = wait_mail_each(sink, addrs, timeout=MAIL_TIMEOUT)
    assert all(c == 1 for c in counts.values()), "mails per address: %s" % {
        a: c for a, c in counts.items() if c != 1}
    lines, _ = log_lines(stack, "reset-mailer.log", connected_from)
    print("rabbitmq restart: outcomes %s" % _outcomes(lines))
    assert any('"mailer.connected"' in l for l in lines), "the mailer did not reconnect"
    assert db.scalar("SELECT COUNT(*) FROM outbox WHERE email LIKE %s" % like) == "0"


# ---------------------------------------------------------------- SMTP

def test_smtp_down_for_a_while_then_mail_arrives_once(stack, base_url, db):
    if stack.get("STACK_SMTP_SINK") != "1":
        pytest.skip("needs the stack's SMTP sink")
    k = 5
    addrs = make_users(db, "fsmtp-%s" % uuid.uuid4().hex[:12], k)
    sink = Sink(stack)
    server = Server(stack, "smtp-sink.pid", "smtp-sink.log")
    mlog = log_size(stack, "reset-mailer.log")
    slog = log_size(stack, "smtp-sink.log")
    try:
        server.stop(timeout=15)
        assert not _port_open(stack["STACK_SMTP_PORT"])
        t_down = time.monotonic()
        for a in addrs:
            assert forgot(base_url, a) == 202
        # The mailer tries, fails and schedules retries.
        _wait(lambda: sum('"retry"' in l for l in log_lines(stack, "reset-mailer.log", mlog)[0]
                          if '"mail.outcome"' in l) >= 1, 15, interval=0.3,
              what="the mailer to fail over to retries")
        time.sleep(max(0.0, 5 - (time.monotonic() - t_down)))
    finally:
        if server.stopped:
            server.start()
            _wait(lambda: _port_open(stack["STACK_SMTP_PORT"]), 15,
                  what="the SMTP sink to listen again")
    counts = wait_mail_each(sink, addrs, timeout=MAIL_TIMEOUT)
    assert all(c == 1 for c in counts.values()), "mails per address: %s" % counts
    # The sink's own record of each delivery agrees.
    stored, _ = log_lines(stack, "smtp-sink.log", slog)
    for a in addrs:
        assert sum(1 for l in stored if l.startswith("stored ") and a in l) == 1, a
    outcomes = [l for l in log_lines(stack, "reset-mailer.log", mlog)[0] if '"mail.outcome"' in l]
    print("smtp down: outcomes %s" % _outcomes(outcomes))
    assert not [l for l in outcomes if '"dead"' in l], "dead-lettered: %s" % outcomes


def test_mail_taken_while_the_database_is_down_is_still_recorded(stack, base_url, db,
                                                                  mailbox, smtp_fault):
    """The sink takes a reset mail slowly; MariaDB goes down before its 250
    and comes back a few seconds later. The mailer must record the event in
    mail_sent before it acks, so that a relayed or redelivered copy is a
    duplicate, not a second mail: it waits for the database."""
    prefix = "frec-%s" % uuid.uuid4().hex[:12]
    addr = make_users(db, prefix, 1)[0]
    server = Server(stack, "mariadb.pid", "mariadb.log")
    try:
        with smtp_fault("DELAY 2"):
            assert forgot(base_url, addr) == 202
            msg = mailbox.wait_for(lambda m: addr in str(m.get("X-Sink-Rcpt-To", "")),
                                   timeout=20)
            server.stop()           # the 250 comes while the database is down
            time.sleep(3)
        server.start()
        _wait(lambda: _db_up(db), 30, interval=0.2, what="MariaDB to come back")
        event_id = str(msg["Message-ID"]).strip("<>").split("@")[0]
        _wait(lambda: db.scalar("SELECT COUNT(*) FROM mail_sent WHERE event_id = '%s'"
                                % event_id) == "1", 15, interval=0.2,
              what="the event in mail_sent")
    finally:
        if server.stopped:
            server.start()
            _wait(lambda: _db_up(db), 30, interval=0.2, what="MariaDB to come back")
    mailbox.expect_none(lambda m: addr in str(m.get("X-Sink-Rcpt-To", "")) and
                        m.path != msg.path, wait=2)
