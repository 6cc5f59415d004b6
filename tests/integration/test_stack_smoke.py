"""The stack itself works: nginx routing, the SMTP sink, migrations."""

import smtplib
from email.message import EmailMessage


def test_unknown_path_is_404_with_request_id(http):
    r = http().get("/nope")
    assert r.status_code == 404
    assert len(r.headers.get("X-Request-Id", "")) == 32


def test_smtp_sink_stores_one_eml_per_message(stack, mailbox):
    msg = EmailMessage()
    msg["From"] = "smoke@localhost"
    msg["To"] = "someone@example.test"
    msg["Subject"] = "stack smoke test"
    msg.set_content("hello from the smoke test\n")
    with smtplib.SMTP("127.0.0.1", int(stack["STACK_SMTP_PORT"]), timeout=10) as smtp:
        smtp.send_message(msg)

    got = mailbox.wait_for(lambda m: m["Subject"] == "stack smoke test", timeout=10)
    assert got["X-Sink-Rcpt-To"] == "<someone@example.test>"
    assert "hello from the smoke test" in got.get_content()
    assert len(mailbox.new()) == 1


def test_smtp_fault_injection(stack, smtp_fault):
    msg = EmailMessage()
    msg["Subject"] = "should be refused"
    msg.set_content("x")
    with smtp_fault("451 4.3.0 Try again later"):
        with smtplib.SMTP("127.0.0.1", int(stack["STACK_SMTP_PORT"]), timeout=10) as smtp:
            try:
                smtp.send_message(msg, "a@localhost", ["b@localhost"])
                raise AssertionError("the sink accepted a message while faulted")
            except smtplib.SMTPDataError as e:
                assert e.smtp_code == 451


def test_migrations_are_recorded(db):
    assert db.scalar("SELECT COUNT(*) FROM information_schema.tables "
                     "WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'") == "1"
    versions = [r[0] for r in db.rows("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == sorted(versions)


def test_programs_use_the_database_socket_when_one_is_set(stack, http, db):
    """DB_SOCKET wins over DB_HOST's default 127.0.0.1 (loopback TCP costs
    every query a TCP round trip).  The stack grants the app's user at
    'localhost' (socket) and at '127.0.0.1' (TCP): the test connects
    through the socket, so it sees the programs' sessions only when they
    use the socket too."""
    assert stack["DB_SOCKET"], "the stack sets DB_SOCKET"
    http().get("/user/token")   # a worker has connected by now
    others = [r[0] for r in db.rows(
        "SELECT host FROM information_schema.processlist "
        "WHERE id <> CONNECTION_ID()")]
    assert others, "no worker or mailer session on the socket account"
    assert all(h == "localhost" for h in others), others
