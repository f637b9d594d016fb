package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
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

// AlertDesk is the alert service as the alert pages see it.
type AlertDesk interface {
	// Open returns the alerts in the book: open ones, including shelved,
	// suppressed and out-of-service, in no particular order.
	Open() []alerts.Alert
	// Alert returns one alert, open or closed, with its audit trail and
	// notification deliveries (ENOTFOUND).
	Alert(ctx context.Context, id int64) (AlertRecord, error)
	// History returns closed alerts, newest first.
	History(ctx context.Context, f AlertHistoryFilter) ([]alerts.Alert, error)
	Acknowledge(ctx context.Context, id int64, user string, roles []string, note string) error
	Shelve(ctx context.Context, id int64, user string, roles []string, reason string, d time.Duration) error
	Unshelve(ctx context.Context, id int64, user string, roles []string) error
	Resolve(ctx context.Context, id int64, user string, roles []string, res alerts.Resolution) error
	// Subscribe delivers inbox events until cancel is called. The channel
	// is buffered; a subscriber that falls behind misses events and
	// should reload (the event's Seq jumps).
	Subscribe() (events <-chan AlertEvent, cancel func())
	// Stock and PickList are the PAR levels' state and the pick list.
	Stock() []alerts.PARStatus
	PickList() []alerts.Pick
}

// AlertRecord is an alert with its history.
type AlertRecord struct {
	Alert      alerts.Alert
	Audit      []alerts.Audit
	Deliveries []AlertDelivery
}

// AlertDelivery is one notification sent (or that failed) for an alert.
type AlertDelivery struct {
	Channel  alerts.Channel
	Address  string // e-mail address or webhook endpoint name; "" in-app
	Tier     int
	Reminder bool
	At       time.Time
	Error    string // "" when delivered
}

// AlertHistoryFilter narrows History.
type AlertHistoryFilter struct {
	UnitID   int64
	Priority alerts.Priority
	From, To time.Time
	Limit    int
}

// AlertEvent is one change the inbox shows live.
type AlertEvent struct {
	Seq    uint64       // increases by one per event
	Alert  alerts.Alert // the alert as it now is (Closed() when it left the book)
	Notify bool         // an in-app notification fell due for it (announce it)
	Title  string       // the notification's one-line title when Notify
}

// Limits of the alert pages' inputs.
const (
	inboxMaxQuery     = 1024     // bytes in a filter query string
	inboxMaxForm      = 16 << 10 // bytes in an action form
	inboxMaxNote      = 1000     // characters in a note, reason or resolution field
	inboxMaxShelveMin = 24 * 60  // minutes; the Book enforces its own, lower maximum
	inboxHistoryLimit = 200      // closed alerts listed at most
	inboxMaxRange     = 366      // days a history range may span
)

// State groups of the inbox filter.
const (
	inboxGroupActive     = "active"
	inboxGroupUnack      = "unacknowledged"
	inboxGroupShelved    = "shelved"
	inboxGroupSuppressed = "suppressed"
	inboxGroupAll        = "all"
)

// inboxGroups lists the state groups with their labels, in the filter's
// order.
var inboxGroups = []struct{ Value, Label string }{
	{inboxGroupActive, "Active"},
	{inboxGroupUnack, "Unacknowledged"},
	{inboxGroupShelved, "Shelved"},
	{inboxGroupSuppressed, "Suppressed or out of service"},
	{inboxGroupAll, "All open"},
}

// inboxShelveChoices are the shelving times offered, in minutes.
var inboxShelveChoices = []struct {
	Minutes int
	Label   string
}{{15, "15 minutes"}, {30, "30 minutes"}, {60, "1 hour"}, {120, "2 hours"}, {240, "4 hours"}, {480, "8 hours"}}

// inboxFilter is the inbox's and history's filter, from the query string.
type inboxFilter struct {
	UnitID   int64
	Priority alerts.Priority // "" for any
	Group    string          // one of inboxGroups; history ignores it
	From, To string          // history only: days "2006-01-02" in the hospital's zone, "" for open
	// All ("scope=all") shows every care unit's alerts to a user scoped
	// to care units; without it the inbox shows theirs (and alerts of no
	// care unit) unless a unit is chosen.
	All bool
	// Scope is the viewer's care units (not from the query string).
	Scope []string
}

// scoped reports whether the inbox is limited to the viewer's care units.
func (f inboxFilter) scoped() bool { return len(f.Scope) > 0 && !f.All && f.UnitID == 0 }

// errInboxFilter is the answer to a query string that is not a filter.
func errInboxFilter(what string) error {
	return wardwatch.Errorf(wardwatch.EINVALID, "The filter's %s is not valid.", what)
}

// parseInboxFilter reads a filter from a query string. Unknown values are
// errors (EINVALID), so a typo never silently shows everything; unknown
// keys are ignored.
func parseInboxFilter(rawQuery string) (inboxFilter, error) {
	f := inboxFilter{Group: inboxGroupActive}
	if len(rawQuery) > inboxMaxQuery {
		return f, wardwatch.Errorf(wardwatch.EINVALID, "The filter is too long.")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return f, wardwatch.Errorf(wardwatch.EINVALID, "The filter could not be read.")
	}
	if s := q.Get("unit"); s != "" {
		id, ok := parseID(s)
		if !ok {
			return f, errInboxFilter("unit")
		}
		f.UnitID = id
	}
	if s := q.Get("priority"); s != "" {
		p := alerts.Priority(s)
		if !p.Valid() {
			return f, errInboxFilter("priority")
		}
		f.Priority = p
	}
	if s := q.Get("state"); s != "" {
		if !slices.ContainsFunc(inboxGroups, func(g struct{ Value, Label string }) bool { return g.Value == s }) {
			return f, errInboxFilter("state")
		}
		f.Group = s
	}
	switch q.Get("scope") {
	case "":
	case "all":
		f.All = true
	default:
		return f, errInboxFilter("scope")
	}
	for _, d := range []struct {
		key string
		dst *string
	}{{"from", &f.From}, {"to", &f.To}} {
		if s := q.Get(d.key); s != "" {
			if _, err := time.Parse(time.DateOnly, s); err != nil || len(s) != len(time.DateOnly) {
				return f, errInboxFilter(d.key + " date")
			}
			*d.dst = s
		}
	}
	return f, nil
}

