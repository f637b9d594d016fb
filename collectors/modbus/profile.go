package modbus

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/wardwatch/wardwatch"
)

// Table is one of the four Modbus data tables. Each is read with its own
// function code.
type Table string

// The Modbus data tables.
const (
	TableCoil            Table = "coil"             // function code 1, 1-bit, read-write on the device
	TableDiscreteInput   Table = "discrete_input"   // function code 2, 1-bit, read-only
	TableHoldingRegister Table = "holding_register" // function code 3, 16-bit, read-write on the device
	TableInputRegister   Table = "input_register"   // function code 4, 16-bit, read-only
)

// tables lists the tables in the order requests are planned and sent.
var tables = []Table{TableCoil, TableDiscreteInput, TableHoldingRegister, TableInputRegister}

// FunctionCode is the Modbus read function code for t (1–4), 0 for an
// unknown table.
func (t Table) FunctionCode() byte {
	switch t {
	case TableCoil:
		return 1
	case TableDiscreteInput:
		return 2
	case TableHoldingRegister:
		return 3
	case TableInputRegister:
		return 4
	}
	return 0
}

// Valid reports whether t is a known table.
func (t Table) Valid() bool { return t.FunctionCode() != 0 }

// IsBit reports whether t holds single bits (coils, discrete inputs) rather
// than 16-bit registers.
func (t Table) IsBit() bool { return t == TableCoil || t == TableDiscreteInput }

// MaxCount is the largest quantity one read of t may ask for: 2000 bits or
// 125 registers (Modbus application protocol v1.1b3, §6.1–6.4).
func (t Table) MaxCount() int {
	if t.IsBit() {
		return MaxBitsPerRead
	}
	return MaxRegistersPerRead
}

// Protocol limits of one read request.
const (
	MaxRegistersPerRead = 125
	MaxBitsPerRead      = 2000
)

// Type is how a field's registers (or bit) are interpreted.
type Type string

// Field types.
const (
	TypeInt16   Type = "int16"
	TypeUint16  Type = "uint16"
	TypeInt32   Type = "int32"
	TypeUint32  Type = "uint32"
	TypeFloat32 Type = "float32" // IEEE 754 single precision
	TypeFloat64 Type = "float64" // IEEE 754 double precision
	// TypeBit is a coil or discrete input, or bit Field.Bit of a register.
	TypeBit Type = "bit"
)

// Registers is how many 16-bit registers a value of type t spans (a bit
// field of a register table spans one register); 0 for an unknown type.
func (t Type) Registers() int {
	switch t {
	case TypeInt16, TypeUint16, TypeBit:
		return 1
	case TypeInt32, TypeUint32, TypeFloat32:
		return 2
	case TypeFloat64:
		return 4
	}
	return 0
}

// Valid reports whether t is a known type.
func (t Type) Valid() bool { return t.Registers() != 0 }

func (t Type) isInteger() bool {
	return t == TypeInt16 || t == TypeUint16 || t == TypeInt32 || t == TypeUint32
}

func (t Type) isFloat() bool { return t == TypeFloat32 || t == TypeFloat64 }

// Order is the byte and word order of a multi-byte value, written as the
// letters of its bytes, most significant (A) first, in the order they
// arrive on the wire. For 16-bit values and register bits only the byte
// order within the register matters: ABCD and CDAB read the register as
// sent (AB), DCBA and BADC swap its two bytes (BA). For float64 the four
// letters generalise to eight bytes: ABCD is ABCDEFGH (big-endian), DCBA
// is HGFEDCBA (little-endian), BADC is BADCFEHG (bytes swapped in each
// register), CDAB is GHEFCDAB (registers in reverse order).
type Order string

// Byte orders.
const (
	OrderABCD Order = "ABCD" // big-endian: the Modbus default
	OrderDCBA Order = "DCBA" // little-endian
	OrderBADC Order = "BADC" // big-endian words, bytes swapped within each
	OrderCDAB Order = "CDAB" // least significant word first (Vaisala and many others)
)

// Valid reports whether o is a known order.
func (o Order) Valid() bool {
	return o == OrderABCD || o == OrderDCBA || o == OrderBADC || o == OrderCDAB
}

