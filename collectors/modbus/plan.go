package modbus

import (
	"cmp"
	"slices"
)

// Request is one read: Count registers or bits of Table from Address. It
// covers the fields listed by their index in the profile, in address
// order. All of a device's requests go to its one unit id.
type Request struct {
	Table   Table
	Address uint16
	Count   uint16
	Fields  []int
}

// End is the address just past the request.
func (r Request) End() int { return int(r.Address) + int(r.Count) }

// Plan groups fields into as few reads as the protocol allows: fields of
// the same table whose addresses are adjacent, overlap (bits of one
// register), or lie at most maxGap unused registers (bits) apart share one
// read of at most 125 registers or 2000 bits. Requests come in table order
// (coils, discrete inputs, holding registers, input registers), then by
// address. Fields of unknown tables or types are left out; validate the
// profile first. Plan is pure.
func Plan(fields []Field, maxGap int) []Request {
	maxGap = max(maxGap, 0)
	idx := make([]int, 0, len(fields))
	for i, f := range fields {
		if f.Table.Valid() && f.Registers() > 0 {
			idx = append(idx, i)
		}
	}
	order := func(t Table) int { return slices.Index(tables, t) }
	slices.SortStableFunc(idx, func(a, b int) int {
		fa, fb := fields[a], fields[b]
		if c := cmp.Compare(order(fa.Table), order(fb.Table)); c != 0 {
			return c
		}
		return cmp.Compare(fa.Address, fb.Address)
	})
	var out []Request
	for _, i := range idx {
		f := fields[i]
		start, end := int(f.Address), int(f.Address)+f.Registers()
		if n := len(out); n > 0 {
			last := &out[n-1]
			limit := last.Table.MaxCount()
			if last.Table == f.Table && start-last.End() <= maxGap && max(end, last.End())-int(last.Address) <= limit {
				last.Count = uint16(max(end, last.End()) - int(last.Address))
				last.Fields = append(last.Fields, i)
				continue
			}
		}
		out = append(out, Request{Table: f.Table, Address: uint16(start), Count: uint16(end - start), Fields: []int{i}})
	}
	return out
}

// splitRequest returns one request per field of r.
func splitRequest(fields []Field, r Request) []Request {
	out := make([]Request, 0, len(r.Fields))
	for _, i := range r.Fields {
		f := fields[i]
		out = append(out, Request{Table: f.Table, Address: f.Address, Count: uint16(f.Registers()), Fields: []int{i}})
	}
	return out
}
