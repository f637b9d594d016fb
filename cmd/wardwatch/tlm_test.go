package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// TestTLMReadingsReachTheStore pushes a Minew gateway's JSON-LONG batches
// with an Eddystone-UID and then an Eddystone-TLM advertisement from the
// same tag: the tag's battery and temperature become sensor readings in
// the telemetry store.
func TestTLMReadingsReachTheStore(t *testing.T) {
	hr := startHospital(t, nil)
	ctx := context.Background()
	a, h := hr.app, hr.hospital

	const (
		flags = "020106"
		uid   = flags + "0303AAFE" + "1716AAFE00E7" + "EDD1EBEAC04E5DEFA017" + "0BDB87539B67" + "0000"
		tlm   = flags + "0303AAFE" + "1116AAFE2000" + "0BB8" + "1780" + "00001234" + "0001E240" // 3.0 V, 23.5 °C
		tag   = "eddystone:edd1ebeac04e5defa017:0bdb87539b67"
	)
	push := func(raw string) {
		body := `[{"type":"Gateway","mac":"AC233FC0A1B2"},{"type":"Unknown","mac":"C30000250F7B","rssi":-71,"rawData":"` + raw + `"}]`
		req, _ := http.NewRequest(http.MethodPost, hr.base+"/ingest/v1/gateways/f1-gw-01/sightings", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+h.Tokens()["f1-gw-01"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("push: %d", resp.StatusCode)
		}
	}
	push(uid)
	push(tlm)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got, err := a.telemetry.Readings(ctx, wardwatch.SeriesQuery{SensorID: tag, Metric: wardwatch.MetricTemperature,
			From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 && got[0].Value == 23.5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("temperature readings of %s = %+v, want one of 23.5 °C", tag, got)
		}
	}
	volts, _ := a.telemetry.Readings(ctx, wardwatch.SeriesQuery{SensorID: tag, Metric: wardwatch.MetricBatteryVoltage,
		From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
	if len(volts) != 1 || volts[0].Value != 3 {
		t.Fatalf("battery readings = %+v, want 3.0 V", volts)
	}
}
