package influx

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
)

// InfluxDB 2.x and Cloud cannot be built on this project's test machines
// (influxd 2.x needs the Rust Flux engine), so the real-server tests run
// against 1.8.10's 2.x compatibility API. What differs on a 2.x server is
// checked here against a server that speaks 2.x's wire protocol as
// documented (https://docs.influxdata.com/influxdb/v2/api/): an org and a
// bucket in every write and query, "Token" authorization, JSON error
// bodies with a "code" and no X-Influxdb-Version header on errors from
// Cloud, 401 for a bad token, 404 for a missing bucket, 400 "invalid" for
// line protocol it cannot parse, and annotated CSV answers to Flux.

// v2Server is an InfluxDB 2.x as its clients see it: org "hospital",
// bucket "telemetry", token "t0k3n" (until revoked).
type v2Server struct {
	*httptest.Server
	mu      sync.Mutex
	token   string
	lines   []string
	queries []string // Flux texts received
	badLine string   // a line the server refuses as unparsable
	csv     string   // the answer to every query
}

func newV2Server(t *testing.T) *v2Server {
	v := &v2Server{token: "t0k3n"}
	v.Server = httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.Close)
	return v
}

// v2Error answers as InfluxDB 2.x / Cloud do: JSON with code and message.
func v2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func (v *v2Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"name":"influxdb","message":"ready for queries and writes","status":"pass","version":"v2.7.11"}`)
		return
	}
	v.mu.Lock()
	token := v.token
	v.mu.Unlock()
	if r.Header.Get("Authorization") != "Token "+token {
		v2Error(w, http.StatusUnauthorized, "unauthorized", "unauthorized access")
		return
	}
	q := r.URL.Query()
	if q.Get("org") != "hospital" {
		v2Error(w, http.StatusNotFound, "not found", fmt.Sprintf("organization name %q not found", q.Get("org")))
		return
	}
	switch r.URL.Path {
	case "/api/v2/write":
		if q.Get("bucket") != "telemetry" {
			v2Error(w, http.StatusNotFound, "not found", fmt.Sprintf("bucket %q not found", q.Get("bucket")))
			return
		}
		if q.Get("precision") != "ms" {
			v2Error(w, http.StatusBadRequest, "invalid", "precision: want ms in this test")
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				v2Error(w, http.StatusBadRequest, "invalid", err.Error())
				return
			}
			body = zr
		}
		var lines []string
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			if sc.Text() == v.badLine && v.badLine != "" {
				v2Error(w, http.StatusBadRequest, "invalid", "unable to parse '"+sc.Text()+"': invalid field format")
				return
			}
			lines = append(lines, sc.Text())
		}
		v.mu.Lock()
		v.lines = append(v.lines, lines...)
		v.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case "/api/v2/query":
		var req struct {
			Query string `json:"query"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			v2Error(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		v.mu.Lock()
		v.queries = append(v.queries, req.Query)
		answer := v.csv
		v.mu.Unlock()
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		io.WriteString(w, answer)
	default:
		v2Error(w, http.StatusNotFound, "not found", "path not found")
	}
}

func (v *v2Server) written() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.lines)
}

func v2Config(t *testing.T, url string) Config {
	return Config{
		URL: url, Token: "t0k3n", Org: "hospital", Bucket: "telemetry", Gzip: true,
		SpoolDir:      filepath.Join(t.TempDir(), "spool"),
		FlushInterval: 5 * time.Millisecond, MinRetryInterval: time.Millisecond, MaxRetryInterval: 5 * time.Millisecond,
	}
}

