package alerts

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Disposition is what became of the product held in a unit during an
// excursion (CDC Vaccine Storage Troubleshooting Record, "Outcome").
type Disposition string

// Dispositions.
const (
	DispositionUsed     Disposition = "used"     // the manufacturer or programme cleared it for use
	DispositionReturned Disposition = "returned" // returned to the supplier or programme
	DispositionWasted   Disposition = "wasted"   // discarded
)

// Valid reports whether d is a known disposition.
func (d Disposition) Valid() bool {
	return d == DispositionUsed || d == DispositionReturned || d == DispositionWasted
}

// Troubleshooting holds the fields staff fill in for an excursion, after the
// CDC Vaccine Storage Troubleshooting Record and the Maryland VFC excursion
// report (domain-requirements §1.1 and §1 defaults, "Excursion record").
// Unknown temperatures are NaN.
type Troubleshooting struct {
	DiscoveredAt       time.Time
	ReporterName       string
	ReporterTitle      string
	UnitTempDiscovered float64 // unit temperature when discovered
	MinDiscovered      float64 // the unit's min since the last reset, when discovered
	MaxDiscovered      float64
	RoomTemp           float64 // room temperature when discovered
	Description        string  // what happened
	AffectedProduct    string  // inventory with lot numbers and funding source (public/VFC or private)
	OtherContents      string  // water bottles, ice packs…
	PriorIssues        string  // earlier problems with the unit
	Contacted          string  // manufacturer, immunisation programme: who, when
	ReportNumber       string  // the programme's excursion report number
	ReturnedToStorage  time.Time
	Actions            string // what was done
	Prevention         string // what will prevent a repeat
	Disposition        Disposition
}

// Excursion is the compliance record of one excursion: a sensor's readings
// leaving its unit's range for a metric. It opens on the first reading
// outside the range and closes on the first reading back inside it; time
// above and below and degree-minutes count each reading's value until the
// next reading while the sensor keeps reporting (a gap in the data adds
// duration but not time out of range).
type Excursion struct {
	ID        int64 // the store's ID; 0 until stored
	UnitID    int64
	UnitName  string
	Team      Team
	SensorID  string
	Metric    wardwatch.Metric
	Low, High float64 // the range (±Inf for an open side)

	Start time.Time
	End   time.Time // zero while the excursion is in progress

	Peak, Trough     float64
	PeakAt, TroughAt time.Time
	Above, Below     time.Duration // time above High, below Low
	// DegreeMinutesAbove is Σ (value − High) × minutes over the time above;
	// DegreeMinutesBelow is Σ (Low − value) × minutes over the time below.
	DegreeMinutesAbove float64
	DegreeMinutesBelow float64
	Samples            int // readings outside the range

	// Alarmed is set when a latched rule of the metric raised during the
	// excursion (AlarmRule names it). Quarantine is set when an alarmed
	// excursion threatens stored product: the unit shows "DO NOT USE" until
	// a pharmacist or coordinator clears it with a disposition.
	Alarmed             bool
	AlarmRule           string
	Quarantine          bool
	QuarantineClearedBy string
	QuarantineClearedAt time.Time

	Troubleshooting Troubleshooting
}

// Closed reports whether the excursion has ended.
func (x Excursion) Closed() bool { return !x.End.IsZero() }

// Duration is how long the excursion lasted, or has lasted at now while in
// progress.
func (x Excursion) Duration(now time.Time) time.Duration {
	if x.Closed() {
		return x.End.Sub(x.Start)
	}
	return now.Sub(x.Start)
}

// SeriesPadding is how much of the series before and after an excursion its
// record shows.
const SeriesPadding = time.Hour

// SeriesWindow is the span of readings to show with the record: an hour
// either side of the excursion (up to now while it is in progress).
func (x Excursion) SeriesWindow(now time.Time) (from, to time.Time) {
	end := x.End
	if end.IsZero() {
		end = now
	}
	return x.Start.Add(-SeriesPadding), end.Add(SeriesPadding)
}

// Quarantined reports whether the unit must show "DO NOT USE" for x.
func (x Excursion) Quarantined() bool {
	return x.Quarantine && x.QuarantineClearedAt.IsZero()
}

// CanClearQuarantine reports whether a user with roles may clear an
// excursion's quarantine: a pharmacist or an admin (coordinator).
func CanClearQuarantine(roles []string) bool {
	return slices.ContainsFunc(roles, func(r string) bool {
		return r == string(wardwatch.RolePharmacy) || r == string(wardwatch.RoleAdmin)
	})
}

