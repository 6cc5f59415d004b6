"""The application's throttles (fcgi-app/throttle.c), over real HTTP through nginx.

Limits come from the stack's settings (stack.env, as scripts/test.sh sets
them; the README defaults when absent). Every test connects from loopback
addresses of its own (any 127.x.y.z reaches nginx), so its counts are its
own and nothing here uses up another suite's allowance.

Counts live in the `throttles` table as fixed windows: bucket
'<kind>:<subject>' and window_start = now - now % window (UTC). A test that
must stay inside one window first waits for enough of it to be left.

nginx guards POST /user/token, /user/login, /user/password and
/password/forgot with limit_req (10 r/s, burst 50, per client address), so
no single address can send the test stack's per-IP limits (1000) in a few
seconds. For those limits a test sends the last REAL_MAX counted requests
itself and first sets the window's counter to `limit - REAL_MAX` in the
table, exactly where the real requests before them would have left it.
With limits of REAL_MAX or less every counted request is a real one.
POST /password/reset is not guarded by nginx: token guessing is sent for
real, all of it.
"""

import concurrent.futures
import hashlib
import random
import re
import threading
import time
import uuid

import pytest

from conftest import FromAddress as _FromAddress

# README "Programs": the defaults when stack.env sets nothing.
DEFAULTS = {
    "THROTTLE_FORGOT_ADDR_MINUTE": 1,
    "THROTTLE_FORGOT_ADDR_HOUR": 5,
    "THROTTLE_FORGOT_IP_HOUR": 50,
    "THROTTLE_LOGIN_ACCOUNT": 10,
    "THROTTLE_LOGIN_IP": 50,
    "THROTTLE_TOKEN_IP": 20,
}
# Windows of throttle.c's rules, seconds.
MINUTE, LOGIN_WINDOW, HOUR = 60, 900, 3600
# Counted requests a test sends through nginx's guard from one address
# (its burst is 50; a few more requests of the test come from there too).
REAL_MAX = 40
PASSWORD = "right-pass-123"
TOKEN_RE = r"[A-Za-z0-9_-]{43}"
MAIL_TIMEOUT = 20


# ---------------------------------------------------------------- helpers

def limit(stack, key):
    value = stack.get(key) or DEFAULTS[key]
    return int(value)


def new_ip():
    """A loopback address no earlier test or run is likely to have used."""
    return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255),
                             random.randint(2, 254))


@pytest.fixture
def client(http):
    """client(ip=None) -> a keep-alive session from that (or a fresh) address."""
    def make(ip=None):
        session = http()
        session.source_ip = ip or new_ip()
        session.mount("http://", _FromAddress(session.source_ip, pool_maxsize=16))
        return session
    return make


def new_address(prefix="thr"):
    return "%s-%s@example.test" % (prefix, uuid.uuid4().hex)


def create_user(session, password=PASSWORD):
    name = "t_" + uuid.uuid4().hex[:20]
    user = {"name": name, "email": "%s@example.test" % name, "password": password}
    r = session.post("/user", json=user)
    assert r.status_code == 201, r.text
    user["id"] = r.json()["id"]
    return user


def sha256_hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


def sql_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def window_start(window):
    now = int(time.time())
    return now - now % window


def ensure_window_left(window, needed):
    """Waits for the next window when fewer than `needed` seconds are left
    in the current one; the test's counted requests then share a window."""
    left = window - int(time.time()) % window
    if left < needed:
        time.sleep(left + 0.5)


def set_hits(db, bucket, window, hits):
    """Sets the current window's count of bucket (as throttle.c keys it)."""
    db.execute(
        "SET time_zone = '+00:00'; "
        "INSERT INTO throttles (bucket, window_start, hits) "
        "VALUES (%s, FROM_UNIXTIME(%d), %d) "
        "ON DUPLICATE KEY UPDATE hits = VALUES(hits)"
        % (sql_str(bucket), window_start(window), hits))


def hits(db, bucket, window):
    value = db.scalar(
        "SET time_zone = '+00:00'; SELECT hits FROM throttles WHERE bucket = %s "
        "AND window_start = FROM_UNIXTIME(%d)" % (sql_str(bucket), window_start(window)))
    return int(value) if value is not None else 0


def prefill(db, bucket, window, lim):
    """Counts limit - REAL_MAX earlier hits; returns how many the test sends."""
    real = min(lim, REAL_MAX)
    if lim > real:
        set_hits(db, bucket, window, lim - real)
    return real


