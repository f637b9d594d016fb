// Command maploadtest measures how smoothly the live floor map runs in a real
// Chromium while thousands of assets move.
//
// It starts a WardWatch web service on a loopback port (SQLite store in a
// temporary directory, the live hub, the real web handler; no location
// engine: positions are published straight into the hub), seeds one floor
// with -assets assets, moves every asset once per -interval, and drives a
// headless Chromium: sign in, open the floor, wait until every marker is
// on the map, then record for -duration the time between animation frames
// (requestAnimationFrame deltas) and the page's own counters
// (window.wardwatchFloorStats: main-thread time per update batch and in
// JSON.parse of messages). It does so for each of -modes in turn, against
// the same service:
//
//	clustered  the page as shipped (markers clustered, one batch per frame)
//	plain      clustering off (?cluster=off), one batch per frame
//	direct     clustered, but every message applied as it arrives (?apply=direct)
//
// It prints the figures and exits 1 when it cannot run (no Chromium, the
// service or page failing), when the map does not show every asset or
// receives no updates, or when a -max-* limit is exceeded.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	path2 "path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/profiler"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wardwatch/wardwatch/web/live"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "maploadtest: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	assets         int
	interval       time.Duration
	duration       time.Duration
	warmup         time.Duration
	modes          []string
	chromium       string
	width, height  int
	zoomIn         int
	floorW, floorH float64
	seed           uint64
	maxP95         time.Duration // 0: no limit
	maxBatchP95    time.Duration // 0: no limit
	hubFlush       time.Duration // the live hub's flush interval; 0: its default
	profile        string        // write the first mode's JS CPU profile here
	screenshot     string        // save a screenshot of the first mode's page here
	verbose        bool
}

