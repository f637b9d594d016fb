package replay

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

func TestSightingWriterRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 4, 5, 6, 250_000_000, time.UTC)
	want := []Sighting{
		{Time: t0, GatewayID: "f1-gw-01", TagID: "ibeacon:x:4:1", RSSI: -67},
		{Time: t0.Add(time.Second), GatewayID: "f1-gw-02", TagID: "ibeacon:x:4:1", RSSI: -71.5, TxPower: -59},
	}
	var b bytes.Buffer
	sw := NewSightingWriter(&b)
	for _, s := range want {
		if err := sw.Write(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSightings(&b)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if !slices.EqualFunc(got, want, func(a, b Sighting) bool {
		return a.Time.Equal(b.Time) && a.GatewayID == b.GatewayID && a.TagID == b.TagID && a.RSSI == b.RSSI && a.TxPower == b.TxPower
	}) {
		t.Fatalf("read back %+v, want %+v", got, want)
	}
}