// query is the filter as a query string ("" when it is the default), for
// links and the live reload.
func (f inboxFilter) query() string {
	q := url.Values{}
	if f.UnitID != 0 {
		q.Set("unit", strconv.FormatInt(f.UnitID, 10))
	}
	if f.Priority != "" {
		q.Set("priority", string(f.Priority))
	}
	if f.Group != "" && f.Group != inboxGroupActive {
		q.Set("state", f.Group)
	}
	if f.From != "" {
		q.Set("from", f.From)
	}
	if f.To != "" {
		q.Set("to", f.To)
	}
	if f.All {
		q.Set("scope", "all")
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// history turns the filter into History's, with the days read in loc: from
// the start of From to the end of To. EINVALID when the range is reversed
// or longer than a year.
func (f inboxFilter) history(loc *time.Location) (AlertHistoryFilter, error) {
	h := AlertHistoryFilter{UnitID: f.UnitID, Priority: f.Priority, Limit: inboxHistoryLimit}
	if f.From != "" {
		t, err := time.ParseInLocation(time.DateOnly, f.From, loc)
		if err != nil {
			return h, errInboxFilter("from date")
		}
		h.From = t.UTC()
	}
	if f.To != "" {
		t, err := time.ParseInLocation(time.DateOnly, f.To, loc)
		if err != nil {
			return h, errInboxFilter("to date")
		}
		h.To = t.AddDate(0, 0, 1).UTC()
	}
	if !h.From.IsZero() && !h.To.IsZero() {
		if !h.To.After(h.From) {
			return h, wardwatch.Errorf(wardwatch.EINVALID, "The start date is after the end date.")
		}
		if h.To.Sub(h.From) > inboxMaxRange*24*time.Hour+time.Hour {
			return h, wardwatch.Errorf(wardwatch.EINVALID, "Choose a range of at most a year.")
		}
	}
	return h, nil
}

// inboxInGroup reports whether a belongs to the filter's state group.
func inboxInGroup(group string, a alerts.Alert) bool {
	switch group {
	case inboxGroupUnack:
		return a.State == alerts.StateUnack || a.State == alerts.StateRTNUnack
	case inboxGroupShelved:
		return a.State == alerts.StateShelved
	case inboxGroupSuppressed:
		return inboxHidden(a)
	case inboxGroupAll:
		return true
	}
	return inboxAnnunciated(a)
}

// inboxAnnunciated reports whether a is shown in the inbox's main list:
// neither shelved nor suppressed nor out of service.
func inboxAnnunciated(a alerts.Alert) bool {
	switch a.State {
	case alerts.StateUnack, alerts.StateAck, alerts.StateRTNUnack, alerts.StateLatched:
		return true
	}
	return false
}

// inboxHidden reports whether a is suppressed or out of service.
func inboxHidden(a alerts.Alert) bool {
	return a.State == alerts.StateSuppressed || a.State == alerts.StateOutOfService
}

// sortInbox orders alerts for the inbox: unacknowledged first, then by
// priority, then newest raise first (ID breaking ties).
func sortInbox(as []alerts.Alert) {
	slices.SortFunc(as, func(x, y alerts.Alert) int {
		ux, uy := 1, 1
		if !x.Acked() {
			ux = 0
		}
		if !y.Acked() {
			uy = 0
		}
		return cmp.Or(cmp.Compare(ux, uy), cmp.Compare(x.Priority.Rank(), y.Priority.Rank()),
			y.RaisedAt.Compare(x.RaisedAt), cmp.Compare(y.ID, x.ID))
	})
}

// ---- views ----

// inboxUnit is a unit in the filter's choice.
type inboxUnit struct {
	ID   int64
	Name string
}

// inboxCount is the number of unacknowledged alerts of one priority.
type inboxCount struct {
	Priority alerts.Priority
	N        int
	Link     string
}

// inboxRow is one alert as the lists show it.
type inboxRow struct {
	ID         int64
	Priority   alerts.Priority
	State      alerts.State
	Rule       string
	Subject    string
	Message    string
	Unit       string
	Value      string // latest value with its unit; "" when none
	Extreme    string // "peak 10.1 °C"; "" when none
	Age        string // "12 min ago"
	Since      string // local time of the latest raise
	SinceISO   string
	Retriggers int
	Unacked    bool
	CanAck     bool
	Closed     string // history: when it closed, local time
	ClosedBy   string // history: who acknowledged or resolved it
}

// inboxView is the inbox page and its live part.
type inboxView struct {
	Filter     inboxFilter
	Query      string
	Units      []inboxUnit
	Counts     []inboxCount
	Rows       []inboxRow
	Hidden     []inboxRow // shelved and suppressed, listed in their own section (state "all")
	NShelved   int        // shelved alerts outside the list (matching unit and priority)
	NSuppress  int        // suppressed or out-of-service ones likewise
	CanAct     bool
	GroupLabel string
	Empty      string // what an empty list says
	// ScopeText names the viewer's care units ("4B") when they have any;
	// ScopeLink toggles between their units and all ("show all").
	ScopeText  string
	ScopeLink  string
	ScopeLabel string
}

// inboxSite is what formatting needs: unit names, the zone, the clock,
// and the care units of monitored units with the care units the viewer
// may act in (nil: any).
type inboxSite struct {
	units map[int64]string
	loc   *time.Location
	now   time.Time
	care  map[int64]string // monitored unit → care unit; absent: none
	limit []string         // the viewer's care units when acting is limited
}

// mayAct reports whether the viewer's scope lets them act on a: alerts of
// no care unit are open to everyone.
func (s inboxSite) mayAct(a alerts.Alert) bool {
	c := s.care[a.UnitID]
	return len(s.limit) == 0 || c == "" || slices.Contains(s.limit, c)
}

func (s inboxSite) unitName(id int64) string {
	if id == 0 {
		return ""
	}
	if n, ok := s.units[id]; ok {
		return n
	}
	return "Unit " + strconv.FormatInt(id, 10)
}

// inboxTime formats t in the hospital's zone; "—" for the zero time.
func inboxTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
}

// inboxShortTime is inboxTime for table cells: "Mon 2 Mar 10:50".
func inboxShortTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(loc).Format("Mon 2 Jan 15:04")
}

