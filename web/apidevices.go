package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/auth"
)

// RFID readers, HTTP poll targets, wall displays (kiosks), device
// profiles, the daily min/max log with its sign-offs, the MKT report and
// PAR stock through the API. Each handler runs the page's own parsing
// (readerFromForm, the poll form's fields, the profile check, parseDay,
// parseDailyParams, buildDaily), the same store methods, audit lines and
// change hooks as the page it mirrors (readers.go, kiosk.go, devices.go,
// records.go, alerts.go); routes.go gives each the page's permission.

// apiParams reads the query string of a single (unpaged) resource that
// takes only the named parameters: unknown, repeated, paging and bad
// values are EINVALID, as on lists.
func apiParams(raw string, allowed ...string) (url.Values, error) {
	q, err := parseListQuery(raw, allowed...)
	if err != nil {
		return nil, err
	}
	vals, _ := url.ParseQuery(raw) // parseListQuery has read it
	for _, k := range []string{"limit", "cursor", "offset"} {
		if vals.Has(k) {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "%s: this resource is not a list.", k)
		}
	}
	out := url.Values{}
	for k, v := range q.Filters {
		out.Set(k, v)
	}
	return out, nil
}

// apiText trims a free-text body field and bounds it as the admin forms
// do (maxFieldBytes).
func apiText(name, s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxFieldBytes {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "The field %q is too long.", name)
	}
	return s, nil
}

// ---- RFID readers ----

// apiReaderPorts are the antenna ports the readers page edits.
const apiReaderPorts = 4

type apiAntennaJSON struct {
	Port      int   `json:"port"`
	ZoneID    int64 `json:"zone_id"`
	GatewayID int64 `json:"gateway_id,omitempty"` // the anchor gateway standing for it; set by WardWatch
}

type apiPortalJSON struct {
	Inside        []int `json:"inside"`
	Outside       []int `json:"outside"`
	InsideZoneID  int64 `json:"inside_zone_id,omitempty"`  // the inside antenna's zone; set by WardWatch
	OutsideZoneID int64 `json:"outside_zone_id,omitempty"` // the outside antenna's zone; set by WardWatch
}

// apiReaderJSON is an RFID reader without its push token's hash.
type apiReaderJSON struct {
	ID               int64            `json:"id"`
	Key              string           `json:"key"`
	Name             string           `json:"name"`
	Format           string           `json:"format"`
	HasPushToken     bool             `json:"has_push_token"`
	Antennas         []apiAntennaJSON `json:"antennas"`
	Portal           *apiPortalJSON   `json:"portal"`
	PushToken        string           `json:"push_token,omitempty"` // only in the answer that issues it
	PushTokenWarning string           `json:"push_token_note,omitempty"`
}

func readerOut(rd wardwatch.RFIDReader) apiReaderJSON {
	out := apiReaderJSON{ID: rd.ID, Key: rd.Key, Name: rd.Name, Format: rd.Format, HasPushToken: len(rd.TokenHash) > 0,
		Antennas: make([]apiAntennaJSON, 0, len(rd.Antennas))}
	for _, a := range rd.Antennas {
		out.Antennas = append(out.Antennas, apiAntennaJSON{Port: a.Port, ZoneID: a.ZoneID, GatewayID: a.GatewayID})
	}
	slices.SortFunc(out.Antennas, func(a, b apiAntennaJSON) int { return cmp.Compare(a.Port, b.Port) })
	if p := rd.Portal; p != nil {
		out.Portal = &apiPortalJSON{Inside: slices.Clone(p.Inside), Outside: slices.Clone(p.Outside),
			InsideZoneID: p.InsideZoneID, OutsideZoneID: p.OutsideZoneID}
		if out.Portal.Inside == nil {
			out.Portal.Inside = []int{}
		}
		if out.Portal.Outside == nil {
			out.Portal.Outside = []int{}
		}
	}
	return out
}

// apiReaderBody is the body of POST /api/v1/rfid-readers and PUT
// /api/v1/rfid-readers/{id}: the whole reader, as the page's form posts
// it. The read-only fields of an answer (id, has_push_token, gateway_id,
// the portal's zone IDs) may be sent back: the IDs must then agree.
type apiReaderBody struct {
	ID           int64            `json:"id"`
	Key          string           `json:"key"`
	Name         string           `json:"name"`
	Format       string           `json:"format"`
	HasPushToken *bool            `json:"has_push_token"`
	Antennas     []apiAntennaJSON `json:"antennas"`
	Portal       *apiPortalJSON   `json:"portal"`
}

