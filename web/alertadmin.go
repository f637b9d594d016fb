package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// AlertSettings is what the alert settings pages read and change.
type AlertSettings interface {
	UnitRules(ctx context.Context) (map[int64][]alerts.Rule, error)
	SetUnitRules(ctx context.Context, unitID int64, rules []alerts.Rule) error // nil: back to the profile
	EscalationPolicies(ctx context.Context) (alerts.Policies, error)           // nil: none stored (defaults apply)
	SetEscalationPolicies(ctx context.Context, ps alerts.Policies) error
	AlertWindows(ctx context.Context) ([]alerts.Window, error)
	SaveAlertWindow(ctx context.Context, w alerts.Window) (int64, error)
	DeleteAlertWindow(ctx context.Context, id int64) error
	UnitSchedules(ctx context.Context) ([]alerts.Schedule, error) // daily schedules, start times in the hospital's zone
	SaveUnitSchedule(ctx context.Context, s alerts.Schedule) (int64, error)
	DeleteUnitSchedule(ctx context.Context, id int64) error
	Contacts(ctx context.Context) ([]alerts.Contact, error)
	SaveContact(ctx context.Context, c alerts.Contact) (int64, error)
	DeleteContact(ctx context.Context, id int64) error
	PARLevels(ctx context.Context) ([]alerts.PARLevel, error)
	SavePARLevel(ctx context.Context, p alerts.PARLevel) error
	DeletePARLevel(ctx context.Context, id string) error
}

// Limits of the alert settings forms. The rule and escalation forms are
// bigger than other admin forms (a row of inputs per rule or tier), so they
// get their own body limit.
const (
	maxSettingsForm   = 256 << 10 // bytes in a rule or escalation form post
	maxSettingsField  = 1024      // bytes in any one field
	maxRuleFormRows   = alerts.MaxRules + 20
	maxPolicyFormRows = 50
	maxTierFormRows   = 10
	maxFixedTargets   = 20
	maxWindowSpan     = 366 * 24 * time.Hour
	maxWindowReason   = 200
)

// alertAdmin serves the alert settings pages under /admin/alerts.
type alertAdmin struct {
	logger   *slog.Logger
	store    Store
	devices  DeviceStore // nil: no monitored units
	settings AlertSettings
	audit    auditor
	changed  func(ctx context.Context) // nil: nothing
	loc      *time.Location
	now      func() time.Time
}

func (a *alertAdmin) notify(ctx context.Context) {
	if a.changed != nil {
		a.changed(ctx)
	}
}

// settingsTeams lists the teams in the order the forms offer them.
var settingsTeams = []alerts.Team{alerts.TeamPharmacy, alerts.TeamFacilities, alerts.TeamBiomed,
	alerts.TeamLab, alerts.TeamEVS, alerts.TeamNursing}

// settingsChannels lists the notification channels the forms offer.
var settingsChannels = []alerts.Channel{alerts.ChannelInApp, alerts.ChannelEmail, alerts.ChannelWebhook}

// settingsGroups lists the recipient groups the forms offer.
var settingsGroups = []string{alerts.GroupTeam, alerts.GroupSupervisor, alerts.GroupOnCall}

// settingsConditions lists the rule conditions the forms offer.
var settingsConditions = []alerts.Condition{alerts.Above, alerts.AtOrAbove, alerts.Below, alerts.AtOrBelow, alerts.Outside}

// settingsAssetKinds lists the asset kinds PAR levels may count.
var settingsAssetKinds = []wardwatch.AssetKind{wardwatch.AssetInfusionPump, wardwatch.AssetWheelchair, wardwatch.AssetBed,
	wardwatch.AssetMonitor, wardwatch.AssetVentilator, wardwatch.AssetOther}

func settingsChannelLabel(c alerts.Channel) string {
	switch c {
	case alerts.ChannelInApp:
		return "In-app"
	case alerts.ChannelEmail:
		return "E-mail"
	case alerts.ChannelWebhook:
		return "Webhook"
	}
	return string(c)
}

func settingsGroupLabel(g string) string {
	switch g {
	case alerts.GroupTeam:
		return "Team"
	case alerts.GroupSupervisor:
		return "Supervisor"
	case alerts.GroupOnCall:
		return "On call"
	}
	return g
}

func settingsConditionLabel(c alerts.Condition) string {
	switch c {
	case alerts.Above:
		return "above (>)"
	case alerts.AtOrAbove:
		return "at or above (≥)"
	case alerts.Below:
		return "below (<)"
	case alerts.AtOrBelow:
		return "at or below (≤)"
	case alerts.Outside:
		return "outside low–high"
	}
	return string(c)
}

func settingsWindowKind(k alerts.SuppressionKind) string {
	switch k {
	case alerts.SuppressDefrost:
		return "Defrost"
	case alerts.SuppressMaintenance:
		return "Maintenance"
	case alerts.SuppressOutOfService:
		return "Out of service"
	}
	return string(k)
}

// ---- parsing typed values ----

// settingsDuration parses a duration as admins type it: Go durations
// ("15m", "90s", "1h30m", "1.5h") and spelt-out units ("15 min",
// "1 h 30 min", "90 seconds"). "" and "0" are zero; a bare number other
// than 0 is refused (minutes or seconds?), as are negative durations.
func settingsDuration(s, label string) (time.Duration, error) {
	bad := func() error {
		return wardwatch.Errorf(wardwatch.EINVALID, "%s: %q is not a duration like 15m, 90s or 1h30m.", label, settingsClip(s, 40))
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if len(s) > 64 {
		return 0, bad()
	}
	var goForm strings.Builder
	i := 0
	for i < len(s) {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i == len(s) {
			break
		}
		start := i
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		num := s[start:i]
		if num == "" {
			return 0, bad()
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		start = i
		for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
			i++
		}
		unit := strings.ToLower(s[start:i])
		switch unit {
		case "":
			if goForm.Len() == 0 && i == len(s) && strings.Trim(num, "0.") == "" && strings.Count(num, ".") <= 1 {
				return 0, nil // "0", "0.0"
			}
			return 0, bad()
		case "ns", "us":
		case "ms", "msec":
			unit = "ms"
		case "s", "sec", "secs", "second", "seconds":
			unit = "s"
		case "m", "min", "mins", "minute", "minutes":
			unit = "m"
		case "h", "hr", "hrs", "hour", "hours":
			unit = "h"
		default:
			return 0, bad()
		}
		goForm.WriteString(num)
		goForm.WriteString(unit)
	}
	if goForm.Len() == 0 {
		return 0, bad()
	}
	d, err := time.ParseDuration(goForm.String())
	if err != nil || d < 0 {
		return 0, bad()
	}
	return d, nil
}

// settingsDurInput formats d for a form field as settingsDuration reads it:
// "15m", "1h30m", "90s" → "1m30s", "0".
func settingsDurInput(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := strings.ReplaceAll(d.String(), "µs", "us")
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// unitAliases are the unit suffixes admins may type after a value of each
// metric (compared lower-case, without spaces).
var unitAliases = map[wardwatch.Metric][]string{
	wardwatch.MetricTemperature:    {"°c", "c", "degc", "℃"},
	wardwatch.MetricHumidity:       {"%rh", "%", "rh"},
	wardwatch.MetricPressure:       {"pa"},
	wardwatch.MetricBatteryPercent: {"%"},
	wardwatch.MetricBatteryVoltage: {"v"},
	wardwatch.MetricAirChanges:     {"ach", "/h"},
}

// settingsNumber parses a limit or deadband of metric m as admins type it:
// "8", "-2.5", "−2.5" (a real minus), "2,5", "8 °C", "60 %RH". A unit that
// is not m's is refused rather than silently ignored ("46 °F" is not
// 46 °C). "" is an error naming label.
func settingsNumber(s string, m wardwatch.Metric, label string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "%s is missing.", label)
	}
	bad := wardwatch.Errorf(wardwatch.EINVALID, "%s: %q is not a number.", label, settingsClip(s, 40))
	if len(s) > 64 {
		return 0, bad
	}
	s = strings.ReplaceAll(s, "−", "-")
	end := len(s)
	for end > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:end])
		if r >= '0' && r <= '9' || r == '.' || r == ',' {
			break
		}
		end -= size
	}
	num, suffix := strings.TrimSpace(s[:end]), strings.ToLower(strings.ReplaceAll(s[end:], " ", ""))
	if num == "" {
		return 0, bad
	}
	if suffix != "" && !slices.Contains(unitAliases[m], suffix) {
		if u := m.Unit(); u != "" {
			return 0, wardwatch.Errorf(wardwatch.EINVALID, "%s: %q is not in %s.", label, settingsClip(s, 40), u)
		}
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "%s: %q takes no unit.", label, settingsClip(s, 40))
	}
	if strings.Count(num, ",") == 1 && !strings.Contains(num, ".") {
		num = strings.Replace(num, ",", ".", 1)
	}
	for _, c := range num {
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, bad
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, bad
	}
	return f, nil
}

