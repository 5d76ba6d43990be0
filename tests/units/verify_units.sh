#!/usr/bin/env bash
# The systemd units, checked by systemd itself: `systemd-analyze verify` on
# the generated units (pointed at the built binary, which must exist for
# verify to pass), a broken copy that it must reject (so a pass means
# something), and what the units must say.
# usage: verify_units.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

for unit in vzdump-hook-guard.path vzdump-hook-guard.timer vzdump-hook-guard.service; do
  [ -f "$build/units/$unit" ] || fail "$unit was not generated"
  sed -e "s#/usr/bin/pbk-agent#$build/bin/pbk-agent#g" \
      -e "s#/etc/pbk-agent/config.json#$work/config.json#g" \
      "$build/units/$unit" >"$work/$unit"
done

out=$(cd "$work" && systemd-analyze verify vzdump-hook-guard.path vzdump-hook-guard.timer \
  vzdump-hook-guard.service 2>&1) || fail "systemd-analyze verify rejected the units: $out"
[ -z "$out" ] || fail "systemd-analyze verify complained: $out"
echo "systemd-analyze verify: the three units pass"

# The same check on a copy with a misspelt directive must fail.
mkdir "$work/broken"
sed 's/^ExecStart=/ExecStrat=/' "$work/vzdump-hook-guard.service" >"$work/broken/vzdump-hook-guard.service"
if (cd "$work/broken" && systemd-analyze verify vzdump-hook-guard.service >/dev/null 2>&1); then
  fail "systemd-analyze verify accepted a broken unit: the check proves nothing here"
fi
echo "systemd-analyze verify: a broken copy is rejected"

grep -qx 'PathChanged=/etc/pve/jobs.cfg' "$work/vzdump-hook-guard.path" || fail "path unit misses jobs.cfg"
grep -qx 'PathChanged=/etc/pve/vzdump.cron' "$work/vzdump-hook-guard.path" || fail "path unit misses vzdump.cron"
grep -qx "PathChanged=$work/config.json" "$work/vzdump-hook-guard.path" ||
  fail "path unit does not start the service when the configuration is written"
grep -qx 'Type=oneshot' "$work/vzdump-hook-guard.service" || fail "service is not oneshot"
# The guard rewrites /etc/vzdump.conf by renaming a new file over it: /etc
# must stay writable (ProtectSystem=full or strict would make it read-only).
grep -qx 'ProtectSystem=true' "$work/vzdump-hook-guard.service" ||
  fail "service does not keep /etc writable (ProtectSystem=true) for /etc/vzdump.conf"
# guard, kuma sync, flush, refresh in this order; the first three may fail
# without stopping the rest, refresh decides the unit's result. The sync
# comes before flush and refresh, which push with the tokens it writes.
steps=$(sed -n 's/^ExecStart=//p' "$work/vzdump-hook-guard.service" | sed -E 's/ --config [^ ]+//')
expected="-$build/bin/pbk-agent guard
-$build/bin/pbk-agent kuma sync --service
-$build/bin/pbk-agent flush
$build/bin/pbk-agent refresh --service"
[ "$steps" = "$expected" ] ||
  fail "service steps are not guard, kuma sync --service, flush, refresh --service: $steps"
# Every step names the rendered configuration.
[ "$(grep -c "^ExecStart=-\{0,1\}$build/bin/pbk-agent --config $work/config.json " \
  "$work/vzdump-hook-guard.service")" = 4 ] || fail "a step does not pass --config"
! grep -q '^ExecStopPost=' "$work/vzdump-hook-guard.service" || fail "service still flushes in ExecStopPost"
grep -qx 'OnBootSec=2min' "$work/vzdump-hook-guard.timer" || fail "timer does not start soon after boot"
grep -qx 'OnUnitActiveSec=5min' "$work/vzdump-hook-guard.timer" || fail "timer does not repeat"
grep -q '^RandomizedDelaySec=' "$work/vzdump-hook-guard.timer" || fail "timer is not randomized"
for unit in path timer service; do
  grep -q '^Documentation=' "$work/vzdump-hook-guard.$unit" || fail "$unit has no Documentation="
done

exposure=$(systemd-analyze security --offline=true "$work/vzdump-hook-guard.service" 2>/dev/null |
  sed -n 's/.*Overall exposure level for vzdump-hook-guard.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "systemd-analyze security gave no exposure level"
echo "systemd-analyze security: exposure $exposure"
# A regression guard, not a figure: the hardening block must stay in place.
awk -v e="$exposure" 'BEGIN { exit !(e <= 4.0) }' || fail "exposure $exposure is above 4.0"
echo "units OK"
