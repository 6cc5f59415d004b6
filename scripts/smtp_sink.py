#!/usr/bin/python3
"""SMTP sink for the local stack: accepts every message and stores it.

Usage: smtp_sink.py --port 2525 --mail-dir var/mail [--fault-file var/smtp-sink.fault]

Each accepted message becomes exactly one file in the mail folder, named
<arrival time in ns>-<seq>.eml so that a plain sort is arrival order. It is
written under a dot-name first and then renamed, so a reader globbing
*.eml never sees half a message. Two headers are prepended that record the
SMTP envelope: X-Sink-Mail-From and X-Sink-Rcpt-To.

Fault injection (for tests): while the fault file exists, its first line is
the SMTP reply given instead of accepting, e.g.
    451 4.3.0 Try again later      -> reply to DATA
    554 5.7.1 Rejected             -> reply to DATA
    RCPT 550 5.1.1 No such user    -> reply to RCPT TO (prefix "RCPT ")
    DELAY 3                        -> store the message, then wait 3 s
                                      before the 250 (a slow server)
Delete the file to restore normal service.
"""

import argparse
import asyncio
import itertools
import os
import signal
import sys
import time

from aiosmtpd.controller import Controller


class SinkHandler:
    def __init__(self, mail_dir, fault_file):
        self.mail_dir = mail_dir
        self.fault_file = fault_file
        self.seq = itertools.count()

    def _fault(self, stage):
        """The injected reply for this SMTP stage, or None."""
        if not self.fault_file:
            return None
        try:
            with open(self.fault_file, encoding="utf-8") as f:
                line = f.readline().strip()
        except FileNotFoundError:
            return None
        if not line:
            return None
        if line.upper().startswith("RCPT "):
            return line[5:].strip() if stage == "RCPT" else None
        if line.upper().startswith("DELAY "):
            return line if stage == "DELAY" else None
        return line if stage == "DATA" else None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        fault = self._fault("RCPT")
        if fault:
            return fault
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        fault = self._fault("DATA")
        if fault:
            return fault
        name = "%020d-%06d.eml" % (time.time_ns(), next(self.seq))
        tmp = os.path.join(self.mail_dir, "." + name + ".tmp")
        head = ("X-Sink-Mail-From: <%s>\r\nX-Sink-Rcpt-To: %s\r\n" % (
            envelope.mail_from,
            ", ".join("<%s>" % r for r in envelope.rcpt_tos))).encode()
        with open(tmp, "wb") as f:
            f.write(head)
            f.write(envelope.original_content or envelope.content)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.mail_dir, name))
        print("stored %s from=%s to=%s" % (name, envelope.mail_from,
                                           ",".join(envelope.rcpt_tos)),
              flush=True)
        delay = self._fault("DELAY")
        if delay:
            await asyncio.sleep(float(delay.split()[1]))
        return "250 2.0.0 OK stored as %s" % name


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mail-dir", required=True)
    p.add_argument("--fault-file", default=None)
    args = p.parse_args()

    os.makedirs(args.mail_dir, exist_ok=True)
    handler = SinkHandler(os.path.abspath(args.mail_dir), args.fault_file)
    # decode_data=False keeps the bytes exactly as the client sent them.
    controller = Controller(handler, hostname=args.host, port=args.port,
                            decode_data=False, enable_SMTPUTF8=True,
                            ready_timeout=10)
    controller.start()
    print("smtp sink listening on %s:%d, mail in %s" %
          (args.host, args.port, args.mail_dir), flush=True)

    loop = asyncio.new_event_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    loop.run_until_complete(stop)
    controller.stop()
    print("smtp sink stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
