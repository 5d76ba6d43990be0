#!/usr/bin/env bash
# Tests of the Ansible role proxmox-backup-push (ansible/), and of the
# package's own life cycle, on real Debian 12 systems on this machine.
#
# usage: run_role_tests.sh [--lint-only | --no-lint] DEB
#
# Without an option it runs all of the following; --lint-only runs only 1
# (no root, package or chroot needed), --no-lint all but 1.
#   1. ansible-lint (production profile) on the role and the example
#      playbook; ansible-playbook --syntax-check.
#   2. ansible-playbook site.yml applies the role to two Debian 12 chroots
#      (pve1, pve2: one PVE cluster, so they share /etc/pve), reached through
#      the community.general.chroot connection plugin. Fake pveum, pvesh and
#      systemctl in each chroot, a fake PVE REST API per node and a fake
#      Uptime Kuma on 127.0.0.1, so that `pbk-agent verify` passes for real.
#      Before that, a Kuma URL by name is refused by the preconditions.
#   3. A second run reports changed=0 for every host; so does --check.
#   4. A third host (pve3, joining the cluster) is added to proxmox_hosts:
#      it is brought in, pve1 and pve2 report changed=0. Then on pve3: the
#      token secret is lost (the role stops and says how to fix it; with
#      pbk_api_token_recreate=true it recreates the token); pvesh fails (the
#      play fails naming the job without the hook); a push token for a job
#      that does not exist (verify's FAIL fails the play). The seed's manual
#      test pushes through the hook wrapper on pve1 to the fake Kuma.
#   5. The monitors pbk-agent makes, with the real Uptime Kuma from npm
#      (tests/e2e/kuma.sh) on 127.0.0.1 and its first user: the play with
#      pbk_kuma_monitors and a Kuma admin but no push tokens in host_vars. A
#      wrong password stops it with Kuma's words; then `kuma login` and
#      `kuma sync` run once (on one node), every node's verify passes with
#      the tokens of the monitors file, a second run changes nothing (the
#      stored session is used), and a push through pve2's hook lands in its
#      monitor in Kuma.
#   6. The package alone in a fresh chroot (the README's "Install" and
#      "Uninstalling"): installed, the path and timer units are enabled and
#      started; a configuration written, check-config passes and verify says
#      both units are enabled and active, and FAILs naming a stopped timer.
#      apt remove keeps the configuration, the admin's files and the state
#      and leaves a stub hook; apt purge drops the configuration and the
#      state but keeps the admin's CA and token files and the spooled
#      results; PBK_PURGE_SPOOL=yes drops those too.
# Prints the figures at the end (apply times for 2 and 3 targets, the second
# run's changed count). Exits 77 (skipped) without root or when a tool is
# missing, 1 on any failure, 2 on a usage error.
#
# The chroot (debootstrap minbase + python3 + python3-apt, apt lists of the
# same mirror as this machine) is made once and kept as
# $PBK_TEST_CACHE/chroot-bookworm.tar.zst (default /var/cache/pbk-agent-tests),
# with the packages apt downloaded into the targets beside it
# (chroot-bookworm.apt-archives); every target is a fresh copy. Everything
# else lives in a temporary folder under /var/tmp (the chroots in a tmpfs
# inside it when there is memory) that is removed at the end, after
# unmounting what the test mounted, also on failure; PBK_KEEP_WORK=1
# PBK_TEST_TMPFS=0 keeps it, chroots included. Every process the test starts
# is stopped by its PID. Only debootstrap and the first apt install of the
# package's dependencies need the network (the Debian mirror).
# pbk-test-certs: $PBK_TEST_CERTS (ctest sets it), else build/bin/pbk-test-certs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/../.." && pwd)
fakes=$repo/tests/fakes
ansible_dir=$repo/ansible
cache_dir=${PBK_TEST_CACHE:-/var/cache/pbk-agent-tests}
chroot_cache=$cache_dir/chroot-bookworm.tar.zst

test_started=$(date +%s)
say() { echo "== $*  [$(($(date +%s) - test_started)) s]"; }
skip() { echo "SKIPPED: $*"; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }

lint=1
apply=1
case "${1:-}" in
  --lint-only) apply=0; shift ;;
  --no-lint) lint=0; shift ;;
