package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

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