// form turns the body into the readers page's form values (key, name,
// format, antenna_N for ports 1–4, door, inside, outside), so
// readerFromForm and the store check it as they check the page. The page
// edits ports 1 to 4 and one inside and one outside antenna.
func (b apiReaderBody) form() (map[string]string, error) {
	v := map[string]string{}
	var err error
	for name, s := range map[string]string{"key": b.Key, "name": b.Name, "format": b.Format} {
		if v[name], err = apiText(name, s); err != nil {
			return nil, err
		}
	}
	if len(b.Antennas) == 0 {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "A reader needs 1 to %d antennas, each watching a zone.", apiReaderPorts)
	}
	for _, a := range b.Antennas {
		key := "antenna_" + strconv.Itoa(a.Port)
		switch {
		case a.Port < 1 || a.Port > apiReaderPorts:
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Antenna ports are 1 to %d.", apiReaderPorts)
		case v[key] != "":
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Antenna ports must be distinct.")
		case a.ZoneID <= 0:
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Antenna %d needs a zone_id.", a.Port)
		}
		v[key] = strconv.FormatInt(a.ZoneID, 10)
	}
	if p := b.Portal; p != nil {
		if len(p.Inside) != 1 || len(p.Outside) != 1 {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "A door reader has one inside and one outside antenna port.")
		}
		v["door"], v["inside"], v["outside"] = "on", strconv.Itoa(p.Inside[0]), strconv.Itoa(p.Outside[0])
	}
	return v, nil
}

// checkDerived refuses read-only IDs sent back that disagree with what
// WardWatch derives for rd.
func (b apiReaderBody) checkDerived(rd wardwatch.RFIDReader, id int64) error {
	if b.ID != 0 && b.ID != id {
		return wardwatch.Errorf(wardwatch.EINVALID, "The body's id is not the reader's.")
	}
	if p := b.Portal; p != nil && rd.Portal != nil {
		if (p.InsideZoneID != 0 && p.InsideZoneID != rd.Portal.InsideZoneID) ||
			(p.OutsideZoneID != 0 && p.OutsideZoneID != rd.Portal.OutsideZoneID) {
			return wardwatch.Errorf(wardwatch.EINVALID, "A door's inside_zone_id and outside_zone_id are the zones of its inside and outside antennas; leave them out.")
		}
	}
	return nil
}

// findReader returns the stored reader id (ENOTFOUND).
func (s *apiServer) findReader(ctx context.Context, id int64) (wardwatch.RFIDReader, error) {
	return findByID(ctx, "RFID reader", s.cfg.Readers.RFIDReaders, func(rd wardwatch.RFIDReader) int64 { return rd.ID }, id)
}

func (s *apiServer) handleReaders() http.Handler {
	return apiListAll(s, "RFID readers", s.cfg.Readers.RFIDReaders, readerOut, func(r apiReaderJSON) int64 { return r.ID })
}

func (s *apiServer) handleReader() http.Handler {
	return apiGetByID(s, "RFID reader", s.findReader, readerOut)
}

const apiReaderTokenNote = "The push token is shown only in this answer."

// handleSaveReader creates a reader (answering its push token once, as
// the page shows it) or replaces one.
func (s *apiServer) handleSaveReader() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var body apiReaderBody
		if err := decodeBody(w, r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := body.form()
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rd := readerFromForm(v)
		if r.PathValue("id") == "" {
			if err := body.checkDerived(rd, 0); err != nil {
				s.fail(w, r, err)
				return
			}
			if body.ID != 0 {
				s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "A new reader gets its id from WardWatch; leave id out."))
				return
			}
			if err := s.cfg.Readers.SaveRFIDReader(ctx, &rd); err != nil {
				s.fail(w, r, err)
				return
			}
			s.audit.record(ctx, "create", "rfid_reader", rd.ID, nil, rd, "")
			s.configChanged(ctx)
			token, err := rotateReaderToken(ctx, s.cfg.Readers, s.audit, rd.ID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			stored, err := s.findReader(ctx, rd.ID)
			if err != nil {
				stored = rd
				stored.TokenHash = auth.HashToken(token)
			}
			out := readerOut(stored)
			out.PushToken, out.PushTokenWarning = token, apiReaderTokenNote
			s.created(w, r, out)
			return
		}
		id, err := apiPathID(r, "id", "RFID reader")
		if err == nil {
			err = body.checkDerived(rd, id)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		old, err := s.findReader(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rd.ID = id
		if err := s.cfg.Readers.SaveRFIDReader(ctx, &rd); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "update", "rfid_reader", rd.ID, old, rd, "")
		s.configChanged(ctx)
		stored, err := s.findReader(ctx, rd.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, readerOut(stored))
	})
}

