package calibrate

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// floats decodes b as little-endian float64s: any bit pattern, so NaN,
// ±Inf, subnormals and huge values all occur.
func floats(b []byte) []float64 {
	v := make([]float64, 0, len(b)/8)
	for len(b) >= 8 {
		v = append(v, math.Float64frombits(binary.LittleEndian.Uint64(b)))
		b = b[8:]
	}
	return v
}

func floatBytes(v ...float64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	return b
}

// FuzzFitSurvey feeds hostile gateways, observations and options: the fit
// never panics, and fails only with EINVALID.
func FuzzFitSurvey(f *testing.F) {
	nan, inf := math.NaN(), math.Inf(1)
	f.Add(uint8(2), uint8(0), false, []byte{})
	f.Add(uint8(3), uint8(0), false, floatBytes(1, 1, 2, -60, 0, 5, 5, 1, -70, 0, 9, 1, 1, -75, -59))
	f.Add(uint8(1), uint8(1), true, floatBytes(nan, inf, -inf, nan, nan, 0, 0, 0, 0, 0))
	f.Add(uint8(2), uint8(2), true, floatBytes(1e308, -1e308, 5e-324, -130, -1e-300, 3, 4, 0, -0.0, -129.99))
	f.Add(uint8(4), uint8(3), false, floatBytes(0.1, 0.2, 0.3, -50, -59, 0.1, 0.2, 0.3, -50, -59, 10, 10, 10, -90, 0))
	f.Fuzz(func(t *testing.T, nGateways, optMode uint8, split bool, data []byte) {
		v := floats(data)
		nGW := int(nGateways % 5)
		var gws []wardwatch.Gateway
		for i := range nGW {
			g := wardwatch.Gateway{ID: int64(i), FloorID: int64(i % 2), At: wardwatch.Point{X: float64(3 * i), Y: float64(i)}, Z: 2.5}
			if i == 3 && len(v) > 0 {
				g.At.X, g.Z = v[0], v[len(v)-1] // a hostile gateway position
			}
			gws = append(gws, g)
		}
		var obs []Observation
		for i := 0; i+5 <= len(v); i += 5 {
			obs = append(obs, Observation{
				GatewayID: int64(i/5) % int64(nGW+1),
				At:        wardwatch.Point{X: v[i], Y: v[i+1]},
				Z:         v[i+2],
				Floor:     int64(i/5) % 3,
				RSSI:      v[i+3],
				TxPower:   v[i+4],
			})
			// Replicate each observation at other distances so fits run.
			for k := 1; k < 4; k++ {
				o := obs[len(obs)-1]
				o.At.X += float64(k * k)
				o.RSSI -= float64(3 * k)
				obs = append(obs, o)
			}
		}
		var opt FitOptions
		switch optMode % 4 {
		case 1:
			opt = FitOptions{MinPathLoss: 2.5, MaxPathLoss: 3.5, MinRSSIAt1m: -70, MaxRSSIAt1m: -50}
		case 2:
			if len(v) >= 2 {
				opt = FitOptions{MinPathLoss: v[0], MaxPathLoss: v[1]}
			}
		case 3:
			if len(v) >= 1 {
				opt = FitOptions{RefRSSIAt1m: v[len(v)-1]}
			}
		}
		opt.SplitOffset = split
		for _, fit := range []func([]wardwatch.Gateway, []Observation, FitOptions) (Result, error){FitSurvey, FitGatewayToGateway} {
			res, err := fit(gws, obs, opt)
			if err != nil {
				if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
					t.Fatalf("error %v, want EINVALID", err)
				}
				continue
			}
			if len(res.Reports) != len(gws) || len(res.Gateways) != len(gws) {
				t.Fatalf("%d reports, %d gateways for %d gateways", len(res.Reports), len(res.Gateways), len(gws))
			}
			for _, r := range res.Reports {
				if !r.Fitted {
					continue
				}
				for _, x := range []float64{r.RSSIAt1m, r.PathLossExponent, r.RxOffset, r.RMSE, r.MedianAbsResidual} {
					if !finite(x) {
						t.Fatalf("non-finite value in a fitted report: %+v", r)
					}
				}
				if r.PathLossExponent < 0 {
					t.Fatalf("negative exponent: %+v", r)
				}
			}
		}
	})
}
