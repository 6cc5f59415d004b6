#!/usr/bin/python3
"""The RabbitMQ half of scripts/dlq.sh (run that; it loads the settings).

    dlq_amqp.py count
    dlq_amqp.py list QUEUE N
    dlq_amqp.py replay QUEUE N      (N = 0: all; or an event id: that one)

QUEUE is an event queue (create.password.reset, password.reset.unknown,
password.changed); its
dead letters sit in QUEUE.dead. Connects with the programs' AMQP_* settings
(AMQP_PASSWORD or AMQP_PASSWORD_FILE). `list` leaves the messages where
they are; `replay` publishes each back to QUEUE with publisher confirms,
without the mailer's attempt count and death reason (so it gets its full
set of attempts again), and only then removes it from QUEUE.dead.
"""

import json
import os
import sys
from datetime import datetime, timezone

import pika
import pika.exceptions

# The event queues of fcgi-app/mq.c (mq_event_queues), each with .retry and .dead.
EVENT_QUEUES = ("create.password.reset", "password.reset.unknown", "password.changed")
# Headers the mailer adds on retry and dead-lettering (fcgi-app/mailer_consume.c).
MAILER_HEADERS = ("x-attempts", "x-death-reason", "x-death", "x-first-death-exchange",
                  "x-first-death-queue", "x-first-death-reason")


def setting(name, default):
    value = os.environ.get(name, "")
    if not value and name.endswith("PASSWORD") and os.environ.get(name + "_FILE"):
        with open(os.environ[name + "_FILE"], encoding="utf-8") as f:
            value = f.read().rstrip("\r\n")
    return value or default


def connect():
    params = pika.ConnectionParameters(
        host=setting("AMQP_HOST", "127.0.0.1"),
        port=int(setting("AMQP_PORT", "5672")),
        virtual_host=setting("AMQP_VHOST", "/"),
        credentials=pika.PlainCredentials(setting("AMQP_USER", "guest"),
                                          setting("AMQP_PASSWORD", "guest")),
        connection_attempts=1, socket_timeout=5, blocked_connection_timeout=10)
    try:
        return pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as e:
        sys.exit("dlq: cannot reach RabbitMQ at %s:%s as %s: %r" % (
            params.host, params.port, params.credentials.username, e))


def depth(conn, queue):
    """Messages ready in queue, or None when it does not exist yet."""
    ch = conn.channel()
    try:
        n = ch.queue_declare(queue, passive=True).method.message_count
    except pika.exceptions.ChannelClosedByBroker:
        return None
    ch.close()
    return n


def event_queue(name):
    name = name[:-len(".dead")] if name.endswith(".dead") else name
    if name not in EVENT_QUEUES:
        sys.exit("dlq: unknown queue %r (one of: %s)" % (name, ", ".join(EVENT_QUEUES)))
    return name


def redact(body):
    """The event without the secret in its reset link."""
    try:
        event = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")[:200]
    if isinstance(event, dict) and isinstance(event.get("reset_url"), str):
        url = event["reset_url"]
        event["reset_url"] = url.split("token=")[0] + "token=…" if "token=" in url else "…"
    return json.dumps(event, ensure_ascii=False, sort_keys=True)


def text(value, default="-"):
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return default if value in (None, "") else str(value)


def when(props):
    if not props.timestamp:
        return "-"
    return datetime.fromtimestamp(props.timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_count(conn):
    print("%-32s %8s %8s %8s" % ("queue", "ready", "retry", "dead"))
    for q in EVENT_QUEUES:
        counts = [depth(conn, name) for name in (q, q + ".retry", q + ".dead")]
        print("%-32s %8s %8s %8s" % ((q,) + tuple("-" if n is None else n for n in counts)))


def cmd_list(conn, queue, limit):
    dead = queue + ".dead"
    ch = conn.channel()
    shown = 0
    # Unacknowledged gets; closing the channel puts them all back in order.
    while shown < limit:
        method, props, body = ch.basic_get(dead, auto_ack=False)
        if method is None:
            break
        shown += 1
        headers = props.headers or {}
        print("%d. id=%s type=%s email=%s at=%s attempts=%s" % (
            shown, text(props.message_id), text(props.type), text(headers.get("email")),
            when(props), text(headers.get("x-attempts"))))
        print("   reason: %s" % text(headers.get("x-death-reason")))
        print("   event:  %s" % redact(body))
    ch.close()
    total = depth(conn, dead)
    print("%s: %d shown, %s in the queue" % (dead, shown, "-" if total is None else total))


def cmd_replay(conn, queue, which):
    """Replays the first `which` dead letters (0: all), or the one whose
    message id is `which`; the others stay where they are."""
    dead = queue + ".dead"
    limit = int(which) if which.isdigit() else None
    ch = conn.channel()
    ch.confirm_delivery()
    total = depth(conn, dead) or 0
    moved = seen = 0
    while seen < total and (limit is None or limit == 0 or moved < limit):
        method, props, body = ch.basic_get(dead, auto_ack=False)
        if method is None:
            break
        seen += 1
        if limit is None and props.message_id != which:
            continue        # left unacknowledged: back in place when the channel closes
        headers = {k: v for k, v in (props.headers or {}).items() if k not in MAILER_HEADERS}
        out = pika.BasicProperties(
            content_type=props.content_type, content_encoding=props.content_encoding,
            headers=headers, delivery_mode=2, message_id=props.message_id,
            timestamp=props.timestamp, type=props.type, app_id=props.app_id)
        try:
            # The default exchange delivers straight to the queue of that name.
            ch.basic_publish("", queue, body, out, mandatory=True)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
            sys.exit("dlq: %s refused the message %s (%r); it stays in %s" % (
                queue, props.message_id, e, dead))
        ch.basic_ack(method.delivery_tag)
        moved += 1
    ch.close()
    print("dlq: replayed %d message(s) from %s to %s" % (moved, dead, queue))
    if limit is None and moved == 0:
        sys.exit("dlq: no message with id %s in %s" % (which, dead))


def main(argv):
    if not argv or argv[0] not in ("count", "list", "replay"):
        sys.exit(__doc__)
    conn = connect()
    try:
        if argv[0] == "count":
            cmd_count(conn)
        elif len(argv) != 3:
            sys.exit(__doc__)
        elif argv[0] == "list":
            cmd_list(conn, event_queue(argv[1]), int(argv[2]))
        else:
            cmd_replay(conn, event_queue(argv[1]), argv[2])
    finally:
        if conn.is_open:
            conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
