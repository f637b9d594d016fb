package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/wardwatch/wardwatch"
)

// snmpdBinary finds net-snmp's snmpd: $WARDWATCH_TEST_SNMPD, then PATH,
// then /usr/sbin. Without it the test fails under CI=true and is skipped
// otherwise.
func snmpdBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WARDWATCH_TEST_SNMPD"); p != "" {
		return p
	}
	for _, p := range []string{"snmpd", "/usr/sbin/snmpd"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	ciRequired(t, "snmpd not found (set WARDWATCH_TEST_SNMPD or run scripts/ensure-snmpd.sh)")
	return ""
}

// passPersistScript serves the rows of a data file (OID, type, value,
// tab-separated) to snmpd over the pass_persist protocol. A value
// "GROW base step" reads base + step × (requests served so far), so it
// changes between polls. POSIX perl only (perl-base is on every Debian).
const passPersistScript = `#!/usr/bin/perl
use strict;
use warnings;
$| = 1;
my ($datafile) = @ARGV;
open(my $fh, '<', $datafile) or die "open $datafile: $!";
my @rows;
while (my $line = <$fh>) {
	chomp $line;
	next if $line eq '';
	my ($oid, $type, $value) = split /\t/, $line, 3;
	push @rows, [$oid, $type, $value];
}
close $fh;
sub arcs { my ($o) = @_; $o =~ s/^\.//; return split /\./, $o; }
sub cmpoid {
	my @a = arcs($_[0]);
	my @b = arcs($_[1]);
	for (my $i = 0; $i < @a && $i < @b; $i++) {
		return $a[$i] <=> $b[$i] if $a[$i] != $b[$i];
	}
	return @a <=> @b;
}
@rows = sort { cmpoid($a->[0], $b->[0]) } @rows;
my $served = 0;
sub value {
	my ($v) = @_;
	if ($v =~ /^GROW (\d+) (\d+)$/) { $v = $1 + $2 * $served; }
	return $v;
}
while (defined(my $cmd = <STDIN>)) {
	chomp $cmd;
	if ($cmd eq 'PING') { print "PONG\n"; next; }
	my $oid = <STDIN>;
	last unless defined $oid;
	chomp $oid;
	if ($cmd eq 'set') { my $ignored = <STDIN>; print "not-writable\n"; next; }
	my $hit;
	if ($cmd eq 'get') { ($hit) = grep { cmpoid($_->[0], $oid) == 0 } @rows; }
	elsif ($cmd eq 'getnext') { ($hit) = grep { cmpoid($_->[0], $oid) > 0 } @rows; }
	$served++;
	if ($hit) { print "$hit->[0]\n$hit->[1]\n", value($hit->[2]), "\n"; } else { print "NONE\n"; }
}
`

// snmpdPump is one row of the test pump server's table.
type snmpdPump struct {
	serial, model, firmware string
	status                  int // example MIB code
	onAC                    bool
	battery                 int
	rate10, vtbi10          int
	infused100              int  // 0.01 ml
	grows                   bool // infused grows by 0.25 ml per request served
	library, version        string
	alarms                  []snmpdAlarm
}

type snmpdAlarm struct {
	code, text string
	priority   int
}

var snmpdPumps = []snmpdPump{
	{"NS-1001", "Volumetric LVP-200", "4.2.1", 2, true, 87, 1250, 3500, 12345, true, "Adult ICU", "2026.4", nil},
	{"NS-1002", "Volumetric LVP-200", "4.2.1", 3, false, 41, 500, 900, 2000, false, "Adult ICU", "2025.1", nil},
	{"NS-1003", "Syringe SP-50", "2.8.0", 6, true, 100, 20, 150, 1075, false, "Paediatrics", "2026.4",
		[]snmpdAlarm{{"OCCL", "Downstream occlusion", 1}, {"LOWBAT", "Battery low", 2}}},
	{"NS-1004", "Volumetric LVP-200", "4.2.1", 1, true, 100, 0, 0, 0, false, "Adult ICU", "2026.4", nil},
}

