package snmp

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"

	"github.com/wardwatch/wardwatch"
)

// FuzzParseProfile checks ParseProfile never panics, and that whatever it
// accepts compiles and survives a round trip through MarshalProfile.
func FuzzParseProfile(f *testing.F) {
	f.Add([]byte(sampleProfile))
	for _, p := range BuiltinProfiles() {
		data, err := MarshalProfile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("name: x\nserial: {oid: 1.3.6.1.2.0}\n"))
	f.Add([]byte("name: x\ntable: 1.3.6.1.4.1.1.1\nserial: {oid: 1.3.6.1.4.1.1.1.2}\nstatus: {oid: 1.3.6.1.4.1.1.1.3, enum: {1: idle}}\n"))
	f.Add([]byte("name: x\nserial: {oid: 1.3.6.1.2.0}\nalarm_bits: {oid: 1.3.6.1.3.0, bits: [{bit: 1, code: a, priority: high}]}\n"))
	f.Add([]byte("name: &a [*a, *a]\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile(data)
		if err != nil {
			var we *wardwatch.Error
			if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID && code != wardwatch.ETOOLARGE {
				t.Fatalf("error %v has code %q (%T %v)", err, code, err, we)
			}
			return
		}
		if _, err := compile(p); err != nil {
			t.Fatalf("accepted profile does not compile: %v", err)
		}
		out, err := MarshalProfile(p)
		if err != nil {
			t.Fatalf("accepted profile does not marshal: %v", err)
		}
		back, err := ParseProfile(out)
		if err != nil {
			t.Fatalf("marshalled profile does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("round trip changed the profile:\n%+v\n%+v", p, back)
		}
	})
}

// fuzzPDU builds a varbind of type typ whose Go value has the kind kind
// (whatever gosnmp might put there, and things it would not).
func fuzzPDU(typ, kind byte, data []byte) gosnmp.SnmpPDU {
	var word [8]byte
	copy(word[:], data)
	u := binary.BigEndian.Uint64(word[:])
	var v any
	switch kind % 10 {
	case 0:
		v = int(int64(u))
	case 1:
		v = uint(u)
	case 2:
		v = uint32(u)
	case 3:
		v = u
	case 4:
		v = data
	case 5:
		v = string(data)
	case 6:
		v = math.Float32frombits(uint32(u))
	case 7:
		v = math.Float64frombits(u)
	case 8:
		v = nil
	case 9:
		v = []int{1}
	}
	return gosnmp.SnmpPDU{Name: ".1.3.6.1.4.1.32473.7.1.4.0", Type: gosnmp.Asn1BER(typ), Value: v}
}

// FuzzReadValue checks the value mapping on arbitrary varbinds: no panic,
// and every result is something WardWatch can store and show.
func FuzzReadValue(f *testing.F) {
	f.Add(byte(gosnmp.Integer), byte(0), []byte{0, 0, 0, 0, 0, 0, 0, 2}, 0.1)
	f.Add(byte(gosnmp.OctetString), byte(4), []byte("RUN"), 0.0)
	f.Add(byte(gosnmp.OctetString), byte(4), []byte("12.5\x00"), 0.01)
	f.Add(byte(gosnmp.Gauge32), byte(1), []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, 1e-9)
	f.Add(byte(gosnmp.OpaqueDouble), byte(7), []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 1}, 1.0)
	f.Add(byte(gosnmp.NoSuchInstance), byte(8), []byte{}, 0.0)
	f.Add(byte(gosnmp.OctetString), byte(4), []byte{0xff, 0xfe, 0, 0x1b, 'x'}, 0.0)
	f.Add(byte(gosnmp.Integer), byte(9), []byte{1}, 0.0)
	server, _ := BuiltinProfile(ExamplePumpServerProfile)
	single, _ := BuiltinProfile(ExamplePumpProfile)
	plain := &Field{OID: "1.3.6.1.9"}
	f.Fuzz(func(t *testing.T, typ, kind byte, data []byte, scale float64) {
		p := fuzzPDU(typ, kind, data)
		if n, err := readNumber(p, scale); err != nil && !math.IsNaN(n) || err == nil && (math.IsNaN(n)) {
			t.Fatalf("readNumber = %v, %v: a number must be NaN exactly when unreadable", n, err)
		}
		if s, err := readString(p); err == nil && !cleanString(s) || err != nil && s != "" {
			t.Fatalf("readString = %q, %v", s, err)
		}
		for _, field := range []*Field{server.Status, single.Status, plain} {
			if st, _ := readStatus(p, field); !st.Valid() {
				t.Fatalf("readStatus = %q", st)
			}
		}
		for _, field := range []*Field{server.OnAC, single.OnAC, plain} {
			_, _ = readBool(p, field)
		}
		for _, field := range []*Field{server.AlarmTable.Priority, plain} {
			if pr, _ := readPriority(p, field); !validPriority(pr) {
				t.Fatalf("readPriority = %q", pr)
			}
		}
		alarms, _ := readAlarmBits(p, single.AlarmBits)
		if len(alarms) > len(single.AlarmBits.Bits) {
			t.Fatalf("%d alarms from %d bits", len(alarms), len(single.AlarmBits.Bits))
		}
		if raw := formatRaw(p); !utf8.ValidString(raw) || len(raw) > 200 {
			t.Fatalf("formatRaw = %q", raw)
		}
	})
}