// inboxISO is t for a <time datetime>; "" for the zero time.
func inboxISO(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// inboxValues formats an alert's latest value and its extreme beyond the
// limit ("peak 10.1 °C" for high limits, "lowest 1.2 °C" for low ones).
func inboxValues(a alerts.Alert) (value, extreme string) {
	m := a.Rule.Metric
	text := func(v float64) string {
		if m != "" {
			return formatValue(m, v)
		}
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	ok := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if ok(a.Value) {
		value = text(a.Value)
	}
	if m == wardwatch.MetricDoorOpen || m == wardwatch.MetricAlarm {
		return value, ""
	}
	switch a.Rule.Condition {
	case alerts.Below, alerts.AtOrBelow:
		if ok(a.Trough) {
			extreme = "lowest " + text(a.Trough)
		}
	case alerts.Outside:
		if ok(a.Trough) && a.Trough < a.Rule.Low {
			extreme = "lowest " + text(a.Trough)
		}
		if ok(a.Peak) && a.Peak > a.Rule.High {
			extreme = strings.TrimPrefix(extreme+", peak "+text(a.Peak), ", ")
		}
	default:
		if ok(a.Peak) && m != "" {
			extreme = "peak " + text(a.Peak)
		}
	}
	return value, extreme
}

// newInboxRow formats a for the lists; canAck says whether the viewer may
// acknowledge alerts.
func newInboxRow(a alerts.Alert, s inboxSite, canAck bool) inboxRow {
	value, extreme := inboxValues(a)
	since := a.RaisedAt
	if since.IsZero() {
		since = a.OpenedAt
	}
	r := inboxRow{
		ID: a.ID, Priority: a.Priority, State: a.State, Rule: a.Rule.Name, Subject: a.SubjectName,
		Message: a.Message, Unit: s.unitName(a.UnitID), Value: value, Extreme: extreme,
		Age: formatAge(s.now.Sub(since)), Since: inboxShortTime(since, s.loc), SinceISO: inboxISO(since),
		Retriggers: a.Retriggers, Unacked: !a.Acked() && !a.Closed(),
	}
	if r.Rule == "" {
		r.Rule = a.Key.Rule
	}
	if r.Subject == "" {
		r.Subject = a.Key.Subject.String()
	}
	r.CanAck = canAck && r.Unacked && s.mayAct(a)
	if a.Closed() {
		r.Closed = inboxTime(a.ClosedAt, s.loc)
		r.ClosedBy = cmp.Or(a.Resolution.By, a.AckedBy)
	}
	return r
}

// buildInbox assembles the inbox from the open alerts. Pure.
func buildInbox(open []alerts.Alert, f inboxFilter, s inboxSite, canAct bool) inboxView {
	v := inboxView{Filter: f, Query: f.query(), CanAct: canAct}
	for _, g := range inboxGroups {
		if g.Value == f.Group {
			v.GroupLabel = g.Label
		}
	}
	v.Empty = map[string]string{
		inboxGroupActive:     "No active alerts",
		inboxGroupUnack:      "No unacknowledged alerts",
		inboxGroupShelved:    "No shelved alerts",
		inboxGroupSuppressed: "No suppressed or out-of-service alerts",
		inboxGroupAll:        "No open alerts",
	}[f.Group]
	if f.UnitID != 0 || f.Priority != "" || f.scoped() {
		v.Empty += " match this filter"
	}
	if len(f.Scope) > 0 && f.UnitID == 0 {
		tf := f
		tf.All = !f.All
		v.ScopeLink = "/alerts" + tf.query()
		if f.All {
			v.ScopeText, v.ScopeLabel = "all care units", "show "+scopeText(f.Scope)+" only"
		} else {
			v.ScopeText, v.ScopeLabel = scopeText(f.Scope), "show all"
		}
	}
	v.Empty += "."
	counts := make(map[alerts.Priority]int)
	var main, hidden []alerts.Alert
	for _, a := range open {
		if a.Closed() || (f.UnitID != 0 && a.UnitID != f.UnitID) {
			continue
		}
		if c := s.care[a.UnitID]; f.scoped() && c != "" && !slices.Contains(f.Scope, c) {
			continue
		}
		if a.State == alerts.StateUnack || a.State == alerts.StateRTNUnack {
			counts[a.Priority]++
		}
		if f.Priority != "" && a.Priority != f.Priority {
			continue
		}
		switch {
		case f.Group == inboxGroupAll && !inboxAnnunciated(a):
			hidden = append(hidden, a)
		case inboxInGroup(f.Group, a):
			main = append(main, a)
		case a.State == alerts.StateShelved:
			v.NShelved++
		case inboxHidden(a):
			v.NSuppress++
		}
	}
	for _, p := range alerts.Priorities() {
		cf := inboxFilter{UnitID: f.UnitID, Priority: p, Group: inboxGroupUnack, All: f.All}
		v.Counts = append(v.Counts, inboxCount{Priority: p, N: counts[p], Link: "/alerts" + cf.query()})
	}
	sortInbox(main)
	sortInbox(hidden)
	for _, a := range main {
		v.Rows = append(v.Rows, newInboxRow(a, s, canAct))
	}
	for _, a := range hidden {
		v.Hidden = append(v.Hidden, newInboxRow(a, s, canAct))
	}
	return v
}

// with returns the filter's link with the state group changed.
func (v inboxView) with(group string) string {
	f := v.Filter
	f.Group = group
	return "/alerts" + f.query()
}

// inboxPath is the URL of alert id's page.
func inboxPath(id int64) string { return "/alerts/" + strconv.FormatInt(id, 10) }

// ---- detail ----

// inboxAuditRow is one line of an alert's audit trail.
type inboxAuditRow struct {
	When, WhenISO string
	User          string
	Action        string
	From, To      string
	Reason        string
}

// inboxDeliveryRow is one notification of an alert.
type inboxDeliveryRow struct {
	When, WhenISO string
	Channel       string
	To            string
	Tier          int
	Reminder      bool
	Error         string
}

// inboxChart is the excursion chart of a threshold alert on a sensor.
type inboxChart struct {
	Src string
	Alt string
}

// inboxForm is what a failed action leaves on the detail page: which form,
// the message, and the values typed.
type inboxForm struct {
	Action  string // "acknowledge", "shelve", "unshelve", "resolve"
	Error   string
	Note    string
	Reason  string
	Minutes int
	Cause   string
	Done    string // the resolution's action taken
	Dispose string
}

// inboxDetailView is the alert detail page.
type inboxDetailView struct {
	A          alerts.Alert
	Row        inboxRow
	Unit       string
	Team       string
	Times      []inboxFact
	Facts      []inboxFact
	Audit      []inboxAuditRow
	Deliveries []inboxDeliveryRow
	Chart      *inboxChart
	CanAck     bool
	CanShelve  bool
	CanUnshelf bool
	CanResolve bool
	Form       inboxForm
	TopError   string // a failed action's message when its form is not shown
	ScopeNote  string // why a scoped viewer cannot act on this alert; "" when they can
}

// inboxFact is one labelled value of the detail page.
type inboxFact struct {
	Label, Value, ISO string
}

// inboxActionLabel is an audited action as users read it.
func inboxActionLabel(a alerts.Action) string {
	switch a {
	case alerts.ActionRaise:
		return "Raised"
	case alerts.ActionClear:
		return "Cleared"
	case alerts.ActionAcknowledge:
		return "Acknowledged"
	case alerts.ActionDecline:
		return "Declined"
	case alerts.ActionShelve:
		return "Shelved"
	case alerts.ActionUnshelve:
		return "Unshelved"
	case alerts.ActionSuppress:
		return "Suppressed"
	case alerts.ActionUnsuppress:
		return "Unsuppressed"
	case alerts.ActionResolve:
		return "Resolved"
	}
	return string(a)
}

// inboxChannelLabel is a delivery channel as users read it.
func inboxChannelLabel(c alerts.Channel) string {
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

// inboxSuppressionLabel says why an alert is suppressed.
func inboxSuppressionLabel(k alerts.SuppressionKind) string {
	switch k {
	case alerts.SuppressDesign:
		return "By design (parent offline)"
	case alerts.SuppressDefrost:
		return "Defrost window"
	case alerts.SuppressMaintenance:
		return "Maintenance window"
	case alerts.SuppressOutOfService:
		return "Out of service"
	}
	return string(k)
}

// inboxLimits returns the limits a threshold rule draws on a chart;
// NaN when it has none on that side.
func inboxLimits(r alerts.Rule) (low, high float64) {
	low, high = math.NaN(), math.NaN()
	switch r.Condition {
	case alerts.Above, alerts.AtOrAbove:
		high = r.Limit
	case alerts.Below, alerts.AtOrBelow:
		low = r.Limit
	case alerts.Outside:
		low, high = r.Low, r.High
	}
	return low, high
}

// inboxExcursionChart is the chart of a threshold alert on a sensor: from an
// hour before the condition began to an hour after it cleared (or now),
// with the rule's limits. Nil for other alerts.
func inboxExcursionChart(a alerts.Alert, s inboxSite) *inboxChart {
	if a.Rule.Metric == "" || a.Key.Subject.Kind != alerts.SubjectSensor || a.Key.Subject.ID == "" {
		return nil
	}
	start := cmp.Or(a.ConditionSince, a.RaisedAt, a.OpenedAt)
	if start.IsZero() {
		return nil
	}
	from := start.Add(-time.Hour)
	to := s.now
	if !a.ClearedAt.IsZero() && a.ClearedAt.Add(time.Hour).Before(s.now) {
		to = a.ClearedAt.Add(time.Hour)
	}
	if !to.After(from) {
		to = from.Add(2 * time.Hour)
	}
	q := url.Values{}
	q.Set("sensor", a.Key.Subject.ID)
	q.Set("metric", string(a.Rule.Metric))
	q.Set("from", from.UTC().Format(time.RFC3339))
	q.Set("to", to.UTC().Format(time.RFC3339))
	low, high := inboxLimits(a.Rule)
	var limits []string
	if !math.IsNaN(low) && !math.IsInf(low, 0) {
		q.Set("low", strconv.FormatFloat(low, 'f', -1, 64))
		limits = append(limits, "low limit "+formatValue(a.Rule.Metric, low))
	}
	if !math.IsNaN(high) && !math.IsInf(high, 0) {
		q.Set("high", strconv.FormatFloat(high, 'f', -1, 64))
		limits = append(limits, "high limit "+formatValue(a.Rule.Metric, high))
	}
	alt := fmt.Sprintf("Chart of %s readings of %s from %s to %s", a.Rule.Metric, cmp.Or(a.SubjectName, a.Key.Subject.ID),
		inboxTime(from, s.loc), inboxTime(to, s.loc))
	if len(limits) > 0 {
		alt += ", with the " + strings.Join(limits, " and ")
	}
	if _, extreme := inboxValues(a); extreme != "" {
		alt += "; " + extreme
	}
	return &inboxChart{Src: "/records/chart.svg?" + q.Encode(), Alt: alt + "."}
}

// buildInboxDetail assembles the detail page of rec for a viewer with roles.
// Pure.
func buildInboxDetail(rec AlertRecord, s inboxSite, roles []string, canAct bool) inboxDetailView {
	a := rec.Alert
	v := inboxDetailView{A: a, Row: newInboxRow(a, s, canAct), Unit: s.unitName(a.UnitID), Team: a.Team.Label()}
	t := func(label string, at time.Time) {
		if !at.IsZero() {
			v.Times = append(v.Times, inboxFact{Label: label, Value: inboxTime(at, s.loc), ISO: inboxISO(at)})
		}
	}
	t("Opened", a.OpenedAt)
	t("Condition began", a.ConditionSince)
	t("Latest raise", a.RaisedAt)
	t("Cleared", a.ClearedAt)
	t("Acknowledged", a.AckedAt)
	t("Closed", a.ClosedAt)
	f := func(label, value string) {
		if value != "" {
			v.Facts = append(v.Facts, inboxFact{Label: label, Value: value})
		}
	}
	f("Condition", map[bool]string{true: "Active", false: "Returned to normal"}[a.Active])
	f("Latest value", v.Row.Value)
	f("Furthest beyond the limit", v.Row.Extreme)
	if !math.IsNaN(a.Peak) && !math.IsNaN(a.Trough) && a.Rule.Metric != "" &&
		a.Rule.Metric != wardwatch.MetricDoorOpen && a.Rule.Metric != wardwatch.MetricAlarm {
		f("Range seen", formatValue(a.Rule.Metric, a.Trough)+" to "+formatValue(a.Rule.Metric, a.Peak))
	}
	f("Re-triggers", strconv.Itoa(a.Retriggers))
	if a.Rule.Latched {
		f("Compliance", "Latched: stays open until resolved with a note")
	}
	if a.Acked() {
		f("Acknowledged by", a.AckedBy)
	}
	if a.Shelved() {
		f("Shelved by", a.Shelf.By)
		f("Shelving reason", a.Shelf.Reason)
		f("Shelved until", inboxTime(a.Shelf.Until, s.loc))
	}
	if !a.Suppression.IsZero() {
		f("Suppressed", inboxSuppressionLabel(a.Suppression.Kind))
		f("Suppression reason", a.Suppression.Reason)
		if !a.Suppression.Until.IsZero() {
			f("Suppressed until", inboxTime(a.Suppression.Until, s.loc))
		}
	}
	if !a.Resolution.At.IsZero() {
		f("Resolved by", a.Resolution.By)
		f("Resolved at", inboxTime(a.Resolution.At, s.loc))
		f("Cause", a.Resolution.Cause)
		f("Action taken", a.Resolution.Action)
		f("Product disposition", a.Resolution.Disposition)
	}
	for _, au := range rec.Audit {
		v.Audit = append(v.Audit, inboxAuditRow{When: inboxTime(au.Time, s.loc), WhenISO: inboxISO(au.Time),
			User: au.User, Action: inboxActionLabel(au.Action), From: au.From.Label(), To: au.To.Label(), Reason: au.Reason})
	}
	for _, d := range rec.Deliveries {
		to := d.Address
		if to == "" {
			to = "Alert inbox"
		}
		v.Deliveries = append(v.Deliveries, inboxDeliveryRow{When: inboxTime(d.At, s.loc), WhenISO: inboxISO(d.At),
			Channel: inboxChannelLabel(d.Channel), To: to, Tier: d.Tier, Reminder: d.Reminder, Error: d.Error})
	}
	v.Chart = inboxExcursionChart(a, s)
	if !a.Closed() && canAct {
		v.CanAck = !a.Acked()
		switch a.State {
		case alerts.StateUnack, alerts.StateAck, alerts.StateRTNUnack:
			v.CanShelve = true
		}
		v.CanUnshelf = a.Shelved()
		v.CanResolve = a.Rule.Latched && !a.Active && alerts.DefaultCanResolve(roles, a)
	}
	v.Form.Minutes = int(alerts.DefaultShelve / time.Minute)
	return v
}

// ---- stock ----

// inboxStockRow is one PAR level.
type inboxStockRow struct {
	Name       string
	Kind       string
	Clean      int
	CleanMin   int
	Soiled     int
	SoiledMax  string // "" when none
	CleanLow   bool
	SoiledHigh bool
}

// inboxPickRow is one line of the pick list.
type inboxPickRow struct {
	Restock  bool
	Action   string
	Asset    string
	AssetID  int64
	PAR      string
	From, To string
	LastSeen string
}

// inboxStockView is the PAR page.
type inboxStockView struct {
	Levels []inboxStockRow
	Picks  []inboxPickRow
}

// buildInboxStock assembles the PAR page: levels out of bounds first, then by
// name; the pick list in the order the evaluator chose. Pure.
func buildInboxStock(levels []alerts.PARStatus, picks []alerts.Pick, now time.Time) inboxStockView {
	var v inboxStockView
	levels = slices.Clone(levels)
	slices.SortStableFunc(levels, func(x, y alerts.PARStatus) int {
		px, py := 1, 1
		if x.CleanLow || x.SoiledHigh {
			px = 0
		}
		if y.CleanLow || y.SoiledHigh {
			py = 0
		}
		return cmp.Or(cmp.Compare(px, py), strings.Compare(x.Level.Name, y.Level.Name), strings.Compare(x.Level.ID, y.Level.ID))
	})
	for _, l := range levels {
		r := inboxStockRow{Name: cmp.Or(l.Level.Name, l.Level.ID), Kind: l.Level.Kind.Label(), Clean: l.Clean,
			CleanMin: l.Level.CleanMin, Soiled: l.Soiled, CleanLow: l.CleanLow, SoiledHigh: l.SoiledHigh}
		if l.Level.SoiledMax != nil {
			r.SoiledMax = strconv.Itoa(*l.Level.SoiledMax)
		}
		v.Levels = append(v.Levels, r)
	}
	for _, p := range picks {
		r := inboxPickRow{Restock: p.Action == alerts.PickRestock, Asset: p.AssetName, AssetID: p.AssetID,
			PAR: cmp.Or(p.PARName, p.PAR), From: cmp.Or(p.FromZone, "unknown place"), To: p.ToZone}
		if r.Restock {
			r.Action = "Restock"
		} else {
			r.Action = "Collect"
		}
		if r.To == "" {
			if r.Restock {
				r.To = "the PAR room"
			} else {
				r.To = "decontamination"
			}
		}
		if r.Asset == "" {
			r.Asset = "Asset " + strconv.FormatInt(p.AssetID, 10)
		}
		if !p.LastSeen.IsZero() {
			r.LastSeen = formatAge(now.Sub(p.LastSeen))
		}
		v.Picks = append(v.Picks, r)
	}
	return v
}

// ---- handlers ----

// inboxUnitLister lists the monitored units, for unit names and the filter.
type inboxUnitLister interface {
	Units(ctx context.Context) ([]wardwatch.MonitoredUnit, error)
}

// alertPages serves the alert inbox, history, detail, actions and PAR
// page.
type alertPages struct {
	logger *slog.Logger
	desk   AlertDesk
	units  inboxUnitLister // nil: no unit names, no unit filter
	zones  ZoneLister      // nil: no care units (no scoping)
	loc    *time.Location
	now    func() time.Time
}

// site loads the unit names. A failing unit list is logged and shown as
// unit numbers: the alerts matter more than their units' names.
func (p *alertPages) site(ctx context.Context) (inboxSite, []inboxUnit) {
	s := inboxSite{units: map[int64]string{}, loc: p.loc, now: p.now()}
	if p.units == nil {
		return s, nil
	}
	us, err := p.units.Units(ctx)
	if err != nil {
		p.logger.LogAttrs(ctx, slog.LevelWarn, "alert pages: list units", slog.String("error", err.Error()))
		return s, nil
	}
	list := make([]inboxUnit, 0, len(us))
	for _, u := range us {
		s.units[u.ID] = u.Name
		list = append(list, inboxUnit{ID: u.ID, Name: u.Name})
	}
	if p.zones != nil {
		byZone, _, err := zoneCareUnits(ctx, p.zones)
		if err != nil {
			p.logger.LogAttrs(ctx, slog.LevelWarn, "alert pages: care units", slog.String("error", err.Error()))
		} else {
			s.care = unitCareUnits(us, byZone)
		}
	}
	if vw := viewerFrom(ctx); vw != nil && vw.User.Scoped() && vw.APIToken == 0 {
		s.limit = vw.User.Units
	}
	slices.SortFunc(list, func(x, y inboxUnit) int { return cmp.Or(strings.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID)) })
	return s, list
}

// inbox builds the inbox for r, or returns the filter's error.
func (p *alertPages) inbox(r *http.Request) (inboxView, error) {
	f, err := parseInboxFilter(r.URL.RawQuery)
	if err != nil {
		return inboxView{}, err
	}
	s, units := p.site(r.Context())
	f.Scope = scopeUnits(viewerFrom(r.Context()))
	v := buildInbox(p.desk.Open(), f, s, viewerFrom(r.Context()).can(permAlertAct))
	v.Units = units
	return v, nil
}

func (p *alertPages) handleInbox() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := p.inbox(r)
		if err != nil {
			renderError(w, r, p.logger, err)
			return
		}
		m := newPageMeta(r, "Alerts")
		m.Nav = "alerts"
		m.Scripts = []string{staticURL("vendor/htmx/htmx.min.js"), staticURL("alerts.js")}
		w.Header().Set("Cache-Control", "no-store")
		render(w, r, p.logger, http.StatusOK, inboxPage(m, v))
	})
}

