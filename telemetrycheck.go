package wardwatch

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on the points a telemetry store accepts. Both stores (the
// embedded SQLite one and InfluxDB, whose line protocol cannot carry every
// string) apply them, so that both accept and refuse the same points.
const (
	// MaxTelemetryIDLen bounds an identifier (tag ID, sensor ID, pump
	// serial) in bytes.
	MaxTelemetryIDLen = 256
	// MaxTelemetryTextLen bounds a free-text value (solver, pump model,
	// firmware, drug library, alarm code and text) in bytes.
	MaxTelemetryTextLen = 1024
	// MaxPumpAlarms bounds the alarms kept per pump state.
	MaxPumpAlarms = 32
)

// Reasons a telemetry point is rejected, as reported in errors and the
// stores' metrics.
const (
	RejectNaN     = "nan"
	RejectInf     = "inf"
	RejectTooLong = "too_long"
	RejectInvalid = "invalid"
)

// telemetryTimeMin and telemetryTimeMax bound a point's time: the Unix
// epoch, and the last millisecond InfluxDB's nanosecond timestamps can hold.
var (
	telemetryTimeMin = time.Unix(0, 0).UTC()
	telemetryTimeMax = time.Unix(0, math.MaxInt64).UTC().Truncate(time.Millisecond)
)

// Rejection says why one point of a batch was refused.
type Rejection struct {
	Index  int
	What   string // "reading", "position", "pump state"
	Reason string // one of the Reject* constants
	Detail string
}

// Rejections collects the points of one write that were refused.
type Rejections []Rejection

// Add records that point i was refused for reason, if reason is not "".
func (rs *Rejections) Add(what string, i int, reason, detail string) bool {
	if reason == "" {
		return false
	}
	*rs = append(*rs, Rejection{Index: i, What: what, Reason: reason, Detail: detail})
	return true
}

// Err is the EINVALID error for the rejected points of a write of total,
// or nil when none was rejected. It names the first few.
func (rs Rejections) Err(total int, outcome string) error {
	if len(rs) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d %ss rejected (the others were %s): ", len(rs), total, rs[0].What, outcome)
	for i, r := range rs {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(rs)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %d: %s", r.What, r.Index, r.Detail)
	}
	return Errorf(EINVALID, "%s", b.String())
}

// checkNumber returns the reason and detail for rejecting number v named
// name, or "" when it is finite.
func checkNumber(name string, v float64) (reason, detail string) {
	switch {
	case math.IsNaN(v):
		return RejectNaN, name + " is not a number"
	case math.IsInf(v, 0):
		return RejectInf, name + " is infinite"
	}
	return "", ""
}

// checkOptionalNumber is checkNumber for a number that may be missing (NaN).
func checkOptionalNumber(name string, v float64) (reason, detail string) {
	if math.IsInf(v, 0) {
		return RejectInf, name + " is infinite"
	}
	return "", ""
}

// checkID returns the reason and detail for rejecting identifier s named
// name: it must be non-empty, valid UTF-8 of at most MaxTelemetryIDLen bytes, with no
// control character and no backslash (which InfluxDB's line protocol cannot
// carry in a tag).
func checkID(name, s string) (reason, detail string) {
	switch {
	case s == "":
		return RejectInvalid, name + " is empty"
	case len(s) > MaxTelemetryIDLen:
		return RejectTooLong, fmt.Sprintf("%s is %d bytes, more than %d", name, len(s), MaxTelemetryIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf { // not ASCII: check the runes
			if !utf8.ValidString(s) || strings.ContainsFunc(s, badIDRune) {
				return RejectInvalid, name + " has a control character, a backslash or invalid UTF-8"
			}
			break
		}
		if c < 0x20 || c == 0x7f || c == '\\' {
			return RejectInvalid, name + " has a control character, a backslash or invalid UTF-8"
		}
	}
	return "", ""
}

// checkText returns the reason and detail for rejecting free text s named
// name: valid UTF-8 of at most MaxTelemetryTextLen bytes without control
// characters.
func checkText(name, s string) (reason, detail string) {
	switch {
	case len(s) > MaxTelemetryTextLen:
		return RejectTooLong, fmt.Sprintf("%s is %d bytes, more than %d", name, len(s), MaxTelemetryTextLen)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, isControl):
		return RejectInvalid, name + " has a control character or invalid UTF-8"
	}
	return "", ""
}

// checkTime returns the reason and detail for rejecting time t: it must lie
// between the Unix epoch and 2262, InfluxDB's range.
func checkTime(t time.Time) (reason, detail string) {
	if sec := t.Unix(); sec < 0 || (sec >= telemetryTimeMax.Unix() && t.After(telemetryTimeMax)) {
		return RejectInvalid, fmt.Sprintf("time %s is missing or out of range", t.UTC().Format(time.RFC3339Nano))
	}
	return "", ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
func badIDRune(r rune) bool { return isControl(r) || r == '\\' }

// CheckReading returns why r must be refused, or "".
func CheckReading(r Reading) (reason, detail string) {
	if reason, detail = checkID("sensor", r.SensorID); reason != "" {
		return reason, detail
	}
	if !r.Metric.Valid() {
		return RejectInvalid, fmt.Sprintf("sensor %q: unknown metric %q", r.SensorID, truncate(string(r.Metric)))
	}
	if reason, detail = checkTime(r.Time); reason != "" {
		return reason, fmt.Sprintf("sensor %q: %s", r.SensorID, detail)
	}
	if reason, detail = checkNumber("value", r.Value); reason != "" {
		return reason, fmt.Sprintf("sensor %q %s: %s", r.SensorID, r.Metric, detail)
	}
	return "", ""
}

// CheckPosition returns why p must be refused, or "".
func CheckPosition(p Position) (reason, detail string) {
	if reason, detail = checkID("tag", p.TagID); reason != "" {
		return reason, detail
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"x", p.At.X}, {"y", p.At.Y}, {"confidence", p.Confidence}} {
		if reason, detail = checkNumber(c.name, c.v); reason != "" {
			return reason, fmt.Sprintf("tag %q: %s", p.TagID, detail)
		}
	}
	if reason, detail = checkText("solver", p.Solver); reason == "" {
		reason, detail = checkText("state", string(p.State))
	}
	if reason == "" {
		reason, detail = checkTime(p.Time)
	}
	if reason != "" {
		return reason, fmt.Sprintf("tag %q: %s", p.TagID, detail)
	}
	return "", ""
}

// CheckPumpState returns why s must be refused, or "". Numbers the pump
// did not report are NaN and accepted; infinities are refused.
func CheckPumpState(s PumpState) (reason, detail string) {
	if reason, detail = checkID("serial", s.Serial); reason != "" {
		return reason, detail
	}
	if !s.Status.Valid() {
		return RejectInvalid, fmt.Sprintf("pump %q: unknown status %q", s.Serial, truncate(string(s.Status)))
	}
	if len(s.Alarms) > MaxPumpAlarms {
		return RejectTooLong, fmt.Sprintf("pump %q: %d alarms, more than %d", s.Serial, len(s.Alarms), MaxPumpAlarms)
	}
	check := func() (string, string) {
		for _, c := range []struct {
			name string
			v    float64
		}{{"battery", s.Battery}, {"rate", s.Rate}, {"vtbi", s.VTBI}, {"infused", s.Infused}} {
			if reason, detail := checkOptionalNumber(c.name, c.v); reason != "" {
				return reason, detail
			}
		}
		for _, c := range []struct{ name, v string }{
			{"model", s.Model}, {"firmware", s.Firmware}, {"drug library", s.DrugLibrary}, {"drug library version", s.DrugLibraryVersion},
		} {
			if reason, detail := checkText(c.name, c.v); reason != "" {
				return reason, detail
			}
		}
		for _, a := range s.Alarms {
			if reason, detail := checkText("alarm code", a.Code); reason != "" {
				return reason, detail
			}
			if reason, detail := checkText("alarm text", a.Text); reason != "" {
				return reason, detail
			}
			if reason, detail := checkText("alarm priority", string(a.Priority)); reason != "" {
				return reason, detail
			}
		}
		return checkTime(s.Time)
	}
	if reason, detail = check(); reason != "" {
		return reason, fmt.Sprintf("pump %q: %s", s.Serial, detail)
	}
	return "", ""
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return strings.ToValidUTF8(s[:64], "") + "…"
}

// TruncateForMessage shortens s for an error message.
func TruncateForMessage(s string) string { return truncate(s) }
