package floorplan

import (
	"math"
	"testing"

	"github.com/wardwatch/wardwatch"
)

func TestContains(t *testing.T) {
	square := Rectangle(0, 0, 4, 4)
	lShape := []wardwatch.Point{{X: 0, Y: 0}, {X: 6, Y: 0}, {X: 6, Y: 2}, {X: 2, Y: 2}, {X: 2, Y: 6}, {X: 0, Y: 6}}
	tests := []struct {
		name string
		poly []wardwatch.Point
		p    wardwatch.Point
		want bool
	}{
		{"square centre", square, wardwatch.Point{X: 2, Y: 2}, true},
		{"square outside right", square, wardwatch.Point{X: 5, Y: 2}, false},
		{"square outside above", square, wardwatch.Point{X: 2, Y: -0.1}, false},
		{"L inside arm", lShape, wardwatch.Point{X: 5, Y: 1}, true},
		{"L in the notch", lShape, wardwatch.Point{X: 4, Y: 4}, false},
		{"L inside leg", lShape, wardwatch.Point{X: 1, Y: 5}, true},
		{"degenerate", []wardwatch.Point{{X: 0, Y: 0}, {X: 1, Y: 1}}, wardwatch.Point{X: 0.5, Y: 0.5}, false},
	}
	for _, tt := range tests {
		if got := Contains(tt.poly, tt.p); got != tt.want {
			t.Errorf("%s: Contains(%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestAreaCentroidBounds(t *testing.T) {
	r := Rectangle(2, 3, 4, 6)
	if a := Area(r); a != 24 {
		t.Errorf("Area = %v, want 24", a)
	}
	if c := Centroid(r); math.Abs(c.X-4) > 1e-9 || math.Abs(c.Y-6) > 1e-9 {
		t.Errorf("Centroid = %v, want (4,6)", c)
	}
	if b := Bounds(r); b.Min != (wardwatch.Point{X: 2, Y: 3}) || b.Max != (wardwatch.Point{X: 6, Y: 9}) {
		t.Errorf("Bounds = %v", b)
	}
	// Counter-clockwise order gives the same area and centroid.
	ccw := []wardwatch.Point{r[0], r[3], r[2], r[1]}
	if a := Area(ccw); a != 24 {
		t.Errorf("Area(ccw) = %v", a)
	}
	if c := Centroid(ccw); math.Abs(c.X-4) > 1e-9 || math.Abs(c.Y-6) > 1e-9 {
		t.Errorf("Centroid(ccw) = %v", c)
	}
}

func TestValidPolygon(t *testing.T) {
	if !ValidPolygon(Rectangle(0, 0, 1, 1)) {
		t.Error("unit square should be valid")
	}
	if ValidPolygon([]wardwatch.Point{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: 2, Y: 0}}) {
		t.Error("collinear points should be invalid")
	}
	if ValidPolygon([]wardwatch.Point{{X: 0, Y: 0}, {X: math.NaN(), Y: 0}, {X: 2, Y: 2}}) {
		t.Error("NaN vertex should be invalid")
	}
}

func TestScaleRoundTrip(t *testing.T) {
	s := Scale{PixelsPerMetre: 20}
	px, py := s.ToPixels(wardwatch.Point{X: 1.5, Y: 2})
	if px != 30 || py != 40 {
		t.Fatalf("ToPixels = %v,%v", px, py)
	}
	if p := s.ToMetres(px, py); p != (wardwatch.Point{X: 1.5, Y: 2}) {
		t.Fatalf("ToMetres = %v", p)
	}
	if p := (Scale{}).ToMetres(1, 1); p != (wardwatch.Point{}) {
		t.Fatalf("zero scale = %v", p)
	}
}

func TestClampDistance(t *testing.T) {
	if p := Clamp(wardwatch.Point{X: -1, Y: 12}, 10, 10); p != (wardwatch.Point{X: 0, Y: 10}) {
		t.Errorf("Clamp = %v", p)
	}
	if d := Distance(wardwatch.Point{}, wardwatch.Point{X: 3, Y: 4}); d != 5 {
		t.Errorf("Distance = %v", d)
	}
}
