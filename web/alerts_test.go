package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// ---- fakes ----

// inboxDeskCall is one action the fake desk received.
type inboxDeskCall struct {
	Action string
	ID     int64
	User   string
	Roles  []string
	Text   string
	D      time.Duration
	Res    alerts.Resolution
}

// inboxDeskSub is one subscription to the fake desk.
type inboxDeskSub struct {
	ch   chan AlertEvent
	gone chan struct{}
}

// inboxFakeDesk is an AlertDesk over fixed alerts that records actions.
type inboxFakeDesk struct {
	mu          sync.Mutex
	open        []alerts.Alert
	records     map[int64]AlertRecord
	history     []alerts.Alert
	lastHistory *AlertHistoryFilter
	calls       []inboxDeskCall
	err         error // returned by every action when set
	stock       []alerts.PARStatus
	picks       []alerts.Pick
	subs        map[*inboxDeskSub]bool
}

func (d *inboxFakeDesk) Open() []alerts.Alert {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.open)
}

func (d *inboxFakeDesk) Alert(ctx context.Context, id int64) (AlertRecord, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if rec, ok := d.records[id]; ok {
		return rec, nil
	}
	for _, a := range append(slices.Clone(d.open), d.history...) {
		if a.ID == id {
			return AlertRecord{Alert: a}, nil
		}
	}
	return AlertRecord{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "alert %d not found", id)
}

func (d *inboxFakeDesk) History(ctx context.Context, f AlertHistoryFilter) ([]alerts.Alert, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastHistory = &f
	return slices.Clone(d.history), nil
}

func (d *inboxFakeDesk) record(c inboxDeskCall) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, c)
	return d.err
}

func (d *inboxFakeDesk) Acknowledge(ctx context.Context, id int64, user string, roles []string, note string) error {
	return d.record(inboxDeskCall{Action: "acknowledge", ID: id, User: user, Roles: roles, Text: note})
}

func (d *inboxFakeDesk) Shelve(ctx context.Context, id int64, user string, roles []string, reason string, dur time.Duration) error {
	return d.record(inboxDeskCall{Action: "shelve", ID: id, User: user, Roles: roles, Text: reason, D: dur})
}

func (d *inboxFakeDesk) Unshelve(ctx context.Context, id int64, user string, roles []string) error {
	return d.record(inboxDeskCall{Action: "unshelve", ID: id, User: user, Roles: roles})
}

func (d *inboxFakeDesk) Resolve(ctx context.Context, id int64, user string, roles []string, res alerts.Resolution) error {
	return d.record(inboxDeskCall{Action: "resolve", ID: id, User: user, Roles: roles, Res: res})
}

func (d *inboxFakeDesk) Subscribe() (<-chan AlertEvent, func()) {
	s := &inboxDeskSub{ch: make(chan AlertEvent, 4), gone: make(chan struct{})}
	d.mu.Lock()
	if d.subs == nil {
		d.subs = make(map[*inboxDeskSub]bool)
	}
	d.subs[s] = true
	d.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			d.mu.Lock()
			delete(d.subs, s)
			d.mu.Unlock()
			close(s.gone)
		})
	}
}

func (d *inboxFakeDesk) Stock() []alerts.PARStatus { return d.stock }
func (d *inboxFakeDesk) PickList() []alerts.Pick   { return d.picks }

func (d *inboxFakeDesk) lastCall() inboxDeskCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.calls) == 0 {
		return inboxDeskCall{}
	}
	return d.calls[len(d.calls)-1]
}

func (d *inboxFakeDesk) callCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

func (d *inboxFakeDesk) subCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.subs)
}

// publish hands ev to the one subscriber, waiting until it takes it or
// unsubscribes (false).
func (d *inboxFakeDesk) publish(ev AlertEvent) bool {
	d.mu.Lock()
	var s *inboxDeskSub
	for k := range d.subs {
		s = k
	}
	d.mu.Unlock()
	if s == nil {
		return false
	}
	select {
	case s.ch <- ev:
		return true
	case <-s.gone:
		return false
	}
}

// closeSubs closes every subscription channel, as the desk does when it
// shuts down.
func (d *inboxFakeDesk) closeSubs() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for s := range d.subs {
		close(s.ch)
	}
}

