package fhir

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// memSource is an in-memory Source for tests.
type memSource struct {
	assets    []wardwatch.Asset
	positions []wardwatch.Position
	floors    []wardwatch.Floor
	zones     []wardwatch.Zone
	units     []wardwatch.MonitoredUnit
	modbus    []ModbusDevice
	pumps     []wardwatch.PumpState
	tags      []wardwatch.Tag
	latest    []wardwatch.Reading
	history   []wardwatch.Reading
	xs        []alerts.Excursion
	err       error
	queries   []wardwatch.SeriesQuery
}

func (m *memSource) Assets(context.Context) ([]wardwatch.Asset, error) { return m.assets, m.err }
func (m *memSource) LatestPositions(context.Context) ([]wardwatch.Position, error) {
	return m.positions, m.err
}
func (m *memSource) Tags(context.Context) ([]wardwatch.Tag, error)            { return m.tags, m.err }
func (m *memSource) Floors(context.Context) ([]wardwatch.Floor, error)        { return m.floors, m.err }
func (m *memSource) Zones(context.Context) ([]wardwatch.Zone, error)          { return m.zones, m.err }
func (m *memSource) Units(context.Context) ([]wardwatch.MonitoredUnit, error) { return m.units, m.err }
func (m *memSource) ModbusDevices(context.Context) ([]ModbusDevice, error)    { return m.modbus, m.err }
func (m *memSource) LatestPumpStates(context.Context) ([]wardwatch.PumpState, error) {
	return m.pumps, m.err
}
func (m *memSource) LatestReadings(context.Context) ([]wardwatch.Reading, error) {
	return m.latest, m.err
}
func (m *memSource) QuarantinedExcursions(context.Context) ([]alerts.Excursion, error) {
	return m.xs, m.err
}

