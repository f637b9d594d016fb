package ble

import (
	"sync"
	"testing"
	"time"
)

// healthRecorder is a HealthRecorder that records every call.
type healthRecorder struct {
	mu    sync.Mutex
	calls []healthCall
}

type healthCall struct {
	gateway                      int64
	accepted, malformed, dropped int
}

func (h *healthRecorder) GatewayMessage(id int64, _ time.Time, accepted, malformed, dropped int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, healthCall{id, accepted, malformed, dropped})
}

func (h *healthRecorder) take() []healthCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	h.calls = nil
	return c
}

func TestPushHandlerRecordsHealth(t *testing.T) {
	rec := &healthRecorder{}
	env := newTestEnv(t, PushHandlerOptions{Health: rec, MaxBodyBytes: 4096})
	cases := []struct {
		name   string
		token  string
		ctype  string
		body   string
		status int
		want   []healthCall
	}{
		{"good batch", goodToken, "application/json", batch(item(-60), item(-61)), 202, []healthCall{{testGW.ID, 2, 0, 0}}},
		{"partly bad", goodToken, "application/json", batch(item(-60), item(`"loud"`)), 202, []healthCall{{testGW.ID, 1, 1, 0}}},
		{"malformed body", goodToken, "application/json", `{"sightings":[`, 400, []healthCall{{testGW.ID, 0, 1, 0}}},
		{"too large", goodToken, "application/json", batch(item(-60)) + string(make([]byte, 5000)), 413, []healthCall{{testGW.ID, 0, 1, 0}}},
		{"bad token: not the gateway's traffic", "wrong", "application/json", batch(item(-60)), 401, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := env.post(t, testGW.Key, c.token, c.ctype, c.body)
			if resp.status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.status, c.status, resp.raw)
			}
			got := rec.take()
			if len(got) != len(c.want) {
				t.Fatalf("health calls %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("health call %+v, want %+v", got[i], c.want[i])
				}
			}
		})
	}
}

func TestRouterRecordsHealth(t *testing.T) {
	rec := &healthRecorder{}
	env := newRouterEnv(t, RouterOptions{Health: rec})
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	if _, err := env.handle(t, FormatESPresense, espTopic, espMsg(espPumpID, -70), now); err != nil {
		t.Fatal(err)
	}
	// An unknown room: nobody's health.
	if _, err := env.handle(t, FormatESPresense, "espresense/devices/"+espPumpID+"/nowhere", espMsg(espPumpID, -70), now); err != nil {
		t.Fatal(err)
	}
	got := rec.take()
	if len(got) != 1 || got[0] != (healthCall{gwBay2.ID, 1, 0, 0}) {
		t.Fatalf("health calls %+v, want one for gateway %d with 1 sighting", got, gwBay2.ID)
	}
}
