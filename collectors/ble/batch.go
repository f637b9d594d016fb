package ble

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"mime"
	"strconv"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Limits of the batch format.
const (
	// MaxBatchItems is the most sightings one batch may carry.
	MaxBatchItems = 10000

	// MaxFuture and MaxPast bound a sighting's timestamp around the time
	// of receipt; sightings outside the window are rejected.
	MaxFuture = 5 * time.Minute
	MaxPast   = time.Hour

	minRSSI, maxRSSI       = -130, 0
	minTxPower, maxTxPower = -100, 20
)

// ItemError says why one item of a batch was rejected. Index is the
// item's 0-based position in the batch (in NDJSON, its position among the
// non-blank lines).
type ItemError struct {
	Index  int    `json:"index"`
	Reason string `json:"error"`
}

// bodyFormat is a supported body encoding.
type bodyFormat int

const (
	formatUnsupported bodyFormat = iota
	formatJSON
	formatNDJSON
)

// parseContentType maps a Content-Type header to a body format. Parameters
// (charset…) are ignored: both formats are UTF-8 by definition.
func parseContentType(contentType string) bodyFormat {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return formatUnsupported
	}
	switch mt {
	case "application/json":
		return formatJSON
	case "application/x-ndjson", "application/ndjson":
		return formatNDJSON
	}
	return formatUnsupported
}

// ParseBatch decodes a batch of sightings pushed by gateway gw. contentType
// selects the encoding: application/json ({"sightings":[…]}) or
// application/x-ndjson (one sighting object per line). now is the time of
// receipt: it stamps items without "ts" and anchors the accepted time
// window.
//
// Items are validated one by one: the good ones are returned as sightings
// (GatewayID set to gw.ID, times in UTC, tags in canonical form), the bad
// ones as ItemErrors, in batch order. The error is non-nil (a
// *wardwatch.Error with code EINVALID) only when the body as a whole is
// unusable: an unsupported content type, a body that is not JSON or NDJSON,
// a wrong top-level shape, or more than MaxBatchItems items.
func ParseBatch(body []byte, contentType string, gw wardwatch.Gateway, now time.Time) ([]wardwatch.Sighting, []ItemError, error) {
	var items []json.RawMessage
	switch parseContentType(contentType) {
	case formatJSON:
		var err error
		if items, err = splitJSON(body); err != nil {
			return nil, nil, err
		}
	case formatNDJSON:
		var err error
		if items, err = splitNDJSON(body); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, wardwatch.Errorf(wardwatch.EINVALID, "unsupported content type %s (want application/json or application/x-ndjson)", quoteShort(contentType))
	}

	now = now.UTC()
	var (
		out  = make([]wardwatch.Sighting, 0, len(items))
		errs []ItemError
	)
	for i, raw := range items {
		s, reason := parseItem(raw, now)
		if reason != "" {
			errs = append(errs, ItemError{Index: i, Reason: reason})
			continue
		}
		s.GatewayID = gw.ID
		out = append(out, s)
	}
	return out, errs, nil
}

