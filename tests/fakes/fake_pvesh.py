#!/usr/bin/python3
"""Fake pvesh, acting as root@pam on a folder ROOT that plays /etc/pve.

  fake_pvesh.py --root ROOT --log LOG [--schema FILE] [--vzdump-conf FILE]
                <pvesh arguments>

Tests install it as pvesh through a wrapper:
  #!/bin/sh
  exec /usr/bin/python3 .../fake_pvesh.py --root ROOT --log LOG "$@"
It depends on no environment variable, as pvesh may run with almost none.

  pvesh get /cluster/backup --output-format json        the jobs, one line
  pvesh get /cluster/backup/<id> --output-format json   one job
  pvesh get /cluster/resources [--type vm] --output-format json
  pvesh get /version --output-format json
  pvesh get /nodes/<node>/vzdump/defaults [--storage ID] --output-format json
  pvesh create /nodes/<node>/vzdump --vmid 100 ...      prints the UPID
  pvesh set /cluster/backup/<id> --key value ... [--delete a,b]
                                                        prints nothing
The node calls answer as fake_pve.py does for root@pam (pve_node.py);
--vzdump-conf moves the file that plays /etc/vzdump.conf as it does there.
JSON output has sorted keys and ends with a newline ("json-pretty" indents;
"text" and "yaml" print indented JSON too). Errors go to stderr with exit
code 255: "no such vzdump job", "400 Parameter verification failed." with a
"<param>: <message>" line per parameter, "cfs-lock 'file-jobs_cfg' error: no
quorum!" while ROOT/no-quorum exists, and "please run as root" for any euid
but 0.

ROOT/pvesh-mode is read on every call (missing = normal):
  normal
  hang            sleep until killed
  fail            exit 2 with "unexpected failure" on stderr
  slow:<seconds>  answer normally after that delay

Every call appends one JSON line to LOG:
  {"argv":[...pvesh arguments...],"exit":<code>,"time":...}
A hung call logs "exit": null when it starts to hang.
"""

import json
import os
import signal
import sys
import time

# The tests run these from the source tree, which must stay as it is.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pve_schema  # noqa: E402
import pve_state  # noqa: E402

COMMANDS = ("get", "set", "create", "delete", "ls", "usage", "help")
OUTPUT_FORMATS = ("text", "json", "json-pretty", "yaml")
# pvesh's own options; everything else is a parameter of the API call.
FORMAT_FLAGS = ("noproxy", "noborder", "noheader", "human-readable", "quiet")
FAKE_OPTIONS = ("--root", "--log", "--schema", "--vzdump-conf")


class CallError(Exception):
    def __init__(self, message, status=255):
        super().__init__(message)
        self.message = message
        self.status = status


def split_fake_options(argv):
    """The fake's own leading options, and pvesh's arguments after them."""
    own = {}
    i = 0
    while i < len(argv) and argv[i] in FAKE_OPTIONS:
        if i + 1 >= len(argv):
            raise CallError(f"fake_pvesh: {argv[i]} needs a value")
        own[argv[i][2:]] = argv[i + 1]
        i += 2
    if "root" not in own or "log" not in own:
        raise CallError("usage: fake_pvesh.py --root ROOT --log LOG [--schema FILE] "
                        "[--vzdump-conf FILE] <pvesh arguments>")
    return own, argv[i:]


def usage(command):
    return f"pvesh {command} <api_path> [OPTIONS] [FORMAT_OPTIONS]"


def param_failure(errors, command):
    lines = ["400 Parameter verification failed."]
    lines += [f"{key}: {str(errors[key]).rstrip()}" for key in sorted(errors)]
    return CallError("\n".join(lines) + "\n\n" + usage(command))


def split_format_options(words):
    """Takes pvesh's format options out of the words."""
    output = "text"
    rest = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        name, eq, inline = word.lstrip("-").partition("=")
        if word.startswith("-") and name == "output-format":
            if eq:
                output = inline
            elif i < len(words):
                output = words[i]
                i += 1
            else:
                raise CallError("Option output-format requires an argument")
        elif word.startswith("-") and name in FORMAT_FLAGS:
            if not eq and i < len(words) and words[i] in ("0", "1"):
                i += 1
        else:
            rest.append(word)
    return output, rest


def render(data, output):
    if data is None:
        return b""
    if output == "json":
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    else:
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=3)
    return (text + "\n").encode("utf-8")


def normalize(path):
    path = "/" + path.strip("/")
    return path


def read_options(props, words, command, arg_param=None):
    """The API call's parameters from pvesh's words, or the error pvesh prints."""
    try:
        found, bare = pve_schema.get_options(props, words, arg_param=arg_param, unknown_ok=True)
    except pve_schema.GetoptError as e:
        raise CallError(f"{e}\n400 unable to parse option\n{usage(command)}") from None
    if bare:
        raise CallError(f"400 too many arguments\n{usage(command)}")
    return found


