"""A private stack for the long-running checks (make soak, make valgrind),
and the HTTP client they drive it with.

Stack(name, ports, env) starts scripts/stack.sh up in a fresh temporary
VAR_DIR on its own ports with the settings scripts/test.sh uses (cheap
argon2, short relay age, throttle limits a load can live with), and
down() stops it, keeps its logs in build/<name>-logs/ and removes the
folder (KEEP_VAR=1 keeps it). Only the Python standard library and
python3-requests (Debian's /usr/bin/python3).
"""

import email
import email.policy
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
import requests.adapters

ROOT = Path(__file__).resolve().parents[2]
TOKEN_RE = re.compile(r"/password/reset\?token=([A-Za-z0-9_-]{43})")
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')

# scripts/test.sh's program settings; the IP limits are raised since the
# drivers come from a handful of addresses at a high rate.
BASE_ENV = {
    "FCGI_WORKERS": "2",
    "ARGON2_OPSLIMIT": "1", "ARGON2_MEMLIMIT": "8192",
    "OUTBOX_RELAY_AGE": "3", "MAILER_RETRY_BASE": "1",
    "THROTTLE_FORGOT_ADDR_MINUTE": "5", "THROTTLE_FORGOT_ADDR_HOUR": "30",
    "THROTTLE_FORGOT_IP_HOUR": "1000000", "THROTTLE_LOGIN_ACCOUNT": "10",
    "THROTTLE_LOGIN_IP": "1000000", "THROTTLE_TOKEN_IP": "1000000",
}


def say(prog, msg):
    print("%s: %s" % (prog, msg), flush=True)


def read_env_file(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            words = shlex.split(v)
            out[k] = words[0] if words else ""
    return out


def alive(pid):
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid):
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry.name))
    return sorted(out)


def proc_status_kb(pid, key):
    """A kB figure of /proc/<pid>/status (VmRSS, VmHWM, ...), or None."""
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class Stack:
    def __init__(self, name, ports, env=None):
        self.name = name
        self.var = Path(tempfile.mkdtemp(prefix="micro-user-%s." % name))
        self.env = dict(os.environ)
        self.env.pop("SMTP_HOST", None)            # the drivers need the sink
        self.env.update(BASE_ENV)
        self.env.update(ports)
        self.env.update(env or {})
        self.env["VAR_DIR"] = str(self.var)
        self.settings = {}
        self.up_ok = False

    def stack_sh(self, *args, check=True):
        proc = subprocess.run([str(ROOT / "scripts" / "stack.sh")] + list(args), env=self.env,
                              cwd=ROOT, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError("stack.sh %s failed:\n%s%s" % (" ".join(args), proc.stdout,
                                                              proc.stderr))
        return proc

    def up(self):
        say(self.name, "starting a stack in %s (http port %s)" % (self.var,
                                                                 self.env["HTTP_PORT"]))
        self.stack_sh("up")
        self.up_ok = True
        self.settings = read_env_file(self.var / "stack.env")
        self.base_url = "http://127.0.0.1:%s" % self.settings["HTTP_PORT"]
        return self

    def down(self):
        if (self.var / "run").is_dir():
            self.stack_sh("down", check=False)

    def keep_logs(self):
        dest = ROOT / "build" / ("%s-logs" % self.name)
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True, exist_ok=True)
        if (self.var / "log").is_dir():
            shutil.copytree(self.var / "log", dest, dirs_exist_ok=True)
        return dest

    def remove(self):
        if os.environ.get("KEEP_VAR") == "1":
            say(self.name, "kept %s" % self.var)
        else:
            shutil.rmtree(self.var, ignore_errors=True)

    def pid(self, pidfile):
        try:
            pid = int((self.var / "run" / pidfile).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if alive(pid) else None

    def workers(self):
        mw = self.pid("user-fcgi.pid")
        return children(mw) if mw else []

    def sql(self, query):
        """SQL as the application's user (trusted text only)."""
        s = self.settings
        password = Path(s["DB_PASSWORD_FILE"]).read_text().rstrip("\n")
        fd, cnf = tempfile.mkstemp(prefix="mu-db-", suffix=".cnf")
        try:
            with os.fdopen(fd, "w") as f:
                f.write('[client]\nuser=%s\npassword="%s"\nsocket=%s\n' % (
                    s["DB_USER"], password.replace("\\", "\\\\").replace('"', '\\"'),
                    s["DB_SOCKET"]))
            proc = subprocess.run(["mariadb", "--defaults-extra-file=" + cnf, "--batch",
                                   "--skip-column-names", s["DB_DATABASE"]],
                                  input=query, capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(cnf)
        if proc.returncode != 0:
            raise RuntimeError("SQL failed: %s\n%s" % (query, proc.stderr))
        return proc.stdout


# ---------------------------------------------------------------- clients

class _FromAddress(requests.adapters.HTTPAdapter):
    def __init__(self, source_ip):
        self.source_ip = source_ip
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source_ip, 0)
        super().init_poolmanager(*args, **kwargs)


def random_ip():
    return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255),
                             random.randint(1, 254))


