#!/usr/bin/env bash
# bench/scan.sh: portkit scan against nmap on the same namespace test hosts
# (full range clean / 5% SYN loss / 1-10000 DROPped / 16 hosts / -sV).
# Needs root (namespaces). Usage: bench/scan.sh [--portkit PATH] [--runs N] [--only 1,3]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nmap >/dev/null || { echo "needs nmap (make bench installs it)" >&2; exit 2; }
[ -x build/portkit ] || { echo "build first: make" >&2; exit 2; }
exec python3 bench/scan.py "$@"
