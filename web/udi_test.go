package web

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// assetAdmin is an AdminStore that keeps assets in a fakeStore and checks
// them as the real store does (wardwatch.CheckUDI and friends), so pages
// and API answers read back what was written.
type assetAdmin struct {
	AdminStore
	store *fakeStore
}

func checkedAsset(a wardwatch.Asset) (wardwatch.Asset, error) {
	if strings.TrimSpace(a.Name) == "" || !a.Kind.Valid() || (a.Status != "" && !a.Status.Valid()) {
		return a, wardwatch.Errorf(wardwatch.EINVALID, "invalid asset")
	}
	var err error
	if a.UDI, err = wardwatch.CheckUDI(a.UDI); err != nil {
		return a, err
	}
	if a.Manufacturer, err = wardwatch.CheckManufacturer(a.Manufacturer); err != nil {
		return a, err
	}
	if a.Model, err = wardwatch.CheckModel(a.Model); err != nil {
		return a, err
	}
	if a.Status == "" {
		a.Status = wardwatch.StatusAvailable
	}
	return a, nil
}

func (s *assetAdmin) CreateAsset(_ context.Context, a *wardwatch.Asset) error {
	v, err := checkedAsset(*a)
	if err != nil {
		return err
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	v.ID = int64(200 + len(s.store.assets))
	s.store.assets = append(s.store.assets, v)
	*a = v
	return nil
}

func (s *assetAdmin) UpdateAsset(_ context.Context, a wardwatch.Asset) error {
	v, err := checkedAsset(a)
	if err != nil {
		return err
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	i := slices.IndexFunc(s.store.assets, func(x wardwatch.Asset) bool { return x.ID == a.ID })
	if i < 0 {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "asset %d not found", a.ID)
	}
	s.store.assets[i] = v
	return nil
}

func (s *assetAdmin) Tags(context.Context) ([]wardwatch.Tag, error) { return nil, nil }

func (s *assetAdmin) CreateTag(context.Context, wardwatch.Tag) error { return nil }

func TestAssetFromFormUDI(t *testing.T) {
	a, err := assetFromForm(map[string]string{"name": "Pump 0410", "kind": "infusion_pump",
		"udi": "(01) 10614141000019 (21)SIM-0410", "manufacturer": " Harbourline Medical ", "model": "Volumetric LVP-200"}, time.UTC)
	if err != nil || a.UDI != "(01)10614141000019(21)SIM-0410" || a.Manufacturer != "Harbourline Medical" || a.Model != "Volumetric LVP-200" {
		t.Fatalf("assetFromForm = %+v, %v", a, err)
	}
	for field, bad := range map[string]string{
		"udi":          "(01)00884838035452", // check digit should be 4
		"manufacturer": strings.Repeat("m", 101),
		"model":        "LVP\x07200",
	} {
		_, err := assetFromForm(map[string]string{"name": "x", "kind": "bed", field: bad}, time.UTC)
		if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("assetFromForm(%s %q) = %v, want EINVALID", field, bad, err)
		}
	}
}

