package web

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
	"github.com/wardwatch/wardwatch/floorplan"
)

// The admin actions of the API: what an admin does on the discovered-tags,
// asset, floor editor, API token, audit, device test and system pages,
// with the same permission, validation, audit entries and change hooks as
// each page.

// ---- discovered tags ----

// apiDiscoveredTagJSON is a tag heard that belongs to no asset.
type apiDiscoveredTagJSON struct {
	TagID     string  `json:"tag_id"`
	FirstSeen *string `json:"first_seen"`
	LastSeen  *string `json:"last_seen"`
	GatewayID int64   `json:"gateway_id"`
	Gateway   string  `json:"gateway"`
	RSSI      float64 `json:"rssi"`
	Sightings int64   `json:"sightings"`
}

// handleDiscoveredTags lists the discovered tags in order of tag ID (a
// stable order for paging, as sightings keep changing last_seen).
func (s *apiServer) handleDiscoveredTags() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		q, err := parseListQuery(r.URL.RawQuery)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ds, err := s.cfg.Store.DiscoveredTags(ctx)
		if err != nil {
			s.fail(w, r, fmt.Errorf("list discovered tags: %w", err))
			return
		}
		gws, err := s.cfg.Store.Gateways(ctx)
		if err != nil {
			s.fail(w, r, fmt.Errorf("list gateways: %w", err))
			return
		}
		gwName := make(map[int64]string, len(gws))
		for _, g := range gws {
			gwName[g.ID] = g.Name
		}
		out := make([]apiDiscoveredTagJSON, 0, len(ds))
		for _, d := range ds {
			out = append(out, apiDiscoveredTagJSON{TagID: d.TagID, FirstSeen: apiTime(d.FirstSeen), LastSeen: apiTime(d.LastSeen),
				GatewayID: d.GatewayID, Gateway: gwName[d.GatewayID], RSSI: d.RSSI, Sightings: d.Sightings})
		}
		slices.SortFunc(out, func(a, b apiDiscoveredTagJSON) int { return cmp.Compare(a.TagID, b.TagID) })
		listOf(s, w, r, q, out)
	})
}

// pathTag reads the {tag} path value; ENOTFOUND when it cannot be a tag.
func pathTag(r *http.Request, what string) (string, error) {
	tag := strings.TrimSpace(r.PathValue("tag"))
	if tag == "" || len(tag) > maxFieldBytes {
		return "", wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such %s.", what)
	}
	return tag, nil
}

// handleAssignDiscoveredTag assigns a discovered tag to the asset_id of
// the body, as the discovered-tags page does.
func (s *apiServer) handleAssignDiscoveredTag() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		tag, err := pathTag(r, "discovered tag")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := apiForm(w, r, []string{"asset_id"}, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		assetID := formID(v, "asset_id")
		if assetID == 0 {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give the asset_id to assign the tag to."))
			return
		}
		if _, err := s.cfg.Store.Asset(ctx, assetID); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.cfg.Store.AssignDiscoveredTag(ctx, tag, assetID); err != nil {
			s.fail(w, r, err)
			return
		}
		t := wardwatch.Tag{ID: tag, AssetID: assetID}
		s.audit.record(ctx, "assign", "tag", tag, nil, t, "assigned from the discovered tags")
		s.configChanged(ctx)
		s.ok(w, r, apiTagJSON{ID: t.ID, AssetID: t.AssetID})
	})
}

// handleDismissDiscoveredTag removes a tag from the discovered list; it
// comes back if it is heard again.
func (s *apiServer) handleDismissDiscoveredTag() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		tag, err := pathTag(r, "discovered tag")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.cfg.Store.DismissDiscoveredTag(ctx, tag); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "dismiss", "tag", tag, nil, nil, "dismissed from the discovered tags")
		s.noContent(w)
	})
}

// ---- asset status and CSV import ----

// handleSetAssetStatus changes an asset's status (body: status and an
// optional reason) as the asset page does, and answers the asset.
func (s *apiServer) handleSetAssetStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "asset")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := apiForm(w, r, []string{"status", "reason"}, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if v["status"] == "" {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give the status: available, in_use, soiled or in_repair."))
			return
		}
		old, err := s.cfg.Store.Asset(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		st := wardwatch.AssetStatus(v["status"])
		if err := s.cfg.Assets.SetAssetStatus(ctx, id, st); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "status", "asset", id, map[string]string{"status": string(old.Status)}, map[string]string{"status": string(st)}, v["reason"])
		a, err := s.cfg.Store.Asset(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		site, err := loadSite(ctx, s.cfg.Store)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, s.assetOut(a, latestPositions(s.cfg.Live, site.floors), site, s.cfg.Now()))
	})
}