// cleanString reports whether s is what cleanText promises.
func cleanString(s string) bool {
	return utf8.ValidString(s) && len(s) <= maxTextLen && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) && s == strings.TrimSpace(s)
}

// fuzzReader answers each request from the fuzz input: per varbind asked
// for, one byte picks what comes back (the next instance, an exception,
// an OID elsewhere, an error status) and more bytes give its value.
type fuzzReader struct {
	data []byte
	n    int
}

func (r *fuzzReader) take() byte {
	if len(r.data) == 0 {
		return 0xff
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

func (r *fuzzReader) answer(oids []string, reps int) (*gosnmp.SnmpPacket, error) {
	r.n++
	op := r.take()
	switch op % 16 {
	case 0:
		return nil, fmt.Errorf("request timeout (after 0 retries): %w", gosnmp.ErrMaxRetriesExceeded)
	case 1:
		return &gosnmp.SnmpPacket{Error: gosnmp.TooBig}, nil
	case 2:
		return &gosnmp.SnmpPacket{Error: gosnmp.NoSuchName, ErrorIndex: r.take()}, nil
	case 3:
		return &gosnmp.SnmpPacket{Error: gosnmp.SNMPError(r.take())}, nil
	}
	res := &gosnmp.SnmpPacket{}
	for rep := 0; rep < reps; rep++ {
		for _, o := range oids {
			if len(r.data) == 0 {
				return res, nil
			}
			sel := r.take()
			name := o
			switch sel % 8 {
			case 0:
				name = o + "." + fmt.Sprint(r.take()) // the next row
			case 1:
				name = o + "." + fmt.Sprint(rep+1) + "." + fmt.Sprint(r.take())
			case 2:
				name = ".1.3.6.1.4.1.32473.9.1"
			case 3:
				name = o // same OID again
			case 4:
				name = "not an OID"
			}
			val := make([]byte, int(r.take()%12))
			for i := range val {
				val[i] = r.take()
			}
			p := fuzzPDU(r.take(), r.take(), val)
			p.Name = name
			res.Variables = append(res.Variables, p)
		}
	}
	if op%16 == 4 && len(res.Variables) > 0 {
		res.Variables = res.Variables[:len(res.Variables)-1]
	}
	return res, nil
}

func (r *fuzzReader) Get(oids []string) (*gosnmp.SnmpPacket, error) {
	res, err := r.answer(oids, 1)
	if err == nil && res.Error == gosnmp.NoError {
		for i := range res.Variables { // a GET names what it asked for (mostly)
			if i < len(oids) && r.n%3 != 0 {
				res.Variables[i].Name = oids[i]
			}
		}
	}
	return res, err
}

func (r *fuzzReader) GetNext(oids []string) (*gosnmp.SnmpPacket, error) { return r.answer(oids, 1) }

func (r *fuzzReader) GetBulk(oids []string, _ uint8, reps uint32) (*gosnmp.SnmpPacket, error) {
	return r.answer(oids, int(min(reps, 3)))
}

// FuzzPoll runs whole polls against agents answering nonsense: polls end,
// never panic, and what they return is valid.
func FuzzPoll(f *testing.F) {
	f.Add(false, byte(1), []byte{})
	f.Add(true, byte(2), []byte{5, 0, 3, 4, 'S', 'N', '-', '1', 4, 4})
	f.Add(false, byte(3), []byte{5, 0, 7, 2, 0, 1, 2, 0, 0, 1, 2, 0})
	f.Add(true, byte(1), []byte{1, 2, 1, 3, 9, 0})
	f.Add(false, byte(2), []byte{4, 3, 0, 0, 0, 5, 5, 5, 5, 5, 5})
	profs := BuiltinProfiles()
	f.Fuzz(func(t *testing.T, table bool, version byte, data []byte) {
		if len(data) > 4096 {
			return
		}
		p := profs[0]
		if table {
			p = profs[1]
		}
		pl, err := compile(p)
		if err != nil {
			t.Fatal(err)
		}
		target := Target{ID: 1, Name: "fuzz", Address: "192.0.2.1", Version: []string{"v1", "v2c", "v2c"}[version%3], Community: "c", Profile: p.Name, MaxRepetitions: 3, MaxOIDsPerRequest: 4}
		s, err := target.settings()
		if err != nil {
			t.Fatal(err)
		}
		r := &fuzzReader{data: data}
		out, err := poll(r, nil, s, pl, func() time.Time { return testNow }, true)
		if r.n > maxRequestsPerPoll {
			t.Fatalf("%d requests", r.n)
		}
		if err != nil {
			if wardwatch.ErrorMessage(err) == "Internal error." {
				t.Fatalf("error without a message: %v", err)
			}
			return
		}
		for _, st := range out.pumps {
			if st.Serial == "" || !cleanString(st.Serial) || !st.Status.Valid() || st.TargetID != 1 || !st.Time.Equal(testNow) {
				t.Fatalf("bad state %+v", st)
			}
			for _, a := range st.Alarms {
				if a.Code == "" || !validPriority(a.Priority) {
					t.Fatalf("bad alarm %+v", a)
				}
			}
		}
		if len(out.issues) > maxIssuesPerPoll || len(out.reads) > maxReadsPerTest {
			t.Fatalf("%d issues, %d reads", len(out.issues), len(out.reads))
		}
	})
}
