#!/usr/bin/python3
"""Figures for `pbk-agent kuma sync` against a real Uptime Kuma.

Runs the end-to-end binary's figures case (tests/e2e/kuma_e2e_sync_test.cpp,
KumaSyncE2eTest.E_Figures): the environment installs and starts Kuma
2.0.0-dev.0 (tests/e2e/kuma.sh), the case makes Kuma's first user, runs
`kuma login`, then for each size JOBSxNODES writes an emulated cluster
(all-guests jobs, a guest on every node) and runs `kuma sync --json` twice:
the first run and the no-op run. Per run: wall time, Socket.IO calls,
monitors made and changed. Never asserted beyond success. Kuma 2.0.0-dev.0
sends its whole monitor list after every add, so 100x5 takes many minutes.
Prints a table and writes a CSV.

usage: kuma_sync_bench.py BIN_DIR [--sizes 10x3,100x5] [--csv FILE]
"""
import argparse
import os
import re
import subprocess
import sys

from benchlib import report

LINE = re.compile(r"^bench: kuma sync (\d+) jobs x (\d+) nodes, (\S+) run: ([0-9.]+) s wall, "
                  r"(\d+) Socket\.IO calls, (\d+) monitors made, (\d+) changed$")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bin_dir")
    parser.add_argument("--sizes", default="10x3,100x5")
    parser.add_argument("--csv", default="kuma_sync_bench.csv")
    args = parser.parse_args()
    sizes = args.sizes.replace(",", " ")
    if not re.fullmatch(r"\d+x\d+( \d+x\d+)*", sizes):
        sys.exit("--sizes: JOBSxNODES[,JOBSxNODES…], e.g. 10x3,100x5")
    argv = [os.path.join(args.bin_dir, "pbk_e2e_tests"),
            "--gtest_filter=KumaSyncE2eTest.E_Figures"]
    env = dict(os.environ, PBK_KUMA_SYNC_BENCH=sizes)
    print("PBK_KUMA_SYNC_BENCH='%s' %s" % (sizes, " ".join(argv)), flush=True)
    result = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True)
    rows = []
    for line in result.stdout.splitlines():
        match = LINE.match(line)
        if match:
            jobs, nodes, run, wall, calls, added, edited = match.groups()
            rows.append([jobs, nodes, run, "%.2f" % float(wall), calls, added, edited])
    if result.returncode != 0 or not rows:
        log = os.path.abspath(args.csv) + ".log"
        with open(log, "w") as f:
            f.write(result.stdout + result.stderr)
        failures = [line for line in result.stdout.splitlines()
                    if line.startswith("bench:") or ": Failure" in line or "timed out" in line
                    or "took longer" in line]
        sys.exit("the figures case failed (exit %d); its whole output is in %s:\n%s" %
                 (result.returncode, log, "\n".join(failures)))
    report(["jobs", "nodes", "run", "wall s", "Socket.IO calls", "monitors made", "changed"],
           rows, args.csv, 1)


if __name__ == "__main__":
    main()
