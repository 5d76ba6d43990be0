"""What the fake servers share: an event log, a TLS-ready accept loop on
127.0.0.1 that ends at once on SIGTERM or SIGINT, hung connections or not,
and the server side of the TLS handshake, which logs every connection:

  {"event":"connection","connection":N,"peer_port":...,"tls":...,
   "resumed":bool, ...fields of the fake, "time":...}
  {"event":"tls_error","error":...,"reason":..., ...fields of the fake,
   "time":...}

N counts the connections that completed the handshake, from 1, so a test
can tell how many TLS handshakes a client made and which requests shared
one connection (the fakes put N into their "request" events).

Also shared: the command-line options every fake takes (server_arguments),
the TLS context, reading and parsing a request head, query strings,
status-only answers, holding a hung connection, and closing one."""
import itertools
import json
import os
import selectors
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

LISTEN_HOST = "127.0.0.1"
# How long a client may take per read, and the TLS close may take.
IO_TIMEOUT = 30.0
CLOSE_TIMEOUT = 1.0


class Stop(Exception):
    pass


class StartupError(Exception):
    pass


class EventLog:
    """One JSON object per line, flushed per line, so tests can read it live."""

    def __init__(self, path):
        self._file = open(path, "a", buffering=1, encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, event, **fields):
        record = {"event": event, **fields, "time": time.time()}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()


def accept_loop(listener, on_connection):
    """Calls ON_CONNECTION(conn) for each connection, in this thread."""
    # Any thread may receive a signal, and then the main thread's accept()
    # would not return; the wakeup socket turns every signal into a
    # readable event here, after which Python runs the handler.
    wake_read, wake_write = socket.socketpair()
    wake_read.setblocking(False)
    wake_write.setblocking(False)
    signal.set_wakeup_fd(wake_write.fileno(), warn_on_full_buffer=False)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is wake_read:
                try:
                    wake_read.recv(4096)
                except BlockingIOError:
                    pass
                continue
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                continue
            conn.setblocking(True)
            # Node and pveproxy turn Nagle off; without this, the TLS session
            # tickets and the answer meet the client's delayed ACK (40 ms).
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            on_connection(conn)


# next() on a count is atomic in CPython, so connection threads share it.
_connection_numbers = itertools.count(1)


def accept_tls(context, raw, log, fields=dict):
    """Completes the server side of the TLS handshake on RAW, in the
    connection's own thread. Returns (the TLS socket, its connection number),
    or None after logging a "tls_error" (RAW is then closed). FIELDS() gives
    the fake's own fields for both events; it is called after the handshake,
    so it can report what the handshake learnt (the SNI)."""
    conn = None
    try:
        conn = context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        conn.do_handshake()
    except (ssl.SSLError, OSError) as e:
        log.write("tls_error", error=str(e), reason=getattr(e, "reason", None), **fields())
        # wrap_socket moves the descriptor into the TLS socket.
        (conn if conn is not None else raw).close()
        return None
    number = next(_connection_numbers)
    log.write("connection", connection=number, peer_port=_peer_port(conn),
              tls=conn.version(), resumed=conn.session_reused, **fields())
    return conn, number


def _peer_port(conn):
    try:
        return conn.getpeername()[1]
    except OSError:
        return None


def server_arguments(parser):
    """The options every fake takes: --cert --key --port-file --log --port."""
    parser.add_argument("--cert", required=True, help="server certificate (PEM)")
    parser.add_argument("--key", required=True, help="server private key (PEM)")
    parser.add_argument("--port-file", required=True,
                        help="written with the listening port once the server listens")
    parser.add_argument("--log", required=True, help="JSON-lines event log, appended to")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 lets the OS pick")


def check_server_arguments(parser, args):
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0..65535")


def tls_context(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise StartupError(f"loading {cert} and {key}: {e}") from e
    return context


class HeadTooLarge(Exception):
    pass


def read_head(conn, data, limit, timeout=None):
    """Reads on from DATA until it holds a whole request head of at most
    LIMIT bytes. Returns (data, where the head ends, None), or (data, None,
    the error's text or None) when the connection failed or ended first.
    Raises HeadTooLarge. TIMEOUT(data), when given, sets the socket's
    timeout before each read."""
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0 and end + 4 <= limit:
            return data, end, None
        if end >= 0 or len(data) > limit:
            raise HeadTooLarge()
        if timeout is not None:
            conn.settimeout(timeout(data))
        try:
            chunk = conn.recv(65536)
        except (ssl.SSLError, OSError) as e:
            return data, None, str(e)
        if not chunk:
            return data, None, None
        data += chunk


def parse_request_line(line):
    """(method, target, version) of a request line (bytes), or None."""
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2].startswith(b"HTTP/"):
        return None
    return tuple(part.decode("latin-1") for part in parts)


def parse_head(head):
    """(method, target, version, {lower-case name: first value}) of a request
    head without its blank line, or None when it is malformed."""
    lines = head.split(b"\r\n")
    request_line = parse_request_line(lines[0])
    if request_line is None:
        return None
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            return None
        headers.setdefault(name.decode("latin-1").lower(), value.strip().decode("latin-1"))
    return request_line + (headers,)


def parse_query(text):
    """Percent-decoded parameters: a string each, a list for a repeated key."""
    parsed = urllib.parse.parse_qs(text, keep_blank_values=True)
    return {key: values[0] if len(values) == 1 else values for key, values in parsed.items()}


def status_only(status, reason, headers=()):
    """An answer of a status line and headers, no body and no Content-Length."""
    reason = reason.replace("\r", " ").replace("\n", " ")
    lines = [f"HTTP/1.1 {status} {reason}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


class Holder:
    """Keeps hung connections open (collecting them would close them)."""

    def __init__(self):
        self._held = []

    def keep(self, conn):
        self._held.append(conn)

    def hang(self, conn):
        """Never returns: the connection stays open until the process ends."""
        self.keep(conn)
        threading.Event().wait()


def close_tls(conn):
    """Sends the TLS close_notify (briefly) and closes."""
    try:
        conn.settimeout(CLOSE_TIMEOUT)
        conn.unwrap()
    except (ssl.SSLError, OSError):
        pass
    finally:
        conn.close()


def spawn(target, *args):
    threading.Thread(target=target, args=args, daemon=True).start()


def write_port_file(path, port):
    # Tests poll for the file, so it must never be seen half-written.
    temp = path + ".tmp"
    with open(temp, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
    os.replace(temp, path)


def run(name, argv, parse_args, make_server):
    """The whole life of a fake: arguments, log, listener, port file, loop.
    MAKE_SERVER(args, log) returns an object with on_connection(conn) and
    describe(). Returns the exit status."""
    def on_signal(signum, frame):
        raise Stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        args = parse_args(argv)
        log = EventLog(args.log)
        server = make_server(args, log)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LISTEN_HOST, args.port))
        listener.listen(128)
        port = listener.getsockname()[1]
        write_port_file(args.port_file, port)
        print(f"{name}: listening on https://{LISTEN_HOST}:{port}{server.describe()}",
              file=sys.stderr, flush=True)
        accept_loop(listener, server.on_connection)
    except Stop:
        pass
    except (StartupError, OSError) as e:
        print(f"{name}: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


def exit_now(status):
    sys.stderr.flush()
    # Hung connection threads would otherwise hold up interpreter shutdown.
    os._exit(status)