def assert_throttled(r, window, html=False):
    """The application's 429 (not nginx's): Retry-After in whole seconds
    within the window, and a problem document or an HTML page."""
    assert r.status_code == 429, (r.status_code, r.text[:300])
    retry = r.headers.get("Retry-After", "")
    assert re.fullmatch(r"[1-9][0-9]*", retry), "Retry-After: %r" % retry
    assert 0 < int(retry) <= window
    # Only the application's answers carry this header; nginx's 429 does not.
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    if html:
        assert r.headers["Content-Type"].startswith("text/html"), r.headers["Content-Type"]
        assert "<html" in r.text.lower()
    else:
        assert r.headers["Content-Type"].startswith("application/problem+json"), \
            r.headers["Content-Type"]
        body = r.json()
        assert body["status"] == 429 and body["title"]


def csrf_field(page):
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, "no csrf field in the page"
    return m.group(1)


def login(session, login_value, password, field="email"):
    return session.post("/user/token", json={field: login_value, "password": password})


def is_for(msg, addr):
    rcpt = str(msg.get("X-Sink-Rcpt-To", "")) + " " + str(msg.get("To", ""))
    return addr.lower() in rcpt.lower()


def mails_to(mailbox, addr):
    return [m for m in mailbox.new() if is_for(m, addr)]