// handleReaderToken replaces a reader's push token (the page's "new
// token" action); the old one stops working at once.
func (s *apiServer) handleReaderToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "RFID reader")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rd, err := s.findReader(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		token, err := rotateReaderToken(ctx, s.cfg.Readers, s.audit, rd.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rd.TokenHash = auth.HashToken(token)
		out := readerOut(rd)
		out.PushToken, out.PushTokenWarning = token, apiReaderTokenNote
		s.ok(w, r, out)
	})
}

func (s *apiServer) handleDeleteReader() http.Handler {
	return s.handleDelete("rfid_reader", "RFID reader", func(ctx context.Context, id int64) (any, error) { return s.findReader(ctx, id) },
		s.cfg.Readers.DeleteRFIDReader, s.configChanged)
}

// ---- HTTP poll targets ----

// apiPollJSON is a poll target without its Authorization header: only
// whether one is set.
type apiPollJSON struct {
	ID            int64                   `json:"id"`
	Name          string                  `json:"name"`
	URL           string                  `json:"url"`
	Source        string                  `json:"source"`
	SourceKey     string                  `json:"source_key"`
	Format        string                  `json:"format"`
	Interval      string                  `json:"interval"`
	Timeout       string                  `json:"timeout"`
	Enabled       bool                    `json:"enabled"`
	HasAuthHeader bool                    `json:"has_auth_header"`
	Status        *apiCollectorStatusJSON `json:"status"` // null: not polled yet (or no status source)
}

// apiCollectorStatusJSON is a polled target's state, as the page shows it.
type apiCollectorStatusJSON struct {
	Online    bool    `json:"online"`
	LastOK    *string `json:"last_ok"`
	LastError string  `json:"last_error"`
	Failures  int     `json:"failures"`
	Detail    string  `json:"detail"`
}

func (s *apiServer) pollOut(p wardwatch.PollTarget, status map[string]CollectorStatus) apiPollJSON {
	out := apiPollJSON{ID: p.ID, Name: p.Name, URL: p.URL, Source: p.Source, SourceKey: p.Key, Format: p.Format,
		Interval: p.Interval.String(), Timeout: p.Timeout.String(), Enabled: p.Enabled, HasAuthHeader: p.AuthHeader != ""}
	if st, ok := status[p.Name]; ok {
		out.Status = &apiCollectorStatusJSON{Online: st.Online, LastOK: apiTime(st.LastOK), LastError: st.LastError,
			Failures: st.Failures, Detail: st.Detail}
	}
	return out
}

func (s *apiServer) pollStatus() map[string]CollectorStatus {
	if s.cfg.PollStatus == nil {
		return nil
	}
	return s.cfg.PollStatus()
}

// pollFields are the poll form's fields. auth_header is write-only:
// left out (or empty) on an update it keeps the stored one; clear_auth
// removes it.
var pollFields = []string{"name", "url", "source", "source_key", "format", "interval", "timeout", "auth_header", "clear_auth", "enabled"}

// findPoll returns the stored poll target id (ENOTFOUND).
func (s *apiServer) findPoll(ctx context.Context, id int64) (wardwatch.PollTarget, error) {
	return findByID(ctx, "poll target", s.cfg.Readers.PollTargets, func(p wardwatch.PollTarget) int64 { return p.ID }, id)
}

// auditPoll is p as the audit log keeps it: without its secret.
func auditPoll(p wardwatch.PollTarget) wardwatch.PollTarget {
	p.AuthHeader = ""
	return p
}

func (s *apiServer) handlePolls() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "source")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ps, err := s.cfg.Readers.PollTargets(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("list poll targets: %w", err))
			return
		}
		status := s.pollStatus()
		out := make([]apiPollJSON, 0, len(ps))
		for _, p := range ps {
			if src := q.Filters["source"]; src == "" || p.Source == src {
				out = append(out, s.pollOut(p, status))
			}
		}
		slices.SortFunc(out, func(a, b apiPollJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

func (s *apiServer) handlePoll() http.Handler {
	return apiGetByID(s, "poll target", s.findPoll, func(p wardwatch.PollTarget) apiPollJSON { return s.pollOut(p, s.pollStatus()) })
}

// handleSavePoll creates or updates a poll target with the page's fields.
func (s *apiServer) handleSavePoll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, pollFields, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p, clearAuth, err := pollFromForm(v)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		action := "create"
		var old any
		if r.PathValue("id") != "" {
			action = "update"
			if p.ID, err = apiPathID(r, "id", "poll target"); err != nil {
				s.fail(w, r, err)
				return
			}
			prev, err := s.findPoll(ctx, p.ID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			old = auditPoll(prev)
		}
		if err := s.cfg.Readers.SavePollTarget(ctx, &p, clearAuth); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, action, "poll_target", p.ID, old, auditPoll(p), "")
		s.configChanged(ctx)
		stored, err := s.findPoll(ctx, p.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := s.pollOut(stored, s.pollStatus())
		if action == "create" {
			s.created(w, r, out)
			return
		}
		s.ok(w, r, out)
	})
}

