package web

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// DeviceStore is what the device admin pages need from the config store:
// monitored units, Modbus devices, SNMP targets and admin profiles.
type DeviceStore interface {
	Units(ctx context.Context) ([]wardwatch.MonitoredUnit, error)
	CreateUnit(ctx context.Context, u *wardwatch.MonitoredUnit) error
	UpdateUnit(ctx context.Context, u wardwatch.MonitoredUnit) error
	DeleteUnit(ctx context.Context, id int64) error

	ModbusDevices(ctx context.Context) ([]wardwatch.ModbusDevice, error)
	ModbusDevice(ctx context.Context, id int64) (wardwatch.ModbusDevice, error)
	CreateModbusDevice(ctx context.Context, d *wardwatch.ModbusDevice) error
	UpdateModbusDevice(ctx context.Context, d wardwatch.ModbusDevice) error
	DeleteModbusDevice(ctx context.Context, id int64) error

	SNMPTargets(ctx context.Context) ([]wardwatch.SNMPTarget, error)
	SNMPTarget(ctx context.Context, id int64) (wardwatch.SNMPTarget, error)
	CreateSNMPTarget(ctx context.Context, t *wardwatch.SNMPTarget) error
	UpdateSNMPTarget(ctx context.Context, t wardwatch.SNMPTarget) error
	DeleteSNMPTarget(ctx context.Context, id int64) error

	SaveDeviceProfile(ctx context.Context, p wardwatch.DeviceProfile) error
	DeleteDeviceProfile(ctx context.Context, kind, name string) error
}

// CollectorStatus is a polled device's or target's state.
type CollectorStatus struct {
	Online    bool
	LastOK    time.Time // zero: never read
	LastError string
	Failures  int    // consecutive
	Detail    string // e.g. "12 pumps"
}

// TestReport is what a "test connection" read: one row per profile field
// (the raw value beside the decoded one), or the error that stopped it.
type TestReport struct {
	Error string
	Rows  []TestRow
}

// TestRow is one field of a TestReport.
type TestRow struct {
	Name, Raw, Value, Unit, Error string
}

// ProfileInfo describes a collector profile for the admin pages.
type ProfileInfo struct {
	Name        string
	Description string
	Builtin     bool
	Source      string // YAML
}

// Collectors is the device admin pages' view of the Modbus and SNMP
// collectors: their profiles, their live status, a one-off test read,
// profile validation, and a hook to apply a changed configuration.
type Collectors struct {
	ModbusProfiles  func() []ProfileInfo
	SNMPProfiles    func() []ProfileInfo
	ModbusStatus    func() map[int64]CollectorStatus
	SNMPStatus      func() map[int64]CollectorStatus
	TestModbus      func(ctx context.Context, d wardwatch.ModbusDevice) TestReport
	TestSNMP        func(ctx context.Context, t wardwatch.SNMPTarget) TestReport
	ValidateProfile func(kind string, source []byte) (name string, err error)
	// Changed is called after any device, target, unit or profile change.
	Changed func(ctx context.Context)
}

// deviceAdmin serves the device admin pages.
type deviceAdmin struct {
	logger *slog.Logger
	store  DeviceStore
	zones  Store
	c      Collectors
	now    func() time.Time
	audit  auditor
}

// findUnit returns the stored unit id, for the audit log's "before".
func (a *deviceAdmin) findUnit(ctx context.Context, id int64) *wardwatch.MonitoredUnit {
	us, err := a.store.Units(ctx)
	if err != nil {
		return nil
	}
	for _, u := range us {
		if u.ID == id {
			return &u
		}
	}
	return nil
}

func (a *deviceAdmin) changed(ctx context.Context) {
	if a.c.Changed != nil {
		a.c.Changed(ctx)
	}
}

// ---- form helpers ----

// formValues reads the admin form into a flat map of trimmed values,
// rejecting any field longer than maxFieldBytes except the named big ones.
func formValues(w http.ResponseWriter, r *http.Request, big ...string) (map[string]string, error) {
	if err := parseAdminForm(w, r); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(r.PostForm))
	for k, vs := range r.PostForm {
		v := strings.TrimSpace(vs[0])
		limit := maxFieldBytes
		for _, b := range big {
			if k == b {
				limit = maxAdminForm
			}
		}
		if len(v) > limit {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "The field %q is too long.", shortField(k))
		}
		out[k] = v
	}
	return out, nil
}