// settingsNumInput formats a number for a form field exactly.
func settingsNumInput(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// settingsClip shortens s to at most n bytes on a rune boundary, for messages.
func settingsClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// settingsForm reads a form post of at most limit bytes. Any field longer
// than maxSettingsField is refused (EINVALID), a body over the limit is
// ETOOLARGE.
func settingsForm(w http.ResponseWriter, r *http.Request, limit int64) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, wardwatch.Errorf(wardwatch.ETOOLARGE, "The form is too large.")
		}
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "The form could not be read.")
	}
	for k, vs := range r.PostForm {
		for _, v := range vs {
			if len(v) > maxSettingsField || len(k) > 64 {
				return nil, wardwatch.Errorf(wardwatch.EINVALID, "The field %q is too long.", settingsClip(k, 40))
			}
		}
	}
	return r.PostForm, nil
}

// settingsCount reads a row count field, bounded by max.
func settingsCount(form url.Values, name string, max int) (int, error) {
	s := strings.TrimSpace(form.Get(name))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "The form is malformed (%s).", name)
	}
	return n, nil
}

// ---- the rule form ----

// ruleFormRow is one rule of the rule editor as the admin typed it, with
// the row's error after a failed save.
type ruleFormRow struct {
	ID, Name, Category, Priority, Team           string
	Metric, Condition, Limit, Low, High          string
	Delay, Mode, Window, Deadband, MinClear, Avg string
	Latched, Remove                              bool
	Error                                        string
}

// ruleRowOf is r as the editor shows it.
func ruleRowOf(r alerts.Rule) ruleFormRow {
	row := ruleFormRow{ID: r.ID, Name: r.Name, Category: string(r.Category), Priority: string(r.Priority), Team: string(r.Team),
		Metric: string(r.Metric), Condition: string(r.Condition), Delay: settingsDurInput(r.Delay), Mode: string(r.Mode()),
		Deadband: settingsNumInput(r.Deadband), MinClear: settingsDurInput(r.MinClear), Avg: settingsDurInput(r.Average), Latched: r.Latched}
	if r.Condition == alerts.Outside {
		row.Low, row.High = settingsNumInput(r.Low), settingsNumInput(r.High)
	} else {
		row.Limit = settingsNumInput(r.Limit)
	}
	if r.Window != 0 {
		row.Window = settingsDurInput(r.Window)
	}
	return row
}

// blank reports whether the row was left empty (the spare "new rule" row).
func (row ruleFormRow) blank() bool {
	return row.ID == "" && row.Name == "" && row.Limit == "" && row.Low == "" && row.High == ""
}

// parseRuleRows reads the rule editor's rows: fields "r<i>.<field>" for i
// below the "rows" count.
func parseRuleRows(form url.Values) ([]ruleFormRow, error) {
	n, err := settingsCount(form, "rows", maxRuleFormRows)
	if err != nil {
		return nil, err
	}
	rows := make([]ruleFormRow, 0, n)
	for i := range n {
		get := func(f string) string { return strings.TrimSpace(form.Get("r" + strconv.Itoa(i) + "." + f)) }
		rows = append(rows, ruleFormRow{
			ID: strings.ToLower(get("id")), Name: get("name"), Category: get("category"), Priority: get("priority"), Team: get("team"),
			Metric: get("metric"), Condition: get("condition"), Limit: get("limit"), Low: get("low"), High: get("high"),
			Delay: get("delay"), Mode: get("mode"), Window: get("window"), Deadband: get("deadband"), MinClear: get("min_clear"),
			Avg: get("average"), Latched: get("latched") != "", Remove: get("remove") != "",
		})
	}
	return rows, nil
}

// ruleOf builds and validates the rule of one row.
func ruleOf(row ruleFormRow) (alerts.Rule, error) {
	r := alerts.Rule{ID: row.ID, Name: row.Name, Category: alerts.Category(cmp.Or(row.Category, string(alerts.CategoryEnvironment))),
		Priority: alerts.Priority(row.Priority), Team: alerts.Team(row.Team), Latched: row.Latched,
		Metric: wardwatch.Metric(row.Metric), Condition: alerts.Condition(row.Condition)}
	if r.Metric == "" {
		return r, wardwatch.Errorf(wardwatch.EINVALID, "Choose the metric the rule judges.")
	}
	if !r.Metric.Valid() {
		return r, wardwatch.Errorf(wardwatch.EINVALID, "Unknown metric %q.", settingsClip(row.Metric, 40))
	}
	var errs []error
	num := func(s, label string) float64 {
		f, err := settingsNumber(s, r.Metric, label)
		if err != nil {
			errs = append(errs, err)
		}
		return f
	}
	dur := func(s, label string) time.Duration {
		d, err := settingsDuration(s, label)
		if err != nil {
			errs = append(errs, err)
		}
		return d
	}
	if r.Condition == alerts.Outside {
		r.Low, r.High = num(row.Low, "Low"), num(row.High, "High")
	} else {
		r.Limit = num(row.Limit, "Limit")
	}
	if row.Deadband != "" {
		r.Deadband = num(row.Deadband, "Deadband")
	}
	r.Delay = dur(row.Delay, "Delay")
	r.MinClear = dur(row.MinClear, "Minimum clear time")
	r.Average = dur(row.Avg, "Average")
	switch alerts.DelayMode(row.Mode) {
	case "", alerts.Continuous:
		if row.Window != "" {
			if w := dur(row.Window, "Window"); w != 0 {
				errs = append(errs, wardwatch.Errorf(wardwatch.EINVALID, "A window is for cumulative delays only."))
			}
		}
	case alerts.Cumulative:
		r.DelayMode = alerts.Cumulative
		r.Window = dur(row.Window, "Window")
	default:
		r.DelayMode = alerts.DelayMode(row.Mode) // Validate names it
	}
	if len(errs) > 0 {
		return r, errs[0]
	}
	return r, r.Validate()
}

// rulesOfRows builds the rule set of the editor's rows, skipping removed
// and blank rows. It sets each bad row's Error and reports whether every
// row was good.
func rulesOfRows(rows []ruleFormRow) ([]alerts.Rule, bool) {
	rules := []alerts.Rule{}
	ok := true
	seen := map[string]bool{}
	for i := range rows {
		row := &rows[i]
		row.Error = ""
		if row.Remove || row.blank() {
			continue
		}
		r, err := ruleOf(*row)
		switch {
		case err != nil:
			row.Error = wardwatch.ErrorMessage(err)
		case seen[r.ID]:
			row.Error = fmt.Sprintf("Rule %q is listed twice: give each rule its own ID.", r.ID)
		}
		if row.Error != "" {
			ok = false
			continue
		}
		seen[r.ID] = true
		rules = append(rules, r)
	}
	return rules, ok
}

