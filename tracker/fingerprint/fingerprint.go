// Package fingerprint locates a tag by comparing what the gateways hear
// with a radio map recorded by a survey: k nearest neighbours in signal
// space.
//
// Build turns survey samples (a tag at known points, with the RSSI each
// gateway heard) into a map per floor: the floor is cut into square cells,
// and each cell keeps the mean position of its samples and, per gateway,
// the mean RSSI (a gateway heard in fewer than half of a cell's samples
// counts as unheard there). Locate compares a live reading with every cell
// of the floor, filling unheard gateways on either side with
// Options.Missing, and returns the weighted mean position of the K closest
// cells, weighted by 1/(signal distance + ε), with a confidence from how
// tightly those cells cluster and how well they match.
//
// A Map is immutable once built, so Locate is safe for concurrent use. It
// saves to and loads from a compact JSON document (MarshalJSON,
// UnmarshalJSON). The package is pure: no I/O, no goroutines.
package fingerprint

import (
	"cmp"
	"math"
	"slices"

	"github.com/wardwatch/wardwatch"
)

// Defaults of Options' zero fields.
const (
	DefaultK       = 5
	DefaultCell    = 1.0    // metres
	DefaultMissing = -100.0 // dBm
)

// Limits of Options and of the positions a map holds.
const (
	MaxK        = 100
	MinCell     = 0.1   // metres
	MaxCell     = 100   // metres
	maxCoord    = 1e6   // metres: samples farther from the origin are ignored
	minRSSI     = -130  // dBm
	epsilon     = 0.5   // dB, in the neighbour weights 1/(distance + ε)
	spreadScale = 2.0   // in cells: a neighbour spread of this many cells halves the confidence
	signalScale = 6.0   // dB: an RMS mismatch per gateway of this much halves the confidence
	rssiQuantum = 0.01  // dB: cell RSSI is rounded to this
	posQuantum  = 0.001 // metres: cell positions are rounded to this
)

// Sample is one survey reading: a tag at a known point of a floor, and the
// RSSI each gateway heard from it.
type Sample struct {
	Floor int64
	At    wardwatch.Point
	RSSI  map[int64]float64 // gateway ID → dBm
}

// Options shapes a radio map and its lookups. Zero fields take the
// Default… values.
type Options struct {
	K       int     // neighbours averaged by Locate
	Cell    float64 // cell size, metres (0.5–1 m suits a walked survey)
	Missing float64 // dBm standing for a gateway that is not heard
}

// Map is a radio map: cells of averaged RSSI per floor.
type Map struct {
	opt    Options
	floors map[int64]*floorMap
}

