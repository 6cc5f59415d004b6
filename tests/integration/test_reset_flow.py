"""The password-reset flow end to end, over real HTTP through nginx.

Real MariaDB, RabbitMQ, SMTP sink and reset-mailer (see conftest.py). Every
test makes its own users with unique addresses, since data persists between
runs. The RabbitMQ outage test is last: it stops and restarts the broker.
"""

import base64
import email.utils
import hashlib
import html
import os
import random
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import FromAddress as _FromAddress

RESET_SUBJECT_EN = "Reset your password"
TOKEN_RE = r"[A-Za-z0-9_-]{43}"
MAIL_TIMEOUT = 20


# ---------------------------------------------------------------- helpers


@pytest.fixture
def http(http):
    """conftest's session factory, but every session of a test comes from one
    fresh loopback address: the per-client rate limits (failed token
    submissions, failed logins, reset requests per IP) then count this
    test alone, not every earlier run against the same stack."""
    source_ip = "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255),
                                  random.randint(1, 254))

    def make():
        session = http()
        session.mount("http://", _FromAddress(source_ip))
        return session

    return make


def _wait(predicate, timeout, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def new_address():
    return "reset-%s@example.test" % uuid.uuid4().hex


def create_user(http, password="Old-pass-123"):
    """POST /user (JSON); returns {id, name, email, password}."""
    tag = uuid.uuid4().hex[:20]
    user = {"name": "r_" + tag, "email": new_address(), "password": password}
    r = http().post("/user", json=user)
    assert r.status_code == 201, r.text
    user["id"] = r.json()["id"]
    return user


def login(http, email_addr, password):
    return http().post("/user/token", json={"email": email_addr, "password": password})


def sha256_hex(token):
    return hashlib.sha256(token.encode()).hexdigest()


def sql_str(s):
    """A SQL string literal for values the tests made themselves."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def is_for(msg, addr):
    rcpt = str(msg.get("X-Sink-Rcpt-To", "")) + " " + str(msg.get("To", ""))
    return addr.lower() in rcpt.lower()


def text_part(msg):
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None, "no text/plain part"
    return part.get_content()


def html_part(msg):
    part = msg.get_body(preferencelist=("html",))
    assert part is not None, "no text/html part"
    return part.get_content()


def is_reset_mail(msg):
    return "/password/reset?token=" in text_part(msg)


def reset_mails(mailbox, addr):
    return [m for m in mailbox.new() if is_for(m, addr) and is_reset_mail(m)]


def wait_reset_mail(mailbox, addr, timeout=MAIL_TIMEOUT, count=1):
    """Waits for `count` reset emails to addr; returns them, oldest first."""
    return _wait(lambda: (lambda ms: ms if len(ms) >= count else None)(reset_mails(mailbox, addr)),
                 timeout, what="%d reset email(s) to %s" % (count, addr))


def link_of(msg):
    m = re.search(r"(https?://\S+?/password/reset\?token=(%s))" % TOKEN_RE, text_part(msg))
    assert m, "no reset link in the text part:\n" + text_part(msg)
    return m.group(1), m.group(2)


def request_reset(http, addr, path="/password/forgot", **kw):
    r = http().post(path, json={"email": addr}, **kw)
    assert r.status_code == 202, r.text
    return r


def reset_token_for(http, mailbox, addr, path="/password/forgot"):
    """Asks for a reset for addr and returns (link, token) from its email."""
    request_reset(http, addr, path)
    return link_of(wait_reset_mail(mailbox, addr)[-1])


def set_cookies(resp):
    return resp.raw.headers.getlist("Set-Cookie")


def cookie_line(resp, name):
    lines = [c for c in set_cookies(resp) if c.split("=", 1)[0].strip() == name]
    assert len(lines) == 1, "Set-Cookie %s: %r" % (name, set_cookies(resp))
    return lines[0]


def cookie_attrs(line):
    """{'name': value, lowercase attribute: value or True}."""
    parts = [p.strip() for p in line.split(";")]
    name, value = parts[0].split("=", 1)
    attrs = {"_name": name, "_value": value}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            attrs[k.strip().lower()] = v.strip()
        else:
            attrs[p.lower()] = True
    return attrs


def header_values(resp, name):
    """The comma-separated values of a header, over all its lines, as a set."""
    return {v.strip() for line in resp.raw.headers.getlist(name) for v in line.split(",")}


def csrf_field(page):
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, "no csrf field in the page"
    return m.group(1)


def open_link(browser, link):
    """Follows the email link like a browser: 303, then the form. Returns the form page."""
    r = browser.get(link, allow_redirects=False)
    assert r.status_code == 303, r.text
    r = browser.get("/password/reset", allow_redirects=False)
    assert r.status_code == 200, r.text
    return r


def token_state(db, token):
    """verify of the token's row ('0' usable, '1' used or revoked), None if absent."""
    return db.scalar("SELECT verify FROM password_resets WHERE token = %s" % sql_str(sha256_hex(token)))


def outbox_count(db, addr):
    return int(db.scalar("SELECT COUNT(*) FROM outbox WHERE email = %s" % sql_str(addr)))


# ---------------------------------------------------------------- the whole flow

def test_browser_flow_end_to_end(stack, http, mailbox, db):
    user = create_user(http)
    old_jwt = login(http, user["email"], user["password"]).json()["token"]
    assert http().get("/user/token", headers={"Authorization": "Bearer " + old_jwt}).status_code == 200

    r = http().post("/password/forgot", json={"email": user["email"]})
    assert r.status_code == 202
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["status"] and body["message"]

    # The email: multipart/alternative, UTF-8 text and HTML, the link in both.
    msg = wait_reset_mail(mailbox, user["email"])[0]
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for p in parts:
        assert p.get_content_charset() == "utf-8"
    for h in ("Subject", "From", "To", "Date", "Message-ID"):
        assert msg[h], "header %s missing" % h
    assert str(msg["Subject"]) == RESET_SUBJECT_EN
    assert user["email"] in str(msg["To"])
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(msg["Message-ID"]).strip())
    sent = email.utils.parsedate_to_datetime(str(msg["Date"]))
    assert abs((datetime.now(timezone.utc) - sent).total_seconds()) < 600
    link, token = link_of(msg)
    assert link.startswith(stack["PUBLIC_BASE_URL"].rstrip("/") + "/password/reset?token=")
    assert link in html.unescape(html_part(msg))

    # The link moves the token into a cookie and redirects to a token-free URL.
    browser = http()
    r = browser.get(link, allow_redirects=False)
    assert r.status_code == 303
    loc = urlsplit(r.headers["Location"])
    assert loc.path == "/password/reset" and loc.query == ""
    assert token not in r.headers["Location"] and token not in r.text
    c = cookie_attrs(cookie_line(r, "reset_token"))
    assert c["_value"] == token
    assert c.get("httponly") is True
    assert str(c.get("samesite", "")).lower() == "lax"
    assert c.get("path") == "/password/"

    r = browser.get("/password/reset", allow_redirects=False)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers.get("Referrer-Policy") == "no-referrer"
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert token not in r.text
    assert 'action="/password/reset"' in r.text
    csrf = csrf_field(r.text)

    new_password = "New-pass-" + uuid.uuid4().hex[:8]
    r = browser.post("/password/reset", allow_redirects=False,
                     data={"csrf": csrf, "password": new_password, "password_confirm": new_password})
    assert r.status_code == 303, r.text
    assert urlsplit(r.headers["Location"]).path == "/password/reset/done"
    cleared = cookie_attrs(cookie_line(r, "reset_token"))
    assert cleared["_value"] == "" and cleared.get("max-age") == "0"
    assert cleared.get("path") == "/password/"
    assert "reset_token" not in browser.cookies
    r = browser.get("/password/reset/done", allow_redirects=False)
    assert r.status_code == 200

    # The new password works, the old one and the old JWT do not.
    r = login(http, user["email"], new_password)
    assert r.status_code == 200, r.text
    new_jwt = r.json()["token"]
    assert http().get("/user/token", headers={"Authorization": "Bearer " + new_jwt}).status_code == 200
    assert login(http, user["email"], user["password"]).status_code == 401
    r = http().get("/user/token", headers={"Authorization": "Bearer " + old_jwt})
    assert r.status_code == 401, r.text

    # Single use: the API refuses the token, the link shows the invalid page.
    r = http().post("/password/reset", json={"token": token, "password": "Another-pass-1"})
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert "token" in r.json()["errors"]
    second = http()
    r = second.get(link, allow_redirects=False)
    assert r.status_code == 303
    r = second.get("/password/reset", allow_redirects=False)
    assert r.status_code == 410
    assert r.headers["Content-Type"].startswith("text/html")
    assert header_values(r, "Referrer-Policy") == {"no-referrer"}
    assert "no-store" in header_values(r, "Cache-Control")
    assert cookie_attrs(cookie_line(r, "reset_token")).get("max-age") == "0"
    assert token not in r.text
    assert login(http, user["email"], new_password).status_code == 200

    # A "password changed" notice follows, with its own subject.
    changed = mailbox.wait_for(lambda m: is_for(m, user["email"]) and not is_reset_mail(m),
                               timeout=MAIL_TIMEOUT)
    assert str(changed["Subject"]) and str(changed["Subject"]) != str(msg["Subject"])
    assert token not in text_part(changed)

    # Only the hash is stored; the raw token is nowhere in the table or the worker log.
    assert token_state(db, token) == "1"
    leaked = db.scalar(
        "SELECT COUNT(*) FROM password_resets WHERE LOCATE(%s, CONCAT_WS('|', token, email, "
        "requested_ip, user_id, expires_at, used_at)) > 0" % sql_str(token))
    assert leaked == "0"
    log = Path(stack["VAR_DIR"], "log", "user-fcgi.log").read_text(errors="replace")
    assert token not in log
    assert sha256_hex(token) not in log
    # nginx saw GET /password/reset?token=...: its log keeps the path only.
    access = Path(stack["VAR_DIR"], "log", "nginx-access.log").read_text(errors="replace")
    assert "GET /password/reset " in access
    assert token not in access

    # Both events were confirmed and deleted from the outbox.
    _wait(lambda: outbox_count(db, user["email"]) == 0, 10, what="an empty outbox")


