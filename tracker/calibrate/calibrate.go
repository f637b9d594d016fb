// Package calibrate fits per-gateway radio calibration from sightings made
// at known distances: a survey (a reference tag carried to known points) or
// gateway-to-gateway sightings (gateways that also advertise hear each
// other).
//
// The model, per gateway g, is the log-distance path loss
//
//	rssi = A_g − 10·n_g·log10(d)
//
// with d the 3-D distance in metres between the transmitter and the gateway
// (clamped to at least 0.3 m), A_g the RSSI the gateway reads at 1 m from a
// tag whose reference power is FitOptions.RefRSSIAt1m, and n_g the
// path-loss exponent. An observation whose TxPower is known is first moved
// to that reference power (rssi − (TxPower − RefRSSIAt1m)), so tags of
// different power can be mixed. The model is linear in (A_g, n_g): each
// gateway is fitted by a robust linear regression on log10(d), within
// bounds: Huber iteratively reweighted least squares, then a Tukey
// bisquare polish from the Huber fit that drops gross outliers (see
// huberLine). A parameter that the data would
// push beyond its bound is clamped and named in GatewayReport.AtBound, with
// the unconstrained value in Reason: a fit never rails silently.
//
// With FitOptions.SplitOffset the receive offset is split from a shared
// RSSI at 1 m: a fleet-wide line is fitted to every gateway's observations
// at once, and each gateway's RxOffset is the robust mean of its residuals
// against that line, negated so that, as wardwatch.Gateway.RxOffset says,
// it is the dB added to every RSSI the gateway reports. RxOffsets are
// relative to the fleet: their observation-weighted mean is 0.
//
// The package is pure (no I/O, no goroutines) and deterministic: the same
// gateways and observations, in any order, give the same result.
package calibrate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/wardwatch/wardwatch"
)

// Defaults of FitOptions' zero fields.
const (
	DefaultMinPathLoss = 1.5
	DefaultMaxPathLoss = 4.5
	DefaultMinRSSIAt1m = -80.0
	DefaultMaxRSSIAt1m = -30.0
	DefaultRefRSSIAt1m = -59.0
)

// Limits of a usable fit.
const (
	// MinObservations is the fewest usable observations a gateway needs.
	MinObservations = 5
	// MinLogRange is the smallest spread of log10(distance), in decades,
	// between the 5th and 95th percentiles of a gateway's observations:
	// without it the exponent cannot be told from the RSSI at 1 m.
	MinLogRange = 0.2
	// MinDistance is the distance, in metres, every distance is clamped to
	// at least.
	MinDistance = 0.3
)

// RSSI and TxPower values outside [minRSSI, maxRSSI) are implausible.
const (
	minRSSI = -130.0
	maxRSSI = 0.0
)

// Parameter names used in GatewayReport.AtBound.
const (
	ParamRSSIAt1m         = "RSSIAt1m"
	ParamPathLossExponent = "PathLossExponent"
)

// Observation is one RSSI reading by a gateway of a transmitter at a known
// place: a survey tag at a surveyed point, or another gateway.
type Observation struct {
	GatewayID int64           // the receiving gateway
	At        wardwatch.Point // where the transmitter was, floor metres
	Z         float64         // the transmitter's height above the floor, metres
	Floor     int64           // the transmitter's floor; 0 = the gateway's
	RSSI      float64         // dBm as the gateway reported it (before any RxOffset)
	TxPower   float64         // the transmitter's advertised RSSI at 1 m, dBm; 0 = unknown
}

// FitOptions bounds and steers a fit. Zero fields take the Default… values.
type FitOptions struct {
	MinPathLoss, MaxPathLoss float64 // bounds of the path-loss exponent
	MinRSSIAt1m, MaxRSSIAt1m float64 // bounds of the RSSI at 1 m, dBm
	// RefRSSIAt1m is the reference power, dBm at 1 m, that observations
	// with a known TxPower are moved to; observations without one are
	// taken to come from a tag of that power.
	RefRSSIAt1m float64
	// SplitOffset fits one RSSI at 1 m for the whole fleet and a receive
	// offset per gateway, instead of an RSSI at 1 m per gateway.
	SplitOffset bool
}

