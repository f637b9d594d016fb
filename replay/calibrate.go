package replay

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
	"github.com/wardwatch/wardwatch/tracker/calibrate"
)

// Calibration is what `wardwatch calibrate` fits gateways from: the
// gateways of G.csv and recorded sightings, either of a reference tag
// carried along a known path (Truth, a survey) or, with GatewayToGateway,
// of the gateways themselves advertising (each sighting's tag_id is the
// transmitting gateway's gateway_id).
type Calibration struct {
	Gateways         []Gateway
	Sightings        []Sighting
	Truth            []Truth
	GatewayToGateway bool
	TagHeight        float64 // the survey tag's height above the floor, metres
	// MaxDistance drops observations made from farther than this (metres;
	// 0 = DefaultSurveyRange, or DefaultGatewayToGatewayRange). Far readings near a receiver's
	// sensitivity are heard only when fading makes them strong, which
	// flattens any fitted path-loss curve; staying within range avoids it.
	MaxDistance float64
	Options     calibrate.FitOptions
}

// Calibration.MaxDistance's defaults. Gateways hang 8–10 m apart, so
// gateway-to-gateway fits need the longer reach.
const (
	DefaultSurveyRange           = 10.0
	DefaultGatewayToGatewayRange = 25.0
)

// CalibrationResult is a fit: the gateways with their fitted calibration
// (the others unchanged), the report per gateway in G.csv's order, and
// the sightings that could not be used.
type CalibrationResult struct {
	Gateways []Gateway
	Reports  []calibrate.GatewayReport // GatewayID is the gateway's index in Gateways + 1
	Unused   int                       // sightings of unknown gateways, or with no truth at their time
	Far      int                       // sightings from beyond MaxDistance
}

// Calibrate fits each gateway's RSSI at 1 m and path-loss exponent (and,
// with Options.SplitOffset, its receive offset) with tracker/calibrate.
func Calibrate(c Calibration) (CalibrationResult, error) {
	index := make(map[string]int64, len(c.Gateways))
	gws := make([]wardwatch.Gateway, len(c.Gateways))
	for i, g := range c.Gateways {
		id := int64(i + 1)
		index[g.ID] = id
		gws[i] = wardwatch.Gateway{
			ID: id, Key: g.ID, FloorID: g.Floor, At: wardwatch.Point{X: g.X, Y: g.Y}, Z: g.Z,
			RSSIAt1m: g.RSSIAt1m, PathLossExponent: g.PathLossExponent, RxOffset: g.RxOffset,
		}
	}
	truth := indexTruth(c.Truth)
	maxDist := c.MaxDistance
	switch {
	case maxDist > 0:
	case c.GatewayToGateway:
		maxDist = DefaultGatewayToGatewayRange
	default:
		maxDist = DefaultSurveyRange
	}
	var (
		obs         []calibrate.Observation
		unused, far int
	)
	for _, s := range c.Sightings {
		rx, ok := index[s.GatewayID]
		if !ok {
			unused++
			continue
		}
		o := calibrate.Observation{GatewayID: rx, RSSI: s.RSSI, TxPower: s.TxPower}
		if c.GatewayToGateway {
			tx, ok := index[s.TagID]
			if !ok {
				unused++
				continue
			}
			g := gws[tx-1]
			o.At, o.Z, o.Floor = g.At, g.Z, g.FloorID
		} else {
			p, floor, hasFloor, ok := interpolate(truth[s.TagID], s.Time)
			if !ok {
				unused++
				continue
			}
			o.At, o.Z = p, c.TagHeight
			if hasFloor {
				o.Floor = floor
			}
		}
		if floorplan.Distance(o.At, gws[rx-1].At) > maxDist {
			far++
			continue
		}
		obs = append(obs, o)
	}
	fit := calibrate.FitSurvey
	if c.GatewayToGateway {
		fit = calibrate.FitGatewayToGateway
	}
	res, err := fit(gws, obs, c.Options)
	if err != nil {
		return CalibrationResult{}, err
	}
	out := CalibrationResult{Gateways: append([]Gateway(nil), c.Gateways...), Reports: res.Reports, Unused: unused, Far: far}
	for i, g := range res.Gateways {
		out.Gateways[i].RSSIAt1m = g.RSSIAt1m
		out.Gateways[i].PathLossExponent = g.PathLossExponent
		out.Gateways[i].RxOffset = g.RxOffset
	}
	return out, nil
}

// WriteReport prints the fit per gateway: its parameters, how well they
// explain the readings, and any parameter held at a bound — never silently.
func (r CalibrationResult) WriteReport(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "gateway\tn\trssi_at_1m\tpath_loss\trx_offset\trmse_db\tmedian_abs_db\tfitted\tnote")
	for _, rep := range r.Reports {
		note := rep.Reason
		if len(rep.AtBound) > 0 {
			note = "AT BOUND " + strings.Join(rep.AtBound, ", ") + ": " + note
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.1f\t%.1f\t%.1f\t%v\t%s\n",
			r.Gateways[rep.GatewayID-1].ID, rep.N, rep.RSSIAt1m, rep.PathLossExponent, rep.RxOffset,
			rep.RMSE, rep.MedianAbsResidual, rep.Fitted, note)
	}
	if r.Unused > 0 {
		fmt.Fprintf(tw, "\n%d sightings unused (unknown gateway, or no truth at their time)\n", r.Unused)
	}
	if r.Far > 0 {
		fmt.Fprintf(tw, "%d sightings beyond the calibration range left out\n", r.Far)
	}
	return tw.Flush()
}

// SurveyFromSightings turns a radio-map survey recorded as sightings of a
// reference tag along a known path (Truth) into SurveyPoints: the tag's
// sightings are grouped into windows of the given length (1 s when 0), each
// gateway's RSSI averaged over the window, at the tag's true position in the
// middle of it. Windows with no truth are left out.
func SurveyFromSightings(ss []Sighting, truth []Truth, window time.Duration) []SurveyPoint {
	if window <= 0 {
		window = time.Second
	}
	type key struct {
		tag    string
		bucket int64
	}
	type sums struct {
		sum map[string]float64
		n   map[string]int
	}
	groups := make(map[key]*sums)
	var order []key
	for _, s := range ss {
		k := key{s.TagID, s.Time.UnixNano() / int64(window)}
		g, ok := groups[k]
		if !ok {
			g = &sums{sum: map[string]float64{}, n: map[string]int{}}
			groups[k] = g
			order = append(order, k)
		}
		g.sum[s.GatewayID] += s.RSSI
		g.n[s.GatewayID]++
	}
	slices.SortFunc(order, func(a, b key) int {
		if c := strings.Compare(a.tag, b.tag); c != 0 {
			return c
		}
		return cmp.Compare(a.bucket, b.bucket)
	})
	index := indexTruth(truth)
	var points []SurveyPoint
	for _, k := range order {
		mid := time.Unix(0, k.bucket*int64(window)+int64(window)/2)
		p, floor, _, ok := interpolate(index[k.tag], mid)
		if !ok {
			continue
		}
		g := groups[k]
		rssi := make(map[string]float64, len(g.sum))
		for gw, sum := range g.sum {
			rssi[gw] = sum / float64(g.n[gw])
		}
		points = append(points, SurveyPoint{Floor: floor, X: p.X, Y: p.Y, RSSI: rssi})
	}
	return points
}
