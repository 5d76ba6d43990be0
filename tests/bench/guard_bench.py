#!/usr/bin/python3
"""Benchmarks of the guard against what an admin would otherwise write.

Starts the emulated PVE API on 127.0.0.1 (HTTPS, certificates made here)
with N backup jobs and measures, in one run, interleaved:
  - `pbk-agent guard` with nothing to change, reading through REST with the
    read-only token: wall time, peak RSS, API requests and pvesh calls;
  - a short Python script using proxmoxer (Debian's python3-proxmoxer) that
    does the same read and comparison, as the baseline;
and, for k drifted jobs out of N, how many pvesh calls the guard makes;
and `pbk-agent jobs` (schedules over a year, placement of every guest) for
1000 jobs and 5000 guests.
Prints a table (median and p10..p90) and writes a CSV.

With --placement, measures instead the two places of the hook at each of
--placement-sizes jobs: the job placement (every job set through pvesh) and
the node placement (vzdump.conf; a first run on jobs that carry the hook
takes it off each, the migration), the first run and a run with nothing to
do: pvesh calls, API requests, wall time. First runs make one pvesh call per
job; above --migrate-max jobs they are not run.

usage: guard_bench.py BIN_DIR [--runs N] [--sizes 10,100,1000,10000] [--csv FILE]
                      [--placement [--placement-sizes 10,1000,10000] [--migrate-max N]]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import peak_rss, report, summary, timed, wait_for_file

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOOK = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh"
TOKEN_ID = "pbk-agent@pve!guard"
SECRET = "5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"

# The baseline: what an admin writes with proxmoxer to find jobs without the hook.
PROXMOXER_SCRIPT = r'''
import sys
from proxmoxer import ProxmoxAPI
host, port, ca, secret, hook = sys.argv[1:6]
api = ProxmoxAPI(host, port=int(port), user="pbk-agent@pve", token_name="guard",
                 token_value=secret, verify_ssl=ca, timeout=30)
drift = [job["id"] for job in api.cluster.backup.get() if job.get("script") != hook]
print(len(drift))
sys.exit(1 if drift else 0)
'''


def write_jobs(root, count, drifted=0, legacy=0):
    """COUNT jobs in jobs.cfg (the last DRIFTED of them without the hook) and
    LEGACY drifted legacy jobs in vzdump.cron."""
    sections = []
    for i in range(count):
        lines = ["vzdump: backup-%08x-%04x" % (i, i % 65536), "\tschedule 21:00", "\tall 1",
                 "\tmode snapshot", "\tstorage pbs%d" % (i % 7)]
        if i < count - drifted:
            lines.append("\tscript " + HOOK)
        sections.append("\n".join(lines) + "\n")
    with open(os.path.join(root, "jobs.cfg"), "w") as f:
        f.write("\n".join(sections))
    cron = ["# cluster wide vzdump cron schedule", "# Automatically generated file - do not edit",
            "", 'PATH="/usr/sbin:/usr/bin:/sbin:/bin"', ""]
    for i in range(legacy):
        cron.append("%d 1 * * 6           root vzdump %d --mode snapshot --storage local --quiet 1"
                    % (i, 100 + i))
    with open(os.path.join(root, "vzdump.cron"), "w") as f:
        f.write("\n".join(cron) + "\n")


# Schedules of every kind the jobs command computes a year of runs for.
SCHEDULES = ["21:00", "mon..fri 21:00", "sat 02:30", "sun 04:00", "*/30", "8..20/4:00",
             "monthly", "mon,wed,fri 01:15", "hourly", "weekly"]


def write_cluster(root, jobs, guests, nodes=5):
    """JOBS jobs of every kind (all, all with exclude, vmid lists, pools, node
    restricted, with SCHEDULES) and GUESTS guests spread over NODES nodes."""
    sections = []
    for i in range(jobs):
        lines = ["vzdump: backup-%08x-%04x" % (i, i % 65536),
                 "\tschedule " + SCHEDULES[i % len(SCHEDULES)], "\tscript " + HOOK]
        kind = i % 4
        if kind == 0:
            lines.append("\tall 1")
        elif kind == 1:
            lines += ["\tall 1", "\texclude %d,%d" % (100 + i % guests, 101 + i % guests)]
        elif kind == 2:
            lines.append("\tvmid " + ",".join(str(100 + (i * 5 + k) % guests) for k in range(5)))
        else:
            lines.append("\tpool pool%d" % (i % 20))
        if i % 3 == 0:
            lines.append("\tnode pve%d" % (1 + i % nodes))
        sections.append("\n".join(lines) + "\n")
    with open(os.path.join(root, "jobs.cfg"), "w") as f:
        f.write("\n".join(sections))
    with open(os.path.join(root, "vzdump.cron"), "w") as f:
        f.write("# cluster wide vzdump cron schedule\n")
    resources = [{"id": "qemu/%d" % (100 + g), "type": "qemu", "vmid": 100 + g,
                  "node": "pve%d" % (1 + g % nodes), "name": "vm%d" % (100 + g),
                  "pool": "pool%d" % (g % 20), "status": "running", "template": 0}
                 for g in range(guests)]
    with open(os.path.join(root, "resources.json"), "w") as f:
        json.dump(resources, f)


def count_lines(path, needle=None):
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for line in f if needle is None or needle in line)


def count_requests(path):
    """REST requests in the fake's log."""
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for line in f if json.loads(line).get("event") == "request")








