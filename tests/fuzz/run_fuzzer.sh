#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time:
#
#   run_fuzzer.sh FUZZ_BINARY CORPUS_DIR REGRESSION_DIR SECONDS
#
# 1. replays every input in REGRESSION_DIR (inputs that once crashed or hung)
#    and in CORPUS_DIR, each once;
# 2. fuzzes for SECONDS from a scratch copy of both (the source tree is never
#    written);
# 3. prints one line: "fuzz <target>: <N> inputs tried, <C> crashes".
#
# Exit codes: 0 nothing found; 1 a crash, leak, timeout, out-of-memory or
# sanitizer report (the input is saved where the log says: in
# $PBK_FUZZ_ARTIFACTS/<target>/, by default ./fuzz-artifacts/<target>/);
# 2 usage; 77 the fuzz build is missing (ctest reports the test as skipped).
set -uo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 FUZZ_BINARY CORPUS_DIR REGRESSION_DIR SECONDS" >&2
  exit 2
fi
binary=$1
corpus=$2
regressions=$3
seconds=$4
case "$seconds" in
  '' | *[!0-9]*) echo "$0: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac

name=$(basename "$binary")
target=${name#fuzz_}
if [ ! -x "$binary" ]; then
  echo "fuzz $target: fuzz build missing: run ./run.sh test (it builds build-fuzz)"
  echo "  (no executable $binary)"
  exit 77
fi

artifacts=${PBK_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}/$target
mkdir -p "$artifacts"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pbk-fuzz-$target.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# The options of every run. Leaks count as findings (ASan's default with
# libFuzzer); so does any sanitizer report.
options=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/")
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

crashes=0
tried=0
status=0
# A log shows a finding when it carries any sanitizer's or libFuzzer's report.
finding_pattern='terminate called|ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|SUMMARY: [A-Za-z]*Sanitizer|INVARIANT VIOLATED|==[0-9]+== ERROR'

show_finding() {  # LOG
  echo "---- fuzz $target: finding (full log: $1) ----"
  # The report's own lines, then the top of its stack: the frames of the
  # product (and nlohmann/json), with template arguments and parameter lists
  # left out.
  local report
  report=$(grep -E -m 1 -A 200 "$finding_pattern" "$1")
  grep -v -E '^ *#[0-9]+ ' <<<"$report" | grep -v -E '^(NOTE|SUMMARY|MS|Base64|artifact_prefix|stat::)' |
    grep -v -e '^$' -e 'Combine libFuzzer' | head -6 | cut -c 1-200
  grep -E '^ *#[0-9]+ ' <<<"$report" |
    grep -v -E 'sanitizer|libc\.so|libstdc|nptl|raise\.c|abort\.c|std::terminate|__cxa_|fuzzer::|in _start|in main |0x[0-9a-f]+  *$' |
    perl -pe '1 while s/<[^<>]*>//g; 1 while s/\((?!BuildId)[^()]*\)(?=[^:]*\s)//g; s/ \(BuildId: \w+\)//' |
    head -8 | cut -c 1-200
  grep -E "^SUMMARY|^MS: |^Base64: " "$1" | head -3
  sed -n 's/.*Test unit written to \(.*\)/crashing input saved to \1/p' "$1" | sort -u |
    sed "s/^/fuzz $target: /"
  echo "----"
}

# 1. Every regression and corpus input, once each.
inputs=()
for dir in "$regressions" "$corpus"; do
  [ -d "$dir" ] || continue
  while IFS= read -r -d '' file; do inputs+=("$file"); done \
    < <(find "$dir" -type f ! -name '.*' ! -name 'README*' -print0 | sort -z)
done
seeds=()
if [ ${#inputs[@]} -gt 0 ]; then
  # One process per input: a regression that crashes must not hide the others.
  for input in "${inputs[@]}"; do
    replay_log=$artifacts/replay.log
    "$binary" "${options[@]}" -runs=1 "$input" >"$replay_log" 2>&1
    rc=$?
    tried=$((tried + 1))
    if [ $rc -ne 0 ] || grep -Eq "$finding_pattern" "$replay_log"; then
      crashes=$((crashes + 1))
      status=1
      kept=$artifacts/replay-$(basename "$input").log
      mv "$replay_log" "$kept"
      echo "fuzz $target: FAILED on $input (exit $rc)"
      show_finding "$kept"
    else
      seeds+=("$input")  # what still crashes would only stop the fuzzing at once
    fi
  done
  rm -f "$artifacts/replay.log"
  echo "fuzz $target: replayed ${#inputs[@]} regression and corpus inputs, $crashes failed"
fi

# 2. Fuzzing, from a scratch copy of the inputs.
if [ "$seconds" -gt 0 ]; then
  mkdir -p "$scratch/corpus"
  n=0
  for input in "${seeds[@]}"; do
    n=$((n + 1))
    cp "$input" "$scratch/corpus/$n-$(basename "$input")"
  done
  fuzz_log=$artifacts/fuzz.log
  "$binary" "${options[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    "$scratch/corpus" >"$fuzz_log" 2>&1
  rc=$?
  executed=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$fuzz_log" | tail -1)
  tried=$((tried + ${executed:-0}))
  # The last status line carries the coverage reached.
  last=$(grep -E '^#[0-9]+' "$fuzz_log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  echo "fuzz $target: fuzzing (up to ${seconds}s): ${executed:-0} executions, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
  if [ $rc -ne 0 ] || grep -Eq "$finding_pattern" "$fuzz_log"; then
    crashes=$((crashes + 1))
    status=1
    echo "fuzz $target: FAILED while fuzzing (exit $rc)"
    show_finding "$fuzz_log"
  fi
fi

echo "fuzz $target: $tried inputs tried, $crashes crashes"
exit $status
