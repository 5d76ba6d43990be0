#!/usr/bin/python3
"""Benchmarks of the hook against what an admin would otherwise use.

Starts the emulated Kuma on 127.0.0.1 (HTTPS, certificates made here) and
measures, in one run, with the runs of the compared programs interleaved so
they share the machine's noise:
  - job-end through the real wrapper (process start to Kuma's answer) vs a
    bash hook doing the same push with `curl --cacert`: wall time, peak RSS,
    threads started;
  - one guest-phase call through the wrapper vs /bin/true run the same way;
  - a 50-guest job through the whole phase sequence (pbk-vzdump-sim): the
    time all hook calls took, vs the same job with /bin/true as the hook.
Prints a table (median and p10..p90 of the repeated runs) and writes a CSV.

With --callgrind, instead: job-end through the wrapper and the bash + curl
hook, and one guest phase through the wrapper and through a shell running
/bin/true, each under `valgrind --tool=callgrind` (children traced),
interleaved; prints the instructions executed (Ir) of every process of each
call, and pbk-agent's alone, to compare with the baseline and two builds.

usage: hook_bench.py BIN_DIR [--runs N] [--csv FILE] [--callgrind]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from benchlib import peak_rss, report, start_fake_kuma, summary, timed

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = "bEnChPuShT0kEn77"
JOB = "backup-bench"


def start_kuma(work, certs):
    return start_fake_kuma(work, certs, [TOKEN])


def threads_started(argv, env):
    """Threads the program (and what it execs) starts, counted with strace."""
    trace = tempfile.mktemp(prefix="pbk-strace.")
    subprocess.run(["/usr/bin/strace", "-f", "-qq", "-e", "trace=clone,clone3", "-o", trace]
                   + argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    with open(trace) as f:
        count = sum(1 for line in f if "CLONE_THREAD" in line and "resumed" not in line)
    os.remove(trace)
    return count


def sim_hook_ms(bin_dir, hook, scenario, work, runs):
    """Total ms of all hook calls of one simulated job, per run."""
    scenario_path = os.path.join(work, "scenario-50.json")
    with open(scenario_path, "w") as f:
        json.dump(scenario, f)
    totals = []
    for i in range(runs):
        summary_path = os.path.join(work, "summary-50-%d.json" % i)
        subprocess.run([os.path.join(bin_dir, "pbk-vzdump-sim"), "--hook", hook, "--scenario",
                        scenario_path, "--summary", summary_path, "--scheduler-dir",
                        os.path.join(work, "jobs")], stdout=subprocess.DEVNULL, check=True)
        with open(summary_path) as f:
            calls = json.load(f)["calls"]
        if any(call["exit"] != 0 for call in calls):
            raise SystemExit("a hook call of the 50-guest job failed")
        totals.append(sum(call["exit_ms"] for call in calls))
    return totals, len(calls)


def callgrind(argv, env, work):
    """Instructions (Ir) one call of ARGV executed, per callgrind (children
    traced): {"pbk-agent": those of pbk-agent, "all": every process's,
    the shell of a hook included}."""
    out = os.path.join(work, "callgrind")
    os.makedirs(out, exist_ok=True)
    subprocess.run(["/usr/bin/valgrind", "--tool=callgrind", "--trace-children=yes",
                    "--callgrind-out-file=" + os.path.join(out, "cg.%p")] + argv,
                   env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    counts = {"pbk-agent": 0, "all": 0}
    for name in os.listdir(out):
        command, events = "", 0
        with open(os.path.join(out, name)) as f:
            for line in f:
                if line.startswith("cmd:"):
                    command = line[4:].strip()
                elif line.startswith(("summary:", "totals:")):
                    events = int(line.split()[1])
        counts["all"] += events
        if "pbk-agent" in command.split(" ")[0]:
            counts["pbk-agent"] += events
    shutil.rmtree(out)
    return counts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--csv", default="hook-bench.csv")
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)

    work = tempfile.mkdtemp(prefix="pbk-bench.")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(bin_dir, "pbk-test-certs"), certs], check=True,
                   stdout=subprocess.DEVNULL)
    kuma, port = start_kuma(work, certs)
    try:
        state = os.path.join(work, "state")
        config = os.path.join(work, "config.json")
        with open(config, "w") as f:
            json.dump({"node": "pve1",
                       "kuma": {"url": "https://127.0.0.1:%d" % port,
                                "ca_file": os.path.join(certs, "ca.pem"), "timeout_seconds": 5},
                       "jobs": {JOB: {"push_token": TOKEN}},
                       "paths": {"state_dir": state, "scheduler_dir": os.path.join(work, "jobs")}},
                      f)
        os.chmod(config, 0o600)
        wrapper = os.path.join(work, "vzdump-uptime-kuma-hook.sh")
        template = open(os.path.join(SOURCE, "hook/vzdump-uptime-kuma-hook.sh.in")).read()
        with open(wrapper, "w") as f:
            f.write(template.replace("@PBK_BINARY@", os.path.join(bin_dir, "pbk-agent"))
                    .replace("@PBK_CONFIG@", config))
        os.chmod(wrapper, 0o755)
        # The baseline an admin would write: a bash hook pushing with curl.
        curl_hook = os.path.join(work, "curl-hook.sh")
        with open(curl_hook, "w") as f:
            f.write('#!/bin/bash\n[ "$1" = job-end ] || exit 0\n'
                    'exec /usr/bin/curl -fsS -o /dev/null --max-time 5 --cacert %s '
                    '"https://127.0.0.1:%d/api/push/%s?status=up&msg=pve1%%3A%%20all%%201%%20guests'
                    '%%20backed%%20up%%20to%%20pbs1&ping=1000"\n'
                    % (os.path.join(certs, "ca.pem"), port, TOKEN))
        os.chmod(curl_hook, 0o755)
        true_wrapper = os.path.join(work, "true-hook.sh")
        with open(true_wrapper, "w") as f:
            f.write("#!/bin/sh\nexec /bin/true \"$@\"\n")
        os.chmod(true_wrapper, 0o755)

        job_env = {"STOREID": "pbs1", "LC_ALL": "C"}
        guest_env = dict(job_env, VMTYPE="qemu", HOSTNAME="web01", TARGET="vm/100/x")

        def prepare_run():
            # The bench process is the hook's parent; a fresh state makes each
            # job-end a new run (identified through the cached job list).
            shutil.rmtree(state, ignore_errors=True)
            os.makedirs(state)
            with open(os.path.join(state, "jobs.json"), "w") as f:
                json.dump({"format": 1, "written": 0, "source": "rest", "node": "pve1",
                           "jobs": [{"id": JOB, "type": "vzdump", "all": 1, "storage": "pbs1"}]},
                          f)
            for argv in (["job-init"], ["job-start"], ["backup-start", "snapshot", "100"],
                         ["backup-end", "snapshot", "100"]):
                subprocess.run([wrapper] + argv, env=guest_env, check=True,
                               stdout=subprocess.DEVNULL)

        os.makedirs(os.path.join(work, "jobs"), exist_ok=True)
        if args.callgrind:
            # Interleaved like the timed runs: ours, then the baseline.
            counts = {"job-end": [], "curl": [], "guest": [], "sh-true": []}
            for _ in range(min(args.runs, 3)):
                prepare_run()
                counts["job-end"].append(callgrind([wrapper, "job-end"], job_env, work))
                counts["curl"].append(callgrind([curl_hook, "job-end"], job_env, work))
                counts["guest"].append(
                    callgrind([wrapper, "log-end", "snapshot", "100"], guest_env, work))
                counts["sh-true"].append(
                    callgrind([true_wrapper, "log-end", "snapshot", "100"], guest_env, work))

            def median(name, key):
                values = sorted(c[key] for c in counts[name])
                return values[len(values) // 2]

            print("instructions (Ir) under callgrind, median of %d, children traced:"
                  % len(counts["job-end"]))
            print("  job-end, pbk-agent only:            %s"
                  % ", ".join(str(c["pbk-agent"]) for c in counts["job-end"]))
            for what, ours, base in (("job-end", "job-end", "curl"),
                                     ("guest phase", "guest", "sh-true")):
                print("  %-12s ours (wrapper + pbk-agent) %12d   %-7s %12d   ratio %.2f"
                      % (what, median(ours, "all"), base, median(base, "all"),
                         median(ours, "all") / median(base, "all")))
            shutil.rmtree(work, ignore_errors=True)
            return 0
        results = {name: [] for name in ("job-end", "curl", "guest", "true", "sh-true")}
        for _ in range(args.runs):
            prepare_run()
            results["job-end"].append(timed([wrapper, "job-end"], job_env))
            results["curl"].append(timed([curl_hook, "job-end"], job_env))
            results["guest"].append(timed([wrapper, "log-end", "snapshot", "100"], guest_env))
            results["true"].append(timed(["/bin/true", "log-end", "snapshot", "100"], guest_env))
            results["sh-true"].append(timed([true_wrapper, "log-end", "snapshot", "100"],
                                            guest_env))
        for name, runs in results.items():
            failed = [code for _, code, _ in runs if code != 0]
            if failed:
                raise SystemExit("%s failed %d time(s)" % (name, len(failed)))

        # Memory, measured apart from the timings. A whole run under one
        # shell gives the hook the same parent in every phase; its peak is
        # job-end's, the only phase that loads the TLS stack.
        shutil.rmtree(state, ignore_errors=True)
        prepare_run()
        shutil.rmtree(os.path.join(state, "runs"))
        run = " && ".join("%s %s" % (wrapper, phase) for phase in
                          ("job-init", "job-start", "backup-start snapshot 100",
                           "backup-end snapshot 100", "job-end"))
        rss = {
            "job-end": peak_rss(["/bin/sh", "-c", run], guest_env),
            "curl": peak_rss([curl_hook, "job-end"], job_env),
            "guest": peak_rss([wrapper, "log-end", "snapshot", "100"], guest_env),
            "true": peak_rss(["/bin/true"], guest_env),
            "sh-true": peak_rss([true_wrapper, "log-end", "snapshot", "100"], guest_env),
        }
        shutil.rmtree(state, ignore_errors=True)
        prepare_run()
        shutil.rmtree(os.path.join(state, "runs"))
        threads = {
            "job-end": threads_started(["/bin/sh", "-c", run], guest_env),
            "curl": threads_started([curl_hook, "job-end"], job_env),
            "guest": threads_started([wrapper, "log-end", "snapshot", "100"], guest_env),
            "true": 0, "sh-true": 0,
        }

        # A 50-guest snapshot job through every phase, as vzdump runs it.
        guests = [{"vmid": 100 + i, "type": "qemu", "name": "vm%02d" % i, "run": "snapshot"}
                  for i in range(50)]
        scenario = {"storage": "pbs1", "job_id": JOB, "guests": guests}
        sim_runs = max(3, args.runs // 8)
        ours_50, calls_50 = sim_hook_ms(bin_dir, wrapper, scenario, work, sim_runs)
        floor_50, _ = sim_hook_ms(bin_dir, true_wrapper, scenario, work, sim_runs)

        pushes = sum(1 for line in open(os.path.join(work, "kuma.log"))
                     if json.loads(line).get("event") == "request")
        # timed rounds, the two memory runs, the two thread counts, the 50-guest jobs
        expected = 2 * args.runs + 2 + 2 + sim_runs
        if pushes != expected:
            raise SystemExit("Kuma received %d pushes, expected %d" % (pushes, expected))
    finally:
        kuma.terminate()
        kuma.wait()

    rows = []

    def row(what, ours, baseline, label):
        ours_wall = summary([w for w, _, _ in results[ours]])
        base_wall = summary([w for w, _, _ in results[baseline]])
        ours_rss, base_rss = rss[ours], rss[baseline]
        rows.append([what, "%.2f" % ours_wall[0], "%.2f..%.2f" % ours_wall[1:], label,
                     "%.2f" % base_wall[0], "%.2f..%.2f" % base_wall[1:],
                     "%.2f" % (ours_wall[0] / base_wall[0]), "%d" % ours_rss, "%d" % base_rss,
                     "%d / %d" % (threads[ours], threads[baseline]),
                     "%+.2f ms" % (ours_wall[0] - base_wall[0])])

    row("hook job-end (push answered)", "job-end", "curl", "bash+curl --cacert")
    row("hook guest phase", "guest", "true", "/bin/true")
    row("hook guest phase", "guest", "sh-true", "sh exec /bin/true")
    o, f = summary(ours_50), summary(floor_50)
    rows.append(["50-guest job, all %d hook calls" % calls_50, "%.1f" % o[0], "%.1f..%.1f" % o[1:],
                 "/bin/true as the hook", "%.1f" % f[0], "%.1f..%.1f" % f[1:],
                 "%.2f" % (o[0] / f[0]), "-", "-", "-",
                 "%+.1f ms in all, %.2f ms a call" % (o[0] - f[0], (o[0] - f[0]) / calls_50)])

    header = ["measure", "ours ms (median)", "ours p10..p90", "baseline", "baseline ms (median)",
              "baseline p10..p90", "ratio", "ours peak RSS KiB", "baseline peak RSS KiB",
              "threads ours / baseline", "difference"]
    report(header, rows, args.csv, args.runs)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
