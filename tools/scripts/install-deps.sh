#!/usr/bin/env bash
# Installs, only when missing, the Debian packages dive needs to build, test and benchmark.
# Idempotent: a second run installs nothing and takes well under a second.
# Boost: the versioned 1.81 packages only (an unversioned libboost-*-dev pulls 1.74 and removes 1.81).
set -euo pipefail

packages=(
  meson ninja-build pkg-config g++
  libdnnl-dev
  libstb-dev
  libboost-test1.81-dev libboost-json1.81-dev
  libboost-program-options1.81-dev libboost-iostreams1.81-dev
  libbenchmark-dev
  python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
