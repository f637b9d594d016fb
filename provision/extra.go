package provision

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// RFIDReader is a fixed UHF reader with its antennas; its key is its key.
// Token, the reader's push token, is a Secret reference: it is set when it
// does not match the stored one, and never exported.
type RFIDReader struct {
	Key      string        `yaml:"key"`
	Name     string        `yaml:"name,omitempty"`
	Format   string        `yaml:"format,omitempty"` // "": detect
	Token    *Secret       `yaml:"token,omitempty"`
	Antennas []RFIDAntenna `yaml:"antennas"`
	Portal   *RFIDPortal   `yaml:"portal,omitempty"`
}

// RFIDAntenna is one antenna port of a reader and the zone it watches.
type RFIDAntenna struct {
	Port int     `yaml:"port"`
	Zone ZoneRef `yaml:"zone"`
}

// RFIDPortal says which antennas of a door reader face in and out.
type RFIDPortal struct {
	Inside      []int   `yaml:"inside,flow"`
	Outside     []int   `yaml:"outside,flow"`
	InsideZone  ZoneRef `yaml:"inside_zone"`
	OutsideZone ZoneRef `yaml:"outside_zone"`
}

// PollTarget is a gateway or reader WardWatch polls over HTTP; its name is
// its key. Authorization (the Authorization header's value) is a Secret
// reference.
type PollTarget struct {
	Name          string  `yaml:"name"`
	URL           string  `yaml:"url"`
	Source        string  `yaml:"source"` // ble or rfid
	Key           string  `yaml:"key"`    // the gateway's or reader's key
	Format        string  `yaml:"format,omitempty"`
	Interval      string  `yaml:"interval"`
	Timeout       string  `yaml:"timeout"`
	Authorization *Secret `yaml:"authorization,omitempty"`
	Enabled       *bool   `yaml:"enabled,omitempty"` // nil: true
}

// DeviceProfile is an admin-defined Modbus register map or SNMP pump
// profile; kind and name are its key. Its YAML is embedded (Source) or
// read from File, a path relative to the site file.
type DeviceProfile struct {
	Kind   string `yaml:"kind"` // modbus or snmp
	Name   string `yaml:"name"`
	Source string `yaml:"source,omitempty"`
	File   string `yaml:"file,omitempty"`
}

// Window is a maintenance window of a unit; unit, kind and start are its
// key.
type Window struct {
	Unit   string `yaml:"unit"`
	Kind   string `yaml:"kind"` // defrost, maintenance or out_of_service
	Start  string `yaml:"start"`
	End    string `yaml:"end"`
	By     string `yaml:"by,omitempty"` // "": provision
	Reason string `yaml:"reason,omitempty"`
}

func (w Window) key() string { return w.Unit + "\x00" + w.Kind + "\x00" + w.Start }

func (w Window) label() string { return fmt.Sprintf("%s %s from %s", w.Unit, w.Kind, w.Start) }

var (
	rfidFormats = []string{"", "wardwatch", "zebra", "impinj"}
	windowKinds = []string{string(alerts.SuppressDefrost), string(alerts.SuppressMaintenance), string(alerts.SuppressOutOfService)}
)

// maxProfileBytes is the largest profile source the store keeps.
const maxProfileBytes = 256 << 10

// minTokenLength is the shortest push token a site file may set.
const minTokenLength = 16

