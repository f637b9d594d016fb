package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/replay"
	"github.com/wardwatch/wardwatch/sim"
	"github.com/wardwatch/wardwatch/sql"
)

// demoServer is `wardwatch demo` started through run, on a free loopback
// port, with its data in a temporary directory.
type demoServer struct {
	URL      string
	Password string
	dir      string
	stderr   *syncBuffer
	stop     func()
}

// syncBuffer is a bytes.Buffer safe for the server's and the test's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testEnv(dir string, extra map[string]string) func(string) string {
	env := map[string]string{
		"WARDWATCH_HTTP_ADDR":                "127.0.0.1:0",
		"WARDWATCH_DATABASE_DSN":             filepath.Join(dir, "wardwatch.db"),
		"WARDWATCH_TELEMETRY_PATH":           filepath.Join(dir, "telemetry.db"),
		"WARDWATCH_DATABASE_SECRET_KEY_FILE": filepath.Join(dir, "secret.key"),
		"WARDWATCH_DEMO_PUSH_INTERVAL":       "500ms",
		"WARDWATCH_LOG_LEVEL":                "warn",
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

var (
	urlLine      = regexp.MustCompile(`running at (http://\S+)`)
	passwordLine = regexp.MustCompile(`Sign in as admin with password: (\S+)`)
)

func startDemo(t *testing.T) *demoServer {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"wardwatch", "demo"}, testEnv(dir, nil), pw, stderr)
		pw.CloseWithError(fmt.Errorf("run returned: %v", err))
		done <- err
	}()
	d := &demoServer{dir: dir, stderr: stderr}
	d.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("run did not return after its context was cancelled")
		}
	}
	t.Cleanup(d.stop)

	lines := bufio.NewScanner(pr)
	for (d.URL == "" || d.Password == "") && lines.Scan() {
		if m := urlLine.FindStringSubmatch(lines.Text()); m != nil {
			d.URL = m[1]
		}
		if m := passwordLine.FindStringSubmatch(lines.Text()); m != nil {
			d.Password = m[1]
		}
	}
	if d.URL == "" || d.Password == "" {
		t.Fatalf("demo did not print its URL and password (%v); stderr:\n%s", lines.Err(), stderr.String())
	}
	go io.Copy(io.Discard, pr)
	return d
}

