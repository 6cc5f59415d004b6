"""Fixtures for tests against a running local stack (scripts/stack.sh).

The stack is described by $STACK_ENV (scripts/test.sh sets it; by default
var/stack.env of this repository, i.e. the `make run` stack). Fixtures:

  stack        dict of every setting in stack.env (program settings and the
               stack's own: VAR_DIR, HTTP_PORT, MAIL_DIR, RABBITMQCTL, ...)
  base_url     "http://127.0.0.1:<HTTP_PORT>"
  http         factory: http() -> requests.Session whose relative URLs go to
               base_url, with a 10 s default timeout
  client       one such session from a fresh loopback address (127.x.y.z),
               so the per-client limits count the test alone
  mailbox      the SMTP sink's folder: new(), wait_for(pred, timeout),
               expect_none(pred, wait); only mail arrived after the test began
  db           SQL as the application's database user: rows(), scalar(), execute()
  rabbit       the private RabbitMQ node: stop_app(), start_app(),
               list_queues() -> {name: messages}, ctl(*args)
  smtp_fault   context manager: with smtp_fault("451 4.3.0 Try again later"): ...
  mailer       the supervised reset-mailer: pid(), kill_and_wait_restart()

Run with Debian's python: /usr/bin/python3 -m pytest tests/integration
"""

import contextlib
import email
import random
import email.policy
import os
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
import requests.adapters

ROOT = Path(__file__).resolve().parents[2]


def _wait(predicate, timeout, interval=0.1, what="condition"):
    """Poll predicate() until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def _read_stack_env(path):
    """Parse KEY='value' lines as written by stack.sh."""
    settings = {}
    for line in Path(path).read_text().splitlines():
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        words = shlex.split(value)
        settings[key] = words[0] if words else ""
    return settings


@pytest.fixture(scope="session")
def stack():
    path = os.environ.get("STACK_ENV") or str(ROOT / "var" / "stack.env")
    if not os.path.exists(path):
        pytest.exit("no stack settings at %s: start a stack (scripts/stack.sh up) "
                    "or set STACK_ENV" % path, returncode=2)
    return _read_stack_env(path)


@pytest.fixture(scope="session")
def base_url(stack):
    return "http://127.0.0.1:%s" % stack["HTTP_PORT"]


class _StackSession(requests.Session):
    """A Session that resolves relative URLs against the stack's base URL."""

    def __init__(self, base_url, timeout=10):
        super().__init__()
        self.base_url = base_url
        self.timeout = timeout

    def request(self, method, url, *args, **kwargs):
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def http(base_url):
    """Factory of sessions (each with its own cookie jar)."""
    sessions = []

    def make():
        session = _StackSession(base_url)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


class FromAddress(requests.adapters.HTTPAdapter):
    """Connects from a given local address (any 127.x.y.z reaches 127.0.0.1)."""

    def __init__(self, source_ip, **kwargs):
        self.source_ip = source_ip
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source_ip, 0)
        super().init_poolmanager(*args, **kwargs)


def random_loopback_ip():
    return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255),
                             random.randint(1, 254))


@pytest.fixture
def client(http):
    session = http()
    session.mount("http://", FromAddress(random_loopback_ip()))
    return session


class Mailbox:
    """The sink's mail folder; sees only messages that arrive after creation."""

    def __init__(self, mail_dir):
        self.dir = Path(mail_dir)
        self.seen = set(self._names())

    def _names(self):
        return sorted(p.name for p in self.dir.glob("*.eml"))

    def new(self):
        """Messages arrived since the test began, oldest first (email.message.EmailMessage)."""
        out = []
        for name in self._names():
            if name not in self.seen:
                with open(self.dir / name, "rb") as f:
                    msg = email.message_from_binary_file(f, policy=email.policy.default)
                msg.path = self.dir / name
                out.append(msg)
        return out

    def wait_for(self, predicate=lambda msg: True, timeout=20):
        """The first new message for which predicate(msg) is true."""
        def find():
            return next((m for m in self.new() if predicate(m)), None)
        return _wait(find, timeout, interval=0.2, what="a matching email in %s" % self.dir)

    def expect_none(self, predicate=lambda msg: True, wait=3):
        """Assert that no matching message arrives within `wait` seconds."""
        time.sleep(wait)
        found = [m for m in self.new() if predicate(m)]
        assert not found, "unexpected email(s): %s" % [str(m["Subject"]) for m in found]


