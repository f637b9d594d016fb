package rfid

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
)

// builder collects one body's reads, item errors and ignored items while
// the format's item parser walks it.
type builder struct {
	p       Parsed
	reader  string    // the reader key every read gets; "" to take it from the body
	now     time.Time // time of receipt, UTC
	items   int       // items seen so far (the next item's index)
	valid   int       // items that were syntactically JSON
	tooMany bool
}

// run splits body into top-level values and hands each object (or each
// element of a top-level array) to parseItem.
func (b *builder) run(body []byte, parseItem func(b *builder, raw []byte)) error {
	for i := 0; ; {
		start, end, ok, next := nextValue(body, i)
		if start < 0 {
			break
		}
		i = next
		raw := body[start:end]
		switch {
		case !ok:
			b.fail("item is not valid JSON")
		case raw[0] == '[':
			elems, ok := splitArray(raw)
			if !ok {
				b.fail("item is not valid JSON")
				break
			}
			b.valid++
			if len(elems) > MaxItems-b.items {
				b.tooMany = true
				break
			}
			for _, e := range elems {
				if len(e) > 0 && e[0] == '[' {
					b.fail("item must be a JSON object")
					continue
				}
				parseItem(b, e)
			}
		default:
			parseItem(b, raw)
		}
		if b.tooMany || b.items > MaxItems {
			return wardwatch.Errorf(wardwatch.EINVALID, "body has more than %d items", MaxItems)
		}
	}
	if b.items > 0 && b.valid == 0 {
		return wardwatch.Errorf(wardwatch.EINVALID, "body is not JSON or NDJSON")
	}
	return nil
}

// fail rejects the current item.
func (b *builder) fail(reason string) {
	b.p.Errors = append(b.p.Errors, ItemError{Index: b.items, Reason: reason})
	b.items++
}

// accept keeps a read as the current item.
func (b *builder) accept(r Read) {
	b.p.Reads = append(b.p.Reads, r)
	b.items++
}

// ignore counts the current item as well-formed but not a tag read.
func (b *builder) ignore() {
	b.p.Ignored++
	b.items++
}

// decodeObject unmarshals one item that must be a JSON object into v
// (a struct of json.RawMessage members). It returns a reason when the
// item is rejected, and counts syntactically valid items.
func (b *builder) decodeObject(raw []byte, v any) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "item is not valid JSON"
	}
	if raw[0] != '{' {
		if !json.Valid(raw) {
			return "item is not valid JSON"
		}
		b.valid++
		return "item must be a JSON object"
	}
	if err := json.Unmarshal(raw, v); err != nil {
		if json.Valid(raw) {
			b.valid++
			return "item must be a JSON object"
		}
		return "item is not valid JSON"
	}
	b.valid++
	return ""
}

// readerKey is the reader key a read gets: the builder's, else the first
// non-empty name from the body (already checked).
func (b *builder) readerKey(names ...string) (string, string) {
	if b.reader != "" {
		return b.reader, ""
	}
	for _, n := range names {
		if n != "" {
			return n, ""
		}
	}
	return "", "reader: the body does not name its reader"
}

// nextValue finds the next top-level value of body at or after i. It
// returns start -1 at the end of the body. ok is false for a stretch that
// cannot be a JSON value (a stray delimiter, a bare word, an unclosed
// object, array or string); it then runs to the end of its line, and next
// is where scanning resumes. A value that looks complete (balanced
// brackets, closed string, a scalar token) has ok true but may still be
// invalid JSON: the item parser finds out.
func nextValue(body []byte, i int) (start, end int, ok bool, next int) {
	i = skipSpace(body, i)
	if i >= len(body) {
		return -1, -1, false, len(body)
	}
	start = i
	if end, ok := valueEnd(body, i); ok {
		return start, end, true, end
	}
	// Broken: the item runs to the end of its line.
	end = len(body)
	if k := bytes.IndexByte(body[start:], '\n'); k >= 0 {
		end = start + k
	}
	return start, end, false, end
}

