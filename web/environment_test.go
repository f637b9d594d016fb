package web

import (
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func TestBuildEnvironment(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	units := []wardwatch.MonitoredUnit{
		{ID: 1, Name: "Fridge A", Profile: wardwatch.ProfileVaccineFridge, ZoneID: 10},
		{ID: 2, Name: "Fridge B", Profile: wardwatch.ProfileVaccineFridge},
		{ID: 3, Name: "Isolation 1", Profile: wardwatch.ProfileIsolationRoom},
		{ID: 4, Name: "Fridge C", Profile: wardwatch.ProfileVaccineFridge},
		{ID: 5, Name: "Unbound", Profile: wardwatch.ProfileCRTRoom},
	}
	devices := []wardwatch.ModbusDevice{{Name: "fa", UnitID: 1}, {Name: "fb", UnitID: 2}, {Name: "iso", UnitID: 3}, {Name: "fc", UnitID: 4}}
	latest := []wardwatch.Reading{
		{Time: now.Add(-time.Minute), SensorID: "fa/temperature", Metric: wardwatch.MetricTemperature, Value: 4.8},
		{Time: now.Add(-time.Minute), SensorID: "fa/door", Metric: wardwatch.MetricDoorOpen, Value: 0},
		{Time: now.Add(-time.Minute), SensorID: "fb/temperature", Metric: wardwatch.MetricTemperature, Value: 9.3},
		{Time: now.Add(-time.Minute), SensorID: "iso/pressure", Metric: wardwatch.MetricPressure, Value: -6},
		{Time: now.Add(-time.Hour), SensorID: "other/temperature", Metric: wardwatch.MetricTemperature, Value: 50},
	}
	got := buildEnvironment(units, devices, latest, map[int64]string{10: "Clean utility"}, now)
	byName := map[string]envUnit{}
	order := ""
	for _, u := range got {
		byName[u.Unit.Name] = u
		order += u.Unit.Name + ";"
	}
	if order != "Fridge B;Fridge C;Fridge A;Isolation 1;Unbound;" {
		t.Errorf("order = %s; want problems first", order)
	}
	a := byName["Fridge A"]
	if a.Problem || a.Room != "Clean utility" || len(a.Values) != 2 || a.Values[0].Value != "4.8 °C" || a.Values[0].Range != "2 to 8 °C" || a.Values[1].Value != "closed" {
		t.Errorf("Fridge A = %+v", a)
	}
	if b := byName["Fridge B"]; !b.Problem || b.Values[0].InRange {
		t.Errorf("Fridge B at 9.3 °C = %+v", b)
	}
	if c := byName["Fridge C"]; !c.Problem || len(c.Values) != 0 {
		t.Errorf("Fridge C bound but silent = %+v", c)
	}
	if iso := byName["Isolation 1"]; iso.Problem || iso.Values[0].Value != "-6.0 Pa" {
		t.Errorf("isolation room at −6 Pa = %+v", iso)
	}
	if u := byName["Unbound"]; u.Problem || u.Devices != 0 {
		t.Errorf("unbound unit = %+v", u)
	}
}
