package modbussim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"runtime"
	"testing"
	"time"
)

// pdu builds a read request PDU.
func pdu(fc byte, addr, qty uint16) []byte {
	p := []byte{fc, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(p[1:], addr)
	binary.BigEndian.PutUint16(p[3:], qty)
	return p
}

func newTestServer(t *testing.T, devices []SimDevice, now func() time.Time) *Server {
	t.Helper()
	s, err := Start(context.Background(), "127.0.0.1:0", devices, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCRC(t *testing.T) {
	// The worked example of the Modbus serial line guide: read 10 holding
	// registers of unit 1 from address 0 ends in C5 CD.
	frame := []byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A}
	if got := crc16(frame); got != 0xCDC5 {
		t.Errorf("crc16 = %04X, want CDC5 (sent C5 CD)", got)
	}
	if !crcOK(append(frame, 0xC5, 0xCD)) || crcOK(append(frame, 0xCD, 0xC5)) {
		t.Error("crcOK")
	}
}

func TestRespond(t *testing.T) {
	static := SimDevice{UnitID: 1, Kind: KindStatic, HoldingRegisters: []uint16{1, 2, 3}, InputRegisters: []uint16{9},
		Coils: []bool{true, false, true, true, false, false, false, false, true}, DiscreteInputs: []bool{false, true}}
	s := newTestServer(t, []SimDevice{static, {UnitID: 2, Kind: KindVaccineFridge}, {UnitID: 3, Kind: KindStatic}}, nil)
	s.SetSilent(3, true)
	tests := []struct {
		name    string
		unit    byte
		req     []byte
		gateway bool
		want    []byte // nil: no answer
	}{
		{"holding registers", 1, pdu(3, 0, 3), true, []byte{3, 6, 0, 1, 0, 2, 0, 3}},
		{"input register", 1, pdu(4, 0, 1), true, []byte{4, 2, 0, 9}},
		{"coils packed LSB first", 1, pdu(1, 0, 9), true, []byte{1, 2, 0b0000_1101, 0b1}},
		{"discrete inputs", 1, pdu(2, 1, 1), true, []byte{2, 1, 1}},
		{"past the end", 1, pdu(3, 1, 3), true, []byte{0x83, 2}},
		{"empty table", 1, pdu(4, 1, 1), true, []byte{0x84, 2}},
		{"quantity 0", 1, pdu(3, 0, 0), true, []byte{0x83, 3}},
		{"126 registers", 1, pdu(3, 0, 126), true, []byte{0x83, 3}},
		{"2001 coils", 1, pdu(1, 0, 2001), true, []byte{0x81, 3}},
		{"address wraps", 1, pdu(3, 65535, 2), true, []byte{0x83, 2}},
		{"short request", 1, []byte{3, 0, 0}, true, []byte{0x83, 3}},
		{"long request", 1, append(pdu(3, 0, 1), 0), true, []byte{0x83, 3}},
		{"write single register refused", 1, []byte{6, 0, 0, 0, 1}, true, []byte{0x86, 1}},
		{"write multiple refused", 1, []byte{16, 0, 0, 0, 1, 2, 0, 1}, true, []byte{0x90, 1}},
		{"unknown unit behind a gateway", 9, pdu(3, 0, 1), true, []byte{0x83, 11}},
		{"unknown unit on a serial line", 9, pdu(3, 0, 1), false, nil},
		{"silent unit", 3, pdu(3, 0, 1), true, nil},
		{"fridge probe", 2, pdu(3, 256, 2), true, nil}, // checked below
		{"fridge unmapped", 2, pdu(3, 301, 1), true, []byte{0x83, 2}},
		{"fridge coils", 2, pdu(1, 512, 17), true, nil},
		{"empty PDU", 1, nil, true, nil},
	}
	for _, tt := range tests {
		got := s.respond(tt.unit, tt.req, tt.gateway)
		if tt.name == "fridge probe" || tt.name == "fridge coils" {
			if len(got) < 2 || got[0] != tt.req[0] || int(got[1]) != len(got)-2 {
				t.Errorf("%s: % X", tt.name, got)
			}
			continue
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s: % X, want % X", tt.name, got, tt.want)
		}
	}
	if n := s.FunctionCounts()[6]; n != 1 {
		t.Errorf("function code 6 counted %d times", n)
	}
}

func TestReadTCPFrame(t *testing.T) {
	frame := func(proto, length uint16, rest ...byte) []byte {
		b := []byte{0x12, 0x34, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(b[2:], proto)
		binary.BigEndian.PutUint16(b[4:], length)
		return append(b, rest...)
	}
	var buf [maxTCPADU]byte
	hdr, p, err := readTCPFrame(bytes.NewReader(frame(0, 6, 7, 3, 0, 1, 0, 2)), buf[:])
	if err != nil || hdr.txn != 0x1234 || hdr.unit != 7 || !bytes.Equal(p, []byte{3, 0, 1, 0, 2}) {
		t.Errorf("good frame: %+v % X %v", hdr, p, err)
	}
	for name, in := range map[string][]byte{
		"protocol id 1": frame(1, 6, 7, 3, 0, 1, 0, 2),
		"length 1":      frame(0, 1, 7),
		"length 255":    frame(0, 255, 7),
	} {
		if _, _, err := readTCPFrame(bytes.NewReader(in), buf[:]); !errors.Is(err, errFrame) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := readTCPFrame(bytes.NewReader(frame(0, 6, 7, 3)), buf[:]); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: %v", err)
	}
	if _, _, err := readTCPFrame(bytes.NewReader(nil), buf[:10]); err == nil {
		t.Error("small buffer accepted")
	}
}

func TestReadRTURequest(t *testing.T) {
	withCRC := func(b ...byte) []byte { return binary.LittleEndian.AppendUint16(b, crc16(b)) }
	var buf [maxRTUADU]byte
	good := withCRC(1, 3, 0, 0, 0, 10)
	if n, err := readRTURequest(bytes.NewReader(good), buf[:]); err != nil || n != 8 {
		t.Errorf("read: %d %v", n, err)
	}
	bad := append([]byte(nil), good...)
	bad[7] ^= 1
	if n, err := readRTURequest(bytes.NewReader(bad), buf[:]); !errors.Is(err, errCRC) || n != 8 {
		t.Errorf("bad CRC: %d %v", n, err)
	}
	write := withCRC(1, 16, 0, 0, 0, 2, 4, 0, 1, 0, 2)
	if n, err := readRTURequest(bytes.NewReader(write), buf[:]); err != nil || n != len(write) {
		t.Errorf("write multiple: %d %v", n, err)
	}
	if n, err := readRTURequest(bytes.NewReader(withCRC(1, 43, 14, 1, 0)), buf[:]); !errors.Is(err, errUnknownLength) || n != 2 {
		t.Errorf("unknown function: %d %v", n, err)
	}
	if _, err := readRTURequest(bytes.NewReader([]byte{1, 16, 0, 0, 0, 2, 255}), buf[:]); !errors.Is(err, errUnknownLength) {
		t.Errorf("oversized byte count: %v", err)
	}
}

// exchange sends one raw frame and reads the answer, or reports none
// within wait.
func exchange(t *testing.T, conn net.Conn, frame []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	defer conn.SetReadDeadline(time.Time{})
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		return nil
	}
	// Let the rest of the frame arrive.
	conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	for {
		m, err := conn.Read(buf[n:])
		n += m
		if err != nil {
			return buf[:n]
		}
	}
}

func TestTCPWire(t *testing.T) {
	s := newTestServer(t, []SimDevice{{UnitID: 5, Kind: KindStatic, HoldingRegisters: []uint16{0xBEEF}}}, nil)
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got := exchange(t, conn, []byte{0xAB, 0xCD, 0, 0, 0, 6, 5, 3, 0, 0, 0, 1}, time.Second)
	want := []byte{0xAB, 0xCD, 0, 0, 0, 5, 5, 3, 2, 0xBE, 0xEF}
	if !bytes.Equal(got, want) {
		t.Errorf("answer % X, want % X", got, want)
	}
	// A frame with another protocol id cannot be trusted: the server
	// hangs up.
	if _, err := conn.Write([]byte{0, 1, 0, 9, 0, 6, 5, 3, 0, 0, 0, 1}); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(liveness))
	if _, err := conn.Read(make([]byte, 10)); err == nil {
		t.Error("connection still open after a bad frame")
	}
}

const liveness = 20 * time.Second

func TestRTUOverTCPWire(t *testing.T) {
	s, err := StartRTUOverTCP(context.Background(), "127.0.0.1:0", []SimDevice{{UnitID: 5, Kind: KindStatic, HoldingRegisters: []uint16{0xBEEF}}}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	withCRC := func(b ...byte) []byte { return binary.LittleEndian.AppendUint16(b, crc16(b)) }
	if got := exchange(t, conn, []byte{5, 3, 0, 0, 0, 1, 0, 0}, 300*time.Millisecond); got != nil {
		t.Errorf("answer to a frame with a bad CRC: % X", got)
	}
	if got, want := exchange(t, conn, withCRC(5, 3, 0, 0, 0, 1), time.Second), withCRC(5, 3, 2, 0xBE, 0xEF); !bytes.Equal(got, want) {
		t.Errorf("answer % X, want % X", got, want)
	}
	if got, want := exchange(t, conn, withCRC(5, 43, 14, 1, 0), time.Second), withCRC(5, 0xAB, 1); !bytes.Equal(got, want) {
		t.Errorf("unknown function: % X, want % X", got, want)
	}
	if got := exchange(t, conn, withCRC(0, 3, 0, 0, 0, 1), 300*time.Millisecond); got != nil {
		t.Errorf("answer to a broadcast: % X", got)
	}
	if got := exchange(t, conn, withCRC(9, 3, 0, 0, 0, 1), 300*time.Millisecond); got != nil {
		t.Errorf("answer for a unit not on the line: % X", got)
	}
}

func TestSilentAndDelay(t *testing.T) {
	s := newTestServer(t, []SimDevice{{UnitID: 1, Kind: KindStatic, HoldingRegisters: []uint16{1}}}, nil)
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := []byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1}
	s.SetSilent(1, true)
	if got := exchange(t, conn, req, 200*time.Millisecond); got != nil {
		t.Errorf("silent unit answered % X", got)
	}
	s.SetSilent(1, false)
	s.SetDelay(1, 300*time.Millisecond)
	if got := exchange(t, conn, req, 100*time.Millisecond); got != nil {
		t.Errorf("delayed unit answered early: % X", got)
	}
	if got := exchange(t, conn, nil, time.Second); len(got) != 11 {
		t.Errorf("the late answer: % X", got)
	}
	s.SetSilent(99, true) // unknown units are ignored
	s.SetDelay(99, time.Second)
}

func TestLifecycle(t *testing.T) {
	baseline := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, "127.0.0.1:0", DemoDevices(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	conns := make([]net.Conn, 3)
	for i := range conns {
		if conns[i], err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
		defer conns[i].Close()
	}
	cancel() // ending the context closes the server and its connections
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(liveness))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("connection open after the context ended")
		}
	}
	s.Close()
	s.Close() // twice is fine
	deadline := time.Now().Add(liveness)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), baseline)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The address can be served again at once.
	s2, err := Start(context.Background(), addr, nil, 1, nil)
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	s2.Close()

	if _, err := Start(context.Background(), "127.0.0.1:0", []SimDevice{{UnitID: 1, Kind: KindFreezer}, {UnitID: 1, Kind: KindFreezer}}, 1, nil); err == nil {
		t.Error("duplicate unit ids accepted")
	}
	if _, err := Start(context.Background(), "127.0.0.1:0", []SimDevice{{UnitID: 1, Kind: "toaster"}}, 1, nil); err == nil {
		t.Error("unknown kind accepted")
	}
}

