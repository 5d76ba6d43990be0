#!/usr/bin/env bash
# The local demonstration: an emulated PVE API (and pvesh) and an emulated
# Uptime Kuma on 127.0.0.1, serving HTTPS with certificates made here; the
# guard repairing drifted backup jobs; a simulated vzdump worker running
# backups through the real hook wrapper and pbk-agent; what the task log
# says, what arrived at Kuma, and verify's verdict. Usage: tests/demo.sh BIN_DIR
set -euo pipefail

bin=$(cd "${1:?usage: tests/demo.sh BIN_DIR}" && pwd)
source_dir=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/pbk-demo.XXXXXX)
kuma_pid=
pve_pid=

cleanup() {
  for pid in $kuma_pid $pve_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Certificates: a CA, and certificates for IP 127.0.0.1 for Kuma and the PVE API (in $work/certs)"
"$bin/pbk-test-certs" "$work/certs" >/dev/null
ls "$work/certs" | tr '\n' ' '; echo

job="backup-8d6f3a2c-1b4e"     # scheduled daily, all guests, no hook yet
db_job="backup-5c01e9aa-73d2"  # runs an admin's own script
pve="$work/pve"                # plays /etc/pve
mkdir -p "$pve" "$work/jobs"
say "Emulated PVE: $pve/jobs.cfg and a legacy vzdump.cron, none of them running the hook"
printf '%s\n' "vzdump: $job" $'\tschedule 21:00' $'\tall 1' $'\tmode snapshot' $'\tstorage pbs1' '' \
  "vzdump: $db_job" $'\tschedule sat 02:30' $'\tmode stop' $'\tnode pve1' \
  $'\tscript /root/mount-usb.sh' $'\tstorage pbs1' $'\tvmid 110,111' >"$pve/jobs.cfg"
printf '%s\n' '# cluster wide vzdump cron schedule' '# Automatically generated file - do not edit' '' \
  'PATH="/usr/sbin:/usr/bin:/sbin:/bin"' '' \
  '0 1 * * 6           root vzdump 100 101 --mode snapshot --storage local --quiet 1' \
  >"$pve/vzdump.cron"
legacy_job="$(sha1sum "$pve/vzdump.cron" | cut -d' ' -f1):1"
# Where the guests are (/cluster/resources): all of them on this node.
guest_entry() { printf '{"id": "qemu/%s", "type": "qemu", "vmid": %s, "name": "%s", "node": "pve1", "status": "running", "template": 0}' "$1" "$1" "$2"; }
printf '[%s, %s, %s, %s, %s]\n' "$(guest_entry 100 web01)" "$(guest_entry 101 db01)" \
  "$(guest_entry 102 mail)" "$(guest_entry 110 pg01)" "$(guest_entry 111 pg02)" >"$pve/resources.json"
cat "$pve/jobs.cfg" "$pve/vzdump.cron" | sed 's/^/  /'

token="dEm0pUsHt0kEn42x"
db_token="dEm0dBt0kEnQ7wz"
legacy_token="dEm0lEgAcYt0kEn9"
node_token="dEm0nOdEt0kEn7kQ"
api_secret=$(cat /proc/sys/kernel/random/uuid)
printf '{"pbk-agent@pve!guard": {"secret": "%s", "privs": ["Sys.Audit"]}}\n' "$api_secret" \
  >"$work/pve-tokens.json"
install -m 600 /dev/null "$work/pve-token"
echo "$api_secret" >"$work/pve-token"
/usr/bin/python3 "$source_dir/tests/fakes/fake_pve.py" --root "$pve" --cert "$work/certs/pve.pem" \
  --key "$work/certs/pve.key" --port-file "$work/pve.port" --log "$work/pve.log" \
  --tokens "$work/pve-tokens.json" 2>"$work/pve.stderr" &
pve_pid=$!
printf '#!/bin/sh\nexec /usr/bin/python3 %s --root %s --log %s "$@"\n' \
  "$source_dir/tests/fakes/fake_pvesh.py" "$pve" "$work/pvesh.log" >"$work/pvesh"
chmod 755 "$work/pvesh"

say "Emulated Uptime Kuma on https://127.0.0.1 (a push monitor per job)"
/usr/bin/python3 "$source_dir/tests/fakes/fake_kuma.py" --cert "$work/certs/ip.pem" \
  --key "$work/certs/ip.key" --port-file "$work/kuma.port" --log "$work/kuma.log" \
  --tokens "$token,$db_token,$legacy_token,$node_token" 2>"$work/kuma.stderr" &
kuma_pid=$!
for _ in $(seq 100); do [ -s "$work/kuma.port" ] && [ -s "$work/pve.port" ] && break; sleep 0.1; done
port=$(cat "$work/kuma.port")
pve_port=$(cat "$work/pve.port")
echo "Kuma on 127.0.0.1:$port (pid $kuma_pid), PVE API on 127.0.0.1:$pve_port (pid $pve_pid)"

say "Configuration ($work/config.json, mode 0600; tokens shown as ****)"
cat >"$work/config.json" <<JSON
{
  "node": "pve1",
  "kuma": {"url": "https://127.0.0.1:$port", "ca_file": "$work/certs/ca.pem", "timeout_seconds": 5},
  "jobs": {
    "$job": {"push_token": "$token"},
    "$db_job": {"push_token": "$db_token"},
    "$legacy_job": {"push_token": "$legacy_token"}
  },
  "node_monitor": {"push_token": "$node_token"},
  "pve": {"api_url": "https://127.0.0.1:$pve_port", "ca_file": "$work/certs/ca.pem",
          "token_id": "pbk-agent@pve!guard", "token_secret_file": "$work/pve-token",
          "pvesh": "$work/pvesh"},
  "paths": {"hook_script": "$work/vzdump-uptime-kuma-hook.sh", "state_dir": "$work/state",
            "scheduler_dir": "$work/jobs", "jobs_cfg": "$pve/jobs.cfg",
            "vzdump_cron": "$pve/vzdump.cron"}
}
JSON
chmod 600 "$work/config.json"
sed -e "s/$token/****/" -e "s/$db_token/****/" -e "s/$legacy_token/****/" -e "s/$node_token/****/" \
  "$work/config.json"
"$bin/pbk-agent" --config "$work/config.json" check-config

say "The hook wrapper vzdump runs (on a node: /var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh)"
sed -e "s#@PBK_BINARY@#$bin/pbk-agent#" -e "s#@PBK_CONFIG@#$work/config.json#" \
  "$source_dir/hook/vzdump-uptime-kuma-hook.sh.in" >"$work/vzdump-uptime-kuma-hook.sh"
chmod 755 "$work/vzdump-uptime-kuma-hook.sh"
grep -v '^#' "$work/vzdump-uptime-kuma-hook.sh"

say "pbk-agent guard: read through the API with the read-only token, fix through pvesh"
"$bin/pbk-agent" --config "$work/config.json" guard 2>&1 | sed 's/^/  journal | /' || true
echo "  (pvesh calls: $(wc -l <"$work/pvesh.log"), API requests: $(grep -c '"event": *"request"' "$work/pve.log"))"

say "pbk-agent jobs"
"$bin/pbk-agent" --config "$work/config.json" jobs 2>/dev/null | sed 's/^/  /'

run_job() {
  local name=$1 what=$2 scenario=$3
  say "vzdump run: $what"
  printf '%s\n' "$scenario" >"$work/$name.json"
  "$bin/pbk-vzdump-sim" --hook "$work/vzdump-uptime-kuma-hook.sh" --scenario "$work/$name.json" \
    --summary "$work/$name.summary.json" --scheduler-dir "$work/jobs" | sed 's/^/  task log | /' || true
}

run_job all-ok "scheduled job $job, three guests" \
  '{"storage": "pbs1", "job_id": "'"$job"'", "guests": [
  {"vmid": 100, "type": "qemu", "name": "web01", "run": "snapshot", "archive_seconds": 0.4},
  {"vmid": 101, "type": "lxc", "name": "db01", "run": "snapshot", "archive_seconds": 0.2},
  {"vmid": 102, "type": "qemu", "name": "mail", "run": "stopped"}]}'