// valueEnd returns the end of the value starting at b[i] (not space): the
// closing bracket of a balanced object or array, the closing quote of a
// string (strings do not span lines), or the end of a valid scalar token.
func valueEnd(b []byte, i int) (int, bool) {
	switch b[i] {
	case '{', '[':
		depth := 0
		inStr := false
		for j := i; j < len(b); j++ {
			c := b[j]
			if inStr {
				switch c {
				case '\\':
					j++
				case '"':
					inStr = false
				}
				continue
			}
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			case '\n':
				return 0, false
			}
		}
	case ',', ':', '}', ']':
	default:
		j := i
		for j < len(b) && !isDelim(b[j]) {
			j++
		}
		if json.Valid(b[i:j]) { // a number, true, false or null
			return j, true
		}
	}
	return 0, false
}

// splitArray returns the elements of a top-level array whose brackets
// balance (as nextValue found it), checking the commas between them; each
// element's own validity is left to the item parser. ok is false for an
// array that is not one.
func splitArray(raw []byte) (elems [][]byte, ok bool) {
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return nil, skipSpace(raw, i+1) == len(raw)
	}
	for i < len(raw) {
		end, ok := valueEnd(raw, i)
		if !ok {
			return nil, false
		}
		elems = append(elems, raw[i:end])
		i = skipSpace(raw, end)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ']':
			return elems, skipSpace(raw, i+1) == len(raw)
		case ',':
			i = skipSpace(raw, i+1)
		default:
			return nil, false
		}
	}
	return nil, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// isDelim reports whether c ends a scalar token.
func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '{', '}', '[', ']', ',', ':', '"':
		return true
	}
	return false
}

// JSON member helpers. Members are decoded as json.RawMessage so that each
// can be type-checked with a precise message.

type jsonKind int

const (
	kindAbsent jsonKind = iota
	kindNull
	kindString
	kindNumber
	kindOther // object, array, boolean
)

// kindOf classifies a syntactically valid JSON value by its first byte.
func kindOf(raw json.RawMessage) jsonKind {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return kindAbsent
	}
	switch c := raw[0]; {
	case c == 'n':
		return kindNull
	case c == '"':
		return kindString
	case c == '-' || '0' <= c && c <= '9':
		return kindNumber
	}
	return kindOther
}

// present reports whether a member is there and not null.
func present(raw json.RawMessage) bool {
	k := kindOf(raw)
	return k != kindAbsent && k != kindNull
}

