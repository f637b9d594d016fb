#!/usr/bin/env bash
# ensure-mosquitto.sh finds (or, as root on Debian, installs) the Mosquitto
# broker and its command-line clients (mosquitto_passwd, mosquitto_sub) for
# the MQTT tests and cmd/mqttload, and prints the broker's path on stdout;
# progress goes to stderr. It never starts the system service: the tests
# start private brokers on free loopback ports.
set -euo pipefail
log() { echo "ensure-mosquitto: $*" >&2; }

find_broker() {
  for b in "${WARDWATCH_TEST_MOSQUITTO:-}" mosquitto /usr/sbin/mosquitto; do
    [ -n "$b" ] && command -v "$b" 2>/dev/null && return 0
  done
  return 1
}
have_clients() {
  command -v mosquitto_passwd >/dev/null 2>&1 && command -v mosquitto_sub >/dev/null 2>&1
}

if find_broker >/dev/null && have_clients; then find_broker; exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "Mosquitto (or mosquitto_passwd/mosquitto_sub) is missing and only root on Debian can install it here (apt-get install mosquitto mosquitto-clients)"
  exit 1
fi

log "installing Mosquitto (apt-get)"
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
apt-get install -y -qq --no-install-recommends mosquitto mosquitto-clients >&2
cleanup
ours=
trap - EXIT

if find_broker && have_clients; then exit 0; fi
log "installed Mosquitto, but mosquitto, mosquitto_passwd or mosquitto_sub is still not found"
exit 1