// ruleEditLines describes rule edits for people: "temperature_high: limit
// 8 → 7.5".
func ruleEditLines(edits []alerts.RuleEdit) []string {
	out := make([]string, 0, len(edits))
	for _, e := range edits {
		switch {
		case e.Field == "rule" && e.New == "added":
			out = append(out, e.RuleID+": added")
		case e.Field == "rule":
			out = append(out, e.RuleID+": removed")
		default:
			out = append(out, fmt.Sprintf("%s: %s %s → %s", e.RuleID, strings.ReplaceAll(e.Field, "_", " "), cmp.Or(e.Old, "(none)"), cmp.Or(e.New, "(none)")))
		}
	}
	return out
}

// ---- the index and unit pages ----

// alertIndexRow is one monitored unit on the alert settings index.
type alertIndexRow struct {
	Unit    wardwatch.MonitoredUnit
	Profile string
	Edited  bool
	Rules   int
	Windows int // active or upcoming
	// Schedules summarises the unit's daily schedules ("Defrost daily at
	// 02:00, 14:00 for 45m").
	Schedules []string
}

type alertIndexView struct {
	Units     []alertIndexRow
	CanEdit   bool // the viewer may edit rules, escalation and PAR
	HasUnits  bool // monitored units are configured at all
	Policies  bool // escalation policies are stored (not the defaults)
	Contacts  int
	PARLevels int
}

// units lists the monitored units; none when there is no device store.
func (a *alertAdmin) units(ctx context.Context) ([]wardwatch.MonitoredUnit, error) {
	if a.devices == nil {
		return nil, nil
	}
	us, err := a.devices.Units(ctx)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	slices.SortFunc(us, func(x, y wardwatch.MonitoredUnit) int { return cmp.Compare(x.Name, y.Name) })
	return us, nil
}

// unit finds the unit in the path, ENOTFOUND when there is none.
func (a *alertAdmin) unit(ctx context.Context, r *http.Request) (wardwatch.MonitoredUnit, error) {
	id, err := pathID(r)
	if err != nil {
		return wardwatch.MonitoredUnit{}, err
	}
	us, err := a.units(ctx)
	if err != nil {
		return wardwatch.MonitoredUnit{}, err
	}
	for _, u := range us {
		if u.ID == id {
			return u, nil
		}
	}
	return wardwatch.MonitoredUnit{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no monitored unit %d.", id)
}

// unitRules returns the unit's rules in force: its stored override, or its
// profile's seeded rules.
func (a *alertAdmin) unitRules(ctx context.Context, u wardwatch.MonitoredUnit) (rules []alerts.Rule, edited bool, err error) {
	all, err := a.settings.UnitRules(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("read unit rules: %w", err)
	}
	if rs, ok := all[u.ID]; ok && rs != nil {
		return rs, true, nil
	}
	p, err := alerts.ProfileFor(u.Profile, alerts.ProfileOptions{})
	if err != nil {
		return nil, false, nil // an unknown profile seeds nothing; the page says so
	}
	return p.Rules, false, nil
}

func (a *alertAdmin) handleIndex() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		us, err := a.units(ctx)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		all, err := a.settings.UnitRules(ctx)
		if err != nil {
			renderError(w, r, a.logger, fmt.Errorf("read unit rules: %w", err))
			return
		}
		ws, err := a.settings.AlertWindows(ctx)
		if err != nil {
			renderError(w, r, a.logger, fmt.Errorf("read alert windows: %w", err))
			return
		}
		scheds, err := a.settings.UnitSchedules(ctx)
		if err != nil {
			renderError(w, r, a.logger, fmt.Errorf("read daily schedules: %w", err))
			return
		}
		now := a.now()
		labels := profileLabels()
		v := alertIndexView{CanEdit: viewerFrom(ctx).can(permConfigure), HasUnits: a.devices != nil}
		for _, u := range us {
			row := alertIndexRow{Unit: u, Profile: cmp.Or(labels[u.Profile], string(u.Profile))}
			if rs, ok := all[u.ID]; ok && rs != nil {
				row.Edited, row.Rules = true, len(rs)
			} else if p, err := alerts.ProfileFor(u.Profile, alerts.ProfileOptions{}); err == nil {
				row.Rules = len(p.Rules)
			}
			for _, win := range ws {
				if win.UnitID == u.ID && win.End.After(now) {
					row.Windows++
				}
			}
			row.Schedules = scheduleSummaries(scheds, u.ID)
			v.Units = append(v.Units, row)
		}
		if v.CanEdit {
			ps, err := a.settings.EscalationPolicies(ctx)
			if err != nil {
				renderError(w, r, a.logger, fmt.Errorf("read escalation policies: %w", err))
				return
			}
			cs, err := a.settings.Contacts(ctx)
			if err != nil {
				renderError(w, r, a.logger, fmt.Errorf("read contacts: %w", err))
				return
			}
			pars, err := a.settings.PARLevels(ctx)
			if err != nil {
				renderError(w, r, a.logger, fmt.Errorf("read PAR levels: %w", err))
				return
			}
			v.Policies, v.Contacts, v.PARLevels = ps != nil, len(cs), len(pars)
		}
		p := newPageMeta(r, "Alert settings")
		p.Nav = "admin"
		render(w, r, a.logger, http.StatusOK, alertSettingsIndexPage(p, v))
	})
}

// settingsWindowRow is a maintenance window as the unit page lists it.
type settingsWindowRow struct {
	Window alerts.Window
	Kind   string
	Start  string
	End    string
	State  string // "Active now", "Upcoming", "Ended"
}

// settingsWindowForm is the add-a-window form as the user typed it.
type settingsWindowForm struct {
	Kind, Start, End, Reason string
}

type alertUnitView struct {
	Unit        wardwatch.MonitoredUnit
	Profile     string
	Edited      bool
	CanEdit     bool // rules (admins); everyone here may manage windows
	Rows        []ruleFormRow
	RulesError  string
	Saved       bool
	Changes     []string
	Windows     []settingsWindowRow
	WindowForm  settingsWindowForm
	WindowError string
	// The unit's daily schedules (schedules.go).
	Schedules     []settingsScheduleRow
	ScheduleForm  settingsScheduleForm
	ScheduleError string
	Notice        string
	TZ            string
}

// unitView builds the unit page with rows as the rule table (nil: the
// rules in force).
func (a *alertAdmin) unitView(ctx context.Context, u wardwatch.MonitoredUnit, rows []ruleFormRow) (alertUnitView, error) {
	rules, edited, err := a.unitRules(ctx, u)
	if err != nil {
		return alertUnitView{}, err
	}
	v := alertUnitView{Unit: u, Profile: cmp.Or(profileLabels()[u.Profile], string(u.Profile)), Edited: edited,
		CanEdit: viewerFrom(ctx).can(permConfigure), Rows: rows, TZ: a.loc.String()}
	if rows == nil {
		for _, r := range rules {
			v.Rows = append(v.Rows, ruleRowOf(r))
		}
	}
	ws, err := a.settings.AlertWindows(ctx)
	if err != nil {
		return alertUnitView{}, fmt.Errorf("read alert windows: %w", err)
	}
	now := a.now()
	for _, w := range ws {
		if w.UnitID != u.ID {
			continue
		}
		row := settingsWindowRow{Window: w, Kind: settingsWindowKind(w.Kind),
			Start: w.Start.In(a.loc).Format("Mon 2 Jan 2006 15:04"), End: w.End.In(a.loc).Format("Mon 2 Jan 2006 15:04")}
		switch {
		case !w.End.After(now):
			row.State = "Ended"
		case w.Start.After(now):
			row.State = "Upcoming"
		default:
			row.State = "Active now"
		}
		v.Windows = append(v.Windows, row)
	}
	slices.SortFunc(v.Windows, func(x, y settingsWindowRow) int { return y.Window.Start.Compare(x.Window.Start) })
	t := now.In(a.loc)
	v.WindowForm = settingsWindowForm{Kind: string(alerts.SuppressMaintenance), Start: t.Format(datetimeLocal), End: t.Add(time.Hour).Format(datetimeLocal)}
	if err := a.addSchedules(ctx, &v, now); err != nil {
		return alertUnitView{}, err
	}
	return v, nil
}

