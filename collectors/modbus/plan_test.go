package modbus

import (
	"reflect"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	hr := func(addr uint16, typ Type) Field {
		return Field{Table: TableHoldingRegister, Address: addr, Type: typ}
	}
	ir := func(addr uint16, typ Type) Field {
		return Field{Table: TableInputRegister, Address: addr, Type: typ}
	}
	coil := func(addr uint16) Field { return Field{Table: TableCoil, Address: addr, Type: TypeBit} }
	di := func(addr uint16) Field { return Field{Table: TableDiscreteInput, Address: addr, Type: TypeBit} }
	req := func(t Table, addr, count uint16, fields ...int) Request {
		return Request{Table: t, Address: addr, Count: count, Fields: fields}
	}
	tests := []struct {
		name   string
		fields []Field
		gap    int
		want   []Request
	}{
		{"nothing", nil, 0, nil},
		{"one int16", []Field{hr(5, TypeInt16)}, 0, []Request{req(TableHoldingRegister, 5, 1, 0)}},
		{"adjacent merge without a gap", []Field{hr(0, TypeFloat32), hr(2, TypeFloat32)}, 0,
			[]Request{req(TableHoldingRegister, 0, 4, 0, 1)}},
		{"a gap of one splits at max gap 0", []Field{hr(0, TypeInt16), hr(2, TypeInt16)}, 0,
			[]Request{req(TableHoldingRegister, 0, 1, 0), req(TableHoldingRegister, 2, 1, 1)}},
		{"a gap of one merges at max gap 1", []Field{hr(0, TypeInt16), hr(2, TypeInt16)}, 1,
			[]Request{req(TableHoldingRegister, 0, 3, 0, 1)}},
		{"sorted by address, indexes kept", []Field{hr(10, TypeInt16), hr(8, TypeInt32)}, 0,
			[]Request{req(TableHoldingRegister, 8, 3, 1, 0)}},
		{"bits of one register overlap", []Field{
			{Table: TableHoldingRegister, Address: 300, Type: TypeBit, Bit: 3},
			{Table: TableHoldingRegister, Address: 300, Type: TypeBit, Bit: 7},
			hr(301, TypeInt16)}, 0,
			[]Request{req(TableHoldingRegister, 300, 2, 0, 1, 2)}},
		{"a field inside another's span", []Field{hr(0, TypeFloat64), hr(1, TypeInt16)}, 0,
			[]Request{req(TableHoldingRegister, 0, 4, 0, 1)}},
		{"tables never merge; table order", []Field{ir(0, TypeInt16), hr(0, TypeInt16), di(0), coil(0)}, 10,
			[]Request{req(TableCoil, 0, 1, 3), req(TableDiscreteInput, 0, 1, 2), req(TableHoldingRegister, 0, 1, 1), req(TableInputRegister, 0, 1, 0)}},
		{"125 registers fit one read", []Field{hr(0, TypeInt16), hr(123, TypeInt32)}, 125,
			[]Request{req(TableHoldingRegister, 0, 125, 0, 1)}},
		{"126 do not", []Field{hr(0, TypeInt16), hr(124, TypeInt32)}, 125,
			[]Request{req(TableHoldingRegister, 0, 1, 0), req(TableHoldingRegister, 124, 2, 1)}},
		{"2000 coils fit one read", []Field{coil(0), coil(1999)}, 2000,
			[]Request{req(TableCoil, 0, 2000, 0, 1)}},
		{"2001 do not", []Field{coil(0), coil(2000)}, 2000,
			[]Request{req(TableCoil, 0, 1, 0), req(TableCoil, 2000, 1, 1)}},
		{"bits merge with a gap", []Field{coil(512), coil(528)}, 16,
			[]Request{req(TableCoil, 512, 17, 0, 1)}},
		{"negative gap is 0", []Field{hr(0, TypeInt16), hr(1, TypeInt16)}, -5,
			[]Request{req(TableHoldingRegister, 0, 2, 0, 1)}},
		{"last address", []Field{hr(65532, TypeFloat64)}, 0,
			[]Request{req(TableHoldingRegister, 65532, 4, 0)}},
		{"unknown table and type skipped", []Field{{Table: "x", Type: TypeInt16}, {Table: TableHoldingRegister, Type: "x"}, hr(1, TypeInt16)}, 0,
			[]Request{req(TableHoldingRegister, 1, 1, 2)}},
	}
	for _, tt := range tests {
		got := Plan(tt.fields, tt.gap)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

// TestPlanCoversEveryField checks on every built-in profile that each
// field lies inside exactly one request within the protocol limits.
func TestPlanCoversEveryField(t *testing.T) {
	for _, p := range BuiltinProfiles() {
		for _, gap := range []int{0, p.MaxGap, 125} {
			seen := map[int]int{}
			for _, r := range Plan(p.Fields, gap) {
				if int(r.Count) > r.Table.MaxCount() || r.Count == 0 {
					t.Errorf("%s gap %d: request of %d", p.Name, gap, r.Count)
				}
				for _, i := range r.Fields {
					seen[i]++
					f := p.Fields[i]
					if f.Table != r.Table || int(f.Address) < int(r.Address) || int(f.Address)+f.Registers() > r.End() {
						t.Errorf("%s gap %d: field %s outside %+v", p.Name, gap, f.Name, r)
					}
				}
			}
			for i := range p.Fields {
				if seen[i] != 1 {
					t.Errorf("%s gap %d: field %d planned %d times", p.Name, gap, i, seen[i])
				}
			}
		}
	}
}

func TestBackoff(t *testing.T) {
	const s = 1e9
	tests := []struct {
		interval, max int64 // seconds
		failures      int
		want          int64
	}{
		{60, 300, 0, 60},
		{60, 300, 1, 60},
		{60, 300, 2, 120},
		{60, 300, 3, 240},
		{60, 300, 4, 300},
		{60, 300, 100, 300},
		{600, 300, 5, 600}, // never shorter than the interval
		{1, 300, 10, 300},
		{1, 300, 1 << 20, 300}, // no overflow
	}
	for _, tt := range tests {
		got := backoff(durationOf(tt.interval*s), tt.failures, durationOf(tt.max*s))
		if got != durationOf(tt.want*s) {
			t.Errorf("backoff(%ds, %d, %ds) = %v, want %ds", tt.interval, tt.failures, tt.max, got, tt.want)
		}
	}
}

func durationOf(ns int64) time.Duration { return time.Duration(ns) }
