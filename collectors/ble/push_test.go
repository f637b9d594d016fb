package ble

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
)

// fakeGateways is a GatewayLookup over a map, with an optional error.
type fakeGateways struct {
	byKey map[string]wardwatch.Gateway
	err   error
}

func (f *fakeGateways) GatewayByKey(_ context.Context, key string) (wardwatch.Gateway, error) {
	if f.err != nil {
		return wardwatch.Gateway{}, f.err
	}
	gw, ok := f.byKey[key]
	if !ok {
		return wardwatch.Gateway{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "no gateway %q", key)
	}
	return gw, nil
}

// fakeSink records submitted sightings, or fails with err.
type fakeSink struct {
	mu  sync.Mutex
	got [][]wardwatch.Sighting
	err error
}

func (s *fakeSink) Submit(_ context.Context, ss []wardwatch.Sighting) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.got = append(s.got, append([]wardwatch.Sighting(nil), ss...))
	return nil
}

func (s *fakeSink) all() []wardwatch.Sighting {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wardwatch.Sighting
	for _, b := range s.got {
		out = append(out, b...)
	}
	return out
}

const (
	goodToken = "s3cret-push-token-for-f1-gw-03"
	noTokenGW = "f1-gw-04"
)

type testEnv struct {
	srv  *httptest.Server
	sink *fakeSink
	gws  *fakeGateways
	reg  *prometheus.Registry
	logs *bytes.Buffer
}

func newTestEnv(t *testing.T, opt PushHandlerOptions) *testEnv {
	t.Helper()
	hash := sha256.Sum256([]byte(goodToken))
	env := &testEnv{
		sink: &fakeSink{},
		gws: &fakeGateways{byKey: map[string]wardwatch.Gateway{
			testGW.Key: {ID: testGW.ID, Key: testGW.Key, TokenHash: hash[:]},
			noTokenGW:  {ID: 8, Key: noTokenGW},
		}},
		reg:  prometheus.NewRegistry(),
		logs: &bytes.Buffer{},
	}
	if opt.Now == nil {
		opt.Now = func() time.Time { return testNow }
	}
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: env.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mux := http.NewServeMux()
	mux.Handle("POST /ingest/v1/gateways/{gateway}/sightings", NewPushHandler(env.gws, env.sink, logger, env.reg, opt))
	env.srv = httptest.NewServer(mux)
	t.Cleanup(env.srv.Close)
	return env
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (env *testEnv) post(t *testing.T, gateway, token, contentType, body string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.srv.URL+"/ingest/v1/gateways/"+gateway+"/sightings", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := env.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("response Content-Type = %q, want application/json (body %s)", ct, raw)
	}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Errorf("response body is not a JSON object: %v: %s", err, raw)
	}
	return r
}

func item(rssi any) string {
	return fmt.Sprintf(`{"tag":%q,"rssi":%v}`, testTag, rssi)
}

func batch(items ...string) string {
	return `{"sightings":[` + strings.Join(items, ",") + `]}`
}

