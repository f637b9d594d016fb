package web

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// AdminStore is what the asset and user admin pages change.
type AdminStore interface {
	CreateAsset(ctx context.Context, a *wardwatch.Asset) error
	UpdateAsset(ctx context.Context, a wardwatch.Asset) error
	DeleteAsset(ctx context.Context, id int64) error
	Tags(ctx context.Context) ([]wardwatch.Tag, error)
	CreateTag(ctx context.Context, t wardwatch.Tag) error
	DeleteTag(ctx context.Context, id string) error

	Users(ctx context.Context) ([]wardwatch.User, error)
	CreateUser(ctx context.Context, u *wardwatch.User) error
	SetUserRole(ctx context.Context, id int64, r wardwatch.Role) error
	// SetUserUnits sets the care units a user is scoped to; none: the
	// whole site.
	SetUserUnits(ctx context.Context, id int64, units []string) error
	SetPassword(ctx context.Context, id int64, hash string) error
	DeleteUserSessions(ctx context.Context, id int64) error
	DeleteUser(ctx context.Context, id int64) error
}

// configAdmin serves the asset and user admin pages.
type configAdmin struct {
	logger  *slog.Logger
	store   Store
	admin   AdminStore
	audit   auditor
	changed func(context.Context)
	loc     *time.Location
}

func (c *configAdmin) configChanged(ctx context.Context) {
	if c.changed != nil {
		c.changed(ctx)
	}
}

// ---- assets ----

type assetAdminRow struct {
	Asset wardwatch.Asset
	Tags  []string
	PM    pmDue
}

type assetsAdminView struct {
	Rows   []assetAdminRow
	Edit   wardwatch.Asset
	EditPM string
	Error  string
	Notice string
	Import *importReport
}

// importReport is what a CSV import did.
type importReport struct {
	Created int
	Errors  []string // "line 4: unknown kind "toaster""
}

func (c *configAdmin) assetsView(ctx context.Context) (assetsAdminView, error) {
	as, err := c.store.Assets(ctx)
	if err != nil {
		return assetsAdminView{}, fmt.Errorf("list assets: %w", err)
	}
	ts, err := c.admin.Tags(ctx)
	if err != nil {
		return assetsAdminView{}, fmt.Errorf("list tags: %w", err)
	}
	byAsset := make(map[int64][]string)
	for _, t := range ts {
		byAsset[t.AssetID] = append(byAsset[t.AssetID], t.ID)
	}
	v := assetsAdminView{Edit: wardwatch.Asset{Kind: wardwatch.AssetInfusionPump}}
	now := time.Now()
	for _, a := range as {
		v.Rows = append(v.Rows, assetAdminRow{Asset: a, Tags: byAsset[a.ID], PM: pmStatus(a.PMDue, now, c.loc)})
	}
	return v, nil
}

func (c *configAdmin) renderAssets(w http.ResponseWriter, r *http.Request, status int, v assetsAdminView) {
	p := newPageMeta(r, "Assets and tags")
	p.Nav = "admin"
	render(w, r, c.logger, status, assetsAdminPage(p, v))
}

func (c *configAdmin) handleAssets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := c.assetsView(r.Context())
		if err != nil {
			renderError(w, r, c.logger, err)
			return
		}
		switch r.URL.Query().Get("done") {
		case "saved":
			v.Notice = "Saved."
		case "deleted":
			v.Notice = "Asset deleted with its tags."
		}
		if raw := r.URL.Query().Get("edit"); raw != "" {
			id, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				renderError(w, r, c.logger, wardwatch.Errorf(wardwatch.ENOTFOUND, "No such asset."))
				return
			}
			a, err := c.store.Asset(r.Context(), id)
			if err != nil {
				renderError(w, r, c.logger, err)
				return
			}
			v.Edit = a
			if !a.PMDue.IsZero() {
				v.EditPM = a.PMDue.In(c.loc).Format(time.DateOnly)
			}
		}
		c.renderAssets(w, r, http.StatusOK, v)
	})
}

