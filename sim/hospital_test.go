package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

func TestLayoutSanity(t *testing.T) {
	h := NewHospital()
	if h.Floors() < 2 {
		t.Fatalf("%d floors, want ≥ 2", h.Floors())
	}
	if n := len(h.GatewayKeys()); n < 8 {
		t.Errorf("%d gateways, want ≥ 8", n)
	}
	if len(h.assets) < 36 {
		t.Errorf("%d assets, want ≥ 36", len(h.assets))
	}
	kinds := map[wardwatch.AssetKind]int{}
	tags := map[string]bool{}
	names := map[string]bool{}
	for _, a := range h.assets {
		kinds[a.kind]++
		if tags[a.tagID] || names[a.name] {
			t.Errorf("duplicate asset %q / tag %q", a.name, a.tagID)
		}
		tags[a.tagID], names[a.name] = true, true
		if !strings.HasPrefix(a.tagID, "ibeacon:"+HospitalUUID+":") {
			t.Errorf("asset %q tag %q is not an iBeacon of the hospital", a.name, a.tagID)
		}
		if !h.floors[a.floor].zones[a.home].dwellable() {
			t.Errorf("asset %q home %q is not a room", a.name, h.floors[a.floor].zones[a.home].name)
		}
		// Pumps and monitors carry a GS1 UDI (a pump's with its serial),
		// a make and a model; beds and wheelchairs none.
		switch a.kind {
		case wardwatch.AssetInfusionPump, wardwatch.AssetMonitor:
			u, err := wardwatch.ParseUDI(a.udi)
			if err != nil || u.Issuer != wardwatch.UDIIssuerGS1 || u.HRF != a.udi || a.manufacturer == "" || a.model == "" ||
				(a.kind == wardwatch.AssetInfusionPump && !strings.HasSuffix(a.udi, "(21)"+a.serial)) {
				t.Errorf("asset %q: UDI %q (%+v, %v), make %q, model %q", a.name, a.udi, u, err, a.manufacturer, a.model)
			}
		default:
			if a.udi != "" || a.manufacturer != "" || a.model != "" {
				t.Errorf("asset %q has label data %q %q %q", a.name, a.udi, a.manufacturer, a.model)
			}
		}
	}
	for _, k := range []wardwatch.AssetKind{wardwatch.AssetInfusionPump, wardwatch.AssetWheelchair, wardwatch.AssetBed, wardwatch.AssetMonitor} {
		if kinds[k] == 0 {
			t.Errorf("no asset of kind %s", k)
		}
	}
	for _, want := range []string{"Pump 0412", "Wheelchair 01", "Bed 4B-12", "Monitor M-01"} {
		if !names[want] {
			t.Errorf("no asset named %q", want)
		}
	}

	keys := map[string]bool{}
	for fi, f := range h.floors {
		if len(f.gateways) < 6 {
			t.Errorf("floor %d has %d gateways, want ≥ 6", fi, len(f.gateways))
		}
		kindsOnFloor := map[wardwatch.ZoneKind]int{}
		for i := range f.zones {
			z := &f.zones[i]
			kindsOnFloor[z.kind]++
			poly := z.polygon()
			if !floorplan.ValidPolygon(poly) || !z.kind.Valid() {
				t.Errorf("floor %d zone %q: invalid polygon or kind", fi, z.name)
			}
			for _, p := range poly {
				if p.X < 0 || p.Y < 0 || p.X > floorWidth || p.Y > floorHeight {
					t.Errorf("floor %d zone %q vertex %v outside the floor", fi, z.name, p)
				}
			}
			if z.side != sideNone {
				if z.doorX0 <= z.rect.Min.X || z.doorX1 >= z.rect.Max.X {
					t.Errorf("zone %q door [%g,%g] not inside its wall", z.name, z.doorX0, z.doorX1)
				}
				d := z.dwellArea()
				if d.Min.X >= d.Max.X || d.Min.Y >= d.Max.Y {
					t.Errorf("zone %q has an empty dwell area", z.name)
				}
			}
			for j := range f.zones[:i] {
				o := &f.zones[j]
				ox := math.Min(z.rect.Max.X, o.rect.Max.X) - math.Max(z.rect.Min.X, o.rect.Min.X)
				oy := math.Min(z.rect.Max.Y, o.rect.Max.Y) - math.Max(z.rect.Min.Y, o.rect.Min.Y)
				if ox > 1e-9 && oy > 1e-9 {
					t.Errorf("floor %d: zones %q and %q overlap", fi, z.name, o.name)
				}
				if z.name == o.name {
					t.Errorf("floor %d: two zones named %q", fi, z.name)
				}
			}
		}
		for _, k := range []wardwatch.ZoneKind{wardwatch.ZoneRoom, wardwatch.ZoneCorridor, wardwatch.ZoneCleanUtility,
			wardwatch.ZoneSoiledUtility, wardwatch.ZoneNurseStation, wardwatch.ZoneLift} {
			if kindsOnFloor[k] == 0 {
				t.Errorf("floor %d has no %s zone", fi, k)
			}
		}
		if kindsOnFloor[wardwatch.ZoneRoom] < 16 {
			t.Errorf("floor %d has %d patient rooms", fi, kindsOnFloor[wardwatch.ZoneRoom])
		}
		if f.zones[f.lift].kind != wardwatch.ZoneLift || f.zones[f.lift].rect != h.floors[0].zones[h.floors[0].lift].rect {
			t.Errorf("floor %d: lift is not at the same place as on floor 0", fi)
		}
		for _, g := range f.gateways {
			if keys[g.key] {
				t.Errorf("duplicate gateway key %q", g.key)
			}
			keys[g.key] = true
			if !strings.HasPrefix(g.key, fmt.Sprintf("f%d-gw-", fi+1)) {
				t.Errorf("gateway key %q on floor %d", g.key, fi)
			}
			if g.at.X <= buildingX0 || g.at.X >= buildingX1 || g.at.Y <= northY0 || g.at.Y >= southY1 {
				t.Errorf("gateway %q at %v is outside the building", g.key, g.at)
			}
			if h.zoneAt(fi, g.at) == "" {
				t.Errorf("gateway %q at %v is in no zone", g.key, g.at)
			}
		}
	}
}