func TestPushHandlerStatuses(t *testing.T) {
	tests := []struct {
		name        string
		gateway     string
		token       string
		ct          string
		body        string
		hdr         []string
		sinkErr     error
		lookupErr   error
		want        int
		wantResult  string // batches_total label incremented
		wantInBody  string // substring of the raw response
		wantSunk    int    // sightings reaching the sink
		wantAccept  float64
		wantReject  float64
		wantLogWarn bool
	}{
		{name: "all good", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: batch(item(-60), item(-70)),
			want: 202, wantResult: resultAccepted, wantInBody: `"accepted":2,"rejected":0,"errors":[]`, wantSunk: 2, wantAccept: 2},
		{name: "ndjson", gateway: testGW.Key, token: goodToken, ct: ctNDJSON, body: item(-60) + "\n" + item(-61) + "\n",
			want: 202, wantResult: resultAccepted, wantSunk: 2, wantAccept: 2},
		{name: "empty batch", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: batch(),
			want: 202, wantResult: resultAccepted, wantInBody: `"accepted":0,"rejected":0`},
		{name: "partial", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: batch(item(-60), item(12), `{"tag":"nope","rssi":-1}`, item(-80)),
			want: 202, wantResult: resultPartial, wantInBody: `"accepted":2,"rejected":2`, wantSunk: 2, wantAccept: 2, wantReject: 2},
		{name: "nothing usable", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: batch(item(12), item(`"x"`)),
			want: 400, wantResult: resultRejected, wantInBody: `"rejected":2`, wantReject: 2, wantLogWarn: true},
		{name: "malformed body", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: `{"sightings":[`,
			want: 400, wantResult: resultRejected, wantInBody: "not valid JSON", wantLogWarn: true},
		{name: "not an object", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: `[1,2]`,
			want: 400, wantResult: resultRejected, wantLogWarn: true},
		{name: "unknown gateway", gateway: "f9-gw-99", token: goodToken, ct: ctJSON, body: batch(item(-60)),
			want: 401, wantResult: resultUnauthorized, wantInBody: msgUnauthorized, wantLogWarn: true},
		{name: "bad token", gateway: testGW.Key, token: "wrong", ct: ctJSON, body: batch(item(-60)),
			want: 401, wantResult: resultUnauthorized, wantInBody: msgUnauthorized, wantLogWarn: true},
		{name: "no token", gateway: testGW.Key, ct: ctJSON, body: batch(item(-60)),
			want: 401, wantResult: resultUnauthorized, wantInBody: msgUnauthorized, wantLogWarn: true},
		{name: "basic auth", gateway: testGW.Key, ct: ctJSON, body: batch(item(-60)), hdr: []string{"Authorization", "Basic Zm9vOmJhcg=="},
			want: 401, wantResult: resultUnauthorized, wantLogWarn: true},
		{name: "gateway without token", gateway: noTokenGW, token: goodToken, ct: ctJSON, body: batch(item(-60)),
			want: 401, wantResult: resultUnauthorized, wantInBody: msgUnauthorized, wantLogWarn: true},
		{name: "lowercase bearer", gateway: testGW.Key, ct: ctJSON, body: batch(item(-60)), hdr: []string{"Authorization", "bearer " + goodToken},
			want: 202, wantResult: resultAccepted, wantSunk: 1, wantAccept: 1},
		{name: "unauthorized before content type", gateway: testGW.Key, token: "wrong", ct: "text/plain", body: "x",
			want: 401, wantResult: resultUnauthorized, wantLogWarn: true},
		{name: "text/plain", gateway: testGW.Key, token: goodToken, ct: "text/plain", body: batch(item(-60)),
			want: 415, wantResult: resultRejected, wantLogWarn: true},
		{name: "no content type", gateway: testGW.Key, token: goodToken, ct: "", body: batch(item(-60)),
			want: 415, wantResult: resultRejected, wantLogWarn: true},
		{name: "gzip", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: batch(item(-60)), hdr: []string{"Content-Encoding", "gzip"},
			want: 415, wantResult: resultRejected, wantLogWarn: true},
		{name: "too large", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: batch(strings.Repeat(item(-60)+",", 100) + item(-60)),
			want: 413, wantResult: resultTooLarge, wantLogWarn: true},
		{name: "sink unavailable", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: batch(item(-60)),
			sinkErr: fmt.Errorf("submit: %w", wardwatch.Errorf(wardwatch.EUNAVAILABLE, "queue full")),
			want:    503, wantResult: resultUnavailable},
		{name: "sink fails", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: batch(item(-60)),
			sinkErr: errors.New("disk on fire"),
			want:    500, wantResult: resultError, wantInBody: "Internal error."},
		{name: "lookup unavailable", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: batch(item(-60)),
			lookupErr: wardwatch.Errorf(wardwatch.EUNAVAILABLE, "db down"),
			want:      503, wantResult: resultUnavailable},
		{name: "lookup fails", gateway: testGW.Key, token: goodToken, ct: ctJSON, body: batch(item(-60)),
			lookupErr: errors.New("connection reset"),
			want:      500, wantResult: resultError, wantInBody: "Internal error."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, PushHandlerOptions{MaxBodyBytes: 4096})
			env.sink.err = tt.sinkErr
			env.gws.err = tt.lookupErr
			r := env.post(t, tt.gateway, tt.token, tt.ct, tt.body, tt.hdr...)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.want, r.raw)
			}
			if tt.wantInBody != "" && !strings.Contains(r.raw, tt.wantInBody) {
				t.Errorf("body %s does not contain %s", r.raw, tt.wantInBody)
			}
			if tt.want == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			if strings.Contains(r.raw, "fire") || strings.Contains(r.raw, "connection reset") || strings.Contains(r.raw, "db down") {
				t.Errorf("internal error details leaked: %s", r.raw)
			}
			if got := len(env.sink.all()); got != tt.wantSunk {
				t.Errorf("sink got %d sightings, want %d", got, tt.wantSunk)
			}
			for _, res := range []string{resultAccepted, resultPartial, resultRejected, resultUnauthorized, resultTooLarge, resultUnavailable, resultError} {
				want := 0.0
				if res == tt.wantResult {
					want = 1
				}
				if got := counterValue(t, env.reg, "wardwatch_ingest_batches_total", res); got != want {
					t.Errorf("batches_total{result=%q} = %v, want %v", res, got, want)
				}
			}
			if got := counterValue(t, env.reg, "wardwatch_ingest_sightings_total", resultAccepted); got != tt.wantAccept {
				t.Errorf("sightings_total{accepted} = %v, want %v", got, tt.wantAccept)
			}
			if got := counterValue(t, env.reg, "wardwatch_ingest_sightings_total", resultRejected); got != tt.wantReject {
				t.Errorf("sightings_total{rejected} = %v, want %v", got, tt.wantReject)
			}
			logs := env.logs.String()
			if tt.wantLogWarn {
				if n := strings.Count(logs, "level=WARN"); n != 1 {
					t.Errorf("want exactly one warn line, got %d:\n%s", n, logs)
				}
				if !strings.Contains(logs, "gateway="+tt.gateway) {
					t.Errorf("warn line lacks the gateway key:\n%s", logs)
				}
			}
			if strings.Contains(logs, "ibeacon:") {
				t.Errorf("logs contain body content:\n%s", logs)
			}
		})
	}
}

