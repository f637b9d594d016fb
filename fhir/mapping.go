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

// assetUDI maps an asset's UDI: the udiCarrier (entered by hand, as the
// admin typed or imported it) and the UDI-DI as an identifier whose system
// is the issuing agency's, so that Device?identifier=<issuer>|<DI> finds
// it. ok is false when the asset has no UDI, or one that no longer parses
// (the store checks it on the way in): a wrong identifier is worse than
// none.
func assetUDI(a *wardwatch.Asset) (c UDICarrier, id Identifier, ok bool) {
	if a.UDI == "" {
		return UDICarrier{}, Identifier{}, false
	}
	u, err := wardwatch.ParseUDI(a.UDI)
	sys := udiIssuerSystem(u.Issuer)
	if err != nil || sys == "" {
		return UDICarrier{}, Identifier{}, false
	}
	return UDICarrier{DeviceIdentifier: u.DI, Issuer: sys, CarrierHRF: u.HRF, EntryType: "manual"},
		Identifier{Type: &CodeableConcept{Coding: []Coding{{System: SystemIdentifierType, Code: "UDI",
			Display: "Universal Device Identifier"}}}, System: sys, Value: u.DI}, true
}

// inventory is everything a Device, DeviceMetric, Observation or Flag is
// built from.
type inventory struct {
	site         *site
	assets       []wardwatch.Asset // by ID
	rawPositions []wardwatch.Position
	pumps        []wardwatch.PumpState // by serial
	units        []wardwatch.MonitoredUnit
	unitByID     map[int64]wardwatch.MonitoredUnit
	modbus       []ModbusDevice
	tags         []wardwatch.Tag // by ID
	latest       []wardwatch.Reading
	channels     []channelInfo           // Modbus channels, then live tag and pump channels
	channelBySID map[string]*channelInfo // Modbus channels by sensor ID "<device>/<channel>"
	sensorByKey  map[sensorMetric]*channelInfo
	assetTagSys  string
	now          time.Time

	// Indexes built on first use: a large site's Observation search
	// should not pay for what it does not read.
	positions               map[int64]wardwatch.Position // newest by asset ID
	tagByID                 map[string]wardwatch.Tag
	assetOfSerial           map[string]*wardwatch.Asset
	ownerRefs               map[int64]*Reference // by asset ID
	tagByPart, serialByPart map[string]string
}

// sortedBy returns s sorted by cmp: s itself when it already is (the
// stores list in that order), else a sorted copy; s is never modified.
func sortedBy[T any](s []T, cmp func(a, b T) int) []T {
	if slices.IsSortedFunc(s, cmp) {
		return s
	}
	c := slices.Clone(s)
	slices.SortFunc(c, cmp)
	return c
}

// position is asset id's newest known position.
func (inv *inventory) position(id int64) (wardwatch.Position, bool) {
	if inv.positions == nil {
		inv.positions = make(map[int64]wardwatch.Position, len(inv.rawPositions))
		for _, p := range inv.rawPositions {
			if q, ok := inv.positions[p.AssetID]; !ok || p.Time.After(q.Time) {
				inv.positions[p.AssetID] = p
			}
		}
	}
	p, ok := inv.positions[id]
	return p, ok
}

// asset is the asset with ID id.
func (inv *inventory) asset(id int64) (*wardwatch.Asset, bool) {
	i, ok := slices.BinarySearchFunc(inv.assets, id, func(a wardwatch.Asset, id int64) int { return cmp.Compare(a.ID, id) })
	if !ok {
		return nil, false
	}
	return &inv.assets[i], true
}

// tag is the tag with ID id.
func (inv *inventory) tag(id string) (wardwatch.Tag, bool) {
	if inv.tagByID == nil {
		inv.tagByID = make(map[string]wardwatch.Tag, len(inv.tags))
		for _, t := range inv.tags {
			inv.tagByID[t.ID] = t
		}
	}
	t, ok := inv.tagByID[id]
	return t, ok
}