esac
deb=${1:-}
[ -n "$deb" ] && [ $# -eq 1 ] ||
  { echo "usage: $0 [--lint-only | --no-lint] DEB" >&2; exit 2; }
if [ "$lint" = 1 ]; then
  for tool in ansible-lint ansible-playbook; do
    command -v "$tool" >/dev/null || skip "$tool is not installed"
  done
fi
if [ "$apply" = 1 ]; then
  [ -f "$deb" ] || die "no package at $deb (ctest's ansible.package makes it; or ./run.sh package)"
  deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
  [ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, mount)"
  for tool in ansible-playbook ansible-doc debootstrap zstd tar chroot mount umount mountpoint \
              flock python3 dpkg-query; do
    command -v "$tool" >/dev/null || skip "$tool is not installed"
  done
  ansible-doc -t connection -l 2>/dev/null | grep -q '^community.general.chroot ' ||
    skip "Ansible's community.general.chroot connection plugin is not installed"
fi

# --- everything started or mounted is undone at the end ------------------------
# unmount_under DIR: every mount below DIR, deepest first; a busy one is
# detached lazily rather than left.
unmount_under() {
  awk -v w="$1/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r mnt; do umount "$mnt" 2>/dev/null || umount -l "$mnt"; done
}
# A run killed without a chance to clean up (SIGKILL, e.g. a ctest timeout)
# leaves its folder, which names its PID: undo that first.
if [ "$(id -u)" -eq 0 ]; then
  for stale in /var/tmp/pbk-role-tests.*; do
    [ -f "$stale/pid" ] || continue
    kill -0 "$(cat "$stale/pid")" 2>/dev/null && continue
    unmount_under "$stale" || true
    grep -q " $stale/" /proc/mounts || rm -rf --one-file-system "$stale" || true
  done
fi

work=""
pids=()
cleanup() {
  local status=$?
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "$work" ] && [ -d "$work" ]; then
    unmount_under "$work"
    if grep -q " $work/" /proc/mounts; then
      echo "WARNING: mounts left under $work; not deleting it" >&2
    elif [ "${PBK_KEEP_WORK:-0}" = 1 ]; then
      rm -f "$work/pid"
      echo "kept $work (PBK_KEEP_WORK=1)"
    else
      rm -rf --one-file-system "$work"
    fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

work=$(mktemp -d /var/tmp/pbk-role-tests.XXXXXX)
echo $$ >"$work/pid"
logs=$work/logs
mkdir -p "$logs"
# Only this configuration: nothing from /etc/ansible or ~/.ansible.cfg.
cat >"$work/ansible.cfg" <<EOF
[defaults]
forks = 5
retry_files_enabled = False
# Modules go through the chroot connection on stdin, not as copied files.
pipelining = True
nocolor = True
local_tmp = $work/ansible-local
EOF
export ANSIBLE_CONFIG=$work/ansible.cfg

# --- 1. lint and syntax -----------------------------------------------------------
if [ "$lint" = 1 ]; then
  say "ansible-lint --profile production (role and example playbook)"
  (cd "$ansible_dir" && ansible-lint --offline --nocolor --profile production \
    site.yml roles/proxmox-backup-push) >"$logs/ansible-lint.txt" 2>&1 || {
    cat "$logs/ansible-lint.txt"
    die "ansible-lint reported problems"
  }
  tail -n 1 "$logs/ansible-lint.txt"
  say "ansible-playbook --syntax-check"
  (cd "$ansible_dir" && ansible-playbook -i inventory.example.yml --syntax-check site.yml) \
    >"$logs/syntax.txt" 2>&1 || { cat "$logs/syntax.txt"; die "syntax check failed"; }
  tail -n 1 "$logs/syntax.txt"
fi
if [ "$apply" = 0 ]; then
  say "PASS (lint only)"
  exit 0
fi

# --- the chroot cache and the certificates ---------------------------------------
say "chroot cache $chroot_cache"
cache_started=$(date +%s)
"$here/make_chroot.sh" "$chroot_cache"
cache_seconds=$(($(date +%s) - cache_started))
# The packages apt downloads into the targets (the package's dependencies)
# are kept beside the chroot and copied into every new target, so later runs
# need no network; make_chroot.sh empties the folder when it makes a new
# chroot. (Each target has its own apt cache: apt does not wait for another
# apt's lock on a shared one.)
apt_archives=${chroot_cache%.tar.zst}.apt-archives
mkdir -p "$apt_archives"
keep_downloads() {
  local name
  for name in "$@"; do
    find "$nodes/$name/root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' ! -name 'pbk-agent_*' \
      -exec cp -n -t "$apt_archives/" {} +
  done
}

certs_tool=${PBK_TEST_CERTS:-$repo/build/bin/pbk-test-certs}
[ -x "$certs_tool" ] || { echo "no pbk-test-certs at $certs_tool: build first, or set PBK_TEST_CERTS" >&2; exit 2; }
certs=$work/certs
"$certs_tool" "$certs" >/dev/null

# --- fake servers -------------------------------------------------------------------
# start_server NAME SCRIPT ARGS...: runs a fake server (its PID joins
# pids), waits for it to listen and sets server_port.
server_port=""
start_server() {
  local name=$1 script=$2
  shift 2
  python3 "$script" --port-file "$work/$name.port" --log "$logs/$name.log" "$@" \
    >"$logs/$name.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    if [ -s "$work/$name.port" ]; then
      server_port=$(cat "$work/$name.port")
      return 0
    fi
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  cat "$logs/$name.out" >&2
  die "fake server $name did not start"
}
say "fake Uptime Kuma on 127.0.0.1 (one certificate for the IP, one for a name)"
# Kuma's monitors: the nodes' push tokens, added as they are made (verify
# probes with a token that no monitor has, and wants Kuma's 404).
: >"$work/kuma-tokens"
start_server kuma "$fakes/fake_kuma.py" --cert "$certs/ip.pem" --key "$certs/ip.key" \
  --tokens-file "$work/kuma-tokens"
kuma_port=$server_port
start_server kuma-name "$fakes/fake_kuma.py" --cert "$certs/name.pem" --key "$certs/name.key" \
  --tokens-file "$work/kuma-tokens"
kuma_name_port=$server_port
echo "  https://127.0.0.1:$kuma_port (IP certificate), https://127.0.0.1:$kuma_name_port (kuma.test)"

# --- the PVE cluster all test nodes join: its /etc/pve --------------------------------
cluster=$work/cluster-alpha
mkdir -p "$cluster/priv" "$cluster/nodes"
chmod 700 "$cluster/priv"
echo '{}' >"$cluster/priv/fake-api-tokens.json"
chmod 600 "$cluster/priv/fake-api-tokens.json"
cp "$certs/ca.pem" "$cluster/pve-root-ca.pem"
cat >"$cluster/jobs.cfg" <<'EOF'
vzdump: backup-aaaa1111-0001
	schedule 21:00
	all 1
	compress zstd
	enabled 1
	mode snapshot
	notes-template {{guestname}}
	storage local

vzdump: backup-bbbb2222-0002
	schedule sat 03:00
	compress zstd
	enabled 1
	mode snapshot
	node pve1
	script /root/old-hook.sh
	storage local
	vmid 100,101

vzdump: backup-cccc3333-0003
	schedule mon..fri 22:30
	enabled 1
	mode snapshot
	node pve2
	storage local
	vmid 200

vzdump: backup-dddd4444-0004
	schedule sun 04:00
	all 1
	enabled 1
	mode stop
	node pve1
	script /usr/local/bin/site-hook.sh
	storage local
EOF
cat >"$cluster/vzdump.cron" <<'EOF'
# cluster wide vzdump cron schedule
# Automatically generated file - do not edit

PATH="/usr/sbin:/usr/bin:/sbin:/bin"

0 2 * * 6           root vzdump 100 --mode snapshot --quiet 1 --storage local
EOF
# A legacy job's id is the file's SHA-1 and its line number among the jobs.
legacy_id="$(sha1sum "$cluster/vzdump.cron" | cut -d' ' -f1):1"
excluded_job=backup-dddd4444-0004

# /etc/pve/.members as pmxcfs shows it: the cluster's nodes, and as
# "nodename" the node that reads it. The fakes outside the chroots read the
# cluster's copy (pve1's view); each chroot sees its own, bind-mounted over
# /etc/pve/.members. Rewritten in place (same inode) when a node joins.
cluster_nodes=(pve1 pve2)
members_json() {
  python3 - "$1" "${cluster_nodes[@]}" <<'EOF'
import json, sys
me, nodes = sys.argv[1], sys.argv[2:]
print(json.dumps({"nodename": me, "version": len(nodes),
                  "cluster": {"name": "alpha", "version": len(nodes), "nodes": len(nodes), "quorate": 1},
                  "nodelist": {name: {"id": i, "online": 1, "ip": f"192.0.2.{i}"}
                               for i, name in enumerate(nodes, start=1)}}))
EOF
}
write_members() {
  local name
  members_json pve1 >"$cluster/.members"
  for name in "${cluster_nodes[@]}"; do
    if [ -f "$nodes/$name/members.json" ]; then members_json "$name" >"$nodes/$name/members.json"; fi
  done
}

# --- targets --------------------------------------------------------------------------
# The chroots live in $nodes: a tmpfs when the machine has the memory for
# four of them (dpkg's fsyncs and removing ~2 GB of files cost minutes on a
# busy disk), else the disk. PBK_TEST_TMPFS=0 keeps them on disk.
nodes=$work/nodes
mkdir -p "$nodes"
available_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
if [ "${PBK_TEST_TMPFS:-1}" = 1 ] && [ "${available_kb:-0}" -gt $((8 * 1024 * 1024)) ] &&
   mount -t tmpfs -o size=5g,mode=0755 pbk-role-tests "$nodes"; then
  say "chroots in a tmpfs at $nodes"
else
  say "chroots on disk at $nodes"
fi

# make_target NAME: a fresh copy of the cached chroot with the fakes, this
# cluster's /etc/pve bind-mounted, and the node's own fake REST API.
make_target() {
  local name=$1 root=$nodes/$1/root
  mkdir -p "$root"
  zstd -dc "$chroot_cache" | tar --numeric-owner -xpf - -C "$root"
  mount -t proc proc "$root/proc"
  mkdir -p "$root/etc/pve"
  mount --bind "$cluster" "$root/etc/pve"
  members_json "$name" >"$nodes/$name/members.json"
  mount --bind "$nodes/$name/members.json" "$root/etc/pve/.members"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  find "$apt_archives" -maxdepth 1 -name '*.deb' -exec cp -t "$root/var/cache/apt/archives/" {} +
  install -d "$root/opt/pbk-fakes" "$root/var/log/pbk-fakes" "$root/var/lib/vz"
  # The hook job backup-bbbb2222-0002 ran before the guard replaced it;
  # pve1 chains it (pbk_hook_chain).
  cat >"$root/root/old-hook.sh" <<'EOF'
#!/bin/sh
echo "$*" >>/var/log/pbk-fakes/old-hook.log
EOF
  chmod 0755 "$root/root/old-hook.sh"
  install -m 0644 "$fakes/fake_pvesh.py" "$fakes/pve_state.py" "$fakes/pve_schema.py" \
    "$fakes/pve_job_files.py" "$fakes/pve_node.py" "$fakes/pmxcfs.py" "$fakes/cluster-backup.schema.json" \
    "$root/opt/pbk-fakes/"
  cat >"$root/usr/bin/pvesh" <<'EOF'
#!/bin/sh
# Fake pvesh of the role tests (tests/fakes/fake_pvesh.py) on this chroot's /etc/pve.
exec /usr/bin/python3 /opt/pbk-fakes/fake_pvesh.py --root /etc/pve --log /var/log/pbk-fakes/pvesh.log "$@"
EOF
  chmod 0755 "$root/usr/bin/pvesh"
  install -m 0755 "$here/fakes/pveum" "$root/usr/sbin/pveum"
  install -m 0755 "$here/fakes/systemctl" "$root/usr/bin/systemctl"
  # What the package's scripts and pbk-agent verify take as "systemd runs".
  mkdir -p "$root/run/systemd/system"
  # The node's API answers for this node, its node defaults from its own
  # /etc/vzdump.conf (GET /nodes/{node}/vzdump/defaults).
  start_server "pve-api-$name" "$fakes/fake_pve.py" --root "$cluster" \
    --cert "$certs/pve.pem" --key "$certs/pve.key" --tokens "$cluster/priv/fake-api-tokens.json" \
    --node "$name" --vzdump-conf "$root/etc/vzdump.conf"
  echo "$server_port" >"$nodes/$name/api-port"
}

# host_vars NAME: the node's own variables in the test inventory; its push
# tokens are new random strings, also kept in $work/NAME/tokens.json.
inventory=$work/inventory
mkdir -p "$inventory/host_vars" "$inventory/group_vars"
host_vars() {
  local name=$1 jobs=$2
  python3 - "$nodes/$name/tokens.json" "$jobs" <<'EOF'
import json, secrets, sys
jobs = sys.argv[2].split()
json.dump({job: "tok" + secrets.token_hex(10) for job in jobs}, open(sys.argv[1], "w"))
EOF
  python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1])).values()))' \
    "$nodes/$name/tokens.json" >>"$work/kuma-tokens"
  {
    echo "---"
    echo "pbk_node_name: $name"
    echo "pbk_pve_api_url: https://127.0.0.1:$(cat "$nodes/$name/api-port")"
    echo "pbk_push_tokens: $(cat "$nodes/$name/tokens.json")"
    if [ "$name" = pve1 ]; then
      echo "pbk_hook_chain: [/root/old-hook.sh]"
    fi
    if [ "$name" = pve2 ]; then
      # Name mode: Kuma's certificate carries kuma.test, not the IP.
      echo "pbk_kuma_url: https://127.0.0.1:$kuma_name_port"
      echo "pbk_kuma_server_name: kuma.test"
    fi
  } >"$inventory/host_vars/$name.yml"
}
cat >"$inventory/group_vars/proxmox_hosts.yml" <<EOF
---
pbk_kuma_url: https://127.0.0.1:$kuma_port
pbk_kuma_ca_src: $certs/ca.pem
pbk_package_source: deb
pbk_package_deb: $deb
pbk_guard_exclude: [$excluded_job]
# The default placement: the hook as vzdump's node default. The job with a
# hook of its own has it chained, so the guards take it over.
pbk_guard_placement: node
pbk_job_chains: {backup-bbbb2222-0002: [/root/old-hook.sh]}
EOF
write_inventory() {
  {
    echo "[proxmox_hosts]"
    for name in "$@"; do echo "$name ansible_host=$nodes/$name/root"; done
    echo
    echo "[proxmox_hosts:vars]"
    echo "ansible_connection=community.general.chroot"
    echo "ansible_python_interpreter=/usr/bin/python3"
  } >"$inventory/hosts.ini"
}
# play LOG ARGS...: runs site.yml against the test inventory; LOG gets the output.
play_status=0
play() {
  local log=$1
  shift
  local started
  started=$(date +%s.%N)
  play_status=0
  ansible-playbook -i "$inventory/hosts.ini" \
    "$ansible_dir/site.yml" "$@" >"$log" 2>&1 || play_status=$?
  play_seconds=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" \
    "$started" "$(date +%s.%N)")
}
# recap LOG HOST FIELD: a number from the PLAY RECAP line of HOST.
recap() {
  awk -v host="$2" -v field="$3" '
    /^PLAY RECAP/ {inside = 1; next}
    inside && $1 == host {for (i = 3; i <= NF; i++) {split($i, kv, "="); if (kv[1] == field) print kv[2]}}
  ' "$1"
}
show_recap() { sed -n '/^PLAY RECAP/,$p' "$1" | sed 's/^/  /'; }
expect_ok() {
  local log=$1
  shift
  if [ "$play_status" -ne 0 ]; then
    tail -n 60 "$log"
    die "ansible-playbook exited $play_status (log above)"
  fi
  for host in "$@"; do
    [ "$(recap "$log" "$host" failed)" = 0 ] && [ "$(recap "$log" "$host" unreachable)" = 0 ] ||
      { show_recap "$log"; die "$host failed"; }
  done
}
# check NAME: the node as an operator would look at it (check_target.py).
check() {
  local name=$1 expected=()
  case $name in
    pve1) expected=(--kuma-url "https://127.0.0.1:$kuma_port" --chain /root/old-hook.sh) ;;
    pve2) expected=(--kuma-url "https://127.0.0.1:$kuma_name_port" --server-name kuma.test) ;;
    *) expected=(--kuma-url "https://127.0.0.1:$kuma_port") ;;
  esac
  python3 "$here/check_target.py" --root "$nodes/$name/root" --node "$name" \
    --tokens "$nodes/$name/tokens.json" --cluster "$cluster" --api-user pbk-agent@pve \
    --kuma-ca "$certs/ca.pem" --exclude "$excluded_job" "${expected[@]}" ||
    die "checks of $name failed"
}

