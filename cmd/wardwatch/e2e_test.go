package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserPath finds Debian's Chromium. Without it the test skips, except in
// CI where it fails: `make test` installs it.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("WARDWATCH_TEST_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is required in CI: run scripts/ensure-chromium.sh (make test does)")
	}
	t.Skip("Chromium not found; `make test` installs it (scripts/ensure-chromium.sh)")
	return ""
}

// artifactDir is where the end-to-end test leaves its screenshots.
func artifactDir(t *testing.T) string {
	dir := filepath.Join("testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestEndToEndLiveFloorMap starts the real demo (store, simulator pushing
// over HTTP, engine, hub, web) and drives Chromium: sign in, open a floor,
// and watch an asset move without reloading the page.
func TestEndToEndLiveFloorMap(t *testing.T) {
	browser := browserPath(t)
	d := startDemo(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	// The first action starts the browser, and lives as long as it: no timeout on it.
	if err := chromedp.Do(browserCtx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browserCtx, 2*time.Minute)
	defer cancel()

	shot := func(name string) {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Logf("screenshot %s: %v", name, err)
			return
		}
		p := filepath.Join(artifactDir(t), name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Logf("screenshot %s: %v", name, err)
			return
		}
		t.Logf("screenshot saved to %s", p)
	}
	t.Cleanup(func() {
		if t.Failed() {
			shot("e2e-failure.png")
		}
	})

	err := chromedp.Do(ctx,
		chromedp.Navigate(d.URL+"/floors"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	)
	if err != nil {
		t.Fatalf("open the login page: %v", err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(location) == "floors" {
		t.Fatalf("an anonymous browser reached %s", location)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), d.Password),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/floors/"]`)),
		chromedp.Click(chromedp.CSS(`a[href^="/floors/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#map`)),
		chromedp.WaitReady(chromedp.CSS(`body[data-live="open"]`)),
		chromedp.WaitReady(chromedp.CSS(`#map img.leaflet-image-layer`)),
		chromedp.WaitReady(chromedp.CSS(`tr[data-asset-id]`)),
	)
	if err != nil {
		t.Fatalf("sign in and open a floor: %v", err)
	}

	pageLoads := func() float64 {
		// The navigation entry's start time changes only when the page reloads.
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.timeOrigin`))
		if err != nil {
			t.Fatalf("read the page's time origin: %v", err)
		}
		return v
	}
	loaded := pageLoads()
	rows := func() map[string][2]float64 {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](
			`[...document.querySelectorAll("tr[data-asset-id]")].map(r => [r.dataset.assetId, r.dataset.x || "", r.dataset.y || ""])`))
		if err != nil {
			t.Fatalf("read asset rows: %v", err)
		}
		out := make(map[string][2]float64, len(raw))
		for _, r := range raw {
			x, errX := strconv.ParseFloat(r[1], 64)
			y, errY := strconv.ParseFloat(r[2], 64)
			if errX == nil && errY == nil {
				out[r[0]] = [2]float64{x, y}
			}
		}
		return out
	}
	first := rows()
	if len(first) == 0 {
		t.Fatal("the floor's asset table has no positioned assets")
	}
	var moved string
	for deadline := time.Now().Add(60 * time.Second); moved == "" && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		for id, p := range rows() {
			if q, ok := first[id]; ok && (q[0] != p[0] || q[1] != p[1]) {
				moved = id
				break
			}
		}
	}
	if moved == "" {
		t.Fatal("no asset marker moved on the live map within 60 s")
	}
	if pageLoads() != loaded {
		t.Fatal("the page reloaded; updates must arrive over the websocket")
	}
	t.Logf("asset %s moved on the live map", moved)
	shot("e2e-floor.png")
}
