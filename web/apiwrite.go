package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/auth"
)

// Writes through the API run the admin pages' form→domain helpers
// (floorFromForm, zoneFromForm, gatewayFromForm, assetFromForm,
// modbusFromForm, snmpFromForm…) and the same store methods, so the rules
// live in one place. A JSON field is the form field of the same name;
// renamed maps the API's snake_case ID fields to the forms' names.

// apiForm reads a JSON body as form values, renaming API field names to
// the forms' (for example unit_id → unit).
func apiForm(w http.ResponseWriter, r *http.Request, fields []string, renamed map[string]string, big ...string) (map[string]string, error) {
	v, err := bodyForm(w, r, fields, big...)
	if err != nil {
		return nil, err
	}
	for from, to := range renamed {
		if s, ok := v[from]; ok {
			delete(v, from)
			v[to] = s
		}
	}
	return v, nil
}

func (s *apiServer) created(w http.ResponseWriter, r *http.Request, v any) {
	writeJSON(w, r, s.logger, http.StatusCreated, v)
}

func (s *apiServer) noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

func (s *apiServer) configChanged(ctx context.Context) {
	if s.cfg.ConfigChanged != nil {
		s.cfg.ConfigChanged(ctx)
	}
}

func (s *apiServer) devicesChanged(ctx context.Context) {
	if s.cfg.Collectors.Changed != nil {
		s.cfg.Collectors.Changed(ctx)
	}
}

// ---- floors, zones, gateways ----

var floorFields = []string{"name", "building", "level", "width_m", "height_m"}
var floorRenames = map[string]string{"width_m": "width", "height_m": "height"}

func (s *apiServer) handleSaveFloor() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, floorFields, floorRenames)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f, err := floorFromForm(v)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if r.PathValue("id") == "" {
			if err := s.cfg.Layout.CreateFloor(ctx, &f); err != nil {
				s.fail(w, r, err)
				return
			}
			s.audit.record(ctx, "create", "floor", f.ID, nil, f, "")
			s.configChanged(ctx)
			s.created(w, r, floorOut(f))
			return
		}
		if f.ID, err = apiPathID(r, "id", "floor"); err != nil {
			s.fail(w, r, err)
			return
		}
		old, err := s.cfg.Store.Floor(ctx, f.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.cfg.Layout.UpdateFloor(ctx, f); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "update", "floor", f.ID, old, f, "")
		s.configChanged(ctx)
		s.ok(w, r, floorOut(f))
	})
}

var zoneFields = []string{"floor_id", "name", "kind", "care_unit", "polygon"}

// findZone returns the stored zone id.
func (s *apiServer) findZone(ctx context.Context, id int64) (wardwatch.Zone, error) {
	all := func(ctx context.Context) ([]wardwatch.Zone, error) { return s.cfg.Store.Zones(ctx, 0) }
	return findByID(ctx, "zone", all, func(z wardwatch.Zone) int64 { return z.ID }, id)
}

func (s *apiServer) handleSaveZone() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, zoneFields, nil, "polygon")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		z, err := zoneFromForm(v)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if r.PathValue("id") == "" {
			if z.FloorID = formID(v, "floor_id"); z.FloorID == 0 {
				s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give the zone's floor_id."))
				return
			}
			if err := s.cfg.Layout.CreateZone(ctx, &z); err != nil {
				s.fail(w, r, err)
				return
			}
			s.audit.record(ctx, "create", "zone", z.ID, nil, z, "")
			s.configChanged(ctx)
			s.created(w, r, zoneOut(z))
			return
		}
		if z.ID, err = apiPathID(r, "id", "zone"); err != nil {
			s.fail(w, r, err)
			return
		}
		old, err := s.findZone(ctx, z.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		z.FloorID = old.FloorID
		if err := s.cfg.Layout.UpdateZone(ctx, z); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "update", "zone", z.ID, old, z, "")
		s.configChanged(ctx)
		s.ok(w, r, zoneOut(z))
	})
}

