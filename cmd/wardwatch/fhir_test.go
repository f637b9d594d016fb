package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
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
// Then a tag fixed to an asset sends an Eddystone-TLM frame through a
// gateway and a pump reports its battery: both become Observations on the
// asset's Device with UCUM units, latest and in the stored history, and
// DeviceMetrics.
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

	// A tag's own readings and a pump's battery.
	pump, err := h.store.AssetBySerialOrTag(ctx, "SIM-0410")
	if err != nil {
		t.Fatal(err)
	}

	// The demo pumps carry GS1 UDIs: FHIR finds them by identifier with
	// the issuing agency as the system and gives the udiCarrier; the REST
	// API gives the UDI with its DI and issuer.
	udi, err := wardwatch.ParseUDI(pump.UDI)
	if err != nil || pump.Manufacturer == "" || pump.Model == "" {
		t.Fatalf("pump SIM-0410: UDI %q (%v), make %q, model %q", pump.UDI, err, pump.Manufacturer, pump.Model)
	}
	var devices struct {
		Entry []struct {
			Resource struct {
				ID           string
				UDICarrier   []struct{ DeviceIdentifier, Issuer, CarrierHRF, EntryType string }
				Manufacturer string
			}
		}
	}
	get("/fhir/r4/Device?_count=500&identifier="+url.QueryEscape("http://hl7.org/fhir/NamingSystem/gs1-di|"+udi.DI), &devices)
	found := false
	for _, e := range devices.Entry {
		d := e.Resource
		if len(d.UDICarrier) != 1 || d.UDICarrier[0].DeviceIdentifier != udi.DI || d.UDICarrier[0].Issuer != "http://hl7.org/fhir/NamingSystem/gs1-di" ||
			d.UDICarrier[0].EntryType != "manual" || d.Manufacturer == "" {
			t.Errorf("Device/%s found by UDI-DI %s: %+v", d.ID, udi.DI, d)
		}
		found = found || (d.ID == "asset-"+strconv.FormatInt(pump.ID, 10) && d.UDICarrier[0].CarrierHRF == pump.UDI)
	}
	if !found {
		t.Errorf("Device?identifier=gs1-di|%s does not find pump SIM-0410: %+v", udi.DI, devices)
	}
	var apiPump struct{ UDI, UDIDI, UDIIssuer, Manufacturer, Model string }
	get("/api/v1/assets/"+strconv.FormatInt(pump.ID, 10), &struct {
		UDI          *string `json:"udi"`
		UDIDI        *string `json:"udi_di"`
		UDIIssuer    *string `json:"udi_issuer"`
		Manufacturer *string `json:"manufacturer"`
		Model        *string `json:"model"`
	}{&apiPump.UDI, &apiPump.UDIDI, &apiPump.UDIIssuer, &apiPump.Manufacturer, &apiPump.Model})
	if apiPump.UDI != pump.UDI || apiPump.UDIDI != udi.DI || apiPump.UDIIssuer != "GS1" || apiPump.Model != pump.Model {
		t.Errorf("/api/v1/assets/%d: %+v", pump.ID, apiPump)
	}

	i := slices.IndexFunc(assets, func(a wardwatch.Asset) bool { return a.ID != pump.ID && a.Kind != wardwatch.AssetInfusionPump })
	if i < 0 {
		t.Fatal("the demo hospital has no asset other than pumps")
	}
	tagged := assets[i]
	const tag = "eddystone:edd1ebeac04e5defa017:0bdb87539b67"
	if err := h.store.CreateTag(ctx, wardwatch.Tag{ID: tag, AssetID: tagged.ID}); err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	pushTLM(t, h)
	if err := h.app.pumps.SubmitPumpStates(ctx, []wardwatch.PumpState{{Time: time.Now().UTC(), Serial: "SIM-0410",
		Model: "Sim 1", Status: wardwatch.PumpIdle, Battery: 87, Rate: math.NaN(), VTBI: math.NaN(), Infused: math.NaN()}}); err != nil {
		t.Fatal(err)
	}
	type observation struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Code         struct {
			Coding []struct{ System, Code string } `json:"coding"`
		} `json:"code"`
		ValueQuantity struct {
			Value  float64 `json:"value"`
			System string  `json:"system"`
			Code   string  `json:"code"`
		} `json:"valueQuantity"`
		Device struct {
			Reference string `json:"reference"`
		} `json:"device"`
	}
	var obs struct {
		Total int `json:"total"`
		Entry []struct {
			Resource observation `json:"resource"`
		} `json:"entry"`
	}
	// search polls until the query finds n Observations (the gateway's
	// batch and the store's writes are asynchronous), then returns them by
	// metric code.
	search := func(query string, n int) map[string][]observation {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			obs.Entry = nil
			get("/fhir/r4/Observation?"+query, &obs)
			if len(obs.Entry) >= n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Observation?%s: %d entries, want %d", query, len(obs.Entry), n)
			}
		}
		out := map[string][]observation{}
		for _, e := range obs.Entry {
			for _, c := range e.Resource.Code.Coding {
				out[c.Code] = append(out[c.Code], e.Resource)
			}
		}
		return out
	}
	tagRef, pumpRef := "Device/asset-"+strconv.FormatInt(tagged.ID, 10), "Device/asset-"+strconv.FormatInt(pump.ID, 10)
	check := func(what string, got []observation, device, ucum string, value float64) observation {
		t.Helper()
		if len(got) != 1 {
			t.Fatalf("%s: %d observations, want 1: %+v", what, len(got), got)
		}
		o := got[0]
		if o.ResourceType != "Observation" || o.Device.Reference != device || o.ValueQuantity.System != "http://unitsofmeasure.org" ||
			o.ValueQuantity.Code != ucum || o.ValueQuantity.Value != value {
			t.Errorf("%s: %+v, want device %s and %v %s", what, o, device, value, ucum)
		}
		return o
	}
	latest := search("device="+tagRef, 2)
	temp := check("tag temperature", latest["temperature"], tagRef, "Cel", 23.5)
	check("tag battery", latest["battery_voltage"], tagRef, "V", 3)
	latest = search("device="+pumpRef+"&code=battery_percent", 1)
	pumpBattery := check("pump battery", latest["battery_percent"], pumpRef, "%", 87)

	// The stored history: the same readings, by date.
	since := "&date=ge" + start.Format(time.RFC3339)
	history := search("device="+tagRef+since+"&_count=100", 2)
	if o := check("tag temperature history", history["temperature"], tagRef, "Cel", 23.5); o.ID != temp.ID {
		t.Errorf("history id %s, latest id %s", o.ID, temp.ID)
	}
	history = search("device="+pumpRef+"&code=battery_percent"+since, 1)
	check("pump battery history", history["battery_percent"], pumpRef, "%", 87)
	if history = search("device="+tagRef+"&date=lt"+start.Format(time.RFC3339), 0); len(history) != 0 {
		t.Errorf("readings before they were sent: %+v", history)
	}
	var one observation
	get("/fhir/r4/Observation/"+pumpBattery.ID, &one)
	if one.ID != pumpBattery.ID || one.Device.Reference != pumpRef {
		t.Errorf("read %s: %+v", pumpBattery.ID, one)
	}
	var metrics struct {
		Entry []struct {
			Resource struct {
				ID     string                     `json:"id"`
				Source struct{ Reference string } `json:"source"`
				Unit   struct {
					Coding []struct{ System, Code string } `json:"coding"`
				} `json:"unit"`
				Calibration []struct{ State string } `json:"calibration"`
			} `json:"resource"`
		} `json:"entry"`
	}
	get("/fhir/r4/DeviceMetric?source="+tagRef+"&type=temperature", &metrics)
	if len(metrics.Entry) != 1 || metrics.Entry[0].Resource.Source.Reference != tagRef ||
		len(metrics.Entry[0].Resource.Unit.Coding) != 1 || metrics.Entry[0].Resource.Unit.Coding[0].Code != "Cel" ||
		len(metrics.Entry[0].Resource.Calibration) != 1 || metrics.Entry[0].Resource.Calibration[0].State != "unspecified" {
		t.Errorf("the tag's temperature DeviceMetric: %+v", metrics)
	}
}