func shortField(k string) string {
	if len(k) > 40 {
		return k[:40]
	}
	return k
}

func formInt(v map[string]string, name, label string, def int) (int, error) {
	s := v[name]
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "%s must be a whole number.", label)
	}
	return n, nil
}

func formDuration(v map[string]string, name, label string, def time.Duration) (time.Duration, error) {
	s := v[name]
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "%s must be a duration such as 30s or 5m.", label)
	}
	return d, nil
}

func formID(v map[string]string, name string) int64 {
	id, _ := parseID(v[name])
	return id
}

func pathID(r *http.Request) (int64, error) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		return 0, errPageNotFound
	}
	return id, nil
}

// ---- monitored units ----

type unitsView struct {
	Units    []wardwatch.MonitoredUnit
	Zones    map[int64]string
	ZoneList []wardwatch.Zone
	Profiles map[wardwatch.UnitProfile]string
	Edit     wardwatch.MonitoredUnit
	Error    string
}

func profileLabels() map[wardwatch.UnitProfile]string {
	m := make(map[wardwatch.UnitProfile]string)
	for _, p := range wardwatch.UnitProfiles() {
		m[p.Profile] = p.Label
	}
	return m
}

func (a *deviceAdmin) unitsView(ctx context.Context) (unitsView, error) {
	us, err := a.store.Units(ctx)
	if err != nil {
		return unitsView{}, fmt.Errorf("list units: %w", err)
	}
	zs, err := a.zones.Zones(ctx, 0)
	if err != nil {
		return unitsView{}, fmt.Errorf("list zones: %w", err)
	}
	names := make(map[int64]string, len(zs))
	for _, z := range zs {
		names[z.ID] = z.Name
	}
	return unitsView{Units: us, Zones: names, ZoneList: zs, Profiles: profileLabels()}, nil
}

func (a *deviceAdmin) handleUnits() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := a.unitsView(r.Context())
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		v.Edit.Profile = wardwatch.ProfileVaccineFridge
		a.renderUnits(w, r, http.StatusOK, v)
	})
}

func (a *deviceAdmin) renderUnits(w http.ResponseWriter, r *http.Request, status int, v unitsView) {
	p := newPageMeta(r, "Monitored units")
	p.Nav = "admin"
	render(w, r, a.logger, status, unitsPage(p, v))
}

// handleSaveUnit creates a unit (no id in the path) or updates one.
func (a *deviceAdmin) handleSaveUnit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		u := wardwatch.MonitoredUnit{Name: v["name"], Profile: wardwatch.UnitProfile(v["profile"]), ZoneID: formID(v, "zone")}
		var old *wardwatch.MonitoredUnit
		action := "create"
		if r.PathValue("id") != "" {
			action = "update"
			if u.ID, err = pathID(r); err == nil {
				old = a.findUnit(ctx, u.ID)
				err = a.store.UpdateUnit(ctx, u)
			}
		} else {
			err = a.store.CreateUnit(ctx, &u)
		}
		if err != nil {
			a.formError(w, r, err, func(msg string) {
				view, verr := a.unitsView(ctx)
				if verr != nil {
					renderError(w, r, a.logger, verr)
					return
				}
				view.Edit, view.Error = u, msg
				a.renderUnits(w, r, statusOf(err), view)
			})
			return
		}
		a.audit.record(ctx, action, "unit", u.ID, old, u, "")
		a.changed(ctx)
		http.Redirect(w, r, "/admin/units", http.StatusSeeOther)
	})
}

// formError shows a user error (4xx) on the form again via show, and
// anything else as an error page.
func (a *deviceAdmin) formError(w http.ResponseWriter, r *http.Request, err error, show func(msg string)) {
	if status := statusOf(err); status >= 400 && status < 500 && status != http.StatusNotFound {
		logError(a.logger, r, status, err)
		show(wardwatch.ErrorMessage(err))
		return
	}
	renderError(w, r, a.logger, err)
}

