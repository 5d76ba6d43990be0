#!/usr/bin/env bash
# Makes (once) the Debian 12 chroot the role tests copy for every target:
# debootstrap's minbase plus what Ansible and the role need on a node
# (python3 for the modules, python3-apt for the apt module), with apt
# pointed at the same mirror as this machine's apt and its package lists
# current, packed as a zstd tarball OUTSIDE the build tree so that a new
# build folder or a clean build does not bootstrap again.
#
# usage: make_chroot.sh CACHE_FILE
#   CACHE_FILE   e.g. /var/cache/pbk-agent-tests/chroot-bookworm.tar.zst
# CACHE_FILE.recipe holds what the tarball was made from; when the recipe
# below changes, the tarball is made again. Concurrent callers wait for one
# another (flock on CACHE_FILE.lock). Prints what it does on stderr.
set -euo pipefail

cache=${1:?usage: make_chroot.sh CACHE_FILE}
suite=bookworm
include=python3,python3-apt

say() { echo "make_chroot: $*" >&2; }

# The mirror this machine's apt uses (PBK_DEBIAN_MIRROR overrides), and the
# suites of this release it has, so the chroot installs what the host would.
host_targets() {
  apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 2>/dev/null |
    awk '$3 == "deb" {print $1, $2}' | sort -u
}
mirror=${PBK_DEBIAN_MIRROR:-$(host_targets | awk -v s="$suite" '$2 == s {print $1; exit}')}
mirror=${mirror:-http://deb.debian.org/debian/}
mirror=${mirror%/}
security=$(host_targets | awk -v s="$suite-security" '$2 == s {print $1; exit}')
security=${security%/}

sources="Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
if [ -n "$security" ]; then
  sources+="

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
fi

# apt settings of this machine that decide whether the mirror can be used.
apt_conf=""
for key in Acquire::http::Proxy Acquire::https::Proxy Acquire::Check-Valid-Until \
           Acquire::Check-Date; do
  value=$(apt-config dump --format '%v' "$key" 2>/dev/null | head -n1 || true)
  [ -n "$value" ] && apt_conf+="$key \"$value\";"$'\n'
done

recipe="version 1
debootstrap --variant=minbase --include=$include $suite $mirror
$sources
$apt_conf"

mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
flock 9
# (Both sides through $(...), which drops trailing newlines alike.)
if [ -s "$cache" ] && [ -f "$cache.recipe" ] &&
   [ "$(cat "$cache.recipe")" = "$(printf '%s' "$recipe")" ]; then
  say "using $cache"
  exit 0
fi

build=$(mktemp -d /var/tmp/pbk-chroot-build.XXXXXX)
root=$build/root
cleanup() {
  # Never delete through a mount point into the host.
  if mountpoint -q "$root/proc"; then umount "$root/proc" || umount -l "$root/proc"; fi
  if ! grep -q " $build/" /proc/mounts; then rm -rf --one-file-system "$build"; fi
}
trap cleanup EXIT

say "debootstrap $suite from $mirror into $root (a few minutes, once)"
started=$(date +%s)
debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" \
  >"$build/debootstrap.log" 2>&1 || {
  tail -n 30 "$build/debootstrap.log" >&2
  say "debootstrap failed"
  exit 1
}

rm -f "$root/etc/apt/sources.list"
printf '%s\n' "$sources" >"$root/etc/apt/sources.list.d/debian.sources"
if [ -n "$apt_conf" ]; then
  printf '// Copied from the test machine by make_chroot.sh.\n%s' "$apt_conf" \
    >"$root/etc/apt/apt.conf.d/99pbk-test-host"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
chroot "$root" apt-get clean
umount "$root/proc"

tar --numeric-owner -C "$root" -cf - . | zstd -q -T0 -3 -o "$cache.tmp"
printf '%s' "$recipe" >"$cache.recipe.tmp"
mv -f "$cache.tmp" "$cache"
# The packages the tests' apt downloaded belong to the old package lists.
rm -rf "${cache%.tar.zst}.apt-archives"
mv -f "$cache.recipe.tmp" "$cache.recipe"
say "made $cache ($(du -h "$cache" | cut -f1)) in $(($(date +%s) - started)) s"
