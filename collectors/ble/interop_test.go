package ble_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/ble"
	"github.com/wardwatch/wardwatch/sim"
)

// The simulator encodes the batch format on its own; these tests check the
// two implementations agree.

type hospitalGateways map[string]wardwatch.Gateway

func (m hospitalGateways) GatewayByKey(_ context.Context, key string) (wardwatch.Gateway, error) {
	if g, ok := m[key]; ok {
		return g, nil
	}
	return wardwatch.Gateway{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "no gateway %q", key)
}

type countingSink struct {
	mu   sync.Mutex
	n    int
	tags map[string]bool
	bad  []wardwatch.Sighting
	full chan struct{}
	done bool
}

func (s *countingSink) Submit(_ context.Context, ss []wardwatch.Sighting) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range ss {
		s.n++
		s.tags[x.TagID] = true
		if x.GatewayID == 0 || x.TxPower != -59 {
			s.bad = append(s.bad, x)
		}
	}
	if s.n >= 2000 && !s.done {
		s.done = true
		close(s.full)
	}
	return nil
}

func TestSimulatorEncodingParses(t *testing.T) {
	h := sim.NewHospital()
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	s := sim.NewSimulation(h, 9, start)
	now := start.Add(5 * time.Second)
	for _, b := range s.Step(now) {
		for _, numeric := range []bool{false, true} {
			body, err := sim.EncodeBatch(b, numeric)
			if err != nil {
				t.Fatal(err)
			}
			got, errs, err := ble.ParseBatch(body, "application/json", wardwatch.Gateway{ID: 1}, now)
			if err != nil || len(errs) != 0 || len(got) != len(b.Sightings) {
				t.Fatalf("%s (numeric ts %v): %d of %d parsed, %v, %v", b.GatewayKey, numeric, len(got), len(b.Sightings), errs, err)
			}
			for i, r := range b.Sightings {
				g := got[i]
				if g.TagID != r.TagID || g.RSSI != r.RSSI || g.TxPower != r.TxPower || g.Time.Sub(r.Time).Abs() > time.Millisecond {
					t.Fatalf("%s item %d: parsed %+v from %+v", b.GatewayKey, i, g, r)
				}
			}
		}
	}
}

func TestPusherAgainstPushHandler(t *testing.T) {
	h := sim.NewHospital()
	tokens := h.Tokens()
	gws := hospitalGateways{}
	for i, key := range h.GatewayKeys() {
		sum := sha256.Sum256([]byte(tokens[key]))
		gws[key] = wardwatch.Gateway{ID: int64(i + 1), Key: key, TokenHash: sum[:]}
	}
	sink := &countingSink{tags: map[string]bool{}, full: make(chan struct{})}
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	mux.Handle("POST /ingest/v1/gateways/{gateway}/sightings", ble.NewPushHandler(gws, sink, nil, reg, ble.PushHandlerOptions{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	p := &sim.Pusher{BaseURL: srv.URL, Tokens: tokens, Client: srv.Client(), Interval: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, sim.NewSimulation(h, 1, time.Now().UTC().Add(-10*time.Second))) }()
	select {
	case <-sink.full:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			res := m.GetLabel()[0].GetValue()
			v := m.GetCounter().GetValue()
			if res != "accepted" && v != 0 {
				t.Errorf("%s{result=%q} = %v: the simulator's pushes must all be accepted", mf.GetName(), res, v)
			}
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.bad) > 0 {
		t.Errorf("sightings lost fields on the way: %+v", sink.bad[:1])
	}
	if len(sink.tags) < 30 {
		t.Errorf("only %d distinct tags arrived", len(sink.tags))
	}
}