def test_seed_routes_request_and_generated_password(http, mailbox):
    user = create_user(http)
    r = http().post("/user/password", json={"email": user["email"]})
    assert r.status_code == 202, r.text
    assert set(r.json()) >= {"status", "message"}
    _, token = link_of(wait_reset_mail(mailbox, user["email"])[0])

    # Invalid input is refused before the token is touched.
    for body in ({"token": token, "password": "short"}, {"token": token}):
        r = http().post("/password/reset", json=body)
        assert r.status_code == 422, r.text
        assert "password" in r.json()["errors"]

    r = http().put("/user/password", json={"token": token})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resetSuccess"] is True
    generated = body["newPassword"]
    assert isinstance(generated, str) and len(generated) >= 16
    assert login(http, user["email"], generated).status_code == 200
    assert login(http, user["email"], user["password"]).status_code == 401
    r = http().put("/user/password", json={"token": token})
    assert r.status_code == 400
    assert "token" in r.json()["errors"]


def test_email_in_chinese_is_utf8(http, mailbox):
    user = create_user(http)
    request_reset(http, user["email"], headers={"Accept-Language": "zh-CN"})
    msg = wait_reset_mail(mailbox, user["email"])[0]
    assert str(msg["Subject"]) == "重置您的密码"
    for p in msg.iter_parts():
        assert p.get_content_charset() == "utf-8"
    link, _ = link_of(msg)
    assert link in html.unescape(html_part(msg))


