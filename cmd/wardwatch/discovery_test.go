package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
	"github.com/wardwatch/wardwatch/sim"
)

// TestDiscoveredTagAssignedByAdmin pushes sightings of a tag no asset has
// through the real push endpoint, sees it in the discovered-tags list of
// the real store, assigns it as an admin through the web form, and sees
// the asset placed by the next sightings, without a restart. The gateway
// page shows the pushing gateway online with its counts.
func TestDiscoveredTagAssignedByAdmin(t *testing.T) {
	hr := startHospital(t, nil)
	ctx := context.Background()
	store, h, a, base := hr.store, hr.hospital, hr.app, hr.base
	hash, err := auth.HashPassword("a long enough admin password")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateUser(ctx, &wardwatch.User{Username: "root-admin", Role: wardwatch.RoleAdmin, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	spare := wardwatch.Asset{Name: "Spare pump 99", Kind: wardwatch.AssetInfusionPump}
	if err := store.CreateAsset(ctx, &spare); err != nil {
		t.Fatal(err)
	}

	tokens := h.Tokens()
	newTag := "ibeacon:" + sim.HospitalUUID + ":77:1"
	push := func(gw string, rssi int) {
		t.Helper()
		body := fmt.Sprintf(`{"sightings":[{"tag":%q,"rssi":%d},{"tag":"not a tag","rssi":-50}]}`, newTag, rssi)
		req, _ := http.NewRequest(http.MethodPost, base+"/ingest/v1/gateways/"+gw+"/sightings", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokens[gw])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("push to %s: status %d", gw, resp.StatusCode)
		}
	}
	gws := []string{"f1-gw-01", "f1-gw-02", "f1-gw-03"}
	for i, gw := range gws {
		push(gw, -60-3*i)
	}
	a.discovery.flush(ctx)
	found, err := store.DiscoveredTags(ctx)
	if err != nil || len(found) != 1 || found[0].TagID != newTag || found[0].Sightings != 3 {
		t.Fatalf("DiscoveredTags = %+v, %v; want %s heard 3 times", found, err, newTag)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	form := func(path string, v url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	get := func(path string) string {
		t.Helper()
		resp, err := browser.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return string(b)
	}
	resp := form("/login", url.Values{"username": {"root-admin"}, "password": {"a long enough admin password"}})
	resp.Body.Close()
	if page := get("/admin/tags/discovered"); !strings.Contains(page, newTag) {
		t.Fatal("discovered-tags page does not list the new tag")
	}
	if page := get("/admin/gateways"); !strings.Contains(page, `data-gateway="f1-gw-01" data-status="online"`) ||
		!strings.Contains(page, `data-gateway="f2-gw-01" data-status="never"`) {
		t.Fatal("gateways page does not show f1-gw-01 online and f2-gw-01 never heard")
	}
	gh, _ := a.health.Gateway(mustGatewayID(t, store, "f1-gw-01"), time.Now())
	if gh.Accepted != 1 || gh.Malformed != 1 || !gh.Online {
		t.Errorf("health of f1-gw-01 = %+v, want 1 accepted, 1 malformed, online", gh)
	}

	resp = form("/admin/tags/discovered/assign", url.Values{"tag": {newTag}, "asset": {fmt.Sprint(spare.ID)}})
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "is assigned to Spare pump 99") {
		t.Fatalf("assign: status %d, page does not confirm", resp.StatusCode)
	}

	// The next sightings place the asset: no restart needed.
	deadline := time.Now().Add(20 * time.Second)
	for {
		for i, gw := range gws {
			push(gw, -60-3*i)
		}
		placed := false
		for _, f := range []int64{1, 2} {
			for _, p := range a.hub.Snapshot(f) {
				placed = placed || p.AssetID == spare.ID
			}
		}
		if placed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the assigned tag's asset was never placed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if found, _ := store.DiscoveredTags(ctx); len(found) != 0 {
		t.Errorf("discovered tags after assign = %+v, want none", found)
	}
}

func mustGatewayID(t *testing.T, store interface {
	GatewayByKey(context.Context, string) (wardwatch.Gateway, error)
}, key string) int64 {
	t.Helper()
	g, err := store.GatewayByKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return g.ID
}