say "targets pve1 and pve2: fresh copies of the cached chroot"
write_members
make_target pve1
make_target pve2
host_vars pve1 "backup-aaaa1111-0001 backup-bbbb2222-0002 $excluded_job $legacy_id"
host_vars pve2 "backup-aaaa1111-0001 backup-cccc3333-0003 $legacy_id"
write_inventory pve1 pve2

# A wrong precondition stops the role before it changes anything.
say "precondition: a Kuma URL by name is refused before anything changes"
play "$logs/play-0-precondition.txt" --limit pve1 -e pbk_kuma_url=https://kuma.example.org:3001
[ "$play_status" -ne 0 ] || die "the role accepted a Kuma URL by name"
grep -q "pbk_kuma_url must be Uptime Kuma's base URL by IPv4 address" "$logs/play-0-precondition.txt" ||
  { tail -n 30 "$logs/play-0-precondition.txt"; die "no helpful message for a Kuma URL by name"; }
[ "$(recap "$logs/play-0-precondition.txt" pve1 changed)" = 0 ] || die "it changed something"
echo "  refused: $(grep -o "pbk_kuma_url must be[^:]*" "$logs/play-0-precondition.txt" | head -n1)"

# --- 2. first apply onto two targets ----------------------------------------------------
say "apply the role to pve1 and pve2"
play "$logs/play-1-two-hosts.txt"
expect_ok "$logs/play-1-two-hosts.txt" pve1 pve2
keep_downloads pve1 pve2
apply2_seconds=$play_seconds
show_recap "$logs/play-1-two-hosts.txt"
for name in pve1 pve2; do check "$name"; done
guard_changes=$(cat "$nodes"/pve*/root/var/log/pbk-fakes/pvesh.log | grep -c '"set"' || true)
[ "$guard_changes" -gt 0 ] || die "no pvesh set reached the fake PVE"
echo "  the guards set the hook through pvesh $guard_changes time(s)"