// assetFormTitle and assetFormAction are the asset form's heading and
// target: adding a new asset, or editing a (the form's Edit, ID set).
func assetFormTitle(a wardwatch.Asset) string {
	if a.ID == 0 {
		return "Add an asset"
	}
	return "Edit " + a.Name
}

func assetFormAction(a wardwatch.Asset) string {
	if a.ID == 0 {
		return "/admin/assets"
	}
	return "/admin/assets/" + idText(a.ID)
}

// assetFromForm reads the asset fields of a form. The UDI, manufacturer
// and model are checked here (the store checks them again) so that a form
// or an import line says what is wrong with them.
func assetFromForm(v map[string]string, loc *time.Location) (wardwatch.Asset, error) {
	a := wardwatch.Asset{Name: v["name"], Kind: wardwatch.AssetKind(v["kind"]), Status: wardwatch.AssetStatus(v["status"]),
		AssetTag: v["asset_tag"], Serial: v["serial"], UDI: v["udi"], Manufacturer: v["manufacturer"], Model: v["model"]}
	udi, err := wardwatch.CheckUDI(a.UDI)
	if err != nil {
		return a, err
	}
	a.UDI = udi
	if a.Manufacturer, err = wardwatch.CheckManufacturer(a.Manufacturer); err != nil {
		return a, err
	}
	if a.Model, err = wardwatch.CheckModel(a.Model); err != nil {
		return a, err
	}
	if s := v["pm_due"]; s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		if err != nil {
			return a, wardwatch.Errorf(wardwatch.EINVALID, "PM due must be a date (YYYY-MM-DD).")
		}
		a.PMDue = t
	}
	return a, nil
}

// handleSaveAsset creates an asset (with an optional first tag) or, with
// an id in the path, updates one.
func (c *configAdmin) handleSaveAsset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, c.logger, err)
			return
		}
		a, err := assetFromForm(v, c.loc)
		var old any
		action := "create"
		if err == nil && r.PathValue("id") != "" {
			action = "update"
			if a.ID, err = pathID(r); err == nil {
				if prev, perr := c.store.Asset(ctx, a.ID); perr == nil {
					old = prev
					if a.Status == "" {
						a.Status = prev.Status // the edit form leaves the status to the asset page
					}
				}
				err = c.admin.UpdateAsset(ctx, a)
			}
		} else if err == nil {
			err = c.admin.CreateAsset(ctx, &a)
			if err == nil && v["tag"] != "" {
				if terr := c.admin.CreateTag(ctx, wardwatch.Tag{ID: v["tag"], AssetID: a.ID}); terr != nil {
					c.audit.record(ctx, action, "asset", a.ID, nil, a, "")
					err = terr // the asset exists; say why its tag does not
				} else {
					c.audit.record(ctx, "create", "tag", v["tag"], nil, wardwatch.Tag{ID: v["tag"], AssetID: a.ID}, "")
				}
			}
		}
		if err != nil {
			if statusOf(err) >= 500 || statusOf(err) == http.StatusNotFound {
				renderError(w, r, c.logger, err)
				return
			}
			view, verr := c.assetsView(ctx)
			if verr != nil {
				renderError(w, r, c.logger, verr)
				return
			}
			view.Edit, view.EditPM, view.Error = a, v["pm_due"], wardwatch.ErrorMessage(err)
			c.renderAssets(w, r, statusOf(err), view)
			return
		}
		c.audit.record(ctx, action, "asset", a.ID, old, a, "")
		c.configChanged(ctx)
		http.Redirect(w, r, "/admin/assets?done=saved", http.StatusSeeOther)
	})
}

func (c *configAdmin) handleDeleteAsset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := pathID(r)
		var old any
		if err == nil {
			if prev, perr := c.store.Asset(ctx, id); perr == nil {
				old = prev
			}
			err = c.admin.DeleteAsset(ctx, id)
		}
		if err != nil {
			renderError(w, r, c.logger, err)
			return
		}
		c.audit.record(ctx, "delete", "asset", id, old, nil, "")
		c.configChanged(ctx)
		http.Redirect(w, r, "/admin/assets?done=deleted", http.StatusSeeOther)
	})
}