// snmpdData writes the table as the pass_persist script's data file.
func snmpdData() string {
	var b strings.Builder
	row := func(oid, typ string, v any) { fmt.Fprintf(&b, ".%s\t%s\t%v\n", oid, typ, v) }
	entry, alarms := ExampleArc+".2.1.1", ExampleArc+".2.2.1"
	for i, p := range snmpdPumps {
		col := func(n int) string { return fmt.Sprintf("%s.%d.%d", entry, n, i+1) }
		row(col(2), "string", p.serial)
		row(col(3), "string", p.model)
		row(col(4), "string", p.firmware)
		row(col(5), "integer", p.status)
		row(col(6), "integer", map[bool]int{true: 1, false: 2}[p.onAC])
		row(col(7), "gauge", p.battery)
		row(col(8), "gauge", p.rate10)
		row(col(9), "gauge", p.vtbi10)
		if p.grows {
			row(col(10), "gauge", fmt.Sprintf("GROW %d 25", p.infused100))
		} else {
			row(col(10), "gauge", p.infused100)
		}
		row(col(11), "string", p.library)
		row(col(12), "string", p.version)
		row(col(13), "string", "4B")
		for k, a := range p.alarms {
			acol := func(n int) string { return fmt.Sprintf("%s.%d.%d.%d", alarms, n, i+1, k+1) }
			row(acol(2), "string", a.code)
			row(acol(3), "string", a.text)
			row(acol(4), "integer", a.priority)
		}
	}
	return b.String()
}

// wantSnmpd is the table read with the built-in pump-server profile; the
// growing volume is checked separately.
func wantSnmpd(now time.Time, targetID int64) []wardwatch.PumpState {
	statuses := map[int]wardwatch.PumpStatus{1: wardwatch.PumpIdle, 2: wardwatch.PumpInfusing, 3: wardwatch.PumpPaused, 6: wardwatch.PumpAlarming}
	prios := map[int]wardwatch.Priority{1: wardwatch.PriorityHigh, 2: wardwatch.PriorityMedium, 3: wardwatch.PriorityLow}
	var out []wardwatch.PumpState
	for _, p := range snmpdPumps {
		st := wardwatch.PumpState{
			Time: now, TargetID: targetID, Serial: p.serial, Model: p.model, Status: statuses[p.status], OnAC: p.onAC,
			Battery: float64(p.battery), Rate: float64(p.rate10) / 10, VTBI: float64(p.vtbi10) / 10, Infused: float64(p.infused100) / 100,
			Firmware: p.firmware, DrugLibrary: p.library, DrugLibraryVersion: p.version,
		}
		for _, a := range p.alarms {
			st.Alarms = append(st.Alarms, wardwatch.PumpAlarm{Code: a.code, Text: a.text, Priority: prios[a.priority]})
		}
		out = append(out, st)
	}
	return out
}

// Credentials of the test snmpd.
const (
	snmpdCommunity = "ward4b-ro"
	snmpdUser      = "wwpoller"
	snmpdAuth      = "wardwatch-auth-1"
	snmpdPriv      = "wardwatch-priv-1"
	snmpdUser2     = "wwpoller2" // SHA and AES-256
)

// testSnmpd is a private net-snmp agent on a loopback port, with its own
// configuration and persistent directory.
type testSnmpd struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	conf string
	log  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// startSnmpd writes a configuration and starts snmpd.
func startSnmpd(t *testing.T) *testSnmpd {
	t.Helper()
	bin := snmpdBinary(t)
	perl, err := exec.LookPath("perl")
	if err != nil {
		ciRequired(t, "perl not found: the test's pass_persist script needs it")
	}
	d := &testSnmpd{t: t, bin: bin, dir: t.TempDir(), port: freeUDPPort(t)}
	script := filepath.Join(d.dir, "pumps.pl")
	data := filepath.Join(d.dir, "pumps.data")
	d.conf = filepath.Join(d.dir, "snmpd.conf")
	d.log = filepath.Join(d.dir, "snmpd.log")
	if err := os.Mkdir(filepath.Join(d.dir, "persist"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`agentAddress udp:127.0.0.1:%d
rocommunity %s 127.0.0.1
createUser %s SHA "%s" AES "%s"
rouser %s priv
createUser %s SHA "%s" AES-256 "%s"
rouser %s priv
pass_persist %s %s %s %s
`, d.port, snmpdCommunity, snmpdUser, snmpdAuth, snmpdPriv, snmpdUser, snmpdUser2, snmpdAuth, snmpdPriv, snmpdUser2,
		"."+ExampleArc+".2", perl, script, data)
	for name, content := range map[string]string{script: passPersistScript, data: snmpdData(), d.conf: conf} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			if out, err := os.ReadFile(d.log); err == nil {
				t.Logf("snmpd log:\n%s", out)
			}
		}
	})
	d.start()
	return d
}

