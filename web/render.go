package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/a-h/templ"

	"github.com/wardwatch/wardwatch"
)

// sessionWarning is how long before automatic sign-out the pages warn.
const sessionWarning = 2 * time.Minute

// pageMeta is what the layout needs from every page.
type pageMeta struct {
	Title   string
	Viewer  *viewer  // nil on the login page and for signed-out errors
	Nav     string   // the current section, for aria-current: "floors"
	Styles  []string // extra stylesheet URLs
	Scripts []string // extra script URLs, loaded deferred in order
}

// newPageMeta starts the metadata of a page for r's viewer, if any.
func newPageMeta(r *http.Request, title string) pageMeta {
	return pageMeta{Title: title, Viewer: viewerFrom(r.Context())}
}

// sessionData is the JSON session.js reads from #session-data to warn
// before automatic sign-out.
type sessionData struct {
	Now     int64 `json:"now"`     // server clock, Unix ms
	Expires int64 `json:"expires"` // idle expiry, Unix ms
	End     int64 `json:"end"`     // absolute end, Unix ms
	WarnMs  int64 `json:"warnMs"`
}

func (p pageMeta) session() sessionData {
	v := p.Viewer
	return sessionData{
		Now:     v.Now.UnixMilli(),
		Expires: minTime(v.Session.ExpiresAt, v.End).UnixMilli(),
		End:     v.End.UnixMilli(),
		WarnMs:  sessionWarning.Milliseconds(),
	}
}

// roleLabel is a role's name as users read it.
func roleLabel(r wardwatch.Role) string {
	switch r {
	case wardwatch.RoleAdmin:
		return "Admin"
	case wardwatch.RoleFacilities:
		return "Facilities"
	case wardwatch.RolePharmacy:
		return "Pharmacy"
	case wardwatch.RoleBiomed:
		return "Biomed"
	case wardwatch.RoleNurse:
		return "Nurse"
	case wardwatch.RoleViewer:
		return "Viewer"
	}
	return string(r)
}

// render writes c as an HTML page with status. It renders to a buffer
// first, so a failing component yields a clean 500, never half a page.
func render(w http.ResponseWriter, r *http.Request, logger *slog.Logger, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		logger.LogAttrs(r.Context(), slog.LevelError, "render page",
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// numText formats a coordinate or confidence for data- attributes.
func numText(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// percent formats a 0..1 confidence as "82%".
func percent(f float64) string {
	if f < 0 {
		f = 0
	} else if f > 1 {
		f = 1
	}
	return strconv.Itoa(int(f*100+0.5)) + "%"
}

// statusText is an HTTP status as shown on error pages: "404".
func statusText(status int) string { return strconv.Itoa(status) }