func (s *apiServer) handleDeletePoll() http.Handler {
	return s.handleDelete("poll_target", "poll target", func(ctx context.Context, id int64) (any, error) {
		p, err := s.findPoll(ctx, id)
		return auditPoll(p), err
	}, s.cfg.Readers.DeletePollTarget, s.configChanged)
}

// ---- wall displays (kiosks) ----

// apiKioskJSON is a wall display's read-only link, without its token
// except in the answer that creates it.
type apiKioskJSON struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	FloorID   int64   `json:"floor_id"` // 0: the floor list
	CreatedAt *string `json:"created_at"`
	Link      string  `json:"link,omitempty"` // only in the answer that creates it
	LinkNote  string  `json:"link_note,omitempty"`
}

func kioskOut(k wardwatch.KioskToken) apiKioskJSON {
	return apiKioskJSON{ID: k.ID, Name: k.Name, FloorID: k.FloorID, CreatedAt: apiTime(k.CreatedAt)}
}

func (s *apiServer) handleKiosks() http.Handler {
	return apiListAll(s, "wall displays", s.cfg.Kiosks.KioskTokens, kioskOut, func(k apiKioskJSON) int64 { return k.ID })
}

// handleCreateKiosk makes a display link (answered once), as the page.
func (s *apiServer) handleCreateKiosk() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, []string{"name", "floor_id"}, map[string]string{"floor_id": "floor"})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if f := v["floor"]; f != "" && formID(v, "floor") == 0 {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "floor_id must be a floor's ID (or left out for the floor list)."))
			return
		}
		token, err := auth.NewToken()
		if err != nil {
			s.fail(w, r, fmt.Errorf("new kiosk token: %w", err))
			return
		}
		k := wardwatch.KioskToken{Name: v["name"], FloorID: formID(v, "floor"), TokenHash: auth.HashToken(token)}
		if err := s.cfg.Kiosks.CreateKioskToken(ctx, &k); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "create", "kiosk", k.ID, nil, map[string]any{"name": k.Name, "floor": k.FloorID}, "")
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		out := kioskOut(k)
		out.Link = scheme + "://" + r.Host + "/kiosk/" + token
		out.LinkNote = "The display link is shown only in this answer; open it once on the display."
		s.created(w, r, out)
	})
}

// handleDeleteKiosk revokes a display link at once.
func (s *apiServer) handleDeleteKiosk() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "wall display")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ks, err := s.cfg.Kiosks.KioskTokens(ctx)
		if err != nil {
			s.fail(w, r, fmt.Errorf("list kiosk tokens: %w", err))
			return
		}
		i := slices.IndexFunc(ks, func(k wardwatch.KioskToken) bool { return k.ID == id })
		if i < 0 {
			s.fail(w, r, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such wall display."))
			return
		}
		if err := s.cfg.Kiosks.DeleteKioskToken(ctx, id); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "revoke", "kiosk", id, map[string]any{"name": ks[i].Name, "floor": ks[i].FloorID}, nil, "")
		s.noContent(w)
	})
}

// ---- device profiles ----

// Profile kinds: Modbus register maps and SNMP pump profiles.
var apiProfileKinds = []string{"modbus", "snmp"}

// apiMaxProfileName bounds a profile name (the store's limit).
const apiMaxProfileName = 100

// apiProfileJSON is a device profile; Source, its YAML, is left out of
// lists.
type apiProfileJSON struct {
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Builtin     bool   `json:"builtin"`
	Source      string `json:"source,omitempty"`
}

// apiProfileBody is the JSON form of a profile PUT: its YAML as a string.
type apiProfileBody struct {
	Source string `json:"source"`
}

// profileInfos lists the profiles of kind as the profiles page does.
func (s *apiServer) profileInfos(kind string) []ProfileInfo {
	var list func() []ProfileInfo
	switch kind {
	case "modbus":
		list = s.cfg.Collectors.ModbusProfiles
	case "snmp":
		list = s.cfg.Collectors.SNMPProfiles
	}
	if list == nil {
		return nil
	}
	return list()
}

// profilePath reads {kind} and {name}; ENOTFOUND for a kind that is not
// modbus or snmp or a name no profile can have.
func profilePath(r *http.Request) (kind, name string, err error) {
	kind, name = r.PathValue("kind"), r.PathValue("name")
	if !slices.Contains(apiProfileKinds, kind) {
		return "", "", wardwatch.Errorf(wardwatch.ENOTFOUND, "Profiles are of kind modbus or snmp.")
	}
	if name == "" || len(name) > apiMaxProfileName || !utf8.ValidString(name) {
		return "", "", wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such profile.")
	}
	return kind, name, nil
}

