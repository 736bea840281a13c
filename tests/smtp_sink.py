"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the invitation tests.

Usage: smtp_sink.py DIR. Binds an ephemeral port, prints it on the first
line of stdout, and writes each message it accepts to DIR/NNN.eml (the raw
bytes as received, the envelope's recipients in DIR/NNN.rcpt). Runs until
stdin closes, so it stops with the test that started it.
"""

import socket
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out: Path):
        self.out = out
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            n = self.count
            self.count += 1
        (self.out / f"{n:03}.rcpt").write_text("\n".join(envelope.rcpt_tos))
        # Written last: a test waiting for NNN.eml finds the recipients.
        tmp = self.out / f"{n:03}.tmp"
        tmp.write_bytes(envelope.original_content)
        tmp.rename(self.out / f"{n:03}.eml")
        return "250 Message accepted for delivery"


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    # aiosmtpd's start() connects to the port to check it serves: a port
    # the system chose (free a moment ago) rather than 0.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