// handleRows serves the inbox's live part alone, for alerts.js.
// rowsFor renders the inbox's live part as the inbox page at path (with
// its filters) would show it.
func (p *alertPages) rowsFor(w http.ResponseWriter, r *http.Request, path string) {
	u, err := url.Parse(path)
	if err != nil {
		renderError(w, r, p.logger, err)
		return
	}
	r2 := r.Clone(r.Context())
	r2.Method, r2.URL, r2.Form, r2.PostForm = http.MethodGet, u, nil, nil
	v, err := p.inbox(r2)
	if err != nil {
		renderError(w, r, p.logger, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	render(w, r, p.logger, http.StatusOK, inboxLive(v))
}

func (p *alertPages) handleRows() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := p.inbox(r)
		if err != nil {
			apiError(w, r, p.logger, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		render(w, r, p.logger, http.StatusOK, inboxLive(v))
	})
}

// inboxHistoryView is the closed-alerts page.
type inboxHistoryView struct {
	Filter inboxFilter
	Units  []inboxUnit
	Rows   []inboxRow
	Limit  int
	Error  string
}

func (p *alertPages) handleHistory() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		m := newPageMeta(r, "Alert history")
		m.Nav = "alerts"
		s, units := p.site(ctx)
		v := inboxHistoryView{Units: units, Limit: inboxHistoryLimit}
		f, err := parseInboxFilter(r.URL.RawQuery)
		var hf AlertHistoryFilter
		if err == nil {
			hf, err = f.history(p.loc)
		}
		if err != nil {
			logError(p.logger, r, statusOf(err), err)
			v.Filter = inboxFilter{}
			v.Error = wardwatch.ErrorMessage(err)
			render(w, r, p.logger, statusOf(err), inboxHistoryPage(m, v))
			return
		}
		v.Filter = f
		closed, err := p.desk.History(ctx, hf)
		if err != nil {
			renderError(w, r, p.logger, fmt.Errorf("alert history: %w", err))
			return
		}
		for _, a := range closed {
			v.Rows = append(v.Rows, newInboxRow(a, s, false))
		}
		render(w, r, p.logger, http.StatusOK, inboxHistoryPage(m, v))
	})
}