// waitSubs waits until the desk has n subscribers; it fails after a long
// guard so a broken stream cannot hang the tests.
func (d *inboxFakeDesk) waitSubs(t testing.TB, n int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); d.subCount() != n; {
		if time.Now().After(end) {
			t.Fatalf("desk has %d subscribers, want %d", d.subCount(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// inboxUnits is a DeviceStore with units only.
type inboxUnits struct {
	units []wardwatch.MonitoredUnit
	err   error
}

var errInboxNotInTest = errors.New("not used by the alert tests")

func (s inboxUnits) Units(context.Context) ([]wardwatch.MonitoredUnit, error) { return s.units, s.err }
func (inboxUnits) CreateUnit(context.Context, *wardwatch.MonitoredUnit) error {
	return errInboxNotInTest
}
func (inboxUnits) UpdateUnit(context.Context, wardwatch.MonitoredUnit) error {
	return errInboxNotInTest
}
func (inboxUnits) DeleteUnit(context.Context, int64) error { return errInboxNotInTest }
func (inboxUnits) ModbusDevices(context.Context) ([]wardwatch.ModbusDevice, error) {
	return nil, nil
}
func (inboxUnits) ModbusDevice(context.Context, int64) (wardwatch.ModbusDevice, error) {
	return wardwatch.ModbusDevice{}, errInboxNotInTest
}
func (inboxUnits) CreateModbusDevice(context.Context, *wardwatch.ModbusDevice) error {
	return errInboxNotInTest
}
func (inboxUnits) UpdateModbusDevice(context.Context, wardwatch.ModbusDevice) error {
	return errInboxNotInTest
}
func (inboxUnits) DeleteModbusDevice(context.Context, int64) error             { return errInboxNotInTest }
func (inboxUnits) SNMPTargets(context.Context) ([]wardwatch.SNMPTarget, error) { return nil, nil }
func (inboxUnits) SNMPTarget(context.Context, int64) (wardwatch.SNMPTarget, error) {
	return wardwatch.SNMPTarget{}, errInboxNotInTest
}
func (inboxUnits) CreateSNMPTarget(context.Context, *wardwatch.SNMPTarget) error {
	return errInboxNotInTest
}
func (inboxUnits) UpdateSNMPTarget(context.Context, wardwatch.SNMPTarget) error {
	return errInboxNotInTest
}
func (inboxUnits) DeleteSNMPTarget(context.Context, int64) error { return errInboxNotInTest }
func (inboxUnits) SaveDeviceProfile(context.Context, wardwatch.DeviceProfile) error {
	return errInboxNotInTest
}
func (inboxUnits) DeleteDeviceProfile(context.Context, string, string) error {
	return errInboxNotInTest
}

// ---- test data ----

var inboxZone = time.FixedZone("CET", 3600)

// inboxFridgeRule is the latched vaccine-fridge rule of the test alerts.
var inboxFridgeRule = alerts.Rule{ID: "temp_high", Name: "Temperature above 8.0 °C", Category: alerts.CategoryEnvironment,
	Priority: alerts.PriorityCritical, Latched: true, Metric: wardwatch.MetricTemperature, Condition: alerts.Above, Limit: 8}

func inboxSensorKey(rule, sensor string) alerts.Key {
	return alerts.Key{Rule: rule, Subject: alerts.Subject{Kind: alerts.SubjectSensor, ID: sensor}}
}

// inboxAlerts are the open alerts of the tests: unacked critical (1) and
// medium (3), latched critical waiting for resolution (6), acked high
// (2), shelved low (4), suppressed high (5).
func inboxAlerts() []alerts.Alert {
	nan := math.NaN()
	return []alerts.Alert{
		{ID: 2, Key: inboxSensorKey("hum", "or-1/humidity"), Rule: alerts.Rule{Name: "Humidity below 20 %", Metric: wardwatch.MetricHumidity, Condition: alerts.Below, Limit: 20},
			Priority: alerts.PriorityHigh, UnitID: 7, SubjectName: "OR 1", State: alerts.StateAck, Active: true, Value: 18, Peak: 19, Trough: 17.5,
			OpenedAt: t0.Add(-5 * time.Minute), RaisedAt: t0.Add(-5 * time.Minute), AckedBy: "nurse", AckedAt: t0.Add(-time.Minute)},
		{ID: 1, Key: inboxSensorKey("temp_high", "fridge-a/temperature"), Rule: inboxFridgeRule, Priority: alerts.PriorityCritical, Team: alerts.TeamPharmacy,
			UnitID: 7, SubjectName: "Vaccine fridge A", State: alerts.StateUnack, Active: true, Value: 9.3, Peak: 10.1, Trough: 8.2,
			Message: "9.3 °C for 15 min", OpenedAt: t0.Add(-30 * time.Minute), RaisedAt: t0.Add(-10 * time.Minute), ConditionSince: t0.Add(-25 * time.Minute), Retriggers: 2},
		{ID: 3, Key: alerts.Key{Rule: "sensor_silent", Subject: alerts.Subject{Kind: alerts.SubjectDevice, ID: "fridge-b"}}, Rule: alerts.Rule{Name: "Sensor silent"},
			Priority: alerts.PriorityMedium, UnitID: 8, SubjectName: "Fridge B controller", State: alerts.StateUnack, Active: true, Value: nan, Peak: nan, Trough: nan,
			OpenedAt: t0.Add(-time.Hour), RaisedAt: t0.Add(-time.Hour)},
		{ID: 4, Key: alerts.Key{Rule: "par_low", Subject: alerts.Subject{Kind: alerts.SubjectPAR, ID: "4b"}}, Rule: alerts.Rule{Name: "Clean pumps below minimum"},
			Priority: alerts.PriorityLow, UnitID: 7, SubjectName: "4B pumps", State: alerts.StateShelved, Active: true, Value: 1, Peak: 1, Trough: 1,
			OpenedAt: t0.Add(-2 * time.Hour), RaisedAt: t0.Add(-2 * time.Hour), Shelf: alerts.Shelf{By: "nurse", Reason: "runner on the way", At: t0, Until: t0.Add(time.Hour)}},
		{ID: 5, Key: inboxSensorKey("temp_high", "fridge-b/temperature"), Rule: inboxFridgeRule, Priority: alerts.PriorityHigh, UnitID: 8, SubjectName: "Fridge B",
			State: alerts.StateSuppressed, Active: true, Value: 12, Peak: 12, Trough: 12, OpenedAt: t0.Add(-3 * time.Minute), RaisedAt: t0.Add(-3 * time.Minute),
			Suppression: alerts.Suppression{Kind: alerts.SuppressDefrost, Reason: "Scheduled defrost"}},
		{ID: 6, Key: inboxSensorKey("temp_high", "fridge-c/temperature"), Rule: inboxFridgeRule, Priority: alerts.PriorityCritical, UnitID: 7, SubjectName: "Vaccine fridge C",
			State: alerts.StateLatched, Active: false, Value: 7.5, Peak: 9.9, Trough: 7.5, OpenedAt: t0.Add(-3 * time.Hour), RaisedAt: t0.Add(-3 * time.Hour),
			ConditionSince: t0.Add(-200 * time.Minute), ClearedAt: t0.Add(-2 * time.Hour), AckedBy: "pharm", AckedAt: t0.Add(-150 * time.Minute)},
	}
}

func newInboxDesk() *inboxFakeDesk {
	min4 := 4
	return &inboxFakeDesk{
		open: inboxAlerts(),
		records: map[int64]AlertRecord{
			1: {
				Alert: inboxAlerts()[1],
				Audit: []alerts.Audit{{AlertID: 1, Action: alerts.ActionRaise, From: alerts.StateNormal, To: alerts.StateUnack, User: alerts.SystemUser,
					Time: t0.Add(-30 * time.Minute), Reason: "Temperature 8.4 °C above 8.0 °C <script>"}},
				Deliveries: []AlertDelivery{
					{Channel: alerts.ChannelInApp, Tier: 1, At: t0.Add(-10 * time.Minute)},
					{Channel: alerts.ChannelEmail, Address: "pharmacy@example.org", Tier: 1, At: t0.Add(-10 * time.Minute), Error: "550 mailbox unavailable"},
					{Channel: alerts.ChannelWebhook, Address: "paging", Tier: 2, Reminder: true, At: t0.Add(-time.Minute)},
				},
			},
		},
		history: []alerts.Alert{{ID: 9, Key: inboxSensorKey("temp_high", "fridge-a/temperature"), Rule: inboxFridgeRule, Priority: alerts.PriorityCritical, UnitID: 7,
			SubjectName: "Vaccine fridge A", State: alerts.StateNormal, Value: 7, Peak: 8.6, Trough: 7, OpenedAt: t0.Add(-48 * time.Hour),
			RaisedAt: t0.Add(-48 * time.Hour), ClearedAt: t0.Add(-47 * time.Hour), ClosedAt: t0.Add(-46 * time.Hour), AckedBy: "pharm",
			Resolution: alerts.Resolution{Cause: "door left open", Action: "closed", Disposition: "none affected", By: "pharm", At: t0.Add(-46 * time.Hour)}}},
		stock: []alerts.PARStatus{
			{Level: alerts.PARLevel{ID: "4a", Name: "4A pumps", Kind: wardwatch.AssetInfusionPump, CleanMin: 2}, Clean: 3},
			{Level: alerts.PARLevel{ID: "4b", Name: "4B pumps", Kind: wardwatch.AssetInfusionPump, CleanMin: 3, SoiledMax: &min4}, Clean: 1, Soiled: 5, CleanLow: true, SoiledHigh: true},
		},
		picks: []alerts.Pick{
			{PAR: "4b", PARName: "4B pumps", Action: alerts.PickRestock, AssetID: 100, AssetName: "Pump 0412", FromZone: "4A clean utility", ToZone: "4B clean utility", LastSeen: t0.Add(-3 * time.Minute)},
			{PAR: "4b", PARName: "4B pumps", Action: alerts.PickCollect, AssetID: 101, AssetName: "Pump 0099", FromZone: "4B soiled utility"},
		},
	}
}

// inboxHarness is the server with the fake desk and three more users.
func inboxHarness(t testing.TB, desk *inboxFakeDesk, opts ...func(*Config)) *harness {
	t.Helper()
	all := append([]func(*Config){func(c *Config) {
		c.Alerts = desk
		c.Devices = inboxUnits{units: []wardwatch.MonitoredUnit{{ID: 7, Name: "Pharmacy"}, {ID: 8, Name: "Ward 4B"}}}
		c.Location = inboxZone
	}}, opts...)
	h := newHarness(t, all...)
	h.store.users = append(h.store.users,
		wardwatch.User{ID: 3, Username: "viewer", Role: wardwatch.RoleViewer, PasswordHash: testHash},
		wardwatch.User{ID: 4, Username: "pharm", Role: wardwatch.RolePharmacy, PasswordHash: testHash},
	)
	return h
}

// inboxPost sends a same-origin form post from referer ("" for none).
func (h *harness) inboxPost(path string, form url.Values, c *http.Cookie, referer string) *http.Response {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "text/html")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if referer != "" {
		r.Header.Set("Referer", referer)
	}
	if c != nil {
		r.AddCookie(c)
	}
	return h.do(r)
}

func inboxWant(t testing.TB, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q", w)
		}
	}
}

func inboxWantNot(t testing.TB, body string, nots ...string) {
	t.Helper()
	for _, w := range nots {
		if strings.Contains(body, w) {
			t.Errorf("body has %q", w)
		}
	}
}

// inboxRowOrder returns the data-alert ids of the rows in body, in order.
func inboxRowOrder(body string) string {
	var ids []string
	for _, part := range strings.Split(body, `<tr data-alert="`)[1:] {
		ids = append(ids, part[:strings.IndexByte(part, '"')])
	}
	return strings.Join(ids, ",")
}

// ---- pure logic ----

func TestParseInboxFilter(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  inboxFilter
		bad   bool
	}{
		{"", inboxFilter{Group: inboxGroupActive}, false},
		{"unit=7&priority=high&state=shelved", inboxFilter{UnitID: 7, Priority: alerts.PriorityHigh, Group: inboxGroupShelved}, false},
		{"unit=&priority=&state=", inboxFilter{Group: inboxGroupActive}, false},
		{"state=all&from=2026-03-01&to=2026-03-02", inboxFilter{Group: inboxGroupAll, From: "2026-03-01", To: "2026-03-02"}, false},
		{"other=1", inboxFilter{Group: inboxGroupActive}, false},
		{"scope=all&state=unacknowledged", inboxFilter{Group: inboxGroupUnack, All: true}, false},
		{"scope=mine", inboxFilter{}, true},
		{"unit=07", inboxFilter{}, true},
		{"unit=-1", inboxFilter{}, true},
		{"unit=abc", inboxFilter{}, true},
		{"priority=urgent", inboxFilter{}, true},
		{"priority=HIGH", inboxFilter{}, true},
		{"state=normal", inboxFilter{}, true},
		{"from=2026-3-1", inboxFilter{}, true},
		{"to=2026-02-30", inboxFilter{}, true},
		{"unit=%zz", inboxFilter{}, true},
		{"unit=" + strings.Repeat("9", 2000), inboxFilter{}, true},
		{"priority=<script>", inboxFilter{}, true},
	} {
		got, err := parseInboxFilter(tc.query)
		if tc.bad {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Errorf("parseInboxFilter(%q) error %v, want EINVALID", tc.query, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseInboxFilter(%q) = %+v, %v; want %+v", tc.query, got, err, tc.want)
		}
		if again, err := parseInboxFilter(strings.TrimPrefix(got.query(), "?")); err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("query() of %+v does not round-trip: %q → %+v, %v", got, got.query(), again, err)
		}
	}
}