# --- 3. idempotence ------------------------------------------------------------------------
say "second run: changed=0 on every host"
play "$logs/play-2-second-run.txt"
expect_ok "$logs/play-2-second-run.txt" pve1 pve2
show_recap "$logs/play-2-second-run.txt"
rerun_seconds=$play_seconds
second_changed=0
for name in pve1 pve2; do
  changed=$(recap "$logs/play-2-second-run.txt" "$name" changed)
  second_changed=$((second_changed + changed))
  [ "$changed" = 0 ] || {
    grep -B2 -A3 '^changed:' "$logs/play-2-second-run.txt" | head -n 40
    die "second run changed $changed thing(s) on $name"
  }
done

say "check mode on the converged hosts: changed=0 too"
play "$logs/play-2b-check-mode.txt" --check
expect_ok "$logs/play-2b-check-mode.txt" pve1 pve2
for name in pve1 pve2; do
  [ "$(recap "$logs/play-2b-check-mode.txt" "$name" changed)" = 0 ] ||
    die "--check would change something on $name"
done
echo "  --check: changed=0 on pve1 and pve2"

# --- 4. a third node joins proxmox_hosts -------------------------------------------------------
say "pve3 joins the cluster and the group proxmox_hosts"
cluster_nodes=(pve1 pve2 pve3)
write_members
make_target pve3
host_vars pve3 "backup-aaaa1111-0001 $legacy_id"
write_inventory pve1 pve2 pve3
play "$logs/play-3-three-hosts.txt"
expect_ok "$logs/play-3-three-hosts.txt" pve1 pve2 pve3
keep_downloads pve3
apply3_seconds=$play_seconds
show_recap "$logs/play-3-three-hosts.txt"
for name in pve1 pve2; do
  [ "$(recap "$logs/play-3-three-hosts.txt" "$name" changed)" = 0 ] ||
    die "adding pve3 changed something on $name"
done
[ "$(recap "$logs/play-3-three-hosts.txt" pve3 changed)" -gt 0 ] || die "nothing changed on pve3"
check pve3

say "pve3 loses its token secret: the role says how to fix it, then recreates the token"
old_secret=$(cat "$nodes/pve3/root/etc/pbk-agent/pve-token")
rm "$nodes/pve3/root/etc/pbk-agent/pve-token"
play "$logs/play-4-lost-secret.txt" --limit pve3
[ "$play_status" -ne 0 ] || die "the role went on without the token's secret"
grep -q "pbk_api_token_recreate=true" "$logs/play-4-lost-secret.txt" ||
  { tail -n 30 "$logs/play-4-lost-secret.txt"; die "no hint how to recreate the token"; }
echo "  stopped: $(grep -o 'The API token [^,]*, but [^ ]* is missing' "$logs/play-4-lost-secret.txt" | head -n1)"
play "$logs/play-5-recreate.txt" --limit pve3 -e pbk_api_token_recreate=true
expect_ok "$logs/play-5-recreate.txt" pve3
new_secret=$(cat "$nodes/pve3/root/etc/pbk-agent/pve-token")
[ "$new_secret" != "$old_secret" ] || die "the token was not recreated"
check pve3
echo "  recreated: $(recap "$logs/play-5-recreate.txt" pve3 changed) change(s) on pve3"

