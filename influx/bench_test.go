package influx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
)

// benchPoints is how many points one benchmark operation writes: one
// WriteReadings call, or one raw POST.
const benchPoints = 5000

// benchReadings returns op's points: 100 sensors, 50 readings each, at
// times no other op uses.
func benchReadings(base time.Time, op int) []wardwatch.Reading {
	rs := make([]wardwatch.Reading, benchPoints)
	for i := range rs {
		k := op*benchPoints + i
		rs[i] = wardwatch.Reading{
			Time:     base.Add(time.Duration(k/100) * time.Millisecond),
			SensorID: fmt.Sprintf("bench-fridge-%03d/probe", i%100),
			Metric:   wardwatch.MetricTemperature,
			Value:    4 + float64(k%37)/10,
		}
	}
	return rs
}

// BenchmarkWriterVsRawPost measures points per second into a real
// InfluxDB through the Store (validate, encode, spool with fsync, send in
// batches of benchPoints) against the same-run reference: raw line-protocol
// POSTs of the same points in the same batches, encoded before timing. Each
// round writes benchRound operations through the store (then Flush) and
// benchRound raw POSTs, alternating so that both see the same load; the
// goal is ratio ≥ 0.9.
//
//	go test -run '^$' -bench BenchmarkWriterVsRawPost -benchtime 5x ./influx/
func BenchmarkWriterVsRawPost(b *testing.B) {
	d := sharedInfluxd(b)
	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		b.Run(name, func(b *testing.B) {
			cfg := testConfig(b, d, d.newDatabase(b))
			cfg.BatchSize, cfg.FlushInterval, cfg.Gzip = benchPoints, 100*time.Millisecond, gz
			s, err := Open(cfg, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			runStore(b, s)
			rawCfg, err := testConfig(b, d, d.newDatabase(b)).withDefaults()
			if err != nil {
				b.Fatal(err)
			}
			raw := &sender{s: &Store{cfg: Config{URL: rawCfg.URL, Bucket: rawCfg.Bucket, Token: rawCfg.Token, Gzip: gz},
				http: &http.Client{Timeout: 30 * time.Second}}}
			base := time.Now().Add(-24 * time.Hour).UTC()
			var storeTime, rawTime time.Duration
			b.ResetTimer()
			for round := range b.N {
				b.StopTimer()
				ops := make([][]wardwatch.Reading, benchRound)
				bodies := make([][]byte, benchRound)
				for i := range ops {
					ops[i] = benchReadings(base, round*benchRound+i)
					for _, r := range ops[i] {
						bodies[i] = appendReading(bodies[i], r)
					}
				}
				b.StartTimer()
				// The two take turns going first: whichever runs second
				// meets InfluxDB busier (compacting what the first wrote).
				storeRun := func() {
					start := time.Now()
					for _, op := range ops {
						if err := s.WriteReadings(context.Background(), op); err != nil {
							b.Fatal(err)
						}
					}
					if err := s.Flush(context.Background()); err != nil {
						b.Fatal(err)
					}
					storeTime += time.Since(start)
				}
				rawRun := func() {
					start := time.Now()
					for _, body := range bodies {
						if res := raw.post(context.Background(), body); res.class != classOK {
							b.Fatalf("raw POST: %d %v", res.status, res.err)
						}
					}
					rawTime += time.Since(start)
				}
				if round%2 == 0 {
					storeRun()
					rawRun()
				} else {
					rawRun()
					storeRun()
				}
			}
			points := float64(b.N * benchRound * benchPoints)
			b.ReportMetric(points/storeTime.Seconds(), "store-points/s")
			b.ReportMetric(points/rawTime.Seconds(), "raw-points/s")
			b.ReportMetric(rawTime.Seconds()/storeTime.Seconds(), "ratio")
			b.ReportMetric(testutil.ToFloat64(s.m.batches.WithLabelValues(batchOK))/float64(b.N*benchRound), "requests/op")
		})
	}
}

// benchRound is how many operations of each kind a round of
// BenchmarkWriterVsRawPost does.
const benchRound = 20