def wait_mails(mailbox, addr, count, timeout=MAIL_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        found = mails_to(mailbox, addr)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("%d of %d email(s) to %s arrived" % (len(found), count, addr))
        time.sleep(0.2)


def comparable(r):
    """What a client sees of a forgot-password answer, minus the per-request
    headers (Date, X-Request-Id)."""
    names = sorted(h.lower() for h in r.headers
                   if h.lower() not in ("date", "x-request-id", "content-length",
                                        "transfer-encoding", "connection", "keep-alive"))
    return (r.status_code, r.headers.get("Content-Type"), names, r.content)


# ---------------------------------------------------------------- forgot password

def test_forgot_per_address_same_answer_but_only_limit_emails(stack, client, mailbox, db):
    per_minute = limit(stack, "THROTTLE_FORGOT_ADDR_MINUTE")
    per_hour = limit(stack, "THROTTLE_FORGOT_ADDR_HOUR")
    assert per_minute < per_hour, "the minute limit should be the one reached first"
    s = client()
    user = create_user(s)
    unknown = new_address("nobody")
    extra = 3

    ensure_window_left(MINUTE, 15)
    answers = [s.post("/password/forgot", json={"email": user["email"]})
               for _ in range(per_minute + extra)]
    unknown_answers = [s.post("/password/forgot", json={"email": unknown})
                       for _ in range(per_minute + extra)]

    first = comparable(answers[0])
    assert first[0] == 202, answers[0].text
    for i, r in enumerate(answers + unknown_answers):
        assert comparable(r) == first, "answer %d differs: %s %r" % (i, r.status_code, r.text)

    # Exactly the limit's worth of emails, however long we wait.
    wait_mails(mailbox, user["email"], per_minute)
    time.sleep(3)
    assert len(mails_to(mailbox, user["email"])) == per_minute
    assert not mails_to(mailbox, unknown)
    # The bucket is counted alike for the known and the unknown address
    # (the minute bucket stops counting once it is over).
    assert hits(db, "forgot:addr:m:" + sha256_hex(user["email"].lower()), MINUTE) > per_minute
    assert hits(db, "forgot:addr:m:" + sha256_hex(unknown.lower()), MINUTE) > per_minute


def test_forgot_per_address_counts_case_insensitively(stack, client, mailbox):
    per_minute = limit(stack, "THROTTLE_FORGOT_ADDR_MINUTE")
    s = client()
    user = create_user(s)
    ensure_window_left(MINUTE, 10)
    variants = [user["email"].upper() if i % 2 else user["email"]
                for i in range(per_minute + 2)]
    for v in variants:
        assert s.post("/password/forgot", json={"email": v}).status_code == 202
    wait_mails(mailbox, user["email"], per_minute)
    time.sleep(2)
    assert len(mails_to(mailbox, user["email"])) == per_minute


def test_forgot_per_address_hour_limit_sends_nothing_more(stack, client, mailbox, db):
    per_hour = limit(stack, "THROTTLE_FORGOT_ADDR_HOUR")
    s = client()
    user = create_user(s)
    normal = comparable(s.post("/password/forgot", json={"email": new_address("nobody")}))
    ensure_window_left(HOUR, 10)
    # As if the hour's allowance had been used up a minute at a time.
    set_hits(db, "forgot:addr:h:" + sha256_hex(user["email"].lower()), HOUR, per_hour)
    r = s.post("/password/forgot", json={"email": user["email"]})
    assert comparable(r) == normal
    mailbox.expect_none(lambda m: is_for(m, user["email"]), wait=3)


def test_forgot_per_ip_is_429_with_retry_after_json_and_html(stack, client, mailbox, db):
    lim = limit(stack, "THROTTLE_FORGOT_IP_HOUR")
    s = client()
    ensure_window_left(HOUR, 30)
    real = prefill(db, "forgot:ip:" + s.source_ip, HOUR, lim)
    for i in range(real):
        r = s.post("/password/forgot", json={"email": new_address("ipcount")})
        assert r.status_code == 202, "request %d: %s %s" % (i, r.status_code, r.text[:200])

    # One more from this address: refused, known address or not.
    user = create_user(client())
    r = s.post("/password/forgot", json={"email": user["email"]})
    assert_throttled(r, HOUR)
    r = s.post("/user/password", json={"email": new_address("nobody")})
    assert_throttled(r, HOUR)

    # The page variant: a browser's form post gets the 429 as a page.
    page = s.get("/password/forgot", headers={"Accept": "text/html"})
    assert page.status_code == 200
    r = s.post("/password/forgot", data={"csrf": csrf_field(page.text), "email": user["email"]},
               allow_redirects=False)
    assert_throttled(r, HOUR, html=True)

    # Another address is not affected; the refused requests sent nothing.
    assert client().post("/password/forgot", json={"email": new_address("other")}).status_code == 202
    mailbox.expect_none(lambda m: is_for(m, user["email"]), wait=2)


# ---------------------------------------------------------------- login

def acct_bucket(login_value):
    return "login:acct:" + sha256_hex(login_value.lower())


def acct_buckets(user):
    """The account's bucket as auth.c keys it: "id:<user id>" for an
    existing account (hashed by throttle.c), whatever spelling was typed;
    the typed login (lower-cased) only when no account matched."""
    return [acct_bucket(v) for v in ("id:%d" % user["id"], user["email"], user["name"])]


def acct_hits(db, user):
    return max(hits(db, b, LOGIN_WINDOW) for b in acct_buckets(user))


def test_login_per_account_then_429_even_for_the_right_password(stack, client, db):
    lim = limit(stack, "THROTTLE_LOGIN_ACCOUNT")
    attacker, elsewhere = client(), client()
    victim, bystander = create_user(attacker), create_user(attacker)
    ensure_window_left(LOGIN_WINDOW, 20)

    for i in range(lim):
        r = login(attacker, victim["email"], "wrong-pass-%03d" % i)
        assert r.status_code == 401, "failure %d: %s %s" % (i, r.status_code, r.text[:200])
    assert acct_hits(db, victim) == lim

    # Over the account's limit: refused before the password is looked at,
    # from this address and from any other (the limit is the account's).
    assert_throttled(login(attacker, victim["email"], PASSWORD), LOGIN_WINDOW)
    assert_throttled(login(elsewhere, victim["email"], PASSWORD), LOGIN_WINDOW)
    assert_throttled(login(elsewhere, victim["email"].upper(), PASSWORD), LOGIN_WINDOW)
    page = elsewhere.get("/user/login")
    r = elsewhere.post("/user/login", data={"csrf": csrf_field(page.text),
                                            "login": victim["email"], "password": PASSWORD},
                       allow_redirects=False)
    assert_throttled(r, LOGIN_WINDOW, html=True)
    # The refusals are not counted as more failures.
    assert acct_hits(db, victim) == lim

    # Another account from the attacker's own address still logs in.
    r = login(attacker, bystander["email"], PASSWORD)
    assert r.status_code == 200, r.text

    # Not locked for good: once the window has passed (its rows aged by a
    # day here), the right password works again.
    aged = db.scalar(
        "UPDATE throttles SET window_start = window_start - INTERVAL 1 DAY "
        "WHERE bucket LIKE 'login:acct:%%' AND bucket IN (%s); SELECT ROW_COUNT()"
        % ", ".join(sql_str(b) for b in acct_buckets(victim)))
    assert int(aged) >= 1, "no login:acct row of the account found to age"
    r = login(elsewhere, victim["email"], PASSWORD)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == victim["id"]


def test_login_per_account_holds_for_the_accounts_name_too(stack, client):
    """The account, not the string typed: after the limit of failures by
    email, logging in by the account's name (login field) is refused too,
    or else every account gets twice the guesses."""
    lim = limit(stack, "THROTTLE_LOGIN_ACCOUNT")
    attacker, elsewhere = client(), client()
    victim = create_user(attacker)
    ensure_window_left(LOGIN_WINDOW, 20)
    for i in range(lim):
        assert login(attacker, victim["email"], "wrong-pass-%03d" % i).status_code == 401
    assert_throttled(login(elsewhere, victim["name"], PASSWORD, field="login"), LOGIN_WINDOW)


@pytest.mark.parametrize("variant", ["trailing-space", "two-trailing-spaces", "accented"])
def test_login_per_account_holds_for_strings_that_reach_the_same_account(stack, client, variant):
    """MariaDB's utf8mb4_unicode_ci matches 'a@b.test ' and 'á@b.test' to
    the account of a@b.test (PAD SPACE, accent-insensitive): such strings
    must not open a fresh allowance of guesses for the same account."""
    lim = limit(stack, "THROTTLE_LOGIN_ACCOUNT")
    attacker, elsewhere = client(), client()
    victim = create_user(attacker)
    other = {"trailing-space": victim["email"] + " ",
             "two-trailing-spaces": victim["email"] + "  ",
             "accented": victim["email"].replace("example", "éxample")}[variant]
    ensure_window_left(LOGIN_WINDOW, 20)
    for i in range(lim):
        assert login(attacker, victim["email"], "wrong-pass-%03d" % i).status_code == 401
    r = login(elsewhere, other, PASSWORD)
    # 401 (the string does not log in at all) or 429 are both safe;
    # 200 means the variant bypassed the account's limit.
    assert r.status_code in (401, 429), \
        "POST /user/token {email: %r} with the right password after %d failures " \
        "for %r: %s %s" % (other, lim, victim["email"], r.status_code, r.text[:200])


def test_login_per_ip_across_accounts_then_429(stack, client, db):
    lim = limit(stack, "THROTTLE_LOGIN_IP")
    attacker = client()
    victim = create_user(client())
    ensure_window_left(LOGIN_WINDOW, 30)
    real = prefill(db, "login:ip:" + attacker.source_ip, LOGIN_WINDOW, lim)
    # Different accounts, each well under its own limit.
    logins = ["nobody-%s@example.test" % uuid.uuid4().hex for _ in range(real)]
    for i, who in enumerate(logins):
        r = login(attacker, who, "wrong-pass-%03d" % i)
        assert r.status_code == 401, "failure %d: %s %s" % (i, r.status_code, r.text[:200])
    assert hits(db, "login:ip:" + attacker.source_ip, LOGIN_WINDOW) == lim

    # The address is over its limit: even a right password is refused there...
    assert_throttled(login(attacker, victim["email"], PASSWORD), LOGIN_WINDOW)
    assert_throttled(login(attacker, "fresh-%s@example.test" % uuid.uuid4().hex, "x" * 10),
                     LOGIN_WINDOW)
    # ...and works from another address: the account itself is fine.
    r = login(client(), victim["email"], PASSWORD)
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- token guessing

def test_token_guessing_per_ip_then_429_and_a_valid_token_works_elsewhere(
        stack, client, mailbox, db):
    lim = limit(stack, "THROTTLE_TOKEN_IP")
    guesser_ip = new_ip()
    ensure_window_left(HOUR, 30)

    local = threading.local()

    def guesser():
        if not hasattr(local, "s"):
            local.s = client(guesser_ip)
        return local.s

    def guess(i):
        token = hashlib.sha256(b"guess-%d-" % i + uuid.uuid4().bytes).hexdigest()[:43]
        r = guesser().post("/password/reset", json={"token": token, "password": "New-pass-456"})
        return r.status_code

    # Most of the guesses in parallel, the last few one by one so that the
    # boundary is exact (the count is read before and written after a guess).
    tail = min(5, lim)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(guess, range(lim - tail)))
    statuses += [guess(lim - tail + i) for i in range(tail)]
    assert statuses == [400] * lim, {s: statuses.count(s) for s in set(statuses)}
    assert hits(db, "token:ip:" + guesser_ip, HOUR) == lim

    s = client(guesser_ip)
    r = s.post("/password/reset", json={"token": "A" * 43, "password": "New-pass-456"})
    assert_throttled(r, HOUR)
    r = s.put("/user/password", json={"token": "B" * 43, "password": "New-pass-456"})
    assert_throttled(r, HOUR)

    # A real token: refused from the throttled address (and not used up)...
    user = create_user(client())
    assert client().post("/password/forgot", json={"email": user["email"]}).status_code == 202
    msg = wait_mails(mailbox, user["email"], 1)[0]
    text = msg.get_body(preferencelist=("plain",)).get_content()
    token = re.search(r"/password/reset\?token=(%s)" % TOKEN_RE, text).group(1)
    r = s.post("/password/reset", json={"token": token, "password": "New-pass-456"})
    assert_throttled(r, HOUR)
    assert db.scalar("SELECT verify FROM password_resets WHERE token = %s"
                     % sql_str(sha256_hex(token))) == "0"
    assert login(client(), user["email"], PASSWORD).status_code == 200

    # ...and works from another address.
    r = client().post("/password/reset", json={"token": token, "password": "New-pass-456"})
    assert r.status_code == 200, r.text
    assert r.json()["resetSuccess"] is True
    assert login(client(), user["email"], "New-pass-456").status_code == 200
