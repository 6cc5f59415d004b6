"""The workers delete the outbox rows RabbitMQ confirmed, themselves: a row
goes inside the transaction of the worker's next event, or on its own a
moment later when none comes. The mailer's relay touches only rows older
than OUTBOX_RELAY_AGE, so rows gone well before that age were deleted by
the workers, not relayed.

Real nginx, workers, MariaDB and RabbitMQ (see conftest.py).
"""

import time
import uuid

from test_reset_flow import sql_str


def test_confirmed_rows_leave_the_outbox_before_the_relay_could_act(stack, client, db):
    relay_age = float(stack.get("OUTBOX_RELAY_AGE") or 10)
    tag = "outbox-%s" % uuid.uuid4().hex
    addrs = ["%s-%d@example.test" % (tag, i) for i in range(12)]
    like = sql_str(tag + "-%")
    start = time.monotonic()
    for addr in addrs:      # back to back: most go with the next event
        assert client.post("/password/forgot", json={"email": addr}).status_code == 202
    assert db.scalar("SELECT COUNT(*) FROM password_resets WHERE email LIKE %s" % like) \
        == str(len(addrs))
    while db.scalar("SELECT COUNT(*) FROM outbox WHERE email LIKE %s" % like) != "0":
        assert time.monotonic() - start < relay_age - 0.5, \
            "confirmed rows still in the outbox when the relay could take them"
        time.sleep(0.05)