// detail renders alert id's page with status and the form state.
func (p *alertPages) detail(w http.ResponseWriter, r *http.Request, id int64, status int, form inboxForm) {
	ctx := r.Context()
	rec, err := p.desk.Alert(ctx, id)
	if err != nil {
		if wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
			err = fmt.Errorf("alert %d: %w", id, err)
		}
		renderError(w, r, p.logger, err)
		return
	}
	s, _ := p.site(ctx)
	vw := viewerFrom(ctx)
	var roles []string
	if vw != nil {
		roles = []string{string(vw.User.Role)}
	}
	scopeErr := checkScope(vw, "alert", s.care[rec.Alert.UnitID])
	v := buildInboxDetail(rec, s, roles, vw.can(permAlertAct) && scopeErr == nil)
	if scopeErr != nil && !rec.Alert.Closed() {
		v.ScopeNote = wardwatch.ErrorMessage(scopeErr)
	}
	if form.Action != "" {
		form.Minutes = cmp.Or(form.Minutes, v.Form.Minutes)
		v.Form = form
		shown := map[string]bool{"acknowledge": v.CanAck, "shelve": v.CanShelve, "unshelve": v.CanUnshelf, "resolve": v.CanResolve}
		if !shown[form.Action] {
			// The alert changed meanwhile (acknowledged by someone else…):
			// say so above everything.
			v.TopError = form.Error
		}
	}
	title := cmp.Or(rec.Alert.Rule.Name, "Alert") + " — " + cmp.Or(rec.Alert.SubjectName, rec.Alert.Key.Subject.ID)
	m := newPageMeta(r, title)
	m.Nav = "alerts"
	m.Scripts = []string{staticURL("vendor/htmx/htmx.min.js"), staticURL("alerts.js")}
	w.Header().Set("Cache-Control", "no-store")
	render(w, r, p.logger, status, inboxDetailPage(m, v))
}

