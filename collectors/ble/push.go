package ble

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// GatewayLookup finds a gateway by the key it reports itself by. It returns
// an error with code ENOTFOUND when there is no such gateway.
type GatewayLookup interface {
	GatewayByKey(ctx context.Context, key string) (wardwatch.Gateway, error)
}

// Sink takes accepted sightings, typically the location engine's runner.
// An error with code EUNAVAILABLE means "overloaded or down, retry later".
type Sink interface {
	Submit(ctx context.Context, ss []wardwatch.Sighting) error
}

// PushHandlerOptions tunes NewPushHandler. The zero value is usable.
type PushHandlerOptions struct {
	MaxBodyBytes int64            // largest accepted body; default 1 MiB
	Now          func() time.Time // clock for receipt times; default time.Now

	// Router handles vendor bodies (Minew JSON-LONG, Ingics text): the
	// MAC policy, Eddystone-TLM pairing, readings and the collector
	// metrics; its sink receives their sightings. Nil: a Router over the
	// handler's sink, without a reading sink or configured MACs, whose
	// metrics are registered on the handler's registry.
	Router *Router

	// Health, when set, learns what each authenticated gateway sent: one
	// message per request, with its accepted sightings, malformed items
	// (1 for a body rejected whole) and items ignored on purpose.
	Health HealthRecorder
}

// HealthRecorder keeps per-gateway traffic health (a *health.Board).
type HealthRecorder interface {
	GatewayMessage(gatewayID int64, at time.Time, accepted, malformed, dropped int)
}

// DefaultMaxBodyBytes is the body limit when PushHandlerOptions.MaxBodyBytes
// is not set.
const DefaultMaxBodyBytes = 1 << 20

// maxErrorsInResponse caps the item errors echoed back to the gateway.
const maxErrorsInResponse = 20

// Batch results, the values of the result label of
// wardwatch_ingest_batches_total.
const (
	resultAccepted     = "accepted"
	resultPartial      = "partial"
	resultRejected     = "rejected"
	resultUnauthorized = "unauthorized"
	resultTooLarge     = "too_large"
	resultUnavailable  = "unavailable"
	resultError        = "error"
)

const msgUnauthorized = "unknown gateway or bad token"

type pushHandler struct {
	gws       GatewayLookup
	sink      Sink
	log       *slog.Logger
	maxBody   int64
	now       func() time.Time
	batches   *prometheus.CounterVec
	sightings *prometheus.CounterVec
	router    *Router
	health    HealthRecorder
}

