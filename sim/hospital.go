// Package sim is a simulated hospital that speaks WardWatch's real
// protocols, for the demo, benchmarks and end-to-end tests.
//
// Hospital is a fixed, deterministic layout: two ward floors of 60 × 14 m,
// each with patient rooms on both sides of a central corridor, a nurse
// station, clean and soiled utility rooms, a lift and stairs, BLE gateways
// on the ceilings, and tagged equipment (infusion pumps, wheelchairs, beds,
// monitors). Seed writes it into a config store; FloorPlanSVG draws its
// plans.
//
// Simulation moves the equipment between rooms and produces what each
// gateway hears, with a log-distance path-loss model and noise. Pusher
// sends that to a WardWatch server in the WardWatch batch format over HTTP
// (collectors/ble/FORMAT.md). The JSON is built here, independently of
// collectors/ble, so an end-to-end test exercises two implementations of
// the wire format against each other.
package sim

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

// Layout dimensions, in metres.
const (
	floorWidth  = 60.0
	floorHeight = 14.0

	buildingX0 = 2.0  // west outer wall
	buildingX1 = 58.0 // east outer wall
	northY0    = 0.75 // north outer wall
	corridorY0 = 5.75 // wall between the north rooms and the corridor
	corridorY1 = 8.25 // wall between the corridor and the south rooms
	southY1    = 13.25
	corridorCY = (corridorY0 + corridorY1) / 2 // corridor centreline
	slotWidth  = 4.0                           // room width along the corridor
	slots      = 14                            // room slots per side

	gatewayZ   = 2.7 // gateway mounting height
	gatewayRef = -59.0
	gatewayN   = 2.5
	tagZ       = 1.0 // tags sit about a metre above the floor on equipment
	tagTxPower = -59.0

	// HospitalUUID is the iBeacon proximity UUID of every tag of the
	// simulated hospital.
	HospitalUUID = "5b1e0a7c-3d2f-4e6a-9c1b-7a8d2e4f6c30"
)

// side says on which side of the corridor a zone lies.
type side int

const (
	sideNone  side = 0
	sideNorth side = -1 // rooms above the corridor (smaller y)
	sideSouth side = 1  // rooms below the corridor (larger y)
)

// zoneDef is a zone of the layout: an axis-aligned rectangle with, for
// rooms off the corridor, a door gap in the corridor wall.
type zoneDef struct {
	name   string
	kind   wardwatch.ZoneKind
	rect   floorplan.Rect
	side   side
	doorX0 float64 // door gap along the corridor wall
	doorX1 float64
	label  []string // lines of the plan label
}

func (z *zoneDef) polygon() []wardwatch.Point {
	return floorplan.Rectangle(z.rect.Min.X, z.rect.Min.Y, z.rect.Max.X-z.rect.Min.X, z.rect.Max.Y-z.rect.Min.Y)
}

// wallY is the y of the zone's wall onto the corridor.
func (z *zoneDef) wallY() float64 {
	if z.side == sideNorth {
		return z.rect.Max.Y
	}
	return z.rect.Min.Y
}

func (z *zoneDef) doorX() float64 { return (z.doorX0 + z.doorX1) / 2 }

// insideDoor is a point just inside the room, in front of its door.
func (z *zoneDef) insideDoor() wardwatch.Point {
	return wardwatch.Point{X: z.doorX(), Y: z.wallY() + float64(z.side)*0.6}
}

// corridorDoor is the point on the corridor centreline in front of the door.
func (z *zoneDef) corridorDoor() wardwatch.Point {
	return wardwatch.Point{X: z.doorX(), Y: corridorCY}
}

// centre is the middle of the zone.
func (z *zoneDef) centre() wardwatch.Point {
	return wardwatch.Point{X: (z.rect.Min.X + z.rect.Max.X) / 2, Y: (z.rect.Min.Y + z.rect.Max.Y) / 2}
}

