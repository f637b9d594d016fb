package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// benchHarness is a server with n assets on floor 1, all positioned, and
// a signed-in nurse.
func benchHarness(b *testing.B, n int) (*harness, *http.Cookie) {
	h := newHarness(b)
	h.store.assets = nil
	var ps []wardwatch.Position
	for i := range n {
		id := int64(1000 + i)
		h.store.assets = append(h.store.assets, wardwatch.Asset{ID: id, Name: fmt.Sprintf("Pump %04d", i), Kind: wardwatch.AssetInfusionPump})
		ps = append(ps, wardwatch.Position{TagID: fmt.Sprintf("t%d", i), AssetID: id, FloorID: 1,
			At: wardwatch.Point{X: float64(i%60) + 0.5, Y: float64(i%14) + 0.5}, ZoneID: 10, Confidence: 0.8, Time: t0.Add(-time.Duration(i%300) * time.Second)})
	}
	h.live.snapshots[1] = ps
	return h, h.signIn()
}

func benchPage(b *testing.B, path string) {
	h, c := benchHarness(b, 5000)
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Accept", "text/html")
	req.AddCookie(c)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkFloorPage5000 renders a floor page with 5,000 assets on it
// (table and map data), server-side.
func BenchmarkFloorPage5000(b *testing.B) { benchPage(b, "/floors/1") }

// BenchmarkSearch5000 searches 5,000 assets and renders every hit, nearest
// first.
func BenchmarkSearch5000(b *testing.B) { benchPage(b, "/search?q=pump&near=10") }

// BenchmarkFloors5000 renders the floor list with 5,000 assets placed.
func BenchmarkFloors5000(b *testing.B) { benchPage(b, "/floors") }

// BenchmarkFloorPage5000LastPage renders the last page of the floor page's
// paged equipment table with 5,000 assets on the floor.
func BenchmarkFloorPage5000LastPage(b *testing.B) { benchPage(b, "/floors/1?page=25") }