// handleDelete deletes the thing whose id is in the path: old reads it
// for the audit log (nil when it cannot), del deletes it; then the
// collectors are told and the browser goes back to list.
func (a *deviceAdmin) handleDelete(subject, list string, old func(ctx context.Context, id int64) any, del func(ctx context.Context, id int64) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := pathID(r)
		var before any
		if err == nil {
			before = old(ctx, id)
			err = del(ctx, id)
		}
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.audit.record(ctx, "delete", subject, id, before, nil, "")
		a.changed(ctx)
		http.Redirect(w, r, list, http.StatusSeeOther)
	})
}

func (a *deviceAdmin) handleDeleteUnit() http.Handler {
	return a.handleDelete("unit", "/admin/units",
		func(ctx context.Context, id int64) any { return a.findUnit(ctx, id) }, a.store.DeleteUnit)
}

func (a *deviceAdmin) handleDeleteModbus() http.Handler {
	return a.handleDelete("modbus_device", "/admin/modbus", func(ctx context.Context, id int64) any {
		if d, err := a.store.ModbusDevice(ctx, id); err == nil {
			return d
		}
		return nil
	}, a.store.DeleteModbusDevice)
}

func (a *deviceAdmin) handleDeleteSNMP() http.Handler {
	return a.handleDelete("snmp_target", "/admin/snmp", func(ctx context.Context, id int64) any {
		if t, err := a.store.SNMPTarget(ctx, id); err == nil {
			return auditSNMP(t)
		}
		return nil
	}, a.store.DeleteSNMPTarget)
}

// ---- Modbus devices ----

type modbusListView struct {
	Devices []wardwatch.ModbusDevice
	Status  map[int64]CollectorStatus
	Units   map[int64]string
	Now     time.Time
}

type modbusFormView struct {
	Device   wardwatch.ModbusDevice
	Units    []wardwatch.MonitoredUnit
	Profiles []ProfileInfo
	Error    string
	Test     *TestReport
}

func (a *deviceAdmin) handleModbusList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ds, err := a.store.ModbusDevices(ctx)
		if err != nil {
			renderError(w, r, a.logger, fmt.Errorf("list Modbus devices: %w", err))
			return
		}
		us, err := a.store.Units(ctx)
		if err != nil {
			renderError(w, r, a.logger, fmt.Errorf("list units: %w", err))
			return
		}
		v := modbusListView{Devices: ds, Units: map[int64]string{}, Now: a.now()}
		for _, u := range us {
			v.Units[u.ID] = u.Name
		}
		if a.c.ModbusStatus != nil {
			v.Status = a.c.ModbusStatus()
		}
		p := newPageMeta(r, "Modbus devices")
		p.Nav = "admin"
		render(w, r, a.logger, http.StatusOK, modbusListPage(p, v))
	})
}

func (a *deviceAdmin) modbusForm(ctx context.Context, d wardwatch.ModbusDevice) (modbusFormView, error) {
	us, err := a.store.Units(ctx)
	if err != nil {
		return modbusFormView{}, fmt.Errorf("list units: %w", err)
	}
	v := modbusFormView{Device: d, Units: us}
	if a.c.ModbusProfiles != nil {
		v.Profiles = a.c.ModbusProfiles()
	}
	return v, nil
}

func (a *deviceAdmin) renderModbusForm(w http.ResponseWriter, r *http.Request, status int, v modbusFormView) {
	title := "New Modbus device"
	if v.Device.ID != 0 {
		title = "Modbus device " + v.Device.Name
	}
	p := newPageMeta(r, title)
	p.Nav = "admin"
	render(w, r, a.logger, status, modbusFormPage(p, v))
}

// defaultModbusDevice is what the "new device" form starts with.
var defaultModbusDevice = wardwatch.ModbusDevice{Transport: "tcp", SlaveID: 1, Baud: 9600, DataBits: 8, Parity: "N", StopBits: 1,
	Interval: time.Minute, Timeout: 2 * time.Second, Enabled: true}

