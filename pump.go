package wardwatch

import "time"

// PumpStatus is an infusion pump channel's operating state, normalised from
// whatever the pump or its server reports (see a profile's enum mapping).
type PumpStatus string

// Pump states, after domain-requirements §5.
const (
	PumpInfusing PumpStatus = "infusing"
	PumpPaused   PumpStatus = "paused"
	PumpIdle     PumpStatus = "idle" // standby
	PumpKVO      PumpStatus = "kvo"
	PumpComplete PumpStatus = "complete"
	PumpAlarming PumpStatus = "alarm"
	PumpOff      PumpStatus = "off"
	PumpUnknown  PumpStatus = "unknown"
)

// Valid reports whether s is a known pump state.
func (s PumpStatus) Valid() bool {
	switch s {
	case PumpInfusing, PumpPaused, PumpIdle, PumpKVO, PumpComplete, PumpAlarming, PumpOff, PumpUnknown:
		return true
	}
	return false
}

// InUse reports whether a pump in state s is attached to a patient.
func (s PumpStatus) InUse() bool {
	return s == PumpInfusing || s == PumpPaused || s == PumpKVO || s == PumpAlarming
}

// Priority is an alarm's or alert's priority.
type Priority string

// Priorities, highest first.
const (
	PriorityHigh   Priority = "high"
	PriorityMedium Priority = "medium"
	PriorityLow    Priority = "low"
)

// PumpAlarm is one alarm active on a pump.
type PumpAlarm struct {
	Code     string
	Text     string
	Priority Priority
}

// PumpState is one poll's view of one pump. Numbers a pump did not report
// are NaN; Battery is in percent, volumes in ml, rates in ml/h.
type PumpState struct {
	Time     time.Time // when WardWatch read it (UTC)
	TargetID int64     // the SNMP target it came through
	Serial   string    // the pump's serial number: its identity
	Model    string
	Status   PumpStatus
	OnAC     bool
	Battery  float64
	Rate     float64 // ml/h
	VTBI     float64 // volume to be infused, ml
	Infused  float64 // volume infused, ml
	Alarms   []PumpAlarm
	Firmware string
	// DrugLibrary and DrugLibraryVersion name the loaded drug library.
	DrugLibrary        string
	DrugLibraryVersion string
}