// counterValue gathers reg and returns the value of the series
// name{result=result}, failing the test when it is not registered.
func counterValue(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "result" && lp.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("metric %s{result=%q} not registered", name, result)
	return 0
}

func TestPushHandlerPartialBatchReachesSink(t *testing.T) {
	env := newTestEnv(t, PushHandlerOptions{})
	body := batch(
		`{"ts":"2025-03-01T10:14:59Z","tag":"iBeacon:5B1E0A7C3D2F4E6A9C1B7A8D2E4F6C30:4:12","rssi":-61,"tx_power":-59}`,
		`{"ts":"2025-03-01T08:00:00Z","tag":"`+testTag+`","rssi":-62}`,
		`{"tag":"mac:C0:FF:EE:00:00:01","rssi":-63}`,
	)
	r := env.post(t, testGW.Key, goodToken, ctJSON, body)
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	var resp struct {
		Accepted int         `json:"accepted"`
		Rejected int         `json:"rejected"`
		Errors   []ItemError `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.raw), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Accepted != 2 || resp.Rejected != 1 || len(resp.Errors) != 1 || resp.Errors[0].Index != 1 || !strings.Contains(resp.Errors[0].Reason, "past") {
		t.Errorf("response %+v", resp)
	}
	want := []wardwatch.Sighting{
		{Time: testNow.Add(-time.Second), GatewayID: testGW.ID, TagID: testTag, RSSI: -61, TxPower: -59},
		{Time: testNow, GatewayID: testGW.ID, TagID: "mac:c0ffee000001", RSSI: -63},
	}
	got := env.sink.all()
	if len(got) != len(want) {
		t.Fatalf("sink got %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) || got[i].GatewayID != want[i].GatewayID || got[i].TagID != want[i].TagID ||
			got[i].RSSI != want[i].RSSI || got[i].TxPower != want[i].TxPower {
			t.Errorf("sighting %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestPushHandlerErrorListCapped(t *testing.T) {
	env := newTestEnv(t, PushHandlerOptions{})
	items := []string{item(-60)}
	for range 50 {
		items = append(items, item(99))
	}
	r := env.post(t, testGW.Key, goodToken, ctJSON, batch(items...))
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if got := r.body["rejected"]; got != float64(50) {
		t.Errorf("rejected = %v, want 50", got)
	}
	if errs, _ := r.body["errors"].([]any); len(errs) != maxErrorsInResponse {
		t.Errorf("%d errors listed, want %d", len(errs), maxErrorsInResponse)
	}
}

func TestPushHandlerSameAnswerForUnknownGatewayAndBadToken(t *testing.T) {
	env := newTestEnv(t, PushHandlerOptions{})
	a := env.post(t, "no-such-gateway", goodToken, ctJSON, batch(item(-60)))
	b := env.post(t, testGW.Key, goodToken+"x", ctJSON, batch(item(-60)))
	if a.status != http.StatusUnauthorized || b.status != http.StatusUnauthorized || a.raw != b.raw {
		t.Errorf("unknown gateway: %d %s; bad token: %d %s", a.status, a.raw, b.status, b.raw)
	}
}

func TestPushHandlerSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	h1 := NewPushHandler(&fakeGateways{}, &fakeSink{}, nil, reg, PushHandlerOptions{})
	h2 := NewPushHandler(&fakeGateways{}, &fakeSink{}, nil, reg, PushHandlerOptions{})
	for _, h := range []http.Handler{h1, h2} {
		req := httptest.NewRequest(http.MethodPost, "/ingest/v1/gateways/x/sightings", strings.NewReader("{}"))
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if n, err := testutil.GatherAndCount(reg, "wardwatch_ingest_batches_total"); err != nil || n != 7 {
		t.Fatalf("GatherAndCount = %d, %v; want 7 series", n, err)
	}
	got := counterValue(t, reg, "wardwatch_ingest_batches_total", resultUnauthorized)
	if got != 2 {
		t.Errorf("unauthorized = %v, want 2 (both handlers count on one registry)", got)
	}
}

func TestPushHandlerMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewPushHandler(&fakeGateways{}, &fakeSink{}, nil, reg, PushHandlerOptions{})
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric lint: %s: %s", p.Metric, p.Text)
	}
}
