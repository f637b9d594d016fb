package rfid

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
)

type sightingSink struct {
	mu  sync.Mutex
	ss  []wardwatch.Sighting
	err error
}

func (s *sightingSink) Submit(_ context.Context, ss []wardwatch.Sighting) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.ss = append(s.ss, ss...)
	return nil
}

func (s *sightingSink) taken() []wardwatch.Sighting {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wardwatch.Sighting(nil), s.ss...)
}

type zoneSink struct {
	mu  sync.Mutex
	zcs []wardwatch.ZoneChange
	err error
}

func (s *zoneSink) SubmitZoneChanges(_ context.Context, zcs []wardwatch.ZoneChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.zcs = append(s.zcs, zcs...)
	return nil
}

func (s *zoneSink) taken() []wardwatch.ZoneChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wardwatch.ZoneChange(nil), s.zcs...)
}

func (s *zoneSink) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// routerEnv: reader "door" is a portal (antenna 1 inside zone 10, 3
// outside zone 20), with antennas 1 and 3 also standing for gateways 11
// and 13; reader "dock" has antenna 1 only.
type routerEnv struct {
	r       *Router
	readers *readerMap
	ss      *sightingSink
	zs      *zoneSink
	reg     *prometheus.Registry
}

func newRouterEnv(t *testing.T, opt RouterOptions) *routerEnv {
	t.Helper()
	p := testPortal
	env := &routerEnv{
		readers: &readerMap{readers: map[string]Reader{
			"door": {Key: "door", Antennas: map[int]Antenna{1: {GatewayID: 11, ZoneID: 10}, 3: {GatewayID: 13, ZoneID: 20}}, Portal: &p},
			"dock": {Key: "dock", Antennas: map[int]Antenna{1: {GatewayID: 21, ZoneID: 30}}},
		}},
		ss:  &sightingSink{},
		zs:  &zoneSink{},
		reg: prometheus.NewRegistry(),
	}
	opt.Readers, opt.Sightings, opt.ZoneChanges, opt.Registerer = env.readers, env.ss, env.zs, env.reg
	r, err := NewRouter(opt)
	if err != nil {
		t.Fatal(err)
	}
	env.r = r
	return env
}

func (env *routerEnv) count(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return testutil.ToFloat64(mustVec(t, env.reg, name, labels...))
}

func TestRouterSightings(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{RSSIAt1m: func(int64) float64 { return -60 }})
	ctx := context.Background()
	reads := []Read{
		{Reader: "dock", Antenna: 1, EPC: epcA, RSSI: -40, Time: ms(0)},
		{Reader: "dock", Antenna: 2, EPC: epcA, RSSI: -40, Time: ms(0)}, // unconfigured
		{Reader: "ghost", Antenna: 1, EPC: epcA, Time: ms(0)},           // unknown reader
		{Reader: "door", Antenna: 3, EPC: epcB, RSSI: -40, Time: ms(10)},
	}
	if err := env.r.SubmitReads(ctx, reads); err != nil {
		t.Fatal(err)
	}
	want := []wardwatch.Sighting{
		{Time: ms(0), GatewayID: 21, TagID: TagID(epcA), RSSI: -60},
		{Time: ms(10), GatewayID: 13, TagID: TagID(epcB), RSSI: -60},
	}
	if got := env.ss.taken(); !reflect.DeepEqual(got, want) {
		t.Fatalf("sightings %+v, want %+v", got, want)
	}
	if n := env.count(t, "wardwatch_rfid_dropped_reads_total", dropUnconfiguredAntenna); n != 1 {
		t.Errorf("unconfigured antenna drops %v, want 1", n)
	}
	if n := env.count(t, "wardwatch_rfid_dropped_reads_total", dropUnknownReader); n != 1 {
		t.Errorf("unknown reader drops %v, want 1", n)
	}
	if n := env.count(t, "wardwatch_rfid_sightings_total"); n != 2 {
		t.Errorf("sightings %v, want 2", n)
	}

	// A lookup that matches keys loosely: reads get the reader's own key.
	env.readers.readers["DOCK"] = env.readers.readers["dock"]
	if err := env.r.SubmitReads(ctx, []Read{{Reader: "DOCK", Antenna: 1, EPC: epcA, Time: ms(20)}}); err != nil {
		t.Fatal(err)
	}
	if got := env.ss.taken(); len(got) != 3 || got[2].GatewayID != 21 {
		t.Fatalf("loose key: sightings %+v", got)
	}

	// Failures: nothing is submitted, the code shows through.
	env.readers.err = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "db down")
	if err := env.r.SubmitReads(ctx, reads); wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE {
		t.Fatalf("lookup unavailable: %v", err)
	}
	env.readers.err = nil
	env.ss.err = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "queue full")
	if err := env.r.SubmitReads(ctx, reads); wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE || !strings.Contains(err.Error(), "submit 2 sightings") {
		t.Fatalf("sink unavailable: %v", err)
	}
	if err := env.r.SubmitReads(ctx, nil); err != nil {
		t.Fatalf("no reads: %v", err)
	}
}

