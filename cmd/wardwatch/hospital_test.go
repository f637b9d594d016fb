package main

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/wardwatch/wardwatch/sim"
	"github.com/wardwatch/wardwatch/sql"
)

// hospitalRun is the service serving the simulated hospital's layout (no
// simulator pushing: the test sends what it wants), on a fresh SQLite
// store in a temporary directory.
type hospitalRun struct {
	cfg      Config
	store    *sql.Store
	hospital *sim.Hospital
	app      *app
	base     string // http://127.0.0.1:port
}

// startHospital seeds a fresh store with the demo hospital and serves it
// with the test environment plus extra variables; everything stops when
// the test ends.
func startHospital(t *testing.T, extra map[string]string) *hospitalRun {
	t.Helper()
	cfg, err := LoadConfig("", testEnv(t.TempDir(), extra))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logger := newLogger(cfg.Log, io.Discard)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	h := &hospitalRun{cfg: cfg, store: store, hospital: sim.NewHospital()}
	if err := h.hospital.Seed(ctx, store); err != nil {
		cancel()
		store.Close()
		t.Fatal(err)
	}
	if h.app, err = newApp(ctx, cfg, store, logger); err != nil {
		cancel()
		store.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	h.base = "http://" + ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- h.app.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		h.app.close()
		store.Close()
	})
	return h
}
