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
	"github.com/wardwatch/wardwatch/collectors/modbus"
	"github.com/wardwatch/wardwatch/collectors/snmp"
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
	"WARDWATCH_POLL_DOCK_CONTROLLER_AUTHORIZATION":  "Bearer poll-secret-1",
}

// testNow is the time of the tests' plans: the demo's maintenance windows
// are after it.
var testNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// validateProfile parses a device profile as cmd/wardwatch does.
func validateProfile(kind string, src []byte) (string, error) {
	switch kind {
	case "modbus":
		p, err := modbus.ParseProfile(src)
		return p.Name, err
	case "snmp":
		p, err := snmp.ParseProfile(src)
		return p.Name, err
	}
	return "", wardwatch.Errorf(wardwatch.EINVALID, "kind %q", kind)
}

func getenv(k string) string { return testEnv[k] }

// passwords is auth's bcrypt, as cmd/wardwatch wires it.
type passwords struct{}

func (passwords) Hash(p string) (string, error) { return auth.HashPassword(p) }
func (passwords) Check(h, p string) bool        { return auth.CheckPassword(h, p) }
func (passwords) HashToken(t string) []byte     { return auth.HashToken(t) }

func options(prune bool) provision.Options {
	return provision.Options{Prune: prune, Getenv: getenv, ReadFile: os.ReadFile, Passwords: passwords{},
		ValidateProfile: validateProfile, Now: func() time.Time { return testNow }, Dir: "testdata"}
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

	// RFID: a door reader between the clean and soiled utility rooms (its
	// push token is stored, never exported) and a shelf reader.
	door := wardwatch.RFIDReader{Key: "4b-utility-door", Name: "4B utility door", Format: "zebra",
		Antennas: []wardwatch.RFIDAntenna{{Port: 1, ZoneID: zoneID["4B Clean utility"]}, {Port: 2, ZoneID: zoneID["4B Soiled utility"]}},
		Portal:   &wardwatch.RFIDPortal{Inside: []int{1}, Outside: []int{2}, InsideZoneID: zoneID["4B Clean utility"], OutsideZoneID: zoneID["4B Soiled utility"]}}
	must(s.SaveRFIDReader(ctx, &door))
	must(s.SetRFIDReaderToken(ctx, door.ID, auth.HashToken("demo-reader-token-0001")))
	must(s.SaveRFIDReader(ctx, &wardwatch.RFIDReader{Key: "5b-shelf", Antennas: []wardwatch.RFIDAntenna{{Port: 3, ZoneID: zoneID["5B Clean utility"]}}}))
	must(s.SavePollTarget(ctx, &wardwatch.PollTarget{Name: "Dock controller", URL: "https://10.20.0.9/api/reads", Source: "rfid",
		Key: "4b-utility-door", Format: "zebra", Interval: 5 * time.Second, Timeout: time.Second,
		AuthHeader: testEnv["WARDWATCH_POLL_DOCK_CONTROLLER_AUTHORIZATION"], Enabled: true}, false))
	must(s.SavePollTarget(ctx, &wardwatch.PollTarget{Name: "Legacy BLE gateway", URL: "http://10.20.0.10/scan", Source: "ble",
		Key: "f1-gw-01", Interval: time.Minute, Timeout: 5 * time.Second}, false))

	// Device profiles: a site register map and a site pump profile.
	must(s.SaveDeviceProfile(ctx, wardwatch.DeviceProfile{Kind: "modbus", Name: "site-fridge", Source: []byte(siteFridgeProfile)}))
	pump, err := os.ReadFile(filepath.Join("..", "collectors", "snmp", "testdata", "profiles", "wardwatch-example-pump.yaml"))
	must(err)
	pump = []byte(strings.Replace(string(pump), "name: wardwatch-example-pump\n", "name: site-pump\n", 1))
	must(s.SaveDeviceProfile(ctx, wardwatch.DeviceProfile{Kind: "snmp", Name: "site-pump", Source: pump}))

	// Maintenance windows.
	_, err = s.SaveAlertWindow(ctx, alerts.Window{UnitID: firstUnit, Kind: alerts.SuppressMaintenance,
		Start: time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC), End: time.Date(2027, 3, 1, 12, 30, 0, 0, time.UTC),
		By: "biomed1", Reason: "Annual probe calibration"})
	must(err)
	_, err = s.SaveAlertWindow(ctx, alerts.Window{UnitID: firstUnit, Kind: alerts.SuppressOutOfService,
		Start: time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 4, 3, 0, 0, 0, 0, time.UTC), By: "provision"})
	must(err)

	// Daily schedules: the first unit's defrost cycle and a nightly
	// maintenance.
	_, err = s.SaveUnitSchedule(ctx, alerts.Schedule{UnitID: firstUnit, Kind: alerts.SuppressDefrost,
		Times: []time.Duration{2 * time.Hour, 8 * time.Hour, 14 * time.Hour, 20 * time.Hour}, Duration: 45 * time.Minute,
		By: "fac.bo", Reason: "Frost-free defrost cycle"})
	must(err)
	_, err = s.SaveUnitSchedule(ctx, alerts.Schedule{UnitID: firstUnit, Kind: alerts.SuppressMaintenance,
		Times: []time.Duration{23*time.Hour + 30*time.Minute}, Duration: 90 * time.Minute, By: "provision"})
	must(err)
}

