package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
	"github.com/wardwatch/wardwatch/floorplan"
)

// LayoutStore is what the floor editor changes.
type LayoutStore interface {
	CreateFloor(ctx context.Context, f *wardwatch.Floor) error
	UpdateFloor(ctx context.Context, f wardwatch.Floor) error
	ScaleFloor(ctx context.Context, floorID int64, factor float64) error
	SetFloorPlan(ctx context.Context, floorID int64, p wardwatch.FloorPlan) error
	CreateZone(ctx context.Context, z *wardwatch.Zone) error
	UpdateZone(ctx context.Context, z wardwatch.Zone) error
	DeleteZone(ctx context.Context, id int64) error
	CreateGateway(ctx context.Context, g *wardwatch.Gateway) error
	UpdateGateway(ctx context.Context, g wardwatch.Gateway) error
	DeleteGateway(ctx context.Context, id int64) error
	SetGatewayToken(ctx context.Context, id int64, tokenHash []byte) error
}

// layoutAdmin serves the floor editor.
type layoutAdmin struct {
	logger  *slog.Logger
	store   Store
	layout  LayoutStore
	audit   auditor
	changed func(context.Context)
}

func (a *layoutAdmin) configChanged(ctx context.Context) {
	if a.changed != nil {
		a.changed(ctx)
	}
}

// floorsAdminView lists floors for the admin, grouped by building.
type floorsAdminView struct {
	Groups    []floorGroup[wardwatch.Floor]
	Buildings []string // for the building field's suggestions
	Error     string
}

// buildingNames are the distinct non-empty buildings of fs, sorted.
func buildingNames(fs []wardwatch.Floor) []string {
	var bs []string
	for _, f := range fs {
		if f.Building != "" && !slices.Contains(bs, f.Building) {
			bs = append(bs, f.Building)
		}
	}
	slices.Sort(bs)
	return bs
}

func (a *layoutAdmin) handleFloors() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs, err := a.store.Floors(r.Context())
		if err != nil {
			renderError(w, r, a.logger, fmt.Errorf("list floors: %w", err))
			return
		}
		sortFloors(fs)
		v := floorsAdminView{Groups: groupByBuilding(fs, func(f wardwatch.Floor) wardwatch.Floor { return f }), Buildings: buildingNames(fs)}
		p := newPageMeta(r, "Floors and plans")
		p.Nav = "admin"
		render(w, r, a.logger, http.StatusOK, floorsAdminPage(p, v))
	})
}

func floorFromForm(v map[string]string) (wardwatch.Floor, error) {
	f := wardwatch.Floor{Name: v["name"]}
	var err error
	if f.Building, err = wardwatch.CheckBuilding(v["building"]); err != nil {
		return f, err
	}
	if f.Level, err = formInt(v, "level", "The level", 0); err != nil {
		return f, err
	}
	for _, fld := range []struct {
		name, label string
		dst         *float64
		def         float64
	}{{"width", "The width", &f.Width, 50}, {"height", "The height", &f.Height, 30}} {
		if *fld.dst, err = formFloat(v, fld.name, fld.label, fld.def); err != nil {
			return f, err
		}
	}
	return f, nil
}

func formFloat(v map[string]string, name, label string, def float64) (float64, error) {
	s := v[name]
	if s == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "%s must be a number.", label)
	}
	return f, nil
}

// handleSaveFloor creates a floor, or updates one with an id in the path.
func (a *layoutAdmin) handleSaveFloor() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		f, err := floorFromForm(v)
		action := "create"
		var old any
		if err == nil && r.PathValue("id") != "" {
			action = "update"
			if f.ID, err = pathID(r); err == nil {
				if prev, perr := a.store.Floor(ctx, f.ID); perr == nil {
					old = prev
				}
				err = a.layout.UpdateFloor(ctx, f)
			}
		} else if err == nil {
			err = a.layout.CreateFloor(ctx, &f)
		}
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.audit.record(ctx, action, "floor", f.ID, old, f, "")
		a.configChanged(ctx)
		http.Redirect(w, r, "/admin/floors/"+idText(f.ID), http.StatusSeeOther)
	})
}

