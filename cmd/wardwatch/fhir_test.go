package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// TestFHIRAndAPIOnTheHospital reads the demo hospital through the REST and
// FHIR APIs with a nurse's token: the CapabilityStatement, pumps as FHIR
// Devices, the floors as Locations, and the same assets from /api/v1.
func TestFHIRAndAPIOnTheHospital(t *testing.T) {
	h := startHospital(t, nil)
	ctx := context.Background()
	const token = "wwt_nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	if err := h.store.CreateAPIToken(ctx, &wardwatch.APIToken{Name: "ehr", Role: wardwatch.RoleNurse, Prefix: token[:12],
		CreatedBy: "test", SecretHash: auth.HashToken(token)}); err != nil {
		t.Fatal(err)
	}
	get := func(path string, v any) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp.Header.Get("Content-Type")
	}
	var cs struct {
		ResourceType string `json:"resourceType"`
		FHIRVersion  string `json:"fhirVersion"`
	}
	if ct := get("/fhir/r4/metadata", &cs); cs.ResourceType != "CapabilityStatement" || cs.FHIRVersion != "4.0.1" || !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("metadata: %+v, %s", cs, ct)
	}
	var bundle struct {
		ResourceType string `json:"resourceType"`
		Total        int    `json:"total"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	get("/fhir/r4/Location?_count=500", &bundle)
	if bundle.ResourceType != "Bundle" || bundle.Total == 0 {
		t.Fatalf("Location search: %+v", bundle)
	}
	get("/fhir/r4/Device?_count=500", &bundle)
	assets, err := h.store.Assets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bundle.Total < len(assets) {
		t.Errorf("Device search: %d devices for %d assets", bundle.Total, len(assets))
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	get("/api/v1/assets?limit=1000", &list)
	if len(list.Items) != len(assets) {
		t.Errorf("/api/v1/assets: %d items for %d assets", len(list.Items), len(assets))
	}
}

// TestAPIWritesRoundTrip changes the configuration through /api/v1 with an
// admin's token and reads it back: an asset created, updated and deleted;
// a monitored unit with edited alert rules that reach the alert service;
// a bad body refused with a JSON error; a nurse's token refused.
func TestAPIWritesRoundTrip(t *testing.T) {
	h := startHospital(t, nil)
	ctx := context.Background()
	tokens := map[wardwatch.Role]string{}
	for _, r := range []wardwatch.Role{wardwatch.RoleAdmin, wardwatch.RoleNurse} {
		text := "wwt_" + strings.Repeat(string(r[0]), 52)
		if err := h.store.CreateAPIToken(ctx, &wardwatch.APIToken{Name: string(r), Role: r, Prefix: text[:12], CreatedBy: "test",
			SecretHash: auth.HashToken(text)}); err != nil {
			t.Fatal(err)
		}
		tokens[r] = text
	}
	call := func(role wardwatch.Role, method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, h.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokens[role])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		if len(b) > 0 {
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, b)
			}
		}
		return resp.StatusCode, out
	}
	admin := wardwatch.RoleAdmin

	code, a := call(admin, "POST", "/api/v1/assets", `{"name": "Pump API-1", "kind": "infusion_pump", "asset_tag": "API-0001", "tag": "mac:0a0b0c0d0e0f"}`)
	if code != http.StatusCreated || a["name"] != "Pump API-1" {
		t.Fatalf("create asset: %d %v", code, a)
	}
	id := strconv.FormatFloat(a["id"].(float64), 'f', 0, 64)
	if code, _ = call(admin, "PUT", "/api/v1/assets/"+id, `{"name": "Pump API-1", "kind": "infusion_pump", "status": "in_repair", "asset_tag": "API-0001"}`); code != http.StatusOK {
		t.Fatalf("update asset: %d", code)
	}
	if code, a = call(wardwatch.RoleNurse, "GET", "/api/v1/assets/"+id, ""); code != http.StatusOK || a["status"] != "in_repair" {
		t.Fatalf("read the asset back: %d %v", code, a)
	}
	if tags, _ := h.store.Tags(ctx); !slices.ContainsFunc(tags, func(tg wardwatch.Tag) bool { return tg.ID == "mac:0a0b0c0d0e0f" }) {
		t.Error("the asset's tag was not stored")
	}
	if code, e := call(wardwatch.RoleNurse, "DELETE", "/api/v1/assets/"+id, ""); code != http.StatusForbidden || e["error"] == nil {
		t.Errorf("a nurse deleting: %d %v", code, e)
	}
	if code, _ = call(admin, "DELETE", "/api/v1/assets/"+id, ""); code != http.StatusNoContent {
		t.Fatalf("delete asset: %d", code)
	}
	if code, e := call(admin, "GET", "/api/v1/assets/"+id, ""); code != http.StatusNotFound || e["error"].(map[string]any)["code"] == "" {
		t.Errorf("deleted asset: %d %v", code, e)
	}
	if code, e := call(admin, "POST", "/api/v1/assets", `{"name": "", "kind": "toaster"}`); code != http.StatusBadRequest || e["error"] == nil {
		t.Errorf("invalid asset: %d %v", code, e)
	}

	code, u := call(admin, "POST", "/api/v1/units", `{"name": "API fridge", "profile": "vaccine_fridge"}`)
	if code != http.StatusCreated {
		t.Fatalf("create unit: %d %v", code, u)
	}
	uid := strconv.FormatFloat(u["id"].(float64), 'f', 0, 64)
	rules := `[{"id": "temperature_high", "name": "Temperature above 7.5 °C", "category": "environment", "priority": "high",
		"latched": true, "metric": "temperature", "condition": "above", "limit": 7.5, "delay": "10m", "deadband": 0.3, "min_clear": "5m"}]`
	if code, r := call(admin, "PUT", "/api/v1/units/"+uid+"/rules", rules); code != http.StatusOK {
		t.Fatalf("put rules: %d %v", code, r)
	}
	stored, err := h.store.UnitRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unitID, _ := strconv.ParseInt(uid, 10, 64)
	if rs := stored[unitID]; len(rs) != 1 || rs[0].Limit != 7.5 || rs[0].Delay != 10*time.Minute {
		t.Errorf("stored rules: %+v", rs)
	}
}
