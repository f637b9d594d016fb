package modbus

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/sim/modbussim"
)

// startSim starts the simulator with devices until the test ends.
func startSim(t *testing.T, devices []modbussim.SimDevice) *modbussim.Server {
	t.Helper()
	s, err := modbussim.Start(context.Background(), "127.0.0.1:0", devices, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func simDevice(id int64, name, addr string, unit byte, profile string) Device {
	return Device{ID: id, Name: name, Transport: TransportTCP, Address: addr, UnitID: unit, Profile: profile,
		Interval: 100 * time.Millisecond, Timeout: time.Second, Enabled: true}
}

// TestSetDevices changes the device set under a running collector: added
// devices start, removed and disabled ones stop, changed ones restart,
// invalid ones show their error; when Run ends every goroutine is gone.
func TestSetDevices(t *testing.T) {
	// The simulator's clock stands still at a moment when the isolation
	// room's door is shut (its pressure collapses while the door is open,
	// at random minutes of the wall clock): the values are repeatable.
	still := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
	s, err := modbussim.Start(context.Background(), "127.0.0.1:0", modbussim.DemoDevices(), 7, func() time.Time { return still })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	baseline := runtime.NumGoroutine()

	sink := &testSink{}
	reg := prometheus.NewPedanticRegistry()
	c := NewCollector(Options{Sink: sink, Registerer: reg})
	fridge := simDevice(1, "fridge", s.Addr(), 1, ProfileFridge)
	c.SetDevices([]Device{fridge})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	waitFor(t, "fridge readings", func() bool { return sink.count("fridge/cabinet") >= 2 })

	// Add a pressure monitor, an invalid device, a device with an unknown
	// profile, a second device of the same name, and a disabled device.
	room := simDevice(2, "room", s.Addr(), 7, ProfileRoomPressure)
	bad := simDevice(3, "bad", "nowhere", 1, ProfileFridge)
	unknown := simDevice(4, "unknown", s.Addr(), 1, "no-such-profile")
	twin := simDevice(5, "fridge", s.Addr(), 2, ProfileFridge)
	off := simDevice(6, "off", s.Addr(), 3, ProfileFridge)
	off.Enabled = false
	c.SetDevices([]Device{fridge, room, bad, unknown, twin, off})
	waitFor(t, "room readings", func() bool { return sink.count("room/pressure") >= 2 })
	if r, _ := sink.latest("room/pressure"); r.Value > -2 || r.Value < -12 {
		t.Errorf("isolation room pressure %v Pa, want about -8", r.Value)
	}
	sts := c.Status()
	if len(sts) != 5 {
		t.Fatalf("status of %d devices, want 5 (the disabled one is left out): %+v", len(sts), sts)
	}
	for _, want := range []struct {
		id  int64
		msg string
	}{{3, "must be host:port"}, {4, `no profile named "no-such-profile"`}, {5, "already used by device 1"}} {
		st, _ := status(c, want.id)
		if st.Online || !strings.Contains(st.LastError, want.msg) {
			t.Errorf("device %d: %+v, want error %q", want.id, st, want.msg)
		}
	}
	waitFor(t, "status changes for the unpollable devices", func() bool {
		n := 0
		for _, id := range []int64{3, 4, 5} {
			if _, ok := sink.changedTo(id, false, 0); ok {
				n++
			}
		}
		return n == 3
	})

	// Change the fridge's profile (now read as a room transmitter on unit
	// 6) and drop the room: the old fridge stops, the new one starts.
	changed := fridge
	changed.UnitID, changed.Profile = 6, ProfileTHFloat
	c.SetDevices([]Device{changed})
	waitFor(t, "the changed device's readings", func() bool { return sink.count("fridge/humidity") >= 2 })
	cab, rooms := sink.count("fridge/cabinet"), sink.count("room/pressure")
	n := sink.count("fridge/humidity")
	waitFor(t, "more polls", func() bool { return sink.count("fridge/humidity") >= n+5 })
	if sink.count("fridge/cabinet") > cab+1 || sink.count("room/pressure") > rooms+1 {
		t.Errorf("removed devices still poll: cabinet %d→%d, room %d→%d", cab, sink.count("fridge/cabinet"), rooms, sink.count("room/pressure"))
	}
	if sts := c.Status(); len(sts) != 1 || sts[0].DeviceID != 1 || len(sts[0].Values) != 3 || sts[0].Values[0].Field != "humidity" {
		t.Errorf("status after the change: %+v", sts)
	}
	if v := testutil.ToFloat64(c.met.devices); v != 1 {
		t.Errorf("devices gauge %v, want 1", v)
	}

	// Disable everything.
	changed.Enabled = false
	c.SetDevices([]Device{changed})
	waitFor(t, "no devices", func() bool { return len(c.Status()) == 0 })

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the collector's goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
	if err := c.Run(context.Background()); err == nil {
		t.Error("a second Run was accepted")
	}
}

// TestBusOneRequestAtATime puts several devices behind one address: the
// collector must use one connection and never have two requests out.
func TestBusOneRequestAtATime(t *testing.T) {
	s := startSim(t, modbussim.DemoDevices())
	proxy := startCountingProxy(t, s.Addr())
	sink := &testSink{}
	var ds []Device
	for i, sd := range modbussim.DemoDevices() {
		d := simDevice(int64(i+1), sd.Name, proxy.addr, sd.UnitID, sd.Kind.Profile())
		d.Interval = 100 * time.Millisecond
		ds = append(ds, d)
	}
	c := startCollector(t, Options{Sink: sink}, ds)
	for _, d := range ds {
		p, _ := BuiltinProfile(d.Profile)
		waitFor(t, d.Name+" readings", func() bool { return sink.count(d.Name+"/"+p.Fields[0].Name) >= 5 })
	}
	// A trial poll of a device on the same bus takes its turn on it too.
	res, err := c.TestDevice(context.Background(), ds[0], mustProfile(t, ds[0].Profile))
	if err != nil || res.Fields[0].Error != "" {
		t.Fatalf("TestDevice: %v %+v", err, res)
	}
	maxIn, conns := proxy.stats()
	if maxIn != 1 || conns != 1 {
		t.Errorf("%d requests outstanding at most over %d connections; want 1 over 1", maxIn, conns)
	}
	for _, st := range c.Status() {
		if !st.Online || st.LastError != "" {
			t.Errorf("%s: %+v", st.Name, st)
		}
	}
}

func mustProfile(t *testing.T, name string) Profile {
	t.Helper()
	p, ok := BuiltinProfile(name)
	if !ok {
		t.Fatalf("no profile %q", name)
	}
	return p
}

// TestFieldErrorsStayInTheirField: a NaN float and a fault value fail
// their fields only; the device stays online and the other fields read.
func TestFieldErrorsStayInTheirField(t *testing.T) {
	im := image{HoldingRegisters: []uint16{0x7FC0, 0x0000, 0x8000, 0x00C8, 0x0002}}
	prof := Profile{Name: "faults", Fields: []Field{
		{Name: "nan", Metric: wardwatch.MetricTemperature, Table: TableHoldingRegister, Address: 0, Type: TypeFloat32, Order: OrderABCD, Scale: 1, Unit: UnitCelsius},
		{Name: "probe", Metric: wardwatch.MetricTemperature, Table: TableHoldingRegister, Address: 2, Type: TypeInt16, Order: OrderABCD, Scale: 0.1, Unit: UnitCelsius, FaultValues: []int64{-32768}},
		{Name: "good", Metric: wardwatch.MetricTemperature, Table: TableHoldingRegister, Address: 3, Type: TypeInt16, Order: OrderABCD, Scale: 0.1, Unit: UnitCelsius},
		{Name: "state", Metric: wardwatch.MetricAlarm, Table: TableHoldingRegister, Address: 4, Type: TypeUint16, Order: OrderABCD, Scale: 1},
	}}
	s := startSim(t, []modbussim.SimDevice{im.simDevice(1)})
	sink := &testSink{fail: errors.New("store down")}
	reg := prometheus.NewPedanticRegistry()
	d := simDevice(1, "dev", s.Addr(), 1, prof.Name)
	c := startCollector(t, Options{Sink: sink, Registerer: reg, Profiles: func(string) (Profile, bool) { return prof, true }}, []Device{d})
	waitFor(t, "readings", func() bool { return sink.count("dev/good") >= 3 })
	if r, _ := sink.latest("dev/good"); r.Value != 20 {
		t.Errorf("good = %v", r.Value)
	}
	for _, name := range []string{"nan", "probe", "state"} {
		if n := sink.count("dev/" + name); n != 0 {
			t.Errorf("%s: %d readings of a rejected value", name, n)
		}
	}
	st, _ := status(c, 1)
	if !st.Online {
		t.Errorf("device offline: %+v", st)
	}
	wantErr := map[string]string{"nan": "NaN", "probe": "sensor fault (raw value -32768)", "state": "not a 0/1 state"}
	for _, v := range st.Values {
		if w := wantErr[v.Field]; w != "" && !strings.Contains(v.Error, w) {
			t.Errorf("%s error %q, want %q", v.Field, v.Error, w)
		}
		if v.Field == "good" && (v.Error != "" || v.Value != 20 || v.Time.IsZero() || v.Unit != "°C") {
			t.Errorf("good: %+v", v)
		}
	}
	for reason, min := range map[string]float64{reasonNotFinite: 3, reasonFaultValue: 3, reasonNotState: 3} {
		if v := testutil.ToFloat64(c.met.fieldErrors.WithLabelValues(reason)); v < min {
			t.Errorf("field_errors_total{reason=%s} = %v", reason, v)
		}
	}
	if v := testutil.ToFloat64(c.met.submitErrors); v < 3 {
		t.Errorf("submit_errors_total = %v: the sink's errors are not counted", v)
	}
	if v := testutil.ToFloat64(c.met.polls.WithLabelValues("ok")); v < 3 {
		t.Errorf("polls_total{result=ok} = %v", v)
	}
}

// TestMetricsRegistration: metric names are prefixed, labels bounded,
// and a second collector on the same registry is reported, not a panic.
func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	NewCollector(Options{Registerer: reg})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 7 {
		t.Errorf("%d metric families, want 7", len(mfs))
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "wardwatch_modbus_") {
			t.Errorf("metric %s lacks the prefix", mf.GetName())
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "result" && l.GetName() != "reason" {
					t.Errorf("%s has label %s", mf.GetName(), l.GetName())
				}
			}
		}
	}
	NewCollector(Options{Registerer: reg}) // logs the clash
}

