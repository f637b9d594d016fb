// Package replay runs WardWatch's location engine over recorded sightings:
// it reads the replay tool's files (G.csv gateways, S.csv sightings, T.csv
// truth, zones as GeoJSON, the engine configuration as YAML), feeds the
// sightings in time order to the very engine the live service runs
// (tracker.Engine's Observe and Update, called on the same 500 ms step as
// the live runner), writes what it outputs (P.csv) and, given the truth,
// scores it: position error, room accuracy, zone changes per hour.
//
// It also holds the simulated scenarios the accuracy benchmarks run on (a
// hospital corridor, ESPresense-companion's two-room flat); see
// docs/ACCURACY.md.
package replay

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
	"github.com/wardwatch/wardwatch/tracker"
	"github.com/wardwatch/wardwatch/tracker/fingerprint"
)

// DefaultStep is how often Run calls the engine's Update, in recorded
// time: the live runner's default interval.
const DefaultStep = 500 * time.Millisecond

// Run's limits.
const (
	// maxIdle: when no sighting comes for longer than this, Run skips
	// ahead to the next one instead of stepping through the silence.
	maxIdle = time.Hour
	// truthSlack: truth is held (not extrapolated) this far beyond its
	// first and last points; outputs farther out are not scored.
	truthSlack = time.Second
	// floorMargin is added beyond the farthest gateway to make the
	// extent of a floor without zones.
	floorMargin = 1.0
)

// Options is one replay.
type Options struct {
	Gateways  []Gateway
	Sightings []Sighting // in any order; Run sorts a copy by time
	Zones     []Zone     // optional
	Truth     []Truth    // optional; in any order

	// Config is the engine's configuration; zero fields take the engine's
	// defaults, as in tracker.New.
	Config tracker.Config

	// Step is how often Update is called, in recorded time (default
	// DefaultStep).
	Step time.Duration

	// Out receives P.csv; nil writes nothing.
	Out io.Writer

	// OnEstimate, when set, is called with every row of P.csv.
	OnEstimate func(Estimate)

	// Survey, when not empty, is a radio map survey: Run builds a
	// fingerprint map from it (with Fingerprint's options) and gives it to
	// the engine, which blends its fixes with the ranging fixes.
	Survey      []SurveyPoint
	Fingerprint fingerprint.Options
}

// SurveyPoint is one reading of a radio-map survey: a reference tag at a
// known point, and the RSSI (dBm, with the gateway's rx_offset added)
// each gateway heard it with, by gateway ID.
type SurveyPoint struct {
	Floor int64
	X, Y  float64
	RSSI  map[string]float64
}

// Summary is what a replay did and, with truth, how well.
type Summary struct {
	Sightings  int           // sightings fed to the engine
	Start, End time.Time     // first and last sighting
	Updates    int           // calls to Update
	Stats      tracker.Stats // the engine's counters at the end
	Estimates  int           // positions output (rows of P.csv)
	HasTruth   bool
	HasZones   bool
	Tags       []TagSummary // by tag ID
	Scores     []Score      // one per position scored against the truth, in output order
	Overall    Accuracy     // over every tag
}

// TagSummary is one tag's part of a replay.
type TagSummary struct {
	TagID       string
	Estimates   int
	First, Last time.Time // times of its first and last position
	ZoneChanges int       // changes of the zone it was reported in
}

// Score is one output position against the truth at the same moment.
type Score struct {
	Time       time.Time
	TagID      string
	Error      float64 // metres, in the plane
	Zone       string  // the engine's zone ("" for none)
	TruthZone  string  // the zone holding the true position ("" for none)
	Floor      int64   // the engine's floor
	TruthFloor int64   // the true floor (the engine's when the truth gives none)
}

