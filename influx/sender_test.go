package influx

import (
	"bufio"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
)

// These tests drive the sender against an HTTP server that answers the way
// InfluxDB (or something in front of it) does under faults a real server
// cannot be made to produce on demand. The behaviour against a real
// InfluxDB is in store_test.go.

// writeServer is an /api/v2/write endpoint. answer decides the response
// to each request (given its lines); accepted lines are recorded.
type writeServer struct {
	*httptest.Server
	mu       sync.Mutex
	accepted []string
	requests int
	answer   func(n int, lines []string) (status int, header http.Header, body string)
}

func newWriteServer(t *testing.T, answer func(n int, lines []string) (int, http.Header, string)) *writeServer {
	ws := &writeServer{answer: answer}
	ws.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(http.StatusOK)
			return
		}
		if r.URL.Path != "/api/v2/write" || r.URL.Query().Get("precision") != "ms" {
			http.Error(w, "unexpected request "+r.URL.String(), http.StatusTeapot)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		var lines []string
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		ws.mu.Lock()
		ws.requests++
		n := ws.requests
		ws.mu.Unlock()
		status, header, msg := ws.answer(n, lines)
		for k, vs := range header {
			w.Header()[k] = vs
		}
		if status/100 == 2 {
			ws.mu.Lock()
			ws.accepted = append(ws.accepted, lines...)
			ws.mu.Unlock()
		}
		w.WriteHeader(status)
		io.WriteString(w, msg)
	}))
	t.Cleanup(ws.Close)
	return ws
}

func (ws *writeServer) lines() []string {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return slices.Clone(ws.accepted)
}

func fakeConfig(t *testing.T, url string) Config {
	return Config{
		URL: url, Bucket: "db/rp", SpoolDir: filepath.Join(t.TempDir(), "spool"),
		FlushInterval: 5 * time.Millisecond, MinRetryInterval: time.Millisecond, MaxRetryInterval: 5 * time.Millisecond,
	}
}

func openFake(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	runStore(t, s)
	return s
}

var influxHeader = http.Header{"X-Influxdb-Version": {"1.8.10"}}

// wantLines are the lines of rs as the store writes them, without newlines.
func wantLines(rs []wardwatch.Reading) []string {
	var ls []string
	for _, r := range rs {
		ls = append(ls, strings.TrimSuffix(string(appendReading(nil, r)), "\n"))
	}
	return ls
}