@pytest.fixture
def mailbox(stack):
    return Mailbox(stack["MAIL_DIR"])


class Database:
    """SQL through the mariadb CLI as the application's user.

    rows() returns tuples of str (None for NULL; the CLI cannot tell NULL
    from the string 'NULL'). Values are never bound: only pass trusted SQL.
    """

    def __init__(self, stack):
        self.database = stack["DB_DATABASE"]
        password = Path(stack["DB_PASSWORD_FILE"]).read_text().rstrip("\n")
        fd, self.defaults = tempfile.mkstemp(prefix="mu-db-", suffix=".cnf")
        with os.fdopen(fd, "w") as f:
            f.write("[client]\nuser=%s\npassword=\"%s\"\nsocket=%s\n" % (
                stack["DB_USER"], password.replace("\\", "\\\\").replace('"', '\\"'),
                stack["DB_SOCKET"]))

    def close(self):
        os.unlink(self.defaults)

    def _run(self, sql):
        proc = subprocess.run(
            ["mariadb", "--defaults-extra-file=" + self.defaults, "--batch",
             "--skip-column-names", self.database],
            input=sql, capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise AssertionError("SQL failed: %s\n%s" % (sql, proc.stderr.strip()))
        return proc.stdout

    @staticmethod
    def _unescape(field):
        if field == "NULL":
            return None
        return (field.replace("\\n", "\n").replace("\\t", "\t")
                .replace("\\0", "\0").replace("\\\\", "\\"))

    def rows(self, sql):
        out = self._run(sql)
        return [tuple(self._unescape(f) for f in line.split("\t"))
                for line in out.splitlines()]

    def scalar(self, sql):
        rows = self.rows(sql)
        return rows[0][0] if rows else None

    def execute(self, sql):
        self._run(sql)


@pytest.fixture
def db(stack):
    database = Database(stack)
    yield database
    database.close()


class Rabbit:
    """rabbitmqctl against the stack's private node."""

    def __init__(self, stack):
        self.cmd = shlex.split(stack["RABBITMQCTL"])
        self.pidfile = str(Path(stack["RABBITMQ_HOME"]) / "rabbitmq.pid")
        self.stopped = False

    def ctl(self, *args, timeout=120):
        proc = subprocess.run(self.cmd + list(args), capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError("rabbitmqctl %s failed: %s%s" % (
                " ".join(args), proc.stdout, proc.stderr))
        return proc.stdout

    def stop_app(self):
        """Stop the broker application (the Erlang node stays up)."""
        self.ctl("stop_app")
        self.stopped = True

    def start_app(self):
        self.ctl("start_app")
        self.ctl("await_startup")
        self.stopped = False

    def list_queues(self):
        """{queue name: ready + unacked messages} on vhost /."""
        out = self.ctl("list_queues", "-q", "--no-table-headers", "name", "messages")
        queues = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and parts[1].strip().isdigit():
                queues[parts[0]] = int(parts[1])
        return queues


@pytest.fixture
def rabbit(stack):
    broker = Rabbit(stack)
    yield broker
    if broker.stopped:      # never leave the broker down for the next test
        broker.start_app()


@pytest.fixture
def smtp_fault(stack):
    """with smtp_fault("451 4.3.0 Try again later"): the sink replies so to DATA.
    Prefix "RCPT " to reply at RCPT TO instead."""
    path = Path(stack["SMTP_FAULT_FILE"])

    @contextlib.contextmanager
    def fault(reply):
        path.write_text(reply + "\n")
        try:
            yield
        finally:
            path.unlink(missing_ok=True)

    yield fault
    path.unlink(missing_ok=True)


class Mailer:
    """The reset-mailer kept alive by scripts/mailer-supervise.sh."""

    def __init__(self, stack):
        self.pidfile = Path(stack["VAR_DIR"]) / "run" / "reset-mailer.pid"

    def pid(self):
        """Pid of the running mailer, or None."""
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def kill_and_wait_restart(self, sig=signal.SIGKILL, timeout=30):
        """Kill the mailer; return the pid of the one the supervisor starts."""
        old = _wait(self.pid, 10, what="a running reset-mailer")
        os.kill(old, sig)
        return _wait(lambda: (self.pid() or old) != old and self.pid(), timeout,
                     what="the supervisor to restart reset-mailer")


@pytest.fixture
def mailer(stack):
    return Mailer(stack)
