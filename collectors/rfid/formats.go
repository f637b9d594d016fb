package rfid

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// The WardWatch RFID format (FORMAT.md): an envelope
//
//	{"reader":"dock-1","reads":[{"epc":"3034…","antenna":2,"rssi":-61.5,"time":"…"}]}
//
// or bare read objects, one per NDJSON line (or in an array).

type wwEnvelope struct {
	Reader json.RawMessage `json:"reader"`
	Reads  json.RawMessage `json:"reads"`
	EPC    json.RawMessage `json:"epc"`
}

type wwRead struct {
	Reader  json.RawMessage `json:"reader"`
	EPC     json.RawMessage `json:"epc"`
	Antenna json.RawMessage `json:"antenna"`
	RSSI    json.RawMessage `json:"rssi"`
	Time    json.RawMessage `json:"time"`
}

// parseWardWatchItem parses one top-level value: an envelope (an object
// with a "reads" array, or with "reads" and no "epc"), whose reads are
// items, or a bare read (which may carry a "reads" count of its own).
func parseWardWatchItem(b *builder, raw []byte) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' && bytes.Contains(raw, []byte(`"reads"`)) {
		var env wwEnvelope
		if json.Unmarshal(raw, &env) == nil && present(env.Reads) &&
			(bytes.TrimSpace(env.Reads)[0] == '[' || !present(env.EPC)) {
			b.valid++
			parseWardWatchEnvelope(b, env)
			return
		}
	}
	parseWardWatchRead(b, raw, "")
}

func parseWardWatchEnvelope(b *builder, env wwEnvelope) {
	envReader, reason := readerName(env.Reader, "reader")
	if bytes.TrimSpace(env.Reads)[0] != '[' {
		b.fail("reads: must be an array")
		return
	}
	var reads []json.RawMessage
	if err := json.Unmarshal(env.Reads, &reads); err != nil {
		b.fail("reads: must be an array")
		return
	}
	if len(reads) > MaxItems-b.items {
		b.tooMany = true
		return
	}
	for _, r := range reads {
		if reason != "" { // a bad envelope reader spoils every read that relies on it
			if b.reader == "" {
				b.fail(reason)
				continue
			}
		}
		parseWardWatchRead(b, r, envReader)
	}
}

func parseWardWatchRead(b *builder, raw []byte, envReader string) {
	var it wwRead
	if reason := b.decodeObject(raw, &it); reason != "" {
		b.fail(reason)
		return
	}
	var r Read
	name, reason := readerName(it.Reader, "reader")
	if reason != "" {
		b.fail(reason)
		return
	}
	if r.Reader, reason = b.readerKey(name, envReader); reason != "" {
		b.fail(reason)
		return
	}
	if r.EPC, reason = epcMember(it.EPC, "epc"); reason != "" {
		b.fail(reason)
		return
	}
	if r.Antenna, reason = antennaMember(it.Antenna, "antenna"); reason != "" {
		b.fail(reason)
		return
	}
	if r.RSSI, reason = rssiMember(it.RSSI, "rssi", 1); reason != "" {
		b.fail(reason)
		return
	}
	t, ok, reason := timeMember(it.Time, "time", b.now)
	if reason != "" {
		b.fail(reason)
		return
	}
	if !ok {
		t = b.now
	}
	r.Time = t
	b.accept(r)
}

// Zebra FX-series IoT Connector tag data events:
//
//	{"data":{"eventNum":1,"format":"epc","idHex":"…","antenna":1,"peakRssi":-55,"reads":3,"MAC":"84:24:8D:…"},
//	 "timestamp":"2025-03-01T10:15:02.250+0000","type":"SIMPLE"}

type zebraEvent struct {
	Data      json.RawMessage `json:"data"`
	Timestamp json.RawMessage `json:"timestamp"`
	Type      json.RawMessage `json:"type"`
}

type zebraData struct {
	IDHex    json.RawMessage `json:"idHex"`
	Format   json.RawMessage `json:"format"`
	Antenna  json.RawMessage `json:"antenna"`
	PeakRSSI json.RawMessage `json:"peakRssi"`
	MAC      json.RawMessage `json:"MAC"`
}

