package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/modbus"
	"github.com/wardwatch/wardwatch/sql"
	"github.com/wardwatch/wardwatch/web"
)

// sensorService runs the Modbus collector over the stored devices and
// register maps; its readings ("<device>/<field>") go to the reading
// writer, which stores them and keeps the latest for the pages.
type sensorService struct {
	collector *modbus.Collector
	store     *sql.Store
	readings  *readingWriter
	alerts    deviceWatcher
	logger    *slog.Logger
	profiles  atomic.Pointer[map[string]modbus.Profile] // stored ones; built-ins first
	// diagnostics holds the sensor IDs of diagnostic channels (an
	// evaporator coil): stored, but never shown as their unit's value.
	diagnostics atomic.Pointer[map[string]bool]
	// channels holds, per monitored unit, the channels that measure it
	// (diagnostic ones left out), as of the last reload.
	channels atomic.Pointer[map[int64][]web.UnitSensor]
}

// deviceWatcher is told when a Modbus device goes offline or comes back.
type deviceWatcher interface {
	DeviceChanged(name string, online bool, at time.Time)
}

func newSensorService(store *sql.Store, readings *readingWriter, alerts deviceWatcher, logger *slog.Logger, reg prometheus.Registerer) *sensorService {
	s := &sensorService{store: store, readings: readings, alerts: alerts, logger: logger}
	empty := map[string]modbus.Profile{}
	s.profiles.Store(&empty)
	s.collector = modbus.NewCollector(modbus.Options{Logger: logger, Registerer: reg, Sink: s, Profiles: s.profile})
	return s
}

// unitSensors lists the Modbus channels that measure a monitored unit.
func (s *sensorService) unitSensors(_ context.Context, unitID int64) ([]web.UnitSensor, error) {
	if c := s.channels.Load(); c != nil {
		return (*c)[unitID], nil
	}
	return nil, nil
}

// unitReadings is the latest reading of every sensor and metric without
// the diagnostic channels: what the environment page shows as units'
// values.
func (s *sensorService) unitReadings() []wardwatch.Reading {
	rs := s.readings.Latest()
	diag := s.diagnostics.Load()
	if diag == nil {
		return rs
	}
	return slices.DeleteFunc(rs, func(r wardwatch.Reading) bool { return (*diag)[r.SensorID] })
}

func (s *sensorService) profile(name string) (modbus.Profile, bool) {
	if p, ok := modbus.BuiltinProfile(name); ok {
		return p, true
	}
	p, ok := (*s.profiles.Load())[name]
	return p, ok
}

// SubmitReadings hands a poll's readings to the reading writer.
func (s *sensorService) SubmitReadings(ctx context.Context, rs []wardwatch.Reading) error {
	return s.readings.SubmitReadings(ctx, rs)
}

// DeviceStatusChanged logs a device going offline or coming back and
// tells the alert rules.
func (s *sensorService) DeviceStatusChanged(st modbus.DeviceStatus) {
	at := st.LastPoll
	if at.IsZero() {
		at = time.Now().UTC()
	}
	s.alerts.DeviceChanged(st.Name, st.Online, at)
	if st.Online {
		s.logger.Debug("Modbus device online", "device", st.DeviceID)
		return
	}
	s.logger.Debug("Modbus device offline", "device", st.DeviceID, "err", st.LastError)
}

// reload applies the stored devices and register maps.
func (s *sensorService) reload(ctx context.Context) error {
	stored, err := s.store.DeviceProfiles(ctx, "modbus")
	if err != nil {
		return fmt.Errorf("load register maps: %w", err)
	}
	profiles := make(map[string]modbus.Profile, len(stored))
	for _, sp := range stored {
		p, err := modbus.ParseProfile(sp.Source)
		if err != nil {
			s.logger.Error("stored register map is invalid; devices using it fail", "profile", sp.Name, "err", err)
			continue
		}
		profiles[p.Name] = p
	}
	s.profiles.Store(&profiles)
	ds, err := s.store.ModbusDevices(ctx)
	if err != nil {
		return fmt.Errorf("load Modbus devices: %w", err)
	}
	devices := make([]modbus.Device, 0, len(ds))
	diagnostics := map[string]bool{}
	channels := map[int64][]web.UnitSensor{}
	for _, d := range ds {
		devices = append(devices, modbusDevice(d))
		p, ok := s.profile(d.Profile)
		if !ok {
			continue
		}
		for _, f := range p.Fields {
			switch {
			case f.Diagnostic:
				diagnostics[d.Name+"/"+f.Name] = true
			case d.UnitID != 0:
				channels[d.UnitID] = append(channels[d.UnitID],
					web.UnitSensor{SensorID: d.Name + "/" + f.Name, Metric: f.Metric, Name: d.Name + " " + f.Name})
			}
		}
	}
	s.diagnostics.Store(&diagnostics)
	s.channels.Store(&channels)
	s.collector.SetDevices(devices)
	return nil
}

func modbusDevice(d wardwatch.ModbusDevice) modbus.Device {
	if d.Transport != "rtu" { // line settings belong to serial ports only
		d.Baud, d.DataBits, d.Parity, d.StopBits = 0, 0, "", 0
	}
	return modbus.Device{ID: d.ID, Name: d.Name, Transport: d.Transport, Address: d.Address, Baud: d.Baud, DataBits: d.DataBits,
		Parity: d.Parity, StopBits: d.StopBits, UnitID: byte(d.SlaveID), Profile: d.Profile, Interval: d.Interval,
		Timeout: d.Timeout, Enabled: d.Enabled}
}

// profileInfos lists the register maps for the admin pages.
func (s *sensorService) profileInfos() []web.ProfileInfo {
	var out []web.ProfileInfo
	for _, p := range modbus.BuiltinProfiles() {
		src, _ := p.YAML()
		out = append(out, web.ProfileInfo{Name: p.Name, Description: p.Description, Builtin: true, Source: string(src)})
	}
	for _, p := range *s.profiles.Load() {
		src, _ := p.YAML()
		out = append(out, web.ProfileInfo{Name: p.Name, Description: p.Description, Source: string(src)})
	}
	return out
}

// statusByDevice is the collector's status for the admin list.
func (s *sensorService) statusByDevice() map[int64]web.CollectorStatus {
	out := map[int64]web.CollectorStatus{}
	for _, st := range s.collector.Status() {
		lastErr := st.LastError
		if st.Online {
			lastErr = ""
		}
		out[st.DeviceID] = web.CollectorStatus{Online: st.Online, LastOK: st.LastOK, LastError: lastErr,
			Failures: st.ConsecutiveFailures, Detail: strconv.Itoa(len(st.Values)) + " values"}
	}
	return out
}

// test reads a device once for the admin's "test connection": raw
// registers beside decoded values.
func (s *sensorService) test(ctx context.Context, d wardwatch.ModbusDevice) web.TestReport {
	p, ok := s.profile(d.Profile)
	if !ok {
		return web.TestReport{Error: fmt.Sprintf("There is no register map named %q.", d.Profile)}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := s.collector.TestDevice(ctx, modbusDevice(d), p)
	rep := web.TestReport{}
	if err != nil {
		rep.Error = wardwatch.ErrorMessage(err)
	}
	for _, f := range res.Fields {
		row := web.TestRow{Name: fmt.Sprintf("%s (%s %d, %s)", f.Name, f.Table, f.Address, f.Type), Raw: f.Raw, Unit: f.Unit, Error: f.Error}
		if f.Error == "" {
			row.Value = strconv.FormatFloat(f.Value, 'f', -1, 64)
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep
}