// apiImportJSON is the result of a CSV import: how many assets were
// created and each line refused (line 0: not about one line).
type apiImportJSON struct {
	Created  int                `json:"created"`
	Problems []apiImportProblem `json:"problems"`
}

type apiImportProblem struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// importProblems splits the import report's "line 4: …" texts into line
// and message.
func importProblems(errs []string) []apiImportProblem {
	out := make([]apiImportProblem, 0, len(errs))
	for _, e := range errs {
		p := apiImportProblem{Message: e}
		if rest, ok := strings.CutPrefix(e, "line "); ok {
			if num, msg, ok := strings.Cut(rest, ": "); ok {
				if n, err := strconv.Atoi(num); err == nil && n > 0 {
					p = apiImportProblem{Line: n, Message: msg}
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// handleImportAssets imports a CSV of assets sent as a text/csv body: the
// asset page's columns, size limit and row validation; bad rows are
// reported by line and skipped. A body over the limit imports nothing.
func (s *apiServer) handleImportAssets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || !strings.EqualFold(mt, "text/csv") {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Send the CSV as the body with Content-Type: text/csv."))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxImportBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				s.fail(w, r, wardwatch.Errorf(wardwatch.ETOOLARGE, "The file is larger than %d MiB.", maxImportBytes>>20))
				return
			}
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "The CSV could not be read."))
			return
		}
		c := &configAdmin{logger: s.logger, store: s.cfg.Store, admin: s.cfg.Admin, audit: s.audit, changed: s.cfg.ConfigChanged, loc: s.cfg.Location}
		rep, err := c.importAssets(ctx, bytes.NewReader(body))
		if rep.Created > 0 {
			s.configChanged(ctx)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, apiImportJSON{Created: rep.Created, Problems: importProblems(rep.Errors)})
	})
}

// ---- floor plans and scale ----

// handleFloorPlan answers a floor's plan image with the same headers as
// the page's plan route (no sniffing, sandboxed SVG), errors as JSON.
func (s *apiServer) handleFloorPlan() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := apiPathID(r, "id", "floor")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if _, err := s.cfg.Store.Floor(r.Context(), id); err != nil {
			s.fail(w, r, floorError(id, err))
			return
		}
		if err := serveFloorPlan(w, r, s.cfg.Store, id); err != nil {
			s.fail(w, r, err)
		}
	})
}

// handleUploadPlan replaces a floor's plan with the raw image body. The
// Content-Type must name the image's real type; the size, type and pixel
// checks are the floor editor's, and the floor's depth follows the plan's
// proportions at its current width, as there.
func (s *apiServer) handleUploadPlan() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "floor")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		declared, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		declared = strings.ToLower(declared)
		if _, ok := planTypes[declared]; err != nil || !ok {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Send the plan image as the body with its Content-Type: image/png, image/jpeg or image/svg+xml."))
			return
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, floorplan.MaxPlanBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				s.fail(w, r, wardwatch.Errorf(wardwatch.ETOOLARGE, "The plan is larger than %d MiB.", floorplan.MaxPlanBytes>>20))
				return
			}
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "The plan could not be read."))
			return
		}
		ct, aspect, err := floorplan.CheckPlan(data)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if ct != declared {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "The body is %s, not the %s its Content-Type says.", ct, declared))
			return
		}
		f, err := s.cfg.Store.Floor(ctx, id)
		if err != nil {
			s.fail(w, r, floorError(id, err))
			return
		}
		if err := s.cfg.Layout.SetFloorPlan(ctx, id, wardwatch.FloorPlan{ContentType: ct, Data: data}); err != nil {
			s.fail(w, r, err)
			return
		}
		old := f
		f.Height = f.Width * aspect
		if err := s.cfg.Layout.UpdateFloor(ctx, f); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "plan", "floor", id, old, map[string]any{"content_type": ct, "bytes": len(data), "floor": f}, "")
		s.configChanged(ctx)
		s.ok(w, r, floorOut(f))
	})
}

