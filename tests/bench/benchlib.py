"""What the benchmarks share: timing a program, its peak memory, the
median and spread of repeated runs, and the table they print and save."""
import csv
import os
import statistics
import subprocess
import time

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def timed(argv, env=None):
    """Runs ARGV; returns (wall ms from spawn to exit, exit code, stderr)."""
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    return (time.perf_counter() - start) * 1000, result.returncode, result.stderr


def peak_rss(argv, env=None):
    """Peak RSS in KiB of ARGV and what it waits for, from GNU time. (A
    process forked from this Python would be charged with Python's own
    pages until its exec, so the kernel's figure for it would be wrong.)"""
    result = subprocess.run(["/usr/bin/time", "-f", "%M", "--"] + argv, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit("%s failed: %s" % (argv, result.stderr))
    return int(result.stderr.strip().splitlines()[-1])


def summary(values):
    """(median, p10, p90)."""
    values = sorted(values)
    n = len(values)
    return statistics.median(values), values[n // 10], values[(9 * n) // 10]


def wait_for_file(path, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return
        time.sleep(0.05)
    raise SystemExit("%s did not appear within %d s" % (path, seconds))


def report(header, rows, csv_path, runs):
    """Prints the table and writes it as CSV."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    print("runs per figure: %d; %s, %d cores" % (runs, os.uname().machine, os.cpu_count()))
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    print("written to %s" % csv_path)


def start_fake_kuma(work, certs, tokens):
    """Starts the emulated Kuma on 127.0.0.1 knowing TOKENS; returns (process, port)."""
    port_file = os.path.join(work, "kuma.port")
    process = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(SOURCE, "tests/fakes/fake_kuma.py"),
         "--cert", os.path.join(certs, "ip.pem"), "--key", os.path.join(certs, "ip.key"),
         "--port-file", port_file, "--log", os.path.join(work, "kuma.log"),
         "--tokens", ",".join(tokens)], stderr=subprocess.DEVNULL)
    try:
        wait_for_file(port_file)
    except SystemExit:
        process.kill()
        raise
    return process, int(open(port_file).read())
