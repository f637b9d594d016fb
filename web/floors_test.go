package web

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// pagedHarness is a harness with n assets on floor 1, named so that their
// name order differs from their id order.
func pagedHarness(t *testing.T, n int) (*harness, *http.Cookie) {
	t.Helper()
	h := newHarness(t)
	h.store.assets = nil
	var ps []wardwatch.Position
	for i := range n {
		id := int64(5000 - i) // ids descend while names ascend
		h.store.assets = append(h.store.assets, wardwatch.Asset{ID: id, Name: fmt.Sprintf("Pump %04d", i), Kind: wardwatch.AssetInfusionPump})
		ps = append(ps, wardwatch.Position{TagID: fmt.Sprintf("t%d", i), AssetID: id, FloorID: 1,
			At: wardwatch.Point{X: float64(i%60) + 0.25, Y: 3}, ZoneID: 10, Confidence: 0.9, Time: t0.Add(-5 * time.Second)})
	}
	h.live.snapshots[1] = ps
	return h, h.signIn()
}

var (
	rowNameRe   = regexp.MustCompile(`<span class="asset-name">([^<]*)</span>`)
	countPillRe = regexp.MustCompile(`id="asset-count" class="count-pill">(\d+)<`)
)

func TestFloorPageIsPaged(t *testing.T) {
	h, c := pagedHarness(t, 2*floorPageSize+50)
	tests := []struct {
		path        string
		rows        int
		first, last string // names of the first and last row
		pager       []string
		noPager     []string
	}{
		{"/floors/1", floorPageSize, "Pump 0000", "Pump 0199",
			[]string{"Rows 1–200 of 450", "Page 1 of 3", `href="/floors/1?page=2"`, `rel="next"`}, []string{`rel="prev"`}},
		{"/floors/1?page=2", floorPageSize, "Pump 0200", "Pump 0399",
			[]string{"Rows 201–400 of 450", "Page 2 of 3", `href="/floors/1"`, `href="/floors/1?page=3"`}, nil},
		{"/floors/1?page=3", 50, "Pump 0400", "Pump 0449",
			[]string{"Rows 401–450 of 450", "Page 3 of 3", `href="/floors/1?page=2"`}, []string{`rel="next"`}},
		// Beyond the last page (assets left since the link was made): the last page.
		{"/floors/1?page=99", 50, "Pump 0400", "Pump 0449", []string{"Page 3 of 3"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			body := wantStatus(t, h.page(tt.path, c), http.StatusOK)
			names := rowNameRe.FindAllStringSubmatch(body, -1)
			if len(names) != tt.rows {
				t.Fatalf("%d rows, want %d", len(names), tt.rows)
			}
			if names[0][1] != tt.first || names[len(names)-1][1] != tt.last {
				t.Errorf("rows %s … %s, want %s … %s", names[0][1], names[len(names)-1][1], tt.first, tt.last)
			}
			for i := 1; i < len(names); i++ {
				if names[i-1][1] >= names[i][1] {
					t.Fatalf("rows out of name order at %d: %s, %s", i, names[i-1][1], names[i][1])
				}
			}
			for _, want := range tt.pager {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			for _, unwanted := range tt.noPager {
				if strings.Contains(body, unwanted) {
					t.Errorf("page has %q", unwanted)
				}
			}
			if m := countPillRe.FindStringSubmatch(body); m == nil || m[1] != "450" {
				t.Errorf("asset count pill = %v, want 450 (every asset on the floor)", m)
			}
			// The map gets every asset's position whatever the page.
			data := floorDataOf(t, body)
			if len(data.Positions) != 450 || data.PageSize != floorPageSize {
				t.Errorf("floor-data has %d positions and page size %d, want 450 and %d", len(data.Positions), data.PageSize, floorPageSize)
			}
		})
	}
}

func TestFloorPageSmallFloorHasNoPager(t *testing.T) {
	h := newHarness(t)
	c := h.signIn()
	body := wantStatus(t, h.page("/floors/1", c), http.StatusOK)
	if !strings.Contains(body, `id="asset-pager"`) || !regexp.MustCompile(`<nav id="asset-pager"[^>]* hidden`).MatchString(body) {
		t.Error("a single page of equipment shows page links")
	}
	data := floorDataOf(t, body)
	if data.Page != 1 || len(data.Positions) != 2 {
		t.Errorf("floor-data page %d with %d positions, want page 1 with 2", data.Page, len(data.Positions))
	}
}

func TestFloorPageBadPageNumbers(t *testing.T) {
	h, c := pagedHarness(t, 10)
	for _, q := range []string{"abc", "0", "-1", "+2", "02", "1.5", "1e3", "99999999999999999999", "%00"} {
		body := wantStatus(t, h.page("/floors/1?page="+q, c), http.StatusBadRequest)
		if !strings.Contains(body, "page number") {
			t.Errorf("page=%s: the error does not say what is wrong:\n%s", q, body)
		}
	}
}

func TestParsePage(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 1, true},
		{"1", 1, true},
		{"25", 25, true},
		{"0", 0, false},
		{"-3", 0, false},
		{"+3", 0, false},
		{"03", 0, false},
		{" 3", 0, false},
		{"3 ", 0, false},
		{"x", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := parsePage(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parsePage(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("parsePage(%q) error code %q, want %q", tt.in, wardwatch.ErrorCode(err), wardwatch.EINVALID)
		}
	}
}

func FuzzParsePage(f *testing.F) {
	for _, s := range []string{"", "1", "200", "0", "-1", "+1", "01", "1e3", "9223372036854775807", "99999999999999999999", "½"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parsePage(s)
		if err != nil {
			if n != 0 || wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("parsePage(%q) = %d, %v", s, n, err)
			}
			return
		}
		if n < 1 || (s != "" && strconv.Itoa(n) != s) {
			t.Fatalf("parsePage(%q) = %d", s, n)
		}
	})
}

func TestPositionsJSON(t *testing.T) {
	ps := positionsJSON{
		{AssetID: 7, At: wardwatch.Point{X: 1.234, Y: -0.001}, ZoneID: 3, Confidence: 0.876, Time: time.UnixMilli(1700000000123)},
		{AssetID: 8, At: wardwatch.Point{X: math.NaN(), Y: math.Inf(1)}, Confidence: math.Inf(-1), Time: time.UnixMilli(5)},
		{AssetID: 9, At: wardwatch.Point{X: 1e20, Y: 2.5}, ZoneID: 0, Confidence: 1, Time: time.UnixMilli(6)},
	}
	b, err := json.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	const want = `[[7,1.23,0,3,1700000000123,0.88],[8,0,0,0,5,0],[9,100000000000000000000,2.5,0,6,1]]`
	if string(b) != want {
		t.Errorf("positions JSON\n got %s\nwant %s", b, want)
	}
	var back positionsJSON
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 3 || back[0].AssetID != 7 || back[0].At.X != 1.23 || back[0].Time.UnixMilli() != 1700000000123 || back[0].ZoneID != 3 {
		t.Errorf("round trip = %+v", back)
	}
	if b, _ := json.Marshal(positionsJSON(nil)); string(b) != "[]" {
		t.Errorf("no positions encode as %s, want []", b)
	}
}

// floorDataOf decodes the floor page's JSON block.
func floorDataOf(t *testing.T, body string) floorData {
	t.Helper()
	m := floorDataRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("floor page has no floor-data block")
	}
	var data floorData
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatalf("floor-data: %v", err)
	}
	return data
}