func (s *apiServer) handleDeleteZone() http.Handler {
	return s.handleDelete("zone", "zone", func(ctx context.Context, id int64) (any, error) { return s.findZone(ctx, id) },
		s.cfg.Layout.DeleteZone, s.configChanged)
}

var gatewayFields = []string{"floor_id", "key", "name", "x", "y", "z", "rssi_at_1m", "path_loss", "rx_offset", "anchor_zone_id"}
var gatewayRenames = map[string]string{"anchor_zone_id": "anchor"}

func (s *apiServer) findGateway(ctx context.Context, id int64) (wardwatch.Gateway, error) {
	return findByID(ctx, "gateway", s.cfg.Store.Gateways, func(g wardwatch.Gateway) int64 { return g.ID }, id)
}

// handleSaveGateway places a gateway (answering its push token once, as
// the floor editor shows it) or updates one (floor_id may move it).
func (s *apiServer) handleSaveGateway() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, gatewayFields, gatewayRenames)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		g, err := gatewayFromForm(v)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		g.FloorID = formID(v, "floor_id")
		if r.PathValue("id") == "" {
			if g.FloorID == 0 {
				s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give the gateway's floor_id."))
				return
			}
			if err := s.cfg.Layout.CreateGateway(ctx, &g); err != nil {
				s.fail(w, r, err)
				return
			}
			s.audit.record(ctx, "create", "gateway", g.ID, nil, g, "")
			token, err := rotateGatewayToken(ctx, s.cfg.Layout, s.audit, g.ID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			g.TokenHash = auth.HashToken(token)
			s.configChanged(ctx)
			out := gatewayOut(g)
			out.PushToken, out.PushTokenWarning = token, "The push token is shown only in this answer."
			s.created(w, r, out)
			return
		}
		if g.ID, err = apiPathID(r, "id", "gateway"); err != nil {
			s.fail(w, r, err)
			return
		}
		old, err := s.findGateway(ctx, g.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if g.FloorID == 0 {
			g.FloorID = old.FloorID
		}
		if err := s.cfg.Layout.UpdateGateway(ctx, g); err != nil {
			s.fail(w, r, err)
			return
		}
		g.TokenHash = old.TokenHash
		s.audit.record(ctx, "update", "gateway", g.ID, old, g, "")
		s.configChanged(ctx)
		s.ok(w, r, gatewayOut(g))
	})
}

func (s *apiServer) handleDeleteGateway() http.Handler {
	return s.handleDelete("gateway", "gateway", func(ctx context.Context, id int64) (any, error) { return s.findGateway(ctx, id) },
		s.cfg.Layout.DeleteGateway, s.configChanged)
}

// ---- assets and tags ----

var assetFields = []string{"name", "kind", "status", "asset_tag", "serial", "pm_due", "tag", "udi", "manufacturer", "model"}

func (s *apiServer) handleSaveAsset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, assetFields, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		a, err := assetFromForm(v, s.cfg.Location)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		st, err := loadSite(ctx, s.cfg.Store)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if r.PathValue("id") == "" {
			if err := s.cfg.Admin.CreateAsset(ctx, &a); err != nil {
				s.fail(w, r, err)
				return
			}
			s.audit.record(ctx, "create", "asset", a.ID, nil, a, "")
			if tag := v["tag"]; tag != "" {
				t := wardwatch.Tag{ID: tag, AssetID: a.ID}
				if err := s.cfg.Admin.CreateTag(ctx, t); err != nil {
					s.configChanged(ctx)
					s.fail(w, r, err) // the asset exists; say why its tag does not
					return
				}
				s.audit.record(ctx, "create", "tag", tag, nil, t, "")
			}
			s.configChanged(ctx)
			stored, err := s.cfg.Store.Asset(ctx, a.ID)
			if err != nil {
				stored = a
			}
			s.created(w, r, s.assetOut(stored, latestPositions(s.cfg.Live, st.floors), st, s.cfg.Now()))
			return
		}
		if v["tag"] != "" {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Add tags with POST /api/v1/tags."))
			return
		}
		if a.ID, err = apiPathID(r, "id", "asset"); err != nil {
			s.fail(w, r, err)
			return
		}
		old, err := s.cfg.Store.Asset(ctx, a.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.cfg.Admin.UpdateAsset(ctx, a); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "update", "asset", a.ID, old, a, "")
		s.configChanged(ctx)
		stored, err := s.cfg.Store.Asset(ctx, a.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, s.assetOut(stored, latestPositions(s.cfg.Live, st.floors), st, s.cfg.Now()))
	})
}

