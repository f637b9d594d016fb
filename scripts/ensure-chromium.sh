#!/usr/bin/env bash
# ensure-chromium.sh finds (or, as root on Debian, installs) a Chromium for
# the end-to-end browser tests and prints its path on stdout.
set -euo pipefail
log() { echo "ensure-chromium: $*" >&2; }

find_browser() {
  for b in "${WARDWATCH_TEST_CHROMIUM:-}" chromium chromium-browser google-chrome; do
    [ -n "$b" ] && command -v "$b" 2>/dev/null && return 0
  done
  return 1
}

if find_browser; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "Chromium is missing and only root on Debian can install it here (apt-get install chromium)"
  exit 1
fi
log "installing Chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium fonts-dejavu-core >&2
find_browser
