package fingerprint

import (
	"encoding/json"
	"math"
	"slices"

	"github.com/wardwatch/wardwatch"
)

// formatVersion is the version of the JSON document MarshalJSON writes.
const formatVersion = 1

// mapJSON is a Map's JSON document:
//
//	{"version":1,"k":5,"cell":1,"missing":-100,
//	 "floors":[{"floor":2,"gateways":[11,12,13],
//	            "cells":[{"x":0.512,"y":0.498,"n":3,"rssi":[-61.5,-74.25,null]}]}]}
//
// rssi has one entry per gateway of the floor, null when unheard; floors
// are sorted by ID, gateways ascending, cells row by row.
type mapJSON struct {
	Version int         `json:"version"`
	K       int         `json:"k"`
	Cell    float64     `json:"cell"`
	Missing float64     `json:"missing"`
	Floors  []floorJSON `json:"floors"`
}

type floorJSON struct {
	Floor    int64      `json:"floor"`
	Gateways []int64    `json:"gateways"`
	Cells    []cellJSON `json:"cells"`
}

type cellJSON struct {
	X    float64    `json:"x"`
	Y    float64    `json:"y"`
	N    int        `json:"n"`
	RSSI []*float64 `json:"rssi"`
}

// MarshalJSON writes the map as a compact JSON document, for storing radio
// maps; UnmarshalJSON reads it back to an identical map.
func (m *Map) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	doc := mapJSON{Version: formatVersion, K: m.opt.K, Cell: m.opt.Cell, Missing: m.opt.Missing, Floors: []floorJSON{}}
	for _, id := range m.Floors() {
		fm := m.floors[id]
		g := len(fm.gateways)
		f := floorJSON{Floor: id, Gateways: fm.gateways, Cells: make([]cellJSON, len(fm.at))}
		for i, at := range fm.at {
			c := cellJSON{X: at.X, Y: at.Y, N: fm.n[i], RSSI: make([]*float64, g)}
			for j := range g {
				if v := fm.rssi[i*g+j]; v > m.opt.Missing {
					c.RSSI[j] = &fm.rssi[i*g+j]
				}
			}
			f.Cells[i] = c
		}
		doc.Floors = append(doc.Floors, f)
	}
	return json.Marshal(doc)
}

// UnmarshalJSON reads a map written by MarshalJSON. A document that is not
// valid JSON, of another version, or with inconsistent contents (unknown
// options, duplicate floors, unsorted gateways, rows of the wrong length,
// non-finite or out-of-range values) is rejected with a *wardwatch.Error
// of code EINVALID, and m is left unchanged.
func (m *Map) UnmarshalJSON(data []byte) error {
	var doc mapJSON
	if err := json.Unmarshal(data, &doc); err != nil {
		return &wardwatch.Error{Code: wardwatch.EINVALID, Message: "The radio map is not valid JSON.", Err: err}
	}
	if doc.Version != formatVersion {
		return wardwatch.Errorf(wardwatch.EINVALID, "Unknown radio map version %d (want %d).", doc.Version, formatVersion)
	}
	opt := Options{K: doc.K, Cell: doc.Cell, Missing: doc.Missing}
	if n, err := opt.normalize(); err != nil || n != opt {
		return wardwatch.Errorf(wardwatch.EINVALID, "The radio map's options are invalid (k %d, cell %g, missing %g).", doc.K, doc.Cell, doc.Missing)
	}
	floors := make(map[int64]*floorMap, len(doc.Floors))
	for _, f := range doc.Floors {
		if _, dup := floors[f.Floor]; dup {
			return wardwatch.Errorf(wardwatch.EINVALID, "The radio map lists floor %d twice.", f.Floor)
		}
		g := len(f.Gateways)
		if g == 0 || len(f.Cells) == 0 {
			return wardwatch.Errorf(wardwatch.EINVALID, "Floor %d of the radio map has no gateways or no cells.", f.Floor)
		}
		for j := 1; j < g; j++ {
			if f.Gateways[j] <= f.Gateways[j-1] {
				return wardwatch.Errorf(wardwatch.EINVALID, "Floor %d of the radio map: gateways must be unique and ascending.", f.Floor)
			}
		}
		fm := &floorMap{
			gateways: slices.Clone(f.Gateways),
			at:       make([]wardwatch.Point, len(f.Cells)),
			n:        make([]int, len(f.Cells)),
			rssi:     make([]float64, len(f.Cells)*g),
		}
		for i, c := range f.Cells {
			if !finite(c.X) || !finite(c.Y) || math.Abs(c.X) > maxCoord || math.Abs(c.Y) > maxCoord || c.N < 1 || len(c.RSSI) != g {
				return wardwatch.Errorf(wardwatch.EINVALID, "Floor %d of the radio map: cell %d is invalid.", f.Floor, i)
			}
			fm.at[i] = wardwatch.Point{X: c.X, Y: c.Y}
			fm.n[i] = c.N
			for j, v := range c.RSSI {
				switch {
				case v == nil:
					fm.rssi[i*g+j] = opt.Missing
				case finite(*v) && *v > opt.Missing && *v < 0:
					fm.rssi[i*g+j] = *v
				default:
					return wardwatch.Errorf(wardwatch.EINVALID, "Floor %d of the radio map: cell %d has an RSSI outside (%g, 0) dBm.", f.Floor, i, opt.Missing)
				}
			}
		}
		floors[f.Floor] = fm
	}
	if len(floors) == 0 {
		return wardwatch.Errorf(wardwatch.EINVALID, "The radio map has no floors.")
	}
	*m = Map{opt: opt, floors: floors}
	return nil
}
