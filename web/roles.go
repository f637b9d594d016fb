package web

import (
	"log/slog"
	"net/http"

	"github.com/wardwatch/wardwatch"
)

// permission is something a page or action needs a role for.
type permission string

// Permissions. Every route in routes.go names one (or needs only a
// session), and roleCan is the one table that says who has which.
const (
	permViewMaps  permission = "view_maps"  // floor maps, asset locations
	permConfigure permission = "configure"  // floors, zones, gateways, tags, devices, users
	permSiteState permission = "site_state" // gateway and collector health
	permSetStatus permission = "set_status" // mark equipment available, in use, soiled, in repair
	permAlerts    permission = "alerts"     // read the alert inbox and alert details
	permAlertAct  permission = "alert_act"  // acknowledge, shelve, resolve (the Book checks each action's roles too)
	permRecords   permission = "records"    // read excursion records, daily logs, MKT reports and exports
	permSignOff   permission = "sign_off"   // sign off a daily min/max log, fill in an excursion record
)

// roleCan says which roles hold each permission.
var roleCan = map[permission][]wardwatch.Role{
	permViewMaps: {wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RolePharmacy,
		wardwatch.RoleBiomed, wardwatch.RoleNurse, wardwatch.RoleViewer},
	permConfigure: {wardwatch.RoleAdmin},
	permSiteState: {wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RoleBiomed},
	permSetStatus: {wardwatch.RoleAdmin, wardwatch.RoleNurse, wardwatch.RoleBiomed},
	permAlerts: {wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RolePharmacy,
		wardwatch.RoleBiomed, wardwatch.RoleNurse, wardwatch.RoleViewer},
	permAlertAct: {wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RolePharmacy,
		wardwatch.RoleBiomed, wardwatch.RoleNurse},
	permRecords: {wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RolePharmacy,
		wardwatch.RoleBiomed, wardwatch.RoleNurse, wardwatch.RoleViewer},
	permSignOff: {wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RolePharmacy, wardwatch.RoleNurse},
}

// can reports whether the viewer's role holds p.
func (v *viewer) can(p permission) bool {
	if v == nil {
		return false
	}
	for _, r := range roleCan[p] {
		if r == v.User.Role {
			return true
		}
	}
	return false
}

// errForbidden is the answer to a signed-in user without the role.
var errForbidden = wardwatch.Errorf(wardwatch.EFORBIDDEN, "Your role does not allow this. Ask an administrator if you need it.")

// requirePermission answers 403 unless the signed-in viewer holds p. It
// goes inside requireSession.
func requirePermission(logger *slog.Logger, p permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !viewerFrom(r.Context()).can(p) {
				respondError(w, r, logger, errForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// requireAPIPermission is requirePermission for /api/v1: the same roleCan
// table, with the refusal as a JSON error. It goes inside the token check.
func requireAPIPermission(logger *slog.Logger, p permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !viewerFrom(r.Context()).can(p) {
				jsonError(w, r, logger, errForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
