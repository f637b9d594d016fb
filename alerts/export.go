package alerts

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// CSV exports for inspectors: one header row naming each column with its
// unit, times in UTC (RFC 3339), empty cells for unknown values (never a
// filled-in guess). Free-text cells that a spreadsheet would read as a
// formula are prefixed with an apostrophe.

const csvTime = "2006-01-02T15:04:05Z07:00"

func csvT(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(csvTime)
}

func csvF(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func csvMin(d time.Duration) string { return strconv.FormatFloat(d.Minutes(), 'f', 1, 64) }

// csvText neutralises spreadsheet formulas in free text (CSV injection).
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WriteExcursionsCSV writes excursion records, one per row.
func WriteExcursionsCSV(w io.Writer, xs []Excursion) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{
		"Unit ID", "Unit", "Sensor", "Metric", "Unit of measure", "Range low", "Range high",
		"Start (UTC)", "End (UTC)", "Duration (min)", "Peak", "Peak at (UTC)", "Trough", "Trough at (UTC)",
		"Time above range (min)", "Time below range (min)", "Degree-minutes above", "Degree-minutes below",
		"Readings out of range", "Alarmed", "Alarm rule", "Quarantined (DO NOT USE)", "Quarantine cleared by", "Quarantine cleared at (UTC)",
		"Discovered at (UTC)", "Reporter", "Reporter title", "Description", "Affected product (lots, funding)",
		"Other contents", "Prior issues", "Contacted", "Report number", "Returned to storage at (UTC)",
		"Actions", "Prevention", "Disposition",
	})
	for _, x := range xs {
		dur := ""
		if x.Closed() {
			dur = csvMin(x.End.Sub(x.Start))
		}
		t := x.Troubleshooting
		if err := cw.Write([]string{
			strconv.FormatInt(x.UnitID, 10), csvText(x.UnitName), csvText(x.SensorID), string(x.Metric), x.Metric.Unit(),
			csvF(x.Low, 2), csvF(x.High, 2),
			csvT(x.Start), csvT(x.End), dur, csvF(x.Peak, 2), csvT(x.PeakAt), csvF(x.Trough, 2), csvT(x.TroughAt),
			csvMin(x.Above), csvMin(x.Below), csvF(x.DegreeMinutesAbove, 1), csvF(x.DegreeMinutesBelow, 1),
			strconv.Itoa(x.Samples), csvBool(x.Alarmed), x.AlarmRule, csvBool(x.Quarantine),
			csvText(x.QuarantineClearedBy), csvT(x.QuarantineClearedAt),
			csvT(t.DiscoveredAt), csvText(t.ReporterName), csvText(t.ReporterTitle), csvText(t.Description),
			csvText(t.AffectedProduct), csvText(t.OtherContents), csvText(t.PriorIssues), csvText(t.Contacted),
			csvText(t.ReportNumber), csvT(t.ReturnedToStorage), csvText(t.Actions), csvText(t.Prevention), string(t.Disposition),
		}); err != nil {
			return fmt.Errorf("write excursion csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write excursion csv: %w", err)
	}
	return nil
}

// WriteDailyLogCSV writes daily min/max log entries, one day per row, in
// the CDC log's layout: date, min, max, current, who checked and when,
// action taken. loc names the time zone the dates are in.
func WriteDailyLogCSV(w io.Writer, es []DailyEntry, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{
		"Date (" + loc.String() + ")", "Unit ID", "Unit", "Sensor", "Metric", "Unit of measure",
		"Min", "Min at (UTC)", "Max", "Max at (UTC)", "Last reading", "Last reading at (UTC)", "Mean",
		"Readings", "Coverage (%)", "Time in range (%)", "Reviewed by", "Reviewed at (UTC)", "Action taken",
	})
	for _, e := range es {
		cov := ""
		if span := e.End.Sub(e.Start); span > 0 {
			cov = csvF(100*e.Covered.Seconds()/span.Seconds(), 1)
		}
		if err := cw.Write([]string{
			e.Day, strconv.FormatInt(e.UnitID, 10), csvText(e.UnitName), csvText(e.SensorID), string(e.Metric), e.Metric.Unit(),
			csvF(e.Min, 2), csvT(e.MinAt), csvF(e.Max, 2), csvT(e.MaxAt), csvF(e.Last, 2), csvT(e.LastAt), csvF(e.Mean, 2),
			strconv.Itoa(e.Count), cov, csvF(100*e.InRange, 1),
			csvText(e.Review.By), csvT(e.Review.At), csvText(e.Review.Action),
		}); err != nil {
			return fmt.Errorf("write daily log csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write daily log csv: %w", err)
	}
	return nil
}

// WriteAuditCSV writes alert audit records, one transition per row.
func WriteAuditCSV(w io.Writer, as []Audit) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"Time (UTC)", "Alert ID", "Rule", "Subject", "Action", "From state", "To state", "User", "Reason"})
	for _, a := range as {
		if err := cw.Write([]string{
			csvT(a.Time), strconv.FormatInt(a.AlertID, 10), a.Key.Rule, csvText(a.Key.Subject.String()), string(a.Action),
			string(a.From), string(a.To), csvText(a.User), csvText(a.Reason),
		}); err != nil {
			return fmt.Errorf("write audit csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write audit csv: %w", err)
	}
	return nil
}
