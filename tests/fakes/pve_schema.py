"""PVE's API schema as the fakes enforce it, and parameters read as PVE reads them.

Schema holds the parts of cluster-backup.schema.json the fakes check;
the value helpers and get_options read request values and "--key value"
words the way PVE::JSONSchema does. PveError is a failure as PVE reports it.
The fakes and pve_state.py import it.
"""

import json
import os
import re
import shlex

SCHEMA_NAME = "cluster-backup.schema.json"
SCHEMA_PATHS = (
    os.path.join(os.path.dirname(os.path.abspath(__file__)), SCHEMA_NAME),
    os.path.join("/work/shared/reference/pve-api", SCHEMA_NAME),
)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PARAM_FAILED = "Parameter verification failed."
NOT_IN_SCHEMA = ("property is not defined in schema and the schema does not allow "
                 "additional properties")
# Options the job API adds around the vzdump ones; a vzdump.cron line knows
# only the vzdump options (PVE's json_config_properties).
JOB_LEVEL = frozenset(("id", "delete", "dow", "starttime", "enabled", "schedule", "comment",
                       "repeat-missed"))
# vzdump's option_exists() knows job-id too, although the API never takes it.
EXTRA_DELETABLE = frozenset(("comment", "repeat-missed", "job-id"))
INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
BOOL_TRUE = re.compile(r"(?:1|true|yes|on)", re.ASCII | re.IGNORECASE)
BOOL_FALSE = re.compile(r"(?:0|false|no|off)", re.ASCII | re.IGNORECASE)
VMID = re.compile(r"[1-9][0-9]{2,8}", re.ASCII)
STORAGE_ID = re.compile(r"[a-z][a-z0-9\-_.]*[a-z0-9]", re.ASCII | re.IGNORECASE)
NODE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?", re.ASCII | re.IGNORECASE)
CONFIG_ID = re.compile(r"[a-z][a-z0-9_\-]+", re.ASCII | re.IGNORECASE)


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