// modeQuery is the floor page's query for each mode.
var modeQuery = map[string]string{
	"clustered": "",
	"plain":     "?cluster=off",
	"direct":    "?apply=direct",
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o options
	var modes string
	fs := flag.NewFlagSet("maploadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.assets, "assets", 5000, "assets on the floor, each moving once per -interval")
	fs.DurationVar(&o.interval, "interval", time.Second, "how often each asset moves")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measuring time per mode")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "time with updates flowing before measuring, per mode")
	fs.StringVar(&modes, "modes", "clustered,plain", "comma-separated modes to measure in turn: clustered, plain (clustering off), direct (each message applied as it arrives)")
	fs.StringVar(&o.chromium, "chromium", "", "Chromium binary (default $WARDWATCH_TEST_CHROMIUM, then chromium, chromium-browser, google-chrome on PATH)")
	fs.IntVar(&o.width, "width", 1400, "browser window width")
	fs.IntVar(&o.height, "height", 900, "browser window height")
	fs.DurationVar(&o.hubFlush, "hub-flush", 0, "the live hub's flush interval (how often the browser gets a message); 0 keeps the service's default, 250ms")
	fs.IntVar(&o.zoomIn, "zoom-in", 0, "press the map's zoom-in button this many times before measuring")
	fs.Float64Var(&o.floorW, "floor-width", 180, "floor width, metres")
	fs.Float64Var(&o.floorH, "floor-height", 60, "floor height, metres")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed for the assets' walks")
	fs.DurationVar(&o.maxP95, "max-p95", 0, "fail when the 95th percentile frame time of the first mode exceeds this (0: no limit)")
	fs.DurationVar(&o.maxBatchP95, "max-batch-p95", 0, "fail when the 95th percentile batch time of the first mode exceeds this (0: no limit)")
	fs.StringVar(&o.profile, "profile", "", "write a JavaScript CPU profile of the first mode's measuring time to this `file` (.cpuprofile, opens in Chromium's DevTools) and print its top functions; profiling slows the page, so its figures are not comparable")
	fs.StringVar(&o.screenshot, "screenshot", "", "save a PNG screenshot of the first mode's page at the end of its measuring to this `file`")
	fs.BoolVar(&o.verbose, "v", false, "log the service and browser")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, m := range strings.Split(modes, ",") {
		m = strings.TrimSpace(m)
		if _, ok := modeQuery[m]; !ok {
			return fmt.Errorf("unknown mode %q: want clustered, plain or direct", m)
		}
		o.modes = append(o.modes, m)
	}
	switch {
	case o.assets <= 0:
		return errors.New("-assets must be positive")
	case o.interval < 10*time.Millisecond:
		return errors.New("-interval must be at least 10ms")
	case o.duration <= 0 || o.warmup < 0:
		return errors.New("-duration must be positive and -warmup not negative")
	case !(o.floorW >= 1 && o.floorH >= 1 && o.floorW <= 10000 && o.floorH <= 10000):
		return errors.New("-floor-width and -floor-height must be between 1 and 10000 metres")
	}
	browser, err := findChromium(o.chromium, getenv)
	if err != nil {
		return err
	}

	logger := discard()
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	dir, err := os.MkdirTemp("", "maploadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Fprintf(stderr, "seeding %d assets…\n", o.assets)
	svc, err := startService(ctx, dir, o, logger)
	if err != nil {
		return err
	}
	defer svc.stop()
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		svc.feed(feedCtx, o.interval)
	}()
	defer func() { stopFeed(); <-feedDone }()

	b, err := startBrowser(ctx, browser, dir, o, logger)
	if err != nil {
		return err
	}
	defer b.close()
	if err := b.signIn(svc); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "maploadtest: %d assets moving every %v on a %g × %g m floor, hub flush %v, window %d×%d, zoom-in %d, %v per mode after %v warm-up\n",
		o.assets, o.interval, o.floorW, o.floorH, cmp.Or(o.hubFlush, live.DefaultFlushInterval), o.width, o.height, o.zoomIn, o.duration, o.warmup)
	var first *result
	for _, mode := range o.modes {
		select {
		case err := <-svc.errors:
			return err
		default:
		}
		profile, shot := "", ""
		if first == nil {
			profile, shot = o.profile, o.screenshot
		}
		res, err := b.measure(ctx, svc, mode, o, profile, stdout, stderr)
		if err == nil && shot != "" {
			err = b.screenshot(shot)
		}
		if err != nil {
			return fmt.Errorf("mode %s: %w", mode, err)
		}
		printResult(stdout, mode, res, o)
		if thrown := b.exceptions(); len(thrown) > 0 {
			return fmt.Errorf("mode %s: the page threw %d uncaught exception(s), first: %s", mode, len(thrown), thrown[0])
		}
		if first == nil {
			first = &res
		}
		if res.Markers < o.assets {
			return fmt.Errorf("mode %s: the map showed %d of %d assets", mode, res.Markers, o.assets)
		}
		if res.Applied == 0 {
			return fmt.Errorf("mode %s: no position updates reached the map", mode)
		}
	}
	if first != nil {
		f := summarise(first.Frames)
		if o.maxP95 > 0 && f.P95 > ms(o.maxP95) {
			return fmt.Errorf("frame time p95 %.1f ms exceeds -max-p95 %v", f.P95, o.maxP95)
		}
		bt := summarise(first.BatchMs)
		if o.maxBatchP95 > 0 && bt.P95 > ms(o.maxBatchP95) {
			return fmt.Errorf("batch time p95 %.1f ms exceeds -max-batch-p95 %v", bt.P95, o.maxBatchP95)
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// findChromium is the Chromium to drive: the flag, then
// $WARDWATCH_TEST_CHROMIUM, then the usual names on PATH.
func findChromium(flagValue string, getenv func(string) string) (string, error) {
	for _, name := range []string{flagValue, getenv("WARDWATCH_TEST_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		if name == flagValue || name == getenv("WARDWATCH_TEST_CHROMIUM") {
			return "", fmt.Errorf("Chromium %q not found or not executable", name)
		}
	}
	return "", errors.New("Chromium not found: pass -chromium or set WARDWATCH_TEST_CHROMIUM (scripts/ensure-chromium.sh installs it)")
}

// result is what one mode measured in the page.
type result struct {
	Frames       []float64 `json:"frames"`  // ms between animation frames
	BatchMs      []float64 `json:"batchMs"` // ms per applied update batch
	Batches      int       `json:"batches"`
	Applied      int       `json:"applied"`
	Messages     int       `json:"messages"`
	ParseMs      float64   `json:"parseMs"`
	Icons        int       `json:"icons"` // cluster icons drawn
	TableRenders int       `json:"tableRenders"`
	TableMs      float64   `json:"tableMs"`
	Clustered    bool      `json:"clustered"`
	Markers      int       `json:"markers"`
	Clusters     int       `json:"clusters"` // cluster icons on screen at the end
	LongTasks    int       `json:"longCount"`
	LongMs       float64   `json:"longMs"`
	ElapsedMs    float64   `json:"elapsedMs"`
	ReadyMs      float64   `json:"-"` // navigation until every marker was on the map
}

// summary is a distribution's figures, in milliseconds.
type summary struct {
	N                     int
	Median, P95, P99, Max float64
	Mean                  float64
	Over50                int // frames longer than 50 ms ("dropped")
}

// summarise computes the nearest-rank percentiles of xs.
func summarise(xs []float64) summary {
	s := summary{N: len(xs)}
	if len(xs) == 0 {
		return s
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	rank := func(p float64) float64 {
		i := int(p*float64(len(sorted))+0.999999999) - 1
		return sorted[min(max(i, 0), len(sorted)-1)]
	}
	var sum float64
	for _, x := range sorted {
		sum += x
		if x > 50 {
			s.Over50++
		}
	}
	s.Median, s.P95, s.P99, s.Max, s.Mean = rank(0.5), rank(0.95), rank(0.99), sorted[len(sorted)-1], sum/float64(len(sorted))
	return s
}

func printResult(w io.Writer, mode string, r result, o options) {
	f := summarise(r.Frames)
	b := summarise(r.BatchMs)
	secs := r.ElapsedMs / 1000
	if secs <= 0 {
		secs = ms(o.duration) / 1000
	}
	var busy float64
	for _, x := range r.BatchMs {
		busy += x
	}
	fmt.Fprintf(w, "\nmode %s (clustered=%v, %d markers, %d cluster icons on screen; page ready in %.1f s)\n", mode, r.Clustered, r.Markers, r.Clusters, r.ReadyMs/1000)
	fmt.Fprintf(w, "  frames:  %d in %.1f s (%.1f fps); median %.1f ms, p95 %.1f ms, p99 %.1f ms, longest %.1f ms; %d frames > 50 ms\n",
		f.N, secs, float64(f.N)/secs, f.Median, f.P95, f.P99, f.Max, f.Over50)
	fmt.Fprintf(w, "  batches: %d applying %d positions (%.0f/s); per batch median %.1f ms, p95 %.1f ms, p99 %.1f ms, longest %.1f ms\n",
		b.N, r.Applied, float64(r.Applied)/secs, b.Median, b.P95, b.P99, b.Max)
	fmt.Fprintf(w, "  cluster icons drawn: %d (%.0f per batch)\n", r.Icons, float64(r.Icons)/float64(max(b.N, 1)))
	fmt.Fprintf(w, "  main thread: batches %.0f ms/s, JSON.parse %.0f ms/s over %d messages, table %.0f ms/s (%d full renders); long tasks %d (%.0f ms/s)\n",
		busy/secs, r.ParseMs/secs, r.Messages, r.TableMs/secs, r.TableRenders, r.LongTasks, r.LongMs/secs)
}

// browser is a headless Chromium.
type browser struct {
	ctx    context.Context
	cancel func()

	mu     sync.Mutex
	thrown []string // uncaught exceptions in the page
}

// exceptions returns and forgets the page's uncaught exceptions so far.
func (b *browser) exceptions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.thrown
	b.thrown = nil
	return out
}

func startBrowser(ctx context.Context, path, dir string, o options, logger *slog.Logger) (*browser, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(dir+"/chromium"),
		chromedp.WindowSize(o.width, o.height),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Keep timers and frames running at full rate in the background.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	var logf []chromedp.ContextOption
	if o.verbose {
		logf = append(logf, chromedp.WithLogf(func(f string, a ...any) { logger.Info(fmt.Sprintf(f, a...)) }))
	}
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, logf...)
	b := &browser{ctx: bctx, cancel: func() { cancelBrowser(); cancelAlloc() }}
	// The first action starts the browser and lives as long as it.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		b.close()
		return nil, fmt.Errorf("start Chromium %s: %w", path, err)
	}
	err := chromedp.Listen(bctx, func(ev any) {
		e, ok := ev.(*cdpruntime.EventExceptionThrown)
		if !ok || e.ExceptionDetails == nil {
			return
		}
		text := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil && e.ExceptionDetails.Exception.Description != "" {
			text = e.ExceptionDetails.Exception.Description
		}
		b.mu.Lock()
		if len(b.thrown) < 20 {
			b.thrown = append(b.thrown, text)
		}
		b.mu.Unlock()
	})
	if err != nil {
		b.close()
		return nil, fmt.Errorf("listen to Chromium: %w", err)
	}
	return b, nil
}

func (b *browser) close() { b.cancel() }

func (b *browser) signIn(svc *service) error {
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(svc.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), svc.Username),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), svc.Password),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/floors/"]`)),
	)
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	return nil
}