// dwellArea is where equipment may rest in the zone: 0.5 m off the walls
// and at least 1.2 m away from the corridor wall, so never in the doorway.
func (z *zoneDef) dwellArea() floorplan.Rect {
	r := floorplan.Rect{
		Min: wardwatch.Point{X: z.rect.Min.X + 0.5, Y: z.rect.Min.Y + 0.5},
		Max: wardwatch.Point{X: z.rect.Max.X - 0.5, Y: z.rect.Max.Y - 0.5},
	}
	switch z.side {
	case sideNorth:
		r.Max.Y = z.rect.Max.Y - 1.2
	case sideSouth:
		r.Min.Y = z.rect.Min.Y + 1.2
	}
	return r
}

// dwellable reports whether equipment parks in zones of this kind.
func (z *zoneDef) dwellable() bool {
	switch z.kind {
	case wardwatch.ZoneRoom, wardwatch.ZoneCleanUtility, wardwatch.ZoneSoiledUtility, wardwatch.ZoneNurseStation:
		return true
	}
	return false
}

type gatewayDef struct {
	key  string
	name string
	at   wardwatch.Point
}

type floorDef struct {
	name     string
	level    int
	ward     string
	zones    []zoneDef
	gateways []gatewayDef
	lift     int // index of the lift zone
}

type assetDef struct {
	name   string
	kind   wardwatch.AssetKind
	tagID  string
	floor  int    // home floor index
	home   int    // home zone index on the home floor
	serial string // infusion pumps: the serial the simulated pump server reports

	// Label data of pumps and monitors: the UDI (GS1, under GS1 US's
	// example company prefix 0614141, so no real product's), make and
	// model; beds and wheelchairs have none, as on many real wards.
	udi, manufacturer, model string
}

// Demo device identifiers: GTIN-14s with their check digits.
const (
	gtinVolumetricPump = "00614141200108"
	gtinSyringePump    = "00614141200504"
	gtinMonitor        = "00614141301003"
)

// Hospital is the deterministic layout of the demo hospital. Only the
// gateways' push tokens differ between two Hospitals: they are random per
// NewHospital, so they are never known outside the process.
type Hospital struct {
	floors      []floorDef
	assets      []assetDef
	tokenSecret []byte
}

// NewHospital builds the demo hospital: wards 4B (level 4) and 5B (level
// 5), each with 22 patient rooms, 10 gateways and 20 tagged assets.
func NewHospital() *Hospital {
	h := &Hospital{tokenSecret: make([]byte, 32)}
	_, _ = rand.Read(h.tokenSecret) // crypto/rand.Read never fails
	for i, level := range []int{4, 5} {
		h.floors = append(h.floors, newFloor(i, level, strconv.Itoa(level)+"B"))
	}
	minor := 0
	for fi := range h.floors {
		h.addAssets(fi, &minor)
	}
	return h
}

