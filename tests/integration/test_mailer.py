"""reset-mailer's own failure modes, against the real stack (conftest.py).

Events go in through the outbox table, as a FastCGI worker that could not
reach RabbitMQ leaves them: the mailer's relay republishes rows older than
OUTBOX_RELAY_AGE, then the consumer mails them.  So these tests cover the
relay too.  Each event has a fresh id and address; data persists between
runs, so assertions only look at what a test itself produced.
"""

import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

MAIL_TIMEOUT = 30
RESET_QUEUE = "create.password.reset"


def _wait(predicate, timeout, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def _sql_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


def enqueue(db, payload=None, event_type=RESET_QUEUE, **fields):
    """Writes one outbox row (already old enough for the relay); returns
    (event_id, email, payload text)."""
    event_id = fields.pop("event_id", str(uuid.uuid4()))
    address = fields.pop("email", "mailer-%s@example.test" % uuid.uuid4().hex)
    if payload is None:
        event = {
            "event_id": event_id, "type": event_type,
            "occurred_at": "2026-12-03T19:30:00.000Z", "user_id": 42,
            "email": address, "name": "mailer test", "locale": "en",
        }
        if event_type == RESET_QUEUE:
            event["reset_url"] = "https://example.test/password/reset?token=" + "A" * 43
            event["expires_at"] = "2026-12-03T20:30:00.000Z"
        event.update(fields)
        payload = json.dumps(event)
    db.execute(
        "INSERT INTO outbox (event_id, routing_key, event_type, email, payload,"
        " created_at) VALUES (%s, %s, %s, %s, %s, NOW(3) - INTERVAL 1 HOUR)" % (
            _sql_str(event_id), _sql_str(event_type), _sql_str(event_type),
            _sql_str(address), _sql_str(payload)))
    return event_id, address, payload


def for_event(event_id):
    """Mailbox predicate: the message mailed for this event."""
    return lambda msg: event_id in str(msg["Message-ID"] or "")


def mailer_outcomes(stack, event_id):
    """The mail.outcome log lines of the mailer for one event."""
    log = Path(stack["VAR_DIR"]) / "log" / "reset-mailer.log"
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if event_id in line and '"mail.outcome"' in line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def sink_pid(stack):
    return int((Path(stack["VAR_DIR"]) / "run" / "smtp-sink.pid").read_text().strip())


def test_relayed_event_is_mailed_once_and_recorded(stack, db, mailbox):
    event_id, address, _ = enqueue(db)
    msg = mailbox.wait_for(for_event(event_id), timeout=MAIL_TIMEOUT)
    assert str(msg["To"]).endswith("<%s>" % address)
    assert msg.get_content_type() == "multipart/alternative"
    _wait(lambda: db.scalar("SELECT COUNT(*) FROM mail_sent WHERE event_id = '%s'"
                            % event_id) == "1", 10, what="the mail_sent row")
    assert db.scalar("SELECT COUNT(*) FROM outbox WHERE event_id = '%s'" % event_id) == "0"
    # Outcome logged, without the link.
    outcomes = mailer_outcomes(stack, event_id)
    assert [o["outcome"] for o in outcomes] == ["sent"]
    log = (Path(stack["VAR_DIR"]) / "log" / "reset-mailer.log").read_text(errors="replace")
    assert "A" * 43 not in log


def test_duplicate_event_is_not_mailed_twice(stack, db, mailbox):
    event_id, _, payload = enqueue(db)
    mailbox.wait_for(for_event(event_id), timeout=MAIL_TIMEOUT)
    _wait(lambda: db.scalar("SELECT COUNT(*) FROM outbox WHERE event_id = '%s'"
                            % event_id) == "0", 10, what="the relay to delete the row")
    # The same event again (a relay republish after a lost confirm).
    enqueue(db, payload=payload, event_id=event_id)
    _wait(lambda: "duplicate" in [o["outcome"] for o in mailer_outcomes(stack, event_id)],
          MAIL_TIMEOUT, what="the duplicate to be seen")
    assert len([m for m in mailbox.new() if for_event(event_id)(m)]) == 1


def test_transient_4xx_is_retried_then_delivered(stack, db, mailbox, smtp_fault):
    with smtp_fault("451 4.3.0 Try again later"):
        event_id, _, _ = enqueue(db)
        _wait(lambda: len([o for o in mailer_outcomes(stack, event_id)
                           if o["outcome"] == "retry"]) >= 2,
              MAIL_TIMEOUT, what="two retries")
        assert not [m for m in mailbox.new() if for_event(event_id)(m)]
    mailbox.wait_for(for_event(event_id), timeout=MAIL_TIMEOUT)
    outcomes = mailer_outcomes(stack, event_id)
    assert outcomes[0]["smtp_code"] == "451"
    assert outcomes[-1]["outcome"] == "sent"
    assert int(outcomes[-1]["attempt"]) >= 3


def test_permanent_5xx_goes_to_the_dead_letter_queue(stack, db, mailbox, rabbit, smtp_fault):
    dead = RESET_QUEUE + ".dead"
    before = rabbit.list_queues().get(dead, 0)
    with smtp_fault("554 5.7.1 Message rejected"):
        event_id, _, _ = enqueue(db)
        _wait(lambda: "dead" in [o["outcome"] for o in mailer_outcomes(stack, event_id)],
              MAIL_TIMEOUT, what="the dead-letter outcome")
    outcome = [o for o in mailer_outcomes(stack, event_id) if o["outcome"] == "dead"][0]
    assert outcome["reason"].startswith("554")
    _wait(lambda: rabbit.list_queues().get(dead, 0) >= before + 1, 10,
          what="a message in %s" % dead)
    mailbox.expect_none(for_event(event_id), wait=3)


def test_rejected_recipient_goes_to_the_dead_letter_queue(stack, db, mailbox, smtp_fault):
    with smtp_fault("RCPT 550 5.1.1 No such user"):
        event_id, _, _ = enqueue(db)
        _wait(lambda: "dead" in [o["outcome"] for o in mailer_outcomes(stack, event_id)],
              MAIL_TIMEOUT, what="the dead-letter outcome")
    assert [o for o in mailer_outcomes(stack, event_id)][-1]["smtp_code"] == "550"


def test_malformed_event_is_dead_lettered_with_a_reason(stack, db, rabbit):
    dead = RESET_QUEUE + ".dead"
    before = rabbit.list_queues().get(dead, 0)
    event_id = str(uuid.uuid4())
    enqueue(db, payload='{"event_id": "%s", "type": ' % event_id, event_id=event_id)
    _wait(lambda: rabbit.list_queues().get(dead, 0) >= before + 1, MAIL_TIMEOUT,
          what="a message in %s" % dead)


def test_header_injection_through_the_name_adds_no_header(db, mailbox):
    event_id, _, _ = enqueue(db, name="x\r\nBcc: evil@example.test\r\nX-Injected: 1")
    msg = mailbox.wait_for(for_event(event_id), timeout=MAIL_TIMEOUT)
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert "evil@example.test" not in str(msg["X-Sink-Rcpt-To"])


def test_sigkill_mid_message_then_delivered_after_restart(stack, db, mailbox, mailer):
    """The mailer dies while the SMTP server holds the message: the broker
    redelivers it to the restarted mailer, which mails it."""
    sink = sink_pid(stack)
    os.kill(sink, signal.SIGSTOP)          # SMTP hangs with the message in hand
    try:
        event_id, _, _ = enqueue(db)
        _wait(lambda: db.scalar("SELECT COUNT(*) FROM outbox WHERE event_id = '%s'"
                                % event_id) == "0", MAIL_TIMEOUT,
              what="the relay to publish the event")
        time.sleep(1)                      # the consumer takes it and blocks
        mailer.kill_and_wait_restart(signal.SIGKILL)
    finally:
        os.kill(sink, signal.SIGCONT)
    mailbox.wait_for(for_event(event_id), timeout=MAIL_TIMEOUT)
    time.sleep(2)                          # a second copy would be here by now
    assert len([m for m in mailbox.new() if for_event(event_id)(m)]) == 1


def test_sigterm_finishes_the_message_in_hand(stack, db, mailbox, mailer):
    sink = sink_pid(stack)
    os.kill(sink, signal.SIGSTOP)
    try:
        event_id, _, _ = enqueue(db)
        _wait(lambda: db.scalar("SELECT COUNT(*) FROM outbox WHERE event_id = '%s'"
                                % event_id) == "0", MAIL_TIMEOUT,
              what="the relay to publish the event")
        time.sleep(1)
        old = mailer.pid()
        os.kill(old, signal.SIGTERM)
        time.sleep(1)
        assert mailer.pid() == old, "the mailer must not quit with a message in hand"
    finally:
        os.kill(sink, signal.SIGCONT)
    mailbox.wait_for(for_event(event_id), timeout=MAIL_TIMEOUT)
    _wait(lambda: mailer.pid() != old, 30, what="the old mailer to exit")
    assert [o["outcome"] for o in mailer_outcomes(stack, event_id)] == ["sent"]
