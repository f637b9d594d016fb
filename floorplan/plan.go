package floorplan

import (
	"bytes"
	"encoding/xml"
	"image"
	_ "image/jpeg" // plan images
	_ "image/png"  // plan images
	"math"
	"strconv"
	"strings"

	"github.com/wardwatch/wardwatch"
)

// Limits of a floor plan image.
const (
	MaxPlanBytes  = 10 << 20
	MaxPlanPixels = 12000 // per side
)

// CheckPlan validates a floor plan image (PNG, JPEG, or SVG with a viewBox
// or a width and height) and returns its content type and its height /
// width ratio, which the floor's depth follows.
func CheckPlan(data []byte) (contentType string, aspect float64, err error) {
	if len(data) == 0 || len(data) > MaxPlanBytes {
		return "", 0, wardwatch.Errorf(wardwatch.EINVALID, "The plan must be 1 byte to %d MiB.", MaxPlanBytes>>20)
	}
	if cfg, format, derr := image.DecodeConfig(bytes.NewReader(data)); derr == nil {
		if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxPlanPixels || cfg.Height > MaxPlanPixels {
			return "", 0, wardwatch.Errorf(wardwatch.EINVALID, "The plan must be at most %d × %d pixels.", MaxPlanPixels, MaxPlanPixels)
		}
		return "image/" + format, float64(cfg.Height) / float64(cfg.Width), nil
	}
	// SVG: well-formed XML whose root element is <svg> with a size.
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	for {
		tok, terr := dec.Token()
		if terr != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local != "svg" {
			break
		}
		w, h := svgSize(se)
		if !(w > 0) || !(h > 0) || math.IsInf(w, 0) || math.IsInf(h, 0) {
			return "", 0, wardwatch.Errorf(wardwatch.EINVALID, "The SVG plan needs a viewBox or a width and height.")
		}
		// A ratio of 0 or infinity would make a floor 0 m or endlessly deep.
		if a := h / w; a > 0 && !math.IsInf(a, 0) {
			return "image/svg+xml", a, nil
		}
		return "", 0, wardwatch.Errorf(wardwatch.EINVALID, "The SVG plan's width and height are out of proportion.")
	}
	return "", 0, wardwatch.Errorf(wardwatch.EINVALID, "The plan must be a PNG, JPEG or SVG image.")
}

// svgSize reads an <svg> element's size from its viewBox, else its width
// and height.
func svgSize(se xml.StartElement) (w, h float64) {
	for _, at := range se.Attr {
		if at.Name.Local == "viewBox" {
			f := strings.Fields(strings.ReplaceAll(at.Value, ",", " "))
			if len(f) == 4 {
				w, _ = strconv.ParseFloat(f[2], 64)
				h, _ = strconv.ParseFloat(f[3], 64)
				return w, h
			}
		}
	}
	for _, at := range se.Attr {
		v, _ := strconv.ParseFloat(strings.TrimRight(at.Value, "px"), 64)
		switch at.Name.Local {
		case "width":
			w = v
		case "height":
			h = v
		}
	}
	return w, h
}
