package rfid

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

var testNow = time.Date(2026, 3, 1, 10, 15, 5, 0, time.UTC)

const (
	epcA = "3034257BF7194E4000001A85"
	epcB = "E280116060000209F2A3B4C5"
	// epcAB64 is epcA in base64.
	epcAB64 = "MDQle/cZTkAAABqF"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestNormalizeEPC(t *testing.T) {
	long := strings.Repeat("AB", 62)
	tests := []struct {
		in, want string
		err      bool
	}{
		{epcA, epcA, false},
		{strings.ToLower(epcA), epcA, false},
		{"  epc:" + strings.ToLower(epcA) + " ", epcA, false},
		{"EPC:" + epcA, epcA, false},
		{long, long, false},                 // 496 bits
		{long + "AB", "", true},             // 504 bits
		{strings.Repeat("0", 22), "", true}, // 88 bits
		{strings.Repeat("0", 25), "", true}, // odd
		{strings.Repeat("0", 23) + "G", "", true},
		{"", "", true},
		{"epc:", "", true},
		{"0x" + epcA, "", true},
		{strings.Repeat("A", 10000), "", true},
	}
	for _, tt := range tests {
		got, err := NormalizeEPC(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("NormalizeEPC(%.40q) = %q, %v; want %q, err %v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("NormalizeEPC(%.40q): code %q, want invalid", tt.in, wardwatch.ErrorCode(err))
		}
	}
}

func TestTagID(t *testing.T) {
	r := Read{EPC: epcA}
	if got, want := r.TagID(), "epc:3034257bf7194e4000001a85"; got != want {
		t.Fatalf("TagID = %q, want %q", got, want)
	}
}

type parseCase struct {
	name    string
	format  Format
	reader  string
	body    string
	reads   []Read
	errs    []ItemError
	ignored int
	errCode string // whole-body error code
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.format, tt.reader, []byte(tt.body), testNow)
			if code := wardwatch.ErrorCode(err); code != tt.errCode {
				t.Fatalf("error %v (code %q), want code %q", err, code, tt.errCode)
			}
			if err != nil {
				return
			}
			if !reflect.DeepEqual(p.Reads, tt.reads) {
				t.Errorf("reads:\n got %+v\nwant %+v", p.Reads, tt.reads)
			}
			if !reflect.DeepEqual(p.Errors, tt.errs) {
				t.Errorf("errors:\n got %+v\nwant %+v", p.Errors, tt.errs)
			}
			if p.Ignored != tt.ignored {
				t.Errorf("ignored %d, want %d", p.Ignored, tt.ignored)
			}
		})
	}
}