// TestRunNeedsASink.
func TestRunNeedsASink(t *testing.T) {
	if err := NewCollector(Options{}).Run(context.Background()); err == nil {
		t.Error("Run without a sink")
	}
}

// TestReadOnly checks the package's source for anything that could write
// to a device: no write or read-write function codes, no write methods.
func TestReadOnly(t *testing.T) {
	forbidden := regexp.MustCompile(`\b(WriteSingleCoil|WriteMultipleCoils|WriteSingleRegister|WriteMultipleRegisters|MaskWriteRegister|ReadWriteMultipleRegisters|ReadFIFOQueue|FuncCodeWrite\w*|FuncCodeMaskWrite\w*|FuncCodeReadWrite\w*)\b`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if m := forbidden.Find(src); m != nil {
			t.Errorf("%s mentions %s: this package must never write to a device", f, m)
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d files", checked)
	}
}

// TestReadOnlyOnTheWire polls every kind of simulated device with the
// built-in profiles, including failing reads, and checks the server saw
// only read function codes.
func TestReadOnlyOnTheWire(t *testing.T) {
	s := startSim(t, modbussim.DemoDevices())
	for _, sd := range append(modbussim.DemoDevices(), modbussim.SimDevice{UnitID: 99, Kind: modbussim.KindVaccineFridge}) {
		for _, p := range BuiltinProfiles() {
			d := simDevice(1, "x", s.Addr(), sd.UnitID, p.Name)
			if _, err := TestDevice(context.Background(), d, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	for fc := range s.FunctionCounts() {
		if fc < 1 || fc > 4 {
			t.Errorf("the collector sent function code %d", fc)
		}
	}
}

// TestDemoDevicesMatchBuiltinProfiles reads every demo device with the
// profile its kind names: every field decodes to a plausible value.
func TestDemoDevicesMatchBuiltinProfiles(t *testing.T) {
	s := startSim(t, modbussim.DemoDevices())
	ranges := map[wardwatch.Metric][2]float64{
		wardwatch.MetricTemperature: {-40, 40},
		wardwatch.MetricHumidity:    {10, 90},
		wardwatch.MetricPressure:    {-20, 20},
		wardwatch.MetricAirChanges:  {6, 30},
		wardwatch.MetricDoorOpen:    {0, 1},
		wardwatch.MetricAlarm:       {0, 1},
	}
	for _, sd := range modbussim.DemoDevices() {
		p := mustProfile(t, sd.Kind.Profile())
		res, err := TestDevice(context.Background(), simDevice(1, sd.Name, s.Addr(), sd.UnitID, p.Name), p)
		if err != nil {
			t.Fatalf("%s: %v", sd.Name, err)
		}
		for _, f := range res.Fields {
			r := ranges[f.Metric]
			if f.Error != "" || f.Value < r[0] || f.Value > r[1] || math.IsNaN(f.Value) {
				t.Errorf("%s %s: %v %s (raw %s) %q", sd.Name, f.Name, f.Value, f.Unit, f.Raw, f.Error)
			}
		}
	}
}

// TestTestDeviceValidates: invalid input is EINVALID, before any I/O.
func TestTestDeviceValidates(t *testing.T) {
	p := mustProfile(t, ProfileFridge)
	_, err := TestDevice(context.Background(), Device{Name: "x", Transport: "udp", Address: "a:1", UnitID: 1, Profile: p.Name}, p)
	if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("bad transport: %v", err)
	}
	_, err = TestDevice(context.Background(), simDevice(1, "x", "127.0.0.1:1", 1, "p"), Profile{Name: "p"})
	if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("empty profile: %v", err)
	}
}

func TestDeviceValidate(t *testing.T) {
	ok := Device{Name: "Fridge 1", Transport: TransportTCP, Address: "10.0.0.5:502", UnitID: 1, Profile: "p"}
	serial := Device{Name: "Fridge 2", Transport: TransportRTU, Address: "/dev/ttyUSB0", UnitID: 1, Profile: "p"}
	tests := []struct {
		name string
		edit func(*Device)
		base Device
		want string // "" for valid
	}{
		{"valid tcp", func(*Device) {}, ok, ""},
		{"valid tcp unit 0", func(d *Device) { d.UnitID = 0 }, ok, ""},
		{"valid tcp unit 255", func(d *Device) { d.UnitID = 255 }, ok, ""},
		{"valid rtu defaults", func(*Device) {}, serial, ""},
		{"valid rtu 19200 8E1", func(d *Device) { d.Baud, d.Parity = 19200, "e" }, serial, ""},
		{"valid gateway", func(d *Device) { d.Transport = TransportRTUOverTCP }, ok, ""},
		{"valid ipv6", func(d *Device) { d.Address = "[fd00::5]:502" }, ok, ""},
		{"no name", func(d *Device) { d.Name = " " }, ok, "name is required"},
		{"slash in name", func(d *Device) { d.Name = "a/b" }, ok, "must not contain '/'"},
		{"control character", func(d *Device) { d.Name = "a\nb" }, ok, "control characters"},
		{"transport", func(d *Device) { d.Transport = "ascii" }, ok, "transport \"ascii\""},
		{"no port", func(d *Device) { d.Address = "10.0.0.5" }, ok, "host:port"},
		{"port 0", func(d *Device) { d.Address = "10.0.0.5:0" }, ok, "port must be 1…65535"},
		{"serial settings on tcp", func(d *Device) { d.Baud = 9600 }, ok, "apply only to transport rtu"},
		{"serial path", func(d *Device) { d.Address = "ttyUSB0" }, serial, "serial device path"},
		{"baud", func(d *Device) { d.Baud = 1000 }, serial, "baud 1000"},
		{"data bits", func(d *Device) { d.DataBits = 5 }, serial, "data bits 5"},
		{"parity", func(d *Device) { d.Parity = "M" }, serial, `parity "M"`},
		{"stop bits", func(d *Device) { d.StopBits = 3 }, serial, "stop bits 3"},
		{"broadcast on a bus", func(d *Device) { d.UnitID = 0 }, serial, "unit id 0"},
		{"unit 248 on a gateway", func(d *Device) { d.Transport, d.UnitID = TransportRTUOverTCP, 248 }, ok, "unit id 248"},
		{"no profile", func(d *Device) { d.Profile = "" }, ok, "profile is required"},
		{"interval too short", func(d *Device) { d.Interval = time.Millisecond }, ok, "interval 1ms"},
		{"interval too long", func(d *Device) { d.Interval = 48 * time.Hour }, ok, "interval 48h"},
		{"timeout too short", func(d *Device) { d.Timeout = time.Millisecond }, ok, "timeout 1ms"},
		{"negative timeout", func(d *Device) { d.Timeout = -time.Second }, ok, "timeout -1s"},
	}
	for _, tt := range tests {
		d := tt.base
		tt.edit(&d)
		err := d.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		case err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID:
			t.Errorf("%s: code %s", tt.name, wardwatch.ErrorCode(err))
		}
	}
}

func TestExceptionMessages(t *testing.T) {
	for code, want := range map[byte]string{1: "illegal function", 2: "0-based protocol address", 3: "illegal data value",
		4: "server device failure", 6: "busy", 10: "gateway path unavailable", 11: "check the unit id", 99: "unknown exception code"} {
		if got := ExceptionMessage(code); !strings.Contains(got, want) {
			t.Errorf("exception %d: %q lacks %q", code, got, want)
		}
	}
}

// TestPollConnectionHandling: a device alone on its bus and polled rarely
// gives its connection back after each poll; a connection left idle too
// long is replaced before use; neither counts as a reconnect.
func TestPollConnectionHandling(t *testing.T) {
	s := startSim(t, modbussim.DemoDevices())
	proxy := startCountingProxy(t, s.Addr())
	d := simDevice(1, "fridge", proxy.addr, 1, ProfileFridge)
	b := newBus(d)
	tg := newTarget(d, mustProfile(t, ProfileFridge))
	res, err := poll(context.Background(), b, tg, true, time.Now)
	if err != nil || res.kind != kindOK || b.connected {
		t.Fatalf("close after: %v %v connected=%v", err, res.kind, b.connected)
	}
	res, err = poll(context.Background(), b, tg, false, time.Now)
	if err != nil || res.kind != kindOK || !b.connected || res.reconnected {
		t.Fatalf("keep open: %v %v connected=%v reconnected=%v", err, res.kind, b.connected, res.reconnected)
	}
	b.lastUse = time.Now().Add(-2 * idleReconnect)
	res, err = poll(context.Background(), b, tg, false, time.Now)
	if err != nil || res.kind != kindOK || res.reconnected {
		t.Fatalf("idle: %v %v reconnected=%v", err, res.kind, res.reconnected)
	}
	if _, conns := proxy.stats(); conns != 3 {
		t.Errorf("%d connections, want 3 (closed after the first poll, replaced when idle)", conns)
	}
	b.drop(false)

	// A poll waiting for a busy bus gives up when its context ends.
	if err := b.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := poll(ctx, b, tg, false, time.Now); !errors.Is(err, context.Canceled) {
		t.Errorf("poll on a held bus with a cancelled context: %v", err)
	}
	b.release()
}
