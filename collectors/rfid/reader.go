package rfid

import (
	"context"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Reader is a fixed UHF RFID reader as WardWatch configures it.
type Reader struct {
	// Key is the identifier the reader pushes under
	// (POST /ingest/v1/readers/{reader}/reads), for example "dock-1".
	Key string
	// TokenHash is the SHA-256 of the reader's push token; a reader
	// without one (nil, or not 32 bytes) cannot push.
	TokenHash []byte
	// Antennas maps each used antenna port to the gateway that stands for
	// it in the location engine. Reads from other ports are dropped (and
	// counted) by ToSightings.
	Antennas map[int]Antenna
	// Portal, when not nil, makes the reader a door portal: its reads
	// also drive a PortalTracker.
	Portal *Portal
	// Format, when set, is the format the reader pushes; "" lets the push
	// handler take it from the request or detect it.
	Format Format
}

// Antenna is where one antenna's reads place a tag: the gateway that
// stands for the antenna (declared as a room anchor of ZoneID,
// wardwatch.Gateway.AnchorZoneID) and that zone.
type Antenna struct {
	GatewayID int64
	ZoneID    int64
}

// Portal is a door watched by a reader: antennas that read tags on the
// inside of the door and antennas that read them on the outside. A tag
// whose reads move from one set to the other crosses the door (see
// PortalTracker).
type Portal struct {
	Inside      []int // antenna ports facing the inside zone
	Outside     []int // antenna ports facing the outside zone
	InsideZone  int64
	OutsideZone int64
	// Window is the longest silence within one pass through the door: a
	// tag not read for longer has left the portal, and its pass is
	// decided. 0: DefaultPortalWindow.
	Window time.Duration
	// MinInterval is the shortest time between two crossings of one tag
	// through this door; a crossing sooner than that after the previous
	// one is suppressed (counted). 0: DefaultPortalMinInterval; negative:
	// no minimum.
	MinInterval time.Duration
}

// Portal defaults.
const (
	DefaultPortalWindow      = 3 * time.Second
	DefaultPortalMinInterval = 5 * time.Second
)

// ReaderLookup finds a reader by its key. It returns an error with code
// ENOTFOUND when there is no such reader, EUNAVAILABLE when the store is
// down.
type ReaderLookup interface {
	ReaderByKey(ctx context.Context, key string) (Reader, error)
}

// Sink takes accepted reads (a *Router, or whatever the lead wires). An
// error with code EUNAVAILABLE means "overloaded or down, retry later".
type Sink interface {
	SubmitReads(ctx context.Context, reads []Read) error
}

// SightingSink takes sightings for the location engine (the same method
// as the BLE collector's Sink and tracker.Runner.Submit).
type SightingSink interface {
	Submit(ctx context.Context, ss []wardwatch.Sighting) error
}

// ZoneChangeSink takes door crossings detected by portals. The changes
// carry TagID, FromZone, ToZone and Time; AssetID and FloorID are 0 (the
// receiver fills them in from the tag and zone).
type ZoneChangeSink interface {
	SubmitZoneChanges(ctx context.Context, zcs []wardwatch.ZoneChange) error
}
