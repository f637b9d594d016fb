package provision

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// Store is the part of the configuration store provisioning reads and
// writes; sql.Store implements it.
type Store interface {
	Floors(ctx context.Context) ([]wardwatch.Floor, error)
	CreateFloor(ctx context.Context, f *wardwatch.Floor) error
	UpdateFloor(ctx context.Context, f wardwatch.Floor) error
	FloorPlan(ctx context.Context, floorID int64) (wardwatch.FloorPlan, error)
	SetFloorPlan(ctx context.Context, floorID int64, p wardwatch.FloorPlan) error

	Zones(ctx context.Context, floorID int64) ([]wardwatch.Zone, error)
	CreateZone(ctx context.Context, z *wardwatch.Zone) error
	UpdateZone(ctx context.Context, z wardwatch.Zone) error
	DeleteZone(ctx context.Context, id int64) error

	Gateways(ctx context.Context) ([]wardwatch.Gateway, error)
	CreateGateway(ctx context.Context, g *wardwatch.Gateway) error
	UpdateGateway(ctx context.Context, g wardwatch.Gateway) error
	DeleteGateway(ctx context.Context, id int64) error

	Assets(ctx context.Context) ([]wardwatch.Asset, error)
	CreateAsset(ctx context.Context, a *wardwatch.Asset) error
	UpdateAsset(ctx context.Context, a wardwatch.Asset) error
	DeleteAsset(ctx context.Context, id int64) error
	Tags(ctx context.Context) ([]wardwatch.Tag, error)
	CreateTag(ctx context.Context, t wardwatch.Tag) error
	DeleteTag(ctx context.Context, id string) error

	Units(ctx context.Context) ([]wardwatch.MonitoredUnit, error)
	CreateUnit(ctx context.Context, u *wardwatch.MonitoredUnit) error
	UpdateUnit(ctx context.Context, u wardwatch.MonitoredUnit) error
	DeleteUnit(ctx context.Context, id int64) error
	UnitRules(ctx context.Context) (map[int64][]alerts.Rule, error)
	SetUnitRules(ctx context.Context, unitID int64, rules []alerts.Rule) error

	ModbusDevices(ctx context.Context) ([]wardwatch.ModbusDevice, error)
	CreateModbusDevice(ctx context.Context, d *wardwatch.ModbusDevice) error
	UpdateModbusDevice(ctx context.Context, d wardwatch.ModbusDevice) error
	DeleteModbusDevice(ctx context.Context, id int64) error

	SNMPTargets(ctx context.Context) ([]wardwatch.SNMPTarget, error)
	CreateSNMPTarget(ctx context.Context, t *wardwatch.SNMPTarget) error
	UpdateSNMPTarget(ctx context.Context, t wardwatch.SNMPTarget) error
	DeleteSNMPTarget(ctx context.Context, id int64) error

	Contacts(ctx context.Context) ([]alerts.Contact, error)
	SaveContact(ctx context.Context, c alerts.Contact) (int64, error)
	DeleteContact(ctx context.Context, id int64) error

	PARLevels(ctx context.Context) ([]alerts.PARLevel, error)
	SavePARLevel(ctx context.Context, p alerts.PARLevel) error
	DeletePARLevel(ctx context.Context, id string) error

	EscalationPolicies(ctx context.Context) (alerts.Policies, error)
	SetEscalationPolicies(ctx context.Context, ps alerts.Policies) error

	Users(ctx context.Context) ([]wardwatch.User, error)
	CreateUser(ctx context.Context, u *wardwatch.User) error
	SetUserRole(ctx context.Context, userID int64, role wardwatch.Role) error
	SetUserUnits(ctx context.Context, userID int64, units []string) error
	SetPassword(ctx context.Context, userID int64, hash string) error
	DeleteUser(ctx context.Context, userID int64) error

	RFIDReaders(ctx context.Context) ([]wardwatch.RFIDReader, error)
	SaveRFIDReader(ctx context.Context, r *wardwatch.RFIDReader) error
	SetRFIDReaderToken(ctx context.Context, id int64, tokenHash []byte) error
	DeleteRFIDReader(ctx context.Context, id int64) error

	PollTargets(ctx context.Context) ([]wardwatch.PollTarget, error)
	SavePollTarget(ctx context.Context, p *wardwatch.PollTarget, clearAuth bool) error
	DeletePollTarget(ctx context.Context, id int64) error

	DeviceProfiles(ctx context.Context, kind string) ([]wardwatch.DeviceProfile, error)
	SaveDeviceProfile(ctx context.Context, p wardwatch.DeviceProfile) error
	DeleteDeviceProfile(ctx context.Context, kind, name string) error

	AlertWindows(ctx context.Context) ([]alerts.Window, error)
	SaveAlertWindow(ctx context.Context, w alerts.Window) (int64, error)
	DeleteAlertWindow(ctx context.Context, id int64) error

	UnitSchedules(ctx context.Context) ([]alerts.Schedule, error)
	SaveUnitSchedule(ctx context.Context, s alerts.Schedule) (int64, error)
	DeleteUnitSchedule(ctx context.Context, id int64) error

	AppendAudit(ctx context.Context, e *wardwatch.AuditEntry) error
}

