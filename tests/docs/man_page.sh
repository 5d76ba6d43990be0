#!/bin/sh
# docs.man_page: the man page renders without a single warning, as man(1)
# shows it and as groff checks it, and names every command of the contract.
# usage: man_page.sh PAGE
set -u
page=${1:?usage: man_page.sh PAGE}
[ -f "$page" ] || { echo "FAIL: no man page at $page"; exit 1; }
for tool in groff man; do
  command -v "$tool" >/dev/null || { echo "SKIPPED: $tool is not installed"; exit 77; }
done
failed=0
out=$(mktemp)
trap 'rm -f "$out" "$out.err"' EXIT

# groff with every warning enabled; any line on stderr is an error.
groff -man -ww -z "$page" 2>"$out.err"
if [ -s "$out.err" ]; then
  echo "FAIL: groff -man -ww warns:"; cat "$out.err"; failed=1
fi
# man as an admin runs it, at 80 columns, with groff's warnings on.
MANWIDTH=80 MAN_KEEP_FORMATTING= man --warnings -E UTF-8 -l "$page" >"$out" 2>"$out.err"
status=$?
if [ "$status" -ne 0 ] || [ -s "$out.err" ]; then
  echo "FAIL: man -l exits $status and says:"; cat "$out.err"; failed=1
fi
# Lines wider than the terminal mean a word roff could not break.
awk 'length($0) > 80 { print "FAIL: line wider than 80 columns: " $0; bad = 1 } END { exit bad }' "$out" ||
  failed=1

# Every command and option of the contract (DESIGN.md), as rendered.
for word in "hook PHASE" "guard [--dry-run] [--json]" "refresh [--dry-run] [--json]" "flush" \
            "verify [--json]" "jobs [--json]" "kuma login" "kuma sync [--dry-run] [--prune] [--json]" \
            "check-config" "--version" "--help" "--config FILE" "--password-file" "--totp" \
            "EXIT STATUS" "FILES" "EXAMPLES" "SEE ALSO" "vzdump-hook-guard.path" \
            "vzdump-hook-guard.timer" "vzdump-hook-guard.service"; do
  grep -qF -- "$word" "$out" || { echo "FAIL: the rendered page does not mention \"$word\""; failed=1; }
done
[ "$failed" -eq 0 ] && echo "PASS: $page renders without warnings ($(wc -l <"$out") lines)"
exit "$failed"
