"""Proxmox VE's backup-job semantics on a folder that plays /etc/pve.

fake_pve.py (the REST API, called with API tokens) and fake_pvesh.py (pvesh,
which acts as root@pam) share this module, so both see and change the same
jobs the way PVE would. The folder ROOT holds:

  jobs.cfg        section config; its "vzdump:" sections are backup jobs.
                  Every section is kept; the ones an update does not touch
                  are written back line for line
  vzdump.cron     legacy cron jobs, ids "<sha1 of the file>:<n>"
  resources.json  optional JSON list of guests for /cluster/resources
  no-quorum       while it exists, every write fails as without quorum
  .lock           flock()ed: shared around reads, exclusive around updates

A missing jobs.cfg or vzdump.cron reads as empty. Parameters are checked
against the real API schema (cluster-backup.schema.json).
"""

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
import shlex
import threading
import time

SCHEMA_NAME = "cluster-backup.schema.json"
SCHEMA_PATHS = (
    os.path.join(os.path.dirname(os.path.abspath(__file__)), SCHEMA_NAME),
    os.path.join("/work/shared/reference/pve-api", SCHEMA_NAME),
)

ROOT_USER = "root@pam"
# PVE's own loop order, which decides the key of the error.
ROOT_ONLY = ("tmpdir", "dumpdir", "script", "job-id")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = ",".join(DAY_NAMES)

PARAM_FAILED = "Parameter verification failed."
NOT_IN_SCHEMA = ("property is not defined in schema and the schema does not allow "
                 "additional properties")
NO_SUCH_JOB = "no such vzdump job"
NO_QUORUM = "cfs-lock 'file-jobs_cfg' error: no quorum!"
VERSION = {"version": "9.2.11", "release": "9.2", "repoid": "5d1c6ad51f2e4b6b"}

# Options the job API adds around the vzdump ones; a vzdump.cron line knows
# only the vzdump options (PVE's json_config_properties).
JOB_LEVEL = frozenset(("id", "delete", "dow", "starttime", "enabled", "schedule", "comment",
                       "repeat-missed"))
# vzdump's option_exists() knows job-id too, although the API never takes it.
EXTRA_DELETABLE = frozenset(("comment", "repeat-missed", "job-id"))
# command_line() leaves these out of a vzdump.cron line.
NOT_ON_COMMAND_LINE = frozenset(("id", "vmid", "starttime", "dow", "stdout", "enabled"))

CRON_HEAD = ("# cluster wide vzdump cron schedule\n"
             "# Automatically generated file - do not edit\n\n"
             "PATH=\"/usr/sbin:/usr/bin:/sbin:/bin\"\n\n")
CRON_JOB = re.compile(
    r"(\d+)\s+(\d+)\s+\*\s+\*\s+(\S+)\s+root\s+(/\S+/)?(#)?vzdump(\s+(.*))?\Z", re.ASCII)
CRON_KEPT = re.compile(r"\S+\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S.*)\Z", re.ASCII)
SECTION_HEADER = re.compile(r"(\S+):\s*(\S+)\s*\Z", re.ASCII)
SECTION_PROPERTY = re.compile(r"\s+(\S+)(?:\s+(.*\S))?\s*\Z", re.ASCII)
COMMENT = re.compile(r"\s*#", re.ASCII)
INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
BOOL_TRUE = re.compile(r"(?:1|true|yes|on)", re.ASCII | re.IGNORECASE)
BOOL_FALSE = re.compile(r"(?:0|false|no|off)", re.ASCII | re.IGNORECASE)
# String::ShellQuote, as PVE::Tools::shellquote uses it.
SHELL_UNSAFE = re.compile(r"[^\w!%+,\-./:=@^]", re.ASCII)
VMID = re.compile(r"[1-9][0-9]{2,8}", re.ASCII)
STORAGE_ID = re.compile(r"[a-z][a-z0-9\-_.]*[a-z0-9]", re.ASCII | re.IGNORECASE)
NODE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?", re.ASCII | re.IGNORECASE)
CONFIG_ID = re.compile(r"[a-z][a-z0-9_\-]+", re.ASCII | re.IGNORECASE)
START_TIME = re.compile(r"(\d{1,2}):(\d{1,2})", re.ASCII)


