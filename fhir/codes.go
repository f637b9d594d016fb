package fhir

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/wardwatch/wardwatch"
)

// Code systems and identifier systems the package emits. WardWatch's own
// concepts use local code systems under LocalCodeSystemBase, as
// domain-requirements §6 asks ("never emit unverified codes externally"):
// the only external codes used are HL7 terminology (location physical
// types, identifier types, flag categories), UCUM units and LOINC 60832-3
// "Room temperature" (cited in §6.1) for a room's own air temperature.
const (
	LocalCodeSystemBase = "https://wardwatch.example/fhir/CodeSystem/"
	// SystemMetric codes what a reading measures: wardwatch.Metric values.
	SystemMetric = LocalCodeSystemBase + "metric"
	// SystemDeviceKind codes device types: asset kinds, unit profiles,
	// "modbus_device", "sensor_channel".
	SystemDeviceKind = LocalCodeSystemBase + "device-kind"
	// SystemZoneKind codes zone kinds (wardwatch.ZoneKind values).
	SystemZoneKind = LocalCodeSystemBase + "zone-kind"
	// SystemObservationCategory codes observation categories: "environment".
	SystemObservationCategory = LocalCodeSystemBase + "observation-category"
	// SystemDeviceVersionType codes Device.version types: "firmware", "drug-library".
	SystemDeviceVersionType = LocalCodeSystemBase + "device-version-type"
	// ExtensionCalibrationDue is the extension on DeviceMetric.calibration
	// carrying when the probe's calibration certificate runs out.
	ExtensionCalibrationDue = "https://wardwatch.example/fhir/StructureDefinition/calibration-due"
	// DefaultAssetTagSystem is the identifier system of asset tags unless
	// Options.AssetTagSystem names the hospital's own.
	DefaultAssetTagSystem = "https://wardwatch.example/fhir/sid/asset-tag"
	// LocalSearchParameterBase prefixes the canonical URLs of the search
	// parameters WardWatch adds to R4's (Observation-location).
	LocalSearchParameterBase = "https://wardwatch.example/fhir/SearchParameter/"

	// UDI issuing agencies' naming systems (R4 device.html, "UDI"): the
	// UDICarrier.issuer and the system of a UDI-DI identifier.
	SystemUDIGS1    = "http://hl7.org/fhir/NamingSystem/gs1-di"
	SystemUDIHIBCC  = "http://hl7.org/fhir/NamingSystem/hibcc-dI"
	SystemUDIICCBBA = "http://hl7.org/fhir/NamingSystem/iccbba-other-di"

	SystemUCUM               = "http://unitsofmeasure.org"
	SystemLOINC              = "http://loinc.org"
	SystemLocationPhysical   = "http://terminology.hl7.org/CodeSystem/location-physical-type"
	SystemIdentifierType     = "http://terminology.hl7.org/CodeSystem/v2-0203"
	SystemFlagCategory       = "http://terminology.hl7.org/CodeSystem/flag-category"
	loincRoomTemperature     = "60832-3"
	loincRoomTemperatureText = "Room temperature"
)

// udiIssuerSystem is the naming system of a UDI issuing agency.
func udiIssuerSystem(i wardwatch.UDIIssuer) string {
	switch i {
	case wardwatch.UDIIssuerGS1:
		return SystemUDIGS1
	case wardwatch.UDIIssuerHIBCC:
		return SystemUDIHIBCC
	case wardwatch.UDIIssuerICCBBA:
		return SystemUDIICCBBA
	}
	return ""
}

// metricInfo is how a metric is coded in FHIR.
type metricInfo struct {
	Display string
	// UCUM is the unit's UCUM code and Unit its human-readable symbol;
	// both empty for a 0/1 state, emitted as valueBoolean.
	UCUM, Unit string
}

// metricInfos codes every wardwatch.Metric (reading.go gives the units).
var metricInfos = map[wardwatch.Metric]metricInfo{
	wardwatch.MetricTemperature:    {"Temperature", "Cel", "°C"},
	wardwatch.MetricHumidity:       {"Relative humidity", "%", "%RH"},
	wardwatch.MetricPressure:       {"Differential pressure", "Pa", "Pa"},
	wardwatch.MetricBatteryVoltage: {"Battery voltage", "V", "V"},
	wardwatch.MetricBatteryPercent: {"Battery level", "%", "%"},
	wardwatch.MetricAirChanges:     {"Air changes per hour", "/h", "ACH"},
	wardwatch.MetricDoorOpen:       {"Door open", "", ""},
	wardwatch.MetricAlarm:          {"Alarm output active", "", ""},
}

// roomProfiles are unit profiles whose unit is a room, not an appliance.
var roomProfiles = map[wardwatch.UnitProfile]bool{
	wardwatch.ProfileCRTRoom:        true,
	wardwatch.ProfileOperatingRoom:  true,
	wardwatch.ProfileIsolationRoom:  true,
	wardwatch.ProfileProtectiveRoom: true,
	wardwatch.ProfileCompounding:    true,
}

// profileLabel is a unit profile as users read it.
func profileLabel(p wardwatch.UnitProfile) string {
	for _, q := range wardwatch.UnitProfiles() {
		if q.Profile == p {
			return q.Label
		}
	}
	return string(p)
}

// zoneKindLabel is a zone kind as users read it.
func zoneKindLabel(k wardwatch.ZoneKind) string {
	for _, z := range wardwatch.ZoneKinds() {
		if z.Kind == k {
			return z.Label
		}
	}
	return string(k)
}

