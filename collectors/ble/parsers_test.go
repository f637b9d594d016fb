package ble

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// parseCase is one table entry for a message parser.
type parseCase struct {
	name     string
	topic    string
	payload  string
	wantErr  string // substring of the whole-message error
	wantCode string // its code; EINVALID when empty and wantErr is set

	want         []Observation
	wantReadings []wardwatch.Reading
	wantTLM      []TLMFrame
	wantErrors   map[int]string // index → substring of the reason
	wantSkips    []Skip
}

func obsAt(at time.Time, gw, tag string, rssi, tx float64, mac string, fromMAC bool) Observation {
	return Observation{
		GatewayKey: gw,
		Sighting:   wardwatch.Sighting{Time: at, TagID: tag, RSSI: rssi, TxPower: tx},
		MAC:        mac,
		FromMAC:    fromMAC,
	}
}

func obs(gw, tag string, rssi, tx float64, mac string, fromMAC bool) Observation {
	return obsAt(testNow, gw, tag, rssi, tx, mac, fromMAC)
}

func distObs(gw, tag string, d float64, mac string) Observation {
	o := obs(gw, tag, 0, 0, mac, false)
	o.Distance = d
	return o
}

func reading(tag string, m wardwatch.Metric, v float64) wardwatch.Reading {
	return wardwatch.Reading{Time: testNow, SensorID: tag, Metric: m, Value: v}
}

