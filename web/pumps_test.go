package web

import (
	"math"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"2026.10", "2026.4", 1}, {"2025.1", "2026.4", -1}, {"1.2.3", "1.2.3", 0}, {"1.2", "1.2.1", -1}, {"2026.4", "", 1}, {"b", "a", 1},
	} {
		if got := compareVersions(c.a, c.b); got != c.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestBuildPumps(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	s := testSite()
	assets := []wardwatch.Asset{{ID: 1, Name: "Pump A", Kind: wardwatch.AssetInfusionPump, Serial: "SN-1"},
		{ID: 2, Name: "Pump B", Kind: wardwatch.AssetInfusionPump, AssetTag: "SN-2"}}
	latest := map[int64]wardwatch.Position{1: {AssetID: 1, FloorID: 1, ZoneID: 10, Time: now}}
	ps := []wardwatch.PumpState{
		{Time: now, Serial: "SN-1", Status: wardwatch.PumpInfusing, Rate: 25, Battery: 80, OnAC: true, DrugLibrary: "ICU", DrugLibraryVersion: "2026.4"},
		{Time: now, Serial: "SN-2", Status: wardwatch.PumpIdle, Rate: math.NaN(), Battery: 12, DrugLibrary: "ICU", DrugLibraryVersion: "2025.1"},
		{Time: now.Add(-time.Hour), Serial: "SN-3", Status: wardwatch.PumpIdle, Battery: math.NaN(), Rate: math.NaN()},
		{Time: now, Serial: "SN-4", Status: wardwatch.PumpAlarming, Battery: 50, Rate: 5, Alarms: []wardwatch.PumpAlarm{{Code: "OCC", Text: "Occlusion", Priority: wardwatch.PriorityHigh}}},
	}
	v := buildPumps(ps, assets, latest, s, nil, now)
	if v.Infusing != 1 || v.Idle != 1 || v.Alarming != 1 || v.Offline != 1 || v.Low != 1 || v.Old != 1 {
		t.Fatalf("counts: %+v", v)
	}
	order := ""
	for _, r := range v.Rows {
		order += r.State.Serial + " "
	}
	if order != "SN-3 SN-4 SN-2 SN-1 " {
		t.Errorf("order = %q, want offline, alarming, low battery, then the rest", order)
	}
	last := v.Rows[3]
	if last.Asset == nil || last.Asset.ID != 1 || last.Where != "1-A · Level 1" || last.Rate != "25.0 ml/h" {
		t.Errorf("linked pump row = %+v", last)
	}
	if v.Rows[2].Asset == nil || v.Rows[2].Asset.ID != 2 || !v.Rows[2].OldLibrary {
		t.Errorf("pump linked by asset tag with an old library = %+v", v.Rows[2])
	}
	// An approved version overrides the newest seen.
	v = buildPumps(ps, assets, latest, s, map[string]string{"ICU": "2025.1"}, now)
	for _, r := range v.Rows {
		if r.State.Serial == "SN-1" && !r.OldLibrary {
			t.Error("2026.4 should be out of date when 2025.1 is approved")
		}
	}
	if got := pumpStateText(ps[0]); got != "Infusing · 25.0 ml/h · battery 80% (on mains)" {
		t.Errorf("pumpStateText = %q", got)
	}
}
