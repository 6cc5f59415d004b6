#!/usr/bin/python3
"""make soak: a bounded run of mixed requests against a private stack,
with the memory of each user-fcgi worker measured after a warm-up and
at the end.

Starts scripts/stack.sh on its own ports (SOAK_HTTP_PORT 19380 and the
other SOAK_*_PORT) with the release build, then SOAK_THREADS (4) clients
each play users for SOAK_SECONDS (180) in all: register, log in, read,
update, ask for a reset and use the emailed token, log in with the new
password, delete, probe unknown addresses, plus bad input of every kind, the pages with their
forms and, now and then, a full tour of every route (routes.py). Each
client comes from its own loopback addresses, so nginx's limit_req and
the per-IP throttles do not shape the load.

VmRSS of every worker (/proc/<pid>/status) is taken when the warm-up
(SOAK_WARMUP, a fifth of the run) ends, every 15 s, and at the end. The
run fails when a worker grew by more than SOAK_MAX_GROWTH_KB (2048) or
SOAK_MAX_GROWTH_PCT (10) percent of its warm figure, when a worker was
replaced (it died), or when any request was answered 5xx or not at all.
The mailer's figures are printed too. Logs: build/soak-logs/.
"""

import os
import random
import threading
import time
import uuid

from routes import tour
from stackrun import (Client, MailIndex, Stack, bearer, csrf_of, main_guard, make_admin,
                      new_identity, proc_status_kb, say)

PROG = "soak"
JSON = {"Content-Type": "application/json"}


def env_num(name, default, kind=int):
    return kind(os.environ.get(name, default))


def ports():
    e = os.environ.get
    return {"HTTP_PORT": e("SOAK_HTTP_PORT", "19380"),
            "DB_PORT": e("SOAK_DB_PORT", "13407"),
            "AMQP_PORT": e("SOAK_AMQP_PORT", "16673"),
            "AMQP_DIST_PORT": e("SOAK_AMQP_DIST_PORT", "16773"),
            "SMTP_PORT": e("SOAK_SMTP_PORT", "12625")}


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.unexpected = {}
        self.failures = []
        self.total = 0

    def add(self, action, expected, status):
        with self.lock:
            self.total += 1
            key = (action, status)
            self.counts[key] = self.counts.get(key, 0) + 1
            if status not in expected:
                self.unexpected[key] = self.unexpected.get(key, 0) + 1
            if not isinstance(status, int) or status >= 500:
                if len(self.failures) < 20:
                    self.failures.append("%s: %s" % (action, status))


