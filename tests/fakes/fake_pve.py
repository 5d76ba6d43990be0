#!/usr/bin/python3
"""Fake Proxmox VE REST API over TLS (pveproxy), for black-box tests.

Serves the backup-job part of the API from a folder ROOT that plays /etc/pve
(see pve_state.py, and pmxcfs.py for the tree it creates at start: .members,
nodes/<node>/, priv/lock/, and node-etc/vzdump.conf for /etc/vzdump.conf),
checking parameters against the real API schema:

  GET /api2/json/cluster/backup            Sys.Audit   200 {"data":[...]}
  GET /api2/json/cluster/backup/{id}       Sys.Audit   200 {"data":{...}}
  PUT /api2/json/cluster/backup/{id}       Sys.Modify  200 {"data":null}
                                           (form-encoded or JSON body)
  GET /api2/json/version                   any user
  GET /api2/json/cluster/resources[?type=] any user, from ROOT/resources.json;
                                           guests only with VM.Audit on them
  GET /api2/json/nodes/{node}/vzdump/defaults[?storage=]
                                           any user; script, tmpdir, dumpdir,
                                           mailto, ionice only with Sys.Audit
  POST /api2/json/nodes/{node}/vzdump      any user; checked as PVE checks it
                                           (schema, root-only options, option
                                           conflicts, storage privilege), runs
                                           nothing, answers a UPID (or "OK"
                                           when no guest of it is on the node)
                                           and logs a "vzdump" event
  any other /api2/json path                501 "Method 'GET /x' not implemented"
  anything else                            404
{node} is this node (--node, or "nodename" of ROOT/.members) or an online
node of .members (answered from node-etc/<node>/vzdump.conf); an offline
node gives 595, an unknown one 500 "hostname lookup ... failed".

Credentials come from the --tokens file, re-read on every request:
  {"pbk-agent@pve!guard": {"secret": "...", "privs": ["Sys.Audit"]},
   "admin@pve": {"ticket": "...", "csrf": "...", "privs": [...]},
   "root@pam": {"ticket": "..."}}
A key with "!" is an API token ("Authorization: PVEAPIToken=ID=SECRET"); a
key without is a user who logged in ("Cookie: PVEAuthCookie=TICKET"; a
request other than GET also needs the header "CSRFPreventionToken: CSRF",
else 401 "Permission denied - invalid csrf token"). "privs" are privileges
on / (and below). Only the user root@pam, logged in with a ticket, is
root: it has every privilege and may set script, tmpdir, dumpdir and job-id.
A token's user is the token id, never root@pam. VM.Audit on the guests is
granted unless an entry says "vm_audit": false (no guest) or a list of
vmids (those guests): see pve_node.py.

Failures carry the message as the HTTP reason phrase. 401 is answered as
pve-http-server does (PVE/APIServer/AnyEvent.pm `response`, after
--auth-fail-delay seconds): the status line with "No ticket" (no
credentials) or "authentication failure" as reason, NO body, NO
Content-Length, "Connection: close", then the connection is closed. 403 "Permission
check failed (/, Sys.Modify)" {"data":null,"message":...}; 400 "Parameter verification
failed." {"data":null,"errors":{...},"message":...}; 500 {"data":null,
"message":"no such vzdump job\\n"}.

ROOT/api-mode is read on every request (missing = normal):
  normal, 401, 403, 500      answer that way ("internal error" for 500)
  malformed                  serve the request, then answer 200 with a body
                             that is not JSON
  truncated                  serve the request, then answer 200 with a
                             Content-Length larger than what is sent, and close
  hang                       read the request and never answer
  slow:<seconds>             answer normally after that delay
malformed and truncated apply a PUT before breaking the answer, as a reply
lost after the change was made.

Every request goes to the --log file as one JSON object per line:
  {"event":"request","method":...,"path":...,"query":{...},"params":{...},
   "auth":<token id or null>,"status":<int or null>,"mode":...,
   "connection":N,"time":...}
  {"event":"vzdump","node":...,"user":...,"params":{...},"status":<int>,
   "result":<UPID or "OK" or null>,"error":<message or null>,
   "errors":{...} or null,"time":...}        one per POST .../vzdump
  {"event":"connection","connection":N,...} and {"event":"tls_error",...}
  as fake_server.py describes them
"path" is percent-decoded; "params" holds the body parameters; "auth" is the
token or user that authenticated (null when none did); "status" is null for
hang. Secrets, tickets and CSRF tokens are never logged. SIGTERM and SIGINT
end the process at once with status 0, hung connections included.
"""

