package snmp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/wardwatch/wardwatch"
)

// fakeAgent is a scripted in-memory agent for poll tests.
type fakeAgent struct {
	mib        []gosnmp.SnmpPDU // sorted by OID
	v1         bool
	maxGet     int  // a GET of more OIDs answers tooBig (0: no limit)
	maxBulk    int  // a GETBULK answer is cut to this many varbinds (0: no limit)
	maxBulkVBs int  // a GETBULK asking for more varbinds answers tooBig (0: no limit)
	tooBig     bool // every GET answers tooBig
	loop       bool
	err        error
	requests   []string
}

func newFakeAgent(vbs ...gosnmp.SnmpPDU) *fakeAgent {
	a := &fakeAgent{}
	for _, v := range vbs {
		v.Name = dotted(v.Name)
		a.mib = append(a.mib, v)
	}
	slices.SortFunc(a.mib, func(x, y gosnmp.SnmpPDU) int { return compareOID(x.Name, y.Name) })
	return a
}

func (a *fakeAgent) find(name string) (int, bool) {
	return slices.BinarySearchFunc(a.mib, name, func(v gosnmp.SnmpPDU, n string) int { return compareOID(v.Name, n) })
}

func (a *fakeAgent) next(name string) (gosnmp.SnmpPDU, bool) {
	if a.loop { // the first row, again and again
		if !strings.HasSuffix(name, ".1") {
			name += ".1"
		}
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.Integer, Value: 1}, true
	}
	i, ok := a.find(name)
	if ok {
		i++
	}
	if i >= len(a.mib) {
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.EndOfMibView}, false
	}
	return a.mib[i], true
}

func (a *fakeAgent) Get(oids []string) (*gosnmp.SnmpPacket, error) {
	a.requests = append(a.requests, fmt.Sprintf("get %d", len(oids)))
	if a.err != nil {
		return nil, a.err
	}
	if a.tooBig || a.maxGet > 0 && len(oids) > a.maxGet {
		return &gosnmp.SnmpPacket{Error: gosnmp.TooBig}, nil
	}
	res := &gosnmp.SnmpPacket{}
	for i, o := range oids {
		if j, ok := a.find(o); ok {
			res.Variables = append(res.Variables, a.mib[j])
		} else if a.v1 {
			return &gosnmp.SnmpPacket{Error: gosnmp.NoSuchName, ErrorIndex: uint8(i + 1)}, nil
		} else {
			res.Variables = append(res.Variables, gosnmp.SnmpPDU{Name: o, Type: gosnmp.NoSuchObject})
		}
	}
	return res, nil
}

func (a *fakeAgent) GetNext(oids []string) (*gosnmp.SnmpPacket, error) {
	a.requests = append(a.requests, fmt.Sprintf("getnext %d", len(oids)))
	if a.err != nil {
		return nil, a.err
	}
	res := &gosnmp.SnmpPacket{}
	for i, o := range oids {
		v, ok := a.next(o)
		if !ok && a.v1 {
			return &gosnmp.SnmpPacket{Error: gosnmp.NoSuchName, ErrorIndex: uint8(i + 1)}, nil
		}
		res.Variables = append(res.Variables, v)
	}
	return res, nil
}

func (a *fakeAgent) GetBulk(oids []string, nonRepeaters uint8, reps uint32) (*gosnmp.SnmpPacket, error) {
	a.requests = append(a.requests, fmt.Sprintf("bulk %dx%d", len(oids), reps))
	if a.err != nil {
		return nil, a.err
	}
	if a.v1 {
		return nil, errors.New("v1 has no GETBULK")
	}
	if a.maxBulkVBs > 0 && len(oids)*int(reps) > a.maxBulkVBs {
		return &gosnmp.SnmpPacket{Error: gosnmp.TooBig}, nil
	}
	res := &gosnmp.SnmpPacket{}
	cur := slices.Clone(oids)
	for range reps {
		for i := range cur {
			v, _ := a.next(cur[i])
			cur[i] = v.Name
			res.Variables = append(res.Variables, v)
		}
	}
	if a.maxBulk > 0 && len(res.Variables) > a.maxBulk {
		res.Variables = res.Variables[:a.maxBulk]
	}
	return res, nil
}