func (a *alertAdmin) renderUnit(w http.ResponseWriter, r *http.Request, status int, v alertUnitView) {
	p := newPageMeta(r, "Alerts of "+v.Unit.Name)
	p.Nav = "admin"
	p.Scripts = append(p.Scripts, staticURL("alertadmin.js"))
	render(w, r, a.logger, status, alertUnitPage(p, v))
}

func (a *alertAdmin) handleUnit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := a.unit(ctx, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		v, err := a.unitView(ctx, u, nil)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		switch r.URL.Query().Get("done") {
		case "reset":
			v.Notice = "The rules are back to the profile's defaults."
		case "window":
			v.Notice = "Window added."
		case "window-deleted":
			v.Notice = "Window deleted."
		case "schedule":
			v.Notice = "Daily schedule added."
		case "schedule-deleted":
			v.Notice = "Daily schedule deleted."
		}
		a.renderUnit(w, r, http.StatusOK, v)
	})
}

// handleSaveRules saves the unit's edited rule set, or with op=add shows
// the table again with one more blank row.
func (a *alertAdmin) handleSaveRules() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		form, err := settingsForm(w, r, maxSettingsForm)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		u, err := a.unit(ctx, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		rows, err := parseRuleRows(form)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		rules, ok := rulesOfRows(rows)
		if form.Get("op") == "add" {
			kept := rows[:0:0]
			for _, row := range rows {
				if !row.Remove && !row.blank() {
					kept = append(kept, row)
				}
			}
			if len(kept) >= alerts.MaxRules {
				renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ETOOLARGE, "A unit has at most %d rules.", alerts.MaxRules))
				return
			}
			v, err := a.unitView(ctx, u, append(kept, ruleFormRow{Category: string(alerts.CategoryEnvironment), Priority: string(alerts.PriorityHigh)}))
			if err != nil {
				renderError(w, r, a.logger, err)
				return
			}
			a.renderUnit(w, r, http.StatusOK, v)
			return
		}
		msg := ""
		switch {
		case !ok:
			msg = "Some rules are not valid: see the messages in their rows. Nothing was saved."
		case len(rules) == 0:
			msg = "A unit needs at least one rule. To go back to the profile's rules, use “Reset to profile defaults”."
		case len(rules) > alerts.MaxRules:
			msg = fmt.Sprintf("A unit has at most %d rules.", alerts.MaxRules)
		}
		if msg != "" {
			v, err := a.unitView(ctx, u, rows)
			if err != nil {
				renderError(w, r, a.logger, err)
				return
			}
			v.RulesError = msg
			logError(a.logger, r, http.StatusBadRequest, errors.New(msg))
			a.renderUnit(w, r, http.StatusBadRequest, v)
			return
		}
		old, _, err := a.unitRules(ctx, u)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		if err := a.settings.SetUnitRules(ctx, u.ID, rules); err != nil {
			renderError(w, r, a.logger, fmt.Errorf("save rules of unit %d: %w", u.ID, err))
			return
		}
		changes := ruleEditLines(alerts.DiffRules(old, rules))
		a.audit.record(ctx, "update", "unit_rules", u.ID, old, rules, settingsClip(strings.Join(changes, "; "), 2000))
		a.notify(ctx)
		v, err := a.unitView(ctx, u, nil)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		v.Saved, v.Changes = true, changes
		a.renderUnit(w, r, http.StatusOK, v)
	})
}

// handleResetRules drops the unit's edited rules: its profile's apply.
func (a *alertAdmin) handleResetRules() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := parseAdminForm(w, r); err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		u, err := a.unit(ctx, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		old, edited, err := a.unitRules(ctx, u)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		if err := a.settings.SetUnitRules(ctx, u.ID, nil); err != nil {
			renderError(w, r, a.logger, fmt.Errorf("reset rules of unit %d: %w", u.ID, err))
			return
		}
		if edited {
			p, _ := alerts.ProfileFor(u.Profile, alerts.ProfileOptions{})
			reason := "Reset to the profile's rules: " + strings.Join(ruleEditLines(alerts.DiffRules(old, p.Rules)), "; ")
			a.audit.record(ctx, "reset", "unit_rules", u.ID, old, nil, settingsClip(reason, 2000))
		}
		a.notify(ctx)
		http.Redirect(w, r, "/admin/alerts/units/"+idText(u.ID)+"?done=reset", http.StatusSeeOther)
	})
}

// settingsWindowOf reads the add-a-window form in loc.
func settingsWindowOf(f settingsWindowForm, unitID int64, by string, loc *time.Location, now time.Time) (alerts.Window, error) {
	w := alerts.Window{UnitID: unitID, Kind: alerts.SuppressionKind(f.Kind), By: by, Reason: f.Reason}
	switch w.Kind {
	case alerts.SuppressDefrost, alerts.SuppressMaintenance, alerts.SuppressOutOfService:
	default:
		return w, wardwatch.Errorf(wardwatch.EINVALID, "Choose the kind of window: defrost, maintenance or out of service.")
	}
	var err error
	if w.Start, err = time.ParseInLocation(datetimeLocal, f.Start, loc); err != nil {
		return w, wardwatch.Errorf(wardwatch.EINVALID, "The start is not a date and time.")
	}
	if w.End, err = time.ParseInLocation(datetimeLocal, f.End, loc); err != nil {
		return w, wardwatch.Errorf(wardwatch.EINVALID, "The end is not a date and time.")
	}
	switch {
	case !w.End.After(w.Start):
		return w, wardwatch.Errorf(wardwatch.EINVALID, "The window must end after it starts.")
	case !w.End.After(now):
		return w, wardwatch.Errorf(wardwatch.EINVALID, "The window ends in the past.")
	case w.End.Sub(w.Start) > maxWindowSpan:
		return w, wardwatch.Errorf(wardwatch.EINVALID, "A window lasts at most a year.")
	case strings.TrimSpace(w.Reason) == "":
		return w, wardwatch.Errorf(wardwatch.EINVALID, "Say why: the reason is shown on every alert the window suppresses.")
	case utf8.RuneCountInString(w.Reason) > maxWindowReason:
		return w, wardwatch.Errorf(wardwatch.EINVALID, "The reason is longer than %d characters.", maxWindowReason)
	}
	w.Start, w.End = w.Start.UTC(), w.End.UTC()
	return w, nil
}

func (a *alertAdmin) handleAddWindow() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		vals, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		u, err := a.unit(ctx, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		f := settingsWindowForm{Kind: vals["kind"], Start: vals["start"], End: vals["end"], Reason: vals["reason"]}
		win, err := settingsWindowOf(f, u.ID, viewerFrom(ctx).User.Username, a.loc, a.now())
		if err == nil {
			win.ID, err = a.settings.SaveAlertWindow(ctx, win)
		}
		if err != nil {
			if status := statusOf(err); status >= 400 && status < 500 {
				v, verr := a.unitView(ctx, u, nil)
				if verr != nil {
					renderError(w, r, a.logger, verr)
					return
				}
				logError(a.logger, r, status, err)
				v.WindowForm, v.WindowError = f, wardwatch.ErrorMessage(err)
				a.renderUnit(w, r, status, v)
				return
			}
			renderError(w, r, a.logger, fmt.Errorf("save window of unit %d: %w", u.ID, err))
			return
		}
		a.audit.record(ctx, "create", "alert_window", win.ID, nil, win, win.Reason)
		a.notify(ctx)
		http.Redirect(w, r, "/admin/alerts/units/"+idText(u.ID)+"?done=window", http.StatusSeeOther)
	})
}