class Player(threading.Thread):
    """One client: a handful of users it registers, uses and retires."""

    MAX_USERS = 12

    def __init__(self, n, base_url, mail, admin_token, tally, stop):
        super().__init__(daemon=True, name="player-%d" % n)
        self.base_url = base_url
        self.mail = mail
        self.admin_token = admin_token
        self.tally = tally
        self.stop = stop
        self.clients = [Client(base_url) for _ in range(8)]
        self.users = []
        self.rng = random.Random(n)
        self.i = 0

    def c(self):
        self.i += 1
        return self.clients[self.i % len(self.clients)]

    def req(self, action, expected, method, path, **kw):
        try:
            r = self.c().request(method, path, allow_redirects=False, **kw)
        except Exception as e:      # no answer
            self.tally.add(action, expected, "%s" % type(e).__name__)
            return None
        self.tally.add(action, expected, r.status_code)
        return r

    # ------------------------------------------------------------ actions

    def register(self):
        if len(self.users) >= self.MAX_USERS:
            return self.delete()
        u = new_identity("soak")
        r = self.req("register", {201}, "POST", "/user", json=u)
        if r is not None and r.status_code == 201:
            u["id"] = r.json()["id"]
            u["token"] = None
            u["forgot"] = []
            self.users.append(u)

    def user(self):
        if not self.users:
            self.register()
        return self.rng.choice(self.users) if self.users else None

    def login(self, u=None):
        u = u or self.user()
        if u is None:
            return
        r = self.req("login", {200}, "POST", "/user/token",
                     json={"email": u["email"], "password": u["password"]})
        if r is not None and r.status_code == 200:
            u["token"] = r.json()["token"]

    def authed(self):
        u = self.user()
        if u is not None and not u["token"]:
            self.login(u)
        return u if u is not None and u["token"] else None

    def get(self):
        u = self.authed()
        if u:
            self.req("get", {200}, "GET", "/user/%d" % u["id"], headers=bearer(u["token"]))

    def validate(self):
        u = self.authed()
        if u:
            self.req("validate", {200}, "GET", "/user/token", headers=bearer(u["token"]))

    def update(self):
        u = self.authed()
        if u:
            self.req("update", {200}, self.rng.choice(["PUT", "PATCH"]), "/user/%d" % u["id"],
                     headers=bearer(u["token"]),
                     json={"real_name": "Soak %s" % uuid.uuid4().hex[:6],
                           "avatar": self.rng.choice(["", "https://example.test/a.png"])})

    def probe(self):
        """A reset asked for an address without an account, as an
        enumeration attack sends them: each one still writes, publishes
        and confirms an event (password.reset.unknown), so a leak per
        event shows here."""
        self.req("probe", {202}, "POST", "/password/forgot",
                 json={"email": "probe-%s@example.test" % uuid.uuid4().hex})

    def forgot(self):
        u = self.user()
        if u is None:
            return
        now = time.monotonic()
        u["forgot"] = [t for t in u["forgot"] if now - t < 60]
        if len(u["forgot"]) >= 3 or u.get("pending"):
            return self.get()
        u["forgot"].append(now)
        r = self.req("forgot", {202}, "POST", self.rng.choice(["/password/forgot",
                                                               "/user/password"]),
                     json={"email": u["email"]})
        if r is not None and r.status_code == 202:
            u["pending"] = now

    def consume(self):
        """Uses the emailed token of a user who asked for a reset."""
        self.mail.scan()
        for u in self.users:
            if not u.get("pending"):
                continue
            token = self.mail.take(u["email"])
            if token is None:
                if time.monotonic() - u["pending"] > 60:
                    self.tally.add("reset mail", {"mailed"}, "not mailed in 60 s")
                    u["pending"] = None
                continue
            u["pending"] = None
            pw = "Reset-%s" % uuid.uuid4().hex[:10]
            if self.rng.random() < 0.5:
                r = self.req("reset", {200}, "POST", "/password/reset",
                             json={"token": token, "password": pw})
            else:
                r = self.req("reset", {200}, "PUT", "/user/password", json={"token": token})
                if r is not None and r.status_code == 200:
                    pw = r.json().get("newPassword", pw)
            if r is not None and r.status_code == 200:
                u["password"] = pw
                u["token"] = None
                self.login(u)
            return

    def delete(self):
        u = self.authed()
        if u is None:
            return
        self.users.remove(u)
        self.req("delete", {204}, "DELETE", "/user/%d" % u["id"], headers=bearer(u["token"]))

    def list(self):
        self.req("list", {200}, "GET", "/user?page=%d&per_page=%d" % (
            self.rng.randint(1, 5), self.rng.choice([5, 20, 100])),
            headers=bearer(self.admin_token))

    def invalid(self):
        u = self.user()
        uid = u["id"] if u else 1
        tok = (u or {}).get("token") or "x"
        cases = [
            ("bad register", {422}, "POST", "/user", {"json": {"name": "a b", "email": "nope",
                                                               "password": "1"}}),
            ("bad json", {400}, "POST", "/user", {"data": b'{"name": [', "headers": JSON}),
            ("deep json", {400, 422}, "POST", "/user", {"data": b"[" * 2000 + b"]" * 2000,
                                                         "headers": JSON}),
            ("too large", {413}, "POST", "/user", {"data": b"{" + b" " * 70000 + b"}",
                                                   "headers": JSON}),
            ("bad utf-8", {400, 422}, "POST", "/user/token",
             {"data": b'{"email": "\xc3\x28@x.test", "password": "x"}', "headers": JSON}),
            ("nul field", {400, 422}, "POST", "/user/token",
             {"data": b'{"email": "a\\u0000b@x.test", "password": "x"}', "headers": JSON}),
            ("crlf field", {422}, "POST", "/password/forgot",
             {"json": {"email": "a@x.test\r\nBcc: b@x.test"}}),
            ("no token", {401}, "GET", "/user/%d" % uid, {}),
            ("bad token", {401}, "GET", "/user/token", {"headers": bearer("a.b.c")}),
            ("other user", {401, 403, 404}, "GET", "/user/%d" % (uid + 100000),
             {"headers": bearer(tok)}),
            ("unknown path", {404}, "GET", "/user/%d/friends" % uid, {}),
            ("wrong method", {405}, "DELETE", "/user/token", {}),
            ("bad page", {400, 401, 403}, "GET", "/user?page=-3&per_page=100000",
             {"headers": bearer(self.admin_token)}),
            ("bad reset token", {400}, "POST", "/password/reset",
             {"json": {"token": "A" * 43, "password": "Whatever-123"}}),
            ("malformed link", {410}, "GET", "/password/reset?token=%27%20OR%201%3D1", {}),
            ("sql in login", {401, 429}, "POST", "/user/token",
             {"json": {"login": "' OR '1'='1", "password": "' OR '1'='1"}}),
            ("dup keys", {201, 400, 409, 422}, "POST", "/user",
             {"data": b'{"name": "a", "name": "b", "email": "x", "password": "y"}',
              "headers": JSON}),
            ("wrong login", {401, 429}, "POST", "/user/token",
             {"json": {"email": (u or {}).get("email", "x@x.test"),
                       "password": "Wrong-pass-1"}}),
        ]
        action, expected, method, path, kw = self.rng.choice(cases)
        self.req(action, expected, method, path, **kw)

    def pages(self):
        b = Client(self.base_url)
        b.headers["Accept"] = "text/html"
        try:
            steps = [("/user/login", 200), ("/user/register", 200), ("/password/forgot", 200),
                     ("/password/forgot/sent", 200), ("/password/reset/done", 200)]
            path, code = self.rng.choice(steps)
            r = b.get(path)
            self.tally.add("page", {code}, r.status_code)
            u = self.user()
            if u is not None and self.rng.random() < 0.5:
                r = b.get("/user/login")
                r = b.post("/user/login", data={"csrf": csrf_of(r.text), "login": u["name"],
                                                "password": u["password"]})
                self.tally.add("login form", {303}, r.status_code)
                r = b.get("/user/account")
                self.tally.add("account page", {200}, r.status_code)
                r = b.post("/user/account", data={"csrf": csrf_of(r.text),
                                                  "real_name": "Form %d" % self.i, "avatar": ""})
                self.tally.add("account form", {303}, r.status_code)
                r = b.get("/user/locale?lang=%s&next=/user/account" % self.rng.choice(
                    ["zh-CN", "en"]))
                self.tally.add("locale", {303}, r.status_code)
        except Exception as e:
            self.tally.add("page", {200}, type(e).__name__)
        finally:
            b.close()

    def tour(self):
        def check(step, expected, resp):
            self.tally.add("tour " + step, expected, resp.status_code)
            return resp
        try:
            tour(self.base_url, self.mail, self.admin_token, check)
        except Exception as e:
            self.tally.add("tour", {"done"}, type(e).__name__)

    def run(self):
        actions = [(self.register, 8), (self.login, 10), (self.get, 25), (self.validate, 6),
                   (self.update, 10), (self.forgot, 6), (self.probe, 12), (self.consume, 6),
                   (self.delete, 2),
                   (self.list, 3), (self.invalid, 18), (self.pages, 5), (self.tour, 0.15)]
        funcs = [a for a, _ in actions]
        weights = [w for _, w in actions]
        while not self.stop.is_set():
            self.rng.choices(funcs, weights)[0]()
        for c in self.clients:
            c.close()


