package influx

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

func (rs rejections) err(total int) error { return wardwatch.Rejections(rs).Err(total, "accepted") }

// Limits on what the store accepts (the same as the embedded store's).
const (
	MaxIDLen      = wardwatch.MaxTelemetryIDLen
	MaxTextLen    = wardwatch.MaxTelemetryTextLen
	MaxPumpAlarms = wardwatch.MaxPumpAlarms
)

// The store's own reasons: points refused because the spool is full or
// cannot be written, and points InfluxDB refused (a 4xx).
const (
	rejectSpoolFull  = "spool_full"
	rejectSpoolError = "spool_error"
	rejectRefused    = "refused"
)

// rejectReasons lists every reason, for the metric's labels.
var rejectReasons = []string{rejectNaN, rejectInf, rejectTooLong, rejectInvalid, rejectSpoolFull, rejectSpoolError, rejectRefused}