// floorMap is one floor's radio map.
type floorMap struct {
	gateways []int64           // sorted; the columns of rssi
	at       []wardwatch.Point // per cell: the mean position of its samples
	n        []int             // per cell: how many samples it averages
	rssi     []float64         // len(at) × len(gateways), row per cell; Missing when unheard
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// normalize fills opt's zero fields with defaults and checks it.
func (opt Options) normalize() (Options, error) {
	if opt.K == 0 {
		opt.K = DefaultK
	}
	if opt.Cell == 0 {
		opt.Cell = DefaultCell
	}
	if opt.Missing == 0 {
		opt.Missing = DefaultMissing
	}
	switch {
	case opt.K < 1 || opt.K > MaxK:
		return opt, wardwatch.Errorf(wardwatch.EINVALID, "Fingerprint K must be between 1 and %d (got %d).", MaxK, opt.K)
	case !(opt.Cell >= MinCell && opt.Cell <= MaxCell):
		return opt, wardwatch.Errorf(wardwatch.EINVALID, "Fingerprint cell size must be between %g and %g m (got %g).", MinCell, float64(MaxCell), opt.Cell)
	case !(opt.Missing >= minRSSI && opt.Missing < 0):
		return opt, wardwatch.Errorf(wardwatch.EINVALID, "The RSSI standing for an unheard gateway must be in [-130, 0) dBm (got %g).", opt.Missing)
	}
	return opt, nil
}

type cellKey struct{ ix, iy int64 }

// cellAcc accumulates one cell's samples.
type cellAcc struct {
	key    cellKey
	sx, sy float64
	n      int
	sum    map[int64]float64 // per gateway: sum of heard RSSI
	heard  map[int64]int     // per gateway: samples that heard it
}

// Build makes a radio map from survey samples. Samples with a non-finite
// position, a position farther than 1,000 km from the origin, or no
// usable reading (finite and in [-130, 0) dBm) are ignored; a reading
// weaker than opt.Missing counts as opt.Missing. It returns a
// *wardwatch.Error with code EINVALID for unusable options or when no
// sample is usable.
func Build(samples []Sample, opt Options) (*Map, error) {
	opt, err := opt.normalize()
	if err != nil {
		return nil, err
	}
	cells := map[int64]map[cellKey]*cellAcc{}
	for _, s := range samples {
		if !finite(s.At.X) || !finite(s.At.Y) || math.Abs(s.At.X) > maxCoord || math.Abs(s.At.Y) > maxCoord {
			continue
		}
		usable := false
		for _, v := range s.RSSI {
			if finite(v) && v >= minRSSI && v < 0 {
				usable = true
				break
			}
		}
		if !usable {
			continue
		}
		floor := cells[s.Floor]
		if floor == nil {
			floor = map[cellKey]*cellAcc{}
			cells[s.Floor] = floor
		}
		key := cellKey{int64(math.Floor(s.At.X / opt.Cell)), int64(math.Floor(s.At.Y / opt.Cell))}
		acc := floor[key]
		if acc == nil {
			acc = &cellAcc{key: key, sum: map[int64]float64{}, heard: map[int64]int{}}
			floor[key] = acc
		}
		acc.sx += s.At.X
		acc.sy += s.At.Y
		acc.n++
		for id, v := range s.RSSI {
			if finite(v) && v >= minRSSI && v < 0 {
				acc.sum[id] += max(v, opt.Missing)
				acc.heard[id]++
			}
		}
	}
	if len(cells) == 0 {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "No usable survey sample: each needs a finite position and at least one RSSI in [-130, 0) dBm.")
	}
	m := &Map{opt: opt, floors: make(map[int64]*floorMap, len(cells))}
	for floor, byKey := range cells {
		accs := make([]*cellAcc, 0, len(byKey))
		for _, a := range byKey {
			accs = append(accs, a)
		}
		slices.SortFunc(accs, func(a, b *cellAcc) int {
			if c := cmp.Compare(a.key.iy, b.key.iy); c != 0 {
				return c
			}
			return cmp.Compare(a.key.ix, b.key.ix)
		})
		// Cell means; a gateway heard in fewer than half of a cell's
		// samples is unheard there.
		means := make([]map[int64]float64, len(accs))
		seen := map[int64]bool{}
		for i, a := range accs {
			means[i] = map[int64]float64{}
			for id, h := range a.heard {
				if 2*h < a.n {
					continue
				}
				v := min(round(a.sum[id]/float64(h), rssiQuantum), -rssiQuantum)
				if v > opt.Missing {
					means[i][id] = v
					seen[id] = true
				}
			}
		}
		if len(seen) == 0 {
			continue // every reading on this floor was at or below Missing
		}
		fm := &floorMap{}
		for id := range seen {
			fm.gateways = append(fm.gateways, id)
		}
		slices.Sort(fm.gateways)
		g := len(fm.gateways)
		fm.at = make([]wardwatch.Point, len(accs))
		fm.n = make([]int, len(accs))
		fm.rssi = make([]float64, len(accs)*g)
		for i, a := range accs {
			fm.at[i] = wardwatch.Point{X: round(a.sx/float64(a.n), posQuantum), Y: round(a.sy/float64(a.n), posQuantum)}
			fm.n[i] = a.n
			for j, id := range fm.gateways {
				v, ok := means[i][id]
				if !ok {
					v = opt.Missing
				}
				fm.rssi[i*g+j] = v
			}
		}
		m.floors[floor] = fm
	}
	if len(m.floors) == 0 {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "No survey sample heard any gateway above %g dBm.", opt.Missing)
	}
	return m, nil
}