// pushTLM sends gateway f1-gw-01's Minew batches for an Eddystone-UID
// advertisement and then an Eddystone-TLM one from the same tag
// (eddystone:edd1ebeac04e5defa017:0bdb87539b67): 3.0 V, 23.5 °C.
func pushTLM(t *testing.T, h *hospitalRun) {
	t.Helper()
	const (
		flags = "020106"
		uid   = flags + "0303AAFE" + "1716AAFE00E7" + "EDD1EBEAC04E5DEFA017" + "0BDB87539B67" + "0000"
		tlm   = flags + "0303AAFE" + "1116AAFE2000" + "0BB8" + "1780" + "00001234" + "0001E240"
	)
	for _, raw := range []string{uid, tlm} {
		body := `[{"type":"Gateway","mac":"AC233FC0A1B2"},{"type":"Unknown","mac":"C30000250F7B","rssi":-71,"rawData":"` + raw + `"}]`
		req, _ := http.NewRequest(http.MethodPost, h.base+"/ingest/v1/gateways/f1-gw-01/sightings", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+h.hospital.Tokens()["f1-gw-01"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("push: %d", resp.StatusCode)
		}
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

	code, a := call(admin, "POST", "/api/v1/assets", `{"name": "Pump API-1", "kind": "infusion_pump", "asset_tag": "API-0001", "tag": "mac:0a0b0c0d0e0f",
		"udi": "(01) 00614141200108 (21)API-0001", "manufacturer": "Harbourline Medical", "model": "Volumetric LVP-200"}`)
	if code != http.StatusCreated || a["name"] != "Pump API-1" || a["udi"] != "(01)00614141200108(21)API-0001" || a["udi_issuer"] != "GS1" {
		t.Fatalf("create asset: %d %v", code, a)
	}
	if stored, err := h.store.AssetBySerialOrTag(ctx, "API-0001"); err != nil || stored.UDI != "(01)00614141200108(21)API-0001" ||
		stored.Manufacturer != "Harbourline Medical" || stored.Model != "Volumetric LVP-200" {
		t.Fatalf("stored asset %+v, %v", stored, err)
	}
	if code, e := call(admin, "POST", "/api/v1/assets", `{"name": "Pump API-2", "kind": "infusion_pump", "udi": "(01)00614141200109"}`); code != http.StatusBadRequest ||
		!strings.Contains(e["error"].(map[string]any)["message"].(string), "check digit") {
		t.Errorf("a UDI with a wrong check digit: %d %v", code, e)
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
