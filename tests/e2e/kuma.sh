#!/usr/bin/env bash
# kuma.sh: a real Uptime Kuma for the end-to-end tests, from the npm registry.
#
#   kuma.sh install [CACHE_DIR]   make CACHE_DIR a ready Uptime Kuma 2.0.0-dev.0
#   kuma.sh path [CACHE_DIR]      print the package folder (Kuma's working directory)
#
# CACHE_DIR defaults to $PBK_KUMA_CACHE, else
# /var/cache/pbk-agent-tests/uptime-kuma-2.0.0-dev.0 (outside the build tree,
# so it survives between runs and builds).
#
# `install` is idempotent: a marker file written as the very last step says
# the folder is complete; without it (first run, or an interrupted one) the
# folder's npm tree is removed and everything is done again. The steps:
#   1. npm install uptime-kuma@2.0.0-dev.0, install scripts off (npm 11 never
#      runs them and npm 9 would try to download a prebuilt binary);
#   2. the SQLite binding @louislam/sqlite3 built from source against the
#      local node's headers (node-pre-gyp --build-from-source --nodedir);
#   3. the packaging workaround of that version: db/patch-*.sql copied into
#      db/old_migrations/, or a fresh SQLite start fails with ENOENT.
# Only step 1 needs the network. Each step prints how long it took.
set -euo pipefail

readonly KUMA_VERSION=2.0.0-dev.0
readonly DEFAULT_CACHE=/var/cache/pbk-agent-tests/uptime-kuma-${KUMA_VERSION}
readonly MARKER_NAME=.pbk-kuma-ready

say() { printf 'kuma.sh: %s\n' "$*"; }
die() {
  printf 'kuma.sh: ERROR: %s\n' "$*" >&2
  exit 1
}
usage() {
  printf 'usage: kuma.sh install|path [CACHE_DIR]\n' >&2
  exit 2
}

now_ms() { date +%s%3N; }
# "12.3 s" since START_MS.
elapsed() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100))
}

# The last lines of LOG, indented, for an error message.
log_tail() { tail -n "${2:-25}" "$1" 2>/dev/null | sed 's/^/    /'; }