// ClearQuarantine lifts x's "DO NOT USE" flag with the product's
// disposition. It needs a pharmacist or admin (EFORBIDDEN), a user and a
// valid disposition (EINVALID), and a closed, quarantined excursion
// (ECONFLICT).
func (x *Excursion) ClearQuarantine(user string, roles []string, d Disposition, now time.Time) error {
	switch {
	case strings.TrimSpace(user) == "":
		return wardwatch.Errorf(wardwatch.EINVALID, "Clearing a quarantine needs the user's name.")
	case !CanClearQuarantine(roles):
		return wardwatch.Errorf(wardwatch.EFORBIDDEN, "Only a pharmacist or an admin may clear a quarantine.")
	case !d.Valid():
		return wardwatch.Errorf(wardwatch.EINVALID, "Choose what became of the product: used, returned or wasted.")
	case !x.Quarantined():
		return wardwatch.Errorf(wardwatch.ECONFLICT, "This excursion has no quarantine to clear.")
	case !x.Closed():
		return wardwatch.Errorf(wardwatch.ECONFLICT, "The excursion is still in progress.")
	}
	x.Troubleshooting.Disposition = d
	x.QuarantineClearedBy, x.QuarantineClearedAt = user, now
	return nil
}

// excursionAcc follows one sensor's readings against one range.
type excursionAcc struct {
	rng  Range
	base Excursion // identity fields of new records

	cur  Excursion
	open bool

	have  bool
	lastT time.Time
	lastV float64
}

// add takes the reading (t, v), the previous value having stood until held
// (≤ t), and reports whether an excursion opened or closed.
func (a *excursionAcc) add(t time.Time, v float64, held time.Time) bool {
	if a.have && a.open {
		if dt := held.Sub(a.lastT); dt > 0 {
			switch {
			case a.lastV > a.rng.High:
				a.cur.Above += dt
				a.cur.DegreeMinutesAbove += (a.lastV - a.rng.High) * dt.Minutes()
			case a.lastV < a.rng.Low:
				a.cur.Below += dt
				a.cur.DegreeMinutesBelow += (a.rng.Low - a.lastV) * dt.Minutes()
			}
		}
	}
	a.have, a.lastT, a.lastV = true, t, v
	in := a.rng.contains(v)
	switch {
	case !a.open && !in:
		a.cur = a.base
		a.cur.Start, a.cur.Samples = t, 1
		a.cur.Peak, a.cur.Trough, a.cur.PeakAt, a.cur.TroughAt = v, v, t, t
		a.open = true
		return true
	case a.open && in:
		a.cur.End = t
		a.open = false
		return true
	case a.open:
		a.cur.Samples++
		if v > a.cur.Peak {
			a.cur.Peak, a.cur.PeakAt = v, t
		}
		if v < a.cur.Trough {
			a.cur.Trough, a.cur.TroughAt = v, t
		}
	}
	return false
}

// alarm marks the open excursion alarmed by rule and reports whether that
// changed it.
func (a *excursionAcc) alarm(rule string) bool {
	if !a.open || a.cur.Alarmed {
		return false
	}
	a.cur.Alarmed, a.cur.AlarmRule = true, rule
	a.cur.Quarantine = a.rng.Product
	return true
}

func (a *excursionAcc) snapshot() Excursion { return a.cur }

// FindExcursions measures the excursions of a stored series (one sensor,
// one metric, oldest first) against rng, each reading standing for at most
// hold (0: until the next reading). Readings not newer than the previous
// one and non-finite values are skipped. The last excursion is still open
// (End zero) when the series ends outside the range. Unit and alarm fields
// are left for the caller.
func FindExcursions(rs []wardwatch.Reading, rng Range, hold time.Duration) []Excursion {
	a := &excursionAcc{rng: rng}
	var out []Excursion
	for _, r := range rs {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || (a.have && !r.Time.After(a.lastT)) {
			continue
		}
		if a.base.SensorID == "" {
			a.base = Excursion{SensorID: r.SensorID, Metric: r.Metric, Low: rng.Low, High: rng.High}
		}
		held := r.Time
		if hold > 0 && a.lastT.Add(hold).Before(held) {
			held = a.lastT.Add(hold)
		}
		if a.add(r.Time, r.Value, held) && !a.open {
			out = append(out, a.cur)
		}
	}
	if a.open {
		out = append(out, a.cur)
	}
	return out
}
