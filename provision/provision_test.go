package provision_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/auth"
	"github.com/wardwatch/wardwatch/internal/pgtest"
	"github.com/wardwatch/wardwatch/provision"
	"github.com/wardwatch/wardwatch/sim"
	"github.com/wardwatch/wardwatch/sim/modbussim"
	"github.com/wardwatch/wardwatch/sql"
)

var update = flag.Bool("update", false, "rewrite testdata/site.yaml from the seeded demo hospital")

// Secrets of the demo site, as the environment gives them.
var testEnv = map[string]string{
	"WARDWATCH_SNMP_DEMO_PUMP_SERVER_AUTH_PASSWORD": "demo-auth-pass",
	"WARDWATCH_SNMP_DEMO_PUMP_SERVER_PRIV_PASSWORD": "demo-priv-pass",
	"WARDWATCH_SNMP_LEGACY_PUMP_COMMUNITY":          "legacy-community",
}

func getenv(k string) string { return testEnv[k] }

// passwords is auth's bcrypt, as cmd/wardwatch wires it.
type passwords struct{}

func (passwords) Hash(p string) (string, error) { return auth.HashPassword(p) }
func (passwords) Check(h, p string) bool        { return auth.CheckPassword(h, p) }

func options(prune bool) provision.Options {
	return provision.Options{Prune: prune, Getenv: getenv, ReadFile: os.ReadFile, Passwords: passwords{}}
}

// openSQLite opens a migrated SQLite store in a temporary directory, with
// a secret box for the SNMP credentials.
func openSQLite(t *testing.T) *sql.Store {
	t.Helper()
	s, err := sql.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "wardwatch.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return prepare(t, s)
}

