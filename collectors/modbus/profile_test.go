package modbus

import (
	"reflect"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

const fridgeYAML = `
name: lab-fridge
description: A lab fridge controller
max_gap: 4
fields:
  - name: cabinet
    metric: temperature
    table: holding_register
    address: 0x100
    type: int16
    scale: 0.1
    unit: C
    fault_values: [-32768, 32767]
  - name: door
    metric: door_open
    table: discrete_input
    address: 3
    type: bit
  - name: room
    metric: temperature
    table: input_register
    address: 10
    type: float32
    order: cdab
    unit: F
    diagnostic: true
  - name: status_alarm
    metric: alarm
    table: holding_register
    address: 300
    type: bit
    bit: 7
`

func TestParseProfile(t *testing.T) {
	p, err := ParseProfile([]byte(fridgeYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := Profile{
		Name: "lab-fridge", Description: "A lab fridge controller", MaxGap: 4,
		Fields: []Field{
			{Name: "cabinet", Metric: wardwatch.MetricTemperature, Table: TableHoldingRegister, Address: 256, Type: TypeInt16, Order: OrderABCD, Scale: 0.1, Unit: UnitCelsius, FaultValues: []int64{-32768, 32767}},
			{Name: "door", Metric: wardwatch.MetricDoorOpen, Table: TableDiscreteInput, Address: 3, Type: TypeBit, Scale: 1},
			{Name: "room", Metric: wardwatch.MetricTemperature, Table: TableInputRegister, Address: 10, Type: TypeFloat32, Order: OrderCDAB, Scale: 1, Unit: UnitFahrenheit, Diagnostic: true},
			{Name: "status_alarm", Metric: wardwatch.MetricAlarm, Table: TableHoldingRegister, Address: 300, Type: TypeBit, Order: OrderABCD, Bit: 7, Scale: 1},
		},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
}

func TestProfileYAMLRoundTrip(t *testing.T) {
	parsed, err := ParseProfile([]byte(fridgeYAML))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(BuiltinProfiles(), parsed) {
		y, err := p.YAML()
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		back, err := ParseProfile(y)
		if err != nil {
			t.Fatalf("%s: the YAML does not parse back: %v\n%s", p.Name, err, y)
		}
		if !reflect.DeepEqual(back, p) {
			t.Errorf("%s: round trip changed the profile:\n got %+v\nwant %+v\n%s", p.Name, back, p, y)
		}
	}
}

func TestBuiltinProfiles(t *testing.T) {
	names := map[string]bool{}
	metrics := map[wardwatch.Metric]bool{}
	for _, p := range BuiltinProfiles() {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
		if names[p.Name] {
			t.Errorf("%s: listed twice", p.Name)
		}
		names[p.Name] = true
		if got, ok := BuiltinProfile(p.Name); !ok || !reflect.DeepEqual(got, p) {
			t.Errorf("BuiltinProfile(%q) = %v, %v", p.Name, got.Name, ok)
		}
		for _, f := range p.Fields {
			metrics[f.Metric] = true
		}
	}
	for _, m := range []wardwatch.Metric{wardwatch.MetricTemperature, wardwatch.MetricHumidity, wardwatch.MetricPressure, wardwatch.MetricDoorOpen, wardwatch.MetricAlarm} {
		if !metrics[m] {
			t.Errorf("no built-in profile reads %s", m)
		}
	}
	if _, ok := BuiltinProfile("nope"); ok {
		t.Error("BuiltinProfile found an unknown name")
	}
	// Callers may edit what they get without changing the built-ins.
	a, _ := BuiltinProfile(ProfileFridge)
	a.Fields[0].FaultValues[0] = 1
	b, _ := BuiltinProfile(ProfileFridge)
	if b.Fields[0].FaultValues[0] != sensorFault16 {
		t.Error("BuiltinProfile returns shared slices")
	}
}

func TestParseProfileErrors(t *testing.T) {
	field := func(extra string) string {
		return "name: p\nfields:\n  - name: t\n    metric: temperature\n    table: holding_register\n    address: 1\n    type: int16\n" + extra
	}
	tests := []struct {
		name, yaml string
		want       []string // substrings of the message
	}{
		{"empty", "", []string{"empty"}},
		{"not a mapping", "- a\n- b\n", []string{"line 1", "expected a mapping"}},
		{"syntax", "name: [\n", []string{"profile:"}},
		{"two documents", field("") + "---\nname: q\n", []string{"one YAML document"}},
		{"unknown top key", "name: p\nfeilds: []\n", []string{"line 2", "feilds", "unknown key"}},
		{"unknown field key", field("    adress: 2\n"), []string{"line 8", "fields[0].adress", "unknown key"}},
		{"duplicate key", field("    type: int32\n"), []string{"fields[0].type", "appears twice"}},
		{"missing name", "fields: []\n", []string{"name", "required"}},
		{"missing fields", "name: p\n", []string{"fields", "required"}},
		{"fields not a list", "name: p\nfields: 3\n", []string{"fields", "list"}},
		{"no fields", "name: p\nfields: []\n", []string{"at least one field"}},
		{"missing address", "name: p\nfields:\n  - name: t\n    metric: temperature\n    table: coil\n    type: bit\n", []string{"fields[0].address", "required"}},
		{"address text", field("")[:strings.Index(field(""), "address: 1")] + "address: forty\n    type: int16\n", []string{"fields[0].address", "expected an integer", "forty"}},
		{"address negative", strings.Replace(field(""), "address: 1", "address: -1", 1), []string{"fields[0].address", "0…65535"}},
		{"1-based register number", strings.Replace(field(""), "address: 1", "address: 400001", 1), []string{"fields[0].address", "40001-style"}},
		{"float64 past the end", strings.Replace(strings.Replace(field(""), "address: 1", "address: 65534", 1), "int16", "float64", 1), []string{"fields[0] (t)", "past the last address"}},
		{"unknown type", strings.Replace(field(""), "int16", "int17", 1), []string{"fields[0] (t)", `type "int17"`}},
		{"unknown table", strings.Replace(field(""), "holding_register", "holding", 1), []string{`table "holding"`}},
		{"unknown metric", strings.Replace(field(""), "metric: temperature", "metric: temp", 1), []string{`metric "temp"`, "temperature, humidity"}},
		{"unknown order", field("    order: ABDC\n"), []string{`order "ABDC"`}},
		{"unknown unit", field("    unit: celsius\n"), []string{`unit "celsius"`, "C, F, K"}},
		{"unit of another metric", field("    unit: inH2O\n"), []string{"unit inH2O measures pressure, not temperature"}},
		{"state with a unit", "name: p\nfields:\n  - name: d\n    metric: door_open\n    table: coil\n    address: 1\n    type: bit\n    unit: C\n", []string{"unit C measures temperature, not door_open"}},
		{"coil of type int16", "name: p\nfields:\n  - name: d\n    metric: alarm\n    table: coil\n    address: 1\n    type: int16\n", []string{"type must be bit"}},
		{"coil with an order", "name: p\nfields:\n  - name: d\n    metric: alarm\n    table: coil\n    address: 1\n    type: bit\n    order: ABCD\n", []string{"no byte order"}},
		{"bit 16", field("    bit: 16\n"), []string{"fields[0].bit", "0…15"}},
		{"bit on an int16", field("    bit: 3\n"), []string{"bit applies only to type bit"}},
		{"zero scale", field("    scale: 0\n"), []string{"scale 0"}},
		{"NaN scale", field("    scale: .nan\n"), []string{"scale NaN"}},
		{"scale text", field("    scale: tenth\n"), []string{"fields[0].scale", "expected a number"}},
		{"fault value out of range", field("    fault_values: [40000]\n"), []string{"fault_values: 40000", "int16 range"}},
		{"fault values on a float", strings.Replace(field("    fault_values: [1]\n"), "int16", "float32", 1), []string{"integer types"}},
		{"fault values not a list", field("    fault_values: 3\n"), []string{"fields[0].fault_values", "list"}},
		{"diagnostic not a boolean", field("    diagnostic: maybe\n"), []string{"fields[0].diagnostic", "true or false"}},
		{"duplicate field name", field("  - name: t\n    metric: temperature\n    table: coil\n    address: 1\n    type: bit\n"), []string{"fields[1]", `"t" is already used`}},
		{"field name with a slash", strings.Replace(field(""), "name: t", "name: a/b", 1), []string{`name "a/b"`}},
		{"max gap too large", "name: p\nmax_gap: 500\nfields: []\n", []string{"max_gap", "0…125"}},
		{"bad profile name", "name: my profile\nfields: []\n", []string{`name "my profile"`}},
		{"alias", "name: p\nfields:\n  - &f\n    name: t\n    metric: temperature\n    table: coil\n    address: 1\n    type: bit\n  - *f\n", []string{"expected a mapping"}},
		{"alias value", "name: &n p\ndescription: *n\nfields: []\n", []string{"description", "aliases"}},
	}
	for _, tt := range tests {
		_, err := ParseProfile([]byte(tt.yaml))
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID {
			t.Errorf("%s: code %q, want invalid (%v)", tt.name, code, err)
		}
		msg := wardwatch.ErrorMessage(err)
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: message %q lacks %q", tt.name, msg, w)
			}
		}
	}
	big := strings.Repeat("#", MaxProfileSize+1)
	if _, err := ParseProfile([]byte(big)); wardwatch.ErrorCode(err) != wardwatch.ETOOLARGE {
		t.Errorf("oversized profile: %v", err)
	}
}

func TestProfileValidate(t *testing.T) {
	ok := Field{Name: "t", Metric: wardwatch.MetricTemperature, Table: TableHoldingRegister, Type: TypeInt16, Order: OrderABCD, Scale: 1, Unit: UnitCelsius}
	many := make([]Field, maxFields+1)
	for i := range many {
		many[i] = ok
		many[i].Name = "t" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + strings.Repeat("y", i/26)
	}
	tests := []struct {
		name string
		p    Profile
		want string
	}{
		{"no name", Profile{Fields: []Field{ok}}, "name is required"},
		{"negative gap", Profile{Name: "p", MaxGap: -1, Fields: []Field{ok}}, "max_gap -1"},
		{"too many fields", Profile{Name: "p", Fields: many}, "more than the 256 allowed"},
		{"missing unit", Profile{Name: "p", Fields: []Field{func() Field { f := ok; f.Unit = ""; return f }()}}, "unit is required for metric temperature (C, F, K)"},
		{"register field without order", Profile{Name: "p", Fields: []Field{func() Field { f := ok; f.Order = ""; return f }()}}, `order ""`},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	if err := (Profile{Name: "p", Fields: []Field{ok}}).Validate(); err != nil {
		t.Errorf("valid profile: %v", err)
	}
}
