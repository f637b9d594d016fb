package ble

import (
	"bytes"
	"time"

	"github.com/wardwatch/wardwatch"
)

// maxIngicsLine bounds one Ingics line: the longest advertisement in hex
// plus the other fields.
const maxIngicsLine = 2*MaxAdvertisementBytes + 128

// ParseIngics parses the text an Ingics iGS01/iGS01S gateway sends (over
// HTTP, MQTT or TCP): one advertisement per line,
//
//	$GPRP,<tag MAC>,<gateway MAC>,<rssi>,<advertisement hex>[,*<unix time>]
//
// for instance
//
//	$GPRP,C30000250F6A,AC233FC0A1B2,-67,0201061AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E00001002AC5,*1740824098
//
// $RSPR lines (scan responses) have the same layout. Lines end with LF or
// CRLF; blank lines are skipped. The gateway key is the gateway MAC,
// lowercase. The identity is the beacon frame in the advertisement (see
// DecodeAdvertisement), else the tag MAC as a MAC-derived mac: identity
// (Ingics does not say whether an address is random: the Router keeps
// MAC-derived identities only for configured MACs). rssi must be in
// [-130, 0]. The time, when present (with or without the '*'; seconds, or
// milliseconds when too large for seconds), must be within 5 minutes ahead
// and 1 hour behind now; absent, it is now. An Eddystone-TLM frame becomes
// readings of the tag when the advertisement also has an identity, else
// a TLMFrame keyed by the tag MAC. Fields after the time are ignored.
//
// Item indexes count non-blank lines. The error (a *wardwatch.Error with
// code EINVALID) is for a body of which no line is an Ingics record, or
// with more than MaxBatchItems lines.
func ParseIngics(body []byte, now time.Time) (Parsed, error) {
	p := Parsed{Format: FormatIngics}
	now = now.UTC()
	var (
		index   = -1
		records int
		buf     [64]byte
		hexBuf  = buf[:0]
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
		index++
		if index >= MaxBatchItems {
			return Parsed{Format: FormatIngics}, wardwatch.Errorf(wardwatch.EINVALID, "batch has more than %d items", MaxBatchItems)
		}
		if line[0] == '$' {
			records++
		}
		hexBuf = p.addIngicsLine(line, index, now, hexBuf[:0])
	}
	if index >= 0 && records == 0 {
		return Parsed{Format: FormatIngics}, wardwatch.Errorf(wardwatch.EINVALID, "body is not Ingics text (no line starts with $GPRP or $RSPR)")
	}
	return p, nil
}

// addIngicsLine parses one non-blank line.
func (p *Parsed) addIngicsLine(line []byte, index int, now time.Time, hexBuf []byte) []byte {
	fail := func(reason string) []byte {
		p.Errors = append(p.Errors, ItemError{Index: index, Reason: reason})
		return hexBuf
	}
	if len(line) > maxIngicsLine {
		return fail("line is too long")
	}
	var (
		f [6][]byte
		n int
	)
	for rest := line; n < len(f); n++ {
		i := bytes.IndexByte(rest, ',')
		if i < 0 {
			f[n] = rest
			n++
			break
		}
		f[n], rest = rest[:i], rest[i+1:]
	}
	switch string(f[0]) {
	case "$GPRP", "$RSPR":
	default:
		if len(f[0]) == 0 || f[0][0] != '$' {
			return fail("not an Ingics record (want $GPRP or $RSPR)")
		}
		return fail("unsupported record type (want $GPRP or $RSPR)")
	}
	if n < 5 {
		return fail("want $GPRP,<tag MAC>,<gateway MAC>,<rssi>,<advertisement hex>[,<time>]")
	}
	mac, ok := normalizeMACBytes(f[1])
	if !ok {
		return fail("tag MAC: must be 12 hex digits")
	}
	gw, ok := normalizeMACBytes(f[2])
	if !ok {
		return fail("gateway MAC: must be 12 hex digits")
	}
	v, st := numberText(f[3])
	rssi, reason := checkRSSI(v, st)
	if reason != "" {
		return fail(reason)
	}
	at := now
	if ts := bytes.TrimPrefix(f[5], []byte("*")); len(ts) > 0 {
		v, st := numberText(ts)
		if st != numOK || v < 0 {
			return fail("time: must be a Unix time in seconds")
		}
		if at, reason = epochTime(v, "time", now); reason != "" {
			return fail(reason)
		}
	}
	var err error
	if hexBuf, err = appendHex(hexBuf, f[4]); err != nil {
		return fail("advertisement: " + wardwatch.ErrorMessage(err))
	}
	adv, err := DecodeAdvertisement(hexBuf)
	if err != nil {
		return fail(wardwatch.ErrorMessage(err))
	}
	tag, fromMAC := adv.TagID, false
	if tag == "" {
		tag, fromMAC = macTagID(mac), true
		if adv.HasTLM {
			p.TLM = append(p.TLM, TLMFrame{GatewayKey: gw, MAC: mac, Time: at, TLM: adv.TLM})
		}
	} else if adv.HasTLM {
		p.Readings = adv.TLM.appendReadings(p.Readings, at, tag)
	}
	p.Observations = append(p.Observations, Observation{
		GatewayKey: gw,
		Sighting:   wardwatch.Sighting{Time: at, TagID: tag, RSSI: rssi, TxPower: adv.MeasuredPower},
		MAC:        mac,
		FromMAC:    fromMAC,
	})
	return hexBuf
}

// numberText parses a number written as plain text (a JSON number).
func numberText(b []byte) (float64, numState) {
	if len(b) == 0 {
		return 0, numAbsent
	}
	if end, ok := scanNumber(b, 0); !ok || end != len(b) {
		return 0, numWrongType
	}
	v, ok := parseFloatBytes(b)
	if !ok {
		return 0, numBad
	}
	return v, numOK
}