// newFloor lays out one ward floor. North side, west to east: six patient
// rooms, the lift, the stairs, six patient rooms. South side: six patient
// rooms, the nurse station (two slots, open to the corridor), clean
// utility, soiled utility, four patient rooms.
func newFloor(index, level int, ward string) floorDef {
	f := floorDef{
		name:  fmt.Sprintf("Level %d — Ward %s", level, ward),
		level: level,
		ward:  ward,
	}
	slotX := func(i int) float64 { return buildingX0 + float64(i)*slotWidth }
	room := func(s side, slot, width int, name string, kind wardwatch.ZoneKind, door float64, label ...string) zoneDef {
		x0 := slotX(slot)
		w := float64(width) * slotWidth
		y0, y1 := northY0, corridorY0
		if s == sideSouth {
			y0, y1 = corridorY1, southY1
		}
		if len(label) == 0 {
			label = []string{name}
		}
		// Doors sit off-centre, away from the room's east wall: beds come
		// in past the foot end.
		d0 := x0 + w/2 + 0.2
		if kind != wardwatch.ZoneRoom {
			d0 = x0 + (w-door)/2
		}
		return zoneDef{
			name: name, kind: kind, side: s, label: label,
			rect:   floorplan.Rect{Min: wardwatch.Point{X: x0, Y: y0}, Max: wardwatch.Point{X: x0 + w, Y: y1}},
			doorX0: d0, doorX1: d0 + door,
		}
	}
	roomNo := func(n int) string { return fmt.Sprintf("%s-%02d", ward, n) }

	// North: odd room numbers; south: even ones, both west to east.
	north := 0
	for slot := 0; slot < slots; slot++ {
		switch slot {
		case 6:
			f.lift = len(f.zones)
			f.zones = append(f.zones, room(sideNorth, slot, 1, ward+" Lift", wardwatch.ZoneLift, 1.6, "Lift"))
		case 7:
			f.zones = append(f.zones, room(sideNorth, slot, 1, ward+" Stairs", wardwatch.ZoneStairs, 1.2, "Stairs"))
		default:
			north++
			f.zones = append(f.zones, room(sideNorth, slot, 1, roomNo(2*north-1), wardwatch.ZoneRoom, 1.2))
		}
	}
	south := 0
	for slot := 0; slot < slots; slot++ {
		switch slot {
		case 6:
			f.zones = append(f.zones, room(sideSouth, slot, 2, ward+" Nurse station", wardwatch.ZoneNurseStation, 5.0, "Nurse", "station"))
		case 7: // second slot of the nurse station
		case 8:
			f.zones = append(f.zones, room(sideSouth, slot, 1, ward+" Clean utility", wardwatch.ZoneCleanUtility, 1.2, "Clean", "utility"))
		case 9:
			f.zones = append(f.zones, room(sideSouth, slot, 1, ward+" Soiled utility", wardwatch.ZoneSoiledUtility, 1.2, "Soiled", "utility"))
		default:
			south++
			f.zones = append(f.zones, room(sideSouth, slot, 1, roomNo(2*south), wardwatch.ZoneRoom, 1.2))
		}
	}
	f.zones = append(f.zones, zoneDef{
		name: ward + " Corridor", kind: wardwatch.ZoneCorridor, label: []string{"Corridor"},
		rect: floorplan.Rect{Min: wardwatch.Point{X: buildingX0, Y: corridorY0}, Max: wardwatch.Point{X: buildingX1, Y: corridorY1}},
	})

	// Gateways: three on the corridor ceiling, seven in rooms spread over
	// both sides, so every point of the floor hears several.
	add := func(name string, at wardwatch.Point) {
		f.gateways = append(f.gateways, gatewayDef{
			key:  fmt.Sprintf("f%d-gw-%02d", index+1, len(f.gateways)+1),
			name: name,
			at:   at,
		})
	}
	for _, x := range []float64{12, 30, 48} {
		add(fmt.Sprintf("%s corridor at %gm", ward, x), wardwatch.Point{X: x, Y: corridorCY})
	}
	for _, name := range []string{roomNo(3), roomNo(9), roomNo(15), roomNo(21), roomNo(4), ward + " Nurse station", roomNo(18)} {
		z := f.zone(name)
		add(name, z.centre())
	}
	return f
}

func (f *floorDef) zone(name string) *zoneDef {
	for i := range f.zones {
		if f.zones[i].name == name {
			return &f.zones[i]
		}
	}
	panic("sim: layout has no zone " + name) // a bug in newFloor, never input
}

func (f *floorDef) zoneIndex(name string) int {
	for i := range f.zones {
		if f.zones[i].name == name {
			return i
		}
	}
	panic("sim: layout has no zone " + name) // a bug in newFloor, never input
}

