package web

import (
	"bytes"
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// chartPoint is one point of a chart's series: a raw reading (Min = Max =
// Mean) or a bucket's envelope and mean.
type chartPoint struct {
	T              time.Time
	Min, Max, Mean float64
}

// chartSpec is everything renderChart draws. It is plain data, so the
// chart is a pure function of it.
type chartSpec struct {
	Title  string // the <title>: "Fridge A — temperature"
	Metric wardwatch.Metric
	From   time.Time
	To     time.Time
	// Low and High are the in-range band; NaN means no band, ±Inf an
	// open side.
	Low, High float64
	Points    []chartPoint // oldest first
	// Gap is the longest time between two points that the line bridges;
	// a longer one is drawn as a gap. 0 never breaks the line.
	Gap time.Duration
	Loc *time.Location // tick labels; nil: UTC
}

// Chart geometry, in SVG user units.
const (
	chartW      = 800
	chartH      = 320
	chartLeft   = 64
	chartRight  = 16
	chartTop    = 36
	chartBottom = 44
	// chartClamp bounds values used for the axes and drawing: no sensor
	// reads beyond it, and it keeps the arithmetic finite.
	chartClamp = 1e9
	maxTicks   = 8
)

// Colours, as presentation attributes (the CSP forbids inline styles).
const (
	chartInk    = "#1f2937"
	chartGrid   = "#d1d5db"
	chartBand   = "#dcfce7"
	chartBandLn = "#15803d"
	chartLine   = "#1d4ed8"
	chartEnv    = "#93c5fd"
	chartOut    = "#b91c1c"
)

// svgWriter builds the SVG text with escaped attribute and text values.
type svgWriter struct{ b bytes.Buffer }

func (w *svgWriter) raw(s ...string) {
	for _, x := range s {
		w.b.WriteString(x)
	}
}

func (w *svgWriter) text(s string) {
	_ = xml.EscapeText(&w.b, []byte(strings.ToValidUTF8(s, "\uFFFD")))
}

// num formats a coordinate with one decimal.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func clampValue(v float64) float64 { return math.Max(-chartClamp, math.Min(chartClamp, v)) }

// renderChart draws s as a standalone SVG document: the series' mean as a
// line (broken at gaps), its min–max envelope, the in-range band shaded,
// points outside the band marked with triangles (▲ above, ▼ below), time
// ticks in s.Loc and value ticks in the metric's unit, and title and desc
// elements for screen readers. It never fails: bad values are skipped and
// an empty series says so.
func renderChart(s chartSpec) []byte {
	loc := s.Loc
	if loc == nil {
		loc = time.UTC
	}
	from, to := s.From, s.To
	if !to.After(from) {
		to = from.Add(time.Hour)
	}
	span := to.Sub(from).Seconds()
	unit := s.Metric.Unit()
	hasBand := finite(s.Low) || finite(s.High)
	if math.IsNaN(s.Low) || math.IsNaN(s.High) {
		hasBand = false
	}
	low, high := s.Low, s.High
	if hasBand && low > high {
		low, high = high, low
	}

	// Points worth drawing: finite, inside the window.
	pts := make([]chartPoint, 0, len(s.Points))
	for _, p := range s.Points {
		if !finite(p.Mean) || p.T.Before(from) || !p.T.Before(to) {
			continue
		}
		mn, mx := p.Min, p.Max
		if !finite(mn) || !finite(mx) || mn > mx {
			mn, mx = p.Mean, p.Mean
		}
		pts = append(pts, chartPoint{T: p.T, Min: clampValue(mn), Max: clampValue(mx), Mean: clampValue(p.Mean)})
	}

	// Value axis: the data and the band's finite limits.
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		ymin, ymax = math.Min(ymin, p.Min), math.Max(ymax, p.Max)
	}
	if hasBand {
		for _, v := range []float64{low, high} {
			if finite(v) {
				v = clampValue(v)
				ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
			}
		}
	}
	if !finite(ymin) || !finite(ymax) {
		ymin, ymax = 0, 1
	}
	if ymax-ymin < 1e-9 {
		pad := math.Max(1, math.Abs(ymin)*0.05)
		ymin, ymax = ymin-pad, ymax+pad
	}
	step := niceStep((ymax - ymin) / 5)
	ymin = math.Floor(ymin/step) * step
	ymax = math.Ceil(ymax/step) * step
	if ymax-ymin < step {
		ymax = ymin + step
	}

	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	x := func(t time.Time) float64 { return chartLeft + t.Sub(from).Seconds()/span*plotW }
	y := func(v float64) float64 {
		return math.Max(chartTop, math.Min(chartTop+plotH, chartTop+(ymax-v)/(ymax-ymin)*plotH))
	}

	var above, below int
	out := func(p chartPoint) (bool, bool) {
		if !hasBand {
			return false, false
		}
		return p.Max > high, p.Min < low
	}
	for _, p := range pts {
		a, b := out(p)
		if a {
			above++
		}
		if b {
			below++
		}
	}

	w := &svgWriter{}
	w.raw(`<?xml version="1.0" encoding="UTF-8"?>`, "\n")
	w.raw(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `, strconv.Itoa(chartW), " ", strconv.Itoa(chartH),
		`" width="`, strconv.Itoa(chartW), `" height="`, strconv.Itoa(chartH),
		`" role="img" aria-labelledby="chart-title chart-desc" font-family="system-ui, sans-serif" font-size="12">`, "\n")
	w.raw(`<title id="chart-title">`)
	w.text(s.Title)
	w.raw("</title>\n", `<desc id="chart-desc">`)
	w.text(chartDescription(s.Metric, from, to, loc, pts, hasBand, low, high, above, below))
	w.raw("</desc>\n")
	w.raw(`<rect x="0" y="0" width="`, strconv.Itoa(chartW), `" height="`, strconv.Itoa(chartH), `" fill="#ffffff"/>`, "\n")

	// The in-range band.
	if hasBand {
		top, bot := float64(chartTop), chartTop+plotH
		if finite(high) {
			top = y(clampValue(high))
		}
		if finite(low) {
			bot = y(clampValue(low))
		}
		if bot > top {
			w.raw(`<rect class="band" x="`, num(chartLeft), `" y="`, num(top), `" width="`, num(plotW), `" height="`, num(bot-top), `" fill="`, chartBand, `"/>`, "\n")
		}
		for _, v := range []float64{low, high} {
			if finite(v) && clampValue(v) >= ymin && clampValue(v) <= ymax {
				yy := num(y(clampValue(v)))
				w.raw(`<line class="limit" x1="`, num(chartLeft), `" x2="`, num(chartLeft+plotW), `" y1="`, yy, `" y2="`, yy,
					`" stroke="`, chartBandLn, `" stroke-width="1.5" stroke-dasharray="6 4"/>`, "\n")
			}
		}
	}

	// Value ticks and grid.
	w.raw(`<g class="y-axis" fill="`, chartInk, `">`, "\n")
	prec := stepPrecision(step)
	for i := 0; i <= 50; i++ {
		v := ymin + float64(i)*step
		if v > ymax+step/1e6 {
			break
		}
		yy := num(y(v))
		w.raw(`<line x1="`, num(chartLeft), `" x2="`, num(chartLeft+plotW), `" y1="`, yy, `" y2="`, yy, `" stroke="`, chartGrid, `" stroke-width="0.5"/>`)
		w.raw(`<text x="`, num(chartLeft-6), `" y="`, num(y(v)+4), `" text-anchor="end">`)
		w.text(tickValue(v, prec))
		w.raw("</text>\n")
	}
	w.raw(`<text x="12" y="`, num(chartTop-14), `">`)
	w.text(axisUnitLabel(s.Metric, unit))
	w.raw("</text>\n</g>\n")

	// Time ticks.
	w.raw(`<g class="x-axis" fill="`, chartInk, `">`, "\n")
	for _, tk := range timeTicks(from, to, loc) {
		xx := num(x(tk.t))
		w.raw(`<line x1="`, xx, `" x2="`, xx, `" y1="`, num(chartTop), `" y2="`, num(chartTop+plotH+4), `" stroke="`, chartGrid, `" stroke-width="0.5"/>`)
		w.raw(`<text x="`, xx, `" y="`, num(chartTop+plotH+18), `" text-anchor="middle">`)
		w.text(tk.label)
		w.raw("</text>")
		if tk.sub != "" {
			w.raw(`<text x="`, xx, `" y="`, num(chartTop+plotH+32), `" text-anchor="middle">`)
			w.text(tk.sub)
			w.raw("</text>")
		}
		w.raw("\n")
	}
	w.raw("</g>\n")
	w.raw(`<rect x="`, num(chartLeft), `" y="`, num(chartTop), `" width="`, num(plotW), `" height="`, num(plotH), `" fill="none" stroke="`, chartInk, `" stroke-width="1"/>`, "\n")

	if len(pts) == 0 {
		w.raw(`<text class="empty" x="`, num(chartLeft+plotW/2), `" y="`, num(chartTop+plotH/2), `" text-anchor="middle" font-size="16" fill="`, chartInk, `">`)
		w.text("No readings in this period")
		w.raw("</text>\n</svg>\n")
		return w.b.Bytes()
	}

	// Envelope: a vertical bar per bucket whose min and max differ.
	w.raw(`<g class="envelope" stroke="`, chartEnv, `" stroke-width="2">`)
	for _, p := range pts {
		if p.Max > p.Min {
			xx := num(x(p.T))
			w.raw(`<line x1="`, xx, `" x2="`, xx, `" y1="`, num(y(p.Max)), `" y2="`, num(y(p.Min)), `"/>`)
		}
	}
	w.raw("</g>\n")

	// The mean line, one path per run without a gap; a lone point is a dot.
	var d strings.Builder
	var lone []chartPoint
	run := 0
	for i, p := range pts {
		if i > 0 && s.Gap > 0 && p.T.Sub(pts[i-1].T) > s.Gap {
			if run == 1 {
				lone = append(lone, pts[i-1])
			}
			run = 0
		}
		if run == 0 {
			d.WriteString("M")
		} else {
			d.WriteString(" L")
		}
		d.WriteString(num(x(p.T)) + " " + num(y(p.Mean)))
		run++
	}
	if run == 1 {
		lone = append(lone, pts[len(pts)-1])
	}
	w.raw(`<path class="series" d="`, d.String(), `" fill="none" stroke="`, chartLine, `" stroke-width="2" stroke-linejoin="round"/>`, "\n")
	for _, p := range lone {
		w.raw(`<circle class="point" cx="`, num(x(p.T)), `" cy="`, num(y(p.Mean)), `" r="3" fill="`, chartLine, `"/>`)
	}

	// Out-of-range markers: ▲ above the band, ▼ below it.
	for _, p := range pts {
		a, b := out(p)
		xx := x(p.T)
		if a {
			yy := y(p.Max)
			w.raw(`<path class="above" d="M`, num(xx), " ", num(yy-6), " L", num(xx+5), " ", num(yy+3), " L", num(xx-5), " ", num(yy+3),
				` Z" fill="`, chartOut, `"/>`)
		}
		if b {
			yy := y(p.Min)
			w.raw(`<path class="below" d="M`, num(xx), " ", num(yy+6), " L", num(xx+5), " ", num(yy-3), " L", num(xx-5), " ", num(yy-3),
				` Z" fill="none" stroke="`, chartOut, `" stroke-width="1.5"/>`)
		}
	}
	w.raw("\n")

	// Legend.
	lx := float64(chartLeft + 150)
	w.raw(`<g class="legend" fill="`, chartInk, `">`)
	w.raw(`<line x1="`, num(lx), `" x2="`, num(lx+20), `" y1="14" y2="14" stroke="`, chartLine, `" stroke-width="2"/><text x="`, num(lx+24), `" y="18">mean</text>`)
	lx += 70
	if hasBand {
		w.raw(`<rect x="`, num(lx), `" y="8" width="20" height="12" fill="`, chartBand, `" stroke="`, chartBandLn, `"/><text x="`, num(lx+24), `" y="18">in range</text>`)
		lx += 90
		w.raw(`<path d="M`, num(lx+6), ` 8 L`, num(lx+11), ` 17 L`, num(lx+1), ` 17 Z" fill="`, chartOut, `"/><text x="`, num(lx+16), `" y="18">above</text>`)
		lx += 64
		w.raw(`<path d="M`, num(lx+6), ` 19 L`, num(lx+11), ` 10 L`, num(lx+1), ` 10 Z" fill="none" stroke="`, chartOut, `" stroke-width="1.5"/><text x="`, num(lx+16), `" y="18">below</text>`)
	}
	w.raw("</g>\n</svg>\n")
	return w.b.Bytes()
}

// chartDescription summarises the chart in words for screen readers.
func chartDescription(m wardwatch.Metric, from, to time.Time, loc *time.Location, pts []chartPoint, hasBand bool, low, high float64, above, below int) string {
	var b strings.Builder
	b.WriteString(string(m) + " from " + from.In(loc).Format("2 Jan 2006 15:04") + " to " + to.In(loc).Format("2 Jan 2006 15:04 MST") + ". ")
	if len(pts) == 0 {
		b.WriteString("No readings in this period.")
		return b.String()
	}
	mn, mx := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		mn, mx = math.Min(mn, p.Min), math.Max(mx, p.Max)
	}
	b.WriteString(strconv.Itoa(len(pts)) + " points; lowest " + formatValue(m, mn) + ", highest " + formatValue(m, mx) + ". ")
	if hasBand {
		b.WriteString("Range " + bandText(m, low, high) + "; " + strconv.Itoa(above) + " points above and " + strconv.Itoa(below) + " below it.")
	}
	return b.String()
}

