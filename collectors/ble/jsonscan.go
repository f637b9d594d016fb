package ble

import (
	"encoding/json"
	"math"
	"strconv"
)

// This file holds a small, allocation-free JSON scanner for the flat
// objects gateways send (ESPresense, Theengs, mqtt_room, Minew items). It
// validates the full JSON grammar of what it walks (strings, numbers,
// literals, nested objects and arrays up to maxJSONDepth), so a message it
// accepts is a message encoding/json would accept too; it only skips the
// work encoding/json does to build values nobody reads.

// valueKind is the type of a JSON value.
type valueKind uint8

const (
	vInvalid valueKind = iota
	vString
	vNumber
	vTrue
	vFalse
	vNull
	vObject
	vArray
)

// maxJSONDepth bounds the nesting of objects and arrays we walk, so that a
// hostile message cannot exhaust the stack.
const maxJSONDepth = 64

// jscan is a cursor over a JSON text.
type jscan struct {
	b []byte
	i int
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str scans the string starting at the opening quote s.b[s.i]. It reports
// whether the string holds escapes.
func (s *jscan) str() (esc, ok bool) {
	b := s.b
	for j := s.i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s.i = j + 1
			return esc, true
		case c == '\\':
			esc = true
			j++
			if j >= len(b) {
				return false, false
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) {
					return false, false
				}
				for k := j + 1; k <= j+4; k++ {
					if !isHexByte(b[k]) {
						return false, false
					}
				}
				j += 4
			default:
				return false, false
			}
		case c < 0x20:
			return false, false
		}
	}
	return false, false
}

// num scans the number starting at s.b[s.i], following the JSON grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jscan) num() bool {
	j, ok := scanNumber(s.b, s.i)
	if ok {
		s.i = j
	}
	return ok
}

