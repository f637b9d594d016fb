// Package wardwatch holds WardWatch's domain: the types that flow from the
// collectors through the location engine to the stores and the web UI, the
// small interfaces the core needs, and the error codes every layer shares.
//
// It imports only the standard library. Adapters (sql/, influx/, web/,
// collectors/…) depend on it; it depends on none of them.
//
// Conventions: distances in metres, RSSI in dBm, times in UTC. Floor
// coordinates have their origin at the top-left corner of the floor plan,
// x to the right and y downwards, like the plan image.
package wardwatch

import (
	"sort"
	"strings"
	"time"
	"unicode"
)

// Point is a position on a floor, in metres from the plan's top-left corner.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Floor is one storey of a building, with the size of its plan in metres.
type Floor struct {
	ID       int64
	Name     string  // "Ward 4 — Level 2"
	Building string  // "Main", "East wing"; "" is the site's only (default) building
	Level    int     // storey number; 0 is the ground floor
	Width    float64 // metres
	Height   float64 // metres
}

// FloorPlan is the image drawn under a floor's live map. It spans the whole
// floor: (0,0) at its top-left corner, (Width,Height) at its bottom-right.
type FloorPlan struct {
	ContentType string // "image/svg+xml", "image/png"…
	Data        []byte
}

// ZoneKind says what a zone is for; alerts and workflows key on it.
type ZoneKind string

// Zone kinds known to WardWatch.
const (
	ZoneRoom          ZoneKind = "room"
	ZoneCorridor      ZoneKind = "corridor"
	ZoneCleanUtility  ZoneKind = "clean_utility"
	ZoneSoiledUtility ZoneKind = "soiled_utility"
	ZoneNurseStation  ZoneKind = "nurse_station"
	ZoneStairs        ZoneKind = "stairs"
	ZoneLift          ZoneKind = "lift"
	// ZoneCleanEquipment is a clean equipment room: equipment there is
	// available for use.
	ZoneCleanEquipment ZoneKind = "clean_equipment"
	ZoneOperatingRoom  ZoneKind = "operating_room"
	ZoneIsolation      ZoneKind = "isolation"
	ZoneExit           ZoneKind = "exit"
	ZoneLoadingDock    ZoneKind = "loading_dock"
	ZoneLinenHolding   ZoneKind = "linen_holding"
	ZoneTrashHolding   ZoneKind = "trash_holding"
	ZoneWorkshop       ZoneKind = "workshop" // biomed repair
	ZoneStorage        ZoneKind = "storage"
)

// ZoneKinds lists every zone kind with its name as users read it.
func ZoneKinds() []struct {
	Kind  ZoneKind
	Label string
} {
	return []struct {
		Kind  ZoneKind
		Label string
	}{
		{ZoneRoom, "Patient room"}, {ZoneCorridor, "Corridor"}, {ZoneNurseStation, "Nurse station"},
		{ZoneCleanUtility, "Clean utility"}, {ZoneSoiledUtility, "Soiled utility"},
		{ZoneCleanEquipment, "Clean equipment room"}, {ZoneStorage, "Storage"},
		{ZoneOperatingRoom, "Operating room"}, {ZoneIsolation, "Isolation room"},
		{ZoneExit, "Exit"}, {ZoneLoadingDock, "Loading dock"},
		{ZoneLinenHolding, "Linen holding"}, {ZoneTrashHolding, "Trash holding"},
		{ZoneWorkshop, "Biomed workshop"}, {ZoneStairs, "Stairs"}, {ZoneLift, "Lift"},
	}
}

// Valid reports whether k is a known zone kind.
func (k ZoneKind) Valid() bool {
	for _, z := range ZoneKinds() {
		if z.Kind == k {
			return true
		}
	}
	return false
}

// Zone is an area of a floor (a room, a corridor, a utility room) given as a
// simple polygon in floor metres.
type Zone struct {
	ID      int64
	FloorID int64
	Name    string // "4B-12"
	Kind    ZoneKind
	Polygon []Point // at least three vertices, not closed (first ≠ last)

	// CareUnit is the nursing or care unit (ward) the zone belongs to:
	// "4B", "ICU", "Pharmacy"; "" for none (corridors, plant rooms). See
	// CheckCareUnit for what it may hold.
	CareUnit string
}

// Gateway is a fixed receiver (a BLE gateway or RFID reader) at a known place.
type Gateway struct {
	ID      int64
	Key     string // external identifier the gateway reports itself by: a MAC or a name; unique
	Name    string
	FloorID int64
	At      Point   // position on its floor, metres
	Z       float64 // mounting height, metres above the floor

	// Radio calibration: the RSSI (dBm) this gateway reads from a 0 dBm
	// reference at 1 m, the path-loss exponent around it, and the offset
	// (dB) added to every RSSI it reports to make it read like a reference
	// receiver.
	RSSIAt1m         float64
	PathLossExponent float64
	RxOffset         float64

	// AnchorZoneID, when not 0, declares the gateway a room anchor: it
	// hangs inside that zone (a room), and a strong reading from it
	// decides the room whatever the solver says.
	AnchorZoneID int64

	// TokenHash is the SHA-256 of the gateway's push token; nil means the
	// gateway cannot push.
	TokenHash []byte
}

