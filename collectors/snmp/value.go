package snmp

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"

	"github.com/wardwatch/wardwatch"
)

// maxTextLen bounds a string read from an agent (serials, models, alarm
// texts); longer values are cut at a character boundary.
const maxTextLen = 256

// errNotSupported marks a varbind telling that the agent has no such
// object or instance.
var errNotSupported = errors.New("not supported by the agent")

// exception reports whether pdu carries no value but an SNMPv2 exception
// (noSuchObject, noSuchInstance, endOfMibView) or NULL.
func exception(pdu gosnmp.SnmpPDU) bool {
	switch pdu.Type {
	case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView, gosnmp.Null:
		return true
	}
	return false
}

// integerValue returns pdu's value as a whole number when it is one,
// whatever Go type gosnmp decoded it into. ok is false for other values.
func integerValue(pdu gosnmp.SnmpPDU) (v int64, u uint64, unsigned, ok bool) {
	switch x := pdu.Value.(type) {
	case int:
		return int64(x), 0, false, true
	case int8:
		return int64(x), 0, false, true
	case int16:
		return int64(x), 0, false, true
	case int32:
		return int64(x), 0, false, true
	case int64:
		return x, 0, false, true
	case uint:
		return 0, uint64(x), true, true
	case uint8:
		return 0, uint64(x), true, true
	case uint16:
		return 0, uint64(x), true, true
	case uint32:
		return 0, uint64(x), true, true
	case uint64:
		return 0, x, true, true
	}
	return 0, 0, false, false
}

// bytesValue returns pdu's value as bytes when it is a string of octets.
func bytesValue(pdu gosnmp.SnmpPDU) ([]byte, bool) {
	switch x := pdu.Value.(type) {
	case []byte:
		return x, true
	case string:
		return []byte(x), true
	}
	return nil, false
}

// valueError explains why a varbind could not be read as a field.
func valueError(pdu gosnmp.SnmpPDU, want string) error {
	if exception(pdu) {
		return errNotSupported
	}
	return fmt.Errorf("%s is not %s", formatRaw(pdu), want)
}

// readNumber reads a numeric field: any integer type, an Opaque float or
// double, or a decimal number in an OCTET STRING; then scales it.
func readNumber(pdu gosnmp.SnmpPDU, scale float64) (float64, error) {
	var raw float64
	if v, u, unsigned, ok := integerValue(pdu); ok {
		if unsigned {
			raw = float64(u)
		} else {
			raw = float64(v)
		}
	} else {
		switch x := pdu.Value.(type) {
		case float32:
			raw = float64(x)
		case float64:
			raw = x
		default:
			b, ok := bytesValue(pdu)
			if !ok || pdu.Type != gosnmp.OctetString {
				return math.NaN(), valueError(pdu, "a number")
			}
			f, err := parseDecimal(string(b))
			if err != nil {
				return math.NaN(), valueError(pdu, "a number")
			}
			raw = f
		}
	}
	if math.IsNaN(raw) || math.IsInf(raw, 0) {
		return math.NaN(), fmt.Errorf("%s is not a finite number", formatRaw(pdu))
	}
	return applyScale(raw, scale), nil
}

// parseDecimal parses a plain decimal number ("12", "-3.5", "1e3"),
// refusing hexadecimal floats, infinities and NaN that strconv accepts.
func parseDecimal(s string) (float64, error) {
	s = strings.TrimSpace(strings.TrimRight(s, "\x00"))
	if s == "" || len(s) > 32 {
		return 0, errors.New("not a decimal number")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return 0, errors.New("not a decimal number")
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, errors.New("not a decimal number")
	}
	return f, nil
}

// applyScale multiplies raw by scale. A scale that is the reciprocal of a
// whole number (0.1, 0.01, 0.25) divides instead, so 1234 at 0.1 is exactly
// 123.4 rather than 123.40000000000001.
func applyScale(raw, scale float64) float64 {
	if scale == 0 || scale == 1 {
		return raw
	}
	if scale < 1 {
		inv := 1 / scale
		if r := math.Round(inv); r >= 2 && math.Abs(inv-r) <= 1e-9*r {
			return raw / r
		}
	}
	return raw * scale
}