func (s *apiServer) handleDeleteAsset() http.Handler {
	return s.handleDelete("asset", "asset", func(ctx context.Context, id int64) (any, error) { return s.cfg.Store.Asset(ctx, id) },
		s.cfg.Admin.DeleteAsset, s.configChanged)
}

func (s *apiServer) handleAddTag() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, []string{"id", "asset_id"}, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		t := wardwatch.Tag{ID: v["id"], AssetID: formID(v, "asset_id")}
		if t.AssetID == 0 {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give the tag's asset_id."))
			return
		}
		if err := s.cfg.Admin.CreateTag(ctx, t); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "create", "tag", t.ID, nil, t, "")
		s.configChanged(ctx)
		s.created(w, r, apiTagJSON{ID: t.ID, AssetID: t.AssetID})
	})
}

func (s *apiServer) handleRemoveTag() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		tag := r.PathValue("tag")
		if tag == "" || len(tag) > maxFieldBytes {
			s.fail(w, r, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such tag."))
			return
		}
		if err := s.cfg.Admin.DeleteTag(ctx, tag); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "delete", "tag", tag, map[string]string{"tag": tag}, nil, "")
		s.configChanged(ctx)
		s.noContent(w)
	})
}

// ---- units, Modbus devices, SNMP targets ----

var unitFields = []string{"name", "profile", "zone_id"}

func (s *apiServer) handleSaveUnit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, unitFields, map[string]string{"zone_id": "zone"})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		u := wardwatch.MonitoredUnit{Name: v["name"], Profile: wardwatch.UnitProfile(v["profile"]), ZoneID: formID(v, "zone")}
		if r.PathValue("id") == "" {
			if err := s.cfg.Devices.CreateUnit(ctx, &u); err != nil {
				s.fail(w, r, err)
				return
			}
			s.audit.record(ctx, "create", "unit", u.ID, nil, u, "")
			s.devicesChanged(ctx)
			s.created(w, r, unitOut(u))
			return
		}
		if u.ID, err = apiPathID(r, "id", "monitored unit"); err != nil {
			s.fail(w, r, err)
			return
		}
		old, err := s.unit(ctx, u.ID)
		if err == nil {
			err = s.cfg.Devices.UpdateUnit(ctx, u)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "update", "unit", u.ID, old, u, "")
		s.devicesChanged(ctx)
		s.ok(w, r, unitOut(u))
	})
}

// handleDelete deletes the {id} thing: old reads it for the audit log (and
// answers ENOTFOUND), del deletes it, changed tells whoever must follow.
func (s *apiServer) handleDelete(subject, what string, old func(ctx context.Context, id int64) (any, error), del func(ctx context.Context, id int64) error, changed func(ctx context.Context)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", what)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		before, err := old(ctx, id)
		if err == nil {
			err = del(ctx, id)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "delete", subject, id, before, nil, "")
		changed(ctx)
		s.noContent(w)
	})
}

func (s *apiServer) handleDeleteUnit() http.Handler {
	return s.handleDelete("unit", "monitored unit", func(ctx context.Context, id int64) (any, error) { return s.unit(ctx, id) },
		s.cfg.Devices.DeleteUnit, s.devicesChanged)
}

var modbusFields = []string{"name", "unit_id", "transport", "address", "baud", "data_bits", "parity", "stop_bits",
	"slave_id", "profile", "interval", "timeout", "enabled", "calibration_due"}

