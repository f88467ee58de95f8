#!/bin/sh
# install-deps.sh - installs the Debian packages gt needs to build and test,
# only those missing, and only when something is missing.
# Usage: tools/install-deps.sh [EXTRA-PACKAGE...]
set -eu

pkgs="gcc make libunwind-dev liblzma-dev libelf-dev libdw-dev systemtap-sdt-dev
      valgrind gdb strace python3 python3-pytest binutils curl
      libncurses-dev tmux graphviz prometheus python3-jsonschema
      groff-base man-db zlib1g-dev golang-go
      clang libclang-rt-14-dev apache2-bin siege wrk g++ $*"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: need root to install:$missing (run as root, or install them yourself)" >&2
        exit 1
    fi
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