import argparse
import email.utils
import hmac
import json
import os
import re
import ssl
import sys
import time
import urllib.parse

# The tests run these from the source tree, which must stay as it is.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_server  # noqa: E402
import pmxcfs  # noqa: E402
import pve_node  # noqa: E402
import pve_schema  # noqa: E402
import pve_state  # noqa: E402

HEADER_LIMIT = 64 * 1024
# pveproxy refuses larger request bodies.
BODY_LIMIT = 64 * 1024
API_PREFIX = "/api2/json"
MALFORMED_BODY = b'{"data":[{"id":'
RESOURCE_TYPES = ("vm", "storage", "node", "sdn")
TOKEN_HEADER = re.compile(r"(?:^|\s)PVEAPIToken[= ](\S+)")
AUTH_COOKIE = re.compile(r"(?:^|;)\s*PVEAuthCookie=([^;]*)")
JOB_PATH = re.compile(r"/cluster/backup/([^/]+)")
VZDUMP_PATH = re.compile(r"/nodes/([^/]+)/vzdump")
DEFAULTS_PATH = re.compile(r"/nodes/([^/]+)/vzdump/defaults")
CSRF_FAILED = "Permission denied - invalid csrf token"




class Answer:
    def __init__(self, status, reason, payload):
        self.status = status
        self.reason = reason
        self.payload = payload

    def body(self):
        return json.dumps(self.payload, ensure_ascii=False, sort_keys=True,
                          separators=(",", ":")).encode("utf-8")


def ok(data):
    return Answer(200, "OK", {"data": data})


def failure(error):
    message = error.message.rstrip("\n")
    payload = {"data": None, "message": message + "\n"}
    if error.errors is not None:
        payload["errors"] = error.errors
    return Answer(error.status, message, payload)


def bare(status, reason):
    return Answer(status, reason, {"data": None})


def load_tokens(path):
    with open(path, encoding="utf-8") as f:
        tokens = json.load(f)

    def valid(key, entry):
        secret = "secret" if "!" in key else "ticket"
        return (isinstance(entry, dict) and isinstance(entry.get(secret), str)
                and isinstance(entry.get("privs", []), list)
                and isinstance(entry.get("vm_audit", True), (bool, list)))

    if not isinstance(tokens, dict) or not all(valid(k, v) for k, v in tokens.items()):
        raise ValueError('expected {"USER@REALM!TOKEN": {"secret": "...", "privs": [...]}, '
                         '"USER@REALM": {"ticket": "...", "privs": [...]}}')
    return tokens


class Request:
    def __init__(self, method, target, version, headers, body):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body

    def keep_alive(self):
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