func runParseCases(t *testing.T, parse func(topic string, payload []byte) (Parsed, error), format Format, cases []parseCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parse(tt.topic, []byte(tt.payload))
			if p.Format != format {
				t.Errorf("Format = %q, want %q", p.Format, format)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(wardwatch.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				code := tt.wantCode
				if code == "" {
					code = wardwatch.EINVALID
				}
				if got := wardwatch.ErrorCode(err); got != code {
					t.Errorf("code = %q, want %q", got, code)
				}
				if len(p.Observations)+len(p.Readings)+len(p.TLM)+len(p.Errors)+len(p.Skipped) != 0 {
					t.Errorf("results alongside an error: %+v", p)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			checkParsedInvariants(t, p)
			if len(p.Observations) != len(tt.want) {
				t.Fatalf("observations:\n got %+v\nwant %+v\n(errors %+v, skipped %+v)", p.Observations, tt.want, p.Errors, p.Skipped)
			}
			for i, w := range tt.want {
				g := p.Observations[i]
				if g.GatewayKey != w.GatewayKey || g.MAC != w.MAC || g.FromMAC != w.FromMAC || g.Distance != w.Distance ||
					!g.Sighting.Time.Equal(w.Sighting.Time) || g.Sighting.TagID != w.Sighting.TagID ||
					g.Sighting.RSSI != w.Sighting.RSSI || g.Sighting.TxPower != w.Sighting.TxPower || g.Sighting.GatewayID != 0 {
					t.Errorf("observation %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
			if len(p.Readings) != len(tt.wantReadings) {
				t.Fatalf("readings:\n got %+v\nwant %+v", p.Readings, tt.wantReadings)
			}
			for i, w := range tt.wantReadings {
				g := p.Readings[i]
				if !g.Time.Equal(w.Time) || g.SensorID != w.SensorID || g.Metric != w.Metric || math.Abs(g.Value-w.Value) > 1e-9 {
					t.Errorf("reading %d = %+v, want %+v", i, g, w)
				}
			}
			if len(p.TLM) != len(tt.wantTLM) {
				t.Fatalf("TLM frames:\n got %+v\nwant %+v", p.TLM, tt.wantTLM)
			}
			for i, w := range tt.wantTLM {
				g := p.TLM[i]
				if g.GatewayKey != w.GatewayKey || g.MAC != w.MAC || !g.Time.Equal(w.Time) || g.TLM != w.TLM {
					t.Errorf("TLM frame %d = %+v, want %+v", i, g, w)
				}
			}
			if len(p.Errors) != len(tt.wantErrors) {
				t.Fatalf("item errors: got %+v, want %v", p.Errors, tt.wantErrors)
			}
			for _, e := range p.Errors {
				want, ok := tt.wantErrors[e.Index]
				if !ok || !strings.Contains(e.Reason, want) {
					t.Errorf("item error %+v, want index %d containing %q", e, e.Index, want)
				}
			}
			if len(p.Skipped) != len(tt.wantSkips) {
				t.Fatalf("skipped: got %+v, want %+v", p.Skipped, tt.wantSkips)
			}
			for i := range tt.wantSkips {
				if p.Skipped[i] != tt.wantSkips[i] {
					t.Errorf("skip %d = %+v, want %+v", i, p.Skipped[i], tt.wantSkips[i])
				}
			}
		})
	}
}

// checkParsedInvariants checks what every parser promises, whatever the
// input: canonical tags, finite in-range numbers, UTC times.
func checkParsedInvariants(t testing.TB, p Parsed) {
	t.Helper()
	for _, o := range p.Observations {
		s := o.Sighting
		if canon, err := NormalizeCollectorTagID(s.TagID); err != nil || canon != s.TagID {
			t.Fatalf("tag %q is not canonical (%q, %v)", s.TagID, canon, err)
		}
		if math.IsNaN(s.RSSI) || s.RSSI < minRSSI || s.RSSI > maxRSSI {
			t.Fatalf("rssi %v out of range", s.RSSI)
		}
		if s.TxPower != 0 && (s.TxPower < minTxPower || s.TxPower > maxTxPower) {
			t.Fatalf("tx power %v out of range", s.TxPower)
		}
		if o.Distance != 0 && (o.Distance < minDistance || o.Distance > maxDistance || s.RSSI != 0) {
			t.Fatalf("distance %v with rssi %v", o.Distance, s.RSSI)
		}
		if s.Time.IsZero() || s.Time.Location() != time.UTC {
			t.Fatalf("time %v is zero or not UTC", s.Time)
		}
		if s.GatewayID != 0 {
			t.Fatalf("parser set GatewayID %d", s.GatewayID)
		}
		if o.FromMAC && !strings.HasPrefix(s.TagID, "mac:") {
			t.Fatalf("FromMAC with tag %q", s.TagID)
		}
		if o.MAC != "" {
			if m, ok := normalizeMAC(o.MAC); !ok || m != o.MAC {
				t.Fatalf("MAC %q is not canonical", o.MAC)
			}
		}
	}
	for _, r := range p.Readings {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			t.Fatalf("reading %+v is not finite", r)
		}
		if canon, err := NormalizeCollectorTagID(r.SensorID); err != nil || canon != r.SensorID {
			t.Fatalf("reading sensor %q is not canonical", r.SensorID)
		}
	}
	for _, f := range p.TLM {
		if m, ok := normalizeMAC(f.MAC); !ok || m != f.MAC {
			t.Fatalf("TLM MAC %q is not canonical", f.MAC)
		}
	}
}

const (
	espTopic  = "espresense/devices/iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-42/ward4-bay2"
	espRoom   = "ward4-bay2"
	tagPump   = tagIBeacon
	espPumpID = "iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-42"
)

// espCurrent is a current-firmware message with the members listed in
// rtls-notes §4.1.
const espCurrent = `{"mac":"c0ffee000001","id":"` + espPumpID + `","rssi@1m":-59,"rssi":-71.50,"rxAdj":0,"rssiVar":4.10,"distance":2.84,"var":0.62,"int":312}`

func TestParseESPresense(t *testing.T) {
	parse := func(topic string, payload []byte) (Parsed, error) { return ParseESPresense(topic, payload, testNow) }
	cases := []parseCase{
		{name: "current firmware", topic: espTopic, payload: espCurrent,
			want: []Observation{obs(espRoom, tagPump, -71.5, -59, "c0ffee000001", false)}},
		{name: "fill() members with sensors and rxAdj", topic: espTopic,
			payload: `{"mac":"d1a2b3c4d5e6","id":"iBeacon:E2C56DB5-DFFB-48D2-B060-D0F5A71096E0-1-42","name":"Pump 0412","idType":180,` +
				`"rssi@1m":-55,"rssi":-72,"raw":2.95,"rssi37":-72,"raw37":2.95,"channel":37,"distance":2.84,"mean":2.9,` +
				`"var":0.62,"ci":0.44,"close":true,"int":312,"rxAdj":4,"mV":2980,"batt":87,"temp":21.5,"rh":40.5}`,
			want: []Observation{obs(espRoom, tagPump, -72, -59, "d1a2b3c4d5e6", false)},
			wantReadings: []wardwatch.Reading{
				reading(tagPump, wardwatch.MetricBatteryVoltage, 2.98),
				reading(tagPump, wardwatch.MetricBatteryPercent, 87),
				reading(tagPump, wardwatch.MetricTemperature, 21.5),
				reading(tagPump, wardwatch.MetricHumidity, 40.5),
			}},
		{name: "older firmware with idType raw speed and eddy id", topic: "espresense/devices/eddy:x/ward4-bay3",
			payload: `{"id":"eddy:edd1ebeac0c04e5defa017-0bdb87539b67","idType":170,"rssi@1m":-66,"rssi":-80,"raw":4.47,` +
				`"distance":4.12,"speed":0.03,"mac":"e1f2a3b4c5d6","interval":1020}`,
			want: []Observation{obs("ward4-bay3", tagEddystone, -80, -66, "e1f2a3b4c5d6", false)}},
		{name: "eddy id with a fixed firmware", topic: espTopic,
			payload: `{"id":"eddy:edd1ebeac04e5defa017-0bdb87539b67","rssi":-80}`,
			want:    []Observation{obs(espRoom, tagEddystone, -80, 0, "", false)}},
		{name: "eddy id malformed becomes opaque", topic: espTopic,
			payload: `{"id":"eddy:edd1ebeac0ff4e5defa017-0bdb87539b67","rssi":-80}`,
			want:    []Observation{obs(espRoom, "espresense:eddy:edd1ebeac0ff4e5defa017-0bdb87539b67", -80, 0, "", false)}},
		{name: "altBeacon id", topic: espTopic,
			payload: `{"id":"altBeacon:01020304-0506-0708-090a-0b0c0d0e0f10-4370-4884","rssi":-66,"rssi@1m":-60}`,
			want:    []Observation{obs(espRoom, tagAltBeacon, -66, -60, "", false)}},
		{name: "distance only", topic: espTopic, payload: `{"id":"` + espPumpID + `","distance":3.2}`,
			want: []Observation{distObs(espRoom, tagPump, 3.2, "")}},
		{name: "raw only", topic: espTopic, payload: `{"id":"` + espPumpID + `","raw":4.5}`,
			want: []Observation{distObs(espRoom, tagPump, 4.5, "")}},
		{name: "distance zero clamps", topic: espTopic, payload: `{"id":"` + espPumpID + `","distance":0}`,
			want: []Observation{distObs(espRoom, tagPump, 0.1, "")}},
		{name: "apple id is opaque", topic: espTopic, payload: `{"id":"apple:1007:11-12","rssi":-60,"mac":"5a0102030405"}`,
			want: []Observation{obs(espRoom, "espresense:apple:1007:11-12", -60, 0, "5a0102030405", false)}},
		{name: "name id is opaque", topic: espTopic, payload: `{"id":"name:pump-0412","rssi":-60}`,
			want: []Observation{obs(espRoom, "espresense:name:pump-0412", -60, 0, "", false)}},
		{name: "irk id is opaque", topic: espTopic, payload: `{"id":"irk:0123456789abcdef0123456789abcdef","rssi":-60}`,
			want: []Observation{obs(espRoom, "espresense:irk:0123456789abcdef0123456789abcdef", -60, 0, "", false)}},
		{name: "public MAC id", topic: espTopic, payload: `{"id":"C0FFEE000002","idType":55,"rssi":-60}`,
			want: []Observation{obs(espRoom, "mac:c0ffee000002", -60, 0, "", true)}},
		{name: "known MAC id", topic: espTopic, payload: `{"id":"known:c0ffee000003","idType":210,"rssi":-60}`,
			want: []Observation{obs(espRoom, "mac:c0ffee000003", -60, 0, "", true)}},
		{name: "random MAC id skipped", topic: espTopic, payload: `{"id":"5a0102030405","idType":1,"rssi":-60}`,
			wantSkips: []Skip{{0, SkipRandomMAC}}},
		{name: "ignored id type skipped", topic: espTopic, payload: `{"id":"apple:1005:9-8","idType":-5,"rssi":-60}`,
			wantSkips: []Skip{{0, SkipNoIdentity}}},
		{name: "wardwatch alias", topic: espTopic, payload: `{"id":"ibeacon:5B1E0A7C3D2F4E6A9C1B7A8D2E4F6C30:4:12","rssi":-60}`,
			want: []Observation{obs(espRoom, testTag, -60, 0, "", false)}},
		{name: "id from topic", topic: espTopic, payload: `{"rssi":-60,"rssi@1m":-59}`,
			want: []Observation{obs(espRoom, tagPump, -60, -59, "", false)}},
		{name: "null id from topic", topic: espTopic, payload: `{"id":null,"rssi":-60}`,
			want: []Observation{obs(espRoom, tagPump, -60, 0, "", false)}},
		{name: "prefixed topic", topic: "site1/espresense/devices/x/icu-3", payload: `{"id":"` + espPumpID + `","rssi":-60}`,
			want: []Observation{obs("icu-3", tagPump, -60, 0, "", false)}},
		{name: "numeric strings", topic: espTopic, payload: `{"id":"` + espPumpID + `","rssi":"-70","rssi@1m":"-59"}`,
			want: []Observation{obs(espRoom, tagPump, -70, -59, "", false)}},
		{name: "implausible reference power ignored", topic: espTopic, payload: `{"id":"` + espPumpID + `","rssi":-70,"rssi@1m":-150}`,
			want: []Observation{obs(espRoom, tagPump, -70, 0, "", false)}},
		{name: "implausible sensors dropped", topic: espTopic, payload: `{"id":"` + espPumpID + `","rssi":-70,"temp":300,"batt":140,"mV":"x"}`,
			want: []Observation{obs(espRoom, tagPump, -70, 0, "", false)}},
		{name: "escaped strings", topic: espTopic, payload: `{"id":"iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-4\u0032","rssi":-70,"n\u0061me":"x\"y"}`,
			want: []Observation{obs(espRoom, tagPump, -70, 0, "", false)}},
		{name: "unknown nested members", topic: espTopic, payload: `{"id":"` + espPumpID + `","extra":{"a":[1,2,{"b":null}]},"rssi":-70}`,
			want: []Observation{obs(espRoom, tagPump, -70, 0, "", false)}},
		{name: "bad mac ignored", topic: espTopic, payload: `{"id":"` + espPumpID + `","rssi":-70,"mac":"nope"}`,
			want: []Observation{obs(espRoom, tagPump, -70, 0, "", false)}},

		{name: "rssi out of range", topic: espTopic, payload: `{"id":"` + espPumpID + `","rssi":12}`, wantErrors: map[int]string{0: "rssi: must be between"}},
		{name: "rssi overflow", topic: espTopic, payload: `{"id":"` + espPumpID + `","rssi":-1e400}`, wantErrors: map[int]string{0: "rssi: must be between"}},
		{name: "rssi wrong type", topic: espTopic, payload: `{"id":"` + espPumpID + `","rssi":true}`, wantErrors: map[int]string{0: "rssi: must be a number"}},
		{name: "rssi NaN string", topic: espTopic, payload: `{"id":"` + espPumpID + `","rssi":"NaN"}`, wantErrors: map[int]string{0: "rssi: must be a number"}},
		{name: "no rssi no distance", topic: espTopic, payload: `{"id":"` + espPumpID + `"}`, wantErrors: map[int]string{0: "rssi: missing"}},
		{name: "negative distance", topic: espTopic, payload: `{"id":"` + espPumpID + `","distance":-1}`, wantErrors: map[int]string{0: "distance"}},
		{name: "id with space", topic: espTopic, payload: `{"id":"name:pump 12","rssi":-60}`, wantErrors: map[int]string{0: "id:"}},
		{name: "id not a string", topic: espTopic, payload: `{"id":42,"rssi":-60}`, wantErrors: map[int]string{0: "id: must be a string"}},
		{name: "id too long", topic: espTopic, payload: `{"id":"name:` + strings.Repeat("x", 200) + `","rssi":-60}`, wantErrors: map[int]string{0: "id:"}},

		{name: "not json", topic: espTopic, payload: `{"id":`, wantErr: "not valid JSON"},
		{name: "trailing garbage", topic: espTopic, payload: `{"rssi":-60} x`, wantErr: "not valid JSON"},
		{name: "two objects", topic: espTopic, payload: `{"rssi":-60}{"rssi":-61}`, wantErr: "not valid JSON"},
		{name: "array", topic: espTopic, payload: `[{"rssi":-60}]`, wantErr: "must be a JSON object"},
		{name: "empty", topic: espTopic, payload: ``, wantErr: "empty"},
		{name: "bad topic", topic: "espresense/rooms/ward4-bay2/telemetry", payload: espCurrent, wantErr: "topic"},
		{name: "empty room", topic: "espresense/devices/x/", payload: espCurrent, wantErr: "topic"},
		{name: "too large", topic: espTopic, payload: `{"pad":"` + strings.Repeat("x", MaxMessageBytes) + `"}`, wantErr: "too large", wantCode: wardwatch.ETOOLARGE},
		{name: "deep nesting", topic: espTopic, payload: `{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,"rssi":-60}`, wantErr: "not valid JSON"},
	}
	runParseCases(t, parse, FormatESPresense, cases)
}

const (
	omgTopic = "home/OMG_ESP32_BLE/BTtoMQTT/D1A2B3C4D5E6"
	omgGW    = "OMG_ESP32_BLE"
	// OpenMQTTGateway's iBeacon decode (theengs/decoder), with the raw
	// manufacturer data.
	omgIBeacon = `{"id":"D1:A2:B3:C4:D5:E6","mac_type":1,"adv_type":3,"rssi":-70,"brand":"GENERIC","model":"iBeacon",` +
		`"model_id":"IBEACON","mfid":"4c00","uuid":"e2c56db5dffb48d2b060d0f5a71096e0","major":1,"minor":42,"txpower":-59,` +
		`"manufacturerdata":"4c000215e2c56db5dffb48d2b060d0f5a71096e00001002ac5"}`
)

func TestParseTheengs(t *testing.T) {
	parse := func(topic string, payload []byte) (Parsed, error) { return ParseTheengs(topic, payload, testNow) }
	tlm := TLM{BatteryMV: 3000, Temperature: 23.5, HasTemperature: true, AdvCount: 4660, Uptime: 12345600 * time.Millisecond}
	cases := []parseCase{
		{name: "ibeacon decode", topic: omgTopic, payload: omgIBeacon,
			want: []Observation{obs(omgGW, tagPump, -70, -59, "d1a2b3c4d5e6", false)}},
		{name: "presenceUseBeaconUuid", topic: "home/gw-2/BTtoMQTT/e2c56db5dffb48d2b060d0f5a71096e0",
			payload: `{"id":"e2c56db5dffb48d2b060d0f5a71096e0","mac":"D1:A2:B3:C4:D5:E6","rssi":-70,"uuid":"e2c56db5dffb48d2b060d0f5a71096e0","major":"1","minor":42,"txpower":-59}`,
			want:    []Observation{obs("gw-2", tagPump, -70, -59, "d1a2b3c4d5e6", false)}},
		{name: "manufacturer data only", topic: omgTopic,
			payload: `{"id":"D1:A2:B3:C4:D5:E6","rssi":-70,"manufacturerdata":"4C000215E2C56DB5DFFB48D2B060D0F5A71096E00001002AC5"}`,
			want:    []Observation{obs(omgGW, tagPump, -70, -59, "d1a2b3c4d5e6", false)}},
		{name: "altbeacon manufacturer data", topic: omgTopic,
			payload: `{"id":"D1:A2:B3:C4:D5:E6","rssi":-75,"manufacturerdata":"1801beac0102030405060708090a0b0c0d0e0f1011121314c400"}`,
			want:    []Observation{obs(omgGW, tagAltBeacon, -75, -60, "d1a2b3c4d5e6", false)}},
		{name: "eddystone uid service data", topic: omgTopic,
			payload: `{"id":"E1:F2:A3:B4:C5:D6","mac_type":0,"rssi":-80,"servicedata":"00e7edd1ebeac04e5defa0170bdb87539b670000","servicedatauuid":"0xfeaa"}`,
			want:    []Observation{obs(omgGW, tagEddystone, -80, -66, "e1f2a3b4c5d6", false)}},
		{name: "service data with a space", topic: omgTopic,
			payload:    `{"id":"E1:F2:A3:B4:C5:D6","mac_type":0,"rssi":-81,"servicedata":"20000bb8178000001234 0001e240","servicedatauuid":"0xfeaa"}`,
			wantErrors: map[int]string{0: "servicedata"}},
		{name: "eddystone tlm pairs by mac", topic: omgTopic,
			payload: `{"id":"E1:F2:A3:B4:C5:D6","mac_type":0,"rssi":-81,"servicedata":"20000bb8178000001234` + `0001e240","servicedatauuid":"feaa"}`,
			want:    []Observation{obs(omgGW, "mac:e1f2a3b4c5d6", -81, 0, "e1f2a3b4c5d6", true)},
			wantTLM: []TLMFrame{{GatewayKey: omgGW, MAC: "e1f2a3b4c5d6", Time: testNow, TLM: tlm}}},
		{name: "sensor with readings", topic: "home/gw-3/BTtoMQTT/A4C138112233",
			payload: `{"id":"A4:C1:38:11:22:33","mac_type":0,"adv_type":0,"name":"ATC_112233","rssi":-60,"brand":"Xiaomi","model":"LYWSD03MMC",` +
				`"model_id":"LYWSD03MMC_ATC","type":"THB","tempc":4.2,"tempf":39.56,"hum":51,"batt":88,"volt":2.95}`,
			want: []Observation{obs("gw-3", "mac:a4c138112233", -60, 0, "a4c138112233", true)},
			wantReadings: []wardwatch.Reading{
				reading("mac:a4c138112233", wardwatch.MetricTemperature, 4.2),
				reading("mac:a4c138112233", wardwatch.MetricHumidity, 51),
				reading("mac:a4c138112233", wardwatch.MetricBatteryPercent, 88),
				reading("mac:a4c138112233", wardwatch.MetricBatteryVoltage, 2.95),
			}},
		{name: "static random MAC", topic: omgTopic, payload: `{"id":"D1:A2:B3:C4:D5:E6","mac_type":1,"rssi":-70}`,
			want: []Observation{obs(omgGW, "mac:d1a2b3c4d5e6", -70, 0, "d1a2b3c4d5e6", true)}},
		{name: "rotating random MAC skipped", topic: omgTopic, payload: `{"id":"5A:A2:B3:C4:D5:E6","mac_type":1,"rssi":-70,"name":"iPhone"}`,
			wantSkips: []Skip{{0, SkipRandomMAC}}},
		{name: "no identity at all", topic: omgTopic, payload: `{"rssi":-70,"name":"x"}`,
			wantSkips: []Skip{{0, SkipNoIdentity}}},
		{name: "topic without suffix", topic: "home/gw-4/BTtoMQTT", payload: omgIBeacon,
			want: []Observation{obs("gw-4", tagPump, -70, -59, "d1a2b3c4d5e6", false)}},
		{name: "distance instead of rssi", topic: omgTopic, payload: `{"id":"D1:A2:B3:C4:D5:E6","uuid":"e2c56db5dffb48d2b060d0f5a71096e0","major":1,"minor":42,"distance":1.5}`,
			want: []Observation{distObs(omgGW, tagPump, 1.5, "d1a2b3c4d5e6")}},

		{name: "bad uuid", topic: omgTopic, payload: `{"id":"D1:A2:B3:C4:D5:E6","rssi":-70,"uuid":"xyz","major":1,"minor":2}`, wantErrors: map[int]string{0: "uuid"}},
		{name: "uuid not a string", topic: omgTopic, payload: `{"id":"D1:A2:B3:C4:D5:E6","rssi":-70,"uuid":7,"major":1,"minor":2}`, wantErrors: map[int]string{0: "uuid"}},
		{name: "major out of range", topic: omgTopic, payload: `{"rssi":-70,"uuid":"e2c56db5dffb48d2b060d0f5a71096e0","major":70000,"minor":2}`, wantErrors: map[int]string{0: "major"}},
		{name: "major fraction", topic: omgTopic, payload: `{"rssi":-70,"uuid":"e2c56db5dffb48d2b060d0f5a71096e0","major":1.5,"minor":2}`, wantErrors: map[int]string{0: "major"}},
		{name: "bad manufacturer data", topic: omgTopic, payload: `{"id":"D1:A2:B3:C4:D5:E6","rssi":-70,"manufacturerdata":"4c0"}`, wantErrors: map[int]string{0: "manufacturerdata"}},
		{name: "missing rssi", topic: omgTopic, payload: `{"id":"D1:A2:B3:C4:D5:E6"}`, wantErrors: map[int]string{0: "rssi: missing"}},
		{name: "bad topic", topic: "espresense/devices/a/b", payload: omgIBeacon, wantErr: "topic"},
		{name: "not an object", topic: omgTopic, payload: `"online"`, wantErr: "must be a JSON object"},
		{name: "too large", topic: omgTopic, payload: strings.Repeat(" ", MaxMessageBytes+1), wantErr: "too large", wantCode: wardwatch.ETOOLARGE},
	}
	runParseCases(t, parse, FormatTheengs, cases)
}

func TestParseMQTTRoom(t *testing.T) {
	parse := func(topic string, payload []byte) (Parsed, error) { return ParseMQTTRoom(topic, payload, testNow) }
	cases := []parseCase{
		{name: "minimal contract", topic: "room_presence/ward4-bay2", payload: `{"id":"` + espPumpID + `","name":"Pump 0412","distance":2.84}`,
			want: []Observation{distObs("ward4-bay2", tagPump, 2.84, "")}},
		{name: "free-form id", topic: "room_presence/kitchen", payload: `{"id":"123testid","name":"Test monitor","distance":5.678}`,
			want: []Observation{distObs("kitchen", "mqtt_room:123testid", 5.678, "")}},
		{name: "wardwatch tag id", topic: "a/b/c/icu-1", payload: `{"id":"eddystone:EDD1EBEAC04E5DEFA017:0BDB87539B67","distance":"1.25"}`,
			want: []Observation{distObs("icu-1", tagEddystone, 1.25, "")}},
		{name: "mac tag id", topic: "rooms/icu-1", payload: `{"id":"mac:C0:FF:EE:00:00:01","distance":1}`,
			want: []Observation{func() Observation { o := distObs("icu-1", "mac:c0ffee000001", 1, ""); o.FromMAC = true; return o }()}},
		{name: "rssi instead", topic: "rooms/icu-1", payload: `{"id":"123testid","rssi":-64}`,
			want: []Observation{obs("icu-1", "mqtt_room:123testid", -64, 0, "", false)}},
		{name: "zero distance", topic: "rooms/icu-1", payload: `{"id":"123testid","distance":0}`,
			want: []Observation{distObs("icu-1", "mqtt_room:123testid", 0.1, "")}},
		{name: "negative distance", topic: "rooms/icu-1", payload: `{"id":"123testid","distance":-2}`, wantErrors: map[int]string{0: "distance"}},
		{name: "huge distance", topic: "rooms/icu-1", payload: `{"id":"123testid","distance":1e9}`, wantErrors: map[int]string{0: "distance"}},
		{name: "missing distance", topic: "rooms/icu-1", payload: `{"id":"123testid"}`, wantErrors: map[int]string{0: "distance: missing"}},
		{name: "missing id", topic: "rooms/icu-1", payload: `{"distance":1}`, wantErrors: map[int]string{0: "id: missing"}},
		{name: "id not a string", topic: "rooms/icu-1", payload: `{"id":[1],"distance":1}`, wantErrors: map[int]string{0: "id: must be a string"}},
		{name: "bad topic", topic: "no-room", payload: `{"id":"x","distance":1}`, wantErr: "topic"},
		{name: "empty room", topic: "rooms/", payload: `{"id":"x","distance":1}`, wantErr: "topic"},
		{name: "not json", topic: "rooms/a", payload: `nope`, wantErr: "must be a JSON object"},
	}
	runParseCases(t, parse, FormatMQTTRoom, cases)
}

const (
	minewGW   = "ac233fc0a1b2"
	minewBody = `[{"timestamp":"2025-03-01T10:14:59.120Z","type":"Gateway","mac":"AC233FC0A1B2","gatewayFree":89,"gatewayLoad":0.029999999999999999},
 {"timestamp":"2025-03-01T10:14:58.870Z","type":"iBeacon","mac":"C30000250F6A","bleName":"","ibeaconUuid":"E2C56DB5DFFB48D2B060D0F5A71096E0","ibeaconMajor":1,"ibeaconMinor":42,"rssi":-65,"ibeaconTxPower":-59,"battery":87},
 {"timestamp":"2025-03-01T10:14:58.910Z","type":"Unknown","mac":"C30000250F7B","bleName":"","rssi":-71,"rawData":"` + advEddystoneUID + `"},
 {"timestamp":"2025-03-01T10:14:58.950Z","type":"Unknown","mac":"C30000250F7B","bleName":"","rssi":-72,"rawData":"` + advEddystoneTLM + `"},
 {"timestamp":"2025-03-01T10:14:59Z","type":"Unknown","mac":"5A0102030405","bleName":"iPhone","rssi":-80,"rawData":"` + advPhone + `"}]`
)

func TestParseMinewJSONLong(t *testing.T) {
	parse := func(_ string, payload []byte) (Parsed, error) { return ParseMinewJSONLong(payload, testNow) }
	at := func(s string) time.Time {
		t.Helper()
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	tlm := TLM{BatteryMV: 3000, Temperature: 23.5, HasTemperature: true, AdvCount: 4660, Uptime: 12345600 * time.Millisecond}
	cases := []parseCase{
		{name: "mixed upload", payload: minewBody,
			want: []Observation{
				obsAt(at("2025-03-01T10:14:58.870Z"), minewGW, tagPump, -65, -59, "c30000250f6a", false),
				obsAt(at("2025-03-01T10:14:58.910Z"), minewGW, tagEddystone, -71, -66, "c30000250f7b", false),
				obsAt(at("2025-03-01T10:14:58.950Z"), minewGW, "mac:c30000250f7b", -72, 0, "c30000250f7b", true),
				obsAt(at("2025-03-01T10:14:59Z"), minewGW, "mac:5a0102030405", -80, 0, "5a0102030405", true),
			},
			wantReadings: []wardwatch.Reading{{Time: at("2025-03-01T10:14:58.870Z"), SensorID: tagPump, Metric: wardwatch.MetricBatteryPercent, Value: 87}},
			wantTLM:      []TLMFrame{{GatewayKey: minewGW, MAC: "c30000250f7b", Time: at("2025-03-01T10:14:58.950Z"), TLM: tlm}},
		},
		{name: "rawData ibeacon without timestamp, gateway last", payload: `[{"type":"Unknown","mac":"C30000250F6A","rssi":"-65","rawData":"` + advIBeaconLow + `","battery":0},{"type":"Gateway","mac":"AC:23:3F:C0:A1:B2"}]`,
			want: []Observation{obs(minewGW, tagPump, -65, -59, "c30000250f6a", false)}},
		{name: "uid and tlm in one rawData give readings", payload: `[{"type":"Gateway","mac":"AC233FC0A1B2"},{"type":"Unknown","mac":"C30000250F7B","rssi":-70,"rawData":"` +
			advEddystoneUID + strings.TrimPrefix(advEddystoneTLM, advFlags+"0303AAFE") + `"}]`,
			want: []Observation{obs(minewGW, tagEddystone, -70, -66, "c30000250f7b", false)},
			wantReadings: []wardwatch.Reading{
				reading(tagEddystone, wardwatch.MetricBatteryVoltage, 3),
				reading(tagEddystone, wardwatch.MetricTemperature, 23.5),
			}},
		{name: "no gateway element", payload: `[{"type":"iBeacon","mac":"C30000250F6A","ibeaconUuid":"E2C56DB5-DFFB-48D2-B060-D0F5A71096E0","ibeaconMajor":1,"ibeaconMinor":42,"rssi":-65}]`,
			want: []Observation{obs("", tagPump, -65, 0, "c30000250f6a", false)}},
		{name: "sensor readings", payload: `[{"type":"Gateway","mac":"AC233FC0A1B2"},{"type":"S1","mac":"C30000250F6C","rssi":-66,"temperature":5.5,"humidity":44.5,"battery":100}]`,
			want: []Observation{obs(minewGW, "mac:c30000250f6c", -66, 0, "c30000250f6c", true)},
			wantReadings: []wardwatch.Reading{
				reading("mac:c30000250f6c", wardwatch.MetricBatteryPercent, 100),
				reading("mac:c30000250f6c", wardwatch.MetricTemperature, 5.5),
				reading("mac:c30000250f6c", wardwatch.MetricHumidity, 44.5),
			}},
		{name: "partly bad", payload: `[{"type":"Gateway","mac":"AC233FC0A1B2"},
			1,
			{"type":"iBeacon","mac":"C30000250F6A","ibeaconUuid":"E2C56DB5DFFB48D2B060D0F5A71096E0","ibeaconMajor":1,"ibeaconMinor":42,"rssi":-65},
			{"type":"Unknown","mac":"C30000250F7B","rssi":-71,"rawData":"02010"},
			{"type":"Unknown","mac":"C30000250F7B","rssi":-71,"rawData":"0201061AFF4C00"},
			{"type":"Unknown","mac":"C30000250F7B","rssi":-71,"rawData":7},
			{"type":"Unknown","mac":"C30000250F7B","rssi":5,"rawData":"` + advIBeacon + `"},
			{"type":"Unknown","mac":"C30000250F7B","rawData":"` + advIBeacon + `"},
			{"type":"Unknown","rssi":-60,"rawData":"` + advPhone + `"},
			{"type":"Unknown","mac":"nope","rssi":-60,"rawData":"` + advIBeacon + `"},
			{"timestamp":"2017-09-06T09:37:45Z","type":"Unknown","mac":"C30000250F7B","rssi":-71,"rawData":"` + advIBeacon + `"},
			{"timestamp":"2025-03-01T10:25:00Z","type":"Unknown","mac":"C30000250F7B","rssi":-71,"rawData":"` + advIBeacon + `"},
			{"timestamp":"yesterday","type":"Unknown","mac":"C30000250F7B","rssi":-71,"rawData":"` + advIBeacon + `"},
			{"type":"iBeacon","ibeaconUuid":"E2C5","ibeaconMajor":1,"ibeaconMinor":42,"rssi":-65},
			{"type":"iBeacon","ibeaconUuid":"E2C56DB5DFFB48D2B060D0F5A71096E0","ibeaconMajor":-1,"ibeaconMinor":42,"rssi":-65},
			{"type":"iBeacon","ibeaconUuid":false,"rssi":-65}]`,
			want: []Observation{obs(minewGW, tagPump, -65, 0, "c30000250f6a", false)},
			wantErrors: map[int]string{
				1: "JSON object", 3: "rawData: hex data has an odd", 4: "rawData: advertisement: the AD structure", 5: "rawData: must be a hex string",
				6: "rssi: must be between", 7: "rssi: missing", 8: "mac: missing", 9: "mac: must be 12 hex", 10: "more than 1 hour in the past",
				11: "more than 5 minutes in the future", 12: "timestamp: must be an RFC 3339", 13: "ibeaconUuid: must be 32 hex",
				14: "ibeaconMajor", 15: "ibeaconUuid: must be a string",
			}},
		{name: "bad gateway mac", payload: `[{"type":"Gateway","mac":"xyz"},{"type":"Gateway","mac":"AC233FC0A1B2"},{"type":"Unknown","mac":"C30000250F7B","rssi":-71,"rawData":"` + advIBeacon + `"}]`,
			want:       []Observation{obs(minewGW, tagPump, -71, -59, "c30000250f7b", false)},
			wantErrors: map[int]string{0: "gateway's MAC"}},
		{name: "empty array", payload: `[]`},
		{name: "only the gateway", payload: `[{"type":"Gateway","mac":"AC233FC0A1B2"}]`},
		{name: "no objects", payload: `[1,2]`, wantErr: "array of objects"},
		{name: "object", payload: `{"sightings":[]}`, wantErr: "must be a JSON array"},
		{name: "truncated", payload: `[{"type":"Gateway","mac":"AC233FC0A1B2"},{"type":`, wantErr: "not valid JSON"},
		{name: "empty body", payload: ``, wantErr: "empty"},
		{name: "too many items", payload: "[" + strings.Repeat(`{},`, MaxBatchItems+1) + "{}]", wantErr: "more than"},
	}
	runParseCases(t, parse, FormatMinewJSONLong, cases)
}

const ingicsGW = "ac233fc0a1b2"

func TestParseIngics(t *testing.T) {
	parse := func(_ string, payload []byte) (Parsed, error) { return ParseIngics(payload, testNow) }
	tlm := TLM{BatteryMV: 3000, Temperature: 23.5, HasTemperature: true, AdvCount: 4660, Uptime: 12345600 * time.Millisecond}
	ts := testNow.Add(-2 * time.Second)
	epoch := "1740824098" // testNow - 2 s
	cases := []parseCase{
		{name: "lines", payload: "$GPRP,C30000250F6A,AC233FC0A1B2,-67," + advIBeacon + ",*" + epoch + "\r\n" +
			"\r\n" +
			"$GPRP,C30000250F7B,AC233FC0A1B2,-71," + advEddystoneUID + "\n" +
			"$GPRP,C30000250F7B,AC233FC0A1B2,-72," + advEddystoneTLM + "\n" +
			"$RSPR,C30000250F7B,AC233FC0A1B2,-73,0909574152445741544300\n" +
			"$GPRP,0C61CFC1452E,E7DAE08E6FC3,-44," + advPhone + "," + epoch + "000\n",
			want: []Observation{
				obsAt(ts, ingicsGW, tagPump, -67, -59, "c30000250f6a", false),
				obs(ingicsGW, tagEddystone, -71, -66, "c30000250f7b", false),
				obs(ingicsGW, "mac:c30000250f7b", -72, 0, "c30000250f7b", true),
				obs(ingicsGW, "mac:c30000250f7b", -73, 0, "c30000250f7b", true),
				obsAt(ts, "e7dae08e6fc3", "mac:0c61cfc1452e", -44, 0, "0c61cfc1452e", true),
			},
			wantTLM: []TLMFrame{{GatewayKey: ingicsGW, MAC: "c30000250f7b", Time: testNow, TLM: tlm}},
		},
		{name: "uid and tlm together give readings", payload: "$GPRP,C30000250F7B,AC233FC0A1B2,-70," + advEddystoneUID + strings.TrimPrefix(advEddystoneTLM, advFlags+"0303AAFE"),
			want: []Observation{obs(ingicsGW, tagEddystone, -70, -66, "c30000250f7b", false)},
			wantReadings: []wardwatch.Reading{
				reading(tagEddystone, wardwatch.MetricBatteryVoltage, 3),
				reading(tagEddystone, wardwatch.MetricTemperature, 23.5),
			}},
		{name: "extra fields and trailing comma", payload: "$GPRP,C30000250F6A,AC233FC0A1B2,-67," + advIBeacon + ",\n" +
			"$GPRP,C30000250F6A,AC233FC0A1B2,-67," + advIBeacon + ",*" + epoch + ",extra,more",
			want: []Observation{obs(ingicsGW, tagPump, -67, -59, "c30000250f6a", false), obsAt(ts, ingicsGW, tagPump, -67, -59, "c30000250f6a", false)}},
		{name: "bad lines", payload: strings.Join([]string{
			"$GPRP,C30000250F6A,AC233FC0A1B2,-67," + advIBeacon,
			"$GPRP,C30000250F6A,AC233FC0A1B2,-67",
			"$LRDR,C30000250F6A,AC233FC0A1B2,-67," + advIBeacon,
			"GPRP,C30000250F6A,AC233FC0A1B2,-67," + advIBeacon,
			"$GPRP,C30000250F6,AC233FC0A1B2,-67," + advIBeacon,
			"$GPRP,C30000250F6A,AC233FC0A1B,-67," + advIBeacon,
			"$GPRP,C30000250F6A,AC233FC0A1B2,x," + advIBeacon,
			"$GPRP,C30000250F6A,AC233FC0A1B2,10," + advIBeacon,
			"$GPRP,C30000250F6A,AC233FC0A1B2,-67,XYZ",
			"$GPRP,C30000250F6A,AC233FC0A1B2,-67,0201061AFF4C00",
			"$GPRP,C30000250F6A,AC233FC0A1B2,-67," + advIBeacon + ",*1600000000",
			"$GPRP,C30000250F6A,AC233FC0A1B2,-67," + advIBeacon + ",*soon",
			"$GPRP,C30000250F6A,AC233FC0A1B2,-67," + strings.Repeat("00", 2*MaxAdvertisementBytes),
			"$GPRP,C30000250F6A,AC233FC0A1B2,," + advIBeacon,
		}, "\n"),
			want: []Observation{obs(ingicsGW, tagPump, -67, -59, "c30000250f6a", false)},
			wantErrors: map[int]string{
				1: "want $GPRP", 2: "unsupported record type", 3: "not an Ingics record", 4: "tag MAC", 5: "gateway MAC",
				6: "rssi: must be a number", 7: "rssi: must be between", 8: "advertisement: hex data", 9: "truncated",
				10: "more than 1 hour in the past", 11: "time: must be", 12: "too long", 13: "rssi: missing",
			}},
		{name: "blank body", payload: "\n\r\n"},
		{name: "not ingics", payload: `{"sightings":[]}`, wantErr: "not Ingics text"},
		{name: "too many lines", payload: strings.Repeat("$GPRP\n", MaxBatchItems+1), wantErr: "more than"},
	}
	runParseCases(t, parse, FormatIngics, cases)
}

func TestParseMQTTDispatch(t *testing.T) {
	tests := []struct {
		name    string
		format  Format
		topic   string
		payload string
		wantGW  string
		wantTag string
		wantErr string
	}{
		{name: "espresense", format: FormatESPresense, topic: espTopic, payload: espCurrent, wantGW: espRoom, wantTag: tagPump},
		{name: "theengs", format: FormatTheengs, topic: omgTopic, payload: omgIBeacon, wantGW: omgGW, wantTag: tagPump},
		{name: "mqtt_room", format: FormatMQTTRoom, topic: "rooms/icu-1", payload: `{"id":"x1","distance":2}`, wantGW: "icu-1", wantTag: "mqtt_room:x1"},
		{name: "minew", format: FormatMinewJSONLong, topic: "/gw/ac233fc0a1b2/status", payload: minewBody, wantGW: minewGW, wantTag: tagPump},
		{name: "minew gateway from topic", format: FormatMinewJSONLong, topic: "/gw/AC233FC0FFFF/status",
			payload: `[{"type":"Unknown","mac":"C30000250F6A","rssi":-65,"rawData":"` + advIBeacon + `"}]`, wantGW: "ac233fc0ffff", wantTag: tagPump},
		{name: "ingics", format: FormatIngics, topic: "ingics/gw1", payload: "$GPRP,C30000250F6A,AC233FC0A1B2,-67," + advIBeacon, wantGW: ingicsGW, wantTag: tagPump},
		{name: "wardwatch json", format: FormatWardWatch, topic: "wardwatch/gateways/f1-gw-03/sightings",
			payload: `{"sightings":[{"tag":"` + testTag + `","rssi":-61}]}`, wantGW: "f1-gw-03", wantTag: testTag},
		{name: "wardwatch ndjson", format: FormatWardWatch, topic: "site/wardwatch/gateways/f1-gw-03/sightings",
			payload: `{"tag":"` + testTag + `","rssi":-61}` + "\n", wantGW: "f1-gw-03", wantTag: testTag},
		{name: "wardwatch bad topic", format: FormatWardWatch, topic: "wardwatch/gateways/f1-gw-03", payload: `{}`, wantErr: "topic"},
		{name: "wardwatch malformed", format: FormatWardWatch, topic: "wardwatch/gateways/f1-gw-03/sightings", payload: `{"sightings":`, wantErr: "JSON"},
		{name: "unknown format", format: "bluecats", topic: "x", payload: `{}`, wantErr: "unknown format"},
		{name: "too large", format: FormatMinewJSONLong, topic: "x", payload: "[" + strings.Repeat(" ", MaxMessageBytes) + "]", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseMQTT(tt.format, tt.topic, []byte(tt.payload), testNow)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(wardwatch.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != tt.format {
				t.Errorf("Format = %q", p.Format)
			}
			if len(p.Observations) == 0 {
				t.Fatalf("no observations: %+v", p)
			}
			o := p.Observations[0]
			if o.GatewayKey != tt.wantGW || o.Sighting.TagID != tt.wantTag {
				t.Errorf("got gateway %q tag %q, want %q %q", o.GatewayKey, o.Sighting.TagID, tt.wantGW, tt.wantTag)
			}
			checkParsedInvariants(t, p)
		})
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		topic string
		want  Format
	}{
		{"espresense/devices/iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-42/ward4-bay2", FormatESPresense},
		{"site1/espresense/devices/apple:1007:11-12/icu", FormatESPresense},
		{"home/OMG_ESP32_BLE/BTtoMQTT/D1A2B3C4D5E6", FormatTheengs},
		{"home/theengs/BTtoMQTT", FormatTheengs},
		{"/gw/ac233fc0a1b2/status", FormatMinewJSONLong},
		{"minew/gw/AC233FC0A1B2/status", FormatMinewJSONLong},
		{"wardwatch/gateways/f1-gw-03/sightings", FormatWardWatch},
		{"espresense/rooms/ward4-bay2/telemetry", ""},
		{"espresense/devices/x", ""},
		{"espresense/devices//room", ""},
		{"espresense/devices/x/", ""},
		{"room_presence/kitchen", ""},
		{"/gw/not-a-mac/status", ""},
		{"BTtoMQTT/x", ""},
		{"home//BTtoMQTT/x", ""},
		{"", ""},
		{"/", ""},
	}
	for _, tt := range tests {
		got, ok := DetectFormat(tt.topic)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("DetectFormat(%q) = %q, %v; want %q", tt.topic, got, ok, tt.want)
		}
	}
	for _, f := range []Format{FormatESPresense, FormatTheengs, FormatMQTTRoom, FormatMinewJSONLong, FormatIngics, FormatWardWatch} {
		if !f.Valid() {
			t.Errorf("%q not valid", f)
		}
	}
	if Format("x").Valid() || Format("x").label() != "other" {
		t.Errorf("unknown format is valid or labelled")
	}
}

func TestNormalizeCollectorTagID(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "altbeacon:0102030405060708090A0B0C0D0E0F1011121314", want: tagAltBeacon},
		{in: "AltBeacon:0102030405060708090a0b0c0d0e0f1011121314", want: tagAltBeacon},
		{in: "altbeacon:0102", wantErr: true},
		{in: "espresense:apple:1007:11-12", want: "espresense:apple:1007:11-12"},
		{in: "ESPresense:Name:Pump", want: "espresense:Name:Pump"},
		{in: "mqtt_room:123testid", want: "mqtt_room:123testid"},
		{in: "mqtt_room:", wantErr: true},
		{in: "espresense:a b", wantErr: true},
		{in: "espresense:" + strings.Repeat("x", 129), wantErr: true},
		{in: " " + testTag + " ", want: testTag},
		{in: "mac:C0FFEE000001", want: "mac:c0ffee000001"},
		{in: "bluecats:1", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := NormalizeCollectorTagID(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("NormalizeCollectorTagID(%q) = %q, %v; want %q (err %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
