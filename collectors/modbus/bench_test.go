package modbus

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/sim/modbussim"
)

// benchFleet starts `buses` simulated gateways with perBus devices each
// (unit ids 1…perBus, kinds cycling through the demo's) and returns the
// devices to poll them.
func benchFleet(b *testing.B, buses, perBus int) []Device {
	b.Helper()
	demo := modbussim.DemoDevices()
	var ds []Device
	for g := range buses {
		var sims []modbussim.SimDevice
		for u := 1; u <= perBus; u++ {
			sd := demo[(u-1)%len(demo)]
			sd.UnitID = byte(u)
			sims = append(sims, sd)
		}
		s, err := modbussim.Start(context.Background(), "127.0.0.1:0", sims, int64(g), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		for _, sd := range sims {
			ds = append(ds, Device{ID: int64(len(ds) + 1), Name: fmt.Sprintf("bus%d-unit%d", g, sd.UnitID), Transport: TransportTCP,
				Address: s.Addr(), UnitID: sd.UnitID, Profile: sd.Kind.Profile(), Interval: 10 * time.Second, Timeout: 2 * time.Second, Enabled: true})
		}
	}
	return ds
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPoll polls 1,000 devices on 5 simulated Modbus TCP gateways
// (200 devices each, one connection per gateway, one request at a time
// per gateway), the buses in parallel, and decodes every field. One op is
// one device poll. cpu-µs/poll counts the whole process: the collector and
// the in-process simulator answering it.
func BenchmarkPoll(b *testing.B) {
	const buses, perBus = 5, 200
	ds := benchFleet(b, buses, perBus)
	type busWork struct {
		b       *bus
		targets []*target
	}
	var work []busWork
	for g := range buses {
		bw := busWork{b: newBus(ds[g*perBus])}
		for _, d := range ds[g*perBus : (g+1)*perBus] {
			bw.targets = append(bw.targets, newTarget(d, mustProfileB(b, d.Profile)))
		}
		work = append(work, bw)
	}
	var next atomic.Int64
	var failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, t0 := cpuTime(), time.Now()
	var wg sync.WaitGroup
	for _, w := range work {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if next.Add(1) > int64(b.N) {
					return
				}
				res, err := poll(context.Background(), w.b, w.targets[i%len(w.targets)], false, time.Now)
				if err != nil || !res.answered || res.kind != kindOK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(t0), cpuTime()-cpu0
	b.StopTimer()
	for _, w := range work {
		w.b.drop(false)
	}
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d polls failed", n)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "polls/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/poll")
}

func mustProfileB(b *testing.B, name string) Profile {
	p, ok := BuiltinProfile(name)
	if !ok {
		b.Fatalf("no profile %q", name)
	}
	return p
}

// countingSink counts readings and drops them.
type countingSink struct{ n atomic.Int64 }

func (s *countingSink) SubmitReadings(_ context.Context, rs []wardwatch.Reading) error {
	s.n.Add(int64(len(rs)))
	return nil
}
func (s *countingSink) DeviceStatusChanged(DeviceStatus) {}

// BenchmarkCollector1000Devices runs the whole collector (schedules,
// jitter, buses, status, metrics, sink) over 1,000 simulated devices on 5
// gateways polled every second: ten times the rate of the target of 1,000
// devices every 10 s. One op is one round of 1,000 polls; cpu-ms/round
// and cores are the process's CPU per round and the cores it kept busy.
func BenchmarkCollector1000Devices(b *testing.B) {
	ds := benchFleet(b, 5, 200)
	for i := range ds {
		ds[i].Interval = time.Second
	}
	c := NewCollector(Options{Sink: &countingSink{}})
	c.SetDevices(ds)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	polls := func() float64 { return testutil.ToFloat64(c.met.polls.WithLabelValues("ok")) }
	wait := func(n float64) {
		deadline := time.Now().Add(time.Minute)
		for polls() < n {
			if time.Now().After(deadline) {
				b.Fatalf("only %v polls", polls())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait(float64(len(ds))) // every device has started
	b.ResetTimer()
	start, cpu0, t0 := polls(), cpuTime(), time.Now()
	wait(start + float64(b.N*len(ds)))
	elapsed, cpu := time.Since(t0), cpuTime()-cpu0
	b.StopTimer()
	if errs := testutil.ToFloat64(c.met.polls.WithLabelValues("error")) + testutil.ToFloat64(c.met.polls.WithLabelValues("timeout")); errs > 0 {
		b.Fatalf("%v polls failed", errs)
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/round")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	b.ReportMetric((polls()-start)/elapsed.Seconds(), "polls/s")
}

// BenchmarkDecode decodes one float32 field.
func BenchmarkDecode(b *testing.B) {
	f := vectors[16].field("x", TableHoldingRegister, 0)
	raw := vectors[16].bytes()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