const startJS = `(() => {
  const s = window.wardwatchFloorStats;
  if (!s) return false;
  s.reset();
  const m = window.__maploadtest = {frames: [], prev: 0, stop: false, longMs: 0, longCount: 0, t0: performance.now()};
  const loop = (t) => { if (m.prev) m.frames.push(t - m.prev); m.prev = t; if (!m.stop) requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
  try {
    new PerformanceObserver((l) => { for (const e of l.getEntries()) { m.longMs += e.duration; m.longCount++; } }).observe({type: 'longtask'});
  } catch (e) {}
  return true;
})()`

const stopJS = `(() => {
  const m = window.__maploadtest, s = window.wardwatchFloorStats;
  m.stop = true;
  return {frames: m.frames, batchMs: s.batchMs, batches: s.batches, applied: s.applied, messages: s.messages,
    parseMs: s.parseMs, icons: s.icons, tableRenders: s.tableRenders, tableMs: s.tableMs, clustered: s.clustered, markers: s.markers,
    clusters: document.querySelectorAll('.asset-cluster').length, longCount: m.longCount, longMs: m.longMs,
    elapsedMs: performance.now() - m.t0};
})()`

// measure opens the floor in mode, waits until every asset is on the map
// and updates flow, and records for o.duration.
func (b *browser) measure(ctx context.Context, svc *service, mode string, o options, profile string, stdout, progress io.Writer) (result, error) {
	budget := o.warmup + o.duration + 2*time.Minute
	ctx, cancel := context.WithTimeout(b.ctx, budget)
	defer cancel()
	fmt.Fprintf(progress, "mode %s: opening the floor…\n", mode)
	started := time.Now()
	err := chromedp.Do(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/floors/%d%s", svc.URL, svc.FloorID, modeQuery[mode])),
		chromedp.WaitReady(chromedp.CSS(`body[data-live="open"]`)),
	)
	if err != nil {
		return result{}, fmt.Errorf("open the floor: %w", err)
	}
	// Every asset on the map.
	for {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(window.wardwatchFloorStats || {}).markers || 0`))
		if err != nil {
			return result{}, fmt.Errorf("read the page's counters: %w", err)
		}
		if n >= o.assets {
			break
		}
		select {
		case <-ctx.Done():
			return result{}, fmt.Errorf("the map showed %d of %d assets: %w", n, o.assets, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	ready := time.Since(started)
	for range o.zoomIn {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.leaflet-control-zoom-in`)), chromedp.Sleep(300*time.Millisecond)); err != nil {
			return result{}, fmt.Errorf("zoom in: %w", err)
		}
	}
	fmt.Fprintf(progress, "mode %s: ready in %.1f s; warming up %v, measuring %v…\n", mode, ready.Seconds(), o.warmup, o.duration)
	if err := sleep(ctx, o.warmup); err != nil {
		return result{}, err
	}
	if profile != "" {
		if _, err := chromedp.Call(ctx, profiler.Enable, cdp.Empty{}); err != nil {
			return result{}, fmt.Errorf("profiler: %w", err)
		}
		if _, err := chromedp.Call(ctx, profiler.Start, cdp.Empty{}); err != nil {
			return result{}, fmt.Errorf("profiler: %w", err)
		}
	}
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](startJS))
	if err != nil || !ok {
		return result{}, fmt.Errorf("start recording (page counters missing): %v", err)
	}
	if err := sleep(ctx, o.duration); err != nil {
		return result{}, err
	}
	if profile != "" {
		res, err := chromedp.Call(ctx, profiler.Stop, cdp.Empty{})
		if err != nil {
			return result{}, fmt.Errorf("profiler: %w", err)
		}
		if err := writeProfile(profile, res.Profile, stdout); err != nil {
			return result{}, err
		}
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[result](stopJS))
	if err != nil {
		return result{}, fmt.Errorf("read the recording: %w", err)
	}
	res.ReadyMs = ms(ready)
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// writeProfile saves p as a .cpuprofile and prints the functions with the
// most self time.
func writeProfile(path string, p *profiler.Profile, w io.Writer) error {
	if p == nil {
		return errors.New("profiler returned no profile")
	}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode profile: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	type fn struct {
		name string
		hits int64
	}
	byNode := make(map[int64]string, len(p.Nodes))
	for _, n := range p.Nodes {
		f := n.CallFrame
		byNode[n.ID] = fmt.Sprintf("%s %s:%d", cmp.Or(f.FunctionName, "(anonymous)"), path2.Base(f.URL), f.LineNumber+1)
	}
	counts := make(map[string]int64)
	var total int64
	for _, id := range p.Samples {
		counts[byNode[id]]++
		total++
	}
	fns := make([]fn, 0, len(counts))
	for k, v := range counts {
		fns = append(fns, fn{k, v})
	}
	slices.SortFunc(fns, func(a, b fn) int { return cmp.Compare(b.hits, a.hits) })
	fmt.Fprintf(w, "JS CPU profile written to %s; top self time of %d samples:\n", path, total)
	for _, f := range fns[:min(20, len(fns))] {
		fmt.Fprintf(w, "  %5.1f%%  %s\n", 100*float64(f.hits)/float64(max(total, 1)), f.name)
	}
	return nil
}

// screenshot saves the page as a PNG.
func (b *browser) screenshot(path string) error {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return nil
}