// readString reads a text field: an OCTET STRING (cleaned: NULs dropped,
// invalid UTF-8 and control characters replaced, spaces trimmed, length
// bounded) or an integer in decimal.
func readString(pdu gosnmp.SnmpPDU) (string, error) {
	if v, u, unsigned, ok := integerValue(pdu); ok {
		if unsigned {
			return strconv.FormatUint(u, 10), nil
		}
		return strconv.FormatInt(v, 10), nil
	}
	b, ok := bytesValue(pdu)
	if !ok {
		return "", valueError(pdu, "text")
	}
	return cleanText(b), nil
}

// cleanText makes agent-supplied bytes safe to store and show.
func cleanText(b []byte) string {
	if len(b) > 4*maxTextLen {
		b = b[:4*maxTextLen]
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == 0:
			continue
		case r == utf8.RuneError && size == 1:
			r = '\uFFFD'
		case r < 0x20 || r == 0x7f:
			r = ' '
		}
		if sb.Len()+utf8.RuneLen(r) > maxTextLen {
			break
		}
		sb.WriteRune(r)
	}
	return strings.TrimSpace(sb.String())
}

// enumKey is the text a value is looked up by in a profile's enum: an
// integer's decimal form or a string's text.
func enumKey(pdu gosnmp.SnmpPDU) (string, error) {
	if _, _, _, ok := integerValue(pdu); ok {
		return readString(pdu)
	}
	if b, ok := bytesValue(pdu); ok {
		return cleanText(b), nil
	}
	return "", valueError(pdu, "an integer or text")
}

// readStatus maps a status value through the field's enum. Without an enum
// a text value naming a WardWatch status ("infusing") is taken as is. A
// value that maps to nothing reads as unknown, with an error saying so.
func readStatus(pdu gosnmp.SnmpPDU, f *Field) (wardwatch.PumpStatus, error) {
	key, err := enumKey(pdu)
	if err != nil {
		return wardwatch.PumpUnknown, err
	}
	if f.Enum != nil {
		if v, ok := f.Enum[key]; ok {
			return wardwatch.PumpStatus(v), nil
		}
		return wardwatch.PumpUnknown, fmt.Errorf("status %q is not in the profile's enum", key)
	}
	if s := wardwatch.PumpStatus(strings.ToLower(key)); s.Valid() && !isInteger(pdu) {
		return s, nil
	}
	return wardwatch.PumpUnknown, fmt.Errorf("status %q needs an enum in the profile", key)
}

