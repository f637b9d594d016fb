package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/alerts/notify"
	"github.com/wardwatch/wardwatch/sim/modbussim"
	"github.com/wardwatch/wardwatch/sql"
)

// mailbox is aiosmtpd (an SMTP server none of us wrote) on a loopback
// port, storing what it accepts in a directory.
type mailbox struct {
	addr string
	dir  string
}

// startMailbox starts alerts/notify's aiosmtpd script
// ($WARDWATCH_TEST_SMTPD_PYTHON, from scripts/ensure-smtpd.sh) and stops it
// when the test ends.
func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	py := os.Getenv("WARDWATCH_TEST_SMTPD_PYTHON")
	if py == "" {
		const msg = "aiosmtpd required: run scripts/ensure-smtpd.sh and set WARDWATCH_TEST_SMTPD_PYTHON to the python3 it prints"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m := &mailbox{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: t.TempDir()}
	cmd := exec.Command(py, filepath.Join("..", "..", "alerts", "notify", "testdata", "smtpd.py"), "--port", strconv.Itoa(port), "--maildir", m.dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start aiosmtpd: %v", err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "READY" {
				ready <- true
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- false
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("aiosmtpd exited before it was ready: %s", stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("aiosmtpd not ready after a minute: %s", stderr.String())
	}
	return m
}

// received returns the messages delivered to rcpt: their subjects.
func (m *mailbox) received(t *testing.T, rcpt string) []string {
	t.Helper()
	metas, _ := filepath.Glob(filepath.Join(m.dir, "*.json"))
	var subjects []string
	for _, f := range metas {
		var meta struct {
			RcptTos []string `json:"rcpt_tos"`
		}
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &meta) != nil {
			continue // being written
		}
		raw, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".eml")
		if err != nil {
			continue
		}
		msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatalf("message %s: %v", f, err)
		}
		for _, r := range meta.RcptTos {
			if r == rcpt {
				subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
				if err != nil {
					t.Fatalf("subject of %s: %v", f, err)
				}
				subjects = append(subjects, subj)
			}
		}
	}
	return subjects
}

// webhookReceiver is a paging gateway on loopback that accepts only
// correctly signed deliveries.
type webhookReceiver struct {
	mu       sync.Mutex
	payloads []notify.Payload
	bad      int
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	var p notify.Payload
	if !notify.VerifySignature([]byte(webhookSecret), body, r.Header.Get(notify.SignatureHeader)) || json.Unmarshal(body, &p) != nil {
		w.bad++
		http.Error(rw, "bad signature", http.StatusUnauthorized)
		return
	}
	w.payloads = append(w.payloads, p)
}

func (w *webhookReceiver) got() ([]notify.Payload, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]notify.Payload(nil), w.payloads...), w.bad
}

const webhookSecret = "a webhook secret long enough for HMAC"

