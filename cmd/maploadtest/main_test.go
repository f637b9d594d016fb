package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wardwatch/wardwatch"
)

func TestSummarise(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want summary
	}{
		{"empty", nil, summary{}},
		{"one", []float64{16.7}, summary{N: 1, Median: 16.7, P95: 16.7, P99: 16.7, Max: 16.7, Mean: 16.7}},
		{"hundred", hundred(), summary{N: 100, Median: 50, P95: 95, P99: 99, Max: 100, Mean: 50.5, Over50: 50}},
		{"unsorted with a long frame", []float64{16, 17, 120, 16}, summary{N: 4, Median: 16, P95: 120, P99: 120, Max: 120, Mean: 42.25, Over50: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarise(tt.in)
			if got.N != tt.want.N || got.Median != tt.want.Median || got.P95 != tt.want.P95 || got.P99 != tt.want.P99 ||
				got.Max != tt.want.Max || math.Abs(got.Mean-tt.want.Mean) > 1e-9 || got.Over50 != tt.want.Over50 {
				t.Errorf("summarise = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func hundred() []float64 {
	xs := make([]float64, 100)
	for i := range xs {
		xs[len(xs)-1-i] = float64(i + 1)
	}
	return xs
}

func TestMover(t *testing.T) {
	ids := []int64{11, 12, 13, 14, 15}
	zone := func(p wardwatch.Point) int64 { return int64(p.X/roomSize)*100 + int64(p.Y/roomSize) }
	a := newMover(ids, 3, 20, 10, 7, zone)
	b := newMover(ids, 3, 20, 10, 7, zone)
	now := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	start := a.all(now)
	for k := range 200 {
		pa := a.step(now, k%2, 2)
		pb := b.step(now, k%2, 2)
		if len(pa) != len(pb) {
			t.Fatal("same seed, different steps")
		}
		for i := range pa {
			if pa[i] != pb[i] {
				t.Fatalf("same seed, different positions: %+v, %+v", pa[i], pb[i])
			}
			p := pa[i]
			if p.At.X <= 0 || p.At.X >= 20 || p.At.Y <= 0 || p.At.Y >= 10 || p.FloorID != 3 || p.ZoneID != zone(p.At) || !p.Time.Equal(now) {
				t.Fatalf("position off the floor or wrong: %+v", p)
			}
			if want := ids[k%2+2*i]; p.AssetID != want {
				t.Fatalf("step %d moved asset %d, want %d", k, p.AssetID, want)
			}
		}
	}
	moved := 0
	for i, p := range a.all(now) {
		if p.At != start[i].At {
			moved++
		}
	}
	if moved != len(ids) {
		t.Errorf("%d of %d assets moved", moved, len(ids))
	}
}

func TestRunRejectsBadUse(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-assets", "0"}, "-assets"},
		{[]string{"-modes", "clustered,fast"}, "unknown mode"},
		{[]string{"-interval", "1ms"}, "-interval"},
		{[]string{"-floor-width", "0"}, "-floor-width"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-chromium", "/nonexistent/chromium"}, "Chromium"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tt.args, func(string) string { return "" }, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error about %s", tt.args, err, tt.want)
		}
	}
}

// chromiumForTest finds Chromium, or skips (fails when CI=true).
func chromiumForTest(t *testing.T) string {
	t.Helper()
	p, err := findChromium("", os.Getenv)
	if err == nil {
		return p
	}
	if _, lookErr := exec.LookPath("chromium"); lookErr != nil && os.Getenv("CI") == "true" {
		t.Fatalf("Chromium is required in CI: run scripts/ensure-chromium.sh (make test does): %v", err)
	}
	t.Skipf("Chromium not found (%v); scripts/ensure-chromium.sh installs it, WARDWATCH_TEST_CHROMIUM names it", err)
	return ""
}

// TestFloorMapInChromium drives the floor page the tool measures with 600
// moving assets: clusters, the paged table, the filter, selection, and no
// uncaught exceptions.
func TestFloorMapInChromium(t *testing.T) {
	path := chromiumForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	o := options{assets: 600, floorW: 60, floorH: 30, seed: 1, width: 1200, height: 900}
	svc, err := startService(ctx, dir, o, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.stop()
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); svc.feed(feedCtx, 500*time.Millisecond) }()
	defer func() { stopFeed(); <-feedDone }()

	b, err := startBrowser(ctx, path, dir, o, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if err := b.signIn(svc); err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithTimeout(b.ctx, time.Minute)
	defer bcancel()
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	waitFor := func(what, js string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; {
			if eval(js) == "true" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s (uncaught exceptions: %q)", what, b.exceptions())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := chromedp.Do(bctx,
		chromedp.Navigate(svc.URL+"/floors/"+strconv.FormatInt(svc.FloorID, 10)),
		chromedp.WaitReady(chromedp.CSS(`body[data-live="open"]`)),
	); err != nil {
		t.Fatalf("open the floor: %v", err)
	}
	origin := eval(`String(performance.timeOrigin)`)
	waitFor("every marker, clustered", `String(wardwatchFloorStats.markers === 600 && wardwatchFloorStats.clustered && document.querySelectorAll('.asset-cluster').length > 0)`)
	if got := eval(`String(document.querySelectorAll('tr[data-asset-id]').length) + ' ' + document.getElementById('asset-pager-status').textContent + ' ' + document.querySelector('.pager-page').textContent`); got != "200 Rows 1–200 of 600 Page 1 of 3" {
		t.Errorf("table and pager = %q", got)
	}
	if got := eval(`document.querySelector('.asset-cluster .cluster-ring').getAttribute('aria-label')`); !strings.Contains(got, "assets here") {
		t.Errorf("cluster label = %q", got)
	}

	// Clicking a cluster zooms in; far enough in, markers are not clustered;
	// "Whole floor" clusters them again.
	zoom := eval(`String(wardwatchFloorStats.zoom)`)
	// Cluster icons are repainted as assets move: a click may find its node
	// gone, or land as the icon is replaced. Click the current one again
	// until the map zooms in.
	for i := 0; ; i++ {
		_ = chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`.asset-cluster`)))
		zoomed := false
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if eval(`String(wardwatchFloorStats.zoom > `+zoom+`)`) == "true" {
				zoomed = true
				break
			}
		}
		if zoomed {
			break
		}
		if i == 4 {
			t.Fatalf("five clicks on a cluster never zoomed in (uncaught exceptions: %q)", b.exceptions())
		}
	}
	for i := 0; eval(`String(wardwatchFloorStats.clustered)`) == "true"; i++ {
		if i == 12 {
			t.Fatalf("still clustered at zoom %s", eval(`String(wardwatchFloorStats.zoom)`))
		}
		if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`.leaflet-control-zoom-in`)), chromedp.Sleep(200*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`.map-fit`))); err != nil {
		t.Fatal(err)
	}
	waitFor("clusters after zooming out", `String(wardwatchFloorStats.clustered && document.querySelectorAll('.asset-cluster').length > 0)`)

	// Rows follow their assets (at most a second late).
	first := eval(`[...document.querySelectorAll('tr[data-asset-id]')].map(r => r.dataset.x + ',' + r.dataset.y).join(';')`)
	waitFor("rows to follow moving assets", `String([...document.querySelectorAll('tr[data-asset-id]')].map(r => r.dataset.x + ',' + r.dataset.y).join(';') !== `+quote(first)+`)`)

	// Next page, in place.
	firstName := eval(`document.querySelector('tr[data-asset-id] .asset-name').textContent`)
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#asset-pager a.pager-next`))); err != nil {
		t.Fatal(err)
	}
	if got := eval(`location.search + ' ' + document.querySelector('.pager-page').textContent + ' ' + document.querySelectorAll('tr[data-asset-id]').length`); got != "?page=2 Page 2 of 3 200" {
		t.Errorf("after Next: %q", got)
	}
	if got := eval(`document.querySelector('tr[data-asset-id] .asset-name').textContent`); got <= firstName {
		t.Errorf("page 2 starts with %q, not after page 1's %q", got, firstName)
	}

	// The filter reaches every page and the map; few markers stop clustering.
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS(`#asset-filter`), "wheelchair")); err != nil {
		t.Fatal(err)
	}
	waitFor("the filter", `String(document.querySelectorAll('tr[data-asset-id]').length > 0 && [...document.querySelectorAll('tr[data-asset-id]')].every(r => r.dataset.kind === 'wheelchair'))`)
	if got := eval(`wardwatchFloorStats.markers + ' ' + wardwatchFloorStats.clustered + ' ' + document.querySelectorAll('tr[data-asset-id]').length`); got != "86 false 86" {
		t.Errorf("filtered markers, clustering, rows = %q, want 86 false 86", got)
	}

	// Selecting a row marks it and shows its card.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`tr[data-asset-id] .asset-link`))); err != nil {
		t.Fatal(err)
	}
	waitFor("the selection", `String(document.querySelectorAll('tr[aria-selected="true"]').length === 1 && !!document.querySelector('.asset-tooltip .tip-name'))`)

	if eval(`String(performance.timeOrigin)`) != origin {
		t.Error("the page reloaded")
	}
	if thrown := b.exceptions(); len(thrown) > 0 {
		t.Errorf("uncaught exceptions in the page: %q", thrown)
	}
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
