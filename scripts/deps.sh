#!/usr/bin/env bash
# Installs the Debian packages a step needs when they are missing, so a
# fresh Debian 12 machine needs nothing by hand. Each area of the project
# lists its packages in scripts/deps/STEP/AREA.list (one a line, # comments).
# Usage: deps.sh build|test|bench   (test and bench include build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

step=${1:-build}
case "$step" in
  build) dirs=(build) ;;
  test|bench) dirs=(build "$step") ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

want=()
for d in "${dirs[@]}"; do
  for f in "$here"/deps/"$d"/*.list; do
    [ -e "$f" ] || continue
    while read -r p _; do
      [ -n "$p" ] && [ "${p#\#}" = "$p" ] && want+=("$p")
    done <"$f"
  done
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
# de-duplicate
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

echo "portkit: installing Debian packages: ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo=(sudo); else
    echo "portkit: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Services in these packages (nginx, dnsmasq) must not start on install:
# tests start their own instances on their own addresses.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  made_policy=1
fi
trap '[ $made_policy -eq 1 ] && "${sudo[@]}" rm -f "$policy"' EXIT
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