class Client(requests.Session):
    """A session from its own loopback address (nginx's limit_req and the
    per-IP throttles count it alone); relative URLs go to base_url."""

    def __init__(self, base_url, timeout=20):
        super().__init__()
        self.base_url = base_url
        self.timeout = timeout
        self.mount("http://", _FromAddress(random_ip()))

    def request(self, method, url, *args, **kwargs):
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)

    def get(self, url, **kwargs):
        """Redirects are answers to check, not to follow."""
        kwargs.setdefault("allow_redirects", False)
        return self.request("GET", url, **kwargs)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def csrf_of(page_text):
    m = CSRF_RE.search(page_text)
    return m.group(1) if m else ""


def new_identity(tag="s"):
    u = uuid.uuid4().hex[:16]
    return {"name": "%s_%s" % (tag, u), "email": "%s-%s@example.test" % (tag, u),
            "password": "Pass-%s" % uuid.uuid4().hex[:10]}


class MailIndex:
    """Reset tokens mailed to each address (the sink's folder)."""

    def __init__(self, mail_dir):
        self.dir = Path(mail_dir)
        self.done = set()
        self.tokens = {}
        self.lock = threading.Lock()

    def scan(self):
        with self.lock:
            for p in sorted(self.dir.glob("*.eml")):
                if p.name in self.done:
                    continue
                self.done.add(p.name)
                try:
                    with open(p, "rb") as f:
                        msg = email.message_from_binary_file(f, policy=email.policy.default)
                    body = msg.get_body(preferencelist=("plain",))
                    text = body.get_content() if body is not None else ""
                except Exception:       # not ours to judge here
                    continue
                m = TOKEN_RE.search(text)
                if not m:
                    continue
                rcpt = str(msg.get("X-Sink-Rcpt-To", "")).strip().strip("<>").lower()
                self.tokens.setdefault(rcpt, []).append(m.group(1))

    def take(self, addr):
        """The newest token mailed to addr not taken yet, or None."""
        with self.lock:
            lst = self.tokens.get(addr.lower())
            return lst.pop() if lst else None

    def wait(self, addr, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.scan()
            tok = self.take(addr)
            if tok:
                return tok
            time.sleep(0.2)
        return None


def make_admin(stack, client):
    """A registered account promoted to admin by SQL; (user, token)."""
    user = new_identity("adm")
    r = client.post("/user", json=user)
    if r.status_code != 201:
        raise RuntimeError("register admin: %s %s" % (r.status_code, r.text))
    user["id"] = r.json()["id"]
    stack.sql("UPDATE users SET role = 'admin' WHERE id = %d" % int(user["id"]))
    r = client.post("/user/token", json={"email": user["email"], "password": user["password"]})
    if r.status_code != 200:
        raise RuntimeError("admin login: %s %s" % (r.status_code, r.text))
    return user, r.json()["token"]


def main_guard(fn):
    """Runs fn(); exit code 130 on Ctrl-C (fn's finally blocks tear down)."""
    try:
        sys.exit(fn())
    except KeyboardInterrupt:
        sys.exit(130)