func TestParseWardWatch(t *testing.T) {
	read := func(reader string, ant int, epc string, rssi float64, tm time.Time) Read {
		return Read{Reader: reader, Antenna: ant, EPC: epc, RSSI: rssi, Time: tm}
	}
	runParseCases(t, []parseCase{
		{
			name:   "envelope",
			format: FormatWardWatch,
			reader: "dock-1",
			body: `{"reader":"ignored-when-known","reads":[
				{"epc":"` + epcA + `","antenna":2,"rssi":-61.5,"time":"2026-03-01T10:15:02.250Z"},
				{"epc":"` + strings.ToLower(epcB) + `","antenna":1,"time":1772360102.5},
				{"epc":"epc:` + epcA + `","antenna":1}
			]}`,
			reads: []Read{
				read("dock-1", 2, epcA, -61.5, at("2026-03-01T10:15:02.25Z")),
				read("dock-1", 1, epcB, 0, at("2026-03-01T10:15:02.5Z")),
				read("dock-1", 1, epcA, 0, testNow),
			},
		},
		{
			name:   "envelope names the reader",
			format: FormatWardWatch,
			body:   `{"reader":" dock-2 ","reads":[{"epc":"` + epcA + `","antenna":3},{"reader":"dock-3","epc":"` + epcA + `","antenna":3}]}`,
			reads:  []Read{read("dock-2", 3, epcA, 0, testNow), read("dock-3", 3, epcA, 0, testNow)},
		},
		{
			name:   "no reader anywhere",
			format: FormatWardWatch,
			body:   `{"reads":[{"epc":"` + epcA + `","antenna":3}]}`,
			errs:   []ItemError{{0, "reader: the body does not name its reader"}},
		},
		{
			name:   "ndjson with bad lines",
			format: FormatWardWatch,
			reader: "r",
			body: "{\"epc\":\"" + epcA + "\",\"antenna\":1,\"rssi\":-70}\r\n" +
				"\n" +
				"{\"epc\":\"" + epcA + "\",\"antenna\":0}\n" +
				"not json at all\n" +
				"{\"epc\":\"" + epcA + "\",\"antenna\":1,\"rssi\":-70\n" + // truncated
				"{\"epc\":\"" + epcB + "\",\"antenna\":4,\"time\":1772360102500}\n" + // milliseconds
				"[1]\n" +
				"\"x\"\n",
			reads: []Read{
				read("r", 1, epcA, -70, testNow),
				read("r", 4, epcB, 0, at("2026-03-01T10:15:02.5Z")),
			},
			errs: []ItemError{
				{1, "antenna: must be a whole number from 1 to 65535"},
				{2, "item is not valid JSON"},
				{3, "item is not valid JSON"},
				{5, "item must be a JSON object"},
				{6, "item must be a JSON object"},
			},
		},
		{
			name:   "member errors",
			format: FormatWardWatch,
			reader: "r",
			body: `[
				{"antenna":1},
				{"epc":12,"antenna":1},
				{"epc":"ABC","antenna":1},
				{"epc":"` + epcA + `"},
				{"epc":"` + epcA + `","antenna":"1"},
				{"epc":"` + epcA + `","antenna":1.5},
				{"epc":"` + epcA + `","antenna":1,"rssi":3},
				{"epc":"` + epcA + `","antenna":1,"rssi":"-60"},
				{"epc":"` + epcA + `","antenna":1,"time":"yesterday"},
				{"epc":"` + epcA + `","antenna":1,"time":"2026-03-01T12:00:00Z"},
				{"epc":"` + epcA + `","antenna":1,"time":"2026-03-01T09:00:00Z"},
				{"epc":"` + epcA + `","antenna":1,"time":1e400},
				{"epc":"` + epcA + `","antenna":1,"reader":7},
				{"epc":"` + epcA + `","antenna":1,"rssi":null,"time":null,"reader":null}
			]`,
			reads: []Read{read("r", 1, epcA, 0, testNow)},
			errs: []ItemError{
				{0, "epc: missing"},
				{1, "epc: must be a string of hex digits"},
				{2, "epc: EPC must be 24 to 124 hex digits (96 to 496 bits), not 3"},
				{3, "antenna: missing"},
				{4, "antenna: must be a number"},
				{5, "antenna: must be a whole number from 1 to 65535"},
				{6, "rssi: must be between -130 and 0 dBm"},
				{7, "rssi: must be a number"},
				{8, "time: must be an RFC 3339 time or a number of seconds since the epoch"},
				{9, "time: more than 5 minutes in the future"},
				{10, "time: more than 1 hour in the past"},
				{11, "time: out of range"},
				{12, "reader: must be a string"},
			},
		},
		{
			name:   "a read with a reads count",
			format: FormatWardWatch,
			reader: "r",
			body:   `{"epc":"` + epcA + `","antenna":1,"reads":3}`,
			reads:  []Read{read("r", 1, epcA, 0, testNow)},
		},
		{
			name:   "reads not an array",
			format: FormatWardWatch,
			reader: "r",
			body:   `{"reads":{"epc":"` + epcA + `"}}`,
			errs:   []ItemError{{0, "reads: must be an array"}},
		},
		{
			name:   "empty envelope",
			format: FormatWardWatch,
			reader: "r",
			body:   `{"reads":[]}`,
		},
		{
			name:    "nothing is JSON",
			format:  FormatWardWatch,
			reader:  "r",
			body:    "hello\nworld\n",
			errCode: wardwatch.EINVALID,
		},
		{
			name:    "too many items",
			format:  FormatWardWatch,
			reader:  "r",
			body:    "[" + strings.Repeat(`{},`, MaxItems) + "{}]",
			errCode: wardwatch.EINVALID,
		},
		{
			name:    "too many envelope reads",
			format:  FormatWardWatch,
			reader:  "r",
			body:    `{"reads":[` + strings.Repeat(`{},`, MaxItems) + "{}]}",
			errCode: wardwatch.EINVALID,
		},
		{
			name:    "too many lines",
			format:  FormatWardWatch,
			reader:  "r",
			body:    strings.Repeat("{}\n", MaxItems+1),
			errCode: wardwatch.EINVALID,
		},
		{
			name:    "unknown format",
			format:  "acme",
			body:    `{}`,
			errCode: wardwatch.EINVALID,
		},
	})
}

