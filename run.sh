#!/usr/bin/env bash
# pbk-agent on a fresh Debian 12 machine: installs what is missing, builds,
# and then runs one of
#   ./run.sh demo    the local demonstration (emulated PVE and Kuma on 127.0.0.1)
#   ./run.sh test    the whole test suite, as CI runs it
#   ./run.sh bench   the benchmarks (Release build), printed and saved as CSV
#   ./run.sh package the Debian package (build-deb/pbk-agent_<version>_amd64.deb)
#   ./run.sh build   just the build
# Run it as root (or with sudo available) when packages are missing.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${PBK_BUILD_DIR:-build}

# Debian 12 packages the build, the tests and the demo need.
PACKAGES=(
  cmake ninja-build g++ make pkg-config
  libcpprest-dev libssl-dev nlohmann-json3-dev libspdlog-dev libgtest-dev libgmock-dev
  python3 openssl systemd curl util-linux tzdata
)

# What only the benchmarks need: the baselines they compare against.
BENCH_PACKAGES=(time strace python3-proxmoxer python3-requests)

install_missing() {
  local missing=()
  for package in "${PACKAGES[@]}" "$@"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" != installed ]; then
      missing+=("$package")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "run.sh: installing ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "run.sh: run as root to install: ${missing[*]}" >&2; exit 2; }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# The end-to-end tests run the real Uptime Kuma, which needs node, npm and
# node's headers (to build its SQLite binding). A node that is already there
# (Debian's or another vendor's) is used as it is.
install_node_if_missing() {
  if command -v node >/dev/null && command -v npm >/dev/null &&
     [ -e /usr/include/node/node_api.h ]; then
    return 0
  fi
  install_missing nodejs npm libnode-dev
}

# The libFuzzer targets need clang and sanitizers on every library they
# reach, so they have a build of their own (PBK_FUZZ_BUILD_DIR, by default
# build-fuzz); the normal build runs them as its fuzz.* tests, each for
# PBK_FUZZ_SECONDS (30 unless configured otherwise). libFuzzer's runtime is
# only recommended by Debian's clang, so it is named.
FUZZ_BUILD_DIR=$(realpath -m "${PBK_FUZZ_BUILD_DIR:-build-fuzz}")
build_fuzz() {
  install_missing clang libclang-rt-14-dev
  CXX=clang++ cmake -S . -B "$FUZZ_BUILD_DIR" -G Ninja -DPBK_FUZZ=ON >/dev/null
  cmake --build "$FUZZ_BUILD_DIR" --target pbk_fuzz_targets
}

build() {
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPBK_WERROR=ON >/dev/null
  cmake --build "$BUILD_DIR"
}

case "${1:-}" in
  demo)
    install_missing
    build
    exec tests/demo.sh "$BUILD_DIR/bin"
    ;;
  test)
    install_missing
    install_node_if_missing
    # The Ansible role's tests: Ansible, its linter, Debian chroots, the .deb.
    install_missing ansible ansible-lint debootstrap zstd dpkg-dev
    build_fuzz
    cmake -S . -B "$BUILD_DIR" -G Ninja -DPBK_FUZZ_BUILD_DIR="$FUZZ_BUILD_DIR" >/dev/null
    build
    exec ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
    ;;
  bench)
    install_missing "${BENCH_PACKAGES[@]}"
    BUILD_DIR=build-release
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPBK_WERROR=ON >/dev/null
    cmake --build "$BUILD_DIR"
    mkdir -p bench-results
    /usr/bin/python3 tests/bench/hook_bench.py "$BUILD_DIR/bin" --csv bench-results/hook.csv
    echo
    /usr/bin/python3 tests/bench/guard_bench.py "$BUILD_DIR/bin" --csv bench-results/guard.csv
    echo
    /usr/bin/python3 tests/bench/refresh_bench.py "$BUILD_DIR/bin" --csv bench-results/refresh.csv
    echo
    /usr/bin/python3 tests/bench/missed_run_figure.py --csv bench-results/missed-run.csv
    ;;
  package)
    install_missing dpkg-dev
    cmake -S . -B build-deb -G Ninja -DCMAKE_BUILD_TYPE=Release -DPBK_BUILD_TESTS=OFF \
      -DPBK_WERROR=ON >/dev/null
    cmake --build build-deb
    (cd build-deb && cpack -G DEB >/dev/null)
    ls build-deb/pbk-agent_*_amd64.deb
    ;;
  build)
    install_missing
    build
    ;;
  *)
    echo "usage: $0 demo|test|bench|package|build" >&2
    exit 2
    ;;
esac