// handleAddTag fixes another tag to an asset; handleRemoveTag takes one
// off.
func (c *configAdmin) handleAddTag() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := pathID(r)
		if err != nil {
			renderError(w, r, c.logger, err)
			return
		}
		v, err := formValues(w, r)
		if err == nil {
			err = c.admin.CreateTag(ctx, wardwatch.Tag{ID: v["tag"], AssetID: id})
		}
		if err != nil {
			renderError(w, r, c.logger, err)
			return
		}
		c.audit.record(ctx, "create", "tag", v["tag"], nil, wardwatch.Tag{ID: v["tag"], AssetID: id}, "")
		c.configChanged(ctx)
		http.Redirect(w, r, "/admin/assets?done=saved", http.StatusSeeOther)
	})
}

func (c *configAdmin) handleRemoveTag() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r)
		if err == nil {
			err = c.admin.DeleteTag(ctx, v["tag"])
		}
		if err != nil {
			renderError(w, r, c.logger, err)
			return
		}
		c.audit.record(ctx, "delete", "tag", v["tag"], map[string]string{"tag": v["tag"]}, nil, "")
		c.configChanged(ctx)
		http.Redirect(w, r, "/admin/assets?done=saved", http.StatusSeeOther)
	})
}

// maxImportBytes caps a CSV import upload; maxImportRows its rows.
const (
	maxImportBytes = 2 << 20
	maxImportRows  = 20000
)

// importColumns are the CSV import's columns; name and kind are required.
// udi, manufacturer and model came later: files without them still import.
var importColumns = []string{"name", "kind", "status", "asset_tag", "serial", "pm_due", "tags", "udi", "manufacturer", "model"}

// importAssets reads a CSV of assets (header row with the importColumns,
// any order, unknown ones refused) and creates each good row; bad rows
// are reported by line and skipped. tags holds tag IDs separated by ';'.
func (c *configAdmin) importAssets(ctx context.Context, body io.Reader) (importReport, error) {
	var rep importReport
	cr := csv.NewReader(body)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return rep, wardwatch.Errorf(wardwatch.EINVALID, "The file has no header row.")
	}
	col := make(map[string]int)
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(importColumns, h) {
			return rep, wardwatch.Errorf(wardwatch.EINVALID, "Unknown column %q; the columns are %s.", shortField(h), strings.Join(importColumns, ", "))
		}
		col[h] = i
	}
	if _, ok := col["name"]; !ok {
		return rep, wardwatch.Errorf(wardwatch.EINVALID, "The file needs a name column.")
	}
	if _, ok := col["kind"]; !ok {
		return rep, wardwatch.Errorf(wardwatch.EINVALID, "The file needs a kind column.")
	}
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return rep, fmt.Errorf("read CSV: %w", err)
			}
			rep.Errors = append(rep.Errors, fmt.Sprintf("line %d: not valid CSV (%v); the rest was not read", pe.StartLine, pe.Err))
			break
		}
		line, _ := cr.FieldPos(0)
		if n >= maxImportRows {
			rep.Errors = append(rep.Errors, fmt.Sprintf("line %d: more than %d rows; the rest was not read", line, maxImportRows))
			break
		}
		get := func(k string) string {
			if i, ok := col[k]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		v := map[string]string{"name": get("name"), "kind": get("kind"), "status": get("status"),
			"asset_tag": get("asset_tag"), "serial": get("serial"), "pm_due": get("pm_due"),
			"udi": get("udi"), "manufacturer": get("manufacturer"), "model": get("model")}
		a, err := assetFromForm(v, c.loc)
		if err == nil {
			err = c.admin.CreateAsset(ctx, &a)
		}
		if err != nil {
			if statusOf(err) >= 500 {
				return rep, err
			}
			rep.Errors = append(rep.Errors, fmt.Sprintf("line %d: %s", line, wardwatch.ErrorMessage(err)))
			continue
		}
		rep.Created++
		c.audit.record(ctx, "create", "asset", a.ID, nil, a, "CSV import")
		for _, tag := range strings.Split(get("tags"), ";") {
			if tag = strings.TrimSpace(tag); tag == "" {
				continue
			}
			if err := c.admin.CreateTag(ctx, wardwatch.Tag{ID: tag, AssetID: a.ID}); err != nil {
				rep.Errors = append(rep.Errors, fmt.Sprintf("line %d: asset created, but tag %s: %s", line, shortField(tag), wardwatch.ErrorMessage(err)))
			}
		}
		if len(rep.Errors) > 200 {
			rep.Errors = append(rep.Errors, "too many problems; the rest was not read")
			break
		}
	}
	return rep, nil
}

