package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEncodeBatch(t *testing.T) {
	b := Batch{GatewayKey: "f1-gw-01", Sightings: []Reading{
		{Time: time.Date(2025, 3, 1, 10, 0, 0, 250e6, time.UTC), TagID: "ibeacon:" + HospitalUUID + ":4:1", RSSI: -67, TxPower: -59},
		{Time: time.Date(2025, 3, 1, 11, 0, 1, 5e6, time.FixedZone("CET", 3600)), TagID: "ibeacon:" + HospitalUUID + ":4:2", RSSI: -80, TxPower: -59},
	}}
	got, err := EncodeBatch(b, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"sightings":[{"ts":"2025-03-01T10:00:00.25Z","tag":"ibeacon:` + HospitalUUID + `:4:1","rssi":-67,"tx_power":-59},` +
		`{"ts":"2025-03-01T10:00:01.005Z","tag":"ibeacon:` + HospitalUUID + `:4:2","rssi":-80,"tx_power":-59}]}`
	if string(got) != want {
		t.Errorf("EncodeBatch =\n%s\nwant\n%s", got, want)
	}
	got, err = EncodeBatch(b, true)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"sightings":[{"ts":1740823200.250,"tag":"ibeacon:` + HospitalUUID + `:4:1","rssi":-67,"tx_power":-59},` +
		`{"ts":1740823201.005,"tag":"ibeacon:` + HospitalUUID + `:4:2","rssi":-80,"tx_power":-59}]}`
	if string(got) != want {
		t.Errorf("EncodeBatch numeric =\n%s\nwant\n%s", got, want)
	}
	if got, _ := EncodeBatch(Batch{GatewayKey: "x"}, false); string(got) != `{"sightings":[]}` {
		t.Errorf("empty batch encodes as %s", got)
	}
}

// ingestServer is a stand-in WardWatch: it checks every push against the
// wire format and records what it got.
type ingestServer struct {
	t      *testing.T
	tokens map[string]string

	mu       sync.Mutex
	batches  map[string]int // gateway key -> batches received
	items    int
	numeric  bool // saw a numeric ts
	str      bool // saw a string ts
	failures int  // answer 500 to this many pushes first
	enough   chan struct{}
	closed   bool
}

func (s *ingestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := s.t
	key := r.PathValue("gateway")
	if got, want := r.Header.Get("Authorization"), "Bearer "+s.tokens[key]; got != want || s.tokens[key] == "" {
		t.Errorf("push for %s with Authorization %q, want %q", key, got, want)
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var body struct {
		Sightings []struct {
			TS      json.RawMessage `json:"ts"`
			Tag     string          `json:"tag"`
			RSSI    json.Number     `json:"rssi"`
			TxPower json.Number     `json:"tx_power"`
		} `json:"sightings"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Errorf("push for %s: body is not the batch format: %v", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range body.Sightings {
		if !strings.HasPrefix(it.Tag, "ibeacon:"+HospitalUUID+":") {
			t.Errorf("tag %q", it.Tag)
		}
		if rssi, err := it.RSSI.Int64(); err != nil || rssi < -130 || rssi > 0 {
			t.Errorf("rssi %q is not an integer dBm", it.RSSI)
		}
		if it.TxPower.String() != "-59" {
			t.Errorf("tx_power %q", it.TxPower)
		}
		var ts time.Time
		var str string
		if err := json.Unmarshal(it.TS, &str); err == nil {
			s.str = true
			var perr error
			if ts, perr = time.Parse(time.RFC3339Nano, str); perr != nil {
				t.Errorf("ts %q is not RFC 3339", str)
			}
		} else if f, err := strconv.ParseFloat(string(it.TS), 64); err == nil {
			s.numeric = true
			ts = time.UnixMilli(int64(f * 1000))
		} else {
			t.Errorf("ts %s is neither a string nor a number", it.TS)
		}
		if d := time.Since(ts); d < -time.Minute || d > time.Minute {
			t.Errorf("ts %v is not about now", ts)
		}
	}
	if s.failures > 0 {
		s.failures--
		http.Error(w, `{"error":"Internal error."}`, http.StatusInternalServerError)
		return
	}
	s.items += len(body.Sightings)
	s.batches[key]++
	if len(s.batches) >= 10 && s.numeric && s.str && !s.closed {
		s.closed = true
		close(s.enough)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"accepted":1,"rejected":0,"errors":[]}`))
}

func TestPusher(t *testing.T) {
	h := NewHospital()
	tokens := h.Tokens()
	// One gateway has no token: the pusher must skip it, not push blind.
	delete(tokens, "f2-gw-10")
	srv := &ingestServer{t: t, tokens: tokens, batches: map[string]int{}, enough: make(chan struct{}), failures: 5}
	mux := http.NewServeMux()
	mux.Handle("POST /ingest/v1/gateways/{gateway}/sightings", srv)
	ts := httptest.NewServer(mux)
	defer ts.Close()

	var logs bytes.Buffer
	var logMu sync.Mutex
	p := &Pusher{
		BaseURL:  ts.URL + "/",
		Tokens:   tokens,
		Client:   ts.Client(),
		Interval: 20 * time.Millisecond,
		Logger:   slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logs.Write(b) }), nil)),
	}
	sim := NewSimulation(h, 1, time.Now().UTC().Add(-2*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, sim) }()
	select {
	case <-srv.enough:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}

	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.batches["f2-gw-10"] != 0 {
		t.Error("pushed for a gateway without a token")
	}
	if srv.items == 0 {
		t.Error("no sightings received")
	}
	logMu.Lock()
	defer logMu.Unlock()
	// Five failures in a burst log one line: the rest are rate-limited.
	if n := strings.Count(logs.String(), "sim: push failed"); n != 1 {
		t.Errorf("%d failure log lines, want 1 (rate-limited):\n%s", n, logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestPusherConfigErrors(t *testing.T) {
	h := NewHospital()
	sim := NewSimulation(h, 1, time.Now())
	for _, base := range []string{"", "127.0.0.1:8080", "ftp://x", "http://"} {
		if err := (&Pusher{BaseURL: base}).Run(context.Background(), sim); err == nil {
			t.Errorf("Run with BaseURL %q succeeded", base)
		}
	}
	if err := (&Pusher{BaseURL: "http://127.0.0.1:1"}).Run(context.Background(), nil); err == nil {
		t.Error("Run without a simulation succeeded")
	}
}
