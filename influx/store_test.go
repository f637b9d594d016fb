package influx

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/internal/telemetrytest"
)

// TestContract runs the telemetry contract suite against a real InfluxDB
// 1.8 in compatibility mode, a fresh database per subtest.
func TestContract(t *testing.T) {
	d := sharedInfluxd(t)
	telemetrytest.Run(t, func(t *testing.T) wardwatch.Telemetry {
		s, err := Open(testConfig(t, d, d.newDatabase(t)), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		runStore(t, s)
		return s
	})
}

// readingsFrom returns n readings of sensor, 10 ms apart from base, valued
// by their index from first.
func readingsFrom(sensor string, base time.Time, first, n int) []wardwatch.Reading {
	rs := make([]wardwatch.Reading, n)
	for i := range rs {
		k := first + i
		rs[i] = wardwatch.Reading{Time: base.Add(time.Duration(k) * 10 * time.Millisecond), SensorID: sensor,
			Metric: wardwatch.MetricTemperature, Value: float64(k)}
	}
	return rs
}

// stream writes readings first..first+n-1 in calls of 20, pausing between
// calls, and counts what it wrote in written. A failed write fails the test.
func stream(t *testing.T, s *Store, base time.Time, first, n int, written *atomic.Int64) {
	for i := 0; i < n; i += 20 {
		k := min(20, n-i)
		if err := s.WriteReadings(context.Background(), readingsFrom("stream", base, first+i, k)); err != nil {
			t.Errorf("WriteReadings during the stream: %v", err)
			return
		}
		written.Add(int64(k))
		time.Sleep(time.Millisecond)
	}
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOutageAndRestart writes a continuous stream while InfluxDB stops, the
// store is closed and reopened on the same spool (a WardWatch restart, with
// a torn record at the spool's tail) and InfluxDB starts again: every point
// ends up in InfluxDB once, in time order.
func TestOutageAndRestart(t *testing.T) {
	d := startInfluxd(t, false)
	cfg := testConfig(t, d, d.newDatabase(t))
	cfg.BatchSize = 100
	reg := prometheus.NewRegistry()
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	const n1, n2 = 3000, 2000

	s1, err := Open(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx1, stop1 := context.WithCancel(context.Background())
	run1 := make(chan error, 1)
	go func() { run1 <- s1.Run(ctx1) }()
	var written atomic.Int64
	streamed := make(chan struct{})
	go func() { defer close(streamed); stream(t, s1, base, 0, n1, &written) }()
	waitFor(t, "a third of the stream", func() bool { return written.Load() >= n1/3 })
	d.stop(t) // mid-stream
	<-streamed
	waitFor(t, "the store to notice the outage", func() bool { return !s1.Health().Reachable })
	if h := s1.Health(); h.SpoolPoints == 0 || h.LastError == "" {
		t.Fatalf("Health during the outage = %+v, want spooled points and an error", h)
	}
	// Restart WardWatch: stop the sender, close, tear the spool's tail.
	stop1()
	if err := <-run1; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	tearTail(t, cfg.SpoolDir)

	s2, err := Open(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if h := s2.Health(); h.SpoolPoints == 0 {
		t.Fatalf("reopened spool holds no points: %+v", h)
	}
	if got := s2.spool.corruptAtOpen.Load(); got == 0 {
		t.Fatalf("the torn tail was not detected")
	}
	runStore(t, s2)
	written.Store(0)
	streamed = make(chan struct{})
	go func() { defer close(streamed); stream(t, s2, base, n1, n2, &written) }()
	waitFor(t, "a quarter of the second stream", func() bool { return written.Load() >= n2/4 })
	d.start(t)
	<-streamed
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := s2.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got, err := s2.Readings(ctx, wardwatch.SeriesQuery{SensorID: "stream", Metric: wardwatch.MetricTemperature, Limit: 2 * (n1 + n2)})
	if err != nil {
		t.Fatal(err)
	}
	want := readingsFrom("stream", base, 0, n1+n2)
	if !slices.Equal(got, want) {
		t.Fatalf("InfluxDB holds %d readings, want %d in order; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	if h := s2.Health(); !h.Reachable || h.SpoolPoints != 0 || h.LastWrite.IsZero() {
		t.Fatalf("Health after recovery = %+v", h)
	}
	if n := testutil.ToFloat64(s2.m.retries); n == 0 {
		t.Errorf("no write was retried during the outage")
	}
	if n := testutil.ToFloat64(s2.m.corrupt); n == 0 {
		t.Errorf("the torn tail was not counted")
	}
	if n := testutil.ToFloat64(s2.m.rejected.WithLabelValues(rejectRefused)); n != 0 {
		t.Errorf("%v points refused, want none", n)
	}
}

// tearTail appends half a record to the newest segment in dir, as a crash
// in the middle of a write would leave.
func tearTail(t *testing.T, dir string) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no spool segment")
	}
	slices.Sort(segs)
	e := newRecordEncoder(10)
	e.begin()
	e.buf = appendReading(e.buf, wardwatch.Reading{Time: time.Now(), SensorID: "torn", Metric: wardwatch.MetricTemperature, Value: 1})
	e.endLine()
	rec := e.bytes()
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(rec[:len(rec)/2]); err != nil {
		t.Fatal(err)
	}
}

func firstDiff(a, b []wardwatch.Reading) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestRefusedPointIsolated writes a batch one point of which InfluxDB
// refuses (older than the retention policy): the batch is split until that
// point is alone; it is dropped and counted, its batch-mates written.
func TestRefusedPointIsolated(t *testing.T) {
	d := sharedInfluxd(t)
	bucket := d.newDatabase(t)
	db, _, _ := strings.Cut(bucket, "/")
	d.exec(t, "CREATE RETENTION POLICY short ON "+db+" DURATION 1h REPLICATION 1")
	cfg := testConfig(t, d, db+"/short")
	s, err := Open(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	runStore(t, s)
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Millisecond)
	rs := readingsFrom("rp", base, 0, 101)
	rs[37].Time = base.Add(-48 * time.Hour) // beyond the retention policy
	if err := s.WriteReadings(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := s.Readings(t.Context(), wardwatch.SeriesQuery{SensorID: "rp", Metric: wardwatch.MetricTemperature})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Delete(slices.Clone(rs), 37, 38)
	if !slices.Equal(got, want) {
		t.Fatalf("Readings = %d points, want the %d accepted ones", len(got), len(want))
	}
	if n := testutil.ToFloat64(s.m.rejected.WithLabelValues(rejectRefused)); n != 1 {
		t.Errorf("refused points = %v, want 1", n)
	}
	if n := testutil.ToFloat64(s.m.batches.WithLabelValues(batchSplit)); n == 0 {
		t.Errorf("no batch was split")
	}
	if h := s.Health(); !h.Reachable || h.SpoolPoints != 0 || !strings.Contains(h.LastError, "retention policy") {
		t.Errorf("Health = %+v, want reachable, empty spool, the refusal as last error", h)
	}
}

// TestBadPointsCounted writes NaN, infinite and oversize points to a real
// InfluxDB: they are refused and counted by reason; their batch-mates are
// written.
func TestBadPointsCounted(t *testing.T) {
	d := sharedInfluxd(t)
	s, err := Open(testConfig(t, d, d.newDatabase(t)), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	runStore(t, s)
	base := time.Now().UTC().Truncate(time.Millisecond)
	rs := readingsFrom("bad", base, 0, 8)
	rs[1].Value = math.NaN()
	rs[3].Value = math.Inf(1)
	rs[4].Value = math.Inf(-1)
	rs[6].SensorID = strings.Repeat("x", MaxIDLen+1)
	err = s.WriteReadings(t.Context(), rs)
	if wardwatch.ErrorCode(err) != wardwatch.EINVALID || !strings.Contains(wardwatch.ErrorMessage(err), "4 of 8 readings rejected") {
		t.Fatalf("WriteReadings = %v, want EINVALID for 4 of 8", err)
	}
	p := wardwatch.PumpState{Time: base, Serial: "P", Status: wardwatch.PumpIdle, Firmware: strings.Repeat("f", MaxTextLen+1)}
	if err := s.WritePumpStates(t.Context(), []wardwatch.PumpState{p}); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Fatalf("WritePumpStates(oversize firmware) = %v, want EINVALID", err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := s.Readings(t.Context(), wardwatch.SeriesQuery{SensorID: "bad", Metric: wardwatch.MetricTemperature})
	if err != nil {
		t.Fatal(err)
	}
	if want := []wardwatch.Reading{rs[0], rs[2], rs[5], rs[7]}; !slices.Equal(got, want) {
		t.Fatalf("Readings = %+v\nwant %+v", got, want)
	}
	for reason, want := range map[string]float64{rejectNaN: 1, rejectInf: 2, rejectTooLong: 2, rejectRefused: 0, rejectSpoolFull: 0} {
		if n := testutil.ToFloat64(s.m.rejected.WithLabelValues(reason)); n != want {
			t.Errorf("rejected{%s} = %v, want %v", reason, n, want)
		}
	}
	if n := testutil.ToFloat64(s.m.written); n != 4 {
		t.Errorf("points written = %v, want 4", n)
	}
}

// TestAuthentication runs against InfluxDB 1.8 with authentication on: the
// "user:password" token writes and queries; a wrong one keeps the points
// spooled (never dropped) and reports the error.
func TestAuthentication(t *testing.T) {
	d := sharedInfluxd(t)
	bucket := d.newDatabase(t)
	good, err := Open(testConfig(t, d, bucket), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	runStore(t, good)
	rs := readingsFrom("auth", time.Now().UTC().Truncate(time.Millisecond), 0, 5)
	if err := good.WriteReadings(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	if err := good.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := good.Readings(t.Context(), wardwatch.SeriesQuery{SensorID: "auth", Metric: wardwatch.MetricTemperature})
	if err != nil || !slices.Equal(got, rs) {
		t.Fatalf("Readings = %+v, %v; want %+v", got, err, rs)
	}

	cfg := testConfig(t, d, bucket)
	cfg.Token = "admin:wrong"
	bad, err := Open(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	runStore(t, bad)
	if err := bad.WriteReadings(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the authentication error", func() bool { return strings.Contains(bad.Health().LastError, "401") })
	if h := bad.Health(); h.SpoolPoints != 5 {
		t.Fatalf("Health = %+v, want the 5 points kept in the spool", h)
	}
	if n := testutil.ToFloat64(bad.m.rejected.WithLabelValues(rejectRefused)); n != 0 {
		t.Fatalf("%v points dropped on an authentication error", n)
	}
	_, err = bad.Readings(t.Context(), wardwatch.SeriesQuery{SensorID: "auth", Metric: wardwatch.MetricTemperature})
	if wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE {
		t.Fatalf("query with a wrong token: %v, want EUNAVAILABLE", err)
	}
}