// state is the store's configuration as a Site, with the IDs behind its
// natural keys.
type state struct {
	site *Site

	floorID    map[string]int64
	zoneID     map[ZoneRef]int64
	gatewayID  map[string]int64
	assetID    map[string]int64 // by Asset.key()
	tagOwner   map[string]int64 // tag ID → asset ID
	unitID     map[string]int64
	modbusID   map[string]int64
	snmpID     map[string]int64
	contactID  map[string]int64 // team NUL name
	users      map[string]wardwatch.User
	parIDs     map[string]bool
	readers    map[string]wardwatch.RFIDReader
	pollID     map[string]int64
	windowID   map[string]int64               // by Window.key()
	scheduleID map[string]int64               // by Schedule.key(unit)
	plans      map[string]wardwatch.FloorPlan // by floor name
}

func conflict(format string, args ...any) error {
	return wardwatch.Errorf(wardwatch.ECONFLICT, format, args...)
}

// load reads the store's configuration. Objects whose natural keys are
// not unique in the store cannot be provisioned: load says which.
func load(ctx context.Context, st Store) (*state, error) {
	s := &state{site: &Site{Version: FormatVersion},
		floorID: map[string]int64{}, zoneID: map[ZoneRef]int64{}, gatewayID: map[string]int64{}, assetID: map[string]int64{},
		tagOwner: map[string]int64{}, unitID: map[string]int64{}, modbusID: map[string]int64{}, snmpID: map[string]int64{},
		contactID: map[string]int64{}, users: map[string]wardwatch.User{}, parIDs: map[string]bool{},
		readers: map[string]wardwatch.RFIDReader{}, pollID: map[string]int64{}, windowID: map[string]int64{},
		scheduleID: map[string]int64{}, plans: map[string]wardwatch.FloorPlan{}}

	floors, err := st.Floors(ctx)
	if err != nil {
		return nil, fmt.Errorf("load floors: %w", err)
	}
	floorName := make(map[int64]string, len(floors))
	floorRank := make(map[int64]int, len(floors))
	for i, f := range floors {
		if _, ok := s.floorID[f.Name]; ok {
			return nil, conflict("two floors are named %q: rename one before provisioning", f.Name)
		}
		s.floorID[f.Name], floorName[f.ID], floorRank[f.ID] = f.ID, f.Name, i
		s.site.Floors = append(s.site.Floors, Floor{Name: f.Name, Building: f.Building, Level: f.Level, Width: f.Width, Height: f.Height})
		plan, err := st.FloorPlan(ctx, f.ID)
		switch {
		case err == nil:
			s.plans[f.Name] = plan
		case wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND:
			return nil, fmt.Errorf("load plan of floor %q: %w", f.Name, err)
		}
	}

	zones, err := st.Zones(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("load zones: %w", err)
	}
	slices.SortStableFunc(zones, func(a, b wardwatch.Zone) int {
		if c := floorRank[a.FloorID] - floorRank[b.FloorID]; c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	zoneRef := make(map[int64]ZoneRef, len(zones))
	for _, z := range zones {
		ref := ZoneRef{Floor: floorName[z.FloorID], Zone: z.Name}
		if _, ok := s.zoneID[ref]; ok {
			return nil, conflict("two zones are named %s: rename one before provisioning", ref)
		}
		s.zoneID[ref], zoneRef[z.ID] = z.ID, ref
		poly := make(Polygon, len(z.Polygon))
		for i, p := range z.Polygon {
			poly[i] = Coord{p.X, p.Y}
		}
		s.site.Zones = append(s.site.Zones, Zone{Floor: ref.Floor, Name: z.Name, Kind: string(z.Kind), CareUnit: z.CareUnit, Polygon: poly})
	}
	zoneRefPtr := func(id int64) *ZoneRef {
		if r, ok := zoneRef[id]; ok {
			return &r
		}
		return nil
	}

	gateways, err := st.Gateways(ctx)
	if err != nil {
		return nil, fmt.Errorf("load gateways: %w", err)
	}
	for _, g := range gateways {
		if strings.Contains(g.Key, "#") {
			continue // an RFID reader's antenna: provisioned with its reader
		}
		s.gatewayID[g.Key] = g.ID
		s.site.Gateways = append(s.site.Gateways, Gateway{Key: g.Key, Name: g.Name, Floor: floorName[g.FloorID],
			Position: Coord{g.At.X, g.At.Y}, Height: g.Z, RSSIAt1m: g.RSSIAt1m, PathLossExponent: g.PathLossExponent,
			RxOffset: g.RxOffset, AnchorZone: zoneRefPtr(g.AnchorZoneID)})
	}

	assets, err := st.Assets(ctx)
	if err != nil {
		return nil, fmt.Errorf("load assets: %w", err)
	}
	tags, err := st.Tags(ctx)
	if err != nil {
		return nil, fmt.Errorf("load tags: %w", err)
	}
	tagsOf := make(map[int64][]string)
	for _, t := range tags {
		tagsOf[t.AssetID] = append(tagsOf[t.AssetID], t.ID)
		s.tagOwner[t.ID] = t.AssetID
	}
	for _, a := range assets {
		item := Asset{Name: a.Name, Kind: string(a.Kind), Status: string(a.Status), AssetTag: a.AssetTag, Serial: a.Serial,
			UDI: a.UDI, Manufacturer: a.Manufacturer, Model: a.Model, PMDue: fmtTime(a.PMDue), Tags: tagsOf[a.ID]}
		slices.Sort(item.Tags)
		if _, ok := s.assetID[item.key()]; ok {
			return nil, conflict("two assets are called %s: give them distinct asset tags before provisioning", item.label())
		}
		s.assetID[item.key()] = a.ID
		s.site.Assets = append(s.site.Assets, item)
	}

	units, err := st.Units(ctx)
	if err != nil {
		return nil, fmt.Errorf("load units: %w", err)
	}
	rules, err := st.UnitRules(ctx)
	if err != nil {
		return nil, fmt.Errorf("load unit rules: %w", err)
	}
	unitName := make(map[int64]string, len(units))
	for _, u := range units {
		s.unitID[u.Name], unitName[u.ID] = u.ID, u.Name
		item := Unit{Name: u.Name, Profile: string(u.Profile), Zone: zoneRefPtr(u.ZoneID)}
		if rs, ok := rules[u.ID]; ok {
			item.Rules = &RuleSet{Rules: rs}
		}
		s.site.Units = append(s.site.Units, item)
	}

	devices, err := st.ModbusDevices(ctx)
	if err != nil {
		return nil, fmt.Errorf("load Modbus devices: %w", err)
	}
	for _, d := range devices {
		s.modbusID[d.Name] = d.ID
		s.site.ModbusDevices = append(s.site.ModbusDevices, ModbusDevice{Name: d.Name, Unit: unitName[d.UnitID],
			Transport: d.Transport, Address: d.Address, Baud: d.Baud, DataBits: d.DataBits, Parity: d.Parity, StopBits: d.StopBits,
			SlaveID: d.SlaveID, Profile: d.Profile, Interval: fmtDuration(d.Interval), Timeout: fmtDuration(d.Timeout),
			Enabled: boolPtr(d.Enabled), CalibrationDue: fmtTime(d.CalibrationDue)})
	}

	targets, err := st.SNMPTargets(ctx)
	if err != nil {
		return nil, fmt.Errorf("load SNMP targets: %w", err)
	}
	for _, t := range targets {
		s.snmpID[t.Name] = t.ID
		s.site.SNMPTargets = append(s.site.SNMPTargets, SNMPTarget{Name: t.Name, Address: t.Address, Version: t.Version,
			Community: storedSecret("SNMP", t.Name, "COMMUNITY", t.Community), User: t.User,
			AuthProtocol: t.AuthProtocol, AuthPassword: storedSecret("SNMP", t.Name, "AUTH_PASSWORD", t.AuthPassword),
			PrivProtocol: t.PrivProtocol, PrivPassword: storedSecret("SNMP", t.Name, "PRIV_PASSWORD", t.PrivPassword),
			Profile: t.Profile, Interval: fmtDuration(t.Interval), Timeout: fmtDuration(t.Timeout), Retries: t.Retries,
			Enabled: boolPtr(t.Enabled)})
	}

	contacts, err := st.Contacts(ctx)
	if err != nil {
		return nil, fmt.Errorf("load contacts: %w", err)
	}
	for _, c := range contacts {
		key := string(c.Team) + "\x00" + c.Name
		if _, ok := s.contactID[key]; ok {
			return nil, conflict("team %s has two contacts named %q: rename one before provisioning", c.Team, c.Name)
		}
		s.contactID[key] = c.ID
		s.site.Contacts = append(s.site.Contacts, Contact{Name: c.Name, Team: string(c.Team), Group: c.Group,
			Unit: unitName[c.UnitID], Email: c.Email, Webhook: c.Webhook, Enabled: boolPtr(c.Enabled)})
	}

	pars, err := st.PARLevels(ctx)
	if err != nil {
		return nil, fmt.Errorf("load PAR levels: %w", err)
	}
	refs := func(ids []int64) []ZoneRef {
		var out []ZoneRef
		for _, id := range ids {
			if r, ok := zoneRef[id]; ok {
				out = append(out, r)
			}
		}
		return out
	}
	for _, p := range pars {
		s.parIDs[p.ID] = true
		s.site.PARLevels = append(s.site.PARLevels, PARLevel{ID: p.ID, Name: p.Name, Kind: string(p.Kind),
			CleanZones: refs(p.CleanZones), SoiledZones: refs(p.SoiledZones), CleanMin: p.CleanMin, SoiledMax: p.SoiledMax})
	}

	policies, err := st.EscalationPolicies(ctx)
	if err != nil {
		return nil, fmt.Errorf("load escalation policies: %w", err)
	}
	if policies != nil {
		ps := make([]Policy, 0, len(policies))
		for _, p := range policies {
			item := Policy{Unit: unitName[p.UnitID], Team: string(p.Team), Priority: string(p.Priority)}
			if p.Reminder != 0 {
				item.Reminder = fmtDuration(p.Reminder)
			}
			for _, t := range p.Tiers {
				tier := Tier{After: fmtDuration(t.After), Targets: []Target{}}
				for _, tg := range t.Targets {
					tier.Targets = append(tier.Targets, Target{Channel: string(tg.Channel), Group: tg.Group, Address: tg.Address})
				}
				item.Tiers = append(item.Tiers, tier)
			}
			ps = append(ps, item)
		}
		s.site.EscalationPolicies = &ps
	}

	users, err := st.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	for _, u := range users {
		s.users[u.Username] = u
		s.site.Users = append(s.site.Users, User{Username: u.Username, Role: string(u.Role), Units: slices.Clone(u.Units)})
	}
	if err := s.loadExtra(ctx, st, zoneRef, unitName); err != nil {
		return nil, err
	}
	return s, nil
}

// storedSecret is the reference export writes for a stored secret (nil
// when none is stored), holding the stored value for comparisons.
func storedSecret(kind, object, field, value string) *Secret {
	if value == "" {
		return nil
	}
	return &Secret{Env: EnvName(kind, object, field), value: value, resolved: true}
}

// EnvName is the environment variable export names for a secret:
// WARDWATCH_<KIND>_<OBJECT>_<FIELD>, upper case, other characters as "_".
func EnvName(kind, object, field string) string {
	var b strings.Builder
	b.WriteString("WARDWATCH_")
	for _, part := range []string{kind, object, field} {
		last := '_'
		for _, r := range strings.ToUpper(part) {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				r = '_'
			}
			if r == '_' && last == '_' {
				continue
			}
			b.WriteRune(r)
			last = r
		}
		if last != '_' {
			b.WriteByte('_')
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// Export writes the store's configuration as a site file. Secrets are
// never written: each stored secret becomes a reference to an environment
// variable named by EnvName, marked as not exported. Users' passwords and
// RFID readers' push tokens are left out. Floor plan images are not
// written (ExportWith writes them); a comment says so.
func Export(ctx context.Context, st Store, w io.Writer) error {
	return ExportWith(ctx, st, w, ExportOptions{})
}

// Marshal writes site in the site file format, with enabled: true and
// other defaults left out.
func Marshal(site *Site) ([]byte, error) {
	out := *site
	out.Version = FormatVersion
	out.ModbusDevices = slices.Clone(site.ModbusDevices)
	for i := range out.ModbusDevices {
		if enabled(out.ModbusDevices[i].Enabled) {
			out.ModbusDevices[i].Enabled = nil
		}
	}
	out.SNMPTargets = slices.Clone(site.SNMPTargets)
	for i := range out.SNMPTargets {
		if enabled(out.SNMPTargets[i].Enabled) {
			out.SNMPTargets[i].Enabled = nil
		}
	}
	out.PollTargets = slices.Clone(site.PollTargets)
	for i := range out.PollTargets {
		if enabled(out.PollTargets[i].Enabled) {
			out.PollTargets[i].Enabled = nil
		}
	}
	out.Contacts = slices.Clone(site.Contacts)
	for i := range out.Contacts {
		if enabled(out.Contacts[i].Enabled) {
			out.Contacts[i].Enabled = nil
		}
	}
	var buf bytes.Buffer
	buf.WriteString("# WardWatch site configuration (format: provision/FORMAT.md).\n")
	buf.WriteString("# Apply with: wardwatch apply -f FILE. Secrets are references ({env: …} or {file: …}), never values.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&out); err != nil {
		return nil, fmt.Errorf("encode site file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode site file: %w", err)
	}
	return buf.Bytes(), nil
}

// id formats an ID for the audit log.
func id(v int64) string { return strconv.FormatInt(v, 10) }
