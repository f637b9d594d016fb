package web

import (
	"encoding/binary"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// wellFormed reports whether s parses as XML to its end.
func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func TestRenderSparkline(t *testing.T) {
	from := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	series := func(vals ...float64) []chartPoint {
		var ps []chartPoint
		for i, v := range vals {
			ps = append(ps, chartPoint{T: from.Add(time.Duration(i) * 15 * time.Minute), Min: v - 0.1, Max: v + 0.1, Mean: v})
		}
		return ps
	}
	for _, tc := range []struct {
		name       string
		spec       sparkSpec
		want, not  []string
		paths      int // "M" moves in the line: runs without a gap
		above, blw int
	}{
		{name: "empty says so", spec: sparkSpec{ID: "spark-1", Metric: wardwatch.MetricTemperature, Low: 2, High: 8},
			want: []string{"spark-empty", "No readings in this period.", `class="spark-band"`}, not: []string{"spark-line"}},
		{name: "in range", spec: sparkSpec{ID: "spark-2", Title: "Fridge A temperature", Metric: wardwatch.MetricTemperature, Low: 2, High: 8, Points: series(4, 5, 5.5, 4.8)},
			want:  []string{`aria-labelledby="spark-2-t spark-2-d"`, `<title id="spark-2-t">Fridge A temperature</title>`, "in range throughout", "latest 4.8 °C"},
			paths: 1},
		{name: "out of range drawn by shape", spec: sparkSpec{ID: "spark-3", Metric: wardwatch.MetricTemperature, Low: 2, High: 8, Points: series(5, 9.5, 1.2, 5)},
			want: []string{"1 of 4 points above, 1 below"}, paths: 1, above: 1, blw: 1},
		{name: "open band: AII room at or below −2.5 Pa", spec: sparkSpec{ID: "spark-4", Metric: wardwatch.MetricPressure, Low: math.Inf(-1), High: -2.5, Points: series(-6, -1, -6)},
			want: []string{"Range ≤ -2.5 Pa"}, paths: 1, above: 1},
		{name: "no band", spec: sparkSpec{ID: "spark-5", Metric: wardwatch.MetricTemperature, Low: math.NaN(), High: math.NaN(), Points: series(5, 90)},
			not: []string{"spark-band", "Range"}, paths: 1},
		{name: "gap breaks the line", spec: sparkSpec{ID: "spark-6", Metric: wardwatch.MetricTemperature, Low: 2, High: 8, Gap: 45 * time.Minute,
			Points: append(series(5, 5), chartPoint{T: from.Add(5 * time.Hour), Min: 5, Max: 5, Mean: 5}, chartPoint{T: from.Add(5*time.Hour + 15*time.Minute), Min: 5, Max: 5, Mean: 5})},
			paths: 2},
		{name: "bad values skipped, title escaped, id sanitised", spec: sparkSpec{ID: `"><script>`, Title: `<b>&"x"`, Metric: wardwatch.MetricTemperature, Low: 2, High: 8,
			Points: []chartPoint{{T: from, Mean: math.NaN()}, {T: from.Add(time.Hour), Mean: math.Inf(1)}, {T: from.Add(-time.Hour), Mean: 5}, {T: from.Add(2 * time.Hour), Min: 9, Max: 1, Mean: 5}}},
			want: []string{`id="script-t"`, "&lt;b&gt;&amp;"}, not: []string{"<script>", "<b>"}, paths: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.spec
			s.From, s.To = from, to
			got := renderSparkline(s)
			if err := wellFormed(got); err != nil {
				t.Fatalf("not well-formed: %v\n%s", err, got)
			}
			if !strings.HasPrefix(got, `<svg class="sparkline"`) || !strings.Contains(got, `role="img"`) || !strings.Contains(got, "<desc ") {
				t.Errorf("not an accessible inline svg: %s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("has %q:\n%s", n, got)
				}
			}
			if tc.paths > 0 {
				i := strings.Index(got, `class="spark-line" d="`)
				if i < 0 {
					t.Fatalf("no line:\n%s", got)
				}
				d := got[i+len(`class="spark-line" d="`):]
				d = d[:strings.IndexByte(d, '"')]
				if n := strings.Count(d, "M"); n != tc.paths {
					t.Errorf("line has %d runs, want %d: %s", n, tc.paths, d)
				}
			}
			if n := strings.Count(got, "spark-above"); n != tc.above {
				t.Errorf("%d above markers, want %d", n, tc.above)
			}
			if n := strings.Count(got, "spark-below"); n != tc.blw {
				t.Errorf("%d below markers, want %d", n, tc.blw)
			}
		})
	}
}

func TestRenderSparklineBoundsPoints(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ps := make([]chartPoint, 100_000)
	for i := range ps {
		ps[i] = chartPoint{T: from.Add(time.Duration(i) * time.Second), Min: 5, Max: 5, Mean: 5 + float64(i%3)}
	}
	got := renderSparkline(sparkSpec{ID: "x", Metric: wardwatch.MetricTemperature, From: from, To: from.Add(28 * time.Hour), Low: 2, High: 8, Points: ps})
	if n := strings.Count(got, " L"); n >= maxSparkPoints {
		t.Errorf("drew %d segments, want fewer than %d", n, maxSparkPoints)
	}
}

// FuzzSparkline draws arbitrary series and bands: never a panic, always
// well-formed XML of bounded size.
func FuzzSparkline(f *testing.F) {
	enc := func(vs ...float64) []byte {
		b := make([]byte, 0, 8*len(vs))
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	f.Add("spark-1", "Fridge A temperature", 2.0, 8.0, int64(900), enc(4, 5, 9, 1))
	f.Add("", "<&>", math.Inf(-1), -2.5, int64(60), enc(-6, 1, math.NaN(), math.Inf(1)))
	f.Add("é\x00", "\xff", math.NaN(), math.NaN(), int64(-5), []byte{1, 2, 3})
	f.Add("9", "t", 8.0, 2.0, int64(0), enc(1e300, -1e300, 5))
	f.Fuzz(func(t *testing.T, id, title string, low, high float64, stepSec int64, raw []byte) {
		from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		var ps []chartPoint
		for i := 0; i+8 <= len(raw) && len(ps) < 2000; i += 8 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(raw[i:]))
			ps = append(ps, chartPoint{T: from.Add(time.Duration(int64(len(ps))*stepSec) * time.Second), Min: v - 1, Max: v + 1, Mean: v})
		}
		got := renderSparkline(sparkSpec{ID: id, Title: title, Metric: wardwatch.MetricTemperature, From: from, To: from.Add(24 * time.Hour),
			Low: low, High: high, Points: ps, Gap: 45 * time.Minute})
		if err := wellFormed(got); err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, got)
		}
		if len(got) > 200_000+len(title)*6 {
			t.Fatalf("sparkline of %d bytes", len(got))
		}
	})
}
