package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// pageProblems collects a tab's console errors, uncaught exceptions and
// error log entries (CSP violations, failed loads) between two reads.
type pageProblems struct {
	mu   sync.Mutex
	msgs []string
}

func (p *pageProblems) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		msg = "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level != cdplog.EntryLevelError {
			return
		}
		msg = "log (" + string(ev.Entry.Source) + "): " + ev.Entry.Text + " " + ev.Entry.URL
	default:
		return
	}
	p.mu.Lock()
	p.msgs = append(p.msgs, msg)
	p.mu.Unlock()
}

// take returns the problems seen since the last call.
func (p *pageProblems) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.msgs
	p.msgs = nil
	return out
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// pageName turns a path into an artifact name part: "/admin/floors/1" →
// "admin-floors-1".
func pageName(path string) string {
	u, err := url.Parse(path)
	if err == nil {
		path = u.Path
	}
	n := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(path), "-"), "-")
	if n == "" {
		return "root"
	}
	return n
}

// TestBrowserEveryPage signs in as the admin of the running demo hospital
// (simulators included) and opens every page linked from the navigation
// and the admin index, plus a floor, a search, an asset and a floor's
// editor, at a desktop (1280 × 900) and a phone (390 × 844) viewport. Each
// must answer 200 with a main heading and no console error, uncaught
// exception or error log entry. A screenshot of each, page-<name>-<size>.png,
// is kept under testdata/artifacts.
func TestBrowserEveryPage(t *testing.T) {
	browserPath(t) // skip (or fail in CI) before starting the demo
	d := startDemo(t)
	ctx, _ := newBrowser(t, 1280, 900)
	problems := &pageProblems{}
	chromedp.Listen(ctx, problems.listen)

	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(d.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), d.Password),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/floors/"]`)),
	)
	if err != nil {
		t.Fatalf("sign in as admin: %v", err)
	}
	links := func(path, selector string) []string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(d.URL+path), chromedp.WaitReady(chromedp.CSS(`main`))); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		hrefs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
			fmt.Sprintf(`[...document.querySelectorAll(%q)].map(a => a.getAttribute("href"))`, selector)))
		if err != nil {
			t.Fatalf("read the links of %s: %v", path, err)
		}
		return hrefs
	}
	first := func(hrefs []string, prefix string) string {
		for _, h := range hrefs {
			if strings.HasPrefix(h, prefix) && len(h) > len(prefix) {
				return h
			}
		}
		t.Fatalf("no link starting with %s among %v", prefix, hrefs)
		return ""
	}

	pages := links("/admin", `nav.mainnav a, a.admin-tile`)
	floor := first(links("/floors", `main a`), "/floors/")
	asset := first(links("/search?q=pump", `main a`), "/assets/")
	pages = append(pages, floor, "/search?q=pump", asset, "/admin"+floor)
	if units := links("/environment", `.env-links a`); len(units) > 0 {
		pages = append(pages, units[0]) // a unit's daily log
	}
	slices.Sort(pages)
	pages = slices.Compact(pages)
	for _, want := range []string{"/floors", "/search", "/pumps", "/environment", "/alerts", "/records", "/admin", "/admin/assets", "/admin/system"} {
		if !slices.Contains(pages, want) {
			t.Errorf("the navigation and admin index do not link %s (links: %v)", want, pages)
		}
	}
	problems.take() // the discovery visits above are not under test

	for _, size := range []struct {
		name string
		w, h int64
		opts []chromedp.EmulateViewportOption
	}{
		{"desktop", 1280, 900, nil},
		{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile}},
	} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h, size.opts...)); err != nil {
			t.Fatalf("emulate the %s viewport: %v", size.name, err)
		}
		for _, path := range pages {
			name := "page-" + pageName(path) + "-" + size.name
			resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(d.URL+path))
			switch {
			case err != nil:
				t.Errorf("%s at %s: open: %v", path, size.name, err)
			case resp.Status != 200:
				t.Errorf("%s at %s: status %d", path, size.name, resp.Status)
			}
			heading, err := chromedp.Run(ctx, chromedp.Evaluate[string](
				`(document.querySelector("main h1") || {textContent: ""}).textContent.trim()`))
			if err != nil || heading == "" {
				t.Errorf("%s at %s: no main heading (%v)", path, size.name, err)
			}
			// Let the page's scripts start (maps, live sockets) before
			// judging its console.
			_ = chromedp.Do(ctx, chromedp.Sleep(250*time.Millisecond))
			if ps := problems.take(); len(ps) > 0 {
				t.Errorf("%s at %s: %d console problem(s):\n  %s", path, size.name, len(ps), strings.Join(ps, "\n  "))
			}
			savePageShot(ctx, t, name)
		}
	}
}

// savePageShot keeps a full-page screenshot as testdata/artifacts/<name>.png.
func savePageShot(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(artifactDir(t), name+".png"), img, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}