run_job one-fails "scheduled job $db_job, stop mode, one guest fails" \
  '{"storage": "pbs1", "job_id": "'"$db_job"'", "guests": [
  {"vmid": 110, "type": "qemu", "name": "pg01", "run": "stop", "archive_seconds": 0.3},
  {"vmid": 111, "type": "lxc", "name": "pg02", "run": "fail-archive"}]}'

run_job run-now "\"Run now\" of the former legacy job (no scheduler file: found by storage and guests)" \
  '{"storage": "local", "dumpdir": "/var/lib/vz/dump", "guests": [
  {"vmid": 100, "type": "qemu", "name": "web01", "run": "snapshot", "archive_seconds": 0.2},
  {"vmid": 101, "type": "lxc", "name": "db01", "run": "snapshot", "archive_seconds": 0.1}]}'

say "pbk-agent refresh: every job's current state and the node's health (the timer runs it every 5 minutes)"
"$bin/pbk-agent" --config "$work/config.json" refresh 2>&1 | sed 's/^/  journal | /' || true

say "What arrived at Uptime Kuma"
/usr/bin/python3 - "$work/kuma.log" "$work/config.json" <<'PY'
import json, sys, time
config = json.load(open(sys.argv[2]))
jobs = {job["push_token"]: id for id, job in config["jobs"].items()}
jobs[config["node_monitor"]["push_token"]] = "the node (node monitor)"
for line in open(sys.argv[1]):
    event = json.loads(line)
    if event.get("event") != "request":
        continue
    q = event.get("query") or {}
    print("  %s  HTTP %s  monitor of %s\n            status=%s ping=%s msg=%s" % (
        time.strftime("%H:%M:%S", time.localtime(event["time"])), event["answered"],
        jobs.get(event["token"], "an unknown token"), q.get("status"), q.get("ping"), q.get("msg")))
PY

say "The seed's manual test: vzdump-uptime-kuma-hook.sh job-end ok $legacy_job"
env -i "$work/vzdump-uptime-kuma-hook.sh" job-end ok "$legacy_job"

say "pbk-agent verify"
"$bin/pbk-agent" --config "$work/config.json" verify | sed 's/^/  /' || true

say "Secret check: the push token in task logs, state and spool files"
leaks=$(grep -rlF -e "$token" -e "$db_token" -e "$legacy_token" -e "$node_token" -e "$api_secret" "$work" \
  --exclude=kuma.log --exclude=config.json --exclude=pve-token --exclude=pve-tokens.json || true)
if [ -n "$leaks" ]; then echo "FOUND in: $leaks"; exit 1; fi
echo "push tokens and the API secret appear nowhere but in config.json, the secret file and the emulators' own files"
echo
echo "Demo files are in $work"
