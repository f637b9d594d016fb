package rfid

import (
	"math"

	"github.com/wardwatch/wardwatch"
)

// DefaultRSSIAt1m is the reference RSSI (dBm at 1 m) ToSightings assumes
// for a gateway whose calibration is unknown; it is the location engine's
// default too.
const DefaultRSSIAt1m = -59.0

// How a read's own RSSI shades its sighting: reads at least as strong as
// strongReadRSSI become sightings at the gateway's reference RSSI (1 m);
// reads at or below weakReadRSSI up to maxShadeDB weaker (about 1.2 m
// with a path-loss exponent of 2.5, 1.26 m with 2), so that of two
// antennas reading a tag at once the stronger ranks first while both stay
// within the engine's room-anchor range (1.5 m). Reads without an RSSI
// are shaded by half of maxShadeDB.
const (
	strongReadRSSI = -45.0
	weakReadRSSI   = -80.0
	maxShadeDB     = 2.0
)

// ToSightings turns reads of one reader into sightings for the location
// engine: each read becomes a Sighting of the read's tag (TagID) from the
// gateway standing for its antenna (reader.Antennas), at the read's time,
// with an RSSI that puts the tag about 1 m from that gateway — the
// gateway's reference RSSI at 1 m, from rssiAt1m, shaded by at most 2 dB
// by the read's own RSSI (strongest reads least). Declared as a room
// anchor of the antenna's zone (wardwatch.Gateway.AnchorZoneID), the
// gateway then decides the tag's room.
//
// rssiAt1m returns the reference RSSI the engine will compare against:
// the gateway's RSSIAt1m less its RxOffset (the engine adds RxOffset to
// every RSSI). A nil function, or a value that is not a finite number in
// [-130, 0), means DefaultRSSIAt1m.
//
// Reads from antennas the reader does not configure (or with GatewayID
// 0), and reads of another reader, are dropped and counted in dropped.
// TxPower is left 0: the tag says nothing about its power.
func ToSightings(reader Reader, reads []Read, rssiAt1m func(gatewayID int64) float64) (ss []wardwatch.Sighting, dropped int) {
	ss = make([]wardwatch.Sighting, 0, len(reads))
	for _, r := range reads {
		a, ok := reader.Antennas[r.Antenna]
		if !ok || a.GatewayID == 0 || r.Reader != reader.Key {
			dropped++
			continue
		}
		ref := DefaultRSSIAt1m
		if rssiAt1m != nil {
			if v := rssiAt1m(a.GatewayID); v >= minRSSI && v < maxRSSI { // false for NaN
				ref = v
			}
		}
		rssi := max(ref-shade(r.RSSI), minRSSI)
		ss = append(ss, wardwatch.Sighting{
			Time:      r.Time,
			GatewayID: a.GatewayID,
			TagID:     r.TagID(),
			RSSI:      rssi,
		})
	}
	return ss, dropped
}

// shade is how many dB weaker than the reference a read's sighting is.
func shade(readRSSI float64) float64 {
	if readRSSI == 0 || math.IsNaN(readRSSI) {
		return maxShadeDB / 2
	}
	f := (strongReadRSSI - readRSSI) / (strongReadRSSI - weakReadRSSI)
	return min(max(f, 0), 1) * maxShadeDB
}
