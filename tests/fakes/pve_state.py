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
import fcntl
import hashlib
import json
import os
import re
import threading
import time

from pve_job_files import (
    ALL_DAYS, CronConfig, Section, dowhash_to_dow, json_safe, legacy_schedule, next_run,
    parse_dow, parse_jobs_cfg, render_cron, render_jobs_cfg)
from pve_schema import (
    PveError, get_options, param_error, parse_property_string, split_args, split_list, truthy)

ROOT_USER = "root@pam"
# PVE's own loop order, which decides the key of the error.
ROOT_ONLY = ("tmpdir", "dumpdir", "script", "job-id")
NO_SUCH_JOB = "no such vzdump job"
NO_QUORUM = "cfs-lock 'file-jobs_cfg' error: no quorum!"
VERSION = {"version": "9.2.11", "release": "9.2", "repoid": "5d1c6ad51f2e4b6b"}
CRON_JOB = re.compile(
    r"(\d+)\s+(\d+)\s+\*\s+\*\s+(\S+)\s+root\s+(/\S+/)?(#)?vzdump(\s+(.*))?\Z", re.ASCII)
CRON_KEPT = re.compile(r"\S+\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S.*)\Z", re.ASCII)


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