func str(oid, s string) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.OctetString, Value: []byte(s)}
}
func integer(oid string, v int) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.Integer, Value: v}
}
func gauge(oid string, v uint) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.Gauge32, Value: v}
}

// singlePumpMIB is one pump's agent in the example MIB.
func singlePumpMIB() []gosnmp.SnmpPDU {
	s := func(n int) string { return fmt.Sprintf("%s.1.%d.0", ExampleArc, n) }
	return []gosnmp.SnmpPDU{
		str("1.3.6.1.2.1.1.1.0", "a pump"),
		str(s(1), "P-0412"), str(s(2), "LVP-200"), str(s(3), "4.2.1"), str(s(4), "RUN"),
		integer(s(5), 2), gauge(s(6), 64), gauge(s(7), 1255), gauge(s(8), 2500), gauge(s(9), 1234),
		integer(s(10), 0b1001), str(s(11), "Adult ICU"), str(s(12), "2026.4"),
	}
}

// serverMIB is a pump server with three pumps: row 2 lacks a battery
// value, pump 3 has two alarms.
func serverMIB() []gosnmp.SnmpPDU {
	c := func(col, row int) string { return fmt.Sprintf("%s.2.1.1.%d.%d", ExampleArc, col, row) }
	a := func(col, row, n int) string { return fmt.Sprintf("%s.2.2.1.%d.%d.%d", ExampleArc, col, row, n) }
	var vbs []gosnmp.SnmpPDU
	for row := 1; row <= 3; row++ {
		vbs = append(vbs,
			str(c(2, row), fmt.Sprintf("S-%d", row)), str(c(3, row), "LVP-200"), str(c(4, row), "4.2.1"),
			integer(c(5, row), []int{2, 3, 6}[row-1]), integer(c(6, row), []int{1, 2, 1}[row-1]),
			gauge(c(8, row), uint(row*100)), gauge(c(9, row), 5000), gauge(c(10, row), uint(row*12345)),
			str(c(11, row), "Adult ICU"), str(c(12, row), "2026.4"), str(c(13, row), "4B"))
		if row != 2 {
			vbs = append(vbs, gauge(c(7, row), uint(90+row)))
		}
	}
	vbs = append(vbs,
		str(a(2, 3, 1), "OCCL"), str(a(3, 3, 1), "Occlusion"), integer(a(4, 3, 1), 1),
		str(a(2, 3, 2), "LOWBAT"), str(a(3, 3, 2), "Battery low"), integer(a(4, 3, 2), 2),
		str("1.3.6.1.4.1.32473.8.1.0", "after the tables"),
	)
	return vbs
}

var testNow = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