class PveError(Exception):
    """A failure as PVE reports it: HTTP status, message, per-parameter errors."""

    def __init__(self, status, message, errors=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def param_error(errors):
    return PveError(400, PARAM_FAILED, errors)


def find_schema(path=None):
    if path is not None:
        return path
    for candidate in SCHEMA_PATHS:
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"{SCHEMA_NAME} not found in " + ", ".join(SCHEMA_PATHS))


class Schema:
    """The parts of PVE's API description that the fakes enforce."""

    def __init__(self, path=None):
        self.path = find_schema(path)
        with open(self.path, encoding="utf-8") as f:
            entries = json.load(f)
        self._methods = {}
        for entry in entries:
            for method, info in entry["info"].items():
                self._methods[(entry["path"], method)] = info
        self.put_props = self.params("/cluster/backup/{id}", "PUT")
        self.job_props = self.method("/cluster/backup", "GET")["returns"]["items"]["properties"]
        # A parameter takes these as "k=v,..." strings; answers carry objects.
        self.property_strings = {name: prop.get("properties", {})
                                 for name, prop in self.job_props.items()
                                 if prop.get("type") == "object"}
        self.vzdump_props = {name: prop for name, prop in self.put_props.items()
                             if name not in JOB_LEVEL}
        self.deletable = frozenset(self.vzdump_props) | EXTRA_DELETABLE

    def method(self, path, method):
        return self._methods.get((path, method))

    def params(self, path, method):
        info = self.method(path, method)
        return info.get("parameters", {}).get("properties", {}) if info else {}

    def privilege(self, path, method):
        """The privilege on / that the method needs, or None when any user may call it."""
        info = self.method(path, method) or {}
        check = info.get("permissions", {}).get("check")
        if check and check[0] == "perm" and check[1] == "/":
            return check[2][0]
        return None

    def check_params(self, path, method, params):
        """Verifies parameters as PVE's RESTHandler does; returns them typed.

        Raises a 400 PveError listing every bad parameter."""
        return self.check_params_with(self.params(path, method), params)

    def check_params_with(self, props, params):
        """check_params against the properties PROPS."""
        errors = {}
        clean = {}
        for name, value in params.items():
            prop = props.get(name)
            if prop is None:
                errors[name] = NOT_IN_SCHEMA
                continue
            try:
                clean[name] = self.check_value(name, prop, value)
            except ValueError as e:
                errors[name] = str(e)
        for name, prop in props.items():
            if not prop.get("optional") and name not in params and name not in errors:
                errors[name] = "property is missing and it is not optional"
        for name in params:
            required = props.get(name, {}).get("requires")
            if required and required not in params:
                errors[required] = f"missing property - '{name}' requires this property"
        if errors:
            raise param_error(errors)
        return clean

    def check_value(self, name, prop, value):
        ptype = prop.get("type", "string")
        if ptype == "array":
            items = value if isinstance(value, list) else [value]
            texts = [scalar_text(item) for item in items]
            if any(text is None for text in texts):
                raise ValueError("type check ('string') failed")
            return texts
        if isinstance(value, list):
            raise ValueError(f"type check ('{ptype}') failed - got ARRAY")
        text = scalar_text(value)
        if text is None:
            got = "HASH" if isinstance(value, dict) else "undef"
            raise ValueError(f"type check ('{ptype}') failed - got {got}")
        if ptype == "boolean":
            return parse_boolean(text)
        if ptype in ("integer", "number"):
            pattern = INTEGER if ptype == "integer" else NUMBER
            if not pattern.fullmatch(text):
                raise ValueError(f"type check ('{ptype}') failed - got '{text}'")
            number = int(text) if ptype == "integer" else float(text)
            if "minimum" in prop and number < prop["minimum"]:
                raise ValueError(f"value must have a minimum value of {prop['minimum']}")
            if "maximum" in prop and number > prop["maximum"]:
                raise ValueError(f"value must have a maximum value of {prop['maximum']}")
            return number
        if "enum" in prop and text not in prop["enum"]:
            raise ValueError(f"value '{text}' does not have a value in the enumeration '"
                             + ", ".join(prop["enum"]) + "'")
        if "maxLength" in prop and len(text) > prop["maxLength"]:
            raise ValueError(f"value may only be {prop['maxLength']} characters long")
        if "pattern" in prop and not re.fullmatch(prop["pattern"], text, re.ASCII):
            raise ValueError("value does not match the regex pattern")
        if name in self.property_strings:
            try:
                return parse_property_string(text, self.property_strings[name])
            except ValueError as e:
                raise ValueError(f"invalid format - {e}\n") from None
        fmt = prop.get("format")
        if isinstance(fmt, str):
            try:
                check_format(fmt, text)
            except ValueError as e:
                raise ValueError(f"invalid format - {e}\n") from None
        return text

    def decode_cfg_value(self, key, raw):
        """A jobs.cfg value as PVE's section config parser returns it."""
        prop = self.job_props.get(key)
        if prop is None:
            return raw
        ptype = prop.get("type")
        if ptype == "boolean":
            return parse_boolean(raw)
        if ptype == "integer":
            if not INTEGER.fullmatch(raw):
                raise ValueError(raw)
            return int(raw)
        if ptype == "object":
            return parse_property_string(raw, prop.get("properties", {}))
        return raw


