package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// TestBrowserNurseFindsNearestPump is a nurse's main flow on the running
// demo, in Chromium: sign in, say where she is, ask for the nearest
// available infusion pump in one click, and land on that pump's page with
// its room, certainty and age.
func TestBrowserNurseFindsNearestPump(t *testing.T) {
	d := startDemo(t)
	cfg, err := LoadConfig("", testEnv(d.dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	store, err := openStore(context.Background(), cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := auth.HashPassword("a nurse's long password")
	if err := store.CreateUser(context.Background(), &wardwatch.User{Username: "nina", Role: wardwatch.RoleNurse, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	ctx, shot := newBrowser(t, 1280, 900)
	t.Cleanup(func() {
		if t.Failed() {
			shot("e2e-nurse-failure.png")
		}
	})
	err = chromedp.Do(ctx,
		chromedp.Navigate(d.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "nina"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "a nurse's long password"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/search"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/search"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#near`)),
	)
	if err != nil {
		t.Fatalf("sign in and open the search: %v", err)
	}
	// She is at the first room of the list; the demo's pumps need a few
	// seconds to be placed, so ask until one is.
	eventually(t, "the nearest available pump is found", func() bool {
		zone, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelectorAll('#near option')[3].value`))
		if err != nil {
			t.Fatalf("read the places: %v", err)
		}
		err = chromedp.Do(ctx,
			chromedp.Navigate(d.URL+"/search"),
			chromedp.WaitVisible(chromedp.CSS(`#near`)),
			chromedp.SetValue(chromedp.CSS(`#near`), zone),
			chromedp.Submit(chromedp.CSS(`#q`)),
			chromedp.WaitVisible(chromedp.CSS(`.nearest-buttons`)),
			chromedp.Click(chromedp.CSS(`.nearest-buttons a[href*="nearest=infusion_pump"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main`)),
		)
		if err != nil {
			t.Fatalf("ask for the nearest pump: %v", err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		return err == nil && strings.Contains(loc, "/assets/")
	})
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"This is the nearest available Infusion pump", "Where it is", "certainty", "Pump 0"} {
		if !strings.Contains(text, want) {
			t.Errorf("the pump's page lacks %q", want)
		}
	}
	shot("e2e-nurse-pump.png")
}
