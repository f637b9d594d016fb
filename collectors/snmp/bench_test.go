package snmp

import (
	"context"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/sim/snmpsim"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pumpTarget is target i (from 1) of a benchmark: pump i's own agent on
// the simulator, read with the single-pump profile.
func pumpTarget(a *snmpsim.Agent, version string, i int) Target {
	t := simTarget(a, version)
	t.ID, t.Name, t.Profile = int64(i), "pump", ExamplePumpProfile
	if version == "v3" {
		t.User = snmpsim.PumpUser(i)
	} else {
		t.Community = snmpsim.PumpCommunity(i)
	}
	return t
}

// BenchmarkPoll measures one poll, end to end over loopback UDP: a new
// session, (v3) engine discovery, the GETs or the table walk, the
// mapping. The simulated agent runs in the same process, so ns/op and
// allocs include its side; BenchmarkAgent in sim/snmpsim measures that
// alone.
func BenchmarkPoll(b *testing.B) {
	for _, bc := range []struct {
		name    string
		version string
		pumps   int // 1: a pump's own agent; more: a pump server
	}{
		{"v3/single-pump", "v3", 1},
		{"v2c/single-pump", "v2c", 1},
		{"v3/pump-server-12", "v3", 12},
		{"v3/pump-server-100", "v3", 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a, err := snmpsim.Start(b.Context(), "127.0.0.1:0", bc.pumps, 1, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			target := pumpTarget(a, bc.version, 1)
			if bc.pumps > 1 {
				target = simTarget(a, bc.version)
			}
			s, err := target.settings()
			if err != nil {
				b.Fatal(err)
			}
			prof, _ := BuiltinProfile(target.Profile)
			pl, _ := compile(prof)
			ctx := b.Context()
			cpu0 := cpuTime(b)
			b.ReportAllocs()
			for b.Loop() {
				sess, err := openSession(ctx, s)
				if err != nil {
					b.Fatal(err)
				}
				out, err := poll(sess.r, sess.diagnose, s, pl, time.Now, false)
				sess.close()
				if err != nil || len(out.pumps) != bc.pumps {
					b.Fatalf("poll: %d pumps, %v", len(out.pumps), err)
				}
			}
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// countingSink counts the polls that reached it.
type countingSink struct {
	polls atomic.Int64
	pumps atomic.Int64
}

func (s *countingSink) SubmitPumpStates(_ context.Context, ps []wardwatch.PumpState) error {
	s.polls.Add(1)
	s.pumps.Add(int64(len(ps)))
	return nil
}

func (s *countingSink) TargetStatusChanged(TargetStatus) {}

// BenchmarkCollector5000 runs the collector as deployed: 5,000 pump
// targets (each pump's own agent, v3 authPriv, single-pump profile)
// against the simulator on loopback, with the default concurrency (64).
//
//   - interval=30s: the target load, for one interval plus the time to
//     finish. Every target must be polled within the interval (missed 0).
//   - saturated: a 1-second interval, far more than the machine can do,
//     for 10 seconds: polls/s is the collector's capacity.
//
// Each reports the polls completed per second, CPU per poll and the share
// of one core (collector and simulator together: BenchmarkAgent in
// sim/snmpsim measures the simulator alone), the heap the targets' state
// takes, the heap in use while polling, and polls skipped for running
// late (overruns). It takes about 45 seconds; run it with -benchtime=1x.
func BenchmarkCollector5000(b *testing.B) {
	const targets = 5000
	for _, bc := range []struct {
		name     string
		interval time.Duration
		run      time.Duration
	}{
		{"interval=30s", 30 * time.Second, 30 * time.Second},
		{"saturated", time.Second, 10 * time.Second},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				a, err := snmpsim.Start(b.Context(), "127.0.0.1:0", targets, 1, nil)
				if err != nil {
					b.Fatal(err)
				}
				ts := make([]Target, targets)
				for i := range ts {
					ts[i] = pumpTarget(a, "v3", i+1)
					ts[i].Interval, ts[i].Timeout, ts[i].Retries = bc.interval, min(bc.interval/2, 5*time.Second), 1
				}
				sink := &countingSink{}
				c := NewCollector(Options{Sink: sink, Profiles: profiles()})

				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				c.SetTargets(ts)
				runtime.GC()
				runtime.ReadMemStats(&m1)

				ctx, cancel := context.WithCancel(b.Context())
				done := make(chan error)
				cpu0, start := cpuTime(b), time.Now()
				go func() { done <- c.Run(ctx) }()
				time.Sleep(bc.run)
				// Every target's first poll is due within the interval; give
				// the last ones a moment to finish.
				var missed int
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
					missed = 0
					for _, st := range c.Status() {
						if st.LastOK.IsZero() {
							missed++
						}
					}
					if missed == 0 || time.Now().After(deadline) {
						break
					}
				}
				elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
				var peak runtime.MemStats
				runtime.ReadMemStats(&peak)
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				a.Close()

				polls := sink.polls.Load()
				b.ReportMetric(float64(polls)/elapsed.Seconds(), "polls/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(polls), "cpu-µs/poll")
				b.ReportMetric(cpu.Seconds()/elapsed.Seconds()*100, "cpu-%-of-1-core")
				b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/targets, "heap-B/target")
				b.ReportMetric(float64(peak.HeapInuse)/(1<<20), "heap-inuse-MiB")
				b.ReportMetric(float64(missed), "missed")
				b.ReportMetric(testutil.ToFloat64(c.m.overruns), "overruns")
				if missed > 0 && bc.interval == 30*time.Second {
					b.Errorf("%d of %d targets not polled within %v", missed, targets, bc.interval)
				}
			}
		})
	}
}
