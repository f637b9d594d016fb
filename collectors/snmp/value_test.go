package snmp

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/wardwatch/wardwatch"
)

func pdu(t gosnmp.Asn1BER, v any) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: ".1.3.6.1.9", Type: t, Value: v}
}

func TestReadNumber(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pdu   gosnmp.SnmpPDU
		scale float64
		want  float64
		err   string
	}{
		{"integer", pdu(gosnmp.Integer, 42), 0, 42, ""},
		{"negative", pdu(gosnmp.Integer, -5), 1, -5, ""},
		{"gauge tenths", pdu(gosnmp.Gauge32, uint(1234)), 0.1, 123.4, ""},
		{"hundredths", pdu(gosnmp.Gauge32, uint32(12345)), 0.01, 123.45, ""},
		{"quarter", pdu(gosnmp.Counter32, uint(7)), 0.25, 1.75, ""},
		{"times ten", pdu(gosnmp.Integer, 7), 10, 70, ""},
		{"odd scale", pdu(gosnmp.Integer, 3), 0.3, 0.8999999999999999, ""},
		{"counter64", pdu(gosnmp.Counter64, uint64(1)<<40), 0, 1 << 40, ""},
		{"timeticks", pdu(gosnmp.TimeTicks, uint32(100)), 0.01, 1, ""},
		{"opaque float", pdu(gosnmp.OpaqueFloat, float32(2.5)), 0, 2.5, ""},
		{"opaque double", pdu(gosnmp.OpaqueDouble, 12.25), 2, 24.5, ""},
		{"decimal text", pdu(gosnmp.OctetString, []byte(" 12.5\x00")), 0, 12.5, ""},
		{"hex float text", pdu(gosnmp.OctetString, []byte("0x1p3")), 0, math.NaN(), "is not a number"},
		{"NaN text", pdu(gosnmp.OctetString, []byte("NaN")), 0, math.NaN(), "is not a number"},
		{"Inf text", pdu(gosnmp.OctetString, []byte("1e400")), 0, math.NaN(), "is not a number"},
		{"words", pdu(gosnmp.OctetString, []byte("full")), 0, math.NaN(), "is not a number"},
		{"NaN double", pdu(gosnmp.OpaqueDouble, math.NaN()), 0, math.NaN(), "not a finite number"},
		{"no such object", pdu(gosnmp.NoSuchObject, nil), 0, math.NaN(), "not supported"},
		{"oid value", pdu(gosnmp.ObjectIdentifier, ".1.3"), 0, math.NaN(), "is not a number"},
		{"mismatched go type", pdu(gosnmp.Integer, struct{}{}), 0, math.NaN(), "is not a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readNumber(tc.pdu, tc.scale)
			if !sameFloat(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			checkErr(t, err, tc.err)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("error %v, want it to contain %q", err, want)
	}
}

func TestReadString(t *testing.T) {
	for _, tc := range []struct {
		name string
		pdu  gosnmp.SnmpPDU
		want string
		err  string
	}{
		{"text", pdu(gosnmp.OctetString, []byte("SN-0412")), "SN-0412", ""},
		{"C string", pdu(gosnmp.OctetString, []byte("SN-0412\x00\x00")), "SN-0412", ""},
		{"padded", pdu(gosnmp.OctetString, []byte("  Alaris 8100 ")), "Alaris 8100", ""},
		{"control characters", pdu(gosnmp.OctetString, []byte("a\nb\tc\x1b")), "a b c", ""},
		{"invalid utf-8", pdu(gosnmp.OctetString, []byte{'a', 0xff, 'b'}), "a\uFFFDb", ""},
		{"unicode", pdu(gosnmp.OctetString, []byte("Pädiatrie")), "Pädiatrie", ""},
		{"long", pdu(gosnmp.OctetString, []byte(strings.Repeat("é", 300))), strings.Repeat("é", maxTextLen/2), ""},
		{"integer", pdu(gosnmp.Integer, 8100), "8100", ""},
		{"unsigned", pdu(gosnmp.Gauge32, uint(7)), "7", ""},
		{"no such instance", pdu(gosnmp.NoSuchInstance, nil), "", "not supported"},
		{"float", pdu(gosnmp.OpaqueFloat, float32(1)), "", "is not text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readString(tc.pdu)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			checkErr(t, err, tc.err)
		})
	}
}

