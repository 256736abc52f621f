#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each (default 30s).
# Go allows one -fuzz target per invocation, so targets are run one after another.
set -euo pipefail
t=${1:-30s}
cd "$(dirname "$0")/.."
fail=0; n=0
while read -r pkg; do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    n=$((n+1))
    printf '%-60s ' "$pkg $target"
    if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" "$pkg" 2>&1); then
      echo "ok ($(grep -oE 'execs: [0-9]+' <<<"$out" | tail -1))"
    else
      echo "FAIL"; echo "$out" | tail -30; fail=1
    fi
  done
done < <(go list ./...)
echo "fuzz: $n targets, ${t} each"
exit $fail