func TestImportAssetsUDI(t *testing.T) {
	store := newFakeStore()
	c := &configAdmin{logger: slog.New(slog.DiscardHandler), store: store, admin: &assetAdmin{store: store}, loc: time.UTC}
	rep, err := c.importAssets(context.Background(), strings.NewReader(
		"name,kind,serial,udi,manufacturer,model\n"+
			"Pump 0410,infusion_pump,SIM-0410,(01)10614141000019(21)SIM-0410,Harbourline Medical,Volumetric LVP-200\n"+
			"Pump bad,infusion_pump,SIM-0499,(01)10614141000018,Harbourline Medical,Volumetric LVP-200\n"+
			"Monitor,monitor,,=/A9999XYZ100T0944,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 2 || len(rep.Errors) != 1 || !strings.HasPrefix(rep.Errors[0], "line 3:") || !strings.Contains(rep.Errors[0], "check digit") {
		t.Fatalf("report %+v", rep)
	}
	pump := store.assets[len(store.assets)-2]
	if pump.UDI != "(01)10614141000019(21)SIM-0410" || pump.Manufacturer != "Harbourline Medical" || pump.Model != "Volumetric LVP-200" {
		t.Errorf("imported pump %+v", pump)
	}
	if m := store.assets[len(store.assets)-1]; m.UDI != "=/A9999XYZ100T0944" || m.Manufacturer != "" {
		t.Errorf("imported monitor %+v", m)
	}
	// A file of before the UDI columns still imports.
	rep, err = c.importAssets(context.Background(), strings.NewReader("name,kind,status,asset_tag,serial,pm_due,tags\nBed 9,bed,available,B-9,,2027-01-01,\n"))
	if err != nil || rep.Created != 1 || len(rep.Errors) != 0 {
		t.Fatalf("old-format import: %+v, %v", rep, err)
	}
}

func TestAPIAssetUDI(t *testing.T) {
	adm := &assetAdmin{}
	rig := newAdmRig(t, func(c *Config) { c.Admin = adm; adm.store = c.Store.(*fakeStore) })
	admin := rig.tokens.issue(t, wardwatch.RoleAdmin)

	rec := apiDo(t, rig.h, "POST", "/api/v1/assets", admin,
		`{"name": "Pump 0410", "kind": "infusion_pump", "serial": "SIM-0410", "udi": " (01) 10614141000019 (21)SIM-0410",
		  "manufacturer": "Harbourline Medical", "model": "Volumetric LVP-200"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body.String())
	}
	got := decode[apiAssetJSON](t, rec)
	if got.UDI != "(01)10614141000019(21)SIM-0410" || got.UDIDI != "10614141000019" || got.UDIIssuer != "GS1" ||
		got.Manufacturer != "Harbourline Medical" || got.Model != "Volumetric LVP-200" {
		t.Fatalf("created %s", rec.Body.String())
	}
	id := idText(got.ID)
	rec = apiDo(t, rig.h, "PUT", "/api/v1/assets/"+id, admin,
		`{"name": "Pump 0410", "kind": "infusion_pump", "serial": "SIM-0410", "udi": "+A123BJC5D6E71G", "manufacturer": "Harbourline", "model": "LVP-200"}`)
	if got = decode[apiAssetJSON](t, rec); rec.Code != 200 || got.UDIIssuer != "HIBCC" || got.UDIDI != "A123BJC5D6E71" || got.Model != "LVP-200" {
		t.Fatalf("update: %d %s", rec.Code, rec.Body.String())
	}
	rec = apiDo(t, rig.h, "GET", "/api/v1/assets/"+id, admin, "")
	if got = decode[apiAssetJSON](t, rec); got.UDI != "+A123BJC5D6E71G" || got.Manufacturer != "Harbourline" {
		t.Fatalf("read: %s", rec.Body.String())
	}
	// PUT replaces every field: no udi clears it.
	rec = apiDo(t, rig.h, "PUT", "/api/v1/assets/"+id, admin, `{"name": "Pump 0410", "kind": "infusion_pump"}`)
	if got = decode[apiAssetJSON](t, rec); rec.Code != 200 || got.UDI != "" || got.UDIDI != "" || got.UDIIssuer != "" || got.Manufacturer != "" {
		t.Fatalf("update clearing: %d %s", rec.Code, rec.Body.String())
	}
	wantError(t, "a bad check digit", apiDo(t, rig.h, "POST", "/api/v1/assets", admin,
		`{"name": "Pump X", "kind": "infusion_pump", "udi": "(01)00884838035452"}`), 400, wardwatch.EINVALID)
	wantError(t, "an IFA UDI", apiDo(t, rig.h, "PUT", "/api/v1/assets/"+id, admin,
		`{"name": "Pump X", "kind": "infusion_pump", "udi": "(9N)110375286414"}`), 400, wardwatch.EINVALID)
	wantError(t, "a long model", apiDo(t, rig.h, "POST", "/api/v1/assets", admin,
		`{"name": "Pump X", "kind": "infusion_pump", "model": "`+strings.Repeat("m", 101)+`"}`), 400, wardwatch.EINVALID)
	wantError(t, "an unknown field", apiDo(t, rig.h, "POST", "/api/v1/assets", admin,
		`{"name": "Pump X", "kind": "infusion_pump", "udi_di": "10614141000019"}`), 400, wardwatch.EINVALID)
}

func TestAdminAssetFormUDI(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Admin = &assetAdmin{store: c.Store.(*fakeStore)}
		c.Assets = fakeAssets{store: c.Store.(*fakeStore)}
		c.Location = time.UTC
	})
	admin := h.signInAs("admin")

	// Add a pump with a UDI, a make and a model.
	resp := h.postForm("/admin/assets", url.Values{"name": {"Pump 0410"}, "kind": {"infusion_pump"}, "serial": {"SIM-0410"},
		"udi": {"(01) 10614141000019 (21)SIM-0410"}, "manufacturer": {"Harbourline Medical"}, "model": {"Volumetric LVP-200"}}, admin)
	if body := readBody(t, resp); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d %s", resp.StatusCode, body)
	}
	a := h.store.assets[len(h.store.assets)-1]
	if a.UDI != "(01)10614141000019(21)SIM-0410" || a.Model != "Volumetric LVP-200" {
		t.Fatalf("stored %+v", a)
	}
	// The list shows them; a bad UDI is refused with the reason, the form
	// keeping what was typed.
	page := html.UnescapeString(readBody(t, h.page("/admin/assets", admin)))
	for _, want := range []string{"(01)10614141000019(21)SIM-0410", "Harbourline Medical", "Volumetric LVP-200", `name="udi"`, `name="manufacturer"`, `name="model"`} {
		if !strings.Contains(page, want) {
			t.Errorf("assets page lacks %q", want)
		}
	}
	resp = h.postForm("/admin/assets", url.Values{"name": {"Pump X"}, "kind": {"infusion_pump"}, "udi": {"(01)10614141000018"}}, admin)
	page = html.UnescapeString(readBody(t, resp))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "check digit") || !strings.Contains(page, `value="(01)10614141000018"`) {
		t.Errorf("bad UDI: %d", resp.StatusCode)
	}

	// Edit: the form is filled in and posts to the asset; the status set
	// on the asset page is kept.
	id := idText(a.ID)
	if err := (fakeAssets{store: h.store}).SetAssetStatus(context.Background(), a.ID, wardwatch.StatusInUse); err != nil {
		t.Fatal(err)
	}
	page = html.UnescapeString(readBody(t, h.page("/admin/assets?edit="+id, admin)))
	for _, want := range []string{"Edit Pump 0410", `action="/admin/assets/` + id + `"`, `value="Volumetric LVP-200"`, "Save asset"} {
		if !strings.Contains(page, want) {
			t.Errorf("edit form lacks %q", want)
		}
	}
	resp = h.postForm("/admin/assets/"+id, url.Values{"name": {"Pump 0410"}, "kind": {"infusion_pump"}, "serial": {"SIM-0410"},
		"udi": {"=/A9999XYZ100T0944"}, "manufacturer": {"Harbourline Medical"}, "model": {"Syringe SP-50"}}, admin)
	if body := readBody(t, resp); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", resp.StatusCode, body)
	}
	got, _ := h.store.Asset(context.Background(), a.ID)
	if got.UDI != "=/A9999XYZ100T0944" || got.Model != "Syringe SP-50" || got.Status != wardwatch.StatusInUse {
		t.Errorf("after edit %+v", got)
	}
	for path, status := range map[string]int{"/admin/assets?edit=999999": http.StatusNotFound, "/admin/assets?edit=x": http.StatusNotFound} {
		if resp := h.page(path, admin); resp.StatusCode != status {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, status)
		}
	}

	// The asset page shows them.
	page = html.UnescapeString(readBody(t, h.page("/assets/"+id, admin)))
	for _, want := range []string{"Harbourline Medical Syringe SP-50", "=/A9999XYZ100T0944"} {
		if !strings.Contains(page, want) {
			t.Errorf("asset page lacks %q", want)
		}
	}
}
