package snmpsim

import (
	"errors"
	"fmt"

	"github.com/gosnmp/gosnmp"
)

// BER tags the agent reads itself. gosnmp decodes PDUs; the agent parses
// only a message's version and SNMPv3 header, to decide how to authenticate
// it before handing it to gosnmp.
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagSequence    = 0x30
)

var errBER = errors.New("malformed BER")

// tlv reads one definite-length BER element from b: its tag, its content,
// and the offset of the content within b. Lengths beyond b are errors.
func tlv(b []byte) (tag byte, content []byte, contentAt int, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, 0, nil, errBER
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, 0, nil, fmt.Errorf("%w: multi-byte tag", errBER)
	}
	n := int(b[1])
	i := 2
	if n&0x80 != 0 {
		octets := n & 0x7f
		if octets == 0 || octets > 3 || len(b) < 2+octets {
			return 0, nil, 0, nil, fmt.Errorf("%w: unsupported length", errBER)
		}
		n = 0
		for _, c := range b[2 : 2+octets] {
			n = n<<8 | int(c)
		}
		i += octets
	}
	if n > len(b)-i {
		return 0, nil, 0, nil, fmt.Errorf("%w: length %d beyond the message", errBER, n)
	}
	return tag, b[i : i+n], i, b[i+n:], nil
}

// berInt reads a BER INTEGER of at most 8 octets.
func berInt(b []byte) (int64, []byte, error) {
	tag, c, _, rest, err := tlv(b)
	if err != nil {
		return 0, nil, err
	}
	if tag != tagInteger || len(c) == 0 || len(c) > 8 {
		return 0, nil, fmt.Errorf("%w: expected an INTEGER", errBER)
	}
	v := int64(int8(c[0]))
	for _, x := range c[1:] {
		v = v<<8 | int64(x)
	}
	return v, rest, nil
}

// berOctets reads a BER OCTET STRING; at is the offset of its content
// within b.
func berOctets(b []byte) (v []byte, at int, rest []byte, err error) {
	tag, c, at, rest, err := tlv(b)
	if err != nil {
		return nil, 0, nil, err
	}
	if tag != tagOctetString {
		return nil, 0, nil, fmt.Errorf("%w: expected an OCTET STRING", errBER)
	}
	return c, at, rest, nil
}

// messageVersion reads the SNMP version of a message: 0 (v1), 1 (v2c) or
// 3 (v3).
func messageVersion(msg []byte) (int64, error) {
	tag, body, _, rest, err := tlv(msg)
	if err != nil {
		return 0, err
	}
	if tag != tagSequence || len(rest) != 0 {
		return 0, fmt.Errorf("%w: not one SEQUENCE", errBER)
	}
	v, _, err := berInt(body)
	return v, err
}

// v3Header is the part of an SNMPv3 message the agent checks before
// decrypting it (RFC 3412 §6, RFC 3414 §2.4).
type v3Header struct {
	msgID      int64
	maxSize    int64
	flags      byte
	secModel   int64
	engineID   []byte
	boots      int64
	time       int64
	user       []byte
	authParams []byte
	authAt     int // offset of authParams' content in the message
	privParams []byte
}

// Message flags (RFC 3412 §6.4).
const (
	flagAuth       = 0x01
	flagPriv       = 0x02
	flagReportable = 0x04
)

// parseV3Header reads an SNMPv3 message's header and USM security
// parameters.
func parseV3Header(msg []byte) (*v3Header, error) {
	_, body, bodyAt, _, err := tlv(msg)
	if err != nil {
		return nil, err
	}
	_, rest, err := berInt(body) // version
	if err != nil {
		return nil, err
	}
	tag, hdr, _, rest, err := tlv(rest)
	if err != nil {
		return nil, err
	}
	if tag != tagSequence {
		return nil, fmt.Errorf("%w: header is not a SEQUENCE", errBER)
	}
	h := &v3Header{}
	if h.msgID, hdr, err = berInt(hdr); err != nil {
		return nil, err
	}
	if h.maxSize, hdr, err = berInt(hdr); err != nil {
		return nil, err
	}
	flags, _, hdr, err := berOctets(hdr)
	if err != nil {
		return nil, err
	}
	if len(flags) != 1 {
		return nil, fmt.Errorf("%w: msgFlags is not one octet", errBER)
	}
	h.flags = flags[0]
	if h.secModel, _, err = berInt(hdr); err != nil {
		return nil, err
	}
	secParams, secAt, _, err := berOctets(rest)
	if err != nil {
		return nil, err
	}
	// Offset of secParams' content in msg: the message's header, then
	// everything before rest within body, then the OCTET STRING header.
	base := bodyAt + (len(body) - len(rest)) + secAt
	tag, usm, usmAt, _, err := tlv(secParams)
	if err != nil {
		return nil, err
	}
	if tag != tagSequence {
		return nil, fmt.Errorf("%w: USM parameters are not a SEQUENCE", errBER)
	}
	base += usmAt
	cur := usm
	if h.engineID, _, cur, err = berOctets(cur); err != nil {
		return nil, err
	}
	if h.boots, cur, err = berInt(cur); err != nil {
		return nil, err
	}
	if h.time, cur, err = berInt(cur); err != nil {
		return nil, err
	}
	if h.user, _, cur, err = berOctets(cur); err != nil {
		return nil, err
	}
	off := len(usm) - len(cur)
	var at int
	if h.authParams, at, cur, err = berOctets(cur); err != nil {
		return nil, err
	}
	h.authAt = base + off + at
	if h.privParams, _, _, err = berOctets(cur); err != nil {
		return nil, err
	}
	return h, nil
}

// tlvLen is the size of a BER element with n octets of content.
func tlvLen(n int) int {
	switch {
	case n < 0x80:
		return 2 + n
	case n < 0x100:
		return 3 + n
	case n < 0x10000:
		return 4 + n
	}
	return 5 + n
}

// varbindLen is the size of pdu encoded as a varbind, as gosnmp encodes
// it: SEQUENCE { OID, value }.
func varbindLen(pdu gosnmp.SnmpPDU) int {
	return tlvLen(tlvLen(oidLen(pdu.Name)) + valueLen(pdu))
}

// oidLen is the content size of a dotted OID: base-128 arcs, the first
// two in one.
func oidLen(name string) int {
	n, arc, arcs := 0, uint64(0), 0
	flush := func() {
		arcs++
		if arcs == 2 {
			arc += 40 // combined with the first arc (close enough for sizing)
		}
		if arcs >= 2 {
			for n++; arc >= 0x80; arc >>= 7 {
				n++
			}
		}
		arc = 0
	}
	digits := false
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= '0' && c <= '9' {
			arc, digits = arc*10+uint64(c-'0'), true
		} else if digits {
			flush()
			digits = false
		}
	}
	if digits {
		flush()
	}
	return n
}

// valueLen is the encoded size of pdu's value, type and length included.
func valueLen(pdu gosnmp.SnmpPDU) int {
	switch v := pdu.Value.(type) {
	case []byte:
		return tlvLen(len(v))
	case string:
		if pdu.Type == gosnmp.ObjectIdentifier {
			return tlvLen(oidLen(v))
		}
		return tlvLen(len(v))
	case int:
		return tlvLen(5)
	case uint, uint32:
		return tlvLen(5)
	case uint64:
		return tlvLen(9)
	}
	return 2
}