// Accuracy is the scoring of a set of tags.
type Accuracy struct {
	N                           int     // positions scored
	Mean, Median, P90, P95, Max float64 // position error, metres
	RoomN                       int     // positions whose room was scored (needs zones)
	RoomCorrect                 float64 // fraction of RoomN whose zone was the true zone
	FloorCorrect                float64 // fraction of N on the true floor
	TagHours                    float64 // time between each tag's first and last position, summed
	ZoneChanges                 int     // changes of reported zone
	ZoneChangesPerHour          float64 // ZoneChanges / TagHours
	TruthZoneChanges            int     // changes of true zone between scored positions
	TruthZoneChangesPerHour     float64
}

// Run replays opts.Sightings through a new tracker.Engine: in time order,
// each sighting is given to Observe once the update it belongs to is due,
// and Update is called every Step of recorded time from the first
// sighting until one step after the last, exactly as the live runner
// drives the engine (the live runner's sightings arrive a little later,
// after the gateways' push delay). Every position output is written to
// opts.Out and, with truth, scored against the truth interpolated at the
// update's time.
//
// Gateways get engine IDs 1…n in the order given, tags (every tag in the
// sightings) 1…m by ID, floors 1…k by storey number, zones 1…z in order.
// Each floor spans from (0,0) to its farthest zone vertex or gateway, or,
// on a floor without zones, to 1 m beyond its farthest gateway; the engine
// keeps positions on it (no bounds when any coordinate is negative). Sightings from
// gateways not in opts.Gateways reach the engine with an unknown gateway
// ID, which counts them (Summary.Stats.UnknownGateway).
func Run(opts Options) (Summary, error) {
	return RunContext(context.Background(), opts)
}

// RunContext is Run, stopping with ctx's error when ctx is done.
func RunContext(ctx context.Context, opts Options) (Summary, error) {
	var sum Summary
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	step := opts.Step
	if step <= 0 {
		step = DefaultStep
	}
	w, err := newWorld(opts.Gateways, opts.Zones, opts.Sightings)
	if err != nil {
		return sum, err
	}
	sum.HasZones = len(opts.Zones) > 0
	truth := indexTruth(opts.Truth)
	sum.HasTruth = len(truth) > 0

	ss := make([]wardwatch.Sighting, len(opts.Sightings))
	for i, s := range opts.Sightings {
		gid, ok := w.gatewayIDs[s.GatewayID]
		if !ok {
			gid = -1
		}
		ss[i] = wardwatch.Sighting{Time: s.Time, GatewayID: gid, TagID: s.TagID, RSSI: s.RSSI, TxPower: s.TxPower}
	}
	slices.SortStableFunc(ss, func(a, b wardwatch.Sighting) int { return a.Time.Compare(b.Time) })

	var ew *EstimateWriter
	if opts.Out != nil {
		ew = NewEstimateWriter(opts.Out)
	}
	if len(opts.Survey) > 0 {
		fp, err := w.fingerprints(opts.Survey, opts.Fingerprint)
		if err != nil {
			return sum, err
		}
		w.site.Fingerprints = fp
	}
	tags := make(map[string]*tagRun)
	engine := tracker.New(opts.Config, w.site)

	if len(ss) > 0 {
		sum.Sightings = len(ss)
		sum.Start, sum.End = ss[0].Time, ss[len(ss)-1].Time
		tick := ss[0].Time.Add(step)
		for i := 0; ; {
			for i < len(ss) && !ss[i].Time.After(tick) {
				engine.Observe(ss[i])
				i++
			}
			out := engine.Update(tick)
			sum.Updates++
			if sum.Updates%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return sum, err
				}
			}
			for _, p := range out.Positions {
				if err := w.record(&sum, tags, truth, ew, opts.OnEstimate, tick, p); err != nil {
					return sum, err
				}
			}
			if i == len(ss) {
				break
			}
			if gap := ss[i].Time.Sub(tick); gap > maxIdle {
				tick = tick.Add(gap / step * step)
			} else {
				tick = tick.Add(step)
			}
		}
	}
	if ew != nil {
		if err := ew.Flush(); err != nil {
			return sum, err
		}
	}
	sum.Stats = engine.Stats()
	for _, tr := range tags {
		sum.Tags = append(sum.Tags, tr.TagSummary)
	}
	slices.SortFunc(sum.Tags, func(a, b TagSummary) int { return cmp.Compare(a.TagID, b.TagID) })
	sum.Overall = sum.Subset(nil)
	return sum, nil
}

