#!/usr/bin/env bash
# Makes sure a program a test needs from Debian is installed: `ensure-debian-package.sh <path>
# <package>...` (e.g. /usr/bin/chromium chromium fonts-dejavu-core, /usr/sbin/nginx nginx).
# Installs the packages with apt-get only when <path> is missing; bounded in time
# (ARW_INSTALL_TIMEOUT_S, default 600 s); exits non-zero with a clear message when it cannot, so
# the test fails loudly instead of skipping. No package's service is started by the install: the
# tests run what they need themselves, on loopback.
set -uo pipefail
if [ $# -lt 2 ]; then echo "usage: ensure-debian-package.sh <path> <package>..." >&2; exit 2; fi
PROGRAM=$1
shift
PACKAGES="$*"
NAME=$(basename "$PROGRAM")
LIMIT_S=${ARW_INSTALL_TIMEOUT_S:-600}

if [ -x "$PROGRAM" ]; then exit 0; fi

fail() {
  echo "ensure $NAME: $1" >&2
  echo "ensure $NAME: the test needs $PROGRAM from Debian (apt-get install -y $PACKAGES)." >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available on this machine"
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else fail "not root and no passwordless sudo"; fi
fi

# One install at a time (parallel test workers, two checkouts): the others wait, then find it there.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/arw-ensure-$NAME.lock"
  flock -w "$LIMIT_S" 9 || fail "waited ${LIMIT_S}s for another install of $NAME"
  if [ -x "$PROGRAM" ]; then exit 0; fi
fi

# Installing a Debian package with a service (nginx) starts it (port 80 on every interface) unless
# a policy-rc.d forbids it: put one in place for the install when the machine has none, remove it after.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=""
if [ ! -e "$POLICY" ]; then
  $SUDO sh -c "printf '#!/bin/sh\nexit 101\n' > $POLICY && chmod 755 $POLICY" || fail "cannot write $POLICY"
  OWN_POLICY=1
fi
cleanup() { if [ -n "$OWN_POLICY" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

echo "ensure $NAME: $PROGRAM missing; installing $PACKAGES (at most ${LIMIT_S}s)..." >&2
timeout "$LIMIT_S" bash -c "$SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $PACKAGES" </dev/null >&2
status=$?
if [ $status -eq 124 ]; then fail "installing $PACKAGES took longer than ${LIMIT_S}s"; fi
if [ $status -ne 0 ]; then fail "apt-get failed with status $status"; fi
[ -x "$PROGRAM" ] || fail "apt-get finished but $PROGRAM is still missing"
echo "ensure $NAME: installed $PACKAGES" >&2