// addAssets adds floor fi's equipment: 8 beds, 6 infusion pumps, 3
// wheelchairs and 3 monitors, each with an iBeacon tag whose major is the
// floor's level and whose minor is the asset's number in the hospital.
func (h *Hospital) addAssets(fi int, minor *int) {
	f := &h.floors[fi]
	add := func(name string, kind wardwatch.AssetKind, home string) {
		*minor++
		h.assets = append(h.assets, assetDef{
			name:  name,
			kind:  kind,
			tagID: fmt.Sprintf("ibeacon:%s:%d:%d", HospitalUUID, f.level, *minor),
			floor: fi,
			home:  f.zoneIndex(home),
		})
	}
	room := func(n int) string { return fmt.Sprintf("%s-%02d", f.ward, n) }
	for _, n := range []int{1, 4, 7, 9, 12, 15, 18, 21} {
		add("Bed "+room(n), wardwatch.AssetBed, room(n))
	}
	pumpHomes := []string{f.ward + " Clean utility", f.ward + " Clean utility", f.ward + " Clean utility", room(5), room(12), room(17)}
	for i, home := range pumpHomes {
		add(fmt.Sprintf("Pump %02d%02d", f.level, 10+i), wardwatch.AssetInfusionPump, home)
		// The serial and model the simulated pump server reports
		// (sim/snmpsim: every third pump is a syringe driver), and a UDI
		// carrying that serial, made the year before the ward opened.
		a := &h.assets[len(h.assets)-1]
		a.serial = fmt.Sprintf("SIM-%02d%02d", f.level, 10+i)
		a.manufacturer, a.model = "Harbourline Medical", "Volumetric LVP-200"
		gtin := gtinVolumetricPump
		if i%3 == 2 {
			a.model, gtin = "Syringe SP-50", gtinSyringePump
		}
		a.udi = fmt.Sprintf("(01)%s(11)%02d%02d%02d(21)%s", gtin, 19+f.level, 1+2*i, 10+i, a.serial)
	}
	chairHomes := []string{f.ward + " Nurse station", f.ward + " Nurse station", f.ward + " Soiled utility"}
	for i, home := range chairHomes {
		add(fmt.Sprintf("Wheelchair %02d", fi*len(chairHomes)+i+1), wardwatch.AssetWheelchair, home)
	}
	monitorHomes := []string{room(2), room(11), room(20)}
	for i, home := range monitorHomes {
		add(fmt.Sprintf("Monitor M-%02d", fi*len(monitorHomes)+i+1), wardwatch.AssetMonitor, home)
		a := &h.assets[len(h.assets)-1]
		a.udi = fmt.Sprintf("(01)%s(10)CM%d%02d", gtinMonitor, 2300+f.level, i+1)
		a.manufacturer, a.model = "Corvane Patient Monitoring", "CM-7"
	}
}

// Floors is the number of floors.
func (h *Hospital) Floors() int { return len(h.floors) }

// GatewayKeys returns the keys of every gateway, floor by floor.
func (h *Hospital) GatewayKeys() []string {
	var keys []string
	for _, f := range h.floors {
		for _, g := range f.gateways {
			keys = append(keys, g.key)
		}
	}
	return keys
}

// Tokens returns the push token of every gateway, by key. Tokens are
// random per Hospital (derived from a secret drawn in NewHospital).
func (h *Hospital) Tokens() map[string]string {
	m := make(map[string]string)
	for _, key := range h.GatewayKeys() {
		m[key] = h.token(key)
	}
	return m
}

func (h *Hospital) token(key string) string {
	mac := hmac.New(sha256.New, h.tokenSecret)
	mac.Write([]byte("wardwatch-sim-gateway-token:" + key))
	return hex.EncodeToString(mac.Sum(nil)[:20])
}

func (h *Hospital) tokenHash(key string) []byte {
	sum := sha256.Sum256([]byte(h.token(key)))
	return sum[:]
}

// Seeder is the part of the config store that Seed writes to; the store
// in sql/ implements it.
type Seeder interface {
	CreateFloor(ctx context.Context, f *wardwatch.Floor) error
	SetFloorPlan(ctx context.Context, floorID int64, p wardwatch.FloorPlan) error
	CreateZone(ctx context.Context, z *wardwatch.Zone) error
	CreateGateway(ctx context.Context, g *wardwatch.Gateway) error
	CreateAsset(ctx context.Context, a *wardwatch.Asset) error
	CreateTag(ctx context.Context, t wardwatch.Tag) error
}

// Building is the demo hospital's building name.
const Building = "Main"

