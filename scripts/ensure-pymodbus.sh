#!/usr/bin/env bash
# ensure-pymodbus.sh finds (or, as root on Debian, installs) a python3 that
# can import pymodbus's server, the independent Modbus server the
# collectors/modbus integration tests run against, and prints that python3's
# path on stdout; progress goes to stderr. Debian 12 ships python3-pymodbus
# 3.0.0, whose server module also imports pyserial and serial_asyncio
# (python3-serial, python3-serial-asyncio: only recommended by the package,
# so installed explicitly here); the test server script
# (collectors/modbus/testdata/pymodbus_server.py) is written for the 3.x API.
set -euo pipefail
log() { echo "ensure-pymodbus: $*" >&2; }

find_python() {
  for p in "${WARDWATCH_TEST_PYTHON3:-}" python3 /usr/bin/python3; do
    [ -n "$p" ] || continue
    bin=$(command -v "$p" 2>/dev/null) || continue
    if "$bin" -c 'import sys, pymodbus, pymodbus.server; sys.exit(0 if int(pymodbus.__version__.split(".")[0]) >= 3 else 1)' >/dev/null 2>&1; then
      echo "$bin"
      return 0
    fi
  done
  return 1
}

if find_python; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "python3 with pymodbus 3.x is missing and only root on Debian can install it here (apt-get install python3-pymodbus python3-serial python3-serial-asyncio)"
  exit 1
fi

log "installing python3-pymodbus with python3-serial and python3-serial-asyncio (apt-get)"
export DEBIAN_FRONTEND=noninteractive
# python3-pymodbus ships no service, but keep any maintainer script from
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
apt-get install -y -qq --no-install-recommends python3 python3-pymodbus python3-serial python3-serial-asyncio >&2
cleanup
ours=
trap - EXIT

if find_python; then exit 0; fi
log "installed python3-pymodbus, but python3 still cannot import pymodbus 3.x and its server"
exit 1
