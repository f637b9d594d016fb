//go:build linux

package modbus

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/wardwatch/wardwatch/sim/modbussim"
)

// openPTY opens a pseudo-terminal pair: the master, on which the
// simulator plays the RS-485 bus, and the slave's path, which the
// collector opens as its serial port through goburrow/serial.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	// Through SyscallConn, not Fd: Fd would switch the master to blocking
	// mode and out of the poller, and read deadlines would stop working.
	rc, err := m.SyscallConn()
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	var n uint32
	var errno syscall.Errno
	err = rc.Control(func(fd uintptr) {
		var unlock int32
		if _, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
			return
		}
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n)))
	})
	if err != nil || errno != 0 {
		m.Close()
		t.Fatalf("unlockpt/ptsname: %v %v", err, errno)
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	// Hold the slave open: while no slave is open, reads on the master
	// fail with EIO, and the collector opens and closes the port at will.
	s, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	// Raw mode, like a serial port: no echo, no line editing, no CR/LF
	// translation. goburrow/serial sets this too when it opens the port,
	// but restores the terminal's previous settings when it closes it.
	rs, err := s.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	err = rs.Control(func(fd uintptr) {
		var tio syscall.Termios
		if _, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); errno != 0 {
			return
		}
		tio.Iflag &^= syscall.IGNBRK | syscall.BRKINT | syscall.PARMRK | syscall.ISTRIP | syscall.INLCR | syscall.IGNCR | syscall.ICRNL | syscall.IXON
		tio.Oflag &^= syscall.OPOST
		tio.Lflag &^= syscall.ECHO | syscall.ECHONL | syscall.ICANON | syscall.ISIG | syscall.IEXTEN
		tio.Cflag = tio.Cflag&^(syscall.CSIZE|syscall.PARENB) | syscall.CS8
		tio.Cc[syscall.VMIN], tio.Cc[syscall.VTIME] = 1, 0
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&tio)))
	})
	if err != nil || errno != 0 {
		t.Fatalf("raw mode: %v %v", err, errno)
	}
	return m, path
}

// TestSerialRTU polls three devices on one serial bus (a pseudo-terminal
// with the simulator on its other end) through goburrow's RTU handler.
// goburrow's serial transporter has no lock of its own: only the bus lock
// keeps the devices' frames from colliding on the line.
func TestSerialRTU(t *testing.T) {
	master, path := openPTY(t)
	var devices []modbussim.SimDevice
	for _, sd := range modbussim.DemoDevices() {
		if sd.UnitID == 1 || sd.UnitID == 6 || sd.UnitID == 7 {
			devices = append(devices, sd)
		}
	}
	// The simulator's clock stands still at a moment when the fridge is in
	// range (its simulated door openings and excursions follow the wall
	// clock otherwise): the values are repeatable.
	still := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
	srv, err := modbussim.Start(context.Background(), "127.0.0.1:0", devices, 3, func() time.Time { return still })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.ServeRTU(ctx, master); err != nil {
			t.Errorf("ServeRTU: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		srv.Close()
		master.Close()
	})

	sink := &testSink{}
	var ds []Device
	for i, sd := range devices {
		ds = append(ds, Device{ID: int64(i + 1), Name: sd.Name, Transport: TransportRTU, Address: path, Baud: 19200, Parity: "E",
			UnitID: sd.UnitID, Profile: sd.Kind.Profile(), Interval: 100 * time.Millisecond, Timeout: 500 * time.Millisecond, Enabled: true})
	}
	// A device whose serial settings differ from those of the devices
	// listed before it on its port cannot share the port.
	odd := ds[0]
	odd.ID, odd.Name, odd.Baud, odd.UnitID = 9, "odd", 9600, 200
	c := NewCollector(Options{Sink: sink})
	c.SetDevices(append(ds, odd))
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	defer func() { rcancel(); <-done }()
	defer func() {
		if t.Failed() {
			t.Logf("status: %+v", c.Status())
		}
	}()

	for _, d := range ds {
		p := mustProfile(t, d.Profile)
		for _, f := range p.Fields {
			waitFor(t, d.Name+"/"+f.Name, func() bool { return sink.count(d.Name+"/"+f.Name) >= 5 })
		}
	}
	for _, st := range c.Status() {
		if st.DeviceID == 9 {
			if st.Online || st.LastError == "" {
				t.Errorf("device with other serial settings: %+v", st)
			}
			continue
		}
		if !st.Online || st.LastError != "" || st.ConsecutiveFailures != 0 {
			t.Errorf("%s: %+v", st.Name, st)
		}
	}
	if r, _ := sink.latest(devices[0].Name + "/cabinet"); r.Value < 2 || r.Value > 9 {
		t.Errorf("fridge at %v °C over serial", r.Value)
	}
}