// tagRun is a tag's running state during a replay.
type tagRun struct {
	TagSummary
	lastZone string
}

// record writes and scores one output position.
func (w *world) record(sum *Summary, tags map[string]*tagRun, truth map[string][]Truth, ew *EstimateWriter, each func(Estimate), now time.Time, p wardwatch.Position) error {
	est := Estimate{
		Time:       now,
		TagID:      p.TagID,
		Floor:      w.floorLevel[p.FloorID],
		X:          p.At.X,
		Y:          p.At.Y,
		Zone:       w.zoneName[p.ZoneID],
		Confidence: p.Confidence,
		Solver:     p.Solver,
	}
	if ew != nil {
		if err := ew.Write(est); err != nil {
			return err
		}
	}
	if each != nil {
		each(est)
	}
	sum.Estimates++
	tr := tags[p.TagID]
	if tr == nil {
		tr = &tagRun{TagSummary: TagSummary{TagID: p.TagID, First: now}, lastZone: est.Zone}
		tags[p.TagID] = tr
	}
	tr.Estimates++
	tr.Last = now
	if est.Zone != tr.lastZone {
		tr.ZoneChanges++
		tr.lastZone = est.Zone
	}
	if p.State == wardwatch.StateMissing {
		return nil // the engine says it does not know where the tag is
	}
	at, floor, hasFloor, ok := interpolate(truth[p.TagID], now)
	if !ok {
		return nil
	}
	if !hasFloor {
		floor = est.Floor
	}
	sum.Scores = append(sum.Scores, Score{
		Time:       now,
		TagID:      p.TagID,
		Error:      floorplan.Distance(p.At, at),
		Zone:       est.Zone,
		TruthZone:  w.zoneAt(floor, at),
		Floor:      est.Floor,
		TruthFloor: floor,
	})
	return nil
}

// Subset scores the tags keep accepts (every tag when keep is nil).
func (s *Summary) Subset(keep func(tagID string) bool) Accuracy {
	var a Accuracy
	var errs []float64
	floorOK, roomOK := 0, 0
	lastTruthZone := make(map[string]string)
	for _, sc := range s.Scores {
		if keep != nil && !keep(sc.TagID) {
			continue
		}
		errs = append(errs, sc.Error)
		if sc.Floor == sc.TruthFloor {
			floorOK++
		}
		if s.HasZones {
			a.RoomN++
			if sc.Zone == sc.TruthZone {
				roomOK++
			}
		}
		if prev, ok := lastTruthZone[sc.TagID]; ok && prev != sc.TruthZone {
			a.TruthZoneChanges++
		}
		lastTruthZone[sc.TagID] = sc.TruthZone
	}
	for _, t := range s.Tags {
		if keep != nil && !keep(t.TagID) {
			continue
		}
		a.TagHours += t.Last.Sub(t.First).Hours()
		a.ZoneChanges += t.ZoneChanges
	}
	a.N = len(errs)
	if a.N > 0 {
		slices.Sort(errs)
		var total float64
		for _, e := range errs {
			total += e
		}
		a.Mean = total / float64(a.N)
		a.Median = Percentile(errs, 50)
		a.P90 = Percentile(errs, 90)
		a.P95 = Percentile(errs, 95)
		a.Max = errs[a.N-1]
		a.FloorCorrect = float64(floorOK) / float64(a.N)
	}
	if a.RoomN > 0 {
		a.RoomCorrect = float64(roomOK) / float64(a.RoomN)
	}
	if a.TagHours > 0 {
		a.ZoneChangesPerHour = float64(a.ZoneChanges) / a.TagHours
		a.TruthZoneChangesPerHour = float64(a.TruthZoneChanges) / a.TagHours
	}
	return a
}

