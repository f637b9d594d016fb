package replay

import (
	"math"
	"slices"
	"time"

	"github.com/wardwatch/wardwatch"
)

// The reference the engine is measured against: a plain 1/d² weighted
// centroid (ESPresense-companion's "Nadaraya-Watson" locator, and this
// project's first engine without its window and k-strongest choice). Each
// gateway's RSSI becomes a distance with the log-distance model, and the
// estimate is Σ wᵢ·gᵢ / Σ wᵢ over the gateways' positions gᵢ, wᵢ = 1/dᵢ²
// (dᵢ at least 0.5 m). No filtering, no floor logic, no hysteresis: the
// zone is whichever zone the point falls in.

// rangeModel turns RSSI into metres.
type rangeModel struct {
	rssiAt1m, pathLoss float64 // used for gateways without calibration, or all when calibrated is false
	calibrated         bool    // use each gateway's own RSSIAt1m and PathLossExponent when set
}

func (m rangeModel) distance(g Gateway, rssi float64) float64 {
	ref, n := m.rssiAt1m, m.pathLoss
	if m.calibrated {
		if g.RSSIAt1m != 0 {
			ref = g.RSSIAt1m
		}
		if g.PathLossExponent > 0 {
			n = g.PathLossExponent
		}
	}
	d := math.Pow(10, (ref-(rssi+g.RxOffset))/(10*n))
	return min(max(d, 0.5), 30)
}

// centroid is the 1/d² weighted centroid of the gateways heard, with the
// RSSI each heard (indexes into gws).
func centroid(gws []Gateway, heard []int, rssi []float64, m rangeModel) wardwatch.Point {
	var p wardwatch.Point
	var sum float64
	for k, i := range heard {
		d := m.distance(gws[i], rssi[k])
		w := 1 / (d * d)
		p.X += w * gws[i].X
		p.Y += w * gws[i].Y
		sum += w
	}
	return wardwatch.Point{X: p.X / sum, Y: p.Y / sum}
}

// baselinePerSample scores the plain centroid on each advertisement: the
// sightings of a tag that share a timestamp (one advertisement heard by
// several gateways; one row of a pre-processed dataset) make one estimate,
// scored against the truth at that time.
func baselinePerSample(ds Dataset, m rangeModel) (Summary, error) {
	w, err := newWorld(ds.Gateways, ds.Zones, ds.Sightings)
	if err != nil {
		return Summary{}, err
	}
	truth := indexTruth(ds.Truth)
	gwIndex := make(map[string]int, len(ds.Gateways))
	for i, g := range ds.Gateways {
		gwIndex[g.ID] = i
	}
	ss := slices.Clone(ds.Sightings)
	slices.SortStableFunc(ss, func(a, b Sighting) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		switch {
		case a.TagID < b.TagID:
			return -1
		case a.TagID > b.TagID:
			return 1
		}
		return 0
	})
	sum := Summary{HasTruth: len(truth) > 0, HasZones: len(ds.Zones) > 0, Sightings: len(ss)}
	tags := make(map[string]*tagRun)
	var heard []int
	var rssi []float64
	for i := 0; i < len(ss); {
		j := i
		heard, rssi = heard[:0], rssi[:0]
		for ; j < len(ss) && ss[j].Time.Equal(ss[i].Time) && ss[j].TagID == ss[i].TagID; j++ {
			if g, ok := gwIndex[ss[j].GatewayID]; ok {
				heard = append(heard, g)
				rssi = append(rssi, ss[j].RSSI)
			}
		}
		if len(heard) > 0 {
			if err := w.recordBaseline(&sum, tags, truth, ss[i].Time, ss[i].TagID, centroid(ds.Gateways, heard, rssi, m)); err != nil {
				return sum, err
			}
		}
		i = j
	}
	finishBaseline(&sum, tags)
	return sum, nil
}

