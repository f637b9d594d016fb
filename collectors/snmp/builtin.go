package snmp

import "github.com/wardwatch/wardwatch"

// ExampleArc is the OID arc of WardWatch's example pump MIB, served by the
// simulator (sim/snmpsim) and the test agents. It lies under the
// enterprise number 32473, which IANA reserves for documentation and
// examples (RFC 5612): it belongs to no vendor and no real pump answers
// there. Real deployments write a profile for their pump server's MIB.
const ExampleArc = "1.3.6.1.4.1.32473.7"

// Names of the built-in profiles.
const (
	ExamplePumpProfile       = "wardwatch-example-pump"
	ExamplePumpServerProfile = "wardwatch-example-pump-server"
)

// BuiltinProfiles returns the profiles WardWatch ships, both for the
// example MIB under ExampleArc:
//
//   - wardwatch-example-pump, a single pump's agent: scalars under
//     ExampleArc.1, a text status ("RUN", "STOP"…), a power-source enum,
//     volumes in 0.1 ml and an alarm flag word.
//   - wardwatch-example-pump-server, a pump server: the pump table
//     ExampleArc.2.1.1 (one row per pump, an integer status, a TruthValue
//     for mains power, the infused volume in 0.01 ml) and the alarm table
//     ExampleArc.2.2.1 indexed by pump index and alarm number.
//
// Each call returns fresh copies.
func BuiltinProfiles() []Profile {
	return []Profile{examplePump(), examplePumpServer()}
}

// BuiltinProfile returns the built-in profile called name.
func BuiltinProfile(name string) (Profile, bool) {
	for _, p := range BuiltinProfiles() {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

func examplePump() Profile {
	s := func(n string) *Field { return &Field{OID: ExampleArc + ".1." + n + ".0"} }
	p := Profile{
		Name:        ExamplePumpProfile,
		Description: "WardWatch example MIB, single pump (scalars under 1.3.6.1.4.1.32473.7.1; enterprise 32473 is reserved for documentation, RFC 5612).",
		Serial:      s("1"),
		Model:       s("2"),
		Firmware:    s("3"),
		Status:      s("4"),
		OnAC:        s("5"),
		Battery:     s("6"),
		Rate:        s("7"),
		VTBI:        s("8"),
		Infused:     s("9"),
		AlarmBits: &AlarmBits{OID: ExampleArc + ".1.10.0", Bits: []AlarmBit{
			{Bit: 0, Code: "occlusion", Text: "Downstream occlusion", Priority: wardwatch.PriorityHigh},
			{Bit: 1, Code: "air_in_line", Text: "Air in line", Priority: wardwatch.PriorityHigh},
			{Bit: 2, Code: "near_end", Text: "Infusion near end", Priority: wardwatch.PriorityMedium},
			{Bit: 3, Code: "low_battery", Text: "Battery low", Priority: wardwatch.PriorityMedium},
			{Bit: 4, Code: "door_open", Text: "Door open", Priority: wardwatch.PriorityHigh},
			{Bit: 5, Code: "maintenance_due", Text: "Maintenance due", Priority: wardwatch.PriorityLow},
		}},
		DrugLibrary:        s("11"),
		DrugLibraryVersion: s("12"),
	}
	p.Status.Enum = map[string]string{
		"STANDBY": string(wardwatch.PumpIdle),
		"RUN":     string(wardwatch.PumpInfusing),
		"STOP":    string(wardwatch.PumpPaused),
		"KVO":     string(wardwatch.PumpKVO),
		"END":     string(wardwatch.PumpComplete),
		"ALARM":   string(wardwatch.PumpAlarming),
		"OFF":     string(wardwatch.PumpOff),
	}
	p.OnAC.Enum = map[string]string{"1": "true", "2": "false"} // mains(1), battery(2)
	p.Rate.Scale, p.VTBI.Scale, p.Infused.Scale = 0.1, 0.1, 0.1
	return p
}

func examplePumpServer() Profile {
	entry := ExampleArc + ".2.1.1"
	col := func(n string) *Field { return &Field{OID: entry + "." + n} }
	alarms := ExampleArc + ".2.2.1"
	p := Profile{
		Name:               ExamplePumpServerProfile,
		Description:        "WardWatch example MIB, pump server: pump table 1.3.6.1.4.1.32473.7.2.1 and alarm table 1.3.6.1.4.1.32473.7.2.2 (enterprise 32473 is reserved for documentation, RFC 5612).",
		Table:              entry,
		Serial:             col("2"),
		Model:              col("3"),
		Firmware:           col("4"),
		Status:             col("5"),
		OnAC:               col("6"), // TruthValue: the default mapping
		Battery:            col("7"),
		Rate:               col("8"),
		VTBI:               col("9"),
		Infused:            col("10"),
		DrugLibrary:        col("11"),
		DrugLibraryVersion: col("12"),
		AlarmTable: &AlarmTable{
			Table:    alarms,
			Code:     &Field{OID: alarms + ".2"},
			Text:     &Field{OID: alarms + ".3"},
			Priority: &Field{OID: alarms + ".4", Enum: map[string]string{"1": "high", "2": "medium", "3": "low"}},
		},
	}
	p.Status.Enum = map[string]string{
		"1": string(wardwatch.PumpIdle),
		"2": string(wardwatch.PumpInfusing),
		"3": string(wardwatch.PumpPaused),
		"4": string(wardwatch.PumpKVO),
		"5": string(wardwatch.PumpComplete),
		"6": string(wardwatch.PumpAlarming),
		"7": string(wardwatch.PumpOff),
	}
	p.Rate.Scale, p.VTBI.Scale, p.Infused.Scale = 0.1, 0.1, 0.01
	return p
}
