package modbus

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/sim/modbussim"
)

// vectorSetup lays every vector out in the holding registers and, at the
// same addresses, the input registers, followed by two scaled channels;
// coils and discrete inputs get fixed patterns. It returns the image, a
// profile reading all of it, and each field's expected value and raw hex.
func vectorSetup(maxGap int) (image, Profile, map[string]float64, map[string]string) {
	var im image
	p := Profile{Name: "vectors", MaxGap: maxGap}
	want := map[string]float64{}
	raws := map[string]string{}
	for i, v := range vectors {
		addr := uint16(len(im.HoldingRegisters))
		b := v.bytes()
		for j := 0; j < len(b); j += 2 {
			im.HoldingRegisters = append(im.HoldingRegisters, binary.BigEndian.Uint16(b[j:]))
		}
		for _, t := range []Table{TableHoldingRegister, TableInputRegister} {
			name := fmt.Sprintf("%s%02d_%s_%s", t[:1], i, v.typ, v.order)
			f := v.field(name, t, addr)
			p.Fields = append(p.Fields, f)
			want[name] = v.want
			raws[name] = rawHex(f, b)
		}
	}
	// Scaled channels: 72.0 °F in tenths, −0.0100 inH2O in ten-thousandths.
	base := uint16(len(im.HoldingRegisters))
	im.HoldingRegisters = append(im.HoldingRegisters, 720, uint16(0xFFFF-100+1))
	p.Fields = append(p.Fields,
		Field{Name: "room_f", Metric: wardwatch.MetricTemperature, Table: TableHoldingRegister, Address: base, Type: TypeInt16, Order: OrderABCD, Scale: 0.1, Unit: UnitFahrenheit},
		Field{Name: "aii_pa", Metric: wardwatch.MetricPressure, Table: TableHoldingRegister, Address: base + 1, Type: TypeInt16, Order: OrderABCD, Scale: 0.0001, Unit: UnitInH2O},
	)
	want["room_f"] = (72.0 - 32) * 5 / 9
	want["aii_pa"] = -0.01 * PascalsPerInH2O
	raws["room_f"], raws["aii_pa"] = "02D0", "FF9C"
	im.InputRegisters = slices.Clone(im.HoldingRegisters)
	for i := range 40 {
		im.Coils = append(im.Coils, i%3 == 0)
		im.DiscreteInputs = append(im.DiscreteInputs, i%2 == 1)
	}
	for _, a := range []uint16{0, 1, 2, 3, 9, 10, 17, 39} {
		for _, t := range []Table{TableCoil, TableDiscreteInput} {
			name := fmt.Sprintf("%s%02d", t[:1]+"b", a)
			p.Fields = append(p.Fields, Field{Name: name, Metric: wardwatch.MetricAlarm, Table: t, Address: a, Type: TypeBit, Scale: 1})
			on := a%3 == 0
			if t == TableDiscreteInput {
				on = a%2 == 1
			}
			want[name], raws[name] = 0, "0"
			if on {
				want[name], raws[name] = 1, "1"
			}
		}
	}
	return im, p, want, raws
}

// server is a Modbus server under test: pymodbus or the simulator, over
// Modbus TCP or RTU over TCP.
type server struct {
	name      string
	transport string
	start     func(t *testing.T, im image) string // returns the address
}