// Percentile is the p-th percentile (0–100) of sorted, interpolating
// linearly between ranks (the same definition as numpy's default and
// ESPresense-companion's harness); NaN for no values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	k := float64(n-1) * p / 100
	lo := int(math.Floor(k))
	hi := min(lo+1, n-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(k-float64(lo))
}

// WriteReport prints the replay's figures as a table.
func (s *Summary) WriteReport(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "sightings\t%d\t(accepted %d, unknown gateway %d, unknown tag %d, invalid %d)\n",
		s.Sightings, s.Stats.Accepted, s.Stats.UnknownGateway, s.Stats.UnknownTag, s.Stats.Invalid)
	if s.Sightings > 0 {
		fmt.Fprintf(tw, "recorded time\t%s\t(%s to %s)\n", s.End.Sub(s.Start).Round(time.Millisecond),
			s.Start.Format(time.RFC3339), s.End.Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "tags\t%d\t\n", len(s.Tags))
	fmt.Fprintf(tw, "positions\t%d\t(%d updates)\n", s.Estimates, s.Updates)
	a := s.Overall
	if s.HasTruth {
		fmt.Fprintf(tw, "scored\t%d\t(positions with truth at their time)\n", a.N)
		if a.N > 0 {
			fmt.Fprintf(tw, "error mean\t%.2f m\t\n", a.Mean)
			fmt.Fprintf(tw, "error median\t%.2f m\t\n", a.Median)
			fmt.Fprintf(tw, "error p90\t%.2f m\t\n", a.P90)
			fmt.Fprintf(tw, "error p95\t%.2f m\t\n", a.P95)
			fmt.Fprintf(tw, "error max\t%.2f m\t\n", a.Max)
			fmt.Fprintf(tw, "floor correct\t%.1f %%\t\n", 100*a.FloorCorrect)
		}
		if a.RoomN > 0 {
			fmt.Fprintf(tw, "room correct\t%.1f %%\t(n %d)\n", 100*a.RoomCorrect, a.RoomN)
		}
	}
	if s.HasZones && a.TagHours > 0 {
		fmt.Fprintf(tw, "zone changes\t%.2f /h\t(%d over %.2f tag-hours)\n", a.ZoneChangesPerHour, a.ZoneChanges, a.TagHours)
		if s.HasTruth {
			fmt.Fprintf(tw, "true zone changes\t%.2f /h\t(%d)\n", a.TruthZoneChangesPerHour, a.TruthZoneChanges)
		}
	}
	return tw.Flush()
}

// world maps the replay's string IDs onto the engine's site.
type world struct {
	site       tracker.Site
	gatewayIDs map[string]int64 // G.csv gateway_id → engine gateway ID
	floorLevel map[int64]int64  // engine floor ID → storey number
	zoneName   map[int64]string // engine zone ID → name
	zonesAt    map[int64][]zoneRef
}

// zoneRef is a zone for looking up where the truth was.
type zoneRef struct {
	name   string
	poly   []wardwatch.Point
	bounds floorplan.Rect
	area   float64
}

