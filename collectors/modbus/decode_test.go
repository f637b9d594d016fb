package modbus

import (
	"errors"
	"math"
	"testing"

	"github.com/wardwatch/wardwatch"
)

func TestDecodeVectors(t *testing.T) {
	for _, v := range vectors {
		f := v.field("x", TableHoldingRegister, 0)
		got, err := f.Decode(v.bytes())
		if err != nil {
			t.Errorf("%s: %v", v.name(), err)
			continue
		}
		if got != v.want {
			t.Errorf("%s: got %v, want %v", v.name(), got, v.want)
		}
	}
}

func TestDecodeScaleAndUnits(t *testing.T) {
	reg := func(hexs string) []byte { return vector{wire: hexs}.bytes() }
	tests := []struct {
		name string
		f    Field
		raw  []byte
		want float64
	}{
		{"0.1 °C steps", Field{Type: TypeInt16, Scale: 0.1, Unit: UnitCelsius, Metric: wardwatch.MetricTemperature}, reg("ffce"), -5}, // -50
		{"°F tenths", Field{Type: TypeInt16, Scale: 0.1, Unit: UnitFahrenheit, Metric: wardwatch.MetricTemperature}, reg("02d0"), 22.222222222222222},
		{"kelvin", Field{Type: TypeUint16, Scale: 0.01, Unit: UnitKelvin, Metric: wardwatch.MetricTemperature}, reg("6ab3"), 0},                          // 27315 → 273.15 K
		{"inH2O ÷10000", Field{Type: TypeInt16, Scale: 0.0001, Unit: UnitInH2O, Metric: wardwatch.MetricPressure}, reg("ff9c"), -0.01 * PascalsPerInH2O}, // -100
		{"kPa", Field{Type: TypeInt16, Scale: 0.001, Unit: UnitKilopascal, Metric: wardwatch.MetricPressure}, reg("0019"), 25},
		{"hPa float", Field{Type: TypeFloat32, Order: OrderABCD, Scale: 1, Unit: UnitHectopascal, Metric: wardwatch.MetricPressure}, reg("3e800000"), 25}, // 0.25 hPa
		{"mbar", Field{Type: TypeInt16, Scale: 0.01, Unit: UnitMillibar, Metric: wardwatch.MetricPressure}, reg("000a"), 10},
		{"mmH2O", Field{Type: TypeInt16, Scale: 1, Unit: UnitMmH2O, Metric: wardwatch.MetricPressure}, reg("0002"), 2 * 9.80665},
		{"%RH hundredths", Field{Type: TypeInt16, Scale: 0.01, Unit: UnitPercentRH, Metric: wardwatch.MetricHumidity}, reg("1194"), 45},
		{"millivolts", Field{Type: TypeUint16, Scale: 1, Unit: UnitMillivolt, Metric: wardwatch.MetricBatteryVoltage}, reg("0bb8"), 3},
		{"door 1 closed 2 open: open", Field{Type: TypeUint16, Scale: 1, Offset: -1, Metric: wardwatch.MetricDoorOpen}, reg("0002"), 1},
		{"door 1 closed 2 open: closed", Field{Type: TypeUint16, Scale: 1, Offset: -1, Metric: wardwatch.MetricDoorOpen}, reg("0001"), 0},
		{"normally closed contact inverted", Field{Type: TypeBit, Bit: 0, Scale: -1, Offset: 1, Metric: wardwatch.MetricDoorOpen}, reg("0001"), 0},
		{"coil on", Field{Table: TableCoil, Type: TypeBit, Scale: 1, Metric: wardwatch.MetricAlarm}, []byte{1}, 1},
		{"discrete input off", Field{Table: TableDiscreteInput, Type: TypeBit, Scale: 1, Metric: wardwatch.MetricAlarm}, []byte{0}, 0},
		{"bit 15", Field{Type: TypeBit, Bit: 15, Scale: 1, Metric: wardwatch.MetricAlarm}, reg("8000"), 1},
	}
	for _, tt := range tests {
		if tt.f.Table == "" {
			tt.f.Table = TableInputRegister
		}
		got, err := tt.f.Decode(tt.raw)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	reg := func(hexs string) []byte { return vector{wire: hexs}.bytes() }
	temp := func(typ Type, o Order) Field {
		return Field{Table: TableHoldingRegister, Type: typ, Order: o, Scale: 1, Unit: UnitCelsius, Metric: wardwatch.MetricTemperature}
	}
	faulty := temp(TypeInt16, OrderABCD)
	faulty.FaultValues = []int64{-32768, 32767}
	state := Field{Table: TableHoldingRegister, Type: TypeUint16, Order: OrderABCD, Scale: 1, Metric: wardwatch.MetricAlarm}
	tests := []struct {
		name   string
		f      Field
		raw    []byte
		reason string
	}{
		{"float32 NaN", temp(TypeFloat32, OrderABCD), reg("7fc00000"), reasonNotFinite},
		{"float32 NaN in CDAB", temp(TypeFloat32, OrderCDAB), reg("00007fc0"), reasonNotFinite},
		{"float32 +Inf", temp(TypeFloat32, OrderABCD), reg("7f800000"), reasonNotFinite},
		{"float32 -Inf DCBA", temp(TypeFloat32, OrderDCBA), reg("000080ff"), reasonNotFinite},
		{"float64 +Inf BADC", temp(TypeFloat64, OrderBADC), reg("f07f000000000000"), reasonNotFinite},
		{"float64 NaN", temp(TypeFloat64, OrderABCD), reg("7ff8000000000001"), reasonNotFinite},
		{"overflow after scaling", Field{Table: TableHoldingRegister, Type: TypeFloat64, Order: OrderABCD, Scale: 1e300, Unit: UnitCelsius, Metric: wardwatch.MetricTemperature}, reg("7fefffffffffffff"), reasonNotFinite},
		{"fault value 0x8000", faulty, reg("8000"), reasonFaultValue},
		{"fault value 0x7FFF", faulty, reg("7fff"), reasonFaultValue},
		{"state 2", state, reg("0002"), reasonNotState},
		{"short register", temp(TypeInt32, OrderABCD), reg("0001"), reasonLength},
		{"long register", temp(TypeInt16, OrderABCD), reg("00010002"), reasonLength},
		{"bit not 0/1", Field{Table: TableCoil, Type: TypeBit, Scale: 1, Metric: wardwatch.MetricAlarm}, []byte{2}, reasonLength},
		{"no bit", Field{Table: TableCoil, Type: TypeBit, Scale: 1, Metric: wardwatch.MetricAlarm}, nil, reasonLength},
	}
	for _, tt := range tests {
		_, err := tt.f.Decode(tt.raw)
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%s: err = %v, want a DecodeError", tt.name, err)
			continue
		}
		if de.Reason != tt.reason {
			t.Errorf("%s: reason %q, want %q (%v)", tt.name, de.Reason, tt.reason, err)
		}
	}
	if v, err := faulty.Decode(reg("8001")); err != nil || v != -32767 {
		t.Errorf("0x8001 is not a fault value: got %v, %v", v, err)
	}
}

