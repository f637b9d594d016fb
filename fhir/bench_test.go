package fhir

import (
	"fmt"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// bigFixture is a large hospital: 5,000 assets with positions, 200 zones,
// 300 units with a two-channel Modbus device each.
func bigFixture() *memSource {
	m := fixture()
	for i := range 200 {
		m.zones = append(m.zones, wardwatch.Zone{ID: int64(1000 + i), FloorID: 1, Name: fmt.Sprintf("Z%d", i), Kind: wardwatch.ZoneRoom})
	}
	for i := range 5000 {
		id := int64(10000 + i)
		m.assets = append(m.assets, wardwatch.Asset{ID: id, Name: fmt.Sprintf("Asset %d", i), Kind: wardwatch.AssetInfusionPump,
			AssetTag: fmt.Sprintf("T%05d", i), Serial: fmt.Sprintf("S%05d", i)})
		m.positions = append(m.positions, wardwatch.Position{AssetID: id, FloorID: 1, ZoneID: int64(1000 + i%200),
			State: wardwatch.StateStationary, Time: t0})
	}
	for i := range 300 {
		m.units = append(m.units, wardwatch.MonitoredUnit{ID: int64(100 + i), Name: fmt.Sprintf("Fridge %d", i),
			Profile: wardwatch.ProfileVaccineFridge, ZoneID: int64(1000 + i%200)})
		d := ModbusDevice{ModbusDevice: wardwatch.ModbusDevice{ID: int64(100 + i), Name: fmt.Sprintf("fr-%d", i), UnitID: int64(100 + i), Enabled: true},
			Channels: []Channel{{Name: "cabinet", Metric: wardwatch.MetricTemperature}, {Name: "door", Metric: wardwatch.MetricDoorOpen}}}
		m.modbus = append(m.modbus, d)
		m.latest = append(m.latest, wardwatch.Reading{Time: t0, SensorID: d.Name + "/cabinet", Metric: wardwatch.MetricTemperature, Value: 4.2})
	}
	return m
}

// BenchmarkSearch measures a search over a large hospital through the
// handler, including JSON encoding: a page of 50 devices by type, one
// device by asset tag, and every channel's latest reading.
func BenchmarkSearch(b *testing.B) {
	h := NewHandler(bigFixture(), Options{Now: func() time.Time { return t0 }})
	for _, q := range []string{"/Device?type=infusion_pump", "/Device?identifier=T04321", "/Observation?_count=500"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", q, nil))
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
				io.Discard.Write(w.Body.Bytes())
			}
		})
	}
}

// bigSensorFixture is bigFixture with a tag on every asset, 2,000 of them
// reporting their temperature and battery voltage, 500 pumps reporting
// their battery, and a day of one tag's temperature every minute.
func bigSensorFixture() *memSource {
	m := bigFixture()
	for i := range 5000 {
		id := int64(10000 + i)
		tag := fmt.Sprintf("mac:%012x", i)
		m.tags = append(m.tags, wardwatch.Tag{ID: tag, AssetID: id})
		if i < 2000 {
			m.latest = append(m.latest, wardwatch.Reading{Time: t0, SensorID: tag, Metric: wardwatch.MetricTemperature, Value: 21},
				wardwatch.Reading{Time: t0, SensorID: tag, Metric: wardwatch.MetricBatteryVoltage, Value: 2.9})
		}
		if i < 500 {
			m.latest = append(m.latest, wardwatch.Reading{Time: t0, SensorID: fmt.Sprintf("pump:S%05d", i),
				Metric: wardwatch.MetricBatteryPercent, Value: 80})
		}
	}
	for i := range 24 * 60 {
		m.history = append(m.history, wardwatch.Reading{Time: t0.Add(time.Duration(i-24*60) * time.Minute),
			SensorID: fmt.Sprintf("mac:%012x", 42), Metric: wardwatch.MetricTemperature, Value: 21})
	}
	return m
}

// BenchmarkSearchSensors measures Observation searches over tag and pump
// readings on a large site: the latest battery voltages, one asset's
// latest readings, one asset's day of history, and DeviceMetrics.
func BenchmarkSearchSensors(b *testing.B) {
	h := NewHandler(bigSensorFixture(), Options{Now: func() time.Time { return t0 }})
	for _, q := range []string{"/Observation?code=battery_voltage&_count=500", "/Observation?device=asset-10042",
		"/Observation?device=asset-10042&date=ge2026-03-09T12:00:00Z&_count=500", "/DeviceMetric?_count=500"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", q, nil))
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
				}
				io.Discard.Write(w.Body.Bytes())
			}
		})
	}
}