// bandText is a band as words: "2 to 8 °C", "≤ −18 °C".
func bandText(m wardwatch.Metric, low, high float64) string {
	u := m.Unit()
	switch {
	case !finite(low) && finite(high):
		return strings.TrimSpace("≤ " + strconv.FormatFloat(high, 'g', -1, 64) + " " + u)
	case finite(low) && !finite(high):
		return strings.TrimSpace("≥ " + strconv.FormatFloat(low, 'g', -1, 64) + " " + u)
	case !finite(low) && !finite(high):
		return "any value"
	}
	return strings.TrimSpace(strconv.FormatFloat(low, 'g', -1, 64) + " to " + strconv.FormatFloat(high, 'g', -1, 64) + " " + u)
}

func axisUnitLabel(m wardwatch.Metric, unit string) string {
	if unit == "" {
		return string(m)
	}
	return string(m) + " (" + unit + ")"
}

// niceStep rounds a raw tick step up to 1, 2, 2.5 or 5 × 10ⁿ.
func niceStep(raw float64) float64 {
	if !finite(raw) || raw <= 0 {
		return 1
	}
	exp := math.Floor(math.Log10(raw))
	base := math.Pow(10, exp)
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*base*(1+1e-9) {
			return m * base
		}
	}
	return 10 * base
}

