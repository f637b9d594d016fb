package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/sim"
)

// TestRFIDReaderPushAndPoll configures an RFID reader as an admin through
// the web forms (its antennas watching two rooms of the demo hospital),
// pushes Zebra reads with the token shown once, and sees the tagged asset
// placed in the antenna's room; then a reader that can only be polled,
// added as a poll target, places another asset in its room.
func TestRFIDReaderPushAndPoll(t *testing.T) {
	s := startAdminSession(t)
	ctx := context.Background()
	if err := sim.NewHospital().Seed(ctx, s.store); err != nil {
		t.Fatal(err)
	}
	zones, err := s.store.Zones(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	zoneByName := map[string]wardwatch.Zone{}
	for _, z := range zones {
		if _, dup := zoneByName[z.Name]; !dup {
			zoneByName[z.Name] = z
		}
	}
	roomA, roomB := zones[0], zones[1]
	pump := wardwatch.Asset{Name: "RFID pump", Kind: wardwatch.AssetInfusionPump}
	bed := wardwatch.Asset{Name: "RFID bed", Kind: wardwatch.AssetBed}
	for _, a := range []*wardwatch.Asset{&pump, &bed} {
		if err := s.store.CreateAsset(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	const pumpEPC, bedEPC = "3034257BF7194E4000001A85", "3034257BF7194E4000001A86"
	for _, tag := range []wardwatch.Tag{{ID: "epc:" + strings.ToLower(pumpEPC), AssetID: pump.ID}, {ID: "epc:" + strings.ToLower(bedEPC), AssetID: bed.ID}} {
		if err := s.store.CreateTag(ctx, tag); err != nil {
			t.Fatal(err)
		}
	}

	code, page := s.post("/admin/readers", url.Values{"key": {"store-1"}, "name": {"Store reader"}, "format": {"zebra"},
		"antenna_1": {fmt.Sprint(roomA.ID)}, "antenna_2": {fmt.Sprint(roomB.ID)}})
	if code != http.StatusOK {
		t.Fatalf("add reader: %d", code)
	}
	m := regexp.MustCompile(`id="new-token">([^<]+)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the new reader's token was not shown")
	}
	token := m[1]
	if _, page = s.get("/admin/readers"); strings.Contains(page, token) {
		t.Fatal("the token is shown again")
	}

	push := func(body string) int {
		req, _ := http.NewRequest(http.MethodPost, s.base+"/ingest/v1/readers/store-1/reads", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	zebra := func(antenna int) string {
		return fmt.Sprintf(`{"data":{"idHex":%q,"antenna":%d,"peakRssi":-52,"reads":3},"timestamp":%q,"type":"SIMPLE"}`,
			pumpEPC, antenna, time.Now().UTC().Format(time.RFC3339Nano))
	}
	if code := push(`{"data":{"idHex":"zz"}}`); code != http.StatusBadRequest {
		t.Errorf("malformed read: %d, want 400", code)
	}
	req, _ := http.NewRequest(http.MethodPost, s.base+"/ingest/v1/readers/store-1/reads", strings.NewReader(zebra(1)))
	req.Header.Set("Authorization", "Bearer wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v %v", resp.StatusCode, err)
	}

	placedIn := func(assetID int64) int64 {
		for _, f := range []int64{roomA.FloorID, roomB.FloorID} {
			for _, p := range s.app.hub.Snapshot(f) {
				if p.AssetID == assetID {
					return p.ZoneID
				}
			}
		}
		return 0
	}
	waitZone := func(assetID, zone int64, feed func()) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for placedIn(assetID) != zone {
			if time.Now().After(deadline) {
				t.Fatalf("asset %d in zone %d, want %d", assetID, placedIn(assetID), zone)
			}
			feed()
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitZone(pump.ID, roomA.ID, func() {
		if code := push(zebra(1)); code != http.StatusAccepted {
			t.Fatalf("push: %d", code)
		}
	})

	// A reader only reachable by polling, in room B.
	polled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer poll-secret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"reads":[{"epc":%q,"antenna":2,"rssi":-50}]}`, bedEPC)
	}))
	defer polled.Close()
	if code, page = s.post("/admin/polls", url.Values{"name": {"store poll"}, "url": {polled.URL}, "source": {"rfid"},
		"source_key": {"store-1"}, "format": {"wardwatch"}, "interval": {"1s"}, "timeout": {"1s"}, "auth_header": {"Bearer poll-secret"},
		"enabled": {"on"}}); code != http.StatusOK {
		t.Fatalf("add poll target: %d", code)
	}
	if strings.Contains(page, "poll-secret") {
		t.Fatal("the poll target's secret is shown")
	}
	waitZone(bed.ID, roomB.ID, func() {})
	if _, page = s.get("/admin/readers"); !strings.Contains(page, `data-poll="store poll"`) || !strings.Contains(page, "Online") {
		t.Errorf("the readers page does not show the poll target online")
	}

	// A BLE gateway that can only be polled, in the WardWatch batch format.
	tags, _ := s.store.Tags(ctx)
	var bleTag wardwatch.Tag
	for _, tg := range tags {
		if strings.HasPrefix(tg.ID, "ibeacon:") {
			bleTag = tg
			break
		}
	}
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"sightings":[{"tag":%q,"rssi":-58},{"tag":"junk","rssi":"loud"}]}`, bleTag.ID)
	}))
	defer gateway.Close()
	if code, _ = s.post("/admin/polls", url.Values{"name": {"gw poll"}, "url": {gateway.URL}, "source": {"ble"},
		"source_key": {"f1-gw-01"}, "format": {"wardwatch"}, "interval": {"1s"}, "timeout": {"1s"}, "enabled": {"on"}}); code != http.StatusOK {
		t.Fatalf("add BLE poll target: %d", code)
	}
	f1gw, err := s.store.GatewayByKey(ctx, "f1-gw-01")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		placed := false
		for _, p := range s.app.hub.Snapshot(f1gw.FloorID) {
			placed = placed || p.AssetID == bleTag.AssetID
		}
		if placed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the polled BLE gateway's tag was never placed")
		}
	}
	if h, _ := s.app.health.Gateway(f1gw.ID, time.Now()); h.Accepted == 0 || h.Malformed == 0 {
		t.Errorf("polled gateway health = %+v, want accepted and malformed counted", h)
	}

	gw, err := s.store.GatewayByKey(ctx, "store-1#1")
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := s.app.health.Gateway(gw.ID, time.Now()); h.Accepted == 0 || !h.Online {
		t.Errorf("antenna 1's health = %+v, want reads counted", h)
	}
}

// TestReaderLookupCaches: a reader is read from the store once per TTL,
// and an admin change (clear) is seen at once.
func TestReaderLookupCaches(t *testing.T) {
	hr := startHospital(t, nil)
	ctx := context.Background()
	zones, _ := hr.store.Zones(ctx, 0)
	r := wardwatch.RFIDReader{Key: "dock", Antennas: []wardwatch.RFIDAntenna{{Port: 1, ZoneID: zones[0].ID}}}
	if err := hr.store.SaveRFIDReader(ctx, &r); err != nil {
		t.Fatal(err)
	}
	l := newReaderLookup(hr.store)
	if _, err := l.ReaderByKey(ctx, "dock"); err != nil {
		t.Fatal(err)
	}
	if err := hr.store.DeleteRFIDReader(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReaderByKey(ctx, "dock"); err != nil {
		t.Fatalf("cached reader not served: %v", err)
	}
	l.clear()
	if _, err := l.ReaderByKey(ctx, "dock"); wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
		t.Fatalf("after clear: %v, want not found", err)
	}
}
