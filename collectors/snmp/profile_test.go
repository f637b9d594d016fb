package snmp

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

const sampleProfile = `name: acme-pump-gateway
description: ACME gateway, one row per pump
table: .1.3.6.1.4.1.32473.99.1.1
serial: {oid: 1.3.6.1.4.1.32473.99.1.1.2}
status:
  oid: 1.3.6.1.4.1.32473.99.1.1.3
  enum: {1: idle, 2: infusing, RUN: infusing, 9: alarm}
on_ac: {oid: 1.3.6.1.4.1.32473.99.1.1.4, enum: {3: "true", 4: "false"}}
rate: {oid: 1.3.6.1.4.1.32473.99.1.1.5, scale: 0.1}
drug_library_version: {oid: 1.3.6.1.4.1.32473.99.2.0}
alarm_table:
  table: 1.3.6.1.4.1.32473.99.3.1
  code: {oid: 1.3.6.1.4.1.32473.99.3.1.2}
  priority: {oid: 1.3.6.1.4.1.32473.99.3.1.3, enum: {1: high, 2: low}}
alarm_bits:
  oid: 1.3.6.1.4.1.32473.99.1.1.9
  bits:
    - {bit: 0, code: occlusion, text: Occlusion, priority: high}
    - {bit: 7, code: door, priority: low}
`

func TestParseProfile(t *testing.T) {
	p, err := ParseProfile([]byte(sampleProfile))
	if err != nil {
		t.Fatal(err)
	}
	if p.Table != "1.3.6.1.4.1.32473.99.1.1" {
		t.Errorf("table %q: the leading dot should be dropped", p.Table)
	}
	if got := p.Status.Enum["RUN"]; got != "infusing" {
		t.Errorf("status enum RUN = %q", got)
	}
	if got := p.Status.Enum["9"]; got != "alarm" {
		t.Errorf("status enum 9 = %q (integer keys read as text)", got)
	}
	if !p.IsTable() || p.Rate.Scale != 0.1 || len(p.AlarmBits.Bits) != 2 || p.AlarmTable.Text != nil {
		t.Errorf("parsed %+v", p)
	}
	pl, err := compile(p)
	if err != nil {
		t.Fatal(err)
	}
	// drug_library_version lies outside the table: a scalar for every row.
	if len(pl.scalars) != 1 || pl.scalars[0].spec.name != "drug_library_version" || len(pl.columns) != 5 || len(pl.alarmCols) != 2 {
		t.Errorf("compiled: %d scalars, %d columns, %d alarm columns", len(pl.scalars), len(pl.columns), len(pl.alarmCols))
	}
}

func TestParseProfileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"empty", "", "empty"},
		{"not yaml", "name: [", "not valid YAML"},
		{"unknown key", "name: x\nserial: {oid: 1.3.6.1.2.0}\nserail: {oid: 1.3}\n", "field serail not found"},
		{"unknown field key", "name: x\nserial: {oid: 1.3.6.1.2.0, scael: 2}\n", "field scael not found"},
		{"two documents", "name: x\nserial: {oid: 1.3.6.1.2.0}\n---\nname: y\n", "single YAML document"},
		{"no name", "serial: {oid: 1.3.6.1.2.0}\n", "needs a name"},
		{"no serial", "name: x\nmodel: {oid: 1.3.6.1.2.0}\n", "serial is required"},
		{"MIB name", "name: x\nserial: {oid: SNMPv2-MIB::sysName.0}\n", "not numeric"},
		{"bad first arc", "name: x\nserial: {oid: 3.1.2}\n", "must start with 0, 1 or 2"},
		{"huge arc", "name: x\nserial: {oid: 1.3.4294967296}\n", "larger than 4294967295"},
		{"empty arc", "name: x\nserial: {oid: 1..3}\n", "empty arc"},
		{"one arc", "name: x\nserial: {oid: '1'}\n", "fewer than two arcs"},
		{"serial outside table", "name: x\ntable: 1.3.6.1.4.1.1.1\nserial: {oid: 1.3.6.1.4.1.2.1}\n", "serial must be a column of the table"},
		{"column is the table", "name: x\ntable: 1.3.6.1.4.1.1.1\nserial: {oid: 1.3.6.1.4.1.1.1.2}\nmodel: {oid: 1.3.6.1.4.1.1.1}\n", "table entry itself"},
		{"same OID twice", "name: x\nserial: {oid: 1.3.6.1.2.0}\nmodel: {oid: .1.3.6.1.2.0}\n", "read the same OID"},
		{"scale on text", "name: x\nserial: {oid: 1.3.6.1.2.0, scale: 2}\n", "scale applies to numeric fields"},
		{"negative scale", "name: x\nserial: {oid: 1.3.6.1.2.0}\nrate: {oid: 1.3.6.1.3.0, scale: -1}\n", "positive number"},
		{"enum on number", "name: x\nserial: {oid: 1.3.6.1.2.0}\nrate: {oid: 1.3.6.1.3.0, enum: {1: a}}\n", "enum applies to status"},
		{"bad status", "name: x\nserial: {oid: 1.3.6.1.2.0}\nstatus: {oid: 1.3.6.1.3.0, enum: {1: running}}\n", "not a pump status"},
		{"bad bool", "name: x\nserial: {oid: 1.3.6.1.2.0}\non_ac: {oid: 1.3.6.1.3.0, enum: {1: yes}}\n", "must be true or false"},
		{"bad priority", "name: x\nserial: {oid: 1.3.6.1.2.0}\nalarm_table: {table: 1.3.6.1.9.1, code: {oid: 1.3.6.1.9.1.2}, priority: {oid: 1.3.6.1.9.1.3, enum: {1: urgent}}}\n", "not high, medium or low"},
		{"alarm table without code", "name: x\nserial: {oid: 1.3.6.1.2.0}\nalarm_table: {table: 1.3.6.1.9.1}\n", "alarm_table.code is required"},
		{"alarm column outside", "name: x\nserial: {oid: 1.3.6.1.2.0}\nalarm_table: {table: 1.3.6.1.9.1, code: {oid: 1.3.6.1.8.1.2}}\n", "not a column of the alarm table"},
		{"no bits", "name: x\nserial: {oid: 1.3.6.1.2.0}\nalarm_bits: {oid: 1.3.6.1.3.0}\n", "between 1 and 64 bits"},
		{"bit out of range", "name: x\nserial: {oid: 1.3.6.1.2.0}\nalarm_bits: {oid: 1.3.6.1.3.0, bits: [{bit: 64, code: a, priority: high}]}\n", "outside 0–63"},
		{"bit twice", "name: x\nserial: {oid: 1.3.6.1.2.0}\nalarm_bits: {oid: 1.3.6.1.3.0, bits: [{bit: 1, code: a, priority: high}, {bit: 1, code: b, priority: low}]}\n", "listed twice"},
		{"bit without code", "name: x\nserial: {oid: 1.3.6.1.2.0}\nalarm_bits: {oid: 1.3.6.1.3.0, bits: [{bit: 1, priority: high}]}\n", "needs a code"},
		{"control characters", "name: \"x\\ty\"\nserial: {oid: 1.3.6.1.2.0}\n", "control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProfile([]byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID {
				t.Errorf("code %q, want invalid", code)
			}
			if msg := wardwatch.ErrorMessage(err); !strings.Contains(msg, tc.want) {
				t.Errorf("message %q, want it to contain %q", msg, tc.want)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		_, err := ParseProfile(make([]byte, maxProfileSize+1))
		if wardwatch.ErrorCode(err) != wardwatch.ETOOLARGE {
			t.Errorf("err = %v", err)
		}
	})
}

