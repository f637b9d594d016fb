package ble

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// discardSink is a no-op Sink.
type discardSink struct{}

func (discardSink) Submit(context.Context, []wardwatch.Sighting) error { return nil }

func reportRate(b *testing.B, perOp int, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N*perOp)/s, unit)
	}
}

// BenchmarkParseRouteESPresense is the collector's hot path: one ESPresense
// message parsed and routed to a no-op sink through a warm gateway cache.
// Target: ≥ 300,000 messages/s on one core (≤ 3.3 µs/op).
func BenchmarkParseRouteESPresense(b *testing.B) {
	r := NewRouter(newCountingResolver(gwBay2), discardSink{}, nil, nil, nil, RouterOptions{})
	ctx := context.Background()
	payload := []byte(espCurrent)
	if res, err := r.Handle(ctx, FormatESPresense, espTopic, payload, testNow); err != nil || res.Sightings != 1 {
		b.Fatalf("%+v, %v", res, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Handle(ctx, FormatESPresense, espTopic, payload, testNow); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, 1, "msgs/s")
}

// BenchmarkParseESPresense is the parse alone.
func BenchmarkParseESPresense(b *testing.B) {
	payload := []byte(espCurrent)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseESPresense(espTopic, payload, testNow); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, 1, "msgs/s")
}

// BenchmarkJSONUnmarshalESPresense is a same-run reference: plain
// encoding/json of the same payload into a map.
func BenchmarkJSONUnmarshalESPresense(b *testing.B) {
	payload := []byte(espCurrent)
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, 1, "msgs/s")
}

// minewBatch builds a JSON-LONG upload of n advertisements: iBeacon items
// and rawData items (Eddystone-UID) alternating.
func minewBatch(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`[{"timestamp":"2025-03-01T10:14:59.120Z","type":"Gateway","mac":"AC233FC0A1B2","gatewayFree":89,"gatewayLoad":0.03}`)
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&sb, `,{"timestamp":"2025-03-01T10:14:58.870Z","type":"iBeacon","mac":"C30000%06X","bleName":"","ibeaconUuid":"E2C56DB5DFFB48D2B060D0F5A71096E0","ibeaconMajor":1,"ibeaconMinor":%d,"rssi":-65,"ibeaconTxPower":-59,"battery":87}`, i, i)
		} else {
			fmt.Fprintf(&sb, `,{"timestamp":"2025-03-01T10:14:58.910Z","type":"Unknown","mac":"C30000%06X","bleName":"","rssi":-71,"rawData":"%s"}`, i, advEddystoneUID)
		}
	}
	sb.WriteString("]")
	return []byte(sb.String())
}

func ingicsBatch(n int) []byte {
	var sb strings.Builder
	for i := range n {
		adv := advIBeacon
		if i%2 == 1 {
			adv = advEddystoneUID
		}
		fmt.Fprintf(&sb, "$GPRP,C30000%06X,AC233FC0A1B2,-%d,%s,*1740824098\r\n", i, 60+i%30, adv)
	}
	return []byte(sb.String())
}

// BenchmarkParseMinew parses a 100-advertisement JSON-LONG upload.
func BenchmarkParseMinew(b *testing.B) {
	body := minewBatch(100)
	if p, err := ParseMinewJSONLong(body, testNow); err != nil || len(p.Observations) != 100 {
		b.Fatalf("%d observations, %v", len(p.Observations), err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMinewJSONLong(body, testNow); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, 100, "adverts/s")
}

// BenchmarkParseIngics parses 100 Ingics lines.
func BenchmarkParseIngics(b *testing.B) {
	body := ingicsBatch(100)
	if p, err := ParseIngics(body, testNow); err != nil || len(p.Observations) != 100 {
		b.Fatalf("%d observations, %v (%+v)", len(p.Observations), err, p.Errors)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseIngics(body, testNow); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, 100, "adverts/s")
}

// BenchmarkDecodeAdvertisement decodes one iBeacon advertisement.
func BenchmarkDecodeAdvertisement(b *testing.B) {
	raw := mustHex(b, advIBeacon)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAdvertisement(raw); err != nil {
			b.Fatal(err)
		}
	}
}