def test_expired_token_is_refused(http, mailbox, db):
    user = create_user(http)
    link, token = reset_token_for(http, mailbox, user["email"])
    db.execute("UPDATE password_resets SET expires_at = NOW(3) - INTERVAL 1 MINUTE "
               "WHERE token = %s" % sql_str(sha256_hex(token)))

    r = http().post("/password/reset", json={"token": token, "password": "Expired-pass-1"})
    assert r.status_code == 400, r.text
    assert "token" in r.json()["errors"]
    browser = http()
    assert browser.get(link, allow_redirects=False).status_code == 303
    assert browser.get("/password/reset", allow_redirects=False).status_code == 410
    assert login(http, user["email"], user["password"]).status_code == 200


def test_malformed_link_token_shows_the_invalid_page(http):
    browser = http()
    for bad in ("short", "A" * 42 + "!", "A" * 44):
        r = browser.get("/password/reset", params={"token": bad}, allow_redirects=False)
        assert r.status_code == 410, (bad, r.status_code)
        assert r.headers["Content-Type"].startswith("text/html")
        assert bad not in "".join(set_cookies(r))
    # No cookie at all: the form is not offered either.
    assert http().get("/password/reset", allow_redirects=False).status_code == 410


def test_invalid_page_sends_its_private_headers_once(http):
    """Referrer-Policy and Cache-Control once each on every way to the invalid page."""
    unknown = "A" * 43                                  # well formed, never issued
    browser = http()
    browser.get("/password/reset", params={"token": unknown}, allow_redirects=False)
    csrf = csrf_field(http().get("/password/forgot").text)
    browser.cookies.set("csrf", csrf, path="/")
    answers = {
        "GET ?token=malformed": http().get("/password/reset", params={"token": "short"},
                                           allow_redirects=False),
        "GET with a dead cookie": browser.get("/password/reset", allow_redirects=False),
        "POST form with a dead cookie": browser.post(
            "/password/reset", allow_redirects=False,
            data={"csrf": csrf, "password": "Dead-pass-123", "password_confirm": "Dead-pass-123"}),
    }
    got = {what: (r.status_code, r.raw.headers.getlist("Referrer-Policy"),
                  r.raw.headers.getlist("Cache-Control")) for what, r in answers.items()}
    want = {what: (410, ["no-referrer"], ["no-store"]) for what in answers}
    assert got == want