// scanNumber returns the end of the JSON number starting at b[i].
func scanNumber(b []byte, i int) (int, bool) {
	n := len(b)
	if i < n && b[i] == '-' {
		i++
	}
	switch {
	case i >= n:
		return 0, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		for i < n && isDigit(b[i]) {
			i++
		}
	default:
		return 0, false
	}
	if i < n && b[i] == '.' {
		i++
		if i >= n || !isDigit(b[i]) {
			return 0, false
		}
		for i < n && isDigit(b[i]) {
			i++
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= n || !isDigit(b[i]) {
			return 0, false
		}
		for i < n && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}

func (s *jscan) lit(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// value scans one value starting at s.b[s.i] (no leading whitespace) and
// returns its kind and raw text (strings with their quotes).
func (s *jscan) value(depth int) (kind valueKind, raw []byte, esc bool, ok bool) {
	if s.i >= len(s.b) {
		return vInvalid, nil, false, false
	}
	start := s.i
	switch c := s.b[s.i]; {
	case c == '"':
		esc, ok = s.str()
		kind = vString
	case c == '-' || isDigit(c):
		ok = s.num()
		kind = vNumber
	case c == 't':
		ok = s.lit("true")
		kind = vTrue
	case c == 'f':
		ok = s.lit("false")
		kind = vFalse
	case c == 'n':
		ok = s.lit("null")
		kind = vNull
	case c == '{':
		ok = s.skipObject(depth + 1)
		kind = vObject
	case c == '[':
		ok = s.skipArray(depth + 1)
		kind = vArray
	}
	if !ok {
		return vInvalid, nil, false, false
	}
	return kind, s.b[start:s.i], esc, true
}

func (s *jscan) skipObject(depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		if _, ok := s.str(); !ok {
			return false
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		if _, _, _, ok := s.value(depth); !ok {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *jscan) skipArray(depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		if _, _, _, ok := s.value(depth); !ok {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// objIter walks the members of one top-level JSON object:
//
//	var it objIter
//	it.reset(data)
//	for it.next() { switch string(it.key) { … } }
//	if !it.ok() { /* not a (single, valid) JSON object */ }
//
// Members are yielded as they are scanned, so a caller must discard what it
// collected when ok reports false at the end.
type objIter struct {
	s     jscan
	first bool
	bad   bool
	done  bool

	key  []byte // between the quotes, still escaped when kesc
	kesc bool

	kind valueKind
	val  []byte // raw value text; strings keep their quotes
	vesc bool   // the string value holds escapes
}

// reset starts walking data, which must hold one JSON object and nothing
// else but whitespace.
func (it *objIter) reset(data []byte) {
	*it = objIter{s: jscan{b: data}, first: true}
	it.s.ws()
	if it.s.i >= len(data) || data[it.s.i] != '{' {
		it.bad = true
		return
	}
	it.s.i++
}

// next moves to the next member; it returns false at the end of the object
// or on a syntax error (see ok).
func (it *objIter) next() bool {
	if it.bad || it.done {
		return false
	}
	s := &it.s
	s.ws()
	if s.i >= len(s.b) {
		it.bad = true
		return false
	}
	if it.first {
		it.first = false
		if s.b[s.i] == '}' {
			s.i++
			return it.finish()
		}
	} else {
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case '}':
			s.i++
			return it.finish()
		default:
			it.bad = true
			return false
		}
	}
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		it.bad = true
		return false
	}
	kstart := s.i
	kesc, ok := s.str()
	if !ok {
		it.bad = true
		return false
	}
	kend := s.i
	it.key, it.kesc = s.b[kstart+1:kend-1], kesc
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		it.bad = true
		return false
	}
	s.i++
	s.ws()
	kind, raw, esc, ok := s.value(1)
	if !ok {
		it.bad = true
		return false
	}
	it.kind, it.val, it.vesc = kind, raw, esc
	if it.kesc {
		// Escaped keys are legal but unheard of from gateways; decode
		// them so that matching stays exact.
		if k, ok := unquote(s.b[kstart:kend], true); ok {
			it.key = []byte(k)
		}
	}
	return true
}

// finish checks that nothing but whitespace follows the object.
func (it *objIter) finish() bool {
	it.s.ws()
	if it.s.i != len(it.s.b) {
		it.bad = true
		return false
	}
	it.done = true
	return false
}

// ok reports whether the whole object was walked without error.
func (it *objIter) ok() bool { return it.done && !it.bad }

// arrIter walks the elements of one top-level JSON array, like objIter.
type arrIter struct {
	s     jscan
	first bool
	bad   bool
	done  bool

	kind valueKind
	elem []byte // raw element text
}

func (it *arrIter) reset(data []byte) {
	*it = arrIter{s: jscan{b: data}, first: true}
	it.s.ws()
	if it.s.i >= len(data) || data[it.s.i] != '[' {
		it.bad = true
		return
	}
	it.s.i++
}

func (it *arrIter) next() bool {
	if it.bad || it.done {
		return false
	}
	s := &it.s
	s.ws()
	if s.i >= len(s.b) {
		it.bad = true
		return false
	}
	if it.first {
		it.first = false
		if s.b[s.i] == ']' {
			s.i++
			return it.finish()
		}
	} else {
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case ']':
			s.i++
			return it.finish()
		default:
			it.bad = true
			return false
		}
	}
	kind, raw, _, ok := s.value(1)
	if !ok {
		it.bad = true
		return false
	}
	it.kind, it.elem = kind, raw
	return true
}

func (it *arrIter) finish() bool {
	it.s.ws()
	if it.s.i != len(it.s.b) {
		it.bad = true
		return false
	}
	it.done = true
	return false
}

func (it *arrIter) ok() bool { return it.done && !it.bad }

// unquote decodes a raw JSON string (with its quotes). Strings without
// escapes are converted directly.
func unquote(raw []byte, esc bool) (string, bool) {
	if len(raw) < 2 {
		return "", false
	}
	if !esc {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// strBytes returns the content of a string value without allocating when
// it holds no escapes.
func strBytes(kind valueKind, raw []byte, esc bool) ([]byte, bool) {
	if kind != vString {
		return nil, false
	}
	if !esc {
		return raw[1 : len(raw)-1], true
	}
	s, ok := unquote(raw, true)
	return []byte(s), ok
}

// numState says what a numeric member held.
type numState uint8

const (
	numAbsent numState = iota // missing or null
	numOK
	numWrongType // not a number (nor a numeric string)
	numBad       // a number, but not a finite float64
)

// number reads a numeric member. Numbers may also come as strings holding
// a JSON number ("-71.5"): some DIY gateways quote everything.
func number(kind valueKind, raw []byte, esc bool) (float64, numState) {
	switch kind {
	case vNull:
		return 0, numAbsent
	case vNumber:
	case vString:
		b, ok := strBytes(kind, raw, esc)
		if !ok {
			return 0, numWrongType
		}
		if end, ok := scanNumber(b, 0); !ok || end != len(b) {
			return 0, numWrongType
		}
		raw = b
	default:
		return 0, numWrongType
	}
	v, ok := parseFloatBytes(raw)
	if !ok {
		return 0, numBad
	}
	return v, numOK
}

// parseFloatBytes parses a syntactically valid JSON number. Small integers
// (the common case: RSSI, major, minor) skip strconv.
func parseFloatBytes(b []byte) (float64, bool) {
	if len(b) > 0 && len(b) <= 16 {
		neg := b[0] == '-'
		digits := b
		if neg {
			digits = b[1:]
		}
		var n int64
		simple := len(digits) > 0
		for _, c := range digits {
			if !isDigit(c) {
				simple = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if simple {
			if neg {
				return -float64(n), true
			}
			return float64(n), true
		}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
