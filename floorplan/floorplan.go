// Package floorplan is WardWatch's plane geometry: polygons in floor metres,
// point-in-polygon, distances, and the transform between metres and the
// pixels of a floor-plan image. It is pure: no I/O, no goroutines.
package floorplan

import (
	"math"

	"github.com/wardwatch/wardwatch"
)

// Distance is the Euclidean distance between a and b in metres.
func Distance(a, b wardwatch.Point) float64 {
	return math.Hypot(a.X-b.X, a.Y-b.Y)
}

// Contains reports whether p lies inside the simple polygon poly (even-odd
// rule). Points exactly on an edge may fall either way; callers that need
// a stable answer near edges use hysteresis.
func Contains(poly []wardwatch.Point, p wardwatch.Point) bool {
	if len(poly) < 3 {
		return false
	}
	in := false
	j := len(poly) - 1
	for i := range poly {
		a, b := poly[i], poly[j]
		if (a.Y > p.Y) != (b.Y > p.Y) {
			x := (b.X-a.X)*(p.Y-a.Y)/(b.Y-a.Y) + a.X
			if p.X < x {
				in = !in
			}
		}
		j = i
	}
	return in
}

// Area is the polygon's area in square metres (always ≥ 0).
func Area(poly []wardwatch.Point) float64 {
	return math.Abs(signedArea(poly))
}

func signedArea(poly []wardwatch.Point) float64 {
	var s float64
	j := len(poly) - 1
	for i := range poly {
		s += poly[j].X*poly[i].Y - poly[i].X*poly[j].Y
		j = i
	}
	return s / 2
}

// Centroid is the polygon's centre of mass; for a degenerate polygon it is
// the mean of its vertices.
func Centroid(poly []wardwatch.Point) wardwatch.Point {
	if len(poly) == 0 {
		return wardwatch.Point{}
	}
	a := signedArea(poly)
	if math.Abs(a) < 1e-12 {
		var c wardwatch.Point
		for _, p := range poly {
			c.X += p.X
			c.Y += p.Y
		}
		n := float64(len(poly))
		return wardwatch.Point{X: c.X / n, Y: c.Y / n}
	}
	var cx, cy float64
	j := len(poly) - 1
	for i := range poly {
		f := poly[j].X*poly[i].Y - poly[i].X*poly[j].Y
		cx += (poly[j].X + poly[i].X) * f
		cy += (poly[j].Y + poly[i].Y) * f
		j = i
	}
	return wardwatch.Point{X: cx / (6 * a), Y: cy / (6 * a)}
}

// Rect is an axis-aligned rectangle in floor metres.
type Rect struct{ Min, Max wardwatch.Point }

// Bounds is the smallest Rect holding every point of poly.
func Bounds(poly []wardwatch.Point) Rect {
	if len(poly) == 0 {
		return Rect{}
	}
	r := Rect{Min: poly[0], Max: poly[0]}
	for _, p := range poly[1:] {
		r.Min.X, r.Min.Y = math.Min(r.Min.X, p.X), math.Min(r.Min.Y, p.Y)
		r.Max.X, r.Max.Y = math.Max(r.Max.X, p.X), math.Max(r.Max.Y, p.Y)
	}
	return r
}

// Rectangle returns the four corners of the rectangle from (x,y) of size
// w×h, clockwise from the top-left, as a zone polygon.
func Rectangle(x, y, w, h float64) []wardwatch.Point {
	return []wardwatch.Point{{X: x, Y: y}, {X: x + w, Y: y}, {X: x + w, Y: y + h}, {X: x, Y: y + h}}
}

// Clamp moves p to the nearest point of the floor rectangle [0,w]×[0,h].
func Clamp(p wardwatch.Point, w, h float64) wardwatch.Point {
	return wardwatch.Point{X: math.Min(math.Max(p.X, 0), w), Y: math.Min(math.Max(p.Y, 0), h)}
}

// ValidPolygon reports whether poly is usable as a zone: at least three
// finite vertices and a non-zero area.
func ValidPolygon(poly []wardwatch.Point) bool {
	if len(poly) < 3 {
		return false
	}
	for _, p := range poly {
		if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
			return false
		}
	}
	return Area(poly) > 1e-9
}

// Scale converts between floor metres and the pixels of a plan image whose
// top-left corner is the floor's origin.
type Scale struct {
	PixelsPerMetre float64
}

// ToPixels converts a point in metres to image pixels.
func (s Scale) ToPixels(p wardwatch.Point) (px, py float64) {
	return p.X * s.PixelsPerMetre, p.Y * s.PixelsPerMetre
}

// ToMetres converts image pixels to a point in metres.
func (s Scale) ToMetres(px, py float64) wardwatch.Point {
	if s.PixelsPerMetre == 0 {
		return wardwatch.Point{}
	}
	return wardwatch.Point{X: px / s.PixelsPerMetre, Y: py / s.PixelsPerMetre}
}