def test_unknown_address_gets_the_same_answer_and_no_email(http, mailbox):
    users = {"/password/forgot": create_user(http), "/user/password": create_user(http)}
    unknown = new_address()
    for path, user in users.items():
        known_r = http().post(path, json={"email": user["email"]})
        unknown_r = http().post(path, json={"email": unknown})
        assert unknown_r.status_code == known_r.status_code == 202
        assert unknown_r.content == known_r.content
        assert unknown_r.headers["Content-Type"] == known_r.headers["Content-Type"]
        assert sorted(unknown_r.headers) == sorted(known_r.headers)
    for user in users.values():
        wait_reset_mail(mailbox, user["email"])
    mailbox.expect_none(lambda m: is_for(m, unknown), wait=3)


def test_ten_concurrent_submits_one_winner(http, mailbox):
    user = create_user(http)
    _, token = reset_token_for(http, mailbox, user["email"])
    n = 10
    passwords = ["Race-%d-%s" % (i, uuid.uuid4().hex[:8]) for i in range(n)]
    sessions = [http() for _ in range(n)]
    results = [None] * n
    barrier = threading.Barrier(n)

    def submit(i):
        barrier.wait()
        try:
            results[i] = sessions[i].post(
                "/password/reset", json={"token": token, "password": passwords[i]}, timeout=30)
        except Exception as e:  # reported below with the others
            results[i] = e

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = [getattr(r, "status_code", repr(r)) for r in results]
    assert sorted(statuses, key=str) == sorted([200] + [400] * (n - 1), key=str), statuses
    winner = statuses.index(200)
    for i, r in enumerate(results):
        if i != winner:
            assert "token" in r.json()["errors"], r.text
    assert login(http, user["email"], passwords[winner]).status_code == 200
    for i in range(n):
        if i != winner:
            assert login(http, user["email"], passwords[i]).status_code == 401


def test_forged_host_does_not_change_the_link(stack, http, mailbox):
    user = create_user(http)
    request_reset(http, user["email"], headers={"Host": "evil.example",
                                                "X-Forwarded-Host": "evil.example",
                                                "X-Forwarded-Proto": "https"})
    msg = wait_reset_mail(mailbox, user["email"])[0]
    link, _ = link_of(msg)
    assert link.startswith(stack["PUBLIC_BASE_URL"].rstrip("/") + "/password/reset?token=")
    assert "evil.example" not in text_part(msg)
    assert "evil.example" not in html_part(msg)


def test_csrf_refused_form_posts_consume_nothing(http, mailbox, db):
    user = create_user(http)
    link, token = reset_token_for(http, mailbox, user["email"])
    browser = http()
    csrf = csrf_field(open_link(browser, link).text)
    wrong = ("A" if csrf[0] != "A" else "B") + csrf[1:]
    attempt = "Csrf-pass-123"

    for data in ({"password": attempt, "password_confirm": attempt},
                 {"csrf": wrong, "password": attempt, "password_confirm": attempt},
                 {"csrf": "", "password": attempt, "password_confirm": attempt}):
        r = browser.post("/password/reset", data=data, allow_redirects=False)
        assert r.status_code == 403, (data, r.status_code, r.text)
        assert token_state(db, token) == "0"
    # The right cookie with a field from another browser is just as wrong.
    other = http()
    other_csrf = csrf_field(other.get("/password/forgot").text)
    assert other_csrf != csrf
    r = browser.post("/password/reset", allow_redirects=False,
                     data={"csrf": other_csrf, "password": attempt, "password_confirm": attempt})
    assert r.status_code == 403

    assert login(http, user["email"], attempt).status_code == 401
    assert login(http, user["email"], user["password"]).status_code == 200
    # The token still works for the real form.
    r = browser.get("/password/reset", allow_redirects=False)
    assert r.status_code == 200
    r = browser.post("/password/reset", allow_redirects=False,
                     data={"csrf": csrf_field(r.text), "password": attempt, "password_confirm": attempt})
    assert r.status_code == 303, r.text
    assert login(http, user["email"], attempt).status_code == 200