// AssetKind is the type of a tracked piece of equipment.
type AssetKind string

// Asset kinds known to WardWatch.
const (
	AssetInfusionPump AssetKind = "infusion_pump"
	AssetWheelchair   AssetKind = "wheelchair"
	AssetBed          AssetKind = "bed"
	AssetMonitor      AssetKind = "monitor"
	AssetVentilator   AssetKind = "ventilator"
	AssetOther        AssetKind = "other"
)

// Label is the kind's name as users read it.
func (k AssetKind) Label() string {
	switch k {
	case AssetInfusionPump:
		return "Infusion pump"
	case AssetWheelchair:
		return "Wheelchair"
	case AssetBed:
		return "Bed"
	case AssetMonitor:
		return "Monitor"
	case AssetVentilator:
		return "Ventilator"
	}
	return "Other"
}

// Valid reports whether k is a known asset kind.
func (k AssetKind) Valid() bool {
	switch k {
	case AssetInfusionPump, AssetWheelchair, AssetBed, AssetMonitor, AssetVentilator, AssetOther:
		return true
	}
	return false
}

// AssetStatus is an asset's readiness, set by staff or by zone rules
// (a pump taken to soiled utility becomes soiled).
type AssetStatus string

// Asset statuses.
const (
	StatusAvailable AssetStatus = "available"
	StatusInUse     AssetStatus = "in_use"
	StatusSoiled    AssetStatus = "soiled"
	StatusInRepair  AssetStatus = "in_repair"
)

// Valid reports whether s is a known status.
func (s AssetStatus) Valid() bool {
	switch s {
	case StatusAvailable, StatusInUse, StatusSoiled, StatusInRepair:
		return true
	}
	return false
}

// Label is the status as users read it.
func (s AssetStatus) Label() string {
	switch s {
	case StatusAvailable:
		return "Available"
	case StatusInUse:
		return "In use"
	case StatusSoiled:
		return "Soiled"
	case StatusInRepair:
		return "In repair"
	}
	return string(s)
}

// Asset is a tracked piece of equipment.
type Asset struct {
	ID       int64
	Name     string // "Pump 0412"
	Kind     AssetKind
	Status   AssetStatus // "" reads as available
	AssetTag string      // the hospital's asset (inventory) number
	Serial   string      // the manufacturer's serial number; pumps link by it
	PMDue    time.Time   // next preventive maintenance; zero: not scheduled

	// UDI is the Unique Device Identifier as printed on the label (its
	// human-readable form, see ParseUDI); "" when not known.
	UDI          string
	Manufacturer string // the make, "" when not known; see CheckManufacturer
	Model        string // the model as the manufacturer names it; see CheckModel
}

// Tag is a radio tag fixed to an asset. Its ID is the tag's stable identity,
// never a random MAC: "ibeacon:<uuid>:<major>:<minor>", "altbeacon:<40 hex>",
// "eddystone:<ns>:<inst>", "epc:<hex>", "mac:<12 hex>" for a configured
// static MAC, or a gateway's own opaque identity ("espresense:<id>",
// "mqtt_room:<id>") that an admin has assigned.
type Tag struct {
	ID      string
	AssetID int64
}

// Role is what a user may do.
type Role string

// Roles, from most to least privileged.
const (
	RoleAdmin      Role = "admin"
	RoleFacilities Role = "facilities"
	RolePharmacy   Role = "pharmacy"
	RoleBiomed     Role = "biomed"
	RoleNurse      Role = "nurse"
	RoleViewer     Role = "viewer"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleFacilities, RolePharmacy, RoleBiomed, RoleNurse, RoleViewer:
		return true
	}
	return false
}

// User is a person who signs in to the web UI.
type User struct {
	ID           int64
	Username     string
	Role         Role
	PasswordHash string
	CreatedAt    time.Time

	// Units are the care units the user is scoped to; empty: the whole
	// site. Scoping sets defaults (which alerts and records a user sees
	// first) and limits acting on monitored units of other care units;
	// reading stays site-wide, and admins are never limited.
	Units []string
}

// InScope reports whether unit is one of the user's care units, or the
// user is not scoped to any.
func (u User) InScope(unit string) bool {
	if len(u.Units) == 0 {
		return true
	}
	for _, x := range u.Units {
		if x == unit {
			return true
		}
	}
	return false
}

// Scoped reports whether the user's acting is limited to their care units:
// they have units and are not an admin.
func (u User) Scoped() bool { return len(u.Units) > 0 && u.Role != RoleAdmin }

// Session is a signed-in browser. Only the hash of its token is stored.
type Session struct {
	TokenHash  []byte
	UserID     int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // sliding: LastSeenAt + idle timeout, capped by the absolute lifetime
}

// Sighting is one gateway hearing one tag once.
type Sighting struct {
	Time      time.Time
	GatewayID int64
	TagID     string
	RSSI      float64 // dBm, as received
	TxPower   float64 // advertised RSSI at 1 m in dBm; 0 when the tag does not say
}