say "pvesh fails while a new (disabled) job carries our hook itself: the play fails and names the job"
# In node placement the guard takes our hook off each job (the node default
# runs it); with pvesh failing, that cannot be done.
cat >>"$cluster/jobs.cfg" <<'EOF'

vzdump: backup-eeee5555-0005
	schedule 23:00
	enabled 0
	mode snapshot
	node pve3
	script /var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh
	storage local
	vmid 100
EOF
echo fail >"$cluster/pvesh-mode"
play "$logs/play-6-guard-fails.txt" --limit pve3
rm -f "$cluster/pvesh-mode"
[ "$play_status" -ne 0 ] || die "the play went on although the guard failed"
grep -q "job backup-eeee5555-0005 does not run the hook" "$logs/play-6-guard-fails.txt" ||
  { grep -A12 '^fatal' "$logs/play-6-guard-fails.txt"; die "the failure does not name the job"; }
grep -A10 '^fatal' "$logs/play-6-guard-fails.txt" | sed 's/^/  /'

say "a push token for a job that does not exist: verify fails the play and lists the FAIL"
python3 - "$nodes/pve3/tokens.json" >"$work/bogus-tokens.json" <<'EOF'
import json, sys
tokens = json.load(open(sys.argv[1]))
tokens["backup-ffff6666-0404"] = "tokbogus0000"
print(json.dumps({"pbk_push_tokens": tokens}))
EOF
play "$logs/play-7-verify-fails.txt" --limit pve3 -e "@$work/bogus-tokens.json"
[ "$play_status" -ne 0 ] || die "the play went on although verify failed"
grep -q "FAIL monitor backup-ffff6666-0404: a push token is configured for job backup-ffff6666-0404, which does not exist" \
  "$logs/play-7-verify-fails.txt" ||
  { grep -A12 '^fatal' "$logs/play-7-verify-fails.txt"; die "the failure does not list verify's FAIL"; }
grep -q "job backup-eeee5555-0005: its own script taken off" "$logs/play-7-verify-fails.txt" ||
  die "the guard did not take our hook off the new job once pvesh worked again"
grep -A8 '^fatal' "$logs/play-7-verify-fails.txt" | sed 's/^/  /'
play "$logs/play-8-restore.txt" --limit pve3
expect_ok "$logs/play-8-restore.txt" pve3
check pve3

# The seed's manual test, through the hook wrapper, on pve1: the push
# reaches Kuma with pve1's own token for that job.
say "manual test on pve1: vzdump-uptime-kuma-hook.sh job-end ok backup-aaaa1111-0001"
chroot "$nodes/pve1/root" /var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh job-end ok \
  backup-aaaa1111-0001 >"$logs/manual-test.txt" 2>&1 || { cat "$logs/manual-test.txt"; die "manual test"; }
sed 's/^/  /' "$logs/manual-test.txt"
python3 - "$logs/kuma.log" "$nodes/pve1/tokens.json" <<'EOF' || die "Kuma did not get pve1's push"
import json, sys
token = json.load(open(sys.argv[2]))["backup-aaaa1111-0001"]
pushes = [e for e in map(json.loads, open(sys.argv[1])) if e.get("event") == "request"
          and e.get("token") == token and (e.get("kuma") or {}).get("status") == "up"]
print(f"  fake Kuma got {len(pushes)} push(es) with pve1's token for backup-aaaa1111-0001, status up")
sys.exit(0 if len(pushes) == 1 else 1)
EOF

# verify checks that the timer really runs, not only that it is enabled.
say "a stopped timer on pve1: verify FAILs naming it"
chroot "$nodes/pve1/root" systemctl stop vzdump-hook-guard.timer
set +e
chroot "$nodes/pve1/root" pbk-agent verify >"$logs/verify-stopped-timer.txt" 2>&1
verify_status=$?
set -e
chroot "$nodes/pve1/root" systemctl start vzdump-hook-guard.timer
[ "$verify_status" -eq 1 ] || { cat "$logs/verify-stopped-timer.txt"; die "verify passed a stopped timer"; }
grep -q "^FAIL unit vzdump-hook-guard.timer: enabled, inactive" "$logs/verify-stopped-timer.txt" ||
  { cat "$logs/verify-stopped-timer.txt"; die "verify did not name the stopped timer"; }
grep "^FAIL unit vzdump-hook-guard.timer" "$logs/verify-stopped-timer.txt" | sed 's/^/  /'

# pve1's pbk_hook_chain: the hook runs the chained script in every phase,
# with vzdump's arguments.
say "chained hook on pve1: vzdump-uptime-kuma-hook.sh job-init runs /root/old-hook.sh"
chroot "$nodes/pve1/root" /var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh job-init \
  >"$logs/chain-test.txt" 2>&1 || { cat "$logs/chain-test.txt"; die "job-init with a chained hook"; }
grep -qx "job-init" "$nodes/pve1/root/var/log/pbk-fakes/old-hook.log" 2>/dev/null ||
  { cat "$logs/chain-test.txt"; die "the chained hook did not run in job-init"; }
echo "  /root/old-hook.sh ran with: $(cat "$nodes/pve1/root/var/log/pbk-fakes/old-hook.log")"

# --- 5. the monitors pbk-agent makes, with the real Uptime Kuma -------------------------
say "the real Uptime Kuma (tests/e2e/kuma.sh) on 127.0.0.1"
kuma_sh=$repo/tests/e2e/kuma.sh
"$kuma_sh" install >"$logs/kuma-install.txt" 2>&1 ||
  { tail -n 20 "$logs/kuma-install.txt"; die "the real Uptime Kuma cannot be installed (tests/e2e/kuma.sh install)"; }
kuma_package=$("$kuma_sh" path)
real_kuma=$work/real-kuma
mkdir -p "$real_kuma/data"
echo '{"type":"sqlite"}' >"$real_kuma/data/db-config.json"
real_kuma_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$kuma_package" && exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$real_kuma" LANG=C.UTF-8 \
  DATA_DIR="$real_kuma/data/" UPTIME_KUMA_HOST=127.0.0.1 UPTIME_KUMA_PORT="$real_kuma_port" \
  UPTIME_KUMA_SSL_CERT="$certs/ip.pem" UPTIME_KUMA_SSL_KEY="$certs/ip.key" \
  node server/server.js) >"$logs/real-kuma.log" 2>&1 &
pids+=($!)
real_kuma_pid=$!
real_kuma_url=https://127.0.0.1:$real_kuma_port
for _ in $(seq 480); do
  curl -sS -o /dev/null --noproxy '*' --max-time 5 --cacert "$certs/ca.pem" "$real_kuma_url/" 2>/dev/null && break
  kill -0 "$real_kuma_pid" 2>/dev/null || { tail -n 30 "$logs/real-kuma.log"; die "Uptime Kuma exited during start-up"; }
  sleep 0.25