// NewPushHandler returns the handler for
//
//	POST /ingest/v1/gateways/{gateway}/sightings
//
// It must be mounted on a ServeMux pattern with a {gateway} wildcard. It
// authenticates the gateway by its bearer token (SHA-256 compared in
// constant time with Gateway.TokenHash; an unknown gateway and a bad token
// get the same 401), parses the batch with ParseBatch, hands the good
// sightings to sink and answers JSON:
//
//	202 {"accepted":n,"rejected":m,"errors":[…]}  at least one item accepted, or an empty batch
//	400 {"error":…, …}                            malformed body, or nothing usable in a non-empty batch
//	401 {"error":…}                               unknown gateway or bad token
//	413 {"error":…}                               body larger than MaxBodyBytes
//	415 {"error":…}                               content type other than JSON / NDJSON, or a Content-Encoding
//	503 {"error":…}                               the sink (or the gateway lookup) is unavailable
//	500 {"error":…}                               anything else; details go to the log
//
// Besides the WardWatch batch format it accepts two gateway vendors'
// formats on the same endpoint, parsed by ParseMinewJSONLong and
// ParseIngics and routed by PushHandlerOptions.Router (RouteFrom: every
// sighting is the authenticated gateway's, whatever MAC the body names):
//
//	Content-Type: application/json, body a JSON array   Minew JSON-LONG
//	Content-Type: text/plain, lines starting with '$'    Ingics $GPRP / $RSPR lines
//
// Their answers have the same shape, with "ignored" counting items dropped
// on purpose (no stable identity, random or unconfigured MAC). A
// text/plain body that is not Ingics lines gets 415.
//
// It counts wardwatch_ingest_batches_total{result} and
// wardwatch_ingest_sightings_total{result} on reg (nil: not registered).
// A nil logger discards logs.
func NewPushHandler(gws GatewayLookup, sink Sink, logger *slog.Logger, reg prometheus.Registerer, opt PushHandlerOptions) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &pushHandler{
		gws:     gws,
		sink:    sink,
		log:     logger,
		maxBody: opt.MaxBodyBytes,
		now:     opt.Now,
		health:  opt.Health,
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_ingest_batches_total",
			Help: "Sighting batches pushed by gateways, by result.",
		}, []string{"result"}),
		sightings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_ingest_sightings_total",
			Help: "Sightings in pushed batches, by result (accepted: handed to the location engine).",
		}, []string{"result"}),
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.batches = registerCounterVec(reg, h.batches)
	h.sightings = registerCounterVec(reg, h.sightings)
	for _, r := range []string{resultAccepted, resultPartial, resultRejected, resultUnauthorized, resultTooLarge, resultUnavailable, resultError} {
		h.batches.WithLabelValues(r)
	}
	h.sightings.WithLabelValues(resultAccepted)
	h.sightings.WithLabelValues(resultRejected)
	h.router = opt.Router
	if h.router == nil {
		h.router = NewRouter(nil, sink, nil, logger, reg, RouterOptions{})
	}
	return h
}

// registerCounterVec registers c on reg, reusing an identical collector
// registered before (two handlers sharing one registry count together).
func registerCounterVec(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
		// A conflicting, different collector under the same name: count
		// unregistered rather than fail the whole server.
	}
	return c
}

type batchResponse struct {
	Error    string      `json:"error,omitempty"`
	Accepted int         `json:"accepted"`
	Rejected int         `json:"rejected"`
	Errors   []ItemError `json:"errors"`
	Ignored  int         `json:"ignored,omitempty"` // vendor formats: items without a usable identity
}

type errorResponse struct {
	Error string `json:"error"`
}

func (h *pushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	key := r.PathValue("gateway")
	logKey := shorten(key, 64)

	gw, status, err := h.authenticate(ctx, key, r.Header.Get("Authorization"))
	if err != nil {
		switch status {
		case http.StatusUnauthorized:
			h.reject(w, status, resultUnauthorized, logKey, msgUnauthorized, err)
		case http.StatusServiceUnavailable:
			h.log.Warn("ingest: gateway lookup unavailable", "gateway", logKey, "err", err)
			h.batches.WithLabelValues(resultUnavailable).Inc()
			w.Header().Set("Retry-After", "1")
			writeJSON(w, status, errorResponse{Error: "Service temporarily unavailable; retry later."})
		default:
			h.log.Error("ingest: gateway lookup failed", "gateway", logKey, "err", err)
			h.batches.WithLabelValues(resultError).Inc()
			writeJSON(w, http.StatusInternalServerError, errorResponse{Error: "Internal error."})
		}
		return
	}

	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		h.rejectFrom(w, gw, http.StatusUnsupportedMediaType, resultRejected, logKey, "Content-Encoding is not supported; send the body uncompressed", nil)
		return
	}
	ct := r.Header.Get("Content-Type")
	textBody := isTextPlain(ct)
	if parseContentType(ct) == formatUnsupported && !textBody {
		h.rejectFrom(w, gw, http.StatusUnsupportedMediaType, resultRejected, logKey, msgUnsupportedType, nil)
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.rejectFrom(w, gw, http.StatusRequestEntityTooLarge, resultTooLarge, logKey, fmt.Sprintf("body is larger than %d bytes", h.maxBody), nil)
			return
		}
		// The client went away or sent a broken body; nothing useful to say.
		h.rejectFrom(w, gw, http.StatusBadRequest, resultRejected, logKey, "could not read the body", err)
		return
	}

	switch {
	case textBody:
		if firstNonSpace(body) != '$' {
			h.rejectFrom(w, gw, http.StatusUnsupportedMediaType, resultRejected, logKey, msgUnsupportedType, nil)
			return
		}
		h.serveVendor(w, r, gw, logKey, FormatIngics, body)
		return
	case parseContentType(ct) == formatJSON && firstNonSpace(body) == '[':
		h.serveVendor(w, r, gw, logKey, FormatMinewJSONLong, body)
		return
	}

	accepted, itemErrs, err := ParseBatch(body, ct, gw, h.now())
	if err != nil {
		h.rejectFrom(w, gw, http.StatusBadRequest, resultRejected, logKey, wardwatch.ErrorMessage(err), nil)
		return
	}
	h.answer(w, r, gw, logKey, len(accepted), itemErrs, 0, func() (int, error) {
		if len(accepted) == 0 {
			return 0, nil
		}
		return len(accepted), h.sink.Submit(r.Context(), accepted)
	})
}

