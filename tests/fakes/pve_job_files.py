"""The backup job files of /etc/pve as PVE reads and writes them.

jobs.cfg as a section config (every section kept, untouched ones line for
line), vzdump.cron with its legacy jobs (days of week, their schedule and
vzdump command line), and when a schedule runs next. pve_state.py uses it.
"""

import datetime
import re

from pve_schema import DAY_NAMES, PveError, print_property_string, split_list, truthy

ALL_DAYS = ",".join(DAY_NAMES)
# command_line() leaves these out of a vzdump.cron line.
NOT_ON_COMMAND_LINE = frozenset(("id", "vmid", "starttime", "dow", "stdout", "enabled"))
CRON_HEAD = ("# cluster wide vzdump cron schedule\n"
             "# Automatically generated file - do not edit\n\n"
             "PATH=\"/usr/sbin:/usr/bin:/sbin:/bin\"\n\n")
SECTION_HEADER = re.compile(r"(\S+):\s*(\S+)\s*\Z", re.ASCII)
SECTION_PROPERTY = re.compile(r"\s+(\S+)(?:\s+(.*\S))?\s*\Z", re.ASCII)
COMMENT = re.compile(r"\s*#", re.ASCII)
# String::ShellQuote, as PVE::Tools::shellquote uses it.
SHELL_UNSAFE = re.compile(r"[^\w!%+,\-./:=@^]", re.ASCII)
START_TIME = re.compile(r"(\d{1,2}):(\d{1,2})", re.ASCII)


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