func TestParseZebra(t *testing.T) {
	ev := func(data, ts string) string {
		return `{"data":{` + data + `},"timestamp":"` + ts + `","type":"SIMPLE"}`
	}
	runParseCases(t, []parseCase{
		{
			name:   "single event",
			format: FormatZebra,
			reader: "dock-1",
			body:   ev(`"eventNum":1,"format":"epc","idHex":"e280116060000209f2a3b4c5","antenna":1,"peakRssi":-55,"reads":3`, "2026-03-01T10:15:02.250+0000"),
			reads:  []Read{{Reader: "dock-1", Antenna: 1, EPC: epcB, RSSI: -55, Time: at("2026-03-01T10:15:02.25Z")}},
		},
		{
			name:   "batched array and RFC 3339",
			format: FormatZebra,
			reader: "dock-1",
			body: "[" + ev(`"idHex":"`+epcA+`","antenna":2`, "2026-03-01T10:15:02Z") + "," +
				ev(`"idHex":"`+epcA+`","antenna":3,"peakRssi":-60.5`, "2026-03-01T11:15:02.000+0100") + "]",
			reads: []Read{
				{Reader: "dock-1", Antenna: 2, EPC: epcA, Time: at("2026-03-01T10:15:02Z")},
				{Reader: "dock-1", Antenna: 3, EPC: epcA, RSSI: -60.5, Time: at("2026-03-01T10:15:02Z")},
			},
		},
		{
			name:   "concatenated events (websocket)",
			format: FormatZebra,
			body: ev(`"MAC":"84:24:8D:12:34:56","idHex":"`+epcA+`","antenna":1`, "2026-03-01T10:15:02.250+0000") +
				ev(`"MAC":"84248d123456","idHex":"`+epcB+`","antenna":2`, "2026-03-01T10:15:03.250+0000"),
			reads: []Read{
				{Reader: "84248d123456", Antenna: 1, EPC: epcA, Time: at("2026-03-01T10:15:02.25Z")},
				{Reader: "84248d123456", Antenna: 2, EPC: epcB, Time: at("2026-03-01T10:15:03.25Z")},
			},
		},
		{
			name:    "other event types are ignored",
			format:  FormatZebra,
			reader:  "dock-1",
			body:    `{"type":"HEARTBEAT","data":{"uptime":3}}` + "\n" + `{"type":"GPI","timestamp":"2026-03-01T10:15:02Z"}`,
			ignored: 2,
		},
		{
			name:   "bad events",
			format: FormatZebra,
			reader: "dock-1",
			body: "[" + strings.Join([]string{
				`{"type":"SIMPLE"}`,
				`{"data":[1]}`,
				`{"data":{"antenna":1}}`,
				`{"data":{"idHex":"` + epcA + `","antenna":1,"format":"tid"}}`,
				`{"data":{"idHex":"` + epcA + `"}}`,
				`{"data":{"idHex":"` + epcA + `","antenna":1,"peakRssi":-200}}`,
				`{"data":{"idHex":"` + epcA + `","antenna":1},"timestamp":"2026-03-01 10:15:02"}`,
				`{"data":{"idHex":"` + epcA + `","antenna":1},"type":5}`,
				`{"data":{"idHex":"` + epcA + `","antenna":1}}`,
			}, ",") + "]",
			reads: []Read{{Reader: "dock-1", Antenna: 1, EPC: epcA, Time: testNow}},
			errs: []ItemError{
				{0, "data: missing"},
				{1, "data: must be an object"},
				{2, "data.idHex: missing"},
				{3, `data.format: "tid" identities are not supported (want epc)`},
				{4, "data.antenna: missing"},
				{5, "data.peakRssi: must be between -130 and 0 dBm"},
				{6, "timestamp: must be an RFC 3339 time or a number of seconds since the epoch"},
				{7, "type: must be a string"},
			},
		},
		{
			name:   "no reader and a bad MAC",
			format: FormatZebra,
			body:   ev(`"MAC":"nope","idHex":"`+epcA+`","antenna":1`, "2026-03-01T10:15:02Z") + "\n" + ev(`"idHex":"`+epcA+`","antenna":1`, "2026-03-01T10:15:02Z"),
			errs:   []ItemError{{0, "data.MAC: must be a MAC address"}, {1, "reader: the body does not name its reader"}},
		},
	})
}