// splitJSON checks the {"sightings":[…]} envelope and returns its items
// undecoded. Unknown top-level members are ignored.
func splitJSON(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "body is empty (want a JSON object {\"sightings\":[…]})")
	}
	if body[0] != '{' {
		if !json.Valid(body) {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "body is not valid JSON")
		}
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "body must be a JSON object {\"sightings\":[…]}")
	}
	var env struct {
		Sightings *[]json.RawMessage `json:"sightings"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "\"sightings\" must be an array")
		}
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "body is not valid JSON")
	}
	if env.Sightings == nil {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "body has no \"sightings\" array")
	}
	if len(*env.Sightings) > MaxBatchItems {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "batch has more than %d items", MaxBatchItems)
	}
	return *env.Sightings, nil
}

// splitNDJSON returns the non-blank lines of body as items. A line that is
// not valid JSON becomes an item error later, unless no line at all is
// valid JSON: then the body is not NDJSON.
func splitNDJSON(body []byte) ([]json.RawMessage, error) {
	var (
		items []json.RawMessage
		valid int
	)
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(items) == MaxBatchItems {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "batch has more than %d items", MaxBatchItems)
		}
		if json.Valid(line) {
			valid++
		}
		items = append(items, line)
	}
	if len(items) > 0 && valid == 0 {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "body is not NDJSON (no line is a JSON value)")
	}
	return items, nil
}

// rawItem is one sighting with its members still undecoded, so that each
// can be type-checked with a precise message.
type rawItem struct {
	TS      json.RawMessage `json:"ts"`
	Tag     json.RawMessage `json:"tag"`
	RSSI    json.RawMessage `json:"rssi"`
	TxPower json.RawMessage `json:"tx_power"`
}

// parseItem decodes and validates one item. It returns a non-empty reason
// when the item is rejected.
func parseItem(raw json.RawMessage, now time.Time) (wardwatch.Sighting, string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		if !json.Valid(raw) {
			return wardwatch.Sighting{}, "item is not valid JSON"
		}
		return wardwatch.Sighting{}, "item must be a JSON object"
	}
	var it rawItem
	if err := json.Unmarshal(raw, &it); err != nil {
		return wardwatch.Sighting{}, "item is not valid JSON"
	}
	var s wardwatch.Sighting

	// tag
	switch kindOf(it.Tag) {
	case kindAbsent, kindNull:
		return s, "tag: missing"
	case kindString:
		tag, ok := decodeString(it.Tag)
		if !ok {
			return s, "tag: must be a string"
		}
		id, err := NormalizeTagID(tag)
		if err != nil {
			return s, wardwatch.ErrorMessage(err)
		}
		s.TagID = id
	default:
		return s, "tag: must be a string"
	}

	// rssi
	switch kindOf(it.RSSI) {
	case kindAbsent, kindNull:
		return s, "rssi: missing"
	case kindNumber:
		v, ok := parseNumber(it.RSSI)
		if !ok || v < minRSSI || v > maxRSSI {
			return s, "rssi: must be between -130 and 0 dBm"
		}
		s.RSSI = v
	default:
		return s, "rssi: must be a number"
	}

	// tx_power
	switch kindOf(it.TxPower) {
	case kindAbsent, kindNull:
	case kindNumber:
		v, ok := parseNumber(it.TxPower)
		if !ok || v < minTxPower || v > maxTxPower {
			return s, "tx_power: must be between -100 and 20 dBm"
		}
		s.TxPower = v
	default:
		return s, "tx_power: must be a number"
	}

	// ts
	switch kindOf(it.TS) {
	case kindAbsent, kindNull:
		s.Time = now
	case kindString:
		str, ok := decodeString(it.TS)
		if !ok {
			return s, "ts: must be an RFC 3339 time or a number of seconds since the epoch"
		}
		t, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			return s, "ts: must be an RFC 3339 time or a number of seconds since the epoch"
		}
		t = t.UTC()
		if reason := checkWindow(t.Sub(now)); reason != "" {
			return s, reason
		}
		s.Time = t
	case kindNumber:
		v, ok := parseNumber(it.TS)
		if !ok {
			return s, "ts: out of range"
		}
		// Check the window in float seconds first so that absurd values
		// never reach time arithmetic.
		nowSec := float64(now.UnixNano()) / 1e9
		d := v - nowSec
		if reason := checkWindowSeconds(d); reason != "" {
			return s, reason
		}
		sec := math.Floor(v)
		nsec := math.Round((v-sec)*1e6) * 1e3 // microsecond resolution: what a float64 epoch can carry
		s.Time = time.Unix(int64(sec), int64(nsec)).UTC()
	default:
		return s, "ts: must be an RFC 3339 time or a number of seconds since the epoch"
	}
	return s, ""
}

func checkWindow(d time.Duration) string {
	return checkWindowSeconds(d.Seconds())
}

func checkWindowSeconds(d float64) string {
	switch {
	case d > MaxFuture.Seconds():
		return "ts: more than 5 minutes in the future"
	case d < -MaxPast.Seconds():
		return "ts: more than 1 hour in the past"
	}
	return ""
}

// decodeString decodes a JSON string; strings without escapes (all
// well-behaved tags and times) skip the decoder.
func decodeString(raw json.RawMessage) (string, bool) {
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
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

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
