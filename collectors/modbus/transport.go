package modbus

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	mb "github.com/goburrow/modbus"
)

// link is one connection to a bus: goburrow's TCP or serial RTU
// transporter, or our RTU-over-TCP one. goburrow never reconnects by
// itself in a way we can rely on, so the bus opens and closes it
// explicitly.
type link interface {
	mb.Transporter
	Connect() error
	Close() error
	// setTimeout sets the per-request timeout for the next requests.
	setTimeout(time.Duration)
}

// tcpLink is goburrow's Modbus TCP transporter. Its idle timer is off:
// the bus decides when to close.
type tcpLink struct{ *mb.TCPClientHandler }

func (l tcpLink) setTimeout(t time.Duration) { l.Timeout = t }

// rtuLink is goburrow's serial RTU transporter. The port's read timeout is
// fixed when it opens, from the device that opens it.
type rtuLink struct{ *mb.RTUClientHandler }

func (rtuLink) setTimeout(time.Duration) {}

// newLink makes the (unconnected) link of d's bus.
func newLink(d Device) link {
	switch d.Transport {
	case TransportRTU:
		h := mb.NewRTUClientHandler(d.Address)
		h.BaudRate, h.DataBits, h.Parity, h.StopBits = d.serialConfig()
		h.Timeout = d.timeout()
		h.IdleTimeout = 0
		return rtuLink{h}
	case TransportRTUOverTCP:
		return &rtuOverTCP{address: d.Address, timeout: d.timeout()}
	}
	h := mb.NewTCPClientHandler(d.Address)
	h.Timeout = d.timeout()
	h.IdleTimeout = 0
	return tcpLink{h}
}

// newPackager frames d's requests with its unit id: MBAP for tcp, RTU
// (address + CRC) for rtu and rtu-over-tcp. Only its packager half is used.
func newPackager(d Device) mb.Packager {
	if d.Transport == TransportTCP {
		h := mb.NewTCPClientHandler(d.Address)
		h.SlaveId = d.UnitID
		return h
	}
	h := mb.NewRTUClientHandler(d.Address)
	h.SlaveId = d.UnitID
	return h
}

// bus is one physical or logical Modbus line: a serial port, a serial
// gateway, or one Modbus TCP endpoint. Devices on a bus share its link
// and take turns: one request at a time, and a device's poll holds the
// bus from its first request to its last.
type bus struct {
	key  string
	cfg  Device // the device whose settings the link was made with
	sem  chan struct{}
	link link

	// Guarded by sem.
	connected bool
	failed    bool      // closed after an error: the next connect is a reconnect
	lastUse   time.Time // last request sent, for the idle reconnect

	refs int // devices using the bus; guarded by Collector.mu
}

func newBus(d Device) *bus {
	return &bus{key: d.busKey(), cfg: d, sem: make(chan struct{}, 1), link: newLink(d)}
}