def scalar_text(value):
    """A request value as the Perl scalar PVE would see; None for lists and objects."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


def parse_boolean(text):
    if BOOL_TRUE.fullmatch(text):
        return 1
    if BOOL_FALSE.fullmatch(text):
        return 0
    raise ValueError(f"type check ('boolean') failed - got '{text}'")


def truthy(value):
    """Perl truth: undef, "" and "0" are false."""
    return value is not None and value != "" and value != "0" and value != 0


def split_list(text):
    """PVE::Tools::split_list."""
    text = "" if text is None else str(text)
    if "\0" in text:
        return text.split("\0")
    return re.sub(r"[,;]", " ", text).split()


def check_format(fmt, text):
    if fmt == "pve-vmid-list":
        for vmid in split_list(text):
            if not VMID.fullmatch(vmid):
                raise ValueError("value does not look like a valid VM ID")
    elif fmt == "pve-storage-id":
        if not STORAGE_ID.fullmatch(text):
            raise ValueError(f"storage ID '{text}' contains illegal characters")
    elif fmt == "pve-node":
        if not NODE_NAME.fullmatch(text):
            raise ValueError("value does not look like a valid node name")
    elif fmt in ("pve-configid", "pve-configid-list"):
        for item in split_list(text) if fmt.endswith("-list") else [text]:
            if not CONFIG_ID.fullmatch(item):
                raise ValueError(f"invalid configuration ID '{item}'")
    elif fmt == "pve-day-of-week-list":
        for day in split_list(text):
            if day not in DAY_NAMES:
                raise ValueError(f"invalid day '{day}'")
    # Calendar events and mail addresses are taken as given.


def parse_property_string(text, props):
    """PVE::JSONSchema::parse_property_string; the values stay strings."""
    default_key = next((k for k, p in props.items() if p.get("default_key")), None)
    result = {}
    for part in text.split(","):
        if part == "":
            continue
        key, eq, value = part.partition("=")
        if not eq:
            if default_key is None:
                raise ValueError("value without key, but schema does not define a default key")
            key, value = default_key, part
        if key not in props:
            raise ValueError(f"invalid key in comma-separated list property: {key}")
        if key in result:
            raise ValueError(f"duplicate key in comma-separated list property: {key}")
        ptype = props[key].get("type")
        if ptype == "boolean" and not (BOOL_TRUE.fullmatch(value) or BOOL_FALSE.fullmatch(value)):
            raise ValueError(f"{key}: type check ('boolean') failed - got '{value}'")
        if ptype == "integer" and not INTEGER.fullmatch(value):
            raise ValueError(f"{key}: type check ('integer') failed - got '{value}'")
        result[key] = value
    return result


def print_property_string(values):
    return ",".join(f"{key}={values[key]}" for key in sorted(values))


def parse_dow(text, noerr=False):
    """PVE's parse_dow: a set of day names, or None when noerr and unparsable."""
    numbers = {"1": "mon", "2": "tue", "3": "wed", "4": "thu", "5": "fri", "6": "sat",
               "7": "sun", "0": "sun"}
    if text == "*":
        text = "1,2,3,4,5,6,7"
    days = set()
    for day in split_list(text):
        span = re.fullmatch(r"(mon|tue|wed|thu|fri|sat|sun)-(mon|tue|wed|thu|fri|sat|sun)", day,
                            re.IGNORECASE)
        if span:
            first = DAY_NAMES.index(span.group(1).lower())
            last = DAY_NAMES.index(span.group(2).lower())
            days.update(DAY_NAMES[first:last + 1])
        elif re.fullmatch(r"mon|tue|wed|thu|fri|sat|sun|[0-7]", day, re.IGNORECASE):
            days.add(numbers.get(day, day.lower()))
        elif noerr:
            return None
        else:
            raise ValueError(f"unable to parse day of week '{text}'")
    return days


