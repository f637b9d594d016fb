package ble

import (
	"math"
	"time"

	"github.com/wardwatch/wardwatch"
)

// ParseMinewJSONLong parses a Minew gateway's JSON-LONG upload (G1, G2,
// MG3, MG4; HTTP POST or MQTT): a JSON array of objects,
//
//	[{"timestamp":"2025-03-01T10:14:59.120Z","type":"Gateway","mac":"AC233FC0A1B2","gatewayFree":89,"gatewayLoad":0.03},
//	 {"timestamp":"2025-03-01T10:14:58.870Z","type":"iBeacon","mac":"C30000250F6A","bleName":"",
//	  "ibeaconUuid":"E2C56DB5DFFB48D2B060D0F5A71096E0","ibeaconMajor":1,"ibeaconMinor":42,
//	  "rssi":-65,"ibeaconTxPower":-59,"battery":87},
//	 {"timestamp":"2025-03-01T10:14:58.910Z","type":"Unknown","mac":"C30000250F7B","bleName":"",
//	  "rssi":-71,"rawData":"0201060303AAFE1716AAFE00E7EDD1EBEAC04E5DEFA0170BDB87539B670000"}]
//
// The element of type "Gateway" (the first, usually) gives the gateway
// key: its mac, lowercase. Every other element is one advertisement:
//
//   - identity: ibeaconUuid, ibeaconMajor and ibeaconMinor when present
//     (ibeaconTxPower is the RSSI at 1 m), else the beacon frame in
//     rawData (see DecodeAdvertisement), else the mac as a MAC-derived
//     mac: identity (Minew does not say whether an address is random: the
//     Router keeps MAC-derived identities only for configured MACs);
//   - rssi, required, [-130, 0] dBm;
//   - timestamp, RFC 3339, the time of the sighting (absent: now); more
//     than 5 minutes ahead or 1 hour behind now rejects the item;
//   - battery (%; 0 means "not reported" and is dropped), temperature
//     (°C) and humidity (%RH) become readings of the tag, and so does an
//     Eddystone-TLM frame in rawData when the same advertisement has an
//     identity; without one it becomes a TLMFrame keyed by mac.
//
// Other members (bleName, gatewayFree, gatewayLoad…) are ignored. Item
// indexes in Parsed.Errors and Parsed.Skipped count all elements,
// including the gateway's. Observations have an empty GatewayKey when the
// array has no Gateway element.
//
// The error (a *wardwatch.Error with code EINVALID) is for a body that is
// not a JSON array, a non-empty array without a single object, or more
// than MaxBatchItems elements besides the gateway's.
func ParseMinewJSONLong(body []byte, now time.Time) (Parsed, error) {
	p := Parsed{Format: FormatMinewJSONLong}
	now = now.UTC()
	var (
		arr     arrIter
		gwKey   string
		index   = -1
		objects int
		buf     [64]byte
		hexBuf  = buf[:0]
	)
	arr.reset(body)
	for arr.next() {
		index++
		if index > MaxBatchItems {
			return Parsed{Format: FormatMinewJSONLong}, wardwatch.Errorf(wardwatch.EINVALID, "batch has more than %d items", MaxBatchItems)
		}
		if arr.kind != vObject {
			p.Errors = append(p.Errors, ItemError{Index: index, Reason: "item must be a JSON object"})
			continue
		}
		objects++
		var m minewItem
		m.scan(arr.elem)
		if m.isGateway {
			if gwKey == "" {
				if m.mac == "" {
					p.Errors = append(p.Errors, ItemError{Index: index, Reason: "mac: the gateway's MAC must be 12 hex digits"})
					continue
				}
				gwKey = m.mac
			}
			continue
		}
		hexBuf = p.addMinewItem(&m, index, now, hexBuf[:0])
	}
	if !arr.ok() {
		return Parsed{Format: FormatMinewJSONLong}, errNotArray(body)
	}
	if index >= 0 && objects == 0 {
		return Parsed{Format: FormatMinewJSONLong}, wardwatch.Errorf(wardwatch.EINVALID, "body must be a JSON array of objects (Minew JSON-LONG)")
	}
	if gwKey != "" {
		setMissingGatewayKey(&p, gwKey)
	}
	return p, nil
}