func TestInboxFilterHistory(t *testing.T) {
	f := inboxFilter{UnitID: 7, Priority: alerts.PriorityHigh, From: "2026-03-01", To: "2026-03-02"}
	h, err := f.history(inboxZone)
	if err != nil {
		t.Fatal(err)
	}
	want := AlertHistoryFilter{UnitID: 7, Priority: alerts.PriorityHigh, From: time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC),
		To: time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC), Limit: inboxHistoryLimit}
	if h != want {
		t.Errorf("history filter = %+v, want %+v (days in the hospital's zone, To inclusive)", h, want)
	}
	for _, bad := range []inboxFilter{{From: "2026-03-02", To: "2026-03-01"}, {From: "2024-01-01", To: "2026-01-01"}} {
		if _, err := bad.history(inboxZone); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("history(%+v) error %v, want EINVALID", bad, err)
		}
	}
}

func TestBuildInbox(t *testing.T) {
	s := inboxSite{units: map[int64]string{7: "Pharmacy"}, loc: inboxZone, now: t0}
	for _, tc := range []struct {
		name      string
		f         inboxFilter
		order     string
		hidden    string
		nShelved  int
		nSuppress int
	}{
		{"active", inboxFilter{Group: inboxGroupActive}, "1,3,6,2", "", 1, 1},
		{"unacknowledged", inboxFilter{Group: inboxGroupUnack}, "1,3", "", 1, 1},
		{"shelved", inboxFilter{Group: inboxGroupShelved}, "4", "", 0, 1},
		{"suppressed", inboxFilter{Group: inboxGroupSuppressed}, "5", "", 1, 0},
		{"all", inboxFilter{Group: inboxGroupAll}, "1,3,6,2", "5,4", 0, 0},
		{"unit 7", inboxFilter{Group: inboxGroupActive, UnitID: 7}, "1,6,2", "", 1, 0},
		{"critical", inboxFilter{Group: inboxGroupActive, Priority: alerts.PriorityCritical}, "1,6", "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := buildInbox(inboxAlerts(), tc.f, s, true)
			var order, hidden []string
			for _, r := range v.Rows {
				order = append(order, fmt.Sprint(r.ID))
			}
			for _, r := range v.Hidden {
				hidden = append(hidden, fmt.Sprint(r.ID))
			}
			if got := strings.Join(order, ","); got != tc.order {
				t.Errorf("rows %s, want %s", got, tc.order)
			}
			if got := strings.Join(hidden, ","); got != tc.hidden {
				t.Errorf("hidden rows %s, want %s", got, tc.hidden)
			}
			if v.NShelved != tc.nShelved || v.NSuppress != tc.nSuppress {
				t.Errorf("not listed: %d shelved, %d suppressed; want %d, %d", v.NShelved, v.NSuppress, tc.nShelved, tc.nSuppress)
			}
		})
	}
	v := buildInbox(inboxAlerts(), inboxFilter{Group: inboxGroupActive}, s, true)
	counts := map[alerts.Priority]int{}
	for _, c := range v.Counts {
		counts[c.Priority] = c.N
	}
	if counts[alerts.PriorityCritical] != 1 || counts[alerts.PriorityMedium] != 1 || counts[alerts.PriorityHigh] != 0 || len(v.Counts) != 5 {
		t.Errorf("unacknowledged counts %v", counts)
	}
	r := v.Rows[0]
	if r.Unit != "Pharmacy" || r.Value != "9.3 °C" || r.Extreme != "peak 10.1 °C" || r.Age != "10 min ago" ||
		r.Since != "Mon 2 Mar 10:50" || !r.CanAck || r.Retriggers != 2 {
		t.Errorf("row 1 = %+v", r)
	}
	if r := v.Rows[1]; r.Unit != "Unit 8" || r.Value != "" || r.Extreme != "" {
		t.Errorf("row 3 (unknown unit, no value) = %+v", r)
	}
	if v := buildInbox(inboxAlerts(), inboxFilter{Group: inboxGroupActive}, s, false); v.Rows[0].CanAck {
		t.Error("a viewer without the action permission gets an acknowledge button")
	}
}

func TestInboxValues(t *testing.T) {
	nan := math.NaN()
	rule := func(m wardwatch.Metric, c alerts.Condition) alerts.Rule {
		return alerts.Rule{Metric: m, Condition: c, Low: 2, High: 8, Limit: 8}
	}
	for _, tc := range []struct {
		name           string
		a              alerts.Alert
		value, extreme string
	}{
		{"above", alerts.Alert{Rule: rule(wardwatch.MetricTemperature, alerts.Above), Value: 9.3, Peak: 10.14, Trough: 8.1}, "9.3 °C", "peak 10.1 °C"},
		{"below", alerts.Alert{Rule: rule(wardwatch.MetricPressure, alerts.Below), Value: -1, Peak: 0, Trough: -3.25}, "-1.0 Pa", "lowest -3.2 Pa"},
		{"outside low", alerts.Alert{Rule: rule(wardwatch.MetricTemperature, alerts.Outside), Value: 1, Peak: 5, Trough: 0.5}, "1.0 °C", "lowest 0.5 °C"},
		{"outside both", alerts.Alert{Rule: rule(wardwatch.MetricTemperature, alerts.Outside), Value: 9, Peak: 9, Trough: 1}, "9.0 °C", "lowest 1.0 °C, peak 9.0 °C"},
		{"door", alerts.Alert{Rule: rule(wardwatch.MetricDoorOpen, alerts.AtOrAbove), Value: 1, Peak: 1, Trough: 1}, "open", ""},
		{"no value", alerts.Alert{Value: nan, Peak: nan, Trough: nan}, "", ""},
		{"no metric", alerts.Alert{Value: 3, Peak: 3, Trough: 3}, "3", ""},
		{"infinite", alerts.Alert{Rule: rule(wardwatch.MetricTemperature, alerts.Above), Value: math.Inf(1), Peak: math.Inf(1)}, "", ""},
	} {
		v, e := inboxValues(tc.a)
		if v != tc.value || e != tc.extreme {
			t.Errorf("%s: inboxValues = %q, %q; want %q, %q", tc.name, v, e, tc.value, tc.extreme)
		}
	}
}