// heapInUse is the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// writeDuringOutage writes ops operations of benchPoints readings to a
// store whose InfluxDB is down, and returns the heap growth and the spool.
func writeDuringOutage(tb testing.TB, ops int) (heapGrowth int64, h Health) {
	cfg := Config{
		URL: "http://127.0.0.1:1", Bucket: "db", SpoolDir: filepath.Join(tb.TempDir(), "spool"),
		MinRetryInterval: 10 * time.Millisecond, MaxRetryInterval: 100 * time.Millisecond,
	}
	s, err := Open(cfg, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	runStore(tb, s)
	base := time.Now().UTC()
	before := heapInUse()
	for op := range ops {
		if err := s.WriteReadings(context.Background(), benchReadings(base, op)); err != nil {
			tb.Fatal(err)
		}
	}
	after := heapInUse()
	return int64(after) - int64(before), s.Health()
}

// TestOutageMemoryBounded writes 200,000 points while InfluxDB is down:
// they go to the spool on disk, not to memory.
func TestOutageMemoryBounded(t *testing.T) {
	growth, h := writeDuringOutage(t, 40)
	t.Logf("heap growth %d KiB with %d points (%d KiB) spooled", growth>>10, h.SpoolPoints, h.SpoolBytes>>10)
	if h.SpoolPoints != 40*benchPoints {
		t.Fatalf("spool holds %d points, want %d", h.SpoolPoints, 40*benchPoints)
	}
	if growth > h.SpoolBytes/4 {
		t.Fatalf("heap grew by %d bytes for %d bytes spooled: points are kept in memory", growth, h.SpoolBytes)
	}
}

// BenchmarkOutage reports points/s into the spool while InfluxDB is down,
// and the heap growth once they are spooled.
//
//	go test -run '^$' -bench BenchmarkOutage -benchtime 200x ./influx/
func BenchmarkOutage(b *testing.B) {
	start := time.Now()
	growth, h := writeDuringOutage(b, b.N)
	b.ReportMetric(float64(b.N*benchPoints)/time.Since(start).Seconds(), "points/s")
	b.ReportMetric(float64(growth)/(1<<20), "heap-growth-MiB")
	b.ReportMetric(float64(h.SpoolBytes)/(1<<20), "spool-MiB")
}

// BenchmarkEncodeReadings measures validation and line-protocol encoding
// alone, per point.
func BenchmarkEncodeReadings(b *testing.B) {
	rs := benchReadings(time.Now(), 0)
	b.ReportAllocs()
	b.ResetTimer()
	e := newRecordEncoder(benchPoints)
	for range b.N {
		e.reset(benchPoints, len(rs))
		for _, r := range rs {
			if reason, _ := checkReading(r); reason != "" {
				b.Fatal(reason)
			}
			e.begin()
			e.buf = appendReading(e.buf, r)
			e.endLine()
		}
		e.bytes()
	}
	b.ReportMetric(float64(b.N*benchPoints)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkStoreCeiling measures the store's own ceiling: points per second
// through validate, encode, spool (fsync), read back and POST to a server
// that discards the body at once, against raw POSTs of the same bodies to
// that server. It shows the store's overhead without InfluxDB's ingest
// time (and its noise).
//
//	go test -run '^$' -bench BenchmarkStoreCeiling -benchtime 100x ./influx/
func BenchmarkStoreCeiling(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	cfg := Config{URL: srv.URL, Bucket: "db", SpoolDir: filepath.Join(b.TempDir(), "spool"), BatchSize: benchPoints, FlushInterval: 100 * time.Millisecond}
	b.Run("store", func(b *testing.B) {
		s, err := Open(cfg, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		runStore(b, s)
		base := time.Now().UTC()
		ops := make([][]wardwatch.Reading, b.N)
		for i := range ops {
			ops[i] = benchReadings(base, i)
		}
		b.ResetTimer()
		for _, op := range ops {
			if err := s.WriteReadings(context.Background(), op); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N*benchPoints)/b.Elapsed().Seconds(), "points/s")
	})
	b.Run("raw", func(b *testing.B) {
		raw := &sender{s: &Store{cfg: Config{URL: srv.URL, Bucket: "db"}, http: &http.Client{}}}
		base := time.Now().UTC()
		bodies := make([][]byte, b.N)
		for i := range bodies {
			for _, r := range benchReadings(base, i) {
				bodies[i] = appendReading(bodies[i], r)
			}
		}
		b.ResetTimer()
		for _, body := range bodies {
			if res := raw.post(context.Background(), body); res.class != classOK {
				b.Fatal(res.err)
			}
		}
		b.ReportMetric(float64(b.N*benchPoints)/b.Elapsed().Seconds(), "points/s")
	})
}
