package web

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// sparkSpec is everything renderSparkline draws: plain data, so the
// sparkline is a pure function of it.
type sparkSpec struct {
	// ID prefixes the title and desc element IDs; it must be unique on
	// the page and made of letters, digits and hyphens ("spark-12").
	ID     string
	Title  string // "Fridge A temperature, last 24 h"
	Metric wardwatch.Metric
	From   time.Time
	To     time.Time
	// Low and High are the in-range band; NaN means no band, ±Inf an
	// open side.
	Low, High float64
	Points    []chartPoint // oldest first; buckets' min, max and mean
	// Gap is the longest time between two points the line bridges; a
	// longer one breaks it. 0 never breaks the line.
	Gap time.Duration
}

// Sparkline geometry, in SVG user units (and CSS pixels).
const (
	sparkW   = 120
	sparkH   = 32
	sparkPad = 3
	// maxSparkPoints bounds the points drawn: a day of 15-min buckets is
	// 96; more are thinned evenly.
	maxSparkPoints = 400
)

// renderSparkline draws s as an inline <svg> element (no XML prolog) of
// sparkW × sparkH: the in-range band shaded, the mean as a line broken at
// gaps, and points outside the band marked by shape as well as colour (▲
// above, ▼ below), with title and desc elements for screen readers. It
// never fails: bad values are skipped and an empty series says so.
func renderSparkline(s sparkSpec) string {
	id := sparkID(s.ID)
	from, to := s.From, s.To
	if !to.After(from) {
		to = from.Add(time.Hour)
	}
	span := to.Sub(from).Seconds()
	low, high := s.Low, s.High
	hasBand := !math.IsNaN(low) && !math.IsNaN(high) && (finite(low) || finite(high))
	if hasBand && low > high {
		low, high = high, low
	}

	pts := make([]chartPoint, 0, min(len(s.Points), maxSparkPoints))
	step := 1
	if len(s.Points) > maxSparkPoints {
		step = (len(s.Points) + maxSparkPoints - 1) / maxSparkPoints
	}
	for i := 0; i < len(s.Points); i += step {
		p := s.Points[i]
		if !finite(p.Mean) || p.T.Before(from) || !p.T.Before(to) {
			continue
		}
		mn, mx := p.Min, p.Max
		if !finite(mn) || !finite(mx) || mn > mx {
			mn, mx = p.Mean, p.Mean
		}
		pts = append(pts, chartPoint{T: p.T, Min: clampValue(mn), Max: clampValue(mx), Mean: clampValue(p.Mean)})
	}

	// The value scale covers the means and the band's finite limits, so
	// the band is always in view.
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		ymin, ymax = math.Min(ymin, p.Mean), math.Max(ymax, p.Mean)
	}
	if hasBand {
		for _, v := range []float64{low, high} {
			if finite(v) {
				ymin, ymax = math.Min(ymin, clampValue(v)), math.Max(ymax, clampValue(v))
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
	pad := (ymax - ymin) * 0.1
	ymin, ymax = ymin-pad, ymax+pad
	plotW, plotH := float64(sparkW-2*sparkPad), float64(sparkH-2*sparkPad)
	x := func(t time.Time) float64 { return sparkPad + t.Sub(from).Seconds()/span*plotW }
	y := func(v float64) float64 {
		return math.Max(sparkPad, math.Min(sparkPad+plotH, sparkPad+(ymax-v)/(ymax-ymin)*plotH))
	}
	above := func(p chartPoint) bool { return hasBand && p.Mean > high }
	below := func(p chartPoint) bool { return hasBand && p.Mean < low }
	var nAbove, nBelow int
	for _, p := range pts {
		if above(p) {
			nAbove++
		} else if below(p) {
			nBelow++
		}
	}

	w := &svgWriter{}
	w.raw(`<svg class="sparkline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `, strconv.Itoa(sparkW), " ", strconv.Itoa(sparkH),
		`" width="`, strconv.Itoa(sparkW), `" height="`, strconv.Itoa(sparkH), `" role="img" aria-labelledby="`, id, `-t `, id, `-d">`)
	w.raw(`<title id="`, id, `-t">`)
	w.text(s.Title)
	w.raw(`</title><desc id="`, id, `-d">`)
	w.text(sparkDescription(s.Metric, pts, hasBand, low, high, nAbove, nBelow))
	w.raw(`</desc>`)
	if hasBand {
		top, bot := float64(sparkPad), sparkPad+plotH
		if finite(high) {
			top = y(clampValue(high))
		}
		if finite(low) {
			bot = y(clampValue(low))
		}
		if bot > top {
			w.raw(`<rect class="spark-band" x="`, num(sparkPad), `" y="`, num(top), `" width="`, num(plotW), `" height="`, num(bot-top),
				`" fill="`, chartBand, `" stroke="`, chartBandLn, `" stroke-width="0.5"/>`)
		}
	}
	if len(pts) == 0 {
		w.raw(`<line class="spark-empty" x1="`, num(sparkPad), `" x2="`, num(sparkPad+plotW), `" y1="`, num(sparkH/2), `" y2="`, num(sparkH/2),
			`" stroke="`, chartGrid, `" stroke-width="1" stroke-dasharray="3 3"/></svg>`)
		return w.b.String()
	}
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
	w.raw(`<path class="spark-line" d="`, d.String(), `" fill="none" stroke="`, chartLine, `" stroke-width="1.5" stroke-linejoin="round"/>`)
	for _, p := range lone {
		w.raw(`<circle cx="`, num(x(p.T)), `" cy="`, num(y(p.Mean)), `" r="1.5" fill="`, chartLine, `"/>`)
	}
	for _, p := range pts {
		xx, yy := x(p.T), y(p.Mean)
		switch {
		case above(p):
			w.raw(`<path class="spark-above" d="M`, num(xx), " ", num(yy-3), " L", num(xx+2.5), " ", num(yy+1.5), " L", num(xx-2.5), " ", num(yy+1.5),
				` Z" fill="`, chartOut, `"/>`)
		case below(p):
			w.raw(`<path class="spark-below" d="M`, num(xx), " ", num(yy+3), " L", num(xx+2.5), " ", num(yy-1.5), " L", num(xx-2.5), " ", num(yy-1.5),
				` Z" fill="`, chartOut, `"/>`)
		}
	}
	w.raw(`</svg>`)
	return w.b.String()
}

// sparkID keeps an element ID to letters, digits and hyphens, so it is
// safe in an attribute and a valid IDREF.
func sparkID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '-' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
		if b.Len() >= 64 {
			break
		}
	}
	out := b.String()
	if out == "" || !(out[0] >= 'a' && out[0] <= 'z' || out[0] >= 'A' && out[0] <= 'Z') {
		return "spark-" + out
	}
	return out
}

// sparkDescription summarises the sparkline in words for screen readers.
func sparkDescription(m wardwatch.Metric, pts []chartPoint, hasBand bool, low, high float64, above, below int) string {
	if len(pts) == 0 {
		return "No readings in this period."
	}
	mn, mx := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		mn, mx = math.Min(mn, p.Min), math.Max(mx, p.Max)
	}
	var b strings.Builder
	b.WriteString("Lowest " + formatValue(m, mn) + ", highest " + formatValue(m, mx) + ", latest " + formatValue(m, pts[len(pts)-1].Mean) + ".")
	if hasBand {
		b.WriteString(" Range " + bandText(m, low, high) + ": ")
		if above+below == 0 {
			b.WriteString("in range throughout.")
		} else {
			b.WriteString(strconv.Itoa(above) + " of " + strconv.Itoa(len(pts)) + " points above, " + strconv.Itoa(below) + " below.")
		}
	}
	return b.String()
}