func TestInboxExcursionChart(t *testing.T) {
	s := inboxSite{loc: inboxZone, now: t0}
	as := inboxAlerts()
	c := inboxExcursionChart(as[1], s) // active: to now
	if c == nil {
		t.Fatal("no chart for a temperature alert on a sensor")
	}
	u, err := url.Parse(c.Src)
	if err != nil || u.Path != "/records/chart.svg" {
		t.Fatalf("chart src %q", c.Src)
	}
	q := u.Query()
	want := url.Values{"sensor": {"fridge-a/temperature"}, "metric": {"temperature"}, "from": {"2026-03-02T08:35:00Z"},
		"to": {"2026-03-02T10:00:00Z"}, "high": {"8"}}
	if q.Encode() != want.Encode() {
		t.Errorf("chart query %v, want %v", q, want)
	}
	if !strings.Contains(c.Alt, "Vaccine fridge A") || !strings.Contains(c.Alt, "high limit 8.0 °C") || !strings.Contains(c.Alt, "peak 10.1 °C") {
		t.Errorf("alt text %q", c.Alt)
	}
	c = inboxExcursionChart(as[5], s) // cleared 2 h ago: to an hour after
	if q := inboxQuery(t, c.Src); q.Get("to") != "2026-03-02T09:00:00Z" || q.Get("from") != "2026-03-02T05:40:00Z" {
		t.Errorf("cleared alert's chart %s", c.Src)
	}
	band := as[1]
	band.Rule.Condition, band.Rule.Low, band.Rule.High = alerts.Outside, 2, 8
	if q := inboxQuery(t, inboxExcursionChart(band, s).Src); q.Get("low") != "2" || q.Get("high") != "8" {
		t.Errorf("band chart %v", q)
	}
	if inboxExcursionChart(as[2], s) != nil || inboxExcursionChart(as[3], s) != nil {
		t.Error("a chart for an alert that is not a threshold on a sensor")
	}
}

func inboxQuery(t *testing.T, src string) url.Values {
	t.Helper()
	u, err := url.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestParseShelveMinutes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"15", 15 * time.Minute, false},
		{"480", 8 * time.Hour, false},
		{" 60 ", time.Hour, false},
		{"1440", 24 * time.Hour, false},
		{"", 0, true},
		{"0", 0, true},
		{"-15", 0, true},
		{"015", 0, true},
		{"+15", 0, true},
		{"1441", 0, true},
		{"1h", 0, true},
		{"9999999999999999999999", 0, true},
		{"15.5", 0, true},
	} {
		got, err := parseShelveMinutes(tc.in)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("parseShelveMinutes(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("parseShelveMinutes(%q) error %v is not EINVALID", tc.in, err)
		}
	}
}

func TestInboxText(t *testing.T) {
	for _, tc := range []struct {
		name     string
		form     url.Values
		required bool
		want     string
		bad      bool
	}{
		{"plain", url.Values{"f": {"  door left open  "}}, true, "door left open", false},
		{"lines", url.Values{"f": {"line 1\r\nline 2\tend"}}, true, "line 1\r\nline 2\tend", false},
		{"missing optional", url.Values{}, false, "", false},
		{"missing required", url.Values{}, true, "", true},
		{"blank required", url.Values{"f": {"   "}}, true, "", true},
		{"twice", url.Values{"f": {"a", "b"}}, false, "", true},
		{"long", url.Values{"f": {strings.Repeat("x", inboxMaxNote+1)}}, false, "", true},
		{"max", url.Values{"f": {strings.Repeat("é", inboxMaxNote)}}, false, strings.Repeat("é", inboxMaxNote), false},
		{"max+1", url.Values{"f": {strings.Repeat("é", inboxMaxNote+1)}}, false, "", true},
		{"nul", url.Values{"f": {"a\x00b"}}, false, "", true},
		{"escape", url.Values{"f": {"a\x1b[2Jb"}}, false, "", true},
		{"c1", url.Values{"f": {"a\u0085b"}}, false, "", true},
		{"line separator", url.Values{"f": {"a\u2028b"}}, false, "", true},
		{"bad utf8", url.Values{"f": {"a\xffb"}}, false, "", true},
		{"markup", url.Values{"f": {"<script>alert(1)</script>"}}, false, "<script>alert(1)</script>", false},
	} {
		got, err := inboxText(tc.form, "f", "The field", tc.required)
		if tc.bad != (err != nil) || (!tc.bad && got != tc.want) {
			t.Errorf("%s: inboxText = %q, %v", tc.name, got, err)
		}
	}
}