func TestRouterPortal(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{})
	ctx := context.Background()
	walkIn := []Read{
		{Reader: "door", Antenna: 3, EPC: epcA, Time: ms(0)},
		{Reader: "door", Antenna: 3, EPC: epcA, Time: ms(500)},
		{Reader: "door", Antenna: 1, EPC: epcA, Time: ms(1500)},
	}

	// The sightings sink fails: the portal must not see the reads, and the
	// reader's retry of the same batch makes one crossing.
	env.ss.err = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "full")
	if err := env.r.SubmitReads(ctx, walkIn); err == nil {
		t.Fatal("no error from a failing sink")
	}
	env.ss.err = nil
	if err := env.r.SubmitReads(ctx, walkIn); err != nil {
		t.Fatal(err)
	}
	if err := env.r.SubmitReads(ctx, walkIn[1:]); err != nil { // a duplicate
		t.Fatal(err)
	}
	env.r.Advance(ctx, ms(2000))
	if got := env.zs.taken(); len(got) != 0 {
		t.Fatalf("crossing before the pass ended: %+v", got)
	}

	// The zone sink fails: the crossing waits and is delivered later.
	env.zs.setErr(errors.New("hub down"))
	env.r.Advance(ctx, ms(5000))
	if n := env.count(t, "wardwatch_rfid_zone_changes_pending"); n != 1 {
		t.Fatalf("pending %v, want 1", n)
	}
	env.zs.setErr(nil)
	env.r.Advance(ctx, ms(6000))
	want := []wardwatch.ZoneChange{crossing(epcA, 20, 10, 1000)}
	if got := env.zs.taken(); !reflect.DeepEqual(got, want) {
		t.Fatalf("crossings %+v, want %+v", got, want)
	}
	if n := env.count(t, "wardwatch_rfid_zone_changes_pending"); n != 0 {
		t.Fatalf("pending %v after delivery", n)
	}
	if n := env.count(t, "wardwatch_rfid_portal_events_total", "crossing"); n != 1 {
		t.Fatalf("crossing events %v, want 1", n)
	}

	// A new portal configuration (sides swapped) takes effect.
	p := Portal{Inside: []int{3}, Outside: []int{1}, InsideZone: 20, OutsideZone: 10}
	rd := env.readers.readers["door"]
	rd.Portal = &p
	env.readers.readers["door"] = rd
	if err := env.r.SubmitReads(ctx, []Read{
		{Reader: "door", Antenna: 1, EPC: epcB, Time: ms(10000)},
		{Reader: "door", Antenna: 3, EPC: epcB, Time: ms(10500)},
	}); err != nil {
		t.Fatal(err)
	}
	env.r.Advance(ctx, ms(20000))
	if got := env.zs.taken(); len(got) != 2 || got[1].FromZone != 10 || got[1].ToZone != 20 {
		t.Fatalf("after reconfiguration: %+v", got)
	}

	// A misconfigured portal is logged and skipped; sightings still flow.
	bad := Portal{Inside: []int{1}, Outside: []int{1}, InsideZone: 1, OutsideZone: 2}
	rd.Portal = &bad
	env.readers.readers["door"] = rd
	if err := env.r.SubmitReads(ctx, walkIn); err != nil {
		t.Fatal(err)
	}
}

func TestRouterPendingCap(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{MaxPending: 2})
	ctx := context.Background()
	env.zs.setErr(errors.New("down"))
	for i, epc := range []string{epcA, epcB, "AAAAAAAAAAAAAAAAAAAAAAAA"} {
		base := i * 20000
		if err := env.r.SubmitReads(ctx, []Read{
			{Reader: "door", Antenna: 3, EPC: epc, Time: ms(base)},
			{Reader: "door", Antenna: 1, EPC: epc, Time: ms(base + 500)},
		}); err != nil {
			t.Fatal(err)
		}
		env.r.Advance(ctx, ms(base+10000))
	}
	if n := env.count(t, "wardwatch_rfid_zone_changes_dropped_total"); n != 1 {
		t.Fatalf("dropped %v, want 1", n)
	}
	env.zs.setErr(nil)
	env.r.Advance(ctx, ms(100000))
	got := env.zs.taken()
	if len(got) != 2 || got[0].TagID != TagID(epcB) || got[1].TagID != TagID("AAAAAAAAAAAAAAAAAAAAAAAA") {
		t.Fatalf("delivered %+v; want the two newest", got)
	}
}

func TestNewRouterRequires(t *testing.T) {
	if _, err := NewRouter(RouterOptions{}); err == nil {
		t.Fatal("NewRouter without Readers and Sightings succeeded")
	}
}

// TestRouterRun: Run closes quiet passes on its own and stops with its
// context.
func TestRouterRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := newRouterEnv(t, RouterOptions{Now: time.Now})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- env.r.Run(ctx) }()

		now := time.Now()
		if err := env.r.SubmitReads(ctx, []Read{
			{Reader: "door", Antenna: 1, EPC: epcA, Time: now},
			{Reader: "door", Antenna: 3, EPC: epcA, Time: now.Add(time.Second)},
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := env.zs.taken(); len(got) != 1 || got[0].FromZone != 10 || got[0].ToZone != 20 {
			t.Fatalf("crossings %+v", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}
