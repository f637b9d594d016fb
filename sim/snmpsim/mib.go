package snmpsim

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
)

// The example pump MIB (WardWatch's, under enterprise 32473, which IANA
// reserves for documentation, RFC 5612). collectors/snmp's built-in
// profiles read it; the numbers are repeated here on purpose, so a test of
// the collector against this agent checks two readings of the MIB against
// each other.
//
//	1.3.6.1.4.1.32473.7.1            single pump (scalars, .0 instances)
//	    .1 serial  .2 model  .3 firmware  .4 status (text: STANDBY, RUN,
//	    STOP, KVO, END, ALARM, OFF)  .5 power source (1 mains, 2 battery)
//	    .6 battery %  .7 rate (0.1 ml/h)  .8 VTBI (0.1 ml)  .9 infused
//	    (0.1 ml)  .10 alarm flags (bit 0 occlusion, 1 air in line, 2 near
//	    end, 3 low battery)  .11 drug library  .12 drug library version
//	1.3.6.1.4.1.32473.7.2.1.1.<col>.<pump>          pump table
//	    .2 serial  .3 model  .4 firmware  .5 status (1 idle, 2 infusing,
//	    3 paused, 4 kvo, 5 complete, 6 alarm, 7 off)  .6 on AC (TruthValue)
//	    .7 battery %  .8 rate (0.1 ml/h)  .9 VTBI (0.1 ml)  .10 infused
//	    (0.01 ml)  .11 drug library  .12 drug library version  .13 care
//	    area (not read by the built-in profile)
//	1.3.6.1.4.1.32473.7.2.2.1.<col>.<pump>.<alarm>  alarm table
//	    .2 code  .3 text  .4 priority (1 high, 2 medium, 3 low)
var (
	arcPump       = oid{1, 3, 6, 1, 4, 1, 32473, 7, 1}
	arcPumpEntry  = oid{1, 3, 6, 1, 4, 1, 32473, 7, 2, 1, 1}
	arcAlarmEntry = oid{1, 3, 6, 1, 4, 1, 32473, 7, 2, 2, 1}
	arcSystem     = oid{1, 3, 6, 1, 2, 1, 1}
	arcExample    = oid{1, 3, 6, 1, 4, 1, 32473, 7}
)

// oid is an object identifier as arcs.
type oid []uint32

func (o oid) String() string {
	var b strings.Builder
	for _, a := range o {
		b.WriteByte('.')
		b.WriteString(strconv.FormatUint(uint64(a), 10))
	}
	return b.String()
}

// child returns o extended by arcs, in a new slice.
func (o oid) child(arcs ...uint32) oid {
	c := make(oid, 0, len(o)+len(arcs))
	return append(append(c, o...), arcs...)
}

// parseOID reads a dotted OID as gosnmp names varbinds.
func parseOID(s string) (oid, bool) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, false
	}
	var o oid
	for len(s) > 0 {
		i := strings.IndexByte(s, '.')
		part := s
		if i >= 0 {
			part, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		n, err := strconv.ParseUint(part, 10, 32)
		if err != nil || len(o) >= 128 {
			return nil, false
		}
		o = append(o, uint32(n))
	}
	return o, true
}

// entry is one object instance a view serves.
type entry struct {
	oid oid
	pdu gosnmp.SnmpPDU
}

// view is the sorted set of instances one request can see.
type view []entry

// find returns the index of the first entry not below o.
func (v view) find(o oid) (int, bool) {
	return slices.BinarySearchFunc(v, o, func(e entry, o oid) int { return slices.Compare(e.oid, o) })
}

// get returns the instance o, or the exception saying why there is none.
func (v view) get(o oid) gosnmp.SnmpPDU {
	i, ok := v.find(o)
	if ok {
		return v[i].pdu
	}
	// noSuchInstance when o names a missing instance of an object the view
	// has (a row a column lacks, a scalar without .0), else noSuchObject.
	if len(o) > 1 {
		parent := o[:len(o)-1]
		if j, _ := v.find(parent); j < len(v) && hasPrefix(v[j].oid, parent) {
			return gosnmp.SnmpPDU{Name: o.String(), Type: gosnmp.NoSuchInstance}
		}
	}
	return gosnmp.SnmpPDU{Name: o.String(), Type: gosnmp.NoSuchObject}
}

// next returns the first instance after o, or false at the end of the view.
func (v view) next(o oid) (gosnmp.SnmpPDU, bool) {
	i, ok := v.find(o)
	if ok {
		i++
	}
	if i >= len(v) {
		return gosnmp.SnmpPDU{}, false
	}
	return v[i].pdu, true
}

