package snmpsim

import (
	"math"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func TestPumpFlow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       pump
		dt      time.Duration
		status  int
		infused float64
		vtbi    float64
		battery float64
	}{
		{"infusing on battery", pump{status: statusInfusing, rate: 100, vtbi: 500, battery: 80}, 30 * time.Minute, statusInfusing, 50, 450, 74},
		{"infusing on mains charges", pump{status: statusInfusing, rate: 100, vtbi: 500, battery: 80, onAC: true}, 30 * time.Minute, statusInfusing, 50, 450, 95},
		{"charge stops at 100", pump{status: statusIdle, battery: 99, onAC: true}, time.Hour, statusIdle, 0, 0, 100},
		{"idle on battery drains slowly", pump{status: statusIdle, battery: 50}, time.Hour, statusIdle, 0, 0, 46},
		{"completes, then KVO", pump{status: statusInfusing, rate: 60, vtbi: 30, battery: 100, onAC: true}, time.Hour, statusKVO, 30.5, 0, 100},
		{"KVO", pump{status: statusKVO, rate: kvoRate, infused: 10, battery: 100, onAC: true}, 2 * time.Hour, statusKVO, 12, 0, 100},
		{"paused", pump{status: statusPaused, rate: 100, vtbi: 100, infused: 5, battery: 60}, time.Hour, statusPaused, 5, 100, 56},
		{"battery runs out", pump{status: statusInfusing, rate: 10, vtbi: 100, battery: 6}, time.Hour, statusOff, 10, 90, 0},
		{"infusing without a program", pump{status: statusInfusing, battery: 100, onAC: true}, time.Hour, statusKVO, 1, 0, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.last = t0
			p.flow(t0.Add(tc.dt))
			if p.status != tc.status || !near(p.infused, tc.infused) || !near(p.vtbi, tc.vtbi) || !near(p.battery, tc.battery) {
				t.Errorf("status %d infused %.3f vtbi %.3f battery %.3f; want %d %.3f %.3f %.3f",
					p.status, p.infused, p.vtbi, p.battery, tc.status, tc.infused, tc.vtbi, tc.battery)
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestPumpDeterministic checks a pump's course depends only on its seed
// and the clock readings, not on how often it is read in between.
func TestPumpDeterministic(t *testing.T) {
	a, b := newPump(3, 99, t0), newPump(3, 99, t0)
	for m := 1; m <= 24*60; m++ {
		a.advance(t0.Add(time.Duration(m) * time.Minute))
	}
	b.advance(t0.Add(24 * time.Hour))
	sa, sb := a.served(), b.served()
	if !reflect.DeepEqual(sa, sb) {
		t.Errorf("read every minute: %+v\nread once: %+v", sa, sb)
	}
	c := newPump(3, 100, t0)
	c.advance(t0.Add(24 * time.Hour))
	if reflect.DeepEqual(c.served(), sa) {
		t.Error("another seed gave the same day")
	}
	before := a.served()
	a.advance(t0) // the clock going backwards changes nothing
	if !reflect.DeepEqual(a.served(), before) {
		t.Error("a clock going backwards changed the pump")
	}
}

func TestPumpServedAlarms(t *testing.T) {
	p := pump{status: statusInfusing, rate: 120, vtbi: 5, battery: 10, alarm: &alarmOcclusion}
	var codes []string
	for _, a := range p.served().alarms {
		codes = append(codes, a.code)
	}
	if want := []string{"OCCL", "NEAREND", "LOWBAT"}; !reflect.DeepEqual(codes, want) {
		t.Errorf("alarms %v, want %v", codes, want)
	}
	s := (&pump{status: statusIdle, rate: 50, battery: 99.6, infused: 1.006}).served()
	if s.rate10 != 0 || s.battery != 100 || s.infused != 101 || s.infused10 != 10 {
		t.Errorf("served %+v", s)
	}
}