func TestInboxReturnPath(t *testing.T) {
	for _, tc := range []struct {
		referer, want string
	}{
		{"", "/alerts/5"},
		{"http://example.com/alerts?state=all&unit=7", "/alerts?state=all&unit=7"},
		{"https://example.com/alerts/5", "/alerts/5"},
		{"http://example.com/alerts/history?from=2026-03-01", "/alerts/history?from=2026-03-01"},
		{"http://evil.example/alerts", "/alerts/5"},
		{"http://example.com/floors", "/alerts/5"},
		{"http://example.com/alertsx", "/alerts/5"},
		{"http://example.com/alerts/rows", "/alerts/5"},
		{"http://example.com//evil.example/alerts", "/alerts/5"},
		{"javascript:alert(1)", "/alerts/5"},
		{"http://user@example.com/alerts", "/alerts/5"},
		{"http://example.com/alerts/%5Cevil", "/alerts/%5Cevil"}, // encoded: a same-site path, never a backslash
		{"http://example.com/alerts?" + strings.Repeat("a", 3000), "/alerts/5"},
		{"ftp://example.com/alerts", "/alerts/5"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/alerts/5/acknowledge", nil)
		if tc.referer != "" {
			r.Header.Set("Referer", tc.referer)
		}
		if got := inboxReturnPath(r, 5); got != tc.want {
			t.Errorf("Referer %q: return to %q, want %q", tc.referer, got, tc.want)
		}
	}
}

func TestBuildInboxStock(t *testing.T) {
	d := newInboxDesk()
	v := buildInboxStock(d.stock, d.picks, t0)
	if len(v.Levels) != 2 || v.Levels[0].Name != "4B pumps" || !v.Levels[0].CleanLow || v.Levels[0].SoiledMax != "4" || v.Levels[1].SoiledMax != "" {
		t.Errorf("levels %+v: want the out-of-bounds one first", v.Levels)
	}
	if len(v.Picks) != 2 || v.Picks[0].Action != "Restock" || v.Picks[0].LastSeen != "3 min ago" ||
		v.Picks[1].Action != "Collect" || v.Picks[1].To != "decontamination" || v.Picks[1].LastSeen != "" {
		t.Errorf("picks %+v", v.Picks)
	}
}

// ---- pages ----

func TestAlertPagesNeedTheDesk(t *testing.T) {
	h := newHarness(t)
	c := h.signIn()
	for _, p := range []string{"/alerts", "/alerts/1", "/alerts/stock", "/alerts/history"} {
		wantStatus(t, h.page(p, c), http.StatusNotFound)
	}
}

func TestAlertInbox(t *testing.T) {
	desk := newInboxDesk()
	h := inboxHarness(t, desk)
	c := h.signIn()

	// Signed out: to the login page.
	if resp := h.page("/alerts", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("signed-out inbox: status %d", resp.StatusCode)
	}

	body := wantStatus(t, h.page("/alerts", c), http.StatusOK)
	if got := inboxRowOrder(body); got != "1,3,6,2" {
		t.Errorf("inbox rows %s, want unacknowledged first, then priority, newest: 1,3,6,2", got)
	}
	inboxWant(t, body,
		`aria-current="page"`, `/static/alerts.js?v=`, `<caption class="visually-hidden">`, `scope="col"`,
		"Temperature above 8.0 °C", "Vaccine fridge A", "9.3 °C for 15 min", "Pharmacy", "Ward 4B", "9.3 °C", "peak 10.1 °C",
		"10 min ago", "Mon 2 Mar 10:50", `datetime="2026-03-02T09:50:00Z"`, "Unacknowledged", "Cleared, awaiting resolution",
		`action="/alerts/1/acknowledge"`, `id="ack-1"`, `action="/alerts/3/acknowledge"`,
		`class="inbox-prio inbox-prio-critical"`, `<polygon points="7,1 17,1`, // the octagon
		`href="/alerts?priority=critical&amp;state=unacknowledged"`,
		`href="/alerts?state=shelved"`, "1 shelved", "1 suppressed or out of service",
		`id="inbox-live" data-rows="/alerts/rows"`, `href="/alerts/history"`, `href="/alerts/stock"`,
		`<option value="7">Pharmacy</option>`,
	)
	inboxWantNot(t, body, `action="/alerts/2/acknowledge"`, `action="/alerts/6/acknowledge"`, "Fridge B</div>")

	// Filters.
	body = wantStatus(t, h.page("/alerts?unit=7&priority=critical", c), http.StatusOK)
	if got := inboxRowOrder(body); got != "1,6" {
		t.Errorf("filtered rows %s, want 1,6", got)
	}
	inboxWant(t, body, `<option value="7" selected>Pharmacy</option>`, `<option value="critical" selected>Critical</option>`,
		`data-rows="/alerts/rows?priority=critical&amp;unit=7"`)
	body = wantStatus(t, h.page("/alerts?state=all", c), http.StatusOK)
	if got := inboxRowOrder(body); got != "1,3,6,2,5,4" {
		t.Errorf("state=all rows %s, want the shelved and suppressed after the rest", got)
	}
	inboxWant(t, body, "Shelved and suppressed", `id="inbox-hidden-rows"`)
	body = wantStatus(t, h.page("/alerts?state=shelved&priority=info", c), http.StatusOK)
	inboxWant(t, body, `role="status"`, "No shelved alerts match this filter.")
	for _, bad := range []string{"/alerts?priority=urgent", "/alerts?unit=x", "/alerts?state=%3Cscript%3E", "/alerts?unit=" + strings.Repeat("1", 1100)} {
		b := wantStatus(t, h.page(bad, c), http.StatusBadRequest)
		inboxWantNot(t, b, "<script>")
	}

	// A viewer reads but gets no buttons.
	v := h.signInAs("viewer")
	body = wantStatus(t, h.page("/alerts", v), http.StatusOK)
	if got := inboxRowOrder(body); got != "1,3,6,2" {
		t.Errorf("viewer's rows %s", got)
	}
	inboxWantNot(t, body, "/acknowledge")

	// A failing unit list still shows the alerts.
	h2 := inboxHarness(t, newInboxDesk(), func(c *Config) { c.Devices = inboxUnits{err: errors.New("db down")} })
	body = wantStatus(t, h2.page("/alerts", h2.signIn()), http.StatusOK)
	inboxWant(t, body, "Unit 7", "Vaccine fridge A")
	inboxWantNot(t, body, "db down")

	// Without Devices there is no unit filter.
	h3 := inboxHarness(t, newInboxDesk(), func(c *Config) { c.Devices = nil })
	body = wantStatus(t, h3.page("/alerts", h3.signIn()), http.StatusOK)
	inboxWantNot(t, body, `id="filter-unit"`)
	inboxWant(t, body, "Unit 7")
}

func TestAlertRows(t *testing.T) {
	desk := newInboxDesk()
	h := inboxHarness(t, desk)
	c := h.signIn()
	get := func(path string, c *http.Cookie) *http.Response {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if c != nil {
			r.AddCookie(c)
		}
		return h.do(r)
	}
	body := wantStatus(t, get("/alerts/rows?unit=7", c), http.StatusOK)
	if got := inboxRowOrder(body); got != "1,6,2" {
		t.Errorf("rows %s, want 1,6,2", got)
	}
	inboxWant(t, body, `id="inbox-rows"`, "inbox-count-list")
	inboxWantNot(t, body, "<html", "<header")
	wantStatus(t, get("/alerts/rows", nil), http.StatusUnauthorized)
	wantStatus(t, get("/alerts/rows?priority=nope", c), http.StatusBadRequest)

	// Live reloads are not user activity: the session is not extended.
	touches := h.store.touchCount()
	h.clock.Advance(5 * time.Minute)
	wantStatus(t, get("/alerts/rows", c), http.StatusOK)
	if h.store.touchCount() != touches {
		t.Error("a live reload extended the session")
	}
}

func TestAlertHistory(t *testing.T) {
	desk := newInboxDesk()
	h := inboxHarness(t, desk)
	c := h.signIn()
	body := wantStatus(t, h.page("/alerts/history?unit=7&priority=critical&from=2026-02-28&to=2026-03-02", c), http.StatusOK)
	inboxWant(t, body, `data-alert="9"`, "Vaccine fridge A", "pharm", "peak 8.6 °C", `value="2026-02-28"`, `<option value="7" selected>`)
	inboxWantNot(t, body, "/acknowledge")
	desk.mu.Lock()
	got := *desk.lastHistory
	desk.mu.Unlock()
	if got.UnitID != 7 || got.Priority != alerts.PriorityCritical || !got.From.Equal(time.Date(2026, 2, 27, 23, 0, 0, 0, time.UTC)) ||
		!got.To.Equal(time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC)) || got.Limit != inboxHistoryLimit {
		t.Errorf("History filter %+v", got)
	}
	for _, bad := range []string{"?from=yesterday", "?from=2026-03-02&to=2026-03-01", "?priority=x"} {
		body := wantStatus(t, h.page("/alerts/history"+bad, c), http.StatusBadRequest)
		inboxWant(t, body, `class="alert alert-error"`)
	}
	desk.history = nil
	inboxWant(t, wantStatus(t, h.page("/alerts/history", c), http.StatusOK), "No closed alert matches")
}

