package alerts

import (
	"github.com/wardwatch/wardwatch"
)

// IDs of the built-in rules. Geofence rules are "zone_enter:<zone kind>"
// and "zone_exit:<zone kind>" (see ZoneRule).
const (
	RuleSensorSilent       = "sensor_silent"
	RuleSensorFault        = "sensor_fault"
	RuleBatteryLow         = "battery_low"
	RuleGatewayOffline     = "gateway_offline"
	RuleDeviceOffline      = "device_offline"
	RuleCalibrationDue     = "calibration_due"
	RuleCalibrationExpired = "calibration_expired"

	// Tag battery rules (TagRules): threshold rules judged on assets'
	// tags, their alerts about the asset.
	RuleTagBatteryLow        = "tag_battery_low"         // volts
	RuleTagBatteryPercentLow = "tag_battery_percent_low" // percent

	RuleAssetMissing  = "asset_missing"
	RulePARCleanLow   = "par_clean_low"
	RulePARSoiledHigh = "par_soiled_high"
	RulePMDue         = "pm_due"
	RulePMOverdue     = "pm_overdue"

	RulePumpAlarm         = "pump_alarm"
	RulePumpBatteryLow    = "pump_battery_low"
	RulePumpOffline       = "pump_offline"
	RulePumpTargetOffline = "pump_target_offline"
	RulePumpDrugLibrary   = "pump_drug_library"
)

// BuiltinRules lists the descriptors of the built-in (non-threshold) rules
// with their default priorities and teams (domain-requirements §3 defaults:
// medium for sensor offline, low battery and calibration expiring; low for
// PAR and PM due; §4 defaults: missing after 7 days is low; §5 defaults: pump
// alarms go to biomed). A team of "" means the unit's team. Evaluators take
// replacements by ID (Config.Builtins and the like).
func BuiltinRules() []Rule {
	eq := func(id, name string, p Priority, t Team) Rule {
		return Rule{ID: id, Name: name, Category: CategoryEquipment, Priority: p, Team: t}
	}
	as := func(id, name string, p Priority) Rule {
		return Rule{ID: id, Name: name, Category: CategoryAsset, Priority: p, Team: TeamBiomed}
	}
	pu := func(id, name string, p Priority) Rule {
		return Rule{ID: id, Name: name, Category: CategoryPump, Priority: p, Team: TeamBiomed}
	}
	return []Rule{
		eq(RuleSensorSilent, "Sensor silent (no data)", PriorityMedium, ""),
		eq(RuleSensorFault, "Sensor fault (reading out of physical range)", PriorityMedium, ""),
		eq(RuleGatewayOffline, "Gateway offline", PriorityMedium, TeamFacilities),
		eq(RuleDeviceOffline, "Monitoring device offline", PriorityMedium, TeamFacilities),
		eq(RuleCalibrationDue, "Calibration due within 30 days", PriorityMedium, ""),
		// §1 defaults: on expiry the unit's monitoring is non-compliant.
		eq(RuleCalibrationExpired, "Calibration expired (monitoring non-compliant)", PriorityHigh, ""),
		as(RuleAssetMissing, "Asset missing (not seen for 7 days)", PriorityLow),
		as(RulePARCleanLow, "Clean stock below PAR minimum", PriorityLow),
		as(RulePARSoiledHigh, "Soiled stock above PAR maximum", PriorityLow),
		as(RulePMDue, "Preventive maintenance due within 30 days", PriorityLow),
		as(RulePMOverdue, "Preventive maintenance overdue", PriorityMedium),
		pu(RulePumpAlarm, "Infusion pump alarm", PriorityHigh),
		pu(RulePumpBatteryLow, "Infusion pump battery low (not on mains)", PriorityMedium),
		pu(RulePumpOffline, "Infusion pump offline", PriorityMedium),
		pu(RulePumpTargetOffline, "Pump server offline", PriorityMedium),
		pu(RulePumpDrugLibrary, "Drug library not the approved version", PriorityMedium),
	}
}

// builtins holds the built-in descriptors in use, defaults replaced by
// overrides with the same ID.
type builtins map[string]Rule

// newBuiltins validates overrides and merges them over the defaults.
func newBuiltins(overrides []Rule) (builtins, error) {
	b := make(builtins)
	for _, r := range BuiltinRules() {
		b[r.ID] = r
	}
	for _, r := range overrides {
		if _, ok := b[r.ID]; !ok {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Rule %q is not a built-in rule.", r.ID)
		}
		if r.IsThreshold() {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Built-in rule %q takes no threshold.", r.ID)
		}
		if err := r.Validate(); err != nil {
			return nil, err
		}
		b[r.ID] = r
	}
	return b, nil
}