// TestDeterministic: the same seed and clock give the same registers; a
// different seed gives different ones.
func TestDeterministic(t *testing.T) {
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	read := func(seed int64) [][]byte {
		s, err := Start(context.Background(), "127.0.0.1:0", DemoDevices(), seed, clock)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var out [][]byte
		for _, d := range DemoDevices() {
			for _, req := range [][]byte{pdu(3, 256, 2), pdu(3, 0, 4), pdu(4, 0, 8), pdu(1, 512, 17)} {
				out = append(out, s.respond(d.UnitID, req, true))
			}
		}
		return out
	}
	a, b, c := read(1), read(1), read(2)
	differs := false
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("same seed, different answer %d: % X vs % X", i, a[i], b[i])
		}
		differs = differs || !bytes.Equal(a[i], c[i])
	}
	if !differs {
		t.Error("seeds 1 and 2 give identical registers")
	}
}

// TestModels runs the models over a simulated week at one-minute steps.
func TestModels(t *testing.T) {
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	const minutes = 7 * 24 * 60
	fridges := 0
	excursions := 0
	for _, sd := range DemoDevices() {
		d := &device{SimDevice: sd, seed: 1}
		var in, doorMinutes, warmAfterDoor, n int
		lo, hi := math.Inf(1), math.Inf(-1)
		for m := range minutes {
			at := start.Add(time.Duration(m)*time.Minute + time.Duration(m%60)*time.Second) // sample every second of the minute over the hour
			switch img := d.snapshot(at).(type) {
			case fridgeImage:
				n++
				lo, hi = min(lo, img.cabinet), max(hi, img.cabinet)
				set := 5.0
				if sd.Kind == KindFreezer {
					set = -20
				}
				if sd.Setpoint != 0 {
					set = sd.Setpoint
				}
				band := 2.0 // a fridge holds ±2 °C, a freezer ±3 °C
				if sd.Kind == KindFreezer {
					band = 3
				}
				if math.Abs(img.cabinet-set) < band {
					in++
				}
				if img.door {
					doorMinutes++
				}
				if sd.Kind == KindVaccineFridge && img.cabinet > 8 {
					warmAfterDoor++
				}
			case pressureImage:
				n++
				if math.Signbit(img.pa) == math.Signbit(sd.Setpoint) {
					in++
				}
				if img.door {
					doorMinutes++
				}
			case roomImage:
				n++
				if img.temp > 20 && img.temp < 25 && img.rh > 30 && img.rh < 60 {
					in++
				}
			}
		}
		if frac := float64(in) / float64(n); frac < 0.95 {
			t.Errorf("%s: in its normal range only %.1f %% of the week", sd.Name, 100*frac)
		}
		switch sd.Kind {
		case KindVaccineFridge, KindFreezer:
			fridges++
			if doorMinutes < 50 || doorMinutes > 1000 {
				t.Errorf("%s: door open in %d minutes of the week", sd.Name, doorMinutes)
			}
			if sd.Kind == KindVaccineFridge && (lo < 2 || hi > 12) {
				t.Errorf("%s: %.1f…%.1f °C", sd.Name, lo, hi)
			}
			if warmAfterDoor > 0 {
				excursions++
			}
		case KindPressureMonitor:
			if doorMinutes == 0 {
				t.Errorf("%s: the door never opened", sd.Name)
			}
		}
	}
	if excursions == 0 {
		t.Error("no vaccine fridge left 2–8 °C in a week: the demo shows no excursion")
	}
	if fridges != 5 {
		t.Errorf("%d fridges and freezers in the demo", fridges)
	}
}