// Result is the outcome of a fit.
type Result struct {
	// Gateways is the input, in its order, with the fitted fields set on
	// every gateway whose report says Fitted; the others are unchanged.
	Gateways []wardwatch.Gateway
	// Reports has one report per gateway, sorted by gateway ID.
	Reports []GatewayReport
	// Fleet is the shared fit when FitOptions.SplitOffset is set (its
	// GatewayID is 0, its RMSE is over offset-corrected RSSI); nil
	// otherwise.
	Fleet *GatewayReport
	// Skipped counts the observations not used: those counted in the
	// reports' Skipped and OtherFloor, and those naming no known gateway.
	Skipped int
	// UnknownGateway counts the observations naming no known gateway.
	UnknownGateway int
}

// GatewayReport says how one gateway's fit went.
type GatewayReport struct {
	GatewayID int64
	N         int // usable observations
	// The gateway's calibration after the fit: fitted values when Fitted,
	// else the values it came with.
	RSSIAt1m, PathLossExponent, RxOffset float64
	// Residuals (observed − model, dB) of the usable observations, against
	// the fitted model; 0 when not Fitted.
	RMSE, MedianAbsResidual float64
	// AtBound names the parameters (ParamRSSIAt1m, ParamPathLossExponent)
	// the data pushed beyond a bound, where they were clamped; Reason then
	// gives the unconstrained values.
	AtBound []string
	// Fitted is false when the gateway's calibration was kept as it came:
	// too few observations or too small a spread of distances.
	Fitted bool
	// Reason says why the gateway was not fitted, or what was clamped or
	// borrowed from the fleet when it was; "" for a clean fit.
	Reason string
	// Skipped counts this gateway's observations with a non-finite or
	// implausible value (RSSI or TxPower outside [-130, 0) dBm, a
	// non-finite position), or, gateway-to-gateway, the gateway hearing
	// itself. OtherFloor counts those made from another floor, which the
	// model cannot use.
	Skipped    int
	OtherFloor int
}

// FitSurvey fits each gateway's RSSIAt1m and PathLossExponent from a
// reference tag at known points. The RSSI at 1 m absorbs the gateway's
// receive offset, so RxOffset is set to 0 on fitted gateways, unless
// opt.SplitOffset asks for a shared RSSI at 1 m and per-gateway offsets.
//
// It returns a *wardwatch.Error with code EINVALID when the input cannot be
// used at all: no gateways, duplicate gateway IDs, unusable options, or no
// usable observation. Gateways with too few observations, or observations
// at too similar distances, are reported with Fitted false and keep their
// calibration.
func FitSurvey(gateways []wardwatch.Gateway, obs []Observation, opt FitOptions) (Result, error) {
	return fit(gateways, obs, opt, false)
}

// FitGatewayToGateway fits the gateways' calibration from sightings between
// gateways: each observation is a gateway (the transmitter, at its own
// position and height, with its advertised TxPower if any) heard by the
// gateway GatewayID. A gateway hearing itself (the transmitter within
// MinDistance of the receiver) is skipped. Otherwise it is FitSurvey;
// opt.SplitOffset is the usual choice here, since the receivers' offsets
// are what differs between otherwise identical gateways.
func FitGatewayToGateway(gateways []wardwatch.Gateway, obs []Observation, opt FitOptions) (Result, error) {
	return fit(gateways, obs, opt, true)
}

// point is one usable observation: x = log10(distance), y = RSSI moved to
// the reference power.
type point struct{ x, y float64 }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// normalize fills opt's zero fields with defaults and checks it.
func (opt FitOptions) normalize() (FitOptions, error) {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&opt.MinPathLoss, DefaultMinPathLoss)
	def(&opt.MaxPathLoss, DefaultMaxPathLoss)
	def(&opt.MinRSSIAt1m, DefaultMinRSSIAt1m)
	def(&opt.MaxRSSIAt1m, DefaultMaxRSSIAt1m)
	def(&opt.RefRSSIAt1m, DefaultRefRSSIAt1m)
	for _, v := range []float64{opt.MinPathLoss, opt.MaxPathLoss, opt.MinRSSIAt1m, opt.MaxRSSIAt1m, opt.RefRSSIAt1m} {
		if !finite(v) {
			return opt, wardwatch.Errorf(wardwatch.EINVALID, "Calibration bounds must be finite numbers.")
		}
	}
	switch {
	case opt.MinPathLoss <= 0 || opt.MinPathLoss > opt.MaxPathLoss:
		return opt, wardwatch.Errorf(wardwatch.EINVALID, "Path-loss exponent bounds must satisfy 0 < min ≤ max (got %g, %g).", opt.MinPathLoss, opt.MaxPathLoss)
	case opt.MinRSSIAt1m > opt.MaxRSSIAt1m:
		return opt, wardwatch.Errorf(wardwatch.EINVALID, "RSSI at 1 m bounds must satisfy min ≤ max (got %g, %g).", opt.MinRSSIAt1m, opt.MaxRSSIAt1m)
	case opt.RefRSSIAt1m < minRSSI || opt.RefRSSIAt1m >= maxRSSI:
		return opt, wardwatch.Errorf(wardwatch.EINVALID, "Reference RSSI at 1 m must be in [-130, 0) dBm (got %g).", opt.RefRSSIAt1m)
	}
	return opt, nil
}