// TagState is what the engine can say about a tag's movement and freshness.
type TagState string

// Tag states, from freshest to oldest.
const (
	StateMoving     TagState = "moving"     // heard recently and moving
	StateStationary TagState = "stationary" // heard recently, not moving
	StateStale      TagState = "stale"      // not heard for a while: the position is the last known one
	StateMissing    TagState = "missing"    // not heard for long: location unknown
)

// Position is where the location engine places a tag at a moment.
type Position struct {
	TagID      string
	AssetID    int64
	FloorID    int64
	At         Point
	ZoneID     int64     // 0 when the tag is in no zone
	Confidence float64   // 0..1
	Solver     string    // which solver produced the fix: "centroid", "nearest"…
	State      TagState  // "" when the engine does not say
	Time       time.Time // when the tag was last heard for this fix
}

// Age is how old the position is at now.
func (p Position) Age(now time.Time) time.Duration { return now.Sub(p.Time) }

// ZoneChange records a tag leaving one zone for another (either may be 0:
// no zone).
type ZoneChange struct {
	TagID    string
	AssetID  int64
	FloorID  int64
	FromZone int64
	ToZone   int64
	Time     time.Time
}

// DiscoveredTag is a tag WardWatch hears that belongs to no asset: a new
// tag waiting to be assigned, or a stranger's beacon.
type DiscoveredTag struct {
	TagID     string
	FirstSeen time.Time
	LastSeen  time.Time
	GatewayID int64   // the gateway that heard it most recently (0: gone)
	RSSI      float64 // the strongest RSSI in the latest report, dBm
	Sightings int64
}

// GatewayHealth is what WardWatch knows of a gateway's traffic since it
// started.
type GatewayHealth struct {
	GatewayID int64
	LastSeen  time.Time // zero: not heard since WardWatch started
	Rate      float64   // messages per second over the last minute
	Messages  uint64    // messages (MQTT messages, pushed batches, polls) received
	Accepted  uint64    // sightings handed to the location engine
	Malformed uint64    // messages or items rejected as malformed
	Dropped   uint64    // well-formed items not used (unknown tag identity, random MAC…)
	Online    bool      // heard within the offline threshold
}

// AuditEntry records one change to WardWatch's configuration or to an
// alert, by a user (or by WardWatch itself when UserID is 0). Old and New
// are JSON snapshots of the subject before and after, with secrets left
// out. Entries are append-only.
type AuditEntry struct {
	ID        int64
	Time      time.Time
	UserID    int64
	Username  string
	Action    string // "create", "update", "delete", "assign", "acknowledge"…
	Subject   string // "gateway", "zone", "asset", "modbus_device", "snmp_target", "unit", "user", "tag"…
	SubjectID string
	Old       string
	New       string
	Reason    string
}

// AuditQuery selects audit entries, newest first: those of one subject
// kind (and ID) when set, older than BeforeID when set, at most Limit.
type AuditQuery struct {
	Subject   string
	SubjectID string
	BeforeID  int64
	Limit     int
}

// KioskToken lets a wall display show the floor maps read-only, without
// a user signing in: whoever holds the token's link sees what a viewer
// sees. Only its hash is stored; admins create and revoke them.
type KioskToken struct {
	ID        int64
	Name      string // "Ward 4 corridor screen"
	FloorID   int64  // the floor it opens on; 0: the floor list
	TokenHash []byte
	CreatedAt time.Time
}

// MaxCareUnitLen is the longest care unit name WardWatch accepts, in bytes.
const MaxCareUnitLen = 64

// CheckCareUnit trims a care unit name and checks it: at most
// MaxCareUnitLen characters of letters, digits, spaces and "-", "_", ".".
// "" (no care unit) is valid.
func CheckCareUnit(unit string) (string, error) {
	unit = strings.TrimSpace(unit)
	if len(unit) > MaxCareUnitLen {
		return "", Errorf(EINVALID, "care unit %.20q… is longer than %d characters", unit, MaxCareUnitLen)
	}
	for _, r := range unit {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && r != '-' && r != '_' && r != '.' {
			return "", Errorf(EINVALID, "care unit %q may hold only letters, digits, spaces and - _ .", unit)
		}
	}
	return unit, nil
}

// CheckCareUnits trims and checks each care unit of a user's scope, drops
// empty and repeated ones, and sorts them.
func CheckCareUnits(units []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, u := range units {
		c, err := CheckCareUnit(u)
		if err != nil {
			return nil, err
		}
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

// MaxBuildingLen is the longest building name WardWatch accepts, in bytes.
const MaxBuildingLen = 100

// CheckBuilding trims a floor's building name and checks its length and
// that it holds no control characters. "" (the default building) is valid.
func CheckBuilding(b string) (string, error) {
	b = strings.TrimSpace(b)
	if len(b) > MaxBuildingLen {
		return "", Errorf(EINVALID, "building name is longer than %d characters", MaxBuildingLen)
	}
	for _, r := range b {
		if unicode.IsControl(r) {
			return "", Errorf(EINVALID, "building name holds a control character")
		}
	}
	return b, nil
}
