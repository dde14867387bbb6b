#!/usr/bin/env bash
# Runs the network tests under CPU load, to shake out races that an idle
# machine hides (a test thread scheduled late, a timer firing late). Each
# round starts stress-ng with one CPU hog per core, runs `ctest -L net` in
# the test build, then stops the hogs. Bounded: ROUNDS rounds, and the hogs
# end by themselves after 300 s whatever happens to this script.
# Usage: scripts/stress-net.sh [ROUNDS] [BUILD_DIR]
#   ROUNDS defaults to 3, BUILD_DIR to build-test (made by `make test`).
#   The network tests need root; set PK_NETNS_SLOT when several run at once.
# Logs: BUILD_DIR/stress-net-N.log. Exit status: 0 when every round passed.
set -uo pipefail
rounds=${1:-3}
build=${2:-build-test}
case "$rounds" in ''|*[!0-9]*) echo "stress-net: ROUNDS must be a number, got '$rounds'" >&2; exit 2 ;; esac
[ -f "$build/CTestTestfile.cmake" ] || { echo "stress-net: no test build in '$build' (run make test first)" >&2; exit 2; }
command -v stress-ng >/dev/null || { echo "stress-net: stress-ng missing (scripts/deps.sh test)" >&2; exit 3; }

hog=
trap '[ -n "$hog" ] && kill "$hog" 2>/dev/null' EXIT
failed=0
for ((i = 1; i <= rounds; i++)); do
  stress-ng --cpu "$(nproc)" --timeout 300 >/dev/null 2>&1 &
  hog=$!
  log=$build/stress-net-$i.log
  if (cd "$build" && ctest -L net -j "$(nproc)" --output-on-failure) >"$log" 2>&1; then
    echo "round $i: passed"
  else
    echo "round $i: FAILED (see $log)"
    grep -E '^[[:space:]]*[0-9]+ - ' "$log" | sed 's/^/  /'
    failed=1
  fi
  kill "$hog" 2>/dev/null
  wait "$hog" 2>/dev/null
  hog=
done
exit $failed