func round(v, q float64) float64 { return math.Round(v/q) * q }

// Floors returns the IDs of the floors the map covers, sorted.
func (m *Map) Floors() []int64 {
	if m == nil {
		return nil
	}
	ids := make([]int64, 0, len(m.floors))
	for id := range m.floors {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// neighbour is a candidate cell in Locate.
type neighbour struct {
	d2    float64 // squared signal distance, dB²
	union int     // gateways heard by the query or the cell
	cell  int
}

// Locate places a tag on floor from the RSSI each gateway hears of it
// (gateway ID → dBm): the weighted mean position of the K cells nearest
// in signal space, each weighted by 1/(distance + ε), the distance being
// Euclidean in dB over the floor's gateways with unheard ones (on either
// side) at Options.Missing. Gateways the floor's map never heard and
// non-finite readings are ignored.
//
// The confidence, in 0..1, is the product of two terms: how tightly the
// K cells cluster around the result (their weighted RMS distance from it,
// against two cells), and how well they match (their weighted RMS
// mismatch per gateway, against 6 dB); each term is 1/(1 + x²).
//
// ok is false when the floor has no map or the reading shares no heard
// gateway with it.
func (m *Map) Locate(floor int64, rssi map[int64]float64) (p wardwatch.Point, confidence float64, ok bool) {
	if m == nil {
		return p, 0, false
	}
	fm := m.floors[floor]
	if fm == nil {
		return p, 0, false
	}
	miss := m.opt.Missing
	g := len(fm.gateways)
	var qbuf [32]float64
	q := qbuf[:0]
	if g > len(qbuf) {
		q = make([]float64, 0, g)
	}
	for range g {
		q = append(q, miss)
	}
	shared := 0
	for id, v := range rssi {
		if !finite(v) || v <= miss {
			continue
		}
		j, found := slices.BinarySearch(fm.gateways, id)
		if !found {
			continue
		}
		q[j] = min(v, 0)
		shared++
	}
	if shared == 0 {
		return p, 0, false
	}

	k := min(m.opt.K, len(fm.at))
	var nbuf [16]neighbour
	best := nbuf[:0]
	if k > len(nbuf) {
		best = make([]neighbour, 0, k)
	}
	for c := range fm.at {
		row := fm.rssi[c*g : (c+1)*g]
		var d2 float64
		union := 0
		for j, v := range row {
			d := q[j] - v
			d2 += d * d
			if q[j] > miss || v > miss {
				union++
			}
		}
		if len(best) == k && d2 >= best[k-1].d2 {
			continue
		}
		// Insert in order; ties keep the earlier cell first.
		i := len(best)
		if i < k {
			best = append(best, neighbour{})
		} else {
			i = k - 1
		}
		for i > 0 && best[i-1].d2 > d2 {
			best[i] = best[i-1]
			i--
		}
		best[i] = neighbour{d2: d2, union: union, cell: c}
	}

	var sw float64
	for _, nb := range best {
		w := 1 / (math.Sqrt(nb.d2) + epsilon)
		at := fm.at[nb.cell]
		p.X += w * at.X
		p.Y += w * at.Y
		sw += w
	}
	p.X /= sw
	p.Y /= sw
	var spread2, mismatch float64
	for _, nb := range best {
		w := 1 / (math.Sqrt(nb.d2) + epsilon)
		at := fm.at[nb.cell]
		spread2 += w * ((at.X-p.X)*(at.X-p.X) + (at.Y-p.Y)*(at.Y-p.Y))
		mismatch += w * math.Sqrt(nb.d2/float64(max(nb.union, 1)))
	}
	spread := math.Sqrt(spread2/sw) / (spreadScale * m.opt.Cell)
	signal := mismatch / sw / signalScale
	confidence = 1 / ((1 + spread*spread) * (1 + signal*signal))
	return p, confidence, true
}