done
curl -sS -o /dev/null --noproxy '*' --max-time 5 --cacert "$certs/ca.pem" "$real_kuma_url/" ||
  { tail -n 30 "$logs/real-kuma.log"; die "Uptime Kuma did not answer on $real_kuma_url within 2 minutes"; }
kuma_admin=role-admin
kuma_password="Role-$(python3 -c 'import secrets; print(secrets.token_hex(8))')-Aa1"
(umask 077; echo "$kuma_password" >"$work/kuma-password")
node "$here/kuma_first_user.js" "$(dirname "$kuma_package")" "$real_kuma_url" "$certs/ca.pem" \
  "$kuma_admin" "$work/kuma-password" >"$logs/kuma-first-user.txt" 2>&1 ||
  { cat "$logs/kuma-first-user.txt"; die "cannot make Kuma's first user"; }
echo "  $real_kuma_url answers; first user $kuma_admin made"

# The guests, so that each job runs somewhere: 100 and 101 on pve1, 200 on
# pve2, 300 on pve3 (/cluster/resources).
cat >"$cluster/resources.json" <<'EOF'
[{"id": "qemu/100", "vmid": 100, "node": "pve1", "type": "qemu", "name": "db", "status": "running"},
 {"id": "qemu/101", "vmid": 101, "node": "pve1", "type": "qemu", "name": "web", "status": "running"},
 {"id": "qemu/200", "vmid": 200, "node": "pve2", "type": "qemu", "name": "mail", "status": "running"},
 {"id": "lxc/300", "vmid": 300, "node": "pve3", "type": "lxc", "name": "dns", "status": "running"}]
EOF

# The role's variables for this stage, as a vaulted group_vars file would
# hold them: Kuma by IP, a Kuma admin, and no push tokens at all.
kuma_vars() {
  (umask 077; python3 - "$1" "$real_kuma_url" "$kuma_admin" "$2" >"$work/kuma-vars.json" <<'EOF'
import json, sys
_, _, url, user, password = sys.argv
print(json.dumps({"pbk_kuma_monitors": True, "pbk_kuma_url": url, "pbk_kuma_server_name": "",
                  "pbk_kuma_admin_user": user, "pbk_kuma_admin_password": password,
                  "pbk_push_tokens": {}}))
EOF
  )
}
wrong_password="Wrong-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
say "kuma login with a wrong password: the play stops with Kuma's words"
kuma_vars unused "$wrong_password"
play "$logs/play-9-kuma-wrong-password.txt" -e "@$work/kuma-vars.json"
[ "$play_status" -ne 0 ] || die "the play went on with a wrong Kuma password"
grep -q "pbk-agent kuma login as $kuma_admin on pve1 failed (exit 1): .*Incorrect username or password" \
  "$logs/play-9-kuma-wrong-password.txt" ||
  { grep -A6 '^fatal' "$logs/play-9-kuma-wrong-password.txt"; die "the failure does not say that the password is wrong"; }
[ ! -e "$cluster/priv/pbk-agent/kuma-session" ] || die "a session was stored after a failed login"
grep -A4 '^fatal' "$logs/play-9-kuma-wrong-password.txt" | head -n 5 | sed 's/^/  /'

say "pbk_kuma_monitors without push tokens: kuma login and kuma sync once, verify passes on every node"
kuma_vars unused "$kuma_password"
play "$logs/play-10-kuma-sync.txt" -e "@$work/kuma-vars.json"
expect_ok "$logs/play-10-kuma-sync.txt" pve1 pve2 pve3
kuma_sync_seconds=$play_seconds
show_recap "$logs/play-10-kuma-sync.txt"
for task in "Log in to Uptime Kuma" "Make and keep the monitors of every backup job and node"; do
  runs=$(grep -A3 "^TASK \[proxmox-backup-push : $task\]" "$logs/play-10-kuma-sync.txt" |
    grep -c '^\(ok\|changed\): ' || true)
  [ "$runs" = 1 ] || { grep -A6 "TASK \[proxmox-backup-push : $task" "$logs/play-10-kuma-sync.txt"; die "'$task' ran $runs times, not once"; }
done
[ -s "$cluster/priv/pbk-agent/kuma-session" ] || die "no Kuma session in /etc/pve/priv/pbk-agent"
monitors_json=$cluster/priv/pbk-agent/monitors.json
[ "$(stat -c %a "$monitors_json")" = 600 ] || die "monitors.json is mode $(stat -c %a "$monitors_json"), not 600"
# Every node's monitors: each job that runs there and the node's own.
python3 - "$monitors_json" <<'EOF' || die "the monitors file does not have every node's monitors"
import json, sys
data = json.load(open(sys.argv[1]))
jobs = data.get("jobs", {})
nodes = sorted(data.get("node_monitors", {}))
pairs = sorted((node, job.get("name", key)) for key, job in jobs.items() for node in job.get("nodes", {}))
print(f"  monitors.json: node monitors for {', '.join(nodes)}; {len(pairs)} job monitors")
ok = nodes == ["pve1", "pve2", "pve3"] and all(any(n == node for n, _ in pairs) for node in nodes)
sys.exit(0 if ok else 1)
EOF
for name in pve1 pve2 pve3; do
  if grep -q '"push_token"' "$nodes/$name/root/etc/pbk-agent/config.json"; then
    die "$name's configuration still holds push tokens"
  fi
done
echo "  no push token in any node's configuration; verify passed on pve1, pve2 and pve3"

say "second run with pbk_kuma_monitors: changed=0, no new login"
play "$logs/play-11-kuma-again.txt" -e "@$work/kuma-vars.json"
expect_ok "$logs/play-11-kuma-again.txt" pve1 pve2 pve3
for name in pve1 pve2 pve3; do
  [ "$(recap "$logs/play-11-kuma-again.txt" "$name" changed)" = 0 ] || {
    grep -B2 -A3 '^changed:' "$logs/play-11-kuma-again.txt" | head -n 40
    die "the second run changed something on $name"
  }
done
grep -A2 "^TASK \[proxmox-backup-push : Log in to Uptime Kuma\]" "$logs/play-11-kuma-again.txt" |
  grep -q '^skipping: ' || die "the second run logged in again although the session is valid"
echo "  changed=0 on pve1, pve2 and pve3; the stored session was used"

say "a push through pve2's hook lands in its monitor in the real Kuma"
chroot "$nodes/pve2/root" /var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh job-end ok \
  backup-cccc3333-0003 >"$logs/kuma-manual-test.txt" 2>&1 ||
  { cat "$logs/kuma-manual-test.txt"; die "the manual push on pve2"; }