// gatewayData collects one gateway's usable observations.
type gatewayData struct {
	index  int // in the input slice
	gw     wardwatch.Gateway
	pts    []point
	report GatewayReport
}

func fit(gateways []wardwatch.Gateway, obs []Observation, opt FitOptions, g2g bool) (Result, error) {
	opt, err := opt.normalize()
	if err != nil {
		return Result{}, err
	}
	if len(gateways) == 0 {
		return Result{}, wardwatch.Errorf(wardwatch.EINVALID, "Calibration needs at least one gateway.")
	}
	if len(obs) == 0 {
		return Result{}, wardwatch.Errorf(wardwatch.EINVALID, "Calibration needs observations.")
	}
	data := make([]*gatewayData, len(gateways))
	byID := make(map[int64]*gatewayData, len(gateways))
	for i, g := range gateways {
		if _, dup := byID[g.ID]; dup {
			return Result{}, wardwatch.Errorf(wardwatch.EINVALID, "Gateway %d is listed twice.", g.ID)
		}
		d := &gatewayData{index: i, gw: g, report: GatewayReport{GatewayID: g.ID}}
		data[i] = d
		byID[g.ID] = d
	}

	res := Result{Gateways: slices.Clone(gateways)}
	usable := 0
	for _, o := range obs {
		d, ok := byID[o.GatewayID]
		if !ok {
			res.UnknownGateway++
			res.Skipped++
			continue
		}
		p, why := d.point(o, opt, g2g)
		switch why {
		case skipNone:
			d.pts = append(d.pts, p)
			usable++
		case skipOtherFloor:
			d.report.OtherFloor++
			res.Skipped++
		default:
			d.report.Skipped++
			res.Skipped++
		}
	}
	if usable == 0 {
		return Result{}, wardwatch.Errorf(wardwatch.EINVALID,
			"None of the %d observations is usable (non-finite or implausible values, unknown gateways, other floors).", len(obs))
	}

	// Deterministic order: gateways by ID, each gateway's points by
	// (log-distance, RSSI), whatever order they came in.
	slices.SortFunc(data, func(a, b *gatewayData) int { return cmp.Compare(a.gw.ID, b.gw.ID) })
	for _, d := range data {
		slices.SortFunc(d.pts, func(a, b point) int {
			if c := cmp.Compare(a.x, b.x); c != 0 {
				return c
			}
			return cmp.Compare(a.y, b.y)
		})
		d.report.N = len(d.pts)
		d.report.RSSIAt1m = d.gw.RSSIAt1m
		d.report.PathLossExponent = d.gw.PathLossExponent
		d.report.RxOffset = d.gw.RxOffset
	}

	if opt.SplitOffset {
		res.Fleet = fitSplit(data, opt)
	} else {
		for _, d := range data {
			fitOwn(d, opt)
		}
	}

	res.Reports = make([]GatewayReport, len(data))
	for i, d := range data {
		res.Reports[i] = d.report
		if d.report.Fitted {
			g := &res.Gateways[d.index]
			g.RSSIAt1m = d.report.RSSIAt1m
			g.PathLossExponent = d.report.PathLossExponent
			g.RxOffset = d.report.RxOffset
		}
	}
	return res, nil
}

// Why an observation was not used.
const (
	skipNone = iota
	skipInvalid
	skipOtherFloor
	skipSelf
)

