package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
)

// newTestServer mounts the handler under /fhir/r4 the way the lead does
// and serves it on a loopback port.
func newTestServer(t *testing.T, src Source, opts Options) *httptest.Server {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	mux := http.NewServeMux()
	mux.Handle("/fhir/r4/", http.StripPrefix("/fhir/r4", NewHandler(src, opts)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func get(t *testing.T, rawURL string) response {
	t.Helper()
	return do(t, http.MethodGet, rawURL)
}

func do(t *testing.T, method, rawURL string) response {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{res.StatusCode, res.Header, b}
}

// bundleIDs decodes a searchset and returns its entries' ids, its total
// (-1 when absent) and its next link.
func bundleIDs(t *testing.T, b []byte) (ids []string, total int, next string) {
	t.Helper()
	var bundle struct {
		ResourceType string
		Type         string
		Total        *int
		Link         []BundleLink
		Entry        []struct {
			FullURL  string
			Resource struct{ ResourceType, ID string }
			Search   EntrySearch
		}
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatalf("decode bundle: %v\n%s", err, b)
	}
	if bundle.ResourceType != "Bundle" || bundle.Type != "searchset" {
		t.Fatalf("not a searchset bundle: %s", b)
	}
	for _, e := range bundle.Entry {
		if !strings.HasSuffix(e.FullURL, "/"+e.Resource.ResourceType+"/"+e.Resource.ID) || e.Search.Mode != "match" {
			t.Errorf("entry %s/%s: fullUrl %q, search.mode %q", e.Resource.ResourceType, e.Resource.ID, e.FullURL, e.Search.Mode)
		}
		ids = append(ids, e.Resource.ID)
	}
	total = -1
	if bundle.Total != nil {
		total = *bundle.Total
	}
	for _, l := range bundle.Link {
		if l.Relation == "next" {
			next = l.URL
		}
	}
	return ids, total, next
}

// TestEveryResourceValidates reads metadata, searches every type and
// reads every entry, and checks every body (and the errors) against the
// R4 JSON schema.
func TestEveryResourceValidates(t *testing.T) {
	c := loadSchema(t)
	srv := newTestServer(t, fixture(), Options{Version: "1.2.3"})
	base := srv.URL + "/fhir/r4"

	res := get(t, base+"/metadata")
	if res.status != http.StatusOK {
		t.Fatalf("metadata: status %d: %s", res.status, res.body)
	}
	checkFHIR(t, c, res.body)

	seen := map[string]int{}
	for _, typ := range resourceTypes {
		queries := []string{"?_count=500"}
		if typ == "Observation" {
			queries = append(queries, "?date=ge2026-03-10&device=modbus-1&_count=500", "?date=ge2026-01-01&_count=500",
				"?date=ge2026-03-10&device=asset-14&_count=500")
		}
		for _, q := range queries {
			res := get(t, base+"/"+typ+q)
			if res.status != http.StatusOK {
				t.Fatalf("%s%s: status %d: %s", typ, q, res.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); ct != ContentType {
				t.Errorf("%s%s: Content-Type %q", typ, q, ct)
			}
			checkFHIR(t, c, res.body)
			ids, _, _ := bundleIDs(t, res.body)
			for _, id := range ids {
				seen[typ]++
				r := get(t, base+"/"+typ+"/"+id)
				if r.status != http.StatusOK {
					t.Errorf("read %s/%s: status %d: %s", typ, id, r.status, r.body)
					continue
				}
				checkFHIR(t, c, r.body)
				var got struct{ ResourceType, ID string }
				json.Unmarshal(r.body, &got)
				if got.ResourceType != typ || got.ID != id {
					t.Errorf("read %s/%s returned %s/%s", typ, id, got.ResourceType, got.ID)
				}
			}
		}
	}
	// Devices: 3 assets + 1 unmatched pump + 2 units + 2 Modbus devices + 5
	// channels (tags and pumps have no channel Devices). DeviceMetrics: 5
	// Modbus channels, 3 tag channels and 2 pump batteries that reported.
	// Observations: the latest of 4 Modbus and 5 tag and pump channels; 12
	// of fridge-1 today; 17 Modbus and 10 tag and pump readings this year;
	// the bed's tag's one reading before start-up.
	want := map[string]int{"Device": 13, "DeviceMetric": 10, "Flag": 2, "Location": 7, "Observation": 9 + 12 + 17 + 10 + 1}
	for typ, n := range want {
		if seen[typ] != n {
			t.Errorf("%s: %d resources, want %d", typ, seen[typ], n)
		}
	}

	for _, path := range []string{"/Device/asset-999", "/Device?colour=red", "/Nope", "/Observation/obs-1.x.5",
		"/Observation?date=ge2026-03-10&date=le2026-03-09T12:00:00", "/Device/bad_id"} {
		r := get(t, base+path)
		if r.status < 400 {
			t.Errorf("%s: status %d, want an error", path, r.status)
		}
		checkFHIR(t, c, r.body)
	}
}

func TestSearch(t *testing.T) {
	srv := newTestServer(t, fixture(), Options{AssetTagSystem: "urn:oid:1.2.3"})
	base := srv.URL + "/fhir/r4"
	tests := []struct {
		query  string
		status int
		ids    []string
	}{
		{"/Device?identifier=A0412", 200, []string{"asset-12"}},
		{"/Device?identifier=urn:oid:1.2.3|A0412", 200, []string{"asset-12"}},
		{"/Device?identifier=urn:oid:9.9|A0412", 200, nil},
		{"/Device?identifier=|A0412", 200, nil}, // the asset tag has a system
		{"/Device?identifier=|SN-0412", 200, []string{"asset-12"}},
		{"/Device?identifier=SN/9999 x", 200, []string{"pump-SN-2F9999-20x"}},
		{"/Device?identifier=W7,B3", 200, []string{"asset-13", "asset-14"}},
		// By UDI device identifier, the issuing agency as the system.
		{"/Device?identifier=" + url.QueryEscape(SystemUDIGS1+"|00614141200108"), 200, []string{"asset-12"}},
		{"/Device?identifier=" + url.QueryEscape(SystemUDIHIBCC+"|A123BJC5D6E71"), 200, []string{"asset-13"}},
		{"/Device?identifier=" + url.QueryEscape(SystemUDIHIBCC+"|00614141200108"), 200, nil},
		{"/Device?identifier=00614141200108", 200, []string{"asset-12"}},
		{"/Device?identifier=" + url.QueryEscape(SystemUDIGS1+"|"), 200, []string{"asset-12"}},
		{"/Device?udi-di=006141412", 200, []string{"asset-12"}},
		{"/Device?udi-di=a123bjc5d6e71", 200, []string{"asset-13"}},
		{"/Device?udi-carrier=" + url.QueryEscape("(01)00614141200108(11)"), 200, []string{"asset-12"}},
		{"/Device?udi-carrier=" + url.QueryEscape("+A123BJC5D6E71/$$"), 200, []string{"asset-13"}},
		{"/Device?manufacturer=harbour", 200, []string{"asset-12"}},
		{"/Device?model=alaris,transit", 200, []string{"asset-12", "asset-13"}},
		{"/Device?model=Volumetric", 200, nil}, // the pump reports its model as Alaris 8100
		{"/Device?model=sap", 200, []string{"pump-SN-2F9999-20x"}},
		{"/Device?udi-di:exact=x", 400, nil},
		{"/Device?type=infusion_pump", 200, []string{"asset-12", "pump-SN-2F9999-20x"}},
		{"/Device?type=" + url.QueryEscape(SystemDeviceKind+"|vaccine_fridge"), 200, []string{"unit-3"}},
		{"/Device?type=http://snomed.info/sct|", 200, nil},
		{"/Device?location=Location/zone-40", 200, []string{"asset-12"}},
		{"/Device?location=zone-42", 200, []string{"unit-3", "modbus-1", "channel-1.cabinet", "channel-1.coil", "channel-1.door"}},
		{"/Device?location=" + url.QueryEscape("https://elsewhere.example/fhir/Location/zone-43"), 200,
			[]string{"unit-4", "modbus-2", "channel-2.dp", "channel-2.air-20temp"}},
		{"/Device?location=floor-1", 200, []string{"asset-13"}}, // stale, in no zone
		{"/Device?status=inactive", 200, []string{"asset-13"}},
		{"/Device?parent=Device/modbus-2", 200, []string{"channel-2.dp", "channel-2.air-20temp"}},
		{"/Device?type=sensor_channel&location=zone-43", 200, []string{"channel-2.dp", "channel-2.air-20temp"}},
		{"/Device?_id=asset-14,unit-4", 200, []string{"asset-14", "unit-4"}},
		{"/Device?identifier=", 200, []string{"asset-12", "asset-13", "asset-14", "pump-SN-2F9999-20x", "unit-3", "unit-4",
			"modbus-1", "modbus-2", "channel-1.cabinet", "channel-1.coil", "channel-1.door", "channel-2.dp", "channel-2.air-20temp"}},
		{"/Device?colour=red", 400, nil},
		{"/Device?location:below=zone-40", 400, nil},
		{"/Device?location.name=4B", 400, nil},
		{"/Device?_sort=name", 400, nil},
		{"/Device?_count=-1", 400, nil},
		{"/Device?_count=x", 400, nil},
		{"/Device?_format=xml", 400, nil},
		{"/Device?_format=json&_pretty=true&_total=accurate", 200, []string{"asset-12", "asset-13", "asset-14",
			"pump-SN-2F9999-20x", "unit-3", "unit-4", "modbus-1", "modbus-2", "channel-1.cabinet", "channel-1.coil",
			"channel-1.door", "channel-2.dp", "channel-2.air-20temp"}},
		{"/Location?partof=building", 200, []string{"floor-1"}},
		{"/Location?partof=Location/floor-1&type=isolation", 200, []string{"zone-43"}},
		{"/Location?name=corr", 200, []string{"zone-41"}},
		{"/Location?name=CORRIDOR%20B", 200, []string{"zone-41"}},
		{"/Location?identifier=x", 400, nil},
		{"/DeviceMetric?type=temperature", 200, []string{"channel-1.cabinet", "channel-1.coil", "channel-2.air-20temp",
			"channel-tag.mac-3A0a0b0c0d0e0f.temperature"}},
		{"/DeviceMetric?source=Device/asset-12", 200, []string{"channel-pump.SN-2D0412.battery-percent",
			"channel-tag.mac-3A0a0b0c0d0e0f.battery-voltage", "channel-tag.mac-3A0a0b0c0d0e0f.temperature"}},
		{"/DeviceMetric?source=pump-SN-2F9999-20x", 200, []string{"channel-pump.SN-2F9999-20x.battery-percent"}},
		{"/DeviceMetric?source=asset-14", 200, nil}, // the bed's tag has not reported since start-up
		{"/DeviceMetric?parent=asset-12", 200, nil},
		{"/DeviceMetric?source=Device/channel-1.door", 200, []string{"channel-1.door"}},
		{"/DeviceMetric?parent=modbus-2&category=measurement", 200, []string{"channel-2.dp", "channel-2.air-20temp"}},
		{"/Flag", 200, []string{"excursion-7", "excursion-8"}},
		{"/Flag?subject=Location/zone-43", 200, []string{"excursion-8"}},
		{"/Flag?subject=Device/unit-3", 200, []string{"excursion-7"}},
		// Latest readings: the NaN coil reading, the unassigned tag's, the
		// unknown pump's and the unknown metric are left out; Modbus
		// channels first, then tags and pumps by key.
		{"/Observation", 200, []string{"obs-1.cabinet.1773143970000", "obs-1.door.1773143990000",
			"obs-2.dp.1773143995000", "obs-2.air-20temp.1773143995000",
			"obs-pump.SN-2D0412.battery-percent.1773143985000", "obs-pump.SN-2F9999-20x.battery-percent.1773143985000",
			observationRID(tagChannelKey(tagChair, wardwatch.MetricBatteryVoltage), 1773143960000),
			"obs-tag.mac-3A0a0b0c0d0e0f.battery-voltage.1773143980000", "obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143980000"}},
		// Tags and pumps: by the asset or pump Device, code and location.
		{"/Observation?device=Device/asset-12", 200, []string{"obs-pump.SN-2D0412.battery-percent.1773143985000",
			"obs-tag.mac-3A0a0b0c0d0e0f.battery-voltage.1773143980000", "obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143980000"}},
		{"/Observation?device=pump-SN-2F9999-20x", 200, []string{"obs-pump.SN-2F9999-20x.battery-percent.1773143985000"}},
		{"/Observation?device=Device/pump-SN-2D0412", 200, nil}, // that pump is asset-12
		{"/Observation?device=DeviceMetric/channel-tag.mac-3A0a0b0c0d0e0f.temperature", 200,
			[]string{"obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143980000"}},
		{"/Observation?code=battery_voltage", 200, []string{observationRID(tagChannelKey(tagChair, wardwatch.MetricBatteryVoltage), 1773143960000),
			"obs-tag.mac-3A0a0b0c0d0e0f.battery-voltage.1773143980000"}},
		{"/Observation?code=http://unitsofmeasure.org|%25", 200, nil}, // a unit is not a code
		{"/Observation?code=battery_percent&device=asset-12,asset-13", 200, []string{"obs-pump.SN-2D0412.battery-percent.1773143985000"}},
		{"/Observation?location=Location/zone-40", 200, []string{"obs-pump.SN-2D0412.battery-percent.1773143985000",
			"obs-tag.mac-3A0a0b0c0d0e0f.battery-voltage.1773143980000", "obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143980000"}},
		{"/Observation?location=zone-42", 200, []string{"obs-1.cabinet.1773143970000", "obs-1.door.1773143990000"}},
		{"/Observation?location=floor-1", 200, []string{observationRID(tagChannelKey(tagChair, wardwatch.MetricBatteryVoltage), 1773143960000)}},
		{"/Observation?location=zone-41", 200, nil}, // the bed's tag is missing
		{"/Observation?subject=zone-40", 200, nil},  // a tag's reading has no subject
		{"/Observation?location=zone-40&date=ge2026-03-10T11:55:00Z&code=temperature", 200, []string{
			"obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143760000", "obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143880000",
			"obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143980000"}},
		{"/Observation?device=asset-12&code=temperature&date=ge2026-03-10T11:55:00Z&date=lt2026-03-10T11:59:00Z", 200, []string{
			"obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143760000", "obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143880000"}},
		{"/Observation?device=asset-12&date=ge2026-03-10T11:59:30Z", 200, []string{ // oldest first
			"obs-tag.mac-3A0a0b0c0d0e0f.battery-voltage.1773143980000", "obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143980000",
			"obs-pump.SN-2D0412.battery-percent.1773143985000"}},
		// A tag that has not reported since start-up: its history is found
		// through its asset, its DeviceMetric or an observation id.
		{"/Observation?device=asset-14", 200, nil},
		{"/Observation?code=temperature&date=2026-03-10T11:30:00Z", 200, nil},
		{"/Observation?device=asset-14&date=2026-03-10", 200, []string{"obs-tag.mac-3A111111111111.temperature.1773142200000"}},
		{"/Observation?device=DeviceMetric/channel-tag.mac-3A111111111111.temperature&date=2026", 200,
			[]string{"obs-tag.mac-3A111111111111.temperature.1773142200000"}},
		{"/Observation?_id=obs-tag.mac-3A111111111111.temperature.1773142200000", 200,
			[]string{"obs-tag.mac-3A111111111111.temperature.1773142200000"}},
		{"/Observation?_id=obs-tag.mac-3A111111111111.temperature.1773142200000&device=asset-12", 200, nil},
		{"/Observation?location=zone-40:below", 400, nil},
		{"/Observation?location:below=zone-40", 400, nil},
		{"/Observation?code=pressure", 200, []string{"obs-2.dp.1773143995000"}},
		{"/Observation?code=http://loinc.org|60832-3", 200, []string{"obs-2.air-20temp.1773143995000"}},
		{"/Observation?code=http://loinc.org|8310-5", 200, nil},
		{"/Observation?subject=zone-43&code=temperature", 200, []string{"obs-2.air-20temp.1773143995000"}},
		{"/Observation?device=DeviceMetric/channel-1.door", 200, []string{"obs-1.door.1773143990000"}},
		{"/Observation?device=unit-3", 200, []string{"obs-1.cabinet.1773143970000", "obs-1.door.1773143990000"}},
		// History.
		{"/Observation?device=channel-1.cabinet&date=ge2026-03-10T11:57:00Z&date=lt2026-03-10T11:59:00Z", 200,
			[]string{"obs-1.cabinet.1773143820000", "obs-1.cabinet.1773143880000"}},
		{"/Observation?device=channel-1.cabinet&date=gt2026-03-10T11:58:00Z&date=le2026-03-10T11:59:00Z", 200,
			[]string{"obs-1.cabinet.1773143940000"}},
		{"/Observation?device=channel-1.cabinet&date=2026-03-10T11:55:00Z", 200, []string{"obs-1.cabinet.1773143700000"}},
		{"/Observation?device=modbus-2&date=2026-03-10", 200, []string{"obs-2.dp.1773143850000",
			"obs-2.dp.1773143910000", "obs-2.dp.1773143970000", "obs-2.air-20temp.1773143995000", "obs-2.dp.1773143995000"}},
		{"/Observation?device=modbus-2&date=2026-03-09", 200, nil},
		{"/Observation?_id=obs-2.dp.1773143910000", 200, []string{"obs-2.dp.1773143910000"}},
		{"/Observation?date=ne2026-03-10", 400, nil},
		{"/Observation?date=2026-03-10T12:00:00", 400, nil}, // no time zone
		{"/Observation?date=2026-03-10,2026-03-11", 400, nil},
		{"/Observation?device=Device/bad_id", 400, nil},
		{"/Observation?code=a|b|c", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			u := base + tt.query
			if i := strings.IndexByte(tt.query, '?'); i >= 0 {
				v, err := url.ParseQuery(tt.query[i+1:])
				if err != nil {
					t.Fatal(err)
				}
				u = base + tt.query[:i] + "?" + v.Encode()
			}
			res := get(t, u)
			if res.status != tt.status {
				t.Fatalf("status %d, want %d: %s", res.status, tt.status, res.body)
			}
			if tt.status != 200 {
				var oo OperationOutcome
				if err := json.Unmarshal(res.body, &oo); err != nil || oo.ResourceType != "OperationOutcome" ||
					len(oo.Issue) != 1 || oo.Issue[0].Diagnostics == "" {
					t.Fatalf("not an OperationOutcome with diagnostics: %s", res.body)
				}
				return
			}
			ids, total, _ := bundleIDs(t, res.body)
			if !slices.Equal(ids, tt.ids) {
				t.Fatalf("ids %q, want %q", ids, tt.ids)
			}
			if total != len(tt.ids) {
				t.Fatalf("total %d, want %d", total, len(tt.ids))
			}
		})
	}
}

// TestPaging follows next links through every page and checks the pages
// add up to the whole result, in order, with no duplicates.
func TestPaging(t *testing.T) {
	srv := newTestServer(t, fixture(), Options{})
	base := srv.URL + "/fhir/r4"
	tests := []struct {
		first     string
		pages     int
		wantTotal bool
	}{
		{"/Device?_count=5", 3, true},
		{"/Device?_count=13", 1, true},
		{"/Location?_count=1", 7, true},
		// History pages: the total is unknown while more readings remain.
		{"/Observation?device=channel-1.cabinet&date=ge2026-03-10&_count=4", 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.first, func(t *testing.T) {
			full := get(t, base+strings.Split(tt.first, "_count=")[0]+"_count=500")
			want, _, _ := bundleIDs(t, full.body)
			var got []string
			next, pages := base+tt.first, 0
			for next != "" {
				if pages++; pages > 20 {
					t.Fatal("paging does not end")
				}
				res := get(t, next)
				if res.status != http.StatusOK {
					t.Fatalf("GET %s: %d: %s", next, res.status, res.body)
				}
				ids, total, n := bundleIDs(t, res.body)
				if tt.wantTotal && total != len(want) {
					t.Errorf("page %d: total %d, want %d", pages, total, len(want))
				}
				if !tt.wantTotal && n != "" && total != -1 {
					t.Errorf("page %d: total %d given while more readings remain", pages, total)
				}
				got = append(got, ids...)
				next = n
			}
			if pages != tt.pages {
				t.Errorf("%d pages, want %d", pages, tt.pages)
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages give %q, want %q", got, want)
			}
		})
	}
}

func TestCountLimits(t *testing.T) {
	srv := newTestServer(t, fixture(), Options{BaseURL: "https://ww.example.org/fhir/r4/"})
	base := srv.URL + "/fhir/r4"
	res := get(t, base+"/Device?_count=100000")
	ids, total, next := bundleIDs(t, res.body)
	if len(ids) != 13 || total != 13 || next != "" {
		t.Fatalf("_count above the maximum: %d ids, total %d, next %q", len(ids), total, next)
	}
	if !strings.Contains(string(res.body), `"url":"https://ww.example.org/fhir/r4/Device?_count=500"`) {
		t.Errorf("self link should use BaseURL and the clamped count: %s", res.body)
	}
	res = get(t, base+"/Device")
	if ids, _, _ := bundleIDs(t, res.body); len(ids) != 13 {
		t.Errorf("default count: %d entries", len(ids))
	}
	res = get(t, base+"/Device?_count=0")
	ids, total, next = bundleIDs(t, res.body)
	if len(ids) != 0 || total != 13 || next != "" {
		t.Errorf("_count=0: %d ids, total %d, next %q; want only the total", len(ids), total, next)
	}
	res = get(t, base+"/Observation?date=ge2026-03-10&_count=500&_offset=9600")
	if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), "too-costly") {
		t.Errorf("deep history page: %d %s", res.status, res.body)
	}
}

func TestMethodsAndPaths(t *testing.T) {
	srv := newTestServer(t, fixture(), Options{})
	base := srv.URL + "/fhir/r4"
	tests := []struct {
		method, path string
		status       int
	}{
		{"POST", "/Device", 405},
		{"DELETE", "/Device/asset-12", 405},
		{"PUT", "/metadata", 405},
		{"GET", "/Patient", 404},
		{"GET", "/Device/asset-12/_history", 404},
		{"GET", "/Device/asset-999", 404},
		{"GET", "/Flag/excursion-9", 404}, // cleared
		{"GET", "/Observation/obs-1.cabinet.1773143970001", 404},
		{"GET", "/Observation/not-an-obs", 404},
		{"GET", "/Observation/obs-tag.mac-3A111111111111.temperature.1773142200000", 200},
		{"GET", "/Observation/obs-tag.mac-3A111111111111.temperature.1773142200001", 404},
		{"GET", "/Observation/obs-tag.mac-3A999999999999.temperature.1773144000000", 404}, // its asset is gone
		{"GET", "/Observation/obs-tag.mac-3A111111111111.colour.1773142200000", 404},
		{"GET", "/Observation/obs-pump.SN-2DNOWHERE.battery-percent.1773144000000", 404},
		{"GET", "/DeviceMetric/channel-tag.mac-3A111111111111.temperature", 404}, // not reported since start-up
		{"GET", "/DeviceMetric/channel-tag.mac-3A0a0b0c0d0e0f.temperature", 200},
		{"GET", "/Device/channel-tag.mac-3A0a0b0c0d0e0f.temperature", 404}, // the asset is the Device
		{"HEAD", "/Device/asset-12", 200},
	}
	for _, tt := range tests {
		res := do(t, tt.method, base+tt.path)
		if res.status != tt.status {
			t.Errorf("%s %s: status %d, want %d: %s", tt.method, tt.path, res.status, tt.status, res.body)
		}
		if ct := res.header.Get("Content-Type"); ct != ContentType {
			t.Errorf("%s %s: Content-Type %q", tt.method, tt.path, ct)
		}
	}
}

// TestDeviceMapping checks the asset and channel Devices field by field.
func TestDeviceMapping(t *testing.T) {
	srv := newTestServer(t, fixture(), Options{})
	base := srv.URL + "/fhir/r4"
	tests := []struct {
		path string
		want []string // substrings of the body
		not  []string
	}{
		{"/Device/asset-12", []string{
			`"identifier":[{"use":"official","system":"` + DefaultAssetTagSystem + `","value":"A0412"},{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"SNO","display":"Serial Number"}]},"value":"SN-0412"},` +
				`{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"UDI","display":"Universal Device Identifier"}]},"system":"http://hl7.org/fhir/NamingSystem/gs1-di","value":"00614141200108"}]`,
			`"udiCarrier":[{"deviceIdentifier":"00614141200108","issuer":"http://hl7.org/fhir/NamingSystem/gs1-di","carrierHRF":"(01)00614141200108(11)230110(21)SN-0412","entryType":"manual"}]`,
			`"manufacturer":"Harbourline Medical"`, `{"name":"Volumetric LVP-200","type":"model-name"}`,
			`"serialNumber":"SN-0412"`, `"modelNumber":"Alaris 8100"`, `"status":"active"`, // the pump's own model wins
			`"location":{"reference":"Location/zone-40","display":"4B-12"}`,
			`{"type":{"coding":[{"system":"` + SystemDeviceVersionType + `","code":"firmware","display":"Firmware"}]},"value":"12.1.2"}`,
			`"value":"ICU v42"`, `"code":"infusion_pump"`, `Preventive maintenance due 2026-05-10T12:00:00.000Z`,
		}, nil},
		{"/Device/asset-13", []string{`"status":"inactive"`, `"Status: In repair"`,
			`"udiCarrier":[{"deviceIdentifier":"A123BJC5D6E71","issuer":"http://hl7.org/fhir/NamingSystem/hibcc-dI","carrierHRF":"+A123BJC5D6E71/$$52001510X3C","entryType":"manual"}]`,
			`"system":"http://hl7.org/fhir/NamingSystem/hibcc-dI","value":"A123BJC5D6E71"`,
			`"manufacturer":"Alder Mobility"`, `"modelNumber":"Transit 18"`,
			`"location":{"reference":"Location/floor-1","display":"Ward 4 — Level 2 (last seen 2026-03-10T11:40:00.000Z)"}`}, nil},
		{"/Device/asset-14", []string{`"code":"bed"`}, []string{`"location"`, "udiCarrier", "UDI", "manufacturer", "modelNumber", "model-name", "jurisdiction"}},
		{"/Device/pump-SN-2F9999-20x", []string{`"serialNumber":"SN/9999 x"`, `"modelNumber":"Sapphire"`}, []string{`"location"`}},
		{"/Device/channel-1.coil", []string{`"parent":{"reference":"Device/modbus-1","display":"fridge-1"}`,
			`"location":{"reference":"Location/zone-42","display":"Pharmacy"}`, `"name":"fridge-1/coil"`}, nil},
		{"/Device/modbus-1", []string{`"parent":{"reference":"Device/unit-3"`, `"modelNumber":"dixell-xr"`}, nil},
		{"/DeviceMetric/channel-1.cabinet", []string{`"unit":{"coding":[{"system":"http://unitsofmeasure.org","code":"Cel","display":"°C"}],"text":"°C"}`,
			`"source":{"reference":"Device/channel-1.cabinet"`, `"category":"measurement"`, `"operationalStatus":"on"`,
			`"calibration":[{"extension":[{"url":"` + ExtensionCalibrationDue + `","valueDateTime":"2027-03-10T12:00:00.000Z"}],"type":"unspecified","state":"calibrated"}]`},
			[]string{"loinc"}},
		{"/DeviceMetric/channel-2.dp", []string{`"state":"calibration-required"`, `"code":"Pa"`}, nil},
		{"/DeviceMetric/channel-1.door", []string{`"code":"door_open"`}, []string{`"unit"`}},
		{"/Observation/obs-1.cabinet.1773143970000", []string{`"status":"final"`, `"effectiveDateTime":"2026-03-10T11:59:30.000Z"`,
			`"valueQuantity":{"value":4.5,"unit":"°C","system":"http://unitsofmeasure.org","code":"Cel"}`,
			`"device":{"reference":"DeviceMetric/channel-1.cabinet"`, `"code":"environment"`},
			[]string{`"subject"`, "loinc", "8310-5"}},
		{"/Observation/obs-2.air-20temp.1773143995000", []string{`"subject":{"reference":"Location/zone-43"`,
			`{"system":"http://loinc.org","code":"60832-3","display":"Room temperature"}`, `"value":21.25`}, nil},
		{"/Observation/obs-1.door.1773143990000", []string{`"valueBoolean":true`}, []string{"valueQuantity"}},
		{"/Observation/obs-2.dp.1773143995000", []string{`"value":-2.5,"unit":"Pa"`}, nil},
		{"/DeviceMetric/channel-tag.mac-3A0a0b0c0d0e0f.temperature", []string{
			`"type":{"coding":[{"system":"` + SystemMetric + `","code":"temperature","display":"Temperature"}],"text":"Temperature"}`,
			`"unit":{"coding":[{"system":"http://unitsofmeasure.org","code":"Cel","display":"°C"}],"text":"°C"}`,
			`"source":{"reference":"Device/asset-12","display":"Pump 0412 — tag mac:0a0b0c0d0e0f"}`, `"category":"measurement"`,
			`"calibration":[{"type":"unspecified","state":"unspecified"}]`},
			[]string{"loinc", `"parent"`, `"operationalStatus"`}},
		{"/DeviceMetric/channel-tag.mac-3A0a0b0c0d0e0f.battery-voltage", []string{`"code":"battery_voltage"`, `"code":"V","display":"V"`}, nil},
		{"/DeviceMetric/channel-pump.SN-2F9999-20x.battery-percent", []string{`"code":"battery_percent"`,
			`"unit":{"coding":[{"system":"http://unitsofmeasure.org","code":"%","display":"%"}],"text":"%"}`,
			`"source":{"reference":"Device/pump-SN-2F9999-20x","display":"Infusion pump SN/9999 x"}`}, nil},
		{"/DeviceMetric/channel-pump.SN-2D0412.battery-percent", []string{
			`"source":{"reference":"Device/asset-12","display":"Pump 0412 — pump SN-0412"}`}, nil},
		{"/Observation/obs-tag.mac-3A0a0b0c0d0e0f.temperature.1773143980000", []string{`"status":"final"`,
			`"category":[{"coding":[{"system":"` + SystemObservationCategory + `","code":"environment","display":"Environment"}]}]`,
			`"code":{"coding":[{"system":"` + SystemMetric + `","code":"temperature","display":"Temperature"}],"text":"Temperature"}`,
			`"effectiveDateTime":"2026-03-10T11:59:40.000Z"`,
			`"valueQuantity":{"value":23.5,"unit":"°C","system":"http://unitsofmeasure.org","code":"Cel"}`,
			`"device":{"reference":"Device/asset-12","display":"Pump 0412"}`},
			[]string{`"subject"`, "loinc", "DeviceMetric"}},
		{"/Observation/obs-tag.mac-3A0a0b0c0d0e0f.battery-voltage.1773143980000", []string{
			`"valueQuantity":{"value":3,"unit":"V","system":"http://unitsofmeasure.org","code":"V"}`}, nil},
		{"/Observation/obs-pump.SN-2D0412.battery-percent.1773143985000", []string{`"code":"battery_percent"`,
			`"valueQuantity":{"value":80,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}`,
			`"device":{"reference":"Device/asset-12","display":"Pump 0412"}`}, nil},
		{"/Observation/obs-pump.SN-2F9999-20x.battery-percent.1773143985000", []string{
			`"device":{"reference":"Device/pump-SN-2F9999-20x","display":"Infusion pump SN/9999 x"}`}, nil},
		{"/Flag/excursion-7", []string{`"status":"active"`, `"text":"DO NOT USE — temperature excursion"`,
			`"subject":{"reference":"Device/unit-3","display":"Pharmacy vaccine fridge 2"}`, `"period":{"start":"2026-03-10T09:00:00.000Z"}`,
			`"author":{"reference":"Device/channel-1.cabinet"`, `"code":"safety"`}, nil},
		{"/Flag/excursion-8", []string{`"subject":{"reference":"Location/zone-43"`, `DO NOT USE — differential pressure excursion`}, nil},
		{"/Location/zone-41", []string{`"code":"co"`, `"partOf":{"reference":"Location/floor-1"`, `"mode":"instance"`, `"status":"active"`}, nil},
		{"/Location/floor-1", []string{`"code":"lvl"`, `"partOf":{"reference":"Location/building"`}, nil},
		{"/Location/building", []string{`"code":"bu"`, `"name":"Main building"`, `"partOf":{"reference":"Location/site"`}, nil},
		{"/Location/site", []string{`"code":"si"`, `"name":"Hospital"`}, []string{"partOf"}},
	}
	for _, tt := range tests {
		res := get(t, base+tt.path)
		if res.status != 200 {
			t.Errorf("%s: status %d: %s", tt.path, res.status, res.body)
			continue
		}
		for _, w := range tt.want {
			if !bytes.Contains(res.body, []byte(w)) {
				t.Errorf("%s: body lacks %s\n%s", tt.path, w, res.body)
			}
		}
		for _, n := range tt.not {
			if bytes.Contains(res.body, []byte(n)) {
				t.Errorf("%s: body has %s\n%s", tt.path, n, res.body)
			}
		}
	}
}

// TestSourceFailure checks a store error is a 500 OperationOutcome that
// leaks nothing, logged, and counted.
func TestSourceFailure(t *testing.T) {
	src := fixture()
	src.err = errors.New("sqlite: database is locked at /var/lib/wardwatch/secret.db")
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	srv := newTestServer(t, src, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg})
	for _, path := range []string{"/Device", "/Location/site", "/Observation", "/Flag", "/DeviceMetric"} {
		res := get(t, srv.URL+"/fhir/r4"+path)
		if res.status != 500 || bytes.Contains(res.body, []byte("secret")) || !bytes.Contains(res.body, []byte(`"code":"exception"`)) {
			t.Errorf("%s: %d %s", path, res.status, res.body)
		}
	}
	if !strings.Contains(logs.String(), "database is locked") {
		t.Errorf("the cause is not logged: %s", logs.String())
	}
	if n := testutil.CollectAndCount(reg, "wardwatch_fhir_requests_total"); n == 0 {
		t.Error("no request metric")
	}
	src.err = nil
	get(t, srv.URL+"/fhir/r4/Observation") // the NaN coil reading
	if got := testutil.ToFloat64(mustCounter(t, reg)); got != 1 {
		t.Errorf("wardwatch_fhir_skipped_total = %v, want 1", got)
	}
	// A second handler on the same registry shares the metrics.
	NewHandler(src, Options{Registerer: reg})
}

