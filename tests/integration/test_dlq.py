"""scripts/dlq.sh against the running stack: a mail the SMTP server refuses
for good lands in the dead-letter queue, `list` shows it with the reason
and without the reset token, `replay ID` sends it back and the mailer then
delivers it; `outbox` reads the waiting rows."""

import os
import re
import subprocess
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "create.password.reset"


def dlq(stack, *args):
    env = dict(os.environ, MICRO_USER_ENV=stack["MICRO_USER_ENV"])
    r = subprocess.run([str(ROOT / "scripts" / "dlq.sh")] + list(args), env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "dlq.sh %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr)
    return r.stdout


def listed_event_id(stack, addr):
    out = dlq(stack, "list", QUEUE, "100000")
    m = re.search(r"id=(\S+) type=%s email=%s " % (QUEUE, re.escape(addr)), out)
    return (m.group(1), out) if m else None


def test_dead_letter_is_listed_and_replayed(stack, http, mailbox, smtp_fault):
    s = http()
    tag = uuid.uuid4().hex[:10]
    addr = "dlq-%s@example.test" % tag
    r = s.post("/user", json={"name": "dlq-" + tag, "email": addr, "password": "Dlq-pass-%s" % tag})
    assert r.status_code == 201, r.text

    with smtp_fault("554 5.7.1 Rejected by policy"):
        r = s.post("/password/forgot", json={"email": addr})
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 30
        found = None
        while found is None and time.monotonic() < deadline:
            found = listed_event_id(stack, addr)
            time.sleep(0.3)
        assert found, "no dead letter for %s after 30 s" % addr
    event_id, listing = found
    entry = listing[listing.index("id=" + event_id):].split("\n%d. " % 2)[0]
    assert "554 5.7.1 Rejected by policy" in entry
    assert "token=…" in entry and not re.search(r"token=[A-Za-z0-9_-]{43}", listing)

    counts = dlq(stack)
    assert re.search(r"^%s\s+\d+\s+\d+\s+[1-9]\d*$" % re.escape(QUEUE), counts, re.M), counts
    assert "outbox:" in counts

    out = dlq(stack, "replay", QUEUE, event_id)
    assert "replayed 1 message(s)" in out
    msg = mailbox.wait_for(lambda m: addr in str(m.get("X-Sink-Rcpt-To", "")), timeout=30)
    assert "/password/reset?token=" in msg.get_body(preferencelist=("plain",)).get_content()
    assert listed_event_id(stack, addr) is None


def test_outbox_count(stack):
    assert re.match(r"outbox: (0 rows waiting|\d+ row\(s\) waiting, oldest .*)$",
                    dlq(stack, "outbox").strip())