// floorEditView is the floor editor.
type floorEditView struct {
	Floor    wardwatch.Floor
	Zones    []wardwatch.Zone
	Gateways []wardwatch.Gateway
	HasPlan  bool
	// CareUnits and Buildings are the site's care units and buildings,
	// suggested by the zone and floor forms.
	CareUnits []string
	Buildings []string
	Token     string // a new gateway push token, shown once
	TokenFor  string
	Notice    string
	Data      floorEditData
}

// floorEditData is the JSON floor-editor.js reads.
type floorEditData struct {
	Floor    floorJSON         `json:"floor"`
	PlanURL  string            `json:"planUrl"`
	HasPlan  bool              `json:"hasPlan"`
	Zones    []zoneJSON        `json:"zones"`
	Gateways []gatewayEditJSON `json:"gateways"`
}

type gatewayEditJSON struct {
	ID   int64   `json:"id"`
	Key  string  `json:"key"`
	Name string  `json:"name"`
	X    float64 `json:"x"`
	Y    float64 `json:"y"`
}

func (a *layoutAdmin) editView(ctx context.Context, id int64) (floorEditView, error) {
	f, err := a.store.Floor(ctx, id)
	if err != nil {
		return floorEditView{}, floorError(id, err)
	}
	zs, err := a.store.Zones(ctx, id)
	if err != nil {
		return floorEditView{}, fmt.Errorf("zones of floor %d: %w", id, err)
	}
	all, err := a.store.Gateways(ctx)
	if err != nil {
		return floorEditView{}, fmt.Errorf("gateways: %w", err)
	}
	_, units, err := zoneCareUnits(ctx, a.store)
	if err != nil {
		return floorEditView{}, err
	}
	fs, err := a.store.Floors(ctx)
	if err != nil {
		return floorEditView{}, fmt.Errorf("list floors: %w", err)
	}
	_, perr := a.store.FloorPlan(ctx, id)
	v := floorEditView{Floor: f, Zones: zs, HasPlan: perr == nil, CareUnits: units, Buildings: buildingNames(fs)}
	v.Data = floorEditData{Floor: floorJSON{ID: f.ID, Name: f.Name, Width: f.Width, Height: f.Height}, PlanURL: floorPlanPath(f.ID), HasPlan: v.HasPlan,
		Zones: []zoneJSON{}, Gateways: []gatewayEditJSON{}}
	for _, z := range zs {
		v.Data.Zones = append(v.Data.Zones, zoneJSON{ID: z.ID, Name: z.Name, Polygon: z.Polygon, CareUnit: z.CareUnit})
	}
	for _, g := range all {
		if g.FloorID == id && !strings.Contains(g.Key, "#") { // RFID antennas are placed by their reader
			v.Gateways = append(v.Gateways, g)
			v.Data.Gateways = append(v.Data.Gateways, gatewayEditJSON{ID: g.ID, Key: g.Key, Name: g.Name, X: g.At.X, Y: g.At.Y})
		}
	}
	return v, nil
}

func (a *layoutAdmin) renderEditor(w http.ResponseWriter, r *http.Request, v floorEditView) {
	p := newPageMeta(r, "Edit "+v.Floor.Name)
	p.Nav = "admin"
	p.Styles = []string{staticURL("vendor/leaflet/leaflet.css"), staticURL("vendor/leaflet-geoman/leaflet-geoman.css")}
	p.Scripts = []string{staticURL("vendor/leaflet/leaflet.js"), staticURL("vendor/leaflet-geoman/leaflet-geoman.min.js"), staticURL("floor-editor.js")}
	render(w, r, a.logger, http.StatusOK, floorEditPage(p, v))
}

