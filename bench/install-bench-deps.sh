#!/bin/sh
# Installs the Debian packages the peer benchmarks link against, and only
# those that are missing: dpkg-query answers in milliseconds, while a bare
# `apt-get install` of installed packages still reads every package list.
# Run as root (or through sudo); a failure here stops `make bench` loudly,
# because a peer that cannot be built must never become a missing row.
set -eu

PACKAGES="libpth-dev libst-dev libboost-context-dev golang-go g++ python3
          nginx wrk curl delve gdb apache2-bin"

missing=""
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $pkg" ;;
	esac
done

[ -z "$missing" ] && exit 0

echo "install-bench-deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "install-bench-deps: need root (or sudo) to install:$missing" >&2
		exit 1
	}
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; update once and retry.
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing ||
	{ $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends $missing; }
