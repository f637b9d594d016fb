package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/sim"
)

// startInfluxd runs a private InfluxDB 1.8 on loopback for the test (from
// $WARDWATCH_TEST_INFLUXD; skipped without it, failed in CI) with a
// database "wardwatch", and returns its URL.
func startInfluxd(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("WARDWATCH_TEST_INFLUXD")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("WARDWATCH_TEST_INFLUXD is not set: run scripts/ensure-influxdb.sh (make test does)")
		}
		t.Skip("WARDWATCH_TEST_INFLUXD is not set: run scripts/ensure-influxdb.sh")
	}
	port := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	dir := t.TempDir()
	httpPort, rpcPort := port(), port()
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%d"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[logging]
  level = "warn"
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
	confPath := filepath.Join(dir, "influxd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", confPath)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(base + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("influxd did not come up")
		}
	}
	resp, err := http.PostForm(base+"/query", url.Values{"q": {"CREATE DATABASE wardwatch"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return base
}

// TestServiceOnInfluxDB runs the service with telemetry.driver influx
// against a real InfluxDB 1.8 (compatibility mode): positions and pump
// states reach it, the system page shows it reachable, and a restarted
// service shows the last known positions it reads back from InfluxDB.
func TestServiceOnInfluxDB(t *testing.T) {
	influxURL := startInfluxd(t)
	dir := t.TempDir()
	env := testEnv(dir, map[string]string{
		"WARDWATCH_TELEMETRY_DRIVER":           "influx",
		"WARDWATCH_TELEMETRY_INFLUX_URL":       influxURL,
		"WARDWATCH_TELEMETRY_INFLUX_BUCKET":    "wardwatch/autogen",
		"WARDWATCH_TELEMETRY_INFLUX_SPOOL_DIR": filepath.Join(dir, "spool"),
	})
	cfg, err := LoadConfig("", env)
	if err != nil {
		t.Fatal(err)
	}
	logger := newLogger(cfg.Log, io.Discard)
	ctx := context.Background()
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := sim.NewHospital()
	if err := h.Seed(ctx, store); err != nil {
		t.Fatal(err)
	}

	runApp := func(work func(a *app, base string)) {
		runCtx, cancel := context.WithCancel(ctx)
		a, err := newApp(runCtx, cfg, store, logger)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.serve(runCtx, ln) }()
		work(a, "http://"+ln.Addr().String())
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.close()
	}

	tags, _ := store.Tags(ctx)
	tag := tags[0]
	runApp(func(a *app, base string) {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			for i, gw := range []string{"f1-gw-01", "f1-gw-02", "f1-gw-03"} {
				req, _ := http.NewRequest(http.MethodPost, base+"/ingest/v1/gateways/"+gw+"/sightings",
					strings.NewReader(fmt.Sprintf(`{"sightings":[{"tag":%q,"rssi":%d}]}`, tag.ID, -60-3*i)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+h.Tokens()[gw])
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
			if err := a.influx.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			ps, err := a.telemetry.Positions(ctx, wardwatch.PositionQuery{AssetID: tag.AssetID, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no position of the pushed tag reached InfluxDB")
			}
		}
		checks := a.systemChecks(time.Now())
		if !checks[0].OK || !strings.Contains(checks[0].Detail, "InfluxDB reachable") {
			t.Errorf("system check of the telemetry store = %+v", checks[0])
		}
	})
	// A restarted service reads the last known positions back.
	runApp(func(a *app, base string) {
		found := false
		for _, f := range []int64{1, 2} {
			for _, p := range a.hub.Snapshot(f) {
				found = found || p.AssetID == tag.AssetID
			}
		}
		if !found {
			t.Error("after a restart the last known position did not come back from InfluxDB")
		}
	})
}
