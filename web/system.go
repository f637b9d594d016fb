package web

import (
	"log/slog"
	"net/http"
	"time"
)

// SystemCheck is one line of the system status page: a dependency or a
// collector, whether it is working, and details for the admin.
type SystemCheck struct {
	Name   string
	OK     bool
	Detail string
}

// handleSystem shows the state of WardWatch's dependencies and
// collectors: the telemetry store (and its spool), gateways, pumps,
// devices.
func handleSystem(logger *slog.Logger, checks func(time.Time) []SystemCheck, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cs []SystemCheck
		if checks != nil {
			cs = checks(now())
		}
		p := newPageMeta(r, "System status")
		p.Nav = "admin"
		render(w, r, logger, http.StatusOK, systemPage(p, cs))
	})
}