func (d *testSnmpd) addr() string { return "127.0.0.1:" + strconv.Itoa(d.port) }

// start runs snmpd in the foreground on its own configuration only (-C
// -c), logging to a file, with its persistent data in the test's
// directory, and waits until it answers.
func (d *testSnmpd) start() {
	d.t.Helper()
	logf, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(d.bin, "-f", "-Lo", "-C", "-c", d.conf, "-p", filepath.Join(d.dir, "snmpd.pid"))
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+filepath.Join(d.dir, "persist"), "MIBS=", "MIBDIRS="+d.dir, "SNMPCONFPATH="+d.dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("start snmpd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	d.mu.Lock()
	d.cmd, d.exited = cmd, exited
	d.mu.Unlock()

	g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: uint16(d.port), Version: gosnmp.Version2c, Community: snmpdCommunity, Timeout: 200 * time.Millisecond, Retries: 0}
	if err := g.Connect(); err != nil {
		d.t.Fatal(err)
	}
	defer g.Close()
	for deadline := time.Now().Add(15 * time.Second); ; {
		select {
		case <-exited:
			out, _ := os.ReadFile(d.log)
			d.t.Fatalf("snmpd exited at start:\n%s", out)
		default:
		}
		if _, err := g.Get([]string{probeOID}); err == nil {
			return
		} else if time.Now().After(deadline) {
			d.stop()
			d.t.Fatalf("snmpd does not answer on port %d: %v", d.port, err)
		}
	}
}

// stop stops snmpd with SIGTERM and waits for it, killing it if it takes
// too long.
func (d *testSnmpd) stop() {
	d.mu.Lock()
	cmd, exited := d.cmd, d.exited
	d.cmd = nil
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// freeUDPPort returns a loopback UDP port nothing listens on.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func snmpdTarget(d *testSnmpd, version string) Target {
	t := Target{
		ID: 3, Name: "net-snmp pump server", Address: d.addr(), Version: version, Profile: ExamplePumpServerProfile,
		Interval: 10 * time.Second, Timeout: 500 * time.Millisecond, Retries: 1, Enabled: true,
	}
	if version == "v3" {
		t.User, t.AuthProtocol, t.AuthPassword, t.PrivProtocol, t.PrivPassword = snmpdUser, "SHA", snmpdAuth, "AES", snmpdPriv
	} else {
		t.Community = snmpdCommunity
	}
	return t
}

// checkSnmpdStates compares a poll with the table; the growing volume
// must be at least its base, and is returned.
func checkSnmpdStates(t *testing.T, got []wardwatch.PumpState, now time.Time, targetID int64) float64 {
	t.Helper()
	want := wantSnmpd(now, targetID)
	if len(got) == len(want) && got[0].Infused >= want[0].Infused {
		want[0].Infused = got[0].Infused
	}
	if d := diffStates(got, want); d != "" {
		t.Fatal(d)
	}
	return got[0].Infused
}

