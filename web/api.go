package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// APITokenStore keeps the API tokens integrations call /api/v1 with. Only
// a token's SHA-256 is stored.
type APITokenStore interface {
	CreateAPIToken(ctx context.Context, t *wardwatch.APIToken) error
	APITokens(ctx context.Context) ([]wardwatch.APIToken, error)
	// APITokenBySecretHash returns the active token with the hash;
	// ENOTFOUND when none (or revoked).
	APITokenBySecretHash(ctx context.Context, hash []byte) (wardwatch.APIToken, error)
	RevokeAPIToken(ctx context.Context, id int64) error
	// TouchAPIToken records a use (the store writes at most once a
	// minute per token).
	TouchAPIToken(ctx context.Context, id int64, at time.Time) error
}

// API token text: "wwt_" and 32 random bytes in lower-case base32 without
// padding (52 characters).
const (
	apiTokenPrefix    = "wwt_"
	apiTokenBytes     = 32
	apiTokenLen       = len(apiTokenPrefix) + 52
	apiTokenShownPart = len(apiTokenPrefix) + 8 // stored as the token's Prefix
)

var apiTokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newAPIToken returns a fresh token text.
func newAPIToken() (string, error) {
	b := make([]byte, apiTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new API token: %w", err)
	}
	return apiTokenPrefix + apiTokenEncoding.EncodeToString(b), nil
}