func (a *deviceAdmin) handleModbusForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		d := defaultModbusDevice
		if r.PathValue("id") != "" {
			id, err := pathID(r)
			if err == nil {
				d, err = a.store.ModbusDevice(ctx, id)
			}
			if err != nil {
				renderError(w, r, a.logger, err)
				return
			}
		}
		v, err := a.modbusForm(ctx, d)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.renderModbusForm(w, r, http.StatusOK, v)
	})
}

func modbusFromForm(v map[string]string) (wardwatch.ModbusDevice, error) {
	d := wardwatch.ModbusDevice{
		Name: v["name"], UnitID: formID(v, "unit"), Transport: v["transport"], Address: v["address"],
		Parity: v["parity"], Profile: v["profile"], Enabled: v["enabled"] == "on",
	}
	var err error
	if d.SlaveID, err = formInt(v, "slave_id", "The unit identifier", 1); err != nil {
		return d, err
	}
	if d.Baud, err = formInt(v, "baud", "Baud", 9600); err != nil {
		return d, err
	}
	if d.DataBits, err = formInt(v, "data_bits", "Data bits", 8); err != nil {
		return d, err
	}
	if d.StopBits, err = formInt(v, "stop_bits", "Stop bits", 1); err != nil {
		return d, err
	}
	if d.Interval, err = formDuration(v, "interval", "The poll interval", time.Minute); err != nil {
		return d, err
	}
	if d.Timeout, err = formDuration(v, "timeout", "The timeout", 2*time.Second); err != nil {
		return d, err
	}
	if s := strings.TrimSpace(v["calibration_due"]); s != "" {
		if d.CalibrationDue, err = time.Parse(time.DateOnly, s); err != nil {
			return d, wardwatch.Errorf(wardwatch.EINVALID, "Calibration due must be a date (YYYY-MM-DD).")
		}
	}
	return d, nil
}

// dateText is t as a form's date value; "" for zero.
func dateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// handleSaveModbus creates or updates a device; with action=test it only
// reads the device once with the submitted settings and shows the result.
func (a *deviceAdmin) handleSaveModbus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		d, err := modbusFromForm(v)
		if err == nil && r.PathValue("id") != "" {
			d.ID, err = pathID(r)
		}
		show := func(status int, msg string, test *TestReport) {
			view, verr := a.modbusForm(ctx, d)
			if verr != nil {
				renderError(w, r, a.logger, verr)
				return
			}
			view.Error, view.Test = msg, test
			a.renderModbusForm(w, r, status, view)
		}
		if err == nil && v["action"] == "test" {
			if a.c.TestModbus == nil {
				show(http.StatusServiceUnavailable, "Testing is not available.", nil)
				return
			}
			rep := a.c.TestModbus(ctx, d)
			show(http.StatusOK, "", &rep)
			return
		}
		var old any
		action := "create"
		if err == nil {
			if d.ID != 0 {
				action = "update"
				if prev, perr := a.store.ModbusDevice(ctx, d.ID); perr == nil {
					old = prev
				}
				err = a.store.UpdateModbusDevice(ctx, d)
			} else {
				err = a.store.CreateModbusDevice(ctx, &d)
			}
		}
		if err != nil {
			a.formError(w, r, err, func(msg string) { show(statusOf(err), msg, nil) })
			return
		}
		a.audit.record(ctx, action, "modbus_device", d.ID, old, d, "")
		a.changed(ctx)
		http.Redirect(w, r, "/admin/modbus", http.StatusSeeOther)
	})
}

// ---- SNMP targets ----

type snmpListView struct {
	Targets []wardwatch.SNMPTarget
	Status  map[int64]CollectorStatus
	Now     time.Time
}

type snmpFormView struct {
	Target   wardwatch.SNMPTarget // secrets blanked
	HasAuth  bool                 // a stored password exists (shown as "set")
	HasPriv  bool
	HasComm  bool
	Profiles []ProfileInfo
	Error    string
	Test     *TestReport
}