def test_forgot_form_needs_csrf(http, mailbox, db):
    user = create_user(http)
    browser = http()
    page = browser.get("/password/forgot", headers={"Accept": "text/html"})
    assert page.status_code == 200
    csrf = csrf_field(page.text)
    r = browser.post("/password/forgot", data={"email": user["email"]}, allow_redirects=False)
    assert r.status_code == 403
    r = browser.post("/password/forgot", data={"csrf": "x" * 32, "email": user["email"]},
                     allow_redirects=False)
    assert r.status_code == 403
    count = db.scalar("SELECT COUNT(*) FROM password_resets WHERE email = %s" % sql_str(user["email"]))
    assert count == "0"

    r = browser.post("/password/forgot", data={"csrf": csrf, "email": user["email"]},
                     allow_redirects=False)
    assert r.status_code == 303
    assert urlsplit(r.headers["Location"]).path == "/password/forgot/sent"
    wait_reset_mail(mailbox, user["email"])
    time.sleep(1)       # a refused post that slipped through would be mailed by now too
    assert len(reset_mails(mailbox, user["email"])) == 1


def test_mismatched_confirmation_rerenders_and_keeps_the_token(http, mailbox, db):
    user = create_user(http)
    link, token = reset_token_for(http, mailbox, user["email"])
    browser = http()
    csrf = csrf_field(open_link(browser, link).text)

    r = browser.post("/password/reset", allow_redirects=False,
                     data={"csrf": csrf, "password": "Mismatch-pass-1",
                           "password_confirm": "Mismatch-pass-2"})
    assert r.status_code == 422, r.text
    assert r.headers["Content-Type"].startswith("text/html")
    assert 'name="password_confirm"' in r.text
    assert 'id="password_confirm-error"' in r.text
    assert "Mismatch-pass-1" not in r.text          # passwords are never re-filled
    assert token not in r.text
    assert token_state(db, token) == "0"
    assert login(http, user["email"], "Mismatch-pass-1").status_code == 401

    r = browser.post("/password/reset", allow_redirects=False,
                     data={"csrf": csrf_field(r.text), "password": "Matching-pass-1",
                           "password_confirm": "Matching-pass-1"})
    assert r.status_code == 303, r.text
    assert login(http, user["email"], "Matching-pass-1").status_code == 200


def test_reset_kills_every_other_outstanding_token(http, mailbox, db):
    user = create_user(http)
    link, emailed = reset_token_for(http, mailbox, user["email"])
    # A second outstanding token, written as the service writes one (a second
    # request within the minute would be throttled and send no email).
    other = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    db.execute("INSERT INTO password_resets (created_at, updated_at, token, email, verify, "
               "user_id, expires_at) VALUES (NOW(3), NOW(3), %s, %s, 0, %d, "
               "NOW(3) + INTERVAL 1 HOUR)" % (sql_str(sha256_hex(other)), sql_str(user["email"]),
                                              int(user["id"])))
    tokens = [other, emailed]
    browser = http()
    open_link(browser, link.split("?")[0] + "?token=" + other)     # it is usable
    assert [token_state(db, t) for t in tokens] == ["0", "0"]

    r = http().post("/password/reset", json={"token": emailed, "password": "Winner-pass-1"})
    assert r.status_code == 200, r.text
    assert [token_state(db, t) for t in tokens] == ["1", "1"]
    r = http().post("/password/reset", json={"token": other, "password": "Loser-pass-1"})
    assert r.status_code == 400
    assert "token" in r.json()["errors"]
    assert browser.get("/password/reset", allow_redirects=False).status_code == 410
    assert login(http, user["email"], "Winner-pass-1").status_code == 200


# ---------------------------------------------------------------- keep last: stops the broker

def test_reset_requested_while_rabbitmq_is_down_arrives_later(http, mailbox, db, rabbit):
    user = create_user(http)
    rabbit.stop_app()
    try:
        started = time.monotonic()
        r = http().post("/password/forgot", json={"email": user["email"]})
        elapsed = time.monotonic() - started
        assert r.status_code == 202, r.text
        assert elapsed < 2, "answered in %.2fs with the broker down" % elapsed
        assert outbox_count(db, user["email"]) == 1
        time.sleep(0.5)     # the publish after the answer cannot drain it either
        assert outbox_count(db, user["email"]) == 1
        assert reset_mails(mailbox, user["email"]) == []
    finally:
        rabbit.start_app()
    wait_reset_mail(mailbox, user["email"], timeout=60)
    _wait(lambda: outbox_count(db, user["email"]) == 0, 20, what="the relayed row to leave the outbox")
    time.sleep(3)       # a second copy (relay and worker both publishing) would show now
    assert len(reset_mails(mailbox, user["email"])) == 1
