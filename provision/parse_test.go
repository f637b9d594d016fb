package provision_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/provision"
)

// TestParseErrors checks bad files are refused with the file's line.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"empty", "", "site.yaml: the file is empty"},
		{"not yaml", "version: [1\n", "site.yaml"},
		{"wrong version", "version: 2\n", "site.yaml:1: version is 2"},
		{"unknown field", "version: 1\nfloors:\n  - name: A\n    levl: 1\n", "site.yaml:4: field levl not found"},
		{"wrong type", "version: 1\nfloors:\n  - name: A\n    level: high\n", "site.yaml:4:"},
		{"floor size", "version: 1\nfloors:\n  - {name: A, level: 0, width: 0, height: 10}\n", `site.yaml:3: floor "A": width and height`},
		{"duplicate floor", "version: 1\nfloors:\n  - {name: A, width: 1, height: 1}\n  - {name: A, width: 1, height: 1}\n",
			`site.yaml:4: floor "A" is listed twice (first at site.yaml:3)`},
		{"bad polygon", "version: 1\nzones:\n  - {floor: A, name: Z, kind: room, polygon: [[0, 0], [1, 1]]}\n", "site.yaml:3: zone A / Z needs a polygon"},
		{"bad kind", "version: 1\nzones:\n  - {floor: A, name: Z, kind: ballroom, polygon: [[0,0],[1,0],[1,1]]}\n", `site.yaml:3: zone A / Z: unknown kind "ballroom"`},
		{"literal secret", "version: 1\nsnmp_targets:\n  - name: t\n    community: public\n", "site.yaml:4: write a secret as {env: VARIABLE}"},
		{"two-key secret", "version: 1\nusers:\n  - username: u\n    role: admin\n    password: {env: A, file: B}\n", "exactly one of env"},
		{"bad duration", "version: 1\nmodbus_devices:\n  - {name: d, transport: tcp, address: 'h:502', profile: p, interval: soon, timeout: 1s}\n",
			`site.yaml:3: interval "soon" is not a duration`},
		{"bad date", "version: 1\nassets:\n  - {name: P, kind: bed, pm_due: tomorrow}\n", `site.yaml:3: pm_due: "tomorrow" is not a date`},
		{"bad UDI", "version: 1\nassets:\n  - {name: P, kind: infusion_pump, udi: '(01)00884838035452'}\n", `site.yaml:3: asset "P": udi: GS1 UDI: the GTIN 00884838035452 fails its check digit`},
		{"UDI of no agency", "version: 1\nassets:\n  - {name: P, kind: bed, udi: 'SN 12'}\n", `site.yaml:3: asset "P": udi: UDI "SN 12"… is from no issuing agency`},
		{"long model", "version: 1\nassets:\n  - {name: P, kind: bed, model: '" + strings.Repeat("m", 101) + "'}\n", `site.yaml:3: asset "P": model is longer than 100 characters`},
		{"manufacturer control", "version: 1\nassets:\n  - {name: P, kind: bed, manufacturer: \"A\\tB\"}\n", `site.yaml:3: asset "P": manufacturer "A\tB" holds a character`},
		{"duplicate tag", "version: 1\nassets:\n  - {name: P, kind: bed, tags: [x]}\n  - {name: Q, kind: bed, tags: [x]}\n", `site.yaml:4: tag "x" is listed twice`},
		{"bad rules", "version: 1\nunits:\n  - name: U\n    profile: vaccine_fridge\n    rules:\n      - {id: x, limit: 8}\n", "site.yaml:6: rules:"},
		{"rfid gateway", "version: 1\ngateways:\n  - {key: 'reader#1', floor: A, position: [1, 1]}\n", "site.yaml:3: a gateway needs a key"},
		{"two documents", "version: 1\n---\nversion: 1\n", "more than one YAML document"},
		{"bad role", "version: 1\nusers:\n  - {username: u, role: god}\n", `site.yaml:3: user "u": unknown role "god"`},
		{"policy", "version: 1\nescalation_policies:\n  - {priority: urgent, tiers: []}\n", "site.yaml:2: escalation policies:"},
		{"floor without height", "version: 1\nfloors:\n  - {name: A, width: 10}\n", `site.yaml:3: floor "A": width and height`},
		{"plan ref", "version: 1\nfloors:\n  - {name: A, width: 10, plan: {file: ''}}\n", `site.yaml:3: floor "A": plan is {file: PATH}`},
		{"plan unknown field", "version: 1\nfloors:\n  - {name: A, width: 10, plan: {path: a.svg}}\n", "site.yaml:3: field path not found"},
		{"reader key", "version: 1\nrfid_readers:\n  - {key: 'a#b', antennas: [{port: 1, zone: {floor: F, zone: Z}}]}\n", "site.yaml:3: a reader needs a key"},
		{"reader ports", "version: 1\nrfid_readers:\n  - {key: r, antennas: [{port: 1, zone: {floor: F, zone: Z}}, {port: 1, zone: {floor: F, zone: Y}}]}\n",
			`site.yaml:3: reader "r": antenna ports must be distinct`},
		{"reader token literal", "version: 1\nrfid_readers:\n  - key: r\n    token: abc\n", "site.yaml:4: write a secret as"},
		{"portal port", "version: 1\nrfid_readers:\n  - key: r\n    antennas: [{port: 1, zone: {floor: F, zone: Z}}]\n    portal: {inside: [1], outside: [3], inside_zone: {floor: F, zone: Z}, outside_zone: {floor: F, zone: Y}}\n",
			`site.yaml:3: reader "r": door antenna 3 is not one of the reader's antennas`},
		{"poll url", "version: 1\npoll_targets:\n  - {name: p, url: 'ftp://x', source: ble, key: g, interval: 10s, timeout: 1s}\n", `site.yaml:3: poll target "p": the URL`},
		{"poll credentials", "version: 1\npoll_targets:\n  - {name: p, url: 'https://u:pw@x/', source: ble, key: g, interval: 10s, timeout: 1s}\n", "not in the URL"},
		{"poll timeout", "version: 1\npoll_targets:\n  - {name: p, url: 'https://x/', source: ble, key: g, interval: 1s, timeout: 2s}\n", "longer than the interval"},
		{"poll auth literal", "version: 1\npoll_targets:\n  - name: p\n    authorization: Bearer x\n", "site.yaml:4: write a secret as"},
		{"profile both", "version: 1\ndevice_profiles:\n  - {kind: modbus, name: m, source: 'name: m', file: m.yaml}\n", `site.yaml:3: profile "m": give exactly one`},
		{"profile kind", "version: 1\ndevice_profiles:\n  - {kind: bacnet, name: m, source: x}\n", `site.yaml:3: profile kind "bacnet"`},
		{"window kind", "version: 1\nmaintenance_windows:\n  - {unit: U, kind: nap, start: 2027-01-01, end: 2027-01-02}\n", `site.yaml:3: window of "U": kind "nap"`},
		{"window order", "version: 1\nmaintenance_windows:\n  - {unit: U, kind: defrost, start: 2027-01-02, end: 2027-01-01}\n", "must end after it starts"},
		{"window time", "version: 1\nmaintenance_windows:\n  - {unit: U, kind: defrost, start: soon, end: 2027-01-01}\n", `site.yaml:3: start: "soon" is not a date`},
		{"window twice", "version: 1\nmaintenance_windows:\n  - {unit: U, kind: defrost, start: 2027-01-01, end: 2027-01-02}\n  - {unit: U, kind: defrost, start: '2027-01-01T00:00:00Z', end: 2027-01-03}\n",
			"site.yaml:4: window U defrost from 2027-01-01 is listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := provision.Parse("site.yaml", []byte(tc.file))
			if err == nil {
				t.Fatalf("Parse accepted the file")
			}
			if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID {
				t.Errorf("code %q, want invalid", code)
			}
			if msg := wardwatch.ErrorMessage(err); !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q, want it to contain %q", msg, tc.want)
			}
		})
	}
}