func (s *apiServer) handleSaveModbus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
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
		if r.PathValue("id") == "" {
			if err := s.cfg.Devices.CreateModbusDevice(ctx, &d); err != nil {
				s.fail(w, r, err)
				return
			}
			s.audit.record(ctx, "create", "modbus_device", d.ID, nil, d, "")
			s.devicesChanged(ctx)
			s.created(w, r, modbusOut(d))
			return
		}
		if d.ID, err = apiPathID(r, "id", "Modbus device"); err != nil {
			s.fail(w, r, err)
			return
		}
		old, err := s.cfg.Devices.ModbusDevice(ctx, d.ID)
		if err == nil {
			err = s.cfg.Devices.UpdateModbusDevice(ctx, d)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "update", "modbus_device", d.ID, old, d, "")
		s.devicesChanged(ctx)
		s.ok(w, r, modbusOut(d))
	})
}

func (s *apiServer) handleDeleteModbus() http.Handler {
	return s.handleDelete("modbus_device", "Modbus device", func(ctx context.Context, id int64) (any, error) {
		return s.cfg.Devices.ModbusDevice(ctx, id)
	}, s.cfg.Devices.DeleteModbusDevice, s.devicesChanged)
}

// snmpFields: community, auth_password and priv_password are write-only
// (never answered); left out or empty on an update they keep the stored
// secret, as on the page.
var snmpFields = []string{"name", "address", "version", "community", "user", "auth_protocol", "auth_password",
	"priv_protocol", "priv_password", "profile", "interval", "timeout", "retries", "enabled", "insecure_ok"}

func (s *apiServer) handleSaveSNMP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, snmpFields, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		t, err := snmpFromForm(v)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		action := "create"
		var old any
		if r.PathValue("id") == "" {
			err = s.cfg.Devices.CreateSNMPTarget(ctx, &t)
		} else if t.ID, err = apiPathID(r, "id", "SNMP target"); err == nil {
			action = "update"
			var prev wardwatch.SNMPTarget
			if prev, err = s.cfg.Devices.SNMPTarget(ctx, t.ID); err == nil {
				old = auditSNMP(prev)
				err = s.cfg.Devices.UpdateSNMPTarget(ctx, t)
			}
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		stored, err := s.cfg.Devices.SNMPTarget(ctx, t.ID)
		if err != nil {
			stored = t
		}
		s.audit.record(ctx, action, "snmp_target", t.ID, old, auditSNMP(stored), "")
		s.devicesChanged(ctx)
		if action == "create" {
			s.created(w, r, snmpOut(stored))
		} else {
			s.ok(w, r, snmpOut(stored))
		}
	})
}

func (s *apiServer) handleDeleteSNMP() http.Handler {
	return s.handleDelete("snmp_target", "SNMP target", func(ctx context.Context, id int64) (any, error) {
		t, err := s.cfg.Devices.SNMPTarget(ctx, id)
		return auditSNMP(t), err
	}, s.cfg.Devices.DeleteSNMPTarget, s.devicesChanged)
}

// ---- alert rules ----

func (s *apiServer) alertsChanged(ctx context.Context) {
	if s.cfg.AlertsChanged != nil {
		s.cfg.AlertsChanged(ctx)
	}
}

// handleSaveRules replaces a unit's rule set with the JSON array of the
// body (alerts.ParseRules: the stored format); DELETE goes back to the
// profile's rules.
func (s *apiServer) handleSaveRules() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "monitored unit")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, alerts.MaxRulesSize+1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			s.fail(w, r, wardwatch.Errorf(wardwatch.ETOOLARGE, "A rule set is limited to %d bytes.", alerts.MaxRulesSize))
			return
		}
		u, err := s.unit(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rules, err := alerts.ParseRules(body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if len(rules) == 0 {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "A unit needs at least one rule; DELETE the rules to go back to the profile's."))
			return
		}
		old, err := s.unitRules(ctx, u)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.cfg.AlertSettings.SetUnitRules(ctx, u.ID, rules); err != nil {
			s.fail(w, r, fmt.Errorf("save rules of unit %d: %w", u.ID, err))
			return
		}
		changes := ruleEditLines(alerts.DiffRules(old.Rules, rules))
		s.audit.record(ctx, "update", "unit_rules", u.ID, old.Rules, rules, settingsClip(strings.Join(changes, "; "), 2000))
		s.alertsChanged(ctx)
		out, err := s.unitRules(ctx, u)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, out)
	})
}

