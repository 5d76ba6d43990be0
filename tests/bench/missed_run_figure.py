#!/usr/bin/python3
"""How long after a missed due start Kuma shows the job DOWN: COMPUTED from
the configuration defaults, not measured.

pbk-agent: `refresh` runs every kTimerPeriodMinutes plus up to
kTimerJitterMinutes (the timer unit), and pushes `down` for a job whose due
start passed refresh.start_grace_minutes ago with no run started. So Kuma
shows DOWN between start_grace and start_grace + period + jitter after the
due start, whatever the schedule, and whether or not Kuma restarted (the
DOWN is a push, not the end of a Kuma timer).

The alternative, one push per run and a heartbeat interval as long as the
job's longest pause (what `pbk-agent jobs` computes: longest gap between two
starts + longest run + kuma.grace_minutes): Kuma turns the monitor DOWN one
interval after the last push (the end of the run before), or one interval
after its own last restart, whichever is later. So after a missed start
  - Kuma not restarted since that push: interval - this gap + run time;
  - Kuma restarted just before the due start: the whole interval;
  - Kuma restarting more often than the interval: never;
  - an interval above Kuma's maximum (24 days) cannot be set at all.

The defaults are read from agent/core/config.h and agent/monitor_advice.h; the run
time (the last run's and the longest, taken equal) is --run-minutes.

usage: missed_run_figure.py [--run-minutes 60] [--csv FILE]
"""
import argparse
import csv
import math
import os
import re
import sys

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (schedule, which start is missed, longest gap between two starts in hours,
#  the gap before the missed start in hours)
CASES = [
    ("21:00 (daily)", "any", 24, 24),
    ("mon..fri 21:00", "a Tuesday's", 72, 24),
    ("mon..fri 21:00", "a Monday's", 72, 72),
    ("sun 04:00 (weekly)", "any", 7 * 24, 7 * 24),
    ("monthly (1st, 00:00)", "any", 31 * 24, 31 * 24),
]


def constant(path, pattern):
    """The integer (or product of integers) PATTERN's group captures in PATH."""
    with open(os.path.join(SOURCE, path)) as f:
        match = re.search(pattern, f.read())
    if match is None:
        raise SystemExit("%s: no %s" % (path, pattern))
    return math.prod(int(n) for n in re.findall(r"\d+", match.group(1)))


def minutes(value):
    """A duration in minutes, as a person reads it."""
    value = int(round(value))
    days, rest = divmod(value, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append("%d d" % days)
    if hours:
        parts.append("%d h" % hours)
    if mins or not parts:
        parts.append("%d min" % mins)
    return " ".join(parts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-minutes", type=int, default=60,
                        help="run time of a backup run (the last and the longest)")
    parser.add_argument("--csv", default="missed-run-figure.csv")
    args = parser.parse_args()

    grace = constant("agent/core/config.h", r"int start_grace_minutes = (\d+);")
    period = constant("agent/core/config.h", r"kTimerPeriodMinutes = (\d+);")
    jitter = constant("agent/core/config.h", r"kTimerJitterMinutes = (\d+);")
    heartbeat = constant("agent/core/config.h", r"int heartbeat_interval_minutes = (\d+);")
    kuma_grace = constant("agent/core/config.h", r"int grace_minutes = (\d+);")
    kuma_max = constant("agent/monitor_advice.h",
                        r"kKumaMaxIntervalSeconds = ([\d\s*]+);") // 60
    run = args.run_minutes

    ours = "%s .. %s" % (minutes(grace), minutes(grace + period + jitter))
    rows = []
    for schedule, missed, longest_gap_h, gap_h in CASES:
        interval = longest_gap_h * 60 + run + kuma_grace
        if interval > kuma_max:
            long_interval = ["%s: above Kuma's maximum (%s), cannot be set"
                             % (minutes(interval), minutes(kuma_max)), "never", "never", "never"]
        else:
            long_interval = [minutes(interval), minutes(interval - gap_h * 60 + run),
                             minutes(interval),
                             "never (Kuma restarts at least every %s)" % minutes(interval)]
        rows.append([schedule, missed, ours] + long_interval)

    header = ["schedule", "missed start", "pbk-agent refresh: DOWN after",
              "long-interval monitor: its interval",
              "long-interval: DOWN after, Kuma not restarted",
              "long-interval: DOWN after, Kuma restarted just before the due start",
              "long-interval: Kuma restarts more often than the interval"]
    print("COMPUTED, not measured: time from a missed due start to DOWN in Kuma")
    print("defaults: refresh.start_grace_minutes %d; refresh every %d min + up to %d min "
          "(timer); long-interval monitor = longest gap + longest run (%d min, --run-minutes) + "
          "kuma.grace_minutes %d; Kuma's maximum interval %s"
          % (grace, period, jitter, run, kuma_grace, minutes(kuma_max)))
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    print("a dead node, timer or agent (no push at all): pbk-agent's monitors are DOWN %d min "
          "(kuma.heartbeat_interval_minutes) after the last push, at most %d min after the "
          "death; a long-interval monitor one interval after its last push"
          % (heartbeat, heartbeat))
    with open(args.csv, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    print("written to %s" % args.csv)


if __name__ == "__main__":
    sys.exit(main())
