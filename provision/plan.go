package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// AuditUser is the user name provisioning changes are audited as.
const AuditUser = "provision"

// Passwords hashes and checks user passwords and hashes RFID readers' push
// tokens (auth.HashPassword, auth.CheckPassword and auth.HashToken in
// WardWatch).
type Passwords interface {
	Hash(password string) (string, error)
	Check(hash, password string) bool
	HashToken(token string) []byte
}

// Options control how a site file is planned.
type Options struct {
	// Prune deletes the objects the file does not list (floors excepted:
	// the store cannot delete them).
	Prune bool
	// Getenv and ReadFile resolve secret references; nil refuses them.
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	// Passwords hashes the passwords users are given and readers' tokens;
	// nil refuses them.
	Passwords Passwords
	// Dir is the directory file paths of the site file (device profiles)
	// are relative to: the site file's.
	Dir string
	// ValidateProfile parses a device profile's YAML as the profiles page
	// does and returns the name it gives; nil refuses profiles.
	ValidateProfile func(kind string, source []byte) (name string, err error)
	// Now is the time maintenance windows are compared with (an ended
	// window is not created); nil: time.Now.
	Now func() time.Time
}

// Change is one create, update or delete a plan makes.
type Change struct {
	Action  string // "create", "update" or "delete"
	Subject string // "floor", "zone", "gateway", "asset", "tag", "unit", "unit_rules", "modbus_device", "snmp_target", "contact", "par_level", "escalation_policies", "user", "floor_plan", "rfid_reader", "poll_target", "device_profile", "maintenance_window", "unit_schedule"
	Key     string // the natural key, as people read it
	Detail  string // what changes, for an update
	Where   string // "site.yaml:12" for objects of the file

	old, new any
	run      func(ctx context.Context) (subjectID string, err error)
}

func (c Change) String() string {
	sign := map[string]string{"create": "+", "update": "~", "delete": "-"}[c.Action]
	s := fmt.Sprintf("%s %s %s %s", sign, c.Action, strings.ReplaceAll(c.Subject, "_", " "), c.Key)
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	if c.Where != "" {
		s += "  [" + c.Where + "]"
	}
	return s
}

// Plan is what applying a site file changes, in the order Apply makes
// the changes: creates and updates in dependency order, then deletes.
type Plan struct {
	Changes []Change
	// Notes are things the plan leaves alone that the file suggests
	// changing (a floor pruning cannot delete).
	Notes []string

	state *state
}

// Empty reports whether applying the plan would change nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Write prints the plan, one change per line, deletions included.
func (p *Plan) Write(w io.Writer) error {
	for _, c := range p.Changes {
		if _, err := fmt.Fprintln(w, c.String()); err != nil {
			return err
		}
	}
	for _, n := range p.Notes {
		if _, err := fmt.Fprintln(w, "! "+n); err != nil {
			return err
		}
	}
	if len(p.Changes) == 0 {
		_, err := fmt.Fprintln(w, "No changes: the store matches the file.")
		return err
	}
	return nil
}

// planner builds a plan.
type planner struct {
	ctx     context.Context
	st      Store
	cur     *state
	want    *Site
	opts    Options
	errs    problems
	upserts []Change
	deletes [][]Change // per section, in section order
	notes   []string
	plans   map[string]planImage // the file's floor plans, by floor name
}

// NewPlan compares site with the store and lists the changes that make
// the store match it. Everything is checked before the plan is returned:
// references between objects, secrets (resolved now), passwords (hashed
// now); errors name the file's lines.
func NewPlan(ctx context.Context, st Store, site *Site, opts Options) (*Plan, error) {
	cur, err := load(ctx, st)
	if err != nil {
		return nil, err
	}
	p := &planner{ctx: ctx, st: st, cur: cur, want: site, opts: opts, errs: problems{site: site}}
	p.readPlans()
	p.floors()
	p.floorPlans()
	p.zones()
	p.gateways()
	p.rfidReaders()
	p.pollTargets()
	p.assets()
	p.units()
	p.deviceProfiles()
	p.modbusDevices()
	p.snmpTargets()
	p.contacts()
	p.parLevels()
	p.policies()
	p.windows()
	p.schedules()
	p.users()
	if err := p.errs.err(); err != nil {
		return nil, err
	}
	plan := &Plan{Changes: p.upserts, Notes: p.notes, state: cur}
	for i := len(p.deletes) - 1; i >= 0; i-- {
		plan.Changes = append(plan.Changes, p.deletes[i]...)
	}
	for _, f := range cur.site.Floors {
		if opts.Prune && !slices.ContainsFunc(site.Floors, func(g Floor) bool { return g.Name == f.Name }) {
			plan.Notes = append(plan.Notes, fmt.Sprintf("floor %q is not in the file, but floors cannot be deleted by provisioning", f.Name))
		}
	}
	return plan, nil
}

