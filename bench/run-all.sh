#!/usr/bin/env bash
# Runs every benchmark in bench/ in turn; each prints its own table.
# Individual benches: bench/info.sh, bench/ls.sh, bench/forward.sh, bench/scan.sh, bench/audit.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for b in info ls forward scan audit history; do
  [ -x "bench/$b.sh" ] || continue
  echo "################ bench/$b.sh"
  "bench/$b.sh" || status=1
  echo
done
exit $status
