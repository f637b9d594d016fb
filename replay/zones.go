package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

// Zone is a named area of a floor: a room, a corridor, a lift.
type Zone struct {
	Name    string
	Floor   int64
	Kind    wardwatch.ZoneKind
	Polygon []wardwatch.Point // not closed: first ≠ last
}

// maxZonesBytes bounds a zones file.
const maxZonesBytes = 64 << 20

// ReadZones reads zones from GeoJSON: a FeatureCollection of Polygon
// features in floor metres (x to the right, y down, like the plan), each
// with properties {"name": "4B-12", "floor": 2, "kind": "room"}. name and
// floor are required, kind defaults to "room"; names are unique. Only a
// polygon's outer ring is used (holes are refused, as zones are simple
// polygons); a closing vertex equal to the first is dropped. Errors are
// *wardwatch.Error (EINVALID) naming the line or the feature.
func ReadZones(r io.Reader) ([]Zone, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxZonesBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read zones: %w", err)
	}
	if len(data) > maxZonesBytes {
		return nil, wardwatch.Errorf(wardwatch.ETOOLARGE, "zones file larger than %d MiB", maxZonesBytes>>20)
	}
	var doc struct {
		Type     *string `json:"type"`
		Features []struct {
			Type     string `json:"type"`
			Geometry *struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, jsonError(data, err)
	}
	if doc.Type == nil || *doc.Type != "FeatureCollection" {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "want a GeoJSON FeatureCollection")
	}
	zones := make([]Zone, 0, len(doc.Features))
	names := make(map[string]int, len(doc.Features))
	for i, f := range doc.Features {
		bad := func(format string, args ...any) error {
			return wardwatch.Errorf(wardwatch.EINVALID, "feature %d: %s", i+1, fmt.Sprintf(format, args...))
		}
		if f.Type != "Feature" {
			return nil, bad("type %q: want \"Feature\"", clip(f.Type))
		}
		var z Zone
		if err := stringProperty(f.Properties, "name", &z.Name); err != nil {
			return nil, bad("%v", err)
		}
		if z.Name == "" {
			return nil, bad("properties lack a \"name\"")
		}
		bad = func(format string, args ...any) error {
			return wardwatch.Errorf(wardwatch.EINVALID, "feature %d (%q): %s", i+1, clip(z.Name), fmt.Sprintf(format, args...))
		}
		if prev, dup := names[z.Name]; dup {
			return nil, bad("name already used by feature %d", prev)
		}
		names[z.Name] = i + 1
		raw, ok := f.Properties["floor"]
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return nil, bad("properties lack a \"floor\" (an integer)")
		}
		var fl float64
		if err := json.Unmarshal(raw, &fl); err != nil || fl != math.Trunc(fl) || math.Abs(fl) > 1<<53 {
			return nil, bad("floor %s: want an integer", clip(string(raw)))
		}
		z.Floor = int64(fl)
		var kind string
		if err := stringProperty(f.Properties, "kind", &kind); err != nil {
			return nil, bad("%v", err)
		}
		z.Kind = wardwatch.ZoneKind(kind)
		if kind == "" {
			z.Kind = wardwatch.ZoneRoom
		}
		if !z.Kind.Valid() {
			return nil, bad("kind %q: want room, corridor, clean_utility, soiled_utility, nurse_station, stairs or lift", clip(kind))
		}
		if f.Geometry == nil {
			return nil, bad("no geometry")
		}
		if f.Geometry.Type != "Polygon" {
			return nil, bad("geometry type %q: want \"Polygon\"", clip(f.Geometry.Type))
		}
		var rings [][][]float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &rings); err != nil {
			return nil, bad("coordinates: want [[[x, y], …]] in metres")
		}
		switch {
		case len(rings) == 0:
			return nil, bad("polygon has no ring")
		case len(rings) > 1:
			return nil, bad("polygon has holes; zones are simple polygons")
		}
		for _, pos := range rings[0] {
			if len(pos) < 2 {
				return nil, bad("a position has fewer than two coordinates")
			}
			z.Polygon = append(z.Polygon, wardwatch.Point{X: pos[0], Y: pos[1]})
		}
		if n := len(z.Polygon); n > 1 && z.Polygon[0] == z.Polygon[n-1] {
			z.Polygon = z.Polygon[:n-1]
		}
		if !floorplan.ValidPolygon(z.Polygon) {
			return nil, bad("polygon needs at least three distinct vertices and a non-zero area")
		}
		zones = append(zones, z)
	}
	return zones, nil
}

// stringProperty sets *dst from a string property, leaving it alone when
// the property is absent or null.
func stringProperty(props map[string]json.RawMessage, name string, dst *string) error {
	raw, ok := props[name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%s %s: want a string", name, clip(string(raw)))
	}
	return nil
}

// jsonError turns a JSON decoding error into an EINVALID error with the
// line it happened on.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return invalid(lineAt(data, se.Offset), "%v", se)
	case errors.As(err, &te):
		return invalid(lineAt(data, te.Offset), "%s: want %s, not %s", te.Field, jsonKind(te.Type), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid(lineAt(data, int64(len(data))), "unexpected end of JSON")
	}
	return wardwatch.Errorf(wardwatch.EINVALID, "zones: %v", err)
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a number"
}

// lineAt is the 1-based line of byte offset off in data.
func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// WriteZones writes zones as ReadZones reads them: a GeoJSON
// FeatureCollection of Polygons (rings closed) with properties name, floor
// and kind, one feature per line.
func WriteZones(w io.Writer, zones []Zone) error {
	type props struct {
		Name  string `json:"name"`
		Floor int64  `json:"floor"`
		Kind  string `json:"kind"`
	}
	type geometry struct {
		Type        string         `json:"type"`
		Coordinates [][][2]float64 `json:"coordinates"`
	}
	type feature struct {
		Type       string   `json:"type"`
		Properties props    `json:"properties"`
		Geometry   geometry `json:"geometry"`
	}
	var b bytes.Buffer
	b.WriteString("{\"type\": \"FeatureCollection\", \"features\": [\n")
	for i, z := range zones {
		ring := make([][2]float64, 0, len(z.Polygon)+1)
		for _, p := range z.Polygon {
			ring = append(ring, [2]float64{p.X, p.Y})
		}
		if len(z.Polygon) > 0 {
			ring = append(ring, [2]float64{z.Polygon[0].X, z.Polygon[0].Y})
		}
		kind := string(z.Kind)
		if kind == "" {
			kind = string(wardwatch.ZoneRoom)
		}
		line, err := json.Marshal(feature{Type: "Feature", Properties: props{z.Name, z.Floor, kind}, Geometry: geometry{"Polygon", [][][2]float64{ring}}})
		if err != nil {
			return fmt.Errorf("write zones: %w", err)
		}
		b.WriteString("  ")
		b.Write(line)
		if i < len(zones)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]}\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write zones: %w", err)
	}
	return nil
}
