package modbus

import (
	"slices"

	"github.com/wardwatch/wardwatch"
)

// Names of the built-in profiles.
const (
	ProfileTHFloat      = "th-transmitter-float"
	ProfileTHInt        = "th-transmitter-int"
	ProfileFridge       = "fridge-controller"
	ProfileRoomPressure = "room-pressure-monitor"
)

// Raw int16 values transmitters send instead of a measurement.
const (
	sensorFault16 int64 = -32768 // 0x8000: no value, probe fault
	sensorOver16  int64 = 32767  // 0x7FFF: over range
)

// BuiltinProfiles returns the profiles WardWatch ships, modelled on the
// register maps of real devices (see each Description). Vendors number
// registers inconsistently and change maps between firmware versions:
// check a device with TestDevice before trusting a built-in profile, and
// copy and edit it when the device differs. Each call returns fresh
// copies.
func BuiltinProfiles() []Profile {
	return []Profile{
		{
			Name: ProfileTHFloat,
			Description: "Temperature/humidity transmitter with IEEE 754 float registers, least significant word first, " +
				"modelled on Vaisala HMT330 (registers 0001–0004: RH and T as float32; 0513: sensor fault). " +
				"Newer Vaisala probes send the low word first (order CDAB); if values look absurd try ABCD.",
			Fields: []Field{
				{Name: "humidity", Metric: wardwatch.MetricHumidity, Table: TableHoldingRegister, Address: 0, Type: TypeFloat32, Order: OrderCDAB, Scale: 1, Unit: UnitPercentRH},
				{Name: "temperature", Metric: wardwatch.MetricTemperature, Table: TableHoldingRegister, Address: 2, Type: TypeFloat32, Order: OrderCDAB, Scale: 1, Unit: UnitCelsius},
				{Name: "sensor_fault", Metric: wardwatch.MetricAlarm, Table: TableHoldingRegister, Address: 512, Type: TypeBit, Order: OrderABCD, Bit: 0, Scale: 1},
			},
		},
		{
			Name: ProfileTHInt,
			Description: "Temperature/humidity transmitter with 16-bit integer input registers in hundredths, " +
				"modelled on E+E Elektronik EE210 (0x12C temperature ×0.01 °C, 0x12D RH ×0.01 %; 0x8000 means no value). " +
				"EE210 defaults: unit id 242, 9600 baud 8E1.",
			Fields: []Field{
				{Name: "temperature", Metric: wardwatch.MetricTemperature, Table: TableInputRegister, Address: 0x12C, Type: TypeInt16, Order: OrderABCD, Scale: 0.01, Unit: UnitCelsius, FaultValues: []int64{sensorFault16}},
				{Name: "humidity", Metric: wardwatch.MetricHumidity, Table: TableInputRegister, Address: 0x12D, Type: TypeInt16, Order: OrderABCD, Scale: 0.01, Unit: UnitPercentRH, FaultValues: []int64{sensorFault16}},
			},
		},
		{
			Name: ProfileFridge,
			Description: "Refrigeration controller for fridges and freezers, modelled on the field-derived Dixell XR75CX map " +
				"(holding registers 256/257 probes 1–2 as int16 ×0.1 °C, 300 status, coil 528 alarm relay; 9600 8N1). " +
				"Here the door switch is bit 3 of status register 300 and 0x8000/0x7FFF mean a failed probe. " +
				"Dixell publishes no map and addresses vary between firmware versions: verify with a test poll.",
			MaxGap: 16,
			Fields: []Field{
				{Name: "cabinet", Metric: wardwatch.MetricTemperature, Table: TableHoldingRegister, Address: 256, Type: TypeInt16, Order: OrderABCD, Scale: 0.1, Unit: UnitCelsius, FaultValues: []int64{sensorFault16, sensorOver16}},
				{Name: "evaporator", Metric: wardwatch.MetricTemperature, Table: TableHoldingRegister, Address: 257, Type: TypeInt16, Order: OrderABCD, Scale: 0.1, Unit: UnitCelsius, FaultValues: []int64{sensorFault16, sensorOver16}, Diagnostic: true},
				{Name: "door", Metric: wardwatch.MetricDoorOpen, Table: TableHoldingRegister, Address: 300, Type: TypeBit, Order: OrderABCD, Bit: 3, Scale: 1},
				{Name: "alarm", Metric: wardwatch.MetricAlarm, Table: TableCoil, Address: 528, Type: TypeBit, Scale: 1},
			},
		},
		{
			Name: ProfileRoomPressure,
			Description: "Room pressure monitor for isolation rooms and operating rooms, modelled on TSI PresSura RPC30/RPM20 " +
				"(input registers: 0 room pressure in inches of water ÷10 000, 2 air changes ÷10, 3 RH %, " +
				"4 temperature °F ÷10, 7 door 1 closed / 2 open). Pressure is converted to Pa, temperature to °C.",
			MaxGap: 8,
			Fields: []Field{
				{Name: "pressure", Metric: wardwatch.MetricPressure, Table: TableInputRegister, Address: 0, Type: TypeInt16, Order: OrderABCD, Scale: 0.0001, Unit: UnitInH2O},
				{Name: "air_changes", Metric: wardwatch.MetricAirChanges, Table: TableInputRegister, Address: 2, Type: TypeInt16, Order: OrderABCD, Scale: 0.1, Unit: UnitACH},
				{Name: "humidity", Metric: wardwatch.MetricHumidity, Table: TableInputRegister, Address: 3, Type: TypeInt16, Order: OrderABCD, Scale: 1, Unit: UnitPercentRH},
				{Name: "temperature", Metric: wardwatch.MetricTemperature, Table: TableInputRegister, Address: 4, Type: TypeInt16, Order: OrderABCD, Scale: 0.1, Unit: UnitFahrenheit},
				{Name: "door", Metric: wardwatch.MetricDoorOpen, Table: TableInputRegister, Address: 7, Type: TypeUint16, Order: OrderABCD, Scale: 1, Offset: -1},
			},
		},
	}
}

// BuiltinProfile returns the built-in profile called name.
func BuiltinProfile(name string) (Profile, bool) {
	ps := BuiltinProfiles()
	i := slices.IndexFunc(ps, func(p Profile) bool { return p.Name == name })
	if i < 0 {
		return Profile{}, false
	}
	return ps[i], true
}