// point turns o into a usable point for d's gateway, or says why not.
func (d *gatewayData) point(o Observation, opt FitOptions, g2g bool) (point, int) {
	g := d.gw
	if !finite(o.At.X) || !finite(o.At.Y) || !finite(o.Z) || !finite(o.RSSI) || !finite(o.TxPower) ||
		!finite(g.At.X) || !finite(g.At.Y) || !finite(g.Z) {
		return point{}, skipInvalid
	}
	if o.RSSI < minRSSI || o.RSSI >= maxRSSI {
		return point{}, skipInvalid
	}
	if o.TxPower != 0 && (o.TxPower < minRSSI || o.TxPower >= maxRSSI) {
		return point{}, skipInvalid
	}
	if o.Floor != 0 && g.FloorID != 0 && o.Floor != g.FloorID {
		return point{}, skipOtherFloor
	}
	dx, dy, dz := o.At.X-g.At.X, o.At.Y-g.At.Y, o.Z-g.Z
	dist := math.Sqrt(dx*dx + dy*dy + dz*dz)
	if !finite(dist) {
		return point{}, skipInvalid
	}
	if g2g && dist < MinDistance {
		return point{}, skipSelf
	}
	y := o.RSSI
	if o.TxPower != 0 {
		y -= o.TxPower - opt.RefRSSIAt1m
	}
	return point{x: math.Log10(max(dist, MinDistance)), y: y}, skipNone
}

// usableReason says why pts cannot be fitted, or "" when they can.
func usableReason(pts []point) string {
	if len(pts) < MinObservations {
		return fmt.Sprintf("only %d usable observations, need at least %d", len(pts), MinObservations)
	}
	if lo, hi, ok := spread(pts); !ok {
		return fmt.Sprintf("distances span only %.2f decades (%.2f–%.2f m), need %.2f", hi-lo, math.Pow(10, lo), math.Pow(10, hi), MinLogRange)
	}
	return ""
}

// spread returns the 5th and 95th percentiles of pts' log-distances (pts
// sorted by x) and whether they are at least MinLogRange apart.
func spread(pts []point) (lo, hi float64, ok bool) {
	n := len(pts)
	if n == 0 {
		return 0, 0, false
	}
	lo = pts[int(math.Floor(0.05*float64(n-1)))].x
	hi = pts[int(math.Ceil(0.95*float64(n-1)))].x
	return lo, hi, hi-lo >= MinLogRange
}

// modelBox is the (a, b) box of the line y = a + b·x that the bounds allow:
// b = −10·n.
func modelBox(opt FitOptions) box {
	return box{aMin: opt.MinRSSIAt1m, aMax: opt.MaxRSSIAt1m, bMin: -10 * opt.MaxPathLoss, bMax: -10 * opt.MinPathLoss}
}

// fitOwn fits d's gateway alone: its own RSSI at 1 m and exponent.
func fitOwn(d *gatewayData, opt FitOptions) {
	r := &d.report
	if why := usableReason(d.pts); why != "" {
		r.Reason = why + "; calibration kept"
		return
	}
	l := huberLine(d.pts, modelBox(opt), 0)
	r.Fitted = true
	r.RSSIAt1m = l.a
	r.PathLossExponent = -l.b / 10
	r.RxOffset = 0
	r.AtBound, r.Reason = boundNotes(l, true, true)
	r.RMSE, r.MedianAbsResidual = residualStats(d.pts, l.a, l.b, 0)
}

