package floorplan

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"testing"

	"github.com/wardwatch/wardwatch"
)

func pngOf(w, h int) []byte {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)))
	return buf.Bytes()
}

func TestCheckPlan(t *testing.T) {
	for _, c := range []struct {
		name   string
		data   []byte
		ct     string
		aspect float64
		ok     bool
	}{
		{"png", pngOf(400, 200), "image/png", 0.5, true},
		{"svg viewBox", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 60 14"/>`), "image/svg+xml", 14.0 / 60, true},
		{"svg size", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="200px" height="100px"></svg>`), "image/svg+xml", 0.5, true},
		{"svg without size", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`), "", 0, false},
		{"svg out of proportion", []byte(`<svg viewBox="0,0,1e308,1e-308"></svg>`), "", 0, false},
		{"html", []byte(`<html><script>alert(1)</script></html>`), "", 0, false},
		{"text", []byte("hello"), "", 0, false},
		{"empty", nil, "", 0, false},
		{"huge png", pngOf(13000, 1), "", 0, false},
	} {
		ct, aspect, err := CheckPlan(c.data)
		if (err == nil) != c.ok || ct != c.ct || (c.ok && aspect != c.aspect) {
			t.Errorf("%s: %q %v %v; want %q %v ok=%v", c.name, ct, aspect, err, c.ct, c.aspect, c.ok)
		}
		if err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("%s: error code %q, want invalid", c.name, wardwatch.ErrorCode(err))
		}
	}
}

// FuzzCheckPlan checks plan image validation never panics and that what
// it accepts has a known content type and a finite, positive aspect.
func FuzzCheckPlan(f *testing.F) {
	f.Add(pngOf(4, 2))
	for _, s := range []string{
		`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 60 14"></svg>`,
		`<svg width="1200px" height="280px"></svg>`,
		`<svg width="1e308" height="-1"/>`,
		`<svg viewBox="0,0,1e308,1e-308"></svg>`,
		`<?xml version="1.0"?><!-- c --><svg viewBox="0 0 0 10"/>`,
		`<html></html>`,
		"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x08\x08\x02\x00\x00\x00",
		"\xff\xd8\xff\xe0",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ct, aspect, err := CheckPlan(data)
		if err != nil {
			return
		}
		switch ct {
		case "image/svg+xml", "image/png", "image/jpeg":
		default:
			t.Fatalf("content type %q", ct)
		}
		if !(aspect > 0) || math.IsInf(aspect, 0) {
			t.Fatalf("aspect %v", aspect)
		}
	})
}