func TestFieldRaw(t *testing.T) {
	regs := Request{Table: TableHoldingRegister, Address: 100, Count: 4}
	resp := []byte{0, 1, 0, 2, 0, 3, 0, 4}
	f := Field{Name: "x", Table: TableHoldingRegister, Address: 102, Type: TypeInt32}
	raw, err := fieldRaw(regs, resp, f)
	if err != nil || rawHex(f, raw) != "0003 0004" {
		t.Errorf("registers: %q, %v", rawHex(f, raw), err)
	}
	f.Address = 103
	if _, err := fieldRaw(regs, resp, f); err == nil {
		t.Error("field past the request's end accepted")
	}
	f.Address = 102
	if _, err := fieldRaw(regs, resp[:6], f); err == nil {
		t.Error("short response accepted")
	}
	coils := Request{Table: TableCoil, Address: 10, Count: 12}
	bits := []byte{0b1000_0001, 0b0000_1000} // coils 10, 17, 21 on
	for addr, want := range map[uint16]byte{10: 1, 11: 0, 17: 1, 18: 0, 21: 1} {
		raw, err := fieldRaw(coils, bits, Field{Table: TableCoil, Address: addr, Type: TypeBit})
		if err != nil || len(raw) != 1 || raw[0] != want {
			t.Errorf("coil %d: %v, %v, want %d", addr, raw, err, want)
		}
	}
}