// readBool maps an on-AC value: through the enum when there is one, else as
// a TruthValue (1 true, 2 false) or the text true/false.
func readBool(pdu gosnmp.SnmpPDU, f *Field) (bool, error) {
	key, err := enumKey(pdu)
	if err != nil {
		return false, err
	}
	if f.Enum != nil {
		if v, ok := f.Enum[key]; ok {
			return v == "true", nil
		}
		return false, fmt.Errorf("value %q is not in the profile's enum", key)
	}
	if isInteger(pdu) {
		switch key {
		case "1":
			return true, nil
		case "2":
			return false, nil
		}
		return false, fmt.Errorf("value %s is not a TruthValue (1 true, 2 false): add an enum to the profile", key)
	}
	switch strings.ToLower(key) {
	case "true", "yes", "on":
		return true, nil
	case "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("value %q is not true or false: add an enum to the profile", key)
}

// readPriority maps an alarm priority. A value that maps to nothing reads as
// high, with an error saying so: an unknown alarm is not assumed harmless.
func readPriority(pdu gosnmp.SnmpPDU, f *Field) (wardwatch.Priority, error) {
	key, err := enumKey(pdu)
	if err != nil {
		return wardwatch.PriorityHigh, err
	}
	if f.Enum != nil {
		if v, ok := f.Enum[key]; ok {
			return wardwatch.Priority(v), nil
		}
		return wardwatch.PriorityHigh, fmt.Errorf("priority %q is not in the profile's enum (read as high)", key)
	}
	if p := wardwatch.Priority(strings.ToLower(key)); validPriority(p) && !isInteger(pdu) {
		return p, nil
	}
	return wardwatch.PriorityHigh, fmt.Errorf("priority %q needs an enum in the profile (read as high)", key)
}

// readAlarmBits returns the alarms whose bits are set in pdu, in the
// profile's order.
func readAlarmBits(pdu gosnmp.SnmpPDU, b *AlarmBits) ([]wardwatch.PumpAlarm, error) {
	set := func(bit int) bool { return false }
	if v, u, unsigned, ok := integerValue(pdu); ok {
		word := u
		if !unsigned {
			word = uint64(v)
		}
		set = func(bit int) bool { return word>>uint(bit)&1 == 1 }
	} else if octets, ok := bytesValue(pdu); ok && pdu.Type != gosnmp.ObjectIdentifier && pdu.Type != gosnmp.IPAddress {
		set = func(bit int) bool {
			i := bit / 8
			return i < len(octets) && octets[i]&(0x80>>uint(bit%8)) != 0
		}
	} else {
		return nil, valueError(pdu, "an alarm flag word")
	}
	var alarms []wardwatch.PumpAlarm
	for _, bit := range b.Bits {
		if set(bit.Bit) {
			alarms = append(alarms, wardwatch.PumpAlarm{Code: bit.Code, Text: bit.Text, Priority: bit.Priority})
		}
	}
	return alarms, nil
}

func isInteger(pdu gosnmp.SnmpPDU) bool {
	_, _, _, ok := integerValue(pdu)
	return ok
}

// formatRaw shows a varbind's type and value the way an admin checking the
// agent with snmpget would read it.
func formatRaw(pdu gosnmp.SnmpPDU) string {
	switch pdu.Type {
	case gosnmp.NoSuchObject:
		return "noSuchObject"
	case gosnmp.NoSuchInstance:
		return "noSuchInstance"
	case gosnmp.EndOfMibView:
		return "endOfMibView"
	case gosnmp.Null:
		return "NULL"
	}
	name := typeName(pdu.Type)
	if v, u, unsigned, ok := integerValue(pdu); ok {
		if unsigned {
			return name + " " + strconv.FormatUint(u, 10)
		}
		return name + " " + strconv.FormatInt(v, 10)
	}
	switch x := pdu.Value.(type) {
	case float32:
		return name + " " + strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return name + " " + strconv.FormatFloat(x, 'g', -1, 64)
	case nil:
		return name
	}
	b, ok := bytesValue(pdu)
	if !ok {
		return name + " (undecodable)"
	}
	const show = 64
	if utf8.Valid(b) && !strings.ContainsFunc(string(b), func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
		s := string(b)
		if len(s) > show {
			s = strings.ToValidUTF8(s[:show], "") + "…"
		}
		return name + " " + strconv.Quote(s)
	}
	more := ""
	if len(b) > show/2 {
		b, more = b[:show/2], " …"
	}
	return fmt.Sprintf("%s (hex) % x%s", name, b, more)
}

// typeName is an ASN.1 type's name as net-snmp prints it.
func typeName(t gosnmp.Asn1BER) string {
	switch t {
	case gosnmp.Integer:
		return "INTEGER"
	case gosnmp.OctetString:
		return "STRING"
	case gosnmp.ObjectIdentifier:
		return "OID"
	case gosnmp.IPAddress:
		return "IpAddress"
	case gosnmp.Counter32:
		return "Counter32"
	case gosnmp.Gauge32:
		return "Gauge32"
	case gosnmp.TimeTicks:
		return "Timeticks"
	case gosnmp.Opaque:
		return "Opaque"
	case gosnmp.OpaqueFloat:
		return "Opaque Float"
	case gosnmp.OpaqueDouble:
		return "Opaque Double"
	case gosnmp.Counter64:
		return "Counter64"
	case gosnmp.Uinteger32:
		return "UInteger32"
	case gosnmp.BitString:
		return "BITS"
	}
	return fmt.Sprintf("type 0x%02x", byte(t))
}
