package rfid

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
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

const testToken = "s3cret-token"

// readerMap is a ReaderLookup over a map; err, when set, is returned for
// every lookup.
type readerMap struct {
	mu      sync.Mutex
	readers map[string]Reader
	err     error
	lookups int
}

func (m *readerMap) ReaderByKey(_ context.Context, key string) (Reader, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	if m.err != nil {
		return Reader{}, m.err
	}
	r, ok := m.readers[key]
	if !ok {
		return Reader{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "no reader %q", key)
	}
	return r, nil
}

// readSink records submitted reads; err, when set, is returned instead.
type readSink struct {
	mu    sync.Mutex
	reads []Read
	err   error
}

func (s *readSink) SubmitReads(_ context.Context, reads []Read) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.reads = append(s.reads, reads...)
	return nil
}

func (s *readSink) taken() []Read {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Read(nil), s.reads...)
}

func tokenHash(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

type pushEnv struct {
	srv     *httptest.Server
	readers *readerMap
	sink    *readSink
	reg     *prometheus.Registry
}

// newPushEnv serves the push handler on a real loopback server, mounted
// on the route the web layer uses.
func newPushEnv(t *testing.T, maxBody int64) *pushEnv {
	t.Helper()
	env := &pushEnv{
		readers: &readerMap{readers: map[string]Reader{
			"dock-1":   {Key: "dock-1", TokenHash: tokenHash(testToken), Antennas: map[int]Antenna{1: {GatewayID: 11, ZoneID: 101}}},
			"zebra-fx": {Key: "zebra-fx", TokenHash: tokenHash(testToken), Format: FormatZebra},
			"no-token": {Key: "no-token"},
		}},
		sink: &readSink{},
		reg:  prometheus.NewRegistry(),
	}
	mux := http.NewServeMux()
	mux.Handle("POST /ingest/v1/readers/{reader}/reads", NewPushHandler(PushOptions{
		Readers:      env.readers,
		Sink:         env.sink,
		Registerer:   env.reg,
		MaxBodyBytes: maxBody,
		Now:          func() time.Time { return testNow },
	}))
	env.srv = httptest.NewServer(mux)
	t.Cleanup(env.srv.Close)
	return env
}

type pushReply struct {
	status int
	header http.Header
	body   pushResponse
	raw    string
}

func (env *pushEnv) push(t *testing.T, reader, query, token, contentType string, hdr map[string]string, body string) pushReply {
	t.Helper()
	url := env.srv.URL + "/ingest/v1/readers/" + reader + "/reads" + query
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := env.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	rep := pushReply{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("answer content type %q (%s)", ct, b)
	}
	if err := json.Unmarshal(b, &rep.body); err != nil {
		t.Fatalf("answer %q is not JSON: %v", b, err)
	}
	return rep
}

const (
	ctJSON   = "application/json"
	ctNDJSON = "application/x-ndjson"
)

func TestPushFormats(t *testing.T) {
	env := newPushEnv(t, 0)
	zebra := `{"data":{"idHex":"` + strings.ToLower(epcA) + `","antenna":1,"peakRssi":-55},"timestamp":"2026-03-01T10:15:02.250+0000","type":"SIMPLE"}`
	impinj := `{"timestamp":"2026-03-01T10:15:02.250Z","eventType":"tagInventory","tagInventoryEvent":{"epc":"` + epcAB64 + `","antennaPort":1,"peakRssiCdbm":-5600}}`
	tests := []struct {
		name, reader, query, ct, body string
		format                        Format
	}{
		{"wardwatch, detected", "dock-1", "", ctJSON, `{"reads":[{"epc":"` + epcA + `","antenna":1,"rssi":-55,"time":"2026-03-01T10:15:02.25Z"}]}`, FormatWardWatch},
		{"zebra by query", "dock-1", "?format=zebra", ctJSON, zebra, FormatZebra},
		{"zebra, the reader's format", "zebra-fx", "", ctJSON, zebra, FormatZebra},
		{"impinj by content type", "dock-1", "", "application/x-ndjson; format=impinj", impinj + "\n", FormatImpinj},
		{"impinj, detected, ndjson", "dock-1", "", "application/ndjson", impinj + "\n" + `{"eventType":"inventoryStatus"}` + "\n", FormatImpinj},
	}
	for _, tt := range tests {
		env.sink.reads = nil
		rep := env.push(t, tt.reader, tt.query, testToken, tt.ct, nil, tt.body)
		if rep.status != http.StatusAccepted || rep.body.Format != tt.format || rep.body.Accepted != 1 || rep.body.Rejected != 0 {
			t.Errorf("%s: %d %s", tt.name, rep.status, rep.raw)
			continue
		}
		got := env.sink.taken()
		want := Read{Reader: tt.reader, Antenna: 1, EPC: epcA, RSSI: -55, Time: at("2026-03-01T10:15:02.25Z")}
		if tt.format == FormatImpinj {
			want.RSSI = -56
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: sink got %+v, want %+v", tt.name, got, want)
		}
	}
	// One ignored Impinj event was counted.
	if n := testutil.ToFloat64(mustVec(t, env.reg, "wardwatch_rfid_ignored_items_total", "impinj", "push")); n != 1 {
		t.Errorf("ignored items %v, want 1", n)
	}
	if n := testutil.ToFloat64(mustVec(t, env.reg, "wardwatch_rfid_reads_total", "zebra", "push")); n != 2 {
		t.Errorf("zebra reads %v, want 2", n)
	}
}

// mustVec finds a counter of a gathered family by label values.
func mustVec(t *testing.T, reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	t.Helper()
	return &gathered{t: t, reg: reg, name: name, labels: labels}
}

// gathered adapts one gathered sample to testutil.ToFloat64.
type gathered struct {
	t      *testing.T
	reg    *prometheus.Registry
	name   string
	labels []string
}

func (g *gathered) Describe(chan<- *prometheus.Desc) {}

func (g *gathered) Collect(ch chan<- prometheus.Metric) {
	mfs, err := g.reg.Gather()
	if err != nil {
		g.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != g.name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(g.labels) {
				continue
			}
			match := true
			for i, l := range m.GetLabel() {
				if l.GetValue() != g.labels[i] {
					match = false
				}
			}
			if match {
				var v float64
				switch {
				case m.GetCounter() != nil:
					v = m.GetCounter().GetValue()
				case m.GetGauge() != nil:
					v = m.GetGauge().GetValue()
				}
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(g.name, "", nil, nil), prometheus.UntypedValue, v)
				return
			}
		}
	}
	g.t.Fatalf("no %s%v gathered", g.name, g.labels)
}

