package modbussim

import (
	"fmt"
	"math"
	"time"
)

// Kind is what a simulated device is, and so which register layout it
// serves. Each layout is the one of a collectors/modbus built-in profile.
type Kind string

// Simulated device kinds.
const (
	// KindVaccineFridge is a refrigeration controller (profile
	// fridge-controller) holding ≈5 °C: compressor cycling, door openings
	// that warm the cabinet, and a rare excursion above 8 °C.
	KindVaccineFridge Kind = "vaccine_fridge"
	// KindFreezer is the same controller holding ≈ −20 °C.
	KindFreezer Kind = "freezer"
	// KindRoomTransmitter is a float32 temperature/humidity transmitter
	// (profile th-transmitter-float), e.g. in a controlled-room-temperature
	// store: ≈22 °C, ≈45 %RH.
	KindRoomTransmitter Kind = "room_transmitter"
	// KindRoomTransmitterInt is the same room read by an int16 transmitter
	// (profile th-transmitter-int).
	KindRoomTransmitterInt Kind = "room_transmitter_int"
	// KindPressureMonitor is a room pressure monitor (profile
	// room-pressure-monitor): an isolation room (negative Setpoint) or an
	// operating or protective-environment room (positive), whose pressure
	// collapses while its door is open and, rarely, for minutes.
	KindPressureMonitor Kind = "pressure_monitor"
	// KindStatic serves the fixed register image in the SimDevice, from
	// address 0 of each table: for commissioning and tests.
	KindStatic Kind = "static"
)

// SimDevice is one simulated device behind the server.
type SimDevice struct {
	UnitID byte
	Name   string // for people; not on the wire
	Kind   Kind
	// Setpoint is the temperature a fridge or freezer holds (°C), or a
	// pressure monitor's room pressure (Pa, negative for isolation rooms).
	// 0 means the kind's default: 5 °C, −20 °C, +8 Pa.
	Setpoint float64
	// The register image of a KindStatic device, each table from
	// address 0; reads past its end are answered with exception 2.
	Coils            []bool
	DiscreteInputs   []bool
	HoldingRegisters []uint16
	InputRegisters   []uint16
}

// DemoDevices are the demo hospital's Modbus devices, unit ids 1–10: the
// vaccine fridges of both ward clean utilities and the pharmacy, two
// freezers, the pharmacy's controlled-room-temperature store, and the
// pressure monitors of two isolation rooms, a protective-environment room
// and an operating room. Use them with the built-in profiles named in
// Profile.
func DemoDevices() []SimDevice {
	return []SimDevice{
		{UnitID: 1, Name: "4B Clean utility vaccine fridge", Kind: KindVaccineFridge},
		{UnitID: 2, Name: "5B Clean utility vaccine fridge", Kind: KindVaccineFridge},
		{UnitID: 3, Name: "Pharmacy vaccine fridge", Kind: KindVaccineFridge, Setpoint: 4.5},
		{UnitID: 4, Name: "Pharmacy freezer", Kind: KindFreezer},
		{UnitID: 5, Name: "Lab plasma freezer", Kind: KindFreezer, Setpoint: -25},
		{UnitID: 6, Name: "Pharmacy CRT store", Kind: KindRoomTransmitter},
		{UnitID: 7, Name: "4B-01 isolation room", Kind: KindPressureMonitor, Setpoint: -8},
		{UnitID: 8, Name: "5B-01 isolation room", Kind: KindPressureMonitor, Setpoint: -6},
		{UnitID: 9, Name: "5B-02 protective environment room", Kind: KindPressureMonitor, Setpoint: 8},
		{UnitID: 10, Name: "Theatre 1", Kind: KindPressureMonitor, Setpoint: 10},
	}
}

// Profile names the collectors/modbus built-in profile whose layout a kind
// serves ("" for KindStatic).
func (k Kind) Profile() string {
	switch k {
	case KindVaccineFridge, KindFreezer:
		return "fridge-controller"
	case KindRoomTransmitter:
		return "th-transmitter-float"
	case KindRoomTransmitterInt:
		return "th-transmitter-int"
	case KindPressureMonitor:
		return "room-pressure-monitor"
	}
	return ""
}

func (k Kind) valid() bool {
	return k == KindStatic || k.Profile() != ""
}