// TestProfileRoundTrip checks that MarshalProfile's YAML parses back to
// the same profile, for the built-in profiles and a parsed one.
func TestProfileRoundTrip(t *testing.T) {
	parsed, err := ParseProfile([]byte(sampleProfile))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(BuiltinProfiles(), parsed) {
		t.Run(p.Name, func(t *testing.T) {
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			data, err := MarshalProfile(p)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseProfile(data)
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			if !reflect.DeepEqual(back, p) {
				t.Errorf("round trip changed the profile:\n got %+v\nwant %+v\n%s", back, p, data)
			}
		})
	}
}

func TestBuiltinProfiles(t *testing.T) {
	ps := BuiltinProfiles()
	if len(ps) != 2 || ps[0].IsTable() || !ps[1].IsTable() {
		t.Fatalf("want a single-pump and a pump-server profile, got %d", len(ps))
	}
	for _, p := range ps {
		for _, spec := range pumpFields {
			if f := spec.get(&p); f == nil || !strings.HasPrefix(f.OID, ExampleArc+".") {
				t.Errorf("%s: %s is not read from the example arc", p.Name, spec.name)
			}
		}
	}
	// Fresh copies: changing one does not change the next.
	ps[0].Status.Enum["RUN"] = "off"
	if p, _ := BuiltinProfile(ExamplePumpProfile); p.Status.Enum["RUN"] != "infusing" {
		t.Error("BuiltinProfiles shares its maps")
	}
	if _, ok := BuiltinProfile("nope"); ok {
		t.Error("BuiltinProfile found a profile that does not exist")
	}
}

func TestCompareOID(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.3.6", "1.3.6", 0},
		{".1.3.6", "1.3.6", 0},
		{"1.3.6", "1.3.6.1", -1},
		{"1.3.10", "1.3.9", 1},
		{"1.3.6.1.2", "1.3.6.1.10", -1},
		{"", "1", -1},
		{"4294967295", "4294967294", 1},
	} {
		if got := compareOID(tc.a, tc.b); got != tc.want {
			t.Errorf("compareOID(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if !underOID(".1.3.6.1", ".1.3.6") || underOID(".1.3.61", ".1.3.6") || underOID(".1.3.6", ".1.3.6") {
		t.Error("underOID")
	}
	if parentIndex("3.2") != "3" || parentIndex("2") != "" || parentIndex("1.2.3") != "1.2" {
		t.Error("parentIndex")
	}
}

var update = flag.Bool("update", false, "rewrite testdata/profiles from the built-in profiles")

// TestBuiltinProfilesGolden keeps testdata/profiles, the YAML of the
// built-in profiles shown to admins as examples, in step with the code
// (go test -run TestBuiltinProfilesGolden -update rewrites them).
func TestBuiltinProfilesGolden(t *testing.T) {
	for _, p := range BuiltinProfiles() {
		data, err := MarshalProfile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join("testdata", "profiles", p.Name+".yaml")
		if *update {
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%v (run go test -run TestBuiltinProfilesGolden -update)", err)
		}
		if string(want) != string(data) {
			t.Errorf("%s is stale: run go test -run TestBuiltinProfilesGolden -update\n%s", name, data)
		}
		parsed, err := ParseProfile(want)
		if err != nil || !reflect.DeepEqual(parsed, p) {
			t.Errorf("%s does not parse back to the built-in profile: %v", name, err)
		}
	}
}