// sensorMetric is a sensor ID with one of its metrics.
type sensorMetric struct {
	sensor string
	metric wardwatch.Metric
}

// channelInfo is one sensor channel with what it belongs to: a Modbus
// channel (dev, ch, unit), or a tag's or pump's own metric (sid, owner).
type channelInfo struct {
	dev  *ModbusDevice // nil for a tag's or a pump's channel
	ch   Channel
	unit *wardwatch.MonitoredUnit
	key  string
	id   string
	// sid is the readings' sensor ID: "<device>/<channel>", the tag ID,
	// "pump:<serial>".
	sid string
	// Tag and pump channels: the Device the readings belong to (the asset
	// the tag is fixed to; the pump's asset, or its pump Device when no
	// asset has its serial) and that asset's ID (0 for a pump Device).
	owner   *Reference
	assetID int64
	// order sorts channels: Modbus channels in device and profile order,
	// then tag and pump channels by key.
	order int
}

func (c *channelInfo) sensorID() string { return c.sid }

// isSensor reports whether c is a tag's or a pump's channel.
func (c *channelInfo) isSensor() bool { return c.owner != nil }

// inventoryInput is what an inventory is built from; slices the request
// does not need may be nil.
type inventoryInput struct {
	site        *site
	assets      []wardwatch.Asset
	positions   []wardwatch.Position
	pumps       []wardwatch.PumpState
	units       []wardwatch.MonitoredUnit
	modbus      []ModbusDevice
	tags        []wardwatch.Tag
	latest      []wardwatch.Reading
	assetTagSys string
	now         time.Time
}

// newInventory indexes in. Tag and pump channels are those with a reading
// in in.latest (they have reported since WardWatch started) whose readings
// belong to a Device: a tag fixed to a known asset, a pump whose serial an
// asset or a pump state has. Readings of unassigned tags are left out.
func newInventory(in inventoryInput) *inventory {
	inv := &inventory{site: in.site, rawPositions: in.positions, latest: in.latest,
		assets:      sortedBy(in.assets, func(a, b wardwatch.Asset) int { return cmp.Compare(a.ID, b.ID) }),
		pumps:       sortedBy(in.pumps, func(a, b wardwatch.PumpState) int { return strings.Compare(a.Serial, b.Serial) }),
		units:       sortedBy(in.units, func(a, b wardwatch.MonitoredUnit) int { return cmp.Compare(a.ID, b.ID) }),
		modbus:      sortedBy(in.modbus, func(a, b ModbusDevice) int { return cmp.Compare(a.ID, b.ID) }),
		tags:        sortedBy(in.tags, func(a, b wardwatch.Tag) int { return strings.Compare(a.ID, b.ID) }),
		assetTagSys: in.assetTagSys, now: in.now,
		unitByID: make(map[int64]wardwatch.MonitoredUnit, len(in.units)), channelBySID: make(map[string]*channelInfo),
		sensorByKey: make(map[sensorMetric]*channelInfo)}
	for _, u := range inv.units {
		inv.unitByID[u.ID] = u
	}
	for i := range inv.modbus {
		d := &inv.modbus[i]
		var unit *wardwatch.MonitoredUnit
		if u, ok := inv.unitByID[d.UnitID]; ok {
			unit = &u
		}
		for _, ch := range d.Channels {
			key := channelKey(d.ID, ch.Name)
			inv.channels = append(inv.channels, channelInfo{dev: d, ch: ch, unit: unit, key: key, id: "channel-" + key,
				sid: d.Name + "/" + ch.Name})
		}
	}
	nModbus := len(inv.channels)
	for i := range inv.channels {
		inv.channelBySID[inv.channels[i].sid] = nil // pointed at below, once inv.channels stops growing
	}
	var seen map[sensorMetric]bool
	for _, r := range inv.latest {
		if _, modbus := inv.channelBySID[r.SensorID]; modbus {
			continue
		}
		k := sensorMetric{r.SensorID, r.Metric}
		if seen[k] {
			continue
		}
		if seen == nil {
			seen = make(map[sensorMetric]bool)
		}
		seen[k] = true
		if c, ok := inv.sensorChannel(r.SensorID, r.Metric); ok {
			inv.channels = append(inv.channels, c)
		}
	}
	slices.SortFunc(inv.channels[nModbus:], func(a, b channelInfo) int { return strings.Compare(a.key, b.key) })
	for i := range inv.channels {
		c := &inv.channels[i]
		c.order = i
		if c.isSensor() {
			inv.sensorByKey[sensorMetric{c.sid, c.ch.Metric}] = c
		} else {
			inv.channelBySID[c.sid] = c
		}
	}
	return inv
}