func (p *planner) upsert(c Change) { p.upserts = append(p.upserts, c) }

func (p *planner) delete(cs []Change) { p.deletes = append(p.deletes, cs) }

// diffFields names the fields (by YAML name) that differ between two
// items of the same struct type.
func diffFields(old, new any) string {
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(new)
	var out []string
	for i := range ov.NumField() {
		f := ov.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			out = append(out, name)
		}
	}
	return strings.Join(out, ", ")
}

// Known references: in the file, or in the store and kept.

func (p *planner) floorKnown(name string) bool {
	if slices.ContainsFunc(p.want.Floors, func(f Floor) bool { return f.Name == name }) {
		return true
	}
	_, ok := p.cur.floorID[name]
	return ok
}

func (p *planner) zoneKnown(z ZoneRef) bool {
	if slices.ContainsFunc(p.want.Zones, func(w Zone) bool { return w.Floor == z.Floor && w.Name == z.Zone }) {
		return true
	}
	_, ok := p.cur.zoneID[z]
	return ok && !p.opts.Prune
}

func (p *planner) unitKnown(name string) bool {
	if slices.ContainsFunc(p.want.Units, func(u Unit) bool { return u.Name == name }) {
		return true
	}
	_, ok := p.cur.unitID[name]
	return ok && !p.opts.Prune
}

func (p *planner) checkZone(section string, i int, z *ZoneRef) {
	if z != nil && !p.zoneKnown(*z) {
		p.errs.add(section, i, "zone %s is neither in the file nor in the store", *z)
	}
}

func (p *planner) checkUnit(section string, i int, name string) {
	if name != "" && !p.unitKnown(name) {
		p.errs.add(section, i, "unit %q is neither in the file nor in the store", name)
	}
}

// IDs resolved when the change runs (objects created earlier in the same
// apply have them by then).

func (s *state) zone(z *ZoneRef) int64 {
	if z == nil {
		return 0
	}
	return s.zoneID[*z]
}

func (s *state) unit(name string) int64 {
	if name == "" {
		return 0
	}
	return s.unitID[name]
}

// withoutPlan is f without its plan reference: plans are compared by
// their images (floorPlans).
func withoutPlan(f Floor) Floor {
	f.Plan = nil
	return f
}

func (p *planner) floors() {
	cur := make(map[string]Floor)
	for _, f := range p.cur.site.Floors {
		cur[f.Name] = f
	}
	for i, f := range p.want.Floors {
		dom := func() wardwatch.Floor {
			return wardwatch.Floor{ID: p.cur.floorID[f.Name], Name: f.Name, Building: f.Building, Level: f.Level, Width: f.Width, Height: f.Height}
		}
		old, ok := cur[f.Name]
		switch {
		case !ok:
			p.upsert(Change{Action: "create", Subject: "floor", Key: f.Name, Where: p.want.where("floors", i), new: f,
				run: func(ctx context.Context) (string, error) {
					d := dom()
					err := p.st.CreateFloor(ctx, &d)
					p.cur.floorID[f.Name] = d.ID
					return id(d.ID), err
				}})
		case !reflect.DeepEqual(old, withoutPlan(f)):
			p.upsert(Change{Action: "update", Subject: "floor", Key: f.Name, Detail: diffFields(old, withoutPlan(f)), Where: p.want.where("floors", i),
				old: old, new: f, run: func(ctx context.Context) (string, error) {
					return id(p.cur.floorID[f.Name]), p.st.UpdateFloor(ctx, dom())
				}})
		}
	}
}

