package sql

import "github.com/wardwatch/wardwatch"

// The checks on telemetry points are shared with the other telemetry
// store (see wardwatch.CheckReading): both accept and refuse the same
// points.
const (
	rejectNaN     = wardwatch.RejectNaN
	rejectInf     = wardwatch.RejectInf
	rejectTooLong = wardwatch.RejectTooLong
	rejectInvalid = wardwatch.RejectInvalid
)

func checkReading(r wardwatch.Reading) (reason, detail string)   { return wardwatch.CheckReading(r) }
func checkPosition(p wardwatch.Position) (reason, detail string) { return wardwatch.CheckPosition(p) }
func checkPumpState(s wardwatch.PumpState) (reason, detail string) {
	return wardwatch.CheckPumpState(s)
}
func truncate(s string) string { return wardwatch.TruncateForMessage(s) }

// rejections collects the points of one write that were refused.
type rejections []wardwatch.Rejection

func (rs *rejections) add(what string, i int, reason, detail string) bool {
	return (*wardwatch.Rejections)(rs).Add(what, i, reason, detail)
}

func (rs rejections) err(total int) error { return wardwatch.Rejections(rs).Err(total, "stored") }

// Limits, as the store's API has named them.
const (
	MaxTelemetryIDLen   = wardwatch.MaxTelemetryIDLen
	MaxTelemetryTextLen = wardwatch.MaxTelemetryTextLen
	MaxPumpAlarms       = wardwatch.MaxPumpAlarms
)