func (a *layoutAdmin) handleEditor() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			renderError(w, r, a.logger, errNoFloor)
			return
		}
		v, err := a.editView(r.Context(), id)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		switch r.URL.Query().Get("done") {
		case "plan":
			v.Notice = "Plan uploaded. Set its scale next: measure a wall of known length."
		case "scale":
			v.Notice = "Scale set; the floor, its zones and gateways were resized to match."
		case "zone":
			v.Notice = "Zone saved."
		case "gateway":
			v.Notice = "Gateway saved."
		}
		a.renderEditor(w, r, v)
	})
}

// handleUploadPlan replaces a floor's plan; the floor's height follows the
// plan's proportions at its current width.
func (a *layoutAdmin) handleUploadPlan() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := pathID(r)
		if err != nil {
			renderError(w, r, a.logger, errNoFloor)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, floorplan.MaxPlanBytes+64<<10)
		file, _, err := r.FormFile("plan")
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ETOOLARGE, "The plan is larger than %d MiB.", floorplan.MaxPlanBytes>>20))
				return
			}
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.EINVALID, "Choose a plan image to upload."))
			return
		}
		defer file.Close()
		data, err := io.ReadAll(io.LimitReader(file, floorplan.MaxPlanBytes+1))
		if err != nil {
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.EINVALID, "The plan could not be read."))
			return
		}
		if len(data) > floorplan.MaxPlanBytes {
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ETOOLARGE, "The plan is larger than %d MiB.", floorplan.MaxPlanBytes>>20))
			return
		}
		ct, aspect, err := floorplan.CheckPlan(data)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		f, err := a.store.Floor(ctx, id)
		if err != nil {
			renderError(w, r, a.logger, floorError(id, err))
			return
		}
		if err := a.layout.SetFloorPlan(ctx, id, wardwatch.FloorPlan{ContentType: ct, Data: data}); err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		old := f
		f.Height = f.Width * aspect
		if err := a.layout.UpdateFloor(ctx, f); err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.audit.record(ctx, "plan", "floor", id, old, map[string]any{"content_type": ct, "bytes": len(data), "floor": f}, "")
		a.configChanged(ctx)
		http.Redirect(w, r, "/admin/floors/"+idText(id)+"?done=plan", http.StatusSeeOther)
	})
}

// handleScale sets the plan's scale from two points (floor metres as
// currently drawn) that are distance metres apart in reality.
func (a *layoutAdmin) handleScale() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := pathID(r)
		if err != nil {
			renderError(w, r, a.logger, errNoFloor)
			return
		}
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		var c [5]float64
		for i, name := range []string{"x1", "y1", "x2", "y2", "distance"} {
			if c[i], err = formFloat(v, name, "Each point and the distance", math.NaN()); err != nil || math.IsNaN(c[i]) {
				renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.EINVALID, "Give both points and the real distance between them."))
				return
			}
		}
		measured := math.Hypot(c[2]-c[0], c[3]-c[1])
		if measured < 1e-6 || c[4] <= 0 {
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.EINVALID, "The two points must differ and the distance must be positive."))
			return
		}
		factor := c[4] / measured
		if err := a.layout.ScaleFloor(ctx, id, factor); err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.audit.record(ctx, "scale", "floor", id, nil, map[string]float64{"factor": factor, "distance_m": c[4]}, "")
		a.configChanged(ctx)
		http.Redirect(w, r, "/admin/floors/"+idText(id)+"?done=scale", http.StatusSeeOther)
	})
}

