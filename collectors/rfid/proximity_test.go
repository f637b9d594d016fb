package rfid

import (
	"math"
	"testing"

	"github.com/wardwatch/wardwatch"
)

func TestToSightings(t *testing.T) {
	reader := Reader{Key: "dock-1", Antennas: map[int]Antenna{
		1: {GatewayID: 11, ZoneID: 101},
		2: {GatewayID: 12, ZoneID: 102},
		3: {GatewayID: 0, ZoneID: 103}, // no gateway: unusable
	}}
	calib := func(id int64) float64 {
		switch id {
		case 11:
			return -62
		case 12:
			return math.NaN() // broken calibration: default
		}
		return 0
	}
	tests := []struct {
		name     string
		read     Read
		rssiAt1m func(int64) float64
		want     *wardwatch.Sighting // nil: dropped
	}{
		{"strong read at the reference", Read{Reader: "dock-1", Antenna: 1, EPC: epcA, RSSI: -40, Time: testNow}, calib,
			&wardwatch.Sighting{Time: testNow, GatewayID: 11, TagID: "epc:3034257bf7194e4000001a85", RSSI: -62}},
		{"weak read 2 dB down", Read{Reader: "dock-1", Antenna: 1, EPC: epcA, RSSI: -95, Time: testNow}, calib,
			&wardwatch.Sighting{Time: testNow, GatewayID: 11, TagID: "epc:3034257bf7194e4000001a85", RSSI: -64}},
		{"middling read", Read{Reader: "dock-1", Antenna: 1, EPC: epcA, RSSI: -62.5, Time: testNow}, calib,
			&wardwatch.Sighting{Time: testNow, GatewayID: 11, TagID: "epc:3034257bf7194e4000001a85", RSSI: -63}},
		{"unknown RSSI 1 dB down", Read{Reader: "dock-1", Antenna: 1, EPC: epcA, Time: testNow}, calib,
			&wardwatch.Sighting{Time: testNow, GatewayID: 11, TagID: "epc:3034257bf7194e4000001a85", RSSI: -63}},
		{"bad calibration: default", Read{Reader: "dock-1", Antenna: 2, EPC: epcB, RSSI: -40, Time: testNow}, calib,
			&wardwatch.Sighting{Time: testNow, GatewayID: 12, TagID: "epc:e280116060000209f2a3b4c5", RSSI: DefaultRSSIAt1m}},
		{"no calibration function", Read{Reader: "dock-1", Antenna: 1, EPC: epcA, RSSI: -40, Time: testNow}, nil,
			&wardwatch.Sighting{Time: testNow, GatewayID: 11, TagID: "epc:3034257bf7194e4000001a85", RSSI: DefaultRSSIAt1m}},
		{"unconfigured antenna", Read{Reader: "dock-1", Antenna: 4, EPC: epcA, Time: testNow}, calib, nil},
		{"antenna without a gateway", Read{Reader: "dock-1", Antenna: 3, EPC: epcA, Time: testNow}, calib, nil},
		{"another reader's read", Read{Reader: "dock-2", Antenna: 1, EPC: epcA, Time: testNow}, calib, nil},
	}
	for _, tt := range tests {
		ss, dropped := ToSightings(reader, []Read{tt.read}, tt.rssiAt1m)
		switch {
		case tt.want == nil && (len(ss) != 0 || dropped != 1):
			t.Errorf("%s: got %+v, %d dropped; want dropped", tt.name, ss, dropped)
		case tt.want != nil && (len(ss) != 1 || dropped != 0 || ss[0] != *tt.want):
			t.Errorf("%s: got %+v, %d dropped; want %+v", tt.name, ss, dropped, *tt.want)
		}
	}
}

func TestShadeBounds(t *testing.T) {
	for _, rssi := range []float64{-130, -100, -80, -70, -45, -30, -1, 0, math.NaN()} {
		if s := shade(rssi); !(s >= 0 && s <= maxShadeDB) {
			t.Errorf("shade(%v) = %v, outside [0, %v]", rssi, s, maxShadeDB)
		}
	}
	if shade(-50) >= shade(-70) {
		t.Errorf("a stronger read must be shaded less: shade(-50)=%v, shade(-70)=%v", shade(-50), shade(-70))
	}
}
