package influx

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

var lpTime = time.Date(2026, 5, 1, 10, 0, 0, 123_456_789, time.UTC) // 1777629600123 ms

func TestAppendLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"reading", appendReading(nil, wardwatch.Reading{Time: lpTime, SensorID: "fridge-1/probe", Metric: wardwatch.MetricTemperature, Value: 4.5}),
			"reading,metric=temperature,sensor=fridge-1/probe value=4.5 1777629600123\n"},
		{"reading with escapes", appendReading(nil, wardwatch.Reading{Time: lpTime, SensorID: `ward 4, bay=2 "x"`, Metric: wardwatch.MetricDoorOpen, Value: 1}),
			`reading,metric=door_open,sensor=ward\ 4\,\ bay\=2\ "x" value=1 1777629600123` + "\n"},
		{"reading, tiny and huge values", appendReading(appendReading(nil,
			wardwatch.Reading{Time: lpTime, SensorID: "s", Metric: wardwatch.MetricPressure, Value: -1e-7}),
			wardwatch.Reading{Time: lpTime, SensorID: "s", Metric: wardwatch.MetricPressure, Value: 1e21}),
			"reading,metric=pressure,sensor=s value=-1e-07 1777629600123\nreading,metric=pressure,sensor=s value=1e+21 1777629600123\n"},
		{"position", appendPosition(nil, wardwatch.Position{TagID: "ibeacon:u:1:2", AssetID: 42, FloorID: 3, At: wardwatch.Point{X: 1.25, Y: -0.5},
			ZoneID: 7, Confidence: 0.875, Solver: "lm", State: wardwatch.StateMoving, Time: lpTime}),
			`position,asset=42,tag=ibeacon:u:1:2 confidence=0.875,floor=3i,solver="lm",state="moving",x=1.25,y=-0.5,zone=7i 1777629600123` + "\n"},
		{"pump, numbers missing", appendPumpState(nil, wardwatch.PumpState{Time: lpTime, TargetID: 2, Serial: "SN 1", Status: wardwatch.PumpIdle,
			Battery: math.NaN(), Rate: math.NaN(), VTBI: 10, Infused: math.NaN(), Model: `M "8100" \ x`}),
			`pump,serial=SN\ 1,target=2 alarms="",drug_library="",drug_library_version="",firmware="",model="M \"8100\" \\ x",on_ac=false,status="idle",vtbi=10 1777629600123` + "\n"},
		{"pump with alarms", appendPumpState(nil, wardwatch.PumpState{Time: lpTime, TargetID: 2, Serial: "S", Status: wardwatch.PumpAlarming, OnAC: true,
			Battery: 50, Rate: 1, VTBI: 2, Infused: 3, Alarms: []wardwatch.PumpAlarm{{Code: "OCC", Text: `say "hi"`, Priority: wardwatch.PriorityHigh}}}),
			`pump,serial=S,target=2 alarms="[{\"code\":\"OCC\",\"text\":\"say \\\"hi\\\"\",\"priority\":\"high\"}]",drug_library="",drug_library_version="",firmware="",model="",on_ac=true,status="alarm",battery=50,infused=3,rate=1,vtbi=2 1777629600123` + "\n"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

// parsedLine is a line-protocol line split by parseLine.
type parsedLine struct {
	measurement string
	tags        map[string]string
	fields      map[string]string // raw values; strings unquoted and unescaped
	ts          int64
}

// parseLine is a small line-protocol parser for the lines WardWatch
// writes (InfluxDB's rules: backslash escapes in the measurement, tags and
// field keys; quoted strings with \" and \\).
func parseLine(t *testing.T, line string) parsedLine {
	t.Helper()
	line, ok := strings.CutSuffix(line, "\n")
	if !ok || strings.Contains(line, "\n") {
		t.Fatalf("not one line: %q", line)
	}
	// splitUnescaped splits s at unescaped sep outside quotes.
	split := func(s string, sep byte, quotes bool) []string {
		var parts []string
		var cur strings.Builder
		inq := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s):
				cur.WriteByte(c)
				cur.WriteByte(s[i+1])
				i++
			case quotes && c == '"':
				inq = !inq
				cur.WriteByte(c)
			case c == sep && !inq:
				parts = append(parts, cur.String())
				cur.Reset()
			default:
				cur.WriteByte(c)
			}
		}
		return append(parts, cur.String())
	}
	unescape := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`, ="\`, s[i+1]) >= 0 {
				i++
			}
			b.WriteByte(s[i])
		}
		return b.String()
	}
	// The series ends at the first unescaped space (quotes are literal in
	// tags); the timestamp follows the last space.
	seriesEnd := -1
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if line[i] == ' ' {
			seriesEnd = i
			break
		}
	}
	last := strings.LastIndexByte(line, ' ')
	if seriesEnd < 0 || last <= seriesEnd {
		t.Fatalf("line %q does not have three sections", line)
	}
	sections := []string{line[:seriesEnd], line[seriesEnd+1 : last], line[last+1:]}
	p := parsedLine{tags: map[string]string{}, fields: map[string]string{}}
	series := split(sections[0], ',', false)
	p.measurement = unescape(series[0])
	for _, kv := range series[1:] {
		kvs := split(kv, '=', false)
		if len(kvs) != 2 {
			t.Fatalf("tag %q in %q", kv, line)
		}
		p.tags[unescape(kvs[0])] = unescape(kvs[1])
	}
	for _, kv := range split(sections[1], ',', true) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("field %q in %q", kv, line)
		}
		if strings.HasPrefix(v, `"`) {
			if len(v) < 2 || !strings.HasSuffix(v, `"`) {
				t.Fatalf("string field %q in %q", kv, line)
			}
			v = unescape(v[1 : len(v)-1])
		}
		p.fields[unescape(k)] = v
	}
	ts, err := strconv.ParseInt(sections[2], 10, 64)
	if err != nil {
		t.Fatalf("timestamp in %q: %v", line, err)
	}
	p.ts = ts
	return p
}