func testSettings(t *testing.T, change func(*Target)) *settings {
	t.Helper()
	target := Target{ID: 9, Name: "test", Address: "192.0.2.1", Version: "v2c", Community: "ro", Profile: "p"}
	if change != nil {
		change(&target)
	}
	s, err := target.settings()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runPoll(t *testing.T, a *fakeAgent, s *settings, profile string, detail bool) (outcome, error) {
	t.Helper()
	p, _ := BuiltinProfile(profile)
	pl, err := compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return poll(a, nil, s, pl, func() time.Time { return testNow }, detail)
}

func wantServer() []wardwatch.PumpState {
	nan := math.NaN()
	base := wardwatch.PumpState{Time: testNow, TargetID: 9, Model: "LVP-200", Firmware: "4.2.1", DrugLibrary: "Adult ICU", DrugLibraryVersion: "2026.4", VTBI: 500}
	p1, p2, p3 := base, base, base
	p1.Serial, p1.Status, p1.OnAC, p1.Battery, p1.Rate, p1.Infused = "S-1", wardwatch.PumpInfusing, true, 91, 10, 123.45
	p2.Serial, p2.Status, p2.OnAC, p2.Battery, p2.Rate, p2.Infused = "S-2", wardwatch.PumpPaused, false, nan, 20, 246.9
	p3.Serial, p3.Status, p3.OnAC, p3.Battery, p3.Rate, p3.Infused = "S-3", wardwatch.PumpAlarming, true, 93, 30, 370.35
	p3.Alarms = []wardwatch.PumpAlarm{
		{Code: "OCCL", Text: "Occlusion", Priority: wardwatch.PriorityHigh},
		{Code: "LOWBAT", Text: "Battery low", Priority: wardwatch.PriorityMedium},
	}
	return []wardwatch.PumpState{p1, p2, p3}
}

func TestPollSinglePump(t *testing.T) {
	want := []wardwatch.PumpState{{
		Time: testNow, TargetID: 9, Serial: "P-0412", Model: "LVP-200", Status: wardwatch.PumpInfusing, OnAC: false,
		Battery: 64, Rate: 125.5, VTBI: 250, Infused: 123.4, Firmware: "4.2.1", DrugLibrary: "Adult ICU", DrugLibraryVersion: "2026.4",
		Alarms: []wardwatch.PumpAlarm{
			{Code: "occlusion", Text: "Downstream occlusion", Priority: wardwatch.PriorityHigh},
			{Code: "low_battery", Text: "Battery low", Priority: wardwatch.PriorityMedium},
		},
	}}
	for _, tc := range []struct {
		name     string
		agent    func() *fakeAgent
		change   func(*Target)
		requests []string
	}{
		{"one GET", func() *fakeAgent { return newFakeAgent(singlePumpMIB()...) }, nil, []string{"get 12"}},
		{"batches of 5", func() *fakeAgent { return newFakeAgent(singlePumpMIB()...) }, func(t *Target) { t.MaxOIDsPerRequest = 5 },
			[]string{"get 5", "get 5", "get 2"}},
		{"tooBig splits", func() *fakeAgent { a := newFakeAgent(singlePumpMIB()...); a.maxGet = 4; return a }, nil,
			[]string{"get 12", "get 6", "get 3", "get 3", "get 6", "get 3", "get 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.agent()
			out, err := runPoll(t, a, testSettings(t, tc.change), ExamplePumpProfile, false)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffStates(out.pumps, want); d != "" {
				t.Error(d)
			}
			if !slices.Equal(a.requests, tc.requests) {
				t.Errorf("requests %v, want %v", a.requests, tc.requests)
			}
			if len(out.issues) > 0 {
				t.Errorf("issues %q", out.issues)
			}
		})
	}
}

func TestPollSinglePumpMissingFields(t *testing.T) {
	mib := slices.DeleteFunc(singlePumpMIB(), func(v gosnmp.SnmpPDU) bool {
		return strings.HasSuffix(v.Name, ".1.2.0") || strings.HasSuffix(v.Name, ".1.6.0") // model, battery
	})
	for _, v1 := range []bool{false, true} {
		t.Run(fmt.Sprint("v1=", v1), func(t *testing.T) {
			a := newFakeAgent(mib...)
			a.v1 = v1
			out, err := runPoll(t, a, testSettings(t, nil), ExamplePumpProfile, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.pumps) != 1 || out.pumps[0].Model != "" || !math.IsNaN(out.pumps[0].Battery) || out.pumps[0].Serial != "P-0412" {
				t.Fatalf("pumps %+v", out.pumps)
			}
			if len(out.issues) != 2 || !strings.Contains(out.issues[0], "OID 1.3.6.1.4.1.32473.7.1.2.0 (model) not supported by the agent") {
				t.Errorf("issues %q", out.issues)
			}
			var model FieldRead
			for _, r := range out.reads {
				if r.Field == "model" {
					model = r
				}
			}
			if model.Raw != "noSuchObject" || model.Error != "not supported by the agent" {
				t.Errorf("model read %+v", model)
			}
		})
	}
}

func TestPollSinglePumpErrors(t *testing.T) {
	noSerial := slices.DeleteFunc(singlePumpMIB(), func(v gosnmp.SnmpPDU) bool { return strings.HasSuffix(v.Name, ".1.1.0") })
	for _, tc := range []struct {
		name  string
		agent *fakeAgent
		is    error
		msg   string
	}{
		{"no serial", newFakeAgent(noSerial...), ErrUnsupported, "Profile wardwatch-example-pump: OID 1.3.6.1.4.1.32473.7.1.1.0 (serial) not supported by the agent at 192.0.2.1:161"},
		{"empty serial", newFakeAgent(append(noSerial, str(ExampleArc+".1.1.0", " \x00"))...), ErrAgent, "OID 1.3.6.1.4.1.32473.7.1.1.0 (serial) at 192.0.2.1:161 holds no serial number (STRING (hex) 20 00)."},
		{"tooBig for one OID", func() *fakeAgent { a := newFakeAgent(singlePumpMIB()...); a.tooBig = true; return a }(), ErrAgent, "does not fit in an SNMP message (tooBig)"},
		{"timeout", func() *fakeAgent {
			a := newFakeAgent()
			a.err = fmt.Errorf("request timeout (after 2 retries): %w", gosnmp.ErrMaxRetriesExceeded)
			return a
		}(), ErrNoAnswer, "No answer from 192.0.2.1:161 after 3 tries"},
		{"refused", func() *fakeAgent {
			a := newFakeAgent()
			a.err = fmt.Errorf("error reading from socket: %w", syscall.ECONNREFUSED)
			return a
		}(), ErrNoAnswer, "nothing listens on that port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runPoll(t, tc.agent, testSettings(t, nil), ExamplePumpProfile, false)
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
			if msg := wardwatch.ErrorMessage(err); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q, want it to contain %q", msg, tc.msg)
			}
		})
	}
}

