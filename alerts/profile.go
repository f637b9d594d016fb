package alerts

import (
	"math"
	"strconv"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Range is a unit's in-range band for one metric: readings outside it are
// excursions, and the daily log reports time in range against it. An open
// side is ±Inf.
type Range struct {
	Metric    wardwatch.Metric
	Low, High float64
	// Product marks a band that protects stored product (vaccines, blood,
	// drugs, reagents): an excursion during which a latched rule raised
	// quarantines the unit ("DO NOT USE") until a pharmacist or coordinator
	// clears it.
	Product bool
}

// contains reports whether v is inside r (the limits are in range).
func (r Range) contains(v float64) bool { return v >= r.Low && v <= r.High }

// Profile is the seeded template a monitored unit is judged by: its team,
// in-range bands and rules. Units may override the rules (Unit.Rules).
type Profile struct {
	Profile wardwatch.UnitProfile
	Team    Team
	Ranges  []Range
	Rules   []Rule
	// MKTLimit, when > 0, marks a unit whose mean kinetic temperature is
	// reported, and the limit its 30-day MKT is flagged above: 25 °C for
	// controlled room temperature, 8 °C for controlled cold
	// (domain-requirements §1 defaults, "MKT report").
	MKTLimit float64
}

// ProfileOptions are the site choices that change a profile's seeded rules.
// The zero value is the safe default.
type ProfileOptions struct {
	// BareProbe marks an unbuffered air probe: cold-chain high and low
	// delays become 30 min, matching vendor defaults (§1 defaults: "For
	// bare air probes, use 30 min delays"), instead of 15 and 5 min.
	BareProbe bool
	// HoldsTwoToEight marks a blood-bank refrigerator that also holds a
	// 2–8 °C product (RhIG): the low alarm moves from 1.5 to 2.5 °C and
	// the range to 2–6 °C (§1.2: set-points match the most restrictive
	// product in the unit).
	HoldsTwoToEight bool
	// NoRHWaiver marks an operating room whose site has not elected the
	// CMS S&C 13-25 RH waiver: the low-RH limit is 35 % instead of 20 %
	// (§2.4, §2 defaults).
	NoRHWaiver bool
	// IsolationIdle marks an AII or PE room not in use for isolation:
	// pressure rules raise at medium priority and do not latch (§2
	// defaults, "Occupancy-aware AII").
	IsolationIdle bool
	// Hazardous marks a compounding room that is a USP <800>
	// hazardous-drug buffer room: a −2.5 to −7.5 Pa band instead of
	// USP <797>'s ≥ +5 Pa (§2.3).
	Hazardous bool
}

// Defaults shared by the seeded rules (domain-requirements §1 defaults,
// "Delay modes", and §2 defaults, "Pressure alarm logic"; all proposals).
const (
	tempDeadband     = 0.3 // °C
	tempMinClear     = 5 * time.Minute
	humidityDeadband = 2.0 // %RH
	pressureDeadband = 0.5 // Pa
	pressureAverage  = 30 * time.Second
	pressureDelay    = 60 * time.Second
	pressureMinClear = 60 * time.Second
	pressurePersist  = 10 * time.Minute
	hvacDelay        = 10 * time.Minute // humidity/temperature out of band
	doorAjarDelay    = 90 * time.Second // §1.5: door-ajar alarm after 60–90 s
)

var (
	inf    = math.Inf(1)
	negInf = math.Inf(-1)
)

// temp is a latched cold-chain temperature rule.
func temp(id, name string, c Condition, limit float64, delay time.Duration, p Priority) Rule {
	return Rule{ID: id, Name: name, Category: CategoryEnvironment, Priority: p, Latched: true,
		Metric: wardwatch.MetricTemperature, Condition: c, Limit: limit, Delay: delay,
		Deadband: tempDeadband, MinClear: tempMinClear}
}

// unlatched returns r without its latch.
func unlatched(r Rule) Rule { r.Latched = false; return r }

func doorAjar() Rule {
	return Rule{ID: "door_ajar", Name: "Door ajar", Category: CategoryEnvironment, Priority: PriorityMedium,
		Metric: wardwatch.MetricDoorOpen, Condition: Above, Limit: 0.5, Delay: doorAjarDelay}
}

func humidityHigh(limit float64) Rule {
	return Rule{ID: "humidity_high", Name: "Humidity above " + pct(limit), Category: CategoryEnvironment,
		Priority: PriorityMedium, Metric: wardwatch.MetricHumidity, Condition: Above, Limit: limit,
		Delay: hvacDelay, Deadband: humidityDeadband, MinClear: tempMinClear}
}

// pressure is a room pressure rule judged on the 30-s mean.
func pressure(id, name string, c Condition, limit float64, delay time.Duration, p Priority, latched bool) Rule {
	return Rule{ID: id, Name: name, Category: CategoryEnvironment, Priority: p, Latched: latched,
		Metric: wardwatch.MetricPressure, Condition: c, Limit: limit, Delay: delay,
		Deadband: pressureDeadband, MinClear: pressureMinClear, Average: pressureAverage}
}

func pct(v float64) string  { return trim(v) + " %RH" }
func degC(v float64) string { return trim(v) + " °C" }
func pa(v float64) string   { return trim(v) + " Pa" }

// trim formats v with one decimal and a real minus sign.
func trim(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if v < 0 {
		s = "−" + s[1:]
	}
	return s
}

// coldChain returns the high and low rules of a cold-chain band.
func coldChain(low, high float64, highDelay, lowDelay time.Duration, o ProfileOptions) []Rule {
	if o.BareProbe {
		highDelay, lowDelay = 30*time.Minute, 30*time.Minute
	}
	return []Rule{
		temp("temperature_high", "Temperature above "+degC(high), Above, high, highDelay, PriorityHigh),
		temp("temperature_low", "Temperature below "+degC(low), Below, low, lowDelay, PriorityHigh),
	}
}

// ProfileFor returns the seeded profile p with the site options o, or an
// EINVALID error for an unknown profile. Figures cite
// domain-requirements.md; those marked "proposal" there are engineering
// judgement, editable per unit.
func ProfileFor(p wardwatch.UnitProfile, o ProfileOptions) (Profile, error) {
	tempRange := func(lo, hi float64) Range {
		return Range{Metric: wardwatch.MetricTemperature, Low: lo, High: hi, Product: true}
	}
	switch p {
	case wardwatch.ProfileVaccineFridge:
		// §1.1 (CDC toolkit): 2–8 °C; freezing at ≤ 0 °C can destroy
		// vaccines at once. §1 defaults: high > 8 sustained 15 min, low < 2
		// sustained 5 min (freezing is irreversible), critical ≤ 0 with no
		// delay (proposal); door ajar 60–90 s (§1.5).
		rules := append([]Rule{
			temp("temperature_freezing", "Temperature at or below "+degC(0), AtOrBelow, 0, 0, PriorityCritical),
		}, coldChain(2, 8, 15*time.Minute, 5*time.Minute, o)...)
		return Profile{Profile: p, Team: TeamPharmacy, Ranges: []Range{tempRange(2, 8)},
			Rules: append(rules, doorAjar())}, nil

	case wardwatch.ProfileVaccineFreezer:
		// §1.1: −50 to −15 °C; §1 defaults: both sides sustained 15 min.
		return Profile{Profile: p, Team: TeamPharmacy, Ranges: []Range{tempRange(-50, -15)},
			Rules: append(coldChain(-50, -15, 15*time.Minute, 15*time.Minute, o), doorAjar())}, nil

	case wardwatch.ProfileUltraColdFreeze:
		// §1.1: −80 to −60 °C; §1 defaults: high sustained 15 min, low
		// with no delay stated (so none).
		rules := coldChain(-80, -60, 15*time.Minute, 0, o)
		if !o.BareProbe {
			rules[1].Delay = 0
		}
		return Profile{Profile: p, Team: TeamPharmacy, Ranges: []Range{tempRange(-80, -60)},
			Rules: append(rules, doorAjar())}, nil

	case wardwatch.ProfilePharmacyFridge:
		// §1.3 USP <659> refrigerator / controlled cold 2–8 °C; §1 defaults:
		// "as vaccine fridge" for high and low, no critical; MKT flagged
		// above 8 °C.
		return Profile{Profile: p, Team: TeamPharmacy, Ranges: []Range{tempRange(2, 8)},
			Rules:    append(coldChain(2, 8, 15*time.Minute, 5*time.Minute, o), doorAjar()),
			MKTLimit: 8}, nil

	case wardwatch.ProfilePharmacyFreezer:
		// §1.3 USP <659> freezer −25 to −10 °C; §1 defaults: both sides
		// sustained 15 min.
		return Profile{Profile: p, Team: TeamPharmacy, Ranges: []Range{tempRange(-25, -10)},
			Rules: append(coldChain(-25, -10, 15*time.Minute, 15*time.Minute, o), doorAjar())}, nil

	case wardwatch.ProfileBloodFridge:
		// §1.2 (21 CFR 640.11, AABB): store at 1–6 °C; alarm set-points
		// inside the range, near 1.5 and 5.5 °C, 2.5 °C when the unit also
		// holds a 2–8 °C product. §3 defaults: "blood fridge out of range"
		// is critical. The set-point delay (5 min) is a proposal.
		lo, loAlarm := 1.0, 1.5
		if o.HoldsTwoToEight {
			lo, loAlarm = 2.0, 2.5
		}
		delay := 5 * time.Minute
		if o.BareProbe {
			delay = 30 * time.Minute
		}
		outOfRange := temp("temperature_out_of_range", "Temperature outside "+trim(lo)+"–"+degC(6), Outside, 0, 0, PriorityCritical)
		outOfRange.Low, outOfRange.High = lo, 6
		return Profile{Profile: p, Team: TeamLab, Ranges: []Range{tempRange(lo, 6)}, Rules: []Rule{
			outOfRange,
			unlatched(temp("temperature_high", "Temperature above alarm set-point "+degC(5.5), Above, 5.5, delay, PriorityHigh)),
			unlatched(temp("temperature_low", "Temperature below alarm set-point "+degC(loAlarm), Below, loAlarm, delay, PriorityHigh)),
			doorAjar(),
		}}, nil

	case wardwatch.ProfilePlasmaFreezer:
		// §1.2: FFP and cryoprecipitate ≤ −18 °C; §1 defaults: alarm at
		// −20 °C as a margin inside the range (proposal). Leaving the range
		// is critical like a blood fridge (§3 defaults); the 5-min delay for
		// door openings and the 15-min set-point delay are proposals.
		return Profile{Profile: p, Team: TeamLab, Ranges: []Range{tempRange(negInf, -18)}, Rules: []Rule{
			temp("temperature_out_of_range", "Temperature above "+degC(-18), Above, -18, 5*time.Minute, PriorityCritical),
			unlatched(temp("temperature_high", "Temperature above alarm set-point "+degC(-20), Above, -20, 15*time.Minute, PriorityHigh)),
			doorAjar(),
		}}, nil

	case wardwatch.ProfileLabFridge:
		// §1.4 and §1 defaults: 2–8 °C (per-reagent overrides). Lab units
		// rarely have buffered probes, so the 30-min vendor delays apply.
		o.BareProbe = true
		return Profile{Profile: p, Team: TeamLab, Ranges: []Range{tempRange(2, 8)},
			Rules: append(coldChain(2, 8, 0, 0, o), doorAjar())}, nil

	case wardwatch.ProfileCRTRoom:
		// §1.3 USP <659>: CRT 20–25 °C, excursions 15–30 °C allowed, spikes
		// to 40 °C only if MKT ≤ 25 °C; ≤ 60 %RH storage (<795>/<797>).
		// §1 defaults: warning outside 20–25 sustained 60 min, alarm outside
		// 15–30 sustained 15 min (proposal), critical above 40 °C; MKT
		// flagged above 25 °C.
		warning := unlatched(temp("temperature_warning", "Temperature outside "+trim(20)+"–"+degC(25), Outside, 0, time.Hour, PriorityMedium))
		warning.Low, warning.High = 20, 25
		alarm := temp("temperature_alarm", "Temperature outside "+trim(15)+"–"+degC(30), Outside, 0, 15*time.Minute, PriorityHigh)
		alarm.Low, alarm.High = 15, 30
		return Profile{Profile: p, Team: TeamPharmacy, MKTLimit: 25,
			Ranges: []Range{tempRange(20, 25), {Metric: wardwatch.MetricHumidity, Low: negInf, High: 60}},
			Rules: []Rule{
				warning, alarm,
				temp("temperature_critical", "Temperature above "+degC(40), Above, 40, 0, PriorityCritical),
				humidityHigh(60),
			}}, nil

	case wardwatch.ProfileOperatingRoom:
		// §2.1 ASHRAE 170 Table 7.1: positive, 20–60 %RH, 20–24 °C. §2
		// defaults: ≥ 2.5 Pa (proposal), out of band 60 s on the 30-s mean,
		// persistent loss at 10 min, sign reversal at once; RH and
		// temperature out of band 10 min; OR low RH (< 20 %, or < 35 %
		// without the CMS waiver) is high priority and needs a corrective
		// action note, so it latches (§2.4, §3 defaults).
		rhLow := 20.0
		if o.NoRHWaiver {
			rhLow = 35
		}
		tband := Rule{ID: "temperature_out_of_band", Name: "Temperature outside " + trim(20) + "–" + degC(24),
			Category: CategoryEnvironment, Priority: PriorityMedium, Metric: wardwatch.MetricTemperature,
			Condition: Outside, Low: 20, High: 24, Delay: hvacDelay, Deadband: tempDeadband, MinClear: tempMinClear}
		rh := Rule{ID: "humidity_low", Name: "Humidity below " + pct(rhLow), Category: CategoryEnvironment,
			Priority: PriorityHigh, Latched: true, Metric: wardwatch.MetricHumidity, Condition: Below, Limit: rhLow,
			Delay: hvacDelay, Deadband: humidityDeadband, MinClear: tempMinClear}
		return Profile{Profile: p, Team: TeamFacilities,
			Ranges: []Range{
				{Metric: wardwatch.MetricPressure, Low: 2.5, High: inf},
				{Metric: wardwatch.MetricHumidity, Low: rhLow, High: 60},
				{Metric: wardwatch.MetricTemperature, Low: 20, High: 24},
			},
			Rules: append(positiveRoom(2.5, PriorityHigh), rh, humidityHigh(60), tband)}, nil

	case wardwatch.ProfileIsolationRoom:
		// §2.2 (CDC/HICPAC): at least 2.5 Pa negative to the corridor; §2.1:
		// ≤ 60 %RH. §3 defaults: AII reversal is critical, loss of AII
		// negative pressure latches.
		return Profile{Profile: p, Team: TeamFacilities,
			Ranges: []Range{
				{Metric: wardwatch.MetricPressure, Low: negInf, High: -2.5},
				{Metric: wardwatch.MetricHumidity, Low: negInf, High: 60},
			},
			Rules: append(negativeRoom(o), humidityHigh(60))}, nil

	case wardwatch.ProfileProtectiveRoom:
		// §2.2: at least +2.5 Pa (Streifel's ideal +8 Pa); §2.1: ≤ 60 %RH.
		return Profile{Profile: p, Team: TeamFacilities,
			Ranges: []Range{
				{Metric: wardwatch.MetricPressure, Low: 2.5, High: inf},
				{Metric: wardwatch.MetricHumidity, Low: negInf, High: 60},
			},
			Rules: append(isolation(positiveRoom(2.5, PriorityHigh), o), humidityHigh(60))}, nil

	case wardwatch.ProfileCompounding:
		// §2.3 USP <797>: ante/buffer ≥ +0.020 in. w.c. (≈ +5 Pa); USP <800>
		// HD buffer −0.010 to −0.030 in. w.c. (≈ −2.5 to −7.5 Pa), a band
		// because "too negative" is a problem too; 20 °C or cooler and
		// ≤ 60 %RH (low-quality source: verify against the chapter).
		var rules []Rule
		var prange Range
		if o.Hazardous {
			prange = Range{Metric: wardwatch.MetricPressure, Low: -7.5, High: -2.5}
			band := pressure("pressure_out_of_band", "Pressure outside "+trim(-7.5)+" to "+pa(-2.5), Outside, 0, pressureDelay, PriorityHigh, false)
			band.Low, band.High = -7.5, -2.5
			persist := pressure("pressure_loss_persistent", "Pressure outside "+trim(-7.5)+" to "+pa(-2.5)+" for 10 min", Outside, 0, pressurePersist, PriorityCritical, true)
			persist.Low, persist.High = -7.5, -2.5
			rules = []Rule{band,
				pressure("pressure_reversal", "Pressure reversed (room positive)", Above, 0, 0, PriorityCritical, true),
				persist}
		} else {
			prange = Range{Metric: wardwatch.MetricPressure, Low: 5, High: inf}
			rules = positiveRoom(5, PriorityHigh)
		}
		return Profile{Profile: p, Team: TeamPharmacy,
			Ranges: []Range{prange,
				{Metric: wardwatch.MetricTemperature, Low: negInf, High: 20},
				{Metric: wardwatch.MetricHumidity, Low: negInf, High: 60},
			},
			Rules: append(rules,
				unlatched(Rule{ID: "temperature_high", Name: "Temperature above " + degC(20), Category: CategoryEnvironment,
					Priority: PriorityMedium, Metric: wardwatch.MetricTemperature, Condition: Above, Limit: 20,
					Delay: hvacDelay, Deadband: tempDeadband, MinClear: tempMinClear}),
				humidityHigh(60))}, nil
	}
	return Profile{}, wardwatch.Errorf(wardwatch.EINVALID, "Unknown unit profile %q.", p)
}

// positiveRoom returns the pressure rules of a room held at least min Pa
// positive.
func positiveRoom(min float64, p Priority) []Rule {
	return []Rule{
		pressure("pressure_low", "Pressure below "+pa(min), Below, min, pressureDelay, p, false),
		pressure("pressure_reversal", "Pressure reversed (room negative)", Below, 0, 0, PriorityHigh, true),
		pressure("pressure_loss_persistent", "Pressure below "+pa(min)+" for 10 min", Below, min, pressurePersist, PriorityCritical, true),
	}
}

// negativeRoom returns an AII room's pressure rules.
func negativeRoom(o ProfileOptions) []Rule {
	return isolation([]Rule{
		pressure("pressure_high", "Pressure above "+pa(-2.5)+" (not negative enough)", Above, -2.5, pressureDelay, PriorityHigh, false),
		pressure("pressure_reversal", "Pressure reversed (room positive)", Above, 0, 0, PriorityCritical, true),
		pressure("pressure_loss_persistent", "Pressure above "+pa(-2.5)+" for 10 min", Above, -2.5, pressurePersist, PriorityCritical, true),
	}, o)
}

// isolation lowers an isolation room's pressure rules to warnings when the
// room is not in use for isolation.
func isolation(rules []Rule, o ProfileOptions) []Rule {
	if !o.IsolationIdle {
		return rules
	}
	for i := range rules {
		rules[i].Priority = PriorityMedium
		rules[i].Latched = false
	}
	return rules
}

// EquipmentRules are the threshold rules every sensor is judged by,
// whatever its unit: a logger's low battery. Assets' tags are judged by
// TagRules instead. The 20 % limit with a
// 60-min delay (cold batteries read low for a while after a door opening)
// is a proposal.
func EquipmentRules() []Rule {
	return []Rule{{
		ID: RuleBatteryLow, Name: "Battery low (below 20 %)", Category: CategoryEquipment, Priority: PriorityMedium,
		Metric: wardwatch.MetricBatteryPercent, Condition: Below, Limit: 20, Delay: time.Hour,
		Deadband: 5, MinClear: 10 * time.Minute,
	}}
}

// Defaults of the tag battery rules (TagRules; proposals, not from a
// standard). Asset tags run on lithium–manganese-dioxide coin cells (CR2032
// about 225 mAh, CR2477 about 1000 mAh, 3 V nominal): they read 2.9–3.2 V
// through most of their life, fall steeply past a knee near 2.7 V, and are
// rated to a 2.0 V end point, about where a tag's radio browns out during
// its transmit pulse. Below 2.5 V a few percent of the capacity is left:
// weeks for a tag averaging tens of µA, days for a fast-advertising one. An
// aged cell's internal resistance makes the voltage dip 0.1–0.3 V during
// radio bursts, and cold (a cart parked in a cold store) lowers it for
// hours, so the rule wants 24 h of low readings with no good one between,
// and clears only at 2.8 V held for an hour: a fresh cell reads 3.0 V or
// more at once, a tired cell warming up does not.
const (
	TagBatteryLowVolts     = 2.5            // V
	TagBatteryVoltDeadband = 0.3            // V: clears at 2.8 V
	TagBatteryDelay        = 24 * time.Hour // continuous
	TagBatteryMinClear     = time.Hour
	// Tags reporting a percentage: vendors map volts to percent in their
	// own ways (many linearly from 2.0 to 3.0 V, putting 20 % near 2.2 V,
	// days from the end), so the delay is shorter.
	TagBatteryLowPercent      = 20.0          // %
	TagBatteryPercentDeadband = 10.0          // %: clears at 30 %
	TagBatteryPercentDelay    = 6 * time.Hour // continuous
)

// TagRules are the threshold rules every asset tag is judged by: its
// battery voltage (Eddystone-TLM) below TagBatteryLowVolts, or the battery
// percentage some vendors report below TagBatteryLowPercent. Both are
// medium priority (domain-requirements §3 defaults: low battery) and go to
// biomed, who change the batteries of tracked equipment.
func TagRules() []Rule {
	return []Rule{{
		ID: RuleTagBatteryLow, Name: "Tag battery low (below " + strconv.FormatFloat(TagBatteryLowVolts, 'f', 1, 64) + " V)",
		Category: CategoryEquipment, Priority: PriorityMedium, Team: TeamBiomed,
		Metric: wardwatch.MetricBatteryVoltage, Condition: Below, Limit: TagBatteryLowVolts, Delay: TagBatteryDelay,
		Deadband: TagBatteryVoltDeadband, MinClear: TagBatteryMinClear,
	}, {
		ID: RuleTagBatteryPercentLow, Name: "Tag battery low (below " + strconv.FormatFloat(TagBatteryLowPercent, 'f', 0, 64) + " %)",
		Category: CategoryEquipment, Priority: PriorityMedium, Team: TeamBiomed,
		Metric: wardwatch.MetricBatteryPercent, Condition: Below, Limit: TagBatteryLowPercent, Delay: TagBatteryPercentDelay,
		Deadband: TagBatteryPercentDeadband, MinClear: TagBatteryMinClear,
	}}
}
