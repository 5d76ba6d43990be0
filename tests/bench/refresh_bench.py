#!/usr/bin/python3
"""Benchmarks of `pbk-agent refresh` against what an admin would otherwise write.

Starts the emulated PVE API and the emulated Kuma on 127.0.0.1 (HTTPS,
certificates made here) and, for N mapped jobs (each with its own push
token; the emulated PVE serves the N jobs and 2 guests per job), measures in
one run, with the runs of the compared programs interleaved so they share
the machine's noise:
  - `pbk-agent --config FILE refresh`: reads the jobs (REST, read-only token)
    and the guests, judges every mapped job and pushes it, then the node
    monitor: N + 1 pushes;
  - a Python script (Debian's python3-requests) that reads /cluster/backup
    with the same token and pushes each mapped job's state (present and
    enabled: up) through one requests.Session (connection reuse), then one
    push for the node, as the baseline an admin would write;
  - a bash loop doing the same with one `curl --cacert` per push (jobs read
    with one curl), as the other baseline;
  - `refresh --dry-run` (the same reads and judgements, no push), which
    tells what the pushes themselves cost.
Per program and size: wall time (median and p10..p90 of the runs), peak RSS
(GNU time), the pushes the emulated Kuma answered (must be N + 1 every run),
the TLS connections (handshakes) it accepted and the API requests and
connections the emulated PVE served; then the growth per 100 jobs.
The emulated PVE caches its job list while the files stay as they are; it is
fetched once before every timed run so that no program pays for refilling it.
Handshakes are counted from the emulated Kuma's {"event":"connection"} lines
when it writes them, else with `strace -f -e trace=connect` (connect() calls
to Kuma's port). Figures are printed and written as CSV, never asserted.

usage: refresh_bench.py BIN_DIR [--runs N] [--large-runs N] [--sizes 1,100,1000]
                        [--csv FILE]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from benchlib import peak_rss, report, summary, timed, wait_for_file

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOOK = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh"
TOKEN_ID = "pbk-agent@pve!guard"
SECRET = "5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
NODE = "pve1"
NODE_TOKEN = "nodeT0kenBench01"
SCHEDULES = ["21:00", "mon..fri 21:00", "sat 02:30", "sun 04:00", "*/30", "8..20/4:00",
             "monthly", "mon,wed,fri 01:15", "hourly", "weekly"]

# The baselines: what an admin writes to push each job's state to Kuma.
PYTHON_SCRIPT = r'''
import json
import sys
import requests

api, ca, auth, kuma, mapping_file, node_token = sys.argv[1:7]
with open(mapping_file) as f:
    mapping = json.load(f)  # job id -> push token
answer = requests.get(api + "/api2/json/cluster/backup", headers={"Authorization": auth},
                      verify=ca, timeout=30)
answer.raise_for_status()
jobs = {job["id"]: job for job in answer.json()["data"]}
failed = 0
with requests.Session() as session:
    def push(token, status, msg):
        global failed
        r = session.get("%s/api/push/%s" % (kuma, token), params={"status": status, "msg": msg},
                        verify=ca, timeout=10)
        if r.status_code != 200 or not r.json().get("ok"):
            failed += 1

    for job_id, token in mapping.items():
        job = jobs.get(job_id)
        if job is None:
            push(token, "down", "no such job any more")
        elif not int(job.get("enabled", 1)):
            push(token, "down", "disabled")
        else:
            push(token, "up", "schedule %s, next run %s" % (job.get("schedule"),
                                                            job.get("next-run")))
    push(node_token, "up", "%d job(s)" % len(jobs))
sys.exit(1 if failed else 0)
'''

CURL_SCRIPT = r'''#!/bin/bash
# usage: curl-refresh.sh API CA AUTH KUMA MAPPING NODE_TOKEN  (MAPPING: "id token" lines)
set -u
api=$1 ca=$2 auth=$3 kuma=$4 mapping=$5 node_token=$6
list=$(/usr/bin/curl -fsS --max-time 30 --cacert "$ca" -H "Authorization: $auth" \
       "$api/api2/json/cluster/backup") || exit 1
declare -A present
for id in $(grep -o '"id":"[^"]*"' <<<"$list" | cut -d'"' -f4); do present[$id]=1; done
failed=0
push() {
  /usr/bin/curl -fsS -o /dev/null --max-time 10 --cacert "$ca" --get \
    --data-urlencode "status=$2" --data-urlencode "msg=$3" "$kuma/api/push/$1" ||
    failed=$((failed + 1))
}
while read -r id token; do
  if [ -n "${present[$id]+x}" ]; then push "$token" up "job $id present"
  else push "$token" down "no such job any more"; fi
done <"$mapping"
push "$node_token" up "${#present[@]} job(s)"
[ "$failed" -eq 0 ]
'''


def job_id(i):
    return "backup-%08x-%04x" % (i, i % 65536)


def job_token(i):
    return "jobT0ken%08d" % i


def write_cluster(root, jobs):
    """JOBS jobs with the hook, of every schedule in SCHEDULES, each backing
    up its 2 guests (one on this node, one on pve2)."""
    sections = []
    for i in range(jobs):
        lines = ["vzdump: " + job_id(i), "\tschedule " + SCHEDULES[i % len(SCHEDULES)],
                 "\tscript " + HOOK, "\tmode snapshot", "\tstorage pbs%d" % (i % 7),
                 "\tvmid %d,%d" % (100 + 2 * i, 101 + 2 * i)]
        sections.append("\n".join(lines) + "\n")
    with open(os.path.join(root, "jobs.cfg"), "w") as f:
        f.write("\n".join(sections))
    with open(os.path.join(root, "vzdump.cron"), "w") as f:
        f.write("# cluster wide vzdump cron schedule\n")
    resources = [{"id": "qemu/%d" % (100 + g), "type": "qemu", "vmid": 100 + g,
                  "node": NODE if g % 2 == 0 else "pve2", "name": "vm%d" % (100 + g),
                  "status": "running", "template": 0}
                 for g in range(2 * jobs)]
    with open(os.path.join(root, "resources.json"), "w") as f:
        json.dump(resources, f)


def start_server(argv, port_file):
    process = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    try:
        wait_for_file(port_file)
    except SystemExit:
        process.kill()
        raise
    return process, int(open(port_file).read())


class LogTail:
    """The events a fake server logged since the last call."""

    def __init__(self, path):
        self._path = path
        self._offset = 0

    def new_events(self):
        if not os.path.exists(self._path):
            return []
        with open(self._path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        return [json.loads(line) for line in data[:end].splitlines() if line.strip()]


def spread(values):
    """"3", or "3..4" when the runs differed."""
    values = list(values)
    low, high = min(values), max(values)
    return "%d" % low if low == high else "%d..%d" % (low, high)


def connects_to(argv, port, env=None):
    """connect() calls of ARGV (and what it starts) to 127.0.0.1:PORT, from strace."""
    trace = tempfile.mktemp(prefix="pbk-strace.")
    subprocess.run(["/usr/bin/strace", "-f", "-qq", "-e", "trace=connect", "-o", trace] + argv,
                   env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    needle = "sin_port=htons(%d)" % port
    with open(trace) as f:
        count = sum(1 for line in f if needle in line and "resumed" not in line)
    os.remove(trace)
    return count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--runs", type=int, default=10, help="runs per figure below 1000 jobs")
    parser.add_argument("--large-runs", type=int, default=5,
                        help="runs per figure from 1000 jobs on (the curl loop takes long)")
    parser.add_argument("--sizes", default="1,100,1000")
    parser.add_argument("--csv", default="refresh-bench.csv")
    parser.add_argument("--handshakes", choices=["auto", "log", "strace"], default="auto",
                        help="count Kuma's TLS handshakes from its log or with strace "
                        "(auto: the log when it has connection events)")
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    agent = os.path.join(bin_dir, "pbk-agent")
    sizes = sorted(int(s) for s in args.sizes.split(","))
    load_start = os.getloadavg()

    work = tempfile.mkdtemp(prefix="pbk-refresh-bench.")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(bin_dir, "pbk-test-certs"), certs], check=True,
                   stdout=subprocess.DEVNULL)
    ca = os.path.join(certs, "ca.pem")
    root = os.path.join(work, "pve")
    os.makedirs(root)
    os.makedirs(os.path.join(work, "jobs"))
    with open(os.path.join(work, "tokens.json"), "w") as f:
        json.dump({TOKEN_ID: {"secret": SECRET, "privs": ["Sys.Audit"]}}, f)
    secret_file = os.path.join(work, "pve-token")
    with open(secret_file, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(secret_file, 0o600)
    python_script = os.path.join(work, "push_jobs.py")
    with open(python_script, "w") as f:
        f.write(PYTHON_SCRIPT)
    curl_script = os.path.join(work, "curl-refresh.sh")
    with open(curl_script, "w") as f:
        f.write(CURL_SCRIPT)
    os.chmod(curl_script, 0o755)
    write_cluster(root, 1)

    pve_log, kuma_log = os.path.join(work, "pve.log"), os.path.join(work, "kuma.log")
    tokens = [job_token(i) for i in range(max(sizes))] + [NODE_TOKEN]
    pve = kuma = None
    rows = []
    counting = None
    try:
        pve, pve_port = start_server(
            ["/usr/bin/python3", os.path.join(SOURCE, "tests/fakes/fake_pve.py"), "--root", root,
             "--cert", os.path.join(certs, "pve.pem"), "--key", os.path.join(certs, "pve.key"),
             "--port-file", os.path.join(work, "pve.port"), "--log", pve_log,
             "--tokens", os.path.join(work, "tokens.json")], os.path.join(work, "pve.port"))
        kuma, kuma_port = start_server(
            ["/usr/bin/python3", os.path.join(SOURCE, "tests/fakes/fake_kuma.py"),
             "--cert", os.path.join(certs, "ip.pem"), "--key", os.path.join(certs, "ip.key"),
             "--port-file", os.path.join(work, "kuma.port"), "--log", kuma_log,
             "--tokens", ",".join(tokens)], os.path.join(work, "kuma.port"))
        api_url = "https://127.0.0.1:%d" % pve_port
        kuma_url = "https://127.0.0.1:%d" % kuma_port
        auth = "PVEAPIToken=%s=%s" % (TOKEN_ID, SECRET)
        prime = ["/usr/bin/curl", "-fsS", "-o", "/dev/null", "--cacert", ca, "-H",
                 "Authorization: " + auth, api_url + "/api2/json/cluster/backup"]
        pve_tail, kuma_tail = LogTail(pve_log), LogTail(kuma_log)

        medians = {}
        for size in sizes:
            write_cluster(root, size)
            state = os.path.join(work, "state-%d" % size)
            config = os.path.join(work, "config-%d.json" % size)
            with open(config, "w") as f:
                json.dump({"node": NODE,
                           "kuma": {"url": kuma_url, "ca_file": ca, "timeout_seconds": 10},
                           "jobs": {job_id(i): {"push_token": job_token(i)}
                                    for i in range(size)},
                           "node_monitor": {"push_token": NODE_TOKEN},
                           "pve": {"api_url": api_url, "ca_file": ca, "token_id": TOKEN_ID,
                                   "token_secret_file": secret_file,
                                   "pvesh": os.path.join(work, "no-pvesh")},
                           "paths": {"hook_script": HOOK, "state_dir": state,
                                     "scheduler_dir": os.path.join(work, "jobs"),
                                     "jobs_cfg": os.path.join(root, "jobs.cfg"),
                                     "vzdump_cron": os.path.join(root, "vzdump.cron")}}, f)
            os.chmod(config, 0o600)
            mapping_json = os.path.join(work, "mapping-%d.json" % size)
            with open(mapping_json, "w") as f:
                json.dump({job_id(i): job_token(i) for i in range(size)}, f)
            mapping_lines = os.path.join(work, "mapping-%d.txt" % size)
            with open(mapping_lines, "w") as f:
                f.writelines("%s %s\n" % (job_id(i), job_token(i)) for i in range(size))
            programs = {
                "ours": [agent, "--config", config, "refresh"],
                "python": ["/usr/bin/python3", python_script, api_url, ca, auth, kuma_url,
                           mapping_json, NODE_TOKEN],
                "curl": [curl_script, api_url, ca, auth, kuma_url, mapping_lines, NODE_TOKEN],
                # The same reads and judgements without a push: what the pushes cost.
                "dry": [agent, "--config", config, "refresh", "--dry-run"],
            }

            # What refresh reports: every monitor pushed, read through REST.
            listed = subprocess.run(programs["ours"][:-1] + ["refresh", "--dry-run", "--json"],
                                    capture_output=True, text=True)
            try:
                document = json.loads(listed.stdout)
            except ValueError:
                raise SystemExit("refresh --dry-run --json failed: %s" % listed.stderr)
            if document["source"] != "rest" or len(document["monitors"]) != size + 1:
                raise SystemExit("refresh would not push %d monitors read through REST: %s"
                                 % (size + 1, listed.stdout[:2000]))
            states = {}
            for monitor in document["monitors"]:
                if monitor["monitor"].startswith("job "):
                    states[monitor["state"]] = states.get(monitor["state"], 0) + 1
                else:
                    node_state = monitor["state"]

            runs = args.runs if size < 1000 else args.large_runs
            walls = {name: [] for name in programs}
            calls = {name: [] for name in programs}
            # A first untimed round of refresh (it notes the jobs it has not
            # seen before, as on its first run on a node) and of the Python
            # script (its modules into the page cache).
            for rnd in range(runs + 1):
                for name, argv in programs.items():
                    if rnd == 0 and name == "curl":
                        continue
                    subprocess.run(prime, check=True)
                    pve_tail.new_events()
                    kuma_tail.new_events()
                    wall, code, err = timed(argv)
                    if code != 0:
                        raise SystemExit("%s failed for %d jobs (exit %d): %s"
                                         % (name, size, code, err[-2000:]))
                    kuma_events, pve_events = kuma_tail.new_events(), pve_tail.new_events()
                    pushes = sum(1 for e in kuma_events if e["event"] == "request"
                                 and e.get("kuma") is not None and e.get("answered") == 200)
                    expected = 0 if name == "dry" else size + 1
                    if pushes != expected:
                        raise SystemExit("%s made %d pushes for %d jobs, expected %d"
                                         % (name, pushes, size, expected))
                    handshakes = sum(1 for e in kuma_events if e["event"] == "connection")
                    if counting is None:
                        counting = args.handshakes if args.handshakes != "auto" else (
                            "log" if handshakes > 0 else "strace")
                    api_requests = sum(1 for e in pve_events if e["event"] == "request")
                    api_connections = sum(1 for e in pve_events if e["event"] == "connection")
                    if rnd > 0:
                        walls[name].append(wall)
                        calls[name].append((pushes, handshakes, api_requests, api_connections))

            rss = {name: peak_rss(argv) for name, argv in programs.items()}
            kuma_tail.new_events()
            pve_tail.new_events()
            if counting == "strace":
                handshakes = {name: connects_to(argv, kuma_port)
                              for name, argv in programs.items()}
                api_connects = {name: connects_to(argv, pve_port)
                                for name, argv in programs.items()}
            else:
                handshakes = {name: spread(c[1] for c in calls[name]) for name in programs}
                api_connects = {name: spread(c[3] for c in calls[name]) for name in programs}
            kuma_tail.new_events()
            pve_tail.new_events()

            figures = {name: summary(walls[name]) for name in programs}
            medians[size] = {name: (figures[name][0], rss[name]) for name in programs}
            o = figures["ours"]
            for name, label in (("python", "Python requests.Session"),
                                ("curl", "bash loop, curl --cacert per push")):
                b = figures[name]
                rows.append([
                    "refresh, %d jobs + node (%d runs)" % (size, runs), "%.1f" % o[0],
                    "%.1f..%.1f" % o[1:], label, "%.1f" % b[0], "%.1f..%.1f" % b[1:],
                    "%.2f" % (o[0] / b[0]), rss["ours"], rss[name],
                    "%d / %d" % (calls["ours"][0][0], calls[name][0][0]),
                    "%s / %s" % (handshakes["ours"], handshakes[name]),
                    "%s GET on %s conn. / %s GET on %s conn." % (
                        spread(c[2] for c in calls["ours"]), api_connects["ours"],
                        spread(c[2] for c in calls[name]), api_connects[name]),
                    "jobs: %s; node: %s" % (", ".join("%s %d" % (s, n)
                                                       for s, n in sorted(states.items())),
                                             node_state)])
            d = figures["dry"]
            rows.append([
                "refresh --dry-run, %d jobs + node (%d runs)" % (size, runs), "%.1f" % d[0],
                "%.1f..%.1f" % d[1:], "refresh, pushing (above)", "%.1f" % o[0],
                "%.1f..%.1f" % o[1:], "%.2f" % (d[0] / o[0]), rss["dry"], rss["ours"],
                "0 / %d" % calls["ours"][0][0], "%s / %s" % (handshakes["dry"], handshakes["ours"]),
                "%s GET" % spread(c[2] for c in calls["dry"]),
                "the pushes (and job locks): %+.1f ms, %.2f ms a push"
                % (o[0] - d[0], (o[0] - d[0]) / (size + 1))])

        # How the cost grows between sizes: per 100 jobs, time and memory.
        for low, high in zip(sizes, sizes[1:]):
            def per(name, i):
                return (medians[high][name][i] - medians[low][name][i]) * 100.0 / (high - low)
            for name, label in (("python", "Python requests.Session"),
                                ("curl", "bash loop, curl --cacert per push")):
                rows.append(["growth %d -> %d jobs, per 100 jobs" % (low, high),
                             "%.1f" % per("ours", 0), "-", label, "%.1f" % per(name, 0), "-",
                             "%.2f" % (per("ours", 0) / per(name, 0)) if per(name, 0) else "-",
                             "%+.0f" % per("ours", 1), "%+.0f" % per(name, 1), "+100 / +100",
                             "-", "-", "-"])
            rows.append(["growth %d -> %d jobs, per 100 jobs" % (low, high),
                         "%.1f" % per("dry", 0), "-", "refresh, pushing", "%.1f" % per("ours", 0),
                         "-", "-", "%+.0f" % per("dry", 1), "%+.0f" % per("ours", 1),
                         "0 / +100", "-", "-", "ours --dry-run beside ours pushing"])
    finally:
        for process in (kuma, pve):
            if process is not None:
                process.terminate()
                process.wait()

    header = ["measure", "ours ms (median)", "ours p10..p90", "baseline", "baseline ms (median)",
              "baseline p10..p90", "ratio ours/baseline", "ours peak RSS KiB",
              "baseline peak RSS KiB", "pushes ours / baseline",
              "Kuma TLS handshakes ours / baseline", "PVE API ours / baseline",
              "job states refresh pushed"]
    report(header, rows, args.csv, args.runs)
    load_end = os.getloadavg()
    print("runs per figure from 1000 jobs on: %d; load average (1 min) %.2f at the start, "
          "%.2f at the end" % (args.large_runs, load_start[0], load_end[0]))
    print("Kuma TLS handshakes counted %s; peak RSS from GNU time (the curl loop: its largest "
          "process); growth rows: ms and KiB per 100 jobs" % (
              "from the emulated Kuma's \"connection\" events (one per completed handshake)"
              if counting == "log" else
              "as connect() calls to Kuma's port under strace -f%s" % (
                  " (the emulated Kuma logs no connections)" if args.handshakes == "auto"
                  else "")))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