func TestPollTable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		agent  func() *fakeAgent
		change func(*Target)
		check  func(t *testing.T, requests []string)
	}{
		{"bulk", func() *fakeAgent { return newFakeAgent(serverMIB()...) }, nil, nil},
		{"bulk, 4 columns per request", func() *fakeAgent { return newFakeAgent(serverMIB()...) }, func(t *Target) { t.MaxOIDsPerRequest = 4 }, nil},
		{"bulk, one repetition", func() *fakeAgent { return newFakeAgent(serverMIB()...) }, func(t *Target) { t.MaxRepetitions = 1 }, nil},
		{"bulk answers cut short", func() *fakeAgent { a := newFakeAgent(serverMIB()...); a.maxBulk = 5; return a }, nil, nil},
		{"bulk tooBig halves repetitions, then columns", func() *fakeAgent { a := newFakeAgent(serverMIB()...); a.maxBulkVBs = 3; return a }, nil,
			func(t *testing.T, requests []string) {
				if !slices.Contains(requests, "bulk 14x5") || !slices.Contains(requests, "bulk 3x1") {
					t.Errorf("requests %v: want repetitions halved, then fewer columns", requests)
				}
			}},
		{"v1 getnext", func() *fakeAgent { a := newFakeAgent(serverMIB()...); a.v1 = true; return a }, func(t *Target) { t.Version = "v1" }, nil},
		{"v1 at the end of the MIB", func() *fakeAgent {
			a := newFakeAgent(slices.DeleteFunc(serverMIB(), func(v gosnmp.SnmpPDU) bool { return strings.Contains(v.Name, "32473.8") })...)
			a.v1 = true
			return a
		}, func(t *Target) { t.Version = "v1" }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.agent()
			out, err := runPoll(t, a, testSettings(t, tc.change), ExamplePumpServerProfile, false)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffStates(out.pumps, wantServer()); d != "" {
				t.Error(d)
			}
			if len(out.issues) > 0 {
				t.Errorf("issues %q", out.issues)
			}
			if tc.check != nil {
				tc.check(t, a.requests)
			}
		})
	}
}

