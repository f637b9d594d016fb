// Package modbussim is a Modbus server simulating the demo hospital's
// fridges, freezers, room transmitters and room pressure monitors on
// loopback, for the demo, benchmarks and tests. It is written from the
// Modbus specifications (application protocol v1.1b3, TCP/IP
// implementation guide v1.0b, serial line guide v1.02), not from a client
// library: it answers the read function codes 1–4 and refuses everything
// else with exception 1.
//
// One server is a gateway: its devices are told apart by unit id. Over
// Modbus TCP a unit id it does not know gets exception 11 (gateway target
// device failed to respond); over RTU framing, as on a serial line, it gets
// no answer. Values are pure functions of the seed, the unit id and the
// time from the now function, so a run with the same seed and clock is
// repeatable.
package modbussim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Protocol sizes.
const (
	mbapHeaderLen = 7                      // transaction id, protocol id, length, unit id
	maxPDU        = 253                    // function code + data
	maxTCPADU     = mbapHeaderLen + maxPDU // 260: the header (with the unit id) and the PDU
	maxRTUADU     = 256                    // unit id, PDU, CRC
	maxConns      = 256
	maxRegisters  = 125
	maxBits       = 2000
)

// Exception codes the server sends.
const (
	exIllegalFunction = 1
	exIllegalAddress  = 2
	exIllegalValue    = 3
	exGatewayTarget   = 11
)

// Server is a running simulator.
type Server struct {
	ln    net.Listener
	rtu   bool // RTU frames over TCP instead of MBAP
	now   func() time.Time
	units map[byte]*unit

	counts [256]atomic.Uint64 // requests by function code

	mu     sync.Mutex
	conns  map[io.Closer]struct{}
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
}

// unit is a device and its fault switches.
type unit struct {
	device
	silent atomic.Bool
	delay  atomic.Int64 // ns before each answer
}

// Start serves devices over Modbus TCP on addr ("127.0.0.1:0" picks a free
// port) until ctx ends or Close is called. Unit ids must be unique. now
// (nil means time.Now) is the simulated clock.
func Start(ctx context.Context, addr string, devices []SimDevice, seed int64, now func() time.Time) (*Server, error) {
	return start(ctx, addr, devices, seed, now, false)
}

// StartRTUOverTCP is Start for a serial gateway in transparent mode: RTU
// frames (unit id, PDU, CRC) over TCP.
func StartRTUOverTCP(ctx context.Context, addr string, devices []SimDevice, seed int64, now func() time.Time) (*Server, error) {
	return start(ctx, addr, devices, seed, now, true)
}

func start(ctx context.Context, addr string, devices []SimDevice, seed int64, now func() time.Time, rtu bool) (*Server, error) {
	if now == nil {
		now = time.Now
	}
	s := &Server{rtu: rtu, now: now, units: map[byte]*unit{}, conns: map[io.Closer]struct{}{}, done: make(chan struct{})}
	for _, d := range devices {
		if err := d.check(); err != nil {
			return nil, err
		}
		if _, dup := s.units[d.UnitID]; dup {
			return nil, fmt.Errorf("modbussim: unit id %d is used twice", d.UnitID)
		}
		s.units[d.UnitID] = &unit{device: device{SimDevice: d, seed: uint64(seed)}}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("modbussim: listen: %w", err)
	}
	s.ln = ln
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			s.shutdown()
		case <-s.done:
		}
	}()
	go s.accept()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server: it closes the listener and every connection and
// waits for its goroutines.
func (s *Server) Close() error {
	s.shutdown()
	s.wg.Wait()
	return nil
}

func (s *Server) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	close(s.done)
	_ = s.ln.Close()
	for c := range s.conns {
		_ = c.Close()
	}
}

// SetSilent makes a unit stop answering (a powered-off device behind a
// gateway) or answer again.
func (s *Server) SetSilent(unitID byte, silent bool) {
	if u := s.units[unitID]; u != nil {
		u.silent.Store(silent)
	}
}

// SetDelay makes a unit answer each request only after d (0: at once),
// e.g. later than a client's timeout.
func (s *Server) SetDelay(unitID byte, d time.Duration) {
	if u := s.units[unitID]; u != nil {
		u.delay.Store(int64(d))
	}
}

// FunctionCounts reports how many requests arrived per function code.
func (s *Server) FunctionCounts() map[byte]uint64 {
	out := map[byte]uint64{}
	for i := range s.counts {
		if n := s.counts[i].Load(); n > 0 {
			out[byte(i)] = n
		}
	}
	return out
}

// track registers a connection so Close can end it; false when closed.
func (s *Server) track(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= maxConns {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c io.Closer) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = c.Close()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		if !s.track(conn) {
			_ = conn.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(conn)
			if s.rtu {
				_ = s.serveRTU(conn)
			} else {
				_ = s.serveTCP(conn)
			}
		}()
	}
}