// TestAlertsEndToEnd follows a cold-chain alarm from the sensor to the
// people and the records: a vaccine fridge's controller (served by the
// Modbus simulator) reads below freezing, so the freezing rule raises a
// critical alert at once; the pharmacy team's contact gets it by e-mail
// through a real SMTP server and by a signed webhook; facilities
// acknowledges it in the inbox; the excursion is recorded with the unit
// quarantined; when the fridge recovers the alert stays latched until a
// pharmacist resolves it with a note, and the pharmacist clears the
// quarantine. Every transition is in the audit trail.
func TestAlertsEndToEnd(t *testing.T) {
	mbox := startMailbox(t)
	hooks := &webhookReceiver{}
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	secretFile := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(secretFile, []byte(webhookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := startAdminSessionWith(t, map[string]string{
		"WARDWATCH_ALERTS_INTERVAL":            "1s",
		"WARDWATCH_ALERTS_SMTP_ADDR":           mbox.addr,
		"WARDWATCH_ALERTS_WEBHOOKS":            "pager=" + recv.URL,
		"WARDWATCH_ALERTS_WEBHOOK_SECRET_FILE": secretFile,
	})
	ctx := context.Background()

	if _, err := admin.store.SaveContact(ctx, alerts.Contact{Name: "Pharmacy on shift", Group: alerts.GroupTeam, Team: alerts.TeamPharmacy,
		Email: "rx@hospital.example", Webhook: "pager", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	rig := startFreezingFridge(t, admin)
	unit := rig.unit

	var alert alerts.Alert
	eventually(t, "the freezing alarm is raised", func() bool {
		for _, a := range admin.app.alerts.Open() {
			if a.Key.Rule == "temperature_freezing" && a.UnitID == unit.ID {
				alert = a
				return true
			}
		}
		return false
	})
	if alert.Priority != alerts.PriorityCritical || !alert.Rule.Latched || alert.State != alerts.StateUnack {
		t.Fatalf("alert = %+v, want a latched, unacknowledged critical alert", alert)
	}
	id := strconv.FormatInt(alert.ID, 10)

	eventually(t, "the pharmacy contact is e-mailed", func() bool { return len(mbox.received(t, "rx@hospital.example")) > 0 })
	if subj := mbox.received(t, "rx@hospital.example")[0]; !strings.Contains(subj, "4B vaccine fridge") {
		t.Errorf("mail subject %q does not name the unit", subj)
	}
	eventually(t, "the pager webhook gets a signed delivery", func() bool { ps, _ := hooks.got(); return len(ps) > 0 })
	if ps, bad := hooks.got(); bad > 0 || ps[0].AlertID != alert.ID {
		t.Errorf("webhook: %d bad deliveries, first payload %+v", bad, ps[0])
	}

	// Facilities sees it in the inbox and acknowledges it.
	facilities := admin.addUser("fac", wardwatch.RoleFacilities)
	code, page := facilities.get("/alerts")
	if code != http.StatusOK || !strings.Contains(page, "4B vaccine fridge") {
		t.Fatalf("inbox: %d, alert not listed", code)
	}
	if code, _ = facilities.post("/alerts/"+id+"/acknowledge", url.Values{"note": {"On my way"}}); code != http.StatusOK {
		t.Fatalf("acknowledge: %d", code)
	}
	if a, _ := admin.app.alerts.book.Get(alert.ID); a.AckedBy != "fac" {
		t.Fatalf("after acknowledging: acked by %q, state %s", a.AckedBy, a.State)
	}
	// A viewer may read but not act.
	viewer := admin.addUser("inspector", wardwatch.RoleViewer)
	if code, _ = viewer.post("/alerts/"+id+"/acknowledge", url.Values{}); code != http.StatusForbidden {
		t.Errorf("viewer acknowledging: %d, want 403", code)
	}

	var x alerts.Excursion
	eventually(t, "the excursion is recorded with the unit quarantined", func() bool {
		xs, err := admin.store.Excursions(ctx, sql.ExcursionQuery{UnitID: unit.ID})
		if err != nil || len(xs) == 0 {
			return false
		}
		x = xs[0]
		return x.Quarantined()
	})

	// The fridge recovers: the excursion closes, the alert stays latched.
	rig.recover(t)
	eventually(t, "the excursion closes", func() bool {
		got, err := admin.store.Excursion(ctx, x.ID)
		return err == nil && got.Closed()
	})
	eventually(t, "the alert waits for its resolution", func() bool {
		a, ok := admin.app.alerts.book.Get(alert.ID)
		return ok && a.State == alerts.StateLatched
	})

	pharmacist := admin.addUser("rx", wardwatch.RolePharmacy)
	if code, _ = facilities.post("/records/excursions/"+strconv.FormatInt(x.ID, 10)+"/clear", url.Values{"disposition": {"wasted"}}); code != http.StatusForbidden {
		t.Errorf("facilities clearing a quarantine: %d, want 403", code)
	}
	if code, page = pharmacist.post("/records/excursions/"+strconv.FormatInt(x.ID, 10)+"/clear", url.Values{"disposition": {"wasted"}}); code != http.StatusOK {
		t.Fatalf("pharmacist clears the quarantine: %d\n%.600s", code, page)
	}
	if got, _ := admin.store.Excursion(ctx, x.ID); got.Quarantined() || got.QuarantineClearedBy != "rx" {
		t.Errorf("quarantine after clearing: %+v", got)
	}
	if code, page = pharmacist.post("/alerts/"+id+"/resolve", url.Values{"cause": {"Thermostat failed"}, "action": {"Replaced thermostat; stock moved to fridge 2"},
		"disposition": {"Wasted per manufacturer advice"}}); code != http.StatusOK {
		t.Fatalf("resolve: %d\n%.600s", code, page)
	}
	if _, open := admin.app.alerts.book.Get(alert.ID); open {
		t.Fatal("the resolved alert is still in the book")
	}
	stored, err := admin.store.Alert(ctx, alert.ID)
	if err != nil || !stored.Closed() || stored.Resolution.By != "rx" {
		t.Fatalf("stored alert: %+v, %v", stored, err)
	}
	trail, err := admin.store.AlertAudit(ctx, alert.ID)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, au := range trail {
		acts = append(acts, string(au.Action)+":"+au.User)
	}
	for _, want := range []string{"raise:system", "acknowledge:fac", "clear:system", "resolve:rx"} {
		if !strings.Contains(strings.Join(acts, " "), want) {
			t.Errorf("audit trail %q lacks %q", acts, want)
		}
	}
	if code, page = viewer.get("/alerts/" + id); code != http.StatusOK || !strings.Contains(page, "Thermostat failed") {
		t.Errorf("alert detail after resolving: %d", code)
	}
}

// fridgeRig is a vaccine fridge unit whose controller, served by the
// Modbus simulator, reads below freezing.
type fridgeRig struct {
	unit    wardwatch.MonitoredUnit
	addr    string
	devices []modbussim.SimDevice
	srv     *modbussim.Server
	stop    context.CancelFunc
}

// simStill is the fridge simulator's clock: it stands still at a moment
// with no simulated door opening or excursion (they follow the wall clock
// otherwise), so the fridge holds its setpoint whenever the test runs.
func simStill() time.Time { return time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC) }

// startFreezingFridge adds a vaccine fridge unit and its controller (at
// -2 °C, so the freezing rule raises at once) to the running service. The
// unit's rules are the profile's, edited so that a recovery clears at once
// instead of after the 5-minute minimum clear time.
func startFreezingFridge(t *testing.T, admin *adminSession) *fridgeRig {
	t.Helper()
	ctx := context.Background()
	r := &fridgeRig{devices: []modbussim.SimDevice{{UnitID: 1, Name: "freezing fridge", Kind: modbussim.KindVaccineFridge, Setpoint: -2}}}
	srvCtx, stop := context.WithCancel(ctx)
	srv, err := modbussim.Start(srvCtx, "127.0.0.1:0", r.devices, 1, simStill)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	r.srv, r.stop, r.addr = srv, stop, srv.Addr()
	t.Cleanup(func() { r.stop(); r.srv.Close() })
	r.unit = wardwatch.MonitoredUnit{Name: "4B vaccine fridge", Profile: wardwatch.ProfileVaccineFridge}
	if err := admin.store.CreateUnit(ctx, &r.unit); err != nil {
		t.Fatal(err)
	}
	prof, err := alerts.ProfileFor(wardwatch.ProfileVaccineFridge, alerts.ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range prof.Rules {
		prof.Rules[i].MinClear = 0
	}
	if err := admin.store.SetUnitRules(ctx, r.unit.ID, prof.Rules); err != nil {
		t.Fatal(err)
	}
	dev := wardwatch.ModbusDevice{Name: "fridge-4b", UnitID: r.unit.ID, Transport: "tcp", Address: r.addr, SlaveID: 1,
		Profile: r.devices[0].Kind.Profile(), Interval: time.Second, Timeout: 500 * time.Millisecond, Enabled: true}
	if err := admin.store.CreateModbusDevice(ctx, &dev); err != nil {
		t.Fatal(err)
	}
	admin.app.devicesChanged(ctx)
	return r
}

// recover restarts the controller on the same port holding 5 °C.
func (r *fridgeRig) recover(t *testing.T) {
	t.Helper()
	r.stop()
	r.srv.Close()
	r.devices[0].Setpoint = 5
	ctx, stop := context.WithCancel(context.Background())
	srv, err := modbussim.Start(ctx, r.addr, r.devices, 2, simStill)
	if err != nil {
		stop()
		t.Fatalf("restart the simulator on %s: %v", r.addr, err)
	}
	r.srv, r.stop = srv, stop
}