func TestPushPartialAndRejected(t *testing.T) {
	env := newPushEnv(t, 0)
	var b strings.Builder
	b.WriteString(`{"reads":[`)
	for i := range 30 { // 30 bad items, 1 good
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"epc":"` + epcA + `"}`)
	}
	b.WriteString(`,{"epc":"` + epcA + `","antenna":1}]}`)
	rep := env.push(t, "dock-1", "", testToken, ctJSON, nil, b.String())
	if rep.status != http.StatusAccepted || rep.body.Accepted != 1 || rep.body.Rejected != 30 || len(rep.body.Errors) != maxErrorsInResponse {
		t.Fatalf("partial batch: %d %s", rep.status, rep.raw)
	}
	if rep.body.Errors[0] != (ItemError{0, "antenna: missing"}) {
		t.Fatalf("first error %+v", rep.body.Errors[0])
	}

	rep = env.push(t, "dock-1", "", testToken, ctNDJSON, nil, "{\"epc\":\"AB\",\"antenna\":1}\n{\"epc\":\""+epcA+"\",\"antenna\":-1}\n")
	if rep.status != http.StatusBadRequest || rep.body.Error != "no usable reads in the body" || rep.body.Rejected != 2 || len(rep.body.Errors) != 2 {
		t.Fatalf("nothing usable: %d %s", rep.status, rep.raw)
	}
	if n := testutil.ToFloat64(mustVec(t, env.reg, "wardwatch_rfid_malformed_items_total", "wardwatch", "push")); n != 32 {
		t.Fatalf("malformed items %v, want 32", n)
	}
	if len(env.sink.taken()) != 1 {
		t.Fatalf("sink got %d reads, want 1", len(env.sink.taken()))
	}

	// Empty body and only-ignored events: nothing to do, 202.
	for _, body := range []string{"", `{"type":"HEARTBEAT"}`} {
		rep = env.push(t, "zebra-fx", "", testToken, ctJSON, nil, body)
		if rep.status != http.StatusAccepted || rep.body.Accepted != 0 {
			t.Fatalf("%q: %d %s", body, rep.status, rep.raw)
		}
	}
}

func TestPushErrors(t *testing.T) {
	env := newPushEnv(t, 256)
	good := `{"reads":[{"epc":"` + epcA + `","antenna":1}]}`
	tests := []struct {
		name, reader, query, token, ct string
		hdr                            map[string]string
		body                           string
		status                         int
		result                         string
	}{
		{"no token", "dock-1", "", "", ctJSON, nil, good, 401, resultUnauthorized},
		{"wrong token", "dock-1", "", "nope", ctJSON, nil, good, 401, resultUnauthorized},
		{"unknown reader", "dock-9", "", testToken, ctJSON, nil, good, 401, resultUnauthorized},
		{"reader without a token", "no-token", "", testToken, ctJSON, nil, good, 401, resultUnauthorized},
		{"basic auth", "dock-1", "", "", ctJSON, map[string]string{"Authorization": "Basic eDp5"}, good, 401, resultUnauthorized},
		{"text/plain", "dock-1", "", testToken, "text/plain", nil, good, 415, resultUnsupported},
		{"no content type", "dock-1", "", testToken, "", nil, good, 415, resultUnsupported},
		{"gzip", "dock-1", "", testToken, ctJSON, map[string]string{"Content-Encoding": "gzip"}, good, 415, resultUnsupported},
		{"unknown format", "dock-1", "?format=acme", testToken, ctJSON, nil, good, 400, resultRejected},
		{"unknown format in the content type", "dock-1", "", testToken, "application/json; format=acme", nil, good, 400, resultRejected},
		{"too large", "dock-1", "", testToken, ctJSON, nil, `{"reads":[` + strings.Repeat(" ", 300) + `]}`, 413, resultTooLarge},
		{"not JSON", "dock-1", "?format=wardwatch", testToken, ctJSON, nil, "<xml/>", 400, resultRejected},
		{"undetectable", "dock-1", "", testToken, ctJSON, nil, `{"hello":"world"}`, 400, resultRejected},
		{"wrong type", "dock-1", "?format=impinj", testToken, ctJSON, nil, `[1,2,3]`, 400, resultRejected},
	}
	for _, tt := range tests {
		before := testutil.ToFloat64(mustVec(t, env.reg, "wardwatch_rfid_push_requests_total", tt.result))
		rep := env.push(t, tt.reader, tt.query, tt.token, tt.ct, tt.hdr, tt.body)
		if rep.status != tt.status || rep.body.Error == "" {
			t.Errorf("%s: %d %s, want %d with an error", tt.name, rep.status, rep.raw, tt.status)
		}
		if tt.status == 401 {
			if rep.body.Error != msgUnauthorized || rep.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 answer %s / %q", tt.name, rep.raw, rep.header.Get("WWW-Authenticate"))
			}
		}
		if after := testutil.ToFloat64(mustVec(t, env.reg, "wardwatch_rfid_push_requests_total", tt.result)); after != before+1 {
			t.Errorf("%s: %s counted %v → %v", tt.name, tt.result, before, after)
		}
	}
	if n := len(env.sink.taken()); n != 0 {
		t.Fatalf("sink got %d reads from rejected requests", n)
	}
}

func TestPushUnavailable(t *testing.T) {
	env := newPushEnv(t, 0)
	good := `{"reads":[{"epc":"` + epcA + `","antenna":1}]}`

	env.sink.err = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "queue full")
	rep := env.push(t, "dock-1", "", testToken, ctJSON, nil, good)
	if rep.status != http.StatusServiceUnavailable || rep.header.Get("Retry-After") == "" {
		t.Fatalf("sink unavailable: %d %s", rep.status, rep.raw)
	}
	env.sink.err = errors.New("disk on fire")
	rep = env.push(t, "dock-1", "", testToken, ctJSON, nil, good)
	if rep.status != http.StatusInternalServerError || rep.body.Error != "Internal error." {
		t.Fatalf("sink error: %d %s", rep.status, rep.raw)
	}
	env.sink.err = nil

	env.readers.err = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "db down")
	rep = env.push(t, "dock-1", "", testToken, ctJSON, nil, good)
	if rep.status != http.StatusServiceUnavailable {
		t.Fatalf("lookup unavailable: %d %s", rep.status, rep.raw)
	}
	env.readers.err = errors.New("boom")
	rep = env.push(t, "dock-1", "", testToken, ctJSON, nil, good)
	if rep.status != http.StatusInternalServerError || strings.Contains(rep.raw, "boom") {
		t.Fatalf("lookup error: %d %s", rep.status, rep.raw)
	}
}

func TestPushMethodAndConfig(t *testing.T) {
	h := NewPushHandler(PushOptions{Readers: &readerMap{}, Sink: &readSink{}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ingest/v1/readers/x/reads", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost {
		t.Fatalf("GET: %d %v", rec.Code, rec.Header())
	}
	h = NewPushHandler(PushOptions{})
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/ingest/v1/readers/x/reads", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("unconfigured handler: %d", rec.Code)
	}
}

// TestPushMetricsLint: two handlers on one registry share their metrics,
// and the metrics pass the linter.
func TestPushMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewPushHandler(PushOptions{Registerer: reg})
	NewPushHandler(PushOptions{Registerer: reg})
	NewPollHandler(PollOptions{Registerer: reg})
	if _, err := NewRouter(RouterOptions{Readers: &readerMap{}, Sightings: &sightingSink{}, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
}

func TestPollHandler(t *testing.T) {
	sink := &readSink{}
	reg := prometheus.NewRegistry()
	h := NewPollHandler(PollOptions{Sink: sink, Registerer: reg, Now: func() time.Time { return testNow }})
	ctx := context.Background()
	zebra := `[{"data":{"idHex":"` + epcA + `","antenna":1},"type":"SIMPLE"},{"data":{"antenna":1}}]`
	if err := h(ctx, "dock-1", "zebra", []byte(zebra), ctJSON); err != nil {
		t.Fatalf("partly good body: %v", err)
	}
	if got := sink.taken(); len(got) != 1 || got[0].Reader != "dock-1" {
		t.Fatalf("sink got %+v", got)
	}
	if err := h(ctx, "dock-1", "", []byte(`{"epc":"`+epcA+`","antenna":1}`), "application/json"); err != nil {
		t.Fatalf("detected body: %v", err)
	}
	if err := h(ctx, "dock-1", "", []byte(`{"tagInventoryEvent":{"epcHex":"`+epcA+`","antennaPort":1}}`), "application/json; format=impinj"); err != nil {
		t.Fatalf("format from the content type: %v", err)
	}
	for name, call := range map[string]func() error{
		"unknown format": func() error { return h(ctx, "dock-1", "acme", []byte(`{}`), ctJSON) },
		"not JSON":       func() error { return h(ctx, "dock-1", "zebra", []byte(`<html>`), "text/html") },
		"nothing usable": func() error { return h(ctx, "dock-1", "zebra", []byte(`{"data":{"antenna":1}}`), ctJSON) },
		"no reader key":  func() error { return h(ctx, "", "zebra", []byte(zebra), ctJSON) },
	} {
		if err := call(); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	sink.err = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "full")
	if err := h(ctx, "dock-1", "zebra", []byte(zebra), ctJSON); wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE {
		t.Fatalf("sink unavailable: %v", err)
	}
	if n := testutil.ToFloat64(mustVec(t, reg, "wardwatch_rfid_reads_total", "zebra", "poll")); n != 1 {
		t.Fatalf("polled zebra reads %v, want 1", n)
	}
}
