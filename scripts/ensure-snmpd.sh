#!/usr/bin/env bash
# ensure-snmpd.sh finds (or, as root on Debian, installs) net-snmp's agent
# snmpd and its command-line clients (snmpget, snmpwalk: handy when a test
# fails) for the SNMP collector tests, and prints snmpd's path on stdout;
# progress goes to stderr. It never starts the system service: the tests
# start private agents on free loopback ports with their own configuration.
set -euo pipefail
log() { echo "ensure-snmpd: $*" >&2; }

find_snmpd() {
  for b in "${WARDWATCH_TEST_SNMPD:-}" snmpd /usr/sbin/snmpd; do
    [ -n "$b" ] && command -v "$b" 2>/dev/null && return 0
  done
  return 1
}

if find_snmpd >/dev/null; then find_snmpd; exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "snmpd is missing and only root on Debian can install it here (apt-get install snmpd snmp)"
  exit 1
fi

log "installing net-snmp (apt-get install snmpd snmp)"
export DEBIAN_FRONTEND=noninteractive
# Keep the package's service from starting: invoke-rc.d and
# deb-systemd-invoke ask policy-rc.d, and 101 means "action forbidden".
# An existing policy-rc.d is left alone (it already decides).
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
apt-get install -y -qq --no-install-recommends snmpd snmp >&2
cleanup
ours=
trap - EXIT

if find_snmpd; then exit 0; fi
log "installed net-snmp, but snmpd is still not found"
exit 1