// table numbers follow the read function codes.
const (
	fcCoils    = 1
	fcDiscrete = 2
	fcHolding  = 3
	fcInput    = 4
)

// image is a device's registers at one moment.
type image interface {
	// register returns a holding (fc 3) or input (fc 4) register; ok is
	// false where the device has none (exception 2).
	register(fc byte, addr uint16) (v uint16, ok bool)
	// bit returns a coil (fc 1) or discrete input (fc 2).
	bit(fc byte, addr uint16) (v bool, ok bool)
}

// device is a SimDevice with its model.
type device struct {
	SimDevice
	seed uint64
}

// snapshot computes the device's registers at t. Every value is a pure
// function of the seed, the unit id and t, so a run is repeatable.
func (d *device) snapshot(t time.Time) image {
	switch d.Kind {
	case KindVaccineFridge, KindFreezer:
		return d.fridge(t)
	case KindRoomTransmitter, KindRoomTransmitterInt:
		return d.room(t)
	case KindPressureMonitor:
		return d.pressure(t)
	}
	return staticImage{&d.SimDevice}
}

// Noise: splitmix64 hashes of (seed, unit, stream, step).

func mix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}

// uniform is a number in [0, 1) fixed by the device, a stream and a step.
func (d *device) uniform(stream uint64, step int64) float64 {
	h := mix(d.seed ^ mix(uint64(d.UnitID)<<32|stream) ^ mix(uint64(step)))
	return float64(h>>11) / (1 << 53)
}

// smooth is value noise in [−1, 1] changing gradually over periods of p.
func (d *device) smooth(stream uint64, t time.Time, p time.Duration) float64 {
	x := float64(t.UnixNano()) / float64(p)
	k := math.Floor(x)
	f := x - k
	f = f * f * (3 - 2*f)
	a := 2*d.uniform(stream, int64(k)) - 1
	b := 2*d.uniform(stream, int64(k)+1) - 1
	return a + (b-a)*f
}

// phase is a fixed phase in [0, 2π) per device and stream.
func (d *device) phase(stream uint64) float64 { return 2 * math.Pi * d.uniform(stream, -1) }

// Noise streams.
const (
	streamCycle = iota + 1
	streamDrift
	streamDoor
	streamDoorStart
	streamDoorLen
	streamExcursion
	streamExcursionStart
	streamRH
	streamACH
)

// doorEvent is an opening of the door in minute m, if there is one: it
// starts within the minute and lasts between minLen and maxLen.
func (d *device) doorEvent(m int64, p float64, minLen, maxLen time.Duration) (start, end time.Time, ok bool) {
	if d.uniform(streamDoor, m) >= p {
		return time.Time{}, time.Time{}, false
	}
	start = time.Unix(m*60, 0).Add(time.Duration(d.uniform(streamDoorStart, m) * 40 * float64(time.Second)))
	end = start.Add(minLen + time.Duration(d.uniform(streamDoorLen, m)*float64(maxLen-minLen)))
	return start, end, true
}

// excursion is the rare event of hour h: the fraction (0…1…0) of its
// peak it has reached at t, 0 outside it. It ramps up over rise and back
// down over the same time.
func (d *device) excursion(t time.Time, p float64, rise time.Duration) float64 {
	h := t.Unix() / 3600
	for _, hh := range []int64{h, h - 1} {
		if d.uniform(streamExcursion, hh) >= p {
			continue
		}
		start := time.Unix(hh*3600, 0).Add(time.Duration(d.uniform(streamExcursionStart, hh) * 30 * float64(time.Minute)))
		e := t.Sub(start)
		switch {
		case e < 0 || e > 2*rise:
			continue
		case e <= rise:
			return float64(e) / float64(rise)
		default:
			return float64(2*rise-e) / float64(rise)
		}
	}
	return 0
}

// Fridge and freezer model constants.
const (
	fridgeDoorP        = 0.03 // chance per minute of a door opening: about two an hour
	fridgeExcursionP   = 0.02 // chance per hour of an excursion: about one in two days
	fridgeWarmTau      = 60.0 // s: the cabinet warms toward the room while the door is open
	fridgeRecoverTau   = 300.0
	fridgeDoorLookback = 30 // minutes of past openings still warming the cabinet
)