// decodeString decodes a JSON string; strings without escapes skip the
// decoder.
func decodeString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// parseNumber parses a JSON number; it fails for values beyond float64.
func parseNumber(raw json.RawMessage) (float64, bool) {
	v, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// stringMember reads an optional string member: "" when absent or null.
func stringMember(raw json.RawMessage, field string) (string, string) {
	switch kindOf(raw) {
	case kindAbsent, kindNull:
		return "", ""
	case kindString:
		if s, ok := decodeString(raw); ok {
			return s, ""
		}
	}
	return "", field + ": must be a string"
}

// epcMember reads a required hex EPC member.
func epcMember(raw json.RawMessage, field string) (string, string) {
	switch kindOf(raw) {
	case kindAbsent, kindNull:
		return "", field + ": missing"
	case kindString:
		s, ok := decodeString(raw)
		if !ok {
			break
		}
		epc, err := NormalizeEPC(s)
		if err != nil {
			return "", field + ": " + wardwatch.ErrorMessage(err)
		}
		return epc, ""
	}
	return "", field + ": must be a string of hex digits"
}

// antennaMember reads a required antenna number.
func antennaMember(raw json.RawMessage, field string) (int, string) {
	switch kindOf(raw) {
	case kindAbsent, kindNull:
		return 0, field + ": missing"
	case kindNumber:
		v, ok := parseNumber(raw)
		if !ok || v != math.Trunc(v) || v < 1 || v > MaxAntenna {
			return 0, field + ": must be a whole number from 1 to " + strconv.Itoa(MaxAntenna)
		}
		return int(v), ""
	}
	return 0, field + ": must be a number"
}

// rssiMember reads an optional RSSI member, scaled by scale to dBm
// (1 for dBm, 0.01 for centi-dBm); 0 when absent or null.
func rssiMember(raw json.RawMessage, field string, scale float64) (float64, string) {
	switch kindOf(raw) {
	case kindAbsent, kindNull:
		return 0, ""
	case kindNumber:
		v, ok := parseNumber(raw)
		v *= scale
		if !ok || v < minRSSI || v > maxRSSI {
			return 0, field + ": must be between -130 and 0 dBm"
		}
		return v, ""
	}
	return 0, field + ": must be a number"
}

// Time layouts accepted besides RFC 3339: Zebra writes its offsets
// without a colon ("2025-03-01T10:15:02.250+0000").
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"}

// msThreshold: a numeric time at or above it is in milliseconds. As
// seconds it would be after the year 5000, far outside any window.
const msThreshold = 1e11

// timeMember reads an optional time member: an RFC 3339 string (or with a
// ±hhmm offset), or a number of seconds since the Unix epoch (fractions
// allowed; at or above 1e11, milliseconds). Absent or null yields ok
// false and no reason. The time must lie within MaxPast before and
// MaxFuture after now.
func timeMember(raw json.RawMessage, field string, now time.Time) (t time.Time, ok bool, reason string) {
	switch kindOf(raw) {
	case kindAbsent, kindNull:
		return time.Time{}, false, ""
	case kindString:
		s, sok := decodeString(raw)
		if !sok {
			break
		}
		for _, layout := range timeLayouts {
			if tt, err := time.Parse(layout, s); err == nil {
				tt = tt.UTC()
				if r := checkWindow(field, tt.Sub(now).Seconds()); r != "" {
					return time.Time{}, false, r
				}
				return tt, true, ""
			}
		}
	case kindNumber:
		v, vok := parseNumber(raw)
		if !vok {
			return time.Time{}, false, field + ": out of range"
		}
		if math.Abs(v) >= msThreshold {
			v /= 1000
		}
		// Check the window in float seconds first so that absurd values
		// never reach time arithmetic.
		nowSec := float64(now.UnixNano()) / 1e9
		if r := checkWindow(field, v-nowSec); r != "" {
			return time.Time{}, false, r
		}
		sec := math.Floor(v)
		nsec := math.Round((v-sec)*1e6) * 1e3 // microseconds: what a float64 epoch carries
		return time.Unix(int64(sec), int64(nsec)).UTC(), true, ""
	}
	return time.Time{}, false, field + ": must be an RFC 3339 time or a number of seconds since the epoch"
}

// checkWindow checks a time offset (seconds from now) against MaxFuture
// and MaxPast.
func checkWindow(field string, d float64) string {
	switch {
	case d > MaxFuture.Seconds():
		return field + ": more than 5 minutes in the future"
	case d < -MaxPast.Seconds():
		return field + ": more than 1 hour in the past"
	}
	return ""
}

// readerName checks a reader key named in a body.
func readerName(raw json.RawMessage, field string) (string, string) {
	s, reason := stringMember(raw, field)
	if reason != "" {
		return "", reason
	}
	s = strings.TrimSpace(s)
	if len(s) > maxReaderKeyLen || !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
		return "", field + ": must be a reader key of at most 128 printable characters"
	}
	return s, ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// quoteShort quotes s for an error message, cut to a short prefix so that
// a hostile input cannot blow up responses or logs.
func quoteShort(s string) string {
	return strconv.Quote(shorten(s, 64))
}

// shorten cuts s to at most n bytes on a rune boundary, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
