package snmpsim

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// clock is a settable clock for the simulation.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func startAgent(t *testing.T, pumps int, now func() time.Time) *Agent {
	t.Helper()
	a, err := Start(t.Context(), "127.0.0.1:0", pumps, 42, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		if s := a.Stats(); s.Panics != 0 {
			t.Errorf("agent recovered %d panics", s.Panics)
		}
	})
	return a
}

// client is a gosnmp session to a: "v2c" with a community, or "v3" with a
// user (and the agent's passwords unless authPass/privPass override them).
func client(t *testing.T, a *Agent, version, name, authPass, privPass string) *gosnmp.GoSNMP {
	t.Helper()
	g := &gosnmp.GoSNMP{
		Target:  "127.0.0.1",
		Port:    uint16(a.Port()),
		Timeout: 500 * time.Millisecond,
		Retries: 1,
	}
	switch version {
	case "v1":
		g.Version, g.Community = gosnmp.Version1, name
	case "v2c":
		g.Version, g.Community = gosnmp.Version2c, name
	case "v3":
		if authPass == "" {
			authPass = AuthPassword
		}
		if privPass == "" {
			privPass = PrivPassword
		}
		g.Version, g.SecurityModel, g.MsgFlags = gosnmp.Version3, gosnmp.UserSecurityModel, gosnmp.AuthPriv
		g.SecurityParameters = &gosnmp.UsmSecurityParameters{
			UserName:                 name,
			AuthenticationProtocol:   gosnmp.SHA256,
			AuthenticationPassphrase: authPass,
			PrivacyProtocol:          gosnmp.AES,
			PrivacyPassphrase:        privPass,
		}
	}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func TestServerTable(t *testing.T) {
	const pumps = 12
	c := newClock()
	a := startAgent(t, pumps, c.now)
	for _, tc := range []struct{ version, name string }{
		{"v2c", Community},
		{"v3", User},
	} {
		t.Run(tc.version, func(t *testing.T) {
			g := client(t, a, tc.version, tc.name, "", "")
			g.MaxRepetitions = 20
			vbs, err := g.BulkWalkAll(arcPumpEntry.String())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(vbs), pumps*12; got != want {
				t.Fatalf("walked %d values, want %d (12 columns × %d pumps)", got, want, pumps)
			}
			truth := a.PumpStates()
			for i, st := range truth {
				name := arcPumpEntry.child(2, uint32(i+1)).String()
				if got := string(vbs[i].Value.([]byte)); vbs[i].Name != name || got != st.Serial {
					t.Errorf("row %d: %s = %q, want %s = %q", i+1, vbs[i].Name, got, name, st.Serial)
				}
			}
			if truth[oldLibraryPump].DrugLibraryVersion != drugLibraryOld || truth[0].DrugLibraryVersion != drugLibraryCurrent {
				t.Errorf("drug library versions %q, %q: want one pump on the old library", truth[0].DrugLibraryVersion, truth[oldLibraryPump].DrugLibraryVersion)
			}
		})
	}
}

func TestPumpViews(t *testing.T) {
	a := startAgent(t, 5, newClock().now)
	serial := arcPump.child(1, 0).String()
	for _, tc := range []struct {
		name          string
		version, user string
		context       string
		want          string
	}{
		{"v2c community", "v2c", PumpCommunity(3), "", "SIM-0412"},
		{"v1 community", "v1", PumpCommunity(5), "", "SIM-0414"},
		{"v3 user", "v3", PumpUser(2), "", "SIM-0411"},
		{"v3 context", "v3", User, PumpContext(4), "SIM-0413"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := client(t, a, tc.version, tc.user, "", "")
			g.ContextName = tc.context
			res, err := g.Get([]string{serial})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(res.Variables[0].Value.([]byte)); got != tc.want {
				t.Errorf("serial = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("server has no pump scalars", func(t *testing.T) {
		g := client(t, a, "v2c", Community, "", "")
		res, err := g.Get([]string{serial})
		if err != nil {
			t.Fatal(err)
		}
		if typ := res.Variables[0].Type; typ != gosnmp.NoSuchObject {
			t.Errorf("type %v, want NoSuchObject", typ)
		}
	})
	t.Run("v1 noSuchName", func(t *testing.T) {
		g := client(t, a, "v1", PumpCommunity(1), "", "")
		res, err := g.Get([]string{serial, arcPump.child(99, 0).String()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Error != gosnmp.NoSuchName || res.ErrorIndex != 2 {
			t.Errorf("error %v index %d, want NoSuchName at 2", res.Error, res.ErrorIndex)
		}
	})
}

func TestV3Refusals(t *testing.T) {
	a := startAgent(t, 2, newClock().now)
	get := func(g *gosnmp.GoSNMP) error {
		_, err := g.Get([]string{arcSystem.child(1, 0).String()})
		return err
	}
	for _, tc := range []struct {
		name     string
		user     string
		auth     string
		priv     string
		wantErr  error  // errors.Is
		wantText string // else a substring
	}{
		// gosnmp discards the unauthenticated Reports of refusals as "not
		// authentic" when it expects authPriv.
		{"unknown user", "nobody", "", "", nil, "not authentic"},
		{"wrong auth password", User, "wrong-auth-password", "", nil, "not authentic"},
		{"wrong priv password", User, "", "wrong-priv-password", nil, "not authentic"},
		{"unknown pump user", PumpUser(3), "", "", nil, "not authentic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.Stats().AuthFailures
			err := get(client(t, a, "v3", tc.user, tc.auth, tc.priv))
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			case tc.wantText != "" && !strings.Contains(err.Error(), tc.wantText):
				t.Errorf("err = %v, want it to contain %q", err, tc.wantText)
			}
			if a.Stats().AuthFailures == before {
				t.Error("AuthFailures did not grow")
			}
		})
	}
	t.Run("wrong community is dropped", func(t *testing.T) {
		before := a.Stats().BadCommunity
		if err := get(client(t, a, "v2c", "public", "", "")); err == nil {
			t.Fatal("no error")
		}
		if a.Stats().BadCommunity == before {
			t.Error("BadCommunity did not grow")
		}
	})
}

// TestTimeWindow checks an authenticated request whose engine time is off
// by more than 150 s gets a notInTimeWindow Report, which gosnmp recovers
// from by retrying with the agent's time.
func TestTimeWindow(t *testing.T) {
	c := newClock()
	a := startAgent(t, 1, c.now)
	g := client(t, a, "v3", User, "", "")
	if _, err := g.Get([]string{arcSystem.child(3, 0).String()}); err != nil {
		t.Fatal(err)
	}
	c.add(10 * time.Minute) // the agent's engine time jumps ahead
	res, err := g.Get([]string{arcSystem.child(3, 0).String()})
	if err != nil {
		t.Fatalf("after the agent's clock moved: %v", err)
	}
	if up := res.Variables[0].Value.(uint32); up < 60000 {
		t.Errorf("sysUpTime %d, want ≥ 10 min", up)
	}
}

func TestValuesChange(t *testing.T) {
	c := newClock()
	a := startAgent(t, 12, c.now)
	g := client(t, a, "v2c", Community, "", "")
	infused := func() map[string]uint {
		vbs, err := g.BulkWalkAll(arcPumpEntry.child(10).String())
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]uint{}
		for _, v := range vbs {
			m[v.Name] = v.Value.(uint)
		}
		return m
	}
	first := infused()
	c.add(90 * time.Second)
	second := infused()
	grew := 0
	for name, v := range second {
		if v > first[name] {
			grew++
		}
	}
	if grew == 0 {
		t.Errorf("no pump's infused volume grew in 90 s: %v then %v", first, second)
	}
}

func TestMessageSize(t *testing.T) {
	a := startAgent(t, 30, newClock().now)
	a.SetMaxMessageSize(484)
	g := client(t, a, "v2c", Community, "", "")
	res, err := g.GetBulk([]string{arcPumpEntry.String()}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.NoError || len(res.Variables) == 0 || len(res.Variables) >= 100 {
		t.Errorf("GetBulk: error %v, %d varbinds; want a shortened answer", res.Error, len(res.Variables))
	}
	names := make([]string, 30)
	for i := range names {
		names[i] = arcPumpEntry.child(3, uint32(i+1)).String()
	}
	res, err = g.Get(names)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.TooBig {
		t.Errorf("Get of 30 models in 484 bytes: error %v, want TooBig", res.Error)
	}
}

func TestSetRefused(t *testing.T) {
	a := startAgent(t, 1, newClock().now)
	g := client(t, a, "v2c", Community, "", "")
	res, err := g.Set([]gosnmp.SnmpPDU{{Name: arcSystem.child(5, 0).String(), Type: gosnmp.OctetString, Value: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.NotWritable {
		t.Errorf("Set answered %v, want NotWritable", res.Error)
	}
}

// TestStop checks the agent stops answering and its goroutines end when
// its context ends.
func TestStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Start(ctx, "127.0.0.1:0", 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-a.done // the serve goroutine has returned
	if err := a.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Errorf("Close after stop: %v", err)
	}
	g := client(t, a, "v2c", Community, "", "")
	g.Timeout, g.Retries = 100*time.Millisecond, 0
	if _, err := g.Get([]string{arcSystem.child(1, 0).String()}); err == nil {
		t.Error("a stopped agent answered")
	}
}

func TestStartErrors(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		pumps int
	}{
		{"127.0.0.1:0", 0},
		{"127.0.0.1:0", MaxPumps + 1},
		{"not an address", 1},
	} {
		if a, err := Start(t.Context(), tc.addr, tc.pumps, 1, nil); err == nil {
			a.Close()
			t.Errorf("Start(%q, %d): no error", tc.addr, tc.pumps)
		}
	}
}

// TestNetSNMPClient reads the simulator with net-snmp's own client tools,
// an SNMP implementation independent of gosnmp, when they are installed
// (scripts/ensure-snmpd.sh installs them with snmpd).
func TestNetSNMPClient(t *testing.T) {
	walk, err := exec.LookPath("snmpbulkwalk")
	if err != nil {
		t.Skip("snmpbulkwalk not installed (Debian package snmp); skipping the net-snmp client cross-check")
	}
	a := startAgent(t, 4, newClock().now)
	addr := "127.0.0.1:" + strconv.Itoa(a.Port())
	for _, args := range [][]string{
		{"-v2c", "-c", Community},
		{"-v3", "-l", "authPriv", "-u", User, "-a", "SHA-256", "-A", AuthPassword, "-x", "AES", "-X", PrivPassword},
	} {
		cmd := exec.Command(walk, append(append([]string{"-On", "-Ob", "-t", "2", "-r", "1"}, args...), addr, arcPumpEntry.child(2).String())...)
		cmd.Env = append(cmd.Environ(), "MIBS=", "MIBDIRS=/nonexistent", "SNMPCONFPATH=/nonexistent", "SNMP_PERSISTENT_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args[0], err, out)
		}
		for i := 1; i <= 4; i++ {
			if want := `.1.3.6.1.4.1.32473.7.2.1.1.2.` + strconv.Itoa(i) + ` = STRING: "` + PumpSerial(i) + `"`; !strings.Contains(string(out), want) {
				t.Errorf("%s: output lacks %s:\n%s", args[0], want, out)
			}
		}
	}
}

// TestV3LowerLevels checks what collectors/snmp's diagnostic probes rely
// on, as net-snmp does it: below authPriv an unknown user gets
// usmStatsUnknownUserNames and a known one authorizationError, at the
// request's level.
func TestV3LowerLevels(t *testing.T) {
	a := startAgent(t, 1, newClock().now)
	get := func(user string, level gosnmp.SnmpV3MsgFlags, authPass string) (*gosnmp.SnmpPacket, error) {
		sp := &gosnmp.UsmSecurityParameters{UserName: user, AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv}
		if level == gosnmp.AuthNoPriv {
			sp.AuthenticationProtocol, sp.AuthenticationPassphrase = gosnmp.SHA256, authPass
		}
		g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: uint16(a.Port()), Timeout: 500 * time.Millisecond, Version: gosnmp.Version3,
			SecurityModel: gosnmp.UserSecurityModel, MsgFlags: level, SecurityParameters: sp}
		if err := g.Connect(); err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		return g.Get([]string{arcSystem.child(3, 0).String()})
	}
	if _, err := get("nobody", gosnmp.NoAuthNoPriv, ""); !errors.Is(err, gosnmp.ErrUnknownUsername) {
		t.Errorf("noAuthNoPriv, unknown user: %v, want ErrUnknownUsername", err)
	}
	for _, tc := range []struct {
		level gosnmp.SnmpV3MsgFlags
		pass  string
	}{{gosnmp.NoAuthNoPriv, ""}, {gosnmp.AuthNoPriv, AuthPassword}} {
		res, err := get(User, tc.level, tc.pass)
		if err != nil {
			t.Fatalf("%v, known user: %v", tc.level, err)
		}
		if res.Error != gosnmp.AuthorizationError {
			t.Errorf("%v, known user: %v, want AuthorizationError", tc.level, res.Error)
		}
	}
	if _, err := get(User, gosnmp.AuthNoPriv, "wrong-auth-password"); err == nil || !strings.Contains(err.Error(), "not authentic") {
		t.Errorf("authNoPriv, wrong password: %v, want not authentic", err)
	}
}

// TestVarbindLen checks the size estimate GetBulk answers are cut by never
// falls short of gosnmp's encoding, so an answer fits at the first try.
func TestVarbindLen(t *testing.T) {
	v := serverView([]*pump{newPump(0, 1, time.Now()), newPump(1, 1, time.Now())}, time.Hour)
	var vbs []gosnmp.SnmpPDU
	estimate := 0
	for _, e := range v {
		vbs = append(vbs, e.pdu)
		estimate += varbindLen(e.pdu)
	}
	vbs = append(vbs, gosnmp.SnmpPDU{Name: ".1.3.6.1.4.1.32473.4294967295.7", Type: gosnmp.EndOfMibView})
	estimate += varbindLen(vbs[len(vbs)-1])
	p := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: Community, PDUType: gosnmp.GetResponse}
	empty, err := p.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	p.Variables = vbs
	full, err := p.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	if actual := len(full) - len(empty); actual > estimate+16 {
		t.Errorf("%d varbinds take %d bytes; estimated %d (+16 slack)", len(vbs), actual, estimate)
	}
}

func TestSilent(t *testing.T) {
	a := startAgent(t, 1, newClock().now)
	g := client(t, a, "v2c", Community, "", "")
	g.Timeout, g.Retries = 100*time.Millisecond, 0
	get := func() error { _, err := g.Get([]string{arcSystem.child(1, 0).String()}); return err }
	a.SetSilent(true)
	if err := get(); err == nil {
		t.Error("a silent agent answered")
	}
	a.SetSilent(false)
	if err := get(); err != nil {
		t.Errorf("after SetSilent(false): %v", err)
	}
}