// zoneFromForm reads name, kind, care unit and the polygon (JSON
// [[x,y],…] or [{"X":…,"Y":…},…] in floor metres).
func zoneFromForm(v map[string]string) (wardwatch.Zone, error) {
	z := wardwatch.Zone{Name: v["name"], Kind: wardwatch.ZoneKind(v["kind"])}
	var err error
	if z.CareUnit, err = wardwatch.CheckCareUnit(v["care_unit"]); err != nil {
		return z, err
	}
	raw := strings.TrimSpace(v["polygon"])
	var pairs [][2]float64
	if err := json.Unmarshal([]byte(raw), &pairs); err == nil {
		for _, p := range pairs {
			z.Polygon = append(z.Polygon, wardwatch.Point{X: p[0], Y: p[1]})
		}
		return z, nil
	}
	if err := json.Unmarshal([]byte(raw), &z.Polygon); err != nil {
		return z, wardwatch.Errorf(wardwatch.EINVALID, "Draw the zone on the plan (its outline is missing or malformed).")
	}
	return z, nil
}

// handleSaveZone creates a zone on a floor or updates one.
func (a *layoutAdmin) handleSaveZone() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r, "polygon")
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		z, err := zoneFromForm(v)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		action := "create"
		if r.PathValue("zone") != "" {
			action = "update"
			id, ok := parseID(r.PathValue("zone"))
			if !ok {
				renderError(w, r, a.logger, errPageNotFound)
				return
			}
			z.ID = id
			err = a.layout.UpdateZone(ctx, z)
		} else {
			if z.FloorID, err = pathID(r); err == nil {
				err = a.layout.CreateZone(ctx, &z)
			}
		}
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.audit.record(ctx, action, "zone", z.ID, nil, z, "")
		a.configChanged(ctx)
		http.Redirect(w, r, "/admin/floors/"+r.PathValue("id")+"?done=zone", http.StatusSeeOther)
	})
}

func (a *layoutAdmin) handleDeleteZone() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := parseID(r.PathValue("zone"))
		if !ok {
			renderError(w, r, a.logger, errPageNotFound)
			return
		}
		if err := a.layout.DeleteZone(r.Context(), id); err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.audit.record(r.Context(), "delete", "zone", id, nil, nil, "")
		a.configChanged(r.Context())
		http.Redirect(w, r, "/admin/floors/"+r.PathValue("id"), http.StatusSeeOther)
	})
}

// gatewayFromForm reads a gateway's placement and calibration.
func gatewayFromForm(v map[string]string) (wardwatch.Gateway, error) {
	g := wardwatch.Gateway{Key: v["key"], Name: v["name"], AnchorZoneID: formID(v, "anchor")}
	fields := []struct {
		name, label string
		dst         *float64
		def         float64
	}{
		{"x", "x", &g.At.X, math.NaN()}, {"y", "y", &g.At.Y, math.NaN()}, {"z", "The mounting height", &g.Z, 2.5},
		{"rssi_at_1m", "RSSI at 1 m", &g.RSSIAt1m, 0}, {"path_loss", "The path-loss exponent", &g.PathLossExponent, 0},
		{"rx_offset", "The receive offset", &g.RxOffset, 0},
	}
	for _, f := range fields {
		var err error
		if *f.dst, err = formFloat(v, f.name, f.label, f.def); err != nil {
			return g, err
		}
	}
	if math.IsNaN(g.At.X) || math.IsNaN(g.At.Y) {
		return g, wardwatch.Errorf(wardwatch.EINVALID, "Place the gateway on the plan (its position is missing).")
	}
	if g.RSSIAt1m != 0 && (g.RSSIAt1m < -100 || g.RSSIAt1m > 0) {
		return g, wardwatch.Errorf(wardwatch.EINVALID, "RSSI at 1 m must be between −100 and 0 dBm (or empty for the default).")
	}
	if g.PathLossExponent != 0 && (g.PathLossExponent < 1 || g.PathLossExponent > 6) {
		return g, wardwatch.Errorf(wardwatch.EINVALID, "The path-loss exponent must be between 1 and 6 (or empty for the default).")
	}
	return g, nil
}