func TestTokens(t *testing.T) {
	h1, h2 := NewHospital(), NewHospital()
	t1, t2 := h1.Tokens(), h2.Tokens()
	if len(t1) != len(h1.GatewayKeys()) {
		t.Fatalf("%d tokens for %d gateways", len(t1), len(h1.GatewayKeys()))
	}
	seen := map[string]bool{}
	for k, tok := range t1 {
		if len(tok) < 32 || seen[tok] {
			t.Errorf("token of %s is short or repeated: %q", k, tok)
		}
		seen[tok] = true
		if t2[k] == tok {
			t.Errorf("two hospitals share the token of %s", k)
		}
		if h1.Tokens()[k] != tok {
			t.Errorf("token of %s is not stable", k)
		}
	}
}

func TestFloorPlanSVG(t *testing.T) {
	h := NewHospital()
	for fi := range h.Floors() {
		svg := h.FloorPlanSVG(fi)
		dec := xml.NewDecoder(bytes.NewReader(svg))
		var (
			root  *xml.StartElement
			texts []string
			rects int
			inTxt bool
		)
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("floor %d: SVG is not well-formed XML: %v", fi, err)
			}
			switch el := tok.(type) {
			case xml.StartElement:
				if root == nil {
					e := el.Copy()
					root = &e
				}
				inTxt = el.Name.Local == "text"
				if el.Name.Local == "rect" {
					rects++
				}
			case xml.CharData:
				if inTxt {
					texts = append(texts, string(el))
				}
			case xml.EndElement:
				inTxt = false
			}
		}
		if root == nil || root.Name.Local != "svg" || root.Name.Space != "http://www.w3.org/2000/svg" {
			t.Fatalf("floor %d: root element %v", fi, root)
		}
		attrs := map[string]string{}
		for _, a := range root.Attr {
			attrs[a.Name.Local] = a.Value
		}
		if attrs["viewBox"] != "0 0 60 14" || attrs["width"] != "1200" || attrs["height"] != "280" {
			t.Errorf("floor %d: viewBox %q width %q height %q", fi, attrs["viewBox"], attrs["width"], attrs["height"])
		}
		all := strings.Join(texts, "|")
		ward := h.floors[fi].ward
		for _, want := range []string{ward + "-01", ward + "-12", "Lift", "Stairs", "Corridor", "Nurse"} {
			if !strings.Contains(all, want) {
				t.Errorf("floor %d: plan has no label %q (labels %s)", fi, want, all)
			}
		}
		if rects < len(h.floors[fi].zones) {
			t.Errorf("floor %d: %d rects for %d zones", fi, rects, len(h.floors[fi].zones))
		}
	}
	if h.FloorPlanSVG(-1) != nil || h.FloorPlanSVG(h.Floors()) != nil {
		t.Error("FloorPlanSVG of an unknown floor is not nil")
	}
}