func (a *deviceAdmin) handleSNMPList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts, err := a.store.SNMPTargets(r.Context())
		if err != nil {
			renderError(w, r, a.logger, fmt.Errorf("list SNMP targets: %w", err))
			return
		}
		v := snmpListView{Targets: ts, Now: a.now()}
		if a.c.SNMPStatus != nil {
			v.Status = a.c.SNMPStatus()
		}
		p := newPageMeta(r, "SNMP targets")
		p.Nav = "admin"
		render(w, r, a.logger, http.StatusOK, snmpListPage(p, v))
	})
}

// blankSecrets removes every secret from t before it reaches a page.
func blankSecrets(t wardwatch.SNMPTarget) (wardwatch.SNMPTarget, bool, bool, bool) {
	hasComm, hasAuth, hasPriv := t.Community != "", t.AuthPassword != "", t.PrivPassword != ""
	t.Community, t.AuthPassword, t.PrivPassword = "", "", ""
	return t, hasComm, hasAuth, hasPriv
}

func (a *deviceAdmin) renderSNMPForm(w http.ResponseWriter, r *http.Request, status int, t wardwatch.SNMPTarget, msg string, test *TestReport) {
	v := snmpFormView{Error: msg, Test: test}
	v.Target, v.HasComm, v.HasAuth, v.HasPriv = blankSecrets(t)
	if a.c.SNMPProfiles != nil {
		v.Profiles = a.c.SNMPProfiles()
	}
	title := "New SNMP target"
	if t.ID != 0 {
		title = "SNMP target " + t.Name
	}
	p := newPageMeta(r, title)
	p.Nav = "admin"
	render(w, r, a.logger, status, snmpFormPage(p, v))
}

var defaultSNMPTarget = wardwatch.SNMPTarget{Version: "v3", AuthProtocol: "SHA256", PrivProtocol: "AES",
	Interval: time.Minute, Timeout: 2 * time.Second, Retries: 2, Enabled: true}

func (a *deviceAdmin) handleSNMPForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := defaultSNMPTarget
		if r.PathValue("id") != "" {
			id, err := pathID(r)
			if err == nil {
				t, err = a.store.SNMPTarget(r.Context(), id)
			}
			if err != nil {
				renderError(w, r, a.logger, err)
				return
			}
		}
		a.renderSNMPForm(w, r, http.StatusOK, t, "", nil)
	})
}

func snmpFromForm(v map[string]string) (wardwatch.SNMPTarget, error) {
	t := wardwatch.SNMPTarget{
		Name: v["name"], Address: v["address"], Version: v["version"], Community: v["community"], User: v["user"],
		AuthProtocol: v["auth_protocol"], AuthPassword: v["auth_password"], PrivProtocol: v["priv_protocol"],
		PrivPassword: v["priv_password"], Profile: v["profile"], Enabled: v["enabled"] == "on",
	}
	if (t.Version == "v1" || t.Version == "v2c") && v["insecure_ok"] != "on" {
		return t, wardwatch.Errorf(wardwatch.EINVALID, "SNMP %s sends the community in clear text: tick the box to confirm this target may use it.", t.Version)
	}
	var err error
	if t.Retries, err = formInt(v, "retries", "Retries", 2); err != nil {
		return t, err
	}
	if t.Interval, err = formDuration(v, "interval", "The poll interval", time.Minute); err != nil {
		return t, err
	}
	if t.Timeout, err = formDuration(v, "timeout", "The timeout", 2*time.Second); err != nil {
		return t, err
	}
	return t, nil
}