// findProfile returns the profile of kind named name (ENOTFOUND).
func (s *apiServer) findProfile(kind, name string) (ProfileInfo, error) {
	for _, p := range s.profileInfos(kind) {
		if p.Name == name {
			return p, nil
		}
	}
	return ProfileInfo{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no %s profile named %q.", kind, name)
}

func (s *apiServer) handleProfiles() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "kind", "builtin")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		kinds := apiProfileKinds
		if k := q.Filters["kind"]; k != "" {
			if !slices.Contains(apiProfileKinds, k) {
				s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "kind must be modbus or snmp."))
				return
			}
			kinds = []string{k}
		}
		builtin := q.Filters["builtin"]
		if builtin != "" && builtin != "true" && builtin != "false" {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "builtin must be true or false."))
			return
		}
		out := []apiProfileJSON{}
		for _, k := range kinds {
			for _, p := range s.profileInfos(k) {
				if builtin == "" || strconv.FormatBool(p.Builtin) == builtin {
					out = append(out, apiProfileJSON{Kind: k, Name: p.Name, Description: p.Description, Builtin: p.Builtin})
				}
			}
		}
		slices.SortFunc(out, func(a, b apiProfileJSON) int {
			return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Name, b.Name))
		})
		listOf(s, w, r, q, out)
	})
}

// handleProfile answers one profile with its YAML in "source".
func (s *apiServer) handleProfile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, name, err := profilePath(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p, err := s.findProfile(kind, name)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, apiProfileJSON{Kind: kind, Name: p.Name, Description: p.Description, Builtin: p.Builtin, Source: p.Source})
	})
}

// yamlTypes are the Content-Types a raw YAML profile body may have.
var yamlTypes = []string{"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}

// profileSource reads a profile PUT's YAML: the raw body when sent as
// YAML, or {"source": "…"} when sent as JSON; at most maxAdminForm bytes,
// as the page's form.
func profileSource(w http.ResponseWriter, r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct != "" && err != nil {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "The Content-Type could not be read.")
	}
	var src string
	switch {
	case ct == "" || mt == "application/json":
		var b apiProfileBody
		if err := decodeBody(w, r, &b); err != nil {
			return "", err
		}
		src = b.Source
	case slices.Contains(yamlTypes, mt):
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminForm))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", wardwatch.Errorf(wardwatch.ETOOLARGE, "A profile is limited to %d KiB.", maxAdminForm>>10)
		} else if err != nil {
			return "", fmt.Errorf("read profile body: %w", err)
		}
		src = string(body)
	default:
		return "", wardwatch.Errorf(wardwatch.EINVALID, "Send the profile as application/yaml, or as JSON {\"source\": \"…\"}.")
	}
	src = strings.TrimSpace(src)
	switch {
	case src == "":
		return "", wardwatch.Errorf(wardwatch.EINVALID, "Send the profile's YAML.")
	case len(src) > maxAdminForm:
		return "", wardwatch.Errorf(wardwatch.ETOOLARGE, "A profile is limited to %d KiB.", maxAdminForm>>10)
	case !utf8.ValidString(src):
		return "", wardwatch.Errorf(wardwatch.EINVALID, "The profile is not UTF-8 text.")
	}
	return src, nil
}

// handleSaveProfile validates a site profile as the page does (the
// collectors' parser; built-in names refused) and stores it. The name in
// the path must be the name in the YAML.
func (s *apiServer) handleSaveProfile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		kind, name, err := profilePath(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		src, err := profileSource(w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if s.cfg.Collectors.ValidateProfile == nil {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EUNAVAILABLE, "Profiles cannot be checked now."))
			return
		}
		got, err := s.cfg.Collectors.ValidateProfile(kind, []byte(src))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if got != name {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "The YAML names this profile %q: PUT it to /api/v1/profiles/%s/%s.", got, kind, url.PathEscape(got)))
			return
		}
		var old any
		if p, err := s.findProfile(kind, name); err == nil && !p.Builtin {
			old = p.Source
		}
		if err := s.cfg.Devices.SaveDeviceProfile(ctx, wardwatch.DeviceProfile{Kind: kind, Name: name, Source: []byte(src)}); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "save", "profile", kind+"/"+name, old, src, "")
		s.devicesChanged(ctx)
		out := apiProfileJSON{Kind: kind, Name: name, Source: src}
		if p, err := s.findProfile(kind, name); err == nil {
			out.Description = p.Description
		}
		s.ok(w, r, out)
	})
}

