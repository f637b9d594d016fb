package alerts

import (
	"fmt"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Zones of a small ward: 1 clean equipment room, 2 soiled utility, 3–4
// patient rooms, 5 trash holding, 6 exit, 7 a corridor, 8 another unit's
// clean room.
var wardZones = []AssetZone{
	{ID: 1, Name: "4B clean equipment", Kind: wardwatch.ZoneCleanUtility, FloorID: 1},
	{ID: 2, Name: "4B soiled utility", Kind: wardwatch.ZoneSoiledUtility, FloorID: 1},
	{ID: 3, Name: "4B-12", Kind: wardwatch.ZoneRoom, FloorID: 1},
	{ID: 4, Name: "4B-14", Kind: wardwatch.ZoneRoom, FloorID: 1},
	{ID: 5, Name: "Trash holding", Kind: wardwatch.ZoneTrashHolding, FloorID: 0},
	{ID: 6, Name: "East exit", Kind: wardwatch.ZoneExit, FloorID: 0},
	{ID: 7, Name: "4B corridor", Kind: wardwatch.ZoneCorridor, FloorID: 1},
	{ID: 8, Name: "5A clean equipment", Kind: wardwatch.ZoneCleanEquipment, FloorID: 2},
}

func pumps(n int, zone int64, status AssetStatus, firstID int64) []TrackedAsset {
	var out []TrackedAsset
	for i := 0; i < n; i++ {
		id := firstID + int64(i)
		out = append(out, TrackedAsset{ID: id, Name: fmt.Sprintf("Pump %04d", id), Kind: wardwatch.AssetInfusionPump,
			Status: status, ZoneID: zone, FloorID: 1, LastSeen: t0})
	}
	return out
}

func zc(asset, from, to int64, d time.Duration) wardwatch.ZoneChange {
	return wardwatch.ZoneChange{AssetID: asset, FromZone: from, ToZone: to, Time: at(d), TagID: "tag"}
}

// TestAssetGeofencesAndStatus walks a pump through a ward: into use, to
// soiled utility, into the trash room, out of the building.
func TestAssetGeofencesAndStatus(t *testing.T) {
	two := 2
	cfg := AssetConfig{
		Assets: pumps(1, 1, StatusAvailable, 1),
		Zones:  wardZones,
		ZoneRules: append(DefaultZoneRules(),
			ZoneRule{Kind: wardwatch.ZoneCleanUtility, Trigger: TriggerExit, Name: "Pump left clean room", Priority: PriorityInfo, Team: TeamNursing}),
		PAR: []PARLevel{{ID: "4b-pumps", Name: "4B pumps", Kind: wardwatch.AssetInfusionPump, CleanZones: []int64{1}, SoiledZones: []int64{2}, CleanMin: 1, SoiledMax: &two}},
	}
	e, err := NewAssetEvaluator(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	var changes []Change
	var statuses []string
	feed := func(o Output, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, o.Changes...)
		for _, s := range o.Statuses {
			statuses = append(statuses, fmt.Sprintf("%s>%s +%s", s.From, s.To, s.Time.Sub(t0)))
		}
	}
	feed(e.ObserveZoneChange(zc(1, 1, 3, minute)))                                                          // into a patient room: in use
	feed(e.ObservePosition(wardwatch.Position{AssetID: 1, ZoneID: 3, FloorID: 1, Time: at(2 * minute)}))    // same zone: nothing
	feed(e.ObserveZoneChange(zc(1, 3, 2, time.Hour)))                                                       // soiled utility: soiled
	feed(e.ObserveZoneChange(zc(1, 2, 5, 2*time.Hour)))                                                     // trash holding
	feed(e.ObserveZoneChange(zc(1, 5, 6, 2*time.Hour+5*minute)))                                            // out of the building
	feed(e.ObserveZoneChange(zc(1, 6, 1, 3*time.Hour)))                                                     // back into the clean room: available
	feed(e.ObservePosition(wardwatch.Position{AssetID: 1, ZoneID: 1, FloorID: 1, Time: at(3 * time.Hour)})) // not newer: ignored
	diff(t, "changes", brief(changes), []string{
		"raise zone_exit:clean_utility@asset:1 +1m0s",
		"clear zone_exit:clean_utility@asset:1 +1m0s",
		"raise par_clean_low@par:4b-pumps +1m0s",
		"raise zone_enter:trash_holding@asset:1 +2h0m0s",
		"clear zone_enter:trash_holding@asset:1 +2h5m0s",
		"raise zone_enter:exit@asset:1 +2h5m0s",
		"clear zone_enter:exit@asset:1 +3h0m0s",
		"clear par_clean_low@par:4b-pumps +3h0m0s",
	})
	diff(t, "statuses", statuses, []string{
		"available>in_use +1m0s",
		"in_use>soiled +1h0m0s",
		"soiled>available +3h0m0s",
	})
	trash := changes[3]
	if trash.Priority != PriorityHigh || trash.Team != TeamEVS || trash.SubjectName != "Pump 0001" {
		t.Errorf("trash alert %+v", trash)
	}
	if s := e.Stats(); s.Late != 1 || s.Readings != 6 {
		t.Errorf("stats %+v", s)
	}
}

// TestAssetMissingAndPM: missing after 7 days (status missing, restored
// when seen); PM due 30 days ahead and overdue on the date.
func TestAssetMissingAndPM(t *testing.T) {
	a := pumps(1, 3, StatusInUse, 1)[0]
	a.NextPMDue = at(40 * 24 * time.Hour)
	e, err := NewAssetEvaluator(AssetConfig{Assets: []TrackedAsset{a}, Zones: wardZones}, t0)
	if err != nil {
		t.Fatal(err)
	}
	var got []Change
	var statuses []string
	add := func(o Output) {
		got = append(got, o.Changes...)
		for _, s := range o.Statuses {
			statuses = append(statuses, fmt.Sprintf("%s>%s", s.From, s.To))
		}
	}
	for d := time.Duration(0); d <= 12*24*time.Hour; d += time.Hour {
		add(e.Tick(at(d)))
	}
	o, err := e.ObservePosition(wardwatch.Position{AssetID: 1, ZoneID: 4, FloorID: 1, Time: at(12*24*time.Hour + time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	add(o)
	for d := 13 * 24 * time.Hour; d <= 41*24*time.Hour; d += 24 * time.Hour {
		add(e.Tick(at(d)))
	}
	diff(t, "changes", brief(got), []string{
		"raise asset_missing@asset:1 +168h0m0s",
		"raise pm_due@asset:1 +240h0m0s",
		"clear asset_missing@asset:1 +288h1m0s",
		"raise asset_missing@asset:1 +456h1m0s", // unseen again for 7 days
		"clear pm_due@asset:1 +960h0m0s",
		"raise pm_overdue@asset:1 +960h0m0s",
	})
	diff(t, "statuses", statuses, []string{"in_use>missing", "missing>in_use", "in_use>missing"})
}

// TestPARPickList fills a short PAR from another unit's surplus and from
// idle pumps, never taking another level below its minimum, and picks the
// soiled pumps that waited longest.
func TestPARPickList(t *testing.T) {
	one := 1
	var assets []TrackedAsset
	assets = append(assets, pumps(1, 1, StatusAvailable, 1)...)  // 4B clean: 1 (min 4)
	assets = append(assets, pumps(3, 8, StatusAvailable, 10)...) // 5A clean: 3 (min 2): surplus 1
	assets = append(assets, pumps(2, 7, StatusAvailable, 20)...) // idle in the 4B corridor
	assets = append(assets, pumps(1, 3, StatusInUse, 30)...)     // in use: not a candidate
	assets = append(assets, pumps(3, 7, StatusInUse, 40)...)     // on their way to 4B soiled utility (max 1)
	assets[4].LastSeen = at(-time.Hour)                          // pump 20 seen longer ago than 21
	cfg := AssetConfig{Assets: assets, Zones: wardZones, PAR: []PARLevel{
		{ID: "4b", Name: "4B pumps", Kind: wardwatch.AssetInfusionPump, CleanZones: []int64{1}, SoiledZones: []int64{2}, CleanMin: 4, SoiledMax: &one},
		{ID: "5a", Name: "5A pumps", Kind: wardwatch.AssetInfusionPump, CleanZones: []int64{8}, CleanMin: 2},
	}}
	e, err := NewAssetEvaluator(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Soiled pumps arrived in order 42, 40, 41.
	for i, id := range []int64{42, 40, 41} {
		if _, err := e.ObserveZoneChange(zc(id, 7, 2, time.Duration(i+1)*minute)); err != nil {
			t.Fatal(err)
		}
	}
	stock := e.Stock()
	if stock[0].Clean != 1 || stock[0].Soiled != 3 || !stock[0].CleanLow || !stock[0].SoiledHigh || stock[1].Clean != 3 || stock[1].CleanLow {
		t.Errorf("stock %+v", stock)
	}
	var got []string
	for _, p := range e.PickList() {
		got = append(got, fmt.Sprintf("%s %s %d %s>%s", p.PAR, p.Action, p.AssetID, p.FromZone, p.ToZone))
	}
	diff(t, "pick list", got, []string{
		"4b restock 10 5A clean equipment>4B clean equipment",
		"4b restock 21 4B corridor>4B clean equipment",
		"4b restock 20 4B corridor>4B clean equipment",
		"4b collect 42 4B soiled utility>decontamination",
		"4b collect 40 4B soiled utility>decontamination",
	})
}

// TestAssetConfigErrors lists refused configurations.
func TestAssetConfigErrors(t *testing.T) {
	neg := -1
	for name, cfg := range map[string]AssetConfig{
		"asset id":      {Assets: []TrackedAsset{{ID: 0}}},
		"duplicate":     {Assets: []TrackedAsset{{ID: 1}, {ID: 1}}},
		"status":        {Assets: []TrackedAsset{{ID: 1, Status: "broken"}}},
		"zone id":       {Zones: []AssetZone{{ID: -1}}},
		"zone rule":     {ZoneRules: []ZoneRule{{Kind: wardwatch.ZoneExit, Trigger: "near"}}},
		"zone priority": {ZoneRules: []ZoneRule{{Kind: wardwatch.ZoneExit, Trigger: TriggerEnter, Name: "x", Priority: "urgent"}}},
		"par id":        {PAR: []PARLevel{{ID: "A B", Kind: wardwatch.AssetBed}}},
		"par kind":      {PAR: []PARLevel{{ID: "a", Kind: "sofa"}}},
		"par negative":  {PAR: []PARLevel{{ID: "a", Kind: wardwatch.AssetBed, SoiledZones: []int64{1}, SoiledMax: &neg}}},
		"par zones":     {PAR: []PARLevel{{ID: "a", Kind: wardwatch.AssetBed, CleanMin: 2}}},
	} {
		if _, err := NewAssetEvaluator(cfg, t0); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	e, _ := NewAssetEvaluator(AssetConfig{}, t0)
	if _, err := e.ObservePosition(wardwatch.Position{}); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("empty position: %v", err)
	}
	if _, err := e.SetStatus(9, StatusInRepair, t0); wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
		t.Errorf("unknown asset: %v", err)
	}
}