// handleScale sets a floor plan's scale from two points (floor metres as
// currently drawn: x1, y1, x2, y2) that are distance metres apart in
// reality; the floor, its zones and gateways are resized to match.
func (s *apiServer) handleScale() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "floor")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := apiForm(w, r, []string{"x1", "y1", "x2", "y2", "distance"}, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var c [5]float64
		for i, name := range []string{"x1", "y1", "x2", "y2", "distance"} {
			if c[i], err = formFloat(v, name, "Each point and the distance", math.NaN()); err != nil || math.IsNaN(c[i]) {
				s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give both points (x1, y1, x2, y2) and the real distance between them."))
				return
			}
		}
		measured := math.Hypot(c[2]-c[0], c[3]-c[1])
		if measured < 1e-6 || c[4] <= 0 {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "The two points must differ and the distance must be positive."))
			return
		}
		if _, err := s.cfg.Store.Floor(ctx, id); err != nil {
			s.fail(w, r, floorError(id, err))
			return
		}
		factor := c[4] / measured
		if err := s.cfg.Layout.ScaleFloor(ctx, id, factor); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "scale", "floor", id, nil, map[string]float64{"factor": factor, "distance_m": c[4]}, "")
		s.configChanged(ctx)
		f, err := s.cfg.Store.Floor(ctx, id)
		if err != nil {
			s.fail(w, r, floorError(id, err))
			return
		}
		s.ok(w, r, floorOut(f))
	})
}

// ---- gateway push tokens ----

// handleGatewayToken issues a new push token for a gateway (the old one
// stops working) and answers it once, as the floor editor shows it once.
func (s *apiServer) handleGatewayToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "gateway")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		g, err := s.findGateway(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if strings.Contains(g.Key, "#") {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "This is an RFID reader's antenna: it has no push token of its own, its reader pushes for it."))
			return
		}
		token, err := rotateGatewayToken(ctx, s.cfg.Layout, s.audit, g.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		g.TokenHash = auth.HashToken(token)
		s.configChanged(ctx)
		out := gatewayOut(g)
		out.PushToken, out.PushTokenWarning = token, "The push token is shown only in this answer; the previous one no longer works."
		s.ok(w, r, out)
	})
}

// ---- API tokens ----

// apiTokenJSON is an API token as the API lists it: never its secret or
// the secret's hash.
type apiTokenJSON struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	Role      string  `json:"role"`
	Prefix    string  `json:"prefix"`
	CreatedBy string  `json:"created_by"`
	CreatedAt *string `json:"created_at"`
	LastUsed  *string `json:"last_used"`
	RevokedAt *string `json:"revoked_at"`
	Active    bool    `json:"active"`
	Token     string  `json:"token,omitempty"` // only in the answer that creates it
	TokenNote string  `json:"token_note,omitempty"`
}

func apiTokenOut(t wardwatch.APIToken) apiTokenJSON {
	return apiTokenJSON{ID: t.ID, Name: t.Name, Role: string(t.Role), Prefix: t.Prefix, CreatedBy: t.CreatedBy,
		CreatedAt: apiTime(t.CreatedAt), LastUsed: apiTime(t.LastUsed), RevokedAt: apiTime(t.RevokedAt), Active: !t.Revoked()}
}

func (s *apiServer) handleAPITokens() http.Handler {
	return apiListAll(s, "API tokens", s.cfg.APITokens.APITokens, apiTokenOut, func(t apiTokenJSON) int64 { return t.ID })
}

// handleCreateAPIToken makes a token with a name and a role and answers
// its text once. Every role is at most an admin's, so a token can never
// mint more rights than the admin rights it needs to call this.
func (s *apiServer) handleCreateAPIToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, []string{"name", "role"}, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		role := wardwatch.Role(v["role"])
		if !role.Valid() {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give the token's role: one of %s.", roleList()))
			return
		}
		text, err := newAPIToken()
		if err != nil {
			s.fail(w, r, err)
			return
		}
		t := wardwatch.APIToken{Name: v["name"], Role: role, Prefix: text[:apiTokenShownPart], SecretHash: auth.HashToken(text)}
		if vw := viewerFrom(ctx); vw != nil {
			t.CreatedBy = vw.User.Username
		}
		if err := s.cfg.APITokens.CreateAPIToken(ctx, &t); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "create", "api_token", t.ID, nil, map[string]string{"name": t.Name, "role": string(t.Role), "prefix": t.Prefix}, "")
		out := apiTokenOut(t)
		out.Token, out.TokenNote = text, "The token is shown only in this answer; only its hash is stored."
		s.created(w, r, out)
	})
}

