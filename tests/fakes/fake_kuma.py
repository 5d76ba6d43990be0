#!/usr/bin/python3
"""Fake Uptime Kuma push endpoint over TLS, for black-box tests.

Answers a push the way Uptime Kuma (Express on Node) does, over HTTP/1.1
with keep-alive as Node serves it: every answer carries Content-Length, a
connection serves request after request until the client closes it, asks
for "Connection: close", or leaves it idle for --keep-alive-timeout seconds
(Node's default, 5). An error answer to a malformed head closes it.

  GET|HEAD /api/push/<token>?status=up|down&msg=<text>&ping=<ms>
    200 {"ok":true}
    404 {"ok":false,"msg":"Monitor not found or not active."}  unknown token
  POST /api/push/<token>    404, Express's HTML "Cannot POST" page
  GET /                     302 to /dashboard
  anything else             404, Express's HTML "Cannot <METHOD>" page
  header section > 16 KiB   431, as Node's default header limit gives

Every event goes to the --log file as one JSON object per line:

  {"event":"connection","connection":N,"peer_port":...,"tls":...,
   "resumed":...,"sni":...,"time":...}       one per completed TLS handshake
  {"event":"tls_error","error":..., "reason":..., "sni":..., "time":...}
  {"event":"request","method":..., "path":..., "token":..., "query":{...},
   "raw_target":..., "host":..., "sni":..., "kuma":{...}, "time":...,
   "answered":<status or null>,"connection":N}
  {"event":"no_request","bytes":N,"error":...,"sni":...,"connection":N,
   "time":...}
  {"event":"accepted","time":...}                       (hang-accept only)

"token" is the percent-decoded path segment (what Kuma looks up). "query"
holds percent-decoded values from urllib.parse.parse_qs, a string for a single
value and a list for a repeated key. "raw_target" is the request target
exactly as sent, each byte read as ISO-8859-1. "kuma" is how Kuma would read
the push: {"status":"up"|"down","msg":...,"ping":integer|null}; null when the
request is not a push. "sni" is null when the client sent no server name.
"connection" numbers the connections from 1 (see fake_server.py); a request
names the one it came on. "no_request" is a connection that completed TLS
and then closed (or failed) before a whole request head arrived; "bytes" is
how much of one did. A kept-alive connection that ends, idle, after its
first request logs nothing.

Modes: "hang-accept" accepts TCP connections and never starts TLS;
"hang-response" completes TLS, reads and logs the request, and never answers.
Both keep connections open until the process ends. "close-after-answer"
answers as if it kept the connection (Connection: keep-alive) and then
closes it, as a Kuma does that restarted, or closed the idle connection, just
before the client's next request. "reset-after-answer" does the same but
resets the connection (an RST, no TLS close_notify), as a killed Kuma or a
firewall that forgot the connection does. SIGTERM and SIGINT end the
process at once with status 0.
"""

import argparse
import html
import http
import json
import math
import re
import socket
import ssl
import struct
import sys
import threading
import urllib.parse

# The tests run this from the source tree, which must stay as it is.
sys.dont_write_bytecode = True
import fake_server  # noqa: E402

# Node's default --max-http-header-size: request line plus header lines.
HEADER_LIMIT = 16 * 1024
# Bodies are read so that the next request on the connection can be read,
# and so that closing the socket does not reset the connection before the
# client has read the answer.
BODY_LIMIT = 1024 * 1024
# Node's server.keepAliveTimeout.
KEEP_ALIVE_TIMEOUT = 5.0
# Express matches routes case-insensitively and allows a trailing slash.
PUSH_ROUTE = re.compile(r"^/api/push/([^/]+)/?$", re.IGNORECASE)
NOT_FOUND_MSG = "Monitor not found or not active."
# The prefix of a string that JavaScript's parseFloat reads.
JS_FLOAT = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")




def js_parse_float(value):
    """Kuma stores parseFloat(ping) || null; mirror that."""
    if not isinstance(value, str):
        return None
    match = JS_FLOAT.match(value.lstrip())
    if match is None:
        return None
    number = float(match.group(0).replace("Infinity", "inf"))
    if number == 0 or not math.isfinite(number):
        return None
    return number


def kuma_ping(value):
    """What uptime-kuma 2.0.0-dev.0 keeps of a ping: the integer part."""
    number = js_parse_float(value)
    return None if number is None else math.trunc(number)


def js_string(value):
    # A repeated key reaches Kuma as an array, which JavaScript joins with commas.
    return ",".join(value) if isinstance(value, list) else value


def kuma_view(query):
    status = query.get("status") or "up"
    return {
        "status": "up" if status == "up" else "down",
        "msg": js_string(query.get("msg") or "OK"),
        "ping": kuma_ping(js_string(query.get("ping"))),
    }


