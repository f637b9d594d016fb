#!/usr/bin/env bash
# test.sh is `make test`: it provisions what the suite needs (PostgreSQL,
# Mosquitto, net-snmp snmpd, InfluxDB 1.8.10, pymodbus, aiosmtpd, Chromium), checks formatting,
# vet and generated code, and runs every test.
# Outside CI a dependency it cannot provide is reported and its tests skip;
# with CI=true a missing dependency fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
missing=()
failed=()
step() { printf '\n== %s\n' "$*"; }

step "provisioning test dependencies"
if dsn=$(scripts/ensure-postgres.sh); then
  export WARDWATCH_TEST_POSTGRES_DSN="$dsn"
  echo "PostgreSQL: $dsn"
else
  missing+=("PostgreSQL (store contract tests on PostgreSQL)")
fi
if broker=$(scripts/ensure-mosquitto.sh); then
  export WARDWATCH_TEST_MOSQUITTO="$broker"
  echo "Mosquitto: $broker"
else
  missing+=("Mosquitto (MQTT collector tests)")
fi
if snmpd=$(scripts/ensure-snmpd.sh); then
  export WARDWATCH_TEST_SNMPD="$snmpd"
  echo "snmpd: $snmpd"
else
  missing+=("net-snmp snmpd (SNMP collector tests)")
fi
if influxd=$(scripts/ensure-influxdb.sh); then
  export WARDWATCH_TEST_INFLUXD="$influxd"
  echo "influxd: $influxd"
else
  missing+=("InfluxDB 1.8.10 (InfluxDB telemetry tests)")
fi
if pymodbus=$(scripts/ensure-pymodbus.sh); then
  export WARDWATCH_TEST_PYTHON3="$pymodbus"
  echo "pymodbus (python3): $pymodbus"
else
  missing+=("pymodbus (Modbus interoperability tests)")
fi
if smtpd=$(scripts/ensure-smtpd.sh); then
  export WARDWATCH_TEST_SMTPD_PYTHON="$smtpd"
  echo "aiosmtpd: $smtpd"
else
  missing+=("aiosmtpd (alert e-mail tests)")
fi
if browser=$(scripts/ensure-chromium.sh); then
  export WARDWATCH_TEST_CHROMIUM="$browser"
  echo "Chromium: $browser"
else
  missing+=("Chromium (end-to-end browser test)")
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; failed+=("gofmt"); fi

step "generated templ code is current"
before=$(find . -name '*_templ.go' -exec sha256sum {} + | sort)
if $GO tool templ generate >/dev/null; then
  after=$(find . -name '*_templ.go' -exec sha256sum {} + | sort)
  if [ "$before" != "$after" ]; then
    echo "'go tool templ generate' changed *_templ.go files: commit the regenerated files"
    failed+=("templ generate")
  fi
else
  failed+=("templ generate")
fi

step "go vet"
$GO vet ./... || failed+=("go vet")

step "go test"
$GO test -count=1 ./... || failed+=("go test")

step "go test -race (concurrent packages)"
$GO test -count=1 -race ./web/live/ ./tracker/... ./collectors/... ./web/ ./influx/ ./alerts/... || failed+=("go test -race")

step "summary"
for m in "${missing[@]}"; do echo "NOT RUN: $m"; done
for f in "${failed[@]}"; do echo "FAILED: $f"; done
if [ ${#failed[@]} -gt 0 ]; then exit 1; fi
if [ ${#missing[@]} -gt 0 ] && [ "${CI:-}" = true ]; then
  echo "CI=true: missing dependencies are failures"; exit 1
fi
echo "all checks passed"
