#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the UI tests (tests/ui/*.test.ts).
# Installs it with apt-get only when it is missing; bounded in time; exits non-zero with a clear
# message when it cannot, so the UI tests fail loudly instead of skipping.
set -uo pipefail
BROWSER=/usr/bin/chromium
LIMIT_S=${ARW_CHROMIUM_INSTALL_TIMEOUT_S:-600}

if [ -x "$BROWSER" ]; then exit 0; fi

fail() {
  echo "ensure-chromium: $1" >&2
  echo "ensure-chromium: the UI tests need Debian's chromium at $BROWSER (apt-get install -y chromium)." >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available on this machine"
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else fail "not root and no passwordless sudo"; fi
fi

# One install at a time (parallel test workers, two checkouts): the others wait, then find it there.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/arw-ensure-chromium.lock"
  flock -w "$LIMIT_S" 9 || fail "waited ${LIMIT_S}s for another install of chromium"
  if [ -x "$BROWSER" ]; then exit 0; fi
fi

echo "ensure-chromium: $BROWSER missing; installing Debian's chromium (at most ${LIMIT_S}s)..." >&2
export DEBIAN_FRONTEND=noninteractive
timeout "$LIMIT_S" bash -c "$SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold chromium fonts-dejavu-core" </dev/null >&2
status=$?
if [ $status -eq 124 ]; then fail "installing chromium took longer than ${LIMIT_S}s"; fi
if [ $status -ne 0 ]; then fail "apt-get failed with status $status"; fi
[ -x "$BROWSER" ] || fail "apt-get finished but $BROWSER is still missing"
echo "ensure-chromium: installed $("$BROWSER" --version 2>/dev/null)" >&2