// wellFormedAPIToken reports whether s looks like a newAPIToken text, so
// garbage never reaches the store.
func wellFormedAPIToken(s string) bool {
	if len(s) != apiTokenLen || !strings.HasPrefix(s, apiTokenPrefix) {
		return false
	}
	for i := len(apiTokenPrefix); i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// Failed token attempts per client address: after apiMaxAddressFailures
// within apiFailureWindow the address is refused (429) until the oldest
// failure leaves the window.
const (
	apiFailureWindow      = 15 * time.Minute
	apiMaxAddressFailures = 20
	apiLimiterKeys        = 10000
)

// apiTokenTouch is how often, at most, the API asks the store to record a
// token's use.
const apiTokenTouch = time.Minute

var (
	errAPINoToken  = wardwatch.Errorf(wardwatch.EUNAUTHORIZED, "Send an API token: Authorization: Bearer wwt_….")
	errAPIBadToken = wardwatch.Errorf(wardwatch.EUNAUTHORIZED, "The API token is not valid (it may have been revoked).")
)

// apiAuth authenticates /api/v1 requests by their bearer token and puts
// the token's viewer (the token's role, the same permission checks as the
// UI) in the context. Session cookies are ignored: the API has no
// cross-site request surface.
type apiAuth struct {
	logger  *slog.Logger
	tokens  APITokenStore
	limiter *loginLimiter
	now     func() time.Time
	m       *metrics
}

// bearer returns the token of r's Authorization header, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// viewer returns the token viewer of r, or the error to answer with.
func (a *apiAuth) viewer(r *http.Request) (*viewer, error) {
	ctx := r.Context()
	now := a.now().UTC()
	key := addressKey(remoteHost(r))
	if wait := a.limiter.wait(now, key); wait > 0 {
		return nil, &wardwatch.Error{Code: wardwatch.ERATELIMITED,
			Message: fmt.Sprintf("Too many invalid API tokens from this address; try again in %d minutes.", int(math.Ceil(wait.Minutes())))}
	}
	tok := bearer(r)
	if tok == "" {
		return nil, errAPINoToken
	}
	if !wellFormedAPIToken(tok) {
		a.limiter.fail(now, key)
		a.m.apiAuthFailures.Inc()
		return nil, errAPIBadToken
	}
	t, err := a.tokens.APITokenBySecretHash(ctx, auth.HashToken(tok))
	if wardwatch.ErrorCode(err) == wardwatch.ENOTFOUND {
		a.limiter.fail(now, key)
		a.m.apiAuthFailures.Inc()
		return nil, errAPIBadToken
	} else if err != nil {
		return nil, fmt.Errorf("look up API token: %w", err)
	}
	if !t.Role.Valid() || t.Revoked() {
		return nil, errAPIBadToken
	}
	if now.Sub(t.LastUsed) >= apiTokenTouch {
		if err := a.tokens.TouchAPIToken(ctx, t.ID, now); err != nil {
			a.logger.LogAttrs(ctx, slog.LevelWarn, "record API token use", slog.Int64("token", t.ID), slog.String("error", err.Error()))
		}
	}
	return &viewer{User: wardwatch.User{Username: "api:" + t.Name, Role: t.Role}, Now: now, APIToken: t.ID}, nil
}

// require lets requests with a valid token holding p through.
func (a *apiAuth) require(p permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, err := a.viewer(r)
			if err != nil {
				jsonError(w, r, a.logger, err)
				return
			}
			ctx := context.WithValue(r.Context(), viewerKey{}, v)
			requireAPIPermission(a.logger, p)(next).ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// ---- JSON answers ----

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, r *http.Request, logger *slog.Logger, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		jsonError(w, r, logger, fmt.Errorf("encode JSON answer: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// apiList is a page of a list resource.
type apiList[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
	Total      int    `json:"total"`
}

// apiTime is t in RFC 3339 UTC with milliseconds, or nil for the zero
// time (JSON null).
func apiTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	return &s
}

// apiFloat is f, or nil (JSON null) when it is NaN or infinite.
func apiFloat(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// ---- list queries ----

// List limits.
const (
	apiDefaultLimit = 100
	apiMaxLimit     = 1000
	apiMaxQuery     = 2048 // bytes in a query string
	apiMaxFilter    = 200  // bytes in one filter value
	apiMaxOffset    = 1 << 30
)

// listQuery is a list request's paging and filters.
type listQuery struct {
	Limit   int
	Offset  int
	Filters map[string]string
}

// parseListQuery reads limit, cursor or offset, and the filters named in
// allowed from a query string. Unknown parameters, repeated ones and bad
// values are EINVALID, so a typo never silently lists everything.
func parseListQuery(rawQuery string, allowed ...string) (listQuery, error) {
	q := listQuery{Limit: apiDefaultLimit, Filters: map[string]string{}}
	if len(rawQuery) > apiMaxQuery {
		return q, wardwatch.Errorf(wardwatch.EINVALID, "The query string is longer than %d bytes.", apiMaxQuery)
	}
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return q, wardwatch.Errorf(wardwatch.EINVALID, "The query string could not be read.")
	}
	for k, vs := range vals {
		if len(vs) > 1 {
			return q, wardwatch.Errorf(wardwatch.EINVALID, "The parameter %q is given more than once.", shortField(k))
		}
		v := vs[0]
		switch k {
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > apiMaxLimit {
				return q, wardwatch.Errorf(wardwatch.EINVALID, "limit must be a whole number from 1 to %d.", apiMaxLimit)
			}
			q.Limit = n
		case "offset":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > apiMaxOffset {
				return q, wardwatch.Errorf(wardwatch.EINVALID, "offset must be a whole number, 0 or more.")
			}
			if _, ok := vals["cursor"]; ok {
				return q, wardwatch.Errorf(wardwatch.EINVALID, "Give cursor or offset, not both.")
			}
			q.Offset = n
		case "cursor":
			n, ok := decodeCursor(v)
			if !ok {
				return q, wardwatch.Errorf(wardwatch.EINVALID, "The cursor is not valid; use next_cursor from the previous page.")
			}
			q.Offset = n
		default:
			known := false
			for _, a := range allowed {
				known = known || a == k
			}
			if !known {
				if len(allowed) == 0 {
					return q, wardwatch.Errorf(wardwatch.EINVALID, "Unknown parameter %q.", shortField(k))
				}
				return q, wardwatch.Errorf(wardwatch.EINVALID, "Unknown parameter %q; the filters are %s.", shortField(k), strings.Join(allowed, ", "))
			}
			if len(v) > apiMaxFilter || !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
				return q, wardwatch.Errorf(wardwatch.EINVALID, "The filter %q is too long or not text.", k)
			}
			if v = strings.TrimSpace(v); v != "" {
				q.Filters[k] = v
			}
		}
	}
	return q, nil
}

// filterID reads an ID filter ("" is 0).
func (q listQuery) filterID(name string) (int64, error) {
	s := q.Filters[name]
	if s == "" {
		return 0, nil
	}
	id, ok := parseID(s)
	if !ok {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "The filter %q must be an ID.", name)
	}
	return id, nil
}

// encodeCursor and decodeCursor make the opaque cursor of an offset.
func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(offset)))
}