// stepPrecision is how many decimals a tick step needs.
func stepPrecision(step float64) int {
	p := 0
	for p < 6 && math.Abs(step*math.Pow(10, float64(p))-math.Round(step*math.Pow(10, float64(p)))) > 1e-6 {
		p++
	}
	return p
}

// tickValue formats a tick with a real minus sign.
func tickValue(v float64, prec int) string {
	if math.Abs(v) < math.Pow(10, -float64(prec))/2 {
		v = 0
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.HasPrefix(s, "-") {
		s = "−" + s[1:]
	}
	return s
}

// timeTick is one labelled instant on the time axis.
type timeTick struct {
	t          time.Time
	label, sub string // "14:00" and, when the day changes, "Mon 2 Nov"
}

// tickSteps are the time-axis steps, shortest first.
var tickSteps = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour,
}

// timeTicks places at most maxTicks ticks on [from, to] at round local
// times: multiples of the step since local midnight, or local midnights
// for steps of a day or more (so daylight-saving changes keep them round).
func timeTicks(from, to time.Time, loc *time.Location) []timeTick {
	span := to.Sub(from)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= maxTicks {
			step = s
			break
		}
	}
	lf := from.In(loc)
	var out []timeTick
	prevDay := ""
	add := func(t time.Time) {
		lt := t.In(loc)
		tk := timeTick{t: t}
		day := lt.Format("Mon 2 Jan")
		if step >= 24*time.Hour {
			tk.label = day
		} else {
			tk.label = lt.Format("15:04")
			if day != prevDay {
				tk.sub = day
			}
		}
		prevDay = day
		out = append(out, tk)
	}
	if step >= 24*time.Hour {
		days := int(step / (24 * time.Hour))
		t := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, loc)
		for i := 0; i < 64 && !t.After(to); i++ {
			if !t.Before(from) {
				add(t)
			}
			t = time.Date(t.Year(), t.Month(), t.Day()+days, 0, 0, 0, 0, loc)
		}
		return out
	}
	midnight := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, loc)
	n := from.Sub(midnight) / step
	t := midnight.Add(n * step)
	for i := 0; i < 64 && !t.After(to); i++ {
		if !t.Before(from) {
			add(t)
		}
		t = t.Add(step)
	}
	return out
}
