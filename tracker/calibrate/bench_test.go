package calibrate

import (
	"math"
	"testing"
)

// benchSurvey is six gateways with 4,000 survey observations each, σ 4 dB
// and 10 % outliers.
func benchSurvey(b *testing.B) ([]Observation, map[int64]truth) {
	tr := map[int64]truth{10: {-59, 2.0, 0}, 11: {-62, 2.5, 0}, 12: {-55, 3.0, 0}, 13: {-66, 2.2, 0}, 14: {-50, 3.5, 0}, 15: {-70, 1.8, 0}}
	return survey(1, surveyGateways(), tr, 4000, 4, 0.1, 0), tr
}

// BenchmarkFitSurvey fits 6 gateways × 4,000 observations.
func BenchmarkFitSurvey(b *testing.B) {
	gws := surveyGateways()
	obs, _ := benchSurvey(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FitSurvey(gws, obs, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFitSurveySplit is BenchmarkFitSurvey with SplitOffset.
func BenchmarkFitSurveySplit(b *testing.B) {
	gws := surveyGateways()
	obs, _ := benchSurvey(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FitSurvey(gws, obs, FitOptions{SplitOffset: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOLSBaseline is the naive reference for BenchmarkFitSurvey: one
// unweighted, unbounded least-squares pass per gateway over the same
// observations (no robustness, no bounds, no report).
func BenchmarkOLSBaseline(b *testing.B) {
	gws := surveyGateways()
	obs, _ := benchSurvey(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, g := range gws {
			var n, sx, sy, sxx, sxy float64
			for _, o := range obs {
				if o.GatewayID != g.ID {
					continue
				}
				dx, dy, dz := o.At.X-g.At.X, o.At.Y-g.At.Y, o.Z-g.Z
				x := math.Log10(max(math.Sqrt(dx*dx+dy*dy+dz*dz), MinDistance))
				n++
				sx += x
				sy += o.RSSI
				sxx += x * x
				sxy += x * o.RSSI
			}
			slope := (n*sxy - sx*sy) / (n*sxx - sx*sx)
			if a := (sy - slope*sx) / n; math.IsNaN(a) {
				b.Fatal("NaN")
			}
		}
	}
}