func TestReadStatus(t *testing.T) {
	server, _ := BuiltinProfile(ExamplePumpServerProfile)
	single, _ := BuiltinProfile(ExamplePumpProfile)
	plain := &Field{OID: "1.3.6.1.9"}
	for _, tc := range []struct {
		name  string
		field *Field
		pdu   gosnmp.SnmpPDU
		want  wardwatch.PumpStatus
		err   string
	}{
		{"integer enum", server.Status, pdu(gosnmp.Integer, 2), wardwatch.PumpInfusing, ""},
		{"integer enum kvo", server.Status, pdu(gosnmp.Integer, 4), wardwatch.PumpKVO, ""},
		{"unmapped integer", server.Status, pdu(gosnmp.Integer, 9), wardwatch.PumpUnknown, `status "9" is not in the profile's enum`},
		{"text enum", single.Status, pdu(gosnmp.OctetString, []byte("RUN")), wardwatch.PumpInfusing, ""},
		{"text enum padded", single.Status, pdu(gosnmp.OctetString, []byte("STOP\x00")), wardwatch.PumpPaused, ""},
		{"unmapped text", single.Status, pdu(gosnmp.OctetString, []byte("BOLUS")), wardwatch.PumpUnknown, "not in the profile's enum"},
		{"no enum, status name", plain, pdu(gosnmp.OctetString, []byte("Infusing")), wardwatch.PumpInfusing, ""},
		{"no enum, integer", plain, pdu(gosnmp.Integer, 2), wardwatch.PumpUnknown, "needs an enum"},
		{"no enum, other text", plain, pdu(gosnmp.OctetString, []byte("running")), wardwatch.PumpUnknown, "needs an enum"},
		{"missing", server.Status, pdu(gosnmp.NoSuchInstance, nil), wardwatch.PumpUnknown, "not supported"},
		{"counter", server.Status, pdu(gosnmp.Counter32, uint(2)), wardwatch.PumpInfusing, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readStatus(tc.pdu, tc.field)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			checkErr(t, err, tc.err)
		})
	}
}

func TestReadBool(t *testing.T) {
	single, _ := BuiltinProfile(ExamplePumpProfile) // 1 mains, 2 battery
	plain := &Field{OID: "1.3.6.1.9"}
	for _, tc := range []struct {
		name  string
		field *Field
		pdu   gosnmp.SnmpPDU
		want  bool
		err   string
	}{
		{"enum mains", single.OnAC, pdu(gosnmp.Integer, 1), true, ""},
		{"enum battery", single.OnAC, pdu(gosnmp.Integer, 2), false, ""},
		{"enum unmapped", single.OnAC, pdu(gosnmp.Integer, 3), false, "not in the profile's enum"},
		{"TruthValue true", plain, pdu(gosnmp.Integer, 1), true, ""},
		{"TruthValue false", plain, pdu(gosnmp.Integer, 2), false, ""},
		{"not a TruthValue", plain, pdu(gosnmp.Integer, 0), false, "not a TruthValue"},
		{"text yes", plain, pdu(gosnmp.OctetString, []byte("Yes")), true, ""},
		{"text off", plain, pdu(gosnmp.OctetString, []byte("off")), false, ""},
		{"text other", plain, pdu(gosnmp.OctetString, []byte("mains")), false, "not true or false"},
		{"missing", plain, pdu(gosnmp.NoSuchObject, nil), false, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBool(tc.pdu, tc.field)
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			checkErr(t, err, tc.err)
		})
	}
}

