#!/bin/bash
# Shows fake_pve.py and fake_pvesh.py at work with curl and a pvesh wrapper,
# on the reference jobs.cfg and vzdump.cron. Needs curl, jq and openssl.
# usage: pve_fakes_check.sh CERT-DIR
#   CERT-DIR/c and CERT-DIR/k are the server certificate and key for
#   127.0.0.1; they are made there when missing.
# shellcheck disable=SC2016  # jq programs interpolate with their own \(...)
set -u
certs=$(realpath "${1:?usage: $0 CERT-DIR}")
fakes=$(dirname "$(realpath "$0")")
work=$(mktemp -d)
root=$work/root
server_pid=
# shellcheck disable=SC2317  # runs from the trap
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$certs" "$root"
if [ ! -s "$certs/c" ] || [ ! -s "$certs/k" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$certs/k" -out "$certs/c" 2>/dev/null || exit 1
fi

printf '%s\n' 'vzdump: backup-8d6f3a2c-1b4e' $'\tschedule 21:00' $'\tall 1' \
  $'\tcompress zstd' $'\tenabled 1' $'\tmode snapshot' $'\tnotes-template {{guestname}}' \
  $'\tprune-backups keep-daily=7,keep-weekly=4' \
  $'\tscript /var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh' $'\tstorage pbs-main' '' \
  'vzdump: backup-5c01e9aa-73d2' $'\tcomment DB servers' $'\tschedule sat 02:30' \
  $'\tenabled 0' $'\tmode stop' $'\tnode pve2' $'\tstorage local' $'\tvmid 110,111' '' \
  'realm-sync: sync-ldap' $'\tschedule daily' $'\trealm ldap' >"$root/jobs.cfg"
cat >"$root/vzdump.cron" <<'EOF'
# cluster wide vzdump cron schedule
# Automatically generated file - do not edit

PATH="/usr/sbin:/usr/bin:/sbin:/bin"

0 1 * * 6           root vzdump 100 101 --mode snapshot --compress zstd --storage local --quiet 1
30 22 * * 1,2,3,4,5 root vzdump --all 1 --exclude 105 --storage nfs-backup --mode snapshot --quiet 1
15 3 * * *          root #vzdump 200 --mode stop --storage local --quiet 1
EOF
echo '[{"vmid":100,"node":"pve1","type":"qemu","name":"web01","status":"running","pool":"prod","template":0},
{"vmid":200,"node":"pve2","type":"lxc","name":"db01","status":"stopped","template":0},
{"id":"storage/pve1/local","node":"pve1","type":"storage","storage":"local"}]' >"$root/resources.json"
cp "$root/jobs.cfg" "$work/jobs.cfg.before"

guard_secret=$(cat /proc/sys/kernel/random/uuid)
ops_secret=$(cat /proc/sys/kernel/random/uuid)
cat >"$work/tokens.json" <<EOF
{"pbk-agent@pve!guard": {"secret": "$guard_secret", "privs": ["Sys.Audit"]},
 "admin@pve!ops": {"secret": "$ops_secret", "privs": ["Sys.Audit", "Sys.Modify"]}}
EOF
guard="Authorization: PVEAPIToken=pbk-agent@pve!guard=$guard_secret"
ops="Authorization: PVEAPIToken=admin@pve!ops=$ops_secret"

printf '#!/bin/sh\nexec /usr/bin/python3 %s/fake_pvesh.py --root %s --log %s "$@"\n' \
  "$fakes" "$root" "$work/pvesh.log" >"$work/pvesh"
chmod +x "$work/pvesh"
pvesh=$work/pvesh

/usr/bin/python3 "$fakes/fake_pve.py" --root "$root" --cert "$certs/c" --key "$certs/k" \
  --port-file "$work/port" --log "$work/api.log" --tokens "$work/tokens.json" \
  2>"$work/server.err" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
api=https://127.0.0.1:$(cat "$work/port")/api2/json

failures=0
check() {  # check DESCRIPTION COMMAND...
  if "${@:2}"; then echo "  ok: $1"; else echo "  FAILED: $1"; failures=$((failures + 1)); fi
}
jqt() { jq -e "$@" >/dev/null; }
# Every answer is kept, so that the secret scan at the end sees them all.
get() {  # get TOKEN-HEADER PATH [CURL-ARGS...]: the body; the status in $work/status
  local header=$1 path=$2 out
  shift 2
  out=$(mktemp "$work/answer.XXXXXX")
  curl -sS --cacert "$certs/c" -H "$header" -o "$out" -w '%{http_code}' "$@" \
    "$api$path" >"$work/status" 2>>"$work/curl.err"
  cat "$out"
}
status_is() { [ "$(cat "$work/status")" = "$1" ]; }
show_ids() {
  jq -r '.[] | "    \(.id)  \(.type // "legacy")  schedule=\(.schedule)" +
    "  enabled=\(.enabled|tojson)  script=\(.script // "-")"'
}

