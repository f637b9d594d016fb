package ble

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

func TestPushHandlerVendorFormats(t *testing.T) {
	ingicsBody := "$GPRP,C30000250F6A,AC233FC0A1B2,-67," + advIBeacon + "\r\n" +
		"$GPRP,C30000250F7B,AC233FC0A1B2,-71," + advEddystoneUID + "\r\n" +
		"$GPRP,0C61CFC1452E,AC233FC0A1B2,-44," + advPhone + "\r\n" +
		"$GPRP,C30000250F6A,AC233FC0A1B2,12," + advIBeacon + "\r\n"
	tests := []struct {
		name       string
		ct         string
		body       string
		sinkErr    error
		want       int
		wantResult string
		wantInBody string
		wantTags   []string
	}{
		{name: "minew json-long", ct: "application/json", body: minewBody,
			want: 202, wantResult: resultAccepted, wantInBody: `"accepted":2,"rejected":0,"errors":[],"ignored":2`,
			wantTags: []string{tagPump, tagEddystone}},
		{name: "minew with charset and leading space", ct: "application/json; charset=utf-8", body: "\n " + minewBody,
			want: 202, wantResult: resultAccepted, wantTags: []string{tagPump, tagEddystone}},
		{name: "ingics lines", ct: "text/plain", body: ingicsBody,
			want: 202, wantResult: resultPartial, wantInBody: `"accepted":2,"rejected":1,"errors":[{"index":3,"error":"rssi: must be between -130 and 0 dBm"}],"ignored":1`,
			wantTags: []string{tagPump, tagEddystone}},
		{name: "ingics nothing usable", ct: "text/plain; charset=us-ascii", body: "$GPRP,C30000250F6A,AC233FC0A1B2,12," + advIBeacon,
			want: 400, wantResult: resultRejected, wantInBody: `"rejected":1`},
		{name: "ingics only phones", ct: "text/plain", body: "$GPRP,0C61CFC1452E,AC233FC0A1B2,-44," + advPhone,
			want: 202, wantResult: resultAccepted, wantInBody: `"accepted":0,"rejected":0,"errors":[],"ignored":1`},
		{name: "text that is not ingics", ct: "text/plain", body: batch(item(-60)),
			want: 415, wantResult: resultRejected},
		{name: "ingics lines, none a record", ct: "text/plain", body: "$\n",
			want: 400, wantResult: resultRejected, wantInBody: "unsupported record type"},
		{name: "minew malformed", ct: "application/json", body: `[{"type":"Gateway"`,
			want: 400, wantResult: resultRejected, wantInBody: "not valid JSON"},
		{name: "minew sink unavailable", ct: "application/json", body: minewBody, sinkErr: wardwatch.Errorf(wardwatch.EUNAVAILABLE, "queue full"),
			want: 503, wantResult: resultUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, PushHandlerOptions{})
			env.sink.err = tt.sinkErr
			r := env.post(t, testGW.Key, goodToken, tt.ct, tt.body)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.raw)
			}
			if tt.wantInBody != "" && !strings.Contains(r.raw, tt.wantInBody) {
				t.Errorf("body %s does not contain %s", r.raw, tt.wantInBody)
			}
			if got := counterValue(t, env.reg, "wardwatch_ingest_batches_total", tt.wantResult); got != 1 {
				t.Errorf("batches_total{%s} = %v, want 1 (body %s)", tt.wantResult, got, r.raw)
			}
			got := env.sink.all()
			if len(got) != len(tt.wantTags) {
				t.Fatalf("sink got %+v, want tags %v", got, tt.wantTags)
			}
			for i, s := range got {
				if s.TagID != tt.wantTags[i] || s.GatewayID != testGW.ID {
					t.Errorf("sighting %d = %+v, want tag %s from gateway %d", i, s, tt.wantTags[i], testGW.ID)
				}
			}
			if logs := env.logs.String(); strings.Contains(logs, "ibeacon:") || strings.Contains(logs, "C30000") {
				t.Errorf("logs contain body content:\n%s", logs)
			}
		})
	}
}

func TestPushHandlerVendorRouterOption(t *testing.T) {
	readings := &readingRecorder{}
	sink := &fakeSink{}
	reg := prometheus.NewRegistry()
	router := NewRouter(nil, sink, readings, nil, reg, RouterOptions{
		AllowMAC: func(tag string) bool { return tag == "mac:c30000250f6c" },
	})
	env := newTestEnv(t, PushHandlerOptions{Router: router})
	body := `[{"type":"Gateway","mac":"AC233FC0A1B2"},
		{"type":"S1","mac":"C30000250F6C","rssi":-66,"temperature":5.5,"humidity":44.5},
		{"type":"S1","mac":"C30000250F6D","rssi":-67,"temperature":6.5}]`
	r := env.post(t, testGW.Key, goodToken, "application/json", body)
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	var resp batchResponse
	if err := json.Unmarshal([]byte(r.raw), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Accepted != 1 || resp.Ignored != 1 {
		t.Errorf("response %+v", resp)
	}
	if got := sink.all(); len(got) != 1 || got[0].TagID != "mac:c30000250f6c" || got[0].GatewayID != testGW.ID {
		t.Errorf("router sink got %+v", got)
	}
	if len(env.sink.all()) != 0 {
		t.Errorf("the handler's own sink was used for a vendor body")
	}
	if len(readings.got) != 2 || readings.got[0].SensorID != "mac:c30000250f6c" {
		t.Errorf("readings %+v", readings.got)
	}
	if v := counter(t, reg, "wardwatch_collector_messages_total", "minew_json_long", "ok"); v != 1 {
		t.Errorf("collector messages ok = %v", v)
	}
}