// newWorld builds the engine's site from the replay's inputs.
func newWorld(gateways []Gateway, zones []Zone, sightings []Sighting) (*world, error) {
	w := &world{
		gatewayIDs: make(map[string]int64, len(gateways)),
		floorLevel: make(map[int64]int64),
		zoneName:   map[int64]string{0: ""},
		zonesAt:    make(map[int64][]zoneRef),
	}
	// Floors: every storey a gateway or a zone is on.
	type extent struct {
		maxX, maxY, minXY float64
		zones             bool
	}
	ext := make(map[int64]*extent)
	grow := func(floor int64, p wardwatch.Point, zone bool) {
		e := ext[floor]
		if e == nil {
			e = &extent{minXY: math.Inf(1)}
			ext[floor] = e
		}
		e.maxX, e.maxY = max(e.maxX, p.X), max(e.maxY, p.Y)
		e.minXY = min(e.minXY, p.X, p.Y)
		e.zones = e.zones || zone
	}
	for _, g := range gateways {
		if !finite(g.X) || !finite(g.Y) || !finite(g.Z) {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "gateway %q: position is not finite", clip(g.ID))
		}
		grow(g.Floor, wardwatch.Point{X: g.X, Y: g.Y}, false)
	}
	for _, z := range zones {
		if !floorplan.ValidPolygon(z.Polygon) {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "zone %q: polygon needs at least three finite vertices and a non-zero area", clip(z.Name))
		}
		for _, p := range z.Polygon {
			grow(z.Floor, p, true)
		}
	}
	levels := make([]int64, 0, len(ext))
	for l := range ext {
		levels = append(levels, l)
	}
	slices.Sort(levels)
	floorID := make(map[int64]int64, len(levels))
	for i, l := range levels {
		id := int64(i + 1)
		floorID[l] = id
		w.floorLevel[id] = l
		f := wardwatch.Floor{ID: id, Name: fmt.Sprintf("Floor %d", l), Level: int(l)}
		if e := ext[l]; e.minXY >= 0 && finite(e.maxX) && finite(e.maxY) {
			f.Width, f.Height = e.maxX, e.maxY
			if !e.zones {
				f.Width, f.Height = e.maxX+floorMargin, e.maxY+floorMargin
			}
		}
		w.site.Floors = append(w.site.Floors, f)
	}

	// Zones, by name.
	zoneIDs := make(map[string]int64, len(zones))
	for i, z := range zones {
		if z.Name == "" {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "zone %d has no name", i+1)
		}
		if _, dup := zoneIDs[z.Name]; dup {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "zone name %q used twice", clip(z.Name))
		}
		kind := z.Kind
		if kind == "" {
			kind = wardwatch.ZoneRoom
		}
		id := int64(i + 1)
		zoneIDs[z.Name] = id
		w.zoneName[id] = z.Name
		w.site.Zones = append(w.site.Zones, wardwatch.Zone{
			ID: id, FloorID: floorID[z.Floor], Name: z.Name, Kind: kind, Polygon: slices.Clone(z.Polygon),
		})
		w.zonesAt[z.Floor] = append(w.zonesAt[z.Floor], zoneRef{
			name: z.Name, poly: z.Polygon, bounds: floorplan.Bounds(z.Polygon), area: floorplan.Area(z.Polygon),
		})
	}

	// Gateways.
	for i, g := range gateways {
		if g.ID == "" {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "gateway %d has no ID", i+1)
		}
		if _, dup := w.gatewayIDs[g.ID]; dup {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "gateway_id %q used twice", clip(g.ID))
		}
		id := int64(i + 1)
		w.gatewayIDs[g.ID] = id
		gw := wardwatch.Gateway{
			ID: id, Key: g.ID, Name: g.ID, FloorID: floorID[g.Floor],
			At: wardwatch.Point{X: g.X, Y: g.Y}, Z: g.Z,
			RSSIAt1m: g.RSSIAt1m, PathLossExponent: g.PathLossExponent, RxOffset: g.RxOffset,
		}
		if g.AnchorZone != "" {
			zid, ok := zoneIDs[g.AnchorZone]
			if !ok {
				return nil, wardwatch.Errorf(wardwatch.EINVALID, "gateway %q: anchor_zone %q is not a zone", clip(g.ID), clip(g.AnchorZone))
			}
			if zones[zid-1].Floor != g.Floor {
				return nil, wardwatch.Errorf(wardwatch.EINVALID, "gateway %q: anchor_zone %q is on floor %d, the gateway on floor %d",
					clip(g.ID), clip(g.AnchorZone), zones[zid-1].Floor, g.Floor)
			}
			gw.AnchorZoneID = zid
		}
		w.site.Gateways = append(w.site.Gateways, gw)
	}

	// Tags: every tag heard.
	seen := make(map[string]bool)
	var tagIDs []string
	for _, s := range sightings {
		if !seen[s.TagID] {
			seen[s.TagID] = true
			tagIDs = append(tagIDs, s.TagID)
		}
	}
	slices.Sort(tagIDs)
	for i, id := range tagIDs {
		w.site.Tags = append(w.site.Tags, wardwatch.Tag{ID: id, AssetID: int64(i + 1)})
	}
	return w, nil
}

