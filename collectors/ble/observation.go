package ble

import (
	"bytes"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// MaxMessageBytes is the largest MQTT payload ParseMQTT (and the
// single-message parsers ParseESPresense, ParseTheengs, ParseMQTTRoom)
// accept; larger ones are rejected with code ETOOLARGE.
const MaxMessageBytes = 64 << 10

// Observation is one gateway hearing one tag, as a message reports it,
// before the gateway is resolved.
type Observation struct {
	// GatewayKey is the key the gateway is known by (Gateway.Key): the
	// room of an ESPresense or mqtt_room topic, the gateway name of an
	// OpenMQTTGateway topic, the MAC of a Minew or Ingics gateway
	// (lowercase, 12 hex digits, no separators).
	GatewayKey string
	// Sighting has GatewayID 0 (the Router fills it in), Time in UTC,
	// TagID canonical (see NormalizeCollectorTagID), RSSI in [-130, 0]
	// and TxPower 0 or in [-100, 20].
	Sighting wardwatch.Sighting
	// Distance is the distance in metres (at least 0.1) when the source
	// gives only a distance; then Sighting.RSSI is 0 and the Router
	// derives it from the gateway's calibration. Else Distance is 0.
	Distance float64
	// MAC is the advertiser's MAC when the message gives it (lowercase, 12
	// hex digits). It is never an identity by itself; the Router uses it
	// to pair Eddystone-TLM frames with the tag that sent them.
	MAC string
	// FromMAC marks a "mac:" identity derived from the advertiser's
	// address because the advertisement carries no beacon identity. The
	// Router keeps those only for MACs configured as tags.
	FromMAC bool
}

// SkipReason says why an item was ignored on purpose (it is well-formed
// but carries no identity we may use). The values are metric labels.
type SkipReason string

// Skip reasons.
const (
	// SkipRandomMAC: the only identity is a random (rotating) MAC.
	SkipRandomMAC SkipReason = "random_mac"
	// SkipNoIdentity: the source marks the device as one to ignore, or
	// nothing in the item identifies it.
	SkipNoIdentity SkipReason = "no_identity"
)

// Skip is an ignored item: its 0-based index in the message and why.
type Skip struct {
	Index  int
	Reason SkipReason
}

// TLMFrame is an Eddystone-TLM frame heard without an identity in the same
// advertisement. The Router pairs it, through a TLMAssociator, with the
// identity the same MAC last advertised.
type TLMFrame struct {
	GatewayKey string
	MAC        string // lowercase, 12 hex digits
	Time       time.Time
	TLM        TLM
}

// Parsed is what a parser makes of one message or pushed batch.
type Parsed struct {
	Format       Format
	Observations []Observation
	// Readings are sensor readings whose SensorID is the tag identity of
	// an observation in the same message (battery, temperature,
	// humidity…).
	Readings []wardwatch.Reading
	TLM      []TLMFrame
	// Errors are the rejected (malformed) items, by index. Single-message
	// formats use index 0.
	Errors  []ItemError
	Skipped []Skip
}

// Format is a wire format a gateway speaks.
type Format string

// Formats known to WardWatch.
const (
	FormatESPresense    Format = "espresense"      // espresense/devices/<device>/<room>, one JSON object
	FormatTheengs       Format = "theengs"         // home/<gateway>/BTtoMQTT/<MAC>, OpenMQTTGateway / Theengs JSON
	FormatMQTTRoom      Format = "mqtt_room"       // <prefix>/<room>, Home Assistant mqtt_room {id,name,distance}
	FormatMinewJSONLong Format = "minew_json_long" // Minew gateways, JSON-LONG array
	FormatIngics        Format = "ingics"          // Ingics iGS01 $GPRP / $RSPR lines
	FormatWardWatch     Format = "wardwatch"       // the WardWatch batch format (FORMAT.md)
)

// Valid reports whether f is a known format.
func (f Format) Valid() bool {
	switch f {
	case FormatESPresense, FormatTheengs, FormatMQTTRoom, FormatMinewJSONLong, FormatIngics, FormatWardWatch:
		return true
	}
	return false
}

// label is f for a metric label, "other" for anything unknown, so that
// label values stay bounded whatever a caller passes.
func (f Format) label() string {
	if f.Valid() {
		return string(f)
	}
	return "other"
}

// DetectFormat guesses a format from an MQTT topic:
//
//	…espresense/devices/<device>/<room>   FormatESPresense
//	…/<gateway>/BTtoMQTT[/<suffix>]       FormatTheengs (OpenMQTTGateway, Theengs gateway)
//	…/gw/<12 hex MAC>/status              FormatMinewJSONLong (Minew's default topic)
//	…wardwatch/gateways/<key>/sightings   FormatWardWatch
//
// mqtt_room and Ingics topics are chosen by whoever configures the
// gateway, so they cannot be recognised: configure the format for those
// subscriptions. ESPresense's other topics (espresense/rooms/…/telemetry
// and settings) are not sightings and are not recognised.
func DetectFormat(topic string) (Format, bool) {
	switch {
	case espresenseTopicOK(topic):
		return FormatESPresense, true
	case theengsTopicOK(topic):
		return FormatTheengs, true
	case minewTopicMAC(topic) != "":
		return FormatMinewJSONLong, true
	case wardwatchTopicKey(topic) != "":
		return FormatWardWatch, true
	}
	return "", false
}

func espresenseTopicOK(topic string) bool {
	_, _, ok := espresenseTopic(topic)
	return ok
}

func theengsTopicOK(topic string) bool {
	_, ok := theengsTopic(topic)
	return ok
}

// lastLevels splits off the last n levels of an MQTT topic. It returns
// the rest before them (without the separating '/') and the levels.
func lastLevels(topic string, levels []string) (rest string, ok bool) {
	end := len(topic)
	for k := len(levels) - 1; k >= 0; k-- {
		i := strings.LastIndexByte(topic[:end], '/')
		if k > 0 && i < 0 {
			return "", false
		}
		levels[k] = topic[i+1 : end]
		if i < 0 {
			return "", true
		}
		end = i
	}
	return topic[:end], true
}

// espresenseTopic parses "…espresense/devices/<device>/<room>".
func espresenseTopic(topic string) (device, room string, ok bool) {
	var lv [4]string
	if _, ok := lastLevels(topic, lv[:]); !ok || lv[0] != "espresense" || lv[1] != "devices" || lv[2] == "" || lv[3] == "" {
		return "", "", false
	}
	return lv[2], lv[3], true
}

// theengsTopic parses "…/<gateway>/BTtoMQTT" and "…/<gateway>/BTtoMQTT/<suffix>".
func theengsTopic(topic string) (gateway string, ok bool) {
	var lv [3]string
	if _, ok := lastLevels(topic, lv[:]); ok && lv[1] == "BTtoMQTT" && lv[0] != "" && lv[2] != "" {
		return lv[0], true
	}
	var lv2 [2]string
	if _, ok := lastLevels(topic, lv2[:]); ok && lv2[1] == "BTtoMQTT" && lv2[0] != "" {
		return lv2[0], true
	}
	return "", false
}

// minewTopicMAC returns the gateway MAC of "…/gw/<MAC>/status", or "".
func minewTopicMAC(topic string) string {
	var lv [3]string
	if _, ok := lastLevels(topic, lv[:]); !ok || lv[0] != "gw" || lv[2] != "status" {
		return ""
	}
	mac, ok := normalizeMAC(lv[1])
	if !ok {
		return ""
	}
	return mac
}

// wardwatchTopicKey returns the gateway key of
// "…wardwatch/gateways/<key>/sightings", or "".
func wardwatchTopicKey(topic string) string {
	var lv [4]string
	if _, ok := lastLevels(topic, lv[:]); !ok || lv[0] != "wardwatch" || lv[1] != "gateways" || lv[3] != "sightings" {
		return ""
	}
	return lv[2]
}

// ParseMQTT parses one MQTT message in the given format. Formats that name
// their gateway in the topic take the key from it (ESPresense: the room;
// Theengs: the gateway; mqtt_room: the last level; WardWatch: <key> of
// wardwatch/gateways/<key>/sightings); Minew and Ingics messages carry the
// gateway MAC in the payload (Minew falls back to the topic's
// /gw/<MAC>/status).
//
// The error (a *wardwatch.Error) is for a message that is unusable as a
// whole: code ETOOLARGE for a payload over MaxMessageBytes, EINVALID for
// an unknown format, a topic that does not fit the format or a payload
// that is not in the format. Problems with single items are in
// Parsed.Errors.
func ParseMQTT(format Format, topic string, payload []byte, now time.Time) (Parsed, error) {
	if len(payload) > MaxMessageBytes {
		return Parsed{Format: format}, errTooLarge(len(payload))
	}
	switch format {
	case FormatESPresense:
		return ParseESPresense(topic, payload, now)
	case FormatTheengs:
		return ParseTheengs(topic, payload, now)
	case FormatMQTTRoom:
		return ParseMQTTRoom(topic, payload, now)
	case FormatMinewJSONLong:
		p, err := ParseMinewJSONLong(payload, now)
		if err != nil {
			return p, err
		}
		if key := minewTopicMAC(topic); key != "" {
			setMissingGatewayKey(&p, key)
		}
		return p, nil
	case FormatIngics:
		return ParseIngics(payload, now)
	case FormatWardWatch:
		return parseWardWatchMQTT(topic, payload, now)
	}
	return Parsed{Format: format}, wardwatch.Errorf(wardwatch.EINVALID, "unknown format %s", quoteShort(string(format)))
}

func errTooLarge(n int) error {
	return wardwatch.Errorf(wardwatch.ETOOLARGE, "message is too large (%d bytes, at most %d)", n, MaxMessageBytes)
}

func setMissingGatewayKey(p *Parsed, key string) {
	for i := range p.Observations {
		if p.Observations[i].GatewayKey == "" {
			p.Observations[i].GatewayKey = key
		}
	}
	for i := range p.TLM {
		if p.TLM[i].GatewayKey == "" {
			p.TLM[i].GatewayKey = key
		}
	}
}

// parseWardWatchMQTT parses the WardWatch batch format published on
// wardwatch/gateways/<key>/sightings: a {"sightings":[…]} object, or
// NDJSON (one sighting per line) when the payload has no "sightings"
// member.
func parseWardWatchMQTT(topic string, payload []byte, now time.Time) (Parsed, error) {
	p := Parsed{Format: FormatWardWatch}
	key := wardwatchTopicKey(topic)
	if key == "" {
		return p, wardwatch.Errorf(wardwatch.EINVALID, "topic %s is not wardwatch/gateways/<key>/sightings", quoteShort(topic))
	}
	ct := "application/x-ndjson"
	if t := bytes.TrimSpace(payload); len(t) > 0 && t[0] == '{' && bytes.Contains(t, []byte(`"sightings"`)) {
		ct = "application/json"
	}
	ss, errs, err := ParseBatch(payload, ct, wardwatch.Gateway{}, now)
	if err != nil {
		return p, err
	}
	p.Errors = errs
	if len(ss) > 0 {
		p.Observations = make([]Observation, len(ss))
		for i, s := range ss {
			p.Observations[i] = Observation{GatewayKey: key, Sighting: s}
		}
	}
	return p, nil
}

// Validation shared by the parsers.

// minDistance is the shortest distance an observation reports: closer
// than this, path-loss models stop meaning anything.
const minDistance = 0.1

// maxDistance is the longest distance accepted, in metres; BLE does not
// reach further indoors.
const maxDistance = 1000

// checkRSSI validates a required RSSI member.
func checkRSSI(v float64, st numState) (float64, string) {
	switch st {
	case numAbsent:
		return 0, "rssi: missing"
	case numWrongType:
		return 0, "rssi: must be a number"
	}
	if st != numOK || v < minRSSI || v > maxRSSI {
		return 0, "rssi: must be between -130 and 0 dBm"
	}
	return v, ""
}

// checkDistance validates a distance member, in metres.
func checkDistance(v float64, st numState) (float64, string) {
	switch st {
	case numAbsent:
		return 0, "distance: missing"
	case numWrongType:
		return 0, "distance: must be a number"
	}
	if st != numOK || v < 0 || v > maxDistance {
		return 0, "distance: must be between 0 and 1000 m"
	}
	return max(v, minDistance), ""
}

// txPower returns an optional advertised RSSI at 1 m when it is valid,
// else 0 ("not said").
func txPower(v float64, st numState) float64 {
	if st != numOK || v < minTxPower || v > maxTxPower {
		return 0
	}
	return v
}

// Plausible ranges of sensor values; readings outside are dropped.
var sensorRange = map[wardwatch.Metric][2]float64{
	wardwatch.MetricTemperature:    {-60, 125},
	wardwatch.MetricHumidity:       {0, 100},
	wardwatch.MetricBatteryVoltage: {0.001, 10},
	wardwatch.MetricBatteryPercent: {0, 100},
}

// appendReading appends a reading when the value is present and plausible.
func appendReading(dst []wardwatch.Reading, at time.Time, sensorID string, m wardwatch.Metric, v float64, st numState) []wardwatch.Reading {
	if st != numOK {
		return dst
	}
	r := sensorRange[m]
	if v < r[0] || v > r[1] {
		return dst
	}
	return append(dst, wardwatch.Reading{Time: at, SensorID: sensorID, Metric: m, Value: v})
}

// macField normalises a MAC member (12 hex digits, bare or in pairs
// separated by ':' or '-'); "" when absent or malformed.
func macField(kind valueKind, raw []byte, esc bool) string {
	b, ok := strBytes(kind, raw, esc)
	if !ok || (len(b) != 12 && len(b) != 17) {
		return ""
	}
	mac, ok := normalizeMACBytes(b)
	if !ok {
		return ""
	}
	return mac
}

// normalizeMACBytes is normalizeMAC for bytes, allocating only the result.
func normalizeMACBytes(m []byte) (string, bool) {
	var buf [12]byte
	n := 0
	switch len(m) {
	case 12:
		for _, c := range m {
			if !isHexByte(c) {
				return "", false
			}
			buf[n] = lowerHex(c)
			n++
		}
	case 17:
		sep := m[2]
		if sep != ':' && sep != '-' {
			return "", false
		}
		for i, c := range m {
			if i%3 == 2 {
				if c != sep {
					return "", false
				}
				continue
			}
			if !isHexByte(c) {
				return "", false
			}
			buf[n] = lowerHex(c)
			n++
		}
	default:
		return "", false
	}
	return string(buf[:]), true
}

func lowerHex(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + ('a' - 'A')
	}
	return c
}

// isRandomNonStatic reports whether a random device address is a
// resolvable or non-resolvable private address (it rotates), as opposed
// to a static random address (its two top bits are 1).
func isRandomNonStatic(mac string) bool {
	hi, _ := unhex(mac[0])
	return hi>>2 != 0b11
}
