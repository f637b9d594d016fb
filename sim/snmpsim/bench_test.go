package snmpsim

import (
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// BenchmarkAgent measures the simulator answering one request, without
// the network: what it adds to the collector's benchmarks, which run it
// in the same process.
func BenchmarkAgent(b *testing.B) {
	now := func() time.Time { return time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC) }
	a, err := newAgent(5000, 1, now, fuzzEngineID)
	if err != nil {
		b.Fatal(err)
	}
	scalars := make([]string, 12)
	for i := range scalars {
		scalars[i] = arcPump.child(uint32(i+1), 0).String()
	}
	for _, bc := range []struct {
		name string
		msg  []byte
	}{
		{"v3-discovery", request(b, gosnmp.Version3, "", gosnmp.NoAuthNoPriv|gosnmp.Reportable, "", gosnmp.GetRequest)},
		{"v3-get-pump", request(b, gosnmp.Version3, PumpUser(17), gosnmp.AuthPriv|gosnmp.Reportable, fuzzEngineID, gosnmp.GetRequest, scalars...)},
		{"v2c-get-pump", request(b, gosnmp.Version2c, PumpCommunity(17), 0, "", gosnmp.GetRequest, scalars...)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if out := a.handle(bc.msg); len(out) != 1 {
					b.Fatal("no answer")
				}
			}
		})
	}
}
