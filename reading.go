package wardwatch

import "time"

// Metric is what a sensor reading measures. Values are in SI-style units
// fixed per metric, converted at the edges.
type Metric string

// Metrics known to WardWatch, with their units.
const (
	MetricTemperature    Metric = "temperature"     // °C
	MetricHumidity       Metric = "humidity"        // %RH
	MetricBatteryVoltage Metric = "battery_voltage" // V
	MetricBatteryPercent Metric = "battery_percent" // %
	// MetricPressure is a room's differential pressure against its
	// reference space (usually the corridor), in pascals: positive when
	// the room is at higher pressure.
	MetricPressure Metric = "pressure" // Pa
	// MetricDoorOpen is 1 while a door contact reads open, else 0.
	MetricDoorOpen Metric = "door_open" // 0/1
	// MetricAlarm is 1 while a device's own alarm output is active, else 0.
	MetricAlarm Metric = "alarm" // 0/1
	// MetricAirChanges is air changes per hour.
	MetricAirChanges Metric = "air_changes" // 1/h
)

// metricUnits maps every known metric to its unit symbol.
var metricUnits = map[Metric]string{
	MetricTemperature:    "°C",
	MetricHumidity:       "%RH",
	MetricBatteryVoltage: "V",
	MetricBatteryPercent: "%",
	MetricPressure:       "Pa",
	MetricDoorOpen:       "",
	MetricAlarm:          "",
	MetricAirChanges:     "ACH",
}

// Valid reports whether m is a metric WardWatch knows.
func (m Metric) Valid() bool { _, ok := metricUnits[m]; return ok }

// Unit is the unit symbol m's values are stored in ("" for states).
func (m Metric) Unit() string { return metricUnits[m] }

// Metrics lists every known metric, in a fixed order.
func Metrics() []Metric {
	return []Metric{MetricTemperature, MetricHumidity, MetricPressure, MetricDoorOpen,
		MetricAlarm, MetricAirChanges, MetricBatteryPercent, MetricBatteryVoltage}
}

// Reading is one measurement from a sensor: a fridge probe, an HVAC
// transmitter, or a tag that reports its own temperature and battery.
// SensorID is the sensor's stable identity: for a tag it is the tag ID; for
// a Modbus device channel it is "<device name>/<channel name>"; for a pump
// it is "pump:<serial>".
type Reading struct {
	Time     time.Time
	SensorID string
	Metric   Metric
	Value    float64
}
