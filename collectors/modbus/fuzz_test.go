package modbus

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"

	mb "github.com/goburrow/modbus"
	"github.com/wardwatch/wardwatch"
)

// FuzzParseProfile: any input either fails with an EINVALID/ETOOLARGE
// error or gives a valid profile that survives a YAML round trip and plans
// within the protocol's limits.
func FuzzParseProfile(f *testing.F) {
	f.Add([]byte(fridgeYAML))
	for _, p := range BuiltinProfiles() {
		y, err := p.YAML()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(y)
	}
	f.Add([]byte("name: p\nfields:\n  - {name: t, metric: temperature, table: coil, address: 1, type: bit}\n"))
	f.Add([]byte("name: &a p\nfields: *a\n"))
	f.Add([]byte("name: p\nfields:\n  - name: t\n    metric: pressure\n    table: input_register\n    address: 65535\n    type: float64\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile(data)
		if err != nil {
			if c := wardwatch.ErrorCode(err); c != wardwatch.EINVALID && c != wardwatch.ETOOLARGE {
				t.Fatalf("error code %q: %v", c, err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed profile does not validate: %v", err)
		}
		y, err := p.YAML()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseProfile(y)
		if err != nil {
			t.Fatalf("round trip: %v\n%s", err, y)
		}
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("round trip changed the profile:\n%+v\n%+v", p, back)
		}
		planned := 0
		for _, r := range Plan(p.Fields, p.MaxGap) {
			if r.Count == 0 || int(r.Count) > r.Table.MaxCount() || r.End() > 0x10000 {
				t.Fatalf("request %+v", r)
			}
			planned += len(r.Fields)
		}
		if planned != len(p.Fields) {
			t.Fatalf("%d of %d fields planned", planned, len(p.Fields))
		}
	})
}

// FuzzDecode: any raw data and any field settings give a finite value or
// a DecodeError, never a panic; states come out as 0 or 1.
func FuzzDecode(f *testing.F) {
	types := []Type{TypeInt16, TypeUint16, TypeInt32, TypeUint32, TypeFloat32, TypeFloat64, TypeBit, "bogus"}
	orders := []Order{OrderABCD, OrderDCBA, OrderBADC, OrderCDAB, ""}
	tabs := []Table{TableHoldingRegister, TableInputRegister, TableCoil, TableDiscreteInput}
	for _, v := range vectors {
		f.Add(byte(0), byte(indexOf(types, v.typ)), byte(indexOf(orders, v.order)), byte(3), 1.0, 0.0, v.bytes())
	}
	f.Add(byte(2), byte(6), byte(4), byte(0), 1.0, 0.0, []byte{1})
	f.Add(byte(0), byte(4), byte(0), byte(0), 1e308, 1e308, []byte{0x7f, 0x7f, 0xff, 0xff})
	f.Add(byte(1), byte(0), byte(0), byte(0), 0.1, -5.0, []byte{0x80, 0x00})
	f.Fuzz(func(t *testing.T, table, typ, order, bit byte, scale, offset float64, raw []byte) {
		fld := Field{
			Name: "x", Table: tabs[int(table)%len(tabs)], Type: types[int(typ)%len(types)], Order: orders[int(order)%len(orders)],
			Bit: int(bit), Scale: scale, Offset: offset, Metric: wardwatch.MetricTemperature, Unit: UnitFahrenheit,
			FaultValues: []int64{-32768},
		}
		if bit%2 == 1 {
			fld.Metric, fld.Unit = wardwatch.MetricDoorOpen, UnitNone
		}
		v, err := fld.Decode(raw)
		if err != nil {
			if _, ok := err.(*DecodeError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite value %v", v)
		}
		if fld.Metric == wardwatch.MetricDoorOpen && v != 0 && v != 1 {
			t.Fatalf("state %v", v)
		}
	})
}

func indexOf[T comparable](s []T, v T) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return 0
}

// FuzzReadRTUResponse: the RTU-over-TCP frame reader never reads past one
// frame nor panics.
func FuzzReadRTUResponse(f *testing.F) {
	f.Add([]byte{1, 3, 4, 0, 1, 0, 2, 0x2a, 0x32})
	f.Add([]byte{1, 0x83, 2, 0xc0, 0xf1})
	f.Add([]byte{1, 1, 1, 5, 0, 0})
	f.Add([]byte{1, 3, 255})
	f.Add([]byte{1, 0x10, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf [rtuMaxADU]byte
		r := bytes.NewReader(data)
		n, err := readRTUResponse(r, buf[:])
		if err != nil {
			return
		}
		consumed := len(data) - r.Len()
		if n != consumed || n > rtuMaxADU || n < 5 {
			t.Fatalf("frame of %d bytes after consuming %d", n, consumed)
		}
	})
}

// fixedTransport answers every request with the same bytes.
type fixedTransport struct{ resp []byte }

func (f fixedTransport) Send([]byte) ([]byte, error) { return f.resp, nil }

// FuzzResponse feeds arbitrary responses through goburrow's packagers and
// client to read, shaped the way the transports deliver them (goburrow's
// TCP transporter returns a whole MBAP frame of the length its header
// states; ours returns what readRTUResponse framed): whatever a device or
// an attacker sends, the result is data or an error, never a panic, not
// even one that read's recover would catch. The transaction and unit ids
// of the response are patched to match, so that the fuzzer reaches past
// goburrow's checks.
func FuzzResponse(f *testing.F) {
	f.Add(false, byte(3), uint16(2), []byte{0, 0, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2})
	f.Add(false, byte(1), uint16(10), []byte{0, 0, 0, 0, 0, 5, 1, 1, 2, 0xff, 3})
	f.Add(false, byte(4), uint16(1), []byte{0, 0, 0, 0, 0, 3, 1, 0x84, 2})
	f.Add(false, byte(3), uint16(1), []byte{0, 0, 0, 0, 0, 2, 1, 3})
	f.Add(true, byte(3), uint16(1), []byte{1, 3, 2, 0, 7, 0xf9, 0x86})
	f.Add(true, byte(2), uint16(3), []byte{1, 0x82, 2, 0xc1, 0x61})
	f.Fuzz(func(t *testing.T, rtu bool, fc byte, count uint16, resp []byte) {
		d := Device{Transport: TransportTCP, UnitID: 1}
		if rtu {
			d.Transport = TransportRTUOverTCP
			var buf [rtuMaxADU]byte
			n, err := readRTUResponse(bytes.NewReader(resp), buf[:])
			if err != nil {
				return
			}
			resp = buf[:n]
			resp[0] = 1
		} else {
			if len(resp) < 7 {
				return
			}
			n := int(binary.BigEndian.Uint16(resp[4:]))
			if n < 1 || n > 254 || len(resp) < 6+n {
				return
			}
			resp = bytes.Clone(resp[:6+n])
			binary.BigEndian.PutUint16(resp, 1) // the first transaction id goburrow sends
			resp[6] = 1
		}
		tab := tables[int(fc)%len(tables)]
		count = 1 + count%uint16(tab.MaxCount())
		r := Request{Table: tab, Address: 0, Count: count}
		client := mb.NewClient2(newPackager(d), fixedTransport{resp})
		if _, err := read(client, r); err != nil && strings.Contains(err.Error(), "library fault") {
			t.Fatalf("goburrow panicked on % X: %v", resp, err)
		}
	})
}