func TestPollTableProblems(t *testing.T) {
	c := func(col, row int) string { return fmt.Sprintf("%s.2.1.1.%d.%d", ExampleArc, col, row) }
	for _, tc := range []struct {
		name   string
		mib    []gosnmp.SnmpPDU
		serial []string // pumps read
		issues []string // substrings, in order
	}{
		{"empty table", nil, nil, nil},
		{"row without serial", []gosnmp.SnmpPDU{str(c(2, 1), "A"), integer(c(5, 1), 2), integer(c(5, 2), 2)}, []string{"A"},
			[]string{"pump row 2 has no serial number; skipped"}},
		{"duplicate serial", []gosnmp.SnmpPDU{str(c(2, 1), "A"), str(c(2, 2), "A"), str(c(2, 3), "B")}, []string{"A", "B"},
			[]string{"pump rows 1 and 2 have the same serial number \"A\"; row 2 skipped"}},
		{"alarm for a missing pump", []gosnmp.SnmpPDU{str(c(2, 1), "A"), str(ExampleArc+".2.2.1.2.7.1", "OCCL")}, []string{"A"},
			[]string{"1 alarm(s) in the alarm table for pump row \"7\""}},
		{"unmapped status", []gosnmp.SnmpPDU{str(c(2, 1), "A"), integer(c(5, 1), 42)}, []string{"A"},
			[]string{"status at OID 1.3.6.1.4.1.32473.7.2.1.1.5 row 1: status \"42\" is not in the profile's enum"}},
		{"multi-arc index", []gosnmp.SnmpPDU{str(c(2, 1)+".5", "A"), str(c(3, 1)+".5", "M"), str(ExampleArc+".2.2.1.2.1.5.1", "AIL")}, []string{"A"},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runPoll(t, newFakeAgent(tc.mib...), testSettings(t, nil), ExamplePumpServerProfile, false)
			if err != nil {
				t.Fatal(err)
			}
			var serials []string
			for _, p := range out.pumps {
				serials = append(serials, p.Serial)
			}
			if !slices.Equal(serials, tc.serial) {
				t.Errorf("pumps %v, want %v", serials, tc.serial)
			}
			var issues []string // without the columns the small MIBs lack
			for _, is := range out.issues {
				if !strings.Contains(is, "it has no values") {
					issues = append(issues, is)
				}
			}
			if len(issues) != len(tc.issues) {
				t.Fatalf("issues %q, want %q", issues, tc.issues)
			}
			for i := range issues {
				if !strings.Contains(issues[i], tc.issues[i]) {
					t.Errorf("issue %q, want it to contain %q", issues[i], tc.issues[i])
				}
			}
			if tc.name == "multi-arc index" && (len(out.pumps) != 1 || len(out.pumps[0].Alarms) != 1 || out.pumps[0].Alarms[0].Code != "AIL") {
				t.Errorf("alarm not matched to its pump: %+v", out.pumps)
			}
		})
	}
}

func TestPollWalkErrors(t *testing.T) {
	loop := newFakeAgent(serverMIB()...)
	loop.loop = true
	_, err := runPoll(t, loop, testSettings(t, nil), ExamplePumpServerProfile, false)
	if !errors.Is(err, ErrAgent) || !strings.Contains(wardwatch.ErrorMessage(err), "OIDs must increase") {
		t.Errorf("looping agent: %v", err)
	}

	// An endless table: a poll stops at its budget.
	endless := &endlessAgent{}
	p, _ := BuiltinProfile(ExamplePumpServerProfile)
	pl, _ := compile(p)
	_, err = poll(endless, nil, testSettings(t, nil), pl, time.Now, false)
	if !errors.Is(err, ErrAgent) || !strings.Contains(wardwatch.ErrorMessage(err), "the tables hold more than 200000 values") {
		t.Errorf("endless agent: %v", err)
	}
}