func flushWithin(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func TestSendSplitsRefusedBatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
	}{
		{"InfluxDB 1.8", influxHeader, `{"error":"partial write: field type conflict dropped=1"}`},
		{"InfluxDB 2.x", nil, `{"code":"invalid","message":"unable to parse 'x': bad timestamp"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWriteServer(t, func(_ int, lines []string) (int, http.Header, string) {
				for _, l := range lines {
					if strings.Contains(l, "sensor=bad") {
						return http.StatusBadRequest, tc.header, tc.body
					}
				}
				return http.StatusNoContent, nil, ""
			})
			s := openFake(t, fakeConfig(t, ws.URL))
			rs := readingsFrom("ok", lpTime, 0, 64)
			for _, i := range []int{5, 6, 40} {
				rs[i].SensorID = "bad"
			}
			if err := s.WriteReadings(t.Context(), rs); err != nil {
				t.Fatal(err)
			}
			flushWithin(t, s)
			var want []string
			for _, l := range wantLines(rs) {
				if !strings.Contains(l, "sensor=bad") {
					want = append(want, l)
				}
			}
			got := ws.lines()
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("accepted %d lines, want the %d good ones", len(got), len(want))
			}
			if n := testutil.ToFloat64(s.m.rejected.WithLabelValues(rejectRefused)); n != 3 {
				t.Fatalf("refused = %v, want 3", n)
			}
			if n := testutil.ToFloat64(s.m.written); n != 61 {
				t.Fatalf("written = %v, want 61", n)
			}
		})
	}
}

// TestSendRetriesWithoutDropping answers with failures that are not the
// data's fault: the points stay in the spool and are sent once the server
// accepts them.
func TestSendRetriesWithoutDropping(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
	}{
		{"unavailable", http.StatusServiceUnavailable, http.Header{"Retry-After": {"0"}}, "overloaded"},
		{"too many requests", http.StatusTooManyRequests, nil, ""},
		{"server error", http.StatusInternalServerError, influxHeader, `{"error":"timeout"}`},
		{"unauthorized", http.StatusUnauthorized, influxHeader, `{"error":"authorization failed"}`},
		{"database not found", http.StatusNotFound, influxHeader, `{"error":"database not found: \"db\""}`},
		{"a proxy's 400", http.StatusBadRequest, nil, "<html>Bad Request</html>"},
		{"a proxy's 413", http.StatusRequestEntityTooLarge, nil, "too big"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWriteServer(t, func(n int, _ []string) (int, http.Header, string) {
				if n <= 5 {
					return tc.status, tc.header, tc.body
				}
				return http.StatusNoContent, nil, ""
			})
			s := openFake(t, fakeConfig(t, ws.URL))
			rs := readingsFrom("r", lpTime, 0, 10)
			if err := s.WriteReadings(t.Context(), rs); err != nil {
				t.Fatal(err)
			}
			flushWithin(t, s)
			if got := ws.lines(); !slices.Equal(got, wantLines(rs)) {
				t.Fatalf("accepted %q\nwant %q", got, wantLines(rs))
			}
			if n := testutil.ToFloat64(s.m.retries); n != 5 {
				t.Errorf("retries = %v, want 5", n)
			}
			if n := testutil.ToFloat64(s.m.rejected.WithLabelValues(rejectRefused)); n != 0 {
				t.Errorf("refused = %v, want 0", n)
			}
			h := s.Health()
			if !h.Reachable || h.LastError == "" || h.LastWrite.IsZero() || h.SpoolPoints != 0 {
				t.Errorf("Health = %+v", h)
			}
		})
	}
}

func TestSendGzipAndBatches(t *testing.T) {
	var sizes []int
	var mu sync.Mutex
	ws := newWriteServer(t, func(_ int, lines []string) (int, http.Header, string) {
		mu.Lock()
		sizes = append(sizes, len(lines))
		mu.Unlock()
		return http.StatusNoContent, nil, ""
	})
	cfg := fakeConfig(t, ws.URL)
	cfg.Gzip, cfg.BatchSize = true, 100
	s := openFake(t, cfg)
	rs := readingsFrom("z", lpTime, 0, 1050)
	for i := 0; i < len(rs); i += 70 {
		if err := s.WriteReadings(t.Context(), rs[i:min(i+70, len(rs))]); err != nil {
			t.Fatal(err)
		}
	}
	flushWithin(t, s)
	if got := ws.lines(); !slices.Equal(got, wantLines(rs)) {
		t.Fatalf("accepted %d lines, want %d in order", len(got), len(rs))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, n := range sizes {
		if n > 100 {
			t.Fatalf("a request of %d points; batch size is 100", n)
		}
	}
}

// TestSpoolFullRefusesWrites fills a small spool while InfluxDB is down:
// writes then fail with EUNAVAILABLE and are counted; nothing is dropped.
func TestSpoolFullRefusesWrites(t *testing.T) {
	ws := newWriteServer(t, func(int, []string) (int, http.Header, string) {
		return http.StatusServiceUnavailable, nil, "down"
	})
	cfg := fakeConfig(t, ws.URL)
	cfg.SpoolMaxBytes = MinSpoolMaxBytes
	s := openFake(t, cfg)
	var (
		stored int
		err    error
	)
	for i := 0; ; i += 500 {
		err = s.WriteReadings(t.Context(), readingsFrom("full", lpTime, i, 500))
		if err != nil {
			break
		}
		stored += 500
	}
	if wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE {
		t.Fatalf("writing to a full spool: %v, want EUNAVAILABLE", err)
	}
	h := s.Health()
	if h.SpoolFill < 0.9 || h.SpoolFill > 1 || h.SpoolPoints != int64(stored) || h.SpoolMaxBytes != MinSpoolMaxBytes {
		t.Fatalf("Health of a full spool = %+v (stored %d)", h, stored)
	}
	if n := testutil.ToFloat64(s.m.rejected.WithLabelValues(rejectSpoolFull)); n != 500 {
		t.Fatalf("spool_full = %v, want 500", n)
	}
	if n := testutil.ToFloat64(s.m.spoolFill); n != h.SpoolFill {
		t.Fatalf("fill gauge %v, Health %v", n, h.SpoolFill)
	}
}

// TestRunStops checks the sender's lifecycle: Run returns when its context
// ends or the store closes, runs once at a time, and a closed store refuses
// writes and flushes.
func TestRunStops(t *testing.T) {
	cfg := fakeConfig(t, "http://127.0.0.1:1") // nothing listens
	s, err := Open(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "Run to start", func() bool { s.runMu.Lock(); defer s.runMu.Unlock(); return s.running })
	if err := s.Run(ctx); err == nil {
		t.Fatal("a second Run succeeded")
	}
	if err := s.WriteReadings(t.Context(), readingsFrom("x", lpTime, 0, 3)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	// Run again, stopped by Close this time, while it retries.
	done = make(chan error, 1)
	go func() { done <- s.Run(t.Context()) }()
	retries := testutil.ToFloat64(s.m.retries)
	waitFor(t, "Run to start and retry", func() bool {
		s.runMu.Lock()
		defer s.runMu.Unlock()
		return s.running && testutil.ToFloat64(s.m.retries) > retries
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := s.Run(t.Context()); wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE {
		t.Fatalf("Run after Close: %v, want EUNAVAILABLE", err)
	}
	if err := s.WriteReadings(t.Context(), readingsFrom("x", lpTime, 3, 1)); wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE {
		t.Fatalf("write after Close: %v, want EUNAVAILABLE", err)
	}
	if err := s.Flush(t.Context()); wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE {
		t.Fatalf("Flush after Close: %v, want EUNAVAILABLE", err)
	}
	// The points written before Close are still spooled.
	s2, err := Open(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if h := s2.Health(); h.SpoolPoints != 3 {
		t.Fatalf("reopened store holds %d points, want 3", h.SpoolPoints)
	}
}

func TestConfig(t *testing.T) {
	ok := Config{URL: "http://influx:8086/", Bucket: "db/rp", SpoolDir: "/tmp/x"}
	c, err := ok.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "http://influx:8086" || c.BatchSize != DefaultBatchSize || c.SpoolMaxBytes != DefaultSpoolMaxBytes ||
		c.FlushInterval != DefaultFlushInterval || c.Timeout != DefaultTimeout || c.Now == nil {
		t.Fatalf("defaults: %+v", c)
	}
	if got, want := c.writeURL(), "http://influx:8086/api/v2/write?bucket=db%2Frp&precision=ms"; got != want {
		t.Fatalf("writeURL = %s, want %s", got, want)
	}
	c.Org = "hospital"
	if got, want := c.writeURL(), "http://influx:8086/api/v2/write?bucket=db%2Frp&org=hospital&precision=ms"; got != want {
		t.Fatalf("writeURL = %s, want %s", got, want)
	}
	for name, mod := range map[string]func(*Config){
		"no URL":             func(c *Config) { c.URL = "" },
		"not http":           func(c *Config) { c.URL = "ftp://x" },
		"credentials in URL": func(c *Config) { c.URL = "http://u:p@x:8086" },
		"no bucket":          func(c *Config) { c.Bucket = " " },
		"no spool":           func(c *Config) { c.SpoolDir = "" },
		"huge batch":         func(c *Config) { c.BatchSize = MaxBatchSize + 1 },
		"negative batch":     func(c *Config) { c.BatchSize = -1 },
		"tiny spool":         func(c *Config) { c.SpoolMaxBytes = 1000 },
		"negative timeout":   func(c *Config) { c.Timeout = -time.Second },
		"retry bounds":       func(c *Config) { c.MinRetryInterval, c.MaxRetryInterval = time.Minute, time.Second },
	} {
		c := ok
		mod(&c)
		if _, err := c.withDefaults(); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}

func TestSplitSpan(t *testing.T) {
	data := []byte("a\nbb\nccc\nd\ne\n")
	a, b := splitSpan(data, span{0, len(data), 5})
	if string(data[a.start:a.end]) != "a\nbb\n" || a.points != 2 || string(data[b.start:b.end]) != "ccc\nd\ne\n" || b.points != 3 {
		t.Fatalf("splitSpan = %q (%d), %q (%d)", data[a.start:a.end], a.points, data[b.start:b.end], b.points)
	}
	c, d := splitSpan(data, b)
	if string(data[c.start:c.end]) != "ccc\n" || string(data[d.start:d.end]) != "d\ne\n" {
		t.Fatalf("splitSpan of the second half = %q, %q", data[c.start:c.end], data[d.start:d.end])
	}
}

func TestSeriesOf(t *testing.T) {
	for in, want := range map[string]string{
		"reading,metric=temperature,sensor=a\\ b value=1 5\n": "reading,metric=temperature,sensor=a\\ b",
		"x":                         "x",
		"pump,serial=S x=\"a b\" 1": "pump,serial=S",
	} {
		if got := seriesOf([]byte(in)); got != want {
			t.Errorf("seriesOf(%q) = %q, want %q", in, got, want)
		}
	}
}