// tagMetrics are the metrics a tag may report about itself (Eddystone-TLM,
// Minew and ESPresense sensor tags).
var tagMetrics = []wardwatch.Metric{wardwatch.MetricTemperature, wardwatch.MetricHumidity,
	wardwatch.MetricBatteryVoltage, wardwatch.MetricBatteryPercent}

// sensorChannel is the channel of metric m of tag or pump sensor sid, or
// ok false when sid is neither a tag fixed to a known asset nor a pump
// with a Device, or m is not a known metric.
func (inv *inventory) sensorChannel(sid string, m wardwatch.Metric) (c channelInfo, ok bool) {
	if !m.Valid() {
		return channelInfo{}, false
	}
	c = channelInfo{sid: sid, ch: Channel{Name: string(m), Metric: m}, order: math.MaxInt}
	if serial, isPump := strings.CutPrefix(sid, pumpSensorPrefix); isPump {
		if serial == "" {
			return channelInfo{}, false
		}
		if a := inv.assetBySerial(serial); a != nil {
			c.owner, c.assetID = inv.assetRef(a), a.ID
		} else if _, known := slices.BinarySearchFunc(inv.pumps, serial, func(p wardwatch.PumpState, serial string) int {
			return strings.Compare(p.Serial, serial)
		}); known {
			c.owner = &Reference{Reference: "Device/" + pumpRID(serial), Display: "Infusion pump " + serial}
		} else {
			return channelInfo{}, false
		}
		c.key = pumpChannelKey(serial, m)
	} else {
		t, ok := inv.tag(sid)
		if !ok {
			return channelInfo{}, false
		}
		a, ok := inv.asset(t.AssetID)
		if !ok {
			return channelInfo{}, false
		}
		c.owner, c.assetID = inv.assetRef(a), a.ID
		c.key = tagChannelKey(sid, m)
	}
	c.id = "channel-" + c.key
	return c, true
}

// assetBySerial is the asset (lowest ID first) with serial number serial,
// the one a pump of that serial is shown as (see devices).
func (inv *inventory) assetBySerial(serial string) *wardwatch.Asset {
	if inv.assetOfSerial == nil {
		// Index the serials of the pumps heard from since start-up only:
		// a site has far more assets than pumps.
		inv.assetOfSerial = make(map[string]*wardwatch.Asset)
		for _, p := range inv.pumps {
			inv.assetOfSerial[p.Serial] = nil
		}
		for _, r := range inv.latest {
			if s, ok := strings.CutPrefix(r.SensorID, pumpSensorPrefix); ok {
				inv.assetOfSerial[s] = nil
			}
		}
		for i := range inv.assets {
			a := &inv.assets[i]
			if prev, want := inv.assetOfSerial[a.Serial]; want && prev == nil {
				inv.assetOfSerial[a.Serial] = a
			}
		}
	}
	if a, ok := inv.assetOfSerial[serial]; ok {
		return a
	}
	for i := range inv.assets {
		if inv.assets[i].Serial == serial {
			return &inv.assets[i]
		}
	}
	return nil
}

