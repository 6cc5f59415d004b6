"""A reset asked for an address without an account does the work of a real
one: a reset row (dead from the start) and an event, published, confirmed
and consumed, so that neither the answer nor its cost tells an attacker
whether the address has an account. The mailer drops the event, or, with
MAIL_UNKNOWN_NOTICE=1, answers it with a short "no account" mail.

Real MariaDB, RabbitMQ, SMTP sink and reset-mailer (see conftest.py).
"""

import hashlib
import json
import signal
import uuid
from pathlib import Path

import pytest

from test_reset_flow import (html_part, is_for, is_reset_mail, sql_str, text_part,
                             wait_reset_mail, _wait)

UNKNOWN_QUEUE = "password.reset.unknown"
NOTICE_SUBJECT = {"en": "Password reset request", "zh-CN": "密码重置申请"}


def new_address(tag="nobody"):
    return "%s-%s@example.test" % (tag, uuid.uuid4().hex)


def mail_outcomes(stack, outcome, type_):
    """Event ids of the mailer's log lines with this outcome and type."""
    path = Path(stack["VAR_DIR"]) / "log" / "reset-mailer.log"
    ids = set()
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "mail.outcome" and rec.get("outcome") == outcome \
                and rec.get("type") == type_:
            ids.add(rec.get("event_id"))
    return ids


def reset_rows(db, addr):
    return db.rows("SELECT user_id, verify, requested_ip <> '' FROM password_resets "
                   "WHERE email = %s" % sql_str(addr))


def test_unknown_address_writes_a_dead_row_and_an_event_the_mailer_drops(
        stack, client, db, rabbit, mailbox):
    user = {"name": "u_" + uuid.uuid4().hex[:20], "email": new_address("known"),
            "password": "Known-pass-123"}
    assert client.post("/user", json=user).status_code == 201
    unknown = new_address()
    skipped_before = mail_outcomes(stack, "skipped", UNKNOWN_QUEUE)

    for addr in (user["email"], unknown):
        assert client.post("/password/forgot", json={"email": addr}).status_code == 202

    known_rows, unknown_rows = reset_rows(db, user["email"]), reset_rows(db, unknown)
    assert len(known_rows) == len(unknown_rows) == 1
    assert known_rows[0][0] is not None and known_rows[0][1] == "0"
    # No user and used from the start: no link can ever match it.
    assert unknown_rows[0] == (None, "1", "1")

    # Both events were published and confirmed (their outbox rows are gone)
    # and consumed; only the known address gets mail.
    _wait(lambda: db.scalar("SELECT COUNT(*) FROM outbox WHERE email IN (%s, %s)" % (
        sql_str(user["email"]), sql_str(unknown))) == "0", 20, what="the outbox to drain")
    wait_reset_mail(mailbox, user["email"])
    _wait(lambda: mail_outcomes(stack, "skipped", UNKNOWN_QUEUE) - skipped_before, 20,
          what="the mailer to drop the unknown address's event")
    assert rabbit.list_queues().get(UNKNOWN_QUEUE) == 0
    mailbox.expect_none(lambda m: is_for(m, unknown), wait=2)


def test_a_dead_row_never_works_as_a_link(client, db):
    """Even if its token were known, the unknown address's row is refused."""
    unknown = new_address()
    assert client.post("/password/forgot", json={"email": unknown}).status_code == 202
    token = "B" * 43
    digest = hashlib.sha256(token.encode()).hexdigest()
    db.execute("UPDATE password_resets SET token = %s WHERE email = %s" % (
        sql_str(digest), sql_str(unknown)))
    r = client.put("/user/password", json={"token": token, "password": "New-pass-1234"})
    assert r.status_code == 400
    assert "token" in r.json()["errors"]


@pytest.fixture
def notice_on(stack, mailer):
    """The mailer restarted with MAIL_UNKNOWN_NOTICE=1, and back after."""
    env = Path(stack["VAR_DIR"]) / "stack.env"
    original = env.read_text()
    env.write_text(original + "MAIL_UNKNOWN_NOTICE='1'\n")
    try:
        mailer.kill_and_wait_restart(signal.SIGTERM)
        yield
    finally:
        env.write_text(original)
        mailer.kill_and_wait_restart(signal.SIGTERM)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_notice_when_turned_on(notice_on, stack, client, mailbox, locale):
    unknown = new_address("Tom&Jo")
    r = client.post("/password/forgot", json={"email": unknown},
                    headers={"Accept-Language": locale})
    assert r.status_code == 202

    msg = mailbox.wait_for(lambda m: is_for(m, unknown), timeout=20)
    assert str(msg["Subject"]) == NOTICE_SUBJECT[locale]
    assert not is_reset_mail(msg), "a notice carries no reset link"
    text, page = text_part(msg), html_part(msg)
    forgot_url = stack["PUBLIC_BASE_URL"].rstrip("/") + "/password/forgot"
    assert unknown in text and forgot_url in text
    assert "Tom&amp;Jo-" in page and "Tom&Jo-" not in page.replace("Tom&amp;Jo-", "")
    assert 'href="%s"' % forgot_url in page
    assert ('lang="%s"' % locale) in page
    mailbox.expect_none(lambda m: is_for(m, unknown) and m.path != msg.path, wait=2)