class BadRequest(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class FakePve:
    def __init__(self, args, log):
        self._root = args.root
        self._tokens_path = args.tokens
        self._auth_fail_delay = args.auth_fail_delay
        self._log = log
        try:
            self._tokens = load_tokens(args.tokens)
        except (OSError, ValueError) as e:
            raise fake_server.StartupError(f"reading {args.tokens}: {e}") from e
        try:
            self._schema = pve_schema.Schema(args.schema)
        except (OSError, ValueError, KeyError) as e:
            raise fake_server.StartupError(f"reading the API schema: {e}") from e
        self._state = pve_state.PveState(args.root, self._schema)
        try:
            pmxcfs.init_tree(args.root, args.node, args.vzdump_conf)
        except OSError as e:
            raise fake_server.StartupError(f"preparing {args.root}: {e}") from e
        self._node = pve_node.Node(self._state, args.node, args.vzdump_conf)
        self._context = fake_server.tls_context(args.cert, args.key)
        self._held = fake_server.Holder()

    def describe(self):
        return ""

    def on_connection(self, conn):
        fake_server.spawn(self._handle, conn)

    def _handle(self, raw):
        raw.settimeout(fake_server.IO_TIMEOUT)
        accepted = fake_server.accept_tls(self._context, raw, self._log)
        if accepted is None:
            return
        conn, connection = accepted
        try:
            pending = b""
            while True:
                try:
                    request, pending = self._read_request(conn, pending)
                except BadRequest as e:
                    self._send(conn, bare(e.status, e.reason), keep_alive=False)
                    break
                if request is None:
                    break
                outcome = self._serve(conn, request, connection)
                if outcome == "drop":
                    conn.close()
                    return
                if outcome == "close":
                    break
        except (ssl.SSLError, OSError):
            pass
        fake_server.close_tls(conn)

    @staticmethod
    def _read_request(conn, data):
        """Reads one request; returns it (or None at end of input) and what follows it."""
        try:
            data, end, _ = fake_server.read_head(conn, data, HEADER_LIMIT)
        except fake_server.HeadTooLarge:
            raise BadRequest(431, "Request Header Fields Too Large") from None
        if end is None:
            return None, b""
        head = fake_server.parse_head(data[:end])
        if head is None:
            raise BadRequest(400, "Bad Request")
        method, target, version, headers = head
        data = data[end + 4:]
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise BadRequest(501, "chunked transfer encoding not supported")
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise BadRequest(400, "Bad Request") from None
        if length > BODY_LIMIT:
            raise BadRequest(413, "request too large")
        if length > len(data) and headers.get("expect", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        while len(data) < length:
            try:
                chunk = conn.recv(65536)
            except (ssl.SSLError, OSError):
                return None, b""
            if not chunk:
                return None, b""
            data += chunk
        request = Request(method, target, version, headers, data[:length])
        return request, data[length:]

    def _serve(self, conn, request, connection):
        """Answers one request: "keep" the connection, "close" it, or "drop" it unclosed."""
        mode = pve_state.read_mode(self._root, "api-mode")
        raw_path, _, query_text = request.target.partition("?")
        path = urllib.parse.unquote(raw_path)
        query = fake_server.parse_query(query_text)
        try:
            params = self._body_params(request)
            body_error = None
        except BadRequest as e:
            params = {}
            body_error = e
        caller = self._authenticate(request.headers)
        entry = {"method": request.method, "path": path, "query": query, "params": params,
                 "auth": caller.id if caller else None, "mode": mode, "connection": connection}

        if mode == "hang":
            self._log.write("request", **entry, status=None)
            self._held.hang(conn)
        delay = pve_state.slow_seconds(mode)
        if delay is not None:
            time.sleep(delay)
            mode = "normal"

        if mode == "401":
            self._fail_auth_delay()
            answer = bare(401, "authentication failure")
        elif mode == "403":
            privilege = self._route_privilege(request.method, path) or "Sys.Audit"
            answer = failure(pve_node.permission_denied("/", [privilege]))
        elif mode == "500":
            answer = Answer(500, "internal error", {"data": None, "message": "internal error\n"})
        elif mode in ("normal", "malformed", "truncated"):
            if body_error is not None:
                answer = bare(body_error.status, body_error.reason)
            else:
                answer = self._dispatch(request, path, query, params, caller)
        else:
            answer = Answer(500, f"fake_pve: unknown api-mode '{mode}'", {"data": None})

        if mode in ("malformed", "truncated"):
            self._log.write("request", **entry, status=200)
            if mode == "malformed":
                keep_alive = request.keep_alive()
                self._send(conn, Answer(200, "OK", None), keep_alive, body=MALFORMED_BODY)
                return "keep" if keep_alive else "close"
            body = answer.body()
            head = self._head(200, "OK", len(body) + 64, keep_alive=True)
            conn.sendall(head + body[:len(body) // 2])
            # Closing without a TLS close_notify, as a dropped connection does.
            return "drop"
        self._log.write("request", **entry, status=answer.status)
        if answer.status == 401:
            self._send_status_only(conn, answer)
            return "close"
        keep_alive = request.keep_alive()
        self._send(conn, answer, keep_alive)
        return "keep" if keep_alive else "close"

    @staticmethod
    def _body_params(request):
        if not request.body:
            return {}
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            try:
                params = json.loads(request.body)
            except ValueError:
                raise BadRequest(400, "unable to parse JSON body") from None
            if not isinstance(params, dict):
                raise BadRequest(400, "JSON body is not an object")
            return params
        return fake_server.parse_query(request.body.decode("utf-8", "replace"))

    def _authenticate(self, headers):
        """The caller whose token secret or ticket matches, else None."""
        try:
            self._tokens = load_tokens(self._tokens_path)
        except (OSError, ValueError):
            pass  # keep the last good set while a test rewrites the file
        match = TOKEN_HEADER.search(headers.get("authorization", ""))
        if match is not None:
            token_id, eq, secret = match.group(1).partition("=")
            entry = self._tokens.get(token_id)
            if (not eq or "!" not in token_id or entry is None
                    or not hmac.compare_digest(entry["secret"].encode(), secret.encode())):
                return None
            return pve_node.Caller(token_id, entry)
        cookie = AUTH_COOKIE.search(headers.get("cookie", ""))
        if cookie is None:
            return None
        ticket = urllib.parse.unquote(cookie.group(1)).encode()
        for user, entry in self._tokens.items():
            if "!" not in user and hmac.compare_digest(entry["ticket"].encode(), ticket):
                return pve_node.Caller(user, entry, ticket=True)
        return None

    @staticmethod
    def _csrf_ok(request, caller):
        """A ticket's write needs the CSRF prevention token (a token needs none)."""
        if request.method == "GET" or not caller.ticket:
            return True
        given = request.headers.get("csrfpreventiontoken", "")
        wanted = caller.entry.get("csrf")
        if wanted is None:
            return given != ""
        return hmac.compare_digest(wanted.encode(), given.encode())

    def _fail_auth_delay(self):
        if self._auth_fail_delay > 0:
            time.sleep(self._auth_fail_delay)

    def _route(self, method, path):
        """(schema path, uri parameters) of an implemented route, or None."""
        if not path.startswith(API_PREFIX + "/"):
            return None
        rel = path[len(API_PREFIX):].rstrip("/")
        if rel == "/cluster/backup" and method == "GET":
            return "/cluster/backup", {}
        job = JOB_PATH.fullmatch(rel)
        if job and method in ("GET", "PUT"):
            return "/cluster/backup/{id}", {"id": job.group(1)}
        if rel == "/version" and method == "GET":
            return "/version", {}
        if rel == "/cluster/resources" and method == "GET":
            return "/cluster/resources", {}
        node = DEFAULTS_PATH.fullmatch(rel)
        if node and method == "GET":
            return "/nodes/{node}/vzdump/defaults", {"node": node.group(1)}
        node = VZDUMP_PATH.fullmatch(rel)
        if node and method == "POST":
            return "/nodes/{node}/vzdump", {"node": node.group(1)}
        return None

    def _route_privilege(self, method, path):
        route = self._route(method, path)
        return self._schema.privilege(route[0], method) if route else None

    def _dispatch(self, request, path, query, params, caller):
        method = request.method
        if not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            return bare(404, "Not found")
        credentials = "authorization" in request.headers or "cookie" in request.headers
        if caller is None:
            self._fail_auth_delay()
            return bare(401, "authentication failure" if credentials else "No ticket")
        if not self._csrf_ok(request, caller):
            return bare(401, CSRF_FAILED)
        route = self._route(method, path)
        if route is None:
            rel = path[len(API_PREFIX):] or "/"
            return failure(pve_schema.PveError(501, f"Method '{method} {rel}' not implemented"))
        schema_path, uri_params = route
        privilege = self._schema.privilege(schema_path, method)
        if privilege is not None and not caller.has(privilege, "/"):
            return failure(pve_node.permission_denied("/", [privilege]))
        given = dict(query)
        if method in ("PUT", "POST"):
            given.update(params)
        try:
            return self._call(schema_path, method, uri_params, given, caller)
        except pve_schema.PveError as e:
            return failure(e)

    def _call(self, schema_path, method, uri_params, given, caller):
        state = self._state
        if schema_path == "/cluster/resources":
            rtype = given.pop("type", None)
            if given:
                raise pve_schema.param_error({k: pve_schema.NOT_IN_SCHEMA for k in given})
            if rtype is not None and rtype not in RESOURCE_TYPES:
                raise pve_schema.param_error({"type": f"value '{rtype}' does not have a value "
                                              "in the enumeration 'vm, storage, node, sdn'"})
            return ok(pve_node.visible_resources(state.resources(rtype), caller))
        if schema_path == "/nodes/{node}/vzdump/defaults":
            return ok(self._defaults(uri_params["node"], given, caller))
        if schema_path == "/nodes/{node}/vzdump":
            return self._vzdump(uri_params["node"], given, caller)
        if method == "PUT":
            state.update_job(uri_params["id"], given, user=caller.id)
            return ok(None)
        self._schema.check_params(schema_path, method, dict(given, **uri_params))
        if schema_path == "/version":
            return ok(dict(pve_state.VERSION))
        if schema_path == "/cluster/backup":
            return ok(state.list_jobs())
        return ok(state.read_job(uri_params["id"]))

    def _defaults(self, node, given, caller):
        props = {"node": self._schema.put_props["node"],
                 "storage": dict(self._schema.put_props["storage"], optional=1)}
        param = self._schema.check_params_with(props, dict(given, node=node))
        return self._node.defaults(node, caller, param.get("storage"))

    def _vzdump(self, node, given, caller):
        """POST /nodes/{node}/vzdump, logged as a "vzdump" event either way."""
        record = {"node": node, "user": caller.id, "params": given}
        try:
            result = self._node.check_vzdump(node, given, caller)
        except pve_schema.PveError as e:
            self._log.write("vzdump", **record, status=e.status, result=None,
                            error=e.message, errors=e.errors)
            raise
        self._log.write("vzdump", **record, status=200, result=result, error=None, errors=None)
        return ok(result)

    @staticmethod
    def _head(status, reason, length, keep_alive):
        reason = reason.replace("\r", " ").replace("\n", " ")
        now = email.utils.formatdate(usegmt=True)
        lines = [f"HTTP/1.1 {status} {reason}",
                 "Cache-Control: max-age=0",
                 f"Connection: {'Keep-Alive' if keep_alive else 'close'}",
                 f"Date: {now}",
                 "Pragma: no-cache",
                 "Server: pve-api-daemon/3.0",
                 f"Content-Length: {length}",
                 "Content-Type: application/json;charset=UTF-8",
                 f"Expires: {now}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")

    @staticmethod
    def _send_status_only(conn, answer):
        """A status-only answer: no body, no Content-Length, the connection closed after it."""
        now = email.utils.formatdate(usegmt=True)
        conn.sendall(fake_server.status_only(answer.status, answer.reason, [
            "Cache-Control: max-age=0", "Connection: close", f"Date: {now}",
            "Pragma: no-cache", "Server: pve-api-daemon/3.0", f"Expires: {now}"]))

    def _send(self, conn, answer, keep_alive, body=None):
        if body is None:
            body = answer.body()
        conn.sendall(self._head(answer.status, answer.reason, len(body), keep_alive) + body)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Fake Proxmox VE REST API over TLS.")
    parser.add_argument("--root", required=True, help="folder that plays /etc/pve")
    fake_server.server_arguments(parser)
    parser.add_argument("--tokens", required=True, help="JSON file of API tokens")
    parser.add_argument("--auth-fail-delay", type=float, default=0.0, metavar="SECONDS",
                        help="delay before a 401, as PVE waits about 3 s")
    parser.add_argument("--schema", help="cluster-backup.schema.json (default: searched)")
    parser.add_argument("--node", default=pmxcfs.DEFAULT_NODE,
                        help="this node's name, for the tree it creates (default pve1)")
    parser.add_argument("--vzdump-conf", metavar="FILE",
                        help="the file that plays /etc/vzdump.conf "
                             "(default ROOT/node-etc/vzdump.conf)")
    args = parser.parse_args(argv)
    fake_server.check_server_arguments(parser, args)
    if args.auth_fail_delay < 0:
        parser.error("--auth-fail-delay must not be negative")
    if not os.path.isdir(args.root):
        parser.error(f"--root {args.root} is not a folder")
    return args


if __name__ == "__main__":
    fake_server.exit_now(fake_server.run("fake_pve", sys.argv[1:], parse_args, FakePve))