func TestReadPriority(t *testing.T) {
	server, _ := BuiltinProfile(ExamplePumpServerProfile)
	enum := server.AlarmTable.Priority
	plain := &Field{OID: "1.3.6.1.9"}
	for _, tc := range []struct {
		name  string
		field *Field
		pdu   gosnmp.SnmpPDU
		want  wardwatch.Priority
		err   string
	}{
		{"enum low", enum, pdu(gosnmp.Integer, 3), wardwatch.PriorityLow, ""},
		{"enum unmapped reads high", enum, pdu(gosnmp.Integer, 7), wardwatch.PriorityHigh, "read as high"},
		{"text", plain, pdu(gosnmp.OctetString, []byte("MEDIUM")), wardwatch.PriorityMedium, ""},
		{"integer without enum reads high", plain, pdu(gosnmp.Integer, 3), wardwatch.PriorityHigh, "needs an enum"},
		{"missing reads high", plain, pdu(gosnmp.NoSuchInstance, nil), wardwatch.PriorityHigh, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readPriority(tc.pdu, tc.field)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			checkErr(t, err, tc.err)
		})
	}
}

func TestReadAlarmBits(t *testing.T) {
	bits := &AlarmBits{OID: "1.3.6.1.9", Bits: []AlarmBit{
		{Bit: 0, Code: "occlusion", Priority: wardwatch.PriorityHigh},
		{Bit: 3, Code: "low_battery", Priority: wardwatch.PriorityMedium},
		{Bit: 9, Code: "door", Priority: wardwatch.PriorityHigh},
		{Bit: 63, Code: "top", Priority: wardwatch.PriorityLow},
	}}
	for _, tc := range []struct {
		name string
		pdu  gosnmp.SnmpPDU
		want []string
		err  string
	}{
		{"none", pdu(gosnmp.Integer, 0), nil, ""},
		{"bits 0 and 3", pdu(gosnmp.Integer, 9), []string{"occlusion", "low_battery"}, ""},
		{"bit 9 and unknown bits", pdu(gosnmp.Gauge32, uint(1<<9|1<<5)), []string{"door"}, ""},
		{"negative integer sets bit 63", pdu(gosnmp.Integer, -1), []string{"occlusion", "low_battery", "door", "top"}, ""},
		{"BITS octets", pdu(gosnmp.OctetString, []byte{0x90, 0x40}), []string{"occlusion", "low_battery", "door"}, ""},
		{"short BITS", pdu(gosnmp.OctetString, []byte{0x10}), []string{"low_battery"}, ""},
		{"missing", pdu(gosnmp.NoSuchObject, nil), nil, "not supported"},
		{"oid", pdu(gosnmp.ObjectIdentifier, ".1.3"), nil, "not an alarm flag word"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alarms, err := readAlarmBits(tc.pdu, bits)
			var got []string
			for _, a := range alarms {
				got = append(got, a.Code)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			checkErr(t, err, tc.err)
		})
	}
}

func TestFormatRaw(t *testing.T) {
	for _, tc := range []struct {
		pdu  gosnmp.SnmpPDU
		want string
	}{
		{pdu(gosnmp.Integer, 2), "INTEGER 2"},
		{pdu(gosnmp.Gauge32, uint(1234)), "Gauge32 1234"},
		{pdu(gosnmp.OctetString, []byte("RUN")), `STRING "RUN"`},
		{pdu(gosnmp.OctetString, []byte{0, 1, 0xff}), "STRING (hex) 00 01 ff"},
		{pdu(gosnmp.NoSuchObject, nil), "noSuchObject"},
		{pdu(gosnmp.NoSuchInstance, nil), "noSuchInstance"},
		{pdu(gosnmp.OpaqueFloat, float32(1.5)), "Opaque Float 1.5"},
		{pdu(gosnmp.ObjectIdentifier, ".1.3.6"), `OID ".1.3.6"`},
		{pdu(gosnmp.Asn1BER(0x99), nil), "type 0x99"},
		{pdu(gosnmp.Integer, struct{}{}), "INTEGER (undecodable)"},
	} {
		if got := formatRaw(tc.pdu); got != tc.want {
			t.Errorf("formatRaw(%v %v) = %q, want %q", tc.pdu.Type, tc.pdu.Value, got, tc.want)
		}
	}
	if got := formatRaw(pdu(gosnmp.OctetString, []byte(strings.Repeat("x", 100)))); len(got) > 80 || !strings.HasSuffix(got, `…"`) {
		t.Errorf("long value not shortened: %q", got)
	}
}