func mustCounter(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "wardwatch_fhir_skipped_total" {
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
			c.Add(mf.GetMetric()[0].GetCounter().GetValue())
			return c
		}
	}
	t.Fatal("wardwatch_fhir_skipped_total not registered")
	return nil
}

func TestCapabilityStatement(t *testing.T) {
	srv := newTestServer(t, fixture(), Options{Version: "1.2.3"})
	res := get(t, srv.URL+"/fhir/r4/metadata")
	var cs CapabilityStatement
	if err := json.Unmarshal(res.body, &cs); err != nil {
		t.Fatal(err)
	}
	if cs.FHIRVersion != "4.0.1" || !slices.Equal(cs.Format, []string{"json"}) || cs.Kind != "instance" ||
		cs.Software.Version != "1.2.3" || cs.Implementation.URL != srv.URL+"/fhir/r4" {
		t.Errorf("capability statement: %+v", cs)
	}
	// Every resource type served is declared with read and search-type,
	// and every parameter ParseQuery accepts is declared.
	if len(cs.Rest) != 1 || len(cs.Rest[0].Resource) != len(resourceTypes) {
		t.Fatalf("rest: %+v", cs.Rest)
	}
	for _, r := range cs.Rest[0].Resource {
		if len(r.Interaction) != 2 || r.Interaction[0].Code != "read" || r.Interaction[1].Code != "search-type" {
			t.Errorf("%s: interactions %+v", r.Type, r.Interaction)
		}
		for _, p := range r.SearchParam {
			if _, err := ParseQuery(r.Type, url.Values{p.Name: {"x"}}); err != nil && p.Type != typeDate {
				t.Errorf("%s: declared parameter %s rejected: %v", r.Type, p.Name, err)
			}
			// Observation's location is WardWatch's own, not R4's.
			wantLocal := r.Type == "Observation" && p.Name == "location"
			if local := strings.HasPrefix(p.Definition, LocalSearchParameterBase); local != wantLocal {
				t.Errorf("%s.%s: definition %s", r.Type, p.Name, p.Definition)
			}
		}
	}
}
