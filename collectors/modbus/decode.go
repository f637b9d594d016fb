package modbus

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// DecodeError says why a field's raw value gave no reading. Reason is one
// of a fixed set, fit for a metric label.
type DecodeError struct {
	Reason  string // "length", "not_finite", "fault_value", "not_state"
	Message string
}

func (e *DecodeError) Error() string { return e.Message }

// Decode reasons.
const (
	reasonLength     = "length"
	reasonNotFinite  = "not_finite"
	reasonFaultValue = "fault_value"
	reasonNotState   = "not_state"
)

// Decode turns the field's raw data into a value in the metric's unit.
// raw holds the field's registers as they arrived on the wire (2 bytes
// per register, each register's high byte first), or, for a coil or
// discrete input, one byte that is 0 or 1. A NaN or infinite float, a
// fault value, or a state metric that does not come out as 0 or 1 is a
// *DecodeError.
func (f Field) Decode(raw []byte) (float64, error) {
	var v float64
	if f.Table.IsBit() {
		if len(raw) != 1 || raw[0] > 1 {
			return 0, &DecodeError{reasonLength, fmt.Sprintf("expected one bit, got % X", raw)}
		}
		v = float64(raw[0])
	} else {
		n := f.Type.Registers()
		if n == 0 || len(raw) != 2*n {
			return 0, &DecodeError{reasonLength, fmt.Sprintf("a %s needs %d bytes, got %d", f.Type, 2*n, len(raw))}
		}
		var be [8]byte
		reorder(be[:2*n], raw, f.Order)
		switch f.Type {
		case TypeBit:
			v = float64(binary.BigEndian.Uint16(be[:]) >> uint(f.Bit&15) & 1)
		case TypeFloat32:
			v = float64(math.Float32frombits(binary.BigEndian.Uint32(be[:])))
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, &DecodeError{reasonNotFinite, fmt.Sprintf("the device sent %v (float32 %08X), not a measurement", v, binary.BigEndian.Uint32(be[:]))}
			}
		case TypeFloat64:
			v = math.Float64frombits(binary.BigEndian.Uint64(be[:]))
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, &DecodeError{reasonNotFinite, fmt.Sprintf("the device sent %v (float64 %016X), not a measurement", v, binary.BigEndian.Uint64(be[:]))}
			}
		default:
			i := integerValue(f.Type, be[:])
			for _, fv := range f.FaultValues {
				if i == fv {
					return 0, &DecodeError{reasonFaultValue, fmt.Sprintf("the device reports a sensor fault (raw value %d)", i)}
				}
			}
			v = float64(i)
		}
	}
	v = v*f.Scale + f.Offset
	if u, ok := units[f.Unit]; ok {
		v = u.toSI(v)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, &DecodeError{reasonNotFinite, fmt.Sprintf("value %v is not finite after scaling", v)}
	}
	if isState(f.Metric) && v != 0 && v != 1 {
		return 0, &DecodeError{reasonNotState, fmt.Sprintf("value %v is not a 0/1 state (check scale and offset)", v)}
	}
	if v == 0 {
		v = 0 // no negative zero in stored readings
	}
	return v, nil
}

// integerValue reads an integer type from big-endian bytes.
func integerValue(t Type, be []byte) int64 {
	switch t {
	case TypeInt16:
		return int64(int16(binary.BigEndian.Uint16(be)))
	case TypeUint16:
		return int64(binary.BigEndian.Uint16(be))
	case TypeInt32:
		return int64(int32(binary.BigEndian.Uint32(be)))
	case TypeUint32:
		return int64(binary.BigEndian.Uint32(be))
	}
	return 0
}

// reorder copies wire bytes into dst as a big-endian value, undoing the
// byte order o. len(dst) == len(wire), an even number.
func reorder(dst, wire []byte, o Order) {
	n := len(wire)
	switch o {
	case OrderDCBA: // every byte reversed
		for i := range n {
			dst[i] = wire[n-1-i]
		}
	case OrderBADC: // bytes swapped in each register
		for i := 0; i+1 < n; i += 2 {
			dst[i], dst[i+1] = wire[i+1], wire[i]
		}
	case OrderCDAB: // registers reversed, bytes kept
		for i := 0; i+1 < n; i += 2 {
			dst[i], dst[i+1] = wire[n-2-i], wire[n-1-i]
		}
	default: // ABCD
		copy(dst, wire)
	}
}

// fieldRaw cuts field f's raw data out of resp, the data of a response to
// r: for registers a sub-slice of 2 bytes per register; for bits one byte,
// 0 or 1.
func fieldRaw(r Request, resp []byte, f Field) ([]byte, error) {
	off := int(f.Address) - int(r.Address)
	n := f.Registers()
	if f.Table != r.Table || off < 0 || off+n > int(r.Count) {
		return nil, fmt.Errorf("field %s is not covered by the read of %s %d+%d", f.Name, r.Table, r.Address, r.Count)
	}
	if r.Table.IsBit() {
		if off/8 >= len(resp) {
			return nil, fmt.Errorf("response too short: %d bytes for %d bits", len(resp), r.Count)
		}
		return []byte{resp[off/8] >> uint(off%8) & 1}, nil
	}
	if 2*(off+n) > len(resp) {
		return nil, fmt.Errorf("response too short: %d bytes for %d registers", len(resp), r.Count)
	}
	return resp[2*off : 2*(off+n)], nil
}

// responseSize is the data size a correct response to r has.
func responseSize(r Request) int {
	if r.Table.IsBit() {
		return (int(r.Count) + 7) / 8
	}
	return 2 * int(r.Count)
}

// rawHex formats a field's raw data for people: registers as 4-digit hex
// words in wire order ("00C8 FFFF"), bits as 0 or 1.
func rawHex(f Field, raw []byte) string {
	if f.Table.IsBit() {
		if len(raw) == 1 {
			return fmt.Sprint(raw[0])
		}
		return fmt.Sprintf("% X", raw)
	}
	var b strings.Builder
	for i := 0; i+1 < len(raw); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%04X", binary.BigEndian.Uint16(raw[i:]))
	}
	return b.String()
}