// siteFridgeProfile is a site-defined Modbus register map.
const siteFridgeProfile = `name: site-fridge
description: Site fridge controller, probe in 0.1 °C
fields:
  - name: cabinet
    metric: temperature
    table: holding_register
    address: 256
    type: int16
    scale: 0.1
`

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
	got, plans := exportWithPlans(t, s)
	path := filepath.Join("testdata", "site.yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		for p, data := range plans {
			os.MkdirAll(filepath.Dir(filepath.Join("testdata", p)), 0o755)
			if err := os.WriteFile(filepath.Join("testdata", p), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(plans) == 0 {
		t.Fatal("the demo's floor plans were not exported")
	}
	for p, data := range plans {
		if want, err := os.ReadFile(filepath.Join("testdata", p)); err != nil || !bytes.Equal(want, data) {
			t.Fatalf("exported plan %s differs from testdata (run with -update): %v", p, err)
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

// exportWithPlans exports s with its floor plan images, returned by path.
func exportWithPlans(t *testing.T, s provision.Store) ([]byte, map[string][]byte) {
	t.Helper()
	plans := map[string][]byte{}
	var buf bytes.Buffer
	err := provision.ExportWith(t.Context(), s, &buf, provision.ExportOptions{WritePlan: func(path string, data []byte) error {
		plans[path] = data
		return nil
	}})
	if err != nil {
		t.Fatalf("ExportWith: %v", err)
	}
	return buf.Bytes(), plans
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
	got, plans := exportWithPlans(t, s)
	if !bytes.Equal(got, data) {
		t.Fatalf("apply → export is not a fixed point:\n%s", firstDiff(got, data))
	}
	for p, b := range plans {
		if want, err := os.ReadFile(filepath.Join("testdata", p)); err != nil || !bytes.Equal(want, b) {
			t.Fatalf("plan %s did not survive apply → export: %v", p, err)
		}
	}
	// Export without a place for the images says so, and applying that
	// leaves the plans alone.
	bare := export(t, s)
	if !bytes.HasPrefix(bare, []byte("# The plan images of 2 floors are not exported here")) {
		t.Fatalf("export to a stream:\n%.300s", bare)
	}
	if p := planOf(t, s, bare, options(true)); !p.Empty() {
		t.Fatalf("applying an export without plans would change:\n%s", planText(t, p))
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
	data, plans := exportWithPlans(t, s)
	opts := options(true)
	opts.ReadFile = func(path string) ([]byte, error) {
		if b, ok := plans[filepath.ToSlash(strings.TrimPrefix(path, "testdata"+string(filepath.Separator)))]; ok {
			return b, nil
		}
		return nil, os.ErrNotExist
	}
	if p := planOf(t, s, data, opts); !p.Empty() {
		t.Fatalf("applying a store's own export with plans would change:\n%s", planText(t, p))
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

const extras = `version: 1
floors:
  - {name: Ward 1, level: 1, width: 40, height: 20}
zones:
  - {floor: Ward 1, name: Clean, kind: clean_utility, polygon: [[0, 0], [5, 0], [5, 4], [0, 4]]}
  - {floor: Ward 1, name: Soiled, kind: soiled_utility, polygon: [[10, 0], [15, 0], [15, 4], [10, 4]]}
rfid_readers:
  - key: door-1
    format: impinj
    token: {env: READER_TOKEN}
    antennas:
      - {port: 2, zone: {floor: Ward 1, zone: Soiled}}
      - {port: 1, zone: {floor: Ward 1, zone: Clean}}
    portal: {inside: [1], outside: [2], inside_zone: {floor: Ward 1, zone: Clean}, outside_zone: {floor: Ward 1, zone: Soiled}}
poll_targets:
  - {name: Door poller, url: "https://door-1.example/reads", source: rfid, key: door-1, interval: 10s, timeout: 2s,
     authorization: {env: POLL_AUTH}}
units:
  - {name: Fridge 1, profile: vaccine_fridge}
device_profiles:
  - {kind: modbus, name: site-fridge, file: profiles/site-fridge.yaml}
maintenance_windows:
  - {unit: Fridge 1, kind: defrost, start: "2026-07-01T02:00:00Z", end: "2026-07-01T02:30:00Z", reason: Weekly defrost}
  - {unit: Fridge 1, kind: maintenance, start: "2026-01-01", end: "2026-01-02"}
`

// TestExtras checks RFID readers (tokens set by reference, never
// exported), poll targets (sealed Authorization), device profiles read
// from files beside the site file, and maintenance windows (ended ones
// are not created), then that pruning deletes each.
func TestExtras(t *testing.T) {
	s := openSQLite(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles", "site-fridge.yaml"), []byte(siteFridgeProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"READER_TOKEN": "reader-token-secret-1", "POLL_AUTH": "Bearer poll-secret-xyz"}
	opts := options(false)
	opts.Getenv, opts.Dir = func(k string) string { return env[k] }, dir
	p := apply(t, s, []byte(extras), opts)
	text := planText(t, p)
	for _, want := range []string{"+ create rfid reader door-1", "+ create poll target Door poller", "+ create device profile modbus / site-fridge",
		"+ create maintenance window Fridge 1 defrost from 2026-07-01T02:00:00Z", "! site.yaml:24: window Fridge 1 maintenance from 2026-01-01 ended"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	ctx := t.Context()
	r, err := s.RFIDReaderByKey(ctx, "door-1")
	if err != nil || !bytes.Equal(r.TokenHash, auth.HashToken("reader-token-secret-1")) || len(r.Antennas) != 2 || r.Portal == nil {
		t.Fatalf("reader %+v, %v", r, err)
	}
	pts, err := s.PollTargets(ctx)
	if err != nil || len(pts) != 1 || pts[0].AuthHeader != "Bearer poll-secret-xyz" {
		t.Fatalf("poll targets %+v, %v", pts, err)
	}
	ws, err := s.AlertWindows(ctx)
	if err != nil || len(ws) != 1 || ws[0].By != provision.AuditUser || ws[0].Reason != "Weekly defrost" {
		t.Fatalf("windows %+v, %v", ws, err)
	}
	out := string(export(t, s))
	for _, secret := range []string{"reader-token-secret-1", "poll-secret-xyz", "token:"} {
		if strings.Contains(out, secret) {
			t.Fatalf("export holds %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "authorization: {env: WARDWATCH_POLL_DOOR_POLLER_AUTHORIZATION} # secret: the value is not exported") ||
		!strings.Contains(out, "source: |\n      name: site-fridge\n") {
		t.Fatalf("export:\n%s", out)
	}
	entries, err := s.AuditLog(ctx, wardwatch.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Old+e.New, "secret") && !strings.Contains(e.Old+e.New, "READER_TOKEN") && !strings.Contains(e.Old+e.New, "POLL_AUTH") {
			t.Fatalf("audit entry %s %s holds a secret: %s", e.Action, e.Subject, e.New)
		}
	}

	// The same file again: nothing; a new token: an update of the token only.
	if p := planOf(t, s, []byte(extras), opts); !p.Empty() {
		t.Fatalf("second apply:\n%s", planText(t, p))
	}
	env["READER_TOKEN"] = "reader-token-secret-2"
	p = planOf(t, s, []byte(extras), opts)
	if text := planText(t, p); !strings.Contains(text, "~ update rfid reader door-1 (token)") || len(p.Changes) != 1 {
		t.Fatalf("new token: plan\n%s", text)
	}
	if _, err := p.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.RFIDReaderByKey(ctx, "door-1"); !bytes.Equal(r.TokenHash, auth.HashToken("reader-token-secret-2")) {
		t.Fatal("token not changed")
	}
	// A short token is refused.
	env["READER_TOKEN"] = "short"
	site, err := provision.Parse("site.yaml", []byte(extras))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provision.NewPlan(ctx, s, site, opts); err == nil || !strings.Contains(wardwatch.ErrorMessage(err), "site.yaml:8: reader \"door-1\": a push token is at least 16") {
		t.Fatalf("short token: %v", err)
	}
	env["READER_TOKEN"] = "reader-token-secret-2"

	// The profile file names another profile: refused with the line.
	os.WriteFile(filepath.Join(dir, "profiles", "site-fridge.yaml"), []byte(strings.Replace(siteFridgeProfile, "name: site-fridge", "name: other", 1)), 0o644)
	site, _ = provision.Parse("site.yaml", []byte(extras))
	if _, err := provision.NewPlan(ctx, s, site, opts); err == nil || !strings.Contains(wardwatch.ErrorMessage(err), `site.yaml:21: profile "site-fridge": its YAML names it "other"`) {
		t.Fatalf("renamed profile: %v", err)
	}

	// Pruning to only the floor and zones deletes the rest.
	opts.Prune = true
	bare := []byte(extras[:strings.Index(extras, "rfid_readers:")])
	p = planOf(t, s, bare, opts)
	text = planText(t, p)
	for _, want := range []string{"- delete rfid reader door-1", "- delete poll target Door poller", "- delete device profile modbus / site-fridge",
		"- delete maintenance window Fridge 1 defrost", "- delete unit Fridge 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("prune plan lacks %q:\n%s", want, text)
		}
	}
	if i, j := strings.Index(text, "delete maintenance window"), strings.Index(text, "delete unit"); i > j {
		t.Errorf("windows must go before their unit:\n%s", text)
	}
	if _, err := p.Apply(ctx, s); err != nil {
		t.Fatalf("prune: %v", err)
	}
	if p := planOf(t, s, bare, opts); !p.Empty() {
		t.Fatalf("after prune:\n%s", planText(t, p))
	}
	if gs, _ := s.Gateways(ctx); len(gs) != 0 {
		t.Fatalf("the reader's antenna gateways stayed: %v", gs)
	}
}

// TestFloorPlans checks plan images: the floor's depth follows the plan's
// aspect ratio (as on the upload page), a height that disagrees is
// refused, bad images are refused with the line, a changed image is an
// update, and the audit log holds its digest, not its bytes.
func TestFloorPlans(t *testing.T) {
	s := openSQLite(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "plans"), 0o755)
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, "plans", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("w1.svg", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 50"></svg>`)
	write("bad.svg", `<html></html>`)
	opts := options(false)
	opts.Dir = dir
	const file = "version: 1\nfloors:\n  - {name: W1, level: 1, width: 40, plan: {file: plans/w1.svg}}\n"
	p := apply(t, s, []byte(file), opts)
	if text := planText(t, p); !strings.Contains(text, "+ create floor plan W1 (image/svg+xml, 67 bytes)") {
		t.Fatalf("plan:\n%s", text)
	}
	fs, _ := s.Floors(t.Context())
	if len(fs) != 1 || fs[0].Height != 10 {
		t.Fatalf("floors %+v: want the height 40 × 50/200 = 10", fs)
	}
	if pl, err := s.FloorPlan(t.Context(), fs[0].ID); err != nil || pl.ContentType != "image/svg+xml" {
		t.Fatalf("stored plan %v, %v", pl.ContentType, err)
	}
	if p := planOf(t, s, []byte(file), opts); !p.Empty() {
		t.Fatalf("second apply:\n%s", planText(t, p))
	}
	write("w1.svg", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 50"><rect width="1" height="1"/></svg>`)
	p = apply(t, s, []byte(file), opts)
	if text := planText(t, p); !strings.Contains(text, "~ update floor plan W1") || len(p.Changes) != 1 {
		t.Fatalf("changed image: plan\n%s", text)
	}
	entries, _ := s.AuditLog(t.Context(), wardwatch.AuditQuery{Limit: 10})
	for _, e := range entries {
		if e.Subject == "floor_plan" && (strings.Contains(e.New, "<svg") || !strings.Contains(e.New, `"sha256":`)) {
			t.Fatalf("audit entry %s", e.New)
		}
	}
	for _, tc := range []struct{ file, want string }{
		{"version: 1\nfloors:\n  - {name: W1, level: 1, width: 40, height: 12, plan: {file: plans/w1.svg}}\n",
			`site.yaml:3: floor "W1": height 12 m does not match plan plans/w1.svg, which makes it 10.00 m deep`},
		{"version: 1\nfloors:\n  - {name: W1, level: 1, width: 40, plan: {file: plans/bad.svg}}\n",
			`site.yaml:3: floor "W1": plan plans/bad.svg: The plan must be a PNG, JPEG or SVG image.`},
		{"version: 1\nfloors:\n  - {name: W1, level: 1, width: 40, plan: {file: plans/none.svg}}\n",
			`site.yaml:3: floor "W1": cannot read plan plans/none.svg`},
	} {
		site, err := provision.Parse("site.yaml", []byte(tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := provision.NewPlan(t.Context(), s, site, opts); err == nil || !strings.Contains(wardwatch.ErrorMessage(err), tc.want) {
			t.Errorf("NewPlan = %v, want %q", err, tc.want)
		}
	}
}

// TestAssetUDI checks an asset's UDI, manufacturer and model: a GS1 UDI
// written with spaces is stored and exported in its canonical form, which
// keeps apply → export → apply a fixed point; a changed UDI is an update
// naming the field; one taken out of the file is cleared.
func TestAssetUDI(t *testing.T) {
	s := openSQLite(t)
	file := func(asset string) []byte {
		return []byte("version: 1\nassets:\n" + asset + "  - {name: Bed 1, kind: bed, asset_tag: BED-1}\n")
	}
	data := file("  - name: Pump 0410\n    kind: infusion_pump\n    asset_tag: BME-0410\n    serial: SIM-0410\n" +
		"    udi: ' (01) 10614141000019 (11)240312 (21)SIM-0410'\n    manufacturer: Harbourline Medical\n    model: Volumetric LVP-200\n")
	apply(t, s, data, options(false))
	a, err := s.AssetBySerialOrTag(t.Context(), "BME-0410")
	if err != nil || a.UDI != "(01)10614141000019(11)240312(21)SIM-0410" || a.Manufacturer != "Harbourline Medical" || a.Model != "Volumetric LVP-200" {
		t.Fatalf("stored %+v, %v", a, err)
	}
	out := export(t, s)
	if !bytes.Contains(out, []byte("udi: (01)10614141000019(11)240312(21)SIM-0410\n")) ||
		!bytes.Contains(out, []byte("manufacturer: Harbourline Medical\n    model: Volumetric LVP-200\n")) {
		t.Fatalf("export:\n%s", out)
	}
	for _, f := range [][]byte{data, out} {
		if p := planOf(t, s, f, options(true)); !p.Empty() {
			t.Fatalf("a second apply would change:\n%s", planText(t, p))
		}
	}
	if !bytes.Contains(export(t, s), []byte("- name: Bed 1\n    kind: bed\n    status: available\n    asset_tag: BED-1\n")) {
		t.Fatalf("an asset without a UDI exports none:\n%s", export(t, s))
	}

	changed := file("  - name: Pump 0410\n    kind: infusion_pump\n    asset_tag: BME-0410\n    serial: SIM-0410\n" +
		"    udi: '+A123BJC5D6E71G'\n    manufacturer: Harbourline Medical\n    model: Volumetric LVP-200\n")
	if text := planText(t, apply(t, s, changed, options(false))); !strings.Contains(text, "update asset Pump 0410 (BME-0410)") ||
		!strings.Contains(text, "udi") {
		t.Fatalf("plan:\n%s", text)
	}
	cleared := file("  - {name: Pump 0410, kind: infusion_pump, asset_tag: BME-0410, serial: SIM-0410}\n")
	apply(t, s, cleared, options(false))
	if a, _ := s.AssetBySerialOrTag(t.Context(), "BME-0410"); a.UDI != "" || a.Manufacturer != "" || a.Model != "" {
		t.Fatalf("after clearing %+v", a)
	}
	if p := planOf(t, s, export(t, s), options(true)); !p.Empty() {
		t.Fatalf("a second apply would change:\n%s", planText(t, p))
	}
}
