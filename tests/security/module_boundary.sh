#!/usr/bin/env bash
# The boundary to the HTTP module (api/http/http_module.h), checked on the built
# files: the program exports no C++ symbol, the module nothing but its C entry
# points (pbk_http_*, pbk_ws_*), and an exception thrown inside the module comes back as an
# error the program reports, not as an abort.
# usage: module_boundary.sh BUILD_DIR
set -euo pipefail
bin=$(cd "$1/bin" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cxx=$(nm -D --defined-only "$bin/pbk-agent" | awk '$3 ~ /^_Z/ {print $3}')
[ -z "$cxx" ] || fail "pbk-agent exports C++ symbols: $(echo "$cxx" | head -5 | tr '\n' ' ')"
echo "pbk-agent exports no C++ symbol"

exported=$(nm -D --defined-only "$bin/pbk-http.so" | awk '{print $3}' | sort | tr '\n' ' ')
expected="pbk_http_abi_version pbk_http_client_free pbk_http_client_new pbk_http_send pbk_ws_close pbk_ws_connect pbk_ws_receive pbk_ws_send_text "
[ "$exported" = "$expected" ] || fail "pbk-http.so exports: $exported(expected: $expected)"
echo "pbk-http.so exports only: $exported"

# A manual test push with a fault planted inside the module's send.
cat >"$work/config.json" <<JSON
{"node": "pve1", "kuma": {"url": "https://127.0.0.1:9", "timeout_seconds": 2},
 "jobs": {"backup-1": {"push_token": "bOuNdArYt0kEn"}},
 "paths": {"state_dir": "$work/state"}}
JSON
chmod 600 "$work/config.json"
for fault in std other; do
  set +e
  out=$(PBK_HTTP_MODULE_TEST_FAULT=$fault "$bin/pbk-agent" --config "$work/config.json" \
    hook job-end ok backup-1 2>&1)
  code=$?
  set -e
  [ "$code" -lt 128 ] || fail "a $fault exception in the module killed the program (exit $code): $out"
  [ "$code" -eq 1 ] || fail "a $fault exception in the module gave exit $code, not 1: $out"
  case "$out" in
    *"internal error in the HTTP module"*) ;;
    *) fail "a $fault exception in the module was not reported as such: $out" ;;
  esac
  case "$out" in *bOuNdArYt0kEn*) fail "the push token was printed: $out" ;; esac
  echo "a $fault exception inside the module: exit 1, reported as an internal error of the module"
done
# The same fault in the WebSocket entries: `kuma login` reports it.
printf 'bOuNdArYpAsS1\n' >"$work/password"
chmod 600 "$work/password"
for fault in std other; do
  set +e
  out=$(PBK_HTTP_MODULE_TEST_FAULT=$fault "$bin/pbk-agent" --config "$work/config.json" \
    kuma login --username admin --password-file "$work/password" 2>&1)
  code=$?
  set -e
  [ "$code" -lt 128 ] || fail "a $fault exception in the WebSocket killed the program (exit $code): $out"
  [ "$code" -eq 1 ] || fail "a $fault exception in the WebSocket gave exit $code, not 1: $out"
  case "$out" in
    *"internal error in the HTTP module"*) ;;
    *) fail "a $fault exception in the WebSocket was not reported as such: $out" ;;
  esac
  case "$out" in *bOuNdArYpAsS1*) fail "the password was printed: $out" ;; esac
  echo "a $fault exception inside the WebSocket: exit 1, reported as an internal error of the module"
done
echo "module boundary OK"