// acquire waits for the bus, or for ctx to end.
func (b *bus) acquire(ctx context.Context) error {
	select {
	case b.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *bus) release() { <-b.sem }

// drop closes the link; the next request connects again. Call with the
// bus acquired.
func (b *bus) drop(failed bool) {
	_ = b.link.Close() // the connection is abandoned either way
	b.connected = false
	b.failed = b.failed || failed
}

// compatible reports whether d can share this bus: devices on one serial
// port must use the same line settings and timeout.
func (b *bus) compatible(d Device) error {
	if d.Transport != TransportRTU {
		return nil
	}
	b1, d1, p1, s1 := b.cfg.serialConfig()
	b2, d2, p2, s2 := d.serialConfig()
	if b1 != b2 || d1 != d2 || p1 != p2 || s1 != s2 || b.cfg.timeout() != d.timeout() {
		return invalidf("device %q: serial settings %d %d%s%d, timeout %s differ from device %q on the same port %s (%d %d%s%d, timeout %s)",
			d.Name, b2, d2, p2, s2, d.timeout(), b.cfg.Name, d.Address, b1, d1, p1, s1, b.cfg.timeout())
	}
	return nil
}

// read sends one read request. It never sends anything but function codes
// 1–4: this package does not write to devices.
func read(c mb.Client, r Request) (data []byte, err error) {
	defer func() {
		// goburrow is third-party code on an untrusted wire: a panic in it
		// is a failed request, not a crashed collector.
		if v := recover(); v != nil {
			err = fmt.Errorf("modbus library fault: %v", v)
		}
	}()
	switch r.Table {
	case TableCoil:
		data, err = c.ReadCoils(r.Address, r.Count)
	case TableDiscreteInput:
		data, err = c.ReadDiscreteInputs(r.Address, r.Count)
	case TableHoldingRegister:
		data, err = c.ReadHoldingRegisters(r.Address, r.Count)
	case TableInputRegister:
		data, err = c.ReadInputRegisters(r.Address, r.Count)
	default:
		return nil, fmt.Errorf("unknown table %q", r.Table)
	}
	if err != nil {
		return nil, fromLibrary(err)
	}
	return data, nil
}

// rtuOverTCP carries RTU frames (unit id, PDU, CRC) over a TCP connection
// to a serial gateway, which goburrow cannot do: it is goburrow's RTU
// packager's transporter. Responses are delimited by their function code
// and byte count, since TCP has no RTU inter-frame silence.
type rtuOverTCP struct {
	address string

	mu      sync.Mutex
	timeout time.Duration
	conn    net.Conn
}

func (t *rtuOverTCP) setTimeout(d time.Duration) {
	t.mu.Lock()
	t.timeout = d
	t.mu.Unlock()
}

// Connect dials the gateway if not connected.
func (t *rtuOverTCP) Connect() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.connect()
}

func (t *rtuOverTCP) connect() error {
	if t.conn != nil {
		return nil
	}
	conn, err := net.DialTimeout("tcp", t.address, t.timeout)
	if err != nil {
		return err
	}
	t.conn = conn
	return nil
}

// Close closes the connection.
func (t *rtuOverTCP) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		return nil
	}
	err := t.conn.Close()
	t.conn = nil
	return err
}

// Send writes one RTU request and reads its response within the timeout.
func (t *rtuOverTCP) Send(req []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.connect(); err != nil {
		return nil, err
	}
	if err := t.conn.SetDeadline(time.Now().Add(t.timeout)); err != nil {
		return nil, err
	}
	if _, err := t.conn.Write(req); err != nil {
		return nil, err
	}
	var buf [rtuMaxADU]byte
	n, err := readRTUResponse(t.conn, buf[:])
	if err != nil {
		return nil, err
	}
	return buf[:n:n], nil
}

// rtuMaxADU is the largest RTU frame: address, 253-byte PDU, CRC.
const rtuMaxADU = 256

// readRTUResponse reads one RTU response to a read (function codes 1–4)
// or an exception response into buf (at least rtuMaxADU bytes) and returns
// its length. The CRC is left for the packager to check.
func readRTUResponse(r io.Reader, buf []byte) (int, error) {
	if len(buf) < rtuMaxADU {
		return 0, fmt.Errorf("rtu: buffer of %d bytes is too small", len(buf))
	}
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return 0, err
	}
	fc := buf[1]
	switch {
	case fc&0x80 != 0: // exception: code + CRC
		if _, err := io.ReadFull(r, buf[2:5]); err != nil {
			return 0, err
		}
		return 5, nil
	case fc >= 1 && fc <= 4:
		if _, err := io.ReadFull(r, buf[2:3]); err != nil {
			return 0, err
		}
		n := 3 + int(buf[2]) + 2
		if n > rtuMaxADU {
			return 0, fmt.Errorf("rtu: byte count %d in response is too large", buf[2])
		}
		if _, err := io.ReadFull(r, buf[3:n]); err != nil {
			return 0, err
		}
		return n, nil
	}
	return 0, fmt.Errorf("rtu: unexpected function code 0x%02X in response", fc)
}