def dowhash_to_dow(days, numeric=False):
    return ",".join(str(i + 1) if numeric else name
                    for i, name in enumerate(DAY_NAMES) if name in days)


def legacy_schedule(job):
    """The calendar event PVE shows for a vzdump.cron job."""
    starttime = job.get("starttime", "")
    dow = job.get("dow")
    if not dow or dow == ALL_DAYS:
        return starttime
    return f"{dow} {starttime}"


def shellquote(text):
    if text is None or text == "":
        return "''"
    if "\0" in text:
        raise PveError(500, "unable to quote string containing null (\\000) bytes")
    if SHELL_UNSAFE.search(text):
        text = "'" + text.replace("'", "'\\''") + "'"
        text = re.sub(r"^''", "", text)
        text = re.sub(r"''$", "", text)
    return text


def command_line(job):
    """PVE::VZDump::command_line, options in sorted order."""
    cmd = "vzdump"
    if truthy(job.get("vmid")):
        cmd += " " + " ".join(split_list(job["vmid"]))
    for key in sorted(job):
        if key in NOT_ON_COMMAND_LINE:
            continue
        value = job[key]
        if key == "exclude-path":
            paths = value if isinstance(value, list) else split_list(value)
            for path in paths:
                cmd += f" --{key} " + shellquote(path)
            continue
        if isinstance(value, dict):
            value = print_property_string(value)
        elif key == "mailto":
            value = ",".join(split_list(value))
        if value is None:
            continue
        text = str(value)
        if text != "":
            cmd += f" --{key} " + shellquote(text)
    return cmd


class GetoptError(ValueError):
    pass


