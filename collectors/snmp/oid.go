package snmp

import (
	"fmt"
	"strconv"
	"strings"
)

// maxOIDArcs bounds an OID's length (RFC 2578 §3.5 allows 128 sub-identifiers).
const maxOIDArcs = 128

// normalizeOID checks a numeric dotted OID ("1.3.6.1.4.1.32473.7.1.1.0", a
// leading dot allowed) and returns it without the leading dot. Names from a
// MIB ("SNMPv2-MIB::sysDescr.0") are not accepted: WardWatch loads no MIBs.
func normalizeOID(s string) (string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return "", fmt.Errorf("empty OID")
	}
	arcs := strings.Split(s, ".")
	if len(arcs) < 2 {
		return "", fmt.Errorf("OID %q has fewer than two arcs", s)
	} else if len(arcs) > maxOIDArcs {
		return "", fmt.Errorf("OID %.40q… has more than %d arcs", s, maxOIDArcs)
	}
	for i, a := range arcs {
		if a == "" {
			return "", fmt.Errorf("OID %q has an empty arc", s)
		}
		for _, r := range a {
			if r < '0' || r > '9' {
				return "", fmt.Errorf("OID %q is not numeric (MIB names are not supported: use the numeric OID)", s)
			}
		}
		if len(a) > 1 && a[0] == '0' {
			return "", fmt.Errorf("OID %q has an arc with a leading zero", s)
		}
		n, err := strconv.ParseUint(a, 10, 32)
		if err != nil {
			return "", fmt.Errorf("OID %q has an arc larger than 4294967295", s)
		}
		if i == 0 && n > 2 {
			return "", fmt.Errorf("OID %q must start with 0, 1 or 2", s)
		}
		if i == 1 && arcs[0] != "2" && n > 39 {
			return "", fmt.Errorf("OID %q: the second arc must be below 40", s)
		}
	}
	return s, nil
}

// dotted returns oid with a leading dot, the form gosnmp reports names in.
func dotted(oid string) string {
	if strings.HasPrefix(oid, ".") {
		return oid
	}
	return "." + oid
}

// underOID reports whether oid lies strictly below prefix (both in the same
// form, with or without the leading dot).
func underOID(oid, prefix string) bool {
	return len(oid) > len(prefix)+1 && strings.HasPrefix(oid, prefix) && oid[len(prefix)] == '.'
}

// compareOID compares two dotted OIDs arc by arc as unsigned numbers, like
// net-snmp's snmp_oid_compare: -1 when a sorts first, 0 when equal, 1 when b
// sorts first. A prefix sorts before the OIDs below it. Malformed arcs
// compare by their digits so the function never fails.
func compareOID(a, b string) int {
	i, j := 0, 0
	for {
		x, ni, okA := nextArc(a, i)
		y, nj, okB := nextArc(b, j)
		i, j = ni, nj
		switch {
		case !okA && !okB:
			return 0
		case !okA:
			return -1
		case !okB:
			return 1
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
}

// nextArc parses the arc of oid starting at pos (skipping one dot).
func nextArc(oid string, pos int) (uint64, int, bool) {
	if pos < len(oid) && oid[pos] == '.' {
		pos++
	}
	if pos >= len(oid) {
		return 0, pos, false
	}
	var v uint64
	start := pos
	for pos < len(oid) && oid[pos] != '.' {
		c := oid[pos]
		if c >= '0' && c <= '9' && v < 1<<40 {
			v = v*10 + uint64(c-'0')
		}
		pos++
	}
	return v, pos, pos > start
}

// parentIndex drops the last arc of a row index: for an alarm row indexed
// by <pump index>.<alarm number> it returns the pump index ("" when the
// index has one arc).
func parentIndex(index string) string {
	if i := strings.LastIndexByte(index, '.'); i >= 0 {
		return index[:i]
	}
	return ""
}