func (p *planner) zones() {
	cur := make(map[ZoneRef]Zone)
	for _, z := range p.cur.site.Zones {
		cur[ZoneRef{z.Floor, z.Name}] = z
	}
	want := make(map[ZoneRef]bool)
	for i, z := range p.want.Zones {
		ref := ZoneRef{z.Floor, z.Name}
		want[ref] = true
		if !p.floorKnown(z.Floor) {
			p.errs.add("zones", i, "zone %s: floor %q is neither in the file nor in the store", ref, z.Floor)
			continue
		}
		dom := func() wardwatch.Zone {
			return wardwatch.Zone{ID: p.cur.zoneID[ref], FloorID: p.cur.floorID[z.Floor], Name: z.Name,
				Kind: wardwatch.ZoneKind(z.Kind), CareUnit: z.CareUnit, Polygon: z.Polygon.points()}
		}
		old, ok := cur[ref]
		switch {
		case !ok:
			p.upsert(Change{Action: "create", Subject: "zone", Key: ref.String(), Where: p.want.where("zones", i), new: z,
				run: func(ctx context.Context) (string, error) {
					d := dom()
					err := p.st.CreateZone(ctx, &d)
					p.cur.zoneID[ref] = d.ID
					return id(d.ID), err
				}})
		case !reflect.DeepEqual(old, z):
			p.upsert(Change{Action: "update", Subject: "zone", Key: ref.String(), Detail: diffFields(old, z), Where: p.want.where("zones", i),
				old: old, new: z, run: func(ctx context.Context) (string, error) {
					return id(p.cur.zoneID[ref]), p.st.UpdateZone(ctx, dom())
				}})
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, z := range p.cur.site.Zones {
			ref := ZoneRef{z.Floor, z.Name}
			if !want[ref] {
				zid := p.cur.zoneID[ref]
				dels = append(dels, Change{Action: "delete", Subject: "zone", Key: ref.String(), old: z,
					run: func(ctx context.Context) (string, error) { return id(zid), p.st.DeleteZone(ctx, zid) }})
			}
		}
	}
	p.delete(dels)
}

func (p *planner) gateways() {
	cur := make(map[string]Gateway)
	for _, g := range p.cur.site.Gateways {
		cur[g.Key] = g
	}
	want := make(map[string]bool)
	for i, g := range p.want.Gateways {
		want[g.Key] = true
		if !p.floorKnown(g.Floor) {
			p.errs.add("gateways", i, "gateway %q: floor %q is neither in the file nor in the store", g.Key, g.Floor)
		}
		p.checkZone("gateways", i, g.AnchorZone)
		dom := func() wardwatch.Gateway {
			return wardwatch.Gateway{ID: p.cur.gatewayID[g.Key], Key: g.Key, Name: g.Name, FloorID: p.cur.floorID[g.Floor],
				At: g.Position.point(), Z: g.Height, RSSIAt1m: g.RSSIAt1m, PathLossExponent: g.PathLossExponent,
				RxOffset: g.RxOffset, AnchorZoneID: p.cur.zone(g.AnchorZone)}
		}
		old, ok := cur[g.Key]
		switch {
		case !ok:
			p.upsert(Change{Action: "create", Subject: "gateway", Key: g.Key, Where: p.want.where("gateways", i), new: g,
				run: func(ctx context.Context) (string, error) {
					d := dom()
					err := p.st.CreateGateway(ctx, &d)
					p.cur.gatewayID[g.Key] = d.ID
					return id(d.ID), err
				}})
		case !reflect.DeepEqual(old, g):
			p.upsert(Change{Action: "update", Subject: "gateway", Key: g.Key, Detail: diffFields(old, g), Where: p.want.where("gateways", i),
				old: old, new: g, run: func(ctx context.Context) (string, error) {
					return id(p.cur.gatewayID[g.Key]), p.st.UpdateGateway(ctx, dom())
				}})
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, g := range p.cur.site.Gateways {
			if !want[g.Key] {
				gid := p.cur.gatewayID[g.Key]
				dels = append(dels, Change{Action: "delete", Subject: "gateway", Key: g.Key, old: g,
					run: func(ctx context.Context) (string, error) { return id(gid), p.st.DeleteGateway(ctx, gid) }})
			}
		}
	}
	p.delete(dels)
}

func (p *planner) assets() {
	curByKey := make(map[string]int)
	curByName := make(map[string][]int)
	for i, a := range p.cur.site.Assets {
		curByKey[a.key()] = i
		if a.AssetTag == "" {
			curByName[a.Name] = append(curByName[a.Name], i)
		}
	}
	matched := make(map[int]bool)
	wantTags := make(map[string]bool)
	var tagChanges []Change
	for i, a := range p.want.Assets {
		where := p.want.where("assets", i)
		ci, ok := curByKey[a.key()]
		if !ok && a.AssetTag != "" {
			// An asset without an asset tag in the store gets the one the
			// file gives it.
			if c := curByName[a.Name]; len(c) == 1 && !matched[c[0]] {
				ci, ok = c[0], true
			}
		}
		if ok && matched[ci] {
			ok = false
		}
		var curID int64
		if ok {
			matched[ci] = true
			old := p.cur.site.Assets[ci]
			curID = p.cur.assetID[old.key()]
			p.cur.assetID[a.key()] = curID
			cmpNew := a
			if cmpNew.Status == "" {
				cmpNew.Status = old.Status
			}
			cmpNew.Tags, old.Tags = nil, nil
			if !reflect.DeepEqual(old, cmpNew) {
				p.upsert(Change{Action: "update", Subject: "asset", Key: a.label(), Detail: diffFields(old, cmpNew), Where: where,
					old: old, new: cmpNew, run: func(ctx context.Context) (string, error) {
						d, err := assetOf(cmpNew, curID)
						if err != nil {
							return id(curID), err
						}
						return id(curID), p.st.UpdateAsset(ctx, d)
					}})
			}
		} else {
			p.upsert(Change{Action: "create", Subject: "asset", Key: a.label(), Where: where, new: a,
				run: func(ctx context.Context) (string, error) {
					d, err := assetOf(a, 0)
					if err != nil {
						return "", err
					}
					err = p.st.CreateAsset(ctx, &d)
					p.cur.assetID[a.key()] = d.ID
					return id(d.ID), err
				}})
		}
		for _, t := range a.Tags {
			wantTags[t] = true
			owner, exists := p.cur.tagOwner[t]
			switch {
			case exists && owner == curID && curID != 0:
			case exists:
				tagChanges = append(tagChanges, Change{Action: "update", Subject: "tag", Key: t, Detail: "moved to " + a.label(), Where: where,
					old: map[string]string{"tag": t}, new: map[string]string{"tag": t, "asset": a.label()},
					run: func(ctx context.Context) (string, error) {
						if err := p.st.DeleteTag(ctx, t); err != nil {
							return t, err
						}
						return t, p.st.CreateTag(ctx, wardwatch.Tag{ID: t, AssetID: p.cur.assetID[a.key()]})
					}})
			default:
				tagChanges = append(tagChanges, Change{Action: "create", Subject: "tag", Key: t, Detail: "on " + a.label(), Where: where,
					new: map[string]string{"tag": t, "asset": a.label()},
					run: func(ctx context.Context) (string, error) {
						return t, p.st.CreateTag(ctx, wardwatch.Tag{ID: t, AssetID: p.cur.assetID[a.key()]})
					}})
			}
		}
	}
	p.upserts = append(p.upserts, tagChanges...)

	var assetDels, tagDels []Change
	if p.opts.Prune {
		deleted := make(map[int64]bool)
		for i, a := range p.cur.site.Assets {
			if matched[i] {
				continue
			}
			aid := p.cur.assetID[a.key()]
			deleted[aid] = true
			assetDels = append(assetDels, Change{Action: "delete", Subject: "asset", Key: a.label(), old: a,
				run: func(ctx context.Context) (string, error) { return id(aid), p.st.DeleteAsset(ctx, aid) }})
		}
		var tags []string
		for t, owner := range p.cur.tagOwner {
			if !wantTags[t] && !deleted[owner] {
				tags = append(tags, t)
			}
		}
		slices.Sort(tags)
		for _, t := range tags {
			tagDels = append(tagDels, Change{Action: "delete", Subject: "tag", Key: t, old: map[string]string{"tag": t},
				run: func(ctx context.Context) (string, error) { return t, p.st.DeleteTag(ctx, t) }})
		}
	}
	p.delete(assetDels)
	p.delete(tagDels)
}

func assetOf(a Asset, assetID int64) (wardwatch.Asset, error) {
	pm, err := parseTime(a.PMDue)
	if err != nil {
		return wardwatch.Asset{}, wardwatch.Errorf(wardwatch.EINVALID, "pm_due: %v", err)
	}
	return wardwatch.Asset{ID: assetID, Name: a.Name, Kind: wardwatch.AssetKind(a.Kind), Status: wardwatch.AssetStatus(a.Status),
		AssetTag: a.AssetTag, Serial: a.Serial, UDI: a.UDI, Manufacturer: a.Manufacturer, Model: a.Model, PMDue: pm}, nil
}

func (p *planner) units() {
	cur := make(map[string]Unit)
	for _, u := range p.cur.site.Units {
		cur[u.Name] = u
	}
	want := make(map[string]bool)
	var ruleChanges []Change
	for i, u := range p.want.Units {
		want[u.Name] = true
		where := p.want.where("units", i)
		p.checkZone("units", i, u.Zone)
		dom := func() wardwatch.MonitoredUnit {
			return wardwatch.MonitoredUnit{ID: p.cur.unitID[u.Name], Name: u.Name, Profile: wardwatch.UnitProfile(u.Profile), ZoneID: p.cur.zone(u.Zone)}
		}
		old, ok := cur[u.Name]
		cmpNew := u
		cmpNew.Rules, old.Rules = nil, nil
		cmpNew.Schedules, old.Schedules = nil, nil // compared by schedules()
		switch {
		case !ok:
			p.upsert(Change{Action: "create", Subject: "unit", Key: u.Name, Where: where, new: cmpNew,
				run: func(ctx context.Context) (string, error) {
					d := dom()
					err := p.st.CreateUnit(ctx, &d)
					p.cur.unitID[u.Name] = d.ID
					return id(d.ID), err
				}})
		case !reflect.DeepEqual(old, cmpNew):
			p.upsert(Change{Action: "update", Subject: "unit", Key: u.Name, Detail: diffFields(old, cmpNew), Where: where,
				old: old, new: cmpNew, run: func(ctx context.Context) (string, error) {
					return id(p.cur.unitID[u.Name]), p.st.UpdateUnit(ctx, dom())
				}})
		}
		oldRules := cur[u.Name].Rules
		switch {
		case u.Rules != nil && !u.Rules.equal(oldRules):
			detail := fmt.Sprintf("%d rules", len(u.Rules.Rules))
			if oldRules != nil {
				var fields []string
				for _, e := range alerts.DiffRules(oldRules.Rules, u.Rules.Rules) {
					fields = append(fields, e.RuleID+"."+e.Field)
				}
				detail = strings.Join(fields, ", ")
			}
			ruleChanges = append(ruleChanges, Change{Action: "update", Subject: "unit_rules", Key: u.Name, Detail: detail, Where: where,
				old: oldRules, new: u.Rules, run: func(ctx context.Context) (string, error) {
					rules := u.Rules.Rules
					if rules == nil {
						rules = []alerts.Rule{}
					}
					uid := p.cur.unitID[u.Name]
					return id(uid), p.st.SetUnitRules(ctx, uid, rules)
				}})
		case u.Rules == nil && oldRules != nil && p.opts.Prune:
			ruleChanges = append(ruleChanges, Change{Action: "delete", Subject: "unit_rules", Key: u.Name, Detail: "back to the profile's rules",
				Where: where, old: oldRules, run: func(ctx context.Context) (string, error) {
					uid := p.cur.unitID[u.Name]
					return id(uid), p.st.SetUnitRules(ctx, uid, nil)
				}})
		}
	}
	p.upserts = append(p.upserts, ruleChanges...)
	var dels []Change
	if p.opts.Prune {
		for _, u := range p.cur.site.Units {
			if !want[u.Name] {
				uid := p.cur.unitID[u.Name]
				dels = append(dels, Change{Action: "delete", Subject: "unit", Key: u.Name, old: u,
					run: func(ctx context.Context) (string, error) { return id(uid), p.st.DeleteUnit(ctx, uid) }})
			}
		}
	}
	p.delete(dels)
}

func (p *planner) modbusDevices() {
	cur := make(map[string]ModbusDevice)
	for _, d := range p.cur.site.ModbusDevices {
		cur[d.Name] = d
	}
	want := make(map[string]bool)
	for i, d := range p.want.ModbusDevices {
		want[d.Name] = true
		where := p.want.where("modbus_devices", i)
		p.checkUnit("modbus_devices", i, d.Unit)
		dom := func() (wardwatch.ModbusDevice, error) {
			iv, err1 := parseDuration(d.Interval)
			to, err2 := parseDuration(d.Timeout)
			cal, err3 := parseTime(d.CalibrationDue)
			if err := firstErr(err1, err2, err3); err != nil {
				return wardwatch.ModbusDevice{}, err
			}
			return wardwatch.ModbusDevice{ID: p.cur.modbusID[d.Name], Name: d.Name, UnitID: p.cur.unit(d.Unit), Transport: d.Transport,
				Address: d.Address, Baud: d.Baud, DataBits: d.DataBits, Parity: d.Parity, StopBits: d.StopBits, SlaveID: d.SlaveID,
				Profile: d.Profile, Interval: iv, Timeout: to, Enabled: enabled(d.Enabled), CalibrationDue: cal}, nil
		}
		old, ok := cur[d.Name]
		switch {
		case !ok:
			p.upsert(Change{Action: "create", Subject: "modbus_device", Key: d.Name, Where: where, new: d,
				run: func(ctx context.Context) (string, error) {
					x, err := dom()
					if err == nil {
						err = p.st.CreateModbusDevice(ctx, &x)
					}
					p.cur.modbusID[d.Name] = x.ID
					return id(x.ID), err
				}})
		case !reflect.DeepEqual(old, d):
			p.upsert(Change{Action: "update", Subject: "modbus_device", Key: d.Name, Detail: diffFields(old, d), Where: where,
				old: old, new: d, run: func(ctx context.Context) (string, error) {
					x, err := dom()
					if err == nil {
						err = p.st.UpdateModbusDevice(ctx, x)
					}
					return id(x.ID), err
				}})
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, d := range p.cur.site.ModbusDevices {
			if !want[d.Name] {
				did := p.cur.modbusID[d.Name]
				dels = append(dels, Change{Action: "delete", Subject: "modbus_device", Key: d.Name, old: d,
					run: func(ctx context.Context) (string, error) { return id(did), p.st.DeleteModbusDevice(ctx, did) }})
			}
		}
	}
	p.delete(dels)
}

// resolve reads a secret reference's value; errors name the line.
func (p *planner) resolve(section string, i int, field string, s *Secret) {
	if s == nil || s.resolved {
		return
	}
	where := p.want.where(section, i)
	if s.line > 0 && p.want.name != "" {
		where = fmt.Sprintf("%s:%d", p.want.name, s.line)
	}
	bad := func(format string, args ...any) {
		p.errs.list = append(p.errs.list, where+": "+field+": "+fmt.Sprintf(format, args...))
	}
	switch {
	case s.Env != "":
		if p.opts.Getenv == nil {
			bad("environment variables cannot be read here")
			return
		}
		s.value = p.opts.Getenv(s.Env)
		if s.value == "" {
			bad("environment variable %s is not set", s.Env)
			return
		}
	case s.File != "":
		if p.opts.ReadFile == nil {
			bad("secret files cannot be read here")
			return
		}
		b, err := p.opts.ReadFile(s.File)
		if err != nil {
			bad("cannot read secret file %s", s.File)
			return
		}
		s.value = strings.TrimRight(string(b), "\r\n")
		if s.value == "" {
			bad("secret file %s is empty", s.File)
			return
		}
	default:
		bad("a secret reference needs env or file")
		return
	}
	s.resolved = true
}

func secretValue(s *Secret) string {
	if s == nil {
		return ""
	}
	return s.value
}

func (p *planner) snmpTargets() {
	cur := make(map[string]SNMPTarget)
	for _, t := range p.cur.site.SNMPTargets {
		cur[t.Name] = t
	}
	want := make(map[string]bool)
	for i, t := range p.want.SNMPTargets {
		want[t.Name] = true
		where := p.want.where("snmp_targets", i)
		p.resolve("snmp_targets", i, "community", t.Community)
		p.resolve("snmp_targets", i, "auth_password", t.AuthPassword)
		p.resolve("snmp_targets", i, "priv_password", t.PrivPassword)
		old, exists := cur[t.Name]
		if t.Version == "v3" {
			for _, s := range []*Secret{t.AuthPassword, t.PrivPassword} {
				if v := secretValue(s); s != nil && s.resolved && (len(v) < 8 || len(v) > 256) {
					p.errs.add("snmp_targets", i, "target %q: SNMPv3 passwords are 8 to 256 characters", t.Name)
				}
			}
			if !exists && (t.AuthPassword == nil || t.PrivPassword == nil) {
				p.errs.add("snmp_targets", i, "target %q: a new SNMPv3 target needs auth_password and priv_password", t.Name)
			}
		} else if !exists && t.Community == nil {
			p.errs.add("snmp_targets", i, "target %q: a new SNMP %s target needs a community", t.Name, t.Version)
		}
		dom := func() (wardwatch.SNMPTarget, error) {
			iv, err1 := parseDuration(t.Interval)
			to, err2 := parseDuration(t.Timeout)
			if err := firstErr(err1, err2); err != nil {
				return wardwatch.SNMPTarget{}, err
			}
			return wardwatch.SNMPTarget{ID: p.cur.snmpID[t.Name], Name: t.Name, Address: t.Address, Version: t.Version,
				Community: secretValue(t.Community), User: t.User, AuthProtocol: t.AuthProtocol, AuthPassword: secretValue(t.AuthPassword),
				PrivProtocol: t.PrivProtocol, PrivPassword: secretValue(t.PrivPassword), Profile: t.Profile, Interval: iv, Timeout: to,
				Retries: t.Retries, Enabled: enabled(t.Enabled)}, nil
		}
		if !exists {
			p.upsert(Change{Action: "create", Subject: "snmp_target", Key: t.Name, Where: where, new: t,
				run: func(ctx context.Context) (string, error) {
					x, err := dom()
					if err == nil {
						err = p.st.CreateSNMPTarget(ctx, &x)
					}
					p.cur.snmpID[t.Name] = x.ID
					return id(x.ID), err
				}})
			continue
		}
		var changed []string
		a, b := old, t
		a.Community, a.AuthPassword, a.PrivPassword = nil, nil, nil
		b.Community, b.AuthPassword, b.PrivPassword = nil, nil, nil
		if d := diffFields(a, b); d != "" {
			changed = append(changed, d)
		}
		for _, s := range []struct {
			name     string
			old, new *Secret
		}{{"community", old.Community, t.Community}, {"auth_password", old.AuthPassword, t.AuthPassword}, {"priv_password", old.PrivPassword, t.PrivPassword}} {
			if s.new != nil && secretValue(s.new) != secretValue(s.old) {
				changed = append(changed, s.name)
			}
		}
		if len(changed) > 0 {
			p.upsert(Change{Action: "update", Subject: "snmp_target", Key: t.Name, Detail: strings.Join(changed, ", "), Where: where,
				old: a, new: t, run: func(ctx context.Context) (string, error) {
					x, err := dom()
					if err == nil {
						err = p.st.UpdateSNMPTarget(ctx, x) // empty secrets keep the stored ones
					}
					return id(x.ID), err
				}})
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, t := range p.cur.site.SNMPTargets {
			if !want[t.Name] {
				tid := p.cur.snmpID[t.Name]
				t.Community, t.AuthPassword, t.PrivPassword = nil, nil, nil
				dels = append(dels, Change{Action: "delete", Subject: "snmp_target", Key: t.Name, old: t,
					run: func(ctx context.Context) (string, error) { return id(tid), p.st.DeleteSNMPTarget(ctx, tid) }})
			}
		}
	}
	p.delete(dels)
}

func (p *planner) contacts() {
	key := func(c Contact) string { return c.Team + "\x00" + c.Name }
	cur := make(map[string]Contact)
	for _, c := range p.cur.site.Contacts {
		cur[key(c)] = c
	}
	want := make(map[string]bool)
	for i, c := range p.want.Contacts {
		k := key(c)
		want[k] = true
		where := p.want.where("contacts", i)
		p.checkUnit("contacts", i, c.Unit)
		label := c.Team + " / " + c.Name
		save := func(ctx context.Context) (string, error) {
			cid, err := p.st.SaveContact(ctx, alerts.Contact{ID: p.cur.contactID[k], Name: c.Name, Group: c.Group, Team: alerts.Team(c.Team),
				UnitID: p.cur.unit(c.Unit), Email: c.Email, Webhook: c.Webhook, Enabled: enabled(c.Enabled)})
			if err == nil {
				p.cur.contactID[k] = cid
			}
			return id(cid), err
		}
		old, ok := cur[k]
		switch {
		case !ok:
			p.upsert(Change{Action: "create", Subject: "contact", Key: label, Where: where, new: c, run: save})
		case !reflect.DeepEqual(old, c):
			p.upsert(Change{Action: "update", Subject: "contact", Key: label, Detail: diffFields(old, c), Where: where, old: old, new: c, run: save})
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, c := range p.cur.site.Contacts {
			if !want[key(c)] {
				cid := p.cur.contactID[key(c)]
				dels = append(dels, Change{Action: "delete", Subject: "contact", Key: c.Team + " / " + c.Name, old: c,
					run: func(ctx context.Context) (string, error) { return id(cid), p.st.DeleteContact(ctx, cid) }})
			}
		}
	}
	p.delete(dels)
}

func (p *planner) parLevels() {
	cur := make(map[string]PARLevel)
	for _, l := range p.cur.site.PARLevels {
		cur[l.ID] = l
	}
	want := make(map[string]bool)
	for i, l := range p.want.PARLevels {
		want[l.ID] = true
		where := p.want.where("par_levels", i)
		for _, z := range slices.Concat(l.CleanZones, l.SoiledZones) {
			p.checkZone("par_levels", i, &z)
		}
		save := func(ctx context.Context) (string, error) {
			ids := func(zs []ZoneRef) []int64 {
				var out []int64
				for _, z := range zs {
					out = append(out, p.cur.zone(&z))
				}
				return out
			}
			return l.ID, p.st.SavePARLevel(ctx, alerts.PARLevel{ID: l.ID, Name: l.Name, Kind: wardwatch.AssetKind(l.Kind),
				CleanZones: ids(l.CleanZones), SoiledZones: ids(l.SoiledZones), CleanMin: l.CleanMin, SoiledMax: l.SoiledMax})
		}
		old, ok := cur[l.ID]
		switch {
		case !ok:
			p.upsert(Change{Action: "create", Subject: "par_level", Key: l.ID, Where: where, new: l, run: save})
		case !reflect.DeepEqual(old, l):
			p.upsert(Change{Action: "update", Subject: "par_level", Key: l.ID, Detail: diffFields(old, l), Where: where, old: old, new: l, run: save})
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, l := range p.cur.site.PARLevels {
			if !want[l.ID] {
				dels = append(dels, Change{Action: "delete", Subject: "par_level", Key: l.ID, old: l,
					run: func(ctx context.Context) (string, error) { return l.ID, p.st.DeletePARLevel(ctx, l.ID) }})
			}
		}
	}
	p.delete(dels)
}

func (p *planner) policies() {
	old := p.cur.site.EscalationPolicies
	want := p.want.EscalationPolicies
	switch {
	case want != nil:
		for i, pol := range *want {
			p.checkUnit("escalation_policies", i, pol.Unit)
		}
		if old == nil && len(*want) == 0 || old != nil && reflect.DeepEqual(*old, *want) {
			return
		}
		action, detail := "update", fmt.Sprintf("%d policies", len(*want))
		if len(*want) == 0 {
			action, detail = "delete", "back to the defaults"
		}
		p.upsert(Change{Action: action, Subject: "escalation_policies", Key: "(all)", Detail: detail, Where: p.want.where("escalation_policies", -1),
			old: old, new: want, run: func(ctx context.Context) (string, error) {
				ps, err := policiesOf(*want, func(name string) int64 { return p.cur.unitID[name] })
				if err != nil {
					return "", err
				}
				return "", p.st.SetEscalationPolicies(ctx, ps)
			}})
	case old != nil && p.opts.Prune:
		p.delete([]Change{{Action: "delete", Subject: "escalation_policies", Key: "(all)", Detail: "back to the defaults", old: old,
			run: func(ctx context.Context) (string, error) { return "", p.st.SetEscalationPolicies(ctx, nil) }}})
	}
}

func (p *planner) users() {
	want := make(map[string]bool)
	for i, u := range p.want.Users {
		want[u.Username] = true
		where := p.want.where("users", i)
		p.resolve("users", i, "password", u.Password)
		old, exists := p.cur.users[u.Username]
		var hash string
		if u.Password != nil && u.Password.resolved && (!exists || p.opts.Passwords == nil || !p.opts.Passwords.Check(old.PasswordHash, u.Password.value)) {
			if p.opts.Passwords == nil {
				p.errs.add("users", i, "user %q: passwords cannot be set here", u.Username)
				continue
			}
			h, err := p.opts.Passwords.Hash(u.Password.value)
			if err != nil {
				p.errs.add("users", i, "user %q: %s", u.Username, wardwatch.ErrorMessage(err))
				continue
			}
			hash = h
		}
		shown := User{Username: u.Username, Role: u.Role, Units: u.Units, Password: u.Password}
		if !exists {
			p.upsert(Change{Action: "create", Subject: "user", Key: u.Username, Where: where, new: shown,
				run: func(ctx context.Context) (string, error) {
					d := wardwatch.User{Username: u.Username, Role: wardwatch.Role(u.Role), Units: u.Units, PasswordHash: hash}
					err := p.st.CreateUser(ctx, &d)
					return id(d.ID), err
				}})
			continue
		}
		var changed []string
		if string(old.Role) != u.Role {
			changed = append(changed, "role")
		}
		unitsChanged := !slices.Equal(old.Units, u.Units)
		if unitsChanged {
			changed = append(changed, "units")
		}
		if hash != "" {
			changed = append(changed, "password")
		}
		if len(changed) > 0 {
			p.upsert(Change{Action: "update", Subject: "user", Key: u.Username, Detail: strings.Join(changed, ", "), Where: where,
				old: User{Username: old.Username, Role: string(old.Role), Units: old.Units}, new: shown, run: func(ctx context.Context) (string, error) {
					if string(old.Role) != u.Role {
						if err := p.st.SetUserRole(ctx, old.ID, wardwatch.Role(u.Role)); err != nil {
							return id(old.ID), err
						}
					}
					if unitsChanged {
						if err := p.st.SetUserUnits(ctx, old.ID, u.Units); err != nil {
							return id(old.ID), err
						}
					}
					if hash != "" {
						return id(old.ID), p.st.SetPassword(ctx, old.ID, hash)
					}
					return id(old.ID), nil
				}})
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, u := range p.cur.site.Users {
			if !want[u.Username] {
				uid := p.cur.users[u.Username].ID
				dels = append(dels, Change{Action: "delete", Subject: "user", Key: u.Username, old: u,
					run: func(ctx context.Context) (string, error) { return id(uid), p.st.DeleteUser(ctx, uid) }})
			}
		}
	}
	p.delete(dels)
}

// Apply makes the plan's changes in order, each followed by its audit
// entry (user "provision"), and returns how many it made. It stops at
// the first failure, naming the change; the changes before it stay made.
func (p *Plan) Apply(ctx context.Context, st Store) (int, error) {
	for i, c := range p.Changes {
		if err := ctx.Err(); err != nil {
			return i, err
		}
		subjectID, err := c.run(ctx)
		if err != nil {
			where := ""
			if c.Where != "" {
				where = c.Where + ": "
			}
			return i, fmt.Errorf("%s%s %s %s: %w", where, c.Action, strings.ReplaceAll(c.Subject, "_", " "), c.Key, err)
		}
		e := &wardwatch.AuditEntry{Username: AuditUser, Action: c.Action, Subject: c.Subject, SubjectID: subjectID,
			Old: snapshot(c.old), New: snapshot(c.new), Reason: "provisioning: " + c.Key}
		if c.Where != "" {
			e.Reason = "provisioning from " + c.Where
		}
		if err := st.AppendAudit(ctx, e); err != nil {
			return i + 1, fmt.Errorf("audit %s %s %s: %w", c.Action, c.Subject, c.Key, err)
		}
	}
	return len(p.Changes), nil
}

// snapshot encodes an object for the audit log; secrets appear only as
// their references.
func snapshot(v any) string {
	if v == nil || reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil() {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "%q is not a duration", s)
	}
	return d, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
