"""Hostile input at every route of fcgi-app/user_fcgi.c, over real HTTP through nginx.

Each attack gets a clear 4xx (never a 5xx), and after each test the
workers are still up: GET /password/forgot answers 200, the worker pids
under multiwatch are the ones from before the test (a crashed worker would
have been replaced), and no sanitizer report appeared in $VAR_DIR/log.
Refused requests write nothing: no users, password_resets or outbox rows
(so no email either) appear.

Behaviour this suite pins down (documented here, asserted below):
  - JSON with a key twice: the last one wins (json-c). A form or query
    string with a parameter twice: the first one wins.
  - JSON null for a field counts as the field being absent: "is required"
    for a required field, ignored for an optional one (never stored).
  - A NUL inside a value (\\u0000 in JSON, %00 in a form) is refused as
    "must be a string"; a form key holding %00 is dropped.
  - Passwords are opaque: CR/LF and SQL metacharacters in a password are
    accepted and hashed, and never reach a header or SQL text.

Requests come from loopback addresses of their own (any 127.x.y.z reaches
nginx), changed every few requests, so nginx's limit_req guard and the
application's per-IP throttles never answer in place of the handler.
"""

import contextlib
import json
import os
import random
import re
import socket
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import FromAddress as _FromAddress

PASSWORD = "hostile-pass-123"
INJECT = "\r\nX-Injected: 1\r\nBcc: evil@example.com"
EVIL = "evil@example.com"
SQL_META = "'\"; -- \\ %"
CSRF = "C" * 32         # the csrf cookie and form field need only agree
NOT_STRING = "must be a string"


# ---------------------------------------------------------------- clients


def new_ip():
    return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255),
                             random.randint(2, 254))


