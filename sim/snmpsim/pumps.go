package snmpsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Pump states as the example pump server's table codes them.
const (
	statusIdle     = 1
	statusInfusing = 2
	statusPaused   = 3
	statusKVO      = 4
	statusComplete = 5
	statusAlarm    = 6
	statusOff      = 7
)

// Alarm priorities as the example MIB codes them.
const (
	priorityHigh   = 1
	priorityMedium = 2
	priorityLow    = 3
)

// Drug library versions: every pump has the current one except one, left
// behind on an old library (the case WardWatch should flag).
const (
	drugLibrary        = "Adult ICU"
	drugLibraryCurrent = "2026.4"
	drugLibraryOld     = "2025.1"
	oldLibraryPump     = 2 // index of the pump with the old library
)

const kvoRate = 1.0 // ml/h, keep-vein-open after an infusion completes

// alarmDef is one alarm a simulated pump can raise.
type alarmDef struct {
	code     string // pump server table code
	text     string
	priority int
	bit      int // bit in the single-pump agent's alarm flag word
}

var (
	alarmOcclusion  = alarmDef{"OCCL", "Downstream occlusion", priorityHigh, 0}
	alarmAirInLine  = alarmDef{"AIL", "Air in line", priorityHigh, 1}
	alarmNearEnd    = alarmDef{"NEAREND", "Infusion near end", priorityMedium, 2}
	alarmLowBattery = alarmDef{"LOWBAT", "Battery low", priorityMedium, 3}
)

// pump is one simulated infusion pump. Its state moves continuously
// between events (volume infused, battery) and jumps at events (start,
// pause, alarm, unplugged), drawn from its own random source so each pump
// is deterministic for a seed and a sequence of clock readings.
type pump struct {
	index     int
	serial    string
	model     string
	firmware  string
	library   string
	version   string
	careArea  string
	status    int
	resume    int // status to return to when the alarm clears
	onAC      bool
	battery   float64 // percent
	rate      float64 // ml/h
	vtbi      float64 // ml still to infuse
	infused   float64 // ml
	alarm     *alarmDef
	last      time.Time
	nextEvent time.Time
	rng       *rand.Rand
}

var (
	rates = []float64{8.5, 25, 42, 62.5, 83.3, 100, 125, 250}
	vtbis = []float64{50, 100, 250, 500, 1000}
)

// PumpSerial is the serial number of simulated pump i (from 1): "SIM-LLUU"
// for the demo hospital's "Pump LLUU" (sim.NewHospital), level LL = 4 +
// (i-1)/6 and unit UU = 10 + (i-1)%6. With 12 pumps they are the infusion
// pumps of wards 4B and 5B, SIM-0410 to SIM-0515; beyond, further levels.
func PumpSerial(i int) string { return fmt.Sprintf("SIM-%02d%02d", 4+(i-1)/6, 10+(i-1)%6) }

func newPump(i int, seed int64, now time.Time) *pump {
	p := &pump{
		index:    i,
		serial:   PumpSerial(i + 1),
		firmware: "4.2.1",
		library:  drugLibrary,
		version:  drugLibraryCurrent,
		careArea: fmt.Sprintf("%dB", 4+i/6),
		last:     now,
		rng:      rand.New(rand.NewPCG(uint64(seed), uint64(i)+1)),
	}
	if i%3 == 2 {
		p.model, p.firmware = "Syringe SP-50", "2.8.0"
	} else {
		p.model = "Volumetric LVP-200"
	}
	if i == oldLibraryPump {
		p.version = drugLibraryOld
	}
	// A ward in mid-shift: most pumps infusing, some idle on their
	// chargers, some paused, one away from its charger.
	switch i % 5 {
	case 0, 1, 3:
		p.start()
	case 2:
		p.status = statusIdle
	case 4:
		p.start()
		p.status = statusPaused
	}
	p.onAC = i%4 != 1
	p.battery = 55 + p.rng.Float64()*45
	p.infused = math.Round(p.rng.Float64()*p.vtbi/2*10) / 10
	p.vtbi -= p.infused
	p.nextEvent = now.Add(p.eventGap())
	return p
}

// start programs a new infusion.
func (p *pump) start() {
	p.status = statusInfusing
	p.rate = rates[p.rng.IntN(len(rates))]
	p.vtbi = vtbis[p.rng.IntN(len(vtbis))]
	p.infused = 0
}

// eventGap is the time to the pump's next event: 2 to 20 minutes.
func (p *pump) eventGap() time.Duration {
	return 2*time.Minute + time.Duration(p.rng.Int64N(int64(18*time.Minute)))
}

