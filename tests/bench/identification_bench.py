#!/usr/bin/python3
"""How often the hook names the right job for a run, over a mixed set of runs.

Each run of the set goes through the real hook (wrapper, pbk-vzdump-sim,
the emulated Kuma on 127.0.0.1) twice:
  - "options": the task log is where paths.tasks_dir says, so the run's
    options ("starting new backup job: vzdump …") are compared with the jobs;
  - "fallback": paths.tasks_dir is an empty folder, so the hook can only
    infer from storage, node and guests (PVE's guest list is not reachable
    here, as when the API is down).
A run counts as identified exactly when its run record names the job that
really ran and the push went to that job's monitor, or, for a run of no job
(a guest's "Backup now", a `vzdump` on the command line), when nothing was
pushed and job-end exited 0.
The "old" column is the fallback run graded as the hook before task logs
were read behaved on the same path: where the fallback now notes "not a
backup job" (no cached job fits) or reports several fitting jobs without
failing the task, that hook failed job-end ("cannot tell which backup
job"), so such a run does not count there.

The job list: a daily job on pbs1 (guests 100,101), a disabled legacy
vzdump.cron job on the same storage and guests, an all-guests job on nfs,
and a weekly job on local (guest 110).

usage: identification_bench.py BIN_DIR [--csv FILE]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile

from benchlib import report, start_fake_kuma

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENS = {"backup-daily": "bEnChDaIlY0001", "backup-all": "bEnChAlL000002",
          "backup-weekly": "bEnChWeEkLy003", "0a1b2c3d4e:1": "bEnChLeGaCy004"}

JOBS = [
    {"id": "0a1b2c3d4e:1", "vmid": "100,101", "storage": "pbs1", "mode": "snapshot", "quiet": 1,
     "enabled": "", "starttime": "01:00", "dow": "sat", "schedule": "sat 01:00"},
    {"id": "backup-daily", "type": "vzdump", "schedule": "21:00", "enabled": 1,
     "vmid": "100,101", "storage": "pbs1", "mode": "snapshot", "compress": "zstd",
     "prune-backups": {"keep-daily": "7", "keep-weekly": 4}},
    {"id": "backup-all", "type": "vzdump", "schedule": "sun 03:00", "enabled": 1, "all": 1,
     "exclude": "105", "storage": "nfs", "mode": "snapshot"},
    {"id": "backup-weekly", "type": "vzdump", "schedule": "sat 02:00", "enabled": 1,
     "vmid": "110", "storage": "local", "mode": "stop", "comment": "db"},
]


def job(job_id):
    return next(j for j in JOBS if j["id"] == job_id)


def run_now(job_id):
    """What "Run now" posts: the job minus what Backup.js deletes, all explicit."""
    options = {k: v for k, v in job(job_id).items()
               if k not in ("enabled", "starttime", "dow", "id", "schedule", "type", "node",
                            "comment", "next-run", "repeat-missed")}
    options["all"] = options.get("all", 0)
    options["node"] = "pve1"
    return options


def guests(vmids):
    return [{"vmid": v, "type": "qemu", "name": "vm%d" % v, "run": "snapshot"} for v in vmids]


# (what ran, the true job or None, scheduled?, storage, guests, the run's options)
RUNS = [
    ("scheduled daily", "backup-daily", True, "pbs1", [100, 101], job("backup-daily")),
    ("scheduled all", "backup-all", True, "nfs", [100, 101, 102], job("backup-all")),
    ("scheduled weekly", "backup-weekly", True, "local", [110], job("backup-weekly")),
    ("Run now daily", "backup-daily", False, "pbs1", [100, 101], run_now("backup-daily")),
    ("Run now all", "backup-all", False, "nfs", [100, 101, 102], run_now("backup-all")),
    ("Run now weekly", "backup-weekly", False, "local", [110], run_now("backup-weekly")),
    ("legacy cron", "0a1b2c3d4e:1", False, "pbs1", [100, 101],
     {"vmid": "100,101", "storage": "pbs1", "mode": "snapshot", "quiet": 1}),
    ("Backup now 100 to pbs1", None, False, "pbs1", [100],
     {"vmid": "100", "storage": "pbs1", "mode": "snapshot", "node": "pve1", "remove": 0,
      "notes-template": "{{guestname}}", "notification-mode": "auto"}),
    ("Backup now 102 to nfs", None, False, "nfs", [102],
     {"vmid": "102", "storage": "nfs", "mode": "snapshot", "node": "pve1", "remove": 0,
      "notes-template": "{{guestname}}", "notification-mode": "auto"}),
    ("CLI vzdump 100 101 stop to pbs1", None, False, "pbs1", [100, 101],
     {"vmid": "100,101", "storage": "pbs1", "mode": "stop"}),
    ("CLI vzdump 110 to local", None, False, "local", [110],
     {"vmid": "110", "storage": "local", "mode": "stop", "node": "pve1"}),
    ("Backup now 101 to local", None, False, "local", [101],
     {"vmid": "101", "storage": "local", "mode": "snapshot", "node": "pve1", "remove": 0}),
]


def pushes(work):
    path = os.path.join(work, "kuma.log")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        events = [json.loads(line) for line in f if line.strip()]
    return [e for e in events if e.get("event") == "request"]


def one_run(bin_dir, work, wrapper, tasks_dir, run, n):
    name, truth, scheduled, storage, vmids, options = run
    state = os.path.join(work, "state")
    jobs_dir = os.path.join(work, "jobs")
    for path in (state, jobs_dir, tasks_dir):
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
    with open(os.path.join(state, "jobs.json"), "w") as f:
        json.dump({"format": 1, "written": 0, "source": "rest", "node": "pve1", "jobs": JOBS}, f)
    scenario = {"storage": storage, "guests": guests(vmids), "options": options}
    if scheduled:
        scenario["job_id"] = truth
        scenario["job_config"] = job(truth)
    scenario_path = os.path.join(work, "scenario-%d.json" % n)
    with open(scenario_path, "w") as f:
        json.dump(scenario, f)
    summary_path = os.path.join(work, "summary-%d.json" % n)
    before = len(pushes(work))
    # The task log always exists; the hook looks for it where the config says.
    subprocess.run([os.path.join(bin_dir, "pbk-vzdump-sim"), "--hook", wrapper, "--scenario",
                    scenario_path, "--summary", summary_path, "--scheduler-dir", jobs_dir,
                    "--tasks-dir", os.path.join(work, "tasks")],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(summary_path) as f:
        calls = json.load(f)["calls"]
    end = next(c for c in calls if c["phase"] == "job-end")
    new = pushes(work)[before:]
    runs = os.listdir(os.path.join(state, "runs"))
    with open(os.path.join(state, "runs", runs[0])) as f:
        record = json.load(f)
    pushed_to = [p["path"].rsplit("/", 1)[-1] for p in new]
    if truth is None:
        ok = not pushed_to and end["exit"] == 0
        return ok, ok and record.get("push", {}).get("state") not in ("not-a-job", "unattributed")
    ok = record.get("job_id") == truth and pushed_to == [TOKENS[truth]]
    return ok, ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--csv", default="identification-bench.csv")
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    work = tempfile.mkdtemp(prefix="pbk-bench.")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(bin_dir, "pbk-test-certs"), certs], check=True,
                   stdout=subprocess.DEVNULL)
    kuma, port = start_fake_kuma(work, certs, TOKENS.values())
    try:
        rows = []
        totals = {"options": 0, "fallback": 0, "old": 0}
        for mode in ("options", "fallback"):
            config = os.path.join(work, "config-%s.json" % mode)
            with open(config, "w") as f:
                json.dump({"node": "pve1",
                           "kuma": {"url": "https://127.0.0.1:%d" % port,
                                    "ca_file": os.path.join(certs, "ca.pem"),
                                    "timeout_seconds": 5},
                           "jobs": {j: {"push_token": t} for j, t in TOKENS.items()},
                           "paths": {"state_dir": os.path.join(work, "state"),
                                     "scheduler_dir": os.path.join(work, "jobs"),
                                     "tasks_dir": os.path.join(
                                         work, "tasks" if mode == "options" else "no-tasks")}},
                          f)
            os.chmod(config, 0o600)
            wrapper = os.path.join(work, "hook-%s.sh" % mode)
            template = open(os.path.join(SOURCE, "hook/vzdump-uptime-kuma-hook.sh.in")).read()
            with open(wrapper, "w") as f:
                f.write(template.replace("@PBK_BINARY@", os.path.join(bin_dir, "pbk-agent"))
                        .replace("@PBK_CONFIG@", config))
            os.chmod(wrapper, 0o755)
            for n, run in enumerate(RUNS):
                ok, old_ok = one_run(bin_dir, work, wrapper, os.path.join(work, "tasks"), run, n)
                totals[mode] += ok
                if mode == "options":
                    rows.append([run[0], run[1] or "(no job)", "yes" if ok else "no"])
                else:
                    totals["old"] += old_ok
                    rows[n] += ["yes" if ok else "no", "yes" if old_ok else "no"]
        rows.append(["identified exactly", ""] +
                    ["%d/%d" % (totals[m], len(RUNS)) for m in ("options", "fallback", "old")])
        report(["run", "true job", "options", "fallback", "old"], rows, args.csv, 1)
    finally:
        kuma.terminate()
        kuma.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
