#!/bin/bash
# Shows what pbk-vzdump-sim does to a hook: phase order, arguments, the exact
# environment, the parent's cmdline and the pipe timing. Needs jq.
# usage: vzdump_sim_check.sh PATH/TO/pbk-vzdump-sim
set -eu
sim=$(realpath "${1:?usage: $0 PATH/TO/pbk-vzdump-sim}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/jobs" "$work/dump"

# The hook runs with an empty environment, hence the full command paths. It
# reads /proc/$$/environ rather than running env, because the shell adds PWD
# to its own environment and that would hide what execve really received.
sed "s|@WORK@|$work|" >"$work/hook" <<'EOF'
#!/bin/sh
dir=@WORK@
{
  echo "== $*"
  /usr/bin/tr '\0' '\n' </proc/$$/environ | /usr/bin/sort | /usr/bin/sed 's/^/   env: /'
  echo "   parent: $(/usr/bin/tr '\0' ' ' </proc/$PPID/cmdline)"
} >>"$dir/hook.log"
echo "hook saw $*"
[ "$1" = job-start ] && echo "a line on stderr" >&2
if [ "$1" = job-end ] && [ -e "$dir/linger" ]; then /bin/sleep 3 & fi
fail=$(/bin/cat "$dir/fail" 2>/dev/null)
if [ "$fail" = "$1" ] || [ "$fail" = "$1 $3" ]; then exit 1; fi
exit 0
EOF
chmod +x "$work/hook"

failures=0
# shellcheck disable=SC2317  # called through check
jq_true() { jq -e "$1" "$2" >/dev/null; }
check() {  # check DESCRIPTION COMMAND...
  if "${@:2}"; then echo "  ok: $1"; else echo "  FAILED: $1"; failures=$((failures + 1)); fi
}

run() {  # run NAME FAIL-SPEC SCENARIO-JSON [SIMULATOR-ARGS...]
  local name=$1 fail=$2 scenario=$3 rc=0
  shift 3
  : >"$work/hook.log"
  printf '%s' "$fail" >"$work/fail"
  printf '%s\n' "$scenario" >"$work/$name.json"
  "$sim" --hook "$work/hook" --scenario "$work/$name.json" \
    --summary "$work/$name.summary" "$@" >"$work/$name.out" || rc=$?
  echo
  echo "### $name (hook fails: '${fail:-nothing}'): exit $rc," \
    "$(jq -r '"task_status=\(.task_status|tojson) guests=\(.guests|tojson)"' "$work/$name.summary")"
  jq -r '.calls[] | "  \(.args|join(" "))\(if .exit != 0 then "  -> exit \(.exit)" else "" end)"' \
    "$work/$name.summary"
  summary=$work/$name.summary
}

pbs='"storage":"pbs1","dumpdir":null'
dir='"storage":"local","dumpdir":"'$work'/dump/"'

run snapshot "" '{'"$pbs"',"job_id":"backup-1a2b","job_config":{"schedule":"21:00"},"guests":[
  {"vmid":101,"type":"lxc","name":"db01","run":"fail-archive"},
  {"vmid":100,"type":"qemu","name":"web01","run":"snapshot","archive_seconds":0.3}]}' \
  --scheduler-dir "$work/jobs"
echo "  scheduler file: $(cat "$work/jobs/vzdump-backup-1a2b.json")"
echo "  hook log of job-init, job-start and the first backup-start:"
awk '/^== /{show = /^== (job-init|job-start|backup-start snapshot 100)$/} show' "$work/hook.log"
sed -n '1,3p' "$work/snapshot.out" | sed 's/^/  task log: /'
pid=$(jq .pid "$summary")
upid=$(jq -r .upid "$summary")
check "no PATH or HOME in any call" bash -c "! grep -Eq '   env: (PATH|HOME)=' '$work/hook.log'"
check "only vzdump's variables" bash -c "! grep '   env: ' '$work/hook.log' | grep -Evq \
  'env: (LC_ALL|LVM_SUPPRESS_FD_WARNINGS|STOREID|DUMPDIR|VMTYPE|HOSTNAME|TARGET|LOGFILE)='"
check "every parent cmdline starts with 'task $upid'" test \
  "$(grep -cF "   parent: task $upid " "$work/hook.log")" = "$(grep -c '   parent: ' "$work/hook.log")"
check "UPID pid field equals simulator pid $pid" \
  test "$(printf '%d' "0x$(cut -d: -f3 <<<"$upid")")" = "$pid"
check "archive_seconds lies between backup-start and backup-end" jq_true '[.calls[] |
  select(.args[2] == "100" and (.phase | test("^backup-(start|end)$"))) | .start_ms] |
  .[1] - .[0] >= 300' "$summary"

run stop-modes "" '{'"$dir"',"guests":[
  {"vmid":100,"type":"qemu","name":"web01","run":"stop"},
  {"vmid":101,"type":"lxc","name":"db01","run":"stopped"},
  {"vmid":102,"type":"qemu","name":"app01","run":"suspend"},
  {"vmid":103,"type":"lxc","run":"suspend"}]}'
jq -r '.calls[] | select(.phase == "backup-end" or .phase == "job-init") |
  "  env at \(.args|join(" ")): \(.env|tojson)"' "$summary"

run fail-early "" '{'"$pbs"',"guests":[{"vmid":100,"run":"fail-early"},
  {"vmid":101,"type":"qemu","name":"web01","run":"snapshot"}]}'
jq -r '.calls[] | select(.args[2] == "100") | "  env at \(.args|join(" ")): \(.env|tojson)"' "$summary"

run backup-start-fails "backup-start 101" '{'"$pbs"',"guests":[
  {"vmid":100,"type":"qemu","name":"a","run":"snapshot"},
  {"vmid":101,"type":"qemu","name":"b","run":"snapshot"},
  {"vmid":102,"type":"qemu","name":"c","run":"snapshot"}]}'

run job-init-fails "job-init" '{'"$pbs"',"guests":[{"vmid":100,"type":"qemu","run":"snapshot"}]}'
run job-start-fails "job-start" '{'"$pbs"',"guests":[{"vmid":100,"type":"qemu","run":"snapshot"}]}'
run storage-fails "" '{'"$pbs"',"fail_job_start":true,"guests":[{"vmid":100,"type":"qemu","run":"snapshot"}]}'
run job-end-fails "job-end" '{'"$pbs"',"guests":[{"vmid":100,"type":"qemu","run":"snapshot"}]}'
run aborted "" '{'"$pbs"',"abort_after_guest":1,"guests":[
  {"vmid":100,"type":"qemu","run":"snapshot"},{"vmid":101,"type":"qemu","run":"snapshot"}]}'

run no-upid "" '{'"$pbs"',"guests":[{"vmid":100,"type":"qemu","run":"stopped"}]}' --no-upid
echo "  $(grep -m1 '   parent: ' "$work/hook.log")"

touch "$work/linger"
run lingering-child "" '{'"$pbs"',"guests":[{"vmid":100,"type":"qemu","run":"snapshot"}]}'
rm "$work/linger"
jq -r '.calls[] | select(.phase == "job-end") |
  "  job-end: exit_ms=\(.exit_ms) eof_ms=\(.eof_ms) stdout=\(.stdout|tojson)"' "$summary"
check "eof_ms >= 2900 while exit_ms < 1000" jq_true '.calls[] | select(.phase == "job-end") |
  .eof_ms >= 2900 and .exit_ms < 1000' "$summary"

echo
echo "$failures check(s) failed"
exit $((failures > 0))
