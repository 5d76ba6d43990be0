#!/usr/bin/env bash
# The last test of the suite: looks for every secret the tests handed to the
# product (push tokens, API token secrets) in everything the tests captured
# from it (stdout, stderr, task logs). Any hit fails.
# usage: scan_outputs.sh OUTPUT_DIR
set -euo pipefail
dir=${1:?usage: scan_outputs.sh OUTPUT_DIR}
shopt -s nullglob
secret_files=("$dir"/secrets.*.txt)
output_files=("$dir"/output.*.txt)
if [ ${#secret_files[@]} -eq 0 ]; then
  echo "FAIL: no test registered a secret in $dir: the scan would prove nothing" >&2
  exit 1
fi
secrets=$(sort -u "${secret_files[@]}" | sed '/^$/d')
count=$(printf '%s\n' "$secrets" | wc -l)
bytes=$(cat "${output_files[@]}" /dev/null | wc -c)
if [ "$bytes" -eq 0 ]; then
  echo "FAIL: no captured output in $dir: the scan would prove nothing" >&2
  exit 1
fi
hits=$(printf '%s\n' "$secrets" | grep -rlF -f - "${output_files[@]}" || true)
if [ -n "$hits" ]; then
  echo "FAIL: a secret appears in captured output:" >&2
  for file in $hits; do
    printf '%s\n' "$secrets" | grep -nF -o -f - "$file" | head -3 | sed "s#^#  $file: #" >&2
  done
  exit 1
fi
echo "no secret in any output: $count secrets looked for in $bytes bytes from ${#output_files[@]} test processes"
