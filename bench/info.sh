#!/usr/bin/env bash
# bench/info.sh: one `portkit info` lookup as a whole process against
# `getent services` (the /etc/services answer), and batch lookups per second.
# Usage: bench/info.sh [path/to/portkit]
set -euo pipefail
cd "$(dirname "$0")/.."
PK=${1:-build/portkit}
[ -x "$PK" ] || { echo "build first: make" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "needs hyperfine (make bench installs it)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== one lookup, whole process (hyperfine, 300 runs each)"
hyperfine -N --warmup 20 --runs 300 --export-markdown "$tmp/one.md" \
  "$PK info 80/tcp" "getent services 80/tcp" "$PK info ssh" "getent services ssh" >/dev/null
cat "$tmp/one.md"

echo
echo "== batch: 1,000,000 random port/proto queries through 'portkit info -'"
python3 - >"$tmp/q.txt" <<'PY'
import random
r = random.Random(1)
print("\n".join(f"{r.randrange(65536)}/{r.choice(('tcp', 'udp'))}" for _ in range(1000000)))
PY
for mode in "--json" ""; do
  best=999
  for _ in 1 2 3; do
    s=$(date +%s.%N)
    "$PK" info - $mode <"$tmp/q.txt" >/dev/null
    e=$(date +%s.%N)
    best=$(python3 -c "print(min($best, $e - $s))")
  done
  python3 -c "print(f'info - ${mode:-(text)}: best of 3 {${best}:.3f} s = {1e6/${best}/1e6:.2f} M lookups/s')"
done
