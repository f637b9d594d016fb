// Package alerts decides when WardWatch raises an alert and what happens to
// it afterwards. It is pure: no goroutines, no I/O, and time is always an
// argument, so a test can feed it a recorded sequence and check what comes
// out.
//
// The pieces, in the order data flows through them:
//
//   - Rules (Rule) say what condition raises an alert, at what priority, with
//     what delay, deadband and minimum clear time. Profiles (ProfileFor) seed
//     every monitored unit's rules from the cited defaults in
//     domain-requirements §1–2.
//   - Evaluators turn observations into condition changes (Change): the
//     Evaluator judges sensor readings (cold chain, HVAC, doors) and
//     equipment health (silent sensors, offline gateways, batteries,
//     calibration) and the batteries of assets' tags (TagRules, alerts about
//     the asset); the AssetEvaluator judges positions and zone changes
//     (geofences, missing assets, PAR levels, PM dates, status automation);
//     the PumpEvaluator judges infusion-pump states. The Evaluator also keeps
//     excursion records (Excursion).
//   - The Book is the alert lifecycle (ISA-18.2 with latching): one Alert per
//     (rule, subject), acknowledged, shelved, suppressed and resolved by
//     users, every transition returned as an Audit record.
//   - Escalation policies (Policy) decide which notifications (Notification)
//     are due; the notify sub-package delivers them.
//   - Compliance maths: excursion measurement, the daily min/max log, mean
//     kinetic temperature, and CSV export for inspectors.
//
// Delay semantics, stated once: a rule's condition is judged on each reading,
// and a reading's value stands until the next reading of its metric while
// the sensor keeps reporting; it stops standing when the sensor falls silent
// for longer than its silence threshold (2 intervals, at most 30 min; 4 h for
// an asset's tag, DefaultTagHold), and a silence breaks a continuous run. A continuous delay raises when
// the condition has held without a break for the delay; a cumulative delay
// raises when the time the condition held within the rolling window reaches
// the delay. An active alert clears only when the value is back inside the
// limit by the deadband and has stayed there for the minimum clear time.
// Alert times are the instants the rule was met (the raise time of a
// 15-minute delay is 15 minutes after the condition began), whatever the
// cadence of the caller's ticks.
package alerts
