package sql

import (
	"bytes"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
	"github.com/wardwatch/wardwatch/internal/pgtest"
)

// TestStoreSQLite runs the store contract against a SQLite file.
func TestStoreSQLite(t *testing.T) {
	testStore(t, func(t *testing.T) *Store {
		s, err := Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "sub", "dir", "wardwatch.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestStorePostgres runs the store contract against PostgreSQL, each test
// in a fresh schema of its own.
func TestStorePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	testStore(t, func(t *testing.T) *Store {
		s, err := Open(t.Context(), "postgres", pgtest.FreshSchema(t, dsn))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// testStore is the contract every engine's Store meets. open returns an
// opened store that has not been migrated.
func testStore(t *testing.T, open func(t *testing.T) *Store) {
	ctx := t.Context()
	migrated := func(t *testing.T) *Store {
		t.Helper()
		s := open(t)
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	}

	t.Run("Migrations", func(t *testing.T) {
		s := open(t)
		if v, err := s.Version(ctx); err != nil || v != 0 {
			t.Fatalf("Version before Migrate = %d, %v; want 0", v, err)
		}
		want := highestVersion(t, migrationDir(s.engine))
		for i := range 2 {
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate #%d: %v", i+1, err)
			}
			if v, err := s.Version(ctx); err != nil || v != want {
				t.Fatalf("Version after Migrate #%d = %d, %v; want %d", i+1, v, err, want)
			}
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})

	t.Run("Floors", func(t *testing.T) {
		s := migrated(t)
		for _, f := range []wardwatch.Floor{
			{Name: "", Width: 10, Height: 10},
			{Name: "  ", Width: 10, Height: 10},
			{Name: "x", Width: 0, Height: 10},
			{Name: "x", Width: 10, Height: -1},
			{Name: "x", Width: math.NaN(), Height: 10},
			{Name: "x", Width: 10, Height: math.Inf(1)},
			{Name: "x", Level: math.MaxInt32 + 1, Width: 10, Height: 10},
			{Name: "x", Building: strings.Repeat("b", 101), Width: 10, Height: 10},
			{Name: "x", Building: "Main\x00", Width: 10, Height: 10},
		} {
			wantCode(t, "CreateFloor", s.CreateFloor(ctx, &f), wardwatch.EINVALID)
		}

		ward := wardwatch.Floor{Name: "Ward 4 — Level 2", Level: 2, Width: 60.5, Height: 30.25}
		ground := wardwatch.Floor{Name: "Ground", Level: 0, Width: 80, Height: 40}
		basementB := wardwatch.Floor{Name: "B", Level: -1, Width: 20, Height: 20}
		basementA := wardwatch.Floor{Name: "A", Level: -1, Width: 20, Height: 20}
		eastGround := wardwatch.Floor{Name: "East ground", Building: "  East wing ", Level: 0, Width: 30, Height: 20}
		eastFirst := wardwatch.Floor{Name: "East 1", Building: "East wing", Level: 1, Width: 30, Height: 20}
		for _, f := range []*wardwatch.Floor{&ward, &eastFirst, &ground, &basementB, &eastGround, &basementA} {
			if err := s.CreateFloor(ctx, f); err != nil {
				t.Fatalf("CreateFloor(%q): %v", f.Name, err)
			}
			if f.ID == 0 {
				t.Fatalf("CreateFloor(%q) left ID 0", f.Name)
			}
		}
		got, err := s.Floor(ctx, ward.ID)
		if err != nil || got != ward {
			t.Fatalf("Floor(%d) = %+v, %v; want %+v", ward.ID, got, err, ward)
		}
		_, err = s.Floor(ctx, ward.ID+1000)
		wantCode(t, "Floor(missing)", err, wardwatch.ENOTFOUND)

		all, err := s.Floors(ctx)
		if err != nil {
			t.Fatalf("Floors: %v", err)
		}
		if eastGround.Building != "East wing" {
			t.Fatalf("CreateFloor left building %q, want it trimmed", eastGround.Building)
		}
		if want := []wardwatch.Floor{basementA, basementB, ground, ward, eastGround, eastFirst}; !slices.Equal(all, want) {
			t.Fatalf("Floors = %+v\nwant %+v", all, want)
		}
		ward.Building = "Main"
		if err := s.UpdateFloor(ctx, ward); err != nil {
			t.Fatalf("UpdateFloor(building): %v", err)
		}
		if got, err := s.Floor(ctx, ward.ID); err != nil || got != ward {
			t.Fatalf("Floor after UpdateFloor = %+v, %v; want %+v", got, err, ward)
		}
		bad := ward
		bad.Building = strings.Repeat("b", 101)
		wantCode(t, "UpdateFloor(long building)", s.UpdateFloor(ctx, bad), wardwatch.EINVALID)
	})

	t.Run("FloorPlans", func(t *testing.T) {
		s := migrated(t)
		f := mustFloor(t, s)
		_, err := s.FloorPlan(ctx, f.ID)
		wantCode(t, "FloorPlan(none)", err, wardwatch.ENOTFOUND)
		wantCode(t, "SetFloorPlan(missing floor)",
			s.SetFloorPlan(ctx, f.ID+1000, wardwatch.FloorPlan{ContentType: "image/png", Data: []byte{1}}), wardwatch.ENOTFOUND)
		wantCode(t, "SetFloorPlan(no type)",
			s.SetFloorPlan(ctx, f.ID, wardwatch.FloorPlan{Data: []byte{1}}), wardwatch.EINVALID)
		wantCode(t, "SetFloorPlan(no data)",
			s.SetFloorPlan(ctx, f.ID, wardwatch.FloorPlan{ContentType: "image/png"}), wardwatch.EINVALID)

		png := wardwatch.FloorPlan{ContentType: "image/png", Data: []byte{0x89, 'P', 'N', 'G', 0, 0xff, '\r', '\n'}}
		svg := wardwatch.FloorPlan{ContentType: "image/svg+xml", Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)}
		for _, p := range []wardwatch.FloorPlan{png, svg} {
			if err := s.SetFloorPlan(ctx, f.ID, p); err != nil {
				t.Fatalf("SetFloorPlan(%s): %v", p.ContentType, err)
			}
			got, err := s.FloorPlan(ctx, f.ID)
			if err != nil || got.ContentType != p.ContentType || !bytes.Equal(got.Data, p.Data) {
				t.Fatalf("FloorPlan = %q %q, %v; want %q %q", got.ContentType, got.Data, err, p.ContentType, p.Data)
			}
		}
	})

	t.Run("Zones", func(t *testing.T) {
		s := migrated(t)
		f1, f2 := mustFloor(t, s), mustFloor(t, s)
		square := floorplan.Rectangle(1, 2, 3, 4)
		for name, z := range map[string]wardwatch.Zone{
			"empty name":  {FloorID: f1.ID, Name: "", Kind: wardwatch.ZoneRoom, Polygon: square},
			"bad kind":    {FloorID: f1.ID, Name: "x", Kind: "ballroom", Polygon: square},
			"two points":  {FloorID: f1.ID, Name: "x", Kind: wardwatch.ZoneRoom, Polygon: square[:2]},
			"no area":     {FloorID: f1.ID, Name: "x", Kind: wardwatch.ZoneRoom, Polygon: []wardwatch.Point{{X: 0, Y: 0}, {X: 1, Y: 1}, {X: 2, Y: 2}}},
			"NaN vertex":  {FloorID: f1.ID, Name: "x", Kind: wardwatch.ZoneRoom, Polygon: []wardwatch.Point{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: math.NaN(), Y: 1}}},
			"nil polygon": {FloorID: f1.ID, Name: "x", Kind: wardwatch.ZoneRoom},
			"bad unit":    {FloorID: f1.ID, Name: "x", Kind: wardwatch.ZoneRoom, Polygon: square, CareUnit: "4B;drop"},
			"long unit":   {FloorID: f1.ID, Name: "x", Kind: wardwatch.ZoneRoom, Polygon: square, CareUnit: strings.Repeat("u", 65)},
		} {
			wantCode(t, "CreateZone("+name+")", s.CreateZone(ctx, &z), wardwatch.EINVALID)
		}
		missing := wardwatch.Zone{FloorID: f2.ID + 1000, Name: "x", Kind: wardwatch.ZoneRoom, Polygon: square}
		wantCode(t, "CreateZone(missing floor)", s.CreateZone(ctx, &missing), wardwatch.ENOTFOUND)

		b := wardwatch.Zone{FloorID: f1.ID, Name: "4B-12", Kind: wardwatch.ZoneRoom, Polygon: square, CareUnit: " 4B "}
		a := wardwatch.Zone{FloorID: f1.ID, Name: "4B-01", Kind: wardwatch.ZoneCleanUtility, CareUnit: "4B",
			Polygon: []wardwatch.Point{{X: 0.125, Y: 0}, {X: 10.5, Y: 0.001}, {X: 5, Y: 7.75}}}
		c := wardwatch.Zone{FloorID: f2.ID, Name: "Corridor", Kind: wardwatch.ZoneCorridor, Polygon: square}
		for _, z := range []*wardwatch.Zone{&b, &a, &c} {
			if err := s.CreateZone(ctx, z); err != nil {
				t.Fatalf("CreateZone(%q): %v", z.Name, err)
			}
			if z.ID == 0 {
				t.Fatalf("CreateZone(%q) left ID 0", z.Name)
			}
		}
		for _, tc := range []struct {
			floor int64
			want  []wardwatch.Zone
		}{
			{0, []wardwatch.Zone{a, b, c}},
			{f1.ID, []wardwatch.Zone{a, b}},
			{f2.ID, []wardwatch.Zone{c}},
			{f2.ID + 1000, nil},
		} {
			got, err := s.Zones(ctx, tc.floor)
			if err != nil {
				t.Fatalf("Zones(%d): %v", tc.floor, err)
			}
			if !slices.EqualFunc(got, tc.want, zoneEqual) {
				t.Fatalf("Zones(%d) = %+v\nwant %+v", tc.floor, got, tc.want)
			}
		}
		if b.CareUnit != "4B" {
			t.Fatalf("CreateZone left care unit %q, want it trimmed", b.CareUnit)
		}
		c.CareUnit = "Pharmacy.Store-1"
		if err := s.UpdateZone(ctx, c); err != nil {
			t.Fatalf("UpdateZone(care unit): %v", err)
		}
		if got, err := s.Zones(ctx, f2.ID); err != nil || len(got) != 1 || got[0].CareUnit != c.CareUnit {
			t.Fatalf("Zones after UpdateZone = %+v, %v", got, err)
		}
		bad := c
		bad.CareUnit = "<script>"
		wantCode(t, "UpdateZone(bad care unit)", s.UpdateZone(ctx, bad), wardwatch.EINVALID)
	})

	t.Run("Gateways", func(t *testing.T) {
		s := migrated(t)
		f := mustFloor(t, s)
		for name, g := range map[string]wardwatch.Gateway{
			"empty key":   {FloorID: f.ID, Key: ""},
			"blank key":   {FloorID: f.ID, Key: " \t"},
			"NaN x":       {FloorID: f.ID, Key: "gw", At: wardwatch.Point{X: math.NaN()}},
			"inf calibre": {FloorID: f.ID, Key: "gw", PathLossExponent: math.Inf(-1)},
		} {
			wantCode(t, "CreateGateway("+name+")", s.CreateGateway(ctx, &g), wardwatch.EINVALID)
		}
		missing := wardwatch.Gateway{Key: "gw-x", FloorID: f.ID + 1000}
		wantCode(t, "CreateGateway(missing floor)", s.CreateGateway(ctx, &missing), wardwatch.ENOTFOUND)

		room := wardwatch.Zone{FloorID: f.ID, Name: "4B-12", Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(10, 0, 4, 5)}
		if err := s.CreateZone(ctx, &room); err != nil {
			t.Fatalf("CreateZone: %v", err)
		}
		noAnchor := wardwatch.Gateway{Key: "gw-y", FloorID: f.ID, AnchorZoneID: room.ID + 1000}
		wantCode(t, "CreateGateway(missing anchor zone)", s.CreateGateway(ctx, &noAnchor), wardwatch.ENOTFOUND)

		g2 := wardwatch.Gateway{Key: "AC233F000002", Name: "4B-12 ceiling", FloorID: f.ID,
			At: wardwatch.Point{X: 12.5, Y: 3.25}, Z: 2.7, RSSIAt1m: -59.5, PathLossExponent: 2.2,
			RxOffset: -3.5, AnchorZoneID: room.ID, TokenHash: bytes.Repeat([]byte{0xab}, 32)}
		g1 := wardwatch.Gateway{Key: "AC233F000001", Name: "4B nurse station", FloorID: f.ID,
			At: wardwatch.Point{X: 1, Y: 2}, Z: 3, RSSIAt1m: -61, PathLossExponent: 2.8}
		for _, g := range []*wardwatch.Gateway{&g2, &g1} {
			if err := s.CreateGateway(ctx, g); err != nil {
				t.Fatalf("CreateGateway(%q): %v", g.Key, err)
			}
			if g.ID == 0 {
				t.Fatalf("CreateGateway(%q) left ID 0", g.Key)
			}
		}
		dup := wardwatch.Gateway{Key: g1.Key, FloorID: f.ID}
		wantCode(t, "CreateGateway(duplicate)", s.CreateGateway(ctx, &dup), wardwatch.ECONFLICT)

		all, err := s.Gateways(ctx)
		if err != nil {
			t.Fatalf("Gateways: %v", err)
		}
		if want := []wardwatch.Gateway{g1, g2}; !slices.EqualFunc(all, want, gatewayEqual) {
			t.Fatalf("Gateways = %+v\nwant %+v", all, want)
		}
		if all[0].TokenHash != nil {
			t.Fatalf("gateway without token has TokenHash %x, want nil", all[0].TokenHash)
		}

		got, err := s.GatewayByKey(ctx, g2.Key)
		if err != nil || !gatewayEqual(got, g2) {
			t.Fatalf("GatewayByKey = %+v, %v; want %+v", got, err, g2)
		}
		_, err = s.GatewayByKey(ctx, "nope")
		wantCode(t, "GatewayByKey(missing)", err, wardwatch.ENOTFOUND)

		token := bytes.Repeat([]byte{0x01}, 32)
		if err := s.SetGatewayToken(ctx, g1.ID, token); err != nil {
			t.Fatalf("SetGatewayToken: %v", err)
		}
		if got, err := s.GatewayByKey(ctx, g1.Key); err != nil || !bytes.Equal(got.TokenHash, token) {
			t.Fatalf("after SetGatewayToken: TokenHash %x, %v; want %x", got.TokenHash, err, token)
		}
		if err := s.SetGatewayToken(ctx, g1.ID, nil); err != nil {
			t.Fatalf("SetGatewayToken(nil): %v", err)
		}
		if got, err := s.GatewayByKey(ctx, g1.Key); err != nil || got.TokenHash != nil {
			t.Fatalf("after SetGatewayToken(nil): TokenHash %x, %v; want nil", got.TokenHash, err)
		}
		wantCode(t, "SetGatewayToken(missing)", s.SetGatewayToken(ctx, g2.ID+1000, token), wardwatch.ENOTFOUND)
	})

	t.Run("AssetsAndTags", func(t *testing.T) {
		s := migrated(t)
		for name, a := range map[string]wardwatch.Asset{
			"empty name":          {Name: "", Kind: wardwatch.AssetBed},
			"bad kind":            {Name: "x", Kind: "toaster"},
			"no kind":             {Name: "x"},
			"bad UDI check digit": {Name: "x", Kind: wardwatch.AssetBed, UDI: "(01)00884838035452"},
			"UDI of no agency":    {Name: "x", Kind: wardwatch.AssetBed, UDI: "UDI-1234"},
			"long manufacturer":   {Name: "x", Kind: wardwatch.AssetBed, Manufacturer: strings.Repeat("m", 101)},
			"model with newline":  {Name: "x", Kind: wardwatch.AssetBed, Model: "LVP\n200"},
		} {
			wantCode(t, "CreateAsset("+name+")", s.CreateAsset(ctx, &a), wardwatch.EINVALID)
		}
		pump := wardwatch.Asset{Name: "Pump 0412", Kind: wardwatch.AssetInfusionPump}
		bed1 := wardwatch.Asset{Name: "Bed", Kind: wardwatch.AssetBed}
		bed2 := wardwatch.Asset{Name: "Bed", Kind: wardwatch.AssetBed}
		for _, a := range []*wardwatch.Asset{&pump, &bed1, &bed2} {
			if err := s.CreateAsset(ctx, a); err != nil {
				t.Fatalf("CreateAsset(%q): %v", a.Name, err)
			}
		}
		if got, err := s.Asset(ctx, pump.ID); err != nil || got != pump {
			t.Fatalf("Asset = %+v, %v; want %+v", got, err, pump)
		}
		_, err := s.Asset(ctx, pump.ID+1000)
		wantCode(t, "Asset(missing)", err, wardwatch.ENOTFOUND)
		all, err := s.Assets(ctx)
		if err != nil {
			t.Fatalf("Assets: %v", err)
		}
		if want := []wardwatch.Asset{bed1, bed2, pump}; !slices.Equal(all, want) {
			t.Fatalf("Assets = %+v\nwant %+v", all, want)
		}

		wantCode(t, "CreateTag(empty)", s.CreateTag(ctx, wardwatch.Tag{AssetID: pump.ID}), wardwatch.EINVALID)
		wantCode(t, "CreateTag(missing asset)",
			s.CreateTag(ctx, wardwatch.Tag{ID: "mac:aabbccddeeff", AssetID: pump.ID + 1000}), wardwatch.ENOTFOUND)
		tags := []wardwatch.Tag{
			{ID: "ibeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e:100:7", AssetID: pump.ID},
			{ID: "eddystone:edd1ebeac04e5defa017:0bdb87539b67", AssetID: bed1.ID},
			{ID: "epc:3034257bf7194e4000001a85", AssetID: pump.ID},
		}
		for _, tag := range tags {
			if err := s.CreateTag(ctx, tag); err != nil {
				t.Fatalf("CreateTag(%q): %v", tag.ID, err)
			}
		}
		wantCode(t, "CreateTag(duplicate)", s.CreateTag(ctx, wardwatch.Tag{ID: tags[0].ID, AssetID: bed2.ID}), wardwatch.ECONFLICT)
		pump.AssetTag, pump.Serial, pump.Status = "A-0412", "SN-77", wardwatch.StatusInRepair
		pump.PMDue = time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
		if err := s.UpdateAsset(ctx, pump); err != nil {
			t.Fatalf("UpdateAsset: %v", err)
		}
		for _, key := range []string{"SN-77", "A-0412"} {
			if got, err := s.AssetBySerialOrTag(ctx, key); err != nil || got != pump {
				t.Fatalf("AssetBySerialOrTag(%s) = %+v, %v; want %+v", key, got, err, pump)
			}
		}
		_, err = s.AssetBySerialOrTag(ctx, "")
		wantCode(t, "AssetBySerialOrTag(empty)", err, wardwatch.ENOTFOUND)

		// UDI, manufacturer and model: stored trimmed, the UDI in its
		// canonical form; updated and cleared like the other fields.
		monitor := wardwatch.Asset{Name: "Monitor M-01", Kind: wardwatch.AssetMonitor, Serial: " KM-24-0001 ",
			UDI: " (01) 00614141301003 (10)K2403 ", Manufacturer: "  Corvane Patient Monitoring ", Model: "CM-7 "}
		if err := s.CreateAsset(ctx, &monitor); err != nil {
			t.Fatalf("CreateAsset(monitor): %v", err)
		}
		if monitor.UDI != "(01)00614141301003(10)K2403" || monitor.Manufacturer != "Corvane Patient Monitoring" ||
			monitor.Model != "CM-7" || monitor.Serial != "KM-24-0001" {
			t.Fatalf("CreateAsset left %+v", monitor)
		}
		if got, err := s.Asset(ctx, monitor.ID); err != nil || got != monitor {
			t.Fatalf("Asset(monitor) = %+v, %v; want %+v", got, err, monitor)
		}
		pump.UDI, pump.Manufacturer, pump.Model = "+A123BJC5D6E71/$$52001510X3C", "Harbourline Medical", "Volumetric LVP-200"
		if err := s.UpdateAsset(ctx, pump); err != nil {
			t.Fatalf("UpdateAsset(UDI): %v", err)
		}
		if got, err := s.Asset(ctx, pump.ID); err != nil || got != pump {
			t.Fatalf("Asset after UpdateAsset(UDI) = %+v, %v; want %+v", got, err, pump)
		}
		bad := pump
		bad.UDI = "=/A9999XYZ100"
		wantCode(t, "UpdateAsset(bad UDI)", s.UpdateAsset(ctx, bad), wardwatch.EINVALID)
		if got, _ := s.Asset(ctx, pump.ID); got != pump {
			t.Fatalf("a refused UpdateAsset changed the asset: %+v", got)
		}
		monitor.UDI, monitor.Manufacturer, monitor.Model = "", "", ""
		if err := s.UpdateAsset(ctx, monitor); err != nil {
			t.Fatalf("UpdateAsset(clear UDI): %v", err)
		}
		if got, err := s.Asset(ctx, monitor.ID); err != nil || got != monitor {
			t.Fatalf("Asset after clearing = %+v, %v; want %+v", got, err, monitor)
		}
		if err := s.DeleteAsset(ctx, monitor.ID); err != nil {
			t.Fatal(err)
		}

		wantCode(t, "SetAssetStatus(bad)", s.SetAssetStatus(ctx, pump.ID, "lost"), wardwatch.EINVALID)
		if err := s.SetAssetStatus(ctx, pump.ID, wardwatch.StatusAvailable); err != nil {
			t.Fatal(err)
		}
		pump.Status = wardwatch.StatusAvailable
		wantCode(t, "UpdateAsset(bad status)", s.UpdateAsset(ctx, wardwatch.Asset{ID: pump.ID, Name: "x", Kind: wardwatch.AssetBed, Status: "lost"}), wardwatch.EINVALID)
		if err := s.DeleteTag(ctx, "epc:3034257bf7194e4000001a85"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "DeleteTag(again)", s.DeleteTag(ctx, "epc:3034257bf7194e4000001a85"), wardwatch.ENOTFOUND)
		tags = tags[:2]
		got, err := s.Tags(ctx)
		if err != nil {
			t.Fatalf("Tags: %v", err)
		}
		want := slices.Clone(tags)
		slices.SortFunc(want, func(a, b wardwatch.Tag) int { return strings.Compare(a.ID, b.ID) })
		if !slices.Equal(got, want) {
			t.Fatalf("Tags = %+v\nwant %+v", got, want)
		}
	})

	t.Run("DiscoveredTags", func(t *testing.T) {
		s := migrated(t)
		f := mustFloor(t, s)
		gw1 := wardwatch.Gateway{Key: "gw-1", Name: "GW 1", FloorID: f.ID}
		gw2 := wardwatch.Gateway{Key: "gw-2", Name: "GW 2", FloorID: f.ID}
		for _, g := range []*wardwatch.Gateway{&gw1, &gw2} {
			if err := s.CreateGateway(ctx, g); err != nil {
				t.Fatalf("CreateGateway: %v", err)
			}
		}
		pump := wardwatch.Asset{Name: "Pump 7", Kind: wardwatch.AssetInfusionPump}
		if err := s.CreateAsset(ctx, &pump); err != nil {
			t.Fatalf("CreateAsset: %v", err)
		}
		known := "ibeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e:1:1"
		if err := s.CreateTag(ctx, wardwatch.Tag{ID: known, AssetID: pump.ID}); err != nil {
			t.Fatalf("CreateTag: %v", err)
		}
		t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
		newTag := "ibeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e:1:2"
		other := "epc:3034257bf7194e4000001a85"
		if _, err := s.RecordDiscoveredTags(ctx, []wardwatch.DiscoveredTag{
			{TagID: newTag, FirstSeen: t0, LastSeen: t0.Add(time.Minute), GatewayID: gw1.ID, RSSI: -70, Sightings: 5},
			{TagID: known, FirstSeen: t0, LastSeen: t0, GatewayID: gw1.ID, RSSI: -60, Sightings: 1}, // assigned meanwhile: skipped
			{TagID: other, FirstSeen: t0, LastSeen: t0, GatewayID: 999999, RSSI: -80, Sightings: 1}, // gateway gone
		}); err != nil {
			t.Fatalf("RecordDiscoveredTags: %v", err)
		}
		// A later report moves last seen and the gateway; an out-of-order
		// older one only widens first seen.
		if _, err := s.RecordDiscoveredTags(ctx, []wardwatch.DiscoveredTag{
			{TagID: newTag, FirstSeen: t0.Add(2 * time.Minute), LastSeen: t0.Add(3 * time.Minute), GatewayID: gw2.ID, RSSI: -65, Sightings: 2},
			{TagID: newTag, FirstSeen: t0.Add(-time.Minute), LastSeen: t0, GatewayID: gw1.ID, RSSI: -90, Sightings: 1},
		}); err != nil {
			t.Fatalf("RecordDiscoveredTags again: %v", err)
		}
		_, err := s.RecordDiscoveredTags(ctx, []wardwatch.DiscoveredTag{{TagID: " ", LastSeen: t0}})
		wantCode(t, "RecordDiscoveredTags(empty id)", err, wardwatch.EINVALID)
		got, err := s.DiscoveredTags(ctx)
		if err != nil {
			t.Fatalf("DiscoveredTags: %v", err)
		}
		want := []wardwatch.DiscoveredTag{
			{TagID: newTag, FirstSeen: t0.Add(-time.Minute), LastSeen: t0.Add(3 * time.Minute), GatewayID: gw2.ID, RSSI: -65, Sightings: 8},
			{TagID: other, FirstSeen: t0, LastSeen: t0, RSSI: -80, Sightings: 1},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("DiscoveredTags = %+v\nwant %+v", got, want)
		}

		wantCode(t, "AssignDiscoveredTag(not listed)", s.AssignDiscoveredTag(ctx, known, pump.ID), wardwatch.ENOTFOUND)
		wantCode(t, "AssignDiscoveredTag(missing asset)", s.AssignDiscoveredTag(ctx, newTag, pump.ID+1000), wardwatch.ENOTFOUND)
		if err := s.AssignDiscoveredTag(ctx, newTag, pump.ID); err != nil {
			t.Fatalf("AssignDiscoveredTag: %v", err)
		}
		tags, err := s.Tags(ctx)
		if err != nil || !slices.Contains(tags, wardwatch.Tag{ID: newTag, AssetID: pump.ID}) {
			t.Fatalf("Tags after assign = %+v, %v", tags, err)
		}
		if err := s.DismissDiscoveredTag(ctx, other); err != nil {
			t.Fatalf("DismissDiscoveredTag: %v", err)
		}
		wantCode(t, "DismissDiscoveredTag(again)", s.DismissDiscoveredTag(ctx, other), wardwatch.ENOTFOUND)
		if got, err := s.DiscoveredTags(ctx); err != nil || len(got) != 0 {
			t.Fatalf("DiscoveredTags after assign and dismiss = %+v, %v", got, err)
		}
		if _, err := s.RecordDiscoveredTags(ctx, []wardwatch.DiscoveredTag{{TagID: other, FirstSeen: t0, LastSeen: t0, RSSI: -80, Sightings: 1}}); err != nil {
			t.Fatalf("RecordDiscoveredTags: %v", err)
		}
		if n, err := s.PruneDiscoveredTags(ctx, t0.Add(time.Second)); err != nil || n != 1 {
			t.Fatalf("PruneDiscoveredTags = %d, %v; want 1", n, err)
		}
	})

	t.Run("Devices", func(t *testing.T) {
		s := migrated(t)
		f := mustFloor(t, s)
		room := wardwatch.Zone{FloorID: f.ID, Name: "Pharmacy", Kind: wardwatch.ZoneRoom,
			Polygon: []wardwatch.Point{{X: 0, Y: 0}, {X: 4, Y: 0}, {X: 4, Y: 4}}}
		if err := s.CreateZone(ctx, &room); err != nil {
			t.Fatal(err)
		}
		for name, u := range map[string]wardwatch.MonitoredUnit{
			"no name":     {Profile: wardwatch.ProfileVaccineFridge},
			"bad profile": {Name: "x", Profile: "toaster"},
		} {
			wantCode(t, "CreateUnit("+name+")", s.CreateUnit(ctx, &u), wardwatch.EINVALID)
		}
		fridge := wardwatch.MonitoredUnit{Name: "Vaccine fridge 1", Profile: wardwatch.ProfileVaccineFridge, ZoneID: room.ID}
		if err := s.CreateUnit(ctx, &fridge); err != nil {
			t.Fatal(err)
		}
		dupUnit := wardwatch.MonitoredUnit{Name: fridge.Name, Profile: wardwatch.ProfileLabFridge}
		wantCode(t, "CreateUnit(duplicate)", s.CreateUnit(ctx, &dupUnit), wardwatch.ECONFLICT)
		fridge.Profile = wardwatch.ProfilePharmacyFridge
		if err := s.UpdateUnit(ctx, fridge); err != nil {
			t.Fatal(err)
		}
		if us, err := s.Units(ctx); err != nil || len(us) != 1 || us[0] != fridge {
			t.Fatalf("Units = %+v, %v", us, err)
		}

		dev := wardwatch.ModbusDevice{Name: "fridge-1", UnitID: fridge.ID, Transport: "tcp", Address: "10.0.0.9:502", SlaveID: 3,
			Profile: "refrigeration-controller", Interval: 30 * time.Second, Timeout: time.Second, Enabled: true}
		for name, d := range map[string]wardwatch.ModbusDevice{
			"slash in name": func() wardwatch.ModbusDevice { d := dev; d.Name = "a/b"; return d }(),
			"transport":     func() wardwatch.ModbusDevice { d := dev; d.Transport = "udp"; return d }(),
			"slave id":      func() wardwatch.ModbusDevice { d := dev; d.SlaveID = 300; return d }(),
			"interval":      func() wardwatch.ModbusDevice { d := dev; d.Interval = time.Millisecond; return d }(),
		} {
			wantCode(t, "CreateModbusDevice("+name+")", s.CreateModbusDevice(ctx, &d), wardwatch.EINVALID)
		}
		if err := s.CreateModbusDevice(ctx, &dev); err != nil {
			t.Fatal(err)
		}
		dev.Address, dev.Enabled = "10.0.0.10:502", false
		dev.CalibrationDue = time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
		if err := s.UpdateModbusDevice(ctx, dev); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ModbusDevice(ctx, dev.ID); err != nil || got != dev {
			t.Fatalf("ModbusDevice = %+v, %v; want %+v", got, err, dev)
		}
		if err := s.DeleteUnit(ctx, fridge.ID); err != nil {
			t.Fatal(err)
		}
		if ds, err := s.ModbusDevices(ctx); err != nil || len(ds) != 1 || ds[0].UnitID != 0 {
			t.Fatalf("ModbusDevices after the unit was deleted = %+v, %v; want it unbound", ds, err)
		}
		if err := s.DeleteModbusDevice(ctx, dev.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "DeleteModbusDevice(again)", s.DeleteModbusDevice(ctx, dev.ID), wardwatch.ENOTFOUND)

		target := wardwatch.SNMPTarget{Name: "Pump server", Address: "10.1.0.5", Version: "v3", User: "wardwatch",
			AuthProtocol: "SHA256", AuthPassword: "auth-secret-1", PrivProtocol: "AES", PrivPassword: "priv-secret-1",
			Profile: "pump-server", Interval: time.Minute, Timeout: 2 * time.Second, Retries: 2, Enabled: true}
		wantCode(t, "CreateSNMPTarget(no secret box)", s.CreateSNMPTarget(ctx, &target), wardwatch.EUNAVAILABLE)
		s.SetSecretBox(xorBox{})
		short := target
		short.PrivPassword = "short"
		wantCode(t, "CreateSNMPTarget(short password)", s.CreateSNMPTarget(ctx, &short), wardwatch.EINVALID)
		if err := s.CreateSNMPTarget(ctx, &target); err != nil {
			t.Fatal(err)
		}
		var raw []byte
		if err := s.db.QueryRowContext(ctx, s.rebind(`SELECT auth_password FROM snmp_targets WHERE id = ?`), target.ID).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("auth-secret-1")) {
			t.Fatal("the SNMP password is stored in clear")
		}
		// Saving with empty secrets keeps them.
		edit := target
		edit.AuthPassword, edit.PrivPassword, edit.Address = "", "", "10.1.0.6"
		if err := s.UpdateSNMPTarget(ctx, edit); err != nil {
			t.Fatal(err)
		}
		got, err := s.SNMPTarget(ctx, target.ID)
		target.Address = "10.1.0.6"
		if err != nil || got != target {
			t.Fatalf("SNMPTarget = %+v, %v; want %+v", got, err, target)
		}
		v2 := wardwatch.SNMPTarget{Name: "Old pump", Address: "10.1.0.7:1161", Version: "v2c", Community: "hospital",
			Profile: "single-pump", Interval: time.Minute, Timeout: time.Second}
		if err := s.CreateSNMPTarget(ctx, &v2); err != nil {
			t.Fatal(err)
		}
		if ts, err := s.SNMPTargets(ctx); err != nil || len(ts) != 2 || ts[0].Community != "hospital" || !ts[0].Insecure() {
			t.Fatalf("SNMPTargets = %+v, %v", ts, err)
		}
		if err := s.DeleteSNMPTarget(ctx, v2.ID); err != nil {
			t.Fatal(err)
		}

		p := wardwatch.DeviceProfile{Kind: "modbus", Name: "site-fridge", Source: []byte("name: site-fridge\n")}
		if err := s.SaveDeviceProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
		p.Source = []byte("name: site-fridge\nfields: []\n")
		if err := s.SaveDeviceProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "SaveDeviceProfile(kind)", s.SaveDeviceProfile(ctx, wardwatch.DeviceProfile{Kind: "bacnet", Name: "x", Source: []byte("x")}), wardwatch.EINVALID)
		ps, err := s.DeviceProfiles(ctx, "modbus")
		if err != nil || len(ps) != 1 || !bytes.Equal(ps[0].Source, p.Source) {
			t.Fatalf("DeviceProfiles = %+v, %v", ps, err)
		}
		if ps, _ := s.DeviceProfiles(ctx, "snmp"); len(ps) != 0 {
			t.Fatalf("snmp profiles = %+v", ps)
		}
		if err := s.DeleteDeviceProfile(ctx, "modbus", "site-fridge"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Audit", func(t *testing.T) {
		s := migrated(t)
		at := time.Date(2026, 11, 23, 9, 0, 0, 123_456_789, time.UTC)
		entries := []wardwatch.AuditEntry{
			{Time: at, UserID: 0, Username: "wardwatch", Action: "create", Subject: "gateway", SubjectID: "1", New: `{"name":"GW 1"}`},
			{Time: at.Add(time.Second), Username: "alice", Action: "update", Subject: "gateway", SubjectID: "1", Old: `{"name":"GW 1"}`, New: `{"name":"Bay 1"}`, Reason: "renamed"},
			{Time: at.Add(2 * time.Second), Username: "alice", Action: "delete", Subject: "zone", SubjectID: "7", Old: strings.Repeat("x", 70<<10)},
		}
		for i := range entries {
			if err := s.AppendAudit(ctx, &entries[i]); err != nil || entries[i].ID == 0 {
				t.Fatalf("AppendAudit: %v (id %d)", err, entries[i].ID)
			}
		}
		wantCode(t, "AppendAudit(no action)", s.AppendAudit(ctx, &wardwatch.AuditEntry{Subject: "x"}), wardwatch.EINVALID)
		all, err := s.AuditLog(ctx, wardwatch.AuditQuery{})
		if err != nil || len(all) != 3 || all[0].Subject != "zone" || all[2].Action != "create" {
			t.Fatalf("AuditLog = %+v, %v", all, err)
		}
		if len(all[0].Old) > 65<<10 || !strings.HasSuffix(all[0].Old, "(cut)") {
			t.Errorf("oversized snapshot not cut: %d bytes", len(all[0].Old))
		}
		want := entries[1]
		want.Time = want.Time.Truncate(time.Millisecond)
		if all[1] != want {
			t.Errorf("AuditLog[1] = %+v\nwant %+v", all[1], want)
		}
		gw, err := s.AuditLog(ctx, wardwatch.AuditQuery{Subject: "gateway", SubjectID: "1", Limit: 1})
		if err != nil || len(gw) != 1 || gw[0].ID != entries[1].ID {
			t.Fatalf("AuditLog(gateway 1, limit 1) = %+v, %v", gw, err)
		}
		older, err := s.AuditLog(ctx, wardwatch.AuditQuery{BeforeID: entries[1].ID})
		if err != nil || len(older) != 1 || older[0].ID != entries[0].ID {
			t.Fatalf("AuditLog(before) = %+v, %v", older, err)
		}
	})

	t.Run("RFIDReaders", func(t *testing.T) {
		s := migrated(t)
		f := mustFloor(t, s)
		var zones []wardwatch.Zone
		for i, name := range []string{"Store", "Corridor", "Dock"} {
			z := wardwatch.Zone{FloorID: f.ID, Name: name, Kind: wardwatch.ZoneRoom,
				Polygon: []wardwatch.Point{{X: float64(10 * i), Y: 0}, {X: float64(10*i + 4), Y: 0}, {X: float64(10*i + 4), Y: 4}, {X: float64(10 * i), Y: 4}}}
			if err := s.CreateZone(ctx, &z); err != nil {
				t.Fatal(err)
			}
			zones = append(zones, z)
		}
		for name, r := range map[string]wardwatch.RFIDReader{
			"hash in key": {Key: "a#b", Antennas: []wardwatch.RFIDAntenna{{Port: 1, ZoneID: zones[0].ID}}},
			"no antennas": {Key: "r"},
			"same port":   {Key: "r", Antennas: []wardwatch.RFIDAntenna{{Port: 1, ZoneID: zones[0].ID}, {Port: 1, ZoneID: zones[1].ID}}},
			"bad format":  {Key: "r", Format: "morse", Antennas: []wardwatch.RFIDAntenna{{Port: 1, ZoneID: zones[0].ID}}},
			"portal antenna": {Key: "r", Antennas: []wardwatch.RFIDAntenna{{Port: 1, ZoneID: zones[0].ID}},
				Portal: &wardwatch.RFIDPortal{Inside: []int{1}, Outside: []int{2}, InsideZoneID: zones[0].ID, OutsideZoneID: zones[1].ID}},
		} {
			wantCode(t, "SaveRFIDReader("+name+")", s.SaveRFIDReader(ctx, &r), wardwatch.EINVALID)
		}
		missing := wardwatch.RFIDReader{Key: "r", Antennas: []wardwatch.RFIDAntenna{{Port: 1, ZoneID: 99999}}}
		wantCode(t, "SaveRFIDReader(missing zone)", s.SaveRFIDReader(ctx, &missing), wardwatch.ENOTFOUND)

		door := wardwatch.RFIDReader{Key: "dock-door", Name: "Dock door", Format: "zebra",
			Antennas: []wardwatch.RFIDAntenna{{Port: 1, ZoneID: zones[2].ID}, {Port: 2, ZoneID: zones[1].ID}},
			Portal:   &wardwatch.RFIDPortal{Inside: []int{2}, Outside: []int{1}, InsideZoneID: zones[1].ID, OutsideZoneID: zones[2].ID}}
		if err := s.SaveRFIDReader(ctx, &door); err != nil {
			t.Fatal(err)
		}
		gw, err := s.GatewayByKey(ctx, "dock-door#1")
		if err != nil || gw.AnchorZoneID != zones[2].ID || gw.At != (wardwatch.Point{X: 22, Y: 2}) || gw.ID != door.Antennas[0].GatewayID {
			t.Fatalf("antenna gateway = %+v, %v", gw, err)
		}
		if err := s.SetRFIDReaderToken(ctx, door.ID, []byte("0123456789abcdef0123456789abcdef")); err != nil {
			t.Fatal(err)
		}
		got, err := s.RFIDReaderByKey(ctx, "dock-door")
		if err != nil || got.Name != "Dock door" || got.Format != "zebra" || len(got.Antennas) != 2 || got.Portal == nil ||
			got.Portal.InsideZoneID != zones[1].ID || string(got.TokenHash) != "0123456789abcdef0123456789abcdef" {
			t.Fatalf("RFIDReaderByKey = %+v, %v", got, err)
		}
		// Drop antenna 2, move antenna 1 to the store room.
		door.Portal = nil
		door.Antennas = []wardwatch.RFIDAntenna{{Port: 1, ZoneID: zones[0].ID}}
		if err := s.SaveRFIDReader(ctx, &door); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GatewayByKey(ctx, "dock-door#2"); wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
			t.Fatalf("dropped antenna's gateway: %v", err)
		}
		if gw, _ := s.GatewayByKey(ctx, "dock-door#1"); gw.AnchorZoneID != zones[0].ID || gw.ID != door.Antennas[0].GatewayID {
			t.Fatalf("moved antenna gateway = %+v", gw)
		}
		dup := wardwatch.RFIDReader{Key: "dock-door", Antennas: []wardwatch.RFIDAntenna{{Port: 1, ZoneID: zones[0].ID}}}
		wantCode(t, "SaveRFIDReader(duplicate key)", s.SaveRFIDReader(ctx, &dup), wardwatch.ECONFLICT)
		if rs, err := s.RFIDReaders(ctx); err != nil || len(rs) != 1 || rs[0].Portal != nil {
			t.Fatalf("RFIDReaders = %+v, %v", rs, err)
		}
		if err := s.DeleteRFIDReader(ctx, door.ID); err != nil {
			t.Fatal(err)
		}
		if gws, _ := s.Gateways(ctx); len(gws) != 0 {
			t.Fatalf("gateways after deleting the reader = %+v", gws)
		}
		_, err = s.RFIDReaderByKey(ctx, "dock-door")
		wantCode(t, "RFIDReaderByKey(deleted)", err, wardwatch.ENOTFOUND)
	})

	t.Run("PollTargets", func(t *testing.T) {
		s := migrated(t)
		s.SetSecretBox(xorBox{})
		p := wardwatch.PollTarget{Name: "Dock reader", URL: "http://10.0.0.7/api/reads", Source: "rfid", Key: "dock-door",
			Format: "zebra", Interval: 5 * time.Second, Timeout: 2 * time.Second, AuthHeader: "Bearer s3cret", Enabled: true}
		for name, bad := range map[string]func(wardwatch.PollTarget) wardwatch.PollTarget{
			"scheme":       func(p wardwatch.PollTarget) wardwatch.PollTarget { p.URL = "file:///etc/passwd"; return p },
			"userinfo":     func(p wardwatch.PollTarget) wardwatch.PollTarget { p.URL = "http://u:p@host/"; return p },
			"source":       func(p wardwatch.PollTarget) wardwatch.PollTarget { p.Source = "wifi"; return p },
			"timeout":      func(p wardwatch.PollTarget) wardwatch.PollTarget { p.Timeout = 10 * time.Second; return p },
			"header split": func(p wardwatch.PollTarget) wardwatch.PollTarget { p.AuthHeader = "x\r\nHost: evil"; return p },
		} {
			q := bad(p)
			wantCode(t, "SavePollTarget("+name+")", s.SavePollTarget(ctx, &q, false), wardwatch.EINVALID)
		}
		if err := s.SavePollTarget(ctx, &p, false); err != nil {
			t.Fatal(err)
		}
		edit := p
		edit.AuthHeader, edit.Interval = "", 10*time.Second
		if err := s.SavePollTarget(ctx, &edit, false); err != nil {
			t.Fatal(err)
		}
		ps, err := s.PollTargets(ctx)
		p.Interval = 10 * time.Second
		if err != nil || len(ps) != 1 || ps[0] != p {
			t.Fatalf("PollTargets = %+v, %v; want %+v", ps, err, p)
		}
		if err := s.SavePollTarget(ctx, &edit, true); err != nil {
			t.Fatal(err)
		}
		if ps, _ := s.PollTargets(ctx); ps[0].AuthHeader != "" {
			t.Fatalf("auth header not cleared: %q", ps[0].AuthHeader)
		}
		if err := s.DeletePollTarget(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("EditLayout", func(t *testing.T) {
		s := migrated(t)
		f := mustFloor(t, s)
		z := wardwatch.Zone{FloorID: f.ID, Name: "Bay 1", Kind: wardwatch.ZoneRoom, Polygon: []wardwatch.Point{{X: 0, Y: 0}, {X: 2, Y: 0}, {X: 2, Y: 2}}}
		if err := s.CreateZone(ctx, &z); err != nil {
			t.Fatal(err)
		}
		g := wardwatch.Gateway{Key: "gw-1", Name: "GW", FloorID: f.ID, At: wardwatch.Point{X: 1, Y: 1}, Z: 2.5, AnchorZoneID: z.ID}
		if err := s.CreateGateway(ctx, &g); err != nil {
			t.Fatal(err)
		}
		if err := s.ScaleFloor(ctx, f.ID, 2.5); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Floor(ctx, f.ID)
		zs, _ := s.Zones(ctx, f.ID)
		gws, _ := s.Gateways(ctx)
		if got.Width != f.Width*2.5 || zs[0].Polygon[2] != (wardwatch.Point{X: 5, Y: 5}) || gws[0].At != (wardwatch.Point{X: 2.5, Y: 2.5}) || gws[0].Z != 2.5 {
			t.Fatalf("after scaling: floor %+v, zone %+v, gateway %+v", got, zs[0].Polygon, gws[0])
		}
		wantCode(t, "ScaleFloor(0)", s.ScaleFloor(ctx, f.ID, 0), wardwatch.EINVALID)
		wantCode(t, "ScaleFloor(missing)", s.ScaleFloor(ctx, f.ID+99, 2), wardwatch.ENOTFOUND)
		got.Name, got.Level = "Renamed", 7
		if err := s.UpdateFloor(ctx, got); err != nil {
			t.Fatal(err)
		}
		z.Name, z.Kind, z.Polygon = "Dock", wardwatch.ZoneLoadingDock, []wardwatch.Point{{X: 0, Y: 0}, {X: 9, Y: 0}, {X: 9, Y: 9}, {X: 0, Y: 9}}
		if err := s.UpdateZone(ctx, z); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "UpdateZone(kind)", s.UpdateZone(ctx, wardwatch.Zone{ID: z.ID, Name: "x", Kind: "moat", Polygon: z.Polygon}), wardwatch.EINVALID)
		wantCode(t, "UpdateZone(line)", s.UpdateZone(ctx, wardwatch.Zone{ID: z.ID, Name: "x", Kind: wardwatch.ZoneRoom, Polygon: z.Polygon[:2]}), wardwatch.EINVALID)
		g.At, g.RSSIAt1m, g.Name = wardwatch.Point{X: 4, Y: 4}, -61, "Dock GW"
		if err := s.UpdateGateway(ctx, g); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GatewayByKey(ctx, "gw-1"); got.At != g.At || got.RSSIAt1m != -61 || got.Name != "Dock GW" {
			t.Fatalf("gateway after update = %+v", got)
		}
		if err := s.DeleteZone(ctx, z.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GatewayByKey(ctx, "gw-1"); got.AnchorZoneID != 0 {
			t.Fatalf("gateway still anchored to a deleted zone: %+v", got)
		}
		if err := s.DeleteGateway(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "DeleteGateway(again)", s.DeleteGateway(ctx, g.ID), wardwatch.ENOTFOUND)
	})

	t.Run("KioskTokens", func(t *testing.T) {
		s := migrated(t)
		f := mustFloor(t, s)
		hash := bytes.Repeat([]byte{7}, 32)
		k := wardwatch.KioskToken{Name: "Corridor screen", FloorID: f.ID, TokenHash: hash}
		if err := s.CreateKioskToken(ctx, &k); err != nil || k.ID == 0 {
			t.Fatalf("CreateKioskToken: %v", err)
		}
		wantCode(t, "CreateKioskToken(same hash)", s.CreateKioskToken(ctx, &wardwatch.KioskToken{Name: "x", TokenHash: hash}), wardwatch.ECONFLICT)
		wantCode(t, "CreateKioskToken(short hash)", s.CreateKioskToken(ctx, &wardwatch.KioskToken{Name: "x", TokenHash: []byte{1}}), wardwatch.EINVALID)
		got, err := s.KioskByTokenHash(ctx, hash)
		if err != nil || got.Name != k.Name || got.FloorID != f.ID || !got.CreatedAt.Equal(k.CreatedAt) {
			t.Fatalf("KioskByTokenHash = %+v, %v", got, err)
		}
		if ks, err := s.KioskTokens(ctx); err != nil || len(ks) != 1 {
			t.Fatalf("KioskTokens = %+v, %v", ks, err)
		}
		if err := s.DeleteKioskToken(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.KioskByTokenHash(ctx, hash)
		wantCode(t, "KioskByTokenHash(revoked)", err, wardwatch.ENOTFOUND)
	})

	t.Run("Users", func(t *testing.T) {
		s := migrated(t)
		for name, u := range map[string]wardwatch.User{
			"empty username": {Username: "", Role: wardwatch.RoleAdmin},
			"bad role":       {Username: "x", Role: "root"},
			"no role":        {Username: "x"},
		} {
			wantCode(t, "CreateUser("+name+")", s.CreateUser(ctx, &u), wardwatch.EINVALID)
		}

		created := time.Date(2025, 3, 30, 1, 30, 15, 123_456_789, time.FixedZone("CEST", 2*3600))
		nurse := wardwatch.User{Username: "nina", Role: wardwatch.RoleNurse, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", CreatedAt: created}
		before := time.Now().Truncate(time.Millisecond)
		admin := wardwatch.User{Username: "admin", Role: wardwatch.RoleAdmin, PasswordHash: "h"}
		for _, u := range []*wardwatch.User{&nurse, &admin} {
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatalf("CreateUser(%q): %v", u.Username, err)
			}
			if u.ID == 0 {
				t.Fatalf("CreateUser(%q) left ID 0", u.Username)
			}
		}
		if want := created.Truncate(time.Millisecond).UTC(); nurse.CreatedAt != want {
			t.Fatalf("CreateUser set CreatedAt %v, want %v", nurse.CreatedAt, want)
		}
		if admin.CreatedAt.Before(before) || admin.CreatedAt.After(time.Now()) || admin.CreatedAt.Location() != time.UTC {
			t.Fatalf("CreateUser with zero CreatedAt set %v, want now in UTC", admin.CreatedAt)
		}
		for _, r := range []wardwatch.Role{wardwatch.RoleFacilities, wardwatch.RolePharmacy, wardwatch.RoleBiomed, wardwatch.RoleViewer} {
			u := wardwatch.User{Username: "role-" + string(r), Role: r, PasswordHash: "h"}
			if err := s.CreateUser(ctx, &u); err != nil {
				t.Fatalf("CreateUser(role %s): %v", r, err)
			}
			if got, err := s.User(ctx, u.ID); err != nil || got.Role != r {
				t.Fatalf("User(role %s) = %+v, %v", r, got, err)
			}
			if err := s.DeleteUser(ctx, u.ID); err != nil {
				t.Fatalf("DeleteUser(role %s): %v", r, err)
			}
		}
		dup := wardwatch.User{Username: "nina", Role: wardwatch.RoleViewer}
		wantCode(t, "CreateUser(duplicate)", s.CreateUser(ctx, &dup), wardwatch.ECONFLICT)

		got, err := s.User(ctx, nurse.ID)
		if err != nil || !userEqual(got, nurse) {
			t.Fatalf("User = %+v, %v; want %+v", got, err, nurse)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Fatalf("User.CreatedAt in %v, want UTC", got.CreatedAt.Location())
		}
		_, err = s.User(ctx, nurse.ID+1000)
		wantCode(t, "User(missing)", err, wardwatch.ENOTFOUND)
		if got, err := s.UserByUsername(ctx, "admin"); err != nil || !userEqual(got, admin) {
			t.Fatalf("UserByUsername = %+v, %v; want %+v", got, err, admin)
		}
		_, err = s.UserByUsername(ctx, "Admin")
		wantCode(t, "UserByUsername(other case)", err, wardwatch.ENOTFOUND)

		all, err := s.Users(ctx)
		if err != nil {
			t.Fatalf("Users: %v", err)
		}
		if want := []wardwatch.User{admin, nurse}; !slices.EqualFunc(all, want, userEqual) {
			t.Fatalf("Users = %+v\nwant %+v", all, want)
		}

		if err := s.SetPassword(ctx, nurse.ID, "new-hash"); err != nil {
			t.Fatalf("SetPassword: %v", err)
		}
		if got, err := s.User(ctx, nurse.ID); err != nil || got.PasswordHash != "new-hash" {
			t.Fatalf("after SetPassword: %q, %v", got.PasswordHash, err)
		}
		wantCode(t, "SetPassword(missing)", s.SetPassword(ctx, nurse.ID+1000, "h"), wardwatch.ENOTFOUND)

		// Care units a user is scoped to.
		scoped := wardwatch.User{Username: "sam", Role: wardwatch.RoleNurse, PasswordHash: "h", Units: []string{" 5B", "4B", "4B", ""}}
		if err := s.CreateUser(ctx, &scoped); err != nil {
			t.Fatalf("CreateUser(scoped): %v", err)
		}
		if want := []string{"4B", "5B"}; !slices.Equal(scoped.Units, want) {
			t.Fatalf("CreateUser left units %q, want %q", scoped.Units, want)
		}
		if got, err := s.User(ctx, scoped.ID); err != nil || !userEqual(got, scoped) {
			t.Fatalf("User(scoped) = %+v, %v; want %+v", got, err, scoped)
		}
		bad := wardwatch.User{Username: "bad", Role: wardwatch.RoleNurse, Units: []string{"4B'"}}
		wantCode(t, "CreateUser(bad unit)", s.CreateUser(ctx, &bad), wardwatch.EINVALID)
		if err := s.SetUserUnits(ctx, nurse.ID, []string{"ICU"}); err != nil {
			t.Fatalf("SetUserUnits: %v", err)
		}
		if got, err := s.UserByUsername(ctx, "nina"); err != nil || !slices.Equal(got.Units, []string{"ICU"}) {
			t.Fatalf("after SetUserUnits: %q, %v", got.Units, err)
		}
		if err := s.SetUserUnits(ctx, nurse.ID, nil); err != nil {
			t.Fatalf("SetUserUnits(none): %v", err)
		}
		if got, err := s.User(ctx, nurse.ID); err != nil || got.Units != nil {
			t.Fatalf("after SetUserUnits(none): %q, %v", got.Units, err)
		}
		wantCode(t, "SetUserUnits(missing)", s.SetUserUnits(ctx, nurse.ID+1000, nil), wardwatch.ENOTFOUND)
		wantCode(t, "SetUserUnits(bad)", s.SetUserUnits(ctx, nurse.ID, []string{strings.Repeat("x", 65)}), wardwatch.EINVALID)
	})

	t.Run("Sessions", func(t *testing.T) {
		s := migrated(t)
		u := wardwatch.User{Username: "nina", Role: wardwatch.RoleNurse, PasswordHash: "h"}
		if err := s.CreateUser(ctx, &u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 678_999_999, time.FixedZone("EST", -5*3600))
		sess := wardwatch.Session{TokenHash: bytes.Repeat([]byte{7}, 32), UserID: u.ID,
			CreatedAt: t0, LastSeenAt: t0.Add(time.Minute), ExpiresAt: t0.Add(30 * time.Minute)}

		wantCode(t, "CreateSession(no hash)", s.CreateSession(ctx, wardwatch.Session{UserID: u.ID}), wardwatch.EINVALID)
		wantCode(t, "CreateSession(missing user)",
			s.CreateSession(ctx, wardwatch.Session{TokenHash: []byte{1}, UserID: u.ID + 1000}), wardwatch.ENOTFOUND)
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		wantCode(t, "CreateSession(duplicate)", s.CreateSession(ctx, sess), wardwatch.ECONFLICT)

		got, err := s.Session(ctx, sess.TokenHash)
		if err != nil {
			t.Fatalf("Session: %v", err)
		}
		want := wardwatch.Session{TokenHash: sess.TokenHash, UserID: u.ID,
			CreatedAt:  time.Date(2026, 1, 2, 8, 4, 5, 678_000_000, time.UTC),
			LastSeenAt: time.Date(2026, 1, 2, 8, 5, 5, 678_000_000, time.UTC),
			ExpiresAt:  time.Date(2026, 1, 2, 8, 34, 5, 678_000_000, time.UTC)}
		if !sessionEqual(got, want) {
			t.Fatalf("Session = %+v\nwant %+v", got, want)
		}
		for _, tm := range []time.Time{got.CreatedAt, got.LastSeenAt, got.ExpiresAt} {
			if tm.Location() != time.UTC {
				t.Fatalf("Session time %v not in UTC", tm)
			}
		}
		_, err = s.Session(ctx, []byte("nope"))
		wantCode(t, "Session(missing)", err, wardwatch.ENOTFOUND)

		seen, expires := t0.Add(time.Hour), t0.Add(2*time.Hour)
		if err := s.TouchSession(ctx, sess.TokenHash, seen, expires); err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		got, err = s.Session(ctx, sess.TokenHash)
		if err != nil || !got.LastSeenAt.Equal(seen.Truncate(time.Millisecond)) || !got.ExpiresAt.Equal(expires.Truncate(time.Millisecond)) || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("after TouchSession: %+v, %v", got, err)
		}
		wantCode(t, "TouchSession(missing)", s.TouchSession(ctx, []byte("nope"), seen, expires), wardwatch.ENOTFOUND)

		// Three more sessions expiring at t0+10m, t0+20m, t0+3h; the first
		// expires at t0+2h after the touch above.
		for i, exp := range []time.Duration{10 * time.Minute, 20 * time.Minute, 3 * time.Hour} {
			other := wardwatch.Session{TokenHash: []byte{byte(i + 1)}, UserID: u.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(exp)}
			if err := s.CreateSession(ctx, other); err != nil {
				t.Fatalf("CreateSession(%d): %v", i, err)
			}
		}
		for _, tc := range []struct {
			now  time.Time
			want int64
		}{
			{t0, 0},
			{t0.Add(20 * time.Minute), 2}, // expiry at exactly now counts
			{t0.Add(20 * time.Minute), 0},
			{t0.Add(2*time.Hour + time.Millisecond), 1},
		} {
			n, err := s.DeleteExpiredSessions(ctx, tc.now)
			if err != nil || n != tc.want {
				t.Fatalf("DeleteExpiredSessions(%v) = %d, %v; want %d", tc.now, n, err, tc.want)
			}
		}
		_, err = s.Session(ctx, sess.TokenHash)
		wantCode(t, "Session(expired and deleted)", err, wardwatch.ENOTFOUND)
		if _, err := s.Session(ctx, []byte{3}); err != nil {
			t.Fatalf("Session(unexpired): %v", err)
		}

		if err := s.DeleteSession(ctx, []byte{3}); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		_, err = s.Session(ctx, []byte{3})
		wantCode(t, "Session(deleted)", err, wardwatch.ENOTFOUND)
		if err := s.DeleteSession(ctx, []byte{3}); err != nil {
			t.Fatalf("DeleteSession twice: %v", err)
		}
	})
}

func mustFloor(t *testing.T, s *Store) wardwatch.Floor {
	t.Helper()
	f := wardwatch.Floor{Name: "Ward 4", Level: 4, Width: 50, Height: 20}
	if err := s.CreateFloor(t.Context(), &f); err != nil {
		t.Fatalf("CreateFloor: %v", err)
	}
	return f
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := wardwatch.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
	if code != wardwatch.EINTERNAL && wardwatch.ErrorMessage(err) == "" {
		t.Fatalf("%s: error %v has no message", what, err)
	}
}

func zoneEqual(a, b wardwatch.Zone) bool {
	return a.ID == b.ID && a.FloorID == b.FloorID && a.Name == b.Name && a.Kind == b.Kind && a.CareUnit == b.CareUnit &&
		slices.Equal(a.Polygon, b.Polygon)
}

func userEqual(a, b wardwatch.User) bool {
	return a.ID == b.ID && a.Username == b.Username && a.Role == b.Role && a.PasswordHash == b.PasswordHash &&
		a.CreatedAt.Equal(b.CreatedAt) && slices.Equal(a.Units, b.Units)
}

func gatewayEqual(a, b wardwatch.Gateway) bool {
	return a.ID == b.ID && a.Key == b.Key && a.Name == b.Name && a.FloorID == b.FloorID && a.At == b.At && a.Z == b.Z &&
		a.RSSIAt1m == b.RSSIAt1m && a.PathLossExponent == b.PathLossExponent && a.RxOffset == b.RxOffset &&
		a.AnchorZoneID == b.AnchorZoneID && bytes.Equal(a.TokenHash, b.TokenHash)
}

func sessionEqual(a, b wardwatch.Session) bool {
	return bytes.Equal(a.TokenHash, b.TokenHash) && a.UserID == b.UserID &&
		a.CreatedAt == b.CreatedAt && a.LastSeenAt == b.LastSeenAt && a.ExpiresAt == b.ExpiresAt
}

// migrationDir is the migration directory of engine.
func migrationDir(engine string) string {
	if engine == enginePostgres {
		return postgresMigrations
	}
	return sqliteMigrations
}

// migrationVersions returns the versions of the migrations in dir, sorted.
func migrationVersions(t *testing.T, dir string) []int64 {
	t.Helper()
	names, err := fs.Glob(migrationFS, dir+"/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var vs []int64
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	if len(vs) == 0 {
		t.Fatalf("no migrations in %s", dir)
	}
	return vs
}

func highestVersion(t *testing.T, dir string) int64 {
	vs := migrationVersions(t, dir)
	return vs[len(vs)-1]
}

// TestMigrationVersionsMatch checks that both engines have the same
// migration versions, so a version means the same schema on either.
func TestMigrationVersionsMatch(t *testing.T) {
	lite, pg := migrationVersions(t, sqliteMigrations), migrationVersions(t, postgresMigrations)
	if !slices.Equal(lite, pg) {
		t.Fatalf("migration versions differ: sqlite %v, postgres %v", lite, pg)
	}
	if len(slices.Compact(slices.Clone(lite))) != len(lite) {
		t.Fatalf("duplicate migration versions: %v", lite)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct{ driver, dsn, code string }{
		{"mysql", "x", wardwatch.EINVALID},
		{"sqlite", "", wardwatch.EINVALID},
		{"sqlite", "file:", wardwatch.EINVALID},
		{"sqlite", filepath.Join(t.TempDir(), "x.db") + "?_pragma=%zz", wardwatch.EINVALID},
		{"postgres", "", wardwatch.EINVALID},
		{"postgres", "postgres://wardwatch:secret@127.0.0.1:5432/x?sslmode=bogus", wardwatch.EINVALID},
		// Nothing listens on port 1.
		{"postgres", "postgres://nobody:x@127.0.0.1:1/none?sslmode=disable&connect_timeout=5", wardwatch.EUNAVAILABLE},
	} {
		s, err := Open(ctx, tc.driver, tc.dsn)
		if err == nil {
			s.Close()
		}
		if got := wardwatch.ErrorCode(err); got != tc.code {
			t.Errorf("Open(%q, %q) = %v (code %q), want code %q", tc.driver, tc.dsn, err, got, tc.code)
		}
	}
}

// TestOpenSQLitePragmas checks the pragmas Open sets, and that a DSN's own
// pragmas win.
func TestOpenSQLitePragmas(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	for _, tc := range []struct {
		dsn                 string
		busy, fk            int
		journal             string
		uri, createsParents bool
	}{
		{dsn: filepath.Join(dir, "a", "b", "plain.db"), busy: 5000, fk: 1, journal: "wal", createsParents: true},
		{dsn: "file:" + filepath.Join(dir, "uri.db") + "?cache=private", busy: 5000, fk: 1, journal: "wal"},
		{dsn: filepath.Join(dir, "own.db") + "?_pragma=busy_timeout(100)&_pragma=journal_mode(delete)&_fk=0", busy: 100, fk: 0, journal: "delete"},
	} {
		s, err := Open(ctx, "sqlite", tc.dsn)
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.dsn, err)
		}
		var (
			busy, fk int
			journal  string
		)
		if err := s.db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if err := s.db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
			t.Fatal(err)
		}
		if busy != tc.busy || fk != tc.fk || journal != tc.journal {
			t.Errorf("Open(%q): busy_timeout %d, foreign_keys %d, journal_mode %s; want %d, %d, %s",
				tc.dsn, busy, fk, journal, tc.busy, tc.fk, tc.journal)
		}
		if got := s.db.Stats().MaxOpenConnections; got != 1 {
			t.Errorf("Open(%q): MaxOpenConnections %d, want 1", tc.dsn, got)
		}
		s.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "b", "plain.db")); err != nil {
		t.Errorf("database file not created: %v", err)
	}
}

// xorBox is a SecretBox for tests: not secure, but never the plaintext.
type xorBox struct{}

func (xorBox) Seal(p []byte) ([]byte, error) {
	out := make([]byte, len(p))
	for i, c := range p {
		out[i] = c ^ 0x5a
	}
	return out, nil
}

func (b xorBox) Open(s []byte) ([]byte, error) { return b.Seal(s) }

// TestMigrationKeepsReferences fills a version-5 schema, migrates to the
// latest (SQLite rebuilds zones and assets in 00006) and checks every
// row and reference survived.
func TestMigrationKeepsReferences(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, "sqlite", filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.migrator.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO floors (id, name, level, width_m, height_m, created_at) VALUES (1, 'F', 1, 10, 10, 0)`,
		`INSERT INTO zones (id, floor_id, name, kind, polygon) VALUES (7, 1, 'Bay 7', 'room', '[[0,0],[1,0],[1,1]]')`,
		`INSERT INTO gateways (id, key, name, floor_id, x, y, z, rssi_at_1m, path_loss_exponent, anchor_zone_id) VALUES (3, 'gw', 'GW', 1, 0, 0, 0, -59, 2, 7)`,
		`INSERT INTO assets (id, name, kind, created_at) VALUES (9, 'Pump', 'infusion_pump', 0)`,
		`INSERT INTO tags (id, asset_id) VALUES ('ibeacon:x:1:1', 9)`,
		`INSERT INTO monitored_units (id, name, profile, zone_id) VALUES (4, 'Fridge', 'vaccine_fridge', 7)`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	gws, err := s.Gateways(ctx)
	if err != nil || len(gws) != 1 || gws[0].AnchorZoneID != 7 {
		t.Fatalf("gateways after migration = %+v, %v", gws, err)
	}
	tags, err := s.Tags(ctx)
	if err != nil || len(tags) != 1 || tags[0].AssetID != 9 {
		t.Fatalf("tags after migration = %+v, %v", tags, err)
	}
	a, err := s.Asset(ctx, 9)
	if err != nil || a.Status != wardwatch.StatusAvailable {
		t.Fatalf("asset after migration = %+v, %v", a, err)
	}
	us, err := s.Units(ctx)
	if err != nil || len(us) != 1 || us[0].ZoneID != 7 {
		t.Fatalf("units after migration = %+v, %v", us, err)
	}
	// Foreign keys are on again: deleting the asset takes its tag.
	if err := s.DeleteAsset(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if tags, _ := s.Tags(ctx); len(tags) != 0 {
		t.Fatalf("tags after deleting their asset = %+v: foreign keys are off", tags)
	}
	z := wardwatch.Zone{FloorID: 1, Name: "Dock", Kind: wardwatch.ZoneLoadingDock, Polygon: []wardwatch.Point{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}}}
	if err := s.CreateZone(ctx, &z); err != nil {
		t.Fatalf("a new zone kind after migration: %v", err)
	}
}