func (s *apiServer) handleResetRules() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "monitored unit")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		u, err := s.unit(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		old, err := s.unitRules(ctx, u)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.cfg.AlertSettings.SetUnitRules(ctx, u.ID, nil); err != nil {
			s.fail(w, r, fmt.Errorf("reset rules of unit %d: %w", u.ID, err))
			return
		}
		if old.Edited {
			p, _ := alerts.ProfileFor(u.Profile, alerts.ProfileOptions{})
			reason := "Reset to the profile's rules: " + strings.Join(ruleEditLines(alerts.DiffRules(old.Rules, p.Rules)), "; ")
			s.audit.record(ctx, "reset", "unit_rules", u.ID, old.Rules, nil, settingsClip(reason, 2000))
		}
		s.alertsChanged(ctx)
		out, err := s.unitRules(ctx, u)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, out)
	})
}

// ---- users ----

func (s *apiServer) handleCreateUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, []string{"username", "role", "password", "units"}, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		u := wardwatch.User{Username: v["username"], Role: wardwatch.Role(v["role"])}
		if len(u.Username) > 64 || strings.ContainsAny(u.Username, " \t\r\n") {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Usernames have at most 64 characters and no spaces."))
			return
		}
		if u.Units, err = apiUnits(v["units"]); err != nil {
			s.fail(w, r, err)
			return
		}
		if u.PasswordHash, err = auth.HashPassword(v["password"]); err == nil {
			err = s.cfg.Admin.CreateUser(ctx, &u)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "create", "user", u.ID, nil, map[string]any{"username": u.Username, "role": string(u.Role), "units": u.Units}, "")
		s.created(w, r, userOut(u))
	})
}

// apiUnits reads a user's "units" field: a JSON array of care unit names
// ("" or absent: none).
func apiUnits(raw string) ([]string, error) {
	if raw == "" {
		return nil, nil
	}
	var units []string
	if err := json.Unmarshal([]byte(raw), &units); err != nil {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "The field \"units\" must be an array of care unit names.")
	}
	if len(units) > maxUserUnits {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "Give at most %d care units.", maxUserUnits)
	}
	return wardwatch.CheckCareUnits(units)
}

// handleUpdateUser changes a user's role and/or care units ("units": []
// for the whole site) and/or sets a new password (signing the user out
// everywhere).
func (s *apiServer) handleUpdateUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "user")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := apiForm(w, r, []string{"role", "password", "units"}, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if v["role"] == "" && v["password"] == "" && v["units"] == "" {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give a role, care units or a password to change."))
			return
		}
		units, err := apiUnits(v["units"])
		if err != nil {
			s.fail(w, r, err)
			return
		}
		u, err := s.cfg.Store.User(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var hash string
		if v["password"] != "" {
			if hash, err = auth.HashPassword(v["password"]); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if role := wardwatch.Role(v["role"]); role != "" {
			if err := s.cfg.Admin.SetUserRole(ctx, id, role); err != nil {
				s.fail(w, r, err)
				return
			}
			s.audit.record(ctx, "update", "user", id, nil, map[string]string{"role": string(role)}, "role changed")
			u.Role = role
		}
		if v["units"] != "" {
			if err := s.cfg.Admin.SetUserUnits(ctx, id, units); err != nil {
				s.fail(w, r, err)
				return
			}
			s.audit.record(ctx, "update", "user", id, nil, map[string]any{"units": units}, "care units changed")
			u.Units = units
		}
		if hash != "" {
			err := s.cfg.Admin.SetPassword(ctx, id, hash)
			if err == nil {
				err = s.cfg.Admin.DeleteUserSessions(ctx, id)
			}
			if err != nil {
				s.fail(w, r, err)
				return
			}
			s.audit.record(ctx, "update", "user", id, nil, nil, "password set through the API")
		}
		s.ok(w, r, userOut(u))
	})
}