// fridgeImage is the fridge-controller layout: holding 256 cabinet, 257
// evaporator (int16, 0.1 °C), 300 status (bit 0 compressor, bit 3 door),
// coils 512–515 relays (compressor, defrost, fans, light), 528 alarm.
type fridgeImage struct {
	cabinet, evaporator float64
	door, compressor    bool
	alarm               bool
}

func (d *device) fridge(t time.Time) image {
	set, swing, warm, peak := 5.0, 0.4, 4.0, 5.0
	if d.Kind == KindFreezer {
		set, swing, warm, peak = -20, 1.0, 6, 10
	}
	if d.Setpoint != 0 {
		set = d.Setpoint
	}
	cycle := math.Sin(2*math.Pi*float64(t.UnixNano())/float64(20*time.Minute) + d.phase(streamCycle))
	temp := set + swing*cycle + 0.15*d.smooth(streamDrift, t, 5*time.Minute)
	door := false
	m := t.Unix() / 60
	for k := m - fridgeDoorLookback; k <= m; k++ {
		start, end, ok := d.doorEvent(k, fridgeDoorP, 10*time.Second, 60*time.Second)
		if !ok || t.Before(start) {
			continue
		}
		until := t
		if end.Before(t) {
			until = end
		}
		open := until.Sub(start).Seconds()
		rise := warm * (1 - math.Exp(-open/fridgeWarmTau))
		if t.Before(end) {
			door = true
		} else {
			rise *= math.Exp(-t.Sub(end).Seconds() / fridgeRecoverTau)
		}
		temp += rise
	}
	temp += peak * d.excursion(t, fridgeExcursionP, 20*time.Minute)
	return fridgeImage{
		cabinet:    temp,
		evaporator: temp - 8 + 0.3*d.smooth(streamDrift+100, t, time.Minute),
		door:       door,
		compressor: cycle < 0,
		alarm:      temp > set+3 || temp < set-3,
	}
}

func (f fridgeImage) register(fc byte, addr uint16) (uint16, bool) {
	if fc != fcHolding || addr < 256 || addr > 300 {
		return 0, false
	}
	switch addr {
	case 256:
		return tenths(f.cabinet), true
	case 257:
		return tenths(f.evaporator), true
	case 300:
		var s uint16
		if f.compressor {
			s |= 1 << 0
		}
		if f.door {
			s |= 1 << 3
		}
		if f.alarm {
			s |= 1 << 7
		}
		return s, true
	}
	return 0, true
}

func (f fridgeImage) bit(fc byte, addr uint16) (bool, bool) {
	if fc != fcCoils || addr < 512 || addr > 528 {
		return false, false
	}
	switch addr {
	case 512:
		return f.compressor, true
	case 515:
		return f.door, true // cabinet light follows the door
	case 528:
		return f.alarm, true
	}
	return false, true
}

// tenths encodes v as int16 tenths.
func tenths(v float64) uint16 { return uint16(int16(clamp(math.Round(v*10), -32767, 32766))) }

func clamp(v, lo, hi float64) float64 { return max(lo, min(hi, v)) }

// roomImage is a room transmitter: the th-transmitter-float layout
// (holding 0–1 RH, 2–3 T as float32 low word first, 512 status) or, for
// KindRoomTransmitterInt, the th-transmitter-int layout (input 0x12C T,
// 0x12D RH, int16 hundredths).
type roomImage struct {
	integer bool
	temp    float64
	rh      float64
}

func (d *device) room(t time.Time) image {
	day := 2 * math.Pi * float64(t.UnixNano()) / float64(24*time.Hour)
	return roomImage{
		integer: d.Kind == KindRoomTransmitterInt,
		temp:    22 + 1.0*math.Sin(day+d.phase(streamCycle)) + 0.2*d.smooth(streamDrift, t, 10*time.Minute),
		rh:      45 + 5*math.Sin(day+d.phase(streamRH)) + 1.5*d.smooth(streamRH, t, 10*time.Minute),
	}
}