func TestAlertDetail(t *testing.T) {
	desk := newInboxDesk()
	h := inboxHarness(t, desk)
	c := h.signIn()

	body := wantStatus(t, h.page("/alerts/1", c), http.StatusOK)
	inboxWant(t, body,
		`id="inbox-detail" data-alert="1"`, "Temperature above 8.0 °C", "Vaccine fridge A", "Team: Pharmacy", "Unit: Pharmacy",
		"Latched: stays open until resolved", "8.2 °C to 10.1 °C", "Condition began", "Mon 2 Mar 2026 10:35 CET",
		`src="/records/chart.svg?from=2026-03-02T08%3A35%3A00Z&amp;high=8&amp;metric=temperature&amp;sensor=fridge-a%2Ftemperature&amp;to=2026-03-02T10%3A00%3A00Z"`,
		`alt="Chart of temperature readings of Vaccine fridge A`,
		"Audit trail", "Raised", "Normal → Unacknowledged", "system", "&lt;script&gt;",
		"Notifications", "Alert inbox", "pharmacy@example.org", "Failed: 550 mailbox unavailable", "Reminder", "Delivered",
		`action="/alerts/1/acknowledge"`, `action="/alerts/1/shelve"`, `<option value="60" selected>1 hour</option>`,
		`<option value="480">8 hours</option>`,
	)
	inboxWantNot(t, body, `action="/alerts/1/resolve"`, `action="/alerts/1/unshelve"`, "<script>")

	// The latched, cleared alert: nurses acknowledge only; pharmacy resolves.
	body = wantStatus(t, h.page("/alerts/6", c), http.StatusOK)
	inboxWantNot(t, body, `action="/alerts/6/resolve"`, `action="/alerts/6/acknowledge"`)
	p := h.signInAs("pharm")
	body = wantStatus(t, h.page("/alerts/6", p), http.StatusOK)
	inboxWant(t, body, `action="/alerts/6/resolve"`, `name="cause"`, `name="action"`, `name="disposition"`, "Returned to normal")
	inboxWantNot(t, body, `action="/alerts/6/shelve"`)

	// Shelved: unshelve offered, shelf shown.
	body = wantStatus(t, h.page("/alerts/4", c), http.StatusOK)
	inboxWant(t, body, `action="/alerts/4/unshelve"`, "runner on the way", "Shelved by")
	inboxWantNot(t, body, `action="/alerts/4/shelve"`)

	// Suppressed: why.
	inboxWant(t, wantStatus(t, h.page("/alerts/5", c), http.StatusOK), "Defrost window", "Scheduled defrost")

	// Closed: resolution, no actions.
	body = wantStatus(t, h.page("/alerts/9", c), http.StatusOK)
	inboxWant(t, body, "door left open", "none affected", "Resolved by", "No notification was sent")
	inboxWantNot(t, body, `method="post" action="/alerts/9/`)

	// A viewer: no actions at all.
	body = wantStatus(t, h.page("/alerts/1", h.signInAs("viewer")), http.StatusOK)
	inboxWantNot(t, body, `action="/alerts/1/`)

	for _, bad := range []string{"/alerts/404", "/alerts/0", "/alerts/01", "/alerts/-1", "/alerts/abc", "/alerts/99999999999999999999"} {
		wantStatus(t, h.page(bad, c), http.StatusNotFound)
	}
}

func TestAlertActions(t *testing.T) {
	desk := newInboxDesk()
	h := inboxHarness(t, desk)
	nurse := h.signIn()

	// One click from the inbox: back to the inbox with its filters.
	resp := h.inboxPost("/alerts/1/acknowledge", url.Values{}, nurse, "http://example.com/alerts?unit=7")
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/alerts?unit=7" {
		t.Errorf("redirect to %q, want the inbox it came from", loc)
	}
	if got := desk.lastCall(); got.Action != "acknowledge" || got.ID != 1 || got.User != "nurse" || !slices.Equal(got.Roles, []string{"nurse"}) || got.Text != "" {
		t.Errorf("desk call %+v", got)
	}

	// With a note, from elsewhere: to the detail page.
	resp = h.inboxPost("/alerts/3/acknowledge", url.Values{"note": {" checked the fridge "}}, nurse, "http://evil.example/alerts")
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/alerts/3" {
		t.Errorf("redirect to %q, want the detail page", loc)
	}
	if got := desk.lastCall(); got.Text != "checked the fridge" {
		t.Errorf("note %q", got.Text)
	}

	wantStatus(t, h.inboxPost("/alerts/1/shelve", url.Values{"reason": {"engineer on site"}, "minutes": {"120"}}, nurse, ""), http.StatusSeeOther)
	if got := desk.lastCall(); got.Action != "shelve" || got.Text != "engineer on site" || got.D != 2*time.Hour {
		t.Errorf("shelve call %+v", got)
	}
	wantStatus(t, h.inboxPost("/alerts/4/unshelve", nil, nurse, ""), http.StatusSeeOther)
	if got := desk.lastCall(); got.Action != "unshelve" || got.ID != 4 {
		t.Errorf("unshelve call %+v", got)
	}
	pharm := h.signInAs("pharm")
	res := url.Values{"cause": {"door left ajar"}, "action": {"door closed, staff briefed"}, "disposition": {"none affected"}}
	wantStatus(t, h.inboxPost("/alerts/6/resolve", res, pharm, "http://example.com/alerts/6"), http.StatusSeeOther)
	if got := desk.lastCall(); got.Action != "resolve" || got.User != "pharm" || !slices.Equal(got.Roles, []string{"pharmacy"}) ||
		got.Res != (alerts.Resolution{Cause: "door left ajar", Action: "door closed, staff briefed", Disposition: "none affected"}) {
		t.Errorf("resolve call %+v", got)
	}

	// Invalid input: 400, the message on the form, what was typed kept,
	// and the desk not called.
	calls := desk.callCount()
	for _, tc := range []struct {
		name, path string
		form       url.Values
		want       []string
	}{
		{"shelve without reason", "/alerts/1/shelve", url.Values{"minutes": {"60"}}, []string{"The reason is required."}},
		{"shelve without time", "/alerts/1/shelve", url.Values{"reason": {"busy"}}, []string{"The shelving time is required.", ">busy</textarea>"}},
		{"shelve bad time", "/alerts/1/shelve", url.Values{"reason": {"busy"}, "minutes": {"1e3"}}, []string{"The shelving time is not valid."}},
		{"shelve negative", "/alerts/1/shelve", url.Values{"reason": {"busy"}, "minutes": {"-60"}}, []string{"The shelving time is not valid."}},
		{"note too long", "/alerts/1/acknowledge", url.Values{"note": {strings.Repeat("x", 1001)}}, []string{"The note is longer than 1000 characters."}},
		{"note control", "/alerts/1/acknowledge", url.Values{"note": {"a\x00b"}}, []string{"The note contains control characters."}},
		{"resolve partial", "/alerts/6/resolve", url.Values{"cause": {"power cut <b>"}}, []string{"The action taken is required.", "power cut &lt;b&gt;</textarea>"}},
		{"duplicate field", "/alerts/1/shelve", url.Values{"reason": {"a", "b"}, "minutes": {"60"}}, []string{"The reason was sent twice."}},
	} {
		who := nurse
		if strings.Contains(tc.path, "resolve") {
			who = pharm
		}
		body := wantStatus(t, h.inboxPost(tc.path, tc.form, who, ""), http.StatusBadRequest)
		inboxWant(t, body, append(tc.want, `class="alert alert-error"`)...)
		if desk.callCount() != calls {
			t.Errorf("%s: the desk was called", tc.name)
		}
	}

	// Too large a form.
	wantStatus(t, h.inboxPost("/alerts/1/acknowledge", url.Values{"note": {strings.Repeat("x", inboxMaxForm)}}, nurse, ""), http.StatusRequestEntityTooLarge)

	// A viewer may not act; nor may a signed-out browser or another site.
	viewer := h.signInAs("viewer")
	for _, p := range []string{"acknowledge", "shelve", "unshelve", "resolve"} {
		wantStatus(t, h.inboxPost("/alerts/1/"+p, url.Values{"reason": {"x"}, "minutes": {"15"}}, viewer, ""), http.StatusForbidden)
	}
	if resp := h.inboxPost("/alerts/1/acknowledge", nil, nil, ""); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("signed-out post: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	r := httptest.NewRequest(http.MethodPost, "/alerts/1/acknowledge", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.AddCookie(nurse)
	wantStatus(t, h.do(r), http.StatusForbidden)
	if desk.callCount() != calls {
		t.Error("a refused action reached the desk")
	}
	wantStatus(t, h.inboxPost("/alerts/abc/acknowledge", nil, nurse, ""), http.StatusNotFound)

	// A conflict on an alert that changed meanwhile: the message shows
	// even though the form it came from is gone.
	desk.mu.Lock()
	desk.err = wardwatch.Errorf(wardwatch.ECONFLICT, "Alert 2 was already acknowledged by pharm.")
	desk.mu.Unlock()
	body := wantStatus(t, h.inboxPost("/alerts/2/acknowledge", nil, nurse, "http://example.com/alerts"), http.StatusConflict)
	inboxWant(t, body, "Alert 2 was already acknowledged by pharm.", `class="alert alert-error"`)
	inboxWantNot(t, body, `action="/alerts/2/acknowledge"`)

	// The desk's verdicts.
	for _, tc := range []struct {
		err    error
		status int
		want   string
	}{
		{wardwatch.Errorf(wardwatch.EFORBIDDEN, "Your role may not resolve compliance alerts."), http.StatusForbidden, "Your role may not resolve compliance alerts."},
		{wardwatch.Errorf(wardwatch.ECONFLICT, "Alert 1 was already acknowledged by pharm."), http.StatusConflict, "Alert 1 was already acknowledged by pharm."},
		{wardwatch.Errorf(wardwatch.EINVALID, "An alert may be shelved for up to 4 h."), http.StatusBadRequest, "An alert may be shelved for up to 4 h."},
		{wardwatch.Errorf(wardwatch.ENOTFOUND, "Alert 1 is not open."), http.StatusNotFound, "Alert 1 is not open."},
		{errors.New("database is locked at /var/lib/wardwatch.db"), http.StatusInternalServerError, "Something went wrong"},
	} {
		desk.mu.Lock()
		desk.err = tc.err
		desk.mu.Unlock()
		body := wantStatus(t, h.inboxPost("/alerts/1/shelve", url.Values{"reason": {"busy"}, "minutes": {"480"}}, nurse, ""), tc.status)
		inboxWant(t, body, tc.want)
		inboxWantNot(t, body, "/var/lib")
	}
}