def get_options(props, args, arg_param=None, unknown_ok=False):
    """Reads "--key value" words the way PVE's get_options (Getopt::Long) does.

    Returns {key: text or list} and the bare words. Booleans take a value only
    when the next word does not look like an option; "-list" formats and
    arrays collect repeats. With unknown_ok, unknown keys and bad booleans are
    kept for the schema check to refuse, as pvesh reports them."""
    names = sorted(props)
    found = {}
    bare = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            bare.extend(args[i:])
            break
        if not looks_like_option(arg):
            bare.append(arg)
            continue
        body = arg[2:] if arg.startswith("--") else arg[1:]
        name, eq, inline = body.partition("=")
        key = resolve_option(name, names)
        if key is None:
            if not unknown_ok:
                raise GetoptError(f"Unknown option: {name}")
            key = name
        prop = props.get(key, {})
        if eq:
            value = inline
        elif prop.get("type") == "boolean":
            if i < len(args) and not looks_like_option(args[i]):
                value = args[i]
                i += 1
            else:
                value = ""
        elif i < len(args):
            value = args[i]
            i += 1
        else:
            raise GetoptError(f"Option {name} requires an argument")
        if prop.get("type") == "array" or str(prop.get("format", "")).endswith("-list"):
            found.setdefault(key, []).append(value)
        else:
            found[key] = value
    for key, value in list(found.items()):
        prop = props.get(key, {})
        if isinstance(value, list) and prop.get("type") != "array":
            found[key] = ",".join(value)
        if prop.get("type") == "boolean":
            if value == "":
                found[key] = "1"
            elif unknown_ok:
                pass
            elif BOOL_TRUE.fullmatch(value):
                found[key] = "1"
            elif BOOL_FALSE.fullmatch(value):
                found[key] = "0"
            else:
                raise GetoptError(f"{key}: Invalid boolean value '{value}'")
    if bare and arg_param is not None:
        words = split_list(found.get(arg_param)) + bare
        found[arg_param] = ",".join(words)
        bare = []
    return found, bare


def looks_like_option(word):
    return len(word) > 1 and word.startswith("-") and word != "--" and not NUMBER.fullmatch(word)


def resolve_option(name, names):
    """Getopt::Long's ignore_case and auto_abbrev."""
    lowered = name.lower()
    for candidate in names:
        if candidate.lower() == lowered:
            return candidate
    matches = [c for c in names if c.lower().startswith(lowered)] if lowered else []
    return matches[0] if len(matches) == 1 else None


def split_args(text):
    """PVE::Tools::split_args (Text::ParseWords::shellwords)."""
    if not text or text == "0":
        return []
    try:
        return shlex.split(text)
    except ValueError:
        return []


class CronConfig:
    def __init__(self, digest, jobs, ejobs):
        self.digest = digest
        self.jobs = jobs
        self.ejobs = ejobs


class Section:
    """One jobs.cfg section. lines is its text as read; None once it changed."""

    def __init__(self, stype, sid, lines=None, props=None, values=None):
        self.type = stype
        self.id = sid
        self.lines = lines
        self.props = props or []
        self.values = values


def parse_jobs_cfg(text):
    sections = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.strip() == "" or COMMENT.match(line):
            continue
        header = SECTION_HEADER.match(line)
        if header is None:
            continue
        section = Section(header.group(1), header.group(2), lines=[line])
        while i < len(lines) and lines[i] != "":
            line = lines[i]
            i += 1
            section.lines.append(line)
            if COMMENT.match(line):
                continue
            prop = SECTION_PROPERTY.match(line)
            if prop:
                section.props.append((prop.group(1), prop.group(2) or ""))
        sections.append(section)
    return sections


def encode_cfg_value(key, value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dict):
        return print_property_string(value)
    text = str(value)
    if "\n" in text:
        raise PveError(500, f"property '{key}' contains a line feed")
    return text


def render_section(section):
    if section.lines is not None:
        return "\n".join(section.lines)
    values = section.values
    lines = [f"{section.type}: {section.id}"]
    keys = sorted(k for k in values if k not in ("id", "type", "schedule"))
    if "schedule" in values:
        keys.insert(0, "schedule")
    for key in keys:
        value = values[key]
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"\t{key} {encode_cfg_value(key, item)}")
    return "\n".join(lines)


def render_jobs_cfg(sections):
    if not sections:
        return ""
    return "\n\n".join(render_section(s) for s in sections) + "\n"