// handleSaveGateway places a new gateway (and shows its push token once)
// or updates one.
func (a *layoutAdmin) handleSaveGateway() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		floorID, err := pathID(r)
		if err != nil {
			renderError(w, r, a.logger, errNoFloor)
			return
		}
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		g, err := gatewayFromForm(v)
		g.FloorID = floorID
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		if gid := r.PathValue("gateway"); gid != "" {
			id, ok := parseID(gid)
			if !ok {
				renderError(w, r, a.logger, errPageNotFound)
				return
			}
			g.ID = id
			if err := a.layout.UpdateGateway(ctx, g); err != nil {
				renderError(w, r, a.logger, err)
				return
			}
			a.audit.record(ctx, "update", "gateway", g.ID, nil, g, "")
			a.configChanged(ctx)
			http.Redirect(w, r, "/admin/floors/"+idText(floorID)+"?done=gateway", http.StatusSeeOther)
			return
		}
		if err := a.layout.CreateGateway(ctx, &g); err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		a.audit.record(ctx, "create", "gateway", g.ID, nil, g, "")
		a.issueGatewayToken(w, r, g)
	})
}

// rotateGatewayToken gives gateway id a new push token (the old one stops
// working at once), audits it and returns it, to be shown once: the floor
// editor's and the API's way.
func rotateGatewayToken(ctx context.Context, layout LayoutStore, audit auditor, id int64) (string, error) {
	token, err := auth.NewToken()
	if err == nil {
		err = layout.SetGatewayToken(ctx, id, auth.HashToken(token))
	}
	if err != nil {
		return "", fmt.Errorf("issue push token of gateway %d: %w", id, err)
	}
	audit.record(ctx, "token", "gateway", id, nil, nil, "new push token issued")
	return token, nil
}

// issueGatewayToken gives g a new push token and shows the editor with it
// once.
func (a *layoutAdmin) issueGatewayToken(w http.ResponseWriter, r *http.Request, g wardwatch.Gateway) {
	ctx := r.Context()
	token, err := rotateGatewayToken(ctx, a.layout, a.audit, g.ID)
	if err != nil {
		renderError(w, r, a.logger, err)
		return
	}
	a.configChanged(ctx)
	v, err := a.editView(ctx, g.FloorID)
	if err != nil {
		renderError(w, r, a.logger, err)
		return
	}
	v.Token, v.TokenFor = token, g.Key
	a.renderEditor(w, r, v)
}

// handleGatewayAction issues a new token for, or deletes, a gateway.
func (a *layoutAdmin) handleGatewayAction() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		floorID, err := pathID(r)
		gid, ok := parseID(r.PathValue("gateway"))
		if err != nil || !ok {
			renderError(w, r, a.logger, errPageNotFound)
			return
		}
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		gws, err := a.store.Gateways(ctx)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		var g *wardwatch.Gateway
		for i := range gws {
			if gws[i].ID == gid && gws[i].FloorID == floorID {
				g = &gws[i]
			}
		}
		if g == nil {
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such gateway on this floor."))
			return
		}
		switch v["action"] {
		case "token":
			a.issueGatewayToken(w, r, *g)
		case "delete":
			if err := a.layout.DeleteGateway(ctx, gid); err != nil {
				renderError(w, r, a.logger, err)
				return
			}
			a.audit.record(ctx, "delete", "gateway", gid, *g, nil, "")
			a.configChanged(ctx)
			http.Redirect(w, r, "/admin/floors/"+idText(floorID), http.StatusSeeOther)
		default:
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.EINVALID, "Unknown action."))
		}
	})
}

// polygonJSON is a polygon as the zone forms carry it: [[x,y],…].
func polygonJSON(ps []wardwatch.Point) string {
	pairs := make([][2]float64, len(ps))
	for i, p := range ps {
		pairs[i] = [2]float64{p.X, p.Y}
	}
	b, _ := json.Marshal(pairs)
	return string(b)
}