func (p *alertPages) handleDetail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := parseID(r.PathValue("id"))
		if !ok {
			renderError(w, r, p.logger, errInboxNoAlert)
			return
		}
		p.detail(w, r, id, http.StatusOK, inboxForm{})
	})
}

// errInboxNoAlert answers a malformed or unknown alert id.
var errInboxNoAlert = wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such alert.")

// inboxText reads a free-text form field: trimmed, valid UTF-8, no control
// characters but line breaks and tabs, at most inboxMaxNote characters
// (like the textarea's maxlength; the form's byte limit bounds the rest),
// and present when required. label names it in the error.
func inboxText(form url.Values, name, label string, required bool) (string, error) {
	vs := form[name]
	if len(vs) > 1 {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "%s was sent twice.", label)
	}
	var v string
	if len(vs) == 1 {
		v = strings.TrimSpace(vs[0])
	}
	switch {
	case !utf8.ValidString(v):
		return "", wardwatch.Errorf(wardwatch.EINVALID, "%s contains characters that are not text.", label)
	case utf8.RuneCountInString(v) > inboxMaxNote:
		return "", wardwatch.Errorf(wardwatch.EINVALID, "%s is longer than %d characters.", label, inboxMaxNote)
	case required && v == "":
		return "", wardwatch.Errorf(wardwatch.EINVALID, "%s is required.", label)
	}
	for _, c := range v {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7f || c >= 0x80 && c < 0xa0 || c == 0x2028 || c == 0x2029 {
			return "", wardwatch.Errorf(wardwatch.EINVALID, "%s contains control characters.", label)
		}
	}
	return v, nil
}