func TestAlertStock(t *testing.T) {
	h := inboxHarness(t, newInboxDesk())
	body := wantStatus(t, h.page("/alerts/stock", h.signInAs("viewer")), http.StatusOK)
	inboxWant(t, body, "4B pumps", "Infusion pump", "Clean stock below minimum", "Soiled above maximum", "Within limits",
		"Restock", "Pump 0412", "4A clean utility", "4B clean utility", "3 min ago", "Collect", "decontamination", `href="/assets/100"`)
	if i, j := strings.Index(body, "4B pumps"), strings.Index(body, "4A pumps"); i < 0 || j < 0 || i > j {
		t.Error("the PAR level out of bounds is not listed first")
	}
	h = inboxHarness(t, &inboxFakeDesk{})
	inboxWant(t, wantStatus(t, h.page("/alerts/stock", h.signIn()), http.StatusOK), "No PAR level is configured.", "Nothing to move.")
}

// ---- websocket ----

// inboxSocket dials /alerts/live on srv with cookie c.
func inboxSocket(t *testing.T, srv *httptest.Server, c *http.Cookie) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/alerts/live"
	hdr := http.Header{"Origin": {srv.URL}}
	if c != nil {
		hdr.Set("Cookie", c.String())
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	return d.Dial(u, hdr)
}

// inboxReadClose reads until the connection fails and returns the close
// frame's code and text (0 when it failed otherwise).
func inboxReadClose(t *testing.T, conn *websocket.Conn) (int, string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			return 0, err.Error()
		}
	}
}

// inboxMetric returns the value text of a metric line starting with name
// in h's /metrics, or "".
func inboxMetric(t *testing.T, h *harness, name string) string {
	t.Helper()
	body := wantStatus(t, h.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)), http.StatusOK)
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}

