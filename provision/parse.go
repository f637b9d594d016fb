package provision

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/floorplan"
)

// MaxFileSize is the largest site file Parse reads.
const MaxFileSize = 16 << 20

// maxErrors is how many problems one error lists.
const maxErrors = 20

// Parse reads and validates a site file called name (used in messages).
// Errors are *wardwatch.Error (EINVALID, ETOOLARGE) whose message names
// the file's lines, one problem per line.
func Parse(name string, data []byte) (site *Site, err error) {
	if len(data) > MaxFileSize {
		return nil, wardwatch.Errorf(wardwatch.ETOOLARGE, "%s: a site file is limited to %d MiB", name, MaxFileSize>>20)
	}
	defer func() {
		// The YAML library is not ours; a bad file must never crash WardWatch.
		if r := recover(); r != nil {
			site, err = nil, wardwatch.Errorf(wardwatch.EINVALID, "%s: not a readable YAML file", name)
		}
	}()
	var s Site
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "%s: the file is empty; it needs at least \"version: %d\"", name, FormatVersion)
		}
		return nil, &wardwatch.Error{Code: wardwatch.EINVALID, Message: yamlMessage(name, err), Err: err}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "%s: the file holds more than one YAML document", name)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &wardwatch.Error{Code: wardwatch.EINVALID, Message: yamlMessage(name, err), Err: err}
	}
	s.name, s.lines = name, itemLines(&root)
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// yamlMessage turns a YAML error into "file:line: problem" lines.
func yamlMessage(name string, err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	var out []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(l, "line "); ok {
			if i := strings.Index(rest, ": "); i > 0 {
				l = name + ":" + rest[:i] + ": " + rest[i+2:]
				out = append(out, strings.ReplaceAll(l, "provision.", ""))
				continue
			}
		}
		out = append(out, name+": "+strings.ReplaceAll(l, "provision.", ""))
	}
	if len(out) > maxErrors {
		out = append(out[:maxErrors], fmt.Sprintf("(%d more problems)", len(out)-maxErrors))
	}
	return strings.Join(out, "\n")
}

// itemLines records the line of every item of every top-level list.
func itemLines(root *yaml.Node) map[string]map[int]int {
	lines := make(map[string]map[int]int)
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return lines
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i].Value, m.Content[i+1]
		items := make(map[int]int)
		if val.Kind == yaml.SequenceNode {
			for j, item := range val.Content {
				items[j] = item.Line
			}
		}
		items[-1] = m.Content[i].Line
		lines[key] = items
	}
	return lines
}

// problems collects validation errors.
type problems struct {
	site *Site
	list []string
}