// parseShelveMinutes reads the shelving time: a whole number of minutes
// in canonical form, 1 to inboxMaxShelveMin. The Book enforces its own
// maximum.
func parseShelveMinutes(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "Choose how long to shelve the alert.")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > inboxMaxShelveMin || strconv.Itoa(n) != s {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "The shelving time is not valid.")
	}
	return time.Duration(n) * time.Minute, nil
}

// inboxReturnPath is where an action sends the browser back to: the page
// it came from when that is an alert page of this site, else the alert's
// detail page.
func inboxReturnPath(r *http.Request, id int64) string {
	def := inboxPath(id)
	ref := r.Header.Get("Referer")
	if ref == "" || len(ref) > 2048 {
		return def
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host != r.Host || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return def
	}
	if u.Path != "/alerts" && !strings.HasPrefix(u.Path, "/alerts/") {
		return def
	}
	if u.Path == "/alerts/rows" || u.Path == "/alerts/live" {
		return def
	}
	next := u.EscapedPath()
	if u.RawQuery != "" {
		next += "?" + u.RawQuery
	}
	if safeNext(next) != next {
		return def
	}
	return next
}

// inboxActionFunc is one POST action: it reads its fields from the form and
// calls the desk, returning the form state to show again on failure.
type inboxActionFunc func(ctx context.Context, id int64, user string, roles []string, form url.Values) (inboxForm, error)