// FuzzReadingLine checks that every reading the store accepts becomes one
// line that parses back to the same sensor, value and millisecond.
func FuzzReadingLine(f *testing.F) {
	f.Add("fridge-1/probe", "temperature", 4.5, int64(1777629600123))
	f.Add(`a b,c=d"e`, "pressure", -1e-7, int64(0))
	f.Add("Kühlschrank ${x}", "humidity", 1e300, int64(9223372036853))
	f.Add("bad\\", "door_open", math.NaN(), int64(-1))
	f.Add("", "furlongs", math.Inf(1), int64(1))
	f.Fuzz(func(t *testing.T, sensor, metric string, v float64, ms int64) {
		r := wardwatch.Reading{Time: time.UnixMilli(ms), SensorID: sensor, Metric: wardwatch.Metric(metric), Value: v}
		if reason, _ := checkReading(r); reason != "" {
			return
		}
		line := appendReading(nil, r)
		p := parseLine(t, string(line))
		if p.measurement != "reading" || p.tags["sensor"] != sensor || p.tags["metric"] != metric || len(p.tags) != 2 {
			t.Fatalf("%q parses to %+v", line, p)
		}
		got, err := strconv.ParseFloat(p.fields["value"], 64)
		if err != nil || got != v || len(p.fields) != 1 {
			t.Fatalf("%q: value %q, want %v", line, p.fields["value"], v)
		}
		if p.ts != ms {
			t.Fatalf("%q: time %d, want %d", line, p.ts, ms)
		}
	})
}

// FuzzPumpStateLine checks pump state lines with arbitrary strings: one
// line, parsing back to the same serial, strings and alarms.
func FuzzPumpStateLine(f *testing.F) {
	f.Add("SN1", "Alaris", "12.1", "ICU", "OCC", `say "hi" \ bye`, 12.5)
	f.Add(`S N,1=`, "", "", "", "", "", math.NaN())
	f.Add("x", "m\n", "f\x00", "lib", "c", "t", math.Inf(-1))
	f.Fuzz(func(t *testing.T, serial, model, firmware, lib, code, text string, rate float64) {
		s := wardwatch.PumpState{Time: lpTime, TargetID: 9, Serial: serial, Model: model, Status: wardwatch.PumpInfusing,
			Battery: math.NaN(), Rate: rate, VTBI: math.NaN(), Infused: math.NaN(), Firmware: firmware, DrugLibrary: lib,
			Alarms: []wardwatch.PumpAlarm{{Code: code, Text: text, Priority: wardwatch.PriorityLow}}}
		if reason, _ := checkPumpState(s); reason != "" {
			return
		}
		line := appendPumpState(nil, s)
		p := parseLine(t, string(line))
		if p.tags["serial"] != serial || p.tags["target"] != "9" || p.fields["model"] != model ||
			p.fields["firmware"] != firmware || p.fields["drug_library"] != lib {
			t.Fatalf("%q parses to %+v", line, p)
		}
		alarms, err := decodePumpAlarms(p.fields["alarms"])
		if err != nil || len(alarms) != 1 || alarms[0] != s.Alarms[0] {
			t.Fatalf("%q: alarms %+v, %v; want %+v", line, alarms, err, s.Alarms)
		}
		if _, ok := p.fields["rate"]; ok == math.IsNaN(rate) {
			t.Fatalf("%q: rate field present = %v for rate %v", line, ok, rate)
		}
	})
}

func TestRecordEncoderCuts(t *testing.T) {
	e := newRecordEncoder(3)
	for i := range 7 {
		e.begin()
		e.buf = append(e.buf, lines(i, 1)[0]...)
		e.endLine()
	}
	data := e.bytes()
	var counts []int
	r := bytes.NewReader(data)
	var head [recordHeaderLen]byte
	var buf []byte
	for r.Len() > 0 {
		n, _, err := readRecord(r, head[:], &buf)
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, n)
	}
	if len(counts) != 3 || counts[0] != 3 || counts[1] != 3 || counts[2] != 1 || e.points != 7 {
		t.Fatalf("records of %v lines (%d points), want [3 3 1]", counts, e.points)
	}
}

// FuzzReadRecord feeds arbitrary bytes to the record reader: it must not
// panic, and what it accepts must be whole lines matching the header.
func FuzzReadRecord(f *testing.F) {
	good, _ := records(lines(0, 2), 5)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte{255, 255, 255, 255, 1, 0, 0, 0})
	f.Add(make([]byte, recordHeaderLen))
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			head [recordHeaderLen]byte
			buf  []byte
		)
		n, payload, err := readRecord(bytes.NewReader(data), head[:], &buf)
		if err != nil {
			return
		}
		if n < 1 || bytes.Count(payload, []byte{'\n'}) != n || payload[len(payload)-1] != '\n' {
			t.Fatalf("accepted a record of %d lines with payload %q", n, payload)
		}
	})
}
