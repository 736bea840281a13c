"""A real NTLM acceptor (pyspnego) in front of a canned EWS endpoint, for
ews-provider's NTLM tests.

Usage: ntlm_server.py [CERT.pem KEY.pem]. Users come from the file named by
the environment variable NTLM_USER_FILE (lines DOMAIN:user:password, as
pyspnego reads them). Binds 127.0.0.1 on a port the system chooses, prints
it on the first line of stdout, and serves until stdin closes (so it stops
with the test that started it). With a certificate and key it speaks TLS.

NTLM is connection-bound, and this server holds it to that: the NEGOTIATE
message (Type 1) starts a context on its connection and is answered 401
with the CHALLENGE; the AUTHENTICATE message (Type 3) is verified against
that connection's context only, so a Type 3 (or any request) arriving on
another connection is answered 401. A verified Type 3 gets a
GetUserAvailability answer: one Busy event 09:00-10:00 UTC on the window's
first day for each mailbox asked. GET /stats answers counts as JSON.
"""

import base64
import http.server
import json
import re
import socketserver
import ssl
import sys
import threading

import spnego

STATS = {"connections": 0, "negotiate": 0, "authenticated": 0, "refused": 0}
LOCK = threading.Lock()


def count(key):
    with LOCK:
        STATS[key] += 1


def answer(body: str) -> bytes:
    addresses = re.findall(r"<t:Address>([^<]*)</t:Address>", body)
    start = re.search(r"<t:StartTime>(\d{4}-\d{2}-\d{2})T", body)
    day = start.group(1) if start else "2025-03-03"
    views = "".join(
        "<m:FreeBusyResponse><m:ResponseMessage ResponseClass=\"Success\">"
        "<m:ResponseCode>NoError</m:ResponseCode></m:ResponseMessage>"
        "<m:FreeBusyView><t:FreeBusyViewType>FreeBusy</t:FreeBusyViewType>"
        "<t:CalendarEventArray><t:CalendarEvent>"
        f"<t:StartTime>{day}T09:00:00</t:StartTime><t:EndTime>{day}T10:00:00</t:EndTime>"
        "<t:BusyType>Busy</t:BusyType></t:CalendarEvent></t:CalendarEventArray>"
        "</m:FreeBusyView></m:FreeBusyResponse>"
        for _ in addresses
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<m:GetUserAvailabilityResponse '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
        f"<m:FreeBusyResponseArray>{views}</m:FreeBusyResponseArray>"
        "</m:GetUserAvailabilityResponse></s:Body></s:Envelope>"
    ).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        count("connections")
        # This connection's NTLM context, and whether it authenticated.
        self.context = None
        self.authenticated = False

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", challenge=None, content_type="text/xml; charset=utf-8"):
        self.send_response(status)
        if status == 401:
            value = "NTLM" if challenge is None else "NTLM " + base64.b64encode(challenge).decode()
            self.send_header("WWW-Authenticate", value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                body = json.dumps(STATS).encode()
            self.send(200, body, content_type="application/json")
        else:
            self.send(404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.upper() != "NTLM" or not token:
            if self.authenticated:
                self.send(200, answer(body))
            else:
                self.send(401)
            return
        try:
            raw = base64.b64decode(token)
        except ValueError:
            self.send(400)
            return
        kind = int.from_bytes(raw[8:12], "little") if len(raw) >= 12 else 0
        if kind == 1:
            count("negotiate")
            self.context = spnego.server(protocol="ntlm")
            self.authenticated = False
            challenge = self.context.step(raw)
            self.send(401, b"", challenge=challenge)
        elif kind == 3 and self.context is not None:
            context, self.context = self.context, None
            try:
                context.step(raw)
                ok = context.complete
            except Exception:
                ok = False
            if ok:
                count("authenticated")
                self.authenticated = True
                self.send(200, answer(body))
            else:
                count("refused")
                self.send(401)
        else:
            # A Type 3 on a connection that sent no Type 1: refused.
            count("refused")
            self.send(401)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) == 3:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[1], sys.argv[2])
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