func TestParseImpinj(t *testing.T) {
	ev := func(tag string) string {
		return `{"timestamp":"2026-03-01T10:15:02.250Z","hostname":"impinj-14-46-36","eventType":"tagInventory","tagInventoryEvent":{` + tag + `}}`
	}
	runParseCases(t, []parseCase{
		{
			name:   "ndjson stream",
			format: FormatImpinj,
			reader: "r700",
			body: ev(`"epcHex":"`+epcA+`","antennaPort":1,"peakRssiCdbm":-5600`) + "\n" +
				ev(`"epc":"`+epcAB64+`","antennaPort":2,"lastSeenTime":"2026-03-01T10:15:02.201Z"`) + "\n" +
				`{"timestamp":"2026-03-01T10:15:03Z","eventType":"inventoryStatus","inventoryStatusEvent":{"inventoryStatus":"running"}}` + "\n",
			reads: []Read{
				{Reader: "r700", Antenna: 1, EPC: epcA, RSSI: -56, Time: at("2026-03-01T10:15:02.25Z")},
				{Reader: "r700", Antenna: 2, EPC: epcA, Time: at("2026-03-01T10:15:02.201Z")},
			},
			ignored: 1,
		},
		{
			name:   "array, hostname as reader, unpadded base64",
			format: FormatImpinj,
			body:   "[" + ev(`"epcHex":"`+strings.ToLower(epcB)+`","antennaPort":4,"peakRssiCdbm":-7012`) + "," + ev(`"epc":"MDQle/cZTkAAABqF","antennaPort":1`) + "]",
			reads: []Read{
				{Reader: "impinj-14-46-36", Antenna: 4, EPC: epcB, RSSI: -70.12, Time: at("2026-03-01T10:15:02.25Z")},
				{Reader: "impinj-14-46-36", Antenna: 1, EPC: epcA, Time: at("2026-03-01T10:15:02.25Z")},
			},
		},
		{
			name:   "bad events",
			format: FormatImpinj,
			reader: "r700",
			body: strings.Join([]string{
				`{"eventType":"tagInventory"}`,
				`{"tagInventoryEvent":"x"}`,
				ev(`"antennaPort":1`),
				ev(`"epc":"!!!","antennaPort":1`),
				ev(`"epc":"AAAA","antennaPort":1`),
				ev(`"epcHex":"` + epcA + `"`),
				ev(`"epcHex":"` + epcA + `","antennaPort":1,"peakRssiCdbm":500`),
				ev(`"epcHex":"` + epcA + `","antennaPort":1,"lastSeenTime":"later"`),
				`{"eventType":7,"tagInventoryEvent":{}}`,
				`{"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"` + epcA + `","antennaPort":1}}`,
			}, "\n"),
			reads: []Read{{Reader: "r700", Antenna: 1, EPC: epcA, Time: testNow}},
			errs: []ItemError{
				{0, "tagInventoryEvent: missing"},
				{1, "tagInventoryEvent: must be an object"},
				{2, "tagInventoryEvent: no epcHex or epc"},
				{3, "tagInventoryEvent.epc: must be a base64 string"},
				{4, "tagInventoryEvent.epc: EPC must be 96 to 496 bits"},
				{5, "tagInventoryEvent.antennaPort: missing"},
				{6, "tagInventoryEvent.peakRssiCdbm: must be between -130 and 0 dBm"},
				{7, "tagInventoryEvent.lastSeenTime: must be an RFC 3339 time or a number of seconds since the epoch"},
				{8, "eventType: must be a string"},
			},
		},
	})
}

