package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/wardwatch/wardwatch"
)

// statusOf maps an error to its HTTP status. It is the one place where
// WardWatch's error codes meet HTTP.
func statusOf(err error) int {
	switch wardwatch.ErrorCode(err) {
	case "":
		return http.StatusOK
	case wardwatch.EINVALID:
		return http.StatusBadRequest
	case wardwatch.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case wardwatch.EFORBIDDEN:
		return http.StatusForbidden
	case wardwatch.ENOTFOUND:
		return http.StatusNotFound
	case wardwatch.ECONFLICT:
		return http.StatusConflict
	case wardwatch.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case wardwatch.ERATELIMITED:
		return http.StatusTooManyRequests
	case wardwatch.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// logError logs err at a level fitting its status: faults of ours (5xx) as
// errors with the full chain, everything else at debug.
func logError(logger *slog.Logger, r *http.Request, status int, err error) {
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	logger.LogAttrs(r.Context(), level, "request failed",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.String("error", err.Error()),
	)
}

// renderError answers a page request with an error page. Users see
// wardwatch.ErrorMessage(err); the rest goes to the log.
func renderError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status := statusOf(err)
	logError(logger, r, status, err)
	render(w, r, logger, status, errorPage(newPageMeta(r, errorTitle(status)), status, wardwatch.ErrorMessage(err)))
}

// apiError answers a non-page request (image, websocket, JSON) with the
// status and the user-facing message as plain text.
func apiError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status := statusOf(err)
	logError(logger, r, status, err)
	http.Error(w, wardwatch.ErrorMessage(err), status)
}

// jsonErrorBody is the API's error document:
// {"error":{"code":"invalid","message":"…"}}.
type jsonErrorBody struct {
	Error jsonErrorDetail `json:"error"`
}

type jsonErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// jsonError answers an /api/v1 request with the error's status and its
// code and user-facing message as JSON; 401 answers carry the Bearer
// challenge.
func jsonError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status := statusOf(err)
	logError(logger, r, status, err)
	code := wardwatch.ErrorCode(err)
	if status == http.StatusUnauthorized {
		challenge := `Bearer realm="wardwatch"`
		if bearer(r) != "" {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	b, merr := json.Marshal(jsonErrorBody{Error: jsonErrorDetail{Code: code, Message: wardwatch.ErrorMessage(err)}})
	if merr != nil {
		b = []byte(`{"error":{"code":"internal","message":"Internal error."}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// respondError answers with an error page to browsers that asked for HTML
// and with plain text to everything else.
func respondError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if wantsHTML(r) {
		renderError(w, r, logger, err)
		return
	}
	apiError(w, r, logger, err)
}

// wantsHTML reports whether the client asked for an HTML document.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html") || r.Header.Get("Sec-Fetch-Dest") == "document"
}

// errorTitle is the heading of the error page for status.
func errorTitle(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "Request not understood"
	case http.StatusUnauthorized:
		return "Sign-in needed"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusNotFound:
		return "Page not found"
	case http.StatusRequestEntityTooLarge:
		return "Too much data"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusServiceUnavailable:
		return "Temporarily unavailable"
	}
	return "Something went wrong"
}

// errPageNotFound is the error behind every 404 page.
var errPageNotFound = wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no page at this address.")

// handleNotFound answers every request no other route matches.
func handleNotFound(logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respondError(w, r, logger, errPageNotFound)
	})
}

// handleCrossOriginDenied answers requests that http.CrossOriginProtection
// rejects.
func handleCrossOriginDenied(logger *slog.Logger) http.Handler {
	err := wardwatch.Errorf(wardwatch.EFORBIDDEN, "This request came from another site and was refused. Open WardWatch directly and try again.")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.LogAttrs(r.Context(), slog.LevelWarn, "cross-origin request refused",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("origin", r.Header.Get("Origin")),
			slog.String("sec_fetch_site", r.Header.Get("Sec-Fetch-Site")),
		)
		respondError(w, r, logger, err)
	})
}
