package fhir

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// The mapping from WardWatch's domain to FHIR R4 follows
// domain-requirements §6 ("Interoperability"): Device for assets, pumps,
// monitored units and sensors, Location for the site hierarchy with
// physicalType, DeviceMetric for each sensor channel with its calibration,
// Observation for readings in UCUM, Flag for quarantine.

// fhirTime formats t as a FHIR dateTime/instant in UTC with millisecond
// precision.
func fhirTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// site holds the floors and zones, indexed.
type site struct {
	siteName, buildingName string
	floors                 []wardwatch.Floor
	zones                  []wardwatch.Zone
	floorByID              map[int64]wardwatch.Floor
	zoneByID               map[int64]wardwatch.Zone
}

func newSite(siteName, buildingName string, floors []wardwatch.Floor, zones []wardwatch.Zone) *site {
	s := &site{siteName: siteName, buildingName: buildingName,
		floors: slices.Clone(floors), zones: slices.Clone(zones),
		floorByID: make(map[int64]wardwatch.Floor, len(floors)),
		zoneByID:  make(map[int64]wardwatch.Zone, len(zones))}
	slices.SortFunc(s.floors, func(a, b wardwatch.Floor) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(s.zones, func(a, b wardwatch.Zone) int { return cmp.Compare(a.ID, b.ID) })
	for _, f := range s.floors {
		s.floorByID[f.ID] = f
	}
	for _, z := range s.zones {
		s.zoneByID[z.ID] = z
	}
	return s
}

// zoneRef is a reference to zone id, or nil when there is no such zone.
func (s *site) zoneRef(id int64) *Reference {
	z, ok := s.zoneByID[id]
	if !ok {
		return nil
	}
	return &Reference{Reference: "Location/" + zoneRID(id), Display: z.Name}
}

// buildingID is the Location id of the building a floor names: "building"
// for the site's only (unnamed) building, otherwise "building-" with a
// URL-safe form of the name and a short hash that keeps two names that
// read alike apart.
func buildingID(name string) string {
	if name == "" {
		return buildingRID
	}
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if b.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	if slug := strings.Trim(b.String(), "-"); slug != "" {
		return fmt.Sprintf("%s-%s-%08x", buildingRID, slug, h.Sum32())
	}
	return fmt.Sprintf("%s-%08x", buildingRID, h.Sum32())
}

// buildingRef is the reference to a floor's building.
func (s *site) buildingRef(name string) *Reference {
	display := name
	if name == "" {
		display = s.buildingName
	}
	return &Reference{Reference: "Location/" + buildingID(name), Display: display}
}

// locations maps the site hierarchy: site › buildings › floors › zones.
// Floors name their building; the unnamed one is Options.BuildingName.
func (s *site) locations() []Location {
	out := make([]Location, 0, 2+len(s.floors)+len(s.zones))
	out = append(out, Location{ResourceType: "Location", ID: siteRID, Status: "active",
		Name: s.siteName, Mode: "instance", PhysicalType: physicalType("si")})
	buildings := map[string]bool{}
	for _, f := range s.floors {
		buildings[f.Building] = true
	}
	if len(s.floors) == 0 {
		buildings[""] = true
	}
	names := slices.Sorted(maps.Keys(buildings))
	for _, name := range names {
		ref := s.buildingRef(name)
		out = append(out, Location{ResourceType: "Location", ID: buildingID(name), Status: "active",
			Name: ref.Display, Mode: "instance", PhysicalType: physicalType("bu"),
			PartOf: &Reference{Reference: "Location/" + siteRID, Display: s.siteName}})
	}
	for _, f := range s.floors {
		out = append(out, Location{ResourceType: "Location", ID: floorRID(f.ID), Status: "active",
			Name: f.Name, Mode: "instance", PhysicalType: physicalType("lvl"), PartOf: s.buildingRef(f.Building)})
	}
	for _, z := range s.zones {
		l := Location{ResourceType: "Location", ID: zoneRID(z.ID), Status: "active",
			Name: z.Name, Mode: "instance", PhysicalType: physicalType(zonePhysicalType(z.Kind))}
		if z.Kind != "" {
			l.Type = []CodeableConcept{{Coding: []Coding{{System: SystemZoneKind, Code: string(z.Kind),
				Display: zoneKindLabel(z.Kind)}}, Text: zoneKindLabel(z.Kind)}}
		}
		if f, ok := s.floorByID[z.FloorID]; ok {
			l.PartOf = &Reference{Reference: "Location/" + floorRID(f.ID), Display: f.Name}
		} else {
			l.PartOf = s.buildingRef("")
		}
		out = append(out, l)
	}
	return out
}

// deviceKind is a Device.type from WardWatch's device-kind code system.
func deviceKind(code, label string) *CodeableConcept {
	return &CodeableConcept{Coding: []Coding{{System: SystemDeviceKind, Code: code, Display: label}}, Text: label}
}

// positionRef is Device.location for an asset's latest position: its zone
// (or floor when in no zone). A stale position says when it was last seen
// in the display; a missing tag has no location.
func (s *site) positionRef(p wardwatch.Position) *Reference {
	if p.State == wardwatch.StateMissing {
		return nil
	}
	ref := s.zoneRef(p.ZoneID)
	if ref == nil {
		f, ok := s.floorByID[p.FloorID]
		if !ok {
			return nil
		}
		ref = &Reference{Reference: "Location/" + floorRID(f.ID), Display: f.Name}
	}
	if p.State == wardwatch.StateStale {
		ref.Display += " (last seen " + fhirTime(p.Time) + ")"
	}
	return ref
}

// pumpVersions are a pump's firmware and drug-library versions.
func pumpVersions(p wardwatch.PumpState) []DeviceVersion {
	var out []DeviceVersion
	if p.Firmware != "" {
		out = append(out, DeviceVersion{Type: &CodeableConcept{Coding: []Coding{{System: SystemDeviceVersionType,
			Code: "firmware", Display: "Firmware"}}}, Value: p.Firmware})
	}
	lib := strings.TrimSpace(strings.TrimSpace(p.DrugLibrary) + " " + strings.TrimSpace(p.DrugLibraryVersion))
	if lib != "" {
		out = append(out, DeviceVersion{Type: &CodeableConcept{Coding: []Coding{{System: SystemDeviceVersionType,
			Code: "drug-library", Display: "Drug library"}}}, Value: lib})
	}
	return out
}

func serialIdentifier(serial string) Identifier {
	return Identifier{Type: &CodeableConcept{Coding: []Coding{{System: SystemIdentifierType, Code: "SNO",
		Display: "Serial Number"}}}, Value: serial}
}

// inventory is everything a Device, DeviceMetric, Observation or Flag is
// built from.
type inventory struct {
	site         *site
	assets       []wardwatch.Asset
	positions    map[int64]wardwatch.Position // by asset ID
	pumps        []wardwatch.PumpState
	units        []wardwatch.MonitoredUnit
	unitByID     map[int64]wardwatch.MonitoredUnit
	modbus       []ModbusDevice
	channels     []channelInfo
	channelBySID map[string]*channelInfo // by sensor ID "<device>/<channel>"
	assetTagSys  string
	now          time.Time
}

// channelInfo is one Modbus channel with what it belongs to.
type channelInfo struct {
	dev  ModbusDevice
	ch   Channel
	unit *wardwatch.MonitoredUnit
	key  string
	id   string
}

func (c *channelInfo) sensorID() string { return c.dev.Name + "/" + c.ch.Name }

func newInventory(s *site, assets []wardwatch.Asset, positions []wardwatch.Position,
	pumps []wardwatch.PumpState, units []wardwatch.MonitoredUnit, modbus []ModbusDevice,
	assetTagSys string, now time.Time) *inventory {
	inv := &inventory{site: s, assets: slices.Clone(assets), pumps: slices.Clone(pumps),
		units: slices.Clone(units), modbus: slices.Clone(modbus), assetTagSys: assetTagSys, now: now,
		positions: make(map[int64]wardwatch.Position), unitByID: make(map[int64]wardwatch.MonitoredUnit),
		channelBySID: make(map[string]*channelInfo)}
	slices.SortFunc(inv.assets, func(a, b wardwatch.Asset) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(inv.pumps, func(a, b wardwatch.PumpState) int { return strings.Compare(a.Serial, b.Serial) })
	slices.SortFunc(inv.units, func(a, b wardwatch.MonitoredUnit) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(inv.modbus, func(a, b ModbusDevice) int { return cmp.Compare(a.ID, b.ID) })
	for _, p := range positions {
		if q, ok := inv.positions[p.AssetID]; !ok || p.Time.After(q.Time) {
			inv.positions[p.AssetID] = p
		}
	}
	for _, u := range inv.units {
		inv.unitByID[u.ID] = u
	}
	for _, d := range inv.modbus {
		var unit *wardwatch.MonitoredUnit
		if u, ok := inv.unitByID[d.UnitID]; ok {
			unit = &u
		}
		for _, ch := range d.Channels {
			key := channelKey(d.ID, ch.Name)
			inv.channels = append(inv.channels, channelInfo{dev: d, ch: ch, unit: unit, key: key, id: "channel-" + key})
		}
	}
	for i := range inv.channels {
		inv.channelBySID[inv.channels[i].sensorID()] = &inv.channels[i]
	}
	return inv
}

// unitLocation is where a unit is: its zone.
func (inv *inventory) unitLocation(u *wardwatch.MonitoredUnit) *Reference {
	if u == nil {
		return nil
	}
	return inv.site.zoneRef(u.ZoneID)
}

// devices maps every device WardWatch knows: assets (with their pump's
// model and versions when a pump reports the asset's serial), pumps that
// match no asset, monitored units, Modbus devices and their channels.
func (inv *inventory) devices() []Device {
	var out []Device
	pumpBySerial := make(map[string]wardwatch.PumpState, len(inv.pumps))
	for _, p := range inv.pumps {
		if p.Serial != "" {
			pumpBySerial[p.Serial] = p
		}
	}
	matched := make(map[string]bool)
	for _, a := range inv.assets {
		d := Device{ResourceType: "Device", ID: assetRID(a.ID), Status: "active",
			Type: deviceKind(string(a.Kind), a.Kind.Label())}
		if a.AssetTag != "" {
			d.Identifier = append(d.Identifier, Identifier{Use: "official", System: inv.assetTagSys, Value: a.AssetTag})
		}
		if a.Serial != "" {
			d.Identifier = append(d.Identifier, serialIdentifier(a.Serial))
			d.SerialNumber = a.Serial
		}
		if a.Name != "" {
			d.DeviceName = []DeviceName{{Name: a.Name, Type: "user-friendly-name"}}
		}
		status := a.Status
		if status == "" {
			status = wardwatch.StatusAvailable
		}
		if status == wardwatch.StatusInRepair {
			d.Status = "inactive"
		}
		d.Note = []Annotation{{Text: "Status: " + status.Label()}}
		if !a.PMDue.IsZero() {
			d.Note = append(d.Note, Annotation{Text: "Preventive maintenance due " + fhirTime(a.PMDue)})
		}
		if p, ok := inv.positions[a.ID]; ok {
			d.Location = inv.site.positionRef(p)
		}
		if p, ok := pumpBySerial[a.Serial]; ok && a.Serial != "" {
			matched[a.Serial] = true
			d.ModelNumber = p.Model
			d.Version = pumpVersions(p)
		}
		out = append(out, d)
	}
	for _, p := range inv.pumps {
		if p.Serial == "" || matched[p.Serial] {
			continue
		}
		matched[p.Serial] = true
		d := Device{ResourceType: "Device", ID: pumpRID(p.Serial), Status: "active",
			Identifier: []Identifier{serialIdentifier(p.Serial)}, SerialNumber: p.Serial,
			ModelNumber: p.Model, Version: pumpVersions(p),
			Type: deviceKind(string(wardwatch.AssetInfusionPump), wardwatch.AssetInfusionPump.Label())}
		out = append(out, d)
	}
	for i := range inv.units {
		u := &inv.units[i]
		out = append(out, Device{ResourceType: "Device", ID: unitRID(u.ID), Status: "active",
			DeviceName: []DeviceName{{Name: u.Name, Type: "user-friendly-name"}},
			Type:       deviceKind(string(u.Profile), profileLabel(u.Profile)),
			Location:   inv.unitLocation(u)})
	}
	for _, m := range inv.modbus {
		d := Device{ResourceType: "Device", ID: modbusRID(m.ID), Status: "active",
			DeviceName: []DeviceName{{Name: m.Name, Type: "user-friendly-name"}},
			Type:       deviceKind("modbus_device", "Modbus device")}
		if !m.Enabled {
			d.Status = "inactive"
		}
		if m.Profile != "" {
			d.ModelNumber = m.Profile
		}
		if u, ok := inv.unitByID[m.UnitID]; ok {
			d.Parent = &Reference{Reference: "Device/" + unitRID(u.ID), Display: u.Name}
			d.Location = inv.unitLocation(&u)
		}
		out = append(out, d)
	}
	for i := range inv.channels {
		c := &inv.channels[i]
		d := Device{ResourceType: "Device", ID: c.id, Status: "active",
			DeviceName: []DeviceName{{Name: c.sensorID(), Type: "user-friendly-name"}},
			Type:       deviceKind("sensor_channel", "Sensor channel"),
			Parent:     &Reference{Reference: "Device/" + modbusRID(c.dev.ID), Display: c.dev.Name},
			Location:   inv.unitLocation(c.unit)}
		if !c.dev.Enabled {
			d.Status = "inactive"
		}
		out = append(out, d)
	}
	return out
}

// metricCode is the Observation.code / DeviceMetric.type of channel c: the
// local metric code, plus LOINC 60832-3 "Room temperature" for the air
// temperature of a unit that is a room (never for a fridge, a freezer or a
// diagnostic channel; LOINC 8310-5 is body temperature and never used).
func (c *channelInfo) metricCode() CodeableConcept {
	info, ok := metricInfos[c.ch.Metric]
	display := info.Display
	if !ok {
		display = string(c.ch.Metric)
	}
	cc := CodeableConcept{Coding: []Coding{{System: SystemMetric, Code: string(c.ch.Metric), Display: display}},
		Text: display}
	if c.ch.Metric == wardwatch.MetricTemperature && !c.ch.Diagnostic && c.unit != nil && roomProfiles[c.unit.Profile] {
		cc.Coding = append(cc.Coding, Coding{System: SystemLOINC, Code: loincRoomTemperature, Display: loincRoomTemperatureText})
	}
	return cc
}

// subject is an observation's subject: the room when the channel's unit
// is a room; none otherwise (a fridge's probe measures its contents).
func (inv *inventory) subject(c *channelInfo) *Reference {
	if c.unit == nil || !roomProfiles[c.unit.Profile] {
		return nil
	}
	return inv.site.zoneRef(c.unit.ZoneID)
}

// calibration maps a device's calibration due date: calibrated while the
// certificate runs, calibration-required once it has run out, unspecified
// when not tracked. The due date goes in the calibration-due extension,
// not in calibration.time, which R4 defines as when calibration was last
// done.
func calibration(due, now time.Time) []MetricCalibration {
	if due.IsZero() {
		return []MetricCalibration{{Type: "unspecified", State: "unspecified"}}
	}
	c := MetricCalibration{Type: "unspecified", State: "calibrated",
		Extension: []Extension{{URL: ExtensionCalibrationDue, ValueDateTime: fhirTime(due)}}}
	if !now.Before(due) {
		c.State = "calibration-required"
	}
	return []MetricCalibration{c}
}

// deviceMetrics maps every channel to a DeviceMetric.
func (inv *inventory) deviceMetrics() []DeviceMetric {
	out := make([]DeviceMetric, 0, len(inv.channels))
	for i := range inv.channels {
		c := &inv.channels[i]
		m := DeviceMetric{ResourceType: "DeviceMetric", ID: c.id, Type: c.metricCode(),
			Source:            &Reference{Reference: "Device/" + c.id, Display: c.sensorID()},
			Parent:            &Reference{Reference: "Device/" + modbusRID(c.dev.ID), Display: c.dev.Name},
			OperationalStatus: "on", Category: "measurement",
			Calibration: calibration(c.dev.CalibrationDue, inv.now)}
		if !c.dev.Enabled {
			m.OperationalStatus = "off"
		}
		if info := metricInfos[c.ch.Metric]; info.UCUM != "" {
			m.Unit = &CodeableConcept{Coding: []Coding{{System: SystemUCUM, Code: info.UCUM, Display: info.Unit}}, Text: info.Unit}
		}
		out = append(out, m)
	}
	return out
}

// observation maps one reading of channel c. ok is false when the value
// cannot be represented (NaN or ±Inf).
func (inv *inventory) observation(c *channelInfo, r wardwatch.Reading) (o Observation, ok bool) {
	if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
		return Observation{}, false
	}
	o = Observation{ResourceType: "Observation", ID: observationRID(c.key, r.Time.UnixMilli()),
		Status: "final",
		Category: []CodeableConcept{{Coding: []Coding{{System: SystemObservationCategory, Code: "environment",
			Display: "Environment"}}}},
		Code: c.metricCode(), Subject: inv.subject(c), EffectiveDateTime: fhirTime(r.Time),
		Device: &Reference{Reference: "DeviceMetric/" + c.id, Display: c.sensorID()}}
	info, known := metricInfos[c.ch.Metric]
	if known && info.UCUM == "" {
		b := r.Value != 0
		o.ValueBoolean = &b
	} else {
		o.ValueQuantity = &Quantity{Value: formatDecimal(r.Value)}
		if known {
			o.ValueQuantity.Unit, o.ValueQuantity.System, o.ValueQuantity.Code = info.Unit, SystemUCUM, info.UCUM
		}
	}
	return o, true
}

// formatDecimal writes v as a FHIR decimal: plain digits, no exponent
// unless the value needs one to stay short.
func formatDecimal(v float64) json.Number {
	return json.Number(strconv.FormatFloat(v, 'f', -1, 64))
}

// quarantineText is a Flag's code text for an excursion of metric m.
func quarantineText(m wardwatch.Metric) string {
	what := "temperature"
	if info, ok := metricInfos[m]; ok && m != wardwatch.MetricTemperature {
		what = strings.ToLower(info.Display)
	}
	return "DO NOT USE — " + what + " excursion"
}

// flags maps quarantined excursions to active Flags on their unit: the
// unit's room (Location) when the unit is a room, else the unit's Device.
// The author is the sensor channel that measured the excursion, when known.
func (inv *inventory) flags(xs []alerts.Excursion) []Flag {
	xs = slices.Clone(xs)
	slices.SortFunc(xs, func(a, b alerts.Excursion) int { return cmp.Compare(a.ID, b.ID) })
	out := make([]Flag, 0, len(xs))
	for _, x := range xs {
		if !x.Quarantine || !x.QuarantineClearedAt.IsZero() || x.ID == 0 {
			continue
		}
		name := x.UnitName
		if u, ok := inv.unitByID[x.UnitID]; ok {
			name = u.Name
		}
		f := Flag{ResourceType: "Flag", ID: flagRID(x.ID), Status: "active",
			Category: []CodeableConcept{{Coding: []Coding{{System: SystemFlagCategory, Code: "safety", Display: "Safety"}}}},
			Code:     CodeableConcept{Text: quarantineText(x.Metric)},
			Subject:  Reference{Reference: "Device/" + unitRID(x.UnitID), Display: name},
			Period:   &Period{Start: fhirTime(x.Start)}}
		if u, ok := inv.unitByID[x.UnitID]; ok && roomProfiles[u.Profile] {
			if ref := inv.site.zoneRef(u.ZoneID); ref != nil {
				f.Subject = *ref
			}
		}
		if c, ok := inv.channelBySID[x.SensorID]; ok {
			f.Author = &Reference{Reference: "Device/" + c.id, Display: c.sensorID()}
		}
		out = append(out, f)
	}
	return out
}