def call_node(state, schema, command, path, words, vzdump_conf):
    """/nodes/{node}/vzdump/defaults and /nodes/{node}/vzdump, as root@pam."""
    # Imported here: every job call would pay for it, and pvesh's callers time them.
    import pve_node  # pylint: disable=import-outside-toplevel
    node_api = pve_node.Node(state, None, vzdump_conf)
    parts = path.split("/")
    node = parts[2]
    if command == "get" and parts[3:] == ["vzdump", "defaults"]:
        props = {"storage": dict(schema.put_props["storage"], optional=1)}
    elif command == "create" and parts[3:] == ["vzdump"]:
        props = node_api.vzdump_props
    else:
        raise CallError(f"No '{command}' handler defined for '{path}'")
    found = read_options(props, words, command, arg_param="vmid" if command == "create" else None)
    try:
        if command == "create":
            return node_api.check_vzdump(node, found, pve_node.ROOT_CALLER)
        schema.check_params_with(dict(props, node=schema.put_props["node"]),
                                 dict(found, node=node))
        return node_api.defaults(node, pve_node.ROOT_CALLER, found.get("storage"))
    except pve_schema.PveError as e:
        if e.errors:
            raise param_failure(e.errors, command) from None
        raise CallError(e.message.rstrip("\n")) from None


def call(state, schema, command, path, output, words, vzdump_conf=None):
    """Runs one pvesh command; returns the data to print."""
    if output not in OUTPUT_FORMATS:
        raise param_failure({"output-format": f"value '{output}' does not have a value in "
                             "the enumeration '" + ", ".join(OUTPUT_FORMATS) + "'"}, command)
    path = normalize(path)
    if path.startswith("/nodes/") and len(path.split("/")) >= 4:
        return call_node(state, schema, command, path, words, vzdump_conf)
    method = {"get": "GET", "set": "PUT", "create": "POST", "delete": "DELETE"}.get(command)
    parts = path.split("/")
    if path == "/cluster/backup":
        schema_path = path
    elif len(parts) == 4 and parts[1:3] == ["cluster", "backup"]:
        schema_path = "/cluster/backup/{id}"
    elif path in ("/version", "/cluster/resources"):
        schema_path = path
    else:
        schema_path = None
    implemented = {("GET", "/cluster/backup"), ("GET", "/cluster/backup/{id}"),
                   ("PUT", "/cluster/backup/{id}"), ("GET", "/version"),
                   ("GET", "/cluster/resources")}
    if (method, schema_path) not in implemented:
        if method is None:
            raise CallError(f"fake_pvesh: '{command}' is not emulated")
        raise CallError(f"No '{command}' handler defined for '{path}'")

    if schema_path == "/cluster/resources":
        props = {"type": {"type": "string", "optional": 1,
                          "enum": ["vm", "storage", "node", "sdn"]}}
    else:
        props = schema.params(schema_path, method)
    found = read_options(props, words, command)

    try:
        if schema_path == "/cluster/resources":
            unknown = {k: pve_schema.NOT_IN_SCHEMA for k in found if k != "type"}
            rtype = found.get("type")
            if rtype is not None and rtype not in props["type"]["enum"]:
                unknown["type"] = (f"value '{rtype}' does not have a value in the "
                                   "enumeration 'vm, storage, node, sdn'")
            if unknown:
                raise pve_schema.param_error(unknown)
            return state.resources(rtype)
        if method == "PUT":
            state.update_job(parts[3], found, user=pve_state.ROOT_USER)
            return None
        uri = {"id": parts[3]} if schema_path == "/cluster/backup/{id}" else {}
        schema.check_params(schema_path, method, dict(found, **uri))
        if schema_path == "/version":
            return dict(pve_state.VERSION)
        if schema_path == "/cluster/backup":
            return state.list_jobs()
        return state.read_job(parts[3])
    except pve_schema.PveError as e:
        if e.errors:
            raise param_failure(e.errors, command) from None
        raise CallError(e.message.rstrip("\n")) from None


def run(own, args, mode):
    """Returns (exit code, stdout bytes, stderr text)."""
    if mode == "fail":
        return 2, b"", "unexpected failure\n"
    delay = pve_state.slow_seconds(mode)
    if delay is not None:
        time.sleep(delay)
    elif mode != "normal":
        return 2, b"", f"fake_pvesh: unknown pvesh-mode '{mode}'\n"
    if os.geteuid() != 0:
        return 255, b"", "please run as root\n"
    if not args:
        return 255, b"", "ERROR: no command specified\n"
    command = args[0]
    if command not in COMMANDS:
        return 255, b"", f"ERROR: unknown command 'pvesh {command}'\n"
    if len(args) < 2:
        return 255, b"", f"400 not enough arguments\n{usage(command)}\n"
    try:
        schema = pve_schema.Schema(own.get("schema"))
        state = pve_state.PveState(own["root"], schema)
        output, words = split_format_options(args[2:])
        data = call(state, schema, command, args[1], output, words, own.get("vzdump-conf"))
    except CallError as e:
        return e.status, b"", e.message + "\n"
    except (OSError, ValueError, KeyError) as e:
        return 255, b"", f"fake_pvesh: {e}\n"
    return 0, render(data, output), ""


def log_call(path, args, code):
    line = json.dumps({"argv": args, "exit": code, "time": time.time()},
                      ensure_ascii=False, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()


def main(argv):
    try:
        own, args = split_fake_options(argv)
    except CallError as e:
        sys.stderr.write(e.message + "\n")
        return 255
    mode = pve_state.read_mode(own["root"], "pvesh-mode")
    if mode == "hang":
        log_call(own["log"], args, None)
        # Only a signal ends it, which is what the caller has to do.
        while True:
            signal.pause()
    code, out, err = run(own, args, mode)
    log_call(own["log"], args, code)
    if out:
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    if err:
        sys.stderr.write(err)
        sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