// TestSnmpd polls net-snmp's snmpd serving the pump table through a
// pass_persist script, with v2c, v1 and v3 authPriv.
func TestSnmpd(t *testing.T) {
	d := startSnmpd(t)
	clock := newTestClock()
	c := NewCollector(Options{Sink: newTestSink(), Now: clock.now})
	prof, _ := BuiltinProfile(ExamplePumpServerProfile)
	for _, tc := range []struct {
		name   string
		target func() Target
	}{
		{"v2c", func() Target { return snmpdTarget(d, "v2c") }},
		{"v1", func() Target { return snmpdTarget(d, "v1") }},
		{"v3 SHA AES", func() Target { return snmpdTarget(d, "v3") }},
		{"v3 SHA AES256", func() Target {
			// net-snmp 5.9 extends a SHA-1 key to AES-256's length the
			// Blumenthal way: gosnmp's AES256, not AES256C (Reeder).
			t := snmpdTarget(d, "v3")
			t.User, t.AuthProtocol, t.PrivProtocol = snmpdUser2, "SHA", "AES256"
			return t
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target()
			res, err := c.TestTarget(t.Context(), target, prof)
			if err != nil {
				t.Fatal(err)
			}
			first := checkSnmpdStates(t, res.Pumps, clock.now(), target.ID)
			res, err = c.TestTarget(t.Context(), target, prof)
			if err != nil {
				t.Fatal(err)
			}
			if second := checkSnmpdStates(t, res.Pumps, clock.now(), target.ID); second <= first {
				t.Errorf("infused volume did not change between polls: %v then %v", first, second)
			}
		})
	}

	// A GET of scalars the agent does not have: noSuchObject/noSuchInstance
	// (v2c) and noSuchName (v1) both read as unsupported.
	for _, version := range []string{"v2c", "v1"} {
		t.Run("unsupported serial "+version, func(t *testing.T) {
			single, _ := BuiltinProfile(ExamplePumpProfile)
			_, err := c.TestTarget(t.Context(), snmpdTarget(d, version), single)
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(wardwatch.ErrorMessage(err), "(serial) not supported by the agent") {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// TestSnmpdRefusals checks what an admin is told for wrong settings, as
// net-snmp answers them.
func TestSnmpdRefusals(t *testing.T) {
	d := startSnmpd(t)
	c := NewCollector(Options{Sink: newTestSink()})
	prof, _ := BuiltinProfile(ExamplePumpServerProfile)
	for _, tc := range []struct {
		name    string
		version string
		change  func(*Target)
		is      error
		msg     string
	}{
		{"wrong community", "v2c", func(t *Target) { t.Community = "public" }, ErrNoAnswer,
			"No answer from " + d.addr() + " after 2 tries (check the address and the community: agents ignore a wrong one)."},
		{"wrong auth password", "v3", func(t *Target) { t.AuthPassword = "not-the-password" }, ErrAuth,
			"SNMPv3 authentication failed at " + d.addr() + ": wrong authentication password or protocol for user \"wwpoller\" (wrong digest)."},
		{"wrong auth protocol", "v3", func(t *Target) { t.AuthProtocol = "SHA256" }, ErrAuth,
			"wrong authentication password or protocol"},
		{"wrong priv password", "v3", func(t *Target) { t.PrivPassword = "not-the-password" }, ErrAuth,
			"SNMPv3 authentication failed at " + d.addr() + ": the agent cannot decrypt our requests: wrong privacy password or protocol for user \"wwpoller\""},
		{"unknown user", "v3", func(t *Target) { t.User = "nobody" }, ErrAuth,
			"SNMPv3 authentication failed at " + d.addr() + ": the agent does not know the user \"nobody\"."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := snmpdTarget(d, tc.version)
			target.Timeout = 300 * time.Millisecond
			tc.change(&target)
			_, err := c.TestTarget(t.Context(), target, prof)
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
			if msg := wardwatch.ErrorMessage(err); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q\nwant it to contain %q", msg, tc.msg)
			}
		})
	}
}

// TestSnmpdOffline runs the collector against snmpd, stops snmpd (the
// target goes offline) and starts it again on the same port (online
// again) without restarting the collector.
func TestSnmpdOffline(t *testing.T) {
	d := startSnmpd(t)
	clock := newTestClock()
	sink := newTestSink()
	c := NewCollector(Options{Sink: sink, Now: clock.now, Profiles: profiles(), MaxBackoff: 500 * time.Millisecond})
	target := snmpdTarget(d, "v3")
	target.Interval, target.Timeout, target.Retries = 250*time.Millisecond, 100*time.Millisecond, 1
	c.SetTargets([]Target{target})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	first := checkSnmpdStates(t, sink.nextStates(t, 10*time.Second), clock.now(), target.ID)
	sink.waitStatus(t, 5*time.Second, "online", func(s TargetStatus) bool { return s.Online && s.Pumps == 4 })
	clock.add(time.Minute)
	if second := checkSnmpdStates(t, sink.nextStates(t, 10*time.Second), clock.now(), target.ID); second <= first {
		t.Errorf("infused volume did not change between polls: %v then %v", first, second)
	}

	d.stop()
	off := sink.waitStatus(t, 10*time.Second, "offline", func(s TargetStatus) bool { return !s.Online })
	if !strings.Contains(off.LastError, "No answer from "+d.addr()) {
		t.Errorf("offline status %+v", off)
	}

	d.start()
	on := sink.waitStatus(t, 15*time.Second, "online again", func(s TargetStatus) bool { return s.Online })
	if on.LastError != "" || on.Pumps != 4 {
		t.Errorf("online status %+v", on)
	}
	checkSnmpdStates(t, sink.nextStates(t, 10*time.Second), clock.now(), target.ID)
}
