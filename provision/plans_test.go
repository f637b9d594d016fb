package provision

import (
	"testing"
)

// TestPlanPath checks exported plan file names are tidy and unique.
func TestPlanPath(t *testing.T) {
	used := map[string]bool{}
	for _, tc := range []struct{ floor, ct, want string }{
		{"Level 4 — Ward 4B", "image/svg+xml", "plans/level-4-ward-4b.svg"},
		{"level 4: ward 4b", "image/svg+xml", "plans/level-4-ward-4b-2.svg"},
		{"——", "image/png", "plans/floor.png"},
		{"B1", "image/jpeg", "plans/b1.jpg"},
	} {
		if got := planPath(tc.floor, tc.ct, used); got != tc.want {
			t.Errorf("planPath(%q) = %q, want %q", tc.floor, got, tc.want)
		}
	}
}
