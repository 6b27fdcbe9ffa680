#!/usr/bin/env bash
# Installs everything the tests need, then runs them all: unit and integration tests (jest) and
# the type check. Writes jest's JSON report to test-results.json (read by .ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund || exit 1

# Integration tests start their own OpenSSH server on loopback.
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing openssh-server and openssh-client for the integration tests" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client >/dev/null || exit 1
  else
    echo "fcp's tests need OpenSSH (/usr/sbin/sshd and ssh-keygen): install openssh-server and openssh-client" \
      "(e.g. 'sudo apt-get install openssh-server openssh-client'), then run this again" >&2
    exit 1
  fi
fi

npx jest --json --outputFile=test-results.json
jest_status=$?
npx tsc --noEmit -p .
tsc_status=$?
[ "$tsc_status" = 0 ] || echo "type check failed (tsc --noEmit)" >&2
[ "$jest_status" = 0 ] && [ "$tsc_status" = 0 ]
