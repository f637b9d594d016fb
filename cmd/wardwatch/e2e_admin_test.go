package main

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wardwatch/wardwatch"
)

// newBrowser starts Chromium for a test with a window of w × h pixels and
// returns a context for its actions (2 minutes) and a screenshot helper
// that keeps failures' pictures under testdata/artifacts.
func newBrowser(t *testing.T, w, h int) (context.Context, func(name string)) {
	t.Helper()
	browser := browserPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(w, h),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browserCtx, 2*time.Minute)
	t.Cleanup(cancel)
	shot := func(name string) {
		img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Logf("screenshot %s: %v", name, err)
			return
		}
		p := filepath.Join(artifactDir(t), name)
		if err := os.WriteFile(p, img, 0o644); err == nil {
			t.Logf("screenshot saved to %s", p)
		}
	}
	return ctx, shot
}

// TestBrowserAdminLaysOutAFloor is the admin's main flow in Chromium:
// add a floor, upload its plan, set the scale by measuring on the plan,
// draw a zone with the mouse, place a gateway in it — and the gateway's
// next sightings land the asset in that zone.
func TestBrowserAdminLaysOutAFloor(t *testing.T) {
	s := startAdminSession(t)
	ctx, shot := newBrowser(t, 1400, 1000)
	t.Cleanup(func() {
		if t.Failed() {
			shot("e2e-admin-failure.png")
		}
	})

	// A 400 × 200 px plan with a dark outline.
	planPath := filepath.Join(t.TempDir(), "plan.png")
	img := image.NewRGBA(image.Rect(0, 0, 400, 200))
	for x := range 400 {
		for y := range 200 {
			c := color.RGBA{250, 250, 250, 255}
			if x < 3 || y < 3 || x > 396 || y > 196 {
				c = color.RGBA{40, 40, 40, 255}
			}
			img.Set(x, y, c)
		}
	}
	f, _ := os.Create(planPath)
	png.Encode(f, img)
	f.Close()

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "boss"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "a long enough admin password"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin"]`)),
		chromedp.Navigate(s.base+"/admin/floors"),
		chromedp.SetValue(chromedp.CSS(`#name`), "Test ward"),
		chromedp.SetValue(chromedp.CSS(`#level`), "3"),
		chromedp.SetValue(chromedp.CSS(`#width`), "20"),
		chromedp.SetValue(chromedp.CSS(`#height`), "20"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#editor-map`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#plan`), []string{planPath}),
		chromedp.Submit(chromedp.CSS(`#plan`)),
		chromedp.WaitVisible(chromedp.CSS(`#editor-map img.leaflet-image-layer`)),
	)
	if err != nil {
		t.Fatalf("add a floor and upload its plan: %v", err)
	}
	floors, _ := s.store.Floors(context.Background())
	if len(floors) != 1 || floors[0].Width != 20 || floors[0].Height != 10 {
		t.Fatalf("floor after the plan upload = %+v, want 20 × 10 m (the plan's proportions)", floors)
	}
	floor := floors[0]

	// Page pixel of a floor point, from Leaflet itself.
	pixel := func(x, y float64) (float64, float64) {
		p, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(`document.getElementById('editor-map').floorToPage(%g, %g)`, x, y)))
		if err != nil || len(p) != 2 {
			t.Fatalf("locate (%g, %g) on the map: %v", x, y, err)
		}
		return p[0], p[1]
	}
	click := func(x, y float64) chromedp.Action[chromedp.Void] {
		px, py := pixel(x, y)
		return chromedp.MouseClickXY(px, py)
	}

	// Measure from (2, 5) to (18, 5): 16 m as drawn, 32 m in reality.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#tool-measure`)),
		click(2, 5), click(18, 5),
		chromedp.SetValue(chromedp.CSS(`#distance`), "32"),
		chromedp.Submit(chromedp.CSS(`#distance`)),
	)
	if err != nil {
		t.Fatalf("measure for scale: %v", err)
	}
	eventually(t, "the floor is rescaled to ≈ 40 × 20 m", func() bool {
		floor, _ = s.store.Floor(context.Background(), floor.ID)
		return floor.Width > 38 && floor.Width < 42
	})
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#editor-map img.leaflet-image-layer`))); err != nil {
		t.Fatal(err)
	}

	// Draw a room over the left half, name it, save.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#tool-zone`)),
		click(2, 2), click(18, 2), click(18, 18), click(2, 18), click(2, 2),
		chromedp.SetValue(chromedp.CSS(`#new-zone-name`), "Room 301"),
		chromedp.Submit(chromedp.CSS(`#new-zone-name`)),
	)
	if err != nil {
		t.Fatalf("draw a zone: %v", err)
	}
	var zones []wardwatch.Zone
	eventually(t, "the drawn zone is saved", func() bool {
		zones, _ = s.store.Zones(context.Background(), floor.ID)
		return len(zones) == 1 && zones[0].Name == "Room 301" && len(zones[0].Polygon) >= 4
	})
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`tr[data-zone]`))); err != nil {
		t.Fatal(err)
	}

	// Place a gateway in it.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#tool-gateway`)),
		click(10, 10),
		chromedp.SetValue(chromedp.CSS(`#key`), "room-301-gw"),
		chromedp.Submit(chromedp.CSS(`#key`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-token`)),
	)
	if err != nil {
		t.Fatalf("place a gateway: %v", err)
	}
	token, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#new-token`)))
	if err != nil || token == "" {
		t.Fatalf("read the token: %v", err)
	}
	shot("e2e-admin-editor.png")

	pump := wardwatch.Asset{Name: "Pump 301", Kind: wardwatch.AssetInfusionPump}
	if err := s.store.CreateAsset(context.Background(), &pump); err != nil {
		t.Fatal(err)
	}
	tag := "ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:301:1"
	if err := s.store.CreateTag(context.Background(), wardwatch.Tag{ID: tag, AssetID: pump.ID}); err != nil {
		t.Fatal(err)
	}
	s.app.reloadSite(context.Background())
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, s.base+"/ingest/v1/gateways/room-301-gw/sightings",
			strings.NewReader(fmt.Sprintf(`{"sightings":[{"tag":%q,"rssi":-55}]}`, tag)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("push: %d", resp.StatusCode)
		}
		var zone int64
		for _, p := range s.app.hub.Snapshot(floor.ID) {
			if p.AssetID == pump.ID {
				zone = p.ZoneID
			}
		}
		if zone == zones[0].ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the asset is in zone %d, want the drawn zone %d", zone, zones[0].ID)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// eventually polls cond for up to 20 s (a guard against hangs, not a
// timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
	}
}
