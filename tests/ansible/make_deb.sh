#!/usr/bin/env bash
# Makes the package the role tests install from the build folder they test,
# with the project's own CPack configuration (what ./run.sh package does in
# build-deb), so the role installs the very binary the other tests ran.
#
# usage: make_deb.sh BUILD_DIR OUT_DIR EXPECTED_DEB
# Exits 77 (skipped) when dpkg-shlibdeps (dpkg-dev) is missing, 1 when cpack
# fails or does not make EXPECTED_DEB.
set -euo pipefail

build=${1:?usage: make_deb.sh BUILD_DIR OUT_DIR EXPECTED_DEB}
out=${2:?usage: make_deb.sh BUILD_DIR OUT_DIR EXPECTED_DEB}
deb=${3:?usage: make_deb.sh BUILD_DIR OUT_DIR EXPECTED_DEB}

for tool in cpack dpkg-shlibdeps dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "SKIPPED: $tool is not installed (dpkg-dev)"; exit 77; }
done
[ -f "$build/CPackConfig.cmake" ] || { echo "FAIL: no CPackConfig.cmake in $build" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
# cpack builds what is out of date first, then installs into a staging folder.
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$out" >"$out/cpack.log" 2>&1; then
  cat "$out/cpack.log"
  echo "FAIL: cpack failed" >&2
  exit 1
fi
rm -rf "$out/_CPack_Packages"
[ -f "$deb" ] || { cat "$out/cpack.log"; ls -l "$out"; echo "FAIL: cpack did not make $deb" >&2; exit 1; }
dpkg-deb --field "$deb" Package Version Architecture
echo "made $deb ($(stat -c %s "$deb") bytes)"
