package alerts

import (
	"math"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Review is a person's sign-off of one unit's daily log entry (CDC: record
// min/max at the start of each workday, with the checker's name and any
// action taken).
type Review struct {
	UnitID int64
	Day    string // local date "2006-01-02"
	By     string
	At     time.Time
	Action string // action taken, if any
}

// Validate checks a sign-off made at now for a day in loc: a user, a date,
// and not a day that has not begun (EINVALID).
func (r Review) Validate(now time.Time, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	day, err := time.ParseInLocation(time.DateOnly, r.Day, loc)
	switch {
	case err != nil:
		return wardwatch.Errorf(wardwatch.EINVALID, "A review needs the day as YYYY-MM-DD.")
	case strings.TrimSpace(r.By) == "" || r.By == SystemUser:
		return wardwatch.Errorf(wardwatch.EINVALID, "A review needs the reviewer's name.")
	case now.Before(day):
		return wardwatch.Errorf(wardwatch.EINVALID, "Day %s has not begun yet.", r.Day)
	case r.At.IsZero():
		return wardwatch.Errorf(wardwatch.EINVALID, "A review needs its time.")
	}
	return nil
}

// DailyEntry is one day of a unit's min/max log (domain-requirements §1
// defaults, "Daily min/max log"). A day without readings has Count 0 and
// NaN values; a day nobody reviewed has a zero Review. Nothing is ever
// filled in for a missed day.
type DailyEntry struct {
	UnitID   int64
	UnitName string
	SensorID string
	Metric   wardwatch.Metric
	Day      string    // local date "2006-01-02"
	Start    time.Time // the day's first instant
	End      time.Time // the next day's first instant
	Count    int       // readings taken during the day
	Min, Max float64
	MinAt    time.Time
	MaxAt    time.Time
	Mean     float64 // time-weighted over the covered time
	Last     float64 // the day's last reading ("current" at review)
	LastAt   time.Time
	// Covered is how much of the day readings stood for (each until the
	// next, at most the hold time); InRange is the fraction of it inside
	// the range (NaN without a range or data).
	Covered time.Duration
	InRange float64
	Review  Review
}

// Reviewed reports whether someone signed the entry off.
func (d DailyEntry) Reviewed() bool { return d.Review.By != "" }

// DailyOptions says how DailyLog cuts and judges days.
type DailyOptions struct {
	Location *time.Location // day boundaries; nil: UTC
	Range    *Range         // for InRange; nil: none
	// Hold is how long a reading stands (0: until the next reading).
	Hold     time.Duration
	UnitID   int64
	UnitName string
	Reviews  []Review // matched by Day (and UnitID when set)
}

// DailyLog computes the daily min/max log of one sensor's series (one
// metric, oldest first) for every local day that begins in [from, to).
// Readings not newer than the previous one and non-finite values are
// skipped.
func DailyLog(rs []wardwatch.Reading, from, to time.Time, o DailyOptions) []DailyEntry {
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	rs = cleanSeries(rs)
	var out []DailyEntry
	y, m, d := from.In(loc).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if start.Before(from) {
		start = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	}
	i := 0 // first reading at or after start
	for ; start.Before(to); start = time.Date(start.Year(), start.Month(), start.Day()+1, 0, 0, 0, 0, loc) {
		end := time.Date(start.Year(), start.Month(), start.Day()+1, 0, 0, 0, 0, loc)
		e := DailyEntry{UnitID: o.UnitID, UnitName: o.UnitName, Day: start.Format(time.DateOnly), Start: start, End: end,
			Min: math.NaN(), Max: math.NaN(), Mean: math.NaN(), Last: math.NaN(), InRange: math.NaN()}
		for i < len(rs) && rs[i].Time.Before(start) {
			i++
		}
		if len(rs) > 0 {
			e.SensorID, e.Metric = rs[0].SensorID, rs[0].Metric
		}
		// Readings during the day.
		for j := i; j < len(rs) && rs[j].Time.Before(end); j++ {
			r := rs[j]
			if e.Count == 0 || r.Value < e.Min {
				e.Min, e.MinAt = r.Value, r.Time
			}
			if e.Count == 0 || r.Value > e.Max {
				e.Max, e.MaxAt = r.Value, r.Time
			}
			e.Last, e.LastAt = r.Value, r.Time
			e.Count++
		}
		// Time coverage: the reading before the day may stand into it.
		var sum, in float64
		for j := max(i-1, 0); j < len(rs) && rs[j].Time.Before(end); j++ {
			s := rs[j].Time
			e2 := end
			if j+1 < len(rs) && rs[j+1].Time.Before(e2) {
				e2 = rs[j+1].Time
			}
			if o.Hold > 0 && s.Add(o.Hold).Before(e2) {
				e2 = s.Add(o.Hold)
			}
			if s.Before(start) {
				s = start
			}
			if !e2.After(s) {
				continue
			}
			dt := e2.Sub(s)
			e.Covered += dt
			sum += rs[j].Value * dt.Seconds()
			if o.Range != nil && o.Range.contains(rs[j].Value) {
				in += dt.Seconds()
			}
		}
		if e.Covered > 0 {
			e.Mean = sum / e.Covered.Seconds()
			if o.Range != nil {
				e.InRange = in / e.Covered.Seconds()
			}
		}
		for _, rv := range o.Reviews {
			if rv.Day == e.Day && (o.UnitID == 0 || rv.UnitID == 0 || rv.UnitID == o.UnitID) {
				e.Review = rv
			}
		}
		out = append(out, e)
	}
	return out
}

// cleanSeries drops non-finite values and readings not newer than the
// previous kept one.
func cleanSeries(rs []wardwatch.Reading) []wardwatch.Reading {
	out := make([]wardwatch.Reading, 0, len(rs))
	for _, r := range rs {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || len(out) > 0 && !r.Time.After(out[len(out)-1].Time) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// Mean kinetic temperature constants (USP <1160>; domain-requirements
// §1.3): ΔH = 83.144 kJ/mol, R = 8.3144 J/(mol·K), so ΔH/R = 10 000 K.
const (
	DefaultActivationEnergy = 83.144    // kJ/mol
	GasConstant             = 8.3144e-3 // kJ/(mol·K)
	kelvin                  = 273.15
)

// MKT is the mean kinetic temperature (°C) of temps (°C) with weights (the
// time each stood; nil: equal), for activation energy deltaH in kJ/mol (0:
// the default 83.144):
//
//	T_mkt = (ΔH/R) / −ln( Σ wᵢ·exp(−ΔH/(R·Tᵢ)) / Σ wᵢ )   (Tᵢ in kelvin)
//
// It errs (EINVALID) on no data, mismatched or negative weights, and
// temperatures that are not numbers or below absolute zero.
func MKT(temps, weights []float64, deltaH float64) (float64, error) {
	if deltaH == 0 {
		deltaH = DefaultActivationEnergy
	}
	switch {
	case len(temps) == 0:
		return math.NaN(), wardwatch.Errorf(wardwatch.EINVALID, "Mean kinetic temperature needs at least one temperature.")
	case weights != nil && len(weights) != len(temps):
		return math.NaN(), wardwatch.Errorf(wardwatch.EINVALID, "Mean kinetic temperature needs one weight per temperature.")
	case deltaH < 0 || math.IsNaN(deltaH) || math.IsInf(deltaH, 0):
		return math.NaN(), wardwatch.Errorf(wardwatch.EINVALID, "The activation energy must be a positive number.")
	}
	k := deltaH / GasConstant
	// log-sum-exp: x = −ΔH/(R·T) is large and negative.
	xs := make([]float64, len(temps))
	m := math.Inf(-1)
	for i, t := range temps {
		if math.IsNaN(t) || math.IsInf(t, 0) || t <= -kelvin {
			return math.NaN(), wardwatch.Errorf(wardwatch.EINVALID, "A temperature is not a number or below absolute zero.")
		}
		xs[i] = -k / (t + kelvin)
		m = math.Max(m, xs[i])
	}
	var sum, wsum float64
	for i, x := range xs {
		w := 1.0
		if weights != nil {
			w = weights[i]
			if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
				return math.NaN(), wardwatch.Errorf(wardwatch.EINVALID, "Weights must be zero or more.")
			}
		}
		sum += w * math.Exp(x-m)
		wsum += w
	}
	if wsum == 0 || sum == 0 {
		return math.NaN(), wardwatch.Errorf(wardwatch.EINVALID, "Mean kinetic temperature needs some weight.")
	}
	return -k/(m+math.Log(sum/wsum)) - kelvin, nil
}

// MKTResult is the MKT of a series over a period.
type MKTResult struct {
	From, To time.Time
	MKT      float64 // °C
	Mean     float64 // time-weighted arithmetic mean, °C
	Covered  time.Duration
	Samples  int
}

// MKTOver computes the MKT of one temperature series (oldest first) over
// [from, to): each reading is weighted by how long it stands within the
// period (until the next reading, at most hold; 0: no limit), so irregular
// logging and gaps are handled; the last reading before from stands into
// the period.
func MKTOver(rs []wardwatch.Reading, from, to time.Time, hold time.Duration, deltaH float64) (MKTResult, error) {
	res := MKTResult{From: from, To: to, MKT: math.NaN(), Mean: math.NaN()}
	rs = cleanSeries(rs)
	var temps, weights []float64
	var sum float64
	for j, r := range rs {
		if !r.Time.Before(to) {
			break
		}
		s, e := r.Time, to
		if j+1 < len(rs) && rs[j+1].Time.Before(e) {
			e = rs[j+1].Time
		}
		if hold > 0 && s.Add(hold).Before(e) {
			e = s.Add(hold)
		}
		if s.Before(from) {
			s = from
		}
		if !e.After(s) {
			continue
		}
		dt := e.Sub(s)
		temps, weights = append(temps, r.Value), append(weights, dt.Seconds())
		sum += r.Value * dt.Seconds()
		res.Covered += dt
		if !r.Time.Before(from) {
			res.Samples++
		}
	}
	if len(temps) == 0 {
		return res, wardwatch.Errorf(wardwatch.EINVALID, "No readings in the period.")
	}
	mkt, err := MKT(temps, weights, deltaH)
	if err != nil {
		return res, err
	}
	res.MKT, res.Mean = mkt, sum/res.Covered.Seconds()
	return res, nil
}

// MKTReport is a unit's MKT report: the rolling 30-day MKT (the default,
// after the USP Stimuli article) and the annual MKT (USP <1160>), each
// flagged above the unit's limit (25 °C CRT, 8 °C controlled cold).
type MKTReport struct {
	Limit           float64
	Rolling30       MKTResult
	Annual          MKTResult
	Rolling30Over   bool
	AnnualOver      bool
	Rolling30Reason string // why Rolling30 is missing, if it is
	AnnualReason    string
}

// NewMKTReport computes the report at end from a series reaching back a
// year.
func NewMKTReport(rs []wardwatch.Reading, end time.Time, limit float64, hold time.Duration, deltaH float64) MKTReport {
	rep := MKTReport{Limit: limit}
	var err error
	rep.Rolling30, err = MKTOver(rs, end.AddDate(0, 0, -30), end, hold, deltaH)
	if err != nil {
		rep.Rolling30Reason = wardwatch.ErrorMessage(err)
	}
	rep.Annual, err = MKTOver(rs, end.AddDate(-1, 0, 0), end, hold, deltaH)
	if err != nil {
		rep.AnnualReason = wardwatch.ErrorMessage(err)
	}
	rep.Rolling30Over = limit > 0 && rep.Rolling30.MKT > limit
	rep.AnnualOver = limit > 0 && rep.Annual.MKT > limit
	return rep
}