def reason_phrase(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Answer:
    """An answer but for its Connection header, which depends on what the
    connection does next."""

    def __init__(self, status, body=b"", content_type=None, extra_headers=(),
                 head_only=False):
        self.status = status
        lines = [f"HTTP/1.1 {status} {reason_phrase(status)}"]
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        lines.extend(extra_headers)
        # Also for HEAD: the length of the body a GET would get.
        lines.append(f"Content-Length: {len(body)}")
        self._lines = lines
        self._body = b"" if head_only else body

    def encode(self, keep_alive_timeout):
        """The bytes to send; KEEP_ALIVE_TIMEOUT None closes the connection."""
        if keep_alive_timeout is None:
            connection = ["Connection: close"]
        else:
            connection = ["Connection: keep-alive", f"Keep-Alive: timeout={keep_alive_timeout:g}"]
        return ("\r\n".join(self._lines + connection) + "\r\n\r\n").encode("ascii") + self._body


def json_response(status, payload, head_only):
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Answer(status, body, "application/json; charset=utf-8", head_only=head_only)


def express_not_found(method, path, head_only):
    body = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>Error</title>\n</head>\n<body>\n"
            f"<pre>Cannot {html.escape(method)} {html.escape(path)}</pre>\n"
            "</body>\n</html>\n").encode("utf-8")
    return Answer(404, body, "text/html; charset=utf-8", head_only=head_only)


class NodeError:
    """Node answers a malformed or oversized head with a bare status and
    closes, whatever the client asked for."""

    def __init__(self, status):
        self.status = status

    def encode(self, keep_alive_timeout):
        del keep_alive_timeout
        return fake_server.status_only(self.status, reason_phrase(self.status),
                                       ["Connection: close"])


def wants_close(version, headers):
    """Whether the client asked to close the connection after this request."""
    connection = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" not in connection
    return "close" in connection