func prepare(t *testing.T, s *sql.Store) *sql.Store {
	t.Helper()
	key := make([]byte, auth.SecretKeyBytes)
	rand.Read(key)
	box, err := auth.NewSecretBox(key)
	if err != nil {
		t.Fatal(err)
	}
	s.SetSecretBox(box)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// seedDemo writes the demo hospital into s, with its monitored units,
// Modbus devices, SNMP targets and alert configuration.
func seedDemo(t *testing.T, s *sql.Store) {
	t.Helper()
	ctx := t.Context()
	if err := sim.NewHospital().Seed(ctx, s); err != nil {
		t.Fatalf("seed hospital: %v", err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	zones, err := s.Zones(ctx, 0)
	must(err)
	zoneID := map[string]int64{}
	for _, z := range zones {
		zoneID[z.Name] = z.ID
	}
	assets, err := s.Assets(ctx)
	must(err)
	for i, a := range assets {
		if i%5 == 0 {
			a.AssetTag = fmt.Sprintf("BME-%05d", 1000+i)
			a.PMDue = time.Date(2026, 9, 1+i%28, 0, 0, 0, 0, time.UTC)
			must(s.UpdateAsset(ctx, a))
		}
	}
	var firstUnit int64
	for _, d := range modbussim.DemoDevices() {
		profile := wardwatch.ProfilePharmacyFreezer
		switch d.Kind {
		case modbussim.KindVaccineFridge:
			profile = wardwatch.ProfileVaccineFridge
		case modbussim.KindRoomTransmitter, modbussim.KindRoomTransmitterInt, modbussim.KindStatic:
			profile = wardwatch.ProfileCRTRoom
		case modbussim.KindPressureMonitor:
			profile = wardwatch.ProfileIsolationRoom
			if strings.Contains(d.Name, "protective") {
				profile = wardwatch.ProfileProtectiveRoom
			} else if strings.Contains(d.Name, "Theatre") {
				profile = wardwatch.ProfileOperatingRoom
			}
		}
		if strings.Contains(d.Name, "plasma") {
			profile = wardwatch.ProfilePlasmaFreezer
		}
		u := wardwatch.MonitoredUnit{Name: d.Name, Profile: profile}
		for name, id := range zoneID {
			if strings.HasPrefix(d.Name, name+" ") {
				u.ZoneID = id
			}
		}
		must(s.CreateUnit(ctx, &u))
		if firstUnit == 0 {
			firstUnit = u.ID
		}
		md := wardwatch.ModbusDevice{Name: fmt.Sprintf("demo-%02d", d.UnitID), UnitID: u.ID, Transport: "tcp", Address: "127.0.0.1:5020",
			SlaveID: int(d.UnitID), Profile: d.Kind.Profile(), Interval: 10 * time.Second, Timeout: 2 * time.Second, Enabled: true}
		if d.UnitID == 2 {
			md.CalibrationDue = time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
		}
		must(s.CreateModbusDevice(ctx, &md))
	}
	must(s.CreateModbusDevice(ctx, &wardwatch.ModbusDevice{Name: "plant-room-rs485", Transport: "rtu", Address: "/dev/ttyUSB0",
		Baud: 9600, DataBits: 8, Parity: "E", StopBits: 1, SlaveID: 12, Profile: "th-transmitter-int",
		Interval: time.Minute, Timeout: 500 * time.Millisecond}))
	must(s.CreateSNMPTarget(ctx, &wardwatch.SNMPTarget{Name: "Demo pump server", Address: "127.0.0.1:1161", Version: "v3",
		User: "wardwatch", AuthProtocol: "SHA256", AuthPassword: testEnv["WARDWATCH_SNMP_DEMO_PUMP_SERVER_AUTH_PASSWORD"],
		PrivProtocol: "AES", PrivPassword: testEnv["WARDWATCH_SNMP_DEMO_PUMP_SERVER_PRIV_PASSWORD"],
		Profile: "wardwatch-example-pump-server", Interval: 15 * time.Second, Timeout: 2 * time.Second, Retries: 1, Enabled: true}))
	must(s.CreateSNMPTarget(ctx, &wardwatch.SNMPTarget{Name: "Legacy pump", Address: "10.20.0.7", Version: "v2c",
		Community: testEnv["WARDWATCH_SNMP_LEGACY_PUMP_COMMUNITY"], Profile: "wardwatch-example-pump-server",
		Interval: 30 * time.Second, Timeout: 3 * time.Second}))
	must(s.SetUnitRules(ctx, firstUnit, []alerts.Rule{
		{ID: "temp-high", Name: "Temperature above 8.0 °C", Category: alerts.CategoryEnvironment, Priority: alerts.PriorityHigh,
			Latched: true, Metric: wardwatch.MetricTemperature, Condition: alerts.Above, Limit: 8, Delay: 15 * time.Minute, Deadband: 0.5},
		{ID: "temp-range", Name: "Temperature outside 2–8 °C", Category: alerts.CategoryEnvironment, Priority: alerts.PriorityCritical,
			Metric: wardwatch.MetricTemperature, Condition: alerts.Outside, Low: 2, High: 8, Delay: 30 * time.Minute},
	}))
	_, err = s.SaveContact(ctx, alerts.Contact{Name: "Pharmacy on call", Group: alerts.GroupOnCall, Team: alerts.TeamPharmacy,
		Email: "pharmacy-oncall@example.org", Enabled: true})
	must(err)
	_, err = s.SaveContact(ctx, alerts.Contact{Name: "Ward 4B charge nurse", Group: alerts.GroupSupervisor, Team: alerts.TeamNursing,
		UnitID: firstUnit, Webhook: "nurse-call", Enabled: false})
	must(err)
	soiledMax := 6
	must(s.SavePARLevel(ctx, alerts.PARLevel{ID: "4b-pumps", Name: "4B infusion pumps", Kind: wardwatch.AssetInfusionPump,
		CleanZones: []int64{zoneID["4B Clean utility"]}, SoiledZones: []int64{zoneID["4B Soiled utility"]}, CleanMin: 4, SoiledMax: &soiledMax}))
	ps := alerts.DefaultPolicies()
	ps = append(ps, alerts.Policy{UnitID: firstUnit, Team: alerts.TeamPharmacy, Priority: alerts.PriorityCritical, Reminder: 2 * time.Minute,
		Tiers: []alerts.Tier{{After: 0, Targets: []alerts.Target{{Channel: alerts.ChannelEmail, Address: "pharmacy-lead@example.org"}}}}})
	must(s.SetEscalationPolicies(ctx, ps))
	for _, u := range []wardwatch.User{{Username: "admin", Role: wardwatch.RoleAdmin}, {Username: "pharmacist", Role: wardwatch.RolePharmacy},
		{Username: "charge-4b", Role: wardwatch.RoleNurse, Units: []string{"4B"}}} {
		must(s.CreateUser(ctx, &u))
	}
}

func export(t *testing.T, s provision.Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := provision.Export(t.Context(), s, &buf); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.Bytes()
}

// apply parses data and applies it, returning the plan it made.
func apply(t *testing.T, s provision.Store, data []byte, opts provision.Options) *provision.Plan {
	t.Helper()
	site, err := provision.Parse("site.yaml", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	plan, err := provision.NewPlan(t.Context(), s, site, opts)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	if _, err := plan.Apply(t.Context(), s); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return plan
}

func planOf(t *testing.T, s provision.Store, data []byte, opts provision.Options) *provision.Plan {
	t.Helper()
	site, err := provision.Parse("site.yaml", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	plan, err := provision.NewPlan(t.Context(), s, site, opts)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	return plan
}

func planText(t *testing.T, p *provision.Plan) string {
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestSiteExample checks testdata/site.yaml is the export of the seeded
// demo hospital (go test -update rewrites it).
func TestSiteExample(t *testing.T) {
	s := openSQLite(t)
	seedDemo(t, s)
	got := export(t, s)
	path := filepath.Join("testdata", "site.yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("export of the demo hospital differs from %s (run go test ./provision -run TestSiteExample -update):\n%s", path, firstDiff(got, want))
	}
	// The secrets were exported as references only.
	for _, v := range testEnv {
		if bytes.Contains(got, []byte(v)) {
			t.Errorf("export contains the secret %q", v)
		}
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n got  %q\n want %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(al), len(bl))
}

// roundTrip applies the example file to an empty store, checks the export
// is the file again (a fixed point) and that a second apply changes
// nothing.
func roundTrip(t *testing.T, s *sql.Store) {
	data, err := os.ReadFile(filepath.Join("testdata", "site.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	plan := apply(t, s, data, options(false))
	if plan.Empty() {
		t.Fatal("applying the example to an empty store changed nothing")
	}
	if got := export(t, s); !bytes.Equal(got, data) {
		t.Fatalf("apply → export is not a fixed point:\n%s", firstDiff(got, data))
	}
	for _, prune := range []bool{false, true} {
		if p := planOf(t, s, data, options(prune)); !p.Empty() {
			t.Fatalf("second apply (prune %v) would change:\n%s", prune, planText(t, p))
		}
	}
	// Every change was audited as "provision".
	entries, err := s.AuditLog(t.Context(), wardwatch.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < min(len(plan.Changes), 1000) {
		t.Fatalf("audit log has %d entries for %d changes", len(entries), len(plan.Changes))
	}
	for _, e := range entries {
		if e.Username != provision.AuditUser {
			t.Fatalf("audit entry by %q, want %q", e.Username, provision.AuditUser)
		}
		for _, v := range testEnv {
			if strings.Contains(e.Old+e.New, v) {
				t.Fatalf("audit entry %s %s holds a secret", e.Action, e.Subject)
			}
		}
	}
}

func TestRoundTripSQLite(t *testing.T) {
	roundTrip(t, openSQLite(t))
}

func TestRoundTripPostgres(t *testing.T) {
	s, err := sql.Open(t.Context(), "postgres", pgtest.FreshSchema(t, pgtest.DSN(t)))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	roundTrip(t, prepare(t, s))
}

// TestIdempotentOnSeededStore applies the export of a seeded store back
// onto it: nothing changes.
func TestIdempotentOnSeededStore(t *testing.T) {
	s := openSQLite(t)
	seedDemo(t, s)
	if p := planOf(t, s, export(t, s), options(true)); !p.Empty() {
		t.Fatalf("applying a store's own export would change:\n%s", planText(t, p))
	}
}

const small = `version: 1
floors:
  - {name: Ward 1, level: 1, width: 40, height: 20}
zones:
  - floor: Ward 1
    name: "1-01"
    kind: room
    polygon: [[0, 0], [5, 0], [5, 4], [0, 4]]
  - floor: Ward 1
    name: Clean utility
    kind: clean_utility
    polygon: [[10, 0], [15, 0], [15, 4], [10, 4]]
gateways:
  - {key: "aa:bb:cc:00:00:01", floor: Ward 1, position: [2.5, 2], height: 2.6, rssi_at_1m: -59, path_loss_exponent: 2.2,
     anchor_zone: {floor: Ward 1, zone: "1-01"}}
assets:
  - name: Pump 1
    kind: infusion_pump
    asset_tag: BME-1
    tags: ["ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:1:1"]
units:
  - name: Ward 1 fridge
    profile: vaccine_fridge
    zone: {floor: Ward 1, zone: Clean utility}
    rules:
      - {id: hot, name: Too warm, category: environment, priority: high, metric: temperature, condition: above, limit: 8, delay: 10m}
snmp_targets:
  - name: Pumps
    address: 10.0.0.5
    version: v3
    user: ww
    auth_protocol: SHA256
    auth_password: {env: PUMP_AUTH}
    priv_protocol: AES
    priv_password: {file: SECRETFILE}
    profile: wardwatch-example-pump-server
    interval: 15s
    timeout: 2s
users:
  - {username: nurse1, role: nurse, password: {env: NURSE1_PASSWORD}}
`

// TestSecrets checks references are resolved at apply, stored, never
// exported, and that a changed secret is an update.
func TestSecrets(t *testing.T) {
	s := openSQLite(t)
	secretFile := filepath.Join(t.TempDir(), "priv")
	if err := os.WriteFile(secretFile, []byte("priv-secret-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PUMP_AUTH": "auth-secret-1", "NURSE1_PASSWORD": "correct horse battery"}
	opts := provision.Options{Getenv: func(k string) string { return env[k] }, ReadFile: os.ReadFile, Passwords: passwords{}}
	data := []byte(strings.ReplaceAll(small, "SECRETFILE", secretFile))
	apply(t, s, data, opts)

	ts, err := s.SNMPTargets(t.Context())
	if err != nil || len(ts) != 1 {
		t.Fatalf("SNMPTargets = %v, %v", ts, err)
	}
	if ts[0].AuthPassword != "auth-secret-1" || ts[0].PrivPassword != "priv-secret-1" {
		t.Fatalf("stored secrets %q, %q", ts[0].AuthPassword, ts[0].PrivPassword)
	}
	u, err := s.UserByUsername(t.Context(), "nurse1")
	if err != nil || !auth.CheckPassword(u.PasswordHash, "correct horse battery") {
		t.Fatalf("nurse1's password was not set: %v", err)
	}
	out := string(export(t, s))
	for _, secret := range []string{"auth-secret-1", "priv-secret-1", "correct horse", u.PasswordHash} {
		if strings.Contains(out, secret) {
			t.Fatalf("export holds a secret:\n%s", out)
		}
	}
	for _, want := range []string{"auth_password: {env: WARDWATCH_SNMP_PUMPS_AUTH_PASSWORD} # secret: the value is not exported",
		"priv_password: {env: WARDWATCH_SNMP_PUMPS_PRIV_PASSWORD} # secret: the value is not exported"} {
		if !strings.Contains(out, want) {
			t.Fatalf("export lacks %q:\n%s", want, out)
		}
	}

	if p := planOf(t, s, data, opts); !p.Empty() {
		t.Fatalf("same secrets: plan is not empty:\n%s", planText(t, p))
	}
	env["PUMP_AUTH"] = "auth-secret-2"
	p := planOf(t, s, data, opts)
	if text := planText(t, p); !strings.Contains(text, "~ update snmp target Pumps (auth_password)") || strings.Contains(text, "auth-secret") {
		t.Fatalf("changed secret: plan\n%s", text)
	}
	if _, err := p.Apply(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	ts, _ = s.SNMPTargets(t.Context())
	if ts[0].AuthPassword != "auth-secret-2" || ts[0].PrivPassword != "priv-secret-1" {
		t.Fatalf("after update: secrets %q, %q", ts[0].AuthPassword, ts[0].PrivPassword)
	}

	// A missing variable or file is an error naming the line, before
	// anything is written.
	delete(env, "PUMP_AUTH")
	site, err := provision.Parse("site.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	_, err = provision.NewPlan(t.Context(), s, site, opts)
	if err == nil || !strings.Contains(err.Error(), "site.yaml:33: auth_password: environment variable PUMP_AUTH is not set") {
		t.Fatalf("missing variable: %v", err)
	}
}

// TestPruneAndDryRun checks objects not in the file stay unless pruning,
// and that pruning deletes them.
func TestPrune(t *testing.T) {
	s := openSQLite(t)
	env := map[string]string{"PUMP_AUTH": "auth-secret-1", "NURSE1_PASSWORD": "correct horse battery"}
	secretFile := filepath.Join(t.TempDir(), "priv")
	os.WriteFile(secretFile, []byte("priv-secret-1"), 0o600)
	opts := provision.Options{Getenv: func(k string) string { return env[k] }, ReadFile: os.ReadFile, Passwords: passwords{}}
	data := []byte(strings.ReplaceAll(small, "SECRETFILE", secretFile))
	apply(t, s, data, opts)

	// A smaller file: the second zone, the asset and the unit go.
	smaller := []byte(`version: 1
floors:
  - {name: Ward 1, level: 1, width: 40, height: 20}
zones:
  - {floor: Ward 1, name: "1-01", kind: room, polygon: [[0, 0], [5, 0], [5, 4], [0, 4]]}
gateways:
  - {key: "aa:bb:cc:00:00:01", floor: Ward 1, position: [2.5, 2], height: 2.6, rssi_at_1m: -59, path_loss_exponent: 2.2,
     anchor_zone: {floor: Ward 1, zone: "1-01"}}
`)
	if p := planOf(t, s, smaller, opts); !p.Empty() {
		t.Fatalf("without prune: plan\n%s", planText(t, p))
	}
	opts.Prune = true
	p := planOf(t, s, smaller, opts)
	text := planText(t, p)
	for _, want := range []string{"- delete zone Ward 1 / Clean utility", "- delete asset Pump 1 (BME-1)", "- delete unit Ward 1 fridge",
		"- delete snmp target Pumps", "- delete user nurse1"} {
		if !strings.Contains(text, want) {
			t.Errorf("prune plan lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "delete tag") {
		t.Errorf("the asset's tag goes with it; plan\n%s", text)
	}
	if _, err := p.Apply(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if p := planOf(t, s, smaller, opts); !p.Empty() {
		t.Fatalf("after prune: plan\n%s", planText(t, p))
	}
	if as, _ := s.Assets(t.Context()); len(as) != 0 {
		t.Fatalf("assets after prune: %v", as)
	}
}

// TestPlanErrors checks references and secrets are checked before
// anything is written.
func TestPlanErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"unknown floor", "version: 1\nzones:\n  - {floor: Nowhere, name: A, kind: room, polygon: [[0,0],[1,0],[1,1]]}\n",
			`site.yaml:3: zone Nowhere / A: floor "Nowhere" is neither in the file nor in the store`},
		{"unknown unit", "version: 1\nmodbus_devices:\n  - {name: d, unit: Ghost, transport: tcp, address: 'h:502', slave_id: 1, profile: p, interval: 10s, timeout: 1s}\n",
			`site.yaml:3: unit "Ghost" is neither in the file nor in the store`},
		{"unset secret", "version: 1\nusers:\n  - username: a\n    role: admin\n    password: {env: NOPE}\n",
			"site.yaml:5: password: environment variable NOPE is not set"},
		{"short password", "version: 1\nusers:\n  - username: a\n    role: admin\n    password: {env: SHORT}\n",
			`site.yaml:3: user "a": Passwords must have at least 12 characters.`},
		{"new v3 target without passwords", "version: 1\nsnmp_targets:\n  - {name: t, address: h, version: v3, user: u, auth_protocol: SHA, priv_protocol: AES, profile: p, interval: 10s, timeout: 1s}\n",
			`site.yaml:3: target "t": a new SNMPv3 target needs auth_password and priv_password`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openSQLite(t)
			site, err := provision.Parse("site.yaml", []byte(tc.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			opts := provision.Options{Getenv: func(k string) string { return map[string]string{"SHORT": "short"}[k] }, Passwords: passwords{}}
			_, err = provision.NewPlan(t.Context(), s, site, opts)
			if err == nil || !strings.Contains(wardwatch.ErrorMessage(err), tc.want) {
				t.Fatalf("NewPlan error = %v, want %q", err, tc.want)
			}
			if fs, _ := s.Floors(context.Background()); len(fs) != 0 {
				t.Fatal("something was written")
			}
		})
	}
}
