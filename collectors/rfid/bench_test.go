package rfid

import (
	"fmt"
	"strings"
	"testing"
)

// benchReads is the number of reads in each benchmark body: a busy
// reader's batch.
const benchReads = 100

func benchEPC(i int) string { return fmt.Sprintf("30340000000000000000%04X", i) }

func benchBody(format Format) []byte {
	var b strings.Builder
	switch format {
	case FormatWardWatch:
		b.WriteString(`{"reader":"dock-1","reads":[`)
		for i := range benchReads {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"epc":"%s","antenna":%d,"rssi":-61.5,"time":"2026-03-01T10:15:02.250Z"}`, benchEPC(i), 1+i%4)
		}
		b.WriteString(`]}`)
	case FormatZebra:
		b.WriteByte('[')
		for i := range benchReads {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"data":{"eventNum":%d,"format":"epc","idHex":"%s","antenna":%d,"peakRssi":-55,"reads":3,"MAC":"84:24:8D:12:34:56"},"timestamp":"2026-03-01T10:15:02.250+0000","type":"SIMPLE"}`, i, strings.ToLower(benchEPC(i)), 1+i%4)
		}
		b.WriteByte(']')
	case FormatImpinj:
		for i := range benchReads {
			fmt.Fprintf(&b, `{"timestamp":"2026-03-01T10:15:02.250Z","hostname":"impinj-14-46-36","eventType":"tagInventory","tagInventoryEvent":{"epcHex":"%s","antennaPort":%d,"peakRssiCdbm":-5600,"lastSeenTime":"2026-03-01T10:15:02.201Z"}}`+"\n", benchEPC(i), 1+i%4)
		}
	}
	return []byte(b.String())
}

func benchmarkParse(b *testing.B, format Format) {
	body := benchBody(format)
	p, err := Parse(format, "dock-1", body, testNow)
	if err != nil || len(p.Reads) != benchReads {
		b.Fatalf("%d reads, %v (%+v)", len(p.Reads), err, p.Errors)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(format, "dock-1", body, testNow); err != nil {
			b.Fatal(err)
		}
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N*benchReads)/s, "reads/s")
	}
}

// BenchmarkParseWardWatch parses a 100-read WardWatch envelope.
func BenchmarkParseWardWatch(b *testing.B) { benchmarkParse(b, FormatWardWatch) }

// BenchmarkParseZebra parses a batched array of 100 Zebra tag data events.
func BenchmarkParseZebra(b *testing.B) { benchmarkParse(b, FormatZebra) }

// BenchmarkParseImpinj parses 100 Impinj tagInventory events as NDJSON.
func BenchmarkParseImpinj(b *testing.B) { benchmarkParse(b, FormatImpinj) }

// BenchmarkDetectFormat detects the format of a Zebra batch.
func BenchmarkDetectFormat(b *testing.B) {
	body := benchBody(FormatZebra)
	b.ReportAllocs()
	for b.Loop() {
		if f, ok := DetectFormat(body); !ok || f != FormatZebra {
			b.Fatal(f, ok)
		}
	}
}

// BenchmarkPortalObserve feeds a portal tracker 100 tags walking through.
func BenchmarkPortalObserve(b *testing.B) {
	var reads []Read
	for i := range benchReads {
		reads = append(reads, Read{Antenna: out, EPC: benchEPC(i), Time: ms(i)}, Read{Antenna: in1, EPC: benchEPC(i), Time: ms(500 + i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		pt, _ := NewPortalTracker(testPortal)
		pt.Observe(reads...)
		if zcs := pt.Advance(ms(100000)); len(zcs) != benchReads {
			b.Fatal(len(zcs))
		}
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N*2*benchReads)/s, "reads/s")
	}
}
