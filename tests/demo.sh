#!/usr/bin/env bash
# The local demonstration: an emulated Uptime Kuma on 127.0.0.1 serving HTTPS
# with certificates made here, the real hook wrapper and pbk-agent, and a
# simulated vzdump worker running two backup jobs through them. Shows what
# the task log says and what arrived at Kuma. Usage: tests/demo.sh BIN_DIR
set -euo pipefail

bin=$(cd "${1:?usage: tests/demo.sh BIN_DIR}" && pwd)
source_dir=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/pbk-demo.XXXXXX)
kuma_pid=

cleanup() {
  if [ -n "$kuma_pid" ]; then kill "$kuma_pid" 2>/dev/null || true; wait "$kuma_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Certificates: a CA and a Kuma certificate for IP 127.0.0.1 (in $work/certs)"
"$bin/pbk-test-certs" "$work/certs" >/dev/null
ls "$work/certs" | tr '\n' ' '; echo

token="dEm0pUsHt0kEn42x"
job="backup-8d6f3a2c-1b4e"
say "Emulated Uptime Kuma on https://127.0.0.1 (push monitor for job $job)"
/usr/bin/python3 "$source_dir/tests/fakes/fake_kuma.py" --cert "$work/certs/ip.pem" \
  --key "$work/certs/ip.key" --port-file "$work/kuma.port" --log "$work/kuma.log" \
  --tokens "$token" 2>"$work/kuma.stderr" &
kuma_pid=$!
for _ in $(seq 100); do [ -s "$work/kuma.port" ] && break; sleep 0.1; done
port=$(cat "$work/kuma.port")
echo "listening on 127.0.0.1:$port (pid $kuma_pid)"

say "Configuration ($work/config.json, mode 0600)"
mkdir -p "$work/jobs"
cat >"$work/config.json" <<JSON
{
  "node": "pve1",
  "kuma": {"url": "https://127.0.0.1:$port", "ca_file": "$work/certs/ca.pem", "timeout_seconds": 5},
  "jobs": {"$job": {"push_token": "$token"}},
  "paths": {"state_dir": "$work/state", "scheduler_dir": "$work/jobs"}
}
JSON
chmod 600 "$work/config.json"
sed "s/$token/****/" "$work/config.json"
"$bin/pbk-agent" --config "$work/config.json" check-config

say "The hook wrapper vzdump runs (installed at /var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh)"
sed -e "s#@PBK_BINARY@#$bin/pbk-agent#" -e "s#@PBK_CONFIG@#$work/config.json#" \
  "$source_dir/hook/vzdump-uptime-kuma-hook.sh.in" >"$work/vzdump-uptime-kuma-hook.sh"
chmod 755 "$work/vzdump-uptime-kuma-hook.sh"
grep -v '^#' "$work/vzdump-uptime-kuma-hook.sh"

run_job() {
  local name=$1 scenario=$2
  say "vzdump run: $name (scheduled job $job, hook phases as vzdump calls them)"
  printf '%s\n' "$scenario" >"$work/$name.json"
  "$bin/pbk-vzdump-sim" --hook "$work/vzdump-uptime-kuma-hook.sh" --scenario "$work/$name.json" \
    --summary "$work/$name.summary.json" --scheduler-dir "$work/jobs" | sed 's/^/  task log | /' || true
}

run_job all-ok '{"storage": "pbs1", "job_id": "'"$job"'", "guests": [
  {"vmid": 100, "type": "qemu", "name": "web01", "run": "snapshot", "archive_seconds": 0.4},
  {"vmid": 101, "type": "lxc", "name": "db01", "run": "snapshot", "archive_seconds": 0.2},
  {"vmid": 102, "type": "qemu", "name": "mail", "run": "stopped"}]}'

run_job one-fails '{"storage": "pbs1", "job_id": "'"$job"'", "guests": [
  {"vmid": 100, "type": "qemu", "name": "web01", "run": "snapshot", "archive_seconds": 0.3},
  {"vmid": 101, "type": "lxc", "name": "db01", "run": "fail-archive"}]}'

say "What arrived at Uptime Kuma"
/usr/bin/python3 - "$work/kuma.log" <<'PY'
import json, sys, time
for line in open(sys.argv[1]):
    event = json.loads(line)
    if event.get("event") != "request":
        continue
    q = event.get("query") or {}
    print("  %s  HTTP %s  status=%-4s ping=%-6s msg=%s" % (
        time.strftime("%H:%M:%S", time.localtime(event["time"])), event["answered"],
        q.get("status"), q.get("ping"), q.get("msg")))
PY

say "The seed's manual test: vzdump-uptime-kuma-hook.sh job-end ok $job"
env -i "$work/vzdump-uptime-kuma-hook.sh" job-end ok "$job"

say "Secret check: the push token in task logs, state and spool files"
leaks=$(grep -rlF "$token" "$work" --exclude=kuma.log --exclude=config.json || true)
if [ -n "$leaks" ]; then echo "FOUND in: $leaks"; exit 1; fi
echo "not found anywhere but config.json (and the emulated Kuma's own request log)"
echo
echo "Demo files are in $work"