func servers() []server {
	sim := func(rtu bool) func(t *testing.T, im image) string {
		return func(t *testing.T, im image) string {
			start := modbussim.Start
			if rtu {
				start = modbussim.StartRTUOverTCP
			}
			s, err := start(context.Background(), "127.0.0.1:0", []modbussim.SimDevice{im.simDevice(1)}, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s.Addr()
		}
	}
	py := func(framer string) func(t *testing.T, im image) string {
		return func(t *testing.T, im image) string { return startPython(t, im, framer).addr() }
	}
	return []server{
		{"pymodbus/tcp", TransportTCP, py("socket")},
		{"pymodbus/rtu-over-tcp", TransportRTUOverTCP, py("rtu")},
		{"modbussim/tcp", TransportTCP, sim(false)},
		{"modbussim/rtu-over-tcp", TransportRTUOverTCP, sim(true)},
	}
}

func testDeviceAt(transport, addr, profile string) Device {
	return Device{ID: 1, Name: "dev", Transport: transport, Address: addr, UnitID: 1, Profile: profile,
		Interval: 10 * time.Second, Timeout: 2 * time.Second, Enabled: true}
}

// TestInteropVectors reads every type in every byte order, scaled
// channels, coils and discrete inputs from independent servers.
func TestInteropVectors(t *testing.T) {
	for _, srv := range servers() {
		t.Run(srv.name, func(t *testing.T) {
			for _, gap := range []int{0, 125} {
				im, prof, want, raws := vectorSetup(gap)
				if err := prof.Validate(); err != nil {
					t.Fatal(err)
				}
				addr := srv.start(t, im)
				res, err := TestDevice(context.Background(), testDeviceAt(srv.transport, addr, prof.Name), prof)
				if err != nil {
					t.Fatalf("gap %d: %v", gap, err)
				}
				if len(res.Fields) != len(prof.Fields) {
					t.Fatalf("gap %d: %d fields, want %d", gap, len(res.Fields), len(prof.Fields))
				}
				for _, f := range res.Fields {
					if f.Error != "" {
						t.Errorf("gap %d: %s: %s", gap, f.Name, f.Error)
						continue
					}
					if math.Abs(f.Value-want[f.Name]) > 1e-9*math.Max(1, math.Abs(want[f.Name])) {
						t.Errorf("gap %d: %s = %v, want %v", gap, f.Name, f.Value, want[f.Name])
					}
					if f.Raw != raws[f.Name] {
						t.Errorf("gap %d: %s raw %q, want %q", gap, f.Name, f.Raw, raws[f.Name])
					}
				}
			}
		})
	}
}

// TestInteropCollector runs the collector against each server and checks
// the readings it submits.
func TestInteropCollector(t *testing.T) {
	for _, srv := range servers() {
		t.Run(srv.name, func(t *testing.T) {
			im, prof, want, _ := vectorSetup(10)
			addr := srv.start(t, im)
			sink := &testSink{}
			clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
			d := testDeviceAt(srv.transport, addr, prof.Name)
			d.Interval = 100 * time.Millisecond
			d.Timeout = time.Second
			c := startCollector(t, Options{Sink: sink, Now: func() time.Time { return clock },
				Profiles: func(string) (Profile, bool) { return prof, true }}, []Device{d})
			waitFor(t, "readings", func() bool { return sink.count("dev/aii_pa") >= 2 })
			for name, w := range want {
				r, ok := sink.latest("dev/" + name)
				if !ok {
					t.Errorf("no reading of %s", name)
					continue
				}
				f := prof.Fields[fieldIndex(prof, name)]
				if r.Metric != f.Metric || math.Abs(r.Value-w) > 1e-9*math.Max(1, math.Abs(w)) {
					t.Errorf("%s: %+v, want %v %v", name, r, f.Metric, w)
				}
				if !r.Time.Equal(clock) || r.Time.Location() != time.UTC {
					t.Errorf("%s: time %v, want %v in UTC", name, r.Time, clock)
				}
			}
			st, ok := status(c, 1)
			if !ok || !st.Online || st.ConsecutiveFailures != 0 || len(st.Values) != len(prof.Fields) {
				t.Errorf("status: %+v", st)
			}
		})
	}
}

func fieldIndex(p Profile, name string) int {
	for i, f := range p.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// TestInteropExceptions reads registers the servers do not have: only the
// fields concerned fail, with the mapped message; a merged read that hits
// a hole is split so its good fields still read.
func TestInteropExceptions(t *testing.T) {
	im := image{HoldingRegisters: []uint16{100, 1, 2, 3, 4, 5, 6, 7, 8, 109}, InputRegisters: []uint16{7}, Coils: []bool{true}, DiscreteInputs: []bool{true}}
	temp := func(name string, table Table, addr uint16) Field {
		return Field{Name: name, Metric: wardwatch.MetricTemperature, Table: table, Address: addr, Type: TypeInt16, Order: OrderABCD, Scale: 0.1, Unit: UnitCelsius}
	}
	prof := Profile{Name: "holes", MaxGap: 125, Fields: []Field{
		temp("first", TableHoldingRegister, 0),
		temp("last", TableHoldingRegister, 9),
		temp("past_end", TableHoldingRegister, 12), // merged with first and last
		temp("far", TableHoldingRegister, 5000),
		temp("input_missing", TableInputRegister, 5),
		{Name: "coil_missing", Metric: wardwatch.MetricAlarm, Table: TableCoil, Address: 100, Type: TypeBit, Scale: 1},
	}}
	if err := prof.Validate(); err != nil {
		t.Fatal(err)
	}
	good := map[string]float64{"first": 10, "last": 10.9}
	for _, srv := range servers() {
		t.Run(srv.name, func(t *testing.T) {
			addr := srv.start(t, im)
			res, err := TestDevice(context.Background(), testDeviceAt(srv.transport, addr, prof.Name), prof)
			if err != nil {
				t.Fatalf("exceptions are field errors, not a failed test: %v", err)
			}
			for _, f := range res.Fields {
				if w, ok := good[f.Name]; ok {
					if f.Error != "" || math.Abs(f.Value-w) > 1e-9 {
						t.Errorf("%s: %v %q, want %v", f.Name, f.Value, f.Error, w)
					}
					continue
				}
				if !strings.Contains(f.Error, "exception 2 (illegal data address)") || !strings.Contains(f.Error, "0-based") {
					t.Errorf("%s: error %q, want the illegal data address message", f.Name, f.Error)
				}
			}

			reg := prometheus.NewPedanticRegistry()
			sink := &testSink{}
			d := testDeviceAt(srv.transport, addr, prof.Name)
			d.Interval = 100 * time.Millisecond
			c := startCollector(t, Options{Sink: sink, Registerer: reg, Profiles: func(string) (Profile, bool) { return prof, true }}, []Device{d})
			waitFor(t, "two polls", func() bool { return sink.count("dev/first") >= 2 })
			st, _ := status(c, 1)
			if !st.Online || !strings.Contains(st.LastError, "exception 2") {
				t.Errorf("a device that answers with exceptions is online with the exception as its error: %+v", st)
			}
			if n := testutil.ToFloat64(c.met.polls.WithLabelValues("exception")); n < 2 {
				t.Errorf("polls_total{result=exception} = %v", n)
			}
			if sink.count("dev/past_end") != 0 || sink.count("dev/last") < 2 {
				t.Errorf("readings: past_end %d, last %d", sink.count("dev/past_end"), sink.count("dev/last"))
			}
		})
	}
}

// TestSimUnknownUnit: a gateway without the unit answers exception 11.
func TestSimUnknownUnit(t *testing.T) {
	s, err := modbussim.Start(context.Background(), "127.0.0.1:0", nil, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, _ := BuiltinProfile(ProfileFridge)
	d := testDeviceAt(TransportTCP, s.Addr(), p.Name)
	d.UnitID = 42
	res, err := TestDevice(context.Background(), d, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Fields {
		if !strings.Contains(f.Error, "exception 11") || !strings.Contains(f.Error, "check the unit id") {
			t.Errorf("%s: %q", f.Name, f.Error)
		}
	}
}

// TestTimeout: a device that accepts connections but never answers times
// out, is marked offline after two polls, and does not hold up a device on
// another bus.
func TestTimeout(t *testing.T) {
	silent := silentServer(t)
	p, _ := BuiltinProfile(ProfileFridge)
	d := testDeviceAt(TransportTCP, silent, p.Name)
	d.Timeout = 200 * time.Millisecond
	res, err := TestDevice(context.Background(), d, p)
	if wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE || !strings.Contains(wardwatch.ErrorMessage(err), "no answer from "+silent+" unit 1 within 200ms") {
		t.Fatalf("err = %v", err)
	}
	for _, f := range res.Fields {
		if !strings.Contains(f.Error, "no answer") {
			t.Errorf("%s: %q", f.Name, f.Error)
		}
	}

	s, err := modbussim.Start(context.Background(), "127.0.0.1:0", modbussim.DemoDevices(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sink := &testSink{}
	reg := prometheus.NewPedanticRegistry()
	hung := Device{ID: 1, Name: "hung", Transport: TransportTCP, Address: silent, UnitID: 1, Profile: ProfileFridge, Interval: 100 * time.Millisecond, Timeout: 150 * time.Millisecond, Enabled: true}
	fine := Device{ID: 2, Name: "fine", Transport: TransportTCP, Address: s.Addr(), UnitID: 1, Profile: ProfileFridge, Interval: 100 * time.Millisecond, Timeout: time.Second, Enabled: true}
	c := startCollector(t, Options{Sink: sink, Registerer: reg, MaxBackoff: 200 * time.Millisecond}, []Device{hung, fine})
	waitFor(t, "the hung device to be reported offline", func() bool {
		_, ok := sink.changedTo(1, false, 0)
		return ok
	})
	n := sink.count("fine/cabinet")
	waitFor(t, "the other device to keep polling", func() bool { return sink.count("fine/cabinet") >= n+5 })
	st, _ := status(c, 1)
	if !strings.Contains(st.LastError, "no answer") || !st.LastOK.IsZero() {
		t.Errorf("hung status: %+v", st)
	}
	if v := testutil.ToFloat64(c.met.polls.WithLabelValues("timeout")); v < 2 {
		t.Errorf("polls_total{result=timeout} = %v", v)
	}
	if v := testutil.ToFloat64(c.met.online); v != 1 {
		t.Errorf("devices_online = %v, want 1", v)
	}
}

// TestConnectionRefused: nothing listens; the status says so.
func TestConnectionRefused(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p, _ := BuiltinProfile(ProfileRoomPressure)
	_, err := TestDevice(context.Background(), testDeviceAt(TransportTCP, addr, p.Name), p)
	if wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE || !strings.Contains(wardwatch.ErrorMessage(err), "refused") {
		t.Errorf("err = %v", err)
	}
	_, err = TestDevice(context.Background(), testDeviceAt(TransportRTUOverTCP, addr, p.Name), p)
	if wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE || !strings.Contains(wardwatch.ErrorMessage(err), "refused") {
		t.Errorf("rtu-over-tcp: err = %v", err)
	}
}

// restartCase is a server that can be killed and started again on the
// same address.
type restartCase struct {
	name      string
	transport string
	start     func(t *testing.T) (addr string, stop, restart func())
}

// TestRestart kills the server under a running collector: the device goes
// offline, and when the server comes back on the same port the collector
// reconnects by itself and the device is online again.
func TestRestart(t *testing.T) {
	im, prof, _, _ := vectorSetup(10)
	cases := []restartCase{
		{"pymodbus/tcp", TransportTCP, func(t *testing.T) (string, func(), func()) {
			s := startPython(t, im, "socket")
			return s.addr(), s.stop, s.start
		}},
		{"pymodbus/rtu-over-tcp", TransportRTUOverTCP, func(t *testing.T) (string, func(), func()) {
			s := startPython(t, im, "rtu")
			return s.addr(), s.stop, s.start
		}},
		{"modbussim/tcp", TransportTCP, func(t *testing.T) (string, func(), func()) {
			s, err := modbussim.Start(context.Background(), "127.0.0.1:0", []modbussim.SimDevice{im.simDevice(1)}, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			addr := s.Addr()
			t.Cleanup(func() { s.Close() })
			return addr, func() { s.Close() }, func() {
				s, err = modbussim.Start(context.Background(), addr, []modbussim.SimDevice{im.simDevice(1)}, 1, nil)
				if err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, stop, restart := tc.start(t)
			sink := &testSink{}
			reg := prometheus.NewPedanticRegistry()
			d := testDeviceAt(tc.transport, addr, prof.Name)
			d.Interval, d.Timeout = 100*time.Millisecond, 300*time.Millisecond
			c := startCollector(t, Options{Sink: sink, Registerer: reg, MaxBackoff: 300 * time.Millisecond,
				Profiles: func(string) (Profile, bool) { return prof, true }}, []Device{d})
			var seen int
			waitFor(t, "online", func() (ok bool) { seen, ok = sink.changedTo(1, true, 0); return })
			stop()
			waitFor(t, "offline after the server died", func() (ok bool) { seen, ok = sink.changedTo(1, false, seen); return })
			n := sink.count("dev/aii_pa")
			restart()
			waitFor(t, "online again", func() (ok bool) { seen, ok = sink.changedTo(1, true, seen); return })
			waitFor(t, "readings again", func() bool { return sink.count("dev/aii_pa") >= n+3 })
			if v := testutil.ToFloat64(c.met.reconnects); v < 1 {
				t.Errorf("reconnects_total = %v", v)
			}
			st, _ := status(c, 1)
			if !st.Online || st.ConsecutiveFailures != 0 || st.LastError == "" {
				t.Errorf("status after recovery: %+v", st)
			}
		})
	}
}

// TestLateReply: a reply that arrives after the timeout must not be taken
// for the answer to the next request (goburrow would do so forever).
func TestLateReply(t *testing.T) {
	im, prof, want, _ := vectorSetup(0)
	for _, tc := range []struct {
		name      string
		transport string
		start     func(context.Context, string, []modbussim.SimDevice, int64, func() time.Time) (*modbussim.Server, error)
	}{{"tcp", TransportTCP, modbussim.Start}, {"rtu-over-tcp", TransportRTUOverTCP, modbussim.StartRTUOverTCP}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.start(context.Background(), "127.0.0.1:0", []modbussim.SimDevice{im.simDevice(1)}, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sink := &testSink{}
			reg := prometheus.NewPedanticRegistry()
			d := testDeviceAt(tc.transport, s.Addr(), prof.Name)
			d.Interval, d.Timeout = 100*time.Millisecond, 150*time.Millisecond
			c := startCollector(t, Options{Sink: sink, Registerer: reg, MaxBackoff: 200 * time.Millisecond,
				Profiles: func(string) (Profile, bool) { return prof, true }}, []Device{d})
			waitFor(t, "readings", func() bool { return sink.count("dev/aii_pa") >= 1 })
			s.SetDelay(1, 250*time.Millisecond)
			waitFor(t, "timeouts", func() bool { return testutil.ToFloat64(c.met.polls.WithLabelValues("timeout")) >= 2 })
			s.SetDelay(1, 0)
			n := sink.count("dev/aii_pa")
			waitFor(t, "recovery", func() bool { return sink.count("dev/aii_pa") >= n+5 })
			if v := testutil.ToFloat64(c.met.polls.WithLabelValues("error")); v != 0 {
				t.Errorf("polls_total{result=error} = %v: a late reply desynchronised the connection", v)
			}
			for name, w := range want {
				if r, _ := sink.latest("dev/" + name); math.Abs(r.Value-w) > 1e-9*math.Max(1, math.Abs(w)) {
					t.Errorf("%s = %v after recovery, want %v", name, r.Value, w)
				}
			}
		})
	}
}
