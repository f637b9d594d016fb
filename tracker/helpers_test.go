package tracker

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// at is t0 plus sec seconds.
func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func gw(id, floor int64, x, y float64) wardwatch.Gateway {
	return wardwatch.Gateway{ID: id, Key: fmt.Sprintf("gw-%d", id), FloorID: floor, At: wardwatch.Point{X: x, Y: y}}
}

func sight(sec float64, gateway int64, tag string, rssi float64) wardwatch.Sighting {
	return wardwatch.Sighting{Time: at(sec), GatewayID: gateway, TagID: tag, RSSI: rssi}
}

// observeAll feeds ss to e and fails the test on any refused sighting.
func observeAll(t *testing.T, e *Engine, ss ...wardwatch.Sighting) {
	t.Helper()
	for _, s := range ss {
		if !e.Observe(s) {
			t.Fatalf("Observe(%+v) refused", s)
		}
	}
}

// onePosition runs Update and returns the only position of tag.
func onePosition(t *testing.T, out Output, tag string) wardwatch.Position {
	t.Helper()
	if len(out.Positions) != 1 || out.Positions[0].TagID != tag {
		t.Fatalf("Update positions = %+v, want one for %s", out.Positions, tag)
	}
	return out.Positions[0]
}

func near1(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// twoFloors has two 20×10 floors with four gateways each, at the same x,y.
func twoFloors() Site {
	s := Site{
		Floors: []wardwatch.Floor{{ID: 1, Level: 0, Width: 20, Height: 10}, {ID: 2, Level: 1, Width: 20, Height: 10}},
		Tags:   []wardwatch.Tag{{ID: "t", AssetID: 1}},
	}
	for f := int64(1); f <= 2; f++ {
		base := f * 10
		s.Gateways = append(s.Gateways, gw(base+1, f, 2, 2), gw(base+2, f, 18, 2), gw(base+3, f, 18, 8), gw(base+4, f, 2, 8))
	}
	return s
}

// zoneSite is one 30×10 floor: room A (101) is x 0–10, room B (102) is
// x 10–20 and x 20–30 is no zone. Gateways, each named by a letter:
// A (5,5) in room A, B (15,5) in room B, W (10.3,5) in B 0.3 m from A,
// V (9.8,5) in A 0.2 m from B, N (25,5) in no zone.
func zoneSite() Site {
	return Site{
		Floors: []wardwatch.Floor{{ID: 1, Width: 30, Height: 10}},
		Zones: []wardwatch.Zone{
			{ID: 101, FloorID: 1, Name: "A", Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(0, 0, 10, 10)},
			{ID: 102, FloorID: 1, Name: "B", Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(10, 0, 10, 10)},
		},
		Gateways: []wardwatch.Gateway{
			gw('A', 1, 5, 5), gw('B', 1, 15, 5), gw('W', 1, 10.3, 5), gw('V', 1, 9.8, 5), gw('N', 1, 25, 5),
		},
		Tags: []wardwatch.Tag{{ID: "t", AssetID: 9}, {ID: "u", AssetID: 10}},
	}
}

// modelRSSI is what the engine's default model expects gateway g to read
// from a tag at p carried at the default tag height: −59 dBm at 1 m,
// path-loss exponent 2.5.
func modelRSSI(g wardwatch.Gateway, p wardwatch.Point) float64 {
	dz := 0.0
	if g.Z > 0 {
		dz = g.Z - 1
	}
	d := math.Sqrt((p.X-g.At.X)*(p.X-g.At.X) + (p.Y-g.At.Y)*(p.Y-g.At.Y) + dz*dz)
	return -59 - 25*math.Log10(d)
}

// hearAt feeds one sighting of tag at p from every gateway of site at
// second sec, with the model's RSSI plus noise(gateway index).
func hearAt(t *testing.T, e *Engine, site Site, tag string, p wardwatch.Point, sec float64, noise func(int) float64) {
	t.Helper()
	for i, g := range site.Gateways {
		rssi := modelRSSI(g, p)
		if noise != nil {
			rssi += noise(i)
		}
		observeAll(t, e, sight(sec, g.ID, tag, min(max(rssi, -130), 0)))
	}
}

// newEngine is New with FirstFix off unless cfg sets it, for tests that
// look at the first fix at once.
func newEngine(cfg Config, site Site) *Engine {
	if cfg.FirstFix == 0 {
		cfg.FirstFix = -1
	}
	return New(cfg, site)
}