class FakeKuma:
    def __init__(self, args, log):
        self._mode = args.mode
        self._status = args.status
        self._keep_alive_timeout = args.keep_alive_timeout
        self._tokens = None
        if args.tokens is not None:
            self._tokens = {t for t in args.tokens.split(",") if t}
        self._tokens_file = args.tokens_file
        self._log = log
        self._context = fake_server.tls_context(args.cert, args.key)
        self._context.sni_callback = self._on_sni
        # The callback runs inside do_handshake, on the connection's own thread.
        self._handshake = threading.local()
        self._held = fake_server.Holder()

    def _token_exists(self, token):
        """As Kuma: only a monitor's token takes pushes (every token without a list)."""
        if self._tokens_file is not None:
            try:
                with open(self._tokens_file, encoding="utf-8") as f:
                    return token in {line.strip() for line in f if line.strip()}
            except OSError:
                return False
        return self._tokens is None or token in self._tokens

    def _on_sni(self, ssl_socket, server_name, context):
        self._handshake.sni = server_name
        return None

    def describe(self):
        return f" (mode {self._mode})"

    def on_connection(self, conn):
        if self._mode == "hang-accept":
            self._held.keep(conn)
            self._log.write("accepted")
            return
        fake_server.spawn(self._handle, conn)

    def _handle(self, raw):
        raw.settimeout(fake_server.IO_TIMEOUT)
        self._handshake.sni = None
        accepted = fake_server.accept_tls(self._context, raw, self._log,
                                          lambda: {"sni": self._handshake.sni})
        if accepted is None:
            return
        conn, connection = accepted
        sni = self._handshake.sni
        try:
            pending = b""
            served = 0
            while True:
                exchange = self._exchange(conn, sni, connection, pending, served)
                if exchange is None:
                    break
                answer, close, pending = exchange
                if self._mode == "hang-response":
                    self._held.hang(conn)
                if self._mode in ("close-after-answer", "reset-after-answer"):
                    conn.sendall(answer.encode(self._keep_alive_timeout))
                    if self._mode == "reset-after-answer":
                        # No close_notify, and an RST instead of a FIN.
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                        conn.close()
                        return
                    break
                conn.sendall(answer.encode(None if close else self._keep_alive_timeout))
                served += 1
                if close:
                    break
        except (ssl.SSLError, OSError):
            pass
        fake_server.close_tls(conn)

    def _read_head(self, conn, data, sni, connection, served):
        """Reads on from DATA until it holds a whole request head. Returns
        (the data, where the head ends), or the answer refusing it, or None
        when the connection ended first."""
        def timeout(data):
            # Between two requests Node waits keepAliveTimeout for the next.
            return fake_server.IO_TIMEOUT if served == 0 or data else self._keep_alive_timeout

        try:
            data, end, error = fake_server.read_head(conn, data, HEADER_LIMIT, timeout)
        except fake_server.HeadTooLarge:
            return self._refuse(data, sni, connection, 431)
        if end is not None:
            return data, end
        # A client that checks the server's name only after the handshake
        # (curl does) rejects the certificate here, by closing silently. A
        # kept-alive connection may end between two requests.
        if served == 0 or data:
            self._log.write("no_request", bytes=len(data), error=error, sni=sni,
                            connection=connection)
        return None

    def _exchange(self, conn, sni, connection, data, served):
        """Reads one request (DATA is what was read of it already) and logs
        it. Returns (answer, whether to close after it, what follows the
        request), or None when the connection ended first."""
        head = self._read_head(conn, data, sni, connection, served)
        if head is None:
            return None
        if isinstance(head, NodeError):
            return head, True, b""
        data, end = head

        head = fake_server.parse_head(data[:end])
        if head is None:
            return self._refuse(data, sni, connection, 400), True, b""
        method, target, version, headers = head

        path, _, query_text = target.partition("?")
        query = fake_server.parse_query(query_text)
        route = PUSH_ROUTE.match(path)
        is_push = route is not None and method in ("GET", "HEAD")
        token = urllib.parse.unquote(route.group(1)) if is_push else None
        head_only = method == "HEAD"

        if is_push:
            if self._status is not None:
                answer = json_response(self._status,
                                       {"ok": False, "msg": f"fake failure {self._status}"},
                                       head_only)
            elif not self._token_exists(token):
                answer = json_response(404, {"ok": False, "msg": NOT_FOUND_MSG}, head_only)
            else:
                answer = json_response(200, {"ok": True}, head_only)
        elif path == "/" and method in ("GET", "HEAD"):
            answer = Answer(302, extra_headers=["Location: /dashboard"], head_only=head_only)
        else:
            answer = express_not_found(method, path, head_only)

        self._log.write("request", method=method, path=path, token=token, query=query,
                        raw_target=target, host=headers.get("host"), sni=sni,
                        kuma=kuma_view(query) if is_push else None,
                        answered=None if self._mode == "hang-response" else answer.status,
                        connection=connection)
        rest = self._drain_body(conn, data[end + 4:], headers)
        if rest is None:
            return answer, True, b""
        return answer, wants_close(version, headers), rest

    def _refuse(self, data, sni, connection, status):
        # Log what can be read of the request line, so a test sees which
        # request was refused.
        first, newline, _ = data.partition(b"\r\n")
        request_line = fake_server.parse_request_line(first) if newline else None
        method, target, _ = request_line if request_line else (None, None, None)
        path = target.partition("?")[0] if target is not None else None
        self._log.write("request", method=method, path=path, token=None, query=None,
                        raw_target=target, host=None, sni=sni, kuma=None,
                        answered=None if self._mode == "hang-response" else status,
                        connection=connection)
        return NodeError(status)

    @staticmethod
    def _drain_body(conn, already, headers):
        """Reads the request's body (Content-Length only); returns what
        follows it, or None when the connection cannot serve another request
        (a body too large or ended early, or a length that is not one)."""
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            return None
        if length < 0:
            return None
        wanted = min(length, BODY_LIMIT)
        while len(already) < wanted:
            chunk = conn.recv(min(wanted - len(already), 65536))
            if not chunk:
                return None
            already += chunk
        return already[length:] if length <= BODY_LIMIT else None


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Fake Uptime Kuma push endpoint over TLS.")
    fake_server.server_arguments(parser)
    parser.add_argument("--tokens",
                        help="comma-separated push tokens that exist; without it every "
                             "token exists, with an empty list none does")
    parser.add_argument("--tokens-file",
                        help="a file of push tokens that exist, one per line, read again at "
                             "every push (monitors created while the server runs)")
    parser.add_argument("--mode",
                        choices=["normal", "hang-accept", "hang-response", "close-after-answer",
                                 "reset-after-answer"],
                        default="normal")
    parser.add_argument("--keep-alive-timeout", type=float, default=KEEP_ALIVE_TIMEOUT,
                        metavar="SECONDS",
                        help="how long an idle connection is kept for the next request")
    parser.add_argument("--status", type=int,
                        help="answer every push with this status and an error body")
    args = parser.parse_args(argv)
    fake_server.check_server_arguments(parser, args)
    if not args.keep_alive_timeout > 0:
        parser.error("--keep-alive-timeout must be positive")
    if args.status is not None and not 100 <= args.status <= 599:
        parser.error("--status must be 100..599")
    return args


if __name__ == "__main__":
    fake_server.exit_now(fake_server.run("fake_kuma", sys.argv[1:], parse_args, FakeKuma))