def render_cron(cron):
    out = CRON_HEAD
    for job in cron.jobs:
        enabled = "" if truthy(job.get("enabled")) else "#"
        days = parse_dow(job["dow"])
        if len(days) == 7:
            dow = "*"
        else:
            dow = dowhash_to_dow(days, numeric=True) or "*"
        start = START_TIME.fullmatch(job.get("starttime", ""))
        if start is None:
            raise PveError(500, "unable to parse job start time")
        hour, minute = int(start.group(1)), int(start.group(2))
        cmd = command_line(dict(job, quiet=1))
        out += f"{minute} {hour} * * {dow:<11} root {enabled}{cmd}\n"
    for line in cron.ejobs:
        if line:
            out += line + "\n"
    return out


def calendar_days(spec):
    """The week days of a calendar event's day part ("sat", "mon..fri"), or None."""
    days = set()
    for part in spec.split(","):
        span = re.fullmatch(r"([a-z]{3})(?:\.\.|-)([a-z]{3})", part)
        if span and span.group(1) in DAY_NAMES and span.group(2) in DAY_NAMES:
            first, last = DAY_NAMES.index(span.group(1)), DAY_NAMES.index(span.group(2))
            days.update(DAY_NAMES[first:last + 1])
        elif part in DAY_NAMES:
            days.add(part)
        else:
            return None
    return days


