package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// TestBrowserFacilitiesAcknowledgesAlert is facilities' main flow in
// Chromium: with the inbox open, a vaccine fridge starts freezing; the
// alert appears in the inbox without a reload and is announced; one click
// acknowledges it in place (htmx swaps the rows, no reload), and the inbox
// shows it acknowledged.
func TestBrowserFacilitiesAcknowledgesAlert(t *testing.T) {
	admin := startAdminSessionWith(t, map[string]string{"WARDWATCH_ALERTS_INTERVAL": "1s"})
	admin.addUser("fran", wardwatch.RoleFacilities)

	ctx, shot := newBrowser(t, 1280, 900)
	t.Cleanup(func() {
		if t.Failed() {
			shot("e2e-facilities-failure.png")
		}
	})
	err := chromedp.Do(ctx,
		chromedp.Navigate(admin.base+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "fran"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "a long enough test password"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/alerts"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/alerts"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#inbox-live`)),
	)
	if err != nil {
		t.Fatalf("sign in and open the inbox: %v", err)
	}

	startFreezingFridge(t, admin)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`button[id^="ack-"]`))); err != nil {
		t.Fatalf("the alert never appeared in the open inbox: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#inbox-notify`))); err != nil {
		t.Fatalf("the critical alert was not announced: %v", err)
	}
	note, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#inbox-notify-text`)))
	if err != nil || !strings.Contains(note, "Temperature at or below") {
		t.Errorf("announcement %q (%v)", note, err)
	}
	shot("e2e-facilities-inbox.png")

	var alert alerts.Alert
	for _, a := range admin.app.alerts.Open() {
		if a.Key.Rule == "temperature_freezing" {
			alert = a
		}
	}
	// The page must not reload: htmx posts the acknowledgement and swaps
	// the inbox's rows in place.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.wardwatchSamePage = true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#ack-`+itoa(alert.ID))),
		chromedp.WaitNotPresent(chromedp.CSS(`#ack-`+itoa(alert.ID))),
	); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.wardwatchSamePage === true`)); err != nil || !same {
		t.Errorf("acknowledging reloaded the page (%v)", err)
	}
	if a, _ := admin.app.alerts.book.Get(alert.ID); a.AckedBy != "fran" || a.State != alerts.StateAck {
		t.Fatalf("after the click: acknowledged by %q, state %s", a.AckedBy, a.State)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Acknowledged") {
		t.Errorf("the inbox does not show the alert acknowledged:\n%.1500s", text)
	}
	shot("e2e-facilities-acknowledged.png")
}