// Unit is the unit a device reports a field in, after Scale and Offset.
// The collector converts it to the metric's unit (°C, Pa, %RH…).
type Unit string

// Units a field may be reported in.
const (
	UnitNone        Unit = ""      // states (door_open, alarm): 0 or 1
	UnitCelsius     Unit = "C"     // °C
	UnitFahrenheit  Unit = "F"     // °F
	UnitKelvin      Unit = "K"     // K
	UnitPercentRH   Unit = "%RH"   // relative humidity
	UnitPascal      Unit = "Pa"    // Pa
	UnitHectopascal Unit = "hPa"   // 100 Pa
	UnitMillibar    Unit = "mbar"  // 100 Pa
	UnitKilopascal  Unit = "kPa"   // 1000 Pa
	UnitInH2O       Unit = "inH2O" // inch of water column (4 °C, conventional): 249.08891 Pa
	UnitMmH2O       Unit = "mmH2O" // millimetre of water column: 9.80665 Pa
	UnitACH         Unit = "ACH"   // air changes per hour
	UnitVolt        Unit = "V"
	UnitMillivolt   Unit = "mV"
	UnitPercent     Unit = "%"
)

// PascalsPerInH2O is one conventional inch of water column (at 4 °C) in
// pascals.
const PascalsPerInH2O = 249.08891

// unitInfo says which metric a unit measures and how to convert it to the
// metric's unit.
type unitInfo struct {
	metric wardwatch.Metric
	toSI   func(float64) float64
}

func identity(v float64) float64 { return v }

var units = map[Unit]unitInfo{
	UnitCelsius:     {wardwatch.MetricTemperature, identity},
	UnitFahrenheit:  {wardwatch.MetricTemperature, func(v float64) float64 { return (v - 32) * 5 / 9 }},
	UnitKelvin:      {wardwatch.MetricTemperature, func(v float64) float64 { return v - 273.15 }},
	UnitPercentRH:   {wardwatch.MetricHumidity, identity},
	UnitPascal:      {wardwatch.MetricPressure, identity},
	UnitHectopascal: {wardwatch.MetricPressure, func(v float64) float64 { return v * 100 }},
	UnitMillibar:    {wardwatch.MetricPressure, func(v float64) float64 { return v * 100 }},
	UnitKilopascal:  {wardwatch.MetricPressure, func(v float64) float64 { return v * 1000 }},
	UnitInH2O:       {wardwatch.MetricPressure, func(v float64) float64 { return v * PascalsPerInH2O }},
	UnitMmH2O:       {wardwatch.MetricPressure, func(v float64) float64 { return v * 9.80665 }},
	UnitACH:         {wardwatch.MetricAirChanges, identity},
	UnitVolt:        {wardwatch.MetricBatteryVoltage, identity},
	UnitMillivolt:   {wardwatch.MetricBatteryVoltage, func(v float64) float64 { return v / 1000 }},
	UnitPercent:     {wardwatch.MetricBatteryPercent, identity},
}

// unitNames lists the units in a fixed order for error messages.
var unitNames = []Unit{UnitCelsius, UnitFahrenheit, UnitKelvin, UnitPercentRH, UnitPascal,
	UnitHectopascal, UnitMillibar, UnitKilopascal, UnitInH2O, UnitMmH2O, UnitACH, UnitVolt,
	UnitMillivolt, UnitPercent}

// DefaultUnit is the unit a field of metric m is assumed to be reported in
// when its profile names none: the metric's own unit.
func DefaultUnit(m wardwatch.Metric) Unit {
	switch m {
	case wardwatch.MetricTemperature:
		return UnitCelsius
	case wardwatch.MetricHumidity:
		return UnitPercentRH
	case wardwatch.MetricPressure:
		return UnitPascal
	case wardwatch.MetricAirChanges:
		return UnitACH
	case wardwatch.MetricBatteryVoltage:
		return UnitVolt
	case wardwatch.MetricBatteryPercent:
		return UnitPercent
	}
	return UnitNone
}

// isState reports whether m's values are 0/1 states.
func isState(m wardwatch.Metric) bool {
	return m == wardwatch.MetricDoorOpen || m == wardwatch.MetricAlarm
}