// careUnitOf is the care unit of a zone of ward's floor: the ward, except
// for the shared lift, stairs and corridor, which belong to none.
func careUnitOf(ward string, k wardwatch.ZoneKind) string {
	switch k {
	case wardwatch.ZoneLift, wardwatch.ZoneStairs, wardwatch.ZoneCorridor:
		return ""
	}
	return ward
}

// Seed writes the hospital into s: floors in index order (so their IDs
// ascend with the index Truth reports), each with its plan, zones and
// gateways (with the hashes of Tokens), then the assets and their tags.
// Seeding a store that already holds the hospital fails on the first
// duplicate the store refuses, or duplicates it; callers check first.
func (h *Hospital) Seed(ctx context.Context, s Seeder) error {
	for fi := range h.floors {
		f := &h.floors[fi]
		wf := wardwatch.Floor{Name: f.name, Building: Building, Level: f.level, Width: floorWidth, Height: floorHeight}
		if err := s.CreateFloor(ctx, &wf); err != nil {
			return fmt.Errorf("seed floor %q: %w", f.name, err)
		}
		plan := wardwatch.FloorPlan{ContentType: "image/svg+xml", Data: h.FloorPlanSVG(fi)}
		if err := s.SetFloorPlan(ctx, wf.ID, plan); err != nil {
			return fmt.Errorf("seed plan of floor %q: %w", f.name, err)
		}
		for zi := range f.zones {
			z := &f.zones[zi]
			wz := wardwatch.Zone{FloorID: wf.ID, Name: z.name, Kind: z.kind, Polygon: z.polygon(), CareUnit: careUnitOf(f.ward, z.kind)}
			if err := s.CreateZone(ctx, &wz); err != nil {
				return fmt.Errorf("seed zone %q: %w", z.name, err)
			}
		}
		for _, g := range f.gateways {
			wg := wardwatch.Gateway{
				Key: g.key, Name: g.name, FloorID: wf.ID, At: g.at, Z: gatewayZ,
				RSSIAt1m: gatewayRef, PathLossExponent: gatewayN,
				TokenHash: h.tokenHash(g.key),
			}
			if err := s.CreateGateway(ctx, &wg); err != nil {
				return fmt.Errorf("seed gateway %q: %w", g.key, err)
			}
		}
	}
	for _, a := range h.assets {
		wa := wardwatch.Asset{Name: a.name, Kind: a.kind, Serial: a.serial, UDI: a.udi, Manufacturer: a.manufacturer, Model: a.model}
		if err := s.CreateAsset(ctx, &wa); err != nil {
			return fmt.Errorf("seed asset %q: %w", a.name, err)
		}
		if err := s.CreateTag(ctx, wardwatch.Tag{ID: a.tagID, AssetID: wa.ID}); err != nil {
			return fmt.Errorf("seed tag of asset %q: %w", a.name, err)
		}
	}
	return nil
}

// TokenSetter is the part of the config store ResetTokens needs; the store
// in sql/ implements it.
type TokenSetter interface {
	GatewayByKey(ctx context.Context, key string) (wardwatch.Gateway, error)
	SetGatewayToken(ctx context.Context, id int64, tokenHash []byte) error
}

// ResetTokens gives the gateways of an already seeded store this
// Hospital's tokens (the demo restarting on its old database needs this,
// since tokens are random per Hospital).
func (h *Hospital) ResetTokens(ctx context.Context, s TokenSetter) error {
	for _, key := range h.GatewayKeys() {
		g, err := s.GatewayByKey(ctx, key)
		if err != nil {
			return fmt.Errorf("reset token of gateway %q: %w", key, err)
		}
		if err := s.SetGatewayToken(ctx, g.ID, h.tokenHash(key)); err != nil {
			return fmt.Errorf("reset token of gateway %q: %w", key, err)
		}
	}
	return nil
}

// dist3 is the distance between a gateway at g (height gatewayZ) and a tag
// at p (height tagZ).
func dist3(g, p wardwatch.Point) float64 {
	d := floorplan.Distance(g, p)
	return math.Sqrt(d*d + (gatewayZ-tagZ)*(gatewayZ-tagZ))
}