func TestDemoGeneratesAndKeepsAdminPassword(t *testing.T) {
	d := startDemo(t)
	data, err := os.ReadFile(filepath.Join(d.dir, "demo-admin.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(data)) != d.Password {
		t.Fatalf("credential file holds %q, console said %q", data, d.Password)
	}
	info, err := os.Stat(filepath.Join(d.dir, "demo-admin.txt"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credential file mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
	if len(d.Password) < 16 {
		t.Fatalf("generated password %q is too short", d.Password)
	}
}

// TestServerRejectsBadInput sends malformed gateway payloads and bad logins
// to the real server and checks each gets a clear 4xx while the server stays
// healthy.
func TestServerRejectsBadInput(t *testing.T) {
	d := startDemo(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ingest := d.URL + "/ingest/v1/gateways/f1-gw-01/sightings"
	post := func(target, contentType, auth string, body io.Reader) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, target, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// The demo's gateway tokens are not known to the test, so every push is
	// unauthorised; each must say so, whatever its body.
	for _, body := range []string{`{"sightings":[`, `[]`, `{"sightings":[{"tag":1,"rssi":"x"}]}`, strings.Repeat("A", 4<<20)} {
		resp, msg := post(ingest, "application/json", "Bearer not-a-token", strings.NewReader(body))
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("bad push: status %d (%s), want 401 or 413", resp.StatusCode, msg)
		}
	}
	resp, _ := post(ingest, "application/json", "", strings.NewReader(`{}`))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("push without token: status %d, want 401", resp.StatusCode)
	}

	login := func(user, pass string) *http.Response {
		form := url.Values{"username": {user}, "password": {pass}}
		resp, _ := post(d.URL+"/login", "application/x-www-form-urlencoded", "", strings.NewReader(form.Encode()))
		return resp
	}
	if resp := login("admin", "wrong password!"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", resp.StatusCode)
	}
	if resp := login(strings.Repeat("x", 10_000), "y"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("oversized username: status %d, want 400", resp.StatusCode)
	}
	var limited bool
	for range 10 {
		if login("nurse", "guess").StatusCode == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("repeated failed logins were never rate limited")
	}
	if resp := login("admin", d.Password); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("correct login after other users' failures: status %d, want 303", resp.StatusCode)
	}

	hresp, err := http.Get(d.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hresp.Body.Close()
	if hresp.StatusCode != http.StatusOK {
		t.Fatalf("server unhealthy after bad input: %d", hresp.StatusCode)
	}
	mresp, err := http.Get(d.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !bytes.Contains(metrics, []byte(`wardwatch_ingest_batches_total{result="unauthorized"}`)) {
		t.Errorf("unauthorised pushes were not counted in /metrics")
	}
	if !bytes.Contains(metrics, []byte(`wardwatch_tracker_sightings_accepted_total`)) {
		t.Errorf("/metrics lacks the tracker counters")
	}
}

func TestRunCommands(t *testing.T) {
	dir := t.TempDir()
	env := testEnv(dir, nil)
	var out, errOut bytes.Buffer
	ctx := context.Background()

	if err := run(ctx, []string{"wardwatch", "version"}, env, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "wardwatch ") {
		t.Errorf("version: %v %q", err, out.String())
	}
	if err := run(ctx, []string{"wardwatch", "frobnicate"}, env, &out, &errOut); !errors.Is(err, errUsage) {
		t.Errorf("unknown command: %v, want errUsage", err)
	}
	if err := run(ctx, []string{"wardwatch"}, env, &out, &errOut); !errors.Is(err, errUsage) {
		t.Errorf("no command: %v, want errUsage", err)
	}

	out.Reset()
	if err := run(ctx, []string{"wardwatch", "migrate"}, env, &out, &errOut); err != nil {
		t.Fatalf("migrate: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(out.String(), "schema is at version") {
		t.Errorf("migrate printed %q", out.String())
	}

	out.Reset()
	if err := run(ctx, []string{"wardwatch", "user", "add", "-username", "sam", "-role", "nurse"}, env, &out, &errOut); err != nil {
		t.Fatalf("user add: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(out.String(), `nurse user "sam" with password: `) {
		t.Errorf("user add printed %q", out.String())
	}
	if err := run(ctx, []string{"wardwatch", "user", "add", "-username", "sam"}, env, &out, &errOut); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate user add: %v", err)
	}
	if err := run(ctx, []string{"wardwatch", "user", "add", "-username", "kim", "-role", "surgeon"}, env, &out, &errOut); err == nil {
		t.Error("user add with an unknown role succeeded")
	}
	if err := run(ctx, []string{"wardwatch", "user", "add"}, env, &out, &errOut); !errors.Is(err, errUsage) {
		t.Errorf("user add without -username: %v, want errUsage", err)
	}
	bad := testEnv(dir, map[string]string{"WARDWATCH_DATABASE_DRIVER": "oracle"})
	if err := run(ctx, []string{"wardwatch", "serve"}, bad, &out, &errOut); err == nil || !strings.Contains(err.Error(), "database.driver") {
		t.Errorf("serve with a bad driver: %v", err)
	}
}

// TestRestartShowsLastKnownPositions: a restarted WardWatch shows each
// asset where it was last seen, before any gateway has reported again.
func TestRestartShowsLastKnownPositions(t *testing.T) {
	dir := t.TempDir()
	cfg, err := LoadConfig("", testEnv(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	logger := newLogger(cfg.Log, io.Discard)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := sim.NewHospital().Seed(ctx, store); err != nil {
		t.Fatal(err)
	}
	floors, _ := store.Floors(ctx)
	assets, _ := store.Assets(ctx)
	tel, err := sql.OpenTelemetry(ctx, cfg.Telemetry.Path)
	if err != nil {
		t.Fatal(err)
	}
	seen := wardwatch.Position{TagID: "ibeacon:x", AssetID: assets[0].ID, FloorID: floors[0].ID,
		At: wardwatch.Point{X: 3, Y: 4}, Confidence: 0.9, Solver: "centroid", Time: time.Now().UTC().Add(-time.Hour)}
	if err := tel.WritePositions(ctx, []wardwatch.Position{seen}); err != nil {
		t.Fatal(err)
	}
	tel.Close()

	a, err := newApp(ctx, cfg, store, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	snap := a.hub.Snapshot(floors[0].ID)
	if len(snap) != 1 || snap[0].AssetID != seen.AssetID || snap[0].At != seen.At {
		t.Fatalf("snapshot after restart = %+v, want the last known position %+v", snap, seen)
	}
}

// TestRecordSightings pushes a gateway batch to the real handler with
// recording on, and reads the recording back in the replay format.
func TestRecordSightings(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "recording")
	cfg, err := LoadConfig("", testEnv(dir, map[string]string{"WARDWATCH_INGEST_RECORD_DIR": rec}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logger := newLogger(cfg.Log, io.Discard)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	hospital := sim.NewHospital()
	if err := hospital.Seed(ctx, store); err != nil {
		t.Fatal(err)
	}
	tags, _ := store.Tags(ctx)
	a, err := newApp(ctx, cfg, store, logger)
	if err != nil {
		t.Fatal(err)
	}
	go a.runner.Run(ctx)

	now := time.Now().UTC()
	body := fmt.Sprintf(`{"sightings":[{"ts":%q,"tag":%q,"rssi":-67,"tx_power":-59},{"tag":%q,"rssi":-71},{"tag":"bogus","rssi":-50}]}`,
		now.Format(time.RFC3339Nano), tags[0].ID, tags[1].ID)
	req := httptest.NewRequest(http.MethodPost, "/ingest/v1/gateways/f1-gw-01/sightings", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+hospital.Tokens()["f1-gw-01"])
	w := httptest.NewRecorder()
	a.handler.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted {
		t.Fatalf("push: %d %s", w.Code, w.Body.String())
	}
	a.close()

	gf, err := os.Open(filepath.Join(rec, "gateways.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer gf.Close()
	gws, err := replay.ReadGateways(gf)
	if err != nil || len(gws) != 20 {
		t.Fatalf("recorded gateways: %d, %v; want the demo's 20", len(gws), err)
	}
	files, _ := filepath.Glob(filepath.Join(rec, "sightings-*.csv"))
	if len(files) != 1 {
		t.Fatalf("recordings: %v, want one", files)
	}
	sf, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	ss, err := replay.ReadSightings(sf)
	if err != nil {
		t.Fatalf("read recording: %v", err)
	}
	if len(ss) != 2 || ss[0].GatewayID != "f1-gw-01" || ss[0].TagID != tags[0].ID || ss[0].RSSI != -67 || ss[0].TxPower != -59 ||
		!ss[0].Time.Equal(now.Truncate(time.Microsecond)) || ss[1].TagID != tags[1].ID {
		t.Fatalf("recorded %+v; want the batch's two good sightings", ss)
	}
}