def rss_line(label, figures):
    return "%-8s %s" % (label, "  ".join("%d: %d kB" % (pid, kb) for pid, kb in sorted(
        figures.items())))


def run():
    seconds = env_num("SOAK_SECONDS", "180", float)
    warmup = env_num("SOAK_WARMUP", str(max(10.0, seconds / 5)), float)
    threads = env_num("SOAK_THREADS", "4")
    max_kb = env_num("SOAK_MAX_GROWTH_KB", "2048")
    max_pct = env_num("SOAK_MAX_GROWTH_PCT", "10", float)
    if warmup >= seconds:
        say(PROG, "SOAK_WARMUP (%s) must be shorter than SOAK_SECONDS (%s)" % (warmup, seconds))
        return 2
    env = {}
    if "SOAK_WORKERS" in os.environ:
        env["FCGI_WORKERS"] = os.environ["SOAK_WORKERS"]
    stack = Stack(PROG, ports(), env)
    failures = []
    tally = Tally()
    try:
        stack.up()
        workers = stack.workers()
        mailer = stack.pid("reset-mailer.pid")
        say(PROG, "workers %s, mailer %s; %d clients for %.0fs (warm-up %.0fs)" % (
            workers, mailer, threads, seconds, warmup))
        mail = MailIndex(stack.settings["MAIL_DIR"])
        c = Client(stack.base_url)
        _, admin_token = make_admin(stack, c)
        c.close()

        def rss():
            return {pid: proc_status_kb(pid, "VmRSS") for pid in workers}

        stop = threading.Event()
        players = [Player(i, stack.base_url, mail, admin_token, tally, stop)
                   for i in range(threads)]
        t0 = time.monotonic()
        for p in players:
            p.start()
        time.sleep(warmup)
        warm, warm_mailer = rss(), proc_status_kb(mailer, "VmRSS")
        say(PROG, rss_line("warm", warm) + "  mailer %s kB  (%d requests)" % (
            warm_mailer, tally.total))
        while time.monotonic() - t0 < seconds:
            time.sleep(min(15, max(0.0, seconds - (time.monotonic() - t0))))
            say(PROG, rss_line("t=%ds" % (time.monotonic() - t0), rss()) +
                "  (%d requests)" % tally.total)
        stop.set()
        for p in players:
            p.join(60)
        time.sleep(1)
        end, end_mailer = rss(), proc_status_kb(mailer, "VmRSS")
        hwm = {pid: proc_status_kb(pid, "VmHWM") for pid in workers}
        now = stack.workers()
        elapsed = time.monotonic() - t0

        say(PROG, "%d requests in %.0fs (%.0f/s)" % (tally.total, elapsed,
                                                    tally.total / elapsed))
        for (action, status), n in sorted(tally.counts.items(), key=lambda kv: str(kv[0])):
            mark = "  <- unexpected" if (action, status) in tally.unexpected else ""
            print("    %-32s %-22s %7d%s" % (action, status, n, mark))
        print()
        print("    %-8s %10s %10s %10s %8s %10s" % ("pid", "warm kB", "end kB", "growth",
                                                   "%", "peak kB"))
        for pid in workers:
            w, e = warm.get(pid), end.get(pid)
            if w is None or e is None:
                print("    %-8d %10s %10s  (gone)" % (pid, w, e))
                continue
            pct = 100.0 * (e - w) / w
            print("    %-8d %10d %10d %+10d %+7.1f%% %10s" % (pid, w, e, e - w, pct, hwm[pid]))
            if e - w > max_kb or pct > max_pct:
                failures.append("worker %d grew from %d to %d kB (%+d kB, %+.1f%%; the limit "
                                "is %d kB and %.0f%%)" % (pid, w, e, e - w, pct, max_kb, max_pct))
        if warm_mailer and end_mailer:
            print("    %-8s %10d %10d %+10d %+7.1f%%   (reset-mailer %d, not judged)" % (
                "mailer", warm_mailer, end_mailer, end_mailer - warm_mailer,
                100.0 * (end_mailer - warm_mailer) / warm_mailer, mailer))
        if now != workers:
            failures.append("workers changed from %s to %s: one died during the run" % (
                workers, now))
        if tally.failures:
            failures.append("answers 5xx or none: %s" % "; ".join(tally.failures))
    except Exception as e:
        failures.append("driver: %s: %s" % (type(e).__name__, e))
    finally:
        stack.down()
        kept = stack.keep_logs()
        stack.remove()
    if failures:
        say(PROG, "FAIL (logs in %s)" % kept)
        for f in failures:
            print("  - " + f)
        return 1
    say(PROG, "PASS: worker memory steady, no 5xx (logs in %s)" % kept)
    return 0


if __name__ == "__main__":
    main_guard(run)