echo "### GET /cluster/backup (token pbk-agent@pve!guard, Sys.Audit)"
get "$guard" /cluster/backup | jq .data >"$work/list.json"
show_ids <"$work/list.json"
sha=$(sha1sum "$root/vzdump.cron" | cut -d' ' -f1)
echo "    sha1sum vzdump.cron = $sha"
check "3 legacy jobs then 2 vzdump jobs, no realm-sync" \
  jqt 'map(.type // "legacy") == ["legacy","legacy","legacy","vzdump","vzdump"]' "$work/list.json"
check "legacy ids are <sha1sum>:1..3" \
  jqt --arg s "$sha" 'map(.id)[:3] == ["\($s):1","\($s):2","\($s):3"]' "$work/list.json"
check "jobs.cfg types: numbers, strings, property string as object of strings" \
  jqt '.[3] | .all == 1 and .enabled == 1 and .compress == "zstd" and
    .["prune-backups"] == {"keep-daily":"7","keep-weekly":"4"} and (.["next-run"]|type) == "number"' \
  "$work/list.json"
check "legacy fields: enabled \"1\"/\"\", vmid \"100,101\", dow, schedule, no next-run when disabled" \
  jqt '.[0].enabled == "1" and .[0].vmid == "100,101" and .[0].schedule == "sat 01:00" and
    .[1].schedule == "mon,tue,wed,thu,fri 22:30" and .[2].enabled == "" and .[2].schedule == "03:15" and
    (.[2] | has("next-run") | not)' "$work/list.json"
one=$(get "$guard" /cluster/backup/backup-5c01e9aa-73d2)
check "GET one job: same object, no next-run" \
  jqt '.data | .id == "backup-5c01e9aa-73d2" and .vmid == "110,111" and (has("next-run") | not)' <<<"$one"
check "GET /cluster/resources?type=vm: the guests only" \
  jqt '.data | map(.vmid) == [100,200]' <<<"$(get "$guard" /cluster/resources?type=vm)"

echo "### PUT as a token"
body=$(get "$ops" /cluster/backup/backup-8d6f3a2c-1b4e -X PUT --data script=/tmp/other.sh)
echo "    Sys.Modify token, script: $(cat "$work/status") $body"
check "token PUT of script: 400 Only root may set this option." \
  jqt '.errors.script == "Only root may set this option."' <<<"$body"
get "$guard" /cluster/backup/backup-8d6f3a2c-1b4e -X PUT --data comment=x >/dev/null
check "Sys.Audit token PUT: 403" status_is 403
body=$(get "$ops" /cluster/backup/backup-8d6f3a2c-1b4e -X PUT --data hook=/x)
echo "    unknown parameter: $(cat "$work/status") $body"
check "PUT with an unknown parameter: 400" status_is 400
body=$(get "$ops" /cluster/backup/backup-8d6f3a2c-1b4e -X PUT --data zstd=many)
check "PUT with a bad integer: 400 type check" \
  jqt '.errors.zstd == "type check ('"'integer'"') failed - got '"'many'"'"' <<<"$body"
get "$ops" /cluster/backup/nope -X PUT --data comment=x >/dev/null
check "PUT of an unknown job: 500" status_is 500
get "nothing: here" /cluster/backup >/dev/null
check "no token: 401" status_is 401

echo "### pvesh set --script on backup-8d6f3a2c-1b4e"
"$pvesh" set /cluster/backup/backup-8d6f3a2c-1b4e --script /opt/pbk/hook.sh
echo "    exit $?; diff of jobs.cfg:"
diff "$work/jobs.cfg.before" "$root/jobs.cfg" | sed 's/^/    /'
check "only that section's script line changed" \
  test "$(diff "$work/jobs.cfg.before" "$root/jobs.cfg" | grep -c '^[<>]')" = 2