def next_run(schedule, now):
    """A plausible next start: exact for "[days] HH:MM", the next full hour otherwise."""
    match = re.fullmatch(r"(?:(\S+)\s+)?(\d{1,2}):(\d{1,2})", schedule.strip(), re.ASCII)
    if match:
        days = calendar_days(match.group(1)) if match.group(1) else set(DAY_NAMES)
        hour, minute = int(match.group(2)), int(match.group(3))
        if days and hour < 24 and minute < 60:
            start = datetime.datetime.fromtimestamp(now)
            for offset in range(8):
                day = start.date() + datetime.timedelta(days=offset)
                when = datetime.datetime.combine(day, datetime.time(hour, minute))
                if when > start and DAY_NAMES[when.weekday()] in days:
                    return int(when.timestamp())
    return (int(now) // 3600 + 1) * 3600


def json_safe(value):
    """Undecodable bytes from the files become U+FFFD in answers."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    return value


class PveState:
    def __init__(self, root, schema):
        self.root = root
        self.schema = schema

    # --- files -----------------------------------------------------------

    def _path(self, name):
        return os.path.join(self.root, name)

    @contextlib.contextmanager
    def _locked(self, exclusive):
        fd = os.open(self._path(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def _read_bytes(self, name):
        try:
            with open(self._path(name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def _write_atomic(self, name, text):
        path = self._path(name)
        temp = f"{path}.tmp.{os.getpid()}.{threading.get_ident()}"
        with open(temp, "wb") as f:
            f.write(text.encode("utf-8", "surrogateescape"))
        os.replace(temp, path)

    def read_cron(self):
        raw = self._read_bytes("vzdump.cron")
        return self.parse_cron(raw)

    def read_sections(self):
        return parse_jobs_cfg(self._read_bytes("jobs.cfg").decode("utf-8", "surrogateescape"))

    # --- vzdump.cron -------------------------------------------------------

    def parse_cron(self, raw):
        """parse_vzdump_cron_config, line for line."""
        digest = hashlib.sha1(raw).hexdigest()
        text = raw.decode("utf-8", "surrogateescape")
        jobs = []
        ejobs = []
        jid = 1
        rest = text
        while rest and rest != "0":
            line, _, rest = rest.partition("\n")
            if line.startswith("#"):
                continue
            if re.fullmatch(r"\s*", line, re.ASCII):
                continue
            if re.match(r"PATH\s*=", line, re.ASCII):
                continue
            match = CRON_JOB.match(line)
            if match:
                try:
                    days = parse_dow(match.group(3), noerr=True)
                    if days is None:
                        raise ValueError("unable to parse day of week")
                    opts, _ = get_options(self.schema.vzdump_props, split_args(match.group(7)),
                                          arg_param="vmid")
                    opts["enabled"] = match.group(5) is None
                    opts["id"] = f"{digest}:{jid}"
                    jid += 1
                    opts["starttime"] = "%02d:%02d" % (int(match.group(2)), int(match.group(1)))
                    opts["dow"] = dowhash_to_dow(days)
                    for key, props in self.schema.property_strings.items():
                        if key in opts and not isinstance(opts[key], dict):
                            opts[key] = parse_property_string(opts[key], props)
                    jobs.append(opts)
                except ValueError:
                    ejobs.append(line)
            elif CRON_KEPT.match(line):
                ejobs.append(line)
        return CronConfig(digest, jobs, ejobs)

    # --- views -------------------------------------------------------------

    def _cfg_job(self, section):
        job = {}
        for key, raw in section.props:
            if key in ("id", "type"):
                continue
            if self.schema.job_props.get(key, {}).get("type") == "array":
                job.setdefault(key, []).append(raw)
                continue
            if key in job:
                continue
            try:
                job[key] = self.schema.decode_cfg_value(key, raw)
            except ValueError:
                continue  # PVE warns and drops a value it cannot parse
        return job

    @staticmethod
    def _legacy_view(job):
        view = {k: (dict(v) if isinstance(v, dict) else v) for k, v in job.items()}
        view["enabled"] = "1" if job["enabled"] else ""
        view["schedule"] = legacy_schedule(job)
        return view

    def _views(self, with_next_run):
        with self._locked(exclusive=False):
            cron = self.read_cron()
            sections = self.read_sections()
        now = time.time()
        views = [self._legacy_view(job) for job in cron.jobs]
        seen = set()
        for section in sections:
            if section.type != "vzdump" or section.id in seen:
                continue
            seen.add(section.id)
            view = self._cfg_job(section)
            view["id"] = section.id
            view["type"] = "vzdump"
            views.append(view)
        if with_next_run:
            for view in views:
                if view.get("schedule") and truthy(view.get("enabled", 1)):
                    view["next-run"] = next_run(view["schedule"], now)
        return views

    def list_jobs(self):
        """GET /cluster/backup. The answer is kept while the files stay as
        they are (for up to 30 s, for next-run): the benchmarks measure the
        clients, so the emulator should answer about as fast as pveproxy."""
        key = tuple(self._stat_key(name) for name in ("jobs.cfg", "vzdump.cron"))
        cached = getattr(self, "_list_cache", None)
        if cached and cached[0] == key and time.time() - cached[1] < 30:
            return cached[2]
        jobs = json_safe(self._views(with_next_run=True))
        self._list_cache = (key, time.time(), jobs)
        return jobs

    def _stat_key(self, name):
        try:
            st = os.stat(self._path(name))
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def read_job(self, job_id):
        """GET /cluster/backup/{id}."""
        for view in self._views(with_next_run=False):
            if view["id"] == job_id:
                return json_safe(view)
        raise PveError(500, NO_SUCH_JOB)

    def resources(self, rtype=None):
        """GET /cluster/resources, from ROOT/resources.json."""
        raw = self._read_bytes("resources.json")
        if not raw.strip():
            return []
        try:
            entries = json.loads(raw)
        except ValueError as e:
            raise PveError(500, f"resources.json: {e}") from None
        if not isinstance(entries, list):
            raise PveError(500, "resources.json: not a JSON list")
        if rtype is None:
            return entries
        wanted = ("qemu", "lxc") if rtype == "vm" else (rtype,)
        return [e for e in entries if isinstance(e, dict) and e.get("type") in wanted]

    # --- PUT /cluster/backup/{id} ------------------------------------------

    def update_job(self, job_id, raw_params, user):
        params = self.schema.check_params("/cluster/backup/{id}", "PUT",
                                          dict(raw_params, id=job_id))
        del params["id"]
        delete = split_list(params.pop("delete", ""))
        if user != ROOT_USER:
            for key in ROOT_ONLY:
                if key in params or key in delete:
                    raise param_error({key: "Only root may set this option."})
        verify_vzdump_parameters(params)
        with self._locked(exclusive=True):
            if os.path.exists(self._path("no-quorum")):
                raise PveError(500, NO_QUORUM)
            if not params and not delete:
                raise PveError(500, "no options specified")
            cron = self.read_cron()
            sections = self.read_sections()
            legacy = next((j for j in cron.jobs if j["id"] == job_id), None)
            section = None
            if legacy is None:
                section = next((s for s in sections
                                if s.type == "vzdump" and s.id == job_id), None)
                if section is None:
                    raise PveError(500, NO_SUCH_JOB)
                job = self._cfg_job(section)
            else:
                job = {k: v for k, v in legacy.items() if k != "id"}
                job["enabled"] = 1 if legacy["enabled"] else 0
            for key in delete:
                if key not in self.schema.deletable:
                    raise param_error({"delete": f"unknown option '{key}'"})
                job.pop(key, None)
            job.update(params)
            if "exclude" in job and "pool" not in job:
                job["all"] = 1
            if "vmid" in params:
                for key in ("all", "exclude", "pool"):
                    job.pop(key, None)
            elif truthy(params.get("all")):
                job.pop("vmid", None)
                job.pop("pool", None)
            elif truthy(job.get("pool")):
                for key in ("vmid", "all", "exclude"):
                    job.pop(key, None)
            verify_vzdump_parameters(job, check_missing=True)
            if legacy is not None or "starttime" in job or "dow" in job:
                if "schedule" not in params:
                    start = job.get("starttime") or (legacy or {}).get("starttime", "")
                    job["schedule"] = legacy_schedule(
                        {"starttime": start, "dow": job.get("dow", ALL_DAYS)})
                job.pop("starttime", None)
                job.pop("dow", None)
            if legacy is None:
                section.lines = None
                section.values = job
                self._write_atomic("jobs.cfg", render_jobs_cfg(sections))
            else:
                # PVE moves the job into jobs.cfg under its id; rewriting
                # vzdump.cron changes its digest and so the remaining ids.
                sections.append(Section("vzdump", job_id, values=job))
                cron.jobs.remove(legacy)
                self._write_atomic("jobs.cfg", render_jobs_cfg(sections))
                self._write_atomic("vzdump.cron", render_cron(cron))


def verify_vzdump_parameters(job, check_missing=False):
    """PVE::VZDump::verify_vzdump_parameters."""
    if (truthy(job.get("all")) or truthy(job.get("stop"))) and truthy(job.get("vmid")):
        raise param_error({"all": "option conflicts with option 'vmid'"})
    if truthy(job.get("exclude")) and truthy(job.get("vmid")):
        raise param_error({"exclude": "option conflicts with option 'vmid'"})
    if truthy(job.get("pool")) and truthy(job.get("vmid")):
        raise param_error({"pool": "option conflicts with option 'vmid'"})
    if "prune-backups" in job and "maxfiles" in job:
        raise param_error({"prune-backups": "option conflicts with option 'maxfiles'"})
    if check_missing and not (truthy(job.get("all")) or truthy(job.get("stop"))
                              or truthy(job.get("pool")) or truthy(job.get("vmid"))):
        raise param_error({"vmid": "property is missing"})


def read_mode(root, name):
    """A fault-mode file's first word; "normal" when the file is missing or empty."""
    try:
        with open(os.path.join(root, name), encoding="utf-8") as f:
            text = f.read().strip()
    except FileNotFoundError:
        return "normal"
    return text or "normal"


def slow_seconds(mode):
    """The delay of a "slow:<seconds>" mode, None for any other mode."""
    if not mode.startswith("slow:"):
        return None
    try:
        seconds = float(mode[5:])
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