// assetRef is a reference to asset a's Device, shared by its channels
// (never modified).
func (inv *inventory) assetRef(a *wardwatch.Asset) *Reference {
	if r, ok := inv.ownerRefs[a.ID]; ok {
		return r
	}
	if inv.ownerRefs == nil {
		inv.ownerRefs = make(map[int64]*Reference)
	}
	display := a.Name
	if display == "" {
		display = a.AssetTag
	}
	r := &Reference{Reference: "Device/" + assetRID(a.ID), Display: display}
	inv.ownerRefs[a.ID] = r
	return r
}

// sensorChannelByKey is the tag or pump channel key names, whether or not
// it has reported since WardWatch started, so that an observation id or a
// DeviceMetric reference found earlier still reads its stored history.
func (inv *inventory) sensorChannelByKey(key string) (channelInfo, bool) {
	kind, part, m, ok := parseSensorKey(key)
	if !ok {
		return channelInfo{}, false
	}
	if inv.tagByPart == nil {
		inv.tagByPart = make(map[string]string, len(inv.tags))
		for _, t := range inv.tags {
			inv.tagByPart[idSafe(t.ID, maxSensorPart)] = t.ID
		}
		inv.serialByPart = make(map[string]string)
		for _, a := range inv.assets {
			if a.Serial != "" {
				inv.serialByPart[idSafe(a.Serial, maxSensorPart)] = a.Serial
			}
		}
		for _, p := range inv.pumps {
			if p.Serial != "" {
				inv.serialByPart[idSafe(p.Serial, maxSensorPart)] = p.Serial
			}
		}
	}
	var c channelInfo
	if kind == "tag" {
		tag, found := inv.tagByPart[part]
		if !found {
			return channelInfo{}, false
		}
		c, ok = inv.sensorChannel(tag, m)
	} else {
		serial, found := inv.serialByPart[part]
		if !found {
			return channelInfo{}, false
		}
		c, ok = inv.sensorChannel(pumpSensorPrefix+serial, m)
	}
	if !ok || c.key != key {
		return channelInfo{}, false
	}
	return c, true
}

// sensorChannelsOf lists every channel a Device may have readings on
// (Device id "asset-N": its tags' metrics and its pump battery; "pump-…":
// that pump's battery), whether or not they have reported since start-up.
func (inv *inventory) sensorChannelsOf(deviceID string) []channelInfo {
	var out []channelInfo
	add := func(sid string, m wardwatch.Metric) {
		if c, ok := inv.sensorChannel(sid, m); ok {
			out = append(out, c)
		}
	}
	if n, ok := strings.CutPrefix(deviceID, "asset-"); ok {
		id, err := strconv.ParseInt(n, 10, 64)
		a, found := inv.asset(id)
		if err != nil || !found {
			return nil
		}
		for _, t := range inv.tags {
			if t.AssetID == id {
				for _, m := range tagMetrics {
					add(t.ID, m)
				}
			}
		}
		if a.Serial != "" && inv.assetBySerial(a.Serial) == a {
			add(pumpSensorPrefix+a.Serial, wardwatch.MetricBatteryPercent)
		}
		return out
	}
	if strings.HasPrefix(deviceID, "pump-") {
		for _, p := range inv.pumps {
			if p.Serial != "" && pumpRID(p.Serial) == deviceID {
				add(pumpSensorPrefix+p.Serial, wardwatch.MetricBatteryPercent)
				break
			}
		}
	}
	return out
}

// channelLocation is where channel c measures now: a Modbus channel's
// unit's zone; the current zone (or floor) of a tag's asset or a pump's
// asset; nil when unknown.
func (inv *inventory) channelLocation(c *channelInfo) *Reference {
	if !c.isSensor() {
		return inv.unitLocation(c.unit)
	}
	if p, ok := inv.position(c.assetID); ok && c.assetID != 0 {
		return inv.site.positionRef(p)
	}
	return nil
}