func TestAlertLive(t *testing.T) {
	desk := newInboxDesk()
	h := inboxHarness(t, desk)
	srv := httptest.NewServer(h.handler)
	defer srv.Close()
	c := h.signIn()

	// Refused without a session, and from another site.
	if _, resp, err := inboxSocket(t, srv, nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed-out socket: %v %v", resp, err)
	}
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/alerts/live"
	if _, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {"https://evil.example"}, "Cookie": {c.String()}}); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site socket: %v %v", resp, err)
	}
	// The session probe.
	r := httptest.NewRequest(http.MethodGet, "/alerts/live", nil)
	r.AddCookie(c)
	wantStatus(t, h.do(r), http.StatusNoContent)

	conn, _, err := inboxSocket(t, srv, c)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	desk.waitSubs(t, 1)
	if got := inboxMetric(t, h, "wardwatch_alert_live_connections"); got != "1" {
		t.Errorf("connections gauge %q, want 1", got)
	}
	a := inboxAlerts()[1]
	if !desk.publish(AlertEvent{Seq: 7, Alert: a, Notify: true, Title: "Critical: Vaccine fridge A 9.3 °C"}) {
		t.Fatal("the stream did not take the event")
	}
	a.State = alerts.StateAck
	desk.publish(AlertEvent{Seq: 8, Alert: a})
	for _, want := range []alertWire{
		{Seq: 7, ID: 1, State: "unacknowledged", Priority: "critical", Title: "Critical: Vaccine fridge A 9.3 °C", Notify: true},
		{Seq: 8, ID: 1, State: "acknowledged", Priority: "critical", Title: "Temperature above 8.0 °C — Vaccine fridge A"},
	} {
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var got alertWire
		if err := json.Unmarshal(msg, &got); err != nil || got != want {
			t.Errorf("event %s (%v), want %+v", msg, err, want)
		}
	}

	// The desk shutting down closes the stream.
	desk.closeSubs()
	if code, text := inboxReadClose(t, conn); code != websocket.CloseGoingAway || text != "server shutting down" {
		t.Errorf("close %d %q, want going away", code, text)
	}
	desk.waitSubs(t, 0)
	for end := time.Now().Add(10 * time.Second); inboxMetric(t, h, "wardwatch_alert_live_connections") != "0"; {
		if time.Now().After(end) {
			t.Fatal("the connection gauge did not return to 0")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A client closing is answered and cleaned up.
	conn, _, err = inboxSocket(t, srv, c)
	if err != nil {
		t.Fatal(err)
	}
	desk.waitSubs(t, 1)
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	if code, _ := inboxReadClose(t, conn); code != websocket.CloseNormalClosure {
		t.Errorf("close reply %d", code)
	}
	conn.Close()
	desk.waitSubs(t, 0)
}

func TestAlertLiveBurstDelivered(t *testing.T) {
	desk := newInboxDesk()
	h := inboxHarness(t, desk)
	srv := httptest.NewServer(h.handler)
	defer srv.Close()
	conn, _, err := inboxSocket(t, srv, h.signIn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	desk.waitSubs(t, 1)
	// A flood (a gateway going offline suppresses many alerts at once)
	// is far more than the queue holds; a client that keeps reading gets
	// every event, in order.
	const n = 20 * alertLiveMaxPending
	go func() {
		a := inboxAlerts()[1]
		for i := 1; i <= n; i++ {
			if !desk.publish(AlertEvent{Seq: uint64(i), Alert: a}) {
				return
			}
		}
	}()
	for i := 1; i <= n; i++ {
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		var got alertWire
		if err := json.Unmarshal(msg, &got); err != nil || got.Seq != uint64(i) {
			t.Fatalf("event %d: %s", i, msg)
		}
	}
	if got := inboxMetric(t, h, `wardwatch_alert_live_dropped_total{reason="slow"}`); got != "0" {
		t.Errorf("slow drops %q, want 0", got)
	}
}

func TestAlertLiveSlowClientDropped(t *testing.T) {
	desk := newInboxDesk()
	h := inboxHarness(t, desk)
	srv := httptest.NewServer(h.handler)
	defer srv.Close()
	conn, _, err := inboxSocket(t, srv, h.signIn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	desk.waitSubs(t, 1)
	// The client reads nothing: once the socket buffers are full the
	// writer blocks, the queue fills and the client is dropped.
	a := inboxAlerts()[1]
	title := strings.Repeat("x", alertLiveMaxTitle)
	taken := 0
	for desk.publish(AlertEvent{Seq: uint64(taken + 1), Alert: a, Title: title}) {
		taken++
		if taken > 2_000_000 {
			t.Fatal("a client that reads nothing was never dropped")
		}
	}
	desk.waitSubs(t, 0)
	t.Logf("dropped after %d events", taken)
	if got := inboxMetric(t, h, `wardwatch_alert_live_dropped_total{reason="slow"}`); got != "1" {
		t.Errorf("slow drops %q after %d events, want 1", got, taken)
	}
	if got := inboxMetric(t, h, `wardwatch_alert_live_dropped_total{reason="write_error"}`); got != "0" {
		t.Errorf("write-error drops %q, want 0", got)
	}
}

func TestAlertLiveEndsWithSession(t *testing.T) {
	desk := newInboxDesk()
	// A session that lasts a quarter of a second (on the real clock the
	// stream's deadline runs on).
	h := inboxHarness(t, desk, func(c *Config) { c.SessionIdle = 250 * time.Millisecond })
	srv := httptest.NewServer(h.handler)
	defer srv.Close()
	conn, _, err := inboxSocket(t, srv, h.signIn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if code, text := inboxReadClose(t, conn); code != websocket.ClosePolicyViolation || text != "session ended" {
		t.Errorf("close %d %q, want the session's end", code, text)
	}
	desk.waitSubs(t, 0)
}

func TestAlertLiveEndsWithContext(t *testing.T) {
	desk := newInboxDesk()
	h := inboxHarness(t, desk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewUnstartedServer(h.handler)
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	defer srv.Close()
	conn, _, err := inboxSocket(t, srv, h.signIn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	desk.waitSubs(t, 1)
	cancel()
	if code, text := inboxReadClose(t, conn); code != websocket.CloseGoingAway || text != "server shutting down" {
		t.Errorf("close %d %q, want going away", code, text)
	}
	desk.waitSubs(t, 0)
}

func TestEncodeAlertEvent(t *testing.T) {
	a := alerts.Alert{ID: 3, State: alerts.StateUnack, Priority: alerts.PriorityLow, Rule: alerts.Rule{Name: "PM due"}}
	for _, tc := range []struct {
		title string
		want  string
	}{
		{"", "PM due"},
		{"a\xffb", "a\uFFFDb"},
		{strings.Repeat("é", 400), strings.Repeat("é", alertLiveMaxTitle/2)},
		{`"</script>`, `"</script>`},
	} {
		var got alertWire
		if err := json.Unmarshal(encodeAlertEvent(AlertEvent{Seq: 1, Alert: a, Title: tc.title}), &got); err != nil {
			t.Fatal(err)
		}
		if got.Title != tc.want || got.ID != 3 || got.State != "unacknowledged" || got.Priority != "low" {
			t.Errorf("title %q → %+v", tc.title, got)
		}
	}
}

// ---- fuzz ----

func FuzzParseInboxFilter(f *testing.F) {
	for _, s := range []string{"", "unit=7&priority=high&state=shelved", "from=2026-03-01&to=2026-03-02", "unit=07", "priority=%zz",
		"state=all&state=none", "unit=9223372036854775808", "from=2026-02-30", "to=+2026-01-01", strings.Repeat("&", 2000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got, err := parseInboxFilter(q)
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if got.UnitID < 0 || (got.Priority != "" && !got.Priority.Valid()) {
			t.Fatalf("accepted %+v", got)
		}
		again, err := parseInboxFilter(strings.TrimPrefix(got.query(), "?"))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%+v does not round-trip: %+v, %v", got, again, err)
		}
		if _, err := got.history(inboxZone); err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Fatalf("history error %v", err)
		}
	})
}

func FuzzParseShelveMinutes(f *testing.F) {
	for _, s := range []string{"15", "480", "0", "-1", "015", "1e3", "1h", " 60", "99999999999999999999", "\u0661\u0665"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseShelveMinutes(s)
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if d <= 0 || d > inboxMaxShelveMin*time.Minute || d%time.Minute != 0 {
			t.Fatalf("accepted %q as %v", s, d)
		}
	})
}

// FuzzAlertActionForm fuzzes the reading of an action's form body.
func FuzzAlertActionForm(f *testing.F) {
	for _, s := range []string{"reason=busy&minutes=60", "note=a%00b", "cause=x&action=y&disposition=z", "reason=%ff&minutes=15",
		"minutes=15&minutes=30", "reason=" + strings.Repeat("x", 1200), "note=line%0D%0Abreak", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		for _, name := range []string{"note", "reason", "cause", "action", "disposition", "minutes"} {
			v, err := inboxText(form, name, "Field", name != "note")
			if err != nil {
				if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
					t.Fatalf("error %v is not EINVALID", err)
				}
				continue
			}
			if !utf8.ValidString(v) || utf8.RuneCountInString(v) > inboxMaxNote || strings.TrimSpace(v) != v {
				t.Fatalf("%s accepted as %q", name, v)
			}
			for _, c := range v {
				if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7f {
					t.Fatalf("%s kept control character %U", name, c)
				}
			}
			if name == "minutes" {
				_, _ = parseShelveMinutes(v)
			}
		}
	})
}

// ---- benchmarks ----

// benchAlerts is n open alerts of mixed priorities and states.
func benchAlerts(n int) []alerts.Alert {
	base := inboxAlerts()
	out := make([]alerts.Alert, n)
	for i := range out {
		a := base[i%len(base)]
		a.ID = int64(i + 1)
		a.RaisedAt = t0.Add(-time.Duration(i) * time.Minute)
		a.Priority = alerts.Priorities()[i%5]
		out[i] = a
	}
	return out
}

// BenchmarkAlertInbox builds and renders the inbox's live part (what each
// live reload costs) over 1000 open alerts.
func BenchmarkAlertInbox(b *testing.B) {
	open := benchAlerts(1000)
	s := inboxSite{units: map[int64]string{7: "Pharmacy", 8: "Ward 4B"}, loc: inboxZone, now: t0}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v := buildInbox(open, inboxFilter{Group: inboxGroupAll}, s, true)
		if err := inboxLive(v).Render(ctx, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeAlertEvent is the cost of one websocket message.
func BenchmarkEncodeAlertEvent(b *testing.B) {
	ev := AlertEvent{Seq: 1, Alert: inboxAlerts()[1], Notify: true, Title: "Critical: Vaccine fridge A 9.3 °C"}
	b.ReportAllocs()
	for b.Loop() {
		encodeAlertEvent(ev)
	}
}

// TestAlertActionHTMX: the inbox's one-click acknowledge posts through
// htmx and gets the inbox's live part back for the same filters, swapped
// in place (no redirect); from the detail page it still redirects.
func TestAlertActionHTMX(t *testing.T) {
	desk := newInboxDesk()
	h := inboxHarness(t, desk)
	nurse := h.signIn()
	post := func(referer string) *http.Response {
		r := httptest.NewRequest(http.MethodPost, "/alerts/1/acknowledge", strings.NewReader(""))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("HX-Request", "true")
		r.Header.Set("Referer", referer)
		r.AddCookie(nurse)
		return h.do(r)
	}
	body := wantStatus(t, post("http://example.com/alerts?state=all"), http.StatusOK)
	if strings.Contains(body, "<html") || !strings.Contains(body, "<table") {
		t.Errorf("htmx answer is not the inbox fragment:\n%.400s", body)
	}
	if got := desk.lastCall(); got.Action != "acknowledge" || got.ID != 1 {
		t.Errorf("desk call %+v", got)
	}
	wantStatus(t, post("http://example.com/alerts/1"), http.StatusSeeOther)
}