// physicalType is a location-physical-type coding.
func physicalType(code string) *CodeableConcept {
	display := map[string]string{"si": "Site", "bu": "Building", "lvl": "Level", "ro": "Room",
		"co": "Corridor", "area": "Area"}[code]
	return &CodeableConcept{Coding: []Coding{{System: SystemLocationPhysical, Code: code, Display: display}}}
}

// zonePhysicalType maps a zone kind to its location-physical-type code:
// corridors are "co", open spaces that are not rooms (stairs, lifts,
// exits, loading docks) "area", every other kind a room "ro".
func zonePhysicalType(k wardwatch.ZoneKind) string {
	switch k {
	case wardwatch.ZoneCorridor:
		return "co"
	case wardwatch.ZoneStairs, wardwatch.ZoneLift, wardwatch.ZoneExit, wardwatch.ZoneLoadingDock:
		return "area"
	}
	return "ro"
}

// idSafe escapes s for use in a FHIR id ([A-Za-z0-9\-\.]{1,64}): letters
// and digits stay, every other byte becomes "-XX" (hex). The escape is
// injective and never produces "--" or ".", so ids built from escaped parts
// separated by "." stay unambiguous. When the escaped form is longer than
// max it is replaced by "--" and a SHA-256 prefix, still unique in practice
// and stable.
func idSafe(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			const hexDigits = "0123456789ABCDEF"
			b.WriteByte('-')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xF])
		}
	}
	if b.Len() == 0 || b.Len() > max {
		sum := sha256.Sum256([]byte(s))
		n := max - 2
		if n > 2*len(sum) {
			n = 2 * len(sum)
		}
		return "--" + hex.EncodeToString(sum[:])[:n]
	}
	return b.String()
}

// maxChannelPart bounds the escaped channel name in channel and
// observation ids so that "obs-<device id>.<channel>.<unix ms>" fits 64.
const maxChannelPart = 24

// Resource ids. Every id is stable (derived from a stored ID or a serial)
// and URL-safe.
func assetRID(id int64) string     { return "asset-" + strconv.FormatInt(id, 10) }
func unitRID(id int64) string      { return "unit-" + strconv.FormatInt(id, 10) }
func modbusRID(id int64) string    { return "modbus-" + strconv.FormatInt(id, 10) }
func floorRID(id int64) string     { return "floor-" + strconv.FormatInt(id, 10) }
func zoneRID(id int64) string      { return "zone-" + strconv.FormatInt(id, 10) }
func flagRID(id int64) string      { return "excursion-" + strconv.FormatInt(id, 10) }
func pumpRID(serial string) string { return "pump-" + idSafe(serial, 59) }

// channelKey identifies a channel inside channel and observation ids.
func channelKey(deviceID int64, channel string) string {
	return strconv.FormatInt(deviceID, 10) + "." + idSafe(channel, maxChannelPart)
}

func channelRID(deviceID int64, channel string) string {
	return "channel-" + channelKey(deviceID, channel)
}

// pumpSensorPrefix starts the sensor ID of a pump's readings: "pump:<serial>".
const pumpSensorPrefix = "pump:"

// maxSensorPart bounds the escaped tag ID or pump serial in the keys of tag
// and pump channels, so that "obs-tag.<tag>.<metric>.<unix ms>" fits 64.
const maxSensorPart = 23

// metricIDPart is metric m inside an id: "battery_voltage" reads
// "battery-voltage". Only valid metrics (lower-case letters and "_") are
// given channels, so the mapping is injective and never yields ".".
func metricIDPart(m wardwatch.Metric) string { return strings.ReplaceAll(string(m), "_", "-") }

// tagChannelKey identifies metric m of a tag's own sensors (Eddystone-TLM
// temperature and battery…) inside channel and observation ids:
// "tag.<tag ID, escaped>.<metric>". It depends on the tag only, so it stays
// the same when the tag moves to another asset.
func tagChannelKey(tagID string, m wardwatch.Metric) string {
	return "tag." + idSafe(tagID, maxSensorPart) + "." + metricIDPart(m)
}

// pumpChannelKey identifies metric m of an infusion pump (its battery) by
// serial: "pump.<serial, escaped>.<metric>".
func pumpChannelKey(serial string, m wardwatch.Metric) string {
	return "pump." + idSafe(serial, maxSensorPart) + "." + metricIDPart(m)
}

// parseSensorKey splits the key of a tag or pump channel into its kind
// ("tag" or "pump"), escaped sensor part and metric; ok is false for any
// other key (a Modbus channel's starts with a digit).
func parseSensorKey(key string) (kind, part string, m wardwatch.Metric, ok bool) {
	kind, rest, found := strings.Cut(key, ".")
	if !found || kind != "tag" && kind != "pump" {
		return "", "", "", false
	}
	part, mp, found := strings.Cut(rest, ".")
	if !found || part == "" || strings.Contains(mp, ".") {
		return "", "", "", false
	}
	for _, metric := range wardwatch.Metrics() {
		if metricIDPart(metric) == mp {
			return kind, part, metric, true
		}
	}
	return "", "", "", false
}

// observationRID is the id of the observation of a channel's reading at
// unix millisecond ms.
func observationRID(key string, ms int64) string {
	return "obs-" + key + "." + strconv.FormatInt(ms, 10)
}

// parseObservationRID splits an observation id into its channel key and
// unix milliseconds.
func parseObservationRID(id string) (key string, ms int64, ok bool) {
	rest, ok := strings.CutPrefix(id, "obs-")
	if !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return "", 0, false
	}
	ms, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil || !strings.Contains(rest[:i], ".") {
		return "", 0, false
	}
	return rest[:i], ms, true
}

// Site and building are WardWatch's fixed top of the location hierarchy:
// the domain has floors but no buildings, so one site and one building hold
// them all.
const (
	siteRID     = "site"
	buildingRID = "building"
)