// advance brings the pump to now: events up to now in order, and the
// continuous changes between them. A clock going backwards changes nothing.
func (p *pump) advance(now time.Time) {
	for !p.nextEvent.After(now) {
		p.flow(p.nextEvent)
		p.event()
		p.nextEvent = p.nextEvent.Add(p.eventGap())
	}
	p.flow(now)
}

// flow applies the continuous changes from p.last to t.
func (p *pump) flow(t time.Time) {
	dt := t.Sub(p.last).Hours()
	if dt <= 0 {
		return
	}
	p.last = t
	switch p.status {
	case statusInfusing:
		if p.rate <= 0 || p.vtbi <= 0 {
			p.vtbi, p.rate, p.status = 0, kvoRate, statusKVO
			p.infused += kvoRate * dt
		} else if d := p.rate * dt; d < p.vtbi {
			p.infused += d
			p.vtbi -= d
		} else { // completes within dt, then keeps the vein open
			left := dt - p.vtbi/p.rate
			p.infused += p.vtbi + kvoRate*left
			p.vtbi, p.rate, p.status = 0, kvoRate, statusKVO
		}
	case statusKVO:
		p.infused += kvoRate * dt
	}
	switch {
	case p.onAC:
		p.battery = math.Min(100, p.battery+30*dt)
	case p.status == statusOff:
	case p.status == statusInfusing || p.status == statusKVO:
		p.battery -= 12 * dt
	default:
		p.battery -= 4 * dt
	}
	if p.battery <= 0 {
		p.battery, p.status, p.rate, p.alarm = 0, statusOff, 0, nil
	}
}

// event makes one random change, depending on the pump's state.
func (p *pump) event() {
	r := p.rng.Float64()
	switch {
	case p.status == statusOff:
		if r < 0.5 { // someone plugs it in and switches it on
			p.onAC, p.status, p.vtbi, p.infused = true, statusIdle, 0, 0
		}
	case p.alarm != nil:
		p.alarm, p.status = nil, p.resume
	case p.status == statusIdle:
		switch {
		case r < 0.6:
			p.start()
		case r < 0.8:
			p.onAC = !p.onAC
		}
	case p.status == statusInfusing:
		switch {
		case r < 0.1:
			p.alarm, p.resume, p.status = &alarmOcclusion, statusPaused, statusAlarm
			if r < 0.04 {
				p.alarm = &alarmAirInLine
			}
		case r < 0.25:
			p.status = statusPaused
		case r < 0.5:
			p.onAC = !p.onAC
		case r < 0.6:
			p.rate = rates[p.rng.IntN(len(rates))]
		}
	case p.status == statusPaused:
		if r < 0.7 {
			p.status = statusInfusing
		} else {
			p.status, p.rate, p.vtbi, p.infused = statusIdle, 0, 0, 0
		}
	case p.status == statusKVO || p.status == statusComplete:
		if r < 0.7 {
			p.status, p.rate, p.vtbi, p.infused = statusIdle, 0, 0, 0
		}
	}
}

// served is a pump's values as the agent serves them: integers in the
// example MIB's units.
type served struct {
	status    int
	onAC      bool
	battery   uint32 // percent
	rate10    uint32 // 0.1 ml/h
	vtbi10    uint32 // 0.1 ml
	infused10 uint32 // 0.1 ml (single-pump agent)
	infused   uint32 // 0.01 ml (pump server)
	alarms    []*alarmDef
}

func (p *pump) served() served {
	s := served{
		status:    p.status,
		onAC:      p.onAC,
		battery:   uint32(math.Round(math.Max(0, p.battery))),
		rate10:    round(p.rate * 10),
		vtbi10:    round(p.vtbi * 10),
		infused10: round(p.infused * 10),
		infused:   round(p.infused * 100),
	}
	if p.status == statusIdle || p.status == statusOff {
		s.rate10 = 0
	}
	if p.alarm != nil {
		s.alarms = append(s.alarms, p.alarm)
	}
	if p.status == statusInfusing && p.rate > 0 && p.vtbi < p.rate/12 { // under 5 minutes left
		s.alarms = append(s.alarms, &alarmNearEnd)
	}
	if !p.onAC && p.status != statusOff && p.battery < 20 {
		s.alarms = append(s.alarms, &alarmLowBattery)
	}
	return s
}

func round(v float64) uint32 {
	if v <= 0 || math.IsNaN(v) {
		return 0
	}
	return uint32(math.Min(math.Round(v), math.MaxUint32))
}
