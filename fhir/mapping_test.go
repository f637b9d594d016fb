package fhir

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func TestIDSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cabinet", "cabinet"},
		{"air temp", "air-20temp"},
		{"a-b", "a-2Db"},
		{"a.b", "a-2Eb"},
		{"é", "-C3-A9"},
	}
	for _, tt := range tests {
		if got := idSafe(tt.in, 64); got != tt.want {
			t.Errorf("idSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := idSafe(strings.Repeat("x", 30), maxChannelPart)
	if len(long) != maxChannelPart || !strings.HasPrefix(long, "--") {
		t.Errorf("long name: %q", long)
	}
	if idSafe("", 10) == "" {
		t.Error("empty name gives an empty id part")
	}
	// Distinct inputs give distinct ids, and every id is a valid FHIR id.
	seen := map[string]string{}
	for _, s := range []string{"a-b", "a_b", "a b", "a-2Db", "a--b", "", "x", strings.Repeat("y", 40), strings.Repeat("y", 41)} {
		for _, id := range []string{channelRID(1<<62, s), pumpRID(s), observationRID(channelKey(1<<62, s), -1<<40)} {
			if !idRE.MatchString(id) {
				t.Errorf("%q: id %q is not a valid FHIR id", s, id)
			}
			if prev, dup := seen[id]; dup && prev != s {
				t.Errorf("%q and %q share id %q", prev, s, id)
			}
			seen[id] = s
		}
	}
}

func TestObservationRID(t *testing.T) {
	key := channelKey(12, "air temp")
	id := observationRID(key, 1773143995000)
	k, ms, ok := parseObservationRID(id)
	if !ok || k != key || ms != 1773143995000 {
		t.Fatalf("round trip of %q: %q %d %v", id, k, ms, ok)
	}
	for _, bad := range []string{"obs-", "obs-1", "obs-1.x", "obs-1.x.y", "asset-1", "obs-.5"} {
		if _, _, ok := parseObservationRID(bad); ok {
			t.Errorf("%q parsed as an observation id", bad)
		}
	}
}

func TestCalibration(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		due       time.Time
		state     string
		extension bool
	}{
		{time.Time{}, "unspecified", false},
		{now.Add(time.Hour), "calibrated", true},
		{now, "calibration-required", true},
		{now.AddDate(-1, 0, 0), "calibration-required", true},
	}
	for _, tt := range tests {
		c := calibration(tt.due, now)
		if len(c) != 1 || c[0].State != tt.state || (len(c[0].Extension) == 1) != tt.extension || c[0].Time != "" {
			t.Errorf("due %v: %+v, want state %s", tt.due, c, tt.state)
		}
	}
}

func TestQuarantineText(t *testing.T) {
	if got := quarantineText("temperature"); got != "DO NOT USE — temperature excursion" {
		t.Error(got)
	}
	if got := quarantineText("humidity"); got != "DO NOT USE — relative humidity excursion" {
		t.Error(got)
	}
}

// TestBuildings: floors name their buildings; each building is one
// Location under the site, each floor part of its own, and the unnamed
// building keeps the configured name.
func TestBuildings(t *testing.T) {
	s := newSite("General Hospital", "Main building", []wardwatch.Floor{
		{ID: 1, Name: "Ward 4", Building: "East Wing"}, {ID: 2, Name: "Ward 5", Building: "East Wing"},
		{ID: 3, Name: "Theatres", Building: "South Block (2019)"}, {ID: 4, Name: "Basement"},
	}, nil)
	locs := s.locations()
	byID := map[string]Location{}
	var buildings []string
	for _, l := range locs {
		byID[l.ID] = l
		if l.PhysicalType != nil && l.PhysicalType.Coding[0].Code == "bu" {
			buildings = append(buildings, l.Name)
			if !regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`).MatchString(l.ID) {
				t.Errorf("building id %q is not a FHIR id", l.ID)
			}
		}
	}
	if want := []string{"Main building", "East Wing", "South Block (2019)"}; !slices.Equal(buildings, want) {
		t.Fatalf("buildings %q, want %q", buildings, want)
	}
	if byID[floorRID(1)].PartOf.Reference != byID[floorRID(2)].PartOf.Reference ||
		byID[floorRID(1)].PartOf.Display != "East Wing" || byID[floorRID(4)].PartOf.Reference != "Location/"+buildingRID {
		t.Errorf("floors' buildings: %+v %+v %+v", byID[floorRID(1)].PartOf, byID[floorRID(2)].PartOf, byID[floorRID(4)].PartOf)
	}
	if buildingID("East Wing") == buildingID("East-Wing") {
		t.Error("two building names that read alike share an id")
	}
}

// TestSensorKeys: tag and pump channel keys are valid in every id, never
// clash with each other or with Modbus keys, and parse back.
func TestSensorKeys(t *testing.T) {
	for _, m := range wardwatch.Metrics() {
		if p := metricIDPart(m); strings.ContainsAny(p, "._") || p == "" {
			t.Errorf("metric %s: id part %q", m, p)
		}
	}
	seen := map[string]string{}
	sensors := []string{"mac:aabbccddeeff", "eddystone:edd1ebeac04e5defa017:0bdb87539b67",
		"ibeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e:100:7", "epc:3034257bf7194e4000001a85", "a.b", "x", strings.Repeat("z", 200)}
	for _, s := range sensors {
		for _, m := range wardwatch.Metrics() {
			for kind, key := range map[string]string{"tag": tagChannelKey(s, m), "pump": pumpChannelKey(s, m)} {
				for _, id := range []string{"channel-" + key, observationRID(key, 1773144000000), observationRID(key, 99999999999999)} {
					if !idRE.MatchString(id) {
						t.Errorf("%s %q %s: id %q is not a valid FHIR id", kind, s, m, id)
					}
				}
				if prev, dup := seen[key]; dup {
					t.Errorf("%s and %s %q %s share key %q", prev, kind, s, m, key)
				}
				seen[key] = kind + " " + s + " " + string(m)
				gotKind, part, gotM, ok := parseSensorKey(key)
				if !ok || gotKind != kind || gotM != m || part != idSafe(s, maxSensorPart) {
					t.Errorf("parseSensorKey(%q) = %s %s %s %v", key, gotKind, part, gotM, ok)
				}
				k, ms, ok := parseObservationRID(observationRID(key, 1773144000000))
				if !ok || k != key || ms != 1773144000000 {
					t.Errorf("observation id of %q: %q %d %v", key, k, ms, ok)
				}
			}
		}
	}
	for _, bad := range []string{"12.cabinet", "tag.x", "tag..temperature", "tag.x.colour", "tag.x.y.temperature",
		"pump.x.battery_percent", "plug.x.temperature", ""} {
		if _, _, _, ok := parseSensorKey(bad); ok {
			t.Errorf("%q parsed as a sensor key", bad)
		}
	}
}

// TestSensorChannel maps readings' sensor IDs to the Device they belong
// to: a tag's asset, a pump's asset by serial or its pump Device; others
// have none.
func TestSensorChannel(t *testing.T) {
	inv := newInventory(inventoryInput{site: newSite("H", "B", nil, nil),
		assets: []wardwatch.Asset{{ID: 7, Name: "Pump 7", Serial: "P7"}, {ID: 3, AssetTag: "BED-3"}, {ID: 9, Serial: "P7"}},
		pumps:  []wardwatch.PumpState{{Serial: "P8"}, {Serial: "P7"}},
		tags:   []wardwatch.Tag{{ID: "mac:000000000003", AssetID: 3}, {ID: "mac:000000000099", AssetID: 99}},
		latest: []wardwatch.Reading{{SensorID: "mac:000000000003", Metric: wardwatch.MetricTemperature}},
	})
	tests := []struct {
		sid    string
		metric wardwatch.Metric
		owner  string // "" when there is no channel
		asset  int64
	}{
		{"mac:000000000003", wardwatch.MetricTemperature, "Device/asset-3|BED-3", 3},
		{"mac:000000000003", wardwatch.MetricBatteryVoltage, "Device/asset-3|BED-3", 3},
		{"mac:000000000003", "colour", "", 0},
		{"mac:000000000099", wardwatch.MetricTemperature, "", 0}, // its asset is gone
		{"mac:00000000000a", wardwatch.MetricTemperature, "", 0}, // unassigned
		{"pump:P7", wardwatch.MetricBatteryPercent, "Device/asset-7|Pump 7", 7},
		{"pump:P8", wardwatch.MetricBatteryPercent, "Device/pump-P8|Infusion pump P8", 0},
		{"pump:P9", wardwatch.MetricBatteryPercent, "", 0},
		{"pump:", wardwatch.MetricBatteryPercent, "", 0},
	}
	for _, tt := range tests {
		c, ok := inv.sensorChannel(tt.sid, tt.metric)
		got := ""
		if ok {
			got = c.owner.Reference + "|" + c.owner.Display
		}
		if got != tt.owner || c.assetID != tt.asset {
			t.Errorf("sensorChannel(%s, %s) = %q (asset %d), want %q (asset %d)", tt.sid, tt.metric, got, c.assetID, tt.owner, tt.asset)
			continue
		}
		if !ok {
			continue
		}
		if back, ok := inv.sensorChannelByKey(c.key); !ok || back.sid != tt.sid || back.ch.Metric != tt.metric {
			t.Errorf("sensorChannelByKey(%s) = %+v, %v", c.key, back, ok)
		}
	}
	// Only the reporting channel is live; the asset's other metrics are
	// found for history through the asset.
	if n := len(inv.channels); n != 1 || inv.channels[0].key != tagChannelKey("mac:000000000003", wardwatch.MetricTemperature) {
		t.Errorf("live channels: %+v", inv.channels)
	}
	if n := len(inv.sensorChannelsOf("asset-3")); n != len(tagMetrics) {
		t.Errorf("asset-3: %d channels, want %d", n, len(tagMetrics))
	}
	if cs := inv.sensorChannelsOf("asset-7"); len(cs) != 1 || cs[0].sid != "pump:P7" {
		t.Errorf("asset-7: %+v", cs)
	}
	if cs := inv.sensorChannelsOf("asset-9"); len(cs) != 0 { // P7 is shown as asset-7
		t.Errorf("asset-9: %+v", cs)
	}
	if cs := inv.sensorChannelsOf("pump-P8"); len(cs) != 1 || cs[0].sid != "pump:P8" {
		t.Errorf("pump-P8: %+v", cs)
	}
	for _, id := range []string{"asset-x", "asset-", "unit-3", "pump-P9", "channel-1.cabinet"} {
		if cs := inv.sensorChannelsOf(id); len(cs) != 0 {
			t.Errorf("%s: %+v", id, cs)
		}
	}
}

// FuzzParseObservationRID feeds arbitrary ids to the observation and
// sensor key parsers: they must never panic, and a sensor key they accept
// names a known metric.
func FuzzParseObservationRID(f *testing.F) {
	for _, s := range []string{"obs-1.cabinet.1773143970000", "obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143980000",
		"obs-pump.SN-2D0412.battery-percent.-5", "obs-tag..x.1", "obs-", "obs-.", "obs-tag.--abc.battery-voltage.99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		key, _, ok := parseObservationRID(id)
		if !ok {
			return
		}
		if kind, _, m, ok := parseSensorKey(key); ok && (!m.Valid() || kind != "tag" && kind != "pump") {
			t.Fatalf("%q: kind %q metric %q", key, kind, m)
		}
	})
}

// TestAssetUDIMapping checks each agency's UDI becomes a udiCarrier and a
// UDI identifier with the agency's naming system, that a stored UDI that
// no longer parses is left out rather than emitted wrong, and where
// modelNumber comes from.
func TestAssetUDIMapping(t *testing.T) {
	inv := newInventory(inventoryInput{site: newSite("Site", "Main", nil, nil), assetTagSys: DefaultAssetTagSystem,
		assets: []wardwatch.Asset{
			{ID: 1, Name: "Graft", Kind: wardwatch.AssetOther, UDI: "=/A9999XYZ100T0944=,000025", Manufacturer: "Tissue bank"},
			{ID: 2, Name: "Old", Kind: wardwatch.AssetBed, UDI: "(01)00614141123453", Model: "B-1"}, // check digit wrong
			{ID: 3, Name: "Pump", Kind: wardwatch.AssetInfusionPump, Serial: "S3", Model: "LVP-200", Manufacturer: "Harbourline Medical"},
		},
		pumps: []wardwatch.PumpState{{Serial: "S3"}}, // reports no model
	})
	ds := inv.devices()
	if len(ds) != 3 {
		t.Fatalf("%d devices", len(ds))
	}
	graft, old, pump := ds[0], ds[1], ds[2]
	wantCarrier := []UDICarrier{{DeviceIdentifier: "A9999XYZ100T0944", Issuer: SystemUDIICCBBA, CarrierHRF: "=/A9999XYZ100T0944=,000025", EntryType: "manual"}}
	if !slices.Equal(graft.UDICarrier, wantCarrier) || len(graft.Identifier) != 1 || graft.Identifier[0].System != SystemUDIICCBBA ||
		graft.Identifier[0].Value != "A9999XYZ100T0944" || graft.Identifier[0].Type.Coding[0].Code != "UDI" || graft.Manufacturer != "Tissue bank" {
		t.Errorf("ICCBBA asset: %+v", graft)
	}
	if old.UDICarrier != nil || old.Identifier != nil || old.ModelNumber != "B-1" {
		t.Errorf("asset with a bad stored UDI: %+v", old)
	}
	if pump.ModelNumber != "LVP-200" || pump.Manufacturer != "Harbourline Medical" || pump.UDICarrier != nil {
		t.Errorf("pump reporting no model: %+v", pump)
	}
	for _, i := range []wardwatch.UDIIssuer{wardwatch.UDIIssuerGS1, wardwatch.UDIIssuerHIBCC, wardwatch.UDIIssuerICCBBA} {
		if udiIssuerSystem(i) == "" {
			t.Errorf("no naming system for %s", i)
		}
	}
	if udiIssuerSystem("IFA") != "" {
		t.Error("a naming system for an agency WardWatch does not read")
	}
}
