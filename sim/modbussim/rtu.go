package modbussim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Stream carries RTU frames: a TCP connection to a serial gateway, a
// serial port, a pseudo-terminal. Read deadlines find the silence that
// ends a frame the server cannot size.
type Stream interface {
	io.ReadWriter
	SetReadDeadline(time.Time) error
}

// rtuSilence is how long the line must be quiet to end a frame of unknown
// length (3.5 characters at 1200 baud is 32 ms).
const rtuSilence = 50 * time.Millisecond

var (
	errCRC           = errors.New("modbussim: CRC mismatch")
	errUnknownLength = errors.New("modbussim: function code of unknown frame length")
)

// ServeRTU answers RTU frames on st (for instance the master side of a
// pseudo-terminal standing in for a serial port) until ctx ends, the
// server closes, or st fails. Frames with a bad CRC are ignored, as a
// serial device must; broadcasts (unit 0) get no answer.
func (s *Server) ServeRTU(ctx context.Context, st Stream) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-s.done:
		case <-stop:
			return
		}
		_ = st.SetReadDeadline(time.Unix(1, 0)) // wake the blocked read
	}()
	defer wg.Wait()
	defer close(stop)
	err := s.serveRTUStream(ctx, st)
	if ctx.Err() != nil || s.isClosed() {
		return nil
	}
	return err
}

func (s *Server) serveRTU(conn net.Conn) error { return s.serveRTUStream(context.Background(), conn) }

func (s *Server) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *Server) serveRTUStream(ctx context.Context, st Stream) error {
	var buf [maxRTUADU]byte
	for {
		n, err := readRTURequest(st, buf[:])
		switch {
		case errors.Is(err, errCRC), errors.Is(err, errUnknownLength):
			// Resynchronise: take everything up to the next silence as
			// the rest of this frame.
			m, derr := drain(st, buf[:], n)
			if derr != nil {
				return derr
			}
			if ctx.Err() != nil || s.isClosed() {
				return nil
			}
			if errors.Is(err, errCRC) || m < 4 || !crcOK(buf[:m]) {
				continue // garbage: a serial device stays silent
			}
			n = m
		case err != nil:
			return err
		}
		unitID := buf[0]
		resp := s.respond(unitID, buf[1:n-2], false)
		if resp == nil || unitID == 0 {
			continue
		}
		if !s.wait(unitID) {
			return nil
		}
		out := make([]byte, 0, 1+len(resp)+2)
		out = append(out, unitID)
		out = append(out, resp...)
		out = binary.LittleEndian.AppendUint16(out, crc16(out))
		if _, err := st.Write(out); err != nil {
			return err
		}
	}
}

// readRTURequest reads one RTU request into buf (at least maxRTUADU bytes)
// and returns its length, CRC included. Requests of function codes whose
// length it cannot know return errUnknownLength with the bytes read so far;
// a bad CRC returns errCRC with the frame's length.
func readRTURequest(r io.Reader, buf []byte) (int, error) {
	if len(buf) < maxRTUADU {
		return 0, fmt.Errorf("modbussim: buffer of %d bytes is too small", len(buf))
	}
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return 0, err
	}
	have, n := 2, 0
	switch buf[1] {
	case 1, 2, 3, 4, 5, 6: // address, then quantity or value
		n = 8
	case 15, 16: // address, quantity, byte count, values
		if _, err := io.ReadFull(r, buf[2:7]); err != nil {
			return 0, err
		}
		have, n = 7, 7+int(buf[6])+2
		if n > maxRTUADU {
			return have, errUnknownLength
		}
	default:
		return have, errUnknownLength
	}
	if _, err := io.ReadFull(r, buf[have:n]); err != nil {
		return 0, err
	}
	if !crcOK(buf[:n]) {
		return n, errCRC
	}
	return n, nil
}

// drain reads into buf[have:] until the line is silent for rtuSilence or
// buf is full, and returns the total length.
func drain(st Stream, buf []byte, have int) (int, error) {
	defer func() { _ = st.SetReadDeadline(time.Time{}) }()
	var scratch [maxRTUADU]byte
	for {
		if err := st.SetReadDeadline(time.Now().Add(rtuSilence)); err != nil {
			return have, err
		}
		full := have >= len(buf)
		dst := buf[have:]
		if full {
			dst = scratch[:] // frame too long: discard the rest
		}
		n, err := st.Read(dst)
		if !full {
			have += n
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return have, nil
			}
			return have, err
		}
	}
}

func crcOK(frame []byte) bool {
	n := len(frame)
	return n >= 4 && crc16(frame[:n-2]) == binary.LittleEndian.Uint16(frame[n-2:])
}

// crc16 is the Modbus RTU CRC: polynomial 0xA001 (reflected 0x8005),
// initial value 0xFFFF, sent low byte first.
func crc16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc ^= uint16(x)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}
