package ble

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

const (
	testUUID = "5b1e0a7c-3d2f-4e6a-9c1b-7a8d2e4f6c30"
	testTag  = "ibeacon:" + testUUID + ":4:12"
	ctJSON   = "application/json"
	ctNDJSON = "application/x-ndjson"
)

var (
	testNow = time.Date(2025, 3, 1, 10, 15, 0, 0, time.UTC)
	testGW  = wardwatch.Gateway{ID: 7, Key: "f1-gw-03"}
)

func TestParseBatch(t *testing.T) {
	nowSec := testNow.Unix()
	tests := []struct {
		name        string
		body        string
		ct          string
		wantErr     bool
		wantOK      []wardwatch.Sighting // GatewayID is filled in by the test
		wantRejects map[int]string       // index -> substring of the reason
	}{
		{
			name: "json rfc3339 ts",
			body: `{"sightings":[{"ts":"2025-03-01T10:14:58.25Z","tag":"` + testTag + `","rssi":-67,"tx_power":-59}]}`,
			ct:   ctJSON,
			wantOK: []wardwatch.Sighting{
				{Time: testNow.Add(-1750 * time.Millisecond), TagID: testTag, RSSI: -67, TxPower: -59},
			},
		},
		{
			name: "json rfc3339 with offset becomes UTC",
			body: `{"sightings":[{"ts":"2025-03-01T11:14:59+01:00","tag":"` + testTag + `","rssi":-67}]}`,
			ct:   ctJSON,
			wantOK: []wardwatch.Sighting{
				{Time: testNow.Add(-time.Second), TagID: testTag, RSSI: -67},
			},
		},
		{
			name: "json numeric ts with fraction",
			body: fmt.Sprintf(`{"sightings":[{"ts":%d.5,"tag":"%s","rssi":-70.5}]}`, nowSec-2, testTag),
			ct:   ctJSON,
			wantOK: []wardwatch.Sighting{
				{Time: testNow.Add(-1500 * time.Millisecond), TagID: testTag, RSSI: -70.5},
			},
		},
		{
			name: "json numeric ts integer and exponent",
			body: fmt.Sprintf(`{"sightings":[{"ts":%d,"tag":"%s","rssi":-70},{"ts":%de0,"tag":"%s","rssi":-71}]}`, nowSec, testTag, nowSec, testTag),
			ct:   ctJSON,
			wantOK: []wardwatch.Sighting{
				{Time: testNow, TagID: testTag, RSSI: -70},
				{Time: testNow, TagID: testTag, RSSI: -71},
			},
		},
		{
			name: "missing and null ts mean receipt time; tag normalised; extra members ignored",
			body: `{"gateway":"x","sightings":[{"tag":"iBeacon:5B1E0A7C3D2F4E6A9C1B7A8D2E4F6C30:04:012","rssi":-60,"battery":90},{"ts":null,"tag":"mac:AA:BB:CC:DD:EE:FF","rssi":-61,"tx_power":null}]}`,
			ct:   ctJSON,
			wantOK: []wardwatch.Sighting{
				{Time: testNow, TagID: testTag, RSSI: -60},
				{Time: testNow, TagID: "mac:aabbccddeeff", RSSI: -61},
			},
		},
		{
			name:   "empty json batch",
			body:   `{"sightings":[]}`,
			ct:     ctJSON,
			wantOK: nil,
		},
		{
			name:   "content type with charset",
			body:   `{"sightings":[{"tag":"` + testTag + `","rssi":-1}]}`,
			ct:     "application/json; charset=utf-8",
			wantOK: []wardwatch.Sighting{{Time: testNow, TagID: testTag, RSSI: -1}},
		},
		{
			name: "partial batch keeps good items",
			body: `{"sightings":[
				{"tag":"` + testTag + `","rssi":-60},
				{"tag":"` + testTag + `","rssi":5},
				{"tag":"bogus","rssi":-60},
				{"tag":"epc:AB12","rssi":-65},
				{"tag":"` + testTag + `"},
				{"tag":"` + testTag + `","rssi":-60,"tx_power":30}
			]}`,
			ct: ctJSON,
			wantOK: []wardwatch.Sighting{
				{Time: testNow, TagID: testTag, RSSI: -60},
				{Time: testNow, TagID: "epc:ab12", RSSI: -65},
			},
			wantRejects: map[int]string{1: "rssi", 2: "scheme", 4: "rssi: missing", 5: "tx_power"},
		},
		{
			name: "wrong types",
			body: `{"sightings":[
				{"tag":12,"rssi":-60},
				{"tag":"` + testTag + `","rssi":"-60"},
				{"tag":"` + testTag + `","rssi":true},
				{"tag":"` + testTag + `","rssi":-60,"tx_power":"-59"},
				{"tag":"` + testTag + `","rssi":-60,"ts":true},
				{"tag":"` + testTag + `","rssi":-60,"ts":{"s":1}},
				{"tag":["` + testTag + `"],"rssi":-60},
				"` + testTag + `",
				42,
				[1,2],
				null
			]}`,
			ct: ctJSON,
			wantRejects: map[int]string{
				0: "tag: must be a string", 1: "rssi: must be a number", 2: "rssi: must be a number",
				3: "tx_power: must be a number", 4: "ts:", 5: "ts:", 6: "tag: must be a string",
				7: "must be a JSON object", 8: "must be a JSON object", 9: "must be a JSON object", 10: "must be a JSON object",
			},
		},
		{
			name: "nulls",
			body: `{"sightings":[{"tag":null,"rssi":-60},{"tag":"` + testTag + `","rssi":null}]}`,
			ct:   ctJSON,
			wantRejects: map[int]string{
				0: "tag: missing", 1: "rssi: missing",
			},
		},
		{
			name: "huge numbers and NaN-like strings",
			body: `{"sightings":[
				{"tag":"` + testTag + `","rssi":-1e400},
				{"tag":"` + testTag + `","rssi":-60,"ts":1e400},
				{"tag":"` + testTag + `","rssi":-60,"ts":-1e308},
				{"tag":"` + testTag + `","rssi":-60,"ts":9223372036854775807},
				{"tag":"` + testTag + `","rssi":"NaN"},
				{"tag":"` + testTag + `","rssi":-60,"ts":"NaN"},
				{"tag":"` + testTag + `","rssi":-60,"ts":"Infinity"},
				{"tag":"NaN","rssi":-60},
				{"tag":"` + testTag + `","rssi":-60,"tx_power":1e999},
				{"tag":"` + testTag + `","rssi":-0.0000000001}
			]}`,
			ct: ctJSON,
			wantOK: []wardwatch.Sighting{
				{Time: testNow, TagID: testTag, RSSI: -0.0000000001},
			},
			wantRejects: map[int]string{
				0: "rssi", 1: "ts", 2: "ts", 3: "ts", 4: "rssi: must be a number", 5: "ts", 6: "ts", 7: "tag", 8: "tx_power",
			},
		},
		{
			name: "time window",
			body: fmt.Sprintf(`{"sightings":[
				{"tag":"%[1]s","rssi":-60,"ts":"2025-03-01T10:20:00Z"},
				{"tag":"%[1]s","rssi":-60,"ts":"2025-03-01T10:20:00.001Z"},
				{"tag":"%[1]s","rssi":-60,"ts":"2025-03-01T09:15:00Z"},
				{"tag":"%[1]s","rssi":-60,"ts":"2025-03-01T09:14:59.999Z"},
				{"tag":"%[1]s","rssi":-60,"ts":%[2]d},
				{"tag":"%[1]s","rssi":-60,"ts":%[3]d},
				{"tag":"%[1]s","rssi":-60,"ts":"1970-01-01T00:00:00Z"},
				{"tag":"%[1]s","rssi":-60,"ts":"9999-12-31T23:59:59Z"},
				{"tag":"%[1]s","rssi":-60,"ts":0}
			]}`, testTag, nowSec+301, nowSec-3601),
			ct: ctJSON,
			wantOK: []wardwatch.Sighting{
				{Time: testNow.Add(5 * time.Minute), TagID: testTag, RSSI: -60},
				{Time: testNow.Add(-time.Hour), TagID: testTag, RSSI: -60},
			},
			wantRejects: map[int]string{
				1: "future", 3: "past", 4: "future", 5: "past", 6: "past", 7: "future", 8: "past",
			},
		},
		{
			name: "bad rfc3339 strings",
			body: `{"sightings":[
				{"tag":"` + testTag + `","rssi":-60,"ts":"2025-03-01 10:15:00"},
				{"tag":"` + testTag + `","rssi":-60,"ts":"1740824100"},
				{"tag":"` + testTag + `","rssi":-60,"ts":""}
			]}`,
			ct:          ctJSON,
			wantRejects: map[int]string{0: "RFC 3339", 1: "RFC 3339", 2: "RFC 3339"},
		},
		{
			name: "ndjson",
			body: fmt.Sprintf("{\"ts\":%d.25,\"tag\":\"%s\",\"rssi\":-71}\r\n\n  \n{\"tag\":\"eddystone:EDD1EBEAC04E5DEFA017:0BDB87539B67\",\"rssi\":-58,\"tx_power\":-12}\n", nowSec-1, testTag),
			ct:   ctNDJSON,
			wantOK: []wardwatch.Sighting{
				{Time: testNow.Add(-750 * time.Millisecond), TagID: testTag, RSSI: -71},
				{Time: testNow, TagID: "eddystone:edd1ebeac04e5defa017:0bdb87539b67", RSSI: -58, TxPower: -12},
			},
		},
		{
			name: "ndjson partial with a broken line",
			body: "{\"tag\":\"" + testTag + "\",\"rssi\":-71}\n{\"tag\":\"" + testTag + "\",\"rssi\":\n[1]\n{\"tag\":\"" + testTag + "\",\"rssi\":-72}",
			ct:   "application/ndjson",
			wantOK: []wardwatch.Sighting{
				{Time: testNow, TagID: testTag, RSSI: -71},
				{Time: testNow, TagID: testTag, RSSI: -72},
			},
			wantRejects: map[int]string{1: "not valid JSON", 2: "must be a JSON object"},
		},
		{
			name:   "empty ndjson body is an empty batch",
			body:   "\n\n",
			ct:     ctNDJSON,
			wantOK: nil,
		},
		{name: "empty json body", body: "", ct: ctJSON, wantErr: true},
		{name: "whitespace json body", body: " \n\t", ct: ctJSON, wantErr: true},
		{name: "not json", body: "hello", ct: ctJSON, wantErr: true},
		{name: "top-level array", body: `[{"tag":"` + testTag + `","rssi":-60}]`, ct: ctJSON, wantErr: true},
		{name: "top-level string", body: `"x"`, ct: ctJSON, wantErr: true},
		{name: "top-level null", body: `null`, ct: ctJSON, wantErr: true},
		{name: "no sightings member", body: `{"items":[]}`, ct: ctJSON, wantErr: true},
		{name: "sightings null", body: `{"sightings":null}`, ct: ctJSON, wantErr: true},
		{name: "sightings object", body: `{"sightings":{"tag":"x"}}`, ct: ctJSON, wantErr: true},
		{name: "sightings string", body: `{"sightings":"[]"}`, ct: ctJSON, wantErr: true},
		{name: "trailing garbage", body: `{"sightings":[]} x`, ct: ctJSON, wantErr: true},
		{name: "two objects", body: `{"sightings":[]}{"sightings":[]}`, ct: ctJSON, wantErr: true},
		{name: "truncated", body: `{"sightings":[{"tag":"` + testTag + `","rssi":-60}`, ct: ctJSON, wantErr: true},
		{name: "NaN literal", body: `{"sightings":[{"tag":"` + testTag + `","rssi":NaN}]}`, ct: ctJSON, wantErr: true},
		{name: "ndjson of garbage", body: "hello\nworld\n", ct: ctNDJSON, wantErr: true},
		{name: "unsupported content type", body: `{"sightings":[]}`, ct: "text/plain", wantErr: true},
		{name: "missing content type", body: `{"sightings":[]}`, ct: "", wantErr: true},
		{name: "too many json items", body: `{"sightings":[` + strings.Repeat("1,", MaxBatchItems) + `1]}`, ct: ctJSON, wantErr: true},
		{name: "too many ndjson items", body: strings.Repeat("{}\n", MaxBatchItems+1), ct: ctNDJSON, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs, err := ParseBatch([]byte(tt.body), tt.ct, testGW, testNow)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseBatch succeeded (%d ok, %d rejected), want an error", len(got), len(errs))
				}
				if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID {
					t.Errorf("error code = %q, want %q (%v)", code, wardwatch.EINVALID, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseBatch error: %v", err)
			}
			if len(got) != len(tt.wantOK) {
				t.Fatalf("got %d sightings %+v, want %d %+v (errors %+v)", len(got), got, len(tt.wantOK), tt.wantOK, errs)
			}
			for i, w := range tt.wantOK {
				w.GatewayID = testGW.ID
				g := got[i]
				if !g.Time.Equal(w.Time) || g.Time.Location() != time.UTC || g.GatewayID != w.GatewayID ||
					g.TagID != w.TagID || g.RSSI != w.RSSI || g.TxPower != w.TxPower {
					t.Errorf("sighting %d = %+v, want %+v", i, g, w)
				}
			}
			if len(errs) != len(tt.wantRejects) {
				t.Fatalf("got %d item errors %+v, want %d", len(errs), errs, len(tt.wantRejects))
			}
			for _, e := range errs {
				want, ok := tt.wantRejects[e.Index]
				if !ok {
					t.Errorf("unexpected item error %+v", e)
					continue
				}
				if !strings.Contains(e.Reason, want) {
					t.Errorf("item %d reason %q, want it to contain %q", e.Index, e.Reason, want)
				}
			}
		})
	}
}

func BenchmarkParseBatch(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"sightings":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"ts":"2025-03-01T10:14:%02d.%03dZ","tag":"ibeacon:%s:4:%d","rssi":%d,"tx_power":-59}`,
			i%60, i*7%1000, testUUID, i, -50-i%40)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ss, errs, err := ParseBatch(body, ctJSON, testGW, testNow)
		if err != nil || len(ss) != 100 || len(errs) != 0 {
			b.Fatalf("ParseBatch: %d ok, %v, %v", len(ss), errs, err)
		}
	}
}