// zebraTagType is the event type of tag data events.
const zebraTagType = "SIMPLE"

func parseZebraItem(b *builder, raw []byte) {
	var ev zebraEvent
	if reason := b.decodeObject(raw, &ev); reason != "" {
		b.fail(reason)
		return
	}
	typ, reason := stringMember(ev.Type, "type")
	if reason != "" {
		b.fail(reason)
		return
	}
	other := typ != "" && !strings.EqualFold(typ, zebraTagType) // another kind of event
	switch kindOf(ev.Data) {
	case kindAbsent, kindNull:
		if other {
			b.ignore()
		} else {
			b.fail("data: missing")
		}
		return
	case kindOther:
		if bytes.TrimSpace(ev.Data)[0] == '{' {
			break
		}
		fallthrough
	default:
		b.fail("data: must be an object")
		return
	}
	var d zebraData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		b.fail("data: must be an object")
		return
	}
	if !present(d.IDHex) && other {
		b.ignore()
		return
	}
	var r Read
	format, reason := stringMember(d.Format, "data.format")
	if reason != "" {
		b.fail(reason)
		return
	}
	if format != "" && !strings.EqualFold(format, "epc") {
		b.fail("data.format: " + quoteShort(format) + " identities are not supported (want epc)")
		return
	}
	if r.EPC, reason = epcMember(d.IDHex, "data.idHex"); reason != "" {
		b.fail(reason)
		return
	}
	if r.Antenna, reason = antennaMember(d.Antenna, "data.antenna"); reason != "" {
		b.fail(reason)
		return
	}
	if r.RSSI, reason = rssiMember(d.PeakRSSI, "data.peakRssi", 1); reason != "" {
		b.fail(reason)
		return
	}
	var mac string
	if b.reader == "" {
		if mac, reason = macMember(d.MAC, "data.MAC"); reason != "" {
			b.fail(reason)
			return
		}
	}
	if r.Reader, reason = b.readerKey(mac); reason != "" {
		b.fail(reason)
		return
	}
	t, ok, reason := timeMember(ev.Timestamp, "timestamp", b.now)
	if reason != "" {
		b.fail(reason)
		return
	}
	if !ok {
		t = b.now
	}
	r.Time = t
	b.accept(r)
}

// macMember reads an optional MAC member (12 hex digits, bare or in pairs
// separated by ':' or '-') and returns it lowercase and bare.
func macMember(raw json.RawMessage, field string) (string, string) {
	s, reason := stringMember(raw, field)
	if reason != "" || s == "" {
		return "", reason
	}
	var out []byte
	switch len(s) {
	case 12:
		out = []byte(s)
	case 17:
		sep := s[2]
		if sep != ':' && sep != '-' {
			return "", field + ": must be a MAC address"
		}
		for i := 0; i < 17; i++ {
			if i%3 == 2 {
				if s[i] != sep {
					return "", field + ": must be a MAC address"
				}
				continue
			}
			out = append(out, s[i])
		}
	default:
		return "", field + ": must be a MAC address"
	}
	for i, c := range out {
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			out[i] = c + ('a' - 'A')
		default:
			return "", field + ": must be a MAC address"
		}
	}
	return string(out), ""
}

// Impinj IoT device interface events (R700; Speedway Connect-style):
//
//	{"timestamp":"2025-03-01T10:15:02.250Z","hostname":"impinj-14-46-36","eventType":"tagInventory",
//	 "tagInventoryEvent":{"epcHex":"…","antennaPort":1,"peakRssiCdbm":-5600,"lastSeenTime":"…"}}
//
// The EPC may come base64-encoded in "epc" instead of (or besides)
// "epcHex".

type impinjEvent struct {
	Timestamp json.RawMessage `json:"timestamp"`
	Hostname  json.RawMessage `json:"hostname"`
	EventType json.RawMessage `json:"eventType"`
	Tag       json.RawMessage `json:"tagInventoryEvent"`
}