// TestInfluxDB2Writes: org, bucket, token and gzip reach a 2.x server; its
// JSON refusals keep the points spooled (bad token, missing bucket) or drop
// only the unparsable point.
func TestInfluxDB2Writes(t *testing.T) {
	v := newV2Server(t)
	s := openFake(t, v2Config(t, v.URL))
	base := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	rs := readingsFrom("fridge-3/probe", base, 0, 10)
	if err := s.WriteReadings(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	flushWithin(t, s)
	if got := v.written(); !slices.Equal(got, wantLines(rs)) {
		t.Fatalf("written = %q, want %q", got, wantLines(rs))
	}

	// The token is revoked: 401 from a 2.x server keeps everything.
	v.mu.Lock()
	v.token = "rotated"
	v.mu.Unlock()
	more := readingsFrom("fridge-3/probe", base, 10, 10)
	if err := s.WriteReadings(t.Context(), more); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the authorization error", func() bool { return strings.Contains(s.Health().LastError, "unauthorized access") })
	if h := s.Health(); h.SpoolPoints != 10 {
		t.Fatalf("Health = %+v, want the 10 points kept", h)
	}
	// The operator puts the new token in place (the server accepts the old
	// one again here): the points go, once.
	v.mu.Lock()
	v.token = "t0k3n"
	v.mu.Unlock()
	flushWithin(t, s)
	if got := v.written(); !slices.Equal(got, wantLines(append(slices.Clone(rs), more...))) {
		t.Fatalf("after the token came back: %d lines, want 20", len(got))
	}

	// An unparsable point: 2.x says 400 {"code":"invalid"} without a version
	// header (Cloud): that point alone is dropped and counted.
	bad := readingsFrom("fridge-3/probe", base, 20, 4)
	v.mu.Lock()
	v.badLine = wantLines(bad[2:3])[0]
	v.mu.Unlock()
	if err := s.WriteReadings(t.Context(), bad); err != nil {
		t.Fatal(err)
	}
	flushWithin(t, s)
	got := v.written()[20:]
	if want := wantLines(slices.Delete(slices.Clone(bad), 2, 3)); !slices.Equal(got, want) {
		t.Fatalf("with one refused point: %q, want %q", got, want)
	}
	if n := testutil.ToFloat64(s.m.rejected.WithLabelValues(rejectRefused)); n != 1 {
		t.Fatalf("refused points counted = %v, want 1", n)
	}
}

// TestInfluxDB2MissingBucket: a bucket that does not exist (404 with a JSON
// body) is a configuration error: retried and reported, never dropped.
func TestInfluxDB2MissingBucket(t *testing.T) {
	v := newV2Server(t)
	cfg := v2Config(t, v.URL)
	cfg.Bucket = "telemetri"
	s := openFake(t, cfg)
	if err := s.WriteReadings(t.Context(), readingsFrom("x/probe", time.Now().UTC(), 0, 3)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the missing bucket", func() bool { return strings.Contains(s.Health().LastError, `bucket "telemetri" not found`) })
	if h := s.Health(); h.SpoolPoints != 3 {
		t.Fatalf("Health = %+v, want the 3 points kept", h)
	}
	if n := testutil.ToFloat64(s.m.rejected.WithLabelValues(rejectRefused)); n != 0 {
		t.Fatalf("%v points dropped for a missing bucket", n)
	}
}

// TestInfluxDB2Query: Flux goes to /api/v2/query with the org, reads the
// configured bucket, and 2.x's annotated CSV comes back as readings.
func TestInfluxDB2Query(t *testing.T) {
	v := newV2Server(t)
	v.csv = "#datatype,string,long,dateTime:RFC3339,double\r\n" +
		"#group,false,false,false,false\r\n" +
		"#default,_result,,,\r\n" +
		",result,table,_time,_value\r\n" +
		",,0,2026-11-24T02:00:00Z,4.5\r\n" +
		",,0,2026-11-24T02:00:30.25Z,4.75\r\n" +
		"\r\n"
	s := openFake(t, v2Config(t, v.URL))
	got, err := s.Readings(t.Context(), wardwatch.SeriesQuery{SensorID: "fridge-3/probe", Metric: wardwatch.MetricTemperature,
		From: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	want := []wardwatch.Reading{
		{Time: time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC), SensorID: "fridge-3/probe", Metric: wardwatch.MetricTemperature, Value: 4.5},
		{Time: time.Date(2026, 11, 24, 2, 0, 30, 250e6, time.UTC), SensorID: "fridge-3/probe", Metric: wardwatch.MetricTemperature, Value: 4.75},
	}
	if len(got) != len(want) {
		t.Fatalf("Readings = %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) || got[i].Value != want[i].Value || got[i].SensorID != want[i].SensorID {
			t.Fatalf("Readings[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	v.mu.Lock()
	qs := slices.Clone(v.queries)
	v.mu.Unlock()
	if len(qs) != 1 || !strings.Contains(qs[0], `from(bucket: "telemetry")`) {
		t.Fatalf("queries = %q, want one reading the bucket \"telemetry\"", qs)
	}

	// A revoked token: the UI gets "unavailable", not the server's words.
	v.mu.Lock()
	v.token = "rotated"
	v.mu.Unlock()
	_, err = s.Readings(t.Context(), wardwatch.SeriesQuery{SensorID: "fridge-3/probe", Metric: wardwatch.MetricTemperature})
	if wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE {
		t.Fatalf("query with a revoked token: %v, want EUNAVAILABLE", err)
	}
}