// endlessAgent answers every GETBULK with ever larger rows.
type endlessAgent struct{ n int }

func (a *endlessAgent) Get([]string) (*gosnmp.SnmpPacket, error)     { return nil, errors.New("no") }
func (a *endlessAgent) GetNext([]string) (*gosnmp.SnmpPacket, error) { return nil, errors.New("no") }
func (a *endlessAgent) GetBulk(oids []string, _ uint8, reps uint32) (*gosnmp.SnmpPacket, error) {
	res := &gosnmp.SnmpPacket{}
	for range reps {
		a.n++
		for _, o := range oids {
			col := o
			if i := strings.Index(o, ".2.1.1."); i >= 0 {
				col = o[:i+len(".2.1.1.")] + strings.SplitN(o[i+len(".2.1.1."):], ".", 2)[0]
			}
			res.Variables = append(res.Variables, integer(fmt.Sprintf("%s.%d", col, a.n), 1))
		}
	}
	return res, nil
}

func TestExplain(t *testing.T) {
	s := testSettings(t, func(t *Target) {
		*t = v3Target()
		t.Address = "10.0.0.5"
	})
	for _, tc := range []struct {
		name string
		err  error
		hint v3Hint
		is   error
		code string
		msg  string
	}{
		{"timeout", fmt.Errorf("request timeout (after 2 retries): %w", gosnmp.ErrMaxRetriesExceeded), hintNone, ErrNoAnswer, wardwatch.EUNAVAILABLE,
			"No answer from 10.0.0.5:161 after 3 tries (check the address; a wrong privacy password also looks like this)."},
		{"deadline", context.DeadlineExceeded, hintNone, ErrNoAnswer, wardwatch.EUNAVAILABLE, "No answer from 10.0.0.5:161"},
		{"unknown user report", gosnmp.ErrUnknownUsername, hintNone, ErrAuth, wardwatch.EINVALID, "does not know the user \"wardwatch\""},
		{"wrong digest report", gosnmp.ErrWrongDigest, hintNone, ErrAuth, wardwatch.EINVALID, "wrong authentication password or protocol"},
		{"decryption report", gosnmp.ErrDecryption, hintNone, ErrAuth, wardwatch.EINVALID, "wrong privacy password or protocol"},
		{"security level", gosnmp.ErrUnknownSecurityLevel, hintNone, ErrAuth, wardwatch.EINVALID, "does not allow user \"wardwatch\" to use authentication with privacy"},
		{"not authentic", errors.New("incoming packet is not authentic, discarding"), hintNone, ErrAuth, wardwatch.EINVALID, "wrong authentication password"},
		{"diagnosed unknown user", errors.New("incoming packet is not authentic, discarding"), hintUnknownUser, ErrAuth, wardwatch.EINVALID, "does not know the user"},
		{"diagnosed priv", fmt.Errorf("request timeout: %w", gosnmp.ErrMaxRetriesExceeded), hintWrongPriv, ErrAuth, wardwatch.EINVALID, "cannot decrypt our requests"},
		{"time window", gosnmp.ErrNotInTimeWindow, hintNone, ErrAuth, wardwatch.EUNAVAILABLE, "not in time window"},
		{"other", errors.New("marshal: boom"), hintNone, ErrAgent, wardwatch.EUNAVAILABLE, "SNMP request to 10.0.0.5:161 failed."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := explain(s, tc.err, tc.hint)
			if !errors.Is(err, tc.is) || !errors.Is(err, tc.err) {
				t.Errorf("err %v: want it to wrap %v and %v", err, tc.is, tc.err)
			}
			if code := wardwatch.ErrorCode(err); code != tc.code {
				t.Errorf("code %q, want %q", code, tc.code)
			}
			if msg := wardwatch.ErrorMessage(err); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q, want it to contain %q", msg, tc.msg)
			}
		})
	}
	if err := explain(s, context.Canceled, hintNone); err != context.Canceled {
		t.Errorf("cancellation rewritten: %v", err)
	}
}
