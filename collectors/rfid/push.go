package rfid

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

// DefaultMaxBodyBytes is the push handler's body limit when
// PushOptions.MaxBodyBytes is not set.
const DefaultMaxBodyBytes = 1 << 20

// maxErrorsInResponse caps the item errors echoed back to the reader.
const maxErrorsInResponse = 20

// PushOptions configures NewPushHandler.
type PushOptions struct {
	// Readers authenticates readers (required).
	Readers ReaderLookup
	// Sink receives the accepted reads (required): usually a *Router.
	Sink Sink
	// Logger, nil: discard.
	Logger *slog.Logger
	// Registerer for the metrics; nil: not registered.
	Registerer prometheus.Registerer
	// MaxBodyBytes is the largest body accepted (DefaultMaxBodyBytes;
	// at most MaxBodyBytes).
	MaxBodyBytes int64
	// Now is the clock for receipt times; nil: time.Now.
	Now func() time.Time
}

// Results of wardwatch_rfid_push_requests_total.
const (
	resultAccepted     = "accepted"
	resultPartial      = "partial"
	resultRejected     = "rejected"
	resultUnauthorized = "unauthorized"
	resultTooLarge     = "too_large"
	resultUnsupported  = "unsupported_media_type"
	resultUnavailable  = "unavailable"
	resultError        = "error"
)

// Sources of the ingest metrics.
const (
	sourcePush = "push"
	sourcePoll = "poll"
)

const msgUnauthorized = "unknown reader or bad token"

// ingestMetrics are shared by the push handler and the poll handler.
type ingestMetrics struct {
	requests  *prometheus.CounterVec // push only
	reads     *prometheus.CounterVec
	malformed *prometheus.CounterVec
	ignored   *prometheus.CounterVec
}

func newIngestMetrics(reg prometheus.Registerer) *ingestMetrics {
	m := &ingestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_rfid_push_requests_total",
			Help: "Bodies pushed by RFID readers, by result.",
		}, []string{"result"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_rfid_reads_total",
			Help: "RFID tag reads accepted and handed on, by format and source (push, poll).",
		}, []string{"format", "source"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_rfid_malformed_items_total",
			Help: "Malformed items (or whole bodies) from RFID readers, by format and source.",
		}, []string{"format", "source"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_rfid_ignored_items_total",
			Help: "Well-formed reader events that are not tag reads, by format and source.",
		}, []string{"format", "source"}),
	}
	m.requests = register(reg, m.requests)
	m.reads = register(reg, m.reads)
	m.malformed = register(reg, m.malformed)
	m.ignored = register(reg, m.ignored)
	return m
}

type pushHandler struct {
	readers ReaderLookup
	sink    Sink
	log     *slog.Logger
	maxBody int64
	now     func() time.Time
	m       *ingestMetrics
}