// baselineWindowed scores the centroid fed like the engine: every step,
// for each tag heard since the previous step, each gateway's median RSSI
// over the last window.
func baselineWindowed(ds Dataset, m rangeModel, step, window time.Duration) (Summary, error) {
	w, err := newWorld(ds.Gateways, ds.Zones, ds.Sightings)
	if err != nil {
		return Summary{}, err
	}
	truth := indexTruth(ds.Truth)
	gwIndex := make(map[string]int, len(ds.Gateways))
	for i, g := range ds.Gateways {
		gwIndex[g.ID] = i
	}
	ss := slices.Clone(ds.Sightings)
	slices.SortStableFunc(ss, func(a, b Sighting) int { return a.Time.Compare(b.Time) })
	sum := Summary{HasTruth: len(truth) > 0, HasZones: len(ds.Zones) > 0, Sightings: len(ss)}
	if len(ss) == 0 {
		return sum, nil
	}
	type sample struct {
		t    time.Time
		rssi float64
	}
	hist := make(map[string]map[int][]sample)
	heardNow := make(map[string]bool)
	tags := make(map[string]*tagRun)
	var order []string
	tick := ss[0].Time.Add(step)
	for i := 0; ; tick = tick.Add(step) {
		for ; i < len(ss) && !ss[i].Time.After(tick); i++ {
			g, ok := gwIndex[ss[i].GatewayID]
			if !ok {
				continue
			}
			h := hist[ss[i].TagID]
			if h == nil {
				h = make(map[int][]sample)
				hist[ss[i].TagID] = h
			}
			h[g] = append(h[g], sample{ss[i].Time, ss[i].RSSI})
			if !heardNow[ss[i].TagID] {
				heardNow[ss[i].TagID] = true
				order = append(order, ss[i].TagID)
			}
		}
		for _, tag := range order {
			delete(heardNow, tag)
			var heard []int
			var rssi []float64
			for g, samples := range hist[tag] {
				k := 0
				for k < len(samples) && !samples[k].t.After(tick.Add(-window)) {
					k++
				}
				samples = samples[k:]
				hist[tag][g] = samples
				if len(samples) == 0 {
					continue
				}
				vals := make([]float64, len(samples))
				for n, s := range samples {
					vals[n] = s.rssi
				}
				slices.Sort(vals)
				heard = append(heard, g)
				rssi = append(rssi, Percentile(vals, 50))
			}
			if len(heard) == 0 {
				continue
			}
			if err := w.recordBaseline(&sum, tags, truth, tick, tag, centroid(ds.Gateways, heard, rssi, m)); err != nil {
				return sum, err
			}
		}
		order = order[:0]
		if i == len(ss) {
			break
		}
	}
	finishBaseline(&sum, tags)
	return sum, nil
}

// recordBaseline scores one baseline estimate as Run scores the engine's:
// its zone is the zone the point falls in (its floor: the first floor).
func (w *world) recordBaseline(sum *Summary, tags map[string]*tagRun, truth map[string][]Truth, t time.Time, tag string, at wardwatch.Point) error {
	floorID := int64(1)
	level := w.floorLevel[floorID]
	var zoneID int64
	if name := w.zoneAt(level, at); name != "" {
		for id, n := range w.zoneName {
			if n == name {
				zoneID = id
			}
		}
	}
	return w.record(sum, tags, truth, nil, nil, t, wardwatch.Position{TagID: tag, FloorID: floorID, At: at, ZoneID: zoneID, Solver: "baseline-centroid"})
}

func finishBaseline(sum *Summary, tags map[string]*tagRun) {
	for _, tr := range tags {
		sum.Tags = append(sum.Tags, tr.TagSummary)
	}
	slices.SortFunc(sum.Tags, func(a, b TagSummary) int {
		switch {
		case a.TagID < b.TagID:
			return -1
		case a.TagID > b.TagID:
			return 1
		}
		return 0
	})
	sum.Overall = sum.Subset(nil)
}
