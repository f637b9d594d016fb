package sim

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"

	"github.com/wardwatch/wardwatch"
)

// svgPixelsPerMetre is the plan's nominal rendering scale.
const svgPixelsPerMetre = 20

// Plan colours and line weights (metres).
const (
	wallColour     = "#2f3437"
	outerWall      = 0.3
	innerWall      = 0.14
	corridorFill   = "#e8eef3"
	roomFill       = "#fdfcf8"
	serviceFill    = "#eef0ec"
	utilityFill    = "#f3f6ee"
	nurseFill      = "#eaf2fb"
	labelColour    = "#3b4247"
	fixtureColour  = "#8a9399"
	labelFontSize  = 0.6
	smallLabelSize = 0.45
)

// FloorPlanSVG draws floor index floor as an architectural-style SVG plan:
// walls with door gaps and door swings, shaded corridor, lift and stairs
// symbols, room labels and a 5 m scale bar. Its viewBox is in metres,
// "0 0 60 14", spanning exactly the floor rectangle (origin top-left, y
// down), with width and height set for 20 px/m. It returns nil for an
// unknown floor.
func (h *Hospital) FloorPlanSVG(floor int) []byte {
	if floor < 0 || floor >= len(h.floors) {
		return nil
	}
	f := &h.floors[floor]
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="Helvetica, Arial, sans-serif">`+"\n",
		num(floorWidth*svgPixelsPerMetre), num(floorHeight*svgPixelsPerMetre), num(floorWidth), num(floorHeight))
	w("<title>%s</title>\n", esc(f.name))
	w(`<rect x="0" y="0" width="%s" height="%s" fill="#ffffff"/>`+"\n", num(floorWidth), num(floorHeight))

	// Floor fills.
	w(`<g stroke="none">` + "\n")
	for i := range f.zones {
		z := &f.zones[i]
		w(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n",
			num(z.rect.Min.X), num(z.rect.Min.Y), num(z.rect.Max.X-z.rect.Min.X), num(z.rect.Max.Y-z.rect.Min.Y), fillOf(z.kind))
	}
	w("</g>\n")

	// Fixtures: lift car, stair treads, nurse station counter.
	w(`<g fill="none" stroke="%s" stroke-width="0.05">`+"\n", fixtureColour)
	for i := range f.zones {
		z := &f.zones[i]
		switch z.kind {
		case wardwatch.ZoneLift:
			x0, y0, x1, y1 := z.rect.Min.X+0.6, z.rect.Min.Y+1.3, z.rect.Max.X-0.6, z.rect.Max.Y-1.4
			w(`<rect x="%s" y="%s" width="%s" height="%s"/>`+"\n", num(x0), num(y0), num(x1-x0), num(y1-y0))
			w(`<path d="M%s %sL%s %sM%s %sL%s %s"/>`+"\n", num(x0), num(y0), num(x1), num(y1), num(x1), num(y0), num(x0), num(y1))
		case wardwatch.ZoneStairs:
			x0, x1 := z.rect.Min.X+0.4, z.rect.Max.X-0.4
			var d bytes.Buffer
			for y := z.rect.Min.Y + 1.3; y <= z.rect.Max.Y-1.6+1e-9; y += 0.3 {
				fmt.Fprintf(&d, "M%s %sH%s", num(x0), num(y), num(x1))
			}
			w(`<path d="%s"/>`+"\n", d.String())
			mx := (x0 + x1) / 2
			w(`<path d="M%s %sV%s" stroke-width="0.08"/>`+"\n", num(mx), num(z.rect.Max.Y-1.6), num(z.rect.Min.Y+1.3))
		case wardwatch.ZoneNurseStation:
			// An L-shaped counter facing the corridor.
			y := z.rect.Min.Y + 1.6
			w(`<path d="M%s %sH%s V%s" stroke-width="0.12"/>`+"\n",
				num(z.rect.Min.X+1.2), num(y), num(z.rect.Max.X-1.2), num(z.rect.Min.Y+3.6))
		}
	}
	w("</g>\n")

	// Walls: each enclosed zone's outline, with its door gap in the
	// corridor wall; shared walls are drawn twice and coincide.
	w(`<g fill="none" stroke="%s" stroke-width="%s" stroke-linecap="square">`+"\n", wallColour, num(innerWall))
	for i := range f.zones {
		z := &f.zones[i]
		if z.side == sideNone {
			continue
		}
		r := z.rect
		wy := z.wallY()
		far := r.Min.Y
		if z.side == sideSouth {
			far = r.Max.Y
		}
		// From the door's west jamb round the room to its east jamb.
		w(`<path d="M%s %sH%sV%sH%sV%sH%s"/>`+"\n",
			num(z.doorX0), num(wy), num(r.Min.X), num(far), num(r.Max.X), num(wy), num(z.doorX1))
	}
	w("</g>\n")
	w(`<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="%s" stroke-width="%s"/>`+"\n",
		num(buildingX0), num(northY0), num(buildingX1-buildingX0), num(southY1-northY0), wallColour, num(outerWall))

	// Door leaves and swings, opening into the rooms.
	w(`<g fill="none" stroke="%s" stroke-width="0.04">`+"\n", wallColour)
	for i := range f.zones {
		z := &f.zones[i]
		if z.side == sideNone || z.kind == wardwatch.ZoneNurseStation {
			continue
		}
		width := z.doorX1 - z.doorX0
		wy := z.wallY()
		open := wy + float64(z.side)*width // the leaf's free end, open 90°
		sweep := 0
		if z.side == sideSouth {
			sweep = 1
		}
		if z.kind == wardwatch.ZoneLift {
			// Sliding doors: two short leaves in the gap.
			w(`<path d="M%s %sH%sM%s %sH%s" stroke-width="0.08"/>`+"\n",
				num(z.doorX0), num(wy), num(z.doorX0+0.3), num(z.doorX1-0.3), num(wy), num(z.doorX1))
			continue
		}
		w(`<path d="M%s %sV%sM%s %sA%s %s 0 0 %d %s %s"/>`+"\n",
			num(z.doorX0), num(wy), num(open),
			num(z.doorX1), num(wy), num(width), num(width), sweep, num(z.doorX0), num(open))
	}
	w("</g>\n")

	// Labels.
	w(`<g fill="%s" text-anchor="middle" dominant-baseline="central">`+"\n", labelColour)
	for i := range f.zones {
		z := &f.zones[i]
		c := z.centre()
		size := labelFontSize
		if len(z.label) > 1 {
			size = smallLabelSize
		}
		switch {
		case z.kind == wardwatch.ZoneCorridor:
			c = wardwatch.Point{X: buildingX0 + 5, Y: corridorCY}
		case z.kind == wardwatch.ZoneLift || z.kind == wardwatch.ZoneStairs:
			c.Y = z.rect.Min.Y + 0.65 // above the symbol
		case z.side == sideNorth:
			c.Y -= 0.6 // keep labels clear of the door swings
		case z.side == sideSouth:
			c.Y += 0.6
		}
		for li, line := range z.label {
			y := c.Y + (float64(li)-float64(len(z.label)-1)/2)*size*1.15
			w(`<text x="%s" y="%s" font-size="%s">%s</text>`+"\n", num(c.X), num(y), num(size), esc(line))
		}
	}
	w(`<text x="%s" y="%s" font-size="%s" font-weight="bold">%s</text>`+"\n",
		num(buildingX1-5), num(corridorCY), num(labelFontSize), esc("Ward "+f.ward))
	w("</g>\n")

	// Scale bar: 5 m in the margin below the building.
	sy := southY1 + 0.4
	w(`<g stroke="%s" stroke-width="0.06" fill="none"><path d="M%s %sV%sH%sV%s"/></g>`+"\n",
		labelColour, num(buildingX0), num(sy-0.15), num(sy), num(buildingX0+5), num(sy-0.15))
	w(`<text x="%s" y="%s" font-size="0.35" fill="%s" dominant-baseline="central">5 m</text>`+"\n",
		num(buildingX0+5.3), num(sy-0.05), labelColour)
	w("</svg>\n")
	return b.Bytes()
}

func fillOf(k wardwatch.ZoneKind) string {
	switch k {
	case wardwatch.ZoneCorridor:
		return corridorFill
	case wardwatch.ZoneLift, wardwatch.ZoneStairs:
		return serviceFill
	case wardwatch.ZoneCleanUtility, wardwatch.ZoneSoiledUtility:
		return utilityFill
	case wardwatch.ZoneNurseStation:
		return nurseFill
	}
	return roomFill
}

// num formats a length compactly to the millimetre ("5.75", "12").
func num(v float64) string {
	v = math.Round(v*1000) / 1000
	if v == 0 {
		v = 0 // no "-0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // writing to a bytes.Buffer cannot fail
	return b.String()
}