type impinjTag struct {
	EPC          json.RawMessage `json:"epc"`
	EPCHex       json.RawMessage `json:"epcHex"`
	AntennaPort  json.RawMessage `json:"antennaPort"`
	PeakRSSICdbm json.RawMessage `json:"peakRssiCdbm"`
	LastSeenTime json.RawMessage `json:"lastSeenTime"`
}

// impinjTagType is the event type of tag inventory events.
const impinjTagType = "tagInventory"

func parseImpinjItem(b *builder, raw []byte) {
	var ev impinjEvent
	if reason := b.decodeObject(raw, &ev); reason != "" {
		b.fail(reason)
		return
	}
	typ, reason := stringMember(ev.EventType, "eventType")
	if reason != "" {
		b.fail(reason)
		return
	}
	if typ != "" && !strings.EqualFold(typ, impinjTagType) {
		b.ignore() // inventoryStatus, antennaConnected, gpiTransition…
		return
	}
	switch kindOf(ev.Tag) {
	case kindAbsent, kindNull:
		b.fail("tagInventoryEvent: missing")
		return
	}
	tagRaw := bytes.TrimSpace(ev.Tag)
	var tag impinjTag
	if tagRaw[0] != '{' || json.Unmarshal(tagRaw, &tag) != nil {
		b.fail("tagInventoryEvent: must be an object")
		return
	}
	var r Read
	switch {
	case present(tag.EPCHex):
		r.EPC, reason = epcMember(tag.EPCHex, "tagInventoryEvent.epcHex")
	case present(tag.EPC):
		r.EPC, reason = base64EPC(tag.EPC, "tagInventoryEvent.epc")
	default:
		reason = "tagInventoryEvent: no epcHex or epc"
	}
	if reason != "" {
		b.fail(reason)
		return
	}
	if r.Antenna, reason = antennaMember(tag.AntennaPort, "tagInventoryEvent.antennaPort"); reason != "" {
		b.fail(reason)
		return
	}
	if r.RSSI, reason = rssiMember(tag.PeakRSSICdbm, "tagInventoryEvent.peakRssiCdbm", 0.01); reason != "" {
		b.fail(reason)
		return
	}
	host, reason := readerName(ev.Hostname, "hostname")
	if reason != "" && b.reader == "" {
		b.fail(reason)
		return
	}
	if r.Reader, reason = b.readerKey(host); reason != "" {
		b.fail(reason)
		return
	}
	// The tag's last-seen time is the read's time; the event's timestamp
	// (when the reader reported it) stands in when it is absent.
	seen, seenOK, reason := timeMember(tag.LastSeenTime, "tagInventoryEvent.lastSeenTime", b.now)
	if reason != "" {
		b.fail(reason)
		return
	}
	ts, tsOK, reason := timeMember(ev.Timestamp, "timestamp", b.now)
	if reason != "" {
		b.fail(reason)
		return
	}
	switch {
	case seenOK:
		r.Time = seen
	case tsOK:
		r.Time = ts
	default:
		r.Time = b.now
	}
	b.accept(r)
}

// base64EPC decodes a base64 EPC member (standard alphabet, padded or
// not).
func base64EPC(raw json.RawMessage, field string) (string, string) {
	if kindOf(raw) != kindString {
		return "", field + ": must be a base64 string"
	}
	s, ok := decodeString(raw)
	if !ok {
		return "", field + ": must be a base64 string"
	}
	s = strings.TrimSpace(s)
	if len(s) > 2*maxEPCHex {
		return "", field + ": EPC is too long"
	}
	enc := base64.StdEncoding
	if !strings.HasSuffix(s, "=") {
		enc = base64.RawStdEncoding
		if len(s)%4 == 0 {
			enc = base64.StdEncoding
		}
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return "", field + ": must be a base64 string"
	}
	epc, err := epcFromBytes(b)
	if err != nil {
		return "", field + ": EPC must be 96 to 496 bits"
	}
	return epc, ""
}