// Readings behaves like the stores: From ≤ Time < To, oldest first, at
// most Limit.
func (m *memSource) Readings(_ context.Context, q wardwatch.SeriesQuery) ([]wardwatch.Reading, error) {
	m.queries = append(m.queries, q)
	var out []wardwatch.Reading
	for _, r := range m.history {
		if r.SensorID == q.SensorID && r.Metric == q.Metric && !r.Time.Before(q.From) && r.Time.Before(q.To) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b wardwatch.Reading) int { return a.Time.Compare(b.Time) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, m.err
}

// The fixture's tags with readings: on the pump (asset 12), the
// wheelchair (13) and the bed (14).
const (
	tagPump  = "mac:0a0b0c0d0e0f"
	tagChair = "eddystone:edd1ebeac04e5defa017:0bdb87539b67"
	tagBed   = "mac:111111111111"
)

// t0 is the fixture's "now".
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// fixture is a small ward: one floor, four zones, two monitored units
// (a vaccine fridge and an isolation room) with their Modbus devices,
// three assets (a pump with a GS1 UDI seen in a room, a wheelchair with an
// HIBCC UDI in repair seen long ago, a bed without a UDI whose tag is
// missing), one pump matching no asset, and two
// quarantines. Tags report their own readings: the pump's tag its
// temperature and battery voltage, the wheelchair's its battery; the
// bed's sensor tag reported before start-up only (history, no latest);
// both pumps their battery; an unassigned tag and an unknown pump are left
// out.
func fixture() *memSource {
	temp, press, door := wardwatch.MetricTemperature, wardwatch.MetricPressure, wardwatch.MetricDoorOpen
	volt, pct := wardwatch.MetricBatteryVoltage, wardwatch.MetricBatteryPercent
	m := &memSource{
		floors: []wardwatch.Floor{{ID: 1, Name: "Ward 4 — Level 2", Level: 2, Width: 60, Height: 30}},
		zones: []wardwatch.Zone{
			{ID: 40, FloorID: 1, Name: "4B-12", Kind: wardwatch.ZoneRoom},
			{ID: 41, FloorID: 1, Name: "Corridor B", Kind: wardwatch.ZoneCorridor},
			{ID: 42, FloorID: 1, Name: "Pharmacy", Kind: wardwatch.ZoneStorage},
			{ID: 43, FloorID: 1, Name: "4B-14 isolation", Kind: wardwatch.ZoneIsolation},
		},
		units: []wardwatch.MonitoredUnit{
			{ID: 3, Name: "Pharmacy vaccine fridge 2", Profile: wardwatch.ProfileVaccineFridge, ZoneID: 42},
			{ID: 4, Name: "Isolation 4B-14", Profile: wardwatch.ProfileIsolationRoom, ZoneID: 43},
		},
		modbus: []ModbusDevice{
			{ModbusDevice: wardwatch.ModbusDevice{ID: 1, Name: "fridge-1", UnitID: 3, Profile: "dixell-xr", Enabled: true,
				CalibrationDue: t0.AddDate(1, 0, 0)},
				Channels: []Channel{{Name: "cabinet", Metric: temp}, {Name: "coil", Metric: temp, Diagnostic: true},
					{Name: "door", Metric: door}}},
			{ModbusDevice: wardwatch.ModbusDevice{ID: 2, Name: "aii-1", UnitID: 4, Enabled: true,
				CalibrationDue: t0.AddDate(0, -1, 0)},
				Channels: []Channel{{Name: "dp", Metric: press}, {Name: "air temp", Metric: temp}}},
		},
		assets: []wardwatch.Asset{
			{ID: 12, Name: "Pump 0412", Kind: wardwatch.AssetInfusionPump, AssetTag: "A0412", Serial: "SN-0412",
				PMDue: t0.AddDate(0, 2, 0), UDI: "(01)00614141200108(11)230110(21)SN-0412",
				Manufacturer: "Harbourline Medical", Model: "Volumetric LVP-200"},
			{ID: 13, Name: "Wheelchair 7", Kind: wardwatch.AssetWheelchair, Status: wardwatch.StatusInRepair, AssetTag: "W7",
				UDI: "+A123BJC5D6E71/$$52001510X3C", Manufacturer: "Alder Mobility", Model: "Transit 18"},
			{ID: 14, Name: "Bed 3", Kind: wardwatch.AssetBed, AssetTag: "B3"},
		},
		positions: []wardwatch.Position{
			{AssetID: 12, FloorID: 1, ZoneID: 40, Confidence: 0.9, State: wardwatch.StateStationary, Time: t0.Add(-time.Minute)},
			{AssetID: 13, FloorID: 1, ZoneID: 0, Confidence: 0.5, State: wardwatch.StateStale, Time: t0.Add(-20 * time.Minute)},
			{AssetID: 14, FloorID: 1, ZoneID: 41, State: wardwatch.StateMissing, Time: t0.Add(-48 * time.Hour)},
		},
		pumps: []wardwatch.PumpState{
			{Time: t0, Serial: "SN-0412", Model: "Alaris 8100", Status: wardwatch.PumpInfusing, Firmware: "12.1.2",
				DrugLibrary: "ICU", DrugLibraryVersion: "v42", Battery: math.NaN()},
			{Time: t0, Serial: "SN/9999 x", Model: "Sapphire", Status: wardwatch.PumpIdle, Battery: math.NaN()},
		},
		latest: []wardwatch.Reading{
			{Time: t0.Add(-30 * time.Second), SensorID: "fridge-1/cabinet", Metric: temp, Value: 4.5},
			{Time: t0.Add(-30 * time.Second), SensorID: "fridge-1/coil", Metric: temp, Value: math.NaN()},
			{Time: t0.Add(-10 * time.Second), SensorID: "fridge-1/door", Metric: door, Value: 1},
			{Time: t0.Add(-5 * time.Second), SensorID: "aii-1/dp", Metric: press, Value: -2.5},
			{Time: t0.Add(-5 * time.Second), SensorID: "aii-1/air temp", Metric: temp, Value: 21.25},
			{Time: t0.Add(-20 * time.Second), SensorID: tagPump, Metric: temp, Value: 23.5},
			{Time: t0.Add(-20 * time.Second), SensorID: tagPump, Metric: volt, Value: 3},
			{Time: t0.Add(-40 * time.Second), SensorID: tagChair, Metric: volt, Value: 2.9},
			{Time: t0.Add(-15 * time.Second), SensorID: "pump:SN-0412", Metric: pct, Value: 80},
			{Time: t0.Add(-15 * time.Second), SensorID: "pump:SN/9999 x", Metric: pct, Value: 55},
			{Time: t0, SensorID: "pump:SN-NOWHERE", Metric: pct, Value: 10}, // no Device: left out
			{Time: t0, SensorID: "ibeacon:x:1:2", Metric: temp, Value: 30},  // an unassigned tag: left out
			{Time: t0, SensorID: tagPump, Metric: "colour", Value: 1},       // unknown metric: left out
		},
		tags: []wardwatch.Tag{{ID: tagPump, AssetID: 12}, {ID: tagChair, AssetID: 13}, {ID: tagBed, AssetID: 14},
			{ID: "epc:3034257bf7194e4000001a85", AssetID: 14}, {ID: "mac:999999999999", AssetID: 999}},
		xs: []alerts.Excursion{
			{ID: 7, UnitID: 3, UnitName: "Pharmacy vaccine fridge 2", SensorID: "fridge-1/cabinet", Metric: temp,
				Start: t0.Add(-3 * time.Hour), End: t0.Add(-2 * time.Hour), Alarmed: true, Quarantine: true},
			{ID: 8, UnitID: 4, UnitName: "Isolation 4B-14", SensorID: "aii-1/dp", Metric: press,
				Start: t0.Add(-time.Hour), Alarmed: true, Quarantine: true},
			{ID: 9, UnitID: 3, SensorID: "fridge-1/cabinet", Metric: temp, Start: t0.Add(-48 * time.Hour),
				Quarantine: true, QuarantineClearedBy: "pharmacist", QuarantineClearedAt: t0.Add(-40 * time.Hour)},
		},
	}
	// Ten minutes of cabinet readings, one a minute, and a few of the
	// isolation room's pressure.
	for i := range 10 {
		m.history = append(m.history, wardwatch.Reading{Time: t0.Add(time.Duration(i-10) * time.Minute),
			SensorID: "fridge-1/cabinet", Metric: temp, Value: 4 + float64(i)/10})
	}
	for i := range 3 {
		m.history = append(m.history, wardwatch.Reading{Time: t0.Add(time.Duration(i-3)*time.Minute + 30*time.Second),
			SensorID: "aii-1/dp", Metric: press, Value: -2.5 - float64(i)/4})
	}
	// Five readings of the pump's tag temperature, two minutes apart, and
	// the bed's tag's temperature half an hour ago.
	for i := range 5 {
		m.history = append(m.history, wardwatch.Reading{Time: t0.Add(time.Duration(2*i-10) * time.Minute),
			SensorID: tagPump, Metric: temp, Value: 22 + float64(i)/4})
	}
	m.history = append(m.history, wardwatch.Reading{Time: t0.Add(-30 * time.Minute), SensorID: tagBed, Metric: temp, Value: 19})
	// The stores hold the latest readings too.
	m.history = append(m.history, m.latest...)
	slices.SortFunc(m.history, func(a, b wardwatch.Reading) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.SensorID, b.SensorID))
	})
	return m
}
