package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wardwatch/wardwatch/sim"
)

// TestBrowserPagesFitAPhone opens the main pages at a phone's viewport
// (390 × 844) and checks none is wider than the screen: wide tables
// scroll inside their card, the page itself never sideways.
func TestBrowserPagesFitAPhone(t *testing.T) {
	s := startAdminSession(t)
	if err := sim.NewHospital().Seed(context.Background(), s.store); err != nil {
		t.Fatal(err)
	}
	ctx, shot := newBrowser(t, 800, 900)
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(s.base+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "boss"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "a long enough admin password"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		// The navigation only a signed-in page has: the login page's own
		// <main> would let the next navigation abort the redirect.
		chromedp.WaitReady(chromedp.CSS(`nav.mainnav`)),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	for i, path := range []string{"/floors", "/floors/1", "/search?q=pump", "/pumps", "/environment", "/admin",
		"/admin/gateways", "/admin/assets", "/admin/floors/1", "/admin/system"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(s.base+path), chromedp.WaitVisible(chromedp.CSS(`main`))); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		// With mobile emulation a page wider than the screen widens the
		// layout viewport, so compare with the device's 390 px.
		w, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Math.max(document.documentElement.scrollWidth, window.innerWidth)`))
		if err != nil {
			t.Fatal(err)
		}
		if w > 391 {
			wide, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('body *')].filter(e => {
				const r = e.getBoundingClientRect(); return r.right > 391 && !(e.parentElement && e.parentElement.closest('.table-card, .leaflet-container'));
			}).slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))`))
			t.Errorf("%s is %v px wide on a 390 px phone; widest: %v", path, w, wide)
			shot(fmt.Sprintf("e2e-phone-%d.png", i))
		}
	}
}