// roleList is the roles as an error message lists them.
func roleList() string {
	names := make([]string, len(allRoles))
	for i, r := range allRoles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// handleRevokeAPIToken revokes a token at once (it stays listed).
func (s *apiServer) handleRevokeAPIToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "API token")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ts, err := s.cfg.APITokens.APITokens(ctx)
		if err != nil {
			s.fail(w, r, fmt.Errorf("list API tokens: %w", err))
			return
		}
		i := slices.IndexFunc(ts, func(t wardwatch.APIToken) bool { return t.ID == id })
		if i < 0 {
			s.fail(w, r, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such API token."))
			return
		}
		if err := s.cfg.APITokens.RevokeAPIToken(ctx, id); err != nil {
			s.fail(w, r, err)
			return
		}
		old := ts[i]
		s.audit.record(ctx, "revoke", "api_token", id, map[string]string{"name": old.Name, "role": string(old.Role), "prefix": old.Prefix}, nil, "")
		s.noContent(w)
	})
}

// ---- audit log ----

// apiAuditEntryJSON is one audit log entry. old and new are the snapshots the
// log keeps: JSON values as stored (null when empty).
type apiAuditEntryJSON struct {
	ID        int64           `json:"id"`
	Time      *string         `json:"time"`
	UserID    int64           `json:"user_id"`
	Username  string          `json:"username"`
	Action    string          `json:"action"`
	Subject   string          `json:"subject"`
	SubjectID string          `json:"subject_id"`
	Old       json.RawMessage `json:"old"`
	New       json.RawMessage `json:"new"`
	Reason    string          `json:"reason"`
}

// auditSnapshotJSON is a stored snapshot as a JSON value: itself when it
// is JSON, a JSON string otherwise, null when empty.
func auditSnapshotJSON(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("null")
	}
	if utf8.ValidString(s) && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// apiAuditList is a page of the audit log: newest first; next_cursor
// continues with older entries.
type apiAuditList struct {
	Items      []apiAuditEntryJSON `json:"items"`
	NextCursor string              `json:"next_cursor,omitempty"`
}

// maxAuditSubject bounds the subject filter, as on the audit page.
const maxAuditSubject = 40

// handleAuditLog answers the audit log newest first, filtered like the
// audit page by subject (and subject_id), paged by limit and cursor (or
// before: an entry ID, as the page's links).
func (s *apiServer) handleAuditLog() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "subject", "subject_id", "before")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		vals, _ := url.ParseQuery(r.URL.RawQuery) // parsed above without error
		if vals.Has("offset") {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "The audit log pages by cursor (or before), not offset."))
			return
		}
		aq := wardwatch.AuditQuery{Limit: q.Limit, Subject: q.Filters["subject"], SubjectID: q.Filters["subject_id"]}
		if len(aq.Subject) > maxAuditSubject {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "subject is at most %d characters.", maxAuditSubject))
			return
		}
		if aq.SubjectID != "" && aq.Subject == "" {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "subject_id needs subject as well."))
			return
		}
		if vals.Has("cursor") {
			aq.BeforeID = int64(q.Offset)
		}
		if b := q.Filters["before"]; b != "" {
			if vals.Has("cursor") {
				s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give cursor or before, not both."))
				return
			}
			id, ok := parseID(b)
			if !ok {
				s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "before must be an audit entry ID."))
				return
			}
			aq.BeforeID = id
		}
		if vals.Has("cursor") && aq.BeforeID <= 0 {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "The cursor is not valid; use next_cursor from the previous page."))
			return
		}
		es, err := s.cfg.Audit.AuditLog(r.Context(), aq)
		if err != nil {
			s.fail(w, r, fmt.Errorf("read audit log: %w", err))
			return
		}
		out := apiAuditList{Items: make([]apiAuditEntryJSON, 0, len(es))}
		for _, e := range es {
			out.Items = append(out.Items, apiAuditEntryJSON{ID: e.ID, Time: apiTime(e.Time), UserID: e.UserID, Username: e.Username,
				Action: e.Action, Subject: e.Subject, SubjectID: e.SubjectID, Old: auditSnapshotJSON(e.Old), New: auditSnapshotJSON(e.New),
				Reason: e.Reason})
		}
		if len(es) == q.Limit && len(es) > 0 && es[len(es)-1].ID > 1 && es[len(es)-1].ID <= apiMaxOffset {
			out.NextCursor = encodeCursor(int(es[len(es)-1].ID))
		}
		s.ok(w, r, out)
	})
}