// handleImportAssets takes a CSV upload (multipart, one file, size
// limited) and reports what it created and which lines it refused.
func (c *configAdmin) handleImportAssets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		r.Body = http.MaxBytesReader(w, r.Body, maxImportBytes+64<<10)
		file, _, err := r.FormFile("file")
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				renderError(w, r, c.logger, wardwatch.Errorf(wardwatch.ETOOLARGE, "The file is larger than %d MiB.", maxImportBytes>>20))
				return
			}
			renderError(w, r, c.logger, wardwatch.Errorf(wardwatch.EINVALID, "Choose a CSV file to import."))
			return
		}
		defer file.Close()
		rep, err := c.importAssets(ctx, io.LimitReader(file, maxImportBytes))
		if err != nil && statusOf(err) >= 500 {
			renderError(w, r, c.logger, err)
			return
		}
		if rep.Created > 0 {
			c.configChanged(ctx)
		}
		v, verr := c.assetsView(ctx)
		if verr != nil {
			renderError(w, r, c.logger, verr)
			return
		}
		if err != nil {
			v.Error = wardwatch.ErrorMessage(err)
		}
		v.Import = &rep
		status := http.StatusOK
		if err != nil {
			status = statusOf(err)
		}
		c.renderAssets(w, r, status, v)
	})
}

// ---- users ----

type usersView struct {
	Users  []wardwatch.User
	Roles  []wardwatch.Role
	Self   int64
	Edit   wardwatch.User
	Error  string
	Notice string
	// CareUnits are the care units offered as scope checkboxes: those of
	// the zones, and any a user is still scoped to.
	CareUnits []string
}

// maxUserUnits bounds how many care units one user may be scoped to.
const maxUserUnits = 100

// formUnits reads the "units" checkboxes of a user form.
func formUnits(form url.Values) ([]string, error) {
	vs := form["units"]
	if len(vs) > maxUserUnits {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "Choose at most %d care units.", maxUserUnits)
	}
	return wardwatch.CheckCareUnits(vs)
}

var allRoles = []wardwatch.Role{wardwatch.RoleViewer, wardwatch.RoleNurse, wardwatch.RoleBiomed, wardwatch.RoleFacilities,
	wardwatch.RolePharmacy, wardwatch.RoleAdmin}

func (c *configAdmin) renderUsers(w http.ResponseWriter, r *http.Request, status int, edit wardwatch.User, msg, notice string) {
	us, err := c.admin.Users(r.Context())
	if err != nil {
		renderError(w, r, c.logger, fmt.Errorf("list users: %w", err))
		return
	}
	if edit.Role == "" {
		edit.Role = wardwatch.RoleNurse
	}
	_, units, err := zoneCareUnits(r.Context(), c.store)
	if err != nil {
		renderError(w, r, c.logger, err)
		return
	}
	for _, u := range append(us, edit) {
		for _, x := range u.Units {
			if !slices.Contains(units, x) {
				units = append(units, x)
			}
		}
	}
	slices.Sort(units)
	p := newPageMeta(r, "Users")
	p.Nav = "admin"
	render(w, r, c.logger, status, usersPage(p, usersView{Users: us, Roles: allRoles, Self: viewerFrom(r.Context()).User.ID,
		Edit: edit, Error: msg, Notice: notice, CareUnits: units}))
}