// unitLocation is where a unit is: its zone.
func (inv *inventory) unitLocation(u *wardwatch.MonitoredUnit) *Reference {
	if u == nil {
		return nil
	}
	return inv.site.zoneRef(u.ZoneID)
}

// devices maps every device WardWatch knows: assets (with their UDI,
// manufacturer and model, and their pump's model and versions when a pump
// reports the asset's serial), pumps that
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
		if c, id, ok := assetUDI(&a); ok {
			d.UDICarrier = []UDICarrier{c}
			d.Identifier = append(d.Identifier, id)
		}
		d.Manufacturer, d.ModelNumber = a.Manufacturer, a.Model
		if a.Name != "" {
			d.DeviceName = []DeviceName{{Name: a.Name, Type: "user-friendly-name"}}
		}
		if a.Model != "" {
			d.DeviceName = append(d.DeviceName, DeviceName{Name: a.Model, Type: "model-name"})
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
		if p, ok := inv.position(a.ID); ok {
			d.Location = inv.site.positionRef(p)
		}
		if p, ok := pumpBySerial[a.Serial]; ok && a.Serial != "" {
			matched[a.Serial] = true
			if p.Model != "" {
				d.ModelNumber = p.Model // what the pump says it is wins over what was typed
			}
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
		if c.isSensor() {
			continue // its readings belong to the asset's or pump's Device
		}
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
		if c.isSensor() {
			out = append(out, inv.sensorDeviceMetric(c))
			continue
		}
		m := DeviceMetric{ResourceType: "DeviceMetric", ID: c.id, Type: c.metricCode(),
			Source:            &Reference{Reference: "Device/" + c.id, Display: c.sensorID()},
			Parent:            &Reference{Reference: "Device/" + modbusRID(c.dev.ID), Display: c.dev.Name},
			OperationalStatus: "on", Category: "measurement",
			Calibration: calibration(c.dev.CalibrationDue, inv.now)}
		if !c.dev.Enabled {
			m.OperationalStatus = "off"
		}
		m.Unit = metricUnit(c.ch.Metric)
		out = append(out, m)
	}
	return out
}

// metricUnit is the UCUM unit of metric m as a DeviceMetric.unit, nil for
// a 0/1 state or an unknown metric.
func metricUnit(m wardwatch.Metric) *CodeableConcept {
	info := metricInfos[m]
	if info.UCUM == "" {
		return nil
	}
	return &CodeableConcept{Coding: []Coding{{System: SystemUCUM, Code: info.UCUM, Display: info.Unit}}, Text: info.Unit}
}

// sensorDeviceMetric maps a tag's or pump's channel: its source is the
// asset's (or pump's) Device, the sensor named in the display. WardWatch
// tracks no calibration of tags or pump batteries ("unspecified") and
// knows only that the sensor reported since start-up, so no
// operationalStatus is claimed.
func (inv *inventory) sensorDeviceMetric(c *channelInfo) DeviceMetric {
	display := c.owner.Display + " — tag " + c.sid
	if serial, ok := strings.CutPrefix(c.sid, pumpSensorPrefix); ok {
		display = c.owner.Display
		if c.assetID != 0 {
			display += " — pump " + serial
		}
	}
	return DeviceMetric{ResourceType: "DeviceMetric", ID: c.id, Type: c.metricCode(), Unit: metricUnit(c.ch.Metric),
		Source:      &Reference{Reference: c.owner.Reference, Display: display},
		Category:    "measurement",
		Calibration: calibration(time.Time{}, inv.now)}
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
		Code: c.metricCode(), Subject: inv.subject(c), EffectiveDateTime: fhirTime(r.Time)}
	if c.isSensor() {
		// A tag's or pump's reading: the device is the asset (or pump).
		o.Device = &Reference{Reference: c.owner.Reference, Display: c.owner.Display}
	} else {
		o.Device = &Reference{Reference: "DeviceMetric/" + c.id, Display: c.sensorID()}
	}
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