func (a *alertAdmin) handleDeleteWindow() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := parseAdminForm(w, r); err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		id, ok := parseID(r.PathValue("wid"))
		if !ok {
			renderError(w, r, a.logger, errPageNotFound)
			return
		}
		ws, err := a.settings.AlertWindows(ctx)
		if err != nil {
			renderError(w, r, a.logger, fmt.Errorf("read alert windows: %w", err))
			return
		}
		i := slices.IndexFunc(ws, func(w alerts.Window) bool { return w.ID == id })
		if i < 0 {
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no window %d.", id))
			return
		}
		if err := a.settings.DeleteAlertWindow(ctx, id); err != nil {
			renderError(w, r, a.logger, fmt.Errorf("delete window %d: %w", id, err))
			return
		}
		a.audit.record(ctx, "delete", "alert_window", id, ws[i], nil, "")
		a.notify(ctx)
		http.Redirect(w, r, "/admin/alerts/units/"+idText(ws[i].UnitID)+"?done=window-deleted", http.StatusSeeOther)
	})
}

// ---- escalation policies and contacts ----

// policyForm is one escalation policy as the admin typed it.
type policyForm struct {
	Priority, Unit, Team, Reminder string
	Remove                         bool
	Tiers                          []tierForm
}

// tierForm is one tier as typed: its delay, the channel × group boxes
// ticked ("email.team"), and fixed addresses ("email:ops@example.org,
// webhook:pager").
type tierForm struct {
	After  string
	Ticked map[string]bool
	Fixed  string
	Remove bool
}

func targetKey(c alerts.Channel, group string) string { return string(c) + "." + group }

func (t tierForm) blank() bool {
	return t.After == "" && t.Fixed == "" && len(t.Ticked) == 0
}

// policyFormOf is p as the editor shows it.
func policyFormOf(p alerts.Policy) policyForm {
	f := policyForm{Priority: string(p.Priority), Team: string(p.Team)}
	if p.UnitID != 0 {
		f.Unit = idText(p.UnitID)
	}
	if p.Reminder != 0 {
		f.Reminder = settingsDurInput(p.Reminder)
	}
	for _, t := range p.Tiers {
		tf := tierForm{After: settingsDurInput(t.After), Ticked: map[string]bool{}}
		var fixed []string
		for _, tg := range t.Targets {
			if tg.Group != "" {
				tf.Ticked[targetKey(tg.Channel, tg.Group)] = true
			} else {
				fixed = append(fixed, string(tg.Channel)+":"+tg.Address)
			}
		}
		tf.Fixed = strings.Join(fixed, ", ")
		f.Tiers = append(f.Tiers, tf)
	}
	return f
}

// parsePolicyForms reads the escalation editor: "policies" policies
// "p<i>.<field>", each with "p<i>.tiers" tiers "p<i>.t<j>.<field>".
func parsePolicyForms(form url.Values) ([]policyForm, error) {
	n, err := settingsCount(form, "policies", maxPolicyFormRows+1)
	if err != nil {
		return nil, err
	}
	out := make([]policyForm, 0, n)
	for i := range n {
		pre := "p" + strconv.Itoa(i) + "."
		get := func(f string) string { return strings.TrimSpace(form.Get(pre + f)) }
		pf := policyForm{Priority: get("priority"), Unit: get("unit"), Team: get("team"), Reminder: get("reminder"), Remove: get("remove") != ""}
		nt, err := settingsCount(form, pre+"tiers", maxTierFormRows+1)
		if err != nil {
			return nil, err
		}
		for j := range nt {
			tpre := "t" + strconv.Itoa(j) + "."
			tf := tierForm{After: get(tpre + "after"), Fixed: get(tpre + "fixed"), Remove: get(tpre+"remove") != "", Ticked: map[string]bool{}}
			for _, c := range settingsChannels {
				for _, g := range settingsGroups {
					if get(tpre+targetKey(c, g)) != "" {
						tf.Ticked[targetKey(c, g)] = true
					}
				}
			}
			pf.Tiers = append(pf.Tiers, tf)
		}
		out = append(out, pf)
	}
	return out, nil
}

// parseFixedTargets reads "email:ops@example.org, webhook:pager".
func parseFixedTargets(s string) ([]alerts.Target, error) {
	var out []alerts.Target
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ch, addr, ok := strings.Cut(part, ":")
		c := alerts.Channel(strings.TrimSpace(strings.ToLower(ch)))
		addr = strings.TrimSpace(addr)
		switch {
		case !ok || !c.Valid() || addr == "":
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Fixed addresses are written channel:address, such as email:ops@example.org or webhook:pager; %q is not.", settingsClip(part, 60))
		case c == alerts.ChannelEmail && !strings.Contains(addr, "@"):
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "%q is not an e-mail address.", settingsClip(addr, 60))
		case len(addr) > 254:
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "An address is longer than 254 characters.")
		}
		out = append(out, alerts.Target{Channel: c, Address: addr})
		if len(out) > maxFixedTargets {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "A tier has at most %d fixed addresses.", maxFixedTargets)
		}
	}
	return out, nil
}

// policiesOf builds and validates the policies of the editor's forms,
// skipping removed and blank ones; units are the known unit IDs.
func policiesOf(forms []policyForm, units map[int64]bool) (alerts.Policies, error) {
	ps := alerts.Policies{}
	for i, f := range forms {
		if f.Remove || f.Priority == "" {
			continue
		}
		at := func(err error) error {
			e := wardwatch.Errorf(wardwatch.EINVALID, "Policy %d: %s", i+1, wardwatch.ErrorMessage(err))
			return e
		}
		p := alerts.Policy{Priority: alerts.Priority(f.Priority), Team: alerts.Team(f.Team)}
		if !p.Priority.Valid() {
			return nil, at(wardwatch.Errorf(wardwatch.EINVALID, "unknown priority %q.", settingsClip(f.Priority, 40)))
		}
		if p.Team != "" && !p.Team.Valid() {
			return nil, at(wardwatch.Errorf(wardwatch.EINVALID, "unknown team %q.", settingsClip(f.Team, 40)))
		}
		if f.Unit != "" {
			id, ok := parseID(f.Unit)
			if !ok || !units[id] {
				return nil, at(wardwatch.Errorf(wardwatch.EINVALID, "unknown unit %q.", settingsClip(f.Unit, 40)))
			}
			p.UnitID = id
		}
		var err error
		if p.Reminder, err = settingsDuration(f.Reminder, "Reminder"); err != nil {
			return nil, at(err)
		}
		for j, tf := range f.Tiers {
			if tf.Remove || tf.blank() {
				continue
			}
			t := alerts.Tier{}
			if t.After, err = settingsDuration(tf.After, fmt.Sprintf("Tier %d delay", j+1)); err != nil {
				return nil, at(err)
			}
			for _, c := range settingsChannels {
				for _, g := range settingsGroups {
					if tf.Ticked[targetKey(c, g)] {
						t.Targets = append(t.Targets, alerts.Target{Channel: c, Group: g})
					}
				}
			}
			fixed, err := parseFixedTargets(tf.Fixed)
			if err != nil {
				return nil, at(err)
			}
			t.Targets = append(t.Targets, fixed...)
			p.Tiers = append(p.Tiers, t)
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "Keep at least one policy; priorities without a policy of their own use the defaults.")
	}
	if err := ps.Validate(); err != nil {
		return nil, err
	}
	return ps, nil
}