// fakeSeeder records what Seed writes and hands out IDs like a store.
type fakeSeeder struct {
	nextID   int64
	floors   []wardwatch.Floor
	plans    map[int64]wardwatch.FloorPlan
	zones    []wardwatch.Zone
	gateways []wardwatch.Gateway
	assets   []wardwatch.Asset
	tags     []wardwatch.Tag
	failOn   string
	tokens   map[int64][]byte
}

func (f *fakeSeeder) id() int64 { f.nextID++; return f.nextID }

func (f *fakeSeeder) fail(op string) error {
	if f.failOn == op {
		return wardwatch.Errorf(wardwatch.ECONFLICT, "%s refused", op)
	}
	return nil
}

func (f *fakeSeeder) CreateFloor(_ context.Context, fl *wardwatch.Floor) error {
	if err := f.fail("floor"); err != nil {
		return err
	}
	fl.ID = f.id()
	f.floors = append(f.floors, *fl)
	return nil
}

func (f *fakeSeeder) SetFloorPlan(_ context.Context, id int64, p wardwatch.FloorPlan) error {
	if f.plans == nil {
		f.plans = map[int64]wardwatch.FloorPlan{}
	}
	f.plans[id] = p
	return nil
}

func (f *fakeSeeder) CreateZone(_ context.Context, z *wardwatch.Zone) error {
	z.ID = f.id()
	f.zones = append(f.zones, *z)
	return nil
}

func (f *fakeSeeder) CreateGateway(_ context.Context, g *wardwatch.Gateway) error {
	g.ID = f.id()
	f.gateways = append(f.gateways, *g)
	return nil
}

func (f *fakeSeeder) CreateAsset(_ context.Context, a *wardwatch.Asset) error {
	a.ID = f.id()
	f.assets = append(f.assets, *a)
	return nil
}

func (f *fakeSeeder) CreateTag(_ context.Context, tg wardwatch.Tag) error {
	if err := f.fail("tag"); err != nil {
		return err
	}
	f.tags = append(f.tags, tg)
	return nil
}

func (f *fakeSeeder) GatewayByKey(_ context.Context, key string) (wardwatch.Gateway, error) {
	for _, g := range f.gateways {
		if g.Key == key {
			return g, nil
		}
	}
	return wardwatch.Gateway{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "no gateway %q", key)
}

func (f *fakeSeeder) SetGatewayToken(_ context.Context, id int64, hash []byte) error {
	if f.tokens == nil {
		f.tokens = map[int64][]byte{}
	}
	f.tokens[id] = hash
	return nil
}