// handleSaveSNMP creates or updates a target; action=test reads it once.
// Blank secret fields keep the stored ones (the form never shows them).
func (a *deviceAdmin) handleSaveSNMP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		t, err := snmpFromForm(v)
		if err == nil && r.PathValue("id") != "" {
			t.ID, err = pathID(r)
		}
		if err == nil && v["action"] == "test" {
			probe := t
			if probe.ID != 0 { // fill blank secrets from the stored target
				stored, serr := a.store.SNMPTarget(ctx, probe.ID)
				if serr != nil {
					renderError(w, r, a.logger, serr)
					return
				}
				probe.Community = cmp.Or(probe.Community, stored.Community)
				probe.AuthPassword = cmp.Or(probe.AuthPassword, stored.AuthPassword)
				probe.PrivPassword = cmp.Or(probe.PrivPassword, stored.PrivPassword)
			}
			rep := TestReport{Error: "Testing is not available."}
			if a.c.TestSNMP != nil {
				rep = a.c.TestSNMP(ctx, probe)
			}
			a.renderSNMPForm(w, r, http.StatusOK, t, "", &rep)
			return
		}
		var old any
		action := "create"
		if err == nil {
			if t.ID != 0 {
				action = "update"
				if prev, perr := a.store.SNMPTarget(ctx, t.ID); perr == nil {
					old = auditSNMP(prev)
				}
				err = a.store.UpdateSNMPTarget(ctx, t)
			} else {
				err = a.store.CreateSNMPTarget(ctx, &t)
			}
		}
		if err != nil {
			a.formError(w, r, err, func(msg string) { a.renderSNMPForm(w, r, statusOf(err), t, msg, nil) })
			return
		}
		saved := auditSNMP(t)
		if stored, serr := a.store.SNMPTarget(ctx, t.ID); serr == nil {
			saved = auditSNMP(stored)
		}
		a.audit.record(ctx, action, "snmp_target", t.ID, old, saved, "")
		a.changed(ctx)
		http.Redirect(w, r, "/admin/snmp", http.StatusSeeOther)
	})
}

// ---- profiles ----

type profilesView struct {
	Modbus []ProfileInfo
	SNMP   []ProfileInfo
	Kind   string
	Source string
	Error  string
}

func (a *deviceAdmin) profilesView() profilesView {
	v := profilesView{Kind: "modbus"}
	if a.c.ModbusProfiles != nil {
		v.Modbus = a.c.ModbusProfiles()
	}
	if a.c.SNMPProfiles != nil {
		v.SNMP = a.c.SNMPProfiles()
	}
	return v
}

func (a *deviceAdmin) handleProfiles() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := newPageMeta(r, "Device profiles")
		p.Nav = "admin"
		render(w, r, a.logger, http.StatusOK, profilesPage(p, a.profilesView()))
	})
}

// handleSaveProfile validates and stores an admin-defined profile; its
// name comes from its source.
func (a *deviceAdmin) handleSaveProfile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r, "source")
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		kind, src := v["kind"], v["source"]
		var name string
		switch {
		case kind != "modbus" && kind != "snmp":
			err = wardwatch.Errorf(wardwatch.EINVALID, "Choose Modbus or SNMP.")
		case a.c.ValidateProfile == nil:
			err = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "Profiles cannot be checked now.")
		default:
			name, err = a.c.ValidateProfile(kind, []byte(src))
		}
		if err == nil {
			err = a.store.SaveDeviceProfile(ctx, wardwatch.DeviceProfile{Kind: kind, Name: name, Source: []byte(src)})
		}
		if err != nil {
			a.formError(w, r, err, func(msg string) {
				view := a.profilesView()
				view.Kind, view.Source, view.Error = kind, src, msg
				p := newPageMeta(r, "Device profiles")
				p.Nav = "admin"
				render(w, r, a.logger, statusOf(err), profilesPage(p, view))
			})
			return
		}
		a.audit.record(ctx, "save", "profile", kind+"/"+name, nil, src, "")
		a.changed(ctx)
		http.Redirect(w, r, "/admin/profiles", http.StatusSeeOther)
	})
}

func (a *deviceAdmin) handleDeleteProfile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := formValues(w, r)
		if err == nil {
			err = a.store.DeleteDeviceProfile(r.Context(), v["kind"], v["name"])
		}
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.audit.record(r.Context(), "delete", "profile", v["kind"]+"/"+v["name"], nil, nil, "")
		a.changed(r.Context())
		http.Redirect(w, r, "/admin/profiles", http.StatusSeeOther)
	})
}

// statusText is a collector status as the lists show it.
func collectorStatusText(s CollectorStatus, ok bool, enabled bool, now time.Time) (class, text string) {
	switch {
	case !enabled:
		return "never", "Disabled"
	case !ok || (s.LastOK.IsZero() && s.LastError == ""):
		return "never", "Not polled yet"
	case s.Online:
		return "online", "Online"
	default:
		return "offline", "Offline"
	}
}