// contactForm is the add/edit contact form as typed.
type contactForm struct {
	ID                                   int64
	Name, Group, Team, Unit, Email, Hook string
	Enabled                              bool
}

func contactFormOf(c alerts.Contact) contactForm {
	f := contactForm{ID: c.ID, Name: c.Name, Group: c.Group, Team: string(c.Team), Email: c.Email, Hook: c.Webhook, Enabled: c.Enabled}
	if c.UnitID != 0 {
		f.Unit = idText(c.UnitID)
	}
	return f
}

// contactOf reads a contact form; units are the known unit IDs.
func contactOf(f contactForm, units map[int64]bool) (alerts.Contact, error) {
	c := alerts.Contact{ID: f.ID, Name: f.Name, Group: f.Group, Team: alerts.Team(f.Team), Email: f.Email, Webhook: f.Hook, Enabled: f.Enabled}
	if f.Unit != "" {
		id, ok := parseID(f.Unit)
		if !ok || !units[id] {
			return c, wardwatch.Errorf(wardwatch.EINVALID, "Choose one of the units, or every unit.")
		}
		c.UnitID = id
	}
	if utf8.RuneCountInString(c.Name) > 100 {
		return c, wardwatch.Errorf(wardwatch.EINVALID, "The name is longer than 100 characters.")
	}
	return c, c.Validate()
}

// reachLine is one line of the "who is reached" preview: for alerts of a
// priority, team and unit scope, how many addresses each group reaches.
type reachLine struct {
	Text    string
	Nobody  bool // some group the policy pages reaches no one
	Details []string
}

// reachPreview says, for each team and unit scope with contacts (and each
// team at all when it has none), whom the policies' e-mail and webhook
// targets reach: "High alerts of pharmacy, any unit: team → 2 e-mail,
// 1 webhook".
func reachPreview(ps alerts.Policies, contacts []alerts.Contact, unitNames map[int64]string) []reachLine {
	var out []reachLine
	for _, team := range settingsTeams {
		scopes := []int64{0}
		for _, c := range contacts {
			if c.Team == team && c.UnitID != 0 && !slices.Contains(scopes, c.UnitID) {
				scopes = append(scopes, c.UnitID)
			}
		}
		slices.Sort(scopes[1:])
		for _, unit := range scopes {
			scope := "units without their own contacts"
			if unit != 0 {
				scope = cmp.Or(unitNames[unit], "unit "+idText(unit))
			}
			for _, pr := range alerts.Priorities() {
				pol := ps.For(unit, team, pr)
				var details []string
				nobody := false
				for _, g := range settingsGroups {
					counts := map[alerts.Channel]int{}
					uses := false
					for _, t := range pol.Tiers {
						for _, tg := range t.Targets {
							if tg.Group != g || tg.Channel == alerts.ChannelInApp {
								continue
							}
							uses = true
							n := alerts.Notification{Channel: tg.Channel, Group: g, Team: team, UnitID: unit}
							counts[tg.Channel] = max(counts[tg.Channel], len(alerts.Expand(n, contacts)))
						}
					}
					if !uses {
						continue
					}
					var parts []string
					if n, ok := counts[alerts.ChannelEmail]; ok {
						parts = append(parts, strconv.Itoa(n)+" e-mail")
					}
					if n, ok := counts[alerts.ChannelWebhook]; ok {
						parts = append(parts, strconv.Itoa(n)+" webhook")
					}
					total := counts[alerts.ChannelEmail] + counts[alerts.ChannelWebhook]
					if total == 0 {
						nobody = true
						details = append(details, settingsGroupLabel(g)+" → nobody")
					} else {
						details = append(details, settingsGroupLabel(g)+" → "+strings.Join(parts, ", "))
					}
				}
				if len(details) == 0 {
					continue
				}
				out = append(out, reachLine{
					Text:    fmt.Sprintf("%s alerts of %s, %s: %s", pr.Label(), strings.ToLower(team.Label()), scope, strings.Join(details, "; ")),
					Nobody:  nobody,
					Details: details,
				})
			}
		}
	}
	return out
}

type escalationView struct {
	Stored       bool
	Policies     []policyForm
	PolicyError  string
	Units        []wardwatch.MonitoredUnit
	UnitNames    map[int64]string
	Contacts     []alerts.Contact
	Contact      contactForm
	ContactError string
	Reach        []reachLine
	Notice       string
}

// withBlanks returns forms with one blank tier added to each policy (while
// it has fewer than the maximum) and one blank policy at the end.
func withBlanks(forms []policyForm) []policyForm {
	out := make([]policyForm, 0, len(forms)+1)
	for _, f := range forms {
		if f.Remove {
			continue
		}
		var tiers []tierForm
		for _, t := range f.Tiers {
			if !t.Remove && !t.blank() {
				tiers = append(tiers, t)
			}
		}
		if len(tiers) < maxTierFormRows {
			tiers = append(tiers, tierForm{Ticked: map[string]bool{}})
		}
		f.Tiers = tiers
		out = append(out, f)
	}
	if len(out) < maxPolicyFormRows {
		out = append(out, policyForm{Tiers: []tierForm{{Ticked: map[string]bool{}}}})
	}
	return out
}

// escalationView builds the escalation page; forms nil shows the policies
// in force.
func (a *alertAdmin) escalationView(ctx context.Context, forms []policyForm) (escalationView, error) {
	ps, err := a.settings.EscalationPolicies(ctx)
	if err != nil {
		return escalationView{}, fmt.Errorf("read escalation policies: %w", err)
	}
	cs, err := a.settings.Contacts(ctx)
	if err != nil {
		return escalationView{}, fmt.Errorf("read contacts: %w", err)
	}
	us, err := a.units(ctx)
	if err != nil {
		return escalationView{}, err
	}
	v := escalationView{Stored: ps != nil, Units: us, UnitNames: map[int64]string{}, Contacts: cs,
		Contact: contactForm{Group: alerts.GroupTeam, Team: string(alerts.TeamPharmacy), Enabled: true}}
	for _, u := range us {
		v.UnitNames[u.ID] = u.Name
	}
	if ps == nil {
		ps = alerts.DefaultPolicies()
	}
	if forms == nil {
		for _, p := range ps {
			forms = append(forms, policyFormOf(p))
		}
	}
	v.Policies = withBlanks(forms)
	v.Reach = reachPreview(ps, cs, v.UnitNames)
	slices.SortFunc(v.Contacts, func(x, y alerts.Contact) int {
		return cmp.Or(cmp.Compare(x.Team, y.Team), cmp.Compare(x.Group, y.Group), cmp.Compare(x.Name, y.Name))
	})
	return v, nil
}

func (a *alertAdmin) renderEscalation(w http.ResponseWriter, r *http.Request, status int, v escalationView) {
	p := newPageMeta(r, "Escalation and contacts")
	p.Nav = "admin"
	p.Scripts = append(p.Scripts, staticURL("alertadmin.js"))
	render(w, r, a.logger, status, escalationPage(p, v))
}

func (a *alertAdmin) handleEscalation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := a.escalationView(ctx, nil)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		if s := r.URL.Query().Get("contact"); s != "" {
			id, ok := parseID(s)
			i := slices.IndexFunc(v.Contacts, func(c alerts.Contact) bool { return c.ID == id })
			if !ok || i < 0 {
				renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such contact."))
				return
			}
			v.Contact = contactFormOf(v.Contacts[i])
		}
		switch r.URL.Query().Get("done") {
		case "saved":
			v.Notice = "Escalation policies saved."
		case "contact":
			v.Notice = "Contact saved."
		case "contact-deleted":
			v.Notice = "Contact deleted."
		}
		a.renderEscalation(w, r, http.StatusOK, v)
	})
}