func (p *problems) add(section string, i int, format string, args ...any) {
	p.list = append(p.list, p.site.where(section, i)+": "+fmt.Sprintf(format, args...))
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	l := p.list
	if len(l) > maxErrors {
		l = append(l[:maxErrors:maxErrors], fmt.Sprintf("(%d more problems)", len(p.list)-maxErrors))
	}
	return wardwatch.Errorf(wardwatch.EINVALID, "%s", strings.Join(l, "\n"))
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// durationIn checks and normalises a duration field.
func (p *problems) duration(section string, i int, field string, s *string, min, max time.Duration) time.Duration {
	d, err := time.ParseDuration(*s)
	if err != nil {
		p.add(section, i, "%s %q is not a duration like \"10s\" or \"5m\"", field, *s)
		return 0
	}
	if d < min || d > max {
		p.add(section, i, "%s %s: want %s to %s", field, *s, fmtDuration(min), fmtDuration(max))
	}
	*s = fmtDuration(d)
	return d
}

// date checks and normalises a date field.
func (p *problems) date(section string, i int, field string, s *string) {
	t, err := parseTime(*s)
	if err != nil {
		p.add(section, i, "%s: %v", field, err)
		return
	}
	*s = fmtTime(t)
}

// unique reports a key seen twice in a section.
func (p *problems) unique(seen map[string]int, section string, i int, key, what string) {
	if j, ok := seen[key]; ok {
		p.add(section, i, "%s is listed twice (first at %s)", what, p.site.where(section, j))
		return
	}
	seen[key] = i
}

func name(s string, max int) bool {
	return strings.TrimSpace(s) != "" && len(s) <= max && s == strings.TrimSpace(s)
}

// validate checks the whole file and normalises its values (durations,
// dates, defaults), so that equal configurations compare equal.
func (s *Site) validate() error {
	p := &problems{site: s}
	if s.Version != FormatVersion {
		p.list = append(p.list, fmt.Sprintf("%s: version is %d; this WardWatch reads version %d", s.where("version", -1), s.Version, FormatVersion))
	}

	floors := make(map[string]int)
	for i := range s.Floors {
		f := &s.Floors[i]
		switch {
		case !name(f.Name, 200):
			p.add("floors", i, "a floor needs a name (1 to 200 characters, no leading or trailing spaces)")
		case f.Level < math.MinInt32 || f.Level > math.MaxInt32:
			p.add("floors", i, "floor %q: level %d is out of range", f.Name, f.Level)
		case !finite(f.Width, f.Height) || f.Width <= 0 || f.Height < 0 || f.Height == 0 && f.Plan == nil || f.Width > 5000 || f.Height > 5000:
			p.add("floors", i, "floor %q: width and height must be more than 0 and at most 5000 m", f.Name)
		case f.Plan != nil && (!name(f.Plan.File, 1000) || strings.ContainsRune(f.Plan.File, 0)):
			p.add("floors", i, "floor %q: plan is {file: PATH}, relative to the site file", f.Name)
		}
		if b, err := wardwatch.CheckBuilding(f.Building); err != nil {
			p.add("floors", i, "floor %q: %s", f.Name, wardwatch.ErrorMessage(err))
		} else {
			f.Building = b
		}
		p.unique(floors, "floors", i, f.Name, fmt.Sprintf("floor %q", f.Name))
	}

	zones := make(map[string]int)
	for i := range s.Zones {
		z := &s.Zones[i]
		ref := ZoneRef{z.Floor, z.Name}
		switch {
		case !name(z.Floor, 200):
			p.add("zones", i, "a zone needs its floor")
		case !name(z.Name, 100):
			p.add("zones", i, "a zone needs a name (1 to 100 characters)")
		case !wardwatch.ZoneKind(z.Kind).Valid():
			p.add("zones", i, "zone %s: unknown kind %q", ref, z.Kind)
		case len(z.Polygon) > 500 || !validCoords(z.Polygon) || !floorplan.ValidPolygon(z.Polygon.points()):
			p.add("zones", i, "zone %s needs a polygon of 3 to 500 [x, y] points enclosing an area", ref)
		}
		if cu, err := wardwatch.CheckCareUnit(z.CareUnit); err != nil {
			p.add("zones", i, "zone %s: %s", ref, wardwatch.ErrorMessage(err))
		} else {
			z.CareUnit = cu
		}
		p.unique(zones, "zones", i, ref.Floor+"\x00"+ref.Zone, fmt.Sprintf("zone %s", ref))
	}

	gateways := make(map[string]int)
	for i := range s.Gateways {
		g := &s.Gateways[i]
		switch {
		case !name(g.Key, 100) || strings.Contains(g.Key, "#"):
			p.add("gateways", i, "a gateway needs a key of 1 to 100 characters without '#' ('#' keys belong to RFID readers)")
		case !name(g.Floor, 200):
			p.add("gateways", i, "gateway %q needs its floor", g.Key)
		case len(g.Position) != 2:
			p.add("gateways", i, "gateway %q: position is [x, y] in metres", g.Key)
		case !finite(g.Position[0], g.Position[1], g.Height, g.RSSIAt1m, g.PathLossExponent, g.RxOffset):
			p.add("gateways", i, "gateway %q: position and calibration must be numbers", g.Key)
		case len(g.Name) > 200:
			p.add("gateways", i, "gateway %q: the name is too long", g.Key)
		}
		p.zoneRef("gateways", i, g.AnchorZone)
		p.unique(gateways, "gateways", i, g.Key, fmt.Sprintf("gateway %q", g.Key))
	}

	assets := make(map[string]int)
	tags := make(map[string]int)
	for i := range s.Assets {
		a := &s.Assets[i]
		switch {
		case !name(a.Name, 200):
			p.add("assets", i, "an asset needs a name (1 to 200 characters)")
		case !wardwatch.AssetKind(a.Kind).Valid():
			p.add("assets", i, "asset %q: unknown kind %q", a.Name, a.Kind)
		case a.Status != "" && !wardwatch.AssetStatus(a.Status).Valid():
			p.add("assets", i, "asset %q: unknown status %q", a.Name, a.Status)
		case len(a.AssetTag) > 100 || len(a.Serial) > 100 || a.AssetTag != strings.TrimSpace(a.AssetTag) || a.Serial != strings.TrimSpace(a.Serial):
			p.add("assets", i, "asset %q: asset tag and serial are at most 100 characters, without surrounding spaces", a.Name)
		}
		var err error
		if a.UDI, err = wardwatch.CheckUDI(a.UDI); err != nil {
			p.add("assets", i, "asset %q: udi: %s", a.Name, wardwatch.ErrorMessage(err))
		}
		if a.Manufacturer, err = wardwatch.CheckManufacturer(a.Manufacturer); err != nil {
			p.add("assets", i, "asset %q: %s", a.Name, wardwatch.ErrorMessage(err))
		}
		if a.Model, err = wardwatch.CheckModel(a.Model); err != nil {
			p.add("assets", i, "asset %q: %s", a.Name, wardwatch.ErrorMessage(err))
		}
		p.date("assets", i, "pm_due", &a.PMDue)
		p.unique(assets, "assets", i, a.key(), fmt.Sprintf("asset %s", a.label()))
		for _, t := range a.Tags {
			if !name(t, 200) {
				p.add("assets", i, "asset %q: a tag ID is empty or too long", a.Name)
				continue
			}
			p.unique(tags, "assets", i, t, fmt.Sprintf("tag %q", t))
		}
		slices.Sort(a.Tags)
	}

	units := make(map[string]int)
	for i := range s.Units {
		u := &s.Units[i]
		switch {
		case !name(u.Name, 200):
			p.add("units", i, "a unit needs a name (1 to 200 characters)")
		case !wardwatch.UnitProfile(u.Profile).Valid():
			p.add("units", i, "unit %q: unknown profile %q", u.Name, u.Profile)
		}
		p.zoneRef("units", i, u.Zone)
		p.unique(units, "units", i, u.Name, fmt.Sprintf("unit %q", u.Name))
	}
	s.validateSchedules(p)

	devices := make(map[string]int)
	for i := range s.ModbusDevices {
		d := &s.ModbusDevices[i]
		switch {
		case !name(d.Name, 100) || strings.Contains(d.Name, "/"):
			p.add("modbus_devices", i, "a device needs a name of 1 to 100 characters without '/'")
		case d.Transport != "tcp" && d.Transport != "rtu" && d.Transport != "rtu-over-tcp":
			p.add("modbus_devices", i, "device %q: transport %q: want tcp, rtu or rtu-over-tcp", d.Name, d.Transport)
		case !name(d.Address, 255):
			p.add("modbus_devices", i, "device %q needs an address", d.Name)
		case d.SlaveID < 0 || d.SlaveID > 247:
			p.add("modbus_devices", i, "device %q: slave_id %d: want 0 to 247", d.Name, d.SlaveID)
		case strings.TrimSpace(d.Profile) == "":
			p.add("modbus_devices", i, "device %q needs a register map (profile)", d.Name)
		case d.Parity != "" && d.Parity != "N" && d.Parity != "E" && d.Parity != "O":
			p.add("modbus_devices", i, "device %q: parity %q: want N, E or O", d.Name, d.Parity)
		case d.Baud < 0 || d.DataBits < 0 || d.StopBits < 0:
			p.add("modbus_devices", i, "device %q: serial settings cannot be negative", d.Name)
		}
		p.duration("modbus_devices", i, "interval", &d.Interval, time.Second, 24*time.Hour)
		p.duration("modbus_devices", i, "timeout", &d.Timeout, 10*time.Millisecond, time.Minute)
		p.date("modbus_devices", i, "calibration_due", &d.CalibrationDue)
		if d.Enabled == nil {
			d.Enabled = boolPtr(true)
		}
		p.unique(devices, "modbus_devices", i, d.Name, fmt.Sprintf("device %q", d.Name))
	}

	targets := make(map[string]int)
	for i := range s.SNMPTargets {
		t := &s.SNMPTargets[i]
		switch {
		case !name(t.Name, 100):
			p.add("snmp_targets", i, "a target needs a name of 1 to 100 characters")
		case !name(t.Address, 255):
			p.add("snmp_targets", i, "target %q needs an address", t.Name)
		case t.Version != "v1" && t.Version != "v2c" && t.Version != "v3":
			p.add("snmp_targets", i, "target %q: version %q: want v3, v2c or v1", t.Name, t.Version)
		case strings.TrimSpace(t.Profile) == "":
			p.add("snmp_targets", i, "target %q needs a pump profile", t.Name)
		case t.Retries < 0 || t.Retries > 10:
			p.add("snmp_targets", i, "target %q: retries %d: want 0 to 10", t.Name, t.Retries)
		case t.Version == "v3" && (!name(t.User, 64) || !slices.Contains(snmpAuth, t.AuthProtocol) || !slices.Contains(snmpPriv, t.PrivProtocol)):
			p.add("snmp_targets", i, "target %q: SNMPv3 needs user, auth_protocol (%s) and priv_protocol (%s)",
				t.Name, strings.Join(snmpAuth, ", "), strings.Join(snmpPriv, ", "))
		case t.Version == "v3" && t.Community != nil:
			p.add("snmp_targets", i, "target %q: SNMPv3 takes no community", t.Name)
		case t.Version != "v3" && (t.AuthPassword != nil || t.PrivPassword != nil):
			p.add("snmp_targets", i, "target %q: SNMP %s takes a community, no passwords", t.Name, t.Version)
		}
		iv := p.duration("snmp_targets", i, "interval", &t.Interval, time.Second, 24*time.Hour)
		to := p.duration("snmp_targets", i, "timeout", &t.Timeout, 10*time.Millisecond, time.Minute)
		tries := t.Retries + 1 // the collector's tries; 0 retries means its default, 2
		if t.Retries <= 0 {
			tries = 3
		}
		if iv > 0 && to > 0 && time.Duration(tries)*to > iv {
			p.add("snmp_targets", i, "target %q: %d tries of %s take longer than the %s interval", t.Name, tries, t.Timeout, t.Interval)
		}
		if t.Enabled == nil {
			t.Enabled = boolPtr(true)
		}
		p.unique(targets, "snmp_targets", i, t.Name, fmt.Sprintf("target %q", t.Name))
	}

	contacts := make(map[string]int)
	for i := range s.Contacts {
		c := &s.Contacts[i]
		ac := alerts.Contact{Name: c.Name, Group: c.Group, Team: alerts.Team(c.Team), Email: c.Email, Webhook: c.Webhook, Enabled: true}
		if err := ac.Validate(); err != nil {
			p.add("contacts", i, "contact %q: %s", c.Name, wardwatch.ErrorMessage(err))
		} else if len(c.Name) > 320 || len(c.Email) > 320 || len(c.Webhook) > 320 {
			p.add("contacts", i, "contact %q: name, email and webhook are at most 320 characters", c.Name)
		}
		if c.Enabled == nil {
			c.Enabled = boolPtr(true)
		}
		p.unique(contacts, "contacts", i, c.Team+"\x00"+c.Name, fmt.Sprintf("contact %q of team %s", c.Name, c.Team))
	}

	pars := make(map[string]int)
	for i := range s.PARLevels {
		l := &s.PARLevels[i]
		switch {
		case !validPARID(l.ID):
			p.add("par_levels", i, "PAR level ID %q: 1 to 64 characters of a–z, 0–9 and _ . : -", l.ID)
		case len(l.Name) > 200:
			p.add("par_levels", i, "PAR level %q: the name is too long", l.ID)
		case !wardwatch.AssetKind(l.Kind).Valid():
			p.add("par_levels", i, "PAR level %q: unknown asset kind %q", l.ID, l.Kind)
		case l.CleanMin < 0 || l.SoiledMax != nil && *l.SoiledMax < 0:
			p.add("par_levels", i, "PAR level %q: levels cannot be negative", l.ID)
		case len(l.CleanZones) == 0 && l.CleanMin > 0 || len(l.SoiledZones) == 0 && l.SoiledMax != nil:
			p.add("par_levels", i, "PAR level %q: a level needs the zones it counts", l.ID)
		case len(l.CleanZones) > 500 || len(l.SoiledZones) > 500:
			p.add("par_levels", i, "PAR level %q counts more than 500 zones", l.ID)
		}
		for _, zs := range [][]ZoneRef{l.CleanZones, l.SoiledZones} {
			seen := make(map[ZoneRef]bool)
			for _, z := range zs {
				p.zoneRef("par_levels", i, &z)
				if seen[z] {
					p.add("par_levels", i, "PAR level %q lists zone %s twice", l.ID, z)
				}
				seen[z] = true
			}
		}
		p.unique(pars, "par_levels", i, l.ID, fmt.Sprintf("PAR level %q", l.ID))
	}

	if s.EscalationPolicies != nil {
		ps := *s.EscalationPolicies
		for i := range ps {
			pol := &ps[i]
			if pol.Reminder != "" {
				p.duration("escalation_policies", i, "reminder", &pol.Reminder, 0, 7*24*time.Hour)
			}
			for j := range pol.Tiers {
				p.duration("escalation_policies", i, "after", &pol.Tiers[j].After, 0, 7*24*time.Hour)
				for _, tg := range pol.Tiers[j].Targets {
					if len(tg.Group)+len(tg.Address) > 500 {
						p.add("escalation_policies", i, "a target's group and address are at most 500 characters")
					}
				}
			}
		}
		if len(p.list) == 0 {
			// Validate as the alerts package does; unit references are
			// checked against the store when planning.
			dom, err := policiesOf(ps, func(string) int64 { return 1 })
			if err == nil {
				err = dom.Validate()
			}
			if err != nil {
				p.list = append(p.list, fmt.Sprintf("%s: escalation policies: %s", s.where("escalation_policies", -1), wardwatch.ErrorMessage(err)))
			}
		}
	}

	users := make(map[string]int)
	for i := range s.Users {
		u := &s.Users[i]
		switch {
		case !name(u.Username, 200):
			p.add("users", i, "a user needs a username")
		case !wardwatch.Role(u.Role).Valid():
			p.add("users", i, "user %q: unknown role %q", u.Username, u.Role)
		}
		if us, err := wardwatch.CheckCareUnits(u.Units); err != nil {
			p.add("users", i, "user %q: %s", u.Username, wardwatch.ErrorMessage(err))
		} else {
			u.Units = us
		}
		p.unique(users, "users", i, u.Username, fmt.Sprintf("user %q", u.Username))
	}
	s.validateExtra(p)
	return p.err()
}

func (p *problems) zoneRef(section string, i int, z *ZoneRef) {
	if z != nil && (!name(z.Floor, 200) || !name(z.Zone, 100)) {
		p.add(section, i, "a zone is named by {floor: FLOOR, zone: ZONE}")
	}
}

func validCoords(p Polygon) bool {
	for _, c := range p {
		if len(c) != 2 || !finite(c[0], c[1]) {
			return false
		}
	}
	return true
}

var (
	snmpAuth = []string{"SHA", "SHA224", "SHA256", "SHA384", "SHA512"}
	snmpPriv = []string{"AES", "AES192", "AES256", "AES192C", "AES256C"}
)

func validPARID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// policiesOf turns the file's policies into the alerts package's, naming
// units through unitID (0: unknown unit).
func policiesOf(ps []Policy, unitID func(string) int64) (alerts.Policies, error) {
	out := make(alerts.Policies, 0, len(ps))
	for _, p := range ps {
		ap := alerts.Policy{Team: alerts.Team(p.Team), Priority: alerts.Priority(p.Priority)}
		if p.Unit != "" {
			if ap.UnitID = unitID(p.Unit); ap.UnitID == 0 {
				return nil, wardwatch.Errorf(wardwatch.EINVALID, "unit %q not found", p.Unit)
			}
		}
		if p.Reminder != "" {
			d, err := time.ParseDuration(p.Reminder)
			if err != nil {
				return nil, wardwatch.Errorf(wardwatch.EINVALID, "reminder %q is not a duration", p.Reminder)
			}
			ap.Reminder = d
		}
		for _, t := range p.Tiers {
			d, err := time.ParseDuration(t.After)
			if err != nil {
				return nil, wardwatch.Errorf(wardwatch.EINVALID, "after %q is not a duration", t.After)
			}
			at := alerts.Tier{After: d}
			for _, tg := range t.Targets {
				at.Targets = append(at.Targets, alerts.Target{Channel: alerts.Channel(tg.Channel), Group: tg.Group, Address: tg.Address})
			}
			ap.Tiers = append(ap.Tiers, at)
		}
		out = append(out, ap)
	}
	return out, nil
}