// Field is one channel of a device: where its value lives and how to turn
// the raw registers into a reading. The value is
//
//	SI(raw × Scale + Offset, Unit)
//
// where raw is the register value read as Type in Order (or the bit, 0 or
// 1), and SI converts from Unit to the metric's unit.
type Field struct {
	// Name is the channel's name, unique in its profile; the reading's
	// SensorID is "<device name>/<field name>".
	Name   string
	Metric wardwatch.Metric
	Table  Table
	// Address is the 0-based protocol address of the field's first
	// register or bit (a manual's "register 40001" is holding register
	// address 0).
	Address uint16
	Type    Type
	Order   Order // registers only; "" for coils and discrete inputs
	// Bit selects bit 0 (least significant) to 15 of the register when
	// Type is bit on a register table.
	Bit    int
	Scale  float64 // never 0
	Offset float64
	Unit   Unit
	// FaultValues are raw integer values the device reports instead of a
	// measurement (a broken or missing probe: 0x8000 = -32768 as int16,
	// 0x7FFF = 32767…). Such a value is an error for the field, never a
	// reading.
	FaultValues []int64
	// Diagnostic marks a channel about the equipment itself (an
	// evaporator coil, a compressor's discharge) rather than what the unit
	// protects: it is stored and watched for faults and silence, but never
	// judged against the unit's ranges or shown as the unit's value.
	Diagnostic bool
}

// Registers is how many registers (or bits) the field spans.
func (f Field) Registers() int {
	if f.Table.IsBit() {
		return 1
	}
	return f.Type.Registers()
}

// Profile is a device model's register map: the fields to read and how to
// read them.
type Profile struct {
	// Name identifies the profile; devices refer to it by name.
	Name        string
	Description string
	// MaxGap is how many unused registers (or bits) one read may span to
	// cover two fields of the same table; 0 merges only adjacent fields.
	// A device that rejects a merged read with "illegal data address" has
	// its fields read one by one instead.
	MaxGap int
	Fields []Field
}

// Limits of a profile.
const (
	maxFields         = 256
	maxNameLen        = 64
	maxDescriptionLen = 1000
	maxFaultValues    = 16
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Validate checks the profile: every error names the field at fault.
func (p Profile) Validate() error {
	if err := checkName("name", p.Name); err != nil {
		return invalidf("profile: %v", err)
	}
	prefix := fmt.Sprintf("profile %q", p.Name)
	if len(p.Description) > maxDescriptionLen {
		return invalidf("%s: description is longer than %d characters", prefix, maxDescriptionLen)
	}
	if p.MaxGap < 0 || p.MaxGap > MaxRegistersPerRead {
		return invalidf("%s: max_gap %d is outside 0…%d", prefix, p.MaxGap, MaxRegistersPerRead)
	}
	if len(p.Fields) == 0 {
		return invalidf("%s: fields: a profile needs at least one field", prefix)
	}
	if len(p.Fields) > maxFields {
		return invalidf("%s: fields: %d fields, more than the %d allowed", prefix, len(p.Fields), maxFields)
	}
	seen := make(map[string]int, len(p.Fields))
	for i, f := range p.Fields {
		if j, dup := seen[f.Name]; dup {
			return invalidf("%s: fields[%d]: name %q is already used by fields[%d]", prefix, i, f.Name, j)
		}
		seen[f.Name] = i
		if err := f.validate(); err != nil {
			return invalidf("%s: fields[%d] (%s): %v", prefix, i, f.Name, err)
		}
	}
	return nil
}

func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is required", what)
	case len(s) > maxNameLen:
		return fmt.Errorf("%s %q is longer than %d characters", what, s, maxNameLen)
	case !nameRE.MatchString(s):
		return fmt.Errorf("%s %q may hold only letters, digits, '_', '-' and '.', and must start with a letter or digit", what, s)
	}
	return nil
}