// minewItem holds the members of one JSON-LONG element.
type minewItem struct {
	isGateway bool
	mac       string
	macBad    bool
	ts        []byte
	tsState   numState // numAbsent, numOK (a string), numWrongType
	rssi      float64
	rssiSt    numState
	raw       []byte
	rawSt     numState
	uuid      []byte
	uuidSt    numState
	major     float64
	majorSt   numState
	minor     float64
	minorSt   numState
	txp       float64
	txpSt     numState
	batt      float64
	battSt    numState
	temp      float64
	tempSt    numState
	hum       float64
	humSt     numState
}

// scan reads the members of one element (already validated JSON).
func (m *minewItem) scan(elem []byte) {
	var it objIter
	it.reset(elem)
	for it.next() {
		switch string(it.key) {
		case "type":
			if t, ok := strBytes(it.kind, it.val, it.vesc); ok && string(t) == "Gateway" {
				m.isGateway = true
			}
		case "mac":
			m.mac = macField(it.kind, it.val, it.vesc)
			m.macBad = m.mac == "" && it.kind != vNull
		case "timestamp":
			m.ts, m.tsState = stringMember(it.kind, it.val, it.vesc)
		case "rssi":
			m.rssi, m.rssiSt = number(it.kind, it.val, it.vesc)
		case "rawData":
			m.raw, m.rawSt = stringMember(it.kind, it.val, it.vesc)
		case "ibeaconUuid":
			m.uuid, m.uuidSt = stringMember(it.kind, it.val, it.vesc)
		case "ibeaconMajor":
			m.major, m.majorSt = number(it.kind, it.val, it.vesc)
		case "ibeaconMinor":
			m.minor, m.minorSt = number(it.kind, it.val, it.vesc)
		case "ibeaconTxPower":
			m.txp, m.txpSt = number(it.kind, it.val, it.vesc)
		case "battery":
			m.batt, m.battSt = number(it.kind, it.val, it.vesc)
		case "temperature":
			m.temp, m.tempSt = number(it.kind, it.val, it.vesc)
		case "humidity":
			m.hum, m.humSt = number(it.kind, it.val, it.vesc)
		}
	}
}

// stringMember reads an optional string member: numAbsent when missing or
// null, numWrongType when not a string.
func stringMember(kind valueKind, raw []byte, esc bool) ([]byte, numState) {
	if kind == vNull || kind == vInvalid {
		return nil, numAbsent
	}
	b, ok := strBytes(kind, raw, esc)
	if !ok {
		return nil, numWrongType
	}
	return b, numOK
}