// TestParseRulesJSON checks a unit's rules may be pasted as the JSON of
// alerts.FormatRules.
func TestParseRulesJSON(t *testing.T) {
	site, err := provision.Parse("s", []byte(`version: 1
units:
  - name: U
    profile: vaccine_fridge
    rules: [{"id": "hot", "name": "Hot", "category": "environment", "priority": "high", "metric": "temperature", "condition": "above", "limit": 8}]
  - name: V
    profile: vaccine_fridge
    rules: |
      [{"id": "cold", "name": "Cold", "category": "environment", "priority": "high", "metric": "temperature", "condition": "below", "limit": 2}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if r := site.Units[0].Rules.Rules; len(r) != 1 || r[0].Limit != 8 {
		t.Fatalf("rules %+v", r)
	}
	if r := site.Units[1].Rules.Rules; len(r) != 1 || r[0].Limit != 2 {
		t.Fatalf("rules %+v", r)
	}
}

// FuzzParse checks Parse never panics and that whatever it accepts
// marshals and parses again to the same site.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("testdata", "site.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(small))
	for _, s := range []string{"", "version: 1\n", "version: 1\nfloors: [{name: A, width: 1, height: 1}]\n", "{", "version: 1\nusers: [{username: u, role: admin, password: x}]\n",
		"a: &a [*a, *a]\n", "version: 1\nunits: [{name: U, profile: vaccine_fridge, rules: '[]'}]\n",
		"version: 1\nrfid_readers: [{key: r, token: {env: T}, antennas: [{port: 2, zone: {floor: F, zone: Z}}, {port: 1, zone: {floor: F, zone: Y}}],\n  portal: {inside: [1], outside: [2], inside_zone: {floor: F, zone: Y}, outside_zone: {floor: F, zone: Z}}}]\n",
		"version: 1\npoll_targets: [{name: p, url: 'https://x/', source: rfid, key: r, interval: 60s, timeout: 1000ms, authorization: {file: /a}, enabled: false}]\n",
		"version: 1\ndevice_profiles: [{kind: modbus, name: m, source: \"name: m\\n\\n\"}, {kind: snmp, name: s, file: p/s.yaml}]\n",
		"version: 1\nfloors: [{name: A, width: 10, plan: {file: plans/a.svg}}, {name: B, width: 10, height: 3, plan: {file: /abs/b.png}}]\n",
		"version: 1\nmaintenance_windows: [{unit: U, kind: defrost, start: '2027-01-01T02:00:00.123456789+02:00', end: 2027-01-02}]\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		site, err := provision.Parse("fuzz.yaml", data)
		if err != nil {
			if wardwatch.ErrorCode(err) == wardwatch.EINTERNAL {
				t.Fatalf("internal error: %v", err)
			}
			return
		}
		out, err := provision.Marshal(site)
		if err != nil {
			t.Fatalf("Marshal of an accepted site: %v", err)
		}
		again, err := provision.Parse("again.yaml", out)
		if err != nil {
			t.Fatalf("Parse of the marshalled site: %v\n%s", err, out)
		}
		out2, err := provision.Marshal(again)
		if err != nil || string(out2) != string(out) {
			t.Fatalf("Marshal is not stable: %v\n%s\n---\n%s", err, out, out2)
		}
	})
}