sed 's/^/  /' "$logs/kuma-manual-test.txt"
monitor_id=$(python3 -c 'import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
print(next(j["nodes"]["pve2"]["monitor_id"] for j in jobs.values() if j["job_id"] == "backup-cccc3333-0003"))' "$monitors_json") ||
  die "backup-cccc3333-0003 has no monitor for pve2 in the monitors file"
beats=$(cd "$(dirname "$kuma_package")" && node "$repo/tests/e2e/kuma_db.js" "$(dirname "$kuma_package")" \
  "$real_kuma/data/kuma.db" query "SELECT status FROM heartbeat WHERE monitor_id = ?" "[$monitor_id]")
python3 -c 'import json, sys; beats = json.loads(sys.argv[1]); sys.exit(0 if [b["status"] for b in beats] == [1] else 1)' \
  "$beats" || die "Kuma's monitor $monitor_id got $beats, not one heartbeat up"
echo "  Kuma monitor $monitor_id (backup-cccc3333-0003 @ pve2): one heartbeat, up"

# --- 6. the package's own life cycle ------------------------------------------------------
say "package life cycle in a fresh chroot"
pkg=$nodes/pkg/root
mkdir -p "$pkg"
zstd -dc "$chroot_cache" | tar --numeric-owner -xpf - -C "$pkg"
mount -t proc proc "$pkg/proc"
find "$apt_archives" -maxdepth 1 -name '*.deb' -exec cp -t "$pkg/var/cache/apt/archives/" {} +
cp /etc/resolv.conf "$pkg/etc/resolv.conf"
install -d "$pkg/var/log/pbk-fakes"
install -m 0755 "$here/fakes/systemctl" "$pkg/usr/bin/systemctl"
mkdir -p "$pkg/run/systemd/system"
cp "$deb" "$pkg/tmp/"
in_pkg() { chroot "$pkg" env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
in_pkg apt-get install -y -q "/tmp/$(basename "$deb")" >"$logs/pkg-install.txt" 2>&1 ||
  { tail -n 30 "$logs/pkg-install.txt"; die "apt install of the package failed"; }
grep -q "pbk-agent: write /etc/pbk-agent/config.json" "$logs/pkg-install.txt" ||
  die "postinst did not say that the configuration is missing"
# Path and timer run from the first install on: the service waits for its
# configuration (ConditionPathExists), and the path unit starts it the
# moment the configuration is written; nothing waits for a reboot.
python3 - "$pkg/var/log/pbk-fakes/systemctl.log" <<'EOF' || die "install did not enable and start path and timer"
import json, sys
calls = [json.loads(line)["argv"] for line in open(sys.argv[1])]
print("  systemctl calls during install: " + "; ".join(" ".join(c) for c in calls))
starts = [c for c in calls if any(v in c for v in ("start", "restart", "try-restart", "reload-or-restart"))]
enables = [c for c in calls if "preset" in c or "enable" in c]
units = ("vzdump-hook-guard.path", "vzdump-hook-guard.timer")
ok = all(any(u in c for c in enables) for u in units) and \
    all(any(u in c for c in starts) for u in units) and \
    not any("vzdump-hook-guard.service" in c for c in starts)
print(f"  enabled (preset) path and timer: {bool(enables)}; started: {starts or 'nothing'}")
sys.exit(0 if ok else 1)
EOF
for unit in vzdump-hook-guard.path vzdump-hook-guard.timer; do
  [ "$(in_pkg systemctl is-enabled "$unit")" = enabled ] || die "$unit is not enabled after install"
  [ "$(in_pkg systemctl is-active "$unit" || true)" = active ] || die "$unit is not running after install"
done
stub=/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh
# The admin's part, as in the README's quick start: Kuma's CA, the API
# token's secret, the configuration.
pkg_secret="pkgsecret$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
install -m 0644 "$certs/ca.pem" "$pkg/etc/pbk-agent/kuma-ca.pem"
(umask 077; echo "$pkg_secret" >"$pkg/etc/pbk-agent/pve-token")
(umask 077; cat >"$pkg/etc/pbk-agent/config.json" <<EOF
// written as the README's quick start says
{
  "node": "pkg",
  "kuma": { "url": "https://127.0.0.1:$kuma_port", "ca_file": "/etc/pbk-agent/kuma-ca.pem" },
  "pve": { "token_id": "pbk-agent@pve!guard", "token_secret_file": "/etc/pbk-agent/pve-token",
           "timeout_seconds": 5 }
}
EOF
)
in_pkg pbk-agent check-config >"$logs/pkg-check-config.txt" 2>&1 ||
  { cat "$logs/pkg-check-config.txt"; die "check-config refused the README's configuration"; }
for unit in vzdump-hook-guard.path vzdump-hook-guard.timer; do
  [ "$(in_pkg systemctl is-enabled "$unit")" = enabled ] || die "$unit is not enabled with a configuration"
  [ "$(in_pkg systemctl is-active "$unit" || true)" = active ] || die "$unit is not running with a configuration"
done
# verify: both units OK while they run; a stopped timer is a FAIL naming it.
pkg_verify() {
  local log=$1
  set +e
  in_pkg pbk-agent verify >"$log" 2>&1
  verify_status=$?
  set -e
}
pkg_verify "$logs/pkg-verify-running.txt"
for unit in vzdump-hook-guard.path vzdump-hook-guard.timer; do
  grep -q "^OK *unit $unit: enabled and active" "$logs/pkg-verify-running.txt" ||
    { cat "$logs/pkg-verify-running.txt"; die "verify does not report $unit enabled and active"; }
done
in_pkg systemctl stop vzdump-hook-guard.timer
pkg_verify "$logs/pkg-verify-stopped.txt"
in_pkg systemctl start vzdump-hook-guard.timer
[ "$verify_status" -eq 1 ] ||
  { cat "$logs/pkg-verify-stopped.txt"; die "verify exits $verify_status with the timer stopped"; }
grep -q "^FAIL unit vzdump-hook-guard.timer: enabled, inactive" "$logs/pkg-verify-stopped.txt" ||
  { cat "$logs/pkg-verify-stopped.txt"; die "verify did not FAIL the stopped timer"; }
grep "^OK *unit vzdump-hook-guard.path\|^FAIL *unit vzdump-hook-guard.timer" "$logs/pkg-verify-stopped.txt" |
  sed 's/^/  stopped timer: /'

# State as a node has it: a run record, the guard's job list, a result
# still owed to Kuma.
state=$pkg/var/lib/pbk-agent
mkdir -p "$state/runs" "$state/spool"
echo '{}' >"$state/runs/run-1.json"
echo '[]' >"$state/jobs.json"
echo '{"job": "backup-aaaa1111-0001", "status": "up"}' >"$state/spool/1-backup-aaaa1111-0001.json"
check_stub() {
  local when=$1 out
  [ -x "$pkg$stub" ] || die "no executable stub at $stub after $when"
  out=$(in_pkg "$stub" job-end ok) || die "the stub exits non-zero after $when"
  case $out in
    WARNING:*) echo "  after $when: $stub exits 0 and prints: $out" ;;
    *) die "the stub prints no WARNING after $when: $out" ;;
  esac
}
# expect_paths WHEN present|absent PATH...: what the README says is left.
expect_paths() {
  local when=$1 want=$2 path
  shift 2
  for path in "$@"; do
    if [ "$want" = present ]; then
      [ -e "$pkg$path" ] || die "$when deleted $path"
    else
      [ ! -e "$pkg$path" ] || die "$when left $path"
    fi
  done
}
in_pkg apt-get remove -y -q pbk-agent >"$logs/pkg-remove.txt" 2>&1 ||
  { tail -n 30 "$logs/pkg-remove.txt"; die "apt remove failed"; }