// parseMicro reads a window time, kept to the microsecond as stored.
func parseMicro(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("a time is required")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date like 2026-05-01 or a time like 2026-05-01T08:00:00Z", s)
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// validateExtra checks and normalises the RFID readers, poll targets,
// device profiles and maintenance windows.
func (s *Site) validateExtra(p *problems) {
	readers := make(map[string]int)
	for i := range s.RFIDReaders {
		r := &s.RFIDReaders[i]
		switch {
		case !name(r.Key, 64) || strings.ContainsAny(r.Key, "#/ "):
			p.add("rfid_readers", i, "a reader needs a key of 1 to 64 characters without spaces, '/' or '#'")
		case len(r.Name) > 200:
			p.add("rfid_readers", i, "reader %q: the name is too long", r.Key)
		case !slices.Contains(rfidFormats, r.Format):
			p.add("rfid_readers", i, "reader %q: format %q: want wardwatch, zebra, impinj or none (detect)", r.Key, r.Format)
		case len(r.Antennas) == 0 || len(r.Antennas) > 64:
			p.add("rfid_readers", i, "reader %q needs 1 to 64 antennas, each watching a zone", r.Key)
		}
		ports := make(map[int]bool)
		for _, a := range r.Antennas {
			if a.Port < 1 || a.Port > 64 || ports[a.Port] {
				p.add("rfid_readers", i, "reader %q: antenna ports must be distinct, 1 to 64", r.Key)
			}
			ports[a.Port] = true
			p.zoneRef("rfid_readers", i, &a.Zone)
		}
		slices.SortFunc(r.Antennas, func(a, b RFIDAntenna) int { return a.Port - b.Port })
		if pt := r.Portal; pt != nil {
			p.zoneRef("rfid_readers", i, &pt.InsideZone)
			p.zoneRef("rfid_readers", i, &pt.OutsideZone)
			if len(pt.Inside) == 0 || len(pt.Outside) == 0 || pt.InsideZone == pt.OutsideZone {
				p.add("rfid_readers", i, "reader %q: a door reader needs inside and outside antennas and two different zones", r.Key)
			}
			for _, port := range slices.Concat(pt.Inside, pt.Outside) {
				if !ports[port] {
					p.add("rfid_readers", i, "reader %q: door antenna %d is not one of the reader's antennas", r.Key, port)
				}
			}
		}
		p.unique(readers, "rfid_readers", i, r.Key, fmt.Sprintf("reader %q", r.Key))
	}

	polls := make(map[string]int)
	for i := range s.PollTargets {
		t := &s.PollTargets[i]
		u, err := url.Parse(t.URL)
		switch {
		case !name(t.Name, 100):
			p.add("poll_targets", i, "a poll target needs a name of 1 to 100 characters")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(t.URL) > 2000:
			p.add("poll_targets", i, "poll target %q: the URL must be an http or https address", t.Name)
		case u.User != nil:
			p.add("poll_targets", i, "poll target %q: put credentials in authorization (a secret reference), not in the URL", t.Name)
		case t.Source != "ble" && t.Source != "rfid":
			p.add("poll_targets", i, "poll target %q: source %q: want ble or rfid", t.Name, t.Source)
		case !name(t.Key, 100):
			p.add("poll_targets", i, "poll target %q: key names the gateway or reader the data belongs to", t.Name)
		case len(t.Format) > 40:
			p.add("poll_targets", i, "poll target %q: the format is too long", t.Name)
		}
		iv := p.duration("poll_targets", i, "interval", &t.Interval, time.Second, 24*time.Hour)
		to := p.duration("poll_targets", i, "timeout", &t.Timeout, 100*time.Millisecond, time.Minute)
		if iv > 0 && to > iv {
			p.add("poll_targets", i, "poll target %q: the timeout is longer than the interval", t.Name)
		}
		if t.Enabled == nil {
			t.Enabled = boolPtr(true)
		}
		p.unique(polls, "poll_targets", i, t.Name, fmt.Sprintf("poll target %q", t.Name))
	}

	profiles := make(map[string]int)
	for i := range s.DeviceProfiles {
		d := &s.DeviceProfiles[i]
		switch {
		case d.Kind != "modbus" && d.Kind != "snmp":
			p.add("device_profiles", i, "profile kind %q: want modbus or snmp", d.Kind)
		case !name(d.Name, 100):
			p.add("device_profiles", i, "a profile needs a name of 1 to 100 characters")
		case (d.Source == "") == (d.File == ""):
			p.add("device_profiles", i, "profile %q: give exactly one of source (the YAML) or file (a path relative to the site file)", d.Name)
		case len(d.Source) > maxProfileBytes:
			p.add("device_profiles", i, "profile %q: the source is larger than %d KiB", d.Name, maxProfileBytes>>10)
		case len(d.File) > 1000:
			p.add("device_profiles", i, "profile %q: the file path is too long", d.Name)
		}
		p.unique(profiles, "device_profiles", i, d.Kind+"\x00"+d.Name, fmt.Sprintf("%s profile %q", d.Kind, d.Name))
	}

	windows := make(map[string]int)
	for i := range s.MaintenanceWindows {
		w := &s.MaintenanceWindows[i]
		if w.By == "" {
			w.By = AuditUser
		}
		switch {
		case !name(w.Unit, 200):
			p.add("maintenance_windows", i, "a window needs its unit")
		case !slices.Contains(windowKinds, w.Kind):
			p.add("maintenance_windows", i, "window of %q: kind %q: want %s", w.Unit, w.Kind, strings.Join(windowKinds, ", "))
		case !name(w.By, 200) || !utf8.ValidString(w.By):
			p.add("maintenance_windows", i, "window of %q: by is a user name of at most 200 characters", w.Unit)
		case len(w.Reason) > 4000 || !utf8.ValidString(w.Reason) || strings.Contains(w.Reason, "\x00"):
			p.add("maintenance_windows", i, "window of %q: the reason is at most 4000 characters of text", w.Unit)
		}
		start, err1 := parseMicro(w.Start)
		end, err2 := parseMicro(w.End)
		switch {
		case err1 != nil:
			p.add("maintenance_windows", i, "start: %v", err1)
		case err2 != nil:
			p.add("maintenance_windows", i, "end: %v", err2)
		case !end.After(start):
			p.add("maintenance_windows", i, "window of %q must end after it starts", w.Unit)
		default:
			w.Start, w.End = fmtTime(start), fmtTime(end)
		}
		p.unique(windows, "maintenance_windows", i, w.key(), fmt.Sprintf("window %s", w.label()))
	}
}

// loadExtra reads the RFID readers, poll targets, device profiles and
// maintenance windows into s. zoneRef and unitName name stored IDs.
func (s *state) loadExtra(ctx context.Context, st Store, zoneRef map[int64]ZoneRef, unitName map[int64]string) error {
	readers, err := st.RFIDReaders(ctx)
	if err != nil {
		return fmt.Errorf("load RFID readers: %w", err)
	}
	for _, r := range readers {
		s.readers[r.Key] = r
		item := RFIDReader{Key: r.Key, Name: r.Name, Format: r.Format}
		for _, a := range r.Antennas {
			item.Antennas = append(item.Antennas, RFIDAntenna{Port: a.Port, Zone: zoneRef[a.ZoneID]})
		}
		if pt := r.Portal; pt != nil {
			item.Portal = &RFIDPortal{Inside: slices.Clone(pt.Inside), Outside: slices.Clone(pt.Outside),
				InsideZone: zoneRef[pt.InsideZoneID], OutsideZone: zoneRef[pt.OutsideZoneID]}
		}
		s.site.RFIDReaders = append(s.site.RFIDReaders, item)
	}

	polls, err := st.PollTargets(ctx)
	if err != nil {
		return fmt.Errorf("load poll targets: %w", err)
	}
	for _, t := range polls {
		s.pollID[t.Name] = t.ID
		s.site.PollTargets = append(s.site.PollTargets, PollTarget{Name: t.Name, URL: t.URL, Source: t.Source, Key: t.Key,
			Format: t.Format, Interval: fmtDuration(t.Interval), Timeout: fmtDuration(t.Timeout),
			Authorization: storedSecret("POLL", t.Name, "AUTHORIZATION", t.AuthHeader), Enabled: boolPtr(t.Enabled)})
	}

	for _, kind := range []string{"modbus", "snmp"} {
		ps, err := st.DeviceProfiles(ctx, kind)
		if err != nil {
			return fmt.Errorf("load %s profiles: %w", kind, err)
		}
		for _, d := range ps {
			s.site.DeviceProfiles = append(s.site.DeviceProfiles, DeviceProfile{Kind: d.Kind, Name: d.Name, Source: string(d.Source)})
		}
	}

	windows, err := st.AlertWindows(ctx)
	if err != nil {
		return fmt.Errorf("load maintenance windows: %w", err)
	}
	for _, w := range windows {
		item := Window{Unit: unitName[w.UnitID], Kind: string(w.Kind), Start: fmtTime(w.Start), End: fmtTime(w.End), By: w.By, Reason: w.Reason}
		if _, ok := s.windowID[item.key()]; ok {
			return conflict("unit %q has two %s windows starting at %s: delete one before provisioning", item.Unit, item.Kind, item.Start)
		}
		s.windowID[item.key()] = w.ID
		s.site.MaintenanceWindows = append(s.site.MaintenanceWindows, item)
	}
	return s.loadSchedules(ctx, st, unitName)
}

func (p *planner) rfidReaders() {
	cur := make(map[string]RFIDReader)
	for _, r := range p.cur.site.RFIDReaders {
		cur[r.Key] = r
	}
	want := make(map[string]bool)
	for i, r := range p.want.RFIDReaders {
		want[r.Key] = true
		where := p.want.where("rfid_readers", i)
		for _, a := range r.Antennas {
			p.checkZone("rfid_readers", i, &a.Zone)
		}
		if pt := r.Portal; pt != nil {
			p.checkZone("rfid_readers", i, &pt.InsideZone)
			p.checkZone("rfid_readers", i, &pt.OutsideZone)
		}
		p.resolve("rfid_readers", i, "token", r.Token)
		stored, exists := p.cur.readers[r.Key]
		var hash []byte
		if r.Token != nil && r.Token.resolved {
			if p.opts.Passwords == nil {
				p.errs.add("rfid_readers", i, "reader %q: push tokens cannot be hashed here", r.Key)
				continue
			}
			if len(r.Token.value) < minTokenLength {
				p.errs.add("rfid_readers", i, "reader %q: a push token is at least %d characters", r.Key, minTokenLength)
				continue
			}
			if h := p.opts.Passwords.HashToken(r.Token.value); !bytes.Equal(h, stored.TokenHash) {
				hash = h
			}
		}
		dom := func() wardwatch.RFIDReader {
			x := wardwatch.RFIDReader{ID: p.cur.readers[r.Key].ID, Key: r.Key, Name: r.Name, Format: r.Format}
			for _, a := range r.Antennas {
				x.Antennas = append(x.Antennas, wardwatch.RFIDAntenna{Port: a.Port, ZoneID: p.cur.zone(&a.Zone)})
			}
			if pt := r.Portal; pt != nil {
				x.Portal = &wardwatch.RFIDPortal{Inside: pt.Inside, Outside: pt.Outside,
					InsideZoneID: p.cur.zone(&pt.InsideZone), OutsideZoneID: p.cur.zone(&pt.OutsideZone)}
			}
			return x
		}
		save := func(ctx context.Context) (string, error) {
			x := dom()
			if err := p.st.SaveRFIDReader(ctx, &x); err != nil {
				return id(x.ID), err
			}
			p.cur.readers[r.Key] = x
			if hash != nil {
				return id(x.ID), p.st.SetRFIDReaderToken(ctx, x.ID, hash)
			}
			return id(x.ID), nil
		}
		shown := r
		if !exists {
			p.upsert(Change{Action: "create", Subject: "rfid_reader", Key: r.Key, Where: where, new: shown, run: save})
			continue
		}
		old := cur[r.Key]
		a, b := old, r
		a.Token, b.Token = nil, nil
		var changed []string
		if d := diffFields(a, b); d != "" {
			changed = append(changed, d)
		}
		if hash != nil {
			changed = append(changed, "token")
		}
		if len(changed) > 0 {
			p.upsert(Change{Action: "update", Subject: "rfid_reader", Key: r.Key, Detail: strings.Join(changed, ", "), Where: where,
				old: a, new: shown, run: save})
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, r := range p.cur.site.RFIDReaders {
			if !want[r.Key] {
				rid := p.cur.readers[r.Key].ID
				dels = append(dels, Change{Action: "delete", Subject: "rfid_reader", Key: r.Key, old: r,
					run: func(ctx context.Context) (string, error) { return id(rid), p.st.DeleteRFIDReader(ctx, rid) }})
			}
		}
	}
	p.delete(dels)
}

func (p *planner) pollTargets() {
	cur := make(map[string]PollTarget)
	for _, t := range p.cur.site.PollTargets {
		cur[t.Name] = t
	}
	want := make(map[string]bool)
	for i, t := range p.want.PollTargets {
		want[t.Name] = true
		where := p.want.where("poll_targets", i)
		p.resolve("poll_targets", i, "authorization", t.Authorization)
		if v := secretValue(t.Authorization); len(v) > 1000 || strings.ContainsAny(v, "\r\n") {
			p.errs.add("poll_targets", i, "poll target %q: the Authorization header is malformed", t.Name)
		}
		save := func(ctx context.Context) (string, error) {
			iv, err1 := parseDuration(t.Interval)
			to, err2 := parseDuration(t.Timeout)
			if err := firstErr(err1, err2); err != nil {
				return "", err
			}
			x := wardwatch.PollTarget{ID: p.cur.pollID[t.Name], Name: t.Name, URL: t.URL, Source: t.Source, Key: t.Key, Format: t.Format,
				Interval: iv, Timeout: to, AuthHeader: secretValue(t.Authorization), Enabled: enabled(t.Enabled)}
			err := p.st.SavePollTarget(ctx, &x, false) // an empty header keeps the stored one
			if err == nil {
				p.cur.pollID[t.Name] = x.ID
			}
			return id(x.ID), err
		}
		old, exists := cur[t.Name]
		if !exists {
			p.upsert(Change{Action: "create", Subject: "poll_target", Key: t.Name, Where: where, new: t, run: save})
			continue
		}
		a, b := old, t
		a.Authorization, b.Authorization = nil, nil
		var changed []string
		if d := diffFields(a, b); d != "" {
			changed = append(changed, d)
		}
		if t.Authorization != nil && secretValue(t.Authorization) != secretValue(old.Authorization) {
			changed = append(changed, "authorization")
		}
		if len(changed) > 0 {
			p.upsert(Change{Action: "update", Subject: "poll_target", Key: t.Name, Detail: strings.Join(changed, ", "), Where: where,
				old: a, new: t, run: save})
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, t := range p.cur.site.PollTargets {
			if !want[t.Name] {
				tid := p.cur.pollID[t.Name]
				t.Authorization = nil
				dels = append(dels, Change{Action: "delete", Subject: "poll_target", Key: t.Name, old: t,
					run: func(ctx context.Context) (string, error) { return id(tid), p.st.DeletePollTarget(ctx, tid) }})
			}
		}
	}
	p.delete(dels)
}

func (p *planner) deviceProfiles() {
	key := func(d DeviceProfile) string { return d.Kind + "\x00" + d.Name }
	cur := make(map[string]DeviceProfile)
	for _, d := range p.cur.site.DeviceProfiles {
		cur[key(d)] = d
	}
	want := make(map[string]bool)
	for i, d := range p.want.DeviceProfiles {
		want[key(d)] = true
		where := p.want.where("device_profiles", i)
		label := d.Kind + " / " + d.Name
		src := d.Source
		if d.File != "" {
			if p.opts.ReadFile == nil {
				p.errs.add("device_profiles", i, "profile %q: files cannot be read here", d.Name)
				continue
			}
			path := d.File
			if !filepath.IsAbs(path) {
				path = filepath.Join(p.opts.Dir, path)
			}
			b, err := p.opts.ReadFile(path)
			switch {
			case err != nil:
				p.errs.add("device_profiles", i, "profile %q: cannot read %s", d.Name, d.File)
				continue
			case len(b) == 0 || len(b) > maxProfileBytes:
				p.errs.add("device_profiles", i, "profile %q: %s must hold 1 byte to %d KiB", d.Name, d.File, maxProfileBytes>>10)
				continue
			}
			src = string(b)
		}
		if p.opts.ValidateProfile == nil {
			p.errs.add("device_profiles", i, "profile %q: profiles cannot be checked here", d.Name)
			continue
		}
		got, err := p.opts.ValidateProfile(d.Kind, []byte(src))
		switch {
		case err != nil:
			p.errs.add("device_profiles", i, "profile %q: %s", d.Name, wardwatch.ErrorMessage(err))
			continue
		case got != d.Name:
			p.errs.add("device_profiles", i, "profile %q: its YAML names it %q", d.Name, got)
			continue
		}
		item := DeviceProfile{Kind: d.Kind, Name: d.Name, Source: src}
		save := func(ctx context.Context) (string, error) {
			return label, p.st.SaveDeviceProfile(ctx, wardwatch.DeviceProfile{Kind: d.Kind, Name: d.Name, Source: []byte(src)})
		}
		old, ok := cur[key(d)]
		switch {
		case !ok:
			p.upsert(Change{Action: "create", Subject: "device_profile", Key: label, Where: where, new: item, run: save})
		case old.Source != src:
			p.upsert(Change{Action: "update", Subject: "device_profile", Key: label, Detail: "source", Where: where, old: old, new: item, run: save})
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, d := range p.cur.site.DeviceProfiles {
			if !want[key(d)] {
				dels = append(dels, Change{Action: "delete", Subject: "device_profile", Key: d.Kind + " / " + d.Name, old: d,
					run: func(ctx context.Context) (string, error) {
						return d.Kind + " / " + d.Name, p.st.DeleteDeviceProfile(ctx, d.Kind, d.Name)
					}})
			}
		}
	}
	p.delete(dels)
}

func (p *planner) windows() {
	cur := make(map[string]Window)
	for _, w := range p.cur.site.MaintenanceWindows {
		cur[w.key()] = w
	}
	now := time.Now
	if p.opts.Now != nil {
		now = p.opts.Now
	}
	want := make(map[string]bool)
	for i, w := range p.want.MaintenanceWindows {
		k := w.key()
		want[k] = true
		where := p.want.where("maintenance_windows", i)
		p.checkUnit("maintenance_windows", i, w.Unit)
		start, err1 := parseMicro(w.Start)
		end, err2 := parseMicro(w.End)
		if err := firstErr(err1, err2); err != nil {
			p.errs.add("maintenance_windows", i, "%v", err)
			continue
		}
		old, ok := cur[k]
		if !ok && !end.After(now()) {
			p.notes = append(p.notes, fmt.Sprintf("%s: window %s ended at %s: not created", where, w.label(), w.End))
			continue
		}
		save := func(ctx context.Context) (string, error) {
			wid, err := p.st.SaveAlertWindow(ctx, alerts.Window{ID: p.cur.windowID[k], UnitID: p.cur.unit(w.Unit),
				Kind: alerts.SuppressionKind(w.Kind), Start: start, End: end, By: w.By, Reason: w.Reason})
			if err == nil {
				p.cur.windowID[k] = wid
			}
			return id(wid), err
		}
		switch {
		case !ok:
			p.upsert(Change{Action: "create", Subject: "maintenance_window", Key: w.label(), Where: where, new: w, run: save})
		case !reflect.DeepEqual(old, w):
			p.upsert(Change{Action: "update", Subject: "maintenance_window", Key: w.label(), Detail: diffFields(old, w), Where: where,
				old: old, new: w, run: save})
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, w := range p.cur.site.MaintenanceWindows {
			if !want[w.key()] {
				wid := p.cur.windowID[w.key()]
				dels = append(dels, Change{Action: "delete", Subject: "maintenance_window", Key: w.label(), old: w,
					run: func(ctx context.Context) (string, error) { return id(wid), p.st.DeleteAlertWindow(ctx, wid) }})
			}
		}
	}
	p.delete(dels)
}