// addMinewItem turns one advertisement element into an observation (or an
// error, or a skip). hexBuf is scratch space for rawData; it returns it for
// reuse.
func (p *Parsed) addMinewItem(m *minewItem, index int, now time.Time, hexBuf []byte) []byte {
	fail := func(reason string) []byte {
		p.Errors = append(p.Errors, ItemError{Index: index, Reason: reason})
		return hexBuf
	}
	at, reason := itemTime(m.ts, m.tsState, "timestamp", now)
	if reason != "" {
		return fail(reason)
	}
	rssi, reason := checkRSSI(m.rssi, m.rssiSt)
	if reason != "" {
		return fail(reason)
	}
	if m.macBad {
		return fail("mac: must be 12 hex digits")
	}

	var (
		tag     string
		power   float64
		fromMAC bool
		adv     Advertisement
	)
	switch m.uuidSt {
	case numWrongType:
		return fail("ibeaconUuid: must be a string")
	case numOK:
		u, ok := parseUUIDBytes(m.uuid)
		if !ok {
			return fail("ibeaconUuid: must be 32 hex digits, bare or dashed")
		}
		ma, ok1 := uint16Number(m.major, m.majorSt)
		mi, ok2 := uint16Number(m.minor, m.minorSt)
		if !ok1 || !ok2 {
			return fail("ibeaconMajor, ibeaconMinor: must be whole numbers 0..65535")
		}
		tag = iBeaconTagID(u[:], ma, mi)
		power = txPower(m.txp, m.txpSt)
	}
	switch m.rawSt {
	case numWrongType:
		return fail("rawData: must be a hex string")
	case numOK:
		var err error
		if hexBuf, err = appendHex(hexBuf, m.raw); err != nil {
			return fail("rawData: " + wardwatch.ErrorMessage(err))
		}
		if adv, err = DecodeAdvertisement(hexBuf); err != nil {
			return fail("rawData: " + wardwatch.ErrorMessage(err))
		}
		if tag == "" {
			tag, power = adv.TagID, adv.MeasuredPower
		}
	}
	if tag == "" {
		if m.mac == "" {
			return fail("mac: missing, and the item carries no beacon identity")
		}
		tag, fromMAC = macTagID(m.mac), true
	}
	if adv.HasTLM && fromMAC {
		p.TLM = append(p.TLM, TLMFrame{MAC: m.mac, Time: at, TLM: adv.TLM})
	}
	p.Observations = append(p.Observations, Observation{
		Sighting: wardwatch.Sighting{Time: at, TagID: tag, RSSI: rssi, TxPower: power},
		MAC:      m.mac,
		FromMAC:  fromMAC,
	})
	if adv.HasTLM && !fromMAC {
		p.Readings = adv.TLM.appendReadings(p.Readings, at, tag)
	}
	if m.battSt == numOK && m.batt == 0 {
		m.battSt = numAbsent // Minew sends 0 for "unknown"
	}
	p.Readings = appendReading(p.Readings, at, tag, wardwatch.MetricBatteryPercent, m.batt, m.battSt)
	p.Readings = appendReading(p.Readings, at, tag, wardwatch.MetricTemperature, m.temp, m.tempSt)
	p.Readings = appendReading(p.Readings, at, tag, wardwatch.MetricHumidity, m.hum, m.humSt)
	return hexBuf
}

// itemTime resolves an item's RFC 3339 time member against now.
func itemTime(ts []byte, st numState, field string, now time.Time) (time.Time, string) {
	switch st {
	case numAbsent:
		return now, ""
	case numWrongType:
		return time.Time{}, field + ": must be an RFC 3339 time"
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return time.Time{}, field + ": must be an RFC 3339 time"
	}
	t = t.UTC()
	if reason := windowReason(field, t.Sub(now).Seconds()); reason != "" {
		return time.Time{}, reason
	}
	return t, ""
}

// epochTime resolves a Unix time in seconds (or milliseconds, when it is
// too large to be seconds) against now.
func epochTime(v float64, field string, now time.Time) (time.Time, string) {
	if v > 1e11 {
		v /= 1000 // milliseconds
	}
	nowSec := float64(now.UnixNano()) / 1e9
	if reason := windowReason(field, v-nowSec); reason != "" {
		return time.Time{}, reason
	}
	sec := math.Floor(v)
	nsec := math.Round((v-sec)*1e6) * 1e3
	return time.Unix(int64(sec), int64(nsec)).UTC(), ""
}

// windowReason checks a time offset (seconds from now) against MaxFuture
// and MaxPast.
func windowReason(field string, d float64) string {
	switch {
	case d > MaxFuture.Seconds():
		return field + ": more than 5 minutes in the future"
	case d < -MaxPast.Seconds():
		return field + ": more than 1 hour in the past"
	}
	return ""
}

func errNotArray(body []byte) error {
	for _, c := range body {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '[':
			return wardwatch.Errorf(wardwatch.EINVALID, "body is not valid JSON")
		}
		return wardwatch.Errorf(wardwatch.EINVALID, "body must be a JSON array (Minew JSON-LONG)")
	}
	return wardwatch.Errorf(wardwatch.EINVALID, "body is empty (want a JSON array)")
}