// handleDeleteProfile deletes a site profile; built-in ones are refused,
// as the page offers no delete for them.
func (s *apiServer) handleDeleteProfile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		kind, name, err := profilePath(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var old any
		if p, err := s.findProfile(kind, name); err == nil {
			if p.Builtin {
				s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "%q is a built-in profile; built-in profiles cannot be deleted.", name))
				return
			}
			old = p.Source
		}
		if err := s.cfg.Devices.DeleteDeviceProfile(ctx, kind, name); err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "delete", "profile", kind+"/"+name, old, nil, "")
		s.devicesChanged(ctx)
		s.noContent(w)
	})
}

// ---- daily min/max log, sign-offs, MKT ----

type apiRangeJSON struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

type apiUnitSensorJSON struct {
	SensorID string `json:"sensor_id"`
	Metric   string `json:"metric"`
	Name     string `json:"name"`
}

func unitSensorsOut(ss []UnitSensor) []apiUnitSensorJSON {
	out := make([]apiUnitSensorJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, apiUnitSensorJSON{SensorID: s.SensorID, Metric: string(s.Metric), Name: s.Name})
	}
	return out
}

// apiReviewJSON is a day's sign-off.
type apiReviewJSON struct {
	UnitID int64   `json:"unit_id"`
	Day    string  `json:"day"`
	By     string  `json:"by"`
	At     *string `json:"at"`
	Action string  `json:"action"`
	Late   bool    `json:"late"` // signed on a later day
}

func reviewOut(rv alerts.Review, loc *time.Location) apiReviewJSON {
	return apiReviewJSON{UnitID: rv.UnitID, Day: rv.Day, By: rv.By, At: apiTime(rv.At), Action: rv.Action,
		Late: !rv.At.IsZero() && rv.At.In(loc).Format(time.DateOnly) != rv.Day}
}

// apiDailyDayJSON is one day of the log. Values are null on a day
// without readings; coverage and in_range are fractions (0–1).
type apiDailyDayJSON struct {
	Day            string         `json:"day"`
	Start          *string        `json:"start"`
	End            *string        `json:"end"`
	Count          int            `json:"count"`
	Min            *float64       `json:"min"`
	MinAt          *string        `json:"min_at"`
	Max            *float64       `json:"max"`
	MaxAt          *string        `json:"max_at"`
	Mean           *float64       `json:"mean"`
	Last           *float64       `json:"last"`
	LastAt         *string        `json:"last_at"`
	CoveredSeconds float64        `json:"covered_seconds"`
	Coverage       *float64       `json:"coverage"`
	InRange        *float64       `json:"in_range"`
	OutOfRange     bool           `json:"out_of_range"`
	Review         *apiReviewJSON `json:"review"`
	Signable       bool           `json:"signable"` // this token may sign it off now
}

// apiDailyJSON is a unit's daily min/max log for a month, as the page.
type apiDailyJSON struct {
	UnitID   int64               `json:"unit_id"`
	UnitName string              `json:"unit_name"`
	Month    string              `json:"month"`
	TimeZone string              `json:"time_zone"`
	Metric   string              `json:"metric"`
	Unit     string              `json:"unit"`
	Range    *apiRangeJSON       `json:"range"`     // null: the profile has none
	SensorID string              `json:"sensor_id"` // "": the unit has no sensor of the metric
	Sensors  []apiUnitSensorJSON `json:"sensors"`
	Days     []apiDailyDayJSON   `json:"days"`
}

// handleDaily answers a unit's daily log for ?month=YYYY-MM (default:
// this month) and ?sensor= (default: the unit's first of the metric).
func (s *apiServer) handleDaily(rc *records) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := rc.unit(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		vals, err := apiParams(r.URL.RawQuery, "month", "sensor")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		dp, err := parseDailyParams(vals, rc.loc, rc.now())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := rc.buildDaily(ctx, u, dp, viewerFrom(ctx))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := apiDailyJSON{UnitID: u.ID, UnitName: u.Name, Month: v.Month, TimeZone: rc.loc.String(), Metric: string(v.Metric),
			Unit: v.Metric.Unit(), SensorID: v.Sensor.SensorID, Sensors: unitSensorsOut(v.Sensors), Days: make([]apiDailyDayJSON, 0, len(v.Rows))}
		if rng, ok := primaryRange(unitProfile(u)); ok {
			out.Range = &apiRangeJSON{Low: rng.Low, High: rng.High}
		}
		for _, row := range v.Rows {
			e := row.E
			d := apiDailyDayJSON{Day: e.Day, Start: apiTime(e.Start), End: apiTime(e.End), Count: e.Count,
				Min: apiFloat(e.Min), Max: apiFloat(e.Max), Mean: apiFloat(e.Mean), Last: apiFloat(e.Last),
				CoveredSeconds: e.Covered.Seconds(), InRange: apiFloat(e.InRange), OutOfRange: row.OutOfRange, Signable: row.Signable}
			if e.Count > 0 {
				d.MinAt, d.MaxAt, d.LastAt = apiTime(e.MinAt), apiTime(e.MaxAt), apiTime(e.LastAt)
			}
			if span := e.End.Sub(e.Start); span > 0 {
				d.Coverage = apiFloat(e.Covered.Seconds() / span.Seconds())
			}
			if e.Reviewed() {
				rv := reviewOut(e.Review, rc.loc)
				d.Review = &rv
			}
			out.Days = append(out.Days, d)
		}
		s.ok(w, r, out)
	})
}

