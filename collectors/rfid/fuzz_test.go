package rfid

import (
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// checkParsed checks what every parser promises, whatever the input.
func checkParsed(t *testing.T, f Format, reader string, body []byte) {
	t.Helper()
	p, err := Parse(f, reader, body, testNow)
	if err != nil {
		if p.Reads != nil || p.Errors != nil || p.Ignored != 0 {
			t.Fatalf("Parse returned results alongside an error: %v", err)
		}
		if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID && code != wardwatch.ETOOLARGE {
			t.Fatalf("body error with code %q: %v", code, err)
		}
		return
	}
	if n := p.Items(); n > MaxItems {
		t.Fatalf("%d items accepted, more than %d", n, MaxItems)
	}
	for _, r := range p.Reads {
		if canon, err := NormalizeEPC(r.EPC); err != nil || canon != r.EPC {
			t.Fatalf("accepted EPC %q is not canonical (%q, %v)", r.EPC, canon, err)
		}
		if r.Antenna < 1 || r.Antenna > MaxAntenna {
			t.Fatalf("accepted antenna %d", r.Antenna)
		}
		if !(r.RSSI >= minRSSI && r.RSSI <= maxRSSI) {
			t.Fatalf("accepted RSSI %v", r.RSSI)
		}
		if d := r.Time.Sub(testNow); d > MaxFuture || d < -MaxPast {
			t.Fatalf("accepted time %v outside the window", r.Time)
		}
		if r.Time.Location() != testNow.Location() {
			t.Fatalf("time %v not in UTC", r.Time)
		}
		if r.Reader == "" || (reader != "" && r.Reader != reader) {
			t.Fatalf("read stamped with reader %q (given %q)", r.Reader, reader)
		}
		if !strings.HasPrefix(r.TagID(), "epc:") {
			t.Fatalf("tag id %q", r.TagID())
		}
	}
	last := -1
	for _, e := range p.Errors {
		if e.Index <= last || e.Index >= p.Items() {
			t.Fatalf("item error indices not increasing within the items: %+v (items %d)", p.Errors, p.Items())
		}
		last = e.Index
		if e.Reason == "" {
			t.Fatalf("item error %d without a reason", e.Index)
		}
	}
}

func fuzzParser(f *testing.F, format Format, seeds []string) {
	for _, s := range seeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, named bool) {
		reader := ""
		if named {
			reader = "dock-1"
		}
		checkParsed(t, format, reader, body)
	})
}

// Seeds shared by every parser: broken shapes.
var commonSeeds = []string{
	``,
	"\n\n",
	`null`,
	`[]`,
	`[[]]`,
	`[null,1,"x",[],{}]`,
	`{}{}{`,
	`{"a":"\"}`,
	"\"unterminated\n{}",
	`]]]`,
	`{"a":1e400}`,
	strings.Repeat("[", 200) + strings.Repeat("]", 200),
}

func FuzzParseWardWatch(f *testing.F) {
	fuzzParser(f, FormatWardWatch, append([]string{
		`{"reader":"dock-1","reads":[{"epc":"` + epcA + `","antenna":2,"rssi":-61.5,"time":"2026-03-01T10:15:02.250Z"}]}`,
		`{"reads":[{"epc":"epc:` + epcA + `","antenna":1,"time":1772360102.5,"reader":"x"},{"epc":"AB","antenna":0}]}`,
		"{\"epc\":\"" + epcB + "\",\"antenna\":1,\"rssi\":-70}\r\n\nnot json\n{\"epc\":1}\n",
		`{"reads":null}`,
		`{"reads":"x","reader":5}`,
		`{"epc":"` + epcA + `","antenna":65536,"time":1772360102500}`,
		`{"epc":"` + epcA + `","antenna":1,"time":"NaN","rssi":-1e400}`,
	}, commonSeeds...))
}

func FuzzParseZebra(f *testing.F) {
	fuzzParser(f, FormatZebra, append([]string{
		`{"data":{"eventNum":1,"format":"epc","idHex":"e280116060000209f2a3b4c5","antenna":1,"peakRssi":-55,"reads":3,"MAC":"84:24:8D:12:34:56"},"timestamp":"2026-03-01T10:15:02.250+0000","type":"SIMPLE"}`,
		`[{"data":{"idHex":"` + epcA + `","antenna":2},"timestamp":"2026-03-01T10:15:02Z"},{"type":"HEARTBEAT"}]`,
		`{"data":{"idHex":"` + epcA + `","antenna":1,"MAC":"84248d123456"}}{"data":{"idHex":"` + epcB + `","antenna":2,"format":"tid"}}`,
		`{"data":[],"type":"SIMPLE"}`,
		`{"data":{"idHex":7,"antenna":"1","peakRssi":"x"},"timestamp":12,"type":null}`,
	}, commonSeeds...))
}

func FuzzParseImpinj(f *testing.F) {
	fuzzParser(f, FormatImpinj, append([]string{
		`{"timestamp":"2026-03-01T10:15:02.250Z","hostname":"impinj-14-46-36","eventType":"tagInventory","tagInventoryEvent":{"epcHex":"` + epcA + `","antennaPort":1,"peakRssiCdbm":-5600}}`,
		`{"timestamp":"2026-03-01T10:15:02.250Z","eventType":"tagInventory","tagInventoryEvent":{"epc":"` + epcAB64 + `","antennaPort":2,"lastSeenTime":"2026-03-01T10:15:02.201Z"}}` + "\n" +
			`{"timestamp":"2026-03-01T10:15:03Z","eventType":"inventoryStatus","inventoryStatusEvent":{"inventoryStatus":"running"}}`,
		`[{"tagInventoryEvent":{"epc":"MDQle/cZTkAAABqF","antennaPort":1}},{"eventType":5}]`,
		`{"tagInventoryEvent":{"epc":"====","antennaPort":1e3}}`,
	}, commonSeeds...))
}

func FuzzDetectFormat(f *testing.F) {
	for _, s := range append([]string{
		`{"data":{"idHex":"` + epcA + `"}}`,
		`{"eventType":"tagInventory"}`,
		`{"reads":[]}`,
		"junk\n[{\"epc\":\"x\"}]",
	}, commonSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := DetectFormat(body)
		if ok != got.Valid() {
			t.Fatalf("DetectFormat = %q, %v", got, ok)
		}
		if ok {
			checkParsed(t, got, "dock-1", body)
		}
	})
}

func FuzzNormalizeEPC(f *testing.F) {
	for _, s := range []string{epcA, "epc:" + strings.ToLower(epcB), "  " + epcA + " ", "", "epc:", "ABC", "0x" + epcA, strings.Repeat("f", 124), strings.Repeat("f", 126), "é" + epcA} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEPC(s)
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID || got != "" {
				t.Fatalf("NormalizeEPC(%q) = %q, %v", s, got, err)
			}
			return
		}
		if len(got) < minEPCHex || len(got) > maxEPCHex || len(got)%2 != 0 || strings.ToUpper(got) != got {
			t.Fatalf("NormalizeEPC(%q) = %q", s, got)
		}
		if again, err := NormalizeEPC(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q, %v", got, again, err)
		}
	})
}