func (r roomImage) register(fc byte, addr uint16) (uint16, bool) {
	if r.integer {
		if fc != fcInput || addr < 0x12C || addr > 0x12F {
			return 0, false
		}
		switch addr {
		case 0x12C:
			return uint16(int16(math.Round(r.temp * 100))), true
		case 0x12D:
			return uint16(int16(math.Round(r.rh * 100))), true
		}
		return 0, true
	}
	if fc != fcHolding {
		return 0, false
	}
	switch {
	case addr <= 3:
		v := r.rh
		if addr >= 2 {
			v = r.temp
		}
		bits := math.Float32bits(float32(v))
		if addr%2 == 0 {
			return uint16(bits), true // CDAB: low word first
		}
		return uint16(bits >> 16), true
	case addr <= 15, addr >= 256 && addr <= 263:
		return 0, true
	case addr >= 512 && addr <= 519:
		if addr == 513 {
			return 1, true // "online"
		}
		return 0, true
	}
	return 0, false
}

func (roomImage) bit(byte, uint16) (bool, bool) { return false, false }

// Pressure monitor model constants.
const (
	pressureDoorP      = 0.05 // about three openings an hour
	pressureExcursionP = 0.02 // a loss of pressure about every two days
)

// pressureImage is the room-pressure-monitor layout: input registers 0
// pressure (int16, 1/10000 inH2O), 2 ACH ×10, 3 RH %, 4 °F ×10, 7 door
// (1 closed, 2 open), 0–14 readable.
type pressureImage struct {
	pa, ach, rh, tempF float64
	door               bool
}

func (d *device) pressure(t time.Time) image {
	set := 8.0
	if d.Setpoint != 0 {
		set = d.Setpoint
	}
	p := set + 0.4*d.smooth(streamDrift, t, 30*time.Second)
	door := false
	m := t.Unix() / 60
	for _, k := range []int64{m - 1, m} {
		if start, end, ok := d.doorEvent(k, pressureDoorP, 5*time.Second, 20*time.Second); ok && !t.Before(start) && t.Before(end) {
			door = true
		}
	}
	if door {
		p *= 0.15
	}
	// A fan failure: the room drifts to 30 % of its pressure the wrong way.
	p -= 1.3 * set * d.excursion(t, pressureExcursionP, 5*time.Minute)
	return pressureImage{
		pa:    p,
		ach:   14 + 1.5*d.smooth(streamACH, t, 10*time.Minute),
		rh:    42 + 4*d.smooth(streamRH, t, 30*time.Minute),
		tempF: 71 + 1.5*d.smooth(streamCycle, t, 30*time.Minute),
		door:  door,
	}
}

func (p pressureImage) register(fc byte, addr uint16) (uint16, bool) {
	if fc != fcInput || addr > 14 {
		return 0, false
	}
	switch addr {
	case 0:
		inH2O := p.pa / 249.08891
		return uint16(int16(clamp(math.Round(inH2O*10000), -32767, 32767))), true
	case 2:
		return uint16(math.Round(p.ach * 10)), true
	case 3:
		return uint16(math.Round(p.rh)), true
	case 4:
		return tenths(p.tempF), true
	case 7:
		if p.door {
			return 2, true
		}
		return 1, true
	}
	return 0, true
}

func (pressureImage) bit(byte, uint16) (bool, bool) { return false, false }

// staticImage serves a SimDevice's fixed tables.
type staticImage struct{ d *SimDevice }

func (s staticImage) register(fc byte, addr uint16) (uint16, bool) {
	t := s.d.HoldingRegisters
	if fc == fcInput {
		t = s.d.InputRegisters
	}
	if int(addr) >= len(t) {
		return 0, false
	}
	return t[addr], true
}

func (s staticImage) bit(fc byte, addr uint16) (bool, bool) {
	t := s.d.Coils
	if fc == fcDiscrete {
		t = s.d.DiscreteInputs
	}
	if int(addr) >= len(t) {
		return false, false
	}
	return t[addr], true
}

// check validates a SimDevice.
func (d SimDevice) check() error {
	if !d.Kind.valid() {
		return fmt.Errorf("modbussim: device %d (%s): unknown kind %q", d.UnitID, d.Name, d.Kind)
	}
	for _, n := range []int{len(d.Coils), len(d.DiscreteInputs), len(d.HoldingRegisters), len(d.InputRegisters)} {
		if n > 65536 {
			return fmt.Errorf("modbussim: device %d (%s): a table is larger than 65536 entries", d.UnitID, d.Name)
		}
	}
	return nil
}