// handleSignOff signs off one day of a unit's log, as the page: the same
// permission (routes.go), scope rule, day and text checks, and one
// sign-off per day (ECONFLICT naming who signed it).
func (s *apiServer) handleSignOff(rc *records) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := rc.unit(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		vw := viewerFrom(ctx)
		if vw == nil || vw.Kiosk {
			s.fail(w, r, errForbidden)
			return
		}
		if err := rc.checkScope(ctx, vw, u.ID, "monitored unit"); err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := apiForm(w, r, []string{"day", "action"}, nil, "action")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		t, err := parseDay(v["day"], rc.loc)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		action := v["action"]
		if len(action) > maxLongText || !utf8.ValidString(action) || strings.ContainsRune(action, 0) {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "The action taken is too long or has characters that cannot be stored."))
			return
		}
		now := rc.now()
		rv := alerts.Review{UnitID: u.ID, Day: t.Format(time.DateOnly), By: vw.User.Username, At: now, Action: action}
		if err := rv.Validate(now, rc.loc); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := rc.store.SaveReview(ctx, rv); err != nil {
			if wardwatch.ErrorCode(err) == wardwatch.ECONFLICT {
				err = rc.alreadySigned(ctx, u.ID, rv.Day, err)
			} else {
				err = fmt.Errorf("save review of unit %d day %s: %w", u.ID, rv.Day, err)
			}
			s.fail(w, r, err)
			return
		}
		s.created(w, r, reviewOut(rv, rc.loc))
	})
}

// apiMKTPeriodJSON is one period of the MKT report; mkt and mean are
// null when the period could not be computed (reason says why).
type apiMKTPeriodJSON struct {
	Name           string   `json:"name"` // rolling_30_days or past_year
	From           *string  `json:"from"`
	To             *string  `json:"to"`
	MKT            *float64 `json:"mkt"`
	Mean           *float64 `json:"mean"`
	CoveredSeconds float64  `json:"covered_seconds"`
	Coverage       *float64 `json:"coverage"`
	Samples        int      `json:"samples"`
	Over           bool     `json:"over"` // the MKT is above the limit
	Reason         string   `json:"reason,omitempty"`
}

// apiMKTJSON is a unit's mean kinetic temperature report, as the page.
type apiMKTJSON struct {
	UnitID           int64               `json:"unit_id"`
	UnitName         string              `json:"unit_name"`
	Unit             string              `json:"unit"`
	Limit            float64             `json:"limit"`
	ActivationEnergy float64             `json:"activation_energy_kj_mol"`
	Bucket           string              `json:"bucket"`
	TimeZone         string              `json:"time_zone"`
	GeneratedAt      *string             `json:"generated_at"`
	SensorID         string              `json:"sensor_id"` // "": the unit has no temperature sensor
	Sensors          []apiUnitSensorJSON `json:"sensors"`
	Periods          []apiMKTPeriodJSON  `json:"periods"`
}

func mktPeriodOut(name string, res alerts.MKTResult, over bool, reason string) apiMKTPeriodJSON {
	p := apiMKTPeriodJSON{Name: name, From: apiTime(res.From), To: apiTime(res.To), MKT: apiFloat(res.MKT), Mean: apiFloat(res.Mean),
		CoveredSeconds: res.Covered.Seconds(), Samples: res.Samples, Over: over, Reason: reason}
	if span := res.To.Sub(res.From); span > 0 {
		p.Coverage = apiFloat(res.Covered.Seconds() / span.Seconds())
	}
	return p
}

// handleMKT answers a unit's 30-day and annual MKT, computed as the page
// computes it (15-minute means over the past year, the same hold and ΔH).
func (s *apiServer) handleMKT(rc *records) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := rc.unit(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		vals, err := apiParams(r.URL.RawQuery, "sensor")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		in, err := rc.mkt(ctx, u, vals.Get("sensor"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := apiMKTJSON{UnitID: u.ID, UnitName: u.Name, Unit: wardwatch.MetricTemperature.Unit(), Limit: in.limit,
			ActivationEnergy: alerts.DefaultActivationEnergy, Bucket: mktBucket.String(), TimeZone: rc.loc.String(),
			GeneratedAt: apiTime(in.now), SensorID: in.sensor.SensorID, Sensors: unitSensorsOut(in.sensors), Periods: []apiMKTPeriodJSON{}}
		if rep := in.report; rep != nil {
			out.Periods = append(out.Periods,
				mktPeriodOut("rolling_30_days", rep.Rolling30, rep.Rolling30Over, rep.Rolling30Reason),
				mktPeriodOut("past_year", rep.Annual, rep.AnnualOver, rep.AnnualReason))
		}
		s.ok(w, r, out)
	})
}

