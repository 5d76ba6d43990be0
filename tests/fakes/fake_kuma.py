#!/usr/bin/python3
"""Fake Uptime Kuma push endpoint over TLS, for black-box tests.

Answers a push the way Uptime Kuma (Express on Node) does:

  GET|HEAD /api/push/<token>?status=up|down&msg=<text>&ping=<ms>
    200 {"ok":true}
    404 {"ok":false,"msg":"Monitor not found or not active."}  unknown token
  POST /api/push/<token>    404, Express's HTML "Cannot POST" page
  GET /                     302 to /dashboard
  anything else             404, Express's HTML "Cannot <METHOD>" page
  header section > 16 KiB   431, as Node's default header limit gives

Every event goes to the --log file as one JSON object per line:

  {"event":"tls_error","error":..., "reason":..., "sni":..., "time":...}
  {"event":"request","method":..., "path":..., "token":..., "query":{...},
   "raw_target":..., "host":..., "sni":..., "kuma":{...}, "time":...,
   "answered":<status or null>}
  {"event":"no_request","bytes":N,"error":...,"sni":...,"time":...}
  {"event":"accepted","time":...}                       (hang-accept only)

"token" is the percent-decoded path segment (what Kuma looks up). "query"
holds percent-decoded values from urllib.parse.parse_qs, a string for a single
value and a list for a repeated key. "raw_target" is the request target
exactly as sent, each byte read as ISO-8859-1. "kuma" is how Kuma would read
the push: {"status":"up"|"down","msg":...,"ping":number|null}; null when the
request is not a push. "sni" is null when the client sent no server name.
"no_request" is a connection that completed TLS and then closed (or failed)
before a whole request head arrived; "bytes" is how much of one did.

Modes: "hang-accept" accepts TCP connections and never starts TLS;
"hang-response" completes TLS, reads and logs the request, and never answers.
Both keep connections open until the process ends. SIGTERM and SIGINT end the
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
import sys
import threading
import urllib.parse

# The tests run this from the source tree, which must stay as it is.
sys.dont_write_bytecode = True
import fake_server  # noqa: E402

# Node's default --max-http-header-size: request line plus header lines.
HEADER_LIMIT = 16 * 1024
# Bodies are read only so that closing the socket does not reset the
# connection before the client has read the answer.
BODY_LIMIT = 1024 * 1024
IO_TIMEOUT = 30.0
CLOSE_TIMEOUT = 1.0
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


def js_string(value):
    # A repeated key reaches Kuma as an array, which JavaScript joins with commas.
    return ",".join(value) if isinstance(value, list) else value


def kuma_view(query):
    status = query.get("status") or "up"
    return {
        "status": "up" if status == "up" else "down",
        "msg": js_string(query.get("msg") or "OK"),
        "ping": js_parse_float(js_string(query.get("ping"))),
    }


def parse_query(text):
    parsed = urllib.parse.parse_qs(text, keep_blank_values=True)
    return {key: values[0] if len(values) == 1 else values for key, values in parsed.items()}


def reason_phrase(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def response(status, body=b"", content_type=None, extra_headers=(), head_only=False):
    lines = [f"HTTP/1.1 {status} {reason_phrase(status)}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines.extend(extra_headers)
    lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return head if head_only else head + body


def json_response(status, payload, head_only):
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return response(status, body, "application/json; charset=utf-8", head_only=head_only)


def express_not_found(method, path, head_only):
    body = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>Error</title>\n</head>\n<body>\n"
            f"<pre>Cannot {html.escape(method)} {html.escape(path)}</pre>\n"
            "</body>\n</html>\n").encode("utf-8")
    return response(404, body, "text/html; charset=utf-8", head_only=head_only)


# Node answers a malformed or oversized head with a bare status and closes.
def node_error(status):
    return f"HTTP/1.1 {status} {reason_phrase(status)}\r\nConnection: close\r\n\r\n".encode("ascii")


class FakeKuma:
    def __init__(self, args, log):
        self._mode = args.mode
        self._status = args.status
        self._tokens = None
        if args.tokens is not None:
            self._tokens = {t for t in args.tokens.split(",") if t}
        self._log = log
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            self._context.load_cert_chain(args.cert, args.key)
        except (OSError, ssl.SSLError) as e:
            raise fake_server.StartupError(f"loading {args.cert} and {args.key}: {e}") from e
        self._context.sni_callback = self._on_sni
        # The callback runs inside do_handshake, on the connection's own thread.
        self._handshake = threading.local()
        # Hung connections must stay referenced, or collecting them would close them.
        self._held = []

    def _on_sni(self, ssl_socket, server_name, context):
        self._handshake.sni = server_name
        return None

    def describe(self):
        return f" (mode {self._mode})"

    def on_connection(self, conn):
        if self._mode == "hang-accept":
            self._held.append(conn)
            self._log.write("accepted")
            return
        fake_server.spawn(self._handle, conn)

    def _handle(self, raw):
        raw.settimeout(IO_TIMEOUT)
        self._handshake.sni = None
        conn = None
        try:
            conn = self._context.wrap_socket(raw, server_side=True,
                                             do_handshake_on_connect=False)
            conn.do_handshake()
        except (ssl.SSLError, OSError) as e:
            self._log.write("tls_error", error=str(e), reason=getattr(e, "reason", None),
                            sni=self._handshake.sni)
            # wrap_socket moves the descriptor into the TLS socket.
            (conn if conn is not None else raw).close()
            return
        sni = self._handshake.sni
        try:
            answer = self._exchange(conn, sni)
            if answer is None:
                return
            if self._mode == "hang-response":
                self._held.append(conn)
                threading.Event().wait()
            conn.sendall(answer)
            conn.settimeout(CLOSE_TIMEOUT)
            conn.unwrap()
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()

    def _exchange(self, conn, sni):
        """Reads one request and logs it; returns the bytes to answer or None."""
        data = b""
        while True:
            end = data.find(b"\r\n\r\n")
            if end >= 0 and end + 4 <= HEADER_LIMIT:
                break
            if end >= 0 or len(data) > HEADER_LIMIT:
                return self._refuse(data, sni, 431)
            # A client that checks the server's name only after the handshake
            # (curl does) rejects the certificate here, by closing silently.
            try:
                chunk = conn.recv(65536)
            except (ssl.SSLError, OSError) as e:
                self._log.write("no_request", bytes=len(data), error=str(e), sni=sni)
                return None
            if not chunk:
                self._log.write("no_request", bytes=len(data), error=None, sni=sni)
                return None
            data += chunk

        lines = data[:end].split(b"\r\n")
        request_line = self._split_request_line(lines[0])
        if request_line is None:
            return self._refuse(data, sni, 400)
        method, target = request_line
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                return self._refuse(data, sni, 400)
            headers.setdefault(name.decode("latin-1").lower(), value.strip().decode("latin-1"))

        path, _, query_text = target.partition("?")
        query = parse_query(query_text)
        route = PUSH_ROUTE.match(path)
        is_push = route is not None and method in ("GET", "HEAD")
        token = urllib.parse.unquote(route.group(1)) if is_push else None
        head_only = method == "HEAD"

        if is_push:
            if self._status is not None:
                status = self._status
                answer = json_response(status, {"ok": False, "msg": f"fake failure {status}"},
                                       head_only)
            elif self._tokens is not None and token not in self._tokens:
                status = 404
                answer = json_response(404, {"ok": False, "msg": NOT_FOUND_MSG}, head_only)
            else:
                status = 200
                answer = json_response(200, {"ok": True}, head_only)
        elif path == "/" and method in ("GET", "HEAD"):
            status = 302
            answer = response(302, extra_headers=["Location: /dashboard"], head_only=head_only)
        else:
            status = 404
            answer = express_not_found(method, path, head_only)

        if self._mode == "hang-response":
            status = None
        self._log.write("request", method=method, path=path, token=token, query=query,
                        raw_target=target, host=headers.get("host"), sni=sni,
                        kuma=kuma_view(query) if is_push else None, answered=status)
        self._drain_body(conn, data[end + 4:], headers)
        return answer

    @staticmethod
    def _split_request_line(line):
        parts = line.split(b" ")
        if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2].startswith(b"HTTP/"):
            return None
        return parts[0].decode("latin-1"), parts[1].decode("latin-1")

    def _refuse(self, data, sni, status):
        # Log what can be read of the request line, so a test sees which
        # request was refused.
        first, newline, _ = data.partition(b"\r\n")
        request_line = self._split_request_line(first) if newline else None
        method, target = request_line if request_line else (None, None)
        path = target.partition("?")[0] if target is not None else None
        self._log.write("request", method=method, path=path, token=None, query=None,
                        raw_target=target, host=None, sni=sni, kuma=None,
                        answered=None if self._mode == "hang-response" else status)
        return node_error(status)

    @staticmethod
    def _drain_body(conn, already, headers):
        try:
            length = min(int(headers.get("content-length", "0")), BODY_LIMIT)
        except ValueError:
            return
        remaining = length - len(already)
        while remaining > 0:
            chunk = conn.recv(min(remaining, 65536))
            if not chunk:
                return
            remaining -= len(chunk)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Fake Uptime Kuma push endpoint over TLS.")
    parser.add_argument("--cert", required=True, help="server certificate (PEM)")
    parser.add_argument("--key", required=True, help="server private key (PEM)")
    parser.add_argument("--port-file", required=True,
                        help="written with the listening port once the server listens")
    parser.add_argument("--log", required=True, help="JSON-lines event log, appended to")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 lets the OS pick")
    parser.add_argument("--tokens",
                        help="comma-separated push tokens that exist; without it every "
                             "token exists, with an empty list none does")
    parser.add_argument("--mode", choices=["normal", "hang-accept", "hang-response"],
                        default="normal")
    parser.add_argument("--status", type=int,
                        help="answer every push with this status and an error body")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0..65535")
    if args.status is not None and not 100 <= args.status <= 599:
        parser.error("--status must be 100..599")
    return args


if __name__ == "__main__":
    fake_server.exit_now(fake_server.run("fake_kuma", sys.argv[1:], parse_args, FakeKuma))