# What npm said that matters (its error code and reason), indented; its
# last lines when nothing matches.
npm_reason() {
  local lines
  lines=$(printf '%s\n' "$1" | grep -E '^npm (error|ERR!) (code |[A-Za-z]*Error|network|404)' | head -n 6 || true)
  [ -n "$lines" ] || lines=$(printf '%s\n' "$1" | tail -n 8)
  printf '%s\n' "$lines" | sed 's/^/    /'
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
command=$1
cache=${2:-${PBK_KUMA_CACHE:-$DEFAULT_CACHE}}
[ -n "$cache" ] || die "the cache folder is empty"
case "$cache" in
  /*) ;;
  *) cache=$PWD/$cache ;;
esac
package_dir=$cache/node_modules/uptime-kuma
binding_dir=$cache/node_modules/@louislam/sqlite3
marker=$cache/$MARKER_NAME

case "$command" in
  path)
    printf '%s\n' "$package_dir"
    exit 0
    ;;
  install) ;;
  *) usage ;;
esac

# --- what the machine must have -------------------------------------------

node=$(command -v node || true)
[ -n "$node" ] || die "node is not installed (Debian: apt-get install nodejs npm libnode-dev python3 make g++)"
npm=$(command -v npm || true)
[ -n "$npm" ] || die "npm is not installed (Debian: apt-get install npm)"
node_version=$("$node" --version 2>&1) || die "$node does not run: $node_version"
node_major=${node_version#v}
node_major=${node_major%%.*}
case "$node_major" in
  '' | *[!0-9]*) die "cannot tell the version of $node ($node_version)" ;;
esac
# Uptime Kuma 2.0.0-dev.0 declares "14 || 16 || 18 || >= 20.4.0".
[ "$node_major" -ge 18 ] || die "node $node_version is too old: Uptime Kuma $KUMA_VERSION needs 18 or 20.4 and later"

# The binding is compiled against the headers of the node that runs it:
# /usr/include/node for Debian's nodejs (package libnode-dev) and for
# NodeSource's, <prefix>/include/node for a node installed elsewhere.
node_dir=${PBK_NODE_DIR:-$(dirname "$(dirname "$(readlink -f "$node")")")}

need_build_tools() {
  local missing=()
  [ -f "$node_dir/include/node/node_api.h" ] && [ -f "$node_dir/include/node/common.gypi" ] ||
    missing+=("node headers in $node_dir/include/node (Debian: libnode-dev; or set PBK_NODE_DIR)")
  command -v python3 >/dev/null || missing+=("python3")
  command -v make >/dev/null || missing+=("make")
  command -v c++ >/dev/null || command -v g++ >/dev/null || missing+=("a C++ compiler (g++)")
  [ ${#missing[@]} -eq 0 ] || die "cannot build the SQLite binding, missing: $(printf '%s; ' "${missing[@]}")"
}

binding_loads() {
  (cd "$cache" && "$node" -e 'require(process.argv[1])' "$binding_dir") >/dev/null 2>&1
}

mkdir -p "$cache" || die "cannot create $cache"
# One installer at a time per cache (two build folders may test at once).
exec 9>"$cache/.install.lock"
if ! flock -n 9; then
  say "another kuma.sh is installing into $cache, waiting for it"
  flock -w 1800 9 || die "$cache stayed locked for 30 minutes"
fi

total_start=$(now_ms)

# --- already there? ----------------------------------------------------------

if [ -f "$marker" ] && [ -f "$package_dir/server/server.js" ]; then
  if binding_loads; then
    say "Uptime Kuma $KUMA_VERSION is ready in $cache (checked in $(elapsed "$total_start"))"
    exit 0
  fi
  # Same package, but its binding does not load with this node: only the
  # build step is redone (no network needed).
  say "the SQLite binding in $cache does not load with node $node_version: rebuilding it"
  rm -f "$marker"
  redo_from=build
elif [ -f "$marker" ]; then
  say "$cache has a marker but no Uptime Kuma: installing again"
  rm -f "$marker"
  redo_from=npm
else
  redo_from=npm
fi

need_build_tools

# --- 1. npm install ------------------------------------------------------------

if [ "$redo_from" = npm ]; then
  if [ -e "$cache/node_modules" ] || [ -e "$cache/package-lock.json" ]; then
    say "removing an unfinished install from $cache"
    rm -rf "$cache/node_modules" "$cache/package-lock.json"
  fi
  # A package.json of its own, so npm installs here and not into a parent project.
  printf '{\n  "name": "pbk-agent-e2e-kuma",\n  "private": true\n}\n' >"$cache/package.json"

  registry=$(cd "$cache" && "$npm" config get registry 2>/dev/null || echo "the npm registry")
  step_start=$(now_ms)
  say "asking $registry for uptime-kuma@$KUMA_VERSION"
  if ! found=$(cd "$cache" && "$npm" view "uptime-kuma@$KUMA_VERSION" version \
    --fetch-timeout=30000 --fetch-retries=1 --no-update-notifier 2>&1); then
    die "cannot reach $registry (npm view uptime-kuma@$KUMA_VERSION failed after $(elapsed "$step_start")):
$(npm_reason "$found")"
  fi
  [ "$(printf '%s\n' "$found" | tail -n 1)" = "$KUMA_VERSION" ] ||
    die "$registry has no uptime-kuma@$KUMA_VERSION (npm said: $found)"

  step_start=$(now_ms)
  say "npm install uptime-kuma@$KUMA_VERSION (about 260 MB) ..."
  if ! (cd "$cache" && "$npm" install --no-audit --no-fund --ignore-scripts --no-update-notifier \
    --loglevel=warn "uptime-kuma@$KUMA_VERSION") >"$cache/npm-install.log" 2>&1; then
    die "npm install failed after $(elapsed "$step_start"); the end of $cache/npm-install.log:
$(log_tail "$cache/npm-install.log")"
  fi
  installed=$("$node" -p 'require(process.argv[1]).version' "$package_dir/package.json" 2>/dev/null || true)
  [ "$installed" = "$KUMA_VERSION" ] || die "npm installed uptime-kuma '$installed', not $KUMA_VERSION"
  say "npm install: $(elapsed "$step_start") ($(du -sh "$cache/node_modules" | cut -f1))"
fi

# --- 2. the SQLite binding --------------------------------------------------------

[ -x "$cache/node_modules/.bin/node-pre-gyp" ] || die "$cache/node_modules/.bin/node-pre-gyp is missing"
step_start=$(now_ms)
say "building the SQLite binding from source (node $node_version, headers in $node_dir/include/node) ..."
if ! (cd "$binding_dir" && JOBS=$(nproc) ../../.bin/node-pre-gyp install --build-from-source \
  --nodedir="$node_dir") >"$cache/binding-build.log" 2>&1; then
  die "building the SQLite binding failed after $(elapsed "$step_start"); the end of $cache/binding-build.log:
$(log_tail "$cache/binding-build.log")"
fi
binding_loads || die "the SQLite binding was built but does not load: $(cd "$cache" && "$node" -e \
  'require(process.argv[1])' "$binding_dir" 2>&1 | head -n 5)"
say "SQLite binding: $(elapsed "$step_start")"

# --- 3. the packaging workaround --------------------------------------------------

step_start=$(now_ms)
shopt -s nullglob
patches=("$package_dir"/db/patch-*.sql)
shopt -u nullglob
[ ${#patches[@]} -gt 0 ] || die "no db/patch-*.sql in $package_dir: not the package this script knows"
cp -f "${patches[@]}" "$package_dir/db/old_migrations/"
say "copied ${#patches[@]} db/patch-*.sql into db/old_migrations: $(elapsed "$step_start")"

# --- done: the marker last ----------------------------------------------------------

printf 'uptime-kuma %s\nnode %s\ninstalled %s\n' "$KUMA_VERSION" "$node_version" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$marker.tmp"
mv -f "$marker.tmp" "$marker"
say "Uptime Kuma $KUMA_VERSION is ready in $cache (total $(elapsed "$total_start"))"