func decodeCursor(s string) (int, bool) {
	if len(s) > 32 {
		return 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'o' {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[1:]))
	if err != nil || n < 0 || n > apiMaxOffset || strconv.Itoa(n) != string(b[1:]) {
		return 0, false
	}
	return n, true
}

// paginate cuts one page out of items (already filtered and in a stable
// order).
func paginate[T any](items []T, q listQuery) apiList[T] {
	out := apiList[T]{Items: []T{}, Total: len(items)}
	if q.Offset >= len(items) {
		return out
	}
	end := min(len(items), q.Offset+q.Limit)
	out.Items = items[q.Offset:end]
	if end < len(items) {
		out.NextCursor = encodeCursor(end)
	}
	return out
}

// ---- request bodies ----

// apiMaxBody bounds a JSON request body.
const apiMaxBody = 256 << 10

// decodeBody reads r's JSON object body into dst, refusing unknown
// fields, trailing data and bodies over apiMaxBody.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return wardwatch.Errorf(wardwatch.EINVALID, "Send the body as application/json.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, apiMaxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return wardwatch.Errorf(wardwatch.ETOOLARGE, "The body is larger than %d KiB.", apiMaxBody>>10)
		}
		if errors.Is(err, io.EOF) {
			return wardwatch.Errorf(wardwatch.EINVALID, "The body is empty; send a JSON object.")
		}
		return &wardwatch.Error{Code: wardwatch.EINVALID, Message: "The body is not valid JSON for this resource: " + jsonProblem(err) + ".", Err: err}
	}
	if dec.More() {
		return wardwatch.Errorf(wardwatch.EINVALID, "The body has data after the JSON object.")
	}
	return nil
}

// jsonProblem says what is wrong with a JSON body in a few words, without
// echoing it.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%q has the wrong type (want %s)", shortField(typ.Field), typ.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + shortField(strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return "it could not be read"
}

// bodyForm reads a JSON object body into the flat field map the admin
// forms use, so the API runs the very same form→domain helpers and
// validation as the UI: strings as they are (trimmed), numbers in their
// JSON text, true as "on" (a ticked box) and false as "", arrays and
// objects as their JSON text (a zone's polygon), null as absent. Fields
// not in fields are refused; values longer than maxFieldBytes too, except
// the big ones.
func bodyForm(w http.ResponseWriter, r *http.Request, fields []string, big ...string) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := decodeBody(w, r, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "Send a JSON object.")
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		known := false
		for _, f := range fields {
			known = known || f == k
		}
		if !known {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Unknown field %q; the fields are %s.", shortField(k), strings.Join(fields, ", "))
		}
		s, err := formText(v)
		if err != nil {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "The field %q could not be read.", k)
		}
		limit := maxFieldBytes
		for _, b := range big {
			if k == b {
				limit = apiMaxBody
			}
		}
		if len(s) > limit {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "The field %q is too long.", k)
		}
		if s != "" {
			out[k] = s
		}
	}
	return out, nil
}

// formText is one JSON value as a form field's text.
func formText(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", errors.New("empty")
	}
	switch v[0] {
	case 'n':
		return "", nil
	case 't':
		return "on", nil
	case 'f':
		return "", nil
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", err
		}
		return strings.TrimSpace(s), nil
	case '[', '{':
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

// apiPathID reads the {name} path value as an ID; ENOTFOUND otherwise.
func apiPathID(r *http.Request, name, what string) (int64, error) {
	id, ok := parseID(r.PathValue(name))
	if !ok {
		return 0, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such %s.", what)
	}
	return id, nil
}

// apiTimeParam reads an RFC 3339 time parameter; def when absent.
func apiTimeParam(q listQuery, name string, def time.Time) (time.Time, error) {
	s := q.Filters[name]
	if s == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, wardwatch.Errorf(wardwatch.EINVALID, "%s must be an RFC 3339 time such as 2026-03-01T08:00:00Z.", name)
	}
	return t.UTC(), nil
}