func (a *alertAdmin) unitIDs(ctx context.Context) (map[int64]bool, error) {
	us, err := a.units(ctx)
	if err != nil {
		return nil, err
	}
	ids := make(map[int64]bool, len(us))
	for _, u := range us {
		ids[u.ID] = true
	}
	return ids, nil
}

// handleSaveEscalation saves the policies, or with op=add shows the editor
// again (removed rows gone, a blank tier per policy and a blank policy).
func (a *alertAdmin) handleSaveEscalation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		form, err := settingsForm(w, r, maxSettingsForm)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		forms, err := parsePolicyForms(form)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		if form.Get("op") == "add" {
			v, err := a.escalationView(ctx, forms)
			if err != nil {
				renderError(w, r, a.logger, err)
				return
			}
			a.renderEscalation(w, r, http.StatusOK, v)
			return
		}
		units, err := a.unitIDs(ctx)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		ps, err := policiesOf(forms, units)
		if err == nil {
			old, oerr := a.settings.EscalationPolicies(ctx)
			if oerr != nil {
				renderError(w, r, a.logger, fmt.Errorf("read escalation policies: %w", oerr))
				return
			}
			if err = a.settings.SetEscalationPolicies(ctx, ps); err == nil {
				a.audit.record(ctx, "update", "escalation_policies", "all", old, ps, fmt.Sprintf("%d policies", len(ps)))
				a.notify(ctx)
				http.Redirect(w, r, "/admin/alerts/escalation?done=saved", http.StatusSeeOther)
				return
			}
		}
		status := statusOf(err)
		if status < 400 || status >= 500 {
			renderError(w, r, a.logger, fmt.Errorf("save escalation policies: %w", err))
			return
		}
		v, verr := a.escalationView(ctx, forms)
		if verr != nil {
			renderError(w, r, a.logger, verr)
			return
		}
		logError(a.logger, r, status, err)
		v.PolicyError = wardwatch.ErrorMessage(err) + " Nothing was saved."
		a.renderEscalation(w, r, status, v)
	})
}

func (a *alertAdmin) handleSaveContact() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		vals, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		f := contactForm{Name: vals["name"], Group: vals["group"], Team: vals["team"], Unit: vals["unit"],
			Email: vals["email"], Hook: vals["webhook"], Enabled: vals["enabled"] != ""}
		var old any
		action := "create"
		if r.PathValue("id") != "" {
			action = "update"
			if f.ID, err = pathID(r); err != nil {
				renderError(w, r, a.logger, err)
				return
			}
			cs, cerr := a.settings.Contacts(ctx)
			if cerr != nil {
				renderError(w, r, a.logger, fmt.Errorf("read contacts: %w", cerr))
				return
			}
			i := slices.IndexFunc(cs, func(c alerts.Contact) bool { return c.ID == f.ID })
			if i < 0 {
				renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such contact."))
				return
			}
			old = cs[i]
		}
		units, err := a.unitIDs(ctx)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		c, err := contactOf(f, units)
		if err == nil {
			c.ID, err = a.settings.SaveContact(ctx, c)
		}
		if err != nil {
			status := statusOf(err)
			if status < 400 || status >= 500 || status == http.StatusNotFound {
				renderError(w, r, a.logger, fmt.Errorf("save contact: %w", err))
				return
			}
			v, verr := a.escalationView(ctx, nil)
			if verr != nil {
				renderError(w, r, a.logger, verr)
				return
			}
			logError(a.logger, r, status, err)
			v.Contact, v.ContactError = f, wardwatch.ErrorMessage(err)
			a.renderEscalation(w, r, status, v)
			return
		}
		a.audit.record(ctx, action, "alert_contact", c.ID, old, c, "")
		a.notify(ctx)
		http.Redirect(w, r, "/admin/alerts/escalation?done=contact#contacts", http.StatusSeeOther)
	})
}

func (a *alertAdmin) handleDeleteContact() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := parseAdminForm(w, r); err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		id, err := pathID(r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		cs, err := a.settings.Contacts(ctx)
		if err != nil {
			renderError(w, r, a.logger, fmt.Errorf("read contacts: %w", err))
			return
		}
		i := slices.IndexFunc(cs, func(c alerts.Contact) bool { return c.ID == id })
		if i < 0 {
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such contact."))
			return
		}
		if err := a.settings.DeleteContact(ctx, id); err != nil {
			renderError(w, r, a.logger, fmt.Errorf("delete contact %d: %w", id, err))
			return
		}
		a.audit.record(ctx, "delete", "alert_contact", id, cs[i], nil, "")
		a.notify(ctx)
		http.Redirect(w, r, "/admin/alerts/escalation?done=contact-deleted#contacts", http.StatusSeeOther)
	})
}

// ---- PAR levels ----

// parForm is the add/edit PAR level form as typed.
type parForm struct {
	ID, Name, Kind, CleanMin, SoiledMax string
	Clean, Soiled                       []int64
	Editing                             bool // the ID names an existing level
}

func parFormOf(p alerts.PARLevel) parForm {
	f := parForm{ID: p.ID, Name: p.Name, Kind: string(p.Kind), CleanMin: strconv.Itoa(p.CleanMin),
		Clean: slices.Clone(p.CleanZones), Soiled: slices.Clone(p.SoiledZones), Editing: true}
	if p.SoiledMax != nil {
		f.SoiledMax = strconv.Itoa(*p.SoiledMax)
	}
	return f
}

// parOf reads a PAR form against the known zones and validates it as the
// alert service will (alerts.NewAssetEvaluator refuses what the service
// would refuse).
func parOf(f parForm, zones map[int64]wardwatch.Zone, now time.Time) (alerts.PARLevel, error) {
	p := alerts.PARLevel{ID: strings.ToLower(f.ID), Name: f.Name, Kind: wardwatch.AssetKind(f.Kind),
		CleanZones: f.Clean, SoiledZones: f.Soiled}
	switch {
	case strings.TrimSpace(p.Name) == "":
		return p, wardwatch.Errorf(wardwatch.EINVALID, "A PAR level needs a name, such as “4B infusion pumps”.")
	case utf8.RuneCountInString(p.Name) > 100:
		return p, wardwatch.Errorf(wardwatch.EINVALID, "The name is longer than 100 characters.")
	case !p.Kind.Valid():
		return p, wardwatch.Errorf(wardwatch.EINVALID, "Choose the kind of equipment the level counts.")
	}
	for _, z := range slices.Concat(p.CleanZones, p.SoiledZones) {
		if _, ok := zones[z]; !ok {
			return p, wardwatch.Errorf(wardwatch.EINVALID, "Zone %d does not exist.", z)
		}
	}
	for _, z := range p.CleanZones {
		if slices.Contains(p.SoiledZones, z) {
			return p, wardwatch.Errorf(wardwatch.EINVALID, "%s cannot count as both clean and soiled.", zones[z].Name)
		}
	}
	var err error
	if p.CleanMin, err = parCount(f.CleanMin, "The clean minimum"); err != nil {
		return p, err
	}
	if f.SoiledMax != "" {
		n, err := parCount(f.SoiledMax, "The soiled maximum")
		if err != nil {
			return p, err
		}
		p.SoiledMax = &n
	}
	if len(p.CleanZones) == 0 && len(p.SoiledZones) == 0 {
		return p, wardwatch.Errorf(wardwatch.EINVALID, "Choose the clean or soiled zones the level counts.")
	}
	if _, err := alerts.NewAssetEvaluator(alerts.AssetConfig{PAR: []alerts.PARLevel{p}}, now); err != nil {
		return p, err
	}
	return p, nil
}

func parCount(s, label string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 10000 {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "%s must be a whole number from 0 to 10000.", label)
	}
	return n, nil
}

