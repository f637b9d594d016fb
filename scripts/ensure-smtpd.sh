#!/usr/bin/env bash
# ensure-smtpd.sh finds (or, as root on Debian, installs) a python3 that can
# import aiosmtpd, the independent SMTP server the alerts/notify e-mail tests
# run against (alerts/notify/testdata/smtpd.py starts it on a free loopback
# port with STARTTLS and AUTH), and prints that python3's path on stdout;
# progress goes to stderr. Export the path as WARDWATCH_TEST_SMTPD_PYTHON.
# Debian 12 ships python3-aiosmtpd 1.4.3; the script needs 1.4 or later.
set -euo pipefail
log() { echo "ensure-smtpd: $*" >&2; }

find_python() {
  for p in "${WARDWATCH_TEST_SMTPD_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$p" ] || continue
    bin=$(command -v "$p" 2>/dev/null) || continue
    if "$bin" -c 'import sys, aiosmtpd, aiosmtpd.controller; v = [int(x) for x in aiosmtpd.__version__.split(".")[:2]]; sys.exit(0 if v >= [1, 4] else 1)' >/dev/null 2>&1; then
      echo "$bin"
      return 0
    fi
  done
  return 1
}

if find_python; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "python3 with aiosmtpd 1.4+ is missing and only root on Debian can install it here (apt-get install python3-aiosmtpd)"
  exit 1
fi

log "installing python3-aiosmtpd (apt-get)"
export DEBIAN_FRONTEND=noninteractive
# python3-aiosmtpd ships no service, but keep any maintainer script from
# starting one: invoke-rc.d and deb-systemd-invoke ask policy-rc.d, and 101
# means "action forbidden". An existing policy-rc.d is left alone.
policy=/usr/sbin/policy-rc.d
ours=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  ours=1
fi
cleanup() { if [ -n "$ours" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends python3 python3-aiosmtpd >&2
cleanup
ours=
trap - EXIT

if find_python; then exit 0; fi
log "installed python3-aiosmtpd, but python3 still cannot import aiosmtpd 1.4+"
exit 1
