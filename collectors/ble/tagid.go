package ble

import (
	"strconv"
	"strings"

	"github.com/wardwatch/wardwatch"
)

// maxTagIDLen bounds the length of a tag identity we even look at; the
// longest canonical form (an EPC of 124 hex digits) is well below it.
const maxTagIDLen = 256

// maxEPCHex is the longest EPC we accept in hex digits (496 bits, the
// largest EPC a Gen2 tag can hold).
const maxEPCHex = 124

// NormalizeTagID checks a tag identity and returns its canonical form:
//
//	ibeacon:<uuid>:<major>:<minor>   uuid as 32 hex digits or dashed 8-4-4-4-12;
//	                                 canonical: lowercase, dashed; major and
//	                                 minor decimal 0..65535 without leading zeros
//	eddystone:<namespace>:<instance> 20 and 12 hex digits; canonical: lowercase
//	epc:<hex>                        an even number of hex digits, at most 124;
//	                                 canonical: lowercase
//	mac:<mac>                        12 hex digits, bare or separated by ':' or
//	                                 '-' in pairs; canonical: lowercase, bare
//
// The scheme is case-insensitive and surrounding spaces are ignored. Any
// other input yields a *wardwatch.Error with code EINVALID whose message
// says what is wrong (quoting at most a short prefix of the input).
func NormalizeTagID(s string) (string, error) {
	if len(s) > maxTagIDLen {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "tag is too long (%d bytes, at most %d)", len(s), maxTagIDLen)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "tag is empty")
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "tag %s has no scheme (want ibeacon:, eddystone:, epc: or mac:)", quoteShort(s))
	}
	switch strings.ToLower(scheme) {
	case "ibeacon":
		return normalizeIBeacon(s, rest)
	case "eddystone":
		return normalizeEddystone(s, rest)
	case "epc":
		if len(rest) == 0 || len(rest) > maxEPCHex || len(rest)%2 != 0 || !isHex(rest) {
			return "", wardwatch.Errorf(wardwatch.EINVALID, "tag %s: an EPC must be an even number of hex digits, at most %d", quoteShort(s), maxEPCHex)
		}
		return "epc:" + strings.ToLower(rest), nil
	case "mac":
		m, ok := normalizeMAC(rest)
		if !ok {
			return "", wardwatch.Errorf(wardwatch.EINVALID, "tag %s: a MAC must be 12 hex digits", quoteShort(s))
		}
		return "mac:" + m, nil
	}
	return "", wardwatch.Errorf(wardwatch.EINVALID, "tag %s has an unknown scheme (want ibeacon:, eddystone:, epc: or mac:)", quoteShort(s))
}

func normalizeIBeacon(s, rest string) (string, error) {
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "tag %s: want ibeacon:<uuid>:<major>:<minor>", quoteShort(s))
	}
	uuid, ok := normalizeUUID(parts[0])
	if !ok {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "tag %s: the iBeacon UUID must be 32 hex digits, bare or dashed 8-4-4-4-12", quoteShort(s))
	}
	major, ok := parseUint16(parts[1])
	if !ok {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "tag %s: the iBeacon major must be a decimal number 0..65535", quoteShort(s))
	}
	minor, ok := parseUint16(parts[2])
	if !ok {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "tag %s: the iBeacon minor must be a decimal number 0..65535", quoteShort(s))
	}
	return "ibeacon:" + uuid + ":" + strconv.Itoa(major) + ":" + strconv.Itoa(minor), nil
}

func normalizeEddystone(s, rest string) (string, error) {
	ns, inst, ok := strings.Cut(rest, ":")
	if !ok || len(ns) != 20 || len(inst) != 12 || !isHex(ns) || !isHex(inst) {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "tag %s: want eddystone:<20 hex namespace>:<12 hex instance>", quoteShort(s))
	}
	return "eddystone:" + strings.ToLower(ns) + ":" + strings.ToLower(inst), nil
}

// normalizeUUID accepts 32 hex digits, bare or dashed 8-4-4-4-12, and
// returns the lowercase dashed form.
func normalizeUUID(u string) (string, bool) {
	var hex string
	switch len(u) {
	case 32:
		hex = u
	case 36:
		if u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-' {
			return "", false
		}
		hex = u[0:8] + u[9:13] + u[14:18] + u[19:23] + u[24:36]
	default:
		return "", false
	}
	if !isHex(hex) {
		return "", false
	}
	hex = strings.ToLower(hex)
	return hex[0:8] + "-" + hex[8:12] + "-" + hex[12:16] + "-" + hex[16:20] + "-" + hex[20:32], true
}

// normalizeMAC accepts 12 hex digits, bare or as six pairs separated by
// the same ':' or '-', and returns the lowercase bare form.
func normalizeMAC(m string) (string, bool) {
	switch len(m) {
	case 12:
	case 17:
		sep := m[2]
		if sep != ':' && sep != '-' {
			return "", false
		}
		var b strings.Builder
		b.Grow(12)
		for i := 0; i < 17; i++ {
			if i%3 == 2 {
				if m[i] != sep {
					return "", false
				}
				continue
			}
			b.WriteByte(m[i])
		}
		m = b.String()
	default:
		return "", false
	}
	if !isHex(m) {
		return "", false
	}
	return strings.ToLower(m), true
}

// parseUint16 parses a plain decimal number (digits only) in 0..65535.
func parseUint16(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// quoteShort quotes s for an error message, cut to a short prefix so that
// a hostile input cannot blow up responses or logs.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		// Cut on a rune boundary: strconv.Quote would escape a split rune
		// anyway, but a clean cut reads better.
		cut := max
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