// msgUnsupportedType is the 415 answer for a content type we do not speak.
const msgUnsupportedType = "unsupported content type; want application/json, application/x-ndjson or text/plain (Ingics lines)"

// isTextPlain reports whether a Content-Type is text/plain (parameters
// ignored).
func isTextPlain(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "text/plain"
}

// firstNonSpace returns the first byte of body that is not JSON
// whitespace, or 0.
func firstNonSpace(body []byte) byte {
	for _, c := range body {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// serveVendor answers a Minew JSON-LONG or Ingics body from gateway gw.
func (h *pushHandler) serveVendor(w http.ResponseWriter, r *http.Request, gw wardwatch.Gateway, logKey string, format Format, body []byte) {
	now := h.now()
	var (
		p   Parsed
		err error
	)
	if format == FormatIngics {
		p, err = ParseIngics(body, now)
	} else {
		p, err = ParseMinewJSONLong(body, now)
	}
	if err != nil {
		h.rejectFrom(w, gw, http.StatusBadRequest, resultRejected, logKey, wardwatch.ErrorMessage(err), nil)
		return
	}
	h.answer(w, r, gw, logKey, len(p.Observations), p.Errors, len(p.Skipped), func() (int, error) {
		res, err := h.router.RouteFrom(r.Context(), gw, p, now)
		return res.Sightings, err
	})
}

// answer finishes a parsed batch: candidates is the number of items that
// passed parsing, itemErrs the rejected ones, ignored the ones dropped on
// purpose; submit hands the candidates on and returns how many were
// accepted.
func (h *pushHandler) answer(w http.ResponseWriter, r *http.Request, gw wardwatch.Gateway, logKey string, candidates int, itemErrs []ItemError, ignored int, submit func() (int, error)) {
	h.sightings.WithLabelValues(resultRejected).Add(float64(len(itemErrs)))
	shown := itemErrs
	if len(shown) > maxErrorsInResponse {
		shown = shown[:maxErrorsInResponse]
	}
	if shown == nil {
		shown = []ItemError{}
	}
	if candidates == 0 && len(itemErrs) > 0 {
		reason := "no usable sightings in the batch"
		h.log.Warn("ingest: batch rejected", "gateway", logKey, "reason", reason, "rejected", len(itemErrs), "first_error", itemErrs[0].Reason)
		h.batches.WithLabelValues(resultRejected).Inc()
		h.record(gw, 0, len(itemErrs), ignored)
		writeJSON(w, http.StatusBadRequest, batchResponse{Error: reason, Rejected: len(itemErrs), Errors: shown, Ignored: ignored})
		return
	}

	accepted, err := submit()
	if err != nil {
		if wardwatch.ErrorCode(err) == wardwatch.EUNAVAILABLE {
			h.log.Warn("ingest: sink unavailable", "gateway", logKey, "sightings", candidates, "err", err)
			h.batches.WithLabelValues(resultUnavailable).Inc()
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, errorResponse{Error: "Service temporarily unavailable; retry later."})
			return
		}
		h.log.Error("ingest: submitting sightings failed", "gateway", logKey, "sightings", candidates, "err", err)
		h.batches.WithLabelValues(resultError).Inc()
		writeJSON(w, http.StatusInternalServerError, errorResponse{Error: "Internal error."})
		return
	}
	h.sightings.WithLabelValues(resultAccepted).Add(float64(accepted))
	h.record(gw, accepted, len(itemErrs), ignored+(candidates-accepted))
	if len(itemErrs) > 0 {
		h.batches.WithLabelValues(resultPartial).Inc()
		h.log.Debug("ingest: batch partly rejected", "gateway", logKey, "accepted", accepted, "rejected", len(itemErrs), "first_error", itemErrs[0].Reason)
	} else {
		h.batches.WithLabelValues(resultAccepted).Inc()
	}
	writeJSON(w, http.StatusAccepted, batchResponse{Accepted: accepted, Rejected: len(itemErrs), Errors: shown, Ignored: ignored + (candidates - accepted)})
}

// authenticate resolves the gateway and checks the bearer token. On failure
// it returns the HTTP status to answer and the cause (for the log).
func (h *pushHandler) authenticate(ctx context.Context, key, authz string) (wardwatch.Gateway, int, error) {
	token, ok := bearerToken(authz)
	if !ok {
		return wardwatch.Gateway{}, http.StatusUnauthorized, errors.New("missing or malformed bearer token")
	}
	sum := sha256.Sum256([]byte(token))
	if key == "" {
		return wardwatch.Gateway{}, http.StatusUnauthorized, errors.New("no gateway key in the path")
	}
	gw, err := h.gws.GatewayByKey(ctx, key)
	switch code := wardwatch.ErrorCode(err); code {
	case "":
	case wardwatch.ENOTFOUND:
		return wardwatch.Gateway{}, http.StatusUnauthorized, errors.New("unknown gateway")
	case wardwatch.EUNAVAILABLE:
		return wardwatch.Gateway{}, http.StatusServiceUnavailable, err
	default:
		return wardwatch.Gateway{}, http.StatusInternalServerError, err
	}
	if len(gw.TokenHash) != sha256.Size {
		return wardwatch.Gateway{}, http.StatusUnauthorized, errors.New("gateway has no push token")
	}
	if subtle.ConstantTimeCompare(sum[:], gw.TokenHash) != 1 {
		return wardwatch.Gateway{}, http.StatusUnauthorized, errors.New("bad token")
	}
	return gw, 0, nil
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header (the scheme is case-insensitive).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// record tells the health recorder, if any, about one request from gw.
func (h *pushHandler) record(gw wardwatch.Gateway, accepted, malformed, dropped int) {
	if h.health != nil {
		h.health.GatewayMessage(gw.ID, h.now().UTC(), accepted, malformed, dropped)
	}
}

// rejectFrom is reject for a request from an authenticated gateway: the
// whole body counts as one malformed item in its health.
func (h *pushHandler) rejectFrom(w http.ResponseWriter, gw wardwatch.Gateway, status int, result, gatewayKey, reason string, cause error) {
	h.record(gw, 0, 1, 0)
	h.reject(w, status, result, gatewayKey, reason, cause)
}

// reject answers a rejected batch with a JSON error and logs one warn line
// with the gateway key and the reason (never the body).
func (h *pushHandler) reject(w http.ResponseWriter, status int, result, gatewayKey, reason string, cause error) {
	attrs := []any{"gateway", gatewayKey, "status", status, "reason", reason}
	if cause != nil {
		attrs = append(attrs, "cause", cause.Error())
	}
	h.log.Warn("ingest: batch rejected", attrs...)
	h.batches.WithLabelValues(result).Inc()
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wardwatch-ingest"`)
	}
	writeJSON(w, status, errorResponse{Error: reason})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"Internal error."}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// shorten cuts s to at most n bytes on a rune boundary, for log fields
// whose value comes from the client.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
