package calibrate

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for n := range 60 {
		for _, gen := range []func(i int) float64{
			func(int) float64 { return rng.NormFloat64() },
			func(int) float64 { return float64(rng.IntN(3)) }, // many ties
			func(i int) float64 { return float64(i) },         // sorted
			func(i int) float64 { return float64(-i) },        // reversed
			func(int) float64 { return 7 },                    // all equal
		} {
			v := make([]float64, n)
			for i := range v {
				v[i] = gen(i)
			}
			s := slices.Clone(v)
			slices.Sort(s)
			want := 0.0
			if n > 0 {
				want = s[n/2]
				if n%2 == 0 {
					want = (s[n/2-1] + s[n/2]) / 2
				}
			}
			if got := median(slices.Clone(v)); got != want {
				t.Fatalf("median(%v) = %v, want %v", v, got, want)
			}
			for k := range n {
				if got := nth(slices.Clone(v), k); got != s[k] {
					t.Fatalf("nth(%v, %d) = %v, want %v", v, k, got, s[k])
				}
			}
		}
	}
}