// ---- test connection ----

// apiTestReportJSON is what a test read found: one row per profile field,
// or the error that stopped it.
type apiTestReportJSON struct {
	OK    bool             `json:"ok"`
	Error string           `json:"error,omitempty"`
	Rows  []apiTestRowJSON `json:"rows"`
}

type apiTestRowJSON struct {
	Name  string `json:"name"`
	Raw   string `json:"raw"`
	Value string `json:"value"`
	Unit  string `json:"unit"`
	Error string `json:"error,omitempty"`
}

func testReportOut(rep TestReport) apiTestReportJSON {
	out := apiTestReportJSON{OK: rep.Error == "", Error: rep.Error, Rows: make([]apiTestRowJSON, 0, len(rep.Rows))}
	for _, row := range rep.Rows {
		out.Rows = append(out.Rows, apiTestRowJSON{Name: row.Name, Raw: row.Raw, Value: row.Value, Unit: row.Unit, Error: row.Error})
	}
	return out
}

// errNoTesting answers a test when no collector can test.
var errNoTesting = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "Testing is not available.")

// handleTestModbus reads a Modbus device once with the settings of the
// body (the fields of a create) and answers what it read; it stores
// nothing.
func (s *apiServer) handleTestModbus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := apiForm(w, r, modbusFields, map[string]string{"unit_id": "unit"})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d, err := modbusFromForm(v)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if s.cfg.Collectors.TestModbus == nil {
			s.fail(w, r, errNoTesting)
			return
		}
		s.ok(w, r, testReportOut(s.cfg.Collectors.TestModbus(r.Context(), d)))
	})
}

// handleTestSNMP reads an SNMP target once with the settings of the body
// (the fields of a create) and answers what it read; it stores nothing.
// With id, blank secrets are taken from that stored target, as when
// testing on the target's edit page.
func (s *apiServer) handleTestSNMP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, append(slices.Clip(snmpFields), "id"), nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		t, err := snmpFromForm(v)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if raw := v["id"]; raw != "" {
			id, ok := parseID(raw)
			if !ok {
				s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "id must be an SNMP target's ID."))
				return
			}
			stored, err := s.cfg.Devices.SNMPTarget(ctx, id)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			t.ID = id
			t.Community = cmp.Or(t.Community, stored.Community)
			t.AuthPassword = cmp.Or(t.AuthPassword, stored.AuthPassword)
			t.PrivPassword = cmp.Or(t.PrivPassword, stored.PrivPassword)
		}
		if s.cfg.Collectors.TestSNMP == nil {
			s.fail(w, r, errNoTesting)
			return
		}
		s.ok(w, r, testReportOut(s.cfg.Collectors.TestSNMP(ctx, t)))
	})
}

// ---- system status ----

// apiSystemJSON is the system status page as JSON.
type apiSystemJSON struct {
	OK     bool                 `json:"ok"`
	Time   *string              `json:"time"`
	Checks []apiSystemCheckJSON `json:"checks"`
}

type apiSystemCheckJSON struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// handleSystem answers the state of WardWatch's dependencies and
// collectors, as the system status page shows it; ok is false when any
// check fails.
func (s *apiServer) handleSystem() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.cfg.Now()
		out := apiSystemJSON{OK: true, Time: apiTime(now), Checks: []apiSystemCheckJSON{}}
		if s.cfg.SystemChecks != nil {
			for _, c := range s.cfg.SystemChecks(now) {
				out.Checks = append(out.Checks, apiSystemCheckJSON{Name: c.Name, OK: c.OK, Detail: c.Detail})
				out.OK = out.OK && c.OK
			}
		}
		s.ok(w, r, out)
	})
}