// validate checks one field; errors name the offending key.
func (f Field) validate() error {
	if err := checkName("name", f.Name); err != nil {
		return err
	}
	if !f.Metric.Valid() {
		return fmt.Errorf("metric %q is not one of %s", f.Metric, metricList())
	}
	if !f.Table.Valid() {
		return fmt.Errorf("table %q is not one of coil, discrete_input, holding_register, input_register", f.Table)
	}
	if !f.Type.Valid() {
		return fmt.Errorf("type %q is not one of int16, uint16, int32, uint32, float32, float64, bit", f.Type)
	}
	if f.Table.IsBit() {
		if f.Type != TypeBit {
			return fmt.Errorf("type %s: a %s holds single bits, so its type must be bit", f.Type, f.Table)
		}
		if f.Order != "" {
			return fmt.Errorf("order %q: a %s has no byte order", f.Order, f.Table)
		}
		if f.Bit != 0 {
			return fmt.Errorf("bit %d: bit selects a bit of a register; a %s is already one bit", f.Bit, f.Table)
		}
	} else {
		if !f.Order.Valid() {
			return fmt.Errorf("order %q is not one of ABCD, DCBA, BADC, CDAB", f.Order)
		}
		if f.Type == TypeBit && (f.Bit < 0 || f.Bit > 15) {
			return fmt.Errorf("bit %d is outside 0…15", f.Bit)
		}
		if f.Type != TypeBit && f.Bit != 0 {
			return fmt.Errorf("bit %d: bit applies only to type bit", f.Bit)
		}
	}
	if last := int(f.Address) + f.Registers() - 1; last > 0xFFFF {
		return fmt.Errorf("address %d: a %s spans %d registers, past the last address 65535", f.Address, f.Type, f.Registers())
	}
	if f.Scale == 0 || math.IsNaN(f.Scale) || math.IsInf(f.Scale, 0) {
		return fmt.Errorf("scale %v must be a finite number other than 0", f.Scale)
	}
	if math.IsNaN(f.Offset) || math.IsInf(f.Offset, 0) {
		return fmt.Errorf("offset %v must be a finite number", f.Offset)
	}
	if f.Unit == UnitNone {
		if !isState(f.Metric) {
			return fmt.Errorf("unit is required for metric %s (%s)", f.Metric, unitsFor(f.Metric))
		}
	} else {
		u, ok := units[f.Unit]
		if !ok {
			return fmt.Errorf("unit %q is not one of %s", f.Unit, unitList())
		}
		if u.metric != f.Metric {
			return fmt.Errorf("unit %s measures %s, not %s (use %s)", f.Unit, u.metric, f.Metric, unitsFor(f.Metric))
		}
	}
	if len(f.FaultValues) > maxFaultValues {
		return fmt.Errorf("fault_values: %d values, more than the %d allowed", len(f.FaultValues), maxFaultValues)
	}
	if len(f.FaultValues) > 0 && !f.Type.isInteger() {
		return fmt.Errorf("fault_values apply only to integer types, not %s", f.Type)
	}
	lo, hi := f.Type.rawRange()
	for _, v := range f.FaultValues {
		if v < lo || v > hi {
			return fmt.Errorf("fault_values: %d is outside the %s range %d…%d", v, f.Type, lo, hi)
		}
	}
	return nil
}

// rawRange is the range of raw values an integer type can hold.
func (t Type) rawRange() (lo, hi int64) {
	switch t {
	case TypeInt16:
		return math.MinInt16, math.MaxInt16
	case TypeUint16:
		return 0, math.MaxUint16
	case TypeInt32:
		return math.MinInt32, math.MaxInt32
	case TypeUint32:
		return 0, math.MaxUint32
	}
	return 0, 0
}

func metricList() string {
	var names []string
	for _, m := range wardwatch.Metrics() {
		names = append(names, string(m))
	}
	return strings.Join(names, ", ")
}

func unitList() string {
	var names []string
	for _, u := range unitNames {
		names = append(names, string(u))
	}
	return strings.Join(names, ", ")
}

// unitsFor lists the units that measure m.
func unitsFor(m wardwatch.Metric) string {
	if isState(m) {
		return `no unit: the value is a 0/1 state`
	}
	var names []string
	for _, u := range unitNames {
		if units[u].metric == m {
			names = append(names, string(u))
		}
	}
	return strings.Join(names, ", ")
}

func invalidf(format string, args ...any) error {
	return wardwatch.Errorf(wardwatch.EINVALID, format, args...)
}