func TestSeed(t *testing.T) {
	h := NewHospital()
	var s fakeSeeder
	if err := h.Seed(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.floors) != h.Floors() {
		t.Fatalf("%d floors seeded", len(s.floors))
	}
	floorIDs := map[int64]wardwatch.Floor{}
	for i, f := range s.floors {
		floorIDs[f.ID] = f
		if f.Width != 60 || f.Height != 14 || f.Name == "" {
			t.Errorf("floor %+v", f)
		}
		if i > 0 && f.ID <= s.floors[i-1].ID {
			t.Errorf("floors not created in index order")
		}
		p, ok := s.plans[f.ID]
		if !ok || p.ContentType != "image/svg+xml" || !bytes.Equal(p.Data, h.FloorPlanSVG(i)) {
			t.Errorf("floor %d plan missing or wrong", i)
		}
	}
	units := map[string]int{}
	for _, z := range s.zones {
		if _, ok := floorIDs[z.FloorID]; !ok || !floorplan.ValidPolygon(z.Polygon) || !z.Kind.Valid() {
			t.Errorf("zone %+v", z)
		}
		if c, err := wardwatch.CheckCareUnit(z.CareUnit); err != nil || c != z.CareUnit {
			t.Errorf("zone %q care unit %q: %v", z.Name, z.CareUnit, err)
		}
		units[z.CareUnit]++
		if z.Kind == wardwatch.ZoneRoom && !strings.HasPrefix(z.Name, z.CareUnit+"-") {
			t.Errorf("room %q in care unit %q", z.Name, z.CareUnit)
		}
	}
	if units["4B"] == 0 || units["5B"] == 0 || units[""] == 0 {
		t.Errorf("care units of the demo zones: %v", units)
	}
	for _, f := range s.floors {
		if f.Building != Building {
			t.Errorf("floor %q in building %q", f.Name, f.Building)
		}
	}
	tokens := h.Tokens()
	for _, g := range s.gateways {
		f, ok := floorIDs[g.FloorID]
		if !ok {
			t.Errorf("gateway %s on unknown floor", g.Key)
			continue
		}
		if g.At.X < 0 || g.At.Y < 0 || g.At.X > f.Width || g.At.Y > f.Height {
			t.Errorf("gateway %s at %v outside its floor", g.Key, g.At)
		}
		if g.Z != 2.7 || g.RSSIAt1m != -59 || g.PathLossExponent != 2.5 {
			t.Errorf("gateway %s calibration %+v", g.Key, g)
		}
		sum := sha256.Sum256([]byte(tokens[g.Key]))
		if !bytes.Equal(g.TokenHash, sum[:]) {
			t.Errorf("gateway %s token hash does not match Tokens()", g.Key)
		}
	}
	if len(s.gateways) != len(h.GatewayKeys()) {
		t.Errorf("%d gateways seeded, want %d", len(s.gateways), len(h.GatewayKeys()))
	}
	if len(s.assets) != len(h.assets) || len(s.tags) != len(h.assets) {
		t.Fatalf("%d assets, %d tags seeded", len(s.assets), len(s.tags))
	}
	for i, tg := range s.tags {
		if tg.AssetID != s.assets[i].ID || !strings.HasPrefix(tg.ID, "ibeacon:"+HospitalUUID+":") {
			t.Errorf("tag %+v for asset %+v", tg, s.assets[i])
		}
	}

	// ResetTokens gives the seeded gateways a new hospital's tokens.
	h2 := NewHospital()
	if err := h2.ResetTokens(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	for _, g := range s.gateways {
		sum := sha256.Sum256([]byte(h2.Tokens()[g.Key]))
		if !bytes.Equal(s.tokens[g.ID], sum[:]) {
			t.Errorf("gateway %s token not reset", g.Key)
		}
	}
}

func TestSeedReportsStoreErrors(t *testing.T) {
	for _, op := range []string{"floor", "tag"} {
		s := fakeSeeder{failOn: op}
		err := NewHospital().Seed(context.Background(), &s)
		if wardwatch.ErrorCode(err) != wardwatch.ECONFLICT {
			t.Errorf("failing %s: Seed error %v, want the store's conflict", op, err)
		}
	}
}
