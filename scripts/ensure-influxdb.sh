#!/usr/bin/env bash
# ensure-influxdb.sh finds (or builds) InfluxDB 1.8.10's influxd for the
# telemetry tests and benchmarks in influx/, and prints its path on stdout;
# progress goes to stderr. It builds with
#   GOBIN=<cache dir> go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10
# into ${WARDWATCH_INFLUXDB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wardwatch/influxdb-1.8.10}
# (about a minute the first time, then cached). It never starts influxd: the
# tests start private servers on free loopback ports.
set -euo pipefail
log() { echo "ensure-influxdb: $*" >&2; }

version=v1.8.10
cache=${WARDWATCH_INFLUXDB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wardwatch/influxdb-1.8.10}
GO=${GO:-go}

# is_influxd_1_8 reports whether $1 runs and says it is InfluxDB 1.8.
is_influxd_1_8() {
  [ -x "$1" ] && "$1" version 2>/dev/null | grep -q '^InfluxDB v\?1\.8\.'
}

for b in "${WARDWATCH_TEST_INFLUXD:-}" "$cache/influxd"; do
  if [ -n "$b" ] && is_influxd_1_8 "$b"; then echo "$b"; exit 0; fi
done

if ! command -v "$GO" >/dev/null; then
  log "influxd is missing and there is no Go toolchain ($GO) to build it"
  exit 1
fi
mkdir -p "$cache"
log "building influxd $version into $cache (go install; about a minute, then cached)"
# Run outside any module so the project's go.mod and GOFLAGS do not apply;
# GOTOOLCHAIN=local builds with the installed Go, which builds 1.8.10 as is.
# CGO is not needed (influxd 1.8 is pure Go).
# go install does not stamp the version (the release build sets it with
# -ldflags), so stamp it here: the check below and the server's logs use it.
if ! (cd "$cache" && env GOBIN="$cache" GOFLAGS= GOTOOLCHAIN=local CGO_ENABLED=0 GO111MODULE=on \
  "$GO" install -ldflags "-X main.version=${version#v} -X main.branch=$version" \
  "github.com/influxdata/influxdb/cmd/influxd@$version" >&2); then
  log "go install github.com/influxdata/influxdb/cmd/influxd@$version failed"
  exit 1
fi
if is_influxd_1_8 "$cache/influxd"; then echo "$cache/influxd"; exit 0; fi
log "built $cache/influxd, but it does not run or is not InfluxDB 1.8"
exit 1