// settingsZoneIDs reads a multi-select of zone IDs.
func settingsZoneIDs(vs []string) ([]int64, error) {
	if len(vs) > 500 {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "Too many zones.")
	}
	var out []int64
	for _, s := range vs {
		id, ok := parseID(strings.TrimSpace(s))
		if !ok {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "The zone list is malformed.")
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// parRow is a PAR level as the list shows it.
type parRow struct {
	Level       alerts.PARLevel
	CleanZones  string
	SoiledZones string
	SoiledMax   string
}

type parView struct {
	Levels []parRow
	Zones  []wardwatch.Zone // by floor, then name
	Floors map[int64]string
	Form   parForm
	Error  string
	Notice string
}

func settingsZoneNames(ids []int64, zones map[int64]wardwatch.Zone) string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		if z, ok := zones[id]; ok {
			names = append(names, z.Name)
		} else {
			names = append(names, "zone "+idText(id)+" (deleted)")
		}
	}
	return strings.Join(names, ", ")
}

func (a *alertAdmin) parView(ctx context.Context) (parView, site, error) {
	s, err := loadSite(ctx, a.store)
	if err != nil {
		return parView{}, site{}, err
	}
	ls, err := a.settings.PARLevels(ctx)
	if err != nil {
		return parView{}, site{}, fmt.Errorf("read PAR levels: %w", err)
	}
	slices.SortFunc(ls, func(x, y alerts.PARLevel) int { return cmp.Compare(x.Name, y.Name) })
	v := parView{Zones: s.order, Floors: map[int64]string{}, Form: parForm{Kind: string(wardwatch.AssetInfusionPump)}}
	for id, f := range s.floors {
		v.Floors[id] = f.Name
	}
	for _, l := range ls {
		row := parRow{Level: l, CleanZones: settingsZoneNames(l.CleanZones, s.zones), SoiledZones: settingsZoneNames(l.SoiledZones, s.zones), SoiledMax: "none"}
		if l.SoiledMax != nil {
			row.SoiledMax = strconv.Itoa(*l.SoiledMax)
		}
		v.Levels = append(v.Levels, row)
	}
	return v, s, nil
}

func (a *alertAdmin) renderPAR(w http.ResponseWriter, r *http.Request, status int, v parView) {
	p := newPageMeta(r, "PAR levels")
	p.Nav = "admin"
	render(w, r, a.logger, status, parLevelsPage(p, v))
}

func (a *alertAdmin) handlePAR() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _, err := a.parView(r.Context())
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		if id := r.URL.Query().Get("edit"); id != "" {
			i := slices.IndexFunc(v.Levels, func(l parRow) bool { return l.Level.ID == id })
			if i < 0 {
				renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such PAR level."))
				return
			}
			v.Form = parFormOf(v.Levels[i].Level)
		}
		switch r.URL.Query().Get("done") {
		case "saved":
			v.Notice = "PAR level saved."
		case "deleted":
			v.Notice = "PAR level deleted."
		}
		a.renderPAR(w, r, http.StatusOK, v)
	})
}

func (a *alertAdmin) handleSavePAR() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		vals, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		f := parForm{ID: vals["id"], Name: vals["name"], Kind: vals["kind"], CleanMin: vals["clean_min"], SoiledMax: vals["soiled_max"],
			Editing: vals["editing"] != ""}
		v, s, err := a.parView(ctx)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		var p alerts.PARLevel
		f.Clean, err = settingsZoneIDs(r.PostForm["clean"])
		if err == nil {
			f.Soiled, err = settingsZoneIDs(r.PostForm["soiled"])
		}
		if err == nil {
			p, err = parOf(f, s.zones, a.now())
		}
		var old any
		i := slices.IndexFunc(v.Levels, func(l parRow) bool { return l.Level.ID == p.ID })
		if err == nil && i >= 0 && !f.Editing {
			err = wardwatch.Errorf(wardwatch.ECONFLICT, "A PAR level with ID %q exists already: choose another ID, or edit that one.", p.ID)
		}
		if err == nil {
			if i >= 0 {
				old = v.Levels[i].Level
			}
			err = a.settings.SavePARLevel(ctx, p)
		}
		if err != nil {
			status := statusOf(err)
			if status < 400 || status >= 500 {
				renderError(w, r, a.logger, fmt.Errorf("save PAR level: %w", err))
				return
			}
			logError(a.logger, r, status, err)
			v.Form, v.Error = f, wardwatch.ErrorMessage(err)
			a.renderPAR(w, r, status, v)
			return
		}
		action := "create"
		if old != nil {
			action = "update"
		}
		a.audit.record(ctx, action, "par_level", p.ID, old, p, "")
		a.notify(ctx)
		http.Redirect(w, r, "/admin/alerts/par?done=saved", http.StatusSeeOther)
	})
}

func (a *alertAdmin) handleDeletePAR() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := parseAdminForm(w, r); err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		id := r.PathValue("pid")
		ls, err := a.settings.PARLevels(ctx)
		if err != nil {
			renderError(w, r, a.logger, fmt.Errorf("read PAR levels: %w", err))
			return
		}
		i := slices.IndexFunc(ls, func(l alerts.PARLevel) bool { return l.ID == id })
		if i < 0 {
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such PAR level."))
			return
		}
		if err := a.settings.DeletePARLevel(ctx, id); err != nil {
			renderError(w, r, a.logger, fmt.Errorf("delete PAR level %q: %w", id, err))
			return
		}
		a.audit.record(ctx, "delete", "par_level", id, ls[i], nil, "")
		a.notify(ctx)
		http.Redirect(w, r, "/admin/alerts/par?done=deleted", http.StatusSeeOther)
	})
}

// ---- template helpers ----

func ruleField(i int, f string) string { return "r" + strconv.Itoa(i) + "." + f }

func policyField(i int, f string) string { return "p" + strconv.Itoa(i) + "." + f }

func tierField(i, j int, f string) string { return policyField(i, "t"+strconv.Itoa(j)+"."+f) }

// settingsPriorityMark is a priority's shape, shown beside its name so
// priority never rests on colour alone.
func settingsPriorityMark(p alerts.Priority) string {
	switch p {
	case alerts.PriorityCritical:
		return "◆"
	case alerts.PriorityHigh:
		return "▲"
	case alerts.PriorityMedium:
		return "●"
	case alerts.PriorityLow:
		return "▼"
	}
	return "○"
}

// ruleLimitText is a rule's condition as people read it: "above 8 °C",
// "outside 2–8 °C".
func ruleLimitText(r alerts.Rule) string {
	u := r.Metric.Unit()
	if u != "" {
		u = " " + u
	}
	switch r.Condition {
	case alerts.Outside:
		return "outside " + settingsNumInput(r.Low) + "–" + settingsNumInput(r.High) + u
	case alerts.Above:
		return "> " + settingsNumInput(r.Limit) + u
	case alerts.AtOrAbove:
		return "≥ " + settingsNumInput(r.Limit) + u
	case alerts.Below:
		return "< " + settingsNumInput(r.Limit) + u
	case alerts.AtOrBelow:
		return "≤ " + settingsNumInput(r.Limit) + u
	}
	return string(r.Condition)
}

// ruleDelayText is a rule's delay as people read it: "15m continuous",
// "30m within 2h", "at once".
func ruleDelayText(row ruleFormRow) string {
	if row.Delay == "0" || row.Delay == "" {
		return "at once"
	}
	if row.Mode == string(alerts.Cumulative) {
		return row.Delay + " in total within " + row.Window
	}
	return row.Delay + " without a break"
}

func zoneOption(z wardwatch.Zone, floors map[int64]string) string {
	if f := floors[z.FloorID]; f != "" {
		return z.Name + " (" + f + ")"
	}
	return z.Name
}