// serveTCP answers MBAP frames on one connection until it fails or closes.
func (s *Server) serveTCP(conn net.Conn) error {
	var buf [maxTCPADU]byte
	for {
		hdr, pdu, err := readTCPFrame(conn, buf[:])
		if err != nil {
			return err
		}
		resp := s.respond(hdr.unit, pdu, true)
		if resp == nil {
			continue
		}
		if !s.wait(hdr.unit) {
			return nil
		}
		out := make([]byte, mbapHeaderLen, mbapHeaderLen+len(resp))
		binary.BigEndian.PutUint16(out[0:], hdr.txn)
		binary.BigEndian.PutUint16(out[4:], uint16(1+len(resp)))
		out[6] = hdr.unit
		if _, err := conn.Write(append(out, resp...)); err != nil {
			return err
		}
	}
}

// wait sleeps for a unit's answer delay; false when the server closed.
func (s *Server) wait(unitID byte) bool {
	u := s.units[unitID]
	if u == nil || u.delay.Load() <= 0 {
		return true
	}
	t := time.NewTimer(time.Duration(u.delay.Load()))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// mbap is a Modbus TCP frame header.
type mbap struct {
	txn  uint16
	unit byte
}

// errFrame is a malformed frame: the stream cannot be resynchronised.
var errFrame = errors.New("modbussim: malformed frame")

// readTCPFrame reads one MBAP frame into buf (at least maxTCPADU bytes) and
// returns its header and PDU (a slice of buf). A wrong protocol id or a
// length outside 2…254 is errFrame.
func readTCPFrame(r io.Reader, buf []byte) (mbap, []byte, error) {
	if len(buf) < maxTCPADU {
		return mbap{}, nil, fmt.Errorf("modbussim: buffer of %d bytes is too small", len(buf))
	}
	if _, err := io.ReadFull(r, buf[:mbapHeaderLen]); err != nil {
		return mbap{}, nil, err
	}
	proto := binary.BigEndian.Uint16(buf[2:])
	n := int(binary.BigEndian.Uint16(buf[4:])) // unit id + PDU
	if proto != 0 || n < 2 || n > maxPDU+1 {
		return mbap{}, nil, fmt.Errorf("%w: protocol id %d, length %d", errFrame, proto, n)
	}
	if _, err := io.ReadFull(r, buf[mbapHeaderLen:mbapHeaderLen+n-1]); err != nil {
		return mbap{}, nil, err
	}
	return mbap{txn: binary.BigEndian.Uint16(buf), unit: buf[6]}, buf[mbapHeaderLen : mbapHeaderLen+n-1], nil
}

// respond answers one request PDU addressed to unitID, or returns nil when
// the device stays silent. A Modbus TCP gateway answers for units it does
// not have (exception 11); on a serial line nobody does.
func (s *Server) respond(unitID byte, pdu []byte, gateway bool) []byte {
	if len(pdu) == 0 {
		return nil
	}
	fc := pdu[0]
	s.counts[fc].Add(1)
	u := s.units[unitID]
	if u == nil {
		if !gateway {
			return nil
		}
		return exception(fc, exGatewayTarget)
	}
	if u.silent.Load() {
		return nil
	}
	if fc < fcCoils || fc > fcInput {
		return exception(fc, exIllegalFunction)
	}
	if len(pdu) != 5 {
		return exception(fc, exIllegalValue)
	}
	addr := binary.BigEndian.Uint16(pdu[1:])
	qty := int(binary.BigEndian.Uint16(pdu[3:]))
	bits := fc == fcCoils || fc == fcDiscrete
	limit := maxRegisters
	if bits {
		limit = maxBits
	}
	if qty < 1 || qty > limit {
		return exception(fc, exIllegalValue)
	}
	if int(addr)+qty > 0x10000 {
		return exception(fc, exIllegalAddress)
	}
	img := u.snapshot(s.now())
	if bits {
		out := make([]byte, 2+(qty+7)/8)
		out[0], out[1] = fc, byte((qty+7)/8)
		for i := range qty {
			v, ok := img.bit(fc, addr+uint16(i))
			if !ok {
				return exception(fc, exIllegalAddress)
			}
			if v {
				out[2+i/8] |= 1 << (i % 8)
			}
		}
		return out
	}
	out := make([]byte, 2+2*qty)
	out[0], out[1] = fc, byte(2*qty)
	for i := range qty {
		v, ok := img.register(fc, addr+uint16(i))
		if !ok {
			return exception(fc, exIllegalAddress)
		}
		binary.BigEndian.PutUint16(out[2+2*i:], v)
	}
	return out
}

func exception(fc, code byte) []byte { return []byte{fc | 0x80, code} }