def write_plain_jobs(root, count, with_hook):
    sections = []
    for i in range(count):
        lines = ["vzdump: backup-%08x-%04x" % (i, i % 65536), "\tschedule 21:00", "\tall 1",
                 "\tmode snapshot", "\tstorage pbs%d" % (i % 7)]
        if with_hook:
            lines.append("\tscript " + HOOK)
        sections.append("\n".join(lines) + "\n")
    with open(os.path.join(root, "jobs.cfg"), "w") as f:
        f.write("\n".join(sections))
    with open(os.path.join(root, "vzdump.cron"), "w") as f:
        f.write("# cluster wide vzdump cron schedule\n")


def placement_rows(agent, work, root, base_config, pve_log, pvesh_log, sizes, migrate_max, runs):
    """First run and no-op run of the guard per placement and size."""
    rows = []
    conf = os.path.join(work, "vzdump.conf")
    for placement in ("job", "node"):
        config = os.path.join(work, "config-%s.json" % placement)
        document = json.loads(json.dumps(base_config))
        document["guard"] = {"placement": placement}
        with open(config, "w") as f:
            json.dump(document, f)
        os.chmod(config, 0o600)
        guard = [agent, "--config", config, "guard"]
        for size in sizes:
            # Job placement starts from jobs without the hook (a new install);
            # node placement from jobs that carry it (the migration).
            write_plain_jobs(root, size, with_hook=placement == "node")
            if os.path.exists(conf):
                os.remove(conf)
            steps = [("first run", size <= migrate_max), ("no-op run", True)]
            for step, run_it in steps:
                if not run_it:
                    # The no-op state, made directly: what the first run would leave.
                    write_plain_jobs(root, size, with_hook=placement == "job")
                    with open(conf, "w") as f:
                        f.write("script: %s\n" % HOOK if placement == "node" else "")
                    rows.append(["guard, placement %s, %d jobs, %s" % (placement, size, step),
                                 "not run", "-", "-", "-", "-", "-", "-", "-",
                                 "%d pvesh calls expected (one per job)" % size])
                    continue
                walls = []
                repeat = runs if step == "no-op run" else 1
                requests_before = count_requests(pve_log)
                pvesh_before = count_lines(pvesh_log)
                for _ in range(repeat):
                    wall, code, err = timed(guard)
                    if code != 0:
                        raise SystemExit("guard (%s, %d jobs, %s) failed: %s"
                                         % (placement, size, step, err))
                    walls.append(wall)
                requests = (count_requests(pve_log) - requests_before) / repeat
                calls = (count_lines(pvesh_log) - pvesh_before) / repeat
                o = summary(walls)
                rows.append(["guard, placement %s, %d jobs, %s" % (placement, size, step),
                             "%.1f" % o[0], "%.1f..%.1f" % o[1:], "-", "-", "-", "-",
                             peak_rss(guard) if step == "no-op run" else "-", "-",
                             "%g API requests, %g pvesh calls" % (requests, calls)])
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--csv", default="guard-bench.csv")
    parser.add_argument("--placement", action="store_true")
    parser.add_argument("--placement-sizes", default="10,1000,10000")
    parser.add_argument("--migrate-max", type=int, default=1000)
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    agent = os.path.join(bin_dir, "pbk-agent")

    work = tempfile.mkdtemp(prefix="pbk-guard-bench.")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(bin_dir, "pbk-test-certs"), certs], check=True,
                   stdout=subprocess.DEVNULL)
    root = os.path.join(work, "pve")
    os.makedirs(root)
    with open(os.path.join(work, "tokens.json"), "w") as f:
        json.dump({TOKEN_ID: {"secret": SECRET, "privs": ["Sys.Audit"]}}, f)
    secret_file = os.path.join(work, "pve-token")
    with open(secret_file, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(secret_file, 0o600)
    pve_log = os.path.join(work, "pve.log")
    pvesh_log = os.path.join(work, "pvesh.log")
    pvesh = os.path.join(work, "pvesh")
    with open(pvesh, "w") as f:
        f.write('#!/bin/sh\nexec /usr/bin/python3 %s --root %s --log %s "$@"\n'
                % (os.path.join(SOURCE, "tests/fakes/fake_pvesh.py"), root, pvesh_log))
    os.chmod(pvesh, 0o755)
    write_jobs(root, 1)
    server = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(SOURCE, "tests/fakes/fake_pve.py"), "--root", root,
         "--cert", os.path.join(certs, "pve.pem"), "--key", os.path.join(certs, "pve.key"),
         "--port-file", os.path.join(work, "pve.port"), "--log", pve_log,
         "--tokens", os.path.join(work, "tokens.json"),
         "--vzdump-conf", os.path.join(work, "vzdump.conf")], stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_for_file(os.path.join(work, "pve.port"))
        port = int(open(os.path.join(work, "pve.port")).read())
        config = os.path.join(work, "config.json")
        with open(config, "w") as f:
            json.dump({"node": "pve1", "kuma": {"url": "https://127.0.0.1:9"},
                       "pve": {"api_url": "https://127.0.0.1:%d" % port,
                               "ca_file": os.path.join(certs, "ca.pem"), "token_id": TOKEN_ID,
                               "token_secret_file": secret_file, "pvesh": pvesh},
                       # The job placement: every job carries the hook.
                       "guard": {"placement": "job"},
                       "paths": {"hook_script": HOOK, "state_dir": os.path.join(work, "state"),
                                 "jobs_cfg": os.path.join(root, "jobs.cfg"),
                                 "vzdump_cron": os.path.join(root, "vzdump.cron"),
                                 "vzdump_conf": os.path.join(work, "vzdump.conf"),
                                 "pve_dir": root}}, f)
        os.chmod(config, 0o600)
        if args.placement:
            with open(config) as f:
                base_config = json.load(f)
            rows = placement_rows(agent, work, root, base_config, pve_log, pvesh_log,
                                  [int(n) for n in args.placement_sizes.split(",")],
                                  args.migrate_max, args.runs)
            return finish(rows, args, work)
        baseline_script = os.path.join(work, "proxmoxer_check.py")
        with open(baseline_script, "w") as f:
            f.write(PROXMOXER_SCRIPT)
        guard = [agent, "--config", config, "guard"]
        baseline = ["/usr/bin/python3", baseline_script, "127.0.0.1", str(port),
                    os.path.join(certs, "ca.pem"), SECRET, HOOK]

        medians = {}
        for size in [int(s) for s in args.sizes.split(",")]:
            write_jobs(root, size)
            ours, theirs = [], []
            requests_before = count_requests(pve_log)
            pvesh_before = count_lines(pvesh_log)
            for _ in range(args.runs):
                wall, code, err = timed(guard)
                if code != 0:
                    raise SystemExit("guard failed for %d jobs: %s" % (size, err))
                ours.append(wall)
                wall, code, err = timed(baseline)
                if code != 0:
                    raise SystemExit("the proxmoxer script failed: %s" % err)
                theirs.append(wall)
            requests = (count_requests(pve_log) - requests_before) / args.runs
            # Each round made one guard read and one proxmoxer read.
            guard_requests = requests - 1
            pvesh_calls = (count_lines(pvesh_log) - pvesh_before) / args.runs
            ours_rss, theirs_rss = peak_rss(guard), peak_rss(baseline)
            # The emulated API's own share: one GET with curl, for reference.
            curl = ["/usr/bin/curl", "-fsS", "-o", "/dev/null", "--cacert",
                    os.path.join(certs, "ca.pem"), "-H",
                    "Authorization: PVEAPIToken=%s=%s" % (TOKEN_ID, SECRET),
                    "https://127.0.0.1:%d/api2/json/cluster/backup" % port]
            server_ms = statistics.median(timed(curl)[0] for _ in range(5))
            o, t = summary(ours), summary(theirs)
            medians[size] = (o[0], t[0], server_ms)
            rows.append(["guard, nothing to change, %d jobs (REST)" % size, "%.1f" % o[0],
                         "%.1f..%.1f" % o[1:], "proxmoxer script", "%.1f" % t[0],
                         "%.1f..%.1f" % t[1:], "%.2f" % (o[0] / t[0]), ours_rss, theirs_rss,
                         "%g GET, %g pvesh; curl alone %.1f ms" % (guard_requests, pvesh_calls,
                                                                   server_ms)])

        # How the cost grows: milliseconds per 1000 jobs between sizes, for
        # the guard, the baseline, and the emulated API alone.
        sizes = sorted(medians)
        for low, high in zip(sizes, sizes[1:]):
            per = [(medians[high][i] - medians[low][i]) * 1000.0 / (high - low) for i in range(3)]
            rows.append(["growth %d -> %d jobs, ms per 1000 jobs" % (low, high), "%.1f" % per[0],
                         "-", "proxmoxer script", "%.1f" % per[1], "-", "-", "-", "-",
                         "emulated API alone: %.1f" % per[2]])

        # k drifted jobs (and legacy ones, whose ids move after each change).
        for size, drifted, legacy in ((100, 5, 0), (100, 3, 2)):
            write_jobs(root, size, drifted, legacy)
            before = count_lines(pvesh_log)
            sets_before = count_lines(pvesh_log, '"set"')
            wall, code, err = timed(guard)
            if code != 0:
                raise SystemExit("guard failed with drift: %s" % err)
            calls = count_lines(pvesh_log) - before
            sets = count_lines(pvesh_log, '"set"') - sets_before
            rows.append(["guard, %d of %d drifted (%d legacy)" % (drifted + legacy, size + legacy,
                                                                 legacy),
                         "%.1f" % wall, "-", "-", "-", "-", "-", "-", "-",
                         "%d pvesh set (k=%d), %d pvesh calls in all" % (sets, drifted + legacy,
                                                                       calls)])

        # `jobs`: a year of runs for every schedule, and every job placed.
        jobs_count, guests_count = 1000, 5000
        write_cluster(root, jobs_count, guests_count)
        jobs = [agent, "--config", config, "jobs", "--json"]
        walls = []
        for _ in range(args.runs):
            wall, code, err = timed(jobs)
            if code != 0:
                raise SystemExit("jobs failed: %s" % err)
            walls.append(wall)
        listed = json.loads(subprocess.run(jobs, check=True, capture_output=True).stdout)
        intervals = sum(1 for job in listed["jobs"] if job["kuma"]["interval_seconds"])
        here = sum(1 for job in listed["jobs"] if job["placement"]["runs_here"])
        # The emulated API's share: its two answers fetched with curl.
        fetch = ["/usr/bin/curl", "-fsS", "-o", "/dev/null", "-o", "/dev/null", "--cacert",
                 os.path.join(certs, "ca.pem"), "-H",
                 "Authorization: PVEAPIToken=%s=%s" % (TOKEN_ID, SECRET),
                 "https://127.0.0.1:%d/api2/json/cluster/backup" % port,
                 "https://127.0.0.1:%d/api2/json/cluster/resources?type=vm" % port]
        api_ms = statistics.median(timed(fetch)[0] for _ in range(5))
        o = summary(walls)
        rows.append(["jobs --json, %d jobs, %d guests" % (jobs_count, guests_count),
                     "%.1f" % o[0], "%.1f..%.1f" % o[1:], "-", "-", "-", "-", peak_rss(jobs),
                     "-", "%d run here, %d intervals, %d schedules; curl alone %.1f ms"
                     % (here, intervals, len(SCHEDULES), api_ms)])
    finally:
        server.terminate()
        server.wait()

    return finish(rows, args, work)


def finish(rows, args, work):
    header = ["measure", "ours ms (median)", "ours p10..p90", "baseline", "baseline ms (median)",
              "baseline p10..p90", "ratio", "ours peak RSS KiB", "baseline peak RSS KiB", "calls"]
    report(header, rows, args.csv, args.runs)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
