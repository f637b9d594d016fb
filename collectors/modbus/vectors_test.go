package modbus

import (
	"encoding/hex"
	"fmt"
)

// vector is a value of a type as it arrives on the wire in one byte order.
// The wire bytes were computed by hand with Python's struct module
// (struct.pack('>f', 5.3) and so on, then reordered), not by this package.
type vector struct {
	typ   Type
	order Order
	wire  string // hex, registers in wire order
	want  float64
}

// vectors covers every register type in every byte order.
var vectors = []vector{
	{TypeInt16, OrderABCD, "fb2e", -1234},
	{TypeInt16, OrderDCBA, "2efb", -1234},
	{TypeInt16, OrderBADC, "2efb", -1234},
	{TypeInt16, OrderCDAB, "fb2e", -1234},
	{TypeUint16, OrderABCD, "c822", 51234},
	{TypeUint16, OrderDCBA, "22c8", 51234},
	{TypeUint16, OrderBADC, "22c8", 51234},
	{TypeUint16, OrderCDAB, "c822", 51234},
	{TypeInt32, OrderABCD, "f8a432eb", -123456789},
	{TypeInt32, OrderDCBA, "eb32a4f8", -123456789},
	{TypeInt32, OrderBADC, "a4f8eb32", -123456789},
	{TypeInt32, OrderCDAB, "32ebf8a4", -123456789},
	{TypeUint32, OrderABCD, "b2d05e00", 3000000000},
	{TypeUint32, OrderDCBA, "005ed0b2", 3000000000},
	{TypeUint32, OrderBADC, "d0b2005e", 3000000000},
	{TypeUint32, OrderCDAB, "5e00b2d0", 3000000000},
	{TypeFloat32, OrderABCD, "40a9999a", float64(float32(5.3))},
	{TypeFloat32, OrderDCBA, "9a99a940", float64(float32(5.3))},
	{TypeFloat32, OrderBADC, "a9409a99", float64(float32(5.3))},
	{TypeFloat32, OrderCDAB, "999a40a9", float64(float32(5.3))},
	{TypeFloat32, OrderCDAB, "0000c146", -12.375},
	{TypeFloat64, OrderABCD, "40934a456d5cfaad", 1234.5678},
	{TypeFloat64, OrderDCBA, "adfa5c6d454a9340", 1234.5678},
	{TypeFloat64, OrderBADC, "9340454a5c6dadfa", 1234.5678},
	{TypeFloat64, OrderCDAB, "faad6d5c4a454093", 1234.5678},
	{TypeFloat64, OrderCDAB, "a9fcd2f1624dbf50", -0.001},
	// Bit 3 of register 0x0008 (bit fields read the register in the byte
	// order: DCBA and BADC swap its bytes).
	{TypeBit, OrderABCD, "0008", 1},
	{TypeBit, OrderCDAB, "0008", 1},
	{TypeBit, OrderDCBA, "0800", 1},
	{TypeBit, OrderBADC, "0800", 1},
	{TypeBit, OrderDCBA, "0008", 0},
}

func (v vector) name() string { return fmt.Sprintf("%s/%s/%s", v.typ, v.order, v.wire) }

// bytes decodes the wire hex.
func (v vector) bytes() []byte {
	b, err := hex.DecodeString(v.wire)
	if err != nil {
		panic(err) // a typo in the table above
	}
	return b
}

// field is a field reading the vector at addr of table t, unscaled.
func (v vector) field(name string, t Table, addr uint16) Field {
	f := Field{Name: name, Metric: "temperature", Table: t, Address: addr, Type: v.typ, Order: v.order, Scale: 1, Unit: UnitCelsius}
	if v.typ == TypeBit {
		f.Bit, f.Metric, f.Unit = 3, "alarm", UnitNone
	}
	return f
}