class Client(requests.Session):
    """Relative URLs go to the stack; the source address changes every
    ROTATE requests. Every answer is checked for a 5xx and for a header
    an attack may have injected."""

    ROTATE = 20

    def __init__(self, base_url):
        super().__init__()
        self.base_url = base_url
        self.count = 0
        self._rotate()

    def _rotate(self):
        self.source_ip = new_ip()
        self.mount("http://", _FromAddress(self.source_ip))

    def request(self, method, url, *args, **kwargs):
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", 15)
        kwargs.setdefault("allow_redirects", False)
        self.count += 1
        if self.count % self.ROTATE == 0:
            self._rotate()
        r = super().request(method, url, *args, **kwargs)
        assert_sane(r)
        return r

    def form(self, path, fields, csrf=True, **kwargs):
        """A browser form post (urlencoded; fields may be a str or bytes
        already encoded) with a matching CSRF cookie and field."""
        if isinstance(fields, dict):
            fields = dict(fields)
            if csrf:
                fields.setdefault("csrf", CSRF)
            body = requests.models.RequestEncodingMixin._encode_params(fields)
        else:
            body = fields if not csrf else (
                (b"csrf=" + CSRF.encode() + b"&" + fields) if isinstance(fields, bytes)
                else "csrf=%s&%s" % (CSRF, fields))
        self.cookies.set("csrf", CSRF, path="/")
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "text/html"}
        headers.update(kwargs.pop("headers", {}))
        return self.post(path, data=body, headers=headers, **kwargs)

    def get(self, url, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        return super().get(url, **kwargs)

    def raw_json(self, method, path, body, **kwargs):
        if isinstance(body, str):
            body = body.encode()
        headers = {"Content-Type": "application/json"}
        headers.update(kwargs.pop("headers", {}))
        return self.request(method, path, data=body, headers=headers, **kwargs)


def assert_sane(r):
    assert r.status_code < 500, "%s %s -> %s %s" % (
        r.request.method, r.request.url[:200], r.status_code, r.text[:300])
    for name in ("X-Injected", "Bcc"):
        assert name not in r.headers, "%s %s: injected header %s" % (
            r.request.method, r.request.url[:200], name)
    for name, value in r.headers.items():
        assert "\r" not in value and "\n" not in value, (name, value)
        assert EVIL not in value, (name, value)


@pytest.fixture
def client(base_url):
    sessions = []

    def make():
        s = Client(base_url)
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        s.close()


@pytest.fixture
def c(client):
    return client()


def assert_status(r, *statuses):
    assert r.status_code in statuses, "%s %s -> %s (want %s) %s" % (
        r.request.method, r.request.url[:200], r.status_code, statuses, r.text[:300])
    return r


def problem(r, status):
    assert_status(r, status)
    assert r.headers["Content-Type"].startswith("application/problem+json"), \
        r.headers["Content-Type"]
    body = r.json()
    assert body["status"] == status
    return body


def field_errors(r):
    return problem(r, 422).get("errors", {})


def uniq(prefix="h"):
    return "%s%s" % (prefix, uuid.uuid4().hex[:14])


def sql_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def make_user(c, **extra):
    name = uniq("h")
    fields = {"name": name, "email": "%s@example.test" % name, "password": PASSWORD}
    fields.update(extra)
    r = c.post("/user", json=fields)
    assert r.status_code == 201, r.text
    user = r.json()
    user["password"] = fields["password"]
    r = c.post("/user/token", json={"email": user["email"], "password": user["password"]})
    assert r.status_code == 200, r.text
    user["token"] = r.json()["token"]
    user["auth"] = {"Authorization": "Bearer " + user["token"]}
    return user


@pytest.fixture
def user(c):
    return make_user(c)


@pytest.fixture
def admin(c, db):
    u = make_user(c)
    db.execute("UPDATE users SET role = 'admin' WHERE id = %d" % u["id"])
    return u


# ---------------------------------------------------------------- the guards

def worker_pids(stack):
    """(multiwatch pid, sorted worker pids)."""
    master = int(Path(stack["VAR_DIR"], "run", "user-fcgi.pid").read_text().strip())
    children = Path("/proc/%d/task/%d/children" % (master, master))
    if children.exists():
        pids = [int(p) for p in children.read_text().split()]
    else:
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                pids.append(int(stat.parent.name))
    return master, sorted(pids)


def sanitizer_reports(stack):
    log = Path(stack["VAR_DIR"]) / "log"
    return {p.name for p in log.iterdir()
            if p.is_file() and (p.name.startswith("asan") or p.name.startswith("ubsan"))}


@pytest.fixture(autouse=True)
def workers_survive(stack, base_url):
    """After each test: the service answers, no worker was replaced, no
    sanitizer report appeared."""
    before_pids = worker_pids(stack)
    before_reports = sanitizer_reports(stack)
    yield
    with Client(base_url) as probe:
        r = probe.get("/password/forgot")
        assert r.status_code == 200, r.text
    after_pids = worker_pids(stack)
    assert after_pids == before_pids, (
        "workers changed during the test (a crash? multiwatch, workers): %s -> %s; "
        "see %s/log/user-fcgi.log" % (before_pids, after_pids, stack["VAR_DIR"]))
    new_reports = sanitizer_reports(stack) - before_reports
    assert not new_reports, "sanitizer reports: %s" % sorted(new_reports)


TABLES = ("users", "password_resets", "outbox")


@pytest.fixture
def no_writes(db):
    """with no_writes(): ... -- no row appears in users, password_resets
    or outbox inside the block."""
    @contextlib.contextmanager
    def guard():
        before = {t: int(db.scalar("SELECT COALESCE(MAX(id), 0) FROM %s" % t)) for t in TABLES}
        yield
        for t in TABLES:
            rows = db.rows("SELECT id FROM %s WHERE id > %d" % (t, before[t]))
            assert not rows, "refused requests wrote %d row(s) to %s" % (len(rows), t)
    return guard


# ---------------------------------------------------------------- the routes

# Every JSON route of user_fcgi.c's table and the string fields it reads.
# "{id}" routes act on the test's own user, with its bearer token.
REGISTER_FIELDS = ("name", "email", "password", "real_name", "avatar")
UPDATE_FIELDS = ("name", "email", "real_name", "avatar", "password", "current_password", "role")
JSON_ROUTES = [
    ("POST", "/user", REGISTER_FIELDS),
    ("PUT", "/user/{id}", UPDATE_FIELDS),
    ("PATCH", "/user/{id}", UPDATE_FIELDS),
    ("POST", "/user/token", ("email", "login", "password")),
    ("POST", "/user/password", ("email",)),
    ("POST", "/password/forgot", ("email",)),
    ("PUT", "/user/password", ("token", "password")),
    ("POST", "/password/reset", ("token", "password")),
]
# The browser forms (CSRF-checked) and their fields.
FORM_ROUTES = [
    ("/user/register", ("name", "email", "password", "real_name", "avatar")),
    ("/user/login", ("login", "password")),
    ("/user/account", ("real_name", "avatar")),
    ("/user/account/password", ("current_password", "password")),
    ("/password/forgot", ("email",)),
]
# Every path of the table (ids filled in), with the methods it takes.
ALL_PATHS = ["/user", "/user/token", "/user/password", "/user/login", "/user/register",
             "/user/account", "/user/account/password", "/user/logout", "/user/locale",
             "/user/1", "/password/forgot", "/password/forgot/sent", "/password/reset",
             "/password/reset/done"]


def valid_fields(route_path, user, method="POST"):
    """A well-formed body for the route, which the test then spoils."""
    fresh = uniq("v")
    if route_path == "/user/password" and method == "PUT":
        return {"token": "A" * 43, "password": "New-pass-456"}
    if route_path == "/user":
        return {"name": fresh, "email": fresh + "@example.test", "password": PASSWORD,
                "real_name": "Real Name", "avatar": "https://example.test/a.png"}
    if route_path == "/user/{id}":
        return {"real_name": "Changed Name"}
    if route_path == "/user/token":
        return {"email": user["email"], "password": "not-the-password"}
    if route_path in ("/user/password", "/password/forgot"):
        return {"email": fresh + "@example.test"}
    return {"token": "A" * 43, "password": "New-pass-456"}


def with_field(path, user, field, value, method="POST"):
    """valid_fields with field set to value (the login field replaces email)."""
    body = valid_fields(path, user, method)
    if field == "login":
        body.pop("email")
    body[field] = value
    return body


def send_json(c, method, path, user, body, raw=False):
    headers = user["auth"] if "{id}" in path else {}
    url = path.replace("{id}", str(user["id"]))
    if raw:
        return c.raw_json(method, url, body, headers=headers)
    return c.request(method, url, json=body, headers=headers)


def form_session(client, user):
    """A browser session signed in as user (session cookie), with CSRF."""
    s = client()
    s.cookies.set("session", user["token"], path="/")
    return s


def valid_form(path, user):
    fresh = uniq("f")
    return {
        "/user/register": {"name": fresh, "email": fresh + "@example.test",
                           "password": PASSWORD, "real_name": "Form Name", "avatar": ""},
        "/user/login": {"login": user["email"], "password": "not-the-password"},
        "/user/account": {"real_name": "Form Name", "avatar": ""},
        "/user/account/password": {"current_password": "not-the-password",
                                   "password": "New-pass-456"},
        "/password/forgot": {"email": fresh + "@example.test"},
    }[path]


# ---------------------------------------------------------------- invalid UTF-8

BAD_UTF8 = [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ab\xc3"]


@pytest.mark.parametrize("method,path,fields", JSON_ROUTES)
def test_invalid_utf8_json_is_400_on_every_json_route(c, user, no_writes, method, path, fields):
    with no_writes():
        for field in fields:
            for bad in BAD_UTF8:
                body = json.dumps(valid_fields(path, user, method)).encode()
                body = body[:-1] + b', "%s": "x' % field.encode() + bad + b'y"}'
                r = send_json(c, method, path, user, body, raw=True)
                assert problem(r, 400)["detail"] == "The body is not valid UTF-8."


@pytest.mark.parametrize("path,fields", FORM_ROUTES)
def test_invalid_utf8_form_is_422_on_every_form(client, user, no_writes, path, fields):
    s = form_session(client, user)
    with no_writes():
        for field in fields:
            for bad in ("%FF%FE", "%C0%AF", "%ED%A0%80", "ab%C3"):
                values = valid_form(path, user)
                values.pop(field)
                body = requests.models.RequestEncodingMixin._encode_params(values)
                r = s.form(path, "%s&%s=x%sy" % (body, field, bad))
                assert_status(r, 422)
                assert r.headers["Content-Type"].startswith("text/html")
                # (The register page has no avatar field, so no message for it.)
                if not (path == "/user/register" and field == "avatar"):
                    assert "not valid UTF-8" in r.text, field


def test_invalid_utf8_form_to_the_json_api_is_422(c, no_writes):
    with no_writes():
        for field in REGISTER_FIELDS:
            fields = valid_fields("/user", None)
            fields.pop(field)
            body = requests.models.RequestEncodingMixin._encode_params(fields)
            r = c.post("/user", data="%s&%s=a%%FFb" % (body, field),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert field_errors(r)[field] == "must be valid UTF-8 text"


def test_invalid_utf8_in_query_and_cookies(c, admin):
    assert_status(c.get("/user/locale?lang=%FF&next=/%FF"), 400)
    assert_status(c.get("/password/reset?token=%FF%FE"), 410)
    problem(c.get("/user?page=%FF", headers=admin["auth"]), 400)
    r = c.get("/password/forgot", headers={"Accept-Language": "\xff\xfe",
                                             "Cookie": "lang=\xff; csrf=\xfe"})
    assert_status(r, 200)


# ---------------------------------------------------------------- NUL bytes

@pytest.mark.parametrize("method,path,fields", JSON_ROUTES)
def test_nul_in_json_strings_is_refused(c, user, no_writes, method, path, fields):
    with no_writes():
        for field in fields:
            body = with_field(path, user, field, "abc\u0000def", method)
            r = send_json(c, method, path, user, body)
            assert field_errors(r)[field] == NOT_STRING
        # A raw NUL byte in the body (not escaped) is malformed JSON.
        body = json.dumps(valid_fields(path, user, method)).encode().replace(b'"', b'"\x00', 1)
        problem(send_json(c, method, path, user, body, raw=True), 400)


@pytest.mark.parametrize("path,fields", FORM_ROUTES)
def test_nul_in_form_values_and_keys_is_refused(client, user, no_writes, path, fields):
    s = form_session(client, user)
    with no_writes():
        for field in fields:
            values = valid_form(path, user)
            values[field] = "ab\x00cd"
            assert_status(s.form(path, values), 422)
            # A key with a NUL is dropped, so it cannot shadow the field
            # (a dropped optional field is test_nul_keyed_field_cannot_shadow...).
            if path == "/user/register" and field in ("real_name", "avatar"):
                continue
            values = valid_form(path, user)
            value = values.pop(field)
            body = requests.models.RequestEncodingMixin._encode_params(values)
            r = s.form(path, "%s&%s%%00x=%s" % (body, field, requests.utils.quote(value)))
            assert_status(r, 422)


def test_nul_keyed_field_cannot_shadow_the_real_one(c, db):
    name = uniq("n")
    body = ("name%%00=evil&name=%s&email=%s%%40example.test&password=%s"
            % (name, name, PASSWORD))
    r = c.post("/user", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_status(r, 201)
    assert r.json()["name"] == name


# ---------------------------------------------------------------- CR/LF, header injection

def crlf_expectation(path, field):
    """(statuses, field named in errors?) for a CR/LF value in field."""
    if path == "/user/token":
        return (401,), False            # a login that matches no one / a wrong password
    if field == "token" or path in ("/user/password", "/password/reset") and field == "password":
        return (400,), False            # the (unknown) token refuses it
    if path == "/user/{id}" and field in ("password", "current_password"):
        return (422,), "current_password"   # not without the current password
    return (422,), field


@pytest.mark.parametrize("method,path,fields", JSON_ROUTES)
def test_crlf_in_every_json_field(c, user, no_writes, method, path, fields):
    with no_writes():
        for field in fields:
            if path == "/user" and field == "password":
                continue                # accepted: see test_crlf_in_a_password_is_opaque
            body = with_field(path, user, field, "value" + INJECT, method)
            if path == "/user/{id}" and field == "current_password":
                body["password"] = "New-pass-456"
            r = send_json(c, method, path, user, body)
            statuses, named = crlf_expectation(path, field)
            assert_status(r, *statuses)
            if named:
                assert field_errors(r)[named]


def test_crlf_in_a_password_is_opaque(c):
    name = uniq("pw")
    password = "pass" + INJECT
    r = c.post("/user", json={"name": name, "email": name + "@example.test", "password": password})
    assert_status(r, 201)
    assert_status(c.post("/user/token", json={"email": name + "@example.test",
                                              "password": password}), 200)
    assert_status(c.post("/user/token", json={"email": name + "@example.test",
                                              "password": "pass"}), 401)


def test_crlf_in_registration_fields_is_422_json_and_form(c, client, no_writes):
    s = client()
    with no_writes():
        for field in ("name", "real_name", "email", "avatar"):
            for value in ("ok" + INJECT, "ok\rBcc: " + EVIL, "ok\nBcc: " + EVIL):
                fields = valid_fields("/user", None)
                fields[field] = (fields[field] if field != "avatar" else "https://x.test/") + value
                assert field in field_errors(c.post("/user", json=fields)), (field, value)
                r = s.form("/user/register", fields)
                assert_status(r, 422)


def test_crlf_in_forgot_email_is_422_and_sends_nothing(c, client, no_writes, user):
    s = client()
    with no_writes():
        for value in (user["email"] + INJECT, user["email"] + "\r\nBcc: " + EVIL,
                      user["email"] + "\nCc: " + EVIL, "%s>\r\nBcc: <%s" % (user["email"], EVIL),
                      "%s,%s" % (user["email"], EVIL), "%s\r\n.\r\nRCPT TO:<%s>" % (user["email"], EVIL)):
            for path in ("/password/forgot", "/user/password"):
                assert field_errors(c.post(path, json={"email": value}))["email"]
            assert_status(s.form("/password/forgot", {"email": value}), 422)


def test_response_headers_take_no_injection(c):
    for url in ("/user/locale?lang=en&next=/x%0d%0aX-Injected:%201",
                "/user/locale?lang=en&next=/x%0aX-Injected:%201",
                "/user/locale?lang=en&next=/x%0dX-Injected:%201",
                "/user/locale?lang=en&next=//evil.example.com/",
                "/user/locale?lang=en&next=/%5cevil.example.com"):
        r = assert_status(c.get(url), 303)
        assert r.headers["Location"] == "/user/login", (url, r.headers["Location"])
    # A token with CR/LF never reaches the reset cookie.
    r = assert_status(c.get("/password/reset?token=%s%%0d%%0aX-Injected:%%201" % ("A" * 43)), 410)
    assert all("X-Injected" not in v for v in r.raw.headers.getlist("Set-Cookie"))
    # Nor a path or a language with CR/LF.
    assert_status(c.get("/user/1%0d%0aX-Injected:%201"), 404)
    assert_status(c.get("/user/locale?lang=en%0d%0aX-Injected:%201"), 400)


def test_hostile_values_are_escaped_in_pages(client, no_writes):
    s = client()
    script = '"><script>alert(1)</script>'
    with no_writes():
        r = s.form("/user/register", {"name": "x" + script, "email": "y" + script,
                                      "password": "short", "real_name": script})
        assert_status(r, 422)
        assert "<script>alert(1)" not in r.text
        assert "&lt;script&gt;" in r.text or "&#60;script&#62;" in r.text


# ---------------------------------------------------------------- header injection into the email

def test_crlf_bcc_in_name_or_real_name_is_refused(c, no_writes):
    with no_writes():
        for field in ("name", "real_name"):
            fields = valid_fields("/user", None)
            fields[field] = fields[field][:10] + "\r\nBcc: " + EVIL
            assert field in field_errors(c.post("/user", json=fields))


def test_reset_email_to_a_stored_crlf_name_adds_no_header(c, db, mailbox):
    """A row written by something other than this service (the seed's data,
    say) with CR/LF and "Bcc:" in its names: the email gets no Bcc header
    and goes to that user alone."""
    tag = uniq("crlf")
    addr = tag + "@example.test"
    db.execute(
        "INSERT INTO users (name, email, password, real_name, avatar, status, role, "
        "password_version, created_at, updated_at) VALUES ("
        "CONCAT(%s, CHAR(13), CHAR(10), 'Bcc: %s', CHAR(13), CHAR(10), 'X-Injected: 1'), "
        "%s, '', CONCAT('Real', CHAR(13), CHAR(10), 'Bcc: %s'), '', 1, 'user', 1, "
        "NOW(3), NOW(3))" % (sql_str(tag), EVIL, sql_str(addr), EVIL))
    assert_status(c.post("/password/forgot", json={"email": addr}), 202)
    msg = mailbox.wait_for(lambda m: addr in str(m.get("X-Sink-Rcpt-To", "")), timeout=20)
    raw = Path(msg.path).read_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert not re.match(rb"(?i)(bcc|cc|x-injected)\s*:", line), line
    assert msg["Bcc"] is None and msg["Cc"] is None and msg["X-Injected"] is None
    assert str(msg["X-Sink-Rcpt-To"]).strip() == "<%s>" % addr
    assert [a.addr_spec for a in msg["To"].addresses] == [addr]
    # Every part's headers too.
    for part in msg.walk():
        assert part["Bcc"] is None and part["X-Injected"] is None


# ---------------------------------------------------------------- SQL metacharacters

def test_sql_metacharacters_round_trip_literally(c, db, mailbox):
    tag = uuid.uuid4().hex[:10]
    email_addr = "o'b%%r_*{x}|%s@example.test" % tag       # atext: ' % _ * { } |
    real_name = "O'Brien \"x\"; -- DROP TABLE users; \\ %% _ " + tag
    password = "pw'\"; -- \\ %% _" + tag
    avatar = "https://example.test/a'b;c--%%20d?e=%%27&f=" + tag
    name = "meta_" + tag
    r = c.post("/user", json={"name": name, "email": email_addr, "password": password,
                              "real_name": real_name, "avatar": avatar})
    assert_status(r, 201)
    got = r.json()
    assert (got["email"], got["real_name"], got["avatar"]) == (email_addr, real_name, avatar)
    row = db.rows("SELECT email, real_name, avatar FROM users WHERE id = %d" % got["id"])
    assert row == [(email_addr, real_name, avatar)]

    # The password works exactly, by email and by name; near misses do not.
    r = c.post("/user/token", json={"email": email_addr, "password": password})
    assert_status(r, 200)
    token = r.json()["token"]
    assert_status(c.post("/user/token", json={"login": name, "password": password}), 200)
    assert_status(c.post("/user/token", json={"email": email_addr, "password": password[:-1]}), 401)
    # Wildcards are not wildcards.
    for login in ("%", "%@example.test", "o'b%", "' OR '1'='1", "' OR 1=1 -- ",
                  "\\", "meta\\_" + tag):
        assert_status(c.post("/user/token", json={"email": login, "password": password}), 401)

    # Reading and changing keep them literal too.
    auth = {"Authorization": "Bearer " + token}
    assert c.get("/user/%d" % got["id"], headers=auth).json()["real_name"] == real_name
    changed = "x'; UPDATE users SET role='admin' -- " + tag
    r = c.patch("/user/%d" % got["id"], json={"real_name": changed}, headers=auth)
    assert_status(r, 200)
    assert r.json()["real_name"] == changed and r.json()["role"] == "user"

    # The reset email reaches exactly that address over SMTP.
    assert_status(c.post("/password/forgot", json={"email": email_addr}), 202)
    msg = mailbox.wait_for(lambda m: email_addr in str(m.get("X-Sink-Rcpt-To", "")), timeout=20)
    assert str(msg["X-Sink-Rcpt-To"]).strip() == "<%s>" % email_addr


def test_sql_metacharacters_where_they_are_not_allowed(c, admin, no_writes):
    with no_writes():
        for meta in ("'", '"', ";", "\\", "%", " ", "/*", "#"):
            fields = valid_fields("/user", None)
            fields["name"] = fields["name"][:10] + meta + "x"
            assert "name" in field_errors(c.post("/user", json=fields))
        for email_addr in ('a"b@example.test', "a;b@example.test", "a\\b@example.test",
                           "a@ex'ample.test", "' OR 1=1 --@example.test"):
            assert "email" in field_errors(c.post("/password/forgot", json={"email": email_addr}))
        problem(c.post("/password/reset", json={"token": "' OR '1'='1", "password": PASSWORD}), 400)
        problem(c.get("/user?page=1'", headers=admin["auth"]), 400)
        problem(c.get("/user?per_page=1;DROP", headers=admin["auth"]), 400)


# ---------------------------------------------------------------- long fields

def test_long_fields(c, user, no_writes):
    with no_writes():
        for field, value in (("name", "n" * 300), ("name", "n" * 33),
                             ("email", "e" * 250 + "@example.test"),
                             ("email", "e" * 65 + "@example.test"),
                             ("password", "p" * 129), ("real_name", "r" * 65),
                             ("real_name", "é" * 65), ("avatar", "https://x.test/" + "a" * 250)):
            fields = valid_fields("/user", None)
            fields[field] = value
            assert field in field_errors(c.post("/user", json=fields)), field
        long = "x" * 10000
        assert_status(c.post("/user/token", json={"email": long, "password": long}), 401)
        assert_status(c.post("/user/token", json={"login": long + "@x.test", "password": "p"}), 401)
        problem(c.post("/password/reset", json={"token": long, "password": PASSWORD}), 400)
        assert "email" in field_errors(c.post("/password/forgot", json={"email": long}))
        assert_status(c.get("/password/reset?token=" + long), 410, 414)
        assert_status(c.get("/user/token", headers={"Authorization": "Bearer " + long}), 400, 401)


def test_a_megabyte_string_is_413(c, user, no_writes):
    big = "x" * (1 << 20)
    with no_writes():
        for method, path, fields in JSON_ROUTES:
            body = valid_fields(path, user, method)
            body[fields[0]] = big
            r = send_json(c, method, path, user, body)
            assert_status(r, 413)


def test_bodies_over_the_limit_are_413_problems(stack, c, user, no_writes):
    lim = int(stack.get("BODY_LIMIT") or 65536)
    with no_writes():
        for method, path, fields in JSON_ROUTES:
            body = valid_fields(path, user, method)
            body["pad"] = ""
            over = len(json.dumps(body)) - lim - 1
            body["pad"] = "p" * -over if over < 0 else ""
            raw = json.dumps(body).encode()
            assert len(raw) == lim + 1
            body_problem = problem(send_json(c, method, path, user, raw, raw=True), 413)
            assert body_problem["title"]
        r = c.form("/user/register", "name=x&pad=" + "p" * lim)
        assert_status(r, 413)


# ---------------------------------------------------------------- nesting, arrays

def test_deeply_nested_and_huge_json(c, user, no_writes):
    with no_writes():
        for method, path, fields in JSON_ROUTES:
            deep = "[" * 1000 + "]" * 1000
            problem(send_json(c, method, path, user, deep, raw=True), 400)
            problem(send_json(c, method, path, user,
                              '{"%s":%s}' % (fields[0], deep), raw=True), 400)
            problem(send_json(c, method, path, user,
                              '{"a":' * 1000 + "1" + "}" * 1000, raw=True), 400)
            # A top-level array (no object), under the body limit.
            problem(send_json(c, method, path, user,
                              "[" + ",".join(['"x"'] * 15000) + "]", raw=True), 400)
            # A huge array where a string belongs.
            body = valid_fields(path, user, method)
            body[fields[0]] = ["x"] * 12000
            assert field_errors(send_json(c, method, path, user, body))[fields[0]] == NOT_STRING
            # Over the body limit.
            r = send_json(c, method, path, user, "[" + ",".join(["1"] * 60000) + "]", raw=True)
            assert_status(r, 413)
            # Many keys.
            many = with_field(path, user, fields[0], 5, method)
            many.update(("k%d" % i, i) for i in range(3000))
            assert field_errors(send_json(c, method, path, user, many))[fields[0]] == NOT_STRING


def test_other_malformed_json(c, user, no_writes):
    with no_writes():
        for method, path, fields in JSON_ROUTES:
            for body in ("", "{", "}", '{"a":1}}', '{"a":1} x', "null", "true", "1", '"s"',
                         '{"a":1,}', "\ufeff{}", '{"a":"\\x41"}', '{"a":01}', "{/*c*/}",
                         '{"a":1}\x00'):
                problem(send_json(c, method, path, user, body, raw=True), 400)


@pytest.mark.parametrize("body", [
    "{'real_name':\"single-quoted key\"}",
    '{"real_name":"nan","a":NaN}',
    '{"real_name":"inf","a":Infinity}',
    '{"real_name":"tab","a":"raw\ttab"}',
])
def test_json_extensions_are_refused(c, user, db, body):
    """RFC 8259 has no single-quoted strings, NaN or Infinity, and no raw
    control characters inside strings: such a body is not JSON, so 400
    like any other malformed body -- not a 200 that applies it."""
    before = db.scalar("SELECT real_name FROM users WHERE id = %d" % user["id"])
    r = c.raw_json("PATCH", "/user/%d" % user["id"], body, headers=user["auth"])
    after = db.scalar("SELECT real_name FROM users WHERE id = %d" % user["id"])
    assert r.status_code == 400, "PATCH /user/{id} %r -> %s %s (real_name %r -> %r)" % (
        body, r.status_code, r.text[:200], before, after)


# ---------------------------------------------------------------- duplicates

def test_duplicate_json_keys_last_one_wins(c, db):
    first, last = uniq("first"), uniq("last")
    body = ('{"name":"%s","name":"%s","email":"%s@example.test","password":"%s"}'
            % (first, last, last, PASSWORD))
    r = c.raw_json("POST", "/user", body)
    assert_status(r, 201)
    assert r.json()["name"] == last
    assert db.scalar("SELECT COUNT(*) FROM users WHERE name = %s" % sql_str(first)) == "0"
    # A valid string then a non-string: the last one counts, and is refused.
    body = ('{"name":"%s","email":"a@example.test","email":5,"password":"%s"}'
            % (uniq("d"), PASSWORD))
    assert field_errors(c.raw_json("POST", "/user", body))["email"] == NOT_STRING


def test_duplicate_form_and_query_parameters_first_one_wins(c, admin, db):
    first, last = uniq("first"), uniq("last")
    r = c.post("/user", data="name=%s&name=%s&email=%s%%40example.test&password=%s"
               % (first, last, first, PASSWORD),
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_status(r, 201)
    assert r.json()["name"] == first
    # A bad duplicate after a good one is ignored; before it, it counts.
    r = c.get("/user?page=1&page=-1&per_page=2&per_page=x", headers=admin["auth"])
    assert_status(r, 200)
    assert (r.json()["page"], r.json()["per_page"]) == (1, 2)
    problem(c.get("/user?page=-1&page=1", headers=admin["auth"]), 400)
    # A CSRF field twice: the first is compared.
    s = Client(c.base_url)
    try:
        s.cookies.set("csrf", CSRF, path="/")
        r = s.post("/password/forgot", data="csrf=%s&csrf=%s&email=a%%40example.test"
                   % ("D" * 32, CSRF), headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert_status(r, 403)
    finally:
        s.close()


# ---------------------------------------------------------------- wrong types

WRONG_TYPES = [5, -1, 1.5, 1e300, True, False, [], ["x"], {}, {"a": "b"}]


@pytest.mark.parametrize("method,path,fields", JSON_ROUTES)
def test_wrong_types_are_422_must_be_a_string(c, user, no_writes, method, path, fields):
    with no_writes():
        for field in fields:
            for value in WRONG_TYPES:
                body = with_field(path, user, field, value, method)
                r = send_json(c, method, path, user, body)
                assert field_errors(r)[field] == NOT_STRING, (field, value, r.text)


def test_null_counts_as_absent(c, user, db, no_writes):
    with no_writes():
        for field in ("name", "email", "password"):
            body = valid_fields("/user", None)
            body[field] = None
            assert field_errors(c.post("/user", json=body))[field] in ("is required", NOT_STRING)
        assert field_errors(c.post("/password/forgot", json={"email": None}))["email"] \
            in ("is required", NOT_STRING)
        assert_status(c.post("/user/token", json={"email": None, "password": None}), 422)
        assert_status(c.post("/password/reset", json={"token": None, "password": None}), 422)
    # Optional fields: ignored, never stored as text.
    body = valid_fields("/user", None)
    body.update(real_name=None, avatar=None)
    r = c.post("/user", json=body)
    assert_status(r, 201, 422)
    if r.status_code == 201:
        assert (r.json()["real_name"], r.json()["avatar"]) == ("", "")
    r = c.patch("/user/%d" % user["id"], json={"real_name": None, "name": None},
                headers=user["auth"])
    assert_status(r, 200, 422)
    if r.status_code == 200:
        assert r.json()["name"] == user["name"]


# ---------------------------------------------------------------- page numbers

@pytest.mark.parametrize("query", [
    "page=-1", "page=0", "page=99999999999999999999", "page=9223372036854775808",
    "page=1000000001", "page=abc", "page=", "page=1.5", "page=1e3", "page=0x10",
    "page=%00", "page=1%20", "page=--1", "page=1%0d%0a",
    "per_page=1e3", "per_page=-5", "per_page=0", "per_page=99999999999999999999",
    "perPage=-1", "perPage=x", "page=1&per_page=%FF",
])
def test_bad_page_numbers_are_400(c, admin, query):
    body = problem(c.get("/user?" + query, headers=admin["auth"]), 400)
    assert body["errors"]


@pytest.mark.parametrize("query", ["page=%201", "page=+1", "page=1%00junk"])
def test_lenient_page_numbers(c, admin, query):
    """strtoll's leniency: leading blanks and a sign are accepted, and a
    query value is cut at a NUL (http_param hands out C strings)."""
    r = assert_status(c.get("/user?" + query, headers=admin["auth"]), 200, 400)
    if r.status_code == 200:
        assert r.json()["page"] == 1


def test_big_but_valid_page_numbers_are_empty_pages(c, admin):
    r = assert_status(c.get("/user?page=1000000000&per_page=100", headers=admin["auth"]), 200)
    assert r.json()["users"] == []
    r = assert_status(c.get("/user?page=1&per_page=1000000000", headers=admin["auth"]), 200)
    assert r.json()["per_page"] == 100


# ---------------------------------------------------------------- truncated and slow bodies

def raw_request(port, data, source_ip=None, half_close=True, timeout=10):
    """Sends bytes on a fresh connection; returns the reply (b"" when none)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source_ip or new_ip(), 0))
    try:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        sock.close()


def status_of(reply):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    return int(m.group(1)) if m else None


def head(method, path, port, extra=b"", length=None):
    lines = [b"%s %s HTTP/1.1" % (method.encode(), path.encode()),
             b"Host: 127.0.0.1:%d" % port, b"Content-Type: application/json",
             b"Connection: close"]
    if length is not None:
        lines.append(b"Content-Length: %d" % length)
    return b"\r\n".join(lines) + b"\r\n" + extra + b"\r\n"


def test_truncated_bodies_then_the_service_answers(stack, c, no_writes):
    port = int(stack["HTTP_PORT"])
    with no_writes():
        for method, path in (("POST", "/user"), ("POST", "/user/token"),
                             ("POST", "/password/forgot"), ("POST", "/password/reset"),
                             ("PUT", "/user/1"), ("PATCH", "/user/1")):
            reply = raw_request(port, head(method, path, port, length=100) + b'{"name":"x')
            status = status_of(reply)
            assert status is None or 400 <= status < 500, reply[:200]
            # Chunked, cut inside a chunk.
            reply = raw_request(port, head(method, path, port, b"Transfer-Encoding: chunked\r\n")
                                + b"64\r\n" + b'{"name":"x')
            status = status_of(reply)
            assert status is None or 400 <= status < 500, reply[:200]
            # A body longer than its Content-Length: the rest is a bad request.
            reply = raw_request(port, head(method, path, port, length=2) + b"{}GARBAGE\r\n\r\n")
            assert all(400 <= s < 500 for s in map(int, re.findall(rb"HTTP/1\.1 (\d{3})", reply))), \
                reply[:300]
            assert_status(c.get("/password/forgot"), 200)


def test_slow_bodies_do_not_tie_up_the_workers(stack, c, no_writes):
    port = int(stack["HTTP_PORT"])
    held = []
    try:
        with no_writes():
            # More stalled uploads than there are workers.
            for _ in range(int(stack.get("FCGI_WORKERS") or 2) * 4):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5,
                                                source_address=(new_ip(), 0))
                sock.sendall(head("POST", "/user", port, length=100) + b'{"name":"x')
                held.append(sock)
            started = time.monotonic()
            assert_status(c.get("/password/forgot"), 200)
            assert_status(c.post("/user/token", json={"email": "a@example.test",
                                                       "password": "x" * 8}), 401)
            assert time.monotonic() - started < 5
        # A slow but complete body is read and answered normally.
        name = uniq("slow")
        body = json.dumps({"name": name, "email": name + "@example.test",
                           "password": PASSWORD}).encode()
        sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                        source_address=(new_ip(), 0))
        held.append(sock)
        sock.sendall(head("POST", "/user", port, length=len(body)))
        for i in range(0, len(body), 16):
            sock.sendall(body[i:i + 16])
            time.sleep(0.05)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        assert status_of(reply) == 201, reply[:300]
    finally:
        for sock in held:
            sock.close()


# ---------------------------------------------------------------- methods and paths

@pytest.mark.parametrize("path", ALL_PATHS)
def test_unknown_methods_are_405_or_refused_by_nginx(c, path):
    for method in ("PROPFIND", "TRACE", "OPTIONS", "MKCOL", "COPY", "FOO", "CONNECT"):
        r = c.request(method, path)
        assert_status(r, 400, 405)
        if r.headers.get("Content-Type", "").startswith("application/problem+json"):
            assert r.headers.get("Allow"), (method, path)
            assert "TRACE" not in r.headers["Allow"]


def test_lowercase_and_odd_method_tokens(stack):
    port = int(stack["HTTP_PORT"])
    for method in (b"get", b"G\x00ET", b"GET\tX", b"P OST", b"\xffGET"):
        reply = raw_request(port, method + b" /password/forgot HTTP/1.1\r\nHost: x\r\n"
                            b"Connection: close\r\n\r\n")
        status = status_of(reply)
        assert status is None or 400 <= status < 500, (method, reply[:200])


@pytest.mark.parametrize("path,statuses", [
    ("//user/1", (401,)),               # nginx merges the slashes: /user/1
    ("/user//1", (401, 404)),
    ("/user/1/../2", (401,)),           # normalised to /user/2
    ("/user/%31", (401,)),              # decoded: /user/1
    ("/user/1%2F2", (404,)),
    ("/user/1;x", (404,)),
    ("/user/1/", (404,)),
    ("/user/01", (404,)),
    ("/user/-1", (404,)),
    ("/user/0", (404,)),
    ("/user/1.0", (404,)),
    ("/user/1e3", (404,)),
    ("/user/99999999999999999999", (404,)),
    ("/user/1%00", (400, 404)),
    ("/user/%ff", (404,)),
    ("/user/%", (400, 404)),
    ("/password/forgot/", (404,)),
    ("/password/forgot%2F", (404,)),
    ("/password/./forgot", (200,)),
    ("/password/forgot/../../etc/passwd", (400, 404)),
    ("/user/..%2F..%2Fetc%2Fpasswd", (400, 404)),
    ("/../../etc/passwd", (400, 404)),
    ("/USER/1", (404,)),
    ("/user/" + "a" * 8192, (400, 404, 414)),
    ("/user/" + "1" * 8192, (400, 404, 414)),
    ("/password/forgot?" + "a=" * 4000, (200, 400, 414)),
])
def test_odd_paths(c, path, statuses):
    req = requests.Request("GET", c.base_url + path).prepare()
    req.url = c.base_url + path          # exactly as written, no re-quoting
    r = c.send(req, timeout=15, allow_redirects=False)
    assert_sane(r)
    assert_status(r, *statuses)


def test_odd_paths_never_reach_someone_elses_account(c, user, admin):
    other = make_user(c)
    for path in ("/user/%d/../%d" % (user["id"], other["id"]),
                 "//user/%d" % other["id"], "/user/%%3%d" % (other["id"] % 10)):
        req = requests.Request("GET", c.base_url + path, headers=user["auth"]).prepare()
        req.url = c.base_url + path
        r = c.send(req, timeout=15, allow_redirects=False)
        assert_sane(r)
        if r.status_code == 200:
            assert r.json()["id"] == user["id"], path
        else:
            assert_status(r, 403, 404)


# ---------------------------------------------------------------- last: the email side

def test_no_email_ever_went_to_the_injected_address(stack):
    for path in Path(stack["MAIL_DIR"]).glob("*.eml"):
        head_lines = path.read_bytes().split(b"\r\n\r\n", 1)[0]
        rcpt = [l for l in head_lines.split(b"\r\n") if l.lower().startswith(b"x-sink-rcpt-to:")]
        assert not any(EVIL.encode() in l for l in rcpt), path
