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
)

// Reading is one measurement from a sensor: a fridge probe, an HVAC
// transmitter, or a tag that reports its own temperature and battery.
// SensorID is the sensor's stable identity; for a tag it is the tag ID.
type Reading struct {
	Time     time.Time
	SensorID string
	Metric   Metric
	Value    float64
}