echo "### pvesh set --script on legacy $sha:1"
"$pvesh" set "/cluster/backup/$sha:1" --script /opt/pbk/hook.sh
echo "    exit $?; vzdump.cron now:"
sed 's/^/    /' "$root/vzdump.cron"
"$pvesh" get /cluster/backup --output-format json >"$work/list2.json"
show_ids <"$work/list2.json"
sha2=$(sha1sum "$root/vzdump.cron" | cut -d' ' -f1)
check "the job moved to jobs.cfg under the same id, with schedule \"sat 01:00\"" \
  grep -qxF "vzdump: $sha:1" "$root/jobs.cfg"
check "the two remaining legacy ids are <new sha1>:1..2" \
  jqt --arg s "$sha2" --arg old "$sha" \
  'map(select(has("type") | not) | .id) == ["\($s):1","\($s):2"] and $s != $old and
   (.[-1] | .id == "\($old):1" and .schedule == "sat 01:00" and .script == "/opt/pbk/hook.sh")' \
  "$work/list2.json"
check "pvesh JSON is one line with sorted keys" \
  test "$(wc -l <"$work/list2.json")" = 1
"$pvesh" set /cluster/backup/nope --script /x 2>"$work/err"
check "pvesh on an unknown job: exit 255, no such vzdump job" \
  test "$?" = 255 -a "$(cat "$work/err")" = "no such vzdump job"
"$pvesh" set /cluster/backup/backup-8d6f3a2c-1b4e --hook /x 2>"$work/err"
check "pvesh with an unknown option: exit 255, 400 Parameter verification failed." \
  test "$?" = 255 -a "$(head -1 "$work/err")" = "400 Parameter verification failed."
touch "$root/no-quorum"
"$pvesh" set /cluster/backup/backup-8d6f3a2c-1b4e --delete script 2>"$work/err"
check "no quorum: $(cat "$work/err")" grep -q "no quorum!" "$work/err"
get "$ops" /cluster/backup/backup-8d6f3a2c-1b4e -X PUT --data comment=x >/dev/null
check "no quorum over REST: 500" status_is 500
rm "$root/no-quorum"

echo "### api-mode"
for mode in 401 403 500 malformed truncated slow:1 hang; do
  echo "$mode" >"$root/api-mode"
  start=$(date +%s.%N)
  : >"$work/answer.$mode"
  curl -sS -m 2 --cacert "$certs/c" -H "$guard" -o "$work/answer.$mode" -w '%{http_code}' \
    "$api/version" >"$work/status" 2>"$work/err"
  rc=$?
  took=$(echo "$(date +%s.%N) - $start" | bc)
  printf '    %-10s curl exit %-2s status %s after %.1fs  body: %s %s\n' "$mode" "$rc" \
    "$(cat "$work/status")" "$took" "$(head -c 60 "$work/answer.$mode")" "$(cut -c1-50 "$work/err")"
done
rm "$root/api-mode"
check "normal again after removing api-mode" \
  test "$(get "$guard" /version | jq -r .data.version)" = 9.2.11

echo "### pvesh-mode"
for mode in fail slow:1 hang; do
  echo "$mode" >"$root/pvesh-mode"
  start=$(date +%s.%N)
  timeout 2 "$pvesh" get /version --output-format json >"$work/out" 2>"$work/err"
  rc=$?
  took=$(echo "$(date +%s.%N) - $start" | bc)
  printf '    %-7s exit %-3s after %.1fs  stdout: %s stderr: %s\n' "$mode" "$rc" "$took" \
    "$(cat "$work/out")" "$(cat "$work/err")"
done
rm "$root/pvesh-mode"
echo "    pvesh log:"
tail -4 "$work/pvesh.log" | sed 's/^/    /'

echo "### logs"
echo "    last REST log line: $(tail -1 "$work/api.log")"
check "no secret in any log or answer" \
  test -z "$(grep -rlF -e "$guard_secret" -e "$ops_secret" "$work" --exclude=tokens.json)"

echo "### SIGTERM with a hung connection"
echo hang >"$root/api-mode"
curl -sS -m 10 --cacert "$certs/c" -H "$guard" "$api/version" >/dev/null 2>&1 &
curl_pid=$!
sleep 0.5
start=$(date +%s.%N)
kill -TERM "$server_pid"
wait "$server_pid"
rc=$?
took=$(echo "$(date +%s.%N) - $start" | bc)
server_pid=
wait "$curl_pid"
echo "    fake_pve.py exit $rc after ${took}s"
check "ended within a second, status 0" test "$rc" = 0 -a "$(echo "$took < 1" | bc)" = 1

echo
if [ "$failures" -ne 0 ]; then echo "$failures check(s) FAILED"; exit 1; fi
echo "all checks passed"