// ---- PAR stock ----

// apiStockLevelJSON is one PAR level's stock: clean assets of its kind
// in its clean zones against the minimum, soiled ones in its soiled
// zones against the maximum.
type apiStockLevelJSON struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Kind           string  `json:"kind"`
	CleanZones     []int64 `json:"clean_zone_ids"`
	SoiledZones    []int64 `json:"soiled_zone_ids"`
	Clean          int     `json:"clean"`
	CleanMin       int     `json:"clean_min"`
	CleanShortfall int     `json:"clean_shortfall"` // clean_min − clean, at least 0
	CleanLow       bool    `json:"clean_low"`
	Soiled         int     `json:"soiled"`
	SoiledMax      *int    `json:"soiled_max"`    // null: no maximum
	SoiledExcess   int     `json:"soiled_excess"` // soiled − soiled_max, at least 0
	SoiledHigh     bool    `json:"soiled_high"`
}

// apiPickJSON is one line of the runners' pick list.
type apiPickJSON struct {
	PARID      string  `json:"par_id"`
	PARName    string  `json:"par_name"`
	Action     string  `json:"action"` // restock or collect
	AssetID    int64   `json:"asset_id"`
	AssetName  string  `json:"asset_name"`
	FromZoneID int64   `json:"from_zone_id"`
	FromZone   string  `json:"from_zone"`
	ToZoneID   int64   `json:"to_zone_id"` // 0 when collecting: to decontamination
	ToZone     string  `json:"to_zone"`
	LastSeen   *string `json:"last_seen"`
}

type apiStockJSON struct {
	Levels []apiStockLevelJSON `json:"levels"`
	Picks  []apiPickJSON       `json:"picks"`
}

// stockOut is the PAR page's content as data: levels out of bounds
// first, then by name (as buildInboxStock), and the pick list in the
// evaluator's order.
func stockOut(levels []alerts.PARStatus, picks []alerts.Pick) apiStockJSON {
	out := apiStockJSON{Levels: make([]apiStockLevelJSON, 0, len(levels)), Picks: make([]apiPickJSON, 0, len(picks))}
	levels = slices.Clone(levels)
	bad := func(l alerts.PARStatus) int {
		if l.CleanLow || l.SoiledHigh {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(levels, func(x, y alerts.PARStatus) int {
		return cmp.Or(cmp.Compare(bad(x), bad(y)), strings.Compare(x.Level.Name, y.Level.Name), strings.Compare(x.Level.ID, y.Level.ID))
	})
	for _, l := range levels {
		o := apiStockLevelJSON{ID: l.Level.ID, Name: l.Level.Name, Kind: string(l.Level.Kind),
			CleanZones: slices.Clone(l.Level.CleanZones), SoiledZones: slices.Clone(l.Level.SoiledZones),
			Clean: l.Clean, CleanMin: l.Level.CleanMin, CleanShortfall: max(0, l.Level.CleanMin-l.Clean), CleanLow: l.CleanLow,
			Soiled: l.Soiled, SoiledHigh: l.SoiledHigh}
		if o.CleanZones == nil {
			o.CleanZones = []int64{}
		}
		if o.SoiledZones == nil {
			o.SoiledZones = []int64{}
		}
		if m := l.Level.SoiledMax; m != nil {
			o.SoiledMax = new(int)
			*o.SoiledMax = *m
			o.SoiledExcess = max(0, l.Soiled-*m)
		}
		out.Levels = append(out.Levels, o)
	}
	for _, p := range picks {
		out.Picks = append(out.Picks, apiPickJSON{PARID: p.PAR, PARName: p.PARName, Action: string(p.Action), AssetID: p.AssetID,
			AssetName: p.AssetName, FromZoneID: p.FromZoneID, FromZone: p.FromZone, ToZoneID: p.ToZoneID, ToZone: p.ToZone,
			LastSeen: apiTime(p.LastSeen)})
	}
	return out
}

// handleStock answers every PAR level's stock and the pick list.
func (s *apiServer) handleStock() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := apiParams(r.URL.RawQuery); err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, stockOut(s.cfg.Alerts.Stock(), s.cfg.Alerts.PickList()))
	})
}