// fingerprints builds the radio map of a survey, in the engine's IDs.
func (w *world) fingerprints(survey []SurveyPoint, opt fingerprint.Options) (*fingerprint.Map, error) {
	floorID := make(map[int64]int64, len(w.floorLevel))
	for id, level := range w.floorLevel {
		floorID[level] = id
	}
	samples := make([]fingerprint.Sample, 0, len(survey))
	for _, p := range survey {
		fid, ok := floorID[p.Floor]
		if !ok {
			continue // a floor without gateways or zones
		}
		s := fingerprint.Sample{Floor: fid, At: wardwatch.Point{X: p.X, Y: p.Y}, RSSI: make(map[int64]float64, len(p.RSSI))}
		for gw, v := range p.RSSI {
			if id, ok := w.gatewayIDs[gw]; ok {
				s.RSSI[id] = v
			}
		}
		samples = append(samples, s)
	}
	m, err := fingerprint.Build(samples, opt)
	if err != nil {
		return nil, fmt.Errorf("survey: %w", err)
	}
	return m, nil
}

// zoneAt is the name of the zone of floor holding p ("" for none); where
// zones overlap, the smallest wins, as in the engine.
func (w *world) zoneAt(floor int64, p wardwatch.Point) string {
	best := -1
	zs := w.zonesAt[floor]
	for i, z := range zs {
		if p.X < z.bounds.Min.X || p.X > z.bounds.Max.X || p.Y < z.bounds.Min.Y || p.Y > z.bounds.Max.Y {
			continue
		}
		if (best < 0 || z.area < zs[best].area) && floorplan.Contains(z.poly, p) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return zs[best].name
}

// indexTruth groups the truth by tag, each sorted by time.
func indexTruth(truth []Truth) map[string][]Truth {
	ix := make(map[string][]Truth)
	for _, t := range truth {
		ix[t.TagID] = append(ix[t.TagID], t)
	}
	for _, ts := range ix {
		slices.SortStableFunc(ts, func(a, b Truth) int { return a.Time.Compare(b.Time) })
	}
	return ix
}

// interpolate is where a tag truly was at t: linear between the truth
// points around t, held within truthSlack of the first and last; ok is
// false outside. The floor is the nearer point's.
func interpolate(ts []Truth, t time.Time) (p wardwatch.Point, floor int64, hasFloor, ok bool) {
	if len(ts) == 0 {
		return p, 0, false, false
	}
	i := sort.Search(len(ts), func(i int) bool { return ts[i].Time.After(t) })
	switch {
	case i == 0:
		if ts[0].Time.Sub(t) > truthSlack {
			return p, 0, false, false
		}
		a := ts[0]
		return wardwatch.Point{X: a.X, Y: a.Y}, a.Floor, a.HasFloor, true
	case i == len(ts):
		a := ts[i-1]
		if t.Sub(a.Time) > truthSlack {
			return p, 0, false, false
		}
		return wardwatch.Point{X: a.X, Y: a.Y}, a.Floor, a.HasFloor, true
	}
	a, b := ts[i-1], ts[i]
	span := b.Time.Sub(a.Time)
	f := 0.0
	if span > 0 {
		f = float64(t.Sub(a.Time)) / float64(span)
	}
	p = wardwatch.Point{X: a.X + (b.X-a.X)*f, Y: a.Y + (b.Y-a.Y)*f}
	if f <= 0.5 {
		return p, a.Floor, a.HasFloor, true
	}
	return p, b.Floor, b.HasFloor, true
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