// NewPushHandler returns the handler for
//
//	POST /ingest/v1/readers/{reader}/reads
//	Authorization: Bearer <token>
//
// mounted on a ServeMux pattern with a {reader} wildcard. It
// authenticates the reader by its bearer token (SHA-256 compared in
// constant time with Reader.TokenHash; an unknown reader and a bad token
// get the same 401), parses the body with Parse (stamping every read with
// the reader's key, whatever the body names), hands the good reads to the
// sink and answers JSON:
//
//	202 {"format":…,"accepted":n,"rejected":m,"ignored":k,"errors":[…]}  reads accepted, or nothing to accept
//	400 {"error":…, …}   malformed body, unknown format, or no usable read in a non-empty body
//	401 {"error":…}      unknown reader or bad token
//	405                  not POST
//	413 {"error":…}      body larger than MaxBodyBytes
//	415 {"error":…}      content type other than JSON / NDJSON, or a Content-Encoding
//	503 {"error":…}      the sink or the reader store is unavailable (Retry-After: 1)
//	500 {"error":…}      anything else; details go to the log
//
// The format comes from the ?format= parameter, else a format parameter
// of the Content-Type (application/json; format=zebra), else the reader's
// configured Format, else DetectFormat. At most 20 item errors are
// listed; "rejected" counts them all.
//
// Metrics: wardwatch_rfid_push_requests_total{result},
// wardwatch_rfid_reads_total{format,source},
// wardwatch_rfid_malformed_items_total{format,source} and
// wardwatch_rfid_ignored_items_total{format,source}.
func NewPushHandler(opt PushOptions) http.Handler {
	h := &pushHandler{
		readers: opt.Readers,
		sink:    opt.Sink,
		log:     opt.Logger,
		maxBody: opt.MaxBodyBytes,
		now:     opt.Now,
		m:       newIngestMetrics(opt.Registerer),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	h.maxBody = min(h.maxBody, MaxBodyBytes)
	if h.now == nil {
		h.now = time.Now
	}
	for _, r := range []string{resultAccepted, resultPartial, resultRejected, resultUnauthorized, resultTooLarge, resultUnsupported, resultUnavailable, resultError} {
		h.m.requests.WithLabelValues(r)
	}
	for _, f := range Formats() {
		h.m.reads.WithLabelValues(string(f), sourcePush)
		h.m.malformed.WithLabelValues(string(f), sourcePush)
		h.m.ignored.WithLabelValues(string(f), sourcePush)
	}
	return h
}

// pushResponse is the JSON answer to a push.
type pushResponse struct {
	Error    string      `json:"error,omitempty"`
	Format   Format      `json:"format,omitempty"`
	Accepted int         `json:"accepted"`
	Rejected int         `json:"rejected"`
	Ignored  int         `json:"ignored"`
	Errors   []ItemError `json:"errors"`
}

type errorResponse struct {
	Error string `json:"error"`
}

func (h *pushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorResponse{Error: "method not allowed; POST reads"})
		return
	}
	if h.readers == nil || h.sink == nil {
		h.log.Error("rfid: push handler is not configured (no Readers or Sink)")
		h.m.requests.WithLabelValues(resultError).Inc()
		writeJSON(w, http.StatusInternalServerError, errorResponse{Error: "Internal error."})
		return
	}
	ctx := r.Context()
	key := r.PathValue("reader")
	logKey := shorten(key, 64)

	rd, status, err := h.authenticate(ctx, key, r.Header.Get("Authorization"))
	if err != nil {
		switch status {
		case http.StatusUnauthorized:
			h.log.Warn("rfid: push rejected", "reader", logKey, "status", status, "reason", err.Error())
			h.m.requests.WithLabelValues(resultUnauthorized).Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="wardwatch-ingest"`)
			writeJSON(w, status, errorResponse{Error: msgUnauthorized})
		case http.StatusServiceUnavailable:
			h.log.Warn("rfid: reader lookup unavailable", "reader", logKey, "err", err)
			h.m.requests.WithLabelValues(resultUnavailable).Inc()
			w.Header().Set("Retry-After", "1")
			writeJSON(w, status, errorResponse{Error: "Service temporarily unavailable; retry later."})
		default:
			h.log.Error("rfid: reader lookup failed", "reader", logKey, "err", err)
			h.m.requests.WithLabelValues(resultError).Inc()
			writeJSON(w, http.StatusInternalServerError, errorResponse{Error: "Internal error."})
		}
		return
	}

	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		h.reject(w, http.StatusUnsupportedMediaType, resultUnsupported, "", logKey, "Content-Encoding is not supported; send the body uncompressed")
		return
	}
	ctFormat, ok := parseContentType(r.Header.Get("Content-Type"))
	if !ok {
		h.reject(w, http.StatusUnsupportedMediaType, resultUnsupported, "", logKey, "unsupported content type; want application/json or application/x-ndjson")
		return
	}
	format, err := h.format(r, ctFormat, rd)
	if err != nil {
		h.reject(w, http.StatusBadRequest, resultRejected, "", logKey, wardwatch.ErrorMessage(err))
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.reject(w, http.StatusRequestEntityTooLarge, resultTooLarge, format, logKey, fmt.Sprintf("body is larger than %d bytes", h.maxBody))
			return
		}
		h.reject(w, http.StatusBadRequest, resultRejected, format, logKey, "could not read the body")
		return
	}

	p, err := Parse(format, rd.Key, body, h.now())
	if err != nil {
		status, result := http.StatusBadRequest, resultRejected
		if wardwatch.ErrorCode(err) == wardwatch.ETOOLARGE {
			status, result = http.StatusRequestEntityTooLarge, resultTooLarge
		}
		h.reject(w, status, result, p.Format, logKey, wardwatch.ErrorMessage(err))
		return
	}
	fl := p.Format.label()
	h.m.malformed.WithLabelValues(fl, sourcePush).Add(float64(len(p.Errors)))
	h.m.ignored.WithLabelValues(fl, sourcePush).Add(float64(p.Ignored))
	shown := p.Errors
	if len(shown) > maxErrorsInResponse {
		shown = shown[:maxErrorsInResponse]
	}
	if shown == nil {
		shown = []ItemError{}
	}
	resp := pushResponse{Format: p.Format, Rejected: len(p.Errors), Ignored: p.Ignored, Errors: shown}

	if len(p.Reads) == 0 && len(p.Errors) > 0 {
		resp.Error = "no usable reads in the body"
		h.log.Warn("rfid: push rejected", "reader", logKey, "format", fl, "reason", resp.Error, "rejected", len(p.Errors), "first_error", p.Errors[0].Reason)
		h.m.requests.WithLabelValues(resultRejected).Inc()
		writeJSON(w, http.StatusBadRequest, resp)
		return
	}
	if len(p.Reads) > 0 {
		if err := h.sink.SubmitReads(ctx, p.Reads); err != nil {
			if wardwatch.ErrorCode(err) == wardwatch.EUNAVAILABLE {
				h.log.Warn("rfid: sink unavailable", "reader", logKey, "reads", len(p.Reads), "err", err)
				h.m.requests.WithLabelValues(resultUnavailable).Inc()
				w.Header().Set("Retry-After", "1")
				writeJSON(w, http.StatusServiceUnavailable, errorResponse{Error: "Service temporarily unavailable; retry later."})
				return
			}
			h.log.Error("rfid: submitting reads failed", "reader", logKey, "reads", len(p.Reads), "err", err)
			h.m.requests.WithLabelValues(resultError).Inc()
			writeJSON(w, http.StatusInternalServerError, errorResponse{Error: "Internal error."})
			return
		}
	}
	h.m.reads.WithLabelValues(fl, sourcePush).Add(float64(len(p.Reads)))
	resp.Accepted = len(p.Reads)
	if len(p.Errors) > 0 {
		h.m.requests.WithLabelValues(resultPartial).Inc()
		h.log.Debug("rfid: push partly rejected", "reader", logKey, "format", fl, "accepted", len(p.Reads), "rejected", len(p.Errors), "first_error", p.Errors[0].Reason)
	} else {
		h.m.requests.WithLabelValues(resultAccepted).Inc()
	}
	writeJSON(w, http.StatusAccepted, resp)
}

// format picks the body's format: ?format=, the Content-Type's format
// parameter, the reader's configured format, or "" (detect).
func (h *pushHandler) format(r *http.Request, ctFormat string, rd Reader) (Format, error) {
	if q := r.URL.Query(); q.Has("format") {
		return ParseFormat(q.Get("format"))
	}
	if ctFormat != "" {
		return ParseFormat(ctFormat)
	}
	if rd.Format.Valid() {
		return rd.Format, nil
	}
	return "", nil
}

// parseContentType accepts JSON and NDJSON media types and returns their
// format parameter, if any.
func parseContentType(ct string) (format string, ok bool) {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false
	}
	switch mt {
	case "application/json", "application/x-ndjson", "application/ndjson":
		return params["format"], true
	}
	return "", false
}

// dummyHash is compared against when the reader is unknown, so that an
// unknown reader costs the same as a wrong token.
var dummyHash = sha256.Sum256([]byte("wardwatch: no such reader"))

// authenticate resolves the reader and checks the bearer token. On
// failure it returns the HTTP status to answer and the cause (for the
// log).
func (h *pushHandler) authenticate(ctx context.Context, key, authz string) (Reader, int, error) {
	token, ok := bearerToken(authz)
	if !ok {
		return Reader{}, http.StatusUnauthorized, errors.New("missing or malformed bearer token")
	}
	sum := sha256.Sum256([]byte(token))
	if key == "" || len(key) > maxReaderKeyLen {
		return Reader{}, http.StatusUnauthorized, errors.New("no usable reader key in the path")
	}
	rd, err := h.readers.ReaderByKey(ctx, key)
	switch wardwatch.ErrorCode(err) {
	case "":
	case wardwatch.ENOTFOUND:
		subtle.ConstantTimeCompare(sum[:], dummyHash[:])
		return Reader{}, http.StatusUnauthorized, errors.New("unknown reader")
	case wardwatch.EUNAVAILABLE:
		return Reader{}, http.StatusServiceUnavailable, err
	default:
		return Reader{}, http.StatusInternalServerError, err
	}
	if len(rd.TokenHash) != sha256.Size {
		subtle.ConstantTimeCompare(sum[:], dummyHash[:])
		return Reader{}, http.StatusUnauthorized, errors.New("reader has no push token")
	}
	if subtle.ConstantTimeCompare(sum[:], rd.TokenHash) != 1 {
		return Reader{}, http.StatusUnauthorized, errors.New("bad token")
	}
	if rd.Key == "" {
		rd.Key = key
	}
	return rd, 0, nil
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

// reject answers a request from an authenticated reader whose body is
// rejected whole: one malformed item, one warn line (never the body).
func (h *pushHandler) reject(w http.ResponseWriter, status int, result string, f Format, readerKey, reason string) {
	h.log.Warn("rfid: push rejected", "reader", readerKey, "status", status, "reason", reason)
	h.m.requests.WithLabelValues(result).Inc()
	h.m.malformed.WithLabelValues(f.label(), sourcePush).Inc()
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

// PollOptions configures NewPollHandler.
type PollOptions struct {
	// Sink receives the accepted reads (required).
	Sink Sink
	// Logger, nil: discard.
	Logger *slog.Logger
	// Registerer for the metrics (shared with the push handler's); nil:
	// not registered.
	Registerer prometheus.Registerer
	// Now is the clock for receipt times; nil: time.Now.
	Now func() time.Time
}

// NewPollHandler returns a function that ingests a body pulled from a
// reader (collectors/httppoll's Handle, wired by the caller with the
// target's name as readerKey and its format): it parses the body with
// Parse (format "" or the Content-Type's format parameter: detect) and
// hands the good reads to the sink. It fails when the body is unusable
// as a whole, when it holds item errors but no usable read, or when the
// sink fails; item errors of a partly good body are logged and counted
// (wardwatch_rfid_malformed_items_total{source="poll"}), not returned.
func NewPollHandler(opt PollOptions) func(ctx context.Context, readerKey, format string, body []byte, contentType string) error {
	m := newIngestMetrics(opt.Registerer)
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	for _, f := range Formats() {
		m.reads.WithLabelValues(string(f), sourcePoll)
		m.malformed.WithLabelValues(string(f), sourcePoll)
		m.ignored.WithLabelValues(string(f), sourcePoll)
	}
	return func(ctx context.Context, readerKey, format string, body []byte, contentType string) error {
		if opt.Sink == nil {
			return errors.New("rfid: poll handler has no Sink")
		}
		if readerKey == "" {
			return wardwatch.Errorf(wardwatch.EINVALID, "no reader key for the polled body")
		}
		if format == "" {
			if ctFormat, ok := parseContentType(contentType); ok {
				format = ctFormat
			}
		}
		f, err := ParseFormat(format)
		if err != nil {
			m.malformed.WithLabelValues(Format("").label(), sourcePoll).Inc()
			return err
		}
		p, err := Parse(f, readerKey, body, now())
		fl := p.Format.label()
		if err != nil {
			m.malformed.WithLabelValues(fl, sourcePoll).Inc()
			return fmt.Errorf("rfid: body from reader %s: %w", quoteShort(readerKey), err)
		}
		m.malformed.WithLabelValues(fl, sourcePoll).Add(float64(len(p.Errors)))
		m.ignored.WithLabelValues(fl, sourcePoll).Add(float64(p.Ignored))
		if len(p.Errors) > 0 {
			log.Warn("rfid: polled body has malformed items", "reader", shorten(readerKey, 64), "format", fl,
				"reads", len(p.Reads), "rejected", len(p.Errors), "first_error", p.Errors[0].Reason, "first_index", p.Errors[0].Index)
			if len(p.Reads) == 0 {
				return wardwatch.Errorf(wardwatch.EINVALID, "no usable reads in the body (%d malformed items; first, #%d: %s)", len(p.Errors), p.Errors[0].Index, p.Errors[0].Reason)
			}
		}
		if len(p.Reads) == 0 {
			return nil
		}
		if err := opt.Sink.SubmitReads(ctx, p.Reads); err != nil {
			return fmt.Errorf("rfid: submit %d reads from %s: %w", len(p.Reads), quoteShort(readerKey), err)
		}
		m.reads.WithLabelValues(fl, sourcePoll).Add(float64(len(p.Reads)))
		return nil
	}
}