func hasPrefix(o, prefix oid) bool {
	return len(o) >= len(prefix) && slices.Equal(o[:len(prefix)], prefix)
}

// builder collects a view's entries in OID order.
type builder struct{ v view }

func (b *builder) add(o oid, t gosnmp.Asn1BER, value any) {
	b.v = append(b.v, entry{oid: o, pdu: gosnmp.SnmpPDU{Name: o.String(), Type: t, Value: value}})
}

func (b *builder) str(o oid, s string) { b.add(o, gosnmp.OctetString, []byte(s)) }

func (b *builder) system(descr string, up time.Duration) {
	b.str(arcSystem.child(1, 0), descr)
	b.add(arcSystem.child(2, 0), gosnmp.ObjectIdentifier, arcExample.String())
	b.add(arcSystem.child(3, 0), gosnmp.TimeTicks, uint32(max(0, up.Milliseconds()/10)))
	b.str(arcSystem.child(5, 0), "wardwatch-sim")
}

// serverView is the pump server's view: the system group, the pump table
// and the alarm table, every pump a row.
func serverView(pumps []*pump, up time.Duration) view {
	var b builder
	b.system("WardWatch simulated pump server ("+strconv.Itoa(len(pumps))+" pumps)", up)
	vals := make([]served, len(pumps))
	for i, p := range pumps {
		vals[i] = p.served()
	}
	for col := uint32(2); col <= 13; col++ {
		for i, p := range pumps {
			o := arcPumpEntry.child(col, uint32(i+1))
			s := vals[i]
			switch col {
			case 2:
				b.str(o, p.serial)
			case 3:
				b.str(o, p.model)
			case 4:
				b.str(o, p.firmware)
			case 5:
				b.add(o, gosnmp.Integer, s.status)
			case 6:
				b.add(o, gosnmp.Integer, truth(s.onAC))
			case 7:
				b.add(o, gosnmp.Gauge32, uint(s.battery))
			case 8:
				b.add(o, gosnmp.Gauge32, uint(s.rate10))
			case 9:
				b.add(o, gosnmp.Gauge32, uint(s.vtbi10))
			case 10:
				b.add(o, gosnmp.Gauge32, uint(s.infused))
			case 11:
				b.str(o, p.library)
			case 12:
				b.str(o, p.version)
			case 13:
				b.str(o, p.careArea)
			}
		}
	}
	for col := uint32(2); col <= 4; col++ {
		for i := range pumps {
			for k, a := range vals[i].alarms {
				o := arcAlarmEntry.child(col, uint32(i+1), uint32(k+1))
				switch col {
				case 2:
					b.str(o, a.code)
				case 3:
					b.str(o, a.text)
				case 4:
					b.add(o, gosnmp.Integer, a.priority)
				}
			}
		}
	}
	return b.v
}

// pumpView is one pump's own agent: the system group and the single-pump
// scalars.
func pumpView(p *pump, up time.Duration) view {
	var b builder
	b.system("WardWatch simulated infusion pump "+p.serial, up)
	s := p.served()
	scalar := func(n uint32) oid { return arcPump.child(n, 0) }
	b.str(scalar(1), p.serial)
	b.str(scalar(2), p.model)
	b.str(scalar(3), p.firmware)
	b.str(scalar(4), statusText(s.status))
	power := 2
	if s.onAC {
		power = 1
	}
	b.add(scalar(5), gosnmp.Integer, power)
	b.add(scalar(6), gosnmp.Gauge32, uint(s.battery))
	b.add(scalar(7), gosnmp.Gauge32, uint(s.rate10))
	b.add(scalar(8), gosnmp.Gauge32, uint(s.vtbi10))
	b.add(scalar(9), gosnmp.Gauge32, uint(s.infused10))
	flags := 0
	for _, a := range s.alarms {
		flags |= 1 << a.bit
	}
	b.add(scalar(10), gosnmp.Integer, flags)
	b.str(scalar(11), p.library)
	b.str(scalar(12), p.version)
	return b.v
}

// statusText is the single-pump agent's text status.
func statusText(status int) string {
	switch status {
	case statusIdle:
		return "STANDBY"
	case statusInfusing:
		return "RUN"
	case statusPaused:
		return "STOP"
	case statusKVO:
		return "KVO"
	case statusComplete:
		return "END"
	case statusAlarm:
		return "ALARM"
	}
	return "OFF"
}

// truth encodes a TruthValue: 1 true, 2 false.
func truth(b bool) int {
	if b {
		return 1
	}
	return 2
}