check_stub "apt remove"
expect_paths "apt remove" present /etc/pbk-agent/config.json /etc/pbk-agent/pve-token \
  /etc/pbk-agent/kuma-ca.pem /var/lib/pbk-agent/jobs.json /var/lib/pbk-agent/runs/run-1.json \
  /var/lib/pbk-agent/spool/1-backup-aaaa1111-0001.json
expect_paths "apt remove" absent /usr/bin/pbk-agent /usr/lib/pbk-agent \
  /lib/systemd/system/vzdump-hook-guard.path /lib/systemd/system/vzdump-hook-guard.timer \
  /lib/systemd/system/vzdump-hook-guard.service
echo "  apt remove kept the configuration, the token and CA files and the state"
in_pkg apt-get purge -y -q pbk-agent >"$logs/pkg-purge.txt" 2>&1 ||
  { tail -n 30 "$logs/pkg-purge.txt"; die "apt purge failed"; }
check_stub "apt purge"
expect_paths "apt purge" absent /etc/pbk-agent/config.json /var/lib/pbk-agent/jobs.json \
  /var/lib/pbk-agent/runs /etc/systemd/system/timers.target.wants/vzdump-hook-guard.timer \
  /etc/systemd/system/multi-user.target.wants/vzdump-hook-guard.path
expect_paths "apt purge" present /etc/pbk-agent/pve-token /etc/pbk-agent/kuma-ca.pem \
  /var/lib/pbk-agent/spool/1-backup-aaaa1111-0001.json
grep -q "pbk-agent: kept /var/lib/pbk-agent/spool: 1 result(s) never delivered" "$logs/pkg-purge.txt" ||
  { tail -n 20 "$logs/pkg-purge.txt"; die "apt purge did not say that it kept the spooled result"; }
[ "$(ls -A "$state")" = spool ] ||
  die "apt purge left more than the spool in /var/lib/pbk-agent: $(ls -A "$state")"
echo "  apt purge dropped the configuration and the state, kept the token and CA files and the spool"
# Told otherwise, purge drops the spool as well.
in_pkg apt-get install -y -q "/tmp/$(basename "$deb")" >"$logs/pkg-reinstall.txt" 2>&1 ||
  { tail -n 30 "$logs/pkg-reinstall.txt"; die "apt install after purge failed"; }
in_pkg env PBK_PURGE_SPOOL=yes apt-get purge -y -q pbk-agent >"$logs/pkg-purge-spool.txt" 2>&1 ||
  { tail -n 30 "$logs/pkg-purge-spool.txt"; die "apt purge with PBK_PURGE_SPOOL=yes failed"; }
expect_paths "apt purge with PBK_PURGE_SPOOL=yes" absent /var/lib/pbk-agent
expect_paths "apt purge with PBK_PURGE_SPOOL=yes" present /etc/pbk-agent/pve-token \
  /etc/pbk-agent/kuma-ca.pem
echo "  PBK_PURGE_SPOOL=yes apt purge dropped /var/lib/pbk-agent with its spool"

# --- no secret in anything Ansible or the hook printed -----------------------------------
say "no push token or API token secret in any output"
secrets_file=$work/secrets.txt
python3 - "$cluster/priv/fake-api-tokens.json" "$nodes"/pve*/tokens.json >"$secrets_file" <<'EOF'
import json, sys
print(*(t["secret"] for t in json.load(open(sys.argv[1])).values()), sep="\n")
for path in sys.argv[2:]:
    print(*json.load(open(path)).values(), sep="\n")
EOF
printf '%s\n' "$old_secret" tokbogus0000 "$pkg_secret" "$kuma_password" "$wrong_password" \
  "$(cat "$cluster/priv/pbk-agent/kuma-session")" >>"$secrets_file"
python3 - "$monitors_json" >>"$secrets_file" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
tokens = [m["push_token"] for j in data["jobs"].values() for m in j["nodes"].values()]
tokens += [m["push_token"] for m in data["node_monitors"].values()]
print(*tokens, sep="\n")
EOF
outputs=("$logs"/play-*.txt "$logs/manual-test.txt" "$logs/chain-test.txt" "$logs"/pkg-*.txt
  "$logs/kuma-manual-test.txt" "$logs/kuma-first-user.txt")
if grep -lF -f "$secrets_file" "${outputs[@]}"; then die "a secret appears in the output above"; fi
echo "  $(wc -l <"$secrets_file") secrets looked for in ${#outputs[@]} outputs: none found"
if [ -n "${PBK_TEST_OUTPUT_DIR:-}" ] && [ -d "$PBK_TEST_OUTPUT_DIR" ]; then
  cp "$secrets_file" "$PBK_TEST_OUTPUT_DIR/secrets.ansible-role.txt"
  cat "${outputs[@]}" >"$PBK_TEST_OUTPUT_DIR/output.ansible-role.txt"
fi

# --- figures ---------------------------------------------------------------------------------
say "figures"
cat <<EOF
  chroot cache:                 $chroot_cache ($(du -h "$chroot_cache" | cut -f1); ${cache_seconds} s to make or find)
  apply, 2 targets (first run): ${apply2_seconds} s
  apply, 3 targets (pve3 new):  ${apply3_seconds} s
  second run, 2 targets:        ${rerun_seconds} s, changed=$second_changed (pve1 + pve2)
  kuma login + sync, 3 targets: ${kuma_sync_seconds} s (the whole play, against the real Kuma)
  whole test:                   $(($(date +%s) - test_started)) s
EOF
say "PASS"
