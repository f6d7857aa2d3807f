#!/usr/bin/env bash
# Makes sure Debian's nginx is at /usr/sbin/nginx for the reverse-proxy test (nginx.test.ts).
# Installs it with apt-get only when it is missing; bounded in time; exits non-zero with a clear
# message when it cannot, so the test fails loudly instead of skipping. The package's own service
# is never started: the test runs nginx itself, on loopback, with its own prefix.
set -uo pipefail
NGINX=/usr/sbin/nginx
LIMIT_S=${ARW_NGINX_INSTALL_TIMEOUT_S:-600}

if [ -x "$NGINX" ]; then exit 0; fi

fail() {
  echo "ensure-nginx: $1" >&2
  echo "ensure-nginx: the reverse-proxy test needs Debian's nginx at $NGINX (apt-get install -y nginx)." >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available on this machine"
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else fail "not root and no passwordless sudo"; fi
fi

# One install at a time (parallel test workers, two checkouts): the others wait, then find it there.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/arw-ensure-nginx.lock"
  flock -w "$LIMIT_S" 9 || fail "waited ${LIMIT_S}s for another install of nginx"
  if [ -x "$NGINX" ]; then exit 0; fi
fi

# Installing Debian's nginx starts its service (port 80 on every interface) unless a policy-rc.d
# forbids it: put one in place for the install when the machine has none, and remove it after.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=""
if [ ! -e "$POLICY" ]; then
  $SUDO sh -c "printf '#!/bin/sh\nexit 101\n' > $POLICY && chmod 755 $POLICY" || fail "cannot write $POLICY"
  OWN_POLICY=1
fi
cleanup() { if [ -n "$OWN_POLICY" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

echo "ensure-nginx: $NGINX missing; installing Debian's nginx (at most ${LIMIT_S}s)..." >&2
timeout "$LIMIT_S" bash -c "$SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold nginx" </dev/null >&2
status=$?
if [ $status -eq 124 ]; then fail "installing nginx took longer than ${LIMIT_S}s"; fi
if [ $status -ne 0 ]; then fail "apt-get failed with status $status"; fi
[ -x "$NGINX" ] || fail "apt-get finished but $NGINX is still missing"
echo "ensure-nginx: installed $("$NGINX" -v 2>&1)" >&2
