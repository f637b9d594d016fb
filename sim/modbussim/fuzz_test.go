package modbussim

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
)

// fuzzServer serves every kind of device, without a listener in use.
func fuzzServer(f *testing.F) *Server {
	devices := append(DemoDevices(),
		SimDevice{UnitID: 100, Kind: KindRoomTransmitterInt},
		SimDevice{UnitID: 101, Kind: KindStatic, HoldingRegisters: make([]uint16, 300), Coils: make([]bool, 3000)},
	)
	s, err := Start(context.Background(), "127.0.0.1:0", devices, 1, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	return s
}

// checkResponse asserts that a response PDU is well formed for req.
func checkResponse(t *testing.T, req, resp []byte) {
	t.Helper()
	if resp == nil {
		return
	}
	if len(resp) > maxPDU {
		t.Fatalf("response PDU of %d bytes", len(resp))
	}
	if resp[0]&0x80 != 0 {
		if len(resp) != 2 || resp[0] != req[0]|0x80 {
			t.Fatalf("bad exception % X to % X", resp, req)
		}
		return
	}
	if resp[0] < 1 || resp[0] > 4 || int(resp[1]) != len(resp)-2 {
		t.Fatalf("bad response % X to % X", resp, req)
	}
	qty := int(binary.BigEndian.Uint16(req[3:]))
	want := 2 * qty
	if resp[0] <= 2 {
		want = (qty + 7) / 8
	}
	if int(resp[1]) != want {
		t.Fatalf("byte count %d for quantity %d", resp[1], qty)
	}
}

// FuzzTCPFrame feeds arbitrary bytes to the Modbus TCP frame parser and
// answers every frame it accepts.
func FuzzTCPFrame(f *testing.F) {
	s := fuzzServer(f)
	f.Add([]byte{0, 1, 0, 0, 0, 6, 1, 3, 1, 0, 0, 2})
	f.Add([]byte{0, 1, 0, 0, 0, 6, 7, 4, 0, 0, 0, 8, 0, 2, 0, 0, 0, 6, 1, 1, 2, 0, 0, 17})
	f.Add([]byte{0, 1, 0, 0, 0, 6, 101, 1, 0, 0, 7, 208})
	f.Add([]byte{0, 1, 0, 0, 0, 2, 9, 0x2b})
	f.Add([]byte{0, 1, 0, 0, 0, 255, 1})
	f.Add([]byte{0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var buf [maxTCPADU]byte
		for {
			hdr, p, err := readTCPFrame(r, buf[:])
			if err != nil {
				return
			}
			if len(p) == 0 || len(p) > maxPDU {
				t.Fatalf("PDU of %d bytes", len(p))
			}
			req := append([]byte(nil), p...)
			checkResponse(t, req, s.respond(hdr.unit, p, true))
		}
	})
}

// FuzzRTUFrame feeds arbitrary bytes to the RTU request parser.
func FuzzRTUFrame(f *testing.F) {
	s := fuzzServer(f)
	withCRC := func(b ...byte) []byte { return binary.LittleEndian.AppendUint16(b, crc16(b)) }
	f.Add(withCRC(1, 3, 1, 0, 0, 2))
	f.Add(append(withCRC(7, 4, 0, 0, 0, 8), withCRC(2, 1, 2, 0, 0, 17)...))
	f.Add(withCRC(1, 16, 0, 0, 0, 2, 4, 0, 1, 0, 2))
	f.Add(withCRC(1, 43, 14, 1, 0))
	f.Add([]byte{1, 16, 0, 0, 0, 2, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var buf [maxRTUADU]byte
		for {
			n, err := readRTURequest(r, buf[:])
			if n > maxRTUADU {
				t.Fatalf("frame of %d bytes", n)
			}
			if err != nil {
				return
			}
			if n < 4 || !crcOK(buf[:n]) {
				t.Fatalf("accepted a frame of %d bytes with a bad CRC", n)
			}
			req := append([]byte(nil), buf[1:n-2]...)
			if len(req) >= 5 {
				checkResponse(t, req, s.respond(buf[0], buf[1:n-2], false))
			}
		}
	})
}