// handleAction runs do for the alert in the path and redirects back, or
// shows the error: on the detail page's form for invalid input and
// conflicts, as an error page otherwise (403, 404, 500).
func (p *alertPages) handleAction(name string, do inboxActionFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, ok := parseID(r.PathValue("id"))
		if !ok {
			renderError(w, r, p.logger, errInboxNoAlert)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, inboxMaxForm)
		if err := r.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				renderError(w, r, p.logger, wardwatch.Errorf(wardwatch.ETOOLARGE, "The form is too large."))
				return
			}
			renderError(w, r, p.logger, wardwatch.Errorf(wardwatch.EINVALID, "The form could not be read."))
			return
		}
		vw := viewerFrom(ctx)
		if vw == nil || !vw.can(permAlertAct) {
			renderError(w, r, p.logger, errForbidden)
			return
		}
		if vw.User.Scoped() {
			rec, err := p.desk.Alert(ctx, id)
			if err != nil {
				if wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
					err = fmt.Errorf("%s alert %d: %w", name, id, err)
				}
				renderError(w, r, p.logger, err)
				return
			}
			s, _ := p.site(ctx)
			if err := checkScope(vw, "alert", s.care[rec.Alert.UnitID]); err != nil {
				p.logger.LogAttrs(ctx, slog.LevelInfo, "alert action outside scope", slog.String("action", name),
					slog.Int64("alert", id), slog.String("user", vw.User.Username))
				renderError(w, r, p.logger, err)
				return
			}
		}
		form, err := do(ctx, id, vw.User.Username, []string{string(vw.User.Role)}, r.PostForm)
		if err == nil {
			p.logger.LogAttrs(ctx, slog.LevelInfo, "alert action", slog.String("action", name),
				slog.Int64("alert", id), slog.String("user", vw.User.Username))
			next := inboxReturnPath(r, id)
			if r.Header.Get("HX-Request") == "true" && (next == "/alerts" || strings.HasPrefix(next, "/alerts?")) {
				// htmx from the inbox: answer with the inbox's refreshed
				// live part for the same filters, swapped in place.
				p.rowsFor(w, r, next)
				return
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		switch status := statusOf(err); status {
		case http.StatusBadRequest, http.StatusConflict:
			logError(p.logger, r, status, err)
			form.Action, form.Error = name, wardwatch.ErrorMessage(err)
			p.detail(w, r, id, status, form)
		default:
			if status >= 500 {
				err = fmt.Errorf("%s alert %d: %w", name, id, err)
			}
			renderError(w, r, p.logger, err)
		}
	})
}

func (p *alertPages) acknowledge(ctx context.Context, id int64, user string, roles []string, form url.Values) (inboxForm, error) {
	note, err := inboxText(form, "note", "The note", false)
	if err != nil {
		return inboxForm{}, err
	}
	return inboxForm{Note: note}, p.desk.Acknowledge(ctx, id, user, roles, note)
}

func (p *alertPages) shelve(ctx context.Context, id int64, user string, roles []string, form url.Values) (inboxForm, error) {
	reason, err := inboxText(form, "reason", "The reason", true)
	if err != nil {
		return inboxForm{Reason: reason}, err
	}
	f := inboxForm{Reason: reason}
	ms, err := inboxText(form, "minutes", "The shelving time", true)
	if err != nil {
		return f, err
	}
	d, err := parseShelveMinutes(ms)
	if err != nil {
		return f, err
	}
	f.Minutes = int(d / time.Minute)
	return f, p.desk.Shelve(ctx, id, user, roles, reason, d)
}

func (p *alertPages) unshelve(ctx context.Context, id int64, user string, roles []string, _ url.Values) (inboxForm, error) {
	return inboxForm{}, p.desk.Unshelve(ctx, id, user, roles)
}

func (p *alertPages) resolve(ctx context.Context, id int64, user string, roles []string, form url.Values) (inboxForm, error) {
	var f inboxForm
	var err error
	if f.Cause, err = inboxText(form, "cause", "The cause", true); err != nil {
		return f, err
	}
	if f.Done, err = inboxText(form, "action", "The action taken", true); err != nil {
		return f, err
	}
	if f.Dispose, err = inboxText(form, "disposition", "The product disposition", true); err != nil {
		return f, err
	}
	return f, p.desk.Resolve(ctx, id, user, roles, alerts.Resolution{Cause: f.Cause, Action: f.Done, Disposition: f.Dispose})
}

func (p *alertPages) handleStock() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := newPageMeta(r, "Equipment stock (PAR levels)")
		m.Nav = "alerts"
		render(w, r, p.logger, http.StatusOK, inboxStockPage(m, buildInboxStock(p.desk.Stock(), p.desk.PickList(), p.now())))
	})
}
