package modbus

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/sim/modbussim"
)

// liveness bounds how long a test waits for something that should happen
// within a few polls. It is a deadlock guard, not a speed requirement.
const liveness = 20 * time.Second

// waitFor polls cond until it holds, failing the test after liveness.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testSink records what a collector hands over.
type testSink struct {
	mu       sync.Mutex
	readings []wardwatch.Reading
	changes  []DeviceStatus
	fail     error
}

func (s *testSink) SubmitReadings(_ context.Context, rs []wardwatch.Reading) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readings = append(s.readings, rs...)
	return s.fail
}

func (s *testSink) DeviceStatusChanged(st DeviceStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes = append(s.changes, st)
}

// latest returns the newest reading of a sensor.
func (s *testSink) latest(sensor string) (wardwatch.Reading, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.readings) - 1; i >= 0; i-- {
		if s.readings[i].SensorID == sensor {
			return s.readings[i], true
		}
	}
	return wardwatch.Reading{}, false
}

// count returns how many readings a sensor produced.
func (s *testSink) count(sensor string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.readings {
		if r.SensorID == sensor {
			n++
		}
	}
	return n
}

// changed reports whether a status change of device id to online arrived
// after the first `after` changes.
func (s *testSink) changedTo(id int64, online bool, after int) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := after; i < len(s.changes); i++ {
		if s.changes[i].DeviceID == id && s.changes[i].Online == online {
			return i + 1, true
		}
	}
	return len(s.changes), false
}

// startCollector runs a collector until the test ends and checks that Run
// returns.
func startCollector(t *testing.T, opts Options, ds []Device) *Collector {
	t.Helper()
	for _, d := range ds {
		if err := d.Validate(); err != nil {
			t.Fatalf("test device: %v", err)
		}
	}
	c := NewCollector(opts)
	c.SetDevices(ds)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(liveness):
			t.Error("Run did not return after its context ended")
		}
	})
	return c
}

// status returns a device's status from the collector.
func status(c *Collector, id int64) (DeviceStatus, bool) {
	for _, s := range c.Status() {
		if s.DeviceID == id {
			return s, true
		}
	}
	return DeviceStatus{}, false
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// python finds the python3 with pymodbus named by WARDWATCH_TEST_PYTHON3
// (scripts/ensure-pymodbus.sh prints it). Without it the test is skipped,
// or fails under CI=true.
func python(t *testing.T) string {
	t.Helper()
	p := os.Getenv("WARDWATCH_TEST_PYTHON3")
	if p == "" {
		msg := "WARDWATCH_TEST_PYTHON3 is not set: run scripts/ensure-pymodbus.sh and export its output to test against pymodbus"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// image is a register image for the pymodbus server and static sim
// devices, each table from address 0.
type image struct {
	Coils            []bool   `json:"coils"`
	DiscreteInputs   []bool   `json:"discrete_inputs"`
	HoldingRegisters []uint16 `json:"holding_registers"`
	InputRegisters   []uint16 `json:"input_registers"`
}

func (im image) simDevice(unit byte) modbussim.SimDevice {
	return modbussim.SimDevice{UnitID: unit, Name: fmt.Sprint("static ", unit), Kind: modbussim.KindStatic,
		Coils: im.Coils, DiscreteInputs: im.DiscreteInputs, HoldingRegisters: im.HoldingRegisters, InputRegisters: im.InputRegisters}
}

// pyServer is testdata/pymodbus_server.py on a loopback port.
type pyServer struct {
	t      *testing.T
	python string
	image  string
	framer string
	port   int
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *bytes.Buffer
}

// startPython starts the pymodbus server with im and waits until it
// accepts connections. framer is "socket" (Modbus TCP) or "rtu" (RTU over
// TCP).
func startPython(t *testing.T, im image, framer string) *pyServer {
	t.Helper()
	py := python(t)
	path := filepath.Join(t.TempDir(), "image.json")
	data, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &pyServer{t: t, python: py, image: path, framer: framer, port: freePort(t)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *pyServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *pyServer) start() {
	s.t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "testdata", "pymodbus_server.py")
	s.stderr = &bytes.Buffer{}
	s.cmd = exec.Command(s.python, script, "--port", strconv.Itoa(s.port), "--image", s.image, "--framer", s.framer)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start pymodbus server: %v", err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { _ = cmd.Wait(); close(exited) }(s.cmd, s.exited)
	deadline := time.Now().Add(liveness)
	for {
		conn, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-s.exited:
			s.t.Fatalf("pymodbus server exited: %s", s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("pymodbus server did not listen on %s: %v\n%s", s.addr(), err, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server (SIGKILL: a crash, not a clean shutdown).
func (s *pyServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// silentServer accepts TCP connections and reads requests but never
// answers: a device that hangs.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// countingProxy forwards Modbus TCP between clients and upstream and
// records the most requests it ever had outstanding at once, over all
// connections, and how many connections it accepted.
type countingProxy struct {
	addr     string
	mu       sync.Mutex
	inflight int
	maxIn    int
	conns    int
}

func startCountingProxy(t *testing.T, upstream string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var open []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns++
			open = append(open, c, up)
			p.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				defer up.Close()
				p.relay(c, up)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range open {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

// relay passes one request at a time from c to up and its answer back.
func (p *countingProxy) relay(c, up net.Conn) {
	for {
		req, err := readMBAP(c)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.inflight++
		p.maxIn = max(p.maxIn, p.inflight)
		p.mu.Unlock()
		_, err = up.Write(req)
		var resp []byte
		if err == nil {
			resp, err = readMBAP(up)
		}
		p.mu.Lock()
		p.inflight--
		p.mu.Unlock()
		if err != nil {
			return
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

func (p *countingProxy) stats() (maxInflight, conns int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxIn, p.conns
}

func readMBAP(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 6, 260)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[4:]))
	if n < 1 || n > 254 {
		return nil, errors.New("bad MBAP length")
	}
	rest := make([]byte, n)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, err
	}
	return append(hdr, rest...), nil
}