func TestParseDetect(t *testing.T) {
	tests := []struct {
		body string
		want Format
		ok   bool
	}{
		{`{"data":{"idHex":"` + epcA + `","antenna":1},"type":"SIMPLE"}`, FormatZebra, true},
		{`[{"data":{"idHex":"` + epcA + `","antenna":1}}]`, FormatZebra, true},
		{`{"eventType":"inventoryStatus"}`, FormatImpinj, true},
		{"junk\n" + `{"tagInventoryEvent":{"epcHex":"` + epcA + `"}}`, FormatImpinj, true},
		{`{"reads":[]}`, FormatWardWatch, true},
		{`{"epc":"` + epcA + `","antenna":1}`, FormatWardWatch, true},
		{`{"data":"x"}`, "", false},
		{`[]`, "", false},
		{`{}`, "", false},
		{``, "", false},
	}
	for _, tt := range tests {
		got, ok := DetectFormat([]byte(tt.body))
		if got != tt.want || ok != tt.ok {
			t.Errorf("DetectFormat(%.50q) = %q, %v; want %q, %v", tt.body, got, ok, tt.want, tt.ok)
		}
	}

	// Parse detects, and an empty body is nothing to do.
	p, err := Parse("", "r", []byte(`{"epc":"`+epcA+`","antenna":1}`), testNow)
	if err != nil || p.Format != FormatWardWatch || len(p.Reads) != 1 {
		t.Fatalf("Parse with detection = %+v, %v", p, err)
	}
	if p, err := Parse("", "r", []byte(" \n "), testNow); err != nil || p.Items() != 0 {
		t.Fatalf("Parse of an empty body = %+v, %v", p, err)
	}
	if _, err := Parse("", "r", []byte(`{"x":1}`), testNow); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Fatalf("Parse of an undetectable body: %v", err)
	}
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse(FormatWardWatch, "r", make([]byte, MaxBodyBytes+1), testNow)
	if wardwatch.ErrorCode(err) != wardwatch.ETOOLARGE {
		t.Fatalf("err %v, want too_large", err)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": "", " Zebra ": FormatZebra, "impinj": FormatImpinj, "WARDWATCH": FormatWardWatch} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseFormat("acme"); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("ParseFormat(acme): %v", err)
	}
}

// TestNextValue checks the splitter on the shapes readers send.
func TestNextValue(t *testing.T) {
	tests := []struct {
		body string
		want []string // values; "!" prefix: broken stretch
	}{
		{`{"a":"}"}{"b":[1,{"c":"\"]"}]}`, []string{`{"a":"}"}`, `{"b":[1,{"c":"\"]"}]}`}},
		{"{\"a\":1\n{\"b\":2}\n", []string{"!{\"a\":1", `{"b":2}`}},
		{" 12 true\tnull ", []string{"12", "true", "null"}},
		{"\"open\n{}", []string{"!\"open", "{}"}},
		{",{}", []string{"!,{}"}},
		{"]\n{}", []string{"!]", "{}"}},
		{"", nil},
	}
	for _, tt := range tests {
		var got []string
		for i := 0; ; {
			start, end, ok, next := nextValue([]byte(tt.body), i)
			if start < 0 {
				break
			}
			if next <= i {
				t.Fatalf("%q: no progress at %d", tt.body, i)
			}
			i = next
			v := tt.body[start:end]
			if !ok {
				v = "!" + v
			}
			got = append(got, v)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%q: got %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestSplitArray(t *testing.T) {
	tests := []struct {
		raw  string
		want []string
		ok   bool
	}{
		{`[]`, nil, true},
		{"[ \n ]", nil, true},
		{`[1,"a",{"b":[2]},[3]]`, []string{`1`, `"a"`, `{"b":[2]}`, `[3]`}, true},
		{`[ {} , {} ]`, []string{`{}`, `{}`}, true},
		{`[1 2]`, nil, false},
		{`[1,]`, nil, false},
		{`[,1]`, nil, false},
		{`[nope]`, nil, false},
		{`[{}}]`, nil, false},
	}
	for _, tt := range tests {
		elems, ok := splitArray([]byte(tt.raw))
		var got []string
		for _, e := range elems {
			got = append(got, string(e))
		}
		if ok != tt.ok || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("splitArray(%s) = %q, %v; want %q, %v", tt.raw, got, ok, tt.want, tt.ok)
		}
	}
}