func (c *configAdmin) handleUsers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		notice := ""
		switch r.URL.Query().Get("done") {
		case "created":
			notice = "User created. Give them their password in person; they can use it at once."
		case "role":
			notice = "Role changed."
		case "units":
			notice = "Care units changed. They apply from the user's next page."
		case "password":
			notice = "Password set. The user was signed out everywhere and signs in with the new one."
		case "deleted":
			notice = "User deleted and signed out everywhere."
		}
		c.renderUsers(w, r, http.StatusOK, wardwatch.User{}, "", notice)
	})
}

// handleCreateUser adds a local account with a role and a password.
func (c *configAdmin) handleCreateUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, c.logger, err)
			return
		}
		u := wardwatch.User{Username: v["username"], Role: wardwatch.Role(v["role"])}
		if len(u.Username) > 64 || strings.ContainsAny(u.Username, " \t\r\n") {
			err = wardwatch.Errorf(wardwatch.EINVALID, "Usernames have at most 64 characters and no spaces.")
		}
		if err == nil {
			u.Units, err = formUnits(r.PostForm)
		}
		if err == nil {
			u.PasswordHash, err = auth.HashPassword(r.PostForm.Get("password"))
		}
		if err == nil {
			err = c.admin.CreateUser(ctx, &u)
		}
		if err != nil {
			if statusOf(err) >= 500 {
				renderError(w, r, c.logger, err)
				return
			}
			c.renderUsers(w, r, statusOf(err), u, wardwatch.ErrorMessage(err), "")
			return
		}
		c.audit.record(ctx, "create", "user", u.ID, nil, map[string]any{"username": u.Username, "role": string(u.Role), "units": u.Units}, "")
		http.Redirect(w, r, "/admin/users?done=created", http.StatusSeeOther)
	})
}

// handleUpdateUser changes a user's role or care units, or sets a new
// password, or deletes the user; admins cannot demote or delete
// themselves.
func (c *configAdmin) handleUpdateUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := pathID(r)
		if err != nil {
			renderError(w, r, c.logger, err)
			return
		}
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, c.logger, err)
			return
		}
		self := viewerFrom(ctx).User.ID == id
		var done string
		switch v["action"] {
		case "role":
			role := wardwatch.Role(v["role"])
			if self && role != wardwatch.RoleAdmin {
				err = wardwatch.Errorf(wardwatch.EINVALID, "You cannot remove your own admin role; ask another admin.")
			} else if err = c.admin.SetUserRole(ctx, id, role); err == nil {
				c.audit.record(ctx, "update", "user", id, nil, map[string]string{"role": string(role)}, "role changed")
				done = "role"
			}
		case "units":
			var units []string
			if units, err = formUnits(r.PostForm); err == nil {
				if err = c.admin.SetUserUnits(ctx, id, units); err == nil {
					c.audit.record(ctx, "update", "user", id, nil, map[string]any{"units": units}, "care units changed")
					done = "units"
				}
			}
		case "password":
			var hash string
			if hash, err = auth.HashPassword(r.PostForm.Get("password")); err == nil {
				if err = c.admin.SetPassword(ctx, id, hash); err == nil && !self {
					err = c.admin.DeleteUserSessions(ctx, id)
				}
				if err == nil {
					c.audit.record(ctx, "update", "user", id, nil, nil, "password set by an admin")
					done = "password"
				}
			}
		case "delete":
			if self {
				err = wardwatch.Errorf(wardwatch.EINVALID, "You cannot delete your own account.")
			} else if err = c.admin.DeleteUser(ctx, id); err == nil {
				c.audit.record(ctx, "delete", "user", id, nil, nil, "")
				done = "deleted"
			}
		default:
			err = wardwatch.Errorf(wardwatch.EINVALID, "Unknown action.")
		}
		if err != nil {
			if statusOf(err) >= 500 || statusOf(err) == http.StatusNotFound {
				renderError(w, r, c.logger, err)
				return
			}
			c.renderUsers(w, r, statusOf(err), wardwatch.User{}, wardwatch.ErrorMessage(err), "")
			return
		}
		http.Redirect(w, r, "/admin/users?done="+done, http.StatusSeeOther)
	})
}
