package alerts

import (
	"bytes"
	"encoding/csv"
	"math"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/London for the DST day

	"github.com/wardwatch/wardwatch"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestMKT checks mean kinetic temperature against hand-computed values
// (domain-requirements §1.3).
func TestMKT(t *testing.T) {
	for _, tc := range []struct {
		name    string
		temps   []float64
		weights []float64
		want    float64
	}{
		// zelti/mkt README example.
		{"readings 2,2,5,8,8,8,8", []float64{2, 2, 5, 8, 8, 8, 8}, nil, 6.2503},
		// 23 h at 20 °C and 1 h at 40 °C: MKT 22.45 °C against a mean of
		// 20.83 °C.
		{"23 h at 20, 1 h at 40", []float64{20, 40}, []float64{23, 1}, 22.4479},
		{"constant", []float64{25, 25, 25}, nil, 25},
		{"equal weights equal no weights", []float64{2, 2, 5, 8, 8, 8, 8}, []float64{3, 3, 3, 3, 3, 3, 3}, 6.2503},
		{"ultra-cold", []float64{-80, -70}, nil, -72.5183},
	} {
		got, err := MKT(tc.temps, tc.weights, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !near(got, tc.want, 5e-4) {
			t.Errorf("%s: MKT %.4f, want %.4f", tc.name, got, tc.want)
		}
	}
	// A different activation energy moves the result towards the mean as
	// it falls.
	lowE, _ := MKT([]float64{20, 40}, []float64{23, 1}, 40)
	if !(lowE > 20.83 && lowE < 22.4479) {
		t.Errorf("MKT with ΔH 40 kJ/mol = %.3f", lowE)
	}
	for name, f := range map[string]func() (float64, error){
		"empty":            func() (float64, error) { return MKT(nil, nil, 0) },
		"weights":          func() (float64, error) { return MKT([]float64{1, 2}, []float64{1}, 0) },
		"negative weight":  func() (float64, error) { return MKT([]float64{1, 2}, []float64{1, -1}, 0) },
		"zero weight":      func() (float64, error) { return MKT([]float64{1}, []float64{0}, 0) },
		"nan":              func() (float64, error) { return MKT([]float64{math.NaN()}, nil, 0) },
		"absolute zero":    func() (float64, error) { return MKT([]float64{-274}, nil, 0) },
		"negative delta H": func() (float64, error) { return MKT([]float64{5}, nil, -1) },
	} {
		if _, err := f(); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestMKTOverSeries weights readings by the time they stand.
func TestMKTOverSeries(t *testing.T) {
	rs := series("crt", wardwatch.MetricTemperature, 0, time.Hour, append(repeat(20, 23), 40)...)
	res, err := MKTOver(rs, t0, at(24*time.Hour), 2*time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !near(res.MKT, 22.4479, 5e-4) || !near(res.Mean, 20.8333, 5e-4) || res.Covered != 24*time.Hour || res.Samples != 24 {
		t.Errorf("MKT %.4f mean %.4f covered %v samples %d", res.MKT, res.Mean, res.Covered, res.Samples)
	}
	// Irregular logging: the 40 °C reading at 12:00 stands 1 h, the 20 °C
	// readings at 00:00 and 13:00 stand 12 h and 11 h: the same 23 h/1 h
	// split.
	rs = []wardwatch.Reading{
		{Time: t0, SensorID: "crt", Metric: wardwatch.MetricTemperature, Value: 20},
		{Time: at(12 * time.Hour), SensorID: "crt", Metric: wardwatch.MetricTemperature, Value: 40},
		{Time: at(13 * time.Hour), SensorID: "crt", Metric: wardwatch.MetricTemperature, Value: 20},
	}
	res, err = MKTOver(rs, t0, at(24*time.Hour), 0, 0)
	if err != nil || !near(res.MKT, 22.4479, 5e-4) {
		t.Errorf("irregular: %.4f %v", res.MKT, err)
	}
	if _, err := MKTOver(rs, at(48*time.Hour), at(49*time.Hour), time.Hour, 0); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("no data: %v", err)
	}
	// 30-day and annual report: a year at 20 °C, the last 30 days at 26 °C.
	end := t0.AddDate(1, 0, 0)
	var year []wardwatch.Reading
	for d := t0; d.Before(end); d = d.Add(6 * time.Hour) {
		v := 20.0
		if !d.Before(end.AddDate(0, 0, -30)) {
			v = 26
		}
		year = append(year, wardwatch.Reading{Time: d, SensorID: "crt", Metric: wardwatch.MetricTemperature, Value: v})
	}
	rep := NewMKTReport(year, end, 25, 12*time.Hour, 0)
	if !near(rep.Rolling30.MKT, 26, 1e-6) || !rep.Rolling30Over || rep.AnnualOver || !(rep.Annual.MKT > 20.5 && rep.Annual.MKT < 22) {
		t.Errorf("report: 30-day %.3f (%v), annual %.3f (%v)", rep.Rolling30.MKT, rep.Rolling30Over, rep.Annual.MKT, rep.AnnualOver)
	}
	if rep := NewMKTReport(nil, end, 25, 0, 0); rep.Rolling30Reason == "" || rep.Rolling30Over {
		t.Errorf("empty report: %+v", rep)
	}
}

// TestDailyLog checks a two-day log by hand (readings every 6 h, values
// standing at most 12 h) and that missed days and reviews stay blank.
func TestDailyLog(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 3, 2+d, h, 0, 0, 0, time.UTC) }
	r := func(tm time.Time, v float64) wardwatch.Reading {
		return wardwatch.Reading{Time: tm, SensorID: "f", Metric: wardwatch.MetricTemperature, Value: v}
	}
	rs := []wardwatch.Reading{r(day(0, 0), 5), r(day(0, 6), 4), r(day(0, 12), 9), r(day(0, 18), 6), r(day(1, 12), 7)}
	rng := Range{Metric: wardwatch.MetricTemperature, Low: 2, High: 8}
	reviews := []Review{{UnitID: 1, Day: "2026-03-02", By: "pharm1", At: day(1, 8), Action: "door seal checked"}}
	es := DailyLog(rs, day(0, 0), day(3, 0), DailyOptions{Range: &rng, Hold: 12 * time.Hour, UnitID: 1, UnitName: "Fridge 2", Reviews: reviews})
	if len(es) != 3 {
		t.Fatalf("%d entries", len(es))
	}
	d1, d2, d3 := es[0], es[1], es[2]
	if d1.Day != "2026-03-02" || d1.Count != 4 || d1.Min != 4 || !d1.MinAt.Equal(day(0, 6)) || d1.Max != 9 || !d1.MaxAt.Equal(day(0, 12)) ||
		d1.Last != 6 || d1.Covered != 24*time.Hour || !near(d1.Mean, 6, 1e-9) || !near(d1.InRange, 0.75, 1e-9) || !d1.Reviewed() {
		t.Errorf("day 1: %+v", d1)
	}
	// Day 2: 6 °C stands 00:00–06:00 (12 h after 18:00), 7 °C from 12:00.
	if d2.Count != 1 || d2.Min != 7 || d2.Max != 7 || d2.Covered != 18*time.Hour || !near(d2.Mean, 120.0/18, 1e-9) || d2.InRange != 1 || d2.Reviewed() {
		t.Errorf("day 2: %+v", d2)
	}
	if d3.Count != 0 || !math.IsNaN(d3.Min) || !math.IsNaN(d3.Max) || !math.IsNaN(d3.Mean) || !math.IsNaN(d3.InRange) || d3.Covered != 0 || d3.Reviewed() {
		t.Errorf("day 3 (no data) was filled in: %+v", d3)
	}

	// Day boundaries follow the configured zone: the spring-forward day in
	// London has 23 hours.
	lon, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	var hourly []wardwatch.Reading
	for h := time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC); h.Before(time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)); h = h.Add(time.Hour) {
		hourly = append(hourly, r(h, 5))
	}
	es = DailyLog(hourly, time.Date(2026, 3, 29, 0, 0, 0, 0, lon), time.Date(2026, 3, 30, 0, 0, 0, 0, lon), DailyOptions{Location: lon})
	if len(es) != 1 || es[0].Day != "2026-03-29" || es[0].End.Sub(es[0].Start) != 23*time.Hour || es[0].Count != 23 || es[0].Covered != 23*time.Hour {
		t.Errorf("DST day: %+v", es)
	}

	// Sign-off checks.
	now := day(1, 9)
	for name, rv := range map[string]Review{
		"no user":    {Day: "2026-03-02", At: now},
		"bad day":    {Day: "2 March", By: "a", At: now},
		"future day": {Day: "2026-03-05", By: "a", At: now},
		"no time":    {Day: "2026-03-02", By: "a"},
	} {
		if err := rv.Validate(now, nil); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := reviews[0].Validate(now, nil); err != nil {
		t.Error(err)
	}
}

// TestFindExcursions measures excursions of a stored series by hand.
func TestFindExcursions(t *testing.T) {
	rng := Range{Metric: wardwatch.MetricTemperature, Low: 2, High: 8}
	rs := series("f", wardwatch.MetricTemperature, 0, 10*minute, 5, 9, 10, 8.5, 5, 1, 0.5, 3, 9)
	xs := FindExcursions(rs, rng, 15*minute)
	if len(xs) != 3 {
		t.Fatalf("%d excursions", len(xs))
	}
	a, b, c := xs[0], xs[1], xs[2]
	// 9 for 10 min, 10 for 10 min, 8.5 for 10 min: 30 min above, 10+20+5 =
	// 35 degree-minutes.
	if !a.Start.Equal(at(10*minute)) || !a.End.Equal(at(40*minute)) || a.Above != 30*minute || !near(a.DegreeMinutesAbove, 35, 1e-9) ||
		a.Peak != 10 || !a.PeakAt.Equal(at(20*minute)) || a.Trough != 8.5 || a.Samples != 3 || a.Below != 0 {
		t.Errorf("first: %+v", a)
	}
	// 1 for 10 min, 0.5 for 10 min: 20 min below, 10+15 = 25 degree-minutes.
	if !b.Start.Equal(at(50*minute)) || !b.End.Equal(at(70*minute)) || b.Below != 20*minute || !near(b.DegreeMinutesBelow, 25, 1e-9) ||
		b.Trough != 0.5 || b.Above != 0 {
		t.Errorf("second: %+v", b)
	}
	if c.Closed() || !c.Start.Equal(at(80*minute)) || c.Duration(at(95*minute)) != 15*minute {
		t.Errorf("third (open): %+v", c)
	}
	// A gap: the value stands only for the hold time.
	gap := []wardwatch.Reading{
		{Time: t0, SensorID: "f", Metric: wardwatch.MetricTemperature, Value: 9},
		{Time: at(60 * minute), SensorID: "f", Metric: wardwatch.MetricTemperature, Value: 9},
		{Time: at(70 * minute), SensorID: "f", Metric: wardwatch.MetricTemperature, Value: 5},
	}
	xs = FindExcursions(gap, rng, 15*minute)
	if len(xs) != 1 || xs[0].Above != 25*minute || xs[0].Duration(time.Time{}) != 70*minute || !near(xs[0].DegreeMinutesAbove, 25, 1e-9) {
		t.Errorf("gap: %+v", xs)
	}
}

// TestCSVExports writes excursions, a daily log and audit records, reads
// them back, and checks headers, UTC times, blanks and formula escaping.
func TestCSVExports(t *testing.T) {
	x := Excursion{UnitID: 1, UnitName: "=HYPERLINK(\"x\")", SensorID: "ctl/probe1", Metric: wardwatch.MetricTemperature,
		Low: 2, High: 8, Start: time.Date(2026, 3, 2, 9, 5, 0, 0, time.FixedZone("X", 3600)), End: at(31 * minute),
		Peak: 9, Trough: 8.5, Above: 26 * minute, DegreeMinutesAbove: 21, Samples: 26, Alarmed: true, Quarantine: true,
		Troubleshooting: Troubleshooting{Description: "-door ajar", Disposition: DispositionUsed}}
	open := Excursion{UnitID: 2, SensorID: "g", Metric: wardwatch.MetricPressure, Low: math.Inf(-1), High: -2.5, Start: t0}
	var buf bytes.Buffer
	if err := WriteExcursionsCSV(&buf, []Excursion{x, open}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0][7] != "Start (UTC)" || rows[0][16] != "Degree-minutes above" {
		t.Fatalf("header %v", rows[0])
	}
	r := rows[1]
	if r[1] != "'=HYPERLINK(\"x\")" || r[7] != "2026-03-02T08:05:00Z" || r[9] != "26.0" || r[16] != "21.0" || r[21] != "yes" || r[27] != "'-door ajar" || r[36] != "used" {
		t.Errorf("row %q", r)
	}
	if o := rows[2]; o[5] != "" || o[6] != "-2.50" || o[8] != "" || o[9] != "" || o[4] != "Pa" {
		t.Errorf("open excursion row %q", o)
	}

	buf.Reset()
	es := DailyLog(series("f", wardwatch.MetricTemperature, 0, 6*time.Hour, 5, 4, 9, 6), at(-8*time.Hour), at(40*time.Hour), DailyOptions{UnitID: 1, UnitName: "Fridge"})
	if err := WriteDailyLogCSV(&buf, es, nil); err != nil {
		t.Fatal(err)
	}
	rows, err = csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "Date (UTC)" || len(rows) != 3 {
		t.Fatalf("daily rows %q", rows)
	}
	if d := rows[1]; d[0] != "2026-03-02" || d[6] != "4.00" || d[8] != "9.00" || d[13] != "3" || d[14] != "66.7" || d[16] != "" {
		t.Errorf("daily row %q", d)
	}
	buf.Reset()
	if err := WriteAuditCSV(&buf, []Audit{{AlertID: 3, Key: Key{Rule: "r", Subject: Subject{Kind: SubjectUnit, ID: "1"}},
		Action: ActionShelve, From: StateUnack, To: StateShelved, User: "nurse1", Time: t0, Reason: "@probe swap"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "2026-03-02T08:00:00Z,3,r,unit:1,shelve,unacknowledged,shelved,nurse1,'@probe swap") {
		t.Errorf("audit csv %q", buf.String())
	}
}
