package ble

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// Seeds shared by the fuzzers: the realistic payloads of the table tests
// and a few hostile ones.
var hostileJSON = []string{
	``, `{`, `}`, `[`, `null`, `"x"`, `{"a":}`, `{"a":1,}`, `{"a" 1}`, `{"a":1}}`, `{"a":"\u12"}`, `{"a":"\x"}`,
	"{\"a\":\"\x01\"}", `{"a":-}`, `{"a":01}`, `{"a":1.}`, `{"a":1e}`, `{"a":tru}`, `{"rssi":1e999}`, `{"rssi":-0}`,
	`{"id":"` + strings.Repeat("A", 300) + `"}`, `{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
	"{\"id\":\"\xff\xfe\",\"rssi\":-60}", `{"id":"iBeacon:--","rssi":-60}`, `{"id":"eddy:-","rssi":-60}`,
	`{"id":"altBeacon:x-1-2","rssi":-60}`, `{"id":"known:zz","rssi":-60}`, `{"id":"iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-99999-1","rssi":-60}`,
}

func FuzzParseESPresense(f *testing.F) {
	for _, s := range []string{
		espCurrent,
		`{"mac":"d1a2b3c4d5e6","id":"iBeacon:E2C56DB5-DFFB-48D2-B060-D0F5A71096E0-1-42","idType":180,"rssi@1m":-55,"rssi":-72,"raw":2.95,"distance":2.84,"rxAdj":4,"mV":2980,"batt":87,"temp":21.5,"rh":40.5}`,
		`{"id":"eddy:edd1ebeac0c04e5defa017-0bdb87539b67","idType":170,"rssi@1m":-66,"rssi":-80,"raw":4.47,"distance":4.12,"speed":0.03,"mac":"e1f2a3b4c5d6","interval":1020}`,
		`{"id":"5a0102030405","idType":1,"rssi":-60}`, `{"id":"apple:1007:11-12","distance":"3"}`, `{"raw":4.5}`,
	} {
		f.Add(espTopic, []byte(s))
	}
	for _, s := range hostileJSON {
		f.Add("espresense/devices/x/y", []byte(s))
	}
	f.Add("espresense/devices//", []byte(`{}`))
	f.Add("/", []byte(`{"rssi":-1}`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		p, err := ParseESPresense(topic, payload, testNow)
		checkSingleMessage(t, p, err)
	})
}

func FuzzParseTheengs(f *testing.F) {
	for _, s := range []string{
		omgIBeacon,
		`{"id":"E1:F2:A3:B4:C5:D6","mac_type":0,"rssi":-80,"servicedata":"00e7edd1ebeac04e5defa0170bdb87539b670000","servicedatauuid":"0xfeaa"}`,
		`{"id":"E1:F2:A3:B4:C5:D6","mac_type":0,"rssi":-81,"servicedata":"20000bb81780000012340001e240","servicedatauuid":"feaa"}`,
		`{"id":"A4:C1:38:11:22:33","mac_type":0,"rssi":-60,"tempc":4.2,"hum":51,"batt":88,"volt":2.95}`,
		`{"id":"D1:A2:B3:C4:D5:E6","rssi":-75,"manufacturerdata":"1801beac0102030405060708090a0b0c0d0e0f1011121314c400"}`,
		`{"id":"5A:A2:B3:C4:D5:E6","mac_type":1,"rssi":-70}`, `{"uuid":"x","major":1,"minor":1,"rssi":-1}`,
		`{"servicedata":"20","servicedatauuid":"feaa","mac":"D1A2B3C4D5E6","rssi":-60}`,
	} {
		f.Add(omgTopic, []byte(s))
	}
	for _, s := range hostileJSON {
		f.Add("home/gw/BTtoMQTT/x", []byte(s))
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		p, err := ParseTheengs(topic, payload, testNow)
		checkSingleMessage(t, p, err)
	})
}

func FuzzParseMQTTRoom(f *testing.F) {
	for _, s := range []string{
		`{"id":"` + espPumpID + `","name":"Pump 0412","distance":2.84}`, `{"id":"123testid","distance":0}`,
		`{"id":"mac:C0:FF:EE:00:00:01","distance":1}`, `{"id":"x","rssi":-64}`, `{"id":"x","distance":-1}`,
	} {
		f.Add("room_presence/kitchen", []byte(s))
	}
	for _, s := range hostileJSON {
		f.Add("rooms/a", []byte(s))
	}
	f.Add("", []byte(`{"id":"x","distance":1}`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		p, err := ParseMQTTRoom(topic, payload, testNow)
		checkSingleMessage(t, p, err)
	})
}

// checkSingleMessage checks a single-message parser's result: an error
// and nothing else, or exactly one outcome (an observation, an item error
// or a skip) that satisfies the invariants.
func checkSingleMessage(t *testing.T, p Parsed, err error) {
	t.Helper()
	if err != nil {
		if len(p.Observations)+len(p.Readings)+len(p.TLM)+len(p.Errors)+len(p.Skipped) != 0 {
			t.Fatalf("results alongside an error %v: %+v", err, p)
		}
		return
	}
	if n := len(p.Observations) + len(p.Errors) + len(p.Skipped); n != 1 {
		t.Fatalf("%d outcomes for one message: %+v", n, p)
	}
	if len(p.Readings) > 0 && len(p.Observations) == 0 {
		t.Fatalf("readings without an observation: %+v", p)
	}
	checkParsedInvariants(t, p)
}

func FuzzParseMinew(f *testing.F) {
	f.Add([]byte(minewBody))
	f.Add([]byte(`[{"type":"Gateway","mac":"AC233FC0A1B2"},{"type":"Unknown","mac":"C30000250F7B","rssi":-71,"rawData":"` + advEddystoneTLM + `"}]`))
	f.Add([]byte(`[{"type":"S1","mac":"C30000250F6C","rssi":-66,"temperature":5.5,"humidity":44.5,"battery":100}]`))
	f.Add([]byte(`[{"timestamp":"2017-09-06T09:37:45Z","type":"Unknown","mac":"1918FC051F60","bleName":"","rssi":-72,"rawData":"1E168643BDBBBADEBABAA3A246BFA5DA813C95B29DA8AEE27FBA88454545BA"}]`))
	f.Add([]byte(`[1,{"rawData":7},{"ibeaconUuid":"E2C56DB5DFFB48D2B060D0F5A71096E0","ibeaconMajor":1e9,"ibeaconMinor":-1,"rssi":"x"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"type":"Gateway","mac":"AC233FC0A1B2"},{"timestamp":"2025-03-01T10:14:58.870+01:00","mac":"C30000250F6A","rssi":-65,"rawData":"0x1aff4c000215"}]`))
	for _, s := range hostileJSON {
		f.Add([]byte("[" + s + "]"))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseMinewJSONLong(body, testNow)
		checkBatch(t, p, err)
	})
}

func FuzzParseIngics(f *testing.F) {
	f.Add([]byte("$GPRP,C30000250F6A,AC233FC0A1B2,-67," + advIBeacon + ",*1740824098\r\n$RSPR,C30000250F7B,AC233FC0A1B2,-73,0909574152445741544300\n"))
	f.Add([]byte("$GPRP,C30000250F7B,AC233FC0A1B2,-72," + advEddystoneTLM + "\n$GPRP,0C61CFC1452E,E7DAE08E6FC3,-44," + advPhone + ",1740824098000\n"))
	f.Add([]byte("$GPRP,,,,\n$GPRP\n$\n\n\n$GPRP,C30000250F6A,AC233FC0A1B2,-1e999,00,*-5"))
	f.Add([]byte("GPRP,C30000250F6A,AC233FC0A1B2,-67,00"))
	f.Add([]byte("$GPRP,C30000250F6A,AC233FC0A1B2,-67," + advEddystoneUID + strings.TrimPrefix(advEddystoneTLM, advFlags+"0303AAFE")))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseIngics(body, testNow)
		checkBatch(t, p, err)
	})
}

// checkBatch checks a batch parser's result: an error and nothing else, or
// results whose item indexes are distinct and whose values satisfy the
// invariants.
func checkBatch(t *testing.T, p Parsed, err error) {
	t.Helper()
	if err != nil {
		if len(p.Observations)+len(p.Readings)+len(p.TLM)+len(p.Errors)+len(p.Skipped) != 0 {
			t.Fatalf("results alongside an error %v: %+v", err, p)
		}
		return
	}
	seen := map[int]bool{}
	for _, e := range p.Errors {
		if e.Index < 0 || seen[e.Index] || e.Reason == "" {
			t.Fatalf("bad item error %+v in %+v", e, p.Errors)
		}
		seen[e.Index] = true
	}
	checkParsedInvariants(t, p)
}

func FuzzDecodeAdvertisement(f *testing.F) {
	for _, s := range []string{
		advIBeacon, advAltBeacon, advEddystoneUID, advEddystoneTLM, advTLMNoSensors, advTLMNegative, advPhone,
		"1716AAFE2001" + strings.Repeat("00", 18), "0D16AAFE10EE03676F6F676C6507", "020106FF", "00",
		advEddystoneUID + strings.TrimPrefix(advEddystoneTLM, advFlags+"0303AAFE"),
		"1E168643BDBBBADEBABAA3A246BFA5DA813C95B29DA8AEE27FBA88454545BA",
	} {
		f.Add(mustHex(f, s))
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xFF}, 40))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := DecodeAdvertisement(raw)
		if err != nil {
			if a != (Advertisement{}) {
				t.Fatalf("advertisement alongside an error: %+v", a)
			}
		} else {
			if (a.TagID == "") != (a.Beacon == "") {
				t.Fatalf("tag %q with beacon type %q", a.TagID, a.Beacon)
			}
			if a.TagID != "" {
				if canon, err := NormalizeCollectorTagID(a.TagID); err != nil || canon != a.TagID {
					t.Fatalf("tag %q is not canonical (%q, %v)", a.TagID, canon, err)
				}
			}
			if a.MeasuredPower != 0 && (a.MeasuredPower < minTxPower || a.MeasuredPower > maxTxPower) {
				t.Fatalf("measured power %v", a.MeasuredPower)
			}
			for _, r := range a.TLM.Readings(tagEddystone, testNow) {
				if r.Value != r.Value || r.Value < -128 || r.Value > 128 {
					t.Fatalf("reading %+v", r)
				}
			}
		}
		// DecodeHex inverts hex encoding, in either case, with or without 0x.
		// (Checked on short inputs only: long ones slow down minimisation
		// and exercise nothing more.)
		if len(raw) > 0 && len(raw) <= 64 {
			for _, h := range []string{hex.EncodeToString(raw), "0x" + strings.ToUpper(hex.EncodeToString(raw))} {
				got, err := DecodeHex(h)
				if err != nil || !bytes.Equal(got, raw) {
					t.Fatalf("DecodeHex(%q) = %x, %v", h, got, err)
				}
			}
		}
	})
}

// FuzzJSONScan checks the scanner against encoding/json: it accepts an
// object or array exactly when encoding/json finds the text valid (up to
// the scanner's nesting limit), and yields the members encoding/json sees.
func FuzzJSONScan(f *testing.F) {
	for _, s := range hostileJSON {
		f.Add([]byte(s))
	}
	for _, s := range []string{espCurrent, omgIBeacon, minewBody, `[1,"a",{"b":[null,true,false]}]`, " {\"a\" : [ ] , \"b\" : { } } ", `{"\u0061":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) > maxJSONDepth-2 {
			return // beyond the scanner's nesting limit encoding/json goes on
		}
		valid := json.Valid(data)
		first := firstNonSpace(data)

		var it objIter
		it.reset(data)
		members := map[string]string{}
		for it.next() {
			members[string(it.key)] = string(it.val)
		}
		if want := valid && first == '{'; it.ok() != want {
			t.Fatalf("objIter ok = %v, json.Valid = %v, first %q", it.ok(), valid, first)
		}
		if it.ok() {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			// encoding/json replaces invalid UTF-8 in keys; compare only
			// when the text is valid UTF-8 throughout.
			if len(m) != len(members) && utf8Valid(data) {
				t.Fatalf("members %v, encoding/json %v", members, m)
			}
		}

		var arr arrIter
		arr.reset(data)
		n := 0
		for arr.next() {
			n++
		}
		if want := valid && first == '['; arr.ok() != want {
			t.Fatalf("arrIter ok = %v, json.Valid = %v", arr.ok(), valid)
		}
		if arr.ok() {
			var a []json.RawMessage
			if err := json.Unmarshal(data, &a); err != nil || len(a) != n {
				t.Fatalf("%d elements, encoding/json %d (%v)", n, len(a), err)
			}
		}
	})
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

func TestJSONScanNumbers(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		st   numState
	}{
		{"-71", -71, numOK}, {"-71.50", -71.5, numOK}, {"0", 0, numOK}, {"-0", 0, numOK}, {"1e2", 100, numOK},
		{"12345678901234567", 12345678901234567, numOK}, {"1e999", 0, numBad}, {`"-59"`, -59, numOK}, {`" -59"`, 0, numWrongType},
		{`"0x10"`, 0, numWrongType}, {`"Inf"`, 0, numWrongType}, {`"1_000"`, 0, numWrongType}, {"null", 0, numAbsent}, {"true", 0, numWrongType},
		{`"\u0031"`, 1, numOK},
	}
	for _, tt := range tests {
		var s jscan
		s.b = []byte(tt.in)
		kind, raw, esc, ok := s.value(0)
		if !ok {
			t.Fatalf("value(%s) failed", tt.in)
		}
		v, st := number(kind, raw, esc)
		if st != tt.st || v != tt.want {
			t.Errorf("number(%s) = %v, %v; want %v, %v", tt.in, v, st, tt.want, tt.st)
		}
	}
}