// fitSplit fits a fleet line (shared RSSI at 1 m and exponent) with a
// receive offset per gateway, then each gateway's own exponent through the
// fleet's RSSI at 1 m. It returns the fleet's report.
func fitSplit(data []*gatewayData, opt FitOptions) *GatewayReport {
	fleet := &GatewayReport{}
	// Gateways too poor for even an offset take no part.
	var members []*gatewayData
	for _, d := range data {
		if len(d.pts) < MinObservations {
			d.report.Reason = usableReason(d.pts) + "; calibration kept"
			continue
		}
		members = append(members, d)
	}
	var pooled []point
	for _, d := range members {
		pooled = append(pooled, d.pts...)
	}
	fleet.N = len(pooled)
	slices.SortFunc(pooled, func(a, b point) int { return cmp.Compare(a.x, b.x) })
	if why := usableReason(pooled); why != "" {
		fleet.Reason = "fleet: " + why
		for _, d := range members {
			d.report.Reason = "fleet fit impossible (" + why + "); calibration kept"
		}
		return fleet
	}

	// Alternate: the fleet line on offset-corrected RSSI, then each
	// gateway's offset as the robust mean of its residuals.
	offsets := make([]float64, len(members))
	corrected := make([]point, 0, len(pooled))
	var line lineFit
	for round := range 10 {
		corrected = corrected[:0]
		for i, d := range members {
			for _, p := range d.pts {
				corrected = append(corrected, point{p.x, p.y + offsets[i]})
			}
		}
		if round == 0 {
			line = huberLine(corrected, modelBox(opt), 0)
		} else {
			line = huberLineFrom(corrected, modelBox(opt), 0, line)
		}
		next := make([]float64, len(members))
		var mean float64
		for i, d := range members {
			res := make([]point, len(d.pts))
			for j, p := range d.pts {
				res[j] = point{p.x, p.y + offsets[i] - (line.a + line.b*p.x)}
			}
			loc := huberLine(res, box{aMin: math.Inf(-1), aMax: math.Inf(1)}, 0)
			next[i] = offsets[i] - loc.a
			mean += next[i] * float64(len(d.pts))
		}
		// Only differences between offsets are identifiable (a common
		// shift trades against the fleet's RSSI at 1 m): pin their
		// observation-weighted mean to 0.
		mean /= float64(len(pooled))
		moved := 0.0
		for i := range next {
			next[i] -= mean
			moved = max(moved, math.Abs(next[i]-offsets[i]))
		}
		offsets = next
		if moved < 1e-3 {
			break
		}
	}
	fleet.Fitted = true
	fleet.RSSIAt1m = line.a
	fleet.PathLossExponent = -line.b / 10
	fleet.AtBound, fleet.Reason = boundNotes(line, true, true)
	corrected = corrected[:0]
	for i, d := range members {
		for _, p := range d.pts {
			corrected = append(corrected, point{p.x, p.y + offsets[i]})
		}
	}
	fleet.RMSE, fleet.MedianAbsResidual = residualStats(corrected, line.a, line.b, 0)

	for i, d := range members {
		r := &d.report
		r.Fitted = true
		r.RSSIAt1m = line.a
		r.RxOffset = offsets[i]
		var notes []string
		if slices.Contains(fleet.AtBound, ParamRSSIAt1m) {
			r.AtBound = append(r.AtBound, ParamRSSIAt1m)
			notes = append(notes, "fleet "+boundNote(ParamRSSIAt1m, line.a, line.freeA))
		}
		b := line.b
		if _, _, ok := spread(d.pts); ok {
			own := huberLine(d.pts, box{aMin: line.a, aMax: line.a, bMin: modelBox(opt).bMin, bMax: modelBox(opt).bMax}, offsets[i])
			b = own.b
			if at, note := boundNotes(own, false, true); len(at) > 0 {
				r.AtBound = append(r.AtBound, at...)
				notes = append(notes, note)
			}
		} else {
			lo, hi, _ := spread(d.pts)
			if slices.Contains(fleet.AtBound, ParamPathLossExponent) {
				r.AtBound = append(r.AtBound, ParamPathLossExponent)
				notes = append(notes, "fleet "+boundNote(ParamPathLossExponent, -line.b/10, -line.freeB/10))
			}
			notes = append(notes, fmt.Sprintf("distances span only %.2f decades: fleet exponent used", hi-lo))
		}
		r.PathLossExponent = -b / 10
		r.Reason = strings.Join(notes, "; ")
		r.RMSE, r.MedianAbsResidual = residualStats(d.pts, line.a, b, offsets[i])
	}
	return fleet
}

// boundNotes names the parameters of l clamped at a bound (only those the
// caller fitted: withA, withB) and describes them.
func boundNotes(l lineFit, withA, withB bool) ([]string, string) {
	var at, notes []string
	if withA && l.aClamped {
		at = append(at, ParamRSSIAt1m)
		notes = append(notes, boundNote(ParamRSSIAt1m, l.a, l.freeA))
	}
	if withB && l.bClamped {
		at = append(at, ParamPathLossExponent)
		notes = append(notes, boundNote(ParamPathLossExponent, -l.b/10, -l.freeB/10))
	}
	return at, strings.Join(notes, "; ")
}

func boundNote(name string, v, free float64) string {
	if !finite(free) {
		return fmt.Sprintf("%s clamped to %.4g", name, v)
	}
	return fmt.Sprintf("%s clamped to %.4g (unconstrained %.4g)", name, v, free)
}

// residualStats returns the RMSE and the median absolute residual of pts
// (RSSI + offset) against the line a + b·x.
func residualStats(pts []point, a, b, offset float64) (rmse, medAbs float64) {
	if len(pts) == 0 {
		return 0, 0
	}
	abs := make([]float64, len(pts))
	var ss float64
	for i, p := range pts {
		r := p.y + offset - (a + b*p.x)
		ss += r * r
		abs[i] = math.Abs(r)
	}
	return math.Sqrt(ss / float64(len(pts))), median(abs)
}
