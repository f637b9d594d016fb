// Package snmp polls infusion pumps and pump servers over SNMP (gosnmp)
// and turns what they report into wardwatch.PumpState values.
//
// # Read only
//
// The package sends GET, GETNEXT and GETBULK requests only. It never sends
// a SET (a test checks the source), and the reader interface polls go
// through has no Set method.
//
// # Profiles
//
// No infusion pump vendor publishes an SNMP MIB, so nothing is built in
// for a real device. A Profile (YAML, see ParseProfile) tells the
// collector where an agent keeps each pump field, how to scale numbers and
// how to map enumerations:
//
//	name: acme-pump-gateway
//	table: 1.3.6.1.4.1.99999.1.1          # the pump table's entry: one row per pump
//	serial: {oid: 1.3.6.1.4.1.99999.1.1.2}
//	status:
//	  oid: 1.3.6.1.4.1.99999.1.1.3
//	  enum: {1: idle, 2: infusing, 3: paused, 9: alarm}
//	on_ac: {oid: 1.3.6.1.4.1.99999.1.1.4}  # TruthValue: 1 true, 2 false
//	rate: {oid: 1.3.6.1.4.1.99999.1.1.5, scale: 0.1}   # 0.1 ml/h
//	drug_library_version: {oid: 1.3.6.1.4.1.99999.2.0} # outside the table: every pump
//	alarm_table:
//	  table: 1.3.6.1.4.1.99999.3.1        # rows indexed <pump index>.<alarm number>
//	  code: {oid: 1.3.6.1.4.1.99999.3.1.2}
//	  priority: {oid: 1.3.6.1.4.1.99999.3.1.3, enum: {1: high, 2: medium, 3: low}}
//
// A profile without a table reads one pump's scalars. Fields a profile
// leaves out are not read (numbers are then NaN). Fields the agent does not
// serve, or values the profile cannot map, do not fail a poll: they are
// reported as warnings in TargetStatus and TestResult, and counted. Only a
// missing serial number fails it.
//
// # The example MIB
//
// WardWatch's simulator (sim/snmpsim) and tests serve an example MIB under
// ExampleArc, 1.3.6.1.4.1.32473.7. Enterprise number 32473 is the one IANA
// reserves for documentation and examples (RFC 5612): the arc belongs to no
// vendor and no real device answers there. BuiltinProfiles reads it; the
// YAML of both built-in profiles is in testdata/profiles.
//
//	.1.<n>.0                single pump: 1 serial, 2 model, 3 firmware,
//	                        4 status (text: STANDBY RUN STOP KVO END ALARM OFF),
//	                        5 power (1 mains, 2 battery), 6 battery %,
//	                        7 rate (0.1 ml/h), 8 VTBI (0.1 ml), 9 infused (0.1 ml),
//	                        10 alarm flags (bit 0 occlusion, 1 air in line,
//	                        2 near end, 3 low battery, 4 door open,
//	                        5 maintenance due), 11 drug library, 12 its version
//	.2.1.1.<col>.<pump>     pump server's pump table: 2 serial, 3 model,
//	                        4 firmware, 5 status (1 idle, 2 infusing, 3 paused,
//	                        4 kvo, 5 complete, 6 alarm, 7 off), 6 on AC
//	                        (TruthValue), 7 battery %, 8 rate (0.1 ml/h),
//	                        9 VTBI (0.1 ml), 10 infused (0.01 ml), 11 drug
//	                        library, 12 its version, 13 care area (not read)
//	.2.2.1.<col>.<pump>.<n> alarm table: 2 code, 3 text, 4 priority
//	                        (1 high, 2 medium, 3 low)
//
// # Polling
//
// A Collector polls each Target on its interval (with ±5 % jitter; new
// targets start at a random moment within their first interval), at most
// Options.Concurrency at once. Each poll opens its own gosnmp session (a
// GoSNMP must not be shared between goroutines, and an idle socket per
// target would exhaust file descriptors), GETs the scalars in batches of
// MaxOIDsPerRequest (splitting a batch the agent finds too big) and walks
// the table columns side by side with GETBULK (GETNEXT for v1), halving
// max-repetitions when the agent answers tooBig. Walks are bounded (request
// and value counts, OIDs must increase), so a faulty agent cannot keep a
// poll going. A failing target is retried after its interval, then after
// doubling waits up to Options.MaxBackoff, and reported offline after
// Options.OfflineAfter failures in a row.
//
// # Errors
//
// Failed polls return a *wardwatch.Error whose message tells the admin
// what happened: "No answer from 10.0.0.5:161 after 3 tries", "SNMPv3
// authentication failed at 10.0.0.5:161: the agent does not know the user
// "wardwatch"", "...wrong authentication password or protocol...",
// "...the agent cannot decrypt our requests: wrong privacy password or
// protocol...", "Profile X: OID … (serial) not supported by the agent".
// gosnmp reports every SNMPv3 refusal the same way (the agent's Report is
// unauthenticated, so it is discarded as "not authentic"), and net-snmp
// drops requests it cannot decrypt without a word; when the first request
// of a poll is refused, two read-only probes of sysUpTime.0 at lower
// security levels tell the causes apart (see diagnoser). The errors wrap
// ErrNoAnswer, ErrAuth, ErrUnsupported or ErrAgent for errors.Is.
//
// # Security
//
// SNMPv3 with authentication and privacy (authPriv; SHA or SHA-2, AES) is
// the default and the only v3 level accepted; MD5 and DES are refused.
// v1 and v2c are accepted for equipment that speaks nothing else and
// reported by Target.Insecure. Targets log without their secrets
// (Target.LogValue).
package snmp
